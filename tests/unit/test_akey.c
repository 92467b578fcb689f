/* Unit tests for shared/akey.c: issuing and verifying "v1.<expiry>.<sig>" access keys,
 * every malformed shape, tampering, expiry, and the constant-time comparison. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "akey.h"

static const unsigned char secret_a[AKEY_SECRET_LEN] = {
	0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
	0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10,
};

#define NOW ((time_t)1700000000)
#define TTL 60L
#define SIG_LEN 43

static size_t issue(const unsigned char *secret, const char *uid, time_t now, long ttl,
		    char key[AKEY_MAX_LEN])
{
	size_t n = akey_issue(secret, uid, strlen(uid), now, ttl, key, AKEY_MAX_LEN);

	assert_true(n > 0);
	assert_int_equal(n, strlen(key));
	return n;
}

/* Verifies from an exactly sized heap copy so ASan sees any over-read. */
static enum akey_status verify_n(const unsigned char *secret, const char *uid, size_t uid_len,
				 const char *key, size_t key_len, time_t now)
{
	char *copy = malloc(key_len ? key_len : 1);
	enum akey_status st;

	assert_non_null(copy);
	memcpy(copy, key, key_len);
	st = akey_verify(secret, uid, uid_len, copy, key_len, now);
	free(copy);
	return st;
}

static enum akey_status verify(const unsigned char *secret, const char *uid, const char *key,
			       time_t now)
{
	return verify_n(secret, uid, strlen(uid), key, strlen(key), now);
}

static void expect_status(const char *key, enum akey_status want)
{
	enum akey_status st = verify(secret_a, "alice", key, NOW);

	if (st != want) {
		print_error("key \"%s\": status %d (%s), want %d\n", key, st, akey_status_str(st), want);
		fail();
	}
}

/* "v1." + expiry + "." + sig, for hand-made shapes. */
static void make_key(char *out, size_t cap, const char *expiry, const char *sig)
{
	int n = snprintf(out, cap, "v1.%s.%s", expiry, sig);

	assert_true(n > 0 && (size_t)n < cap);
}

