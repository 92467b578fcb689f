/* libFuzzer driver for ipc/ipc.c: the input is decoded as a datagram (views must stay in
 * the buffer, re-encoding must give the same bytes) and also drives encode->decode trips. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "ipc.h"

/* The *2 arrays have exactly the room the API asks for, so ASan sees any write past it. */
static struct ipc_push_item items[IPC_MAX_ITEMS];
static struct ipc_push_item items2[IPC_MAX_ITEMS];
static struct ipc_result results[IPC_MAX_ITEMS];
static struct ipc_result results2[IPC_MAX_ITEMS];

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* [p, p+n) lies inside [lo, lo+len). */
static int inside(const void *p, size_t n, const uint8_t *lo, size_t len)
{
	const uint8_t *q = p;

	return q >= lo && q <= lo + len && n <= (size_t)(lo + len - q);
}

/* Re-encoded datagram equals the input, except that encoders always write flags 0
 * for PUSH / PUSH_REPLY / STATS_REPLY (the decoders accept and report any flags). */
static void check_same_but_flags(const uint8_t *enc, const uint8_t *in, size_t len,
				 const struct ipc_hdr *h)
{
	FUZZ_CHECK(len >= IPC_HDR_LEN);
	FUZZ_CHECK(memcmp(enc, in, 10) == 0);
	FUZZ_CHECK(enc[10] == 0 && enc[11] == 0);
	FUZZ_CHECK(h->flags == rd16(in + 10));
	FUZZ_CHECK(memcmp(enc + IPC_HDR_LEN, in + IPC_HDR_LEN, len - IPC_HDR_LEN) == 0);
}

