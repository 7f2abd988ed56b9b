#!/usr/bin/env python3
"""No account enumeration by timing at the accounts' doors: POST /password-reset costs the same
for an address with an account and one without, and POST /users/ the same for a new email and a
taken one. Serves the project with gunicorn on a throwaway SQLite database (sign-up on, the email
limits out of the way), sends ROUNDS requests of each kind (interleaved), compares the medians.

    .venv/bin/python bench/accounts_timing.py [--rounds 40]
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
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from server import base_env, gunicorn, manage

PASSWORD = "a long enough passphrase 2026"


def post(base_url: str, path: str, fields: dict) -> tuple[int, float]:
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(
            f"{base_url}{path}", data=urlencode(fields).encode(), timeout=30
        ) as response:
            response.read()
            status = response.status
    except urllib.error.HTTPError as e:
        e.read()
        status = e.code
    return status, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = base_env(
            DATABASE_URL=f"sqlite:///{tmp}/timing.sqlite3",
            SIGNUP_ENABLED="1",
            EMAIL_REQUEST_LIMIT="100000",
            EMAIL_REQUEST_IP_LIMIT="100000",
        )
        manage("migrate", "--noinput", env=env)
        manage("seed_demo_users", env=env)
        cases = {
            "reset: address with an account": lambda n: (
                "/password-reset",
                {"email": "johndoe@example.com"},
                202,
            ),
            "reset: address without one": lambda n: (
                "/password-reset",
                {"email": f"nobody{n}@example.com"},
                202,
            ),
            "sign-up: new email": lambda n: (
                "/users/",
                {"username": f"new{n}", "email": f"new{n}@example.com", "password": PASSWORD},
                201,
            ),
            "sign-up: taken email": lambda n: (
                "/users/",
                {"username": f"other{n}", "email": "johndoe@example.com", "password": PASSWORD},
                201,
            ),
        }
        with gunicorn(env, workers=1, log=Path(tmp) / "server.log") as (base_url, _):
            post(base_url, "/password-reset", {"email": "warm@example.com"})  # warm up
            timings: dict[str, list[float]] = {case: [] for case in cases}
            for n in range(args.rounds):
                for case, request in cases.items():
                    path, fields, expected = request(n)
                    status, seconds = post(base_url, path, fields)
                    assert status == expected, (case, status)
                    timings[case].append(seconds)
    medians = {case: statistics.median(values) * 1000 for case, values in timings.items()}
    pairs = {
        "reset": (medians["reset: address with an account"], medians["reset: address without one"]),
        "sign-up": (medians["sign-up: new email"], medians["sign-up: taken email"]),
    }
    spreads = {name: max(pair) / min(pair) for name, pair in pairs.items()}
    print("| case | median (ms) |\n|---|---|")
    for case, value in medians.items():
        print(f"| {case} | {value:.1f} |")
    print(
        "\n" + "; ".join(f"{name}: slower / faster median {spread:.3f}" for name, spread in spreads.items())
    )
    print(json.dumps({"medians_ms": medians, "spreads": spreads, "rounds": args.rounds}))
    if max(spreads.values()) > 1.25:
        sys.exit("the medians differ by more than 25 %: timing may tell addresses apart")


if __name__ == "__main__":
    main()
