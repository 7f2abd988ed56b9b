"""private_key_jwt client authentication (RFC 7523 §2.2 and §3, RFC 7521 §4.2, OpenID Connect
Core §9): a client that registered its public keys (a JWKS, or a jwks_uri) proves itself at /token,
/revoke and /introspect with a JWT signed by its private key. Each rule of the assertion is broken
once below, and each breach is invalid_client that says which rule, changing nothing."""

import json
import uuid
from http import HTTPStatus
from io import StringIO

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from accounts import clock
from accounts.errors import InvalidClient
from accounts.machines.models import ClientToken
from accounts.models import Client, ThrottleCounter
from accounts.oauth import assertions
from accounts.oauth.clients import ClientCredentials, client_authenticate
from tests.documents import DocumentServer
from tests.test_accounts_concurrency import CONCURRENT, at_once

CC = "client_credentials"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ISSUER = "http://testserver"  # the suite's TOKEN_ISSUER is set per test below


def public_jwk(private_key, kid: str, **members) -> dict:
    """The public half of `private_key` as a JWK, with its kid (and `alg`, `use` if given)."""
    algorithm = {
        rsa.RSAPrivateKey: RSAAlgorithm,
        ec.EllipticCurvePrivateKey: ECAlgorithm,
        ed25519.Ed25519PrivateKey: OKPAlgorithm,
    }
    kind = next(cls for base, cls in algorithm.items() if isinstance(private_key, base))
    return {**json.loads(kind.to_jwk(private_key.public_key())), "kid": kid, **members}


@pytest.fixture(scope="module")
def ec_key():
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(autouse=True)
def issuer(settings):
    settings.TOKEN_ISSUER = ISSUER
    assertions.reset()
    yield
    assertions.reset()


@pytest.fixture
def keyed_machine(oauth_client_factory, ec_key, rsa_key):
    """A service with a registered JWKS of two keys (ES256 "ec-1", RS256 "rsa-1"), allowed the
    client credentials grant."""
    return oauth_client_factory(
        name="Reporting service",
        client_id="reporting",
        redirect_uris=(),
        grant_types=(CC,),
        jwks={"keys": [public_jwk(ec_key, "ec-1"), public_jwk(rsa_key, "rsa-1")]},
    )


def assertion(key, *, client_id="reporting", kid="ec-1", alg="ES256", headers=None, **claims) -> str:
    """A client assertion as a client makes one (PyJWT): the claims RFC 7523 §3 requires, for this
    service's token endpoint, valid for a minute; `claims` override or (None) remove them."""
    now = int(clock.time())
    payload = {
        "iss": client_id,
        "sub": client_id,
        "aud": f"{ISSUER}/token",
        "iat": now,
        "exp": now + 60,
        "jti": str(uuid.uuid4()),
        **claims,
    }
    payload = {name: value for name, value in payload.items() if value is not None}
    return jwt.encode(
        payload, key, algorithm=alg, headers={**({"kid": kid} if kid else {}), **(headers or {})}
    )


def token_with(api_client, client_assertion, *, path="/token", **extra):
    data = {"client_assertion_type": JWT_BEARER, "client_assertion": client_assertion, **extra}
    if path == "/token":
        data.setdefault("grant_type", CC)
    return api_client.post(path, {name: value for name, value in data.items() if value is not None})


def refused(response, description: str) -> None:
    assert response.status_code == HTTPStatus.UNAUTHORIZED, response.content
    assert response.json() == {"error": "invalid_client", "error_description": description}
    assert not ClientToken.objects.exists()


@pytest.mark.parametrize(
    ("kid", "alg", "key_name"), [("ec-1", "ES256", "ec_key"), ("rsa-1", "RS256", "rsa_key")]
)
def test_a_client_with_keys_gets_a_token_with_an_assertion_and_no_client_id(
    api_client, keyed_machine, request, kid, alg, key_name
):
    response = token_with(api_client, assertion(request.getfixturevalue(key_name), kid=kid, alg=alg))

    assert response.status_code == HTTPStatus.OK, response.content
    claims = jwt.decode(response.json()["access_token"], options={"verify_signature": False})
    assert claims["sub"] == claims["client_id"] == "reporting"
    assert ClientToken.objects.filter(client_id="reporting").count() == 1


