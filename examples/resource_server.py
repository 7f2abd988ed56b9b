#!/usr/bin/env python3
"""A resource server that trusts the token service's access tokens, in one of two modes.

JWKS mode: it knows only the JWKS URL and shares no secret and no code with the token service.
PyJWT's PyJWKClient fetches the public keys (and fetches them again when a token names a key it
has not seen, as after a key rotation). No call to the service per request; a revoked session's
access token is still accepted here until it expires (ACCESS_TOKEN_LIFETIME_SECONDS).

    python examples/resource_server.py --jwks-url http://127.0.0.1:8000/.well-known/jwks.json \\
        --issuer http://127.0.0.1:8000 --port 9000

Introspection mode (RFC 7662): it is registered as a confidential client
(`manage.py create_client "Hello API" --confidential --redirect-uri https://api.example.com/unused`)
and asks POST /introspect about every request's token, so a revocation shows at once, at the cost
of one call to the service per request.

    python examples/resource_server.py --introspect http://127.0.0.1:8000/introspect \\
        --client-id "$API_ID" --client-secret "$API_SECRET" --port 9000

Either way:

    curl -H "Authorization: Bearer $ACCESS" http://127.0.0.1:9000/hello

GET /hello answers 200 {"hello": <username>} for a valid access token, 401 otherwise (503 when
the introspection endpoint cannot be asked).

As a registered API (`manage.py create_api https://orders.example.com --name Orders --scope
"orders:read: Read your orders"`), it accepts only the tokens for it and with its scope:

    python examples/resource_server.py ... --audience https://orders.example.com --scope orders:read

A token for another audience is 401 (invalid_token); one without every --scope is 403 with
`WWW-Authenticate: Bearer error="insufficient_scope", scope="orders:read"` (RFC 6750 §3.1).

A DPoP-bound token (its `cnf.jkt`, RFC 9449) is taken only as `Authorization: DPoP <token>` with
a `DPoP` proof of its key for this request (htm GET, htu this server's URL, a fresh iat, the
token's ath, a jti not seen before); as Bearer it is 401. --url names this server's own URL as
clients call it (default http://HOST:PORT).
"""

import argparse
import base64
import hashlib
import json
import math
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
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


class InsufficientScope(Exception):
    """A valid token for this API, without a scope the API requires (403, RFC 6750 §3.1)."""


def check_audience_and_scope(claims: dict, *, audience: str | None, scopes: list[str]) -> dict:
    """`claims` (a token's, or an introspection answer) when its `aud` names `audience` (when
    given) and its `scope` holds every one of `scopes`; raise jwt.InvalidAudienceError or
    InsufficientScope otherwise."""
    aud = claims.get("aud")
    if audience is not None and aud != audience and not (isinstance(aud, list) and audience in aud):
        raise jwt.InvalidAudienceError("the token is for another audience")
    granted = str(claims.get("scope", "")).split()
    if any(scope not in granted for scope in scopes):
        raise InsufficientScope()
    return claims


