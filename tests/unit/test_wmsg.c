/* SPDX-License-Identifier: MIT */
/* Unit tests for shared/wmsg.c: /push, multicast, broadcast and presence body validation
 * and re-serialisation, the reply JSON (control answers included) and the spliced
 * {"topic","number","contents"} frame, checked against jansson. */
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "wmsg.h"

#define LOAD_FLAGS (JSON_DECODE_ANY | JSON_ALLOW_NUL)

static void fail_text(const char *what, const char *text)
{
	print_error("%s: %s\n", what, text);
	fail();
}

/* Parses body[0..len) from an exactly sized heap copy (no NUL after it). */
static int parse_n(const char *body, size_t len, struct wmsg_push *out, char *reason,
		   size_t reason_len)
{
	char *copy = malloc(len ? len : 1);
	int rc;

	assert_non_null(copy);
	memcpy(copy, body, len);
	rc = wmsg_parse_push(copy, len, out, reason, reason_len);
	free(copy);
	return rc;
}

static void parse_ok(const char *body, struct wmsg_push *out)
{
	char reason[256] = "";

	if (parse_n(body, strlen(body), out, reason, sizeof reason) != 0) {
		print_error("body %s refused: %s\n", body, reason);
		fail();
	}
	assert_non_null(out->topic_json);
	assert_non_null(out->contents_json);
	/* NUL-terminated, with no raw NUL inside (NULs are escaped). */
	assert_int_equal(strlen(out->topic_json), out->topic_len);
	assert_int_equal(strlen(out->contents_json), out->contents_len);
}

static json_t *load(const char *text, size_t len, size_t flags)
{
	json_error_t e;
	json_t *j = json_loadb(text, len, flags, &e);

	if (!j) {
		print_error("jansson cannot read \"%.*s\": %s\n", (int)len, text, e.text);
		fail();
	}
	return j;
}

static void expect_equal_json(const json_t *want, const char *text, size_t len)
{
	json_t *got = load(text, len, LOAD_FLAGS);

	if (!json_equal(want, got)) {
		char *w = json_dumps(want, JSON_ENCODE_ANY);

		print_error("output %.*s differs from input %s\n", (int)len, text, w ? w : "?");
		free(w);
		json_decref(got);
		fail();
	}
	json_decref(got);
}

/* Parses body with wmsg and, independently, with jansson; both parts must be equal. */
static void round_trip(const char *body)
{
	struct wmsg_push p;
	json_t *in;

	parse_ok(body, &p);
	in = load(body, strlen(body), JSON_ALLOW_NUL);
	expect_equal_json(json_object_get(in, "topic"), p.topic_json, p.topic_len);
	expect_equal_json(json_object_get(in, "contents"), p.contents_json, p.contents_len);
	json_decref(in);
	wmsg_push_free(&p);
}

static char *body_with_contents(const char *contents)
{
	size_t n = strlen(contents) + 64;
	char *b = malloc(n);

	assert_non_null(b);
	snprintf(b, n, "{\"topic\":\"t\",\"contents\":%s}", contents);
	return b;
}

/* contents text in, exact compact text out. */
static void contents_becomes(const char *contents, const char *want)
{
	char *body = body_with_contents(contents);
	struct wmsg_push p;

	parse_ok(body, &p);
	if (strcmp(p.contents_json, want) != 0) {
		print_error("contents %s -> %s, want %s\n", contents, p.contents_json, want);
		fail();
	}
	assert_string_equal(p.topic_json, "\"t\"");
	assert_int_equal(p.topic_len, 3);
	wmsg_push_free(&p);
	free(body);
}

static void contents_round_trip(const char *contents)
{
	char *body = body_with_contents(contents);

	round_trip(body);
	free(body);
}

static void parse_fails_n(const char *body, size_t len, const char *needle)
{
	struct wmsg_push p;
	char reason[256];

	memset(&p, 0xAB, sizeof p);
	memset(reason, 0, sizeof reason);
	if (parse_n(body, len, &p, reason, sizeof reason) != -1) {
		print_error("body %.*s accepted: topic %s contents %s\n", (int)len, body,
			    p.topic_json, p.contents_json);
		wmsg_push_free(&p);
		fail();
	}
	assert_null(p.topic_json);
	assert_null(p.contents_json);
	assert_int_equal(p.topic_len, 0);
	assert_int_equal(p.contents_len, 0);
	if (reason[0] == '\0')
		fail_text("no reason for", body);
	if (needle && !strstr(reason, needle)) {
		print_error("reason \"%s\" lacks \"%s\"\n", reason, needle);
		fail();
	}
}

static void parse_fails(const char *body, const char *needle)
{
	parse_fails_n(body, strlen(body), needle);
}

/* ---- wmsg_parse_push: accepted bodies ---- */

static void test_parse_every_type(void **state)
{
	static const char *const contents[] = {
		"\"hello\"", "\"\"", "0", "42", "-7", "9223372036854775807",
		"-9223372036854775808", "1.5", "-2.25", "true", "false", "null", "[]", "{}",
		"[1,\"a\",null,true,false,1.5,[],{}]", "{\"k\":{\"n\":[1,{\"d\":null}]}}",
		"{\"b\":1,\"a\":2,\"c\":[3]}",
	};

	(void)state;
	for (size_t i = 0; i < sizeof contents / sizeof contents[0]; i++)
		contents_round_trip(contents[i]);
}

static void test_parse_exact_scalars(void **state)
{
	(void)state;
	contents_becomes("\"hello\"", "\"hello\"");
	contents_becomes("42", "42");
	contents_becomes("-7", "-7");
	contents_becomes("9223372036854775807", "9223372036854775807");
	contents_becomes("-9223372036854775808", "-9223372036854775808");
	contents_becomes("true", "true");
	contents_becomes("false", "false");
	contents_becomes("null", "null");
	contents_becomes("[]", "[]");
	contents_becomes("{}", "{}");
}

static void test_parse_compact(void **state)
{
	struct wmsg_push p;

	(void)state;
	contents_becomes("{ \"a\" : [ 1 , 2.5 , \"x y\" , null , true , false , { } , [ ] ] }",
			 "{\"a\":[1,2.5,\"x y\",null,true,false,{},[]]}");
	parse_ok(" \n{ \"contents\" :\t[ ] ,\r\n \"topic\" : \"a b\" } \n", &p);
	assert_string_equal(p.topic_json, "\"a b\"");
	assert_string_equal(p.contents_json, "[]");
	wmsg_push_free(&p);
}

static void test_parse_member_order(void **state)
{
	struct wmsg_push p;

	(void)state;
	parse_ok("{\"contents\":1,\"topic\":\"news\"}", &p);
	assert_string_equal(p.topic_json, "\"news\"");
	assert_string_equal(p.contents_json, "1");
	wmsg_push_free(&p);
}

