"""POST /introspect (RFC 7662) for resource servers registered as confidential clients.

Active: a live access token, or the newest refresh token of an active session, with the claims a
resource server needs. Everything else is {"active": false} and nothing more, and a revocation
shows at the next call. Introspection only reads: it never spends, revokes or records anything.
"""

from datetime import timedelta
from http import HTTPStatus

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts import services
from accounts.callers import Caller
from accounts.models import Session
from tests.conftest import data_statements
from tests.helpers import jwt_parts
from tests.oauth.conftest import basic_authorization, form_body
from tests.oidc.conftest import OPENID_SCOPE

INACTIVE = {"active": False}
WRITES = ("INSERT", "UPDATE", "DELETE")


def assert_introspection(response, expected: dict) -> None:
    assert response.status_code == HTTPStatus.OK, response.content
    assert response.json() == expected
    assert "no-store" in response["Cache-Control"]


@pytest.fixture
def client_session(openid_tokens, relying_party, user) -> dict:
    """The tokens of a third-party client's session (scope openid profile email)."""
    return openid_tokens(relying_party, user)


# --- who may introspect ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "caller",
    [
        pytest.param(lambda rs, rp: ({}, {}), id="no client authentication"),
        pytest.param(lambda rs, rp: ({"client_id": rp.client_id}, {}), id="a public client"),
        pytest.param(
            lambda rs, rp: ({"client_id": rs.client_id}, {}), id="a confidential client without secret"
        ),
        pytest.param(
            lambda rs, rp: ({"client_id": rs.client_id, "client_secret": "wrong"}, {}),
            id="a wrong secret (post)",
        ),
        pytest.param(
            lambda rs, rp: ({}, {"HTTP_AUTHORIZATION": basic_authorization(rs.client_id, "wrong")}),
            id="a wrong secret (basic)",
        ),
        pytest.param(
            lambda rs, rp: ({"client_id": "no-such-client", "client_secret": "x"}, {}), id="an unknown client"
        ),
    ],
)
def test_introspection_needs_a_confidential_clients_authentication(
    api_client, client_session, resource_server, relying_party, caller
):
    data, headers = caller(resource_server, relying_party)

    response = api_client.post("/introspect", {"token": client_session["access_token"], **data}, **headers)

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    body = response.json()
    assert body["error"] == "invalid_client"
    assert body["error_description"].strip()
    assert "active" not in body
    if headers:
        assert response["WWW-Authenticate"].startswith("Basic")


@pytest.mark.parametrize("auth", ["client_secret_basic", "client_secret_post"])
def test_a_confidential_client_introspects_with_either_authentication_method(
    introspect, client_session, auth
):
    response = introspect(client_session["access_token"], auth=auth)

    assert response.status_code == HTTPStatus.OK
    assert response.json()["active"] is True


# --- active tokens --------------------------------------------------------------------------------


def test_a_live_access_token_of_a_clients_session_is_active_with_its_claims(
    introspect, client_session, relying_party, user, settings
):
    _, claims = jwt_parts(client_session["access_token"])

    response = introspect(client_session["access_token"])

    assert_introspection(
        response,
        {
            "active": True,
            "token_type": "access_token",
            "sub": "johndoe",
            "username": "johndoe",
            "client_id": relying_party.client_id,
            "scope": OPENID_SCOPE,
            "exp": claims["exp"],
            "iat": claims["iat"],
            "iss": settings.TOKEN_ISSUER,
            "aud": settings.ACCESS_TOKEN_AUDIENCE,
            "sid": str(Session.objects.get().pk),
            "jti": claims["jti"],
        },
    )


def test_a_live_access_token_of_a_login_session_is_active_without_client_id_or_scope(
    introspect, tokens, settings
):
    _, claims = jwt_parts(tokens["access_token"])

    response = introspect(tokens["access_token"])

    assert_introspection(
        response,
        {
            "active": True,
            "token_type": "access_token",
            "sub": "johndoe",
            "username": "johndoe",
            "exp": claims["exp"],
            "iat": claims["iat"],
            "iss": settings.TOKEN_ISSUER,
            "aud": settings.ACCESS_TOKEN_AUDIENCE,
            "sid": claims["sid"],
            "jti": claims["jti"],
        },
    )


def test_a_narrowed_access_token_is_introspected_with_its_own_scope(
    introspect, refresh, client_session, relying_party
):
    narrowed = refresh(client_session["refresh_token"], client_id=relying_party.client_id, scope="openid")

    assert introspect(narrowed.json()["access_token"]).json()["scope"] == "openid"


