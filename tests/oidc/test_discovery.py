"""OpenID Connect Discovery 1.0 (the Config OP test plan's oidcc-discovery-endpoint-verification)
and RFC 8414: /.well-known/openid-configuration and /.well-known/oauth-authorization-server are
one document, whose issuer is the `iss` of ID tokens, and the JWKS it names holds public keys only."""

from http import HTTPStatus

import pytest

from accounts.keys import lifecycle

# Nothing here can differ by database (documents built from settings): runs once, in the SQLite run.
pytestmark = pytest.mark.once

DOCUMENTS = ("/.well-known/openid-configuration", "/.well-known/oauth-authorization-server")

# OpenID Connect Discovery 1.0 §3: REQUIRED for every OP (token_endpoint: unless only the
# implicit flow is supported, which is not the case here).
DISCOVERY_REQUIRED = (
    "issuer",
    "authorization_endpoint",
    "token_endpoint",
    "jwks_uri",
    "response_types_supported",
    "subject_types_supported",
    "id_token_signing_alg_values_supported",
)
# Discovery §3 RECOMMENDED, and required by the contract.
CONTRACT_REQUIRED = (
    "userinfo_endpoint",
    "revocation_endpoint",
    "introspection_endpoint",
    "end_session_endpoint",
    "response_modes_supported",
    "scopes_supported",
    "claims_supported",
    "grant_types_supported",
    "code_challenge_methods_supported",
    "token_endpoint_auth_methods_supported",
    "introspection_endpoint_auth_methods_supported",
    "authorization_response_iss_parameter_supported",
    "prompt_values_supported",
)
ENDPOINT_PATHS = {
    "authorization_endpoint": "/authorize",
    "token_endpoint": "/token",
    "userinfo_endpoint": "/userinfo",
    "revocation_endpoint": "/revoke",
    "introspection_endpoint": "/introspect",
    "end_session_endpoint": "/logout",
    "jwks_uri": "/.well-known/jwks.json",
}
# RFC 7518 §6.2.2 and §6.3.2 (EC and RSA private parameters), §6.4.1 (a symmetric key's value).
PRIVATE_JWK_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


@pytest.fixture
def discovery(api_client, db):
    """discovery(path=...) -> the discovery document (asserting a 200 JSON answer)."""

    def fetch(path: str = "/.well-known/openid-configuration") -> dict:
        response = api_client.get(path)
        assert response.status_code == HTTPStatus.OK
        assert response["Content-Type"].startswith("application/json")
        return response.json()

    return fetch


@pytest.mark.parametrize("path", DOCUMENTS)
def test_oidcc_discovery_every_field_discovery_1_0_section_3_requires_is_present(discovery, path):
    document = discovery(path)

    missing = [name for name in (*DISCOVERY_REQUIRED, *CONTRACT_REQUIRED) if name not in document]
    assert missing == []
    assert isinstance(document["issuer"], str)
    for name in DISCOVERY_REQUIRED[4:]:
        assert isinstance(document[name], list)
        assert document[name]
    assert document["response_types_supported"] == ["code"]
    assert document["response_modes_supported"] == ["query"]
    assert document["subject_types_supported"] == ["public"]
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert document["authorization_response_iss_parameter_supported"] is True
    assert {"authorization_code", "refresh_token"} <= set(document["grant_types_supported"])
    assert "password" not in document["grant_types_supported"]
    assert set(document["token_endpoint_auth_methods_supported"]) >= {
        "none",
        "client_secret_basic",
        "client_secret_post",
    }
    assert "none" not in document["introspection_endpoint_auth_methods_supported"]
    assert {"none", "login", "consent"} <= set(document["prompt_values_supported"])
    assert {"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "name", "email"} <= set(
        document["claims_supported"]
    )


def test_oidcc_discovery_openid_is_in_scopes_supported(discovery):
    assert {"openid", "profile", "email"} <= set(discovery()["scopes_supported"])


def test_oidcc_discovery_rs256_is_in_id_token_signing_alg_values_supported(discovery):
    algorithms = discovery()["id_token_signing_alg_values_supported"]

    assert "RS256" in algorithms
    assert "none" not in algorithms


