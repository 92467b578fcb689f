#!/bin/sh
# `make run`: ws-daemon plus a private lighttpd configured from conf.yaml, in the
# foreground with logs on the terminal; Ctrl-C stops both.
set -eu
conf=$1
bin=$2
top=$(cd "$(dirname "$0")/.." && pwd)

"$bin/ws-daemon" -c "$conf" -t >/dev/null
run=$("$bin/ws-daemon" -c "$conf" -g run_dir)
addr=$("$bin/ws-daemon" -c "$conf" -g addr)
sock=$("$bin/ws-daemon" -c "$conf" -g ipc_socket)
mkdir -p "$run"
"$top/scripts/lighttpd-conf.sh" "$conf" "$bin" > "$run/lighttpd.conf"
lighttpd -tt -f "$run/lighttpd.conf"

dpid=""; lpid=""
stop() {
	trap - INT TERM EXIT
	[ -n "$lpid" ] && kill "$lpid" 2>/dev/null || true
	[ -n "$dpid" ] && kill "$dpid" 2>/dev/null || true
	wait 2>/dev/null || true
	echo "push service stopped"
	exit 0
}
trap stop INT TERM EXIT

"$bin/ws-daemon" -c "$conf" &
dpid=$!
i=0
while [ ! -S "$sock" ]; do
	i=$((i + 1))
	if [ $i -gt 50 ] || ! kill -0 "$dpid" 2>/dev/null; then
		echo "ws-daemon did not start" >&2
		exit 1
	fi
	sleep 0.1
done
lighttpd -D -f "$run/lighttpd.conf" &
lpid=$!
echo "push service on http://$addr  (/access, /push, /ws)  — Ctrl-C stops it"
# Either process ending ends the service.
while kill -0 "$dpid" 2>/dev/null && kill -0 "$lpid" 2>/dev/null; do
	sleep 0.5
done
echo "a component exited; stopping" >&2
exit 1
