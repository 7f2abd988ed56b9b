"""Access token signing keys: the read-only key ring, the key lifecycle, the JWKS, operator keys.

accounts.keys.ring reads keys and never writes; accounts.keys.lifecycle writes, only from explicit
steps: start-up (`ensure_signing_key`, which the test set-up runs as a server would),
`rotate_signing_key` and `cleanup_tokens`. States follow from dates: a key is pending before its
`activates_at`, the newest trusted key of an algorithm whose time has come signs, an older one is
superseded and stays published until its tokens have expired, a compromised one is gone.
"""

import uuid
from collections import Counter
from datetime import timedelta
from http import HTTPStatus
from io import StringIO

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts import signing
from accounts.keys import ASYMMETRIC_ALGORITHMS, lifecycle, material, ring
from accounts.models import Session, SigningKey
from accounts.tokens import AccessToken
from tests.forgery import Genuine
from tests.helpers import jwt_parts

WRITES = ("INSERT", "UPDATE", "DELETE")


@pytest.fixture
def jwks(api_client):
    def get() -> dict:
        response = api_client.get("/.well-known/jwks.json")
        assert response.status_code == HTTPStatus.OK
        return response.json()

    return get


def published_kids(jwk_set: dict) -> set[str]:
    return {key["kid"] for key in jwk_set["keys"]}


def kid_of(token: str) -> str | None:
    return jwt_parts(token)[0].get("kid")


def verify_with_jwks(token: str, jwk_set: dict, settings) -> dict:
    """Verify as a third party would: nothing but the published keys."""
    (jwk,) = [key for key in jwk_set["keys"] if key["kid"] == kid_of(token)]
    return jwt.decode(
        token,
        jwt.PyJWK(jwk).key,
        algorithms=[jwk["alg"]],
        issuer=settings.TOKEN_ISSUER,
        audience=settings.ACCESS_TOKEN_AUDIENCE,
    )


def writes(captured: CaptureQueriesContext) -> list[str]:
    return [
        query["sql"]
        for query in captured.captured_queries
        if query["sql"].lstrip().upper().startswith(WRITES)
    ]


def age_keys(by: timedelta) -> None:
    """Move every key's dates back: as if `by` had passed."""
    SigningKey.objects.update(created_at=F("created_at") - by, activates_at=F("activates_at") - by)


def publication_window() -> timedelta:
    """How long a superseded key stays published (README: the access token lifetime and the
    reload interval), computed here, not by the code under test."""
    return timedelta(
        seconds=django_settings.ACCESS_TOKEN_LIFETIME_SECONDS + django_settings.SIGNING_KEYS_RELOAD_SECONDS
    )


def make_key(algorithm: str, activates_at, **extra) -> SigningKey:
    return SigningKey.objects.create(
        **material.generate(algorithm), created_at=activates_at, activates_at=activates_at, **extra
    )


def pem_of(private_key) -> str:
    return private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def encrypted_under_another_secret(private_key) -> str:
    return private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"a secret this service does not have"),
    ).decode()


def rotate(*args: str) -> None:
    call_command("rotate_signing_key", *args, stdout=StringIO())


# --- RS256 by default, and the JWKS ---------------------------------------------------------------


def test_access_tokens_are_rs256_with_a_kid_anyone_can_verify_with_the_jwks(tokens, jwks, settings):
    header, _ = jwt_parts(tokens["access_token"])
    jwk_set = jwks()

    assert header == {"alg": "RS256", "typ": "at+jwt", "kid": header["kid"]}
    assert verify_with_jwks(tokens["access_token"], jwk_set, settings)["sub"] == "johndoe"
    (published,) = jwk_set["keys"]
    assert published["kid"] == header["kid"] == material.thumbprint(published)
    assert {published["kty"], published["alg"], published["use"]} == {"RSA", "RS256", "sig"}
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(published)


