"""Sign-up: POST /users/ and the /signup page (only with SIGNUP_ENABLED), the verification link
that the new account's email receives (read from a real SMTP server), and no account
enumeration by email (OWASP ASVS V2/V3)."""

from http import HTTPStatus

import pytest

from accounts.models import User
from tests.conftest import run_queued_tasks

NEW_PASSWORD = "plum tree over the quiet river"
pytestmark = pytest.mark.usefixtures("signup_enabled")


def sign_up(api_client, **fields):
    body = {"username": "maria", "email": "maria@example.com", "password": NEW_PASSWORD, **fields}
    return api_client.post("/users/", body, format="json")


def test_sign_up_answers_201_with_the_public_fields_and_the_user_can_log_in_at_once(api_client, db):
    response = sign_up(api_client, full_name="Maria Lopez")

    assert response.status_code == HTTPStatus.CREATED
    assert response.json() == {
        "username": "maria",
        "email": "maria@example.com",
        "full_name": "Maria Lopez",
        "email_verified": False,
        "disabled": False,
    }
    assert response["Cache-Control"] == "no-store"
    user = User.objects.get(username="maria")
    assert not user.email_verified
    assert user.check_password(NEW_PASSWORD)
    login = api_client.post("/login", {"username": "maria", "password": NEW_PASSWORD})
    assert login.status_code == HTTPStatus.OK
    me = api_client.get("/users/me/", HTTP_AUTHORIZATION=f"Bearer {login.json()['access_token']}")
    assert me.json()["email_verified"] is False


def test_a_form_body_works_too(api_client, db):
    response = api_client.post(
        "/users", {"username": "maria", "email": "maria@example.com", "password": NEW_PASSWORD}
    )

    assert response.status_code == HTTPStatus.CREATED
    assert User.objects.filter(username="maria").exists()


def test_sign_up_is_404_unless_enabled(api_client, client, db, settings):
    settings.SIGNUP_ENABLED = False

    assert sign_up(api_client).status_code == HTTPStatus.NOT_FOUND
    assert client.get("/signup").status_code == HTTPStatus.NOT_FOUND
    assert not User.objects.exists()


def test_the_verification_link_arrives_by_smtp_and_verifies_the_email_with_one_post(
    api_client, client, mailbox, db
):
    sign_up(api_client)
    run_queued_tasks()

    (message,) = mailbox.to("maria@example.com")
    assert "Confirm your email address" in message["Subject"]
    assert message.get_body(preferencelist=("html",)) is not None
    link = mailbox.link("maria@example.com", "/email/confirm/")
    page = client.get(link)  # a mail scanner fetching the link verifies nothing
    assert page.status_code == HTTPStatus.OK
    assert b"Confirm" in page.content
    assert not User.objects.get(username="maria").email_verified

    confirmed = client.post(link)

    assert confirmed.status_code == HTTPStatus.OK
    assert User.objects.get(username="maria").email_verified
    assert client.post(link).status_code == HTTPStatus.BAD_REQUEST  # works once


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short1", "This password is too short. It must contain at least 8 characters."),
        ("password123", "This password is too common."),
        ("8734562098341", "This password is entirely numeric."),
        ("maria.lopez.example", "The password is too similar to the email address."),
        ("Esperanza Wilhelmina", "The password is too similar to the full name."),
    ],
)
def test_each_password_validator_refuses_with_its_message_on_the_password_field(
    api_client, db, password, message
):
    response = sign_up(
        api_client,
        email="maria.lopez.example@example.com",
        full_name="Esperanza Wilhelmina",
        password=password,
    )

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert message in response.json()["password"]
    assert not User.objects.exists()


def test_a_taken_username_is_a_400_on_username_whatever_its_case(api_client, user):
    response = sign_up(api_client, username="JohnDoe")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json() == {"username": ["A user with that username already exists."]}
    assert User.objects.count() == 1


def test_a_taken_email_gets_the_answer_of_a_new_one_and_its_owner_is_told(api_client, user, mailbox):
    response = sign_up(api_client, email="JohnDoe@example.com")

    assert response.status_code == HTTPStatus.CREATED
    assert response.json() == {
        "username": "maria",
        "email": "JohnDoe@example.com",
        "full_name": "",
        "email_verified": False,
        "disabled": False,
    }
    assert User.objects.count() == 1  # nobody was created
    run_queued_tasks()
    (notice,) = mailbox.messages
    assert notice[0] == ["johndoe@example.com"]
    assert "Someone tried to use your email address" in notice[1]["Subject"]
    assert "/email/confirm/" not in mailbox.text(notice[1])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": "", "email": "a@example.com", "password": NEW_PASSWORD}, "username"),
        ({"username": "has space", "email": "a@example.com", "password": NEW_PASSWORD}, "username"),
        ({"username": "a" * 151, "email": "a@example.com", "password": NEW_PASSWORD}, "username"),
        ({"username": "maria", "email": "not-an-email", "password": NEW_PASSWORD}, "email"),
        ({"username": "maria", "email": "a@example.com"}, "password"),
        ({"username": ["maria"], "email": "a@example.com", "password": NEW_PASSWORD}, "username"),
        ({"username": "ma\x00ria", "email": "a@example.com", "password": NEW_PASSWORD}, "username"),
    ],
)
def test_bad_input_is_a_400_on_its_field_and_creates_nothing(api_client, db, body, field):
    response = api_client.post("/users/", body, format="json")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert field in response.json()
    assert not User.objects.exists()


