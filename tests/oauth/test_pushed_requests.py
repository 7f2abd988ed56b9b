"""Pushed authorization requests (RFC 9126): POST /par checks an authorization request as
/authorize would and answers a request_uri; /authorize takes it once, within its lifetime, with
the same client_id, and uses only the pushed parameters; a client (or the whole service) may
require it.

Checklist (RFC 9126; FAPI 2.0 Security Profile §5.3.1.2 items on PAR):
- §2.1 client authentication as at /token, public clients by client_id; request_uri refused in
  the body; every /authorize check made at /par, errors as JSON (§2.3);
- §2.2 201 {"request_uri": "urn:ietf:params:oauth:request_uri:...", "expires_in": 60}, no-store;
- §4 /authorize with client_id and request_uri: same client, once, unexpired, only pushed
  parameters used;
- §5 discovery's pushed_authorization_request_endpoint and require_pushed_authorization_requests;
  §6 a client's require_pushed_authorization_requests.
"""

from http import HTTPStatus
from io import StringIO
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.core.management import call_command
from django.test import Client as BrowserClient

from accounts.errors import UntrustedRedirect
from accounts.models import AuthorizationCode, Client, PushedRequest
from accounts.oauth import pushed
from tests.oauth.conftest import OAUTH_REDIRECT_URI, basic_authorization, pkce_s256
from tests.test_accounts_concurrency import CONCURRENT, at_once

PREFIX = "urn:ietf:params:oauth:request_uri:"


def request_body(client_id: str = "public-app", **extra) -> tuple[dict, str]:
    pkce = pkce_s256()
    body = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": OAUTH_REDIRECT_URI,
        "scope": "openid profile",
        "state": "st",
        "code_challenge": pkce.challenge,
        "code_challenge_method": "S256",
        **extra,
    }
    return {name: value for name, value in body.items() if value is not None}, pkce.verifier


def push(api_client, body: dict, **headers):
    return api_client.post("/par", body, **headers)


def pushed_uri(api_client, body: dict, **headers) -> str:
    response = push(api_client, body, **headers)
    assert response.status_code == HTTPStatus.CREATED, response.content
    return response.json()["request_uri"]


def authorize_path(request_uri: str, client_id: str = "public-app", **extra) -> str:
    return "/authorize?" + urlencode({"client_id": client_id, "request_uri": request_uri, **extra})


def sign_in_and_allow(browser, path: str, user, password):
    page = browser.get(path)
    assert page.status_code == HTTPStatus.OK, page.content
    query = dict(parse_qs(urlsplit(path).query))
    form = {name: values[0] for name, values in query.items()}
    answer = browser.post("/authorize", {**form, "username": user.username, "password": password})
    if answer.status_code == HTTPStatus.OK:  # the consent page
        answer = browser.post("/authorize", {**form, "allow": "allow"})
    assert answer.status_code == HTTPStatus.SEE_OTHER, answer.content
    return parse_qs(urlsplit(answer["Location"]).query)


def test_a_pushed_request_gets_a_request_uri_that_authorize_takes(
    api_client, public_oauth_client, client, user, password
):
    body, verifier = request_body()

    response = push(api_client, body)

    assert response.status_code == HTTPStatus.CREATED
    assert response["Cache-Control"] == "no-store"
    answer = response.json()
    assert set(answer) == {"request_uri", "expires_in"}
    assert answer["request_uri"].startswith(PREFIX)
    assert answer["expires_in"] == 60
    record = PushedRequest.objects.get()
    assert record.uri_hash == pushed.uri_hash(answer["request_uri"])
    assert answer["request_uri"] not in str(record.parameters)

    redirected = sign_in_and_allow(client, authorize_path(answer["request_uri"]), user, password)
    assert redirected["state"] == ["st"]
    token = api_client.post(
        "/token",
        {
            "grant_type": "authorization_code",
            "code": redirected["code"][0],
            "redirect_uri": OAUTH_REDIRECT_URI,
            "code_verifier": verifier,
            "client_id": "public-app",
        },
    )
    assert token.status_code == HTTPStatus.OK, token.content
    assert token.json()["scope"] == "openid profile"


def test_a_request_uri_is_taken_once(api_client, public_oauth_client, client, user, password):
    request_uri = pushed_uri(api_client, request_body()[0])
    sign_in_and_allow(client, authorize_path(request_uri), user, password)

    again = client.get(authorize_path(request_uri))
    elsewhere = BrowserClient().get(authorize_path(request_uri))

    for page in (again, elsewhere):
        assert page.status_code == HTTPStatus.BAD_REQUEST
        assert "request_uri is unknown, has expired, was used already" in page.content.decode()


def test_a_request_uri_expires_after_its_lifetime(api_client, public_oauth_client, client, clock):
    request_uri = pushed_uri(api_client, request_body()[0])
    clock.advance(60)

    page = client.get(authorize_path(request_uri))

    assert page.status_code == HTTPStatus.BAD_REQUEST
    assert PushedRequest.objects.get().used_at is None


