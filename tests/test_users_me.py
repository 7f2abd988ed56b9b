"""GET /users/me/: bearer access tokens only, checked against their session and user."""

import base64
import uuid
from datetime import timedelta
from http import HTTPStatus

import jwt
import pytest
from django.utils import timezone

from accounts import services, signing
from accounts.callers import Caller
from accounts.models import Session
from tests.helpers import forge, jwt_parts

CREDENTIALS_ERROR = {"detail": "Could not validate credentials"}


@pytest.mark.parametrize("path", ["/users/me/", "/users/me"])
@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
def test_bearer_scheme_is_case_insensitive_and_slash_optional(api_client, tokens, path, scheme):
    response = api_client.get(path, HTTP_AUTHORIZATION=f"{scheme} {tokens['access_token']}")

    assert response.status_code == HTTPStatus.OK
    assert response.json()["username"] == "johndoe"


def test_no_credentials_get_401_with_a_bearer_challenge(api_client, db):
    response = api_client.get("/users/me/")

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response["WWW-Authenticate"] == "Bearer"
    assert response.json()["detail"]


def test_http_basic_is_not_accepted(api_client, user, password):
    basic = base64.b64encode(f"{user.username}:{password}".encode()).decode()

    response = api_client.get("/users/me/", HTTP_AUTHORIZATION=f"Basic {basic}")

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response["WWW-Authenticate"] == "Bearer"


def test_a_django_session_cookie_is_not_accepted(client, user):
    client.force_login(user)

    response = client.get("/users/me/")

    assert response.status_code == HTTPStatus.UNAUTHORIZED


@pytest.mark.parametrize("header", ["Bearer", "Bearer ", "Bearer a b"])
def test_malformed_bearer_header_gets_401(api_client, db, header):
    response = api_client.get("/users/me/", HTTP_AUTHORIZATION=header)

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("change", ["disabled", "revoked", "password set", "deleted", "username changed"])
def test_an_access_token_stops_at_once_with_the_invalid_token_challenge(me, tokens, user, change):
    if change == "disabled":
        user.is_active = False
        user.save()
    elif change == "revoked":
        Session.objects.revoke(reason=Session.EndReason.ADMIN)
    elif change == "password set":
        user.set_password("a new password")
        user.save()
    elif change == "deleted":
        user.delete()
    else:
        user.username = "john"
        user.save()

    response = me(tokens["access_token"])

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json() == CREDENTIALS_ERROR
    assert response["WWW-Authenticate"] == 'Bearer error="invalid_token"'


def test_an_expired_access_token_gets_the_invalid_token_challenge(me, user):
    issued = services.session_start(
        user=user, caller=Caller(), now=timezone.now() - timedelta(hours=1)
    )

    response = me(issued.access_token)

    assert response.json() == CREDENTIALS_ERROR
    assert response["WWW-Authenticate"] == 'Bearer error="invalid_token"'


def test_access_token_signed_with_another_key_gets_401(me, tokens):
    _, payload = jwt_parts(tokens["access_token"])
    forged = jwt.encode(
        payload, "another key of thirty-two bytes or more", algorithm="HS256", headers={"typ": "at+jwt"}
    )

    assert me(forged).json() == CREDENTIALS_ERROR


def test_unsigned_access_token_gets_401(me, tokens):
    header, _ = jwt_parts(tokens["access_token"])
    unsigned = forge(tokens["access_token"], header={**header, "alg": "none"}, signature="")

    assert me(unsigned).json() == CREDENTIALS_ERROR


def test_access_token_with_a_disallowed_algorithm_gets_401(me, tokens):
    _, payload = jwt_parts(tokens["access_token"])
    key = signing.access_token_backend().signing_key
    hs512 = jwt.encode(payload, key, algorithm="HS512", headers={"typ": "at+jwt"})

    assert me(hs512).json() == CREDENTIALS_ERROR


def test_users_me_costs_one_query(me, tokens, django_assert_max_num_queries):
    with django_assert_max_num_queries(1):
        response = me(tokens["access_token"])

    assert response.status_code == HTTPStatus.OK


def test_the_one_query_lookup_returns_what_the_orm_would(tokens):
    """Session.objects.for_token is the hot-path form of a select_related query: same objects."""
    expected = Session.objects.select_related("user", "newest_record").get()

    session = Session.objects.for_token(expected.pk)

    for field in Session._meta.concrete_fields:
        assert getattr(session, field.attname) == getattr(expected, field.attname), field.name
    for field in session.user._meta.concrete_fields:
        assert getattr(session.user, field.attname) == getattr(expected.user, field.attname), field.name
    for field in session.newest_record._meta.concrete_fields:
        assert getattr(session.newest_record, field.attname) == getattr(expected.newest_record, field.attname)
    assert not session.get_deferred_fields()
    assert Session.objects.for_token(uuid.uuid4()) is None