def test_sign_ups_are_throttled_per_email(api_client, db, settings):
    settings.EMAIL_REQUEST_LIMIT = 2
    for name in ("maria1", "maria2"):
        assert sign_up(api_client, username=name, email="same@example.com").status_code == HTTPStatus.CREATED

    blocked = sign_up(api_client, username="maria3", email="same@example.com")

    assert blocked.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert int(blocked["Retry-After"]) > 0
    assert blocked.json()["error"] == "too_many_requests"
    assert not User.objects.filter(username="maria3").exists()
    assert sign_up(api_client, username="other", email="other@example.com").status_code == HTTPStatus.CREATED


def test_sign_ups_are_throttled_per_client_address(api_client, db, settings):
    settings.EMAIL_REQUEST_IP_LIMIT = 2
    for n in range(2):
        assert (
            sign_up(api_client, username=f"u{n}", email=f"u{n}@example.com").status_code == HTTPStatus.CREATED
        )

    assert (
        sign_up(api_client, username="u3", email="u3@example.com").status_code == HTTPStatus.TOO_MANY_REQUESTS
    )
    body = {"username": "u4", "email": "u4@example.com", "password": NEW_PASSWORD}
    other = api_client.post("/users/", body, format="json", REMOTE_ADDR="203.0.113.9")
    assert other.status_code == HTTPStatus.CREATED


def test_the_signup_page_creates_the_account_signs_the_browser_in_and_sends_the_link(client, mailbox, db):
    page = client.get("/signup")
    assert page.status_code == HTTPStatus.OK
    assert page["X-Frame-Options"] == "DENY"
    assert "no-store" in page["Cache-Control"]

    response = client.post(
        "/signup",
        {"username": "maria", "email": "maria@example.com", "password": NEW_PASSWORD, "full_name": ""},
    )

    assert response.status_code == HTTPStatus.OK
    assert b"Check your email" in response.content
    # Not signed in (a taken email would sign no one in, so a new one does not either) ...
    assert client.get("/account").status_code == HTTPStatus.SEE_OTHER
    # ... but the new password signs in at once.
    signed_in = client.post("/account/sign-in", {"username": "maria", "password": NEW_PASSWORD})
    assert signed_in.status_code == HTTPStatus.SEE_OTHER
    assert client.get("/account").status_code == HTTPStatus.OK
    run_queued_tasks()
    assert mailbox.link("maria@example.com", "/email/confirm/")


def test_the_signup_page_answers_a_taken_email_exactly_as_a_new_one(client, user, db):
    from django.test import Client

    fresh = Client()
    taken = client.post(
        "/signup", {"username": "maria", "email": "johndoe@example.com", "password": NEW_PASSWORD}
    )
    new = fresh.post(
        "/signup", {"username": "maria2", "email": "maria2@example.com", "password": NEW_PASSWORD}
    )

    assert taken.status_code == new.status_code == HTTPStatus.OK
    assert taken.content.replace(b"johndoe", b"X") == new.content.replace(b"maria2", b"X")
    assert set(taken.cookies) == set(new.cookies)  # no session cookie for one of them only


def test_the_signup_page_shows_each_refusal_on_its_field(client, user):
    response = client.post("/signup", {"username": "johndoe", "email": "x@example.com", "password": "short"})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    content = response.content.decode()
    assert "A user with that username already exists." in content
    assert "This password is too short." in content
    assert User.objects.count() == 1


def test_the_signup_page_is_csrf_protected(db):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    response = browser.post(
        "/signup", {"username": "maria", "email": "m@example.com", "password": NEW_PASSWORD}
    )

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert not User.objects.exists()


def test_a_username_is_stored_as_the_sign_in_forms_read_it_nfkc(api_client, client, db):
    response = sign_up(api_client, username="\ufb01ona")  # "ﬁona", with the fi ligature

    assert response.status_code == HTTPStatus.CREATED
    assert response.json()["username"] == "fiona"
    assert User.objects.filter(username="fiona").exists()
    assert (
        client.post("/account/sign-in", {"username": "\ufb01ona", "password": NEW_PASSWORD}).status_code
        == 303
    )
