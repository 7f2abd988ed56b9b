"""CORS (django-cors-headers): an origin is allowed when an active client registered it.

django-cors-headers answers preflights and sets the headers for CORS_URLS_REGEX; this signal
handler is its only source of allowed origins (CORS_ALLOWED_ORIGINS stays empty).
"""

import re

from django.conf import settings

from accounts.oauth.models import Client


def origin_is_registered(sender, request, **kwargs) -> bool:
    """corsheaders' check_request_enabled: whether the request is to a CORS path
    (CORS_URLS_REGEX: corsheaders enables CORS when its own checks or this signal say so, so the
    path is checked here too) from an origin that belongs to an active client."""
    origin = request.META.get("HTTP_ORIGIN")
    if not origin or not re.match(settings.CORS_URLS_REGEX, request.path_info):
        return False
    # A small table, read whole: JSON `contains` lookups are not portable to SQLite.
    return any(
        origin in origins
        for origins in Client.objects.filter(is_active=True).values_list("allowed_origins", flat=True)
    )
