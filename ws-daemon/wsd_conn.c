/* SPDX-License-Identifier: MIT */
/* Subscriber table and delivery: a push encodes its frame once, every connection
 * of the uid queues a reference, and a connection whose queue is full is closed. */
#include "wsd_conn.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "siphash.h"
#include "wmsg.h"
#include "wsd_alive.h"
#include "wsd_engine.h"
#include "wsd_redis.h"
#include "wsd_stats.h"

/*
 * uids are chosen by clients: with uthash's default (unkeyed Jenkins) hash a
 * client can precompute uids that share a bucket and make every lookup on the
 * push path a walk. SipHash under a per-process random key takes that away
 * (as redis does for its dicts); for a uid of a few dozen bytes it costs tens
 * of nanoseconds. uthash uses the low bits of the 32-bit value for buckets.
 */
static uint8_t wsd_uid_key[SIPHASH_KEY_BYTES];
#define HASH_FUNCTION(keyptr, keylen, hashv) \
	((hashv) = (unsigned)siphash24(wsd_uid_key, (keyptr), (size_t)(keylen)))
#include <uthash.h>

#define WSD_RING_MIN 4
#define WSD_LWS_WRITE_CLOSE 4       /* lws's private LWS_WRITE_CLOSE */
#define WSD_CLOSE_REASON_MAX 123    /* RFC 6455: control payload <= 125 */
#define WSD_FRAME_HEAD_MAX 10       /* an unmasked server frame header, 64-bit length */

struct wsd_user {
	UT_hash_handle hh;
	struct wsd_conn *conns;
	size_t nconns;
	/* Held while the uid has a connection here, from its first message or
	 * resume on: an idle connection costs no stream. */
	struct wsd_stream *stream;
	size_t uid_len;
	char uid[];          /* uid_len bytes + NUL; the hash key */
};

static struct wsd_user *wsd_users;
static size_t wsd_nconns, wsd_nusers;
static size_t wsd_queued_total;     /* bytes in every send queue */
static size_t wsd_q_max_msgs = 1, wsd_q_max_bytes = 1;
static size_t wsd_nclosing;         /* state CLOSING */
static size_t wsd_closing_held;     /* their lws_held, summed */
static uint64_t wsd_closes_reset;
static int wsd_uid_keyed;           /* wsd_uid_key holds a random key */
static uint64_t wsd_conn_ids;       /* the last id given (wsd_conn.id) */

void wsd_conn_init(size_t queue_max_messages, size_t queue_max_bytes)
{
	wsd_q_max_msgs = queue_max_messages;
	wsd_q_max_bytes = queue_max_bytes;
}

size_t wsd_conn_count(void) { return wsd_nconns; }
size_t wsd_conn_uids(void) { return wsd_nusers; }
size_t wsd_conn_queued_bytes(void) { return wsd_queued_total; }
size_t wsd_conn_closing(void) { return wsd_nclosing; }
size_t wsd_conn_closing_bytes(void) { return wsd_closing_held; }
uint64_t wsd_conn_closes_reset(void) { return wsd_closes_reset; }

/* Keyed once, by the process that owns the connections (a worker keys its own
 * table on its first attach), and never again: entries hashed under one key
 * would be lost under another. */
static int wsd_uid_key_ready(void)
{
	if (!wsd_uid_keyed && siphash_key_random(wsd_uid_key) == 0)
		wsd_uid_keyed = 1;
	return wsd_uid_keyed ? 0 : -1;
}

/* Everything leaving the table goes through here once; CLOSED undoes it. */
static void wsd_conn_to_closing(struct wsd_conn *c)
{
	if (c->state == WSD_CONN_CLOSING || c->state == WSD_CONN_CLOSED)
		return;
	c->state = WSD_CONN_CLOSING;
	wsd_nclosing++;
	wsd_closing_held += c->lws_held;
}

static void wsd_held_set(struct wsd_conn *c, size_t held)
{
	if (c->state == WSD_CONN_CLOSING)
		wsd_closing_held = wsd_closing_held - c->lws_held + held;
	c->lws_held = held;
}

/* lws_write returns the full length even when it kept an unsent tail, so what
 * it holds is only known to be at most this frame. */
