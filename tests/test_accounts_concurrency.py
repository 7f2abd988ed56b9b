"""The accounts' races, decided by PostgreSQL: a username taken by concurrent sign-ups (the
unique constraint), an email taken by concurrent sign-ups (the same answer for each, one
account), and a link presented by concurrent requests (the user's row lock: it works once)."""

import threading
from http import HTTPStatus

import pytest
from django.db import connections

from accounts.models import User
from accounts.selfservice import links, services
from accounts.selfservice.services import LinkRefused
from tests.test_concurrency import all_at_once

pytestmark = pytest.mark.postgres
CONCURRENT = 8
PASSWORD = "a shared long passphrase 99"


@pytest.fixture
def signup_service(live_service, server_password_hashers):
    return live_service(SIGNUP_ENABLED="1", EMAIL_REQUEST_LIMIT="1000", EMAIL_REQUEST_IP_LIMIT="1000")


def test_concurrent_sign_ups_of_one_username_create_one_account(signup_service):
    # "racer", "RACER", "racer", ...: one name, whatever its case (a unique index on its lower case).
    requests = [
        (
            "/users/",
            {
                "username": "racer" if n % 2 else "RACER",
                "email": f"racer{n}@example.com",
                "password": PASSWORD,
            },
        )
        for n in range(CONCURRENT)
    ]

    results = all_at_once(signup_service, requests)

    statuses = sorted(status for status, _ in results)
    assert statuses == [HTTPStatus.CREATED] + [HTTPStatus.BAD_REQUEST] * (CONCURRENT - 1), results
    assert all(
        body == {"username": ["A user with that username already exists."]}
        for status, body in results
        if status == 400
    )
    assert User.objects.filter(username__iexact="racer").count() == 1


def test_concurrent_sign_ups_of_one_email_answer_alike_and_create_one_account(signup_service):
    requests = [
        ("/users/", {"username": f"racer{n}", "email": "same@example.com", "password": PASSWORD})
        for n in range(CONCURRENT)
    ]

    results = all_at_once(signup_service, requests)

    assert {status for status, _ in results} == {HTTPStatus.CREATED}, results
    assert User.objects.filter(email__iexact="same@example.com").count() == 1


def at_once(call, count: int = CONCURRENT) -> list:
    """Run `call()` in `count` threads released together, each on its own database connection;
    return each one's result or exception."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def worker(index: int) -> None:
        try:
            barrier.wait()
            results[index] = call()
        except Exception as e:
            results[index] = e
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def token_of(url: str) -> tuple[str, str]:
    public_id, token = url.rstrip("/").rsplit("/", 2)[-2:]
    return public_id, token


def test_an_email_link_presented_at_once_works_once(transactional_db, user_factory):
    user = user_factory()
    public_id, token = token_of(links.email_confirmation_url(user))

    results = at_once(lambda: services.email_confirm(public_id=public_id, token=token))

    assert sum(isinstance(result, User) for result in results) == 1, results
    assert all(isinstance(result, (User, LinkRefused)) for result in results), results
    assert User.objects.get(pk=user.pk).email_verified


def test_a_password_reset_link_presented_at_once_sets_one_password(transactional_db, user_factory):
    user = user_factory()
    public_id, token = token_of(links.password_reset_url(user))
    passwords = iter([f"racing passphrase number {n}" for n in range(CONCURRENT)])
    lock = threading.Lock()

    def reset():
        with lock:
            password = next(passwords)
        return services.password_reset(public_id=public_id, token=token, password=password), password

    results = at_once(reset)

    winners = [result for result in results if isinstance(result, tuple)]
    assert len(winners) == 1, results
    assert all(isinstance(result, (tuple, LinkRefused)) for result in results), results
    assert User.objects.get(pk=user.pk).check_password(winners[0][1])
