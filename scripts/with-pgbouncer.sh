#!/usr/bin/env bash
# with-pgbouncer.sh COMMAND...: run COMMAND with PGBOUNCER_URL naming a throwaway PgBouncer in
# transaction pooling mode in front of the PostgreSQL server of DATABASE_URL (same database).
#
# As many hosts share one database in production. PgBouncer listens on 127.0.0.1 on a free port,
# lets any client in as DATABASE_URL's user (auth_type any; the PostgreSQL behind it trusts
# loopback), and is stopped when COMMAND ends, however it ends. When it is missing, the Debian
# package `pgbouncer` is installed (as root). PgBouncer refuses to run as root: as root it runs as
# the `postgres` user. Its admin console (database `pgbouncer`) accepts DATABASE_URL's user.
set -euo pipefail

if ! command -v pgbouncer >/dev/null && [ ! -x /usr/sbin/pgbouncer ]; then
  "$(dirname "$0")/ensure-debian-package.sh" /usr/sbin/pgbouncer pgbouncer
  # The package starts a service of its own; this script runs its own instance only.
  service pgbouncer stop >/dev/null 2>&1 || true
fi
PGBOUNCER=$(command -v pgbouncer || echo /usr/sbin/pgbouncer)

read -r pg_user pg_host pg_port pg_db < <(python3 -c '
import os, urllib.parse
url = urllib.parse.urlsplit(os.environ["DATABASE_URL"])
print(url.username or "postgres", url.hostname or "127.0.0.1", url.port or 5432, url.path.lstrip("/"))
')

run_as=()
if [ "$(id -u)" -eq 0 ]; then
  id -u postgres >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin postgres
  run_as=(runuser -u postgres --)
fi
workdir=$(mktemp -d "${TMPDIR:-/tmp}/authproject-pgbouncer.XXXXXX")
[ ${#run_as[@]} -eq 0 ] || chown postgres "$workdir"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

cat >"$workdir/pgbouncer.ini" <<INI
[databases]
* = host=$pg_host port=$pg_port user=$pg_user

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = any
admin_users = $pg_user
pool_mode = transaction
max_client_conn = 1000
default_pool_size = 20
ignore_startup_parameters = extra_float_digits,options
logfile = $workdir/pgbouncer.log
pidfile = $workdir/pgbouncer.pid
INI

stop() {
  if [ -f "$workdir/pgbouncer.pid" ]; then
    kill "$(cat "$workdir/pgbouncer.pid")" 2>/dev/null || true
    sleep 0.2
  fi
  rm -rf "$workdir"
}
trap stop EXIT

"${run_as[@]}" "$PGBOUNCER" -d "$workdir/pgbouncer.ini" || { cat "$workdir/pgbouncer.log" >&2 || true; exit 1; }
for _ in $(seq 1 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done

export PGBOUNCER_URL="postgres://$pg_user@127.0.0.1:$port/$pg_db"
export PGBOUNCER_PIDFILE="$workdir/pgbouncer.pid"  # for tools that read its CPU (bench/run.py)
echo "with-pgbouncer: PgBouncer $("$PGBOUNCER" --version | head -1 | awk '{print $2}') (transaction pooling) on 127.0.0.1:$port" >&2
status=0
"$@" || status=$?
exit $status
