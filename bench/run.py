#!/usr/bin/env python3
"""`make bench`: what each request costs, against a floor and against stock simplejwt.

Serves the project with gunicorn (one sync worker per core, persistent database connections) on
the PostgreSQL server named by DATABASE_URL (`make bench` starts a throwaway one), drives it with
wrk on loopback, and measures for each endpoint: requests/s, p50 and p99 latency at concurrency 8,
and the CPU time of the server's and PostgreSQL's processes (read from /proc) per successful
request, so that the figures survive a noisy machine. Writes a markdown table and a JSON file
under bench/results/.

    PG_DURABLE=1 scripts/with-postgres.sh scripts/with-pgbouncer.sh .venv/bin/python bench/run.py \
        [--seconds 15] [--populate N] [--quick]

PostgreSQL keeps its durability defaults (make bench sets PG_DURABLE=1). With PGBOUNCER_URL set
(scripts/with-pgbouncer.sh), /users/me/ and the rotation are measured through PgBouncer too. With
--populate N, the database is then filled with N sessions (each with a spent ancestor) and N
expired records (bench/populate.py), the same endpoints are measured again, and cleanup_tokens
deletes the expired ones while rotations go on.
"""

import argparse
import base64
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

sys.path.insert(0, str(Path(__file__).resolve().parent))
from server import PROJECT, PYTHON, base_env, gunicorn, manage

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
CONCURRENCY = 8
WRK = PROJECT / "bench" / "wrk"
RESULTS = PROJECT / "bench" / "results"
PASSWORD = "bench password"
CODES = 15000  # authorization codes made per client: more than one run of exchanges spends


# --- CPU of process trees, from /proc -----------------------------------------------------------


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()  # fields from the 3rd on (after "pid (comm)")


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (fields := _stat(int(entry))) is not None:
            tree.setdefault(int(fields[1]), []).append(int(entry))
    return tree


def tree_cpu_seconds(root: int) -> float:
    """CPU time (user + system) of `root`, its live descendants, and the children it has reaped."""
    tree, total, stack = _children(), 0.0, [root]
    while stack:
        pid = stack.pop()
        fields = _stat(pid)
        if fields is None:
            continue
        utime, stime, cutime, cstime = (int(value) for value in fields[11:15])
        total += utime + stime + (cutime + cstime if pid == root else 0)
        stack.extend(tree.get(pid, []))
    return total / CLOCK_TICKS


def postgres_pid() -> int:
    return int((Path(os.environ["PGDATA"]) / "postmaster.pid").read_text().split()[0])


def pgbouncer_pid() -> int | None:
    pidfile = os.environ.get("PGBOUNCER_PIDFILE")
    return int(Path(pidfile).read_text().split()[0]) if pidfile and Path(pidfile).exists() else None


# --- running wrk ----------------------------------------------------------------------------------


def wrk(
    base_url: str, script: str, args: list[str], *, seconds: int, headers: dict[str, str] | None = None
) -> dict:
    """Run wrk; return its JSON summary plus its own CPU time."""
    command = ["wrk", "-t", str(CONCURRENCY), "-c", str(CONCURRENCY), "-d", f"{seconds}s", "--timeout", "10s"]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    command += ["-s", str(WRK / script), base_url, "--", *args]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    if status != 0:
        raise RuntimeError(f"wrk failed: {output}")
    summary = json.loads(output.strip().splitlines()[-1])
    summary["wrk_cpu_s"] = usage.ru_utime + usage.ru_stime
    return summary


