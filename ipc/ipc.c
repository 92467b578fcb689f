/* SPDX-License-Identifier: MIT */
/* Encoders and strict decoders for the FastCGI <-> ws-daemon datagrams.
 * Decoders never trust a length before comparing it with what is left. */
#include "ipc.h"

#include <string.h>

static const uint8_t ipc_magic[2] = { 'W', 'P' };

/* Header field offsets. */
enum { IPC_O_VERSION = 2, IPC_O_TYPE = 3, IPC_O_REQ = 4, IPC_O_COUNT = 8, IPC_O_FLAGS = 10,
       IPC_O_GEN = 12, IPC_O_WORKERS = 16, IPC_O_INDEX = 18 };
_Static_assert(IPC_O_INDEX + 2 == IPC_HDR_LEN, "header layout");
/* PUSH item header and PUSH_REPLY item field offsets. */
enum { IPC_PI_UID_LEN = 0, IPC_PI_FLAGS = 2, IPC_PI_TOPIC_LEN = 4, IPC_PI_CONTENTS_LEN = 8 };
enum { IPC_RI_DELIVERED = 0, IPC_RI_STATUS = 4, IPC_RI_NUMBER = 8, IPC_RI_ACKED = 16 };
_Static_assert(IPC_PI_CONTENTS_LEN + 4 == IPC_PUSH_ITEM_HDR, "push item layout");
_Static_assert(IPC_RI_ACKED + 4 == IPC_REPLY_ITEM_LEN, "reply item layout");
_Static_assert(IPC_F_KNOWN <= UINT16_MAX, "item flags travel as u16");
_Static_assert(IPC_STATS_N * IPC_STAT_LEN + IPC_HDR_LEN <= IPC_MAX_DATAGRAM, "stats fit");
_Static_assert(IPC_REPLY_MAX <= IPC_MAX_DATAGRAM, "a full reply fits");
_Static_assert(IPC_WORKERS_MAX <= UINT16_MAX, "workers travel as u16");

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get64(const uint8_t *p) { return (uint64_t)get32(p) << 32 | get32(p + 4); }

static void ipc_put_hdr(uint8_t *buf, uint8_t type, const struct ipc_hdr *h, uint16_t count)
{
	memcpy(buf, ipc_magic, 2);
	buf[IPC_O_VERSION] = IPC_VERSION;
	buf[IPC_O_TYPE] = type;
	put32(buf + IPC_O_REQ, h->req_id);
	put16(buf + IPC_O_COUNT, count);
	put16(buf + IPC_O_FLAGS, h->flags);
	put32(buf + IPC_O_GEN, h->generation);
	put16(buf + IPC_O_WORKERS, h->workers);
	put16(buf + IPC_O_INDEX, h->index);
}

/* A shared multicast writes the message once, with its first item. */
static int ipc_writes_parts(uint16_t hflags, size_t i)
{
	return !(hflags & IPC_H_SHARED) || i == 0;
}

size_t ipc_push_size(const struct ipc_push_item *items, size_t n)
{
	return ipc_request_size(items, n, 0);
}

size_t ipc_request_size(const struct ipc_push_item *items, size_t n, uint16_t hflags)
{
	size_t total = IPC_HDR_LEN;

	for (size_t i = 0; i < n; i++) {
		const struct ipc_push_item *it = &items[i];
		size_t need, tl = 0, cl = 0;

		if (ipc_writes_parts(hflags, i)) {
			tl = it->topic_len;
			cl = it->contents_len;
		}
		if (it->uid_len > UINT16_MAX || tl > UINT32_MAX || cl > UINT32_MAX)
			return SIZE_MAX;
		need = IPC_PUSH_ITEM_HDR + it->uid_len;
		if (tl > SIZE_MAX - need || cl > SIZE_MAX - need - tl)
			return SIZE_MAX;
		need += tl + cl;
		if (need > SIZE_MAX - total)
			return SIZE_MAX;
		total += need;
	}
	return total;
}

size_t ipc_encode_push(uint8_t *buf, size_t cap, const struct ipc_hdr *h,
		       const struct ipc_push_item *items, size_t n)
{
	return ipc_encode_request(buf, cap, IPC_T_PUSH, h, items, n);
}

