"""The token exchange (RFC 8693) at POST /token: a provider's ID token for this service's tokens.

Every ID token here is either a real one, issued by the stand-in provider (Node's oidc-provider,
over HTTP on loopback) through a mobile app's own client, or one signed by the tests with the
provider's key and wrong in exactly the property the test names.
"""

import json
import time
from http import HTTPStatus

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm
from jwt.utils import base64url_decode, base64url_encode

from accounts.federation import providers
from accounts.federation.models import ExchangedIdToken, LinkedIdentity
from accounts.models import Session, User
from tests.federation.conftest import (
    ACCESS_TOKEN_TYPE,
    APP_CLIENT_ID,
    EXCHANGE_GRANT,
    ID_TOKEN_TYPE,
)
from tests.helpers import jwt_parts


def assert_refused(response, description_part: str) -> None:
    assert response.status_code == HTTPStatus.BAD_REQUEST, response.content
    body = response.json()
    assert body["error"] == "invalid_request"
    assert description_part in body["error_description"]


def nothing_changed(users_before: int) -> None:
    assert User.objects.count() == users_before
    assert not Session.objects.exists()
    assert not ExchangedIdToken.objects.exists()


# --- a real ID token of the provider -----------------------------------------------------------


def test_a_real_id_token_of_the_provider_gets_a_token_pair_and_a_new_linked_user(provider, exchange, me):
    sub = provider.account(
        "g-1001", email="Ada.Lovelace@example.com", email_verified=True, name="Ada Lovelace"
    )
    response = exchange(provider.app_id_token(sub))

    assert response.status_code == HTTPStatus.OK, response.content
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["issued_token_type"] == ACCESS_TOKEN_TYPE
    assert {"access_token", "refresh_token", "expires_in"} <= set(body)
    assert "scope" not in body
    assert response["Cache-Control"] == "no-store"
    user = User.objects.get()
    assert user.username == "Ada.Lovelace"
    assert user.email == "Ada.Lovelace@example.com"
    assert user.full_name == "Ada Lovelace"
    assert user.email_verified is True
    assert not user.has_usable_password()
    identity = LinkedIdentity.objects.get()
    assert (identity.user, identity.issuer, identity.subject) == (user, provider.issuer, "g-1001")
    session = Session.objects.get()
    assert (session.user, session.client, session.scope) == (user, None, "")
    assert me(body["access_token"]).json()["username"] == "Ada.Lovelace"


def test_the_exchanged_session_rotates_and_is_revoked_like_any_other(provider, exchange, refresh):
    sub = provider.account("g-1002", email="grace@example.com", email_verified=True)
    first = exchange(provider.app_id_token(sub)).json()

    rotated = refresh(first["refresh_token"])
    assert rotated.status_code == HTTPStatus.OK
    reused = refresh(first["refresh_token"])
    assert reused.json()["error"] == "invalid_grant"
    assert Session.objects.get().end_reason == Session.EndReason.REUSE_DETECTED


def test_the_same_provider_account_signs_in_as_the_same_user_again(provider, exchange):
    sub = provider.account("g-1003", email="linus@example.com", email_verified=True)
    assert exchange(provider.app_id_token(sub)).status_code == HTTPStatus.OK
    # The email changed at the provider: the link is by issuer and sub, never by email.
    provider.account(sub, email="someone.else@example.com", email_verified=True)
    assert exchange(provider.app_id_token(sub)).status_code == HTTPStatus.OK

    assert User.objects.count() == 1
    assert Session.objects.filter(user__email="linus@example.com").count() == 2


def test_usernames_derived_from_emails_stay_unique(provider, exchange, user_factory):
    user_factory(username="ada", email="ada@old.example.com")
    sub = provider.account("g-1004", email="ada@example.com", email_verified=True)
    assert exchange(provider.app_id_token(sub)).status_code == HTTPStatus.OK
    assert User.objects.get(email="ada@example.com").username == "ada2"


def test_a_public_client_named_in_the_exchange_owns_the_session_which_has_no_scope_on_refresh_either(
    provider, exchange, oauth_client_factory, refresh
):
    registered = oauth_client_factory(name="Android app", client_id="android-app")
    sub = provider.account("g-1005", email="app.user@example.com", email_verified=True)
    response = exchange(provider.app_id_token(sub), client_id=registered.client_id)

    assert response.status_code == HTTPStatus.OK, response.content
    assert "scope" not in response.json()
    session = Session.objects.get()
    assert (session.client_id, session.scope) == ("android-app", "")
    assert session.grant_type == Session.Grant.TOKEN_EXCHANGE
    rotated = refresh(response.json()["refresh_token"], client_id=registered.client_id)
    assert rotated.status_code == HTTPStatus.OK, rotated.content
    assert "scope" not in rotated.json()
    assert jwt_parts(rotated.json()["access_token"])[1]["client_id"] == "android-app"


