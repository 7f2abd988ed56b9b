"""The user, and the session (refresh family) that ties a login's tokens together."""

import uuid
from datetime import datetime

from django.contrib.auth.models import AbstractUser
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.db import models, transaction
from django.db.models.functions import Lower, Trim
from django.db.models.lookups import Exact
from django.dispatch import Signal
from django.utils import timezone

from accounts import clock, refresh_records
from accounts.refresh_records import RefreshTokenRecord

# Sent, inside the transaction that writes it, when users' password was set or they were
# disabled: the users `user_ids` must lose every session for `reason` (a Session.EndReason).
# accounts.services receives it (connected in accounts.apps).
sessions_must_end = Signal()


def _sessions_must_end(user_ids: list, reason: str, *, keep: uuid.UUID | None = None) -> None:
    if not sessions_must_end.has_listeners(User):  # never a password set without its rule
        raise RuntimeError("accounts.services is not connected to sessions_must_end")
    if user_ids:
        sessions_must_end.send(sender=User, user_ids=user_ids, reason=reason, keep=keep)


class UserQuerySet(models.QuerySet):
    def update(self, **kwargs) -> int:
        """QuerySet.update (and so bulk_update), under the password rule too: setting `password`
        ends the sessions of every user it changes; setting `is_active` (to any value or
        expression) ends the sessions of those it leaves inactive. The users are locked first,
        and only they are updated, in the same transaction: a user who starts matching the
        filter meanwhile is not changed behind the rule's back."""
        if "password" not in kwargs and "is_active" not in kwargs:
            return super().update(**kwargs)
        with transaction.atomic(using=self.db):
            # Locked through a plain query of their own ids (a filter with DISTINCT or an outer
            # join cannot be locked directly on PostgreSQL).
            users = models.QuerySet(self.model, using=self.db)
            pks = list(
                users.filter(pk__in=self.values("pk")).select_for_update().values_list("pk", flat=True)
            )
            locked = users.filter(pk__in=pks)
            updated = locked.update(**kwargs)
            if "password" in kwargs:
                _sessions_must_end(pks, Session.EndReason.PASSWORD_CHANGED)
            else:
                inactive = list(locked.filter(is_active=False).values_list("pk", flat=True))
                _sessions_must_end(inactive, Session.EndReason.USER_DISABLED)
        return updated


class UserManager(DjangoUserManager.from_queryset(UserQuerySet)):
    def _create_user(self, username, email, password, **extra_fields):
        # The refresh token's `sub` is the email: a user without one could never refresh.
        if not email or not str(email).strip():
            raise ValueError("Users must have an email address.")
        return super()._create_user(username, email, password, **extra_fields)


class User(AbstractUser):
    """A user: unique username, unique required email (whatever its case), a full name."""

    first_name = None
    last_name = None
    email = models.EmailField("email address")
    full_name = models.CharField("full name", max_length=150, blank=True)
    # OpenID Connect `sub`: a public identifier that never changes and is never reused (the
    # username can change; the primary key is an internal detail).
    public_id = models.UUIDField("subject identifier", default=uuid.uuid4, unique=True, editable=False)
    email_verified = models.BooleanField(
        default=False,
        help_text="Whether the user followed a link sent to the email, or an identity provider "
        "verified it (email_verified in ID tokens, /userinfo and /users/me/).",
    )
    # An email change waits here until the link sent to the new address is followed
    # (accounts.selfservice); the unique email stays the current one meanwhile.
    pending_email = models.EmailField(
        "pending email",
        blank=True,
        help_text="A new email the user asked for, not yet confirmed from its mailbox.",
    )

    objects = UserManager()

    REQUIRED_FIELDS = ["email"]

    class Meta:
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                name="accounts_user_email_ci_unique",
                violation_error_message="A user with that email address already exists.",
            ),
            # "Maria" and "maria" are one name: concurrent sign-ups cannot take both.
            models.UniqueConstraint(
                Lower("username"),
                name="accounts_user_username_ci_unique",
                violation_error_message="A user with that username already exists.",
            ),
            models.CheckConstraint(
                condition=~models.Q(Exact(Trim("email"), "")),
                name="accounts_user_email_required",
                violation_error_message="Users must have an email address.",
            ),
        ]

    def get_full_name(self) -> str:
        return self.full_name.strip() or self.username

    def get_short_name(self) -> str:
        return self.get_full_name()

    _unusable_password_set = False
    _session_kept: uuid.UUID | None = None

    def set_password(self, raw_password, *, keep_session: uuid.UUID | None = None) -> None:
        """Django's, and which session (of the user changing their own password) the next save
        keeps: every other one ends."""
        super().set_password(raw_password)
        self._session_kept = keep_session

    def set_unusable_password(self) -> None:
        super().set_unusable_password()
        self._unusable_password_set = True

    def save(self, *args, **kwargs) -> None:
        """Save; when a password was set (by any path) or the user is disabled, revoke its sessions.

        This is the password rule's one place, with UserQuerySet.update: the admin,
        `changepassword`, the browser sign-in pages and users created by a provider all save
        through here. set_password() keeps the raw password in _password until the next save();
        Django's automatic re-hash at login clears it before saving, so a re-hash revokes nothing.
        """
        password_set = self._password is not None or self._unusable_password_set
        # One transaction: a password or status written without its sessions revoked never commits.
        with transaction.atomic():
            super().save(*args, **kwargs)
            if password_set:
                _sessions_must_end([self.pk], Session.EndReason.PASSWORD_CHANGED, keep=self._session_kept)
            elif not self.is_active:
                _sessions_must_end([self.pk], Session.EndReason.USER_DISABLED)
        self._unusable_password_set = False
        self._session_kept = None


