"""A real OAuth 2 client library against gunicorn: Authlib's requests client (`OAuth2Session`).

It does what an application does: reads the discovery document, sends the person's browser to
/authorize with PKCE S256 and a `state`, receives the code at its loopback redirect URI (nothing
listens there: the Location header is the answer), exchanges it, refreshes and revokes. The
"browser" here is a requests session that fills in the service's sign-in and consent forms as a
person would; tests/oauth/test_browser.py does the same with Chromium.
"""

import json
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http import HTTPStatus
from urllib.parse import parse_qs, parse_qsl, urlencode, urljoin, urlsplit

import jwt
import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc6749 import MismatchingStateException
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from jwt.algorithms import RSAAlgorithm

from accounts.apis import scopes as api_scopes
from accounts.machines.models import ClientToken
from tests.conftest import free_port
from tests.documents import DocumentServer
from tests.oauth.conftest import RegisteredClient

# Nothing here can differ by database (a stock client's view of the protocol; its storage is tested elsewhere): runs once, in the SQLite run.
pytestmark = pytest.mark.once

# Registered without a port: a loopback redirect URI matches with any port (RFC 8252 §7.3), and
# an application picks a free one each time.
REGISTERED_REDIRECT_URI = "http://127.0.0.1/callback"
SCOPE = "profile email"


@dataclass
class Form:
    action: str
    fields: list[tuple[str, str]] = field(default_factory=list)  # every input but the buttons
    buttons: list[tuple[str, str]] = field(default_factory=list)  # named submit controls

    @property
    def field_names(self) -> set[str]:
        return {name for name, _ in self.fields}


class PostForms(HTMLParser):
    """The <form method="post"> elements of a page, read as a browser reads them."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self._in_post_form = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form":
            self._in_post_form = attributes.get("method", "get").lower() == "post"
            if self._in_post_form:
                self.forms.append(Form(action=attributes.get("action", "")))
            return
        if not self._in_post_form or "name" not in attributes or tag not in ("input", "button"):
            return
        kind = attributes.get("type", "submit" if tag == "button" else "text").lower()
        pair = (attributes["name"], attributes.get("value", ""))
        (self.forms[-1].buttons if kind == "submit" else self.forms[-1].fields).append(pair)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_post_form = False


def the_post_form(html: str) -> Form:
    parser = PostForms()
    parser.feed(html)
    assert len(parser.forms) == 1, f"expected one post form, found {len(parser.forms)}:\n{html}"
    return parser.forms[0]


@dataclass
class BrowserVisit:
    callback: str  # where the service sent the browser back to the client
    pages: list[str]  # the pages the person saw, in order ("sign-in", "consent")
    html: dict[str, str]  # each page's HTML, by its name


def sign_in_and_consent(
    browser: requests.Session, url: str, *, redirect_uri: str, username: str, password: str
) -> BrowserVisit:
    """Follow `url` (an authorization request) as a person would: sign in on the sign-in page,
    press Allow on a consent page, until the service redirects (303) to `redirect_uri`."""
    pages: list[str] = []
    html: dict[str, str] = {}
    response = browser.get(url, allow_redirects=False)
    for _ in range(6):
        if response.is_redirect:
            assert response.status_code == HTTPStatus.SEE_OTHER, response.status_code
            location = urljoin(response.url, response.headers["Location"])
            if location.startswith(redirect_uri):
                return BrowserVisit(callback=location, pages=pages, html=html)
            response = browser.get(location, allow_redirects=False)
            continue
        assert response.status_code == HTTPStatus.OK, (response.status_code, response.text)
        form = the_post_form(response.text)
        target = urljoin(response.url, form.action) if form.action else response.url
        if {"username", "password"} <= form.field_names:
            pages.append("sign-in")
            data = [(name, value) for name, value in form.fields if name not in ("username", "password")]
            data += [("username", username), ("password", password)]
        elif "allow" in dict(form.buttons):
            pages.append("consent")
            data = [*form.fields, ("allow", dict(form.buttons)["allow"])]
        else:
            raise AssertionError(f"a page that is neither sign-in nor consent:\n{response.text}")
        html[pages[-1]] = response.text
        response = browser.post(target, data=data, allow_redirects=False)
    raise AssertionError(f"no redirect to the client after the pages {pages}")


@pytest.fixture
def loopback_client(oauth_client_factory):
    """loopback_client(confidential=..., first_party=...) -> a RegisteredClient of the loopback URI."""

    def make(*, confidential: bool, first_party: bool) -> RegisteredClient:
        return oauth_client_factory(
            name=f"{'Confidential' if confidential else 'Public'} {'first' if first_party else 'third'}-party app",
            confidential=confidential,
            first_party=first_party,
            redirect_uris=(REGISTERED_REDIRECT_URI,),
        )

    return make


@pytest.fixture
def discovery(issuer_service) -> dict:
    """The discovery document of a fresh server whose issuer is its own URL."""
    base_url = issuer_service()
    document = requests.get(f"{base_url}/.well-known/oauth-authorization-server", timeout=10).json()
    assert document["issuer"] == base_url
    return document


def oauth_session(
    client: RegisteredClient, auth_method: str, redirect_uri: str, *, secret: str | None = None
) -> OAuth2Session:
    """Authlib's client as the application configures it: PKCE S256, the loopback redirect URI."""
    return OAuth2Session(
        client_id=client.client_id,
        client_secret=secret or client.secret,
        token_endpoint_auth_method=auth_method,
        scope=SCOPE,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
    )


