"""Start-up on the contract's variables alone: DJANGO_DEBUG=0 and DJANGO_SECRET_KEY, nothing else.

`migrate`, `check`, `seed_demo_users` and gunicorn start and serve; misconfiguration that cannot
work stops start-up with a message naming the variable.
"""

import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import free_port, stop_gunicorn

pytestmark = pytest.mark.own_database
PROJECT = Path(__file__).resolve().parent.parent


def contract_environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The process environment with only the contract's two required variables (and a database
    file of the test's own, so the development database is left alone)."""
    kept = {key: value for key, value in os.environ.items() if key in ("PATH", "HOME", "LANG", "TMPDIR")}
    return {
        **kept,
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        **extra,
    }


def manage(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_with_only_the_contract_variables_the_service_migrates_checks_seeds_and_serves(tmp_path):
    env = contract_environment(tmp_path)
    for command in (["migrate", "--noinput"], ["check"], ["seed_demo_users"]):
        result = manage(env, *command)
        assert result.returncode == 0, (command, result.stderr)
    deploy = manage(env, "check", "--deploy")
    assert "accounts.W005" in deploy.stdout + deploy.stderr  # the http issuer: a warning, no more

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            "gunicorn.conf.py",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "authproject.wsgi",
        ],
        cwd=PROJECT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # tests.conftest.stop_gunicorn kills its group if need be
    )
    try:
        base = f"http://127.0.0.1:{port}"
        health = _wait_for(f"{base}/healthz", server)
        login = urllib.request.urlopen(f"{base}/login", data=b"username=johndoe&password=secret", timeout=30)
        tokens = json.load(login)
        # Read inside the try: once the server stops, a body not read yet may be cut off.
        me = json.load(
            urllib.request.urlopen(
                urllib.request.Request(
                    f"{base}/users/me/", headers={"Authorization": f"Bearer {tokens['access_token']}"}
                ),
                timeout=30,
            )
        )
        jwks = json.load(urllib.request.urlopen(f"{base}/.well-known/jwks.json", timeout=30))
    finally:
        stop_gunicorn([server])

    assert health == {"status": "ok"}
    assert me["username"] == "johndoe"
    assert [key["alg"] for key in jwks["keys"]] == ["RS256"]


def _wait_for(url: str, server: subprocess.Popen) -> dict:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert server.poll() is None, f"gunicorn exited at start-up: {server.stderr.read()}"
        try:
            return json.load(urllib.request.urlopen(url, timeout=5))
        except OSError:
            time.sleep(0.1)
    raise AssertionError("gunicorn did not answer within 30 s")


def gunicorn(env: dict) -> subprocess.CompletedProcess:
    """gunicorn as deployed (gunicorn.conf.py) on a free port, run until it exits."""
    return subprocess.run(
        [
            *(sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"),
            *("--bind", f"127.0.0.1:{free_port()}", "--workers", "2", "authproject.wsgi"),
        ],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "TRUSTED_PROXIES",
            "10.0.0.1,proxy.internal",
            "TRUSTED_PROXIES: 'proxy.internal' is not an IP address",
        ),
        ("ACCESS_TOKEN_SIGNING_KEY", "not a pem", "ACCESS_TOKEN_SIGNING_KEY"),
        ("THROTTLE_IPV6_PREFIX", "129", "THROTTLE_IPV6_PREFIX must be at most 128"),
        ("LOGIN_FAILURE_LIMIT", "ten", "LOGIN_FAILURE_LIMIT must be a whole number"),
    ],
)
@pytest.mark.parametrize("command", [["migrate", "--noinput"], ["check"]])
def test_misconfiguration_that_cannot_work_stops_start_up_naming_the_variable(
    tmp_path, variable, value, message, command
):
    result = manage(contract_environment(tmp_path, **{variable: value}), *command)

    assert result.returncode != 0
    assert message in result.stderr


def test_gunicorn_on_a_database_never_migrated_refuses_to_serve_and_says_what_to_run(tmp_path):
    server = gunicorn(contract_environment(tmp_path))

    assert server.returncode != 0
    assert re.search(
        r"The service cannot start: \d+ migration\(s\) not applied \(\w+\.0001_initial, ", server.stderr
    )
    assert "): run `python manage.py migrate` first." in server.stderr


# --- an operator's common mistakes: one line that says what to do, no traceback ----------------


def test_a_management_command_before_migrate_says_to_run_migrate_in_one_line(tmp_path):
    result = manage(
        contract_environment(tmp_path), "create_client", "Early app", "--redirect-uri", "https://a.example/cb"
    )

    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    # The same wording as gunicorn's refusal and /healthz's detail, with the database's own error.
    assert re.fullmatch(
        r"manage\.py: \d+ migration\(s\) not applied \([^)]+\): run `python manage\.py migrate` first\. "
        r"\(no such table: accounts_client\)",
        line,
    )
    assert "Traceback" not in result.stderr


def test_a_missing_secret_key_is_one_line_naming_it_for_manage_py_and_gunicorn(tmp_path):
    env = contract_environment(tmp_path)
    del env["DJANGO_SECRET_KEY"]

    command = manage(env, "check")
    server = gunicorn(env)

    assert command.returncode == 1
    assert (
        command.stderr.strip()
        .splitlines()[0]
        .startswith("manage.py: configuration: DJANGO_SECRET_KEY is not set.")
    )
    assert "Traceback" not in command.stderr
    assert "KeyError" not in command.stderr
    assert server.returncode != 0
    assert "gunicorn: configuration: DJANGO_SECRET_KEY is not set." in server.stderr
    assert "Traceback" not in server.stderr  # no worker booted to fail


def test_a_database_that_does_not_answer_is_one_line_naming_database_url(tmp_path):
    env = contract_environment(tmp_path, DATABASE_URL=f"postgres://nobody@127.0.0.1:{free_port()}/none")

    result = manage(env, "create_client", "App", "--redirect-uri", "https://a.example/cb")

    assert result.returncode == 1
    assert result.stderr.startswith("manage.py: the database (DATABASE_URL) does not answer:")
    assert len(result.stderr.strip().splitlines()) == 1
