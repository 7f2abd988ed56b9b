"""The rules of sessions and tokens: sign-in, rotation, reuse detection, revocation. No HTTP here.

Every decision that two requests could race on is taken by the database inside one
transaction: the unique index of the refresh token records' jti (a token's successor has a jti
derived from its own, so a token can have only one: accounts.refresh_records) and conditional
UPDATEs on the session row.
Nothing on these paths checks in Python and then writes.

Every revocation, whoever asks for it (the user, reuse detection, a password change, the admin),
goes through `_revoke`, which writes its audit event.
"""

import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import authenticate
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from rest_framework_simplejwt.exceptions import ExpiredTokenError, TokenError

from accounts import audit, clock, issuance, refresh_records
from accounts.apis import scopes as api_scopes
from accounts.callers import Caller
from accounts.errors import (
    InvalidClient,
    InvalidCredentials,
    InvalidDpopProof,
    InvalidGrant,
    InvalidScope,
    InvalidTarget,
    UnusableAccessToken,
)
from accounts.models import Client, Session, User
from accounts.signing import token_fingerprint
from accounts.tokens import AccessToken, IssuedAccessToken, RefreshToken

# The token pair as handed out: accounts.issuance's, the one seam every token response goes through.
IssuedTokens = issuance.IssuedTokens


# The second factors' checks of POST /login (accounts.mfa registers its own in accounts.apps):
# check(user, otp) -> the RFC 8176 names it proved ([] when the user has no factor); raises
# MfaRequired without `otp`, InvalidCredentials for a wrong one.
_second_factor_checks: list = []


def register_second_factor(check) -> None:
    if check not in _second_factor_checks:
        _second_factor_checks.append(check)


def login(
    *, username: str, password: str, caller: Caller, otp: str | None = None, now: datetime | None = None
) -> IssuedTokens:
    """Check the credentials (and a second factor, when the user has one) and start a session
    (POST /login)."""
    user = credentials_check(username=username, password=password, caller=caller)
    amr = ["pwd"]
    for check in _second_factor_checks:
        amr += check(user, otp)
    issued = session_start(user=user, caller=caller, grant_type=Session.Grant.PASSWORD, amr=amr, now=now)
    audit.event(
        "login", user=user.pk, username=user.get_username(), ip=caller.ip_address, sid=issued.session.pk
    )
    return issued


def credentials_check(*, username: str, password: str, caller: Caller) -> User:
    """The active user with these credentials: the one sign-in rule of every path.

    Raises InvalidCredentials for an unknown user, a wrong password or a disabled user alike;
    Django's ModelBackend hashes a dummy password for an unknown user, so all three cost the same.
    Raises TooManyAttempts while this caller and username are blocked (accounts.throttling, which
    counts every caller of `authenticate`).
    """
    user = authenticate(None, username=username, password=password, caller=caller)
    if user is None:
        raise InvalidCredentials()
    return user


