"""The README's commands beyond the curl walk-throughs, run as written on a fresh copy of the
project: the Deploy section's steps (a new virtual environment with the runtime packages only,
the environment file, migrate, check --deploy, the first administrator, gunicorn, the health
check as a load balancer sends it), and `make superuser` for development. SQLite stands in for
PostgreSQL; interactive prompts are answered through a pseudo-terminal (pexpect)."""

import re
import secrets
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pexpect
import pytest
import requests

from tests.conftest import free_port

pytestmark = pytest.mark.own_database
PROJECT = Path(__file__).resolve().parent.parent
README = (PROJECT / "README.md").read_text()
ADMIN_PASSWORD = "a long passphrase for the first admin 42"


def section(title: str) -> str:
    start = README.index(title)
    end = README.find("\n## ", start + len(title))
    return README[start:end]


def sh_blocks(text: str) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", text, re.S)


@pytest.fixture(scope="module")
def fresh_clone(tmp_path_factory) -> Path:
    """The project's committed files, copied as a fresh clone has them (no .venv, no database)."""
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    clone = tmp_path_factory.mktemp("clone") / "authproject"
    for name in files:
        source = PROJECT / name
        if source.is_file():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, clone / name)
    return clone


def answer_createsuperuser(child: pexpect.spawn, username: str) -> None:
    child.expect("Username.*: ")
    child.sendline(username)
    child.expect("Email address: ")
    child.sendline(f"{username}@example.com")
    child.expect("Password: ")
    child.sendline(ADMIN_PASSWORD)
    child.expect(re.escape("Password (again): "))
    child.sendline(ADMIN_PASSWORD)
    child.expect("Superuser created successfully.")


