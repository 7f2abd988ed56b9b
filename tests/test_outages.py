"""Outages, injected for real: the database stops and starts again, gunicorn workers are SIGKILLed,
Redis stops or freezes.

The contract: when the database does not answer, every endpoint that needs it answers 503 (`/login`,
`/token` and `/revoke` with `{"error": "temporarily_unavailable", "error_description": ...}` and
`Retry-After`), never 500, and changes nothing; as soon as the database answers again, so does the
service, with no restart.

Each test starts a real gunicorn (4 workers x 5 threads, as `live_service` does) on the test
database, and runs client "chains" against it: each logs in once, then rotates its refresh token
and calls `/users/me/` with the new access token, over and over. A chain retries a 503, or a request
that failed at the connection level (refused, reset, timed out), after 0.2 s with the same token, as
a client of the contract would; a 500 is retried too, so that what follows it is measured as well
(it still fails the test). Every call is recorded with its phase (before, during, after the fault),
and the test prints a summary of the statuses per phase and what the server logged.

No mocks: the faults are `pg_ctl stop -m fast` and `start` of the PostgreSQL server (through the
control script of scripts/with-postgres.sh), SIGKILL of gunicorn worker processes, and a
redis-server of the test's own that is shut down and started again, or frozen with SIGSTOP.
Every request has a 10 s timeout and every process started here is stopped, however a test ends.
"""

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.db import connection

from tests.conftest import other_process_environment, stop_gunicorn

ROOT = Path(__file__).resolve().parent.parent

CHAINS = 8
REQUEST_TIMEOUT = 10.0  # seconds: no request can hang a test longer
RETRY_PAUSE = 0.2  # before a retry of a 503 or a connection-level failure
PAUSE = 0.02  # between two rotations of a chain
RECOVERY_LIMIT = 5.0  # every chain succeeds again this soon after the fault ends
SUCCESSES_AFTER = 3  # rotations every chain makes after the fault ends
REDIS_OUTAGE = 4.0  # seconds; settings.REDIS_OPTIONS gives up on a request after 2 x 0.3 s
LOGIN_LATENCY_LIMIT = 5.0  # during a Redis outage; gunicorn's timeout is 30 s
AFTER = RECOVERY_LIMIT + 1.0  # seconds of traffic after the fault ends: recovery, then rotations
OAUTH_ENDPOINTS = ("/login", "/token", "/revoke")
ENDPOINTS = ("/login", "/token", "/users/me/", "/revoke")


# --- recording calls ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    who: str
    endpoint: str
    start: float
    end: float
    status: int | str  # the HTTP status, or the name of a connection-level error
    error: str | None  # the "error" member of a JSON body
    retry_after: str | None
    body: str  # its first 100 characters

    @property
    def label(self) -> str:
        return f"{self.status} {self.error}" if self.error else str(self.status)

    @property
    def retryable(self) -> bool:
        """503, a connection-level failure, or (to see what follows it) any other 5xx."""
        return isinstance(self.status, str) or self.status >= 500


class Recorder:
    def __init__(self, port: int) -> None:
        self.port = port
        self.calls: list[Call] = []
        self._lock = threading.Lock()

    def call(
        self, who: str, method: str, endpoint: str, *, data: dict | None = None, bearer: str | None = None
    ):
        """One request on a new connection: (the recorded Call, the JSON body or None)."""
        headers = {}
        body = None
        if data is not None:
            body = urlencode(data)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if bearer is not None:
            headers["Authorization"] = f"Bearer {bearer}"
        start = time.monotonic()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=REQUEST_TIMEOUT)
        try:
            conn.request(method, endpoint, body, headers)
            response = conn.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException) as e:
            call = Call(who, endpoint, start, time.monotonic(), type(e).__name__, None, None, str(e)[:100])
            parsed = None
        else:
            try:
                parsed = json.loads(raw) if raw else {}
            except ValueError:
                parsed = None
            error = parsed.get("error") if isinstance(parsed, dict) else None
            text = raw[:100].decode("utf-8", "replace")
            call = Call(
                who,
                endpoint,
                start,
                time.monotonic(),
                response.status,
                error,
                response.getheader("Retry-After"),
                text,
            )
        finally:
            conn.close()
        with self._lock:
            self.calls.append(call)
        return call, parsed


