/* SPDX-License-Identifier: MIT */
/* libFuzzer driver for shared/climsg.c: every text a subscriber may send gets exactly one
 * of the three answers, with the outputs that answer promises, the same one every time,
 * and the one jansson's own reading of the text calls for; error frames built from any
 * reason are whole JSON carrying it, or nothing. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "climsg.h"
#include "fuzz_check.h"

/* Reasons are static strings: only a handful of distinct pointers may ever show up
 * (a pointer into the input or the heap would differ from run to run). */
#define REASONS_MAX 8
static const char *reasons[REASONS_MAX];
static size_t n_reasons;

static void check_reason(const char *r, const uint8_t *data, size_t size)
{
	size_t i;

	FUZZ_CHECK(r != NULL);
	FUZZ_CHECK(!((const uint8_t *)r >= data && (const uint8_t *)r < data + size));
	FUZZ_CHECK(r[0] != '\0' && strlen(r) < 200);
	for (i = 0; i < n_reasons && reasons[i] != r; i++)
		;
	if (i == n_reasons) {
		FUZZ_CHECK(n_reasons < REASONS_MAX);
		reasons[n_reasons++] = r;
	}
}

/* The answer climsg.h describes, read off jansson with the daemon's flags. */
static enum climsg_kind model(const uint8_t *data, size_t size, uint64_t *number)
{
	size_t i = 0;
	json_t *doc, *ack;
	enum climsg_kind k = CLIMSG_BAD;

	*number = 0;
	if (size > CLIMSG_MAX)
		return CLIMSG_OTHER;
	while (i < size && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n'))
		i++;
	if (i == size || data[i] != '{')
		return CLIMSG_OTHER;
	doc = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	if (!doc)
		return CLIMSG_BAD;
	FUZZ_CHECK(json_is_object(doc)); /* it starts with '{' */
	ack = json_object_get(doc, "ack");
	if (json_object_size(doc) == 1 && json_is_integer(ack) && json_integer_value(ack) >= 0) {
		*number = (uint64_t)json_integer_value(ack);
		k = CLIMSG_ACK;
	}
	json_decref(doc);
	return k;
}

static enum climsg_kind parse(const uint8_t *data, size_t size, uint64_t *number,
			      const char **reason)
{
	/* Junk first: the parser must set both outputs on every path. */
	*number = 0xdeadbeef;
	*reason = "junk";
	return climsg_parse((const char *)data, size, number, reason);
}

/* climsg_error_json(reason): 0, or exactly {"control":"error","reason":reason}. */
static void check_error_json(const char *reason, int must_fit)
{
	char out[512];
	size_t n = climsg_error_json(reason, out, sizeof out);
	json_t *doc;

	FUZZ_CHECK(n <= sizeof out);
	FUZZ_CHECK(n > 0 || !must_fit);
	if (n == 0)
		return;
	doc = json_loadb(out, n, JSON_REJECT_DUPLICATES, NULL);
	FUZZ_CHECK(doc != NULL && json_object_size(doc) == 2);
	FUZZ_CHECK(strcmp(json_string_value(json_object_get(doc, "control")), "error") == 0);
	FUZZ_CHECK(strcmp(json_string_value(json_object_get(doc, "reason")), reason) == 0);
	json_decref(doc);
	/* One byte short of the frame: nothing, never a cut frame. */
	FUZZ_CHECK(climsg_error_json(reason, out, n - 1) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t number, number2, want;
	const char *reason, *reason2;
	enum climsg_kind k = parse(data, size, &number, &reason);

	FUZZ_CHECK(k == CLIMSG_OTHER || k == CLIMSG_ACK || k == CLIMSG_BAD);
	switch (k) {
	case CLIMSG_ACK:
		FUZZ_CHECK(number <= INT64_MAX);
		FUZZ_CHECK(reason == NULL);
		break;
	case CLIMSG_BAD:
		FUZZ_CHECK(number == 0);
		check_reason(reason, data, size);
		check_error_json(reason, 1);
		break;
	default:
		FUZZ_CHECK(number == 0);
		FUZZ_CHECK(reason == NULL);
		break;
	}
	if (size > CLIMSG_MAX)
		FUZZ_CHECK(k == CLIMSG_OTHER);

	/* Same text, same answer (no state between calls). */
	FUZZ_CHECK(parse(data, size, &number2, &reason2) == k);
	FUZZ_CHECK(number2 == number && reason2 == reason);

	FUZZ_CHECK(model(data, size, &want) == k);
	FUZZ_CHECK(want == number);

	/* JSON whitespace ahead of the text changes nothing (within the bound). */
	if (size < CLIMSG_MAX) {
		uint8_t *ws = malloc(size + 1);

		FUZZ_CHECK(ws != NULL);
		ws[0] = "\t\n\r "[size & 3];
		if (size)
			memcpy(ws + 1, data, size);
		FUZZ_CHECK(parse(ws, size + 1, &number2, &reason2) == k);
		FUZZ_CHECK(number2 == number && reason2 == reason);
		free(ws);
	}

	/* The number of an acknowledgement reads back as the same acknowledgement. */
	if (k == CLIMSG_ACK) {
		char canon[40];
		int n = snprintf(canon, sizeof canon, "{\"ack\":%" PRIu64 "}", number);

		FUZZ_CHECK(n > 0 && (size_t)n < sizeof canon);
		FUZZ_CHECK(parse((const uint8_t *)canon, (size_t)n, &number2, &reason2) ==
			   CLIMSG_ACK);
		FUZZ_CHECK(number2 == number);
	}

	/* The input as a reason (up to its first NUL): invalid UTF-8 or too long gives 0. */
	if (size < 400) {
		char *r = malloc(size + 1);

		FUZZ_CHECK(r != NULL);
		if (size)
			memcpy(r, data, size);
		r[size] = '\0';
		check_error_json(r, 0);
		free(r);
	}
	return 0;
}
