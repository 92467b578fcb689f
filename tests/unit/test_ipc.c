/* SPDX-License-Identifier: MIT */
/* Unit tests for ipc/ipc.c: the FastCGI <-> ws-daemon datagram codec, its wire layout,
 * round trips, and hostile datagrams (truncated, padded, lying lengths, bad headers). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ipc.h"

#define ITEMF(u, f, t, c) { u, sizeof u - 1, f, t, sizeof t - 1, c, sizeof c - 1 }
#define ITEM(u, t, c) ITEMF(u, 0, t, c)

static const struct ipc_push_item sample_items[] = {
	ITEM("alice", "\"news\"", "{\"a\":1}"),
	ITEMF("张三", IPC_F_ACK, "\"推送\"", "[1,2,3]"),
	ITEM("b\0b", "\"\"", "null"),
	ITEMF("x", IPC_F_ACK, "", ""),
};
#define NSAMPLE (sizeof sample_items / sizeof sample_items[0])

static struct ipc_push_item items_out[IPC_MAX_ITEMS];

/* Header templates: a request (push-api's generation, no worker) and a reply
 * from worker 2 of 3. */
#define GEN 0x0A0B0C0Du
static const struct ipc_hdr *rq(uint32_t id)
{
	static struct ipc_hdr h;

	h = (struct ipc_hdr){ .req_id = id, .generation = GEN };
	return &h;
}

static const struct ipc_hdr *wk(uint32_t id)
{
	static struct ipc_hdr h;

	h = (struct ipc_hdr){ .req_id = id, .generation = GEN, .workers = 3, .index = 2 };
	return &h;
}

static uint8_t *dup_exact(const uint8_t *p, size_t n)
{
	uint8_t *q = malloc(n ? n : 1);

	assert_non_null(q);
	memcpy(q, p, n);
	return q;
}

/* Decodes from an exactly sized heap copy so ASan catches reads past len; the
 * decoded views are checked to lie inside the copy before it is freed. */
static enum ipc_rc decode_push_exact(const uint8_t *buf, size_t len, struct ipc_hdr *hdr)
{
	uint8_t *copy = dup_exact(buf, len);
	enum ipc_rc rc = ipc_decode_request(copy, len, hdr, items_out);

	if (rc == IPC_OK) {
		const char *lo = (const char *)copy, *hi = (const char *)copy + len;

		for (size_t i = 0; i < hdr->count; i++) {
			const struct ipc_push_item *it = &items_out[i];

			assert_true(it->uid >= lo && it->uid_len <= (size_t)(hi - it->uid));
			assert_true(it->topic >= lo && it->topic_len <= (size_t)(hi - it->topic));
			assert_true(it->contents >= lo &&
				    it->contents_len <= (size_t)(hi - it->contents));
		}
	}
	free(copy);
	return rc;
}

static enum ipc_rc decode_reply_exact(const uint8_t *buf, size_t len, struct ipc_hdr *hdr,
				      struct ipc_result *res, size_t max)
{
	uint8_t *copy = dup_exact(buf, len);
	enum ipc_rc rc = ipc_decode_push_reply(copy, len, hdr, res, max);

	free(copy);
	return rc;
}

static size_t encode_sample(uint8_t *buf, size_t cap)
{
	size_t n = ipc_encode_push(buf, cap, rq(0xA1B2C3D4u), sample_items, NSAMPLE);

	assert_true(n > 0);
	return n;
}

static void expect_same_item(const struct ipc_push_item *a, const struct ipc_push_item *b)
{
	assert_int_equal(a->uid_len, b->uid_len);
	assert_int_equal(a->flags, b->flags);
	assert_int_equal(a->topic_len, b->topic_len);
	assert_int_equal(a->contents_len, b->contents_len);
	assert_memory_equal(a->uid, b->uid, a->uid_len);
	if (a->topic_len)
		assert_memory_equal(a->topic, b->topic, a->topic_len);
	if (a->contents_len)
		assert_memory_equal(a->contents, b->contents, a->contents_len);
}

static void test_push_round_trip(void **state)
{
	uint8_t buf[1024];
	struct ipc_hdr hdr;
	size_t n, want = IPC_HDR_LEN;

	(void)state;
	for (size_t i = 0; i < NSAMPLE; i++)
		want += IPC_PUSH_ITEM_HDR + sample_items[i].uid_len + sample_items[i].topic_len +
			sample_items[i].contents_len;
	assert_int_equal(ipc_push_size(sample_items, NSAMPLE), want);
	n = encode_sample(buf, sizeof buf);
	assert_int_equal(n, want);
	memset(&hdr, 0xEE, sizeof hdr);
	assert_int_equal(ipc_decode_request(buf, n, &hdr, items_out), IPC_OK);
	assert_int_equal(hdr.version, IPC_VERSION);
	assert_int_equal(hdr.type, IPC_T_PUSH);
	assert_int_equal(hdr.req_id, 0xA1B2C3D4u);
	assert_int_equal(hdr.count, NSAMPLE);
	assert_int_equal(hdr.flags, 0);
	assert_int_equal(hdr.generation, GEN);
	assert_int_equal(hdr.workers, 0);
	assert_int_equal(hdr.index, 0);
	for (size_t i = 0; i < NSAMPLE; i++) {
		expect_same_item(&items_out[i], &sample_items[i]);
		/* Borrowed views into the datagram, not copies elsewhere. */
		assert_true((const uint8_t *)items_out[i].uid >= buf &&
			    (const uint8_t *)items_out[i].uid < buf + n);
	}
	assert_int_equal(decode_push_exact(buf, n, &hdr), IPC_OK);
}

/* The layout in ipc.h, byte for byte: big-endian, no padding. */
static void test_push_wire_layout(void **state)
{
	static const struct ipc_push_item it = ITEMF("ab", IPC_F_ACK, "\"t\"", "1");
	static const uint8_t want[] = {
		'W', 'P', IPC_VERSION, IPC_T_PUSH, 0x01, 0x02, 0x03, 0x04, 0x00, 0x01, 0x00, 0x00,
		0x0A, 0x0B, 0x0C, 0x0D, 0x00, 0x00, 0x00, 0x00, /* generation, workers, index */
		0x00, 0x02, 0x00, 0x01, /* uid_len, flags */
		0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01,
		'a', 'b', '"', 't', '"', '1',
	};
	uint8_t buf[64];
	size_t n;

	(void)state;
	n = ipc_encode_push(buf, sizeof buf, rq(0x01020304u), &it, 1);
	assert_int_equal(n, sizeof want);
	assert_memory_equal(buf, want, sizeof want);
}

