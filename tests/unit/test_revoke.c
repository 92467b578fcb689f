/* SPDX-License-Identifier: MIT */
/* Unit tests for ws-daemon/wsd_revoke.c: which keys a kick with revoke refuses, for
 * how long an entry lives, and that a full table refuses instead of forgetting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "wsd_revoke.h"

#define TTL 60
#define T0 1000000L

static int teardown(void **state)
{
	(void)state;
	wsd_revoke_free();
	return 0;
}

/* Keys issued until the kick (expiring up to T0 + TTL) are refused; later ones
 * and other uids' are not. */
static void test_refuses_keys_issued_until_the_kick(void **state)
{
	(void)state;
	assert_int_equal(wsd_revoke_add("u", 1, T0, TTL), 0);
	assert_true(wsd_revoke_refuses("u", 1, T0 + TTL, T0));
	assert_true(wsd_revoke_refuses("u", 1, T0 + 5, T0 + 3));
	assert_false(wsd_revoke_refuses("u", 1, T0 + TTL + 1, T0 + 1));
	assert_false(wsd_revoke_refuses("v", 1, T0 + 5, T0));
	assert_false(wsd_revoke_refuses("uu", 2, T0 + 5, T0));
}

/* An entry lives as long as a revoked key could, and no longer. */
static void test_entries_expire_with_the_keys(void **state)
{
	(void)state;
	assert_int_equal(wsd_revoke_add("a", 1, T0, TTL), 0);
	assert_int_equal(wsd_revoke_add("b", 1, T0 + 10, TTL), 0);
	wsd_revoke_expire(T0 + TTL);
	assert_int_equal(wsd_revoke_count(), 2);
	wsd_revoke_expire(T0 + TTL + 1);
	assert_int_equal(wsd_revoke_count(), 1);
	assert_false(wsd_revoke_refuses("a", 1, T0 + TTL, T0 + TTL + 1));
	assert_true(wsd_revoke_refuses("b", 1, T0 + 10 + TTL, T0 + TTL + 1));
	wsd_revoke_expire(T0 + 10 + TTL + 1);
	assert_int_equal(wsd_revoke_count(), 0);
}

/* A second kick extends the first and moves the entry behind the others. */
static void test_second_kick_extends(void **state)
{
	(void)state;
	assert_int_equal(wsd_revoke_add("a", 1, T0, TTL), 0);
	assert_int_equal(wsd_revoke_add("b", 1, T0 + 1, TTL), 0);
	assert_int_equal(wsd_revoke_add("a", 1, T0 + 30, TTL), 0);
	assert_int_equal(wsd_revoke_count(), 2);
	wsd_revoke_expire(T0 + TTL + 2);
	assert_int_equal(wsd_revoke_count(), 1);
	assert_true(wsd_revoke_refuses("a", 1, T0 + 30 + TTL, T0 + TTL + 2));
}

/* Full: the next kick is refused, and nothing already there is forgotten. */
static void test_full_table_refuses(void **state)
{
	char uid[16];

	(void)state;
	for (int i = 0; i < WSD_REVOKE_MAX; i++) {
		int n = snprintf(uid, sizeof uid, "u%d", i);

		assert_int_equal(wsd_revoke_add(uid, (size_t)n, T0, TTL), 0);
	}
	assert_int_equal(wsd_revoke_add("one-more", 8, T0, TTL), -1);
	assert_int_equal(wsd_revoke_add("u7", 2, T0 + 1, TTL), 0); /* known: renewed */
	assert_int_equal(wsd_revoke_count(), WSD_REVOKE_MAX);
	assert_true(wsd_revoke_refuses("u0", 2, T0 + 1, T0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_refuses_keys_issued_until_the_kick, teardown),
		cmocka_unit_test_teardown(test_entries_expire_with_the_keys, teardown),
		cmocka_unit_test_teardown(test_second_kick_extends, teardown),
		cmocka_unit_test_teardown(test_full_table_refuses, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
