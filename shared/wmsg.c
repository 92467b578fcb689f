/* SPDX-License-Identifier: MIT */
/* Message JSON with jansson for parsing and a small serializer of our own, so that
 * reals keep their shortest round-trip form (jansson prints 0.1 as 0.10000000000000001). */
#include "wmsg.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "req.h"

struct wbuf {
	char *p;
	size_t len, cap;
	int oom;
};

static void wbuf_put(struct wbuf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (n > SIZE_MAX / 2 - b->len) {
		b->oom = 1;
		return;
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		char *np;

		while (cap < b->len + n + 1)
			cap *= 2;
		np = realloc(b->p, cap);
		if (!np) {
			b->oom = 1;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

/* A string literal, its length counted by the compiler. */
#define wbuf_lit(b, lit) wbuf_put((b), (lit), sizeof(lit) - 1)

/* Grows the buffer to hold at least cap bytes, so later puts need no realloc. */
static void wbuf_reserve(struct wbuf *b, size_t cap)
{
	char *np;

	if (b->oom || cap <= b->cap)
		return;
	np = realloc(b->p, cap);
	if (!np) {
		b->oom = 1;
		return;
	}
	if (!b->p)
		np[0] = '\0';
	b->p = np;
	b->cap = cap;
}

static void wbuf_str(struct wbuf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t run = 0;

	wbuf_put(b, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
		const char *e = NULL;
		size_t el = 2;

		switch (c) {
		case '"': e = "\\\""; break;
		case '\\': e = "\\\\"; break;
		case '\n': e = "\\n"; break;
		case '\r': e = "\\r"; break;
		case '\t': e = "\\t"; break;
		case '\b': e = "\\b"; break;
		case '\f': e = "\\f"; break;
		default:
			/* JSON needs only C0 escaped; DEL passes as is (6x smaller). */
			if (c < 0x20) {
				e = esc;
				el = 6;
			}
		}
		if (!e)
			continue;
		wbuf_put(b, s + run, i - run);
		wbuf_put(b, e, el);
		run = i + 1;
	}
	wbuf_put(b, s + run, n - run);
	wbuf_put(b, "\"", 1);
}

/* Shortest "%.Ng" that reads back to the same double; always looks like a real. */
static void wbuf_real(struct wbuf *b, double v)
{
	char s[40];
	int n = 0;

	for (int prec = 1; prec <= 17; prec++) {
		n = snprintf(s, sizeof s, "%.*g", prec, v);
		if (n > 0 && strtod(s, NULL) == v)
			break;
	}
	if (n <= 0 || (size_t)n >= sizeof s - 3) {
		b->oom = 1;
		return;
	}
	if (!strpbrk(s, ".eE")) {
		memcpy(s + n, ".0", 3);
		n += 2;
	}
	wbuf_put(b, s, (size_t)n);
}

/* Depth is bounded by jansson's parser (JSON_PARSER_MAX_DEPTH), so recursion is too. */
static void wbuf_json(struct wbuf *b, const json_t *j)
{
	char num[32];
	int n;

	switch (json_typeof(j)) {
	case JSON_OBJECT: {
		const char *k;
		json_t *v;
		int first = 1;

		wbuf_put(b, "{", 1);
		json_object_foreach((json_t *)j, k, v) {
			if (!first)
				wbuf_put(b, ",", 1);
			first = 0;
			wbuf_str(b, k, strlen(k));
			wbuf_put(b, ":", 1);
			wbuf_json(b, v);
		}
		wbuf_put(b, "}", 1);
		break;
	}
	case JSON_ARRAY:
		wbuf_put(b, "[", 1);
		for (size_t i = 0; i < json_array_size(j); i++) {
			if (i)
				wbuf_put(b, ",", 1);
			wbuf_json(b, json_array_get(j, i));
		}
		wbuf_put(b, "]", 1);
		break;
	case JSON_STRING:
		wbuf_str(b, json_string_value(j), json_string_length(j));
		break;
	case JSON_INTEGER:
		n = snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(j));
		if (n > 0)
			wbuf_put(b, num, (size_t)n);
		break;
	case JSON_REAL:
		wbuf_real(b, json_real_value(j));
		break;
	case JSON_TRUE:
		wbuf_put(b, "true", 4);
		break;
	case JSON_FALSE:
		wbuf_put(b, "false", 5);
		break;
	case JSON_NULL:
		wbuf_put(b, "null", 4);
		break;
	}
}

static int wmsg_fail(char *reason, size_t len, const char *msg, const json_error_t *e)
{
	if (e)
		(void)snprintf(reason, len, "%s: %s (line %d, column %d)", msg, e->text, e->line,
			       e->column);
	else
		(void)snprintf(reason, len, "%s", msg);
	return -1;
}

/* A message's optional "ack": absent is false, anything but a boolean is refused. */
static int wmsg_ack(const json_t *msg, int *ack)
{
	const json_t *v = json_object_get(msg, "ack");

	if (v && !json_is_boolean(v))
		return -1;
	*ack = json_is_true(v);
	return 0;
}

#define WMSG_ACK_BAD "ack must be true or false"

static char *wmsg_dump(const json_t *j, size_t *len)
{
	struct wbuf b = { 0 };

	wbuf_json(&b, j);
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	*len = b.len;
	return b.p;
}

int wmsg_parse_push(const char *body, size_t len, struct wmsg_push *out, char *reason,
		    size_t reason_len)
{
	json_error_t e;
	json_t *root, *topic, *contents;
	int rc = -1;

	memset(out, 0, sizeof *out);
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &e);
	if (!root)
		return wmsg_fail(reason, reason_len, "body is not valid JSON", &e);
	if (!json_is_object(root)) {
		wmsg_fail(reason, reason_len, "body must be a JSON object", NULL);
		goto fail;
	}
	topic = json_object_get(root, "topic");
	contents = json_object_get(root, "contents");
	if (!topic) {
		wmsg_fail(reason, reason_len, "body lacks \"topic\"", NULL);
		goto fail;
	}
	if (!json_is_string(topic)) {
		wmsg_fail(reason, reason_len, "\"topic\" must be a string", NULL);
		goto fail;
	}
	if (!contents) {
		wmsg_fail(reason, reason_len, "body lacks \"contents\"", NULL);
		goto fail;
	}
	if (wmsg_ack(root, &out->ack) != 0) {
		wmsg_fail(reason, reason_len, WMSG_ACK_BAD, NULL);
		goto fail;
	}
	out->topic_json = wmsg_dump(topic, &out->topic_len);
	out->contents_json = wmsg_dump(contents, &out->contents_len);
	if (!out->topic_json || !out->contents_json) {
		wmsg_fail(reason, reason_len, "out of memory", NULL);
		wmsg_push_free(out);
		goto fail;
	}
	rc = 0;
fail:
	json_decref(root);
	return rc;
}

/* Where one batch item's strings sit in the batch's arena while it still grows. */
struct wmsg_spans {
	size_t uid, topic, topic_end, contents, contents_end;
};

/* Appends the item's uid (raw bytes and a NUL), topic and contents JSON to the
 * arena; returns why the item is refused, or NULL. */
static const char *wmsg_batch_one(json_t *o, size_t max_uid, struct wbuf *arena,
				  struct wmsg_batch_item *it, struct wmsg_spans *sp)
{
	json_t *uid = json_object_get(o, "uid"), *topic, *contents;
	const char *why;

	if (!json_is_object(o))
		return "message must be a JSON object";
	topic = json_object_get(o, "topic");
	contents = json_object_get(o, "contents");
	if (!json_is_string(uid))
		return "\"uid\" must be a string";
	/* Kept even when the item is refused, so the answer can name it; all
	 * uid_len bytes, a "\u0000" inside included. */
	it->uid_len = json_string_length(uid);
	sp->uid = arena->len;
	wbuf_put(arena, json_string_value(uid), it->uid_len);
	wbuf_put(arena, "", 1);
	why = req_uid_problem(json_string_value(uid), json_string_length(uid), max_uid);
	if (why)
		return why;
	if (!json_is_string(topic))
		return "\"topic\" must be a string";
	if (!contents)
		return "message lacks \"contents\"";
	if (wmsg_ack(o, &it->ack) != 0)
		return WMSG_ACK_BAD;
	/* Each part NUL-terminated, as wmsg_push's are. */
	sp->topic = arena->len;
	wbuf_json(arena, topic);
	sp->topic_end = arena->len;
	wbuf_put(arena, "", 1);
	sp->contents = arena->len;
	wbuf_json(arena, contents);
	sp->contents_end = arena->len;
	wbuf_put(arena, "", 1);
	return NULL;
}

/* Points every item into the arena, now that it no longer moves. */
static void wmsg_batch_point(struct wmsg_batch *out, const struct wmsg_spans *sp, int *had_uid)
{
	for (size_t i = 0; i < out->n; i++) {
		struct wmsg_batch_item *it = &out->items[i];

		it->uid = had_uid[i] ? out->arena + sp[i].uid : NULL;
		if (it->error)
			continue;
		it->topic_json = out->arena + sp[i].topic;
		it->topic_len = sp[i].topic_end - sp[i].topic;
		it->contents_json = out->arena + sp[i].contents;
		it->contents_len = sp[i].contents_end - sp[i].contents;
	}
}

int wmsg_parse_batch(const char *body, size_t len, size_t max_items, size_t max_uid,
		     struct wmsg_batch *out, char *reason, size_t reason_len)
{
	struct wbuf arena = { 0 };
	struct wmsg_spans *sp = NULL;
	int *had_uid = NULL;
	json_error_t e;
	json_t *root;
	size_t n;
	int rc = -1;

	memset(out, 0, sizeof *out);
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &e);
	if (!root)
		return wmsg_fail(reason, reason_len, "body is not valid JSON", &e);
	n = json_is_array(root) ? json_array_size(root) : 0;
	if (!json_is_array(root) || n == 0 || n > max_items) {
		(void)snprintf(reason, reason_len,
			       "a batch push body must be a JSON array of 1 to %zu messages", max_items);
		goto fail;
	}
	out->items = calloc(n, sizeof *out->items);
	sp = calloc(n, sizeof *sp);
	had_uid = calloc(n, sizeof *had_uid);
	/* The compact form is rarely longer than the body: one allocation, usually
	 * (3 NULs an item). */
	wbuf_put(&arena, "", 0);
	if (!arena.oom && n < SIZE_MAX / 4 && len < SIZE_MAX / 2 && arena.cap < len + 3 * n + 64)
		wbuf_reserve(&arena, len + 3 * n + 64);
	if (!out->items || !sp || !had_uid || arena.oom) {
		wmsg_fail(reason, reason_len, "out of memory", NULL);
		goto fail;
	}
	out->n = n;
	for (size_t i = 0; i < n; i++) {
		size_t before = arena.len;

		out->items[i].error = wmsg_batch_one(json_array_get(root, i), max_uid, &arena,
						     &out->items[i], &sp[i]);
		had_uid[i] = arena.len > before;
	}
	if (arena.oom) {
		wmsg_fail(reason, reason_len, "out of memory", NULL);
		goto fail;
	}
	out->arena = arena.p;
	arena.p = NULL;
	wmsg_batch_point(out, sp, had_uid);
	rc = 0;
fail:
	free(arena.p);
	free(sp);
	free(had_uid);
	json_decref(root);
	return rc;
}