def processes_in(directory: Path) -> list[str]:
    """The command lines of the processes whose working directory is `directory`."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and (proc / "cwd").resolve() == directory.resolve():
                found.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except OSError:
            continue
    return found


def is_superuser(database: Path, username: str) -> bool:
    with sqlite3.connect(database) as db:
        row = db.execute("SELECT is_superuser FROM accounts_user WHERE username = ?", (username,)).fetchone()
    return bool(row and row[0])


def test_the_deploy_steps_work_as_written(fresh_clone, tmp_path):
    deploy = section("## Deploy (gunicorn + PostgreSQL)")
    blocks = sh_blocks(deploy)
    env_block = next(block for block in blocks if block.startswith("DJANGO_DEBUG=0"))
    steps = next(block for block in blocks if "gunicorn -c gunicorn.conf.py" in block)
    health_check = next(block for block in blocks if "/healthz" in block)
    env_file = tmp_path / "authproject.env"
    database = tmp_path / "db.sqlite3"
    variables = env_block.replace("DJANGO_SECRET_KEY=...", f"DJANGO_SECRET_KEY={secrets.token_urlsafe(50)}")
    variables = re.sub(r"(?m)^DATABASE_URL=.*$", f"DATABASE_URL=sqlite:///{database}", variables)
    variables = re.sub(r"(?m)^REDIS_URL=.*$", "", variables)  # optional: counters in the database
    env_file.write_text(variables)
    port = free_port()
    script = steps.replace("/etc/authproject.env", str(env_file))
    assert "createsuperuser" in script
    assert "gunicorn -c gunicorn.conf.py authproject.wsgi" in script

    # gunicorn.conf.py binds 127.0.0.1:8000; GUNICORN_CMD_ARGS moves this one to a free port.
    child = pexpect.spawn(
        "bash",
        ["-c", "set -eu\n" + script],
        cwd=str(fresh_clone),
        env={
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": str(tmp_path),
            "GUNICORN_CMD_ARGS": f"--bind 127.0.0.1:{port}",
        },
        encoding="utf-8",
        timeout=300,
    )
    try:
        answer_createsuperuser(child, "admin")
        child.expect("Listening at", timeout=60)
        probe = subprocess.run(
            ["bash", "-c", health_check.replace("127.0.0.1:8000", f"127.0.0.1:{port}")],
            capture_output=True,
            text=True,
            timeout=30,
        )
    finally:
        child.terminate(force=True)

    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.strip() == '{"status": "ok"}'
    assert is_superuser(database, "admin")

    # /docs/ in production: its client registered as the section says, with the host's environment.
    docs_client = next(block for block in blocks if "--client-id demo-docs" in block)
    registered = subprocess.run(
        ["bash", "-c", f"set -eu; set -a; . {env_file}; set +a\n{docs_client}"],
        cwd=str(fresh_clone),
        env={"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert registered.returncode == 0, registered.stderr
    assert '"client_id": "demo-docs"' in registered.stdout
    with sqlite3.connect(database) as db:
        (uris, first_party) = db.execute(
            "SELECT redirect_uris, first_party FROM accounts_client WHERE client_id = 'demo-docs'"
        ).fetchone()
    assert "https://auth.example.com/docs/oauth2-redirect.html" in uris
    assert first_party
    # Cron, on one host: each line's command, with the section's paths pointing here.
    cron = re.search(r"```cron\n(.*?)```", deploy, re.S).group(1)
    jobs = [line.split(None, 5)[5] for line in cron.strip().splitlines()]
    assert [job.split("manage.py ", 1)[1].split()[0] for job in jobs] == [
        "cleanup_tokens",
        "rotate_signing_key",
        "prune_db_task_results",
    ]
    for job in jobs:
        ran = subprocess.run(
            [
                "sh",
                "-c",
                job.replace("/srv/authproject", str(fresh_clone)).replace(
                    "/etc/authproject.env", str(env_file)
                ),
            ],
            env={"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert ran.returncode == 0, (job, ran.stderr)

    # The systemd units (the server, the worker): systemd-analyze accepts each (every key known,
    # ExecStart executable), and the worker's command starts with the host's environment ...
    units = re.findall(r"```ini\n(.*?)```", deploy, re.S)
    assert [unit.count("ExecStart=") for unit in units] == [1, 1]
    for name, unit in zip(("authproject", "authproject-worker"), units, strict=True):
        unit_file = tmp_path / f"{name}.service"
        unit_file.write_text(
            unit.replace("/srv/authproject", str(fresh_clone)).replace("/etc/authproject.env", str(env_file))
        )
        verified = subprocess.run(
            ["systemd-analyze", "verify", str(unit_file)], capture_output=True, text=True
        )
        assert (verified.returncode, verified.stderr) == (0, ""), name
    worker = re.search(r"(?m)^ExecStart=(.*db_worker.*)$", units[1]).group(1)
    batch = subprocess.run(
        [
            "bash",
            "-c",
            f"set -a; . {env_file}; set +a; {worker.replace('/srv/authproject', str(fresh_clone))} --batch",
        ],
        cwd=str(fresh_clone),
        env={"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert batch.returncode == 0, batch.stderr
    # ... and its EnvironmentFile= reads the file as the shell does: systemd takes a line's whole
    # rest as the value (an inline comment would be part of it), so both must agree.
    by_shell = dict(
        line.split("=", 1)
        for line in subprocess.run(
            ["bash", "-c", f"set -a; . {env_file}; env -0"], capture_output=True, text=True, env={}
        ).stdout.split("\0")
        if "=" in line
    )
    for line in env_file.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith(("#", ";")):
            name, value = line.split("=", 1)
            assert by_shell[name] == value, f"systemd and the shell read {name} differently"

    installed = subprocess.run(
        [str(fresh_clone / ".venv" / "bin" / "python"), "-m", "pip", "list", "--format=freeze"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.lower()
    for tool in ("pytest", "schemathesis", "hypothesis", "ruff", "playwright"):
        assert f"\n{tool}==" not in f"\n{installed}", f"{tool} installed on a production host"


def test_make_superuser_creates_the_first_administrator_and_make_run_says_where_to_start(fresh_clone):
    child = pexpect.spawn(
        "make",
        ["superuser"],
        cwd=str(fresh_clone),
        env={"PATH": "/usr/local/bin:/usr/bin:/bin"},
        encoding="utf-8",
        timeout=300,
    )
    answer_createsuperuser(child, "dev-admin")
    child.expect(pexpect.EOF)
    child.close()

    assert child.exitstatus == 0
    assert is_superuser(fresh_clone / "db.sqlite3", "dev-admin")

    # Then `make run`, as the README's first command: it says where to start and serves with the
    # checkout's .env (DJANGO_DEBUG=1 for manage.py), written by the set-up.
    server = pexpect.spawn(
        "make",
        ["run"],
        cwd=str(fresh_clone),
        env={"PATH": "/usr/local/bin:/usr/bin:/bin"},
        encoding="utf-8",
        timeout=120,
    )
    try:
        server.expect(re.escape("API documentation: http://127.0.0.1:8000/docs/"))
        server.expect(re.escape("sign in as johndoe / secret"))
        started = server.expect(["Starting development server", "Error: That port is already in use"])
        if started == 0:
            # Sign-up is on under `make run`, and the worker beside the server prints the email.
            signed_up = requests.post(
                "http://127.0.0.1:8000/users/",
                json={
                    "username": "newcomer",
                    "email": "newcomer@example.com",
                    "password": "a newcomer's passphrase",
                },
                timeout=30,
            )
            assert signed_up.status_code == 201, signed_up.text
            server.expect(re.escape("Subject: authproject: Confirm your email address"), timeout=60)
            server.expect(r"http://127\.0\.0\.1:8000/email/confirm/\S+")
    finally:
        server.terminate(force=True)
    assert "DJANGO_DEBUG=1" in (fresh_clone / ".env").read_text().splitlines()
    assert processes_in(fresh_clone) == [], "make run left processes behind"