def session_start(
    *,
    user: User,
    caller: Caller,
    grant_type: str = Session.Grant.PASSWORD,
    client: Client | None = None,
    scope: str = "",
    resource: str = "",
    auth_time: datetime | None = None,
    amr: list[str] = (),
    nonce: str = "",
    session_id: uuid.UUID | None = None,
    now: datetime | None = None,
) -> IssuedTokens:
    """Start a session for `user` (by `grant_type`, /login's unless named; through `client`, with
    `scope`, for the API `resource` if any, signed in by the methods `amr`) and return its first
    token pair.

    `session_id` lets a caller name the session before it exists (a code records the session its
    exchange starts in the same statement that spends it).

    Beyond SESSIONS_PER_USER_MAX active sessions, the user's oldest are revoked: what one valid
    credential can make the service store is bounded.
    """
    now = now or clock.now()
    session_id = session_id or uuid.uuid4()
    expires_at = now + timedelta(seconds=settings.SESSION_MAX_LIFETIME_SECONDS)
    refresh = RefreshToken.issue(
        session_id=str(session_id),
        subject=user.email,
        jti=refresh_records.first_jti(session_id),
        issued_at=now,
        not_after=expires_at,
    )
    refresh_string = str(refresh)
    session = Session(
        id=session_id,
        user=user,
        created_at=now,
        expires_at=expires_at,
        last_used_at=now,
        user_agent=caller.user_agent[:256],
        ip_address=caller.ip_address,
        client=client,
        grant_type=grant_type,
        scope=scope,
        resource=resource,
        nonce=nonce,
        auth_time=auth_time or now,
        amr=list(amr),
        # Refresh tokens are bound to the DPoP key (RFC 9449 §5), unless a confidential client's
        # authentication binds them already.
        dpop_jkt=(caller.dpop_jkt or "") if client is None or not client.confidential else "",
    )
    # Signed before anything is written: a signing key that cannot sign (a 503) starts nothing.
    issued = _issued(
        session=session, refresh=refresh, refresh_string=refresh_string, now=now, jkt=caller.dpop_jkt
    )
    with transaction.atomic():
        # Lock the user row and check it has not changed since the password was checked: a
        # password change (or disabling) that commits meanwhile must not miss this session.
        # It waits for this transaction and then revokes the session, or it came first and
        # this login fails.
        if (
            not User.objects.select_for_update()
            .filter(pk=user.pk, password=user.password, is_active=True)
            .exists()
        ):
            raise InvalidCredentials()
        session.newest_record = _record_refresh_token(user=user, token=refresh, token_string=refresh_string)
        session.save(force_insert=True)
        # Under the user row's lock: concurrent logins of one user cannot both miss the limit.
        oldest = (
            Session.objects.active(now=now)
            .filter(user=user)
            .order_by("-created_at")[settings.SESSIONS_PER_USER_MAX :]
        )
        _revoke(
            Session.objects.filter(pk__in=list(oldest.values_list("pk", flat=True))),
            reason=Session.EndReason.SESSION_LIMIT,
            now=now,
            user=user.pk,
        )
    return issued


def session_start_once(claim: Callable[[uuid.UUID], int], **session) -> IssuedTokens | None:
    """`session_start(**session)` only when `claim(session_id)`, a conditional UPDATE that spends
    a one-time grant (a code, a device code) and names the session it starts, matched its row;
    both in one transaction (the foreign key is checked at commit). None when it did not: of
    concurrent requests spending one grant, one starts the session."""
    session_id = uuid.uuid4()
    with transaction.atomic():
        if not claim(session_id):
            return None
        return session_start(session_id=session_id, **session)


def refresh_token_rotate(
    *,
    refresh_token: str,
    caller: Caller,
    client: Client | None = None,
    scope: str | None = None,
    resource: str | None = None,
    now: datetime | None = None,
) -> IssuedTokens:
    """Spend `refresh_token` and return a new pair of the same session.

    `client` is the client the request authenticated as (or named, for a public one); `scope`
    narrows the new access token within the session's scope; `resource`, when sent, must be the
    session's API (RFC 8707 §2.2: InvalidTarget otherwise).

    Raises InvalidGrant when the token is not a valid refresh token of an active session of an
    active user with the token's email, or belongs to another client than `client` (a /login
    session's belongs to none). Raises InvalidClient when it belongs to a confidential client and
    `client` is not that client, and InvalidScope for a `scope` beyond the session's. Presenting
    a spent token revokes its session (reuse detection), except for a retry of the newest
    token's parent within REFRESH_TOKEN_REUSE_INTERVAL_SECONDS, which gets the same successor
    again. A refused token is never counted against the caller's address: it proves nothing about
    a password.
    """
    now = now or clock.now()
    try:
        return _refresh(
            refresh_token=refresh_token, caller=caller, client=client, scope=scope, resource=resource, now=now
        )
    except InvalidGrant as e:
        audit.event("refresh refused", ip=caller.ip_address, reason=e.description)
        raise