def loopback_redirect_uri() -> str:
    """The registered loopback URI with a port, as a native app's own listener would have."""
    return f"http://127.0.0.1:{free_port()}/callback"


CLIENTS = [
    pytest.param(False, True, "none", id="public-first-party"),
    pytest.param(False, False, "none", id="public-third-party"),
    pytest.param(True, False, "client_secret_basic", id="confidential-basic-third-party"),
    pytest.param(True, True, "client_secret_post", id="confidential-post-first-party"),
]


@pytest.mark.parametrize(("confidential", "first_party", "auth_method"), CLIENTS)
def test_authlib_signs_in_refreshes_and_revokes(
    discovery, loopback_client, live_user, password, confidential, first_party, auth_method
):
    client = loopback_client(confidential=confidential, first_party=first_party)
    redirect_uri = loopback_redirect_uri()
    session = oauth_session(client, auth_method, redirect_uri)
    verifier = generate_token(48)

    url, state = session.create_authorization_url(discovery["authorization_endpoint"], code_verifier=verifier)
    visit = sign_in_and_consent(
        requests.Session(), url, redirect_uri=redirect_uri, username=live_user.username, password=password
    )

    assert visit.pages == (["sign-in"] if first_party else ["sign-in", "consent"])
    assert client.client.name in visit.html["sign-in"]
    if not first_party:  # the consent page names the client and each scope
        assert all(name in visit.html["consent"] for name in (client.client.name, *SCOPE.split()))
    answer = parse_qs(urlsplit(visit.callback).query)
    assert answer["state"] == [state]
    assert answer["iss"] == [discovery["issuer"]]  # RFC 9207

    token = session.fetch_token(
        discovery["token_endpoint"],
        authorization_response=visit.callback,
        state=state,
        code_verifier=verifier,
    )
    assert token["token_type"] == "bearer"
    assert token["scope"] == SCOPE
    assert token["expires_in"] > 0
    assert token["refresh_token"]
    me = session.get(f"{discovery['issuer']}/users/me/")  # OAuth2Session sends the bearer token
    if first_party:
        assert me.status_code == HTTPStatus.OK, me.text
        assert me.json()["username"] == live_user.username
    else:  # a third-party app's token does not open the user's own account endpoints
        assert me.status_code == HTTPStatus.FORBIDDEN, me.text
        assert 'error="insufficient_scope"' in me.headers["WWW-Authenticate"]

    refreshed = session.refresh_token(discovery["token_endpoint"])
    assert refreshed["refresh_token"] != token["refresh_token"]
    assert refreshed["access_token"] != token["access_token"]
    assert session.get(f"{discovery['issuer']}/users/me/").status_code == me.status_code

    revoked = session.revoke_token(
        discovery["revocation_endpoint"], token=refreshed["refresh_token"], token_type_hint="refresh_token"
    )
    assert revoked.status_code == HTTPStatus.OK, revoked.text
    assert revoked.content == b""

    with pytest.raises(OAuthError) as refused:
        session.refresh_token(discovery["token_endpoint"], refresh_token=refreshed["refresh_token"])
    assert refused.value.error == "invalid_grant"
    after = session.get(f"{discovery['issuer']}/users/me/")
    assert after.status_code == HTTPStatus.UNAUTHORIZED, after.text  # the whole session stopped


