#!/bin/sh
# SPDX-License-Identifier: MIT
# `make run`: ws-daemon plus a private web server (lighttpd, or Apache or nginx
# with a push-api pool when WEB=apache or WEB=nginx) configured from conf.yaml, in
# the foreground with logs on the terminal; Ctrl-C stops everything.
# On a loopback addr it also serves the demo page, /demo/, whose backend hands out
# access keys and pushes without the password (PUSH_DEMO=0 leaves it out; `demo:
# true` in the config turns it on whatever the address).
# usage: scripts/run.sh CONF_YAML BIN_DIR [lighttpd|apache|nginx]
set -eu
conf=$1
bin=$2
web=${3:-lighttpd}
top=$(cd "$(dirname "$0")/.." && pwd)
# Read by the web-server config scripts and push-api: honoured on loopback only.
PUSH_DEMO=${PUSH_DEMO:-1}
export PUSH_DEMO

"$bin/ws-daemon" -c "$conf" -t >/dev/null
run=$("$bin/ws-daemon" -c "$conf" -g run_dir)
addr=$("$bin/ws-daemon" -c "$conf" -g addr)
sock=$("$bin/ws-daemon" -c "$conf" -g ipc_socket)
mkdir -p "$run"
case "$web" in
lighttpd)
	# The demo's own push-api processes get PUSH_DEMO from the config; the
	# others, and lighttpd, do without it (env -u below).
	"$top/scripts/lighttpd-conf.sh" "$conf" "$bin" > "$run/lighttpd.conf"
	lighttpd -tt -f "$run/lighttpd.conf"
	;;
apache)
	"$top/scripts/apache-conf.sh" "$conf" "$bin" > "$run/apache.conf"
	apache2 -t -f "$run/apache.conf"
	;;
nginx)
	"$top/scripts/nginx-conf.sh" "$conf" "$bin" > "$run/nginx.conf"
	nginx -q -t -e stderr -p "$run/nginx" -c "$run/nginx.conf"
	;;
*)
	echo "WEB must be lighttpd, apache or nginx, not '$web'" >&2
	exit 2
	;;
esac

pids=""
rc=0
# Ctrl-C is a normal stop (0); a component that fails makes `make run` fail.
stop() {
	trap - INT TERM EXIT
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	echo "push service stopped"
	exit $rc
}
fail() {
	echo "make run: $*" >&2
	rc=1
	stop
}
trap stop INT TERM
trap 'rc=$?; stop' EXIT

# Waits (bounded) until `check` succeeds while every started component lives.
wait_for() {
	what=$1
	shift
	i=0
	until "$@"; do
		i=$((i + 1))
		[ $i -le 100 ] || fail "$what did not come up within 10 s"
		for p in $pids; do
			kill -0 "$p" 2>/dev/null || fail "$what: a component exited while starting"
		done
		sleep 0.1
	done
}
# Port of host:port listened on by process $2 (not by whoever else holds it).
listening() { ss -Hltnp "sport = :${1##*:}" | grep -q "pid=$2,"; }
# The daemon's workers (its children) listen, not the supervisor.
ws_listening() {
	for c in $(cat /proc/"$daemon"/task/*/children 2>/dev/null); do
		listening "$1" "$c" && return 0
	done
	return 1
}
all_sockets() {
	for s in $sock; do
		[ -S "$s" ] || return 1
	done
}

"$bin/ws-daemon" -c "$conf" &
daemon=$!
pids="$daemon"
ws_addr=$("$bin/ws-daemon" -c "$conf" -g ws_addr)
wait_for "ws-daemon (every worker's socket)" all_sockets
wait_for "ws-daemon on $ws_addr" ws_listening "$ws_addr"
if [ "$web" = apache ] || [ "$web" = nginx ]; then
	"$bin/push-api" -c "$conf" -s - &
	pids="$! $pids"
	wait_for "push-api" listening "$("$bin/ws-daemon" -c "$conf" -g fcgi_addr)" $!
fi
if [ "$web" = apache ]; then
	apache2 -DFOREGROUND -f "$run/apache.conf" &
elif [ "$web" = nginx ]; then
	nginx -e stderr -p "$run/nginx" -c "$run/nginx.conf" &
else
	env -u PUSH_DEMO lighttpd -D -f "$run/lighttpd.conf" &
fi
pids="$! $pids"
wait_for "$web on $addr" listening "$addr" $!
scheme=http
[ -n "$("$bin/ws-daemon" -c "$conf" -g tls_cert)" ] && scheme=https
echo "push service on $scheme://$addr via $web (/access, /push, /ws) - Ctrl-C stops it"
if (. "$top/scripts/conf-lib.sh"; demo_on); then
	echo "demo page: $scheme://$addr/demo/ (its /demo/api/ routes need no password: loopback only)"
fi
# Any component ending ends the service, as a failure.
while :; do
	for p in $pids; do
		kill -0 "$p" 2>/dev/null || fail "a component exited; stopping"
	done
	sleep 0.5
done
