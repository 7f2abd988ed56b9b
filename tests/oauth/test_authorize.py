"""GET and POST /authorize (RFC 6749 §4.1.1-§4.1.2, RFC 7636, RFC 9207, OpenID Connect Core §3.1.2):
its errors in the contract's order, redirect URI matching, the sign-in and consent pages, the
browser sign-in they start, and the code they end with."""

import string
from http import HTTPStatus

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.test import Client as BrowserClient
from django.utils import timezone

from accounts.oauth.models import AuthorizationCode, Client, Consent
from tests.oauth.conftest import (
    AUTHORIZE_STATE,
    authorization_error,
    authorization_parameters,
    authorization_response,
    form_body,
    is_consent_page,
    is_sign_in_page,
    page_form,
    page_text,
    pkce_s256,
    submit_page_form,
)

# Nothing here can differ by database (request validation and pages; the code's storage is tested in test_code_grant): runs once, in the SQLite run.
pytestmark = pytest.mark.once

AUTH_TIME = "accounts.auth_time"  # the browser session's sign-in time (epoch seconds), per the brief
APP_URI = "https://app.example.com/cb"
LOOPBACK_URI = "http://127.0.0.1/cb"
BASE64URL = set(string.ascii_letters + string.digits + "-_")


@pytest.fixture
def third_party(public_oauth_client):
    return public_oauth_client


@pytest.fixture
def first_party(first_party_oauth_client):
    return first_party_oauth_client


@pytest.fixture
def matching_client(oauth_client_factory):
    """A first-party client registered with an https URI and a loopback URI (RFC 8252 §7.3)."""
    return oauth_client_factory(
        name="Matching app", client_id="matching-app", first_party=True, redirect_uris=(APP_URI, LOOPBACK_URI)
    )


@pytest.fixture
def signed_in(sign_in_on_the_page, first_party):
    """signed_in(user, browser=client): the browser signs in on the sign-in page (of the
    first-party client, so no consent page), with no code left behind."""

    def sign_in(user, *, browser=None):
        answer = sign_in_on_the_page(authorization_parameters(first_party), user, browser=browser)
        authorization_response(answer, first_party.redirect_uri)
        AuthorizationCode.objects.all().delete()

    return sign_in


def assert_error_page(response) -> None:
    """A 400 HTML page shown to the user: no redirect, no form to continue, no code."""
    assert response.status_code == HTTPStatus.BAD_REQUEST, response.content[:500]
    assert response["Content-Type"].startswith("text/html")
    assert not response.has_header("Location")
    assert not is_sign_in_page(response)
    assert not is_consent_page(response)
    assert page_text(response)
    assert not AuthorizationCode.objects.exists()


def assert_signed_in_as(browser, user) -> None:
    assert browser.session.get("_auth_user_id") == str(user.pk)


def assert_not_signed_in(browser) -> None:
    assert "_auth_user_id" not in browser.session


# --- the error page: no client or redirect_uri that can be trusted --------------------------


ERROR_PAGE_CASES = {
    "client_id missing": lambda registered: {"client_id": None},
    "client_id blank": lambda registered: {"client_id": "   "},
    "client_id unknown": lambda registered: {"client_id": "no-such-client"},
    "client_id repeated": lambda registered: {"client_id": [registered.client_id, registered.client_id]},
    "client_id of two clients": lambda registered: {"client_id": [registered.client_id, "other-app"]},
    "redirect_uri missing": lambda registered: {"redirect_uri": None},
    "redirect_uri blank": lambda registered: {"redirect_uri": " "},
    "redirect_uri repeated": lambda registered: {
        "redirect_uri": [registered.redirect_uri, registered.redirect_uri]
    },
    "redirect_uri not registered": lambda registered: {"redirect_uri": "https://evil.example/callback"},
    "redirect_uri of another client": lambda registered: {"redirect_uri": "https://other.example/cb"},
}


@pytest.fixture
def other_client(oauth_client_factory):
    return oauth_client_factory(
        name="Other app", client_id="other-app", redirect_uris=("https://other.example/cb",)
    )


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("case", ERROR_PAGE_CASES)
def test_a_request_without_a_trusted_client_and_redirect_uri_gets_an_error_page_never_a_redirect(
    authorize, third_party, other_client, case, method
):
    params = authorization_parameters(third_party, **ERROR_PAGE_CASES[case](third_party))

    response = authorize(params, method=method)

    assert_error_page(response)


def test_a_disabled_client_gets_the_error_page(authorize, third_party):
    Client.objects.filter(pk=third_party.client_id).update(is_active=False)

    response = authorize(authorization_parameters(third_party))

    assert_error_page(response)


def test_the_error_page_is_shown_to_a_signed_in_browser_too(authorize, signed_in, user, third_party):
    signed_in(user)

    response = authorize(authorization_parameters(third_party, redirect_uri="https://evil.example/cb"))

    assert_error_page(response)


def test_a_post_reads_its_body_only_not_the_query_string(client, third_party):
    body, content_type = form_body({"state": "x"})
    query = "&".join(f"{name}={value}" for name, value in authorization_parameters(third_party).items())

    response = client.post(f"/authorize?{query}", body, content_type=content_type)

    assert_error_page(response)


# --- redirect URI matching: exact strings, loopback with any port ---------------------------


HOSTILE_REDIRECT_URIS = [
    "https://app.example.com:8443/cb",
    "https://app.example.com:443/cb",
    "https://app.example.com/cb/../x",
    "https://app.example.com/cb/",
    "https://app.example.com/cbx",
    "https://app.example.com/c",
    "https://app.example.com/cb?x=1",
    "https://app.example.com/cb?",
    "https://app.example.com/cb#fragment",
    "https://app.example.com/cb#",
    "https://evil@app.example.com/cb",
    "https://app.example.com@evil.example/cb",
    "https://app.example.com.evil.example/cb",
    "HTTPS://APP.example.com/cb",
    "https://APP.example.com/cb",
    "https://app.example.com/CB",
    "https://app.example.com/c%62",
    "http://app.example.com/cb",
    "//app.example.com/cb",
    "/cb",
    "http://localhost/cb",
    "http://localhost:53124/cb",
    "http://[::1]/cb",
    "http://[::1]:53124/cb",
    "http://127.0.0.2/cb",
    "http://127.0.0.2:53124/cb",
    "http://127.1/cb",
    "http://2130706433/cb",
    "https://127.0.0.1/cb",
    "HTTP://127.0.0.1/cb",
    "http://127.0.0.1:53124/cbx",
    "http://127.0.0.1:53124/c",
    "http://127.0.0.1:53124/CB",
    "http://127.0.0.1:53124/c%62",
    "http://127.0.0.1:53124/cb?x=1",
    "http://127.0.0.1:53124/cb#fragment",
    "http://user@127.0.0.1:53124/cb",
    "http://127.0.0.1:53124@evil.example/cb",
    "http://127.0.0.1.evil.example/cb",
    "http://127.0.0.1:0/cb",
    "http://127.0.0.1:65536/cb",
    "http://127.0.0.1:port/cb",
    "http://127.0.0.1:/cb",
    "http://127.0.0.1:53124/cb/../x",
]

