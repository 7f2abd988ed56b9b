"""The pages a person meets, in headless Chromium at 1280 by 800: each renders without an error
(status, console, failed requests), the admin's lists (users, sessions, clients) fit the screen, and each page is
kept as a screenshot under var/test-artifacts/pages/ (a regression is seen by looking).

/, /docs/ (and its Authorize dialog), /login in the browsable API, the admin's users, sessions
and one session's page, against gunicorn with the demo data of `make run`.
"""

import re
from http import HTTPStatus
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.core.management import call_command
from playwright.sync_api import sync_playwright

from accounts import services
from accounts.callers import Caller
from accounts.models import Session, User
from accounts.oauth.clients import Registration, register
from tests.oauth.conftest import (
    RegisteredClient,
    authorization_parameters,
    issuer_service,  # noqa: F401 (a fixture of tests/oauth)
)
from tests.oauth.test_browser import CHROMIUM, CHROMIUM_ARGS

pytestmark = [
    pytest.mark.once,  # a browser's pages, whatever the database
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs /usr/bin/chromium: run scripts/ensure-chromium.sh"
    ),
]
SCREENS = Path(__file__).resolve().parent.parent / "var" / "test-artifacts" / "pages"
ADMIN_PASSWORD = "an administrator's long password 7"
SCREEN_WIDTH = 1280
LISTS = {
    "users": "/admin/accounts/user/",
    "sessions": "/admin/accounts/session/",
    "clients": "/admin/accounts/client/",
}
# A user agent as long as real ones are: the session list must still fit the screen.
BROWSER_AGENT = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


@pytest.fixture
def served(issuer_service, server_password_hashers) -> str:  # noqa: F811
    """gunicorn with the demo data, an administrator, and a few sessions of johndoe."""
    base_url = issuer_service(SIGNUP_ENABLED="1")
    call_command("seed_demo_users")
    User.objects.create_superuser(username="admin", email="admin@example.com", password=ADMIN_PASSWORD)
    johndoe = User.objects.get(username="johndoe")
    for address in ("203.0.113.7", "2001:db8::1", "198.51.100.23"):
        services.session_start(
            user=johndoe,
            caller=Caller(user_agent=BROWSER_AGENT, ip_address=address),
            grant_type=Session.Grant.PASSWORD,
        )
    return base_url


def test_the_pages_render_without_errors_and_are_kept_as_screenshots(served):
    SCREENS.mkdir(parents=True, exist_ok=True)
    session = Session.objects.order_by("-created_at").first()
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": SCREEN_WIDTH, "height": 800})
            page.on(
                "console",
                lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None,
            )
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on(
                "response",
                lambda r: (
                    problems.append(f"{r.status} {r.url}")
                    if r.status >= 400 and r.url.startswith(served)
                    else None
                ),
            )

            def visit(name: str, path: str) -> None:
                response = page.goto(f"{served}{path}")
                assert response.status == HTTPStatus.OK, (path, response.status)
                page.wait_for_load_state("networkidle")
                page.screenshot(path=str(SCREENS / f"{name}.png"), full_page=True)

            visit("home", "/")
            visit("docs", "/docs/")
            page.locator(".auth-wrapper button.authorize").click()
            page.locator(".modal-ux").wait_for()
            page.screenshot(path=str(SCREENS / "docs-authorize-dialog.png"))
            dialog = page.locator(".modal-ux").inner_text()  # the visible text only
            page.locator(".modal-ux button.close-modal").click()
            visit("login-browsable-api", "/login")
            assert "405" not in page.locator(".response-info").inner_text()

            page.goto(f"{served}/admin/login/?next=/admin/")
            page.fill("#id_username", "admin")
            page.fill("#id_password", ADMIN_PASSWORD)
            page.click("input[type=submit]")
            page.wait_for_url(f"{served}/admin/")
            overflow = {}
            for name, path in LISTS.items():
                visit(f"admin-{name}", path)
                # The whole table in view: neither the page nor the list's own box scrolls sideways.
                overflow[name] = page.evaluate(
                    "[document.documentElement.scrollWidth - window.innerWidth,"
                    " ...[...document.querySelectorAll('.results')].map(box => box.scrollWidth - box.clientWidth)]"
                )
            visit("admin-session", f"/admin/accounts/session/{session.pk}/change/")
            title = page.title()
        finally:
            browser.close()

    assert problems == []
    assert all(max(widths) <= 0 for widths in overflow.values()), overflow
    assert title.startswith("johndoe since ")
    assert "client_secret" not in dialog  # the Authorize dialog shows only what its flows use
    assert "demo-docs" in dialog