def _refresh(
    *,
    refresh_token: str,
    caller: Caller,
    client: Client | None,
    scope: str | None,
    resource: str | None = None,
    now: datetime,
) -> IssuedTokens:
    parent = _verified_refresh_token(refresh_token)
    session = _active_session_of(parent, now=now)
    if session.dpop_jkt and caller.dpop_jkt != session.dpop_jkt:
        raise InvalidDpopProof("This refresh token is bound to a DPoP key: send a proof made with that key.")
    if parent["jti"] == session.newest_record.jti:
        _check_user_of(session, parent)
        narrowed = _check_client_of(session, client=client, scope=scope)
        if caller.dpop_jkt and not session.dpop_jkt and not (session.client and session.client.confidential):
            # A session begun without DPoP is bound at its first refresh with a proof (§5): one
            # conditional UPDATE, so of concurrent first proofs one key wins and the rest refuse.
            if not Session.objects.filter(pk=session.pk, dpop_jkt="").update(dpop_jkt=caller.dpop_jkt):
                raise InvalidDpopProof(
                    "This refresh token is bound to a DPoP key: send a proof made with that key."
                )
            session.dpop_jkt = caller.dpop_jkt
        if resource is not None and resource != session.resource:
            raise InvalidTarget("The resource is not the API of this refresh token's session.")
        if session.resource and not api_scopes.is_registered(session.resource):
            raise InvalidGrant("The API of this refresh token's session is no longer registered.")
        try:
            return _rotate(session=session, parent=parent, caller=caller, scope=narrowed, now=now)
        except (IntegrityError, _SessionMoved):
            # A concurrent request rotated the same token first (or revoked its session) and has
            # committed: the token is now the parent of that request's successor. Look again and
            # judge it as such.
            session = _active_session_of(parent, now=now)
    return _retry_or_reuse(session=session, parent=parent, caller=caller, client=client, scope=scope, now=now)


def _check_client_of(session: Session, *, client: Client | None, scope: str | None) -> str | None:
    """Check the session is `client`'s; return the access token's scope (None: the session's).

    A /login or token-exchange session has no client and ignores `scope`.
    """
    if client is not None and session.client_id != client.pk:
        raise InvalidGrant("The refresh token was issued to another client.")
    if session.client is None:
        return None
    if not session.client.is_active:
        raise InvalidGrant("The client of this refresh token is disabled.")
    if client is None and session.client.confidential:
        raise InvalidClient("This refresh token belongs to a confidential client: authenticate as it.")
    if scope is None:
        return None
    granted = set(session.scope.split())
    requested = set(scope.split())
    if not requested <= granted:
        raise InvalidScope("The scope asked for is beyond the scope first granted.")
    return " ".join(sorted(requested))


def access_token_authenticate(*, access_token: str, now: datetime | None = None) -> tuple[User, Session]:
    """Return the user and session of a valid access token, loaded together in one query.

    Raises UnusableAccessToken when the token is not a valid access token, or its session has ended,
    or its user or client is disabled, or its user no longer has the token's username.
    """
    try:
        token = AccessToken(access_token)
    except TokenError:
        raise UnusableAccessToken() from None
    session = _session_of(token)
    if session is None or not session.lets_tokens_in(now=now) or session.user.get_username() != token["sub"]:
        raise UnusableAccessToken()
    # The scope of the token used (a refresh can narrow it below the session's), and the DPoP
    # key it is bound to, if any (accounts.authentication asks the request to prove it).
    session.access_token_scope = token.payload.get("scope", "")
    confirmation = token.payload.get("cnf")
    session.access_token_jkt = confirmation.get("jkt") if isinstance(confirmation, dict) else None
    return session.user, session


def session_of_token(token: AccessToken | RefreshToken) -> Session | None:
    """The session a verified token names, with its user, newest record and client (one query)."""
    return _session_of(token)


def token_revoke(
    *,
    token: str,
    token_type_hint: str | None = None,
    client: Client | None = None,
    now: datetime | None = None,
) -> None:
    """RFC 7009: revoke the session of a valid refresh or access token; ignore anything else.

    The hint only decides which kind is tried first. A spent refresh token still names its
    session, so presenting one here revokes that session as well. A client revokes only tokens
    of its own sessions (another's are ignored, RFC 7009 §2.1); a confidential client's token
    needs that client's authentication (InvalidClient otherwise).
    """
    kinds = (
        (IssuedAccessToken, RefreshToken)
        if token_type_hint == "access_token"
        else (RefreshToken, IssuedAccessToken)
    )
    for kind in kinds:
        try:
            parsed = kind(token)
        except TokenError:
            continue
        session_id = _as_uuid(parsed.session_id)
        owner = Session.objects.filter(pk=session_id).select_related("client").first() if session_id else None
        if owner is None:
            return
        if owner.client is not None and owner.client.confidential and client is None:
            raise InvalidClient("This token belongs to a confidential client: authenticate as it.")
        if client is not None and owner.client_id != client.pk:
            return
        _revoke(
            Session.objects.filter(pk=session_id), reason=Session.EndReason.LOGOUT, now=now, sid=session_id
        )
        return
    from accounts.machines import tokens as client_tokens

    own = client_tokens.parse(token)  # a client's own token (client credentials)
    if own is not None:
        if client is None:
            raise InvalidClient("This token belongs to a confidential client: authenticate as it.")
        client_tokens.revoke(own, client=client, now=now)


