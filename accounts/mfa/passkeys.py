"""The rules of passkeys (WebAuthn Level 2, with py_webauthn). No HTTP here.

Each ceremony has two halves: its options (with a fresh challenge, which the caller keeps in the
browser's session, `Ceremony`) and the browser's answer, checked against that challenge, the
relying party (PASSKEY_RP_ID) and the origins (PASSKEY_ORIGINS), with user verification required.
A challenge is accepted once, by every host together (accounts.throttling.counters.first_use),
within CHALLENGE_SECONDS. Passkeys are discoverable credentials (resident keys): "Sign in with a
passkey" needs no username, and counts as two factors (something held, verified by a PIN or a
biometric): `amr` ["hwk", "mfa"] for a passkey bound to one device, ["swk", "mfa"] for one that
may be synced between devices (the authenticator's backup eligibility flag, which must never
change for a credential; no attestation is asked, so this is what the authenticator reports).

The authenticator's signature counter must go up at each use, unless it is 0 both before and now
(authenticators that keep none, such as synced passkeys): a use that does not is refused as a
cloned authenticator (WebAuthn §6.1.1), decided by one conditional UPDATE, so two uses that show
one counter cannot both pass.
"""

import json
import unicodedata
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
from webauthn.helpers import (
    base64url_to_bytes,
    bytes_to_base64url,
    decode_credential_public_key,
    decoded_public_key_to_cryptography,
    parse_authentication_credential_json,
    parse_registration_credential_json,
)
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    CredentialDeviceType,
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
CREDENTIAL_ID_LENGTH = 1023  # bytes at most (WebAuthn §5.1: credential IDs of up to 1023 bytes)
UNCHECKABLE = "The passkey could not be checked: try again."


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


def checked_name(user: User, name: object) -> str:
    """The name of a new passkey of `user`: 1 to NAME_LENGTH printable characters (spaces
    collapsed), not the name of another of theirs. Checked before the browser makes the key, so
    no key is left on the device for a name that is then refused."""
    name = " ".join(name.split()) if isinstance(name, str) else ""
    if (
        not name
        or len(name) > NAME_LENGTH
        or any(unicodedata.category(c) in ("Cc", "Cf", "Cs") for c in name)
    ):
        raise PasskeyRefused(f"Give the passkey a name of 1 to {NAME_LENGTH} characters.")
    if user.passkeys.filter(name=name).exists():
        raise PasskeyRefused(f"You already have a passkey named {name!r}: choose another name.")
    return name


def registration_options(user: User, *, now: datetime | None = None) -> Ceremony:
    """The options of navigator.credentials.create() for a new passkey of `user`: discoverable,
    user verification required, none of the user's passkeys again; the credProps extension asks
    the browser to say whether the key is discoverable."""
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
    return _ceremony(options, now, extensions={"credProps": True})


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


def _ceremony(options, now: datetime | None, *, extensions: dict | None = None) -> Ceremony:
    options_json = options_to_json(options)
    if extensions:
        options_json = json.dumps({**json.loads(options_json), "extensions": extensions})
    return Ceremony(
        options_json=options_json,
        challenge=bytes_to_base64url(options.challenge),
        started=int((now or clock.now()).timestamp()),
    )


