/* SPDX-License-Identifier: MIT */
/* The datagram protocol between the FastCGI programs and ws-daemon, versioned.
 * Big-endian fields, no struct casting; decode checks every length against the datagram. */
#ifndef PUSH_IPC_H
#define PUSH_IPC_H

#include <stddef.h>
#include <stdint.h>

/*
 * Datagram = header + `count` items of the type's shape.
 *   header (20 bytes): magic "WP" | version u8 | type u8 | request id u32 |
 *                      count u16 | flags u16 | generation u32 | workers u16 | index u16
 *     generation: in a request, the configuration the sender runs (0: the sender
 *                 does not check, e.g. a benchmark tool); in a reply, the worker's.
 *     workers, index: in a reply, the worker count of the daemon and the worker's
 *                 number (index < workers); 0, 0 in a request.
 *   PUSH item:         uid_len u16 | flags u16 | topic_len u32 | contents_len u32 |
 *                      uid | topic JSON | contents JSON
 *                      flags: IPC_F_* (unknown bits are an error)
 *                      With header flag IPC_H_SHARED (a multicast) every item after
 *                      the first has topic and contents lengths 0 and carries the
 *                      first one's: the message travels and is validated once.
 *   PRESENCE, KICK:    items of the PUSH shape, uid only (topic, contents empty);
 *                      KICK items may carry IPC_F_REVOKE
 *   BROADCAST:         one item of the PUSH shape with an empty uid
 *   PUSH_REPLY item:   delivered u32 | status u32 | number u64 | acked u32
 *     answers PUSH (per item), PRESENCE (delivered = the uid's connections),
 *     KICK (delivered = connections closed) and BROADCAST (one item: delivered =
 *     connections reached, number = uids reached).
 *                      status: enum ipc_status up to IPC_S_MAX (others are an error)
 *     A PUSH carrying an IPC_F_ACK item may be answered late: once every such
 *     item was acknowledged, or IPC_ACK_WAIT_MS(push_timeout_ms) after arrival.
 *   STATS:             no items; answered by STATS_REPLY
 *   STATS_REPLY:       count = IPC_STATS_N items of u64 (enum ipc_stat)
 *   REPORT:            count = IPC_R_COUNT items of u32: refusals per enum ipc_refusal
 *                      since the last report that was sent; never answered
 *   CONFIG:            no items; answered by CONFIG_REPLY
 *   CONFIG_REPLY:      count 0; the rest is the worker's configuration as cfg_pack()
 *                      wrote it, or nothing when the request's generation is the
 *                      worker's (the sender already runs it)
 * A receiver answers an unknown type or version with an ERROR reply; a new
 * version changes IPC_VERSION (the STATS_REPLY layout is part of it).
 */
#define IPC_VERSION 3
#define IPC_HDR_LEN 20
#define IPC_PUSH_ITEM_HDR 12
#define IPC_REPLY_ITEM_LEN 20
#define IPC_STAT_LEN 8
#define IPC_REPORT_ITEM_LEN 4
#define IPC_MAX_ITEMS 1024
#define IPC_WORKERS_MAX 64 /* a daemon runs at most this many workers (cfg's bound) */
/* Below the default net.core.wmem_default (212992) minus kernel overhead, so a
 * datagram this size is accepted on a stock Linux without tuning. */
#define IPC_MAX_DATAGRAM (192u * 1024u)
/* The largest reply a sender must be able to receive other than CONFIG_REPLY
 * (whose payload bound is the configuration's, see cfg.h). */
#define IPC_REPLY_MAX (IPC_HDR_LEN + IPC_MAX_ITEMS * IPC_REPLY_ITEM_LEN)

enum ipc_type {
	IPC_T_PUSH = 1,
	IPC_T_PUSH_REPLY = 2,
	IPC_T_ERROR_REPLY = 3,  /* the request could not be decoded; no items */
	IPC_T_STATS = 4,        /* metrics request */
	IPC_T_STATS_REPLY = 5,  /* metrics as counters */
	IPC_T_REPORT = 6,       /* push-api tells the daemon what it refused */
	IPC_T_CONFIG = 7,       /* which configuration does the worker run? */
	IPC_T_CONFIG_REPLY = 8, /* the worker's configuration (cfg_pack) */
	IPC_T_PRESENCE = 9,     /* connections of each uid listed */
	IPC_T_KICK = 10,        /* close every connection of each uid listed */
	IPC_T_BROADCAST = 11,   /* one message to every uid with a connection */
	IPC_T_LAST = IPC_T_BROADCAST
};

