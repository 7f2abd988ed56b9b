"""The error vocabulary of the service: each error knows its status, its body and its headers.

Services raise these exceptions and know nothing of HTTP. An error renders itself
(`status`, `body()`, `headers()`); `exception_handler` (DRF's EXCEPTION_HANDLER) and
`accounts.middleware` only translate what is not one of ours yet (a database or Redis outage, a
body too large, DRF's own parse errors at the OAuth endpoints) and then render it, in one branch.
"""

from http import HTTPStatus

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import DatabaseError
from redis.exceptions import RedisError
from rest_framework import exceptions
from rest_framework.response import Response

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}

# How long a client should wait before retrying after an outage answer (seconds).
OUTAGE_RETRY_AFTER = 5


class Error(Exception):
    """Base of the errors the service raises on purpose; rendered as `status`, `body()`, `headers()`."""

    status: HTTPStatus = HTTPStatus.BAD_REQUEST

    def body(self) -> dict:
        raise NotImplementedError

    def headers(self) -> dict[str, str]:
        return dict(NO_STORE)


class OAuthError(Error):
    """An RFC 6749 §5.2 error: {"error": ..., "error_description": ...}."""

    error = "invalid_request"

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description

    def body(self) -> dict:
        return {"error": self.error, "error_description": self.description}


class InvalidRequest(OAuthError):
    error = "invalid_request"


class UnsupportedGrantType(OAuthError):
    error = "unsupported_grant_type"


class InvalidGrant(OAuthError):
    error = "invalid_grant"


class UnauthorizedClient(OAuthError):
    """RFC 6749 §5.2: the client may not use this grant (or response type)."""

    error = "unauthorized_client"


class InvalidScope(OAuthError):
    error = "invalid_scope"


class InvalidTarget(OAuthError):
    """RFC 8707 §2: the `resource` is not a registered API's identifier."""

    error = "invalid_target"


class UnsupportedResponseType(OAuthError):
    """RFC 6749 §4.1.2.1: /authorize answers only response_type=code."""

    error = "unsupported_response_type"


class AccessDenied(OAuthError):
    """RFC 6749 §4.1.2.1: the user (or the service's policy) refused the request."""

    error = "access_denied"


class AuthorizationPending(OAuthError):
    """RFC 8628 §3.5: the user has not yet approved the device; poll again after the interval."""

    error = "authorization_pending"


class SlowDown(OAuthError):
    """RFC 8628 §3.5: polled sooner than the interval, which now grows by 5 seconds."""

    error = "slow_down"


class ExpiredToken(OAuthError):
    """RFC 8628 §3.5: the device code has expired; the device starts again."""

    error = "expired_token"


class InvalidDpopProof(OAuthError):
    """RFC 9449 §5, §7.1: the DPoP proof is missing or breaks a rule (the description says which)."""

    error = "invalid_dpop_proof"


class UseDpopNonce(InvalidDpopProof):
    """RFC 9449 §8: the proof must carry the server's nonce, sent in the DPoP-Nonce header."""

    error = "use_dpop_nonce"

    def headers(self) -> dict[str, str]:
        from accounts.dpop.proofs import current_nonce

        return {**super().headers(), "DPoP-Nonce": current_nonce()}


class DpopUnauthorized(Error):
    """A protected endpoint's refusal of a DPoP request (RFC 9449 §7.1): 401 with the DPoP
    challenge naming the error, and the nonce to use when that is the error."""

    status = HTTPStatus.UNAUTHORIZED

    def __init__(self, error: InvalidDpopProof | str, description: str | None = None) -> None:
        self.error = error.error if isinstance(error, InvalidDpopProof) else error
        self.description = error.description if isinstance(error, InvalidDpopProof) else description
        super().__init__(self.description)

    def body(self) -> dict:
        return {"detail": self.description}

    def headers(self) -> dict[str, str]:
        from accounts.dpop.proofs import ALGORITHMS, current_nonce

        # Printable ASCII only: a request's path can reach the description, and a header cannot
        # hold control characters (gunicorn refuses them) or non-Latin-1 text.
        description = "".join(c if " " <= c <= "~" and c not in '"\\' else "?" for c in self.description)
        challenge = (
            f'DPoP error="{self.error}", error_description="{description}", algs="{" ".join(ALGORITHMS)}"'
        )
        nonce = {"DPoP-Nonce": current_nonce()} if self.error == "use_dpop_nonce" else {}
        return {**super().headers(), "WWW-Authenticate": challenge, **nonce}


class LoginRequired(OAuthError):
    """OpenID Connect Core §3.1.2.6: prompt=none, and the user must sign in."""

    error = "login_required"


class ConsentRequired(OAuthError):
    """OpenID Connect Core §3.1.2.6: prompt=none, and the user must consent."""

    error = "consent_required"


class UntrustedRedirect(InvalidRequest):
    """An authorization request with no usable client or redirect_uri (RFC 6749 §4.1.2.1): never
    redirected, since there is no URI to trust. /authorize shows it as an error page; an endpoint
    that answers JSON renders it as invalid_request."""


class InvalidClientMetadata(OAuthError):
    """RFC 7591 §3.2.2: a client's registration breaks a rule; the description says which."""

    error = "invalid_client_metadata"


class InvalidRedirectUri(InvalidClientMetadata):
    """RFC 7591 §3.2.2: a redirect URI that cannot be registered."""

    error = "invalid_redirect_uri"


