"""The signed-in user's sessions: list, revoke one, log out everywhere."""

from http import HTTPStatus

import pytest

from accounts.models import Session
from tests.helpers import jwt_parts


@pytest.fixture
def bearer(api_client):
    def call(method, path, access_token):
        return getattr(api_client, method)(path, HTTP_AUTHORIZATION=f"Bearer {access_token}")

    return call


def test_lists_the_active_sessions_newest_first_with_the_current_one_marked(
    api_client, bearer, user, password
):
    first = api_client.post(
        "/login", {"username": user.username, "password": password}, HTTP_USER_AGENT="one"
    ).json()
    second = api_client.post(
        "/login",
        {"username": user.username, "password": password},
        HTTP_USER_AGENT="two",
        REMOTE_ADDR="10.0.0.2",
    ).json()
    ended = api_client.post("/login", {"username": user.username, "password": password}).json()
    api_client.post("/revoke", {"token": ended["refresh_token"]})

    response = bearer("get", "/users/me/sessions/", first["access_token"])

    assert response.status_code == HTTPStatus.OK
    sessions = response.json()
    assert [s["id"] for s in sessions] == [
        jwt_parts(second["access_token"])[1]["sid"],
        jwt_parts(first["access_token"])[1]["sid"],
    ]
    assert [s["current"] for s in sessions] == [False, True]
    assert sessions[0]["user_agent"] == "two"
    assert sessions[0]["ip_address"] == "10.0.0.2"
    assert set(sessions[0]) >= {
        "id",
        "created_at",
        "last_used_at",
        "expires_at",
        "user_agent",
        "ip_address",
        "current",
    }


def test_lists_only_the_users_own_sessions(bearer, login, user, user_factory):
    tokens = login(user)
    login(user_factory())

    assert len(bearer("get", "/users/me/sessions", tokens["access_token"]).json()) == 1


def test_using_an_access_token_writes_nothing(bearer, tokens):
    before = Session.objects.values("last_used_at", "user_agent", "ip_address").get()

    bearer("get", "/users/me/", tokens["access_token"])

    assert Session.objects.values("last_used_at", "user_agent", "ip_address").get() == before


def test_deleting_a_session_revokes_it(bearer, login, user, refresh):
    current = login(user)
    other = login(user)
    other_sid = jwt_parts(other["access_token"])[1]["sid"]

    response = bearer("delete", f"/users/me/sessions/{other_sid}/", current["access_token"])

    assert response.status_code == HTTPStatus.NO_CONTENT
    assert refresh(other["refresh_token"]).json()["error"] == "invalid_grant"
    assert refresh(current["refresh_token"]).status_code == HTTPStatus.OK


def test_deleting_the_current_session_stops_its_access_token_at_once(bearer, tokens):
    sid = jwt_parts(tokens["access_token"])[1]["sid"]

    assert (
        bearer("delete", f"/users/me/sessions/{sid}", tokens["access_token"]).status_code
        == HTTPStatus.NO_CONTENT
    )
    assert bearer("get", "/users/me/", tokens["access_token"]).status_code == HTTPStatus.UNAUTHORIZED


@pytest.mark.parametrize("which", ["another user's", "unknown", "ended", "not a uuid"])
def test_deleting_a_session_that_is_not_an_active_one_of_the_user_is_404(
    bearer, login, user, user_factory, which
):
    tokens = login(user)
    if which == "another user's":
        sid = jwt_parts(login(user_factory())["access_token"])[1]["sid"]
    elif which == "ended":
        ended = login(user)
        sid = jwt_parts(ended["access_token"])[1]["sid"]
        Session.objects.filter(pk=sid).revoke(reason=Session.EndReason.ADMIN)
    elif which == "unknown":
        sid = "00000000-0000-4000-8000-000000000000"
    else:
        sid = "nope"

    before = dict(Session.objects.values_list("pk", "end_reason"))

    response = bearer("delete", f"/users/me/sessions/{sid}/", tokens["access_token"])

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert dict(Session.objects.values_list("pk", "end_reason")) == before


def test_log_out_everywhere_revokes_every_session_of_the_user(bearer, login, user, user_factory, refresh):
    first = login(user)
    second = login(user)
    stranger = login(user_factory())

    response = bearer("delete", "/users/me/sessions/", first["access_token"])

    assert response.status_code == HTTPStatus.NO_CONTENT
    assert set(Session.objects.filter(user=user).values_list("end_reason", flat=True)) == {
        "logout_everywhere"
    }
    assert bearer("get", "/users/me/", second["access_token"]).status_code == HTTPStatus.UNAUTHORIZED
    assert refresh(stranger["refresh_token"]).status_code == HTTPStatus.OK


def test_sessions_endpoints_need_an_access_token(api_client, tokens):
    assert api_client.get("/users/me/sessions/").status_code == HTTPStatus.UNAUTHORIZED
    assert api_client.delete("/users/me/sessions/").status_code == HTTPStatus.UNAUTHORIZED
    refresh_as_bearer = api_client.get(
        "/users/me/sessions/", HTTP_AUTHORIZATION=f"Bearer {tokens['refresh_token']}"
    )
    assert refresh_as_bearer.status_code == HTTPStatus.UNAUTHORIZED
    assert Session.objects.get().revoked_at is None


@pytest.mark.django_db(transaction=True)
def test_listing_sessions_costs_two_queries(
    bearer, tokens, prepared_connection, django_assert_max_num_queries
):
    with django_assert_max_num_queries(2):
        assert bearer("get", "/users/me/sessions/", tokens["access_token"]).status_code == HTTPStatus.OK
