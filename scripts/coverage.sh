#!/bin/sh
# SPDX-License-Identifier: MIT
# Line and branch coverage of the product code (fcgi-api, ws-daemon, ipc, shared;
# not tests or bench) by the unit and system tests.
# usage: scripts/coverage.sh [BUILD_DIR]   (default build/coverage)
# Builds with --coverage into its own BUILD_DIR, runs the unit tests and the system
# tests against those binaries, then prints per-file and total coverage (gcovr).
# COVERAGE is defined for the build: forked workers end with _exit, which skips
# gcov's flush at exit, so they dump their counters first under that define.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
build=${1:-build/coverage}
case $build in /*) ;; *) build="$top/$build" ;; esac

command -v gcovr >/dev/null || { echo "coverage: gcovr is not installed (make deps-test)" >&2; exit 1; }

make --no-print-directory -j"$(nproc)" BUILD="$build" \
	CFLAGS="--coverage -DCOVERAGE" LDFLAGS="--coverage" all unit
# Counters from an earlier run would add up with this one.
find "$build/obj" -name '*.gcda' -delete

rc=0
for t in "$build"/tests/test_*; do
	echo "== $t"
	"$t" >/dev/null 2>&1 || { echo "unit test failed: $t" >&2; rc=1; }
done
scripts/system-tests.sh "$build/bin" || rc=1

# gcov names the sources relative to the top directory: keep product code only.
echo
echo "== coverage of product code (unit + system tests)"
filters="--filter fcgi-api/ --filter ws-daemon/ --filter ipc/ --filter shared/"
# shellcheck disable=SC2086
gcovr --root "$top" --object-directory "$build/obj" $filters --txt --sort-percentage \
	--exclude-unreachable-branches
# shellcheck disable=SC2086
gcovr --root "$top" --object-directory "$build/obj" $filters --txt --branches \
	--sort-percentage --exclude-unreachable-branches
# shellcheck disable=SC2086
gcovr --root "$top" --object-directory "$build/obj" $filters --print-summary \
	--exclude-unreachable-branches -o /dev/null
exit $rc
