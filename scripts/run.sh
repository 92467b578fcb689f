#!/bin/sh
# `make run`: ws-daemon plus a private web server (lighttpd, or Apache with a
# push-api pool when WEB=apache) configured from conf.yaml, in the foreground with
# logs on the terminal; Ctrl-C stops everything.
# usage: scripts/run.sh CONF_YAML BIN_DIR [lighttpd|apache]
set -eu
conf=$1
bin=$2
web=${3:-lighttpd}
top=$(cd "$(dirname "$0")/.." && pwd)

"$bin/ws-daemon" -c "$conf" -t >/dev/null
run=$("$bin/ws-daemon" -c "$conf" -g run_dir)
addr=$("$bin/ws-daemon" -c "$conf" -g addr)
sock=$("$bin/ws-daemon" -c "$conf" -g ipc_socket)
mkdir -p "$run"
case "$web" in
lighttpd)
	"$top/scripts/lighttpd-conf.sh" "$conf" "$bin" > "$run/lighttpd.conf"
	lighttpd -tt -f "$run/lighttpd.conf"
	;;
apache)
	"$top/scripts/apache-conf.sh" "$conf" "$bin" > "$run/apache.conf"
	apache2 -t -f "$run/apache.conf"
	;;
*)
	echo "WEB must be lighttpd or apache, not '$web'" >&2
	exit 2
	;;
esac

pids=""
stop() {
	trap - INT TERM EXIT
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	echo "push service stopped"
	exit 0
}
trap stop INT TERM EXIT

"$bin/ws-daemon" -c "$conf" &
pids="$!"
i=0
# One worker: ipc_socket itself; several: ipc_socket.0, .1, ...
while [ ! -S "$sock" ] && [ ! -S "$sock.0" ]; do
	i=$((i + 1))
	if [ $i -gt 50 ] || ! kill -0 "$pids" 2>/dev/null; then
		echo "ws-daemon did not start" >&2
		exit 1
	fi
	sleep 0.1
done
if [ "$web" = apache ]; then
	"$bin/push-api" -c "$conf" -s - &
	pids="$! $pids"
	apache2 -DFOREGROUND -f "$run/apache.conf" &
else
	lighttpd -D -f "$run/lighttpd.conf" &
fi
pids="$! $pids"
echo "push service on http://$addr via $web (/access, /push, /ws) - Ctrl-C stops it"
# Any component ending ends the service.
while :; do
	for p in $pids; do
		if ! kill -0 "$p" 2>/dev/null; then
			echo "a component exited; stopping" >&2
			exit 1
		fi
	done
	sleep 0.5
done