def measure(name: str, server_pid: int, run, *, pooler: int | None = None) -> dict:
    """Run the load `run()` and attach the server's and PostgreSQL's CPU per successful request
    (PgBouncer's counted with PostgreSQL's when `pooler` is its pid)."""

    def database_cpu() -> float:
        return tree_cpu_seconds(postgres_pid()) + (tree_cpu_seconds(pooler) if pooler else 0.0)

    server_before, pg_before = tree_cpu_seconds(server_pid), database_cpu()
    summary = run()
    server_cpu = tree_cpu_seconds(server_pid) - server_before
    pg_cpu = database_cpu() - pg_before
    ok = summary.get("chained_ok", summary["requests"] - summary["failed"])
    seconds = summary["duration_us"] / 1e6
    result = {
        "endpoint": name,
        "requests": summary["requests"],
        "ok": ok,
        "failed": summary["requests"] - ok,
        "rps": ok / seconds,
        "p50_ms": summary["p50_us"] / 1000,
        "p99_ms": summary["p99_us"] / 1000,
        "server_cpu_ms": 1000 * server_cpu / max(ok, 1),
        "postgres_cpu_ms": 1000 * pg_cpu / max(ok, 1),
        "cpu_ms": 1000 * (server_cpu + pg_cpu) / max(ok, 1),
        "wrk_cpu_ms": 1000 * summary["wrk_cpu_s"] / max(summary["requests"], 1),
    }
    print(
        f"{name:<28} {result['rps']:8.1f} req/s  p50 {result['p50_ms']:7.2f} ms  p99 {result['p99_ms']:7.2f} ms  "
        f"cpu {result['cpu_ms']:6.3f} ms/req (server {result['server_cpu_ms']:.3f}, pg {result['postgres_cpu_ms']:.3f})"
        f"  failed {result['failed']}",
        flush=True,
    )
    return result


# --- HTTP helpers ---------------------------------------------------------------------------------


def post_form(url: str, data: str) -> dict:
    with urllib.request.urlopen(url, data=data.encode(), timeout=60) as response:
        return json.load(response)


def login_tokens(base_url: str, path: str, count: int) -> list[dict]:
    return [
        post_form(f"{base_url}{path}", f"username=bench&password={PASSWORD.replace(' ', '+')}")
        for _ in range(count)
    ]


