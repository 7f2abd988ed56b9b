"""GET and POST /logout (OpenID Connect RP-Initiated Logout 1.0).

With a valid id_token_hint (signed by this service, expired or not): the browser sign-in ends, the
session named by the hint's `sid` is revoked, and the browser goes to a post_logout_redirect_uri
registered for the client (with `state`), else to a "signed out" page: never an open redirect.
Without a valid hint: a confirmation page (a CSRF-protected form) comes first, and confirming ends
the browser sign-in only.
"""

from datetime import timedelta
from http import HTTPStatus
from urllib.parse import urlencode

import jwt
import pytest
from django.test import Client as Browser
from django.utils import timezone

from accounts.keys import ring
from accounts.models import Session
from accounts.oidc.idtokens import id_token_issue
from tests.forgery import foreign_rsa_key
from tests.oauth.conftest import (
    authorization_parameters,
    authorization_response,
    is_sign_in_page,
    page_form,
    page_text,
    submit_page_form,
)
from tests.oidc.conftest import (
    OPENID_SCOPE,
    OTHER_RP_POST_LOGOUT_URI,
    RP_POST_LOGOUT_URI,
    RP_REDIRECT_URI,
)

LOGOUT_STATE = "af0ifjsldkj"


@pytest.fixture
def csrf_browser() -> Browser:
    """A browser whose POSTs Django checks for CSRF as it does outside tests."""
    return Browser(enforce_csrf_checks=True)


def signed_in(browser) -> bool:
    return "_auth_user_id" in browser.session


def assert_browser_signed_out(authorize, browser, registered) -> None:
    """The browser sign-in has ended: the next authorization request shows the sign-in page."""
    assert not signed_in(browser)
    assert is_sign_in_page(authorize(authorization_parameters(registered, scope="openid"), browser=browser))


def assert_browser_still_signed_in(authorize, browser, registered) -> None:
    """The next authorization request (consent remembered) gets a code with no page."""
    assert signed_in(browser)
    response = authorize(authorization_parameters(registered, scope="openid"), browser=browser)
    assert authorization_response(response, registered.redirect_uri)["code"]


def refresh_status(refresh, tokens: dict, registered) -> tuple[int, str | None]:
    response = refresh(tokens["refresh_token"], client_id=registered.client_id)
    return response.status_code, response.json().get("error")


def an_expired_id_token_hint(tokens: dict, settings) -> str:
    """An ID token of the same session, issued (and expired) long ago, as an RP may still hold."""
    session = Session.objects.get(
        pk=jwt.decode(tokens["id_token"], options={"verify_signature": False})["sid"]
    )
    past = timezone.now() - timedelta(seconds=settings.ACCESS_TOKEN_LIFETIME_SECONDS + 3600)
    return id_token_issue(session=session, scope=OPENID_SCOPE, now=past)


def assert_signed_out_page(response, target: str | None) -> None:
    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"].startswith("text/html")
    assert not response.has_header("Location")
    assert "signed out" in " ".join(page_text(response)).lower()
    if target:
        assert target not in response.content.decode()  # not even as a link to follow


# --- with a valid id_token_hint ------------------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("hint", ["valid", "expired"])
def test_logout_with_a_valid_hint_ends_the_sign_in_revokes_its_session_and_redirects_with_state(
    openid_tokens,
    logout,
    authorize,
    refresh,
    verify_id_token,
    client,
    relying_party,
    other_relying_party,
    user,
    settings,
    method,
    hint,
):
    tokens = openid_tokens(relying_party, user)
    other = openid_tokens(other_relying_party, user)  # another session of the same user and browser
    id_token_hint = tokens["id_token"] if hint == "valid" else an_expired_id_token_hint(tokens, settings)
    if hint == "expired":
        with pytest.raises(jwt.ExpiredSignatureError):
            verify_id_token(id_token_hint, audience=relying_party.client_id)

    response = logout(
        {
            "id_token_hint": id_token_hint,
            "post_logout_redirect_uri": RP_POST_LOGOUT_URI,
            "state": LOGOUT_STATE,
        },
        method=method,
    )

    assert response.status_code == HTTPStatus.SEE_OTHER
    assert response["Location"] == f"{RP_POST_LOGOUT_URI}?{urlencode({'state': LOGOUT_STATE})}"
    session = Session.objects.get(client=relying_party.client)
    assert session.revoked_at is not None
    assert session.end_reason == Session.EndReason.LOGOUT
    assert refresh_status(refresh, tokens, relying_party) == (HTTPStatus.BAD_REQUEST, "invalid_grant")
    assert_browser_signed_out(authorize, client, relying_party)
    # Only the session the hint names: the other client's session goes on.
    assert Session.objects.get(client=other_relying_party.client).revoked_at is None
    assert refresh_status(refresh, other, other_relying_party)[0] == HTTPStatus.OK


