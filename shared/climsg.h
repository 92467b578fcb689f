/* SPDX-License-Identifier: MIT */
/* What a subscriber may say on its WebSocket: an acknowledgement {"ack":N}; other
 * text is a heartbeat. Parsed here, apart from lws, so it can be fuzzed alone. */
#ifndef PUSH_CLIMSG_H
#define PUSH_CLIMSG_H

#include <stddef.h>
#include <stdint.h>

/* Longest client text message the daemon reads (longer ones close with 1009). */
#define CLIMSG_MAX 4096

enum climsg_kind {
	CLIMSG_OTHER = 0, /* not a JSON object: a heartbeat, ignored (wave-1 clients) */
	CLIMSG_ACK,       /* {"ack": N}, N an integer 0 .. 2^63-1 */
	CLIMSG_BAD,       /* a JSON object that is not an acknowledgement */
};

/* Reads text[0..len) (len <= CLIMSG_MAX). CLIMSG_ACK fills *number; CLIMSG_BAD
 * points *reason at a short static English explanation. */
enum climsg_kind climsg_parse(const char *text, size_t len, uint64_t *number,
			      const char **reason);

/* {"control":"error","reason":<reason>} (reason JSON-escaped) into out; the
 * length, 0 when it does not fit cap. No NUL is written. */
size_t climsg_error_json(const char *reason, char *out, size_t cap);

#endif
