/* SPDX-License-Identifier: MIT */
/* Datagram requests from the FastCGI side: decode strictly, deliver, reply.
 * A bounded batch per wake-up keeps WebSocket traffic flowing under a push flood. */
#include "wsd_ipc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ipc.h"
#include "ipc_sock.h"
#include "log.h"
#include "req.h"
#include "wmsg.h"
#include "wsd_ackwait.h"
#include "wsd_conn.h"
#include "wsd_engine.h"
#include "wsd_redis.h"
#include "wsd_revoke.h"
#include "wsd_stats.h"

#define WSD_IPC_BATCH 256 /* datagrams per wake-up before yielding to the loop */
#define WSD_IPC_VLEN 16   /* datagrams per recvmmsg call */

/* The configuration reply must fit one datagram. */
_Static_assert(IPC_HDR_LEN + CFG_PACK_MAX <= IPC_MAX_DATAGRAM, "CONFIG_REPLY fits a datagram");
_Static_assert(IPC_WORKERS_MAX == CFG_WORKERS_MAX, "one bound of the worker count");

static int wsd_ipc_fd = -1;
static int wsd_ipc_lock = -1;       /* flock on "<path>.lock": one daemon per path */
static struct lws *wsd_ipc_wsi;     /* the adopted socket; lws owns the fd */
static char *wsd_ipc_path;
static uint8_t wsd_tx[IPC_MAX_DATAGRAM]; /* any reply, CONFIG_REPLY the largest */
static lws_usec_t wsd_started_us;
static struct ipc_push_item wsd_items[IPC_MAX_ITEMS];
static struct ipc_result wsd_results[IPC_MAX_ITEMS];
static uint64_t wsd_epochs[IPC_MAX_ITEMS];   /* of items that wait for an ack */
static size_t wsd_ack_items;                 /* such items in the datagram at hand */
static int wsd_ipc_closing;                  /* wsd_ipc_close: nothing new goes to Redis */
static long wsd_ipc_age;                     /* ms the datagram at hand waited in the socket */

/* What wsd_ipc_use copied from the configuration. */
static struct {
	size_t max_uid;
	size_t max_frame;
	long max_age_ms;
	long key_ttl;        /* the largest access_key_ttl run: how long a revocation lasts */
	uint32_t generation;
	uint16_t workers;
	uint16_t index;
	uint8_t packed[CFG_PACK_MAX]; /* cfg_pack of it, for CONFIG requests */
	size_t packed_len;            /* 0: could not be packed */
} wsd_run = { .workers = 1 };

void wsd_ipc_use(const struct cfg *c, unsigned index)
{
	wsd_run.max_uid = (size_t)c->max_uid_bytes;
	wsd_run.max_frame = (size_t)c->send_queue_max_bytes;
	wsd_run.max_age_ms = c->push_timeout_ms;
	/* A revocation must outlive every key push-api may have issued, also under
	 * a longer access_key_ttl that a reload since lowered: the largest seen. */
	if (c->access_key_ttl > wsd_run.key_ttl)
		wsd_run.key_ttl = c->access_key_ttl;
	wsd_run.generation = c->generation;
	wsd_run.workers = (uint16_t)(c->workers < 1 ? 1 : c->workers);
	wsd_run.index = (uint16_t)(index < wsd_run.workers ? index : 0);
	wsd_run.packed_len = cfg_pack(c, wsd_run.packed, sizeof wsd_run.packed);
	/* ack_waiters_max is the daemon's: wsd_ackwait counts across workers. */
	wsd_ackwait_use((size_t)cfg_ack_waiters(c), IPC_ACK_WAIT_MS(c->push_timeout_ms));
	if (wsd_run.packed_len == 0)
		log_err("ipc: the configuration cannot be handed to push-api (too large?)");
}

/* The header of every reply: who answers, under which configuration. */
static struct ipc_hdr wsd_ipc_me(uint32_t req_id)
{
	return (struct ipc_hdr){ .req_id = req_id, .generation = wsd_run.generation,
				 .workers = wsd_run.workers, .index = wsd_run.index };
}