class SessionQuerySet(models.QuerySet):
    def for_token(self, pk: uuid.UUID) -> "Session | None":
        """The session `pk` with its user, newest refresh token record and client, or None: exactly
        what `select_related("user", "newest_record", "client").filter(pk=pk).first()` returns, in
        one statement.

        This is the lookup of every authenticated request and every rotation. Building the
        query with the ORM costs about a millisecond of Python each time; here the ORM compiles
        it once per database connection, and each call only executes it and applies the same
        column converters. The compiled query is kept on the connection object itself, so it
        goes when the connection (and its thread) goes.

        On PostgreSQL the statement is also prepared once per server connection: planning this
        four-table join cost PostgreSQL 0.15 ms per request (EXPLAIN's "Planning Time"), five
        times what the lookup itself costs. Not behind a transaction-pooling PgBouncer, where a
        prepared statement does not follow the client from one server connection to the next.
        """
        return refresh_records.session_for_token(self, pk)

    def active(self, *, now: datetime | None = None) -> "SessionQuerySet":
        """Sessions not revoked, before their absolute end and before their idle end."""
        now = now or clock.now()
        return self.filter(revoked_at__isnull=True, expires_at__gt=now, newest_record__expires_at__gt=now)

    def revoke(self, *, reason: str, now: datetime | None = None) -> int:
        """Revoke the sessions not yet revoked in one UPDATE; return how many it revoked."""
        return self.filter(revoked_at__isnull=True).update(revoked_at=now or clock.now(), end_reason=reason)


class Session(models.Model):
    """A refresh family: one login and every token rotated from it (the tokens' `sid`).

    `newest_record` is the record of the family's newest refresh token; the ones it replaced are
    marked spent (accounts.refresh_records). The session is active until it is revoked, reaches
    `expires_at` (absolute end), or its newest refresh token expires (idle end).
    """

    class EndReason(models.TextChoices):
        LOGOUT = "logout", "revoked by its user"
        LOGOUT_EVERYWHERE = "logout_everywhere", "log out everywhere"
        REUSE_DETECTED = "reuse_detected", "a spent refresh token was presented again"
        PASSWORD_CHANGED = "password_changed", "the password was set"
        USER_DISABLED = "user_disabled", "the user was disabled"
        ADMIN = "admin", "revoked by an administrator"
        SESSION_LIMIT = "session_limit", "the user started more sessions than SESSIONS_PER_USER_MAX"
        CODE_REPLAYED = "code_replayed", "its authorization code was presented again"

    class Grant(models.TextChoices):
        PASSWORD = "password", "/login"
        AUTHORIZATION_CODE = "authorization_code", "authorization code"
        TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange", "token exchange"
        DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code", "device code"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="token_sessions")
    # CASCADE: cleanup_tokens deletes the expired newest record of an ended session, and with it
    # the session.
    newest_record = models.OneToOneField(
        RefreshTokenRecord,
        on_delete=models.CASCADE,
        related_name="session",
        help_text="The record of the session's newest refresh token.",
    )
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(help_text="Absolute end, however often it is refreshed.")
    last_used_at = models.DateTimeField(help_text="Latest login or refresh.")
    user_agent = models.CharField(max_length=256, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    client = models.ForeignKey(
        "accounts.Client",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="sessions",
        help_text="The client the session was started through; none for /login.",
    )
    grant_type = models.CharField(
        max_length=64,
        choices=Grant.choices,
        blank=True,
        help_text="The grant that started it (blank: started before this was recorded).",
    )
    scope = models.CharField(max_length=200, blank=True, help_text="Granted scopes, space-separated.")
    resource = models.CharField(
        max_length=200,
        blank=True,
        help_text="The API its access tokens are for (their aud); blank: this service.",
    )
    dpop_jkt = models.CharField(
        "DPoP key",
        max_length=64,
        blank=True,
        help_text="The thumbprint of the DPoP key its refresh tokens are bound to (a public client's).",
    )
    nonce = models.CharField(max_length=512, blank=True, help_text="The authorization request's nonce.")
    auth_time = models.DateTimeField(null=True, blank=True, help_text="When the user signed in.")
    amr = models.JSONField(default=list, blank=True, help_text="How the user signed in (RFC 8176 names).")
    revoked_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=32, choices=EndReason.choices, blank=True)

    objects = SessionQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["user", "-created_at"], name="accounts_session_user_idx")]

    def __str__(self) -> str:
        """What a person reads: whose session, and since when (the admin's page titles)."""
        if self.created_at is None:
            return str(self.id)
        return f"{self.user} since {self.created_at:%Y-%m-%d %H:%M} ({self.id.hex[:8]})"

    def refresh_token_records(self) -> models.QuerySet:
        """Every recorded refresh token of this session, oldest first (accounts.refresh_records)."""
        return refresh_records.of_session(self.pk)

    def ends_at(self) -> datetime:
        """When the session ends if nothing revokes it: the earlier of its two ends."""
        return min(self.expires_at, self.newest_record.expires_at)

    @property
    def has_scope(self) -> bool:
        """Whether its token answers name a `scope`: a client's session does, unless a token
        exchange started it (that one has no scope, like a /login session)."""
        return self.client_id is not None and self.grant_type != self.Grant.TOKEN_EXCHANGE

    def is_active(self, *, now: datetime | None = None) -> bool:
        """Return whether the session has not ended (load `newest_record` with it)."""
        return self.revoked_at is None and (now or clock.now()) < self.ends_at()

    def lets_tokens_in(self, *, now: datetime | None = None) -> bool:
        """The one rule of every token check (bearer, introspection): the session has not ended,
        its user is active, and its client, if any, is active (load `user` and `client` with it).

        A disabled client's sessions are revoked when it is disabled (services.clients_disable);
        this check holds even for a client disabled by some other path."""
        return (
            self.is_active(now=now)
            and self.user.is_active
            and (self.client_id is None or self.client.is_active)
        )

    def status(self, *, now: datetime | None = None) -> str:
        """A word for people: active, revoked, expired (absolute end) or idle (idle end)."""
        now = now or clock.now()
        if self.revoked_at is not None:
            return "revoked"
        if now >= self.expires_at:
            return "expired"
        if now >= self.newest_record.expires_at:
            return "idle"
        return "active"