static int wsd_write(struct wsd_conn *c, unsigned char *p, size_t len, enum lws_write_protocol wp)
{
	int n = lws_write(c->wsi, p, len, wp);

	wsd_held_set(c, n >= 0 && lws_partial_buffered(c->wsi) ? len + WSD_FRAME_HEAD_MAX : 0);
	return n;
}

static void wsd_queue_clear(struct wsd_conn *c)
{
	while (c->count) {
		wsd_msg_unref(c->ring[c->head]);
		c->head = (c->head + 1) % c->ring_cap;
		c->count--;
	}
	wsd_queued_total -= c->queued_bytes;
	free(c->ring);
	c->ring = NULL;
	c->ring_cap = c->head = 0;
	c->queued_bytes = 0;
}

static int wsd_ring_grow(struct wsd_conn *c)
{
	size_t cap = c->ring_cap ? c->ring_cap * 2 : WSD_RING_MIN;
	struct wsd_msg **r;

	if (cap > wsd_q_max_msgs)
		cap = wsd_q_max_msgs;
	if (cap <= c->ring_cap)
		return -1;
	r = malloc(sizeof *r * cap);
	if (!r)
		return -1;
	/* Unwrap into the new array so head restarts at 0. */
	for (size_t i = 0; i < c->count; i++)
		r[i] = c->ring[(c->head + i) % c->ring_cap];
	free(c->ring);
	c->ring = r;
	c->ring_cap = cap;
	c->head = 0;
	return 0;
}

/* Takes a new reference on m; -1 when the bounded queue is full. */
static int wsd_enqueue(struct wsd_conn *c, struct wsd_msg *m)
{
	if (c->count >= wsd_q_max_msgs || c->queued_bytes >= wsd_q_max_bytes ||
	    m->len > wsd_q_max_bytes - c->queued_bytes)
		return -1;
	if (c->count == c->ring_cap && wsd_ring_grow(c) != 0)
		return -1;
	c->ring[(c->head + c->count) % c->ring_cap] = m;
	c->count++;
	c->queued_bytes += m->len;
	wsd_queued_total += m->len;
	wsd_msg_ref(m);
	/* Fails only for a wsi lws is already closing; CLOSED will clean up. */
	(void)lws_callback_on_writable(c->wsi);
	return 0;
}

enum wsd_sent { WSD_SENT, WSD_SENT_QUEUE_FULL, WSD_SENT_BROKEN };

/*
 * Writes m at once when nothing waits ahead of it, queues it otherwise. Going
 * through WRITEABLE for every message costs a POLLOUT on/off pair (epoll_ctl
 * twice) and a loop pass per delivery; written here, a message costs one send.
 * lws keeps an unsent tail itself (and then reports partial_buffered, so later
 * messages queue behind it); the header it writes into the shared headroom is
 * the same bytes for every recipient.
 */
static enum wsd_sent wsd_deliver(struct wsd_conn *c, struct wsd_msg *m)
{
	int n;

	if (c->count || lws_partial_buffered(c->wsi))
		return wsd_enqueue(c, m) == 0 ? WSD_SENT : WSD_SENT_QUEUE_FULL;
	n = wsd_write(c, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT);
	if (n >= 0 && (size_t)n >= m->len)
		return WSD_SENT;
	/* The peer is gone. lws must not be asked to close from outside this
	 * wsi's callbacks, so it does that on its next loop turn; the table
	 * forgets the connection now so no later push counts it. */
	wsd_conn_hangup(c);
	return WSD_SENT_BROKEN;
}

