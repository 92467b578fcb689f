/* SPDX-License-Identifier: MIT */
/* libFuzzer driver for shared/hs.c: any request head is refused with a known status or
 * accepted with a uid that req.c reads the same way, a consistent resume point (since,
 * epoch), the Origin it carried (hs_origin_allowed consistent with it) and a minimal
 * head for lws. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz_check.h"
#include "hs.h"
#include "req.h"

static struct hs_result res;

static int known_status(int s)
{
	return s == 400 || s == 404 || s == 405 || s == 413 || s == 426 || s == 431 || s == 505;
}

/* The query of the request line: what hs_parse read uid, since and epoch from. */
static void query_of(const char *head, size_t len, const char **qs, size_t *qn)
{
	const char *sp = memchr(head, ' ', len), *end, *q;

	FUZZ_CHECK(sp != NULL);
	end = memchr(sp + 1, ' ', len - (size_t)(sp + 1 - head));
	FUZZ_CHECK(end != NULL);
	q = memchr(sp + 1, '?', (size_t)(end - sp - 1));
	FUZZ_CHECK(q != NULL);
	*qs = q + 1;
	*qn = (size_t)(end - q - 1);
}

/* The accepted uid is what req_query_get reads from the request line's query. */
static void check_same_uid(const char *qs, size_t qn)
{
	char uid[REQ_UID_MAX + 1];
	size_t ul = 0;

	FUZZ_CHECK(req_query_get(qs, qn, "uid", uid, sizeof uid, &ul) == REQ_OK);
	FUZZ_CHECK(ul == res.uid_len && memcmp(uid, res.uid, ul) == 0);
}

/* A resume point is reported exactly when the query has it, and is consistent. */
static void check_resume(const char *qs, size_t qn)
{
	char v[32];
	size_t vl = 0;
	int has_since = req_query_get(qs, qn, "since", v, sizeof v, &vl) != REQ_ABSENT;
	int has_epoch = req_query_get(qs, qn, "epoch", v, sizeof v, &vl) != REQ_ABSENT;

	FUZZ_CHECK((unsigned)res.since_kind <= HS_SINCE_NOW);
	FUZZ_CHECK(has_since == (res.since_kind != HS_SINCE_NONE));
	FUZZ_CHECK(has_epoch == res.has_epoch);
	FUZZ_CHECK(res.since <= INT64_MAX);
	FUZZ_CHECK(res.since_kind == HS_SINCE_NUMBER || res.since == 0);
	FUZZ_CHECK(res.since_kind != HS_SINCE_NUMBER || res.has_epoch);
	FUZZ_CHECK(res.since_kind != HS_SINCE_NONE || !res.has_epoch);
	FUZZ_CHECK(res.has_epoch || res.epoch == 0);
}

/* The Origin is kept whole or not at all, and matches exactly the lists naming it. */
static void check_origin(void)
{
	char list[2 * HS_ORIGIN_MAX + 32];

	FUZZ_CHECK(res.has_origin == 0 || res.has_origin == 1);
	FUZZ_CHECK(res.origin_len <= HS_ORIGIN_MAX && res.origin[res.origin_len] == '\0');
	FUZZ_CHECK(res.has_origin || res.origin_len == 0);
	FUZZ_CHECK(strlen(res.origin) == res.origin_len);
	FUZZ_CHECK(memchr(res.origin, '\n', res.origin_len) == NULL);
	FUZZ_CHECK(hs_origin_allowed(&res, NULL) && hs_origin_allowed(&res, ""));
	if (!res.has_origin) {
		FUZZ_CHECK(hs_origin_allowed(&res, "https://a.example"));
		return;
	}
	FUZZ_CHECK(hs_origin_allowed(&res, "null") ==
		   (res.origin_len == 4 && strncasecmp(res.origin, "null", 4) == 0));
	if (res.origin_len == 0)
		return;
	snprintf(list, sizeof list, "https://x.example\n%s", res.origin);
	FUZZ_CHECK(hs_origin_allowed(&res, list));
	snprintf(list, sizeof list, "%sx\nx%s", res.origin, res.origin);
	FUZZ_CHECK(!hs_origin_allowed(&res, list));
}

static void check_accepted(const char *head, size_t len, size_t max_uid)
{
	static const char start[] = "GET /ws HTTP/1.1\r\n";
	const char *qs;
	size_t qn;

	FUZZ_CHECK(res.reason == NULL && res.extra == HS_EXTRA_NONE);
	FUZZ_CHECK(req_uid_problem(res.uid, res.uid_len, max_uid) == NULL);
	FUZZ_CHECK(res.uid[res.uid_len] == '\0' && res.key[res.key_len] == '\0');
	FUZZ_CHECK(res.key_len <= HS_KEY_MAX);
	for (size_t i = 0; i < res.key_len; i++)
		FUZZ_CHECK((uint8_t)res.key[i] >= 0x20 && (uint8_t)res.key[i] != 0x7F);
	/* lws gets a fixed request line, no query and one complete head. */
	FUZZ_CHECK(res.lws_len > sizeof start && res.lws_len <= HS_LWS_MAX);
	FUZZ_CHECK(memcmp(res.lws, start, sizeof start - 1) == 0);
	FUZZ_CHECK(memchr(res.lws, '?', res.lws_len) == NULL);
	FUZZ_CHECK(hs_head_len(res.lws, res.lws_len) == res.lws_len);
	query_of(head, len, &qs, &qn);
	check_same_uid(qs, qn);
	check_resume(qs, qn);
	check_origin();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t max_uid, hl;
	char *head;
	int rc;

	if (size < 1)
		return 0;
	max_uid = (size_t)data[0] + 1;
	data++;
	size--;
	hl = hs_head_len((const char *)data, size);
	if (hl == 0)
		return 0;
	/* An exactly sized copy: ASan sees any read past the head. */
	head = malloc(hl);
	FUZZ_CHECK(head != NULL);
	memcpy(head, data, hl);
	rc = hs_parse(head, hl, max_uid, &res);
	FUZZ_CHECK(rc == res.status);
	if (rc == 0)
		check_accepted(head, hl, max_uid);
	else
		FUZZ_CHECK(known_status(rc) && res.reason != NULL && res.reason[0] != '\0');
	free(head);
	return 0;
}