static void test_parse_reals(void **state)
{
	static const struct {
		const char *in, *out;
	} exact[] = {
		{ "0.1", "0.1" },
		{ "1.0", "1.0" },
		{ "-0.0", "-0.0" },
		{ "2.5", "2.5" },
		{ "-1.5", "-1.5" },
		{ "0.30000000000000004", "0.30000000000000004" },
		{ "3.141592653589793", "3.141592653589793" },
		{ "123456789.0", "123456789.0" },
		{ "0.5e1", "5.0" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++)
		contents_becomes(exact[i].in, exact[i].out);
}

/* Reals stay reals and read back to the very same double (sign of zero included). */
static void test_parse_reals_round_trip(void **state)
{
	static const char *const reals[] = {
		"0.1", "1.0", "-0.0", "0.0", "1e300", "-1e300", "1E2", "1e22", "1e-7", "-1.5e-7",
		"5e-324", "2.2250738585072014e-308", "1.7976931348623157e308",
		"0.30000000000000004", "9007199254740993.0", "123456789012345678901234567890.0",
		"1.00000000000000011", "4.35", "0.000001",
	};

	(void)state;
	for (size_t i = 0; i < sizeof reals / sizeof reals[0]; i++) {
		char *body = body_with_contents(reals[i]);
		struct wmsg_push p;
		json_t *in, *out;
		double a, b;

		parse_ok(body, &p);
		in = load(reals[i], strlen(reals[i]), LOAD_FLAGS);
		out = load(p.contents_json, p.contents_len, LOAD_FLAGS);
		if (!json_is_real(out))
			fail_text("real printed as a non-real", p.contents_json);
		a = json_real_value(in);
		b = json_real_value(out);
		if (memcmp(&a, &b, sizeof a) != 0) {
			print_error("%s printed as %s reads back as %.17g\n", reals[i],
				    p.contents_json, b);
			fail();
		}
		/* Never longer than the 17 significant digits that always suffice. */
		assert_true(p.contents_len <= 24);
		json_decref(in);
		json_decref(out);
		wmsg_push_free(&p);
		free(body);
	}
}

static void test_parse_negative_zero_sign(void **state)
{
	struct wmsg_push p;
	json_t *out;

	(void)state;
	parse_ok("{\"topic\":\"t\",\"contents\":[-0.0,0.0]}", &p);
	out = load(p.contents_json, p.contents_len, LOAD_FLAGS);
	assert_true(signbit(json_real_value(json_array_get(out, 0))) != 0);
	assert_true(signbit(json_real_value(json_array_get(out, 1))) == 0);
	json_decref(out);
	wmsg_push_free(&p);
}

static void test_parse_unicode(void **state)
{
	struct wmsg_push p;

	(void)state;
	/* Raw UTF-8 passes through unescaped. */
	parse_ok("{\"topic\":\"推送\",\"contents\":{\"name\":\"张三\",\"e\":\"😀\"}}", &p);
	assert_string_equal(p.topic_json, "\"推送\"");
	assert_string_equal(p.contents_json, "{\"name\":\"张三\",\"e\":\"😀\"}");
	wmsg_push_free(&p);
	contents_becomes("\"张三\"", "\"张三\"");
	contents_becomes("{\"张三\":\"推送成功\"}", "{\"张三\":\"推送成功\"}");
	/* \u escapes (including a surrogate pair) mean the same characters. */
	contents_round_trip("\"\\u5f20\\u4e09\"");
	contents_round_trip("\"\\ud83d\\ude00\"");
	contents_round_trip("\"\\u00e9\\u0080\\uffff\"");
}

static void test_parse_escapes(void **state)
{
	(void)state;
	contents_becomes("\"a\\nb\\\"c\\\\d\\u001fe\"", "\"a\\nb\\\"c\\\\d\\u001fe\"");
	contents_becomes("\"\\u0001\"", "\"\\u0001\"");
	contents_round_trip("\"a\\nb\\\"c\\\\d\\u001fe\\t\\r\\b\\f\\/g\\u007f\"");
	contents_round_trip("{\"k\\\"ey\\n\\u001f\":\"v\\\\\"}");
	round_trip("{\"topic\":\"q\\\"uo\\\\te\\n\\u0002\",\"contents\":\"x\"}");
	/* Every control character survives a round trip. */
	for (int c = 1; c < 0x20; c++) {
		char contents[16];

		snprintf(contents, sizeof contents, "\"<\\u%04x>\"", c);
		contents_round_trip(contents);
	}
}

static void test_parse_nul_in_strings(void **state)
{
	struct wmsg_push p;
	json_t *j;

	(void)state;
	parse_ok("{\"topic\":\"t\\u0000x\",\"contents\":\"a\\u0000b\"}", &p);
	assert_string_equal(p.contents_json, "\"a\\u0000b\"");
	assert_string_equal(p.topic_json, "\"t\\u0000x\"");
	j = load(p.contents_json, p.contents_len, LOAD_FLAGS);
	assert_int_equal(json_string_length(j), 3);
	assert_memory_equal(json_string_value(j), "a\0b", 3);
	json_decref(j);
	wmsg_push_free(&p);
	contents_round_trip("[\"\\u0000\",{\"k\":\"\\u0000\\u0000\"}]");
}

static void test_parse_deep_nesting(void **state)
{
	enum { DEPTH = 1000 };
	char *contents = malloc(2 * DEPTH + 1);

	(void)state;
	assert_non_null(contents);
	memset(contents, '[', DEPTH);
	memset(contents + DEPTH, ']', DEPTH);
	contents[2 * DEPTH] = '\0';
	contents_becomes(contents, contents);
	free(contents);
}

/* ---- wmsg_parse_push: refused bodies ---- */

static void test_parse_topic_problems(void **state)
{
	static const char *const bad[] = {
		"{\"topic\":1,\"contents\":1}", "{\"topic\":null,\"contents\":1}",
		"{\"topic\":true,\"contents\":1}", "{\"topic\":[\"t\"],\"contents\":1}",
		"{\"topic\":{},\"contents\":1}", "{\"topic\":1.5,\"contents\":1}",
	};

	(void)state;
	parse_fails("{\"contents\":1}", "topic");
	parse_fails("{\"Topic\":\"t\",\"contents\":1}", "topic");
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		parse_fails(bad[i], "topic");
}

static void test_parse_contents_missing(void **state)
{
	(void)state;
	parse_fails("{\"topic\":\"t\"}", "contents");
	parse_fails("{\"topic\":\"t\",\"content\":1}", "contents");
	parse_fails("{}", NULL);
}

static void test_parse_not_object(void **state)
{
	static const char *const bad[] = {
		"[]", "[{\"topic\":\"t\",\"contents\":1}]", "\"topic\"", "1", "null", "true",
	};

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		parse_fails(bad[i], NULL);
}

static void test_parse_not_json(void **state)
{
	static const char *const bad[] = {
		"", " ", "{", "}", "topic=t&contents=1", "{\"topic\":\"t\",\"contents\":}",
		"{'topic':'t','contents':1}", "{\"topic\":\"t\",\"contents\":1,}",
		"{\"topic\":\"t\",\"contents\":1} x", "{\"topic\":\"t\",\"contents\":1}{}",
		"{\"topic\":\"t\",\"contents\":NaN}", "{\"topic\":\"t\",\"contents\":Infinity}",
		"{\"topic\":\"t\",\"contents\":01}", "{\"topic\":\"t\",\"contents\":.5}",
		"{\"topic\":\"t\",\"contents\":1e400}", "{\"topic\":\"t\",\"contents\":\"\\x41\"}",
		"{\"topic\":\"t\",\"contents\":\"a\nb\"}", "/* c */{\"topic\":\"t\",\"contents\":1}",
	};
	static const char nul_body[] = "{\"topic\":\"a\0b\",\"contents\":1}";
	static const char good[] = "{\"topic\":\"t\",\"contents\":1}";

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		parse_fails(bad[i], NULL);
	/* A raw NUL byte in the body. */
	parse_fails_n(nul_body, sizeof nul_body - 1, NULL);
	/* The body is bounded by len, not by a NUL: the closing brace is cut off. */
	parse_fails_n(good, strlen(good) - 1, NULL);
}

static void test_parse_invalid_utf8(void **state)
{
	static const char *const bad[] = {
		"{\"topic\":\"\xC3\x28\",\"contents\":1}",
		"{\"topic\":\"t\",\"contents\":\"\xFF\"}",
		"{\"topic\":\"t\",\"contents\":\"a\x80\"}",
		"{\"topic\":\"t\",\"contents\":\"\xC0\xAF\"}",
		"{\"topic\":\"t\",\"contents\":\"\xED\xA0\x80\"}",
		"{\"topic\":\"t\",\"contents\":\"\xF4\x90\x80\x80\"}",
		"{\"topic\":\"t\",\"contents\":\"\xE5\xBC\"}",
		"{\"topic\":\"t\",\"contents\":{\"\xC3\x28\":1}}",
		"{\"topic\":\"t\",\"contents\":\"\\ud800\"}",
		"{\"topic\":\"t\",\"contents\":\"\\udc00\"}",
		"{\"topic\":\"t\",\"contents\":\"\\ud83dx\"}",
	};

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		parse_fails(bad[i], NULL);
}

static void test_parse_big_integers(void **state)
{
	static const char *const bad[] = {
		"123456789012345678901234567890", "-123456789012345678901234567890",
		"9223372036854775808", "-9223372036854775809", "18446744073709551615",
		"18446744073709551616", "[1,123456789012345678901234567890]",
		"{\"n\":{\"m\":99999999999999999999}}",
	};

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char *body = body_with_contents(bad[i]);

		parse_fails(body, NULL);
		free(body);
	}
}

