import os
import signal
import socket
import subprocess
import sys
import time
from http import HTTPStatus
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings as django_settings
from django.db import connection
from rest_framework.test import APIClient
from whitenoise.middleware import WhiteNoiseMiddleware

from accounts import clock as service_clock
from accounts.keys import lifecycle, material, ring
from tests.factories import PASSWORD, UserFactory


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True, scope="session")
def _static_files_listed_once():
    """WhiteNoise lists the static files once per run and configuration, not once per test.

    Each test client builds the middleware again, and listing the ~1,700 files of the admin, DRF
    and Swagger UI costs 32 ms each time (53 s of a run). The files do not change during a run; a
    test that changes a WHITENOISE_ setting, DEBUG or STATIC_URL gets a listing of its own.
    """
    listings: dict[tuple, dict] = {}
    real = WhiteNoiseMiddleware.add_files_from_finders

    def add_files_from_finders(self):
        configuration = tuple(
            (name, repr(getattr(django_settings, name)))
            for name in dir(django_settings)
            if name.startswith("WHITENOISE_") or name in ("DEBUG", "STATIC_URL")
        )
        if configuration not in listings:
            real(self)
            listings[configuration] = dict(self.files)
        self.files.update(listings[configuration])

    patch = pytest.MonkeyPatch()
    patch.setattr(WhiteNoiseMiddleware, "add_files_from_finders", add_files_from_finders)
    yield
    patch.undo()


_pregenerated_keys: dict[str, list[dict]] = {}


@pytest.fixture(autouse=True)
def _signing_keys(request, monkeypatch):
    """Each test starts with no key ring, and gets pre-generated key pairs (RSA generation is slow).

    The n-th key a test asks for is the same in every test; each is generated once per run. A
    test with a database starts with a signing key, as a server does after its start-up.
    (Decrypting a stored key is memoized by accounts.keys.material itself, per secrets.)
    """
    handed_out: dict[str, int] = {}

    def generate(algorithm: str) -> dict:
        pool = _pregenerated_keys.setdefault(algorithm, [])
        index = handed_out.get(algorithm, 0)
        handed_out[algorithm] = index + 1
        if index == len(pool):
            pool.append(real_generate(algorithm))
        return dict(pool[index])

    real_generate = material.generate
    monkeypatch.setattr(material, "generate", generate)
    ring.reset()
    if {"db", "transactional_db"} & set(request.fixturenames):
        request.getfixturevalue("transactional_db" if "transactional_db" in request.fixturenames else "db")
        lifecycle.ensure_signing_key()
        ring.reset()
    yield
    ring.reset()


@pytest.fixture
def clock():
    """The service's clock (accounts.clock), for the test to move: `clock.advance(seconds)`, then
    `clock.now()`, `clock.time()` and `clock.monotonic()` read the moved time, as every rule
    that reads the clock does. Back to the real time after the test."""
    service_clock.reset()
    yield service_clock
    service_clock.reset()


@pytest.fixture(autouse=True)
def _fresh_redis_counters():
    """Redis is not rolled back with the test database: start each test with no counters."""
    if django_settings.REDIS_URL:
        from django.core.cache import caches

        caches["throttle"].clear()


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def password() -> str:
    """The plaintext password of every user the factory makes."""
    return PASSWORD


@pytest.fixture
def user_factory(db):
    return UserFactory


@pytest.fixture
def user(user_factory):
    return user_factory(username="johndoe", email="johndoe@example.com", full_name="John Doe")


# The password hashers of a server process: the project's own (Argon2 first). The suite's MD5
# (_fast_password_hasher) is not among them, so a server cannot check a password hashed with it.
SERVER_PASSWORD_HASHERS = list(django_settings.PASSWORD_HASHERS)


@pytest.fixture
def server_password_hashers(settings):
    """From here on, passwords are hashed as a server process hashes them (slowly)."""
    settings.PASSWORD_HASHERS = SERVER_PASSWORD_HASHERS


