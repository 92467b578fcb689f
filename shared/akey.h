/* Access keys: stateless, signed tokens that let one uid open /ws until they expire.
 * Format "v1.<expiry unix seconds>.<base64url HMAC-SHA256(secret, "v1|" uid "|" expiry)>". */
#ifndef PUSH_AKEY_H
#define PUSH_AKEY_H

#include <stddef.h>
#include <time.h>

#define AKEY_SECRET_LEN 32
#define AKEY_MAX_LEN 80 /* "v1." + 20 digits + "." + 43 + NUL, rounded up */

enum akey_status {
	AKEY_OK = 0,
	AKEY_MISSING,       /* empty key */
	AKEY_MALFORMED,     /* not of the v1 shape */
	AKEY_BAD_SIGNATURE, /* tampered, or issued for another uid or secret */
	AKEY_EXPIRED,
};

/* Writes a NUL-terminated key valid until now + ttl into out (out_len >=
 * AKEY_MAX_LEN). Returns its length, or 0 if out is too small. */
size_t akey_issue(const unsigned char secret[AKEY_SECRET_LEN], const char *uid, size_t uid_len,
		  time_t now, long ttl, char *out, size_t out_len);

/* Checks key for uid at time now; the signature comparison is constant time. */
enum akey_status akey_verify(const unsigned char secret[AKEY_SECRET_LEN], const char *uid,
			     size_t uid_len, const char *key, size_t key_len, time_t now);

/* A short English reason for logs and client error frames; static storage. */
const char *akey_status_str(enum akey_status st);

/* Constant-time equality of two byte strings (length leaks, content does not). */
int akey_secure_equal(const void *a, size_t a_len, const void *b, size_t b_len);

#endif
