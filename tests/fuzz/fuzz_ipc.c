/* SPDX-License-Identifier: MIT */
/* libFuzzer driver for ipc/ipc.c: the input is decoded as a datagram of every kind (views
 * must stay in the buffer, re-encoding must give the same bytes, each request type's rules
 * hold) and drives encode->decode trips of every request type, shared multicasts included. */
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

/* Field by field: struct ipc_result has tail padding memcmp would read. */
static int same_results(const struct ipc_result *a, const struct ipc_result *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i].delivered != b[i].delivered || a[i].status != b[i].status ||
		    a[i].number != b[i].number || a[i].acked != b[i].acked)
			return 0;
	return 1;
}

/* A decoded datagram re-encoded from its header gives the input, byte for byte. */
static void check_same(const uint8_t *enc, size_t enc_len, const uint8_t *in, size_t len)
{
	FUZZ_CHECK(enc_len == len);
	FUZZ_CHECK(memcmp(enc, in, len) == 0);
}

static void check_hdr(const uint8_t *data, size_t size, const struct ipc_hdr *h, enum ipc_rc rh)
{
	FUZZ_CHECK(ipc_rc_str(rh) != NULL);
	if (size < IPC_HDR_LEN)
		FUZZ_CHECK(rh == IPC_ERR_SHORT);
	if (rh != IPC_OK) {
		FUZZ_CHECK(rh == IPC_ERR_SHORT || rh == IPC_ERR_MAGIC || rh == IPC_ERR_VERSION ||
			   rh == IPC_ERR_TYPE || rh == IPC_ERR_WORKER);
		return;
	}
	FUZZ_CHECK(size >= IPC_HDR_LEN && data[0] == 'W' && data[1] == 'P');
	FUZZ_CHECK(h->version == IPC_VERSION && h->version == data[2]);
	FUZZ_CHECK(h->type == data[3] && h->type >= IPC_T_PUSH && h->type <= IPC_T_LAST);
	FUZZ_CHECK(h->req_id == rd32(data + 4));
	FUZZ_CHECK(h->count == rd16(data + 8) && h->flags == rd16(data + 10));
	FUZZ_CHECK(h->generation == rd32(data + 12));
	FUZZ_CHECK(h->workers == rd16(data + 16) && h->index == rd16(data + 18));
	FUZZ_CHECK(h->workers <= IPC_WORKERS_MAX);
	FUZZ_CHECK(h->workers ? h->index < h->workers : h->index == 0);
}

/* The request types made of items, with what each allows (ipc.h). */
struct req_rules {
	uint8_t type;
	uint16_t item_flags, hdr_flags;
	int uid, message;
	size_t max_items;
};

static const struct req_rules req_types[] = {
	{ IPC_T_PUSH, IPC_F_ACK, IPC_H_SHARED, 1, 1, IPC_MAX_ITEMS },
	{ IPC_T_PRESENCE, 0, 0, 1, 0, IPC_MAX_ITEMS },
	{ IPC_T_KICK, IPC_F_REVOKE, 0, 1, 0, IPC_MAX_ITEMS },
	{ IPC_T_BROADCAST, 0, 0, 0, 1, 1 },
};
#define N_REQ_TYPES (sizeof req_types / sizeof req_types[0])

static const struct req_rules *rules_of(uint8_t type)
{
	for (size_t i = 0; i < N_REQ_TYPES; i++)
		if (req_types[i].type == type)
			return &req_types[i];
	return NULL;
}

/* Item i of a decoded request against its wire bytes at *next and its type's
 * rules; *next moves past it. A shared multicast's tail items carry no parts
 * on the wire and get the first item's. */
