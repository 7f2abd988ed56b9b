"""POST /token with grant_type=authorization_code (RFC 6749 §4.1.3, RFC 7636), its client
authentication (RFC 6749 §2.3.1), its errors in the contract's order, and replays (§4.1.2)."""

import base64
from datetime import timedelta
from http import HTTPStatus
from urllib.parse import urlencode

import pytest
from django.utils import timezone

from accounts.models import Session
from accounts.oauth.clients import secret_hash
from accounts.oauth.models import AuthorizationCode, Client
from tests.helpers import jwt_parts
from tests.oauth.conftest import (
    OAUTH_REDIRECT_URI,
    OAUTH_SCOPE,
    basic_authorization,
    code_exchange_parameters,
)

OTHER_REDIRECT_URI = "https://app.example.com/other-callback"


@pytest.fixture
def code_still_works(exchange_code):
    """code_still_works(issued): the code, unspent and unbound, exchanges fine now."""

    def check(issued) -> None:
        record = AuthorizationCode.objects.get()
        assert (record.exchanged_at, record.session_id) == (None, None)
        assert not Session.objects.filter(client__isnull=False).exists()
        response = exchange_code(issued)
        assert response.status_code == HTTPStatus.OK, response.content

    return check


def oauth_error(response) -> tuple[int, str]:
    body = response.json()
    assert body["error_description"]
    return response.status_code, body["error"]


# --- success ---------------------------------------------------------------------------------


@pytest.mark.parametrize("first_party", [True, False], ids=["first-party", "third-party (consent)"])
def test_a_code_of_the_authorization_endpoint_is_exchanged_for_a_client_session(
    authorize_in_browser, exchange_code, oauth_client_factory, user, first_party
):
    registered = oauth_client_factory(first_party=first_party)
    issued = authorize_in_browser(registered, user, scope="profile email")

    response = exchange_code(issued)

    assert response.status_code == HTTPStatus.OK, response.content
    assert response.json()["scope"] == "profile email"
    session = Session.objects.get()
    assert (session.user, session.client_id, session.scope) == (user, registered.client_id, "profile email")


@pytest.mark.parametrize(
    ("confidential", "auth"),
    [
        pytest.param(True, "client_secret_basic", id="confidential, client_secret_basic"),
        pytest.param(True, "client_secret_post", id="confidential, client_secret_post"),
        pytest.param(False, "none", id="public, its client_id"),
    ],
)
def test_each_client_authentication_method_exchanges_a_code(
    oauth_client_factory, oauth_code_factory, exchange_code, confidential, auth
):
    registered = oauth_client_factory(confidential=confidential)

    response = exchange_code(oauth_code_factory(registered), auth=auth)

    assert response.status_code == HTTPStatus.OK, response.content
    assert Session.objects.get().client_id == registered.client_id


SECRET_WITH_RESERVED_CHARACTERS = "s3cr:t+with/odd%chars é&="


@pytest.mark.parametrize(
    ("encode", "expected"),
    [
        pytest.param(True, HTTPStatus.OK, id="form-urlencoded then base64: accepted"),
        # A server that skipped the decoding would take '+' as '+', not as a space.
        pytest.param(False, HTTPStatus.UNAUTHORIZED, id="base64 of the raw secret: refused"),
    ],
)
def test_basic_credentials_are_form_urlencoded_before_base64(
    confidential_oauth_client, oauth_code_factory, exchange_code, encode, expected
):
    Client.objects.filter(pk=confidential_oauth_client.client_id).update(
        secret_hash=secret_hash(SECRET_WITH_RESERVED_CHARACTERS)
    )
    raw_pair = f"{confidential_oauth_client.client_id}:{SECRET_WITH_RESERVED_CHARACTERS}"
    header = (
        basic_authorization(confidential_oauth_client.client_id, SECRET_WITH_RESERVED_CHARACTERS)
        if encode
        else "Basic " + base64.b64encode(raw_pair.encode()).decode()
    )

    response = exchange_code(
        oauth_code_factory(confidential_oauth_client), auth="", headers={"HTTP_AUTHORIZATION": header}
    )

    assert response.status_code == expected, response.content


