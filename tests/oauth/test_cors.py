"""Cross-origin requests (CORS): the API endpoints answer the origins registered by active
clients, by name and without credentials; /.well-known/* answer everyone; /authorize no one."""

import uuid
from http import HTTPStatus

import pytest

from accounts.oauth.models import Client
from tests.helpers import jwt_parts
from tests.oauth.conftest import OAUTH_ORIGIN, pkce_s256

# Nothing here can differ by database (response headers): runs once, in the SQLite run.
pytestmark = pytest.mark.once


@pytest.fixture
def spa_client(oauth_client_factory):
    """A single-page app on OAUTH_ORIGIN."""
    return oauth_client_factory(name="Single-page app", client_id="spa", allowed_origins=(OAUTH_ORIGIN,))


def allow_headers(response) -> dict[str, str]:
    return {
        name: value
        for name, value in response.headers.items()
        if name.lower().startswith("access-control-allow-")
    }


def varies_on_origin(response) -> bool:
    return "origin" in {field.strip().lower() for field in response.get("Vary", "").split(",")}


@pytest.fixture
def cross_origin_request(api_client, tokens, login, user):
    """cross_origin_request(name, origin) -> the response to one API request sent from `origin`."""

    def send(name: str, origin: str):
        bearer = {"HTTP_AUTHORIZATION": f"Bearer {tokens['access_token']}"}
        headers = {"HTTP_ORIGIN": origin}
        if name == "POST /token":
            return api_client.post(
                "/token", {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}, **headers
            )
        if name == "POST /token (an error)":
            return api_client.post("/token", {"grant_type": "refresh_token"}, **headers)
        if name == "POST /revoke":
            return api_client.post("/revoke", {"token": "not-a-token"}, **headers)
        if name == "GET /users/me/":
            return api_client.get("/users/me/", **bearer, **headers)
        if name == "GET /users/me (no slash)":
            return api_client.get("/users/me", **bearer, **headers)
        if name == "GET /users/me/ (no token)":
            return api_client.get("/users/me/", **headers)
        if name == "GET /users/me/sessions/":
            return api_client.get("/users/me/sessions/", **bearer, **headers)
        if name == "DELETE /users/me/sessions/{id}/":
            other_sid = jwt_parts(login(user)["access_token"])[1]["sid"]
            return api_client.delete(f"/users/me/sessions/{other_sid}/", **bearer, **headers)
        if name == "DELETE /users/me/sessions/":
            return api_client.delete("/users/me/sessions/", **bearer, **headers)
        raise ValueError(name)

    return send


API_REQUESTS = [
    ("POST /token", HTTPStatus.OK),
    ("POST /token (an error)", HTTPStatus.BAD_REQUEST),
    ("POST /revoke", HTTPStatus.OK),
    ("GET /users/me/", HTTPStatus.OK),
    ("GET /users/me (no slash)", HTTPStatus.OK),
    ("GET /users/me/ (no token)", HTTPStatus.UNAUTHORIZED),
    ("GET /users/me/sessions/", HTTPStatus.OK),
    ("DELETE /users/me/sessions/{id}/", HTTPStatus.NO_CONTENT),
    ("DELETE /users/me/sessions/", HTTPStatus.NO_CONTENT),
]

PREFLIGHTS = [
    ("/token", "POST"),
    ("/token/", "POST"),
    ("/revoke", "POST"),
    ("/revoke/", "POST"),
    ("/users/me/", "GET"),
    ("/users/me", "GET"),
    ("/users/me/sessions/", "GET"),
    ("/users/me/sessions/", "DELETE"),
    # Fixed ids: every xdist worker must collect the same test names.
    (f"/users/me/sessions/{uuid.UUID(int=1)}/", "DELETE"),
    (f"/users/me/sessions/{uuid.UUID(int=2)}", "DELETE"),
]


def preflight(api_client, path: str, method: str, origin: str):
    return api_client.options(
        path,
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD=method,
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type",
    )


# --- a registered origin ---------------------------------------------------------------------


@pytest.mark.parametrize(("name", "status"), API_REQUESTS, ids=[name for name, _ in API_REQUESTS])
def test_a_registered_origin_is_answered_by_name_without_credentials(
    spa_client, cross_origin_request, name, status
):
    response = cross_origin_request(name, OAUTH_ORIGIN)

    assert response.status_code == status, response.content
    assert response["Access-Control-Allow-Origin"] == OAUTH_ORIGIN
    assert varies_on_origin(response)
    assert "Access-Control-Allow-Credentials" not in response


