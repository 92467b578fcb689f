/* SPDX-License-Identifier: MIT */
/* Unit tests for ws-daemon/wsd_ring.c: uids spread evenly over servers, the list's
 * order does not matter, and adding a server moves only the uids it takes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "wsd_ring.h"

#define UIDS 20000

static struct cfg_redis_server server(const char *host, int port)
{
	struct cfg_redis_server s = { .port = port };

	snprintf(s.host, sizeof s.host, "%s", host);
	return s;
}

static size_t uid(char *buf, size_t cap, unsigned i)
{
	return (size_t)snprintf(buf, cap, "user-%u", i);
}

/* Three servers each get a third of the uids, within 15 %. */
static void test_spreads_evenly(void **state)
{
	struct cfg_redis_server sv[3] = { server("10.0.0.1", 6379), server("10.0.0.2", 6379),
					  server("10.0.0.3", 6379) };
	struct wsd_ring *r = wsd_ring_new(sv, 3);
	unsigned count[3] = { 0 };
	char u[32];

	(void)state;
	assert_non_null(r);
	for (unsigned i = 0; i < UIDS; i++) {
		size_t n = uid(u, sizeof u, i);

		count[wsd_ring_pick(r, u, n)]++;
	}
	for (int s = 0; s < 3; s++) {
		assert_true(count[s] > UIDS / 3 * 85 / 100);
		assert_true(count[s] < UIDS / 3 * 115 / 100);
	}
	wsd_ring_free(r);
}

/* Every host must agree whatever order its list is in. */
static void test_order_does_not_matter(void **state)
{
	struct cfg_redis_server a[2] = { server("10.0.0.1", 6379), server("10.0.0.2", 6380) };
	struct cfg_redis_server b[2] = { a[1], a[0] };
	struct wsd_ring *ra = wsd_ring_new(a, 2), *rb = wsd_ring_new(b, 2);
	char u[32];

	(void)state;
	for (unsigned i = 0; i < UIDS; i++) {
		size_t n = uid(u, sizeof u, i);
		unsigned x = wsd_ring_pick(ra, u, n), y = wsd_ring_pick(rb, u, n);

		assert_int_equal(a[x].port, b[y].port);
	}
	wsd_ring_free(ra);
	wsd_ring_free(rb);
}

/* A third server takes about a third of the uids; none moves between the two
 * servers that were there. */
static void test_adding_moves_only_to_the_new_server(void **state)
{
	struct cfg_redis_server sv[3] = { server("10.0.0.1", 6379), server("10.0.0.2", 6379),
					  server("10.0.0.3", 6379) };
	struct wsd_ring *two = wsd_ring_new(sv, 2), *three = wsd_ring_new(sv, 3);
	unsigned moved = 0;
	char u[32];

	(void)state;
	for (unsigned i = 0; i < UIDS; i++) {
		size_t n = uid(u, sizeof u, i);
		unsigned before = wsd_ring_pick(two, u, n), after = wsd_ring_pick(three, u, n);

		if (before != after) {
			assert_int_equal(after, 2);
			moved++;
		}
	}
	assert_true(moved > UIDS / 3 * 85 / 100 && moved < UIDS / 3 * 115 / 100);
	wsd_ring_free(two);
	wsd_ring_free(three);
}

static void test_one_server_and_none(void **state)
{
	struct cfg_redis_server sv[1] = { server("127.0.0.1", 6379) };
	struct wsd_ring *r = wsd_ring_new(sv, 1);

	(void)state;
	assert_int_equal(wsd_ring_pick(r, "x", 1), 0);
	assert_int_equal(wsd_ring_pick(r, "", 0), 0);
	wsd_ring_free(r);
	assert_null(wsd_ring_new(sv, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spreads_evenly),
		cmocka_unit_test(test_order_does_not_matter),
		cmocka_unit_test(test_adding_moves_only_to_the_new_server),
		cmocka_unit_test(test_one_server_and_none),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