def test_the_token_response_has_the_token_pair_and_the_scope_and_is_not_cached(
    public_oauth_client, oauth_code_factory, exchange_code, settings
):
    settings.ACCESS_TOKEN_LIFETIME_SECONDS = 600

    response = exchange_code(oauth_code_factory(public_oauth_client, scope=OAUTH_SCOPE))

    assert response.status_code == HTTPStatus.OK
    body = response.json()
    assert {"access_token", "token_type", "expires_in", "refresh_token", "scope"} <= set(body)
    assert (body["token_type"], body["expires_in"], body["scope"]) == ("bearer", 600, OAUTH_SCOPE)
    assert response["Cache-Control"] == "no-store"
    assert response["Pragma"] == "no-cache"


def test_the_access_token_carries_audience_client_id_scope_and_session(
    public_oauth_client, oauth_code_factory, exchange_code, settings
):
    settings.ACCESS_TOKEN_AUDIENCE = "https://api.example.com"

    body = exchange_code(oauth_code_factory(public_oauth_client, scope="openid email")).json()

    _, claims = jwt_parts(body["access_token"])
    session = Session.objects.get()
    assert claims["aud"] == "https://api.example.com"
    assert claims["client_id"] == public_oauth_client.client_id
    assert claims["scope"] == "openid email"
    assert claims["sid"] == str(session.pk) == jwt_parts(body["refresh_token"])[1]["sid"]
    assert (session.client_id, session.scope) == (public_oauth_client.client_id, "openid email")


def test_an_exchanged_code_is_marked_and_names_the_session_it_started(
    public_oauth_client, oauth_code_factory, exchange_code
):
    exchange_code(oauth_code_factory(public_oauth_client))

    record = AuthorizationCode.objects.get()
    assert record.exchanged_at is not None
    assert record.session == Session.objects.get()


def test_the_database_keeps_only_a_hash_of_the_code(public_oauth_client, oauth_code_factory):
    issued = oauth_code_factory(public_oauth_client)

    (row,) = AuthorizationCode.objects.values()
    assert all(issued.code not in str(value) for value in row.values())


@pytest.mark.parametrize("length", [43, 128])
def test_verifiers_of_43_and_128_characters_are_accepted(
    public_oauth_client, oauth_code_factory, exchange_code, length
):
    verifier = ("A-._~z09" * 20)[:length]

    response = exchange_code(oauth_code_factory(public_oauth_client, verifier=verifier))

    assert response.status_code == HTTPStatus.OK, response.content


# --- errors, in the contract's order -----------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "expected_error"),
    [
        pytest.param({"grant_type": None}, "invalid_request", id="grant_type missing"),
        pytest.param({"grant_type": "  "}, "invalid_request", id="grant_type blank"),
        pytest.param(
            {"grant_type": "AUTHORIZATION_CODE"}, "unsupported_grant_type", id="grant_type in capitals"
        ),
        pytest.param({"grant_type": "password"}, "unsupported_grant_type", id="grant_type password"),
        pytest.param({"grant_type": "implicit"}, "unsupported_grant_type", id="grant_type implicit"),
    ],
)
def test_the_grant_type_is_checked_before_the_client(
    public_oauth_client, oauth_code_factory, exchange_code, code_still_works, overrides, expected_error
):
    issued = oauth_code_factory(public_oauth_client)

    # The client is unknown too: the grant_type comes first.
    response = exchange_code(issued, auth="", client_id="no-such-client", **overrides)

    assert oauth_error(response) == (HTTPStatus.BAD_REQUEST, expected_error)
    assert response["Cache-Control"] == "no-store"
    code_still_works(issued)


@pytest.mark.parametrize("repeated", ["grant_type", "code", "code_verifier", "client_id"])
def test_a_repeated_parameter_is_invalid_request_before_the_client_is_checked(
    api_client, public_oauth_client, oauth_code_factory, code_still_works, repeated
):
    issued = oauth_code_factory(public_oauth_client)
    # The client is unknown too: the repeated parameter comes first.
    params = code_exchange_parameters(issued, client_id="no-such-client")
    pairs = [*params.items(), (repeated, params[repeated])]

    response = api_client.post("/token", urlencode(pairs), content_type="application/x-www-form-urlencoded")

    assert oauth_error(response) == (HTTPStatus.BAD_REQUEST, "invalid_request")
    code_still_works(issued)


