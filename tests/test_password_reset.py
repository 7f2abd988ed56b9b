"""Forgotten passwords: POST /password-reset and its page answer the same whether or not the
address has an account; the emailed link sets a new password once, before it expires, through
the validators; setting it ends every session and signs the browser in only when asked."""

from http import HTTPStatus
from unittest import mock

import pytest
from django_tasks_db.models import DBTaskResult

from accounts.models import Session, User
from tests.conftest import run_queued_tasks

NEW_PASSWORD = "a brand new passphrase 2026"


def ask(api_client, email="johndoe@example.com", **extra):
    return api_client.post("/password-reset", {"email": email}, format="json", **extra)


def test_an_address_with_an_account_gets_a_link_and_one_without_gets_the_same_answer(
    api_client, user, mailbox
):
    known = ask(api_client)
    unknown = ask(api_client, "nobody@example.com")

    assert known.status_code == unknown.status_code == HTTPStatus.ACCEPTED
    assert known.json() == unknown.json()
    assert known.json()["detail"].startswith("If an account has this email address")
    assert DBTaskResult.objects.count() == 2  # the same work for both: one queued email each
    run_queued_tasks()
    assert [recipients for recipients, _ in mailbox.messages] == [["johndoe@example.com"]]
    assert mailbox.link("johndoe@example.com", "/password-reset/")


def test_the_answer_does_the_same_queries_whether_or_not_the_address_has_an_account(api_client, user):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    ask(api_client, "warm-up@example.com")  # this client's address counter exists for both
    with CaptureQueriesContext(connection) as known:
        ask(api_client)
    with CaptureQueriesContext(connection) as unknown:
        ask(api_client, "nobody@example.com")

    assert len(known.captured_queries) == len(unknown.captured_queries)


def test_the_link_sets_a_new_password_once_and_every_session_ends(
    api_client, client, user, mailbox, tokens, password
):
    ask(api_client)
    run_queued_tasks()
    link = mailbox.link("johndoe@example.com", "/password-reset/")
    page = client.get(link)
    assert page.status_code == HTTPStatus.OK
    assert b"Choose a new password" in page.content
    assert User.objects.get(pk=user.pk).check_password(password)  # showing the page changes nothing

    response = client.post(link, {"new_password": NEW_PASSWORD})

    assert response.status_code == HTTPStatus.OK
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert not Session.objects.active().filter(user=user).exists()
    assert (
        api_client.post(
            "/token", {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
        ).status_code
        == 400
    )
    assert client.get("/account").status_code == HTTPStatus.SEE_OTHER  # not signed in: not asked
    again = client.post(link, {"new_password": "yet another passphrase 77"})
    assert again.status_code == HTTPStatus.BAD_REQUEST
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)


def test_the_browser_is_signed_in_only_when_the_user_asks(client, user, mailbox, api_client):
    ask(api_client)
    run_queued_tasks()

    client.post(
        mailbox.link("johndoe@example.com", "/password-reset/"),
        {"new_password": NEW_PASSWORD, "sign_in": "on"},
    )

    assert client.get("/account").status_code == HTTPStatus.OK


def test_the_validators_apply_to_the_new_password(client, user, mailbox, api_client, password):
    ask(api_client)
    run_queued_tasks()
    link = mailbox.link("johndoe@example.com", "/password-reset/")

    response = client.post(link, {"new_password": "123"})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert b"This password is too short" in response.content
    assert User.objects.get(pk=user.pk).check_password(password)
    assert client.post(link, {"new_password": NEW_PASSWORD}).status_code == HTTPStatus.OK  # still usable


def test_the_link_expires_after_password_reset_timeout(
    client, user, mailbox, api_client, password, clock, settings
):
    settings.PASSWORD_RESET_TIMEOUT = 3600
    ask(api_client)
    run_queued_tasks()
    link = mailbox.link("johndoe@example.com", "/password-reset/")

    clock.advance(3601)

    assert client.get(link).status_code == HTTPStatus.BAD_REQUEST
    assert client.post(link, {"new_password": NEW_PASSWORD}).status_code == HTTPStatus.BAD_REQUEST
    assert User.objects.get(pk=user.pk).check_password(password)


def test_a_link_made_with_a_former_secret_key_still_works(client, user, mailbox, api_client, settings):
    ask(api_client)
    run_queued_tasks()
    link = mailbox.link("johndoe@example.com", "/password-reset/")
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a new secret key " * 4

    assert client.post(link, {"new_password": NEW_PASSWORD}).status_code == HTTPStatus.OK


@pytest.mark.parametrize(
    "path",
    [
        "/password-reset/not-a-uuid/abc-def",
        "/password-reset/00000000-0000-0000-0000-000000000000/abc-def",
        "/password-reset/{public_id}/garbage",
        "/password-reset/{public_id}/zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz-1",
    ],
)
def test_a_broken_or_forged_link_is_a_400_page(client, user, path):
    response = client.get(path.format(public_id=user.public_id))

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert b"This link cannot be used" in response.content


def test_requests_are_throttled_per_email_and_count_unknown_addresses_too(api_client, db, settings):
    settings.EMAIL_REQUEST_LIMIT = 2
    for _ in range(2):
        assert ask(api_client, "nobody@example.com").status_code == HTTPStatus.ACCEPTED

    blocked = ask(api_client, "NOBODY@example.com")

    assert blocked.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert "Retry-After" in blocked
    assert DBTaskResult.objects.count() == 2


@pytest.mark.parametrize("body", [{}, {"email": ""}, {"email": "not an email"}, {"email": ["a@example.com"]}])
def test_bad_input_is_a_400_on_email(api_client, db, body):
    response = api_client.post("/password-reset", body, format="json")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "email" in response.json()
    assert not DBTaskResult.objects.exists()


def test_the_page_answers_the_same_for_any_address(client, user):
    known = client.post("/account/password-reset", {"email": "johndoe@example.com"})
    unknown = client.post("/account/password-reset", {"email": "nobody@example.com"})

    assert known.status_code == unknown.status_code == HTTPStatus.OK
    assert known.content.replace(b"johndoe", b"X") == unknown.content.replace(b"nobody", b"X")


def test_a_get_of_the_api_path_leads_a_person_to_the_page(client, db):
    response = client.get("/password-reset")

    assert response.status_code == HTTPStatus.SEE_OTHER
    assert response["Location"] == "/account/password-reset"


def test_a_failing_smtp_server_never_fails_the_request(api_client, user, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9  # nothing listens
    with mock.patch("smtplib.SMTP.connect", side_effect=AssertionError("the request sent mail")):
        assert ask(api_client).status_code == HTTPStatus.ACCEPTED


def test_a_reset_started_from_an_authorization_request_continues_to_it(client, user, mailbox):
    pending = "/authorize?client_id=app&response_type=code"
    client.post("/account/password-reset", {"email": "johndoe@example.com", "next": pending})
    run_queued_tasks()

    done = client.post(
        mailbox.link("johndoe@example.com", "/password-reset/"), {"new_password": NEW_PASSWORD}
    )

    assert done.status_code == HTTPStatus.OK
    assert f'href="{pending.replace("&", "&amp;")}"' in done.content.decode()


def test_a_reset_never_continues_to_another_site(client, user, mailbox):
    client.post(
        "/account/password-reset", {"email": "johndoe@example.com", "next": "https://evil.example/authorize"}
    )
    run_queued_tasks()

    done = client.post(
        mailbox.link("johndoe@example.com", "/password-reset/"), {"new_password": NEW_PASSWORD}
    )

    assert "evil.example" not in done.content.decode()