def session_list(*, user: User, now: datetime | None = None) -> list[Session]:
    """The user's active sessions, newest first (at most SESSIONS_PER_USER_MAX of them)."""
    return list(
        Session.objects.active(now=now)
        .filter(user=user)
        .select_related("newest_record", "client")
        .order_by("-created_at")[: settings.SESSIONS_PER_USER_MAX]
    )


def session_revoke(*, user: User, session_id: str, now: datetime | None = None) -> bool:
    """Revoke one active session of `user`; return False when there is no such session."""
    pk = _as_uuid(session_id)
    if pk is None:
        return False
    # One conditional UPDATE: another user's, an unknown or an ended session matches no row.
    session = Session.objects.active(now=now).filter(pk=pk, user=user)
    return bool(_revoke(session, reason=Session.EndReason.LOGOUT, now=now, user=user.pk, sid=pk))


def user_logout_everywhere(*, user: User, now: datetime | None = None) -> int:
    """Revoke every session of `user`; return how many were still active."""
    sessions = Session.objects.filter(user=user)
    return _revoke(sessions, reason=Session.EndReason.LOGOUT_EVERYWHERE, now=now, user=user.pk, always=True)


def sessions_must_end(sender, *, user_ids: list, reason: str, keep=None, **kwargs) -> None:
    """The receiver of accounts.models.sessions_must_end (the password rule): revoke every
    session of the users `user_ids` for `reason` but the session `keep` (the one of a user who
    changed their own password), each user's with its audit event."""
    for pk in user_ids:
        sessions = Session.objects.filter(user_id=pk)
        if keep is not None:
            sessions = sessions.exclude(pk=keep)
        _revoke(sessions, reason=reason, now=None, user=pk)


def logout_revoke(*, session_id: str | None, now: datetime | None = None) -> int:
    """Revoke the session an ID token names (RP-Initiated Logout with a valid id_token_hint)."""
    pk = _as_uuid(session_id)
    if pk is None:
        return 0
    return _revoke(Session.objects.filter(pk=pk), reason=Session.EndReason.LOGOUT, now=now, sid=pk)


def code_replay_revoke(*, session_id: uuid.UUID, now: datetime | None = None) -> int:
    """Revoke the session started by an authorization code that was presented again (RFC 6749 §4.1.2)."""
    sessions = Session.objects.filter(pk=session_id)
    return _revoke(sessions, reason=Session.EndReason.CODE_REPLAYED, now=now, sid=session_id)


def admin_sessions_revoke(*, sessions: "QuerySet[Session]", now: datetime | None = None) -> int:
    """Revoke `sessions` on an administrator's order; return how many were still active."""
    return _revoke(sessions, reason=Session.EndReason.ADMIN, now=now)


def clients_disable(*, clients: "QuerySet[Client]", now: datetime | None = None) -> int:
    """Disable `clients` and revoke their sessions (their tokens stop at once): the one path of
    every disabling (the admin's list action and its client page), with an audit event for each
    client it disabled; return how many it disabled. A client already inactive (disabled by
    another path) has its sessions revoked too, so re-enabling it never brings them back."""
    with transaction.atomic():
        pks = list(clients.values_list("pk", flat=True))
        disabling = list(Client.objects.filter(pk__in=pks, is_active=True).values_list("pk", flat=True))
        disabled = Client.objects.filter(pk__in=disabling, is_active=True).update(is_active=False)
        for client_id in disabling:
            audit.event("client disabled", client=client_id)
        _revoke(Session.objects.filter(client__in=pks), reason=Session.EndReason.ADMIN, now=now)
    return disabled


