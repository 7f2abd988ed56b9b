"""DPoP (RFC 9449): a proof at /token binds the access token to the client's key (`cnf.jkt`,
token_type DPoP) and a public client's refresh tokens too; the protected endpoints take
`Authorization: DPoP` with a proof of that key; a bound token is no bearer token.

Checklist (RFC 9449 §4.3, the checks of a proof, each broken once below; FAPI 2.0 Security
Profile §5.3.2.2 items on DPoP):
1. one DPoP header, one JWT; 2. typ dpop+jwt; 3. an asymmetric alg; 4. a public jwk that
verifies the signature; 5. jti, htm, htu, iat present; 6. htm the method; 7. htu the URL;
8. a fresh iat; 9. the server nonce when required (§8: use_dpop_nonce, DPoP-Nonce); 10. ath the
token's hash (§7); 11. jti once (and the race on PostgreSQL); 12. the key the token is bound to.
"""

import json
import time
import uuid
from http import HTTPStatus

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from accounts.devices import flow as device_flow
from accounts.dpop import proofs
from accounts.errors import InvalidDpopProof
from accounts.machines.models import ClientToken
from accounts.models import Client, Session
from tests.oauth.conftest import client_authentication
from tests.test_accounts_concurrency import CONCURRENT, at_once

ISSUER = "http://127.0.0.1:8000"
CC = "client_credentials"


def new_key():
    return ec.generate_private_key(ec.SECP256R1())


def public_jwk(key) -> dict:
    return json.loads(ECAlgorithm.to_jwk(key.public_key()))


def proof(key, *, htm="POST", htu=f"{ISSUER}/token", jwk=None, headers=None, drop=(), **claims) -> str:
    """A DPoP proof made with `key` (PyJWT and cryptography), each part overridable."""
    body = {"jti": uuid.uuid4().hex, "htm": htm, "htu": htu, "iat": int(time.time()), **claims}
    for name in drop:
        body.pop(name)
    head = {"typ": "dpop+jwt", "jwk": jwk if jwk is not None else public_jwk(key), **(headers or {})}
    return jwt.encode(body, key, algorithm="ES256", headers=head)


@pytest.fixture
def machine(oauth_client_factory):
    return oauth_client_factory(
        name="Billing", client_id="billing", confidential=True, redirect_uris=(), grant_types=(CC,)
    )


@pytest.fixture
def key():
    return new_key()


def cc_token(api_client, registered, dpop: str | None = None, **extra):
    data, headers = client_authentication(registered)
    if dpop is not None:
        headers["HTTP_DPOP"] = dpop
    return api_client.post("/token", {"grant_type": CC, **data, **extra}, **headers)


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def refused(response, description: str, error: str = "invalid_dpop_proof"):
    assert response.status_code == HTTPStatus.BAD_REQUEST, response.content
    assert response.json() == {"error": error, "error_description": description}


# --- /token: binding -------------------------------------------------------------------------------


def test_a_proof_at_token_binds_the_access_token_to_the_key(api_client, machine, key):
    response = cc_token(api_client, machine, proof(key))

    assert response.status_code == HTTPStatus.OK, response.content
    body = response.json()
    assert body["token_type"] == "DPoP"
    assert claims_of(body["access_token"])["cnf"] == {"jkt": proofs.jkt_of(public_jwk(key))}
    without = cc_token(api_client, machine).json()
    assert without["token_type"] == "bearer"
    assert "cnf" not in claims_of(without["access_token"])


def test_a_public_clients_refresh_tokens_are_bound_to_its_key(
    api_client, public_oauth_client, oauth_code_factory, key
):
    issued = oauth_code_factory(public_oauth_client)
    exchange = {
        "grant_type": "authorization_code",
        "code": issued.code,
        "redirect_uri": issued.redirect_uri,
        "code_verifier": issued.verifier,
        "client_id": "public-app",
    }
    body = api_client.post("/token", exchange, HTTP_DPOP=proof(key)).json()
    assert body["token_type"] == "DPoP"
    assert Session.objects.get().dpop_jkt == proofs.jkt_of(public_jwk(key))
    refresh = {
        "grant_type": "refresh_token",
        "refresh_token": body["refresh_token"],
        "client_id": "public-app",
    }

    refused(
        api_client.post("/token", refresh),
        "This refresh token is bound to a DPoP key: send a proof made with that key.",
    )
    refused(
        api_client.post("/token", refresh, HTTP_DPOP=proof(new_key())),
        "This refresh token is bound to a DPoP key: send a proof made with that key.",
    )
    again = api_client.post("/token", refresh, HTTP_DPOP=proof(key))
    assert again.status_code == HTTPStatus.OK, again.content  # nothing was spent by the refusals
    assert claims_of(again.json()["access_token"])["cnf"]["jkt"] == proofs.jkt_of(public_jwk(key))


