/* SPDX-License-Identifier: MIT */
/* Pushes that asked to be answered on acknowledgement: their datagram's reply is
 * held until every such item was acknowledged by a connection, or its time ran out. */
#ifndef PUSH_WSD_ACKWAIT_H
#define PUSH_WSD_ACKWAIT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <libwebsockets.h>

#include "ipc.h"

/* Sends a held reply once it is complete (wsd_ipc's sender). */
typedef void (*wsd_ackwait_send_fn)(const struct ipc_hdr *me, const struct ipc_result *res,
				    size_t n, const struct sockaddr_un *to, socklen_t to_len);

/*
 * ack_waiters_max bounds the whole daemon's waiters (it keeps FastCGI processes
 * free, whichever worker holds the uid): each worker publishes its count in a
 * slot of memory the supervisor maps shared before it forks, and admits by the
 * sum. Two workers admitting in the same instant may go over by one each.
 */
struct wsd_ackwait_shared;
/* The supervisor, before forking; NULL if it cannot be mapped (each worker then
 * counts alone against the whole bound). */
struct wsd_ackwait_shared *wsd_ackwait_shared_new(void);

/* The timers run on ctx's loop; complete replies go out through send. */
void wsd_ackwait_init(struct lws_context *ctx, wsd_ackwait_send_fn send);
/* Worker `index` counts in sh (its slot starts at 0: a restarted worker holds none). */
void wsd_ackwait_share(struct wsd_ackwait_shared *sh, unsigned index);
/* At most max_waiters items wait at once in the daemon, each wait_ms. */
void wsd_ackwait_use(size_t max_waiters, long wait_ms);

/* Whether n more items may wait now. */
int wsd_ackwait_room(size_t n);

/*
 * The datagram whose answer is res[0..n) (to `to`): every item flagged IPC_F_ACK
 * that reached a connection (status DELIVERED) waits for
 * the acknowledgement of its number in epochs[i] of its uid. Returns 1 when the
 * reply is now held here (res and the address copied), 0 when nothing waits and
 * the caller answers at once, -1 on no memory (the caller answers at once).
 */
int wsd_ackwait_hold(const struct ipc_hdr *me, const struct ipc_push_item *items,
		     const struct ipc_result *res, const uint64_t *epochs, size_t n,
		     const struct sockaddr_un *to, socklen_t to_len);

/* uid's acknowledged position moved to `acked` in `epoch`. */
void wsd_ackwait_acked(const char *uid, size_t uid_len, uint64_t epoch, uint64_t acked);

/* Answers every held reply now, unacknowledged items as they are (exit). */
void wsd_ackwait_flush(void);

/* Items waiting now. */
size_t wsd_ackwait_waiting(void);

#endif
