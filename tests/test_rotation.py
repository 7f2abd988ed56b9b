"""Rotation rules: exactly once, reuse detection, the reuse interval, session lifetimes."""

from datetime import timedelta
from http import HTTPStatus

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from accounts import services
from accounts.callers import Caller
from accounts.models import Session
from accounts.tokens import RefreshToken
from tests.conftest import data_statements
from tests.helpers import jwt_parts


@pytest.mark.parametrize(
    ("interval", "spent_seconds_ago"),
    [
        pytest.param(0, 0, id="without a reuse interval, at once"),
        pytest.param(30, 60, id="after the reuse interval"),
    ],
)
def test_a_spent_refresh_token_presented_again_is_reuse_and_revokes_its_session(
    refresh, me, user, settings, interval, spent_seconds_ago
):
    settings.REFRESH_TOKEN_REUSE_INTERVAL_SECONDS = interval
    then = timezone.now() - timedelta(seconds=spent_seconds_ago)
    spent = services.session_start(
        user=user, caller=Caller(), grant_type=Session.Grant.PASSWORD, now=then
    ).refresh_token
    newest = services.refresh_token_rotate(refresh_token=spent, caller=Caller(), now=then)

    replay = refresh(spent)

    assert replay.status_code == HTTPStatus.BAD_REQUEST
    assert replay.json()["error"] == "invalid_grant"
    assert Session.objects.get().end_reason == "reuse_detected"
    # Every token of the session stops: the newest refresh token and its access token too.
    assert refresh(newest.refresh_token).json()["error"] == "invalid_grant"
    assert me(newest.access_token).status_code == HTTPStatus.UNAUTHORIZED


@pytest.mark.parametrize("interval", [0, 30])
def test_any_token_older_than_the_newest_ones_parent_is_reuse_whatever_the_interval(
    refresh, tokens, settings, interval
):
    settings.REFRESH_TOKEN_REUSE_INTERVAL_SECONDS = interval
    second = refresh(tokens["refresh_token"]).json()
    refresh(second["refresh_token"])

    assert refresh(tokens["refresh_token"]).json()["error"] == "invalid_grant"
    assert Session.objects.get().end_reason == "reuse_detected"


def test_reuse_revokes_only_its_own_session(refresh, login, user):
    first = login(user)
    second = login(user)
    refresh(first["refresh_token"])

    refresh(first["refresh_token"])

    assert refresh(second["refresh_token"]).status_code == HTTPStatus.OK


def test_within_the_reuse_interval_a_retry_gets_the_same_successor(refresh, tokens, settings, me):
    settings.REFRESH_TOKEN_REUSE_INTERVAL_SECONDS = 30
    first = refresh(tokens["refresh_token"]).json()

    retry = refresh(tokens["refresh_token"])

    assert retry.status_code == HTTPStatus.OK
    assert retry.json()["refresh_token"] == first["refresh_token"]
    assert me(retry.json()["access_token"]).status_code == HTTPStatus.OK
    assert Session.objects.get().revoked_at is None
    # The successor is still the one live token, and spends normally.
    assert refresh(first["refresh_token"]).status_code == HTTPStatus.OK


def test_session_ends_at_its_absolute_end_however_often_refreshed(refresh, user, settings):
    settings.SESSION_MAX_LIFETIME_SECONDS = 3600
    settings.REFRESH_TOKEN_LIFETIME_SECONDS = 3000
    start = timezone.now() - timedelta(seconds=2900)
    issued = services.session_start(user=user, caller=Caller(), grant_type=Session.Grant.PASSWORD, now=start)
    rotated = services.refresh_token_rotate(refresh_token=issued.refresh_token, caller=Caller())
    # The rotation at 2900 s cannot give a full 3000 s: its token ends with the session.
    assert jwt_parts(rotated.refresh_token)[1]["exp"] == int((start + timedelta(seconds=3600)).timestamp())

    Session.objects.update(expires_at=timezone.now() - timedelta(seconds=1))  # the end has come
    response = refresh(rotated.refresh_token)

    assert response.json()["error"] == "invalid_grant"


def test_session_ends_when_idle_for_the_refresh_token_lifetime(refresh, me, user, settings):
    settings.REFRESH_TOKEN_LIFETIME_SECONDS = 600
    settings.ACCESS_TOKEN_LIFETIME_SECONDS = 1800
    issued = services.session_start(
        user=user,
        caller=Caller(),
        grant_type=Session.Grant.PASSWORD,
        now=timezone.now() - timedelta(seconds=601),
    )

    response = refresh(issued.refresh_token)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["error"] == "invalid_grant"
    # The access token would live longer, but it never outlives its session's refresh token.
    assert me(issued.access_token).status_code == HTTPStatus.UNAUTHORIZED
    assert Session.objects.get().status() == "idle"


def test_each_refresh_pushes_the_idle_end_back(refresh, tokens, settings):
    settings.REFRESH_TOKEN_LIFETIME_SECONDS = 600
    body = refresh(tokens["refresh_token"]).json()

    session = Session.objects.select_related("newest_record").get()
    assert session.newest_record.expires_at > timezone.now() + timedelta(seconds=590)
    assert body["refresh_expires_in"] == 600


