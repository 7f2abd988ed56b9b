"""A misconfigured service refuses to start, saying why (accounts/checks.py, settings.py)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from accounts.checks import token_settings_check

# Nothing here can differ by database (system checks of settings): runs once, in the SQLite run.
pytestmark = pytest.mark.once

PROJECT = Path(__file__).resolve().parent.parent


def error_ids(settings_overrides: dict, settings) -> set[str]:
    for name, value in settings_overrides.items():
        setattr(settings, name, value)
    return {error.id for error in token_settings_check(None)}


def ec_pem() -> str:
    return (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        .decode()
    )


def test_the_development_defaults_pass(settings):
    assert error_ids({"DEBUG": True, "TOKEN_ISSUER": "http://127.0.0.1:8000"}, settings) == set()


def test_https_issuer_passes_in_production(settings):
    assert error_ids({"DEBUG": False, "TOKEN_ISSUER": "https://auth.example.com"}, settings) == set()


@pytest.mark.parametrize(
    "issuer", ["https://accounts.google.com", "http://127.0.0.1:9000", "http://[::1]:9000/realms/test"]
)
def test_a_google_issuer_that_is_https_or_http_on_loopback_passes(settings, issuer):
    assert error_ids({"DEBUG": False, "GOOGLE_CLIENT_ID": "web", "GOOGLE_ISSUER": issuer}, settings) == set()


def test_an_http_issuer_in_production_is_not_an_error(settings):
    assert error_ids({"DEBUG": False, "TOKEN_ISSUER": "http://auth.example.com"}, settings) == set()


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"ACCESS_TOKEN_ALGORITHM": "none"}, "accounts.E001"),
        ({"ACCESS_TOKEN_ALGORITHM": "HS512"}, "accounts.E001"),
        ({"ACCESS_TOKEN_SIGNING_KEY": "x", "ACCESS_TOKEN_SIGNING_KEY_FILE": "/x"}, "accounts.E002"),
        ({"ACCESS_TOKEN_SIGNING_KEY": "not a pem"}, "accounts.E003"),
        ({"ACCESS_TOKEN_SIGNING_KEY_FILE": "/nonexistent/key.pem"}, "accounts.E003"),
        ({"ACCESS_TOKEN_ALGORITHM": "RS256", "ACCESS_TOKEN_SIGNING_KEY": "EC"}, "accounts.E003"),
        ({"TOKEN_ISSUER": "not a url"}, "accounts.E004"),
        ({"TOKEN_ISSUER": "https://auth.example.com/?q=1"}, "accounts.E004"),
        ({"TRUSTED_PROXIES": ["10.0.0.0/33"]}, "accounts.E006"),
        ({"TRUSTED_PROXIES": ["proxy.example.com"]}, "accounts.E006"),
        ({"GOOGLE_CLIENT_ID": "web", "GOOGLE_ISSUER": "http://accounts.example.com"}, "accounts.E007"),
        ({"GOOGLE_CLIENT_ID": "web", "GOOGLE_ISSUER": "http://localhost:9000"}, "accounts.E007"),
        ({"GOOGLE_CLIENT_ID": "web", "GOOGLE_ISSUER": "https://idp.example.com/?tenant=1"}, "accounts.E007"),
    ],
)
def test_misconfiguration_is_an_error(settings, overrides, error):
    if overrides.get("ACCESS_TOKEN_SIGNING_KEY") == "EC":
        overrides["ACCESS_TOKEN_SIGNING_KEY"] = ec_pem()  # a valid key, of the wrong kind
    overrides.setdefault("DEBUG", True)

    assert error in error_ids(overrides, settings)


def run(code: list[str], **env) -> subprocess.CompletedProcess:
    clean = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "ACCESS_TOKEN", "TOKEN_"))
    }
    return subprocess.run(
        [sys.executable, *code], cwd=PROJECT, env={**clean, **env}, capture_output=True, text=True, timeout=60
    )


def test_without_a_secret_key_the_service_refuses_to_start():
    result = run(["-c", "import authproject.wsgi"], DJANGO_DEBUG="0")

    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in result.stderr


def test_the_wsgi_application_refuses_to_start_when_misconfigured():
    result = run(
        ["-c", "import authproject.wsgi"],
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY="x" * 50,
        ACCESS_TOKEN_ALGORITHM="none",
        TRUSTED_PROXIES="10.0.0.1,not-a-proxy",
    )

    assert result.returncode != 0
    assert "accounts.E001" in result.stderr
    assert "TRUSTED_PROXIES: 'not-a-proxy' is not an IP address" in result.stderr


def test_check_deploy_warns_of_a_non_https_issuer_and_plain_check_passes():
    plain = run(["manage.py", "check"], DJANGO_DEBUG="0", DJANGO_SECRET_KEY="x" * 50)
    deploy = run(["manage.py", "check", "--deploy"], DJANGO_DEBUG="0", DJANGO_SECRET_KEY="x" * 50)

    assert plain.returncode == 0, plain.stderr
    assert "accounts.W005" not in plain.stdout + plain.stderr
    assert "accounts.W005" in deploy.stdout + deploy.stderr


def test_check_deploy_warns_when_email_would_only_be_printed():
    printed = run(["manage.py", "check", "--deploy"], DJANGO_DEBUG="0", DJANGO_SECRET_KEY="x" * 50)
    sent = run(
        ["manage.py", "check", "--deploy"],
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY="x" * 50,
        EMAIL_HOST="smtp.internal",
    )

    assert "accounts.W006" in printed.stdout + printed.stderr
    assert "accounts.W006" not in sent.stdout + sent.stderr


def test_email_use_tls_and_ssl_together_refuse_to_start():
    result = run(
        ["manage.py", "check"],
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY="x" * 50,
        EMAIL_USE_TLS="1",
        EMAIL_USE_SSL="1",
    )

    assert result.returncode != 0
    assert "EMAIL_USE_TLS and EMAIL_USE_SSL cannot both be set" in result.stderr
