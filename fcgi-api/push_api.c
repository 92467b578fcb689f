/* SPDX-License-Identifier: MIT */
/* push-api: the persistent FastCGI responder for /access, /push, /metrics, /health
 * and the control API (/presence, /kick, /multicast, /broadcast). One program
 * routes on REQUEST_URI so one process pool and one daemon view serve all.
 * With the demo on (api_demo_enabled) it also answers /demo/api/key and
 * /demo/api/push, the demo page's backend, which need no password. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "akey.h"
#include "api_daemon.h"
#include "api_http.h"
#include "api_metrics.h"
#include "api_pool.h"
#include "cfg.h"
#include "ipc.h"
#include "log.h"
#include "req.h"
#include "version.h"

#ifndef PUSH_LIBFCGI_VERSION /* the Makefile passes it */
#define PUSH_LIBFCGI_VERSION "unknown"
#endif
#include "wmsg.h"

#define API_MAX_SECRET 1024 /* longest password accepted from a client */
#define API_REASON_MAX 256  /* a body refused by a wmsg parser: jansson's text and position fit */
/* After a 429 for too many pushes waiting for acknowledgements: each waits at
 * most its timeout, and most are answered far sooner; a second is a fair pause. */
#define API_BUSY_RETRY_S 1

/* What a /push answer says about a message (the seed's words where it had them). */
#define API_SENT "推送成功"
#define API_STORED "用户不在线，消息已保存"
#define API_OFFLINE "此用户不在线"
#define API_BUSY "too many pushes are waiting for an acknowledgement"
#define API_REFUSED "the push daemon refused the message"
#define API_UNAUTHORIZED "wrong or missing password"
#define API_REVOKE_FULL "the push daemon holds as many revocations as it can; nothing was done"

struct api {
	struct api_daemon d;         /* its cfg is the configuration we run */
	/* Sized for the largest values a configuration may set, so an adopted
	 * configuration never needs them to grow. */
	char body[CFG_MESSAGE_MAX + 1];
	char uid[REQ_UID_MAX + 1];
	int demo;                    /* /demo/api/ is served (decided once, at start) */
};

static volatile sig_atomic_t api_stop;

static void api_on_signal(int sig)
{
	(void)sig;
	api_stop = 1;
	FCGX_ShutdownPending();
}

static int api_digest(const char *s, size_t n, unsigned char out[32])
{
	unsigned int len = 0;

	return EVP_Digest(s, n, out, &len, EVP_sha256(), NULL) == 1 && len == 32 ? 0 : -1;
}

/* Fixed-length compare of digests: the time taken says nothing about the password. */
static int api_password_ok(const struct api *a, const char *pw, size_t n)
{
	unsigned char d1[sizeof a->d.pw_digest];

	/* An all-zero digest (adoption could not digest) matches no password. */
	return n > 0 && api_digest(pw, n, d1) == 0 &&
	       CRYPTO_memcmp(d1, a->d.pw_digest, sizeof d1) == 0;
}

/* The password may come as ?password= (the seed's clients) or as a Bearer token. */
static int api_password_matches(const struct api *a, FCGX_Request *r)
{
	const char *qs = api_param(r, "QUERY_STRING");
	const char *tok = api_bearer_token(api_param(r, "HTTP_AUTHORIZATION"));
	char pw[API_MAX_SECRET + 1];
	size_t n;
	int ok;

	if (tok) {
		n = strlen(tok);
		if (n > API_MAX_SECRET)
			return 0;
		memcpy(pw, tok, n + 1);
	} else if (req_query_get(qs, strlen(qs), "password", pw, sizeof pw, &n) != REQ_OK) {
		return 0;
	}
	ok = api_password_ok(a, pw, n);
	OPENSSL_cleanse(pw, sizeof pw);
	return ok;
}

/* A refused password is checked once more if the daemon's configuration has
 * just changed (a reload this process has not heard of yet). */
static int api_authorized(struct api *a, FCGX_Request *r)
{
	if (api_password_matches(a, r))
		return 1;
	return api_daemon_recheck(&a->d) && api_password_matches(a, r);
}

/* Counts a refusal in ws-daemon's metrics (kept while it cannot be told). */
static void api_report(struct api *a, int status)
{
	switch (status) {
	case 400: api_daemon_refused(&a->d, IPC_R_BAD_REQUEST); break;
	case 401: api_daemon_refused(&a->d, IPC_R_UNAUTHORIZED); break;
	case 405: api_daemon_refused(&a->d, IPC_R_METHOD); break;
	case 413: api_daemon_refused(&a->d, IPC_R_TOO_LARGE); break;
	case 415: api_daemon_refused(&a->d, IPC_R_MEDIA_TYPE); break;
	case 503: api_daemon_refused(&a->d, IPC_R_DAEMON); break;
	default: break;
	}
}

/* Every refusal a client caused is logged at info with its address, at most
 * LOG_RATE_PER_SECOND a second so a flood cannot fill the disk. */
static void api_refuse(struct api *a, FCGX_Request *r, int status, const char *reason)
{
	const char *uri = api_param(r, "REQUEST_URI");

	/* The path only: the query may hold the password. */
	LOG_LIMITED(LOG_LVL_INFO, "%d for %s %.*s from %s: %s", status,
		    api_param(r, "REQUEST_METHOD"), (int)strcspn(uri, "?"), uri,
		    api_param(r, "REMOTE_ADDR"), reason);
	api_report(a, status);
	api_error(r, status, reason);
}

