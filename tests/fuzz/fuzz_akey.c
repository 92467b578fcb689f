/* libFuzzer driver for shared/akey.c: a key issued for (secret, uid, now) verifies, and no
 * other byte string (mutations of it, arbitrary keys, other uid/secret) ever verifies as OK. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "akey.h"
#include "fuzz_check.h"

static int is_b64url(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

/* "v1." digits (no leading zero) "." 43 base64url chars (any 43 bytes unless charset);
 * *expiry gets the digits' value. */
static int well_formed(const char *k, size_t n, long long *expiry, int charset)
{
	size_t i = 3, d;
	long long v = 0;

	if (n < 3 || memcmp(k, "v1.", 3) != 0)
		return 0;
	while (i < n && k[i] >= '0' && k[i] <= '9' && i - 3 < 18)
		v = v * 10 + (k[i++] - '0');
	d = i - 3;
	if (d == 0 || (d > 1 && k[3] == '0') || i >= n || k[i] != '.' || n - i - 1 != 43)
		return 0;
	for (size_t j = i + 1; charset && j < n; j++)
		if (!is_b64url(k[j]))
			return 0;
	*expiry = v;
	return 1;
}

/* A key verified as OK must be exactly what akey_issue gives for its own expiry. */
static void check_ok_means_issued(const unsigned char *secret, const char *uid, size_t uid_len,
				  const char *key, size_t key_len, time_t now)
{
	char canon[AKEY_MAX_LEN];
	long long expiry;
	size_t cl;

	if (akey_verify(secret, uid, uid_len, key, key_len, now) != AKEY_OK)
		return;
	FUZZ_CHECK(well_formed(key, key_len, &expiry, 1));
	FUZZ_CHECK(expiry >= (long long)now);
	cl = akey_issue(secret, uid, uid_len, (time_t)expiry, 0, canon, sizeof canon);
	FUZZ_CHECK(cl == key_len && memcmp(canon, key, key_len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rd r = { data, size };
	unsigned char secret[AKEY_SECRET_LEN], other[AKEY_SECRET_LEN];
	char key[AKEY_MAX_LEN], key2[AKEY_MAX_LEN], mut[AKEY_MAX_LEN + 8], *uid, *uid2;
	size_t klen, uid_len, mlen;
	time_t now;
	long ttl;
	long long expiry;
	uint8_t pos, x, op;

	for (size_t i = 0; i < sizeof secret; i++)
		secret[i] = take8(&r);
	now = (time_t)take_be(&r, 5);                     /* 0 .. 2^40: any plausible clock */
	ttl = (long)take_be(&r, 3) - (1L << 22);          /* -4M .. 12M seconds */
	uid_len = take8(&r);
	if (uid_len > r.n)
		uid_len = r.n;
	uid = malloc(uid_len + 1);
	uid2 = malloc(uid_len + 2);
	FUZZ_CHECK(uid && uid2);
	memcpy(uid, r.p, uid_len);
	r.p += uid_len;
	r.n -= uid_len;
	pos = take8(&r);
	x = take8(&r);
	op = take8(&r);

	/* Issue: the v1 shape, NUL-terminated, within AKEY_MAX_LEN, needs exactly klen + 1. */
	klen = akey_issue(secret, uid, uid_len, now, ttl, key, sizeof key);
	FUZZ_CHECK(klen > 0 && klen < AKEY_MAX_LEN && key[klen] == '\0' && strlen(key) == klen);
	if ((long long)now + ttl >= 0) {
		FUZZ_CHECK(well_formed(key, klen, &expiry, 1));
		FUZZ_CHECK(expiry == (long long)now + ttl);
	}
	FUZZ_CHECK(akey_issue(secret, uid, uid_len, now, ttl, key2, klen) == 0);
	FUZZ_CHECK(akey_issue(secret, uid, uid_len, now, ttl, key2, klen + 1) == klen);
	FUZZ_CHECK(memcmp(key, key2, klen + 1) == 0); /* deterministic */

	/* Verify: OK until the expiry second inclusive, then expired. */
	if (ttl >= 0) {
		FUZZ_CHECK(akey_verify(secret, uid, uid_len, key, klen, now) == AKEY_OK);
		FUZZ_CHECK(akey_verify(secret, uid, uid_len, key, klen, now + ttl) == AKEY_OK);
		FUZZ_CHECK(akey_verify(secret, uid, uid_len, key, klen, now + ttl + 1) ==
			   AKEY_EXPIRED);
	} else if ((long long)now + ttl >= 0) {
		FUZZ_CHECK(akey_verify(secret, uid, uid_len, key, klen, now) == AKEY_EXPIRED);
	} else {
		FUZZ_CHECK(akey_verify(secret, uid, uid_len, key, klen, now) == AKEY_MALFORMED);
	}
	FUZZ_CHECK(akey_verify(secret, uid, uid_len, key, 0, now) == AKEY_MISSING);

	/* Another uid (one byte changed, one byte more, one byte fewer) never verifies. */
	memcpy(uid2, uid, uid_len);
	if (uid_len > 0) {
		uid2[pos % uid_len] ^= (char)(x | 1);
		FUZZ_CHECK(akey_verify(secret, uid2, uid_len, key, klen, now) != AKEY_OK);
		FUZZ_CHECK(akey_verify(secret, uid, uid_len - 1, key, klen, now) != AKEY_OK);
	}
	memcpy(uid2, uid, uid_len);
	uid2[uid_len] = (char)x;
	FUZZ_CHECK(akey_verify(secret, uid2, uid_len + 1, key, klen, now) != AKEY_OK);

	/* Another secret never verifies. */
	memcpy(other, secret, sizeof other);
	other[pos % AKEY_SECRET_LEN] ^= (unsigned char)(1u << (x & 7));
	FUZZ_CHECK(akey_verify(other, uid, uid_len, key, klen, now) != AKEY_OK);

	/* A mutated key verifies only if it is byte-for-byte the issued one. */
	memcpy(mut, key, klen);
	mlen = klen;
	switch (op & 7) {
	case 0: /* flip bits of one byte */
		mut[pos % klen] ^= (char)(x ? x : 1);
		break;
	case 1: /* set one byte */
		mut[pos % klen] = (char)x;
		break;
	case 2: /* truncate */
		mlen = pos % klen;
		break;
	case 3: /* append */
		mut[mlen++] = (char)x;
		break;
	case 4: /* insert a byte */
		memmove(mut + pos % klen + 1, mut + pos % klen, klen - pos % klen);
		mut[pos % klen] = (char)x;
		mlen++;
		break;
	case 5: /* delete a byte */
		memmove(mut + pos % klen, mut + pos % klen + 1, klen - pos % klen - 1);
		mlen--;
		break;
	case 6: /* swap two bytes */
		mut[pos % klen] = key[x % klen];
		mut[x % klen] = key[pos % klen];
		break;
	default: /* rewrite the expiry (leading zero, other digits) keeping the signature */
		mlen = (size_t)snprintf(mut, sizeof mut, "v1.%s%u%s", (op & 8) ? "0" : "",
					(unsigned)x * pos, strrchr(key, '.'));
		break;
	}
	{
		/* Exactly sized heap copy so ASan sees any read past the key. */
		char *m = malloc(mlen ? mlen : 1);
		enum akey_status st;

		FUZZ_CHECK(m != NULL);
		memcpy(m, mut, mlen);
		st = akey_verify(secret, uid, uid_len, m, mlen, now);
		FUZZ_CHECK(akey_status_str(st) != NULL);
		if (st == AKEY_OK)
			FUZZ_CHECK(mlen == klen && memcmp(m, key, klen) == 0);
		check_ok_means_issued(secret, uid, uid_len, m, mlen, now);
		free(m);
	}

	/* The rest of the input is a key of its own (already exactly sized by libFuzzer). */
	{
		const char *k = (const char *)r.p;
		long long e;
		enum akey_status st = akey_verify(secret, uid, uid_len, k, r.n, now);

		FUZZ_CHECK(akey_status_str(st) != NULL);
		if (r.n == 0)
			FUZZ_CHECK(st == AKEY_MISSING);
		else if (!well_formed(k, r.n, &e, 0))
			FUZZ_CHECK(st == AKEY_MALFORMED);
		else if (!well_formed(k, r.n, &e, 1)) /* the signature is compared, not parsed */
			FUZZ_CHECK(st == AKEY_BAD_SIGNATURE);
		check_ok_means_issued(secret, uid, uid_len, k, r.n, now);
		FUZZ_CHECK(akey_secure_equal(k, r.n, key, klen) ==
			   (r.n == klen && memcmp(k, key, klen) == 0));
	}
	free(uid);
	free(uid2);
	return 0;
}
