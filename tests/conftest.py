from http import HTTPStatus

import pytest
from django.db import connection
from rest_framework.test import APIClient

from tests.factories import PASSWORD, UserFactory


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def password() -> str:
    """The plaintext password of every user the factory makes."""
    return PASSWORD


@pytest.fixture
def user_factory(db):
    return UserFactory


@pytest.fixture
def user(user_factory):
    return user_factory(username="johndoe", email="johndoe@example.com", full_name="John Doe")


@pytest.fixture
def login(api_client, password):
    """login(user) -> the token response body of a real POST /login."""

    def do_login(user, *, client=None):
        response = (client or api_client).post(
            "/login", {"username": user.username, "password": password}
        )
        assert response.status_code == HTTPStatus.OK, response.content
        return response.json()

    return do_login


@pytest.fixture
def tokens(login, user) -> dict:
    """The token response of a fresh login of `user`."""
    return login(user)


@pytest.fixture
def refresh(api_client):
    """refresh(token) -> the response of POST /token with that refresh token."""

    def do_refresh(refresh_token, *, client=None, **extra):
        return (client or api_client).post(
            "/token", {"grant_type": "refresh_token", "refresh_token": refresh_token, **extra}
        )

    return do_refresh


@pytest.fixture
def me(api_client):
    """me(access_token) -> the response of GET /users/me/ with that bearer token."""

    def do_me(access_token):
        return api_client.get("/users/me/", HTTP_AUTHORIZATION=f"Bearer {access_token}")

    return do_me


def pytest_collection_modifyitems(config, items):
    skip = pytest.mark.skip(reason="needs PostgreSQL (DATABASE_URL=postgres://...)")
    for item in items:
        if "postgres" in item.keywords and connection.vendor != "postgresql":
            item.add_marker(skip)