/* Reads and checks ?uid=; answers 400 itself and returns -1 on a bad one. */
static int api_get_uid(struct api *a, FCGX_Request *r, size_t *len)
{
	const char *qs = api_param(r, "QUERY_STRING");
	size_t cap = (size_t)a->d.cfg.max_uid_bytes + 1;
	enum req_rc rc = req_query_get(qs, strlen(qs), "uid", a->uid, cap, len);
	const char *why;

	switch (rc) {
	case REQ_OK:
		break;
	case REQ_ABSENT:
		api_refuse(a, r, 400, "uid is missing");
		return -1;
	case REQ_TOO_LONG:
		api_refuse(a, r, 400, "uid is too long");
		return -1;
	case REQ_BAD_ENCODING:
		api_refuse(a, r, 400, "uid is badly encoded");
		return -1;
	}
	why = req_uid_problem(a->uid, *len, (size_t)a->d.cfg.max_uid_bytes);
	if (why) {
		api_refuse(a, r, 400, why);
		return -1;
	}
	return 0;
}

/* 1 when the request's method is one of `allow` ("GET, HEAD"); otherwise answers
 * 405 with that Allow header, counts it, and returns 0. */
static int api_method_ok(struct api *a, FCGX_Request *r, const char *allow)
{
	const char *m = api_param(r, "REQUEST_METHOD"), *p = allow;
	size_t ml = strlen(m);

	while (ml > 0 && (p = strstr(p, m)) != NULL) {
		if ((p == allow || p[-1] == ' ') && (p[ml] == ',' || p[ml] == '\0'))
			return 1;
		p += ml;
	}
	api_report(a, 405);
	api_error_method(r, allow);
	return 0;
}

/* Method and (unless the demo backend asks) password, the first checks of every
 * request but /health; answers the error itself and returns -1. */
static int api_gate_as(struct api *a, FCGX_Request *r, const char *allow, int password)
{
	if (!api_method_ok(a, r, allow))
		return -1;
	if (password && !api_authorized(a, r)) {
		api_refuse(a, r, 401, API_UNAUTHORIZED);
		return -1;
	}
	return 0;
}

static int api_gate(struct api *a, FCGX_Request *r, const char *allow)
{
	return api_gate_as(a, r, allow, 1);
}

/* 200 with body (malloc'd, freed here), or 500 when it could not be made. */
static void api_answer(FCGX_Request *r, char *body, size_t len)
{
	if (body)
		api_respond(r, 200, NULL, body, len);
	else
		api_error(r, 500, "out of memory");
	free(body);
}

/* Every worker's counters from the last scrape (/metrics, /health, /presence). */
static uint64_t api_stats[IPC_WORKERS_MAX][IPC_STATS_N];

/* Asks every worker for its counters (into api_stats); returns how many
 * answered, *n how many there are (0: the daemon is not known). */
static unsigned api_workers_up(struct api *a, unsigned char *up, unsigned *n)
{
	unsigned got = 0;

	*n = api_daemon_stats(&a->d, api_stats, up);
	for (unsigned i = 0; i < *n; i++)
		got += up[i];
	return got;
}

/* GET /access (password required) and, with the demo on, GET /demo/api/key
 * (none: the demo page's backend). */
static void api_access_as(struct api *a, FCGX_Request *r, int need_password)
{
	char key[AKEY_MAX_LEN], *body;
	size_t uid_len, klen, blen = 0;

	if (api_gate_as(a, r, "GET, HEAD", need_password) != 0 ||
	    api_get_uid(a, r, &uid_len) != 0)
		return;
	klen = akey_issue(a->d.cfg.secret, a->uid, uid_len, time(NULL), a->d.cfg.access_key_ttl,
			  key, sizeof key);
	body = klen ? wmsg_reply("_access", 1, key, &blen) : NULL;
	if (!body) {
		api_error(r, 500, "cannot issue an access key");
		return;
	}
	api_respond(r, 200, NULL, body, blen);
	free(body);
}

/* What the query and the body's length say about a /push request. */
struct api_push_req {
	size_t uid_len;  /* ?uid= (in a->uid) */
	size_t blen;     /* the body (in a->body) */
	int batch;       /* no ?uid=: the body is an array of messages with their uids */
	int ack;         /* ?ack=1: every message waits for an acknowledgement */
	int demo;        /* /demo/api/push: no password, one message for ?uid= only */
};

/* Reads ?<name>= as a boolean (1 or true, 0 or false, absent = 0); answers 400
 * itself and returns -1 on another value. */
static int api_get_bool(struct api *a, FCGX_Request *r, const char *name, int *on)
{
	const char *qs = api_param(r, "QUERY_STRING");
	char v[8], why[64];
	size_t n;
	enum req_rc rc = req_query_get(qs, strlen(qs), name, v, sizeof v, &n);

	*on = 0;
	if (rc == REQ_ABSENT)
		return 0;
	if (rc == REQ_OK && (strcmp(v, "1") == 0 || strcmp(v, "true") == 0)) {
		*on = 1;
		return 0;
	}
	if (rc == REQ_OK && (strcmp(v, "0") == 0 || strcmp(v, "false") == 0))
		return 0;
	(void)snprintf(why, sizeof why, "%s must be 0 or 1", name);
	api_refuse(a, r, 400, why);
	return -1;
}

/* 1 when the query has the parameter, whatever its value. */
static int api_has_query(FCGX_Request *r, const char *name)
{
	const char *qs = api_param(r, "QUERY_STRING");
	char probe[1];
	size_t plen;

	return req_query_get(qs, strlen(qs), name, probe, sizeof probe, &plen) != REQ_ABSENT;
}

/* Reads the body into a->body, *blen its length; answers the error itself
 * (400 incomplete, 413 over max_message_bytes) and returns -1. */
static int api_body(struct api *a, FCGX_Request *r, size_t *blen)
{
	switch (api_read_body(r, a->body, (size_t)a->d.cfg.max_message_bytes, blen)) {
	case API_BODY_OK:
		return 0;
	case API_BODY_TOO_LARGE:
		api_refuse(a, r, 413, "message body is larger than max_message_bytes");
		return -1;
	case API_BODY_BAD_LENGTH:
	case API_BODY_SHORT:
		break;
	}
	api_refuse(a, r, 400, "message body is incomplete");
	return -1;
}