static void test_parse_duplicate_keys(void **state)
{
	(void)state;
	parse_fails("{\"topic\":\"a\",\"topic\":\"b\",\"contents\":1}", NULL);
	parse_fails("{\"topic\":\"t\",\"contents\":1,\"contents\":2}", NULL);
	parse_fails("{\"topic\":\"t\",\"contents\":{\"a\":1,\"a\":2}}", NULL);
	parse_fails("{\"topic\":\"t\",\"contents\":[{\"x\":{\"y\":1,\"y\":1}}]}", NULL);
	parse_fails("{\"topic\":\"t\",\"contents\":{\"\\u0061\":1,\"a\":2}}", NULL);
	/* Same key in different objects is fine. */
	contents_round_trip("[{\"a\":1},{\"a\":2}]");
}

static void test_parse_reason_bounded(void **state)
{
	struct wmsg_push p;
	char *reason;

	(void)state;
	for (size_t cap = 1; cap < 8; cap++) {
		reason = malloc(cap);
		assert_non_null(reason);
		memset(reason, 'Z', cap);
		assert_int_equal(parse_n("{", 1, &p, reason, cap), -1);
		assert_int_equal(reason[cap - 1], '\0');
		memset(reason, 'Z', cap);
		assert_int_equal(parse_n("{\"contents\":1}", 14, &p, reason, cap), -1);
		assert_int_equal(reason[cap - 1], '\0');
		free(reason);
	}
}

static void test_push_free_twice(void **state)
{
	struct wmsg_push p;

	(void)state;
	parse_ok("{\"topic\":\"t\",\"contents\":1}", &p);
	wmsg_push_free(&p);
	assert_null(p.topic_json);
	assert_null(p.contents_json);
	wmsg_push_free(&p);
}

/* ---- wmsg_reply ---- */

static json_t *reply_json(const char *topic, long long number, const char *contents)
{
	size_t len = 0;
	char *r = wmsg_reply(topic, number, contents, &len);
	json_t *j;

	assert_non_null(r);
	assert_int_equal(len, strlen(r));
	j = load(r, len, 0);
	free(r);
	assert_true(json_is_object(j));
	assert_int_equal(json_object_size(j), 3);
	assert_true(json_is_string(json_object_get(j, "topic")));
	assert_true(json_is_integer(json_object_get(j, "number")));
	assert_true(json_is_string(json_object_get(j, "contents")));
	assert_string_equal(json_string_value(json_object_get(j, "topic")), topic);
	assert_string_equal(json_string_value(json_object_get(j, "contents")), contents);
	assert_true(json_integer_value(json_object_get(j, "number")) == number);
	return j;
}

static void test_reply_exact(void **state)
{
	size_t len = 0;
	char *r;

	(void)state;
	r = wmsg_reply("t", 5, "c", &len);
	assert_non_null(r);
	assert_string_equal(r, "{\"topic\":\"t\",\"number\":5,\"contents\":\"c\"}");
	assert_int_equal(len, strlen(r));
	free(r);
	r = wmsg_reply("推送", 0, "推送成功", &len);
	assert_non_null(r);
	assert_string_equal(r, "{\"topic\":\"推送\",\"number\":0,\"contents\":\"推送成功\"}");
	assert_int_equal(len, strlen(r));
	free(r);
}