def test_another_client_id_cannot_take_it_and_spends_nothing(
    api_client, public_oauth_client, oauth_client_factory, client
):
    oauth_client_factory(name="Other", client_id="other-app")
    request_uri = pushed_uri(api_client, request_body()[0])

    for client_id in ("other-app", "a\x00b", ""):
        assert (
            client.get(authorize_path(request_uri, client_id=client_id)).status_code == HTTPStatus.BAD_REQUEST
        )

    assert PushedRequest.objects.get().used_at is None
    assert client.get(authorize_path(request_uri)).status_code == HTTPStatus.OK


def test_only_the_pushed_parameters_count(api_client, public_oauth_client, client, user, password):
    body, _ = request_body(scope="openid")
    request_uri = pushed_uri(api_client, body)

    redirected = sign_in_and_allow(
        client,
        authorize_path(
            request_uri, scope="openid email", state="forged", redirect_uri="https://evil.example/"
        ),
        user,
        password,
    )

    assert redirected["state"] == ["st"]
    assert AuthorizationCode.objects.get().scope == "openid"


@pytest.mark.parametrize(
    ("change", "error", "description"),
    [
        ({"code_challenge": None}, "invalid_request", "PKCE is required: send a code_challenge (S256)."),
        ({"response_type": "token"}, "unsupported_response_type", 'The only response_type is "code".'),
        ({"scope": "openid payroll"}, "invalid_scope", "Unknown scope: payroll."),
        ({"redirect_uri": "https://evil.example/cb"}, "invalid_request", None),
        (
            {"request_uri": PREFIX + "x"},
            "invalid_request",
            "A pushed request cannot hold a request_uri (RFC 9126 §2.1).",
        ),
        ({"prompt": "sometimes"}, "invalid_request", "prompt is none, or any of login and consent."),
    ],
)
def test_what_authorize_would_refuse_is_refused_at_par_as_json(
    api_client, public_oauth_client, change, error, description
):
    body, _ = request_body(**change)

    response = push(api_client, body)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["error"] == error
    if description:
        assert response.json()["error_description"] == description
    assert not PushedRequest.objects.exists()


def test_a_confidential_client_authenticates_and_its_secret_is_not_kept(
    api_client, confidential_oauth_client
):
    body, _ = request_body("server-app", client_secret=confidential_oauth_client.secret)

    assert pushed_uri(api_client, body)
    assert "client_secret" not in PushedRequest.objects.get().parameters

    wrong = push(api_client, {**body, "client_secret": "wrong"})
    assert wrong.status_code == HTTPStatus.UNAUTHORIZED
    assert wrong.json()["error"] == "invalid_client"
    in_body = {name: value for name, value in body.items() if name != "client_secret"}
    basic = basic_authorization("server-app", confidential_oauth_client.secret)
    assert pushed_uri(api_client, {**in_body, "client_id": "server-app"}, HTTP_AUTHORIZATION=basic)
    del in_body["client_id"]
    assert pushed_uri(api_client, in_body, HTTP_AUTHORIZATION=basic)  # Basic alone names the client
    assert PushedRequest.objects.filter(parameters__client_id=["server-app"]).count() == 3


def test_a_client_id_that_is_not_the_authenticated_clients_is_invalid_request(
    api_client, confidential_oauth_client, public_oauth_client
):
    body, _ = request_body("public-app")
    other = {"HTTP_AUTHORIZATION": basic_authorization("server-app", confidential_oauth_client.secret)}

    response = push(api_client, body, **other)

    assert response.json() == {
        "error": "invalid_request",
        "error_description": "The client_id is not the authenticated client's.",
    }
    assert not PushedRequest.objects.exists()


def test_without_a_client_it_is_invalid_client(api_client, public_oauth_client):
    body, _ = request_body()
    del body["client_id"]

    response = push(api_client, body)

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json()["error"] == "invalid_client"


def test_a_client_that_must_push_is_refused_a_direct_request(api_client, public_oauth_client, client):
    Client.objects.filter(pk="public-app").update(require_pushed_authorization_requests=True)
    body, _ = request_body()

    direct = client.get("/authorize", body)

    assert direct.status_code == HTTPStatus.SEE_OTHER
    query = parse_qs(urlsplit(direct["Location"]).query)
    assert query["error"] == ["invalid_request"]
    assert query["error_description"] == [
        "This client must push its authorization requests to /par first (RFC 9126)."
    ]
    assert client.get(authorize_path(pushed_uri(api_client, body))).status_code == HTTPStatus.OK


def test_the_service_may_require_every_client_to_push(api_client, public_oauth_client, client, settings):
    settings.REQUIRE_PUSHED_AUTHORIZATION_REQUESTS = True
    body, _ = request_body()

    assert parse_qs(urlsplit(client.get("/authorize", body)["Location"]).query)["error"] == [
        "invalid_request"
    ]
    document = api_client.get("/.well-known/oauth-authorization-server").json()
    assert document["require_pushed_authorization_requests"] is True


