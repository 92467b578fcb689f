/* SPDX-License-Identifier: MIT */
/* libFuzzer driver for ws-daemon/wsd_rmsg.c: whatever text arrives from Redis, every
 * reader answers the same each time, every string it gives lies inside the text, bodies
 * split exactly where their length says, and a resume's entries end within it. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fuzz_check.h"
#include "wsd_rmsg.h"

static const char *base;
static size_t base_n;

/* s lies inside the text; a word (no_space) holds no space and is not empty. */
static void check_str(struct wsd_rmsg_str s, int word)
{
	FUZZ_CHECK(s.p >= base && s.p <= base + base_n);
	FUZZ_CHECK(s.n <= (size_t)(base + base_n - s.p));
	if (word)
		FUZZ_CHECK(s.n > 0 && memchr(s.p, ' ', s.n) == NULL);
}

static void check_body(struct wsd_rmsg_str topic, struct wsd_rmsg_str contents, const char *end)
{
	check_str(topic, 0);
	check_str(contents, 0);
	FUZZ_CHECK(topic.p + topic.n == contents.p);
	FUZZ_CHECK(contents.p + contents.n == end);
}

static void fuzz_frame(const char *p, size_t n)
{
	struct wsd_rmsg_frame f, g;
	int rc = wsd_rmsg_frame(p, n, &f);

	FUZZ_CHECK(wsd_rmsg_frame(p, n, &g) == rc);
	if (rc != 0)
		return;
	FUZZ_CHECK(f.epoch != 0 && f.epoch == g.epoch && f.number == g.number);
	check_str(f.reply, 1);
	check_str(f.token, 1);
	check_body(f.topic, f.contents, p + n);
}

static void fuzz_answer(const char *p, size_t n)
{
	struct wsd_rmsg_answer a, b;
	char canon[80];
	int len;

	if (wsd_rmsg_answer(p, n, &a) != 0)
		return;
	/* Its canonical spelling reads back the same. */
	len = snprintf(canon, sizeof canon, "%" PRIu64 " %" PRIu64 " %" PRIu64, a.token, a.count,
		       a.count2);
	FUZZ_CHECK(len > 0 && (size_t)len < sizeof canon);
	FUZZ_CHECK(wsd_rmsg_answer(canon, (size_t)len, &b) == 0);
	FUZZ_CHECK(a.token == b.token && a.count == b.count && a.count2 == b.count2);
}

static void fuzz_ask(const char *p, size_t n)
{
	struct wsd_rmsg_ask a;

	if (wsd_rmsg_ask(p, n, &a) != 0)
		return;
	check_str(a.reply, 1);
	check_str(a.token, 0);
	FUZZ_CHECK(a.token.n > 0 && a.token.p + a.token.n == p + n);
}

static void fuzz_resume(const char *p, size_t n)
{
	struct wsd_rmsg_resume r;
	struct wsd_rmsg_str topic, contents;
	uint64_t count, seen = 0;
	int rc;

	if (wsd_rmsg_resume(p, n, &r) != 0)
		return;
	check_str(r.uid, 0);
	FUZZ_CHECK(r.uid.n > 0 && memchr(r.uid.p, '\n', r.uid.n) == NULL);
	count = r.count;
	/* Each entry moves on; the walk ends within count + 1 steps. */
	while ((rc = wsd_rmsg_entry(&r, &topic, &contents)) == 1) {
		check_str(topic, 0);
		check_str(contents, 0);
		FUZZ_CHECK(topic.p + topic.n == contents.p && contents.p + contents.n == r.next);
		FUZZ_CHECK(++seen <= count);
	}
	FUZZ_CHECK(rc == 0 || rc == -1);
	FUZZ_CHECK(rc != 0 || (seen == count && r.next == p + n));
}

static void fuzz_acked(const char *p, size_t n)
{
	struct wsd_rmsg_acked a;

	if (wsd_rmsg_acked(p, n, &a) != 0)
		return;
	FUZZ_CHECK(a.epoch != 0);
	check_str(a.uid, 0);
	FUZZ_CHECK(a.uid.n > 0 && a.uid.p + a.uid.n == p + n);
}

static void fuzz_broadcast(const char *p, size_t n)
{
	struct wsd_rmsg_broadcast b;

	if (wsd_rmsg_broadcast(p, n, &b) != 0)
		return;
	check_str(b.reply, 1);
	check_str(b.token, 1);
	check_str(b.bid, 1);
	FUZZ_CHECK(wsd_rmsg_epoch(b.bid.p, b.bid.n) != 0);
	check_body(b.topic, b.contents, p + n);
}

static void fuzz_revoke(const char *p, size_t n)
{
	struct wsd_rmsg_revoke v;

	if (wsd_rmsg_revoke(p, n, &v) != 0)
		return;
	check_str(v.uid, 0);
	FUZZ_CHECK(v.uid.n > 0 && v.uid.p + v.uid.n == p + n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The first byte picks the reader, the rest is the message after its letter. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static void (*const readers[])(const char *, size_t) = {
		fuzz_frame, fuzz_answer, fuzz_ask, fuzz_resume, fuzz_acked, fuzz_broadcast,
		fuzz_revoke,
	};
	const char *p;
	size_t n;

	if (size == 0)
		return 0;
	p = (const char *)data + 1;
	n = size - 1;
	base = p;
	base_n = n;
	readers[data[0] % (sizeof readers / sizeof readers[0])](p, n);
	if (n >= 16)
		(void)wsd_rmsg_epoch(p, 16);
	return 0;
}
