/* SPDX-License-Identifier: MIT */
/* The Redis engine: several hosts share each uid's stream (numbers, epoch, history,
 * acknowledged position) in Redis, and reach each other's connections by its pub/sub. */
#ifndef PUSH_WSD_REDIS_H
#define PUSH_WSD_REDIS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <libwebsockets.h>
#include <uv.h>

#include "cfg.h"
#include "ipc.h"
#include "wsd_conn.h"

/*
 * With `engine: redis` every worker of every host keeps two connections to each
 * Redis server (hiredis on the worker's libuv loop): one for commands, one
 * subscribed to the channels of the uids it holds, to its own channel and to
 * the cluster-wide ones. A uid lives on one server, chosen by consistent
 * hashing of the uid over redis_servers. A push runs one Lua script there
 * (next number, history append within its bounds, publish); every worker
 * holding the uid delivers and answers the publisher with its count, which
 * waits for as many answers as PUBLISH reached, within a bounded time.
 * Nothing here blocks: a Redis server that is down or slow costs the pushes
 * to its uids (503), never the WebSocket loop.
 */

/* Answers a datagram whose results are complete (wsd_ipc's sender). */
typedef void (*wsd_redis_reply_fn)(const struct ipc_hdr *me, const struct ipc_push_item *items,
				   const struct ipc_result *res, const uint64_t *epochs, size_t n,
				   const struct sockaddr_un *to, socklen_t to_len);

/* Starts connecting when c's engine is redis (else nothing, 0); -1 on a bad
 * server list or no memory. ctx: the lws context on loop, woken after Redis's
 * callbacks touched connections (lws arms its timers when its own callbacks
 * return). worker: this worker's index, for the logs. */
int wsd_redis_start(uv_loop_t *loop, struct lws_context *ctx, const struct cfg *c,
		    unsigned worker, wsd_redis_reply_fn reply);
/* Reload: history bounds, offline delivery, timeouts (servers are restart-only). */
void wsd_redis_use(const struct cfg *c);
/* Answers every datagram still waiting on Redis now, as it stands (an item
 * without Redis's answer: IPC_S_LATE, it may still happen). */
void wsd_redis_flush(void);
/* Answers what waits, disconnects (exit). */
void wsd_redis_stop(void);
/* Whether the engine is redis in this process. */
int wsd_redis_on(void);

/* The first connection of uid here arrived / the last one left. */
void wsd_redis_hold(const char *uid, size_t uid_len);
void wsd_redis_unhold(const char *uid, size_t uid_len);

/*
 * A decoded datagram of type PUSH, PRESENCE, KICK or BROADCAST. Items whose
 * res[i].status is already set (not IPC_S_DELIVERED with a zero `todo` entry)
 * are answered as they are; the rest go to Redis. The reply goes out through
 * the reply function once every item has its answer, at the latest after the
 * engine's wait or budget_ms (what the sender still waits; the shorter), maybe
 * from within this call. -1 on no memory (the caller answers at once).
 */
int wsd_redis_request(const struct ipc_hdr *me, uint8_t type, const struct ipc_push_item *items,
		      const struct ipc_result *res, const uint8_t *todo, size_t n,
		      const struct sockaddr_un *to, socklen_t to_len, long budget_ms);
/* Ack pushes sent to Redis whose answer is not complete yet (they may wait). */
size_t wsd_redis_ack_pending(void);

/* c (of uid) gave a position: its position frame and replay come from Redis,
 * once this host hears the uid's channel. -1 when it cannot be asked. */
int wsd_redis_resume(struct wsd_conn *c, const char *uid, size_t uid_len,
		     const struct wsd_resume *r);
/* c acknowledged number (answered by Redis; a bad number gets an error frame). */
void wsd_redis_ack(struct wsd_conn *c, const char *uid, size_t uid_len, uint64_t number);

#endif