static void check_request_item(const uint8_t *data, size_t size, const struct ipc_hdr *hp,
			       size_t i, const uint8_t **next)
{
	const struct req_rules *rules = rules_of(hp->type);
	const struct ipc_push_item *it = &items2[i];
	int tail = (hp->flags & IPC_H_SHARED) && i > 0;
	const uint8_t *p = *next;

	FUZZ_CHECK(inside(p, IPC_PUSH_ITEM_HDR, data, size));
	FUZZ_CHECK(it->uid_len == rd16(p));
	FUZZ_CHECK(it->flags == rd16(p + 2) && (it->flags & ~rules->item_flags) == 0);
	FUZZ_CHECK((const uint8_t *)it->uid == p + IPC_PUSH_ITEM_HDR);
	FUZZ_CHECK(inside(it->uid, it->uid_len, data, size));
	FUZZ_CHECK(rules->uid || it->uid_len == 0);
	FUZZ_CHECK(rules->message || (it->topic_len == 0 && it->contents_len == 0));
	*next = (const uint8_t *)it->uid + it->uid_len;
	if (tail) {
		FUZZ_CHECK(rd32(p + 4) == 0 && rd32(p + 8) == 0);
		FUZZ_CHECK(it->topic == items2[0].topic && it->topic_len == items2[0].topic_len);
		FUZZ_CHECK(it->contents == items2[0].contents &&
			   it->contents_len == items2[0].contents_len);
		return;
	}
	/* Laid out as item header | uid | topic | contents. */
	FUZZ_CHECK(it->topic_len == rd32(p + 4) && it->contents_len == rd32(p + 8));
	FUZZ_CHECK((const uint8_t *)it->topic == *next);
	FUZZ_CHECK(inside(it->topic, it->topic_len, data, size));
	FUZZ_CHECK((const uint8_t *)it->contents == (const uint8_t *)it->topic + it->topic_len);
	FUZZ_CHECK(inside(it->contents, it->contents_len, data, size));
	*next = (const uint8_t *)it->contents + it->contents_len;
}

static int check_push(const uint8_t *data, size_t size, const struct ipc_hdr *h, enum ipc_rc rh)
{
	const uint8_t *next = data + IPC_HDR_LEN;
	struct ipc_hdr hp;
	enum ipc_rc rp = ipc_decode_request(data, size, &hp, items2);
	const struct req_rules *rules = rh == IPC_OK ? rules_of(h->type) : NULL;
	uint8_t *enc;

	if (rh != IPC_OK)
		FUZZ_CHECK(rp == rh);
	if (rh == IPC_OK && !rules)
		FUZZ_CHECK(rp == IPC_ERR_TYPE);
	if (rp != IPC_OK) {
		if (rules && h->count >= 1 && h->count <= rules->max_items)
			FUZZ_CHECK(rp == IPC_ERR_BOUNDS || rp == IPC_ERR_FLAGS);
		if (rules && (h->flags & ~rules->hdr_flags))
			FUZZ_CHECK(rp == IPC_ERR_FLAGS);
		return 0;
	}
	rules = rules_of(hp.type);
	FUZZ_CHECK(rules && hp.count >= 1 && hp.count <= rules->max_items);
	FUZZ_CHECK((hp.flags & ~rules->hdr_flags) == 0);
	for (size_t i = 0; i < hp.count; i++)
		check_request_item(data, size, &hp, i, &next);
	FUZZ_CHECK(next == data + size); /* no trailing bytes */
	FUZZ_CHECK(ipc_request_size(items2, hp.count, hp.flags) == size);
	enc = malloc(size);
	FUZZ_CHECK(enc != NULL);
	check_same(enc, ipc_encode_request(enc, size, hp.type, &hp, items2, hp.count), data, size);
	FUZZ_CHECK(ipc_encode_request(enc, size - 1, hp.type, &hp, items2, hp.count) == 0);
	if (hp.type == IPC_T_PUSH && hp.flags == 0)
		check_same(enc, ipc_encode_push(enc, size, &hp, items2, hp.count), data, size);
	free(enc);
	return 1;
}