def test_refresh_tokens_stay_hs256_and_unpublished(tokens):
    header, _ = jwt_parts(tokens["refresh_token"])

    assert header == {"alg": "HS256", "typ": "rt+jwt"}


@pytest.mark.parametrize("path", ["/.well-known/jwks.json", "/.well-known/jwks.json/"])
def test_jwks_is_cacheable_with_and_without_slash(api_client, tokens, path):
    response = api_client.get(path)

    assert response.status_code == HTTPStatus.OK
    assert response["Cache-Control"] == "public, max-age=300"
    assert response.json()["keys"]


def test_jwks_answers_without_any_key(api_client, db, settings):
    settings.ACCESS_TOKEN_ALGORITHM = "HS256"
    SigningKey.objects.all().delete()
    ring.reset()

    response = api_client.get("/.well-known/jwks.json")

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {"keys": []}


def test_rfc_7638_thumbprint_example():
    jwk = {
        "kty": "RSA",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29",
    }

    assert material.thumbprint(jwk) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_start_up_makes_the_key_once_and_every_process_uses_it(login, user):
    lifecycle.ensure_signing_key()  # a second process starting
    lifecycle.ensure_signing_key()
    first = kid_of(login(user)["access_token"])
    ring.reset()  # as a new process would start

    second = kid_of(login(user)["access_token"])

    assert first == second == SigningKey.objects.get().kid


def test_the_private_key_is_stored_encrypted(tokens):
    row = SigningKey.objects.get()

    assert row.private_key.startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
    with pytest.raises(TypeError):  # no password, no key
        serialization.load_pem_private_key(row.private_key.encode(), password=None)


# --- Reads never write ------------------------------------------------------------------------------


def read_everything(api_client, access_token: str) -> str:
    """Every read path of the keys: verify a token, GET /users/me/ and the sessions, GET the JWKS,
    sign a new access token (returned)."""
    payload = AccessToken(access_token).payload
    assert (
        api_client.get("/users/me/", HTTP_AUTHORIZATION=f"Bearer {access_token}").status_code == HTTPStatus.OK
    )
    sessions = api_client.get("/users/me/sessions/", HTTP_AUTHORIZATION=f"Bearer {access_token}")
    assert sessions.status_code == HTTPStatus.OK
    assert api_client.get("/.well-known/jwks.json").status_code == HTTPStatus.OK
    now = timezone.now()
    new = AccessToken.issue(
        session_id=payload["sid"],
        subject=payload["sub"],
        jti=uuid.uuid4().hex,
        issued_at=now,
        not_after=now + timedelta(hours=1),
    )
    return str(new)


@pytest.mark.parametrize("algorithm", ["RS256", "HS256"])
def test_reads_never_write_not_even_when_a_pending_key_begins_to_sign(
    api_client, login, user, settings, algorithm
):
    settings.SIGNING_KEY_PREPUBLISH_SECONDS = 60  # its time comes by the update below, not by waiting
    settings.SIGNING_KEYS_RELOAD_SECONDS = 0  # every read reads the keys again
    pending = lifecycle.rotate()
    settings.ACCESS_TOKEN_ALGORITHM = algorithm
    access_token = login(user)["access_token"]
    ring.reset()  # a process that starts reading now

    with CaptureQueriesContext(connection) as before:
        signed_before = read_everything(api_client, access_token)
    SigningKey.objects.filter(kid=pending.kid).update(
        activates_at=timezone.now()
    )  # after the current key began
    with CaptureQueriesContext(connection) as after:
        signed_after = read_everything(api_client, access_token)

    assert writes(before) == writes(after) == []
    assert any("accounts_signingkey" in query["sql"] for query in after.captured_queries)  # it did read
    if algorithm == "RS256":
        assert kid_of(signed_before) != pending.kid
        assert kid_of(signed_after) == pending.kid
    else:
        assert jwt_parts(signed_before)[0] == jwt_parts(signed_after)[0] == {"alg": "HS256", "typ": "at+jwt"}
    assert SigningKey.objects.count() == 2


