"""Key material: generating, parsing, encrypting and fingerprinting key pairs. No database here.

A generated private key is stored as PKCS#8 PEM encrypted with a password derived from
SECRET_KEY (SECRET_KEY_FALLBACKS still decrypt after a secret rotation). The operator's key is
never stored: only its public part is.
"""

import base64
import functools
import hashlib
import json
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from django.conf import settings
from django.utils.crypto import salted_hmac

from accounts.keys import ASYMMETRIC_ALGORITHMS


class UndecryptableKeyError(Exception):
    """A stored private key that no configured secret decrypts."""


def generate(algorithm: str) -> dict:
    """The fields of a new SigningKey row for `algorithm`: kid, algorithm, public_jwk, private_key."""
    if algorithm == "RS256":
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    elif algorithm == "ES256":
        private = ec.generate_private_key(ec.SECP256R1())
    else:
        private = ed25519.Ed25519PrivateKey.generate()
    fields = public_fields(private.public_key(), algorithm)
    fields["private_key"] = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(_encryption_password(fields["kid"], settings.SECRET_KEY)),
    ).decode()
    return fields


def public_fields(public_key: Any, algorithm: str) -> dict:
    """kid (the RFC 7638 thumbprint), algorithm and public JWK of a public key."""
    jwk = json.loads(jwt.algorithms.get_default_algorithms()[algorithm].to_jwk(public_key))
    kid = thumbprint(jwk)
    return {
        "kid": kid,
        "algorithm": algorithm,
        "public_jwk": {**jwk, "kid": kid, "alg": algorithm, "use": "sig"},
    }


def thumbprint(jwk: dict) -> str:
    """The RFC 7638 SHA-256 thumbprint of a public JWK, base64url."""
    required = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y"), "OKP": ("crv", "kty", "x")}[
        jwk["kty"]
    ]
    canonical = json.dumps({name: jwk[name] for name in required}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()


def decrypt(pem: str, kid: str) -> Any:
    """The stored private key, trying SECRET_KEY and then SECRET_KEY_FALLBACKS.

    Each try derives a password (a KDF: about 36 ms), so a key is decrypted once per process and
    secrets: the memo is keyed by the PEM, the kid and the secrets read now, and never answers
    for other secrets. A failure is not remembered: the next call tries again.
    Raises UndecryptableKeyError when none of them decrypts it.
    """
    return _decrypt(pem, kid, settings.SECRET_KEY, tuple(settings.SECRET_KEY_FALLBACKS))


@functools.lru_cache(maxsize=32)
def _decrypt(pem: str, kid: str, secret_key: str, fallbacks: tuple[str, ...]) -> Any:
    # A raise leaves nothing in an lru_cache: an undecryptable key is tried again next time.
    for secret in (secret_key, *fallbacks):
        try:
            return serialization.load_pem_private_key(
                pem.encode(), password=_encryption_password(kid, secret)
            )
        except (ValueError, TypeError):
            continue
    raise UndecryptableKeyError(kid)


def verifying_key(row) -> Any:
    """The parsed public key of a SigningKey row; raises ValueError when the record is malformed."""
    try:
        return jwt.PyJWK(row.public_jwk, algorithm=row.algorithm).key
    except (jwt.PyJWKError, jwt.InvalidKeyError, KeyError, TypeError) as e:
        raise ValueError(f"malformed public key {row.kid}") from e


def operator_key() -> Any:
    """The operator's private key (ACCESS_TOKEN_SIGNING_KEY or _FILE), parsed; None when there is none.

    Parsed once per process and configuration. Raises ValueError or OSError when it cannot be
    used (the system check accounts.E003 reports that at start-up).
    """
    return _operator_key(
        settings.ACCESS_TOKEN_ALGORITHM,
        settings.ACCESS_TOKEN_SIGNING_KEY,
        settings.ACCESS_TOKEN_SIGNING_KEY_FILE,
    )


@functools.lru_cache(maxsize=4)
def _operator_key(algorithm: str, inline: str, path: str) -> Any:
    if algorithm not in ASYMMETRIC_ALGORITHMS or not (inline or path):
        return None
    pem = inline.replace("\\n", "\n").encode() if inline else Path(path).read_bytes()
    return load_private_key(pem, algorithm)


def load_private_key(pem: bytes, algorithm: str) -> Any:
    """Parse an unencrypted PEM private key; raise ValueError unless it is a key for `algorithm`."""
    private = serialization.load_pem_private_key(pem, password=None)
    expected = {
        "RS256": rsa.RSAPrivateKey,
        "ES256": ec.EllipticCurvePrivateKey,
        "EdDSA": ed25519.Ed25519PrivateKey,
    }[algorithm]
    if not isinstance(private, expected):
        raise ValueError(f"the key is not a {algorithm} key")
    if algorithm == "RS256" and private.key_size < 2048:
        raise ValueError("an RSA key needs at least 2048 bits")
    if algorithm == "ES256" and not isinstance(private.curve, ec.SECP256R1):
        raise ValueError("an ES256 key must be on the P-256 curve")
    return private


def forget() -> None:
    """Forget the parsed operator's key (the next use reads it again).

    Decrypted keys are kept: their memo is keyed by everything the result depends on.
    """
    _operator_key.cache_clear()


def _encryption_password(kid: str, secret: str) -> bytes:
    return (
        salted_hmac("accounts.keys.private-key", kid, secret=secret, algorithm="sha256").hexdigest().encode()
    )
