"""The life of key pairs: made, rotated, distrusted, deleted. Only explicit steps write here.

- `ensure_signing_key` runs at start-up (the WSGI and ASGI applications, `runserver`, and the
  test set-up): it makes the first key of ACCESS_TOKEN_ALGORITHM, records the public part of
  the operator's key, and replaces a key that can no longer be decrypted.
- `rotate` is `manage.py rotate_signing_key`: a new key, published first, signing later (or at
  once), and with `compromised` the old one distrusted at once.
- `purge` is part of `manage.py cleanup_tokens`: it deletes keys whose tokens have all expired.
Activation and retirement need no step at all: they follow from the clock (accounts.keys.ring).
Every `now` left out is accounts.clock.now().
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

from accounts import audit, clock
from accounts.keys import ASYMMETRIC_ALGORITHMS, material, ring
from accounts.models import SigningKey

logger = logging.getLogger("accounts.keys")


def ensure_signing_key(*, now: datetime | None = None) -> SigningKey | None:
    """Make sure ACCESS_TOKEN_ALGORITHM has a usable signing key; return it (None under HS256).

    Keys of other algorithms are left alone: hosts in the middle of a change of algorithm each
    keep their own. Of several processes starting at once on an empty table, each may make a
    key; the newest signs everywhere and the others are superseded at once, which is harmless.
    """
    now = now or clock.now()
    algorithm = settings.ACCESS_TOKEN_ALGORITHM
    if algorithm not in ASYMMETRIC_ALGORITHMS:
        return None
    operator = material.operator_key()
    if operator is not None:
        fields = material.public_fields(operator.public_key(), algorithm)
        row, created = SigningKey.objects.get_or_create(
            kid=fields["kid"], defaults={**fields, "private_key": "", "created_at": now, "activates_at": now}
        )
        trusted = list(SigningKey.objects.filter(algorithm=algorithm, compromised_at__isnull=True))
        current = ring.key_states(trusted, now=now).signing.get(algorithm)
        if not created and current is not None and current.kid != row.kid and row.compromised_at is None:
            # Configured again after another key signed: it signs from now on, for every host.
            SigningKey.objects.filter(pk=row.pk).update(activates_at=now)
            row.activates_at = now
            created = True
        if created:
            ring.reset()
            logger.info("operator's signing key recorded", extra={"kid": row.kid})
        return row
    trusted = list(SigningKey.objects.filter(algorithm=algorithm, compromised_at__isnull=True))
    current = ring.key_states(trusted, now=now).signing.get(algorithm)
    if current is not None and current.private_key and _decryptable(current):
        return current
    if current is not None:
        logger.error(
            "signing key cannot be decrypted or is the operator's: replaced", extra={"kid": current.kid}
        )
    row = SigningKey.objects.create(**material.generate(algorithm), created_at=now, activates_at=now)
    ring.reset()
    logger.info("signing key created", extra={"kid": row.kid})
    return row


def rotate(
    *, now: datetime | None = None, immediately: bool = False, compromised: bool = False
) -> SigningKey:
    """Make the next key of ACCESS_TOKEN_ALGORITHM and return it.

    The new key is published at once and signs SIGNING_KEY_PREPUBLISH_SECONDS later, or at once
    with `immediately`. With `compromised`, the current signing key is distrusted now: it leaves
    the JWKS, and every process refuses its tokens once it re-reads the keys
    (SIGNING_KEYS_RELOAD_SECONDS); the new key signs at once. A pending key that never signed is
    replaced. Raises ImproperlyConfigured when the key is the operator's (rotate it there) or the
    algorithm is HS256.
    """
    now = now or clock.now()
    algorithm = settings.ACCESS_TOKEN_ALGORITHM
    if settings.ACCESS_TOKEN_SIGNING_KEY or settings.ACCESS_TOKEN_SIGNING_KEY_FILE:
        raise ImproperlyConfigured(
            "The signing key comes from ACCESS_TOKEN_SIGNING_KEY(_FILE): change it there."
        )
    if algorithm not in ASYMMETRIC_ALGORITHMS:
        raise ImproperlyConfigured(f"ACCESS_TOKEN_ALGORITHM is {algorithm}: there is no key pair to rotate.")
    fields = material.generate(algorithm)
    with transaction.atomic():
        SigningKey.objects.filter(
            algorithm=algorithm, compromised_at__isnull=True, activates_at__gt=now
        ).delete()
        if compromised:
            trusted = list(SigningKey.objects.filter(algorithm=algorithm, compromised_at__isnull=True))
            current = ring.key_states(trusted, now=now).signing.get(algorithm)
            if current is not None:
                distrust(kid=current.kid, now=now)
        activates_at = (
            now
            if immediately or compromised
            else now + timedelta(seconds=settings.SIGNING_KEY_PREPUBLISH_SECONDS)
        )
        row = SigningKey.objects.create(**fields, created_at=now, activates_at=activates_at)
    ring.reset()
    audit.event("signing key rotated", kid=row.kid)
    return row


def distrust(*, kid: str, now: datetime | None = None) -> bool:
    """Mark the key `kid` compromised: never used or published again. Return False if unknown."""
    distrusted = SigningKey.objects.filter(kid=kid, compromised_at__isnull=True).update(
        compromised_at=now or clock.now()
    )
    if distrusted:
        ring.reset()
        audit.event("signing key distrusted", level=logging.WARNING, kid=kid)
    return bool(distrusted)


def purge(*, now: datetime | None = None) -> int:
    """Delete the keys superseded so long ago that every token they signed has expired."""
    now = now or clock.now()
    rows = list(SigningKey.objects.filter(compromised_at__isnull=True))
    superseded = ring.key_states(rows, now=now).superseded_at
    oldest_live = now - ring.publication_window()
    gone = [kid for kid, since in superseded.items() if since <= oldest_live]
    deleted, _ = SigningKey.objects.filter(kid__in=gone).delete()
    return deleted


def _decryptable(row: SigningKey) -> bool:
    try:
        material.decrypt(row.private_key, row.kid)
    except material.UndecryptableKeyError:
        return False
    return True
