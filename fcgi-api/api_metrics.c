/* SPDX-License-Identifier: MIT */
/* Prometheus text format 0.0.4: names prefixed push_, totals end in _total,
 * refusals labelled by reason, ack waits by result; one HELP/TYPE per family. */
#include "api_metrics.h"
#include "version.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct api_metric {
	const char *name;
	const char *label;   /* the sample's labels (name="value"), or NULL */
	int gauge;
	int index;           /* enum ipc_stat */
	const char *help;
};

#define REFUSED(l, i) { "push_pushes_refused_total", "reason=\"" l "\"", 0, i, \
			"Messages not delivered, by reason." }
#define API(l, r) { "push_api_refused_total", "reason=\"" l "\"", 0, IPC_ST_API_REFUSED + (r), \
		    "Requests push-api refused before delivery, by reason." }
#define ACK_WAIT(l, i) { "push_ack_waits_total", "result=\"" l "\"", 0, i, \
			 "Pushes that waited for an acknowledgement, by how the wait ended." }

/* Uptime is not here: it is the one gauge that is not a sum. */
static const struct api_metric api_metrics[] = {
	{ "push_connections", NULL, 1, IPC_ST_CONNECTIONS, "WebSocket connections open now." },
	{ "push_uids_online", NULL, 1, IPC_ST_UIDS_ONLINE, "Distinct uids with a connection." },
	{ "push_queue_bytes", NULL, 1, IPC_ST_QUEUE_BYTES, "Bytes waiting in send queues." },
	{ "push_connections_closing", NULL, 1, IPC_ST_CLOSING,
	  "Connections closed by us or the peer, not yet gone (each ends within a bound)." },
	{ "push_closing_unsent_bytes", NULL, 1, IPC_ST_CLOSING_BYTES,
	  "At most this many bytes are still held for closing connections." },
	{ "push_history_uids", NULL, 1, IPC_ST_HISTORY_UIDS,
	  "Uids with a message history (connected, or kept for a resume)." },
	{ "push_history_messages", NULL, 1, IPC_ST_HISTORY_MESSAGES,
	  "Messages kept in histories for resume." },
	{ "push_history_bytes", NULL, 1, IPC_ST_HISTORY_BYTES,
	  "Bytes the histories hold, frames and bookkeeping." },
	{ "push_ack_waiting", NULL, 1, IPC_ST_ACK_WAITING,
	  "Pushes waiting for an acknowledgement now." },
	{ "push_pushes_received_total", NULL, 0, IPC_ST_PUSHES_RECEIVED,
	  "Messages received from push-api." },
	{ "push_pushes_delivered_total", NULL, 0, IPC_ST_PUSHES_DELIVERED,
	  "Messages handed to at least one connection." },
	{ "push_deliveries_total", NULL, 0, IPC_ST_DELIVERIES,
	  "Frames queued to connections (one message, several tabs: several)." },
	{ "push_pushes_stored_total", NULL, 0, IPC_ST_PUSHES_STORED,
	  "Messages kept for a uid with no connection, for its next one (offline_messages)." },
	REFUSED("offline", IPC_ST_PUSHES_OFFLINE),
	REFUSED("invalid", IPC_ST_PUSHES_INVALID),
	REFUSED("expired", IPC_ST_PUSHES_EXPIRED),
	REFUSED("wrong_worker", IPC_ST_PUSHES_WRONG_WORKER),
	REFUSED("stale_config", IPC_ST_PUSHES_STALE),
	REFUSED("busy", IPC_ST_PUSHES_BUSY),
	API("unauthorized", IPC_R_UNAUTHORIZED),
	API("bad_request", IPC_R_BAD_REQUEST),
	API("too_large", IPC_R_TOO_LARGE),
	API("unsupported_media_type", IPC_R_MEDIA_TYPE),
	API("method_not_allowed", IPC_R_METHOD),
	API("daemon_unavailable", IPC_R_DAEMON),
	{ "push_slow_consumers_closed_total", NULL, 0, IPC_ST_SLOW_CLOSED,
	  "Connections closed because their send queue was full." },
	{ "push_slow_consumer_messages_dropped_total", NULL, 0, IPC_ST_SLOW_DROPPED,
	  "Frames discarded with the slow connections that could not take them." },
	{ "push_ws_accepted_total", NULL, 0, IPC_ST_WS_ACCEPTED, "WebSockets authenticated." },
	{ "push_ws_refused_total", NULL, 0, IPC_ST_WS_REFUSED,
	  "WebSockets refused (uid or access key)." },
	{ "push_ws_handshake_refused_total", NULL, 0, IPC_ST_WS_HANDSHAKE_REFUSED,
	  "WebSocket handshakes refused with an HTTP error (malformed, wrong method, version or path, bad uid)." },
	{ "push_closing_resets_total", NULL, 0, IPC_ST_CLOSE_RESETS,
	  "Closing connections reset because their Close could not leave or was not answered in time." },
	{ "push_ipc_errors_total", NULL, 0, IPC_ST_IPC_ERRORS,
	  "Datagrams that could not be decoded." },
	{ "push_history_evicted_total", NULL, 0, IPC_ST_HISTORY_EVICTED,
	  "Messages dropped from a history before history_ttl, to stay within its bounds." },
	{ "push_resumes_total", NULL, 0, IPC_ST_RESUMES,
	  "Connections that asked to resume from a message number." },
	{ "push_resume_gaps_total", NULL, 0, IPC_ST_RESUMES_GAP,
	  "Resumes told that some messages after their number are gone." },
	{ "push_replayed_messages_total", NULL, 0, IPC_ST_REPLAYED,
	  "Messages sent again from a history." },
	{ "push_acks_total", NULL, 0, IPC_ST_ACKS,
	  "Acknowledgements received that moved a connection's position." },
	ACK_WAIT("acked", IPC_ST_ACK_WAITS_ACKED),
	ACK_WAIT("timeout", IPC_ST_ACK_WAITS_TIMEOUT),
};

