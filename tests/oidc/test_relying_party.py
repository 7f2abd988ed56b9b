"""A strict, independent OpenID Connect relying party against gunicorn, end to end.

Authlib's requests client (`OAuth2Session`) is the application: it reads the discovery document,
sends the browser to /authorize with a nonce and PKCE S256, exchanges the code, and validates the
ID token with Authlib's own claims checks (`authlib.oidc.core.CodeIDToken` over joserfc, as
Authlib's OpenID client does: the provider's JWKS, the algorithms the provider advertises, `iss`,
`aud`, `exp`, `iat`, `nonce`, `azp`); then it calls /userinfo, refreshes, and signs out at the
end_session_endpoint with id_token_hint and a registered post_logout_redirect_uri.

The browser is a requests session that reads each page's form and posts it back as a browser
without JavaScript would: every input (hidden ones and the CSRF token included), with the CSRF
cookie it was given. Nothing here uses the service's code; the server runs with its own URL as
TOKEN_ISSUER (tests/oauth/conftest.py `issuer_service`), so the `iss` Authlib checks is the URL
it talks to.
"""

from dataclasses import dataclass, field
from html.parser import HTMLParser
from http import HTTPStatus
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
from authlib.common.security import generate_token
from authlib.common.urls import add_params_to_uri
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.core import CodeIDToken
from joserfc import jwt as jose_jwt
from joserfc.errors import InvalidClaimError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from tests.conftest import free_port
from tests.oauth.conftest import RegisteredClient

# Nothing here can differ by database (a stock relying party's view of the protocol): runs once, in the SQLite run.
pytestmark = pytest.mark.once

# Loopback URIs registered without a port: they match with any port (RFC 8252 §7.3).
REDIRECT_URI = "http://127.0.0.1/callback"
POST_LOGOUT_URI = "http://127.0.0.1/signed-out"
SCOPE = "openid profile email"


@dataclass
class Form:
    action: str
    fields: list[tuple[str, str]] = field(default_factory=list)
    buttons: dict[str, str] = field(default_factory=dict)


class Forms(HTMLParser):
    """The <form method="post"> of a page, with its inputs and named submit buttons."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self._open = False

    def handle_starttag(self, tag, attrs):
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form":
            self._open = attributes.get("method", "get").lower() == "post"
            if self._open:
                self.forms.append(Form(action=attributes.get("action", "")))
        elif self._open and tag in ("input", "button") and "name" in attributes:
            kind = attributes.get("type", "submit" if tag == "button" else "text").lower()
            if kind == "submit":
                self.forms[-1].buttons[attributes["name"]] = attributes.get("value", "")
            else:
                self.forms[-1].fields.append((attributes["name"], attributes.get("value", "")))

    def handle_endtag(self, tag):
        if tag == "form":
            self._open = False


def the_form(html: str) -> Form:
    parser = Forms()
    parser.feed(html)
    assert len(parser.forms) == 1, html
    return parser.forms[0]


def browse_to_the_client(
    browser: requests.Session, url: str, *, redirect_uri: str, username: str, password: str
):
    """Follow an authorization request as a person: sign in, allow, until the 303 to the client.
    Returns (the callback URL, the pages seen)."""
    pages = []
    response = browser.get(url, allow_redirects=False)
    while len(pages) < 4:
        if response.is_redirect:
            assert response.status_code == HTTPStatus.SEE_OTHER
            location = urljoin(response.url, response.headers["Location"])
            if location.startswith(redirect_uri):
                return location, pages
            response = browser.get(location, allow_redirects=False)
            continue
        assert response.status_code == HTTPStatus.OK, response.text
        form = the_form(response.text)
        names = {name for name, _ in form.fields}
        assert "csrfmiddlewaretoken" in names  # the service's own forms are CSRF-protected
        if {"username", "password"} <= names:
            pages.append("sign-in")
            data = [(name, value) for name, value in form.fields if name not in ("username", "password")]
            data += [("username", username), ("password", password)]
        else:
            assert "allow" in form.buttons, response.text
            pages.append("consent")
            data = [*form.fields, ("allow", form.buttons["allow"])]
        response = browser.post(
            urljoin(response.url, form.action or response.url), data=data, allow_redirects=False
        )
    raise AssertionError(f"no redirect to the client after {pages}")


@dataclass
class RelyingParty:
    """What the application knows: its registration and the provider's discovery document."""

    registered: RegisteredClient
    auth_method: str
    discovery: dict
    redirect_uri: str
    post_logout_redirect_uri: str

    def oauth_session(self) -> OAuth2Session:
        return OAuth2Session(
            client_id=self.registered.client_id,
            client_secret=self.registered.secret,
            token_endpoint_auth_method=self.auth_method,
            scope=SCOPE,
            redirect_uri=self.redirect_uri,
            code_challenge_method="S256",
        )

    def validated_id_token(self, id_token: str, *, nonce: str | None, access_token: str) -> CodeIDToken:
        """Authlib's checks of an ID token of the code flow, against the provider's JWKS."""
        keys = KeySet.import_key_set(requests.get(self.discovery["jwks_uri"], timeout=10).json())
        decoded = jose_jwt.decode(
            id_token,
            keys,
            registry=JWSRegistry(algorithms=self.discovery["id_token_signing_alg_values_supported"]),
        )
        claims = CodeIDToken(
            decoded.claims,
            decoded.header,
            {
                "iss": {"essential": True, "value": self.discovery["issuer"]},
                "aud": {"essential": True, "value": self.registered.client_id},
                "sub": {"essential": True},
                "exp": {"essential": True},
                "iat": {"essential": True},
            },
            {"nonce": nonce, "client_id": self.registered.client_id, "access_token": access_token},
        )
        claims.validate(leeway=0)
        return claims


