"""The APIs and their scopes (imported by accounts/models.py: one app, one set of migrations)."""

from django.db import models
from django.utils import timezone


class Api(models.Model):
    """An API that accepts this service's access tokens (Auth0's "API", Keycloak's audience)."""

    identifier = models.CharField(
        max_length=200,
        unique=True,
        help_text="An absolute URI without a fragment: the access tokens' aud, and the resource "
        "parameter that asks for them (RFC 8707).",
    )
    name = models.CharField(max_length=150, help_text="Shown on the consent page.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        app_label = "accounts"
        verbose_name = "API"

    def __str__(self) -> str:
        return f"{self.name} ({self.identifier})"


class ApiScope(models.Model):
    """One scope of an API. Its name is unique across APIs, so a scope names its API."""

    api = models.ForeignKey(Api, on_delete=models.CASCADE, related_name="scopes")
    name = models.CharField(max_length=100, unique=True)
    description = models.CharField(max_length=200, help_text="The line the consent page shows for it.")

    class Meta:
        app_label = "accounts"
        ordering = ["name"]
        verbose_name = "API scope"

    def __str__(self) -> str:
        return self.name
