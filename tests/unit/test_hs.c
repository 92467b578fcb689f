/* SPDX-License-Identifier: MIT */
/* Unit tests for shared/hs.c: the WebSocket handshake rules (RFC 6455 4.2.1), the
 * query reading that routing and authentication share, and the head lws gets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hs.h"

#define KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define GOOD_HDRS "Host: example.org\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" \
		  "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 13\r\n"

static struct hs_result res;

/* Parses head from an exactly sized heap copy, so ASan sees reads past it. */
static int parse_n(const char *head, size_t n, size_t max_uid)
{
	char *copy = malloc(n ? n : 1);
	int rc;

	assert_non_null(copy);
	memcpy(copy, head, n);
	rc = hs_parse(copy, n, max_uid, &res);
	free(copy);
	return rc;
}

static int parse(const char *head)
{
	return parse_n(head, strlen(head), 256);
}

/* "GET <target> HTTP/1.1" with the good headers plus extra ones. */
static int parse_target(const char *target, const char *extra)
{
	char buf[HS_HEAD_MAX];
	int n = snprintf(buf, sizeof buf, "GET %s HTTP/1.1\r\n" GOOD_HDRS "%s\r\n", target, extra);

	assert_true(n > 0 && (size_t)n < sizeof buf);
	return parse(buf);
}

static void assert_refused(int status, const char *reason_part)
{
	assert_int_equal(res.status, status);
	assert_non_null(res.reason);
	assert_non_null(strstr(res.reason, reason_part));
}

static void test_good_handshake(void **state)
{
	(void)state;
	assert_int_equal(parse_target("/ws?uid=%E5%BC%A0+x&access_key=v1.2.abc", ""), 0);
	assert_null(res.reason);
	assert_int_equal(res.uid_len, strlen("张 x"));
	assert_string_equal(res.uid, "张 x");
	assert_string_equal(res.key, "v1.2.abc");
	assert_int_equal(res.key_len, 8);
}

static void test_rewritten_head_is_minimal(void **state)
{
	static const char want[] = "GET /ws HTTP/1.1\r\nHost: example.org\r\nUpgrade: websocket\r\n"
				   "Connection: Upgrade\r\nSec-WebSocket-Key: " KEY "\r\n"
				   "Sec-WebSocket-Version: 13\r\n\r\n";
	(void)state;
	assert_int_equal(parse_target("/prefix/ws?uid=a&access_key=k",
				      "Sec-WebSocket-Extensions: permessage-deflate; x=1\r\n"
				      "Origin: https://example.org\r\n"), 0);
	assert_int_equal(res.lws_len, sizeof want - 1);
	assert_memory_equal(res.lws, want, sizeof want - 1);
	assert_true(res.lws_len <= HS_LWS_MAX);
}

static void test_long_extension_offer_is_dropped(void **state)
{
	char ext[400];

	(void)state;
	memset(ext, 'x', sizeof ext);
	memcpy(ext, "Sec-WebSocket-Extensions: ", 26);
	memcpy(ext + sizeof ext - 3, "\r\n", 3);
	assert_int_equal(parse_target("/ws?uid=a", ext), 0);
	assert_null(strstr(res.lws, "Extensions"));
}

static void test_missing_key_is_not_a_refusal(void **state)
{
	(void)state;
	assert_int_equal(parse_target("/ws?uid=a", ""), 0);
	assert_int_equal(res.key_len, 0);
	assert_string_equal(res.key, "");
	assert_int_equal(parse_target("/ws?uid=a&access_key=", ""), 0);
	assert_int_equal(res.key_len, 0);
}

static void test_method(void **state)
{
	(void)state;
	assert_int_equal(parse("POST /ws?uid=a HTTP/1.1\r\n" GOOD_HDRS "\r\n"), 405);
	assert_int_equal(res.extra, HS_EXTRA_ALLOW);
	assert_string_equal(hs_extra_header(res.extra), "Allow: GET");
	assert_int_equal(parse("get /ws?uid=a HTTP/1.1\r\n" GOOD_HDRS "\r\n"), 405);
}

