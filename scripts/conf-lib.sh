# SPDX-License-Identifier: MIT
# Shared by the web-server config generators: reads effective values of conf.yaml
# through ws-daemon (one parser for everything) and splits addresses.
# Expects $conf (conf.yaml) and $bin (directory of ws-daemon).
get() { "$bin/ws-daemon" -c "$conf" -g "$1"; }
# "host:port", "[v6]:port" or ":port" -> host, port
split_host() { h=${1%:*}; h=${h#[}; h=${h%]}; [ -n "$h" ] || h=0.0.0.0; echo "$h"; }
split_port() { echo "${1##*:}"; }
# /ws takes no request body: a declared one over this many bytes is refused (413)
# by the web server itself, the same in lighttpd (whole KiB) and Apache.
ws_body_limit() { echo 1024; }
# "host:port", "[v6]:port" or ":port" -> an address as nginx writes it
# ("[v6]:port" keeps its brackets).
nginx_addr() {
	h=$(split_host "$1")
	case "$h" in *:*) h="[$h]" ;; esac
	echo "$h:$(split_port "$1")"
}
# The demo page and its password-less backend (demo/): on with `demo: true`, or
# with PUSH_DEMO=1 (what `make run` sets) when addr is a loopback address; the
# same rule push-api applies (api_demo_enabled).
is_loopback() {
	case "$1" in
	::1 | localhost | LOCALHOST | Localhost) return 0 ;;
	127.*.*.*)
		case "$1" in *[!0-9.]* | *..* | *. | *.*.*.*.*) return 1 ;; esac
		return 0 ;;
	*) return 1 ;;
	esac
}
demo_on() {
	[ "$(get demo)" = true ] && return 0
	[ "${PUSH_DEMO:-}" = 1 ] && is_loopback "$(split_host "$(get addr)")"
}
# The demo's files: the page and the JS client's ES module (source tree only).
demo_dir() {
	d="$top/demo/www"
	if [ ! -f "$d/index.html" ] || [ ! -f "$top/clients/js/src/push-client.js" ]; then
		echo "the demo page needs the source tree's demo/ and clients/js/ (not in $top)" >&2
		return 1
	fi
	echo "$d"
}
