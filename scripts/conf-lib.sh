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