# --- the benchmark --------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=15, help="length of each run (10 to 20)")
    parser.add_argument("--access-algorithm", default="RS256", help="ACCESS_TOKEN_ALGORITHM of the server")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="only the floor, /users/me/, /token (rotation, client credentials, device code) and /login, ours and stock "
        "simplejwt's; no other runs",
    )
    parser.add_argument(
        "--populate",
        type=int,
        default=0,
        metavar="N",
        help="then fill the database with N sessions and N expired records, measure again, and clean up",
    )
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres") or "PGDATA" not in os.environ:
        sys.exit(
            "run through scripts/with-postgres.sh (make bench): it needs a PostgreSQL server and its PGDATA"
        )
    if shutil.which("wrk") is None:
        sys.exit("wrk not found: install the Debian package wrk (make bench does)")
    workers = os.cpu_count() or 1
    env = base_env(
        DJANGO_SETTINGS_MODULE="bench.settings",
        DATABASE_URL=os.environ["DATABASE_URL"],
        DATABASE_CONN_MAX_AGE="600",
        ACCESS_TOKEN_ALGORITHM=args.access_algorithm,
    )
    manage("migrate", "--noinput", env=env)
    django_shell(
        env,
        "from accounts.models import User; "
        f"User.objects.filter(username='bench').exists() or User.objects.create_user(username='bench', email='bench@example.com', password='{PASSWORD}')",
    )
    authz = json.loads(django_shell(env, f"from bench.fixtures import prepare; print(prepare({CODES}))"))
    results: list[dict] = []
    report_extra: dict = {}
    seconds = args.seconds
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "server.log"
        with gunicorn(env, workers=workers, log=log, wsgi="bench.wsgi") as (base_url, server):
            ours = login_tokens(base_url, "/login", CONCURRENCY)
            stock = login_tokens(base_url, "/bench/simplejwt/token", CONCURRENCY)
            ours_file, stock_file = Path(tmp) / "ours.txt", Path(tmp) / "stock.txt"
            ours_file.write_text("\n".join(body["refresh_token"] for body in ours) + "\n")
            stock_file.write_text("\n".join(body["refresh"] for body in stock) + "\n")
            bearer = {"Authorization": f"Bearer {ours[0]['access_token']}"}
            stock_bearer = {"Authorization": f"Bearer {stock[0]['access']}"}
            login_body = f"username=bench&password={PASSWORD.replace(' ', '+')}"
            # Each code is exchanged once: one /token body per line, spent by bench/wrk/bodies.lua.
            code_files = {}
            for name, codes in authz["codes"].items():
                own = {"client_id": name} if name == "bench-app" else {}  # the public client names itself
                code_files[name] = Path(tmp) / f"codes-{name}.txt"
                code_files[name].write_text(
                    "".join(
                        urllib.parse.urlencode(
                            {
                                "grant_type": "authorization_code",
                                "code": code,
                                "redirect_uri": authz["redirect_uri"],
                                "code_verifier": authz["verifier"],
                                **own,
                            }
                        )
                        + "\n"
                        for code in codes
                    )
                )
            device_file = Path(tmp) / "device-codes.txt"
            device_file.write_text(
                "".join(
                    urllib.parse.urlencode(
                        {
                            "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
                            "device_code": code,
                            "client_id": "bench-tv",
                        }
                    )
                    + "\n"
                    for code in authz["device_codes"]
                )
            )
            # DPoP: sessions of bench-own bound to one key; each request gets a proof of its own.
            dpop_key = ec.generate_private_key(ec.SECP256R1())
            own_codes = authz["codes"]["bench-own"]
            bound = own_sessions(base_url, env["TOKEN_ISSUER"], dpop_key, own_codes[: CONCURRENCY + 1], authz)
            unbound = own_sessions(base_url, env["TOKEN_ISSUER"], None, own_codes[CONCURRENCY + 1 :], authz)
            bound_access = bound[0]["access_token"]
            bound_chain_file, proofs_file = Path(tmp) / "dpop-chain.txt", Path(tmp) / "proofs.txt"
            bound_chain_file.write_text(
                "\n".join(s["refresh_token"] for s in bound[1 : CONCURRENCY + 1]) + "\n"
            )
            public_chain_file = Path(tmp) / "public-chain.txt"
            public_chain_file.write_text("\n".join(s["refresh_token"] for s in unbound[:CONCURRENCY]) + "\n")

            def with_proofs(htm: str, path: str, per_second: int, run, access_token: str | None = None):
                def go():
                    proofs_file.write_text(
                        dpop_proofs(
                            dpop_key,
                            htm=htm,
                            htu=env["TOKEN_ISSUER"] + path,
                            count=per_second * seconds,
                            access_token=access_token,
                        )
                    )
                    return run()

                return go

            server_secret = authz["clients"]["bench-server"]["client_secret"]
            basic = base64.b64encode(f"bench-server:{server_secret}".encode()).decode()
            signer_file = Path(tmp) / "assertions.txt"
            signer_file.write_text(assertion_bodies(authz["signer"], env["TOKEN_ISSUER"], CODES))
            machine_basic = base64.b64encode(
                f"bench-machine:{authz['machine']['client_secret']}".encode()
            ).decode()
            authorize_path = "/authorize?" + urllib.parse.urlencode(
                {
                    "response_type": "code",
                    "client_id": "bench-app",
                    "redirect_uri": authz["redirect_uri"],
                    "scope": "openid profile",
                    "state": "bench",
                    "code_challenge": authz["challenge"],
                    "code_challenge_method": "S256",
                }
            )
            runs = [
                (
                    "floor (bare DRF view)",
                    lambda: wrk(base_url, "report.lua", ["GET", "/bench/floor"], seconds=seconds),
                ),
                (
                    "GET /users/me/",
                    lambda: wrk(
                        base_url, "report.lua", ["GET", "/users/me/"], seconds=seconds, headers=bearer
                    ),
                ),
                (
                    "POST /token (rotation)",
                    lambda: wrk(
                        base_url,
                        "chain.lua",
                        [str(ours_file), "/token", "ours", "refresh_token"],
                        seconds=seconds,
                    ),
                ),
                (
                    "GET /users/me/ (DPoP)",
                    with_proofs(
                        "GET",
                        "/users/me/",
                        3000,
                        lambda: wrk(
                            base_url,
                            "proofs.lua",
                            [str(proofs_file), "/users/me/"],
                            seconds=seconds,
                            headers={"Authorization": f"DPoP {bound_access}"},
                        ),
                        access_token=bound_access,
                    ),
                ),
                (
                    "POST /token (rotation, public client)",
                    lambda: wrk(
                        base_url,
                        "chain.lua",
                        [str(public_chain_file), "/token", "public", "refresh_token", "", "bench-own"],
                        seconds=seconds,
                    ),
                ),
                (
                    "POST /token (rotation, DPoP)",
                    with_proofs(
                        "POST",
                        "/token",
                        1500,
                        lambda: wrk(
                            base_url,
                            "chain.lua",
                            [
                                str(bound_chain_file),
                                "/token",
                                "public",
                                "refresh_token",
                                str(proofs_file),
                                "bench-own",
                            ],
                            seconds=seconds,
                        ),
                    ),
                ),
                (
                    "GET /authorize (signed in, consented)",
                    lambda: wrk(
                        base_url,
                        "report.lua",
                        ["GET", authorize_path],
                        seconds=seconds,
                        headers={"Cookie": authz["session_cookie"]},
                    ),
                ),
                (
                    "POST /token (code, public)",
                    lambda: wrk(
                        base_url,
                        "bodies.lua",
                        [str(code_files["bench-app"]), "/token"],
                        seconds=seconds,
                    ),
                ),
                (
                    "POST /token (code, confidential)",
                    lambda: wrk(
                        base_url,
                        "bodies.lua",
                        [str(code_files["bench-server"]), "/token"],
                        seconds=seconds,
                        headers={"Authorization": f"Basic {basic}"},
                    ),
                ),
                (
                    "POST /token (device code)",
                    lambda: wrk(base_url, "bodies.lua", [str(device_file), "/token"], seconds=seconds),
                ),
                (
                    "POST /token (client credentials)",
                    lambda: wrk(
                        base_url,
                        "report.lua",
                        ["POST", "/token", "grant_type=client_credentials"],
                        seconds=seconds,
                        headers={"Authorization": f"Basic {machine_basic}"},
                    ),
                ),
                (
                    "POST /token (private_key_jwt, client credentials)",
                    lambda: wrk(base_url, "bodies.lua", [str(signer_file), "/token"], seconds=seconds),
                ),
                (
                    "POST /login",
                    lambda: wrk(base_url, "report.lua", ["POST", "/login", login_body], seconds=seconds),
                ),
                (
                    "stock simplejwt GET me",
                    lambda: wrk(
                        base_url,
                        "report.lua",
                        ["GET", "/bench/simplejwt/me"],
                        seconds=seconds,
                        headers=stock_bearer,
                    ),
                ),
                (
                    "stock simplejwt refresh",
                    lambda: wrk(
                        base_url,
                        "chain.lua",
                        [str(stock_file), "/bench/simplejwt/refresh", "stock", "refresh"],
                        seconds=seconds,
                    ),
                ),
                (
                    "stock simplejwt login",
                    lambda: wrk(
                        base_url,
                        "report.lua",
                        ["POST", "/bench/simplejwt/token", login_body],
                        seconds=seconds,
                    ),
                ),
            ]
            if args.quick:
                runs = [
                    run
                    for run in runs
                    if run[0].startswith(
                        (
                            "floor",
                            "GET /users",
                            "POST /token (rotation)",
                            "POST /token (client credentials)",
                            "POST /token (device code)",
                            "GET /users/me/ (DPoP)",
                            "POST /token (rotation, DPoP)",
                            "POST /token (rotation, public client)",
                            "POST /token (private_key_jwt",
                            "POST /login",
                            "stock",
                        )
                    )
                ]
            for name, run in runs:
                results.append(measure(name, server.pid, run))
            if args.populate:
                print(f"populating: {populate(env, args.populate)}", flush=True)
                label = f"{args.populate:,} sessions"
                # A new session: the login run's logins revoked the oldest (SESSIONS_PER_USER_MAX).
                fresh = {"Authorization": f"Bearer {login_tokens(base_url, '/login', 1)[0]['access_token']}"}
                results.append(
                    measure(
                        f"GET /users/me/ ({label})",
                        server.pid,
                        lambda: wrk(
                            base_url, "report.lua", ["GET", "/users/me/"], seconds=seconds, headers=fresh
                        ),
                    )
                )
                results.append(
                    rotation_row(
                        f"POST /token (rotation) ({label})", base_url, server.pid, tmp, seconds=seconds
                    )
                )
                report_extra["cleanup"] = cleanup_run(env, base_url)
            single = 0.0 if args.quick else scale_run(base_url, None, tmp, seconds=10)
        if os.environ.get("PGBOUNCER_URL"):
            pooled = {
                **env,
                "DATABASE_URL": os.environ["PGBOUNCER_URL"],
                "DATABASE_TRANSACTION_POOLING": "1",
            }
            with gunicorn(pooled, workers=workers, log=log, wsgi="bench.wsgi") as (base_url, server):
                token = login_tokens(base_url, "/login", 1)[0]
                headers = {"Authorization": f"Bearer {token['access_token']}"}
                results.append(
                    measure(
                        "GET /users/me/ via PgBouncer",
                        server.pid,
                        lambda: wrk(
                            base_url, "report.lua", ["GET", "/users/me/"], seconds=seconds, headers=headers
                        ),
                        pooler=pgbouncer_pid(),
                    )
                )
                results.append(
                    rotation_row(
                        "POST /token (rotation) via PgBouncer",
                        base_url,
                        server.pid,
                        tmp,
                        seconds=seconds,
                        pooler=pgbouncer_pid(),
                    )
                )
        if not args.quick:
            for algorithm in ("ES256", "EdDSA"):
                if algorithm == args.access_algorithm:
                    continue
                signed = {**env, "ACCESS_TOKEN_ALGORITHM": algorithm}
                with gunicorn(signed, workers=workers, log=log, wsgi="bench.wsgi") as (base_url, server):
                    results.append(
                        rotation_row(
                            f"POST /token (rotation, {algorithm})", base_url, server.pid, tmp, seconds=seconds
                        )
                    )
        report_extra["password_hash"] = password_hash_cost(env)
        double = 0.0
        if not args.quick:
            with (
                gunicorn(env, workers=workers, log=log, wsgi="bench.wsgi") as (first, _),
                gunicorn(env, workers=workers, log=log, wsgi="bench.wsgi") as (second, _),
            ):
                double = scale_run(first, second, tmp, seconds=10)
    floor = results[0]["cpu_ms"]
    for result in results:
        result["cpu_vs_floor"] = result["cpu_ms"] / floor
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "workers": workers,
        "concurrency": CONCURRENCY,
        "seconds_per_run": seconds,
        "results": results,
        "access_token_algorithm": args.access_algorithm,
        "postgres_settings": postgres_settings(),
        "populated": args.populate,
        **report_extra,
        "scale": {
            "one_instance_rps": single,
            "two_instances_rps": double,
            "ratio": double / single if single else None,
        },
    }
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (RESULTS / f"bench-{stamp}.json").write_text(json.dumps(report, indent=2) + "\n")
    table = markdown(report)
    (RESULTS / f"bench-{stamp}.md").write_text(table)
    print("\n" + table)


