#!/usr/bin/env bash
# with-redis.sh COMMAND...: run COMMAND with REDIS_URL naming a throwaway Redis server.
#
# The server keeps nothing on disk, listens on 127.0.0.1 on a free port, and is stopped when
# COMMAND ends. When redis-server is missing, the Debian package `redis-server` is installed (as root).
set -euo pipefail

"$(dirname "$0")/ensure-redis.sh"

workdir=$(mktemp -d "${TMPDIR:-/tmp}/authproject-redis.XXXXXX")
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --bind 127.0.0.1 --port "$port" --save "" --appendonly no --dir "$workdir" \
  --logfile "$workdir/redis.log" --daemonize no &
server=$!
stop() {
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  rm -rf "$workdir"
}
trap stop EXIT

for _ in $(seq 1 100); do
  if python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), timeout=1).close()" 2>/dev/null; then
    break
  fi
  sleep 0.1
done

export REDIS_URL="redis://127.0.0.1:$port/0"
echo "with-redis: Redis on 127.0.0.1:$port" >&2
status=0
"$@" || status=$?
exit $status
