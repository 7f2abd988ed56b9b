#!/usr/bin/env python3
"""A resource server that trusts the token service's access tokens knowing only its JWKS URL.

It shares no secret and no code with the token service: PyJWT's PyJWKClient fetches the public
keys (and fetches them again when a token names a key it has not seen, as after a key rotation).

    python examples/resource_server.py --jwks-url http://127.0.0.1:8000/.well-known/jwks.json \\
        --issuer http://127.0.0.1:8000 --port 9000
    curl -H "Authorization: Bearer $ACCESS" http://127.0.0.1:9000/hello

GET /hello answers 200 {"hello": <username>} for a valid access token, 401 otherwise.
"""

import argparse
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt

ACCESS_TOKEN_TYPES = {"at+jwt", "application/at+jwt"}  # RFC 9068 §2.1
ASYMMETRIC_ALGORITHMS = {"RS256", "ES256", "EdDSA"}


def verify_access_token(token: str, *, jwks_client: jwt.PyJWKClient, issuer: str) -> dict:
    """Return the claims of a valid access token; raise jwt.InvalidTokenError otherwise."""
    header = jwt.get_unverified_header(token)
    if str(header.get("typ", "")).lower() not in ACCESS_TOKEN_TYPES:
        raise jwt.InvalidTokenError("not an access token (typ)")
    if header.get("alg") not in ASYMMETRIC_ALGORITHMS or "kid" not in header:
        raise jwt.InvalidTokenError("not signed with a published key")
    key = jwks_client.get_signing_key_from_jwt(token)
    # Only the algorithm the key itself is published for (RFC 8725 §3.1).
    claims = jwt.decode(
        token,
        key.key,
        algorithms=[key.algorithm_name],
        issuer=issuer,
        options={"require": ["exp", "iat", "iss", "sub", "jti"], "verify_aud": False},
    )
    if claims.get("token_type") != "access":
        raise jwt.InvalidTokenError("not an access token (token_type)")
    return claims


def make_handler(jwks_client: jwt.PyJWKClient, issuer: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/hello":
                return self.reply(404, {"detail": "Not found."})
            scheme, _, token = self.headers.get("Authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                return self.reply(401, {"detail": "A bearer access token is required."})
            try:
                claims = verify_access_token(token.strip(), jwks_client=jwks_client, issuer=issuer)
            except jwt.PyJWTError as e:  # every PyJWT failure, JWKS fetching included
                return self.reply(401, {"detail": f"Invalid token: {e}"})
            return self.reply(200, {"hello": claims["sub"]})

        def reply(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if status == 401:
                self.send_header("WWW-Authenticate", 'Bearer error="invalid_token"')
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args) -> None:  # quiet
            pass

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jwks-url", required=True)
    parser.add_argument(
        "--issuer", required=True, help="the token service's issuer (the `iss` of its tokens)"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument(
        "--jwks-cache-seconds",
        type=float,
        default=300,
        help="how long the JWK Set is cached; the service publishes a new key before it signs with it",
    )
    args = parser.parse_args()
    jwks_client = jwt.PyJWKClient(args.jwks_url, cache_keys=True, lifespan=args.jwks_cache_seconds)
    server = ThreadingHTTPServer((args.host, args.port), make_handler(jwks_client, args.issuer))
    print(f"resource server on http://{args.host}:{args.port}/hello", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