@pytest.mark.parametrize(
    "issuer", ["http://127.0.0.1:8000", "https://login.example.com", "https://example.com/auth"]
)
@pytest.mark.parametrize(("name", "path"), list(ENDPOINT_PATHS.items()))
def test_oidcc_discovery_every_endpoint_url_is_the_issuer_followed_by_its_path(
    discovery, client, settings, issuer, name, path
):
    settings.TOKEN_ISSUER = issuer
    document = discovery()

    assert document["issuer"] == issuer
    assert document[name] == issuer + path
    assert client.get(path).status_code != HTTPStatus.NOT_FOUND  # and this service answers there


@pytest.mark.parametrize("issuer", ["http://127.0.0.1:8000", "https://login.example.com"])
def test_oidcc_discovery_the_two_documents_are_identical(discovery, settings, issuer):
    settings.TOKEN_ISSUER = issuer

    assert discovery(DOCUMENTS[0]) == discovery(DOCUMENTS[1])


def test_oidcc_discovery_issuer_is_not_taken_from_the_host_header(api_client, db, settings):
    settings.ALLOWED_HOSTS = ["evil.example", "testserver"]

    document = api_client.get(DOCUMENTS[0], HTTP_HOST="evil.example").json()

    assert document["issuer"] == settings.TOKEN_ISSUER
    assert all("evil.example" not in str(value) for value in document.values())


@pytest.mark.parametrize("issuer", ["http://127.0.0.1:8000", "https://login.example.com"])
def test_oidcc_discovery_issuer_is_the_iss_of_id_tokens(
    discovery, openid_tokens, verify_id_token, relying_party, user, settings, issuer
):
    settings.TOKEN_ISSUER = issuer
    document = discovery()

    tokens = openid_tokens(relying_party, user)

    claims = verify_id_token(tokens["id_token"], audience=relying_party.client_id)  # iss checked against it
    assert claims["iss"] == document["issuer"] == issuer


@pytest.mark.parametrize("keys", ["one key", "after a rotation"])
def test_oidcc_discovery_jwks_holds_public_keys_only(discovery, api_client, keys):
    if keys == "after a rotation":
        lifecycle.rotate()  # the next key is published before it signs
    jwks_uri = discovery()["jwks_uri"]
    assert jwks_uri.endswith("/.well-known/jwks.json")

    response = api_client.get("/.well-known/jwks.json")

    assert response.status_code == HTTPStatus.OK
    published = response.json()["keys"]
    assert len(published) == (1 if keys == "one key" else 2)
    for jwk in published:
        assert not PRIVATE_JWK_MEMBERS & set(jwk), jwk
        assert {"kid", "kty", "alg", "use"} <= set(jwk)
        assert jwk["use"] == "sig"
    assert len({jwk["kid"] for jwk in published}) == len(published)


def test_oidcc_discovery_does_not_claim_request_uri_support_it_lacks(discovery):
    document = discovery()

    # Discovery 1.0 §3 defaults: request_uri_parameter_supported true, request_parameter_supported
    # and claims_parameter_supported false. This service supports none of the three.
    assert document.get("request_uri_parameter_supported", True) is False
    assert document.get("request_parameter_supported", False) is False
    assert document.get("claims_parameter_supported", False) is False


def test_the_registered_client_methods_and_grants_are_exactly_the_contracts(api_client, db):
    """Discovery lists what the registries hold (accounts.oauth.clients, accounts.grants): the
    contract's methods, in its order, and no grant beyond those configured (no provider here, no
    client allowed client credentials)."""
    document = api_client.get("/.well-known/openid-configuration").json()

    methods = ["none", "client_secret_basic", "client_secret_post"]
    assert document["token_endpoint_auth_methods_supported"] == methods
    assert document["revocation_endpoint_auth_methods_supported"] == methods
    assert document["introspection_endpoint_auth_methods_supported"] == [
        "client_secret_basic",
        "client_secret_post",
    ]
    assert document["grant_types_supported"] == ["refresh_token", "authorization_code"]