def test_a_confidential_clients_refresh_token_is_bound_by_its_authentication_only(
    api_client, confidential_oauth_client, oauth_code_factory, exchange_code, key
):
    issued = oauth_code_factory(confidential_oauth_client)
    body = exchange_code(issued, headers={"HTTP_DPOP": proof(key)}).json()
    assert body["token_type"] == "DPoP"
    assert Session.objects.get().dpop_jkt == ""
    data, _ = client_authentication(confidential_oauth_client)

    refreshed = api_client.post(
        "/token", {"grant_type": "refresh_token", "refresh_token": body["refresh_token"], **data}
    )

    assert refreshed.json()["token_type"] == "bearer"


def test_a_device_code_exchange_is_bound_too(api_client, oauth_client_factory, user, key):
    tv = oauth_client_factory(
        name="TV",
        client_id="tv",
        redirect_uris=(),
        grant_types=("urn:ietf:params:oauth:grant-type:device_code",),
    )
    started = device_flow.start(client=tv.client, scope="openid")
    record = device_flow.DeviceAuthorization.objects.get()
    device_flow.decide(record, user=user, allow=True, auth_time=record.created_at, amr=("pwd",))

    body = api_client.post(
        "/token",
        {
            "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
            "device_code": started.device_code,
            "client_id": "tv",
        },
        HTTP_DPOP=proof(key),
    ).json()

    assert body["token_type"] == "DPoP"
    assert Session.objects.get().dpop_jkt == proofs.jkt_of(public_jwk(key))


def test_a_client_that_requires_dpop_gets_no_token_without_a_proof(api_client, machine, key):
    Client.objects.filter(pk="billing").update(require_dpop=True)

    refused(
        cc_token(api_client, machine),
        "This client must send a DPoP proof with each token request (RFC 9449).",
    )
    assert cc_token(api_client, machine, proof(key)).json()["token_type"] == "DPoP"


# --- /token: each check of a proof broken once ---------------------------------------------------


def hmac_proof() -> str:
    return jwt.encode(
        {"jti": "j", "htm": "POST", "htu": f"{ISSUER}/token", "iat": int(time.time())},
        "secret-of-32-bytes-at-the-least!",
        algorithm="HS256",
        headers={"typ": "dpop+jwt", "jwk": {"kty": "oct", "k": "c2VjcmV0"}},
    )


BROKEN = [
    pytest.param(lambda k: "not-a-jwt", "The DPoP proof is not a JWT.", id="not a JWT"),
    pytest.param(
        lambda k: f"{proof(k)},{proof(k)}",
        "Send exactly one DPoP header holding one proof.",
        id="two headers",
    ),
    pytest.param(
        lambda k: proof(k, headers={"typ": "JWT"}), 'The DPoP proof\'s typ must be "dpop+jwt".', id="typ"
    ),
    pytest.param(lambda k: hmac_proof(), "The DPoP proof must be signed with one of RS256", id="HMAC"),
    pytest.param(
        lambda k: proof(k, jwk={**public_jwk(k), "d": "private"}),
        "The DPoP proof's jwk must be a public key.",
        id="private jwk",
    ),
    pytest.param(
        lambda k: proof(k, jwk=public_jwk(new_key())),
        "The DPoP proof's signature does not verify with its jwk.",
        id="signed by another key",
    ),
    pytest.param(lambda k: proof(k, drop=("jti",)), "The DPoP proof has no jti claim.", id="no jti"),
    pytest.param(lambda k: proof(k, drop=("htm",)), "The DPoP proof has no htm claim.", id="no htm"),
    pytest.param(lambda k: proof(k, drop=("htu",)), "The DPoP proof has no htu claim.", id="no htu"),
    pytest.param(lambda k: proof(k, drop=("iat",)), "The DPoP proof has no iat claim.", id="no iat"),
    pytest.param(
        lambda k: proof(k, htm="GET"), "The DPoP proof's htm is not this request's method (POST).", id="htm"
    ),
    pytest.param(
        lambda k: proof(k, htu=f"{ISSUER}/revoke"),
        f"The DPoP proof's htu is not this endpoint's URL ({ISSUER}/token).",
        id="htu",
    ),
    pytest.param(
        lambda k: proof(k, htu="http://[::1/token"),
        f"The DPoP proof's htu is not this endpoint's URL ({ISSUER}/token).",
        id="htu no URL",
    ),
    pytest.param(
        lambda k: proof(k, iat=int(time.time()) - 61),
        "The DPoP proof's iat is not within the last 60 seconds.",
        id="iat old",
    ),
    pytest.param(
        lambda k: proof(k, iat=int(time.time()) + 30),
        "The DPoP proof's iat is not within the last 60 seconds.",
        id="iat ahead",
    ),
]


