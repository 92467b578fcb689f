/* SPDX-License-Identifier: MIT */
/* Readers of engine redis's pub/sub messages: a cursor over the text, fields checked
 * one by one, bodies bounded by the message they arrive in. */
#include "wsd_rmsg.h"

#include <string.h>

#define WSD_RMSG_EPOCH_DIGITS 16

struct cur {
	const char *p, *end;
};

/* An unsigned decimal ended by a space (consumed) or the end. */
static int cur_num(struct cur *c, uint64_t *v)
{
	const char *s = c->p;
	uint64_t x = 0;

	if (s >= c->end || *s < '0' || *s > '9')
		return -1;
	while (s < c->end && *s >= '0' && *s <= '9') {
		if (x > (UINT64_MAX - 9) / 10)
			return -1;
		x = x * 10 + (uint64_t)(*s++ - '0');
	}
	if (s < c->end && *s++ != ' ')
		return -1;
	*v = x;
	c->p = s;
	return 0;
}

/* A non-empty word ended by a space (consumed). */
static int cur_word(struct cur *c, struct wsd_rmsg_str *w)
{
	const char *sp = c->p < c->end ? memchr(c->p, ' ', (size_t)(c->end - c->p)) : NULL;

	if (!sp || sp == c->p)
		return -1;
	*w = (struct wsd_rmsg_str){ c->p, (size_t)(sp - c->p) };
	c->p = sp + 1;
	return 0;
}

/* "tlen topic+contents" up to the end: the topic's length, then both. */
static int cur_body(struct cur *c, struct wsd_rmsg_str *topic, struct wsd_rmsg_str *contents)
{
	uint64_t tlen;

	if (cur_num(c, &tlen) != 0 || tlen > (uint64_t)(c->end - c->p))
		return -1;
	*topic = (struct wsd_rmsg_str){ c->p, (size_t)tlen };
	*contents = (struct wsd_rmsg_str){ c->p + tlen, (size_t)(c->end - c->p) - (size_t)tlen };
	c->p = c->end;
	return 0;
}

/* The rest, non-empty (a uid: it may hold spaces, never a newline). */
static int cur_rest(struct cur *c, struct wsd_rmsg_str *w)
{
	if (c->p >= c->end)
		return -1;
	*w = (struct wsd_rmsg_str){ c->p, (size_t)(c->end - c->p) };
	c->p = c->end;
	return 0;
}

uint64_t wsd_rmsg_epoch(const char *s, size_t n)
{
	uint64_t e = 0;

	if (n != WSD_RMSG_EPOCH_DIGITS)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		unsigned d;

		if (ch >= '0' && ch <= '9')
			d = (unsigned)(ch - '0');
		else if (ch >= 'a' && ch <= 'f')
			d = (unsigned)(ch - 'a' + 10);
		else
			return 0;
		e = e << 4 | d;
	}
	return e;
}

static int cur_epoch(struct cur *c, uint64_t *e)
{
	struct wsd_rmsg_str w;

	if (cur_word(c, &w) != 0)
		return -1;
	*e = wsd_rmsg_epoch(w.p, w.n);
	return *e ? 0 : -1;
}

int wsd_rmsg_frame(const char *p, size_t n, struct wsd_rmsg_frame *out)
{
	struct cur c = { p, p + n };

	return cur_epoch(&c, &out->epoch) != 0 || cur_num(&c, &out->number) != 0 ||
			       cur_word(&c, &out->reply) != 0 || cur_word(&c, &out->token) != 0 ||
			       cur_body(&c, &out->topic, &out->contents) != 0
		       ? -1
		       : 0;
}

int wsd_rmsg_answer(const char *p, size_t n, struct wsd_rmsg_answer *out)
{
	struct cur c = { p, p + n };

	out->count2 = 0;
	if (cur_num(&c, &out->token) != 0 || cur_num(&c, &out->count) != 0)
		return -1;
	if (c.p < c.end && cur_num(&c, &out->count2) != 0)
		return -1;
	/* A space ending the last number is all that may follow it. */
	return c.p == c.end && c.p[-1] != ' ' ? 0 : -1;
}

int wsd_rmsg_ask(const char *p, size_t n, struct wsd_rmsg_ask *out)
{
	struct cur c = { p, p + n };

	return cur_word(&c, &out->reply) != 0 || cur_rest(&c, &out->token) != 0 ? -1 : 0;
}

int wsd_rmsg_resume(const char *p, size_t n, struct wsd_rmsg_resume *out)
{
	const char *nl = memchr(p, '\n', n);
	struct cur c = { p, nl };
	uint64_t rec;

	if (!nl || cur_num(&c, &out->conn) != 0 || cur_epoch(&c, &out->epoch) != 0 ||
	    cur_num(&c, &out->last) != 0 || cur_num(&c, &out->acked) != 0 ||
	    cur_num(&c, &rec) != 0 || rec > 1 || cur_num(&c, &out->first) != 0 ||
	    cur_num(&c, &out->count) != 0 || cur_rest(&c, &out->uid) != 0)
		return -1;
	out->recovered = rec == 1;
	out->next = nl + 1;
	out->end = p + n;
	return 0;
}

int wsd_rmsg_entry(struct wsd_rmsg_resume *r, struct wsd_rmsg_str *topic,
		   struct wsd_rmsg_str *contents)
{
	struct cur c = { r->next, r->end };
	uint64_t len;

	if (r->count == 0)
		return r->next == r->end ? 0 : -1;
	if (cur_num(&c, &len) != 0 || len > (uint64_t)(c.end - c.p))
		return -1;
	c.end = c.p + len;
	if (cur_body(&c, topic, contents) != 0)
		return -1;
	r->next = c.end;
	r->count--;
	return 1;
}

int wsd_rmsg_acked(const char *p, size_t n, struct wsd_rmsg_acked *out)
{
	struct cur c = { p, p + n };

	return cur_epoch(&c, &out->epoch) != 0 || cur_num(&c, &out->number) != 0 ||
			       cur_rest(&c, &out->uid) != 0
		       ? -1
		       : 0;
}

int wsd_rmsg_broadcast(const char *p, size_t n, struct wsd_rmsg_broadcast *out)
{
	struct cur c = { p, p + n };
	uint64_t bid;

	if (cur_word(&c, &out->reply) != 0 || cur_word(&c, &out->token) != 0 ||
	    cur_word(&c, &out->bid) != 0)
		return -1;
	bid = wsd_rmsg_epoch(out->bid.p, out->bid.n); /* written like an epoch */
	return bid == 0 || cur_body(&c, &out->topic, &out->contents) != 0 ? -1 : 0;
}

int wsd_rmsg_revoke(const char *p, size_t n, struct wsd_rmsg_revoke *out)
{
	struct cur c = { p, p + n };

	return cur_num(&c, &out->when) != 0 || cur_rest(&c, &out->uid) != 0 ? -1 : 0;
}
