"""The README's token exchange walk-through (curl), run as written against a live server of this
project configured with the stand-in provider, with a real ID token of that provider."""

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import other_process_environment
from tests.federation.conftest import APP_CLIENT_ID, WEB_CLIENT_ID

# Nothing here can differ by database (the README's commands as written): runs once, in the SQLite run.
pytestmark = pytest.mark.once

README = Path(__file__).resolve().parent.parent.parent / "README.md"
SECTION = "## Sign in with Google (any OpenID Connect provider)"


def exchange_walkthrough_script(base_url: str) -> str:
    text = README.read_text()
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    blocks = re.findall(r"```sh\n(.*?)```", text[start:end], re.S)
    assert len(blocks) == 1, f"expected one sh block in {SECTION!r}, found {len(blocks)}"
    assert "API=http://127.0.0.1:8000" in blocks[0]
    return "set -eu\n" + blocks[0].replace("API=http://127.0.0.1:8000", f"API={base_url}")


def test_the_readme_token_exchange_walkthrough_behaves_as_the_contract_says(provider_server, live_service):
    provider_server.control("reset")
    sub = provider_server.account("g-readme", email="readme@example.com", email_verified=True)
    base_url = live_service(
        GOOGLE_CLIENT_ID=WEB_CLIENT_ID,
        GOOGLE_ISSUER=provider_server.issuer,
        GOOGLE_TOKEN_AUDIENCES=APP_CLIENT_ID,
    )

    result = subprocess.run(
        ["bash", "-c", exchange_walkthrough_script(base_url)],
        env={**other_process_environment(), "ID_TOKEN": provider_server.app_id_token(sub)},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    first, second = (json.loads(line) for line in result.stdout.splitlines() if line.strip())
    assert first["token_type"] == "bearer"
    assert first["issued_token_type"] == "urn:ietf:params:oauth:token-type:access_token"
    assert {"access_token", "refresh_token", "expires_in", "refresh_expires_in"} <= set(first)
    assert second == {"error": "invalid_request", "error_description": "The ID token was already exchanged."}
