"""Each log line once, with DJANGO_DEBUG on or off."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.own_database
PROJECT = Path(__file__).resolve().parent.parent
REQUESTS = """
import django
django.setup()
from django.test import Client
client = Client()
client.get("/no-such-page")
client.post("/login", {"username": "x"})
"""


@pytest.mark.parametrize("debug", ["1", "0"])
def test_each_4xx_is_logged_once(debug, tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "authproject.settings",
        "DJANGO_DEBUG": debug,
        "DJANGO_SECRET_KEY": "a-secret-key-for-this-test-only-0123456789",
        "DJANGO_ALLOWED_HOSTS": "testserver",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    result = subprocess.run(
        [sys.executable, "-c", REQUESTS], cwd=PROJECT, env=env, capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert lines.count("Not Found: /no-such-page") == 1, result.stderr
    assert lines.count("Bad Request: /login") == 1, result.stderr