static void test_push_max_items(void **state)
{
	static struct ipc_push_item many[IPC_MAX_ITEMS + 1];
	static char uids[IPC_MAX_ITEMS + 1][8];
	size_t cap, n;
	uint8_t *buf;
	struct ipc_hdr hdr;

	(void)state;
	for (size_t i = 0; i <= IPC_MAX_ITEMS; i++) {
		int l = snprintf(uids[i], sizeof uids[i], "u%zu", i);

		many[i] = (struct ipc_push_item){ uids[i], (size_t)l, (uint16_t)(i & IPC_F_ACK),
						  "\"t\"", 3, "0", 1 };
	}
	cap = ipc_push_size(many, IPC_MAX_ITEMS + 1);
	buf = malloc(cap);
	assert_non_null(buf);
	assert_int_equal(ipc_encode_push(buf, cap, rq(7), many, IPC_MAX_ITEMS + 1), 0);
	n = ipc_encode_push(buf, cap, rq(7), many, IPC_MAX_ITEMS);
	assert_true(n > 0);
	assert_int_equal(n, ipc_push_size(many, IPC_MAX_ITEMS));
	assert_int_equal(decode_push_exact(buf, n, &hdr), IPC_OK);
	assert_int_equal(hdr.count, IPC_MAX_ITEMS);
	for (size_t i = 0; i < IPC_MAX_ITEMS; i++)
		expect_same_item(&items_out[i], &many[i]);
	free(buf);
}

static void test_encode_push_space(void **state)
{
	uint8_t buf[1024];
	size_t need;

	(void)state;
	need = ipc_push_size(sample_items, NSAMPLE);
	assert_true(need < sizeof buf);
	assert_int_equal(ipc_encode_push(buf, need, rq(1), sample_items, NSAMPLE), need);
	for (size_t cap = 0; cap < need; cap++) {
		memset(buf, 0x5A, sizeof buf);
		assert_int_equal(ipc_encode_push(buf, cap, rq(1), sample_items, NSAMPLE), 0);
		/* Nothing is written past cap when refusing. */
		for (size_t i = cap; i < sizeof buf; i++)
			assert_int_equal(buf[i], 0x5A);
	}
	assert_int_equal(ipc_encode_push(buf, sizeof buf, rq(1), sample_items, 0), 0);
}

static void test_push_size_overflow(void **state)
{
	struct ipc_push_item it = { "u", 1, 0, "t", 1, "c", 1 };
	uint8_t buf[64];

	(void)state;
	assert_int_equal(ipc_push_size(&it, 1), IPC_HDR_LEN + IPC_PUSH_ITEM_HDR + 3);
	assert_int_equal(ipc_push_size(&it, 0), IPC_HDR_LEN);

	/* Lengths the wire cannot carry; the pointers are never read. */
	it.uid_len = (size_t)UINT16_MAX + 1;
	assert_int_equal(ipc_push_size(&it, 1), SIZE_MAX);
	assert_int_equal(ipc_encode_push(buf, sizeof buf, rq(1), &it, 1), 0);
	it.uid_len = 1;
	it.topic_len = (size_t)UINT32_MAX + 1;
	assert_int_equal(ipc_push_size(&it, 1), SIZE_MAX);
	assert_int_equal(ipc_encode_push(buf, sizeof buf, rq(1), &it, 1), 0);
	it.topic_len = 1;
	it.contents_len = (size_t)UINT32_MAX + 1;
	assert_int_equal(ipc_push_size(&it, 1), SIZE_MAX);
	assert_int_equal(ipc_encode_push(buf, sizeof buf, rq(1), &it, 1), 0);
	it.contents_len = SIZE_MAX;
	assert_int_equal(ipc_push_size(&it, 1), SIZE_MAX);
	it.topic_len = SIZE_MAX;
	it.contents_len = SIZE_MAX;
	assert_int_equal(ipc_push_size(&it, 1), SIZE_MAX);

	/* The largest lengths the wire carries still add up without overflow. */
	it.uid_len = UINT16_MAX;
	it.topic_len = UINT32_MAX;
	it.contents_len = UINT32_MAX;
	assert_int_equal(ipc_push_size(&it, 1),
			 (size_t)IPC_HDR_LEN + IPC_PUSH_ITEM_HDR + UINT16_MAX + 2 * (size_t)UINT32_MAX);
	assert_int_equal(ipc_encode_push(buf, sizeof buf, rq(1), &it, 1), 0);
}

static void test_reply_round_trip(void **state)
{
	static const struct ipc_result res[] = {
		{ 1, IPC_S_DELIVERED, 1, 0 },
		{ 0, IPC_S_OFFLINE, 0, 0 },
		{ 0, IPC_S_REFUSED, 0, 0 },
		{ 0, IPC_S_WRONG_WORKER, 0, 0 },
		{ 0, IPC_S_STALE, 0, 0 },
		{ 0, IPC_S_STORED, 42, 0 },
		{ 0, IPC_S_BUSY, 0, 0 },
		{ 2, IPC_S_DELIVERED, 43, 1 },
		{ UINT32_MAX, IPC_S_DELIVERED, UINT64_MAX, UINT32_MAX },
		{ 3, IPC_S_DELIVERED, 0x0102030405060708ull, 0x0A0B0C0Du },
	};
	const size_t nres = sizeof res / sizeof res[0];
	struct ipc_result out[sizeof res / sizeof res[0] + 1];
	struct ipc_hdr hdr;
	uint8_t buf[IPC_HDR_LEN + sizeof res / sizeof res[0] * IPC_REPLY_ITEM_LEN];
	size_t n;

	(void)state;
	n = ipc_encode_push_reply(buf, sizeof buf, wk(0xFFFFFFFFu), res, nres);
	assert_int_equal(n, IPC_HDR_LEN + nres * IPC_REPLY_ITEM_LEN);
	memset(out, 0, sizeof out);
	assert_int_equal(decode_reply_exact(buf, n, &hdr, out, nres + 1), IPC_OK);
	assert_int_equal(hdr.type, IPC_T_PUSH_REPLY);
	assert_int_equal(hdr.version, IPC_VERSION);
	assert_int_equal(hdr.req_id, 0xFFFFFFFFu);
	assert_int_equal(hdr.count, nres);
	assert_int_equal(hdr.generation, GEN);
	assert_int_equal(hdr.workers, 3);
	assert_int_equal(hdr.index, 2);
	for (size_t i = 0; i < nres; i++) {
		assert_int_equal(out[i].delivered, res[i].delivered);
		assert_int_equal(out[i].status, res[i].status);
		assert_true(out[i].number == res[i].number);
		assert_int_equal(out[i].acked, res[i].acked);
	}
	/* Exactly as many as fit in the caller's array. */
	assert_int_equal(decode_reply_exact(buf, n, &hdr, out, nres), IPC_OK);
	assert_int_equal(decode_reply_exact(buf, n, &hdr, out, nres - 1), IPC_ERR_COUNT);
	/* A reply is not a push and vice versa. */
	assert_int_equal(decode_push_exact(buf, n, &hdr), IPC_ERR_TYPE);
}

