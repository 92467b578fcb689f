/* SPDX-License-Identifier: MIT */
/* Strict parse of a WebSocket opening handshake (RFC 6455 4.2.1, RFC 9112): the one
 * reading of the uid that routing, authentication and refusals all use. */
#include "hs.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* What the headers said, as slices of the head. */
struct hs_hdrs {
	const char *host, *wskey, *version, *origin;
	size_t host_len, wskey_len, version_len, origin_len;
	int host_n, wskey_n, version_n, origin_n;
	int upgrade_ws, conn_upgrade, body;
};

static int hs_fail(struct hs_result *r, int status, const char *reason, enum hs_extra e)
{
	r->status = status;
	r->reason = reason;
	r->extra = e;
	return status;
}

size_t hs_head_len(const char *buf, size_t n)
{
	const char *end = n >= 4 ? memmem(buf, n, "\r\n\r\n", 4) : NULL;

	return end ? (size_t)(end - buf) + 4 : 0;
}

const char *hs_status_text(int status)
{
	switch (status) {
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 413: return "Content Too Large";
	case 426: return "Upgrade Required";
	case 431: return "Request Header Fields Too Large";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "Error";
	}
}

const char *hs_extra_header(enum hs_extra e)
{
	switch (e) {
	case HS_EXTRA_ALLOW: return "Allow: GET";
	case HS_EXTRA_UPGRADE: return "Upgrade: websocket";
	case HS_EXTRA_VERSION: return "Sec-WebSocket-Version: 13";
	default: return "";
	}
}

static int hs_eq(const char *s, size_t n, const char *lit)
{
	return n == strlen(lit) && strncasecmp(s, lit, n) == 0;
}

/* RFC 9110 tchar. */
static int hs_tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* 1 if the comma-separated list v[0..n) holds `token` (case-insensitive). */
static int hs_has_token(const char *v, size_t n, const char *token)
{
	size_t i = 0;

	while (i < n) {
		size_t s, e;

		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		s = i;
		while (i < n && v[i] != ',')
			i++;
		e = i;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e > s && hs_eq(v + s, e - s, token))
			return 1;
	}
	return 0;
}

/* "0" (any number of zeros) is no body; other digits are one; else -1. */
static int hs_content_length(const char *v, size_t n)
{
	int body = 0;

	if (n == 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		body |= v[i] != '0';
	}
	return body;
}

static void hs_keep_xff(struct hs_result *r, const char *v, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o < HS_XFF_MAX; i++) {
		if (v[i] < 0x20 || v[i] > 0x7E)
			break;
		r->xff[o++] = v[i];
	}
	r->xff[o] = '\0';
}

/* One header line; 0 or a refusal status. */
static int hs_header(const char *line, size_t n, struct hs_hdrs *h, struct hs_result *r)
{
	const char *colon = memchr(line, ':', n), *v;
	size_t nl, vl;
	int cl;

	if (n && (line[0] == ' ' || line[0] == '\t'))
		return hs_fail(r, 400, "folded header lines are not accepted", HS_EXTRA_NONE);
	if (!colon || colon == line)
		return hs_fail(r, 400, "malformed header line", HS_EXTRA_NONE);
	nl = (size_t)(colon - line);
	for (size_t i = 0; i < nl; i++)
		if (!hs_tchar((unsigned char)line[i]))
			return hs_fail(r, 400, "malformed header name", HS_EXTRA_NONE);
	v = colon + 1;
	vl = n - nl - 1;
	while (vl && (*v == ' ' || *v == '\t'))
		v++, vl--;
	while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
		vl--;
	for (size_t i = 0; i < vl; i++) {
		unsigned char c = (unsigned char)v[i];

		if ((c < 0x20 && c != '\t') || c == 0x7F)
			return hs_fail(r, 400, "control characters in a header", HS_EXTRA_NONE);
	}
	if (hs_eq(line, nl, "host")) {
		h->host = v, h->host_len = vl, h->host_n++;
	} else if (hs_eq(line, nl, "upgrade")) {
		h->upgrade_ws |= hs_has_token(v, vl, "websocket");
	} else if (hs_eq(line, nl, "connection")) {
		h->conn_upgrade |= hs_has_token(v, vl, "upgrade");
	} else if (hs_eq(line, nl, "sec-websocket-key")) {
		h->wskey = v, h->wskey_len = vl, h->wskey_n++;
	} else if (hs_eq(line, nl, "sec-websocket-version")) {
		h->version = v, h->version_len = vl, h->version_n++;
	} else if (hs_eq(line, nl, "content-length")) {
		cl = hs_content_length(v, vl);
		if (cl < 0)
			return hs_fail(r, 400, "malformed Content-Length", HS_EXTRA_NONE);
		h->body |= cl;
	} else if (hs_eq(line, nl, "transfer-encoding")) {
		h->body = 1;
	} else if (hs_eq(line, nl, "origin")) {
		h->origin = v, h->origin_len = vl, h->origin_n++;
	} else if (hs_eq(line, nl, "x-forwarded-for")) {
		hs_keep_xff(r, v, vl);
	}
	return 0;
}

