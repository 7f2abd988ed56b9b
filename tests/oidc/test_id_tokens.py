"""ID tokens (OpenID Connect Core §2, §3.1.3.6, §12.2), checked as the OpenID Foundation's Basic
OP and Config OP test plans check them, through a real browser sign-in and code exchange, and
verified with nothing but the published JWKS (PyJWT, the algorithm taken from the JWK)."""

import time
from http import HTTPStatus

import jwt
import pytest
from django.test import Client as Browser

from accounts.keys import lifecycle
from accounts.models import Session
from tests.helpers import forge, jwt_parts
from tests.oidc.conftest import OPENID_SCOPE

# Nothing here can differ by database (claims and signatures): runs once, in the SQLite run.
pytestmark = pytest.mark.once

# Seconds between a sign-in and a refresh, made to pass on the service's clock (no sleeping).
REFRESHED_LATER = 5


def test_oidcc_id_token_iss_aud_exp_iat_sub_nonce(
    openid_tokens, verify_id_token, relying_party, user, settings
):
    before = int(time.time())

    tokens = openid_tokens(relying_party, user, nonce="n-0S6_WzA2Mj")

    claims = verify_id_token(tokens["id_token"], audience=relying_party.client_id)
    after = int(time.time())
    session = Session.objects.get(client_id=relying_party.client_id)
    assert claims["iss"] == settings.TOKEN_ISSUER
    assert claims["aud"] == relying_party.client_id
    assert claims["sub"] == str(user.public_id)
    assert claims["nonce"] == "n-0S6_WzA2Mj"
    assert before <= claims["iat"] <= after
    assert claims["exp"] == claims["iat"] + settings.ACCESS_TOKEN_LIFETIME_SECONDS
    assert before <= claims["auth_time"] <= claims["iat"]
    assert claims["sid"] == str(session.pk)
    assert session.nonce == "n-0S6_WzA2Mj"


def test_oidcc_idtoken_rs256_signed_by_the_published_key_its_kid_names(
    openid_tokens, published_jwks, relying_party, user
):
    tokens = openid_tokens(relying_party, user)
    header, payload = jwt_parts(tokens["id_token"])
    published = {key["kid"]: key for key in published_jwks()["keys"]}

    assert header["alg"] == "RS256"
    assert header["kid"] in published
    jwk = published[header["kid"]]
    assert jwk["alg"] == header["alg"]
    assert jwk["use"] == "sig"
    verified = jwt.decode(
        tokens["id_token"], jwt.PyJWK(jwk).key, algorithms=[jwk["alg"]], audience=relying_party.client_id
    )
    assert verified == payload
    # The signature covers the claims: the same signature over another `sub` does not verify.
    tampered = forge(tokens["id_token"], payload={**payload, "sub": "someone-else"})
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(tampered, jwt.PyJWK(jwk).key, algorithms=[jwk["alg"]], audience=relying_party.client_id)


def test_an_id_token_is_not_an_access_token(openid_tokens, relying_party, user, api_client):
    tokens = openid_tokens(relying_party, user)
    header, payload = jwt_parts(tokens["id_token"])

    assert header["typ"] != "at+jwt"
    assert "token_type" not in payload
    response = api_client.get("/userinfo", HTTP_AUTHORIZATION=f"Bearer {tokens['id_token']}")
    assert response.status_code == HTTPStatus.UNAUTHORIZED


def test_oidcc_ensure_request_without_nonce_succeeds_for_code_flow(
    openid_tokens, verify_id_token, relying_party, user
):
    tokens = openid_tokens(relying_party, user, nonce=None)

    claims = verify_id_token(tokens["id_token"], audience=relying_party.client_id)
    assert "nonce" not in claims
    assert claims["sub"] == str(user.public_id)


@pytest.mark.parametrize(
    ("scope", "released"),
    [
        pytest.param("openid", set(), id="oidcc-scope-openid-only"),
        pytest.param("openid profile", {"name", "preferred_username"}, id="oidcc-scope-profile"),
        pytest.param("openid email", {"email", "email_verified"}, id="oidcc-scope-email"),
        pytest.param(
            OPENID_SCOPE, {"name", "preferred_username", "email", "email_verified"}, id="oidcc-scope-all"
        ),
    ],
)
def test_oidcc_scope_claims_are_in_the_id_token_only_with_their_scope(
    openid_tokens, verify_id_token, relying_party, user, scope, released
):
    tokens = openid_tokens(relying_party, user, scope=scope)

    claims = verify_id_token(tokens["id_token"], audience=relying_party.client_id)
    user_claims = {"name", "preferred_username", "email", "email_verified"}
    assert user_claims & set(claims) == released
    expected = {"name": "John Doe", "preferred_username": "johndoe", "email": "johndoe@example.com"}
    assert {name: claims[name] for name in released if name in expected} == {
        name: value for name, value in expected.items() if name in released
    }
    if "email" in released:
        assert claims["email_verified"] is False  # no provider verified this address


def test_a_session_without_the_openid_scope_gets_no_id_token(openid_tokens, refresh, relying_party, user):
    tokens = openid_tokens(relying_party, user, scope="profile email")

    assert "id_token" not in tokens
    assert tokens["scope"] == "profile email"
    refreshed = refresh(tokens["refresh_token"], client_id=relying_party.client_id)
    assert refreshed.status_code == HTTPStatus.OK
    assert "id_token" not in refreshed.json()


