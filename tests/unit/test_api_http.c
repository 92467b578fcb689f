/* SPDX-License-Identifier: MIT */
/* Unit tests for fcgi-api/api_http.c: the Content-Type check, the Bearer header,
 * CONTENT_LENGTH parsing and the bounded body read, and the response writers.
 * The request's streams are in-memory FCGX_Streams (libfcgi's stream struct is
 * public): the reader hands out its bytes in records of a chosen size, then
 * reports the end of input; the writer collects everything written. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../fcgi-api/api_http.h"
#include "log.h"

/* Every string input is a heap copy of exactly strlen + 1 bytes, so
 * AddressSanitizer reports a read past its terminator. */
static char *dup_str(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = malloc(n);

	assert_non_null(p);
	memcpy(p, s, n);
	return p;
}

static int is_json(const char *ct)
{
	char *copy = dup_str(ct);
	int r = api_is_json_type(copy);

	free(copy);
	return r;
}

static void test_json_type_accepted(void **state)
{
	(void)state;
	assert_int_equal(is_json("application/json"), 1);
	assert_int_equal(is_json("APPLICATION/JSON"), 1);
	assert_int_equal(is_json("Application/Json"), 1);
	/* The seed's PHP example sends exactly this. */
	assert_int_equal(is_json("application/json;charset='utf-8'"), 1);
	assert_int_equal(is_json("application/json; charset=utf-8"), 1);
	assert_int_equal(is_json("application/json ; charset=utf-8"), 1);
	assert_int_equal(is_json("application/json;"), 1);
	assert_int_equal(is_json("  \tapplication/json"), 1);
	assert_int_equal(is_json("application/json \t"), 1);
	assert_int_equal(is_json("application/json\t;x=y"), 1);
}

static void test_json_type_refused(void **state)
{
	(void)state;
	assert_int_equal(is_json(""), 0);
	assert_int_equal(is_json(" "), 0);
	assert_int_equal(is_json(";"), 0);
	assert_int_equal(is_json("text/plain"), 0);
	assert_int_equal(is_json("text/json"), 0);
	assert_int_equal(is_json("application/js"), 0);
	assert_int_equal(is_json("application/jso"), 0);
	assert_int_equal(is_json("application/jsonx"), 0);
	assert_int_equal(is_json("application/json-seq"), 0);
	assert_int_equal(is_json("application/json+ld"), 0);
	assert_int_equal(is_json("xapplication/json"), 0);
	assert_int_equal(is_json("application/json x"), 0);
	assert_int_equal(is_json("application/json,text/plain"), 0);
	assert_int_equal(is_json("application/x-www-form-urlencoded"), 0);
	assert_int_equal(is_json("multipart/form-data; boundary=application/json"), 0);
	/* Same length as "application/json", one byte different. */
	assert_int_equal(is_json("application/jsom"), 0);
	assert_int_equal(is_json("applicatioN/json\n"), 0);
}

/* The token api_bearer_token finds in `header`, copied out (NULL: none). */
static char *bearer(const char *header)
{
	char *copy = dup_str(header);
	const char *tok = api_bearer_token(copy);
	char *out = NULL;

	if (tok) {
		/* The token points into the header itself, not at a copy. */
		assert_true(tok > copy && tok < copy + strlen(copy));
		out = dup_str(tok);
	}
	free(copy);
	return out;
}

