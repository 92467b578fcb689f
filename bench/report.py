#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Turns bench/run.sh's JSON result lines into docs/benchmarks.md and, via gnuplot,
docs/benchmarks.svg. Every number written comes from the results file of this run."""
import argparse
import collections
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess

OTHER = ("other_on_server_cpu_s", "other programs on the server CPU (s)", "{:.2f}")
# Column groups most scenarios share: latency tail, and delivery quality.
TAIL = [("p999_us", "p99.9 µs", "{:.0f}"), ("max_us", "max µs", "{:.0f}")]
LAT = [("p50_us", "p50 µs", "{:.0f}"), ("p99_us", "p99 µs", "{:.0f}")] + TAIL
QUALITY = [("lost", "lost", "{:.0f}"), ("dup", "dup", "{:.0f}"),
           ("ooo", "out of order", "{:.0f}")]
PUSH_ERR = ("push_err", "push errors", "{:.0f}")


def cpu(unit, fmt="{:.1f}"):
    return ("cpu_us_per_push", f"server CPU µs/{unit}", fmt)
# What one core could do at the measured CPU cost: 1e6 / (server CPU µs per message).
CPU_RATE = ("cpu_rate", "messages per server-CPU-second", "{:.0f}")
OPEN_LOOP = ([("offered", "offered", "{:.0f}"), ("sent", "sent", "{:.0f}"),
              ("push_rate", "pushes/s sent", "{:.0f}"), ("p50_us", "p50 µs", "{:.0f}"),
              ("p90_us", "p90 µs", "{:.0f}"), ("p99_us", "p99 µs", "{:.0f}")]
             + TAIL + [cpu("push")] + QUALITY + [PUSH_ERR, OTHER])
SCENARIOS = [
    ("idle10k", "10,000 idle WebSockets (1 uid each), direct to the WebSocket server; "
     "RSS delta of the server processes / connections, and handshakes/s while opening them "
     "(128 handshakes in flight per load process, 2 processes, sources 127.0.0.2-5). "
     "ws-daemon runs its default configuration, history on (history_size 64): each "
     "connected uid has its message stream, with nothing retained (no pushes)",
     [("connected", "connected", "{:.0f}"), ("rss_per_conn_bytes", "RSS/conn (B)", "{:.0f}"),
      ("connect_rate", "handshakes/s", "{:.0f}"),
      ("connect_cpu_us_per_conn", "server CPU µs/handshake", "{:.1f}"),
      ("rss_connected_kb", "server RSS (KiB)", "{:.0f}")]),
    ("push1k", "single /push requests flat out, 32 keep-alive connections in flight, "
     "1,000 subscribers with 1 uid each (round-robin); service = lighttpd+push-api+ws-daemon, "
     "nginx-wsd = nginx+push-api pool+ws-daemon (no FastCGI connection reuse), nchan = nginx. "
     "This service runs its default history (history_size 64: every push is also kept "
     "for resume) except in the *history off* row (history_size: 0, as before history); "
     "the cost of history is computed below the table",
     [("push_rate", "pushes/s", "{:.0f}"), ("deliveries_per_s", "deliveries/s", "{:.0f}")]
     + LAT + [cpu("push"), CPU_RATE,
              ("daemon_cpu_us_per_push", "of which ws-daemon µs/push", "{:.2f}")]
     + QUALITY + [PUSH_ERR, OTHER]),
    ("batch1k", "batch /push flat out through lighttpd: each POST carries a JSON array of "
     "100 messages (uids round-robin, each with its own timestamp and sequence number), "
     "8 requests in flight (800 messages: no uid in two at once), 1,000 subscribers with 1 uid each; messages/s counts messages "
     "acknowledged as sent (requests/s × 100), latency, loss, dup and order are per message. "
     "nchan has no batch publish: its single-push rate from push1k in this run is shown "
     "below the table for comparison",
     [("push_rate", "messages/s", "{:.0f}"), ("req_rate", "requests/s", "{:.0f}"),
      ("deliveries_per_s", "deliveries/s", "{:.0f}")]
     + LAT + [cpu("message", "{:.2f}"), CPU_RATE] + QUALITY + [PUSH_ERR, OTHER]),
    ("ackwait", "pushes waiting for an acknowledgement against the FastCGI pool, this "
     "service's default fcgi_procs (4, so ack_waiters_max 2), lighttpd /push, 1,000 "
     "subscribers with 1 uid each on ws-daemon's port: single /push flat out (32 keep-alive "
     "connections, uids round-robin) for one phase *without* ack waiters, then 3 more "
     "connections (ack_waiters_max + 1) each keep one push with ?ack=1 going to a uid of its "
     "own whose subscriber never acknowledges (it waits push_timeout_ms, then answers "
     "acked:false; after a 429 the connection sends again 100 ms later), and 0.5 s later "
     "one phase of the same plain load *with* them (phases of equal length, pushes counted "
     "by the phase they were sent in). *ack pushes waiting* is the time average over that "
     "phase of those answered acked:false, each counted for the last push_timeout_ms before "
     "its answer; *queued* ack pushes were answered more than 100 ms after push_timeout_ms "
     "(they waited for a busy process before waiting themselves, instead of a 429); "
     "*stalled* plain pushes were answered after 0.5 s or more: lighttpd gives each push-api "
     "process its own socket, and a request it had queued on a process that then takes an "
     "ack push waits with it",
     [("fcgi_procs", "fcgi_procs", "{:.0f}"), ("ack_waiters_max", "ack_waiters_max", "{:.0f}"),
      ("base_push_rate", "pushes/s without ack waiters", "{:.0f}"),
      ("held_push_rate", "pushes/s with them", "{:.0f}"),
      ("held_over_base", "with / without", "{:.2f}"),
      ("base_req_p99_us", "request p99 µs without", "{:.0f}"),
      ("held_req_p99_us", "request p99 µs with", "{:.0f}"),
      ("held_req_max_us", "request max µs with", "{:.0f}"),
      ("base_p99_us", "delivery p99 µs without", "{:.0f}"),
      ("held_p99_us", "delivery p99 µs with", "{:.0f}"),
      ("base_stalled", "stalled (≥ 0.5 s) without", "{:.0f}"),
      ("held_stalled", "stalled with", "{:.0f}"),
      ("held_pushes", "plain pushes with", "{:.0f}"),
      ("base_cpu_us_per_push", "server CPU µs/push without", "{:.1f}"),
      ("held_cpu_us_per_push", "server CPU µs/push with", "{:.1f}"),
      ("ack_waiting_avg", "ack pushes waiting (average)", "{:.2f}"),
      ("ack_unacked", "ack pushes answered acked:false", "{:.0f}"),
      ("ack_wait_max_ms", "their answer time max (ms)", "{:.0f}"),
      ("ack_429", "ack pushes refused with 429", "{:.0f}"),
      ("ack_429_p99_us", "429 answer p99 µs", "{:.0f}"),
      ("ack_429_max_us", "429 answer max µs", "{:.0f}"),
      ("ack_queued", "ack pushes queued", "{:.0f}"),
      ("lost", "lost", "{:.0f}"), ("dup", "dup", "{:.0f}"), PUSH_ERR, OTHER]),
    ("history10k", "memory per retained message: 20 pushes to each of 10,000 uids with nobody "
     "connected (offline_messages: true, history_memory 256 MiB: nothing evicted; default "
     "history_size 64, history_bytes 256 KiB), batch /push of 100 through lighttpd, contents "
     "a string of 100 characters; *frame* is the size of the kept WebSocket frame "
     "{\"topic\":\"bench\",\"number\":N,\"contents\":\"x…x\"}; *RSS / message* is the RSS "
     "delta of ws-daemon's processes (not lighttpd's or push-api's) over the messages stored, "
     "so it includes each uid's stream and ring; *push_history_bytes / message* is "
     "what the history accounts for in /metrics",
     [("stored", "messages stored", "{:.0f}"), ("hist_uids", "uids (push_history_uids)", "{:.0f}"),
      ("frame_bytes", "frame (B)", "{:.1f}"), ("rss_bytes_per_stored", "ws-daemon RSS / message (B)", "{:.1f}"),
      ("rss_over_frame", "RSS / message − frame (B)", "{:.1f}"),
      ("hist_bytes_per_msg", "push_history_bytes / message (B)", "{:.1f}"),
      ("hist_evicted", "evicted", "{:.0f}"), ("daemon_rss_after_kb", "ws-daemon RSS after (KiB)", "{:.0f}"),
      ("push_rate", "messages/s stored", "{:.0f}"), PUSH_ERR, OTHER]),
    ("resume10k", "resume storm: 10,000 subscribers (1 uid each, straight to ws-daemon's port) "
     "connect with since=now (position frame: epoch, last), then all disconnect (their "
     "processes exit); once /metrics shows no connection, 20 pushes per uid are stored while "
     "they are away (offline_messages: true, default history bounds; batch /push of 100 "
     "through lighttpd); then all 10,000 reconnect at once with since=<last>&epoch=<epoch> "
     "(512 handshakes in flight per load process, 2 processes, fresh source addresses). "
     "*complete*: the client has the position frame and its messages up to the frame's last; "
     "p50/p99/all complete = time from the start of the reconnect until a client (all "
     "clients) had everything; *recovered* counts position frames saying recovered:true, "
     "*epoch changed* those whose epoch differs from the one learned with since=now; "
     "gaps, dup and missing check that each client got every number from first to last "
     "once, in order; server CPU is over the reconnect",
     [("storm_done", "complete", "{:.0f}"), ("storm_s", "all complete (s)", "{:.2f}"),
      ("storm_p50_ms", "p50 complete (ms)", "{:.0f}"), ("storm_p99_ms", "p99 complete (ms)", "{:.0f}"),
      ("storm_connect_s", "all handshakes done (s)", "{:.2f}"),
      ("storm_recovered", "recovered", "{:.0f}"), ("storm_epoch_changed", "epoch changed", "{:.0f}"),
      ("storm_gaps", "gaps", "{:.0f}"), ("storm_dup", "dup", "{:.0f}"), ("storm_missing", "missing", "{:.0f}"),
      ("storm_replayed", "replayed (metrics)", "{:.0f}"), ("storm_cpu_s", "server CPU (s)", "{:.2f}"),
      ("daemon_rss_filled_kb", "ws-daemon RSS before (KiB)", "{:.0f}"),
      ("daemon_rss_peak_kb", "ws-daemon peak RSS (KiB)", "{:.0f}"),
      ("storm_other_on_server_cpu_s", OTHER[1], "{:.2f}")]),
    ("ipc1k", "ws-daemon alone: push datagrams (ipc_encode_push, 1 item each) injected on "
     "ipc_socket flat out, 8 in flight, 1,000 subscribers direct to the daemon",
     [("push_rate", "pushes/s", "{:.0f}"), ("deliveries_per_s", "deliveries/s", "{:.0f}")]
     + LAT + [cpu("push"), CPU_RATE] + QUALITY
     + [("replies_lost", "replies dropped", "{:.0f}"), OTHER]),
    ("ipc64", "ws-daemon alone: as ipc1k, but 64 messages per datagram (what push-api sends "
     "for a batch), 8 datagrams in flight",
     [("push_rate", "messages/s", "{:.0f}"), ("deliveries_per_s", "deliveries/s", "{:.0f}")]
     + LAT + [cpu("message", "{:.2f}"), CPU_RATE] + QUALITY
     + [("replies_lost", "replies dropped", "{:.0f}"), OTHER]),
    ("floor1k", "the kernel's floor for delivery: bench/sendfloor writes a 110-byte buffer "
     "round-robin to 1,000 loopback TCP sockets (TCP_NODELAY) from the server CPU, a reader "
     "drains them on the load CPU; no WebSocket, no event loop, nothing else",
     [("writes_per_s", "writes/s", "{:.0f}"), ("cpu_us_per_write", "CPU µs/write", "{:.2f}")]),
    ("fcgifloor", "the FastCGI hop alone: lighttpd + bench/fcgi-floor (a libfcgi responder "
     "that reads the body, makes one Unix-datagram round trip to an echo process and "
     "answers; 2 processes like fcgi_procs), POST /push flat out, 32 keep-alive connections, "
     "nobody subscribed",
     [("push_rate", "requests/s", "{:.0f}"), ("cpu_us_per_push", "server CPU µs/request", "{:.1f}"),
      CPU_RATE, PUSH_ERR, OTHER]),
    ("lat2k", "open loop, 2,000 pushes/s over up to 64 keep-alive connections, 1,000 "
     "subscribers; latency from the scheduled send time to receipt",
     OPEN_LOOP),
    ("lat10k", "open loop, 10,000 pushes/s over up to 128 keep-alive connections, 1,000 "
     "subscribers; latency from the scheduled send time to receipt",
     OPEN_LOOP),
    ("slow1k", "lat2k again (open loop 2,000 pushes/s, 1,000 subscribers, /ws direct for "
     "this service) with 1 % of the subscribers (10) never reading after the handshake, "
     "their receive buffer cut to 4 KiB; latency, loss and order are the other 990's; "
     "peak RSS is the server's VmHWM",
     [("push_rate", "pushes/s sent", "{:.0f}"), ("p50_us", "p50 µs", "{:.0f}"),
      ("p99_us", "p99 µs", "{:.0f}")] + TAIL + QUALITY
     + [("slow", "slow subscribers", "{:.0f}"), ("slow_closed", "slow ones closed by the server", "{:.0f}"),
        ("rss_peak_kb", "server peak RSS (KiB)", "{:.0f}"), ("rss_end_kb", "server RSS at end (KiB)", "{:.0f}"),
        PUSH_ERR, OTHER]),
    ("fanout10k", "fan-out: one uid with 10,000 connections, 2 pushes/s open loop for 5 s "
     "(daemon: datagrams; nchan: HTTP POST); 20,000 deliveries/s are offered, so "
     "deliveries/s shows only whether they kept up, latency is how long a push takes to "
     "reach all 10,000 sockets, and deliveries per server-CPU-second (1e6 / CPU µs per "
     "delivery) is what one core could sustain",
     [("deliveries_per_s", "deliveries/s", "{:.0f}"), ("p50_us", "p50 µs", "{:.0f}"),
      ("p99_us", "p99 µs", "{:.0f}"), ("p999_us", "p99.9 µs", "{:.0f}"),
      ("max_us", "max µs", "{:.0f}"), ("cpu_us_per_delivery", "server CPU µs/delivery", "{:.2f}"),
      ("delivery_cpu_rate", "deliveries per server-CPU-second", "{:.0f}"),
      ("lost", "lost", "{:.0f}"), ("dup", "dup", "{:.0f}"), ("ooo", "out of order", "{:.0f}"),
      ("closed_early", "closed early", "{:.0f}"), OTHER]),
    ("broadcast10k", "broadcast: POST /broadcast through lighttpd to 10,000 connected uids "
     "(1 subscriber each, straight to ws-daemon's port, 2 load processes), open loop 2 "
     "broadcasts/s, one request at a time; every uid's frame carries its own number, checked "
     "against the broadcast's sequence number (*number wrong*). Beside it nchan's nearest "
     "thing, one channel with 10,000 subscribers published to at the same rate (fanout10k's "
     "setup). 20,000 deliveries/s are offered, so deliveries/s shows whether they kept up; "
     "*answered* is the publisher's request time (written to answer complete), delivery "
     "latency is from the scheduled send time to receipt; deliveries per server-CPU-second "
     "(1e6 / server CPU µs per delivery) is what one core could sustain",
     [("push_rate", "broadcasts/s sent", "{:.1f}"), ("deliveries_per_s", "deliveries/s", "{:.0f}"),
      ("reached_per_req", "connections reached per broadcast (answer)", "{:.0f}"),
      ("req_p50_us", "answered p50 µs", "{:.0f}"), ("req_p99_us", "answered p99 µs", "{:.0f}"),
      ("p50_us", "delivery p50 µs", "{:.0f}"), ("p99_us", "delivery p99 µs", "{:.0f}"),
      ("p999_us", "delivery p99.9 µs", "{:.0f}"), ("max_us", "delivery max µs", "{:.0f}"),
      ("cpu_us_per_delivery", "server CPU µs/delivery", "{:.2f}"),
      ("delivery_cpu_rate", "deliveries per server-CPU-second", "{:.0f}"),
      ("daemon_cpu_us_per_delivery", "of which ws-daemon µs/delivery", "{:.2f}"),
      ("number_bad", "number wrong", "{:.0f}"),
      ("lost", "lost", "{:.0f}"), ("dup", "dup", "{:.0f}"), ("ooo", "out of order", "{:.0f}"),
      PUSH_ERR, ("closed_early", "closed early", "{:.0f}"), OTHER]),
    ("redis1k", "several hosts joined by Redis (engine: redis) against one host with the memory "
     "engine, the same load: single /push flat out, 32 keep-alive connections, 1,200 "
     "subscribers over 1,000 uids (b0–b199 have two tabs), /ws on ws-daemon's port. "
     "*2 hosts + Redis*: two hosts (each its own conf, ws-daemon with 1 worker, lighttpd, "
     "push-api ×2, on their own ports of 127.0.0.1, the same password) and one redis-server "
     "(`--save \"\" --appendonly no`; one rather than two shards: on one core a second shard "
     "only adds context switches, and a uid's push involves one shard either way); the first "
     "tab of uid u is on host u mod 2, a second tab on the other host (200 uids with a tab on "
     "each), every other publisher connection sends to host 2, and publishing starts once "
     "/presence on host 1 counts every tab (a tab is reachable from the other host only once "
     "its daemon's Redis subscription is confirmed). *CPU*: both hosts' processes and "
     "redis-server share the server CPU, as the single host of the memory-engine row has it "
     "alone; the load generator is on the other CPU. *redis-server CPU µs/push* is its "
     "utime+stime (/proc/<pid>/stat) over the run / pushes, and part of the server CPU. "
     "*answers' number / push* is the /push answers' connections reached (across hosts), "
     "beside the tabs open for the uids pushed to; *tabs left out* = tabs − answers' counts "
     "over pushes answered 200; *delivered though refused* = deliveries of pushes answered "
     "404/503; *requests ≥ 0.5 s* = /push requests answered after half a second or more; "
     "*ws-daemon warn / error lines* are both hosts' daemon.log lines during the run",
     [("push_rate", "pushes/s", "{:.0f}"), ("deliveries_per_s", "deliveries/s", "{:.0f}")]
     + LAT + [cpu("push"), ("redis_cpu_us_per_push", "of which redis-server µs/push", "{:.1f}"),
              ("daemon_cpu_us_per_push", "of which ws-daemon µs/push", "{:.1f}"),
              ("req_p50_us", "request p50 µs", "{:.0f}"), ("req_p99_us", "request p99 µs", "{:.0f}"),
              ("req_slow", "requests ≥ 0.5 s", "{:.0f}"),
              ("reached_per_push", "answers' number / push", "{:.3f}"),
              ("expected_per_push", "tabs / push", "{:.3f}"),
              ("reached_short", "tabs left out of answers", "{:.0f}"),
              ("delivered_refused", "delivered though refused", "{:.0f}")]
     + QUALITY + [PUSH_ERR, ("daemon_log_warnings", "ws-daemon warn lines", "{:.0f}"),
                  ("daemon_log_errors", "ws-daemon error lines", "{:.0f}"), OTHER]),
    ("redislat2k", "redis1k's two setups (same subscribers, same split, same CPU sharing) "
     "open loop at 2,000 pushes/s over up to 64 keep-alive connections (lat2k's rate, well "
     "under the memory engine's flat-out rate); latency from the scheduled send time to "
     "receipt, so a push that waited for a free publisher connection counts its wait: *sent* "
     "below *offered* means all 64 were waiting for answers. The latency Redis adds is the "
     "difference to the memory-engine row, computed below the table",
     [("offered", "offered", "{:.0f}"), ("sent", "sent", "{:.0f}"),
      ("push_rate", "pushes/s sent", "{:.0f}"), ("p50_us", "p50 µs", "{:.0f}"),
      ("p90_us", "p90 µs", "{:.0f}"), ("p99_us", "p99 µs", "{:.0f}")] + TAIL
     + [cpu("push"), ("redis_cpu_us_per_push", "of which redis-server µs/push", "{:.1f}"),
        ("req_p50_us", "request p50 µs", "{:.0f}"), ("req_p99_us", "request p99 µs", "{:.0f}"),
        ("req_slow", "requests ≥ 0.5 s", "{:.0f}"),
        ("reached_short", "tabs left out of answers", "{:.0f}"),
        ("delivered_refused", "delivered though refused", "{:.0f}")]
     + QUALITY + [PUSH_ERR, ("daemon_log_warnings", "ws-daemon warn lines", "{:.0f}"),
                  ("daemon_log_errors", "ws-daemon error lines", "{:.0f}"), OTHER]),
    ("hold100k", "100,000 idle WebSockets held by ws-daemon with 6 workers (each process may "
     "open at most 20,000 files), 6 load processes from 8 source addresses (a fresh set each "
     "run: 127.0.0.2-9, then 10-17, 18-25), straight to the "
     "daemon's port (each connection is handed to its uid's worker); then 31 s idle, longer "
     "than ping_interval (30 s), so the keepalive pings fall inside; idle CPU = server CPU "
     "time in that window / its length",
     [("connected", "connected", "{:.0f}"), ("connect_failed", "failed", "{:.0f}"),
      ("connect_rate", "handshakes/s", "{:.0f}"), ("rss_per_conn_bytes", "RSS/conn (B)", "{:.0f}"),
      ("rss_connected_kb", "server RSS (KiB)", "{:.0f}"), ("idle_s", "idle window (s)", "{:.1f}"),
      ("idle_cpu_pct", "idle CPU (% of a core)", "{:.2f}"), ("closed_early", "closed early", "{:.0f}")]),
]
TARGET_NAMES = {"service": "this service, one port (lighttpd: /push and /ws)",
                "service-wsd": "this service (lighttpd /push, /ws on ws-daemon's port)",
                "service-wsd-nohist": "this service, history off (history_size: 0; lighttpd /push, "
                                      "/ws on ws-daemon's port)",
                "nginx-wsd": "this service (nginx /push, /ws on ws-daemon's port)",
                "daemon": "ws-daemon alone", "daemon6": "ws-daemon alone, 6 workers",
                "floor": "lighttpd + trivial FastCGI responder",
                "kernel": "kernel write() loop", "nchan": "nginx + nchan",
                "redis2": "2 hosts + Redis (engine redis, 1 redis-server; lighttpd /push to both, "
                          "/ws on each ws-daemon's port; all on the server CPU)"}
# redis1k / redislat2k: the memory-engine row they are compared with (same load).
REDIS_BASE = "service-wsd"


def redis_compare(groups):
    """Medians of redis2 against the memory engine's row, per scenario: a dict of
    the figures the targets and the lines below the tables use (None: not run)."""
    def med(scen, tgt, key):
        v = [float(r[key]) for r in groups.get((scen, tgt), []) if key in r]
        return statistics.median(v) if v else None

    out = {}
    for scen in ("redis1k", "redislat2k"):
        m = {k: med(scen, REDIS_BASE, k) for k in ("push_rate", "p50_us", "p99_us", "cpu_us_per_push")}
        r = {k: med(scen, "redis2", k) for k in ("push_rate", "p50_us", "p99_us", "cpu_us_per_push",
                                                  "redis_cpu_us_per_push", "lost", "push_err")}
        rs = groups.get((scen, "redis2"), [])
        # correctness counts: the worst run
        worst = {k: max((float(x.get(k, 0)) for x in rs), default=None)
                 for k in ("reached_short", "delivered_refused", "req_slow", "daemon_log_errors",
                           "lost", "dup", "ooo")}
        out[scen] = (m, r, worst) if m["push_rate"] and r["push_rate"] else None
    return out


def cmd_out(argv):
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def pkg_version(pkg):
    return cmd_out(["dpkg-query", "-W", "-f=${Version}", pkg]) or "?"


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def stats(values, fmt, runs):
    med = statistics.median(values)
    s = fmt.format(med)
    if len(values) > 1:
        s += " (" + fmt.format(min(values)) + "–" + fmt.format(max(values)) + ")"
    elif runs > 1:
        s += " (1 run)"
    return s


def target_rows(groups):
    """The issue's targets against this run's medians: (scenario, target, measured, verdict)."""
    def med(scen, tgt, key):
        v = [float(r[key]) for r in groups.get((scen, tgt), []) if key in r]
        return statistics.median(v) if v else None

    def best(scen, tgts, key):
        vals = [(med(scen, t, key), t) for t in tgts]
        vals = [x for x in vals if x[0] is not None]
        return max(vals) if vals else (None, None)

    def verdict(ok):
        return "n/a (not run)" if ok is None else ("met" if ok else "**missed**")

    out = []
    d, n = med("idle10k", "daemon", "rss_per_conn_bytes"), med("idle10k", "nchan", "rss_per_conn_bytes")
    out.append(("idle10k", "≤ 3 KiB per idle connection, ≤ 0.3× nchan",
                f"{d:.0f} B = {d / n:.2f}× nchan ({n:.0f} B)" if d and n else "—",
                verdict(None if not (d and n) else d <= 3072 and d <= 0.3 * n)))
    c, ipct = med("hold100k", "daemon6", "connected"), med("hold100k", "daemon6", "idle_cpu_pct")
    out.append(("hold100k", "100,000 held across workers",
                f"{c:.0f} connected" if c is not None else "—", verdict(None if c is None else c >= 100000)))
    d, n = med("idle10k", "daemon", "connect_rate"), med("idle10k", "nchan", "connect_rate")
    out.append(("idle10k", "handshakes/s ≥ 1.0× nchan",
                f"{d:.0f}/s = {d / n:.2f}× nchan ({n:.0f}/s)" if d and n else "—",
                verdict(None if not (d and n) else d >= n)))
    p, t = best("push1k", ("service", "service-wsd"), "push_rate")
    fl = med("fcgifloor", "floor", "push_rate")
    lost = med("push1k", t, "lost") if t else None
    out.append(("push1k", "single /push through lighttpd ≥ 25,000/s, zero loss",
                (f"{p:.0f}/s, lost {lost:.0f}" + (f"; the trivial FastCGI responder alone: {fl:.0f}/s" if fl else ""))
                if p else "—", verdict(None if p is None else p >= 25000 and lost == 0)))
    b, _ = best("batch1k", ("service", "service-wsd"), "push_rate")
    n = med("push1k", "nchan", "push_rate")
    out.append(("batch1k", "batch /push ≥ 2× nchan's single-push rate",
                f"{b:.0f} messages/s = {b / n:.2f}× nchan ({n:.0f}/s)" if b and n else "—",
                verdict(None if not (b and n) else b >= 2 * n)))
    i, _ = best("ipc64", ("daemon",), "deliveries_per_s")
    i1 = med("ipc1k", "daemon", "deliveries_per_s")
    kf = med("floor1k", "kernel", "writes_per_s")
    out.append(("ipc1k / ipc64", "daemon alone ≥ 300,000 deliveries/s on one core",
                (f"{i:.0f}/s (64 per datagram)" + (f", {i1:.0f}/s (1 per datagram)" if i1 else "")
                 + (f"; the kernel's write() floor: {kf:.0f}/s" if kf else "")) if i else "—",
                verdict(None if i is None else i >= 300000)))
    for scen in ("lat2k", "lat10k"):
        for t in ("service-wsd", "service"):
            p99, lost = med(scen, t, "p99_us"), med(scen, t, "lost")
            if p99 is None:
                continue
            n99 = med(scen, "nchan", "p99_us")
            out.append((scen, f"p99 ≤ 1 ms, zero loss ({TARGET_NAMES[t]})",
                        f"p99 {p99 / 1000:.2f} ms, lost {lost:.0f}"
                        + (f" (nchan {n99 / 1000:.2f} ms)" if n99 else ""),
                        verdict(p99 <= 1000 and lost == 0)))
    d, n = med("fanout10k", "daemon", "delivery_cpu_rate"), med("fanout10k", "nchan", "delivery_cpu_rate")
    out.append(("fanout10k", "fan-out deliveries/s ≥ 2× nchan (per server-CPU-second: both "
                "kept up with the offered 20,000/s)",
                f"{d:.0f} = {d / n:.2f}× nchan ({n:.0f})" if d and n else "—",
                verdict(None if not (d and n) else d >= 2 * n)))
    # Broadcast: the issue asks for the comparison and names no number: reported, not judged.
    d, n = med("broadcast10k", "service-wsd", "delivery_cpu_rate"), med("broadcast10k", "nchan", "delivery_cpu_rate")
    ds, ns = med("broadcast10k", "service-wsd", "deliveries_per_s"), med("broadcast10k", "nchan", "deliveries_per_s")
    rs = groups.get(("broadcast10k", "service-wsd"), [])
    offered = statistics.median(float(r["rate"]) * float(r["connected"]) for r in rs) if rs else None
    bl, nl = med("broadcast10k", "service-wsd", "lost"), med("broadcast10k", "nchan", "lost")
    bp, np_ = med("broadcast10k", "service-wsd", "p99_us"), med("broadcast10k", "nchan", "p99_us")
    out.append(("broadcast10k", "broadcast to 10,000 connected uids: deliveries/s beside nchan's fan-out "
                "to one channel with 10,000 subscribers, same offered rate, same run (the issue names no "
                "number; both are offered the same deliveries/s, so capacity shows per server-CPU-second)",
                f"{ds:.0f} deliveries/s = {ds / ns:.2f}× nchan ({ns:.0f}/s; {offered:.0f}/s offered); per "
                f"server-CPU-second {d:.0f} = {d / n:.2f}× nchan ({n:.0f}); lost {bl:.0f} (nchan {nl:.0f}); "
                f"delivery p99 {bp / 1000:.1f} ms (nchan {np_ / 1000:.1f} ms)"
                if d and n and ds and ns and offered else "—",
                "n/a (not run)" if not (d and n) else "reported (no target number)"))
    # Ack waiters against the FastCGI pool.
    rs = groups.get(("ackwait", "service-wsd"), [])
    if rs:
        fp, am = med("ackwait", "service-wsd", "fcgi_procs"), med("ackwait", "service-wsd", "ack_waiters_max")
        bar = (fp - am) / fp if fp and fp > 0 and am is not None and am >= 0 else None
        ratio = med("ackwait", "service-wsd", "held_over_base")
        b, h = med("ackwait", "service-wsd", "base_push_rate"), med("ackwait", "service-wsd", "held_push_rate")
        b99, h99 = med("ackwait", "service-wsd", "base_req_p99_us"), med("ackwait", "service-wsd", "held_req_p99_us")
        stalled, pushes = max(float(r["held_stalled"]) for r in rs), med("ackwait", "service-wsd", "held_pushes")
        hmax = max(float(r["held_req_max_us"]) for r in rs)
        worst = "" if len(rs) == 1 else " (stalled, max: the worst run)"
        out.append(("ackwait", "plain /push while ack_waiters_max pushes wait for an ack ≥ (fcgi_procs − "
                    "ack_waiters_max) / fcgi_procs of its rate without them"
                    + (f" ({fp - am:.0f}/{fp:.0f} = {bar:.2f}×)" if bar is not None else ""),
                    f"{h:.0f}/s vs {b:.0f}/s without = {ratio:.2f}× (median of the runs' ratios); request p99 "
                    f"{h99 / 1000:.2f} vs {b99 / 1000:.2f} ms; {stalled:.0f} of {pushes:.0f} plain pushes stalled "
                    f"≥ 0.5 s, max {hmax / 1e6:.2f} s{worst}",
                    verdict(None if bar is None or ratio is None else ratio >= bar)))
        n429, p429 = med("ackwait", "service-wsd", "ack_429"), med("ackwait", "service-wsd", "ack_429_p99_us")
        m429 = max(float(r["ack_429_max_us"]) for r in rs)
        queued = max(float(r["ack_queued"]) for r in rs)
        avg = med("ackwait", "service-wsd", "ack_waiting_avg")
        out.append(("ackwait", "an ack push beyond ack_waiters_max gets 429 at once (p99 of those answers "
                    "≤ 100 ms; none queued behind a waiting push instead)",
                    f"{n429:.0f} refused with 429, answered p99 {p429 / 1000:.1f} ms (max {m429 / 1000:.1f} ms); "
                    f"{queued:.0f} queued; {avg:.2f} waiting on average (ack_waiters_max {am:.0f})"
                    + ("" if len(rs) == 1 else " (queued, max: the worst run)"),
                    verdict(n429 > 0 and p429 <= 100000 and queued == 0)))
    else:
        out.append(("ackwait", "plain /push while ack_waiters_max pushes wait for an ack ≥ (fcgi_procs − "
                    "ack_waiters_max) / fcgi_procs of its rate without them", "—", verdict(None)))
        out.append(("ackwait", "an ack push beyond ack_waiters_max gets 429 at once", "—", verdict(None)))
    # History (history_size 64 by default): its cost, its memory, the resume storm.
    on, off = med("push1k", "service-wsd", "push_rate"), med("push1k", "service-wsd-nohist", "push_rate")
    con, coff = med("push1k", "service-wsd", "cpu_us_per_push"), med("push1k", "service-wsd-nohist", "cpu_us_per_push")
    don, doff = (med("push1k", "service-wsd", "daemon_cpu_us_per_push"),
                 med("push1k", "service-wsd-nohist", "daemon_cpu_us_per_push"))
    cost = (off - on) / off * 100 if on and off else None
    out.append(("push1k", "history on costs ≤ 10 % of single /push throughput (lighttpd /push, "
                "/ws on ws-daemon's port)",
                f"{on:.0f}/s with history vs {off:.0f}/s without ({-cost:+.1f} %)"
                + (f"; server CPU {con:.1f} vs {coff:.1f} µs/push ({(con - coff) / coff * 100:+.1f} %)"
                   if con and coff else "")
                + (f", ws-daemon's share {don:.2f} vs {doff:.2f} µs/push" if don and doff else "")
                if cost is not None else "—",
                verdict(None if cost is None else cost <= 10)))
    rb, fb = med("history10k", "service-wsd", "rss_bytes_per_stored"), med("history10k", "service-wsd", "frame_bytes")
    hb = med("history10k", "service-wsd", "hist_bytes_per_msg")
    out.append(("history10k", "≤ frame + 64 B per retained message (ws-daemon RSS)",
                f"{rb:.0f} B = frame {fb:.0f} B + {rb - fb:.0f} B (push_history_bytes: {hb:.0f} B)"
                if rb and fb and hb is not None else "—",
                verdict(None if not (rb and fb) else rb <= fb + 64)))
    d = med("idle10k", "daemon", "rss_per_conn_bytes")
    out.append(("idle10k", "≤ 3 KiB per idle connection with history on (default config), nothing retained",
                f"{d:.0f} B" if d else "—", verdict(None if not d else d <= 3072)))
    rs = groups.get(("resume10k", "service-wsd"), [])
    if rs:
        def worst(k):
            return max(float(r.get(k, 0)) for r in rs)
        done, subs = min(float(r["storm_done"]) for r in rs), min(float(r["subs"]) for r in rs)
        rec = min(float(r["storm_recovered"]) for r in rs)
        bad = sum(worst(k) for k in ("storm_gaps", "storm_dup", "storm_missing", "storm_first_bad",
                                     "storm_last_bad", "storm_bad_frames"))
        t, p50 = med("resume10k", "service-wsd", "storm_s"), med("resume10k", "service-wsd", "storm_p50_ms")
        peak = med("resume10k", "service-wsd", "daemon_rss_peak_kb")
        measured = (f"{done:.0f}/{subs:.0f} complete in {t:.2f} s (p50 {p50 / 1000:.2f} s); recovered "
                    f"{rec:.0f}, epoch changed {worst('storm_epoch_changed'):.0f}; gaps "
                    f"{worst('storm_gaps'):.0f}, dup {worst('storm_dup'):.0f}, missing "
                    f"{worst('storm_missing'):.0f}; ws-daemon peak RSS {peak / 1024:.1f} MiB"
                    + ("" if len(rs) == 1 else " (counts: the worst run)"))
        ok = done == subs and rec == subs and bad == 0
    else:
        measured, ok = "—", None
    out.append(("resume10k", "10,000 reconnect at once: every client gets its 20 messages, "
                "recovered:true, numbers contiguous, none missing or twice", measured, verdict(ok)))
    s99, base = med("slow1k", "service-wsd", "p99_us"), med("lat2k", "service-wsd", "p99_us")
    peak, slost = med("slow1k", "service-wsd", "rss_peak_kb"), med("slow1k", "service-wsd", "lost")
    out.append(("slow1k", "1 % never read: others' p99 unchanged (within 1.5× or +1 ms of lat2k), "
                "memory bounded",
                f"p99 {s99 / 1000:.2f} ms vs {base / 1000:.2f} ms in lat2k, lost {slost:.0f}, "
                f"peak RSS {peak / 1024:.1f} MiB" if s99 and base and peak else "—",
                verdict(None if not (s99 and base) else
                        s99 <= max(1.5 * base, base + 1000) and slost == 0)))
    # Several hosts joined by Redis against one host with the memory engine.
    rc = redis_compare(groups)
    c = rc["redis1k"]
    out.append(("redis1k", "2 hosts + Redis sharing the server core: /push ≥ 50 % of the memory "
                "engine's single-host rate, same load, zero loss (a second host and Redis on the "
                "same core may cost up to as much again per push, no more)",
                f"{c[1]['push_rate']:.0f}/s vs {c[0]['push_rate']:.0f}/s = "
                f"{c[1]['push_rate'] / c[0]['push_rate'] * 100:.0f} %; server CPU "
                f"{c[1]['cpu_us_per_push']:.0f} vs {c[0]['cpu_us_per_push']:.0f} µs/push; lost "
                f"{c[2]['lost']:.0f}" if c else "—",
                verdict(None if not c else
                        c[1]["push_rate"] >= 0.5 * c[0]["push_rate"] and c[2]["lost"] == 0)))
    out.append(("redis1k", "Redis is not the first limit: redis-server CPU per push ≤ 1 s / the "
                "memory engine's single-host pushes/s (one Redis core keeps up with one host's core)",
                f"{c[1]['redis_cpu_us_per_push']:.1f} µs/push (≤ {1e6 / c[0]['push_rate']:.1f}) = "
                f"{1e6 / c[1]['redis_cpu_us_per_push']:.0f} pushes per Redis-CPU-second"
                if c and c[1]["redis_cpu_us_per_push"] else "—",
                verdict(None if not (c and c[1]["redis_cpu_us_per_push"]) else
                        c[1]["redis_cpu_us_per_push"] <= 1e6 / c[0]["push_rate"])))
    c = rc["redislat2k"]
    out.append(("redislat2k", "latency Redis adds at 2,000 pushes/s (2 hosts + Redis − memory "
                "engine): p50 ≤ +1 ms, p99 ≤ +2 ms, zero loss (a loopback Redis round trip is "
                "~0.1 ms; the push crosses Redis twice: the script, then pub/sub to the holders)",
                f"p50 {c[1]['p50_us'] / 1000:.2f} vs {c[0]['p50_us'] / 1000:.2f} ms "
                f"({(c[1]['p50_us'] - c[0]['p50_us']) / 1000:+.2f} ms), p99 {c[1]['p99_us'] / 1000:.2f} vs "
                f"{c[0]['p99_us'] / 1000:.2f} ms ({(c[1]['p99_us'] - c[0]['p99_us']) / 1000:+.2f} ms); "
                f"sent {c[1]['push_rate']:.0f}/s of 2,000; lost {c[2]['lost']:.0f}" if c else "—",
                verdict(None if not c else
                        c[1]["p50_us"] - c[0]["p50_us"] <= 1000 and c[1]["p99_us"] - c[0]["p99_us"] <= 2000
                        and c[2]["lost"] == 0)))
    ws = [rc[s][2] for s in ("redis1k", "redislat2k") if rc[s]]
    if ws:
        tot = {k: sum(w[k] or 0 for w in ws) for k in ws[0]}
        ok = all(tot[k] == 0 for k in ("reached_short", "delivered_refused", "req_slow",
                                       "daemon_log_errors", "dup", "ooo"))
        multi = any(len(groups.get((s, "redis2"), [])) > 1 for s in ("redis1k", "redislat2k"))
        measured = (f"tabs left out of answers {tot['reached_short']:.0f}, delivered though refused "
                    f"{tot['delivered_refused']:.0f}, requests ≥ 0.5 s {tot['req_slow']:.0f}, ws-daemon "
                    f"error lines {tot['daemon_log_errors']:.0f}, dup {tot['dup']:.0f}, out of order "
                    f"{tot['ooo']:.0f} (both scenarios{', the worst run of each' if multi else ''})")
    else:
        ok, measured = None, "—"
    out.append(("redis1k / redislat2k", "2 hosts + Redis: every /push answered at once with the "
                "connections it reached on both hosts (answers count every tab, none refused yet "
                "delivered, none ≥ 0.5 s), no dup or reordering, no ws-daemon error", measured,
                verdict(ok)))
    out.append(("hold100k", "idle CPU with 100k idle connections ≈ 0 (< 1 % of a core)",
                f"{ipct:.2f} % of a core" if ipct is not None else "—",
                verdict(None if ipct is None else ipct < 1.0)))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--docs", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--cmd", required=True)
    ap.add_argument("--runs", type=int, required=True)
    ap.add_argument("--server-cpu", required=True)
    ap.add_argument("--load-cpu", required=True)
    ap.add_argument("--elapsed", required=True)
    ap.add_argument("--quick", default="0")
    a = ap.parse_args()

    rows = []
    with open(a.results) as f:
        for line in f:
            line = line.strip()
            if line:
                rows.append(json.loads(line))
    for r in rows:   # derived: what one server core could sustain at the measured cost
        if r.get("cpu_us_per_push", 0) > 0:
            r["cpu_rate"] = 1e6 / r["cpu_us_per_push"]
        if r.get("cpu_us_per_delivery", 0) > 0:
            r["delivery_cpu_rate"] = 1e6 / r["cpu_us_per_delivery"]
        if r.get("frame_bytes", 0) > 0 and r.get("rss_bytes_per_stored", 0) > 0:
            r["rss_over_frame"] = r["rss_bytes_per_stored"] - r["frame_bytes"]
        if r.get("base_push_rate", 0) > 0 and "held_push_rate" in r:
            r["held_over_base"] = r["held_push_rate"] / r["base_push_rate"]
        if "storm_k" in r:   # per-client completion times are in the latency histogram
            r["storm_p50_ms"], r["storm_p99_ms"] = r["p50_us"] / 1000, r["p99_us"] / 1000
    groups = collections.OrderedDict()
    for r in rows:
        groups.setdefault((r["scenario"], r["target"]), []).append(r)

    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    out = []
    w = out.append
    w("# Benchmarks")
    w("")
    w("Generated by `bench/run.sh` from the results of one run; do not edit by hand "
      "(raw results: `docs/benchmarks.jsonl`, chart: `docs/benchmarks.svg`).")
    w("")
    w(f"* Command: `{a.cmd}` ({'QUICK subset, 1 run per cell' if a.quick == '1' else f'{a.runs} runs per cell'}; "
      f"whole run took {a.elapsed} s)")
    w(f"* Date: {now}")
    w(f"* Machine: {os.cpu_count()} CPUs (nproc), {cpu_model()}, kernel {platform.release()}")
    w(f"* Pinning: every server process on CPU {a.server_cpu}, the load generator on CPU "
      f"{a.load_cpu} (`taskset -c`); loopback only")
    w(f"* Software: libwebsockets {pkg_version('libwebsockets-dev')}, libuv {pkg_version('libuv1-dev')}, "
      f"lighttpd {pkg_version('lighttpd')}, nginx {cmd_out(['sh', '-c', 'nginx -v 2>&1']).split('/')[-1] or '?'}, "
      f"nchan {pkg_version('libnginx-mod-nchan')}")
    try:
        with open("/proc/loadavg") as f:
            la = " / ".join(f.read().split()[:3])
    except OSError:
        la = "?"
    w(f"* Load average (1/5/15 min) when the report was written: {la}; the harness itself "
      "contributes to it. The column *other programs on the server CPU* is CPU 0's busy "
      "time from /proc/stat minus the server's own CPU time during the measurement: "
      "anything well above 0 means another workload shared the server's core and the row "
      "understates the server.")
    w("* Cells: median over the runs, (min–max) when there was more than one run. "
      "Latency is from the send timestamp embedded in each push (the scheduled time in "
      "open-loop runs) to receipt by a subscriber, in an HDR-style log histogram "
      "(≈6 % bucket width; percentiles report the bucket's upper edge).")
    w("")
    w("## Targets")
    w("")
    w("The issue's targets, checked against the medians below (computed by "
      "`bench/report.py` from this run; nothing here is typed by hand).")
    w("")
    w("| scenario | target | measured | verdict |")
    w("|---|---|---|---|")
    for row in target_rows(groups):
        w("| " + " | ".join(row) + " |")
    w("")
    for name, desc, cols in SCENARIOS:
        targets = [t for (s, t) in groups if s == name]
        w(f"## {name}")
        w("")
        if not targets:
            w("Not run in this mode." if a.quick == "1" else "No result (see the run log).")
            w("")
            continue
        w(desc + ".")
        w("")
        w("| target | runs | " + " | ".join(c[1] for c in cols) + " |")
        w("|---|---|" + "---|" * len(cols))
        for t in targets:
            rs = groups[(name, t)]
            cells = [stats([float(r[k]) for r in rs if k in r], fmt, a.runs)
                     if any(k in r for r in rs) else "n/a" for k, _, fmt in cols]
            w(f"| {TARGET_NAMES.get(t, t)} | {len(rs)} | " + " | ".join(cells) + " |")
        w("")
        if name == "push1k":
            # The cost of history: service-wsd (history on, the default) against the
            # same setup with history_size: 0, medians of this run.
            def m(t, k):
                v = [float(r[k]) for r in groups.get(("push1k", t), []) if k in r]
                return statistics.median(v) if v else None
            on, off = m("service-wsd", "push_rate"), m("service-wsd-nohist", "push_rate")
            con, coff = m("service-wsd", "cpu_us_per_push"), m("service-wsd-nohist", "cpu_us_per_push")
            don, doff = (m("service-wsd", "daemon_cpu_us_per_push"),
                         m("service-wsd-nohist", "daemon_cpu_us_per_push"))
            if on and off and con and coff:
                w(f"* Cost of history (lighttpd /push, /ws on ws-daemon's port, medians): "
                  f"{on:.0f} pushes/s with history vs {off:.0f} without "
                  f"({(on - off) / off * 100:+.1f} %); server CPU {con:.1f} vs {coff:.1f} µs/push "
                  f"({(con - coff) / coff * 100:+.1f} %)"
                  + (f", of which ws-daemon {don:.2f} vs {doff:.2f} µs/push ({(don - doff) / doff * 100:+.1f} %)"
                     if don and doff else "")
                  + ". Differences of a few % either way are within the run-to-run spread "
                  "(min–max above); history's own work is in ws-daemon's share.")
                w("")
        if name in ("redis1k", "redislat2k"):
            c = redis_compare(groups)[name]
            if c:
                m, r, _ = c
                w(f"* 2 hosts + Redis against the memory engine (medians): {r['push_rate']:.0f} vs "
                  f"{m['push_rate']:.0f} pushes/s ({(r['push_rate'] - m['push_rate']) / m['push_rate'] * 100:+.0f} %); "
                  f"latency Redis adds: p50 {(r['p50_us'] - m['p50_us']) / 1000:+.2f} ms, p99 "
                  f"{(r['p99_us'] - m['p99_us']) / 1000:+.2f} ms; server CPU {r['cpu_us_per_push']:.0f} vs "
                  f"{m['cpu_us_per_push']:.0f} µs/push"
                  + (f", of which redis-server {r['redis_cpu_us_per_push']:.1f} µs/push "
                     f"({1e6 / r['redis_cpu_us_per_push']:.0f} pushes per Redis-CPU-second)"
                     if r["redis_cpu_us_per_push"] else "")
                  + ". Both hosts and Redis share the one server core, so the rate compares "
                  "the cost per push, not what two machines would do.")
                w("")
        if name == "batch1k":
            # Comparison line: single-push rates of the same run (push1k).
            for t, label in (("nchan", "nchan single push (push1k)"),
                             ("service", "this service one port, single push (push1k)"),
                             ("service-wsd", "this service /ws direct, single push (push1k)"),
                             ("nginx-wsd", "this service behind nginx, single push (push1k)")):
                rs = groups.get(("push1k", t), [])
                v = [float(r["push_rate"]) for r in rs if "push_rate" in r]
                w(f"* {label}: " + (stats(v, "{:.0f}", a.runs) + "/s" if v
                                     else "not run in this run"))
            w("")
    w("## How to read this")
    w("")
    w("* Both cores are used: the server's and the load generator's. When the server's "
      "CPU time per second in a flat-out row is well below 1 s, the load generator (which "
      "receives every delivery on the other core) was the limit, not the server.")
    w("* `lost` = acknowledged pushes × open connections of that uid − distinct deliveries; "
      "`dup` and `out of order` come from a per-connection bitmap of the sequence numbers "
      "the publisher put in each push. In open-loop rows `offered` is rate × duration and "
      "`sent` what the publisher managed to send in that time: pushes still queued at the "
      "end are not sent, and those that waited count their wait in the latency.")
    try:
        with open("/proc/sys/net/unix/max_dgram_qlen") as f:
            qlen = f.read().strip()
    except OSError:
        qlen = "?"
    w("* ws-daemon's datagram replies can be dropped by the kernel when more than "
      f"`net.unix.max_dgram_qlen` wait ({qlen} on this machine); the injector therefore keeps "
      "8 in flight and counts a push as delivered unless a reply says otherwise.")
    w("* This service behind lighttpd cannot hold 10,000 proxied WebSockets here: lighttpd "
      "needs 2 descriptors per proxied socket and each process may open at most 20,000; "
      "idle10k, hold100k and fan-out therefore go to ws-daemon directly.")
    w("* Two setups of this service: *one port* proxies /ws through lighttpd (what `make run` "
      "starts), so lighttpd also reads and writes every delivery; */ws on ws-daemon's port* "
      "is the large-deployment setup (README: WebSocket port exposed directly or behind an "
      "L4 balancer), where lighttpd only carries /access and /push.")
    w("* nchan's message format differs; the load generator finds its `\"ts\"` and `\"seq\"` "
      "markers in the frame text either way.")
    w("")
    with open(os.path.join(a.docs, "benchmarks.md"), "w") as f:
        f.write("\n".join(out))

    # ---- chart -------------------------------------------------------------------------
    def med3(rs, k):
        v = [float(r[k]) for r in rs]
        return statistics.median(v), min(v), max(v)

    panels = [
        ("Idle RSS per connection (bytes), 10k", "idle10k", ["rss_per_conn_bytes"]),
        ("Handshakes per second, 10k", "idle10k", ["connect_rate"]),
        ("Messages per second, flat out", ("fcgifloor", "push1k", "batch1k", "ipc64"), ["push_rate"]),
        ("Latency ms (p50, p99), open loop", ("lat2k", "lat10k"), ["p50_us", "p99_us"]),
    ]
    gp = ['set terminal svg size 1000,720 dynamic font "sans,11"',
          f'set output "{os.path.join(a.docs, "benchmarks.svg")}"',
          'set multiplot layout 2,2 title "push-service benchmarks (median, min–max bars)"',
          'set style data histogram', 'set style histogram errorbars gap 1 lw 1',
          'set style fill solid 0.6 border -1', 'set boxwidth 0.9', 'set yrange [0:*]',
          'set xtics noenhanced rotate by -20', 'set key top left noenhanced', 'set grid ytics']
    for i, (title, scen, keys) in enumerate(panels):
        scens = scen if isinstance(scen, tuple) else (scen,)
        dat = os.path.join(a.work, f"panel{i}.dat")
        lines = []
        for (s, t), rs in groups.items():
            if s not in scens:
                continue
            vals = []
            for k in keys:
                m, lo, hi = med3(rs, k)
                scale = 1000.0 if k.endswith("_us") else 1.0
                vals += [m / scale, lo / scale, hi / scale]
            lines.append(f"\"{s}/{t}\" " + " ".join(f"{v:.3f}" for v in vals))
        gp.append(f'set title "{title}"')
        if not lines:
            gp.append('set label 1 "no data in this run" at graph 0.5,0.5 center')
            gp.append('plot [0:1][0:1] NaN notitle')
            gp.append('unset label 1')
            continue
        with open(dat, "w") as f:
            f.write("\n".join(lines) + "\n")
        parts = []
        for j, k in enumerate(keys):
            c = 2 + 3 * j
            using = f"{c}:{c + 1}:{c + 2}" + (":xtic(1)" if j == 0 else "")
            parts.append(f'"{dat}" using {using} title "{k.replace("_us", "")}"'
                         if len(keys) > 1 else f'"{dat}" using {using} notitle')
        if keys[0].endswith("_us"):   # latencies span decades: log scale
            gp += ["set logscale y", "set yrange [0.1:*]", 'set ylabel "ms (log)"']
        gp.append("plot " + ", ".join(parts))
        gp += ["unset logscale y", "set yrange [0:*]", 'unset ylabel']
    gp.append("unset multiplot")
    gpf = os.path.join(a.work, "benchmarks.gp")
    with open(gpf, "w") as f:
        f.write("\n".join(gp) + "\n")
    if shutil.which("gnuplot"):
        r = subprocess.run(["gnuplot", gpf], capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            print("gnuplot failed:", r.stderr)
            return 1
    else:
        print("gnuplot not found: no chart")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
