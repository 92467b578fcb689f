/* SPDX-License-Identifier: MIT */
/* /metrics: the Prometheus text of ws-daemon's binary counters (ipc.h, enum
 * ipc_stat), summed over the workers that answered; the one place it is formatted. */
#ifndef PUSH_API_METRICS_H
#define PUSH_API_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "ipc.h"

/*
 * Counters and gauges are summed over the workers with up[i] != 0, uptime is
 * the largest; push_worker_up{worker="<i>"} says 1 or 0 for each of the n.
 * Returns a malloc'd text the caller frees, *len its length; NULL on no memory.
 */
char *api_metrics_format(const uint64_t (*v)[IPC_STATS_N], const unsigned char *up,
			 unsigned n, size_t *len);

#endif