def test_discovery_names_the_endpoint(api_client, db):
    document = api_client.get("/.well-known/openid-configuration").json()

    assert document["pushed_authorization_request_endpoint"] == "http://127.0.0.1:8000/par"
    assert document["require_pushed_authorization_requests"] is False


def test_a_sign_in_made_elsewhere_meanwhile_continues_the_request(
    api_client, public_oauth_client, client, user, password
):
    """prompt=login asks for a sign-in; one made after the request began (another way in, a
    second step: here the account's own sign-in page) is it, and the request goes on to consent."""
    request_uri = pushed_uri(api_client, request_body(prompt="login")[0])
    assert "Sign in" in client.get(authorize_path(request_uri)).content.decode()

    client.post("/account/sign-in", {"username": user.username, "password": password})
    page = client.get(authorize_path(request_uri))

    assert page.status_code == HTTPStatus.OK
    assert "Allow Public app?" in page.content.decode()


def test_signing_in_as_someone_else_keeps_the_pushed_request(
    api_client, public_oauth_client, client, user, password, user_factory
):
    request_uri = pushed_uri(api_client, request_body()[0])
    path = authorize_path(request_uri)
    client.get(path)
    client.post(
        "/authorize",
        {
            "client_id": "public-app",
            "request_uri": request_uri,
            "username": user.username,
            "password": password,
        },
    )

    switched = client.post(
        "/authorize", {"client_id": "public-app", "request_uri": request_uri, "switch": "switch"}
    )

    assert switched.status_code == HTTPStatus.OK
    assert 'name="password"' in switched.content.decode()
    other = user_factory(username="alice")
    assert sign_in_and_allow(client, path, other, password)["code"]
    assert AuthorizationCode.objects.get().user == other


def test_cleanup_deletes_expired_pushed_requests(api_client, public_oauth_client, clock):
    pushed_uri(api_client, request_body()[0])
    clock.advance(60)
    out = StringIO()

    call_command("cleanup_tokens", stdout=out)

    assert "1 expired pushed request(s)" in out.getvalue()
    assert not PushedRequest.objects.exists()


@pytest.mark.postgres
def test_concurrent_first_uses_of_one_request_uri_take_it_once(transactional_db, public_oauth_client):
    body, _ = request_body()
    answer = pushed.push(
        client=public_oauth_client.client, values={name: [value] for name, value in body.items()}
    )

    def take():
        try:
            return pushed.bind(request_uri=answer.request_uri, client_id="public-app")
        except UntrustedRedirect as e:
            return e

    results = at_once(take)

    assert sum(1 for result in results if isinstance(result, dict)) == 1, results
    assert sum(1 for result in results if isinstance(result, UntrustedRedirect)) == CONCURRENT - 1


def test_a_request_answered_in_another_window_meanwhile_gets_no_second_code(
    api_client, public_oauth_client, client, user, password
):
    request_uri = pushed_uri(api_client, request_body()[0])
    form = {"client_id": "public-app", "request_uri": request_uri}
    client.get(authorize_path(request_uri))
    consent = client.post("/authorize", {**form, "username": user.username, "password": password})
    assert consent.status_code == HTTPStatus.OK
    assert pushed.answer(request_uri=request_uri)  # the other window's Allow came first

    late = client.post("/authorize", {**form, "allow": "allow"})

    assert parse_qs(urlsplit(late["Location"]).query)["error_description"] == [
        "This request was answered already."
    ]
    assert not AuthorizationCode.objects.exists()


@pytest.mark.parametrize(
    ("change", "description"),
    [
        ({"state": "a\x00b"}, "The parameter 'state' cannot hold a NUL character."),
        ({"nonce": "n\x00"}, "The parameter 'nonce' cannot hold a NUL character."),
        ({"login_hint": "\x00"}, "The parameter 'login_hint' cannot hold a NUL character."),
        ({"nonce": "n" * 513}, "The nonce is at most 512 characters."),
    ],
)
def test_what_no_code_could_keep_is_invalid_request_at_par_and_authorize(
    api_client, public_oauth_client, client, change, description
):
    body, _ = request_body(**change)

    pushed_answer = push(api_client, body)
    direct = client.get("/authorize", body)

    assert pushed_answer.json() == {"error": "invalid_request", "error_description": description}
    assert parse_qs(urlsplit(direct["Location"]).query)["error_description"] == [description]
    assert not PushedRequest.objects.exists()


def test_pushing_is_throttled_per_address(api_client, public_oauth_client, settings):
    """A public client_id is no key to fill the database: requests that store a row before
    anyone signs in count per client address (STORED_REQUEST_LIMIT)."""
    settings.STORED_REQUEST_LIMIT = 2
    body, _ = request_body()
    for _ in range(2):
        assert push(api_client, body).status_code == HTTPStatus.CREATED

    refused = push(api_client, body)

    assert refused.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert int(refused["Retry-After"]) > 0
    assert refused.json()["error"] == "too_many_requests"
    assert PushedRequest.objects.count() == 2
