"""One small view per endpoint: parse with a serializer, call one service, render."""

from http import HTTPStatus

from rest_framework.exceptions import NotFound
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import services
from accounts.errors import NO_STORE
from accounts.serializers import (
    LoginSerializer,
    RefreshGrantSerializer,
    RevocationSerializer,
    SessionSerializer,
    TokenResponseSerializer,
    UserSerializer,
)


def client_of(request: Request) -> services.Client:
    """The user agent and address of the caller, as recorded on its session."""
    return services.Client(
        user_agent=request.META.get("HTTP_USER_AGENT", ""),
        ip_address=request.META.get("REMOTE_ADDR") or None,
    )


def token_response(issued: services.IssuedTokens) -> Response:
    """The RFC 6749 §5.1 success response."""
    body = TokenResponseSerializer(
        {
            "access_token": issued.access_token,
            "token_type": "bearer",
            "expires_in": issued.expires_in,
            "refresh_token": issued.refresh_token,
            "refresh_expires_in": issued.refresh_expires_in,
        }
    ).data
    return Response(body, headers=NO_STORE)


class OAuthEndpoint(GenericAPIView):
    """A POST endpoint of the token service: no authentication, OAuth error bodies."""

    authentication_classes = []
    permission_classes = [AllowAny]
    oauth_endpoint = True  # accounts.errors renders every 4xx here as an OAuth error

    def parameters(self, request: Request) -> dict[str, str | None]:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


class LoginView(OAuthEndpoint):
    """Log in with a username and password: a new session and its first token pair."""

    serializer_class = LoginSerializer

    def post(self, request: Request) -> Response:
        params = self.parameters(request)
        issued = services.login(
            username=params["username"], password=params["password"], client=client_of(request)
        )
        return token_response(issued)


class TokenView(OAuthEndpoint):
    """The token endpoint: grant_type=refresh_token spends a refresh token for a new pair."""

    serializer_class = RefreshGrantSerializer

    def post(self, request: Request) -> Response:
        params = self.parameters(request)
        issued = services.refresh_token_rotate(
            refresh_token=params["refresh_token"], client=client_of(request)
        )
        return token_response(issued)


class MeView(GenericAPIView):
    """The signed-in user."""

    serializer_class = UserSerializer

    def get(self, request: Request) -> Response:
        return Response(UserSerializer(request.user).data, headers={"Cache-Control": "no-store"})


class RevokeView(OAuthEndpoint):
    """RFC 7009 revocation: 200 for any token; a valid one ends its session."""

    serializer_class = RevocationSerializer

    def post(self, request: Request) -> Response:
        params = self.parameters(request)
        services.token_revoke(token=params["token"], token_type_hint=params["token_type_hint"])
        return Response(status=HTTPStatus.OK, headers=NO_STORE)


class SessionListView(GenericAPIView):
    """The signed-in user's active sessions; DELETE logs out everywhere."""

    serializer_class = SessionSerializer

    def get(self, request: Request) -> Response:
        sessions = services.session_list(user=request.user)
        serializer = SessionSerializer(sessions, many=True, context={"current_session_id": request.auth.pk})
        return Response(serializer.data, headers={"Cache-Control": "no-store"})

    def delete(self, request: Request) -> Response:
        services.user_logout_everywhere(user=request.user)
        return Response(status=HTTPStatus.NO_CONTENT)


class SessionDetailView(GenericAPIView):
    """DELETE revokes one session of the signed-in user."""

    serializer_class = SessionSerializer

    def delete(self, request: Request, session_id: str) -> Response:
        if not services.session_revoke(user=request.user, session_id=session_id):
            raise NotFound("No active session with this id.")
        return Response(status=HTTPStatus.NO_CONTENT)
