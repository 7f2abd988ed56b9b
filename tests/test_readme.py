"""The README's curl walk-through, run as written against a live server of this project."""

import re
from pathlib import Path

import pytest
from django.core.management import call_command

from tests.helpers import run_readme_shell

# Nothing here can differ by database (the README's commands as written): runs once, in the SQLite run.
pytestmark = pytest.mark.once

README = Path(__file__).resolve().parent.parent / "README.md"


def walkthrough_script(base_url: str) -> str:
    text = README.read_text()
    section = text[text.index("## Walk-through") : text.index("## Sessions:")]
    script = "\n".join(re.findall(r"```sh\n(.*?)```", section, re.S))
    assert "API=http://127.0.0.1:8000" in script
    return "set -eu\n" + script.replace("API=http://127.0.0.1:8000", f"API={base_url}")


def test_the_readme_walkthrough_behaves_as_the_contract_says(live_service, server_password_hashers):
    call_command("seed_demo_users")  # the README's users, with passwords the server can check
    base_url = live_service()

    result = run_readme_shell(walkthrough_script(base_url))

    assert result.returncode == 0, result.stderr
    lines = [line.strip() for line in result.stdout.splitlines() if line.strip()]
    expected_in_order = [
        '"token_type":"bearer"',  # 1
        "HTTP/1.1 401 Unauthorized",  # 2
        '{"detail":"Could not validate credentials"}',
        '{"username":"johndoe","email":"johndoe@example.com","full_name":"John Doe","disabled":false,"email_verified":false}',  # 3
        "HTTP/1.1 401 Unauthorized",  # 4
        "HTTP/1.1 401 Unauthorized",  # 5
        '"refresh_token":',  # 6
        "HTTP/1.1 400 Bad Request",  # 7
        '"error":"invalid_grant"',
        '"error":"invalid_grant"',  # 8
        "already used",  # reuse
        "HTTP/1.1 401 Unauthorized",
        '"current":true',  # sessions
        "HTTP/1.1 204 No Content",  # delete one
        "HTTP/1.1 204 No Content",  # log out everywhere
        "HTTP/1.1 200 OK",  # revoke
        '"error":"unsupported_grant_type"',
        '"error":"invalid_request"',
        '{"detail":"Incorrect username or password"}',
    ]
    position = 0
    for expected in expected_in_order:
        while position < len(lines) and expected not in lines[position]:
            position += 1
        assert position < len(lines), f"{expected!r} missing (in order) from:\n{result.stdout}"
        position += 1
