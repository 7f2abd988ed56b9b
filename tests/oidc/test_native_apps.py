"""A native app's private-use redirect URI (RFC 8252 §7.1, the contract's "Redirect URIs"):
every redirect of /authorize (the code, its errors, the prompt=none answers) and /logout's
post-logout redirect reach a registered `com.example.app:` URI, as they reach an https one; a
private-use URI the client did not register still gets the error page, never a redirect."""

from http import HTTPStatus
from urllib.parse import urlencode

import pytest

from accounts.models import Session
from accounts.oauth.models import AuthorizationCode
from tests.oauth.conftest import (
    authorization_error,
    authorization_parameters,
    authorization_response,
    submit_page_form,
)

# Nothing here can differ by database (redirects to private-use schemes): runs once, in the SQLite run.
pytestmark = pytest.mark.once

NATIVE_REDIRECT_URI = "com.example.app:/callback"
NATIVE_POST_LOGOUT_URI = "com.example.app:/signed-out"


@pytest.fixture
def submit_consent(client):
    """submit_consent(page, press) -> the answer to the consent page's "allow" or "deny"."""
    return lambda page, press: submit_page_form(client, page, press=press)


@pytest.fixture
def native_app(relying_party_factory):
    """A public third-party app on a phone: private-use redirect and post-logout URIs only."""
    return relying_party_factory(
        client_id="native-app",
        name="Native app",
        redirect_uris=(NATIVE_REDIRECT_URI,),
        post_logout_redirect_uris=(NATIVE_POST_LOGOUT_URI,),
    )


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_native_app_signs_in_gets_its_code_at_its_private_use_uri_and_exchanges_it(
    openid_authorize, code_exchange, native_app, user, method
):
    authorization = openid_authorize(native_app, user, method=method)

    assert authorization.pages == ["sign-in", "consent"]
    response = code_exchange(authorization)
    assert response.status_code == HTTPStatus.OK, response.content
    assert Session.objects.filter(client=native_app.client, user=user).count() == 1


def test_the_code_redirect_carries_state_and_iss_on_the_private_use_uri(
    sign_in_on_the_page, submit_consent, native_app, user, settings
):
    answer = submit_consent(sign_in_on_the_page(authorization_parameters(native_app), user), "allow")

    assert answer["Location"].startswith(NATIVE_REDIRECT_URI + "?")
    query = authorization_response(answer, NATIVE_REDIRECT_URI)
    assert query["state"] == "state-of-the-client"
    assert query["iss"] == settings.TOKEN_ISSUER
    assert AuthorizationCode.objects.filter(client=native_app.client).count() == 1


def test_deny_on_the_consent_page_reaches_the_private_use_uri_with_access_denied(
    sign_in_on_the_page, submit_consent, native_app, user
):
    answer = submit_consent(sign_in_on_the_page(authorization_parameters(native_app), user), "deny")

    assert authorization_error(answer, NATIVE_REDIRECT_URI)["error"] == "access_denied"
    assert not AuthorizationCode.objects.exists()


@pytest.mark.parametrize("method", ["get", "post"])
def test_an_invalid_request_is_redirected_to_the_private_use_uri_with_its_error(
    authorize, native_app, method
):
    response = authorize(authorization_parameters(native_app, code_challenge=None), method=method)

    assert authorization_error(response, NATIVE_REDIRECT_URI)["error"] == "invalid_request"


@pytest.mark.parametrize("method", ["get", "post"])
def test_prompt_none_of_a_signed_out_browser_reaches_the_private_use_uri_with_login_required(
    authorize, native_app, method
):
    response = authorize(authorization_parameters(native_app, prompt="none"), method=method)

    assert authorization_error(response, NATIVE_REDIRECT_URI)["error"] == "login_required"


def test_prompt_none_without_consent_reaches_the_private_use_uri_with_consent_required(
    authorize, openid_authorize, relying_party, native_app, user
):
    openid_authorize(relying_party, user)  # the browser is signed in; the native app has no consent yet

    response = authorize(authorization_parameters(native_app, prompt="none"))

    assert authorization_error(response, NATIVE_REDIRECT_URI)["error"] == "consent_required"


@pytest.mark.parametrize(
    "redirect_uri",
    ["com.example.app:/other", "com.example.evil:/callback", "javascript:alert(1)", "data:text/html,hi"],
)
def test_an_unregistered_uri_of_any_scheme_still_gets_the_error_page(authorize, native_app, redirect_uri):
    response = authorize(authorization_parameters(native_app, redirect_uri=redirect_uri))

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert not response.has_header("Location")


@pytest.mark.parametrize("method", ["get", "post"])
def test_logout_redirects_to_the_registered_private_use_post_logout_uri_with_state(
    openid_tokens, logout, native_app, user, method
):
    tokens = openid_tokens(native_app, user)

    response = logout(
        {
            "id_token_hint": tokens["id_token"],
            "post_logout_redirect_uri": NATIVE_POST_LOGOUT_URI,
            "state": "s1",
        },
        method=method,
    )

    assert response.status_code == HTTPStatus.SEE_OTHER
    assert response["Location"] == f"{NATIVE_POST_LOGOUT_URI}?{urlencode({'state': 's1'})}"
    assert Session.objects.get(client=native_app.client).revoked_at is not None


def test_logout_to_an_unregistered_private_use_uri_shows_the_signed_out_page(
    openid_tokens, logout, native_app, user
):
    tokens = openid_tokens(native_app, user)

    response = logout({"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": "com.example.app:/x"})

    assert response.status_code == HTTPStatus.OK
    assert not response.has_header("Location")
