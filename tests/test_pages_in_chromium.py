"""The pages a person meets, in headless Chromium at 1280 by 800: each renders without an error
(status, console, failed requests), the admin's session list fits the screen, and each page is
kept as a screenshot under var/test-artifacts/pages/ (a regression is seen by looking).

/, /docs/ (and its Authorize dialog), /login in the browsable API, the admin's users, sessions
and one session's page, against gunicorn with the demo data of `make run`.
"""

from http import HTTPStatus
from pathlib import Path

import pytest
from django.core.management import call_command
from playwright.sync_api import sync_playwright

from accounts import services
from accounts.callers import Caller
from accounts.models import Session, User
from tests.oauth.conftest import issuer_service  # noqa: F401 (a fixture of tests/oauth)
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
# A user agent as long as real ones are: the session list must still fit the screen.
BROWSER_AGENT = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


@pytest.fixture
def served(issuer_service, server_password_hashers) -> str:  # noqa: F811
    """gunicorn with the demo data, an administrator, and a few sessions of johndoe."""
    base_url = issuer_service()
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
            visit("admin-users", "/admin/accounts/user/")
            visit("admin-sessions", "/admin/accounts/session/")
            # The whole table in view: neither the page nor the list's own box scrolls sideways.
            overflow = page.evaluate(
                "[document.documentElement.scrollWidth - window.innerWidth,"
                " ...[...document.querySelectorAll('.results')].map(box => box.scrollWidth - box.clientWidth)]"
            )
            visit("admin-session", f"/admin/accounts/session/{session.pk}/change/")
            title = page.title()
        finally:
            browser.close()

    assert problems == []
    assert max(overflow) <= 0, overflow
    assert title.startswith("johndoe since ")
    assert "client_secret" not in dialog  # the Authorize dialog shows only what its flows use
    assert "demo-docs" in dialog