def clients_delete(*, clients: "QuerySet[Client]", now: datetime | None = None) -> int:
    """Delete `clients` on an administrator's order: disabled first and their sessions deleted
    through admin_sessions_delete (with the audit events), then the clients; return how many."""
    with transaction.atomic():
        pks = list(clients.values_list("pk", flat=True))
        clients_disable(clients=Client.objects.filter(pk__in=pks), now=now)
        admin_sessions_delete(sessions=Session.objects.filter(client__in=pks), now=now)
        return Client.objects.filter(pk__in=pks).delete()[1].get(Client._meta.label, 0)


def admin_sessions_delete(*, sessions: "QuerySet[Session]", now: datetime | None = None) -> int:
    """Delete `sessions` on an administrator's order: revoked first (their audit event), then
    deleted (their refresh token records stay until cleanup_tokens removes them past their
    expiry); return how many were deleted. The sessions are taken before the revocation, which
    could take them out of a filter on their status."""
    with transaction.atomic():
        pks = list(sessions.values_list("pk", flat=True))
        admin_sessions_revoke(sessions=Session.objects.filter(pk__in=pks), now=now)
        for pk in pks:
            audit.event("session deleted", sid=pk)
        deleted = Session.objects.filter(pk__in=pks).delete()[1].get(Session._meta.label, 0)
    return deleted


def admin_users_logout_everywhere(*, users: "QuerySet[User]", now: datetime | None = None) -> int:
    """Log `users` out everywhere on an administrator's order."""
    return _revoke(
        Session.objects.filter(user__in=users), reason=Session.EndReason.LOGOUT_EVERYWHERE, now=now
    )


def _revoke(
    sessions: "QuerySet[Session]", *, reason: str, now: datetime | None, always: bool = False, **fields
) -> int:
    """The one path of every revocation: one conditional UPDATE, and its audit event."""
    if reason == Session.EndReason.LOGOUT_EVERYWHERE:
        name = "logout everywhere"
    elif reason == Session.EndReason.REUSE_DETECTED:
        name = "refresh token reuse detected"
    elif reason == Session.EndReason.CODE_REPLAYED:
        name = "authorization code replayed"
    else:
        name = "session revoked"
    revoked = sessions.revoke(reason=reason, now=now)
    if revoked or always:
        alarming = reason in (Session.EndReason.REUSE_DETECTED, Session.EndReason.CODE_REPLAYED)
        level = logging.WARNING if alarming else logging.INFO
        audit.event(name, level=level, reason=reason, revoked=revoked, **fields)
    return revoked


# --- helpers ---------------------------------------------------------------------------------


def _rotate(
    *, session: Session, parent: RefreshToken, caller: Caller, scope: str | None, now: datetime
) -> IssuedTokens:
    parent_record = session.newest_record
    child = RefreshToken.issue(
        session_id=str(session.pk),
        subject=session.user.email,
        jti=refresh_records.successor_jti(session.pk, parent["jti"]),
        issued_at=now,
        not_after=session.expires_at,
    )
    child_string = str(child)
    # Signed before anything is written: a signing key that cannot sign (a 503) spends nothing.
    issued = _issued(
        session=session, refresh=child, refresh_string=child_string, scope=scope, now=now, jkt=caller.dpop_jkt
    )
    # The unique jti makes the successor's insert the decision: the parent's only successor.
    # All three writes or none (refresh_records.advance).
    record = refresh_records.advance(
        Session.objects.db,
        session=session,
        parent_record_id=parent_record.pk,
        jti=child["jti"],
        fingerprint=token_fingerprint(child_string),  # never the token itself
        issued_at=child.current_time,
        expires_at=child.expires_at,
        user_agent=caller.user_agent[:256],
        ip_address=caller.ip_address,
    )
    if record is None:  # moved on or revoked since we read it: nothing was written
        raise _SessionMoved
    session.newest_record = record
    audit.event("refresh", user=session.user_id, ip=caller.ip_address, sid=session.pk)
    return issued


class _SessionMoved(Exception):
    """The session no longer pointed at the parent when the rotation wrote (see _refresh)."""


