"""The keys that sign access tokens, and the JWKS that publishes them.

Zero configuration in development: the first process that needs a key generates one and stores it
in the database (private part encrypted with a key derived from SECRET_KEY), so every process and
host on that database shares it. In production the operator may supply the key instead
(ACCESS_TOKEN_SIGNING_KEY or ACCESS_TOKEN_SIGNING_KEY_FILE, PEM); only its public part is recorded.

Each process keeps a key ring: the parsed active key and the published public keys. Keys are parsed
once per process; the list of keys is re-read at most every SIGNING_KEYS_RELOAD_SECONDS (one small
query), so a rotation done elsewhere is picked up without a restart.
"""

import base64
import functools
import hashlib
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.crypto import salted_hmac

from accounts.models import SigningKey

logger = logging.getLogger("accounts.keys")

ASYMMETRIC_ALGORITHMS = ("RS256", "ES256", "EdDSA")
ACCESS_TOKEN_ALGORITHMS = (*ASYMMETRIC_ALGORITHMS, "HS256")

PENDING = Q(active=False, retired_at__isnull=True, activates_at__isnull=False)

# How long an unknown `kid` waits before it may make a process re-read the keys again: a stream
# of tokens with made-up kids must not become a stream of queries.
UNKNOWN_KID_RELOAD_INTERVAL = 1.0


@dataclass(frozen=True)
class Key:
    kid: str
    algorithm: str
    verifying_key: Any
    jwk: dict
    signing_key: Any = field(default=None, repr=False)


@dataclass(frozen=True)
class KeyRing:
    """What one process knows of the keys at one time."""

    active: Key | None  # None while access tokens use HS256
    published: dict[str, Key]
    loaded_at: float
    config: tuple


_ring: KeyRing | None = None
_last_forced_reload = 0.0
_parsed: dict[tuple[str, bool], Key] = {}  # (kid, with private key) -> Key; parsing is the cost
_lock = threading.Lock()


def signing_key() -> Key | None:
    """The key that signs new access tokens, or None when they are signed with HS256."""
    return key_ring().active


def published_key(kid: str) -> Key | None:
    """The published key with this `kid`, re-reading the keys once if it is not known yet."""
    key = key_ring().published.get(kid)
    if key is None and _may_force_reload():
        key = key_ring(force=True).published.get(kid)
    return key


def jwks() -> dict:
    """The RFC 7517 JWK Set of every key whose tokens may still be alive."""
    return {"keys": [key.jwk for key in key_ring().published.values()]}


def rotate(*, now: datetime | None = None, immediately: bool = False) -> SigningKey:
    """Generate the next key for ACCESS_TOKEN_ALGORITHM.

    The new key is published at once and becomes the signing key SIGNING_KEY_PREPUBLISH_SECONDS
    later (the first process to re-read the keys after that retires the old one), or at once
    with `immediately`. Raises ImproperlyConfigured when the key is supplied by the operator
    (rotate it there) or the algorithm is HS256.
    """
    algorithm = settings.ACCESS_TOKEN_ALGORITHM
    if configured_private_key_pem():
        raise ImproperlyConfigured(
            "The signing key comes from ACCESS_TOKEN_SIGNING_KEY(_FILE): change it there."
        )
    if algorithm not in ASYMMETRIC_ALGORITHMS:
        raise ImproperlyConfigured(f"ACCESS_TOKEN_ALGORITHM is {algorithm}: there is no key pair to rotate.")
    now = now or timezone.now()
    fields = _generate(algorithm)
    with transaction.atomic():
        # A key still pending never signed anything: the new one replaces it (so a compromise
        # rotation with --now is never followed by an older pending key taking over).
        SigningKey.objects.filter(PENDING).delete()
        if immediately:
            SigningKey.objects.filter(active=True).update(active=False, retired_at=now)
            row = SigningKey.objects.create(**fields, active=True, created_at=now)
        else:
            activates_at = now + timedelta(seconds=settings.SIGNING_KEY_PREPUBLISH_SECONDS)
            row = SigningKey.objects.create(**fields, activates_at=activates_at, created_at=now)
    reset()
    logger.info("signing key rotated", extra={"kid": row.kid})
    return row