static void test_body_refused_before_method(void **state)
{
	(void)state;
	assert_int_equal(parse("POST /ws HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n"), 413);
	assert_int_equal(parse_target("/ws?uid=a", "Content-Length: 10\r\n"), 413);
	assert_int_equal(parse_target("/ws?uid=a", "Transfer-Encoding: chunked\r\n"), 413);
	assert_int_equal(parse_target("/ws?uid=a", "Content-Length: 0\r\n"), 0);
	assert_int_equal(parse_target("/ws?uid=a", "Content-Length: 1x\r\n"), 400);
}

static void test_version_line(void **state)
{
	(void)state;
	assert_int_equal(parse("GET /ws?uid=a HTTP/1.0\r\n" GOOD_HDRS "\r\n"), 505);
	assert_int_equal(parse("GET /ws?uid=a HTTP/2\r\n" GOOD_HDRS "\r\n"), 400);
	assert_int_equal(parse("GET /ws?uid=a\r\n" GOOD_HDRS "\r\n"), 400);
	assert_int_equal(parse("GET  /ws?uid=a HTTP/1.1\r\n" GOOD_HDRS "\r\n"), 400);
	assert_int_equal(parse("GET ws?uid=a HTTP/1.1\r\n" GOOD_HDRS "\r\n"), 400);
}

static void test_path(void **state)
{
	(void)state;
	assert_int_equal(parse_target("/wsx?uid=a", ""), 404);
	assert_int_equal(parse_target("/", ""), 404);
	assert_int_equal(parse_target("/ws/?uid=a", ""), 404);
	assert_int_equal(parse_target("/x/ws?uid=a", ""), 0);
}

static void test_upgrade_and_connection(void **state)
{
	(void)state;
	assert_int_equal(parse("GET /ws?uid=a HTTP/1.1\r\nHost: x\r\n\r\n"), 426);
	assert_int_equal(res.extra, HS_EXTRA_UPGRADE);
	assert_int_equal(parse("GET /ws?uid=a HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
			       "Connection: keep-alive\r\nSec-WebSocket-Key: " KEY "\r\n"
			       "Sec-WebSocket-Version: 13\r\n\r\n"), 426);
	/* Token lists, any case, as proxies send them. */
	assert_int_equal(parse("GET /ws?uid=a HTTP/1.1\r\nHost: x\r\nUpgrade: WebSocket\r\n"
			       "Connection: close, Upgrade\r\nSec-WebSocket-Key: " KEY "\r\n"
			       "Sec-WebSocket-Version: 13\r\n\r\n"), 0);
}

static void test_websocket_version(void **state)
{
	static const char *const bad[] = { "8", "12", "14", "13 ", "garbage", "", "13, 8" };
	char h[256];

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		(void)snprintf(h, sizeof h, "GET /ws?uid=a HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
			       "Connection: Upgrade\r\nSec-WebSocket-Key: " KEY "\r\n"
			       "Sec-WebSocket-Version: %s\r\n\r\n", bad[i]);
		/* "13 " is trimmed: optional whitespace is not part of a value. */
		assert_int_equal(parse(h), i == 3 ? 0 : 426);
		if (i != 3)
			assert_int_equal(res.extra, HS_EXTRA_VERSION);
	}
	assert_int_equal(parse("GET /ws?uid=a HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
			       "Connection: Upgrade\r\nSec-WebSocket-Key: " KEY "\r\n\r\n"), 426);
	assert_string_equal(hs_extra_header(HS_EXTRA_VERSION), "Sec-WebSocket-Version: 13");
}

