#!/usr/bin/env bash
# The PostgreSQL part of test.sh, with DATABASE_URL naming the server: the whole suite, then the
# concurrency tests once more with their servers behind PgBouncer in transaction pooling mode, as
# hosts sharing one database are (the test process itself connects directly; --reuse-db keeps
# the test database, which PgBouncer's pooled connections would otherwise keep from being dropped).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
"$PY" -m pytest "$@"
echo "=== the concurrency tests through PgBouncer"
scripts/with-pgbouncer.sh "$PY" -m pytest --reuse-db \
  tests/test_concurrency.py tests/oauth/test_code_concurrency.py tests/federation/test_exchange_concurrency.py "$@"
