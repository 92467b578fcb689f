/* SPDX-License-Identifier: MIT */
/* The JSON of the service: /push bodies in, {"topic","number","contents"} out.
 * The FastCGI side validates and pre-serialises; ws-daemon only splices `number`. */
#ifndef PUSH_WMSG_H
#define PUSH_WMSG_H

#include <stddef.h>
#include <stdint.h>

/* A validated /push body, each part re-serialised as compact JSON text. */
struct wmsg_push {
	char *topic_json;    /* a JSON string literal, quotes included; malloc'd */
	size_t topic_len;
	char *contents_json; /* any JSON value; malloc'd */
	size_t contents_len;
	int ack;             /* "ack": true: answer once a connection acknowledged it */
};

/*
 * Parses body[0..len) as {"topic": string, "contents": any[, "ack": boolean]}
 * (ack absent = false). On success returns
 * 0 and fills *out (caller frees with wmsg_push_free). On failure returns -1,
 * leaves *out empty and writes a client-facing reason into reason.
 * Integers beyond 64 bits, invalid UTF-8 and duplicate keys are refused rather
 * than silently changed. Reals come out in the shortest form that reads back
 * to the same double.
 */
int wmsg_parse_push(const char *body, size_t len, struct wmsg_push *out, char *reason,
		    size_t reason_len);
void wmsg_push_free(struct wmsg_push *p);

/* wmsg_parse_push for a message to every connected uid: a body with "ack" is
 * refused (nobody's acknowledgement is awaited), so out->ack is always 0. */
int wmsg_parse_broadcast(const char *body, size_t len, struct wmsg_push *out, char *reason,
			 size_t reason_len);

/* One message of a batch /push: {"uid": string, "topic": string, "contents": any
 * [, "ack": boolean]}.
 * The strings point into the batch's arena (owned by struct wmsg_batch), each
 * NUL-terminated after its length. */
struct wmsg_batch_item {
	const char *uid;          /* uid_len bytes + NUL; NULL if the item had no string uid */
	size_t uid_len;
	const char *topic_json;   /* as in struct wmsg_push; NULL when the item is refused */
	size_t topic_len;
	const char *contents_json;
	size_t contents_len;
	int ack;                  /* as in struct wmsg_push */
	const char *error;        /* NULL, or why this item is refused (static string) */
};

struct wmsg_batch {
	struct wmsg_batch_item *items; /* malloc'd array of n */
	size_t n;
	char *arena;                   /* malloc'd; every item's strings */
};

/*
 * Parses body as a JSON array of 1..max_items messages. A body that is not such
 * an array fails as a whole (-1, reason filled); an item that breaks the rules
 * (not an object, uid missing or against the uid rule for max_uid bytes, topic
 * not a string, contents missing, ack not a boolean) only gets its own error. Free with
 * wmsg_batch_free, also after a failure.
 */
int wmsg_parse_batch(const char *body, size_t len, size_t max_items, size_t max_uid,
		     struct wmsg_batch *out, char *reason, size_t reason_len);
void wmsg_batch_free(struct wmsg_batch *b);

/*
 * Parses body as {"uids": [string, ...], "topic": string, "contents": any}: one
 * message for 1..max_items uids (a multicast). The body fails as a whole (-1,
 * reason filled) when it is no such object, when topic and contents break the
 * rules of wmsg_parse_push, or when it has "ack" (a multicast is never
 * acknowledged); a uid that is not a string or breaks the uid rule for max_uid
 * bytes only gets its own error. The message is serialised once: every valid
 * item's topic_json and contents_json point to the same copy. Free with
 * wmsg_batch_free, also after a failure.
 */
int wmsg_parse_multicast(const char *body, size_t len, size_t max_items, size_t max_uid,
			 struct wmsg_batch *out, char *reason, size_t reason_len);

/*
 * Parses body as a JSON array of 1..max_items uid strings (a presence query);
 * items carry a uid only (topic_json NULL). Any uid that is not a string or
 * breaks the uid rule fails the whole list, the reason naming its index.
 * Duplicates are kept. Free with wmsg_batch_free, also after a failure.
 */
int wmsg_parse_uids(const char *body, size_t len, size_t max_items, size_t max_uid,
		    struct wmsg_batch *out, char *reason, size_t reason_len);