def test_requested_token_type_access_token_is_accepted(provider, exchange):
    sub = provider.account("g-1006", email="req@example.com", email_verified=True)
    response = exchange(provider.app_id_token(sub), requested_token_type=ACCESS_TOKEN_TYPE)
    assert response.status_code == HTTPStatus.OK, response.content


# --- each ID token is exchanged once ------------------------------------------------------------


def test_an_id_token_is_exchanged_only_once(provider, exchange):
    sub = provider.account("g-2001", email="once@example.com", email_verified=True)
    id_token = provider.app_id_token(sub)
    assert exchange(id_token).status_code == HTTPStatus.OK

    assert_refused(exchange(id_token), "already exchanged")
    assert Session.objects.count() == 1
    assert ExchangedIdToken.objects.count() == 1


P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def test_a_replay_with_the_other_valid_ecdsa_signature_is_still_a_replay(provider, exchange):
    # An ECDSA signature (r, s) has a twin (r, n - s) that verifies as well: another string of
    # the same token. The record is of the signed content, so the twin is a replay too.
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ec_jwk = {**json.loads(ECAlgorithm.to_jwk(ec_key.public_key())), "kid": "ec-1", "alg": "ES256"}
    provider.control("jwks", {"keys": [provider.public_jwk, ec_jwk]})
    id_token = provider.sign(provider.claims(), key=ec_key, algorithm="ES256", headers={"kid": "ec-1"})
    assert exchange(id_token).status_code == HTTPStatus.OK
    head, _, signature = id_token.rpartition(".")
    raw = base64url_decode(signature)
    twin_s = (P256_ORDER - int.from_bytes(raw[32:], "big")).to_bytes(32, "big")
    twin = f"{head}.{base64url_encode(raw[:32] + twin_s).decode()}"

    assert_refused(exchange(twin), "already exchanged")
    assert Session.objects.count() == 1


def test_an_exchange_refused_after_the_id_token_was_recorded_does_not_spend_it(
    provider, exchange, monkeypatch
):
    from accounts.errors import InvalidCredentials
    from accounts.federation import exchange as exchange_module

    def user_changed_meanwhile(**kwargs):
        raise InvalidCredentials()

    id_token = provider.sign(provider.claims())
    with monkeypatch.context() as patch:
        patch.setattr(exchange_module.services, "session_start", user_changed_meanwhile)
        assert_refused(exchange(id_token), "cannot sign in now")
    nothing_changed(0)

    assert exchange(id_token).status_code == HTTPStatus.OK


def test_a_refused_exchange_does_not_spend_the_id_token(provider, exchange, user_factory):
    user = user_factory(email="later@example.com", is_active=False)
    sub = provider.account("g-2002", email="later@example.com", email_verified=True)
    LinkedIdentity.objects.create(user=user, issuer=provider.issuer, subject=sub)
    id_token = provider.app_id_token(sub)
    assert_refused(exchange(id_token), "disabled")
    assert not ExchangedIdToken.objects.exists()

    user.is_active = True
    user.save()
    assert exchange(id_token).status_code == HTTPStatus.OK


# --- the linking rules ---------------------------------------------------------------------------


def test_a_local_users_email_is_not_linked_without_the_password_step(provider, exchange, user):
    sub = provider.account("g-3001", email=user.email.upper(), email_verified=True)
    users_before = User.objects.count()
    response = exchange(provider.app_id_token(sub))

    assert_refused(response, "browser")
    assert not LinkedIdentity.objects.exists()
    nothing_changed(users_before)


@pytest.mark.parametrize("email_verified", [False, None, "false"], ids=["false", "missing", "string-false"])
def test_an_unverified_email_is_refused(provider, exchange, email_verified, db):
    claims = {"email": "unverified@example.com"}
    if email_verified is not None:
        claims["email_verified"] = email_verified
    sub = provider.account("g-3002", **claims)
    assert_refused(exchange(provider.app_id_token(sub)), "not verified")
    nothing_changed(0)


def test_a_token_without_an_email_is_refused(provider, exchange, db):
    assert_refused(exchange(provider.sign(provider.claims(email=None))), "no email")
    nothing_changed(0)


