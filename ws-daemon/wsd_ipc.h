/* ws-daemon's end of the IPC protocol: the datagram socket adopted into the lws
 * (libuv) loop, drained in bounded batches, each request answered to its sender. */
#ifndef PUSH_WSD_IPC_H
#define PUSH_WSD_IPC_H

#include <stddef.h>

#include <libwebsockets.h>

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

/* Items whose uid breaks the uid rule or whose frame would exceed max_frame
 * (a connection's whole queue) are refused, not delivered. Datagrams that sat
 * in the socket for max_age_ms (push_timeout_ms: the sender has given up) are
 * dropped unanswered. */
void wsd_ipc_set_limits(size_t max_uid, size_t max_frame, long max_age_ms);

#endif