def test_authlib_refuses_an_answer_with_another_state(discovery, loopback_client, live_user, password):
    client = loopback_client(confidential=False, first_party=True)
    redirect_uri = loopback_redirect_uri()
    session = oauth_session(client, "none", redirect_uri)
    verifier = generate_token(48)
    url, state = session.create_authorization_url(discovery["authorization_endpoint"], code_verifier=verifier)
    visit = sign_in_and_consent(
        requests.Session(), url, redirect_uri=redirect_uri, username=live_user.username, password=password
    )
    forged = visit.callback.replace(f"state={state}", f"state={generate_token(30)}")
    assert forged != visit.callback

    with pytest.raises(MismatchingStateException):
        session.fetch_token(
            discovery["token_endpoint"], authorization_response=forged, state=state, code_verifier=verifier
        )
    with pytest.raises(MismatchingStateException):  # an answer to another request of this app
        session.fetch_token(
            discovery["token_endpoint"],
            authorization_response=visit.callback,
            state=generate_token(30),
            code_verifier=verifier,
        )

    # Authlib refused before it sent anything: the code still works with the right state.
    token = session.fetch_token(
        discovery["token_endpoint"],
        authorization_response=visit.callback,
        state=state,
        code_verifier=verifier,
    )
    assert token["refresh_token"]


def test_a_confidential_client_with_a_wrong_secret_is_refused_and_the_code_stays_usable(
    discovery, loopback_client, live_user, password
):
    client = loopback_client(confidential=True, first_party=True)
    redirect_uri = loopback_redirect_uri()
    verifier = generate_token(48)
    session = oauth_session(client, "client_secret_basic", redirect_uri)
    url, state = session.create_authorization_url(discovery["authorization_endpoint"], code_verifier=verifier)
    visit = sign_in_and_consent(
        requests.Session(), url, redirect_uri=redirect_uri, username=live_user.username, password=password
    )

    impostor = oauth_session(client, "client_secret_basic", redirect_uri, secret="not-the-secret")
    with pytest.raises(OAuthError) as refused:
        impostor.fetch_token(
            discovery["token_endpoint"],
            authorization_response=visit.callback,
            state=state,
            code_verifier=verifier,
        )
    assert refused.value.error == "invalid_client"

    token = session.fetch_token(
        discovery["token_endpoint"],
        authorization_response=visit.callback,
        state=state,
        code_verifier=verifier,
    )
    assert session.get(f"{discovery['issuer']}/users/me/").json()["username"] == live_user.username
    assert token["scope"] == SCOPE


def test_a_public_client_without_the_code_verifier_gets_no_tokens(
    discovery, loopback_client, live_user, password
):
    """PKCE is the public client's proof: Authlib without the verifier, or with another, is refused."""
    client = loopback_client(confidential=False, first_party=True)
    redirect_uri = loopback_redirect_uri()
    session = oauth_session(client, "none", redirect_uri)
    verifier = generate_token(48)
    url, state = session.create_authorization_url(discovery["authorization_endpoint"], code_verifier=verifier)
    visit = sign_in_and_consent(
        requests.Session(), url, redirect_uri=redirect_uri, username=live_user.username, password=password
    )

    with pytest.raises(OAuthError) as missing:
        session.fetch_token(discovery["token_endpoint"], authorization_response=visit.callback, state=state)
    assert missing.value.error == "invalid_request"
    with pytest.raises(OAuthError) as wrong:
        session.fetch_token(
            discovery["token_endpoint"],
            authorization_response=visit.callback,
            state=state,
            code_verifier=generate_token(48),
        )
    assert wrong.value.error == "invalid_grant"

    token = session.fetch_token(
        discovery["token_endpoint"],
        authorization_response=visit.callback,
        state=state,
        code_verifier=verifier,
    )
    assert token["refresh_token"]