static void test_websocket_key(void **state)
{
	static const char *const bad[] = {
		"", "abc", "dGhlIHNhbXBsZSBub25jZQ", "dGhlIHNhbXBsZSBub25jZQ=",
		"dGhlIHNhbXBsZSBub25jZR==", /* 4 padding bits set: not 16 bytes exactly */
		"dGhlIHNhbXBsZSBub25j*Q==", "dGhlIHNhbXBsZSBub25jZQ==AAAA",
	};
	char h[256];

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		(void)snprintf(h, sizeof h, "GET /ws?uid=a HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
			       "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
			       "Sec-WebSocket-Version: 13\r\n\r\n", bad[i]);
		assert_int_equal(parse(h), 400);
		assert_non_null(strstr(res.reason, "Sec-WebSocket-Key"));
	}
	assert_int_equal(parse("GET /ws?uid=a HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
			       "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n"), 400);
	assert_refused(400, "Sec-WebSocket-Key is missing");
	assert_int_equal(parse_target("/ws?uid=a", "Sec-WebSocket-Key: " KEY "\r\n"), 400);
}

static void test_host(void **state)
{
	char h[600];

	(void)state;
	assert_int_equal(parse("GET /ws?uid=a HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
			       "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n"), 400);
	assert_int_equal(parse_target("/ws?uid=a", "Host: again\r\n"), 400);
	assert_int_equal(parse("GET /ws?uid=a HTTP/1.1\r\nHost: a?uid=b\r\nUpgrade: websocket\r\n"
			       "Connection: Upgrade\r\nSec-WebSocket-Key: " KEY "\r\n"
			       "Sec-WebSocket-Version: 13\r\n\r\n"), 400);
	assert_int_equal(parse("GET /ws?uid=a HTTP/1.1\r\nHost: [::1]:8080\r\nUpgrade: websocket\r\n"
			       "Connection: Upgrade\r\nSec-WebSocket-Key: " KEY "\r\n"
			       "Sec-WebSocket-Version: 13\r\n\r\n"), 0);
	(void)snprintf(h, sizeof h, "GET /ws?uid=a HTTP/1.1\r\nHost: %0256d\r\nUpgrade: websocket\r\n"
		       "Connection: Upgrade\r\nSec-WebSocket-Key: " KEY "\r\n"
		       "Sec-WebSocket-Version: 13\r\n\r\n", 0);
	assert_int_equal(parse(h), 400);
}

static void test_header_syntax(void **state)
{
	(void)state;
	assert_int_equal(parse_target("/ws?uid=a", " folded\r\n"), 400);
	assert_int_equal(parse_target("/ws?uid=a", "no colon\r\n"), 400);
	assert_int_equal(parse_target("/ws?uid=a", "Bad Name: x\r\n"), 400);
	assert_int_equal(parse_target("/ws?uid=a", "X: a\001b\r\n"), 400);
	assert_int_equal(parse_n("GET /ws?uid=a HTTP/1.1\r\nX: a\0b\r\n" GOOD_HDRS "\r\n",
				 sizeof("GET /ws?uid=a HTTP/1.1\r\nX: a\0b\r\n" GOOD_HDRS "\r\n") - 1,
				 256), 400);
	assert_int_equal(parse_target("/ws?uid=a", "X: a\rb\r\n"), 400);
	assert_int_equal(parse_target("/ws?uid=a\001", ""), 400);
}

static void test_query_uid_rules(void **state)
{
	char target[600];

	(void)state;
	assert_int_equal(parse_target("/ws", ""), 400);
	assert_refused(400, "uid is missing");
	assert_int_equal(parse_target("/ws?uid=", ""), 400);
	assert_refused(400, "uid is missing");
	assert_int_equal(parse_target("/ws?uid=a%00b&access_key=k", ""), 400);
	assert_refused(400, "uid is badly encoded");
	assert_int_equal(parse_target("/ws?uid=a%zz", ""), 400);
	assert_int_equal(parse_target("/ws?uid=%01", ""), 400);
	assert_refused(400, "control");
	assert_int_equal(parse_target("/ws?uid=%C0%AF", ""), 400);
	assert_refused(400, "UTF-8");
	memcpy(target, "/ws?uid=", 8);
	memset(target + 8, 'u', 257);
	target[8 + 257] = '\0';
	assert_int_equal(parse_target(target, ""), 400);
	assert_refused(400, "too long");
	target[8 + 256] = '\0';
	assert_int_equal(parse_target(target, ""), 0);
}

