/* The subscriber side of ws-daemon: the "push" WebSocket protocol (authentication,
 * what a client may send, close handling) on top of lws. Delivery is wsd_conn's. */
#include "wsd_ws.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "akey.h"
#include "log.h"
#include "req.h"
#include "wmsg.h"
#include "wsd_alive.h"
#include "wsd_conn.h"
#include "wsd_stats.h"

#define WSD_WS_MAX_CLIENT_MSG 4096 /* clients have nothing to say but heartbeats */

static const struct cfg *ws_cfg;   /* the worker's current configuration */
static char *ws_argbuf;            /* WSD_WS_MAX_HEADER_DATA + 1, for query args */
static size_t ws_live;             /* established WebSockets not yet CLOSED */

int wsd_ws_init(void)
{
	ws_argbuf = malloc(WSD_WS_MAX_HEADER_DATA + 1);
	return ws_argbuf ? 0 : -1;
}

void wsd_ws_free(void)
{
	free(ws_argbuf);
	ws_argbuf = NULL;
}

void wsd_ws_use(const struct cfg *c) { ws_cfg = c; }
size_t wsd_ws_live(void) { return ws_live; }

/* Last path segment must be "ws": "/ws" directly, "/prefix/ws" behind a proxy. */
static int wsd_path_ok(struct lws *wsi)
{
	char uri[256];
	int n = lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI);

	return n >= 3 && strcmp(uri + n - 3, "/ws") == 0;
}

/* Finds query arg `name=` (lws has %-decoded it) and copies it into ws_argbuf.
 * Fragments are walked by length, so a decoded NUL cannot shorten a value
 * unnoticed: such a value comes back with *bad set. lws returns -1 past the
 * last fragment (argbuf holds any fragment, so never for size) and 0 for an
 * empty one ("&&"), which is skipped. */
static const char *wsd_arg(struct lws *wsi, const char *name, size_t *len, int *bad)
{
	size_t nl = strlen(name);

	*bad = 0;
	for (int i = 0;; i++) {
		int n = lws_hdr_copy_fragment(wsi, ws_argbuf, WSD_WS_MAX_HEADER_DATA + 1,
					      WSI_TOKEN_HTTP_URI_ARGS, i);

		if (n < 0)
			return NULL;
		if ((size_t)n < nl || memcmp(ws_argbuf, name, nl) != 0)
			continue;
		*len = (size_t)n - nl;
		*bad = memchr(ws_argbuf + nl, '\0', *len) != NULL;
		return ws_argbuf + nl;
	}
}

static void wsd_reject(struct wsd_conn *c, const char *reason)
{
	size_t len = 0;
	char *json = wmsg_reply("error", 0, reason, &len);

	log_info("refused a WebSocket: %s", reason);
	wsd_stats.ws_refused++;
	if (!json || wsd_conn_send_then_close(c, json, len, LWS_CLOSE_STATUS_POLICY_VIOLATION,
					      reason) != 0)
		wsd_conn_close_soon(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, reason);
	free(json);
}

static void wsd_authenticate(struct wsd_conn *c)
{
	char uid[REQ_UID_MAX + 1];
	const char *v, *why;
	size_t uid_len = 0, key_len = 0;
	enum akey_status st;
	/* A rotated-out secret keeps the keys it signed valid until prev_until. */
	struct akey_secrets secrets = { ws_cfg->secret,
					ws_cfg->prev_until ? ws_cfg->prev_secret : NULL,
					(long long)ws_cfg->prev_until };
	int bad;

	v = wsd_arg(c->wsi, "uid=", &uid_len, &bad);
	if (!v || bad) {
		wsd_reject(c, bad ? "uid is badly encoded" : "uid is missing");
		return;
	}
	why = req_uid_problem(v, uid_len, (size_t)ws_cfg->max_uid_bytes);
	if (why) {
		wsd_reject(c, why);
		return;
	}
	if (uid_len > REQ_UID_MAX) { /* cfg bounds max_uid_bytes; this keeps uid[] safe alone */
		wsd_reject(c, "uid is too long");
		return;
	}
	memcpy(uid, v, uid_len);
	v = wsd_arg(c->wsi, "access_key=", &key_len, &bad);
	st = bad ? AKEY_MALFORMED
		 : akey_verify(&secrets, uid, uid_len, v ? v : "", v ? key_len : 0, time(NULL));
	if (st != AKEY_OK) {
		wsd_reject(c, akey_status_str(st));
		return;
	}
	if (wsd_conn_attach(c, uid, uid_len) != 0) {
		wsd_conn_close_soon(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "out of memory");
		return;
	}
	wsd_stats.ws_accepted++;
	log_info("connect uid=%.*s (%zu connections, %zu uids)", (int)uid_len, uid,
		 wsd_conn_count(), wsd_conn_uids());
}

static int wsd_close_now(struct lws *wsi, enum lws_close_status code, const char *reason)
{
	lws_close_reason(wsi, code, (unsigned char *)(uintptr_t)reason, strlen(reason));
	return -1;
}

/* Clients only need to read; text heartbeats are tolerated, anything else closes. */
static int wsd_receive(struct wsd_conn *c, size_t len)
{
	if (c->state != WSD_CONN_OPEN)
		return 0;
	if (lws_frame_is_binary(c->wsi))
		return wsd_close_now(c->wsi, LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE,
				     "binary messages are not accepted");
	c->rx_bytes += len;
	if (c->rx_bytes > WSD_WS_MAX_CLIENT_MSG)
		return wsd_close_now(c->wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE,
				     "message too big");
	if (lws_is_final_fragment(c->wsi))
		c->rx_bytes = 0;
	return 0;
}

int wsd_ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
			   void *in, size_t len)
{
	struct wsd_conn *c = user;

	switch (reason) {
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		return wsd_path_ok(wsi) ? 0 : 1;
	case LWS_CALLBACK_ESTABLISHED:
		memset(c, 0, sizeof *c);
		c->wsi = wsi;
		ws_live++;
		wsd_alive_add(c);
		wsd_authenticate(c);
		return 0;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return wsd_conn_writeable(c);
	case LWS_CALLBACK_RECEIVE:
		wsd_alive_seen(c);
		return wsd_receive(c, len);
	case LWS_CALLBACK_RECEIVE_PONG:
		wsd_alive_seen(c);
		return 0;
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		return wsd_conn_peer_closed(c);
	case LWS_CALLBACK_CLOSED:
		/* Also called for upgrades refused before ESTABLISHED (c->wsi unset). */
		if (c->wsi)
			ws_live--;
		wsd_alive_remove(c);
		wsd_conn_release(c);
		return 0;
	case LWS_CALLBACK_HTTP:
		/* Plain HTTP to the WebSocket port: nothing to serve. */
		/* Closing anyway: a failed status write changes nothing. */
		(void)lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, "WebSocket endpoint");
		return -1;
	default:
		break;
	}
	(void)in;
	return 0;
}