def test_a_pending_key_signs_from_its_time_on_without_waiting_for_a_reload(login, user, settings, clock):
    settings.SIGNING_KEYS_RELOAD_SECONDS = 3600
    settings.SIGNING_KEY_PREPUBLISH_SECONDS = 60
    old = kid_of(login(user)["access_token"])
    pending = lifecycle.rotate()
    assert kid_of(login(user)["access_token"]) == old  # the ring is read, and kept for an hour

    clock.advance(61)
    with CaptureQueriesContext(connection) as captured:
        new = ring.signing_key()[0].kid

    assert new == pending.kid
    assert writes(captured) == []


# --- No usable signing key: 503, never a fall-back to HMAC -------------------------------------------


def assert_temporarily_unavailable(response) -> None:
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    body = response.json()
    assert body["error"] == "temporarily_unavailable"
    assert "access_token" not in body
    assert b"eyJ" not in response.content  # no JWT of any kind
    assert int(response["Retry-After"]) > 0


@pytest.mark.parametrize("algorithm", ASYMMETRIC_ALGORITHMS)
def test_without_a_signing_key_login_is_503_and_never_an_hs256_token(
    api_client, user, password, settings, algorithm
):
    settings.ACCESS_TOKEN_ALGORITHM = algorithm
    SigningKey.objects.all().delete()
    ring.reset()

    response = api_client.post("/login", {"username": user.username, "password": password})

    assert_temporarily_unavailable(response)
    with pytest.raises(ring.SigningKeyUnavailable):
        signing.access_token_backend().encode({"sub": "x"})


def test_a_key_that_no_secret_decrypts_is_503_until_start_up_replaces_it_and_still_verifies_its_tokens(
    api_client, login, user, password, me, jwks
):
    old = login(user)
    old_kid = kid_of(old["access_token"])
    # As if DJANGO_SECRET_KEY had changed with no fallback: the stored key is encrypted under a
    # secret no longer configured. (Changing SECRET_KEY itself would not do here: the set-up's
    # pre-generated keys, the next one included, are all encrypted under the suite's secret.)
    row = SigningKey.objects.get(kid=old_kid)
    row.private_key = encrypted_under_another_secret(material.decrypt(row.private_key, row.kid))
    row.save()
    ring.reset()
    assert_temporarily_unavailable(
        api_client.post("/login", {"username": user.username, "password": password})
    )

    lifecycle.ensure_signing_key()  # start-up
    new = login(user)

    assert kid_of(new["access_token"]) != old_kid
    assert me(new["access_token"]).status_code == HTTPStatus.OK
    assert me(old["access_token"]).status_code == HTTPStatus.OK  # its public key is still published
    assert published_kids(jwks()) == {old_kid, kid_of(new["access_token"])}


def test_a_malformed_signing_key_record_is_503_and_replaced_at_start_up(api_client, user, password, login):
    broken = SigningKey.objects.create(
        kid="broken",
        algorithm="RS256",
        public_jwk={"kty": "RSA"},
        private_key="",
        activates_at=timezone.now(),
    )
    ring.reset()
    assert_temporarily_unavailable(
        api_client.post("/login", {"username": user.username, "password": password})
    )

    lifecycle.ensure_signing_key()

    assert kid_of(login(user)["access_token"]) not in {broken.kid, None}


def test_a_refresh_during_a_key_outage_spends_nothing(login, user, refresh):
    tokens = login(user)
    SigningKey.objects.all().delete()
    ring.reset()
    assert refresh(tokens["refresh_token"]).status_code == HTTPStatus.SERVICE_UNAVAILABLE

    lifecycle.ensure_signing_key()  # the key is back

    assert refresh(tokens["refresh_token"]).status_code == HTTPStatus.OK  # a retry of the same token