static void test_reply_wire_layout(void **state)
{
	static const struct ipc_result r = { 0x01020304u, IPC_S_STORED, 0x1122334455667788ull,
					     0xA1A2A3A4u };
	static const uint8_t want[] = {
		'W', 'P', IPC_VERSION, IPC_T_PUSH_REPLY, 0, 0, 0, 9, 0, 1, 0, 0,
		0x0A, 0x0B, 0x0C, 0x0D, 0, 3, 0, 2,
		0x01, 0x02, 0x03, 0x04, 0, 0, 0, IPC_S_STORED,
		0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
		0xA1, 0xA2, 0xA3, 0xA4, /* acked */
	};
	uint8_t buf[64];

	(void)state;
	assert_int_equal(ipc_encode_push_reply(buf, sizeof buf, wk(9), &r, 1), sizeof want);
	assert_memory_equal(buf, want, sizeof want);
}

static void test_encode_reply_space(void **state)
{
	struct ipc_result r[3] = { { 1, 0, 1, 0 }, { 1, 0, 2, 1 }, { 1, 0, 3, 0 } };
	uint8_t buf[128];
	const size_t need = IPC_HDR_LEN + 3 * IPC_REPLY_ITEM_LEN;

	(void)state;
	assert_int_equal(ipc_encode_push_reply(buf, need, wk(1), r, 3), need);
	assert_int_equal(ipc_encode_push_reply(buf, need - 1, wk(1), r, 3), 0);
	assert_int_equal(ipc_encode_push_reply(buf, 0, wk(1), r, 3), 0);
	assert_int_equal(ipc_encode_push_reply(buf, sizeof buf, wk(1), r, 0), 0);
	assert_int_equal(ipc_encode_push_reply(buf, sizeof buf, wk(1), r, IPC_MAX_ITEMS + 1), 0);
}

static void test_error_reply(void **state)
{
	static const uint8_t want[] = { 'W', 'P', IPC_VERSION, IPC_T_ERROR_REPLY,
					0xDE, 0xAD, 0xBE, 0xEF, 0, 0, 0, 0,
					0x0A, 0x0B, 0x0C, 0x0D, 0, 3, 0, 2 };
	uint8_t buf[IPC_HDR_LEN + 4];
	struct ipc_hdr hdr;
	struct ipc_result r[1];

	(void)state;
	assert_int_equal(ipc_encode_bare(buf, IPC_HDR_LEN - 1, IPC_T_ERROR_REPLY, wk(1)), 0);
	assert_int_equal(ipc_encode_bare(buf, 0, IPC_T_ERROR_REPLY, wk(1)), 0);
	assert_int_equal(ipc_encode_bare(buf, IPC_HDR_LEN, IPC_T_ERROR_REPLY, wk(0xDEADBEEFu)), IPC_HDR_LEN);
	assert_memory_equal(buf, want, sizeof want);
	assert_int_equal(ipc_decode_hdr(buf, IPC_HDR_LEN, &hdr), IPC_OK);
	assert_int_equal(hdr.type, IPC_T_ERROR_REPLY);
	assert_int_equal(hdr.req_id, 0xDEADBEEFu);
	assert_int_equal(hdr.count, 0);
	/* Neither payload decoder takes it for its own type. */
	assert_int_equal(decode_push_exact(buf, IPC_HDR_LEN, &hdr), IPC_ERR_TYPE);
	assert_int_equal(decode_reply_exact(buf, IPC_HDR_LEN, &hdr, r, 1), IPC_ERR_TYPE);
}

/* Every strict prefix of a valid datagram must be refused (and never over-read). */
static void test_push_truncated_everywhere(void **state)
{
	uint8_t buf[1024];
	struct ipc_hdr hdr;
	size_t n;

	(void)state;
	n = encode_sample(buf, sizeof buf);
	for (size_t len = 0; len < n; len++) {
		enum ipc_rc rc = decode_push_exact(buf, len, &hdr);

		if (rc == IPC_OK) {
			print_error("prefix of %zu/%zu bytes decoded as OK\n", len, n);
			fail();
		}
		if (len < IPC_HDR_LEN)
			assert_int_equal(rc, IPC_ERR_SHORT);
		else
			assert_int_equal(rc, IPC_ERR_BOUNDS);
	}
	assert_int_equal(decode_push_exact(buf, n, &hdr), IPC_OK);
}

static void test_reply_truncated_everywhere(void **state)
{
	static const struct ipc_result res[] = { { 1, 0, 5, 1 }, { 0, 1, 0, 0 } };
	struct ipc_result out[2];
	struct ipc_hdr hdr;
	uint8_t buf[128];
	size_t n;

	(void)state;
	n = ipc_encode_push_reply(buf, sizeof buf, wk(3), res, 2);
	assert_true(n > 0);
	for (size_t len = 0; len < n; len++)
		assert_int_not_equal(decode_reply_exact(buf, len, &hdr, out, 2), IPC_OK);
	assert_int_equal(decode_reply_exact(buf, n, &hdr, out, 2), IPC_OK);
}

static void test_hdr_short(void **state)
{
	uint8_t buf[IPC_HDR_LEN];
	struct ipc_hdr hdr;

	(void)state;
	assert_int_equal(ipc_encode_bare(buf, sizeof buf, IPC_T_ERROR_REPLY, wk(1)), IPC_HDR_LEN);
	for (size_t len = 0; len < IPC_HDR_LEN; len++) {
		uint8_t *copy = dup_exact(buf, len);

		assert_int_equal(ipc_decode_hdr(copy, len, &hdr), IPC_ERR_SHORT);
		free(copy);
	}
}

static void test_trailing_bytes(void **state)
{
	static const struct ipc_result res[] = { { 1, 0, 5, 0 } };
	struct ipc_result out[1];
	uint8_t buf[1024];
	struct ipc_hdr hdr;
	size_t n;

	(void)state;
	n = encode_sample(buf, sizeof buf - 4);
	memset(buf + n, 0, 4);
	assert_int_equal(decode_push_exact(buf, n + 1, &hdr), IPC_ERR_BOUNDS);
	assert_int_equal(decode_push_exact(buf, n + 4, &hdr), IPC_ERR_BOUNDS);

	n = ipc_encode_push_reply(buf, sizeof buf, wk(1), res, 1);
	assert_true(n > 0);
	buf[n] = 0;
	assert_int_equal(decode_reply_exact(buf, n + 1, &hdr, out, 1), IPC_ERR_BOUNDS);
	assert_int_equal(decode_reply_exact(buf, n + IPC_REPLY_ITEM_LEN, &hdr, out, 1),
			 IPC_ERR_BOUNDS);
}

