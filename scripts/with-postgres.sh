#!/usr/bin/env bash
# with-postgres.sh COMMAND...: run COMMAND with DATABASE_URL naming a throwaway PostgreSQL server.
#
# The server lives in a temporary directory, listens on 127.0.0.1 on a free port, and is stopped
# and deleted when COMMAND ends, however it ends. When the PostgreSQL server binaries are missing,
# the Debian package `postgresql` is installed (as root). initdb refuses to run as root, so as
# root the server runs as the `postgres` user (created when missing).
# COMMAND can stop the server and start it again with "$AUTHPROJECT_PGCTL" stop|start.
set -euo pipefail

find_bindir() {
  local dir
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && [ -x "$dir/postgres" ]; then
      echo "$dir"
      return 0
    fi
  done
  return 1
}

"$(dirname "$0")/ensure-debian-package.sh" '/usr/lib/postgresql/*/bin/initdb' postgresql
bindir=$(find_bindir) || { echo "with-postgres: no PostgreSQL server binaries in /usr/lib/postgresql" >&2; exit 1; }

run_as=()
if [ "$(id -u)" -eq 0 ]; then
  id -u postgres >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin postgres
  run_as=(runuser -u postgres --)
fi

workdir=$(mktemp -d "${TMPDIR:-/tmp}/authproject-pg.XXXXXX")
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
[ ${#run_as[@]} -eq 0 ] || chown postgres "$workdir"

stop() {
  "${run_as[@]}" "$bindir/pg_ctl" -D "$workdir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$workdir"
}
trap stop EXIT

"${run_as[@]}" "$bindir/initdb" -D "$workdir/data" -U postgres -A trust -E UTF8 --no-sync >"$workdir/initdb.log" 2>&1 \
  || { cat "$workdir/initdb.log" >&2; exit 1; }
# Durability is pointless for a throwaway test server; max_connections covers concurrency tests.
# PG_DURABLE=1 (make bench) keeps PostgreSQL's durability defaults, as a production server has them.
server_options="-h 127.0.0.1 -p $port -k $workdir -c max_connections=300"
if [ "${PG_DURABLE:-0}" != "1" ]; then
  server_options="$server_options -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
fi
pg_start=("${run_as[@]}" "$bindir/pg_ctl" -D "$workdir/data" -l "$workdir/server.log" -w -t 60 -o "$server_options" start)
"${pg_start[@]}" >/dev/null || { cat "$workdir/server.log" >&2; exit 1; }

# "$workdir/pgctl stop|start": for fault-injection tests (tests/test_outages.py), which stop the
# server and start it again, on the same port and with the same options, while the command runs.
pg_stop=("${run_as[@]}" "$bindir/pg_ctl" -D "$workdir/data" -m fast -w -t 60 stop)
{
  echo '#!/usr/bin/env bash'
  echo '# pgctl stop|start: stop the throwaway PostgreSQL server of with-postgres.sh (fast mode), or start it again.'
  echo 'set -euo pipefail'
  echo 'case "${1:-}" in'
  echo "  start) exec $(printf '%q ' "${pg_start[@]}") ;;"
  echo "  stop) exec $(printf '%q ' "${pg_stop[@]}") ;;"
  echo '  *) echo "usage: $0 stop|start" >&2; exit 2 ;;'
  echo 'esac'
} >"$workdir/pgctl"
chmod +x "$workdir/pgctl"
"${run_as[@]}" "$bindir/createdb" -h 127.0.0.1 -p "$port" -U postgres authproject

export DATABASE_URL="postgres://postgres@127.0.0.1:$port/authproject"
export PGDATA="$workdir/data"  # for tools that read the server's processes (bench/run.py)
export AUTHPROJECT_PGCTL="$workdir/pgctl"  # stop|start the server (tests/test_outages.py)
echo "with-postgres: PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on 127.0.0.1:$port" >&2
status=0
"$@" || status=$?
exit $status
