"""Access token signing keys: generation, publication (JWKS), rotation, operator-supplied keys."""

import hashlib
import hmac
import json
from datetime import timedelta
from http import HTTPStatus

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts import keys
from accounts.models import SigningKey
from tests.helpers import b64url, forge, jwt_parts


@pytest.fixture
def jwks(api_client):
    def get() -> dict:
        response = api_client.get("/.well-known/jwks.json")
        assert response.status_code == HTTPStatus.OK
        return response.json()

    return get


def verify_with_jwks(token: str, jwk_set: dict, settings) -> dict:
    """Verify as a third party would: nothing but the published keys."""
    kid = jwt_parts(token)[0]["kid"]
    (jwk,) = [key for key in jwk_set["keys"] if key["kid"] == kid]
    public = jwt.PyJWK(jwk)
    return jwt.decode(token, public.key, algorithms=[jwk["alg"]], issuer=settings.TOKEN_ISSUER)


def test_access_tokens_are_rs256_with_a_kid_anyone_can_verify_with_the_jwks(tokens, jwks, settings):
    header, _ = jwt_parts(tokens["access_token"])
    jwk_set = jwks()

    assert header == {"alg": "RS256", "typ": "at+jwt", "kid": header["kid"]}
    assert verify_with_jwks(tokens["access_token"], jwk_set, settings)["sub"] == "johndoe"
    (published,) = jwk_set["keys"]
    assert published["kid"] == header["kid"] == keys.thumbprint(published)
    assert {published["kty"], published["alg"], published["use"]} == {"RSA", "RS256", "sig"}
    assert "d" not in published
    assert "p" not in published


def test_refresh_tokens_stay_hs256_and_unpublished(tokens):
    header, _ = jwt_parts(tokens["refresh_token"])

    assert header == {"alg": "HS256", "typ": "rt+jwt"}


@pytest.mark.parametrize("path", ["/.well-known/jwks.json", "/.well-known/jwks.json/"])
def test_jwks_is_cacheable_with_and_without_slash(api_client, tokens, path):
    response = api_client.get(path)

    assert response.status_code == HTTPStatus.OK
    assert response["Cache-Control"] == "public, max-age=300"


def test_the_key_is_generated_once_and_kept_for_every_process(login, user):
    first = jwt_parts(login(user)["access_token"])[0]["kid"]
    keys.reset()  # as a new process would start

    second = jwt_parts(login(user)["access_token"])[0]["kid"]

    assert first == second
    assert SigningKey.objects.count() == 1


def test_the_private_key_is_stored_encrypted(tokens):
    row = SigningKey.objects.get()

    assert row.private_key.startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
    with pytest.raises(TypeError):  # no password, no key
        serialization.load_pem_private_key(row.private_key.encode(), password=None)


def test_only_one_key_can_be_active(tokens):
    with pytest.raises(IntegrityError), transaction.atomic():
        SigningKey.objects.create(**keys._generate("RS256"), active=True)


@pytest.mark.parametrize("algorithm", ["ES256", "EdDSA"])
def test_es256_and_eddsa_are_selectable_and_old_tokens_live_on(login, user, me, jwks, settings, algorithm):
    before = login(user)
    settings.ACCESS_TOKEN_ALGORITHM = algorithm

    after = login(user)

    assert jwt_parts(after["access_token"])[0]["alg"] == algorithm
    assert me(after["access_token"]).status_code == HTTPStatus.OK
    assert me(before["access_token"]).status_code == HTTPStatus.OK  # its key is still published
    assert verify_with_jwks(after["access_token"], jwks(), settings)["sub"] == "johndoe"
    assert len(jwks()["keys"]) == 2


def test_hs256_stays_selectable(login, user, me, settings):
    settings.ACCESS_TOKEN_ALGORITHM = "HS256"

    body = login(user)

    assert jwt_parts(body["access_token"])[0] == {"alg": "HS256", "typ": "at+jwt"}
    assert me(body["access_token"]).status_code == HTTPStatus.OK