def test_a_disabled_user_holding_the_email_is_refused_as_disabled(provider, exchange, user_factory):
    user_factory(email="off@example.com", is_active=False)
    assert_refused(exchange(provider.sign(provider.claims(email="OFF@example.com"))), "disabled")
    nothing_changed(1)


@pytest.mark.parametrize(
    "email",
    ["x" * 250 + "@example.com", "nul\x00@example.com", "no-at-sign"],
    ids=["too-long", "nul", "no-at"],
)
def test_an_email_that_cannot_be_stored_is_refused(provider, exchange, db, email):
    assert_refused(exchange(provider.sign(provider.claims(email=email))), "cannot be used")
    nothing_changed(0)


def test_a_disabled_linked_user_is_refused(provider, exchange, user_factory):
    user = user_factory(is_active=False)
    LinkedIdentity.objects.create(user=user, issuer=provider.issuer, subject="g-3003")
    assert_refused(exchange(provider.sign(provider.claims("g-3003"))), "disabled")
    nothing_changed(1)


# --- every check of the ID token ----------------------------------------------------------------


def other_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


FORGERIES = {
    # name: (how the token is made from the provider fixture, what the description says)
    "another-audience": (lambda p: p.sign(p.claims(audience="someone-elses-app")), "audience"),
    "another-issuer": (lambda p: p.sign(p.claims(iss="https://evil.example.com")), "issuer"),
    "google-spelling-for-another-provider": (lambda p: p.sign(p.claims(iss="accounts.google.com")), "issuer"),
    "expired": (
        lambda p: p.sign(p.claims(iat=int(time.time()) - 7200, exp=int(time.time()) - 3600)),
        "expired",
    ),
    "missing-sub": (lambda p: p.sign(p.claims(sub=None)), "sub"),
    "blank-sub": (lambda p: p.sign(p.claims(sub="  ")), "sub"),
    "missing-exp": (lambda p: p.sign(p.claims(exp=None)), "exp"),
    "exp-past-year-9999": (lambda p: p.sign(p.claims(exp=10**12)), "exp"),
    "exp-far-too-late": (lambda p: p.sign(p.claims(exp=int(time.time()) + 30 * 86400)), "longer"),
    "sub-with-nul": (lambda p: p.sign(p.claims(sub="g-\x00-1")), "sub"),
    "unknown-kid": (
        lambda p: p.sign(p.claims(), key=other_rsa_key(), headers={"kid": "not-published"}),
        "key",
    ),
    "published-kid-other-key": (lambda p: p.sign(p.claims(), key=other_rsa_key()), "signature"),
    "alg-none": (lambda p: p.sign(p.claims(), key=None, algorithm="none"), "algorithm"),
    "hs256-with-the-public-key": (
        lambda p: hs256_with(p, p.public_jwk["n"].encode()),
        "algorithm",
    ),
    "hs256-with-the-client-secret": (
        lambda p: hs256_with(p, b"web-client-secret-at-the-provider"),
        "algorithm",
    ),
    "tampered-payload": (lambda p: tampered(p), "signature"),
    "not-a-jwt": (lambda p: "this is not a JWT", "not a JWT"),
    "two-segments": (lambda p: "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0", "not a JWT"),
    "garbage-segments": (lambda p: "a.b.c", "not a JWT"),
}


def hs256_with(p, secret: bytes) -> str:
    import jwt

    return jwt.encode(p.claims(), secret, algorithm="HS256", headers={"kid": "provider-key-1"})


def tampered(p) -> str:
    import base64
    import json

    header, payload, signature = p.sign(p.claims()).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["sub"] = "someone-else"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


@pytest.mark.parametrize("forgery", FORGERIES.values(), ids=FORGERIES.keys())
def test_a_refused_id_token_is_invalid_request_and_changes_nothing(provider, exchange, db, forgery):
    make, description = forgery
    response = exchange(make(provider))
    assert_refused(response, description)
    nothing_changed(0)


def test_the_same_claims_properly_signed_are_accepted(provider, exchange, db):
    # The control of the forgeries above: right in every property, it is accepted.
    assert exchange(provider.sign(provider.claims())).status_code == HTTPStatus.OK


