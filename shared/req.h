/* SPDX-License-Identifier: MIT */
/* Request parameters: query-string lookup with percent-decoding, and the uid rule
 * both sides enforce (non-empty, bounded, UTF-8, no control bytes). */
#ifndef PUSH_REQ_H
#define PUSH_REQ_H

#include <stddef.h>

#define REQ_UID_MAX 4096 /* the largest max_uid_bytes a configuration may set */

enum req_rc { REQ_OK = 0, REQ_ABSENT, REQ_TOO_LONG, REQ_BAD_ENCODING };

/*
 * Finds `name` in the query string qs[0..qs_len) and percent-decodes its first
 * value into out (NUL-terminated, '+' is a space, as Go and PHP read forms).
 * out_cap bounds the decoded length including the NUL; *out_len gets the
 * length. A value with a NUL byte or a bad %-escape is REQ_BAD_ENCODING.
 */
enum req_rc req_query_get(const char *qs, size_t qs_len, const char *name, char *out,
			  size_t out_cap, size_t *out_len);

/* 1 if s[0..len) is valid UTF-8, else 0 (no overlongs, surrogates or > U+10FFFF). */
int req_utf8_valid(const char *s, size_t len);

/* NULL when uid is acceptable, else a reason in English (static storage). */
const char *req_uid_problem(const char *uid, size_t len, size_t max_len);

/* The worker (0..n-1) that owns uid: every connection of a uid and every push
 * to it meet there, so its message numbers stay one sequence. FNV-1a. */
unsigned req_uid_shard(const char *uid, size_t len, unsigned n);

#endif