# Strings Python's urlsplit reads as the registered URI (it drops tabs and newlines anywhere, per
# WHATWG), but that are not the same string: "exact string comparison" refuses them.
NEAR_LOOPBACK_REDIRECT_URIS = [
    "http://127.0.0.1:53124/c\tb",
    "http://127.0.0.1:53124/cb\n",
    "http://127.0.0.1/cb?",
    "http://127.0.0.1:53124/cb?",
]


@pytest.mark.parametrize("redirect_uri", HOSTILE_REDIRECT_URIS)
def test_a_redirect_uri_that_is_not_exactly_a_registered_one_gets_the_error_page(
    authorize, matching_client, redirect_uri
):
    response = authorize(authorization_parameters(matching_client, redirect_uri=redirect_uri))

    assert_error_page(response)


@pytest.mark.parametrize("redirect_uri", NEAR_LOOPBACK_REDIRECT_URIS, ids=repr)
def test_a_loopback_redirect_uri_that_only_parses_like_the_registered_one_gets_the_error_page(
    authorize, matching_client, redirect_uri
):
    response = authorize(authorization_parameters(matching_client, redirect_uri=redirect_uri))

    assert_error_page(response)


@pytest.mark.parametrize(
    "redirect_uri",
    [
        APP_URI,
        LOOPBACK_URI,
        "http://127.0.0.1:53124/cb",
        "http://127.0.0.1:1/cb",
        "http://127.0.0.1:65535/cb",
        "http://127.0.0.1:80/cb",
    ],
)
def test_a_registered_redirect_uri_and_the_loopback_one_with_any_port_get_the_code(
    sign_in_on_the_page, matching_client, user, redirect_uri
):
    params = authorization_parameters(matching_client, redirect_uri=redirect_uri)

    answer = sign_in_on_the_page(params, user)

    query = authorization_response(answer, redirect_uri)
    assert answer["Location"].startswith(redirect_uri + "?")
    assert query["code"]
    assert AuthorizationCode.objects.get().redirect_uri == redirect_uri


def test_a_loopback_uri_registered_with_a_port_matches_any_port_and_no_port(
    sign_in_on_the_page, oauth_client_factory, user
):
    registered = oauth_client_factory(first_party=True, redirect_uris=("http://[::1]:8080/cb",))

    for redirect_uri in ("http://[::1]:8080/cb", "http://[::1]:4000/cb", "http://[::1]/cb"):
        answer = sign_in_on_the_page(
            authorization_parameters(registered, redirect_uri=redirect_uri), user, browser=BrowserClient()
        )
        assert authorization_response(answer, redirect_uri)["code"]


def test_a_redirect_uri_with_a_query_keeps_its_query_in_the_authorization_response(
    sign_in_on_the_page, authorize, oauth_client_factory, user
):
    redirect_uri = "https://app.example.com/cb?tenant=north&x="
    registered = oauth_client_factory(first_party=True, redirect_uris=(redirect_uri,))

    error = authorize(authorization_parameters(registered, response_type="token"))
    success = sign_in_on_the_page(authorization_parameters(registered), user)

    assert authorization_error(error, redirect_uri)["tenant"] == "north"
    query = authorization_response(success, redirect_uri)
    assert (query["tenant"], query["x"], query["state"]) == ("north", "", AUTHORIZE_STATE)
    assert query["code"]


# --- errors redirected to the client ---------------------------------------------------------


def _challenge(length: int = 43, char: str = "A") -> str:
    return char * length


