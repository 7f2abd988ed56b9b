"""The README's client credentials walk-through, run as written against a live server."""

import pytest

from accounts.machines.models import ClientToken
from accounts.models import Client
from tests.conftest import free_port
from tests.helpers import readme_section_script, run_readme_shell

# Nothing here can differ by database (the README's commands as written): runs once, in the SQLite run.
pytestmark = pytest.mark.once

SECTION = "### A service's own token with curl"
PRIVATE_KEY_JWT_SECTION = "## Clients that sign with their own key: private_key_jwt"


def test_the_readme_client_credentials_walkthrough_behaves_as_written(live_service):
    base_url = live_service()

    result = run_readme_shell(readme_section_script(SECTION, base_url))

    assert result.returncode == 0, result.stderr
    lines = [line.strip() for line in result.stdout.splitlines() if line.strip()]
    assert lines == ["['access_token', 'expires_in', 'token_type']", "billing", "401", '{"active":false}']
    assert ClientToken.objects.get().revoked_at is not None


def test_the_readme_private_key_jwt_walkthrough_behaves_as_written(live_service):
    port = free_port()
    base_url = live_service(port, TOKEN_ISSUER=f"http://127.0.0.1:{port}")

    result = run_readme_shell(readme_section_script(PRIVATE_KEY_JWT_SECTION, base_url))

    assert result.returncode == 0, result.stderr
    lines = [line.strip() for line in result.stdout.splitlines() if line.strip()]
    assert lines == ["None", "bearer", "invalid_client"]
    client = Client.objects.get(pk="reporting")
    assert client.secret_hash == ""
    assert client.jwks["keys"][0]["kid"] == "reporting-1"
    assert ClientToken.objects.filter(client=client).count() == 1