@pytest.mark.parametrize("audience", [ISSUER, f"{ISSUER}/token", [f"{ISSUER}/token", "https://other"]])
def test_the_audience_may_be_the_issuer_or_the_token_endpoint(api_client, keyed_machine, ec_key, audience):
    response = token_with(api_client, assertion(ec_key, aud=audience), client_id="reporting")

    assert response.status_code == HTTPStatus.OK, response.content


def test_at_revocation_and_introspection_the_audience_may_be_that_endpoint(api_client, keyed_machine, ec_key):
    issued = token_with(api_client, assertion(ec_key)).json()["access_token"]

    introspected = token_with(
        api_client, assertion(ec_key, aud=f"{ISSUER}/introspect"), path="/introspect", token=issued
    )
    revoked = token_with(api_client, assertion(ec_key, aud=f"{ISSUER}/revoke"), path="/revoke", token=issued)

    assert introspected.status_code == HTTPStatus.OK
    assert introspected.json()["active"] is True
    assert introspected.json()["client_id"] == "reporting"
    assert revoked.status_code == HTTPStatus.OK
    assert ClientToken.objects.get().revoked_at is not None


def test_a_second_use_of_one_assertion_is_refused(api_client, keyed_machine, ec_key):
    once = assertion(ec_key)
    assert token_with(api_client, once).status_code == HTTPStatus.OK

    response = token_with(api_client, once)

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json()["error_description"] == (
        "The client_assertion was used before: make a new one (jti) for each request."
    )
    assert ClientToken.objects.count() == 1


def test_a_refused_assertion_does_not_spend_its_jti(api_client, keyed_machine, ec_key):
    jti = str(uuid.uuid4())
    refused(
        token_with(api_client, assertion(ec_key, jti=jti, aud="https://elsewhere")),
        f"The client_assertion's aud must be {ISSUER} or {ISSUER}/token.",
    )
    assert not ThrottleCounter.objects.exists()

    assert token_with(api_client, assertion(ec_key, jti=jti)).status_code == HTTPStatus.OK


def hmac_assertion(_ec_key):
    return assertion("a-secret-both-sides-would-know-000000000000", alg="HS256")


def unsigned_assertion(_ec_key):
    return jwt.encode({"iss": "reporting", "sub": "reporting"}, None, algorithm="none")


@pytest.mark.parametrize(
    ("make", "description"),
    [
        (
            lambda key: assertion(ec.generate_private_key(ec.SECP256R1())),
            "The client_assertion's signature does not verify.",
        ),
        (
            hmac_assertion,
            "The client_assertion must be signed with one of RS256, RS384, RS512, PS256, PS384, PS512, "
            "ES256, ES384, ES512, EdDSA.",
        ),
        (
            unsigned_assertion,
            "The client_assertion must be signed with one of RS256, RS384, RS512, PS256, PS384, PS512, "
            "ES256, ES384, ES512, EdDSA.",
        ),
        (
            lambda key: assertion(key, kid="unknown"),
            "No key of the client verifies ES256 with kid 'unknown'.",
        ),
        (lambda key: assertion(key, kid="rsa-1"), "No key of the client verifies ES256 with kid 'rsa-1'."),
        (
            lambda key: assertion(key, kid=None),
            "No key of the client verifies ES256 with kid None.",
        ),
        (lambda key: assertion(key, iss="someone-else"), "The client_assertion's iss must be the client_id."),
        (lambda key: assertion(key, sub="someone-else"), "The client_assertion's sub must be the client_id."),
        (
            lambda key: assertion(key, aud="https://elsewhere/token"),
            f"The client_assertion's aud must be {ISSUER} or {ISSUER}/token.",
        ),
        (lambda key: assertion(key, aud=None), "The client_assertion has no aud claim."),
        (lambda key: assertion(key, exp=None), "The client_assertion has no exp claim."),
        (lambda key: assertion(key, jti=None), "The client_assertion has no jti claim."),
        (
            lambda key: assertion(key, jti=""),
            "The client_assertion's jti must be a string of 1 to 256 characters.",
        ),
        (lambda key: assertion(key, exp=int(clock.time()) - 60), "The client_assertion has expired."),
        (
            lambda key: assertion(key, exp=int(clock.time()) + 2 * 3600),
            "The client_assertion's exp is more than 3600 seconds ahead: make a short-lived one for each "
            "request.",
        ),
        (
            lambda key: assertion(key, nbf=int(clock.time()) + 600),
            "The client_assertion is not valid yet (nbf or iat in the future).",
        ),
        (lambda key: "not.a.jwt", "The client_assertion is not a signed JWT."),
    ],
    ids=[
        "another key",
        "HS256",
        "alg none",
        "unknown kid",
        "kid of another algorithm",
        "no kid among two keys",
        "iss",
        "sub",
        "aud",
        "no aud",
        "no exp",
        "no jti",
        "empty jti",
        "expired",
        "exp two hours ahead",
        "nbf ahead",
        "garbage",
    ],
)
def test_an_assertion_breaking_a_rule_is_invalid_client_saying_which(
    api_client, keyed_machine, ec_key, make, description
):
    refused(token_with(api_client, make(ec_key), client_id="reporting"), description)
    assert not ThrottleCounter.objects.exists()  # nothing recorded for a refused assertion


