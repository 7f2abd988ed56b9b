"""The rules of device authorization (RFC 8628). No HTTP here.

1. `start`: a client allowed the device_code grant asks for a device code and a user code
   (POST /device_authorization). The device code is 256 random bits, kept only as its SHA-256;
   the user code is 8 letters of the RFC's consonant alphabet (§6.1: no vowels, so no words),
   shown as XXXX-XXXX, kept without the dash and unique.
2. `find_pending` and `decide`: a signed-in person types the user code at /device (case, dashes
   and spaces ignored) and allows or denies. Every code typed is counted (accounts.throttling.
   policy.user_code_attempt) before it is looked up. The decision is a conditional UPDATE of a
   pending, unexpired row: a code is approved (or denied) once.
3. `poll`: the device polls /token. In this order: an unknown device code, another client's or
   one exchanged already is invalid_grant; an expired one expired_token; a poll before `next_poll_at` is slow_down and
   the interval grows by 5 s (§3.5); then pending is authorization_pending, denied
   access_denied, exchanged invalid_grant; an approved code is exchanged by a conditional UPDATE,
   so of concurrent polls exactly one gets the tokens (a session of the client, as the code
   grant's).
"""

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction

from accounts import audit, clock, services
from accounts.apis import scopes as api_scopes
from accounts.callers import Caller
from accounts.devices.models import DeviceAuthorization
from accounts.errors import (
    AccessDenied,
    AuthorizationPending,
    ExpiredToken,
    InvalidGrant,
    SlowDown,
    UnauthorizedClient,
)
from accounts.models import Session, User
from accounts.oauth.models import DEVICE_CODE, Client

USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"  # RFC 8628 §6.1
USER_CODE_LENGTH = 8
SLOW_DOWN_SECONDS = 5  # RFC 8628 §3.5
_TYPED = re.compile(rf"^[{USER_CODE_ALPHABET}]{{{USER_CODE_LENGTH}}}$")
_IGNORED = re.compile(r"[\s\-]")


@dataclass(frozen=True)
class Started:
    """What the device is told (RFC 8628 §3.2)."""

    device_code: str
    user_code: str  # as shown: XXXX-XXXX
    expires_in: int
    interval: int


def start(
    *, client: Client, scope: str | None, resource: str | None = None, now: datetime | None = None
) -> Started:
    """A new device authorization for `client` (of `scope`, for the API `resource` if any).
    Raises UnauthorizedClient for a client not allowed the device_code grant, and InvalidScope or
    InvalidTarget as /authorize does (accounts.apis.scopes.resolve)."""
    now = now or clock.now()
    if not client.may_use(DEVICE_CODE):
        raise UnauthorizedClient("This client may not use the device_code grant.")
    requested = api_scopes.resolve(client=client, scope=scope, resource=resource)
    lifetime = settings.DEVICE_CODE_LIFETIME_SECONDS
    interval = settings.DEVICE_CODE_INTERVAL_SECONDS
    device_code = secrets.token_urlsafe(32)
    for _ in range(5):  # a user code already taken (1 in 20^8 per row) draws another
        user_code = "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(USER_CODE_LENGTH))
        try:
            with transaction.atomic():
                DeviceAuthorization.objects.create(
                    device_code_hash=_hash(device_code),
                    user_code=user_code,
                    client=client,
                    scope=requested.scope,
                    resource=requested.resource,
                    created_at=now,
                    expires_at=now + timedelta(seconds=lifetime),
                    interval=interval,
                    next_poll_at=now,
                )
            break
        except IntegrityError:
            continue
    else:  # pragma: no cover - five collisions in a row: the table is full of live codes
        raise RuntimeError("no free user code")
    audit.event("device authorization started", client=client.client_id)
    return Started(device_code, shown(user_code), lifetime, interval)


def shown(user_code: str) -> str:
    return f"{user_code[:4]}-{user_code[4:]}"


def typed(user_code: str) -> str | None:
    """The user code a person typed, as stored (upper case, no dash or space), or None when it
    cannot be one."""
    normalized = _IGNORED.sub("", user_code or "").upper()
    return normalized if _TYPED.match(normalized) else None


