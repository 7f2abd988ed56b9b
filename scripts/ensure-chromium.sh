#!/usr/bin/env bash
# ensure-chromium.sh: make sure Chromium is installed (the Debian package `chromium`, as root).
#
# Used by test.sh before pytest: tests/oauth/test_browser.py drives /usr/bin/chromium with
# Playwright. Playwright's own browser downloads (`playwright install`) are never used.
set -euo pipefail

if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "ensure-chromium: /usr/bin/chromium not found; install the Debian package 'chromium'." >&2
    exit 1
  fi
  echo "ensure-chromium: installing the Debian package chromium" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
