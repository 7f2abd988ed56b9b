"""Fixed-window counters shared by every server process: the throttling policy's memory.

Counters live in the database (a conditional UPDATE increments them, so concurrent requests
never lose a count), or in Redis when REDIS_URL is set (Django's Redis cache backend; INCR is
atomic; any Redis since 2.6.12). Names are hashed: no username or address is stored as such.
What is counted, and what the limits are, is accounts.throttling.policy's business.
"""

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import caches
from django.db import IntegrityError, transaction
from django.db.models import Case, F, Value, When

from accounts import clock
from accounts.models import ThrottleCounter


@dataclass(frozen=True)
class Count:
    value: int
    window_start: datetime

    def retry_after(self, *, window: int, now: datetime) -> int:
        """Whole seconds until this window has passed (at least 1)."""
        return max(1, math.ceil((self.window_start + timedelta(seconds=window) - now).total_seconds()))


def increment(name: str, *, window: int, now: datetime | None = None) -> Count:
    """Add one to the counter `name` (a new window starts when the last one has passed)."""
    now = now or clock.now()
    key = _key(name)
    if settings.REDIS_URL:
        return _redis_increment(key, window=window, now=now)
    cutoff = now - timedelta(seconds=window)
    bump = {
        "count": Case(When(window_start__lte=cutoff, then=Value(1)), default=F("count") + 1),
        "window_start": Case(When(window_start__lte=cutoff, then=Value(now)), default=F("window_start")),
    }
    if not ThrottleCounter.objects.filter(key=key).update(**bump):
        # First count: create the row (or find that a concurrent request just did), then bump.
        ThrottleCounter.objects.bulk_create(
            [ThrottleCounter(key=key, window_start=now, count=0)], ignore_conflicts=True
        )
        ThrottleCounter.objects.filter(key=key).update(**bump)
    # No transaction needed: a concurrent increment committed in between can only make this read
    # higher than our own count, so the limit is never exceeded, only reached a little sooner.
    row = ThrottleCounter.objects.get(key=key)
    return Count(row.count, row.window_start)


def first_use(name: str, *, window: int, now: datetime | None = None) -> bool:
    """Whether this is the first use of `name` within `window` seconds: True for exactly one of
    any number of concurrent callers (a replay cache: a challenge, a `jti` accepted once)."""
    now = now or clock.now()
    key = _key(name)
    if settings.REDIS_URL:
        client, redis_key = _redis(key)
        return bool(client.set(redis_key, 1, ex=window, nx=True))
    # The primary key decides: one INSERT wins. A row of a past window is taken over by one
    # conditional UPDATE.
    try:
        with transaction.atomic():
            ThrottleCounter.objects.create(key=key, window_start=now, count=1)
        return True
    except IntegrityError:
        cutoff = now - timedelta(seconds=window)
        return bool(
            ThrottleCounter.objects.filter(key=key, window_start__lte=cutoff).update(
                window_start=now, count=1
            )
        )


def current(name: str, *, window: int, now: datetime | None = None) -> Count:
    """The counter `name` in its current window (0 when there is none)."""
    now = now or clock.now()
    key = _key(name)
    if settings.REDIS_URL:
        client, redis_key = _redis(key)
        with client.pipeline(transaction=True) as pipe:
            value, ttl = pipe.get(redis_key).ttl(redis_key).execute()
        if value is None or ttl < 0:
            return Count(0, now)
        return Count(int(value), _window_start(ttl, window=window, now=now))
    row = ThrottleCounter.objects.filter(key=key, window_start__gt=now - timedelta(seconds=window)).first()
    return Count(row.count, row.window_start) if row else Count(0, now)


def clear(name: str) -> None:
    """Set the counter `name` back to zero."""
    key = _key(name)
    if settings.REDIS_URL:
        client, redis_key = _redis(key)
        client.delete(redis_key)
    else:  # an UPDATE, not a DELETE: the next increment then finds its row
        ThrottleCounter.objects.filter(key=key).update(count=0)


def delete_expired(*, older_than: int, now: datetime | None = None) -> int:
    """Delete database counters whose window started more than `older_than` seconds ago."""
    now = now or clock.now()
    deleted, _ = ThrottleCounter.objects.filter(
        window_start__lte=now - timedelta(seconds=older_than)
    ).delete()
    return deleted


def _key(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def _redis(key: str):
    """The Redis client and the full key of Django's "throttle" cache."""
    cache = caches["throttle"]
    redis_key = cache.make_and_validate_key(key)
    return cache._cache.get_client(redis_key, write=True), redis_key


def _redis_increment(key: str, *, window: int, now: datetime) -> Count:
    # One MULTI/EXEC, executed atomically: SET ... NX EX creates the key with its expiry only when
    # it is missing, then INCR counts (keeping that expiry). The window starts with the first
    # count and a key is never left without an expiry (Django's cache.incr is EXISTS then INCR:
    # a key expiring in between came back immortal). SET NX EX needs Redis 2.6.12, not 7.0's
    # EXPIRE NX.
    client, redis_key = _redis(key)
    with client.pipeline(transaction=True) as pipe:
        _, value, ttl = pipe.set(redis_key, 0, ex=window, nx=True).incr(redis_key).ttl(redis_key).execute()
    return Count(int(value), _window_start(ttl, window=window, now=now))


def _window_start(ttl: int, *, window: int, now: datetime) -> datetime:
    return now - timedelta(seconds=window - max(ttl, 0))
