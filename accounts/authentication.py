"""Access tokens for the protected endpoints: `Authorization: Bearer` (RFC 6750 §2.1), or
`Authorization: DPoP` with a DPoP proof of the key the token is bound to (RFC 9449 §7)."""

from django.conf import settings
from rest_framework import HTTP_HEADER_ENCODING, exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from accounts import services
from accounts.dpop import proofs
from accounts.errors import DpopUnauthorized, InsufficientScope, InvalidDpopProof, UnusableAccessToken

INVALID_TOKEN_DETAIL = "Could not validate credentials"


def bearer_credentials(request: Request, scheme_name: str = "bearer") -> str | None:
    """The token of an `Authorization: Bearer <token>` header (scheme case-insensitive), or None;
    of `Authorization: DPoP <token>` with `scheme_name="dpop"`.

    Returns "" for a header whose credentials are not one token (empty or with spaces).
    """
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if isinstance(header, bytes):
        header = header.decode(HTTP_HEADER_ENCODING, errors="replace")
    scheme, _, credentials = header.strip().partition(" ")
    if scheme.lower() != scheme_name:
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
            return self.authenticate_dpop(request)
        try:
            user, session = services.access_token_authenticate(access_token=token)
        except UnusableAccessToken:
            raise exceptions.AuthenticationFailed(INVALID_TOKEN_DETAIL) from None
        if session.access_token_jkt:  # RFC 9449 §7.2: a bound token is no bearer token
            raise DpopUnauthorized(
                "invalid_token", "This access token is DPoP-bound: send it as DPoP, with a proof."
            )
        return user, session

    def authenticate_dpop(self, request: Request):
        """`Authorization: DPoP <token>` and a `DPoP` proof for this request (its method and
        URL, the token's `ath`) made with the key of the token's `cnf.jkt`."""
        token = bearer_credentials(request, "dpop")
        if token is None:
            return None
        try:
            user, session = services.access_token_authenticate(access_token=token)
        except UnusableAccessToken:
            raise DpopUnauthorized("invalid_token", INVALID_TOKEN_DETAIL) from None
        if not session.access_token_jkt:
            raise DpopUnauthorized("invalid_token", "This access token is not DPoP-bound: send it as Bearer.")
        url = settings.TOKEN_ISSUER.rstrip("/") + request.path_info
        try:
            proof = proofs.verify(
                request.META.get("HTTP_DPOP"), method=request.method, url=url, access_token=token
            )
        except InvalidDpopProof as e:
            raise DpopUnauthorized(e) from None
        if proof.jkt != session.access_token_jkt:
            raise DpopUnauthorized(
                "invalid_dpop_proof", "The DPoP proof's key is not the one the token is bound to."
            )
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