def test_an_hs256_access_token_is_refused_while_an_asymmetric_algorithm_is_configured(
    login, user, me, settings
):
    settings.ACCESS_TOKEN_ALGORITHM = "HS256"
    hs256 = login(user)["access_token"]
    settings.ACCESS_TOKEN_ALGORITHM = "RS256"

    assert me(hs256).status_code == HTTPStatus.UNAUTHORIZED


def test_rotation_publishes_the_next_key_before_it_signs(login, user, me, jwks, settings):
    settings.SIGNING_KEY_PREPUBLISH_SECONDS = 600
    old = login(user)
    old_kid = jwt_parts(old["access_token"])[0]["kid"]

    call_command("rotate_signing_key", stdout=None)

    assert len(jwks()["keys"]) == 2
    assert jwt_parts(login(user)["access_token"])[0]["kid"] == old_kid
    # Its time comes:
    SigningKey.objects.filter(active=False).update(activates_at=timezone.now() - timedelta(seconds=1))
    keys.reset()
    new = login(user)
    assert jwt_parts(new["access_token"])[0]["kid"] != old_kid
    assert me(old["access_token"]).status_code == HTTPStatus.OK
    assert me(new["access_token"]).status_code == HTTPStatus.OK
    assert SigningKey.objects.get(kid=old_kid).retired_at is not None


def test_rotation_now_signs_with_the_new_key_at_once(login, user):
    old_kid = jwt_parts(login(user)["access_token"])[0]["kid"]

    call_command("rotate_signing_key", "--now", stdout=None)

    assert jwt_parts(login(user)["access_token"])[0]["kid"] != old_kid


def test_a_retired_key_leaves_the_jwks_once_its_tokens_have_expired(login, user, me, jwks, settings):
    old = login(user)
    call_command("rotate_signing_key", "--now", stdout=None)
    old_kid = jwt_parts(old["access_token"])[0]["kid"]
    window = settings.ACCESS_TOKEN_LIFETIME_SECONDS + settings.SIGNING_KEYS_RELOAD_SECONDS
    SigningKey.objects.filter(kid=old_kid).update(retired_at=timezone.now() - timedelta(seconds=window + 1))
    keys.reset()

    assert old_kid not in {key["kid"] for key in jwks()["keys"]}
    assert me(old["access_token"]).status_code == HTTPStatus.UNAUTHORIZED


def test_a_token_naming_a_published_rsa_key_but_signed_with_hmac_over_it_is_refused(tokens, me, jwks):
    """The classic algorithm confusion: HS256 with the public key as the secret."""
    header, _payload = jwt_parts(tokens["access_token"])
    (jwk,) = jwks()["keys"]
    public_pem = jwt.PyJWK(jwk).key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    unsigned = forge(tokens["access_token"], header={**header, "alg": "HS256"}).rsplit(".", 1)[0]
    signature = hmac.new(public_pem, unsigned.encode(), hashlib.sha256).digest()
    assert me(f"{unsigned}.{b64url(signature)}").status_code == HTTPStatus.UNAUTHORIZED


def test_a_token_naming_an_unknown_kid_is_refused(tokens, me):
    header, _ = jwt_parts(tokens["access_token"])

    assert me(forge(tokens["access_token"], header={**header, "kid": "unknown"})).status_code == 401


def test_rfc_7638_thumbprint_example():
    jwk = {
        "kty": "RSA",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29",
    }

    assert keys.thumbprint(jwk) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def pem_of(private_key) -> str:
    return private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def test_an_operator_key_signs_and_only_its_public_part_is_recorded(login, user, me, settings):
    operator_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    settings.ACCESS_TOKEN_SIGNING_KEY = pem_of(operator_key)

    body = login(user)

    kid = jwt_parts(body["access_token"])[0]["kid"]
    row = SigningKey.objects.get(active=True)
    assert row.kid == kid
    assert row.private_key == ""
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
    old = login(user)

    key_file.write_text(pem_of(second))
    keys.reset()  # same path, new key: as after a restart
    new = login(user)

    assert jwt_parts(old["access_token"])[0]["kid"] != jwt_parts(new["access_token"])[0]["kid"]
    assert me(old["access_token"]).status_code == HTTPStatus.OK
    assert len(jwks()["keys"]) == 2