def test_authlib_as_a_native_app_gets_its_code_at_its_private_use_uri(
    discovery, oauth_client_factory, live_user, password
):
    native_uri = "com.example.app:/callback"  # RFC 8252 §7.1: the app's own reverse-domain scheme
    client = oauth_client_factory(name="Native app", redirect_uris=(native_uri,))
    session = oauth_session(client, "none", native_uri)
    verifier = generate_token(48)

    url, state = session.create_authorization_url(discovery["authorization_endpoint"], code_verifier=verifier)
    visit = sign_in_and_consent(
        requests.Session(), url, redirect_uri=native_uri, username=live_user.username, password=password
    )

    assert visit.pages == ["sign-in", "consent"]
    assert visit.callback.startswith(native_uri + "?")
    token = session.fetch_token(
        discovery["token_endpoint"],
        authorization_response=visit.callback,
        state=state,
        code_verifier=verifier,
    )
    assert token["scope"] == SCOPE
    assert token["refresh_token"]


@pytest.mark.parametrize("auth_method", ["client_secret_basic", "client_secret_post"])
def test_authlib_gets_a_client_credentials_token_that_introspects_and_revokes(
    discovery, oauth_client_factory, auth_method
):
    """A service's own token, as Authlib's OAuth2Session fetches it (RFC 6749 §4.4)."""
    machine = oauth_client_factory(
        name="Billing service", confidential=True, redirect_uris=(), grant_types=("client_credentials",)
    )
    resource_server = oauth_client_factory(name="Resource server", confidential=True)
    metadata = requests.get(
        f"{discovery['issuer']}/.well-known/oauth-authorization-server", timeout=10
    ).json()
    assert "client_credentials" in metadata["grant_types_supported"]  # named once a client may use it
    session = OAuth2Session(
        client_id=machine.client_id, client_secret=machine.secret, token_endpoint_auth_method=auth_method
    )

    token = session.fetch_token(discovery["token_endpoint"], grant_type="client_credentials")

    assert set(token) >= {"access_token", "token_type", "expires_in"}
    assert "refresh_token" not in token
    assert "id_token" not in token
    introspection = requests.post(
        discovery["introspection_endpoint"],
        data={"token": token["access_token"]},
        auth=(resource_server.client_id, resource_server.secret),
        timeout=10,
    ).json()
    assert introspection["active"] is True
    assert introspection["sub"] == introspection["client_id"] == machine.client_id
    session.revoke_token(
        discovery["revocation_endpoint"], token["access_token"], token_type_hint="access_token"
    )
    assert requests.post(
        discovery["introspection_endpoint"],
        data={"token": token["access_token"]},
        auth=(resource_server.client_id, resource_server.secret),
        timeout=10,
    ).json() == {"active": False}


def test_authlib_authenticates_with_private_key_jwt_and_keys_at_a_jwks_uri(discovery, oauth_client_factory):
    """Authlib's PrivateKeyJWT (RFC 7523 §2.2) with its defaults (RS256, an hour's exp, a jti of its
    own), for a client whose keys the server reads from the client's jwks_uri."""
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    keys = DocumentServer()
    try:
        jwks_uri = keys.serve_json(
            "/jwks.json", {"keys": [json.loads(RSAAlgorithm.to_jwk(private_key.public_key()))]}
        )
        machine = oauth_client_factory(
            name="Reporting service", redirect_uris=(), grant_types=("client_credentials",), jwks_uri=jwks_uri
        )
        metadata = requests.get(f"{discovery['issuer']}/.well-known/openid-configuration", timeout=10).json()
        assert "private_key_jwt" in metadata["token_endpoint_auth_methods_supported"]
        assert "RS256" in metadata["token_endpoint_auth_signing_alg_values_supported"]
        pem = private_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
        session = OAuth2Session(
            client_id=machine.client_id,
            client_secret=pem,
            token_endpoint_auth_method="private_key_jwt",
            revocation_endpoint_auth_method="private_key_jwt",
        )
        session.register_client_auth_method(PrivateKeyJWT(discovery["token_endpoint"]))

        token = session.fetch_token(discovery["token_endpoint"], grant_type="client_credentials")
        again = session.fetch_token(discovery["token_endpoint"], grant_type="client_credentials")
        revoked = session.revoke_token(discovery["revocation_endpoint"], token["access_token"])
    finally:
        keys.stop()

    assert token["access_token"] != again["access_token"]
    assert revoked.status_code == HTTPStatus.OK
    assert keys.requests["/jwks.json"] == 1  # read once, then kept
    assert (
        ClientToken.objects.get(
            jti=jwt.decode(token["access_token"], options={"verify_signature": False})["jti"]
        ).revoked_at
        is not None
    )


