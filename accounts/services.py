"""The rules of sessions and tokens: login, rotation, reuse detection, revocation. No HTTP here.

Every decision that two requests could race on is taken by the database inside one
transaction: the unique index of OutstandingToken.jti (a refresh token's successor has a jti
derived from its own, so a token can have only one) and conditional UPDATEs on the session row.
Nothing on these paths checks in Python and then writes.
"""

import json
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import authenticate
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from accounts import audit, throttle
from accounts.errors import InvalidCredentials, InvalidGrant, InvalidToken, Throttled
from accounts.models import Session, User
from accounts.signing import token_fingerprint
from accounts.tokens import AccessToken, RefreshToken, refresh_token_jti


@dataclass(frozen=True)
class Client:
    """Who is asking: recorded on the session at each login and refresh."""

    user_agent: str = ""
    ip_address: str | None = None


@dataclass(frozen=True)
class IssuedTokens:
    """A token pair as handed to the client."""

    access_token: str
    expires_in: int
    refresh_token: str
    refresh_expires_in: int
    session: Session


def login(*, username: str, password: str, client: Client, now: datetime | None = None) -> IssuedTokens:
    """Check the credentials and start a session.

    Raises InvalidCredentials for an unknown user, a wrong password or a disabled user alike;
    Django's ModelBackend hashes a dummy password for an unknown user, so all three cost the same.
    Raises Throttled once this client IP and username (or this IP alone) failed too often.
    """
    now = now or timezone.now()
    _refuse_throttled_ip(client, now=now)
    pair = json.dumps(["login", client.ip_address, username.lower()])
    # Counted before the password is checked, so that concurrent guesses cannot slip past the
    # limit; a success clears the count again.
    attempts = throttle.increment(pair, window=settings.LOGIN_FAILURE_WINDOW_SECONDS, now=now)
    if attempts.value > settings.LOGIN_FAILURE_LIMIT:
        retry_after = attempts.retry_after(window=settings.LOGIN_FAILURE_WINDOW_SECONDS, now=now)
        audit.event("login throttled", username=username, ip=client.ip_address, retry_after=retry_after)
        raise Throttled(retry_after)
    # No username holds a NUL (and PostgreSQL text cannot): such a user is unknown, not an error.
    user = authenticate(username=username, password=password) if "\x00" not in username else None
    if user is None:
        throttle.increment(_ip_counter(client), window=settings.IP_FAILURE_WINDOW_SECONDS, now=now)
        audit.event("login failed", username=username, ip=client.ip_address)
        raise InvalidCredentials()
    issued = session_start(user=user, client=client, now=now)
    throttle.clear(pair)
    audit.event(
        "login", user=user.pk, username=user.get_username(), ip=client.ip_address, sid=issued.session.pk
    )
    return issued


def session_start(*, user: User, client: Client, now: datetime | None = None) -> IssuedTokens:
    """Start a session for `user` and return its first token pair."""
    now = now or timezone.now()
    session_id = uuid.uuid4()
    expires_at = now + timedelta(seconds=settings.SESSION_MAX_LIFETIME_SECONDS)
    refresh = RefreshToken.issue(
        session_id=str(session_id),
        subject=user.email,
        jti=refresh_token_jti(session_id),
        issued_at=now,
        not_after=expires_at,
    )
    refresh_string = str(refresh)
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
        record = _record_refresh_token(user=user, token=refresh, token_string=refresh_string)
        session = Session.objects.create(
            id=session_id,
            user=user,
            refresh_token=record,
            created_at=now,
            expires_at=expires_at,
            last_used_at=now,
            user_agent=client.user_agent[:256],
            ip_address=client.ip_address,
        )
    return _issued(session=session, refresh=refresh, refresh_string=refresh_string, now=now)