static void test_issue_shape(void **state)
{
	char key[AKEY_MAX_LEN], want_prefix[40];
	size_t n;

	(void)state;
	n = issue(secret_a, "alice", NOW, TTL, key);
	snprintf(want_prefix, sizeof want_prefix, "v1.%lld.", (long long)NOW + TTL);
	assert_memory_equal(key, want_prefix, strlen(want_prefix));
	assert_int_equal(n, strlen(want_prefix) + SIG_LEN);
	for (size_t i = strlen(want_prefix); i < n; i++) {
		char c = key[i];

		assert_true((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			    (c >= '0' && c <= '9') || c == '-' || c == '_');
	}
}

/* The signature is exactly HMAC-SHA256(secret, "v1|" uid "|" expiry), base64url, no '='. */
static void test_issue_known_answer(void **state)
{
	unsigned char mac[32];
	unsigned int mac_len = 0;
	unsigned char b64[64];
	char msg[64], key[AKEY_MAX_LEN], want[AKEY_MAX_LEN];
	int n;

	(void)state;
	n = snprintf(msg, sizeof msg, "v1|%s|%lld", "alice", (long long)NOW + TTL);
	assert_non_null(HMAC(EVP_sha256(), secret_a, AKEY_SECRET_LEN, (const unsigned char *)msg,
			     (size_t)n, mac, &mac_len));
	assert_int_equal(mac_len, 32);
	n = EVP_EncodeBlock(b64, mac, 32);
	assert_int_equal(n, 44);
	assert_int_equal(b64[43], '=');
	b64[43] = '\0';
	for (int i = 0; i < 43; i++) {
		if (b64[i] == '+')
			b64[i] = '-';
		else if (b64[i] == '/')
			b64[i] = '_';
	}
	snprintf(want, sizeof want, "v1.%lld.%s", (long long)NOW + TTL, (const char *)b64);
	issue(secret_a, "alice", NOW, TTL, key);
	assert_string_equal(key, want);
}

static void test_issue_buffer_size(void **state)
{
	char key[AKEY_MAX_LEN], small[AKEY_MAX_LEN];
	size_t n;

	(void)state;
	n = issue(secret_a, "alice", NOW, TTL, key);
	assert_int_equal(akey_issue(secret_a, "alice", 5, NOW, TTL, small, n), 0);
	assert_int_equal(akey_issue(secret_a, "alice", 5, NOW, TTL, small, 0), 0);
	assert_int_equal(akey_issue(secret_a, "alice", 5, NOW, TTL, small, n + 1), n);
	assert_string_equal(small, key);
}

static void test_issue_deterministic(void **state)
{
	char k1[AKEY_MAX_LEN], k2[AKEY_MAX_LEN];

	(void)state;
	issue(secret_a, "alice", NOW, TTL, k1);
	issue(secret_a, "alice", NOW, TTL, k2);
	assert_string_equal(k1, k2);
	issue(secret_a, "alice", NOW, TTL + 1, k2);
	assert_string_not_equal(k1, k2);
	issue(secret_a, "bob", NOW, TTL, k2);
	assert_string_not_equal(k1, k2);
}

static void test_verify_ok(void **state)
{
	char key[AKEY_MAX_LEN];

	(void)state;
	issue(secret_a, "alice", NOW, TTL, key);
	assert_int_equal(verify(secret_a, "alice", key, NOW), AKEY_OK);
	assert_int_equal(verify(secret_a, "alice", key, NOW - 1000), AKEY_OK);
	issue(secret_a, "张三", NOW, TTL, key);
	assert_int_equal(verify(secret_a, "张三", key, NOW), AKEY_OK);
}

static void test_verify_binary_uid(void **state)
{
	static const char uid1[] = { 'a', '\0', 'b' };
	static const char uid2[] = { 'a', '\0', 'c' };
	char key[AKEY_MAX_LEN];
	size_t n;

	(void)state;
	n = akey_issue(secret_a, uid1, sizeof uid1, NOW, TTL, key, sizeof key);
	assert_true(n > 0);
	assert_int_equal(verify_n(secret_a, uid1, sizeof uid1, key, n, NOW), AKEY_OK);
	assert_int_equal(verify_n(secret_a, uid2, sizeof uid2, key, n, NOW), AKEY_BAD_SIGNATURE);
	assert_int_equal(verify_n(secret_a, uid1, 1, key, n, NOW), AKEY_BAD_SIGNATURE);
}

static void test_verify_expiry(void **state)
{
	char key[AKEY_MAX_LEN];

	(void)state;
	issue(secret_a, "alice", NOW, TTL, key);
	assert_int_equal(verify(secret_a, "alice", key, NOW + TTL), AKEY_OK); /* last valid second */
	assert_int_equal(verify(secret_a, "alice", key, NOW + TTL + 1), AKEY_EXPIRED);
	assert_int_equal(verify(secret_a, "alice", key, NOW + 100000), AKEY_EXPIRED);
	/* A forged key is a bad signature even when also expired. */
	assert_int_equal(verify(secret_a, "bob", key, NOW + 100000), AKEY_BAD_SIGNATURE);
}

static void test_verify_other_uid(void **state)
{
	char key[AKEY_MAX_LEN];

	(void)state;
	issue(secret_a, "alice", NOW, TTL, key);
	assert_int_equal(verify(secret_a, "bob", key, NOW), AKEY_BAD_SIGNATURE);
	assert_int_equal(verify(secret_a, "alic", key, NOW), AKEY_BAD_SIGNATURE);
	assert_int_equal(verify(secret_a, "alicex", key, NOW), AKEY_BAD_SIGNATURE);
	assert_int_equal(verify(secret_a, "Alice", key, NOW), AKEY_BAD_SIGNATURE);
	assert_int_equal(verify(secret_a, "", key, NOW), AKEY_BAD_SIGNATURE);
}

static void test_verify_other_secret(void **state)
{
	unsigned char other[AKEY_SECRET_LEN];
	char key[AKEY_MAX_LEN];

	(void)state;
	issue(secret_a, "alice", NOW, TTL, key);
	for (size_t i = 0; i < AKEY_SECRET_LEN; i++) {
		memcpy(other, secret_a, sizeof other);
		other[i] ^= 0x01;
		assert_int_equal(verify(other, "alice", key, NOW), AKEY_BAD_SIGNATURE);
	}
}

/* Every byte of a valid key replaced by every other byte value: never OK. */
static void test_verify_tamper_every_char(void **state)
{
	char key[AKEY_MAX_LEN], t[AKEY_MAX_LEN];
	size_t n;

	(void)state;
	n = issue(secret_a, "alice", NOW, TTL, key);
	for (size_t i = 0; i < n; i++) {
		for (int c = 0; c < 256; c++) {
			enum akey_status st;

			if ((char)c == key[i])
				continue;
			memcpy(t, key, n);
			t[i] = (char)c;
			st = verify_n(secret_a, "alice", 5, t, n, NOW);
			if (st == AKEY_OK) {
				print_error("byte %zu set to 0x%02x still verifies\n", i, c);
				fail();
			}
		}
	}
	/* Dropping or adding a byte at either end is never OK either. */
	assert_int_not_equal(verify_n(secret_a, "alice", 5, key, n - 1, NOW), AKEY_OK);
	assert_int_not_equal(verify_n(secret_a, "alice", 5, key + 1, n - 1, NOW), AKEY_OK);
	memcpy(t, key, n);
	t[n] = 'A';
	assert_int_not_equal(verify_n(secret_a, "alice", 5, t, n + 1, NOW), AKEY_OK);
}

static void test_verify_missing(void **state)
{
	char key[AKEY_MAX_LEN];

	(void)state;
	issue(secret_a, "alice", NOW, TTL, key);
	assert_int_equal(verify_n(secret_a, "alice", 5, key, 0, NOW), AKEY_MISSING);
	assert_int_equal(akey_verify(secret_a, "alice", 5, "", 0, NOW), AKEY_MISSING);
}

static void test_verify_malformed_short(void **state)
{
	(void)state;
	expect_status("v", AKEY_MALFORMED);
	expect_status("v1", AKEY_MALFORMED);
	expect_status("v1.", AKEY_MALFORMED);
	expect_status("v1.1.", AKEY_MALFORMED);
	expect_status("x", AKEY_MALFORMED);
	expect_status("garbage that is not a key at all", AKEY_MALFORMED);
}

static void test_verify_malformed_prefix(void **state)
{
	static const char *const prefixes[] = { "v2.", "V1.", "v1:", "x1.", "v1,", "1v." };
	char key[AKEY_MAX_LEN], t[AKEY_MAX_LEN];
	size_t n;

	(void)state;
	n = issue(secret_a, "alice", NOW, TTL, key);
	for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
		memcpy(t, key, n + 1);
		memcpy(t, prefixes[i], 3);
		expect_status(t, AKEY_MALFORMED);
	}
}