class Client(threading.Thread):
    """A client thread; `broken` is the call that ended it, if something but 200 or a retry did."""

    def __init__(self, name: str, recorder: Recorder, stop: threading.Event) -> None:
        super().__init__(name=name, daemon=True)
        self.recorder = recorder
        self.stop = stop
        self.broken: Call | None = None
        self.successes = 0  # of the call that counts for this client (a rotation, a login)

    def until_ok(self, method: str, endpoint: str, **kwargs) -> dict | None:
        """The JSON body ({} if empty) of the first 200, retrying as a client of the contract
        would; None once stopped, or when the answer is final (then recorded as `broken`)."""
        while not self.stop.is_set():
            call, body = self.recorder.call(self.name, method, endpoint, **kwargs)
            if call.status == 200:
                return body if body is not None else {}
            if not call.retryable:
                self.broken = call
                return None
            time.sleep(RETRY_PAUSE)
        return None

    def run(self) -> None:
        try:
            self.script()
        except Exception as e:  # a bug here must show in the test, not vanish
            self.broken = Call(
                self.name, "-", time.monotonic(), time.monotonic(), repr(e)[:100], None, None, ""
            )

    def script(self) -> None:
        raise NotImplementedError


class RotationChain(Client):
    """Logs in once, then: POST /token with its refresh token, GET /users/me/ with the new access token."""

    def __init__(self, name, recorder, stop, username: str, password: str) -> None:
        super().__init__(name, recorder, stop)
        self.credentials = {"username": username, "password": password}
        self.refresh_token: str | None = None

    def script(self) -> None:
        tokens = self.until_ok("POST", "/login", data=self.credentials)
        while tokens is not None:
            self.refresh_token = tokens["refresh_token"]
            tokens = self.until_ok(
                "POST", "/token", data={"grant_type": "refresh_token", "refresh_token": self.refresh_token}
            )
            if tokens is None:
                return
            self.refresh_token = tokens["refresh_token"]
            self.successes += 1
            if self.until_ok("GET", "/users/me/", bearer=tokens["access_token"]) is None:
                return
            time.sleep(PAUSE)


class LoginProbe(Client):
    """Logs in again and again; with `revoke`, revokes each new session's refresh token too."""

    def __init__(self, name, recorder, stop, username: str, password: str, *, revoke: bool = False) -> None:
        super().__init__(name, recorder, stop)
        self.credentials = {"username": username, "password": password}
        self.revoke = revoke

    def script(self) -> None:
        while not self.stop.is_set():
            tokens = self.until_ok("POST", "/login", data=self.credentials)
            if tokens is None:
                return
            self.successes += 1
            if self.revoke:
                data = {"token": tokens["refresh_token"], "token_type_hint": "refresh_token"}
                if self.until_ok("POST", "/revoke", data=data) is None:
                    return
            time.sleep(0.1)


