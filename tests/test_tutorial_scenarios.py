"""The eight scenarios of the tutorial this service grew from, through the real test client."""

from datetime import timedelta
from http import HTTPStatus

from django.utils import timezone

from accounts import services
from accounts.callers import Caller

CREDENTIALS_ERROR = {"detail": "Could not validate credentials"}


def test_login_returns_an_access_token_and_a_refresh_token(api_client, user, password):
    response = api_client.post("/login", {"username": "johndoe", "password": password})

    assert response.status_code == HTTPStatus.OK
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["access_token"]
    assert body["refresh_token"]
    assert body["access_token"] != body["refresh_token"]
    assert body["expires_in"] == 1800


def test_refresh_token_at_users_me_gets_401(me, tokens):
    response = me(tokens["refresh_token"])

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json() == CREDENTIALS_ERROR
    assert response["WWW-Authenticate"] == 'Bearer error="invalid_token"'


def test_access_token_at_users_me_returns_the_user(me, tokens):
    response = me(tokens["access_token"])

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {
        "username": "johndoe",
        "email": "johndoe@example.com",
        "full_name": "John Doe",
        "disabled": False,
    }


def test_expired_access_token_at_users_me_gets_401(me, user, settings):
    an_hour_ago = timezone.now() - timedelta(hours=1)
    issued = services.session_start(user=user, caller=Caller(), now=an_hour_ago)

    response = me(issued.access_token)

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json() == CREDENTIALS_ERROR


def test_invalid_access_token_at_users_me_gets_401(me, db):
    response = me("not-a-token")

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json() == CREDENTIALS_ERROR
    assert response["WWW-Authenticate"] == 'Bearer error="invalid_token"'


def test_valid_refresh_token_at_token_returns_new_tokens(refresh, tokens, me):
    response = refresh(tokens["refresh_token"])

    assert response.status_code == HTTPStatus.OK
    body = response.json()
    assert body["refresh_token"] != tokens["refresh_token"]
    assert body["access_token"] != tokens["access_token"]
    assert me(body["access_token"]).status_code == HTTPStatus.OK


def test_invalid_refresh_token_at_token_gets_400(refresh, db):
    response = refresh("not-a-token")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["error"] == "invalid_grant"
    assert response.json()["error_description"]


def test_expired_refresh_token_at_token_gets_400(refresh, user, settings):
    settings.REFRESH_TOKEN_LIFETIME_SECONDS = 60
    issued = services.session_start(
        user=user, caller=Caller(), now=timezone.now() - timedelta(minutes=2)
    )

    response = refresh(issued.refresh_token)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["error"] == "invalid_grant"
