/* SPDX-License-Identifier: MIT */
/* The WebSocket opening handshake (RFC 6455 section 4.2.1) checked before lws sees it:
 * one parse of the request head decides refusal, uid routing and what lws is given. */
#ifndef PUSH_HS_H
#define PUSH_HS_H

#include <stddef.h>
#include <stdint.h>

#include "akey.h"
#include "req.h"

#define HS_HEAD_MAX 8192        /* request line + headers + blank line; beyond: 431 */
#define HS_KEY_MAX (AKEY_MAX_LEN - 1) /* decoded access_key: a longer one is no key */
#define HS_HOST_MAX 255         /* Host header value, as DNS names are bounded */
#define HS_XFF_MAX 127          /* X-Forwarded-For kept for logs (truncated) */
/* An Origin (RFC 6454): scheme, host (a DNS name is at most 253 bytes) and port.
 * Longer is refused (400); conf.yaml's allowed_origins holds none longer. */
#define HS_ORIGIN_MAX 255
#define HS_ORIGINS_MAX 64       /* origins allowed_origins lists at most */
#define HS_WSKEY_LEN 24         /* Sec-WebSocket-Key: base64 of 16 bytes */
#define HS_SINCE_DIGITS 19      /* since=<number>: INT64_MAX has 19 digits */
#define HS_EPOCH_LEN 16         /* epoch: 64 bits as lowercase hex */
/* The rewritten request: fixed text plus Host and the key. */
#define HS_LWS_FIXED 128
#define HS_LWS_MAX (HS_LWS_FIXED + HS_HOST_MAX + HS_WSKEY_LEN)

_Static_assert(HS_LWS_MAX < HS_HEAD_MAX, "the rewritten head must fit where the head did");

/* The header a refusal must carry besides the body (RFC 9110 / RFC 6455 4.2.2). */
enum hs_extra {
	HS_EXTRA_NONE = 0,
	HS_EXTRA_ALLOW,         /* "Allow: GET" with 405 */
	HS_EXTRA_UPGRADE,       /* "Upgrade: websocket" with 426 */
	HS_EXTRA_VERSION,       /* "Sec-WebSocket-Version: 13" with 426 */
};

/* Where a resuming client wants delivery to start (query parameter since). */
enum hs_since {
	HS_SINCE_NONE = 0,      /* absent: a wave-1 client, which knows no resume */
	HS_SINCE_NUMBER,        /* a message number, meaningful only with its epoch */
	HS_SINCE_ACKED,         /* "acked": from what this uid acknowledged */
	HS_SINCE_NOW,           /* "now": nothing from history, yet a resuming client */
};

struct hs_result {
	int status;                     /* 0: upgrade; else the HTTP status to answer */
	const char *reason;             /* refusal, short English (static); NULL on success */
	enum hs_extra extra;
	/* Before uid so that hs_parse's first memset clears them on every path. */
	enum hs_since since_kind;
	uint64_t since;                 /* HS_SINCE_NUMBER: <= INT64_MAX, fits signed; else 0 */
	int has_epoch;                  /* always with HS_SINCE_NUMBER: a number without the
					 * history it counts in could name another message */
	uint64_t epoch;                 /* that history's name; 0 when has_epoch is 0 */
	int has_origin;                 /* an Origin header was sent (browsers always do) */
	size_t origin_len;
	char uid[REQ_UID_MAX + 1];      /* decoded, NUL-terminated; uid_len bytes */
	size_t uid_len;
	char key[HS_KEY_MAX + 1];       /* decoded access_key; empty when absent */
	size_t key_len;
	char xff[HS_XFF_MAX + 1];       /* X-Forwarded-For, printable ASCII, may be "" */
	char origin[HS_ORIGIN_MAX + 1]; /* Origin as sent (trimmed), NUL-terminated; ""
					 * when absent or not read (refused before) */
	char lws[HS_LWS_MAX];           /* the minimal request handed to lws (no NUL) */
	size_t lws_len;
};

/*
 * Length of the request head at the start of buf[0..n) (up to and including the
 * first "\r\n\r\n"), or 0 when no complete head is there yet.
 */
size_t hs_head_len(const char *buf, size_t n);

/*
 * Checks the request head head[0..len) (len <= HS_HEAD_MAX, ending with the blank
 * line) against the rules in README "Errors" and fills *r. uids are checked with
 * req_uid_problem against max_uid (<= REQ_UID_MAX). A missing or malformed
 * access_key is not refused here: the owning worker verifies it. The optional since
 * and epoch are checked here, so the worker only sees a resume point it can act on.
 * Returns r->status.
 */
int hs_parse(const char *head, size_t len, size_t max_uid, struct hs_result *r);

/*
 * Whether the handshake r may come from where it says: 1 when `allowed` (origins
 * one a line, as cfg keeps allowed_origins) is NULL or empty, when r carries no
 * Origin (browsers always send one; backends and command-line clients do not,
 * and no web page can make a browser leave it out), or when its Origin is one of
 * them, compared case-insensitively. 0 otherwise: the handshake is refused.
 */
int hs_origin_allowed(const struct hs_result *r, const char *allowed);

/* The reason phrase of the statuses hs_parse and its callers answer with. */
const char *hs_status_text(int status);

/* The extra header line, without CRLF ("" for HS_EXTRA_NONE). */
const char *hs_extra_header(enum hs_extra e);

#endif