def test_logout_with_a_valid_hint_and_its_own_client_id_redirects(openid_tokens, logout, relying_party, user):
    tokens = openid_tokens(relying_party, user)

    response = logout(
        {
            "id_token_hint": tokens["id_token"],
            "client_id": relying_party.client_id,
            "post_logout_redirect_uri": RP_POST_LOGOUT_URI,
        }
    )

    assert response.status_code == HTTPStatus.SEE_OTHER
    assert response["Location"] == RP_POST_LOGOUT_URI


def test_logout_with_a_valid_hint_from_another_browser_still_revokes_the_named_session(
    openid_tokens, logout, authorize, refresh, client, relying_party, user
):
    tokens = openid_tokens(relying_party, user)

    response = logout({"id_token_hint": tokens["id_token"]}, browser=Browser())

    assert_signed_out_page(response, None)
    assert refresh_status(refresh, tokens, relying_party) == (HTTPStatus.BAD_REQUEST, "invalid_grant")
    assert_browser_still_signed_in(authorize, client, relying_party)  # that browser's sign-in is its own


@pytest.mark.parametrize(
    "target",
    [
        pytest.param(None, id="no post_logout_redirect_uri"),
        pytest.param("https://evil.example/", id="another site"),
        pytest.param("https://rp.example.com/signed", id="a prefix of the registered URI"),
        pytest.param("https://rp.example.com/signed-out/more", id="the registered URI with a longer path"),
        pytest.param("https://rp.example.com/signed-out?next=https://evil.example", id="with a query"),
        pytest.param("https://rp.example.com/signed-out#x", id="with a fragment"),
        pytest.param("https://rp.example.com/signed-out.evil.example", id="a longer host"),
        pytest.param("//evil.example/", id="scheme-relative"),
        pytest.param(RP_REDIRECT_URI, id="the client's redirect_uri, not a post-logout URI"),
        pytest.param(OTHER_RP_POST_LOGOUT_URI, id="registered for another client"),
    ],
)
def test_logout_to_an_unregistered_post_logout_uri_shows_the_signed_out_page_never_an_open_redirect(
    openid_tokens, logout, authorize, refresh, client, relying_party, other_relying_party, user, target
):
    tokens = openid_tokens(relying_party, user)

    response = logout(
        {"id_token_hint": tokens["id_token"], "state": LOGOUT_STATE}
        | ({"post_logout_redirect_uri": target} if target else {})
    )

    assert_signed_out_page(response, target)
    # The sign-out itself still happened.
    assert refresh_status(refresh, tokens, relying_party) == (HTTPStatus.BAD_REQUEST, "invalid_grant")
    assert_browser_signed_out(authorize, client, relying_party)


@pytest.mark.parametrize(
    "target",
    [
        pytest.param(RP_POST_LOGOUT_URI, id="the hinted client's own uri"),
        pytest.param(OTHER_RP_POST_LOGOUT_URI, id="the other client's uri"),
    ],
)
def test_logout_with_a_hint_and_another_clients_id_redirects_nowhere(
    openid_tokens, logout, relying_party, other_relying_party, user, target
):
    """RP-Initiated Logout §2: a client_id beside an id_token_hint must be the client the ID
    token was issued to; when it is not, the request is not trusted with any redirect."""
    tokens = openid_tokens(relying_party, user)

    response = logout(
        {
            "id_token_hint": tokens["id_token"],
            "client_id": other_relying_party.client_id,
            "post_logout_redirect_uri": target,
        }
    )

    assert_signed_out_page(response, target)


# --- without a valid id_token_hint: confirm first -------------------------------------------------


def a_hint_signed_by_an_unknown_key_with_the_real_kid(tokens: dict) -> str:
    header = jwt.get_unverified_header(tokens["id_token"])
    claims = jwt.decode(tokens["id_token"], options={"verify_signature": False})
    return jwt.encode(
        claims, foreign_rsa_key(), algorithm="RS256", headers={"kid": header["kid"], "typ": "JWT"}
    )


def a_hint_of_another_issuer(tokens: dict) -> str:
    """Signed with the service's own key, but naming another issuer."""
    key, private = ring.signing_key()
    claims = jwt.decode(tokens["id_token"], options={"verify_signature": False})
    return jwt.encode(
        {**claims, "iss": "https://other-issuer.example"},
        private,
        algorithm=key.algorithm,
        headers={"kid": key.kid, "typ": "JWT"},
    )