def _retry_or_reuse(
    *,
    session: Session,
    parent: RefreshToken,
    caller: Caller,
    client: Client | None,
    scope: str | None,
    now: datetime,
) -> IssuedTokens:
    newest = session.newest_record
    if parent["jti"] == newest.jti:
        # Only reachable when the competing transaction failed after all: nothing was spent.
        raise InvalidGrant("The refresh token could not be used now; try again.")
    grace = timedelta(seconds=settings.REFRESH_TOKEN_REUSE_INTERVAL_SECONDS)
    is_parent_of_newest = refresh_records.is_successor(session.pk, parent["jti"], newest.jti)
    if grace and is_parent_of_newest and now - newest.created_at <= grace:
        _check_user_of(session, parent)
        narrowed = _check_client_of(session, client=client, scope=scope)
        audit.event("refresh retried", user=session.user_id, ip=caller.ip_address, sid=session.pk)
        return _reissue_newest(session=session, scope=narrowed, now=now, jkt=caller.dpop_jkt)
    # A spent token, whatever became of its user since: the theft signal of RFC 9700 §4.14.2.
    _revoke(
        Session.objects.filter(pk=session.pk),
        reason=Session.EndReason.REUSE_DETECTED,
        now=now,
        user=session.user_id,
        ip=caller.ip_address,
        sid=session.pk,
    )
    raise InvalidGrant("The refresh token was already used; its session is revoked.")


def _reissue_newest(*, session: Session, scope: str | None, now: datetime, jkt: str | None) -> IssuedTokens:
    """The session's newest refresh token again, rebuilt from its record, with a new access token."""
    newest = session.newest_record
    refresh = RefreshToken.issue(
        session_id=str(session.pk),
        subject=session.user.email,
        jti=newest.jti,
        issued_at=newest.created_at,
        not_after=newest.expires_at,
        expires_at=newest.expires_at,
    )
    refresh_string = str(refresh)
    if token_fingerprint(refresh_string) != newest.token:
        # Signing configuration changed since the rotation: the same token cannot be rebuilt.
        raise InvalidGrant("The refresh token was already used.")
    return _issued(
        session=session, refresh=refresh, refresh_string=refresh_string, scope=scope, now=now, jkt=jkt
    )


def _verified_refresh_token(raw: str) -> RefreshToken:
    try:
        return RefreshToken(raw)
    except ExpiredTokenError:
        raise InvalidGrant("The refresh token has expired.") from None
    except TokenError:
        raise InvalidGrant("The refresh token is invalid.") from None


def _active_session_of(token: RefreshToken, *, now: datetime) -> Session:
    """The token's session, with its user and newest token; InvalidGrant unless it is active."""
    session = _session_of(token)
    if session is None or not session.is_active(now=now):
        raise InvalidGrant("The session of this refresh token has ended.")
    return session


def _session_of(token: AccessToken | RefreshToken) -> Session | None:
    """The session the token's `sid` names, with its user and newest refresh token (one query)."""
    session_id = _as_uuid(token.session_id)
    return Session.objects.for_token(session_id) if session_id else None


def _check_user_of(session: Session, token: RefreshToken) -> None:
    """InvalidGrant unless the session's user is active and still has the token's email."""
    if not session.user.is_active or session.user.email != token["sub"]:
        raise InvalidGrant("The refresh token is no longer valid for its user.")


def _record_refresh_token(*, user: User, token: RefreshToken, token_string: str):
    return refresh_records.record_first(
        user_id=user.pk,
        jti=token["jti"],
        fingerprint=token_fingerprint(token_string),  # never the token itself
        created_at=token.current_time,
        expires_at=token.expires_at,
    )


def _issued(
    *,
    session: Session,
    refresh: RefreshToken,
    refresh_string: str,
    now: datetime,
    scope: str | None = None,
    jkt: str | None = None,
) -> IssuedTokens:
    """The pair handed out: a new access token for the session's user beside `refresh`, through
    the issuance seam (which adds the extensions' claims and fields: the ID token, ...); bound
    to the DPoP key `jkt` when the request proved one."""
    if session.client_id:
        scope = session.scope if scope is None else scope
    return issuance.issue(
        audience=api_scopes.audience(resource=session.resource, scope=scope or ""),
        subject=session.user.get_username(),
        session=session,
        client_id=session.client_id,
        scope=scope if session.client_id else None,
        scope_in_response=session.has_scope,
        now=now,
        not_after=refresh.expires_at,
        refresh=refresh,
        refresh_string=refresh_string,
        jkt=jkt,
    )


def _as_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        return None