def dpop_proofs(key, *, htm: str, htu: str, count: int, access_token: str | None = None) -> str:
    """`count` DPoP proofs (RFC 9449) of `key` for `htm` `htu` (and the token's `ath`), one per
    line: each jti is accepted once, so every request carries its own, signed here before the
    run as the client would."""
    jwk = json.loads(ECAlgorithm.to_jwk(key.public_key()))
    head = {"typ": "dpop+jwt", "jwk": jwk}
    ath = {}
    if access_token is not None:
        digest = hashlib.sha256(access_token.encode()).digest()
        ath = {"ath": base64.urlsafe_b64encode(digest).rstrip(b"=").decode()}
    now = int(time.time())
    return "".join(
        jwt.encode(
            {"jti": uuid.uuid4().hex, "htm": htm, "htu": htu, "iat": now, **ath},
            key,
            algorithm="ES256",
            headers=head,
        )
        + "\n"
        for _ in range(count)
    )


def own_sessions(base_url: str, issuer: str, key, codes: list[str], authz: dict) -> list[dict]:
    """Token responses of bench-own's `codes`, each exchanged with a DPoP proof of `key` (sessions
    whose tokens are bound to it, a public client's refresh tokens too), or without one (None)."""
    sessions = []
    for code in codes:
        body = urllib.parse.urlencode(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": authz["redirect_uri"],
                "code_verifier": authz["verifier"],
                "client_id": "bench-own",
            }
        ).encode()
        headers = (
            {"DPoP": dpop_proofs(key, htm="POST", htu=f"{issuer}/token", count=1).strip()} if key else {}
        )
        request = urllib.request.Request(f"{base_url}/token", data=body, headers=headers)
        with urllib.request.urlopen(request, timeout=10) as response:
            sessions.append(json.load(response))
    assert all(session["token_type"] == ("DPoP" if key else "bearer") for session in sessions)
    return sessions


