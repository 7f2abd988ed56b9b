"""The DRF browsable API renders the endpoints for a browser."""

from http import HTTPStatus

import pytest

# Nothing here can differ by database (pages): runs once, in the SQLite run.
pytestmark = pytest.mark.once


@pytest.mark.parametrize(
    ("path", "fields"),
    [
        ("/login", ["username", "password"]),
        ("/token", ["grant_type", "refresh_token"]),
        ("/revoke", ["token"]),
        ("/introspect", ["token"]),
    ],
)
def test_a_browser_get_of_a_post_endpoint_shows_its_form(client, db, path, fields):
    response = client.get(path, HTTP_ACCEPT="text/html")

    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"].startswith("text/html")
    assert "Not Allowed" not in response.text
    assert response["Allow"] == "POST, OPTIONS"
    assert "<form" in response.text
    for field in fields:
        assert f'name="{field}"' in response.text


@pytest.mark.parametrize("accept", ["application/json", "*/*"])
def test_any_other_get_of_a_post_endpoint_is_still_405(client, db, accept):
    response = client.get("/login", HTTP_ACCEPT=accept)

    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert response["Allow"] == "POST, OPTIONS"
    assert response.json() == {"error": "invalid_request", "error_description": 'Method "GET" not allowed.'}


def test_after_any_response_the_forms_are_the_requests(client, user, password):
    login = client.post("/login", {"username": user.username, "password": password}, HTTP_ACCEPT="text/html")
    refresh_token = client.post("/login", {"username": user.username, "password": password}).json()[
        "refresh_token"
    ]
    token = client.post(
        "/token", {"grant_type": "refresh_token", "refresh_token": refresh_token}, HTTP_ACCEPT="text/html"
    )
    revoke = client.post("/revoke", {"token": refresh_token}, HTTP_ACCEPT="text/html")

    for response, fields in [
        (login, ["username", "password"]),
        (token, ["grant_type", "refresh_token"]),
        (revoke, ["token"]),
    ]:
        assert response.status_code == HTTPStatus.OK
        assert 'name="access_token"' not in response.text
        assert 'name="expires_in"' not in response.text
        for field in fields:
            assert f'name="{field}"' in response.text
    assert password not in login.text  # the form is empty: no secret echoed into the page


def test_the_login_form_logs_in(client, user, password):
    response = client.post(
        "/login", {"username": user.username, "password": password}, HTTP_ACCEPT="text/html"
    )

    assert response.status_code == HTTPStatus.OK
    assert "access_token" in response.text


def test_users_me_renders_in_a_browser(client, tokens):
    response = client.get(
        "/users/me/", HTTP_ACCEPT="text/html", HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}"
    )

    assert response.status_code == HTTPStatus.OK
    assert "johndoe@example.com" in response.text


def test_the_sessions_list_renders_in_a_browser(client, tokens):
    response = client.get(
        "/users/me/sessions/", HTTP_ACCEPT="text/html", HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}"
    )

    assert response.status_code == HTTPStatus.OK
    assert "&quot;current&quot;: true" in response.text


@pytest.mark.parametrize(
    "path", ["/users/me/sessions/", "/users/me/sessions/00000000-0000-4000-8000-000000000000/"]
)
def test_every_sessions_page_renders_in_a_browser_without_error(client, tokens, path):
    response = client.get(
        path, HTTP_ACCEPT="text/html", HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}"
    )

    assert response.status_code in (HTTPStatus.OK, HTTPStatus.METHOD_NOT_ALLOWED)
    assert response["Content-Type"].startswith("text/html")


def test_users_me_without_a_token_tells_a_browser_how_to_give_one_and_names_the_service(client, db, settings):
    settings.SERVICE_NAME = "Example Identity"

    response = client.get("/users/me/", HTTP_ACCEPT="text/html")

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    page = response.content.decode()
    assert "Authorization: Bearer &lt;token&gt;" in page
    assert "/login" in page
    assert "/docs/" in page
    assert '<a class="navbar-brand" rel="nofollow" href="/">Example Identity</a>' in page
    assert "Example Identity</title>" in page
