"""The key ring: which key signs new access tokens and which keys verify them. Read-only.

Every state of a key follows from its row and the clock, so no process ever has to write to
change it, and every process reading the same rows agrees:
- a key is *pending* before its `activates_at` (published, so resource servers that cache the
  JWKS learn it before they meet a token it signed), and may sign from then on;
- the *signing key* of an algorithm is its newest key whose `activates_at` has come;
- an older key of that algorithm is *superseded* from its successor's `activates_at`, and stays
  published until every token it signed has expired;
- a *compromised* key (`compromised_at`) is neither used nor published: every process drops it
  at its next reload, within SIGNING_KEYS_RELOAD_SECONDS.
Hosts that sign with different ACCESS_TOKEN_ALGORITHM values (a rolling change) each use their
algorithm's newest key and supersede nothing of the other's.

Each process keeps the ring it read (parsed keys included) for SIGNING_KEYS_RELOAD_SECONDS, or
until the next pending key's time comes; an unknown `kid` re-reads it at most once a second.
Both the dates and the intervals are read from accounts.clock.
"""

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings

from accounts import clock
from accounts.errors import TemporarilyUnavailable
from accounts.keys import ASYMMETRIC_ALGORITHMS, material
from accounts.models import SigningKey

logger = logging.getLogger("accounts.keys")

# How long an unknown `kid` waits before it may make a process re-read the keys again: a stream
# of tokens with made-up kids must not become a stream of queries.
UNKNOWN_KID_RELOAD_INTERVAL = 1.0


class SigningKeyUnavailable(TemporarilyUnavailable):
    """No usable key signs for ACCESS_TOKEN_ALGORITHM: start-up (accounts.keys.lifecycle) makes one.

    Never a silent fall-back to another algorithm: new tokens cannot be issued until it is fixed.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(f"No signing key is available ({reason}).")


@dataclass(frozen=True)
class Key:
    kid: str
    algorithm: str
    verifying_key: Any
    jwk: dict


@dataclass(frozen=True)
class KeyStates:
    """The state of every trusted key at one moment, as the rules above make it."""

    signing: dict[str, SigningKey]  # algorithm -> its signing key
    superseded_at: dict[str, datetime]  # kid -> when its successor began to sign
    pending_until: datetime | None  # the next moment a pending key begins to sign


def key_states(rows: list[SigningKey], *, now: datetime) -> KeyStates:
    """Apply the rules of this module to trusted (not compromised) `rows`."""
    signing: dict[str, SigningKey] = {}
    superseded_at: dict[str, datetime] = {}
    pending = [row.activates_at for row in rows if row.activates_at > now]
    for row in sorted(
        (row for row in rows if row.activates_at <= now), key=lambda r: (r.activates_at, r.created_at)
    ):
        previous = signing.get(row.algorithm)
        if previous is not None:
            superseded_at[previous.kid] = row.activates_at
        signing[row.algorithm] = row
    return KeyStates(signing=signing, superseded_at=superseded_at, pending_until=min(pending, default=None))


def publication_window() -> timedelta:
    """How long a superseded key stays published: its last token may be signed up to one reload
    interval after its successor began, and lives an access token's lifetime."""
    return timedelta(seconds=settings.ACCESS_TOKEN_LIFETIME_SECONDS + settings.SIGNING_KEYS_RELOAD_SECONDS)


@dataclass(frozen=True)
class KeyRing:
    """What one process knows of the keys at one time."""

    signing_rows: dict[str, SigningKey]
    published: dict[str, Key]
    loaded_at: float  # clock.monotonic() when it was read
    valid_until: datetime | None  # a pending key begins to sign then: read again


_ring: KeyRing | None = None
_last_forced_reload = float("-inf")  # clock.monotonic() of the last re-read for an unknown kid
_private: dict[str, Any] = {}  # kid -> decrypted private key; decrypting is the cost
_parsed: dict[str, Key] = {}  # kid -> Key
_lock = threading.Lock()