def assertion_bodies(signer: dict, issuer: str, count: int) -> str:
    """`count` /token bodies of the client credentials grant, each with its own private_key_jwt
    assertion (a jti is accepted once), signed here, before the run, as the client would."""
    now = int(time.time())
    lines = []
    for _ in range(count):
        claims = {
            "iss": signer["client_id"],
            "sub": signer["client_id"],
            "aud": f"{issuer}/token",
            "iat": now,
            "exp": now + 3000,
            "jti": uuid.uuid4().hex,
        }
        assertion = jwt.encode(claims, signer["private_key_pem"], algorithm="ES256", headers={"kid": "bench"})
        lines.append(
            "grant_type=client_credentials&client_assertion_type="
            + urllib.parse.quote("urn:ietf:params:oauth:client-assertion-type:jwt-bearer", safe="")
            + f"&client_assertion={assertion}"
        )
    return "\n".join(lines) + "\n"


def rotation_row(
    name: str, base_url: str, server_pid: int, tmp: str, *, seconds: int, pooler: int | None = None
) -> dict:
    """Rotations chained by wrk from fresh sessions of this server."""
    tokens = login_tokens(base_url, "/login", CONCURRENCY)
    path = Path(tmp) / f"chain-{abs(hash(name))}.txt"
    path.write_text("\n".join(body["refresh_token"] for body in tokens) + "\n")
    return measure(
        name,
        server_pid,
        lambda: wrk(base_url, "chain.lua", [str(path), "/token", "ours", "refresh_token"], seconds=seconds),
        pooler=pooler,
    )


