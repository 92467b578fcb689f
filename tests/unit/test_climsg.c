/* SPDX-License-Identifier: MIT */
/* Unit tests for shared/climsg.c: what a subscriber says on its WebSocket. {"ack":N}
 * is an acknowledgement, text that is not a JSON object a heartbeat, and any other
 * JSON object a mistake the client is told about. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "climsg.h"

static uint64_t number;
static const char *reason;

/* Parses text[0..len) from an exactly sized heap copy (no NUL after it, as lws hands
 * it over), so ASan sees a read past the end. The outputs start as junk: the parser
 * must set both every time. */
static enum climsg_kind parse_n(const char *text, size_t len)
{
	char *copy = malloc(len ? len : 1);
	enum climsg_kind k;

	assert_non_null(copy);
	memcpy(copy, text, len);
	number = 12345;
	reason = "junk";
	k = climsg_parse(copy, len, &number, &reason);
	free(copy);
	return k;
}

static enum climsg_kind parse(const char *text)
{
	return parse_n(text, strlen(text));
}

static void assert_ack(const char *text, uint64_t want)
{
	if (parse(text) != CLIMSG_ACK) {
		print_error("not an ack: %s\n", text);
		fail();
	}
	assert_int_equal(number, want);
	assert_null(reason);
}

static void assert_other_n(const char *text, size_t len)
{
	if (parse_n(text, len) != CLIMSG_OTHER) {
		print_error("not a heartbeat: %.*s\n", (int)len, text);
		fail();
	}
	assert_int_equal(number, 0);
	assert_null(reason);
}

static void assert_other(const char *text)
{
	assert_other_n(text, strlen(text));
}

/* BAD, with a reason naming the problem (reason_part). */
static void assert_bad_n(const char *text, size_t len, const char *reason_part)
{
	if (parse_n(text, len) != CLIMSG_BAD) {
		print_error("not refused: %.*s\n", (int)len, text);
		fail();
	}
	assert_int_equal(number, 0);
	assert_non_null(reason);
	if (!strstr(reason, reason_part)) {
		print_error("%.*s: reason \"%s\" lacks \"%s\"\n", (int)len, text, reason, reason_part);
		fail();
	}
}

static void assert_bad(const char *text, const char *reason_part)
{
	assert_bad_n(text, strlen(text), reason_part);
}

#define NOT_JSON "not valid JSON"
#define UNKNOWN "unknown message"
#define NOT_NUMBER "must be a message number"

static void test_ack(void **state)
{
	(void)state;
	assert_ack("{\"ack\":0}", 0);
	assert_ack("{\"ack\":1}", 1);
	assert_ack("{\"ack\":42}", 42);
	assert_ack("{\"ack\":9223372036854775807}", INT64_MAX);
	assert_ack("{\"ack\":-0}", 0); /* JSON's minus zero is the integer 0 */
}

/* JSON whitespace (space, tab, CR, LF) around and inside is fine. */
static void test_ack_whitespace(void **state)
{
	(void)state;
	assert_ack(" {\"ack\":7}", 7);
	assert_ack("\t\r\n {\"ack\":7}", 7);
	assert_ack("{\"ack\":7} \n", 7);
	assert_ack("{ \"ack\" :\t7\r\n}", 7);
}

/* Anything not a JSON object is a heartbeat (wave-1 clients send plain text). */
static void test_other(void **state)
{
	(void)state;
	assert_other("");
	assert_other("   \r\n\t");
	assert_other("ping");
	assert_other("ack");
	assert_other("[{\"ack\":1}]");
	assert_other("\"{\\\"ack\\\":1}\"");
	assert_other("42");
	assert_other("null");
	assert_other("}");
	/* Only JSON's four whitespace bytes are skipped before the brace. */
	assert_other("\v{\"ack\":1}");
	assert_other("\f{\"ack\":1}");
	assert_other("\xEF\xBB\xBF{\"ack\":1}"); /* a byte-order mark */
	assert_other_n("\0{\"ack\":1}", 10);
}

