"""The Django admin: users and sessions."""

from http import HTTPStatus

import pytest

from accounts.models import Session


@pytest.fixture
def admin_client(client, user_factory):
    client.force_login(user_factory(username="admin", is_staff=True, is_superuser=True))
    return client


def test_users_are_searchable_by_username_and_email(admin_client, user_factory):
    user_factory(username="findme", email="needle@example.com")
    user_factory(username="other")

    by_email = admin_client.get("/admin/accounts/user/", {"q": "needle"})
    by_username = admin_client.get("/admin/accounts/user/", {"q": "findme"})

    assert by_email.status_code == HTTPStatus.OK
    assert "findme" in by_email.text
    assert "other" not in by_email.text
    assert "findme" in by_username.text


def test_users_can_be_filtered_by_active(admin_client, user_factory):
    user_factory(username="sleeper", is_active=False)

    response = admin_client.get("/admin/accounts/user/", {"is_active__exact": "0"})

    assert "sleeper" in response.text


def test_admin_can_add_a_user(admin_client):
    response = admin_client.post(
        "/admin/accounts/user/add/",
        {
            "username": "newbie",
            "email": "newbie@example.com",
            "full_name": "New Bie",
            "password1": "a-long-enough-password-1",
            "password2": "a-long-enough-password-1",
            "usable_password": "true",
        },
    )

    assert response.status_code == HTTPStatus.FOUND, response.text


def test_admin_refuses_an_email_taken_in_another_case(admin_client, user_factory):
    user_factory(email="taken@example.com")

    response = admin_client.post(
        "/admin/accounts/user/add/",
        {
            "username": "newbie",
            "email": "TAKEN@example.com",
            "password1": "a-long-enough-password-1",
            "password2": "a-long-enough-password-1",
            "usable_password": "true",
        },
    )

    assert response.status_code == HTTPStatus.OK
    assert "already exists" in response.text


def test_password_change_in_the_admin_revokes_the_sessions(admin_client, login, user):
    login(user)

    response = admin_client.post(
        f"/admin/accounts/user/{user.pk}/password/",
        {
            "password1": "a-brand-new-password-9",
            "password2": "a-brand-new-password-9",
            "usable_password": "true",
        },
    )

    assert response.status_code == HTTPStatus.FOUND, response.text
    assert Session.objects.get().end_reason == "password_changed"


def test_sessions_are_listed_with_their_status(admin_client, login, user):
    login(user)

    response = admin_client.get("/admin/accounts/session/")

    assert response.status_code == HTTPStatus.OK
    assert "johndoe" in response.text
    assert "active" in response.text


def test_revoke_action_revokes_the_selected_sessions(admin_client, login, user, me):
    tokens = login(user)
    session = Session.objects.get()

    admin_client.post("/admin/accounts/session/", {"action": "revoke", "_selected_action": [str(session.pk)]})

    session.refresh_from_db()
    assert session.end_reason == "admin"
    assert me(tokens["access_token"]).status_code == HTTPStatus.UNAUTHORIZED


def test_log_out_everywhere_action_revokes_every_session_of_the_user(admin_client, login, user):
    login(user)
    login(user)

    admin_client.post(
        "/admin/accounts/user/", {"action": "log_out_everywhere", "_selected_action": [str(user.pk)]}
    )

    assert set(Session.objects.values_list("end_reason", flat=True)) == {"logout_everywhere"}


def test_a_session_page_shows_its_refresh_tokens_and_which_are_spent(admin_client, login, user, refresh):
    tokens = login(user)
    refresh(tokens["refresh_token"])
    session = Session.objects.get()

    response = admin_client.get(f"/admin/accounts/session/{session.pk}/change/")

    assert response.status_code == HTTPStatus.OK
    assert response.text.count(f"{session.pk.hex}.") >= 2
    assert response.text.count(" issued ") == 2
    assert response.text.count("(spent)") == 1


def test_disabling_the_password_in_the_admin_revokes_the_sessions(admin_client, login, user):
    login(user)

    response = admin_client.post(
        f"/admin/accounts/user/{user.pk}/password/", {"usable_password": "false", "unset-password": "1"}
    )

    assert response.status_code == HTTPStatus.FOUND, response.text
    assert Session.objects.get().end_reason == "password_changed"


def test_deleting_a_session_in_the_admin_stops_its_tokens(admin_client, login, user, me, refresh):
    tokens = login(user)
    session = Session.objects.get()

    response = admin_client.post(f"/admin/accounts/session/{session.pk}/delete/", {"post": "yes"})

    assert response.status_code == HTTPStatus.FOUND
    assert me(tokens["access_token"]).status_code == HTTPStatus.UNAUTHORIZED
    assert refresh(tokens["refresh_token"]).json()["error"] == "invalid_grant"