def find_pending(user_code: str, *, now: datetime | None = None) -> DeviceAuthorization | None:
    """The pending, unexpired authorization of a typed user code, or None. (The caller counts
    the attempt first: accounts.throttling.policy.user_code_attempt.)"""
    stored = typed(user_code)
    if stored is None:
        return None
    return (
        DeviceAuthorization.objects.select_related("client")
        .filter(
            user_code=stored,
            status=DeviceAuthorization.Status.PENDING,
            expires_at__gt=now or clock.now(),
            client__is_active=True,
        )
        .first()
    )


def decide(
    authorization: DeviceAuthorization,
    *,
    user: User,
    allow: bool,
    auth_time: datetime,
    amr: tuple[str, ...],
    now: datetime | None = None,
) -> bool:
    """Approve (or deny) a pending authorization as `user`. False when it is no longer pending
    (decided meanwhile, in another tab) or has expired: nothing is changed then."""
    now = now or clock.now()
    status = DeviceAuthorization.Status.APPROVED if allow else DeviceAuthorization.Status.DENIED
    decided = DeviceAuthorization.objects.filter(
        pk=authorization.pk, status=DeviceAuthorization.Status.PENDING, expires_at__gt=now
    ).update(status=status, user=user, auth_time=auth_time, amr=list(amr))
    if decided:
        event = "device authorization approved" if allow else "device authorization denied"
        audit.event(event, user=user.pk, client=authorization.client_id)
    return bool(decided)


def poll(
    *, device_code: str, client: Client, caller: Caller, now: datetime | None = None
) -> services.IssuedTokens:
    """The device's poll of /token (RFC 8628 §3.4, §3.5): the tokens once, or the error to poll on."""
    now = now or clock.now()
    code_hash = _hash(device_code)
    record = DeviceAuthorization.objects.select_related("user").filter(device_code_hash=code_hash).first()
    if record is None or record.client_id != client.pk:
        raise InvalidGrant("The device_code is invalid.")
    if record.status == DeviceAuthorization.Status.EXCHANGED:
        raise InvalidGrant("The device_code was already used.")
    if record.expires_at <= now:
        raise ExpiredToken("The device_code has expired: start again at /device_authorization.")
    # On time: the next poll is due an interval from now. Too soon: slow_down, and the interval
    # grows for this and every later poll. One conditional UPDATE each: concurrent polls count.
    on_time = DeviceAuthorization.objects.filter(pk=record.pk, next_poll_at__lte=now).update(
        next_poll_at=now + timedelta(seconds=record.interval)
    )
    if not on_time:
        interval = record.interval + SLOW_DOWN_SECONDS
        DeviceAuthorization.objects.filter(pk=record.pk).update(
            interval=interval, next_poll_at=now + timedelta(seconds=interval)
        )
        raise SlowDown(f"Poll at most every {interval} seconds.")
    if record.status == DeviceAuthorization.Status.PENDING:
        raise AuthorizationPending("The user has not yet approved this device.")
    if record.status == DeviceAuthorization.Status.DENIED:
        raise AccessDenied("The user denied access.")
    if not record.user.is_active:
        raise InvalidGrant("The user is disabled.")
    issued = services.session_start_once(
        lambda session_id: DeviceAuthorization.objects.filter(
            pk=record.pk, status=DeviceAuthorization.Status.APPROVED
        ).update(status=DeviceAuthorization.Status.EXCHANGED, session_id=session_id),
        user=record.user,
        caller=caller,
        grant_type=Session.Grant.DEVICE_CODE,
        client=client,
        scope=record.scope,
        resource=record.resource,
        auth_time=record.auth_time,
        amr=record.amr,
        now=now,
    )
    if issued is None:  # a concurrent poll exchanged it first
        raise InvalidGrant("The device_code was already used.")
    audit.event("device code exchanged", user=record.user_id, ip=caller.ip_address, sid=issued.session.pk)
    return issued


def delete_expired(*, now: datetime | None = None) -> int:
    """Delete authorizations past their expiry: nothing reads them any more."""
    deleted, _ = DeviceAuthorization.objects.filter(expires_at__lte=now or clock.now()).delete()
    return deleted


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode("utf-8", errors="replace")).hexdigest()
