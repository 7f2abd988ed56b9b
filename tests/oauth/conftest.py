"""Fixtures of the authorization server's tests (tests/oauth/).

Each block below belongs to the tests that need it; add new fixtures at the end, clearly named.
"""


# --- Registered clients, PKCE, authorization codes and their exchange at /token ----------------
# (test_clients, test_code_grant, test_code_concurrency, test_client_sessions, test_cors)

import base64
import hashlib
import secrets
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import parse_qs, quote_plus, urlsplit

import pytest
from django.utils import timezone

from accounts.oauth import codes as oauth_codes
from accounts.oauth.clients import Registration, register
from accounts.oauth.models import Client

OAUTH_REDIRECT_URI = "https://app.example.com/callback"
OAUTH_ORIGIN = "https://app.example.com"
OAUTH_SCOPE = "openid profile"


@dataclass(frozen=True)
class RegisteredClient:
    """A client as its operator knows it: the row, and the secret shown once (None: public)."""

    client: Client
    secret: str | None

    @property
    def client_id(self) -> str:
        return self.client.client_id

    @property
    def redirect_uri(self) -> str:
        return self.client.redirect_uris[0]


@dataclass(frozen=True)
class Pkce:
    verifier: str
    challenge: str


def pkce_s256(verifier: str | None = None) -> Pkce:
    """A PKCE verifier (43 characters unless given) and its S256 challenge (RFC 7636 §4.2)."""
    verifier = verifier or secrets.token_urlsafe(32)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return Pkce(verifier=verifier, challenge=base64.urlsafe_b64encode(digest).rstrip(b"=").decode())


def basic_authorization(client_id: str, client_secret: str) -> str:
    """client_secret_basic (RFC 6749 §2.3.1): each part form-urlencoded, joined by ':', base64."""
    pair = f"{quote_plus(client_id)}:{quote_plus(client_secret)}"
    return "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")


# How a client authenticates at /token and /revoke: "none" is a public client naming itself.
CLIENT_AUTH_METHODS = ("client_secret_basic", "client_secret_post", "none")


def client_authentication(registered: RegisteredClient, method: str | None = None) -> tuple[dict, dict]:
    """(body parameters, request headers) that authenticate `registered` with `method`.

    The default method: client_secret_post for a confidential client, its client_id for a public one.
    """
    method = method or ("client_secret_post" if registered.secret else "none")
    if method == "client_secret_basic":
        return {}, {"HTTP_AUTHORIZATION": basic_authorization(registered.client_id, registered.secret)}
    if method == "client_secret_post":
        return {"client_id": registered.client_id, "client_secret": registered.secret}, {}
    if method == "none":
        return {"client_id": registered.client_id}, {}
    raise ValueError(f"unknown client authentication method {method!r}")


@dataclass(frozen=True)
class IssuedCode:
    """An authorization code with what its exchange needs: the verifier and the redirect_uri."""

    code: str
    verifier: str
    redirect_uri: str
    registered: RegisteredClient


@pytest.fixture
def oauth_client_factory(db):
    """oauth_client_factory(...) -> a RegisteredClient, registered by the same rule as create_client."""

    def make(
        *,
        name: str = "Example app",
        confidential: bool = False,
        first_party: bool = False,
        redirect_uris: tuple[str, ...] = (OAUTH_REDIRECT_URI,),
        allowed_origins: tuple[str, ...] = (),
        client_id: str | None = None,
        grant_types: tuple[str, ...] = ("authorization_code", "refresh_token"),
        jwks: dict | None = None,
        jwks_uri: str = "",
        api_scopes: tuple[str, ...] = (),
    ) -> RegisteredClient:
        client, secret = register(
            Registration(
                name=name,
                redirect_uris=tuple(redirect_uris),
                confidential=confidential,
                first_party=first_party,
                allowed_origins=tuple(allowed_origins),
                client_id=client_id,
                grant_types=tuple(grant_types),
                jwks=jwks,
                jwks_uri=jwks_uri,
                api_scopes=tuple(api_scopes),
            )
        )
        return RegisteredClient(client=client, secret=secret)

    return make


@pytest.fixture
def public_oauth_client(oauth_client_factory) -> RegisteredClient:
    """A third-party single-page app: no secret, PKCE is its proof."""
    return oauth_client_factory(name="Public app", client_id="public-app")


@pytest.fixture
def confidential_oauth_client(oauth_client_factory) -> RegisteredClient:
    """A third-party server that authenticates with its secret."""
    return oauth_client_factory(name="Server app", client_id="server-app", confidential=True)


