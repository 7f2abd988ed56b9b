"""POST /login: the password grant of this service."""

import json
from http import HTTPStatus

import pytest
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from accounts.models import Session

WRONG_CREDENTIALS = {"detail": "Incorrect username or password"}


def test_login_returns_a_bearer_access_token_and_a_separate_refresh_token(api_client, user, password):
    response = api_client.post("/login", {"username": user.username, "password": password})

    assert response.status_code == HTTPStatus.OK
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["access_token"]
    assert body["refresh_token"]
    assert body["access_token"] != body["refresh_token"]


@pytest.mark.parametrize("path", ["/login", "/login/"])
@pytest.mark.parametrize("fmt", ["json", "multipart"])
def test_login_accepts_json_and_form_bodies_with_and_without_slash(api_client, user, password, path, fmt):
    response = api_client.post(path, {"username": user.username, "password": password}, format=fmt)

    assert response.status_code == HTTPStatus.OK
    assert set(response.json()) >= {"access_token", "token_type", "expires_in", "refresh_token"}


def test_login_accepts_urlencoded_form(api_client, user, password):
    response = api_client.post(
        "/login",
        f"username={user.username}&password={password}&grant_type=password&scope=anything",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == HTTPStatus.OK


def test_login_response_is_not_cacheable(api_client, user, password):
    response = api_client.post("/login", {"username": user.username, "password": password})

    assert response["Cache-Control"] == "no-store"
    assert response["Pragma"] == "no-cache"


@pytest.mark.parametrize(
    ("configured", "expires_in"), [(None, 1800), (90, 90)], ids=["by default", "configured"]
)
def test_expires_in_is_the_access_token_lifetime(
    api_client, user, password, settings, configured, expires_in
):
    if configured is not None:
        settings.ACCESS_TOKEN_LIFETIME_SECONDS = configured

    body = api_client.post("/login", {"username": user.username, "password": password}).json()

    assert body["expires_in"] == expires_in


def test_login_starts_a_session_and_records_its_refresh_token_without_storing_it(api_client, user, password):
    body = api_client.post(
        "/login", {"username": user.username, "password": password}, HTTP_USER_AGENT="curl/8.0"
    ).json()

    session = Session.objects.get()
    assert session.user == user
    assert session.user_agent == "curl/8.0"
    assert session.ip_address == "127.0.0.1"
    assert session.is_active()
    record = OutstandingToken.objects.get()
    assert session.newest_record == record
    assert record.user == user
    assert body["refresh_token"] not in record.token
    assert record.token.startswith("sha256:")


@pytest.mark.parametrize("case", ["unknown user", "wrong password", "disabled user"])
def test_unknown_user_wrong_password_and_disabled_user_get_the_same_401(
    api_client, user_factory, password, case
):
    user_factory(username="alice", is_active=case != "disabled user")
    username = "nobody" if case == "unknown user" else "alice"
    given_password = "wrong" if case == "wrong password" else password

    response = api_client.post("/login", {"username": username, "password": given_password})

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json() == WRONG_CREDENTIALS
    assert response["WWW-Authenticate"] == "Bearer"
    assert not Session.objects.exists()
    assert not OutstandingToken.objects.exists()


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("username=a&username=b&password=x", "invalid_request"),
        ("username=a&password=x&scope=a&scope=b", "invalid_request"),
        # A repeated parameter is reported before an unsupported grant type ...
        ("username=a&password=x&grant_type=client_credentials&grant_type=password", "invalid_request"),
        # ... which is reported before a missing username or password.
        ("grant_type=client_credentials", "unsupported_grant_type"),
        ("username=a&password=x&grant_type=PASSWORD", "unsupported_grant_type"),
        ("password=x", "invalid_request"),
        ("username=a", "invalid_request"),
        ("username=%20%20&password=x", "invalid_request"),
        ("username=a&password=%09", "invalid_request"),
        ("", "invalid_request"),
    ],
)
def test_login_errors_come_in_the_contract_order(api_client, user, body, error):
    response = api_client.post("/login", body, content_type="application/x-www-form-urlencoded")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["error"] == error
    assert response.json()["error_description"]
    assert not Session.objects.exists()


def test_blank_grant_type_counts_as_not_sent(api_client, user, password):
    response = api_client.post("/login", {"username": user.username, "password": password, "grant_type": " "})

    assert response.status_code == HTTPStatus.OK


@pytest.mark.parametrize(
    "payload",
    [
        {"username": 1, "password": "x"},
        {"username": ["a"], "password": "x"},
        ["username", "password"],
        "text",
    ],
)
def test_json_that_is_not_an_object_of_strings_is_invalid_request(api_client, db, payload):
    response = api_client.post("/login", json.dumps(payload), content_type="application/json")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["error"] == "invalid_request"


def test_broken_json_is_invalid_request_with_a_description(api_client, db):
    response = api_client.post("/login", '{"username": "a",', content_type="application/json")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["error"] == "invalid_request"
    assert response.json()["error_description"]


def test_unsupported_content_type_is_415_with_an_error_description(api_client, db):
    response = api_client.post("/login", "username=a", content_type="text/plain")

    assert response.status_code == HTTPStatus.UNSUPPORTED_MEDIA_TYPE
    assert response.json()["error"] == "invalid_request"
    assert response.json()["error_description"]


def test_parameters_in_the_query_string_are_ignored(api_client, user, password):
    response = api_client.post(f"/login?username={user.username}&password={password}")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["error"] == "invalid_request"


def test_get_of_login_is_405_with_an_error_description(api_client, db):
    response = api_client.get("/login")

    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert response.json()["error_description"]
