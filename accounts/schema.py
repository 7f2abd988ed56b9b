"""OpenAPI (drf-spectacular) descriptions: security schemes and shared responses."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse

from accounts.serializers import DetailSerializer, OAuthErrorSerializer


class BearerAccessTokenScheme(OpenApiAuthenticationExtension):
    """Three ways to authenticate in Swagger UI: sign in through /authorize (the authorization code
    flow with PKCE, as the public first-party client demo-docs), log in (password flow), or paste
    an access token."""

    target_class = "accounts.authentication.BearerAccessTokenAuthentication"
    name = ["authorize", "openid", "login", "bearer"]

    def get_security_requirement(self, auto_schema):
        # Either one (OpenAPI: alternatives are list items).
        return [{"authorize": []}, {"openid": []}, {"login": []}, {"bearer": []}]

    def get_security_definition(self, auto_schema):
        return [
            {
                "type": "oauth2",
                "description": "Sign in at /authorize (authorization code flow with PKCE, client demo-docs).",
                "flows": {
                    "authorizationCode": {
                        "authorizationUrl": "/authorize",
                        "tokenUrl": "/token",
                        "refreshUrl": "/token",
                        "scopes": {},
                    }
                },
            },
            {
                "type": "openIdConnect",
                "description": "OpenID Connect, from the discovery document (client demo-docs).",
                "openIdConnectUrl": "/.well-known/openid-configuration",
            },
            {
                "type": "oauth2",
                "description": "Log in with a username and password at /login.",
                "flows": {"password": {"tokenUrl": "/login", "refreshUrl": "/token", "scopes": {}}},
            },
            {"type": "http", "scheme": "bearer", "bearerFormat": "JWT", "description": "An access token."},
        ]


def form_or_json(serializer) -> dict:
    """A request body accepted as a form (RFC 6749) or as JSON."""
    return {"application/x-www-form-urlencoded": serializer, "application/json": serializer}


OAUTH_ERROR = OpenApiResponse(OAuthErrorSerializer, description="An RFC 6749 §5.2 error.")
UNAUTHORIZED = OpenApiResponse(
    DetailSerializer, description='No valid access token: {"detail": "Could not validate credentials"}.'
)

BODY_ERRORS = {
    413: OpenApiResponse(
        OAuthErrorSerializer, description="The body is larger than 64 KiB (invalid_request)."
    ),
    415: OpenApiResponse(OAuthErrorSerializer, description="Neither a form nor JSON (invalid_request)."),
    429: OpenApiResponse(
        OAuthErrorSerializer,
        description='Too many failures from this client: error "too_many_requests", with Retry-After (seconds).',
    ),
}
