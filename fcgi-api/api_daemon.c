/* SPDX-License-Identifier: MIT */
/* push-api follows the daemon, not the file: worker count and configuration come
 * from the workers' replies; a batch's datagrams all leave before any reply is awaited. */
#include "api_daemon.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "log.h"
#include "req.h"

#define API_REPLY_GRACE_MS 250 /* see api_reply_deadline */
#define API_PROBE_MS 250       /* longest wait of a configuration check */
#define API_CONFIRM_MS 1000    /* after a timeout, the daemon is asked again no sooner */
#define API_FILE_RETRY_S 5     /* ipc_socket re-read from the file at most this often */

/* The configuration travels in one datagram; the worker count has one bound. */
_Static_assert(IPC_HDR_LEN + CFG_PACK_MAX <= IPC_MAX_DATAGRAM, "CONFIG_REPLY fits a datagram");
_Static_assert(IPC_HDR_LEN + IPC_PUSH_ITEM_HDR + REQ_UID_MAX + CFG_MESSAGE_MAX <= IPC_MAX_DATAGRAM,
	       "the largest single push fits one datagram");
_Static_assert(IPC_WORKERS_MAX == CFG_WORKERS_MAX, "one bound of the worker count");
_Static_assert(IPC_WORKERS_MAX < 256, "api_plan keeps a worker index, or IPC_WORKERS_MAX, in a byte");

/* One datagram of an exchange: its items are order[start..end). */
struct api_dgram {
	unsigned worker;
	uint32_t id;
	size_t start, end;
	int open;       /* sent, no answer yet */
	int busy_retry; /* the worker's queue was full: sent in a second pass */
	long until;     /* its reply is given up at this ipc_clock_ms (api_reply_deadline) */
};

static long api_probe_ms(const struct api_daemon *d)
{
	return d->cfg.push_timeout_ms < API_PROBE_MS ? d->cfg.push_timeout_ms : API_PROBE_MS;
}

/* Worker i's socket under the naming rule of cfg_worker_socket, for n workers. */
static int api_worker_path(const struct api_daemon *d, unsigned n, unsigned i, char *out,
			   size_t len)
{
	struct cfg t = d->cfg; /* shallow: only read */

	t.workers = n;
	return cfg_worker_socket(&t, i, out, len);
}

static void api_set_workers(struct api_daemon *d, unsigned n)
{
	for (unsigned i = 0; i < IPC_WORKERS_MAX; i++)
		ipc_client_close(&d->ipc[i]);
	d->nworkers = 0;
	for (unsigned i = 0; i < n && i < IPC_WORKERS_MAX; i++) {
		char path[sizeof d->ipc[i].path];

		if (api_worker_path(d, n, i, path, sizeof path) != 0 ||
		    ipc_client_init(&d->ipc[i], path) != 0) {
			log_err("ipc_socket path is too long: %s", d->cfg.ipc_socket);
			return;
		}
	}
	if (n != d->nworkers && n > 0)
		log_info("ws-daemon runs %u worker%s", n, n == 1 ? "" : "s");
	d->nworkers = n;
}

/* Before the count is known: ipc_socket (one worker), else ipc_socket.0. */
static int api_find_daemon(struct api_daemon *d, struct ipc_client *probe)
{
	char path[sizeof probe->path];
	struct stat st;

	if (lstat(d->cfg.ipc_socket, &st) == 0 || errno != ENOENT)
		return ipc_client_init(probe, d->cfg.ipc_socket);
	if (api_worker_path(d, 2, 0, path, sizeof path) != 0)
		return -1;
	return ipc_client_init(probe, path);
}

/* A daemon restarted with another ipc_socket: the file may name it. Only this
 * key is taken from the file, and at most every API_FILE_RETRY_S. */
static void api_reread_socket(struct api_daemon *d)
{
	char err[CFG_ERR_LEN];
	time_t now = time(NULL);
	struct cfg f;

	if (now - d->file_read < API_FILE_RETRY_S)
		return;
	d->file_read = now;
	if (cfg_load(d->conf_path, &f, err, sizeof err) == 0 &&
	    strcmp(f.ipc_socket, d->cfg.ipc_socket) != 0) {
		log_notice("no ws-daemon at %s; looking at %s, which %s names now",
			   d->cfg.ipc_socket, f.ipc_socket, d->conf_path);
		free(d->cfg.ipc_socket);
		d->cfg.ipc_socket = f.ipc_socket;
		f.ipc_socket = NULL;
	}
	cfg_free(&f);
}