# --- sub: a stable identifier of the user ---------------------------------------------------


def test_sub_is_the_users_public_id_not_the_username_or_email(
    openid_tokens, verify_id_token, relying_party, user
):
    claims = verify_id_token(openid_tokens(relying_party, user)["id_token"], audience=relying_party.client_id)

    assert claims["sub"] == str(user.public_id)
    assert claims["sub"] not in (user.username, user.email, str(user.pk))


def test_sub_is_unchanged_after_a_username_change(openid_tokens, verify_id_token, relying_party, user):
    before = verify_id_token(openid_tokens(relying_party, user)["id_token"], audience=relying_party.client_id)
    user.username = "john.doe"
    user.save()

    after = verify_id_token(
        openid_tokens(relying_party, user, browser=Browser())["id_token"], audience=relying_party.client_id
    )

    assert after["preferred_username"] == "john.doe"
    assert after["sub"] == before["sub"]


def test_sub_is_the_same_for_every_client(
    openid_tokens, verify_id_token, relying_party, other_relying_party, user
):
    one = verify_id_token(openid_tokens(relying_party, user)["id_token"], audience=relying_party.client_id)
    other = verify_id_token(
        openid_tokens(other_relying_party, user)["id_token"], audience=other_relying_party.client_id
    )

    assert one["aud"] != other["aud"]
    assert one["sub"] == other["sub"] == str(user.public_id)


def test_sub_is_never_another_users_not_even_a_later_user_with_the_same_username(
    openid_tokens, verify_id_token, relying_party, user, user_factory
):
    alice = user_factory(username="alice")
    johns = verify_id_token(openid_tokens(relying_party, user)["id_token"], audience=relying_party.client_id)
    alices = verify_id_token(
        openid_tokens(relying_party, alice, browser=Browser())["id_token"], audience=relying_party.client_id
    )
    user.delete()
    new_john = user_factory(username="johndoe", email="johndoe@example.com")

    new_johns = verify_id_token(
        openid_tokens(relying_party, new_john, browser=Browser())["id_token"],
        audience=relying_party.client_id,
    )

    assert len({johns["sub"], alices["sub"], new_johns["sub"]}) == 3


# --- refresh (Core §12.2) ---------------------------------------------------------------------


def test_oidcc_refresh_token_returns_a_new_id_token_with_the_same_sub_auth_time_and_sid(
    openid_tokens, refresh, verify_id_token, relying_party, user, clock
):
    tokens = openid_tokens(relying_party, user)
    first = verify_id_token(tokens["id_token"], audience=relying_party.client_id)
    clock.advance(REFRESHED_LATER)

    response = refresh(tokens["refresh_token"], client_id=relying_party.client_id)

    assert response.status_code == HTTPStatus.OK, response.content
    body = response.json()
    assert body["scope"] == OPENID_SCOPE
    second = verify_id_token(body["id_token"], audience=relying_party.client_id, leeway=REFRESHED_LATER)
    assert second["iat"] >= first["iat"] + REFRESHED_LATER  # issued by the refresh, not a copy
    assert second["exp"] == second["iat"] + (first["exp"] - first["iat"])
    for name in ("iss", "aud", "sub", "auth_time", "sid"):
        assert second[name] == first[name], name


@pytest.mark.parametrize(
    ("narrowed", "id_token_claims"),
    [
        pytest.param("profile", None, id="without openid: no id_token"),
        pytest.param("email profile", None, id="two scopes without openid: no id_token"),
        pytest.param("openid", set(), id="openid alone: an id_token without profile or email"),
        pytest.param("openid email", {"email", "email_verified"}, id="openid email: the email claims only"),
    ],
)
def test_a_narrowed_refresh_returns_an_id_token_only_when_the_narrowed_scope_holds_openid(
    openid_tokens, refresh, verify_id_token, relying_party, user, narrowed, id_token_claims
):
    tokens = openid_tokens(relying_party, user)

    response = refresh(tokens["refresh_token"], client_id=relying_party.client_id, scope=narrowed)

    assert response.status_code == HTTPStatus.OK, response.content
    body = response.json()
    assert set(body["scope"].split()) == set(narrowed.split())
    if id_token_claims is None:
        assert "id_token" not in body
    else:
        claims = verify_id_token(body["id_token"], audience=relying_party.client_id)
        assert {"name", "preferred_username", "email", "email_verified"} & set(claims) == id_token_claims
    # The session keeps the scope first granted (RFC 6749 §6): the next refresh gets it all again.
    again = refresh(body["refresh_token"], client_id=relying_party.client_id)
    assert again.status_code == HTTPStatus.OK
    assert again.json()["scope"] == OPENID_SCOPE
    assert "id_token" in again.json()
    assert Session.objects.get().scope == OPENID_SCOPE


def test_id_tokens_of_the_old_and_the_new_key_both_verify_after_a_key_rotation(
    openid_tokens, verify_id_token, relying_party, user
):
    old = openid_tokens(relying_party, user)
    lifecycle.rotate(immediately=True)

    new = openid_tokens(relying_party, user, prompt="login")

    old_kid, new_kid = (jwt_parts(tokens["id_token"])[0]["kid"] for tokens in (old, new))
    assert old_kid != new_kid
    for tokens in (old, new):  # the retired key stays published until its tokens have expired
        assert verify_id_token(tokens["id_token"], audience=relying_party.client_id)["sub"] == str(
            user.public_id
        )