def test_a_login_during_a_key_outage_starts_no_session(api_client, user, password):
    SigningKey.objects.all().delete()
    ring.reset()

    api_client.post("/login", {"username": user.username, "password": password})

    assert not Session.objects.exists()


# --- Algorithms --------------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["ES256", "EdDSA"])
def test_es256_and_eddsa_are_selectable_and_old_tokens_live_on(
    api_client, login, user, password, me, jwks, settings, algorithm
):
    before = login(user)
    settings.ACCESS_TOKEN_ALGORITHM = algorithm
    # Before its start-up the host has no key of that algorithm (and signs with no other):
    assert_temporarily_unavailable(
        api_client.post("/login", {"username": user.username, "password": password})
    )
    lifecycle.ensure_signing_key()

    after = login(user)

    assert jwt_parts(after["access_token"])[0]["alg"] == algorithm
    assert me(after["access_token"]).status_code == HTTPStatus.OK
    assert me(before["access_token"]).status_code == HTTPStatus.OK  # its key is still published
    assert verify_with_jwks(after["access_token"], jwks(), settings)["sub"] == "johndoe"
    assert published_kids(jwks()) == {kid_of(before["access_token"]), kid_of(after["access_token"])}


def test_hs256_is_selectable_and_rs256_tokens_live_on(login, user, me, settings):
    before = login(user)
    settings.ACCESS_TOKEN_ALGORITHM = "HS256"

    body = login(user)

    assert jwt_parts(body["access_token"])[0] == {"alg": "HS256", "typ": "at+jwt"}
    assert me(body["access_token"]).status_code == HTTPStatus.OK
    assert me(before["access_token"]).status_code == HTTPStatus.OK


def test_an_hs256_access_token_is_refused_while_an_asymmetric_algorithm_is_configured(
    login, user, me, settings
):
    settings.ACCESS_TOKEN_ALGORITHM = "HS256"
    hs256 = login(user)["access_token"]
    settings.ACCESS_TOKEN_ALGORITHM = "RS256"

    assert me(hs256).status_code == HTTPStatus.UNAUTHORIZED


@pytest.mark.parametrize(
    ("key_algorithm", "algorithm"),
    [("RS256", "RS384"), ("RS256", "RS512"), ("RS256", "PS256"), ("ES256", "ES384")],
)
def test_a_key_verifies_only_with_its_own_algorithm(login, user, me, settings, key_algorithm, algorithm):
    """Signed by the real key, with its kid, under another algorithm of the same family: refused."""
    settings.ACCESS_TOKEN_ALGORITHM = key_algorithm
    lifecycle.ensure_signing_key()
    genuine = Genuine.of(login(user)["access_token"])

    assert me(genuine.signed()).status_code == HTTPStatus.OK  # the control
    assert me(genuine.signed(algorithm=algorithm)).status_code == HTTPStatus.UNAUTHORIZED


def test_hosts_changing_algorithm_one_by_one_keep_one_key_each_and_never_replace_each_others(
    login, user, me, jwks, settings
):
    """A rolling change from RS256 to ES256: the hosts start, and start again, in turns, days apart."""
    tokens = {}
    for _round in range(3):
        for algorithm in ("RS256", "ES256"):
            settings.ACCESS_TOKEN_ALGORITHM = algorithm
            ring.reset()  # a process of that host
            lifecycle.ensure_signing_key()
            tokens[algorithm] = login(user)["access_token"]
            assert jwt_parts(tokens[algorithm])[0]["alg"] == algorithm
        age_keys(timedelta(days=1))

    ring.reset()
    assert Counter(SigningKey.objects.values_list("algorithm", flat=True)) == {"RS256": 1, "ES256": 1}
    kids = dict(SigningKey.objects.values_list("algorithm", "kid"))
    assert published_kids(jwks()) == set(kids.values())
    for algorithm, token in tokens.items():
        assert kid_of(token) == kids[algorithm]
    for host in ("RS256", "ES256"):  # every host accepts the tokens of both
        settings.ACCESS_TOKEN_ALGORITHM = host
        assert ring.signing_key()[0].kid == kids[host]
        assert {me(token).status_code for token in tokens.values()} == {HTTPStatus.OK}


