"""Fixtures of the OpenID Connect and introspection tests (tests/oidc/).

The authorization server's fixtures (tests/oauth/conftest.py) are reused as they are: imported
below, so that pytest registers them for this package too. The ones added here: relying parties
registered with post-logout redirect URIs, a browser that signs in through /authorize with a
nonce, ID tokens verified with nothing but the published JWKS, and a resource server that
introspects.
"""

import json
import secrets
from dataclasses import dataclass, field
from http import HTTPStatus

import jwt
import pytest
from django.conf import settings as django_settings

from accounts.oauth.clients import Registration, register
from tests.oauth.conftest import (  # noqa: F401 (fixtures of tests/oauth, registered here too)
    RegisteredClient,
    authorization_parameters,
    authorization_response,
    authorize,
    client_authentication,
    exchange_code,
    form_body,
    is_consent_page,
    is_sign_in_page,
    issuer_service,
    oauth_client_factory,
    pkce_s256,
    sign_in_on_the_page,
    submit_page_form,
)

AUTH_TIME = "accounts.auth_time"  # the browser session's sign-in time (epoch seconds)
OPENID_SCOPE = "openid profile email"
RP_REDIRECT_URI = "https://rp.example.com/callback"
RP_POST_LOGOUT_URI = "https://rp.example.com/signed-out"
OTHER_RP_REDIRECT_URI = "https://other-rp.example.com/callback"
OTHER_RP_POST_LOGOUT_URI = "https://other-rp.example.com/bye"


@pytest.fixture
def relying_party_factory(db):
    """relying_party_factory(...) -> a RegisteredClient with post-logout redirect URIs, registered
    by the same rule as `create_client --post-logout-redirect-uri`."""

    def make(
        *,
        client_id: str,
        name: str = "Relying party",
        confidential: bool = False,
        first_party: bool = False,
        redirect_uris: tuple[str, ...] = (RP_REDIRECT_URI,),
        post_logout_redirect_uris: tuple[str, ...] = (RP_POST_LOGOUT_URI,),
    ) -> RegisteredClient:
        client, secret = register(
            Registration(
                name=name,
                client_id=client_id,
                confidential=confidential,
                first_party=first_party,
                redirect_uris=redirect_uris,
                post_logout_redirect_uris=post_logout_redirect_uris,
            )
        )
        return RegisteredClient(client=client, secret=secret)

    return make


@pytest.fixture
def relying_party(relying_party_factory) -> RegisteredClient:
    """A third-party public app that signs users in with OpenID Connect (consent page shown)."""
    return relying_party_factory(client_id="rp-app", name="Relying party app")


@pytest.fixture
def other_relying_party(relying_party_factory) -> RegisteredClient:
    """Another third-party app, with URIs of its own."""
    return relying_party_factory(
        client_id="other-rp",
        name="Other relying party",
        redirect_uris=(OTHER_RP_REDIRECT_URI,),
        post_logout_redirect_uris=(OTHER_RP_POST_LOGOUT_URI,),
    )


@pytest.fixture
def first_party_relying_party(relying_party_factory) -> RegisteredClient:
    """The service's own app: never shown the consent page."""
    return relying_party_factory(client_id="own-rp", name="Own app", first_party=True)


@pytest.fixture
def resource_server(relying_party_factory) -> RegisteredClient:
    """A resource server, registered as a confidential client to call /introspect."""
    return relying_party_factory(
        client_id="resource-api", name="Resource API", confidential=True, post_logout_redirect_uris=()
    )


@dataclass
class Authorization:
    """The end of a browser's trip through /authorize: the code and what its exchange needs."""

    code: str
    verifier: str
    redirect_uri: str
    registered: RegisteredClient
    nonce: str | None
    pages: list[str] = field(default_factory=list)  # "sign-in", "consent": what the person saw