def test_clock_skew_of_the_leeway_is_accepted(api_client, keyed_machine, ec_key):
    response = token_with(
        api_client, assertion(ec_key, iat=int(clock.time()) + 20, nbf=int(clock.time()) + 20)
    )

    assert response.status_code == HTTPStatus.OK, response.content


@pytest.mark.parametrize(
    ("extra", "description"),
    [
        ({"client_assertion_type": "urn:example:saml"}, f"client_assertion_type must be {JWT_BEARER}."),
        ({"client_assertion_type": None}, f"client_assertion_type must be {JWT_BEARER}."),
        (
            {"client_secret": "a-secret"},
            "Authenticate the client one way: a client_secret or a client_assertion.",
        ),
        ({"client_id": "another"}, "Unknown client."),
    ],
    ids=["another type", "no type", "and a secret", "another client_id"],
)
def test_the_parameters_around_the_assertion_are_checked(
    api_client, keyed_machine, ec_key, extra, description
):
    refused(token_with(api_client, assertion(ec_key), **extra), description)


def test_a_type_without_an_assertion_is_invalid_client(api_client, keyed_machine):
    response = api_client.post(
        "/token", {"grant_type": CC, "client_id": "reporting", "client_assertion_type": JWT_BEARER}
    )

    refused(response, "A client_assertion_type needs its client_assertion.")


def test_a_client_with_keys_has_no_secret_to_send(api_client, keyed_machine):
    assert keyed_machine.secret is None
    assert Client.objects.get(pk="reporting").confidential is True

    response = api_client.post(
        "/token", {"grant_type": CC, "client_id": "reporting", "client_secret": "guess"}
    )

    refused(response, "This client authenticates with its keys (private_key_jwt), not a secret.")


def test_a_client_without_keys_cannot_use_an_assertion(api_client, oauth_client_factory, ec_key):
    oauth_client_factory(client_id="reporting", confidential=True, redirect_uris=(), grant_types=(CC,))

    refused(
        token_with(api_client, assertion(ec_key)),
        "This client has registered no keys: it cannot use private_key_jwt.",
    )


def test_a_public_client_cannot_use_an_assertion(api_client, oauth_client_factory, ec_key):
    oauth_client_factory(client_id="reporting")

    response = token_with(api_client, assertion(ec_key), grant_type="refresh_token", refresh_token="x")

    refused(response, "A public client has no keys.")


def test_an_eddsa_key_without_alg_verifies_eddsa(api_client, oauth_client_factory):
    key = ed25519.Ed25519PrivateKey.generate()
    oauth_client_factory(
        client_id="reporting", redirect_uris=(), grant_types=(CC,), jwks={"keys": [public_jwk(key, "ed")]}
    )

    response = token_with(api_client, assertion(key, kid="ed", alg="EdDSA"))

    assert response.status_code == HTTPStatus.OK, response.content


# --- jwks_uri: keys read from the client's server --------------------------------------------------


@pytest.fixture
def key_server():
    server = DocumentServer()
    yield server
    server.stop()


@pytest.fixture
def remote_machine(oauth_client_factory, key_server, ec_key):
    jwks_uri = key_server.serve_json("/jwks.json", {"keys": [public_jwk(ec_key, "ec-1")]})
    oauth_client_factory(client_id="reporting", redirect_uris=(), grant_types=(CC,), jwks_uri=jwks_uri)
    return key_server


def test_keys_at_a_jwks_uri_are_read_once_and_kept(api_client, remote_machine, ec_key):
    for _ in range(3):
        assert token_with(api_client, assertion(ec_key)).status_code == HTTPStatus.OK

    assert remote_machine.requests["/jwks.json"] == 1


