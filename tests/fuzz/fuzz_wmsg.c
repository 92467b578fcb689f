/* SPDX-License-Identifier: MIT */
/* libFuzzer driver for shared/wmsg.c: /push bodies (single and batch) and the control API's
 * (multicast, presence list, broadcast) must re-serialise to JSON that jansson reads back as
 * the same values, answers must name what they were given, frames must be exact 3-key objects. */
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fuzz_check.h"
#include "req.h"
#include "wmsg.h"

#define BODY_FLAGS (JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL)
#define PART_FLAGS (JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL)

/* Parses text[0..len) (a serialised part) and checks it equals want. */
static void check_part(const char *text, size_t len, const json_t *want)
{
	json_error_t e;
	json_t *j;

	FUZZ_CHECK(text != NULL);
	/* NUL-terminated, no raw NUL inside: NULs in strings are escaped. */
	FUZZ_CHECK(text[len] == '\0' && strlen(text) == len);
	j = json_loadb(text, len, PART_FLAGS, &e);
	if (!j)
		fprintf(stderr, "re-parse failed: %s in %.*s\n", e.text, (int)len, text);
	FUZZ_CHECK(j != NULL);
	FUZZ_CHECK(json_equal(j, want));
	json_decref(j);
}

/* What push-api answers for the batch (every item named, uid_len bytes each):
 * valid JSON with one entry per item, each carrying that item's uid. */
static void check_batch_reply(const struct wmsg_batch *b)
{
	struct wmsg_batch_result *res = calloc(b->n, sizeof *res);
	json_t *j, *list;
	size_t len = 0;
	char *out;

	FUZZ_CHECK(res != NULL);
	for (size_t i = 0; i < b->n; i++) {
		/* Every outcome in turn among the valid items. */
		enum wmsg_outcome o = b->items[i].error ? WMSG_ERROR : (enum wmsg_outcome)(i % 3);

		res[i] = (struct wmsg_batch_result){
			.outcome = o, .number = i,
			.contents = b->items[i].error ? b->items[i].error : "ok",
			.status = o == WMSG_ERROR && i % 3 == 2 ? 503 : 0,
			.ack = b->items[i].ack, .acked = (int)(i & 1), .seq = i * 0x9E3779B9u };
	}
	out = wmsg_batch_reply(b, res, &len);
	FUZZ_CHECK(out != NULL && strlen(out) == len);
	j = json_loadb(out, len, BODY_FLAGS, NULL);
	list = json_object_get(j, "contents");
	FUZZ_CHECK(json_is_array(list) && json_array_size(list) == b->n);
	for (size_t i = 0; i < b->n; i++) {
		const json_t *e = json_array_get(list, i);
		const json_t *u = json_object_get(e, "uid");
		const json_t *seq = json_object_get(e, "seq"), *acked = json_object_get(e, "acked");
		size_t ul = b->items[i].uid ? b->items[i].uid_len : 0;
		int with_seq = res[i].outcome == WMSG_STORED ||
			       (res[i].outcome == WMSG_DELIVERED && res[i].ack);

		FUZZ_CHECK(json_is_string(u) && json_string_length(u) == ul);
		FUZZ_CHECK(ul == 0 || memcmp(json_string_value(u), b->items[i].uid, ul) == 0);
		FUZZ_CHECK(with_seq ? json_is_integer(seq) &&
				      (uint64_t)json_integer_value(seq) == res[i].seq
				    : seq == NULL);
		FUZZ_CHECK(res[i].outcome == WMSG_DELIVERED && res[i].ack
				   ? json_is_boolean(acked) && json_is_true(acked) == res[i].acked
				   : acked == NULL);
	}
	json_decref(j);
	free(out);
	free(res);
}

