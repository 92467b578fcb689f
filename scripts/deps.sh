#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs the Debian packages `make run`, `make test` or `make deb` (mode run, test,
# deb) needs, when run as root; otherwise prints the apt-get line and fails, so
# nothing half-builds.
set -eu
mode=${1:-run}
web=${2:-lighttpd}
top=$(cd "$(dirname "$0")/.." && pwd)

pkgs="gcc make pkg-config libfcgi-dev libwebsockets-dev libwebsockets-evlib-uv libuv1-dev libhiredis-dev
      libjansson-dev libyaml-dev libssl-dev uthash-dev libsystemd-dev lighttpd lighttpd-mod-openssl
      iproute2"
if [ "$mode" = deb ]; then
	# debian/control's Build-Depends without version constraints; debhelper-compat
	# comes with debhelper.
	build_deps=$(sed -n '/^Build-Depends:/,/^[A-Z][A-Za-z-]*:/p' "$top/debian/control" |
		sed -e 's/^Build-Depends://' -e '/^[A-Z][A-Za-z-]*:/d' | tr ',' '\n' |
		sed -e 's/(.*)//' -e 's/[[:space:]]//g' -e '/^$/d' -e 's/^debhelper-compat$/debhelper/')
	pkgs="dpkg-dev debhelper lintian groff-base man-db make gcc $build_deps"
elif [ "$mode" = test ]; then
	pkgs="$pkgs apache2 nginx systemd libcmocka-dev python3 python3-pytest python3-websockets curl php-cli php-curl redis-server nodejs node-ws openssl gcovr clang libclang-rt-14-dev
	      chromium chromium-driver python3-selenium"
elif [ "$web" = apache ]; then
	pkgs="$pkgs apache2"
elif [ "$web" = nginx ]; then
	pkgs="$pkgs nginx"
fi

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