def reset() -> None:
    """Forget this process's key ring and parsed keys, so the next use re-reads them."""
    global _ring
    _ring = None
    _parsed.clear()
    _configured_key.cache_clear()


def configured_private_key_pem() -> bytes | None:
    """The operator's PEM, from ACCESS_TOKEN_SIGNING_KEY or the file ACCESS_TOKEN_SIGNING_KEY_FILE."""
    if settings.ACCESS_TOKEN_SIGNING_KEY:
        return settings.ACCESS_TOKEN_SIGNING_KEY.replace("\\n", "\n").encode()
    if settings.ACCESS_TOKEN_SIGNING_KEY_FILE:
        return Path(settings.ACCESS_TOKEN_SIGNING_KEY_FILE).read_bytes()
    return None


def load_configured_key(pem: bytes, algorithm: str) -> Any:
    """Parse the operator's private key; raise ValueError unless it is a key for `algorithm`."""
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


# --- the key ring ------------------------------------------------------------------------------


def key_ring(*, force: bool = False) -> KeyRing:
    global _ring
    config = (
        settings.ACCESS_TOKEN_ALGORITHM,
        settings.ACCESS_TOKEN_SIGNING_KEY,
        settings.ACCESS_TOKEN_SIGNING_KEY_FILE,
    )
    ring = _ring
    if not force and ring is not None and ring.config == config and _fresh(ring):
        return ring
    with _lock:
        ring = _ring
        if force or ring is None or ring.config != config or not _fresh(ring):
            ring = _ring = _load(config)
    return ring


def _fresh(ring: KeyRing) -> bool:
    return time.monotonic() - ring.loaded_at < settings.SIGNING_KEYS_RELOAD_SECONDS


def _may_force_reload() -> bool:
    global _last_forced_reload
    now = time.monotonic()
    if now - _last_forced_reload < UNKNOWN_KID_RELOAD_INTERVAL:
        return False
    _last_forced_reload = now
    return True


@functools.lru_cache(maxsize=4)
def _configured_key(config: tuple) -> Any:
    """The operator's key, read and parsed once per process (and configuration)."""
    algorithm = config[0]
    pem = configured_private_key_pem()
    return load_configured_key(pem, algorithm) if pem and algorithm in ASYMMETRIC_ALGORITHMS else None


def _load(config: tuple) -> KeyRing:
    algorithm = config[0]
    now = timezone.now()
    configured = _configured_key(config)
    if configured is not None:
        _ensure_active(algorithm, now=now, configured=configured)
    elif algorithm in ASYMMETRIC_ALGORITHMS:
        _ensure_active(algorithm, now=now)
        _activate_due_key(now=now)
    else:  # HS256: no key pair signs; the last one stays published until its tokens expire
        SigningKey.objects.filter(active=True).update(active=False, retired_at=now)
        SigningKey.objects.filter(PENDING).delete()
    window = timedelta(seconds=settings.ACCESS_TOKEN_LIFETIME_SECONDS + settings.SIGNING_KEYS_RELOAD_SECONDS)
    rows = SigningKey.objects.filter(Q(active=True) | PENDING | Q(retired_at__gt=now - window)).order_by(
        "-created_at"
    )
    published, active = {}, None
    for row in rows:
        try:
            if row.active and algorithm in ASYMMETRIC_ALGORITHMS:
                active = _parse(row, with_private=True, configured=configured)
                published[row.kid] = active
            else:
                published[row.kid] = _parse(row, with_private=False)
        except UndecryptableKeyError:
            # DJANGO_SECRET_KEY changed without the old one in DJANGO_SECRET_KEY_FALLBACKS: this
            # key can no longer sign. Retire it (it still verifies what it signed) and start over.
            logger.error("signing key cannot be decrypted: replaced", extra={"kid": row.kid})
            SigningKey.objects.filter(pk=row.pk, active=True).update(active=False, retired_at=now)
            return _load(config)
        except (jwt.PyJWKError, jwt.InvalidKeyError, KeyError, TypeError, ValueError):
            logger.error("signing key record is malformed: not published", extra={"kid": row.kid})
    return KeyRing(active=active, published=published, loaded_at=time.monotonic(), config=config)