static void test_verify_malformed_too_long(void **state)
{
	char key[AKEY_MAX_LEN], t[AKEY_MAX_LEN * 2];
	size_t n;

	(void)state;
	n = issue(secret_a, "alice", NOW, TTL, key);
	/* Valid key followed by padding up to AKEY_MAX_LEN + 1 and beyond. */
	memset(t, 'A', sizeof t);
	memcpy(t, key, n);
	assert_int_equal(verify_n(secret_a, "alice", 5, t, AKEY_MAX_LEN + 1, NOW), AKEY_MALFORMED);
	assert_int_equal(verify_n(secret_a, "alice", 5, t, sizeof t, NOW), AKEY_MALFORMED);
	assert_int_equal(verify_n(secret_a, "alice", 5, t, AKEY_MAX_LEN, NOW), AKEY_MALFORMED);
}

static void test_verify_malformed_expiry(void **state)
{
	char key[AKEY_MAX_LEN], sig[SIG_LEN + 1], t[AKEY_MAX_LEN * 2];
	size_t n;
	static const char *const bad[] = {
		"",                    /* empty */
		"12a4",                /* non-digit */
		"-1700000060",         /* sign */
		"+1700000060",
		" 1700000060",
		"0x10",
		"01700000060",         /* leading zero */
		"00",
		"1234567890123456789", /* 19 digits */
		"99999999999999999999999", /* overflows any integer */
		"1.5",
	};

	(void)state;
	n = issue(secret_a, "alice", NOW, TTL, key);
	memcpy(sig, key + n - SIG_LEN, SIG_LEN + 1);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		make_key(t, sizeof t, bad[i], sig);
		expect_status(t, AKEY_MALFORMED);
	}
}

static void test_verify_malformed_sig_length(void **state)
{
	char key[AKEY_MAX_LEN], sig[SIG_LEN + 2], t[AKEY_MAX_LEN * 2], exp[32];
	size_t n;

	(void)state;
	n = issue(secret_a, "alice", NOW, TTL, key);
	snprintf(exp, sizeof exp, "%lld", (long long)NOW + TTL);
	memcpy(sig, key + n - SIG_LEN, SIG_LEN + 1);
	/* 42 characters */
	sig[SIG_LEN - 1] = '\0';
	make_key(t, sizeof t, exp, sig);
	expect_status(t, AKEY_MALFORMED);
	/* 44 characters */
	memcpy(sig, key + n - SIG_LEN, SIG_LEN);
	sig[SIG_LEN] = 'A';
	sig[SIG_LEN + 1] = '\0';
	make_key(t, sizeof t, exp, sig);
	expect_status(t, AKEY_MALFORMED);
	/* 44 with base64 padding */
	sig[SIG_LEN] = '=';
	make_key(t, sizeof t, exp, sig);
	expect_status(t, AKEY_MALFORMED);
	/* no separator at all */
	snprintf(t, sizeof t, "v1.%s%s", exp, key + n - SIG_LEN);
	expect_status(t, AKEY_MALFORMED);
}