@pytest.fixture
def first_party_oauth_client(oauth_client_factory) -> RegisteredClient:
    """The service's own public app: never shown the consent page, may use /users/me/."""
    return oauth_client_factory(name="Own app", client_id="own-app", first_party=True)


@pytest.fixture
def oauth_code_factory(user):
    """oauth_code_factory(registered, ...) -> an IssuedCode of /authorize's own code_issue."""

    def issue(
        registered: RegisteredClient,
        *,
        for_user=None,
        scope: str = OAUTH_SCOPE,
        redirect_uri: str | None = None,
        verifier: str | None = None,
        now=None,
    ) -> IssuedCode:
        pkce = pkce_s256(verifier)
        redirect_uri = redirect_uri or registered.redirect_uri
        now = now or timezone.now()
        code = oauth_codes.code_issue(
            client=registered.client,
            user=for_user or user,
            redirect_uri=redirect_uri,
            code_challenge=pkce.challenge,
            scope=scope,
            nonce="",
            auth_time=now,
            now=now,
        )
        return IssuedCode(code=code, verifier=pkce.verifier, redirect_uri=redirect_uri, registered=registered)

    return issue


def code_exchange_parameters(issued: IssuedCode, **overrides) -> dict:
    """The body of the exchange of `issued` (without client authentication); None drops a parameter."""
    params = {
        "grant_type": "authorization_code",
        "code": issued.code,
        "redirect_uri": issued.redirect_uri,
        "code_verifier": issued.verifier,
        **overrides,
    }
    return {name: value for name, value in params.items() if value is not None}


@pytest.fixture
def exchange_code(api_client):
    """exchange_code(issued, auth=..., as_client=..., **parameters) -> the response of POST /token.

    `as_client` authenticates as another client than the code's; `auth` is one of
    CLIENT_AUTH_METHODS, or "" for no client authentication at all.
    """

    def exchange(issued: IssuedCode, *, auth: str | None = None, as_client=None, headers=None, **overrides):
        data, auth_headers = (
            ({}, {}) if auth == "" else client_authentication(as_client or issued.registered, auth)
        )
        return api_client.post(
            "/token",
            {**code_exchange_parameters(issued, **overrides), **data},
            **auth_headers,
            **(headers or {}),
        )

    return exchange


@pytest.fixture
def client_session_tokens(oauth_code_factory, exchange_code):
    """client_session_tokens(registered, scope=...) -> the 200 body of a code exchange: a client's session."""

    def start(registered: RegisteredClient, *, scope: str = OAUTH_SCOPE, for_user=None) -> dict:
        response = exchange_code(oauth_code_factory(registered, scope=scope, for_user=for_user))
        assert response.status_code == HTTPStatus.OK, response.content
        return response.json()

    return start


@pytest.fixture
def authorize_in_browser(client, password):
    """authorize_in_browser(registered, user, scope=...) -> the IssuedCode of a real /authorize:
    the browser (Django's test client) signs in on the sign-in page and, for a third-party
    client, allows on the consent page."""

    def authorize(registered: RegisteredClient, user, *, scope: str = OAUTH_SCOPE) -> IssuedCode:
        pkce = pkce_s256()
        state = secrets.token_urlsafe(8)
        params = {
            "response_type": "code",
            "client_id": registered.client_id,
            "redirect_uri": registered.redirect_uri,
            "scope": scope,
            "state": state,
            "code_challenge": pkce.challenge,
            "code_challenge_method": "S256",
        }
        sign_in_page = client.get("/authorize", params)
        assert sign_in_page.status_code == HTTPStatus.OK, sign_in_page.content
        answer = client.post("/authorize", {**params, "username": user.username, "password": password})
        if answer.status_code == HTTPStatus.OK:  # the consent page (a third-party client)
            answer = client.post("/authorize", {**params, "allow": "Allow"})
        assert answer.status_code == HTTPStatus.SEE_OTHER, answer.content
        location = urlsplit(answer["Location"])
        query = parse_qs(location.query)
        assert f"{location.scheme}://{location.netloc}{location.path}" == registered.redirect_uri
        assert query["state"] == [state]
        return IssuedCode(
            code=query["code"][0],
            verifier=pkce.verifier,
            redirect_uri=registered.redirect_uri,
            registered=registered,
        )

    return authorize


@pytest.fixture
def oauth_admin_client(client, user_factory):
    """Django's test client signed in to the admin as a superuser."""
    client.force_login(user_factory(username="oauth-admin", is_staff=True, is_superuser=True))
    return client


