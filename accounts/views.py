"""One small view per endpoint: parse with a serializer, call one service, render."""

import dataclasses
from http import HTTPStatus

from django.conf import settings
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django.views.generic import TemplateView
from drf_spectacular.utils import OpenApiResponse, extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.exceptions import NotFound
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services
from accounts.apis import scopes as api_scopes
from accounts.authentication import OwnAccount
from accounts.callers import Caller, caller_of
from accounts.dpop import proofs
from accounts.errors import NO_STORE, InvalidDpopProof, OAuthError
from accounts.grants import grants
from accounts.health import health
from accounts.keys import ring
from accounts.oauth.assertions import ASYMMETRIC_ALGORITHMS
from accounts.oauth.authorize import MFA_ACR
from accounts.oauth.clients import client_auth_methods, client_authenticate
from accounts.oauth.credentials import client_credentials
from accounts.oauth.models import DEVICE_CODE
from accounts.oidc.claims import CLAIMS_SUPPORTED
from accounts.schema import BODY_ERRORS, OAUTH_ERROR, UNAUTHORIZED, form_or_json
from accounts.serializers import (
    AuthorizationServerMetadataSerializer,
    DetailSerializer,
    HealthSerializer,
    JwksSerializer,
    LoginSerializer,
    RevocationSerializer,
    SessionSerializer,
    TokenRequestSerializer,
    TokenResponseSerializer,
    UserSerializer,
    required_string,
    user_representation,
)


def token_response(issued: services.IssuedTokens, *, issued_token_type: str | None = None) -> Response:
    """The RFC 6749 §5.1 success response (RFC 8693 §2.2.1's, with `issued_token_type`), as
    TokenResponseSerializer describes it; built as a dict (a serializer's field objects cost more
    than the whole body)."""
    body = {
        "access_token": issued.access_token,
        "token_type": issued.token_type,
        "expires_in": issued.expires_in,
        # None for a client's own token (client credentials: no refresh token, RFC 6749 §4.4.3).
        **(
            {"refresh_token": issued.refresh_token, "refresh_expires_in": issued.refresh_expires_in}
            if issued.refresh_token is not None
            else {}
        ),
        **({"scope": issued.scope} if issued.scope is not None else {}),
        **issued.extra,  # the issuance extensions' fields (the ID token, ...)
        **({"issued_token_type": issued_token_type} if issued_token_type else {}),
    }
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

    @extend_schema(
        request=form_or_json(LoginSerializer),
        responses={
            200: TokenResponseSerializer,
            400: OAUTH_ERROR,
            401: OpenApiResponse(
                DetailSerializer,
                description="Incorrect username or password (or a wrong `otp`); "
                '`{"error": "mfa_required", ...}` for a user with a second factor who sent no `otp`.',
            ),
            **BODY_ERRORS,
        },
        auth=[],
    )
    def post(self, request: Request) -> Response:
        params = self.parameters(request)
        issued = services.login(
            username=params["username"],
            password=params["password"],
            otp=params.get("otp"),
            caller=caller_of(request),
        )
        return token_response(issued)


class TokenView(OAuthEndpoint):
    """The token endpoint: one grant class per grant_type (accounts.grants)."""

    serializer_class = TokenRequestSerializer

    def get_serializer(self, *args, **kwargs):
        # The grants of this request, read once (the token exchange only while configured).
        self.grants = grants()
        return super().get_serializer(*args, grant_types=self.grants, **kwargs)

    @extend_schema(
        request=form_or_json(TokenRequestSerializer),
        responses={200: TokenResponseSerializer, 400: OAUTH_ERROR, 401: OAUTH_ERROR, **BODY_ERRORS},
        auth=[],
    )
    def post(self, request: Request) -> Response:
        params = self.parameters(request)
        grant_type = params["grant_type"]
        try:
            client = client_authenticate(client_credentials(request, params))
        except OAuthError:
            self.grants.settle(grant_type, None)  # unsupported_grant_type comes first
            raise
        grant = self.grants.settle(grant_type, client)(params, client=client, caller=caller_of(request))
        # The proof last, once the grant has checked its own parameters: a request refused for
        # another reason spends no proof.
        grant.caller = dpop_caller(request, grant.caller, required=client is not None and client.require_dpop)
        response = token_response(grant.issue(), issued_token_type=grant.issued_token_type)
        if settings.DPOP_NONCE_REQUIRED:
            response["DPoP-Nonce"] = proofs.current_nonce()  # the nonce of the client's next proof
        return response


