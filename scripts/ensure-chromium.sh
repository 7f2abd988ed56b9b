#!/usr/bin/env bash
# ensure-chromium.sh: make sure Chromium is installed (the Debian package `chromium`, as root).
#
# Used by test.sh before pytest: tests/oauth/test_browser.py drives /usr/bin/chromium with
# Playwright. Playwright's own browser downloads (`playwright install`) are never used.
set -euo pipefail
exec "$(dirname "$0")/ensure-debian-package.sh" /usr/bin/chromium chromium --no-install-recommends