int wsd_conn_attach(struct wsd_conn *c, const char *uid, size_t uid_len)
{
	struct wsd_user *u = NULL;

	if (wsd_uid_key_ready() != 0) {
		log_err("no random key for the uid table: %s", strerror(errno));
		return -1;
	}
	HASH_FIND(hh, wsd_users, uid, uid_len, u);
	if (!u) {
		u = calloc(1, sizeof *u + uid_len + 1);
		if (!u)
			return -1;
		memcpy(u->uid, uid, uid_len);
		u->uid_len = uid_len;
		HASH_ADD_KEYPTR(hh, wsd_users, u->uid, u->uid_len, u);
		wsd_nusers++;
		wsd_redis_hold(u->uid, u->uid_len); /* engine redis: this host listens */
	}
	c->id = ++wsd_conn_ids;
	c->opened_ms = (uint64_t)(lws_now_usecs() / 1000);
	c->user = u;
	c->prev = NULL;
	c->next = u->conns;
	if (u->conns)
		u->conns->prev = c;
	u->conns = c;
	u->nconns++;
	wsd_nconns++;
	c->state = WSD_CONN_OPEN;
	return 0;
}

static void wsd_conn_detach(struct wsd_conn *c)
{
	struct wsd_user *u = c->user;

	if (!u)
		return;
	if (c->prev)
		c->prev->next = c->next;
	else
		u->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	c->user = NULL;
	u->nconns--;
	wsd_nconns--;
	/* 1006: gone without a Close (reset, idle, failed write). */
	log_info("disconnect uid=%.*s code=%u after %.1f s (%zu left for it)", (int)u->uid_len,
		 u->uid, c->end_code ? c->end_code : 1006,
		 (double)((uint64_t)(lws_now_usecs() / 1000) - c->opened_ms) / 1000.0, u->nconns);
	if (u->nconns == 0) {
		HASH_DELETE(hh, wsd_users, u);
		wsd_engine_unhold(u->stream); /* NULL when it never needed one */
		wsd_redis_unhold(u->uid, u->uid_len);
		free(u);
		wsd_nusers--;
	}
}

/* Out of the table, queue dropped: later pushes neither count nor queue to it. */
static void wsd_conn_leave(struct wsd_conn *c)
{
	wsd_conn_detach(c);
	wsd_queue_clear(c);
	wsd_conn_to_closing(c);
}

void wsd_conn_release(struct wsd_conn *c)
{
	wsd_conn_leave(c);
	if (c->state == WSD_CONN_CLOSING) {
		wsd_nclosing--;
		wsd_closing_held -= c->lws_held;
	}
	c->state = WSD_CONN_CLOSED;
}

/* The Close frame goes out from WRITEABLE once the queue is empty, and within
 * WSD_CONN_CLOSE_SEND_SECS, or wsd_alive has the connection reset. */
static void wsd_conn_mark_closing(struct wsd_conn *c, uint16_t code, const char *reason)
{
	if (c->state == WSD_CONN_CLOSING || c->state == WSD_CONN_CLOSED)
		return; /* already on its way out, under its own bound */
	wsd_conn_to_closing(c);
	c->close_code = code;
	c->close_reason = reason;
	wsd_alive_closing(c, WSD_CONN_CLOSE_SEND_SECS);
	(void)lws_callback_on_writable(c->wsi);
}

void wsd_conn_close_soon(struct wsd_conn *c, uint16_t code, const char *reason)
{
	if (!c->end_code)
		c->end_code = code;
	wsd_conn_detach(c);
	wsd_queue_clear(c);
	wsd_conn_mark_closing(c, code, reason);
}

/* Closes every connection of u; closing the last one frees u. */
static void wsd_user_close(struct wsd_user *u, uint16_t code, const char *reason)
{
	while (u->nconns > 1)
		wsd_conn_close_soon(u->conns, code, reason);
	wsd_conn_close_soon(u->conns, code, reason);
}

void wsd_conn_close_all(uint16_t code, const char *reason)
{
	struct wsd_user *u, *tmp;

	HASH_ITER(hh, wsd_users, u, tmp) /* tmp survives u being freed */
		wsd_user_close(u, code, reason);
}

int wsd_conn_send_then_close(struct wsd_conn *c, const char *json, size_t len,
			     uint16_t code, const char *reason)
{
	struct wsd_msg *m;
	int rc;

	if (c->state != WSD_CONN_NEW && c->state != WSD_CONN_OPEN)
		return -1;
	m = wsd_msg_copy(json, len);
	if (!m)
		return -1;
	rc = wsd_enqueue(c, m);
	wsd_msg_unref(m);
	wsd_conn_mark_closing(c, code, reason);
	return rc;
}