def test_refresh_records_the_client_of_the_latest_refresh(api_client, tokens):
    api_client.post(
        "/token",
        {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        HTTP_USER_AGENT="agent/2",
        REMOTE_ADDR="10.1.2.3",
    )

    session = Session.objects.get()
    assert (session.user_agent, session.ip_address) == ("agent/2", "10.1.2.3")


@pytest.mark.django_db(transaction=True)  # so the service's transaction is the outermost
def test_a_rotation_costs_two_round_trips_on_postgresql_and_four_statements_on_sqlite(
    refresh, tokens, prepared_connection, django_assert_max_num_queries
):
    # Read session + user + newest token; then insert the successor, move the session and
    # blacklist the parent: on PostgreSQL in one statement, its own transaction; on SQLite in
    # three, between the transaction's BEGIN and COMMIT (which the counter sees as well).
    expected = (
        ["EXECUTE", "WITH"] if connection.vendor == "postgresql" else ["SELECT", "INSERT", "UPDATE", "INSERT"]
    )
    with django_assert_max_num_queries(
        len(expected) + (0 if connection.vendor == "postgresql" else 2)
    ) as captured:
        response = refresh(tokens["refresh_token"])

    assert response.status_code == HTTPStatus.OK
    assert [statement.split()[0] for statement in data_statements(captured)] == expected


@pytest.mark.django_db(transaction=True)
def test_a_login_costs_nine_statements(api_client, user, password, django_assert_max_num_queries):
    api_client.post("/login", {"username": user.username, "password": password})  # loads the signing key
    # Throttling: read this IP's failures; count the attempt of this IP and username (update,
    # read back). Read the user. Does it have a second factor? Lock it and check its password is
    # unchanged; insert the refresh token record; insert the session. Clear the attempt count.
    # (+ BEGIN and COMMIT)
    with django_assert_max_num_queries(9 + 2) as captured:
        response = api_client.post("/login", {"username": user.username, "password": password})

    assert response.status_code == HTTPStatus.OK
    assert len(data_statements(captured)) == 9


@pytest.mark.parametrize("interval", [0, 30])
def test_a_revoked_session_is_never_revived_by_a_retry(refresh, tokens, settings, interval):
    settings.REFRESH_TOKEN_REUSE_INTERVAL_SECONDS = interval
    refresh(tokens["refresh_token"])
    Session.objects.revoke(reason=Session.EndReason.ADMIN)

    assert refresh(tokens["refresh_token"]).json()["error"] == "invalid_grant"
    assert Session.objects.get().end_reason == "admin"


@pytest.mark.parametrize(
    ("interval", "end_reason", "newest_access_token_gets"),
    [
        pytest.param(0, "reuse_detected", HTTPStatus.UNAUTHORIZED, id="a spent token is reuse"),
        pytest.param(30, "", HTTPStatus.OK, id="a retry within the reuse interval revokes nothing"),
    ],
)
def test_after_an_email_change_a_spent_token_is_refused(
    refresh, tokens, user, me, settings, interval, end_reason, newest_access_token_gets
):
    settings.REFRESH_TOKEN_REUSE_INTERVAL_SECONDS = interval
    newest = refresh(tokens["refresh_token"]).json()
    user.email = "john.doe@example.org"
    user.save()

    assert refresh(tokens["refresh_token"]).json()["error"] == "invalid_grant"

    assert Session.objects.get().end_reason == end_reason
    # Access tokens carry the username, not the email: only a revocation stops the newest one.
    assert me(newest["access_token"]).status_code == newest_access_token_gets


def test_a_rotation_that_loses_to_a_revocation_changes_nothing(refresh, tokens, monkeypatch):
    """The session is revoked between the read and the rotation: the rotation rolls back whole."""
    real = services._active_session_of

    def read_then_revoked_elsewhere(token, *, now):
        session = real(token, now=now)
        Session.objects.filter(pk=session.pk).revoke(reason=Session.EndReason.ADMIN)
        return session

    monkeypatch.setattr(services, "_active_session_of", read_then_revoked_elsewhere)

    response = refresh(tokens["refresh_token"])

    assert response.json()["error"] == "invalid_grant"
    assert OutstandingToken.objects.count() == 1
    assert not BlacklistedToken.objects.exists()
    assert Session.objects.get().end_reason == "admin"


def test_an_expired_refresh_token_is_refused_even_with_its_session_active(refresh, tokens):
    """The token's own `exp` is checked, not only the session's ends."""
    session = Session.objects.select_related("user", "newest_record").get()
    expired = RefreshToken.issue(
        session_id=str(session.pk),
        subject=session.user.email,
        jti=session.newest_record.jti,
        issued_at=timezone.now() - timedelta(hours=2),
        not_after=timezone.now() - timedelta(hours=1),
    )

    assert refresh(str(expired)).json() == {
        "error": "invalid_grant",
        "error_description": "The refresh token has expired.",
    }
    assert Session.objects.get().revoked_at is None
    assert refresh(tokens["refresh_token"]).status_code == HTTPStatus.OK
