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


def test_an_address_of_another_account_is_treated_alike_and_its_owner_gets_a_notice_not_a_link(
    api_client, user, user_factory, tokens, password, mailbox
):
    user_factory(username="alice", email="alice@example.com")

    taken = ask(api_client, tokens["access_token"], email="Alice@example.com", password=password)

    assert taken.status_code == HTTPStatus.ACCEPTED
    assert taken.json() == {"detail": "A link to confirm it is on its way to Alice@example.com."}
    assert User.objects.get(pk=user.pk).pending_email == "Alice@example.com"  # as for a free address
    run_queued_tasks()
    (notice,) = mailbox.to("alice@example.com")
    assert "Someone tried to use your email address" in notice["Subject"]
    assert "/email/confirm/" not in mailbox.text(notice)
    (own,) = mailbox.to("johndoe@example.com")  # the asker's own address: the notice, as always
    assert "A change of your email address was asked for" in own["Subject"]


def test_the_former_address_is_told_when_the_change_is_done(
    api_client, client, user, tokens, password, mailbox
):
    ask(api_client, tokens["access_token"], email="john@new.example", password=password)
    run_queued_tasks()
    client.post(mailbox.link("john@new.example", "/email/confirm/"))
    run_queued_tasks()

    subjects = [message["Subject"] for message in mailbox.to("johndoe@example.com")]

    assert any("A change of your email address was asked for" in subject for subject in subjects)
    assert any("Your email address was changed" in subject for subject in subjects)


def test_the_notice_goes_to_the_address_of_the_request_even_when_sent_after_the_change(
    api_client, client, user, tokens, password, mailbox
):
    from accounts.selfservice import links

    ask(api_client, tokens["access_token"], email="john@new.example", password=password)
    user.refresh_from_db()
    url = links.email_confirmation_url(user)
    client.post(url[url.index("/email/") :])  # followed before the worker ran

    run_queued_tasks()

    assert not any("was asked for" in message["Subject"] for message in mailbox.to("john@new.example"))
    assert any("was asked for" in message["Subject"] for message in mailbox.to("johndoe@example.com"))


@pytest.mark.parametrize("how", ["reset", "change"])
def test_a_pending_change_ends_when_the_password_is_set(
    api_client, client, user, tokens, password, mailbox, how
):
    ask(api_client, tokens["access_token"], email="attacker@evil.example", password=password)
    run_queued_tasks()
    link = mailbox.link("attacker@evil.example", "/email/confirm/")
    new_password = "the owner's new passphrase 8"
    if how == "change":
        response = api_client.post(
            "/users/me/password",
            {"current_password": password, "new_password": new_password},
            HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}",
        )
        assert response.status_code == HTTPStatus.NO_CONTENT
    else:
        api_client.post("/password-reset", {"email": "johndoe@example.com"})
        run_queued_tasks()
        assert (
            client.post(
                mailbox.link("johndoe@example.com", "/password-reset/"), {"new_password": new_password}
            ).status_code
            == 200
        )

    assert User.objects.get(pk=user.pk).pending_email == ""
    assert client.post(link).status_code == HTTPStatus.BAD_REQUEST
    assert User.objects.get(pk=user.pk).email == "johndoe@example.com"


def test_a_password_set_by_any_path_makes_an_email_link_worthless(client, user):
    from accounts.selfservice import links

    url = links.email_confirmation_url(user)
    user.set_password("set in the admin, say 12")
    user.save()

    assert client.post(url[url.index("/email/") :]).status_code == HTTPStatus.BAD_REQUEST


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
