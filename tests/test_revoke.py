"""POST /revoke (RFC 7009)."""

from datetime import timedelta
from http import HTTPStatus

import pytest
from django.utils import timezone

from accounts import services
from accounts.callers import Caller
from accounts.models import Session


@pytest.fixture
def revoke(api_client):
    def do_revoke(data, **kwargs):
        return api_client.post("/revoke", data, **kwargs)

    return do_revoke


@pytest.mark.parametrize("kind", ["refresh_token", "access_token"])
@pytest.mark.parametrize("hint", [None, "refresh_token", "access_token", "something_else"])
def test_a_valid_token_revokes_its_session_whatever_the_hint(revoke, refresh, me, tokens, kind, hint):
    data = {"token": tokens[kind]} | ({"token_type_hint": hint} if hint else {})

    response = revoke(data)

    assert response.status_code == HTTPStatus.OK
    assert response.content == b""
    assert Session.objects.get().end_reason == "logout"
    assert refresh(tokens["refresh_token"]).json()["error"] == "invalid_grant"
    assert me(tokens["access_token"]).status_code == HTTPStatus.UNAUTHORIZED


@pytest.mark.parametrize("path", ["/revoke", "/revoke/"])
def test_revoke_answers_with_and_without_slash_and_json(api_client, tokens, path):
    response = api_client.post(path, {"token": tokens["refresh_token"]}, format="json")

    assert response.status_code == HTTPStatus.OK
    assert Session.objects.get().revoked_at is not None


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "eyJhbGciOiJub25lIn0.e30."])
def test_an_invalid_token_gets_200_and_revokes_nothing(revoke, tokens, token):
    response = revoke({"token": token})

    assert response.status_code == HTTPStatus.OK
    assert Session.objects.get().revoked_at is None


def test_an_expired_token_gets_200_and_revokes_nothing(revoke, user, settings):
    settings.REFRESH_TOKEN_LIFETIME_SECONDS = 60
    issued = services.session_start(
        user=user,
        caller=Caller(),
        grant_type=Session.Grant.PASSWORD,
        now=timezone.now() - timedelta(minutes=5),
    )

    assert revoke({"token": issued.refresh_token}).status_code == HTTPStatus.OK
    assert Session.objects.get().revoked_at is None


def test_an_already_revoked_token_gets_200_and_keeps_its_first_reason(revoke, tokens):
    Session.objects.revoke(reason=Session.EndReason.PASSWORD_CHANGED)

    assert revoke({"token": tokens["refresh_token"]}).status_code == HTTPStatus.OK
    assert Session.objects.get().end_reason == "password_changed"


def test_revoking_one_session_leaves_the_others(revoke, login, user, refresh):
    first = login(user)
    second = login(user)

    revoke({"token": first["refresh_token"]})

    assert refresh(second["refresh_token"]).status_code == HTTPStatus.OK


@pytest.mark.parametrize(
    "body", ["", "token=", "token=%20", "token_type_hint=refresh_token", "token=a&token=b"]
)
def test_missing_blank_or_repeated_token_is_invalid_request_and_changes_nothing(api_client, tokens, body):
    if "token=a" in body:
        body = f"token={tokens['refresh_token']}&token={tokens['refresh_token']}"

    response = api_client.post("/revoke", body, content_type="application/x-www-form-urlencoded")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["error"] == "invalid_request"
    assert response.json()["error_description"]
    assert Session.objects.get().revoked_at is None
