/* SPDX-License-Identifier: MIT */
/* Client messages: jansson reads anything that claims to be JSON, so a malformed
 * acknowledgement gets a precise answer instead of being taken for a heartbeat. */
#include "climsg.h"

#include <string.h>

#include <jansson.h>

static int climsg_is_object(const char *text, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n')
			continue;
		return text[i] == '{';
	}
	return 0;
}

static enum climsg_kind climsg_bad(const char **reason, const char *why)
{
	*reason = why;
	return CLIMSG_BAD;
}

enum climsg_kind climsg_parse(const char *text, size_t len, uint64_t *number,
			      const char **reason)
{
	json_t *doc, *ack;
	enum climsg_kind kind;

	*number = 0;
	*reason = NULL;
	if (len > CLIMSG_MAX || !climsg_is_object(text, len))
		return CLIMSG_OTHER;
	doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	if (!doc)
		return climsg_bad(reason, "not valid JSON; an acknowledgement is {\"ack\":N}");
	ack = json_object_get(doc, "ack");
	if (!ack || json_object_size(doc) != 1)
		kind = climsg_bad(reason, "unknown message; only {\"ack\":N} is understood");
	else if (!json_is_integer(ack) || json_integer_value(ack) < 0)
		kind = climsg_bad(reason, "ack must be a message number");
	else {
		*number = (uint64_t)json_integer_value(ack);
		kind = CLIMSG_ACK;
	}
	json_decref(doc);
	return kind;
}

size_t climsg_error_json(const char *reason, char *out, size_t cap)
{
	json_t *doc = json_pack("{s:s,s:s}", "control", "error", "reason", reason);
	size_t n = doc ? json_dumpb(doc, out, cap, JSON_COMPACT) : 0;

	json_decref(doc);
	return n <= cap ? n : 0;
}
