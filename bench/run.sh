#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Benchmark harness: builds the service and bench/loadgen, runs each scenario against
# this service (behind lighttpd, or behind nginx for single /push), ws-daemon alone
# and nginx+nchan, writes docs/benchmarks.*.
# usage: bench/run.sh            full run (3 runs per cell, < 20 min)
#        QUICK=1 bench/run.sh    subset, 1 run per cell (< 2 min)
set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$TOP/bench
DOCS=${BENCH_DOCS:-$TOP/docs}   # override only to try the harness without touching docs/
BIN=$TOP/build/bin
LOADGEN=$TOP/build/bench/loadgen
QUICK=${QUICK:-0}
PASSWORD=bench-pw
SERVER_CPU=0
LOAD_CPU=1
WORK=$(mktemp -d /tmp/push-bench.XXXXXX)
RESULTS=$WORK/results.jsonl
T_START=$(date +%s)
if [ "$QUICK" = 1 ]; then CMDLINE="QUICK=1 bench/run.sh"; else CMDLINE="bench/run.sh"; fi
[ "$QUICK" = 1 ] && RUNS=1 || RUNS=3

log() { printf '[bench %4ds] %s\n' "$(( $(date +%s) - T_START ))" "$*" >&2; }

# ---- processes we started: stopped on any exit -------------------------------------
STARTED=()
stop_started() {
	local p
	for p in "${STARTED[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${STARTED[@]}"; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	STARTED=()
}
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	stop_started
	if [ "${KEEP_WORK:-0}" = 1 ]; then log "work dir kept: $WORK"; else rm -rf "$WORK"; fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- dependencies (apt-get only when something is missing) -------------------------
need_pkgs="gcc make pkg-config libfcgi-dev libwebsockets-dev libwebsockets-evlib-uv libuv1-dev libhiredis-dev
	libjansson-dev libyaml-dev libssl-dev uthash-dev libsystemd-dev lighttpd
	libnginx-mod-nchan gnuplot-nox util-linux iproute2 redis-server"
