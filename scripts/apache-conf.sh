#!/bin/sh
# SPDX-License-Identifier: MIT
# Writes a private Apache server config for this service (make run, the system tests)
# to stdout: the server-wide settings of etc/apache2/standalone.conf.in with values
# from conf.yaml, including etc/apache2/push-service.conf, the snippet the package
# installs as /etc/apache2/conf-available/push-service.conf, as it is.
# usage: scripts/apache-conf.sh CONF_YAML BIN_DIR [PREFIX]
#   PREFIX: where the service's paths live, "/" (default) or e.g. "/push-service/".
set -eu
conf=$(realpath "$1")
bin=$(realpath "$2")
prefix=${3:-/}
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/conf-lib.sh"

addr=$(get addr); ws=$(get ws_addr); fcgi=$(get fcgi_addr); run=$(get run_dir)
idle=$(get idle_timeout)
mkdir -p "$run/www"
host=$(split_host "$addr")
case "$host" in *:*) bind="[$host]:$(split_port "$addr")" ;; *) bind="$host:$(split_port "$addr")" ;; esac
# Apache refuses to serve as root: its workers run as www-data then.
if [ "$(id -u)" -eq 0 ]; then users='User www-data\nGroup www-data'; else users=''; fi

# The demo page (make run on loopback, or demo: true): never in the packaged files.
demo_re=""
if demo_on; then
	www=$(demo_dir)
	demo_re='\|/demo/'  # for sed below: a literal |
fi
sed -e "s|@RUN_DIR@|$run|g" \
    -e "s|@BIND@|$bind|" \
    -e "s|@DEMO_RE@|$demo_re|" \
    -e "s|@USER_LINES@|$users|" \
    -e "s|@PREFIX@|$prefix|g" \
    -e "s|@PREFIX_RE@|$prefix|g" \
    -e "s|@WS_ADDR@|$ws|g" \
    -e "s|@FCGI_ADDR@|$fcgi|g" \
    -e "s|@WS_IDLE@|$(( idle * 2 ))|g" \
    -e "s|@SNIPPET@|$top/etc/apache2/push-service.conf|g" \
    "$top/etc/apache2/standalone.conf.in"
if [ -n "$demo_re" ]; then
	sed -e "s|@FCGI_ADDR@|$fcgi|g" \
	    -e "s|@DEMO_DIR@|$www|g" \
	    -e "s|@CLIENT_DIR@|$top/clients/js/src|g" \
	    "$top/demo/web/apache.conf.in"
fi
# TLS on the public address: https:// for the API, wss:// for /ws.
cert=$(get tls_cert); key=$(get tls_key)
if [ -n "$cert" ]; then
	printf 'LoadModule ssl_module /usr/lib/apache2/modules/mod_ssl.so\nSSLEngine on\nSSLCertificateFile "%s"\nSSLCertificateKeyFile "%s"\n' "$cert" "$key"
fi
