/* SPDX-License-Identifier: MIT */
/* Consistent hashing of uids over the Redis servers of engine redis: every host with
 * the same server list, in any order, picks the same server for a uid. */
#ifndef PUSH_WSD_RING_H
#define PUSH_WSD_RING_H

#include <stddef.h>
#include <stdint.h>

#include "cfg.h"

/* Points per server: enough that servers share uids within a few per cent. */
#define WSD_RING_POINTS 160

/* A ring over n servers, each named by its host:port; owned by the caller,
 * released with wsd_ring_free. NULL on no memory or n == 0. */
struct wsd_ring;
struct wsd_ring *wsd_ring_new(const struct cfg_redis_server *servers, size_t n);
void wsd_ring_free(struct wsd_ring *r);

/* The index (into the list given to wsd_ring_new) of uid's server. Adding a
 * server moves only the uids that land on its points. */
unsigned wsd_ring_pick(const struct wsd_ring *r, const char *uid, size_t uid_len);

#endif