void wmsg_batch_free(struct wmsg_batch *b)
{
	free(b->arena);
	free(b->items);
	memset(b, 0, sizeof *b);
}

static void wbuf_u64(struct wbuf *b, uint64_t v)
{
	char num[24];
	int n = snprintf(num, sizeof num, "%" PRIu64, v);

	wbuf_put(b, num, n > 0 ? (size_t)n : 0);
}

/* ,"seq":N and, unless acked is negative, ,"acked":true|false */
static void wbuf_seq(struct wbuf *b, uint64_t seq, int acked)
{
	wbuf_lit(b, ",\"seq\":");
	wbuf_u64(b, seq);
	if (acked > 0)
		wbuf_lit(b, ",\"acked\":true");
	else if (acked == 0)
		wbuf_lit(b, ",\"acked\":false");
}

static const char *wmsg_outcome_topic(enum wmsg_outcome o)
{
	switch (o) {
	case WMSG_DELIVERED: return "success";
	case WMSG_STORED: return "stored";
	case WMSG_ERROR: break;
	}
	return "error";
}

/* One item's object in the batch answer. */
static void wmsg_batch_entry(struct wbuf *w, const struct wmsg_batch_item *it,
			     const struct wmsg_batch_result *r)
{
	const char *topic = wmsg_outcome_topic(r->outcome);

	wbuf_lit(w, "{\"uid\":");
	wbuf_str(w, it->uid ? it->uid : "", it->uid ? it->uid_len : 0);
	wbuf_lit(w, ",\"topic\":");
	wbuf_str(w, topic, strlen(topic));
	wbuf_lit(w, ",\"number\":");
	wbuf_u64(w, r->outcome == WMSG_DELIVERED ? r->number : 0);
	wbuf_lit(w, ",\"contents\":");
	wbuf_str(w, r->contents, strlen(r->contents));
	if (r->outcome == WMSG_STORED)
		wbuf_seq(w, r->seq, -1);
	else if (r->outcome == WMSG_DELIVERED && r->ack)
		wbuf_seq(w, r->seq, r->acked != 0);
	if (r->status) {
		char num[16];
		int n = snprintf(num, sizeof num, "%d", r->status);

		wbuf_lit(w, ",\"status\":");
		wbuf_put(w, num, n > 0 ? (size_t)n : 0);
	}
	wbuf_lit(w, "}");
}

