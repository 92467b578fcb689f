#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs what `make deb` needs, when run as root: the package tools and
# debian/control's Build-Depends; otherwise prints the apt-get line and fails.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)

# Build-Depends, without version constraints; debhelper-compat is debhelper's.
build_deps=$(sed -n '/^Build-Depends:/,/^[A-Z][A-Za-z-]*:/p' "$top/debian/control" |
	sed -e 's/^Build-Depends://' -e '/^[A-Z][A-Za-z-]*:/d' | tr ',' '\n' |
	sed -e 's/(.*)//' -e 's/[[:space:]]//g' -e '/^$/d' -e 's/^debhelper-compat$/debhelper/')
pkgs="dpkg-dev debhelper lintian groff-base man-db make gcc $build_deps"

missing=""
for p in $pkgs; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "missing Debian packages:$missing" >&2
	echo "install them with: sudo apt-get install -y$missing" >&2
	exit 1
fi
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