size_t ipc_encode_request(uint8_t *buf, size_t cap, uint8_t type, const struct ipc_hdr *h,
			  const struct ipc_push_item *items, size_t n)
{
	size_t total = ipc_request_size(items, n, h->flags), o = IPC_HDR_LEN;

	if (n == 0 || n > IPC_MAX_ITEMS || total == SIZE_MAX || total > cap)
		return 0;
	ipc_put_hdr(buf, type, h, (uint16_t)n);
	for (size_t i = 0; i < n; i++) {
		const struct ipc_push_item *it = &items[i];
		size_t tl = ipc_writes_parts(h->flags, i) ? it->topic_len : 0;
		size_t cl = ipc_writes_parts(h->flags, i) ? it->contents_len : 0;

		put16(buf + o + IPC_PI_UID_LEN, (uint16_t)it->uid_len);
		put16(buf + o + IPC_PI_FLAGS, it->flags);
		put32(buf + o + IPC_PI_TOPIC_LEN, (uint32_t)tl);
		put32(buf + o + IPC_PI_CONTENTS_LEN, (uint32_t)cl);
		o += IPC_PUSH_ITEM_HDR;
		memcpy(buf + o, it->uid, it->uid_len);
		o += it->uid_len;
		memcpy(buf + o, it->topic, tl);
		o += tl;
		memcpy(buf + o, it->contents, cl);
		o += cl;
	}
	return o;
}

size_t ipc_encode_push_reply(uint8_t *buf, size_t cap, const struct ipc_hdr *h,
			     const struct ipc_result *res, size_t n)
{
	size_t o = IPC_HDR_LEN;

	if (n == 0 || n > IPC_MAX_ITEMS || cap < IPC_HDR_LEN + n * IPC_REPLY_ITEM_LEN)
		return 0;
	ipc_put_hdr(buf, IPC_T_PUSH_REPLY, h, (uint16_t)n);
	for (size_t i = 0; i < n; i++, o += IPC_REPLY_ITEM_LEN) {
		put32(buf + o + IPC_RI_DELIVERED, res[i].delivered);
		put32(buf + o + IPC_RI_STATUS, res[i].status);
		put64(buf + o + IPC_RI_NUMBER, res[i].number);
		put32(buf + o + IPC_RI_ACKED, res[i].acked);
	}
	return o;
}

size_t ipc_encode_bare(uint8_t *buf, size_t cap, uint8_t type, const struct ipc_hdr *h)
{
	if (cap < IPC_HDR_LEN)
		return 0;
	ipc_put_hdr(buf, type, h, 0);
	return IPC_HDR_LEN;
}

size_t ipc_encode_stats_reply(uint8_t *buf, size_t cap, const struct ipc_hdr *h,
			      const uint64_t v[IPC_STATS_N])
{
	if (cap < IPC_HDR_LEN + IPC_STATS_N * IPC_STAT_LEN)
		return 0;
	ipc_put_hdr(buf, IPC_T_STATS_REPLY, h, IPC_STATS_N);
	for (size_t i = 0; i < IPC_STATS_N; i++)
		put64(buf + IPC_HDR_LEN + i * IPC_STAT_LEN, v[i]);
	return IPC_HDR_LEN + IPC_STATS_N * IPC_STAT_LEN;
}

size_t ipc_encode_report(uint8_t *buf, size_t cap, const struct ipc_hdr *h,
			 const uint32_t counts[IPC_R_COUNT])
{
	if (cap < IPC_HDR_LEN + IPC_R_COUNT * IPC_REPORT_ITEM_LEN)
		return 0;
	ipc_put_hdr(buf, IPC_T_REPORT, h, IPC_R_COUNT);
	for (size_t i = 0; i < IPC_R_COUNT; i++)
		put32(buf + IPC_HDR_LEN + i * IPC_REPORT_ITEM_LEN, counts[i]);
	return IPC_HDR_LEN + IPC_R_COUNT * IPC_REPORT_ITEM_LEN;
}

size_t ipc_encode_config_reply(uint8_t *buf, size_t cap, const struct ipc_hdr *h,
			       const uint8_t *cfg, size_t len)
{
	if (cap < IPC_HDR_LEN || len > cap - IPC_HDR_LEN)
		return 0;
	/* memmove: the caller may have packed the configuration in place. */
	if (len)
		memmove(buf + IPC_HDR_LEN, cfg, len);
	ipc_put_hdr(buf, IPC_T_CONFIG_REPLY, h, 0);
	return IPC_HDR_LEN + len;
}

enum ipc_rc ipc_decode_hdr(const uint8_t *buf, size_t len, struct ipc_hdr *hdr)
{
	if (len < IPC_HDR_LEN)
		return IPC_ERR_SHORT;
	if (memcmp(buf, ipc_magic, 2) != 0)
		return IPC_ERR_MAGIC;
	hdr->version = buf[IPC_O_VERSION];
	hdr->type = buf[IPC_O_TYPE];
	hdr->req_id = get32(buf + IPC_O_REQ);
	hdr->count = get16(buf + IPC_O_COUNT);
	hdr->flags = get16(buf + IPC_O_FLAGS);
	hdr->generation = get32(buf + IPC_O_GEN);
	hdr->workers = get16(buf + IPC_O_WORKERS);
	hdr->index = get16(buf + IPC_O_INDEX);
	if (hdr->version != IPC_VERSION)
		return IPC_ERR_VERSION;
	if (hdr->type < IPC_T_PUSH || hdr->type > IPC_T_LAST)
		return IPC_ERR_TYPE;
	if (hdr->workers > IPC_WORKERS_MAX ||
	    (hdr->workers ? hdr->index >= hdr->workers : hdr->index != 0))
		return IPC_ERR_WORKER;
	return IPC_OK;
}