static void test_reply_escaping(void **state)
{
	static const char *const texts[] = {
		"", "推送成功", "say \"hi\"", "back\\slash", "line\nbreak\r\n", "tab\there",
		"\x01\x1f\x7f", "}\",\"number\":1,\"x\":\"", "\xF0\x9F\x98\x80 张三",
	};
	const size_t n = sizeof texts / sizeof texts[0];

	(void)state;
	for (size_t i = 0; i < n; i++)
		json_decref(reply_json(texts[i], (long long)i, texts[n - 1 - i]));
}

static void test_reply_numbers(void **state)
{
	(void)state;
	json_decref(reply_json("t", 0, "c"));
	json_decref(reply_json("t", -1, "c"));
	json_decref(reply_json("t", LLONG_MAX, "c"));
	json_decref(reply_json("t", LLONG_MIN, "c"));
}

/* ---- wmsg_frame_write / wmsg_frame_max ---- */

/* Writes a frame into an exactly frame_max-sized buffer and checks it whole. */
static void check_frame(const struct wmsg_push *p, uint64_t number)
{
	static const char p1[] = "{\"topic\":", p2[] = ",\"number\":", p3[] = ",\"contents\":";
	size_t cap = wmsg_frame_max(p->topic_len, p->contents_len), len, o;
	char digits[32], *out, *text;
	json_t *j, *topic, *contents;

	assert_true(cap != SIZE_MAX);
	out = malloc(cap);
	assert_non_null(out);
	memset(out, 0x7E, cap);
	len = wmsg_frame_write(out, cap, p->topic_json, p->topic_len, number, p->contents_json,
			       p->contents_len);
	assert_true(len > 0);
	assert_true(len <= cap);
	for (size_t i = len; i < cap; i++)
		assert_int_equal(out[i], 0x7E); /* nothing, not even a NUL, after the frame */

	/* The layout, byte by byte. */
	snprintf(digits, sizeof digits, "%" PRIu64, number);
	o = 0;
	assert_memory_equal(out + o, p1, sizeof p1 - 1);
	o += sizeof p1 - 1;
	assert_memory_equal(out + o, p->topic_json, p->topic_len);
	o += p->topic_len;
	assert_memory_equal(out + o, p2, sizeof p2 - 1);
	o += sizeof p2 - 1;
	assert_memory_equal(out + o, digits, strlen(digits));
	o += strlen(digits);
	assert_memory_equal(out + o, p3, sizeof p3 - 1);
	o += sizeof p3 - 1;
	assert_memory_equal(out + o, p->contents_json, p->contents_len);
	o += p->contents_len;
	assert_int_equal(out[o], '}');
	assert_int_equal(o + 1, len);

	/* And as JSON: an object with exactly the three members. Integers are read as
	 * reals here because jansson cannot hold numbers above INT64_MAX. */
	text = malloc(len + 1);
	assert_non_null(text);
	memcpy(text, out, len);
	text[len] = '\0';
	j = load(text, len, JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL);
	assert_true(json_is_object(j));
	assert_int_equal(json_object_size(j), 3);
	topic = load(p->topic_json, p->topic_len, LOAD_FLAGS | JSON_DECODE_INT_AS_REAL);
	contents = load(p->contents_json, p->contents_len, LOAD_FLAGS | JSON_DECODE_INT_AS_REAL);
	assert_true(json_equal(json_object_get(j, "topic"), topic));
	assert_true(json_equal(json_object_get(j, "contents"), contents));
	assert_true(json_is_number(json_object_get(j, "number")));
	json_decref(topic);
	json_decref(contents);
	json_decref(j);
	if (number <= (uint64_t)INT64_MAX) {
		j = load(text, len, JSON_ALLOW_NUL);
		assert_true(json_is_integer(json_object_get(j, "number")));
		assert_true((uint64_t)json_integer_value(json_object_get(j, "number")) == number);
		json_decref(j);
	}
	free(text);
	free(out);
}

static void test_frame_numbers_and_types(void **state)
{
	static const char *const bodies[] = {
		"{\"topic\":\"t\",\"contents\":1}",
		"{\"topic\":\"推送\",\"contents\":{\"name\":\"张三\",\"v\":[0.1,-0.0,null,true]}}",
		"{\"topic\":\"\",\"contents\":\"a\\u0000b\\n\\\"\"}",
		"{\"topic\":\"q\\\"\\\\\",\"contents\":[]}",
		"{\"topic\":\"t\",\"contents\":\"number\\\":1,\"}",
	};
	static const uint64_t numbers[] = {
		0, 1, 42, 9007199254740993ull, (uint64_t)INT64_MAX, (uint64_t)INT64_MAX + 1,
		UINT64_MAX - 1, UINT64_MAX,
	};

	(void)state;
	for (size_t b = 0; b < sizeof bodies / sizeof bodies[0]; b++) {
		struct wmsg_push p;

		parse_ok(bodies[b], &p);
		for (size_t i = 0; i < sizeof numbers / sizeof numbers[0]; i++)
			check_frame(&p, numbers[i]);
		wmsg_push_free(&p);
	}
}

static void test_frame_exact(void **state)
{
	char out[128];
	size_t len;

	(void)state;
	len = wmsg_frame_write(out, sizeof out, "\"t\"", 3, 7, "1", 1);
	assert_int_equal(len, strlen("{\"topic\":\"t\",\"number\":7,\"contents\":1}"));
	assert_memory_equal(out, "{\"topic\":\"t\",\"number\":7,\"contents\":1}", len);
	len = wmsg_frame_write(out, sizeof out, "\"t\"", 3, UINT64_MAX, "1", 1);
	assert_memory_equal(out, "{\"topic\":\"t\",\"number\":18446744073709551615,\"contents\":1}",
			    len);
	assert_true(len <= wmsg_frame_max(3, 1));
}

static void test_frame_too_small(void **state)
{
	char out[256];
	size_t max = wmsg_frame_max(3, 1);

	(void)state;
	assert_true(max < sizeof out);
	for (size_t cap = 0; cap < max; cap++) {
		memset(out, 0x7E, sizeof out);
		assert_int_equal(wmsg_frame_write(out, cap, "\"t\"", 3, UINT64_MAX, "1", 1), 0);
		for (size_t i = 0; i < sizeof out; i++)
			assert_int_equal(out[i], 0x7E);
	}
	assert_true(wmsg_frame_write(out, max, "\"t\"", 3, UINT64_MAX, "1", 1) > 0);
}

/* History allocates frames to their exact length: that length is enough, one
 * byte less is refused without a write. */