# --- Rotation ---------------------------------------------------------------------------------------


def test_rotation_publishes_the_next_key_before_it_signs(login, user, me, jwks, settings):
    settings.SIGNING_KEY_PREPUBLISH_SECONDS = 600
    old = login(user)
    old_kid = kid_of(old["access_token"])

    rotate()

    (pending,) = SigningKey.objects.filter(activates_at__gt=timezone.now())
    assert published_kids(jwks()) == {old_kid, pending.kid}
    assert kid_of(login(user)["access_token"]) == old_kid
    # Its time comes:
    SigningKey.objects.filter(kid=pending.kid).update(
        activates_at=timezone.now()
    )  # after the current key began
    ring.reset()
    new = login(user)
    assert kid_of(new["access_token"]) == pending.kid
    assert me(old["access_token"]).status_code == HTTPStatus.OK
    assert me(new["access_token"]).status_code == HTTPStatus.OK
    assert published_kids(jwks()) == {old_kid, pending.kid}


def test_rotation_now_signs_with_the_new_key_at_once(login, user, jwks):
    old_kid = kid_of(login(user)["access_token"])

    rotate("--now")

    new_kid = kid_of(login(user)["access_token"])
    assert new_kid != old_kid
    assert published_kids(jwks()) == {old_kid, new_kid}


def test_a_rotation_replaces_a_pending_key_so_it_never_takes_over_later(db, settings):
    settings.SIGNING_KEY_PREPUBLISH_SECONDS = 600
    rotate()
    (pending,) = SigningKey.objects.filter(activates_at__gt=timezone.now())

    rotate("--now")

    assert not SigningKey.objects.filter(kid=pending.kid).exists()
    assert not SigningKey.objects.filter(activates_at__gt=timezone.now()).exists()
    assert SigningKey.objects.count() == 2


def test_a_superseded_key_leaves_the_jwks_once_its_tokens_have_expired(login, user, me, jwks):
    old = login(user)
    old_kid = kid_of(old["access_token"])
    rotate("--now")
    new_kid = SigningKey.objects.exclude(kid=old_kid).get().kid
    window = publication_window()

    age_keys(window - timedelta(seconds=30))  # superseded a little less than the window ago
    ring.reset()
    assert published_kids(jwks()) == {old_kid, new_kid}
    assert me(old["access_token"]).status_code == HTTPStatus.OK

    age_keys(timedelta(seconds=31))
    ring.reset()
    assert published_kids(jwks()) == {new_kid}
    assert me(old["access_token"]).status_code == HTTPStatus.UNAUTHORIZED  # unexpired, but its key is gone


def test_a_compromised_key_is_dropped_at_the_next_reload_and_even_forgeries_with_the_stolen_key_are_refused(
    login, user, me, jwks, settings, monkeypatch, clock
):
    settings.SIGNING_KEYS_RELOAD_SECONDS = 30
    old = login(user)
    genuine = Genuine.of(old["access_token"])  # the thief has the private key
    old_kid = kid_of(old["access_token"])
    iat = genuine.payload["iat"]
    ten_years = genuine.signed(payload={"jti": uuid.uuid4().hex, "exp": iat + 10 * 365 * 86400})
    fresh = genuine.signed(payload={"jti": uuid.uuid4().hex})

    with monkeypatch.context() as other_process:  # the command runs elsewhere: this ring is not reset
        other_process.setattr(ring, "reset", lambda: None)
        call_command("rotate_signing_key", "--compromised", stdout=StringIO())
    assert me(old["access_token"]).status_code == HTTPStatus.OK  # until this process reads the keys again

    clock.advance(settings.SIGNING_KEYS_RELOAD_SECONDS)

    new_kid = SigningKey.objects.get(compromised_at__isnull=True).kid
    assert published_kids(jwks()) == {new_kid}
    assert me(old["access_token"]).status_code == HTTPStatus.UNAUTHORIZED
    assert me(fresh).status_code == HTTPStatus.UNAUTHORIZED
    assert me(ten_years).status_code == HTTPStatus.UNAUTHORIZED
    clock.reset()  # tokens issued now are verified against the real time (PyJWT refuses a future iat)
    new = login(user)
    assert kid_of(new["access_token"]) == new_kid
    assert me(new["access_token"]).status_code == HTTPStatus.OK
    assert SigningKey.objects.get(kid=old_kid).compromised_at is not None