@pytest.mark.parametrize(("make", "description"), BROKEN)
def test_a_broken_proof_is_invalid_dpop_proof_and_issues_nothing(api_client, machine, key, make, description):
    response = cc_token(api_client, machine, make(key))

    assert response.status_code == HTTPStatus.BAD_REQUEST, response.content
    assert response.json()["error"] == "invalid_dpop_proof"
    assert response.json()["error_description"].startswith(description)
    assert not ClientToken.objects.exists()


def test_htu_ignores_the_query_and_a_proof_is_accepted_once(api_client, machine, key):
    one = proof(key, htu=f"{ISSUER}/token?x=1")

    assert cc_token(api_client, machine, one).status_code == HTTPStatus.OK
    refused(
        cc_token(api_client, machine, one),
        "The DPoP proof was used before: make a new one (jti) for each request.",
    )
    assert ClientToken.objects.count() == 1


def test_a_required_nonce_is_asked_for_then_accepted(api_client, machine, key, settings):
    settings.DPOP_NONCE_REQUIRED = True

    first = cc_token(api_client, machine, proof(key))

    refused(
        first, "Use the DPoP-Nonce this response carries in the proof's nonce claim.", error="use_dpop_nonce"
    )
    nonce = first["DPoP-Nonce"]
    second = cc_token(api_client, machine, proof(key, nonce=nonce))
    assert second.status_code == HTTPStatus.OK, second.content
    assert second["DPoP-Nonce"] == nonce
    refused(
        cc_token(api_client, machine, proof(key, nonce="made-up")),
        first.json()["error_description"],
        "use_dpop_nonce",
    )


def test_a_nonce_of_the_previous_window_is_still_good_and_an_older_one_is_not(
    api_client, machine, key, settings, clock
):
    settings.DPOP_NONCE_REQUIRED = True
    nonce = proofs.current_nonce()
    clock.advance(settings.DPOP_NONCE_LIFETIME_SECONDS)
    assert proofs.nonce_is_valid(nonce)
    clock.advance(settings.DPOP_NONCE_LIFETIME_SECONDS)
    assert not proofs.nonce_is_valid(nonce)


# --- the protected endpoints ----------------------------------------------------------------------


@pytest.fixture
def bound(api_client, first_party_oauth_client, oauth_code_factory, key) -> str:
    """A DPoP-bound access token of a first-party client's session (it opens /users/me/)."""
    issued = oauth_code_factory(first_party_oauth_client)
    body = api_client.post(
        "/token",
        {
            "grant_type": "authorization_code",
            "code": issued.code,
            "redirect_uri": issued.redirect_uri,
            "code_verifier": issued.verifier,
            "client_id": "own-app",
        },
        HTTP_DPOP=proof(key),
    ).json()
    assert body["token_type"] == "DPoP"
    return body["access_token"]


def me(api_client, token: str, dpop: str | None, scheme: str = "DPoP", path: str = "/users/me/"):
    headers = {"HTTP_AUTHORIZATION": f"{scheme} {token}"}
    if dpop is not None:
        headers["HTTP_DPOP"] = dpop
    return api_client.get(path, **headers)


def resource_proof(key, token: str, path: str = "/users/me/", htm: str = "GET", **claims) -> str:
    return proof(key, htm=htm, htu=f"{ISSUER}{path}", ath=proofs.access_token_hash(token), **claims)


