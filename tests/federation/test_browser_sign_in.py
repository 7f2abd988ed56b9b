"""Sign in with Google in the browser: the sign-in page's link, the provider's pages, the callback.

The browser on this service's side is Django's test client (with its cookies); on the provider's
side, a requests session that signs in on the stand-in provider's real pages (Node's
oidc-provider on loopback). The provider redirects to this service's callback, which the test
client then opens, as a browser would.
"""

import html
import re
from http import HTTPStatus
from urllib.parse import parse_qsl, urlsplit

import jwt
import pytest
import requests
from django.test import Client

from accounts.federation.models import LinkedIdentity
from accounts.models import Session, User
from tests.federation.conftest import WEB_CLIENT_ID, ProviderServer
from tests.oauth.conftest import (
    authorization_parameters,
    authorization_response,
    is_sign_in_page,
    page_form,
    pkce_s256,
)

STATE_KEY = re.compile(r"^_state_google_")


@pytest.fixture
def first_party_app(oauth_client_factory):
    return oauth_client_factory(name="Example app", client_id="example-app", first_party=True)


def provider_link(page) -> str:
    """The href of the sign-in page's "Sign in with Google" link."""
    match = re.search(
        r'<a class="button provider" href="([^"]+)">Sign in with Google</a>', page.content.decode()
    )
    assert match, page.content.decode()
    return html.unescape(match.group(1))


def through_the_provider(browser: Client, provider: ProviderServer, start: str, *, sub: str):
    """Follow `start` (/login/google...) to the provider, sign in there as `sub`, and open the
    callback the provider redirects to; return the callback's response."""
    to_provider = browser.get(start)
    assert to_provider.status_code == HTTPStatus.FOUND, to_provider.content[:300]
    callback = urlsplit(provider.sign_in(requests.Session(), to_provider["Location"], sub=sub))
    assert callback.path == "/login/google/callback"
    return browser.get(f"{callback.path}?{callback.query}")


def session_keys(session) -> list[str]:
    return list(session.keys())  # a session is not iterable


def signed_in_user(browser: Client):
    return browser.session.get("_auth_user_id")


def exchange(api_client, app, code: str, verifier: str) -> dict:
    response = api_client.post(
        "/token",
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": app.redirect_uri,
            "code_verifier": verifier,
            "client_id": app.client_id,
        },
    )
    assert response.status_code == HTTPStatus.OK, response.content
    return response.json()


def test_a_new_user_signs_in_with_google_and_the_authorization_request_continues(
    provider, client, api_client, first_party_app
):
    sub = provider.account("g-b1", email="new.person@example.com", email_verified=True, name="New Person")
    pkce = pkce_s256()
    params = authorization_parameters(
        first_party_app, pkce=pkce, scope="openid email profile", nonce="rp-nonce"
    )
    page = client.get("/authorize", params)
    assert is_sign_in_page(page)

    callback = through_the_provider(client, provider, provider_link(page), sub=sub)
    assert callback.status_code == HTTPStatus.SEE_OTHER, callback.content[:500]
    assert callback["Location"].startswith("/authorize?")
    done = client.get(callback["Location"])
    code = authorization_response(done, first_party_app.redirect_uri)["code"]

    tokens = exchange(api_client, first_party_app, code, pkce.verifier)
    claims = jwt.decode(tokens["id_token"], options={"verify_signature": False})
    assert (claims["email"], claims["email_verified"], claims["nonce"]) == (
        "new.person@example.com",
        True,
        "rp-nonce",
    )
    user = User.objects.get(email="new.person@example.com")
    assert (user.username, user.full_name, user.has_usable_password()) == ("new.person", "New Person", False)
    assert LinkedIdentity.objects.filter(user=user, issuer=provider.issuer, subject=sub).exists()
    assert Session.objects.get().user == user


@pytest.mark.parametrize(
    ("request_asks", "provider_asked"),
    [
        ({"prompt": "login"}, {"prompt": "login", "max_age": "0"}),
        ({"max_age": "0"}, {"prompt": "login", "max_age": "0"}),
        ({"max_age": "300"}, {"max_age": "300"}),
    ],
)
def test_a_fresh_sign_in_asked_by_the_app_is_asked_of_the_provider_and_proven(
    provider, client, first_party_app, request_asks, provider_asked
):
    sub = provider.account("g-b2", email="again@example.com", email_verified=True)
    page = client.get("/authorize", authorization_parameters(first_party_app, **request_asks))
    to_provider = client.get(provider_link(page))
    query = dict(parse_qsl(urlsplit(to_provider["Location"]).query))
    assert {name: query.get(name) for name in provider_asked} == provider_asked
    if "prompt" not in provider_asked:
        assert "prompt" not in query

    callback = urlsplit(provider.sign_in(requests.Session(), to_provider["Location"], sub=sub))
    back = client.get(f"{callback.path}?{callback.query}")
    done = client.get(back["Location"])  # the request continues, without asking again
    assert "code" in authorization_response(done, first_party_app.redirect_uri)