/* A JSON body: 415 for another Content-Type, then api_body. */
static int api_json_body(struct api *a, FCGX_Request *r, size_t *blen)
{
	if (!api_is_json_type(api_param(r, "CONTENT_TYPE"))) {
		api_refuse(a, r, 415, "Content-Type must be application/json");
		return -1;
	}
	return api_body(a, r, blen);
}

/* Checks method, password, uid (absent: a batch), ack, type and size, and reads
 * the body into a->body; answers the error itself and returns -1. */
static int api_push_read(struct api *a, FCGX_Request *r, struct api_push_req *q)
{
	if (api_gate_as(a, r, "POST", !q->demo) != 0)
		return -1;
	/* No uid in the query: the body carries one per message (not for the demo). */
	q->batch = !q->demo && !api_has_query(r, "uid");
	if (!q->batch && api_get_uid(a, r, &q->uid_len) != 0)
		return -1;
	if (api_get_bool(a, r, "ack", &q->ack) != 0)
		return -1;
	return api_json_body(a, r, &q->blen);
}

static int api_resend(const struct api_item *it)
{
	return it->http == 200 &&
	       (it->res.status == IPC_S_STALE || it->res.status == IPC_S_WRONG_WORKER);
}

/*
 * Hands items[0..n) to the daemon. A worker that refused some as sent under
 * another configuration or to the wrong worker taught us its configuration or
 * count (api_daemon_request re-learned it): the password is checked again under
 * the configuration now running, then those items go out once more.
 */
static void api_deliver(struct api *a, FCGX_Request *r, const struct api_kind *kind,
			struct api_item *items, size_t n)
{
	size_t again = 0;
	int ok;

	api_daemon_request(&a->d, kind, items, n);
	for (size_t i = 0; i < n; i++)
		again += api_resend(&items[i]);
	if (again == 0)
		return;
	ok = a->demo && api_is_demo_path(api_param(r, "REQUEST_URI")) ? 1
									: api_password_matches(a, r);
	for (size_t i = 0; i < n; i++) {
		if (!api_resend(&items[i]))
			continue;
		items[i].http = ok ? 0 : 401;
		items[i].why = ok ? NULL : API_UNAUTHORIZED;
	}
	if (!ok)
		return;
	api_daemon_request(&a->d, kind, items, n);
	for (size_t i = 0; i < n; i++) {
		if (api_resend(&items[i])) {
			items[i].http = 503;
			items[i].why = "push daemon is changing its configuration";
		}
	}
}

static int api_asked_ack(const struct api_item *it)
{
	return (it->it.flags & IPC_F_ACK) != 0;
}

/* The body for a message delivered or stored: the seed's answer, with the
 * message's number ("seq") when it was stored or an acknowledgement was asked
 * for. NULL when out of memory. */
static char *api_push_body(const struct api_item *it, size_t *len)
{
	const struct ipc_result *res = &it->res;

	if (res->status == IPC_S_STORED)
		return wmsg_reply_seq("stored", 0, API_STORED, res->number, -1, len);
	if (!api_asked_ack(it))
		return wmsg_reply("success", (long long)res->delivered, API_SENT, len);
	return wmsg_reply_seq("success", (long long)res->delivered, API_SENT, res->number,
			      res->acked != 0, len);
}

static void api_push_answer(struct api *a, FCGX_Request *r, const struct api_item *it)
{
	int stored = it->res.status == IPC_S_STORED;
	char *body;
	size_t blen = 0;

	if (it->http != 200) {
		if (it->http == 503)
			log_warn("push to ws-daemon failed: %s", it->why);
		api_refuse(a, r, it->http, it->why);
		return;
	}
	if (it->res.status == IPC_S_OFFLINE ||
	    (it->res.status == IPC_S_DELIVERED && it->res.delivered == 0)) {
		LOG_LIMITED(LOG_LVL_INFO, "push to uid=%s: offline", a->uid);
		api_error(r, 404, API_OFFLINE);
		return;
	}
	if (it->res.status == IPC_S_BUSY) {
		/* ack_waiters_max is reached: worth an operator's look, not a flood. */
		LOG_LIMITED(LOG_LVL_INFO, "push to uid=%s: %s", a->uid, API_BUSY);
		api_error_retry(r, 429, API_BUSY_RETRY_S, API_BUSY);
		return;
	}
	if (it->res.status != IPC_S_DELIVERED && !stored) {
		api_error(r, 400, API_REFUSED);
		return;
	}
	body = api_push_body(it, &blen);
	if (!body) {
		api_error(r, 500, "out of memory");
		return;
	}
	api_respond(r, stored ? 202 : 200, NULL, body, blen);
	free(body);
}

/* The IPC flags of a message: the query's ack applies to every one. */
static uint16_t api_flags(int query_ack, int msg_ack)
{
	return query_ack || msg_ack ? IPC_F_ACK : 0;
}

static const struct api_kind api_push_kind = { IPC_T_PUSH, 0 };

static void api_push_one(struct api *a, FCGX_Request *r, const struct api_push_req *q)
{
	struct wmsg_push msg;
	struct api_item it;
	char reason[API_REASON_MAX];

	if (wmsg_parse_push(a->body, q->blen, &msg, reason, sizeof reason) != 0) {
		api_refuse(a, r, 400, reason);
		return;
	}
	memset(&it, 0, sizeof it);
	it.it = (struct ipc_push_item){ .uid = a->uid, .uid_len = q->uid_len,
					.flags = api_flags(q->ack, msg.ack),
					.topic = msg.topic_json, .topic_len = msg.topic_len,
					.contents = msg.contents_json,
					.contents_len = msg.contents_len };
	api_deliver(a, r, &api_push_kind, &it, 1);
	api_push_answer(a, r, &it);
	wmsg_push_free(&msg);
}

