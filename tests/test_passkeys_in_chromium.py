"""Passkeys in a real browser: headless Chromium (the Debian package) driven by Playwright, with
the virtual authenticator of its DevTools `WebAuthn` domain (a platform authenticator with
resident keys and user verification), against gunicorn at http://localhost:PORT, whose issuer
it is (PASSKEY_RP_ID `localhost` and the origin come from TOKEN_ISSUER, as in make run).

A person adds a passkey on /account/security, then signs in to a third-party application with it
alone, and again with the password and the passkey as the second step; a look-alike page on
another origin gets an answer that the service refuses; a copy of the authenticator, its counter
left behind, is refused once the original has been used. Pages are kept as screenshots under
var/test-artifacts/pages/passkeys-*.png.
"""

import re
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests
from playwright.sync_api import Page, expect, sync_playwright

from accounts.mfa.models import Passkey
from accounts.oauth.clients import Registration, register
from tests.conftest import free_port
from tests.oauth.conftest import pkce_s256
from tests.oauth.test_browser import CHROMIUM, CHROMIUM_ARGS, screenshots_on_failure
from tests.test_accounts_in_chromium import APP_REDIRECT_URI, authorization_query
from tests.test_pages_in_chromium import SCREENS

pytestmark = [
    pytest.mark.once,  # a browser's pages, whatever the database
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs /usr/bin/chromium: run scripts/ensure-chromium.sh"
    ),
]

# What the page script does with an answer (accounts/static/accounts/passkeys.js), for the
# look-alike page, which has no such script: ask the authenticator, return the answer as JSON.
LOOK_ALIKE_GET = """async (options) => {
  const bytes = (t) => Uint8Array.from(atob(t.replace(/-/g, "+").replace(/_/g, "/")
    + "===".slice((t.length + 3) % 4)), (c) => c.charCodeAt(0)).buffer;
  const text = (b) => btoa(String.fromCharCode(...new Uint8Array(b)))
    .replace(/\\+/g, "-").replace(/\\//g, "_").replace(/=+$/, "");
  const c = await navigator.credentials.get({publicKey: {...options, challenge: bytes(options.challenge),
    allowCredentials: []}});
  return JSON.stringify({id: c.id, rawId: text(c.rawId), type: c.type, clientExtensionResults: {},
    response: {clientDataJSON: text(c.response.clientDataJSON),
      authenticatorData: text(c.response.authenticatorData), signature: text(c.response.signature),
      userHandle: c.response.userHandle ? text(c.response.userHandle) : null}});
}"""


@pytest.fixture
def base_url(live_service, live_user, monkeypatch) -> str:
    """gunicorn at http://localhost:PORT, its own issuer (so its relying party is `localhost`)."""
    # Database queries between Playwright's calls (its sync API runs an event loop in this thread).
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    port = free_port()
    live_service(port=port, TOKEN_ISSUER=f"http://localhost:{port}")
    return f"http://localhost:{port}"


def virtual_authenticator(page: Page):
    """A platform authenticator for `page`: (its DevTools session, its id)."""
    devtools = page.context.new_cdp_session(page)
    devtools.send("WebAuthn.enable", {"enableUI": False})
    added = devtools.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return devtools, added["authenticatorId"]


def screenshot(page: Page, name: str) -> None:
    page.screenshot(path=str(SCREENS / f"passkeys-{name}.png"), full_page=True)


def sign_in_with_password(page: Page, base_url: str, user, password: str, *, next_url: str) -> None:
    page.goto(f"{base_url}/account/sign-in?next={next_url}")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def add_passkey(page: Page, base_url: str, user, password: str, name: str) -> None:
    sign_in_with_password(page, base_url, user, password, next_url="/account/security")
    expect(page.get_by_role("heading", name="Security")).to_be_visible()
    page.get_by_label("Name of the new passkey").fill(name)
    page.get_by_role("button", name="Add a passkey").click()
    expect(page.locator("main")).to_contain_text(f"Added the passkey '{name}'")


def exchange(base_url: str, app, callback: str, verifier: str) -> dict:
    code = parse_qs(urlsplit(callback).query)["code"][0]
    tokens = requests.post(
        f"{base_url}/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": callback.split("?")[0],
            "code_verifier": verifier,
            "client_id": app.client_id,
        },
        timeout=10,
    )
    assert tokens.status_code == HTTPStatus.OK, tokens.text
    return jwt.decode(tokens.json()["id_token"], options={"verify_signature": False})


