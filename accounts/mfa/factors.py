"""The rules of second factors. No HTTP here.

TOTP (RFC 6238 with pyotp: SHA-1, 6 digits, 30 s steps, one step of skew either way); each
accepted code moves the device's `last_step` forward in one conditional UPDATE, so a code (or an
older one) never works twice, even when presented by concurrent requests. Recovery codes: 10,
shown once, stored as keyed HMACs, each spent by one conditional UPDATE. Wrong codes are counted
per user like failed passwords (accounts.throttling): beyond LOGIN_FAILURE_LIMIT within
LOGIN_FAILURE_WINDOW_SECONDS, 429 until the window passes.
"""

import base64
import json
import secrets
from dataclasses import dataclass
from datetime import datetime

import pyotp
import segno
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils.crypto import constant_time_compare, salted_hmac

from accounts import audit, clock
from accounts.errors import TooManyAttempts
from accounts.mfa.models import Passkey, RecoveryCode, TotpDevice
from accounts.models import User
from accounts.signin import methods as signin_methods
from accounts.throttling import counters

OTP, MFA = signin_methods.OTP, signin_methods.MFA  # what a right code adds to `amr`
RECOVERY_CODES = 10
SKEW_STEPS = 1


def _fernet() -> MultiFernet:
    keys = [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]
    return MultiFernet(
        [
            Fernet(
                base64.urlsafe_b64encode(
                    salted_hmac("accounts.mfa.totp", "key", secret=key, algorithm="sha256").digest()
                )
            )
            for key in keys
        ]
    )


def _secret(device: TotpDevice) -> str:
    return _fernet().decrypt(device.secret.encode()).decode()


def lock_factors(user: User) -> None:
    """One change of `user`'s factors at a time (in the caller's transaction): the user's row is
    locked first by every path that adds or removes one, so concurrent changes queue, never
    deadlock."""
    User.objects.select_for_update().filter(pk=user.pk).first()


def has_totp(user: User) -> bool:
    """Whether `user` has a confirmed authenticator app."""
    return TotpDevice.objects.filter(user=user, confirmed_at__isnull=False).exists()


def has_factor(user: User) -> bool:
    """Whether a sign-in of `user` needs a second step (a confirmed authenticator app or a
    passkey): one query."""
    return User.objects.filter(
        Q(totp_device__confirmed_at__isnull=False) | Q(passkeys__isnull=False), pk=user.pk
    ).exists()


@dataclass(frozen=True)
class Enrolment:
    """An authenticator app being set up: its secret as text and as a QR code (inline SVG)."""

    secret: str
    uri: str

    @property
    def qr_svg(self) -> str:
        return segno.make(self.uri, error="m").svg_inline(scale=5, dark="#1a1a1a", light="#ffffff")


def totp_begin(user: User, *, now: datetime | None = None) -> Enrolment:
    """A new secret for `user`'s authenticator app, off until confirmed (replacing an unconfirmed
    one; a confirmed app stays until removed)."""
    now = now or clock.now()
    secret = pyotp.random_base32()
    with transaction.atomic():
        lock_factors(user)
        if has_totp(user):
            raise ValueError("an authenticator app is already on")
        TotpDevice.objects.update_or_create(
            user=user,
            defaults={
                "secret": _fernet().encrypt(secret.encode()).decode(),
                "created_at": now,
                "confirmed_at": None,
                "last_step": None,
            },
        )
    return enrolment(user)


def enrolment(user: User) -> Enrolment | None:
    """The unconfirmed authenticator app's secret, to show again (None once confirmed or absent)."""
    device = TotpDevice.objects.filter(user=user, confirmed_at__isnull=True).first()
    if device is None:
        return None
    try:
        secret = _secret(device)
    except InvalidToken:  # encrypted under a secret key that is gone: begin again
        device.delete()
        return None
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.get_username(), issuer_name=settings.SERVICE_NAME)
    return Enrolment(secret=secret, uri=uri)


def _matching_step(secret: str, code: str, now: datetime) -> int | None:
    code = code.strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for step in range(current - SKEW_STEPS, current + SKEW_STEPS + 1):
        if constant_time_compare(totp.generate_otp(step), code):
            return step
    return None


def totp_confirm(user: User, code: str, *, now: datetime | None = None) -> list[str] | None:
    """Turn the authenticator app on with its first code: returns the new recovery codes (shown
    once; [] when a passkey came first and its codes stay), or None when the code is wrong."""
    now = now or clock.now()
    with transaction.atomic():
        lock_factors(user)
        first = not has_factor(user)
        device = TotpDevice.objects.select_for_update().filter(user=user, confirmed_at__isnull=True).first()
        if device is None:
            return None
        try:
            step = _matching_step(_secret(device), code, now)
        except InvalidToken:
            return None
        if step is None:
            return None
        device.confirmed_at, device.last_step, device.last_used_at = now, step, now
        device.save(update_fields=["confirmed_at", "last_step", "last_used_at"])
        codes = issue_recovery_codes(user, now=now) if first else []
    audit.event("second factor enrolled", user=user.pk, kind="totp")
    return codes


