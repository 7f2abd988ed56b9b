"""GET and POST /userinfo (OpenID Connect Core §5.3, RFC 6750): the claims of the access token's
scopes, for any client's token that holds openid; 401 as at /users/me/, 403 insufficient_scope
for a token without openid."""

from datetime import timedelta
from http import HTTPStatus

import pytest
from django.utils import timezone

from accounts import services
from accounts.callers import Caller
from accounts.models import Session
from tests.oidc.conftest import OPENID_SCOPE, bearer

# Nothing here can differ by database (claims from a user row): runs once, in the SQLite run.
pytestmark = pytest.mark.once

ALL_CLAIMS = {
    "sub",
    "name",
    "preferred_username",
    "email",
    "email_verified",
}


@pytest.fixture
def userinfo(api_client):
    """userinfo(access_token, method="get") -> the response of /userinfo with that bearer token
    in the Authorization header (None: no header)."""

    def call(access_token: str | None, *, method: str = "get", **extra):
        headers = bearer(access_token) if access_token is not None else {}
        return getattr(api_client, method)("/userinfo", **extra, **headers)

    return call


@pytest.mark.parametrize("method", ["get", "post"], ids=["oidcc-userinfo-get", "oidcc-userinfo-post-header"])
def test_oidcc_userinfo_answers_the_bearer_token_in_the_authorization_header(
    openid_tokens, userinfo, relying_party, user, method
):
    tokens = openid_tokens(relying_party, user, scope=OPENID_SCOPE)

    response = userinfo(tokens["access_token"], method=method)

    assert response.status_code == HTTPStatus.OK, response.content
    assert response.json() == {
        "sub": str(user.public_id),
        "name": "John Doe",
        "preferred_username": "johndoe",
        "email": "johndoe@example.com",
        "email_verified": False,
    }
    assert "no-store" in response["Cache-Control"]


def test_oidcc_userinfo_post_body_is_not_supported_the_token_goes_in_the_header(
    openid_tokens, api_client, relying_party, user
):
    """RFC 6750 §2.2 (a form-encoded `access_token`) is optional; this service takes the header only."""
    tokens = openid_tokens(relying_party, user)

    response = api_client.post("/userinfo", {"access_token": tokens["access_token"]})

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response["WWW-Authenticate"] == "Bearer"
    assert "sub" not in response.json()


@pytest.mark.parametrize(
    ("scope", "released"),
    [
        pytest.param("openid", {"sub"}, id="openid"),
        pytest.param("openid profile", {"sub", "name", "preferred_username"}, id="oidcc-scope-profile"),
        pytest.param("openid email", {"sub", "email", "email_verified"}, id="oidcc-scope-email"),
        pytest.param(OPENID_SCOPE, ALL_CLAIMS, id="oidcc-scope-all"),
        pytest.param("email openid", {"sub", "email", "email_verified"}, id="oidcc-ensure-other-scope-order"),
    ],
)
def test_oidcc_scope_claims_are_at_userinfo_only_with_their_scope(
    openid_tokens, userinfo, relying_party, user, scope, released
):
    tokens = openid_tokens(relying_party, user, scope=scope)

    response = userinfo(tokens["access_token"])

    assert response.status_code == HTTPStatus.OK
    assert set(response.json()) == released


def test_a_refresh_narrowed_to_fewer_scopes_narrows_userinfo_too(
    openid_tokens, refresh, userinfo, relying_party, user
):
    tokens = openid_tokens(relying_party, user, scope=OPENID_SCOPE)

    narrowed = refresh(tokens["refresh_token"], client_id=relying_party.client_id, scope="openid email")

    assert narrowed.status_code == HTTPStatus.OK
    assert set(userinfo(narrowed.json()["access_token"]).json()) == {"sub", "email", "email_verified"}


@pytest.mark.parametrize(
    "token_without_openid",
    [
        pytest.param(lambda login, start, user, client: login(user)["access_token"], id="a /login token"),
        pytest.param(
            lambda login, start, user, client: start(client, user, scope="profile email")["access_token"],
            id="a client's token of a session without openid",
        ),
    ],
)
@pytest.mark.parametrize("method", ["get", "post"])
def test_userinfo_refuses_a_token_without_openid_with_403_insufficient_scope(
    login, openid_tokens, userinfo, relying_party, user, token_without_openid, method
):
    access_token = token_without_openid(login, openid_tokens, user, relying_party)

    response = userinfo(access_token, method=method)

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert response["WWW-Authenticate"].startswith('Bearer error="insufficient_scope"')
    body = response.json()
    assert body["error"] == "insufficient_scope"
    assert body["error_description"].strip()
    assert "sub" not in body