def test_purge_deletes_the_keys_whose_tokens_have_all_expired_and_keeps_the_others(db, jwks):
    SigningKey.objects.all().delete()
    now = timezone.now()
    window = publication_window()
    gone = make_key("RS256", now - 3 * window)  # superseded by the next one more than the window ago
    last_of_its_tokens_alive = make_key("RS256", now - window - timedelta(seconds=2))
    superseded = make_key("RS256", now - window + timedelta(seconds=60))
    signing_now = make_key("RS256", now - timedelta(seconds=10))
    pending = make_key("RS256", now + timedelta(seconds=600))
    other_algorithm = make_key("ES256", now - 3 * window)  # the signing key of the ES256 hosts
    out = StringIO()

    call_command("cleanup_tokens", stdout=out)

    kept = {last_of_its_tokens_alive.kid, superseded.kid, signing_now.kid, pending.kid, other_algorithm.kid}
    assert set(SigningKey.objects.values_list("kid", flat=True)) == kept
    assert gone.kid not in kept
    assert "1 expired signing key(s)" in out.getvalue()
    ring.reset()
    assert published_kids(jwks()) == kept


# --- Verification by kid -------------------------------------------------------------------------------


def test_a_token_naming_an_unknown_kid_is_refused(tokens, me):
    genuine = Genuine.of(tokens["access_token"])

    assert me(genuine.signed(header={"kid": "unknown"})).status_code == HTTPStatus.UNAUTHORIZED


def test_unknown_kids_read_the_keys_again_at_most_once_a_second_and_find_a_key_made_meanwhile(
    tokens, me, settings, clock
):
    settings.SIGNING_KEYS_RELOAD_SECONDS = 3600
    genuine = Genuine.of(tokens["access_token"])
    # Another process rotates: this one's ring does not know the new key yet.
    new = make_key("RS256", timezone.now())
    new_token = jwt.encode(
        genuine.payload,
        material.decrypt(new.private_key, new.kid),
        algorithm="RS256",
        headers={"typ": "at+jwt", "kid": new.kid},
    )

    assert me(new_token).status_code == HTTPStatus.OK
    with CaptureQueriesContext(connection) as within_the_interval:
        for n in range(5):
            assert me(genuine.signed(header={"kid": f"made-up-{n}"})).status_code == HTTPStatus.UNAUTHORIZED
    clock.advance(ring.UNKNOWN_KID_RELOAD_INTERVAL)
    with CaptureQueriesContext(connection) as after_it:
        for n in range(5, 10):
            assert me(genuine.signed(header={"kid": f"made-up-{n}"})).status_code == HTTPStatus.UNAUTHORIZED

    assert key_reads(within_the_interval) == 0
    assert key_reads(after_it) == 1


def key_reads(captured: CaptureQueriesContext) -> int:
    return len([query for query in captured.captured_queries if "accounts_signingkey" in query["sql"]])


def test_a_malformed_key_record_is_left_out_of_the_jwks_without_failing(tokens, jwks, me):
    SigningKey.objects.create(
        kid="broken",
        algorithm="RS256",
        public_jwk={"kty": "RSA"},
        activates_at=timezone.now() - timedelta(days=1),
    )
    ring.reset()

    assert published_kids(jwks()) == {kid_of(tokens["access_token"])}
    assert me(tokens["access_token"]).status_code == HTTPStatus.OK