/* The password's digest, computed once per configuration, not per request. */
static int api_keep_digest(struct api_daemon *d)
{
	unsigned int len = 0;

	if (EVP_Digest(d->cfg.password, strlen(d->cfg.password), d->pw_digest, &len,
		       EVP_sha256(), NULL) == 1 && len == sizeof d->pw_digest)
		return 0;
	/* All zero matches no password's digest: the old password must not stay. */
	OPENSSL_cleanse(d->pw_digest, sizeof d->pw_digest);
	return -1;
}

/* The daemon's configuration replaces ours as it does in its workers: rotation
 * state as the supervisor decided it, restart-only keys ours. */
static void api_adopt(struct api_daemon *d, const uint8_t *pack, size_t len, uint32_t gen)
{
	char err[CFG_ERR_LEN];
	struct cfg next;

	if (gen == d->bad_generation)
		return; /* said once already */
	if (cfg_unpack(pack, len, &next, err, sizeof err) != 0 ||
	    cfg_keep_restart_only(&d->cfg, &next, 0) < 0) {
		log_err("cannot adopt ws-daemon's configuration %08x: %s", gen,
			err[0] ? err : "out of memory");
		d->bad_generation = gen;
		cfg_free(&next);
		return;
	}
	cfg_free(&d->cfg);
	d->cfg = next;
	if (api_keep_digest(d) != 0)
		log_err("cannot digest the adopted password: every password is refused");
	d->serial++;
	d->followed = 1;
	log_set_level(d->cfg.log_level);
	log_notice("following ws-daemon's configuration %08x (%s)", d->cfg.generation,
		   d->cfg.path);
}

/* Asks worker w (-1: any; the count unknown: found by path) which
 * configuration it runs and adopts it if it is not ours. 0 if it answered. */
static int api_check(struct api_daemon *d, int w, long timeout_ms)
{
	struct ipc_hdr h = { .req_id = d->next_req_id++, .generation = d->cfg.generation };
	struct ipc_client probe, *c = &probe;
	uint8_t req[IPC_HDR_LEN];
	const uint8_t *pack = NULL;
	size_t rlen = 0, plen = 0;
	enum ipc_call_rc rc;

	d->asked_ms = ipc_clock_ms();
	if (d->nworkers > 0)
		c = &d->ipc[w >= 0 && (unsigned)w < d->nworkers ? (unsigned)w
								 : d->next_probe++ % d->nworkers];
	else if (api_find_daemon(d, &probe) != 0)
		return -1;
	rc = ipc_client_call(c, req, ipc_encode_bare(req, sizeof req, IPC_T_CONFIG, &h), h.req_id,
			     d->rx, IPC_MAX_DATAGRAM, &rlen, timeout_ms);
	if (c == &probe)
		ipc_client_close(&probe);
	d->check_slow = rc == IPC_CALL_TIMEOUT || rc == IPC_CALL_BUSY;
	if (rc != IPC_CALL_OK) {
		d->down_why = ipc_call_rc_str(rc);
		if (rc == IPC_CALL_DOWN) {
			api_set_workers(d, 0); /* restarted elsewhere or with another count? */
			api_reread_socket(d);
		}
		return -1;
	}
	if (ipc_decode_config_reply(d->rx, rlen, &h, &pack, &plen) != IPC_OK) {
		d->down_why = "push daemon gave an unreadable answer";
		return -1;
	}
	if (h.workers != d->nworkers)
		api_set_workers(d, h.workers);
	if (plen > 0)
		api_adopt(d, pack, plen, h.generation);
	else
		d->followed = 1; /* we run its generation already */
	return 0;
}

/* Every reply says who answered under which configuration. */
static void api_note(struct api_daemon *d, const struct ipc_hdr *h, unsigned w)
{
	if (h->workers != d->nworkers || h->index != w)
		d->relearn = 1;
	if (h->generation != d->cfg.generation)
		d->follow_from = (int)w;
}