def test_a_token_without_kid_is_accepted_only_while_the_provider_publishes_one_key(provider, exchange, db):
    assert (
        exchange(provider.sign(provider.claims("g-4001"), headers={"kid": None})).status_code == HTTPStatus.OK
    )

    providers.reset()
    second = {**provider.public_jwk, "kid": "provider-key-2"}
    provider.control("jwks", {"keys": [provider.public_jwk, second]})
    response = exchange(provider.sign(provider.claims("g-4002"), headers={"kid": None}))
    assert_refused(response, "key")


def test_an_unknown_kid_refetches_the_keys_at_most_once_per_interval(provider, exchange, db, settings):
    settings.UPSTREAM_OIDC_JWKS_REFRESH_SECONDS = 3600
    assert exchange(provider.sign(provider.claims("g-5001"))).status_code == HTTPStatus.OK
    fetched = provider.requests_served()["jwks"]

    stranger = other_rsa_key()
    for _ in range(5):
        response = exchange(
            provider.sign(provider.claims("g-5002"), key=stranger, headers={"kid": "rotated-in"})
        )
        assert_refused(response, "key")
    assert provider.requests_served()["jwks"] == fetched  # the cache is fresh: no refetch yet


def test_a_failing_jwks_is_refetched_at_most_once_per_interval_and_known_keys_stay_in_use(
    provider, exchange, db, settings
):
    settings.UPSTREAM_OIDC_JWKS_REFRESH_SECONDS = 3600
    assert exchange(provider.sign(provider.claims("g-5005"))).status_code == HTTPStatus.OK
    provider.control("fail", {"paths": ["/jwks"]})
    settings.UPSTREAM_OIDC_CACHE_SECONDS = 0  # the cached keys are due for a refresh at once
    fetched = provider.requests_served()["jwks"]

    known = exchange(provider.sign(provider.claims("g-5006", email="known@example.com")))
    assert known.status_code == HTTPStatus.OK, known.content  # the stale keys still verify
    stranger = other_rsa_key()
    for _ in range(3):
        exchange(provider.sign(provider.claims("g-5007"), key=stranger, headers={"kid": "made-up"}))
    assert provider.requests_served()["jwks"] - fetched <= 4  # one per request at most, no storm


def test_a_key_the_provider_rotates_in_is_found_by_refetching(provider, exchange, db, settings):
    settings.UPSTREAM_OIDC_JWKS_REFRESH_SECONDS = 0
    assert exchange(provider.sign(provider.claims("g-5003"))).status_code == HTTPStatus.OK
    import json

    from jwt.algorithms import RSAAlgorithm

    rotated = other_rsa_key()
    rotated_jwk = {
        **json.loads(RSAAlgorithm.to_jwk(rotated.public_key())),
        "kid": "rotated-in",
        "alg": "RS256",
    }
    provider.control("jwks", {"keys": [provider.public_jwk, rotated_jwk]})
    fetched = provider.requests_served()["jwks"]

    token = provider.sign(
        provider.claims("g-5004", email="rotated@example.com"), key=rotated, headers={"kid": "rotated-in"}
    )
    assert exchange(token).status_code == HTTPStatus.OK
    assert provider.requests_served()["jwks"] == fetched + 1


# --- the contract's parameters, and the provider being away ------------------------------------


@pytest.mark.parametrize(
    ("overrides", "description"),
    [
        ({"subject_token_type": None}, "subject_token_type"),
        ({"subject_token_type": "urn:ietf:params:oauth:token-type:access_token"}, "subject_token_type"),
        ({"subject_token_type": "urn:ietf:params:oauth:token-type:jwt"}, "subject_token_type"),
        ({"requested_token_type": "urn:ietf:params:oauth:token-type:refresh_token"}, "requested_token_type"),
        ({"requested_token_type": ID_TOKEN_TYPE}, "requested_token_type"),
        ({"subject_token": None}, "subject_token"),
        ({"subject_token": "   "}, "subject_token"),
    ],
)
def test_wrong_or_missing_parameters_are_invalid_request(provider, exchange, db, overrides, description):
    token = provider.sign(provider.claims())
    assert_refused(exchange(token, **overrides), description)
    nothing_changed(0)


def test_a_repeated_parameter_is_invalid_request(provider, api_client, db):
    token = provider.sign(provider.claims())
    body = (
        f"grant_type={EXCHANGE_GRANT}&subject_token={token}&subject_token={token}"
        f"&subject_token_type={ID_TOKEN_TYPE}"
    )
    response = api_client.post("/token", body, content_type="application/x-www-form-urlencoded")
    assert_refused(response, "more than once")


def test_wrong_client_credentials_are_invalid_client(provider, exchange, db):
    response = exchange(provider.sign(provider.claims()), client_id="no-such-client")
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json()["error"] == "invalid_client"
    nothing_changed(0)