static int check_push_reply(const uint8_t *data, size_t size, enum ipc_rc rh)
{
	struct ipc_hdr hr;
	enum ipc_rc rr = ipc_decode_push_reply(data, size, &hr, results2, IPC_MAX_ITEMS);
	struct ipc_result *few;
	uint8_t *enc;
	size_t k;

	if (rh != IPC_OK)
		FUZZ_CHECK(rr == rh);
	if (rr == IPC_ERR_STATUS) {
		/* Only a well-formed reply gets this far, and one of its statuses is unknown. */
		size_t unknown = 0;

		FUZZ_CHECK(size == IPC_HDR_LEN + (size_t)hr.count * IPC_REPLY_ITEM_LEN);
		for (size_t i = 0; i < hr.count; i++)
			unknown += rd32(data + IPC_HDR_LEN + i * IPC_REPLY_ITEM_LEN + 4) > IPC_S_MAX;
		FUZZ_CHECK(unknown > 0);
	}
	if (rr != IPC_OK)
		return 0;
	FUZZ_CHECK(hr.type == IPC_T_PUSH_REPLY && hr.count >= 1 && hr.count <= IPC_MAX_ITEMS);
	FUZZ_CHECK(hr.workers >= 1); /* a reply comes from a worker */
	FUZZ_CHECK(size == IPC_HDR_LEN + (size_t)hr.count * IPC_REPLY_ITEM_LEN);
	for (size_t i = 0; i < hr.count; i++) {
		const uint8_t *p = data + IPC_HDR_LEN + i * IPC_REPLY_ITEM_LEN;

		FUZZ_CHECK(results2[i].delivered == rd32(p) && results2[i].status == rd32(p + 4));
		FUZZ_CHECK(results2[i].status <= IPC_S_MAX);
		FUZZ_CHECK(results2[i].number == ((uint64_t)rd32(p + 8) << 32 | rd32(p + 12)));
		FUZZ_CHECK(results2[i].acked == rd32(p + 16));
	}
	enc = malloc(size);
	FUZZ_CHECK(enc != NULL);
	check_same(enc, ipc_encode_push_reply(enc, size, &hr, results2, hr.count), data, size);
	FUZZ_CHECK(ipc_encode_push_reply(enc, size - 1, &hr, results2, hr.count) == 0);
	free(enc);
	/* A caller with room for fewer entries gets a count error, never an overrun;
	 * with exactly enough room it gets them all. */
	k = hr.count;
	few = malloc(k * sizeof *few);
	FUZZ_CHECK(few != NULL);
	FUZZ_CHECK(ipc_decode_push_reply(data, size, &hr, few, k - 1) == IPC_ERR_COUNT);
	FUZZ_CHECK(ipc_decode_push_reply(data, size, &hr, few, k) == IPC_OK);
	FUZZ_CHECK(same_results(few, results2, k));
	free(few);
	return 1;
}

static int check_stats_reply(const uint8_t *data, size_t size, enum ipc_rc rh)
{
	uint64_t v[IPC_STATS_N];
	uint8_t enc[IPC_HDR_LEN + IPC_STATS_N * IPC_STAT_LEN];
	struct ipc_hdr hs;
	enum ipc_rc rs = ipc_decode_stats_reply(data, size, &hs, v);

	if (rh != IPC_OK)
		FUZZ_CHECK(rs == rh);
	if (rs != IPC_OK)
		return 0;
	FUZZ_CHECK(hs.type == IPC_T_STATS_REPLY && hs.count == IPC_STATS_N && hs.workers >= 1);
	check_same(enc, ipc_encode_stats_reply(enc, sizeof enc, &hs, v), data, size);
	FUZZ_CHECK(ipc_encode_stats_reply(enc, sizeof enc - 1, &hs, v) == 0);
	return 1;
}