static void wsd_ipc_reply(const uint8_t *buf, size_t len, const struct sockaddr_un *to,
			  socklen_t to_len)
{
	ssize_t n;

	if (to_len <= sizeof(sa_family_t))
		return; /* unbound sender: nowhere to answer */
	do
		n = sendto(wsd_ipc_fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL,
			   (const struct sockaddr *)to, to_len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		log_info("ipc reply not sent: %s", strerror(errno));
}

static void wsd_ipc_refuse(struct ipc_result *res, uint32_t status)
{
	memset(res, 0, sizeof *res);
	res->status = status;
}

/* The epoch a just-published message belongs to: an acknowledgement counts
 * for it only in that epoch. */
static uint64_t wsd_ipc_epoch(const struct ipc_push_item *it)
{
	struct wsd_stream *st = wsd_engine_find(it->uid, it->uid_len, 0);
	struct wsd_position p = { 0 };

	if (st)
		wsd_engine_position(st, &p);
	return p.epoch;
}

/* One routing truth: the uid's owner is the same function everywhere. A uid
 * that is not ours is handed back (0); so is one against the uid rule. */
static int wsd_ipc_ours(const struct ipc_push_item *it, struct ipc_result *res)
{
	if (req_uid_shard(it->uid, it->uid_len, wsd_run.workers) != wsd_run.index) {
		wsd_ipc_refuse(res, IPC_S_WRONG_WORKER);
		wsd_stats.pushes_wrong_worker++;
		return 0;
	}
	if (req_uid_problem(it->uid, it->uid_len, wsd_run.max_uid)) {
		wsd_ipc_refuse(res, IPC_S_REFUSED);
		return 0;
	}
	return 1;
}

static void wsd_ipc_presence(const struct ipc_push_item *it, struct ipc_result *res)
{
	size_t n;

	if (!wsd_ipc_ours(it, res))
		return;
	n = wsd_conn_of(it->uid, it->uid_len);
	memset(res, 0, sizeof *res);
	res->delivered = (uint32_t)n;
	res->status = n ? IPC_S_DELIVERED : IPC_S_OFFLINE;
}

static void wsd_ipc_kick(const struct ipc_push_item *it, struct ipc_result *res)
{
	size_t n;

	if (!wsd_ipc_ours(it, res))
		return;
	/* Revoked first: a tab the kick closes must not come back with its key. */
	if ((it->flags & IPC_F_REVOKE) &&
	    wsd_revoke_add(it->uid, it->uid_len, time(NULL), wsd_run.key_ttl) != 0) {
		log_warn("cannot revoke uid %.*s: %d revocations already held", (int)it->uid_len,
			 it->uid, WSD_REVOKE_MAX);
		wsd_ipc_refuse(res, IPC_S_BUSY);
		return;
	}
	n = wsd_conn_kick(it->uid, it->uid_len, WSD_CLOSE_KICKED, "kicked");
	log_info("kick uid=%.*s: %zu connections closed%s", (int)it->uid_len, it->uid, n,
		 it->flags & IPC_F_REVOKE ? ", keys revoked" : "");
	memset(res, 0, sizeof *res);
	res->delivered = (uint32_t)n;
	res->status = n ? IPC_S_DELIVERED : IPC_S_OFFLINE;
}

static void wsd_ipc_broadcast(const struct ipc_push_item *it, struct ipc_result *res)
{
	uint64_t uids, conns;

	memset(res, 0, sizeof *res);
	if (wmsg_frame_max(it->topic_len, it->contents_len) > wsd_run.max_frame) {
		res->status = IPC_S_REFUSED;
		return;
	}
	wsd_conn_broadcast(it, &uids, &conns);
	wsd_stats.deliveries += conns;
	res->delivered = conns > UINT32_MAX ? UINT32_MAX : (uint32_t)conns;
	res->number = uids;
	res->status = IPC_S_DELIVERED;
}

static void wsd_ipc_item(const struct ipc_push_item *it, struct ipc_result *res,
			 uint64_t *epoch)
{
	int ours = wsd_ipc_ours(it, res);

	if (!ours && res->status == IPC_S_WRONG_WORKER)
		return; /* handed back: another worker receives it */
	wsd_stats.pushes_received++;
	if (!ours || wmsg_frame_max(it->topic_len, it->contents_len) > wsd_run.max_frame) {
		wsd_ipc_refuse(res, IPC_S_REFUSED);
		wsd_stats.pushes_invalid++;
		return;
	}
	/* Decided before delivery: a push refused for room is not delivered. */
	if ((it->flags & IPC_F_ACK) && !wsd_ackwait_room(wsd_ack_items + 1)) {
		wsd_ipc_refuse(res, IPC_S_BUSY);
		wsd_stats.pushes_busy++;
		return;
	}
	wsd_conn_push(it, res);
	if (res->status == IPC_S_DELIVERED) {
		wsd_stats.pushes_delivered++;
		wsd_stats.deliveries += res->delivered;
	} else if (res->status == IPC_S_STORED) {
		wsd_stats.pushes_stored++;
	} else {
		wsd_stats.pushes_offline++;
	}
	if ((it->flags & IPC_F_ACK) && res->status == IPC_S_DELIVERED) {
		*epoch = wsd_ipc_epoch(it);
		wsd_ack_items++;
	}
}

/* A held reply, complete: wsd_ackwait sends it through here. */
static void wsd_ipc_send_held(const struct ipc_hdr *me, const struct ipc_result *res, size_t n,
			      const struct sockaddr_un *to, socklen_t to_len)
{
	size_t out = ipc_encode_push_reply(wsd_tx, sizeof wsd_tx, me, res, n);

	if (out)
		wsd_ipc_reply(wsd_tx, out, to, to_len);
}

/* Engine redis: what this worker decides before Redis (the uid is ours and
 * valid, the frame fits, an ack push has room); 1 when the item goes on. */
static int wsd_ipc_redis_todo(uint8_t type, const struct ipc_push_item *it,
			      struct ipc_result *res)
{
	memset(res, 0, sizeof *res);
	if (type == IPC_T_BROADCAST) {
		if (wmsg_frame_max(it->topic_len, it->contents_len) > wsd_run.max_frame) {
			res->status = IPC_S_REFUSED;
			return 0;
		}
		/* Every worker of every host hears it from the first one here. */
		return wsd_run.index == 0;
	}
	if (type != IPC_T_PUSH)
		return wsd_ipc_ours(it, res);
	if (!wsd_ipc_ours(it, res) && res->status == IPC_S_WRONG_WORKER)
		return 0;
	wsd_stats.pushes_received++;
	if (res->status == IPC_S_REFUSED ||
	    wmsg_frame_max(it->topic_len, it->contents_len) > wsd_run.max_frame) {
		wsd_ipc_refuse(res, IPC_S_REFUSED);
		wsd_stats.pushes_invalid++;
		return 0;
	}
	/* Ack pushes still on their way through Redis will wait too. */
	if ((it->flags & IPC_F_ACK) &&
	    !wsd_ackwait_room(wsd_ack_items + wsd_redis_ack_pending() + 1)) {
		wsd_ipc_refuse(res, IPC_S_BUSY);
		wsd_stats.pushes_busy++;
		return 0;
	}
	wsd_ack_items += (it->flags & IPC_F_ACK) != 0;
	return 1;
}

/* Engine redis: the datagram goes on to Redis; 1 when its reply comes later. */
static int wsd_ipc_redis(const struct ipc_hdr *h, const struct ipc_hdr *me,
			 const struct sockaddr_un *from, socklen_t from_len)
{
	static uint8_t todo[IPC_MAX_ITEMS];

	for (size_t i = 0; i < h->count; i++)
		todo[i] = (uint8_t)wsd_ipc_redis_todo(h->type, &wsd_items[i], &wsd_results[i]);
	/* What push-api still waits of its push_timeout_ms, half of it for Redis. */
	if (!wsd_ipc_closing &&
	    wsd_redis_request(me, h->type, wsd_items, wsd_results, todo, h->count, from, from_len,
			      (wsd_run.max_age_ms - wsd_ipc_age) / 2) == 0)
		return 1;
	for (size_t i = 0; i < h->count; i++)
		if (todo[i])
			wsd_ipc_refuse(&wsd_results[i], IPC_S_UNAVAILABLE);
	return 0;
}

/* Engine redis: a datagram's answer, complete (ack pushes may wait on). */
static void wsd_ipc_redis_reply(const struct ipc_hdr *me, const struct ipc_push_item *items,
				const struct ipc_result *res, const uint64_t *epochs, size_t n,
				const struct sockaddr_un *to, socklen_t to_len)
{
	int acks = 0;

	for (size_t i = 0; i < n; i++)
		acks |= (items[i].flags & IPC_F_ACK) && res[i].status == IPC_S_DELIVERED;
	if (acks && to_len > sizeof(sa_family_t) &&
	    wsd_ackwait_hold(me, items, res, epochs, n, to, to_len) == 1)
		return;
	wsd_ipc_send_held(me, res, n, to, to_len);
}

/* Each item of a decoded request to its type's handler. */
static void wsd_ipc_dispatch(uint8_t type, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		if (type == IPC_T_PUSH)
			wsd_ipc_item(&wsd_items[i], &wsd_results[i], &wsd_epochs[i]);
		else if (type == IPC_T_PRESENCE)
			wsd_ipc_presence(&wsd_items[i], &wsd_results[i]);
		else if (type == IPC_T_KICK)
			wsd_ipc_kick(&wsd_items[i], &wsd_results[i]);
		else
			wsd_ipc_broadcast(&wsd_items[i], &wsd_results[i]);
	}
}