static void bearer_is(const char *header, const char *want)
{
	char *got = bearer(header);

	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static void test_bearer_token_found(void **state)
{
	(void)state;
	bearer_is("Bearer s3cret", "s3cret");
	bearer_is("bearer s3cret", "s3cret");
	bearer_is("BEARER s3cret", "s3cret");
	bearer_is("Bearer\ts3cret", "s3cret");
	bearer_is("   Bearer  \t s3cret", "s3cret");
	bearer_is("Bearer x", "x");
	/* Everything after the scheme is the token: a password may hold spaces. */
	bearer_is("Bearer pass word", "pass word");
	bearer_is("Bearer 张三=/+", "张三=/+");
}

static void test_bearer_token_absent(void **state)
{
	(void)state;
	const char *none[] = {
		"", " ", "Bearer", "Bearer ", "Bearer \t  ", "Bearers3cret", "Bearer:s3cret",
		"Basic czNjcmV0LXB3", "Beare s3cret", "Bear", "B", "xBearer s3cret",
		"Token s3cret", "Bearer\ns3cret",
	};

	for (size_t i = 0; i < sizeof none / sizeof none[0]; i++) {
		char *got = bearer(none[i]);

		if (got)
			fail_msg("\"%s\" gave token \"%s\"", none[i], got);
	}
}

/* -- in-memory libfcgi streams ------------------------------------------------ */

struct mem_in {
	const unsigned char *data;
	size_t len, pos;
	size_t record;  /* bytes handed out per fill, as FastCGI records would */
	int fills;
};

static void mem_in_fill(FCGX_Stream *s)
{
	struct mem_in *m = s->data;
	size_t n = m->len - m->pos;

	m->fills++;
	if (n == 0) {
		s->isClosed = 1;  /* the empty stdin record: end of input */
		s->rdNext = s->stop = s->stopUnget = (unsigned char *)(uintptr_t)(m->data + m->pos);
		return;
	}
	if (n > m->record)
		n = m->record;
	s->rdNext = s->stopUnget = (unsigned char *)(uintptr_t)(m->data + m->pos);
	s->stop = s->rdNext + n;
	m->pos += n;
}

struct mem_out {
	unsigned char window[7];  /* small, so long writes go through emptyBuffProc */
	unsigned char *all;
	size_t len;
	size_t limit;  /* after this many bytes the client "goes away" */
};

static void mem_out_empty(FCGX_Stream *s, int do_close)
{
	struct mem_out *m = s->data;
	size_t n = (size_t)(s->wrNext - m->window);

	(void)do_close;
	if (m->len + n > m->limit) {
		s->isClosed = 1;
		s->FCGI_errno = 32;
		return;
	}
	m->all = realloc(m->all, m->len + n + 1);
	assert_non_null(m->all);
	memcpy(m->all + m->len, m->window, n);
	m->len += n;
	m->all[m->len] = '\0';
	s->wrNext = m->window;
}

struct fake {
	FCGX_Request req;
	FCGX_Stream in, out;
	struct mem_in min;
	struct mem_out mout;
	char *env[4];
};

/* A request whose params are `env` (NULL-terminated "NAME=value" list, at most 3)
 * and whose input is body[0..body_len) in records of `record` bytes. */
static struct fake *fake_new(const char *const *env, const char *body, size_t body_len,
			     size_t record)
{
	struct fake *f = calloc(1, sizeof *f);

	assert_non_null(f);
	for (int i = 0; env && env[i]; i++) {
		assert_true(i < 3);
		f->env[i] = dup_str(env[i]);
	}
	f->min.data = (const unsigned char *)body;
	f->min.len = body_len;
	f->min.record = record;
	f->in.isReader = 1;
	f->in.fillBuffProc = mem_in_fill;
	f->in.data = &f->min;
	mem_in_fill(&f->in);  /* the first record arrives with the request */
	if (body_len == 0)
		f->in.isClosed = 0;  /* end of input not seen yet: it is the next record */
	f->min.fills = 0;
	f->out.isReader = 0;
	f->out.wrNext = f->mout.window;
	f->out.stop = f->mout.window + sizeof f->mout.window;
	f->out.emptyBuffProc = mem_out_empty;
	f->out.data = &f->mout;
	f->mout.limit = SIZE_MAX;
	f->req.in = &f->in;
	f->req.out = &f->out;
	f->req.envp = f->env;
	return f;
}

/* Everything written so far, flushed. */
static const char *fake_output(struct fake *f)
{
	assert_int_equal(FCGX_FFlush(&f->out), 0);
	return f->mout.all ? (const char *)f->mout.all : "";
}

static void fake_free(struct fake *f)
{
	for (int i = 0; f->env[i]; i++)
		free(f->env[i]);
	free(f->mout.all);
	free(f);
}

static enum api_body_rc read_with(const char *content_length, const char *body, size_t body_len,
				  size_t record, size_t cap, size_t *len, char *buf)
{
	char env0[64];
	const char *env[] = { env0, NULL };
	struct fake *f;
	enum api_body_rc rc;

	if (content_length)
		(void)snprintf(env0, sizeof env0, "CONTENT_LENGTH=%s", content_length);
	f = fake_new(content_length ? env : NULL, body, body_len, record);
	rc = api_read_body(&f->req, buf, cap, len);
	fake_free(f);
	return rc;
}

static void test_read_body_exact_length(void **state)
{
	static const char body[] = "{\"topic\":\"t\",\"contents\":1}";
	char buf[64];
	size_t len = 999;

	(void)state;
	/* In one record, in 1-byte records, in 5-byte records: the same body. */
	for (size_t record = 1; record <= sizeof body; record += 4) {
		memset(buf, 'Z', sizeof buf);
		len = 999;
		assert_int_equal(read_with("26", body, 26, record, sizeof buf, &len, buf),
				 API_BODY_OK);
		assert_int_equal(len, 26);
		assert_memory_equal(buf, body, 26);
		assert_int_equal(buf[26], 'Z');  /* nothing written past the body */
	}
	/* A body of exactly cap bytes fits. */
	len = 0;
	assert_int_equal(read_with("26", body, 26, 8, 26, &len, buf), API_BODY_OK);
	assert_int_equal(len, 26);
}

static void test_read_body_declared_zero_or_absent(void **state)
{
	char buf[8];
	size_t len = 999;

	(void)state;
	assert_int_equal(read_with("0", "", 0, 4, sizeof buf, &len, buf), API_BODY_OK);
	assert_int_equal(len, 0);
	len = 999;
	assert_int_equal(read_with("", "", 0, 4, sizeof buf, &len, buf), API_BODY_OK);
	assert_int_equal(len, 0);
	/* No CONTENT_LENGTH: no body is read, and nothing waits for one. */
	len = 999;
	assert_int_equal(read_with(NULL, "abc", 3, 4, sizeof buf, &len, buf), API_BODY_OK);
	assert_int_equal(len, 0);
	len = 999;
	assert_int_equal(read_with("0", "", 0, 4, 0, &len, buf), API_BODY_OK);
	assert_int_equal(len, 0);
}

static void test_read_body_too_large_reads_nothing(void **state)
{
	char buf[16];
	size_t len = 999;
	struct fake *f;
	const char *env[] = { "CONTENT_LENGTH=17", NULL };

	(void)state;
	assert_int_equal(read_with("17", "0123456789abcdefg", 17, 64, 16, &len, buf),
			 API_BODY_TOO_LARGE);
	assert_int_equal(len, 999);
	assert_int_equal(read_with("99999999999", "", 0, 4, 16, &len, buf), API_BODY_TOO_LARGE);
	/* Just below the parse limits: a size, but far too large. */
	assert_int_equal(read_with("18446744073709551615", "", 0, 4, 16, &len, buf),
			 API_BODY_TOO_LARGE);
	/* The check comes before any byte is consumed. */
	f = fake_new(env, "0123456789abcdefg", 17, 64);
	assert_int_equal(api_read_body(&f->req, buf, 16, &len), API_BODY_TOO_LARGE);
	assert_int_equal(f->in.rdNext - (unsigned char *)(uintptr_t)f->min.data, 0);
	assert_int_equal(f->min.fills, 0);
	fake_free(f);
}

static void test_read_body_bad_length(void **state)
{
	char buf[64];
	size_t len = 999;
	const char *bad[] = {
		"-1", "+5", " 5", "5 ", "5x", "0x10", "1e3", "abc", "5.0", "\t5",
		"18446744073709551616",         /* 2^64: strtoull overflows */
		"99999999999999999999999999",
		"-0",
	};

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		enum api_body_rc rc = read_with(bad[i], "hello", 5, 64, sizeof buf, &len, buf);

		if (rc != API_BODY_BAD_LENGTH)
			fail_msg("CONTENT_LENGTH \"%s\": rc %d", bad[i], (int)rc);
	}
	assert_int_equal(len, 999);
	/* Leading zeros are still a decimal length. */
	assert_int_equal(read_with("005", "hello", 5, 64, sizeof buf, &len, buf), API_BODY_OK);
	assert_int_equal(len, 5);
}