def refresh_token_rotate(*, refresh_token: str, client: Client, now: datetime | None = None) -> IssuedTokens:
    """Spend `refresh_token` and return a new pair of the same session.

    Raises InvalidGrant when the token is not a valid refresh token of an active session of an
    active user with the token's email. Presenting a spent token revokes its session (reuse
    detection), except for a retry of the newest token's parent within
    REFRESH_TOKEN_REUSE_INTERVAL_SECONDS, which gets the same successor again. Raises Throttled
    instead of InvalidGrant once this client IP has failed too often: only refused tokens count
    and only they are throttled, so a valid refresh token is never blocked by others behind the
    same address, and a successful rotation costs no throttling query.
    """
    now = now or timezone.now()
    try:
        return _refresh(refresh_token=refresh_token, client=client, now=now)
    except InvalidGrant as e:
        audit.event("refresh refused", ip=client.ip_address, reason=e.description)
        window = settings.IP_FAILURE_WINDOW_SECONDS
        failures = throttle.increment(_ip_counter(client), window=window, now=now)
        if failures.value > settings.IP_FAILURE_LIMIT:
            retry_after = failures.retry_after(window=window, now=now)
            audit.event("ip throttled", ip=client.ip_address, retry_after=retry_after)
            raise Throttled(retry_after) from e
        raise


def _refresh(*, refresh_token: str, client: Client, now: datetime) -> IssuedTokens:
    parent = _verified_refresh_token(refresh_token)
    session = _active_session_of(parent, now=now)
    if parent["jti"] == session.refresh_token.jti:
        _check_user_of(session, parent)
        try:
            return _rotate(session=session, parent=parent, client=client, now=now)
        except IntegrityError:
            # A concurrent request rotated the same token first and has committed: the token
            # is now the parent of that request's successor. Look again and judge it as such.
            session = _active_session_of(parent, now=now)
    return _retry_or_reuse(session=session, parent=parent, client=client, now=now)


def access_token_authenticate(*, access_token: str, now: datetime | None = None) -> tuple[User, Session]:
    """Return the user and session of a valid access token, loaded together in one query.

    Raises InvalidToken when the token is not a valid access token, or its session has ended,
    or its user is disabled or no longer has the token's username.
    """
    try:
        token = AccessToken(access_token)
    except TokenError:
        raise InvalidToken() from None
    session = _session_of(token)
    if (
        session is None
        or not session.is_active(now=now)
        or not session.user.is_active
        or session.user.get_username() != token["sub"]
    ):
        raise InvalidToken()
    return session.user, session


def token_revoke(*, token: str, token_type_hint: str | None = None, now: datetime | None = None) -> None:
    """RFC 7009: revoke the session of a valid refresh or access token; ignore anything else.

    The hint only decides which kind is tried first. A spent refresh token still names its
    session, so presenting one here revokes that session as well.
    """
    kinds = (AccessToken, RefreshToken) if token_type_hint == "access_token" else (RefreshToken, AccessToken)
    for kind in kinds:
        try:
            parsed = kind(token)
        except TokenError:
            continue
        session_id = _as_uuid(parsed.session_id)
        if session_id and Session.objects.filter(pk=session_id).revoke(
            reason=Session.EndReason.LOGOUT, now=now
        ):
            audit.event("session revoked", sid=session_id, reason=Session.EndReason.LOGOUT)
        return


def session_list(*, user: User, now: datetime | None = None) -> list[Session]:
    """The user's active sessions, newest first."""
    return list(
        Session.objects.active(now=now)
        .filter(user=user)
        .select_related("refresh_token")
        .order_by("-created_at")
    )


def session_revoke(*, user: User, session_id: str, now: datetime | None = None) -> bool:
    """Revoke one active session of `user`; return False when there is no such session."""
    pk = _as_uuid(session_id)
    if pk is None:
        return False
    # One conditional UPDATE: another user's, an unknown or an ended session matches no row.
    revoked = (
        Session.objects.active(now=now)
        .filter(pk=pk, user=user)
        .revoke(reason=Session.EndReason.LOGOUT, now=now)
    )
    if revoked:
        audit.event("session revoked", user=user.pk, sid=pk, reason=Session.EndReason.LOGOUT)
    return bool(revoked)


def user_logout_everywhere(*, user: User, now: datetime | None = None) -> int:
    """Revoke every session of `user`; return how many were still active."""
    revoked = Session.objects.filter(user=user).revoke(reason=Session.EndReason.LOGOUT_EVERYWHERE, now=now)
    audit.event("logout everywhere", user=user.pk, revoked=revoked)
    return revoked


# --- helpers ---------------------------------------------------------------------------------


