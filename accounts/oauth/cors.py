"""CORS (django-cors-headers): an origin is allowed when an active client registered it.

django-cors-headers answers preflights and sets the headers for CORS_URLS_REGEX; this signal
handler is its only source of allowed origins (CORS_ALLOWED_ORIGINS stays empty).
"""

from accounts.oauth.models import Client


def origin_is_registered(sender, request, **kwargs) -> bool:
    """corsheaders' check_request_enabled: whether the request's Origin belongs to a client."""
    origin = request.META.get("HTTP_ORIGIN")
    if not origin:
        return False
    # A small table, read whole: JSON `contains` lookups are not portable to SQLite.
    return any(
        origin in origins
        for origins in Client.objects.filter(is_active=True).values_list("allowed_origins", flat=True)
    )