static int hs_b64(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/';
}

/* Base64 of exactly 16 bytes: 22 symbols, the last with its 4 padding bits zero, "==". */
static int hs_wskey_ok(const char *k, size_t n)
{
	if (n != HS_WSKEY_LEN || k[22] != '=' || k[23] != '=')
		return 0;
	for (size_t i = 0; i < 22; i++)
		if (!hs_b64(k[i]))
			return 0;
	return strchr("AQgw", k[21]) != NULL;
}

/* RFC 3986 authority without userinfo: reg-name or IP literal, then ":port". */
static int hs_host_ok(const char *h, size_t n)
{
	if (n == 0 || n > HS_HOST_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = h[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c && strchr("-._~%!$&'()*+,;=:[]", c))))
			return 0;
	}
	return 1;
}

/* At most one Origin, kept whole for the allowed_origins check: a shortened one
 * could match an allowed origin it is not. 0 or a refusal. */
static int hs_origin(const struct hs_hdrs *h, struct hs_result *r)
{
	if (h->origin_n == 0)
		return 0;
	if (h->origin_n > 1)
		return hs_fail(r, 400, "Origin is given twice", HS_EXTRA_NONE);
	if (h->origin_len > HS_ORIGIN_MAX)
		return hs_fail(r, 400, "Origin is too long", HS_EXTRA_NONE);
	memcpy(r->origin, h->origin, h->origin_len);
	r->origin[h->origin_len] = '\0';
	r->origin_len = h->origin_len;
	r->has_origin = 1;
	return 0;
}

/* Host, Upgrade, Connection, version, key, Origin: 0 or a refusal. */
static int hs_check_headers(const struct hs_hdrs *h, struct hs_result *r)
{
	if (h->host_n != 1 || !hs_host_ok(h->host, h->host_len))
		return hs_fail(r, 400, "one valid Host header is required", HS_EXTRA_NONE);
	if (!h->upgrade_ws || !h->conn_upgrade)
		return hs_fail(r, 426, "this is a WebSocket endpoint; upgrade required",
			       HS_EXTRA_UPGRADE);
	if (h->version_n != 1 || !hs_eq(h->version, h->version_len, "13"))
		return hs_fail(r, 426, "Sec-WebSocket-Version 13 is required", HS_EXTRA_VERSION);
	if (h->wskey_n == 0 || h->wskey_len == 0)
		return hs_fail(r, 400, "Sec-WebSocket-Key is missing", HS_EXTRA_NONE);
	if (h->wskey_n != 1 || !hs_wskey_ok(h->wskey, h->wskey_len))
		return hs_fail(r, 400, "Sec-WebSocket-Key is not base64 of 16 bytes", HS_EXTRA_NONE);
	return hs_origin(h, r);
}

/* The names hs_query reads, each at most once. A uid or key without '=' is refused by
 * name; since and epoch without '=' are empty, and so refused as malformed values. */