static void test_bad_header_fields(void **state)
{
	uint8_t buf[1024], t[1024];
	struct ipc_hdr hdr;
	size_t n;

	(void)state;
	n = encode_sample(buf, sizeof buf);

	memcpy(t, buf, n);
	t[0] = 'X';
	assert_int_equal(decode_push_exact(t, n, &hdr), IPC_ERR_MAGIC);
	memcpy(t, buf, n);
	t[1] = 'p';
	assert_int_equal(decode_push_exact(t, n, &hdr), IPC_ERR_MAGIC);

	static const uint8_t versions[] = { 0, IPC_VERSION + 1, 0xFF };
	for (size_t i = 0; i < sizeof versions; i++) {
		memcpy(t, buf, n);
		t[2] = versions[i];
		assert_int_equal(decode_push_exact(t, n, &hdr), IPC_ERR_VERSION);
		assert_int_equal(ipc_decode_hdr(t, n, &hdr), IPC_ERR_VERSION);
	}

	static const uint8_t types[] = { 0, IPC_T_LAST + 1, 0x80, 0xFF };
	for (size_t i = 0; i < sizeof types; i++) {
		memcpy(t, buf, n);
		t[3] = types[i];
		assert_int_equal(ipc_decode_hdr(t, n, &hdr), IPC_ERR_TYPE);
		assert_int_equal(decode_push_exact(t, n, &hdr), IPC_ERR_TYPE);
	}
	memcpy(t, buf, n);
	t[3] = IPC_T_PUSH_REPLY;
	assert_int_equal(decode_push_exact(t, n, &hdr), IPC_ERR_TYPE);
	memcpy(t, buf, n);
	t[3] = IPC_T_ERROR_REPLY;
	assert_int_equal(decode_push_exact(t, n, &hdr), IPC_ERR_TYPE);

	/* A header flag the type does not know is refused, as an item flag is. */
	memcpy(t, buf, n);
	t[10] = 0x01;
	t[11] = 0x02;
	assert_int_equal(decode_push_exact(t, n, &hdr), IPC_ERR_FLAGS);
}

static void set16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void set32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void test_bad_counts(void **state)
{
	static struct ipc_push_item many[IPC_MAX_ITEMS + 1];
	struct ipc_result out[4];
	struct ipc_hdr hdr;
	uint8_t buf[1024], *big;
	size_t n, bigcap;

	(void)state;
	n = encode_sample(buf, sizeof buf);
	set16(buf + 8, 0);
	assert_int_equal(decode_push_exact(buf, n, &hdr), IPC_ERR_COUNT);
	set16(buf + 8, IPC_MAX_ITEMS + 1);
	assert_int_equal(decode_push_exact(buf, n, &hdr), IPC_ERR_COUNT);
	set16(buf + 8, 0xFFFF);
	assert_int_equal(decode_push_exact(buf, n, &hdr), IPC_ERR_COUNT);
	/* More items announced than present, and fewer. */
	set16(buf + 8, NSAMPLE + 1);
	assert_int_equal(decode_push_exact(buf, n, &hdr), IPC_ERR_BOUNDS);
	set16(buf + 8, NSAMPLE - 1);
	assert_int_equal(decode_push_exact(buf, n, &hdr), IPC_ERR_BOUNDS);

	/* IPC_MAX_ITEMS + 1 well-formed items: refused by count, items[] not overrun. */
	for (size_t i = 0; i <= IPC_MAX_ITEMS; i++)
		many[i] = (struct ipc_push_item){ "u", 1, 0, "\"t\"", 3, "0", 1 };
	bigcap = ipc_push_size(many, IPC_MAX_ITEMS + 1);
	big = malloc(bigcap);
	assert_non_null(big);
	n = ipc_encode_push(big, bigcap, rq(1), many, IPC_MAX_ITEMS);
	assert_true(n > 0);
	memcpy(big + n, big + IPC_HDR_LEN, bigcap - n); /* one more identical item */
	set16(big + 8, IPC_MAX_ITEMS + 1);
	assert_int_equal(decode_push_exact(big, bigcap, &hdr), IPC_ERR_COUNT);
	free(big);

	/* Reply counts. */
	{
		static const struct ipc_result res[] = { { 1, 0, 1, 0 } };

		n = ipc_encode_push_reply(buf, sizeof buf, wk(1), res, 1);
		assert_true(n > 0);
		set16(buf + 8, 0);
		assert_int_equal(decode_reply_exact(buf, n, &hdr, out, 4), IPC_ERR_COUNT);
		set16(buf + 8, 2);
		assert_int_equal(decode_reply_exact(buf, n, &hdr, out, 4), IPC_ERR_BOUNDS);
		set16(buf + 8, 0xFFFF);
		assert_int_not_equal(decode_reply_exact(buf, n, &hdr, out, 4), IPC_OK);
	}
}

/* Offsets of item 0's header fields in the sample datagram. */
#define I0 IPC_HDR_LEN
#define I0_FLAGS (I0 + 2)
#define I0_TOPIC (I0 + 4)
#define I0_CONTENTS (I0 + 8)

static void test_lying_lengths(void **state)
{
	uint8_t buf[1024], t[1024];
	struct ipc_hdr hdr;
	size_t n;
	uint32_t tl, cl;

	(void)state;
	n = encode_sample(buf, sizeof buf);
	tl = (uint32_t)sample_items[0].topic_len;
	cl = (uint32_t)sample_items[0].contents_len;

	memcpy(t, buf, n);
	set16(t + I0, 0xFFFF);
	assert_int_equal(decode_push_exact(t, n, &hdr), IPC_ERR_BOUNDS);
	memcpy(t, buf, n);
	set32(t + I0_TOPIC, 0xFFFFFFFFu);
	assert_int_equal(decode_push_exact(t, n, &hdr), IPC_ERR_BOUNDS);
	memcpy(t, buf, n);
	set32(t + I0_CONTENTS, 0xFFFFFFFFu);
	assert_int_equal(decode_push_exact(t, n, &hdr), IPC_ERR_BOUNDS);
	memcpy(t, buf, n);
	set32(t + I0_TOPIC, 0x80000000u);
	set32(t + I0_CONTENTS, 0x80000000u);
	assert_int_equal(decode_push_exact(t, n, &hdr), IPC_ERR_BOUNDS);
	/* Off by one either way shifts the next item: must not decode. */
	memcpy(t, buf, n);
	set32(t + I0_TOPIC, tl + 1);
	assert_int_not_equal(decode_push_exact(t, n, &hdr), IPC_OK);
	memcpy(t, buf, n);
	set32(t + I0_CONTENTS, cl - 1);
	assert_int_not_equal(decode_push_exact(t, n, &hdr), IPC_OK);

	/* The last item's contents_len reaching exactly one byte beyond the end. */
	{
		static const struct ipc_push_item one = ITEM("u", "\"t\"", "{}");
		size_t m = ipc_encode_push(t, sizeof t, rq(1), &one, 1);

		assert_true(m > 0);
		set32(t + I0_CONTENTS, 3);
		assert_int_equal(decode_push_exact(t, m, &hdr), IPC_ERR_BOUNDS);
		set32(t + I0_CONTENTS, 2);
		set16(t + I0, 2);
		assert_int_equal(decode_push_exact(t, m, &hdr), IPC_ERR_BOUNDS);
	}
}

