/* Encoders and strict decoders for the FastCGI <-> ws-daemon datagrams.
 * Decoders never trust a length before comparing it with what is left. */
#include "ipc.h"

#include <string.h>

static const uint8_t ipc_magic[2] = { 'W', 'P' };

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

static void ipc_put_hdr(uint8_t *buf, uint8_t type, uint32_t req_id, uint16_t count)
{
	memcpy(buf, ipc_magic, 2);
	buf[2] = IPC_VERSION;
	buf[3] = type;
	put32(buf + 4, req_id);
	put16(buf + 8, count);
	put16(buf + 10, 0);
}

size_t ipc_push_size(const struct ipc_push_item *items, size_t n)
{
	size_t total = IPC_HDR_LEN;

	for (size_t i = 0; i < n; i++) {
		const struct ipc_push_item *it = &items[i];
		size_t need;

		if (it->uid_len > UINT16_MAX || it->topic_len > UINT32_MAX ||
		    it->contents_len > UINT32_MAX)
			return SIZE_MAX;
		need = IPC_PUSH_ITEM_HDR + it->uid_len;
		if (it->topic_len > SIZE_MAX - need || it->contents_len > SIZE_MAX - need - it->topic_len)
			return SIZE_MAX;
		need += it->topic_len + it->contents_len;
		if (need > SIZE_MAX - total)
			return SIZE_MAX;
		total += need;
	}
	return total;
}

size_t ipc_encode_push(uint8_t *buf, size_t cap, uint32_t req_id,
		       const struct ipc_push_item *items, size_t n)
{
	size_t total = ipc_push_size(items, n), o = IPC_HDR_LEN;

	if (n == 0 || n > IPC_MAX_ITEMS || total == SIZE_MAX || total > cap)
		return 0;
	ipc_put_hdr(buf, IPC_T_PUSH, req_id, (uint16_t)n);
	for (size_t i = 0; i < n; i++) {
		const struct ipc_push_item *it = &items[i];

		put16(buf + o, (uint16_t)it->uid_len);
		put32(buf + o + 2, (uint32_t)it->topic_len);
		put32(buf + o + 6, (uint32_t)it->contents_len);
		o += IPC_PUSH_ITEM_HDR;
		memcpy(buf + o, it->uid, it->uid_len);
		o += it->uid_len;
		memcpy(buf + o, it->topic, it->topic_len);
		o += it->topic_len;
		memcpy(buf + o, it->contents, it->contents_len);
		o += it->contents_len;
	}
	return o;
}

size_t ipc_encode_push_reply(uint8_t *buf, size_t cap, uint32_t req_id,
			     const struct ipc_result *res, size_t n)
{
	size_t o = IPC_HDR_LEN;

	if (n == 0 || n > IPC_MAX_ITEMS || cap < IPC_HDR_LEN + n * IPC_REPLY_ITEM_LEN)
		return 0;
	ipc_put_hdr(buf, IPC_T_PUSH_REPLY, req_id, (uint16_t)n);
	for (size_t i = 0; i < n; i++, o += IPC_REPLY_ITEM_LEN) {
		put32(buf + o, res[i].delivered);
		put32(buf + o + 4, res[i].status);
		put64(buf + o + 8, res[i].number);
	}
	return o;
}

size_t ipc_encode_error_reply(uint8_t *buf, size_t cap, uint32_t req_id)
{
	if (cap < IPC_HDR_LEN)
		return 0;
	ipc_put_hdr(buf, IPC_T_ERROR_REPLY, req_id, 0);
	return IPC_HDR_LEN;
}

size_t ipc_encode_bare(uint8_t *buf, size_t cap, uint8_t type, uint32_t req_id, uint16_t flags)
{
	if (cap < IPC_HDR_LEN)
		return 0;
	ipc_put_hdr(buf, type, req_id, 0);
	put16(buf + 10, flags);
	return IPC_HDR_LEN;
}