/* What a batch item's answer says, as the single push's would. */
static void api_batch_item(const struct api_item *it, struct wmsg_batch_result *out)
{
	out->ack = api_asked_ack(it);
	out->seq = it->res.number;
	out->acked = it->res.acked != 0;
	if (it->http != 200) {
		out->contents = it->why;
		out->status = it->http; /* not delivered: e.g. 503, safe to send again */
		return;
	}
	out->contents = API_OFFLINE; /* also what a DELIVERED to no connection says */
	switch (it->res.status) {
	case IPC_S_DELIVERED:
		if (it->res.delivered > 0) {
			out->outcome = WMSG_DELIVERED;
			out->number = it->res.delivered;
			out->contents = API_SENT;
		}
		break;
	case IPC_S_STORED:
		out->outcome = WMSG_STORED;
		out->contents = API_STORED;
		break;
	case IPC_S_BUSY:
		out->contents = API_BUSY;
		out->status = 429; /* not delivered: safe to send again */
		break;
	case IPC_S_REFUSED:
		out->contents = API_REFUSED;
		break;
	default:
		break;
	}
}

/* Every item in order: what reached someone, what did not and why. A request
 * whose password the daemon's new configuration refuses, before anything was
 * delivered, is a 401 as a whole. */
static void api_batch_answer(struct api *a, FCGX_Request *r, const struct wmsg_batch *b,
			     const struct api_item *items, const size_t *map, size_t n)
{
	struct wmsg_batch_result *out = calloc(b->n, sizeof *out);
	int unauth = 0, reached = 0, unavailable = 0;
	size_t len = 0;
	char *text;

	for (size_t k = 0; out && k < b->n; k++)
		out[k].contents = b->items[k].error;
	for (size_t i = 0; out && i < n; i++) {
		api_batch_item(&items[i], &out[map[i]]);
		unauth |= items[i].http == 401;
		reached |= items[i].http == 200;
		unavailable |= items[i].http == 503;
	}
	if (out && unauth && !reached) {
		api_refuse(a, r, 401, API_UNAUTHORIZED);
	} else {
		text = out ? wmsg_batch_reply(b, out, &len) : NULL;
		api_answer(r, text, len);
		if (unavailable)
			api_report(a, 503); /* a request that met an unavailable daemon */
	}
	free(out);
}

/* The batch's valid messages as items; map[i] is item i's index in the batch. */
static size_t api_batch_items(const struct wmsg_batch *b, int query_ack, struct api_item *items,
			      size_t *map)
{
	size_t n = 0;

	for (size_t k = 0; k < b->n; k++) {
		const struct wmsg_batch_item *bi = &b->items[k];

		if (bi->error)
			continue;
		memset(&items[n], 0, sizeof items[n]);
		items[n].it = (struct ipc_push_item){ .uid = bi->uid, .uid_len = bi->uid_len,
						      .flags = api_flags(query_ack, bi->ack),
						      .topic = bi->topic_json,
						      .topic_len = bi->topic_len,
						      .contents = bi->contents_json,
						      .contents_len = bi->contents_len };
		map[n++] = k;
	}
	return n;
}

/* Sends a parsed batch (or multicast) and answers it item by item. */
static void api_batch_send(struct api *a, FCGX_Request *r, const struct api_kind *kind,
			   const struct wmsg_batch *b, int query_ack)
{
	struct api_item *items = calloc(b->n, sizeof *items);
	size_t *map = calloc(b->n, sizeof *map), n;

	if (!items || !map) {
		api_error(r, 500, "out of memory");
	} else {
		n = api_batch_items(b, query_ack, items, map);
		if (n > 0)
			api_deliver(a, r, kind, items, n);
		api_batch_answer(a, r, b, items, map, n);
	}
	free(items);
	free(map);
}

static void api_push_batch(struct api *a, FCGX_Request *r, const struct api_push_req *q)
{
	size_t blen = q->blen, sp = 0;
	struct wmsg_batch b;
	char reason[API_REASON_MAX];

	while (sp < blen && strchr(" \t\r\n", a->body[sp]))
		sp++;
	/* The seed's single form without ?uid=: say what is missing, not "array". */
	if (sp == blen || a->body[sp] != '[') {
		api_refuse(a, r, 400, "uid is missing");
		return;
	}
	if (wmsg_parse_batch(a->body, blen, IPC_MAX_ITEMS, (size_t)a->d.cfg.max_uid_bytes, &b,
			     reason, sizeof reason) != 0)
		api_refuse(a, r, 400, reason);
	else
		api_batch_send(a, r, &api_push_kind, &b, q->ack);
	wmsg_batch_free(&b);
}

static void api_push_as(struct api *a, FCGX_Request *r, int demo)
{
	struct api_push_req q = { .demo = demo };

	if (api_push_read(a, r, &q) != 0)
		return;
	if (q.batch)
		api_push_batch(a, r, &q);
	else
		api_push_one(a, r, &q);
}

static void api_push(struct api *a, FCGX_Request *r)
{
	api_push_as(a, r, 0);
}

/* ---- The control API: presence, kick, multicast, broadcast ---------------- */

/* An item naming a uid only (presence, kick). Empty strings, not NULL: the
 * encoder copies topic and contents with memcpy, which wants real pointers. */
static void api_item_uid(struct api_item *it, const char *uid, size_t len, uint16_t flags)
{
	memset(it, 0, sizeof *it);
	it->it = (struct ipc_push_item){ .uid = uid, .uid_len = len, .flags = flags,
					 .topic = "", .contents = "" };
}

/* A worker's answer about a uid we can give: its connections (or connections
 * closed), none when it has none or the daemon refused the uid. */
static int api_item_known(const struct api_item *it)
{
	return it->http == 200 &&
	       (it->res.status == IPC_S_DELIVERED || it->res.status == IPC_S_OFFLINE ||
		it->res.status == IPC_S_REFUSED);
}

