"""Fixtures of the Sign in with Google tests: a real OpenID Connect provider on loopback.

The stand-in for Google is Node's `oidc-provider` (panva's, OpenID Certified), started once per
test run from tests/provider/server.mjs on a free port of 127.0.0.1. The service talks to it over
HTTP as it would to Google: discovery, JWKS, the authorization endpoint, the code exchange. The
tests know the provider's private key (they generate it and hand it over), so besides the real
ID tokens the provider issues they can sign tokens that are wrong in exactly one property.
"""

import json
import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from accounts.federation import providers
from tests.conftest import free_port
from tests.oauth.conftest import (  # noqa: F401 (fixtures of tests/oauth, registered here too)
    authorization_parameters,
    authorization_response,
    authorize,
    exchange_code,
    is_consent_page,
    is_sign_in_page,
    issuer_service,
    oauth_client_factory,
    page_form,
    parse_page,
    pkce_s256,
    submit_page_form,
)

ROOT = Path(__file__).resolve().parent.parent.parent
# This service at the provider: the web client of the browser flow.
WEB_CLIENT_ID = "authproject-web"
WEB_CLIENT_SECRET = "web-client-secret-at-the-provider"
# A mobile app's own client at the provider: its ID tokens are what the app exchanges.
APP_CLIENT_ID = "example-android-app"
APP_CLIENT_SECRET = "app-client-secret-at-the-provider"
APP_REDIRECT_URI = "http://127.0.0.1/app-callback"
PROVIDER_KID = "provider-key-1"


def _rsa_jwk(kid: str) -> tuple[rsa.RSAPrivateKey, dict]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(RSAAlgorithm.to_jwk(key))
    jwk.update(kid=kid, alg="RS256", use="sig")
    return key, jwk


def public_jwk(jwk: dict) -> dict:
    return {name: value for name, value in jwk.items() if name not in ("d", "p", "q", "dp", "dq", "qi")}


@dataclass
class ProviderServer:
    """The running provider: its issuer and private key, and its test controls."""

    issuer: str
    private_key: rsa.RSAPrivateKey
    public_jwk: dict

    def control(self, path: str, body: dict | None = None) -> requests.Response:
        response = requests.post(f"{self.issuer}/__test/{path}", json=body or {}, timeout=5)
        response.raise_for_status()
        return response

    def account(self, sub: str, **claims) -> str:
        """Create (or replace) the provider's account `sub` with these claims; return `sub`."""
        self.control("accounts", {"sub": sub, "claims": claims})
        return sub

    def requests_served(self) -> dict:
        return requests.get(f"{self.issuer}/__test/requests", timeout=5).json()

    def sign(self, claims: dict, *, key=None, algorithm: str = "RS256", headers: dict | None = None) -> str:
        """An ID token with exactly these claims, signed with the provider's key unless `key`."""
        header = {"kid": PROVIDER_KID, **(headers or {})}
        header = {name: value for name, value in header.items() if value is not None}
        if algorithm == "none":
            key = None
        elif key is None:
            key = self.private_key
        return jwt.encode(claims, key, algorithm=algorithm, headers=header)

    def claims(self, sub: str = "provider-user-1", *, audience: str = APP_CLIENT_ID, **overrides) -> dict:
        """The claims of a valid ID token of the provider (as Google's), with `overrides`
        (an override of None drops that claim)."""
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": sub,
            "aud": audience,
            "iat": now,
            "exp": now + 600,
            "email": "new.person@example.com",
            "email_verified": True,
            "name": "New Person",
            **overrides,
        }
        return {name: value for name, value in claims.items() if value is not None}

    def sign_in(self, browser: requests.Session, url: str, *, sub: str) -> str:
        """Sign in as `sub` at the provider's pages, starting at its authorization `url`; return the
        Location the provider finally redirects the browser to (the client's redirect URI)."""
        response = browser.get(url, allow_redirects=False, timeout=10)
        while True:
            assert response.status_code in (200, 302, 303), (response.status_code, response.text[:300])
            if response.status_code == 200:  # the provider's sign-in page
                action = re.search(r'<form[^>]*action="([^"]+)"', response.text).group(1)
                fields = dict(
                    re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', response.text)
                )
                response = browser.post(
                    urljoin(response.url, action),
                    data={**fields, "login": sub, "password": "any"},
                    allow_redirects=False,
                    timeout=10,
                )
                continue
            location = urljoin(response.url, response.headers["Location"])
            if not location.startswith(self.issuer):
                return location
            response = browser.get(location, allow_redirects=False, timeout=10)

    def app_id_token(
        self, sub: str, *, client_id: str = APP_CLIENT_ID, secret: str = APP_CLIENT_SECRET
    ) -> str:
        """A real ID token of the provider for `sub`, as a mobile app gets it from the provider's
        SDK: the authorization code flow of the app's own client, run against the provider."""
        pkce = pkce_s256()
        metadata = requests.get(f"{self.issuer}/.well-known/openid-configuration", timeout=5).json()
        query = {
            "client_id": client_id,
            "response_type": "code",
            "scope": "openid email profile",
            "redirect_uri": APP_REDIRECT_URI,
            "state": "app-state",
            "nonce": "app-nonce",
            "code_challenge": pkce.challenge,
            "code_challenge_method": "S256",
        }
        url = metadata["authorization_endpoint"] + "?" + urlencode(query)
        location = self.sign_in(requests.Session(), url, sub=sub)
        code = dict(parse_qsl(urlsplit(location).query))["code"]
        response = requests.post(
            metadata["token_endpoint"],
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": APP_REDIRECT_URI,
                "code_verifier": pkce.verifier,
            },
            auth=(client_id, secret),
            timeout=10,
        )
        response.raise_for_status()
        return response.json()["id_token"]


