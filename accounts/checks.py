"""System checks: a misconfigured token service refuses to start, with a clear message."""

from urllib.parse import urlsplit

from django.conf import settings
from django.core import checks
from django.core.checks import Error, Warning, register
from django.core.management.base import SystemCheckError

from accounts import keys


@register()
def token_settings_check(app_configs, **kwargs) -> list[Error]:
    errors = []
    algorithm = settings.ACCESS_TOKEN_ALGORITHM
    if algorithm not in keys.ACCESS_TOKEN_ALGORITHMS:
        errors.append(
            Error(
                f"ACCESS_TOKEN_ALGORITHM is {algorithm!r}.",
                hint=f"Use one of {', '.join(keys.ACCESS_TOKEN_ALGORITHMS)}.",
                id="accounts.E001",
            )
        )
    if settings.ACCESS_TOKEN_SIGNING_KEY and settings.ACCESS_TOKEN_SIGNING_KEY_FILE:
        errors.append(
            Error(
                "Both ACCESS_TOKEN_SIGNING_KEY and ACCESS_TOKEN_SIGNING_KEY_FILE are set.",
                hint="Set one of them.",
                id="accounts.E002",
            )
        )
    elif algorithm == "HS256" and (
        settings.ACCESS_TOKEN_SIGNING_KEY or settings.ACCESS_TOKEN_SIGNING_KEY_FILE
    ):
        errors.append(
            Warning(
                "ACCESS_TOKEN_SIGNING_KEY(_FILE) is ignored: ACCESS_TOKEN_ALGORITHM is HS256.",
                hint="Choose RS256, ES256 or EdDSA to sign with it, or unset it.",
                id="accounts.W001",
            )
        )
    elif algorithm in keys.ASYMMETRIC_ALGORITHMS:
        try:
            pem = keys.configured_private_key_pem()
            if pem is not None:
                keys.load_configured_key(pem, algorithm)
        except (OSError, ValueError, TypeError) as e:
            errors.append(
                Error(
                    f"The access token signing key cannot be used: {e}.",
                    hint=f"ACCESS_TOKEN_SIGNING_KEY(_FILE) must hold an unencrypted PEM private key for {algorithm}.",
                    id="accounts.E003",
                )
            )
    issuer = urlsplit(settings.TOKEN_ISSUER)
    if not issuer.scheme or not issuer.netloc or issuer.query or issuer.fragment:
        errors.append(
            Error(
                f"TOKEN_ISSUER {settings.TOKEN_ISSUER!r} is not a URL without query or fragment (RFC 8414 §2).",
                id="accounts.E004",
            )
        )
    elif issuer.scheme != "https" and not settings.DEBUG:
        errors.append(
            Error(
                f"TOKEN_ISSUER {settings.TOKEN_ISSUER!r} is not https while DJANGO_DEBUG=0.",
                hint="Set TOKEN_ISSUER to the https URL clients reach this service at.",
                id="accounts.E005",
            )
        )
    return errors


def refuse_to_start_if_misconfigured() -> None:
    """Run the system checks; raise SystemCheckError on any error.

    gunicorn and ASGI servers do not run Django's checks: the WSGI and ASGI applications call this
    when they load, so a misconfigured service refuses to start and says why.
    """
    errors = [
        message for message in checks.run_checks(include_deployment_checks=False) if message.is_serious()
    ]
    if errors:
        raise SystemCheckError("The service cannot start:\n" + "\n".join(str(message) for message in errors))