/* After an exchange, when no reply is awaited any more: re-learn what replies
 * contradicted. A refused uid means our count is wrong: learned again from scratch. */
static void api_settle(struct api_daemon *d, int wrong_worker)
{
	if (d->relearn || wrong_worker) {
		api_set_workers(d, 0);
		(void)api_check(d, -1, api_probe_ms(d));
	} else if (d->follow_from >= 0) {
		(void)api_check(d, d->follow_from, api_probe_ms(d));
	}
	d->relearn = 0;
	d->follow_from = -1;
}

int api_daemon_init(struct api_daemon *d, const char *conf_path)
{
	char err[CFG_ERR_LEN];

	memset(d, 0, sizeof *d);
	for (unsigned i = 0; i < IPC_WORKERS_MAX; i++)
		d->ipc[i].fd = -1;
	d->conf_path = conf_path;
	d->follow_from = -1;
	d->file_read = time(NULL);
	d->down_why = ipc_call_rc_str(IPC_CALL_DOWN);
	if (cfg_load(conf_path, &d->cfg, err, sizeof err) != 0) {
		log_err("%s", err);
		return -1;
	}
	d->tx = malloc(IPC_MAX_DATAGRAM);
	d->rx = malloc(IPC_MAX_DATAGRAM);
	d->scratch_items = calloc(IPC_MAX_ITEMS, sizeof *d->scratch_items);
	d->scratch_res = calloc(IPC_MAX_ITEMS, sizeof *d->scratch_res);
	if (!d->tx || !d->rx || !d->scratch_items || !d->scratch_res) {
		log_err("out of memory");
		return -1;
	}
	if (api_keep_digest(d) != 0 ||
	    RAND_bytes((unsigned char *)&d->next_req_id, sizeof d->next_req_id) != 1) {
		log_err("OpenSSL failed to initialise");
		return -1;
	}
	return 0;
}

void api_daemon_free(struct api_daemon *d)
{
	for (unsigned i = 0; i < IPC_WORKERS_MAX; i++)
		ipc_client_close(&d->ipc[i]);
	free(d->tx);
	free(d->rx);
	free(d->scratch_items);
	free(d->scratch_res);
	d->tx = d->rx = NULL;
	d->scratch_items = NULL;
	d->scratch_res = NULL;
	cfg_free(&d->cfg);
}

void api_daemon_keep_up(struct api_daemon *d, int exchange)
{
	long now = ipc_clock_ms(), timeout = api_probe_ms(d);

	/* A request that talks to the daemon anyway learns the generation from
	 * its own replies (and a push under a stale one is handed back). */
	if (d->nworkers && d->followed && exchange)
		return;
	/* Nowhere to send without the count: a stalled daemon gets the time a
	 * push would wait for it (as with a full queue), every time. */
	if (exchange && d->nworkers == 0)
		timeout = d->cfg.push_timeout_ms;
	else if (d->check_slow && now - d->asked_ms < API_CONFIRM_MS)
		return;
	(void)api_check(d, -1, timeout);
}

int api_daemon_recheck(struct api_daemon *d)
{
	unsigned serial = d->serial;
	long now = ipc_clock_ms();

	/* A round trip on a local socket costs less than the password check it
	 * may save a legitimate client from failing; only a slow daemon waits. */
	if (d->check_slow && now - d->asked_ms < API_CONFIRM_MS)
		return 0;
	(void)api_check(d, -1, api_probe_ms(d));
	return d->serial != serial;
}

static void api_fail(struct api_item *items, const size_t *order, size_t start, size_t end,
		     int http, const char *why)
{
	for (size_t k = start; k < end; k++) {
		items[order[k]].http = http;
		items[order[k]].why = why;
	}
}

/* The worker an item goes to: the uid's owner, or for a broadcast (one item
 * per worker) the item's index; IPC_WORKERS_MAX when there is no such worker. */
static unsigned api_owner(const struct api_daemon *d, const struct api_kind *k,
			  const struct api_item *items, size_t i)
{
	if (k->type == IPC_T_BROADCAST)
		return i < d->nworkers ? (unsigned)i : IPC_WORKERS_MAX;
	return req_uid_shard(items[i].it.uid, items[i].it.uid_len, d->nworkers);
}

