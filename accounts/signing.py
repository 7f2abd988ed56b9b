"""Signing and verifying this service's own JWTs (PyJWT, through simplejwt's TokenBackend).

Each kind of token has its own backend: its own `typ` header, its own key and an allow-list of
exactly one algorithm per key (RFC 8725 §3.1, §3.11). Backends are built from Django settings
when asked for and cached per distinct configuration, so keys are prepared once per process
while tests can still change the settings. (accounts.keys.material also uses PyJWT, to turn keys
into JWKs.)
"""

import base64
import binascii
import functools
import hashlib
import json
from typing import Any

import jwt
from django.conf import settings
from django.utils.crypto import salted_hmac
from rest_framework_simplejwt.backends import TokenBackend
from rest_framework_simplejwt.exceptions import TokenBackendError, TokenBackendExpiredToken

from accounts.keys import ring

ACCESS_TOKEN_TYP = "at+jwt"  # RFC 9068 §2.1
REFRESH_TOKEN_TYP = "rt+jwt"  # ours alone: never at+jwt, so neither passes for the other

# Claims every token of this service carries; a token without one of them is refused (a
# session's tokens also need `sid`: accounts.tokens checks each kind's own claims).
REQUIRED_CLAIMS = ("exp", "iat", "jti", "sub", "iss", "token_type")

# Headers that would point a verifier at a key of the sender's choosing (RFC 8725 §3.10).
FORBIDDEN_HEADERS = frozenset({"jku", "x5u", "jwk", "x5c", "crit"})

# Our tokens are a few hundred bytes; refusing far larger input early bounds the work.
MAX_TOKEN_LENGTH = 4096


class TypedTokenBackend(TokenBackend):
    """simplejwt's TokenBackend with an explicit, verified `typ` header and required claims."""

    def __init__(
        self, *, typ: str, accepted_typs: frozenset[str], fallback_keys: tuple[str, ...] = (), **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.typ = typ
        self.accepted_typs = accepted_typs
        # Keys that still verify (never sign): those derived from DJANGO_SECRET_KEY_FALLBACKS.
        self.fallback_keys = fallback_keys
        # Prepare (parse) the keys now, once, instead of on first use in a request.
        self.prepared_signing_key  # noqa: B018

    def encode(self, payload: dict[str, Any]) -> str:
        """Sign `payload` (plus `iss`) and return the compact JWT."""
        algorithm, key, headers = self.signing_parameters()
        return jwt.encode(
            {**payload, "iss": self.issuer}, key, algorithm=algorithm, headers={"typ": self.typ, **headers}
        )

    def signing_parameters(self) -> tuple[str, Any, dict]:
        """The algorithm, the prepared key and the extra headers that sign a new token."""
        return self.algorithm, self.prepared_signing_key, {}

    def verification_parameters(self, header: dict) -> tuple[str, tuple[Any, ...]] | None:
        """The algorithm and the keys (tried in turn) that verify a token with this `header`, or
        None to refuse it."""
        if header.get("alg") != self.algorithm or "kid" in header:
            return None
        return self.algorithm, (self.prepared_signing_key, *self.fallback_keys)

    def decode(self, token: str | bytes, verify: bool = True) -> dict[str, Any]:
        """Return the verified payload of `token`.

        Raises TokenBackendExpiredToken when it has expired and TokenBackendError for anything
        else wrong: not a JWT, another `typ` or algorithm, a key-pointing header, a bad signature,
        a wrong issuer or a missing claim.
        """
        if not verify:
            raise TokenBackendError("Unverified decoding is not supported")
        if isinstance(token, bytes):
            try:
                token = token.decode("ascii")
            except UnicodeDecodeError:
                raise TokenBackendError("Token is invalid") from None
        if not isinstance(token, str) or not token.isascii() or len(token) > MAX_TOKEN_LENGTH:
            raise TokenBackendError("Token is invalid")
        header = _unverified_header(token)
        if str(header.get("typ", "")).lower() not in self.accepted_typs or FORBIDDEN_HEADERS.intersection(
            header
        ):
            raise TokenBackendError("Token is invalid")
        verification = self.verification_parameters(header)
        if verification is None:
            raise TokenBackendError("Token is invalid")
        algorithm, candidates = verification
        *earlier, last = candidates
        for key in earlier:  # the signature decides which key is the token's: try the others after it
            try:
                return self._decode(token, key, algorithm)
            except TokenBackendError as e:
                if not isinstance(e.__cause__, jwt.InvalidSignatureError):
                    raise
        return self._decode(token, last, algorithm)

    def _decode(self, token: str, key: Any, algorithm: str) -> dict[str, Any]:
        try:
            return jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                issuer=self.issuer,
                options={"require": list(REQUIRED_CLAIMS), "verify_aud": False},
            )
        except jwt.ExpiredSignatureError as e:
            raise TokenBackendExpiredToken("Token is expired") from e
        except (jwt.InvalidTokenError, ValueError, TypeError) as e:
            raise TokenBackendError("Token is invalid") from e