@pytest.fixture
def relying_party_of(issuer_service, relying_party_factory):
    """relying_party_of(confidential=..., auth_method=...) -> a RelyingParty of a fresh server."""
    base_url = issuer_service()
    discovery = requests.get(f"{base_url}/.well-known/openid-configuration", timeout=10).json()

    def make(*, confidential: bool, auth_method: str) -> RelyingParty:
        registered = relying_party_factory(
            client_id=f"live-rp-{auth_method}",
            name="Live relying party",
            confidential=confidential,
            redirect_uris=(REDIRECT_URI,),
            post_logout_redirect_uris=(POST_LOGOUT_URI,),
        )
        port = free_port()
        return RelyingParty(
            registered=registered,
            auth_method=auth_method,
            discovery=discovery,
            redirect_uri=f"http://127.0.0.1:{port}/callback",
            post_logout_redirect_uri=f"http://127.0.0.1:{port}/signed-out",
        )

    return make


@pytest.mark.parametrize(
    ("confidential", "auth_method"),
    [pytest.param(False, "none", id="public"), pytest.param(True, "client_secret_basic", id="confidential")],
)
def test_a_strict_relying_party_signs_in_reads_userinfo_refreshes_and_signs_out(
    relying_party_of, live_user, password, confidential, auth_method
):
    rp = relying_party_of(confidential=confidential, auth_method=auth_method)
    discovery = rp.discovery
    assert discovery["issuer"].startswith("http://127.0.0.1:")
    assert "openid" in discovery["scopes_supported"]
    session = rp.oauth_session()
    browser = requests.Session()
    nonce, verifier = generate_token(24), generate_token(48)

    # 1. The authorization request, with a nonce and PKCE S256; the person signs in and allows.
    url, state = session.create_authorization_url(
        discovery["authorization_endpoint"], code_verifier=verifier, nonce=nonce
    )
    callback, pages = browse_to_the_client(
        browser, url, redirect_uri=rp.redirect_uri, username=live_user.username, password=password
    )
    assert pages == ["sign-in", "consent"]
    answer = parse_qs(urlsplit(callback).query)
    assert answer["state"] == [state]
    assert answer["iss"] == [discovery["issuer"]]  # RFC 9207

    # 2. The code exchange, and the ID token as Authlib validates it.
    token = session.fetch_token(
        discovery["token_endpoint"], authorization_response=callback, state=state, code_verifier=verifier
    )
    assert token["scope"] == SCOPE
    claims = rp.validated_id_token(token["id_token"], nonce=nonce, access_token=token["access_token"])
    assert claims["sub"] == str(live_user.public_id)
    assert claims["nonce"] == nonce
    assert claims["auth_time"] <= claims["iat"]
    with pytest.raises(InvalidClaimError):  # and the same checks do refuse another nonce
        rp.validated_id_token(token["id_token"], nonce=generate_token(24), access_token=token["access_token"])

    # 3. /userinfo, by GET and by POST, with the bearer token Authlib sends.
    for method in ("GET", "POST"):
        userinfo = session.request(method, discovery["userinfo_endpoint"])
        assert userinfo.status_code == HTTPStatus.OK, userinfo.text
        assert userinfo.json() == {
            "sub": claims["sub"],
            "name": live_user.full_name,
            "preferred_username": live_user.username,
            "email": live_user.email,
            "email_verified": False,
        }

    # 4. A refresh: a new ID token of the same user, sign-in and session.
    refreshed = session.refresh_token(discovery["token_endpoint"])
    assert refreshed["refresh_token"] != token["refresh_token"]
    again = rp.validated_id_token(refreshed["id_token"], nonce=None, access_token=refreshed["access_token"])
    assert (again["sub"], again["auth_time"], again["sid"]) == (
        claims["sub"],
        claims["auth_time"],
        claims["sid"],
    )

    # 5. RP-Initiated Logout with id_token_hint and the registered post_logout_redirect_uri.
    logout_state = generate_token(16)
    logout_url = add_params_to_uri(
        discovery["end_session_endpoint"],
        {
            "id_token_hint": refreshed["id_token"],
            "post_logout_redirect_uri": rp.post_logout_redirect_uri,
            "state": logout_state,
        },
    )
    signed_out = browser.get(logout_url, allow_redirects=False)
    assert signed_out.status_code == HTTPStatus.SEE_OTHER
    back = urlsplit(signed_out.headers["Location"])
    assert f"{back.scheme}://{back.netloc}{back.path}" == rp.post_logout_redirect_uri
    assert parse_qs(back.query) == {"state": [logout_state]}

    # The session the hint named is revoked, and the browser is signed out.
    with pytest.raises(OAuthError) as refused:
        session.refresh_token(discovery["token_endpoint"])
    assert refused.value.error == "invalid_grant"
    assert session.get(discovery["userinfo_endpoint"]).status_code == HTTPStatus.UNAUTHORIZED
    url, _ = session.create_authorization_url(
        discovery["authorization_endpoint"], code_verifier=generate_token(48), nonce=generate_token(24)
    )
    page = browser.get(url, allow_redirects=False)
    assert page.status_code == HTTPStatus.OK
    assert {"username", "password"} <= {name for name, _ in the_form(page.text).fields}


def test_the_relying_party_refuses_an_id_token_signed_by_a_key_not_in_the_jwks(
    relying_party_of, live_user, password
):
    """The control of the checks above: a token the provider's JWKS cannot verify is refused."""
    rp = relying_party_of(confidential=False, auth_method="none")
    session = rp.oauth_session()
    nonce, verifier = generate_token(24), generate_token(48)
    url, state = session.create_authorization_url(
        rp.discovery["authorization_endpoint"], code_verifier=verifier, nonce=nonce
    )
    callback, _ = browse_to_the_client(
        requests.Session(), url, redirect_uri=rp.redirect_uri, username=live_user.username, password=password
    )
    token = session.fetch_token(
        rp.discovery["token_endpoint"], authorization_response=callback, state=state, code_verifier=verifier
    )
    header, payload, signature = token["id_token"].split(".")
    resigned = f"{header}.{payload}.{signature[::-1]}"

    with pytest.raises(JoseError):
        rp.validated_id_token(resigned, nonce=nonce, access_token=token["access_token"])