# --- Secret key rotation -----------------------------------------------------------------------------

NEW_SECRET = "a-new-secret-key-" + "y" * 40


def test_a_decrypted_key_is_remembered_only_for_the_secrets_that_decrypted_it(db, settings):
    row = SigningKey.objects.get()
    first = material.decrypt(row.private_key, row.kid)
    assert material.decrypt(row.private_key, row.kid) is first  # decrypted once, not per call
    old = settings.SECRET_KEY

    settings.SECRET_KEY = NEW_SECRET  # with no fallback: the memo does not answer for this secret
    with pytest.raises(material.UndecryptableKeyError):
        material.decrypt(row.private_key, row.kid)
    settings.SECRET_KEY_FALLBACKS = [old]
    assert pem_of(material.decrypt(row.private_key, row.kid)) == pem_of(first)
    settings.SECRET_KEY_FALLBACKS = []  # decrypted with these secrets a moment ago: still refused
    with pytest.raises(material.UndecryptableKeyError):
        material.decrypt(row.private_key, row.kid)


def test_secret_key_fallbacks_keep_the_signing_key_in_use(login, user, settings):
    old_kid = kid_of(login(user)["access_token"])
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = NEW_SECRET
    ring.reset()

    lifecycle.ensure_signing_key()  # start-up: the key still decrypts, so it is kept

    assert kid_of(login(user)["access_token"]) == old_kid
    assert SigningKey.objects.count() == 1


def test_a_refresh_token_still_rotates_after_the_secret_key_moved_into_the_fallbacks(
    tokens, refresh, settings
):
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = NEW_SECRET
    ring.reset()

    response = refresh(tokens["refresh_token"])

    assert response.status_code == HTTPStatus.OK
    new_refresh = response.json()["refresh_token"]
    key = signing.hmac_keys("refresh")[0]  # new tokens are signed with the new secret's key
    assert jwt.decode(new_refresh, key, algorithms=["HS256"], options={"verify_aud": False})


def test_a_refresh_token_of_a_secret_key_no_longer_configured_is_invalid_grant(tokens, refresh, settings):
    settings.SECRET_KEY = NEW_SECRET
    settings.SECRET_KEY_FALLBACKS = []
    ring.reset()

    response = refresh(tokens["refresh_token"])

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["error"] == "invalid_grant"


def test_an_hs256_access_token_lives_on_after_the_secret_key_moved_into_the_fallbacks(
    login, user, me, settings
):
    settings.ACCESS_TOKEN_ALGORITHM = "HS256"
    access = login(user)["access_token"]
    old = settings.SECRET_KEY
    settings.SECRET_KEY = NEW_SECRET

    assert me(access).status_code == HTTPStatus.UNAUTHORIZED
    settings.SECRET_KEY_FALLBACKS = [old]
    assert me(access).status_code == HTTPStatus.OK


# --- Access token lifetime ---------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["RS256", "ES256", "HS256"])
def test_an_access_token_living_longer_than_its_lifetime_is_refused_even_signed_with_the_real_key(
    login, user, me, settings, algorithm
):
    settings.ACCESS_TOKEN_ALGORITHM = algorithm
    lifecycle.ensure_signing_key()
    genuine = Genuine.of(login(user)["access_token"])
    iat, lifetime = genuine.payload["iat"], settings.ACCESS_TOKEN_LIFETIME_SECONDS

    assert me(genuine.signed(payload={"exp": iat + lifetime})).status_code == HTTPStatus.OK
    assert me(genuine.signed(payload={"exp": iat + lifetime + 1})).status_code == HTTPStatus.UNAUTHORIZED
    assert me(genuine.signed(payload={"iat": iat - 60})).status_code == HTTPStatus.UNAUTHORIZED


# --- The operator's key --------------------------------------------------------------------------------


