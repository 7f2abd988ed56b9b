"""Authentication requests at /authorize (OpenID Connect Core §3.1.2), one test per check of the
OpenID Foundation's Basic OP test plan: prompt, max_age, login_hint, id_token_hint, unknown
parameters, code reuse, redirect URI registration. Each goes through the real sign-in and consent
pages with Django's test client as the browser; the time of a sign-in is moved into the past by
lowering the browser session's "accounts.auth_time" rather than by sleeping."""

from http import HTTPStatus

import pytest

from accounts.models import Session
from accounts.oauth.models import AuthorizationCode
from tests.oauth.conftest import (
    AUTHORIZE_STATE,
    authorization_error,
    authorization_parameters,
    is_consent_page,
    is_sign_in_page,
    page_form,
    submit_page_form,
)
from tests.oidc.conftest import (
    OTHER_RP_REDIRECT_URI,
    RP_POST_LOGOUT_URI,
    age_browser_sign_in,
    bearer,
)

# Nothing here can differ by database (request validation): runs once, in the SQLite run.
pytestmark = pytest.mark.once


@pytest.fixture
def id_token_of(code_exchange, verify_id_token):
    """id_token_of(authorization) -> the verified claims of the ID token its code exchange returns."""

    def exchange(authorization) -> dict:
        response = code_exchange(authorization)
        assert response.status_code == HTTPStatus.OK, response.content
        return verify_id_token(response.json()["id_token"], audience=authorization.registered.client_id)

    return exchange


# --- prompt -------------------------------------------------------------------------------------


def test_oidcc_prompt_login_shows_the_sign_in_page_again_and_auth_time_moves(
    openid_authorize, id_token_of, client, relying_party, user
):
    first = id_token_of(openid_authorize(relying_party, user))
    signed_in_at = age_browser_sign_in(client, 600)

    again = openid_authorize(relying_party, user, prompt="login")

    assert again.pages == ["sign-in"]  # signed in, and still asked (the consent is remembered)
    second = id_token_of(again)
    assert second["auth_time"] >= signed_in_at + 600
    assert second["auth_time"] >= first["auth_time"]
    assert second["sub"] == first["sub"]


def test_oidcc_prompt_none_not_logged_in_is_login_required_with_no_page(authorize, relying_party):
    response = authorize(authorization_parameters(relying_party, scope="openid", nonce="n", prompt="none"))

    query = authorization_error(response, relying_party.redirect_uri)
    assert query["error"] == "login_required"
    assert query["state"] == AUTHORIZE_STATE
    assert not AuthorizationCode.objects.exists()


def test_oidcc_prompt_none_logged_in_gets_a_code_with_no_page(
    openid_authorize, id_token_of, relying_party, user
):
    first = id_token_of(openid_authorize(relying_party, user))

    silent = openid_authorize(relying_party, None, prompt="none")

    assert silent.pages == []
    second = id_token_of(silent)
    assert second["sub"] == first["sub"]
    assert second["auth_time"] == first["auth_time"]
    assert second["nonce"] == silent.nonce


def test_prompt_none_logged_in_without_consent_is_consent_required(
    openid_authorize, authorize, relying_party, other_relying_party, user
):
    openid_authorize(relying_party, user)  # signed in, consented to relying_party only

    response = authorize(authorization_parameters(other_relying_party, scope="openid", prompt="none"))

    assert authorization_error(response, other_relying_party.redirect_uri)["error"] == "consent_required"
    assert not AuthorizationCode.objects.filter(client=other_relying_party.client).exists()


# --- max_age ------------------------------------------------------------------------------------


def test_oidcc_max_age_1_asks_to_sign_in_again_and_auth_time_is_the_new_sign_in(
    openid_authorize, id_token_of, client, relying_party, user
):
    id_token_of(openid_authorize(relying_party, user))
    signed_in_at = age_browser_sign_in(client, 10)

    again = openid_authorize(relying_party, user, max_age="1")

    assert again.pages == ["sign-in"]
    claims = id_token_of(again)
    assert claims["auth_time"] >= signed_in_at + 10
    assert claims["auth_time"] <= claims["iat"]


def test_oidcc_max_age_10000_does_not_ask_again_and_auth_time_is_the_first_sign_in(
    openid_authorize, id_token_of, client, relying_party, user
):
    id_token_of(openid_authorize(relying_party, user))
    signed_in_at = age_browser_sign_in(client, 120)

    again = openid_authorize(relying_party, None, max_age="10000")

    assert again.pages == []
    assert id_token_of(again)["auth_time"] == signed_in_at


# --- hints --------------------------------------------------------------------------------------


def test_oidcc_login_hint_prefills_the_username_of_the_sign_in_page(
    authorize, client, relying_party, user, password
):
    params = authorization_parameters(relying_party, scope="openid", login_hint="johndoe")

    page = authorize(params)

    assert is_sign_in_page(page)
    (username,) = page_form(page).named("username")
    assert username.value == "johndoe"
    consent = submit_page_form(client, page, password=password)  # the prefilled username as it is
    assert is_consent_page(consent)


def test_oidcc_id_token_hint_with_prompt_none_gets_a_code_for_the_same_user(
    openid_tokens, openid_authorize, id_token_of, verify_id_token, relying_party, user
):
    tokens = openid_tokens(relying_party, user)
    hinted = verify_id_token(tokens["id_token"], audience=relying_party.client_id)

    silent = openid_authorize(relying_party, None, prompt="none", id_token_hint=tokens["id_token"])

    assert silent.pages == []
    assert id_token_of(silent)["sub"] == hinted["sub"]


