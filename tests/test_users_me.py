"""GET /users/me/: bearer access tokens only, checked against their session and user."""

import base64
import uuid
from datetime import timedelta
from http import HTTPStatus

import pytest
from django.utils import timezone

from accounts import services
from accounts.callers import Caller
from accounts.models import Session
from tests.helpers import ACCOUNT_CHANGES, change_account

CREDENTIALS_ERROR = {"detail": "Could not validate credentials"}


def test_an_access_token_gets_its_users_profile(me, tokens):
    response = me(tokens["access_token"])

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {
        "username": "johndoe",
        "email": "johndoe@example.com",
        "full_name": "John Doe",
        "disabled": False,
        "email_verified": False,
    }


def test_the_profile_says_whether_the_email_is_verified(me, tokens, user):
    user.email_verified = True
    user.save(update_fields=["email_verified"])

    assert me(tokens["access_token"]).json()["email_verified"] is True


@pytest.mark.parametrize("path", ["/users/me/", "/users/me"])
@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
def test_bearer_scheme_is_case_insensitive_and_slash_optional(api_client, tokens, path, scheme):
    response = api_client.get(path, HTTP_AUTHORIZATION=f"{scheme} {tokens['access_token']}")

    assert response.status_code == HTTPStatus.OK
    assert response.json()["username"] == "johndoe"


def test_no_credentials_get_401_with_a_bearer_challenge(api_client, db):
    response = api_client.get("/users/me/")

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response["WWW-Authenticate"] == "Bearer"
    assert response.json()["detail"]


def test_http_basic_is_not_accepted(api_client, user, password):
    basic = base64.b64encode(f"{user.username}:{password}".encode()).decode()

    response = api_client.get("/users/me/", HTTP_AUTHORIZATION=f"Basic {basic}")

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response["WWW-Authenticate"] == "Bearer"


def test_a_django_session_cookie_is_not_accepted(client, user):
    client.force_login(user)

    response = client.get("/users/me/")

    assert response.status_code == HTTPStatus.UNAUTHORIZED


@pytest.mark.parametrize("header", ["Bearer", "Bearer ", "Bearer a b"])
def test_malformed_bearer_header_gets_401(api_client, db, header):
    response = api_client.get("/users/me/", HTTP_AUTHORIZATION=header)

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("change", ACCOUNT_CHANGES)
def test_an_access_token_stops_at_once_with_the_invalid_token_challenge(me, tokens, user, change):
    change_account(user, change)

    response = me(tokens["access_token"])

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json() == CREDENTIALS_ERROR
    assert response["WWW-Authenticate"] == 'Bearer error="invalid_token"'


def an_hour_old_access_token(tokens, user) -> str:
    """A real access token of a session started an hour ago (it lived half an hour)."""
    return services.session_start(
        user=user, caller=Caller(), grant_type=Session.Grant.PASSWORD, now=timezone.now() - timedelta(hours=1)
    ).access_token


@pytest.mark.parametrize(
    "bearer",
    [
        pytest.param(lambda tokens, user: tokens["refresh_token"], id="a refresh token"),
        pytest.param(lambda tokens, user: "not-a-token", id="not a token"),
        pytest.param(an_hour_old_access_token, id="an expired access token"),
    ],
)
def test_anything_but_a_valid_access_token_gets_401_with_the_invalid_token_challenge(
    me, tokens, user, bearer
):
    """Steps 2, 4 and 5 of the README's walk-through; forged tokens: tests/test_forged_tokens.py."""
    response = me(bearer(tokens, user))

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json() == CREDENTIALS_ERROR
    assert response["WWW-Authenticate"] == 'Bearer error="invalid_token"'


def test_users_me_costs_one_query(me, tokens, prepared_connection, django_assert_max_num_queries):
    with django_assert_max_num_queries(1):
        response = me(tokens["access_token"])

    assert response.status_code == HTTPStatus.OK


def test_the_one_query_lookup_returns_what_the_orm_would(tokens):
    """Session.objects.for_token is the hot-path form of a select_related query: same objects."""
    expected = Session.objects.select_related("user", "newest_record").get()

    session = Session.objects.for_token(expected.pk)

    for field in Session._meta.concrete_fields:
        assert getattr(session, field.attname) == getattr(expected, field.attname), field.name
    for field in session.user._meta.concrete_fields:
        assert getattr(session.user, field.attname) == getattr(expected.user, field.attname), field.name
    for field in session.newest_record._meta.concrete_fields:
        assert getattr(session.newest_record, field.attname) == getattr(expected.newest_record, field.attname)
    assert not session.get_deferred_fields()
    assert Session.objects.for_token(uuid.uuid4()) is None