@pytest.fixture(scope="session")
def provider_server(tmp_path_factory) -> ProviderServer:
    """The stand-in for Google, started once for the run (and stopped after it)."""
    subprocess.run([str(ROOT / "scripts" / "ensure-test-provider.sh")], check=True)
    private_key, jwk = _rsa_jwk(PROVIDER_KID)
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    clients = [
        {
            "client_id": WEB_CLIENT_ID,
            "client_secret": WEB_CLIENT_SECRET,
            # The callback of this service, at every issuer the tests give it.
            "redirect_uris": [
                "http://127.0.0.1:8000/login/google/callback",
                "https://auth.test/login/google/callback",
            ],
            "grant_types": ["authorization_code"],
            "response_types": ["code"],
        },
        {
            "client_id": APP_CLIENT_ID,
            "client_secret": APP_CLIENT_SECRET,
            "redirect_uris": [APP_REDIRECT_URI],
            "grant_types": ["authorization_code"],
            "response_types": ["code"],
        },
    ]
    log = open(tmp_path_factory.mktemp("provider") / "provider.log", "w")  # noqa: SIM115
    server = subprocess.Popen(
        ["node", str(ROOT / "tests" / "provider" / "server.mjs")],
        env={
            **os.environ,
            "PORT": str(port),
            "PROVIDER_JWKS": json.dumps({"keys": [jwk]}),
            "PROVIDER_CLIENTS": json.dumps(clients),
        },
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while True:
        assert server.poll() is None, "the test provider exited at start-up (see provider.log)"
        try:
            requests.get(f"{issuer}/.well-known/openid-configuration", timeout=1).raise_for_status()
            break
        except requests.RequestException:
            assert time.monotonic() < deadline, "the test provider did not start within 30 s"
            time.sleep(0.1)
    yield ProviderServer(issuer=issuer, private_key=private_key, public_jwk=public_jwk(jwk))
    server.terminate()
    server.wait(timeout=10)
    log.close()


@pytest.fixture
def provider(provider_server, settings, db) -> ProviderServer:
    """Google sign-in configured with the stand-in provider, fresh: no accounts, nothing cached."""
    provider_server.control("reset")
    providers.reset()
    settings.GOOGLE_CLIENT_ID = WEB_CLIENT_ID
    settings.GOOGLE_CLIENT_SECRET = WEB_CLIENT_SECRET
    settings.GOOGLE_ISSUER = provider_server.issuer
    settings.GOOGLE_TOKEN_AUDIENCES = [APP_CLIENT_ID, WEB_CLIENT_ID]
    yield provider_server
    providers.reset()


EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"


@pytest.fixture
def exchange(api_client):
    """exchange(id_token, **params) -> the response of the token exchange at POST /token
    (an override of None drops that parameter)."""

    def send(token, **overrides):
        params = {
            "grant_type": EXCHANGE_GRANT,
            "subject_token": token,
            "subject_token_type": ID_TOKEN_TYPE,
            **overrides,
        }
        return api_client.post("/token", {name: value for name, value in params.items() if value is not None})

    return send
