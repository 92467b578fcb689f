#!/bin/sh
# Writes Apache configs for this service from conf.yaml: the site part (what an
# admin includes in a VirtualHost) to RUN_DIR/apache-site.conf, and a private
# standalone server config to stdout.
# usage: scripts/apache-conf.sh CONF_YAML BIN_DIR
set -eu
conf=$(realpath "$1")
bin=$(realpath "$2")
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/conf-lib.sh"

addr=$(get addr); ws=$(get ws_addr); fcgi=$(get fcgi_addr); run=$(get run_dir)
max=$(get max_message_bytes); idle=$(get idle_timeout)
mkdir -p "$run/www"
host=$(split_host "$addr")
case "$host" in *:*) bind="[$host]:$(split_port "$addr")" ;; *) bind="$host:$(split_port "$addr")" ;; esac
# Apache refuses to serve as root: its workers run as www-data then.
if [ "$(id -u)" -eq 0 ]; then users='User www-data\nGroup www-data'; else users=''; fi

sed -e "s|@FCGI_HOST@|$(split_host "$fcgi")|g" \
    -e "s|@FCGI_PORT@|$(split_port "$fcgi")|g" \
    -e "s|@WS_HOST@|$(split_host "$ws")|g" \
    -e "s|@WS_PORT@|$(split_port "$ws")|g" \
    -e "s|@MAX_REQUEST_BYTES@|$(( max * 2 + 65536 ))|" \
    -e "s|@WS_IDLE@|$(( idle * 2 ))|" \
    -e "s|@WS_BODY_BYTES@|$(ws_body_limit)|g" \
    "$top/etc/apache2/push-service.conf.in" > "$run/apache-site.conf"
sed -e "s|@RUN_DIR@|$run|g" \
    -e "s|@BIND@|$bind|" \
    -e "s|@USER_LINES@|$users|" \
    "$top/etc/apache2/standalone.conf.in"
# TLS on the public address: https:// for the API, wss:// for /ws.
cert=$(get tls_cert); key=$(get tls_key)
if [ -n "$cert" ]; then
	printf 'LoadModule ssl_module /usr/lib/apache2/modules/mod_ssl.so\nSSLEngine on\nSSLCertificateFile "%s"\nSSLCertificateKeyFile "%s"\n' "$cert" "$key"
fi