@pytest.fixture
def live_user(user, password, server_password_hashers):
    """`user`, with its `password` hashed so that a live server (`live_service`) can check it."""
    user.set_password(password)
    user.save()
    return user


@pytest.fixture
def login(api_client, password):
    """login(user) -> the token response body of a real POST /login."""

    def do_login(user, *, client=None):
        response = (client or api_client).post("/login", {"username": user.username, "password": password})
        assert response.status_code == HTTPStatus.OK, response.content
        return response.json()

    return do_login


@pytest.fixture
def tokens(login, user) -> dict:
    """The token response of a fresh login of `user`."""
    return login(user)


@pytest.fixture
def refresh(api_client):
    """refresh(token) -> the response of POST /token with that refresh token."""

    def do_refresh(refresh_token, *, client=None, **extra):
        return (client or api_client).post(
            "/token", {"grant_type": "refresh_token", "refresh_token": refresh_token, **extra}
        )

    return do_refresh


@pytest.fixture
def me(api_client):
    """me(access_token) -> the response of GET /users/me/ with that bearer token."""

    def do_me(access_token):
        return api_client.get("/users/me/", HTTP_AUTHORIZATION=f"Bearer {access_token}")

    return do_me


TRANSACTION_CONTROL = {"BEGIN", "BEGIN IMMEDIATE", "COMMIT", "ROLLBACK"}


@pytest.fixture
def app(db):
    """A first-party client "app" (no consent page) redirecting to https://app.example/cb."""
    from accounts.oauth.clients import Registration, register

    client, _ = register(
        Registration(
            name="Example app", redirect_uris=("https://app.example/cb",), first_party=True, client_id="app"
        )
    )
    return client


@pytest.fixture
def prepared_connection(db):
    """The test's database connection as a server process's is after its first request: on
    PostgreSQL the session lookup is prepared once per connection (accounts.models), and a query
    count is about every request after that."""
    import uuid

    from accounts.models import Session

    Session.objects.for_token(uuid.uuid4())


def data_statements(captured) -> list[str]:
    """The SQL of a query capture, less BEGIN and COMMIT (both backends log them as queries)."""
    return [query["sql"] for query in captured.captured_queries if query["sql"] not in TRANSACTION_CONTROL]


# Server processes run with DJANGO_DEBUG=0, as in production, with an https issuer.
LIVE_ISSUER = "https://auth.test"


def other_process_environment(**extra) -> dict[str, str]:
    """The environment of a server or command run by a test: this process's test database and keys."""
    return {
        **os.environ,
        "DATABASE_URL": database_url_for_other_processes(),
        "DJANGO_SECRET_KEY": django_settings.SECRET_KEY,
        "DJANGO_DEBUG": "0",
        "DJANGO_ENV_FILE": "",  # never the developer's .env (a server a test starts with DJANGO_DEBUG=1)
        "TOKEN_ISSUER": LIVE_ISSUER,
        **through_pgbouncer(),
        **{key: str(value) for key, value in extra.items()},
    }