def dpop_caller(request: Request, caller: Caller, *, required: bool) -> Caller:
    """`caller` with the key its DPoP proof proves (RFC 9449 §4.3: the header of this POST to
    this endpoint's URL, built from TOKEN_ISSUER), or as it is when there is no proof. Raises
    InvalidDpopProof for a bad proof, or for none when `required` (the client's require_dpop)."""
    header = request.META.get("HTTP_DPOP")
    if header is None:
        if required:
            raise InvalidDpopProof("This client must send a DPoP proof with each token request (RFC 9449).")
        return caller
    url = settings.TOKEN_ISSUER.rstrip("/") + request.path_info
    return dataclasses.replace(caller, dpop_jkt=proofs.verify(header, method=request.method, url=url).jkt)


class MeView(GenericAPIView):
    """The signed-in user, for a request with an access token: `Authorization: Bearer <token>`.

    Get one at /login (its page here has the form), or press Authorize on /docs/ and try this
    endpoint there.
    """

    serializer_class = UserSerializer
    permission_classes = [IsAuthenticated, OwnAccount]

    @extend_schema(responses={200: UserSerializer, 401: UNAUTHORIZED})
    def get(self, request: Request) -> Response:
        return Response(user_representation(request.user), headers={"Cache-Control": "no-store"})


class RevokeView(OAuthEndpoint):
    """RFC 7009 revocation: 200 for any token; a valid one ends its session."""

    serializer_class = RevocationSerializer

    @extend_schema(
        request=form_or_json(RevocationSerializer),
        responses={
            200: OpenApiResponse(description="Empty: the token is no longer valid."),
            400: OAUTH_ERROR,
            413: BODY_ERRORS[413],
            415: BODY_ERRORS[415],
        },
        auth=[],
    )
    def post(self, request: Request) -> Response:
        params = self.parameters(request)
        client = client_authenticate(client_credentials(request, params))
        services.token_revoke(
            token=required_string(params, "token"), token_type_hint=params["token_type_hint"], client=client
        )
        return Response(status=HTTPStatus.OK, headers=NO_STORE)


class SessionListView(APIView):
    """The signed-in user's active sessions; DELETE logs out everywhere."""

    permission_classes = [IsAuthenticated, OwnAccount]

    @extend_schema(responses={200: SessionSerializer(many=True), 401: UNAUTHORIZED})
    def get(self, request: Request) -> Response:
        sessions = services.session_list(user=request.user)
        serializer = SessionSerializer(sessions, many=True, context={"current_session_id": request.auth.pk})
        return Response(serializer.data, headers={"Cache-Control": "no-store"})

    @extend_schema(
        summary="Log out everywhere",
        operation_id="users_me_sessions_destroy_all",
        responses={204: OpenApiResponse(description="Every session revoked."), 401: UNAUTHORIZED},
    )
    def delete(self, request: Request) -> Response:
        services.user_logout_everywhere(user=request.user)
        return Response(status=HTTPStatus.NO_CONTENT)


class SessionDetailView(APIView):
    """DELETE revokes one session of the signed-in user."""

    permission_classes = [IsAuthenticated, OwnAccount]

    @extend_schema(
        responses={
            204: OpenApiResponse(description="Revoked."),
            401: UNAUTHORIZED,
            404: OpenApiResponse(DetailSerializer, description="No active session of yours with this id."),
        },
    )
    def delete(self, request: Request, session_id: str) -> Response:
        if not services.session_revoke(user=request.user, session_id=session_id):
            raise NotFound("No active session with this id.")
        return Response(status=HTTPStatus.NO_CONTENT)


# /.well-known/* answer every origin: they are public documents (no credentials involved).
ANY_ORIGIN = {"Access-Control-Allow-Origin": "*"}


class PublicEndpoint(GenericAPIView):
    authentication_classes = []
    permission_classes = [AllowAny]


class JwksView(PublicEndpoint):
    """RFC 7517: the public keys that verify access tokens, retired ones until their tokens expire."""

    @extend_schema(responses={200: JwksSerializer})
    def get(self, request: Request) -> Response:
        return Response(ring.jwks(), headers={"Cache-Control": "public, max-age=300", **ANY_ORIGIN})


class AuthorizationServerMetadataView(PublicEndpoint):
    """RFC 8414 authorization server metadata, served at /.well-known/oauth-authorization-server
    and, the same document, as OpenID Connect Discovery 1.0's /.well-known/openid-configuration."""

    @extend_schema(responses={200: AuthorizationServerMetadataSerializer})
    def get(self, request: Request) -> Response:
        return Response(
            authorization_server_metadata(), headers={"Cache-Control": "public, max-age=3600", **ANY_ORIGIN}
        )


