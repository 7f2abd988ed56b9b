"""The accounts' doors in a real browser: headless Chromium (the Debian package) driven by Playwright,
against gunicorn, with every email sent by a real `manage.py db_worker` to a real SMTP server.

A person meets a third-party application's authorization request, creates an account from its
sign-in page, follows the verification link of the email, signs in with the new password, and
goes on to the consent page and
back to the application with a code, whose ID token says the email is verified. Another person,
who forgot a password, asks for the link from the sign-in page and sets a new password with it.
Each page is kept as a screenshot under var/test-artifacts/pages/accounts-*.png.
"""

import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import pytest
import requests
from playwright.sync_api import Page, expect, sync_playwright

from accounts.models import User
from accounts.oauth.clients import Registration, register
from tests.conftest import Inbox, free_port, other_process_environment, start_smtp
from tests.oauth.conftest import pkce_s256
from tests.oauth.test_browser import CHROMIUM, CHROMIUM_ARGS, screenshots_on_failure
from tests.test_pages_in_chromium import SCREENS

pytestmark = [
    pytest.mark.once,  # a browser's pages, whatever the database
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs /usr/bin/chromium: run scripts/ensure-chromium.sh"
    ),
]
PROJECT = Path(__file__).resolve().parent.parent
APP_REDIRECT_URI = "http://127.0.0.1/callback"  # loopback: any port matches (RFC 8252 §7.3)
NEW_PASSWORD = "plum tree over the quiet river"
RESET_PASSWORD = "a lantern left on the garden wall 4"
MAIL_WAIT = 20  # seconds for the worker to pick a task up and the mail to arrive


@dataclass(frozen=True)
class Service:
    base_url: str
    inbox: Inbox


@pytest.fixture
def service(live_service, server_password_hashers) -> Iterator[Service]:
    """gunicorn with sign-up on, and `manage.py db_worker` sending to a loopback SMTP server."""
    inbox = Inbox()
    port = free_port()
    controller = start_smtp(inbox, port)
    email = {"EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": port, "EMAIL_TIMEOUT": 5}
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "db_worker", "--no-startup-delay", "--interval", "0.2"],
        cwd=PROJECT,
        env=other_process_environment(**email, EMAIL_RETRY_SECONDS=1),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield Service(base_url=live_service(SIGNUP_ENABLED="1", **email), inbox=inbox)
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(timeout=10)
        controller.stop()


@pytest.fixture
def database_beside_playwright(monkeypatch):
    """Database queries inside `with sync_playwright()`: Playwright's sync API runs an event loop in
    this thread, which Django takes for an async context; the queries run between its calls, so
    Django's documented switch lets them through."""
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def mailed_link(inbox: Inbox, address: str, path: str) -> str:
    """The path of the link to `path`... in the newest mail to `address`, once one has arrived."""
    deadline = time.monotonic() + MAIL_WAIT
    while not inbox.to(address):
        assert time.monotonic() < deadline, f"no mail to {address} within {MAIL_WAIT} s: {inbox.messages}"
        time.sleep(0.1)
    return inbox.link(address, path)


def screenshot(page: Page, name: str) -> None:
    page.screenshot(path=str(SCREENS / f"accounts-{name}.png"), full_page=True)


def authorization_query(client_id: str, redirect_uri: str, challenge: str, state: str) -> str:
    return urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "scope": "openid profile email",
            "state": state,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )


def test_a_person_signs_up_from_an_apps_sign_in_page_confirms_the_email_and_the_app_gets_tokens(
    request, service, database_beside_playwright
):
    base_url, inbox = service.base_url, service.inbox
    app, _ = register(Registration(name="Photo printer", redirect_uris=(APP_REDIRECT_URI,)))
    assert not app.first_party
    pkce = pkce_s256()
    app_redirect = f"http://127.0.0.1:{free_port()}/callback"  # nothing listens: the request is seen
    authorize = (
        f"/authorize?{authorization_query(app.client_id, app_redirect, pkce.challenge, 'signup-state')}"
    )
    SCREENS.mkdir(parents=True, exist_ok=True)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page()
        try:
            with screenshots_on_failure(request.node.name, {"page": page}):
                response = page.goto(f"{base_url}{authorize}")
                assert response.status == HTTPStatus.OK
                expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
                expect(page.locator("p.for")).to_contain_text("Photo printer")
                screenshot(page, "sign-in")

                page.get_by_role("link", name="Create an account").click()
                page.wait_for_url(re.compile(re.escape(base_url) + r"/signup\?next="))
                assert parse_qs(urlsplit(page.url).query)["next"] == [authorize]
                expect(page.get_by_role("heading", name="Create an account")).to_be_visible()
                page.get_by_label("Username").fill("maria")
                page.get_by_label("Email").fill("maria@example.com")
                page.get_by_label("Full name").fill("Maria Lopez")
                page.get_by_label("Password").fill(NEW_PASSWORD)
                screenshot(page, "signup")
                page.get_by_role("button", name="Create account").click()
                expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
                expect(page.locator("main")).to_contain_text("maria@example.com")
                continue_link = page.get_by_role("link", name="Continue")
                assert continue_link.get_attribute("href") == authorize
                screenshot(page, "signup-check-email")
                assert User.objects.get(username="maria").email_verified is False

                confirm = mailed_link(inbox, "maria@example.com", "/email/confirm/")
                response = page.goto(f"{base_url}{confirm}")
                assert response.status == HTTPStatus.OK
                expect(page.get_by_role("heading", name="Confirm your email")).to_be_visible()
                expect(page.locator("main")).to_contain_text("maria@example.com")
                screenshot(page, "confirm-email")
                assert User.objects.get(username="maria").email_verified is False  # a GET changes nothing

                page.get_by_role("button", name="Confirm").click()
                expect(page.get_by_role("heading", name="Email confirmed")).to_be_visible()
                continue_link = page.get_by_role("link", name="Continue")
                assert continue_link.get_attribute("href") == authorize  # the sign-up's pending request
                screenshot(page, "email-confirmed")

                continue_link.click()
                # The sign-up signed no one in (a taken email would not be either): the new password now.
                expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
                page.get_by_label("Username").fill("maria")
                page.get_by_label("Password").fill(NEW_PASSWORD)
                page.get_by_role("button", name="Sign in").click()
                expect(page.get_by_role("heading", name="Allow Photo printer?")).to_be_visible()
                expect(page.locator("main")).to_contain_text("maria")
                screenshot(page, "consent")
                with page.expect_request(re.compile(re.escape(app_redirect) + r"\?")) as redirect:
                    page.get_by_role("button", name="Allow").click()
                callback = urlsplit(redirect.value.url)
        finally:
            browser.close()

    params = parse_qs(callback.query)
    assert params["state"] == ["signup-state"]
    tokens = requests.post(
        f"{base_url}/token",
        data={
            "grant_type": "authorization_code",
            "code": params["code"][0],
            "redirect_uri": app_redirect,
            "code_verifier": pkce.verifier,
            "client_id": app.client_id,
        },
        timeout=10,
    )
    assert tokens.status_code == HTTPStatus.OK, tokens.text
    claims = jwt.decode(tokens.json()["id_token"], options={"verify_signature": False})
    assert claims["email"] == "maria@example.com"
    assert claims["email_verified"] is True
    assert claims["aud"] in (app.client_id, [app.client_id])
    maria = User.objects.get(username="maria")
    assert maria.email_verified is True
    assert maria.email == "maria@example.com"
    assert maria.full_name == "Maria Lopez"


def test_a_person_who_forgot_the_password_sets_a_new_one_from_the_link_of_the_email(
    request, service, live_user, password
):
    base_url, inbox = service.base_url, service.inbox
    app, _ = register(Registration(name="Photo printer", redirect_uris=(APP_REDIRECT_URI,)))
    pkce = pkce_s256()
    app_redirect = f"http://127.0.0.1:{free_port()}/callback"
    authorize = (
        f"/authorize?{authorization_query(app.client_id, app_redirect, pkce.challenge, 'reset-state')}"
    )
    SCREENS.mkdir(parents=True, exist_ok=True)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page()
        try:
            with screenshots_on_failure(request.node.name, {"page": page}):
                page.goto(f"{base_url}{authorize}")
                page.get_by_role("link", name="Forgot your password?").click()
                page.wait_for_url(
                    re.compile(re.escape(f"{base_url}/account/password-reset?next=%2Fauthorize"))
                )
                expect(page.get_by_role("heading", name="Reset your password")).to_be_visible()
                page.get_by_label("Email").fill(live_user.email)
                screenshot(page, "password-reset")
                page.get_by_role("button", name="Send the link").click()
                expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
                expect(page.locator("main")).to_contain_text(live_user.email)
                screenshot(page, "password-reset-check-email")

                link = mailed_link(inbox, live_user.email, "/password-reset/")
                response = page.goto(f"{base_url}{link}")
                assert response.status == HTTPStatus.OK
                expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
                expect(page.locator("main")).to_contain_text(live_user.username)
                expect(page.get_by_label("Sign me in on this device")).not_to_be_checked()
                page.get_by_label("New password").fill(RESET_PASSWORD)
                screenshot(page, "set-password")
                page.get_by_role("button", name="Set the password").click()
                expect(page.get_by_role("heading", name="Your password is set")).to_be_visible()
                # Back to the app's pending request, which asks for a sign-in with the new password.
                assert (
                    page.get_by_role("link", name="Continue").get_attribute("href").startswith("/authorize?")
                )
                screenshot(page, "password-set")
        finally:
            browser.close()

    def login(secret: str) -> int:
        answer = requests.post(
            f"{base_url}/login", data={"username": live_user.username, "password": secret}, timeout=10
        )
        return answer.status_code

    assert login(RESET_PASSWORD) == HTTPStatus.OK
    assert login(password) == HTTPStatus.UNAUTHORIZED