/* A reply of `type` from a worker. */
static enum ipc_rc ipc_decode_reply_hdr(const uint8_t *buf, size_t len, struct ipc_hdr *hdr,
					uint8_t type)
{
	enum ipc_rc rc = ipc_decode_hdr(buf, len, hdr);

	if (rc != IPC_OK)
		return rc;
	if (hdr->type != type)
		return IPC_ERR_TYPE;
	return hdr->workers == 0 ? IPC_ERR_WORKER : IPC_OK;
}

/* What each request type allows: item flags, header flags, whether its items
 * carry a uid and a message, and at most how many items. */
struct ipc_rules {
	uint16_t item_flags, hdr_flags;
	uint8_t uid, message;
	size_t max_items;
};

static int ipc_request_rules(uint8_t type, struct ipc_rules *r)
{
	switch (type) {
	case IPC_T_PUSH:
		*r = (struct ipc_rules){ IPC_F_ACK, IPC_H_SHARED, 1, 1, IPC_MAX_ITEMS };
		return 0;
	case IPC_T_PRESENCE:
		*r = (struct ipc_rules){ 0, 0, 1, 0, IPC_MAX_ITEMS };
		return 0;
	case IPC_T_KICK:
		*r = (struct ipc_rules){ IPC_F_REVOKE, 0, 1, 0, IPC_MAX_ITEMS };
		return 0;
	case IPC_T_BROADCAST:
		*r = (struct ipc_rules){ 0, 0, 0, 1, 1 };
		return 0;
	default:
		return -1;
	}
}

/* One item against its type's rules (the first of a shared multicast carries
 * the message; the others carry none). */
static enum ipc_rc ipc_item_ok(const struct ipc_push_item *it, const struct ipc_rules *r,
			       int shared_tail)
{
	if (it->flags & ~r->item_flags)
		return IPC_ERR_FLAGS;
	if (!r->uid && it->uid_len)
		return IPC_ERR_BOUNDS;
	if ((!r->message || shared_tail) && (it->topic_len || it->contents_len))
		return IPC_ERR_BOUNDS;
	return IPC_OK;
}

enum ipc_rc ipc_decode_request(const uint8_t *buf, size_t len, struct ipc_hdr *hdr,
			       struct ipc_push_item *items)
{
	enum ipc_rc rc = ipc_decode_hdr(buf, len, hdr);
	struct ipc_rules rules;
	size_t o = IPC_HDR_LEN;
	int shared;

	if (rc != IPC_OK)
		return rc;
	if (ipc_request_rules(hdr->type, &rules) != 0)
		return IPC_ERR_TYPE;
	if (hdr->flags & ~rules.hdr_flags)
		return IPC_ERR_FLAGS;
	shared = (hdr->flags & IPC_H_SHARED) != 0;
	if (hdr->count == 0 || hdr->count > rules.max_items)
		return IPC_ERR_COUNT;
	for (size_t i = 0; i < hdr->count; i++) {
		struct ipc_push_item *it = &items[i];

		if (len - o < IPC_PUSH_ITEM_HDR)
			return IPC_ERR_BOUNDS;
		it->uid_len = get16(buf + o + IPC_PI_UID_LEN);
		it->flags = get16(buf + o + IPC_PI_FLAGS);
		it->topic_len = get32(buf + o + IPC_PI_TOPIC_LEN);
		it->contents_len = get32(buf + o + IPC_PI_CONTENTS_LEN);
		o += IPC_PUSH_ITEM_HDR;
		/* A flag we do not know asks for something we would not do. */
		rc = ipc_item_ok(it, &rules, shared && i > 0);
		if (rc != IPC_OK)
			return rc;
		/* Compare each length with what remains: no sum can overflow. */
		if (it->uid_len > len - o)
			return IPC_ERR_BOUNDS;
		it->uid = (const char *)buf + o;
		o += it->uid_len;
		if (it->topic_len > len - o)
			return IPC_ERR_BOUNDS;
		it->topic = (const char *)buf + o;
		o += it->topic_len;
		if (it->contents_len > len - o)
			return IPC_ERR_BOUNDS;
		it->contents = (const char *)buf + o;
		o += it->contents_len;
		if (shared && i > 0) {
			it->topic = items[0].topic;
			it->topic_len = items[0].topic_len;
			it->contents = items[0].contents;
			it->contents_len = items[0].contents_len;
		}
	}
	return o == len ? IPC_OK : IPC_ERR_BOUNDS;
}

