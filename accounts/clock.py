"""The service's clock: the one place the rules read the time.

The service's rules read the time here (PyJWT's own `exp` and `iat` checks read the real time,
so a test that moves this clock does not expire a token or make a new one acceptable early):

    from accounts import clock

    clock.now()        # an aware UTC datetime: dates stored, compared, put in tokens
    clock.time()       # the same instant in seconds since the epoch (JWT `iat`, `exp`)
    clock.monotonic()  # for intervals within this process (reload and retry intervals)

Tests move the clock instead of patching django.utils.timezone.now, module globals or private
functions: the `clock` fixture of tests/conftest.py is this module, and puts it back after the
test. `advance(seconds)` moves all three readings together, so a rule that measures an
interval on monotonic() passes it exactly as a rule that compares dates does. Only this
process's clock moves: a server or command a test starts keeps the real time.

Until it is moved, each reading is the real one plus an offset of zero: one addition. now() is
built on django.utils.timezone.now, read at call time, so while some modules still call that
directly, a test that patches it still sees one time in all of them.
"""

import time as _time
from datetime import datetime, timedelta

from django.utils import timezone

_offset = 0.0  # seconds the clock has been moved ahead; changed only by advance() and reset()
_shift = timedelta(0)  # the same, ready to add to a datetime


def now() -> datetime:
    """The current time, an aware datetime in UTC."""
    return timezone.now() + _shift


def time() -> float:
    """The current time in seconds since the epoch: the instant now() returns."""
    return _time.time() + _offset


def monotonic() -> float:
    """A reading of a clock that never runs back, for intervals (time.monotonic(), moved as now())."""
    return _time.monotonic() + _offset


def advance(seconds: float) -> None:
    """For tests: move the clock `seconds` ahead (every reading). Raises ValueError when negative:
    monotonic() never runs back, and code measuring intervals relies on that."""
    global _offset, _shift
    if seconds < 0:
        raise ValueError("the clock only moves ahead")
    _offset += seconds
    _shift = timedelta(seconds=_offset)


def reset() -> None:
    """For tests: back to the real time."""
    global _offset, _shift
    _offset = 0.0
    _shift = timedelta(0)