struct api_wbuf {
	char *p;
	size_t len, cap;
	int oom;
};

static void api_put(struct api_wbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void api_put(struct api_wbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->oom)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = 1;
			return;
		}
		if ((size_t)n < b->cap - b->len)
			break;
		char *q = realloc(b->p, b->cap * 2 + (size_t)n);

		if (!q) {
			b->oom = 1;
			return;
		}
		b->p = q;
		b->cap = b->cap * 2 + (size_t)n;
	}
	b->len += (size_t)n;
}

static void api_family(struct api_wbuf *b, const char *name, const char *type, const char *help)
{
	api_put(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static uint64_t api_sum(const uint64_t (*v)[IPC_STATS_N], const unsigned char *up, unsigned n,
			int index)
{
	uint64_t s = 0;

	for (unsigned i = 0; i < n; i++)
		if (up[i])
			s += v[i][index];
	return s;
}

static void api_uptime(struct api_wbuf *b, const uint64_t (*v)[IPC_STATS_N],
		       const unsigned char *up, unsigned n)
{
	uint64_t ms = 0;

	for (unsigned i = 0; i < n; i++)
		if (up[i] && v[i][IPC_ST_UPTIME_MS] > ms)
			ms = v[i][IPC_ST_UPTIME_MS];
	api_family(b, "push_uptime_seconds", "gauge", "Seconds since ws-daemon started.");
	api_put(b, "push_uptime_seconds %" PRIu64 ".%03u\n", ms / 1000u, (unsigned)(ms % 1000u));
}

char *api_metrics_format(const uint64_t (*v)[IPC_STATS_N], const unsigned char *up,
			 unsigned n, size_t *len)
{
	struct api_wbuf b = { malloc(4096), 0, 4096, 0 };
	const char *prev = "";

	b.oom = b.p == NULL;
	for (size_t k = 0; k < sizeof api_metrics / sizeof api_metrics[0]; k++) {
		const struct api_metric *m = &api_metrics[k];
		uint64_t s = api_sum(v, up, n, m->index);

		if (strcmp(m->name, prev) != 0)
			api_family(&b, m->name, m->gauge ? "gauge" : "counter", m->help);
		prev = m->name;
		if (m->label)
			api_put(&b, "%s{%s} %" PRIu64 "\n", m->name, m->label, s);
		else
			api_put(&b, "%s %" PRIu64 "\n", m->name, s);
		if (m->index == IPC_ST_QUEUE_BYTES)
			api_uptime(&b, v, up, n); /* keeps the gauges together */
	}
	api_family(&b, "push_build_info", "gauge", "The running push-service release (always 1).");
	api_put(&b, "push_build_info{version=\"%s\"} 1\n", PUSH_VERSION);
	api_family(&b, "push_worker_up", "gauge",
		   "1 if the ws-daemon worker answered this scrape in time, else 0.");
	for (unsigned i = 0; i < n; i++)
		api_put(&b, "push_worker_up{worker=\"%u\"} %d\n", i, up[i] ? 1 : 0);
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	*len = b.len;
	return b.p;
}
