/* SPDX-License-Identifier: MIT */
/* Unit tests for shared/req.c: query-string lookup with percent-decoding,
 * the UTF-8 validator and the uid rule shared by /push and /ws. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "req.h"

/* Every input is copied into an exactly sized heap block with no NUL after it,
 * so AddressSanitizer reports any read past the given length. */
static char *dup_exact(const char *s, size_t n)
{
	char *p = malloc(n ? n : 1);

	assert_non_null(p);
	memcpy(p, s, n);
	return p;
}

static enum req_rc qget_n(const char *qs, size_t qs_len, const char *name, char *out,
			  size_t cap, size_t *out_len)
{
	char *copy = dup_exact(qs, qs_len);
	enum req_rc rc = req_query_get(copy, qs_len, name, out, cap, out_len);

	free(copy);
	return rc;
}

static enum req_rc qget(const char *qs, const char *name, char *out, size_t cap, size_t *out_len)
{
	return qget_n(qs, strlen(qs), name, out, cap, out_len);
}

/* Asserts that `name` in qs decodes to exactly want[0..want_len). */
static void query_is(const char *qs, const char *name, const char *want, size_t want_len)
{
	char out[128];
	size_t len = 9999;

	memset(out, 'Z', sizeof out);
	assert_int_equal(qget(qs, name, out, sizeof out, &len), REQ_OK);
	assert_int_equal(len, want_len);
	assert_memory_equal(out, want, want_len);
	assert_int_equal(out[len], '\0');
}

static void query_rc(const char *qs, const char *name, enum req_rc want)
{
	char out[128];
	size_t len = 0;

	assert_int_equal(qget(qs, name, out, sizeof out, &len), want);
}

static int utf8_ok(const char *s, size_t n)
{
	char *copy = dup_exact(s, n);
	int r = req_utf8_valid(copy, n);

	free(copy);
	return r;
}

static const char *uid_problem(const char *s, size_t n, size_t max)
{
	char *copy = dup_exact(s, n);
	const char *r = req_uid_problem(copy, n, max);

	free(copy);
	return r;
}

static void reason_has(const char *got, const char *needle)
{
	if (!got) {
		print_error("uid accepted, expected a reason containing \"%s\"\n", needle);
		fail();
	}
	if (!strstr(got, needle)) {
		print_error("reason \"%s\" lacks \"%s\"\n", got, needle);
		fail();
	}
}

/* ---- req_query_get ---- */

static void test_query_simple(void **state)
{
	(void)state;
	query_is("uid=alice", "uid", "alice", 5);
	query_is("a=1&uid=alice&b=2", "uid", "alice", 5);
	query_is("a=1&b=2&uid=bob", "uid", "bob", 3);
	query_is("uid=a=b", "uid", "a=b", 3);
	query_is("&&uid=x&&", "uid", "x", 1);
}

static void test_query_first_match(void **state)
{
	(void)state;
	query_is("uid=first&uid=second", "uid", "first", 5);
	query_is("x=0&uid=&uid=second", "uid", "", 0);
}

static void test_query_plus_is_space(void **state)
{
	(void)state;
	query_is("uid=a+b+", "uid", "a b ", 4);
	query_is("uid=%2B", "uid", "+", 1);
	query_is("uid=%20", "uid", " ", 1);
}

static void test_query_percent_decoding(void **state)
{
	(void)state;
	query_is("uid=%41%62c", "uid", "Abc", 3);
	query_is("uid=%e5%bc%a0", "uid", "\xE5\xBC\xA0", 3);
	query_is("uid=%E5%BC%A0%E4%B8%89", "uid", "张三", strlen("张三"));
	query_is("uid=%25", "uid", "%", 1);
	query_is("uid=%26x", "uid", "&x", 2);
	query_is("uid=%3D", "uid", "=", 1);
	query_is("uid=%ff", "uid", "\xff", 1); /* bytes are bytes; UTF-8 is checked later */
}

static void test_query_bad_encoding(void **state)
{
	static const char *const bad[] = {
		"uid=%G1", "uid=%1G", "uid=%4", "uid=%", "uid=ab%", "uid=ab%4", "uid=%%",
		"uid=%-1", "uid=% 1", "uid=%4&x=1", "uid=%&x=1",
	};

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char out[64];
		size_t len = 0;
		enum req_rc rc = qget(bad[i], "uid", out, sizeof out, &len);

		if (rc != REQ_BAD_ENCODING) {
			print_error("\"%s\": rc %d, want REQ_BAD_ENCODING\n", bad[i], rc);
			fail();
		}
	}
}

