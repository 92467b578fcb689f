/* SPDX-License-Identifier: MIT */
/* Every connection enters here: each worker accepts on its own SO_REUSEPORT
 * listener, reads the handshake (shared/hs.c), refuses a bad one with a JSON HTTP
 * error, and hands a good one with its route (SCM_RIGHTS) to the uid's worker. */
#ifndef PUSH_WSD_ACCEPT_H
#define PUSH_WSD_ACCEPT_H

#include <stddef.h>

#include <libwebsockets.h>
#include <uv.h>

#include "cfg.h"

/* Hand-off channels, one datagram socketpair per worker, made by the supervisor
 * before it forks so every worker (and every restart) shares them. */
struct wsd_handoff {
	int rx; /* worker i reads sockets from here */
	int tx; /* anyone sends worker i a socket here */
};

/* Creates n channels into ch[0..n); -1 (errno set) on failure. */
int wsd_handoff_create(struct wsd_handoff *ch, unsigned n);

/*
 * Starts listening on host:port (SO_REUSEPORT when n > 1) in worker `index` of n and
 * serving its hand-off channel. Accepted sockets whose handshake passes end up
 * in vh (wsd_ws_adopt) in their uid's worker, never elsewhere: a failed hand-off
 * is answered 503. Returns 0 or -1 with a reason logged. The channels must
 * outlive the loop; lws's own vhost must not listen (CONTEXT_PORT_NO_LISTEN_SERVER).
 */
int wsd_accept_start(uv_loop_t *loop, struct lws_vhost *vh, const char *host, int port,
		     unsigned index, unsigned n, const struct wsd_handoff *ch);

/* The configuration the accept router reads (allowed_origins, max_connections);
 * c must stay valid until the next call. */
void wsd_accept_use(const struct cfg *c);

/* Stops accepting and drops connections whose handshake is still being read. */
void wsd_accept_stop(void);

#endif
