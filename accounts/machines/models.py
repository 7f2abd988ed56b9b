"""The record of each access token a client got for itself: what revocation and introspection
read (such a token has no session)."""

from django.db import models


class ClientToken(models.Model):
    """One client credentials access token, by its `jti`: active until `expires_at` unless revoked."""

    jti = models.CharField(primary_key=True, max_length=64)
    client = models.ForeignKey("accounts.Client", on_delete=models.CASCADE, related_name="own_tokens")
    scope = models.CharField(max_length=200, blank=True)
    issued_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "accounts"
        indexes = [models.Index(fields=["expires_at"], name="accounts_clienttoken_exp_idx")]

    def __str__(self) -> str:
        return f"token {self.jti[:8]}… of {self.client_id}"
