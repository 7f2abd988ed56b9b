"""Start and stop a gunicorn server of this project for a benchmark (no test framework)."""

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def manage(*args: str, env: dict[str, str]) -> None:
    subprocess.run([PYTHON, "manage.py", *args], cwd=PROJECT, env=env, check=True, stdout=subprocess.DEVNULL)


@contextlib.contextmanager
def gunicorn(
    env: dict[str, str], *, workers: int, log: Path, port: int | None = None, wsgi: str = "authproject.wsgi"
) -> Iterator[tuple[str, subprocess.Popen]]:
    """Serve the project on 127.0.0.1 with `workers` sync workers, its output in `log`;
    yield (base URL, process)."""
    port = port or free_port()
    log_file = open(log, "ab")  # noqa: SIM115 (closed below, after the server)
    server = subprocess.Popen(
        [
            PYTHON,
            "-m",
            "gunicorn",
            "-c",
            "gunicorn.conf.py",
            wsgi,
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--access-logfile",
            "/dev/null",
            "--error-logfile",
            "-",
            "--log-level",
            "warning",
        ],
        cwd=PROJECT,
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"gunicorn exited at start-up; see {log}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("gunicorn did not start within 60 s") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}", server
    finally:
        server.terminate()
        server.wait(timeout=30)
        log_file.close()


def base_env(**extra: str) -> dict[str, str]:
    """Production-like settings: DEBUG off, an https issuer, generous throttling for load."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "TOKEN_", "ACCESS_TOKEN"))
    }
    return {
        **env,
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "benchmark-only-secret-key-" + "x" * 40,
        "TOKEN_ISSUER": "https://bench.invalid",
        "LOGIN_FAILURE_LIMIT": "1000000",
        "IP_FAILURE_LIMIT": "1000000",
        "DJANGO_LOG_LEVEL": "WARNING",
        **extra,
    }
