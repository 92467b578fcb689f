/* SPDX-License-Identifier: MIT */
/* Held push replies and the waiters that complete them: a uid table of waiting
 * numbers, one timer per held datagram, a bound on how many wait at once. */
#include "wsd_ackwait.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "cfg.h"

#include "log.h"
#include "siphash.h"
#include "wsd_stats.h"

static uint8_t aw_key[SIPHASH_KEY_BYTES];
#define HASH_FUNCTION(keyptr, keylen, hashv) \
	((hashv) = (unsigned)siphash24(aw_key, (keyptr), (size_t)(keylen)))
#include <uthash.h>

struct aw_reply;

/* One item waiting: listed under its uid until acknowledged or timed out. */
struct aw_waiter {
	struct aw_waiter *prev, *next;
	struct aw_uid *uid;
	struct aw_reply *reply;
	uint64_t epoch, number;
	size_t index;           /* its result in reply->res */
};

struct aw_uid {
	UT_hash_handle hh;
	struct aw_waiter *list;
	size_t uid_len;
	char uid[];
};

/* A datagram's reply, sent when `pending` reaches 0 or at the timer. */
struct aw_reply {
	lws_sorted_usec_list_t sul;
	struct aw_reply *prev, *next;  /* every held reply, for flush */
	struct ipc_hdr me;
	struct sockaddr_un to;
	socklen_t to_len;
	size_t n, pending, nwait;
	struct aw_waiter *waiters;     /* nwait, malloc'd */
	struct ipc_result res[];       /* n */
};

struct wsd_ackwait_shared {
	_Atomic uint32_t waiting[CFG_WORKERS_MAX]; /* each worker writes its own */
};

static struct {
	struct lws_context *ctx;
	struct wsd_ackwait_shared *sh;
	unsigned index;
	wsd_ackwait_send_fn send;
	struct aw_uid *uids;
	struct aw_reply *replies;
	size_t waiting, max;
	long wait_ms;
	int keyed;
} aw = { .wait_ms = 1000 };

void wsd_ackwait_init(struct lws_context *ctx, wsd_ackwait_send_fn send)
{
	aw.ctx = ctx;
	aw.send = send;
}

struct wsd_ackwait_shared *wsd_ackwait_shared_new(void)
{
	void *p = mmap(NULL, sizeof(struct wsd_ackwait_shared), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		log_warn("no shared count of ack waiters (%s): each worker counts alone",
			 strerror(errno));
		return NULL;
	}
	return p; /* zero-filled */
}

void wsd_ackwait_share(struct wsd_ackwait_shared *sh, unsigned index)
{
	aw.sh = index < CFG_WORKERS_MAX ? sh : NULL;
	aw.index = index;
	if (aw.sh)
		atomic_store_explicit(&aw.sh->waiting[index], 0, memory_order_relaxed);
}

void wsd_ackwait_use(size_t max_waiters, long wait_ms)
{
	aw.max = max_waiters;
	aw.wait_ms = wait_ms;
}

/* This worker's count changed: the others see it in its slot. */
static void aw_publish(void)
{
	if (aw.sh)
		atomic_store_explicit(&aw.sh->waiting[aw.index], (uint32_t)aw.waiting,
				      memory_order_relaxed);
}

int wsd_ackwait_room(size_t n)
{
	size_t all = aw.waiting;

	for (unsigned i = 0; aw.sh && i < CFG_WORKERS_MAX; i++)
		if (i != aw.index)
			all += atomic_load_explicit(&aw.sh->waiting[i], memory_order_relaxed);
	return all + n <= aw.max;
}
size_t wsd_ackwait_waiting(void) { return aw.waiting; }

static void aw_unlink(struct aw_waiter *w)
{
	struct aw_uid *u = w->uid;

	if (!u)
		return;
	if (w->prev)
		w->prev->next = w->next;
	else
		u->list = w->next;
	if (w->next)
		w->next->prev = w->prev;
	w->uid = NULL;
	w->reply->pending--;
	aw.waiting--;
	aw_publish();
	if (!u->list) {
		HASH_DELETE(hh, aw.uids, u);
		free(u);
	}
}