def challenge_of(response) -> str:
    assert response.status_code == HTTPStatus.UNAUTHORIZED, response.content
    return response["WWW-Authenticate"]


@pytest.mark.parametrize("path", ["/users/me/", "/userinfo", "/users/me/sessions/"])
def test_a_bound_token_opens_the_protected_endpoints_with_a_proof_of_its_key(api_client, bound, key, path):
    response = me(api_client, bound, resource_proof(key, bound, path), path=path)

    assert response.status_code == HTTPStatus.OK, response.content


def test_a_bound_token_is_no_bearer_token(api_client, bound):
    response = me(api_client, bound, None, scheme="Bearer")

    assert challenge_of(response).startswith('DPoP error="invalid_token"')
    assert response.json() == {"detail": "This access token is DPoP-bound: send it as DPoP, with a proof."}


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        pytest.param(lambda k, t: None, "A DPoP proof is required.", id="no proof"),
        pytest.param(
            lambda k, t: resource_proof(new_key(), t), "The DPoP proof's key is not the one", id="another key"
        ),
        pytest.param(
            lambda k, t: resource_proof(k, t + "x"), "The DPoP proof's ath is not the hash", id="ath"
        ),
        pytest.param(
            lambda k, t: proof(k, htm="GET", htu=f"{ISSUER}/users/me/"), "The DPoP proof's ath", id="no ath"
        ),
        pytest.param(lambda k, t: resource_proof(k, t, htm="POST"), "The DPoP proof's htm", id="htm"),
        pytest.param(lambda k, t: resource_proof(k, t, "/userinfo"), "The DPoP proof's htu", id="htu"),
    ],
)
def test_a_request_without_a_good_proof_of_the_bound_key_is_refused(api_client, bound, key, make, expected):
    response = me(api_client, bound, make(key, bound))

    assert challenge_of(response).startswith('DPoP error="invalid_dpop_proof"')
    assert 'algs="' in response["WWW-Authenticate"]
    assert response.json()["detail"].startswith(expected)


def test_a_proof_is_accepted_once_at_a_protected_endpoint_too(api_client, bound, key):
    one = resource_proof(key, bound)

    assert me(api_client, bound, one).status_code == HTTPStatus.OK
    assert me(api_client, bound, one).json()["detail"].startswith("The DPoP proof was used before")


def test_a_bearer_token_sent_as_dpop_is_refused(api_client, tokens, key):
    response = me(api_client, tokens["access_token"], resource_proof(key, tokens["access_token"]))

    assert challenge_of(response).startswith('DPoP error="invalid_token"')


def test_the_nonce_is_asked_for_at_a_protected_endpoint(api_client, bound, key, settings):
    settings.DPOP_NONCE_REQUIRED = True

    response = me(api_client, bound, resource_proof(key, bound))

    assert challenge_of(response).startswith('DPoP error="use_dpop_nonce"')
    ok = me(api_client, bound, resource_proof(key, bound, nonce=response["DPoP-Nonce"]))
    assert ok.status_code == HTTPStatus.OK


def test_introspection_and_discovery_tell_of_dpop(api_client, machine, key, oauth_client_factory):
    api = oauth_client_factory(name="API", client_id="api", confidential=True)
    token = cc_token(api_client, machine, proof(key)).json()["access_token"]

    answer = api_client.post(
        "/introspect", {"token": token}, **client_authentication(api, "client_secret_basic")[1]
    ).json()

    assert answer["cnf"] == {"jkt": proofs.jkt_of(public_jwk(key))}
    document = api_client.get("/.well-known/oauth-authorization-server").json()
    assert document["dpop_signing_alg_values_supported"] == list(proofs.ALGORITHMS)


@pytest.mark.postgres
def test_one_proof_presented_at_once_is_accepted_once(transactional_db, key):
    """The replay race: the jti's first use is one INSERT, which PostgreSQL grants once."""
    one = proof(key)

    def check():
        try:
            return proofs.verify(one, method="POST", url=f"{ISSUER}/token")
        except InvalidDpopProof as e:
            return e

    results = at_once(check)

    assert sum(1 for r in results if isinstance(r, proofs.Proof)) == 1, results
    assert sum(1 for r in results if isinstance(r, InvalidDpopProof)) == CONCURRENT - 1


