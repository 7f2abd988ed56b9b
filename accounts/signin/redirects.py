"""Where a browser may go once it has signed in: the one check of every `next`. No HTTP here."""

from urllib.parse import urlsplit

from django.utils.http import url_has_allowed_host_and_scheme

# The pages of this service that a sign-in may continue to (a pending request of theirs).
CONTINUE_PATHS = (
    "/authorize",
    "/account",
    "/account/security",
    "/account/password",
    "/account/email",
    "/device",
    "/admin",
)


def after_sign_in(next_url: str | None) -> str | None:
    """`next_url` when it is a path of this service that a sign-in continues to (a pending
    /authorize request), else None: never another host, scheme or page."""
    if not next_url or not url_has_allowed_host_and_scheme(next_url, allowed_hosts=None):
        return None
    parts = urlsplit(next_url)
    if parts.scheme or parts.netloc or parts.path.rstrip("/") not in CONTINUE_PATHS:
        return None
    return next_url