/* Any request made of items (push, presence, kick, broadcast); 0 when the reply
 * waits for acknowledgements (wsd_ackwait sends it). */
static size_t wsd_ipc_push(const uint8_t *rx, size_t len, const struct sockaddr_un *from,
			   socklen_t from_len)
{
	struct ipc_hdr h = { 0 }, me;
	enum ipc_rc rc = ipc_decode_request(rx, len, &h, wsd_items);

	me = wsd_ipc_me(h.req_id);
	if (rc != IPC_OK) {
		log_warn("ipc: dropped a datagram of %zu bytes: %s", len, ipc_rc_str(rc));
		wsd_stats.ipc_errors++;
		return ipc_encode_bare(wsd_tx, sizeof wsd_tx, IPC_T_ERROR_REPLY, &me);
	}
	/* Checked (password) against another configuration than ours: the sender
	 * learns ours from the reply and checks again before it resends. */
	wsd_ack_items = 0;
	if (h.generation != 0 && h.generation != wsd_run.generation) {
		for (size_t i = 0; i < h.count; i++)
			wsd_ipc_refuse(&wsd_results[i], IPC_S_STALE);
		wsd_stats.pushes_stale += h.count;
	} else if (wsd_redis_on()) {
		if (wsd_ipc_redis(&h, &me, from, from_len))
			return 0;
	} else {
		wsd_ipc_dispatch(h.type, h.count);
	}
	/* An unbound sender has nobody to answer, so nothing waits for it. */
	if (wsd_ack_items && from_len > sizeof(sa_family_t) &&
	    wsd_ackwait_hold(&me, wsd_items, wsd_results, wsd_epochs, h.count, from,
			     from_len) == 1)
		return 0;
	return ipc_encode_push_reply(wsd_tx, sizeof wsd_tx, &me, wsd_results, h.count);
}