def _spend(challenge: str, started: int, now: datetime) -> bytes:
    """The challenge's bytes, once: refused when it is too old or was answered already."""
    if now.timestamp() - started > CHALLENGE_SECONDS:
        raise PasskeyRefused("This took longer than 5 minutes: try again.")
    if not counters.first_use(json.dumps(["webauthn", challenge]), window=CHALLENGE_SECONDS, now=now):
        audit.event("passkey refused", reason="its challenge was answered before (a replay?)")
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
    name = checked_name(user, name)
    expected = _spend(challenge, started, now)
    try:
        credential = parse_registration_credential_json(_readable(answer))
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=expected,
            expected_rp_id=settings.PASSKEY_RP_ID,
            expected_origin=settings.PASSKEY_ORIGINS,
            require_user_verification=True,
        )
        # A key that cannot verify a signature is refused now, not at every sign-in later.
        decoded_public_key_to_cryptography(decode_credential_public_key(verified.credential_public_key))
    except PasskeyRefused:
        raise
    except Exception as e:  # the browser's answer is untrusted input: whatever fails in it, refused
        audit.event("passkey refused", user=user.pk, reason=f"{type(e).__name__}: {e}"[:200])
        raise PasskeyRefused(UNCHECKABLE) from e
    if len(verified.credential_id) > CREDENTIAL_ID_LENGTH:
        raise PasskeyRefused(UNCHECKABLE)
    extensions = json.loads(answer).get("clientExtensionResults")  # py_webauthn keeps none of them
    properties = extensions.get("credProps") if isinstance(extensions, dict) else None
    if isinstance(properties, dict) and properties.get("rk") is False:
        raise PasskeyRefused("This authenticator cannot keep a passkey (a discoverable key): use another.")
    transports = [
        t.value for t in credential.response.transports or [] if isinstance(t, AuthenticatorTransport)
    ]
    try:
        with transaction.atomic():
            factors.lock_factors(user)
            first = not factors.has_factor(user)
            passkey = Passkey.objects.create(
                user=user,
                name=name,
                credential_id=verified.credential_id,
                public_key=verified.credential_public_key,
                sign_count=verified.sign_count,
                multi_device=verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE,
                transports=transports[:8],
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
    except PasskeyRefused:
        raise
    except Exception as e:  # untrusted input: whatever fails in it, refused
        raise PasskeyRefused(UNCHECKABLE) from e
    expected = _spend(challenge, started, now)
    if len(credential.raw_id) > CREDENTIAL_ID_LENGTH:
        raise PasskeyRefused(UNCHECKABLE)
    passkeys = Passkey.objects.select_related("user").filter(
        credential_id=credential.raw_id, user__is_active=True
    )
    if user is not None:
        passkeys = passkeys.filter(user=user)
    passkey = passkeys.first()
    if passkey is None:
        audit.event("passkey refused", user=user.pk if user else None, reason="not registered here")
        raise PasskeyRefused("This passkey is not registered here (or was removed).")
    handle = credential.response.user_handle
    # WebAuthn §7.2 step 6: without a user named first, the user handle names the account.
    if (handle is None and user is None) or (
        handle is not None and bytes(handle) != passkey.user.public_id.bytes
    ):
        audit.event("passkey refused", user=passkey.user_id, passkey=passkey.pk, reason="its user handle")
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
    except Exception as e:  # untrusted input: whatever fails in it, refused
        audit.event(
            "passkey refused",
            user=passkey.user_id,
            passkey=passkey.pk,
            reason=f"{type(e).__name__}: {e}"[:200],
        )
        raise PasskeyRefused(UNCHECKABLE) from e
    multi_device = verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE
    if multi_device != passkey.multi_device:  # WebAuthn §6.1.3: backup eligibility never changes
        audit.event(
            "passkey refused",
            user=passkey.user_id,
            passkey=passkey.pk,
            reason="its backup eligibility changed",
        )
        raise PasskeyRefused(UNCHECKABLE)
    count = verified.new_sign_count
    used = Passkey.objects.filter(pk=passkey.pk)
    used = used.filter(sign_count__lt=count) if count > 0 else used.filter(sign_count=0)
    if not used.update(sign_count=count, last_used_at=now):
        if not Passkey.objects.filter(pk=passkey.pk).exists():  # removed meanwhile
            raise PasskeyRefused("This passkey is not registered here (or was removed).")
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
    return Proof(user=passkey.user, methods=(SWK if multi_device else HWK, MFA))


def remove(user: User, passkey_id: int) -> bool:
    """Remove one of `user`'s passkeys (the recovery codes go with the last factor)."""
    with transaction.atomic():
        factors.lock_factors(user)
        removed, _ = Passkey.objects.filter(user=user, pk=passkey_id).delete()
        factors.forget_recovery_codes_without_factor(user)
    if removed:
        audit.event("second factor removed", user=user.pk, kind="passkey", passkey=passkey_id)
    return bool(removed)
