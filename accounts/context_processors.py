"""What every page for people shows: the service's name and logo (SERVICE_NAME, SERVICE_LOGO_URL),
and the origins where its passkey buttons work (PASSKEY_ORIGINS; elsewhere they point there)."""

from django.conf import settings


def service(request) -> dict:
    return {
        "service_name": settings.SERVICE_NAME,
        "service_logo_url": settings.SERVICE_LOGO_URL,
        "passkey_origins": " ".join(settings.PASSKEY_ORIGINS),
    }