def database_url_for_other_processes() -> str:
    """A DATABASE_URL naming the test database this test process uses: through PgBouncer when
    the run has one (scripts/with-pgbouncer.sh sets PGBOUNCER_URL), as several hosts would."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    host, port = db["HOST"], db["PORT"]
    if os.environ.get("PGBOUNCER_URL"):
        bouncer = urlsplit(os.environ["PGBOUNCER_URL"])
        host, port = bouncer.hostname, bouncer.port
    return f"postgres://{auth}@{host}:{port}/{db['NAME']}"


def through_pgbouncer() -> dict[str, str]:
    """The settings of a server process that reaches the database through PgBouncer."""
    return {"DATABASE_TRANSACTION_POOLING": "1"} if os.environ.get("PGBOUNCER_URL") else {}


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on (for a server a test starts)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def stop_gunicorn(servers) -> None:
    """Stop gunicorn servers (Popen objects started with start_new_session=True) now: their whole
    process group is killed. A test's server has nothing left to finish (its writes committed),
    and gunicorn's own quick shutdown (SIGQUIT) takes about 1.5 s a server, its graceful one
    (SIGTERM) longer: 30-odd servers a run, each stopping in a worker of its own, added up."""
    for server in servers:
        if server.poll() is None:
            assert os.getpgid(server.pid) == server.pid, "start gunicorn with start_new_session=True"
            os.killpg(server.pid, signal.SIGKILL)
    for server in servers:
        server.wait(timeout=10)


@pytest.fixture
def live_service(transactional_db):
    """live_service(port=None, **env) -> the base URL of a gunicorn server of this project (on
    `port`, or a free one).

    Several worker processes (forked from a master that loaded the project: tests/gunicorn_preload.py),
    each with several threads, on the test database; the environment
    of the server is this process's plus `env`. Servers are stopped after the test (before the
    test database goes away).
    """
    servers = []

    def start(port: int | None = None, **env) -> str:
        port = port or free_port()
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "authproject.wsgi",
                "--config",
                "python:tests.gunicorn_preload",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "4",
                "--threads",
                "5",
                "--log-level",
                "warning",
            ],
            cwd=Path(__file__).resolve().parent.parent,
            env=other_process_environment(**env),
            start_new_session=True,  # tests.conftest.stop_gunicorn kills its group if need be
        )
        servers.append(server)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert server.poll() is None, "the server exited at start-up"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return f"http://127.0.0.1:{port}"
            except OSError:
                time.sleep(0.1)
        raise AssertionError("the server did not start within 30 s")

    yield start
    stop_gunicorn(servers)


def pytest_collection_modifyitems(config, items):
    skip = pytest.mark.skip(reason="needs PostgreSQL (DATABASE_URL=postgres://...)")
    once = pytest.mark.skip(reason="tests nothing of the database: runs once, in the SQLite run")
    for item in items:
        if "postgres" in item.keywords and connection.vendor != "postgresql":
            item.add_marker(skip)
        if ("own_database" in item.keywords or "once" in item.keywords) and connection.vendor != "sqlite":
            item.add_marker(once)


# --- email: a real SMTP server on loopback, and the task worker -----------------------------------


class Inbox:
    """The messages a loopback SMTP server (aiosmtpd) received, parsed."""

    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope) -> str:  # aiosmtpd's handler hook
        import email
        import email.policy

        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((envelope.rcpt_tos, message))
        return "250 Message accepted"

    def to(self, address: str) -> list:
        return [message for recipients, message in self.messages if address in recipients]

    def text(self, message) -> str:
        return message.get_body(preferencelist=("plain",)).get_content()

    def html(self, message) -> str:
        return message.get_body(preferencelist=("html",)).get_content()

    def link(self, address: str, path: str) -> str:
        """The path (with its query) of the one link to `path`... in the newest mail to `address`."""
        import re

        (message, *_) = reversed(self.to(address))
        (url,) = set(re.findall(r"https?://\S+?" + re.escape(path) + r"[^\s\"<]*", self.text(message)))
        return urlsplit(url).path


def start_smtp(inbox: Inbox, port: int):
    from aiosmtpd.controller import Controller

    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    return controller


@pytest.fixture
def mailbox(settings):
    """A real SMTP server on a free loopback port that the service sends to; its Inbox."""
    inbox = Inbox()
    port = free_port()
    controller = start_smtp(inbox, port)
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_TIMEOUT = 5
    inbox.port = port
    yield inbox
    controller.stop()


def run_queued_tasks() -> None:
    """What `manage.py db_worker` does in production: run every task that is due, then stop.
    In the test's transaction: the worker's connection hygiene (closing a connection that is not
    in autocommit) is left out, since the test's own transaction is that connection's."""
    from unittest import mock

    from django.core.management import call_command

    with mock.patch("django_tasks_db.management.commands.db_worker.close_old_connections"):
        call_command("db_worker", "--batch", "--no-startup-delay", "--interval", "0", verbosity=0)


@pytest.fixture
def signup_enabled(settings):
    settings.SIGNUP_ENABLED = True