def test_a_provider_sign_in_older_than_the_request_is_refused_when_a_fresh_one_was_asked(
    provider, client, first_party_app
):
    sub = provider.account("g-b9", email="stale@example.com", email_verified=True)
    page = client.get("/authorize", authorization_parameters(first_party_app, prompt="login"))
    to_provider = client.get(provider_link(page))
    callback = urlsplit(provider.sign_in(requests.Session(), to_provider["Location"], sub=sub))
    # As if the provider had answered from a sign-in made before this request began.
    session = client.session
    key = next(key for key in session_keys(session) if STATE_KEY.match(key))
    session[key]["data"]["started_at"] += 120
    session.save()

    assert_error_page(client.get(f"{callback.path}?{callback.query}"), "fresh sign-in", client)


def test_the_authorization_request_goes_through_consent_for_a_third_party_client(
    provider, client, oauth_client_factory
):
    app = oauth_client_factory(name="Third party", client_id="third-party")
    sub = provider.account("g-b3", email="consent@example.com", email_verified=True)
    page = client.get("/authorize", authorization_parameters(app))
    callback = through_the_provider(client, provider, provider_link(page), sub=sub)

    consent = client.get(callback["Location"])
    assert consent.status_code == HTTPStatus.OK
    assert {"allow", "deny"} <= page_form(consent).submit_names


def test_without_google_configured_there_is_no_link_and_no_flow(client, settings, first_party_app):
    settings.GOOGLE_CLIENT_ID = ""
    page = client.get("/authorize", authorization_parameters(first_party_app))
    assert is_sign_in_page(page)
    assert b"Sign in with Google" not in page.content
    assert client.get("/login/google").status_code == HTTPStatus.NOT_FOUND
    assert client.get("/login/google/callback?code=x&state=y").status_code == HTTPStatus.NOT_FOUND


def test_signing_in_directly_shows_a_signed_in_page(provider, client):
    sub = provider.account("g-b4", email="direct@example.com", email_verified=True)
    page = through_the_provider(client, provider, "/login/google", sub=sub)
    assert page.status_code == HTTPStatus.OK
    assert b"You are signed in" in page.content
    assert signed_in_user(client) == str(User.objects.get(email="direct@example.com").pk)


def test_a_next_outside_authorize_is_ignored(provider, client):
    sub = provider.account("g-b5", email="next@example.com", email_verified=True)
    page = through_the_provider(
        client, provider, "/login/google?next=https://evil.example.com/authorize", sub=sub
    )
    assert page.status_code == HTTPStatus.OK  # the signed-in page, not a redirect away


# --- the password step: a local user's email --------------------------------------------------------


def test_a_local_users_email_links_only_after_that_accounts_password(
    provider, client, user, password, first_party_app
):
    sub = provider.account("g-b6", email=user.email, email_verified=True)
    page = client.get("/authorize", authorization_parameters(first_party_app))
    callback = through_the_provider(client, provider, provider_link(page), sub=sub)
    assert callback.status_code == HTTPStatus.SEE_OTHER
    assert callback["Location"] == "/login/google/link"
    assert signed_in_user(client) is None

    link_page = client.get("/login/google/link")
    assert link_page.status_code == HTTPStatus.OK
    assert user.username.encode() in link_page.content
    wrong = client.post("/login/google/link", {"password": "not the password"})
    assert wrong.status_code == HTTPStatus.OK
    assert b"Incorrect username or password" in wrong.content
    assert not LinkedIdentity.objects.exists()
    assert signed_in_user(client) is None

    linked = client.post("/login/google/link", {"password": password})
    assert linked.status_code == HTTPStatus.SEE_OTHER
    assert linked["Location"].startswith("/authorize?")
    assert LinkedIdentity.objects.get().user == user
    assert signed_in_user(client) == str(user.pk)
    user.refresh_from_db()
    assert user.email_verified is True
    assert "code" in authorization_response(client.get(linked["Location"]), first_party_app.redirect_uri)

    # From then on the provider signs in to it directly.
    other_browser = Client()
    again = through_the_provider(other_browser, provider, "/login/google", sub=sub)
    assert again.status_code == HTTPStatus.OK
    assert signed_in_user(other_browser) == str(user.pk)


