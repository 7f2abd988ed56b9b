"""The pages for people (sign-in, consent, sign-out, errors) carry the service's identity:
SERVICE_NAME and SERVICE_LOGO_URL, the client's name, a primary and a secondary action, and
operators override them the Django way (DJANGO_TEMPLATES_DIR)."""

import os
import re
import subprocess
import sys
from http import HTTPStatus
from pathlib import Path

import pytest

from tests.oauth.conftest import authorization_parameters

# Nothing here can differ by database (templates and settings): runs once, in the SQLite run.
pytestmark = pytest.mark.once

PROJECT = Path(__file__).resolve().parent.parent.parent


@pytest.fixture
def branded(settings):
    settings.SERVICE_NAME = "Example Identity"
    settings.SERVICE_LOGO_URL = "https://cdn.example.com/logo.svg"


def pages(client, registered, sign_in_on_the_page, user) -> dict[str, str]:
    params = authorization_parameters(registered)
    return {
        "sign-in": client.get("/authorize", params).text,
        "consent": sign_in_on_the_page(params, user).text,
        "sign-out": client.get("/logout").text,
        "error": client.get("/authorize", {"client_id": "nobody"}).text,
    }


def test_every_page_shows_the_services_name_and_logo(
    branded, client, public_oauth_client, sign_in_on_the_page, user
):
    for name, page in pages(client, public_oauth_client, sign_in_on_the_page, user).items():
        assert '<span class="name">Example Identity</span>' in page, name
        assert '<img src="https://cdn.example.com/logo.svg" alt="">' in page, name
        assert "· Example Identity</title>" in page, name
        assert 'rel="stylesheet"' in page, name


def test_without_a_logo_the_pages_show_the_name_alone(db, client):
    page = client.get("/authorize", {"client_id": "nobody"}).text

    assert '<span class="name">authproject</span>' in page
    assert "<img" not in page


def test_the_client_is_named_and_the_actions_are_primary_then_secondary(
    client, public_oauth_client, sign_in_on_the_page, user
):
    found = pages(client, public_oauth_client, sign_in_on_the_page, user)

    assert "to continue to <strong>Public app</strong>" in found["sign-in"]
    assert re.search(r'<button type="submit" class="primary">Sign in</button>', found["sign-in"])
    allow = found["consent"].index('name="allow" value="allow" class="primary"')
    assert allow < found["consent"].index('name="deny" value="deny">Deny')
    assert re.search(
        r'class="primary">Sign out</button>\s*<a class="button" href="/">Cancel</a>', found["sign-out"]
    )


def test_the_logo_url_must_be_a_url_or_a_path():
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=PROJECT,
        env={
            **os.environ,
            "DJANGO_DEBUG": "1",
            "DJANGO_ENV_FILE": "",
            "SERVICE_LOGO_URL": "javascript:alert(1)",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode != 0
    assert "SERVICE_LOGO_URL must be an http(s) URL or a path" in result.stderr


def test_an_operator_overrides_a_page_with_a_template_of_the_same_name(tmp_path):
    (tmp_path / "oauth").mkdir()
    (tmp_path / "oauth" / "base.html").write_text(
        "<html><body>Our own sign-in {% block content %}{% endblock %}"
    )
    show = (
        "from django.test import Client; r = Client().get('/logout', HTTP_HOST='localhost'); "
        "print(r.status_code, 'Our own sign-in' in r.content.decode())"
    )

    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-v", "0", "-c", show],
        cwd=PROJECT,
        env={
            **os.environ,
            "DJANGO_DEBUG": "1",
            "DJANGO_ENV_FILE": "",
            "DJANGO_TEMPLATES_DIR": str(tmp_path),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.stdout.split() == [str(HTTPStatus.OK.value), "True"], result.stderr