def test_a_new_key_at_the_jwks_uri_is_seen_at_its_first_use(api_client, remote_machine, ec_key, clock):
    assert token_with(api_client, assertion(ec_key)).status_code == HTTPStatus.OK
    rotated = ec.generate_private_key(ec.SECP256R1())
    remote_machine.serve_json("/jwks.json", {"keys": [public_jwk(rotated, "ec-2")]})
    clock.advance(61)  # CLIENT_JWKS_REFRESH_SECONDS since the last read

    assert token_with(api_client, assertion(rotated, kid="ec-2")).status_code == HTTPStatus.OK
    assert remote_machine.requests["/jwks.json"] == 2
    # Made-up kids within the interval cost no read.
    made_up = token_with(api_client, assertion(rotated, kid="made-up"))
    assert made_up.json()["error_description"] == "No key of the client verifies ES256 with kid 'made-up'."
    assert remote_machine.requests["/jwks.json"] == 2


def test_known_keys_stay_in_use_while_the_jwks_uri_is_down(
    api_client, remote_machine, ec_key, clock, settings
):
    assert token_with(api_client, assertion(ec_key)).status_code == HTTPStatus.OK
    del remote_machine.documents["/jwks.json"]  # 404 from now on
    clock.advance(settings.CLIENT_JWKS_CACHE_SECONDS + 1)

    assert token_with(api_client, assertion(ec_key)).status_code == HTTPStatus.OK
    assert remote_machine.requests["/jwks.json"] == 2


def test_a_jwks_uri_that_cannot_be_read_is_invalid_client(api_client, remote_machine, ec_key):
    remote_machine.documents["/jwks.json"] = (b"<html>down for maintenance</html>", {})

    refused(
        token_with(api_client, assertion(ec_key)), "The client's keys at its jwks_uri cannot be read now."
    )


# --- registration, discovery ----------------------------------------------------------------------


def test_create_client_registers_keys_from_a_file_and_prints_no_secret(db, tmp_path, ec_key):
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [public_jwk(ec_key, "ec-1")]}))
    out = StringIO()

    call_command("create_client", "Reporting", "--grant-type", CC, "--jwks", str(jwks), stdout=out)

    printed = json.loads(out.getvalue())
    assert printed["client_secret"] is None
    client = Client.objects.get(pk=printed["client_id"])
    assert client.confidential is True
    assert client.secret_hash == ""
    assert client.jwks == {"keys": [public_jwk(ec_key, "ec-1")]}


