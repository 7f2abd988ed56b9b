"""The client credentials grant (RFC 6749 §4.4): a confidential client that the operator allows it
gets an access token for itself at POST /token: `sub` and `client_id` the client, no refresh
token, no ID token, no session; introspection and revocation work on it; any other client, or
another grant the client is not allowed, is unauthorized_client (RFC 6749 §5.2)."""

import json
import logging
from datetime import timedelta
from http import HTTPStatus
from io import StringIO
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.machines.models import ClientToken
from accounts.models import Client, Session
from tests.oauth.conftest import OAUTH_REDIRECT_URI, basic_authorization, client_authentication

CC = "client_credentials"


@pytest.fixture
def machine(oauth_client_factory):
    """A service allowed the client credentials grant (and nothing else)."""
    return oauth_client_factory(
        name="Billing service", client_id="billing", confidential=True, redirect_uris=(), grant_types=(CC,)
    )


def client_token(api_client, registered, method=None, **extra):
    data, headers = client_authentication(registered, method)
    return api_client.post("/token", {"grant_type": CC, **data, **extra}, **headers)


def claims_of(access_token: str) -> dict:
    return jwt.decode(access_token, options={"verify_signature": False})


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_an_allowed_confidential_client_gets_an_access_token_for_itself_and_nothing_else(
    api_client, machine, method, caplog
):
    caplog.set_level(logging.INFO, logger="accounts.audit")

    response = client_token(api_client, machine, method)

    assert response.status_code == HTTPStatus.OK, response.content
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}  # no refresh token, no ID token
    assert body["token_type"] == "bearer"
    assert response["Cache-Control"] == "no-store"
    claims = claims_of(body["access_token"])
    assert claims["sub"] == claims["client_id"] == "billing"
    assert "sid" not in claims
    assert "scope" not in claims
    assert claims["exp"] - claims["iat"] == body["expires_in"]
    assert ClientToken.objects.get().jti == claims["jti"]
    assert not Session.objects.exists()  # no session: nothing in any user's lists
    (issued,) = [r for r in caplog.records if r.getMessage() == "client credentials token issued"]
    assert issued.audit["client"] == "billing"


def test_a_client_not_allowed_the_grant_is_unauthorized_client(
    api_client, machine, confidential_oauth_client
):
    response = client_token(api_client, confidential_oauth_client)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json() == {
        "error": "unauthorized_client",
        "error_description": "This client may not use the client_credentials grant.",
    }
    assert not ClientToken.objects.exists()


def test_a_public_client_is_unauthorized_client(api_client, machine, public_oauth_client):
    response = client_token(api_client, public_oauth_client)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["error"] == "unauthorized_client"


def test_a_wrong_secret_is_invalid_client(api_client, machine):
    machine = type(machine)(client=machine.client, secret="not-the-secret")

    response = client_token(api_client, machine, "client_secret_basic")

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json()["error"] == "invalid_client"
    assert not ClientToken.objects.exists()


def test_without_client_authentication_it_is_invalid_client(api_client, machine):
    response = api_client.post("/token", {"grant_type": CC})

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json()["error"] == "invalid_client"


def test_a_scope_the_client_may_not_have_is_invalid_scope(api_client, machine):
    response = client_token(api_client, machine, scope="openid")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json() == {
        "error": "invalid_scope",
        "error_description": "This client may not have the scope 'openid'.",
    }
    assert not ClientToken.objects.exists()


def test_the_token_opens_no_users_endpoint(api_client, machine):
    token = client_token(api_client, machine).json()["access_token"]

    for path in ("/users/me/", "/userinfo", "/users/me/sessions/"):
        response = api_client.get(path, HTTP_AUTHORIZATION=f"Bearer {token}")
        assert response.status_code == HTTPStatus.UNAUTHORIZED, path


def introspect(api_client, resource_server, token: str) -> dict:
    data, headers = client_authentication(resource_server)
    response = api_client.post("/introspect", {"token": token, **data}, **headers)
    assert response.status_code == HTTPStatus.OK
    return response.json()


def test_introspection_says_whose_it_is_until_its_client_revokes_it(
    api_client, machine, confidential_oauth_client
):
    token = client_token(api_client, machine).json()["access_token"]
    claims = claims_of(token)

    assert introspect(api_client, confidential_oauth_client, token) == {
        "active": True,
        "token_type": "access_token",
        "aud": claims["aud"],
        "sub": "billing",
        "client_id": "billing",
        "exp": claims["exp"],
        "iat": claims["iat"],
        "iss": claims["iss"],
        "jti": claims["jti"],
    }
    # Another client's revocation is ignored (RFC 7009 §2.1); the token's own client revokes it.
    data, headers = client_authentication(confidential_oauth_client)
    assert api_client.post("/revoke", {"token": token, **data}, **headers).status_code == HTTPStatus.OK
    assert introspect(api_client, confidential_oauth_client, token)["active"] is True
    data, headers = client_authentication(machine)
    assert api_client.post("/revoke", {"token": token, **data}, **headers).status_code == HTTPStatus.OK

    assert introspect(api_client, confidential_oauth_client, token) == {"active": False}
    assert ClientToken.objects.get().revoked_at is not None


def test_revoking_it_needs_its_clients_authentication(api_client, machine):
    token = client_token(api_client, machine).json()["access_token"]

    response = api_client.post("/revoke", {"token": token})

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json()["error"] == "invalid_client"
    assert ClientToken.objects.get().revoked_at is None


