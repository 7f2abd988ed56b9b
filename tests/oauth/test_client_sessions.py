"""A client's session after the code exchange: its refresh tokens are bound to the client (and
its scope), /revoke honours client authentication, /users/me/ and the sessions endpoints are for
the service's own apps, and the demo data registers the docs' client."""

from http import HTTPStatus

import pytest
from django.core.management import call_command

from accounts.models import Session
from accounts.oauth.models import Client
from tests.helpers import jwt_parts
from tests.oauth.conftest import RegisteredClient, basic_authorization, client_authentication


@pytest.fixture
def other_confidential_client(oauth_client_factory):
    return oauth_client_factory(name="Other server", client_id="other-server", confidential=True)


@pytest.fixture
def other_public_client(oauth_client_factory):
    return oauth_client_factory(name="Other app", client_id="other-app")


def session_of(body: dict) -> Session:
    return Session.objects.get(pk=jwt_parts(body["refresh_token"])[1]["sid"])


@pytest.fixture
def refresh_as(api_client):
    """refresh_as(refresh_token, registered=None, method=None, **extra) -> POST /token's response."""

    def do_refresh(refresh_token: str, registered=None, method=None, **extra):
        data, headers = client_authentication(registered, method) if registered else ({}, {})
        return api_client.post(
            "/token",
            {"grant_type": "refresh_token", "refresh_token": refresh_token, **data, **extra},
            **headers,
        )

    return do_refresh


@pytest.fixture
def revoke_as(api_client):
    """revoke_as(token, registered=None, method=None, **extra) -> POST /revoke's response."""

    def do_revoke(token: str, registered=None, method=None, **extra):
        data, headers = client_authentication(registered, method) if registered else ({}, {})
        return api_client.post("/revoke", {"token": token, **data, **extra}, **headers)

    return do_revoke


# --- refresh tokens are bound to their client ----------------------------------------------------


@pytest.mark.parametrize("with_client_id", [True, False], ids=["with its client_id", "without client_id"])
def test_a_public_clients_refresh_token_refreshes_with_or_without_its_client_id(
    public_oauth_client, client_session_tokens, refresh_as, with_client_id
):
    tokens = client_session_tokens(public_oauth_client)

    response = refresh_as(tokens["refresh_token"], public_oauth_client if with_client_id else None)

    assert response.status_code == HTTPStatus.OK, response.content
    body = response.json()
    assert session_of(body) == session_of(tokens)
    assert jwt_parts(body["access_token"])[1]["client_id"] == public_oauth_client.client_id
    assert body["scope"] == tokens["scope"]


@pytest.mark.parametrize("presented_by", ["another public client", "another confidential client"])
def test_a_refresh_token_presented_by_another_client_is_invalid_grant_and_not_spent(
    public_oauth_client,
    other_public_client,
    other_confidential_client,
    client_session_tokens,
    refresh_as,
    presented_by,
):
    tokens = client_session_tokens(public_oauth_client)
    other = other_public_client if presented_by == "another public client" else other_confidential_client

    response = refresh_as(tokens["refresh_token"], other)

    assert (response.status_code, response.json()["error"]) == (HTTPStatus.BAD_REQUEST, "invalid_grant")
    assert session_of(tokens).revoked_at is None
    assert refresh_as(tokens["refresh_token"]).status_code == HTTPStatus.OK


def test_a_confidential_clients_refresh_token_without_authentication_is_invalid_client_and_not_spent(
    confidential_oauth_client, client_session_tokens, refresh_as
):
    tokens = client_session_tokens(confidential_oauth_client)

    response = refresh_as(tokens["refresh_token"])

    assert (response.status_code, response.json()["error"]) == (HTTPStatus.UNAUTHORIZED, "invalid_client")
    assert "WWW-Authenticate" not in response
    assert refresh_as(tokens["refresh_token"], confidential_oauth_client).status_code == HTTPStatus.OK


def test_a_confidential_clients_refresh_token_named_by_its_client_id_alone_is_invalid_client(
    confidential_oauth_client, client_session_tokens, refresh_as
):
    tokens = client_session_tokens(confidential_oauth_client)

    response = refresh_as(tokens["refresh_token"], confidential_oauth_client, "none")

    assert (response.status_code, response.json()["error"]) == (HTTPStatus.UNAUTHORIZED, "invalid_client")
    assert refresh_as(tokens["refresh_token"], confidential_oauth_client).status_code == HTTPStatus.OK


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_a_confidential_clients_refresh_token_refreshes_with_its_authentication(
    confidential_oauth_client, client_session_tokens, refresh_as, method
):
    tokens = client_session_tokens(confidential_oauth_client)

    response = refresh_as(tokens["refresh_token"], confidential_oauth_client, method)

    assert response.status_code == HTTPStatus.OK, response.content
    assert session_of(response.json()) == session_of(tokens)