/* The cases where two parsers used to disagree on the uid (and so on its worker). */
static void test_query_ambiguity(void **state)
{
	static const char *const bad[] = {
		"/ws?%75id=x", "/ws?uid&uid=x", "/ws?uid=x&uid=y", "/ws?a;uid=x",
		"/ws?uid;=x", "/ws?uid=x&access_key", "/ws?uid=x&access_key=a&access_key=b",
		"/ws?uid=x&%61ccess_key=k",
	};

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(parse_target(bad[i], ""), 400);
		assert_int_equal(res.uid_len, 0);
	}
	/* A ';' inside a value is just a byte of it; other names are free. */
	assert_int_equal(parse_target("/ws?uid=a;b&x=1&&y", ""), 0);
	assert_string_equal(res.uid, "a;b");
}

static void test_query_key_rules(void **state)
{
	char target[HS_KEY_MAX + 64];

	(void)state;
	assert_int_equal(parse_target("/ws?uid=a&access_key=k%00", ""), 400);
	assert_refused(400, "access_key is badly encoded");
	assert_int_equal(parse_target("/ws?uid=a&access_key=k%0A", ""), 400);
	assert_refused(400, "access_key contains control");
	(void)snprintf(target, sizeof target, "/ws?uid=a&access_key=%0*d", HS_KEY_MAX + 1, 0);
	assert_int_equal(parse_target(target, ""), 400);
	assert_refused(400, "access_key is too long");
}

#define EPOCH "0123456789abcdef"
#define SINCE_BAD "since must be a number, 'acked' or 'now'"
#define EPOCH_BAD "epoch must be 16 hex digits"

/* "/ws?uid=a&<query>" is refused with 400 and exactly this reason. */
static void assert_query_refused(const char *query, const char *reason)
{
	char target[256];

	(void)snprintf(target, sizeof target, "/ws?uid=a&%s", query);
	assert_int_equal(parse_target(target, ""), 400);
	assert_string_equal(res.reason, reason);
}

/* "/ws?uid=a&<query>" is accepted with this resume point. */
static void assert_resume(const char *query, enum hs_since kind, uint64_t since,
			  int has_epoch, uint64_t epoch)
{
	char target[256];

	(void)snprintf(target, sizeof target, "/ws?uid=a&%s", query);
	assert_int_equal(parse_target(target, ""), 0);
	assert_int_equal(res.since_kind, kind);
	assert_int_equal(res.since, since);
	assert_int_equal(res.has_epoch, has_epoch);
	assert_int_equal(res.epoch, epoch);
}

static void test_resume_absent(void **state)
{
	(void)state;
	assert_resume("since=7&epoch=" EPOCH, HS_SINCE_NUMBER, 7, 1, 0x0123456789abcdefu);
	/* A wave-1 request after one that resumed: nothing of it is left over. */
	assert_int_equal(parse_target("/ws?uid=a&access_key=k&x=since", ""), 0);
	assert_int_equal(res.since_kind, HS_SINCE_NONE);
	assert_int_equal(res.since, 0);
	assert_int_equal(res.has_epoch, 0);
	assert_int_equal(res.epoch, 0);
}

static void test_resume_number(void **state)
{
	(void)state;
	assert_resume("since=0&epoch=" EPOCH, HS_SINCE_NUMBER, 0, 1, 0x0123456789abcdefu);
	assert_resume("epoch=ffffffffffffffff&since=0042", HS_SINCE_NUMBER, 42, 1, UINT64_MAX);
	assert_resume("since=9223372036854775807&epoch=0000000000000000", HS_SINCE_NUMBER,
		      9223372036854775807u, 1, 0);
	assert_query_refused("since=9223372036854775808&epoch=" EPOCH, SINCE_BAD);
	assert_query_refused("since=9999999999999999999&epoch=" EPOCH, SINCE_BAD);
	assert_query_refused("since=00000000000000000001&epoch=" EPOCH, SINCE_BAD);
	assert_query_refused("since=18446744073709551617&epoch=" EPOCH, SINCE_BAD);
}

