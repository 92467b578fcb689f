/* SPDX-License-Identifier: MIT */
/* The subscriber side of ws-daemon: the "push" WebSocket protocol (authentication,
 * what a client may send, close handling) on top of lws. Delivery is wsd_conn's. */
#include "wsd_ws.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "akey.h"
#include "climsg.h"
#include "log.h"
#include "req.h"
#include "wmsg.h"
#include "wsd_ackwait.h"
#include "wsd_alive.h"
#include "wsd_conn.h"
#include "wsd_revoke.h"
#include "wsd_stats.h"

#define WSD_WS_MAX_CLIENT_MSG CLIMSG_MAX /* acknowledgements and heartbeats */

/* Once lws starts closing, the TCP connection goes after this long at most; lws
 * 4.1 would wait 5 s for a Close the peer may already have sent. */
#define WSD_WS_CLOSE_FLUSH_MS 250

static const struct cfg *ws_cfg;   /* the worker's current configuration */
static size_t ws_live;             /* established WebSockets not yet CLOSED */
/* The route of the socket wsd_ws_adopt is handing to lws right now: lws runs the
 * handshake inside the adopt call, so the route must be on the wsi before. */
static struct wsd_route *ws_adopting;

int wsd_ws_init(void)
{
	ws_adopting = NULL;
	return 0;
}

void wsd_ws_free(void)
{
	free(ws_adopting);
	ws_adopting = NULL;
}

void wsd_ws_use(const struct cfg *c) { ws_cfg = c; }
size_t wsd_ws_live(void) { return ws_live; }
size_t wsd_ws_max_uid(void) { return (size_t)ws_cfg->max_uid_bytes; }

struct wsd_route *wsd_route_new(const char *uid, size_t uid_len, const char *key,
				size_t key_len, const char *client,
				const struct wsd_resume *resume)
{
	size_t cl = strlen(client);
	struct wsd_route *r;
	char *d;

	if (uid_len > REQ_UID_MAX || key_len > HS_KEY_MAX || cl > 4096)
		return NULL;
	r = calloc(1, sizeof *r + uid_len + key_len + cl + 3);
	if (!r)
		return NULL;
	d = r->data;
	r->uid = memcpy(d, uid, uid_len);
	d[uid_len] = '\0';
	d += uid_len + 1;
	r->key = memcpy(d, key, key_len);
	d[key_len] = '\0';
	d += key_len + 1;
	r->client = memcpy(d, client, cl + 1);
	r->uid_len = uid_len;
	r->key_len = key_len;
	r->resume = *resume;
	return r;
}

int wsd_ws_adopt(struct lws_vhost *vh, int fd, struct wsd_route *route, const char *req,
		 size_t len)
{
	int level = lwsl_visible((1 << LLL_COUNT) - 1);
	struct lws *wsi;

	ws_adopting = route;
	/* lws 4.1 appends req to the wsi's buffer list (no size limit of its own)
	 * and parses it before reading the socket; on failure it closes fd. It also
	 * logs every such adoption at error level ("calling service"): muted for
	 * the call, a real failure is reported by our caller. */
	lws_set_log_level(level & ~LLL_ERR, NULL);
	wsi = lws_adopt_socket_vhost_readbuf(vh, fd, req, len);
	lws_set_log_level(level, NULL);
	if (ws_adopting) {
		/* No wsi was ever made: the route is still ours. */
		free(ws_adopting);
		ws_adopting = NULL;
		return -1;
	}
	return wsi ? 0 : -1;
}

static void wsd_reject(struct wsd_conn *c, uint16_t code, const char *reason,
		       const char *client)
{
	size_t len = 0;
	char *json = wmsg_reply("error", 0, reason, &len);

	LOG_LIMITED(LOG_LVL_INFO, "refused a WebSocket from %s: %s", client, reason);
	wsd_stats.ws_refused++;
	if (!json || wsd_conn_send_then_close(c, json, len, code, reason) != 0)
		wsd_conn_close_soon(c, code, reason);
	free(json);
}

/* The key's verdict, a kick's revocation included. */
static enum akey_status wsd_key_status(const struct wsd_route *r,
				       const struct akey_secrets *secrets)
{
	time_t now = time(NULL);
	enum akey_status st = akey_verify(secrets, r->uid, r->uid_len, r->key, r->key_len, now);
	long long expiry;

	if (st == AKEY_OK && akey_expiry(r->key, r->key_len, &expiry) == 0 &&
	    wsd_revoke_refuses(r->uid, r->uid_len, expiry, now))
		return AKEY_REVOKED;
	return st;
}

/* The uid and key come from the accept router's parse (hs_parse), the one reading
 * of the request that also chose this worker. */
