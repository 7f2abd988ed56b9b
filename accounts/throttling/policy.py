"""The throttling policy: which counters, which limits, what a block says. No HTTP here.

Only failed sign-ins are counted (wrong credentials, RFC-less but the contract's rule):
- per client address and username (case-insensitive): LOGIN_FAILURE_LIMIT failures within
  LOGIN_FAILURE_WINDOW_SECONDS block that pair, even with the right password, until the window
  passes. Other users and other addresses are not blocked by it.
- per client address alone, for every username: only when the operator turns it on
  (IP_FAILURE_LIMIT > 0), because many users share an address (NAT, a company proxy).
Refused tokens or codes are never counted: they prove nothing about a password.

An IPv6 client is counted per network of THROTTLE_IPV6_PREFIX bits (a /64 by default: one
subscriber's whole allocation), not per address, which it could change for every guess. A caller
whose address is unknown is never put in one bucket with every other such caller: its failures
count per username alone.
"""

import ipaddress
import json
import logging
from datetime import datetime

from django.conf import settings

from accounts import audit, clock
from accounts.callers import Caller
from accounts.errors import TooManyAttempts, TooManyRequests
from accounts.throttling import counters

logger = logging.getLogger("accounts.throttling")


def address_bucket(ip_address: str | None) -> str | None:
    """The address a caller is counted under: an IPv4 address, an IPv6 network, or None (unknown)."""
    if ip_address is None:
        return None
    address = ipaddress.ip_address(ip_address)
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.ip_network(f"{address}/{settings.THROTTLE_IPV6_PREFIX}", strict=False))
    return str(address)


def sign_in_attempt(*, caller: Caller, username: str, now: datetime | None = None) -> None:
    """Count one sign-in attempt before its password is checked.

    Raises TooManyAttempts while this caller's address (or, when turned on, the address alone)
    is blocked. Counting before the check means that concurrent guesses cannot slip past the
    limit; a success clears the count again (`sign_in_succeeded`).
    """
    now = now or clock.now()
    bucket = address_bucket(caller.ip_address)
    if bucket is None:
        logger.warning(
            "client address unknown: failures count per username alone (set TRUSTED_PROXIES, e.g. "
            "'unix' behind a proxy on a unix socket)"
        )
    if settings.IP_FAILURE_LIMIT and bucket is not None:
        window = settings.IP_FAILURE_WINDOW_SECONDS
        failures = counters.current(_address_counter(bucket), window=window, now=now)
        if failures.value >= settings.IP_FAILURE_LIMIT:
            _refuse(failures.retry_after(window=window, now=now), caller=caller, username=username)
    window = settings.LOGIN_FAILURE_WINDOW_SECONDS
    attempts = counters.increment(_pair_counter(bucket, username), window=window, now=now)
    if attempts.value > settings.LOGIN_FAILURE_LIMIT:
        _refuse(attempts.retry_after(window=window, now=now), caller=caller, username=username)


def sign_in_failed(*, caller: Caller, username: str, now: datetime | None = None) -> None:
    """Record a failed sign-in (already counted per pair by `sign_in_attempt`)."""
    bucket = address_bucket(caller.ip_address)
    if settings.IP_FAILURE_LIMIT and bucket is not None:
        counters.increment(_address_counter(bucket), window=settings.IP_FAILURE_WINDOW_SECONDS, now=now)
    # The username only when it names a user: a password typed into the username field must not
    # reach the log.
    audit.event("login failed", ip=caller.ip_address)


def sign_in_succeeded(*, caller: Caller, username: str) -> None:
    """Clear the pair's count: a successful sign-in ends its run of failures."""
    counters.clear(_pair_counter(address_bucket(caller.ip_address), username))


