#!/usr/bin/env python3
"""No account enumeration by timing: /login costs the same for an unknown user, a wrong password
and a disabled user. Serves the project with gunicorn on a throwaway SQLite database, sends
ROUNDS requests of each kind (interleaved), and compares the medians. Also times one Argon2 hash.

    .venv/bin/python bench/login_timing.py [--rounds 40]
"""

import argparse
import json
import statistics
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from server import base_env, gunicorn, manage

CASES = {
    "unknown user": ("nobody", "secret"),
    "wrong password": ("johndoe", "not-the-password"),
    "disabled user (right password)": ("alice", "secret2"),
    "disabled user (wrong password)": ("alice", "nope"),
}


def post_login(base_url: str, username: str, password: str) -> tuple[int, float]:
    data = f"username={username}&password={password}".encode()
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(f"{base_url}/login", data=data, timeout=30) as response:
            response.read()
            status = response.status
    except urllib.error.HTTPError as e:
        e.read()
        status = e.code
    return status, time.perf_counter() - start


def argon2_hash_cost(samples: int = 20) -> float:
    from argon2 import PasswordHasher
    from django.contrib.auth.hashers import Argon2PasswordHasher

    django_hasher = Argon2PasswordHasher()
    hasher = PasswordHasher(
        time_cost=django_hasher.time_cost,
        memory_cost=django_hasher.memory_cost,
        parallelism=django_hasher.parallelism,
    )
    timings = []
    for _ in range(samples):
        start = time.perf_counter()
        hasher.hash("correct horse battery staple")
        timings.append(time.perf_counter() - start)
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = base_env(DATABASE_URL=f"sqlite:///{tmp}/timing.sqlite3")
        manage("migrate", "--noinput", env=env)
        manage("seed_demo_users", env=env)
        with gunicorn(env, workers=1, log=Path(tmp) / "server.log") as (base_url, _):
            post_login(base_url, "johndoe", "secret")  # warm up: keys, connections
            timings: dict[str, list[float]] = {case: [] for case in CASES}
            for _ in range(args.rounds):
                for case, (username, password) in CASES.items():
                    status, seconds = post_login(base_url, username, password)
                    assert status == 401, (case, status)
                    timings[case].append(seconds)
    medians = {case: statistics.median(values) * 1000 for case, values in timings.items()}
    spread = max(medians.values()) / min(medians.values())
    hash_ms = argon2_hash_cost() * 1000
    print("| case | median /login (ms) |\n|---|---|")
    for case, value in medians.items():
        print(f"| {case} | {value:.1f} |")
    print(f"\nslowest / fastest median: {spread:.3f}; one Argon2id hash: {hash_ms:.1f} ms")
    print(
        json.dumps(
            {"medians_ms": medians, "spread": spread, "argon2_hash_ms": hash_ms, "rounds": args.rounds}
        )
    )
    if spread > 1.25:
        sys.exit("the medians differ by more than 25 %: timing may tell users apart")


if __name__ == "__main__":
    main()
