"""/docs/ in a real browser: headless Chromium (the Debian package) driven by Playwright.

A person opens the API documentation, presses Authorize, picks the "authorize" scheme (the
authorization code flow with PKCE as the public first-party client demo-docs, whose client_id
Swagger UI prefills from initOAuth), signs in on the service's own sign-in page in the window
Swagger UI opens, sees no consent page (first-party), comes back through Swagger UI's
oauth2-redirect.html, and tries GET /users/me/: 200 with johndoe.

The browser is /usr/bin/chromium (scripts/ensure-chromium.sh installs it); Playwright's own
browser downloads are never used. On failure, screenshots of every window are kept in
var/test-artifacts/.
"""

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http import HTTPStatus
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from django.core.management import call_command
from playwright.sync_api import Page, Response, expect, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parent.parent.parent / "var" / "test-artifacts"

pytestmark = [
    pytest.mark.once,  # a browser's pages, whatever the database
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs /usr/bin/chromium: run scripts/ensure-chromium.sh"
    ),
]


@contextmanager
def screenshots_on_failure(test_name: str, windows: dict[str, Page]) -> Iterator[None]:
    """On any failure inside, save a full-page screenshot of each open window, then re-raise."""
    try:
        yield
    except BaseException:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", test_name)
        for label, window in windows.items():
            if not window.is_closed():
                window.screenshot(path=str(ARTIFACTS / f"{stem}-{label}.png"), full_page=True)
        raise


@pytest.fixture(params=["gunicorn", "runserver"])
def docs_service(request, issuer_service, server_password_hashers) -> str:
    """A server that is its own issuer, with the demo data of `make run` (demo-docs registered
    with this server's Swagger UI redirect page; passwords the server can check): gunicorn, as
    deployed, and Django's development server, as `make run` starts it (where static files such
    as Swagger UI's oauth2-redirect.html must carry the same headers as the pages)."""
    base_url = issuer_service(server=request.param)  # sets settings.TOKEN_ISSUER, which seed_demo_users reads
    call_command("seed_demo_users")
    return base_url


def is_swagger_redirect_page(response: Response) -> bool:
    return response.request.method == "GET" and urlsplit(response.url).path == "/docs/oauth2-redirect.html"


def why_not_signed_in(sign_in_window: Page, responses: list[tuple[str, str, int]]) -> str:
    """What the browser shows when Swagger UI did not receive a token: for the failure message."""
    token_answers = [status for method, url, status in responses if method == "POST" and "/token" in url]
    if sign_in_window.is_closed():
        return (
            f"the sign-in window closed, but Swagger UI holds no token (POST /token answered {token_answers})"
        )
    state = sign_in_window.evaluate("() => ({url: location.href, openerKept: window.opener !== null})")
    return (
        f"the sign-in window stayed open at {state['url']} with window.opener "
        f"{'kept' if state['openerKept'] else 'lost'}; POST /token answered {token_answers}"
    )


def test_swagger_ui_signs_in_through_authorize_and_tries_users_me(request, docs_service):
    responses: list[tuple[str, str, int]] = []
    windows: dict[str, Page] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context()
            context.on("response", lambda r: responses.append((r.request.method, r.url, r.status)))
            docs = windows["docs"] = context.new_page()
            with screenshots_on_failure(request.node.name, windows):
                docs.goto(f"{docs_service}/docs/")
                docs.locator(".auth-wrapper button.authorize").click()  # "Authorize" at the top

                # The "authorize" scheme: the authorization code flow (its client_id field goes
                # once it is authorized, its heading stays).
                scheme = docs.locator(
                    ".auth-container", has=docs.locator("h4", has_text="authorize (OAuth2, authorizationCode")
                )
                expect(scheme.locator("#client_id_authorizationCode")).to_have_value("demo-docs")
                with docs.expect_popup() as opened:
                    scheme.locator("button.authorize").click()
                sign_in = windows["sign-in"] = opened.value

                sign_in.wait_for_load_state()
                authorization_request = parse_qs(urlsplit(sign_in.url).query)
                assert sign_in.url.startswith(f"{docs_service}/authorize?")
                assert authorization_request["client_id"] == ["demo-docs"]
                assert authorization_request["code_challenge_method"] == ["S256"]
                assert authorization_request["redirect_uri"] == [f"{docs_service}/docs/oauth2-redirect.html"]
                expect(sign_in.get_by_role("heading", name="Sign in")).to_be_visible()
                sign_in.get_by_label("Username").fill("johndoe")
                sign_in.get_by_label("Password").fill("secret")
                # First-party: no consent page. The service answers the sign-in with a 303 to
                # Swagger UI's redirect page, with the code, the state and the issuer.
                with context.expect_event("response", predicate=is_swagger_redirect_page) as redirected:
                    sign_in.get_by_role("button", name="Sign in").click()
                answer = parse_qs(urlsplit(redirected.value.url).query)
                assert [
                    status
                    for method, url, status in responses
                    if (method, urlsplit(url).path) == ("POST", "/authorize")
                ] == [HTTPStatus.SEE_OTHER]
                assert answer["state"] == authorization_request["state"]
                assert answer["iss"] == [docs_service]
                assert answer["code"]

                # Swagger UI takes the code from that page, exchanges it at /token (with the
                # PKCE verifier) and shows the scheme as authorized.
                try:
                    expect(scheme.get_by_text("Authorized", exact=True)).to_be_visible(timeout=15_000)
                except AssertionError:
                    raise AssertionError(why_not_signed_in(sign_in, responses)) from None
                assert ("POST", f"{docs_service}/token", HTTPStatus.OK) in responses
                docs.locator(".modal-ux button.close-modal").click()

                operation = docs.locator(".opblock-get", has=docs.locator('[data-path="/users/me/"]'))
                operation.locator(".opblock-summary").click()
                operation.get_by_role("button", name="Try it out").click()
                with docs.expect_response(lambda r: urlsplit(r.url).path == "/users/me/") as answered:
                    operation.get_by_role("button", name="Execute").click()
                me = answered.value
                assert me.status == HTTPStatus.OK, me.text()
                assert me.request.headers["authorization"].startswith("Bearer ")
                assert me.json()["username"] == "johndoe"
                live = operation.locator(".live-responses-table")
                expect(live.locator("tr.response .response-col_status")).to_have_text("200")
                expect(live).to_contain_text('"username": "johndoe"')
        finally:
            browser.close()


DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"


def poll_until_issued(device: OAuth2Session, token_url: str, device_code: str, interval: int) -> tuple:
    """The device's side of RFC 8628 §3.5 as a client would write it with Authlib: poll, wait the
    interval (5 s more after slow_down), stop at the tokens or another error. Returns (the
    errors met, the token)."""
    met = []
    for _ in range(60):
        try:
            return met, device.fetch_token(token_url, grant_type=DEVICE_CODE, device_code=device_code)
        except OAuthError as e:
            met.append(e.error)
            if e.error not in ("authorization_pending", "slow_down"):
                return met, None
            interval += 5 if e.error == "slow_down" else 0
            time.sleep(interval)
    raise AssertionError(f"still no token after 60 polls: {met}")


def test_a_person_with_a_phone_connects_a_tv(
    request, issuer_service, live_user, password, oauth_client_factory
):
    """The device flow as a person meets it: the TV (Authlib's OAuth2Session as a public client)
    asks for codes and polls; on the phone (Chromium) the person opens verification_uri_complete,
    signs in, sees the code filled in, continues, allows; the TV's next poll gets the tokens."""
    oauth_client_factory(
        name="Living-room TV",
        client_id="tv-app",
        redirect_uris=(),
        grant_types=(DEVICE_CODE, "refresh_token"),
    )
    base_url = issuer_service(DEVICE_CODE_INTERVAL_SECONDS="1")
    tv = OAuth2Session("tv-app", scope="openid profile", token_endpoint_auth_method="none")
    metadata = tv.get(f"{base_url}/.well-known/openid-configuration", withhold_token=True).json()
    codes = tv.post(
        metadata["device_authorization_endpoint"],
        data={"client_id": "tv-app", "scope": "openid profile"},
        withhold_token=True,
    )
    assert codes.status_code == HTTPStatus.OK, codes.text
    codes = codes.json()
    with pytest.raises(OAuthError) as pending:
        tv.fetch_token(metadata["token_endpoint"], grant_type=DEVICE_CODE, device_code=codes["device_code"])
    assert pending.value.error == "authorization_pending"

    windows: dict[str, Page] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            phone = windows["phone"] = browser.new_context().new_page()
            with screenshots_on_failure(request.node.name, windows):
                phone.goto(codes["verification_uri_complete"])  # the QR code on the TV
                expect(phone.get_by_role("heading", name="Sign in")).to_be_visible()
                phone.get_by_label("Username").fill(live_user.username)
                phone.get_by_label("Password").fill(password)
                phone.get_by_role("button", name="Sign in").click()
                expect(phone.get_by_role("heading", name="Connect a device")).to_be_visible()
                expect(phone.get_by_label("Code")).to_have_value(codes["user_code"])
                phone.get_by_role("button", name="Continue").click()
                expect(
                    phone.get_by_role("heading", name="Allow Living-room TV on your device?")
                ).to_be_visible()
                expect(phone.get_by_text(codes["user_code"])).to_be_visible()
                phone.get_by_role("button", name="Allow").click()
                expect(phone.get_by_role("heading", name="Device connected")).to_be_visible()
        finally:
            browser.close()

    met, token = poll_until_issued(tv, metadata["token_endpoint"], codes["device_code"], codes["interval"])
    assert token is not None, met
    assert set(met) <= {"authorization_pending", "slow_down"}
    assert {"access_token", "refresh_token", "id_token"} <= set(token)
    userinfo = tv.get(metadata["userinfo_endpoint"])
    assert userinfo.json()["preferred_username"] == live_user.username
    refreshed = tv.refresh_token(metadata["token_endpoint"])
    assert refreshed["access_token"] != token["access_token"]