@pytest.mark.parametrize(("path", "method"), PREFLIGHTS, ids=[f"{m} {p}" for p, m in PREFLIGHTS])
def test_a_registered_origins_preflight_allows_the_method_and_the_authorization_and_content_type_headers(
    api_client, spa_client, path, method
):
    response = preflight(api_client, path, method, OAUTH_ORIGIN)

    assert response.status_code in (HTTPStatus.OK, HTTPStatus.NO_CONTENT)
    assert response["Access-Control-Allow-Origin"] == OAUTH_ORIGIN
    assert method in {m.strip().upper() for m in response["Access-Control-Allow-Methods"].split(",")}
    allowed = {h.strip().lower() for h in response["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type"} <= allowed
    assert varies_on_origin(response)
    assert "Access-Control-Allow-Credentials" not in response


def test_every_origin_of_every_active_client_is_registered(api_client, oauth_client_factory, spa_client):
    oauth_client_factory(
        name="Admin console", allowed_origins=("https://console.example.com", "http://127.0.0.1:3000")
    )

    for origin in (OAUTH_ORIGIN, "https://console.example.com", "http://127.0.0.1:3000"):
        response = preflight(api_client, "/token", "POST", origin)
        assert response["Access-Control-Allow-Origin"] == origin


# --- any other origin ------------------------------------------------------------------------


@pytest.fixture
def disabled_client(oauth_client_factory):
    registered = oauth_client_factory(name="Retired app", allowed_origins=("https://retired.example.com",))
    Client.objects.filter(pk=registered.client_id).update(is_active=False)
    return registered


OTHER_ORIGINS = [
    pytest.param("https://evil.example.com", id="an unregistered origin"),
    pytest.param("https://retired.example.com", id="a disabled client's origin"),
    pytest.param("http://app.example.com", id="the registered host over http"),
    pytest.param("https://app.example.com:8443", id="the registered host on another port"),
    pytest.param("https://app.example.com.evil.com", id="the registered host as a prefix"),
    pytest.param("https://sub.app.example.com", id="a subdomain of the registered host"),
    pytest.param("null", id="the null origin"),
]


@pytest.mark.parametrize("origin", OTHER_ORIGINS)
@pytest.mark.parametrize(("name", "status"), API_REQUESTS, ids=[name for name, _ in API_REQUESTS])
def test_any_other_origin_gets_no_access_control_allow_header(
    spa_client, disabled_client, cross_origin_request, name, status, origin
):
    response = cross_origin_request(name, origin)

    assert response.status_code == status
    assert allow_headers(response) == {}


@pytest.mark.parametrize("origin", OTHER_ORIGINS)
@pytest.mark.parametrize(("path", "method"), PREFLIGHTS, ids=[f"{m} {p}" for p, m in PREFLIGHTS])
def test_any_other_origins_preflight_gets_no_access_control_allow_header(
    api_client, spa_client, disabled_client, path, method, origin
):
    response = preflight(api_client, path, method, origin)

    assert allow_headers(response) == {}


# --- public documents and pages ----------------------------------------------------------------


WELL_KNOWN = [
    "/.well-known/oauth-authorization-server",
    "/.well-known/openid-configuration",
    "/.well-known/jwks.json",
]


@pytest.mark.parametrize(
    "origin",
    [
        pytest.param("https://anyone.example.com", id="any origin"),
        pytest.param(OAUTH_ORIGIN, id="a registered origin"),
    ],
)
@pytest.mark.parametrize("path", WELL_KNOWN)
def test_well_known_documents_answer_every_origin_with_a_wildcard(api_client, spa_client, path, origin):
    response = api_client.get(path, HTTP_ORIGIN=origin)

    assert response.status_code == HTTPStatus.OK
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in response


@pytest.fixture
def authorize_query(spa_client) -> dict:
    return {
        "response_type": "code",
        "client_id": spa_client.client_id,
        "redirect_uri": spa_client.redirect_uri,
        "scope": "openid",
        "state": "s",
        "code_challenge": pkce_s256().challenge,
        "code_challenge_method": "S256",
    }


AUTHORIZE_ORIGINS = [
    pytest.param("https://evil.example.com", id="an unregistered origin"),
    pytest.param(OAUTH_ORIGIN, id="a registered origin"),
]


@pytest.mark.parametrize("origin", AUTHORIZE_ORIGINS)
@pytest.mark.parametrize("method", ["get", "post"])
def test_the_authorization_endpoint_answers_no_cross_origin_request(client, authorize_query, method, origin):
    response = getattr(client, method)("/authorize", authorize_query, HTTP_ORIGIN=origin)

    assert response.status_code == HTTPStatus.OK  # the sign-in page
    assert allow_headers(response) == {}


@pytest.mark.parametrize("origin", AUTHORIZE_ORIGINS)
def test_the_authorization_endpoint_answers_no_preflight(client, spa_client, origin):
    response = preflight(client, "/authorize", "POST", origin)

    assert allow_headers(response) == {}