static void test_resume_words(void **state)
{
	(void)state;
	assert_resume("since=acked", HS_SINCE_ACKED, 0, 0, 0);
	assert_resume("since=now", HS_SINCE_NOW, 0, 0, 0);
	assert_resume("since=acked&epoch=00000000000000ff", HS_SINCE_ACKED, 0, 1, 0xff);
	assert_resume("epoch=" EPOCH "&since=now", HS_SINCE_NOW, 0, 1, 0x0123456789abcdefu);
}

static void test_resume_percent_encoded(void **state)
{
	(void)state;
	assert_resume("since=%31%32&epoch=%30123456789abcde%66", HS_SINCE_NUMBER, 12, 1,
		      0x0123456789abcdefu);
	assert_resume("since=%61cked", HS_SINCE_ACKED, 0, 0, 0);
	assert_resume("since=n%6fw", HS_SINCE_NOW, 0, 0, 0);
	/* Decoded to something outside the allowed characters, or not decodable. */
	assert_query_refused("since=1%2B&epoch=" EPOCH, SINCE_BAD);
	assert_query_refused("since=1+&epoch=" EPOCH, SINCE_BAD);
	assert_query_refused("since=1%00&epoch=" EPOCH, SINCE_BAD);
	assert_query_refused("since=1%zz&epoch=" EPOCH, SINCE_BAD);
	assert_query_refused("since=acked&epoch=0123456789abcde%46", EPOCH_BAD);
	assert_query_refused("since=acked&epoch=0123456789abcde%00", EPOCH_BAD);
	assert_query_refused("since=acked&epoch=0123456789abcde%g0", EPOCH_BAD);
	/* A percent-encoded name stays refused as ambiguous. */
	assert_query_refused("%73ince=1&epoch=" EPOCH, "ambiguous query parameter name");
}

static void test_resume_since_malformed(void **state)
{
	static const char *const bad[] = {
		"since=", "since", "since=-1", "since=%2B1", "since=1a", "since=%201",
		"since=1.0", "since=0x1", "since=ACKED", "since=Now", "since=later",
		"since=acked1", "since=no",
	};
	char q[64];

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		(void)snprintf(q, sizeof q, "%s&epoch=" EPOCH, bad[i]);
		assert_query_refused(q, SINCE_BAD);
	}
}

static void test_resume_epoch_malformed(void **state)
{
	static const char *const bad[] = {
		"epoch=", "epoch", "epoch=0123456789abcde", "epoch=0123456789abcdef0",
		"epoch=0123456789ABCDEF", "epoch=0123456789abcdeF", "epoch=0123456789abcdeg",
		"epoch=0x23456789abcdef", "epoch=-123456789abcdef",
	};
	char q[64];

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		(void)snprintf(q, sizeof q, "since=1&%s", bad[i]);
		assert_query_refused(q, EPOCH_BAD);
	}
	/* Malformed is the reason even without since. */
	assert_query_refused("epoch=xyz", EPOCH_BAD);
}

static void test_resume_twice(void **state)
{
	(void)state;
	assert_query_refused("since=1&since=1&epoch=" EPOCH, "since is given twice");
	assert_query_refused("since=now&since", "since is given twice");
	assert_query_refused("since=1&epoch=" EPOCH "&epoch=" EPOCH, "epoch is given twice");
	assert_query_refused("since=acked&epoch&epoch=" EPOCH, "epoch is given twice");
}

static void test_resume_pairing(void **state)
{
	(void)state;
	assert_query_refused("since=5", "since needs epoch");
	assert_query_refused("since=9223372036854775807&x=epoch", "since needs epoch");
	assert_query_refused("epoch=" EPOCH, "epoch needs since");
	assert_query_refused("epoch=" EPOCH "&x=since", "epoch needs since");
}

static void test_xff_kept(void **state)
{
	(void)state;
	assert_int_equal(parse_target("/ws?uid=a", "X-Forwarded-For: 203.0.113.7, 10.0.0.1\r\n"), 0);
	assert_string_equal(res.xff, "203.0.113.7, 10.0.0.1");
}

/* ---- Origin ---- */

