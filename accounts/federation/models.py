"""Identities at upstream providers linked to local users, and the ID tokens already exchanged.

Declared here and imported by accounts/models.py: one `accounts` app, one set of migrations.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone


class LinkedIdentity(models.Model):
    """A provider's account (its issuer and `sub`) that signs in as a local user.

    The pair is unique: one provider account is one local user, decided by the database.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="identities")
    issuer = models.CharField(max_length=255, help_text="The provider's issuer.")
    subject = models.CharField(max_length=255, help_text="The provider's `sub` for this account.")
    email = models.EmailField(blank=True, help_text="The email the provider gave when the link was made.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        app_label = "accounts"
        verbose_name = "linked identity"
        verbose_name_plural = "linked identities"
        constraints = [
            models.UniqueConstraint(fields=["issuer", "subject"], name="accounts_identity_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.subject} at {self.issuer}"


class ExchangedIdToken(models.Model):
    """An ID token exchanged at /token: kept (as a hash) until it expires, so it is exchanged once.

    The primary key decides: of many requests presenting one ID token, one insert succeeds.
    """

    token_hash = models.CharField(
        primary_key=True, max_length=64, help_text="SHA-256 of the token's signed content."
    )
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        app_label = "accounts"

    def __str__(self) -> str:
        return f"{self.token_hash[:12]}… until {self.expires_at:%Y-%m-%d %H:%M}"
