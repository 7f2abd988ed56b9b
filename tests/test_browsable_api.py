"""The DRF browsable API renders the endpoints for a browser."""

from http import HTTPStatus

import pytest


@pytest.mark.parametrize(
    ("path", "fields"), [("/login", ["username", "password"]), ("/token", ["refresh_token"])]
)
def test_a_browser_get_of_a_post_endpoint_shows_its_form(client, db, path, fields):
    response = client.get(path, HTTP_ACCEPT="text/html")

    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert response["Content-Type"].startswith("text/html")
    assert "<form" in response.text
    for field in fields:
        assert f'name="{field}"' in response.text


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