def test_a_person_adds_a_passkey_then_signs_in_to_an_app_with_it_alone_and_as_the_second_step(
    request, base_url, live_user, password
):
    app, _ = register(Registration(name="Photo printer", redirect_uris=(APP_REDIRECT_URI,)))
    app_redirect = f"http://127.0.0.1:{free_port()}/callback"  # nothing listens: the request is seen
    SCREENS.mkdir(parents=True, exist_ok=True)
    id_tokens = []

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page()
        try:
            with screenshots_on_failure(request.node.name, {"page": page}):
                virtual_authenticator(page)
                add_passkey(page, base_url, live_user, password, "This laptop")
                expect(page.locator("main")).to_contain_text("Your recovery codes")
                expect(page.locator("ul.passkeys")).to_contain_text("This laptop")
                screenshot(page, "security")
                passkey = Passkey.objects.get(user=live_user)
                assert passkey.name == "This laptop"

                # A passkey alone: no username, no password.
                page.context.clear_cookies()
                pkce = pkce_s256()
                query = authorization_query(app.client_id, app_redirect, pkce.challenge, "passkey-state")
                page.goto(f"{base_url}/authorize?{query}")
                expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
                screenshot(page, "sign-in")
                page.get_by_role("link", name="Sign in with a passkey").click()
                expect(page.get_by_role("heading", name="Allow Photo printer?")).to_be_visible()
                with page.expect_request(re.compile(re.escape(app_redirect) + r"\?")) as redirect:
                    page.get_by_role("button", name="Allow").click()
                assert parse_qs(urlsplit(redirect.value.url).query)["state"] == ["passkey-state"]
                id_tokens.append(exchange(base_url, app, redirect.value.url, pkce.verifier))

                # The password, then the passkey as the second step.
                page.context.clear_cookies()
                pkce = pkce_s256()
                query = authorization_query(app.client_id, app_redirect, pkce.challenge, "second-state")
                page.goto(f"{base_url}/authorize?{query}")
                page.get_by_label("Username").fill(live_user.username)
                page.get_by_label("Password").fill(password)
                page.get_by_role("button", name="Sign in").click()
                expect(page.get_by_role("heading", name="Two-step sign-in")).to_be_visible()
                screenshot(page, "second-step")
                with page.expect_request(re.compile(re.escape(app_redirect) + r"\?")) as redirect:
                    page.get_by_role("button", name="Use a passkey").click()  # allowed before: no consent
                id_tokens.append(exchange(base_url, app, redirect.value.url, pkce.verifier))
        finally:
            browser.close()

    alone, second_step = id_tokens
    assert alone["sub"] == second_step["sub"] == str(live_user.public_id)
    assert alone["amr"] == ["hwk", "mfa"]
    assert second_step["amr"] == ["pwd", "hwk", "mfa"]
    assert Passkey.objects.get(pk=passkey.pk).last_used_at is not None


def test_an_answer_given_to_a_look_alike_page_on_another_origin_signs_no_one_in(
    request, base_url, live_user, password
):
    look_alike = f"http://localhost:{free_port()}/sign-in"  # same host, another origin

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page()
        try:
            with screenshots_on_failure(request.node.name, {"page": page}):
                virtual_authenticator(page)
                add_passkey(page, base_url, live_user, password, "Laptop")
                page.context.clear_cookies()
                page.goto(f"{base_url}/account/sign-in")  # the CSRF cookie
                csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
                options = page.context.request.post(
                    f"{base_url}/sign-in/passkey/options", headers={"X-CSRFToken": csrf}
                ).json()
                page.route(
                    look_alike,
                    lambda route: route.fulfill(content_type="text/html", body="<h1>Sign in</h1>"),
                )
                page.goto(look_alike)
                answer = page.evaluate(LOOK_ALIKE_GET, options)  # the authenticator signs for it

                refused = page.context.request.post(
                    f"{base_url}/sign-in/passkey",
                    form={"credential": answer, "csrfmiddlewaretoken": csrf},
                    max_redirects=0,
                )
                assert refused.status == HTTPStatus.BAD_REQUEST
                assert "could not be checked" in refused.text()
                account = page.goto(f"{base_url}/account")
                assert urlsplit(account.url).path == "/account/sign-in"  # still signed out
        finally:
            browser.close()

    assert Passkey.objects.get().last_used_at is None


def test_a_copy_of_the_authenticator_is_refused_once_the_original_has_moved_its_counter_on(
    request, base_url, live_user, password
):
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        original = browser.new_page()
        copy = browser.new_context().new_page()
        try:
            with screenshots_on_failure(request.node.name, {"original": original, "copy": copy}):
                devtools, authenticator = virtual_authenticator(original)
                add_passkey(original, base_url, live_user, password, "Laptop")
                (credential,) = devtools.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})[
                    "credentials"
                ]
                copy_devtools, copy_authenticator = virtual_authenticator(copy)
                copy_devtools.send(
                    "WebAuthn.addCredential",
                    {"authenticatorId": copy_authenticator, "credential": credential},
                )

                original.context.clear_cookies()
                original.goto(f"{base_url}/account/sign-in")
                original.get_by_role("link", name="Sign in with a passkey").click()
                expect(original.get_by_role("heading", name="Your account")).to_be_visible()
                counter = Passkey.objects.get().sign_count
                assert counter > credential["signCount"]

                copy.goto(f"{base_url}/account/sign-in")
                copy.get_by_role("link", name="Sign in with a passkey").click()
                expect(copy.get_by_role("heading", name="Passkey not accepted")).to_be_visible()
                expect(copy.locator("main")).to_contain_text("may have been copied")
                screenshot(copy, "cloned")
        finally:
            browser.close()

    assert Passkey.objects.get().sign_count == counter