static size_t wsd_ipc_stats(uint32_t req_id)
{
	struct wsd_gauges g = { wsd_conn_count(), wsd_conn_uids(), wsd_conn_queued_bytes(),
				(uint64_t)(lws_now_usecs() - wsd_started_us) / 1000u,
				wsd_conn_closing(), wsd_conn_closing_bytes(), wsd_conn_closes_reset(),
				wsd_engine_streams(), wsd_engine_messages(), wsd_engine_bytes(),
				wsd_engine_evicted(), wsd_ackwait_waiting() };
	struct ipc_hdr me = wsd_ipc_me(req_id);
	uint64_t v[IPC_STATS_N];

	wsd_stats_fill(&g, v);
	return ipc_encode_stats_reply(wsd_tx, sizeof wsd_tx, &me, v);
}

/* The whole configuration, unless the sender already runs this generation. */
static size_t wsd_ipc_config(const struct ipc_hdr *h)
{
	struct ipc_hdr me = wsd_ipc_me(h->req_id);

	if (wsd_run.packed_len == 0)
		return ipc_encode_bare(wsd_tx, sizeof wsd_tx, IPC_T_ERROR_REPLY, &me);
	if (h->generation == wsd_run.generation)
		return ipc_encode_config_reply(wsd_tx, sizeof wsd_tx, &me, NULL, 0);
	return ipc_encode_config_reply(wsd_tx, sizeof wsd_tx, &me, wsd_run.packed,
				       wsd_run.packed_len);
}

static void wsd_ipc_report(const uint8_t *rx, size_t len)
{
	uint32_t counts[IPC_R_COUNT];
	struct ipc_hdr h;

	if (ipc_decode_report(rx, len, &h, counts) != IPC_OK) {
		log_warn("ipc: dropped a report of %zu bytes", len);
		wsd_stats.ipc_errors++;
		return; /* never answered */
	}
	for (size_t i = 0; i < IPC_R_COUNT; i++)
		wsd_stats.api_refused[i] += counts[i];
}

