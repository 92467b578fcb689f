/* SPDX-License-Identifier: MIT */
/* The counters of ws-daemon laid out as ipc.h's STATS_REPLY array; push-api sums
 * them over workers and writes the Prometheus text (fcgi-api/api_metrics.c). */
#include "wsd_stats.h"

#include <string.h>

struct wsd_stats wsd_stats;

void wsd_stats_fill(const struct wsd_gauges *g, uint64_t v[IPC_STATS_N])
{
	const struct wsd_stats *s = &wsd_stats;

	memset(v, 0, IPC_STATS_N * sizeof v[0]);
	v[IPC_ST_CONNECTIONS] = g->connections;
	v[IPC_ST_UIDS_ONLINE] = g->uids;
	v[IPC_ST_QUEUE_BYTES] = g->queued_bytes;
	v[IPC_ST_UPTIME_MS] = g->uptime_ms;
	v[IPC_ST_CLOSING] = g->closing;
	v[IPC_ST_CLOSING_BYTES] = g->closing_bytes;
	v[IPC_ST_CLOSE_RESETS] = g->close_resets;
	v[IPC_ST_PUSHES_RECEIVED] = s->pushes_received;
	v[IPC_ST_PUSHES_DELIVERED] = s->pushes_delivered;
	v[IPC_ST_DELIVERIES] = s->deliveries;
	v[IPC_ST_PUSHES_OFFLINE] = s->pushes_offline;
	v[IPC_ST_PUSHES_INVALID] = s->pushes_invalid;
	v[IPC_ST_PUSHES_EXPIRED] = s->pushes_expired;
	v[IPC_ST_PUSHES_WRONG_WORKER] = s->pushes_wrong_worker;
	v[IPC_ST_PUSHES_STALE] = s->pushes_stale;
	v[IPC_ST_SLOW_CLOSED] = s->slow_closed;
	v[IPC_ST_SLOW_DROPPED] = s->slow_dropped;
	v[IPC_ST_WS_ACCEPTED] = s->ws_accepted;
	v[IPC_ST_WS_REFUSED] = s->ws_refused;
	v[IPC_ST_IPC_ERRORS] = s->ipc_errors;
	v[IPC_ST_WS_HANDSHAKE_REFUSED] = s->ws_handshake_refused;
	v[IPC_ST_HISTORY_UIDS] = g->history_uids;
	v[IPC_ST_HISTORY_MESSAGES] = g->history_messages;
	v[IPC_ST_HISTORY_BYTES] = g->history_bytes;
	v[IPC_ST_ACK_WAITING] = g->ack_waiting;
	v[IPC_ST_HISTORY_EVICTED] = g->history_evicted;
	v[IPC_ST_PUSHES_STORED] = s->pushes_stored;
	v[IPC_ST_PUSHES_BUSY] = s->pushes_busy;
	v[IPC_ST_RESUMES] = s->resumes;
	v[IPC_ST_RESUMES_GAP] = s->resume_gaps;
	v[IPC_ST_REPLAYED] = s->replayed;
	v[IPC_ST_ACKS] = s->acks;
	v[IPC_ST_ACK_WAITS_ACKED] = s->ack_waits_acked;
	v[IPC_ST_ACK_WAITS_TIMEOUT] = s->ack_waits_timeout;
	for (size_t i = 0; i < IPC_R_COUNT; i++)
		v[IPC_ST_API_REFUSED + i] = s->api_refused[i];
}
