"""RFC 8414 metadata, /healthz and the OpenAPI document with its Swagger UI."""

from http import HTTPStatus

import pytest
from django.db import DatabaseError, connection
from openapi_spec_validator import validate

from tests.helpers import jwt_parts

# Nothing here can differ by database (documents built from settings): runs once, in the SQLite run.
pytestmark = pytest.mark.once


@pytest.mark.parametrize(
    "path", ["/.well-known/oauth-authorization-server", "/.well-known/oauth-authorization-server/"]
)
def test_metadata_publishes_the_endpoints_under_the_issuer(api_client, db, settings, path):
    settings.TOKEN_ISSUER = "https://auth.example.com"

    response = api_client.get(path)

    assert response.status_code == HTTPStatus.OK
    metadata = response.json()
    assert metadata["issuer"] == "https://auth.example.com"
    assert metadata["token_endpoint"] == "https://auth.example.com/token"
    assert metadata["revocation_endpoint"] == "https://auth.example.com/revoke"
    assert metadata["jwks_uri"] == "https://auth.example.com/.well-known/jwks.json"
    assert metadata["authorization_endpoint"] == "https://auth.example.com/authorize"
    assert metadata["response_types_supported"] == ["code"]
    assert metadata["response_modes_supported"] == ["query"]
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["token_endpoint_auth_methods_supported"] == [
        "none",
        "client_secret_basic",
        "client_secret_post",
    ]
    assert metadata["authorization_response_iss_parameter_supported"] is True
    assert {"openid", "profile", "email"} <= set(metadata["scopes_supported"])
    assert set(metadata["prompt_values_supported"]) == {"none", "login", "consent"}


def test_metadata_advertises_the_code_and_refresh_grants_and_never_the_password_grant(api_client, db):
    grants = api_client.get("/.well-known/oauth-authorization-server").json()["grant_types_supported"]

    assert set(grants) == {"authorization_code", "refresh_token"}
    assert "password" not in grants


def test_well_known_documents_answer_every_origin(api_client, db):
    for path in ("/.well-known/oauth-authorization-server", "/.well-known/jwks.json"):
        response = api_client.get(path, HTTP_ORIGIN="https://anywhere.example")
        assert response["Access-Control-Allow-Origin"] == "*"


def test_every_token_carries_the_metadata_issuer(api_client, tokens):
    issuer = api_client.get("/.well-known/oauth-authorization-server").json()["issuer"]

    assert jwt_parts(tokens["access_token"])[1]["iss"] == issuer
    assert jwt_parts(tokens["refresh_token"])[1]["iss"] == issuer


def test_metadata_does_not_follow_the_host_header(api_client, db, settings):
    settings.ALLOWED_HOSTS = ["evil.example", "testserver"]

    metadata = api_client.get("/.well-known/oauth-authorization-server", HTTP_HOST="evil.example").json()

    assert "evil.example" not in str(metadata)


@pytest.mark.parametrize("path", ["/healthz", "/healthz/"])
def test_health_is_ok_when_the_database_answers(api_client, db, path):
    response = api_client.get(path)

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {"status": "ok"}


def test_health_is_503_when_the_database_does_not_answer(api_client, db, monkeypatch):
    from django.db import connection

    def broken_cursor(*args, **kwargs):
        raise DatabaseError("connection refused")

    with monkeypatch.context() as patch:  # undone before the test database is rolled back
        patch.setattr(connection, "cursor", broken_cursor)
        response = api_client.get("/healthz")

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.json() == {"status": "unavailable", "detail": "The database does not answer."}


@pytest.mark.parametrize("host", ["10.0.3.7", "10.0.3.7:8000", "not-an-allowed-host.example", "[::1]:8000"])
def test_health_answers_whatever_the_host_header_as_load_balancers_send_it(api_client, db, host):
    response = api_client.get("/healthz", HTTP_HOST=host)

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {"status": "ok"}


def test_other_paths_still_refuse_a_host_not_allowed(api_client, db):
    response = api_client.get("/.well-known/openid-configuration", HTTP_HOST="not-an-allowed-host.example")
    assert response.status_code == HTTPStatus.BAD_REQUEST


def test_health_is_503_while_a_migration_is_not_applied(api_client, db):
    from django.db.migrations.loader import MigrationLoader
    from django.db.migrations.recorder import MigrationRecorder

    from accounts import health

    health.forget()
    ((_, newest),) = MigrationLoader(connection).graph.leaf_nodes("accounts")
    MigrationRecorder(connection).migration_qs.filter(app="accounts", name=newest).delete()
    response = api_client.get("/healthz")
    health.forget()

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.json() == {
        "status": "unavailable",
        "detail": f"1 migration(s) not applied (accounts.{newest}): run `python manage.py migrate` first.",
    }