static void test_query_nul_is_bad(void **state)
{
	static const char raw[] = { 'u', 'i', 'd', '=', 'a', '\0', 'b' };
	char out[16];
	size_t len = 0;

	(void)state;
	query_rc("uid=%00", "uid", REQ_BAD_ENCODING);
	query_rc("uid=a%00b", "uid", REQ_BAD_ENCODING);
	/* A raw NUL byte inside qs_len is refused too. */
	assert_int_equal(qget_n(raw, sizeof raw, "uid", out, sizeof out, &len), REQ_BAD_ENCODING);
}

static void test_query_too_long(void **state)
{
	char out[8];
	size_t len = 0;

	(void)state;
	/* 6 bytes + NUL need 7. */
	assert_int_equal(qget("uid=abcdef", "uid", out, 6, &len), REQ_TOO_LONG);
	assert_int_equal(qget("uid=abcdef", "uid", out, 7, &len), REQ_OK);
	assert_int_equal(len, 6);
	assert_string_equal(out, "abcdef");
	/* The bound applies to the decoded length, not the encoded one. */
	assert_int_equal(qget("uid=%41%41%41", "uid", out, 4, &len), REQ_OK);
	assert_int_equal(len, 3);
	assert_string_equal(out, "AAA");
	assert_int_equal(qget("uid=%41%41%41", "uid", out, 3, &len), REQ_TOO_LONG);
	assert_int_equal(qget("uid=a", "uid", out, 0, &len), REQ_TOO_LONG);
	assert_int_equal(qget("uid=", "uid", out, 1, &len), REQ_OK);
	assert_int_equal(len, 0);
}

static void test_query_absent(void **state)
{
	char out[8];
	size_t len = 0;

	(void)state;
	query_rc("a=1&b=2", "uid", REQ_ABSENT);
	query_rc("", "uid", REQ_ABSENT);
	query_rc("&&&", "uid", REQ_ABSENT);
	query_rc("key=uid=1", "uid", REQ_ABSENT);
	query_rc("UID=1", "uid", REQ_ABSENT);
	assert_int_equal(req_query_get("uid=1", 0, "uid", out, sizeof out, &len), REQ_ABSENT);
}

static void test_query_name_without_value(void **state)
{
	(void)state;
	query_is("uid", "uid", "", 0);
	query_is("a=1&uid&b=2", "uid", "", 0);
	query_is("uid=", "uid", "", 0);
}

static void test_query_name_prefixes(void **state)
{
	(void)state;
	query_is("uidx=1&uid=2", "uid", "2", 1);
	query_is("uidx&uid=2", "uid", "2", 1);
	query_is("xuid=1&uid=2", "uid", "2", 1);
	query_is("uid=2&uidx=1", "uidx", "1", 1);
	query_rc("ui=1", "uid", REQ_ABSENT);
	query_rc("uidx=1", "uid", REQ_ABSENT);
	query_rc("uidx", "uid", REQ_ABSENT);
}

static void test_query_respects_length(void **state)
{
	char out[16];
	size_t len = 0;

	(void)state;
	/* Only the first 7 bytes are the query: "uid=abc". */
	assert_int_equal(qget_n("uid=abcdef", 7, "uid", out, sizeof out, &len), REQ_OK);
	assert_int_equal(len, 3);
	assert_string_equal(out, "abc");
	/* A cut %-escape is bad, not read beyond the end. */
	assert_int_equal(qget_n("uid=%41", 6, "uid", out, sizeof out, &len), REQ_BAD_ENCODING);
	/* The name itself cut by the length. */
	assert_int_equal(qget_n("uid=1", 2, "uid", out, sizeof out, &len), REQ_ABSENT);
	assert_int_equal(qget_n("uid=1", 3, "uid", out, sizeof out, &len), REQ_OK);
	assert_int_equal(len, 0);
}

/* ---- req_utf8_valid ---- */

struct bytes {
	const char *s;
	size_t n;
};

#define B(lit) { lit, sizeof lit - 1 }

static void test_utf8_valid(void **state)
{
	static const struct bytes ok[] = {
		B(""), B("abc"), B("a\0b"), B("\x7F"),
		B("\xC2\x80"),                 /* U+0080 */
		B("\xC3\xA9"),                 /* é */
		B("\xDF\xBF"),                 /* U+07FF */
		B("\xE0\xA0\x80"),             /* U+0800 */
		B("\xED\x9F\xBF"),             /* U+D7FF */
		B("\xEE\x80\x80"),             /* U+E000 */
		B("\xEF\xBF\xBF"),             /* U+FFFF */
		B("\xF0\x90\x80\x80"),         /* U+10000 */
		B("\xF0\x9F\x98\x80"),         /* 😀 */
		B("\xF4\x8F\xBF\xBF"),         /* U+10FFFF */
		B("张三 abc 推送成功"),
	};

	(void)state;
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		if (utf8_ok(ok[i].s, ok[i].n) != 1) {
			print_error("valid case %zu refused\n", i);
			fail();
		}
	}
}