static void wsd_ipc_handle(const uint8_t *rx, size_t len, const struct sockaddr_un *from,
			   socklen_t from_len)
{
	struct ipc_hdr h = { 0 }, me;
	enum ipc_rc rc = ipc_decode_hdr(rx, len, &h);
	size_t out = 0;

	if (rc == IPC_OK && (h.type == IPC_T_PUSH || h.type == IPC_T_PRESENCE ||
			     h.type == IPC_T_KICK || h.type == IPC_T_BROADCAST)) {
		out = wsd_ipc_push(rx, len, from, from_len);
	} else if (rc == IPC_OK && h.type == IPC_T_STATS && len == IPC_HDR_LEN) {
		out = wsd_ipc_stats(h.req_id);
	} else if (rc == IPC_OK && h.type == IPC_T_CONFIG && len == IPC_HDR_LEN) {
		out = wsd_ipc_config(&h);
	} else if (rc == IPC_OK && h.type == IPC_T_REPORT) {
		wsd_ipc_report(rx, len);
		return;
	} else {
		log_warn("ipc: dropped a datagram of %zu bytes: %s", len,
			 rc != IPC_OK ? ipc_rc_str(rc) : "unexpected type or size");
		wsd_stats.ipc_errors++;
		me = wsd_ipc_me(h.req_id);
		out = ipc_encode_bare(wsd_tx, sizeof wsd_tx, IPC_T_ERROR_REPLY, &me);
	}
	if (out)
		wsd_ipc_reply(wsd_tx, out, from, from_len);
}

/* Requests that change something: done late, after the sender answered 503,
 * they would turn "not done, send again" into a duplicate. */
static int wsd_ipc_acts(uint8_t type)
{
	return type == IPC_T_PUSH || type == IPC_T_KICK || type == IPC_T_BROADCAST;
}

/* Milliseconds since the kernel queued the datagram (SO_TIMESTAMPNS), or 0. */
static long wsd_ipc_age_ms(struct msghdr *mh)
{
	struct timespec now, ts;

	long age;

	if (mh->msg_flags & MSG_CTRUNC)
		return 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_TIMESTAMPNS ||
		    c->cmsg_len < CMSG_LEN(sizeof ts))
			continue;
		memcpy(&ts, CMSG_DATA(c), sizeof ts);
		if (clock_gettime(CLOCK_REALTIME, &now) != 0)
			return 0;
		/* Kernel stamps are wall-clock: a clock stepped back reads as "fresh". */
		age = (long)(now.tv_sec - ts.tv_sec) * 1000L + (now.tv_nsec - ts.tv_nsec) / 1000000L;
		return age > 0 ? age : 0;
	}
	return 0;
}

/* One slot of the recvmmsg batch. Untouched pages of rx cost no memory, so a
 * slot can hold the largest datagram. */
struct wsd_slot {
	uint8_t rx[IPC_MAX_DATAGRAM + 1];
	struct sockaddr_un from;
	_Alignas(struct cmsghdr) char ctl[CMSG_SPACE(sizeof(struct timespec))];
	struct iovec iov;
};

static struct wsd_slot wsd_slots[WSD_IPC_VLEN];
static struct mmsghdr wsd_mmsg[WSD_IPC_VLEN];

static void wsd_ipc_one(struct wsd_slot *sl, struct msghdr *mh, size_t n)
{
	long age;

	if (mh->msg_flags & MSG_TRUNC) {
		log_warn("ipc: dropped an oversized datagram");
		wsd_stats.ipc_errors++;
		return;
	}
	/* The sender has answered 503 by now: acting late would turn its
	 * "not done" into a lie, and a retry into a duplicate. */
	age = n >= IPC_HDR_LEN && wsd_ipc_acts(sl->rx[3]) ? wsd_ipc_age_ms(mh) : 0;
	if (wsd_run.max_age_ms > 0 && age >= wsd_run.max_age_ms) {
		log_warn("ipc: dropped a push that waited %ld ms (sender gave up)", age);
		wsd_stats.pushes_expired++;
		return;
	}
	wsd_ipc_age = age;
	wsd_ipc_handle(sl->rx, n, &sl->from, mh->msg_namelen);
}

