"""Exactly-once rotation under real concurrency: several gunicorn processes, one database.

Each round starts a session, then presents its refresh token from 20 threads at once (each has
its connection open and waits on a barrier before sending). The database alone decides.
Sessions are started in this process, on the database the server uses: what is under test is
the refresh, and a login through the server would cost an Argon2 hash a round.
"""

import http.client
import json
import os
import threading
from http import HTTPStatus
from urllib.parse import urlencode, urlsplit

import pytest

from accounts import services
from accounts.callers import Caller
from accounts.models import Session
from tests.conftest import LIVE_ISSUER
from tests.helpers import jwt_parts

ROUNDS = 10
CONCURRENT = 20


def post(base_url: str, path: str, data: dict) -> tuple[int, dict]:
    connection = http.client.HTTPConnection(urlsplit(base_url).netloc, timeout=60)
    try:
        return send(connection, path, data)
    finally:
        connection.close()


def send(connection: http.client.HTTPConnection, path: str, data: dict) -> tuple[int, dict]:
    """POST `data` as a form on `connection`; return the status and the JSON body."""
    connection.request("POST", path, urlencode(data), {"Content-Type": "application/x-www-form-urlencoded"})
    response = connection.getresponse()
    body = response.read()
    return response.status, json.loads(body) if body else {}


def all_at_once(base_url: str, requests: list[tuple[str, dict]]) -> list[tuple[int, dict]]:
    """Send every (path, data) from its own thread, released together; return (status, body)s."""
    barrier = threading.Barrier(len(requests))
    results: list = [None] * len(requests)
    netloc = urlsplit(base_url).netloc

    def worker(index: int, path: str, data: dict) -> None:
        connection = http.client.HTTPConnection(netloc, timeout=60)
        connection.connect()
        barrier.wait()
        try:
            results[index] = send(connection, path, data)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, *request)) for i, request in enumerate(requests)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert all(result is not None for result in results), "a request did not complete"
    return results


@pytest.fixture
def start_session(user, settings):
    """start_session() -> the tokens of a new session of `user`, which the live server accepts."""
    settings.TOKEN_ISSUER = LIVE_ISSUER  # the server's issuer, or it refuses the tokens

    def start() -> services.IssuedTokens:
        return services.session_start(user=user, caller=Caller(), grant_type=Session.Grant.PASSWORD)

    return start


def refresh_request(refresh_token: str) -> tuple[str, dict]:
    return "/token", {"grant_type": "refresh_token", "refresh_token": refresh_token}


@pytest.mark.parametrize(
    ("reuse_interval", "successes", "end_reason", "successor_then"),
    [
        # The others are reuse: the session is revoked, its one successor dead too.
        pytest.param(
            0,
            1,
            Session.EndReason.REUSE_DETECTED,
            (HTTPStatus.BAD_REQUEST, "invalid_grant"),
            id="without a reuse interval",
        ),
        # The others are retries within the interval: all get the same successor, which lives on.
        pytest.param(60, CONCURRENT, "", (HTTPStatus.OK, None), id="with a reuse interval"),
    ],
)
def test_simultaneous_refreshes_of_one_token_make_exactly_one_successor(
    live_service, start_session, reuse_interval, successes, end_reason, successor_then
):
    base_url = live_service(REFRESH_TOKEN_REUSE_INTERVAL_SECONDS=reuse_interval)

    for _ in range(ROUNDS):
        issued = start_session()

        results = all_at_once(base_url, [refresh_request(issued.refresh_token)] * CONCURRENT)

        succeeded = [body for status, body in results if status == HTTPStatus.OK]
        failed = [(status, body) for status, body in results if status != HTTPStatus.OK]
        assert len(succeeded) == successes
        assert all(
            status == HTTPStatus.BAD_REQUEST and body["error"] == "invalid_grant" for status, body in failed
        )
        (successor,) = {body["refresh_token"] for body in succeeded}
        session = Session.objects.select_related("newest_record").get(pk=issued.session.pk)
        assert session.end_reason == end_reason
        assert (session.revoked_at is None) == (end_reason == "")
        assert session.newest_record.jti == jwt_parts(successor)[1]["jti"]
        status, body = post(base_url, *refresh_request(successor))
        assert (status, body.get("error")) == successor_then


def test_a_revocation_racing_rotations_leaves_no_live_token(live_service, start_session):
    base_url = live_service()

    for _ in range(ROUNDS):
        issued = start_session()
        requests = [refresh_request(issued.refresh_token)] * (CONCURRENT // 2) + [
            ("/revoke", {"token": issued.refresh_token})
        ] * (CONCURRENT // 2)

        results = all_at_once(base_url, requests)

        assert all(status in (HTTPStatus.OK, HTTPStatus.BAD_REQUEST) for status, _ in results)
        assert Session.objects.get(pk=issued.session.pk).revoked_at is not None
        for status, body in results[: CONCURRENT // 2]:
            if status == HTTPStatus.OK:
                assert post(base_url, *refresh_request(body["refresh_token"]))[0] == HTTPStatus.BAD_REQUEST


@pytest.mark.skipif(not os.environ.get("PGBOUNCER_URL"), reason="only in the run through PgBouncer")
def test_in_the_pgbouncer_run_the_servers_reach_the_database_through_it(live_service, user, settings):
    import psycopg
    from django.db import connection

    def transactions_through_pgbouncer() -> int:
        bouncer = urlsplit(os.environ["PGBOUNCER_URL"])
        with psycopg.connect(
            host=bouncer.hostname,
            port=bouncer.port,
            user=bouncer.username,
            dbname="pgbouncer",
            autocommit=True,
        ) as console:
            rows = console.execute("SHOW STATS").fetchall()
        return sum(row[1] for row in rows if row[0] == connection.settings_dict["NAME"])

    settings.TOKEN_ISSUER = LIVE_ISSUER
    before = transactions_through_pgbouncer()
    issued = services.session_start(user=user, caller=Caller(), grant_type=Session.Grant.PASSWORD)
    status, body = post(
        live_service(), "/token", {"grant_type": "refresh_token", "refresh_token": issued.refresh_token}
    )

    assert status == HTTPStatus.OK, body
    assert transactions_through_pgbouncer() > before