REDIRECTED_ERRORS = {
    "response_type token": ({"response_type": "token"}, "unsupported_response_type"),
    "response_type id_token": ({"response_type": "id_token"}, "unsupported_response_type"),
    "response_type code id_token": ({"response_type": "code id_token"}, "unsupported_response_type"),
    "response_type CODE": ({"response_type": "CODE"}, "unsupported_response_type"),
    "response_type missing": ({"response_type": None}, "unsupported_response_type"),
    "response_type blank": ({"response_type": "  "}, "unsupported_response_type"),
    "response_type repeated": ({"response_type": ["code", "code"]}, "invalid_request"),
    "scope repeated": ({"scope": ["openid", "openid"]}, "invalid_request"),
    "state repeated": ({"state": [AUTHORIZE_STATE, AUTHORIZE_STATE]}, "invalid_request"),
    "code_challenge repeated": ({"code_challenge": [_challenge(), _challenge()]}, "invalid_request"),
    "code_challenge_method repeated": ({"code_challenge_method": ["S256", "S256"]}, "invalid_request"),
    "nonce repeated": ({"nonce": ["n1", "n2"]}, "invalid_request"),
    "prompt repeated": ({"prompt": ["login", "login"]}, "invalid_request"),
    "max_age repeated": ({"max_age": ["60", "60"]}, "invalid_request"),
    "login_hint repeated": ({"login_hint": ["a", "b"]}, "invalid_request"),
    "code_challenge missing": ({"code_challenge": None}, "invalid_request"),
    "code_challenge missing, no method": (
        {"code_challenge": None, "code_challenge_method": None},
        "invalid_request",
    ),
    "code_challenge_method missing (plain)": ({"code_challenge_method": None}, "invalid_request"),
    "code_challenge_method plain": ({"code_challenge_method": "plain"}, "invalid_request"),
    "code_challenge_method S512": ({"code_challenge_method": "S512"}, "invalid_request"),
    "code_challenge_method s256": ({"code_challenge_method": "s256"}, "invalid_request"),
    "code_challenge of 42 characters": ({"code_challenge": _challenge(42)}, "invalid_request"),
    "code_challenge of 44 characters": ({"code_challenge": _challenge(44)}, "invalid_request"),
    "code_challenge of 128 characters": ({"code_challenge": _challenge(128)}, "invalid_request"),
    "code_challenge with +": ({"code_challenge": _challenge(42) + "+"}, "invalid_request"),
    "code_challenge with /": ({"code_challenge": _challenge(42) + "/"}, "invalid_request"),
    "code_challenge with padding": ({"code_challenge": _challenge(42) + "="}, "invalid_request"),
    "code_challenge with ~": ({"code_challenge": _challenge(42) + "~"}, "invalid_request"),
    "code_challenge with .": ({"code_challenge": _challenge(42) + "."}, "invalid_request"),
    "scope unknown": ({"scope": "openid phone"}, "invalid_scope"),
    "scope admin": ({"scope": "admin"}, "invalid_scope"),
    "scope in capitals": ({"scope": "OPENID"}, "invalid_scope"),
    "scope comma-separated": ({"scope": "openid,email"}, "invalid_scope"),
    "prompt unknown": ({"prompt": "select_account"}, "invalid_request"),
    "prompt none with login": ({"prompt": "none login"}, "invalid_request"),
    "prompt none with consent": ({"prompt": "none consent"}, "invalid_request"),
    "prompt login with an unknown value": ({"prompt": "login bogus"}, "invalid_request"),
    "max_age negative": ({"max_age": "-1"}, "invalid_request"),
    "max_age a word": ({"max_age": "soon"}, "invalid_request"),
    "max_age a fraction": ({"max_age": "1.5"}, "invalid_request"),
    "max_age with a unit": ({"max_age": "60s"}, "invalid_request"),
    "max_age in hex": ({"max_age": "0x10"}, "invalid_request"),
}


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("case", REDIRECTED_ERRORS)
def test_an_invalid_request_of_a_signed_out_browser_is_redirected_to_the_client_with_its_error(
    authorize, third_party, case, method
):
    overrides, error = REDIRECTED_ERRORS[case]

    response = authorize(authorization_parameters(third_party, **overrides), method=method)

    query = authorization_error(response, third_party.redirect_uri)
    assert query["error"] == error
    assert query["state"] == AUTHORIZE_STATE
    assert not AuthorizationCode.objects.exists()


@pytest.mark.parametrize(
    "case", ["response_type token", "code_challenge missing", "scope unknown", "prompt unknown"]
)
def test_an_invalid_request_of_a_signed_in_browser_is_redirected_before_any_consent_page(
    authorize, signed_in, user, third_party, case
):
    signed_in(user)
    overrides, error = REDIRECTED_ERRORS[case]

    response = authorize(authorization_parameters(third_party, **overrides))

    assert authorization_error(response, third_party.redirect_uri)["error"] == error
    assert not Consent.objects.exists()


@pytest.mark.parametrize("kind", ["third-party", "first-party", "confidential"])
def test_pkce_is_required_of_every_client(authorize, request, kind):
    registered = request.getfixturevalue(
        {
            "third-party": "public_oauth_client",
            "first-party": "first_party_oauth_client",
            "confidential": "confidential_oauth_client",
        }[kind]
    )

    response = authorize(
        authorization_parameters(registered, code_challenge=None, code_challenge_method=None)
    )

    assert authorization_error(response, registered.redirect_uri)["error"] == "invalid_request"


def test_an_error_redirect_has_no_state_when_none_was_sent(authorize, third_party):
    for state in (None, "   "):  # a blank optional parameter counts as not sent
        response = authorize(authorization_parameters(third_party, response_type="token", state=state))

        query = authorization_error(response, third_party.redirect_uri)
        assert query["error"] == "unsupported_response_type"
        assert "state" not in query


def test_the_state_comes_back_exactly_as_it_was_sent(authorize, third_party):
    state = "a b&c=d/é?#%20+\"'<>"

    response = authorize(authorization_parameters(third_party, response_type="token", state=state))

    assert authorization_error(response, third_party.redirect_uri)["state"] == state


def test_the_iss_of_an_error_redirect_is_the_configured_issuer(authorize, third_party, settings):
    settings.TOKEN_ISSUER = "https://issuer.example.org/tenant"

    response = authorize(authorization_parameters(third_party, scope="phone"))

    assert (
        authorization_response(response, third_party.redirect_uri)["iss"]
        == "https://issuer.example.org/tenant"
    )


def test_a_valid_max_age_and_unknown_parameters_are_accepted(authorize, third_party):
    params = authorization_parameters(third_party, max_age="0", prompt="login consent", foo="bar", nonce="n")

    response = authorize(params)

    assert response.status_code == HTTPStatus.OK
    assert is_sign_in_page(response)


def test_a_max_age_of_many_digits_is_a_valid_non_negative_integer(authorize, signed_in, user, first_party):
    signed_in(user)

    response = authorize(authorization_parameters(first_party, max_age="9" * 20))

    assert authorization_response(response, first_party.redirect_uri)["code"]


# --- the order of the checks -----------------------------------------------------------------


ORDER_CASES = {
    "unregistered redirect_uri before response_type": (
        {"redirect_uri": "https://evil.example/cb", "response_type": "token"},
        None,
    ),
    "unknown client before a missing code_challenge": ({"client_id": "nobody", "code_challenge": None}, None),
    "repeated client_id before a repeated scope": (
        {"client_id": ["public-app", "public-app"], "scope": ["openid", "email"]},
        None,
    ),
    "missing redirect_uri before an unknown scope": ({"redirect_uri": None, "scope": "phone"}, None),
    "response_type before a missing code_challenge": (
        {"response_type": "token", "code_challenge": None},
        "unsupported_response_type",
    ),
    "response_type before a repeated parameter": (
        {"response_type": None, "scope": ["openid", "email"]},
        "unsupported_response_type",
    ),
    "response_type before an unknown scope and prompt": (
        {"response_type": "id_token", "scope": "phone", "prompt": "bogus"},
        "unsupported_response_type",
    ),
    "a repeated parameter before an unknown scope": (
        {"nonce": ["a", "b"], "scope": "phone"},
        "invalid_request",
    ),
    "PKCE before an unknown scope": ({"code_challenge_method": "plain", "scope": "phone"}, "invalid_request"),
    "scope before prompt": ({"scope": "phone", "prompt": "none login"}, "invalid_scope"),
    "scope before max_age": ({"scope": "phone", "max_age": "-5"}, "invalid_scope"),
    "scope before login_required": ({"scope": "phone", "prompt": "none"}, "invalid_scope"),
    "max_age before login_required": ({"prompt": "none", "max_age": "-5"}, "invalid_request"),
}