static void aw_finish(struct aw_reply *r)
{
	for (size_t i = 0; i < r->nwait; i++)
		if (r->waiters[i].uid) {
			aw_unlink(&r->waiters[i]);
			wsd_stats.ack_waits_timeout++;
		}
	lws_sul_cancel(&r->sul);
	if (r->prev)
		r->prev->next = r->next;
	else
		aw.replies = r->next;
	if (r->next)
		r->next->prev = r->prev;
	aw.send(&r->me, r->res, r->n, &r->to, r->to_len);
	free(r->waiters);
	free(r);
}

static void aw_on_timeout(lws_sorted_usec_list_t *sul)
{
	aw_finish(lws_container_of(sul, struct aw_reply, sul));
}

static int aw_listen(struct aw_waiter *w, const char *uid, size_t uid_len)
{
	struct aw_uid *u = NULL;

	if (!aw.keyed && siphash_key_random(aw_key) == 0)
		aw.keyed = 1;
	if (!aw.keyed)
		return -1;
	HASH_FIND(hh, aw.uids, uid, uid_len, u);
	if (!u) {
		u = calloc(1, sizeof *u + uid_len + 1);
		if (!u)
			return -1;
		memcpy(u->uid, uid, uid_len);
		u->uid_len = uid_len;
		HASH_ADD_KEYPTR(hh, aw.uids, u->uid, u->uid_len, u);
	}
	w->uid = u;
	w->prev = NULL;
	w->next = u->list;
	if (u->list)
		u->list->prev = w;
	u->list = w;
	w->reply->pending++;
	aw.waiting++;
	aw_publish();
	return 0;
}

static int aw_waits(const struct ipc_push_item *it, const struct ipc_result *res)
{
	/* A stored message reached no connection: its answer says so at once. */
	return (it->flags & IPC_F_ACK) && res->status == IPC_S_DELIVERED;
}

int wsd_ackwait_hold(const struct ipc_hdr *me, const struct ipc_push_item *items,
		     const struct ipc_result *res, const uint64_t *epochs, size_t n,
		     const struct sockaddr_un *to, socklen_t to_len)
{
	struct aw_reply *r;
	size_t nwait = 0;

	for (size_t i = 0; i < n; i++)
		nwait += (size_t)aw_waits(&items[i], &res[i]);
	if (nwait == 0)
		return 0;
	r = calloc(1, sizeof *r + n * sizeof *res);
	if (!r || !(r->waiters = calloc(nwait, sizeof *r->waiters))) {
		free(r);
		return -1;
	}
	r->me = *me;
	r->to = *to;
	r->to_len = to_len;
	r->n = n;
	memcpy(r->res, res, n * sizeof *res);
	for (size_t i = 0; i < n; i++) {
		struct aw_waiter *w = &r->waiters[r->nwait];

		if (!aw_waits(&items[i], &res[i]))
			continue;
		*w = (struct aw_waiter){ .reply = r, .epoch = epochs[i], .number = res[i].number,
					 .index = i };
		r->nwait++;
		if (aw_listen(w, items[i].uid, items[i].uid_len) != 0)
			log_err("out of memory: a push is answered without waiting for its ack");
	}
	r->next = aw.replies;
	if (aw.replies)
		aw.replies->prev = r;
	aw.replies = r;
	if (r->pending == 0) {
		aw_finish(r); /* nothing could be listed: answered now */
		return 1;
	}
	lws_sul_schedule(aw.ctx, 0, &r->sul, aw_on_timeout, (lws_usec_t)aw.wait_ms * LWS_US_PER_MS);
	return 1;
}

void wsd_ackwait_acked(const char *uid, size_t uid_len, uint64_t epoch, uint64_t acked)
{
	struct aw_uid *u = NULL;
	struct aw_waiter *w, *next;

	HASH_FIND(hh, aw.uids, uid, uid_len, u);
	for (w = u ? u->list : NULL; w; w = next) {
		struct aw_reply *r = w->reply;

		next = w->next;
		if (w->epoch != epoch || w->number > acked)
			continue;
		r->res[w->index].acked = 1;
		wsd_stats.ack_waits_acked++;
		aw_unlink(w); /* frees u with its last waiter */
		if (r->pending == 0)
			aw_finish(r);
	}
}

void wsd_ackwait_flush(void)
{
	while (aw.replies)
		aw_finish(aw.replies);
}