static const struct hs_param {
	const char *name, *twice, *no_eq;
} hs_params[] = {
	{ "uid", "uid is given twice", "uid has no '='" },
	{ "access_key", "access_key is given twice", "access_key has no '='" },
	{ "since", "since is given twice", NULL },
	{ "epoch", "epoch is given twice", NULL },
};

#define HS_NPARAMS (sizeof hs_params / sizeof hs_params[0])

/* The index in hs_params of the name s[0..n), or HS_NPARAMS. */
static size_t hs_param_index(const char *s, size_t n)
{
	size_t k = 0;

	while (k < HS_NPARAMS &&
	       !(n == strlen(hs_params[k].name) && memcmp(s, hs_params[k].name, n) == 0))
		k++;
	return k;
}

/* Names that another parser could read differently are refused, as are repeats. */
static int hs_query_names(const char *qs, size_t n, struct hs_result *r)
{
	int seen[HS_NPARAMS] = { 0 };
	size_t i = 0, k;

	while (i < n) {
		const char *pair = qs + i, *amp = memchr(pair, '&', n - i);
		size_t pl = amp ? (size_t)(amp - pair) : n - i;
		const char *eq = memchr(pair, '=', pl);
		size_t nl = eq ? (size_t)(eq - pair) : pl;

		i += pl + 1;
		if (memchr(pair, '%', nl) || memchr(pair, ';', nl))
			return hs_fail(r, 400, "ambiguous query parameter name", HS_EXTRA_NONE);
		k = hs_param_index(pair, nl);
		if (k == HS_NPARAMS)
			continue;
		if (!eq && hs_params[k].no_eq)
			return hs_fail(r, 400, hs_params[k].no_eq, HS_EXTRA_NONE);
		seen[k]++;
	}
	for (k = 0; k < HS_NPARAMS; k++)
		if (seen[k] > 1)
			return hs_fail(r, 400, hs_params[k].twice, HS_EXTRA_NONE);
	return 0;
}

/* 1..HS_SINCE_DIGITS decimal digits (so v cannot wrap) of at most INT64_MAX: a number
 * any signed 64-bit reader keeps exact. */
static int hs_decimal(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;

	if (n == 0 || n > HS_SINCE_DIGITS)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > INT64_MAX)
		return 0;
	*out = v;
	return 1;
}

/* Exactly HS_EPOCH_LEN lowercase hex digits: one spelling per epoch. */
static int hs_hex64(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;

	if (n != HS_EPOCH_LEN)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c >= '0' && c <= '9')
			v = v << 4 | (uint64_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v = v << 4 | (uint64_t)(c - 'a' + 10);
		else
			return 0;
	}
	*out = v;
	return 1;
}

/* since: absent, a number, "acked" or "now" (case matters); 0 or a refusal. */
static int hs_since(const char *qs, size_t n, struct hs_result *r)
{
	static const char bad[] = "since must be a number, 'acked' or 'now'";
	char v[HS_SINCE_DIGITS + 1];
	size_t vl = 0;
	enum req_rc rc = req_query_get(qs, n, "since", v, sizeof v, &vl);

	if (rc == REQ_ABSENT)
		return 0;
	if (rc != REQ_OK)
		return hs_fail(r, 400, bad, HS_EXTRA_NONE);
	if (hs_decimal(v, vl, &r->since))
		r->since_kind = HS_SINCE_NUMBER;
	else if (vl == 5 && memcmp(v, "acked", 5) == 0)
		r->since_kind = HS_SINCE_ACKED;
	else if (vl == 3 && memcmp(v, "now", 3) == 0)
		r->since_kind = HS_SINCE_NOW;
	else
		return hs_fail(r, 400, bad, HS_EXTRA_NONE);
	return 0;
}

