"""examples/resource_server.py trusts our access tokens with nothing but the JWKS URL,
through a key rotation done by `manage.py rotate_signing_key` while everything runs."""

import json
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from accounts.models import SigningKey
from tests.conftest import LIVE_ISSUER, free_port, other_process_environment
from tests.helpers import jwt_parts

PROJECT = Path(__file__).resolve().parent.parent
# Seconds, kept short so that the test sees each step happen: the new key is published before
# it signs, the resource server's JWKS cache expires, the old key's tokens expire. The test sleeps
# only until those moments come; the values leave room for the steps in between, with margin for
# a loaded machine:
# - PREPUBLISH: the rotation command exits, then the JWKS and a login must show the new key
#   published but not signing yet (about 0.4 s of the 2 on two cores);
# - ACCESS_LIFETIME: the old key's last token, signed just before the new key's time, must outlive
#   the checks after that time (about 2 s to spare; `exp` is whole seconds, up to one less).
PREPUBLISH = 2
ACCESS_LIFETIME = 4
JWKS_CACHE = 1


@pytest.fixture
def resource_server(live_service):
    """(token service URL, resource server URL), both running as separate programs."""
    service = live_service(
        ACCESS_TOKEN_LIFETIME_SECONDS=ACCESS_LIFETIME,
        SIGNING_KEYS_RELOAD_SECONDS=0,
        SIGNING_KEY_PREPUBLISH_SECONDS=PREPUBLISH,
    )
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            str(PROJECT / "examples" / "resource_server.py"),
            "--jwks-url",
            f"{service}/.well-known/jwks.json",
            "--issuer",
            LIVE_ISSUER,
            "--port",
            str(port),
            "--jwks-cache-seconds",
            str(JWKS_CACHE),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert "resource server on" in server.stdout.readline()
    yield service, f"http://127.0.0.1:{port}"
    server.terminate()
    server.wait(timeout=10)


def get(url: str, token: str | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def sleep_until(moment: float) -> None:
    """Sleep until the wall clock (time.time(), which the servers also read) reaches `moment`."""
    time.sleep(max(0.0, moment - time.time()))


def test_example_resource_server_verifies_tokens_across_a_key_rotation(resource_server, live_user, password):
    service, resource = resource_server

    def login() -> dict:
        data = urllib.parse.urlencode({"username": live_user.username, "password": password}).encode()
        with urllib.request.urlopen(f"{service}/login", data=data, timeout=10) as response:
            return json.load(response)

    old = login()
    old_kid = jwt_parts(old["access_token"])[0]["kid"]
    assert get(f"{resource}/hello", old["access_token"]) == (200, {"hello": "johndoe"})

    rotated = subprocess.run(
        [sys.executable, "manage.py", "rotate_signing_key"],
        cwd=PROJECT,
        env=other_process_environment(SIGNING_KEY_PREPUBLISH_SECONDS=PREPUBLISH),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert rotated.returncode == 0, rotated.stderr
    published = {key["kid"] for key in get(f"{service}/.well-known/jwks.json")[1]["keys"]}
    assert len(published) == 2  # the next key is published ...
    old = login()  # ... but it does not sign yet
    assert jwt_parts(old["access_token"])[0]["kid"] == old_kid
    (new_kid,) = published - {old_kid}
    activates_at = SigningKey.objects.get(kid=new_kid).activates_at.timestamp()

    sleep_until(activates_at)  # the new key's time comes; the resource server's cache has expired
    new = login()
    assert jwt_parts(new["access_token"])[0]["kid"] == new_kid
    assert get(f"{resource}/hello", new["access_token"]) == (200, {"hello": "johndoe"})
    assert get(f"{resource}/hello", old["access_token"]) == (200, {"hello": "johndoe"})
    assert {key["kid"] for key in get(f"{service}/.well-known/jwks.json")[1]["keys"]} == {old_kid, new_kid}
    # A refresh token is never an access token, here either.
    assert get(f"{resource}/hello", new["refresh_token"])[0] == 401

    # Once every token the old key signed has expired, the old token is refused and the old key
    # has left the JWKS (it was superseded when the new key's activation time came).
    sleep_until(activates_at + ACCESS_LIFETIME)
    assert get(f"{resource}/hello", old["access_token"])[0] == 401
    assert [key["kid"] for key in get(f"{service}/.well-known/jwks.json")[1]["keys"]] == [new_kid]
