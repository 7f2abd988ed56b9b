"""Bearer access tokens (RFC 6750 §2.1) for the protected endpoints: the only way in."""

from rest_framework import HTTP_HEADER_ENCODING, exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from accounts import services
from accounts.errors import InvalidToken

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
        except InvalidToken:
            raise exceptions.AuthenticationFailed(INVALID_TOKEN_DETAIL) from None
        return user, session

    def authenticate_header(self, request: Request) -> str:
        # RFC 6750 §3: error="invalid_token" only when a token was sent.
        if bearer_credentials(request) is None:
            return "Bearer"
        return 'Bearer error="invalid_token"'