static void check_decode(const uint8_t *data, size_t size)
{
	struct ipc_hdr h, hp, hr, hs;
	enum ipc_rc rh, rp, rr, rs;
	const char *text = NULL;
	size_t text_len = 0;
	int oks = 0;

	rh = ipc_decode_hdr(data, size, &h);
	FUZZ_CHECK(ipc_rc_str(rh) != NULL);
	if (size < IPC_HDR_LEN)
		FUZZ_CHECK(rh == IPC_ERR_SHORT);
	if (rh == IPC_OK) {
		FUZZ_CHECK(size >= IPC_HDR_LEN && data[0] == 'W' && data[1] == 'P');
		FUZZ_CHECK(h.version == IPC_VERSION && h.version == data[2]);
		FUZZ_CHECK(h.type == data[3] && h.type >= IPC_T_PUSH && h.type <= IPC_T_REPORT);
		FUZZ_CHECK(h.req_id == rd32(data + 4));
		FUZZ_CHECK(h.count == rd16(data + 8) && h.flags == rd16(data + 10));
	} else {
		FUZZ_CHECK(rh == IPC_ERR_SHORT || rh == IPC_ERR_MAGIC || rh == IPC_ERR_VERSION ||
			   rh == IPC_ERR_TYPE);
	}

	/* PUSH */
	rp = ipc_decode_push(data, size, &hp, items2);
	if (rh != IPC_OK)
		FUZZ_CHECK(rp == rh);
	if (rp == IPC_OK) {
		const uint8_t *next = data + IPC_HDR_LEN;
		uint8_t *enc;

		oks++;
		FUZZ_CHECK(hp.type == IPC_T_PUSH && hp.count >= 1 && hp.count <= IPC_MAX_ITEMS);
		for (size_t i = 0; i < hp.count; i++) {
			const struct ipc_push_item *it = &items2[i];

			/* Each view inside the datagram, laid out as item header | uid | topic | contents. */
			FUZZ_CHECK(inside(next, IPC_PUSH_ITEM_HDR, data, size));
			FUZZ_CHECK(it->uid_len == rd16(next));
			FUZZ_CHECK(it->topic_len == rd32(next + 2));
			FUZZ_CHECK(it->contents_len == rd32(next + 6));
			FUZZ_CHECK((const uint8_t *)it->uid == next + IPC_PUSH_ITEM_HDR);
			FUZZ_CHECK(inside(it->uid, it->uid_len, data, size));
			FUZZ_CHECK((const uint8_t *)it->topic == (const uint8_t *)it->uid + it->uid_len);
			FUZZ_CHECK(inside(it->topic, it->topic_len, data, size));
			FUZZ_CHECK((const uint8_t *)it->contents ==
				   (const uint8_t *)it->topic + it->topic_len);
			FUZZ_CHECK(inside(it->contents, it->contents_len, data, size));
			next = (const uint8_t *)it->contents + it->contents_len;
		}
		FUZZ_CHECK(next == data + size); /* no trailing bytes */
		FUZZ_CHECK(ipc_push_size(items2, hp.count) == size);
		enc = malloc(size);
		FUZZ_CHECK(enc != NULL);
		FUZZ_CHECK(ipc_encode_push(enc, size, hp.req_id, items2, hp.count) == size);
		check_same_but_flags(enc, data, size, &hp);
		FUZZ_CHECK(ipc_encode_push(enc, size - 1, hp.req_id, items2, hp.count) == 0);
		free(enc);
	} else if (rh == IPC_OK && h.type == IPC_T_PUSH && h.count >= 1 &&
		   h.count <= IPC_MAX_ITEMS) {
		FUZZ_CHECK(rp == IPC_ERR_BOUNDS);
	}

	/* PUSH_REPLY */
	rr = ipc_decode_push_reply(data, size, &hr, results2, IPC_MAX_ITEMS);
	if (rh != IPC_OK)
		FUZZ_CHECK(rr == rh);
	if (rr == IPC_OK) {
		uint8_t *enc;

		oks++;
		FUZZ_CHECK(hr.type == IPC_T_PUSH_REPLY && hr.count >= 1 &&
			   hr.count <= IPC_MAX_ITEMS);
		FUZZ_CHECK(size == IPC_HDR_LEN + (size_t)hr.count * IPC_REPLY_ITEM_LEN);
		enc = malloc(size);
		FUZZ_CHECK(enc != NULL);
		FUZZ_CHECK(ipc_encode_push_reply(enc, size, hr.req_id, results2, hr.count) == size);
		check_same_but_flags(enc, data, size, &hr);
		FUZZ_CHECK(ipc_encode_push_reply(enc, size - 1, hr.req_id, results2, hr.count) == 0);
		free(enc);
		/* A caller with room for fewer entries gets a count error, never an overrun;
		 * with exactly enough room it gets them all. */
		{
			size_t k = hr.count;
			struct ipc_result *few = malloc(k * sizeof *few);

			FUZZ_CHECK(few != NULL);
			FUZZ_CHECK(ipc_decode_push_reply(data, size, &hr, few, k - 1) == IPC_ERR_COUNT);
			FUZZ_CHECK(ipc_decode_push_reply(data, size, &hr, few, k) == IPC_OK);
			FUZZ_CHECK(memcmp(few, results2, k * sizeof *few) == 0);
			free(few);
		}
	}

	/* STATS_REPLY */
	rs = ipc_decode_stats_reply(data, size, &hs, &text, &text_len);
	if (rh != IPC_OK)
		FUZZ_CHECK(rs == rh);
	if (rs == IPC_OK) {
		uint8_t *enc;

		oks++;
		FUZZ_CHECK(hs.type == IPC_T_STATS_REPLY && hs.count == 0);
		FUZZ_CHECK((const uint8_t *)text == data + IPC_HDR_LEN);
		FUZZ_CHECK(text_len == size - IPC_HDR_LEN);
		enc = malloc(size);
		FUZZ_CHECK(enc != NULL);
		FUZZ_CHECK(ipc_encode_stats_reply(enc, size, hs.req_id, text, text_len) == size);
		check_same_but_flags(enc, data, size, &hs);
		/* In place: the text already sits right after the header. */
		memcpy(enc + IPC_HDR_LEN, text, text_len);
		FUZZ_CHECK(ipc_encode_stats_reply(enc, size, hs.req_id, (const char *)enc + IPC_HDR_LEN,
						  text_len) == size);
		check_same_but_flags(enc, data, size, &hs);
		if (text_len > 0)
			FUZZ_CHECK(ipc_encode_stats_reply(enc, size - 1, hs.req_id, text, text_len) == 0);
		free(enc);
	}
	FUZZ_CHECK(oks <= 1); /* the three datagram kinds exclude each other */
}

/* A view of up to want bytes of the input (fewer when it runs out). */
static const char *take_view(struct rd *r, size_t want, size_t *got)
{
	const char *p = (const char *)r->p;

	*got = want < r->n ? want : r->n;
	r->p += *got;
	r->n -= *got;
	return p;
}

