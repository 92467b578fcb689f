/* Process-wide counters of ws-daemon and their Prometheus text form, served on
 * /metrics through push-api. Counters only grow; gauges are passed in. */
#ifndef PUSH_WSD_STATS_H
#define PUSH_WSD_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "ipc.h"

struct wsd_stats {
	uint64_t pushes_received;   /* push items decoded */
	uint64_t pushes_delivered;  /* items handed to >= 1 connection */
	uint64_t deliveries;        /* frames queued, summed over connections */
	uint64_t pushes_offline;    /* items for a uid with no connection */
	uint64_t pushes_invalid;    /* items refused (uid rule, frame too big) */
	uint64_t pushes_expired;    /* datagrams dropped: the sender had given up */
	uint64_t slow_closed;       /* connections closed because their queue was full */
	uint64_t slow_dropped;      /* frames those connections never got */
	uint64_t ws_accepted;       /* WebSockets authenticated */
	uint64_t ws_refused;        /* WebSockets refused (uid or key) */
	uint64_t ws_handshake_refused; /* handshakes answered with an HTTP error */
	uint64_t ipc_errors;        /* datagrams that could not be decoded */
	uint64_t api_refused[IPC_R_COUNT]; /* reported by push-api */
};

/* The one instance; the daemon is single-threaded, so plain increments. */
extern struct wsd_stats wsd_stats;

/* Writes the Prometheus exposition into buf; returns its length, or 0 if cap
 * is too small. */
size_t wsd_stats_format(char *buf, size_t cap, size_t connections, size_t uids,
			size_t queued_bytes, double uptime_s);

#endif
