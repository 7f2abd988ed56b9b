#!/usr/bin/env python3
"""`make bench`: what each request costs, against a floor and against stock simplejwt.

Serves the project with gunicorn (one sync worker per core, persistent database connections) on
the PostgreSQL server named by DATABASE_URL (`make bench` starts a throwaway one), drives it with
wrk on loopback, and measures for each endpoint: requests/s, p50 and p99 latency at concurrency 8,
and the CPU time of the server's and PostgreSQL's processes (read from /proc) per successful
request, so that the figures survive a noisy machine. Writes a markdown table and a JSON file
under bench/results/.

    scripts/with-postgres.sh .venv/bin/python bench/run.py [--seconds 15]
"""

import argparse
import base64
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

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


def measure(name: str, server_pid: int, run) -> dict:
    """Run the load `run()` and attach the server's and PostgreSQL's CPU per successful request."""
    server_before, pg_before = tree_cpu_seconds(server_pid), tree_cpu_seconds(postgres_pid())
    summary = run()
    server_cpu = tree_cpu_seconds(server_pid) - server_before
    pg_cpu = tree_cpu_seconds(postgres_pid()) - pg_before
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
        "--quick", action="store_true", help="only /users/me/, /token and /login, no scaling run"
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
    subprocess.run(
        [
            PYTHON,
            "manage.py",
            "shell",
            "-v",
            "0",
            "-c",
            "from accounts.models import User; "
            f"User.objects.filter(username='bench').exists() or User.objects.create_user(username='bench', email='bench@example.com', password='{PASSWORD}')",
        ],
        cwd=PROJECT,
        env=env,
        check=True,
    )
    authz = json.loads(
        subprocess.run(
            [
                PYTHON,
                "manage.py",
                "shell",
                "-v",
                "0",
                "-c",
                f"from bench.fixtures import prepare; print(prepare({CODES}))",
            ],
            cwd=PROJECT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    results: list[dict] = []
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
            code_files = {}
            for name, codes in authz["codes"].items():
                code_files[name] = Path(tmp) / f"codes-{name}.txt"
                code_files[name].write_text("\n".join(codes) + "\n")
            server_secret = authz["clients"]["bench-server"]["client_secret"]
            basic = base64.b64encode(f"bench-server:{server_secret}".encode()).decode()
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
                        "codes.lua",
                        [
                            str(code_files["bench-app"]),
                            "bench-app",
                            authz["redirect_uri"],
                            authz["verifier"],
                            "post",
                        ],
                        seconds=seconds,
                    ),
                ),
                (
                    "POST /token (code, confidential)",
                    lambda: wrk(
                        base_url,
                        "codes.lua",
                        [
                            str(code_files["bench-server"]),
                            "bench-server",
                            authz["redirect_uri"],
                            authz["verifier"],
                            "basic",
                        ],
                        seconds=seconds,
                        headers={"Authorization": f"Basic {basic}"},
                    ),
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
                runs = [run for run in runs if run[0].startswith(("floor", "GET /users", "POST"))]
            for name, run in runs:
                results.append(measure(name, server.pid, run))
            single = 0.0 if args.quick else scale_run(base_url, None, tmp, seconds=10)
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
    lines = [
        f"Benchmark of {report['date']} on {report['machine']['cpu']} ({report['machine']['cores']} cores), "
        f"gunicorn {report['workers']} sync workers, concurrency {report['concurrency']}, "
        f"{report['seconds_per_run']} s per endpoint, {report['machine']['postgres']}, "
        f"access tokens {report['access_token_algorithm']}.",
        "",
        "| endpoint | req/s | p50 ms | p99 ms | CPU ms/req (server + PostgreSQL) | vs floor | failed |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in report["results"]:
        lines.append(
            f"| {r['endpoint']} | {r['rps']:.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
            f"{r['cpu_ms']:.3f} ({r['server_cpu_ms']:.3f} + {r['postgres_cpu_ms']:.3f}) | {r['cpu_vs_floor']:.2f} | {r['failed']} |"
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