def _ensure_active(algorithm: str, *, now: datetime, configured: Any = None) -> None:
    """Make the right key the one active key; the database decides races between processes."""
    wanted = _key_fields(configured.public_key(), algorithm) if configured is not None else None
    active = SigningKey.objects.filter(active=True).first()
    if active is not None and (
        (wanted is not None and active.kid == wanted["kid"])
        or (wanted is None and active.algorithm == algorithm and active.private_key)
    ):
        return
    try:
        with transaction.atomic():
            # Conditional: of several processes seeing the same stale key, one retires it.
            if active is not None and not SigningKey.objects.filter(pk=active.pk, active=True).update(
                active=False, retired_at=now
            ):
                return
            if wanted is not None:
                SigningKey.objects.update_or_create(
                    kid=wanted["kid"],
                    defaults={**wanted, "private_key": "", "active": True, "retired_at": None},
                )
            else:
                SigningKey.objects.create(**_generate(algorithm), active=True, created_at=now)
    except IntegrityError:
        pass  # another process made its key active first: use that one


def _activate_due_key(*, now: datetime) -> None:
    """Make a pending key whose time has come the active one (once, whoever gets there first)."""
    due = (
        SigningKey.objects.filter(active=False, retired_at__isnull=True, activates_at__lte=now)
        .order_by("-activates_at")
        .first()
    )
    if due is None:
        return
    try:
        with transaction.atomic():
            SigningKey.objects.filter(active=True).update(active=False, retired_at=now)
            if not SigningKey.objects.filter(pk=due.pk, active=False, retired_at__isnull=True).update(
                active=True
            ):
                raise IntegrityError("another process activated it first")  # undo the retirement
    except IntegrityError:
        return
    logger.info("signing key activated", extra={"kid": due.kid})


def _parse(row: SigningKey, *, with_private: bool, configured: Any = None) -> Key:
    cache_key = (row.kid, with_private)
    key = _parsed.get(cache_key)
    if key is not None:
        return key
    verifying = jwt.PyJWK(row.public_jwk, algorithm=row.algorithm).key
    private = None
    if with_private:
        private = configured if configured is not None else _decrypt(row.private_key, row.kid)
    key = Key(
        kid=row.kid, algorithm=row.algorithm, verifying_key=verifying, jwk=row.public_jwk, signing_key=private
    )
    _parsed[cache_key] = key
    return key


# --- key material ------------------------------------------------------------------------------


def _generate(algorithm: str) -> dict:
    if algorithm == "RS256":
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    elif algorithm == "ES256":
        private = ec.generate_private_key(ec.SECP256R1())
    else:
        private = ed25519.Ed25519PrivateKey.generate()
    fields = _key_fields(private.public_key(), algorithm)
    fields["private_key"] = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(_encryption_password(fields["kid"], settings.SECRET_KEY)),
    ).decode()
    return fields


def _key_fields(public_key: Any, algorithm: str) -> dict:
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


def _encryption_password(kid: str, secret: str) -> bytes:
    return (
        salted_hmac("accounts.keys.private-key", kid, secret=secret, algorithm="sha256").hexdigest().encode()
    )


class UndecryptableKeyError(Exception):
    """A stored private key that no configured secret decrypts."""


def _decrypt(pem: str, kid: str) -> Any:
    """The stored private key, trying SECRET_KEY and then SECRET_KEY_FALLBACKS."""
    for secret in [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]:
        try:
            return serialization.load_pem_private_key(
                pem.encode(), password=_encryption_password(kid, secret)
            )
        except (ValueError, TypeError):
            continue
    raise UndecryptableKeyError(kid)