static uint64_t api_item_count(const struct api_item *it)
{
	return it->res.status == IPC_S_DELIVERED ? it->res.delivered : 0;
}

/* A one-uid request (GET /presence?uid=, /kick) without an answer to give:
 * answers the error as /push would (503: nothing was done, safe to send again)
 * and returns 1. */
static int api_one_failed(struct api *a, FCGX_Request *r, const struct api_item *it)
{
	if (it->http != 200) {
		if (it->http == 503)
			log_warn("request to ws-daemon failed: %s", it->why);
		api_refuse(a, r, it->http, it->why);
		return 1;
	}
	if (it->res.status == IPC_S_BUSY) {
		log_warn("uid=%s: %s", a->uid, API_REVOKE_FULL);
		api_refuse(a, r, 503, API_REVOKE_FULL);
		return 1;
	}
	if (it->res.status == IPC_S_REFUSED) {
		api_error(r, 400, "the push daemon refused the uid");
		return 1;
	}
	return 0;
}

/* The workers flagged in gone[], in index order, as wmsg marks a partial answer. */
static struct wmsg_missing api_missing(const unsigned char *gone, unsigned *list)
{
	struct wmsg_missing m = { list, 0 };

	for (unsigned w = 0; w < IPC_WORKERS_MAX; w++)
		if (gone[w])
			list[m.n++] = w;
	return m;
}

/* GET /presence?uid=U: the connections of one uid, from the worker owning it. */
static void api_presence_one(struct api *a, FCGX_Request *r)
{
	static const struct api_kind kind = { IPC_T_PRESENCE, 0 };
	struct api_item it;
	size_t uid_len, len = 0;
	char *body;

	if (api_get_uid(a, r, &uid_len) != 0)
		return;
	api_item_uid(&it, a->uid, uid_len, 0);
	api_deliver(a, r, &kind, &it, 1);
	if (api_one_failed(a, r, &it))
		return;
	body = wmsg_presence_one(a->uid, uid_len, api_item_count(&it), &len);
	api_answer(r, body, len);
}

/* GET /presence: connections and uids online, summed over the workers that
 * answered; a partial answer names the others, 503 when none answered. */
static void api_presence_totals(struct api *a, FCGX_Request *r)
{
	unsigned char up[IPC_WORKERS_MAX] = { 0 }, gone[IPC_WORKERS_MAX] = { 0 };
	struct wmsg_count c[2] = { { "connections", 0 }, { "uids", 0 } };
	unsigned list[IPC_WORKERS_MAX], n;
	struct wmsg_missing m;
	size_t len = 0;
	char *body;

	if (api_workers_up(a, up, &n) == 0) {
		api_refuse(a, r, 503, n ? "no push daemon worker answered in time" : a->d.down_why);
		return;
	}
	for (unsigned w = 0; w < n; w++) {
		gone[w] = !up[w];
		c[0].value += up[w] ? api_stats[w][IPC_ST_CONNECTIONS] : 0;
		c[1].value += up[w] ? api_stats[w][IPC_ST_UIDS_ONLINE] : 0;
	}
	m = api_missing(gone, list);
	if (m.n)
		api_report(a, 503); /* a request that met an unavailable worker */
	body = wmsg_counts_reply("presence", c[0].value, c, 2, &m, &len);
	api_answer(r, body, len);
}

/* Each uid's count, WMSG_UNKNOWN where its worker did not answer (flagged in
 * gone); returns how many are known. */
static size_t api_presence_counts(const struct api_item *items, size_t n, uint64_t *conns,
				  unsigned char *gone)
{
	size_t known = 0;

	for (size_t i = 0; i < n; i++) {
		if (api_item_known(&items[i])) {
			conns[i] = api_item_count(&items[i]);
			known++;
		} else {
			conns[i] = WMSG_UNKNOWN;
			gone[items[i].worker] = 1;
		}
	}
	return known;
}

/* The answer to POST /presence: 401 as a whole when the daemon's new
 * configuration refuses the password, 503 when no worker answered. */
static void api_presence_answer(struct api *a, FCGX_Request *r, const struct wmsg_batch *b,
				const struct api_item *items, uint64_t *conns)
{
	unsigned char gone[IPC_WORKERS_MAX] = { 0 };
	unsigned list[IPC_WORKERS_MAX];
	struct wmsg_missing m;
	size_t len = 0;
	char *body;

	for (size_t i = 0; i < b->n; i++) {
		if (items[i].http == 401) {
			api_refuse(a, r, 401, API_UNAUTHORIZED);
			return;
		}
	}
	if (api_presence_counts(items, b->n, conns, gone) == 0) {
		api_refuse(a, r, 503, items[0].why ? items[0].why : "push daemon gave no answer");
		return;
	}
	m = api_missing(gone, list);
	if (m.n)
		api_report(a, 503);
	body = wmsg_presence_many(b, conns, &m, &len);
	api_answer(r, body, len);
}

/* POST /presence with a JSON array of uids: each one's connections. */
static void api_presence_many(struct api *a, FCGX_Request *r)
{
	static const struct api_kind kind = { IPC_T_PRESENCE, 0 };
	struct api_item *items = NULL;
	uint64_t *conns = NULL;
	struct wmsg_batch b;
	size_t blen;
	char reason[API_REASON_MAX];

	if (api_has_query(r, "uid")) {
		api_refuse(a, r, 400, "POST /presence takes its uids in the body, not in the query");
		return;
	}
	if (api_json_body(a, r, &blen) != 0)
		return;
	if (wmsg_parse_uids(a->body, blen, IPC_MAX_ITEMS, (size_t)a->d.cfg.max_uid_bytes, &b,
			    reason, sizeof reason) != 0) {
		api_refuse(a, r, 400, reason);
		return;
	}
	items = calloc(b.n, sizeof *items);
	conns = calloc(b.n, sizeof *conns);
	if (items && conns) {
		for (size_t i = 0; i < b.n; i++)
			api_item_uid(&items[i], b.items[i].uid, b.items[i].uid_len, 0);
		api_deliver(a, r, &kind, items, b.n);
		api_presence_answer(a, r, &b, items, conns);
	} else {
		api_error(r, 500, "out of memory");
	}
	free(items);
	free(conns);
	wmsg_batch_free(&b);
}