def test_an_operator_key_signs_after_start_up_and_only_its_public_part_is_recorded(
    api_client, login, user, password, me, settings
):
    operator_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    settings.ACCESS_TOKEN_SIGNING_KEY = pem_of(operator_key)
    assert_temporarily_unavailable(
        api_client.post("/login", {"username": user.username, "password": password})
    )

    lifecycle.ensure_signing_key()  # start-up records it
    body = login(user)

    row = SigningKey.objects.get(kid=kid_of(body["access_token"]))
    assert row.private_key == ""
    assert "d" not in row.public_jwk
    jwt.decode(
        body["access_token"], operator_key.public_key(), algorithms=["RS256"], options={"verify_aud": False}
    )
    assert me(body["access_token"]).status_code == HTTPStatus.OK


def test_an_operator_key_file_works_and_a_new_one_keeps_the_old_published(
    login, user, me, jwks, settings, tmp_path
):
    first, second = (ec.generate_private_key(ec.SECP256R1()) for _ in range(2))
    settings.ACCESS_TOKEN_ALGORITHM = "ES256"
    key_file = tmp_path / "key.pem"
    key_file.write_text(pem_of(first))
    settings.ACCESS_TOKEN_SIGNING_KEY_FILE = str(key_file)
    lifecycle.ensure_signing_key()
    old = login(user)

    key_file.write_text(pem_of(second))
    ring.reset()  # same path, new key: as after a restart
    lifecycle.ensure_signing_key()
    new = login(user)

    assert kid_of(old["access_token"]) != kid_of(new["access_token"])
    assert me(old["access_token"]).status_code == HTTPStatus.OK
    assert me(new["access_token"]).status_code == HTTPStatus.OK
    assert {kid_of(old["access_token"]), kid_of(new["access_token"])} <= published_kids(jwks())
    assert set(SigningKey.objects.filter(algorithm="ES256").values_list("private_key", flat=True)) == {""}


def test_rotate_command_refuses_an_operator_key(settings):
    settings.ACCESS_TOKEN_SIGNING_KEY = pem_of(rsa.generate_private_key(public_exponent=65537, key_size=2048))

    with pytest.raises(CommandError, match="ACCESS_TOKEN_SIGNING_KEY"):
        rotate()


def test_rotate_command_refuses_hs256(settings, db):
    settings.ACCESS_TOKEN_ALGORITHM = "HS256"

    with pytest.raises(CommandError, match="HS256"):
        rotate()


def test_an_operator_key_file_is_read_once_per_process(login, user, me, settings, tmp_path):
    key_file = tmp_path / "key.pem"
    key_file.write_text(pem_of(rsa.generate_private_key(public_exponent=65537, key_size=2048)))
    settings.ACCESS_TOKEN_SIGNING_KEY_FILE = str(key_file)
    lifecycle.ensure_signing_key()
    first = login(user)
    key_file.unlink()  # e.g. a secret mount swapped at run time
    ring.key_ring(force=True)

    assert me(first["access_token"]).status_code == HTTPStatus.OK
    assert kid_of(login(user)["access_token"]) == kid_of(first["access_token"])


def test_an_operator_key_configured_again_after_another_key_signed_signs_again(login, user, settings):
    operator_pem = pem_of(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    settings.ACCESS_TOKEN_SIGNING_KEY = operator_pem
    lifecycle.ensure_signing_key()
    operator_kid = kid_of(login(user)["access_token"])
    age_keys(timedelta(days=3))
    settings.ACCESS_TOKEN_SIGNING_KEY = ""  # the operator drops the key: start-up makes one
    ring.reset()
    lifecycle.ensure_signing_key()
    age_keys(timedelta(days=1))

    settings.ACCESS_TOKEN_SIGNING_KEY = operator_pem  # and brings it back
    ring.reset()
    lifecycle.ensure_signing_key()

    assert kid_of(login(user)["access_token"]) == operator_kid