static int check_config_reply(const uint8_t *data, size_t size, enum ipc_rc rh)
{
	const uint8_t *cfg = NULL;
	struct ipc_hdr hc;
	size_t cl = 0;
	enum ipc_rc rc = ipc_decode_config_reply(data, size, &hc, &cfg, &cl);
	uint8_t *enc;

	if (rh != IPC_OK)
		FUZZ_CHECK(rc == rh);
	if (rc != IPC_OK)
		return 0;
	FUZZ_CHECK(hc.type == IPC_T_CONFIG_REPLY && hc.count == 0 && hc.workers >= 1);
	FUZZ_CHECK(cfg == data + IPC_HDR_LEN && cl == size - IPC_HDR_LEN);
	enc = malloc(size);
	FUZZ_CHECK(enc != NULL);
	check_same(enc, ipc_encode_config_reply(enc, size, &hc, cfg, cl), data, size);
	/* In place: the configuration already sits right after the header. */
	check_same(enc, ipc_encode_config_reply(enc, size, &hc, enc + IPC_HDR_LEN, cl), data, size);
	if (cl > 0)
		FUZZ_CHECK(ipc_encode_config_reply(enc, size - 1, &hc, cfg, cl) == 0);
	free(enc);
	return 1;
}

static int check_report(const uint8_t *data, size_t size, enum ipc_rc rh)
{
	uint32_t counts[IPC_R_COUNT];
	uint8_t enc[IPC_HDR_LEN + IPC_R_COUNT * IPC_REPORT_ITEM_LEN];
	struct ipc_hdr hp;
	enum ipc_rc rr = ipc_decode_report(data, size, &hp, counts);

	if (rh != IPC_OK)
		FUZZ_CHECK(rr == rh);
	if (rr != IPC_OK)
		return 0;
	FUZZ_CHECK(hp.type == IPC_T_REPORT && hp.count == IPC_R_COUNT);
	check_same(enc, ipc_encode_report(enc, sizeof enc, &hp, counts), data, size);
	return 1;
}

