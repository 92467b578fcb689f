/* SPDX-License-Identifier: MIT */
/* Process-wide counters of ws-daemon, handed to push-api as binary counters
 * (ipc.h, enum ipc_stat), which formats /metrics. Counters only grow. */
#ifndef PUSH_WSD_STATS_H
#define PUSH_WSD_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "ipc.h"

/* One field a counter; a new one also gets an enum ipc_stat entry and a line in
 * wsd_stats_fill (and its name in push-api's api_metrics.c). */
struct wsd_stats {
	uint64_t pushes_received;   /* push items decoded */
	uint64_t pushes_delivered;  /* items handed to >= 1 connection */
	uint64_t deliveries;        /* frames queued, summed over connections */
	uint64_t pushes_offline;    /* items for a uid with no connection */
	uint64_t pushes_invalid;    /* items refused (uid rule, frame too big) */
	uint64_t pushes_expired;    /* datagrams dropped: the sender had given up */
	uint64_t pushes_wrong_worker; /* items for a uid another worker owns */
	uint64_t pushes_stale;      /* items sent under another configuration */
	uint64_t slow_closed;       /* connections closed because their queue was full */
	uint64_t slow_dropped;      /* frames those connections never got */
	uint64_t ws_accepted;       /* WebSockets authenticated */
	uint64_t ws_refused;        /* WebSockets refused (uid or key) */
	uint64_t ws_handshake_refused; /* handshakes answered with an HTTP error */
	uint64_t ipc_errors;        /* datagrams that could not be decoded */
	uint64_t pushes_stored;     /* kept for a uid with no connection */
	uint64_t pushes_busy;       /* refused: too many waiting for an ack */
	uint64_t resumes;           /* connections that gave a position */
	uint64_t resume_gaps;       /* ... and were told messages are gone */
	uint64_t replayed;          /* frames sent again from history */
	uint64_t acks;              /* acknowledgements that moved a position */
	uint64_t ack_waits_acked;   /* waiting items answered acknowledged */
	uint64_t ack_waits_timeout; /* ... answered unacknowledged at their time */
	uint64_t api_refused[IPC_R_COUNT]; /* reported by push-api */
};

/* The one instance; the daemon is single-threaded, so plain increments. */
extern struct wsd_stats wsd_stats;

/* The gauges a STATS_REPLY carries next to the counters. */
struct wsd_gauges {
	size_t connections;
	size_t uids;
	size_t queued_bytes;
	uint64_t uptime_ms;
	size_t closing;       /* out of the uid table, Close not yet done */
	size_t closing_bytes; /* upper bound of what lws still holds for them */
	uint64_t close_resets;/* closings cut at their bound (wsd_conn counts them) */
	size_t history_uids;  /* the engine's streams, messages and bytes */
	size_t history_messages;
	size_t history_bytes;
	uint64_t history_evicted; /* (the engine counts them) */
	size_t ack_waiting;
};

/* Writes every counter and gauge into v, indexed by enum ipc_stat. */
void wsd_stats_fill(const struct wsd_gauges *g, uint64_t v[IPC_STATS_N]);

#endif
