"""The checkout's environment file (.env, written by `make setup`): read as defaults by manage.py's
commands in development, so the README's commands need no DJANGO_DEBUG=1 prefix; never by a
server, never in production."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

# Nothing here can differ by database (settings read in a new process): runs once, in the SQLite run.
pytestmark = pytest.mark.once

PROJECT = Path(__file__).resolve().parent.parent
SHOW = "from django.conf import settings; print(settings.DEBUG, settings.SESSIONS_PER_USER_MAX)"


def settings_with(env_file: Path | None, **env: str) -> subprocess.CompletedProcess:
    """Django's settings as a new process reads them, with only `env` and the env file set."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "TOKEN_", "SESSIONS_"))}
    return subprocess.run(
        [sys.executable, "manage.py", "shell", "-v", "0", "-c", SHOW],
        cwd=PROJECT,
        env={**clean, "DJANGO_ENV_FILE": str(env_file) if env_file else "", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def env_file(tmp_path) -> Path:
    """The file as `make run` writes it, with one more setting of the developer's."""
    path = tmp_path / ".env"
    path.write_text("# Development settings\nDJANGO_DEBUG=1\nSESSIONS_PER_USER_MAX=7\n")
    return path


def test_a_command_in_a_checkout_reads_the_env_file_and_needs_no_prefix(env_file):
    result = settings_with(env_file)

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "7"]


def test_the_environment_wins_over_the_env_file(env_file):
    result = settings_with(env_file, SESSIONS_PER_USER_MAX="3")

    assert result.stdout.split() == ["True", "3"]


def test_the_env_file_is_never_read_when_django_debug_is_0(env_file):
    result = settings_with(env_file, DJANGO_DEBUG="0", DJANGO_SECRET_KEY="x" * 50)

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "100"]  # not the file's 7


def test_in_production_the_env_files_debug_gives_no_development_secret(env_file):
    result = settings_with(env_file, DJANGO_DEBUG="0")

    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in result.stderr


def test_without_an_env_file_the_defaults_are_production_ones(tmp_path):
    result = settings_with(tmp_path / "missing.env", DJANGO_SECRET_KEY="x" * 50)

    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] == "False"


def test_make_run_writes_the_env_file_once_and_git_ignores_it(tmp_path):
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / "Makefile").write_text((PROJECT / "Makefile").read_text())

    subprocess.run(["make", "-s", ".env"], cwd=checkout, check=True, capture_output=True)
    first = (checkout / ".env").read_text()
    (checkout / ".env").write_text(first + "SESSIONS_PER_USER_MAX=7\n")
    subprocess.run(["make", "-s", ".env"], cwd=checkout, check=True, capture_output=True)

    assert "DJANGO_DEBUG=1" in first.splitlines()
    assert "SESSIONS_PER_USER_MAX=7" in (checkout / ".env").read_text()  # the developer's edits stay
    ignored = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=PROJECT)
    assert ignored.returncode == 0


def test_a_server_never_reads_the_checkouts_env_file():
    """gunicorn and the WSGI application name no file: a checkout's DJANGO_DEBUG=1 (and its public
    development secret key) can never reach a server started without DJANGO_DEBUG=0."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "TOKEN_", "SESSIONS_"))}
    # (make test runs in a checkout whose .env, written by make setup, says DJANGO_DEBUG=1.)

    result = subprocess.run(
        [sys.executable, "-c", "import authproject.wsgi"],
        cwd=PROJECT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in result.stderr


def test_manage_py_names_the_checkouts_env_file():
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-v",
            "0",
            "-c",
            "import os; print(os.environ['DJANGO_ENV_FILE'])",
        ],
        cwd=PROJECT,
        env={k: v for k, v in os.environ.items() if k != "DJANGO_ENV_FILE"} | {"DJANGO_DEBUG": "1"},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.stdout.strip() == str(PROJECT / ".env")