def _rotate(*, session: Session, parent: RefreshToken, client: Client, now: datetime) -> IssuedTokens:
    parent_record = session.refresh_token
    child = RefreshToken.issue(
        session_id=str(session.pk),
        subject=session.user.email,
        jti=refresh_token_jti(session.pk, parent_jti=parent["jti"]),
        issued_at=now,
        not_after=session.expires_at,
    )
    child_string = str(child)
    with transaction.atomic():
        # The unique jti makes this insert the decision: the parent's only successor.
        record = _record_refresh_token(user=session.user, token=child, token_string=child_string)
        moved = Session.objects.filter(
            pk=session.pk, refresh_token_id=parent_record.pk, revoked_at__isnull=True
        ).update(
            refresh_token=record,
            last_used_at=now,
            user_agent=client.user_agent[:256],
            ip_address=client.ip_address,
        )
        if not moved:  # revoked since we read it: roll the insert back
            raise InvalidGrant("The session of this refresh token has ended.")
        BlacklistedToken.objects.create(token_id=parent_record.pk)
    session.refresh_token = record
    audit.event("refresh", user=session.user_id, ip=client.ip_address, sid=session.pk)
    return _issued(session=session, refresh=child, refresh_string=child_string, now=now)


def _retry_or_reuse(*, session: Session, parent: RefreshToken, client: Client, now: datetime) -> IssuedTokens:
    newest = session.refresh_token
    if parent["jti"] == newest.jti:
        # Only reachable when the competing transaction failed after all: nothing was spent.
        raise InvalidGrant("The refresh token could not be used now; try again.")
    grace = timedelta(seconds=settings.REFRESH_TOKEN_REUSE_INTERVAL_SECONDS)
    is_parent_of_newest = refresh_token_jti(session.pk, parent_jti=parent["jti"]) == newest.jti
    if grace and is_parent_of_newest and now - newest.created_at <= grace:
        _check_user_of(session, parent)
        audit.event("refresh retried", user=session.user_id, ip=client.ip_address, sid=session.pk)
        return _reissue_newest(session=session, now=now)
    # A spent token, whatever became of its user since: the theft signal of RFC 9700 §4.14.2.
    revoked = Session.objects.filter(pk=session.pk).revoke(reason=Session.EndReason.REUSE_DETECTED, now=now)
    if revoked:
        audit.event(
            "refresh token reuse detected",
            level=logging.WARNING,
            user=session.user_id,
            ip=client.ip_address,
            sid=session.pk,
        )
    raise InvalidGrant("The refresh token was already used; its session is revoked.")


def _reissue_newest(*, session: Session, now: datetime) -> IssuedTokens:
    """The session's newest refresh token again, rebuilt from its record, with a new access token."""
    newest = session.refresh_token
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
    return _issued(session=session, refresh=refresh, refresh_string=refresh_string, now=now)


def _verified_refresh_token(raw: str) -> RefreshToken:
    try:
        return RefreshToken(raw)
    except TokenError as e:
        expired = "expired" in str(e)
        raise InvalidGrant(
            "The refresh token has expired." if expired else "The refresh token is invalid."
        ) from None


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


def _record_refresh_token(*, user: User, token: RefreshToken, token_string: str) -> OutstandingToken:
    return OutstandingToken.objects.create(
        user=user,
        jti=token["jti"],
        token=token_fingerprint(token_string),  # never the token itself
        created_at=token.current_time,
        expires_at=token.expires_at,
    )


def _issued(*, session: Session, refresh: RefreshToken, refresh_string: str, now: datetime) -> IssuedTokens:
    access = AccessToken.issue(
        session_id=str(session.pk),
        subject=session.user.get_username(),
        jti=uuid.uuid4().hex,
        issued_at=now,
        not_after=refresh.expires_at,
    )
    return IssuedTokens(
        access_token=str(access),
        expires_in=access.expires_in,
        refresh_token=refresh_string,
        refresh_expires_in=max(0, refresh.payload["exp"] - int(now.timestamp())),
        session=session,
    )


def _ip_counter(client: Client) -> str:
    """The name of the failure counter of a client IP (JSON: unambiguous, IPv6 colons included)."""
    return json.dumps(["ip", client.ip_address])


def _refuse_throttled_ip(client: Client, *, now: datetime) -> None:
    window = settings.IP_FAILURE_WINDOW_SECONDS
    failures = throttle.current(_ip_counter(client), window=window, now=now)
    if failures.value >= settings.IP_FAILURE_LIMIT:
        retry_after = failures.retry_after(window=window, now=now)
        audit.event("ip throttled", ip=client.ip_address, retry_after=retry_after)
        raise Throttled(retry_after)


def _as_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        return None
