"""The README's accounts walk-through (sign-up, verification, reset, password and email change),
run as written against a live server with sign-up on (as `make run` has it)."""

import pytest

from accounts.models import User
from tests.helpers import readme_section_script, run_readme_shell

# Nothing here can differ by database (the README's commands as written): runs once, in the SQLite run.
pytestmark = pytest.mark.once

SECTION = "### The accounts with curl"


def test_the_readme_accounts_walkthrough_behaves_as_written(live_service, server_password_hashers):
    base_url = live_service(SIGNUP_ENABLED="1")

    result = run_readme_shell(readme_section_script(SECTION, base_url))

    assert result.returncode == 0, result.stderr
    lines = [line.strip() for line in result.stdout.splitlines() if line.strip()]
    reset = '{"detail":"If an account has this email address, a link to reset its password is on its way."}'
    assert lines[0] == (
        '{"username":"maria","email":"maria@example.com","full_name":"Maria Lopez",'
        '"email_verified":false,"disabled":false}'
    )
    assert lines[1].startswith(
        '{"username":["A user with that username already exists."],"password":["This password is too short.'
    )
    assert lines[2:] == [
        '{"username":"maria","email":"maria@example.com","full_name":"Maria Lopez","disabled":false,"email_verified":false}',
        '{"detail":"A new link is on its way to maria@example.com."}',
        reset,
        reset,
        "204",
        '{"detail":"A link to confirm it is on its way to maria@new.example."}',
    ]
    maria = User.objects.get(username="maria")
    assert (maria.email, maria.pending_email) == ("maria@example.com", "maria@new.example")
    assert maria.check_password("a second quiet river 42")
