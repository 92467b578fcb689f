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

/* The /push rules for a message object's topic and contents; the reason, or NULL. */
static const char *wmsg_message_problem(const json_t *msg)
{
	const json_t *topic = json_object_get(msg, "topic");

	if (!topic)
		return "body lacks \"topic\"";
	if (!json_is_string(topic))
		return "\"topic\" must be a string";
	if (!json_object_get(msg, "contents"))
		return "body lacks \"contents\"";
	return NULL;
}

/* A body as JSON, by the rules every body shares (no duplicate keys; NUL
 * allowed inside strings); NULL with the reason written. */
static json_t *wmsg_load(const char *body, size_t len, char *reason, size_t reason_len)
{
	json_error_t e;
	json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &e);

	if (!root)
		wmsg_fail(reason, reason_len, "body is not valid JSON", &e);
	return root;
}

/* A message of the /push rules; no_ack NULL: "ack" may ask for an
 * acknowledgement, else a body with "ack" is refused with no_ack as the reason. */
static int wmsg_parse_message(const char *body, size_t len, struct wmsg_push *out,
			      const char *no_ack, char *reason, size_t reason_len)
{
	json_t *root;
	const char *why;
	int rc = -1;

	memset(out, 0, sizeof *out);
	root = wmsg_load(body, len, reason, reason_len);
	if (!root)
		return -1;
	why = json_is_object(root) ? wmsg_message_problem(root) : "body must be a JSON object";
	if (!why && no_ack && json_object_get(root, "ack"))
		why = no_ack;
	if (!why && wmsg_ack(root, &out->ack) != 0)
		why = WMSG_ACK_BAD;
	if (why) {
		wmsg_fail(reason, reason_len, why, NULL);
		goto fail;
	}
	out->topic_json = wmsg_dump(json_object_get(root, "topic"), &out->topic_len);
	out->contents_json = wmsg_dump(json_object_get(root, "contents"), &out->contents_len);
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

int wmsg_parse_push(const char *body, size_t len, struct wmsg_push *out, char *reason,
		    size_t reason_len)
{
	return wmsg_parse_message(body, len, out, NULL, reason, reason_len);
}

int wmsg_parse_broadcast(const char *body, size_t len, struct wmsg_push *out, char *reason,
			 size_t reason_len)
{
	return wmsg_parse_message(body, len, out, "ack is not supported for broadcast", reason,
				  reason_len);
}

/* Where one batch item's strings sit in the batch's arena while it still grows.
 * An empty topic span: the item carries no message (a list of uids). */
struct wmsg_spans {
	size_t uid, topic, topic_end, contents, contents_end;
};

/* A struct wmsg_batch being built: its strings go to the arena, which moves
 * while it grows, so the items get their pointers once it is complete. */
struct wmsg_build {
	struct wbuf arena;
	struct wmsg_spans *sp;
	int *had_uid;
};

/* Room for n items parsed from a body of len bytes; -1 when out of memory
 * (out then holds what was allocated: wmsg_batch_free). */
static int wmsg_build_start(struct wmsg_build *w, struct wmsg_batch *out, size_t n, size_t len)
{
	memset(w, 0, sizeof *w);
	out->items = calloc(n, sizeof *out->items);
	w->sp = calloc(n, sizeof *w->sp);
	w->had_uid = calloc(n, sizeof *w->had_uid);
	/* The compact form is rarely longer than the body: one allocation, usually
	 * (3 NULs an item). */
	wbuf_put(&w->arena, "", 0);
	if (!w->arena.oom && n < SIZE_MAX / 4 && len < SIZE_MAX / 2)
		wbuf_reserve(&w->arena, len + 3 * n + 64);
	if (!out->items || !w->sp || !w->had_uid || w->arena.oom)
		return -1;
	out->n = n;
	return 0;
}

/* Hands the arena to out and points every item into it, now that it no longer moves. */
static void wmsg_build_finish(struct wmsg_build *w, struct wmsg_batch *out)
{
	out->arena = w->arena.p;
	w->arena.p = NULL;
	for (size_t i = 0; i < out->n; i++) {
		struct wmsg_batch_item *it = &out->items[i];
		const struct wmsg_spans *sp = &w->sp[i];

		it->uid = w->had_uid[i] ? out->arena + sp->uid : NULL;
		if (it->error || sp->topic_end == sp->topic)
			continue;
		it->topic_json = out->arena + sp->topic;
		it->topic_len = sp->topic_end - sp->topic;
		it->contents_json = out->arena + sp->contents;
		it->contents_len = sp->contents_end - sp->contents;
	}
}

static void wmsg_build_free(struct wmsg_build *w)
{
	free(w->arena.p);
	free(w->sp);
	free(w->had_uid);
	memset(w, 0, sizeof *w);
}

/* Appends item i's uid (a JSON string) to the arena, all uid_len bytes (a
 * "\u0000" inside included) and a NUL: kept even when the uid is refused, so
 * the answer can name it. Returns why the uid is refused, or NULL. */
static const char *wmsg_put_uid(struct wmsg_build *w, size_t i, const json_t *uid,
				size_t max_uid, struct wmsg_batch_item *it)
{
	it->uid_len = json_string_length(uid);
	w->sp[i].uid = w->arena.len;
	w->had_uid[i] = 1;
	wbuf_put(&w->arena, json_string_value(uid), it->uid_len);
	wbuf_put(&w->arena, "", 1);
	return req_uid_problem(json_string_value(uid), it->uid_len, max_uid);
}

/* Appends topic and contents as compact JSON, each NUL-terminated as
 * wmsg_push's are, into the spans of *sp. */
static void wmsg_put_message(struct wbuf *arena, const json_t *topic, const json_t *contents,
			     struct wmsg_spans *sp)
{
	sp->topic = arena->len;
	wbuf_json(arena, topic);
	sp->topic_end = arena->len;
	wbuf_put(arena, "", 1);
	sp->contents = arena->len;
	wbuf_json(arena, contents);
	sp->contents_end = arena->len;
	wbuf_put(arena, "", 1);
}

/* Batch item i: its uid and message into the arena; returns why it is refused, or NULL. */
static const char *wmsg_batch_one(struct wmsg_build *w, size_t i, const json_t *o,
				  size_t max_uid, struct wmsg_batch_item *it)
{
	const json_t *uid = json_object_get(o, "uid"), *topic, *contents;
	const char *why;

	if (!json_is_object(o))
		return "message must be a JSON object";
	topic = json_object_get(o, "topic");
	contents = json_object_get(o, "contents");
	if (!json_is_string(uid))
		return "\"uid\" must be a string";
	why = wmsg_put_uid(w, i, uid, max_uid, it);
	if (why)
		return why;
	if (!json_is_string(topic))
		return "\"topic\" must be a string";
	if (!contents)
		return "message lacks \"contents\"";
	if (wmsg_ack(o, &it->ack) != 0)
		return WMSG_ACK_BAD;
	wmsg_put_message(&w->arena, topic, contents, &w->sp[i]);
	return NULL;
}

/* 1 when j is a JSON array of 1..max_items; else 0 with the reason written
 * ("<what> must be a JSON array of 1 to <max_items> <unit>"). */
static int wmsg_list_ok(const json_t *j, size_t max_items, const char *what, const char *unit,
			char *reason, size_t reason_len)
{
	size_t n = json_is_array(j) ? json_array_size(j) : 0;

	if (n >= 1 && n <= max_items)
		return 1;
	(void)snprintf(reason, reason_len, "%s must be a JSON array of 1 to %zu %s", what,
		       max_items, unit);
	return 0;
}

int wmsg_parse_batch(const char *body, size_t len, size_t max_items, size_t max_uid,
		     struct wmsg_batch *out, char *reason, size_t reason_len)
{
	struct wmsg_build w = { 0 };
	json_t *root;
	int rc = -1;

	memset(out, 0, sizeof *out);
	root = wmsg_load(body, len, reason, reason_len);
	if (!root)
		return -1;
	if (!wmsg_list_ok(root, max_items, "a batch push body", "messages", reason, reason_len))
		goto fail;
	if (wmsg_build_start(&w, out, json_array_size(root), len) != 0)
		goto oom;
	for (size_t i = 0; i < out->n; i++)
		out->items[i].error = wmsg_batch_one(&w, i, json_array_get(root, i), max_uid,
						     &out->items[i]);
	if (w.arena.oom)
		goto oom;
	wmsg_build_finish(&w, out);
	rc = 0;
	goto fail;
oom:
	wmsg_fail(reason, reason_len, "out of memory", NULL);
	wmsg_batch_free(out);
fail:
	wmsg_build_free(&w);
	json_decref(root);
	return rc;
}

/* One item per uid of the array, each with its own error if any, and all
 * sharing one copy of the message unless topic is NULL. -1 when out of memory. */
static int wmsg_uid_items(const json_t *uids, const json_t *topic, const json_t *contents,
			  size_t max_uid, size_t len, struct wmsg_batch *out)
{
	struct wmsg_build w;
	struct wmsg_spans msg = { 0 };
	int rc = -1;

	if (wmsg_build_start(&w, out, json_array_size(uids), len) != 0)
		goto out;
	if (topic)
		wmsg_put_message(&w.arena, topic, contents, &msg);
	for (size_t i = 0; i < out->n; i++) {
		const json_t *u = json_array_get(uids, i);
		struct wmsg_spans *sp = &w.sp[i];

		out->items[i].error = json_is_string(u)
					      ? wmsg_put_uid(&w, i, u, max_uid, &out->items[i])
					      : "uid must be a string";
		*sp = (struct wmsg_spans){ sp->uid, msg.topic, msg.topic_end, msg.contents,
					   msg.contents_end };
	}
	if (!w.arena.oom) {
		wmsg_build_finish(&w, out);
		rc = 0;
	}
out:
	wmsg_build_free(&w);
	return rc;
}

/* What makes a multicast body unusable as a whole (uids checked by the caller). */
static const char *wmsg_multicast_problem(const json_t *root)
{
	if (!json_is_object(root))
		return "body must be a JSON object";
	if (!json_object_get(root, "uids"))
		return "body lacks \"uids\"";
	if (json_object_get(root, "ack"))
		return "ack is not supported for multicast";
	return wmsg_message_problem(root);
}

int wmsg_parse_multicast(const char *body, size_t len, size_t max_items, size_t max_uid,
			 struct wmsg_batch *out, char *reason, size_t reason_len)
{
	json_t *root;
	const char *why;
	int rc = -1;

	memset(out, 0, sizeof *out);
	root = wmsg_load(body, len, reason, reason_len);
	if (!root)
		return -1;
	why = wmsg_multicast_problem(root);
	if (why) {
		wmsg_fail(reason, reason_len, why, NULL);
		goto out;
	}
	if (!wmsg_list_ok(json_object_get(root, "uids"), max_items, "\"uids\"", "uids", reason,
			  reason_len))
		goto out;
	if (wmsg_uid_items(json_object_get(root, "uids"), json_object_get(root, "topic"),
			   json_object_get(root, "contents"), max_uid, len, out) != 0) {
		wmsg_fail(reason, reason_len, "out of memory", NULL);
		wmsg_batch_free(out);
		goto out;
	}
	rc = 0;
out:
	json_decref(root);
	return rc;
}

/* The first refused uid fails the whole list: its answer has no room for one
 * item's error. */
static int wmsg_uids_refused(struct wmsg_batch *out, char *reason, size_t reason_len)
{
	for (size_t i = 0; i < out->n; i++) {
		if (!out->items[i].error)
			continue;
		(void)snprintf(reason, reason_len, "uid at index %zu: %s", i, out->items[i].error);
		wmsg_batch_free(out);
		return -1;
	}
	return 0;
}

int wmsg_parse_uids(const char *body, size_t len, size_t max_items, size_t max_uid,
		    struct wmsg_batch *out, char *reason, size_t reason_len)
{
	json_t *root;
	int rc = -1;

	memset(out, 0, sizeof *out);
	root = wmsg_load(body, len, reason, reason_len);
	if (!root)
		return -1;
	if (!wmsg_list_ok(root, max_items, "body", "uids", reason, reason_len))
		goto out;
	if (wmsg_uid_items(root, NULL, NULL, max_uid, len, out) != 0) {
		wmsg_fail(reason, reason_len, "out of memory", NULL);
		wmsg_batch_free(out);
		goto out;
	}
	rc = wmsg_uids_refused(out, reason, reason_len);
out:
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

char *wmsg_reply_flag(const char *topic, long long number, const char *contents,
		      const char *flag, size_t *len)
{
	struct wbuf b = { 0 };

	wmsg_reply_open(&b, topic, number, contents);
	if (flag) {
		wbuf_lit(&b, ",");
		wbuf_str(&b, flag, strlen(flag));
		wbuf_lit(&b, ":true");
	}
	return wmsg_reply_close(&b, len);
}

/* {"topic":T,"number":N,"contents": with the contents still to come. */
static void wmsg_head(struct wbuf *b, const char *topic, uint64_t number)
{
	wbuf_lit(b, "{\"topic\":");
	wbuf_str(b, topic, strlen(topic));
	wbuf_lit(b, ",\"number\":");
	wbuf_u64(b, number);
	wbuf_lit(b, ",\"contents\":");
}

/* ,"partial":true,"workers_missing":[i,...] when a worker did not answer. */
static void wbuf_partial(struct wbuf *b, const struct wmsg_missing *m)
{
	if (!m || m->n == 0)
		return;
	wbuf_lit(b, ",\"partial\":true,\"workers_missing\":[");
	for (size_t i = 0; i < m->n; i++) {
		if (i)
			wbuf_lit(b, ",");
		wbuf_u64(b, m->workers[i]);
	}
	wbuf_lit(b, "]");
}

char *wmsg_presence_one(const char *uid, size_t uid_len, uint64_t connections, size_t *len)
{
	struct wbuf b = { 0 };

	wmsg_head(&b, "presence", connections);
	wbuf_lit(&b, "{\"uid\":");
	wbuf_str(&b, uid, uid_len);
	wbuf_lit(&b, ",\"connections\":");
	wbuf_u64(&b, connections);
	wbuf_lit(&b, "}");
	return wmsg_reply_close(&b, len);
}

char *wmsg_counts_reply(const char *topic, uint64_t number, const struct wmsg_count *c,
			size_t n, const struct wmsg_missing *m, size_t *len)
{
	struct wbuf b = { 0 };

	wmsg_head(&b, topic, number);
	wbuf_lit(&b, "{");
	for (size_t i = 0; i < n; i++) {
		if (i)
			wbuf_lit(&b, ",");
		wbuf_str(&b, c[i].name, strlen(c[i].name));
		wbuf_lit(&b, ":");
		wbuf_u64(&b, c[i].value);
	}
	wbuf_lit(&b, "}");
	wbuf_partial(&b, m);
	return wmsg_reply_close(&b, len);
}

/* 1 the first time a uid is seen, 0 after; -1 when out of memory. The set's
 * keys are C strings: a valid uid has no NUL (the uid rule refuses control bytes). */
static int wmsg_first_time(json_t *seen, const char *uid)
{
	if (json_object_get(seen, uid))
		return 0;
	return json_object_set_new_nocheck(seen, uid, json_true()) == 0 ? 1 : -1;
}

/* {"u1":2,"u2":null,...}: each uid once, in the order first given; the count
 * of uids with a connection into *online. */
static void wbuf_presence(struct wbuf *w, const struct wmsg_batch *b, const uint64_t *conns,
			  uint64_t *online)
{
	json_t *seen = json_object();
	int first = 1;

	wbuf_lit(w, "{");
	for (size_t i = 0; seen && i < b->n; i++) {
		const struct wmsg_batch_item *it = &b->items[i];
		int fresh = it->uid && !it->error ? wmsg_first_time(seen, it->uid) : 0;

		w->oom |= fresh < 0;
		if (fresh <= 0)
			continue;
		if (!first)
			wbuf_lit(w, ",");
		first = 0;
		wbuf_str(w, it->uid, it->uid_len);
		wbuf_lit(w, ":");
		if (conns[i] == WMSG_UNKNOWN)
			wbuf_lit(w, "null");
		else
			wbuf_u64(w, conns[i]);
		*online += conns[i] != WMSG_UNKNOWN && conns[i] > 0;
	}
	w->oom |= !seen;
	wbuf_lit(w, "}");
	json_decref(seen);
}

char *wmsg_presence_many(const struct wmsg_batch *b, const uint64_t *conns,
			 const struct wmsg_missing *m, size_t *len)
{
	struct wbuf contents = { 0 }, w = { 0 };
	uint64_t online = 0;

	/* "number" comes first and counts what the contents hold. */
	wbuf_presence(&contents, b, conns, &online);
	wmsg_head(&w, "presence", online);
	if (contents.oom)
		w.oom = 1;
	else
		wbuf_put(&w, contents.p, contents.len);
	free(contents.p);
	wbuf_partial(&w, m);
	return wmsg_reply_close(&w, len);
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

	/* wmsg_frame_len's sum, with the digits snprintf just counted. */
	if (nl <= 0 || wmsg_frame_max(topic_len, contents_len) == SIZE_MAX ||
	    WMSG_FIXED + (size_t)nl + topic_len + contents_len > cap)
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
