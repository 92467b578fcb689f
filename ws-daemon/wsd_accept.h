/* With several workers, a uid lives in exactly one of them: each worker accepts on
 * its own SO_REUSEPORT listener, peeks at the request line for the uid and hands
 * the socket (SCM_RIGHTS) to the owning worker, which gives it to lws. */
#ifndef PUSH_WSD_ACCEPT_H
#define PUSH_WSD_ACCEPT_H

#include <stddef.h>

#include <libwebsockets.h>
#include <uv.h>

/* Hand-off channels, one datagram socketpair per worker, made by the supervisor
 * before it forks so every worker (and every restart) shares them. */
struct wsd_handoff {
	int rx; /* worker i reads sockets from here */
	int tx; /* anyone sends worker i a socket here */
};

/* Creates n channels into ch[0..n); -1 (errno set) on failure. */
int wsd_handoff_create(struct wsd_handoff *ch, unsigned n);

/*
 * Starts listening on host:port (SO_REUSEPORT) in worker `index` of n and
 * serving its hand-off channel. Accepted sockets end up in vh via
 * lws_adopt_socket_vhost, here or in their uid's worker. Returns 0 or -1 with
 * a reason logged. The channels must outlive the loop.
 */
int wsd_accept_start(uv_loop_t *loop, struct lws_vhost *vh, const char *host, int port,
		     unsigned index, unsigned n, const struct wsd_handoff *ch);

/* Stops accepting and drops connections still being peeked at. */
void wsd_accept_stop(void);

#endif
