"""System checks: a misconfigured token service refuses to start, with a clear message."""

import ipaddress
import logging
from urllib.parse import urlsplit

from django.conf import settings
from django.core import checks
from django.core.checks import Error, Warning, register
from django.core.management.base import SystemCheckError
from django.db import DatabaseError

from accounts.callers import trusted_proxies
from accounts.federation.providers import issuer_problem
from accounts.keys import ACCESS_TOKEN_ALGORITHMS, ASYMMETRIC_ALGORITHMS, material

logger = logging.getLogger("accounts.checks")


@register()
def token_settings_check(app_configs, **kwargs) -> list[Error]:
    errors = []
    algorithm = settings.ACCESS_TOKEN_ALGORITHM
    if algorithm not in ACCESS_TOKEN_ALGORITHMS:
        errors.append(
            Error(
                f"ACCESS_TOKEN_ALGORITHM is {algorithm!r}.",
                hint=f"Use one of {', '.join(ACCESS_TOKEN_ALGORITHMS)}.",
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
    elif algorithm in ASYMMETRIC_ALGORITHMS:
        try:
            material.operator_key()
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
    if settings.GOOGLE_CLIENT_ID:
        problem = issuer_problem(settings.GOOGLE_ISSUER)
        if problem:
            errors.append(
                Error(
                    f"GOOGLE_ISSUER {settings.GOOGLE_ISSUER!r} cannot be used: {problem}.",
                    hint="Unset it for Google (https://accounts.google.com), or give the provider's https issuer.",
                    id="accounts.E007",
                )
            )
    try:
        trusted_proxies(tuple(settings.TRUSTED_PROXIES))
    except ValueError as e:
        errors.append(
            Error(
                f"TRUSTED_PROXIES: {e}.",
                hint="List addresses or networks, comma-separated.",
                id="accounts.E006",
            )
        )
    return errors


@register(deploy=True)
def issuer_deploy_check(app_configs, **kwargs) -> list[Warning]:
    """`check --deploy`: an issuer that is not https (the service still starts and serves)."""
    issuer = urlsplit(settings.TOKEN_ISSUER)
    if issuer.scheme == "http":
        return [
            Warning(
                f"TOKEN_ISSUER {settings.TOKEN_ISSUER!r} is not https.",
                hint="Set TOKEN_ISSUER to the https URL clients reach this service at.",
                id="accounts.W005",
            )
        ]
    return []


@register(deploy=True)
def email_deploy_check(app_configs, **kwargs) -> list[Warning]:
    """`check --deploy`: email that would only be printed (no EMAIL_HOST), so verification and
    password reset links would reach nobody."""
    if settings.EMAIL_BACKEND == "django.core.mail.backends.console.EmailBackend":
        return [
            Warning(
                "EMAIL_HOST is not set: the task worker prints each email (verification and password "
                "reset links) instead of sending it.",
                hint="Set EMAIL_HOST (and EMAIL_PORT, EMAIL_USE_TLS, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD).",
                id="accounts.W006",
            )
        ]
    return []


@register(deploy=True)
def passkey_deploy_check(app_configs, **kwargs) -> list[Warning]:
    """`check --deploy`: a passkey relying party ID that browsers refuse (an IP address)."""
    try:
        ipaddress.ip_address(settings.PASSKEY_RP_ID.strip("[]"))
    except ValueError:
        return []
    return [
        Warning(
            f"PASSKEY_RP_ID {settings.PASSKEY_RP_ID!r} is an IP address: browsers refuse passkeys there.",
            hint="Serve the service at a host name (TOKEN_ISSUER), or set PASSKEY_RP_ID and PASSKEY_ORIGINS.",
            id="accounts.W007",
        )
    ]


def start_up() -> None:
    """What a server process does before it serves: refuse to start when misconfigured, then
    make sure a signing key exists (accounts.keys.lifecycle).

    gunicorn and ASGI servers do not run Django's checks: the WSGI and ASGI applications call this
    when they load, so a misconfigured service refuses to start and says why. A database that
    does not answer yet does not stop it: requests answer 503 until it does, and `migrate`
    makes the key as well.
    """
    errors = [
        message for message in checks.run_checks(include_deployment_checks=False) if message.is_serious()
    ]
    if errors:
        raise SystemCheckError("The service cannot start:\n" + "\n".join(str(message) for message in errors))
    from accounts.health import not_migrated, pending_migrations
    from accounts.keys import lifecycle

    try:
        pending = pending_migrations()
    except DatabaseError:
        pending = []  # /healthz answers 503 until the database answers and is migrated
    if pending:
        raise SystemCheckError(f"The service cannot start: {not_migrated(pending)}")
    try:
        lifecycle.ensure_signing_key()
    except DatabaseError as e:
        logger.warning(
            "database unavailable at start-up; the signing key is checked at the next start: %s", e
        )
