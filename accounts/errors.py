"""The error vocabulary of the service and the one place that renders it as HTTP.

Services raise these exceptions and know nothing of HTTP; `exception_handler` (DRF's
EXCEPTION_HANDLER) turns them into the contract's bodies, status codes and headers.
"""

from http import HTTPStatus

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from rest_framework import exceptions
from rest_framework.response import Response

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class ServiceError(Exception):
    """Base of every error a service raises on purpose."""


class OAuthError(ServiceError):
    """An RFC 6749 §5.2 error: rendered as 400 {"error": ..., "error_description": ...}."""

    error = "invalid_request"
    status = HTTPStatus.BAD_REQUEST

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


class InvalidRequest(OAuthError):
    error = "invalid_request"


class UnsupportedGrantType(OAuthError):
    error = "unsupported_grant_type"


class InvalidGrant(OAuthError):
    error = "invalid_grant"


class InvalidCredentials(ServiceError):
    """Unknown user, wrong password or disabled user: one answer for all three."""

    detail = "Incorrect username or password"


class Throttled(ServiceError):
    """Too many failures: rendered as 429 with Retry-After."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


class InvalidToken(ServiceError):
    """An access token that must not open a protected endpoint. The reason stays server-side."""


def oauth_error_response(exc: OAuthError) -> Response:
    return Response(
        {"error": exc.error, "error_description": exc.description},
        status=exc.status,
        headers=NO_STORE,
    )


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF's exception handler, extended with the service's errors.

    At the OAuth endpoints (views with `oauth_endpoint = True`) DRF's own 4xx errors (a broken
    JSON body, an unsupported media type, a wrong method) are rendered in the RFC 6749 shape too,
    so every error body there carries `error_description`.
    """
    # Imported here: rest_framework.views imports the authentication classes, which import
    # the services, which import this module.
    from rest_framework.views import exception_handler as drf_exception_handler

    if isinstance(exc, OAuthError):
        return oauth_error_response(exc)
    if isinstance(exc, InvalidCredentials):
        return Response(
            {"detail": exc.detail},
            status=HTTPStatus.UNAUTHORIZED,
            headers={"WWW-Authenticate": "Bearer", **NO_STORE},
        )
    if isinstance(exc, RequestDataTooBig):
        exc = exceptions.APIException("The request body is too large.")
        exc.status_code = HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    elif isinstance(exc, SuspiciousOperation):  # e.g. too many form fields
        exc = exceptions.ParseError(str(exc) or "The request is malformed.")
    if isinstance(exc, Throttled):
        return Response(
            {
                "error": "too_many_requests",
                "error_description": f"Too many failed attempts. Retry after {exc.retry_after} seconds.",
            },
            status=HTTPStatus.TOO_MANY_REQUESTS,
            headers={"Retry-After": str(exc.retry_after), **NO_STORE},
        )
    view = context.get("view")
    if isinstance(exc, exceptions.APIException) and getattr(view, "oauth_endpoint", False):
        response = drf_exception_handler(exc, context)
        if response is not None and 400 <= response.status_code < 500:
            response.data = {"error": "invalid_request", "error_description": _text(exc.detail)}
            response["Cache-Control"] = "no-store"
        return response
    return drf_exception_handler(exc, context)


def _text(detail) -> str:
    if isinstance(detail, dict):
        return "; ".join(f"{key}: {_text(value)}" for key, value in detail.items())
    if isinstance(detail, list):
        return "; ".join(_text(item) for item in detail)
    return str(detail)