class SigningKey(models.Model):
    """A key pair that signs access tokens (accounts.keys: its states follow from these dates).

    Published from its creation; signs from `activates_at` until a newer key of its algorithm
    activates; stays published until the tokens it signed have expired; never trusted again once
    `compromised_at` is set. The private key is stored as PEM encrypted with a key derived from
    SECRET_KEY, or not at all when the operator supplies it (ACCESS_TOKEN_SIGNING_KEY).
    """

    kid = models.CharField(primary_key=True, max_length=64, help_text="RFC 7638 thumbprint.")
    algorithm = models.CharField(max_length=16)
    public_jwk = models.JSONField()
    private_key = models.TextField(blank=True, help_text="Encrypted PEM; empty for an operator's key.")
    created_at = models.DateTimeField(default=timezone.now)
    activates_at = models.DateTimeField(
        default=timezone.now, help_text="Signs from then on (a rotated-in key is published first)."
    )
    compromised_at = models.DateTimeField(
        null=True, blank=True, help_text="Distrusted: neither used nor published from then on."
    )

    class Meta:
        indexes = [models.Index(fields=["-activates_at"], name="accounts_signingkey_act_idx")]

    def __str__(self) -> str:
        return f"{self.kid[:12]}… ({self.algorithm})"


class ThrottleCounter(models.Model):
    """A fixed-window counter shared by every process (failed logins, failures per IP).

    Incremented by a conditional UPDATE (accounts.throttle), so concurrent requests never lose
    a count. Used when no Redis cache is configured.
    """

    key = models.CharField(primary_key=True, max_length=64, help_text="SHA-256 of the counter's name.")
    window_start = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.key[:12]}… {self.count} since {self.window_start:%H:%M:%S}"


# The authorization server's models live with it; imported here so the app registry finds them.
from accounts.apis.models import Api, ApiScope  # noqa: E402
from accounts.devices.models import DeviceAuthorization  # noqa: E402
from accounts.federation.models import ExchangedIdToken, LinkedIdentity  # noqa: E402
from accounts.machines.models import ClientToken  # noqa: E402
from accounts.mfa.models import Passkey, RecoveryCode, TotpDevice  # noqa: E402
from accounts.oauth.models import AuthorizationCode, Client, Consent, PushedRequest  # noqa: E402

__all__ = [
    "Api",
    "ApiScope",
    "AuthorizationCode",
    "Client",
    "ClientToken",
    "Consent",
    "DeviceAuthorization",
    "ExchangedIdToken",
    "LinkedIdentity",
    "Passkey",
    "PushedRequest",
    "RecoveryCode",
    "RefreshTokenRecord",
    "Session",
    "SigningKey",
    "ThrottleCounter",
    "TotpDevice",
    "User",
]