char *wmsg_batch_reply(const struct wmsg_batch *b, const struct wmsg_batch_result *res,
		       size_t *len)
{
	struct wbuf w = { 0 };
	uint64_t reached = 0;

	for (size_t i = 0; i < b->n; i++)
		reached += res[i].outcome == WMSG_DELIVERED || res[i].outcome == WMSG_STORED;
	/* About 90 bytes an item ("推送成功" is 12 of them), seq and acked 30 more. */
	if (b->n < SIZE_MAX / 128)
		wbuf_reserve(&w, 64 + b->n * 128);
	wbuf_lit(&w, "{\"topic\":\"success\",\"number\":");
	wbuf_u64(&w, reached);
	wbuf_lit(&w, ",\"contents\":[");
	for (size_t i = 0; i < b->n; i++) {
		if (i)
			wbuf_lit(&w, ",");
		wmsg_batch_entry(&w, &b->items[i], &res[i]);
	}
	wbuf_lit(&w, "]}");
	if (w.oom) {
		free(w.p);
		return NULL;
	}
	*len = w.len;
	return w.p;
}

void wmsg_push_free(struct wmsg_push *p)
{
	free(p->topic_json);
	free(p->contents_json);
	memset(p, 0, sizeof *p);
}

/* {"topic":T,"number":N,"contents":C without its closing brace. */
static void wmsg_reply_open(struct wbuf *b, const char *topic, long long number,
			    const char *contents)
{
	char num[32];
	int n = snprintf(num, sizeof num, "%lld", number);

	wbuf_put(b, "{\"topic\":", 9);
	wbuf_str(b, topic, strlen(topic));
	wbuf_put(b, ",\"number\":", 10);
	wbuf_put(b, num, n > 0 ? (size_t)n : 0);
	wbuf_put(b, ",\"contents\":", 12);
	wbuf_str(b, contents, strlen(contents));
}

