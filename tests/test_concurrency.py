"""Exactly-once rotation under real concurrency: several gunicorn processes, one database.

Each round starts a session, then presents its refresh token from 20 threads at once (each has
its connection open and waits on a barrier before sending). The database alone decides.
"""

import http.client
import json
import threading
from http import HTTPStatus
from urllib.parse import urlencode, urlsplit

import pytest
from django.contrib.auth.hashers import Argon2PasswordHasher

from accounts.models import Session
from tests.helpers import jwt_parts

ROUNDS = 10
CONCURRENT = 20


def post(base_url: str, path: str, data: dict) -> tuple[int, dict]:
    connection = http.client.HTTPConnection(urlsplit(base_url).netloc, timeout=60)
    try:
        connection.request(
            "POST", path, urlencode(data), {"Content-Type": "application/x-www-form-urlencoded"}
        )
        response = connection.getresponse()
        body = response.read()
        return response.status, json.loads(body) if body else {}
    finally:
        connection.close()


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
            connection.request(
                "POST", path, urlencode(data), {"Content-Type": "application/x-www-form-urlencoded"}
            )
            response = connection.getresponse()
            body = response.read()
            results[index] = (response.status, json.loads(body) if body else {})
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, *request)) for i, request in enumerate(requests)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert all(result is not None for result in results), "a request did not complete"
    return results


def login(base_url: str, user, password: str) -> dict:
    status, body = post(base_url, "/login", {"username": user.username, "password": password})
    assert status == HTTPStatus.OK, body
    return body


@pytest.fixture
def user(user):
    """The user, with a password hash the server's own hashers can check (Argon2)."""
    user.password = Argon2PasswordHasher().encode("server password", Argon2PasswordHasher().salt())
    user.save(update_fields=["password"])
    return user


@pytest.fixture
def password() -> str:
    return "server password"


def refresh_request(refresh_token: str) -> tuple[str, dict]:
    return "/token", {"grant_type": "refresh_token", "refresh_token": refresh_token}


def test_simultaneous_refreshes_of_one_token_succeed_exactly_once(live_service, user, password):
    base_url = live_service()

    for _ in range(ROUNDS):
        tokens = login(base_url, user, password)

        results = all_at_once(base_url, [refresh_request(tokens["refresh_token"])] * CONCURRENT)

        successes = [body for status, body in results if status == HTTPStatus.OK]
        failures = [(status, body) for status, body in results if status != HTTPStatus.OK]
        assert len(successes) == 1
        assert all(
            status == HTTPStatus.BAD_REQUEST and body["error"] == "invalid_grant" for status, body in failures
        )
        # The others were reuse: the session is revoked, its one successor dead too.
        session = Session.objects.order_by("-created_at").first()
        assert session.end_reason == Session.EndReason.REUSE_DETECTED
        status, body = post(base_url, *refresh_request(successes[0]["refresh_token"]))
        assert (status, body["error"]) == (HTTPStatus.BAD_REQUEST, "invalid_grant")


def test_with_a_reuse_interval_simultaneous_refreshes_all_get_the_same_successor(
    live_service, user, password
):
    base_url = live_service(REFRESH_TOKEN_REUSE_INTERVAL_SECONDS=60)

    for _ in range(ROUNDS):
        tokens = login(base_url, user, password)

        results = all_at_once(base_url, [refresh_request(tokens["refresh_token"])] * CONCURRENT)

        assert {status for status, _ in results} == {HTTPStatus.OK}
        successors = {body["refresh_token"] for _, body in results}
        assert len(successors) == 1
        session = Session.objects.select_related("newest_record").order_by("-created_at").first()
        assert session.revoked_at is None
        assert session.newest_record.jti == jwt_parts(successors.copy().pop())[1]["jti"]
        status, _ = post(base_url, *refresh_request(successors.pop()))
        assert status == HTTPStatus.OK


def test_a_revocation_racing_rotations_leaves_no_live_token(live_service, user, password):
    base_url = live_service()

    for _ in range(ROUNDS):
        tokens = login(base_url, user, password)
        requests = [refresh_request(tokens["refresh_token"])] * (CONCURRENT // 2) + [
            ("/revoke", {"token": tokens["refresh_token"]})
        ] * (CONCURRENT // 2)

        results = all_at_once(base_url, requests)

        assert all(status in (HTTPStatus.OK, HTTPStatus.BAD_REQUEST) for status, _ in results)
        assert Session.objects.order_by("-created_at").first().revoked_at is not None
        for status, body in results[: CONCURRENT // 2]:
            if status == HTTPStatus.OK:
                assert post(base_url, *refresh_request(body["refresh_token"]))[0] == HTTPStatus.BAD_REQUEST