def django_shell(env: dict, code: str) -> str:
    """Run `code` in `manage.py shell` with `env`; return what it printed."""
    return subprocess.run(
        [PYTHON, "manage.py", "shell", "-v", "0", "-c", code],
        cwd=PROJECT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def populate(env: dict, n: int) -> dict:
    started = time.monotonic()
    output = django_shell(env, f"from bench.populate import populate; print(populate({n}))")
    seconds = round(time.monotonic() - started, 1)
    # What follows such a load in PostgreSQL (autovacuum, the checkpoint of millions of new rows)
    # would otherwise be charged to the requests measured next: done and waited for here.
    subprocess.run(["psql", os.environ["DATABASE_URL"], "-q", "-c", "VACUUM ANALYZE"], check=True)
    subprocess.run(["psql", os.environ["DATABASE_URL"], "-q", "-c", "CHECKPOINT"], check=True)
    busy = "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'"
    for _ in range(120):
        workers = subprocess.run(
            ["psql", os.environ["DATABASE_URL"], "-At", "-c", busy],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        if workers == "0":
            break
        time.sleep(1)
    return {"rows": output.strip(), "seconds": seconds}


def cleanup_run(env: dict, base_url: str) -> dict:
    """cleanup_tokens on the populated database, its time and peak memory, while two clients
    keep rotating their refresh tokens (counted: a failed or slow rotation shows a lock)."""
    chains = [body["refresh_token"] for body in login_tokens(base_url, "/login", 2)]
    rotations = {"ok": 0, "failed": 0, "slowest_ms": 0.0}
    stop = threading.Event()

    def rotate(index: int) -> None:
        while not stop.is_set():
            started = time.monotonic()
            try:
                body = post_form(
                    f"{base_url}/token", f"grant_type=refresh_token&refresh_token={chains[index]}"
                )
                chains[index] = body["refresh_token"]
                rotations["ok"] += 1
            except (urllib.error.URLError, KeyError, ValueError):
                rotations["failed"] += 1
            rotations["slowest_ms"] = max(rotations["slowest_ms"], 1000 * (time.monotonic() - started))

    threads = [threading.Thread(target=rotate, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    started = time.monotonic()
    process = subprocess.Popen(
        [PYTHON, "manage.py", "cleanup_tokens"], cwd=PROJECT, env=env, stdout=subprocess.PIPE, text=True
    )
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.monotonic() - started
    stop.set()
    for thread in threads:
        thread.join()
    result = {
        "seconds": round(seconds, 1),
        "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
        "exit_status": status,
        "output": output.strip(),
        "rotations_meanwhile": rotations,
    }
    print(f"cleanup: {result}", flush=True)
    return result


def password_hash_cost(env: dict) -> dict:
    """One password hash as a login makes it (the configured hasher): CPU and peak memory added."""
    cpu = (
        "import time, django; django.setup(); "
        "from django.contrib.auth.hashers import make_password; make_password('warm-up'); "
        "start = time.process_time(); [make_password('bench password') for _ in range(10)]; "
        "print((time.process_time() - start) / 10 * 1000)"
    )
    # The peak memory one hash adds, in a fresh process (the warm-up above would hide it).
    memory = (
        "import resource, django; django.setup(); "
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss; "
        "from django.contrib.auth.hashers import make_password; make_password('bench password'); "
        "print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)"
    )

    def run(code: str) -> float:
        return float(
            subprocess.run(
                [PYTHON, "-c", code], cwd=PROJECT, env=env, check=True, capture_output=True, text=True
            ).stdout
        )

    cpu_ms, peak = run(cpu), run(memory)
    return {"cpu_ms": round(cpu_ms, 1), "peak_mib": round(peak, 1)}


def postgres_settings() -> dict:
    names = ("fsync", "synchronous_commit", "full_page_writes", "server_version")
    query = "; ".join(f"SHOW {name}" for name in names)
    output = subprocess.run(
        ["psql", os.environ["DATABASE_URL"], "-At", "-c", query], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    return dict(zip(names, output, strict=False))


def scale_run(first: str, second: str | None, tmp: str, *, seconds: int) -> float:
    """Rotations/s with wrk driving one instance, or two instances together (one wrk each)."""
    targets = [first] if second is None else [first, second]
    processes = []
    for index, base_url in enumerate(targets):
        tokens = login_tokens(base_url, "/login", CONCURRENCY)
        path = Path(tmp) / f"scale-{index}-{len(targets)}.txt"
        path.write_text("\n".join(body["refresh_token"] for body in tokens) + "\n")
        command = [
            "wrk",
            "-t",
            str(CONCURRENCY),
            "-c",
            str(CONCURRENCY),
            "-d",
            f"{seconds}s",
            "-s",
            str(WRK / "chain.lua"),
            base_url,
            "--",
            str(path),
            "/token",
            "ours",
            "refresh_token",
        ]
        processes.append(subprocess.Popen(command, stdout=subprocess.PIPE, text=True))
    total = 0.0
    for process in processes:
        summary = json.loads(process.communicate()[0].strip().splitlines()[-1])
        total += summary["chained_ok"] / (summary["duration_us"] / 1e6)
    print(f"scale: {len(targets)} instance(s) {total:.1f} rotations/s", flush=True)
    return total


def machine() -> dict:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    versions = {}
    for package in (
        "django",
        "djangorestframework",
        "djangorestframework-simplejwt",
        "PyJWT",
        "cryptography",
        "psycopg",
        "gunicorn",
    ):
        from importlib.metadata import version

        versions[package] = version(package)
    postgres = subprocess.run(["psql", "--version"], capture_output=True, text=True).stdout.strip()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "postgres": postgres,
        **versions,
    }


def markdown(report: dict) -> str:
    settings = report["postgres_settings"]
    lines = [
        f"Benchmark of {report['date']} on {report['machine']['cpu']} ({report['machine']['cores']} cores), "
        f"gunicorn {report['workers']} sync workers, concurrency {report['concurrency']}, "
        f"{report['seconds_per_run']} s per endpoint, PostgreSQL {settings.get('server_version', '?')} with "
        f"fsync={settings.get('fsync')}, synchronous_commit={settings.get('synchronous_commit')}, "
        f"full_page_writes={settings.get('full_page_writes')}, access tokens {report['access_token_algorithm']}.",
        "",
        "| endpoint | req/s | p50 ms | p99 ms | CPU ms/req (server + PostgreSQL) | vs floor | failed |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in report["results"]:
        lines.append(
            f"| {r['endpoint']} | {r['rps']:.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
            f"{r['cpu_ms']:.3f} ({r['server_cpu_ms']:.3f} + {r['postgres_cpu_ms']:.3f}) | {r['cpu_vs_floor']:.2f} | {r['failed']} |"
        )
    rows = {r["endpoint"]: r for r in report["results"]}
    lines += ["", "| target | measured | met |", "|---|---|---|"]

    def target(name: str, measured: str, met: bool) -> None:
        lines.append(f"| {name} | {measured} | {'yes' if met else 'no'} |")

    for ours, stock, limit, label in (
        ("POST /token (rotation)", "stock simplejwt refresh", 0.5, "rotation"),
        ("GET /users/me/", "stock simplejwt GET me", 1.0, "GET /users/me/"),
    ):
        if ours in rows and stock in rows:
            ratio = rows[ours]["cpu_ms"] / rows[stock]["cpu_ms"]
            target(
                f"{label} at most {limit} x stock simplejwt's",
                f"{rows[ours]['cpu_ms']:.2f} / {rows[stock]['cpu_ms']:.2f} ms = {ratio:.2f} x",
                ratio <= limit,
            )
    rotation = rows.get("POST /token (rotation)")
    for name, label in (
        ("POST /token (client credentials)", "client credentials"),
        ("POST /token (private_key_jwt, client credentials)", "client credentials with private_key_jwt"),
    ):
        machine = rows.get(name)
        if machine and rotation:
            target(
                f"{label} at most the cost of a rotation",
                f"{machine['cpu_ms']:.2f} / {rotation['cpu_ms']:.2f} ms = {machine['cpu_ms'] / rotation['cpu_ms']:.2f} x",
                machine["cpu_ms"] <= rotation["cpu_ms"],
            )
    for bound, bearer in (
        ("POST /token (rotation, DPoP)", "POST /token (rotation, public client)"),
        ("GET /users/me/ (DPoP)", "GET /users/me/"),
    ):
        signed, cc = (
            rows.get("POST /token (private_key_jwt, client credentials)"),
            rows.get("POST /token (client credentials)"),
        )
        if bound in rows and bearer in rows and signed and cc:
            # What one ES256 verification and one insert cost in this run: private_key_jwt's
            # assertion check over the same grant with a secret.
            budget = signed["cpu_ms"] - cc["cpu_ms"]
            extra = rows[bound]["cpu_ms"] - rows[bearer]["cpu_ms"]
            target(
                f"{bound}: the proof at most one ES256 verification and one insert over {bearer}",
                f"+{extra:.2f} ms over {rows[bearer]['cpu_ms']:.2f} ms; budget {budget:.2f} ms",
                extra <= budget,
            )
    login = rows.get("POST /login")
    if login:
        target("a login at most 60 ms of CPU", f"{login['cpu_ms']:.1f} ms", login["cpu_ms"] <= 60)
    hashing = report.get("password_hash")
    if hashing:
        target(
            "at most 20 MiB per concurrent login (one Argon2id hash)",
            f"{hashing['peak_mib']:.1f} MiB, {hashing['cpu_ms']:.1f} ms of CPU per hash",
            hashing["peak_mib"] <= 20,
        )
    if report.get("populated"):
        label = f"{report['populated']:,} sessions"
        for name in ("GET /users/me/", "POST /token (rotation)"):
            empty, full = rows.get(name), rows.get(f"{name} ({label})")
            if empty and full:
                growth = full["cpu_ms"] / empty["cpu_ms"] - 1
                target(
                    f"{name} with {label} within 15 % of the empty database",
                    f"{full['cpu_ms']:.2f} vs {empty['cpu_ms']:.2f} ms ({growth:+.0%})",
                    growth <= 0.15,
                )
        cleanup = report.get("cleanup")
        if cleanup:
            meanwhile = cleanup["rotations_meanwhile"]
            target(
                f"cleanup_tokens of {report['populated']:,} expired records under 200 MB, rotations going on",
                f"{cleanup['seconds']} s, peak {cleanup['peak_rss_mib']} MiB; meanwhile {meanwhile['ok']} rotations, "
                f"{meanwhile['failed']} failed, slowest {meanwhile['slowest_ms']:.0f} ms",
                cleanup["peak_rss_mib"] < 200 and meanwhile["failed"] == 0 and meanwhile["ok"] > 0,
            )
    for name in ("GET /users/me/", "POST /token (rotation)"):
        row = rows.get(name)
        if row and row["postgres_cpu_ms"]:
            lines.append(
                f"| (sizing) {name}: application cores per PostgreSQL core | "
                f"{row['server_cpu_ms'] / row['postgres_cpu_ms']:.1f} | - |"
            )
    scale = report["scale"]
    if not scale["ratio"]:
        return "\n".join([*lines, ""])
    lines += [
        "",
        f"Scale (rotations): one instance {scale['one_instance_rps']:.0f}/s, two instances driven together "
        f"{scale['two_instances_rps']:.0f}/s, ratio {scale['ratio']:.2f}.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
