"""A database or Redis that does not answer: 503 with the contract's body, never a 500, and
nothing changed; the next request after it answers again succeeds.

The outage is real: the connection is pointed at a database that cannot be reached (a port
nothing listens on, or an SQLite file in a directory that does not exist), or Redis at a closed
port. tests/test_outages.py does the same with real servers stopped under load.
"""

import socket
import time
from http import HTTPStatus

import pytest
from django.db import connections

from accounts.models import Session


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed again on return: nothing listens there


@pytest.fixture
def database(transactional_db):
    """database.down() / database.up(): make the default database unreachable, then reachable."""
    wrapper = connections["default"]
    saved = dict(wrapper.settings_dict)

    class Switch:
        def down(self):
            wrapper.close()
            if wrapper.vendor == "sqlite":
                wrapper.settings_dict["NAME"] = "/nonexistent-directory/db.sqlite3"
            else:
                wrapper.settings_dict.update(HOST="127.0.0.1", PORT=str(closed_port()))

        def up(self):
            wrapper.close()
            wrapper.settings_dict.clear()
            wrapper.settings_dict.update(saved)

    switch = Switch()
    yield switch
    switch.up()


def assert_temporarily_unavailable(response):
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE, response.content
    assert response.json()["error"] == "temporarily_unavailable"
    assert response.json()["error_description"]
    assert int(response["Retry-After"]) > 0
    assert response["Cache-Control"] == "no-store"


def test_every_oauth_endpoint_answers_503_while_the_database_is_down_and_nothing_is_spent(
    api_client, user, password, database
):
    tokens = api_client.post("/login", {"username": user.username, "password": password}).json()
    database.down()

    login = api_client.post("/login", {"username": user.username, "password": password})
    rotate = api_client.post(
        "/token", {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    )
    revoke = api_client.post("/revoke", {"token": tokens["refresh_token"]})
    me = api_client.get("/users/me/", HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}")
    health = api_client.get("/healthz")
    database.up()

    for response in (login, rotate, revoke, me):
        assert_temporarily_unavailable(response)
    assert health.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert health.json() == {"status": "unavailable", "detail": "The database does not answer."}
    # Nothing was spent or written half: the same refresh token rotates once the database is back.
    again = api_client.post(
        "/token", {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    )
    assert again.status_code == HTTPStatus.OK
    assert Session.objects.get().revoked_at is None


def test_an_admin_page_answers_an_html_503_while_the_database_is_down(client, user_factory, database):
    admin = user_factory(username="root", is_staff=True, is_superuser=True)
    client.force_login(admin)
    database.down()

    response = client.get("/admin/accounts/session/")
    database.up()

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response["Content-Type"].startswith("text/html")
    assert b"temporarily unavailable" in response.content
    assert client.get("/admin/accounts/session/").status_code == HTTPStatus.OK


def test_with_redis_unreachable_a_login_answers_503_fast_and_rotation_goes_on(
    api_client, user, password, settings, tokens
):
    port = closed_port()
    settings.REDIS_URL = f"redis://127.0.0.1:{port}/0"
    settings.CACHES = {
        **settings.CACHES,
        "throttle": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": settings.REDIS_URL,
            "OPTIONS": settings.REDIS_OPTIONS,
        },
    }
    started = time.monotonic()

    login = api_client.post("/login", {"username": user.username, "password": password})
    elapsed = time.monotonic() - started
    rotate = api_client.post(
        "/token", {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    )

    assert_temporarily_unavailable(login)
    assert elapsed < 5  # bounded by the socket timeouts, far below gunicorn's 30 s
    assert rotate.status_code == HTTPStatus.OK  # rotation never needs the counters


def test_the_accounts_endpoints_answer_503_while_the_database_is_down_and_nothing_is_written(
    api_client, client, user, password, database, settings
):
    from django_tasks_db.models import DBTaskResult

    from accounts.models import User

    settings.SIGNUP_ENABLED = True
    tokens = api_client.post("/login", {"username": user.username, "password": password}).json()
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {tokens['access_token']}"}
    database.down()

    answers = [
        api_client.post(
            "/users/", {"username": "maria", "email": "m@example.com", "password": "a long passphrase 1"}
        ),
        api_client.post("/password-reset", {"email": "johndoe@example.com"}),
        api_client.post(
            "/users/me/password", {"current_password": password, "new_password": "x y z w 12"}, **bearer
        ),
        api_client.post("/users/me/email", {"email": "j@new.example", "password": password}, **bearer),
        api_client.post("/users/me/email/verification", **bearer),
    ]
    page = client.post("/account/password-reset", {"email": "johndoe@example.com"})
    database.up()

    for response in answers:
        assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE, response.content
        assert int(response["Retry-After"]) > 0
    assert page.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert not User.objects.filter(username="maria").exists()
    assert not DBTaskResult.objects.exists()
    assert User.objects.get(pk=user.pk).check_password(password)