def email_request(*, caller: Caller, email: str, now: datetime | None = None) -> None:
    """Count one request that sends an email (a sign-up, a new verification link, a password
    reset, an email change) per email address and per client address; raises TooManyRequests
    beyond EMAIL_REQUEST_LIMIT for the address or EMAIL_REQUEST_IP_LIMIT for the client within
    EMAIL_REQUEST_WINDOW_SECONDS. Counted whether or not the address has an account, so the
    answers say nothing of it."""
    now = now or clock.now()
    window = settings.EMAIL_REQUEST_WINDOW_SECONDS
    limits = [(json.dumps(["email", email.strip().lower()]), settings.EMAIL_REQUEST_LIMIT)]
    bucket = address_bucket(caller.ip_address)
    if bucket is not None:
        limits.append((json.dumps(["email-ip", bucket]), settings.EMAIL_REQUEST_IP_LIMIT))
    for name, limit in limits:
        retry_after = _over_limit(name, limit=limit, window=window, now=now)
        if retry_after is not None:
            audit.event("email requests throttled", ip=caller.ip_address, retry_after=retry_after)
            raise TooManyRequests(retry_after)


def user_code_attempt(*, caller: Caller, user_id: int, now: datetime | None = None) -> None:
    """Count one user code typed at /device (RFC 8628 §5.1: guessing must be rate-limited), per
    signed-in user and per client address, before it is looked up, so concurrent guesses cannot
    slip past the limit. Raises TooManyAttempts beyond DEVICE_USER_CODE_LIMIT within
    DEVICE_USER_CODE_WINDOW_SECONDS; a right code counts too (a person approves a few devices)."""
    now = now or clock.now()
    window = settings.DEVICE_USER_CODE_WINDOW_SECONDS
    names = [json.dumps(["user-code", user_id])]
    bucket = address_bucket(caller.ip_address)
    if bucket is not None:
        names.append(json.dumps(["user-code-ip", bucket]))
    for name in names:
        retry_after = _over_limit(name, limit=settings.DEVICE_USER_CODE_LIMIT, window=window, now=now)
        if retry_after is not None:
            audit.event("user codes throttled", user=user_id, ip=caller.ip_address, retry_after=retry_after)
            raise TooManyAttempts(retry_after)


def stored_request(*, caller: Caller, kind: str, now: datetime | None = None) -> None:
    """Count one request that makes the service keep a row for a client before anyone signed in
    (a pushed authorization request, a device authorization: `kind`), per client address;
    raises TooManyRequests beyond STORED_REQUEST_LIMIT within STORED_REQUEST_WINDOW_SECONDS, so a
    public client_id cannot be used to fill the database. An unknown address is not counted."""
    bucket = address_bucket(caller.ip_address)
    if bucket is None:
        return
    retry_after = _over_limit(
        json.dumps(["stored", kind, bucket]),
        limit=settings.STORED_REQUEST_LIMIT,
        window=settings.STORED_REQUEST_WINDOW_SECONDS,
        now=now or clock.now(),
    )
    if retry_after is not None:
        audit.event("stored requests throttled", kind=kind, ip=caller.ip_address, retry_after=retry_after)
        raise TooManyRequests(retry_after)


def _over_limit(name: str, *, limit: int, window: int, now: datetime) -> int | None:
    """Count one on the counter `name`: the seconds until its window passes when that took it
    beyond `limit`, else None (the one rule of every request counter here)."""
    count = counters.increment(name, window=window, now=now)
    return count.retry_after(window=window, now=now) if count.value > limit else None


def counter_windows() -> int:
    """The longest window of any counter: older counters can be deleted."""
    from accounts.mfa.passkeys import CHALLENGE_SECONDS  # the replay cache's window (counters.first_use)

    return max(
        settings.LOGIN_FAILURE_WINDOW_SECONDS,
        settings.IP_FAILURE_WINDOW_SECONDS,
        settings.EMAIL_REQUEST_WINDOW_SECONDS,
        settings.DEVICE_USER_CODE_WINDOW_SECONDS,
        settings.STORED_REQUEST_WINDOW_SECONDS,
        CHALLENGE_SECONDS,
    )


def _refuse(retry_after: int, *, caller: Caller, username: str) -> None:
    audit.event("login throttled", ip=caller.ip_address, retry_after=retry_after)
    raise TooManyAttempts(retry_after)


def _pair_counter(bucket: str | None, username: str) -> str:
    # JSON: unambiguous whatever the username holds (IPv6 colons included).
    return json.dumps(["login", bucket, username.lower()])


def _address_counter(bucket: str) -> str:
    return json.dumps(["ip", bucket])