/* u's stream, held from now on; NULL on no memory. */
static struct wsd_stream *wsd_user_stream(struct wsd_user *u)
{
	if (!u->stream)
		u->stream = wsd_engine_hold(u->uid, u->uid_len);
	return u->stream;
}

/* The uid has no connection here: kept for its next one when offline delivery
 * is on, else the seed's "not online". */
static void wsd_conn_push_offline(const struct ipc_push_item *it, struct ipc_result *res)
{
	struct wsd_stream *s;
	struct wsd_msg *m;
	uint64_t number = 0;
	int kept = 0;

	res->status = IPC_S_OFFLINE;
	if (!wsd_engine_keeps_offline())
		return;
	s = wsd_engine_find(it->uid, it->uid_len, 1);
	m = s ? wsd_engine_publish(s, it, &number, &kept) : NULL;
	if (!m) {
		log_err("out of memory keeping a message for an offline uid");
		res->status = IPC_S_REFUSED;
		return;
	}
	if (kept) {
		res->status = IPC_S_STORED;
		res->number = number;
	}
	wsd_msg_unref(m);
}

/* m to c (of u): 1 when it took it; a full queue closes c as a slow consumer. */
static int wsd_conn_deliver_one(struct wsd_user *u, struct wsd_conn *c, struct wsd_msg *m)
{
	enum wsd_sent sent = wsd_deliver(c, m);

	if (sent != WSD_SENT_QUEUE_FULL)
		return sent == WSD_SENT;
	log_warn("uid %.*s: send queue full (%zu messages, %zu bytes); closing slow connection",
		 (int)u->uid_len, u->uid, c->count, c->queued_bytes);
	wsd_stats.slow_closed++;
	wsd_stats.slow_dropped += c->count + 1; /* what it still had, and this one */
	wsd_conn_close_soon(c, WSD_CLOSE_TRY_AGAIN_LATER, "send queue full");
	return 0;
}

/* m to every connection of u; a connection whose queue is full is closed as a
 * slow consumer. Returns how many took it. u may be freed on return. */
static size_t wsd_conn_deliver_all(struct wsd_user *u, struct wsd_msg *m)
{
	struct wsd_conn *c, *next;
	size_t delivered = 0;

	for (c = u->conns; c; c = next) {
		next = c->next; /* a full queue detaches c, and may free u with it */
		delivered += wsd_conn_deliver_one(u, c, m);
	}
	return delivered;
}

void wsd_conn_push(const struct ipc_push_item *it, struct ipc_result *res)
{
	struct wsd_user *u = NULL;
	struct wsd_msg *m;
	uint64_t number;
	int kept;

	memset(res, 0, sizeof *res);
	HASH_FIND(hh, wsd_users, it->uid, it->uid_len, u);
	if (!u) {
		wsd_conn_push_offline(it, res);
		return;
	}
	m = wsd_user_stream(u) ? wsd_engine_publish(u->stream, it, &number, &kept) : NULL;
	if (!m) {
		log_err("out of memory building a frame for uid %.*s", (int)it->uid_len, it->uid);
		res->status = IPC_S_REFUSED;
		return;
	}
	res->number = number;
	res->delivered = wsd_conn_deliver_all(u, m);
	wsd_msg_unref(m);
	res->status = res->delivered ? IPC_S_DELIVERED : IPC_S_OFFLINE;
}

size_t wsd_conn_of(const char *uid, size_t uid_len)
{
	struct wsd_user *u = NULL;

	HASH_FIND(hh, wsd_users, uid, uid_len, u);
	return u ? u->nconns : 0;
}

size_t wsd_conn_kick(const char *uid, size_t uid_len, uint16_t code, const char *reason)
{
	struct wsd_user *u = NULL;
	size_t n;

	HASH_FIND(hh, wsd_users, uid, uid_len, u);
	if (!u)
		return 0;
	n = u->nconns;
	wsd_user_close(u, code, reason);
	return n;
}