/* /presence: GET for one uid (?uid=) or the totals, POST for a list of uids. */
static void api_presence(struct api *a, FCGX_Request *r)
{
	if (api_gate(a, r, "GET, POST") != 0)
		return;
	if (strcmp(api_param(r, "REQUEST_METHOD"), "POST") == 0)
		api_presence_many(a, r);
	else if (api_has_query(r, "uid"))
		api_presence_one(a, r);
	else
		api_presence_totals(a, r);
}

/* A request whose parameters are all in the query: a body sent anyway is
 * refused, so a client that put them there learns it. */
static int api_no_body(struct api *a, FCGX_Request *r, const char *why)
{
	size_t blen = 0;

	if (api_body(a, r, &blen) != 0)
		return -1;
	if (blen == 0)
		return 0;
	if (!api_is_json_type(api_param(r, "CONTENT_TYPE")))
		api_refuse(a, r, 415, "Content-Type must be application/json");
	else
		api_refuse(a, r, 400, why);
	return -1;
}

/* POST /kick?uid=U[&revoke=1]: closes every connection of the uid (close code
 * 4000, reason "kicked"); with revoke its keys issued until now are refused. */
static void api_kick(struct api *a, FCGX_Request *r)
{
	static const struct api_kind kind = { IPC_T_KICK, 0 };
	struct api_item it;
	size_t uid_len, len = 0;
	int revoke;
	char *body;

	if (api_gate(a, r, "POST") != 0 || api_get_uid(a, r, &uid_len) != 0 ||
	    api_get_bool(a, r, "revoke", &revoke) != 0 ||
	    api_no_body(a, r, "/kick takes no body: uid and revoke go in the query") != 0)
		return;
	api_item_uid(&it, a->uid, uid_len, revoke ? IPC_F_REVOKE : 0);
	api_deliver(a, r, &kind, &it, 1);
	if (api_one_failed(a, r, &it))
		return;
	body = wmsg_reply_flag("success", (long long)api_item_count(&it), "kicked",
			       revoke ? "revoked" : NULL, &len);
	api_answer(r, body, len);
}

/* POST /multicast {"uids":[...],"topic":..,"contents":..}: one message to each
 * uid, encoded once per datagram, answered item by item as a batch push. */
static void api_multicast(struct api *a, FCGX_Request *r)
{
	static const struct api_kind kind = { IPC_T_PUSH, IPC_H_SHARED };
	struct wmsg_batch b;
	size_t blen;
	char reason[API_REASON_MAX];

	if (api_gate(a, r, "POST") != 0 || api_json_body(a, r, &blen) != 0)
		return;
	if (wmsg_parse_multicast(a->body, blen, IPC_MAX_ITEMS, (size_t)a->d.cfg.max_uid_bytes, &b,
				 reason, sizeof reason) != 0)
		api_refuse(a, r, 400, reason);
	else
		api_batch_send(a, r, &kind, &b, 0);
	wmsg_batch_free(&b);
}

/* What the workers said about a broadcast: sums over those that delivered it,
 * the others flagged in gone. */
struct api_reach {
	struct wmsg_count c[2]; /* uids, connections */
	size_t delivered, refused;
	int unauth;
	unsigned char gone[IPC_WORKERS_MAX];
};

static void api_reach_add(struct api_reach *s, const struct api_item *it, unsigned w)
{
	if (it->http == 200 && it->res.status == IPC_S_DELIVERED) {
		s->c[0].value += it->res.number;
		s->c[1].value += it->res.delivered;
		s->delivered++;
		return;
	}
	s->gone[w] = 1;
	s->unauth |= it->http == 401;
	s->refused += it->http == 200 && it->res.status == IPC_S_REFUSED;
}

/* 200 once a worker delivered it (partial when not all did); else why not. */
static void api_broadcast_answer(struct api *a, FCGX_Request *r, const struct api_item *items,
				 size_t n)
{
	struct api_reach s = { .c = { { "uids", 0 }, { "connections", 0 } } };
	unsigned list[IPC_WORKERS_MAX];
	struct wmsg_missing m;
	size_t len = 0;
	char *body;

	for (size_t i = 0; i < n; i++)
		api_reach_add(&s, &items[i], (unsigned)i);
	if (s.delivered == 0) {
		if (s.unauth)
			api_refuse(a, r, 401, API_UNAUTHORIZED);
		else if (s.refused)
			api_error(r, 400, API_REFUSED); /* too large for a send queue */
		else
			api_refuse(a, r, 503, items[0].why ? items[0].why : "push daemon gave no answer");
		return;
	}
	m = api_missing(s.gone, list);
	if (m.n)
		api_report(a, 503);
	body = wmsg_counts_reply("success", s.c[1].value, s.c, 2, &m, &len);
	api_answer(r, body, len);
}

/* POST /broadcast {"topic":..,"contents":..}: one message to every connected
 * uid, each numbered in its own sequence; one datagram to every worker. */