/* epoch: absent or HS_EPOCH_LEN lowercase hex digits; 0 or a refusal. */
static int hs_epoch(const char *qs, size_t n, struct hs_result *r)
{
	char v[HS_EPOCH_LEN + 1];
	size_t vl = 0;
	enum req_rc rc = req_query_get(qs, n, "epoch", v, sizeof v, &vl);

	if (rc == REQ_ABSENT)
		return 0;
	if (rc != REQ_OK || !hs_hex64(v, vl, &r->epoch))
		return hs_fail(r, 400, "epoch must be 16 hex digits", HS_EXTRA_NONE);
	r->has_epoch = 1;
	return 0;
}

/* The resume point: a number needs the epoch it counts in, and an epoch is only
 * read together with since; 0 or a refusal. */
static int hs_resume(const char *qs, size_t n, struct hs_result *r)
{
	if (hs_since(qs, n, r) != 0 || hs_epoch(qs, n, r) != 0)
		return r->status;
	if (r->since_kind == HS_SINCE_NUMBER && !r->has_epoch)
		return hs_fail(r, 400, "since needs epoch", HS_EXTRA_NONE);
	if (r->since_kind == HS_SINCE_NONE && r->has_epoch)
		return hs_fail(r, 400, "epoch needs since", HS_EXTRA_NONE);
	return 0;
}

static int hs_query(const char *qs, size_t n, size_t max_uid, struct hs_result *r)
{
	const char *why;
	enum req_rc rc;

	if (hs_query_names(qs, n, r) != 0)
		return r->status;
	rc = req_query_get(qs, n, "uid", r->uid, sizeof r->uid, &r->uid_len);
	if (rc != REQ_OK)
		return hs_fail(r, 400, rc == REQ_ABSENT ? "uid is missing"
				       : rc == REQ_TOO_LONG ? "uid is too long"
				       : "uid is badly encoded", HS_EXTRA_NONE);
	why = req_uid_problem(r->uid, r->uid_len, max_uid);
	if (why)
		return hs_fail(r, 400, why, HS_EXTRA_NONE);
	rc = req_query_get(qs, n, "access_key", r->key, sizeof r->key, &r->key_len);
	if (rc == REQ_TOO_LONG)
		return hs_fail(r, 400, "access_key is too long", HS_EXTRA_NONE);
	if (rc == REQ_BAD_ENCODING)
		return hs_fail(r, 400, "access_key is badly encoded", HS_EXTRA_NONE);
	if (rc == REQ_ABSENT)
		r->key[0] = '\0', r->key_len = 0;
	for (size_t i = 0; i < r->key_len; i++) {
		unsigned char c = (unsigned char)r->key[i];

		if (c < 0x20 || c == 0x7F)
			return hs_fail(r, 400, "access_key contains control characters",
				       HS_EXTRA_NONE);
	}
	return hs_resume(qs, n, r);
}

/* "<method> <target> HTTP/1.1": sets *target and *is_get; 0 or a refusal. */
static int hs_request_line(const char *line, size_t n, const char **target, size_t *tlen,
			   int *is_get, struct hs_result *r)
{
	const char *sp1 = memchr(line, ' ', n), *sp2;
	const char *ver;
	size_t vl;

	for (size_t i = 0; i < n; i++)
		if ((unsigned char)line[i] < 0x20 || (unsigned char)line[i] >= 0x7F)
			return hs_fail(r, 400, "malformed request line", HS_EXTRA_NONE);
	sp2 = sp1 ? memchr(sp1 + 1, ' ', n - (size_t)(sp1 + 1 - line)) : NULL;
	if (!sp1 || sp1 == line || !sp2 || sp2 == sp1 + 1 ||
	    memchr(sp2 + 1, ' ', n - (size_t)(sp2 + 1 - line)))
		return hs_fail(r, 400, "malformed request line", HS_EXTRA_NONE);
	ver = sp2 + 1;
	vl = n - (size_t)(ver - line);
	if (!(vl == 8 && memcmp(ver, "HTTP/1.1", 8) == 0))
		return vl == 8 && memcmp(ver, "HTTP/", 5) == 0 && ver[6] == '.'
			       ? hs_fail(r, 505, "HTTP/1.1 is required", HS_EXTRA_NONE)
			       : hs_fail(r, 400, "malformed request line", HS_EXTRA_NONE);
	*is_get = (size_t)(sp1 - line) == 3 && memcmp(line, "GET", 3) == 0;
	*target = sp1 + 1;
	*tlen = (size_t)(sp2 - sp1 - 1);
	if (**target != '/')
		return hs_fail(r, 400, "malformed request target", HS_EXTRA_NONE);
	return 0;
}

