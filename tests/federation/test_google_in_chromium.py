"""Sign in with Google in a real browser: headless Chromium (the Debian package) driven by Playwright.

A person opens an application's authorization request on a gunicorn server of this project
(its own issuer), presses "Sign in with Google" on the sign-in page, signs in on the stand-in
provider's own pages (Node's oidc-provider), and comes back through /login/google/callback to
the application's redirect URI with a code, which the application exchanges for the tokens of
the new user. The server's client at the provider is registered through the provider's dynamic
registration (RFC 7591) with the server's own callback URL, as an operator registers it at Google.
"""

import re
from http import HTTPStatus
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from playwright.sync_api import sync_playwright

from accounts.models import User
from accounts.oauth.clients import Registration, register
from tests.conftest import free_port
from tests.oauth.conftest import pkce_s256
from tests.oauth.test_browser import CHROMIUM, CHROMIUM_ARGS, screenshots_on_failure

pytestmark = [
    pytest.mark.once,  # a browser's pages, whatever the database
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs /usr/bin/chromium: run scripts/ensure-chromium.sh"
    ),
]
APP_REDIRECT_URI = "http://127.0.0.1/callback"  # loopback: any port matches (RFC 8252 §7.3)


@pytest.fixture
def google_service(provider_server, issuer_service, monkeypatch) -> str:
    """A server of this project, its own issuer, signing in with the stand-in provider."""
    port = free_port()
    monkeypatch.setattr("tests.oauth.conftest.free_port", lambda: port)  # the server's port, chosen first
    registered = requests.post(
        f"{provider_server.issuer}/reg",
        json={
            "redirect_uris": [f"http://127.0.0.1:{port}/login/google/callback"],
            "grant_types": ["authorization_code"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "client_secret_basic",
        },
        timeout=10,
    )
    assert registered.status_code == HTTPStatus.CREATED, registered.text
    client = registered.json()
    base_url = issuer_service(
        GOOGLE_CLIENT_ID=client["client_id"],
        GOOGLE_CLIENT_SECRET=client["client_secret"],
        GOOGLE_ISSUER=provider_server.issuer,
    )
    assert base_url == f"http://127.0.0.1:{port}"
    return base_url


def test_a_person_signs_in_with_google_in_chromium_and_the_app_gets_tokens(provider_server, google_service):
    provider_server.control("reset")
    sub = provider_server.account("g-chromium", email="chromium.user@example.com", email_verified=True)
    app, _ = register(
        Registration(name="Example app", redirect_uris=(APP_REDIRECT_URI,), first_party=True, client_id="app")
    )
    pkce = pkce_s256()
    app_redirect = f"http://127.0.0.1:{free_port()}/callback"  # nothing listens: the request is seen
    query = {
        "response_type": "code",
        "client_id": app.client_id,
        "redirect_uri": app_redirect,
        "scope": "openid email profile",
        "state": "app-state",
        "code_challenge": pkce.challenge,
        "code_challenge_method": "S256",
    }

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page()
        try:
            with screenshots_on_failure("google-sign-in", {"page": page}):
                page.goto(f"{google_service}/authorize?{urlencode(query)}")
                page.get_by_role("link", name="Sign in with Google").click()
                page.wait_for_url(re.compile(re.escape(provider_server.issuer) + r"/interaction/"))
                page.fill("input[name=login]", sub)
                page.fill("input[name=password]", "any password")
                with page.expect_request(re.compile(re.escape(app_redirect) + r"\?")) as redirect:
                    page.click("button[type=submit]")
                callback = urlsplit(redirect.value.url)
        finally:
            browser.close()

    params = parse_qs(callback.query)
    assert params["state"] == ["app-state"]
    assert params["iss"] == [google_service]
    tokens = requests.post(
        f"{google_service}/token",
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
    me = requests.get(
        f"{google_service}/users/me/",
        headers={"Authorization": f"Bearer {tokens.json()['access_token']}"},
        timeout=10,
    )
    assert me.json()["email"] == "chromium.user@example.com"
    assert User.objects.get(email="chromium.user@example.com").identities.get().subject == sub


def test_the_link_and_error_pages_fit_a_phone_and_a_laptop_with_aa_contrast(provider_server, google_service):
    """The pages of the provider path that a person may meet: the password step that links a
    Google account to the local account of its email (then with a wrong password), and the
    error page, each at 375 and 1280 px, kept as screenshots, with the checks of the sign-in pages."""
    from tests.test_pages_in_chromium import SCREENS, WIDTHS, assert_fit_and_contrast, look

    provider_server.control("reset")
    User.objects.create_user(username="linda", email="linda@example.com", password="linda's long password 5")
    sub = provider_server.account("g-linda", email="linda@example.com", email_verified=True)
    SCREENS.mkdir(parents=True, exist_ok=True)
    seen: dict[str, list] = {}
    texts: dict[str, str] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            for width in WIDTHS.values():
                page = browser.new_context(viewport={"width": width, "height": 800}).new_page()
                page.goto(f"{google_service}/login/google")
                page.wait_for_url(re.compile(re.escape(provider_server.issuer) + r"/interaction/"))
                page.fill("input[name=login]", sub)
                page.fill("input[name=password]", "any password")
                page.click("button[type=submit]")
                page.wait_for_url(f"{google_service}/login/google/link")
                look(page, google_service, seen, "google-link")
                texts["link"] = page.locator("main").inner_text()
                page.get_by_label("Password").fill("not the password")
                page.get_by_role("button", name=re.compile("Link|Sign in")).click()
                page.wait_for_load_state()
                look(page, google_service, seen, "google-link-wrong-password")
                texts["wrong"] = page.locator("main").inner_text()
                page.context.clear_cookies()
                look(
                    page,
                    google_service,
                    seen,
                    "google-error",
                    path="/login/google/link",
                    status=HTTPStatus.BAD_REQUEST,
                )
                texts["error"] = page.locator("main").inner_text()
        finally:
            browser.close()

    assert "linda" in texts["link"]
    assert "linda@example.com" in texts["link"]
    assert "password" in texts["wrong"].lower()
    assert "Start again" in texts["error"]
    assert_fit_and_contrast(seen)