/* Why push-api refused a request before it reached the daemon (REPORT items). */
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
	IPC_S_DELIVERED = 0,    /* handed to `delivered` (>= 1) connections */
	IPC_S_OFFLINE = 1,      /* uid has no connection */
	IPC_S_REFUSED = 2,      /* item invalid (e.g. uid rule) */
	IPC_S_WRONG_WORKER = 3, /* another worker owns the uid; nothing delivered */
	IPC_S_STALE = 4,        /* sent under another configuration generation; nothing delivered */
	IPC_S_STORED = 5,       /* uid has no connection; kept in its history (offline_messages) */
	IPC_S_BUSY = 6,         /* too many pushes wait for an acknowledgement; nothing delivered */
	IPC_S_UNAVAILABLE = 7,  /* engine redis: the uid's Redis server cannot be reached */
	IPC_S_LATE = 8,         /* engine redis: no answer from Redis in time; may still be delivered */
};
#define IPC_S_MAX IPC_S_LATE /* the largest status a reply may carry */

/* Item flags, and the request types each belongs to. */
#define IPC_F_ACK 0x0001u       /* PUSH: answer once a connection acknowledged the message */
#define IPC_F_REVOKE 0x0002u    /* KICK: also refuse the uid's keys issued until now */
#define IPC_F_KNOWN (IPC_F_ACK | IPC_F_REVOKE)
/* Header flags of a request. */
#define IPC_H_SHARED 0x0001u    /* PUSH: items after the first share its topic and contents */

/* How long a worker holds the answer of an IPC_F_ACK push: the push's own
 * timeout, counted from when the worker delivered it. The sender waits for the
 * datagram's queueing bound plus this (plus its grace). */
#define IPC_ACK_WAIT_MS(push_timeout_ms) (push_timeout_ms)

/* STATS_REPLY: one u64 per entry, in this order. Gauges first: the sum over
 * workers is the daemon's value, except uptime (the largest). */
enum ipc_stat {
	IPC_ST_CONNECTIONS = 0,   /* gauge */
	IPC_ST_UIDS_ONLINE,       /* gauge */
	IPC_ST_QUEUE_BYTES,       /* gauge */
	IPC_ST_UPTIME_MS,         /* gauge */
	IPC_ST_CLOSING,           /* gauge: connections saying goodbye, not yet gone */
	IPC_ST_CLOSING_BYTES,     /* gauge: at most this much still held for them */
	IPC_ST_PUSHES_RECEIVED,
	IPC_ST_PUSHES_DELIVERED,
	IPC_ST_DELIVERIES,
	IPC_ST_PUSHES_OFFLINE,
	IPC_ST_PUSHES_INVALID,
	IPC_ST_PUSHES_EXPIRED,
	IPC_ST_PUSHES_WRONG_WORKER,
	IPC_ST_PUSHES_STALE,
	IPC_ST_SLOW_CLOSED,
	IPC_ST_SLOW_DROPPED,
	IPC_ST_WS_ACCEPTED,
	IPC_ST_WS_REFUSED,
	IPC_ST_IPC_ERRORS,
	IPC_ST_CLOSE_RESETS,      /* closing connections reset at their bound */
	IPC_ST_WS_HANDSHAKE_REFUSED, /* handshakes refused with an HTTP error */
	IPC_ST_HISTORY_UIDS,      /* gauge: uids with a stream (connected or retained) */
	IPC_ST_HISTORY_MESSAGES,  /* gauge: messages retained */
	IPC_ST_HISTORY_BYTES,     /* gauge: bytes the history holds (frames + bookkeeping) */
	IPC_ST_ACK_WAITING,       /* gauge: pushes waiting for an acknowledgement */
	IPC_ST_PUSHES_STORED,     /* kept for a uid with no connection */
	IPC_ST_PUSHES_BUSY,       /* refused: too many waiting for acknowledgements */
	IPC_ST_HISTORY_EVICTED,   /* retained messages dropped before their age (bounds) */
	IPC_ST_RESUMES,           /* connections that asked for a position */
	IPC_ST_RESUMES_GAP,       /* ... and were told some messages are gone */
	IPC_ST_REPLAYED,          /* messages sent again from history */
	IPC_ST_ACKS,              /* acknowledgements received that moved a position */
	IPC_ST_ACK_WAITS_ACKED,   /* ack-waiting pushes answered acknowledged */
	IPC_ST_ACK_WAITS_TIMEOUT, /* ... answered at the timeout, unacknowledged */
	IPC_ST_API_REFUSED,       /* IPC_R_COUNT entries, by enum ipc_refusal */
	IPC_STATS_N = IPC_ST_API_REFUSED + IPC_R_COUNT
};

enum ipc_rc { IPC_OK = 0, IPC_ERR_SHORT, IPC_ERR_MAGIC, IPC_ERR_VERSION, IPC_ERR_TYPE,
	      IPC_ERR_COUNT, IPC_ERR_BOUNDS, IPC_ERR_SPACE, IPC_ERR_WORKER,
	      IPC_ERR_FLAGS,   /* a PUSH item with a flag outside IPC_F_KNOWN */
	      IPC_ERR_STATUS }; /* a PUSH_REPLY item with a status above IPC_S_MAX */