@pytest.mark.parametrize("case", ORDER_CASES)
def test_a_request_with_two_errors_gets_the_one_checked_first(authorize, third_party, case):
    overrides, error = ORDER_CASES[case]

    response = authorize(authorization_parameters(third_party, **overrides))

    if error is None:
        assert_error_page(response)
    else:
        assert authorization_error(response, third_party.redirect_uri)["error"] == error


@pytest.mark.parametrize(
    ("pkce_fault", "repeated"),
    [
        ({"code_challenge": None}, "nonce"),
        ({"code_challenge_method": "plain"}, "scope"),
        ({"code_challenge": _challenge(10)}, "prompt"),
    ],
)
def test_a_repeated_parameter_is_reported_before_a_pkce_fault(authorize, third_party, pkce_fault, repeated):
    values = {"nonce": ["a", "b"], "scope": ["openid", "email"], "prompt": ["login", "consent"]}[repeated]

    response = authorize(authorization_parameters(third_party, **pkce_fault, **{repeated: values}))

    query = authorization_error(response, third_party.redirect_uri)
    assert query["error"] == "invalid_request"
    assert repeated in query["error_description"]  # the repeated parameter, not the PKCE fault


def test_prompt_none_of_a_signed_out_browser_is_login_required(authorize, third_party):
    response = authorize(authorization_parameters(third_party, prompt="none"))

    query = authorization_error(response, third_party.redirect_uri)
    assert (query["error"], query["state"]) == ("login_required", AUTHORIZE_STATE)


# --- the sign-in page ------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("path", ["/authorize", "/authorize/"])
def test_a_signed_out_browser_gets_a_sign_in_form_posting_back_every_other_parameter(
    authorize, third_party, method, path
):
    params = authorization_parameters(
        third_party, state="s&t=\"<q>'é", nonce="n-1", max_age="300", prompt="login", scope="openid email"
    )

    response = authorize(params, method=method, path=path)

    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"].startswith("text/html")
    form = page_form(response)
    assert form.method == "post"
    assert [(field.type, field.value) for field in form.named("username")] == [("text", "")]
    assert [field.type for field in form.named("password")] == ["password"]
    assert sorted(form.hidden) == sorted(params.items())
    assert not AuthorizationCode.objects.exists()


def test_login_hint_prefills_the_username(authorize, third_party):
    response = authorize(authorization_parameters(third_party, login_hint="johndoe@example.com"))

    assert [field.value for field in page_form(response).named("username")] == ["johndoe@example.com"]


def test_signing_in_on_the_page_continues_the_request_with_its_own_parameters(
    authorize, client, first_party, user, password
):
    pkce = pkce_s256()
    params = authorization_parameters(
        first_party, pkce=pkce, state="s&t=\"<q>'é", nonce="n-1", scope="openid email"
    )
    page = authorize(params)

    answer = submit_page_form(client, page, username=user.username, password=password)

    query = authorization_response(answer, first_party.redirect_uri)
    assert (query["state"], query["iss"]) == (params["state"], django_settings.TOKEN_ISSUER)
    code = AuthorizationCode.objects.get()
    assert (code.user, code.client_id, code.scope, code.nonce, code.code_challenge) == (
        user,
        first_party.client_id,
        "openid email",
        "n-1",
        pkce.challenge,
    )
    assert_signed_in_as(client, user)


def test_a_successful_sign_in_sets_an_http_only_same_site_lax_session_cookie(
    sign_in_on_the_page, first_party, user
):
    answer = sign_in_on_the_page(authorization_parameters(first_party), user)

    cookie = answer.cookies[django_settings.SESSION_COOKIE_NAME]
    assert cookie.value
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert authorization_response(answer, first_party.redirect_uri)["code"]


@pytest.mark.parametrize(
    "credentials",
    [
        "wrong password",
        "unknown user",
        pytest.param(
            "empty password",
        ),
    ],
)
def test_wrong_credentials_show_the_sign_in_page_again_with_a_message(
    authorize, client, third_party, user, password, credentials
):
    params = authorization_parameters(third_party)
    page = authorize(params)
    username, given = {
        "wrong password": (user.username, "not the password"),
        "unknown user": ("nobody", password),
        "empty password": (user.username, ""),
    }[credentials]

    answer = submit_page_form(client, page, username=username, password=given)

    assert answer.status_code == HTTPStatus.OK
    assert is_sign_in_page(answer)
    assert set(page_text(answer)) - set(page_text(page)), "no message on the page"
    assert sorted(page_form(answer).hidden) == sorted(params.items())
    assert_not_signed_in(client)
    assert not AuthorizationCode.objects.exists()


def test_a_disabled_user_cannot_sign_in(authorize, client, first_party, user, password):
    user.is_active = False
    user.save()
    page = authorize(authorization_parameters(first_party))

    answer = submit_page_form(client, page, username=user.username, password=password)

    assert answer.status_code == HTTPStatus.OK
    assert is_sign_in_page(answer)
    assert_not_signed_in(client)
    assert not AuthorizationCode.objects.exists()


@pytest.fixture
def fail_at(api_client, authorize, client, first_party):
    """fail_at(where, username): one failed sign-in at /login or on the sign-in page of /authorize."""

    def fail(where: str, username: str) -> None:
        if where == "/login":
            response = api_client.post("/login", {"username": username, "password": "wrong"})
            assert response.status_code == HTTPStatus.UNAUTHORIZED
        else:
            page = authorize(authorization_parameters(first_party))
            answer = submit_page_form(client, page, username=username, password="wrong")
            assert answer.status_code == HTTPStatus.OK
            assert is_sign_in_page(answer)

    return fail


