"""The README's client credentials walk-through, run as written against a live server."""

import pytest

from accounts.machines.models import ClientToken
from tests.helpers import readme_section_script, run_readme_shell

# Nothing here can differ by database (the README's commands as written): runs once, in the SQLite run.
pytestmark = pytest.mark.once

SECTION = "### A service's own token with curl"


def test_the_readme_client_credentials_walkthrough_behaves_as_written(live_service):
    base_url = live_service()

    result = run_readme_shell(readme_section_script(SECTION, base_url))

    assert result.returncode == 0, result.stderr
    lines = [line.strip() for line in result.stdout.splitlines() if line.strip()]
    assert lines == ["['access_token', 'expires_in', 'token_type']", "billing", "401", '{"active":false}']
    assert ClientToken.objects.get().revoked_at is not None
