/* SPDX-License-Identifier: MIT */
/* Unit tests for ws-daemon/wsd_rmsg.c: the messages engine redis's scripts and workers
 * write read back field by field, and near misses are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "wsd_rmsg.h"

#define S(lit) lit, sizeof lit - 1

static void str_is(struct wsd_rmsg_str s, const char *want)
{
	assert_int_equal(s.n, strlen(want));
	assert_memory_equal(s.p, want, s.n);
}

static void test_frame(void **state)
{
	struct wsd_rmsg_frame f;

	(void)state;
	assert_int_equal(wsd_rmsg_frame(S("00000000000000ff 12 p:n:0a 7 4 \"ab\"{\"x\":1}"), &f), 0);
	assert_int_equal(f.epoch, 0xff);
	assert_int_equal(f.number, 12);
	str_is(f.reply, "p:n:0a");
	str_is(f.token, "7");
	str_is(f.topic, "\"ab\"");
	str_is(f.contents, "{\"x\":1}");
	/* A topic longer than the rest, a short epoch, a missing field. */
	assert_int_equal(wsd_rmsg_frame(S("00000000000000ff 12 - 0 9 \"ab\""), &f), -1);
	assert_int_equal(wsd_rmsg_frame(S("ff 12 - 0 2 \"\""), &f), -1);
	assert_int_equal(wsd_rmsg_frame(S("00000000000000ff 12 - 2 \"\""), &f), -1);
	assert_int_equal(wsd_rmsg_frame(S("0000000000000000 12 - 0 2 \"\""), &f), -1);
}

static void test_answer(void **state)
{
	struct wsd_rmsg_answer a;

	(void)state;
	assert_int_equal(wsd_rmsg_answer(S("42 2"), &a), 0);
	assert_int_equal(a.token, 42);
	assert_int_equal(a.count, 2);
	assert_int_equal(a.count2, 0);
	assert_int_equal(wsd_rmsg_answer(S("42 2 5"), &a), 0);
	assert_int_equal(a.count2, 5);
	assert_int_equal(wsd_rmsg_answer(S("42 2 5 6"), &a), -1);
	assert_int_equal(wsd_rmsg_answer(S("42 2 "), &a), -1);
	assert_int_equal(wsd_rmsg_answer(S("42"), &a), -1);
	assert_int_equal(wsd_rmsg_answer(S("42 -1"), &a), -1);
	assert_int_equal(wsd_rmsg_answer(S("1 18446744073709551616"), &a), -1); /* 2^64 */
}

static void test_resume(void **state)
{
	static const char msg[] = "7 0123456789abcdef 3 1 1 2 2 alice bob\n"
				  "16 7 \"topic\"{\"x\":1}12 3 \"t\"[1,2,3]";
	struct wsd_rmsg_resume r;
	struct wsd_rmsg_str t, c;

	(void)state;
	assert_int_equal(wsd_rmsg_resume(msg, sizeof msg - 1, &r), 0);
	assert_int_equal(r.conn, 7);
	assert_int_equal(r.epoch, 0x0123456789abcdefULL);
	assert_int_equal(r.last, 3);
	assert_int_equal(r.acked, 1);
	assert_true(r.recovered);
	assert_int_equal(r.first, 2);
	str_is(r.uid, "alice bob");
	assert_int_equal(wsd_rmsg_entry(&r, &t, &c), 1);
	str_is(t, "\"topic\"");
	str_is(c, "{\"x\":1}");
	assert_int_equal(wsd_rmsg_entry(&r, &t, &c), 1);
	str_is(t, "\"t\"");
	str_is(c, "[1,2,3]");
	assert_int_equal(wsd_rmsg_entry(&r, &t, &c), 0);
	/* One entry announced too many, or bytes left over, is malformed. */
	assert_int_equal(wsd_rmsg_resume(S("7 0123456789abcdef 3 1 1 2 3 u\n5 1 \"\"ab"), &r), 0);
	assert_int_equal(wsd_rmsg_entry(&r, &t, &c), 1);
	assert_int_equal(wsd_rmsg_entry(&r, &t, &c), -1);
	assert_int_equal(wsd_rmsg_resume(S("7 0123456789abcdef 3 1 1 2 0 u\nx"), &r), 0);
	assert_int_equal(wsd_rmsg_entry(&r, &t, &c), -1);
	assert_int_equal(wsd_rmsg_resume(S("7 0123456789abcdef 3 1 2 2 0 u\n"), &r), -1);
	assert_int_equal(wsd_rmsg_resume(S("7 0123456789abcdef 3 1 1 2 0 u"), &r), -1);
}

static void test_small_ones(void **state)
{
	struct wsd_rmsg_ask k;
	struct wsd_rmsg_acked a;
	struct wsd_rmsg_broadcast b;
	struct wsd_rmsg_revoke v;

	(void)state;
	assert_int_equal(wsd_rmsg_ask(S("p:n:0a 99"), &k), 0);
	str_is(k.reply, "p:n:0a");
	str_is(k.token, "99");
	assert_int_equal(wsd_rmsg_ask(S("p:n:0a "), &k), -1);
	assert_int_equal(wsd_rmsg_acked(S("0123456789abcdef 5 u 1"), &a), 0);
	assert_int_equal(a.number, 5);
	str_is(a.uid, "u 1");
	assert_int_equal(wsd_rmsg_acked(S("0123456789abcdeF 5 u"), &a), -1);
	assert_int_equal(wsd_rmsg_broadcast(S("p:n:0a 9 0123456789abcdef 3 \"b\"\"hi\""), &b), 0);
	str_is(b.bid, "0123456789abcdef");
	str_is(b.topic, "\"b\"");
	str_is(b.contents, "\"hi\"");
	assert_int_equal(wsd_rmsg_broadcast(S("p:n:0a 9 0123 3 \"b\"\"hi\""), &b), -1);
	assert_int_equal(wsd_rmsg_revoke(S("1700000000 alice"), &v), 0);
	assert_int_equal(v.when, 1700000000);
	str_is(v.uid, "alice");
	assert_int_equal(wsd_rmsg_revoke(S("1700000000 "), &v), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frame),
		cmocka_unit_test(test_answer),
		cmocka_unit_test(test_resume),
		cmocka_unit_test(test_small_ones),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
