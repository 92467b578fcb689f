#!/bin/sh
# Writes nginx configs for this service from conf.yaml. With --include only the
# part an admin includes in a server block, to stdout (install it as
# /etc/nginx/snippets/push-service.conf); otherwise that part to
# RUN_DIR/nginx-push-service.conf and a private standalone server that includes
# it to stdout (`make run WEB=nginx`, the system tests).
# --prefix /PATH/ mounts the service under that path; --fcgi unix:/PATH passes the
# API to a push-api pool on a Unix socket (`push-api -s /PATH`) instead of fcgi_addr.
# usage: scripts/nginx-conf.sh [--include] [--prefix /PATH/] [--fcgi unix:/PATH] CONF_YAML BIN_DIR
set -eu
only_include=0
prefix=/
fcgi_pass=""
while :; do
	case "${1:-}" in
	--include) only_include=1; shift ;;
	--prefix) prefix=$2; shift 2 ;;
	--fcgi) fcgi_pass=$2; shift 2 ;;
	*) break ;;
	esac
done
case "$prefix" in
/*/ | /) ;;
*) echo "nginx-conf.sh: --prefix must start and end with '/', like /push-service/" >&2; exit 2 ;;
esac
case "$prefix" in
*[!A-Za-z0-9/._~-]*) echo "nginx-conf.sh: --prefix may hold only letters, digits and / . _ ~ -" >&2; exit 2 ;;
esac
case "$fcgi_pass" in
"" | unix:/*) ;;
*) echo "nginx-conf.sh: --fcgi takes unix:/PATH (the default is fcgi_addr)" >&2; exit 2 ;;
esac
conf=$(realpath "$1")
bin=$(realpath "$2")
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/conf-lib.sh"

addr=$(get addr); ws=$(get ws_addr); fcgi=$(get fcgi_addr); run=$(get run_dir)
max=$(get max_message_bytes); idle=$(get idle_timeout)
[ -n "$fcgi_pass" ] || fcgi_pass=$(nginx_addr "$fcgi")

# What push-api reads, written out here so the snippet needs no other file
# (Debian's fastcgi_params would do too). Every request header also arrives as
# HTTP_*, Authorization included: the Bearer password reaches push-api.
nginx_fcgi_params() {
	cat <<'PARAMS'
fastcgi_param GATEWAY_INTERFACE CGI/1.1;
fastcgi_param SERVER_SOFTWARE nginx;
fastcgi_param SERVER_PROTOCOL $server_protocol;
fastcgi_param REQUEST_METHOD $request_method;
fastcgi_param REQUEST_URI $request_uri;
fastcgi_param SCRIPT_NAME $uri;
fastcgi_param QUERY_STRING $query_string;
fastcgi_param CONTENT_TYPE $content_type;
fastcgi_param CONTENT_LENGTH $content_length;
fastcgi_param REMOTE_ADDR $remote_addr;
fastcgi_param REMOTE_PORT $remote_port;
fastcgi_param SERVER_ADDR $server_addr;
fastcgi_param SERVER_PORT $server_port;
fastcgi_param SERVER_NAME $server_name;
fastcgi_param HTTPS $https if_not_empty;
fastcgi_connect_timeout 5s;
PARAMS
	nginx_json_errors
}
# Errors nginx itself may answer on the service's paths (a body it will not take,
# push-api or ws-daemon down or silent): each goes to a named location that
# answers the service's JSON error with the same status.
NGINX_ERRORS="400:bad request|413:request too large|500:internal server error|502:bad gateway|503:service unavailable|504:gateway timeout"
nginx_json_errors() {
	echo "$NGINX_ERRORS" | tr '|' '\n' | while IFS=: read -r code _; do
		echo "error_page $code @push_service_$code;"
	done
}
nginx_json_error_locations() {
	echo "$NGINX_ERRORS" | tr '|' '\n' | while IFS=: read -r code reason; do
		printf 'location @push_service_%s {\n\tdefault_type "application/json; charset=utf-8";\n' "$code"
		printf '\treturn %s '"'"'{"topic":"error","number":0,"contents":"%s"}\\n'"'"';\n}\n' "$code" "$reason"
	done
}
snippet() {
	fill "$top/etc/nginx/push-service.conf.in"
}
fill() {
	# awk, not sed, for the blocks that span lines: the same FastCGI parameters in
	# each FastCGI location, the JSON error pages in each location.
	P_PREFIX=$prefix P_FCGI=$fcgi_pass P_WS=$(nginx_addr "$ws") \
	P_MAX=$(( max * 2 + 65536 )) P_IDLE=$(( idle * 2 )) P_WSBODY=$(ws_body_limit) \
	P_PARAMS=$(nginx_fcgi_params) P_ERRS=$(nginx_json_errors) \
	P_ERRLOCS=$(nginx_json_error_locations) P_DEMO_DIR=${www:-} P_CLIENT_DIR="$top/clients/js/src" awk '
	function block(text, indent,   n, i, lines, out) {
		n = split(text, lines, "\n")
		out = ""
		for (i = 1; i <= n; i++)
			out = out (i > 1 ? "\n" : "") (lines[i] == "" ? "" : indent lines[i])
		return out
	}
	{
		indent = $0; sub(/[^\t ].*$/, "", indent)
		if ($1 == "@FCGI_PARAMS@") { print block(ENVIRON["P_PARAMS"], indent); next }
		if ($1 == "@JSON_ERRORS@") { print block(ENVIRON["P_ERRS"], indent); next }
		if ($1 == "@JSON_ERROR_LOCATIONS@") { print block(ENVIRON["P_ERRLOCS"], indent); next }
		gsub(/@PREFIX@/, ENVIRON["P_PREFIX"]); gsub(/@FCGI_ADDR@/, ENVIRON["P_FCGI"])
		gsub(/@WS_ADDR@/, ENVIRON["P_WS"]); gsub(/@MAX_REQUEST_BYTES@/, ENVIRON["P_MAX"])
		gsub(/@WS_IDLE@/, ENVIRON["P_IDLE"]); gsub(/@WS_BODY_BYTES@/, ENVIRON["P_WSBODY"])
		gsub(/@FCGI_PASS@/, ENVIRON["P_FCGI"])
		gsub(/@DEMO_DIR@/, ENVIRON["P_DEMO_DIR"]); gsub(/@CLIENT_DIR@/, ENVIRON["P_CLIENT_DIR"])
		print
	}' "$1"
}

if [ $only_include -eq 1 ]; then
	snippet
	exit 0
fi
mkdir -p "$run/nginx"
snippet > "$run/nginx-push-service.conf"
# The demo page (make run on loopback, or demo: true): never in the packaged snippet.
demo_line=''
if demo_on; then
	www=$(demo_dir)
	fill "$top/demo/web/nginx.conf.in" > "$run/nginx-demo.conf"
	demo_line="include $run/nginx-demo.conf;"
fi
# nginx drops to an unprivileged user only when started as root.
if [ "$(id -u)" -eq 0 ]; then user='user www-data;'; else user=''; fi
cert=$(get tls_cert); key=$(get tls_key)
if [ -n "$cert" ]; then
	tls="ssl_certificate \"$cert\";\n\t\tssl_certificate_key \"$key\";"
	ssl=' ssl'
else
	tls=''; ssl=''
fi
sed -e "s|@RUN_DIR@|$run|g" \
    -e "s|@LISTEN@|$(nginx_addr "$addr")$ssl|" \
    -e "s|@USER_LINE@|$user|" \
    -e "s|@TLS_LINES@|$tls|" \
    -e "s|@SNIPPET@|$run/nginx-push-service.conf|" \
    -e "s|@DEMO_LINE@|$demo_line|" \
    "$top/etc/nginx/standalone.conf.in"
