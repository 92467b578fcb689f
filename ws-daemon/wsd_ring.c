/* SPDX-License-Identifier: MIT */
/* Consistent hashing for engine redis: WSD_RING_POINTS points per server on a 64-bit
 * ring; a uid belongs to the first point at or after its hash. */
#include "wsd_ring.h"

#include <stdio.h>
#include <stdlib.h>

#include "siphash.h"

struct wsd_point {
	uint64_t hash;
	unsigned server;
};

struct wsd_ring {
	size_t n;
	struct wsd_point points[];
};

/* A fixed key, not a secret: every host must place uids alike. */
static const uint8_t wsd_ring_key[SIPHASH_KEY_BYTES];

static uint64_t wsd_ring_hash(const void *p, size_t n) { return siphash24(wsd_ring_key, p, n); }

static int wsd_point_cmp(const void *a, const void *b)
{
	const struct wsd_point *x = a, *y = b;

	return x->hash < y->hash ? -1 : x->hash > y->hash;
}

struct wsd_ring *wsd_ring_new(const struct cfg_redis_server *servers, size_t n)
{
	struct wsd_ring *r;
	char name[300];

	if (n == 0 || n > CFG_REDIS_SERVERS_MAX)
		return NULL;
	r = malloc(sizeof *r + n * WSD_RING_POINTS * sizeof r->points[0]);
	if (!r)
		return NULL;
	r->n = n * WSD_RING_POINTS;
	for (size_t s = 0; s < n; s++) {
		for (unsigned v = 0; v < WSD_RING_POINTS; v++) {
			/* Named by the server, not its place in the list. */
			int len = snprintf(name, sizeof name, "%s:%d-%u", servers[s].host,
					   servers[s].port, v);

			r->points[s * WSD_RING_POINTS + v] =
				(struct wsd_point){ wsd_ring_hash(name, (size_t)len), (unsigned)s };
		}
	}
	qsort(r->points, r->n, sizeof r->points[0], wsd_point_cmp);
	return r;
}

void wsd_ring_free(struct wsd_ring *r) { free(r); }

unsigned wsd_ring_pick(const struct wsd_ring *r, const char *uid, size_t uid_len)
{
	uint64_t h = wsd_ring_hash(uid, uid_len);
	size_t lo = 0, hi = r->n;

	while (lo < hi) { /* the first point at or after h */
		size_t mid = lo + (hi - lo) / 2;

		if (r->points[mid].hash < h)
			lo = mid + 1;
		else
			hi = mid;
	}
	return r->points[lo == r->n ? 0 : lo].server;
}
