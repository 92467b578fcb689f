#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs the system tests (real lighttpd, real ws-daemon, real WebSocket clients)
# against the binaries in BIN_DIR. Under an ASan build, any sanitizer report fails the run.
set -eu
bin=$(realpath "$1")
top=$(cd "$(dirname "$0")/.." && pwd)
export PUSH_BIN_DIR="$bin"

san_dir=""
if nm -u "$bin/ws-daemon" 2>/dev/null | grep -q __asan_init; then
	san_dir=$(mktemp -d /tmp/push-san.XXXXXX)
	# Reports go to files: lighttpd swallows the FastCGI children's stderr otherwise.
	export ASAN_OPTIONS="log_path=$san_dir/asan:detect_leaks=1:abort_on_error=0:exitcode=23"
	export UBSAN_OPTIONS="log_path=$san_dir/ubsan:print_stacktrace=1:halt_on_error=1"
	export LSAN_OPTIONS="suppressions=$top/tests/lsan.supp:print_suppressions=0"
fi

rc=0
# Debian's python3 carries python3-pytest and python3-websockets.
# -rs lists every skip with its reason (under CI=true a skip also fails the run).
/usr/bin/python3 -m pytest -q -rs -p no:cacheprovider "$top/tests/system" || rc=$?

if [ -n "$san_dir" ]; then
	if ls "$san_dir"/* >/dev/null 2>&1; then
		echo "sanitizer reports:" >&2
		cat "$san_dir"/* >&2
		rc=1
	else
		echo "sanitizers: no reports"
	fi
	rm -rf "$san_dir"
fi
exit $rc