def test_a_confidential_clients_refresh_token_with_a_wrong_secret_is_invalid_client(
    confidential_oauth_client, client_session_tokens, api_client, refresh_as
):
    tokens = client_session_tokens(confidential_oauth_client)

    response = api_client.post(
        "/token",
        {
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": confidential_oauth_client.client_id,
            "client_secret": "wrong",
        },
    )

    assert (response.status_code, response.json()["error"]) == (HTTPStatus.UNAUTHORIZED, "invalid_client")
    assert refresh_as(tokens["refresh_token"], confidential_oauth_client).status_code == HTTPStatus.OK


@pytest.mark.parametrize(
    ("presented_with", "method"),
    [
        ("public", "none"),
        ("confidential", "client_secret_basic"),
        ("confidential", "client_secret_post"),
    ],
)
def test_a_login_sessions_refresh_token_sent_with_a_clients_credentials_is_invalid_grant(
    public_oauth_client, confidential_oauth_client, tokens, refresh_as, presented_with, method
):
    registered = public_oauth_client if presented_with == "public" else confidential_oauth_client

    response = refresh_as(tokens["refresh_token"], registered, method)

    assert (response.status_code, response.json()["error"]) == (HTTPStatus.BAD_REQUEST, "invalid_grant")
    assert refresh_as(tokens["refresh_token"]).status_code == HTTPStatus.OK


# --- scope ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("requested", "granted"),
    [
        pytest.param("openid", "openid", id="openid of openid profile"),
        pytest.param("profile", "profile", id="profile of openid profile"),
        pytest.param("profile openid", "openid profile", id="the whole scope, in another order"),
    ],
)
def test_a_scope_within_the_session_narrows_the_new_access_token_only(
    public_oauth_client, client_session_tokens, refresh_as, requested, granted
):
    tokens = client_session_tokens(public_oauth_client, scope="openid profile")

    response = refresh_as(tokens["refresh_token"], scope=requested)

    assert response.status_code == HTTPStatus.OK, response.content
    body = response.json()
    assert set(body["scope"].split()) == set(granted.split())
    assert set(jwt_parts(body["access_token"])[1]["scope"].split()) == set(granted.split())
    # The session and its new refresh token keep the scope first granted (RFC 6749 §6).
    assert session_of(body).scope == "openid profile"
    unnarrowed = refresh_as(body["refresh_token"]).json()
    assert unnarrowed["scope"] == "openid profile"
    assert jwt_parts(unnarrowed["access_token"])[1]["scope"] == "openid profile"


@pytest.mark.parametrize("requested", ["email", "openid email", "openid profile email", "admin"])
def test_a_scope_beyond_the_sessions_is_invalid_scope_and_spends_nothing(
    public_oauth_client, client_session_tokens, refresh_as, requested
):
    tokens = client_session_tokens(public_oauth_client, scope="openid profile")
    newest_before = session_of(tokens).newest_record_id

    response = refresh_as(tokens["refresh_token"], scope=requested)

    assert (response.status_code, response.json()["error"]) == (HTTPStatus.BAD_REQUEST, "invalid_scope")
    assert response.json()["error_description"]
    session = session_of(tokens)
    assert (session.newest_record_id, session.revoked_at) == (newest_before, None)
    assert refresh_as(tokens["refresh_token"]).status_code == HTTPStatus.OK


def test_a_login_session_ignores_scope(tokens, refresh_as):
    response = refresh_as(tokens["refresh_token"], scope="openid email admin")

    assert response.status_code == HTTPStatus.OK, response.content
    assert "scope" not in response.json()
    assert "scope" not in jwt_parts(response.json()["access_token"])[1]
    assert session_of(tokens).scope == ""


