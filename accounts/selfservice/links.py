"""Single-use links, on the pattern of Django's PasswordResetTokenGenerator: a token is an HMAC of
the user's state and a timestamp, keyed by SECRET_KEY (its fallbacks verify too). A link works
once because following it changes the state it is bound to, and expires after its lifetime, read
from the settings on each check. Times come from accounts.clock, so tests can move them."""

from datetime import UTC

from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.utils.crypto import constant_time_compare
from django.utils.http import base36_to_int

from accounts import clock
from accounts.models import User


class _LinkTokens(PasswordResetTokenGenerator):
    lifetime_setting: str  # the name of the setting that holds the lifetime in seconds

    def _now(self):
        return clock.now().astimezone(UTC).replace(tzinfo=None)  # Django's naive timestamps

    def check_token(self, user: User | None, token: str | None) -> bool:
        """Django's check, with this link's own lifetime (Django's reads PASSWORD_RESET_TIMEOUT)."""
        if not user or not token or not isinstance(token, str):
            return False
        timestamp_b36, _, _ = token.partition("-")
        try:
            timestamp = base36_to_int(timestamp_b36)
        except ValueError:
            return False
        secrets = [self.secret, *self.secret_fallbacks]
        if not any(
            constant_time_compare(self._make_token_with_timestamp(user, timestamp, secret), token)
            for secret in secrets
        ):
            return False
        age = self._num_seconds(self._now()) - timestamp
        return 0 <= age <= getattr(settings, self.lifetime_setting)


class PasswordResetTokens(_LinkTokens):
    """Bound to the password hash, the last sign-in and the email (Django's choice): setting the
    password, or signing in, spends the link."""

    key_salt = "accounts.selfservice.links.PasswordResetTokens"
    lifetime_setting = "PASSWORD_RESET_TIMEOUT"


class EmailConfirmationTokens(_LinkTokens):
    """Bound to the email, whether it is verified, the pending new email and the password hash:
    confirming spends the link, a newer email change makes an older link worthless, and so does
    a password set by any path (an account recovered from whoever asked for the change)."""

    key_salt = "accounts.selfservice.links.EmailConfirmationTokens"
    lifetime_setting = "EMAIL_VERIFICATION_LIFETIME_SECONDS"

    def _make_hash_value(self, user: User, timestamp: int) -> str:
        return (
            f"{user.pk}|{user.email}|{user.email_verified}|{user.pending_email}|{user.password}|{timestamp}"
        )


password_reset_tokens = PasswordResetTokens()
email_confirmation_tokens = EmailConfirmationTokens()


def _url(path: str) -> str:
    return settings.TOKEN_ISSUER.rstrip("/") + path


def email_confirmation_url(user: User) -> str:
    return _url(f"/email/confirm/{user.public_id}/{email_confirmation_tokens.make_token(user)}")


def password_reset_url(user: User) -> str:
    return _url(f"/password-reset/{user.public_id}/{password_reset_tokens.make_token(user)}")
