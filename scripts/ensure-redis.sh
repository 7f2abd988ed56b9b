#!/usr/bin/env bash
# ensure-redis.sh: make sure redis-server is installed (the Debian package `redis-server`, as root).
#
# Used by with-redis.sh, and by test.sh before pytest (tests/test_outages.py starts its own server).
set -euo pipefail
exec "$(dirname "$0")/ensure-debian-package.sh" redis-server redis-server