def test_authlib_asks_for_an_api_with_resource_and_its_scope(
    discovery, oauth_client_factory, live_user, password
):
    """RFC 8707 with a stock client: Authlib passes `resource` through to /authorize and /token
    (as extra parameters); the consent page names the API's scope; the token's aud is the API.
    The same for a service's own token (client credentials)."""
    api_scopes.create_api(
        identifier="https://orders.example.com", name="Orders", scopes=[("orders:read", "Read your orders")]
    )
    app = oauth_client_factory(
        name="Shop app", redirect_uris=(REGISTERED_REDIRECT_URI,), api_scopes=("orders:read",)
    )
    redirect_uri = loopback_redirect_uri()
    session = OAuth2Session(
        client_id=app.client_id,
        token_endpoint_auth_method="none",
        scope="openid orders:read",
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
    )
    verifier = generate_token(48)
    url, state = session.create_authorization_url(
        discovery["authorization_endpoint"], code_verifier=verifier, resource="https://orders.example.com"
    )
    visit = sign_in_and_consent(
        requests.Session(), url, redirect_uri=redirect_uri, username=live_user.username, password=password
    )
    assert "Read your orders (Orders)" in visit.html["consent"]
    token = session.fetch_token(
        discovery["token_endpoint"],
        authorization_response=visit.callback,
        state=state,
        code_verifier=verifier,
        resource="https://orders.example.com",
    )
    claims = jwt.decode(token["access_token"], options={"verify_signature": False})
    assert claims["aud"] == ["https://orders.example.com", discovery["issuer"]]
    assert claims["scope"] == "openid orders:read"

    machine = oauth_client_factory(
        name="Warehouse",
        confidential=True,
        redirect_uris=(),
        grant_types=("client_credentials",),
        api_scopes=("orders:read",),
    )
    service = OAuth2Session(client_id=machine.client_id, client_secret=machine.secret)
    own = service.fetch_token(
        discovery["token_endpoint"], grant_type="client_credentials", resource="https://orders.example.com"
    )
    assert own["scope"] == "orders:read"
    assert (
        jwt.decode(own["access_token"], options={"verify_signature": False})["aud"]
        == "https://orders.example.com"
    )


@pytest.mark.parametrize("auth_method", ["none", "client_secret_basic"])
def test_authlib_pushes_its_request_then_signs_in_with_the_request_uri(
    discovery, loopback_client, live_user, password, auth_method
):
    """RFC 9126 with a stock client: Authlib has no PAR helper, so the application posts the
    request Authlib prepares (create_authorization_url's parameters) to the discovery document's
    pushed_authorization_request_endpoint with the session's own client authentication, sends the
    browser to /authorize with client_id and request_uri alone, and exchanges the code as usual."""
    client = loopback_client(confidential=auth_method != "none", first_party=False)
    redirect_uri = loopback_redirect_uri()
    session = oauth_session(client, auth_method, redirect_uri)
    verifier = generate_token(48)
    prepared, state = session.create_authorization_url(
        discovery["authorization_endpoint"], code_verifier=verifier
    )
    request = dict(parse_qsl(urlsplit(prepared).query))
    auth = (client.client_id, client.secret) if client.secret else None

    pushed = requests.post(
        discovery["pushed_authorization_request_endpoint"], data=request, auth=auth, timeout=10
    )

    assert pushed.status_code == HTTPStatus.CREATED, pushed.text
    url = f"{discovery['authorization_endpoint']}?" + urlencode(
        {"client_id": client.client_id, "request_uri": pushed.json()["request_uri"]}
    )
    visit = sign_in_and_consent(
        requests.Session(), url, redirect_uri=redirect_uri, username=live_user.username, password=password
    )
    assert visit.pages == ["sign-in", "consent"]
    token = session.fetch_token(
        discovery["token_endpoint"],
        authorization_response=visit.callback,
        state=state,
        code_verifier=verifier,
    )
    assert token["scope"] == SCOPE
    assert token["refresh_token"]
