"""POST /token with grant_type=refresh_token: rotation and its errors."""

from http import HTTPStatus

import pytest
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from accounts.models import Session
from tests.helpers import change_account, jwt_parts


def test_rotation_returns_a_new_token_pair_of_the_same_session(refresh, tokens):
    response = refresh(tokens["refresh_token"])

    assert response.status_code == HTTPStatus.OK
    body = response.json()
    assert set(body) >= {"access_token", "token_type", "expires_in", "refresh_token"}
    assert body["token_type"] == "bearer"
    assert body["refresh_token"] != tokens["refresh_token"]
    assert body["access_token"] != tokens["access_token"]
    assert jwt_parts(body["refresh_token"])[1]["sid"] == jwt_parts(tokens["refresh_token"])[1]["sid"]


def test_rotation_records_the_new_token_and_blacklists_the_spent_one(refresh, tokens):
    spent_jti = jwt_parts(tokens["refresh_token"])[1]["jti"]

    body = refresh(tokens["refresh_token"]).json()

    new_jti = jwt_parts(body["refresh_token"])[1]["jti"]
    session = Session.objects.select_related("newest_record").get()
    assert session.newest_record.jti == new_jti
    assert OutstandingToken.objects.count() == 2
    assert BlacklistedToken.objects.get().token.jti == spent_jti


def test_rotation_response_is_not_cacheable(refresh, tokens):
    response = refresh(tokens["refresh_token"])

    assert response["Cache-Control"] == "no-store"
    assert response["Pragma"] == "no-cache"


@pytest.mark.parametrize("path", ["/token", "/token/"])
@pytest.mark.parametrize("fmt", ["json", "multipart"])
def test_token_endpoint_accepts_json_and_form_with_and_without_slash(api_client, tokens, path, fmt):
    response = api_client.post(
        path, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}, format=fmt
    )

    assert response.status_code == HTTPStatus.OK


def test_a_chain_of_rotations_keeps_working(refresh, tokens, me):
    current = tokens
    for _ in range(5):
        current = refresh(current["refresh_token"]).json()

    assert me(current["access_token"]).status_code == HTTPStatus.OK
    assert OutstandingToken.objects.count() == 6
    assert BlacklistedToken.objects.count() == 5


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("", "invalid_request"),
        ("refresh_token=abc", "invalid_request"),
        ("grant_type=%20&refresh_token=abc", "invalid_request"),
        ("grant_type=refresh_token&grant_type=refresh_token&refresh_token=abc", "invalid_request"),
        ("grant_type=password&username=a&password=b", "unsupported_grant_type"),
        ("grant_type=REFRESH_TOKEN&refresh_token=abc", "unsupported_grant_type"),
        ("grant_type=client_credentials", "unsupported_grant_type"),
        ("grant_type=refresh_token", "invalid_request"),
        ("grant_type=refresh_token&refresh_token=%20%20", "invalid_request"),
        ("grant_type=refresh_token&refresh_token=abc", "invalid_grant"),
    ],
)
def test_token_errors_come_in_the_contract_order(api_client, db, body, error):
    response = api_client.post("/token", body, content_type="application/x-www-form-urlencoded")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["error"] == error
    assert response.json()["error_description"]
    assert response["Cache-Control"] == "no-store"


def test_a_failed_request_does_not_spend_the_refresh_token(api_client, refresh, tokens):
    repeated = (
        f"grant_type=refresh_token&refresh_token={tokens['refresh_token']}"
        f"&refresh_token={tokens['refresh_token']}"
    )
    response = api_client.post("/token", repeated, content_type="application/x-www-form-urlencoded")
    assert response.json()["error"] == "invalid_request"

    assert refresh(tokens["refresh_token"]).status_code == HTTPStatus.OK


def test_access_token_is_refused_at_the_token_endpoint(refresh, tokens, me):
    response = refresh(tokens["access_token"])

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["error"] == "invalid_grant"
    # ... and it revoked nothing: both tokens still work.
    assert me(tokens["access_token"]).status_code == HTTPStatus.OK
    assert refresh(tokens["refresh_token"]).status_code == HTTPStatus.OK


@pytest.mark.parametrize("change", ["disabled", "revoked", "password set", "deleted"])
def test_a_refresh_token_stops_with_its_user_or_session(refresh, tokens, user, change):
    change_account(user, change)

    response = refresh(tokens["refresh_token"])

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["error"] == "invalid_grant"


def test_refresh_token_after_an_email_change_is_invalid_grant(refresh, tokens, user, me):
    user.email = "john.doe@example.org"
    user.save()

    response = refresh(tokens["refresh_token"])

    assert response.json()["error"] == "invalid_grant"
    # Access tokens carry the username, not the email: they are not affected.
    assert me(tokens["access_token"]).status_code == HTTPStatus.OK


def test_every_refresh_token_record_names_its_session(refresh, tokens):
    second = refresh(tokens["refresh_token"]).json()
    refresh(second["refresh_token"])

    session = Session.objects.get()
    records = list(session.refresh_token_records())
    assert [record.jti for record in records] == [
        jwt_parts(tokens["refresh_token"])[1]["jti"],
        jwt_parts(second["refresh_token"])[1]["jti"],
        session.newest_record.jti,
    ]