struct ipc_hdr {
	uint8_t version;
	uint8_t type;
	uint32_t req_id;
	uint16_t count;
	uint16_t flags;
	uint32_t generation;
	uint16_t workers;
	uint16_t index;
};

/* Borrowed views: the pointers point into the caller's buffers. */
struct ipc_push_item {
	const char *uid;
	size_t uid_len;
	uint16_t flags;  /* IPC_F_* */
	const char *topic;
	size_t topic_len;
	const char *contents;
	size_t contents_len;
};

struct ipc_result {
	uint32_t delivered;
	uint32_t status; /* enum ipc_status */
	uint64_t number; /* per-uid sequence number given to the message; 0 if none */
	uint32_t acked;  /* IPC_F_ACK items: 1 when a connection acknowledged it */
};

/*
 * Encoders write into buf[0..cap) and return the datagram length, 0 when it does
 * not fit (or the item count is out of range). The header's req_id, flags,
 * generation, workers and index come from *h; version, type and count are the
 * encoder's. Item flags and statuses are written as given: the decoders are
 * the ones that refuse values this version does not know.
 */
size_t ipc_push_size(const struct ipc_push_item *items, size_t n); /* SIZE_MAX on overflow */
size_t ipc_encode_push(uint8_t *buf, size_t cap, const struct ipc_hdr *h,
		       const struct ipc_push_item *items, size_t n);
/* Any request made of items (PUSH, PRESENCE, KICK, BROADCAST). With
 * IPC_H_SHARED in h->flags only the first item's topic and contents are
 * written, and ipc_request_size counts them once. */
size_t ipc_request_size(const struct ipc_push_item *items, size_t n, uint16_t hflags);
size_t ipc_encode_request(uint8_t *buf, size_t cap, uint8_t type, const struct ipc_hdr *h,
			  const struct ipc_push_item *items, size_t n);
size_t ipc_encode_push_reply(uint8_t *buf, size_t cap, const struct ipc_hdr *h,
			     const struct ipc_result *res, size_t n);
/* Header-only messages: STATS, CONFIG, ERROR_REPLY, and an empty CONFIG_REPLY. */
size_t ipc_encode_bare(uint8_t *buf, size_t cap, uint8_t type, const struct ipc_hdr *h);
size_t ipc_encode_stats_reply(uint8_t *buf, size_t cap, const struct ipc_hdr *h,
			      const uint64_t v[IPC_STATS_N]);
size_t ipc_encode_report(uint8_t *buf, size_t cap, const struct ipc_hdr *h,
			 const uint32_t counts[IPC_R_COUNT]);
/* CONFIG_REPLY carrying cfg[0..len); cfg may already sit right after the header. */
size_t ipc_encode_config_reply(uint8_t *buf, size_t cap, const struct ipc_hdr *h,
			       const uint8_t *cfg, size_t len);

/* Reads and checks the header only: magic, version, known type, and that index
 * is below workers (both 0 in a request). */
enum ipc_rc ipc_decode_hdr(const uint8_t *buf, size_t len, struct ipc_hdr *hdr);

/* Decodes a whole request made of items (PUSH, PRESENCE, KICK, BROADCAST):
 * every item is bounds-checked before any is returned, trailing bytes are an
 * error, so is a flag the type does not know (IPC_ERR_FLAGS) and a part the
 * type has none of (IPC_ERR_BOUNDS); a shared multicast's items get the first
 * one's topic and contents. items must hold IPC_MAX_ITEMS. */
enum ipc_rc ipc_decode_request(const uint8_t *buf, size_t len, struct ipc_hdr *hdr,
			       struct ipc_push_item *items);

/* Reply decoders also check that a worker sent it (workers >= 1); a PUSH_REPLY
 * item with a status above IPC_S_MAX is IPC_ERR_STATUS. */
enum ipc_rc ipc_decode_push_reply(const uint8_t *buf, size_t len, struct ipc_hdr *hdr,
				  struct ipc_result *res, size_t max);
enum ipc_rc ipc_decode_stats_reply(const uint8_t *buf, size_t len, struct ipc_hdr *hdr,
				   uint64_t v[IPC_STATS_N]);
/* The configuration bytes (a view into buf; *cfg_len 0 = "you run mine"). */
enum ipc_rc ipc_decode_config_reply(const uint8_t *buf, size_t len, struct ipc_hdr *hdr,
				    const uint8_t **cfg, size_t *cfg_len);
enum ipc_rc ipc_decode_report(const uint8_t *buf, size_t len, struct ipc_hdr *hdr,
			      uint32_t counts[IPC_R_COUNT]);

const char *ipc_rc_str(enum ipc_rc rc);

#endif
