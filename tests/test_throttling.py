"""Throttling: failed sign-ins per client address and username, on every path that checks a
password, shared by every process; nothing else is ever throttled by default."""

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import timedelta
from http import HTTPStatus

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.utils import timezone

from accounts.callers import client_ip
from accounts.models import Session, ThrottleCounter
from accounts.throttling import counters

database_counters_only = pytest.mark.skipif(
    bool(django_settings.REDIS_URL), reason="reads or changes the database counters; Redis keeps its own"
)


@pytest.fixture
def fail_login(api_client):
    def fail(username="johndoe", ip="10.0.0.1"):
        response = api_client.post("/login", {"username": username, "password": "wrong"}, REMOTE_ADDR=ip)
        assert response.status_code == HTTPStatus.UNAUTHORIZED
        return response

    return fail


@pytest.fixture
def attempt(api_client, password):
    def login(username="johndoe", ip="10.0.0.1", given_password=None):
        return api_client.post(
            "/login", {"username": username, "password": given_password or password}, REMOTE_ADDR=ip
        )

    return login


def test_after_the_limit_even_the_right_password_gets_429_with_retry_after(
    user, settings, fail_login, attempt
):
    settings.LOGIN_FAILURE_LIMIT = 3
    settings.LOGIN_FAILURE_WINDOW_SECONDS = 900
    for _ in range(3):
        fail_login()

    response = attempt()

    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert 890 <= int(response["Retry-After"]) <= 900
    assert response.json()["error"] == "too_many_requests"
    assert response.json()["error_description"]
    assert not Session.objects.exists()


def test_the_limit_is_per_ip_and_username_compared_case_insensitively(
    user, user_factory, settings, fail_login, attempt
):
    settings.LOGIN_FAILURE_LIMIT = 2
    user_factory(username="alice")
    fail_login(username="johndoe")
    fail_login(username="JohnDoe")

    assert attempt(username="johndoe").status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert attempt(username="johndoe", ip="10.0.0.2").status_code == HTTPStatus.OK  # another IP
    assert attempt(username="alice").status_code == HTTPStatus.OK  # another user


@database_counters_only
def test_the_block_ends_when_the_window_passes(user, settings, fail_login, attempt):
    settings.LOGIN_FAILURE_LIMIT = 2
    settings.LOGIN_FAILURE_WINDOW_SECONDS = 60
    fail_login()
    fail_login()
    assert attempt().status_code == HTTPStatus.TOO_MANY_REQUESTS

    ThrottleCounter.objects.update(window_start=timezone.now() - timedelta(seconds=61))

    assert attempt().status_code == HTTPStatus.OK


def test_a_successful_login_clears_the_count(user, settings, fail_login, attempt):
    settings.LOGIN_FAILURE_LIMIT = 2
    fail_login()
    assert attempt().status_code == HTTPStatus.OK

    fail_login()

    assert attempt().status_code == HTTPStatus.OK


def test_bad_requests_are_not_failures(api_client, user, settings, fail_login, attempt):
    settings.LOGIN_FAILURE_LIMIT = 2
    for _ in range(5):
        api_client.post("/login", {"username": "johndoe"}, REMOTE_ADDR="10.0.0.1")  # 400
    fail_login()

    assert attempt().status_code == HTTPStatus.OK


def test_429s_do_not_extend_the_block(user, settings, fail_login, attempt):
    settings.LOGIN_FAILURE_LIMIT = 2
    settings.LOGIN_FAILURE_WINDOW_SECONDS = 60
    fail_login()
    fail_login()
    statuses = {attempt().status_code for _ in range(5)}  # 429s, not failures
    assert statuses == {HTTPStatus.TOO_MANY_REQUESTS}

    if not django_settings.REDIS_URL:  # the window passes; the 429s did not move it
        ThrottleCounter.objects.update(window_start=timezone.now() - timedelta(seconds=61))
        assert attempt().status_code == HTTPStatus.OK


def test_by_default_no_limit_blocks_an_address_for_every_username(user, settings, fail_login, attempt):
    settings.LOGIN_FAILURE_LIMIT = 3
    for number in range(40):  # many users behind one NAT, each mistyping once
        fail_login(username=f"colleague{number}")

    assert attempt(username="johndoe").status_code == HTTPStatus.OK


def test_the_per_address_limit_blocks_every_username_once_the_operator_turns_it_on(
    user, settings, fail_login, attempt
):
    settings.IP_FAILURE_LIMIT = 3
    for name in ("a", "b", "c"):
        fail_login(username=name)

    assert attempt(username="johndoe").status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert attempt(username="johndoe", ip="10.0.0.9").status_code == HTTPStatus.OK


