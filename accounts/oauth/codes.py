"""Authorization codes (RFC 6749 §4.1, RFC 7636): issued by /authorize, exchanged once at /token.

A code is 256 random bits, kept only as its SHA-256, and bound to its client, redirect_uri,
code_challenge, scope, nonce, user and sign-in time. The exchange is decided by the database: a
conditional UPDATE marks the code exchanged, so of many requests presenting it at once exactly one
wins. A failed exchange changes nothing. A code presented again after its exchange, by its own
client with the right verifier, is a replay: it revokes the session the exchange started
(RFC 6749 §4.1.2); with a wrong verifier or from another client it revokes nothing.
"""

import base64
import hashlib
import re
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.utils.crypto import constant_time_compare

from accounts import audit, clock, services
from accounts.callers import Caller
from accounts.errors import InvalidGrant, InvalidTarget
from accounts.models import Session, User
from accounts.oauth.models import AuthorizationCode, Client

CODE_VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
CODE_CHALLENGE = re.compile(r"^[A-Za-z0-9\-_]{43}$")


def code_issue(
    *,
    client: Client,
    user: User,
    redirect_uri: str,
    code_challenge: str,
    scope: str,
    nonce: str,
    auth_time: datetime,
    resource: str = "",
    amr: list[str] = (),
    now: datetime | None = None,
) -> str:
    """A new authorization code for these bindings (returned once; only its hash is stored)."""
    now = now or clock.now()
    code = secrets.token_urlsafe(32)
    AuthorizationCode.objects.create(
        code_hash=_hash(code),
        client=client,
        user=user,
        redirect_uri=redirect_uri,
        code_challenge=code_challenge,
        scope=scope,
        resource=resource,
        nonce=nonce,
        auth_time=auth_time,
        amr=list(amr),
        created_at=now,
        expires_at=now + timedelta(seconds=settings.AUTHORIZATION_CODE_LIFETIME_SECONDS),
    )
    return code


def code_exchange(
    *,
    code: str,
    client: Client,
    redirect_uri: str,
    code_verifier: str,
    caller: Caller,
    resource: str | None = None,
    now: datetime | None = None,
) -> services.IssuedTokens:
    """Exchange `code` for the first token pair of a new session of `client`.

    Raises InvalidGrant for a code that is unknown, expired, already exchanged (a replay, which
    revokes that exchange's session when the client and verifier are right), of another client or
    redirect_uri, a verifier that does not match the challenge, or a user disabled since.
    """
    now = now or clock.now()
    code_hash = _hash(code)
    record = AuthorizationCode.objects.select_related("user").filter(code_hash=code_hash).first()
    if record is None or record.client_id != client.pk:
        raise InvalidGrant("The authorization code is invalid.")
    proven = verifier_matches(code_verifier, record.code_challenge)
    if record.exchanged_at is not None:
        _replayed(record, proven=proven, now=now)
    if record.expires_at <= now:
        raise InvalidGrant("The authorization code has expired.")
    if record.redirect_uri != redirect_uri:
        raise InvalidGrant("The redirect_uri is not the one of the authorization request.")
    if not proven:
        raise InvalidGrant("The code_verifier does not match the code_challenge.")
    if resource is not None and resource != record.resource:  # RFC 8707 §2.2: the same one, if sent
        raise InvalidTarget("The resource is not the one of the authorization request.")
    if not record.user.is_active:
        raise InvalidGrant("The user is disabled.")
    # The decision: one conditional UPDATE, which also names the session the exchange starts.
    # Of concurrent exchanges, one matches the row.
    issued = services.session_start_once(
        lambda session_id: AuthorizationCode.objects.filter(
            code_hash=code_hash, exchanged_at__isnull=True
        ).update(exchanged_at=now, session_id=session_id),
        user=record.user,
        caller=caller,
        grant_type=Session.Grant.AUTHORIZATION_CODE,
        client=client,
        scope=record.scope,
        resource=record.resource,
        auth_time=record.auth_time,
        amr=record.amr,
        nonce=record.nonce,
        now=now,
    )
    if issued is None:  # another request exchanged it first (and has committed): this one is a replay
        _replayed(AuthorizationCode.objects.get(code_hash=code_hash), proven=True, now=now)
    audit.event("code exchanged", user=record.user_id, ip=caller.ip_address, sid=issued.session.pk)
    return issued


def verifier_matches(code_verifier: str, code_challenge: str) -> bool:
    """RFC 7636 §4.6: BASE64URL(SHA256(code_verifier)) == code_challenge (S256, the only method)."""
    digest = hashlib.sha256(code_verifier.encode("ascii", errors="replace")).digest()
    computed = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    return constant_time_compare(computed, code_challenge)


def delete_expired(*, now: datetime | None = None) -> int:
    """Delete codes past their expiry (exchanged or not): nothing reads them any more."""
    deleted, _ = AuthorizationCode.objects.filter(expires_at__lte=now or clock.now()).delete()
    return deleted


def _replayed(record: AuthorizationCode, *, proven: bool, now: datetime) -> None:
    if proven and record.session_id:
        services.code_replay_revoke(session_id=record.session_id, now=now)
    raise InvalidGrant("The authorization code was already used.")


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode("utf-8", errors="replace")).hexdigest()
