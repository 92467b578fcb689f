/* SPDX-License-Identifier: MIT */
/* Access keys: stateless, signed tokens that let one uid open /ws until they expire.
 * Format "v2.<expiry>.<kid>.<uid tag>.<sig>": they name their secret and their uid. */
#ifndef PUSH_AKEY_H
#define PUSH_AKEY_H

#include <stddef.h>
#include <time.h>

#define AKEY_SECRET_LEN 32
#define AKEY_TAG_LEN 8  /* hex digits of the key id and of the uid tag */
#define AKEY_SIG_B64_LEN 43 /* 32 bytes, base64url without padding */
/* "v2." + 18 digits + "." + kid + "." + tag + "." + sig + NUL */
#define AKEY_MAX_LEN (3 + 18 + 1 + AKEY_TAG_LEN + 1 + AKEY_TAG_LEN + 1 + AKEY_SIG_B64_LEN + 1)

enum akey_status {
	AKEY_OK = 0,
	AKEY_MISSING,        /* empty key */
	AKEY_MALFORMED,      /* not of the v2 shape */
	AKEY_UNKNOWN_SECRET, /* signed with a secret that is not (or no longer) in use */
	AKEY_OTHER_UID,      /* a key of another uid */
	AKEY_BAD_SIGNATURE,  /* tampered with */
	AKEY_EXPIRED,
	AKEY_REVOKED,        /* valid, but its uid was kicked with revoke (the daemon's check) */
};

/* The secrets a verifier accepts: the current one, and during a rotation the
 * previous one until prev_until (unix seconds; 0 or NULL prev: none). */
struct akey_secrets {
	const unsigned char *cur;  /* AKEY_SECRET_LEN bytes */
	const unsigned char *prev; /* AKEY_SECRET_LEN bytes, or NULL */
	long long prev_until;
};

/* Writes a NUL-terminated key valid until now + ttl into out (out_len >=
 * AKEY_MAX_LEN). Returns its length, or 0 if out is too small. */
size_t akey_issue(const unsigned char secret[AKEY_SECRET_LEN], const char *uid, size_t uid_len,
		  time_t now, long ttl, char *out, size_t out_len);

/* Checks key for uid at time now against the secrets in s; the signature
 * comparison is constant time. The status says truthfully what is wrong, in
 * this order: shape, secret, uid, signature, expiry. */
enum akey_status akey_verify(const struct akey_secrets *s, const char *uid, size_t uid_len,
			     const char *key, size_t key_len, time_t now);

/* The expiry (unix seconds) a key of the v2 shape carries; -1 when it has not
 * that shape. Meaningful only for a key akey_verify accepted. */
int akey_expiry(const char *key, size_t key_len, long long *expiry);

/* A short English reason for logs and client error frames; static storage. */
const char *akey_status_str(enum akey_status st);

/* Constant-time equality of two byte strings (length leaks, content does not). */
int akey_secure_equal(const void *a, size_t a_len, const void *b, size_t b_len);

#endif