static void test_frame_len_is_exact(void **state)
{
	static const uint64_t numbers[] = { 0, 7, 9, 10, 99, 100, 123456789, UINT64_MAX };
	char out[128];

	(void)state;
	for (size_t i = 0; i < sizeof numbers / sizeof numbers[0]; i++) {
		size_t len = wmsg_frame_len(3, numbers[i], 1);

		assert_int_equal(wmsg_frame_write(out, len, "\"t\"", 3, numbers[i], "1", 1), len);
		assert_int_equal(wmsg_frame_write(out, len - 1, "\"t\"", 3, numbers[i], "1", 1), 0);
	}
	assert_int_equal(wmsg_frame_len(SIZE_MAX, 1, 1), SIZE_MAX);
}

static void test_frame_max_overflow(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(wmsg_frame_max(SIZE_MAX, 1), SIZE_MAX);
	assert_int_equal(wmsg_frame_max(1, SIZE_MAX), SIZE_MAX);
	assert_int_equal(wmsg_frame_max(SIZE_MAX - 10, SIZE_MAX - 10), SIZE_MAX);
	assert_true(wmsg_frame_max(10, 20) > 30 + 20); /* room for 20 digits */
	/* Lengths that could never fit are refused before any byte is read. */
	assert_int_equal(wmsg_frame_write(out, sizeof out, "\"t\"", SIZE_MAX / 2, 1, "1", 1), 0);
	assert_int_equal(wmsg_frame_write(out, sizeof out, "\"t\"", 3, 1, "1", SIZE_MAX - 3), 0);
}

/* Batch bodies: the array fails as a whole only for its shape; items fail alone. */
/* The batch answer names every item in order, escapes uids, counts the ok ones. */
static void test_batch_reply(void **state)
{
	static const char body[] =
		"[{\"uid\":\"a\\\"b\",\"topic\":\"t\",\"contents\":1},"
		"{\"uid\":\"x\\u0000y\",\"topic\":\"t\",\"contents\":1},"
		"{\"uid\":5,\"topic\":\"t\",\"contents\":1}]";
	struct wmsg_batch_result res[3] = {
		{ .outcome = WMSG_DELIVERED, .number = 2, .contents = "推送成功" },
		{ .outcome = WMSG_ERROR, .contents = "uid contains control characters" },
		{ .outcome = WMSG_ERROR, .number = 9, .contents = "push daemon did not answer in time",
		  .status = 503 },
	};
	struct wmsg_batch b;
	char why[256], *out;
	size_t len = 0;

	(void)state;
	assert_int_equal(wmsg_parse_batch(body, strlen(body), 8, 64, &b, why, sizeof why), 0);
	out = wmsg_batch_reply(&b, res, &len);
	assert_non_null(out);
	assert_string_equal(out,
		"{\"topic\":\"success\",\"number\":1,\"contents\":["
		"{\"uid\":\"a\\\"b\",\"topic\":\"success\",\"number\":2,\"contents\":\"推送成功\"},"
		"{\"uid\":\"x\\u0000y\",\"topic\":\"error\",\"number\":0,"
		"\"contents\":\"uid contains control characters\"},"
		"{\"uid\":\"\",\"topic\":\"error\",\"number\":0,"
		"\"contents\":\"push daemon did not answer in time\",\"status\":503}]}");
	assert_int_equal(len, strlen(out));
	free(out);
	wmsg_batch_free(&b);
}

/* Acknowledgements and offline delivery in the batch answer: "seq" and "acked" for a
 * delivered item that asked, "seq" for a stored one, which counts as reached. */
static void test_batch_reply_ack_and_stored(void **state)
{
	static const char body[] =
		"[{\"uid\":\"a\",\"topic\":\"t\",\"contents\":1,\"ack\":true},"
		"{\"uid\":\"b\",\"topic\":\"t\",\"contents\":1,\"ack\":true},"
		"{\"uid\":\"c\",\"topic\":\"t\",\"contents\":1},"
		"{\"uid\":\"d\",\"topic\":\"t\",\"contents\":1,\"ack\":true},"
		"{\"uid\":\"e\",\"topic\":\"t\",\"contents\":1,\"ack\":true},"
		"{\"uid\":\"f\",\"topic\":\"t\",\"contents\":1,\"ack\":false}]";
	struct wmsg_batch_result res[6] = {
		{ .outcome = WMSG_DELIVERED, .number = 2, .contents = "推送成功", .ack = 1,
		  .acked = 1, .seq = 7 },
		{ .outcome = WMSG_DELIVERED, .number = 1, .contents = "推送成功", .ack = 1,
		  .seq = UINT64_MAX },
		{ .outcome = WMSG_STORED, .number = 5, .contents = "用户不在线，消息已保存", .seq = 3 },
		{ .outcome = WMSG_ERROR, .contents = "too many", .status = 429, .ack = 1, .seq = 4 },
		{ .outcome = WMSG_STORED, .contents = "用户不在线，消息已保存", .ack = 1, .seq = 1 },
		{ .outcome = WMSG_DELIVERED, .number = 1, .contents = "推送成功", .seq = 9 },
	};
	struct wmsg_batch b;
	char why[256], *out;
	size_t len = 0;

	(void)state;
	assert_int_equal(wmsg_parse_batch(body, strlen(body), 8, 64, &b, why, sizeof why), 0);
	out = wmsg_batch_reply(&b, res, &len);
	assert_non_null(out);
	assert_string_equal(out,
		"{\"topic\":\"success\",\"number\":5,\"contents\":["
		"{\"uid\":\"a\",\"topic\":\"success\",\"number\":2,\"contents\":\"推送成功\","
		"\"seq\":7,\"acked\":true},"
		"{\"uid\":\"b\",\"topic\":\"success\",\"number\":1,\"contents\":\"推送成功\","
		"\"seq\":18446744073709551615,\"acked\":false},"
		"{\"uid\":\"c\",\"topic\":\"stored\",\"number\":0,"
		"\"contents\":\"用户不在线，消息已保存\",\"seq\":3},"
		"{\"uid\":\"d\",\"topic\":\"error\",\"number\":0,\"contents\":\"too many\","
		"\"status\":429},"
		"{\"uid\":\"e\",\"topic\":\"stored\",\"number\":0,"
		"\"contents\":\"用户不在线，消息已保存\",\"seq\":1},"
		"{\"uid\":\"f\",\"topic\":\"success\",\"number\":1,\"contents\":\"推送成功\"}]}");
	assert_int_equal(len, strlen(out));
	free(out);
	wmsg_batch_free(&b);
}