def test_an_iat_that_is_not_a_finite_number_is_refused(api_client, machine, key):
    """json reads NaN, and NaN compares false both ways: it must not slip through the window."""
    head = {"typ": "dpop+jwt", "jwk": public_jwk(key), "alg": "ES256"}
    payload = '{"jti": "nan-1", "htm": "POST", "htu": "' + ISSUER + '/token", "iat": NaN}'
    signing_input = (
        jwt.utils.base64url_encode(json.dumps(head).encode())
        + b"."
        + jwt.utils.base64url_encode(payload.encode())
    )
    signature = jwt.algorithms.ECAlgorithm(jwt.algorithms.ECAlgorithm.SHA256).sign(signing_input, key)
    nan_proof = (signing_input + b"." + jwt.utils.base64url_encode(signature)).decode()

    refused(cc_token(api_client, machine, nan_proof), "The DPoP proof has no iat claim.")


def test_a_session_begun_without_dpop_is_bound_at_its_first_refresh_with_a_proof(
    api_client, public_oauth_client, client_session_tokens, key
):
    body = client_session_tokens(public_oauth_client)
    refresh = {"grant_type": "refresh_token", "client_id": "public-app"}

    bound = api_client.post(
        "/token", {**refresh, "refresh_token": body["refresh_token"]}, HTTP_DPOP=proof(key)
    )
    assert bound.json()["token_type"] == "DPoP"
    assert Session.objects.get().dpop_jkt == proofs.jkt_of(public_jwk(key))

    refused(
        api_client.post("/token", {**refresh, "refresh_token": bound.json()["refresh_token"]}),
        "This refresh token is bound to a DPoP key: send a proof made with that key.",
    )


def test_a_session_without_a_client_is_bound_too(user, key):
    """A token exchange needs no client: its refresh tokens are the key's as a public client's are."""
    from accounts import services
    from accounts.callers import Caller

    issued = services.session_start(
        user=user,
        caller=Caller(dpop_jkt=proofs.jkt_of(public_jwk(key))),
        grant_type=Session.Grant.TOKEN_EXCHANGE,
    )

    assert issued.session.dpop_jkt == proofs.jkt_of(public_jwk(key))
    assert issued.token_type == "DPoP"


def test_a_request_refused_for_another_reason_spends_no_proof(api_client, machine, key):
    one = proof(key)
    data, headers = client_authentication(machine)

    # The grant's own check (this client may not refresh) comes after client authentication.
    refused_grant = api_client.post(
        "/token", {"grant_type": "refresh_token", **data}, HTTP_DPOP=one, **headers
    )

    assert refused_grant.json()["error"] == "unauthorized_client"
    assert cc_token(api_client, machine, one).json()["token_type"] == "DPoP"


def test_a_lone_surrogate_in_ath_or_nonce_is_refused_not_a_server_error(
    api_client, bound, key, machine, settings
):
    odd = me(api_client, bound, proof(key, htm="GET", htu=f"{ISSUER}/users/me/", ath="\ud800"))
    assert challenge_of(odd).startswith('DPoP error="invalid_dpop_proof"')
    settings.DPOP_NONCE_REQUIRED = True
    refused(
        cc_token(api_client, machine, proof(key, nonce="\ud800")),
        "Use the DPoP-Nonce this response carries in the proof's nonce claim.",
        error="use_dpop_nonce",
    )


def test_a_challenge_holds_printable_ascii_only(
    api_client, first_party_oauth_client, oauth_code_factory, key
):
    """The request's path reaches the htu error's description: a control character or non-Latin-1
    text in it must not reach the WWW-Authenticate header."""
    from accounts.errors import DpopUnauthorized

    challenge = DpopUnauthorized("invalid_dpop_proof", 'bad\x01 "path" é\\').headers()["WWW-Authenticate"]

    assert 'error_description="bad? ?path? ??"' in challenge


def test_htu_with_the_default_port_is_the_same_url(api_client, machine, key):
    assert (
        cc_token(api_client, machine, proof(key, htu="http://127.0.0.1:80/token")).status_code
        == HTTPStatus.BAD_REQUEST
    )
    assert proofs._without_query("https://as.example:443/token") == proofs._without_query(
        "https://AS.example/token"
    )
    assert proofs._without_query("http://[::1]:80/x") == "http://[::1]/x"