/* Drains in recvmmsg batches, at most WSD_IPC_BATCH datagrams per wake-up. */
static void wsd_ipc_drain(void)
{
	for (int round = 0; round < WSD_IPC_BATCH / WSD_IPC_VLEN; round++) {
		int n;

		for (int i = 0; i < WSD_IPC_VLEN; i++) {
			struct wsd_slot *sl = &wsd_slots[i];
			struct msghdr *mh = &wsd_mmsg[i].msg_hdr;

			sl->iov = (struct iovec){ sl->rx, sizeof sl->rx };
			*mh = (struct msghdr){ .msg_name = &sl->from, .msg_namelen = sizeof sl->from,
					       .msg_iov = &sl->iov, .msg_iovlen = 1,
					       .msg_control = sl->ctl,
					       .msg_controllen = sizeof sl->ctl };
		}
		if (wsd_ipc_fd < 0)
			return;
		n = recvmmsg(wsd_ipc_fd, wsd_mmsg, WSD_IPC_VLEN, MSG_DONTWAIT, NULL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_err("ipc: recvmmsg: %s", strerror(errno));
			return;
		}
		for (int i = 0; i < n; i++)
			wsd_ipc_one(&wsd_slots[i], &wsd_mmsg[i].msg_hdr, wsd_mmsg[i].msg_len);
		if (n < WSD_IPC_VLEN)
			return; /* the socket is empty */
	}
}

int wsd_ipc_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		     size_t len)
{
	(void)wsi;
	(void)user;
	(void)in;
	(void)len;
	switch (reason) {
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		return 1; /* a client asking for this protocol by name gets nothing */
	case LWS_CALLBACK_RAW_RX_FILE:
		wsd_ipc_drain();
		break;
	case LWS_CALLBACK_RAW_CLOSE_FILE:
		log_debug("ipc socket left the event loop");
		wsd_ipc_wsi = NULL;
		break;
	default:
		break;
	}
	return 0;
}

int wsd_ipc_open(struct lws_vhost *vh, const char *path, unsigned mode, char *err,
		 size_t err_len)
{
	lws_sock_file_fd_type fd;

	int on = 1;

	wsd_started_us = lws_now_usecs();
	wsd_ipc_fd = ipc_server_open(path, (mode_t)mode, &wsd_ipc_lock, err, err_len);
	if (wsd_ipc_fd < 0)
		return -1;
	if (setsockopt(wsd_ipc_fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on) != 0)
		log_warn("ipc: no arrival timestamps (%s); late pushes cannot be dropped",
			 strerror(errno));
	wsd_ipc_path = strdup(path);
	fd.filefd = wsd_ipc_fd;
	wsd_ipc_wsi = wsd_ipc_path ? lws_adopt_descriptor_vhost(vh, LWS_ADOPT_RAW_FILE_DESC, fd,
								WSD_IPC_PROTOCOL_NAME, NULL)
				   : NULL;
	if (!wsd_ipc_wsi) {
		snprintf(err, err_len, "cannot adopt the ipc socket into the event loop");
		(void)close(wsd_ipc_fd); /* not adopted: still ours */
		wsd_ipc_close();
		return -1;
	}
	wsd_ackwait_init(lws_get_context(wsd_ipc_wsi), wsd_ipc_send_held);
	return 0;
}

void wsd_ipc_close(void)
{
	/* Answer what already arrived, then refuse the rest at once: senders get
	 * EPIPE (503 now) instead of waiting out their timeout on a socket nobody
	 * reads. lws closes the fd itself, a loop turn later. */
	if (wsd_ipc_fd >= 0) {
		/* Engine redis: what arrives now is refused (nothing done), what is
		 * in flight in Redis is answered as it stands, before the socket goes. */
		wsd_ipc_closing = 1;
		wsd_ipc_drain();
		wsd_redis_flush();
		wsd_ackwait_flush();
		(void)shutdown(wsd_ipc_fd, SHUT_RD);
	}
	if (wsd_ipc_wsi)
		lws_set_timeout(wsd_ipc_wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
	wsd_ipc_wsi = NULL;
	if (wsd_ipc_path) {
		(void)unlink(wsd_ipc_path);
		free(wsd_ipc_path);
		wsd_ipc_path = NULL;
	}
	if (wsd_ipc_lock >= 0)
		(void)close(wsd_ipc_lock); /* releases the flock */
	wsd_ipc_lock = -1;
	wsd_ipc_fd = -1;
}

int wsd_ipc_engine_start(uv_loop_t *loop, const struct cfg *c, unsigned index)
{
	if (!wsd_ipc_wsi)
		return -1;
	return wsd_redis_start(loop, lws_get_context(wsd_ipc_wsi), c, index, wsd_ipc_redis_reply);
}
