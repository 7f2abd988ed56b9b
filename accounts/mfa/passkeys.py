"""The rules of passkeys (WebAuthn Level 2, with py_webauthn). No HTTP here.

Each ceremony has two halves: its options (with a fresh challenge, which the caller keeps in the
browser's session, `Ceremony`) and the browser's answer, checked against that challenge, the
relying party (PASSKEY_RP_ID) and the origins (PASSKEY_ORIGINS), with user verification required.
A challenge is accepted once, by every host together (accounts.throttling.counters.first_use),
within CHALLENGE_SECONDS. Passkeys are discoverable credentials (resident keys): "Sign in with a
passkey" needs no username, and counts as two factors (something held, verified by a PIN or a
biometric): `amr` ["hwk", "mfa"], or ["swk", "mfa"] for a passkey synced between devices.

The authenticator's signature counter must go up at each use, unless it is 0 both before and now
(authenticators that keep none, such as synced passkeys): a use that does not is refused as a
cloned authenticator (WebAuthn §6.1.1), decided by one conditional UPDATE, so two uses that show
one counter cannot both pass.
"""

import json
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url, parse_authentication_credential_json
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from accounts import audit, clock
from accounts.mfa import factors
from accounts.mfa.models import Passkey
from accounts.models import User
from accounts.signin.methods import HWK, MFA, SWK, Proof
from accounts.throttling import counters

CHALLENGE_SECONDS = 300  # how long a ceremony may take, options to answer
NAME_LENGTH = 64
ANSWER_LENGTH = 16 * 1024  # a browser's answer is a few kB; a longer one is not read


class PasskeyRefused(Exception):
    """The browser's answer proves nothing; `reason` says why, for the person."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Ceremony:
    """The options for the browser (JSON for navigator.credentials), and what the answer is
    checked against: the challenge (base64url) and when it was issued (epoch seconds)."""

    options_json: str
    challenge: str
    started: int


def _descriptor(passkey: Passkey) -> PublicKeyCredentialDescriptor:
    transports = []
    for name in passkey.transports:
        try:
            transports.append(AuthenticatorTransport(name))
        except ValueError:  # a transport this library does not know yet: the browser will try all
            continue
    return PublicKeyCredentialDescriptor(id=bytes(passkey.credential_id), transports=transports or None)


def registration_options(user: User, *, now: datetime | None = None) -> Ceremony:
    """The options of navigator.credentials.create() for a new passkey of `user`: discoverable,
    user verification required, none of the user's passkeys again."""
    options = generate_registration_options(
        rp_id=settings.PASSKEY_RP_ID,
        rp_name=settings.SERVICE_NAME,
        user_name=user.get_username(),
        user_id=user.public_id.bytes,  # the user handle: the `sub`, never a name or an address
        user_display_name=user.full_name or user.get_username(),
        timeout=CHALLENGE_SECONDS * 1000,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=[_descriptor(passkey) for passkey in user.passkeys.all()],
    )
    return _ceremony(options, now)