/* 18 expiry digits are the most the format takes (19 is in the malformed test). */
static void test_expiry_digit_limit(void **state)
{
	char key[AKEY_MAX_LEN];
	time_t now18 = (time_t)999999999999999999LL - TTL; /* expiry has 18 digits */
	size_t n;

	(void)state;
	n = issue(secret_a, "alice", now18, TTL, key);
	assert_int_equal(n, 3 + 18 + 1 + SIG_LEN);
	assert_int_equal(verify(secret_a, "alice", key, now18), AKEY_OK);
	assert_int_equal(verify(secret_a, "alice", key, now18 + TTL + 1), AKEY_EXPIRED);
}

static void test_expiry_zero(void **state)
{
	char key[AKEY_MAX_LEN];

	(void)state;
	/* "0" alone is not a leading zero. */
	issue(secret_a, "alice", 0, 0, key);
	assert_memory_equal(key, "v1.0.", 5);
	assert_int_equal(verify(secret_a, "alice", key, 0), AKEY_OK);
	assert_int_equal(verify(secret_a, "alice", key, 1), AKEY_EXPIRED);
}

static void test_status_str(void **state)
{
	const char *s[5];

	(void)state;
	s[0] = akey_status_str(AKEY_OK);
	s[1] = akey_status_str(AKEY_MISSING);
	s[2] = akey_status_str(AKEY_MALFORMED);
	s[3] = akey_status_str(AKEY_BAD_SIGNATURE);
	s[4] = akey_status_str(AKEY_EXPIRED);
	for (int i = 0; i < 5; i++) {
		assert_non_null(s[i]);
		assert_true(s[i][0] != '\0');
		for (int j = 0; j < i; j++)
			assert_string_not_equal(s[i], s[j]);
	}
	assert_non_null(akey_status_str((enum akey_status)99));
}

static void test_secure_equal(void **state)
{
	(void)state;
	assert_int_equal(akey_secure_equal("abc", 3, "abc", 3), 1);
	assert_int_equal(akey_secure_equal("", 0, "", 0), 1);
	assert_int_equal(akey_secure_equal("abc", 3, "abd", 3), 0);
	assert_int_equal(akey_secure_equal("abc", 3, "xbc", 3), 0);
	assert_int_equal(akey_secure_equal("abc", 3, "ab", 2), 0);
	assert_int_equal(akey_secure_equal("ab", 2, "abc", 3), 0);
	assert_int_equal(akey_secure_equal("abc", 0, "xyz", 0), 1);
	assert_int_equal(akey_secure_equal("a\0b", 3, "a\0c", 3), 0);
	assert_int_equal(akey_secure_equal("a\0b", 3, "a\0b", 3), 1);
	/* Every single-bit difference in a 32-byte block. */
	{
		unsigned char a[32], b[32];

		for (size_t i = 0; i < sizeof a; i++)
			a[i] = (unsigned char)(i * 7 + 1);
		for (size_t i = 0; i < sizeof a * 8; i++) {
			memcpy(b, a, sizeof b);
			b[i / 8] ^= (unsigned char)(1u << (i % 8));
			assert_int_equal(akey_secure_equal(a, sizeof a, b, sizeof b), 0);
		}
		assert_int_equal(akey_secure_equal(a, sizeof a, a, sizeof a), 1);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_issue_shape),
		cmocka_unit_test(test_issue_known_answer),
		cmocka_unit_test(test_issue_buffer_size),
		cmocka_unit_test(test_issue_deterministic),
		cmocka_unit_test(test_verify_ok),
		cmocka_unit_test(test_verify_binary_uid),
		cmocka_unit_test(test_verify_expiry),
		cmocka_unit_test(test_verify_other_uid),
		cmocka_unit_test(test_verify_other_secret),
		cmocka_unit_test(test_verify_tamper_every_char),
		cmocka_unit_test(test_verify_missing),
		cmocka_unit_test(test_verify_malformed_short),
		cmocka_unit_test(test_verify_malformed_prefix),
		cmocka_unit_test(test_verify_malformed_too_long),
		cmocka_unit_test(test_verify_malformed_expiry),
		cmocka_unit_test(test_verify_malformed_sig_length),
		cmocka_unit_test(test_expiry_digit_limit),
		cmocka_unit_test(test_expiry_zero),
		cmocka_unit_test(test_status_str),
		cmocka_unit_test(test_secure_equal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