/* An item's share of a datagram: its size beyond an empty datagram's header;
 * in a shared multicast the message travels with the first item only. */
static size_t api_share(const struct api_kind *k, const struct ipc_push_item *it, int first)
{
	if ((k->hflags & IPC_H_SHARED) && !first)
		return IPC_PUSH_ITEM_HDR + it->uid_len;
	return ipc_push_size(it, 1) - IPC_HDR_LEN;
}

/* Groups the unsent items by worker (array order kept within one, so per-uid
 * numbers follow it) into as few datagrams as fit. Returns their count. */
static size_t api_plan(const struct api_daemon *d, const struct api_kind *kind,
		       const struct api_item *items, size_t n, size_t *order, struct api_dgram *dg)
{
	static unsigned char owner[IPC_MAX_ITEMS]; /* each item's worker, hashed once */
	size_t k = 0, ndg = 0;

	for (size_t i = 0; i < n; i++)
		owner[i] = (unsigned char)api_owner(d, kind, items, i);
	for (unsigned w = 0; w < d->nworkers; w++) {
		size_t start = k;

		for (size_t i = 0; i < n; i++)
			if (items[i].http == 0 && owner[i] == w)
				order[k++] = i;
		while (start < k) {
			size_t end = start + 1;
			size_t size = IPC_HDR_LEN + api_share(kind, &items[order[start]].it, 1);

			while (end < k && end - start < IPC_MAX_ITEMS && size <= IPC_MAX_DATAGRAM) {
				size_t share = api_share(kind, &items[order[end]].it, 0);

				if (share > IPC_MAX_DATAGRAM - size)
					break;
				size += share;
				end++;
			}
			dg[ndg++] = (struct api_dgram){ .worker = w, .start = start, .end = end };
			start = end;
		}
	}
	return ndg;
}

/* Sends one datagram; wait 0: a full queue is left for a second pass (1). */
static int api_send(struct api_daemon *d, const struct api_kind *kind, struct api_item *items,
		    const size_t *order, struct api_dgram *g, long deadline, int wait)
{
	struct ipc_hdr h = { .req_id = d->next_req_id++, .flags = kind->hflags,
			     .generation = d->cfg.generation };
	size_t cnt = g->end - g->start, len;
	enum ipc_call_rc rc;

	for (size_t k = 0; k < cnt; k++) {
		d->scratch_items[k] = items[order[g->start + k]].it;
		items[order[g->start + k]].worker = g->worker;
	}
	len = ipc_encode_request(d->tx, IPC_MAX_DATAGRAM, kind->type, &h, d->scratch_items, cnt);
	if (len == 0) {
		api_fail(items, order, g->start, g->end, 413, "message is too large once encoded");
		return 0;
	}
	rc = ipc_client_send(&d->ipc[g->worker], d->tx, len, wait ? deadline : ipc_clock_ms() - 1);
	if (rc == IPC_CALL_OK) {
		g->id = h.req_id;
		g->open = 1;
	} else if (rc == IPC_CALL_BUSY && !wait) {
		return 1;
	} else {
		log_warn("push to ws-daemon worker %u failed: %s", g->worker, ipc_call_rc_str(rc));
		api_fail(items, order, g->start, g->end, rc == IPC_CALL_TOO_BIG ? 413 : 503,
			 ipc_call_rc_str(rc));
	}
	return 0;
}

/* A reply for datagram g: its results go to g's items. */
static void api_take(struct api_daemon *d, struct api_item *items, const size_t *order,
		     struct api_dgram *g, size_t rlen)
{
	size_t cnt = g->end - g->start;
	struct ipc_hdr h;

	g->open = 0;
	if (ipc_decode_hdr(d->rx, rlen, &h) == IPC_OK && h.type == IPC_T_ERROR_REPLY) {
		api_fail(items, order, g->start, g->end, 503, "push daemon could not read the request");
		return;
	}
	if (ipc_decode_push_reply(d->rx, rlen, &h, d->scratch_res, cnt) != IPC_OK ||
	    h.count != cnt) {
		log_err("ws-daemon sent a reply we cannot read");
		api_fail(items, order, g->start, g->end, 503, "push daemon gave an unreadable answer");
		return;
	}
	for (size_t k = 0; k < cnt; k++) {
		items[order[g->start + k]].res = d->scratch_res[k];
		items[order[g->start + k]].http = 200;
	}
	api_note(d, &h, g->worker);
}