def a_revoked_sessions_token(openid_tokens, relying_party, user) -> str:
    tokens = openid_tokens(relying_party, user)
    Session.objects.update(revoked_at=timezone.now(), end_reason=Session.EndReason.ADMIN)
    return tokens["access_token"]


def an_expired_token(openid_tokens, relying_party, user) -> str:
    """An access token of a session that is still active, issued an hour ago (it lived 30 min)."""
    return services.session_start(
        user=user,
        caller=Caller(),
        grant_type=Session.Grant.AUTHORIZATION_CODE,
        client=relying_party.client,
        scope=OPENID_SCOPE,
        now=timezone.now() - timedelta(hours=1),
    ).access_token


def a_disabled_users_token(openid_tokens, relying_party, user) -> str:
    tokens = openid_tokens(relying_party, user)
    user.is_active = False
    user.save()
    return tokens["access_token"]


INVALID_BEARERS = [
    pytest.param(lambda *args: None, id="no token"),
    pytest.param(lambda *args: "not-a-token", id="garbage"),
    pytest.param(lambda start, client, user: start(client, user)["refresh_token"], id="a refresh token"),
    pytest.param(lambda start, client, user: start(client, user)["id_token"], id="an ID token"),
    pytest.param(
        lambda start, client, user: start(client, user)["access_token"][:-4] + "AAAA", id="badly signed"
    ),
    pytest.param(an_expired_token, id="expired"),
    pytest.param(a_revoked_sessions_token, id="of a revoked session"),
    pytest.param(a_disabled_users_token, id="of a disabled user"),
]


@pytest.mark.parametrize("bearer_of", INVALID_BEARERS)
def test_userinfo_without_a_valid_access_token_is_401_as_at_users_me(
    openid_tokens, userinfo, me, api_client, relying_party, user, bearer_of
):
    access_token = bearer_of(openid_tokens, relying_party, user)

    response = userinfo(access_token)

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    expected_challenge = "Bearer" if access_token is None else 'Bearer error="invalid_token"'
    assert response["WWW-Authenticate"] == expected_challenge
    assert "sub" not in response.json()
    at_me = me(access_token) if access_token is not None else api_client.get("/users/me/")
    assert at_me.status_code == HTTPStatus.UNAUTHORIZED
    assert at_me["WWW-Authenticate"] == response["WWW-Authenticate"]
    assert at_me.json() == response.json()


def test_userinfo_answers_a_third_party_clients_token_which_users_me_refuses(
    openid_tokens, userinfo, me, relying_party, user
):
    assert not relying_party.client.first_party
    tokens = openid_tokens(relying_party, user)

    assert userinfo(tokens["access_token"]).status_code == HTTPStatus.OK
    at_me = me(tokens["access_token"])
    assert at_me.status_code == HTTPStatus.FORBIDDEN
    assert at_me["WWW-Authenticate"].startswith('Bearer error="insufficient_scope"')


def test_userinfo_answers_a_first_party_clients_token_too(
    openid_tokens, userinfo, me, first_party_relying_party, user
):
    tokens = openid_tokens(first_party_relying_party, user)

    assert tokens["authorization"].pages == ["sign-in"]  # no consent page for a first-party client
    assert userinfo(tokens["access_token"]).json()["sub"] == str(user.public_id)
    assert me(tokens["access_token"]).status_code == HTTPStatus.OK


def test_userinfo_stops_at_once_when_the_session_is_revoked(
    openid_tokens, userinfo, api_client, relying_party, user
):
    tokens = openid_tokens(relying_party, user)
    assert userinfo(tokens["access_token"]).status_code == HTTPStatus.OK

    assert api_client.post("/revoke", {"token": tokens["refresh_token"]}).status_code == HTTPStatus.OK

    assert userinfo(tokens["access_token"]).status_code == HTTPStatus.UNAUTHORIZED
    assert Session.objects.get().revoked_at is not None


def test_email_verified_turns_true_once_the_users_link_is_followed(
    openid_tokens, userinfo, relying_party, user, client
):
    from accounts.selfservice import links

    url = links.email_confirmation_url(user)
    assert client.post(url[url.index("/email/") :]).status_code == HTTPStatus.OK
    tokens = openid_tokens(relying_party, user, scope=OPENID_SCOPE)

    assert userinfo(tokens["access_token"]).json()["email_verified"] is True