def test_an_expired_token_or_one_of_a_disabled_client_is_inactive(
    api_client, machine, confidential_oauth_client, clock
):
    token = client_token(api_client, machine).json()["access_token"]
    Client.objects.filter(pk="billing").update(is_active=False)
    assert introspect(api_client, confidential_oauth_client, token) == {"active": False}
    Client.objects.filter(pk="billing").update(is_active=True)
    ClientToken.objects.update(expires_at=clock.now() - timedelta(seconds=1))

    assert introspect(api_client, confidential_oauth_client, token) == {"active": False}


def test_a_client_not_allowed_the_code_grant_is_unauthorized_client_at_authorize_and_token(
    client, api_client, oauth_client_factory
):
    registered = oauth_client_factory(client_id="cc-with-uri", confidential=True, grant_types=(CC,))

    response = client.get(
        "/authorize",
        {
            "response_type": "code",
            "client_id": "cc-with-uri",
            "redirect_uri": OAUTH_REDIRECT_URI,
            "state": "s",
            "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "code_challenge_method": "S256",
        },
    )
    assert response.status_code == HTTPStatus.SEE_OTHER
    assert parse_qs(urlsplit(response["Location"]).query)["error"] == ["unauthorized_client"]

    data, headers = client_authentication(registered)
    exchange = api_client.post(
        "/token",
        {
            "grant_type": "authorization_code",
            "code": "x",
            "redirect_uri": OAUTH_REDIRECT_URI,
            "code_verifier": "v" * 43,
            **data,
        },
        **headers,
    )
    assert exchange.status_code == HTTPStatus.BAD_REQUEST
    assert exchange.json()["error"] == "unauthorized_client"


def test_create_client_registers_a_machine_client_without_redirect_uris(db):
    out = StringIO()

    call_command("create_client", "Nightly export", "--confidential", "--grant-type", CC, stdout=out)

    printed = json.loads(out.getvalue())
    client = Client.objects.get(pk=printed["client_id"])
    assert printed["client_secret"]
    assert client.grant_types == [CC]
    assert client.redirect_uris == []


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--grant-type", CC], "client_credentials is for confidential clients (--confidential)"),
        (["--confidential"], "a client needs at least one redirect URI"),
    ],
)
def test_create_client_refuses_what_cannot_work(db, arguments, message):
    with pytest.raises(CommandError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call_command("create_client", "Tool", *arguments)
    assert not Client.objects.exists()


def test_cleanup_deletes_the_records_of_expired_tokens(api_client, machine, clock):
    client_token(api_client, machine)
    clock.advance(3600)
    out = StringIO()

    call_command("cleanup_tokens", stdout=out)

    assert "1 expired client credentials token record(s)" in out.getvalue()
    assert not ClientToken.objects.exists()


def test_the_grant_is_supported_once_a_client_is_allowed_it(api_client, confidential_oauth_client, machine):
    """Before any client is allowed it, the service answers as before there was one."""
    document = api_client.get("/.well-known/oauth-authorization-server").json()
    assert "client_credentials" in document["grant_types_supported"]

    Client.objects.filter(pk="billing").update(is_active=False)

    document = api_client.get("/.well-known/oauth-authorization-server").json()
    assert document["grant_types_supported"] == ["refresh_token", "authorization_code"]
    response = client_token(api_client, confidential_oauth_client)
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["error"] == "unsupported_grant_type"
    # ... before any client error (the contract's order), though the client is not yet known then
    wrong_secret = api_client.post(
        "/token", {"grant_type": CC}, HTTP_AUTHORIZATION=basic_authorization("billing", "not-the-secret")
    )
    assert wrong_secret.status_code == HTTPStatus.BAD_REQUEST
    assert wrong_secret.json()["error"] == "unsupported_grant_type"


def test_an_allowed_client_costs_its_row_and_the_tokens_record(api_client, machine):
    """No query over the clients to learn the grant is enabled: the allowed client proves it."""
    client_token(api_client, machine)  # the signing key is read once per process

    with CaptureQueriesContext(connection) as queries:
        response = client_token(api_client, machine)

    assert response.status_code == HTTPStatus.OK
    statements = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert [sql.split(" ", 1)[0] for sql in statements] == ["SELECT", "INSERT"]
    assert "accounts_clienttoken" in statements[1]


def test_the_admin_registers_a_machine_client(client, oauth_admin_client):
    response = oauth_admin_client.post(
        "/admin/accounts/client/add/",
        {
            "name": "Report builder",
            "confidential": "on",
            "is_active": "on",
            "grant_types_choice": [CC],
            "redirect_uris_text": "",
            "allowed_origins_text": "",
            "post_logout_redirect_uris_text": "",
        },
        follow=True,
    )

    assert b"Its secret, shown only this once" in response.content
    assert Client.objects.get(name="Report builder").grant_types == [CC]


def test_a_public_client_allowed_the_grant_by_hand_still_gets_no_token(
    api_client, machine, public_oauth_client
):
    """The rule holds in the grant itself, whatever a client's row says (RFC 6749 §4.4)."""
    Client.objects.filter(pk=public_oauth_client.client_id).update(grant_types=[CC])

    response = client_token(api_client, public_oauth_client)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json() == {
        "error": "unauthorized_client",
        "error_description": "The client_credentials grant is for confidential clients.",
    }
    assert not ClientToken.objects.exists()


def test_a_session_access_token_is_never_taken_for_a_clients_own(
    client_session_tokens, confidential_oauth_client
):
    from accounts.machines import tokens

    session_token = client_session_tokens(confidential_oauth_client)["access_token"]
    assert claims_of(session_token)["client_id"] == confidential_oauth_client.client_id

    assert tokens.parse(session_token) is None