static void test_read_body_short_and_long(void **state)
{
	char buf[64];
	size_t len = 999;

	(void)state;
	/* The input ends before the declared length. */
	assert_int_equal(read_with("10", "hello", 5, 2, sizeof buf, &len, buf), API_BODY_SHORT);
	assert_int_equal(read_with("1", "", 0, 2, sizeof buf, &len, buf), API_BODY_SHORT);
	/* More input than declared: refused rather than silently cut. */
	assert_int_equal(read_with("5", "hello!", 6, 3, sizeof buf, &len, buf),
			 API_BODY_BAD_LENGTH);
	assert_int_equal(read_with("0", "x", 1, 3, sizeof buf, &len, buf), API_BODY_BAD_LENGTH);
}

static void test_param(void **state)
{
	const char *env[] = { "REQUEST_METHOD=POST", "EMPTY=", "QUERY_STRING=uid=a=b", NULL };
	struct fake *f = fake_new(env, "", 0, 1);

	(void)state;
	assert_string_equal(api_param(&f->req, "REQUEST_METHOD"), "POST");
	assert_string_equal(api_param(&f->req, "QUERY_STRING"), "uid=a=b");
	assert_string_equal(api_param(&f->req, "EMPTY"), "");
	assert_string_equal(api_param(&f->req, "MISSING"), "");
	assert_string_equal(api_param(&f->req, "REQUEST"), "");  /* a prefix is not a match */
	fake_free(f);
}

