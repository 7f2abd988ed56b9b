#!/usr/bin/env bash
# The whole suite, on SQLite and on PostgreSQL (and its concurrency tests through PgBouncer).
#
# PostgreSQL is the one DATABASE_URL names, or else a throwaway server started for the run.
# Extra arguments go to pytest (e.g. scripts/test.sh -k rotation). The SQLite and PostgreSQL runs
# spread their tests over TEST_WORKERS processes (pytest-xdist; default: one more than the cores,
# since many tests wait on servers they started), each on a test database of its own.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
export TEST_WORKERS="${TEST_WORKERS:-$(( $(nproc) + 1 ))}"
# The suite never reads the checkout's .env (authproject/settings.py): only what it sets itself.
export DJANGO_ENV_FILE=""
stage() { echo "=== $1 (${SECONDS} s into the run)"; }
# tests/test_outages.py starts its own redis-server.
scripts/ensure-redis.sh
# tests/oauth/test_browser.py drives the Debian package's /usr/bin/chromium.
scripts/ensure-chromium.sh
# tests/federation/ start Node's oidc-provider (tests/provider) as the stand-in for Google.
scripts/ensure-test-provider.sh

stage "ruff: lint and format (the README's code blocks too)"
"$PY" -m ruff check --quiet .
"$PY" -m ruff format --check --quiet .

stage "pytest on SQLite"
env -u DATABASE_URL "$PY" -m pytest -n "$TEST_WORKERS" "$@"

# The throttling tests with Redis counters (on SQLite and a Redis of their own) run beside the
# PostgreSQL part, which spends much of its time waiting; their output follows it.
redis_log=$(mktemp)
trap 'rm -f "$redis_log"' EXIT
env -u DATABASE_URL TEST_SQLITE_NAME="$PWD/test-db-redis.sqlite3" scripts/with-redis.sh "$PY" -m pytest -p no:cacheprovider tests/test_throttling.py "$@" \
  >"$redis_log" 2>&1 &
redis_run=$!

stage "pytest on PostgreSQL (scripts/test-postgres.sh: then the concurrency tests through PgBouncer)"
pg_status=0
case "${DATABASE_URL:-}" in
  postgres://*|postgresql://*) scripts/test-postgres.sh "$@" || pg_status=$? ;;
  *) scripts/with-postgres.sh scripts/test-postgres.sh "$@" || pg_status=$? ;;
esac

stage "throttling tests with Redis counters (SQLite), run beside the PostgreSQL part"
redis_status=0
wait "$redis_run" || redis_status=$?
cat "$redis_log"
stage "done"
[ "$pg_status" -eq 0 ] && [ "$redis_status" -eq 0 ]
