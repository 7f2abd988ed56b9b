"""Changing one's email: POST /users/me/email (email, password) and the /account/email page. The
new address gets a link; the email changes only when it is followed (the old address gets a
notice), and then the user's older refresh tokens are invalid_grant (the contract's rule)."""

from http import HTTPStatus

import pytest

from accounts.models import User
from tests.conftest import run_queued_tasks


def ask(api_client, access_token, **body):
    return api_client.post(
        "/users/me/email", body, format="json", HTTP_AUTHORIZATION=f"Bearer {access_token}"
    )


def test_the_email_changes_only_when_the_new_addresss_link_is_followed(
    api_client, client, user, tokens, password, mailbox, refresh, me
):
    response = ask(api_client, tokens["access_token"], email="john@new.example", password=password)

    assert response.status_code == HTTPStatus.ACCEPTED
    user.refresh_from_db()
    assert (user.email, user.pending_email) == ("johndoe@example.com", "john@new.example")
    run_queued_tasks()
    (notice,) = mailbox.to("johndoe@example.com")
    assert "john@new.example" in mailbox.text(notice)
    assert "/email/confirm/" not in mailbox.text(notice)
    link = mailbox.link("john@new.example", "/email/confirm/")
    assert refresh(tokens["refresh_token"]).status_code == HTTPStatus.OK  # nothing changed yet

    assert client.post(link).status_code == HTTPStatus.OK

    user.refresh_from_db()
    assert (user.email, user.pending_email, user.email_verified) == ("john@new.example", "", True)
    assert me(tokens["access_token"]).json()["email"] == "john@new.example"  # access tokens unaffected


def test_older_refresh_tokens_are_invalid_grant_after_the_change(
    api_client, client, user, login, password, mailbox, refresh
):
    tokens = login(user)
    ask(api_client, tokens["access_token"], email="john@new.example", password=password)
    run_queued_tasks()
    client.post(mailbox.link("john@new.example", "/email/confirm/"))

    response = refresh(tokens["refresh_token"])

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["error"] == "invalid_grant"


def test_a_wrong_password_is_a_400_and_changes_nothing(api_client, user, tokens):
    response = ask(api_client, tokens["access_token"], email="john@new.example", password="wrong")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json() == {"password": ["The password is incorrect."]}
    assert User.objects.get(pk=user.pk).pending_email == ""


def test_an_address_of_another_account_gets_the_same_answer_and_its_owner_a_notice(
    api_client, user, user_factory, tokens, password, mailbox
):
    user_factory(username="alice", email="alice@example.com")

    response = ask(api_client, tokens["access_token"], email="Alice@example.com", password=password)

    assert response.status_code == HTTPStatus.ACCEPTED
    assert User.objects.get(pk=user.pk).pending_email == ""
    run_queued_tasks()
    (notice,) = mailbox.to("alice@example.com")
    assert "Someone tried to use your email address" in notice["Subject"]
    assert "/email/confirm/" not in mailbox.text(notice)


def test_the_same_email_is_a_400(api_client, user, tokens, password):
    response = ask(api_client, tokens["access_token"], email="JOHNDOE@example.com", password=password)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "email" in response.json()


def test_an_address_taken_before_the_link_is_followed_is_refused_then(
    api_client, client, user, user_factory, tokens, password, mailbox
):
    ask(api_client, tokens["access_token"], email="john@new.example", password=password)
    run_queued_tasks()
    link = mailbox.link("john@new.example", "/email/confirm/")
    user_factory(username="quick", email="JOHN@new.example")

    response = client.post(link)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert b"belongs to another account" in response.content
    assert User.objects.get(pk=user.pk).email == "johndoe@example.com"


def test_a_newer_change_makes_the_older_link_worthless(api_client, client, user, tokens, password, mailbox):
    ask(api_client, tokens["access_token"], email="first@new.example", password=password)
    run_queued_tasks()
    first = mailbox.link("first@new.example", "/email/confirm/")
    ask(api_client, tokens["access_token"], email="second@new.example", password=password)

    assert client.post(first).status_code == HTTPStatus.BAD_REQUEST
    assert User.objects.get(pk=user.pk).email == "johndoe@example.com"


@pytest.mark.parametrize(
    "body", [{"password": "x"}, {"email": "nope", "password": "x"}, {"email": "a@b.example"}]
)
def test_bad_input_is_a_400_on_its_field(api_client, user, tokens, body):
    response = ask(api_client, tokens["access_token"], **body)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert set(response.json()) & {"email", "password"}


def test_the_page_asks_for_the_change(client, user, password, mailbox):
    client.post("/account/sign-in", {"username": "johndoe", "password": password})

    response = client.post("/account/email", {"email": "john@new.example", "password": password})

    assert response.status_code == HTTPStatus.OK
    assert b"Check your email" in response.content
    assert User.objects.get(pk=user.pk).pending_email == "john@new.example"
