#!/bin/sh
# SPDX-License-Identifier: MIT
# Builds the man pages into OUT_DIR: ws-daemon(8) and push-api(8) from their
# hand-written sources, push-service.yaml(5) with its KEYS section generated from
# `ws-daemon -k` (the loader's own key table), so the page cannot drift from it.
# usage: scripts/man-build.sh BIN_DIR OUT_DIR
# The default configuration path shown is the one the built ws-daemon uses (its -h).
set -eu
bin=$1
out=$2
top=$(cd "$(dirname "$0")/.." && pwd)
daemon="$bin/ws-daemon"

version=$(sed -n 's/^#define PUSH_VERSION "\(.*\)"$/\1/p' "$top/shared/version.h")
[ -n "$version" ] || { echo "man-build: no PUSH_VERSION in shared/version.h" >&2; exit 1; }
# Reproducible: the changelog's date in a package build, else the last commit's.
if [ -n "${SOURCE_DATE_EPOCH:-}" ]; then
	date=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%d)
else
	date=$(git -C "$top" log -1 --format=%cs 2>/dev/null || date -u -r "$top/shared/version.h" +%Y-%m-%d)
fi
conf=$("$daemon" -h | sed -n 's/.*configuration file (default \(.*\))$/\1/p')
[ -n "$conf" ] || conf=/etc/push-service/conf.yaml

keys=$(mktemp)
trap 'rm -f "$keys" "$keys.roff"' EXIT
"$daemon" -k > "$keys"
# One .TP entry per key. Columns come from the header line ("# key default reload
# meaning"; any further column, e.g. a range, is shown too); only the last column
# may hold spaces.
awk '
function lit(s) { gsub(/\\/, "\\e", s); gsub(/-/, "\\-", s); return s }
function txt(s) { gsub(/\\/, "\\e", s); if (s ~ /^[.'\'']/) s = "\\&" s; return s }
NR == 1 {
	if ($1 != "#") { print "man-build: ws-daemon -k printed no header" > "/dev/stderr"; exit 1 }
	n = NF - 1
	for (i = 2; i <= NF; i++) col[i - 1] = $i
	next
}
NF == 0 { next }
{
	line = $0
	for (i = 1; i < n; i++) {
		match(line, /^[ \t]*[^ \t]+/)
		f[i] = substr(line, 1, RLENGTH); sub(/^[ \t]+/, "", f[i])
		line = substr(line, RLENGTH + 1)
	}
	sub(/^[ \t]+/, "", line); f[n] = line
	extra = ""
	for (i = 1; i <= n; i++) {
		if (col[i] == "key") name = f[i]
		else if (col[i] == "default") def = f[i]
		else if (col[i] == "reload") rel = f[i]
		else if (col[i] == "meaning") meaning = f[i]
		else if (f[i] != "-" && f[i] != "") extra = extra "; " col[i] " \\fB" lit(f[i]) "\\fR"
	}
	if (def == "(none)") d = "none"
	else if (def == "\"\"") d = "empty"
	else d = "\\fB" lit(def) "\\fR"
	print ".TP"
	print ".B " lit(name)
	print "Default " d "; " (rel == "live" ? "reloadable (\\fBlive\\fR)" : "needs a \\fBrestart\\fR") extra "."
	print ".br"
	print txt(meaning) (meaning ~ /[.)]$/ ? "" : ".")
	count++
}
END { if (count == 0) { print "man-build: ws-daemon -k listed no keys" > "/dev/stderr"; exit 1 } }
' "$keys" > "$keys.roff"

mkdir -p "$out"
fill() {
	sed -e "s|@VERSION@|$version|g" -e "s|@DATE@|$date|g" \
	    -e "s|@CONF@|$(printf '%s' "$conf" | sed 's/-/\\\\-/g')|g" "$1"
}
fill "$top/man/ws-daemon.8.in" > "$out/ws-daemon.8"
fill "$top/man/push-api.8.in" > "$out/push-api.8"
# @KEYS@ stands alone on its line; the generated block replaces it.
fill "$top/man/push-service.yaml.5.in" |
	awk -v f="$keys.roff" '$0 == "@KEYS@" { while ((getline l < f) > 0) print l; next } { print }' \
	> "$out/push-service.yaml.5"