/* The spliced frame for this number parses as exactly {"topic","number","contents"}. */
static void check_frame(const struct wmsg_push *p, const json_t *topic, const json_t *contents,
			uint64_t number)
{
	size_t cap = wmsg_frame_max(p->topic_len, p->contents_len), n, digits;
	char *buf, num[24];
	json_error_t e;
	json_t *f;

	FUZZ_CHECK(cap != SIZE_MAX);
	buf = malloc(cap);
	FUZZ_CHECK(buf != NULL);
	/* The exact length is enough, one byte less is not. */
	n = wmsg_frame_len(p->topic_len, number, p->contents_len);
	FUZZ_CHECK(n <= cap);
	FUZZ_CHECK(wmsg_frame_write(buf, n - 1, p->topic_json, p->topic_len, number,
				    p->contents_json, p->contents_len) == 0);
	FUZZ_CHECK(wmsg_frame_write(buf, n, p->topic_json, p->topic_len, number,
				    p->contents_json, p->contents_len) == n);
	n = wmsg_frame_write(buf, cap, p->topic_json, p->topic_len, number, p->contents_json,
			     p->contents_len);
	digits = (size_t)snprintf(num, sizeof num, "%" PRIu64, number);
	FUZZ_CHECK(n == cap - 20 + digits);
	if (number <= INT64_MAX) {
		/* jansson reads integers as json_int_t (64-bit signed). */
		f = json_loadb(buf, n, BODY_FLAGS, &e);
		if (!f)
			fprintf(stderr, "frame does not parse: %s in %.*s\n", e.text, (int)n, buf);
		FUZZ_CHECK(f != NULL && json_is_object(f));
		FUZZ_CHECK(json_object_size(f) == 3);
		FUZZ_CHECK(json_equal(json_object_get(f, "topic"), topic));
		FUZZ_CHECK(json_is_integer(json_object_get(f, "number")));
		FUZZ_CHECK((uint64_t)json_integer_value(json_object_get(f, "number")) == number);
		FUZZ_CHECK(json_equal(json_object_get(f, "contents"), contents));
		json_decref(f);
	} else {
		FUZZ_CHECK(memcmp(buf + 9 + p->topic_len + 10, num, digits) == 0);
	}
	free(buf);
}

/* wmsg_reply with the topic text and the contents JSON text as plain strings. */
static void check_reply(const json_t *topic, const struct wmsg_push *p, long long number)
{
	const char *t = json_string_value(topic);
	size_t len = 0;
	char *r;
	json_error_t e;
	json_t *f;

	if (strlen(t) != json_string_length(topic))
		return; /* C-string API: a topic with NUL cannot be passed */
	r = wmsg_reply(t, number, p->contents_json, &len);
	FUZZ_CHECK(r != NULL && strlen(r) == len);
	f = json_loadb(r, len, BODY_FLAGS, &e);
	FUZZ_CHECK(f != NULL && json_object_size(f) == 3);
	FUZZ_CHECK(json_equal(json_object_get(f, "topic"), topic));
	FUZZ_CHECK(json_integer_value(json_object_get(f, "number")) == number);
	FUZZ_CHECK(json_is_string(json_object_get(f, "contents")));
	FUZZ_CHECK(json_string_length(json_object_get(f, "contents")) == p->contents_len);
	FUZZ_CHECK(memcmp(json_string_value(json_object_get(f, "contents")), p->contents_json,
			  p->contents_len) == 0);
	json_decref(f);
	free(r);
}

static uint64_t fnv(const uint8_t *d, size_t n)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ d[i]) * 1099511628211ull;
	return h;
}