static void api_broadcast(struct api *a, FCGX_Request *r)
{
	static const struct api_kind kind = { IPC_T_BROADCAST, 0 };
	struct api_item items[IPC_WORKERS_MAX];
	struct wmsg_push msg;
	size_t blen, n;
	char reason[API_REASON_MAX];

	if (api_gate(a, r, "POST") != 0 || api_json_body(a, r, &blen) != 0)
		return;
	if (wmsg_parse_broadcast(a->body, blen, &msg, reason, sizeof reason) != 0) {
		api_refuse(a, r, 400, reason);
		return;
	}
	n = a->d.nworkers; /* now: a password check may have re-learned it */
	if (n == 0) {
		api_refuse(a, r, 503, a->d.down_why);
		wmsg_push_free(&msg);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		api_item_uid(&items[i], "", 0, 0);
		items[i].it.topic = msg.topic_json;
		items[i].it.topic_len = msg.topic_len;
		items[i].it.contents = msg.contents_json;
		items[i].it.contents_len = msg.contents_len;
	}
	api_deliver(a, r, &kind, items, n);
	api_broadcast_answer(a, r, items, n);
	wmsg_push_free(&msg);
}

/* GET /metrics: ws-daemon's counters summed over the workers that answered in
 * time; 503 only when none did. Password required. */
static void api_metrics(struct api *a, FCGX_Request *r)
{
	unsigned char up[IPC_WORKERS_MAX] = { 0 };
	unsigned n, got;
	size_t len = 0;
	char *text;

	if (api_gate(a, r, "GET") != 0)
		return;
	got = api_workers_up(a, up, &n);
	if (got == 0) {
		api_error(r, 503, n ? "no push daemon worker answered in time" : a->d.down_why);
		return;
	}
	text = api_metrics_format((const uint64_t(*)[IPC_STATS_N])api_stats, up, n, &len);
	if (text)
		api_respond_typed(r, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
	else
		api_error(r, 500, "out of memory");
	free(text);
}

/* GET /health, for load balancers: no password, nothing but up or not. 200 when
 * every ws-daemon worker answers in time, 503 otherwise. */
static void api_health(struct api *a, FCGX_Request *r)
{
	unsigned char up[IPC_WORKERS_MAX] = { 0 };
	unsigned n, got;
	char *body;
	size_t len = 0;

	if (!api_method_ok(a, r, "GET, HEAD"))
		return;
	got = api_workers_up(a, up, &n);
	if (n == 0 || got < n) {
		api_error(r, 503, n ? "a push daemon worker is not answering" : a->d.down_why);
		return;
	}
	body = wmsg_reply("health", (long long)n, "ok", &len);
	if (!body) {
		api_error(r, 500, "out of memory");
		return;
	}
	api_respond(r, 200, NULL, body, len);
	free(body);
}

static void api_access(struct api *a, FCGX_Request *r)
{
	api_access_as(a, r, 1);
}

/* The demo page's backend: /demo/api/key and /demo/api/push. Without the demo
 * every path under /demo/ is an unknown one (404), never /push by its last segment. */
static void api_demo_route(struct api *a, FCGX_Request *r, const char *uri, size_t n)
{
	int key = n >= 13 && memcmp(uri + n - 13, "/demo/api/key", 13) == 0;
	int push = n >= 14 && memcmp(uri + n - 14, "/demo/api/push", 14) == 0;

	if (!a->demo || !(key || push)) {
		api_error(r, 404, "not found");
		return;
	}
	api_daemon_keep_up(&a->d, push);
	if (key)
		api_access_as(a, r, 0);
	else
		api_push_as(a, r, 1);
}

/* The service's paths (the last segment), who answers each, and whether the
 * request talks to the daemon anyway (see api_daemon_keep_up). */
static const struct api_path {
	const char *name;
	void (*serve)(struct api *a, FCGX_Request *r);
	int exchange;
} api_paths[] = {
	{ "access", api_access, 0 },       { "push", api_push, 1 },
	{ "metrics", api_metrics, 1 },     { "health", api_health, 1 },
	{ "presence", api_presence, 1 },   { "kick", api_kick, 1 },
	{ "multicast", api_multicast, 1 }, { "broadcast", api_broadcast, 1 },
};

/* Routes on the path's last segment, so the service can sit under any prefix. */
static void api_route(struct api *a, FCGX_Request *r)
{
	const char *uri = api_param(r, "REQUEST_URI");
	size_t n = strcspn(uri, "?");
	const struct api_path *p = NULL;

	if (api_is_demo_path(uri)) {
		api_demo_route(a, r, uri, n);
		api_daemon_flush(&a->d);
		return;
	}
	for (size_t i = 0; !p && i < sizeof api_paths / sizeof api_paths[0]; i++) {
		size_t k = strlen(api_paths[i].name);

		if (n > k && uri[n - k - 1] == '/' && memcmp(uri + n - k, api_paths[i].name, k) == 0)
			p = &api_paths[i];
	}
	/* Only the service's own paths wait for the daemon: a 404 never does. */
	if (p) {
		api_daemon_keep_up(&a->d, p->exchange);
		p->serve(a, r);
	} else {
		api_error(r, 404, "not found");
	}
	api_daemon_flush(&a->d); /* refusals kept while the daemon was away */
}

static int api_setup(struct api *a, const char *conf)
{
	const char *env = getenv("PUSH_DEMO");

	memset(a, 0, sizeof *a);
	if (api_daemon_init(&a->d, conf) != 0)
		return -1;
	log_set_level(a->d.cfg.log_level);
	/* `demo: true`, or `make run` (PUSH_DEMO=1) on a loopback address only. */
	a->demo = api_demo_enabled(a->d.cfg.demo, env, a->d.cfg.addr);
	if (env && strcmp(env, "1") == 0 && !a->demo)
		log_notice("PUSH_DEMO=1 ignored: addr %s is not a loopback address", a->d.cfg.addr);
	return 0;
}

/* Once per process that serves: the demo backend is a hole by design. */
static void api_demo_warn(const struct api *a)
{
	if (a->demo)
		log_warn("demo on: /demo/api/key and /demo/api/push hand out access keys and "
			 "push to any uid WITHOUT the password (addr %s); never expose this setup",
			 a->d.cfg.addr);
}

static void api_teardown(struct api *a)
{
	api_daemon_free(&a->d);
}

/* The FastCGI accept loop of one process; fd is the listening socket (0 when
 * the web server spawned us, as FastCGI specifies). */
static int api_serve(int fd, void *arg)
{
	struct api *a = arg;
	struct sigaction sa = { .sa_handler = api_on_signal };
	sigset_t stop_sigs;
	FCGX_Request req;

	/* No SA_RESTART: accept() must return so the loop sees the stop request. */
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0 ||
	    signal(SIGPIPE, SIG_IGN) == SIG_ERR || FCGX_Init() != 0 ||
	    FCGX_InitRequest(&req, fd, 0) != 0) {
		log_err("cannot initialise FastCGI: %s", strerror(errno));
		api_teardown(a);
		return 1;
	}
	sigemptyset(&stop_sigs);
	sigaddset(&stop_sigs, SIGTERM);
	sigaddset(&stop_sigs, SIGINT);
	while (!api_stop && FCGX_Accept_r(&req) >= 0) {
		/* A stop signal mid-request would fail libfcgi's reads and writes with
		 * EINTR (a half-read body, a lost reply); it waits for the next accept. */
		(void)sigprocmask(SIG_BLOCK, &stop_sigs, NULL);
		api_route(a, &req);
		api_finish(&req);
		(void)sigprocmask(SIG_UNBLOCK, &stop_sigs, NULL);
	}
	FCGX_Free(&req, 1);
	api_teardown(a);
	return 0;
}