@pytest.mark.parametrize(
    "failures_at",
    [
        ["/authorize"] * 3,
        ["/login"] * 3,
        ["/login", "/authorize", "/login"],
    ],
    ids=["all on the sign-in page", "all at /login", "mixed"],
)
def test_after_the_failure_limit_the_sign_in_page_answers_429_even_with_the_right_password(
    authorize, client, fail_at, first_party, user, password, settings, failures_at
):
    settings.LOGIN_FAILURE_LIMIT = 3
    for where in failures_at:
        fail_at(where, user.username.upper())  # the username is compared case-insensitively
    page = authorize(authorization_parameters(first_party))

    answer = submit_page_form(client, page, username=user.username, password=password)

    assert answer.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert is_sign_in_page(answer)
    assert_not_signed_in(client)
    assert not AuthorizationCode.objects.exists()


def test_one_failure_below_the_limit_still_signs_in(
    authorize, client, fail_at, first_party, user, password, settings
):
    settings.LOGIN_FAILURE_LIMIT = 3
    for where in ("/login", "/authorize"):
        fail_at(where, user.username)
    page = authorize(authorization_parameters(first_party))

    answer = submit_page_form(client, page, username=user.username, password=password)

    assert authorization_response(answer, first_party.redirect_uri)["code"]