/* "ack" in a single body: a boolean or absent; anything else is refused. */
static void test_parse_ack(void **state)
{
	static const char *const bad[] = { "1", "0", "\"true\"", "null", "[]", "{}", "1.0" };
	struct wmsg_push p;
	char body[128];

	(void)state;
	parse_ok("{\"topic\":\"t\",\"contents\":1}", &p);
	assert_int_equal(p.ack, 0);
	wmsg_push_free(&p);
	parse_ok("{\"topic\":\"t\",\"contents\":1,\"ack\":true}", &p);
	assert_int_equal(p.ack, 1);
	assert_string_equal(p.contents_json, "1"); /* ack is not part of the message */
	wmsg_push_free(&p);
	parse_ok("{\"ack\":false,\"topic\":\"t\",\"contents\":1}", &p);
	assert_int_equal(p.ack, 0);
	wmsg_push_free(&p);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(body, sizeof body, "{\"topic\":\"t\",\"contents\":1,\"ack\":%s}", bad[i]);
		parse_fails(body, "ack must be true or false");
	}
	/* Still one key once, and the other rules first. */
	parse_fails("{\"topic\":\"t\",\"contents\":1,\"ack\":true,\"ack\":true}", NULL);
	parse_fails("{\"topic\":1,\"contents\":1,\"ack\":2}", "topic");
}

/* "ack" in batch items: each item's own; a bad one refuses that item only. */
static void test_parse_batch_ack(void **state)
{
	static const char body[] =
		"[{\"uid\":\"a\",\"topic\":\"t\",\"contents\":1,\"ack\":true},"
		"{\"uid\":\"b\",\"topic\":\"t\",\"contents\":1,\"ack\":false},"
		"{\"uid\":\"c\",\"topic\":\"t\",\"contents\":1},"
		"{\"uid\":\"d\",\"topic\":\"t\",\"contents\":1,\"ack\":\"yes\"},"
		"{\"uid\":\"e\",\"topic\":\"t\",\"contents\":1,\"ack\":null}]";
	struct wmsg_batch b;
	char why[256];

	(void)state;
	assert_int_equal(wmsg_parse_batch(body, strlen(body), 8, 64, &b, why, sizeof why), 0);
	assert_int_equal(b.n, 5);
	assert_null(b.items[0].error);
	assert_int_equal(b.items[0].ack, 1);
	assert_null(b.items[1].error);
	assert_int_equal(b.items[1].ack, 0);
	assert_null(b.items[2].error);
	assert_int_equal(b.items[2].ack, 0);
	assert_string_equal(b.items[3].error, "ack must be true or false");
	assert_string_equal(b.items[3].uid, "d"); /* named in the answer */
	assert_null(b.items[3].topic_json);
	assert_string_equal(b.items[4].error, "ack must be true or false");
	wmsg_batch_free(&b);
}

/* The single answer with the message's number (and whether it was acknowledged). */
static void test_reply_seq(void **state)
{
	size_t len = 0;
	char *r;

	(void)state;
	r = wmsg_reply_seq("success", 2, "推送成功", 17, 1, &len);
	assert_non_null(r);
	assert_string_equal(r, "{\"topic\":\"success\",\"number\":2,\"contents\":\"推送成功\","
			       "\"seq\":17,\"acked\":true}");
	assert_int_equal(len, strlen(r));
	free(r);
	r = wmsg_reply_seq("success", 1, "推送成功", UINT64_MAX, 0, &len);
	assert_non_null(r);
	assert_string_equal(r, "{\"topic\":\"success\",\"number\":1,\"contents\":\"推送成功\","
			       "\"seq\":18446744073709551615,\"acked\":false}");
	free(r);
	r = wmsg_reply_seq("stored", 0, "用户不在线，消息已保存", 3, -1, &len);
	assert_non_null(r);
	assert_string_equal(r, "{\"topic\":\"stored\",\"number\":0,"
			       "\"contents\":\"用户不在线，消息已保存\",\"seq\":3}");
	assert_int_equal(len, strlen(r));
	free(r);
}

static void test_parse_batch(void **state)
{
	static const char ok[] =
		"[{\"uid\":\"a\",\"topic\":\"t\",\"contents\":0.1},"
		"{\"uid\":\"\",\"topic\":\"t\",\"contents\":1},"
		"{\"uid\":7,\"topic\":\"t\",\"contents\":1},"
		"{\"uid\":\"b\",\"topic\":[],\"contents\":1},"
		"{\"uid\":\"c\",\"topic\":\"t\"},"
		"\"not an object\","
		"{\"uid\":\"a\\u0001\",\"topic\":\"t\",\"contents\":1}]";
	static const char *const bad[] = { "[]", "{}", "[1", "\"x\"", "" };
	struct wmsg_batch b;
	char why[256];

	(void)state;
	assert_int_equal(wmsg_parse_batch(ok, strlen(ok), 16, 8, &b, why, sizeof why), 0);
	assert_int_equal(b.n, 7);
	assert_null(b.items[0].error);
	assert_string_equal(b.items[0].uid, "a");
	/* Parts are NUL-terminated strings of their length, as wmsg_push's. */
	assert_string_equal(b.items[0].topic_json, "\"t\"");
	assert_int_equal(b.items[0].topic_len, 3);
	assert_string_equal(b.items[0].contents_json, "0.1");
	assert_int_equal(b.items[0].contents_len, 3);
	assert_string_equal(b.items[1].error, "uid is missing");
	assert_string_equal(b.items[2].error, "\"uid\" must be a string");
	assert_null(b.items[2].uid);
	assert_string_equal(b.items[3].error, "\"topic\" must be a string");
	assert_string_equal(b.items[3].uid, "b"); /* named in the answer */
	assert_null(b.items[3].topic_json);
	assert_string_equal(b.items[4].error, "message lacks \"contents\"");
	assert_string_equal(b.items[5].error, "message must be a JSON object");
	assert_string_equal(b.items[6].error, "uid contains control characters");
	wmsg_batch_free(&b);
	assert_int_equal(b.n, 0);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(wmsg_parse_batch(bad[i], strlen(bad[i]), 16, 8, &b, why, sizeof why),
				 -1);
		wmsg_batch_free(&b);
	}
	/* More items than allowed. */
	assert_int_equal(wmsg_parse_batch(ok, strlen(ok), 6, 8, &b, why, sizeof why), -1);
	assert_non_null(strstr(why, "1 to 6"));
	wmsg_batch_free(&b);
}

/* ---- The control API: multicast and presence bodies, their answers ---- */

/* Parses from an exactly sized heap copy, as parse_n does for a single push. */
static int parse_multicast_n(const char *body, size_t max_items, size_t max_uid,
			     struct wmsg_batch *b, char *why, size_t why_len)
{
	size_t len = strlen(body);
	char *copy = malloc(len ? len : 1);
	int rc;

	assert_non_null(copy);
	memcpy(copy, body, len);
	rc = wmsg_parse_multicast(copy, len, max_items, max_uid, b, why, why_len);
	free(copy);
	return rc;
}