def signing_key() -> tuple[Key, Any] | None:
    """The signing key of ACCESS_TOKEN_ALGORITHM and its private key; None while that is HS256.

    Raises SigningKeyUnavailable when the algorithm has no usable key (none made yet, or one
    that cannot be decrypted or parsed).
    """
    algorithm = settings.ACCESS_TOKEN_ALGORITHM
    if algorithm not in ASYMMETRIC_ALGORITHMS:
        return None
    ring = key_ring()
    operator = material.operator_key()
    if operator is not None:
        fields = material.public_fields(operator.public_key(), algorithm)
        key = ring.published.get(fields["kid"])
        if key is None:
            raise SigningKeyUnavailable("the operator's key is not recorded yet: start the service once")
        return key, operator
    row = ring.signing_rows.get(algorithm)
    if row is None:
        raise SigningKeyUnavailable(
            f"no {algorithm} key pair: run the service's start-up or rotate_signing_key"
        )
    key = ring.published.get(row.kid)
    if key is None:
        raise SigningKeyUnavailable(f"the {algorithm} key {row.kid} is malformed")
    return key, _private_key(row)


def published_key(kid: str) -> Key | None:
    """The published key with this `kid`, re-reading the keys once if it is not known yet."""
    key = key_ring().published.get(kid)
    if key is None and _may_force_reload():
        key = key_ring(force=True).published.get(kid)
    return key


def jwks() -> dict:
    """The RFC 7517 JWK Set of every trusted key whose tokens may still be alive."""
    return {"keys": [key.jwk for key in key_ring().published.values()]}


def reset() -> None:
    """Forget this process's key ring and parsed keys, so the next use re-reads them.

    An unknown `kid` may then make it re-read them at once: the interval between such re-reads
    starts again (a new ring is read on the next use anyway).
    """
    global _ring, _last_forced_reload
    _ring = None
    _last_forced_reload = float("-inf")
    _parsed.clear()
    _private.clear()
    material.forget()


def key_ring(*, force: bool = False) -> KeyRing:
    """This process's ring, read again when it is older than SIGNING_KEYS_RELOAD_SECONDS."""
    global _ring
    ring = _ring
    if not force and ring is not None and _fresh(ring):
        return ring
    with _lock:
        ring = _ring
        if force or ring is None or not _fresh(ring):
            ring = _ring = _load()
    return ring


def _fresh(ring: KeyRing) -> bool:
    if ring.valid_until is not None and clock.now() >= ring.valid_until:
        return False
    return clock.monotonic() - ring.loaded_at < settings.SIGNING_KEYS_RELOAD_SECONDS


def _may_force_reload() -> bool:
    global _last_forced_reload
    now = clock.monotonic()
    if now - _last_forced_reload < UNKNOWN_KID_RELOAD_INTERVAL:
        return False
    _last_forced_reload = now
    return True


def _load() -> KeyRing:
    now = clock.now()
    rows = list(SigningKey.objects.filter(compromised_at__isnull=True).order_by("-activates_at"))
    states = key_states(rows, now=now)
    oldest_live = now - publication_window()
    published = {}
    for row in rows:
        superseded = states.superseded_at.get(row.kid)
        if superseded is not None and superseded <= oldest_live:
            continue
        key = _parse(row)
        if key is not None:
            published[row.kid] = key
    return KeyRing(
        signing_rows=states.signing,
        published=published,
        loaded_at=clock.monotonic(),
        valid_until=states.pending_until,
    )


def _parse(row: SigningKey) -> Key | None:
    key = _parsed.get(row.kid)
    if key is None:
        try:
            verifying = material.verifying_key(row)
        except ValueError:
            logger.error("signing key record is malformed: not published", extra={"kid": row.kid})
            return None
        key = _parsed[row.kid] = Key(
            kid=row.kid, algorithm=row.algorithm, verifying_key=verifying, jwk=row.public_jwk
        )
    return key


def _private_key(row: SigningKey) -> Any:
    private = _private.get(row.kid)
    if private is None:
        if not row.private_key:
            raise SigningKeyUnavailable(f"the key {row.kid} is the operator's, and it is not configured here")
        try:
            private = _private[row.kid] = material.decrypt(row.private_key, row.kid)
        except material.UndecryptableKeyError:
            raise SigningKeyUnavailable(
                f"the key {row.kid} cannot be decrypted: DJANGO_SECRET_KEY changed without the old one in "
                "DJANGO_SECRET_KEY_FALLBACKS (restart to have a new key made)"
            ) from None
    return private