/*
 * ws-daemon drops a push that waited push_timeout_ms in its socket; the grace
 * lets an answer given just before that still reach us, so a 503 for a timeout
 * means "not delivered". A datagram with an item that asked for an
 * acknowledgement may be answered IPC_ACK_WAIT_MS later still.
 */
static long api_reply_deadline(const struct api_daemon *d, const struct api_item *items,
			       const size_t *order, const struct api_dgram *g, long now)
{
	long until = now + d->cfg.push_timeout_ms + API_REPLY_GRACE_MS;

	for (size_t k = g->start; k < g->end; k++)
		if (items[order[k]].it.flags & IPC_F_ACK)
			return until + IPC_ACK_WAIT_MS(d->cfg.push_timeout_ms);
	return until;
}

/* Worker w's replies until each of its datagrams has one or the last of their
 * deadlines passed. The others' replies wait in their own sockets meanwhile. */
static void api_collect(struct api_daemon *d, struct api_item *items, const size_t *order,
			struct api_dgram *dg, size_t ndg, unsigned w)
{
	for (;;) {
		size_t open = 0, rlen = 0;
		long until = 0;
		enum ipc_call_rc rc;
		struct ipc_hdr h;

		for (size_t j = 0; j < ndg; j++) {
			if (dg[j].worker != w || !dg[j].open)
				continue;
			open++;
			if (dg[j].until > until) /* deadlines are > 0: the clock plus a timeout */
				until = dg[j].until;
		}
		if (open == 0)
			return;
		rc = ipc_client_recv(&d->ipc[w], d->rx, IPC_MAX_DATAGRAM, &rlen, until);
		if (rc != IPC_CALL_OK) {
			log_warn("ws-daemon worker %u: %s", w, ipc_call_rc_str(rc));
			for (size_t j = 0; j < ndg; j++)
				if (dg[j].worker == w && dg[j].open) {
					dg[j].open = 0;
					api_fail(items, order, dg[j].start, dg[j].end, 503,
						 ipc_call_rc_str(rc));
				}
			return;
		}
		if (ipc_decode_hdr(d->rx, rlen, &h) != IPC_OK)
			continue;
		for (size_t j = 0; j < ndg; j++)
			if (dg[j].worker == w && dg[j].open && dg[j].id == h.req_id)
				api_take(d, items, order, &dg[j], rlen);
	}
}

static void api_exchange(struct api_daemon *d, const struct api_kind *kind,
			 struct api_item *items, size_t n, size_t *order, struct api_dgram *dg)
{
	/* Room in a full queue is waited for no longer than a push's own bound. */
	long now = ipc_clock_ms(), deadline = now + d->cfg.push_timeout_ms + API_REPLY_GRACE_MS;
	size_t ndg = api_plan(d, kind, items, n, order, dg);
	int again = 0;

	for (size_t j = 0; j < ndg; j++) {
		dg[j].until = api_reply_deadline(d, items, order, &dg[j], now);
		again |= dg[j].busy_retry = api_send(d, kind, items, order, &dg[j], deadline, 0);
	}
	for (size_t j = 0; again && j < ndg; j++)
		if (dg[j].busy_retry)
			(void)api_send(d, kind, items, order, &dg[j], deadline, 1);
	for (unsigned w = 0; w < d->nworkers; w++)
		api_collect(d, items, order, dg, ndg, w);
}

/* The daemon answered but its engine (Redis) could not act: answered as an
 * unavailable daemon is, 503, with the reason. */
static void api_engine_failed(struct api_item *it)
{
	if (it->http != 200)
		return;
	if (it->res.status == IPC_S_UNAVAILABLE) {
		it->http = 503;
		it->why = "message engine unavailable: the uid's Redis server cannot be reached; nothing was delivered";
	} else if (it->res.status == IPC_S_LATE) {
		it->http = 503;
		it->why = "message engine too slow: Redis did not answer in time; the message may still be delivered";
	}
}