def test_the_password_step_is_throttled_like_every_sign_in(provider, client, user, settings):
    settings.LOGIN_FAILURE_LIMIT = 2
    sub = provider.account("g-b7", email=user.email, email_verified=True)
    through_the_provider(client, provider, "/login/google", sub=sub)
    for _ in range(2):
        client.post("/login/google/link", {"password": "wrong"})
    blocked = client.post("/login/google/link", {"password": "wrong"})
    assert blocked.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert not LinkedIdentity.objects.exists()


def test_the_password_step_needs_a_pending_link(provider, client, user, password):
    response = client.post("/login/google/link", {"password": password})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert signed_in_user(client) is None


def test_the_password_step_is_csrf_protected(provider, user, password):
    browser = Client(enforce_csrf_checks=True)
    sub = provider.account("g-b8", email=user.email, email_verified=True)
    through_the_provider(browser, provider, "/login/google", sub=sub)
    response = browser.post("/login/google/link", {"password": password})
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert not LinkedIdentity.objects.exists()


def test_each_google_path_answers_with_a_trailing_slash_too_and_never_redirects_to_the_other_form(
    provider, client, user, password
):
    sub = provider.account("g-s1", email=user.email, email_verified=True)

    to_provider = client.get("/login/google/")
    assert to_provider.status_code == HTTPStatus.FOUND
    assert to_provider["Location"].startswith(f"{provider.issuer}/auth?")  # the provider, not /login/google
    callback = urlsplit(provider.sign_in(requests.Session(), to_provider["Location"], sub=sub))
    to_link = client.get(f"{callback.path}/?{callback.query}")
    assert to_link.status_code == HTTPStatus.SEE_OTHER
    assert to_link["Location"] == "/login/google/link"  # the password step: the callback itself answered
    link_page = client.get("/login/google/link/")
    assert link_page.status_code == HTTPStatus.OK
    assert user.username.encode() in link_page.content
    linked = client.post("/login/google/link/", {"password": password})
    assert linked.status_code == HTTPStatus.OK
    assert b"You are signed in" in linked.content
    assert LinkedIdentity.objects.get().user == user
    assert signed_in_user(client) == str(user.pk)


@pytest.mark.parametrize("path", ["/login/google", "/login/google/callback", "/login/google/link"])
@pytest.mark.parametrize("slash", ["", "/"])
def test_without_google_configured_each_path_is_a_404_with_or_without_slash(
    client, settings, db, path, slash
):
    settings.GOOGLE_CLIENT_ID = ""

    response = client.get(path + slash)

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert not response.has_header("Location")


# --- every failed check is a 400 page that signs no one in -------------------------------------------


def assert_error_page(response, text: str, browser: Client) -> None:
    assert response.status_code == HTTPStatus.BAD_REQUEST, response.content[:500]
    assert response["Content-Type"].startswith("text/html")
    assert text in html.unescape(response.content.decode())
    assert signed_in_user(browser) is None


def callback_url(browser: Client, provider: ProviderServer, *, sub: str) -> str:
    """Start the flow and sign in at the provider; return the callback URL, not yet opened."""
    to_provider = browser.get("/login/google")
    callback = urlsplit(provider.sign_in(requests.Session(), to_provider["Location"], sub=sub))
    return f"{callback.path}?{callback.query}"


def test_a_replayed_state_is_refused(provider, client):
    sub = provider.account("g-c1", email="replay@example.com", email_verified=True)
    url = callback_url(client, provider, sub=sub)
    assert client.get(url).status_code == HTTPStatus.OK
    signed_in = signed_in_user(client)

    replayed = client.get(url)  # the same browser, the same state
    assert replayed.status_code == HTTPStatus.BAD_REQUEST
    assert "already used" in html.unescape(replayed.content.decode())
    assert signed_in_user(client) == signed_in
    assert not any(STATE_KEY.match(key) for key in session_keys(client.session))


def test_a_made_up_state_is_refused(provider, client):
    client.get("/login/google")  # a real state exists in this browser, but not this one
    assert_error_page(client.get("/login/google/callback?code=abc&state=made-up"), "already used", client)


def test_a_missing_state_is_refused(provider, client):
    assert_error_page(client.get("/login/google/callback?code=abc"), "already used", client)


def test_a_callback_opened_in_another_browser_is_refused(provider, client):
    sub = provider.account("g-c2", email="other.browser@example.com", email_verified=True)
    url = callback_url(client, provider, sub=sub)
    attacker = Client()
    assert_error_page(attacker.get(url), "another browser", attacker)
    assert not User.objects.exists()


def test_a_provider_error_without_this_browsers_state_shows_nothing_of_it(provider, client):
    response = client.get("/login/google/callback?error=x&error_description=Call+0800+support&state=made-up")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert b"0800" not in response.content