static int hs_rewrite(const struct hs_hdrs *h, struct hs_result *r)
{
	int n = snprintf(r->lws, sizeof r->lws,
			 "GET /ws HTTP/1.1\r\nHost: %.*s\r\nUpgrade: websocket\r\n"
			 "Connection: Upgrade\r\nSec-WebSocket-Key: %.*s\r\n"
			 "Sec-WebSocket-Version: 13\r\n\r\n",
			 (int)h->host_len, h->host, (int)h->wskey_len, h->wskey);

	/* Host and key are bounded above, so this only guards the arithmetic. */
	if (n < 0 || (size_t)n >= sizeof r->lws)
		return hs_fail(r, 400, "one valid Host header is required", HS_EXTRA_NONE);
	r->lws_len = (size_t)n;
	return 0;
}

int hs_parse(const char *head, size_t len, size_t max_uid, struct hs_result *r)
{
	struct hs_hdrs h = { 0 };
	const char *eol, *target = NULL, *q, *p;
	size_t tlen = 0, pl;
	int is_get = 0;

	memset(r, 0, offsetof(struct hs_result, uid));
	r->uid[0] = r->key[0] = r->xff[0] = r->origin[0] = '\0';
	r->uid_len = r->key_len = r->lws_len = 0;
	if (len > HS_HEAD_MAX)
		return hs_fail(r, 431, "request head too large", HS_EXTRA_NONE);
	if (hs_head_len(head, len) != len)
		return hs_fail(r, 400, "incomplete request head", HS_EXTRA_NONE);
	eol = memmem(head, len, "\r\n", 2);
	if (hs_request_line(head, (size_t)(eol - head), &target, &tlen, &is_get, r) != 0)
		return r->status;
	/* Header lines until the empty one that ends the head. */
	for (p = eol + 2; p < head + len - 2; p = eol + 2) {
		eol = memmem(p, (size_t)(head + len - p), "\r\n", 2);
		if (hs_header(p, (size_t)(eol - p), &h, r) != 0)
			return r->status;
	}
	/* A body first: a web server drops the connection after 413 rather than read
	 * the body to throw it away, so POST with a body is 413 everywhere. */
	if (h.body)
		return hs_fail(r, 413, "a WebSocket handshake has no body", HS_EXTRA_NONE);
	if (!is_get)
		return hs_fail(r, 405, "method not allowed; a WebSocket opens with GET",
			       HS_EXTRA_ALLOW);
	q = memchr(target, '?', tlen);
	pl = q ? (size_t)(q - target) : tlen;
	if (pl < 3 || memcmp(target + pl - 3, "/ws", 3) != 0)
		return hs_fail(r, 404, "not found", HS_EXTRA_NONE);
	if (hs_check_headers(&h, r) != 0)
		return r->status;
	if (hs_query(q ? q + 1 : "", q ? tlen - pl - 1 : 0, max_uid, r) != 0)
		return r->status;
	return hs_rewrite(&h, r);
}

/* 1 if origin[0..len) is one of the lines of list (case-insensitive). */
static int hs_origin_listed(const char *list, const char *origin, size_t len)
{
	const char *p = list;

	for (unsigned i = 0; *p && i < HS_ORIGINS_MAX; i++) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);

		if (n == len && strncasecmp(p, origin, len) == 0)
			return 1;
		p += nl ? n + 1 : n;
	}
	return 0;
}

int hs_origin_allowed(const struct hs_result *r, const char *allowed)
{
	if (!allowed || !allowed[0] || !r->has_origin)
		return 1;
	return hs_origin_listed(allowed, r->origin, r->origin_len);
}
