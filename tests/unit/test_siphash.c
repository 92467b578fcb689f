/* SPDX-License-Identifier: MIT */
/* Unit tests for shared/siphash.c: SipHash-2-4 against the paper's vectors, and
 * the properties the uid table relies on (keyed, every input byte counts). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "siphash.h"

/* The key of the paper's Appendix A and of the reference vectors: 00 01 .. 0f. */
static void ref_key(uint8_t key[SIPHASH_KEY_BYTES])
{
	for (int i = 0; i < SIPHASH_KEY_BYTES; i++)
		key[i] = (uint8_t)i;
}

/* Message 00 01 .. (n-1), as in the paper and the reference vectors. */
static void ref_msg(uint8_t *m, size_t n)
{
	for (size_t i = 0; i < n; i++)
		m[i] = (uint8_t)i;
}

/* Appendix A of the paper: the 15-byte message gives a129ca6149be45e5. */
static void test_paper_example(void **state)
{
	uint8_t key[SIPHASH_KEY_BYTES], m[15];

	(void)state;
	ref_key(key);
	ref_msg(m, sizeof m);
	assert_int_equal(siphash24(key, m, sizeof m), 0xa129ca6149be45e5ULL);
}

/* Vectors of the reference implementation (vectors.h, read as little-endian
 * 64-bit values) at each tail length that takes a different path: empty, a
 * tail only, exactly one word, a word and a tail, several words. */
static void test_reference_vectors(void **state)
{
	static const struct { size_t len; uint64_t want; } v[] = {
		{ 0, 0x726fdb47dd0e0e31ULL },  { 1, 0x74f839c593dc67fdULL },
		{ 7, 0xab0200f58b01d137ULL },  { 8, 0x93f5f5799a932462ULL },
		{ 15, 0xa129ca6149be45e5ULL }, { 16, 0x3f2acc7f57c29bdbULL },
		{ 63, 0x958a324ceb064572ULL },
	};
	uint8_t key[SIPHASH_KEY_BYTES], m[64];

	(void)state;
	ref_key(key);
	ref_msg(m, sizeof m);
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
		assert_int_equal(siphash24(key, m, v[i].len), v[i].want);
}

/* The input is read byte by byte: an unaligned pointer gives the same value. */
static void test_unaligned_input(void **state)
{
	uint8_t key[SIPHASH_KEY_BYTES], buf[1 + 16];

	(void)state;
	ref_key(key);
	ref_msg(buf + 1, 16);
	assert_int_equal(siphash24(key, buf + 1, 16), 0x3f2acc7f57c29bdbULL);
}

/* Another key, another value: what makes precomputed collisions useless. */
static void test_key_matters(void **state)
{
	uint8_t k1[SIPHASH_KEY_BYTES], k2[SIPHASH_KEY_BYTES];
	const char *uid = "user-42";

	(void)state;
	ref_key(k1);
	memcpy(k2, k1, sizeof k2);
	k2[15] ^= 0x80;
	assert_int_not_equal(siphash24(k1, uid, strlen(uid)), siphash24(k2, uid, strlen(uid)));
}

/* Trailing NUL bytes change the value (the length is hashed in), so "a" and
 * "a\0" are different uids to the table. */
static void test_length_matters(void **state)
{
	uint8_t key[SIPHASH_KEY_BYTES];

	(void)state;
	ref_key(key);
	assert_int_not_equal(siphash24(key, "a\0", 1), siphash24(key, "a\0", 2));
	assert_int_not_equal(siphash24(key, "", 0), siphash24(key, "\0", 1));
}

/* Two random keys in a row differ (16 random bytes never repeat in practice). */
static void test_random_key(void **state)
{
	uint8_t a[SIPHASH_KEY_BYTES], b[SIPHASH_KEY_BYTES];

	(void)state;
	assert_int_equal(siphash_key_random(a), 0);
	assert_int_equal(siphash_key_random(b), 0);
	assert_memory_not_equal(a, b, sizeof a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paper_example),
		cmocka_unit_test(test_reference_vectors),
		cmocka_unit_test(test_unaligned_input),
		cmocka_unit_test(test_key_matters),
		cmocka_unit_test(test_length_matters),
		cmocka_unit_test(test_random_key),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