/* One message for many uids: serialised once, every valid uid pointing at it;
 * a bad uid only refuses itself. */
static void test_parse_multicast(void **state)
{
	static const char body[] =
		"{\"topic\":\"news\",\"uids\":[\"a\",\"\",7,\"b\\u0001\",\"张三\",\"a\"],"
		"\"contents\":{\"x\": [1, 0.1]},\"extra\":true}";
	struct wmsg_batch b;
	char why[256];

	(void)state;
	assert_int_equal(parse_multicast_n(body, 8, 16, &b, why, sizeof why), 0);
	assert_int_equal(b.n, 6);
	assert_null(b.items[0].error);
	assert_string_equal(b.items[0].uid, "a");
	assert_string_equal(b.items[0].topic_json, "\"news\"");
	assert_int_equal(b.items[0].topic_len, 6);
	assert_string_equal(b.items[0].contents_json, "{\"x\":[1,0.1]}");
	assert_int_equal(b.items[0].contents_len, strlen("{\"x\":[1,0.1]}"));
	assert_int_equal(b.items[0].ack, 0);
	assert_string_equal(b.items[1].error, "uid is missing");
	assert_string_equal(b.items[1].uid, "");
	assert_null(b.items[1].topic_json);
	assert_string_equal(b.items[2].error, "uid must be a string");
	assert_null(b.items[2].uid);
	assert_string_equal(b.items[3].error, "uid contains control characters");
	assert_string_equal(b.items[3].uid, "b\x01"); /* named in the answer */
	assert_null(b.items[4].error);
	assert_string_equal(b.items[4].uid, "张三");
	assert_null(b.items[5].error);
	/* The message exists once. */
	assert_ptr_equal(b.items[4].topic_json, b.items[0].topic_json);
	assert_ptr_equal(b.items[5].contents_json, b.items[0].contents_json);
	wmsg_batch_free(&b);
	assert_int_equal(b.n, 0);
	assert_null(b.items);
}

static void multicast_fails(const char *body, size_t max_items, const char *needle)
{
	struct wmsg_batch b;
	char why[256] = "";

	memset(&b, 0xAB, sizeof b);
	if (parse_multicast_n(body, max_items, 16, &b, why, sizeof why) != -1) {
		print_error("multicast body %s accepted\n", body);
		fail();
	}
	assert_int_equal(b.n, 0);
	assert_null(b.items);
	assert_null(b.arena);
	if (!strstr(why, needle)) {
		print_error("reason \"%s\" lacks \"%s\"\n", why, needle);
		fail();
	}
	wmsg_batch_free(&b);
}

/* The body's shape and the message's rules fail the whole multicast. */
static void test_parse_multicast_refused(void **state)
{
	(void)state;
	multicast_fails("", 8, "not valid JSON");
	multicast_fails("{\"uids\":[\"a\"],\"topic\":\"t\",\"contents\":1", 8, "not valid JSON");
	multicast_fails("[\"a\"]", 8, "must be a JSON object");
	multicast_fails("{\"topic\":\"t\",\"contents\":1}", 8, "lacks \"uids\"");
	multicast_fails("{\"uids\":\"a\",\"topic\":\"t\",\"contents\":1}", 8,
			"\"uids\" must be a JSON array of 1 to 8 uids");
	multicast_fails("{\"uids\":[],\"topic\":\"t\",\"contents\":1}", 8, "array of 1 to 8 uids");
	multicast_fails("{\"uids\":[\"a\",\"b\",\"c\"],\"topic\":\"t\",\"contents\":1}", 2,
			"array of 1 to 2 uids");
	multicast_fails("{\"uids\":[\"a\"],\"contents\":1}", 8, "lacks \"topic\"");
	multicast_fails("{\"uids\":[\"a\"],\"topic\":null,\"contents\":1}", 8,
			"\"topic\" must be a string");
	multicast_fails("{\"uids\":[\"a\"],\"topic\":\"t\"}", 8, "lacks \"contents\"");
	multicast_fails("{\"uids\":[\"a\"],\"topic\":\"t\",\"contents\":1,\"ack\":false}", 8,
			"ack is not supported for multicast");
	multicast_fails("{\"uids\":[\"a\"],\"topic\":\"t\",\"contents\":1,\"contents\":2}", 8,
			"not valid JSON"); /* duplicate keys */
	multicast_fails("{\"uids\":[\"a\"],\"topic\":\"t\",\"contents\":18446744073709551616}", 8,
			"not valid JSON");
}

/* A presence list: uids only, any bad one fails the list and is named by index. */
static void test_parse_uids(void **state)
{
	static const char ok[] = "[\"a\",\"张三\",\"a\"]";
	static const struct { const char *body, *why; } bad[] = {
		{ "", "not valid JSON" }, { "{}", "body must be a JSON array of 1 to 4 uids" },
		{ "[]", "array of 1 to 4 uids" }, { "[\"a\",\"b\",\"c\",\"d\",\"e\"]", "1 to 4 uids" },
		{ "[\"a\",1]", "uid at index 1: uid must be a string" },
		{ "[\"\"]", "uid at index 0: uid is missing" },
		{ "[\"a\",\"b\",\"0123456789abcdefX\"]", "uid at index 2: uid is too long" },
		{ "[\"a\\u0000b\"]", "uid at index 0: uid contains control characters" },
	};
	struct wmsg_batch b;
	char why[256];

	(void)state;
	assert_int_equal(wmsg_parse_uids(ok, strlen(ok), 4, 16, &b, why, sizeof why), 0);
	assert_int_equal(b.n, 3);
	for (size_t i = 0; i < 3; i++) {
		assert_null(b.items[i].error);
		assert_null(b.items[i].topic_json);
		assert_null(b.items[i].contents_json);
	}
	assert_string_equal(b.items[1].uid, "张三");
	assert_int_equal(b.items[1].uid_len, strlen("张三"));
	assert_string_equal(b.items[2].uid, "a");
	wmsg_batch_free(&b);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		memset(why, 0, sizeof why);
		assert_int_equal(wmsg_parse_uids(bad[i].body, strlen(bad[i].body), 4, 16, &b, why,
						 sizeof why), -1);
		assert_int_equal(b.n, 0);
		assert_null(b.items);
		if (!strstr(why, bad[i].why)) {
			print_error("%s: reason \"%s\" lacks \"%s\"\n", bad[i].body, why, bad[i].why);
			fail();
		}
		wmsg_batch_free(&b);
	}
}

