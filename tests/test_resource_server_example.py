"""examples/resource_server.py trusts our access tokens with nothing but the JWKS URL,
through a key rotation done by `manage.py rotate_signing_key` while everything runs; and, in
its introspection mode, asks POST /introspect about each token, so a revocation shows at once."""

import base64
import hashlib
import json
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from accounts.apis import scopes as api_scopes
from accounts.models import SigningKey
from accounts.oauth.clients import Registration, register
from tests.conftest import LIVE_ISSUER, free_port, other_process_environment
from tests.helpers import jwt_parts

# Nothing here can differ by database (the example resource server verifies tokens without the database): runs once, in the SQLite run.
pytestmark = pytest.mark.once

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


# --- introspection mode (RFC 7662) beside JWKS mode ------------------------------------------------

INTROSPECTION_ACCESS_LIFETIME = 6  # seconds: long enough for the steps before the expiry, short to wait


@pytest.fixture
def start_example():
    """start_example(*arguments) -> the URL of examples/resource_server.py run with `arguments`."""
    servers = []

    def start(*arguments: str, port: int | None = None) -> str:
        port = port or free_port()
        server = subprocess.Popen(
            [
                sys.executable,
                str(PROJECT / "examples" / "resource_server.py"),
                *arguments,
                "--port",
                str(port),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        servers.append(server)
        assert "resource server on" in server.stdout.readline()
        return f"http://127.0.0.1:{port}"

    yield start
    for server in servers:
        server.terminate()
    for server in servers:
        server.wait(timeout=10)


def post_form(url: str, fields: dict) -> int:
    data = urllib.parse.urlencode(fields).encode()
    with urllib.request.urlopen(url, data=data, timeout=10) as response:
        return response.status


def test_introspection_mode_refuses_a_revoked_token_at_once_while_jwks_mode_accepts_it_until_expiry(
    live_service, start_example, live_user, password
):
    service = live_service(ACCESS_TOKEN_LIFETIME_SECONDS=INTROSPECTION_ACCESS_LIFETIME)
    _, secret = register(
        Registration(
            name="Hello API",
            client_id="hello-api",
            confidential=True,
            redirect_uris=("https://api.example.com/unused",),
        )
    )
    introspecting = start_example(
        *("--introspect", f"{service}/introspect", "--issuer", LIVE_ISSUER),
        # "=": a secret may begin with "-", which argparse would take for an option.
        *("--client-id", "hello-api", f"--client-secret={secret}"),
    )
    verifying = start_example("--jwks-url", f"{service}/.well-known/jwks.json", "--issuer", LIVE_ISSUER)
    data = urllib.parse.urlencode({"username": live_user.username, "password": password}).encode()
    with urllib.request.urlopen(f"{service}/login", data=data, timeout=10) as response:
        tokens = json.load(response)
    access = tokens["access_token"]
    expires_at = jwt_parts(access)[1]["exp"]

    assert get(f"{introspecting}/hello", access) == (200, {"hello": "johndoe"})
    assert get(f"{verifying}/hello", access) == (200, {"hello": "johndoe"})
    for mode in (introspecting, verifying):  # neither takes a refresh token for an access token
        assert get(f"{mode}/hello", tokens["refresh_token"])[0] == 401

    assert post_form(f"{service}/revoke", {"token": tokens["refresh_token"]}) == 200

    # Introspection sees the revocation at the next request ...
    assert get(f"{introspecting}/hello", access)[0] == 401
    # ... a resource server that verifies with the JWKS alone cannot: it accepts the token until its exp.
    assert time.time() < expires_at, "the machine was too slow for this test's access token lifetime"
    assert get(f"{verifying}/hello", access) == (200, {"hello": "johndoe"})
    sleep_until(expires_at + 1)
    assert get(f"{verifying}/hello", access)[0] == 401


def test_introspection_mode_answers_503_never_200_when_the_service_cannot_be_asked(start_example):
    unreachable = f"http://127.0.0.1:{free_port()}/introspect"  # nothing listens there
    example = start_example("--introspect", unreachable, "--client-id", "hello-api", "--client-secret", "s")

    assert get(f"{example}/hello", "any-token")[0] == 503


def test_as_a_registered_api_it_takes_only_tokens_for_it_with_its_scope(live_service, start_example):
    """--audience and --scope, in both modes: a service's token for the API with the scope opens
    /hello; one for the API without it is 403 insufficient_scope; one for this service is 401."""
    service = live_service()
    api_scopes.create_api(
        identifier="https://orders.example.com",
        name="Orders",
        scopes=[("orders:read", "Read orders"), ("orders:write", "Write orders")],
    )
    secrets = {}
    for client_id, allowed in (("reader", ("orders:read",)), ("writer", ("orders:write",))):
        _, secrets[client_id] = register(
            Registration(
                name=client_id,
                client_id=client_id,
                confidential=True,
                redirect_uris=(),
                grant_types=("client_credentials",),
                api_scopes=allowed,
            )
        )
    _, api_secret = register(
        Registration(
            name="Orders API",
            client_id="orders-api",
            confidential=True,
            redirect_uris=("https://o.example/cb",),
        )
    )
    api = ("--audience", "https://orders.example.com", "--scope", "orders:read")
    modes = [
        start_example("--jwks-url", f"{service}/.well-known/jwks.json", "--issuer", LIVE_ISSUER, *api),
        start_example(
            *(
                "--introspect",
                f"{service}/introspect",
                "--client-id",
                "orders-api",
                f"--client-secret={api_secret}",
            ),
            *api,
        ),
    ]

    def token(client_id: str, **extra) -> str:
        fields = {
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": secrets[client_id],
            **extra,
        }
        data = urllib.parse.urlencode(fields).encode()
        with urllib.request.urlopen(f"{service}/token", data=data, timeout=10) as response:
            return json.load(response)["access_token"]

    reader = token("reader", resource="https://orders.example.com")
    writer = token("writer", resource="https://orders.example.com")
    own = token("reader")  # this service's audience, no scope
    for example in modes:
        assert get(f"{example}/hello", reader) == (200, {"hello": "reader"})
        request = urllib.request.Request(f"{example}/hello", headers={"Authorization": f"Bearer {writer}"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 403
        assert (
            refused.value.headers["WWW-Authenticate"]
            == 'Bearer error="insufficient_scope", scope="orders:read"'
        )
        assert get(f"{example}/hello", own)[0] == 401


def test_it_takes_a_dpop_bound_token_only_with_a_proof_of_its_key(live_service, start_example):
    """RFC 9449 §7 at a separate resource server (JWKS mode): a service's DPoP-bound token opens
    /hello with a fresh proof of its key, once; as Bearer, with another key or a replayed proof,
    it is 401."""
    service = live_service()
    _, secret = register(
        Registration(
            name="Billing",
            client_id="billing",
            confidential=True,
            redirect_uris=(),
            grant_types=("client_credentials",),
        )
    )
    port = free_port()
    example = start_example(
        "--jwks-url",
        f"{service}/.well-known/jwks.json",
        "--issuer",
        LIVE_ISSUER,
        "--url",
        f"http://127.0.0.1:{port}",
        port=port,
    )
    key = ec.generate_private_key(ec.SECP256R1())

    def proof(signer, htm: str, htu: str, **claims) -> str:
        body = {"jti": uuid.uuid4().hex, "htm": htm, "htu": htu, "iat": int(time.time()), **claims}
        jwk = json.loads(ECAlgorithm.to_jwk(signer.public_key()))
        return jwt.encode(body, signer, algorithm="ES256", headers={"typ": "dpop+jwt", "jwk": jwk})

    data = urllib.parse.urlencode(
        {"grant_type": "client_credentials", "client_id": "billing", "client_secret": secret}
    ).encode()
    request = urllib.request.Request(
        f"{service}/token", data=data, headers={"DPoP": proof(key, "POST", f"{LIVE_ISSUER}/token")}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        token = json.load(response)
    assert token["token_type"] == "DPoP"
    access = token["access_token"]
    ath = base64.urlsafe_b64encode(hashlib.sha256(access.encode()).digest()).rstrip(b"=").decode()

    def hello(scheme: str, dpop: str | None) -> tuple[int, str]:
        headers = {"Authorization": f"{scheme} {access}", **({"DPoP": dpop} if dpop else {})}
        try:
            with urllib.request.urlopen(
                urllib.request.Request(f"{example}/hello", headers=headers), timeout=10
            ) as r:
                return r.status, ""
        except urllib.error.HTTPError as e:
            return e.code, json.load(e)["detail"]

    good = proof(key, "GET", f"{example}/hello", ath=ath)
    assert hello("DPoP", good) == (200, "")
    assert hello("DPoP", good) == (401, "Invalid token: the proof was used before (jti)")
    assert hello("Bearer", None) == (
        401,
        "Invalid token: this token is DPoP-bound: send it as DPoP with a proof",
    )
    other = proof(ec.generate_private_key(ec.SECP256R1()), "GET", f"{example}/hello", ath=ath)
    assert hello("DPoP", other) == (401, "Invalid token: the proof's key is not the token's (cnf.jkt)")
    wrong_ath = proof(key, "GET", f"{example}/hello", ath="wrong")
    assert hello("DPoP", wrong_ath) == (401, "Invalid token: the proof is not for this token (ath)")
    assert hello("DPoP", proof(key, "GET", f"{example}/hello", ath=ath)) == (200, "")