static void check_decode(const uint8_t *data, size_t size)
{
	struct ipc_hdr h;
	enum ipc_rc rh = ipc_decode_hdr(data, size, &h);
	int oks;

	check_hdr(data, size, &h, rh);
	oks = check_push(data, size, &h, rh) + check_push_reply(data, size, rh) +
	      check_stats_reply(data, size, rh) + check_config_reply(data, size, rh) +
	      check_report(data, size, rh);
	FUZZ_CHECK(oks <= 1); /* the datagram kinds exclude each other */
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

/* A header template from the input; workers and index made valid. */
static struct ipc_hdr take_hdr(struct rd *r)
{
	struct ipc_hdr h = { 0 };

	h.req_id = (uint32_t)take_be(r, 4);
	h.flags = (uint16_t)take_be(r, 2);
	h.generation = (uint32_t)take_be(r, 4);
	h.workers = (uint16_t)(take8(r) % IPC_WORKERS_MAX + 1);
	h.index = (uint16_t)(take8(r) % h.workers);
	return h;
}

static void check_encode_push(struct rd *r, const struct ipc_hdr *hw)
{
	uint8_t nb = take8(r);
	size_t n = (size_t)(nb & 15) + 1, total, model = IPC_HDR_LEN;
	struct ipc_hdr req = *hw, h;
	unsigned unknown = 0;
	uint8_t *buf;

	req.workers = req.index = 0; /* a request */
	req.flags = 0;                /* a plain push (check_encode_request shares) */
	/* PUSH items as views into the input; lengths from the input too. */
	for (size_t i = 0; i < n; i++) {
		struct ipc_push_item *it = &items[i];
		uint8_t lu = take8(r), lt = take8(r), lc = take8(r);
		uint16_t f = (uint16_t)take_be(r, 2);

		/* Mostly known flags (REVOKE is another type's: unknown to a PUSH); a
		 * top byte of 0xFF keeps an unknown bit or more. */
		it->flags = (f >> 8) == 0xFF ? f : (uint16_t)(f & IPC_F_KNOWN);
		unknown |= it->flags & ~IPC_F_ACK;
		it->uid = take_view(r, lu, &it->uid_len);
		it->topic = take_view(r, lt, &it->topic_len);
		it->contents = take_view(r, lc, &it->contents_len);
		model += IPC_PUSH_ITEM_HDR + it->uid_len + it->topic_len + it->contents_len;
	}
	total = ipc_push_size(items, n);
	FUZZ_CHECK(total == model);
	buf = malloc(total);
	FUZZ_CHECK(buf != NULL);
	FUZZ_CHECK(ipc_encode_push(buf, total - 1, &req, items, n) == 0);
	FUZZ_CHECK(ipc_encode_push(buf, total, &req, items, n) == total);
	if (unknown) {
		/* Written as given, refused by the decoder; then the same without them. */
		FUZZ_CHECK(ipc_decode_request(buf, total, &h, items2) == IPC_ERR_FLAGS);
		for (size_t i = 0; i < n; i++)
			items[i].flags &= IPC_F_ACK;
		FUZZ_CHECK(ipc_encode_push(buf, total, &req, items, n) == total);
	}
	FUZZ_CHECK(ipc_decode_request(buf, total, &h, items2) == IPC_OK);
	FUZZ_CHECK(h.type == IPC_T_PUSH && h.req_id == req.req_id && h.count == n &&
		   h.flags == req.flags && h.generation == req.generation && h.workers == 0);
	for (size_t i = 0; i < n; i++) {
		FUZZ_CHECK(items2[i].uid_len == items[i].uid_len);
		FUZZ_CHECK(items2[i].flags == items[i].flags);
		FUZZ_CHECK(items2[i].topic_len == items[i].topic_len);
		FUZZ_CHECK(items2[i].contents_len == items[i].contents_len);
		FUZZ_CHECK(memcmp(items2[i].uid, items[i].uid, items[i].uid_len) == 0);
		FUZZ_CHECK(memcmp(items2[i].topic, items[i].topic, items[i].topic_len) == 0);
		FUZZ_CHECK(memcmp(items2[i].contents, items[i].contents, items[i].contents_len) == 0);
	}
	/* Any shorter datagram is refused as a whole. */
	FUZZ_CHECK(ipc_decode_request(buf, total - 1 - (size_t)(nb >> 4) % (total - IPC_HDR_LEN),
				   &h, items2) == IPC_ERR_BOUNDS);
	/* A request is no reply: the reply decoders want a worker. */
	FUZZ_CHECK(ipc_decode_push_reply(buf, total, &h, results2, IPC_MAX_ITEMS) == IPC_ERR_TYPE);
	free(buf);
	FUZZ_CHECK(ipc_encode_push(NULL, 0, &req, items, 0) == 0);
}

/* Items of a request of the given rules from the input, as views into it; the
 * type's shape kept (no uid for a broadcast, no parts for uid-only types). */
static size_t take_request_items(struct rd *r, const struct req_rules *rules, size_t n)
{
	size_t model = IPC_HDR_LEN;

	for (size_t i = 0; i < n; i++) {
		struct ipc_push_item *it = &items[i];
		uint8_t lu = take8(r), lt = take8(r), lc = take8(r);

		it->flags = (uint16_t)take_be(r, 2) & rules->item_flags;
		it->uid = take_view(r, rules->uid ? lu : 0, &it->uid_len);
		it->topic = take_view(r, rules->message ? lt : 0, &it->topic_len);
		it->contents = take_view(r, rules->message ? lc : 0, &it->contents_len);
		model += IPC_PUSH_ITEM_HDR + it->uid_len + it->topic_len + it->contents_len;
	}
	return model;
}

/* What a decoded request item must say: the encoded one's uid and flags, and
 * its message, or in a shared multicast the first item's. */
static void check_same_request(size_t n, int shared)
{
	for (size_t i = 0; i < n; i++) {
		const struct ipc_push_item *want = shared ? &items[0] : &items[i];

		FUZZ_CHECK(items2[i].uid_len == items[i].uid_len);
		FUZZ_CHECK(memcmp(items2[i].uid, items[i].uid, items[i].uid_len) == 0);
		FUZZ_CHECK(items2[i].flags == items[i].flags);
		FUZZ_CHECK(items2[i].topic_len == want->topic_len);
		FUZZ_CHECK(items2[i].contents_len == want->contents_len);
		FUZZ_CHECK(memcmp(items2[i].topic, want->topic, want->topic_len) == 0);
		FUZZ_CHECK(memcmp(items2[i].contents, want->contents, want->contents_len) == 0);
	}
}

/* The rules of the type refuse what an encoder writes as given: an item flag of
 * another type, an unknown header flag, and (for a multicast) a tail item that
 * brings a message. */
static void check_request_rules(uint8_t *buf, size_t total, const struct req_rules *rules,
				struct ipc_hdr *req, size_t n)
{
	struct ipc_hdr h;
	uint16_t keep = items[n - 1].flags;
	int tail_parts = 0;
	uint8_t *plain;

	items[n - 1].flags |= (uint16_t)(IPC_F_KNOWN & ~rules->item_flags);
	FUZZ_CHECK(ipc_encode_request(buf, total, rules->type, req, items, n) == total);
	FUZZ_CHECK(ipc_decode_request(buf, total, &h, items2) == IPC_ERR_FLAGS);
	items[n - 1].flags = keep;
	/* A header flag the type does not know, likewise. */
	req->flags |= 0x8000;
	FUZZ_CHECK(ipc_encode_request(buf, total, rules->type, req, items, n) == total);
	FUZZ_CHECK(ipc_decode_request(buf, total, &h, items2) == IPC_ERR_FLAGS);
	req->flags &= (uint16_t)~0x8000u;
	if (rules->type != IPC_T_PUSH || req->flags != IPC_H_SHARED)
		return;
	/* The same items sent unshared, then claimed shared. */
	for (size_t i = 1; i < n; i++)
		tail_parts |= items[i].topic_len || items[i].contents_len;
	req->flags = 0;
	total = ipc_request_size(items, n, 0);
	plain = malloc(total);
	FUZZ_CHECK(plain != NULL);
	FUZZ_CHECK(ipc_encode_request(plain, total, IPC_T_PUSH, req, items, n) == total);
	plain[11] |= IPC_H_SHARED; /* the low byte of the header flags */
	FUZZ_CHECK(ipc_decode_request(plain, total, &h, items2) ==
		   (tail_parts ? IPC_ERR_BOUNDS : IPC_OK));
	free(plain);
	req->flags = IPC_H_SHARED;
}

/* A request of any type made of items: encode -> decode gives it back, with
 * the message once in a shared multicast; the type's rules hold. */
static void check_encode_request(struct rd *r, const struct ipc_hdr *hw)
{
	uint8_t sel = take8(r);
	const struct req_rules *rules = &req_types[sel % N_REQ_TYPES];
	size_t n = rules->max_items == 1 ? 1 : (size_t)(take8(r) & 15) + 1, model, total;
	struct ipc_hdr req = *hw, h;
	uint8_t *buf;

	req.workers = req.index = 0; /* a request */
	req.flags = rules->type == IPC_T_PUSH && (sel & 0x80) ? IPC_H_SHARED : 0;
	model = take_request_items(r, rules, n);
	/* Shared: the tail items' parts are not written. */
	for (size_t i = 1; req.flags && i < n; i++)
		model -= items[i].topic_len + items[i].contents_len;
	total = ipc_request_size(items, n, req.flags);
	FUZZ_CHECK(total == model);
	buf = malloc(total);
	FUZZ_CHECK(buf != NULL);
	FUZZ_CHECK(ipc_encode_request(buf, total - 1, rules->type, &req, items, n) == 0);
	FUZZ_CHECK(ipc_encode_request(buf, total, rules->type, &req, items, n) == total);
	FUZZ_CHECK(ipc_decode_request(buf, total, &h, items2) == IPC_OK);
	FUZZ_CHECK(h.type == rules->type && h.count == n && h.flags == req.flags &&
		   h.req_id == req.req_id && h.workers == 0);
	check_same_request(n, req.flags != 0);
	/* Any shorter datagram is refused as a whole. */
	FUZZ_CHECK(ipc_decode_request(buf, total - 1 - (size_t)sel % (total - IPC_HDR_LEN), &h,
				      items2) != IPC_OK);
	check_request_rules(buf, total, rules, &req, n);
	free(buf);
}

static void check_encode_reply(struct rd *r, const struct ipc_hdr *hw)
{
	/* PUSH_REPLY from whatever input is left: a wire item's worth a result, at least one. */
	size_t nres = r->n / IPC_REPLY_ITEM_LEN + 1, total;
	struct ipc_hdr h;
	int unknown = 0;
	uint8_t *buf;

	if (nres > IPC_MAX_ITEMS)
		nres = IPC_MAX_ITEMS;
	for (size_t i = 0; i < nres; i++) {
		results[i].delivered = (uint32_t)take_be(r, 4);
		results[i].status = (uint32_t)take_be(r, 4);
		results[i].number = take_be(r, 8);
		results[i].acked = (uint32_t)take_be(r, 4);
		unknown |= results[i].status > IPC_S_MAX;
	}
	total = IPC_HDR_LEN + nres * IPC_REPLY_ITEM_LEN;
	buf = malloc(total);
	FUZZ_CHECK(buf != NULL);
	FUZZ_CHECK(ipc_encode_push_reply(buf, total - 1, hw, results, nres) == 0);
	FUZZ_CHECK(ipc_encode_push_reply(buf, total, hw, results, nres) == total);
	if (unknown) {
		/* Written as given, refused by the decoder; then known statuses only. */
		FUZZ_CHECK(ipc_decode_push_reply(buf, total, &h, results2, nres) == IPC_ERR_STATUS);
		for (size_t i = 0; i < nres; i++)
			results[i].status %= IPC_S_MAX + 1;
		FUZZ_CHECK(ipc_encode_push_reply(buf, total, hw, results, nres) == total);
	}
	FUZZ_CHECK(ipc_decode_push_reply(buf, total, &h, results2, nres) == IPC_OK);
	FUZZ_CHECK(h.type == IPC_T_PUSH_REPLY && h.req_id == hw->req_id && h.count == nres &&
		   h.generation == hw->generation && h.workers == hw->workers &&
		   h.index == hw->index);
	FUZZ_CHECK(same_results(results, results2, nres));
	FUZZ_CHECK(ipc_decode_push_reply(buf, total - 1, &h, results2, nres) == IPC_ERR_BOUNDS);
	free(buf);
}

/* Header-only messages, any type byte. */
static void check_encode_bare(const struct ipc_hdr *hw, uint8_t type)
{
	uint8_t b[IPC_HDR_LEN];
	struct ipc_hdr h;
	enum ipc_rc rc;

	FUZZ_CHECK(ipc_encode_bare(b, sizeof b - 1, type, hw) == 0);
	FUZZ_CHECK(ipc_encode_bare(b, sizeof b, type, hw) == IPC_HDR_LEN);
	rc = ipc_decode_hdr(b, sizeof b, &h);
	if (type >= IPC_T_PUSH && type <= IPC_T_LAST) {
		FUZZ_CHECK(rc == IPC_OK);
		FUZZ_CHECK(h.type == type && h.req_id == hw->req_id && h.count == 0 &&
			   h.flags == hw->flags && h.generation == hw->generation &&
			   h.workers == hw->workers && h.index == hw->index);
	} else {
		FUZZ_CHECK(rc == IPC_ERR_TYPE);
	}
	FUZZ_CHECK(ipc_encode_bare(b, sizeof b, IPC_T_ERROR_REPLY, hw) == IPC_HDR_LEN);
	FUZZ_CHECK(ipc_decode_request(b, sizeof b, &h, items2) == IPC_ERR_TYPE);
}

static void check_encode(const uint8_t *data, size_t size)
{
	struct rd r = { data, size };
	struct ipc_hdr hw = take_hdr(&r);
	uint8_t type = take8(&r);

	check_encode_push(&r, &hw);
	check_encode_request(&r, &hw);
	check_encode_reply(&r, &hw);
	check_encode_bare(&hw, type);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_decode(data, size);
	check_encode(data, size);
	return 0;
}
