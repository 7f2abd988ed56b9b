#!/usr/bin/env bash
# ensure-test-provider.sh: make tests/provider (Node's oidc-provider, the stand-in for Google in
# tests/federation/) ready to run: Node.js and npm from Debian when missing, then the npm packages
# pinned by tests/provider/package-lock.json. Does nothing when all is in place.
set -euo pipefail
cd "$(dirname "$0")/../tests/provider"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "ensure-test-provider: node and npm not found; install the Debian packages 'nodejs' and 'npm'." >&2
    exit 1
  fi
  echo "ensure-test-provider: installing the Debian packages nodejs and npm" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "ensure-test-provider: npm ci in tests/provider" >&2
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
fi