class AccessTokenBackend(TypedTokenBackend):
    """Access tokens: signed by the signing key of the key ring (with its `kid`), or with HS256.

    A token is verified by the published key its `kid` names, with that key's algorithm only;
    a token without `kid` only while ACCESS_TOKEN_ALGORITHM is HS256. Under an asymmetric
    algorithm a missing key is an error (ring.SigningKeyUnavailable), never HMAC signing.
    """

    def signing_parameters(self) -> tuple[str, Any, dict]:
        signing = ring.signing_key()
        if signing is None:
            return super().signing_parameters()
        key, private = signing
        return key.algorithm, private, {"kid": key.kid}

    def verification_parameters(self, header: dict) -> tuple[str, tuple[Any, ...]] | None:
        kid = header.get("kid")
        if kid is None:
            return (
                super().verification_parameters(header)
                if settings.ACCESS_TOKEN_ALGORITHM == "HS256"
                else None
            )
        key = ring.published_key(kid) if isinstance(kid, str) else None
        if key is None or header.get("alg") != key.algorithm:
            return None
        return key.algorithm, (key.verifying_key,)


def _unverified_header(token: str) -> dict:
    """The JOSE header, only to choose the key; PyJWT parses and checks it again when verifying.

    Parsed here rather than with jwt.get_unverified_header, which would validate the whole
    token's base64 a first time (character by character, in Python) before jwt.decode does it again.
    """
    segment = token.split(".", 1)[0]
    try:
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, binascii.Error):
        raise TokenBackendError("Token is invalid") from None
    if not isinstance(header, dict):
        raise TokenBackendError("Token is invalid")
    return header


def hmac_keys(purpose: str) -> tuple[str, ...]:
    """The HMAC keys for one kind of token, the signing one first: TOKEN_HMAC_KEY, or keys
    derived from SECRET_KEY and then from each of SECRET_KEY_FALLBACKS (which only verify), so
    that moving the secret key into the fallbacks keeps every token working.

    Each purpose gets its own derived key, so a token of one kind cannot verify as the other
    even if everything else about it matched.
    """
    if settings.TOKEN_HMAC_KEY:
        return (_derive_key(purpose, settings.TOKEN_HMAC_KEY),)
    return tuple(_derive_key(purpose, base) for base in (settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS))


@functools.lru_cache(maxsize=16)
def _derive_key(purpose: str, base: str) -> str:
    return salted_hmac(
        f"accounts.signing.{purpose}", "token-signing-key", secret=base, algorithm="sha256"
    ).hexdigest()


@functools.lru_cache(maxsize=16)
def _access_backend(hmac: tuple[str, ...], issuer: str) -> AccessTokenBackend:
    return AccessTokenBackend(
        typ=ACCESS_TOKEN_TYP,
        accepted_typs=frozenset({ACCESS_TOKEN_TYP, "application/at+jwt"}),
        algorithm="HS256",
        signing_key=hmac[0],
        fallback_keys=hmac[1:],
        issuer=issuer,
    )


@functools.lru_cache(maxsize=16)
def _refresh_backend(hmac: tuple[str, ...], issuer: str) -> TypedTokenBackend:
    return TypedTokenBackend(
        typ=REFRESH_TOKEN_TYP,
        accepted_typs=frozenset({REFRESH_TOKEN_TYP}),
        algorithm="HS256",
        signing_key=hmac[0],
        fallback_keys=hmac[1:],
        issuer=issuer,
    )


def access_token_backend() -> AccessTokenBackend:
    """The backend that signs and verifies access tokens under the current settings."""
    return _access_backend(hmac_keys("access"), settings.TOKEN_ISSUER)


def refresh_token_backend() -> TypedTokenBackend:
    """The backend that signs and verifies refresh tokens.

    Always HS256: only this service ever verifies a refresh token, and an HMAC costs about a
    microsecond where an RSA-2048 signature costs about a millisecond. HS256 is also
    deterministic, which the reuse interval relies on to hand out the same successor again.
    """
    return _refresh_backend(hmac_keys("refresh"), settings.TOKEN_ISSUER)


def token_fingerprint(token: str) -> str:
    """What the database keeps of a token instead of the token: its SHA-256, hex."""
    return "sha256:" + hashlib.sha256(token.encode("ascii")).hexdigest()