# --- parameters that are not this service's, other orders, POST ----------------------------------


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param(
            {"unknown_parameter": "ignored"}, id="oidcc-ensure-request-with-unknown-parameter-succeeds"
        ),
        pytest.param({"display": "page"}, id="oidcc-display-page"),
        pytest.param({"display": "popup"}, id="oidcc-display-popup"),
        pytest.param({"ui_locales": "se"}, id="oidcc-ui-locales"),
        pytest.param({"claims_locales": "se"}, id="oidcc-claims-locales"),
        pytest.param({"acr_values": "1 2"}, id="oidcc-acr-values"),
        pytest.param({"claims": '{"userinfo": {"name": {"essential": true}}}'}, id="oidcc-claims-essential"),
    ],
)
def test_oidcc_parameters_the_service_does_not_use_are_ignored(
    openid_authorize, id_token_of, relying_party, user, extra
):
    authorization = openid_authorize(relying_party, user, **extra)

    assert authorization.pages == ["sign-in", "consent"]
    claims = id_token_of(authorization)
    assert claims["nonce"] == authorization.nonce
    assert claims["sub"] == str(user.public_id)


def test_oidcc_ensure_other_scope_order_succeeds(openid_authorize, id_token_of, relying_party, user):
    claims = id_token_of(openid_authorize(relying_party, user, scope="email openid"))

    assert claims["email"] == "johndoe@example.com"
    assert "name" not in claims


def test_oidcc_ensure_post_request_succeeds(openid_authorize, id_token_of, relying_party, user):
    authorization = openid_authorize(relying_party, user, method="post")

    assert authorization.pages == ["sign-in", "consent"]
    assert id_token_of(authorization)["nonce"] == authorization.nonce


def test_oidcc_response_type_missing_is_redirected_as_unsupported_response_type(authorize, relying_party):
    response = authorize(authorization_parameters(relying_party, scope="openid", response_type=None))

    query = authorization_error(response, relying_party.redirect_uri)
    assert query["error"] == "unsupported_response_type"
    assert query["state"] == AUTHORIZE_STATE


# --- redirect URIs ------------------------------------------------------------------------------


def assert_error_page_without_redirect(response) -> None:
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response["Content-Type"].startswith("text/html")
    assert not response.has_header("Location")
    assert not is_sign_in_page(response)
    assert not AuthorizationCode.objects.exists()


@pytest.mark.parametrize(
    "redirect_uri",
    [
        pytest.param("https://evil.example/callback", id="another site"),
        pytest.param("https://rp.example.com/", id="a prefix of the registered URI"),
        pytest.param("https://rp.example.com/callback/more", id="the registered URI with a longer path"),
        pytest.param("https://rp.example.com/callback?next=evil", id="the registered URI with a query"),
        pytest.param("http://rp.example.com/callback", id="http instead of https"),
        pytest.param(OTHER_RP_REDIRECT_URI, id="registered for another client"),
        pytest.param(RP_POST_LOGOUT_URI, id="registered as a post-logout URI only"),
    ],
)
@pytest.mark.parametrize("signed_in", [False, True], ids=["signed out", "signed in"])
def test_oidcc_ensure_registered_redirect_uri_an_unregistered_one_gets_an_error_page_never_a_redirect(
    openid_authorize, authorize, relying_party, other_relying_party, user, redirect_uri, signed_in
):
    if signed_in:
        openid_authorize(relying_party, user)
        AuthorizationCode.objects.all().delete()

    response = authorize(authorization_parameters(relying_party, scope="openid", redirect_uri=redirect_uri))

    assert_error_page_without_redirect(response)


def test_oidcc_ensure_redirect_uri_in_authorization_request_its_absence_gets_an_error_page(
    authorize, relying_party
):
    response = authorize(authorization_parameters(relying_party, scope="openid", redirect_uri=None))

    assert_error_page_without_redirect(response)


# --- code reuse -----------------------------------------------------------------------------------


@pytest.mark.parametrize("later", [0, 30], ids=["oidcc-codereuse", "oidcc-codereuse-30seconds"])
def test_oidcc_codereuse_is_refused_and_revokes_the_first_exchanges_tokens(
    openid_authorize, code_exchange, refresh, api_client, relying_party, user, clock, later
):
    authorization = openid_authorize(relying_party, user)
    first = code_exchange(authorization)
    assert first.status_code == HTTPStatus.OK
    tokens = first.json()
    assert api_client.get("/userinfo", **bearer(tokens["access_token"])).status_code == HTTPStatus.OK

    clock.advance(later)
    replay = code_exchange(authorization)

    assert replay.status_code == HTTPStatus.BAD_REQUEST
    assert replay.json()["error"] == "invalid_grant"
    assert "access_token" not in replay.json()
    session = Session.objects.get()
    assert session.revoked_at is not None
    assert session.end_reason == Session.EndReason.CODE_REPLAYED
    assert (
        api_client.get("/userinfo", **bearer(tokens["access_token"])).status_code == HTTPStatus.UNAUTHORIZED
    )
    refreshed = refresh(tokens["refresh_token"], client_id=relying_party.client_id)
    assert refreshed.status_code == HTTPStatus.BAD_REQUEST
    assert refreshed.json()["error"] == "invalid_grant"
