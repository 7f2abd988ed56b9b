"""A user's second factors: at most one TOTP authenticator, and single-use recovery codes."""

from django.conf import settings
from django.db import models


class TotpDevice(models.Model):
    """An authenticator app's shared secret (RFC 6238), encrypted with a key derived from
    SECRET_KEY (its fallbacks decrypt too). On once confirmed by a first code; `last_step` is the
    newest time step accepted, so each code works once (a conditional UPDATE decides)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="totp_device"
    )
    secret = models.TextField(help_text="Encrypted (Fernet); never shown again once confirmed.")
    created_at = models.DateTimeField()
    confirmed_at = models.DateTimeField(null=True, blank=True)
    last_step = models.BigIntegerField(null=True, blank=True, help_text="The newest RFC 6238 step accepted.")
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"authenticator app of {self.user_id} ({'on' if self.confirmed_at else 'not confirmed'})"


class RecoveryCode(models.Model):
    """One single-use recovery code, stored as a keyed HMAC (a code is 50 random bits: no
    password stretching needed, like the client secrets)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="recovery_codes"
    )
    digest = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "digest"], name="accounts_recoverycode_unique")
        ]

    def __str__(self) -> str:
        return f"recovery code of {self.user_id} ({'used' if self.used_at else 'unused'})"


class Passkey(models.Model):
    """A WebAuthn credential (a passkey): discoverable, registered with user verification, so a
    sign-in with it alone proves two factors. `sign_count` is the authenticator's counter as last
    seen: a use whose counter does not go up (unless both are 0) is refused as a cloned key."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="passkeys")
    name = models.CharField(max_length=64)
    credential_id = models.BinaryField(max_length=1023, unique=True)
    public_key = models.BinaryField(help_text="COSE public key.")
    sign_count = models.BigIntegerField(default=0)
    multi_device = models.BooleanField(
        default=False,
        help_text="Backup eligible: may be synced between devices (amr swk) rather than bound to one (hwk).",
    )
    transports = models.JSONField(default=list, blank=True)
    aaguid = models.CharField(max_length=36, blank=True)
    created_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "name"], name="accounts_passkey_name_unique")]

    def __str__(self) -> str:
        return f"passkey {self.name!r} of {self.user_id}"