def test_the_newest_refresh_token_of_an_active_session_is_active_with_its_claims(
    introspect, refresh, client_session, relying_party, settings
):
    newest = refresh(client_session["refresh_token"], client_id=relying_party.client_id).json()[
        "refresh_token"
    ]
    _, claims = jwt_parts(newest)

    response = introspect(newest)

    assert_introspection(
        response,
        {
            "active": True,
            "token_type": "refresh_token",
            "sub": "johndoe@example.com",  # a refresh token's own sub: the email
            "username": "johndoe",
            "client_id": relying_party.client_id,
            "scope": OPENID_SCOPE,
            "exp": claims["exp"],
            "iat": claims["iat"],
            "iss": settings.TOKEN_ISSUER,
            "sid": str(Session.objects.get().pk),
            "jti": claims["jti"],
        },
    )


@pytest.mark.parametrize("hint", [None, "access_token", "refresh_token", "something_else"])
def test_the_token_type_hint_does_not_change_the_answer(introspect, client_session, hint):
    extra = {"token_type_hint": hint} if hint else {}

    access = introspect(client_session["access_token"], **extra).json()
    refresh_answer = introspect(client_session["refresh_token"], **extra).json()

    assert access == introspect(client_session["access_token"]).json()
    assert access["token_type"] == "access_token"
    assert refresh_answer["token_type"] == "refresh_token"


# --- inactive tokens ------------------------------------------------------------------------------


def an_expired_access_token(tokens, user, client) -> str:
    """An access token of a still active session, issued an hour ago (it lived 30 minutes)."""
    issued = services.session_start(
        user=user, caller=Caller(), grant_type=Session.Grant.PASSWORD, now=timezone.now() - timedelta(hours=1)
    )
    assert issued.session.is_active()
    return issued.access_token


