/* The datagram protocol between the FastCGI programs and ws-daemon, versioned.
 * Big-endian fields, no struct casting; decode checks every length against the datagram. */
#ifndef PUSH_IPC_H
#define PUSH_IPC_H

#include <stddef.h>
#include <stdint.h>

/*
 * Datagram = header + `count` items of the type's shape.
 *   header (12 bytes): magic "WP" | version u8 | type u8 | request id u32 |
 *                      count u16 | flags u16
 *   PUSH item:         uid_len u16 | topic_len u32 | contents_len u32 |
 *                      uid | topic JSON | contents JSON
 *   PUSH_REPLY item:   delivered u32 | status u32 | number u64
 *   STATS:             no items; answered by STATS_REPLY
 *   STATS_REPLY:       count 0; the rest of the datagram is Prometheus text
 *   REPORT:            count 0, flags = enum ipc_refusal; never answered
 * New request kinds (online query, kick, broadcast) get new types or flags;
 * a receiver answers an unknown type or version with an ERROR reply.
 */
#define IPC_VERSION 1
#define IPC_HDR_LEN 12
#define IPC_PUSH_ITEM_HDR 10
#define IPC_REPLY_ITEM_LEN 16
#define IPC_MAX_ITEMS 1024
/* Below the default net.core.wmem_default (212992) minus kernel overhead, so a
 * datagram this size is accepted on a stock Linux without tuning. */
#define IPC_MAX_DATAGRAM (192u * 1024u)

enum ipc_type {
	IPC_T_PUSH = 1,
	IPC_T_PUSH_REPLY = 2,
	IPC_T_ERROR_REPLY = 3, /* the request could not be decoded; no items */
	IPC_T_STATS = 4,       /* metrics request */
	IPC_T_STATS_REPLY = 5, /* metrics as Prometheus text */
	IPC_T_REPORT = 6,      /* push-api tells the daemon it refused a request */
};

/* Why push-api refused a request before it reached the daemon (REPORT flags). */
enum ipc_refusal {
	IPC_R_UNAUTHORIZED = 0, /* 401 */
	IPC_R_BAD_REQUEST,      /* 400: uid, body, JSON */
	IPC_R_TOO_LARGE,        /* 413 */
	IPC_R_MEDIA_TYPE,       /* 415 */
	IPC_R_METHOD,           /* 405 */
	IPC_R_DAEMON,           /* 503: daemon down, busy or silent */
	IPC_R_COUNT
};

enum ipc_status {
	IPC_S_DELIVERED = 0, /* handed to `delivered` (>= 1) connections */
	IPC_S_OFFLINE = 1,   /* uid has no connection */
	IPC_S_REFUSED = 2,   /* item invalid (e.g. uid rule) */
};

enum ipc_rc { IPC_OK = 0, IPC_ERR_SHORT, IPC_ERR_MAGIC, IPC_ERR_VERSION, IPC_ERR_TYPE,
	      IPC_ERR_COUNT, IPC_ERR_BOUNDS, IPC_ERR_SPACE };

struct ipc_hdr {
	uint8_t version;
	uint8_t type;
	uint32_t req_id;
	uint16_t count;
	uint16_t flags;
};

/* Borrowed views: the pointers point into the caller's buffers. */
struct ipc_push_item {
	const char *uid;
	size_t uid_len;
	const char *topic;
	size_t topic_len;
	const char *contents;
	size_t contents_len;
};

struct ipc_result {
	uint32_t delivered;
	uint32_t status; /* enum ipc_status */
	uint64_t number; /* per-uid sequence number given to the message; 0 if none */
};

/* Bytes a PUSH datagram with these items needs; SIZE_MAX on overflow. */
size_t ipc_push_size(const struct ipc_push_item *items, size_t n);

/* Encoders write into buf[0..cap) and return the datagram length, 0 on IPC_ERR_SPACE
 * or when n is 0 or above IPC_MAX_ITEMS. */
size_t ipc_encode_push(uint8_t *buf, size_t cap, uint32_t req_id,
		       const struct ipc_push_item *items, size_t n);
size_t ipc_encode_push_reply(uint8_t *buf, size_t cap, uint32_t req_id,
			     const struct ipc_result *res, size_t n);
size_t ipc_encode_error_reply(uint8_t *buf, size_t cap, uint32_t req_id);
/* Header-only messages: STATS (flags 0) and REPORT (flags = enum ipc_refusal). */
size_t ipc_encode_bare(uint8_t *buf, size_t cap, uint8_t type, uint32_t req_id, uint16_t flags);
/* STATS_REPLY carrying text[0..len). */
size_t ipc_encode_stats_reply(uint8_t *buf, size_t cap, uint32_t req_id, const char *text,
			      size_t len);
/* The text of a STATS_REPLY (a view into buf), after checking the header. */
enum ipc_rc ipc_decode_stats_reply(const uint8_t *buf, size_t len, struct ipc_hdr *hdr,
				   const char **text, size_t *text_len);

/* Reads and checks the header only (magic, version, known type). */
enum ipc_rc ipc_decode_hdr(const uint8_t *buf, size_t len, struct ipc_hdr *hdr);

/* Decodes a whole PUSH datagram: every item is bounds-checked before any is
 * returned, trailing bytes are an error. items must hold IPC_MAX_ITEMS. */
enum ipc_rc ipc_decode_push(const uint8_t *buf, size_t len, struct ipc_hdr *hdr,
			    struct ipc_push_item *items);

/* Decodes a PUSH_REPLY into res (room for max entries). */
enum ipc_rc ipc_decode_push_reply(const uint8_t *buf, size_t len, struct ipc_hdr *hdr,
				  struct ipc_result *res, size_t max);

const char *ipc_rc_str(enum ipc_rc rc);

#endif