static void test_respond_head_and_body(void **state)
{
	struct fake *f = fake_new(NULL, "", 0, 1);
	static const char body[] = "{\"a\":1}";

	(void)state;
	api_respond(&f->req, 200, "X-One: 1\r\n", body, sizeof body - 1);
	assert_string_equal(fake_output(f),
			    "Status: 200 OK\r\n"
			    "Content-Type: application/json; charset=utf-8\r\n"
			    "Cache-Control: no-store\r\n"
			    "Content-Length: 7\r\n"
			    "X-One: 1\r\n"
			    "\r\n"
			    "{\"a\":1}");
	fake_free(f);

	f = fake_new(NULL, "", 0, 1);
	api_respond_typed(&f->req, 200, "text/plain; version=0.0.4", "", 0);
	assert_string_equal(fake_output(f),
			    "Status: 200 OK\r\n"
			    "Content-Type: text/plain; version=0.0.4\r\n"
			    "Cache-Control: no-store\r\n"
			    "Content-Length: 0\r\n\r\n");
	fake_free(f);
}

/* The body of the response in `out`, after checking its status line and that
 * Content-Length matches the body. */
static const char *response_body(const char *out, const char *status_line)
{
	const char *body = strstr(out, "\r\n\r\n");
	const char *cl = strstr(out, "Content-Length: ");

	assert_non_null(body);
	assert_non_null(cl);
	assert_true(strncmp(out, status_line, strlen(status_line)) == 0);
	body += 4;
	assert_int_equal(strtoul(cl + 16, NULL, 10), strlen(body));
	return body;
}

