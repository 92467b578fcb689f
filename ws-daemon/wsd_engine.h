/* SPDX-License-Identifier: MIT */
/* The engine boundary: each uid's message stream (sequence numbers, epoch, retained
 * history, acknowledged position). This file's implementation keeps them in memory. */
#ifndef PUSH_WSD_ENGINE_H
#define PUSH_WSD_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "cfg.h"
#include "ipc.h"
#include "wsd_msg.h"

/*
 * Everything the WebSocket and datagram code know of message storage goes
 * through these calls; none of them touches a stream's inside. A stream lives
 * while it is held (its uid has a connection in this process), retains a
 * message, or for history_ttl after its last connection went (with history
 * on); a stream made again after it ended gets a new epoch, so a client
 * holding numbers of the old one learns they are void. The memory engine
 * answers every call at once. Engine redis (wsd_redis.h) keeps the same
 * semantics across hosts but answers later, so it takes over one level up,
 * where a datagram is answered and a connection resumes or acknowledges
 * (wsd_ipc.c, wsd_conn.c); these calls are then not used.
 */
struct wsd_stream;

/* Where a uid's stream stands. */
struct wsd_position {
	uint64_t epoch;  /* random; new for every new stream */
	uint64_t last;   /* number of the newest message (0: none yet) */
	uint64_t acked;  /* highest number a connection acknowledged (<= last) */
};

/* Per process: the random base of epochs (after fork: each worker its own). */
int wsd_engine_init(void);
/* Drops every stream and message (exit). */
void wsd_engine_free(void);

/* Applies the history keys; `workers` share history_memory evenly. Retained
 * messages beyond the new bounds are dropped at once. */
void wsd_engine_use(const struct cfg *c, unsigned workers);
/* Whether pushes to a uid with no connection are kept (offline_messages). */
int wsd_engine_keeps_offline(void);

/* The uid's stream, made if none (NULL on no memory), held until unhold: the
 * connection table holds it while the uid has a connection. */
struct wsd_stream *wsd_engine_hold(const char *uid, size_t uid_len);
void wsd_engine_unhold(struct wsd_stream *s);
/* The uid's stream, made when `create`; NULL when there is none. Not held: it
 * may end at the next call that retains or drops messages. */
struct wsd_stream *wsd_engine_find(const char *uid, size_t uid_len, int create);

/*
 * Gives the message the stream's next number (*number), builds its frame from
 * the item's pre-serialised parts and retains it when history is on. Returns
 * the frame with one reference for the caller (NULL on no memory: no number
 * used); *retained tells whether history kept it. A stream found with create
 * and not held must not be used after the call (with no history it ends).
 */
struct wsd_msg *wsd_engine_publish(struct wsd_stream *s, const struct ipc_push_item *it,
				   uint64_t *number, int *retained);

void wsd_engine_position(struct wsd_stream *s, struct wsd_position *p);

/* Number of the first retained message after `after`; last + 1 when none. */
uint64_t wsd_engine_first(struct wsd_stream *s, uint64_t after);
/* Calls fn for every retained message after `after`, oldest first, and stops
 * early when fn returns non-zero (which it then returns). fn must not publish. */
int wsd_engine_range(struct wsd_stream *s, uint64_t after,
		     int (*fn)(struct wsd_msg *m, uint64_t number, void *arg), void *arg);

/* n acknowledged: the position only moves up. Returns 1 when it moved, 0 when
 * it was there already, -1 for an n past last (nothing changes). */
int wsd_engine_ack(struct wsd_stream *s, uint64_t n);

/* Once a second: retained messages past history_ttl are dropped. */
void wsd_engine_tick(void);

/* Gauges: streams, retained messages, bytes the history accounts for. */
size_t wsd_engine_streams(void);
size_t wsd_engine_messages(void);
size_t wsd_engine_bytes(void);
/* Messages dropped before their age by the count, byte or memory bounds. */
uint64_t wsd_engine_evicted(void);

#endif
