"""Registered clients, their authorization codes, and the consents users gave them.

Declared here and imported by accounts/models.py: one `accounts` app, one set of migrations.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone

# The grants a client may be allowed (RFC 6749 §5.2: another one is unauthorized_client); the
# token exchange is every client's (it is configured for the service, not per client).
AUTHORIZATION_CODE = "authorization_code"
REFRESH_TOKEN = "refresh_token"
CLIENT_CREDENTIALS = "client_credentials"
DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"  # RFC 8628 §3.4
GRANT_TYPES = (AUTHORIZATION_CODE, REFRESH_TOKEN, CLIENT_CREDENTIALS, DEVICE_CODE)


def default_grant_types() -> list[str]:
    return [AUTHORIZATION_CODE, REFRESH_TOKEN]


class Client(models.Model):
    """An application that signs users in through /authorize, or a service that gets tokens for
    itself (client credentials); accounts.oauth.clients has its rules."""

    client_id = models.CharField(primary_key=True, max_length=64)
    name = models.CharField(max_length=150)
    confidential = models.BooleanField(
        default=False, help_text="A server that authenticates with its secret; public clients use PKCE alone."
    )
    secret_hash = models.CharField(
        max_length=128,
        blank=True,
        help_text="Keyed SHA-256 of the secret; the secret itself is never stored.",
    )
    first_party = models.BooleanField(default=False, help_text="Never shown the consent page.")
    require_second_factor = models.BooleanField(
        "requires two-step sign-in",
        default=False,
        help_text="Its users sign in with a second factor (acr multi-factor); a user without one "
        "is refused (access_denied) until they set one up at /account/security.",
    )
    require_dpop = models.BooleanField(
        "requires DPoP",
        default=False,
        help_text="Its token requests must carry a DPoP proof (RFC 9449): every token it gets is bound to its key.",
    )
    require_pushed_authorization_requests = models.BooleanField(
        "requires pushed authorization requests",
        default=False,
        help_text="Its authorization requests must come through POST /par (RFC 9126): /authorize "
        "refuses one sent directly.",
    )
    grant_types = models.JSONField(
        default=default_grant_types,
        help_text="The grants it may use: authorization_code, refresh_token, client_credentials, "
        "urn:ietf:params:oauth:grant-type:device_code.",
    )
    jwks = models.JSONField(
        "JWKS",
        null=True,
        blank=True,
        help_text='Its public keys, a JWKS ({"keys": [...]}): it authenticates with private_key_jwt '
        "(RFC 7523) and has no secret.",
    )
    jwks_uri = models.CharField(
        "JWKS URI",
        max_length=2000,
        blank=True,
        help_text="Where it publishes its public keys (https, http only on 127.0.0.1 or [::1]), "
        "instead of a JWKS here: it authenticates with private_key_jwt and has no secret.",
    )
    api_scopes = models.ManyToManyField(
        "accounts.ApiScope",
        blank=True,
        related_name="clients",
        verbose_name="API scopes",
        help_text="The scopes of APIs it may ask for (with the API as resource); none: no API's.",
    )
    redirect_uris = models.JSONField(default=list, blank=True)
    allowed_origins = models.JSONField(default=list, blank=True, help_text="Browser origins allowed by CORS.")
    post_logout_redirect_uris = models.JSONField(default=list, blank=True)
    is_active = models.BooleanField(
        default=True, help_text="A disabled client can neither authorize nor refresh."
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        app_label = "accounts"

    def __str__(self) -> str:
        return f"{self.name} ({self.client_id})"

    @property
    def has_keys(self) -> bool:
        """Whether it authenticates with private_key_jwt (its own keys) rather than a secret."""
        return bool(self.jwks or self.jwks_uri)

    def may_use(self, grant_type: str) -> bool:
        """Whether this client may use `grant_type` (one of GRANT_TYPES; others are not per client)."""
        return grant_type not in GRANT_TYPES or grant_type in self.grant_types


class AuthorizationCode(models.Model):
    """One code of /authorize: stored as its SHA-256, exchanged at most once (`exchanged_at`)."""

    code_hash = models.CharField(primary_key=True, max_length=64)
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="codes")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="authorization_codes"
    )
    redirect_uri = models.TextField()
    code_challenge = models.CharField(max_length=43)
    scope = models.CharField(max_length=200, blank=True)
    resource = models.CharField(max_length=200, blank=True)  # an API's identifier (RFC 8707)
    nonce = models.CharField(max_length=512, blank=True)
    auth_time = models.DateTimeField(help_text="When the user signed in.")
    amr = models.JSONField(default=list, blank=True, help_text="How the user signed in (RFC 8176 names).")
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    exchanged_at = models.DateTimeField(null=True, blank=True)
    session = models.ForeignKey(
        "accounts.Session",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The session its exchange started (revoked if the code is replayed).",
    )

    class Meta:
        app_label = "accounts"
        indexes = [models.Index(fields=["expires_at"], name="accounts_code_expires_idx")]

    def __str__(self) -> str:
        return f"code {self.code_hash[:8]}… of {self.client_id}"


class PushedRequest(models.Model):
    """An authorization request pushed to POST /par (RFC 9126): kept as its request_uri's
    SHA-256, used by /authorize once (`used_at`, a conditional UPDATE), within its lifetime."""

    uri_hash = models.CharField(primary_key=True, max_length=64)
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="pushed_requests")
    parameters = models.JSONField(help_text="The request's parameters, each name to its list of values.")
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(
        null=True, blank=True, help_text="When a browser took it up at /authorize."
    )
    answered_at = models.DateTimeField(null=True, blank=True, help_text="When its code was issued.")

    class Meta:
        app_label = "accounts"
        indexes = [models.Index(fields=["expires_at"], name="accounts_pushed_expires_idx")]

    def __str__(self) -> str:
        return f"pushed request {self.uri_hash[:8]}… of {self.client_id}"


class Consent(models.Model):
    """The scopes a user has granted a client, remembered so the consent page is not shown again."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="consents")
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="consents")
    scopes = models.JSONField(default=list)
    granted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        app_label = "accounts"
        constraints = [models.UniqueConstraint(fields=["user", "client"], name="accounts_consent_unique")]

    def __str__(self) -> str:
        return f"{self.user_id} → {self.client_id}: {' '.join(self.scopes)}"
