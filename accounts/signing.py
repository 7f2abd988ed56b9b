"""Signing and verifying JWTs: the only module that talks to PyJWT.

Each kind of token has its own backend: its own `typ` header, its own key and an allow-list of
exactly one algorithm (RFC 8725 §3.1, §3.11). Backends are built from Django settings when
asked for and cached per distinct configuration, so keys are prepared once per process while
tests can still change the settings.
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

from accounts import keys

ACCESS_TOKEN_TYP = "at+jwt"  # RFC 9068 §2.1
REFRESH_TOKEN_TYP = "rt+jwt"  # ours alone: never at+jwt, so neither passes for the other

# Claims every token of this service carries; a token without one of them is refused.
REQUIRED_CLAIMS = ("exp", "iat", "jti", "sub", "sid", "iss", "token_type")

# Headers that would point a verifier at a key of the sender's choosing (RFC 8725 §3.10).
FORBIDDEN_HEADERS = frozenset({"jku", "x5u", "jwk", "x5c", "crit"})

# Our tokens are a few hundred bytes; refusing far larger input early bounds the work.
MAX_TOKEN_LENGTH = 4096


class TypedTokenBackend(TokenBackend):
    """simplejwt's TokenBackend with an explicit, verified `typ` header and required claims."""

    def __init__(self, *, typ: str, accepted_typs: frozenset[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.typ = typ
        self.accepted_typs = accepted_typs
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

    def verification_parameters(self, header: dict) -> tuple[str, Any] | None:
        """The algorithm and key that verify a token with this `header`, or None to refuse it."""
        if header.get("alg") != self.algorithm or "kid" in header:
            return None
        return self.algorithm, self.prepared_signing_key

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
        algorithm, key = verification
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
    """Access tokens: signed by the active key of accounts.keys (with its `kid`), or with HS256.

    A token is verified by the published key its `kid` names, with that key's algorithm only;
    a token without `kid` only while ACCESS_TOKEN_ALGORITHM is HS256.
    """

    def signing_parameters(self) -> tuple[str, Any, dict]:
        key = keys.signing_key()
        if key is None:
            return super().signing_parameters()
        return key.algorithm, key.signing_key, {"kid": key.kid}

    def verification_parameters(self, header: dict) -> tuple[str, Any] | None:
        kid = header.get("kid")
        if kid is None:
            return (
                super().verification_parameters(header)
                if settings.ACCESS_TOKEN_ALGORITHM == "HS256"
                else None
            )
        key = keys.published_key(kid) if isinstance(kid, str) else None
        if key is None or header.get("alg") != key.algorithm:
            return None
        return key.algorithm, key.verifying_key


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


def hmac_key(purpose: str) -> str:
    """The HMAC key for one kind of token: TOKEN_HMAC_KEY, or one derived from SECRET_KEY.

    Each purpose gets its own derived key, so a token of one kind cannot verify as the other
    even if everything else about it matched.
    """
    base = settings.TOKEN_HMAC_KEY or settings.SECRET_KEY
    return _derive_key(purpose, base)


@functools.lru_cache(maxsize=16)
def _derive_key(purpose: str, base: str) -> str:
    return salted_hmac(
        f"accounts.signing.{purpose}", "token-signing-key", secret=base, algorithm="sha256"
    ).hexdigest()


@functools.lru_cache(maxsize=16)
def _access_backend(hmac: str, issuer: str) -> AccessTokenBackend:
    return AccessTokenBackend(
        typ=ACCESS_TOKEN_TYP,
        accepted_typs=frozenset({ACCESS_TOKEN_TYP, "application/at+jwt"}),
        algorithm="HS256",
        signing_key=hmac,
        issuer=issuer,
    )


@functools.lru_cache(maxsize=16)
def _refresh_backend(hmac: str, issuer: str) -> TypedTokenBackend:
    return TypedTokenBackend(
        typ=REFRESH_TOKEN_TYP,
        accepted_typs=frozenset({REFRESH_TOKEN_TYP}),
        algorithm="HS256",
        signing_key=hmac,
        issuer=issuer,
    )


def access_token_backend() -> AccessTokenBackend:
    """The backend that signs and verifies access tokens under the current settings."""
    return _access_backend(hmac_key("access"), settings.TOKEN_ISSUER)


def refresh_token_backend() -> TypedTokenBackend:
    """The backend that signs and verifies refresh tokens.

    Always HS256: only this service ever verifies a refresh token, and an HMAC costs about a
    microsecond where an RSA-2048 signature costs about a millisecond. HS256 is also
    deterministic, which the reuse interval relies on to hand out the same successor again.
    """
    return _refresh_backend(hmac_key("refresh"), settings.TOKEN_ISSUER)


def token_fingerprint(token: str) -> str:
    """What the database keeps of a token instead of the token: its SHA-256, hex."""
    return "sha256:" + hashlib.sha256(token.encode("ascii")).hexdigest()