void wsd_conn_broadcast(const struct ipc_push_item *it, uint64_t *uids, uint64_t *conns)
{
	struct wsd_user *u, *tmp;
	struct wsd_msg *m;
	uint64_t number;
	size_t n;
	int kept;

	*uids = *conns = 0;
	/* Every uid gets its own frame: the number is its own. Delivery can free
	 * only the uid at hand (its last connection closed), which HASH_ITER's
	 * tmp survives. */
	HASH_ITER(hh, wsd_users, u, tmp) {
		m = wsd_user_stream(u) ? wsd_engine_publish(u->stream, it, &number, &kept)
				       : NULL;
		if (!m) {
			log_err("out of memory broadcasting to uid %.*s", (int)u->uid_len, u->uid);
			continue;
		}
		n = wsd_conn_deliver_all(u, m);
		wsd_msg_unref(m);
		*conns += n;
		*uids += n > 0;
	}
}

/* wsd_engine_range's callback: one retained frame to the resuming connection. */
static int wsd_conn_replay_one(struct wsd_msg *m, uint64_t number, void *arg)
{
	struct wsd_conn *c = arg;

	(void)number; /* the frame carries it */
	if (wsd_deliver(c, m) != WSD_SENT)
		return -1;
	wsd_stats.replayed++;
	return 0;
}

/* Where the replay starts: *after, and whether the client's position is valid
 * in the stream as it is (same epoch, not ahead of it). */
static int wsd_conn_resume_from(const struct wsd_resume *r, const struct wsd_position *p,
				uint64_t *after)
{
	int same = !r->has_epoch || r->epoch == p->epoch;

	switch (r->kind) {
	case HS_SINCE_NOW:
		*after = p->last;
		return 1;
	case HS_SINCE_ACKED:
		*after = p->acked;
		return same;
	case HS_SINCE_NUMBER:
		if (same && r->since <= p->last) {
			*after = r->since;
			return 1;
		}
		break;
	default:
		break;
	}
	*after = 0; /* a void position: everything the stream still has */
	return 0;
}

int wsd_conn_send_position(struct wsd_conn *c, const struct wsd_conn_position *pos)
{
	char json[WSD_CONN_POSITION_MAX];
	struct wsd_msg *m;
	int n;

	n = snprintf(json, sizeof json,
		     "{\"control\":\"position\",\"epoch\":\"%016" PRIx64 "\",\"last\":%" PRIu64
		     ",\"acked\":%" PRIu64 ",\"recovered\":%s,\"first\":%" PRIu64 "}",
		     pos->p.epoch, pos->p.last, pos->p.acked, pos->recovered ? "true" : "false",
		     pos->first);
	m = n > 0 && (size_t)n < sizeof json ? wsd_msg_copy(json, (size_t)n) : NULL;
	if (!m)
		return -1;
	wsd_stats.resumes++;
	if (!pos->recovered)
		wsd_stats.resume_gaps++;
	n = wsd_deliver(c, m) == WSD_SENT ? 0 : -1;
	wsd_msg_unref(m);
	return n;
}

int wsd_conn_replay(struct wsd_conn *c, struct wsd_msg *m)
{
	return wsd_conn_replay_one(m, 0, c);
}

int wsd_conn_resume(struct wsd_conn *c, const struct wsd_resume *r)
{
	struct wsd_conn_position pos;
	uint64_t after;
	int valid;

	if (!c->user || r->kind == HS_SINCE_NONE)
		return 0;
	if (wsd_redis_on()) {
		c->resumable = 1;
		c->resuming = WSD_RESUME_WAITING;
		return wsd_redis_resume(c, c->user->uid, c->user->uid_len, r);
	}
	if (!wsd_user_stream(c->user))
		return -1;
	wsd_engine_position(c->user->stream, &pos.p);
	valid = wsd_conn_resume_from(r, &pos.p, &after);
	pos.first = wsd_engine_first(c->user->stream, after);
	pos.recovered = valid && pos.first == after + 1;
	if (wsd_conn_send_position(c, &pos) != 0)
		return -1;
	return wsd_engine_range(c->user->stream, after, wsd_conn_replay_one, c);
}