def invalid_client_cases():
    """(id, how the request authenticates, Basic used): each fails client authentication."""
    return [
        pytest.param(
            lambda public, confidential: ({"client_id": "no-such-client"}, {}), False, id="unknown client_id"
        ),
        pytest.param(
            lambda public, confidential: (
                {},
                {"HTTP_AUTHORIZATION": basic_authorization("no-such-client", "whatever")},
            ),
            True,
            id="unknown client_id in Basic",
        ),
        pytest.param(
            lambda public, confidential: (
                {"client_id": confidential.client_id, "client_secret": "wrong"},
                {},
            ),
            False,
            id="wrong secret in the body",
        ),
        pytest.param(
            lambda public, confidential: (
                {},
                {"HTTP_AUTHORIZATION": basic_authorization(confidential.client_id, "wrong")},
            ),
            True,
            id="wrong secret in Basic",
        ),
        pytest.param(
            lambda public, confidential: ({"client_id": confidential.client_id}, {}),
            False,
            id="confidential client without its secret",
        ),
        pytest.param(
            lambda public, confidential: (
                {"client_id": public.client_id, "client_secret": "a secret it does not have"},
                {},
            ),
            False,
            id="a secret for a public client",
        ),
        pytest.param(
            lambda public, confidential: (
                {"client_id": confidential.client_id},
                {"HTTP_AUTHORIZATION": basic_authorization(confidential.client_id, confidential.secret)},
            ),
            True,
            id="credentials both in the header and the body",
        ),
        pytest.param(
            lambda public, confidential: ({"client_secret": confidential.secret}, {}),
            False,
            id="a secret without a client_id",
        ),
        pytest.param(lambda public, confidential: ({}, {}), False, id="a request naming no client"),
    ]


@pytest.mark.parametrize(("credentials", "basic_used"), invalid_client_cases())
@pytest.mark.parametrize("code_of", ["public", "confidential"])
def test_failed_client_authentication_is_invalid_client_with_a_basic_challenge_only_for_basic(
    public_oauth_client,
    confidential_oauth_client,
    oauth_code_factory,
    exchange_code,
    code_still_works,
    credentials,
    basic_used,
    code_of,
):
    issued = oauth_code_factory(public_oauth_client if code_of == "public" else confidential_oauth_client)
    data, headers = credentials(public_oauth_client, confidential_oauth_client)

    response = exchange_code(issued, auth="", headers=headers, **data)

    assert oauth_error(response) == (HTTPStatus.UNAUTHORIZED, "invalid_client")
    if basic_used:
        assert response["WWW-Authenticate"].startswith("Basic")
    else:
        assert "WWW-Authenticate" not in response
    code_still_works(issued)


def test_a_disabled_client_cannot_exchange_its_code(public_oauth_client, oauth_code_factory, exchange_code):
    issued = oauth_code_factory(public_oauth_client)
    Client.objects.filter(pk=public_oauth_client.client_id).update(is_active=False)

    response = exchange_code(issued)

    assert oauth_error(response) == (HTTPStatus.UNAUTHORIZED, "invalid_client")
    assert not Session.objects.exists()


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"code": None}, id="code missing"),
        pytest.param({"code": "   "}, id="code blank"),
    ],
)
def test_client_authentication_comes_before_the_code_parameters(
    public_oauth_client, oauth_code_factory, exchange_code, overrides
):
    response = exchange_code(oauth_code_factory(public_oauth_client), auth="", **overrides)

    assert oauth_error(response) == (HTTPStatus.UNAUTHORIZED, "invalid_client")


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"code": None}, id="code missing"),
        pytest.param({"code": " \t "}, id="code blank"),
        pytest.param({"redirect_uri": None}, id="redirect_uri missing"),
        pytest.param({"redirect_uri": "  "}, id="redirect_uri blank"),
        pytest.param({"code_verifier": None}, id="code_verifier missing"),
        pytest.param({"code_verifier": "   "}, id="code_verifier blank"),
        pytest.param({"code_verifier": "a" * 42}, id="code_verifier of 42 characters"),
        pytest.param({"code_verifier": "a" * 129}, id="code_verifier of 129 characters"),
        pytest.param({"code_verifier": "a" * 42 + "+"}, id="code_verifier with a +"),
        pytest.param({"code_verifier": "a" * 42 + "/"}, id="code_verifier with a /"),
        pytest.param({"code_verifier": "a" * 42 + "="}, id="code_verifier with a ="),
        pytest.param({"code_verifier": "a" * 21 + " " + "a" * 21}, id="code_verifier with a space"),
        pytest.param({"code_verifier": "a" * 42 + "é"}, id="code_verifier with a non-ASCII letter"),
    ],
)
def test_missing_blank_or_malformed_code_parameters_are_invalid_request(
    confidential_oauth_client, oauth_code_factory, exchange_code, code_still_works, overrides
):
    issued = oauth_code_factory(confidential_oauth_client)

    response = exchange_code(issued, auth="client_secret_basic", **overrides)

    assert oauth_error(response) == (HTTPStatus.BAD_REQUEST, "invalid_request")
    code_still_works(issued)