static void wsd_authenticate(struct wsd_conn *c, const struct wsd_route *r)
{
	const char *why;
	enum akey_status st;
	/* A rotated-out secret keeps the keys it signed valid until prev_until. */
	struct akey_secrets secrets = { ws_cfg->secret,
					ws_cfg->prev_until ? ws_cfg->prev_secret : NULL,
					(long long)ws_cfg->prev_until };

	if (!r) {
		wsd_conn_close_soon(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "no route");
		return;
	}
	/* Checked by the router already; again here in case a reload lowered the limit. */
	why = req_uid_problem(r->uid, r->uid_len, (size_t)ws_cfg->max_uid_bytes);
	if (why) {
		wsd_reject(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, why, r->client);
		return;
	}
	st = wsd_key_status(r, &secrets);
	if (st != AKEY_OK) {
		wsd_reject(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, akey_status_str(st), r->client);
		return;
	}
	/* The newest is refused: the tabs already open keep working, and the
	 * client is told to try again later rather than to fetch a new key. */
	if (ws_cfg->max_connections_per_uid > 0 &&
	    wsd_conn_of(r->uid, r->uid_len) >= (size_t)ws_cfg->max_connections_per_uid) {
		wsd_reject(c, WSD_CLOSE_TRY_AGAIN_LATER, "too many connections for this uid",
			   r->client);
		return;
	}
	if (wsd_conn_attach(c, r->uid, r->uid_len) != 0) {
		wsd_conn_close_soon(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "out of memory");
		return;
	}
	wsd_stats.ws_accepted++;
	log_info("connect uid=%.*s from %s (%zu connections, %zu uids)", (int)r->uid_len, r->uid,
		 r->client, wsd_conn_count(), wsd_conn_uids());
	/* The replay fits an empty send queue (cfg checks the history bounds against
	 * the queue's), so only a broken socket or no memory ends here. */
	if (wsd_conn_resume(c, &r->resume) != 0)
		wsd_conn_close_soon(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION,
				    "could not send the history");
}

static int wsd_close_now(struct lws *wsi, enum lws_close_status code, const char *reason)
{
	lws_close_reason(wsi, code, (unsigned char *)(uintptr_t)reason, strlen(reason));
	return -1;
}

/* {"control":"error","reason":...}: the client is told, the connection stays.
 * Only a client that speaks the resume protocol (it gave since) is sent control
 * frames; a wave-1 client's text was always ignored, and still is. */
static void wsd_client_error(struct wsd_conn *c, const struct wsd_route *r, const char *reason)
{
	char json[256];
	size_t n;

	LOG_LIMITED(LOG_LVL_INFO, "a client message was refused: %s", reason);
	if (!r || r->resume.kind == HS_SINCE_NONE)
		return;
	n = climsg_error_json(reason, json, sizeof json);
	if (n == 0 || wsd_conn_send(c, json, n) != 0)
		log_debug("could not tell a client why its message was refused");
}

void wsd_ws_client_error(struct wsd_conn *c, const char *reason)
{
	wsd_client_error(c, lws_get_opaque_user_data(c->wsi), reason);
}

/* One whole text message from the client: an acknowledgement, or a heartbeat. */
static void wsd_client_text(struct wsd_conn *c, const char *text, size_t len)
{
	const struct wsd_route *r = lws_get_opaque_user_data(c->wsi);
	const char *why = NULL;
	struct wsd_position p;
	uint64_t n;
	int moved;

	switch (climsg_parse(text, len, &n, &why)) {
	case CLIMSG_ACK:
		moved = wsd_conn_ack(c, n, &p);
		if (moved < 0)
			wsd_client_error(c, r, "ack names a message not sent yet");
		else if (moved && r)
			wsd_ackwait_acked(r->uid, r->uid_len, p.epoch, p.acked);
		break;
	case CLIMSG_BAD:
		wsd_client_error(c, r, why);
		break;
	default:
		break; /* a heartbeat */
	}
}

static void wsd_rx_reset(struct wsd_conn *c)
{
	free(c->rx_buf);
	c->rx_buf = NULL;
	c->rx_bytes = 0;
}

/* Text messages are read whole (a fragmented one is gathered, up to the bound);
 * anything else closes. */
static int wsd_receive(struct wsd_conn *c, const char *in, size_t len)
{
	int final;

	if (c->state != WSD_CONN_OPEN)
		return 0;
	if (lws_frame_is_binary(c->wsi))
		return wsd_close_now(c->wsi, LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE,
				     "binary messages are not accepted");
	if (len > WSD_WS_MAX_CLIENT_MSG - c->rx_bytes) {
		wsd_rx_reset(c);
		return wsd_close_now(c->wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE,
				     "message too big");
	}
	final = lws_is_final_fragment(c->wsi);
	if (c->rx_bytes == 0 && final) {
		wsd_client_text(c, in, len); /* the usual case: no copy */
		return 0;
	}
	if (!c->rx_buf && !(c->rx_buf = malloc(WSD_WS_MAX_CLIENT_MSG)))
		return wsd_close_now(c->wsi, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION,
				     "out of memory");
	memcpy(c->rx_buf + c->rx_bytes, in, len);
	c->rx_bytes += len;
	if (final) {
		wsd_client_text(c, c->rx_buf, c->rx_bytes);
		wsd_rx_reset(c);
	}
	return 0;
}

static void wsd_on_close_overdue(lws_sorted_usec_list_t *sul)
{
	struct wsd_route *r = lws_container_of(sul, struct wsd_route, close_sul);

	lws_set_timeout(r->wsi, PENDING_TIMEOUT_CLOSE_ACK, LWS_TO_KILL_ASYNC);
}

