"""Email verification links: single-use, bound to the email and its verified state (Django's
PasswordResetTokenGenerator pattern), EMAIL_VERIFICATION_LIFETIME_SECONDS long, confirmed by
one POST (a GET verifies nothing); POST /users/me/email/verification sends one again."""

from http import HTTPStatus

import pytest

from accounts.models import User
from accounts.selfservice import links
from tests.conftest import run_queued_tasks


def resend(api_client, access_token):
    return api_client.post("/users/me/email/verification", HTTP_AUTHORIZATION=f"Bearer {access_token}")


def test_resending_sends_a_new_link_that_verifies_the_email(api_client, client, user, tokens, mailbox, me):
    response = resend(api_client, tokens["access_token"])

    assert response.status_code == HTTPStatus.ACCEPTED
    assert response.json() == {"detail": "A new link is on its way to johndoe@example.com."}
    run_queued_tasks()
    assert client.post(mailbox.link("johndoe@example.com", "/email/confirm/")).status_code == HTTPStatus.OK
    assert me(tokens["access_token"]).json()["email_verified"] is True


def test_resending_for_a_verified_email_is_a_400_and_sends_nothing(api_client, user, tokens, mailbox):
    User.objects.filter(pk=user.pk).update(email_verified=True)

    response = resend(api_client, tokens["access_token"])

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json() == {"detail": "The email address is already verified."}
    run_queued_tasks()
    assert mailbox.messages == []


def test_resending_is_throttled(api_client, user, tokens, settings):
    settings.EMAIL_REQUEST_LIMIT = 1
    assert resend(api_client, tokens["access_token"]).status_code == HTTPStatus.ACCEPTED

    blocked = resend(api_client, tokens["access_token"])

    assert blocked.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert "Retry-After" in blocked


def test_resending_needs_the_users_own_access_token(api_client, user, tokens):
    assert resend(api_client, tokens["refresh_token"]).status_code == HTTPStatus.UNAUTHORIZED
    assert api_client.post("/users/me/email/verification").status_code == HTTPStatus.UNAUTHORIZED


def test_a_link_works_once_and_only_for_the_state_it_was_made_for(client, user):
    link = links.email_confirmation_url(user).split("auth.test", 1)[-1]
    path = link[link.index("/email/") :]

    assert client.post(path).status_code == HTTPStatus.OK
    assert client.post(path).status_code == HTTPStatus.BAD_REQUEST  # verified now: spent
    assert client.get(path).status_code == HTTPStatus.BAD_REQUEST


def test_a_link_expires_after_its_lifetime(client, user, clock, settings):
    settings.EMAIL_VERIFICATION_LIFETIME_SECONDS = 600
    url = links.email_confirmation_url(user)
    path = url[url.index("/email/") :]
    clock.advance(601)

    assert client.post(path).status_code == HTTPStatus.BAD_REQUEST
    assert not User.objects.get(pk=user.pk).email_verified


def test_a_link_is_bound_to_the_email_it_was_sent_to(client, user):
    url = links.email_confirmation_url(user)
    user.email = "changed@example.com"
    user.save(update_fields=["email"])

    assert client.post(url[url.index("/email/") :]).status_code == HTTPStatus.BAD_REQUEST
    assert not User.objects.get(pk=user.pk).email_verified


def test_a_disabled_users_link_verifies_nothing(client, user):
    url = links.email_confirmation_url(user)
    User.objects.filter(pk=user.pk).update(is_active=False)

    assert client.post(url[url.index("/email/") :]).status_code == HTTPStatus.BAD_REQUEST


@pytest.mark.parametrize("token", ["", "x", "1-", "zz-zz", "-" * 40, "abc-" + "0" * 32])
def test_a_garbled_token_is_a_400_page_never_a_500(client, user, token):
    response = client.post(f"/email/confirm/{user.public_id}/{token or 'empty'}")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert not User.objects.get(pk=user.pk).email_verified


def test_the_confirmation_page_is_csrf_protected(user):
    from django.test import Client

    url = links.email_confirmation_url(user)
    response = Client(enforce_csrf_checks=True).post(url[url.index("/email/") :])

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert not User.objects.get(pk=user.pk).email_verified
