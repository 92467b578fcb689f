/* SPDX-License-Identifier: MIT */
/* Query-string and uid checks shared by the FastCGI programs and ws-daemon,
 * so a uid accepted on /push is the same uid accepted on /ws. */
#include "req.h"

#include <stdint.h>
#include <string.h>

static int req_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static enum req_rc req_decode(const char *v, size_t n, char *out, size_t cap, size_t *out_len)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		char c = v[i];

		if (c == '+') {
			c = ' ';
		} else if (c == '%') {
			int hi, lo;

			if (n - i < 3)
				return REQ_BAD_ENCODING;
			hi = req_hexval(v[i + 1]);
			lo = req_hexval(v[i + 2]);
			if (hi < 0 || lo < 0)
				return REQ_BAD_ENCODING;
			c = (char)(hi << 4 | lo);
			i += 2;
		}
		if (c == '\0')
			return REQ_BAD_ENCODING;
		if (o + 1 >= cap)
			return REQ_TOO_LONG;
		out[o++] = c;
	}
	out[o] = '\0';
	*out_len = o;
	return REQ_OK;
}

enum req_rc req_query_get(const char *qs, size_t qs_len, const char *name, char *out,
			  size_t out_cap, size_t *out_len)
{
	size_t nl = strlen(name), i = 0;

	if (out_cap == 0)
		return REQ_TOO_LONG;
	while (i < qs_len) {
		const char *pair = qs + i;
		const char *amp = memchr(pair, '&', qs_len - i);
		size_t pl = amp ? (size_t)(amp - pair) : qs_len - i;

		if (pl > nl && memcmp(pair, name, nl) == 0 && pair[nl] == '=')
			return req_decode(pair + nl + 1, pl - nl - 1, out, out_cap, out_len);
		if (pl == nl && memcmp(pair, name, nl) == 0) {
			out[0] = '\0';
			*out_len = 0;
			return REQ_OK;
		}
		i += pl + 1;
	}
	return REQ_ABSENT;
}

int req_utf8_valid(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		size_t n;
		unsigned long cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF) {
			n = 1;
			cp = c & 0x1F;
		} else if (c >= 0xE0 && c <= 0xEF) {
			n = 2;
			cp = c & 0x0F;
		} else if (c >= 0xF0 && c <= 0xF4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return 0;
		}
		if (len - i <= n)
			return 0;
		for (size_t k = 1; k <= n; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + k] & 0x3F);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
		    (cp >= 0xD800 && cp <= 0xDFFF))
			return 0;
		i += n + 1;
	}
	return 1;
}

const char *req_uid_problem(const char *uid, size_t len, size_t max_len)
{
	if (len == 0)
		return "uid is missing";
	if (len > max_len)
		return "uid is too long";
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)uid[i];

		if (c < 0x20 || c == 0x7F)
			return "uid contains control characters";
	}
	if (!req_utf8_valid(uid, len))
		return "uid is not valid UTF-8";
	return NULL;
}

unsigned req_uid_shard(const char *uid, size_t len, unsigned n)
{
	uint64_t h = 1469598103934665603ULL;

	if (n <= 1)
		return 0;
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)uid[i];
		h *= 1099511628211ULL;
	}
	return (unsigned)(h % n);
}