@pytest.mark.parametrize(
    ("jwks", "jwks_uri", "message"),
    [
        ({"keys": []}, "", r'a JWKS is \{"keys": \[...\]\} with 1 to 20 keys'),
        (
            {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]},
            "",
            "each key of the JWKS is an RSA, EC or OKP public key",
        ),
        ("private", "", "the JWKS holds a private key \\(member 'd'\\)"),
        ({"keys": [{"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}]}, "", "the JWKS cannot be read"),
        ("public", "https://keys.example/jwks.json", "register either a JWKS or a jwks_uri, not both"),
        (None, "http://keys.example/jwks.json", "a jwks_uri is https"),
        (None, "ftp://keys.example/jwks.json", "a jwks_uri is https"),
    ],
    ids=["no keys", "symmetric", "private", "unreadable", "both", "http", "ftp"],
)
def test_create_client_refuses_keys_that_cannot_work(db, tmp_path, ec_key, jwks, jwks_uri, message):
    private = json.loads(ECAlgorithm.to_jwk(ec_key))
    named = {"private": {"keys": [private]}, "public": {"keys": [public_jwk(ec_key, "k")]}}
    document = named[jwks] if isinstance(jwks, str) else jwks
    arguments = ["Reporting", "--grant-type", CC]
    if document is not None:
        (tmp_path / "jwks.json").write_text(json.dumps(document))
        arguments += ["--jwks", str(tmp_path / "jwks.json")]
    if jwks_uri:
        arguments += ["--jwks-uri", jwks_uri]

    with pytest.raises(CommandError, match=message):
        call_command("create_client", *arguments, stdout=StringIO())
    assert not Client.objects.exists()


def test_create_client_accepts_a_loopback_jwks_uri(db):
    out = StringIO()

    call_command(
        "create_client",
        "Reporting",
        "--grant-type",
        CC,
        "--jwks-uri",
        "http://127.0.0.1:9000/jwks",
        stdout=out,
    )

    assert (
        Client.objects.get(pk=json.loads(out.getvalue())["client_id"]).jwks_uri
        == "http://127.0.0.1:9000/jwks"
    )


def test_discovery_names_private_key_jwt_once_a_client_has_keys(api_client, oauth_client_factory, ec_key):
    before = api_client.get("/.well-known/oauth-authorization-server").json()
    assert "private_key_jwt" not in before["token_endpoint_auth_methods_supported"]
    assert "token_endpoint_auth_signing_alg_values_supported" not in before

    oauth_client_factory(redirect_uris=(), grant_types=(CC,), jwks={"keys": [public_jwk(ec_key, "k")]})
    after = api_client.get("/.well-known/openid-configuration").json()

    for name in ("token", "revocation", "introspection"):
        assert after[f"{name}_endpoint_auth_methods_supported"][-1] == "private_key_jwt"
    assert after["token_endpoint_auth_signing_alg_values_supported"] == list(assertions.ASYMMETRIC_ALGORITHMS)
    assert "HS256" not in after["token_endpoint_auth_signing_alg_values_supported"]


@pytest.mark.parametrize("name", ["client_assertion", "client_assertion_type"])
def test_an_assertion_parameter_that_is_not_a_string_is_invalid_client(
    api_client, keyed_machine, ec_key, name
):
    body = {"grant_type": CC, "client_assertion_type": JWT_BEARER, "client_assertion": assertion(ec_key)}
    body[name] = 5

    response = api_client.post("/token", body, format="json")

    refused(response, f"The parameter '{name}' must be a string.")


@pytest.mark.postgres
def test_one_assertion_presented_by_concurrent_requests_authenticates_once(
    transactional_db, keyed_machine, ec_key
):
    """The replay race: the first use of the jti is one INSERT that PostgreSQL lets exactly one
    of the concurrent requests make (accounts.throttling.counters.first_use)."""
    credentials = ClientCredentials(
        client_assertion=assertion(ec_key), client_assertion_type=JWT_BEARER, endpoint=f"{ISSUER}/token"
    )

    def authenticate() -> str:
        try:
            return client_authenticate(credentials).client_id
        except InvalidClient as e:
            return e.description

    results = at_once(authenticate)

    replayed = "The client_assertion was used before: make a new one (jti) for each request."
    assert sorted(results) == sorted(["reporting"] + [replayed] * (CONCURRENT - 1)), results


def test_a_token_with_an_assertion_costs_three_statements(api_client, keyed_machine, ec_key):
    """The client's row, the jti's first use, the token's record: the allowed client proves the
    grant enabled, so no query over the clients (accounts.grants.Grants.settle)."""
    token_with(api_client, assertion(ec_key))  # the signing key is read once per process

    with CaptureQueriesContext(connection) as queries:
        response = token_with(api_client, assertion(ec_key))

    assert response.status_code == HTTPStatus.OK
    statements = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert [sql.split(" ", 1)[0] for sql in statements] == ["SELECT", "INSERT", "INSERT"]
    assert "accounts_throttlecounter" in statements[1]  # the jti's first use
    assert "accounts_clienttoken" in statements[2]


def admin_add(oauth_admin_client, **fields):
    return oauth_admin_client.post(
        "/admin/accounts/client/add/",
        {
            "name": "Reporting service",
            "is_active": "on",
            "grant_types_choice": [CC],
            "redirect_uris_text": "",
            "allowed_origins_text": "",
            "post_logout_redirect_uris_text": "",
            "jwks": "",
            "jwks_uri": "",
            **fields,
        },
        follow=True,
    )


def test_the_admin_registers_a_client_with_keys_and_shows_no_secret(oauth_admin_client, ec_key):
    jwks = {"keys": [public_jwk(ec_key, "ec-1")]}

    response = admin_add(oauth_admin_client, jwks=json.dumps(jwks))

    assert response.status_code == HTTPStatus.OK
    assert b"shown only this once" not in response.content
    client = Client.objects.get(name="Reporting service")
    assert (client.confidential, client.secret_hash, client.jwks) == (True, "", jwks)


def test_the_admin_refuses_a_private_key(oauth_admin_client, ec_key):
    response = admin_add(
        oauth_admin_client, jwks=json.dumps({"keys": [json.loads(ECAlgorithm.to_jwk(ec_key))]})
    )

    assert b"the JWKS holds a private key" in response.content
    assert not Client.objects.exists()
