#!/bin/sh
# SPDX-License-Identifier: MIT
# Builds the Debian package in a copy of the tree (dpkg-buildpackage writes next to
# the source directory, and the tree stays free of debian/ build products), puts
# push-service_<version>_<arch>.deb with its .changes and .buildinfo in OUT_DIR and
# checks it with lintian (any error or warning fails; the report is OUT_DIR/lintian.txt).
# Nothing is rebuilt while the .deb is newer than every source file.
# usage: scripts/deb-build.sh OUT_DIR
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$1"
out=$(cd "$1" && pwd)
cd "$top"

scripts/deps.sh deb

version=$(dpkg-parsechangelog -l debian/changelog -S Version)
upstream=${version%-*}
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
deb="$out/push-service_${version}_${arch}.deb"

# Everything but build products and run-time state (.gitignore's list) goes into
# the package's source.
sources() {
	find . \( -path ./build -o -path ./run -o -path ./.git -o -name __pycache__ \
		-o -name .pytest_cache \) -prune -o -type f "$@" -print
}
if [ -f "$deb" ] && [ -f "$out/lintian.txt" ] && [ -z "$(sources -newer "$deb" | head -1)" ]; then
	echo "deb: $deb is up to date"
	exit 0
fi

src="$out/src/push-service-$upstream"
rm -rf "$out/src"
mkdir -p "$src"
sources | tar -cf - -T - | tar -xf - -C "$src"

# The package is built the same way from every caller: nothing from an enclosing make
# (`make test`'s SAN=1 or CC=clang reach sub-makes through MAKEFLAGS) or environment.
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES CC CFLAGS CPPFLAGS LDFLAGS BUILD SAN WERROR
jobs=$(nproc 2>/dev/null || echo 1)
echo "deb: dpkg-buildpackage -us -uc -b (log: $out/build.log)"
if ! (cd "$src" && dpkg-buildpackage -us -uc -b -j"$jobs") > "$out/build.log" 2>&1; then
	tail -40 "$out/build.log" >&2
	echo "deb: dpkg-buildpackage failed (full log: $out/build.log)" >&2
	exit 1
fi
rm -f "$out"/push-service*_*.deb "$out"/push-service*_*.changes "$out"/push-service*_*.buildinfo \
	"$out/lintian.txt"
# The package, its -dbgsym companion, .changes and .buildinfo.
mv "$out/src"/push-service*_"$version"_* "$out/"
rm -rf "$out/src"

echo "deb: lintian"
# Errors and warnings fail; informational tags are shown. lintian.txt exists only
# for a package that passed. (Its note about running as root is dropped.)
changes="$out/push-service_${version}_${arch}.changes"
rc=0
lintian --display-info --fail-on error,warning "$changes" > "$out/lintian.tmp" 2>&1 || rc=$?
grep -v '^running with root privileges' "$out/lintian.tmp" > "$out/lintian.out" || true
rm -f "$out/lintian.tmp"
cat "$out/lintian.out"
if [ $rc -ne 0 ]; then
	echo "deb: lintian found errors or warnings (exit $rc)" >&2
	exit 1
fi
mv "$out/lintian.out" "$out/lintian.txt"
echo "deb: $deb"