/* An object that is no acknowledgement: the client is told what is understood. */
static void test_unknown_object(void **state)
{
	(void)state;
	assert_bad("{}", UNKNOWN);
	assert_bad("{\"x\":1}", UNKNOWN);
	assert_bad("{\"Ack\":1}", UNKNOWN);
	assert_bad("{\"ack \":1}", UNKNOWN);
	assert_bad("{\"ack\":1,\"x\":2}", UNKNOWN);
	assert_bad("{\"x\":2,\"ack\":1}", UNKNOWN);
}

static void test_ack_not_a_number(void **state)
{
	(void)state;
	assert_bad("{\"ack\":-1}", NOT_NUMBER);
	assert_bad("{\"ack\":-9223372036854775808}", NOT_NUMBER);
	assert_bad("{\"ack\":1.0}", NOT_NUMBER);
	assert_bad("{\"ack\":1.5}", NOT_NUMBER);
	assert_bad("{\"ack\":1e2}", NOT_NUMBER);
	assert_bad("{\"ack\":\"1\"}", NOT_NUMBER);
	assert_bad("{\"ack\":true}", NOT_NUMBER);
	assert_bad("{\"ack\":null}", NOT_NUMBER);
	assert_bad("{\"ack\":[1]}", NOT_NUMBER);
	assert_bad("{\"ack\":{\"n\":1}}", NOT_NUMBER);
}

/* Beyond INT64_MAX jansson refuses the document: still refused, never wrapped. */
static void test_ack_too_big(void **state)
{
	(void)state;
	assert_bad("{\"ack\":9223372036854775808}", "");
	assert_bad("{\"ack\":18446744073709551615}", "");
	assert_bad("{\"ack\":18446744073709551616}", "");
	assert_bad("{\"ack\":99999999999999999999999999}", "");
	assert_bad("{\"ack\":-9223372036854775809}", "");
}

/* It starts like an object but is not JSON. */
static void test_invalid_json(void **state)
{
	(void)state;
	assert_bad("{", NOT_JSON);
	assert_bad("  {", NOT_JSON);
	assert_bad("{\"ack\":1", NOT_JSON);
	assert_bad("{ack:1}", NOT_JSON);
	assert_bad("{'ack':1}", NOT_JSON);
	assert_bad("{\"ack\":01}", NOT_JSON);
	assert_bad("{\"ack\":+1}", NOT_JSON);
	assert_bad("{\"ack\":0x10}", NOT_JSON);
	assert_bad("{\"ack\":1,}", NOT_JSON);
	assert_bad("{\"ack\":1}x", NOT_JSON);
	assert_bad("{\"ack\":1}{\"ack\":2}", NOT_JSON);
	assert_bad("{\"ack\":1}\v", NOT_JSON);
	assert_bad("{\"ack\":NaN}", NOT_JSON);
	assert_bad("{\"ack\":Infinity}", NOT_JSON);
	assert_bad("{\"a\\u0000ck\":1}", NOT_JSON);  /* NUL in a key: not allowed */
	assert_bad("{\"ack\":1}\xff", NOT_JSON);
	assert_bad("{\"\xff\":1}", NOT_JSON);        /* not UTF-8 */
	assert_bad_n("{\"ack\":1}\0", 10, NOT_JSON); /* a NUL after the object */
	assert_bad_n("{\"ack\"\0:1}", 10, NOT_JSON);
}

/* A duplicated key is ambiguous (which ack?): refused, not first- or last-wins. */
static void test_duplicate_keys(void **state)
{
	(void)state;
	assert_bad("{\"ack\":1,\"ack\":2}", NOT_JSON);
	assert_bad("{\"ack\":1,\"ack\":1}", NOT_JSON);
	assert_bad("{\"ack\":{\"a\":1,\"a\":1}}", NOT_JSON);
}

