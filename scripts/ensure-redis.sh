#!/usr/bin/env bash
# ensure-redis.sh: make sure redis-server is installed (the Debian package `redis-server`, as root).
#
# Used by with-redis.sh, and by test.sh before pytest (tests/test_outages.py starts its own server).
set -euo pipefail

if ! command -v redis-server >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "ensure-redis: redis-server not found; install the Debian package 'redis-server'." >&2
    exit 1
  fi
  echo "ensure-redis: installing the Debian package redis-server" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
fi
