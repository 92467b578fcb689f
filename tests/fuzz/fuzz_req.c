/* SPDX-License-Identifier: MIT */
/* libFuzzer driver for shared/req.c: query-string lookup and percent-decoding, checked
 * against a small reference model, plus req_utf8_valid / req_uid_problem against Table 3-7. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "req.h"

static int hexv(uint8_t c)
{
	static const char digits[] = "0123456789abcdef0123456789ABCDEF";
	const char *p = c ? memchr(digits, c, sizeof digits - 1) : NULL;

	return p ? (int)((p - digits) & 15) : -1;
}

/* Reference decoder with unbounded output: 0 and *len, or -1 for a bad escape or NUL. */
static int model_decode(const char *v, size_t n, char *out, size_t *len)
{
	size_t o = 0, i = 0;

	while (i < n) {
		uint8_t c = (uint8_t)v[i];

		if (c == '%') {
			if (i + 2 >= n)
				return -1;
			if (hexv((uint8_t)v[i + 1]) < 0 || hexv((uint8_t)v[i + 2]) < 0)
				return -1;
			c = (uint8_t)(hexv((uint8_t)v[i + 1]) * 16 + hexv((uint8_t)v[i + 2]));
			i += 3;
		} else {
			if (c == '+')
				c = ' ';
			i++;
		}
		if (c == 0)
			return -1;
		out[o++] = (char)c;
	}
	*len = o;
	return 0;
}

/* First "name" or "name=value" pair of qs; 1 and the raw value when found. */
static int model_find(const char *qs, size_t qs_len, const char *name, const char **val,
		      size_t *val_len)
{
	size_t nl = strlen(name), start = 0;

	while (start < qs_len) {
		size_t end = start;

		while (end < qs_len && qs[end] != '&')
			end++;
		if (end - start == nl && memcmp(qs + start, name, nl) == 0) {
			*val = qs + end;
			*val_len = 0;
			return 1;
		}
		if (end - start > nl && memcmp(qs + start, name, nl) == 0 && qs[start + nl] == '=') {
			*val = qs + start + nl + 1;
			*val_len = end - start - nl - 1;
			return 1;
		}
		start = end + 1;
	}
	return 0;
}

/* Well-formed UTF-8 as in Unicode Table 3-7. */
static int model_utf8(const uint8_t *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint8_t c = s[i];
		uint8_t lo = 0x80, hi = 0xBF;
		size_t k;

		if (c <= 0x7F) {
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF)
			k = 1;
		else if (c >= 0xE0 && c <= 0xEF)
			k = 2;
		else if (c >= 0xF0 && c <= 0xF4)
			k = 3;
		else
			return 0;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
		else if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
		if (n - i - 1 < k)
			return 0;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return 0;
		for (size_t j = 2; j <= k; j++)
			if (s[i + j] < 0x80 || s[i + j] > 0xBF)
				return 0;
		i += k + 1;
	}
	return 1;
}

static void check_uid(const char *s, size_t n, size_t max)
{
	const char *why = req_uid_problem(s, n, max);
	int ok = n > 0 && n <= max && model_utf8((const uint8_t *)s, n);

	for (size_t i = 0; ok && i < n; i++)
		if ((uint8_t)s[i] < 0x20 || (uint8_t)s[i] == 0x7F)
			ok = 0;
	FUZZ_CHECK(ok == (why == NULL));
	FUZZ_CHECK(req_utf8_valid(s, n) == model_utf8((const uint8_t *)s, n));
}

/* req_query_get on an exactly sized output buffer, so ASan sees any write past out_cap. */
static enum req_rc get(const char *qs, size_t qs_len, const char *name, size_t cap, char **out,
		       size_t *out_len)
{
	*out = malloc(cap ? cap : 1);
	FUZZ_CHECK(*out != NULL);
	*out_len = (size_t)-1;
	return req_query_get(qs, qs_len, name, *out, cap, out_len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char name[17], *out, *ref;
	const char *qs, *raw = NULL;
	size_t cap, nl, qs_len, out_len, raw_len = 0, ref_len = 0, max_uid;
	enum req_rc rc;
	int found, mrc = 0;

	if (size < 3)
		return 0;
	cap = data[0];
	max_uid = data[1];
	nl = data[2] % 17;
	data += 3;
	size -= 3;
	if (nl > size)
		nl = size;
	memcpy(name, data, nl);
	name[nl] = '\0'; /* a NUL inside shortens the name, as strlen() does */
	qs = (const char *)data + nl;
	qs_len = size - nl; /* qs ends where libFuzzer's buffer ends */

	check_uid(qs, qs_len, max_uid);

	rc = get(qs, qs_len, name, cap, &out, &out_len);
	FUZZ_CHECK(rc == REQ_OK || rc == REQ_ABSENT || rc == REQ_TOO_LONG || rc == REQ_BAD_ENCODING);
	found = model_find(qs, qs_len, name, &raw, &raw_len);
	ref = malloc(raw_len + 1);
	FUZZ_CHECK(ref != NULL);
	if (found)
		mrc = model_decode(raw, raw_len, ref, &ref_len);

	if (rc == REQ_OK) {
		/* Fits out_cap with its NUL, holds no NUL, equals the reference decoding. */
		FUZZ_CHECK(found && mrc == 0);
		FUZZ_CHECK(out_len < cap && out[out_len] == '\0');
		FUZZ_CHECK(memchr(out, '\0', out_len) == NULL);
		FUZZ_CHECK(out_len == ref_len && memcmp(out, ref, ref_len) == 0);
	}
	if (cap == 0)
		FUZZ_CHECK(rc == REQ_TOO_LONG);
	else if (!found)
		FUZZ_CHECK(rc == REQ_ABSENT);
	else if (mrc == 0)
		FUZZ_CHECK(rc == (ref_len < cap ? REQ_OK : REQ_TOO_LONG));
	else
		FUZZ_CHECK(rc == REQ_BAD_ENCODING || (rc == REQ_TOO_LONG && cap <= raw_len));

	if (rc == REQ_OK) {
		size_t len = out_len;
		char *qs2 = malloc(nl + 1 + 3 * len), *o2;
		size_t q = 0, l2;

		/* The decoded value is acceptable or refused exactly like any uid. */
		check_uid(out, len, max_uid);
		/* Encoding the value again (spaces as '+', everything else but [0-9A-Za-z] as
		 * %XX) and looking it up gives it back, with exactly len + 1 bytes of room. */
		FUZZ_CHECK(qs2 != NULL);
		memcpy(qs2, name, strlen(name));
		q = strlen(name);
		qs2[q++] = '=';
		for (size_t i = 0; i < len; i++) {
			uint8_t c = (uint8_t)out[i];

			if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
				qs2[q++] = (char)c;
			} else if (c == ' ') {
				qs2[q++] = '+';
			} else {
				qs2[q++] = '%';
				qs2[q++] = "0123456789ABCDEF"[c >> 4];
				qs2[q++] = "0123456789abcdef"[c & 15];
			}
		}
		if (!memchr(name, '&', strlen(name))) {
			FUZZ_CHECK(get(qs2, q, name, len + 1, &o2, &l2) == REQ_OK);
			FUZZ_CHECK(l2 == len && memcmp(o2, out, len) == 0 && o2[len] == '\0');
			free(o2);
			FUZZ_CHECK(get(qs2, q, name, len, &o2, &l2) == REQ_TOO_LONG);
			free(o2);
		}
		free(qs2);
	}
	free(ref);
	free(out);
	return 0;
}
