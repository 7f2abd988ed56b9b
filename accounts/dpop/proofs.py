"""DPoP proofs (RFC 9449 §4.3) and server nonces (§8). No HTTP here.

A proof is a JWT in the `DPoP` header, checked in §4.3's order; each failure is InvalidDpopProof
with a description naming the rule (UseDpopNonce for a missing or stale nonce, §8):

1. exactly one DPoP header, one well-formed JWT;
2. `typ` is `dpop+jwt`; `alg` asymmetric (ALGORITHMS: never `none` nor HMAC);
3. `jwk` is a public key (no private member), and verifies the signature;
4. `jti`, `htm`, `htu` and `iat` are present; `htm` is the request's method and `htu` its URL
   (this service's, from TOKEN_ISSUER and the routed path: never the Host header; query and
   fragment ignored, §4.3 item 9);
5. `iat` within DPOP_PROOF_MAX_AGE_SECONDS in the past and LEEWAY_SECONDS in the future;
6. `nonce`, when DPOP_NONCE_REQUIRED: one this service issued in the current or the previous
   window of DPOP_NONCE_LIFETIME_SECONDS;
7. `ath`, at a protected endpoint: the base64url SHA-256 of the access token;
8. `jti` used once per key within the proof's lifetime: one INSERT into the counters shared by
   every host (the database, or Redis with REDIS_URL), made after every other check passed.

The key's identity is its RFC 7638 thumbprint (`jkt`), what a bound token's `cnf.jkt` holds.
"""

import base64
import functools
import hashlib
import json
import math
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import jwt
from django.conf import settings
from django.utils.crypto import constant_time_compare, salted_hmac

from accounts import clock
from accounts.errors import InvalidDpopProof, UseDpopNonce
from accounts.keys.material import thumbprint
from accounts.oauth.assertions import ASYMMETRIC_ALGORITHMS
from accounts.throttling import counters

ALGORITHMS = ASYMMETRIC_ALGORITHMS
PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")
LEEWAY_SECONDS = 5
MAX_PROOF_LENGTH = 8192


@dataclass(frozen=True)
class Proof:
    jkt: str  # the RFC 7638 thumbprint of the proof's key
    jti: str


def jkt_of(jwk: dict) -> str:
    return thumbprint(jwk)


