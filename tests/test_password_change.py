"""Changing one's own password: POST /users/me/password with a first-party access token (the
current session survives, every other ends) and the /account/password page (the browser stays
signed in, Django's update_session_auth_hash rule). A wrong current password is a 400 that
counts as a failed login."""

from http import HTTPStatus

from accounts.models import Session, User
from tests.conftest import run_queued_tasks

NEW_PASSWORD = "an entirely new passphrase 31"


def change(api_client, access_token, **body):
    return api_client.post(
        "/users/me/password", body, format="json", HTTP_AUTHORIZATION=f"Bearer {access_token}"
    )


def test_the_current_session_survives_and_every_other_ends(
    api_client, user, login, password, me, refresh, mailbox
):
    other = login(user)
    current = login(user)

    response = change(
        api_client, current["access_token"], current_password=password, new_password=NEW_PASSWORD
    )

    assert response.status_code == HTTPStatus.NO_CONTENT
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert me(current["access_token"]).status_code == HTTPStatus.OK
    assert refresh(current["refresh_token"]).status_code == HTTPStatus.OK
    assert me(other["access_token"]).status_code == HTTPStatus.UNAUTHORIZED
    assert refresh(other["refresh_token"]).status_code == HTTPStatus.BAD_REQUEST
    assert Session.objects.get(
        pk=Session.objects.filter(user=user).order_by("created_at").first().pk
    ).end_reason == (Session.EndReason.PASSWORD_CHANGED)
    run_queued_tasks()
    (notice,) = mailbox.to("johndoe@example.com")
    assert "Your password was changed" in notice["Subject"]


def test_a_wrong_current_password_is_a_400_counted_as_a_failed_login(
    api_client, user, tokens, password, settings
):
    settings.LOGIN_FAILURE_LIMIT = 2
    for _ in range(2):
        wrong = change(
            api_client, tokens["access_token"], current_password="not it", new_password=NEW_PASSWORD
        )
        assert wrong.status_code == HTTPStatus.BAD_REQUEST
        assert wrong.json() == {"current_password": ["The password is incorrect."]}

    # The pair (this address, johndoe) is now blocked: at /login too, even with the right password.
    blocked = api_client.post("/login", {"username": "johndoe", "password": password})
    assert blocked.status_code == HTTPStatus.TOO_MANY_REQUESTS
    again = change(api_client, tokens["access_token"], current_password=password, new_password=NEW_PASSWORD)
    assert again.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert User.objects.get(pk=user.pk).check_password(password)


def test_the_validators_apply_to_the_new_password(api_client, user, tokens, password):
    response = change(api_client, tokens["access_token"], current_password=password, new_password="johndoe1")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "new_password" in response.json()
    assert User.objects.get(pk=user.pk).check_password(password)
    assert Session.objects.active().filter(user=user).count() == 1


def test_it_needs_an_access_token_of_the_users_own_account(api_client, user, tokens, password):
    assert (
        change(api_client, "garbage", current_password=password, new_password=NEW_PASSWORD).status_code == 401
    )
    refresh_token = tokens["refresh_token"]
    assert (
        change(api_client, refresh_token, current_password=password, new_password=NEW_PASSWORD).status_code
        == 401
    )
    missing = change(api_client, tokens["access_token"], new_password=NEW_PASSWORD)
    assert missing.status_code == HTTPStatus.BAD_REQUEST
    assert "current_password" in missing.json()
    assert User.objects.get(pk=user.pk).check_password(password)


def test_the_page_keeps_this_browser_signed_in_and_signs_out_every_other(client, user, password, login, me):
    from django.test import Client

    other_browser = Client()
    for browser in (client, other_browser):
        browser.post("/account/sign-in", {"username": "johndoe", "password": password, "next": "/account"})
        assert browser.get("/account").status_code == HTTPStatus.OK
    api_tokens = login(user)

    response = client.post("/account/password", {"current_password": password, "new_password": NEW_PASSWORD})

    assert response.status_code == HTTPStatus.OK
    assert b"Your password is changed" in response.content
    assert client.get("/account").status_code == HTTPStatus.OK
    assert other_browser.get("/account").status_code == HTTPStatus.SEE_OTHER
    assert me(api_tokens["access_token"]).status_code == HTTPStatus.UNAUTHORIZED


def test_the_page_shows_a_wrong_current_password_on_its_field(client, user, password):
    client.post("/account/sign-in", {"username": "johndoe", "password": password})

    response = client.post("/account/password", {"current_password": "nope", "new_password": NEW_PASSWORD})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert b"The password is incorrect." in response.content


def test_the_account_pages_send_a_browser_that_is_not_signed_in_to_sign_in_first(client, db):
    for path in ("/account", "/account/password", "/account/email"):
        response = client.get(path)
        assert response.status_code == HTTPStatus.SEE_OTHER
        assert response["Location"] == f"/account/sign-in?next={path.replace('/', '%2F')}"


def test_the_account_sign_in_continues_only_to_the_accounts_own_pages(client, user, password):
    good = client.post(
        "/account/sign-in", {"username": "johndoe", "password": password, "next": "/account/email"}
    )
    assert good["Location"] == "/account/email"
    client.logout()
    evil = client.post(
        "/account/sign-in", {"username": "johndoe", "password": password, "next": "https://evil.example/"}
    )
    assert evil["Location"] == "/account"
