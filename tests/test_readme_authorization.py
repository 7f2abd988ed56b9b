"""The README's authorization code walk-through (curl and a loopback redirect URI), run as written
against a live server of this project."""

import re
from pathlib import Path
from urllib.parse import quote

import pytest
from django.core.management import call_command

from tests.conftest import LIVE_ISSUER, free_port
from tests.helpers import run_readme_shell

# Nothing here can differ by database (the README's commands as written): runs once, in the SQLite run.
pytestmark = pytest.mark.once

README = Path(__file__).resolve().parent.parent / "README.md"
SECTION = "## Clients and the authorization code flow"
RESOURCE_SERVER_SECTION = "### JWKS or introspection"


def authorization_walkthrough_script(base_url: str) -> str:
    """The section's one ```sh block, with its API pointed at `base_url`."""
    text = README.read_text()
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    blocks = re.findall(r"```sh\n(.*?)```", text[start : end if end != -1 else None], re.S)
    assert len(blocks) == 1, f"expected one sh block in {SECTION!r}, found {len(blocks)}"
    assert "API=http://127.0.0.1:8000" in blocks[0]
    return "set -eu\n" + blocks[0].replace("API=http://127.0.0.1:8000", f"API={base_url}")


def test_the_readme_authorization_walkthrough_behaves_as_the_contract_says(
    live_service, server_password_hashers
):
    call_command("seed_demo_users")  # johndoe / secret, with a password the server can check
    base_url = live_service()

    result = run_readme_shell(authorization_walkthrough_script(base_url))

    assert result.returncode == 0, result.stderr
    lines = [line.strip() for line in result.stdout.splitlines() if line.strip()]
    redirect = "303 http://127.0.0.1:9999/callback?code="
    issuer = f"&iss={quote(LIVE_ISSUER, safe='')}"
    expected_in_order = [
        ('"client_secret": null', '"name": "Example CLI"'),  # 1. a public client
        ("<h1>Sign in</h1>",),  # 3. the sign-in page
        (redirect, "&state=", issuer),  # 4. signed in: the code
        ("state matches",),
        ('"token_type":"bearer"', '"refresh_token":', '"scope":"profile email"'),  # 5. the exchange
        (
            '{"username":"johndoe","email":"johndoe@example.com","full_name":"John Doe","disabled":false,"email_verified":false}',
        ),  # 6.
        ('"refresh_token":', '"scope":"profile email"'),  # 7. refreshed
        ('"error":"invalid_grant"',),  # 8. the code again
        ("HTTP/1.1 401 Unauthorized",),  # its session revoked
        ("<h1>Allow Other app?</h1>",),  # 9. a third-party app: the consent page
        (redirect, issuer),
        ("HTTP/1.1 403 Forbidden",),
    ]
    position = 0
    for expected in expected_in_order:
        while position < len(lines) and not all(part in lines[position] for part in expected):
            position += 1
        assert position < len(lines), f"{expected!r} missing (in order) from:\n{result.stdout}"
        position += 1
    assert 'WWW-Authenticate: Bearer error="insufficient_scope"' in result.stdout


OIDC_SECTION = "### The endpoints with curl"


def openid_connect_walkthrough_script(base_url: str) -> str:
    """The command-line walk-through, then the OpenID Connect section's sh block, in one shell
    (as the README says to run it)."""
    text = README.read_text()
    start = text.index(OIDC_SECTION)
    end = text.find("\n### ", start + len(OIDC_SECTION))
    blocks = re.findall(r"```sh\n(.*?)```", text[start:end], re.S)
    assert len(blocks) == 1, f"expected one sh block in {OIDC_SECTION!r}, found {len(blocks)}"
    return authorization_walkthrough_script(base_url) + "\n" + blocks[0]


def resource_server_block(jwks_port: int, introspecting_port: int) -> str:
    """The sh block of "JWKS or introspection", on free ports and with the live server's issuer
    (under `make run` the issuer is $API itself)."""
    text = README.read_text()
    start = text.index(RESOURCE_SERVER_SECTION)
    end = text.find("\n### ", start + len(RESOURCE_SERVER_SECTION))
    blocks = re.findall(r"```sh\n(.*?)```", text[start:end], re.S)
    assert len(blocks) == 1, f"expected one sh block in {RESOURCE_SERVER_SECTION!r}, found {len(blocks)}"
    block = blocks[0].replace("--issuer $API", f"--issuer {LIVE_ISSUER}")
    return block.replace("9000", str(jwks_port)).replace("9001", str(introspecting_port))


def test_the_readme_openid_connect_walkthrough_defines_what_it_uses_and_behaves_as_written(
    live_service, server_password_hashers
):
    call_command("seed_demo_users")
    base_url = live_service()

    jwks_port, introspecting_port = free_port(), free_port()
    script = (
        openid_connect_walkthrough_script(base_url)
        + "\n"
        + resource_server_block(jwks_port, introspecting_port)
    )
    result = run_readme_shell(script, timeout=180)

    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert '"userinfo_endpoint":' in out  # discovery
    assert '"keys":' in out  # the JWKS
    userinfo = [line for line in out.splitlines() if line.startswith('{"sub":')]
    assert len(userinfo) == 2  # GET and POST /userinfo
    assert all('"email":"johndoe@example.com"' in line for line in userinfo)
    assert 'WWW-Authenticate: Bearer error="insufficient_scope"' in out
    assert '"active":true' in out
    assert '"scope":"openid profile email"' in out
    assert "HTTP/1.1 303 See Other" in out
    assert "Location: https://app.example.com/signed-out?state=af0ifjsldkj" in out
    assert out.count('{"active":false}') == 2  # garbage, then the access token of the ended session
    # The example resource servers: both accept a live token; after /revoke the introspecting one
    # refuses it at once, the JWKS one until its exp.
    # (json.dumps spacing: the example's answers, not the service's.)
    hello = [line for line in out.splitlines() if line.startswith(('{"hello": ', '{"detail": '))]
    assert hello == ['{"hello": "johndoe"}', '{"hello": "johndoe"}', hello[2], '{"hello": "johndoe"}']
    assert hello[2].startswith('{"detail": "Invalid token')