static void check_push(const uint8_t *data, size_t size, const json_t *root)
{
	struct wmsg_push p, p2;
	char reason[256] = "";
	const json_t *topic = NULL, *contents = NULL, *ack;
	int model_ok, rc;

	rc = wmsg_parse_push((const char *)data, size, &p, reason, sizeof reason);
	if (json_is_object(root)) {
		topic = json_object_get(root, "topic");
		contents = json_object_get(root, "contents");
	}
	ack = json_object_get(root, "ack"); /* NULL unless root is an object */
	model_ok = json_is_string(topic) && contents != NULL && (!ack || json_is_boolean(ack));
	FUZZ_CHECK((rc == 0) == model_ok);
	if (rc != 0) {
		FUZZ_CHECK(rc == -1 && reason[0] != '\0');
		FUZZ_CHECK(p.topic_json == NULL && p.contents_json == NULL);
		return;
	}
	check_part(p.topic_json, p.topic_len, topic);
	check_part(p.contents_json, p.contents_len, contents);
	FUZZ_CHECK(p.ack == json_is_true(ack));

	/* The serialisation is canonical: feeding it back gives the same bytes. */
	{
		size_t blen = p.topic_len + p.contents_len + 32;
		char *body = malloc(blen);
		int n;

		FUZZ_CHECK(body != NULL);
		n = snprintf(body, blen, "{\"topic\":%s,\"contents\":%s}", p.topic_json,
			     p.contents_json);
		FUZZ_CHECK(n > 0 && (size_t)n < blen);
		FUZZ_CHECK(wmsg_parse_push(body, (size_t)n, &p2, reason, sizeof reason) == 0);
		FUZZ_CHECK(p2.topic_len == p.topic_len &&
			   memcmp(p2.topic_json, p.topic_json, p.topic_len) == 0);
		FUZZ_CHECK(p2.contents_len == p.contents_len &&
			   memcmp(p2.contents_json, p.contents_json, p.contents_len) == 0);
		wmsg_push_free(&p2);
		free(body);
	}

	check_frame(&p, topic, contents, 0);
	check_frame(&p, topic, contents, fnv(data, size) & INT64_MAX);
	check_frame(&p, topic, contents, UINT64_MAX);
	check_reply(topic, &p, (long long)(fnv(data, size) >> 1) - (1ll << 62));
	wmsg_push_free(&p);
	FUZZ_CHECK(p.topic_json == NULL && p.contents_json == NULL);
}

static void check_batch(const uint8_t *data, size_t size, const json_t *root, size_t max_items,
			size_t max_uid)
{
	struct wmsg_batch b;
	char reason[256] = "";
	int rc = wmsg_parse_batch((const char *)data, size, max_items, max_uid, &b, reason,
				  sizeof reason);
	size_t n = json_is_array(root) ? json_array_size(root) : 0;

	FUZZ_CHECK((rc == 0) == (n >= 1 && n <= max_items));
	if (rc != 0) {
		FUZZ_CHECK(rc == -1 && reason[0] != '\0');
		FUZZ_CHECK(b.n == 0 && b.items == NULL);
		wmsg_batch_free(&b);
		return;
	}
	FUZZ_CHECK(b.n == n && b.items != NULL);
	for (size_t i = 0; i < n; i++) {
		const struct wmsg_batch_item *it = &b.items[i];
		const json_t *o = json_array_get(root, i);
		const json_t *uid = json_object_get(o, "uid"); /* NULL unless o is an object */
		const json_t *topic = json_object_get(o, "topic");
		const json_t *contents = json_object_get(o, "contents");
		const json_t *ack = json_object_get(o, "ack");
		int ok = json_is_object(o) && json_is_string(uid) && json_is_string(topic) &&
			 contents != NULL && (!ack || json_is_boolean(ack)) &&
			 req_uid_problem(json_string_value(uid), json_string_length(uid), max_uid) ==
				 NULL;

		if (it->uid) {
			/* wmsg.h: uid is NUL-terminated after uid_len bytes (ASan flags this read
			 * when uid_len overstates the allocation), and holds the item's uid. */
			FUZZ_CHECK(json_is_string(uid));
			FUZZ_CHECK(it->uid[it->uid_len] == '\0');
			FUZZ_CHECK(it->uid_len <= json_string_length(uid) &&
				   memcmp(it->uid, json_string_value(uid), it->uid_len) == 0);
			/* A uid with no NUL inside comes through whole. */
			if (strlen(json_string_value(uid)) == json_string_length(uid))
				FUZZ_CHECK(it->uid_len == json_string_length(uid));
		} else {
			FUZZ_CHECK(it->error != NULL);
		}
		FUZZ_CHECK((it->error == NULL) == ok);
		if (it->error) {
			FUZZ_CHECK(it->topic_json == NULL && it->contents_json == NULL);
			continue;
		}
		FUZZ_CHECK(it->uid != NULL);
		FUZZ_CHECK(req_uid_problem(it->uid, it->uid_len, max_uid) == NULL);
		check_part(it->topic_json, it->topic_len, topic);
		check_part(it->contents_json, it->contents_len, contents);
		FUZZ_CHECK(it->ack == json_is_true(ack));
	}
	check_batch_reply(&b);
	wmsg_batch_free(&b);
	FUZZ_CHECK(b.n == 0 && b.items == NULL);
}

