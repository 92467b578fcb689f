#!/bin/sh
# Writes a lighttpd config for this service from conf.yaml to stdout: a whole
# private server, or with --include only the part for an existing lighttpd.
# usage: scripts/lighttpd-conf.sh [--include] CONF_YAML BIN_DIR
set -eu
only_include=0
if [ "${1:-}" = --include ]; then only_include=1; shift; fi
conf=$(realpath "$1")
bin=$(realpath "$2")
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/conf-lib.sh"

addr=$(get addr); ws=$(get ws_addr); run=$(get run_dir)
max=$(get max_message_bytes); procs=$(get fcgi_procs); idle=$(get idle_timeout)
fsock=$(get fcgi_socket)
ws_body=$(ws_body_limit)
mkdir -p "$run/www" "$run/errors"
# JSON bodies for the errors lighttpd itself answers (see server.errorfile-prefix).
for e in "400 bad request" "403 forbidden" "404 not found" "405 method not allowed" \
	 "408 request timeout" "411 length required" "413 request too large" \
	 "414 URI too long" "417 expectation failed" "431 request headers too large" \
	 "500 internal server error" "501 not implemented" "502 bad gateway" \
	 "503 service unavailable" "504 gateway timeout" "505 HTTP version not supported"; do
	printf '{"topic":"error","number":0,"contents":"%s"}\n' "${e#* }" > "$run/errors/status-${e%% *}.html"
done
subst() {
sed -e "s|@BIND_HOST@|$(split_host "$addr")|" \
    -e "s|@BIND_PORT@|$(split_port "$addr")|" \
    -e "s|@WS_HOST@|$(split_host "$ws")|" \
    -e "s|@WS_PORT@|$(split_port "$ws")|" \
    -e "s|@RUN_DIR@|$run|g" \
    -e "s|@FCGI_SOCKET@|$fsock|g" \
    -e "s|@BIN_DIR@|$bin|g" \
    -e "s|@CONF@|$conf|g" \
    -e "s|@FCGI_PROCS@|$procs|" \
    -e "s|@MAX_REQUEST_KB@|$(( max / 1024 * 2 + 64 ))|" \
    -e "s|@WS_IDLE@|$(( idle * 2 ))|g" \
    -e "s|@WS_BODY_KB@|$(( ws_body / 1024 ))|g" \
    "$1"
}
[ $only_include -eq 1 ] || subst "$top/etc/lighttpd/standalone.conf.in"
subst "$top/etc/lighttpd/push-service.conf.in"
[ $only_include -eq 0 ] || exit 0
# TLS on the public address: https:// for the API, wss:// for /ws.
cert=$(get tls_cert); key=$(get tls_key)
if [ -n "$cert" ]; then
	printf '\nserver.modules += ( "mod_openssl" )\nssl.engine = "enable"\nssl.pemfile = "%s"\nssl.privkey = "%s"\n' "$cert" "$key"
fi
