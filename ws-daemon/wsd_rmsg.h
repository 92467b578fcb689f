/* SPDX-License-Identifier: MIT */
/* The messages workers exchange through Redis's pub/sub under engine redis: their
 * text forms, read strictly (every length checked against the message's own). */
#ifndef PUSH_WSD_RMSG_H
#define PUSH_WSD_RMSG_H

#include <stddef.h>
#include <stdint.h>

/*
 * A message is one letter, a space and fields separated by single spaces;
 * numbers are unsigned decimals, epochs 16 lowercase hex digits, and a body
 * (topic then contents, raw JSON) comes last, its topic's length given before
 * it. The Lua scripts in wsd_redis.c write M and S, wsd_redis.c the others:
 *   M epoch number reply token tlen topic+contents   a frame of the uid's channel
 *   R token count [count2]                            a holder's answer
 *   P reply token | K reply token                      presence asked, a kick
 *   S conn epoch last acked rec first count uid\n      a resume, then count entries
 *     "len tlen topic+contents" (len bytes after the space)
 *   A epoch number uid                                 an acknowledgement moved
 *   B reply token bid tlen topic+contents             a broadcast
 *   V when uid                                         a revocation
 * Every parser takes the text after "X " and returns 0, or -1 for anything
 * else; the strings it gives point into that text.
 */
struct wsd_rmsg_str {
	const char *p;
	size_t n;
};

struct wsd_rmsg_frame {
	uint64_t epoch, number;
	struct wsd_rmsg_str reply, token, topic, contents;
};
int wsd_rmsg_frame(const char *p, size_t n, struct wsd_rmsg_frame *out);

struct wsd_rmsg_answer {
	uint64_t token, count, count2; /* count2: 0 when absent */
};
int wsd_rmsg_answer(const char *p, size_t n, struct wsd_rmsg_answer *out);

struct wsd_rmsg_ask {
	struct wsd_rmsg_str reply, token;
};
int wsd_rmsg_ask(const char *p, size_t n, struct wsd_rmsg_ask *out);

/* A resume's head; its entries follow, read one by one with wsd_rmsg_entry. */
struct wsd_rmsg_resume {
	uint64_t conn, epoch, last, acked, first, count;
	int recovered;
	struct wsd_rmsg_str uid;
	const char *next, *end;   /* the entries not read yet */
};
int wsd_rmsg_resume(const char *p, size_t n, struct wsd_rmsg_resume *out);
/* The next entry: 1 with its topic and contents, 0 when none is left (all
 * `count` read and nothing after them), -1 when the rest is malformed. */
int wsd_rmsg_entry(struct wsd_rmsg_resume *r, struct wsd_rmsg_str *topic,
		   struct wsd_rmsg_str *contents);

struct wsd_rmsg_acked {
	uint64_t epoch, number;
	struct wsd_rmsg_str uid;
};
int wsd_rmsg_acked(const char *p, size_t n, struct wsd_rmsg_acked *out);

struct wsd_rmsg_broadcast {
	struct wsd_rmsg_str reply, token, bid, topic, contents;
};
int wsd_rmsg_broadcast(const char *p, size_t n, struct wsd_rmsg_broadcast *out);

struct wsd_rmsg_revoke {
	uint64_t when;
	struct wsd_rmsg_str uid;
};
int wsd_rmsg_revoke(const char *p, size_t n, struct wsd_rmsg_revoke *out);

/* An epoch's 16 hex digits; 0 (never an epoch) for anything else. */
uint64_t wsd_rmsg_epoch(const char *s, size_t n);

#endif
