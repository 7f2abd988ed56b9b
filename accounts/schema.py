"""OpenAPI (drf-spectacular) descriptions: security schemes and shared responses."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse

from accounts.serializers import DetailSerializer, OAuthErrorSerializer


class BearerAccessTokenScheme(OpenApiAuthenticationExtension):
    """Two ways to authenticate in Swagger UI's Authorize dialog, each showing only what it needs:
    sign in through /authorize (the authorization code flow with PKCE as the public first-party
    client demo-docs: a client_id, prefilled, and no secret), or paste an access token.

    Not offered there: Swagger UI's password flow always shows client_id and client_secret
    fields, which /login ignores (and then displays "client_secret: ******" for a secret never
    given); /login itself is an operation to try like any other. Not the openIdConnect scheme
    either: it repeats the authorization code flow.
    """

    target_class = "accounts.authentication.BearerAccessTokenAuthentication"
    name = ["authorize", "bearer"]

    def get_security_requirement(self, auto_schema):
        # Either one (OpenAPI: alternatives are list items).
        return [{"authorize": []}, {"bearer": []}]

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
            {"type": "http", "scheme": "bearer", "bearerFormat": "JWT", "description": "An access token."},
        ]


# The paths as the contract, the README and the discovery document name them. Every path answers
# with and without a trailing slash; the account endpoints are named with one, the others without.
# The paths the contract and the issues name with their trailing slash (each answers both ways).
NAMED_WITH_SLASH = ("/users/", "/users/me/", "/users/me/sessions/")


def contract_paths(result, generator, request, public):
    """drf-spectacular postprocessing hook: /login, not /login/ (the URL patterns' optional slash
    comes out as a slash)."""
    paths = {}
    for path, operations in result["paths"].items():
        if path.endswith("/") and path not in NAMED_WITH_SLASH and not path.startswith("/users/me/sessions/"):
            path = path.rstrip("/")
        paths[path] = operations
    result["paths"] = paths
    return result


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