def totp_remove(user: User) -> bool:
    """Remove the authenticator app (the recovery codes go with the last factor)."""
    with transaction.atomic():
        lock_factors(user)
        removed, _ = TotpDevice.objects.filter(user=user).delete()
        forget_recovery_codes_without_factor(user)
    if removed:
        audit.event("second factor removed", user=user.pk, kind="totp")
    return bool(removed)


def _digest(code: str, *, secret: str | None = None) -> str:
    normalized = code.strip().lower().replace("-", "").replace(" ", "")
    return salted_hmac("accounts.mfa.recovery", normalized, secret=secret, algorithm="sha256").hexdigest()


def _digests(code: str) -> list[str]:
    """The code's digest under SECRET_KEY and each of SECRET_KEY_FALLBACKS (a rotation keeps codes)."""
    return [_digest(code, secret=key) for key in (settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS)]


def forget_recovery_codes_without_factor(user: User) -> None:
    """Recovery codes stand in for a factor: with none left, they go too (in the caller's
    transaction, after lock_factors)."""
    if not has_factor(user):
        RecoveryCode.objects.filter(user=user).delete()


def issue_recovery_codes(user: User, *, now: datetime) -> list[str]:
    """New recovery codes for `user`, replacing any (in the caller's transaction)."""
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = base64.b32encode(secrets.token_bytes(7)).decode().lower()[:10]  # 50 bits
        codes.append(f"{raw[:5]}-{raw[5:]}")
    RecoveryCode.objects.filter(user=user).delete()
    RecoveryCode.objects.bulk_create(
        [RecoveryCode(user=user, digest=_digest(code), created_at=now) for code in codes]
    )
    return codes


def recovery_codes_regenerate(user: User, *, now: datetime | None = None) -> list[str]:
    """New recovery codes (the old ones stop working); only with a factor on."""
    if not has_factor(user):
        raise ValueError("no second factor is on")
    with transaction.atomic():
        lock_factors(user)
        codes = issue_recovery_codes(user, now=now or clock.now())
    audit.event("recovery codes regenerated", user=user.pk)
    return codes


def recovery_codes_left(user: User) -> int:
    return RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()


def _counter(user: User) -> str:
    return json.dumps(["otp", user.pk])


def verify(user: User, code: str, *, now: datetime | None = None) -> bool:
    """A TOTP code (each step once) or a recovery code (each code once) of `user`'s.

    Raises TooManyAttempts while this user's wrong codes are over the limit (counted before the
    check, so concurrent guesses cannot slip past it; a right code clears the count).
    """
    now = now or clock.now()
    window = settings.LOGIN_FAILURE_WINDOW_SECONDS
    attempts = counters.increment(_counter(user), window=window, now=now)
    if attempts.value > settings.LOGIN_FAILURE_LIMIT:
        audit.event("second factor throttled", user=user.pk)
        raise TooManyAttempts(attempts.retry_after(window=window, now=now))
    proven = _totp(user, code, now) or _recovery(user, code, now)
    if proven:
        counters.clear(_counter(user))
    else:
        audit.event("second factor failed", user=user.pk)
    return proven


def _totp(user: User, code: str, now: datetime) -> bool:
    device = TotpDevice.objects.filter(user=user, confirmed_at__isnull=False).first()
    if device is None:
        return False
    try:
        step = _matching_step(_secret(device), code, now)
    except InvalidToken:  # a secret key rotated without its fallback: the app must be set up again
        return False
    if step is None:
        return False
    return bool(
        TotpDevice.objects.filter(pk=device.pk)
        .filter(Q(last_step__isnull=True) | Q(last_step__lt=step))
        .update(last_step=step, last_used_at=now)
    )


def _recovery(user: User, code: str, now: datetime) -> bool:
    if not code or len(code) > 64:
        return False
    spent = RecoveryCode.objects.filter(user=user, digest__in=_digests(code), used_at__isnull=True).update(
        used_at=now
    )
    if spent:
        audit.event("recovery code used", user=user.pk)
    return bool(spent)


def admin_reset(users, *, admin: User) -> int:
    """The administrator `admin` turns the second factors of `users` off: authenticator app,
    passkeys and recovery codes (they set them up again)."""
    reset = 0
    for user in users:
        with transaction.atomic():
            lock_factors(user)
            passkeys, _ = Passkey.objects.filter(user=user).delete()
            app = totp_remove(user)
        if app or passkeys:
            audit.event("second factors reset by an administrator", user=user.pk, admin=admin.pk)
            reset += 1
    return reset