def authentication_options(user: User | None = None, *, now: datetime | None = None) -> Ceremony:
    """The options of navigator.credentials.get(): any discoverable passkey of this service, or
    only `user`'s (the second step of a sign-in that knows whose it is)."""
    options = generate_authentication_options(
        rp_id=settings.PASSKEY_RP_ID,
        timeout=CHALLENGE_SECONDS * 1000,
        allow_credentials=[_descriptor(passkey) for passkey in user.passkeys.all()] if user else [],
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    return _ceremony(options, now)


def _ceremony(options, now: datetime | None) -> Ceremony:
    return Ceremony(
        options_json=options_to_json(options),
        challenge=bytes_to_base64url(options.challenge),
        started=int((now or clock.now()).timestamp()),
    )


def _spend(challenge: str, started: int, now: datetime) -> bytes:
    """The challenge's bytes, once: refused when it is too old or was answered already."""
    if now.timestamp() - started > CHALLENGE_SECONDS:
        raise PasskeyRefused("This took longer than 5 minutes: try again.")
    if not counters.first_use(json.dumps(["webauthn", challenge]), window=CHALLENGE_SECONDS, now=now):
        raise PasskeyRefused("This passkey answer was already used: try again.")
    return base64url_to_bytes(challenge)


def _readable(answer: str) -> str:
    if not isinstance(answer, str) or not answer or len(answer) > ANSWER_LENGTH:
        raise PasskeyRefused("The browser gave no passkey: try again.")
    return answer


def register(
    user: User, *, name: str, answer: str, challenge: str, started: int, now: datetime | None = None
) -> tuple[Passkey, list[str]]:
    """Add the passkey of the browser's `answer` (navigator.credentials.create()'s, as JSON) to
    `user`, named `name`. Returns it and, when it is the user's first factor, the new recovery
    codes (shown once; else []). Raises PasskeyRefused."""
    now = now or clock.now()
    name = " ".join((name or "").split())
    if not name or len(name) > NAME_LENGTH:
        raise PasskeyRefused(f"Give the passkey a name of 1 to {NAME_LENGTH} characters.")
    expected = _spend(challenge, started, now)
    try:
        verified = verify_registration_response(
            credential=_readable(answer),
            expected_challenge=expected,
            expected_rp_id=settings.PASSKEY_RP_ID,
            expected_origin=settings.PASSKEY_ORIGINS,
            require_user_verification=True,
        )
        transports = json.loads(answer).get("response", {}).get("transports") or []
    except (WebAuthnException, ValueError, TypeError, KeyError, AttributeError) as e:
        audit.event("passkey refused", user=user.pk, reason=str(e)[:200])
        raise PasskeyRefused("The passkey could not be checked: try again.") from e
    try:
        with transaction.atomic():
            User.objects.select_for_update().filter(pk=user.pk).first()  # one change of factors at a time
            first = not factors.has_factor(user)
            passkey = Passkey.objects.create(
                user=user,
                name=name,
                credential_id=verified.credential_id,
                public_key=verified.credential_public_key,
                sign_count=verified.sign_count,
                backed_up=verified.credential_backed_up,
                transports=[str(t) for t in transports if isinstance(t, str)][:8],
                aaguid=str(verified.aaguid)[:36],
                created_at=now,
            )
            codes = factors.issue_recovery_codes(user, now=now) if first else []
    except IntegrityError as e:
        if Passkey.objects.filter(credential_id=verified.credential_id).exists():
            raise PasskeyRefused("This passkey is already registered.") from e
        raise PasskeyRefused(f"You already have a passkey named {name!r}: choose another name.") from e
    audit.event("second factor enrolled", user=user.pk, kind="passkey", passkey=passkey.pk)
    return passkey, codes


def authenticate(
    answer: str, *, challenge: str, started: int, user: User | None = None, now: datetime | None = None
) -> Proof:
    """The user whose passkey signed the browser's `answer` (navigator.credentials.get()'s, as
    JSON), only `user`'s when given. Raises PasskeyRefused."""
    now = now or clock.now()
    try:
        credential = parse_authentication_credential_json(_readable(answer))
    except (WebAuthnException, ValueError, TypeError, KeyError, AttributeError) as e:
        raise PasskeyRefused("The passkey could not be checked: try again.") from e
    passkeys = Passkey.objects.select_related("user").filter(
        credential_id=credential.raw_id, user__is_active=True
    )
    if user is not None:
        passkeys = passkeys.filter(user=user)
    passkey = passkeys.first()
    expected = _spend(challenge, started, now)
    if passkey is None:
        raise PasskeyRefused("This passkey is not registered here (or was removed).")
    handle = credential.response.user_handle
    if handle is not None and bytes(handle) != passkey.user.public_id.bytes:
        raise PasskeyRefused("This passkey belongs to another account.")
    try:
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=expected,
            expected_rp_id=settings.PASSKEY_RP_ID,
            expected_origin=settings.PASSKEY_ORIGINS,
            credential_public_key=bytes(passkey.public_key),
            credential_current_sign_count=0,  # the counter's rule is decided below, in the database
            require_user_verification=True,
        )
    except (WebAuthnException, ValueError, TypeError, KeyError, AttributeError) as e:
        audit.event("passkey refused", user=passkey.user_id, passkey=passkey.pk, reason=str(e)[:200])
        raise PasskeyRefused("The passkey could not be checked: try again.") from e
    count = verified.new_sign_count
    used = Passkey.objects.filter(pk=passkey.pk)
    used = used.filter(sign_count__lt=count) if count > 0 else used.filter(sign_count=0)
    if not used.update(sign_count=count, last_used_at=now, backed_up=verified.credential_backed_up):
        audit.event(
            "passkey refused: its signature counter went back (a cloned authenticator?)",
            user=passkey.user_id,
            passkey=passkey.pk,
            sign_count=count,
        )
        raise PasskeyRefused(
            "This passkey's authenticator may have been copied: it was refused. "
            "Sign in another way and check your passkeys."
        )
    audit.event("passkey used", user=passkey.user_id, passkey=passkey.pk)
    return Proof(user=passkey.user, methods=(SWK if verified.credential_backed_up else HWK, MFA))


def remove(user: User, passkey_id: int) -> bool:
    """Remove one of `user`'s passkeys (the recovery codes go with the last factor)."""
    with transaction.atomic():
        removed, _ = Passkey.objects.filter(user=user, pk=passkey_id).delete()
        factors.forget_recovery_codes_without_factor(user)
    if removed:
        audit.event("second factor removed", user=user.pk, kind="passkey", passkey=passkey_id)
    return bool(removed)
