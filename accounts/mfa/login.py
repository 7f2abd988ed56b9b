"""The second factor at POST /login (registered in accounts.apps through
accounts.services.register_second_factor)."""

from accounts.errors import InvalidCredentials, MfaRequired
from accounts.mfa import factors
from accounts.models import User


def second_factor_at_login(user: User, otp: str | None) -> list[str]:
    """[] for a user without a factor; ["otp", "mfa"] for a right code. Raises MfaRequired
    without one, InvalidCredentials for a wrong one (TooManyAttempts beyond the limit)."""
    if not factors.has_factor(user):
        return []
    if otp is None:
        raise MfaRequired()
    if not factors.verify(user, otp):
        raise InvalidCredentials()
    return [factors.OTP, factors.MFA]