@pytest.fixture
def schema(api_client, db) -> dict:
    response = api_client.get("/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == HTTPStatus.OK
    return response.json()


def test_schema_is_a_valid_openapi_3_document(schema):
    validate(schema)

    assert schema["openapi"].startswith("3.")


@pytest.mark.parametrize(
    ("path", "method", "statuses"),
    [
        ("/login", "post", {"200", "400", "401", "413", "415", "429"}),
        ("/token", "post", {"200", "400", "413", "415", "429"}),
        ("/revoke", "post", {"200", "400", "413", "415"}),
        ("/users/me/", "get", {"200", "401"}),
        ("/users/me/sessions/", "get", {"200", "401"}),
        ("/users/me/sessions/", "delete", {"204", "401"}),
        ("/users/me/sessions/{session_id}/", "delete", {"204", "401", "404"}),
        ("/.well-known/jwks.json", "get", {"200"}),
        ("/.well-known/oauth-authorization-server", "get", {"200"}),
        ("/healthz", "get", {"200", "503"}),
        ("/users/", "post", {"201", "400", "404", "413", "415", "429"}),
        ("/password-reset", "post", {"202", "400", "413", "415", "429"}),
        ("/users/me/password", "post", {"204", "400", "401", "429"}),
        ("/users/me/email", "post", {"202", "400", "401", "429"}),
        ("/users/me/email/verification", "post", {"202", "400", "401", "429"}),
    ],
)
def test_every_endpoint_documents_its_success_and_error_responses(schema, path, method, statuses):
    operation = schema["paths"][path][method]

    assert set(operation["responses"]) >= statuses
    for status in statuses - {"204"}:
        if path == "/revoke" and status == "200":
            continue  # an empty body
        assert "content" in operation["responses"][status], (path, method, status)
    if method == "post" and path != "/users/me/email/verification":  # that one has no body
        assert set(operation["requestBody"]["content"]) == {
            "application/json",
            "application/x-www-form-urlencoded",
        }


def test_schema_lets_a_person_sign_in_or_paste_a_bearer_token_and_nothing_else(schema):
    schemes = schema["components"]["securitySchemes"]

    assert schemes["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "An access token.",
    }
    assert set(schemes) == {"authorize", "bearer"}
    code_flow = schemes["authorize"]["flows"]["authorizationCode"]
    assert (code_flow["authorizationUrl"], code_flow["tokenUrl"]) == ("/authorize", "/token")
    assert schema["paths"]["/users/me/"]["get"]["security"] == [{"authorize": []}, {"bearer": []}]


def test_schema_names_the_paths_as_the_readme_and_discovery_do(schema, api_client):
    metadata = api_client.get("/.well-known/openid-configuration").json()
    for endpoint in ("token_endpoint", "revocation_endpoint", "introspection_endpoint", "userinfo_endpoint"):
        assert metadata[endpoint].removeprefix(metadata["issuer"]) in schema["paths"]
    assert {"/login", "/.well-known/jwks.json", "/healthz", "/users/me/", "/users/me/sessions/"} <= set(
        schema["paths"]
    )
    assert "/login/" not in schema["paths"]
    assert "/users/me/sessions/{session_id}/" in schema["paths"]


def test_swagger_ui_is_served_with_its_own_files(client, db):
    response = client.get("/docs/")

    assert response.status_code == HTTPStatus.OK
    assert "swagger-ui" in response.text
    bundle = next(
        part.split('"')[0] for part in response.text.split('src="')[1:] if "swagger-ui-bundle" in part
    )
    assert client.get(bundle).status_code == HTTPStatus.OK  # no CDN: the files come with the service


def test_the_swagger_password_flow_logs_in_at_login(client, user, password):
    """What Swagger UI sends for the password flow: a form with grant_type=password."""
    response = client.post(
        "/login", {"grant_type": "password", "username": user.username, "password": password, "scope": ""}
    )

    assert response.status_code == HTTPStatus.OK
    assert response.json()["token_type"] == "bearer"


def test_the_jwks_and_metadata_bodies_are_described(schema):
    components = schema["components"]["schemas"]

    assert set(components["Jwk"]["required"]) == {"kid", "kty", "alg", "use"}
    assert "grant_types_supported" in components["AuthorizationServerMetadata"]["properties"]


@pytest.mark.parametrize("path", ["/docs", "/docs/", "/schema", "/schema/"])
def test_docs_and_schema_answer_with_and_without_slash(client, db, path):
    response = client.get(path)

    assert response.status_code == HTTPStatus.OK
