"""/userinfo, /introspect, /logout and the OpenID Connect discovery document."""

from http import HTTPStatus

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services
from accounts.errors import NO_STORE, InsufficientScope, InvalidClient, InvalidRequest
from accounts.oauth.clients import client_authenticate
from accounts.oauth.credentials import client_credentials
from accounts.oauth.models import Client
from accounts.oauth.views import SeeOtherToClient
from accounts.oidc import logout
from accounts.oidc.claims import user_claims
from accounts.oidc.introspection import token_introspect
from accounts.schema import OAUTH_ERROR, UNAUTHORIZED, form_or_json
from accounts.serializers import ClientAssertionFields, OAuthParametersSerializer, required_string
from accounts.signin import state


class UserInfoView(APIView):
    """OpenID Connect UserInfo: the claims of the access token's scopes (openid required)."""

    @extend_schema(
        responses={
            200: inline_serializer("UserInfo", {"sub": serializers.CharField()}),
            401: UNAUTHORIZED,
            403: OpenApiResponse(description="insufficient_scope: the token has no openid scope"),
        }
    )
    def get(self, request: Request) -> Response:
        scopes = getattr(request.auth, "access_token_scope", "").split()
        if "openid" not in scopes:
            raise InsufficientScope("The access token has no openid scope.")
        return Response(user_claims(request.user, scopes), headers={"Cache-Control": "no-store"})

    @extend_schema(
        request=None,
        operation_id="userinfo_post",
        responses={200: inline_serializer("UserInfoPost", {"sub": serializers.CharField()})},
    )
    def post(self, request: Request) -> Response:
        return self.get(request)


class IntrospectionSerializer(ClientAssertionFields, OAuthParametersSerializer):
    token = serializers.CharField()
    token_type_hint = serializers.CharField(required=False)
    client_id = serializers.CharField(required=False)
    client_secret = serializers.CharField(required=False, style={"input_type": "password"})


class IntrospectView(GenericAPIView):
    """RFC 7662, for resource servers registered as confidential clients."""

    authentication_classes = []
    permission_classes = []
    oauth_endpoint = True
    serializer_class = IntrospectionSerializer

    @extend_schema(
        request=form_or_json(IntrospectionSerializer),
        responses={
            200: inline_serializer("Introspection", {"active": serializers.BooleanField()}),
            400: OAUTH_ERROR,
            401: OAUTH_ERROR,
        },
        auth=[],
    )
    def post(self, request: Request) -> Response:
        serializer = self.get_serializer(data=request.data)
        try:
            serializer.is_valid(raise_exception=True)
        except InvalidRequest:
            # The client's authentication is checked first (the contract's order): with repeated
            # parameters, only an authenticated confidential client learns of them.
            self.confidential_client(request, _first_values(request.data))
            raise
        params = serializer.validated_data
        self.confidential_client(request, params)
        hint = params["token_type_hint"]
        answer = token_introspect(
            token=required_string(params, "token"), token_type_hint=hint if isinstance(hint, str) else None
        )
        return Response(answer, headers=NO_STORE)

    @staticmethod
    def confidential_client(request: Request, params: dict) -> Client:
        """The confidential client the request authenticates as; InvalidClient otherwise."""
        credentials = client_credentials(request, params)
        client = client_authenticate(credentials)
        if client is None or not client.confidential:
            raise InvalidClient(
                "Introspection needs a confidential client's authentication.", basic=credentials.basic
            )
        return client


def _first_values(data) -> dict:
    """client_id and client_secret of a body whose parameters could not all be read (repeated
    client credentials are themselves refused)."""
    values = {}
    for name in ("client_id", "client_secret", "client_assertion", "client_assertion_type"):
        sent = (
            data.getlist(name)
            if hasattr(data, "getlist")
            else [data.get(name)]
            if isinstance(data, dict)
            else []
        )
        sent = [value for value in sent if isinstance(value, str) and value.strip()]
        if len(sent) > 1:
            raise InvalidClient("The client's credentials were sent more than once.")
        values[name] = sent[0] if sent else None
    return values


@method_decorator([csrf_exempt, never_cache], name="dispatch")
class LogoutView(View):
    """RP-Initiated Logout 1.0: end the browser sign-in (and, with a valid id_token_hint, its
    token session), then redirect only to a registered post_logout_redirect_uri."""

    http_method_names = ["get", "post"]

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.logout(request, request.GET)

    def post(self, request: HttpRequest) -> HttpResponse:
        if "confirm" in request.POST:  # our own confirmation form: CSRF first
            return csrf_protect(lambda request: self.logout(request, request.POST, confirmed=True))(request)
        return self.logout(request, request.POST)

    def logout(self, request: HttpRequest, params, *, confirmed: bool = False) -> HttpResponse:
        decision = logout.decide(logout.parse(params), confirmed=confirmed)
        if isinstance(decision, logout.NeedsConfirmation):
            return render(request, "oidc/logout_confirm.html", {"hidden": decision.hidden})
        state.sign_out(request)
        if decision.session_id is not None:
            services.logout_revoke(session_id=decision.session_id)
        if decision.redirect_to is not None:
            return SeeOtherToClient(decision.redirect_to)
        return render(request, "oidc/signed_out.html", status=HTTPStatus.OK)
