"""The claims and headers of the two tokens."""

import jwt
import pytest

from accounts import signing
from tests.helpers import jwt_parts

COMMON_CLAIMS = {"token_type", "exp", "iat", "jti", "sub", "sid", "iss"}


def test_access_token_carries_the_username_and_never_the_email(tokens, user):
    header, payload = jwt_parts(tokens["access_token"])

    assert header["typ"] == "at+jwt"
    assert header["alg"] == "RS256"
    assert header["kid"]
    assert set(payload) == COMMON_CLAIMS
    assert payload["sub"] == user.username
    assert payload["token_type"] == "access"
    assert user.email not in tokens["access_token"]
    assert user.email not in str(payload)


def test_refresh_token_carries_the_email(tokens, user):
    header, payload = jwt_parts(tokens["refresh_token"])

    assert header["typ"] == "rt+jwt"
    assert set(payload) == COMMON_CLAIMS
    assert payload["sub"] == user.email
    assert payload["token_type"] == "refresh"


def test_both_tokens_carry_the_session_id_and_the_issuer(tokens, settings):
    _, access = jwt_parts(tokens["access_token"])
    _, refresh = jwt_parts(tokens["refresh_token"])

    assert access["sid"] == refresh["sid"]
    assert access["iss"] == refresh["iss"] == settings.TOKEN_ISSUER
    assert access["jti"] != refresh["jti"]


def test_lifetimes_come_from_the_settings_when_used(login, user, settings):
    settings.ACCESS_TOKEN_LIFETIME_SECONDS = 120
    settings.REFRESH_TOKEN_LIFETIME_SECONDS = 3600

    body = login(user)

    _, access = jwt_parts(body["access_token"])
    _, refresh = jwt_parts(body["refresh_token"])
    assert access["exp"] - access["iat"] == 120
    assert refresh["exp"] - refresh["iat"] == 3600
    assert body["refresh_expires_in"] == 3600


def test_refresh_token_never_outlives_its_session(login, user, settings):
    settings.SESSION_MAX_LIFETIME_SECONDS = 600

    _, refresh = jwt_parts(login(user)["refresh_token"])

    assert refresh["exp"] - refresh["iat"] == 600


def test_issuer_comes_from_the_settings_not_the_host_header(api_client, user, password, settings):
    settings.TOKEN_ISSUER = "https://auth.example.com"
    settings.ALLOWED_HOSTS = ["evil.example"]

    body = api_client.post(
        "/login", {"username": user.username, "password": password}, HTTP_HOST="evil.example"
    ).json()

    assert jwt_parts(body["access_token"])[1]["iss"] == "https://auth.example.com"


def test_tokens_of_another_issuer_are_refused(me, refresh, tokens, settings):
    settings.TOKEN_ISSUER = "https://elsewhere.example"

    assert me(tokens["access_token"]).status_code == 401
    assert refresh(tokens["refresh_token"]).json()["error"] == "invalid_grant"


def test_access_and_refresh_tokens_are_signed_with_different_keys(settings):
    settings.SECRET_KEY_FALLBACKS = ["an older secret"]

    access, refresh = signing.hmac_keys("access"), signing.hmac_keys("refresh")

    assert len(access) == len(refresh) == 2
    assert not set(access) & set(refresh)


@pytest.mark.parametrize("swap", ["typ header", "token_type claim"])
def test_a_token_typed_as_the_other_kind_is_refused(me, refresh, tokens, swap):
    """Sign with the right key but the wrong type: refused on both sides."""
    _, access_payload = jwt_parts(tokens["access_token"])
    _, refresh_payload = jwt_parts(tokens["refresh_token"])
    access_key = signing.access_token_backend().signing_key
    refresh_key = signing.refresh_token_backend().signing_key
    if swap == "typ header":
        as_access = jwt.encode(access_payload, access_key, algorithm="HS256", headers={"typ": "rt+jwt"})
        as_refresh = jwt.encode(refresh_payload, refresh_key, algorithm="HS256", headers={"typ": "at+jwt"})
    else:
        as_access = jwt.encode(
            {**access_payload, "token_type": "refresh"},
            access_key,
            algorithm="HS256",
            headers={"typ": "at+jwt"},
        )
        as_refresh = jwt.encode(
            {**refresh_payload, "token_type": "access"},
            refresh_key,
            algorithm="HS256",
            headers={"typ": "rt+jwt"},
        )

    assert me(as_access).status_code == 401
    assert refresh(as_refresh).json()["error"] == "invalid_grant"


@pytest.mark.parametrize("claim", sorted(COMMON_CLAIMS))
def test_a_token_missing_a_claim_is_refused(me, tokens, claim):
    _, payload = jwt_parts(tokens["access_token"])
    del payload[claim]
    key = signing.access_token_backend().signing_key

    forged = jwt.encode(payload, key, algorithm="HS256", headers={"typ": "at+jwt"})

    assert me(forged).status_code == 401
