"""The claims and headers of the two tokens."""

from http import HTTPStatus

import pytest
from rest_framework_simplejwt.exceptions import TokenError

from accounts import signing
from accounts.tokens import AccessToken, RefreshToken
from tests import forgery
from tests.forgery import Genuine
from tests.helpers import jwt_parts

# Nothing here can differ by database (claims and signatures): runs once, in the SQLite run.
pytestmark = pytest.mark.once

COMMON_CLAIMS = {"token_type", "exp", "iat", "jti", "sub", "sid", "iss"}

# The rules of the claims and the typing, from the one table of forgeries (tests/forgery.py);
# tests/test_forged_tokens.py tries the same forgeries at the endpoints.
CLAIM_RULES = ("claims", "typ", "token_type", "issuer", "audience", "exp", "lifetime")


def test_access_token_carries_the_username_and_never_the_email(tokens, user, settings):
    header, payload = jwt_parts(tokens["access_token"])

    assert header["typ"] == "at+jwt"
    assert header["alg"] == "RS256"
    assert header["kid"]
    assert set(payload) == COMMON_CLAIMS | {"aud"}
    assert payload["aud"] == settings.ACCESS_TOKEN_AUDIENCE
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


def test_every_token_carries_the_required_claims(tokens):
    for token in (tokens["access_token"], tokens["refresh_token"]):
        assert set(forgery.CLAIMS) == COMMON_CLAIMS <= set(jwt_parts(token)[1])


@pytest.fixture
def genuine_access(settings, login, user):
    def make(mode: str) -> Genuine:
        settings.ACCESS_TOKEN_ALGORITHM = mode
        return Genuine.of(login(user)["access_token"])

    return make


@pytest.mark.parametrize(("mode", "forged"), forgery.access_params(rules=CLAIM_RULES))
def test_an_access_token_wrong_in_one_claim_or_its_type_is_refused(genuine_access, mode, forged):
    """Signed with the real key and kid: only the claim or type of the test id is wrong."""
    token = forged(genuine_access(mode))

    with pytest.raises(TokenError):
        AccessToken(token)


@pytest.mark.parametrize("forged", forgery.params("refresh", rules=CLAIM_RULES))
def test_a_refresh_token_wrong_in_one_claim_or_its_type_is_refused(tokens, forged):
    """Signed with the real refresh key: only the claim or type of the test id is wrong."""
    token = forged(Genuine.of(tokens["refresh_token"]))

    with pytest.raises(TokenError):
        RefreshToken(token)


@pytest.mark.parametrize("mode", forgery.ACCESS_MODES)
def test_control_tokens_signed_again_unchanged_are_accepted_as_their_kind_only(genuine_access, tokens, mode):
    access = genuine_access(mode).signed()
    refresh = Genuine.of(tokens["refresh_token"]).signed()

    assert AccessToken(access)["token_type"] == "access"
    assert RefreshToken(refresh)["token_type"] == "refresh"
    with pytest.raises(TokenError):
        RefreshToken(access)
    with pytest.raises(TokenError):
        AccessToken(refresh)


def test_a_real_token_of_one_kind_is_refused_at_the_other_kinds_endpoint(me, refresh, tokens):
    assert me(tokens["refresh_token"]).status_code == HTTPStatus.UNAUTHORIZED
    assert refresh(tokens["access_token"]).json()["error"] == "invalid_grant"


def test_an_access_token_whose_audience_list_names_ours_is_accepted(me, tokens, settings):
    genuine = Genuine.of(tokens["access_token"])

    audiences = ["https://elsewhere.example", settings.ACCESS_TOKEN_AUDIENCE]
    assert me(genuine.signed(payload={"aud": audiences})).status_code == HTTPStatus.OK


# --- the issuance seam: extensions add to every token response without the grants knowing ------


@pytest.fixture
def extension():
    """extension(claims=..., response=...): registers issuance extensions for this test only."""
    from accounts import issuance

    added = []

    def register(*, claims=None, response=None):
        if claims is not None:
            issuance.register_claims(claims)
            added.append(claims)
        if response is not None:
            issuance.register_response(response)
            added.append(response)

    yield register
    for registered in added:
        issuance.unregister(registered)


def test_an_issuance_extension_adds_its_claims_and_fields_to_logins_and_refreshes(
    extension, login, refresh, user
):
    seen = []
    extension(
        claims=lambda issue: {"ext": f"for {issue.subject}"},
        response=lambda issue: seen.append(issue.session.pk) or {"extension_field": "here"},
    )

    logged_in = login(user)
    refreshed = refresh(logged_in["refresh_token"]).json()

    for body in (logged_in, refreshed):
        assert body["extension_field"] == "here"
        assert jwt_parts(body["access_token"])[1]["ext"] == f"for {user.username}"
    assert len(set(seen)) == 1  # both of one session


def test_without_extensions_a_login_answers_the_contracts_fields_only(login, user):
    assert set(login(user)) == {
        "access_token",
        "token_type",
        "expires_in",
        "refresh_token",
        "refresh_expires_in",
    }


@pytest.mark.parametrize(
    "added",
    [
        pytest.param({"claims": lambda issue: {"sub": "someone else"}}, id="a claim"),
        pytest.param({"response": lambda issue: {"access_token": "x"}}, id="a response field"),
    ],
)
def test_an_issuance_extension_cannot_replace_the_services_own_names(extension, login, user, added):
    extension(**added)

    with pytest.raises(ValueError, match="extensions add names of their own"):
        login(user)