/* A multicast body: the whole fails only for its shape or its message; each uid
 * is its own item (refused alone); the message is one copy shared by all. */
static void check_multicast(const uint8_t *data, size_t size, const json_t *root,
			    size_t max_items, size_t max_uid)
{
	struct wmsg_batch b;
	char reason[256] = "";
	int rc = wmsg_parse_multicast((const char *)data, size, max_items, max_uid, &b, reason,
				      sizeof reason);
	const json_t *uids = json_object_get(root, "uids"), *topic = json_object_get(root, "topic");
	const json_t *contents = json_object_get(root, "contents");
	size_t n = json_is_array(uids) ? json_array_size(uids) : 0;
	const char *first = NULL;

	FUZZ_CHECK((rc == 0) == (n >= 1 && n <= max_items && json_is_string(topic) &&
				 contents != NULL && json_object_get(root, "ack") == NULL));
	if (rc != 0) {
		FUZZ_CHECK(rc == -1 && reason[0] != '\0' && b.n == 0 && b.items == NULL);
		wmsg_batch_free(&b);
		return;
	}
	FUZZ_CHECK(b.n == n);
	for (size_t i = 0; i < n; i++) {
		const struct wmsg_batch_item *it = &b.items[i];
		const json_t *u = json_array_get(uids, i);
		int ok = json_is_string(u) &&
			 req_uid_problem(json_string_value(u), json_string_length(u), max_uid) == NULL;

		FUZZ_CHECK((it->error == NULL) == ok && it->ack == 0);
		FUZZ_CHECK(json_is_string(u) ? it->uid != NULL && it->uid[it->uid_len] == '\0' &&
						       it->uid_len == json_string_length(u) &&
						       memcmp(it->uid, json_string_value(u),
							      it->uid_len) == 0
					     : it->uid == NULL);
		if (!ok) {
			FUZZ_CHECK(it->topic_json == NULL && it->contents_json == NULL);
			continue;
		}
		if (!first) {
			check_part(it->topic_json, it->topic_len, topic);
			check_part(it->contents_json, it->contents_len, contents);
			first = it->topic_json;
		}
		FUZZ_CHECK(it->topic_json == first); /* one copy */
	}
	check_batch_reply(&b);
	wmsg_batch_free(&b);
}

/* The presence answer for a parsed list: each distinct uid once, with its first
 * count (null when unknown), "number" the distinct uids known to be online. */
