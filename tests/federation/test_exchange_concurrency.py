"""Each ID token is exchanged once, under real concurrency: several gunicorn processes, one database.

20 threads present one ID token of the stand-in provider at once; the primary key of the
exchanged-token record decides. The first exchange of an identity also creates its user: the
concurrent requests must not create two users, nor refuse for the wrong reason.
"""

from collections import Counter
from http import HTTPStatus

import pytest

from accounts.federation.models import ExchangedIdToken, LinkedIdentity
from accounts.models import Session, User
from tests.federation.conftest import APP_CLIENT_ID, EXCHANGE_GRANT, ID_TOKEN_TYPE, WEB_CLIENT_ID
from tests.test_concurrency import CONCURRENT, all_at_once

ROUNDS = 3


@pytest.fixture
def exchange_service(provider_server, live_service, transactional_db):
    return live_service(
        GOOGLE_CLIENT_ID=WEB_CLIENT_ID,
        GOOGLE_ISSUER=provider_server.issuer,
        GOOGLE_TOKEN_AUDIENCES=APP_CLIENT_ID,
    )


def test_concurrent_exchanges_of_one_id_token_give_exactly_one_token_pair(provider_server, exchange_service):
    provider_server.control("reset")
    for round_number in range(ROUNDS):
        sub = provider_server.account(
            f"g-race-{round_number}", email=f"race{round_number}@example.com", email_verified=True
        )
        id_token = provider_server.app_id_token(sub)
        data = {"grant_type": EXCHANGE_GRANT, "subject_token": id_token, "subject_token_type": ID_TOKEN_TYPE}

        results = all_at_once(exchange_service, [("/token", data)] * CONCURRENT)

        statuses = Counter(status for status, _ in results)
        assert statuses == {HTTPStatus.OK: 1, HTTPStatus.BAD_REQUEST: CONCURRENT - 1}, results
        refusals = {body["error_description"] for status, body in results if status != HTTPStatus.OK}
        assert refusals == {"The ID token was already exchanged."}
        user = User.objects.get(email=f"race{round_number}@example.com")
        assert LinkedIdentity.objects.filter(user=user).count() == 1
        assert Session.objects.filter(user=user).count() == 1
    assert ExchangedIdToken.objects.count() == ROUNDS


def test_concurrent_first_sign_ins_of_one_new_identity_create_one_user(provider_server, exchange_service):
    # Different ID tokens of one new provider account, at once: every one is exchanged, and the
    # user and its link are created once (the unique constraints decide; the others find them).
    provider_server.control("reset")
    sub = provider_server.account("g-first", email="first@example.com", email_verified=True)
    id_tokens = [
        provider_server.sign(provider_server.claims(sub, email="first@example.com", jti=str(n)))
        for n in range(CONCURRENT)
    ]
    requests = [
        (
            "/token",
            {"grant_type": EXCHANGE_GRANT, "subject_token": token, "subject_token_type": ID_TOKEN_TYPE},
        )
        for token in id_tokens
    ]

    results = all_at_once(exchange_service, requests)

    assert Counter(status for status, _ in results) == {HTTPStatus.OK: CONCURRENT}, results
    user = User.objects.get(email="first@example.com")
    assert LinkedIdentity.objects.get().user == user
    assert Session.objects.filter(user=user).count() == CONCURRENT
