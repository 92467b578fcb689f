/* SPDX-License-Identifier: MIT */
/* The subscriber side of ws-daemon: the "push" WebSocket protocol on top of lws.
 * Authenticates each connection, enforces what a client may send, closes politely. */
#ifndef PUSH_WSD_WS_H
#define PUSH_WSD_WS_H

#include <stddef.h>

#include <libwebsockets.h>

#include "cfg.h"
#include "hs.h"
#include "wsd_conn.h"

/* lws only ever parses the minimal head hs_parse rewrites (HS_LWS_MAX bytes);
 * its header buffer keeps the old size so nothing else depends on the change. */
#define WSD_WS_MAX_HEADER_DATA HS_HEAD_MAX
_Static_assert(HS_LWS_MAX <= WSD_WS_MAX_HEADER_DATA, "lws must hold the rewritten head");

/*
 * What the accept router read in a connection's handshake, travelling with the
 * socket to the uid's worker: one malloc'd block (wsd_route_new), owned by
 * whoever holds it last; an lws connection owns its own until it dies.
 */
struct wsd_route {
	lws_sorted_usec_list_t close_sul; /* bounds lws's close handshake (wsd_ws.c) */
	struct lws *wsi;                  /* the connection carrying it, once adopted */
	struct wsd_resume resume;         /* since/epoch of the handshake */
	size_t uid_len, key_len;
	const char *uid;        /* uid_len bytes + NUL, inside the block */
	const char *key;        /* access_key, key_len bytes + NUL ("" when absent) */
	const char *client;     /* peer address (and X-Forwarded-For) for logs */
	char data[];
};

/* NULL on out of memory. client must be NUL-terminated. */
struct wsd_route *wsd_route_new(const char *uid, size_t uid_len, const char *key,
				size_t key_len, const char *client,
				const struct wsd_resume *resume);

/*
 * Gives the accepted socket fd to lws on vh with req[0..len) (the head hs_parse
 * rewrote, <= HS_LWS_MAX) as its first bytes and route attached to the
 * connection. Takes fd and route in every case; -1 if lws refused them.
 */
int wsd_ws_adopt(struct lws_vhost *vh, int fd, struct wsd_route *route, const char *req,
		 size_t len);

/* Nothing left to allocate: kept so the daemon's start-up sequence is unchanged. */
int wsd_ws_init(void);
void wsd_ws_free(void);

/* The configuration authentication reads (secrets, uid limit); c must stay
 * valid until the next call. */
void wsd_ws_use(const struct cfg *c);

/* The uid limit (max_uid_bytes) of that configuration, for the accept router. */
size_t wsd_ws_max_uid(void);

/* Established WebSockets not yet closed (those still saying goodbye included). */
size_t wsd_ws_live(void);

/* The lws callback of the "push" protocol; per-session data is struct wsd_conn. */
int wsd_ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		    size_t len);

/* Tells a client that gave a position why its message was refused (a control
 * error frame); nothing for a wave-1 client. */
void wsd_ws_client_error(struct wsd_conn *c, const char *reason);

#endif