static void test_origin_absent(void **state)
{
	(void)state;
	memset(&res, 0x5A, sizeof res); /* hs_parse clears what a previous parse left */
	assert_int_equal(parse_target("/ws?uid=a", ""), 0);
	assert_int_equal(res.has_origin, 0);
	assert_int_equal(res.origin_len, 0);
	assert_string_equal(res.origin, "");
}

static void test_origin_kept(void **state)
{
	(void)state;
	assert_int_equal(parse_target("/ws?uid=a", "origin:   https://App.example:8443 \t\r\n"), 0);
	assert_int_equal(res.has_origin, 1);
	assert_string_equal(res.origin, "https://App.example:8443"); /* as sent, trimmed */
	assert_int_equal(res.origin_len, strlen(res.origin));
	assert_int_equal(parse_target("/ws?uid=a", "Origin: null\r\n"), 0);
	assert_string_equal(res.origin, "null");
	/* Present but empty is not absent: it matches no allowed origin. */
	assert_int_equal(parse_target("/ws?uid=a", "Origin:\r\n"), 0);
	assert_int_equal(res.has_origin, 1);
	assert_int_equal(res.origin_len, 0);
	/* Read with the other headers: a refusal of the query still names it (for
	 * the log), one decided earlier does not. */
	assert_int_equal(parse_target("/ws", "Origin: https://a.example\r\n"), 400);
	assert_string_equal(res.origin, "https://a.example");
	assert_int_equal(parse_target("/wss?uid=a", "Origin: https://a.example\r\n"), 404);
	assert_int_equal(res.has_origin, 0);
	assert_string_equal(res.origin, "");
}

static void test_origin_rules(void **state)
{
	char extra[HS_ORIGIN_MAX + 32], origin[HS_ORIGIN_MAX + 2];

	(void)state;
	assert_int_equal(parse_target("/ws?uid=a", "Origin: https://a.example\r\n"
				      "Origin: https://a.example\r\n"), 400);
	assert_refused(400, "Origin is given twice");
	assert_int_equal(parse_target("/ws?uid=a", "Origin: https://a.example\r\nORIGIN: x\r\n"),
			 400);
	assert_refused(400, "Origin is given twice");
	/* HS_ORIGIN_MAX bytes are kept whole; one more is refused, never cut. */
	memset(origin, 'a', sizeof origin);
	memcpy(origin, "https://", 8);
	origin[HS_ORIGIN_MAX] = '\0';
	snprintf(extra, sizeof extra, "Origin: %s\r\n", origin);
	assert_int_equal(parse_target("/ws?uid=a", extra), 0);
	assert_int_equal(res.origin_len, HS_ORIGIN_MAX);
	assert_string_equal(res.origin, origin);
	origin[HS_ORIGIN_MAX] = 'a';
	origin[HS_ORIGIN_MAX + 1] = '\0';
	snprintf(extra, sizeof extra, "Origin: %s\r\n", origin);
	assert_int_equal(parse_target("/ws?uid=a", extra), 400);
	assert_refused(400, "Origin is too long");
	assert_int_equal(parse_target("/ws?uid=a", "Origin: https://a.example\x01\r\n"), 400);
	assert_refused(400, "control characters");
	/* lws never sees it: the accept router has decided by then. */
	assert_int_equal(parse_target("/ws?uid=a", "Origin: https://a.example\r\n"), 0);
	assert_null(memmem(res.lws, res.lws_len, "Origin", 6));
}

/* hs_origin_allowed on a parse of "Origin: <origin>" (NULL: no Origin header). */
static int allowed(const char *origin, const char *list)
{
	char extra[HS_ORIGIN_MAX + 32];

	if (origin)
		snprintf(extra, sizeof extra, "Origin: %s\r\n", origin);
	assert_int_equal(parse_target("/ws?uid=a", origin ? extra : ""), 0);
	return hs_origin_allowed(&res, list);
}