/* Item flags: the known ones come through, any other bit refuses the datagram
 * (in the first item or the last), even when an encoder wrote it. */
static void test_push_flags(void **state)
{
	static const struct ipc_push_item odd = ITEMF("u", 0x8000, "\"t\"", "1");
	uint8_t buf[1024], t[1024];
	struct ipc_hdr hdr;
	size_t n, last = ipc_push_size(sample_items, NSAMPLE - 1);

	(void)state;
	n = encode_sample(buf, sizeof buf);
	assert_int_equal(decode_push_exact(buf, n, &hdr), IPC_OK);
	for (size_t i = 0; i < NSAMPLE; i++)
		assert_int_equal(items_out[i].flags, sample_items[i].flags);
	for (unsigned b = 0; b < 16; b++) {
		uint16_t f = (uint16_t)(1u << b);

		memcpy(t, buf, n);
		set16(t + I0_FLAGS, f);
		if (f & IPC_F_ACK) { /* the one item flag a PUSH knows */
			assert_int_equal(decode_push_exact(t, n, &hdr), IPC_OK);
			assert_int_equal(items_out[0].flags, f);
		} else {
			assert_int_equal(decode_push_exact(t, n, &hdr), IPC_ERR_FLAGS);
		}
		memcpy(t, buf, n);
		set16(t + last + 2, (uint16_t)(f | IPC_F_ACK));
		assert_int_equal(decode_push_exact(t, n, &hdr),
				 f & ~IPC_F_ACK ? IPC_ERR_FLAGS : IPC_OK);
	}
	memcpy(t, buf, n);
	set16(t + I0_FLAGS, 0xFFFF);
	assert_int_equal(decode_push_exact(t, n, &hdr), IPC_ERR_FLAGS);
	n = ipc_encode_push(t, sizeof t, rq(1), &odd, 1);
	assert_true(n > 0);
	assert_int_equal(decode_push_exact(t, n, &hdr), IPC_ERR_FLAGS);
}

/* Reply statuses up to IPC_S_MAX are outcomes; anything above is refused. */
static void test_reply_statuses(void **state)
{
	static const uint32_t bad[] = { IPC_S_MAX + 1, 0x100, UINT32_MAX };
	struct ipc_result r[2] = { { 1, IPC_S_DELIVERED, 1, 1 }, { 0, 0, 0, 0 } }, out[2];
	uint8_t buf[IPC_HDR_LEN + 2 * IPC_REPLY_ITEM_LEN];
	struct ipc_hdr hdr;
	size_t n;

	(void)state;
	for (uint32_t st = 0; st <= IPC_S_MAX; st++) {
		r[1].status = st;
		n = ipc_encode_push_reply(buf, sizeof buf, wk(1), r, 2);
		assert_int_equal(n, sizeof buf);
		assert_int_equal(decode_reply_exact(buf, n, &hdr, out, 2), IPC_OK);
		assert_int_equal(out[1].status, st);
		assert_int_equal(out[0].acked, 1);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		r[1].status = bad[i];
		n = ipc_encode_push_reply(buf, sizeof buf, wk(1), r, 2);
		assert_int_equal(n, sizeof buf);
		assert_int_equal(decode_reply_exact(buf, n, &hdr, out, 2), IPC_ERR_STATUS);
		r[1].status = IPC_S_OFFLINE;
		r[0].status = bad[i];
		n = ipc_encode_push_reply(buf, sizeof buf, wk(1), r, 2);
		assert_int_equal(decode_reply_exact(buf, n, &hdr, out, 2), IPC_ERR_STATUS);
		r[0].status = IPC_S_DELIVERED;
	}
}

/* Deterministic random corruption: decode never crashes, and anything it
 * accepts lies within the datagram (checked in decode_push_exact). */
static void test_push_mutations(void **state)
{
	uint8_t buf[1024], t[1024];
	struct ipc_hdr hdr;
	uint32_t seed = 12345;
	size_t n;
	unsigned ok = 0;

	(void)state;
	n = encode_sample(buf, sizeof buf);
	for (int round = 0; round < 20000; round++) {
		int flips;

		memcpy(t, buf, n);
		seed = seed * 1103515245u + 12345u;
		flips = 1 + (int)(seed >> 28) % 4;
		for (int f = 0; f < flips; f++) {
			seed = seed * 1103515245u + 12345u;
			t[(seed >> 8) % n] = (uint8_t)(seed >> 20);
		}
		if (decode_push_exact(t, n, &hdr) == IPC_OK)
			ok++;
	}
	/* Payload-only flips keep a valid datagram, so some must still decode. */
	assert_true(ok > 0);
}

/* STATS_REPLY: exactly IPC_STATS_N big-endian u64, from a worker. */
static void test_stats_reply(void **state)
{
	uint8_t buf[IPC_HDR_LEN + IPC_STATS_N * IPC_STAT_LEN + 8];
	uint64_t v[IPC_STATS_N], out[IPC_STATS_N];
	const size_t need = IPC_HDR_LEN + IPC_STATS_N * IPC_STAT_LEN;
	struct ipc_hdr hdr;
	size_t n;

	(void)state;
	for (size_t i = 0; i < IPC_STATS_N; i++)
		v[i] = 0x0102030405060708ull * (i + 1);
	assert_int_equal(ipc_encode_stats_reply(buf, need - 1, wk(77), v), 0);
	n = ipc_encode_stats_reply(buf, sizeof buf, wk(77), v);
	assert_int_equal(n, need);
	assert_int_equal(buf[IPC_HDR_LEN], 0x01);
	assert_int_equal(buf[IPC_HDR_LEN + 7], 0x08);
	memset(out, 0, sizeof out);
	assert_int_equal(ipc_decode_stats_reply(buf, n, &hdr, out), IPC_OK);
	assert_int_equal(hdr.req_id, 77);
	assert_int_equal(hdr.count, IPC_STATS_N);
	assert_int_equal(hdr.workers, 3);
	assert_memory_equal(out, v, sizeof v);
	/* Truncated, padded, another count, another type: refused. */
	for (size_t len = 0; len < n; len++)
		assert_int_not_equal(ipc_decode_stats_reply(buf, len, &hdr, out), IPC_OK);
	buf[n] = 0;
	assert_int_equal(ipc_decode_stats_reply(buf, n + 1, &hdr, out), IPC_ERR_BOUNDS);
	buf[9] = IPC_STATS_N - 1;
	assert_int_equal(ipc_decode_stats_reply(buf, n, &hdr, out), IPC_ERR_COUNT);
	n = ipc_encode_bare(buf, sizeof buf, IPC_T_STATS, rq(1));
	assert_int_equal(n, IPC_HDR_LEN);
	assert_int_equal(ipc_decode_stats_reply(buf, n, &hdr, out), IPC_ERR_TYPE);
}

