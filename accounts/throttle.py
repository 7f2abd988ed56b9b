"""Fixed-window counters shared by every server process: the throttling rules' memory.

Counters live in the database (a conditional UPDATE increments them, so concurrent requests
never lose a count), or in Redis when REDIS_URL is set (Django's Redis cache backend; INCR is
atomic). Names are hashed: no username or address is stored as such.
"""

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import caches
from django.db.models import Case, F, Value, When
from django.utils import timezone

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
    now = now or timezone.now()
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


def current(name: str, *, window: int, now: datetime | None = None) -> Count:
    """The counter `name` in its current window (0 when there is none)."""
    now = now or timezone.now()
    key = _key(name)
    if settings.REDIS_URL:
        cache = caches["throttle"]
        values = cache.get_many([key, f"{key}:start"])
        if key in values and f"{key}:start" in values:
            return Count(int(values[key]), datetime.fromtimestamp(values[f"{key}:start"], tz=now.tzinfo))
        return Count(0, now)
    row = ThrottleCounter.objects.filter(key=key, window_start__gt=now - timedelta(seconds=window)).first()
    return Count(row.count, row.window_start) if row else Count(0, now)


def clear(name: str) -> None:
    """Set the counter `name` back to zero."""
    key = _key(name)
    if settings.REDIS_URL:
        caches["throttle"].delete_many([key, f"{key}:start"])
    else:  # an UPDATE, not a DELETE: the next increment then finds its row
        ThrottleCounter.objects.filter(key=key).update(count=0)


def delete_expired(*, older_than: int, now: datetime | None = None) -> int:
    """Delete database counters whose window started more than `older_than` seconds ago."""
    now = now or timezone.now()
    deleted, _ = ThrottleCounter.objects.filter(
        window_start__lte=now - timedelta(seconds=older_than)
    ).delete()
    return deleted


def _key(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def _redis_increment(key: str, *, window: int, now: datetime) -> Count:
    cache = caches["throttle"]
    # add() is SET NX: of concurrent first requests, one starts the window; INCR is atomic.
    cache.add(f"{key}:start", now.timestamp(), timeout=window)
    cache.add(key, 0, timeout=window)
    try:
        value = cache.incr(key)
    except ValueError:  # expired between add and incr: start again
        cache.set(f"{key}:start", now.timestamp(), timeout=window)
        cache.set(key, 1, timeout=window)
        value = 1
    start = cache.get(f"{key}:start", now.timestamp())
    return Count(value, datetime.fromtimestamp(start, tz=now.tzinfo))