enum ipc_rc ipc_decode_push_reply(const uint8_t *buf, size_t len, struct ipc_hdr *hdr,
				  struct ipc_result *res, size_t max)
{
	enum ipc_rc rc = ipc_decode_reply_hdr(buf, len, hdr, IPC_T_PUSH_REPLY);
	size_t o = IPC_HDR_LEN;

	if (rc != IPC_OK)
		return rc;
	if (hdr->count == 0 || hdr->count > max || hdr->count > IPC_MAX_ITEMS)
		return IPC_ERR_COUNT;
	if (len != IPC_HDR_LEN + (size_t)hdr->count * IPC_REPLY_ITEM_LEN)
		return IPC_ERR_BOUNDS;
	for (size_t i = 0; i < hdr->count; i++, o += IPC_REPLY_ITEM_LEN) {
		res[i].delivered = get32(buf + o + IPC_RI_DELIVERED);
		res[i].status = get32(buf + o + IPC_RI_STATUS);
		res[i].number = get64(buf + o + IPC_RI_NUMBER);
		res[i].acked = get32(buf + o + IPC_RI_ACKED);
		/* An outcome we cannot name would be reported as some other one. */
		if (res[i].status > IPC_S_MAX)
			return IPC_ERR_STATUS;
	}
	return IPC_OK;
}

enum ipc_rc ipc_decode_stats_reply(const uint8_t *buf, size_t len, struct ipc_hdr *hdr,
				   uint64_t v[IPC_STATS_N])
{
	enum ipc_rc rc = ipc_decode_reply_hdr(buf, len, hdr, IPC_T_STATS_REPLY);

	if (rc != IPC_OK)
		return rc;
	if (hdr->count != IPC_STATS_N)
		return IPC_ERR_COUNT;
	if (len != IPC_HDR_LEN + (size_t)IPC_STATS_N * IPC_STAT_LEN)
		return IPC_ERR_BOUNDS;
	for (size_t i = 0; i < IPC_STATS_N; i++)
		v[i] = get64(buf + IPC_HDR_LEN + i * IPC_STAT_LEN);
	return IPC_OK;
}

enum ipc_rc ipc_decode_config_reply(const uint8_t *buf, size_t len, struct ipc_hdr *hdr,
				    const uint8_t **cfg, size_t *cfg_len)
{
	enum ipc_rc rc = ipc_decode_reply_hdr(buf, len, hdr, IPC_T_CONFIG_REPLY);

	if (rc != IPC_OK)
		return rc;
	if (hdr->count != 0)
		return IPC_ERR_COUNT;
	*cfg = buf + IPC_HDR_LEN;
	*cfg_len = len - IPC_HDR_LEN;
	return IPC_OK;
}

enum ipc_rc ipc_decode_report(const uint8_t *buf, size_t len, struct ipc_hdr *hdr,
			      uint32_t counts[IPC_R_COUNT])
{
	enum ipc_rc rc = ipc_decode_hdr(buf, len, hdr);

	if (rc != IPC_OK)
		return rc;
	if (hdr->type != IPC_T_REPORT)
		return IPC_ERR_TYPE;
	if (hdr->count != IPC_R_COUNT)
		return IPC_ERR_COUNT;
	if (len != IPC_HDR_LEN + (size_t)IPC_R_COUNT * IPC_REPORT_ITEM_LEN)
		return IPC_ERR_BOUNDS;
	for (size_t i = 0; i < IPC_R_COUNT; i++)
		counts[i] = get32(buf + IPC_HDR_LEN + i * IPC_REPORT_ITEM_LEN);
	return IPC_OK;
}

const char *ipc_rc_str(enum ipc_rc rc)
{
	switch (rc) {
	case IPC_OK: return "ok";
	case IPC_ERR_SHORT: return "datagram shorter than the header";
	case IPC_ERR_MAGIC: return "bad magic";
	case IPC_ERR_VERSION: return "unsupported protocol version";
	case IPC_ERR_TYPE: return "unexpected message type";
	case IPC_ERR_COUNT: return "bad item count";
	case IPC_ERR_BOUNDS: return "item lengths do not match the datagram";
	case IPC_ERR_SPACE: return "buffer too small";
	case IPC_ERR_WORKER: return "bad worker count or index";
	case IPC_ERR_FLAGS: return "unknown push item flags";
	case IPC_ERR_STATUS: return "unknown push reply status";
	}
	return "unknown";
}
