"""Bearer access tokens (RFC 6750 §2.1) for the protected endpoints: the only way in."""

from rest_framework import HTTP_HEADER_ENCODING, exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from accounts import services
from accounts.errors import InsufficientScope, UnusableAccessToken

INVALID_TOKEN_DETAIL = "Could not validate credentials"


def bearer_credentials(request: Request) -> str | None:
    """The token of an `Authorization: Bearer <token>` header (scheme case-insensitive), or None.

    Returns "" for a Bearer header whose credentials are not one token (empty or with spaces).
    """
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if isinstance(header, bytes):
        header = header.decode(HTTP_HEADER_ENCODING, errors="replace")
    scheme, _, credentials = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    credentials = credentials.strip()
    return "" if not credentials or " " in credentials else credentials


class BearerAccessTokenAuthentication(BaseAuthentication):
    """Authenticates an access token against its session and user (one query).

    Sets `request.auth` to the session, so views know the session of the token used.
    """

    def authenticate(self, request: Request):
        token = bearer_credentials(request)
        if token is None:
            return None
        try:
            user, session = services.access_token_authenticate(access_token=token)
        except UnusableAccessToken:
            raise exceptions.AuthenticationFailed(INVALID_TOKEN_DETAIL) from None
        return user, session

    def authenticate_header(self, request: Request) -> str:
        # RFC 6750 §3: error="invalid_token" only when a token was sent.
        if bearer_credentials(request) is None:
            return "Bearer"
        return 'Bearer error="invalid_token"'


class OwnAccount(BasePermission):
    """The user's own account (/users/me/ and its sessions): tokens of /login and token-exchange
    sessions and of first-party clients' sessions. A third-party client's token gets 403
    insufficient_scope: such apps read the user through /userinfo, within the granted scopes."""

    def has_permission(self, request: Request, view) -> bool:
        session = request.auth
        if session is not None and session.client is not None and not session.client.first_party:
            raise InsufficientScope(
                "This endpoint is the user's own account: a third-party client's token cannot use it."
            )
        return True