def access_token_hash(access_token: str) -> str:
    """`ath` (§4.2): base64url(SHA-256(the access token's ASCII))."""
    digest = hashlib.sha256(access_token.encode("ascii", errors="replace")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def verify(header: str | None, *, method: str, url: str, access_token: str | None = None) -> Proof:
    """The proof of the `DPoP` header `header` (the request's, as WSGI joins repeated headers)
    for `method` and `url`, and for `access_token` at a protected endpoint. Raises
    InvalidDpopProof or UseDpopNonce."""
    if not header or not header.strip():
        raise InvalidDpopProof("A DPoP proof is required.")
    proof = header.strip()
    if "," in proof or len(proof) > MAX_PROOF_LENGTH:
        raise InvalidDpopProof("Send exactly one DPoP header holding one proof.")
    try:
        head = jwt.get_unverified_header(proof)
    except jwt.PyJWTError:
        raise InvalidDpopProof("The DPoP proof is not a JWT.") from None
    if head.get("typ") != "dpop+jwt":
        raise InvalidDpopProof('The DPoP proof\'s typ must be "dpop+jwt".')
    algorithm = head.get("alg")
    if algorithm not in ALGORITHMS:
        raise InvalidDpopProof(f"The DPoP proof must be signed with one of {', '.join(ALGORITHMS)}.")
    jwk = head.get("jwk")
    if not isinstance(jwk, dict) or any(member in jwk for member in PRIVATE_MEMBERS):
        raise InvalidDpopProof("The DPoP proof's jwk must be a public key.")
    try:
        key, jkt = _key(json.dumps(jwk, sort_keys=True), algorithm)
    except (jwt.PyJWTError, KeyError, TypeError, ValueError):
        raise InvalidDpopProof("The DPoP proof's jwk cannot be read as a key for its alg.") from None
    try:
        claims = jwt.decode(
            proof,
            key,
            algorithms=[algorithm],
            options={"verify_exp": False, "verify_iat": False, "verify_nbf": False, "verify_aud": False},
        )
    except jwt.InvalidSignatureError:
        raise InvalidDpopProof("The DPoP proof's signature does not verify with its jwk.") from None
    except jwt.PyJWTError:
        raise InvalidDpopProof("The DPoP proof cannot be read.") from None
    for name in ("jti", "htm", "htu"):
        if not isinstance(claims.get(name), str) or not claims[name]:
            raise InvalidDpopProof(f"The DPoP proof has no {name} claim.")
    iat = claims.get("iat")
    if isinstance(iat, bool) or not isinstance(iat, int | float) or not math.isfinite(iat):  # NaN too
        raise InvalidDpopProof("The DPoP proof has no iat claim.")
    if claims["htm"] != method:
        raise InvalidDpopProof(f"The DPoP proof's htm is not this request's method ({method}).")
    htu = _without_query(claims["htu"])
    if htu is None or htu != _without_query(url):
        raise InvalidDpopProof(f"The DPoP proof's htu is not this endpoint's URL ({_without_query(url)}).")
    now = clock.time()
    max_age = settings.DPOP_PROOF_MAX_AGE_SECONDS
    if iat < now - max_age or iat > now + LEEWAY_SECONDS:
        raise InvalidDpopProof(f"The DPoP proof's iat is not within the last {max_age} seconds.")
    if settings.DPOP_NONCE_REQUIRED and not nonce_is_valid(claims.get("nonce")):
        raise UseDpopNonce("Use the DPoP-Nonce this response carries in the proof's nonce claim.")
    ath = claims.get("ath")
    if access_token is not None and not (
        isinstance(ath, str) and ath.isascii() and constant_time_compare(ath, access_token_hash(access_token))
    ):
        raise InvalidDpopProof("The DPoP proof's ath is not the hash of the access token.")
    if not counters.first_use(json.dumps(["dpop", jkt, claims["jti"]]), window=max_age + LEEWAY_SECONDS):
        raise InvalidDpopProof("The DPoP proof was used before: make a new one (jti) for each request.")
    return Proof(jkt=jkt, jti=claims["jti"])


@functools.lru_cache(maxsize=1024)
def _key(jwk_json: str, algorithm: str):
    """The verifying key and thumbprint of a proof's jwk: parsed once per key and process (a
    client signs every proof with the same key; parsing a point costs as much as a verification)."""
    jwk = json.loads(jwk_json)
    return jwt.PyJWK(jwk, algorithm=algorithm).key, jkt_of(jwk)


def current_nonce() -> str:
    """The nonce of the current window (§8): an HMAC of the window's number, so every host of
    the service makes and accepts the same nonces without storing them."""
    return _nonce(int(clock.time() // settings.DPOP_NONCE_LIFETIME_SECONDS))


def nonce_is_valid(nonce: object) -> bool:
    if not isinstance(nonce, str) or not nonce.isascii():  # a lone surrogate cannot be compared
        return False
    window = int(clock.time() // settings.DPOP_NONCE_LIFETIME_SECONDS)
    return any(constant_time_compare(nonce, _nonce(n)) for n in (window, window - 1))


def _nonce(window: int) -> str:
    digest = salted_hmac("accounts.dpop.nonce", str(window), algorithm="sha256").digest()
    return base64.urlsafe_b64encode(digest[:18]).decode()


def _without_query(url: str) -> str | None:
    """`url` without its query and fragment, scheme and host in lower case; None when it is no URL."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # "http://[::1", say, or a port out of range
        return None
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    default = {"http": 80, "https": 443}.get(scheme)
    netloc = host if port is None or port == default else f"{host}:{port}"
    if ":" in host:  # an IPv6 literal keeps its brackets
        netloc = f"[{host}]" if port is None or port == default else f"[{host}]:{port}"
    return urlunsplit((scheme, netloc, parts.path, "", ""))