def authorization_server_metadata() -> dict:
    """RFC 8414 metadata, which is also the OpenID Connect discovery document: every endpoint URL
    is the issuer followed by the endpoint's path."""
    issuer = settings.TOKEN_ISSUER
    base = issuer.rstrip("/")
    auth_methods = client_auth_methods()
    confidential_auth_methods = client_auth_methods(confidential_only=True)
    grant_types = list(grants())
    devices = (
        {"device_authorization_endpoint": f"{base}/device_authorization"}
        if DEVICE_CODE in grant_types
        else {}
    )
    assertions = (
        {"token_endpoint_auth_signing_alg_values_supported": list(ASYMMETRIC_ALGORITHMS)}
        if "private_key_jwt" in auth_methods
        else {}
    )
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{base}/authorize",
        "token_endpoint": f"{base}/token",
        "revocation_endpoint": f"{base}/revoke",
        "jwks_uri": f"{base}/.well-known/jwks.json",
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        # The password grant lives at /login and is deliberately not advertised (RFC 9700 §2.4).
        "grant_types_supported": grant_types,
        **devices,
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": auth_methods,
        **assertions,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "scopes_supported": api_scopes.supported(),
        "prompt_values_supported": ["none", "login", "consent"],
        "authorization_response_iss_parameter_supported": True,
        "dpop_signing_alg_values_supported": list(proofs.ALGORITHMS),
        "pushed_authorization_request_endpoint": f"{base}/par",
        "require_pushed_authorization_requests": settings.REQUIRE_PUSHED_AUTHORIZATION_REQUESTS,
        "userinfo_endpoint": f"{base}/userinfo",
        "introspection_endpoint": f"{base}/introspect",
        "introspection_endpoint_auth_methods_supported": confidential_auth_methods,
        "end_session_endpoint": f"{base}/logout",
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": _id_token_algorithms(),
        "claims_supported": CLAIMS_SUPPORTED,
        # acr_values=<this> asks for a sign-in with a second factor (accounts.oauth.authorize).
        "acr_values_supported": [MFA_ACR],
        # Discovery 1.0 §3 defaults request_uri_parameter_supported to true: say what is not supported.
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "claims_parameter_supported": False,
        "service_documentation": f"{base}/docs/",
    }


def _id_token_algorithms() -> list[str]:
    # ID tokens are signed by the key pair of ACCESS_TOKEN_ALGORITHM; RS256 is listed in any case
    # (OpenID Connect Discovery §3 requires it), since RS256 is the default.
    algorithm = settings.ACCESS_TOKEN_ALGORITHM
    return ["RS256"] if algorithm in ("RS256", "HS256") else [algorithm, "RS256"]


class HealthView(PublicEndpoint):
    """200 when the database answers and its migrations are applied, 503 otherwise."""

    @extend_schema(responses={200: HealthSerializer, 503: HealthSerializer})
    def get(self, request: Request) -> Response:
        # Answered by accounts.middleware.HealthCheckMiddleware before any view; described here.
        healthy, body = health()
        status = HTTPStatus.OK if healthy else HTTPStatus.SERVICE_UNAVAILABLE
        return Response(body, status=status, headers={"Cache-Control": "no-store"})


@method_decorator(never_cache, name="dispatch")
class HomeView(TemplateView):
    """/: a page of links for a person who opens the service's address (docs, discovery, admin)."""

    template_name = "accounts/home.html"
    http_method_names = ["get", "head"]


class SchemaView(SpectacularAPIView):
    """GET /schema/: the OpenAPI document, generated once per process rather than per request
    (generating it walks every view and serializer: tens of milliseconds of CPU)."""

    _generated: dict = {}

    def _get_schema_response(self, request):
        version = self.api_version or request.version or self._get_version_parameter(request)
        key = (version, settings.TOKEN_ISSUER)
        schema = self._generated.get(key)
        if schema is None:
            if len(self._generated) > 8:  # a bounded cache, whatever versions are asked for
                self._generated.clear()
            generator = self.generator_class(
                urlconf=self.urlconf, api_version=version, patterns=self.patterns
            )
            schema = self._generated[key] = generator.get_schema(request=request, public=self.serve_public)
        return Response(
            data=schema,
            headers={"Content-Disposition": f'inline; filename="{self._get_filename(request, version)}"'},
        )


@extend_schema(exclude=True)
class SwaggerView(SpectacularSwaggerView):
    """/docs/: Swagger UI, with the same Cross-Origin-Opener-Policy as the service's other pages.

    drf-spectacular sends `unsafe-none`; /authorize and the OAuth 2 redirect page send Django's
    `same-origin`. Different policies put the sign-in window in another browsing context group,
    whose `window.opener` is then null: Swagger UI would never receive the code.
    """

    http_method_names = ["get", "head"]
    template_name = "accounts/swagger_ui.html"

    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        del response["Cross-Origin-Opener-Policy"]  # SecurityMiddleware sets same-origin
        return response