def test_a_malformed_verifier_is_invalid_request_even_for_an_unknown_code(
    public_oauth_client, oauth_code_factory, exchange_code
):
    response = exchange_code(
        oauth_code_factory(public_oauth_client), code="no-such-code", code_verifier="short"
    )

    assert oauth_error(response) == (HTTPStatus.BAD_REQUEST, "invalid_request")


@pytest.fixture
def other_public_client(oauth_client_factory):
    return oauth_client_factory(name="Another app", client_id="another-app")


@pytest.mark.parametrize(
    "fault",
    [
        "unknown code",
        "expired",
        "another client's code",
        "another registered redirect_uri",
        "the redirect_uri with a trailing slash",
        "wrong verifier",
        "user disabled since",
    ],
)
def test_a_code_that_does_not_hold_is_invalid_grant_and_changes_nothing(
    oauth_client_factory, other_public_client, oauth_code_factory, exchange_code, user, fault
):
    registered = oauth_client_factory(redirect_uris=(OAUTH_REDIRECT_URI, OTHER_REDIRECT_URI))
    issued = oauth_code_factory(registered)
    overrides, as_client = {}, None
    if fault == "unknown code":
        overrides["code"] = "an-unknown-code"
    elif fault == "expired":
        AuthorizationCode.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    elif fault == "another client's code":  # code injection: A's code with B's client_id
        as_client = other_public_client
    elif fault == "another registered redirect_uri":
        overrides["redirect_uri"] = OTHER_REDIRECT_URI
    elif fault == "the redirect_uri with a trailing slash":
        overrides["redirect_uri"] = OAUTH_REDIRECT_URI + "/"
    elif fault == "wrong verifier":
        overrides["code_verifier"] = "w" * 43
    elif fault == "user disabled since":
        user.is_active = False
        user.save()
    before = AuthorizationCode.objects.values().get()

    response = exchange_code(issued, as_client=as_client, **overrides)

    assert oauth_error(response) == (HTTPStatus.BAD_REQUEST, "invalid_grant")
    assert response["Cache-Control"] == "no-store"
    assert AuthorizationCode.objects.values().get() == before
    assert not Session.objects.exists()


@pytest.mark.parametrize(
    "fault",
    ["another client's code", "another registered redirect_uri", "wrong verifier"],
)
def test_after_a_refused_exchange_the_code_still_works(
    oauth_client_factory, other_public_client, oauth_code_factory, exchange_code, code_still_works, fault
):
    registered = oauth_client_factory(redirect_uris=(OAUTH_REDIRECT_URI, OTHER_REDIRECT_URI))
    issued = oauth_code_factory(registered)
    refused = {
        "another client's code": lambda: exchange_code(issued, as_client=other_public_client),
        "another registered redirect_uri": lambda: exchange_code(issued, redirect_uri=OTHER_REDIRECT_URI),
        "wrong verifier": lambda: exchange_code(issued, code_verifier="w" * 43),
    }[fault]()
    assert refused.json()["error"] == "invalid_grant"

    code_still_works(issued)