/* REPORT: one u32 per refusal reason; a request (no worker fields). */
static void test_report(void **state)
{
	uint32_t counts[IPC_R_COUNT], out[IPC_R_COUNT];
	uint8_t buf[IPC_HDR_LEN + IPC_R_COUNT * IPC_REPORT_ITEM_LEN + 4];
	const size_t need = IPC_HDR_LEN + IPC_R_COUNT * IPC_REPORT_ITEM_LEN;
	struct ipc_hdr hdr;
	size_t n;

	(void)state;
	for (size_t i = 0; i < IPC_R_COUNT; i++)
		counts[i] = (uint32_t)(i * 1000 + 1);
	counts[IPC_R_DAEMON] = UINT32_MAX;
	assert_int_equal(ipc_encode_report(buf, need - 1, rq(5), counts), 0);
	n = ipc_encode_report(buf, sizeof buf, rq(5), counts);
	assert_int_equal(n, need);
	assert_int_equal(ipc_decode_report(buf, n, &hdr, out), IPC_OK);
	assert_int_equal(hdr.type, IPC_T_REPORT);
	assert_int_equal(hdr.count, IPC_R_COUNT);
	assert_memory_equal(out, counts, sizeof counts);
	for (size_t len = 0; len < n; len++)
		assert_int_not_equal(ipc_decode_report(buf, len, &hdr, out), IPC_OK);
	buf[n] = 0;
	assert_int_equal(ipc_decode_report(buf, n + 1, &hdr, out), IPC_ERR_BOUNDS);
	buf[9] = IPC_R_COUNT + 1;
	assert_int_equal(ipc_decode_report(buf, n, &hdr, out), IPC_ERR_COUNT);
}

/* CONFIG_REPLY: the configuration bytes as a view, or none ("you run mine"). */
static void test_config_reply(void **state)
{
	static const uint8_t cfg[] = "PC\x01\x00 anything the configuration packs";
	uint8_t buf[IPC_HDR_LEN + sizeof cfg];
	const uint8_t *view = NULL;
	struct ipc_hdr hdr;
	size_t n, vl = 99;

	(void)state;
	assert_int_equal(ipc_encode_config_reply(buf, sizeof buf - 1, wk(3), cfg, sizeof cfg), 0);
	n = ipc_encode_config_reply(buf, sizeof buf, wk(3), cfg, sizeof cfg);
	assert_int_equal(n, sizeof buf);
	assert_int_equal(ipc_decode_config_reply(buf, n, &hdr, &view, &vl), IPC_OK);
	assert_int_equal(hdr.type, IPC_T_CONFIG_REPLY);
	assert_int_equal(hdr.generation, GEN);
	assert_ptr_equal(view, buf + IPC_HDR_LEN);
	assert_int_equal(vl, sizeof cfg);
	assert_memory_equal(view, cfg, sizeof cfg);
	/* Packed in place right after the header: encoding moves nothing wrong. */
	memcpy(buf + IPC_HDR_LEN, cfg, sizeof cfg);
	assert_int_equal(ipc_encode_config_reply(buf, sizeof buf, wk(4), buf + IPC_HDR_LEN,
						 sizeof cfg), sizeof buf);
	assert_memory_equal(buf + IPC_HDR_LEN, cfg, sizeof cfg);
	/* The empty answer. */
	n = ipc_encode_config_reply(buf, sizeof buf, wk(5), NULL, 0);
	assert_int_equal(n, IPC_HDR_LEN);
	assert_int_equal(ipc_decode_config_reply(buf, n, &hdr, &view, &vl), IPC_OK);
	assert_int_equal(vl, 0);
	/* A CONFIG request is header-only and not a reply. */
	n = ipc_encode_bare(buf, sizeof buf, IPC_T_CONFIG, rq(6));
	assert_int_equal(ipc_decode_config_reply(buf, n, &hdr, &view, &vl), IPC_ERR_TYPE);
	assert_int_equal(ipc_decode_hdr(buf, n, &hdr), IPC_OK);
	assert_int_equal(hdr.type, IPC_T_CONFIG);
	assert_int_equal(hdr.generation, GEN);
}

/* index < workers <= IPC_WORKERS_MAX, both 0 in a request; replies need a worker. */
static void test_worker_fields(void **state)
{
	static const struct ipc_result r = { 1, IPC_S_DELIVERED, 1, 0 };
	struct ipc_result out[1];
	uint8_t buf[64], t[64];
	struct ipc_hdr hdr, h;
	size_t n;

	(void)state;
	n = ipc_encode_push_reply(buf, sizeof buf, wk(1), &r, 1);
	assert_true(n > 0);
	memcpy(t, buf, n);
	set16(t + 18, 3); /* index == workers */
	assert_int_equal(ipc_decode_hdr(t, n, &hdr), IPC_ERR_WORKER);
	assert_int_equal(decode_reply_exact(t, n, &hdr, out, 1), IPC_ERR_WORKER);
	memcpy(t, buf, n);
	set16(t + 16, IPC_WORKERS_MAX + 1);
	assert_int_equal(ipc_decode_hdr(t, n, &hdr), IPC_ERR_WORKER);
	memcpy(t, buf, n);
	set16(t + 16, IPC_WORKERS_MAX);
	set16(t + 18, IPC_WORKERS_MAX - 1);
	assert_int_equal(decode_reply_exact(t, n, &hdr, out, 1), IPC_OK);
	assert_int_equal(hdr.index, IPC_WORKERS_MAX - 1);
	/* No worker: a valid request header, but not a reply. */
	memcpy(t, buf, n);
	set16(t + 16, 0);
	set16(t + 18, 0);
	assert_int_equal(ipc_decode_hdr(t, n, &hdr), IPC_OK);
	assert_int_equal(decode_reply_exact(t, n, &hdr, out, 1), IPC_ERR_WORKER);
	set16(t + 18, 1);
	assert_int_equal(ipc_decode_hdr(t, n, &hdr), IPC_ERR_WORKER);
	/* Every header field round-trips, the largest values included. */
	h = (struct ipc_hdr){ .req_id = UINT32_MAX, .flags = 0xBEEF, .generation = UINT32_MAX,
			      .workers = IPC_WORKERS_MAX, .index = IPC_WORKERS_MAX - 1 };
	assert_int_equal(ipc_encode_bare(t, IPC_HDR_LEN - 1, IPC_T_STATS, &h), 0);
	assert_int_equal(ipc_encode_bare(t, sizeof t, IPC_T_STATS, &h), IPC_HDR_LEN);
	assert_int_equal(ipc_decode_hdr(t, IPC_HDR_LEN, &hdr), IPC_OK);
	assert_int_equal(hdr.req_id, UINT32_MAX);
	assert_int_equal(hdr.flags, 0xBEEF);
	assert_int_equal(hdr.generation, UINT32_MAX);
	assert_int_equal(hdr.workers, IPC_WORKERS_MAX);
	assert_int_equal(hdr.index, IPC_WORKERS_MAX - 1);
}

