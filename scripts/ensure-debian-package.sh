#!/usr/bin/env bash
# ensure-debian-package.sh PROGRAM PACKAGE [APT-GET-OPTION...]: make sure PROGRAM is there,
# installing the Debian package PACKAGE (as root) when it is not.
#
# PROGRAM is a command on PATH, or an absolute path, which may be a glob
# ('/usr/lib/postgresql/*/bin/initdb'). The one place the scripts and the Makefile install a
# package from: without root, it names the package to install and fails.
set -euo pipefail
program=$1
package=$2
shift 2

present() {
  case "$program" in
    /*) compgen -G "$program" >/dev/null ;;
    *) command -v "$program" >/dev/null 2>&1 ;;
  esac
}

present && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "ensure-debian-package: $program not found; install the Debian package '$package'." >&2
  exit 1
fi
echo "ensure-debian-package: installing the Debian package $package (for $program)" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" "$package" >/dev/null
present || { echo "ensure-debian-package: $package is installed but $program is still missing" >&2; exit 1; }