# --- the pages for people, on a phone and on a laptop ----------------------------------------------

WIDTHS = {"phone": 375, "laptop": 1280}
CONTRAST_OF = """selector => [...document.querySelectorAll(selector)].map(element => {
  const style = getComputedStyle(element);
  let background = style.backgroundColor, up = element;
  while (background === 'rgba(0, 0, 0, 0)' && up.parentElement) {
    up = up.parentElement; background = getComputedStyle(up).backgroundColor;
  }
  return [element.tagName + '.' + element.className, style.color,
          background === 'rgba(0, 0, 0, 0)' ? 'rgb(255, 255, 255)' : background];
})"""
READ = "main p, main label, main li, main h1, header.service .name, button, a.button"


def luminance(rgb: str) -> float:
    """WCAG 2.1's relative luminance of a CSS rgb()/rgba() colour."""
    red, green, blue = (int(part) / 255 for part in re.findall(r"[0-9.]+", rgb)[:3])

    def channel(value: float) -> float:
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(red) + 0.7152 * channel(green) + 0.0722 * channel(blue)


def contrast(foreground: str, background: str) -> float:
    lighter, darker = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def assert_fit_and_contrast(seen: dict) -> None:
    """Every page `look` saw: no sideways scroll, and each text at WCAG 2.1 AA contrast (4.5:1)."""
    for name, (overflow, colours) in seen.items():
        assert overflow <= 0, f"{name}: the page scrolls sideways by {overflow} px"
        assert colours, name
        for element, foreground, background in colours:
            assert contrast(foreground, background) >= 4.5, (name, element, foreground, background)


def look(
    page, served: str, seen: dict, name: str, *, status: int = HTTPStatus.OK, path: str | None = None
) -> None:
    """Open `path` (or stay), keep a screenshot, and note the sideways overflow and the colours."""
    if path is not None:
        response = page.goto(f"{served}{path}")
        assert response.status == status, (name, response.status)
    width = page.viewport_size["width"]
    page.screenshot(path=str(SCREENS / f"{name}-{width}.png"), full_page=True)
    seen[f"{name} at {width}"] = [
        page.evaluate("document.documentElement.scrollWidth - window.innerWidth"),
        page.evaluate(CONTRAST_OF, READ),
    ]


def test_the_pages_for_people_fit_a_phone_and_a_laptop_with_aa_contrast(served):
    client, _ = register(Registration(name="Photo printer", redirect_uris=("https://print.example.com/cb",)))
    params = authorization_parameters(RegisteredClient(client=client, secret=None))
    query = urlencode(params)
    SCREENS.mkdir(parents=True, exist_ok=True)
    seen: dict[str, list] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            for width in WIDTHS.values():
                page = browser.new_context(viewport={"width": width, "height": 800}).new_page()
                look(page, served, seen, "sign-in", path=f"/authorize?{query}")
                page.get_by_label("Username").fill("johndoe")
                page.get_by_label("Password").fill("secret")
                page.get_by_role("button", name="Sign in").click()
                page.get_by_role("button", name="Allow").wait_for()
                look(page, served, seen, "consent")
                page.get_by_role("button", name="Sign in as someone else").click()
                page.get_by_role("button", name="Sign in").wait_for()
                look(page, served, seen, "sign-out", path="/logout")
                look(
                    page,
                    served,
                    seen,
                    "error",
                    path="/authorize?client_id=nobody",
                    status=HTTPStatus.BAD_REQUEST,
                )
                # The accounts' pages (sign-up, reset) and, signed in, the account and its security.
                look(page, served, seen, "signup", path="/signup")
                look(page, served, seen, "password-reset", path="/account/password-reset")
                look(page, served, seen, "second-step-expired", path="/sign-in/second-factor", status=400)
                page.goto(f"{served}/account/sign-in?next=/account/security")
                page.get_by_label("Username").fill("johndoe")
                page.get_by_label("Password").fill("secret")
                page.get_by_role("button", name="Sign in").click()
                page.get_by_role("heading", name="Security").wait_for()
                set_up = page.get_by_role("button", name="Set up an authenticator app")
                if set_up.count():  # (the phone's round began it already: the same page again)
                    set_up.click()
                page.get_by_role("button", name="Turn on").wait_for()
                look(page, served, seen, "security-set-up")
                look(page, served, seen, "account", path="/account")
                page.context.clear_cookies()
        finally:
            browser.close()

    assert_fit_and_contrast(seen)