void api_daemon_request(struct api_daemon *d, const struct api_kind *kind,
			struct api_item *items, size_t n)
{
	size_t *order = malloc(n * sizeof *order);
	struct api_dgram *dg = malloc(n * sizeof *dg);
	int wrong = 0;

	if (!order || !dg) {
		for (size_t i = 0; i < n; i++)
			if (items[i].http == 0)
				items[i] = (struct api_item){ .it = items[i].it, .http = 500,
							      .why = "out of memory" };
	} else {
		if (d->nworkers > 0)
			api_exchange(d, kind, items, n, order, dg);
		for (size_t i = 0; i < n; i++) {
			if (items[i].http == 0) { /* no worker known */
				items[i].http = 503;
				items[i].why = d->down_why;
			}
			wrong |= items[i].http == 200 && items[i].res.status == IPC_S_WRONG_WORKER;
			api_engine_failed(&items[i]);
		}
		api_settle(d, wrong);
	}
	free(order);
	free(dg);
}

/* Worker w's answer to STATS request id, until deadline. */
static int api_stats_of(struct api_daemon *d, unsigned w, uint32_t id, long deadline,
			uint64_t v[IPC_STATS_N])
{
	struct ipc_hdr h;
	size_t rlen = 0;

	while (ipc_client_recv(&d->ipc[w], d->rx, IPC_MAX_DATAGRAM, &rlen, deadline) ==
	       IPC_CALL_OK) {
		if (ipc_decode_hdr(d->rx, rlen, &h) != IPC_OK || h.req_id != id)
			continue; /* a late answer to an earlier request */
		if (ipc_decode_stats_reply(d->rx, rlen, &h, v) != IPC_OK)
			return 0;
		api_note(d, &h, w);
		return 1;
	}
	return 0;
}

unsigned api_daemon_stats(struct api_daemon *d, uint64_t (*v)[IPC_STATS_N], unsigned char *up)
{
	uint32_t ids[IPC_WORKERS_MAX];
	unsigned n;
	long deadline;

	api_daemon_flush(d); /* the counts then include what we could not tell before */
	n = d->nworkers;
	deadline = ipc_clock_ms() + d->cfg.push_timeout_ms;
	for (unsigned w = 0; w < n; w++) {
		struct ipc_hdr h = { .req_id = d->next_req_id++, .generation = d->cfg.generation };
		uint8_t req[IPC_HDR_LEN];

		ids[w] = h.req_id;
		/* No waiting for room: a stopped worker's full queue is a "down". */
		up[w] = ipc_client_send(&d->ipc[w], req,
					ipc_encode_bare(req, sizeof req, IPC_T_STATS, &h),
					ipc_clock_ms() - 1) == IPC_CALL_OK;
	}
	for (unsigned w = 0; w < n; w++)
		up[w] = up[w] && api_stats_of(d, w, ids[w], deadline, v[w]);
	api_settle(d, 0);
	return n;
}

void api_daemon_refused(struct api_daemon *d, enum ipc_refusal why)
{
	/* Told with the next flush (push-api flushes after every request). */
	if (d->unreported[why] < UINT32_MAX)
		d->unreported[why]++;
}

void api_daemon_flush(struct api_daemon *d)
{
	struct ipc_hdr h = { .req_id = d->next_req_id, .generation = d->cfg.generation };
	uint8_t msg[IPC_HDR_LEN + IPC_R_COUNT * IPC_REPORT_ITEM_LEN];
	uint32_t any = 0;
	size_t len;

	for (size_t i = 0; i < IPC_R_COUNT; i++)
		any |= d->unreported[i];
	if (!any || d->nworkers == 0)
		return;
	len = ipc_encode_report(msg, sizeof msg, &h, d->unreported);
	/* The daemon's metrics are the sum over workers: any one may count them. */
	for (unsigned w = 0; len && w < d->nworkers; w++) {
		if (ipc_client_notify(&d->ipc[w], msg, len) == 0) {
			memset(d->unreported, 0, sizeof d->unreported);
			return;
		}
	}
}
