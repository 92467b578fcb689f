/* push-api: the persistent FastCGI responder for /access and /push. One program
 * routes on REQUEST_URI so one process pool, one config load and one IPC socket serve both. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fcgiapp.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "akey.h"
#include "api_http.h"
#include "api_pool.h"
#include "cfg.h"
#include "ipc.h"
#include "ipc_sock.h"
#include "log.h"
#include "req.h"
#include "wmsg.h"

#define API_MAX_SECRET 1024 /* longest password accepted from a client */
#define API_REPLY_GRACE_MS 250
#define API_MAX_WORKERS 64 /* cfg bounds `workers` to this */

struct api {
	struct cfg cfg;
	struct ipc_client ipc[API_MAX_WORKERS]; /* one per ws-daemon worker */
	unsigned nipc;
	unsigned char pw_digest[32]; /* SHA-256 of the password: fixed-length compare */
	uint32_t next_req_id;
	char *body;                  /* max_message_bytes, reused per request */
	uint8_t *dgram;              /* IPC_MAX_DATAGRAM */
	uint8_t reply[IPC_HDR_LEN + IPC_MAX_ITEMS * IPC_REPLY_ITEM_LEN];
	char *uid;                   /* max_uid_bytes + 1 */
	const char *conf_path;       /* argv/env string, lives as long as the process */
	struct stat conf_st;         /* identity of the file last loaded */
	time_t conf_checked;         /* last stat(), at most once a second */
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

/* The password may come as ?password= (the seed's clients) or as a Bearer token. */
static int api_authorized(struct api *a, FCGX_Request *r)
{
	const char *qs = api_param(r, "QUERY_STRING");
	const char *tok = api_bearer_token(api_param(r, "HTTP_AUTHORIZATION"));
	char pw[API_MAX_SECRET + 1];
	unsigned char d[32];
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
	ok = n > 0 && api_digest(pw, n, d) == 0 && CRYPTO_memcmp(d, a->pw_digest, sizeof d) == 0;
	OPENSSL_cleanse(pw, sizeof pw);
	return ok;
}

/* Counts a refusal in ws-daemon's metrics (best effort, never waits). */
static void api_report(struct api *a, int status)
{
	uint8_t msg[IPC_HDR_LEN];
	int why;

	switch (status) {
	case 400: why = IPC_R_BAD_REQUEST; break;
	case 401: why = IPC_R_UNAUTHORIZED; break;
	case 405: why = IPC_R_METHOD; break;
	case 413: why = IPC_R_TOO_LARGE; break;
	case 415: why = IPC_R_MEDIA_TYPE; break;
	case 503: why = IPC_R_DAEMON; break;
	default: return;
	}
	if (ipc_encode_bare(msg, sizeof msg, IPC_T_REPORT, 0, (uint16_t)why))
		ipc_client_notify(&a->ipc[0], msg, sizeof msg); /* /metrics sums the workers */
}

static void api_refuse(struct api *a, FCGX_Request *r, int status, const char *reason)
{
	api_report(a, status);
	api_error(r, status, reason);
}

/* Reads and checks ?uid=; answers 400 itself and returns -1 on a bad one. */
static int api_get_uid(struct api *a, FCGX_Request *r, size_t *len)
{
	const char *qs = api_param(r, "QUERY_STRING");
	size_t cap = (size_t)a->cfg.max_uid_bytes + 1;
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
	why = req_uid_problem(a->uid, *len, (size_t)a->cfg.max_uid_bytes);
	if (why) {
		api_refuse(a, r, 400, why);
		return -1;
	}
	return 0;
}

static void api_access(struct api *a, FCGX_Request *r)
{
	const char *m = api_param(r, "REQUEST_METHOD");
	char key[AKEY_MAX_LEN], *body;
	size_t uid_len, klen, blen = 0;

	if (strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0) {
		api_report(a, 405);
		api_error_method(r, "GET, HEAD");
		return;
	}
	if (!api_authorized(a, r)) {
		api_refuse(a, r, 401, "wrong or missing password");
		return;
	}
	if (api_get_uid(a, r, &uid_len) != 0)
		return;
	klen = akey_issue(a->cfg.secret, a->uid, uid_len, time(NULL), a->cfg.access_key_ttl, key,
			  sizeof key);
	body = klen ? wmsg_reply("_access", 1, key, &blen) : NULL;
	if (!body) {
		api_error(r, 500, "cannot issue an access key");
		return;
	}
	api_respond(r, 200, NULL, body, blen);
	free(body);
}

/* Checks method, password, uid (absent: a batch), type and size, and reads the
 * body into a->body; answers the error itself and returns -1. */
static int api_push_read(struct api *a, FCGX_Request *r, size_t *uid_len, int *batch,
			 size_t *blen)
{
	const char *m = api_param(r, "REQUEST_METHOD");
	const char *qs = api_param(r, "QUERY_STRING");
	char probe[1];
	size_t plen;

	if (strcmp(m, "POST") != 0) {
		api_report(a, 405);
		api_error_method(r, "POST");
		return -1;
	}
	if (!api_authorized(a, r)) {
		api_refuse(a, r, 401, "wrong or missing password");
		return -1;
	}
	/* No uid in the query: the body carries one per message. */
	*batch = req_query_get(qs, strlen(qs), "uid", probe, sizeof probe, &plen) == REQ_ABSENT;
	if (!*batch && api_get_uid(a, r, uid_len) != 0)
		return -1;
	if (!api_is_json_type(api_param(r, "CONTENT_TYPE"))) {
		api_refuse(a, r, 415, "Content-Type must be application/json");
		return -1;
	}
	switch (api_read_body(r, a->body, (size_t)a->cfg.max_message_bytes, blen)) {
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

/* One request/reply exchange with ws-daemon for items[0..n); fills res[0..n).
 * Answers the error itself and returns -1. */
/* The ws-daemon worker that owns uid (see req_uid_shard). */
static struct ipc_client *api_worker_of(struct api *a, const char *uid, size_t len)
{
	return &a->ipc[req_uid_shard(uid, len, a->nipc)];
}

static int api_deliver(struct api *a, FCGX_Request *r, struct ipc_client *c,
		       const struct ipc_push_item *items, size_t n, struct ipc_result *res)
{
	uint32_t id = a->next_req_id++;
	size_t dlen = ipc_encode_push(a->dgram, IPC_MAX_DATAGRAM, id, items, n), rlen = 0;
	enum ipc_call_rc rc;
	struct ipc_hdr h;

	if (dlen == 0) {
		api_refuse(a, r, 413, "message is too large once encoded");
		return -1;
	}
	/* ws-daemon drops a push that waited push_timeout_ms in its socket; the grace
	 * lets an answer given just before that still reach us, so a 503 for a
	 * timeout means "not delivered". */
	rc = ipc_client_call(c, a->dgram, dlen, id, a->reply, sizeof a->reply, &rlen,
			     a->cfg.push_timeout_ms + API_REPLY_GRACE_MS);
	if (rc != IPC_CALL_OK) {
		log_warn("push to ws-daemon failed: %s", ipc_call_rc_str(rc));
		api_refuse(a, r, rc == IPC_CALL_TOO_BIG ? 413 : 503, ipc_call_rc_str(rc));
		return -1;
	}
	if (ipc_decode_push_reply(a->reply, rlen, &h, res, n) != IPC_OK || h.count != n) {
		log_err("ws-daemon sent a reply we cannot read");
		api_refuse(a, r, 503, "push daemon gave an unreadable answer");
		return -1;
	}
	return 0;
}

static void api_push_answer(FCGX_Request *r, const struct ipc_result *res)
{
	char *body;
	size_t blen = 0;

	if (res->status == IPC_S_OFFLINE || (res->status == IPC_S_DELIVERED && res->delivered == 0)) {
		api_error(r, 404, "此用户不在线");
		return;
	}
	if (res->status != IPC_S_DELIVERED) {
		api_error(r, 400, "the push daemon refused the message");
		return;
	}
	body = wmsg_reply("success", (long long)res->delivered, "推送成功", &blen);
	if (!body) {
		api_error(r, 500, "out of memory");
		return;
	}
	api_respond(r, 200, NULL, body, blen);
	free(body);
}

static void api_push_one(struct api *a, FCGX_Request *r, size_t uid_len, size_t blen)
{
	struct wmsg_push msg;
	struct ipc_push_item it;
	struct ipc_result res;
	char reason[256];
	int rc;

	if (wmsg_parse_push(a->body, blen, &msg, reason, sizeof reason) != 0) {
		api_refuse(a, r, 400, reason);
		return;
	}
	it = (struct ipc_push_item){ a->uid, uid_len, msg.topic_json, msg.topic_len,
				     msg.contents_json, msg.contents_len };
	rc = api_deliver(a, r, api_worker_of(a, a->uid, uid_len), &it, 1, &res);
	wmsg_push_free(&msg);
	if (rc == 0)
		api_push_answer(r, &res);
}

/* Sends the valid messages to their workers in as few datagrams as fit, keeping
 * their order within each worker (so per-uid numbers follow the array);
 * res[i] answers batch item i. */
static int api_batch_deliver(struct api *a, FCGX_Request *r, const struct wmsg_batch *b,
			     struct ipc_push_item *items, size_t *map, struct ipc_result *res)
{
	for (unsigned w = 0; w < a->nipc; w++) {
		size_t n = 0, start = 0;

		for (size_t i = 0; i < b->n; i++) {
			const struct wmsg_batch_item *bi = &b->items[i];

			if (bi->error || api_worker_of(a, bi->uid, bi->uid_len) != &a->ipc[w])
				continue;
			items[n] = (struct ipc_push_item){ bi->uid, bi->uid_len, bi->topic_json,
							   bi->topic_len, bi->contents_json,
							   bi->contents_len };
			map[n++] = i;
		}
		while (start < n) {
			size_t end = start + 1, size = ipc_push_size(items + start, 1);
			struct ipc_result *part = res + b->n + start; /* scratch after the answers */

			/* An item's share is its size beyond an empty datagram's header. */
			while (end < n && size <= IPC_MAX_DATAGRAM) {
				size_t share = ipc_push_size(items + end, 1) - IPC_HDR_LEN;

				if (share > IPC_MAX_DATAGRAM - size)
					break;
				size += share;
				end++;
			}
			if (api_deliver(a, r, &a->ipc[w], items + start, end - start, part) != 0)
				return -1;
			for (size_t k = start; k < end; k++)
				res[map[k]] = part[k - start];
			start = end;
		}
	}
	return 0;
}

/* The answer names every item in order: what reached someone, what did not and why. */
static void api_batch_answer(FCGX_Request *r, const struct wmsg_batch *b,
			     const struct ipc_result *res, struct wmsg_batch_result *out)
{
	size_t len;
	char *text;

	for (size_t i = 0; i < b->n; i++) {
		const struct wmsg_batch_item *bi = &b->items[i];
		int ok = !bi->error && res[i].status == IPC_S_DELIVERED && res[i].delivered > 0;

		out[i].ok = ok;
		out[i].number = ok ? res[i].delivered : 0;
		out[i].contents = bi->error ? bi->error
				  : ok ? "推送成功"
				  : res[i].status == IPC_S_REFUSED ? "the push daemon refused the message"
				  : "此用户不在线";
	}
	text = wmsg_batch_reply(b, out, &len);
	if (text)
		api_respond(r, 200, NULL, text, len);
	else
		api_error(r, 500, "out of memory");
	free(text);
}

static void api_push_batch(struct api *a, FCGX_Request *r, size_t blen)
{
	struct wmsg_batch b;
	struct ipc_push_item *items = NULL;
	struct ipc_result *res = NULL;
	struct wmsg_batch_result *answers = NULL;
	size_t *map = NULL;
	char reason[256];

	size_t sp = 0;

	memset(&b, 0, sizeof b);
	while (sp < blen && strchr(" \t\r\n", a->body[sp]))
		sp++;
	/* The seed's single form without ?uid=: say what is missing, not "array". */
	if (sp == blen || a->body[sp] != '[') {
		api_refuse(a, r, 400, "uid is missing");
		goto out;
	}
	if (wmsg_parse_batch(a->body, blen, IPC_MAX_ITEMS, (size_t)a->cfg.max_uid_bytes, &b, reason,
			     sizeof reason) != 0) {
		api_refuse(a, r, 400, reason);
		goto out;
	}
	items = calloc(b.n, sizeof *items);
	map = calloc(b.n, sizeof *map);
	res = calloc(2 * b.n, sizeof *res);
	answers = calloc(b.n, sizeof *answers);
	if (!items || !map || !res || !answers) {
		api_error(r, 500, "out of memory");
		goto out;
	}
	if (api_batch_deliver(a, r, &b, items, map, res) == 0)
		api_batch_answer(r, &b, res, answers);
out:
	free(items);
	free(map);
	free(res);
	free(answers);
	wmsg_batch_free(&b);
}

static void api_push(struct api *a, FCGX_Request *r)
{
	size_t uid_len = 0, blen = 0;
	int batch = 0;

	if (api_push_read(a, r, &uid_len, &batch, &blen) != 0)
		return;
	if (batch)
		api_push_batch(a, r, blen);
	else
		api_push_one(a, r, uid_len, blen);
}

/* Every socket closed, nothing allocated: safe to tear down at any point. */
static void api_init(struct api *a)
{
	memset(a, 0, sizeof *a);
	for (unsigned i = 0; i < API_MAX_WORKERS; i++)
		a->ipc[i].fd = -1;
}

static int api_setup(struct api *a, const char *conf)
{
	char err[CFG_ERR_LEN];

	if (cfg_load(conf, &a->cfg, err, sizeof err) != 0) {
		log_err("%s", err);
		return -1;
	}
	a->nipc = (unsigned)a->cfg.workers;
	for (unsigned i = 0; i < a->nipc; i++) {
		char path[sizeof a->ipc[i].path];

		if (cfg_worker_socket(&a->cfg, i, path, sizeof path) != 0 ||
		    ipc_client_init(&a->ipc[i], path) != 0) {
			log_err("ipc_socket path is too long: %s", a->cfg.ipc_socket);
			return -1;
		}
	}
	if (api_digest(a->cfg.password, strlen(a->cfg.password), a->pw_digest) != 0 ||
	    RAND_bytes((unsigned char *)&a->next_req_id, sizeof a->next_req_id) != 1) {
		log_err("OpenSSL failed to initialise");
		return -1;
	}
	a->body = malloc((size_t)a->cfg.max_message_bytes + 1);
	a->dgram = malloc(IPC_MAX_DATAGRAM);
	a->uid = malloc((size_t)a->cfg.max_uid_bytes + 1);
	if (!a->body || !a->dgram || !a->uid) {
		log_err("out of memory");
		return -1;
	}
	a->conf_path = conf;
	if (stat(conf, &a->conf_st) != 0)
		memset(&a->conf_st, 0, sizeof a->conf_st);
	a->conf_checked = time(NULL);
	log_set_level(a->cfg.log_level);
	return 0;
}

static void api_teardown(struct api *a)
{
	for (unsigned i = 0; i < API_MAX_WORKERS; i++)
		ipc_client_close(&a->ipc[i]);
	free(a->body);
	free(a->dgram);
	free(a->uid);
	cfg_free(&a->cfg);
}

static int api_same_file(const struct stat *x, const struct stat *y)
{
	return x->st_ino == y->st_ino && x->st_dev == y->st_dev && x->st_size == y->st_size &&
	       x->st_mtim.tv_sec == y->st_mtim.tv_sec && x->st_mtim.tv_nsec == y->st_mtim.tv_nsec;
}

/* Follows edits of conf.yaml (password or secret rotation, limits) without a
 * restart of the web server: checked at most once a second, before a request.
 * An invalid file is refused once, loudly, and the running values stay. */
static void api_maybe_reload(struct api *a)
{
	struct api n;
	struct stat st;
	time_t now = time(NULL);

	if (now == a->conf_checked)
		return;
	a->conf_checked = now;
	if (stat(a->conf_path, &st) != 0 || api_same_file(&st, &a->conf_st))
		return;
	a->conf_st = st;
	api_init(&n);
	if (api_setup(&n, a->conf_path) != 0) {
		log_err("reload refused, the running configuration stays");
		api_teardown(&n);
		return;
	}
	if (n.cfg.workers != a->cfg.workers) {
		/* ws-daemon keeps its worker count until restarted; so must the shards. */
		log_warn("reload: 'workers' changes only on restart; keeping %ld", a->cfg.workers);
		n.cfg.workers = a->cfg.workers;
		n.nipc = a->nipc;
		for (unsigned i = 0; i < n.nipc; i++)
			n.ipc[i] = a->ipc[i];
	}
	for (unsigned i = 0; i < n.nipc; i++) {
		if (strcmp(n.ipc[i].path, a->ipc[i].path) == 0) {
			n.ipc[i].fd = a->ipc[i].fd; /* keep the connected socket */
			a->ipc[i].fd = -1;
		}
	}
	n.next_req_id = a->next_req_id;
	api_teardown(a);
	*a = n;
	log_notice("configuration reloaded from %s", a->conf_path);
}

/* The value of sample `name` (the text before the last space) in text, or 0. */
static double api_sample(const char *text, const char *name, size_t nl)
{
	for (const char *l = text; *l; ) {
		const char *e = strchr(l, '\n');
		size_t len = e ? (size_t)(e - l) : strlen(l);

		if (len > nl && l[0] != '#' && memcmp(l, name, nl) == 0 && l[nl] == ' ')
			return strtod(l + nl + 1, NULL);
		l += len + (e != NULL);
	}
	return 0;
}

/* Several workers: the first one's text with every sample summed over all of
 * them (uptime: the largest). A malloc'd string, or NULL. */
static char *api_metrics_merge(char **texts, unsigned n)
{
	size_t cap = strlen(texts[0]) * 2 + 256, o = 0;
	char *out = malloc(cap);

	for (const char *l = texts[0]; out && *l; ) {
		const char *e = strchr(l, '\n'), *sp;
		size_t len = e ? (size_t)(e - l) : strlen(l);
		double v = 0;
		int w;

		sp = len ? memrchr(l, ' ', len) : NULL;
		if (l[0] == '#' || !sp) {
			w = snprintf(out + o, cap - o, "%.*s\n", (int)len, l);
		} else {
			int is_up = strncmp(l, "push_uptime_seconds ", 20) == 0;

			for (unsigned i = 0; i < n; i++) {
				double x = api_sample(texts[i], l, (size_t)(sp - l));

				v = is_up ? (x > v ? x : v) : v + x;
			}
			w = is_up ? snprintf(out + o, cap - o, "%.*s %.3f\n", (int)(sp - l), l, v)
				  : snprintf(out + o, cap - o, "%.*s %.0f\n", (int)(sp - l), l, v);
		}
		if (w < 0 || (size_t)w >= cap - o) {
			free(out);
			return NULL;
		}
		o += (size_t)w;
		l += len + (e != NULL);
	}
	return out;
}

/* Asks worker c for its metrics; a malloc'd NUL-terminated copy, or NULL. */
static char *api_worker_metrics(struct api *a, struct ipc_client *c, enum ipc_call_rc *rc)
{
	uint8_t req[IPC_HDR_LEN];
	struct ipc_hdr h;
	const char *text;
	size_t tl, rlen = 0;
	uint32_t id = a->next_req_id++;

	*rc = ipc_client_call(c, req, ipc_encode_bare(req, sizeof req, IPC_T_STATS, id, 0), id,
			      a->dgram, IPC_MAX_DATAGRAM, &rlen, a->cfg.push_timeout_ms);
	if (*rc != IPC_CALL_OK || ipc_decode_stats_reply(a->dgram, rlen, &h, &text, &tl) != IPC_OK)
		return NULL;
	return strndup(text, tl);
}

/* GET /metrics: ws-daemon's counters in Prometheus text, password required. */
static void api_metrics(struct api *a, FCGX_Request *r)
{
	char *texts[API_MAX_WORKERS] = { 0 }, *merged = NULL;
	enum ipc_call_rc rc = IPC_CALL_OK;
	unsigned got = 0;

	if (strcmp(api_param(r, "REQUEST_METHOD"), "GET") != 0) {
		api_report(a, 405);
		api_error_method(r, "GET");
		return;
	}
	if (!api_authorized(a, r)) {
		api_refuse(a, r, 401, "wrong or missing password");
		return;
	}
	for (; got < a->nipc; got++) {
		texts[got] = api_worker_metrics(a, &a->ipc[got], &rc);
		if (!texts[got])
			break;
	}
	if (got == a->nipc)
		merged = got == 1 ? texts[0] : api_metrics_merge(texts, got);
	if (merged)
		api_respond_typed(r, 200, "text/plain; version=0.0.4; charset=utf-8", merged,
				  strlen(merged));
	else
		api_error(r, 503, rc != IPC_CALL_OK ? ipc_call_rc_str(rc)
						   : "push daemon gave an unreadable answer");
	if (merged != texts[0])
		free(merged);
	for (unsigned i = 0; i < got; i++)
		free(texts[i]);
}

/* Routes on the path's last segment, so the service can sit under any prefix. */
static void api_route(struct api *a, FCGX_Request *r)
{
	const char *uri = api_param(r, "REQUEST_URI");
	size_t n = strcspn(uri, "?");

	api_maybe_reload(a);
	if (n >= 7 && memcmp(uri + n - 7, "/access", 7) == 0)
		api_access(a, r);
	else if (n >= 5 && memcmp(uri + n - 5, "/push", 5) == 0)
		api_push(a, r);
	else if (n >= 8 && memcmp(uri + n - 8, "/metrics", 8) == 0)
		api_metrics(a, r);
	else
		api_error(r, 404, "not found");
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
	fprintf(f, "usage: push-api [-c conf.yaml] [-s SOCKET [-n WORKERS] [-m MODE]]\n"
		   "FastCGI responder for /access and /push.\n"
		   "  -c FILE    configuration (default $PUSH_CONF, then ./conf.yaml)\n"
		   "  -s SOCKET  listen on this Unix socket path or host:port (\"-\": fcgi_addr)\n"
		   "             with -n workers (default fcgi_procs), instead of the socket\n"
		   "             the web server hands over on fd 0\n"
		   "  -m MODE    octal permissions of SOCKET (default 660)\n"
		   "exit codes: 0 ok, 1 configuration or runtime error, 2 usage error\n");
}

int main(int argc, char **argv)
{
	struct api a = { 0 };
	const char *conf = getenv("PUSH_CONF"), *sock = NULL;
	long workers = 0, mode = 0660;
	char *end;
	int opt, rc;

	log_init("push-api", LOG_LVL_NOTICE);
	while ((opt = getopt(argc, argv, "c:s:n:m:h")) != -1) {
		switch (opt) {
		case 'c': conf = optarg; break;
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
		case 'h': api_usage(stdout); return 0;
		default: api_usage(stderr); return 2;
		}
	}
	if (workers < 0 || mode < 0) {
		api_usage(stderr);
		return 2;
	}
	if (!conf || !conf[0])
		conf = "conf.yaml";
	api_init(&a);
	if (api_setup(&a, conf) != 0) {
		api_teardown(&a);
		return 1;
	}
	if (!sock)
		return api_serve(0, &a);
	if (strcmp(sock, "-") == 0)
		sock = a.cfg.fcgi_addr;
	/* Workers finish the request in hand (up to the push timeout) before exiting. */
	rc = api_pool_run(sock, (mode_t)mode, workers ? (unsigned)workers : (unsigned)a.cfg.fcgi_procs,
			  (unsigned)(a.cfg.push_timeout_ms / 1000 + 3), api_serve, &a);
	api_teardown(&a);
	return rc;
}