static void api_usage(FILE *f)
{
	fprintf(f, "usage: push-api [-c FILE] [-t] [-s SOCKET [-n WORKERS] [-m MODE]] [-v] [-h]\n"
		   "FastCGI responder for /access, /push and /metrics. A web server spawns it\n"
		   "(lighttpd: fastcgi.server with bin-path), or it runs its own pool with -s.\n"
		   "  -c, --config FILE    configuration (default $PUSH_CONF, then "
		   PUSH_DEFAULT_CONF ")\n"
		   "  -t, --test           check the configuration and exit\n"
		   "  -s, --socket SOCKET  listen on this Unix socket path or host:port (\"-\":\n"
		   "                       fcgi_addr) with -n workers (default fcgi_procs),\n"
		   "                       instead of the socket the web server hands over on fd 0\n"
		   "  -n, --workers N      processes of the -s pool\n"
		   "  -m, --mode MODE      octal permissions of SOCKET (default 660)\n"
		   "  -v, --version        print the version and exit\n"
		   "  -h, --help           this help\n"
		   "exit codes: 0 ok, 1 configuration or runtime error, 2 usage error\n");
}

int main(int argc, char **argv)
{
	static const struct option longs[] = {
		{ "config", required_argument, NULL, 'c' }, { "test", no_argument, NULL, 't' },
		{ "socket", required_argument, NULL, 's' }, { "workers", required_argument, NULL, 'n' },
		{ "mode", required_argument, NULL, 'm' },   { "version", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },         { NULL, 0, NULL, 0 }
	};
	struct api a = { 0 };
	const char *conf = getenv("PUSH_CONF"), *sock = NULL;
	long workers = 0, mode = 0660;
	char *end;
	int opt, rc, test = 0;

	log_init("push-api", LOG_LVL_NOTICE);
	while ((opt = getopt_long(argc, argv, "c:ts:n:m:vh", longs, NULL)) != -1) {
		switch (opt) {
		case 'c': conf = optarg; break;
		case 't': test = 1; break;
		case 's': sock = optarg; break;
		case 'n':
			workers = strtol(optarg, &end, 10);
			if (*end || workers < 1 || workers > 256)
				workers = -1;
			break;
		case 'm':
			mode = strtol(optarg, &end, 8);
			if (*end || mode < 0 || mode > 0777)
				mode = -1;
			break;
		case 'v': printf("push-api %s (libfcgi %s)\n", PUSH_VERSION, PUSH_LIBFCGI_VERSION); return 0;
		case 'h': api_usage(stdout); return 0;
		default: api_usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "push-api: unexpected argument '%s'\n", argv[optind]);
		api_usage(stderr);
		return 2;
	}
	if (workers < 0 || mode < 0) {
		api_usage(stderr);
		return 2;
	}
	if (!conf || !conf[0])
		conf = PUSH_DEFAULT_CONF;
	if (!test && !sock && FCGX_IsCGI()) {
		/* fd 0 is no FastCGI listener: run by hand, not by a web server. */
		fprintf(stderr, "push-api: not started by a web server (fd 0 is not a FastCGI socket).\n"
				"Let lighttpd spawn it (fastcgi.server, bin-path), or run a pool:\n"
				"  push-api -c FILE -s - (listens on fcgi_addr), then point the web\n"
				"  server's FastCGI proxy at it. See push-api -h.\n");
		return 2;
	}
	if (api_setup(&a, conf) != 0) {
		api_teardown(&a);
		return 1;
	}
	if (test) {
		char err[CFG_ERR_LEN];

		/* As ws-daemon -t: the files the configuration names must be readable. */
		rc = cfg_check_files(&a.d.cfg, err, sizeof err);
		if (rc != 0)
			log_err("%s", err);
		else
			printf("configuration %s is ok\n", conf);
		api_teardown(&a);
		return rc != 0;
	}
	api_demo_warn(&a);
	if (!sock)
		return api_serve(0, &a);
	if (strcmp(sock, "-") == 0)
		sock = a.d.cfg.fcgi_addr;
	/* Workers finish the request in hand (up to the push timeout, and the
	 * acknowledgement wait after it) before exiting. */
	rc = api_pool_run(sock, (mode_t)mode, workers ? (unsigned)workers : (unsigned)a.d.cfg.fcgi_procs,
			  (unsigned)((a.d.cfg.push_timeout_ms +
				      IPC_ACK_WAIT_MS(a.d.cfg.push_timeout_ms)) / 1000 + 3),
			  api_serve, &a);
	api_teardown(&a);
	return rc;
}