/* A broadcast body: the /push rules, and no "ack" of any value. */
static void test_parse_broadcast(void **state)
{
	static const char ok[] = "{\"topic\":\"all\",\"contents\":[1,\"x\"]}";
	static const char *const bad[] = {
		"{\"topic\":\"t\",\"contents\":1,\"ack\":true}",
		"{\"topic\":\"t\",\"contents\":1,\"ack\":false}",
		"{\"topic\":\"t\",\"contents\":1,\"ack\":7}",
	};
	struct wmsg_push p;
	char why[256];

	(void)state;
	assert_int_equal(wmsg_parse_broadcast(ok, strlen(ok), &p, why, sizeof why), 0);
	assert_string_equal(p.topic_json, "\"all\"");
	assert_string_equal(p.contents_json, "[1,\"x\"]");
	assert_int_equal(p.ack, 0);
	wmsg_push_free(&p);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(wmsg_parse_broadcast(bad[i], strlen(bad[i]), &p, why, sizeof why),
				 -1);
		assert_string_equal(why, "ack is not supported for broadcast");
		assert_null(p.topic_json);
	}
	assert_int_equal(wmsg_parse_broadcast("{\"contents\":1}", 14, &p, why, sizeof why), -1);
	assert_string_equal(why, "body lacks \"topic\"");
}

static void reply_is(char *got, size_t len, const char *want)
{
	assert_non_null(got);
	assert_string_equal(got, want);
	assert_int_equal(len, strlen(want));
	free(got);
}

/* The control answers, byte for byte; the partial mark only when a worker is missing. */
static void test_control_replies(void **state)
{
	static const unsigned gone[] = { 0, 2 };
	const struct wmsg_missing none = { gone, 0 }, two = { gone, 2 };
	const struct wmsg_count totals[] = { { "connections", 7 }, { "uids", 4 } };
	size_t len = 0;
	char *r;

	(void)state;
	r = wmsg_presence_one("a\"b", 3, 2, &len);
	reply_is(r, len, "{\"topic\":\"presence\",\"number\":2,"
			 "\"contents\":{\"uid\":\"a\\\"b\",\"connections\":2}}");
	r = wmsg_counts_reply("presence", 7, totals, 2, NULL, &len);
	reply_is(r, len, "{\"topic\":\"presence\",\"number\":7,"
			 "\"contents\":{\"connections\":7,\"uids\":4}}");
	r = wmsg_counts_reply("presence", 7, totals, 2, &none, &len);
	reply_is(r, len, "{\"topic\":\"presence\",\"number\":7,"
			 "\"contents\":{\"connections\":7,\"uids\":4}}");
	r = wmsg_counts_reply("success", UINT64_MAX, totals, 1, &two, &len);
	reply_is(r, len, "{\"topic\":\"success\",\"number\":18446744073709551615,"
			 "\"contents\":{\"connections\":7},"
			 "\"partial\":true,\"workers_missing\":[0,2]}");
	r = wmsg_reply_flag("success", 3, "kicked", "revoked", &len);
	reply_is(r, len, "{\"topic\":\"success\",\"number\":3,\"contents\":\"kicked\","
			 "\"revoked\":true}");
	r = wmsg_reply_flag("success", 0, "kicked", NULL, &len);
	reply_is(r, len, "{\"topic\":\"success\",\"number\":0,\"contents\":\"kicked\"}");
}

/* Presence of many: each uid once in the order first given, null when unknown,
 * "number" the uids known to have a connection. */
static void test_presence_many_reply(void **state)
{
	static const char body[] = "[\"b\",\"a\",\"b\",\"z\\\"\",\"c\",\"a\"]";
	static const unsigned gone[] = { 1 };
	const uint64_t conns[] = { 2, 0, 2, WMSG_UNKNOWN, 1, 0 };
	const struct wmsg_missing m = { gone, 1 };
	struct wmsg_batch b;
	char why[256], *r;
	size_t len = 0;

	(void)state;
	assert_int_equal(wmsg_parse_uids(body, strlen(body), 8, 16, &b, why, sizeof why), 0);
	r = wmsg_presence_many(&b, conns, NULL, &len);
	reply_is(r, len, "{\"topic\":\"presence\",\"number\":2,"
			 "\"contents\":{\"b\":2,\"a\":0,\"z\\\"\":null,\"c\":1}}");
	r = wmsg_presence_many(&b, conns, &m, &len);
	reply_is(r, len, "{\"topic\":\"presence\",\"number\":2,"
			 "\"contents\":{\"b\":2,\"a\":0,\"z\\\"\":null,\"c\":1},"
			 "\"partial\":true,\"workers_missing\":[1]}");
	wmsg_batch_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_every_type),
		cmocka_unit_test(test_parse_exact_scalars),
		cmocka_unit_test(test_parse_compact),
		cmocka_unit_test(test_parse_member_order),
		cmocka_unit_test(test_parse_reals),
		cmocka_unit_test(test_parse_reals_round_trip),
		cmocka_unit_test(test_parse_negative_zero_sign),
		cmocka_unit_test(test_parse_unicode),
		cmocka_unit_test(test_parse_escapes),
		cmocka_unit_test(test_parse_nul_in_strings),
		cmocka_unit_test(test_parse_deep_nesting),
		cmocka_unit_test(test_parse_topic_problems),
		cmocka_unit_test(test_parse_contents_missing),
		cmocka_unit_test(test_parse_not_object),
		cmocka_unit_test(test_parse_not_json),
		cmocka_unit_test(test_parse_invalid_utf8),
		cmocka_unit_test(test_parse_big_integers),
		cmocka_unit_test(test_parse_duplicate_keys),
		cmocka_unit_test(test_parse_reason_bounded),
		cmocka_unit_test(test_push_free_twice),
		cmocka_unit_test(test_reply_exact),
		cmocka_unit_test(test_reply_escaping),
		cmocka_unit_test(test_reply_numbers),
		cmocka_unit_test(test_frame_numbers_and_types),
		cmocka_unit_test(test_frame_exact),
		cmocka_unit_test(test_frame_too_small),
		cmocka_unit_test(test_frame_len_is_exact),
		cmocka_unit_test(test_frame_max_overflow),
		cmocka_unit_test(test_parse_batch),
		cmocka_unit_test(test_batch_reply),
		cmocka_unit_test(test_batch_reply_ack_and_stored),
		cmocka_unit_test(test_parse_ack),
		cmocka_unit_test(test_parse_batch_ack),
		cmocka_unit_test(test_reply_seq),
		cmocka_unit_test(test_parse_multicast),
		cmocka_unit_test(test_parse_multicast_refused),
		cmocka_unit_test(test_parse_uids),
		cmocka_unit_test(test_parse_broadcast),
		cmocka_unit_test(test_control_replies),
		cmocka_unit_test(test_presence_many_reply),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