def test_failures_on_the_sign_in_page_block_post_login(api_client, fail_at, user, password, settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    for _ in range(3):
        fail_at("/authorize", user.username)

    response = api_client.post("/login", {"username": user.username, "password": password})

    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert int(response["Retry-After"]) > 0


# --- the consent page ------------------------------------------------------------------------


def test_a_third_party_client_gets_a_consent_page_naming_it_and_each_scope(
    sign_in_on_the_page, third_party, user
):
    answer = sign_in_on_the_page(authorization_parameters(third_party, scope="openid profile email"), user)

    assert answer.status_code == HTTPStatus.OK
    assert is_consent_page(answer)
    text = page_text(answer)
    assert any(third_party.client.name in line for line in text)
    for scope in ("openid", "profile", "email"):
        # The scope by its name, with a line saying what it shares.
        assert any(scope in line and len(line) > len(scope) + 10 for line in text) or any(
            line == scope and len(text[i + 1]) > 10 for i, line in enumerate(text[:-1])
        ), scope
    form = page_form(answer)
    assert form.method == "post"
    assert {"allow", "deny"} <= form.submit_names
    assert not AuthorizationCode.objects.exists()
    assert not Consent.objects.exists()


def test_the_consent_page_names_only_the_requested_scopes(sign_in_on_the_page, third_party, user):
    answer = sign_in_on_the_page(authorization_parameters(third_party, scope="email"), user)

    text = " ".join(page_text(answer))
    assert "email" in text
    assert "openid" not in text
    assert "profile" not in text


def test_allow_on_the_consent_page_redirects_with_a_code_state_and_iss(
    client, sign_in_on_the_page, third_party, user
):
    consent_page = sign_in_on_the_page(authorization_parameters(third_party, scope="openid email"), user)

    answer = submit_page_form(client, consent_page, press="allow")

    query = authorization_response(answer, third_party.redirect_uri)
    assert (query["state"], query["iss"]) == (AUTHORIZE_STATE, django_settings.TOKEN_ISSUER)
    assert set(query) == {"code", "state", "iss"}
    code = AuthorizationCode.objects.get()
    assert (code.user, code.client_id, code.scope) == (user, third_party.client_id, "openid email")
    assert sorted(Consent.objects.get(user=user, client_id=third_party.client_id).scopes) == [
        "email",
        "openid",
    ]


def test_deny_on_the_consent_page_redirects_with_access_denied(
    client, sign_in_on_the_page, third_party, user
):
    consent_page = sign_in_on_the_page(authorization_parameters(third_party), user)

    answer = submit_page_form(client, consent_page, press="deny")

    query = authorization_error(answer, third_party.redirect_uri)
    assert (query["error"], query["state"]) == ("access_denied", AUTHORIZE_STATE)
    assert not AuthorizationCode.objects.exists()
    assert not Consent.objects.exists()


@pytest.fixture
def consented(client, sign_in_on_the_page, third_party, user):
    """consented(scope): the user signs in and allows the third-party client `scope`."""

    def consent(scope: str) -> None:
        consent_page = sign_in_on_the_page(authorization_parameters(third_party, scope=scope), user)
        authorization_response(
            submit_page_form(client, consent_page, press="allow"), third_party.redirect_uri
        )

    return consent


@pytest.mark.parametrize("scope", ["openid profile email", "email profile", "openid", ""], ids=repr)
def test_a_remembered_grant_skips_the_consent_page_for_the_same_or_fewer_scopes(
    authorize, consented, third_party, scope
):
    consented("openid profile email")

    response = authorize(authorization_parameters(third_party, scope=scope))

    assert authorization_response(response, third_party.redirect_uri)["code"]
    assert AuthorizationCode.objects.count() == 2


def test_prompt_none_with_a_remembered_grant_gets_a_code(authorize, consented, third_party):
    consented("openid email")

    response = authorize(authorization_parameters(third_party, scope="email", prompt="none"))

    assert authorization_response(response, third_party.redirect_uri)["code"]


def test_more_scopes_than_granted_ask_again_and_allow_adds_them(
    authorize, client, consented, third_party, user
):
    consented("openid")

    again = authorize(authorization_parameters(third_party, scope="openid email"))
    assert again.status_code == HTTPStatus.OK
    assert is_consent_page(again)
    assert any("email" in line for line in page_text(again))
    submit_page_form(client, again, press="allow")
    then = authorize(authorization_parameters(third_party, scope="email openid"))

    assert authorization_response(then, third_party.redirect_uri)["code"]
    assert sorted(Consent.objects.get(user=user).scopes) == ["email", "openid"]


def test_prompt_consent_asks_again_despite_a_remembered_grant(authorize, client, consented, third_party):
    consented("openid profile")

    again = authorize(authorization_parameters(third_party, scope="openid", prompt="consent"))

    assert again.status_code == HTTPStatus.OK
    assert is_consent_page(again)
    answer = submit_page_form(client, again, press="allow")
    assert authorization_response(answer, third_party.redirect_uri)["code"]


def test_prompt_none_without_consent_is_consent_required(authorize, signed_in, user, third_party):
    signed_in(user)

    response = authorize(authorization_parameters(third_party, prompt="none"))

    query = authorization_error(response, third_party.redirect_uri)
    assert (query["error"], query["state"]) == ("consent_required", AUTHORIZE_STATE)


def test_a_grant_to_one_client_or_by_one_user_is_not_a_grant_to_another(
    authorize, consented, oauth_client_factory, user_factory, sign_in_on_the_page, third_party
):
    consented("openid")
    another_client = oauth_client_factory(name="Another app", client_id="another-app")

    for_another_client = authorize(authorization_parameters(another_client, scope="openid"))
    for_another_user = sign_in_on_the_page(
        authorization_parameters(third_party, scope="openid", prompt="login"), user_factory()
    )

    assert is_consent_page(for_another_client)
    assert is_consent_page(for_another_user)


@pytest.mark.parametrize("prompt", [None, "consent", "login consent"])
def test_a_first_party_client_never_gets_the_consent_page(sign_in_on_the_page, first_party, user, prompt):
    answer = sign_in_on_the_page(
        authorization_parameters(first_party, scope="openid profile email", prompt=prompt), user
    )

    assert authorization_response(answer, first_party.redirect_uri)["code"]
    assert not Consent.objects.exists()


def test_the_seeded_docs_client_is_first_party_and_gets_no_consent_page(
    db, sign_in_on_the_page, user, settings
):
    call_command("seed_demo_users", verbosity=0)
    docs = Client.objects.get(pk="demo-docs")
    assert (docs.confidential, docs.first_party) == (False, True)
    params = {
        "response_type": "code",
        "client_id": "demo-docs",
        "redirect_uri": docs.redirect_uris[0],
        "scope": "openid profile email",
        "state": AUTHORIZE_STATE,
        "code_challenge": pkce_s256().challenge,
        "code_challenge_method": "S256",
    }

    answer = sign_in_on_the_page(params, user)

    assert authorization_response(answer, docs.redirect_uris[0])["code"]


# --- CSRF: the service's own forms, not a client's POST ---------------------------------------


@pytest.fixture
def csrf_browser():
    return BrowserClient(enforce_csrf_checks=True)


def _without_csrf_token(response, **submission):
    form = page_form(response)
    pairs = [(name, value) for name, value in form.submission(**submission) if name != "csrfmiddlewaretoken"]
    return form_body(pairs)


@pytest.mark.parametrize("press", ["allow", "deny"])
def test_a_consent_post_without_the_csrf_token_is_refused_and_issues_no_code(
    csrf_browser, sign_in_on_the_page, third_party, user, press
):
    consent_page = sign_in_on_the_page(authorization_parameters(third_party), user, browser=csrf_browser)
    assert is_consent_page(consent_page)
    body, content_type = _without_csrf_token(consent_page, press=press)

    forged = csrf_browser.post("/authorize", body, content_type=content_type)

    assert forged.status_code == HTTPStatus.FORBIDDEN
    assert not forged.has_header("Location")
    assert not AuthorizationCode.objects.exists()
    assert not Consent.objects.exists()
    # The same form with its token goes through: the token is what was missing.
    assert authorization_response(
        submit_page_form(csrf_browser, consent_page, press="allow"), third_party.redirect_uri
    )


def test_a_sign_in_post_without_the_csrf_token_is_refused(
    csrf_browser, authorize, first_party, user, password
):
    page = authorize(authorization_parameters(first_party), browser=csrf_browser)
    body, content_type = _without_csrf_token(page, username=user.username, password=password)

    forged = csrf_browser.post("/authorize", body, content_type=content_type)

    assert forged.status_code == HTTPStatus.FORBIDDEN
    assert_not_signed_in(csrf_browser)
    assert not AuthorizationCode.objects.exists()
    signed_in = submit_page_form(csrf_browser, page, username=user.username, password=password)
    assert authorization_response(signed_in, first_party.redirect_uri)["code"]


def test_a_clients_plain_post_needs_no_csrf_token_and_is_taken_as_the_get(
    csrf_browser, authorize, sign_in_on_the_page, first_party, third_party, user
):
    signed_out = authorize(authorization_parameters(third_party), method="post", browser=csrf_browser)
    error = authorize(
        authorization_parameters(third_party, scope="phone"), method="post", browser=csrf_browser
    )
    sign_in_on_the_page(authorization_parameters(first_party), user, browser=csrf_browser)
    AuthorizationCode.objects.all().delete()
    signed_in = authorize(authorization_parameters(first_party), method="post", browser=csrf_browser)

    assert signed_out.status_code == HTTPStatus.OK
    assert is_sign_in_page(signed_out)
    assert authorization_error(error, third_party.redirect_uri)["error"] == "invalid_scope"
    assert authorization_response(signed_in, first_party.redirect_uri)["code"]
    assert AuthorizationCode.objects.get().user == user


# --- prompt=login and max_age ----------------------------------------------------------------


def _age_the_sign_in(browser, seconds: int) -> int:
    """Move the browser's sign-in `seconds` into the past; return the new sign-in time."""
    session = browser.session
    session[AUTH_TIME] -= seconds
    session.save()
    return session[AUTH_TIME]


@pytest.mark.parametrize(
    "overrides",
    [{"prompt": "login"}, {"prompt": "login consent"}, {"max_age": "0"}],
    ids=["prompt=login", "prompt=login consent", "max_age=0"],
)
def test_a_signed_in_browser_is_asked_to_sign_in_again(authorize, signed_in, user, first_party, overrides):
    signed_in(user)

    response = authorize(authorization_parameters(first_party, **overrides))

    assert response.status_code == HTTPStatus.OK
    assert is_sign_in_page(response)
    assert not AuthorizationCode.objects.exists()


def test_max_age_0_asks_again_even_in_the_second_of_the_sign_in(
    authorize, signed_in, user, first_party, monkeypatch
):
    the_second = timezone.now().replace(microsecond=0)
    monkeypatch.setattr(timezone, "now", lambda: the_second)  # a sign-in exactly 0 s old
    signed_in(user)

    response = authorize(authorization_parameters(first_party, max_age="0"))

    assert response.status_code == HTTPStatus.OK
    assert is_sign_in_page(response)


def test_prompt_none_when_a_sign_in_is_needed_again_is_login_required(
    authorize, signed_in, user, first_party
):
    signed_in(user)

    response = authorize(authorization_parameters(first_party, prompt="none", max_age="0"))

    assert authorization_error(response, first_party.redirect_uri)["error"] == "login_required"


def test_a_sign_in_older_than_max_age_asks_again_and_the_code_carries_the_new_sign_in_time(
    authorize, client, signed_in, user, first_party, password
):
    signed_in(user)
    _age_the_sign_in(client, 120)
    page = authorize(authorization_parameters(first_party, max_age="60"))
    assert page.status_code == HTTPStatus.OK
    assert is_sign_in_page(page)
    before = timezone.now().replace(microsecond=0)

    answer = submit_page_form(client, page, username=user.username, password=password)

    assert authorization_response(answer, first_party.redirect_uri)["code"]
    assert before <= AuthorizationCode.objects.get().auth_time <= timezone.now()


def test_a_sign_in_within_max_age_is_not_asked_again_and_the_code_carries_its_time(
    authorize, client, signed_in, user, first_party
):
    signed_in(user)
    signed_in_at = _age_the_sign_in(client, 120)

    response = authorize(authorization_parameters(first_party, max_age="3600"))

    assert authorization_response(response, first_party.redirect_uri)["code"]
    assert AuthorizationCode.objects.get().auth_time.timestamp() == signed_in_at


def test_prompt_login_signs_in_again_and_the_code_carries_the_new_sign_in_time(
    authorize, client, signed_in, user, first_party, password
):
    signed_in(user)
    old = _age_the_sign_in(client, 600)
    page = authorize(authorization_parameters(first_party, prompt="login"))

    answer = submit_page_form(client, page, username=user.username, password=password)

    assert authorization_response(answer, first_party.redirect_uri)["code"]
    assert AuthorizationCode.objects.get().auth_time.timestamp() >= old + 600


@pytest.mark.parametrize(
    "overrides", [{"prompt": "login"}, {"max_age": "0"}], ids=["prompt=login", "max_age=0"]
)
def test_after_signing_in_again_the_consent_page_does_not_ask_for_another_sign_in(
    authorize, client, signed_in, user, third_party, password, overrides
):
    signed_in(user)
    page = authorize(authorization_parameters(third_party, **overrides))
    consent_page = submit_page_form(client, page, username=user.username, password=password)
    assert is_consent_page(consent_page)

    answer = submit_page_form(client, consent_page, press="allow")

    assert authorization_response(answer, third_party.redirect_uri)["code"]


# --- the browser sign-in ends; it is not a bearer credential -------------------------------------


@pytest.mark.parametrize(
    "change",
    ["password set", "password set to the same value", "user disabled"],
)
def test_the_browser_sign_in_ends_when_the_password_is_set_or_the_user_is_disabled(
    authorize, signed_in, user, first_party, password, change
):
    signed_in(user)
    if change == "user disabled":
        user.is_active = False
    else:
        user.set_password("a new password" if change == "password set" else password)
    user.save()

    response = authorize(authorization_parameters(first_party))
    silent = authorize(authorization_parameters(first_party, prompt="none"))

    assert response.status_code == HTTPStatus.OK
    assert is_sign_in_page(response)
    assert authorization_error(silent, first_party.redirect_uri)["error"] == "login_required"
    assert not AuthorizationCode.objects.exists()


def test_a_save_that_sets_no_password_keeps_the_browser_signed_in(authorize, signed_in, user, first_party):
    signed_in(user)
    user.full_name = "Johnny Doe"
    user.save()

    response = authorize(authorization_parameters(first_party))

    assert authorization_response(response, first_party.redirect_uri)["code"]


@pytest.mark.parametrize("path", ["/users/me/", "/users/me/sessions/"])
def test_the_browser_session_cookie_is_not_a_bearer_credential(client, signed_in, user, path):
    signed_in(user)
    assert client.cookies[django_settings.SESSION_COOKIE_NAME].value

    response = client.get(path, HTTP_ACCEPT="application/json")

    assert response.status_code == HTTPStatus.UNAUTHORIZED


# --- headers of the pages; no CORS -----------------------------------------------------------


@pytest.fixture
def page_of(authorize, client, sign_in_on_the_page, third_party, user, settings):
    """page_of(kind) -> a response of /authorize of that kind."""

    def page(kind: str):
        if kind == "error page":
            return authorize(authorization_parameters(third_party, client_id="nobody"))
        if kind == "sign-in page":
            return authorize(authorization_parameters(third_party))
        if kind == "sign-in page after wrong credentials":
            return sign_in_on_the_page(authorization_parameters(third_party), user, given_password="wrong")
        if kind == "sign-in page while throttled":
            settings.LOGIN_FAILURE_LIMIT = 1
            sign_in_on_the_page(authorization_parameters(third_party), user, given_password="wrong")
            return sign_in_on_the_page(authorization_parameters(third_party), user)
        if kind == "consent page":
            return sign_in_on_the_page(authorization_parameters(third_party), user)
        if kind == "redirect with a code":
            return submit_page_form(
                client, sign_in_on_the_page(authorization_parameters(third_party), user), press="allow"
            )
        raise ValueError(kind)

    return page


@pytest.mark.parametrize(
    ("kind", "status"),
    [
        ("error page", HTTPStatus.BAD_REQUEST),
        ("sign-in page", HTTPStatus.OK),
        ("sign-in page after wrong credentials", HTTPStatus.OK),
        ("sign-in page while throttled", HTTPStatus.TOO_MANY_REQUESTS),
        ("consent page", HTTPStatus.OK),
        ("redirect with a code", HTTPStatus.SEE_OTHER),
    ],
)
def test_the_pages_are_not_stored_and_cannot_be_framed(page_of, kind, status):
    response = page_of(kind)

    assert response.status_code == status
    assert "no-store" in response["Cache-Control"]
    assert response["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]


@pytest.mark.parametrize("method", ["get", "post", "options"])
def test_the_authorization_endpoint_answers_no_cross_origin_request(
    api_client, client, oauth_client_factory, method
):
    origin = "https://spa.example.com"
    registered = oauth_client_factory(first_party=True, allowed_origins=(origin,))
    headers = {"HTTP_ORIGIN": origin, "HTTP_ACCESS_CONTROL_REQUEST_METHOD": "POST"}
    # The origin is one the service allows elsewhere: at /token it gets its CORS headers.
    assert api_client.options("/token", **headers)["Access-Control-Allow-Origin"] == origin

    params = authorization_parameters(registered)
    if method == "options":
        response = client.options("/authorize", **headers)
    elif method == "get":
        response = client.get("/authorize", params, **headers)
    else:
        body, content_type = form_body(params)
        response = client.post("/authorize", body, content_type=content_type, **headers)

    assert not [name for name in response.headers if name.lower().startswith("access-control-")]


# --- the code ----------------------------------------------------------------------------------


def test_a_code_is_random_at_least_128_bits_and_stored_only_hashed(sign_in_on_the_page, first_party, user):
    codes = []
    for browser in (BrowserClient(), BrowserClient()):
        answer = sign_in_on_the_page(authorization_parameters(first_party), user, browser=browser)
        codes.append(authorization_response(answer, first_party.redirect_uri)["code"])

    assert codes[0] != codes[1]
    for code in codes:
        assert len(code) >= 22
        assert set(code) <= BASE64URL
        assert not AuthorizationCode.objects.filter(code_hash=code).exists()
    rows = list(AuthorizationCode.objects.values())
    assert len(rows) == 2
    for row in rows:
        assert row["code_hash"] not in codes
        assert not any(code in str(value) for value in row.values() for code in codes)


# --- the decision, without HTTP (accounts.oauth.authorize.decide) --------------------------------


def parsed_request(registered, **overrides):
    """An AuthorizationRequest parsed from the parameters a client would send, as the view does."""
    from accounts.oauth import authorize

    values = {name: [value] for name, value in authorization_parameters(registered, **overrides).items()}
    return authorize.parse(values, authorize.redirect_target(values))


def signed_in_as(user, *, seconds_ago: int = 0):
    from accounts.signin.state import SignedIn

    return SignedIn(user=user, auth_time=timezone.now() - timezone.timedelta(seconds=seconds_ago))


def query_of(location: str) -> dict[str, str]:
    from urllib.parse import parse_qsl, urlsplit

    return dict(parse_qsl(urlsplit(location).query))


def test_decide_asks_a_browser_that_is_not_signed_in_to_sign_in(third_party):
    from accounts.oauth import authorize

    decision = authorize.decide(parsed_request(third_party), signed_in=None, now=timezone.now())

    assert decision == authorize.NeedsSignIn()
    assert not AuthorizationCode.objects.exists()


def test_decide_answers_login_required_to_prompt_none_without_a_sign_in(third_party):
    from accounts.oauth import authorize

    decision = authorize.decide(
        parsed_request(third_party, prompt="none"), signed_in=None, now=timezone.now()
    )

    assert isinstance(decision, authorize.Redirect)
    assert query_of(decision.location)["error"] == "login_required"


def test_decide_asks_consent_for_a_third_party_then_issues_the_code_once_allowed(third_party, user):
    from accounts.oauth import authorize

    request = parsed_request(third_party)
    asked = authorize.decide(request, signed_in=signed_in_as(user), now=timezone.now())
    allowed = authorize.decide(request, signed_in=signed_in_as(user), answer="allow", now=timezone.now())

    assert isinstance(asked, authorize.NeedsConsent)
    assert [scope for scope, _ in asked.scopes] == request.scopes
    assert "code" in query_of(allowed.location)
    assert Consent.objects.get(user=user, client=third_party.client).scopes == sorted(request.scopes)
    assert AuthorizationCode.objects.count() == 1


def test_decide_denied_redirects_access_denied_and_writes_nothing(third_party, user):
    from accounts.oauth import authorize

    decision = authorize.decide(
        parsed_request(third_party), signed_in=signed_in_as(user), answer="deny", now=timezone.now()
    )

    assert query_of(decision.location)["error"] == "access_denied"
    assert not AuthorizationCode.objects.exists()
    assert not Consent.objects.exists()


def test_decide_takes_the_sign_in_of_this_request_for_prompt_login_and_max_age(first_party, user):
    from accounts.oauth import authorize

    request = parsed_request(first_party, prompt="login", max_age="0")
    again = authorize.decide(request, signed_in=signed_in_as(user, seconds_ago=5), now=timezone.now())
    just_now = authorize.decide(
        request, signed_in=signed_in_as(user), just_signed_in=True, now=timezone.now()
    )

    assert again == authorize.NeedsSignIn()
    assert "code" in query_of(just_now.location)


def test_parse_raises_the_oauth_error_classes_of_the_token_endpoint(third_party):
    from accounts.errors import InvalidRequest, InvalidScope, UnsupportedResponseType, UntrustedRedirect

    with pytest.raises(UnsupportedResponseType):
        parsed_request(third_party, response_type="token")
    with pytest.raises(InvalidScope):
        parsed_request(third_party, scope="openid admin")
    with pytest.raises(InvalidRequest, match="PKCE"):
        parsed_request(third_party, code_challenge="")
    with pytest.raises(UntrustedRedirect) as untrusted:
        parsed_request(third_party, redirect_uri="https://evil.example/cb")
    assert untrusted.value.body()["error"] == "invalid_request"  # as JSON, where JSON is answered


# --- "Not you?" on the consent page ---------------------------------------------------------------


def test_not_you_on_the_consent_page_signs_out_and_asks_to_sign_in_for_the_same_request(
    client, third_party, sign_in_on_the_page, user, authorize
):
    params = authorization_parameters(third_party)
    consent = sign_in_on_the_page(params, user)
    assert is_consent_page(consent)
    assert "Sign in as someone else" in consent.text

    answer = submit_page_form(client, consent, press="switch")

    assert answer.status_code == HTTPStatus.OK
    assert is_sign_in_page(answer)
    assert "_auth_user_id" not in client.session  # signed out
    assert dict(page_form(answer).hidden)["client_id"] == third_party.client_id  # the same request
    assert not AuthorizationCode.objects.exists()
    assert not Consent.objects.exists()


def test_not_you_needs_the_pages_csrf_token(third_party, sign_in_on_the_page, user):
    browser = BrowserClient(enforce_csrf_checks=True)
    params = authorization_parameters(third_party)
    sign_in_on_the_page(params, user, browser=browser)

    answer = browser.post("/authorize", {**params, "switch": "switch"})

    assert answer.status_code == HTTPStatus.FORBIDDEN
    assert "_auth_user_id" in browser.session  # still signed in