/* ---- Requests of the control API: PRESENCE, KICK, BROADCAST, shared PUSH ---- */

/* A request of `type` with header flags hflags; asserts it was written. */
static size_t encode_req(uint8_t *buf, size_t cap, uint8_t type, uint16_t hflags,
			 const struct ipc_push_item *items, size_t n)
{
	struct ipc_hdr h = { .req_id = 77, .flags = hflags, .generation = GEN };
	size_t len = ipc_encode_request(buf, cap, type, &h, items, n);

	assert_int_equal(len, ipc_request_size(items, n, hflags));
	return len;
}

#define UID_ONLY(u, f) { u, sizeof u - 1, f, "", 0, "", 0 }

/* PRESENCE and KICK: uid-only items, the layout of a PUSH item with empty parts. */
static void test_uid_only_round_trip(void **state)
{
	static const struct ipc_push_item kick[] = {
		UID_ONLY("alice", IPC_F_REVOKE), UID_ONLY("张三", 0), UID_ONLY("b", IPC_F_REVOKE),
	};
	static const uint8_t want[] = {
		'W', 'P', IPC_VERSION, IPC_T_PRESENCE, 0, 0, 0, 77, 0x00, 0x01, 0x00, 0x00,
		0x0A, 0x0B, 0x0C, 0x0D, 0, 0, 0, 0,
		0x00, 0x02, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 'a', 'b',
	};
	static const struct ipc_push_item one = UID_ONLY("ab", 0);
	uint8_t buf[256];
	struct ipc_hdr hdr;
	size_t n;

	(void)state;
	n = encode_req(buf, sizeof buf, IPC_T_PRESENCE, 0, &one, 1);
	assert_int_equal(n, sizeof want);
	assert_memory_equal(buf, want, sizeof want);
	assert_int_equal(decode_push_exact(buf, n, &hdr), IPC_OK);
	assert_int_equal(hdr.type, IPC_T_PRESENCE);
	expect_same_item(&items_out[0], &one);

	n = encode_req(buf, sizeof buf, IPC_T_KICK, 0, kick, 3);
	assert_int_equal(n, IPC_HDR_LEN + 3 * IPC_PUSH_ITEM_HDR + 5 + 6 + 1);
	assert_int_equal(decode_push_exact(buf, n, &hdr), IPC_OK);
	assert_int_equal(hdr.type, IPC_T_KICK);
	assert_int_equal(hdr.count, 3);
	for (size_t i = 0; i < 3; i++)
		expect_same_item(&items_out[i], &kick[i]);
	for (size_t len = 0; len < n; len++)
		assert_int_not_equal(decode_push_exact(buf, len, &hdr), IPC_OK);
}

/* Each type's item flags: PUSH knows ACK, KICK knows REVOKE, the others none;
 * a known bit on the wrong type is as unknown as any other. */
static void test_item_flags_per_type(void **state)
{
	static const struct { uint8_t type; uint16_t known; } types[] = {
		{ IPC_T_PUSH, IPC_F_ACK }, { IPC_T_PRESENCE, 0 }, { IPC_T_KICK, IPC_F_REVOKE },
		{ IPC_T_BROADCAST, 0 },
	};
	uint8_t buf[128];
	struct ipc_hdr hdr;

	(void)state;
	for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
		int bcast = types[t].type == IPC_T_BROADCAST;
		int msg = bcast || types[t].type == IPC_T_PUSH;

		for (unsigned b = 0; b < 16; b++) {
			uint16_t f = (uint16_t)(1u << b);
			struct ipc_push_item it = { bcast ? "" : "u", bcast ? 0 : 1, f,
						    msg ? "\"t\"" : "", msg ? 3 : 0,
						    msg ? "1" : "", msg ? 1 : 0 };
			size_t n = encode_req(buf, sizeof buf, types[t].type, 0, &it, 1);

			assert_int_equal(decode_push_exact(buf, n, &hdr),
					 f & types[t].known ? IPC_OK : IPC_ERR_FLAGS);
		}
	}
}

/* Header flags: only a PUSH may be shared; every other bit on any type is refused. */
static void test_header_flags_per_type(void **state)
{
	static const struct ipc_push_item uid = UID_ONLY("u", 0);
	static const struct ipc_push_item msg = ITEM("", "\"t\"", "1");
	static const uint8_t types[] = { IPC_T_PUSH, IPC_T_PRESENCE, IPC_T_KICK, IPC_T_BROADCAST };
	uint8_t buf[128];
	struct ipc_hdr hdr;

	(void)state;
	for (size_t t = 0; t < sizeof types; t++) {
		const struct ipc_push_item *it = types[t] == IPC_T_BROADCAST ? &msg : &uid;

		for (unsigned b = 0; b < 16; b++) {
			uint16_t f = (uint16_t)(1u << b);
			size_t n = encode_req(buf, sizeof buf, types[t], f, it, 1);
			int ok = types[t] == IPC_T_PUSH && f == IPC_H_SHARED;

			assert_int_equal(decode_push_exact(buf, n, &hdr), ok ? IPC_OK : IPC_ERR_FLAGS);
			if (ok)
				assert_int_equal(hdr.flags, IPC_H_SHARED);
		}
	}
}

/* A uid-only item that carries a topic or contents is malformed, not ignored. */
static void test_uid_only_with_parts(void **state)
{
	static const struct ipc_push_item topic = { "u", 1, 0, "\"t\"", 3, "", 0 };
	static const struct ipc_push_item contents = { "u", 1, 0, "", 0, "1", 1 };
	static const uint8_t types[] = { IPC_T_PRESENCE, IPC_T_KICK };
	uint8_t buf[128];
	struct ipc_hdr hdr;
	size_t n;

	(void)state;
	for (size_t t = 0; t < sizeof types; t++) {
		n = encode_req(buf, sizeof buf, types[t], 0, &topic, 1);
		assert_int_equal(decode_push_exact(buf, n, &hdr), IPC_ERR_BOUNDS);
		n = encode_req(buf, sizeof buf, types[t], 0, &contents, 1);
		assert_int_equal(decode_push_exact(buf, n, &hdr), IPC_ERR_BOUNDS);
	}
}

