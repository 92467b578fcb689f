/* The subscriber side of ws-daemon: the "push" WebSocket protocol on top of lws.
 * Authenticates each connection, enforces what a client may send, closes politely. */
#ifndef PUSH_WSD_WS_H
#define PUSH_WSD_WS_H

#include <stddef.h>

#include <libwebsockets.h>

#include "cfg.h"

#define WSD_WS_MAX_HEADER_DATA 8192 /* handshake headers incl. the query string */

/* Allocates the query buffer; -1 on out of memory. wsd_ws_free undoes it. */
int wsd_ws_init(void);
void wsd_ws_free(void);

/* The configuration authentication reads (secrets, uid limit); c must stay
 * valid until the next call. */
void wsd_ws_use(const struct cfg *c);

/* Established WebSockets not yet closed (those still saying goodbye included). */
size_t wsd_ws_live(void);

/* The lws callback of the "push" protocol; per-session data is struct wsd_conn. */
int wsd_ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		    size_t len);

#endif
