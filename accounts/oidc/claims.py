"""The claims about a user that each scope releases (OpenID Connect Core §5.4)."""

from accounts.models import User


def subject(user: User) -> str:
    """The `sub` of a user: its public identifier, the same for every client, never reused."""
    return str(user.public_id)


def user_claims(user: User, scopes: list[str] | set[str]) -> dict:
    """`sub`, then `name` and `preferred_username` with profile, `email` and `email_verified` with email."""
    claims = {"sub": subject(user)}
    if "profile" in scopes:
        claims["name"] = user.get_full_name()
        claims["preferred_username"] = user.get_username()
    if "email" in scopes:
        claims["email"] = user.email
        claims["email_verified"] = user.email_verified
    return claims


CLAIMS_SUPPORTED = [
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "amr",
    "acr",
    "nonce",
    "sid",
    "name",
    "preferred_username",
    "email",
    "email_verified",
]