# --- the processes ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def child_pids(pid: int) -> list[int]:
    """The live child processes of `pid` (from /proc; /proc/PID/task/*/children is not everywhere)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        state, ppid = fields[0], int(fields[1])
        if ppid == pid and state not in ("Z", "X"):
            children.append(int(stat.parent.name))
    return sorted(children)


@dataclass
class Gunicorn:
    port: int
    process: subprocess.Popen
    log: Path

    def workers(self) -> list[int]:
        return child_pids(self.process.pid)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def gunicorn(transactional_db, tmp_path):
    """gunicorn(**env) -> a Gunicorn of this project on the test database, like `live_service`
    (4 workers x 5 threads), with its master pid and its log (stdout and stderr) at hand."""
    servers: list[Gunicorn] = []

    def start(**env) -> Gunicorn:
        port = free_port()
        log = tmp_path / f"gunicorn-{port}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [
                    sys.executable, "-m", "gunicorn", "authproject.wsgi",
                    "--bind", f"127.0.0.1:{port}",
                    "--workers", "4",
                    "--threads", "5",
                    "--graceful-timeout", "5",
                    "--log-level", "warning",
                ],
                cwd=ROOT,
                env=other_process_environment(**env),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # tests.conftest.stop_gunicorn kills its group if need be
            )  # fmt: skip
        server = Gunicorn(port, process, log)
        servers.append(server)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert process.poll() is None, f"the server exited at start-up:\n{server.log_text()[-3000:]}"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                if len(server.workers()) == 4:
                    return server
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError("the server did not start within 30 s")

    yield start
    stop_gunicorn([server.process for server in servers])


class RedisServer:
    """A redis-server of the test's own on a free loopback port, keeping nothing on disk."""

    def __init__(self, directory: Path) -> None:
        self.executable = shutil.which("redis-server")
        if self.executable is None:
            pytest.fail("redis-server is not installed: run scripts/ensure-redis.sh (scripts/test.sh does)")
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.frozen = False

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.executable, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
                "--appendonly", "no", "--dir", str(self.directory), "--daemonize", "no",
                "--logfile", str(self.directory / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            assert self.process.poll() is None, "redis-server exited at start-up"
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(64).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError("redis-server did not answer within 10 s")

    def shut_down(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)

    def freeze(self) -> None:
        os.kill(self.process.pid, signal.SIGSTOP)
        self.frozen = True

    def thaw(self) -> None:
        os.kill(self.process.pid, signal.SIGCONT)
        self.frozen = False

    def close(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        if self.frozen:
            self.thaw()
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture
def redis_server(tmp_path):
    directory = tmp_path / "redis"
    directory.mkdir()
    server = RedisServer(directory)
    server.start()
    yield server
    server.close()


@pytest.fixture
def pg_control():
    """pg_control("stop" | "start"): the control script of scripts/with-postgres.sh."""
    script = os.environ.get("AUTHPROJECT_PGCTL")
    if not script:
        pytest.skip(
            "AUTHPROJECT_PGCTL is not set: this PostgreSQL server was not started by "
            "scripts/with-postgres.sh (an external DATABASE_URL), so the test cannot stop and start it"
        )

    def run(action: str) -> None:
        result = subprocess.run([script, action], capture_output=True, text=True, timeout=90)
        assert result.returncode == 0, f"pgctl {action} failed: {result.stdout}{result.stderr}"

    return run


@pytest.fixture
def users(settings, user_factory):
    """Users whose password the server processes can check (Argon2, the server's first hasher)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]
    return user_factory.create_batch(CHAINS + 2)


# --- running a scenario and judging it ----------------------------------------------------------------


@dataclass
class Outcome:
    calls: list[Call]
    fault_start: float
    fault_end: float
    clients: list[Client]
    server_log: str
    notes: list[str]

    def phase(self, call: Call) -> str:
        if call.end < self.fault_start:
            return "before"
        if call.start >= self.fault_end:
            return "after"
        return "during"

    def chains(self) -> list[RotationChain]:
        return [client for client in self.clients if isinstance(client, RotationChain)]

    def summary(self) -> str:
        lines = [f"fault: {self.fault_end - self.fault_start:.1f} s; {'; '.join(self.notes)}"]
        for phase in ("before", "during", "after"):
            calls = [call for call in self.calls if self.phase(call) == phase]
            parts = []
            for endpoint in ENDPOINTS:
                of_endpoint = [call for call in calls if call.endpoint == endpoint]
                if of_endpoint:
                    counts = Counter(call.label for call in of_endpoint)
                    slowest = max(call.end - call.start for call in of_endpoint)
                    statuses = ", ".join(f"{label} x{n}" for label, n in sorted(counts.items()))
                    parts.append(f"{endpoint} {statuses} (slowest {slowest:.2f} s)")
            lines.append(f"  {phase:6} " + ("; ".join(parts) or "no calls"))
        firsts = []
        for endpoint in ENDPOINTS:
            ends = [
                call.end - self.fault_end
                for call in self.calls
                if call.endpoint == endpoint and call.status == 200 and call.start >= self.fault_end
            ]
            if any(call.endpoint == endpoint for call in self.calls):
                firsts.append(f"{endpoint} {f'{min(ends):.2f} s' if ends else 'never'}")
        lines.append(f"  first 200 after the fault: {', '.join(firsts)}")
        per_chain = [self.recovery(chain) for chain in self.chains()]
        recovered = [r for r in per_chain if r is not None]
        lines.append(
            f"  chains succeeding after the fault: {len(recovered)}/{len(per_chain)}"
            + (f", the last one after {max(recovered):.2f} s" if recovered else "")
        )
        for client in self.clients:
            if client.broken:
                b = client.broken
                lines.append(f"  {client.name} stopped at {b.endpoint}: {b.label} {b.body!r}")
        bodies = Counter(
            (call.endpoint, call.status, call.body[:60])
            for call in self.calls
            if isinstance(call.status, str) or call.status >= 500
        )
        for (endpoint, status, body), n in bodies.most_common(6):
            lines.append(f"  x{n} {endpoint} {status}: {body!r}")
        lines.extend(f"  server: {line}" for line in server_log_digest(self.server_log))
        return "\n".join(lines)

    def recovery(self, chain: "RotationChain") -> float | None:
        """Seconds from the end of the fault to the chain's first rotation after it, if any."""
        ends = [
            call.end - self.fault_end
            for call in self.calls
            if call.who == chain.name and call.endpoint == "/token" and call.status == 200
            and call.start >= self.fault_end
        ]  # fmt: skip
        return min(ends) if ends else None

    def violations(self) -> list[str]:
        """What breaks the contract for the database and the chains (common to every fault)."""
        problems = []
        errors = Counter(
            f"{call.endpoint} {call.status}"
            for call in self.calls
            if isinstance(call.status, int) and call.status >= 500 and call.status != 503
        )
        if errors:
            problems.append(f"5xx other than 503: {dict(errors)}")
        bad_503 = Counter(
            call.endpoint
            for call in self.calls
            if call.status == 503
            and call.endpoint in OAUTH_ENDPOINTS
            and (call.error != "temporarily_unavailable" or not call.retry_after)
        )
        if bad_503:
            problems.append(f"503 without error=temporarily_unavailable and Retry-After: {dict(bad_503)}")
        for client in self.clients:
            if client.broken:
                problems.append(f"{client.name} was refused: {client.broken.endpoint} {client.broken.label}")
        for chain in self.chains():
            after = sum(
                1
                for call in self.calls
                if call.who == chain.name and call.endpoint == "/token" and call.status == 200
                and call.start >= self.fault_end
            )  # fmt: skip
            if after < SUCCESSES_AFTER:
                problems.append(f"{chain.name} rotated {after} times after the fault (< {SUCCESSES_AFTER})")
            recovery = self.recovery(chain)
            if recovery is not None and recovery > RECOVERY_LIMIT:
                problems.append(
                    f"{chain.name} first rotated {recovery:.1f} s after the fault (> {RECOVERY_LIMIT})"
                )
        return problems


def server_log_digest(log: str) -> list[str]:
    """What the server logged that matters here: 500s, exceptions, killed workers, retried rotations."""
    counts: Counter = Counter()
    for line in log.splitlines():
        line = line.strip()
        if line.startswith("Internal Server Error:"):
            counts[line] += 1
        elif "was sent SIGKILL" in line:
            counts["gunicorn: worker was sent SIGKILL"] += 1
        elif "WORKER TIMEOUT" in line:
            counts["gunicorn: WORKER TIMEOUT"] += 1
        elif '"refresh retried"' in line:
            counts["audit: refresh retried (reuse interval)"] += 1
        elif '"refresh token reuse detected"' in line:
            counts["audit: refresh token reuse detected"] += 1
        else:
            head, sep, message = line.partition(": ")
            if (
                sep
                and " " not in head
                and head.rsplit(".", 1)[-1].endswith(("Error", "Exception", "Timeout"))
            ):
                message = re.sub(r'connection to server at "[^"]*", port \d+ failed: ', "", message)
                counts[f"{head}: {message[:100]}"] += 1
    return [f"x{n} {text}" for text, n in counts.most_common(12)]


def run_scenario(
    server: Gunicorn,
    clients: list[Client],
    stop: threading.Event,
    fault: Callable[[list[str]], tuple[float, float]],
) -> Outcome:
    """Start the clients, wait until each has succeeded twice, run `fault` (it returns when the
    fault started and ended, and may add notes), go on for AFTER seconds, stop the clients."""
    notes: list[str] = []
    fault_start = fault_end = float("inf")
    for client in clients:
        client.start()
    try:
        deadline = time.monotonic() + 30
        while not all(client.successes >= 2 or client.broken for client in clients):
            assert time.monotonic() < deadline, "the clients did not get going within 30 s"
            time.sleep(0.1)
        time.sleep(1.0)
        fault_start, fault_end = fault(notes)
        time.sleep(AFTER)
    finally:
        stop.set()
        for client in clients:
            client.join(timeout=REQUEST_TIMEOUT + 5)
    assert not [client.name for client in clients if client.is_alive()], "a client did not stop"
    recorder = clients[0].recorder
    return Outcome(list(recorder.calls), fault_start, fault_end, clients, server.log_text(), notes)


def make_chains(recorder: Recorder, stop: threading.Event, users: list, password: str) -> list[RotationChain]:
    return [
        RotationChain(f"chain-{i}", recorder, stop, user.username, password)
        for i, user in enumerate(users[:CHAINS])
    ]


def report(name: str, outcome: Outcome) -> str:
    text = f"\n=== {name}\n{outcome.summary()}"
    print(text)
    return text


def assert_sessions_unharmed(recorder: Recorder, chains: list[RotationChain]) -> None:
    """Nothing was lost: each chain's refresh token still rotates, and the new access token opens
    /users/me/ (its session is active, and was not revoked as a reuse)."""
    problems = []
    for chain in chains:
        data = {"grant_type": "refresh_token", "refresh_token": chain.refresh_token}
        call, tokens = recorder.call(f"{chain.name} (end)", "POST", "/token", data=data)
        if call.status != 200:
            problems.append(f"{chain.name}: its refresh token no longer rotates: {call.label} {call.body!r}")
            continue
        call, _ = recorder.call(f"{chain.name} (end)", "GET", "/users/me/", bearer=tokens["access_token"])
        if call.status != 200:
            problems.append(f"{chain.name}: /users/me/ {call.label} {call.body!r}")
    assert not problems, problems


# --- the tests ------------------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.alone  # it stops the PostgreSQL server that the other workers' tests use
def test_rotation_chains_survive_a_database_restart_without_500s(gunicorn, pg_control, users, password):
    """PostgreSQL stops (`pg_ctl stop -m fast`) for 4 s while 8 chains rotate and a probe logs in
    and revokes; then it starts again. Every answer needing the database is 503 with the OAuth
    body and Retry-After (never 500), every chain goes on with the same refresh token (no
    invalid_grant: REFRESH_TOKEN_REUSE_INTERVAL_SECONDS is the default, 0, so a 503 that had
    spent its token would show as reuse) and rotates again within 5 s of the database's return.

    The server re-reads its signing keys every second (SIGNING_KEYS_RELOAD_SECONDS=1), as every
    process does in an outage longer than the default 30 s; Redis is off (counters in the database).
    """
    server = gunicorn(REDIS_URL="", SIGNING_KEYS_RELOAD_SECONDS=1)
    recorder, stop = Recorder(server.port), threading.Event()
    probe = LoginProbe("login+revoke", recorder, stop, users[CHAINS].username, password, revoke=True)
    chains = make_chains(recorder, stop, users, password)

    def stop_the_database(notes: list[str]) -> tuple[float, float]:
        start = time.monotonic()
        pg_control("stop")
        try:
            notes.append(f"pg_ctl stop took {time.monotonic() - start:.2f} s")
            time.sleep(4.0)
        finally:
            restart = time.monotonic()
            pg_control("start")
            end = time.monotonic()
            notes.append(f"pg_ctl start took {end - restart:.2f} s")
            connection.close()  # this process's connection died with the server
        return start, end

    try:
        outcome = run_scenario(server, [*chains, probe], stop, stop_the_database)
    finally:
        connection.close()
    summary = report("database stopped and started", outcome)

    problems = outcome.violations()
    if not any(call.status == 200 and call.start >= outcome.fault_end for call in recorder.calls
               if call.endpoint in ("/login", "/revoke")):  # fmt: skip
        problems.append("the login+revoke probe never succeeded after the fault")
    assert not problems, "\n".join(problems) + summary
    assert_sessions_unharmed(recorder, chains)


@pytest.mark.postgres
def test_rotation_chains_survive_sigkilled_workers(gunicorn, users, password):
    """Three gunicorn workers are killed with SIGKILL, one every 2 s, while 8 chains rotate.

    A killed worker can take with it the response of a rotation that had already committed: the
    client sees a reset connection and retries with the same refresh token. That is what
    REFRESH_TOKEN_REUSE_INTERVAL_SECONDS is for (a retry of the parent within N seconds gets the
    same successor), so the server runs with REFRESH_TOKEN_REUSE_INTERVAL_SECONDS=30. No 500, no
    invalid_grant, every chain rotates again within 5 s of the last kill.
    """
    server = gunicorn(REDIS_URL="", REFRESH_TOKEN_REUSE_INTERVAL_SECONDS=30)
    recorder, stop = Recorder(server.port), threading.Event()
    chains = make_chains(recorder, stop, users, password)

    def kill_workers(notes: list[str]) -> tuple[float, float]:
        start = time.monotonic()
        killed = []
        for round_ in range(3):
            workers = server.workers()
            victim = workers[round_ % len(workers)]
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)
            end = time.monotonic()
            deadline = end + 10
            while victim in server.workers() or len(server.workers()) < 4:
                assert time.monotonic() < deadline, "gunicorn did not replace a killed worker within 10 s"
                time.sleep(0.05)
            if round_ < 2:
                time.sleep(max(0.0, end + 2.0 - time.monotonic()))
        notes.append(f"killed workers {killed}")
        return start, end

    outcome = run_scenario(server, chains, stop, kill_workers)
    summary = report("gunicorn workers SIGKILLed", outcome)

    problems = outcome.violations()
    assert not problems, "\n".join(problems) + summary
    assert_sessions_unharmed(recorder, chains)


@pytest.mark.once  # Redis's outage, whatever the database
@pytest.mark.parametrize("outage", ["shut down", "frozen"])
def test_logins_answer_quickly_while_redis_is_out_and_succeed_once_it_is_back(
    gunicorn, redis_server, users, password, outage
):
    """Login-throttling counters live in Redis (REDIS_URL). Redis is shut down and started again on
    the same port, or frozen with SIGSTOP (it accepts connections but never answers) and thawed,
    for REDIS_OUTAGE seconds (several times the Redis client's 0.3 s timeout and one retry), while 8 chains rotate and two probes log in again and again.

    During the outage every login answers within 5 s (gunicorn's timeout is 30 s), either 200 or
    503 with the OAuth body and Retry-After, never 500 or HTML; rotation chains (which touch no
    counter when they succeed) keep rotating all along. Once Redis is back, logins succeed again
    within 5 s, and every login from then on does.
    """
    server = gunicorn(REDIS_URL=redis_server.url)
    recorder, stop = Recorder(server.port), threading.Event()
    chains = make_chains(recorder, stop, users, password)
    probes = [
        LoginProbe(f"login-{i}", recorder, stop, users[CHAINS + i].username, password) for i in range(2)
    ]

    def interrupt_redis(notes: list[str]) -> tuple[float, float]:
        start = time.monotonic()
        if outage == "shut down":
            redis_server.shut_down()
            try:
                time.sleep(REDIS_OUTAGE)
            finally:
                redis_server.start()  # the same port
        else:
            redis_server.freeze()
            try:
                time.sleep(REDIS_OUTAGE)
            finally:
                redis_server.thaw()
        notes.append(f"Redis {outage}")
        return start, time.monotonic()

    outcome = run_scenario(server, [*chains, *probes], stop, interrupt_redis)
    summary = report(f"Redis {outage}", outcome)

    problems = outcome.violations()
    logins = [call for call in outcome.calls if call.endpoint == "/login"]
    slow = [
        call
        for call in logins
        if outcome.phase(call) == "during" and call.end - call.start > LOGIN_LATENCY_LIMIT
    ]
    if slow:
        slowest = max(call.end - call.start for call in slow)
        problems.append(
            f"{len(slow)} logins during the outage took over {LOGIN_LATENCY_LIMIT} s (slowest {slowest:.1f} s)"
        )
    for chain in chains:
        if not any(
            call.who == chain.name and call.endpoint == "/token" and call.status == 200
            and call.start >= outcome.fault_start and call.end <= outcome.fault_end
            for call in outcome.calls
        ):  # fmt: skip
            problems.append(f"{chain.name} did not rotate during the Redis outage")
    back = [call for call in logins if call.start >= outcome.fault_end and call.status == 200]
    if not back or min(call.end for call in back) - outcome.fault_end > RECOVERY_LIMIT:
        problems.append(f"no login succeeded within {RECOVERY_LIMIT} s of Redis's return")
    late_failures = Counter(
        call.label
        for call in logins
        if call.start >= outcome.fault_end + RECOVERY_LIMIT and call.status != 200
    )
    if late_failures:
        problems.append(
            f"logins still failing {RECOVERY_LIMIT} s after Redis's return: {dict(late_failures)}"
        )
    assert not problems, "\n".join(problems) + summary
    assert_sessions_unharmed(recorder, chains)