# --- A live server that is its own issuer (test_real_clients, test_browser) --------------------

import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from tests.conftest import free_port, other_process_environment, stop_gunicorn  # noqa: E402


@pytest.fixture
def issuer_service(transactional_db, settings):
    """issuer_service(server="gunicorn", **env) -> the base URL of a server whose TOKEN_ISSUER is
    that URL: gunicorn, or `server="runserver"`: Django's development server as `make run` starts
    it (DJANGO_DEBUG=1, static files as it serves them).

    Like tests.conftest.live_service (on the test database; env added to this process's), but
    the port is chosen first, so that the issuer, the discovery document's endpoints and Swagger
    UI's redirect URI all name this very server, as they do under `make run`. This process's
    settings.TOKEN_ISSUER is set to it too (seed_demo_users registers demo-docs from it).
    """
    servers = []

    def start(server: str = "gunicorn", **env) -> str:
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        settings.TOKEN_ISSUER = base_url
        if server == "runserver":
            command = [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"]
            env = {"DJANGO_DEBUG": "1", **env}
        else:
            command = [
                *(sys.executable, "-m", "gunicorn", "authproject.wsgi", "--bind", f"127.0.0.1:{port}"),
                *("--config", "python:tests.gunicorn_preload"),
                *("--workers", "2", "--threads", "4", "--log-level", "warning"),
            ]
        server = subprocess.Popen(
            command,
            cwd=Path(__file__).resolve().parent.parent.parent,
            env=other_process_environment(TOKEN_ISSUER=base_url, **env),
            start_new_session=True,  # tests.conftest.stop_gunicorn kills its group if need be
        )
        servers.append(server)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert server.poll() is None, "the server exited at start-up"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return base_url
            except OSError:
                time.sleep(0.1)
        raise AssertionError("the server did not start within 30 s")

    yield start
    stop_gunicorn(servers)


# --- The authorization endpoint in a browser: requests, pages and forms (test_authorize) --------

from html.parser import HTMLParser  # noqa: E402
from urllib.parse import parse_qsl, urlencode  # noqa: E402

from django.conf import settings as django_settings  # noqa: E402

AUTHORIZE_STATE = "state-of-the-client"


def authorization_parameters(registered: RegisteredClient, *, pkce: Pkce | None = None, **overrides) -> dict:
    """The parameters of a valid authorization request of `registered` (with `state` and S256 PKCE).

    An override of None drops that parameter; a list value sends the parameter once per item.
    """
    pkce = pkce or pkce_s256()
    params = {
        "response_type": "code",
        "client_id": registered.client_id,
        "redirect_uri": registered.redirect_uri,
        "scope": OAUTH_SCOPE,
        "state": AUTHORIZE_STATE,
        "code_challenge": pkce.challenge,
        "code_challenge_method": "S256",
        **overrides,
    }
    return {name: value for name, value in params.items() if value is not None}


def form_body(fields) -> tuple[str, str]:
    """(body, content type) of an application/x-www-form-urlencoded POST of `fields`
    (a dict, list values repeated, or a list of (name, value) pairs)."""
    return urlencode(fields, doseq=True), "application/x-www-form-urlencoded"


@pytest.fixture
def authorize(client):
    """authorize(params, method="get", browser=client, **headers) -> the response of /authorize:
    a GET with `params` in the query string, or a client site's form POST with them in the body."""

    def send(params, *, method: str = "get", browser=None, path: str = "/authorize", **headers):
        browser = browser or client
        if method == "get":
            return browser.get(path, params, **headers)
        body, content_type = form_body(params)
        return browser.post(path, body, content_type=content_type, **headers)

    return send


def authorization_response(response, redirect_uri: str) -> dict[str, str]:
    """The query of a 303 to `redirect_uri` (the authorization response), each parameter once."""
    assert response.status_code == HTTPStatus.SEE_OTHER, (response.status_code, response.content[:500])
    location = urlsplit(response["Location"])
    base = urlsplit(redirect_uri)
    assert (location.scheme, location.netloc, location.path) == (base.scheme, base.netloc, base.path)
    assert location.fragment == ""
    pairs = parse_qsl(location.query, keep_blank_values=True)
    names = [name for name, _ in pairs]
    assert len(names) == len(set(names)), f"a parameter is repeated in {response['Location']}"
    return dict(pairs)


def authorization_error(response, redirect_uri: str) -> dict[str, str]:
    """The query of an error redirect: checks error_description, iss (RFC 9207) and no code."""
    query = authorization_response(response, redirect_uri)
    assert query["error_description"].strip()
    assert query["iss"] == django_settings.TOKEN_ISSUER
    assert "code" not in query
    return query


@dataclass
class FormInput:
    tag: str
    type: str
    name: str | None
    value: str


@dataclass
class PageForm:
    """One <form> of an HTML page, as a browser without JavaScript would submit it."""

    method: str
    action: str | None
    inputs: list

    def named(self, name: str) -> list:
        return [field for field in self.inputs if field.name == name]

    @property
    def hidden(self) -> list[tuple[str, str]]:
        """Its hidden (name, value) pairs, less Django's CSRF token."""
        return [
            (field.name, field.value)
            for field in self.inputs
            if field.type == "hidden" and field.name and field.name != "csrfmiddlewaretoken"
        ]

    @property
    def submit_names(self) -> set[str]:
        return {field.name for field in self.inputs if field.type == "submit" and field.name}

    def submission(self, *, press: str | None = None, **fill: str) -> list[tuple[str, str]]:
        """The (name, value) pairs a browser posts: every named non-button input (with `fill`
        replacing values), and the submit control named `press`."""
        pairs = [
            (field.name, fill.get(field.name, field.value))
            for field in self.inputs
            if field.name and field.type not in ("submit", "button", "reset", "image")
        ]
        if press is not None:
            pressed = [field for field in self.named(press) if field.type == "submit"]
            assert pressed, f"no submit control named {press!r}"
            pairs.append((press, pressed[0].value))
        return pairs


class _PageParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[PageForm] = []
        self.in_form = False
        self.text: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag in ("script", "style"):
            self._skip += 1
        elif tag == "form":
            self.forms.append(
                PageForm(
                    method=(attributes.get("method") or "get").lower(),
                    action=attributes.get("action"),
                    inputs=[],
                )
            )
            self.in_form = True
        elif tag in ("input", "button", "textarea", "select") and self.in_form:
            default_type = "submit" if tag == "button" else "text"
            self.forms[-1].inputs.append(
                FormInput(
                    tag=tag,
                    type=(attributes.get("type") or default_type).lower(),
                    name=attributes.get("name"),
                    value=attributes.get("value") or "",
                )
            )

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip -= 1
        elif tag == "form":
            self.in_form = False

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.text.append(" ".join(data.split()))


def parse_page(response) -> _PageParser:
    assert response["Content-Type"].startswith("text/html"), response["Content-Type"]
    parser = _PageParser()
    parser.feed(response.content.decode(response.charset or "utf-8"))
    parser.close()
    return parser


def page_form(response) -> PageForm:
    """The one <form> of an HTML page."""
    forms = parse_page(response).forms
    assert len(forms) == 1, f"{len(forms)} forms on the page"
    return forms[0]


def page_text(response) -> list[str]:
    """The visible text of an HTML page, one item per text node."""
    return parse_page(response).text


def is_sign_in_page(response) -> bool:
    """Whether `response` is a sign-in page: HTML with a POST form holding username and password."""
    if not response["Content-Type"].startswith("text/html"):
        return False
    forms = parse_page(response).forms
    return any(
        form.method == "post"
        and [field.type for field in form.named("password")] == ["password"]
        and len(form.named("username")) == 1
        for form in forms
    )


def is_consent_page(response) -> bool:
    """Whether `response` is a consent page: HTML with a POST form with submits allow and deny."""
    if not response["Content-Type"].startswith("text/html"):
        return False
    return any(
        form.method == "post" and {"allow", "deny"} <= form.submit_names and not form.named("password")
        for form in parse_page(response).forms
    )


def submit_page_form(browser, response, *, press: str | None = None, **fill: str):
    """Submit the page's form as a browser would: to its action, or to the page's own URL."""
    form = page_form(response)
    assert form.method == "post"
    body, content_type = form_body(form.submission(press=press, **fill))
    return browser.post(form.action or response.wsgi_request.get_full_path(), body, content_type=content_type)


@pytest.fixture
def sign_in_on_the_page(client, authorize, password):
    """sign_in_on_the_page(params, user, browser=client, given_password=...) -> the answer to the
    sign-in form of GET /authorize?params, filled in with the user's username and password."""

    def sign_in(params, user, *, browser=None, given_password: str | None = None):
        browser = browser or client
        page = authorize(params, browser=browser)
        assert page.status_code == HTTPStatus.OK, page.content[:500]
        assert is_sign_in_page(page), page.content[:500]
        return submit_page_form(
            browser,
            page,
            username=user.username,
            password=password if given_password is None else given_password,
        )

    return sign_in
