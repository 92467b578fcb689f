#!/bin/sh
# SPDX-License-Identifier: MIT
# Writes a private lighttpd config for this service (make run, the system tests) to
# stdout: the server-wide settings of etc/lighttpd/standalone.conf.in with values from
# conf.yaml, including etc/lighttpd/push-service.conf, the file the package installs
# (and its /etc/lighttpd/conf-available/50-push-service.conf includes), as it is.
# usage: scripts/lighttpd-conf.sh CONF_YAML BIN_DIR [PREFIX]
#   PREFIX: where the service's paths live, "/" (default) or e.g. "/push-service/".
set -eu
conf=$(realpath "$1")
bin=$(realpath "$2")
prefix=${3:-/}
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/conf-lib.sh"

addr=$(get addr); ws=$(get ws_addr); run=$(get run_dir)
procs=$(get fcgi_procs); idle=$(get idle_timeout); fsock=$(get fcgi_socket)
mkdir -p "$run/www"
sed -e "s|@BIND_HOST@|$(split_host "$addr")|" \
    -e "s|@BIND_PORT@|$(split_port "$addr")|" \
    -e "s|@WS_HOST@|$(split_host "$ws")|" \
    -e "s|@WS_PORT@|$(split_port "$ws")|" \
    -e "s|@WS_IDLE@|$(( idle * 2 ))|g" \
    -e "s|@RUN_DIR@|$run|g" \
    -e "s|@FCGI_SOCKET@|$fsock|g" \
    -e "s|@FCGI_PROCS@|$procs|" \
    -e "s|@BIN_DIR@|$bin|g" \
    -e "s|@CONF@|$conf|g" \
    -e "s|@PREFIX@|$prefix|g" \
    -e "s|@ERRORS@|$top/etc/lighttpd/errors|g" \
    -e "s|@SNIPPET@|$top/etc/lighttpd/push-service.conf|g" \
    "$top/etc/lighttpd/standalone.conf.in"
# The demo page (make run on loopback, or demo: true): never in the packaged files.
if demo_on; then
	www=$(demo_dir)
	sed -e "s|@BIN_DIR@|$bin|g" \
	    -e "s|@FCGI_SOCKET@|$fsock|g" \
	    -e "s|@CONF@|$conf|g" \
	    -e "s|@ERRORS@|$top/etc/lighttpd/errors|g" \
	    -e "s|@DEMO_DIR@|$www|g" \
	    -e "s|@CLIENT_DIR@|$top/clients/js/src|g" \
	    "$top/demo/web/lighttpd.conf.in"
fi
# TLS on the public address: https:// for the API, wss:// for /ws.
cert=$(get tls_cert); key=$(get tls_key)
if [ -n "$cert" ]; then
	printf '\nserver.modules += ( "mod_openssl" )\nssl.engine = "enable"\nssl.pemfile = "%s"\nssl.privkey = "%s"\n' "$cert" "$key"
fi