size_t ipc_encode_stats_reply(uint8_t *buf, size_t cap, uint32_t req_id, const char *text,
			      size_t len)
{
	if (cap < IPC_HDR_LEN || len > cap - IPC_HDR_LEN)
		return 0;
	/* memmove: callers may format the text in place, right after the header. */
	memmove(buf + IPC_HDR_LEN, text, len);
	ipc_put_hdr(buf, IPC_T_STATS_REPLY, req_id, 0);
	return IPC_HDR_LEN + len;
}

enum ipc_rc ipc_decode_stats_reply(const uint8_t *buf, size_t len, struct ipc_hdr *hdr,
				   const char **text, size_t *text_len)
{
	enum ipc_rc rc = ipc_decode_hdr(buf, len, hdr);

	if (rc != IPC_OK)
		return rc;
	if (hdr->type != IPC_T_STATS_REPLY)
		return IPC_ERR_TYPE;
	if (hdr->count != 0)
		return IPC_ERR_COUNT;
	*text = (const char *)buf + IPC_HDR_LEN;
	*text_len = len - IPC_HDR_LEN;
	return IPC_OK;
}

enum ipc_rc ipc_decode_hdr(const uint8_t *buf, size_t len, struct ipc_hdr *hdr)
{
	if (len < IPC_HDR_LEN)
		return IPC_ERR_SHORT;
	if (memcmp(buf, ipc_magic, 2) != 0)
		return IPC_ERR_MAGIC;
	hdr->version = buf[2];
	hdr->type = buf[3];
	hdr->req_id = get32(buf + 4);
	hdr->count = get16(buf + 8);
	hdr->flags = get16(buf + 10);
	if (hdr->version != IPC_VERSION)
		return IPC_ERR_VERSION;
	if (hdr->type < IPC_T_PUSH || hdr->type > IPC_T_REPORT)
		return IPC_ERR_TYPE;
	return IPC_OK;
}

enum ipc_rc ipc_decode_push(const uint8_t *buf, size_t len, struct ipc_hdr *hdr,
			    struct ipc_push_item *items)
{
	enum ipc_rc rc = ipc_decode_hdr(buf, len, hdr);
	size_t o = IPC_HDR_LEN;

	if (rc != IPC_OK)
		return rc;
	if (hdr->type != IPC_T_PUSH)
		return IPC_ERR_TYPE;
	if (hdr->count == 0 || hdr->count > IPC_MAX_ITEMS)
		return IPC_ERR_COUNT;
	for (size_t i = 0; i < hdr->count; i++) {
		struct ipc_push_item *it = &items[i];

		if (len - o < IPC_PUSH_ITEM_HDR)
			return IPC_ERR_BOUNDS;
		it->uid_len = get16(buf + o);
		it->topic_len = get32(buf + o + 2);
		it->contents_len = get32(buf + o + 6);
		o += IPC_PUSH_ITEM_HDR;
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
	}
	return o == len ? IPC_OK : IPC_ERR_BOUNDS;
}

enum ipc_rc ipc_decode_push_reply(const uint8_t *buf, size_t len, struct ipc_hdr *hdr,
				  struct ipc_result *res, size_t max)
{
	enum ipc_rc rc = ipc_decode_hdr(buf, len, hdr);
	size_t o = IPC_HDR_LEN;

	if (rc != IPC_OK)
		return rc;
	if (hdr->type != IPC_T_PUSH_REPLY)
		return IPC_ERR_TYPE;
	if (hdr->count == 0 || hdr->count > max || hdr->count > IPC_MAX_ITEMS)
		return IPC_ERR_COUNT;
	if (len != IPC_HDR_LEN + (size_t)hdr->count * IPC_REPLY_ITEM_LEN)
		return IPC_ERR_BOUNDS;
	for (size_t i = 0; i < hdr->count; i++, o += IPC_REPLY_ITEM_LEN) {
		res[i].delivered = get32(buf + o);
		res[i].status = get32(buf + o + 4);
		res[i].number = get64(buf + o + 8);
	}
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
	}
	return "unknown";
}
