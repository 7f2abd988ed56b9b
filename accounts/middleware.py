"""Answers given before or around a view: bodies too large, outages of the database or Redis.

DRF views render these errors themselves (accounts.errors.exception_handler); this covers the
rest: Django's own pages (the admin, /docs/), and failures inside other middleware (a session
saved at the end of a request, say), which reach `server_error`, Django's handler500.
"""

import sys

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.response import SimpleTemplateResponse
from django.views import defaults

from accounts.errors import OUTAGES, Error, RequestTooLarge, as_error
from accounts.health import health


def error_response(request: HttpRequest, error: Error) -> HttpResponse:
    """`error` as JSON for the API, or as a small HTML page for the admin's pages."""
    if request.path.startswith("/admin/"):
        response = SimpleTemplateResponse(
            "accounts/error.html", {"status": error.status, "error": error}, status=error.status
        )
    else:
        response = JsonResponse(error.body(), status=error.status)
    for name, value in error.headers().items():
        response[name] = value
    return response


class HealthCheckMiddleware:
    """GET /healthz, answered first: before the Host header is checked against ALLOWED_HOSTS
    (load balancers probe by address, with whatever Host), before HTTPS redirects, sessions or
    CSRF. 200 {"status": "ok"}, or 503 while the database does not answer or migrations are
    pending (accounts.health)."""

    PATHS = ("/healthz", "/healthz/")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info not in self.PATHS or request.method not in ("GET", "HEAD"):
            return self.get_response(request)
        healthy, body = health()
        response = JsonResponse(body, status=200 if healthy else 503)
        response["Cache-Control"] = "no-store"
        return response


class BodySizeLimitMiddleware:
    """413 before anything reads a body larger than DATA_UPLOAD_MAX_MEMORY_SIZE.

    Django caps urlencoded and JSON bodies itself, but spools a multipart body's file parts to
    disk whatever their size: the declared length decides here, before any parsing.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0  # Django reads such a body as empty
        if length > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            return error_response(request, RequestTooLarge())
        return self.get_response(request)


class OutageMiddleware:
    """A view that meets a database or Redis outage answers 503, not 500 (also with DEBUG on)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        error = as_error(exception, oauth_endpoint=False)
        return (
            error_response(request, error)
            if isinstance(exception, OUTAGES) and isinstance(error, Error)
            else None
        )


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: an outage met outside a view is still a 503; anything else is Django's 500."""
    exception = sys.exc_info()[1]
    if isinstance(exception, OUTAGES):
        error = as_error(exception, oauth_endpoint=False)
        if isinstance(error, Error):
            response = error_response(request, error)
            if hasattr(response, "render"):
                response.render()
            return response
    return defaults.server_error(request)


class FrameAncestorsMiddleware:
    """No page of the service can be framed: CSP frame-ancestors 'none' beside X-Frame-Options."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", "frame-ancestors 'none'")
        return response