/* Past CLIMSG_MAX the text is not read at all; at CLIMSG_MAX it still is. */
static void test_length_bound(void **state)
{
	char *buf = malloc(CLIMSG_MAX + 2);
	static const char ack[] = "{\"ack\":3}";

	(void)state;
	assert_non_null(buf);
	memset(buf, ' ', CLIMSG_MAX + 2);
	memcpy(buf, ack, sizeof ack - 1);
	assert_int_equal(parse_n(buf, CLIMSG_MAX), CLIMSG_ACK);
	assert_int_equal(number, 3);
	assert_other_n(buf, CLIMSG_MAX + 1);
	/* A malformed object that long is not answered either. */
	buf[0] = '{';
	buf[1] = '{';
	assert_int_equal(parse_n(buf, CLIMSG_MAX), CLIMSG_BAD);
	assert_other_n(buf, CLIMSG_MAX + 1);
	free(buf);
}

/* Nesting as deep as the bound allows ({"a":{"a":...1}}): parsed (or refused by
 * jansson's depth limit), answered as no acknowledgement, never a crash. */
static void test_deep_nesting(void **state)
{
	size_t depth = (CLIMSG_MAX - 1) / 6, n = 0;
	char *buf = malloc(CLIMSG_MAX);

	(void)state;
	assert_non_null(buf);
	for (size_t i = 0; i < depth; i++, n += 5)
		memcpy(buf + n, "{\"a\":", 5);
	buf[n++] = '1';
	memset(buf + n, '}', depth);
	n += depth;
	assert_true(n <= CLIMSG_MAX);
	assert_int_equal(parse_n(buf, n), CLIMSG_BAD);
	assert_non_null(reason);
	free(buf);
}

/* Reads out[0..n) back: exactly {"control":"error","reason":<reason>}. */
static void assert_error_json(const char *out, size_t n, const char *reason_text)
{
	json_t *doc = json_loadb(out, n, JSON_REJECT_DUPLICATES, NULL);

	assert_non_null(doc);
	assert_int_equal(json_object_size(doc), 2);
	assert_string_equal(json_string_value(json_object_get(doc, "control")), "error");
	assert_string_equal(json_string_value(json_object_get(doc, "reason")), reason_text);
	json_decref(doc);
}

/* The control frame that answers a BAD message: compact, exact length, no NUL, and
 * 0 rather than a cut frame when cap is short. */
static void test_error_json(void **state)
{
	static const char want[] =
		"{\"control\":\"error\",\"reason\":\"ack must be a message number\"}";
	static const char *bad[] = { "{", "{}", "{\"ack\":-1}" };
	char out[256];
	size_t n;

	(void)state;
	memset(out, 'Z', sizeof out);
	n = climsg_error_json("ack must be a message number", out, sizeof out);
	assert_int_equal(n, sizeof want - 1);
	assert_memory_equal(out, want, n);
	assert_int_equal(out[n], 'Z');

	/* Exactly enough room is enough; one byte less is none. */
	assert_int_equal(climsg_error_json("ack must be a message number", out, n), n);
	assert_memory_equal(out, want, n);
	assert_int_equal(climsg_error_json("ack must be a message number", out, n - 1), 0);
	assert_int_equal(climsg_error_json("ack must be a message number", out, 0), 0);

	/* Quotes, backslashes and control characters are escaped. */
	n = climsg_error_json("say \"{}\" \\ \n\t\x01 ok", out, sizeof out);
	assert_true(n > 0 && n < sizeof out);
	assert_null(memchr(out, '\n', n));
	assert_error_json(out, n, "say \"{}\" \\ \n\t\x01 ok");

	/* Every reason the parser gives makes a frame. */
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(parse(bad[i]), CLIMSG_BAD);
		n = climsg_error_json(reason, out, sizeof out);
		assert_true(n > 0);
		assert_error_json(out, n, reason);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ack),
		cmocka_unit_test(test_ack_whitespace),
		cmocka_unit_test(test_other),
		cmocka_unit_test(test_unknown_object),
		cmocka_unit_test(test_ack_not_a_number),
		cmocka_unit_test(test_ack_too_big),
		cmocka_unit_test(test_invalid_json),
		cmocka_unit_test(test_duplicate_keys),
		cmocka_unit_test(test_length_bound),
		cmocka_unit_test(test_deep_nesting),
		cmocka_unit_test(test_error_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
