"""Exactly-once code exchange under real concurrency: several gunicorn processes, one database.

Each round issues a code in this process (as /authorize would, on the database the server uses),
then presents it from 20 threads at once, each with its connection open, released together by a
barrier. The database alone decides: one exchange wins, the other 19 are invalid_grant, and since
they carry the right verifier they are replays, which revoke the winner's session.
"""

import http.client
import json
import threading
from http import HTTPStatus
from urllib.parse import urlencode, urlsplit

import pytest

from accounts.models import Session
from accounts.oauth.models import AuthorizationCode
from tests.helpers import jwt_parts
from tests.oauth.conftest import basic_authorization, code_exchange_parameters

ROUNDS = 10
CONCURRENT = 20


def send(connection: http.client.HTTPConnection, path: str, data: dict, headers: dict) -> tuple[int, dict]:
    """POST `data` as a form on `connection`; return the status and the JSON body."""
    connection.request(
        "POST", path, urlencode(data), {"Content-Type": "application/x-www-form-urlencoded", **headers}
    )
    response = connection.getresponse()
    body = response.read()
    return response.status, json.loads(body) if body else {}


def post(base_url: str, path: str, data: dict, headers: dict | None = None) -> tuple[int, dict]:
    connection = http.client.HTTPConnection(urlsplit(base_url).netloc, timeout=60)
    try:
        return send(connection, path, data, headers or {})
    finally:
        connection.close()


def all_at_once(base_url: str, data: dict, headers: dict, count: int) -> list[tuple[int, dict]]:
    """POST /token with `data` from `count` threads, each connected first, released together."""
    barrier = threading.Barrier(count)
    results: list = [None] * count
    netloc = urlsplit(base_url).netloc

    def worker(index: int) -> None:
        connection = http.client.HTTPConnection(netloc, timeout=60)
        connection.connect()
        barrier.wait()
        try:
            results[index] = send(connection, "/token", data, headers)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert all(result is not None for result in results), "a request did not complete"
    return results


def authentication(registered) -> tuple[dict, dict]:
    """A public client names itself in the body; a confidential one uses HTTP Basic."""
    if registered.secret is None:
        return {"client_id": registered.client_id}, {}
    return {}, {"Authorization": basic_authorization(registered.client_id, registered.secret)}


@pytest.mark.parametrize("confidential", [False, True], ids=["public client", "confidential client"])
def test_simultaneous_exchanges_of_one_code_make_exactly_one_session_which_the_replays_revoke(
    live_service, oauth_client_factory, oauth_code_factory, confidential
):
    registered = oauth_client_factory(name="Racing app", confidential=confidential)
    base_url = live_service()
    data, headers = authentication(registered)
    rounds = []

    for _ in range(ROUNDS):
        issued = oauth_code_factory(registered)

        results = all_at_once(base_url, {**code_exchange_parameters(issued), **data}, headers, CONCURRENT)

        succeeded = [body for status, body in results if status == HTTPStatus.OK]
        failed = [(status, body.get("error")) for status, body in results if status != HTTPStatus.OK]
        rounds.append((len(succeeded), len(failed)))
        assert len(succeeded) == 1, results
        assert failed == [(HTTPStatus.BAD_REQUEST, "invalid_grant")] * (CONCURRENT - 1)
        (winner,) = succeeded
        session = Session.objects.get(pk=jwt_parts(winner["refresh_token"])[1]["sid"])
        assert session.client_id == registered.client_id
        assert AuthorizationCode.objects.get(session=session).exchanged_at is not None
        # The 19 losers carried the right verifier: replays, which revoke the winner's session.
        assert session.revoked_at is not None
        assert session.end_reason == Session.EndReason.CODE_REPLAYED
        status, body = post(
            base_url,
            "/token",
            {"grant_type": "refresh_token", "refresh_token": winner["refresh_token"], **data},
            headers,
        )
        assert (status, body.get("error")) == (HTTPStatus.BAD_REQUEST, "invalid_grant")

    assert Session.objects.filter(client_id=registered.client_id).count() == ROUNDS
    print(f"\nper round (200s, invalid_grants): {rounds}")