INVALID_HINTS = [
    pytest.param(lambda tokens: None, id="no hint"),
    pytest.param(lambda tokens: "not-a-jwt", id="garbage"),
    pytest.param(lambda tokens: tokens["access_token"], id="an access token"),
    pytest.param(lambda tokens: tokens["refresh_token"], id="a refresh token"),
    pytest.param(lambda tokens: tokens["id_token"][:-4] + "AAAA", id="badly signed"),
    pytest.param(a_hint_signed_by_an_unknown_key_with_the_real_kid, id="signed by an unknown key"),
    pytest.param(a_hint_of_another_issuer, id="of another issuer"),
]


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("hint_of", INVALID_HINTS)
def test_logout_without_a_valid_hint_asks_to_confirm_and_ends_nothing_yet(
    openid_tokens, logout, authorize, refresh, client, relying_party, user, hint_of, method
):
    tokens = openid_tokens(relying_party, user)
    hint = hint_of(tokens)

    response = logout(
        {
            "post_logout_redirect_uri": RP_POST_LOGOUT_URI,
            "state": LOGOUT_STATE,
            "client_id": relying_party.client_id,
        }
        | ({"id_token_hint": hint} if hint else {}),
        method=method,
    )

    assert response.status_code == HTTPStatus.OK
    assert not response.has_header("Location")
    form = page_form(response)
    assert form.method == "post"
    assert "confirm" in form.submit_names
    assert [field.type for field in form.named("csrfmiddlewaretoken")] == ["hidden"]
    assert_browser_still_signed_in(authorize, client, relying_party)
    assert Session.objects.get().revoked_at is None
    assert refresh_status(refresh, tokens, relying_party)[0] == HTTPStatus.OK


def test_a_confirmation_post_without_the_csrf_token_is_403_and_ends_nothing(
    openid_tokens, logout, authorize, refresh, csrf_browser, relying_party, user
):
    tokens = openid_tokens(relying_party, user, browser=csrf_browser)
    page = logout({"client_id": relying_party.client_id}, browser=csrf_browser)
    assert "confirm" in page_form(page).submit_names

    response = logout(
        {
            "confirm": "yes",
            "client_id": relying_party.client_id,
            "post_logout_redirect_uri": RP_POST_LOGOUT_URI,
        },
        method="post",
        browser=csrf_browser,
    )

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert not response.has_header("Location")
    assert_browser_still_signed_in(authorize, csrf_browser, relying_party)
    assert refresh_status(refresh, tokens, relying_party)[0] == HTTPStatus.OK


def test_once_confirmed_it_ends_the_browser_sign_in_only_and_redirects_to_the_clients_uri(
    openid_tokens, logout, authorize, refresh, csrf_browser, relying_party, user
):
    tokens = openid_tokens(relying_party, user, browser=csrf_browser)
    page = logout(
        {
            "client_id": relying_party.client_id,
            "post_logout_redirect_uri": RP_POST_LOGOUT_URI,
            "state": LOGOUT_STATE,
        },
        browser=csrf_browser,
    )

    response = submit_page_form(csrf_browser, page, press="confirm")

    assert response.status_code == HTTPStatus.SEE_OTHER
    assert response["Location"] == f"{RP_POST_LOGOUT_URI}?{urlencode({'state': LOGOUT_STATE})}"
    assert_browser_signed_out(authorize, csrf_browser, relying_party)
    # No token session ends without a hint naming it.
    assert Session.objects.get().revoked_at is None
    assert refresh_status(refresh, tokens, relying_party)[0] == HTTPStatus.OK


@pytest.mark.parametrize(
    ("client_id", "target"),
    [
        pytest.param(None, RP_POST_LOGOUT_URI, id="no client_id"),
        pytest.param("other-rp", RP_POST_LOGOUT_URI, id="a URI of another client than client_id"),
        pytest.param("no-such-client", RP_POST_LOGOUT_URI, id="an unknown client_id"),
        pytest.param("rp-app", "https://evil.example/", id="an unregistered URI"),
        pytest.param("rp-app", None, id="no post_logout_redirect_uri"),
    ],
)
def test_once_confirmed_without_a_uri_registered_for_the_given_client_it_shows_the_signed_out_page(
    openid_tokens,
    logout,
    authorize,
    csrf_browser,
    relying_party,
    other_relying_party,
    user,
    client_id,
    target,
):
    openid_tokens(relying_party, user, browser=csrf_browser)
    params = {"client_id": client_id, "post_logout_redirect_uri": target, "state": LOGOUT_STATE}
    page = logout({name: value for name, value in params.items() if value}, browser=csrf_browser)

    response = submit_page_form(csrf_browser, page, press="confirm")

    assert_signed_out_page(response, target)
    assert_browser_signed_out(authorize, csrf_browser, relying_party)
    assert Session.objects.get().revoked_at is None


@pytest.mark.parametrize("page", ["confirmation", "signed out"])
def test_the_logout_pages_are_not_stored_and_cannot_be_framed(
    openid_tokens, logout, relying_party, user, page
):
    tokens = openid_tokens(relying_party, user)

    response = logout({"id_token_hint": tokens["id_token"]} if page == "signed out" else {})

    assert response.status_code == HTTPStatus.OK
    assert "no-store" in response["Cache-Control"]
    assert response["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