# --- /revoke -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["refresh_token", "access_token"])
@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_a_confidential_client_revokes_its_own_sessions_tokens(
    confidential_oauth_client, client_session_tokens, revoke_as, refresh_as, kind, method
):
    tokens = client_session_tokens(confidential_oauth_client)

    response = revoke_as(tokens[kind], confidential_oauth_client, method)

    assert response.status_code == HTTPStatus.OK
    assert response.content == b""
    assert session_of(tokens).end_reason == "logout"
    assert refresh_as(tokens["refresh_token"], confidential_oauth_client).json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    ("credentials", "basic_used"),
    [
        pytest.param(
            lambda c: ({"client_id": c.client_id, "client_secret": "wrong"}, {}), False, id="wrong secret"
        ),
        pytest.param(
            lambda c: ({}, {"HTTP_AUTHORIZATION": basic_authorization(c.client_id, "wrong")}),
            True,
            id="wrong Basic credentials",
        ),
        pytest.param(lambda c: ({"client_id": "no-such-client"}, {}), False, id="unknown client"),
        pytest.param(
            lambda c: ({"client_id": c.client_id}, {}), False, id="confidential client without its secret"
        ),
        pytest.param(
            lambda c: (
                {"client_id": c.client_id},
                {"HTTP_AUTHORIZATION": basic_authorization(c.client_id, c.secret)},
            ),
            True,
            id="credentials both in the header and the body",
        ),
    ],
)
def test_revoking_with_wrong_client_credentials_is_invalid_client_and_revokes_nothing(
    api_client, confidential_oauth_client, client_session_tokens, credentials, basic_used
):
    tokens = client_session_tokens(confidential_oauth_client)
    data, headers = credentials(confidential_oauth_client)

    response = api_client.post("/revoke", {"token": tokens["refresh_token"], **data}, **headers)

    assert (response.status_code, response.json()["error"]) == (HTTPStatus.UNAUTHORIZED, "invalid_client")
    if basic_used:
        assert response["WWW-Authenticate"].startswith("Basic")
    else:
        assert "WWW-Authenticate" not in response
    assert session_of(tokens).revoked_at is None


@pytest.mark.parametrize("kind", ["refresh_token", "access_token"])
@pytest.mark.parametrize("token_of", ["another confidential client", "a public client", "a /login session"])
def test_a_confidential_client_cannot_revoke_tokens_of_other_sessions(
    confidential_oauth_client,
    other_confidential_client,
    public_oauth_client,
    client_session_tokens,
    login,
    user,
    revoke_as,
    kind,
    token_of,
):
    if token_of == "another confidential client":
        tokens = client_session_tokens(other_confidential_client)
    elif token_of == "a public client":
        tokens = client_session_tokens(public_oauth_client)
    else:
        tokens = login(user)

    response = revoke_as(tokens[kind], confidential_oauth_client)

    assert response.status_code == HTTPStatus.OK  # RFC 7009 §2.1: refused silently
    session = session_of(tokens)
    assert (session.revoked_at, session.end_reason) == (None, "")


@pytest.mark.parametrize("kind", ["refresh_token", "access_token"])
def test_a_confidential_clients_token_without_its_authentication_is_invalid_client_and_revokes_nothing(
    confidential_oauth_client, client_session_tokens, revoke_as, kind
):
    tokens = client_session_tokens(confidential_oauth_client)

    response = revoke_as(tokens[kind])

    assert (response.status_code, response.json()["error"]) == (HTTPStatus.UNAUTHORIZED, "invalid_client")
    assert session_of(tokens).revoked_at is None


@pytest.mark.parametrize("kind", ["refresh_token", "access_token"])
@pytest.mark.parametrize("token_of", ["a public client", "a /login session"])
def test_tokens_of_public_clients_and_login_sessions_are_revoked_without_client_parameters(
    public_oauth_client, client_session_tokens, login, user, revoke_as, kind, token_of
):
    tokens = client_session_tokens(public_oauth_client) if token_of == "a public client" else login(user)

    response = revoke_as(tokens[kind])

    assert response.status_code == HTTPStatus.OK
    assert session_of(tokens).end_reason == "logout"


def test_a_public_client_revokes_its_token_naming_itself(
    public_oauth_client, client_session_tokens, revoke_as
):
    tokens = client_session_tokens(public_oauth_client)

    response = revoke_as(tokens["refresh_token"], public_oauth_client)

    assert response.status_code == HTTPStatus.OK
    assert session_of(tokens).end_reason == "logout"


# --- the user's own account: first-party apps only --------------------------------------------