def a_spent_refresh_token(tokens, user, client) -> str:
    """The first refresh token of a chain that has been refreshed once (the session stays active)."""
    response = client.post(
        "/token", {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    )
    assert response.status_code == HTTPStatus.OK
    return tokens["refresh_token"]


def a_revoked_sessions(kind: str):
    def token(tokens, user, client) -> str:
        Session.objects.update(revoked_at=timezone.now(), end_reason=Session.EndReason.ADMIN)
        return tokens[kind]

    return token


def a_disabled_users_access_token(tokens, user, client) -> str:
    user.is_active = False
    user.save()
    return tokens["access_token"]


def an_ended_sessions_access_token(tokens, user, client) -> str:
    """The session reached its absolute end (its access token is still unexpired)."""
    Session.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    return tokens["access_token"]


def a_renamed_users_access_token(tokens, user, client) -> str:
    user.username = "john"
    user.save()
    return tokens["access_token"]


INACTIVE_TOKENS = [
    pytest.param(an_expired_access_token, id="an expired access token"),
    pytest.param(a_spent_refresh_token, id="a spent refresh token (an older one of the chain)"),
    pytest.param(a_revoked_sessions("access_token"), id="an access token of a revoked session"),
    pytest.param(a_revoked_sessions("refresh_token"), id="a refresh token of a revoked session"),
    pytest.param(an_ended_sessions_access_token, id="an access token of an ended session"),
    pytest.param(a_disabled_users_access_token, id="an access token of a disabled user"),
    pytest.param(a_renamed_users_access_token, id="an access token whose sub is no longer the username"),
    pytest.param(
        lambda tokens, user, client: tokens["access_token"][:-4] + "AAAA", id="a badly signed token"
    ),
    pytest.param(lambda tokens, user, client: "not-a-token", id="garbage"),
    pytest.param(lambda tokens, user, client: "e30.e30.e30", id="three empty JSON segments"),
]


@pytest.mark.parametrize("token_of", INACTIVE_TOKENS)
def test_anything_else_is_inactive_and_nothing_more(introspect, api_client, tokens, user, token_of):
    token = token_of(tokens, user, api_client)

    response = introspect(token)

    assert_introspection(response, INACTIVE)


def test_an_id_token_is_not_introspected_as_active(introspect, client_session):
    assert_introspection(introspect(client_session["id_token"]), INACTIVE)


def test_introspecting_a_spent_refresh_token_is_not_reuse_and_revokes_nothing(
    introspect, refresh, client_session, relying_party
):
    """Presenting a spent refresh token at /token revokes its session; at /introspect it only reads."""
    newest = refresh(client_session["refresh_token"], client_id=relying_party.client_id).json()

    assert_introspection(introspect(client_session["refresh_token"]), INACTIVE)

    assert Session.objects.get().revoked_at is None
    assert introspect(newest["access_token"]).json()["active"] is True
    assert refresh(newest["refresh_token"], client_id=relying_party.client_id).status_code == HTTPStatus.OK


@pytest.mark.parametrize("kind", ["access_token", "refresh_token"])
def test_a_revocation_shows_at_the_next_introspection(introspect, api_client, client_session, kind):
    assert introspect(client_session[kind]).json()["active"] is True

    assert api_client.post("/revoke", {"token": client_session["refresh_token"]}).status_code == HTTPStatus.OK

    assert_introspection(introspect(client_session[kind]), INACTIVE)


# --- bad requests -----------------------------------------------------------------------------------


MISSING_OR_BLANK = [
    pytest.param([], id="token missing"),
    pytest.param([("token", "")], id="token empty"),
    pytest.param([("token", "   ")], id="token blank"),
]
REPEATED = [
    pytest.param([("token", "a"), ("token", "b")], id="token repeated"),
    pytest.param([("token", "a"), ("token_type_hint", "x"), ("token_type_hint", "y")], id="hint repeated"),
]


def post_form(api_client, body, *, authenticate_as=None):
    headers = (
        {"HTTP_AUTHORIZATION": basic_authorization(authenticate_as.client_id, authenticate_as.secret)}
        if authenticate_as
        else {}
    )
    content, content_type = form_body(body)
    return api_client.post("/introspect", content, content_type=content_type, **headers)


def assert_oauth_error(response, status: HTTPStatus, error: str) -> None:
    assert response.status_code == status
    assert response.json()["error"] == error
    assert response.json()["error_description"].strip()
    assert "active" not in response.json()


@pytest.mark.parametrize("body", MISSING_OR_BLANK + REPEATED)
def test_a_missing_blank_or_repeated_parameter_of_an_authenticated_client_is_invalid_request(
    api_client, resource_server, body
):
    response = post_form(api_client, body, authenticate_as=resource_server)

    assert_oauth_error(response, HTTPStatus.BAD_REQUEST, "invalid_request")


@pytest.mark.parametrize("body", MISSING_OR_BLANK)
def test_a_missing_or_blank_token_without_client_authentication_is_invalid_client_first(api_client, db, body):
    assert_oauth_error(post_form(api_client, body), HTTPStatus.UNAUTHORIZED, "invalid_client")


@pytest.mark.parametrize("body", REPEATED)
def test_a_repeated_parameter_without_client_authentication_is_invalid_client_first(api_client, db, body):
    assert_oauth_error(post_form(api_client, body), HTTPStatus.UNAUTHORIZED, "invalid_client")


def test_a_repeated_client_id_is_refused_and_introspects_nothing(api_client, resource_server, client_session):
    content, content_type = form_body(
        [
            ("token", client_session["access_token"]),
            ("client_id", resource_server.client_id),
            ("client_id", resource_server.client_id),
            ("client_secret", resource_server.secret),
        ]
    )

    response = api_client.post("/introspect", content, content_type=content_type)

    assert response.status_code in (HTTPStatus.BAD_REQUEST, HTTPStatus.UNAUTHORIZED)
    assert response.json()["error"] in ("invalid_request", "invalid_client")
    assert "active" not in response.json()


def test_a_json_body_is_accepted_too(api_client, resource_server, client_session):
    response = api_client.post(
        "/introspect",
        {"token": client_session["access_token"]},
        format="json",
        HTTP_AUTHORIZATION=basic_authorization(resource_server.client_id, resource_server.secret),
    )

    assert response.status_code == HTTPStatus.OK
    assert response.json()["active"] is True


# --- cost -------------------------------------------------------------------------------------------


def test_introspecting_an_access_token_takes_at_most_two_queries(
    introspect, client_session, django_assert_max_num_queries
):
    """1. the resource server's client row, to check its secret (client authentication);
    2. the token's session, with its user, newest refresh token record and client in one join
       (active, not revoked, the user still active and still the token's username).
    The token's signature and expiry need no query: the signing keys are cached by the key ring."""
    introspect(client_session["access_token"])  # the key ring is loaded once per process

    with django_assert_max_num_queries(2):
        response = introspect(client_session["access_token"])

    assert response.json()["active"] is True


@pytest.mark.parametrize("kind", ["access_token", "refresh_token", "id_token"])
def test_introspection_writes_nothing(introspect, client_session, kind):
    with CaptureQueriesContext(connection) as captured:
        introspect(client_session[kind])

    assert [sql for sql in data_statements(captured) if sql.lstrip().upper().startswith(WRITES)] == []


def test_a_validly_signed_token_of_a_deleted_session_is_inactive(introspect, client_session):
    Session.objects.all().delete()

    assert_introspection(introspect(client_session["access_token"]), INACTIVE)
