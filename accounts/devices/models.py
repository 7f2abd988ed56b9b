"""The device authorizations of RFC 8628 (imported by accounts/models.py: one app, one set of
migrations)."""

from django.db import models


class DeviceAuthorization(models.Model):
    """One device authorization request: its device code (kept only as a SHA-256), its user code
    (the eight letters a person types, kept without the dash), and what became of it."""

    class Status(models.TextChoices):
        PENDING = "pending", "waiting for the user"
        APPROVED = "approved", "approved, not yet exchanged"
        DENIED = "denied", "denied by the user"
        EXCHANGED = "exchanged", "exchanged for tokens"

    device_code_hash = models.CharField(max_length=64, unique=True)
    user_code = models.CharField(max_length=8, unique=True)
    client = models.ForeignKey(
        "accounts.Client", on_delete=models.CASCADE, related_name="device_authorizations"
    )
    scope = models.CharField(max_length=200, blank=True)
    resource = models.CharField(max_length=200, blank=True)  # an API's identifier (RFC 8707)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    interval = models.PositiveIntegerField(help_text="Seconds the device must wait between polls.")
    next_poll_at = models.DateTimeField(help_text="A poll before this is slow_down.")
    # Who approved it (or denied it), and how they had signed in: the session's auth_time and amr.
    user = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.CASCADE, related_name="device_authorizations"
    )
    auth_time = models.DateTimeField(null=True, blank=True)
    amr = models.JSONField(default=list, blank=True)
    session = models.ForeignKey(
        "accounts.Session", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        app_label = "accounts"
        indexes = [models.Index(fields=["expires_at"], name="accounts_device_exp_idx")]

    def __str__(self) -> str:
        return f"device authorization {self.user_code[:4]}-{self.user_code[4:]} of {self.client_id}"