size_t wsd_conn_deliver_numbered(const char *uid, size_t uid_len, struct wsd_msg *m,
				 uint64_t epoch, uint64_t number)
{
	struct wsd_user *u = NULL;
	struct wsd_conn *c, *next;
	size_t delivered = 0;

	HASH_FIND(hh, wsd_users, uid, uid_len, u);
	for (c = u ? u->conns : NULL; c; c = next) {
		next = c->next; /* closing c may free u with it */
		if (c->resuming != WSD_RESUMED)
			continue; /* its replay, read after this frame was kept, has it */
		if (c->resumable && c->seen_epoch && c->seen_epoch != epoch) {
			wsd_conn_close_soon(c, WSD_CLOSE_RESTART, "stream restarted");
			continue;
		}
		if (c->seen_epoch == epoch && number <= c->seen_last)
			continue; /* replayed already */
		c->seen_epoch = epoch;
		c->seen_last = number;
		if (wsd_conn_deliver_one(u, c, m))
			delivered++;
	}
	return delivered;
}

struct wsd_conn *wsd_conn_by_id(const char *uid, size_t uid_len, uint64_t id)
{
	struct wsd_user *u = NULL;

	HASH_FIND(hh, wsd_users, uid, uid_len, u);
	for (struct wsd_conn *c = u ? u->conns : NULL; c; c = c->next)
		if (c->id == id)
			return c;
	return NULL;
}

void wsd_conn_each(const char *uid, size_t uid_len, void (*fn)(struct wsd_conn *c, void *arg),
		   void *arg)
{
	struct wsd_user *u = NULL;

	struct wsd_conn *c, *next;

	HASH_FIND(hh, wsd_users, uid, uid_len, u);
	for (c = u ? u->conns : NULL; c; c = next) {
		next = c->next; /* fn may close c (and with the last one, free u) */
		fn(c, arg);
	}
}

int wsd_conn_ack(struct wsd_conn *c, uint64_t number, struct wsd_position *p)
{
	if (wsd_redis_on()) { /* answered later, by Redis */
		if (c->user)
			wsd_redis_ack(c, c->user->uid, c->user->uid_len, number);
		return 0;
	}
	int moved = c->user && wsd_user_stream(c->user) ? wsd_engine_ack(c->user->stream, number)
						      : 0;

	if (moved != 1)
		return moved;
	wsd_stats.acks++;
	wsd_engine_position(c->user->stream, p);
	return 1;
}

int wsd_conn_send(struct wsd_conn *c, const char *json, size_t len)
{
	struct wsd_msg *m;
	int rc;

	if (c->state != WSD_CONN_OPEN)
		return -1;
	m = wsd_msg_copy(json, len);
	if (!m)
		return -1;
	rc = wsd_deliver(c, m) == WSD_SENT ? 0 : -1;
	wsd_msg_unref(m);
	return rc;
}

/*
 * lws 4.1 sends no Close frame when WRITEABLE returns -1 or a timeout kills the
 * wsi (both mark the socket unusable), so the frame is written here with the
 * opcode lws reserves for it (4, "LWS_WRITE_CLOSE is handled by
 * lws_close_reason()"). The peer's answering Close then ends the connection in
 * wsd_conn_peer_closed; a peer that never answers is dropped by the timeout.
 */
int wsd_conn_write_close(struct wsd_conn *c, uint16_t code, const char *reason)
{
	unsigned char buf[LWS_PRE + 2 + WSD_CLOSE_REASON_MAX];
	size_t rl = strlen(reason);

	if (rl > WSD_CLOSE_REASON_MAX)
		rl = WSD_CLOSE_REASON_MAX;
	buf[LWS_PRE] = (unsigned char)(code >> 8);
	buf[LWS_PRE + 1] = (unsigned char)code;
	memcpy(buf + LWS_PRE + 2, reason, rl);
	c->close_sent = 1;
	return wsd_write(c, buf + LWS_PRE, 2 + rl, (enum lws_write_protocol)WSD_LWS_WRITE_CLOSE) < 0
		       ? -1 : 0;
}

static int wsd_conn_send_close(struct wsd_conn *c)
{
	if (wsd_conn_write_close(c, c->close_code, c->close_reason) != 0)
		return -1;
	/* The send bound is met; now the peer's answer has its own. */
	wsd_alive_closing(c, WSD_CONN_CLOSE_ACK_SECS);
	return 0;
}

