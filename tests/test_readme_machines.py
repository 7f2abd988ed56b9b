"""The README's walk-throughs of machines, devices, APIs and pushed requests (client credentials,
private_key_jwt, the device flow, an API's token, PAR), run as written against a live server."""

import re
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from django.core.management import call_command

from accounts.devices.models import DeviceAuthorization
from accounts.machines.models import ClientToken
from accounts.models import Client, PushedRequest
from tests.conftest import free_port, other_process_environment
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


DEVICE_SECTION = "### A TV signs in with curl, a person with a phone"


def csrf_token(page: requests.Response) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)


def test_the_readme_device_walkthrough_behaves_as_written(live_service, server_password_hashers):
    """The TV is the README's script; the person is this test, with a browser's requests: the
    sign-in page, the code typed in lower case, Continue, Allow."""
    call_command("seed_demo_users")  # johndoe / secret, as the README says
    port = free_port()
    base_url = live_service(port, TOKEN_ISSUER=f"http://127.0.0.1:{port}", DEVICE_CODE_INTERVAL_SECONDS="1")
    tv = subprocess.Popen(
        ["bash", "-c", readme_section_script(DEVICE_SECTION, base_url)],
        cwd=Path(__file__).resolve().parent.parent,
        env=other_process_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        shown = re.fullmatch(r"On your phone, open (\S+) and enter (\S+)", tv.stdout.readline().strip())
        assert shown, tv.stderr.read()
        page_url, user_code = shown.groups()
        assert page_url == f"{base_url}/device"

        phone = requests.Session()
        sign_in = phone.get(page_url, timeout=10)  # not signed in: the sign-in page, then back
        assert urlsplit(sign_in.url).path == "/account/sign-in"
        entry = phone.post(
            sign_in.url,
            data={
                "csrfmiddlewaretoken": csrf_token(sign_in),
                "username": "johndoe",
                "password": "secret",
                "next": "/device",
            },
            timeout=10,
        )
        assert "Connect a device" in entry.text
        confirm = phone.post(
            page_url,
            data={"csrfmiddlewaretoken": csrf_token(entry), "user_code": user_code.lower().replace("-", "")},
            timeout=10,
        )
        assert "Allow Living-room TV on your device?" in confirm.text
        done = phone.post(
            page_url,
            data={"csrfmiddlewaretoken": csrf_token(confirm), "user_code": user_code, "allow": "allow"},
            timeout=10,
        )
        assert "Device connected" in done.text

        out, err = tv.communicate(timeout=60)
    finally:
        tv.kill()
    assert tv.returncode == 0, err
    assert [line.strip() for line in out.splitlines() if line.strip()] == ["openid profile", "johndoe"]
    assert DeviceAuthorization.objects.get().status == "exchanged"


API_SECTION = "### An API and a service's token for it, with curl"


def test_the_readme_api_walkthrough_behaves_as_written(live_service):
    base_url = live_service()

    result = run_readme_shell(readme_section_script(API_SECTION, base_url))

    assert result.returncode == 0, result.stderr
    lines = [line.strip() for line in result.stdout.splitlines() if line.strip()]
    assert lines == [
        "[{name: orders:read, description: Read your orders}, "
        "{name: orders:write, description: Place and cancel orders}]",
        "orders:read",
        "https://orders.example.com",
        "invalid_scope",
        "[openid, profile, email, orders:read, orders:write]",
    ]
    assert ClientToken.objects.get(client_id="reports").scope == "orders:read"


PAR_SECTION = "### A pushed request with curl"


def test_the_readme_pushed_request_walkthrough_behaves_as_written(live_service):
    base_url = live_service()

    result = run_readme_shell(readme_section_script(PAR_SECTION, base_url))

    assert result.returncode == 0, result.stderr
    lines = [line.strip() for line in result.stdout.splitlines() if line.strip()]
    assert lines == ["60", "200", "invalid_request"]
    assert PushedRequest.objects.get().used_at is not None


DPOP_SECTION = "### A DPoP-bound token with curl"


def test_the_readme_dpop_walkthrough_behaves_as_written(live_service):
    port = free_port()
    base_url = live_service(port, TOKEN_ISSUER=f"http://127.0.0.1:{port}")

    result = run_readme_shell(readme_section_script(DPOP_SECTION, base_url))

    assert result.returncode == 0, result.stderr
    lines = [line.strip() for line in result.stdout.splitlines() if line.strip()]
    assert lines == [
        "invalid_dpop_proof",
        "DPoP",
        "The DPoP proof was used before: make a new one (jti) for each request.",
    ]
    assert ClientToken.objects.filter(client_id="possessor").count() == 1
