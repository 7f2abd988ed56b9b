"""Production settings: `check --deploy` is clean with the documented variables; headers are set."""

import os
import secrets
import subprocess
import sys
from http import HTTPStatus
from pathlib import Path

import pytest
from django.contrib.auth.hashers import Argon2PasswordHasher, PBKDF2PasswordHasher

from accounts.models import User

# Nothing here can differ by database (settings): runs once, in the SQLite run.
pytestmark = pytest.mark.once

PROJECT = Path(__file__).resolve().parent.parent


def readme_environment_file() -> dict[str, str]:
    """The variables of the README's Deploy section, read as systemd's EnvironmentFile= reads
    them: a line starting with # is a comment, any other is NAME=value, the value being the
    whole rest of the line (so an inline comment would become part of the value)."""
    text = (PROJECT / "README.md").read_text()
    deploy = text[text.index("## Deploy") :]
    block = next(b for b in deploy.split("```sh\n")[1:] if b.startswith("DJANGO_DEBUG=0")).split("```", 1)[0]
    lines = [line for line in block.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return dict(line.split("=", 1) for line in lines)


def test_the_readme_environment_file_works_as_systemds_environmentfile():
    for name, value in readme_environment_file().items():
        assert "#" not in value, f"{name}: an inline comment would be part of the value"
        assert value == value.strip(), f"{name}: spaces around the value"


PRODUCTION = {
    "DJANGO_DEBUG": "0",
    "DJANGO_ALLOWED_HOSTS": "auth.example.com",
    "TOKEN_ISSUER": "https://auth.example.com",
    "DJANGO_SECURE_SSL_REDIRECT": "1",
    "DJANGO_SECURE_HSTS_SECONDS": "31536000",
    "DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS": "1",
    "DJANGO_SECURE_HSTS_PRELOAD": "1",
    "DJANGO_SECURE_COOKIES": "1",
    "EMAIL_HOST": "smtp.example.com",  # otherwise email is only printed (accounts.W006)
}


@pytest.mark.parametrize("source", ["test settings", "README"])
def test_check_deploy_reports_nothing_with_the_documented_https_variables(source):
    clean = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "TOKEN_"))}
    documented = PRODUCTION if source == "test settings" else readme_environment_file()
    documented = {k: v for k, v in documented.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env = {**clean, **documented, "DJANGO_SECRET_KEY": secrets.token_urlsafe(50)}

    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_security_headers_are_set(api_client, db):
    response = api_client.get("/.well-known/openid-configuration")

    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


def test_with_https_settings_plain_http_is_redirected_and_hsts_is_sent(api_client, db, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31536000

    plain = api_client.get("/.well-known/jwks.json")
    secure = api_client.get("/.well-known/jwks.json", secure=True)
    probe = api_client.get("/healthz")  # load balancers probe over plain HTTP

    assert plain.status_code == HTTPStatus.MOVED_PERMANENTLY
    assert plain["Location"].startswith("https://")
    assert secure["Strict-Transport-Security"] == "max-age=31536000"
    assert probe.status_code == HTTPStatus.OK


def test_argon2id_is_the_password_hasher_and_older_hashes_are_upgraded_at_login(
    api_client, user_factory, settings
):
    settings.PASSWORD_HASHERS = [
        "accounts.hashers.Argon2idPasswordHasher",
        "tests.hashers.FastPBKDF2PasswordHasher",
    ]
    user = user_factory()
    User.objects.filter(pk=user.pk).update(password=PBKDF2PasswordHasher().encode("pw", "salt", iterations=2))

    response = api_client.post("/login", {"username": user.username, "password": "pw"})

    assert response.status_code == HTTPStatus.OK
    upgraded = User.objects.get(pk=user.pk).password
    assert upgraded.startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$")
    assert Argon2PasswordHasher().verify("pw", upgraded)


def test_the_configured_first_hasher_is_argon2id_at_owasps_minimum():
    from authproject import settings as project_settings  # the tests themselves use a fast hasher

    assert project_settings.PASSWORD_HASHERS[0] == "accounts.hashers.Argon2idPasswordHasher"
    assert (
        project_settings.ARGON2_MEMORY_KIB,
        project_settings.ARGON2_TIME_COST,
        project_settings.ARGON2_PARALLELISM,
    ) == (19456, 2, 1)


def test_a_hash_of_djangos_parameters_is_upgraded_at_login_and_revokes_nothing(
    api_client, user_factory, settings, login
):
    settings.PASSWORD_HASHERS = ["accounts.hashers.Argon2idPasswordHasher"]
    settings.ARGON2_MEMORY_KIB, settings.ARGON2_TIME_COST, settings.ARGON2_PARALLELISM = 8, 1, 1
    user = user_factory()
    User.objects.filter(pk=user.pk).update(password=Argon2PasswordHasher().encode("pw", "salt-of-16-bytes"))
    older = api_client.post("/login", {"username": user.username, "password": "pw"}).json()

    upgraded = User.objects.get(pk=user.pk).password
    again = api_client.post("/login", {"username": user.username, "password": "pw"})

    assert upgraded.startswith("argon2$argon2id$v=19$m=8,t=1,p=1$")  # the configured parameters
    assert again.status_code == HTTPStatus.OK
    assert (
        api_client.post(
            "/token", {"grant_type": "refresh_token", "refresh_token": older["refresh_token"]}
        ).status_code
        == HTTPStatus.OK
    )