def test_a_state_older_than_ten_minutes_is_refused(provider, client):
    sub = provider.account("g-c9", email="slow@example.com", email_verified=True)
    url = callback_url(client, provider, sub=sub)
    session = client.session
    key = next(key for key in session_keys(session) if STATE_KEY.match(key))
    session[key]["data"]["started_at"] -= 601
    session.save()
    assert_error_page(client.get(url), "expired", client)


def test_a_provider_error_is_shown_and_spends_the_state(provider, client):
    to_provider = client.get("/login/google")
    state = dict(part.split("=", 1) for part in urlsplit(to_provider["Location"]).query.split("&"))["state"]
    response = client.get(
        f"/login/google/callback?error=access_denied&error_description=User+cancelled&state={state}"
    )
    assert_error_page(response, "User cancelled", client)
    assert not any(STATE_KEY.match(key) for key in session_keys(client.session))


def test_a_nonce_that_is_not_this_browsers_is_refused(provider, client):
    sub = provider.account("g-c3", email="nonce@example.com", email_verified=True)
    url = callback_url(client, provider, sub=sub)
    session = client.session
    key = next(key for key in session_keys(session) if STATE_KEY.match(key))
    session[key]["data"]["nonce"] = "another-sign-in's-nonce"
    session.save()

    assert_error_page(client.get(url), "nonce", client)
    assert not User.objects.exists()


def test_a_code_the_provider_refuses_is_an_error_page(provider, client):
    sub = provider.account("g-c4", email="code@example.com", email_verified=True)
    url = callback_url(client, provider, sub=sub)
    forged = re.sub(r"code=[^&]+", "code=not-the-providers-code", url)
    assert_error_page(client.get(forged), "refused", client)


def test_an_unverified_email_is_refused_in_the_browser(provider, client):
    sub = provider.account("g-c5", email="unverified@example.com", email_verified=False)
    assert_error_page(client.get(callback_url(client, provider, sub=sub)), "not verified", client)
    assert not User.objects.exists()


def test_a_disabled_linked_user_is_refused_in_the_browser(provider, client, user_factory):
    user = user_factory(email="disabled@example.com", is_active=False)
    LinkedIdentity.objects.create(user=user, issuer=provider.issuer, subject="g-c6")
    provider.account("g-c6", email=user.email, email_verified=True)
    assert_error_page(client.get(callback_url(client, provider, sub="g-c6")), "disabled", client)


@pytest.mark.parametrize("path", ["/.well-known/openid-configuration", "/token"])
def test_a_provider_that_does_not_answer_is_a_503_page(provider, client, path):
    sub = provider.account("g-c8", email="down@example.com", email_verified=True)
    url = callback_url(client, provider, sub=sub)
    from accounts.federation import providers

    providers.reset()
    provider.control("fail", {"paths": [path]})
    response = client.get(url)
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE, response.content[:300]
    assert response["Retry-After"]
    assert signed_in_user(client) is None


def test_the_redirect_to_the_provider_carries_state_nonce_and_pkce_s256(provider, client, settings):
    response = client.get("/login/google")
    query = dict(part.split("=", 1) for part in urlsplit(response["Location"]).query.split("&"))
    assert response["Location"].startswith(f"{provider.issuer}/auth?")
    assert query["client_id"] == WEB_CLIENT_ID
    assert query["code_challenge_method"] == "S256"
    assert len(query["code_challenge"]) == 43
    assert query["nonce"]
    assert query["state"]
    assert query["redirect_uri"] == "http%3A%2F%2F127.0.0.1%3A8000%2Flogin%2Fgoogle%2Fcallback"
    assert "openid" in query["scope"]


def test_a_user_with_a_second_factor_is_asked_for_it_after_the_provider(provider, client, clock):
    import pyotp

    from accounts.mfa import factors

    sub = provider.account("g-mfa", email="mfa@example.com", email_verified=True)
    first = through_the_provider(client, provider, "/login/google", sub=sub)  # creates the user
    assert first.status_code == HTTPStatus.OK
    user = User.objects.get(email="mfa@example.com")
    factors.totp_begin(user)
    totp = pyotp.TOTP(factors.enrolment(user).secret)
    factors.totp_confirm(user, totp.at(clock.now()))
    clock.advance(30)
    browser = Client()

    callback = through_the_provider(browser, provider, "/login/google", sub=sub)

    assert callback.status_code == HTTPStatus.SEE_OTHER
    assert callback["Location"] == "/sign-in/second-factor"
    assert signed_in_user(browser) is None  # not before the code
    done = browser.post("/sign-in/second-factor", {"code": totp.at(clock.now())})
    assert done.status_code == HTTPStatus.SEE_OTHER
    assert signed_in_user(browser) == str(user.pk)
    assert browser.session["accounts.sign_in_methods"] == ["fed", "otp", "mfa"]