class DpopProofs:
    """RFC 9449 §4.3 and §7 at this resource server: the proof of a DPoP request, checked with
    PyJWT against the key the token is bound to; jti remembered for the proof's lifetime (in
    this process: a resource server run by several processes shares them, as the token service
    does in its database or Redis)."""

    MAX_AGE = 60

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.seen: dict[str, float] = {}
        self.lock = threading.Lock()  # the server's threads share `seen`

    def check(self, proof: str | None, *, token: str, path: str, jkt: str) -> None:
        if not proof or "," in proof:
            raise jwt.InvalidTokenError("send one DPoP proof")
        header = jwt.get_unverified_header(proof)
        jwk = header.get("jwk")
        if (
            header.get("typ") != "dpop+jwt"
            or header.get("alg") not in ASYMMETRIC_ALGORITHMS
            or not isinstance(jwk, dict)
        ):
            raise jwt.InvalidTokenError("not a DPoP proof")
        if any(member in jwk for member in ("d", "p", "q", "dp", "dq", "qi", "k")):
            raise jwt.InvalidTokenError("the proof's jwk is not a public key")
        try:
            key = jwt.PyJWK(jwk, algorithm=header["alg"]).key
        except (ValueError, TypeError, KeyError) as e:  # what PyJWT does not wrap
            raise jwt.InvalidTokenError("the proof's jwk cannot be read") from e
        claims = jwt.decode(proof, key, algorithms=[header["alg"]], options={"verify_aud": False})
        digest = hashlib.sha256(token.encode()).digest()
        if claims.get("ath") != base64.urlsafe_b64encode(digest).rstrip(b"=").decode():
            raise jwt.InvalidTokenError("the proof is not for this token (ath)")
        if claims.get("htm") != "GET" or str(claims.get("htu", "")).split("?")[0] != self.url + path:
            raise jwt.InvalidTokenError("the proof is not for this request (htm, htu)")
        iat = claims.get("iat")
        now = time.time()
        if (
            not isinstance(iat, int | float)
            or not math.isfinite(iat)
            or not now - self.MAX_AGE <= iat <= now + 5
        ):
            raise jwt.InvalidTokenError("the proof is not fresh (iat)")
        if thumbprint(jwk) != jkt:
            raise jwt.InvalidTokenError("the proof's key is not the token's (cnf.jkt)")
        jti = f"{jkt}:{claims.get('jti')}"
        with self.lock:
            self.seen = {seen: at for seen, at in self.seen.items() if at > now - self.MAX_AGE - 5}
            if not claims.get("jti") or jti in self.seen:
                raise jwt.InvalidTokenError("the proof was used before (jti)")
            self.seen[jti] = now


