/* SPDX-License-Identifier: MIT */
/* Response writing and request checks shared by /access and /push.
 * Every client mistake ends here as a JSON error with a fitting status. */
#include "api_http.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "wmsg.h"

static const char *api_status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 202: return "Accepted";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	}
	return "Unknown";
}

static void api_send(FCGX_Request *r, int status, const char *type, const char *extra_headers,
		     const char *body, size_t len)
{
	char head[512];
	/* libfcgi's own printf knows no %zu, so the head is formatted here. */
	int n = snprintf(head, sizeof head,
			 "Status: %d %s\r\n"
			 "Content-Type: %s\r\n"
			 "Cache-Control: no-store\r\n"
			 "Content-Length: %zu\r\n%s\r\n",
			 status, api_status_text(status), type, len, extra_headers ? extra_headers : "");

	if (n < 0 || (size_t)n >= sizeof head || len > INT_MAX) {
		log_err("response head does not fit");
		return;
	}
	if (FCGX_PutStr(head, n, r->out) != n ||
	    (len > 0 && FCGX_PutStr(body, (int)len, r->out) != (int)len))
		log_info("client went away before the response was written");
}

void api_respond(FCGX_Request *r, int status, const char *extra_headers, const char *body,
		 size_t len)
{
	api_send(r, status, "application/json; charset=utf-8", extra_headers, body, len);
}

void api_respond_typed(FCGX_Request *r, int status, const char *type, const char *body,
		       size_t len)
{
	api_send(r, status, type, NULL, body, len);
}

static void api_error_with(FCGX_Request *r, int status, const char *headers, const char *reason)
{
	size_t len = 0;
	char *body = wmsg_reply("error", 0, reason, &len);

	if (!body) {
		static const char oom[] = "{\"topic\":\"error\",\"number\":0,\"contents\":\"out of memory\"}";

		api_respond(r, 500, NULL, oom, sizeof oom - 1);
		return;
	}
	api_respond(r, status, headers, body, len);
	free(body);
}

void api_error(FCGX_Request *r, int status, const char *reason)
{
	api_error_with(r, status, NULL, reason);
}

void api_error_retry(FCGX_Request *r, int status, unsigned seconds, const char *reason)
{
	char hdr[40];

	(void)snprintf(hdr, sizeof hdr, "Retry-After: %u\r\n", seconds);
	api_error_with(r, status, hdr, reason);
}

void api_error_method(FCGX_Request *r, const char *allow)
{
	char hdr[64];

	(void)snprintf(hdr, sizeof hdr, "Allow: %s\r\n", allow);
	api_error_with(r, 405, hdr, "method not allowed");
}

const char *api_param(FCGX_Request *r, const char *name)
{
	const char *v = FCGX_GetParam(name, r->envp);

	return v ? v : "";
}

int api_is_json_type(const char *ct)
{
	static const char want[] = "application/json";
	size_t n;

	while (*ct == ' ' || *ct == '\t')
		ct++;
	n = strcspn(ct, "; \t");
	if (n != sizeof want - 1 || strncasecmp(ct, want, n) != 0)
		return 0;
	ct += n;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return *ct == '\0' || *ct == ';';
}

const char *api_bearer_token(const char *auth)
{
	while (*auth == ' ')
		auth++;
	if (strncasecmp(auth, "Bearer", 6) != 0 || (auth[6] != ' ' && auth[6] != '\t'))
		return NULL;
	auth += 6;
	while (*auth == ' ' || *auth == '\t')
		auth++;
	return *auth ? auth : NULL;
}

static int api_parse_size(const char *s, size_t *out)
{
	char *end;
	unsigned long long v;

	if (*s == '\0') {
		*out = 0;
		return 0;
	}
	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > SIZE_MAX)
		return -1;
	*out = (size_t)v;
	return 0;
}

enum api_body_rc api_read_body(FCGX_Request *r, char *buf, size_t cap, size_t *len)
{
	const char *declared = api_param(r, "CONTENT_LENGTH");
	size_t want, got = 0;

	if (api_parse_size(declared, &want) != 0)
		return API_BODY_BAD_LENGTH;
	if (want > cap)
		return API_BODY_TOO_LARGE;
	while (got < want) {
		size_t chunk = want - got > (1u << 20) ? (1u << 20) : want - got;
		int n = FCGX_GetStr(buf + got, (int)chunk, r->in);

		if (n <= 0)
			return API_BODY_SHORT;
		got += (size_t)n;
	}
	*len = got;
	/* Reads the empty stdin record the web server sends right after a body of
	 * declared length, so api_finish can see that nothing is left unread.
	 * (Without CONTENT_LENGTH a body may still be streaming: not waited for.) */
	if (declared[0] && FCGX_GetChar(r->in) != EOF)
		return API_BODY_BAD_LENGTH;
	return API_BODY_OK;
}

void api_finish(FCGX_Request *r)
{
	const char *cl = api_param(r, "CONTENT_LENGTH");
	size_t declared = 1;

	/* The response leaves first: nothing below may hold it back. */
	(void)FCGX_FFlush(r->out);
	/* A request declared without a body: its end-of-input record follows the
	 * params. (Without CONTENT_LENGTH a body may still be streaming: not read.) */
	if (!FCGX_HasSeenEOF(r->in) && cl[0] && api_parse_size(cl, &declared) == 0 &&
	    declared == 0)
		(void)FCGX_GetChar(r->in);
	/*
	 * libfcgi's close lingers: shutdown, then poll until the web server hangs
	 * up, one more sleep and wake-up per request. That guards against closing
	 * with input unread (the kernel then resets the connection and the web
	 * server may lose the response). With the input read to its end there is
	 * nothing to reset, so the connection is closed at once (a "detached"
	 * request skips the linger).
	 */
	if (FCGX_HasSeenEOF(r->in))
		(void)FCGX_Detach(r);
	else
		(void)FCGX_Attach(r); /* a kept connection must not stay detached */
	FCGX_Finish_r(r);
}

int api_is_demo_path(const char *uri)
{
	size_t n = strcspn(uri, "?");

	for (size_t i = 0; i + 6 <= n; i++)
		if (memcmp(uri + i, "/demo/", 6) == 0)
			return 1;
	return 0;
}

int api_addr_is_loopback(const char *addr)
{
	const char *colon = strrchr(addr, ':');
	size_t n = colon ? (size_t)(colon - addr) : strlen(addr);

	if (n >= 2 && addr[0] == '[' && addr[n - 1] == ']') {
		addr++;
		n -= 2;
	}
	if (n == 3 && memcmp(addr, "::1", 3) == 0)
		return 1;
	if (n == 9 && strncasecmp(addr, "localhost", 9) == 0)
		return 1;
	/* 127.0.0.0/8, written as a dotted quad */
	if (n < 7 || n > 15 || memcmp(addr, "127.", 4) != 0)
		return 0;
	for (size_t i = 4, dots = 0, digits = 0; i <= n; i++) {
		if (i == n || addr[i] == '.') {
			if (digits == 0 || digits > 3)
				return 0;
			if (i == n)
				return dots == 2;
			dots++;
			digits = 0;
		} else if (addr[i] >= '0' && addr[i] <= '9') {
			digits++;
		} else {
			return 0;
		}
	}
	return 0;
}

int api_demo_enabled(int cfg_demo, const char *env, const char *addr)
{
	if (cfg_demo)
		return 1;
	return env && strcmp(env, "1") == 0 && addr && api_addr_is_loopback(addr);
}
