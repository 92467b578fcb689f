/* SPDX-License-Identifier: MIT */
/* ws-daemon's end of the IPC protocol: the datagram socket adopted into the lws
 * (libuv) loop, drained in bounded batches, each request answered to its sender. */
#ifndef PUSH_WSD_IPC_H
#define PUSH_WSD_IPC_H

#include <stddef.h>

#include <libwebsockets.h>
#include <uv.h>

#include "cfg.h"

/* The protocol entry the adopted socket uses; list it in the vhost's protocols. */
int wsd_ipc_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		     size_t len);
#define WSD_IPC_PROTOCOL_NAME "push-ipc"

/* Binds path (mode applied to the file) and adopts it into vh's loop; from then
 * on lws owns the fd and closes it. A lock on "<path>.lock" keeps a second
 * daemon off the same path. wsd_ipc_close takes the socket out of the loop and
 * removes the file. Returns 0, or -1 with err filled. */
int wsd_ipc_open(struct lws_vhost *vh, const char *path, unsigned mode, char *err,
		 size_t err_len);
void wsd_ipc_close(void);

/*
 * The configuration this worker runs (the supervisor's current one) and the
 * worker's number; call it at start and after every reload. What it needs is
 * copied: c may be freed afterwards. From then on:
 *  - every reply carries c's generation, c->workers and index;
 *  - a CONFIG request is answered with c as cfg_pack() writes it;
 *  - a push made under another generation is refused item by item (IPC_S_STALE),
 *    one for a uid that req_uid_shard() gives another worker too
 *    (IPC_S_WRONG_WORKER): push-api re-learns and sends it again;
 *  - items whose uid breaks the uid rule (max_uid_bytes) or whose frame would
 *    exceed a connection's whole queue (send_queue_max_bytes) are refused;
 *  - datagrams that sat in the socket for push_timeout_ms (the sender has given
 *    up) are dropped unanswered.
 */
void wsd_ipc_use(const struct cfg *c, unsigned index);

/* Starts the configured engine's connections (engine redis) on loop; the
 * datagrams it answers later go out through this module. -1 on failure. */
int wsd_ipc_engine_start(uv_loop_t *loop, const struct cfg *c, unsigned index);

#endif