missing=""
for p in $need_pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
command -v nginx >/dev/null || missing="$missing nginx-light"
command -v python3 >/dev/null || missing="$missing python3"
if [ -n "$missing" ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "missing packages:$missing (run as root or: sudo apt-get install$missing)" >&2
		exit 1
	fi
	log "installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null ||
		{ apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing >/dev/null; }
fi
NCHAN_SO=""
for f in /usr/lib/nginx/modules/ngx_nchan_module.so /usr/share/nginx/modules/ngx_nchan_module.so; do
	[ -f "$f" ] && { NCHAN_SO=$f; break; }
done
[ -n "$NCHAN_SO" ] || { echo "ngx_nchan_module.so not found" >&2; exit 1; }

# ---- build ----------------------------------------------------------------------------
log "building the service and loadgen"
make -C "$TOP" -s all >/dev/null
make -C "$BENCH" -s >/dev/null
[ "$(nproc)" -ge 2 ] || { SERVER_CPU=0; LOAD_CPU=0; log "one CPU only: server and load share it"; }

# Ports below the ephemeral range (which the load's 10k client sockets use up), not
# listened on now; a start that still collides is retried with new ports.
free_port() {
	local p i
	for i in $(seq 50); do
		p=$(( 20000 + RANDOM % 12000 ))
		ss -Hltn "sport = :$p" 2>/dev/null | grep -q . || { echo "$p"; return 0; }
	done
	echo "no free port" >&2
	return 1
}
wait_port() { # port [tries]
	local i
	for i in $(seq "${2:-100}"); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# ---- targets ----------------------------------------------------------------------------
# Each start_* sets HTTP_ADDR, WS_ADDR, IPC, CONF and SPIDS (server pids, comma separated).
write_conf() { # dir
	local d=$1
	HTTP_PORT=$(free_port); WS_PORT=$(free_port); FCGI_PORT=$(free_port)
	rm -rf "$d/run"
	mkdir -p "$d/run"
	cat > "$d/conf.yaml" <<EOF
addr: "127.0.0.1:$HTTP_PORT"
ws_addr: "127.0.0.1:$WS_PORT"
fcgi_addr: "127.0.0.1:$FCGI_PORT"
password: "$PASSWORD"
run_dir: "$d/run"
ipc_socket: "$d/run/ws-daemon.sock"
fcgi_socket: "$d/run/push-api.sock"
access_key_ttl: 3600
# push-api processes: 2 (the default is 4, which ackwait runs: FCGI_PROCS=4)
fcgi_procs: ${FCGI_PROCS:-2}
# One worker (the default is one per CPU): every server process is pinned to one
# CPU, and the datagram injector talks to a single ipc_socket. hold100k sets 6:
# 100k sockets need several processes under the 20,000 open files limit.
workers: ${WORKERS:-1}
log_level: warn
EOF
	# History: the defaults (history_size 64, ...) unless a target or scenario says
	# otherwise: service-wsd-nohist sets history_size 0 (the behaviour before
	# history), history10k and resume10k set offline_messages (CONF_EXTRA).
	[ "${NOHIST:-0}" = 1 ] && echo "history_size: 0" >> "$d/conf.yaml"
	[ -n "${CONF_EXTRA:-}" ] && printf '%s\n' "$CONF_EXTRA" >> "$d/conf.yaml"
	CONF=$d/conf.yaml
	IPC=$d/run/ws-daemon.sock
	HTTP_ADDR=127.0.0.1:$HTTP_PORT
	WS_ADDR=127.0.0.1:$WS_PORT
}

start_daemon() { # dir
	local d=$1 i kids sock
	write_conf "$d"
	taskset -c $SERVER_CPU "$BIN/ws-daemon" -c "$CONF" >>"$d/daemon.log" 2>&1 &
	DAEMON_PID=$!
	STARTED+=("$DAEMON_PID")
	# The ipc socket appears only after the WebSocket listener is up.
	# With several workers each has its own socket: ipc_socket.0 ... (the last is up last).
	sock=$IPC
	[ "${WORKERS:-1}" -gt 1 ] && sock=$IPC.$(( WORKERS - 1 ))
	for i in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
	if ! [ -S "$sock" ] || ! kill -0 "$DAEMON_PID" 2>/dev/null || ! wait_port "$WS_PORT"; then
		tail -3 "$d/daemon.log" >&2
		return 1
	fi
	sleep 0.2
	kids=$(pgrep -P "$DAEMON_PID" | paste -sd, - || true)
	SPIDS=$DAEMON_PID${kids:+,$kids}
	DPIDS=$SPIDS   # ws-daemon's own processes (its RSS alone: --daemon-pids)
}

# Every descendant of pid (push-api under lighttpd, fcgi-floor's echo peers).
descendants() {
	local k
	for k in $(pgrep -P "$1" || true); do printf ',%s' "$k"; descendants "$k"; done
}

start_floor() { # dir: lighttpd + bench/fcgi-floor (the FastCGI hop alone)
	local d=$1 lpid
	HTTP_PORT=$(free_port)
	cat > "$d/lighttpd.conf" <<EOF
server.document-root = "$d"
server.bind = "127.0.0.1"
server.port = $HTTP_PORT
server.modules = ( "mod_fastcgi" )
server.errorlog = "$d/lighttpd.log"
server.max-keep-alive-requests = 1000000
fastcgi.server = ( "/push" => (( "socket" => "$d/floor.sock",
	"bin-path" => "$TOP/build/bench/fcgi-floor", "max-procs" => 2, "check-local" => "disable" )) )
EOF
	taskset -c $SERVER_CPU lighttpd -D -f "$d/lighttpd.conf" >>"$d/lighttpd.out" 2>&1 &
	lpid=$!
	STARTED+=("$lpid")
	wait_port "$HTTP_PORT" || { tail -3 "$d/lighttpd.out" >&2; return 1; }
	sleep 0.3
	SPIDS=$lpid$(descendants "$lpid")
	HTTP_ADDR=127.0.0.1:$HTTP_PORT
	WS_ADDR=$HTTP_ADDR
}

start_service() { # dir: ws-daemon + lighttpd (which spawns push-api)
	local d=$1 lpid
	start_daemon "$d" || return 1
	"$TOP/scripts/lighttpd-conf.sh" "$CONF" "$BIN" > "$d/run/lighttpd.conf"
	# Bench-only: room for 1,000+ proxied WebSockets (2 fds each in lighttpd).
	# Keep-alive limit raised like nginx's below, so publishers do not reconnect.
	printf 'server.max-fds = 16384\nserver.max-connections = 8000\nserver.max-keep-alive-requests = 1000000\n' \
		>> "$d/run/lighttpd.conf"
	taskset -c $SERVER_CPU lighttpd -D -f "$d/run/lighttpd.conf" >>"$d/lighttpd.log" 2>&1 &
	lpid=$!
	STARTED+=("$lpid")
	wait_port "$HTTP_PORT" || { tail -3 "$d/lighttpd.log" >&2; return 1; }
	sleep 0.2
	kill -0 "$lpid" 2>/dev/null || { tail -3 "$d/lighttpd.log" >&2; return 1; }
	SPIDS=$SPIDS,$lpid$(descendants "$lpid")
	WS_ADDR=$HTTP_ADDR   # subscribers go through lighttpd too
}

start_nginx() { # dir: ws-daemon + push-api pool (push-api -s -) + nginx, one worker
	local d=$1 ppid npid
	start_daemon "$d" || return 1
	taskset -c $SERVER_CPU "$BIN/push-api" -c "$CONF" -s - >>"$d/push-api.log" 2>&1 &
	ppid=$!
	STARTED+=("$ppid")
	wait_port "$FCGI_PORT" || { tail -3 "$d/push-api.log" >&2; return 1; }
	"$TOP/scripts/nginx-conf.sh" "$CONF" "$BIN" > "$d/run/nginx.conf"
	# Keep-alive limit raised like nchan's below, so publishers do not reconnect.
	sed -i 's/^http {$/http {\n\tkeepalive_requests 1000000;/' "$d/run/nginx.conf"
	taskset -c $SERVER_CPU nginx -e "$d/nginx.log" -p "$d/run/nginx" -c "$d/run/nginx.conf" \
		>>"$d/nginx.log" 2>&1 &
	npid=$!
	STARTED+=("$npid")
	wait_port "$HTTP_PORT" || { tail -3 "$d/nginx.log" >&2; return 1; }
	sleep 0.2
	kill -0 "$npid" 2>/dev/null || { tail -3 "$d/nginx.log" >&2; return 1; }
	SPIDS=$SPIDS,$ppid$(descendants "$ppid"),$npid$(descendants "$npid")
	WS_ADDR=127.0.0.1:$WS_PORT   # subscribers on ws-daemon's port, as service-wsd
}

start_nchan() { # dir: nginx, one worker, nchan publisher /push and subscriber /ws
	local d=$1 npid wk
	HTTP_PORT=$(free_port)
	mkdir -p "$d/tmp"
	cat > "$d/nginx.conf" <<EOF
load_module $NCHAN_SO;
worker_processes 1;
worker_rlimit_nofile 20000;
daemon off;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 19000; }
http {
	access_log off;
	keepalive_requests 1000000;
	client_body_temp_path $d/tmp/body;
	proxy_temp_path $d/tmp/proxy;
	fastcgi_temp_path $d/tmp/fastcgi;
	uwsgi_temp_path $d/tmp/uwsgi;
	scgi_temp_path $d/tmp/scgi;
	server {
		listen 127.0.0.1:$HTTP_PORT;
		location = /push { nchan_publisher; nchan_channel_id \$arg_uid; nchan_message_buffer_length 1; }
		location = /ws { nchan_subscriber websocket; nchan_channel_id \$arg_uid; }
	}
}
EOF
	taskset -c $SERVER_CPU nginx -e "$d/error.log" -p "$d" -c "$d/nginx.conf" >>"$d/nginx.out" 2>&1 &
	npid=$!
	STARTED+=("$npid")
	wait_port "$HTTP_PORT" || { tail -3 "$d/error.log" >&2; return 1; }
	sleep 0.2
	kill -0 "$npid" 2>/dev/null || { tail -3 "$d/error.log" >&2; return 1; }
	wk=$(pgrep -P "$npid" | paste -sd, - || true)
	SPIDS=$npid${wk:+,$wk}
	HTTP_ADDR=127.0.0.1:$HTTP_PORT
	WS_ADDR=$HTTP_ADDR
}

# Two hosts joined by one redis-server (engine: redis), what a deployment of several
# push hosts runs: each host its own dir, conf, ws-daemon, lighttpd and push-api, on
# its own ports of 127.0.0.1; the same password (so a key from either host opens a
# tab on both); one redis-server without persistence. Every process -- both hosts and
# redis-server -- on the server CPU, as the single host of the memory-engine rows: the
# comparison is at equal server CPU. One redis-server rather than two shards: on one
# core a second shard only adds context switches, and one uid's push involves one
# shard either way. Sets HTTP_ADDR/WS_ADDR (host 1), HTTP2_ADDR/WS2_ADDR (host 2),
# SPIDS (both hosts and Redis), DPIDS (both ws-daemons), RPIDS (redis-server).
start_redis2() { # dir
	local d=$1 rport rpid i
	rport=$(free_port)
	mkdir -p "$d/redis" "$d/h1" "$d/h2"
	taskset -c $SERVER_CPU redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no \
		--daemonize no --dir "$d/redis" --logfile "$d/redis/redis.log" >>"$d/redis/redis.out" 2>&1 &
	rpid=$!
	STARTED+=("$rpid")
	for i in $(seq 100); do
		[ "$(redis-cli -p "$rport" ping 2>/dev/null)" = PONG ] && break
		sleep 0.05
	done
	if ! [ "$(redis-cli -p "$rport" ping 2>/dev/null)" = PONG ] || ! kill -0 "$rpid" 2>/dev/null; then
		tail -3 "$d/redis/redis.log" >&2
		return 1
	fi
	local nl=$'\n' extra
	extra="engine: redis${nl}redis_servers: \"127.0.0.1:$rport\"${CONF_EXTRA:+$nl$CONF_EXTRA}"
	CONF_EXTRA=$extra start_service "$d/h1" || return 1
	local h1http=$HTTP_ADDR h1ws=127.0.0.1:$WS_PORT h1spids=$SPIDS h1dpids=$DPIDS
	CONF_EXTRA=$extra start_service "$d/h2" || return 1
	HTTP2_ADDR=$HTTP_ADDR; WS2_ADDR=127.0.0.1:$WS_PORT
	HTTP_ADDR=$h1http; WS_ADDR=$h1ws
	CONF=$d/h1/conf.yaml
	SPIDS=$h1spids,$SPIDS,$rpid
	DPIDS=$h1dpids,$DPIDS
	RPIDS=$rpid
}

# Appends one result line to $RESULTS with its run number and target name.
record() { # json run target
	printf '%s\n' "$1" | python3 -c '
import json,sys
r=json.loads(sys.stdin.read()); r["run"]=int(sys.argv[1]); r["target"]=sys.argv[2]
print(json.dumps(r))' "$2" "$3" >> "$RESULTS"
}

# ---- one measured run -----------------------------------------------------------------
RUN_NO=0
bench_run() { # scenario target run -- loadgen args...
	local scen=$1 tgt=$2 run=$3 d line
	shift 4
	RUN_NO=$((RUN_NO + 1))
	d=$WORK/$scen-$tgt-$run
	mkdir -p "$d"
	CONF=""; DPIDS=""; RPIDS=""; HTTP2_ADDR=""; WS2_ADDR=""
	local try ok=0
	for try in 1 2 3; do
		case $tgt in
		service) start_service "$d" && ok=1 ;;
		# /push through lighttpd, subscribers on the daemon's own port
		service-wsd) start_service "$d" && WS_ADDR=127.0.0.1:$WS_PORT && ok=1 ;;
		# the same with history_size: 0 (no history: the behaviour before it)
		service-wsd-nohist) NOHIST=1 start_service "$d" && WS_ADDR=127.0.0.1:$WS_PORT && ok=1 ;;
		daemon) start_daemon "$d" && ok=1 ;;
		daemon6) WORKERS=6 start_daemon "$d" && ok=1 ;;
		floor) start_floor "$d" && ok=1 ;;
		nchan) start_nchan "$d" && ok=1 ;;
		# /push through nginx (push-api pool), subscribers on the daemon's own port
		nginx-wsd) start_nginx "$d" && ok=1 ;;
		# two hosts (engine redis) and one redis-server: subscribers on both hosts'
		# ws-daemon ports, /push to both hosts' lighttpd, alternating
		redis2) start_redis2 "$d" && ok=1 ;;
		esac
		[ $ok = 1 ] && break
		stop_started
		log "  $scen/$tgt: start failed (try $try)"
	done
	[ $ok = 1 ] || return 0
	local lt=$tgt
	case $tgt in service-wsd|service-wsd-nohist|nginx-wsd|floor|redis2) lt=service ;; daemon6) lt=daemon ;; esac
	local targs=(--target "$lt" --http "$HTTP_ADDR" --ws "$WS_ADDR" --password "$PASSWORD"
		--pids "$SPIDS" --server-cpu "$SERVER_CPU" --scenario "$scen")
	[ "$lt" = daemon ] && targs+=(--ipc "$IPC")
	# conf.yaml: keys minted locally (target daemon, or --mint); ws-daemon's pids:
	# its RSS apart from lighttpd's and push-api's (daemon_rss_*)
	[ -n "$CONF" ] && targs+=(--conf "$CONF")
	[ -n "$DPIDS" ] && targs+=(--daemon-pids "$DPIDS")
	# redis2: the second host, and redis-server's CPU apart (redis_cpu_us_per_push)
	[ -n "$WS2_ADDR" ] && targs+=(--ws2 "$WS2_ADDR" --http2 "$HTTP2_ADDR")
	[ -n "$RPIDS" ] && targs+=(--redis-pids "$RPIDS")
	# 100k closed connections stay in TIME_WAIT for a minute and slow down the
	# next run's connects: each hold100k run takes its own 8 source addresses.
	[ "$scen" = hold100k ] && targs+=(--src-base $(( 2 + 8 * (run - 1) )))
	# resume10k: 4 addresses to connect, the next 4 to reconnect, fresh ones per run
	# (127.0.0.100-123: no other scenario's TIME_WAIT there)
	[ "$scen" = resume10k ] && targs+=(--src-base $(( 100 + 8 * (run - 1) )))
	# broadcast10k: 4 addresses per target and run (127.0.0.130-153)
	if [ "$scen" = broadcast10k ]; then
		local sb=$(( 130 + 8 * (run - 1) ))
		[ "$tgt" = nchan ] && sb=$(( sb + 4 ))
		targs+=(--src-base "$sb")
	fi
	if line=$(timeout 180 taskset -c $LOAD_CPU "$LOADGEN" "${targs[@]}" "$@" 2>"$d/loadgen.err"); then
		:
	else
		log "  $scen/$tgt run $run: loadgen failed (rc $?): $(tail -3 "$d/loadgen.err" | tr '\n' ' ')"
	fi
	# ws-daemon's error and warning lines during the run (redis2: both hosts' logs)
	local dlogs=() dl
	for dl in "$d/daemon.log" "$d"/h*/daemon.log; do [ -f "$dl" ] && dlogs+=("$dl"); done
	if [ -n "$line" ] && [ ${#dlogs[@]} -gt 0 ]; then
		line=$(printf '%s' "$line" | python3 -c '
import json,re,sys
r=json.load(sys.stdin); e=w=0
for p in sys.argv[1:]:
 for l in open(p,errors="replace"):
  e+=bool(re.search(r"\] error: ",l)); w+=bool(re.search(r"\] warn: ",l))
r["daemon_log_errors"]=e; r["daemon_log_warnings"]=w
print(json.dumps(r))' "${dlogs[@]}")
	fi
	if [ -n "$line" ]; then
		record "$line" "$run" "$tgt"
		log "  $scen/$tgt run $run: $(printf '%s' "$line" | python3 -c '
import json,sys
r=json.load(sys.stdin)
b="" if r.get("batch",1)<=1 else " (%.0f req/s x %d)" % (r["req_rate"],r["batch"])
x=""
if r.get("stored"):
 x+=", stored %d (frame %.1fB, daemon RSS %.1fB/msg)" % (r["stored"],r["frame_bytes"],r["rss_bytes_per_stored"])
if "hist_messages" in r:
 x+=", history %d msgs %.1fB/msg evicted %d" % (r["hist_messages"],r["hist_bytes_per_msg"],r["hist_evicted"])
if "storm_k" in r:
 x+=("; storm: %d/%d done in %.2fs (handshakes %.2fs), recovered %d, epoch changed %d, gaps %d dup %d missing %d, "
  "daemon RSS %d KiB filled, peak %d KiB") % (r["storm_done"],r["subs"],r["storm_s"],r["storm_connect_s"],
  r["storm_recovered"],r["storm_epoch_changed"],r["storm_gaps"],r["storm_dup"],r["storm_missing"],
  r["daemon_rss_filled_kb"],r.get("daemon_rss_peak_kb",-1))
if r.get("broadcast"):
 x+=", /broadcast answered p50 %dus p99 %dus, reached %.0f per broadcast, number_bad %d" % (
  r["req_p50_us"],r["req_p99_us"],r["reached_per_req"],r["number_bad"])
if "ack_conns" in r:
 x+=("; without ack waiters %.0f push/s p99 %dus (request p99 %dus); with %.2f waiting (limit %d of %d procs): "
  "%.0f push/s p99 %dus (request p99 %dus); ack pushes: %d unacked (wait p50 %.0fms), %d acked, %d got 429 "
  "(answered in max %dus), %d other") % (r["base_push_rate"],r["base_p99_us"],r["base_req_p99_us"],
  r["ack_waiting_avg"],r["ack_waiters_max"],r["fcgi_procs"],r["held_push_rate"],r["held_p99_us"],
  r["held_req_p99_us"],r["ack_unacked"],r["ack_wait_p50_ms"],r["ack_acked"],r["ack_429"],
  r["ack_429_max_us"],r["ack_other"])
if "redis_cpu_us_per_push" in r:
 x+=", redis-server %.1fus/push" % r["redis_cpu_us_per_push"]
if r.get("hosts"):
 x+=(", 2 hosts: %d subs and %d pushes on host 2, %d uids on both; answers counted %.3f of %.3f tabs/push, "
  "%d delivered though refused, %d requests >= 0.5s") % (r["subs_host2"],r["pushes_host2"],r["uids_both_hosts"],
  r["reached_per_push"],r["expected_per_push"],r["delivered_refused"],r["req_slow"])
if r.get("daemon_log_warnings") or r.get("daemon_log_errors"):
 x+=", ws-daemon log: %d warn %d error lines" % (r["daemon_log_warnings"],r["daemon_log_errors"])
print("conn %d/%d in %.2fs, sent %d ok %d err %d, recv %d lost %d dup %d ooo %d, %.0f push/s%s %.0f deliv/s, p50 %dus p99 %dus, rss/conn %.0fB%s" % (
 r["connected"],r["subs"],r["connect_s"],r["sent"],r["push_ok"],r["push_err"],r["unique"],r["lost"],r["dup"],r["ooo"],
 r["push_rate"],b,r["deliveries_per_s"],r["p50_us"],r["p99_us"],r["rss_per_conn_bytes"],x))')"
	fi
	grep -v '^$' "$d/loadgen.err" | head -3 | sed 's/^/    /' >&2 || true
	# ws-daemon's first warnings and errors (redis2: each host's), at most 3 lines each
	for dl in "${dlogs[@]}"; do
		grep -E '\] (warn|error): ' "$dl" | head -3 | sed "s|^|    ${dl#"$d"/}: |" >&2 || true
	done
	stop_started
}

scenario() { # name targets -- loadgen args...
	local name=$1 targets=$2 t r
	shift 3
	# ONLY="a b" runs just those scenarios (development aid; the doc says what ran).
	if [ -n "${ONLY:-}" ] && [[ " $ONLY " != *" $name "* ]]; then return 0; fi
	log "scenario $name: $*"
	for r in $(seq $RUNS); do
		for t in $targets; do bench_run "$name" "$t" "$r" -- "$@"; done
	done
}

# The kernel's cost of one write() per delivery (bench/sendfloor.c): the writer on
# the server CPU, the reader on the load CPU, 1,000 loopback sockets, 110-byte frames.
floor_scenario() {
	local r line
	if [ -n "${ONLY:-}" ] && [[ " $ONLY " != *" floor1k "* ]]; then return 0; fi
	log "scenario floor1k: sendfloor --conns 1000 --bytes 110 --duration $DUR"
	for r in $(seq $RUNS); do
		line=$("$TOP/build/bench/sendfloor" --conns 1000 --bytes 110 --duration "$DUR" \
			--write-cpu $SERVER_CPU --read-cpu $LOAD_CPU) || { log "  sendfloor failed"; continue; }
		record "$line" "$r" kernel
		log "  floor1k/kernel run $r: $line"
	done
}

log "work dir $WORK; server on CPU $SERVER_CPU, load on CPU $LOAD_CPU (taskset)"
if [ "$QUICK" = 1 ]; then
	DUR=3; LDUR=3
else
	DUR=5; LDUR=10
fi
# Full runs compare every setup; QUICK keeps one of each kind.
if [ "$QUICK" = 1 ]; then SVC="service-wsd"; else SVC="service service-wsd"; fi
# Idle connections: RSS per connection and connect (handshake) rate, direct to the
# daemon (lighttpd would need 2 fds per proxied socket: 20k > the 20,000 fd limit).
scenario idle10k "daemon nchan" -- --subs 10000 --procs 2 --src-ips 4 --pub none --idle 1
floor_scenario
# The FastCGI hop alone: lighttpd + a trivial libfcgi responder doing one datagram
# round trip per request; nobody subscribed (--subs 0).
scenario fcgifloor "floor" -- --subs 0 --uids 1000 --pub http --inflight 32 --duration $DUR
# Flat-out single /push with 1,000 subscribers (1 uid each), 32 requests in flight;
# behind lighttpd, behind nginx (no FastCGI connection reuse: see README) and nchan.
# Every target of this service runs the default history (history_size 64: each push
# is also kept for resume); service-wsd-nohist is service-wsd with history_size: 0,
# run next to it for the cost of history.
scenario push1k "$SVC service-wsd-nohist nginx-wsd nchan" -- --subs 1000 --pub http --inflight 32 --duration $DUR
# Batch /push (JSON array, 100 messages per request, uids round-robin) flat out, 8
# requests in flight, 1k subscribers; nchan has no batch: the report sets nchan's
# push1k rate beside it. 8 x 100 < 1,000 uids, so no uid is in two requests at once
# (with more, two push-api processes may reorder one uid's messages, like any two
# concurrent pushes). 100 messages are about 10 KB, within max_message_bytes.
scenario batch1k "$SVC" -- --subs 1000 --pub http --batch 100 --inflight 8 --duration $DUR
# Memory per retained message: 20 pushes to each of 10,000 uids nobody is connected
# to (offline_messages: true; history_memory 256 MiB, so nothing is evicted), batch
# /push of 100, contents a 100-character string; ws-daemon's RSS delta / messages
# stored, beside the frame size and push_history_bytes / push_history_messages.
CONF_EXTRA=$'offline_messages: true\nhistory_memory: 268435456' \
	scenario history10k "service-wsd" -- --subs 0 --uids 10000 --pub http --batch 100 \
	--inflight 8 --count 200000 --contents-bytes 100 --duration 60 --metrics
# Resume storm: 10,000 subscribers (1 uid each) connect with since=now (position
# and epoch), disconnect (their processes exit); 20 pushes per uid are stored while
# they are away (batch /push of 100, offline_messages: true, the default history
# bounds); then all 10,000 reconnect at once with since=<last>&epoch=<epoch>.
# Timed until every client has its 20 messages; the replay is checked (recovered,
# epoch, numbers contiguous, none missing or twice). Keys minted from conf.yaml.
# 512 handshakes in flight per load process: with all 5,000 at once the load
# generator's libwebsockets client, not the server, takes seconds longer.
CONF_EXTRA='offline_messages: true' \
	scenario resume10k "service-wsd" -- --subs 10000 --procs 2 --src-ips 4 --pub http \
	--batch 100 --inflight 8 --storm 20 --storm-par 512 --mint --duration 60 --drain 10
# Daemon alone: datagrams injected with ipc_encode_push, 8 in flight (replies beyond
# net.unix.max_dgram_qlen = 10 queued would be dropped by the kernel); one message
# per datagram, then 64 (what push-api sends for a batch).
[ "$QUICK" = 1 ] || scenario ipc1k "daemon" -- --subs 1000 --pub ipc --inflight 8 --duration $DUR
scenario ipc64 "daemon" -- --subs 1000 --pub ipc --batch 64 --inflight 8 --duration $DUR
# Open-loop latency through lighttpd (nchan for comparison in the full run).
if [ "$QUICK" = 1 ]; then LAT_T="service-wsd"; else LAT_T="service-wsd nchan"; fi
scenario lat2k "$SVC ${LAT_T#service-wsd}" -- --subs 1000 --pub http --rate 2000 --inflight 64 --duration $LDUR
scenario lat10k "$LAT_T" -- --subs 1000 --pub http --rate 10000 --inflight 128 --duration $LDUR
# Several hosts joined by Redis (engine: redis) against one host with the memory
# engine, the same load on both: 1,200 subscribers over 1,000 uids, uids b0-b199
# with two tabs (redis2: one on each host, the other uids' one tab on host 1 or 2 by
# parity), /push to lighttpd (redis2: every other publisher connection to host 2);
# flat out (32 in flight), then open loop at 2,000/s (lat2k's rate: well under
# both setups' capacity, so the latency is not queueing). redis2 = 2 hosts + 1
# redis-server, all on the server CPU (start_redis2); service-wsd = the memory
# engine, one host, the same CPU. Redis CPU per push from redis-server's /proc stat.
scenario redis1k "service-wsd redis2" -- --subs 1200 --uids 1000 --pub http --inflight 32 --duration $DUR
scenario redislat2k "service-wsd redis2" -- --subs 1200 --uids 1000 --pub http --rate 2000 \
	--inflight 64 --duration $LDUR
if [ "$QUICK" != 1 ]; then
	# Slow consumers: lat2k again with 1 % of the subscribers never reading.
	scenario slow1k "service-wsd nchan" -- --subs 1000 --pub http --rate 2000 --inflight 64 \
		--duration $LDUR --slow-pct 1
	# Fan-out: one uid, 10,000 connections, 2 pushes/s for 5 s (20k deliveries/s offered:
	# the receiving side on one core tops out near 30k/s, 20/s lost most of them).
	scenario fanout10k "daemon" -- --subs 10000 --uids 1 --procs 2 --src-ips 4 --pub ipc \
		--rate 2 --inflight 8 --duration 5 --drain 10
	scenario fanout10k "nchan" -- --subs 10000 --uids 1 --procs 2 --src-ips 4 --pub http \
		--rate 2 --inflight 8 --duration 5 --drain 10
fi
# Broadcast: POST /broadcast through lighttpd to 10,000 connected uids (1 subscriber
# each, on ws-daemon's port: lighttpd cannot proxy 10k sockets here; keys minted),
# open loop 2 broadcasts/s, one request at a time; beside it nchan's nearest thing,
# one channel with 10,000 subscribers, published to at the same rate (fanout10k's
# setup). 20,000 deliveries/s offered: the receiving side on one core tops out near
# 30k/s, so the server's capacity shows as deliveries per server-CPU-second.
if [ "$QUICK" = 1 ]; then BDUR=3; else BDUR=5; fi
scenario broadcast10k "service-wsd" -- --subs 10000 --procs 2 --src-ips 4 --pub http --broadcast \
	--rate 2 --inflight 1 --duration $BDUR --drain 10 --mint
scenario broadcast10k "nchan" -- --subs 10000 --uids 1 --procs 2 --src-ips 4 --pub http \
	--rate 2 --inflight 1 --duration $BDUR --drain 10
# Pushes waiting for an ack against the FastCGI pool, default config (fcgi_procs 4,
# so ack_waiters_max 2): plain /push flat out (32 in flight, 1k subscribers) for
# $ADUR s; then 3 connections (ack_waiters_max + 1) each keep one ?ack=1 push going
# to its own uid, whose subscriber never acknowledges (each waits push_timeout_ms,
# 2 s, then answers acked:false; the third finds the limit taken: 429, again 100 ms
# later), and 0.5 s later $ADUR s more of the same plain load; both phases reported.
if [ "$QUICK" = 1 ]; then ADUR=3; else ADUR=4; fi
FCGI_PROCS=4 scenario ackwait "service-wsd" -- --subs 1000 --pub http --inflight 32 \
	--duration $ADUR --ack-conns 3 --ack-retry-ms 100
if [ "$QUICK" != 1 ]; then
	# 100,000 held connections: 6 workers (each under the 20,000-file limit), 6 load
	# processes from 8 source addresses; idle CPU over 31 s, longer than
	# ping_interval (30 s), so every connection's keepalive ping falls in it. Last:
	# it leaves 100k sockets in TIME_WAIT for a minute.
	scenario hold100k "daemon6" -- --subs 100000 --procs 6 --src-ips 8 --conn-par 128 \
		--pub none --idle 31
fi

# ---- report -------------------------------------------------------------------------------
log "writing docs/benchmarks.md and docs/benchmarks.svg"
mkdir -p "$DOCS"
cp "$RESULTS" "$DOCS/benchmarks.jsonl"
python3 "$BENCH/report.py" --results "$RESULTS" --docs "$DOCS" --work "$WORK" \
	--cmd "$CMDLINE" --quick "$QUICK" --runs "$RUNS" --server-cpu "$SERVER_CPU" \
	--load-cpu "$LOAD_CPU" --elapsed "$(( $(date +%s) - T_START ))"
log "done in $(( $(date +%s) - T_START )) s"