static char *wmsg_reply_close(struct wbuf *b, size_t *len)
{
	wbuf_put(b, "}", 1);
	if (b->oom) {
		free(b->p);
		return NULL;
	}
	*len = b->len;
	return b->p;
}

char *wmsg_reply(const char *topic, long long number, const char *contents, size_t *len)
{
	struct wbuf b = { 0 };

	wmsg_reply_open(&b, topic, number, contents);
	return wmsg_reply_close(&b, len);
}

char *wmsg_reply_seq(const char *topic, long long number, const char *contents, uint64_t seq,
		     int acked, size_t *len)
{
	struct wbuf b = { 0 };

	wmsg_reply_open(&b, topic, number, contents);
	wbuf_seq(&b, seq, acked);
	return wmsg_reply_close(&b, len);
}

#define WMSG_P1 "{\"topic\":"
#define WMSG_P2 ",\"number\":"
#define WMSG_P3 ",\"contents\":"
#define WMSG_P4 "}"
#define WMSG_FIXED (sizeof WMSG_P1 + sizeof WMSG_P2 + sizeof WMSG_P3 + sizeof WMSG_P4 - 4)
#define WMSG_NUM_MAX 20 /* digits of UINT64_MAX */

size_t wmsg_frame_max(size_t topic_len, size_t contents_len)
{
	if (topic_len > SIZE_MAX / 4 || contents_len > SIZE_MAX / 4)
		return SIZE_MAX;
	return WMSG_FIXED + WMSG_NUM_MAX + topic_len + contents_len;
}

size_t wmsg_frame_len(size_t topic_len, uint64_t number, size_t contents_len)
{
	size_t digits = 1;

	if (wmsg_frame_max(topic_len, contents_len) == SIZE_MAX)
		return SIZE_MAX;
	while (number >= 10) {
		number /= 10;
		digits++;
	}
	return WMSG_FIXED + digits + topic_len + contents_len;
}

size_t wmsg_frame_write(char *out, size_t cap, const char *topic_json, size_t topic_len,
			uint64_t number, const char *contents_json, size_t contents_len)
{
	char num[WMSG_NUM_MAX + 1];
	int nl = snprintf(num, sizeof num, "%" PRIu64, number);
	size_t o = 0;

	if (nl <= 0 || wmsg_frame_len(topic_len, number, contents_len) > cap)
		return 0;
#define PUT(s, n) do { memcpy(out + o, (s), (n)); o += (n); } while (0)
	PUT(WMSG_P1, sizeof WMSG_P1 - 1);
	PUT(topic_json, topic_len);
	PUT(WMSG_P2, sizeof WMSG_P2 - 1);
	PUT(num, (size_t)nl);
	PUT(WMSG_P3, sizeof WMSG_P3 - 1);
	PUT(contents_json, contents_len);
	PUT(WMSG_P4, sizeof WMSG_P4 - 1);
#undef PUT
	return o;
}