static void test_error_replies(void **state)
{
	static const struct { int status; const char *line; } cases[] = {
		{ 400, "Status: 400 Bad Request\r\n" },
		{ 401, "Status: 401 Unauthorized\r\n" },
		{ 404, "Status: 404 Not Found\r\n" },
		{ 413, "Status: 413 Payload Too Large\r\n" },
		{ 415, "Status: 415 Unsupported Media Type\r\n" },
		{ 429, "Status: 429 Too Many Requests\r\n" },
		{ 500, "Status: 500 Internal Server Error\r\n" },
		{ 503, "Status: 503 Service Unavailable\r\n" },
		{ 418, "Status: 418 Unknown\r\n" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct fake *f = fake_new(NULL, "", 0, 1);

		api_error(&f->req, cases[i].status, "这是 \"why\"");
		assert_string_equal(response_body(fake_output(f), cases[i].line),
				    "{\"topic\":\"error\",\"number\":0,\"contents\":\"这是 \\\"why\\\"\"}");
		fake_free(f);
	}
}

static void test_error_method_has_allow(void **state)
{
	struct fake *f = fake_new(NULL, "", 0, 1);
	const char *out;

	(void)state;
	api_error_method(&f->req, "GET, HEAD");
	out = fake_output(f);
	assert_non_null(strstr(out, "\r\nAllow: GET, HEAD\r\n\r\n"));
	assert_string_equal(response_body(out, "Status: 405 Method Not Allowed\r\n"),
			    "{\"topic\":\"error\",\"number\":0,\"contents\":\"method not allowed\"}");
	fake_free(f);
}

static void test_error_retry_has_retry_after(void **state)
{
	struct fake *f = fake_new(NULL, "", 0, 1);
	const char *out;

	(void)state;
	api_error_retry(&f->req, 429, 1, "too many pushes are waiting for an acknowledgement");
	out = fake_output(f);
	assert_non_null(strstr(out, "\r\nRetry-After: 1\r\n\r\n"));
	assert_string_equal(response_body(out, "Status: 429 Too Many Requests\r\n"),
			    "{\"topic\":\"error\",\"number\":0,"
			    "\"contents\":\"too many pushes are waiting for an acknowledgement\"}");
	fake_free(f);
}

/* 202 for a message kept for later (offline delivery). */
static void test_respond_accepted(void **state)
{
	struct fake *f = fake_new(NULL, "", 0, 1);

	(void)state;
	api_respond(&f->req, 202, NULL, "{}", 2);
	assert_string_equal(response_body(fake_output(f), "Status: 202 Accepted\r\n"), "{}");
	fake_free(f);
}

static void test_respond_head_too_long_writes_nothing(void **state)
{
	struct fake *f = fake_new(NULL, "", 0, 1);
	char extra[600];

	(void)state;
	memset(extra, 'h', sizeof extra - 3);
	memcpy(extra + sizeof extra - 3, "\r\n", 3);
	api_respond(&f->req, 200, extra, "{}", 2);
	assert_string_equal(fake_output(f), "");
	fake_free(f);
}

static void test_respond_to_departed_client(void **state)
{
	struct fake *f = fake_new(NULL, "", 0, 1);
	static const char body[] = "{\"topic\":\"success\",\"number\":1,\"contents\":\"x\"}";

	(void)state;
	f->mout.limit = 20;  /* the connection breaks inside the head */
	api_respond(&f->req, 200, NULL, body, sizeof body - 1);
	assert_true(f->out.isClosed);
	assert_true(f->mout.len <= 20);
	fake_free(f);
}

static void test_demo_path(void **state)
{
	(void)state;
	assert_true(api_is_demo_path("/demo/api/key?uid=1"));
	assert_true(api_is_demo_path("/prefix/demo/api/push"));
	assert_false(api_is_demo_path("/push?x=/demo/"));
	assert_false(api_is_demo_path("/demo"));
	assert_false(api_is_demo_path("/demopush"));
}

static void test_addr_is_loopback(void **state)
{
	(void)state;
	assert_true(api_addr_is_loopback("127.0.0.1:8080"));
	assert_true(api_addr_is_loopback("127.1.2.3:1"));
	assert_true(api_addr_is_loopback("[::1]:8080"));
	assert_true(api_addr_is_loopback("localhost:80"));
	assert_false(api_addr_is_loopback("0.0.0.0:8080"));
	assert_false(api_addr_is_loopback(":8080"));
	assert_false(api_addr_is_loopback("[::]:8080"));
	assert_false(api_addr_is_loopback("10.0.0.1:8080"));
	assert_false(api_addr_is_loopback("127.0.0.1.example.com:80"));
	assert_false(api_addr_is_loopback("127.0.0:80"));
	assert_false(api_addr_is_loopback("127.0.0.1000:80"));
	assert_false(api_addr_is_loopback("127.a.0.1:80"));
	assert_false(api_addr_is_loopback(""));
}

static void test_demo_enabled(void **state)
{
	(void)state;
	assert_true(api_demo_enabled(1, NULL, "0.0.0.0:8080"));
	assert_true(api_demo_enabled(0, "1", "127.0.0.1:8080"));
	assert_false(api_demo_enabled(0, "1", "0.0.0.0:8080"));
	assert_false(api_demo_enabled(0, "yes", "127.0.0.1:8080"));
	assert_false(api_demo_enabled(0, NULL, "127.0.0.1:8080"));
	assert_false(api_demo_enabled(0, "", "127.0.0.1:8080"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_type_accepted),
		cmocka_unit_test(test_json_type_refused),
		cmocka_unit_test(test_bearer_token_found),
		cmocka_unit_test(test_bearer_token_absent),
		cmocka_unit_test(test_read_body_exact_length),
		cmocka_unit_test(test_read_body_declared_zero_or_absent),
		cmocka_unit_test(test_read_body_too_large_reads_nothing),
		cmocka_unit_test(test_read_body_bad_length),
		cmocka_unit_test(test_read_body_short_and_long),
		cmocka_unit_test(test_param),
		cmocka_unit_test(test_respond_head_and_body),
		cmocka_unit_test(test_error_replies),
		cmocka_unit_test(test_error_method_has_allow),
		cmocka_unit_test(test_error_retry_has_retry_after),
		cmocka_unit_test(test_respond_accepted),
		cmocka_unit_test(test_respond_head_too_long_writes_nothing),
		cmocka_unit_test(test_respond_to_departed_client),
		cmocka_unit_test(test_demo_path),
		cmocka_unit_test(test_addr_is_loopback),
		cmocka_unit_test(test_demo_enabled),
	};

	log_init("test_api_http", LOG_LVL_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