def test_a_confidential_clients_code_presented_by_another_confidential_client_is_invalid_grant(
    confidential_oauth_client, oauth_client_factory, oauth_code_factory, exchange_code, code_still_works
):
    other = oauth_client_factory(name="Other server", client_id="other-server", confidential=True)
    issued = oauth_code_factory(confidential_oauth_client)

    response = exchange_code(issued, as_client=other, auth="client_secret_basic")

    assert oauth_error(response) == (HTTPStatus.BAD_REQUEST, "invalid_grant")
    code_still_works(issued)


@pytest.mark.parametrize(
    ("age", "expected"),
    [
        pytest.param(timedelta(seconds=25), HTTPStatus.OK, id="younger than the lifetime"),
        pytest.param(timedelta(seconds=35), HTTPStatus.BAD_REQUEST, id="older than the lifetime"),
    ],
)
def test_a_code_lives_authorization_code_lifetime_seconds(
    public_oauth_client, oauth_code_factory, exchange_code, settings, age, expected
):
    settings.AUTHORIZATION_CODE_LIFETIME_SECONDS = 30

    issued = oauth_code_factory(public_oauth_client, now=timezone.now() - age)

    record = AuthorizationCode.objects.get()
    assert record.expires_at - record.created_at == timedelta(seconds=30)
    response = exchange_code(issued)
    assert response.status_code == expected
    if expected != HTTPStatus.OK:
        assert response.json()["error"] == "invalid_grant"


# --- exchanged once; a replay revokes ----------------------------------------------------------


def test_a_replayed_code_is_invalid_grant_and_revokes_the_session_of_its_exchange(
    first_party_oauth_client, oauth_code_factory, exchange_code, refresh, me
):
    issued = oauth_code_factory(first_party_oauth_client)
    first = exchange_code(issued).json()
    assert me(first["access_token"]).status_code == HTTPStatus.OK

    replay = exchange_code(issued)

    assert oauth_error(replay) == (HTTPStatus.BAD_REQUEST, "invalid_grant")
    session = Session.objects.get()
    assert session.revoked_at is not None
    assert session.end_reason == Session.EndReason.CODE_REPLAYED
    assert refresh(first["refresh_token"]).json()["error"] == "invalid_grant"
    assert me(first["access_token"]).status_code == HTTPStatus.UNAUTHORIZED


def test_a_replayed_code_of_a_confidential_client_revokes_its_session_too(
    confidential_oauth_client, oauth_code_factory, exchange_code, refresh
):
    issued = oauth_code_factory(confidential_oauth_client)
    first = exchange_code(issued, auth="client_secret_basic").json()

    replay = exchange_code(issued, auth="client_secret_post")

    assert oauth_error(replay) == (HTTPStatus.BAD_REQUEST, "invalid_grant")
    assert Session.objects.get().end_reason == Session.EndReason.CODE_REPLAYED
    response = refresh(
        first["refresh_token"],
        client_id=confidential_oauth_client.client_id,
        client_secret=confidential_oauth_client.secret,
    )
    assert response.json()["error"] == "invalid_grant"


@pytest.mark.parametrize("replayed_by", ["a wrong verifier", "another client"])
def test_a_replay_that_does_not_prove_the_code_revokes_nothing(
    first_party_oauth_client, other_public_client, oauth_code_factory, exchange_code, refresh, me, replayed_by
):
    issued = oauth_code_factory(first_party_oauth_client)
    first = exchange_code(issued).json()

    if replayed_by == "a wrong verifier":
        replay = exchange_code(issued, code_verifier="w" * 43)
    else:
        replay = exchange_code(issued, as_client=other_public_client)

    assert oauth_error(replay) == (HTTPStatus.BAD_REQUEST, "invalid_grant")
    session = Session.objects.get()
    assert (session.revoked_at, session.end_reason) == (None, "")
    assert me(first["access_token"]).status_code == HTTPStatus.OK
    assert refresh(first["refresh_token"]).status_code == HTTPStatus.OK


def test_a_code_is_exchanged_once_even_by_a_replay_after_revocation(
    public_oauth_client, oauth_code_factory, exchange_code
):
    issued = oauth_code_factory(public_oauth_client)
    exchange_code(issued)
    exchange_code(issued)

    third = exchange_code(issued)

    assert oauth_error(third) == (HTTPStatus.BAD_REQUEST, "invalid_grant")
    assert Session.objects.count() == 1