/* BROADCAST: exactly one item, no uid, a message. */
static void test_broadcast_rules(void **state)
{
	static const struct ipc_push_item two[] = { ITEM("", "\"t\"", "[1]"), ITEM("", "\"t\"", "2") };
	static const struct ipc_push_item with_uid = ITEM("u", "\"t\"", "1");
	uint8_t buf[128];
	struct ipc_hdr hdr;
	size_t n;

	(void)state;
	n = encode_req(buf, sizeof buf, IPC_T_BROADCAST, 0, two, 1);
	assert_int_equal(decode_push_exact(buf, n, &hdr), IPC_OK);
	assert_int_equal(hdr.type, IPC_T_BROADCAST);
	assert_int_equal(hdr.count, 1);
	expect_same_item(&items_out[0], &two[0]);
	n = encode_req(buf, sizeof buf, IPC_T_BROADCAST, 0, two, 2);
	assert_int_equal(decode_push_exact(buf, n, &hdr), IPC_ERR_COUNT);
	n = encode_req(buf, sizeof buf, IPC_T_BROADCAST, 0, &with_uid, 1);
	assert_int_equal(decode_push_exact(buf, n, &hdr), IPC_ERR_BOUNDS);
}

/* A shared multicast: the message once, with the first item; every item gets it. */
static void test_shared_push_round_trip(void **state)
{
	static const struct ipc_push_item mc[] = {
		ITEM("alice", "\"news\"", "{\"a\":1}"), ITEM("bob", "\"ignored\"", "0"),
		ITEM("张三", "", ""),
	};
	uint8_t buf[256];
	struct ipc_hdr hdr;
	size_t n, uids = 5 + 3 + 6;

	(void)state;
	assert_int_equal(ipc_request_size(mc, 3, IPC_H_SHARED),
			 IPC_HDR_LEN + 3 * IPC_PUSH_ITEM_HDR + uids + 6 + 7);
	assert_int_equal(ipc_request_size(mc, 3, 0), ipc_push_size(mc, 3));
	n = encode_req(buf, sizeof buf, IPC_T_PUSH, IPC_H_SHARED, mc, 3);
	/* The second item follows the first's message; its topic and contents
	 * lengths are 0 on the wire. */
	assert_memory_equal(buf + IPC_HDR_LEN + IPC_PUSH_ITEM_HDR + 5 + 6 + 7 + 4,
			    "\0\0\0\0\0\0\0\0", 8);
	assert_memory_equal(buf + IPC_HDR_LEN + 2 * IPC_PUSH_ITEM_HDR + 5 + 6 + 7, "bob", 3);
	assert_int_equal(decode_push_exact(buf, n, &hdr), IPC_OK);
	assert_int_equal(hdr.flags, IPC_H_SHARED);
	assert_int_equal(hdr.count, 3);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(items_out[i].uid_len, mc[i].uid_len);
		assert_memory_equal(items_out[i].uid, mc[i].uid, mc[i].uid_len);
		/* The first item's message, the same bytes of the datagram. */
		assert_ptr_equal(items_out[i].topic, items_out[0].topic);
		assert_int_equal(items_out[i].topic_len, 6);
		assert_ptr_equal(items_out[i].contents, items_out[0].contents);
		assert_int_equal(items_out[i].contents_len, 7);
	}
	assert_memory_equal(items_out[2].contents, "{\"a\":1}", 7);
	for (size_t len = 0; len < n; len++)
		assert_int_not_equal(decode_push_exact(buf, len, &hdr), IPC_OK);
}

/* A shared multicast whose tail item carries a message of its own is refused:
 * which of the two would be meant? */
static void test_shared_tail_with_parts(void **state)
{
	static const struct ipc_push_item two[] = { ITEM("a", "\"t\"", "1"), ITEM("b", "\"t\"", "1") };
	static const struct ipc_push_item tail_contents[] = { ITEM("a", "\"t\"", "1"),
							      ITEM("b", "", "1") };
	uint8_t buf[128];
	struct ipc_hdr hdr;
	size_t n;

	(void)state;
	n = encode_req(buf, sizeof buf, IPC_T_PUSH, 0, two, 2);
	assert_int_equal(decode_push_exact(buf, n, &hdr), IPC_OK);
	set16(buf + 10, IPC_H_SHARED); /* the same items, now claimed shared */
	assert_int_equal(decode_push_exact(buf, n, &hdr), IPC_ERR_BOUNDS);
	n = encode_req(buf, sizeof buf, IPC_T_PUSH, 0, tail_contents, 2);
	set16(buf + 10, IPC_H_SHARED);
	assert_int_equal(decode_push_exact(buf, n, &hdr), IPC_ERR_BOUNDS);
	/* A single shared item is an ordinary push. */
	n = encode_req(buf, sizeof buf, IPC_T_PUSH, IPC_H_SHARED, two, 1);
	assert_int_equal(decode_push_exact(buf, n, &hdr), IPC_OK);
	expect_same_item(&items_out[0], &two[0]);
}

static void test_rc_str(void **state)
{
	static const enum ipc_rc rcs[] = { IPC_OK, IPC_ERR_SHORT, IPC_ERR_MAGIC, IPC_ERR_VERSION,
					   IPC_ERR_TYPE, IPC_ERR_COUNT, IPC_ERR_BOUNDS,
					   IPC_ERR_SPACE, IPC_ERR_WORKER, IPC_ERR_FLAGS,
					   IPC_ERR_STATUS };
	const size_t n = sizeof rcs / sizeof rcs[0];

	(void)state;
	for (size_t i = 0; i < n; i++) {
		const char *s = ipc_rc_str(rcs[i]);

		assert_non_null(s);
		assert_true(s[0] != '\0');
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(s, ipc_rc_str(rcs[j]));
	}
	assert_non_null(ipc_rc_str((enum ipc_rc)99));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_push_round_trip),
		cmocka_unit_test(test_push_wire_layout),
		cmocka_unit_test(test_push_max_items),
		cmocka_unit_test(test_encode_push_space),
		cmocka_unit_test(test_push_size_overflow),
		cmocka_unit_test(test_reply_round_trip),
		cmocka_unit_test(test_reply_wire_layout),
		cmocka_unit_test(test_encode_reply_space),
		cmocka_unit_test(test_error_reply),
		cmocka_unit_test(test_push_truncated_everywhere),
		cmocka_unit_test(test_reply_truncated_everywhere),
		cmocka_unit_test(test_hdr_short),
		cmocka_unit_test(test_trailing_bytes),
		cmocka_unit_test(test_bad_header_fields),
		cmocka_unit_test(test_bad_counts),
		cmocka_unit_test(test_lying_lengths),
		cmocka_unit_test(test_push_flags),
		cmocka_unit_test(test_reply_statuses),
		cmocka_unit_test(test_push_mutations),
		cmocka_unit_test(test_stats_reply),
		cmocka_unit_test(test_report),
		cmocka_unit_test(test_config_reply),
		cmocka_unit_test(test_worker_fields),
		cmocka_unit_test(test_uid_only_round_trip),
		cmocka_unit_test(test_item_flags_per_type),
		cmocka_unit_test(test_header_flags_per_type),
		cmocka_unit_test(test_uid_only_with_parts),
		cmocka_unit_test(test_broadcast_rules),
		cmocka_unit_test(test_shared_push_round_trip),
		cmocka_unit_test(test_shared_tail_with_parts),
		cmocka_unit_test(test_rc_str),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