static void check_encode(const uint8_t *data, size_t size)
{
	struct rd r = { data, size };
	struct ipc_hdr h;
	uint32_t req_id = (uint32_t)take_be(&r, 4);
	uint8_t nb = take8(&r);
	size_t n = (size_t)(nb & 15) + 1, total, nres;
	uint8_t *buf;

	/* PUSH items as views into the input; lengths from the input too. */
	for (size_t i = 0; i < n; i++) {
		struct ipc_push_item *it = &items[i];
		uint8_t lu = take8(&r), lt = take8(&r), lc = take8(&r);

		it->uid = take_view(&r, lu, &it->uid_len);
		it->topic = take_view(&r, lt, &it->topic_len);
		it->contents = take_view(&r, lc, &it->contents_len);
	}
	total = ipc_push_size(items, n);
	{
		size_t model = IPC_HDR_LEN;

		for (size_t i = 0; i < n; i++)
			model += IPC_PUSH_ITEM_HDR + items[i].uid_len + items[i].topic_len +
				 items[i].contents_len;
		FUZZ_CHECK(total == model);
	}
	buf = malloc(total);
	FUZZ_CHECK(buf != NULL);
	FUZZ_CHECK(ipc_encode_push(buf, total - 1, req_id, items, n) == 0);
	FUZZ_CHECK(ipc_encode_push(buf, total, req_id, items, n) == total);
	FUZZ_CHECK(ipc_decode_push(buf, total, &h, items2) == IPC_OK);
	FUZZ_CHECK(h.type == IPC_T_PUSH && h.req_id == req_id && h.count == n && h.flags == 0);
	for (size_t i = 0; i < n; i++) {
		FUZZ_CHECK(items2[i].uid_len == items[i].uid_len);
		FUZZ_CHECK(items2[i].topic_len == items[i].topic_len);
		FUZZ_CHECK(items2[i].contents_len == items[i].contents_len);
		FUZZ_CHECK(memcmp(items2[i].uid, items[i].uid, items[i].uid_len) == 0);
		FUZZ_CHECK(memcmp(items2[i].topic, items[i].topic, items[i].topic_len) == 0);
		FUZZ_CHECK(memcmp(items2[i].contents, items[i].contents, items[i].contents_len) == 0);
	}
	/* Any shorter datagram is refused as a whole. */
	FUZZ_CHECK(ipc_decode_push(buf, total - 1 - (size_t)(nb >> 4) % (total - IPC_HDR_LEN),
				   &h, items2) == IPC_ERR_BOUNDS);
	free(buf);
	FUZZ_CHECK(ipc_encode_push(NULL, 0, req_id, items, 0) == 0);

	/* PUSH_REPLY from whatever input is left: 16 bytes a result, at least one. */
	nres = r.n / IPC_REPLY_ITEM_LEN + 1;
	if (nres > IPC_MAX_ITEMS)
		nres = IPC_MAX_ITEMS;
	for (size_t i = 0; i < nres; i++) {
		results[i].delivered = (uint32_t)take_be(&r, 4);
		results[i].status = (uint32_t)take_be(&r, 4);
		results[i].number = (uint64_t)(uint32_t)take_be(&r, 4) << 32;
		results[i].number |= (uint32_t)take_be(&r, 4);
	}
	total = IPC_HDR_LEN + nres * IPC_REPLY_ITEM_LEN;
	buf = malloc(total);
	FUZZ_CHECK(buf != NULL);
	FUZZ_CHECK(ipc_encode_push_reply(buf, total - 1, req_id, results, nres) == 0);
	FUZZ_CHECK(ipc_encode_push_reply(buf, total, req_id, results, nres) == total);
	FUZZ_CHECK(ipc_decode_push_reply(buf, total, &h, results2, nres) == IPC_OK);
	FUZZ_CHECK(h.type == IPC_T_PUSH_REPLY && h.req_id == req_id && h.count == nres);
	FUZZ_CHECK(memcmp(results, results2, nres * sizeof results[0]) == 0);
	FUZZ_CHECK(ipc_decode_push_reply(buf, total - 1, &h, results2, nres) == IPC_ERR_BOUNDS);
	free(buf);

	/* Header-only messages, any type byte and flags. */
	{
		uint8_t b[IPC_HDR_LEN];
		uint16_t flags = (uint16_t)(req_id ^ (req_id >> 16));
		enum ipc_rc rc;

		FUZZ_CHECK(ipc_encode_bare(b, sizeof b - 1, nb, req_id, flags) == 0);
		FUZZ_CHECK(ipc_encode_bare(b, sizeof b, nb, req_id, flags) == IPC_HDR_LEN);
		rc = ipc_decode_hdr(b, sizeof b, &h);
		if (nb >= IPC_T_PUSH && nb <= IPC_T_REPORT) {
			FUZZ_CHECK(rc == IPC_OK);
			FUZZ_CHECK(h.type == nb && h.req_id == req_id && h.count == 0 &&
				   h.flags == flags);
		} else {
			FUZZ_CHECK(rc == IPC_ERR_TYPE);
		}
		FUZZ_CHECK(ipc_encode_error_reply(b, sizeof b, req_id) == IPC_HDR_LEN);
		FUZZ_CHECK(ipc_decode_hdr(b, sizeof b, &h) == IPC_OK);
		FUZZ_CHECK(h.type == IPC_T_ERROR_REPLY && h.count == 0 && h.req_id == req_id);
		FUZZ_CHECK(ipc_decode_push(b, sizeof b, &h, items2) == IPC_ERR_TYPE);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_decode(data, size);
	check_encode(data, size);
	return 0;
}
