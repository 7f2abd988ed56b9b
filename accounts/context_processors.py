"""What every page for people shows: the service's name and logo (SERVICE_NAME, SERVICE_LOGO_URL)."""

from django.conf import settings


def service(request) -> dict:
    return {"service_name": settings.SERVICE_NAME, "service_logo_url": settings.SERVICE_LOGO_URL}
