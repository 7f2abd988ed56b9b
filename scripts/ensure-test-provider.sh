#!/usr/bin/env bash
# ensure-test-provider.sh: make tests/provider (Node's oidc-provider, the stand-in for Google in
# tests/federation/) ready to run: Node.js and npm from Debian when missing, then the npm packages
# pinned by tests/provider/package-lock.json. Does nothing when all is in place.
set -euo pipefail
here=$(dirname "$0")
"$here/ensure-debian-package.sh" node nodejs
"$here/ensure-debian-package.sh" npm npm
cd "$here/../tests/provider"
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "ensure-test-provider: npm ci in tests/provider" >&2
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
fi