@pytest.mark.parametrize("ip_limit", [0, 2])
def test_refused_refresh_tokens_never_count_and_never_get_429(api_client, user, password, settings, ip_limit):
    settings.IP_FAILURE_LIMIT = ip_limit
    settings.LOGIN_FAILURE_LIMIT = 2
    statuses = {
        api_client.post("/token", {"grant_type": "refresh_token", "refresh_token": f"junk{n}"}).status_code
        for n in range(120)
    }

    assert statuses == {HTTPStatus.BAD_REQUEST}
    assert (
        api_client.post("/login", {"username": "johndoe", "password": password}).status_code == HTTPStatus.OK
    )


def test_ipv6_clients_are_counted_per_64_network(user, settings, fail_login, attempt):
    settings.LOGIN_FAILURE_LIMIT = 5
    for host in range(1, 6):  # guesses from as many addresses of one /64
        fail_login(ip=f"2001:db8:1:2::{host:x}")

    assert attempt(ip="2001:db8:1:2:ffff::1").status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert attempt(ip="2001:db8:1:3::1").status_code == HTTPStatus.OK  # the next /64


def test_the_ipv6_network_size_is_configurable(user, settings, fail_login, attempt):
    settings.LOGIN_FAILURE_LIMIT = 2
    settings.THROTTLE_IPV6_PREFIX = 128
    fail_login(ip="2001:db8::1")
    fail_login(ip="2001:db8::2")

    assert attempt(ip="2001:db8::3").status_code == HTTPStatus.OK


def test_callers_with_an_unknown_address_never_share_one_bucket(
    user, user_factory, settings, api_client, password
):
    """gunicorn on a unix socket without TRUSTED_PROXIES=unix: REMOTE_ADDR is empty for everyone."""
    settings.LOGIN_FAILURE_LIMIT = 2
    user_factory(username="alice")
    for _ in range(3):
        api_client.post("/login", {"username": "alice", "password": "wrong"}, REMOTE_ADDR="")

    blocked = api_client.post("/login", {"username": "alice", "password": password}, REMOTE_ADDR="")
    other_user = api_client.post("/login", {"username": "johndoe", "password": password}, REMOTE_ADDR="")

    assert blocked.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert other_user.status_code == HTTPStatus.OK


def test_behind_a_unix_socket_proxy_the_forwarded_address_is_counted(user, settings, api_client, password):
    settings.LOGIN_FAILURE_LIMIT = 2
    settings.TRUSTED_PROXIES = ["unix"]

    def through_the_proxy(given_password, client_address):
        credentials = {"username": "johndoe", "password": given_password}
        return api_client.post("/login", credentials, REMOTE_ADDR="", HTTP_X_FORWARDED_FOR=client_address)

    for _ in range(3):
        through_the_proxy("wrong", "203.0.113.5")

    same = through_the_proxy(password, "203.0.113.5")
    other = through_the_proxy(password, "203.0.113.6")

    assert same.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert other.status_code == HTTPStatus.OK
    assert Session.objects.get().ip_address == "203.0.113.6"


def test_the_admin_sign_in_is_throttled_with_the_same_counters(client, user_factory, settings, fail_login):
    settings.LOGIN_FAILURE_LIMIT = 3
    admin = user_factory(username="root", is_staff=True, is_superuser=True)
    for _ in range(2):
        wrong = client.post(
            "/admin/login/", {"username": "root", "password": "wrong"}, REMOTE_ADDR="10.0.0.1"
        )
        assert wrong.status_code == HTTPStatus.OK
        assert "_auth_user_id" not in client.session
    fail_login(username="root")  # a failure at /login counts for the admin's sign-in too

    right = client.post(
        "/admin/login/",
        {"username": "root", "password": "correct horse battery staple"},
        REMOTE_ADDR="10.0.0.1",
    )

    assert "_auth_user_id" not in client.session
    assert "Too many failed attempts" in right.content.decode()
    assert admin.pk  # the right password was refused while the block lasts
    from_elsewhere = client.post(
        "/admin/login/",
        {"username": "root", "password": "correct horse battery staple"},
        REMOTE_ADDR="10.0.0.2",
    )
    assert from_elsewhere.status_code == HTTPStatus.FOUND
    assert client.session["_auth_user_id"] == str(admin.pk)


@database_counters_only
def test_cleanup_deletes_old_counters(user, settings, fail_login):
    fail_login()
    ThrottleCounter.objects.update(window_start=timezone.now() - timedelta(days=1))

    call_command("cleanup_tokens", stdout=None)

    assert not ThrottleCounter.objects.exists()