class InvalidClient(OAuthError):
    """RFC 6749 §5.2: client authentication failed: 401, with a Basic challenge where Basic was used."""

    error = "invalid_client"
    status = HTTPStatus.UNAUTHORIZED

    def __init__(self, description: str, *, basic: bool = False) -> None:
        super().__init__(description)
        self.basic = basic

    def headers(self) -> dict[str, str]:
        return {**({"WWW-Authenticate": 'Basic realm="token"'} if self.basic else {}), **NO_STORE}


class InsufficientScope(Error):
    """RFC 6750 §3.1: a valid access token that this endpoint does not accept (403)."""

    status = HTTPStatus.FORBIDDEN

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description

    def body(self) -> dict:
        return {
            "error": "insufficient_scope",
            "error_description": self.description,
            "detail": self.description,
        }

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer error="insufficient_scope"', "Cache-Control": "no-store"}


class RequestTooLarge(InvalidRequest):
    status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE

    def __init__(self) -> None:
        super().__init__("The request body is too large.")


class TooManyAttempts(OAuthError):
    """Too many failed sign-ins for this client and username: 429 with Retry-After."""

    error = "too_many_requests"
    status = HTTPStatus.TOO_MANY_REQUESTS

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Too many failed attempts. Retry after {retry_after} seconds.")
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after), **NO_STORE}


class MfaRequired(OAuthError):
    """POST /login of a user with a second factor, without `otp`: 401 mfa_required."""

    error = "mfa_required"
    status = HTTPStatus.UNAUTHORIZED

    def __init__(self) -> None:
        super().__init__("This account has a second factor: send its code as 'otp'.")

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer", **NO_STORE}


class TooManyRequests(TooManyAttempts):
    """Too many requests that send an email, for this address or from this client: 429."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.description = f"Too many requests. Retry after {retry_after} seconds."
        self.args = (self.description,)


class FieldErrors(Error):
    """A request a rule refused, field by field: 400 `{field: [message, ...]}` (DRF's shape)."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(errors)
        self.errors = errors

    def body(self) -> dict:
        return self.errors


class TemporarilyUnavailable(OAuthError):
    """The database or Redis does not answer: 503 with Retry-After; nothing was changed."""

    error = "temporarily_unavailable"
    status = HTTPStatus.SERVICE_UNAVAILABLE

    def __init__(self, description: str = "The service is temporarily unavailable; retry shortly.") -> None:
        super().__init__(description)

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(OUTAGE_RETRY_AFTER), **NO_STORE}


class InvalidCredentials(Error):
    """Unknown user, wrong password or disabled user: one answer for all three."""

    status = HTTPStatus.UNAUTHORIZED

    def body(self) -> dict:
        return {"detail": "Incorrect username or password"}

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer", **NO_STORE}


class UnusableAccessToken(Exception):
    """An access token that must not open a protected endpoint. The reason stays server-side.
    (Not simplejwt's InvalidToken, an HTTP exception of its own views, which this service has not.)

    Not rendered by itself: the authentication class turns it into DRF's 401 with the
    RFC 6750 challenge, like every other unauthenticated request.
    """


OUTAGES = (DatabaseError, RedisError)


def as_error(exc: Exception, *, oauth_endpoint: bool) -> Exception:
    """`exc` as one of ours when it has a meaning in the contract; otherwise `exc` itself.

    An IntegrityError or DataError is a bug, not an outage: it stays what it is (a 500 to fix).
    """
    from django.db import DataError, IntegrityError

    if isinstance(exc, OUTAGES) and not isinstance(exc, (IntegrityError, DataError)):
        return TemporarilyUnavailable()
    if isinstance(exc, RequestDataTooBig):
        return RequestTooLarge()
    if oauth_endpoint and isinstance(exc, SuspiciousOperation):  # e.g. too many form fields
        return InvalidRequest(str(exc) or "The request is malformed.")
    if oauth_endpoint and isinstance(exc, exceptions.APIException) and 400 <= exc.status_code < 500:
        return _OAuthShaped(exc)
    if isinstance(exc, SuspiciousOperation):
        return exceptions.ParseError(str(exc) or "The request is malformed.")
    return exc


class _OAuthShaped(InvalidRequest):
    """DRF's own 4xx (a broken JSON body, an unsupported media type, a wrong method) at an OAuth
    endpoint, in the RFC 6749 shape, so every error body there carries `error_description`."""

    def __init__(self, exc: exceptions.APIException) -> None:
        super().__init__(_text(exc.detail))
        self.status = exc.status_code

    def headers(self) -> dict[str, str]:
        return {"Cache-Control": "no-store"}


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF's exception handler: ours render themselves; the rest is DRF's."""
    # Imported here: rest_framework.views imports the authentication classes, which import
    # the services, which import this module.
    from rest_framework.views import exception_handler as drf_exception_handler

    exc = as_error(exc, oauth_endpoint=getattr(context.get("view"), "oauth_endpoint", False))
    if isinstance(exc, Error):
        return Response(exc.body(), status=exc.status, headers=exc.headers())
    return drf_exception_handler(exc, context)


def _text(detail) -> str:
    if isinstance(detail, dict):
        return "; ".join(f"{key}: {_text(value)}" for key, value in detail.items())
    if isinstance(detail, list):
        return "; ".join(_text(item) for item in detail)
    return str(detail)