def test_rotate_command_refuses_an_operator_key(settings):
    settings.ACCESS_TOKEN_SIGNING_KEY = pem_of(rsa.generate_private_key(public_exponent=65537, key_size=2048))

    with pytest.raises(CommandError, match="ACCESS_TOKEN_SIGNING_KEY"):
        call_command("rotate_signing_key")


def test_jwks_answers_with_and_without_keys(api_client, db, settings):
    settings.ACCESS_TOKEN_ALGORITHM = "HS256"

    response = api_client.get("/.well-known/jwks.json")

    assert response.status_code == HTTPStatus.OK
    assert json.loads(response.content) == {"keys": []}


def test_a_key_that_no_secret_decrypts_is_replaced_and_still_verifies_its_tokens(
    login, user, me, jwks, settings
):
    old = login(user)
    old_kid = jwt_parts(old["access_token"])[0]["kid"]
    settings.SECRET_KEY = "a-new-secret-key-the-old-key-was-not-encrypted-with-" + "x" * 20
    keys.reset()

    new = login(user)

    assert jwt_parts(new["access_token"])[0]["kid"] != old_kid
    assert SigningKey.objects.get(kid=old_kid).retired_at is not None
    assert me(new["access_token"]).status_code == HTTPStatus.OK
    assert {key["kid"] for key in jwks()["keys"]} >= {old_kid}


def test_secret_key_fallbacks_keep_the_key_in_use(login, user, settings):
    old_kid = jwt_parts(login(user)["access_token"])[0]["kid"]
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-new-secret-key-" + "y" * 40
    keys.reset()

    assert jwt_parts(login(user)["access_token"])[0]["kid"] == old_kid


def test_a_malformed_key_record_is_left_out_of_the_jwks_without_failing(tokens, jwks):
    SigningKey.objects.create(
        kid="broken", algorithm="RS256", public_jwk={"kty": "RSA"}, active=False, retired_at=timezone.now()
    )
    keys.reset()

    assert [key["kid"] for key in jwks()["keys"]] == [jwt_parts(tokens["access_token"])[0]["kid"]]


def test_a_rotation_replaces_a_pending_key_so_it_never_takes_over_later(login, user, settings):
    settings.SIGNING_KEY_PREPUBLISH_SECONDS = 600
    call_command("rotate_signing_key", stdout=None)
    pending = SigningKey.objects.get(active=False, retired_at=None).kid

    call_command("rotate_signing_key", "--now", stdout=None)

    assert not SigningKey.objects.filter(kid=pending).exists()
    assert SigningKey.objects.filter(active=False, retired_at=None).count() == 0


@pytest.mark.parametrize("algorithm", ["RS384", "RS512", "PS256"])
def test_a_key_verifies_only_with_its_own_algorithm(tokens, me, algorithm):
    """Signed by the real key, with its kid, but another RSA algorithm: refused."""
    header, payload = jwt_parts(tokens["access_token"])
    forged = jwt.encode(
        payload,
        keys.signing_key().signing_key,
        algorithm=algorithm,
        headers={"typ": "at+jwt", "kid": header["kid"]},
    )

    assert me(forged).status_code == HTTPStatus.UNAUTHORIZED


def test_an_operator_key_file_is_read_once_per_process(login, user, me, settings, tmp_path):
    key_file = tmp_path / "key.pem"
    key_file.write_text(pem_of(rsa.generate_private_key(public_exponent=65537, key_size=2048)))
    settings.ACCESS_TOKEN_SIGNING_KEY_FILE = str(key_file)
    first = login(user)
    key_file.unlink()  # e.g. a secret mount swapped at run time
    keys.key_ring(force=True)

    assert me(first["access_token"]).status_code == HTTPStatus.OK
    assert login(user)["access_token"]