static void test_origin_allowed(void **state)
{
	static const char list[] = "https://app.example\nhttp://localhost:8080\nhttps://[::1]";

	(void)state;
	/* No list: any origin, as before allowed_origins existed. */
	assert_true(allowed("https://evil.example", NULL));
	assert_true(allowed("https://evil.example", ""));
	/* No Origin: not a browser, allowed whatever the list. */
	assert_true(allowed(NULL, list));
	/* Listed, in any case (browsers send lowercase; others may not). */
	assert_true(allowed("https://app.example", list));
	assert_true(allowed("HTTPS://APP.Example", list));
	assert_true(allowed("http://localhost:8080", list));
	assert_true(allowed("https://[::1]", list));
	/* Anything else, however close. */
	assert_false(allowed("https://evil.example", list));
	assert_false(allowed("http://app.example", list));
	assert_false(allowed("https://app.example:443", list));
	assert_false(allowed("https://app.example.evil.example", list));
	assert_false(allowed("https://app.exampl", list));
	assert_false(allowed("https://app.example/", list));
	assert_false(allowed("http://localhost:808", list));
	assert_false(allowed("http://localhost:80800", list));
	assert_false(allowed("https://app.example http://localhost:8080", list));
	assert_false(allowed("", list));
	assert_false(allowed("null", list));
	/* "null" only when listed. */
	assert_true(allowed("null", "https://app.example\nnull"));
	assert_true(allowed("null", "null"));
	assert_false(allowed("https://app.example", "null"));
}

static void test_head_bounds(void **state)
{
	char *big = malloc(HS_HEAD_MAX + 1);

	(void)state;
	assert_non_null(big);
	assert_int_equal(hs_head_len("GET / HTTP/1.1\r\n\r\nxyz", 21), 18);
	assert_int_equal(hs_head_len("GET / HTTP/1.1\r\n\r", 17), 0);
	assert_int_equal(hs_head_len("", 0), 0);
	memset(big, 'a', HS_HEAD_MAX + 1);
	memcpy(big + HS_HEAD_MAX - 3, "\r\n\r\n", 4);
	assert_int_equal(hs_parse(big, HS_HEAD_MAX + 1, 256, &res), 431);
	assert_int_equal(parse("GET /ws?uid=a HTTP/1.1\r\n" GOOD_HDRS), 400); /* no blank line */
	free(big);
}

static void test_status_texts(void **state)
{
	static const int codes[] = { 400, 403, 404, 405, 413, 426, 431, 503, 505 };

	(void)state;
	for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
		assert_string_not_equal(hs_status_text(codes[i]), "Error");
	assert_string_equal(hs_extra_header(HS_EXTRA_NONE), "");
	assert_string_equal(hs_status_text(403), "Forbidden");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_handshake),
		cmocka_unit_test(test_rewritten_head_is_minimal),
		cmocka_unit_test(test_long_extension_offer_is_dropped),
		cmocka_unit_test(test_missing_key_is_not_a_refusal),
		cmocka_unit_test(test_method),
		cmocka_unit_test(test_body_refused_before_method),
		cmocka_unit_test(test_version_line),
		cmocka_unit_test(test_path),
		cmocka_unit_test(test_upgrade_and_connection),
		cmocka_unit_test(test_websocket_version),
		cmocka_unit_test(test_websocket_key),
		cmocka_unit_test(test_host),
		cmocka_unit_test(test_header_syntax),
		cmocka_unit_test(test_query_uid_rules),
		cmocka_unit_test(test_query_ambiguity),
		cmocka_unit_test(test_query_key_rules),
		cmocka_unit_test(test_resume_absent),
		cmocka_unit_test(test_resume_number),
		cmocka_unit_test(test_resume_words),
		cmocka_unit_test(test_resume_percent_encoded),
		cmocka_unit_test(test_resume_since_malformed),
		cmocka_unit_test(test_resume_epoch_malformed),
		cmocka_unit_test(test_resume_twice),
		cmocka_unit_test(test_resume_pairing),
		cmocka_unit_test(test_xff_kept),
		cmocka_unit_test(test_origin_absent),
		cmocka_unit_test(test_origin_kept),
		cmocka_unit_test(test_origin_rules),
		cmocka_unit_test(test_origin_allowed),
		cmocka_unit_test(test_head_bounds),
		cmocka_unit_test(test_status_texts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