/* What became of a batch item; its answer's "topic". */
enum wmsg_outcome {
	WMSG_ERROR = 0,  /* "error": not delivered, contents says why */
	WMSG_DELIVERED,  /* "success": reached `number` connections */
	WMSG_STORED,     /* "stored": kept for the uid's next connection */
};

/* What became of batch item i. */
struct wmsg_batch_result {
	enum wmsg_outcome outcome;
	uint64_t number;      /* connections reached (DELIVERED; 0 otherwise) */
	const char *contents; /* "推送成功" or the reason, NUL-terminated */
	int status;           /* not delivered for this HTTP status (503: safe to resend); 0 = none */
	int ack;              /* the item asked for an acknowledgement */
	int acked;            /* ... and a connection gave it (DELIVERED) */
	uint64_t seq;         /* the message's per-uid number (DELIVERED with ack, STORED) */
};

/* {"topic":"success","number":<items delivered or stored>,"contents":[{"uid":..,
 * "topic":"success"|"stored"|"error","number":<connections or 0>,"contents":<text>
 * [,"seq":<seq>[,"acked":true|false]][,"status":<status>]},...]} for res[0..b->n):
 * "seq" for a stored item and, with "acked", for a delivered one that asked for
 * an acknowledgement.
 * Returns a malloc'd string the caller frees, *len its length; NULL on no memory. */
char *wmsg_batch_reply(const struct wmsg_batch *b, const struct wmsg_batch_result *res,
		       size_t *len);

/* {"topic":<topic>,"number":<number>,"contents":<contents>} as compact JSON, with
 * topic and contents given as C strings (escaped here). Returns a malloc'd,
 * NUL-terminated string the caller frees, *len its length; NULL on no memory. */
char *wmsg_reply(const char *topic, long long number, const char *contents, size_t *len);

/* wmsg_reply with "seq":<seq> after contents, then "acked":true|false unless
 * acked is negative. */
char *wmsg_reply_seq(const char *topic, long long number, const char *contents, uint64_t seq,
		     int acked, size_t *len);

/* wmsg_reply with ,"<flag>":true after contents when flag is not NULL. */
char *wmsg_reply_flag(const char *topic, long long number, const char *contents,
		      const char *flag, size_t *len);

/* The workers (by index) that did not answer a request sent to several: an
 * answer summed over workers then ends ,"partial":true,"workers_missing":[...].
 * NULL or n 0: every worker answered. */
struct wmsg_missing {
	const unsigned *workers;
	size_t n;
};

/* {"topic":"presence","number":<connections>,"contents":{"uid":<uid>,
 * "connections":<connections>}}. NULL on no memory, as for every reply below. */
char *wmsg_presence_one(const char *uid, size_t uid_len, uint64_t connections, size_t *len);

/* One named count of a wmsg_counts_reply. */
struct wmsg_count {
	const char *name;
	uint64_t value;
};

/* {"topic":<topic>,"number":<number>,"contents":{"<name>":<value>,...}} for
 * c[0..n), then the partial mark of *m. */
char *wmsg_counts_reply(const char *topic, uint64_t number, const struct wmsg_count *c,
			size_t n, const struct wmsg_missing *m, size_t *len);

/* A connection count that is not known: the uid's worker did not answer. */
#define WMSG_UNKNOWN UINT64_MAX

/* {"topic":"presence","number":<uids with a connection>,"contents":{"<uid>":
 * <connections, or null for WMSG_UNKNOWN>,...}} then the partial mark of *m;
 * conns[i] is b->items[i]'s count. A uid given twice appears once (with its
 * first count); items with an error are left out. */
char *wmsg_presence_many(const struct wmsg_batch *b, const uint64_t *conns,
			 const struct wmsg_missing *m, size_t *len);

/* Upper bound of the spliced frame wmsg_frame_write produces. */
size_t wmsg_frame_max(size_t topic_len, size_t contents_len);

/* The exact length of that frame for this number (SIZE_MAX on overflow):
 * history keeps frames for minutes, so they are allocated to size. */
size_t wmsg_frame_len(size_t topic_len, uint64_t number, size_t contents_len);

/* Writes {"topic":T,"number":N,"contents":C} from pre-serialised parts into out,
 * whose cap must hold wmsg_frame_len. Returns the length written, 0 if cap is
 * too small. No NUL is written. */
size_t wmsg_frame_write(char *out, size_t cap, const char *topic_json, size_t topic_len,
			uint64_t number, const char *contents_json, size_t contents_len);

#endif