def thumbprint(jwk: dict) -> str:
    """RFC 7638: the SHA-256 of the key's required members, base64url."""
    required = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y"), "OKP": ("crv", "kty", "x")}[
        jwk["kty"]
    ]
    canonical = json.dumps({name: jwk[name] for name in required}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()


class IntrospectionUnavailable(Exception):
    """The introspection endpoint did not give an answer (network error, 5xx, not JSON)."""


class Introspector:
    """Asks the token service's POST /introspect about a token, as a confidential client."""

    def __init__(self, url: str, *, client_id: str, client_secret: str, issuer: str | None = None) -> None:
        self.url = url
        self.issuer = issuer
        # client_secret_basic (RFC 6749 §2.3.1): each part form-urlencoded, then base64.
        pair = f"{urllib.parse.quote_plus(client_id)}:{urllib.parse.quote_plus(client_secret)}"
        self.authorization = "Basic " + base64.b64encode(pair.encode()).decode()

    def verify_access_token(self, token: str) -> dict:
        """Return the introspection answer of an active access token; raise jwt.InvalidTokenError
        for an inactive one, IntrospectionUnavailable when the service cannot be asked."""
        request = urllib.request.Request(  # noqa: S310 (the operator's http(s) URL)
            self.url,
            data=urllib.parse.urlencode({"token": token, "token_type_hint": "access_token"}).encode(),
            headers={"Authorization": self.authorization, "Accept": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                answer = json.load(response)
        except (OSError, ValueError) as e:  # URLError and HTTPError (a 401: our credentials) included
            raise IntrospectionUnavailable(str(e)) from e
        if not isinstance(answer, dict) or answer.get("active") is not True:
            raise jwt.InvalidTokenError("the token is not active")
        # A refresh token is active too (for its client): only an access token opens /hello.
        if answer.get("token_type") != "access_token":
            raise jwt.InvalidTokenError("not an access token")
        if self.issuer is not None and answer.get("iss") != self.issuer:
            raise jwt.InvalidTokenError("another issuer")
        return answer


def make_handler(
    verify: Callable[[str], dict], *, scopes: list[str] = (), dpop: DpopProofs | None = None
) -> type[BaseHTTPRequestHandler]:
    """The request handler of /hello; `verify(token)` returns the claims of a valid access token
    (`sub` is the username) or raises jwt.PyJWTError, InsufficientScope (naming `scopes` in the
    challenge), or IntrospectionUnavailable."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/hello":
                return self.reply(404, {"detail": "Not found."})
            scheme, _, token = self.headers.get("Authorization", "").partition(" ")
            if scheme.lower() not in ("bearer", "dpop") or not token.strip():
                return self.reply(401, {"detail": "A bearer access token is required."})
            try:
                claims = verify(token.strip())
                bound = (claims.get("cnf") or {}).get("jkt")
                if bound and scheme.lower() != "dpop":
                    raise jwt.InvalidTokenError("this token is DPoP-bound: send it as DPoP with a proof")
                if scheme.lower() == "dpop":
                    if not bound or dpop is None:
                        raise jwt.InvalidTokenError("this token is not DPoP-bound")
                    proofs = self.headers.get_all("DPoP") or []
                    dpop.check(
                        proofs[0] if len(proofs) == 1 else None,
                        token=token.strip(),
                        path=self.path,
                        jkt=bound,
                    )
            except jwt.PyJWTError as e:  # every PyJWT failure, JWKS fetching included
                return self.reply(401, {"detail": f"Invalid token: {e}"})
            except InsufficientScope:
                return self.reply(403, {"detail": f"This API needs the scope {' '.join(scopes)}."})
            except IntrospectionUnavailable:  # fail closed, but say it is not the token's fault
                return self.reply(503, {"detail": "The token service could not be asked."})
            return self.reply(200, {"hello": claims["sub"]})

        def reply(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if status == 401:
                self.send_header("WWW-Authenticate", 'Bearer error="invalid_token"')
            if status == 403:
                challenge = f'Bearer error="insufficient_scope", scope="{" ".join(scopes)}"'
                self.send_header("WWW-Authenticate", challenge)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args) -> None:  # quiet
            pass

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--jwks-url", help="JWKS mode: verify tokens with the keys published at this URL")
    mode.add_argument(
        "--introspect",
        metavar="URL",
        help="introspection mode: ask this POST /introspect URL about each token",
    )
    parser.add_argument(
        "--issuer",
        help="the token service's issuer (the `iss` of its tokens); required in JWKS mode, "
        "checked in introspection mode when given",
    )
    parser.add_argument("--client-id", help="introspection mode: this resource server's client_id")
    parser.add_argument("--client-secret", help="introspection mode: its client_secret")
    parser.add_argument(
        "--audience", help="this API's identifier: only tokens whose aud names it are accepted (else any)"
    )
    parser.add_argument(
        "--scope",
        action="append",
        default=[],
        dest="scopes",
        metavar="NAME",
        help="a scope every token must hold (repeat for several): 403 insufficient_scope otherwise",
    )
    parser.add_argument(
        "--url", help="this server's URL as clients call it, for DPoP's htu (default http://HOST:PORT)"
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
    if args.introspect:
        if not (args.client_id and args.client_secret):
            parser.error("--introspect needs --client-id and --client-secret (a confidential client)")
        introspector = Introspector(
            args.introspect, client_id=args.client_id, client_secret=args.client_secret, issuer=args.issuer
        )

        def verify(token: str) -> dict:
            return check_audience_and_scope(
                introspector.verify_access_token(token), audience=args.audience, scopes=args.scopes
            )

        mode_name = "introspection"
    else:
        if not args.issuer:
            parser.error("--jwks-url needs --issuer")
        jwks_client = jwt.PyJWKClient(args.jwks_url, cache_keys=True, lifespan=args.jwks_cache_seconds)

        def verify(token: str) -> dict:
            claims = verify_access_token(token, jwks_client=jwks_client, issuer=args.issuer)
            return check_audience_and_scope(claims, audience=args.audience, scopes=args.scopes)

        mode_name = "JWKS"
    dpop = DpopProofs(args.url or f"http://{args.host}:{args.port}")
    server = ThreadingHTTPServer((args.host, args.port), make_handler(verify, scopes=args.scopes, dpop=dpop))
    print(f"resource server on http://{args.host}:{args.port}/hello ({mode_name} mode)", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