@pytest.mark.parametrize(
    ("remote", "forwarded", "trusted", "expected"),
    [
        ("10.0.0.1", "1.2.3.4", [], "10.0.0.1"),  # no trusted proxy: the header is ignored
        ("10.0.0.1", "1.2.3.4", ["10.0.0.1"], "1.2.3.4"),
        ("10.0.0.1", "9.9.9.9, 1.2.3.4", ["10.0.0.0/8"], "1.2.3.4"),  # the client forged 9.9.9.9
        ("10.0.0.1", "1.2.3.4, 10.0.0.7", ["10.0.0.0/8"], "1.2.3.4"),  # two trusted hops
        ("10.0.0.1", "not-an-ip", ["10.0.0.1"], None),
        ("10.0.0.1", "", ["10.0.0.1"], "10.0.0.1"),
        ("127.0.0.1", "203.0.113.7:5555", ["127.0.0.1"], "203.0.113.7"),  # a proxy on this host, a port
        ("::ffff:10.0.0.5", "203.0.113.7", ["10.0.0.0/8"], "203.0.113.7"),  # a dual-stack socket
        ("::1", "[2001:db8::1]:443", ["::1"], "2001:db8::1"),
        ("10.0.0.1", "2001:db8::1", ["10.0.0.1"], "2001:db8::1"),
        ("", "203.0.113.7", [], None),  # a unix socket, not trusted: unknown
        ("", "203.0.113.7", ["unix"], "203.0.113.7"),
        ("", "9.9.9.9, 203.0.113.7", ["unix"], "203.0.113.7"),
    ],
)
def test_client_ip_honours_only_trusted_proxies(settings, remote, forwarded, trusted, expected):
    settings.TRUSTED_PROXIES = trusted

    assert client_ip(remote, forwarded) == expected


def test_the_counters_are_shared_by_every_server_process(live_service, live_user, password):
    """Two servers (each several processes) on one database: failures on either count for both."""
    first = live_service(LOGIN_FAILURE_LIMIT=4)
    second = live_service(LOGIN_FAILURE_LIMIT=4)

    def login(base_url, password):
        data = urllib.parse.urlencode({"username": live_user.username, "password": password}).encode()
        try:
            with urllib.request.urlopen(f"{base_url}/login", data=data, timeout=30) as response:
                return response.status, dict(response.headers)
        except urllib.error.HTTPError as e:
            json.load(e)
            return e.code, dict(e.headers)

    statuses = [login(server, "wrong")[0] for server in (first, second, first, second)]
    blocked, headers = login(first, password)
    also_blocked, _ = login(second, password)

    assert statuses == [HTTPStatus.UNAUTHORIZED] * 4
    assert blocked == also_blocked == HTTPStatus.TOO_MANY_REQUESTS
    assert int(headers["Retry-After"]) > 0


def test_with_redis_every_counter_expires(user, settings, fail_login):
    """Run under scripts/with-redis.sh; a Redis counter is never left without its expiry."""
    if not django_settings.REDIS_URL:
        pytest.skip("needs REDIS_URL")
    for _ in range(50):
        counters.increment("some counter", window=60)
    client, key = counters._redis(counters._key("some counter"))

    assert 0 < client.ttl(key) <= 60
    assert counters.current("some counter", window=60).value == 50


def test_with_redis_the_window_passes_by_itself(user, settings, fail_login, attempt):
    """Run by scripts/test.sh under scripts/with-redis.sh; skipped without Redis."""
    if not django_settings.REDIS_URL:
        pytest.skip("needs REDIS_URL")
    settings.LOGIN_FAILURE_LIMIT = 1
    settings.LOGIN_FAILURE_WINDOW_SECONDS = 1  # Redis expiries are whole seconds here
    fail_login()
    assert attempt().status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert not ThrottleCounter.objects.exists()  # counted in Redis, not in the database

    time.sleep(redis_counters_lifetime())  # nothing but Redis's own clock ends the window

    assert attempt().status_code == HTTPStatus.OK


def redis_counters_lifetime() -> float:
    """Seconds until every counter in Redis has expired: the largest PTTL, and a millisecond
    (PTTL rounds down; Redis expires a key once its clock is past the key's expiry)."""
    client, _ = counters._redis(counters._key("any counter"))
    return (max([client.pttl(key) for key in client.keys("*")] + [0]) + 1) / 1000


def test_a_name_is_used_first_once_within_its_window(db, clock):
    """The replay cache (a passkey challenge, accepted once): in the database or in Redis."""
    assert counters.first_use("a challenge", window=2)
    assert not counters.first_use("a challenge", window=2)
    assert counters.first_use("another challenge", window=2)

    if django_settings.REDIS_URL:
        time.sleep(redis_counters_lifetime())
    else:
        clock.advance(3)

    assert counters.first_use("a challenge", window=2)
    assert not counters.first_use("a challenge", window=2)