static void test_utf8_invalid(void **state)
{
	static const struct bytes bad[] = {
		/* overlongs */
		B("\xC0\x80"), B("\xC0\xAF"), B("\xC1\xBF"), B("\xE0\x80\x80"), B("\xE0\x9F\xBF"),
		B("\xF0\x80\x80\x80"), B("\xF0\x8F\xBF\xBF"),
		/* surrogates */
		B("\xED\xA0\x80"), B("\xED\xAF\xBF"), B("\xED\xB0\x80"), B("\xED\xBF\xBF"),
		/* beyond U+10FFFF and bytes that never appear */
		B("\xF4\x90\x80\x80"), B("\xF5\x80\x80\x80"), B("\xF7\xBF\xBF\xBF"),
		B("\xF8\x88\x80\x80\x80"), B("\xFC\x84\x80\x80\x80\x80"), B("\xFE"), B("\xFF"),
		/* lone continuation bytes */
		B("\x80"), B("\xBF"), B("a\x80"),
		/* truncated sequences */
		B("\xC3"), B("a\xC3"), B("\xE5\xBC"), B("\xE5"), B("\xF0\x9F\x98"), B("\xF0\x9F"),
		B("\xF0"), B("abc\xE5\xBC"),
		/* bad continuation */
		B("\xC3\x28"), B("\xE5\x41\xA0"), B("\xE5\xBC\x41"), B("\xF0\x9F\x41\x80"),
		B("\xF0\x9F\x98\x41"), B("\xC3\xC3\xA9"),
	};

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (utf8_ok(bad[i].s, bad[i].n) != 0) {
			print_error("invalid case %zu accepted\n", i);
			fail();
		}
	}
}

static void test_utf8_respects_length(void **state)
{
	(void)state;
	/* "张" is 3 bytes; a length that cuts it must fail without reading on. */
	assert_int_equal(utf8_ok("\xE5\xBC\xA0", 2), 0);
	assert_int_equal(utf8_ok("\xE5\xBC\xA0", 3), 1);
	assert_int_equal(utf8_ok("\xF0\x9F\x98\x80", 3), 0);
	assert_int_equal(utf8_ok("ab\xC3\xA9", 3), 0);
	/* A bad byte after the length does not matter. */
	assert_int_equal(utf8_ok("ab\xFF", 2), 1);
}

/* ---- req_uid_problem ---- */

static void test_uid_ok(void **state)
{
	(void)state;
	assert_null(uid_problem("alice", 5, 256));
	assert_null(uid_problem("张三", strlen("张三"), 256));
	assert_null(uid_problem("a b~!", 5, 256));
	assert_null(uid_problem("\xF0\x9F\x98\x80", 4, 4));
	assert_null(uid_problem("x", 1, 1));
	assert_null(uid_problem("abcd", 4, 4)); /* exactly max_len */
}

static void test_uid_empty_and_long(void **state)
{
	(void)state;
	reason_has(uid_problem("", 0, 256), "missing");
	reason_has(uid_problem("abcde", 5, 4), "too long");
	reason_has(uid_problem("张三", strlen("张三"), 5), "too long");
}

static void test_uid_control_bytes(void **state)
{
	static const struct bytes bad[] = {
		B("a\0b"), B("\x01"), B("a\x1F"), B("a\nb"), B("\tx"), B("a\rb"), B("x\x7F"), B("\x1B[0m"),
	};

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		reason_has(uid_problem(bad[i].s, bad[i].n, 256), "control");
}

static void test_uid_bad_utf8(void **state)
{
	static const struct bytes bad[] = {
		B("\xC3\x28"), B("a\x80"), B("\xED\xA0\x80"), B("\xC0\xAF"), B("\xE5\xBC"),
		B("\xF4\x90\x80\x80"), B("\xFF"),
	};

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		reason_has(uid_problem(bad[i].s, bad[i].n, 256), "UTF-8");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_query_simple),
		cmocka_unit_test(test_query_first_match),
		cmocka_unit_test(test_query_plus_is_space),
		cmocka_unit_test(test_query_percent_decoding),
		cmocka_unit_test(test_query_bad_encoding),
		cmocka_unit_test(test_query_nul_is_bad),
		cmocka_unit_test(test_query_too_long),
		cmocka_unit_test(test_query_absent),
		cmocka_unit_test(test_query_name_without_value),
		cmocka_unit_test(test_query_name_prefixes),
		cmocka_unit_test(test_query_respects_length),
		cmocka_unit_test(test_utf8_valid),
		cmocka_unit_test(test_utf8_invalid),
		cmocka_unit_test(test_utf8_respects_length),
		cmocka_unit_test(test_uid_ok),
		cmocka_unit_test(test_uid_empty_and_long),
		cmocka_unit_test(test_uid_control_bytes),
		cmocka_unit_test(test_uid_bad_utf8),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