def test_without_google_configured_the_grant_is_unsupported(exchange, settings, db, api_client):
    settings.GOOGLE_CLIENT_ID = ""
    response = exchange("anything")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["error"] == "unsupported_grant_type"
    grants = api_client.get("/.well-known/openid-configuration").json()["grant_types_supported"]
    assert EXCHANGE_GRANT not in grants


def test_with_google_configured_discovery_advertises_the_grant(provider, api_client, db):
    grants = api_client.get("/.well-known/openid-configuration").json()["grant_types_supported"]
    assert EXCHANGE_GRANT in grants
    assert "password" not in grants


@pytest.mark.parametrize("path", ["/.well-known/openid-configuration", "/jwks"])
def test_a_provider_that_fails_is_a_503_that_changes_nothing(provider, exchange, db, path):
    provider.control("fail", {"paths": [path]})
    response = exchange(provider.sign(provider.claims()))

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE, response.content
    assert response.json()["error"] == "temporarily_unavailable"
    assert response["Retry-After"]
    nothing_changed(0)


def test_an_unreachable_provider_is_a_503(provider, exchange, db, settings):
    from tests.conftest import free_port

    settings.GOOGLE_ISSUER = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    response = exchange(provider.sign(provider.claims()))
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.json()["error"] == "temporarily_unavailable"


def test_googles_bare_issuer_spelling_is_accepted_for_google_only():
    google = providers.Provider(name="google", issuer="https://accounts.google.com", client_id="x")
    other = providers.Provider(name="google", issuer="https://login.example.com", client_id="x")
    assert set(google.accepted_issuers) == {"https://accounts.google.com", "accounts.google.com"}
    assert other.accepted_issuers == ("https://login.example.com",)


def test_the_app_audiences_come_from_google_token_audiences(provider, exchange, db, settings):
    settings.GOOGLE_TOKEN_AUDIENCES = ["another-app"]
    assert_refused(exchange(provider.sign(provider.claims(audience=APP_CLIENT_ID))), "audience")
    assert exchange(provider.sign(provider.claims(audience="another-app"))).status_code == HTTPStatus.OK


def test_the_linked_identity_is_shown_on_the_users_admin_page(provider, exchange, admin_client):
    sub = provider.account("g-6001", email="shown@example.com", email_verified=True)
    exchange(provider.app_id_token(sub))
    user = User.objects.get(email="shown@example.com")

    page = admin_client.get(f"/admin/accounts/user/{user.pk}/change/")
    assert page.status_code == HTTPStatus.OK
    assert f"g-6001 at {provider.issuer}".encode() in page.content


def test_a_jwks_key_with_a_malformed_alg_is_a_503_not_a_500(provider, exchange, db):
    provider.control("jwks", {"keys": [{**provider.public_jwk, "alg": ["RS256"]}]})
    response = exchange(provider.sign(provider.claims()))
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE


def test_an_azp_of_another_party_is_refused_in_the_browser_flow(provider, db):
    from accounts.federation.idtokens import IdTokenRefused, id_token_verify

    web = providers.google()
    token = provider.sign(provider.claims(audience=web.client_id, nonce="n-1", azp="someone-else"))
    with pytest.raises(IdTokenRefused, match="azp"):
        id_token_verify(web, token, audiences=(web.client_id,), nonce="n-1")
    control = provider.sign(provider.claims(audience=web.client_id, nonce="n-1", azp=web.client_id))
    assert id_token_verify(web, control, audiences=(web.client_id,), nonce="n-1").subject


def test_a_user_with_a_second_factor_cannot_sign_in_by_exchange(provider, exchange, clock):
    import pyotp

    from accounts.mfa import factors

    sub = provider.account("g-mfa-x", email="twostep@example.com", email_verified=True)
    first = exchange(provider.app_id_token(sub))
    assert first.status_code == HTTPStatus.OK
    assert Session.objects.get().amr == ["fed"]
    user = User.objects.get(email="twostep@example.com")
    factors.totp_begin(user)
    factors.totp_confirm(user, pyotp.TOTP(factors.enrolment(user).secret).at(clock.now()))

    refused = exchange(provider.app_id_token(sub))

    assert refused.status_code == HTTPStatus.BAD_REQUEST
    assert refused.json() == {
        "error": "invalid_request",
        "error_description": "This account uses two-step sign-in: sign in through /authorize.",
    }
    assert Session.objects.count() == 1