static void check_presence_reply(const struct wmsg_batch *b, const uint8_t *data, size_t size)
{
	uint64_t *conns = calloc(b->n, sizeof *conns), online = 0;
	static const unsigned gone[] = { 3, 63 };
	const struct wmsg_missing m = { gone, size & 1 ? 2 : 0 };
	json_t *j, *c, *want = json_object();
	size_t len = 0;
	char *out;

	FUZZ_CHECK(conns != NULL && want != NULL);
	for (size_t i = 0; i < b->n; i++) {
		uint64_t h = fnv(data, size) >> (i % 60);

		conns[i] = h % 5 == 4 ? WMSG_UNKNOWN : h % 4;
		if (json_object_get(want, b->items[i].uid))
			continue;
		online += conns[i] != WMSG_UNKNOWN && conns[i] > 0;
		FUZZ_CHECK(json_object_set_new(want, b->items[i].uid,
					       conns[i] == WMSG_UNKNOWN ? json_null()
									: json_integer((json_int_t)conns[i])) == 0);
	}
	out = wmsg_presence_many(b, conns, &m, &len);
	FUZZ_CHECK(out != NULL && strlen(out) == len);
	j = json_loadb(out, len, BODY_FLAGS, NULL);
	c = json_object_get(j, "contents");
	FUZZ_CHECK(json_is_object(c) && json_equal(c, want));
	FUZZ_CHECK((uint64_t)json_integer_value(json_object_get(j, "number")) == online);
	FUZZ_CHECK((json_object_get(j, "partial") != NULL) == (m.n > 0));
	json_decref(j);
	json_decref(want);
	free(out);
	free(conns);
}

/* A presence list: accepted only when every item is a uid under the rule. */
static void check_uids(const uint8_t *data, size_t size, const json_t *root, size_t max_items,
		       size_t max_uid)
{
	struct wmsg_batch b;
	char reason[256] = "";
	int rc = wmsg_parse_uids((const char *)data, size, max_items, max_uid, &b, reason,
				 sizeof reason);
	size_t n = json_is_array(root) ? json_array_size(root) : 0;
	int ok = n >= 1 && n <= max_items;

	for (size_t i = 0; ok && i < n; i++) {
		const json_t *u = json_array_get(root, i);

		ok = json_is_string(u) &&
		     req_uid_problem(json_string_value(u), json_string_length(u), max_uid) == NULL;
	}
	FUZZ_CHECK((rc == 0) == ok);
	if (rc != 0) {
		FUZZ_CHECK(rc == -1 && reason[0] != '\0' && b.n == 0 && b.items == NULL);
		wmsg_batch_free(&b);
		return;
	}
	FUZZ_CHECK(b.n == n);
	for (size_t i = 0; i < n; i++) {
		const struct wmsg_batch_item *it = &b.items[i];
		const json_t *u = json_array_get(root, i);

		FUZZ_CHECK(it->error == NULL && it->topic_json == NULL && it->contents_json == NULL);
		FUZZ_CHECK(it->uid_len == json_string_length(u) && it->uid[it->uid_len] == '\0');
		FUZZ_CHECK(memcmp(it->uid, json_string_value(u), it->uid_len) == 0);
	}
	check_presence_reply(&b, data, size);
	wmsg_batch_free(&b);
}

/* A broadcast body: the /push rules, minus "ack" of any value. */
static void check_broadcast(const uint8_t *data, size_t size, const json_t *root)
{
	struct wmsg_push p;
	char reason[256] = "";
	int rc = wmsg_parse_broadcast((const char *)data, size, &p, reason, sizeof reason);
	const json_t *topic = json_object_get(root, "topic");

	FUZZ_CHECK((rc == 0) == (json_is_string(topic) && json_object_get(root, "contents") &&
				 !json_object_get(root, "ack")));
	if (rc != 0) {
		FUZZ_CHECK(reason[0] != '\0' && p.topic_json == NULL && p.contents_json == NULL);
		return;
	}
	FUZZ_CHECK(p.ack == 0);
	check_part(p.topic_json, p.topic_len, topic);
	check_part(p.contents_json, p.contents_len, json_object_get(root, "contents"));
	wmsg_push_free(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t e;
	/* The same reading the service does, as the reference for what must come back. */
	json_t *root = json_loadb((const char *)data, size, BODY_FLAGS, &e);

	check_push(data, size, root);
	check_batch(data, size, root, 1024, 256);
	check_batch(data, size, root, 2, 4);
	check_multicast(data, size, root, 1024, 256);
	check_multicast(data, size, root, 2, 4);
	check_uids(data, size, root, 1024, 256);
	check_uids(data, size, root, 2, 4);
	check_broadcast(data, size, root);
	json_decref(root);
	return 0;
}