int wsd_conn_peer_closed(struct wsd_conn *c, uint16_t code)
{
	int ours = c->close_sent;

	if (!c->end_code)
		c->end_code = code;
	wsd_conn_detach(c);
	if (c->state != WSD_CONN_CLOSING) {
		/* No ping after the peer's Close; lws echoes it and closes, which
		 * also gets a bound in case the echo cannot leave. */
		wsd_conn_to_closing(c);
		wsd_alive_closing(c, WSD_CONN_CLOSE_ACK_SECS);
	}
	return ours ? -1 : 0;
}

/* With a payload: lws 4.1 does not report a pong that has none. */
static int wsd_conn_write_ping(struct wsd_conn *c)
{
	unsigned char buf[LWS_PRE + 2] = { [LWS_PRE] = 'k', [LWS_PRE + 1] = 'a' };

	c->ping_due = 0;
	return wsd_write(c, buf + LWS_PRE, 2, LWS_WRITE_PING) < 0 ? -1 : 0;
}

void wsd_conn_ping(struct wsd_conn *c)
{
	if (c->state != WSD_CONN_OPEN)
		return; /* a closing connection has its own timeout */
	if (c->count || lws_partial_buffered(c->wsi)) {
		c->ping_due = 1;
		(void)lws_callback_on_writable(c->wsi);
		return;
	}
	if (wsd_conn_write_ping(c) != 0)
		wsd_conn_hangup(c);
}

/*
 * An abortive close: with SO_LINGER 0 the kernel answers close() with a RST
 * and frees what it still holds for the peer, instead of keeping an orphan
 * socket that retries a full buffer towards a peer that does not read. lws
 * closes from a timeout without flushing its own tail or sending a Close.
 */
void wsd_conn_hangup(struct wsd_conn *c)
{
	static const struct linger rst = { .l_onoff = 1, .l_linger = 0 };
	int fd;

	if (c->killed)
		return;
	wsd_conn_leave(c);
	c->killed = 1;
	fd = lws_get_socket_fd(c->wsi);
	if (fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_LINGER, &rst, sizeof rst) != 0)
		log_warn("SO_LINGER on a connection being reset: %s", strerror(errno));
	lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
}

void wsd_conn_close_expired(struct wsd_conn *c)
{
	if (c->killed)
		return;
	wsd_closes_reset++;
	log_info("resetting a closing connection (code %u): %s within %d s (%zu bytes unsent at most)",
		 (unsigned)c->close_code,
		 c->close_sent ? "no answer to its Close" : "its Close could not be sent",
		 c->close_sent ? WSD_CONN_CLOSE_ACK_SECS : WSD_CONN_CLOSE_SEND_SECS, c->lws_held);
	wsd_conn_hangup(c);
}

int wsd_conn_writeable(struct wsd_conn *c)
{
	struct wsd_msg *m;
	size_t len;
	int n;

	if (c->killed)
		return -1; /* being reset: nothing more to send */
	wsd_held_set(c, 0); /* lws calls back only once its tail is out */
	if (c->ping_due && c->state == WSD_CONN_OPEN) {
		if (wsd_conn_write_ping(c) != 0)
			return -1;
		if (c->count)
			(void)lws_callback_on_writable(c->wsi);
		return 0;
	}
	if (c->count == 0)
		return c->state == WSD_CONN_CLOSING && c->close_code && !c->close_sent
			       ? wsd_conn_send_close(c) : 0;
	m = c->ring[c->head];
	c->head = (c->head + 1) % c->ring_cap;
	c->count--;
	c->queued_bytes -= m->len;
	wsd_queued_total -= m->len;
	len = m->len;
	/* lws keeps any unsent tail itself, so the frame can be released now. */
	n = wsd_write(c, m->buf + LWS_PRE, len, LWS_WRITE_TEXT);
	wsd_msg_unref(m);
	if (n < 0 || (size_t)n < len)
		return -1;
	if (c->count || c->state == WSD_CONN_CLOSING)
		(void)lws_callback_on_writable(c->wsi);
	return 0;
}
