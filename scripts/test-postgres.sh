#!/usr/bin/env bash
# The PostgreSQL part of test.sh, with DATABASE_URL naming the server: every test that can differ
# by database (the ones marked `once` or `own_database` ran in the SQLite run only), then the
# concurrency tests once more with their servers behind PgBouncer in transaction pooling mode, as
# hosts sharing one database are (the test process itself connects directly; --reuse-db keeps
# the test database, which PgBouncer's pooled connections would otherwise keep from being dropped).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
"$PY" -m pytest -n "${TEST_WORKERS:-$(( $(nproc) + 1 ))}" -m "not once and not own_database" "$@"
echo "=== the concurrency tests through PgBouncer (${SECONDS} s into the PostgreSQL part)"
scripts/with-pgbouncer.sh "$PY" -m pytest --reuse-db \
  tests/test_concurrency.py tests/oauth/test_code_concurrency.py tests/federation/test_exchange_concurrency.py "$@"
