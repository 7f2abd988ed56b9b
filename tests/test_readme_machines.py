"""The README's client credentials walk-through, run as written against a live server."""

import re
from pathlib import Path

import pytest

from accounts.machines.models import ClientToken
from tests.helpers import run_readme_shell

# Nothing here can differ by database (the README's commands as written): runs once, in the SQLite run.
pytestmark = pytest.mark.once

README = Path(__file__).resolve().parent.parent / "README.md"
SECTION = "### A service's own token with curl"


def machines_script(base_url: str) -> str:
    """The first walk-through's helper and $API, then this section's sh block."""
    text = README.read_text()
    first = re.search(r"```sh\n(.*?)```", text[text.index("## Walk-through with curl") :], re.S).group(1)
    prelude = [line for line in first.splitlines() if line.startswith(("field()", "API="))]
    start = text.index(SECTION)
    (block,) = re.findall(r"```sh\n(.*?)```", text[start : text.index("\n## ", start)], re.S)
    return "set -eu\n" + "\n".join(prelude).replace("http://127.0.0.1:8000", base_url) + "\n" + block


def test_the_readme_client_credentials_walkthrough_behaves_as_written(live_service):
    base_url = live_service()

    result = run_readme_shell(machines_script(base_url))

    assert result.returncode == 0, result.stderr
    lines = [line.strip() for line in result.stdout.splitlines() if line.strip()]
    assert lines == ["['access_token', 'expires_in', 'token_type']", "billing", "401", '{"active":false}']
    assert ClientToken.objects.get().revoked_at is not None
