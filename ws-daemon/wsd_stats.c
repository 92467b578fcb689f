/* Metrics in the Prometheus text format (version 0.0.4): names prefixed push_,
 * totals end in _total, refusals labelled by reason. */
#include "wsd_stats.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

struct wsd_stats wsd_stats;

struct wbuf {
	char *p;
	size_t len, cap;
	int full;
};

static void put(struct wbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct wbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->full)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= b->cap - b->len) {
		b->full = 1;
		return;
	}
	b->len += (size_t)n;
}

static void metric(struct wbuf *b, const char *name, const char *type, const char *help,
		   uint64_t v)
{
	put(b, "# HELP %s %s\n# TYPE %s %s\n%s %" PRIu64 "\n", name, help, name, type, name, v);
}

size_t wsd_stats_format(char *buf, size_t cap, size_t connections, size_t uids,
			size_t queued_bytes, double uptime_s)
{
	static const char *const api_reasons[IPC_R_COUNT] = {
		"unauthorized", "bad_request", "too_large", "unsupported_media_type",
		"method_not_allowed", "daemon_unavailable",
	};
	const struct wsd_stats *s = &wsd_stats;
	struct wbuf b = { buf, 0, cap, 0 };

	metric(&b, "push_connections", "gauge", "WebSocket connections open now.", connections);
	metric(&b, "push_uids_online", "gauge", "Distinct uids with a connection.", uids);
	metric(&b, "push_queue_bytes", "gauge", "Bytes waiting in send queues.", queued_bytes);
	put(&b, "# HELP push_uptime_seconds Seconds since ws-daemon started.\n"
		"# TYPE push_uptime_seconds gauge\npush_uptime_seconds %.3f\n", uptime_s);
	metric(&b, "push_pushes_received_total", "counter", "Messages received from push-api.",
	       s->pushes_received);
	metric(&b, "push_pushes_delivered_total", "counter",
	       "Messages handed to at least one connection.", s->pushes_delivered);
	metric(&b, "push_deliveries_total", "counter",
	       "Frames queued to connections (one message, several tabs: several).", s->deliveries);
	put(&b, "# HELP push_pushes_refused_total Messages not delivered, by reason.\n"
		"# TYPE push_pushes_refused_total counter\n");
	put(&b, "push_pushes_refused_total{reason=\"offline\"} %" PRIu64 "\n", s->pushes_offline);
	put(&b, "push_pushes_refused_total{reason=\"invalid\"} %" PRIu64 "\n", s->pushes_invalid);
	put(&b, "push_pushes_refused_total{reason=\"expired\"} %" PRIu64 "\n", s->pushes_expired);
	put(&b, "# HELP push_api_refused_total Requests push-api refused before delivery, by reason.\n"
		"# TYPE push_api_refused_total counter\n");
	for (size_t i = 0; i < IPC_R_COUNT; i++)
		put(&b, "push_api_refused_total{reason=\"%s\"} %" PRIu64 "\n", api_reasons[i],
		    s->api_refused[i]);
	metric(&b, "push_slow_consumers_closed_total", "counter",
	       "Connections closed because their send queue was full.", s->slow_closed);
	metric(&b, "push_slow_consumer_messages_dropped_total", "counter",
	       "Frames discarded with the slow connections that could not take them.",
	       s->slow_dropped);
	metric(&b, "push_ws_accepted_total", "counter", "WebSockets authenticated.", s->ws_accepted);
	metric(&b, "push_ws_refused_total", "counter", "WebSockets refused (uid or access key).",
	       s->ws_refused);
	metric(&b, "push_ws_handshake_refused_total", "counter",
	       "WebSocket handshakes refused with an HTTP error (malformed, wrong method, "
	       "version or path, bad uid).", s->ws_handshake_refused);
	metric(&b, "push_ipc_errors_total", "counter", "Datagrams that could not be decoded.",
	       s->ipc_errors);
	return b.full ? 0 : b.len;
}
