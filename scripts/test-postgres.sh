#!/usr/bin/env bash
# The PostgreSQL part of test.sh, with DATABASE_URL naming the server: every test that can differ
# by database (the ones marked `once` or `own_database` ran in the SQLite run only) in parallel,
# those marked `alone` (they stop the server) by themselves on a server of their own, then the concurrency tests once more
# with their servers behind PgBouncer in transaction pooling mode, as hosts sharing one database
# are (the test process itself connects directly; --reuse-db keeps the test database, which
# PgBouncer's pooled connections would otherwise keep from being dropped).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
workers="${TEST_WORKERS:-$(( $(nproc) + 1 ))}"
# pytest, where "no test selected" (exit status 5, say with -k) is no failure.
pytest_some() { "$PY" -m pytest "$@" || [ $? -eq 5 ]; }
# The tests that stop the database server run beside the parallel part, on a throwaway server of
# their own (when DATABASE_URL names a server of the caller's, they run after it, on that one).
alone_log=$(mktemp)
trap 'rm -f "$alone_log"' EXIT
alone_status=0
if [ -n "${AUTHPROJECT_PGCTL:-}" ]; then
  scripts/with-postgres.sh bash -c '"$0" -m pytest -p no:cacheprovider -m alone "$@" || [ $? -eq 5 ]' "$PY" "$@" \
    >"$alone_log" 2>&1 &
  alone_run=$!
fi
"$PY" -m pytest -n "$workers" -m "not once and not own_database and not alone" "$@"
echo "=== the tests that stop the database server, by themselves (${SECONDS} s into the PostgreSQL part)"
if [ -n "${AUTHPROJECT_PGCTL:-}" ]; then
  wait "$alone_run" || alone_status=$?
  cat "$alone_log"
else
  pytest_some -m alone "$@"
fi
echo "=== the concurrency tests through PgBouncer (${SECONDS} s into the PostgreSQL part)"
scripts/with-pgbouncer.sh bash -c '"$0" -m pytest "$@" || [ $? -eq 5 ]' "$PY" --reuse-db \
  tests/test_concurrency.py tests/oauth/test_code_concurrency.py tests/federation/test_exchange_concurrency.py "$@"
[ "$alone_status" -eq 0 ]