@pytest.fixture
def openid_authorize(client, authorize, password):  # noqa: F811 (the imported fixture)
    """openid_authorize(registered, user, browser=client, nonce=..., method="get", **parameters)
    -> Authorization.

    The browser follows a real authorization request (GET /authorize with state, nonce and S256
    PKCE, or a client site's form POST with method="post"; a parameter None is not sent): signs in when the sign-in page is shown and allows on the consent page, until the 303
    to the client's redirect_uri. `user=None` expects no page at all (a signed-in browser).
    """

    def run(
        registered: RegisteredClient,
        user,
        *,
        browser=None,
        nonce: str | None = "",
        method: str = "get",
        **overrides,
    ):
        browser = browser or client
        nonce = secrets.token_urlsafe(16) if nonce == "" else nonce
        pkce = pkce_s256()
        params = authorization_parameters(
            registered, pkce=pkce, scope=overrides.pop("scope", OPENID_SCOPE), nonce=nonce, **overrides
        )
        response = authorize(params, method=method, browser=browser)
        pages = []
        while response.status_code == HTTPStatus.OK:
            assert len(pages) < 3, f"too many pages: {pages}"
            if is_sign_in_page(response):
                assert user is not None, "a sign-in page was shown to a browser expected to be signed in"
                pages.append("sign-in")
                response = submit_page_form(browser, response, username=user.username, password=password)
            elif is_consent_page(response):
                pages.append("consent")
                response = submit_page_form(browser, response, press="allow")
            else:
                raise AssertionError(response.content[:500])
        query = authorization_response(response, registered.redirect_uri)
        assert "code" in query, query
        return Authorization(
            code=query["code"],
            verifier=pkce.verifier,
            redirect_uri=registered.redirect_uri,
            registered=registered,
            nonce=nonce,
            pages=pages,
        )

    return run


@pytest.fixture
def code_exchange(api_client):
    """code_exchange(authorization) -> the response of POST /token exchanging its code."""

    def exchange(authorization: Authorization):
        data, headers = client_authentication(authorization.registered)
        return api_client.post(
            "/token",
            {
                "grant_type": "authorization_code",
                "code": authorization.code,
                "redirect_uri": authorization.redirect_uri,
                "code_verifier": authorization.verifier,
                **data,
            },
            **headers,
        )

    return exchange


@pytest.fixture
def openid_tokens(openid_authorize, code_exchange):
    """openid_tokens(registered, user, **as openid_authorize) -> the 200 body of the code exchange,
    with the Authorization under "authorization"."""

    def start(registered: RegisteredClient, user, **kwargs) -> dict:
        authorization = openid_authorize(registered, user, **kwargs)
        response = code_exchange(authorization)
        assert response.status_code == HTTPStatus.OK, response.content
        return {**response.json(), "authorization": authorization}

    return start


@pytest.fixture
def published_jwks(api_client):
    """published_jwks() -> the JWK Set of GET /.well-known/jwks.json."""

    def fetch() -> dict:
        response = api_client.get("/.well-known/jwks.json")
        assert response.status_code == HTTPStatus.OK
        return response.json()

    return fetch


@pytest.fixture
def verify_id_token(published_jwks):
    """verify_id_token(token, audience=...) -> its claims, verified as a relying party does: the
    key the header's `kid` names in the published JWKS, the algorithm that JWK is published for
    (never the token's own choice), `iss` the configured issuer, `aud` the client, `exp` and `iat`."""

    def verify(token: str, *, audience: str, verify_exp: bool = True, leeway: int = 0) -> dict:
        kid = jwt.get_unverified_header(token)["kid"]
        (jwk,) = [key for key in published_jwks()["keys"] if key["kid"] == kid]
        return jwt.decode(
            token,
            jwt.PyJWK(jwk).key,
            algorithms=[jwk["alg"]],
            audience=audience,
            issuer=django_settings.TOKEN_ISSUER,
            options={"require": ["iss", "sub", "aud", "exp", "iat"], "verify_exp": verify_exp},
            leeway=leeway,
        )

    return verify


def age_browser_sign_in(browser, seconds: int) -> int:
    """Move the browser's sign-in `seconds` into the past (as if it had happened then); return it."""
    session = browser.session
    session[AUTH_TIME] -= seconds
    session.save()
    return session[AUTH_TIME]


def bearer(access_token: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {access_token}"}


@pytest.fixture
def introspect(api_client, resource_server):
    """introspect(token, as_client=resource_server, auth="client_secret_basic", **parameters) -> the
    response of POST /introspect; auth="" sends no client authentication."""

    def call(
        token: str | None, *, as_client: RegisteredClient | None = None, auth: str | None = None, **extra
    ):
        as_client = as_client or resource_server
        data, headers = (
            ({}, {}) if auth == "" else client_authentication(as_client, auth or "client_secret_basic")
        )
        body = {**({"token": token} if token is not None else {}), **extra, **data}
        return api_client.post("/introspect", body, **headers)

    return call


def json_body(response) -> dict:
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    return json.loads(response.content)


@pytest.fixture
def logout(client):
    """logout(params, method="get", browser=client) -> the response of /logout: the query string of
    a GET, or the form body of a POST."""

    def send(params: dict, *, method: str = "get", browser=None):
        browser = browser or client
        if method == "get":
            return browser.get("/logout", params)
        body, content_type = form_body(params)
        return browser.post("/logout", body, content_type=content_type)

    return send