OWN_ACCOUNT_REQUESTS = [
    pytest.param("get", "/users/me/", HTTPStatus.OK, id="GET /users/me/"),
    pytest.param("get", "/users/me/sessions/", HTTPStatus.OK, id="GET /users/me/sessions/"),
    pytest.param(
        "delete", "/users/me/sessions/{sid}/", HTTPStatus.NO_CONTENT, id="DELETE /users/me/sessions/{id}/"
    ),
    pytest.param("delete", "/users/me/sessions/", HTTPStatus.NO_CONTENT, id="DELETE /users/me/sessions/"),
]


@pytest.mark.parametrize(("method", "path", "_"), OWN_ACCOUNT_REQUESTS)
@pytest.mark.parametrize("confidential", [False, True], ids=["public", "confidential"])
def test_a_third_party_clients_access_token_gets_403_insufficient_scope_at_the_own_account_endpoints(
    api_client, oauth_client_factory, client_session_tokens, method, path, _, confidential
):
    third_party = oauth_client_factory(name="Third party", confidential=confidential)
    tokens = client_session_tokens(third_party)
    sid = jwt_parts(tokens["access_token"])[1]["sid"]

    response = getattr(api_client, method)(
        path.format(sid=sid), HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}"
    )

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert 'error="insufficient_scope"' in response["WWW-Authenticate"]
    assert session_of(tokens).revoked_at is None


@pytest.mark.parametrize(("method", "path", "expected"), OWN_ACCOUNT_REQUESTS)
def test_a_first_party_clients_access_token_opens_the_own_account_endpoints(
    api_client, first_party_oauth_client, client_session_tokens, user, method, path, expected
):
    tokens = client_session_tokens(first_party_oauth_client)
    sid = jwt_parts(tokens["access_token"])[1]["sid"]

    response = getattr(api_client, method)(
        path.format(sid=sid), HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}"
    )

    assert response.status_code == expected, response.content
    if path == "/users/me/":
        assert response.json()["username"] == user.username
    if method == "delete":
        assert session_of(tokens).revoked_at is not None


def test_the_sessions_list_names_the_client_of_client_sessions_and_null_for_login_sessions(
    api_client, first_party_oauth_client, public_oauth_client, client_session_tokens, login, user
):
    login_tokens = login(user)
    third_party_tokens = client_session_tokens(public_oauth_client)
    own_tokens = client_session_tokens(first_party_oauth_client)

    response = api_client.get(
        "/users/me/sessions/", HTTP_AUTHORIZATION=f"Bearer {own_tokens['access_token']}"
    )

    assert response.status_code == HTTPStatus.OK
    clients = {entry["id"]: entry["client"] for entry in response.json()}
    assert clients == {
        str(session_of(login_tokens).pk): None,
        str(session_of(third_party_tokens).pk): {"client_id": "public-app", "name": "Public app"},
        str(session_of(own_tokens).pk): {"client_id": "own-app", "name": "Own app"},
    }


# --- demo data -----------------------------------------------------------------------------------


def test_seed_demo_users_registers_the_docs_public_first_party_client(db, settings):
    settings.TOKEN_ISSUER = "https://auth.example.com"

    call_command("seed_demo_users")

    docs = Client.objects.get(pk="demo-docs")
    assert (docs.confidential, docs.first_party, docs.is_active, docs.secret_hash) == (False, True, True, "")
    assert docs.redirect_uris == ["https://auth.example.com/docs/oauth2-redirect.html"]


def test_a_rerun_of_seed_demo_users_leaves_the_docs_client_as_it_is(db, settings):
    settings.TOKEN_ISSUER = "https://auth.example.com"
    call_command("seed_demo_users")
    Client.objects.filter(pk="demo-docs").update(
        name="Renamed by the operator", redirect_uris=["https://x.example/cb"]
    )
    settings.TOKEN_ISSUER = "https://elsewhere.example.com"

    call_command("seed_demo_users")

    (docs,) = Client.objects.all()
    assert (docs.client_id, docs.name, docs.redirect_uris) == (
        "demo-docs",
        "Renamed by the operator",
        ["https://x.example/cb"],
    )


def test_the_docs_client_signs_in_with_a_code_and_opens_the_users_own_account(
    db, settings, user, oauth_code_factory, exchange_code, me
):
    call_command("seed_demo_users")
    docs = RegisteredClient(client=Client.objects.get(pk="demo-docs"), secret=None)

    tokens = exchange_code(oauth_code_factory(docs, for_user=user)).json()

    assert me(tokens["access_token"]).status_code == HTTPStatus.OK