/*
 * lws is closing the connection (its own protocol error, or after the close
 * handshake): after sending its Close it waits 5 s for the peer's, which a peer
 * that sent its Close first, or broke the protocol, never sends. RFC 6455 7.1.1
 * has the server close TCP first: give the Close frame time to leave, then go.
 */
static void wsd_bound_close(struct wsd_route *r)
{
	if (r && r->wsi)
		lws_sul_schedule(lws_get_context(r->wsi), 0, &r->close_sul, wsd_on_close_overdue,
				 WSD_WS_CLOSE_FLUSH_MS * LWS_US_PER_MS);
}

static void wsd_route_drop(struct lws *wsi)
{
	struct wsd_route *r = lws_get_opaque_user_data(wsi);

	if (!r)
		return;
	lws_sul_cancel(&r->close_sul);
	lws_set_opaque_user_data(wsi, NULL);
	free(r);
}

/* RFC 6455 7.4.1 plus the IANA registry (1012-1014): the codes a peer may send. */
static int wsd_close_code_ok(unsigned code)
{
	return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
	       (code >= 3000 && code <= 4999);
}

/*
 * The peer's Close (payload p[0..len)). A valid one is echoed by lws. An invalid
 * one (RFC 6455 5.5.1: 1 byte, 7.4: bad code, 5.5.1: reason not UTF-8) gets our
 * own Close 1002 / 1007, then -1: lws drops the TCP connection at once instead of
 * echoing, or waiting for an acknowledgement the peer has already sent.
 * lws 4.1 has rewritten the codes it knows to be invalid to 1002 before this.
 */
static int wsd_peer_close(struct wsd_conn *c, const unsigned char *p, size_t len)
{
	const char *why = NULL;
	uint16_t code = LWS_CLOSE_STATUS_PROTOCOL_ERR;
	/* The peer's own code, for the log; 1005: a Close without one. */
	uint16_t theirs = len >= 2 ? (uint16_t)(p[0] << 8 | p[1]) : 1005;

	if (c->close_sent)
		return wsd_conn_peer_closed(c, theirs);
	if (len == 1)
		why = "close frame with a 1-byte body";
	else if (len >= 2 && !wsd_close_code_ok((unsigned)(p[0] << 8 | p[1])))
		why = "invalid close code";
	else if (len > 2 && !req_utf8_valid((const char *)p + 2, len - 2))
		why = "close reason is not UTF-8", code = LWS_CLOSE_STATUS_INVALID_PAYLOAD;
	if (!why)
		return wsd_conn_peer_closed(c, theirs);
	(void)wsd_conn_peer_closed(c, code); /* leaves the table; the answer is ours */
	LOG_LIMITED(LOG_LVL_INFO, "protocol error from a client: %s", why);
	if (wsd_conn_write_close(c, code, why) != 0)
		log_debug("could not send Close %u: the connection is going anyway", code);
	return -1;
}

int wsd_ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
			   void *in, size_t len)
{
	struct wsd_conn *c = user;

	switch (reason) {
	case LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED:
		/* Inside wsd_ws_adopt, before lws reads the head: the route goes on. */
		if (ws_adopting) {
			ws_adopting->wsi = wsi;
			lws_set_opaque_user_data(wsi, ws_adopting);
			ws_adopting = NULL;
		}
		return 0;
	case LWS_CALLBACK_ESTABLISHED:
		memset(c, 0, sizeof *c);
		c->wsi = wsi;
		ws_live++;
		wsd_alive_add(c);
		wsd_authenticate(c, lws_get_opaque_user_data(wsi));
		return 0;
	case LWS_CALLBACK_WS_SERVER_DROP_PROTOCOL:
		wsd_bound_close(lws_get_opaque_user_data(wsi));
		return 0;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return wsd_conn_writeable(c);
	case LWS_CALLBACK_RECEIVE:
		wsd_alive_seen(c);
		return wsd_receive(c, in, len);
	case LWS_CALLBACK_RECEIVE_PONG:
		wsd_alive_seen(c);
		return 0;
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		return wsd_peer_close(c, in, len);
	case LWS_CALLBACK_CLOSED:
		/* Also called for upgrades refused before ESTABLISHED (c->wsi unset). */
		if (c->wsi)
			ws_live--;
		wsd_alive_remove(c);
		wsd_rx_reset(c);
		wsd_conn_release(c);
		return 0;
	case LWS_CALLBACK_WSI_DESTROY:
		/* Every wsi of the vhost ends here; only ours carry a route. */
		if (lws_get_protocol(wsi) && lws_get_protocol(wsi)->callback == wsd_ws_callback)
			wsd_route_drop(wsi);
		return 0;
	case LWS_CALLBACK_HTTP:
		/* Plain HTTP to the WebSocket port: nothing to serve. */
		/* Closing anyway: a failed status write changes nothing. */
		(void)lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, "WebSocket endpoint");
		return -1;
	default:
		break;
	}
	return 0;
}
