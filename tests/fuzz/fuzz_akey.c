/* SPDX-License-Identifier: MIT */
/* libFuzzer driver for shared/akey.c: a key issued for (secret, uid, now) is exactly the
 * independently computed "v2.<expiry>.<kid>.<uid tag>.<sig>" and verifies until it
 * expires; another uid gets OTHER_UID (or BAD_SIGNATURE on a uid tag collision); a key of
 * the previous secret verifies only before prev_until; and every other byte string
 * (mutations of a key, arbitrary input) gets the status an independent model of the format
 * gives, so it is never OK unless it is byte for byte a key akey_issue gives. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "akey.h"
#include "fuzz_check.h"

#define TAGN 8
#define SIGN 43

/* --- an independent model of the format (OpenSSL one-shot calls, no akey.c code) --- */

static void hex8(const unsigned char *d, char *out)
{
	static const char hx[] = "0123456789abcdef";

	for (int i = 0; i < TAGN / 2; i++) {
		out[2 * i] = hx[d[i] >> 4];
		out[2 * i + 1] = hx[d[i] & 15];
	}
}

static void ref_kid(const unsigned char *secret, char kid[TAGN])
{
	static const char label[] = "push-service key id|";
	unsigned char msg[sizeof label - 1 + AKEY_SECRET_LEN], d[EVP_MAX_MD_SIZE];
	unsigned int dl = 0;

	memcpy(msg, label, sizeof label - 1);
	memcpy(msg + sizeof label - 1, secret, AKEY_SECRET_LEN);
	FUZZ_CHECK(EVP_Digest(msg, sizeof msg, d, &dl, EVP_sha256(), NULL) && dl == 32);
	hex8(d, kid);
}

static void ref_mac(const unsigned char *secret, const unsigned char *msg, size_t n,
		    unsigned char mac[32])
{
	unsigned int ml = 0;

	FUZZ_CHECK(HMAC(EVP_sha256(), secret, AKEY_SECRET_LEN, msg, n, mac, &ml) && ml == 32);
}

static void ref_tag(const unsigned char *secret, const char *uid, size_t uid_len,
		    char tag[TAGN])
{
	unsigned char msg[4 + 256], mac[32];

	FUZZ_CHECK(uid_len <= 256);
	memcpy(msg, "uid|", 4);
	memcpy(msg + 4, uid, uid_len);
	ref_mac(secret, msg, 4 + uid_len, mac);
	hex8(mac, tag);
}

/* base64url, no padding, of HMAC(secret, "v2|" exp "|" kid "|" tag "|" uid). */
static void ref_sig(const unsigned char *secret, const char *exp, size_t exp_len,
		    const char *kid, const char *tag, const char *uid, size_t uid_len,
		    char sig[SIGN])
{
	unsigned char msg[3 + 20 + 1 + TAGN + 1 + TAGN + 1 + 256], mac[32], b64[48];
	size_t n = 0;

	FUZZ_CHECK(exp_len <= 20 && uid_len <= 256);
	memcpy(msg, "v2|", 3);
	n = 3;
	memcpy(msg + n, exp, exp_len);
	n += exp_len;
	msg[n++] = '|';
	memcpy(msg + n, kid, TAGN);
	n += TAGN;
	msg[n++] = '|';
	memcpy(msg + n, tag, TAGN);
	n += TAGN;
	msg[n++] = '|';
	memcpy(msg + n, uid, uid_len);
	n += uid_len;
	ref_mac(secret, msg, n, mac);
	FUZZ_CHECK(EVP_EncodeBlock(b64, mac, 32) == 44 && b64[43] == '=');
	for (int i = 0; i < SIGN; i++)
		sig[i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : (char)b64[i];
}

/* The key for secret, uid and an expiry written as digits; returns its length. */
static size_t ref_key(const unsigned char *secret, const char *uid, size_t uid_len,
		      long long expiry, char *out, size_t cap)
{
	char exp[24], kid[TAGN], tag[TAGN], sig[SIGN];
	int e = snprintf(exp, sizeof exp, "%lld", expiry);
	int n;

	FUZZ_CHECK(e > 0 && (size_t)e < sizeof exp);
	ref_kid(secret, kid);
	ref_tag(secret, uid, uid_len, tag);
	ref_sig(secret, exp, (size_t)e, kid, tag, uid, uid_len, sig);
	n = snprintf(out, cap, "v2.%s.%.8s.%.8s.%.43s", exp, kid, tag, sig);
	FUZZ_CHECK(n > 0 && (size_t)n < cap);
	return (size_t)n;
}

static int lower_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* The shape, parsed from the front: "v2." 1..18 digits without a leading zero, ".",
 * 8 lowercase hex, ".", 8 lowercase hex, ".", then exactly 43 bytes of any value. */
struct shape {
	const char *exp, *kid, *tag, *sig;
	size_t exp_len;
	long long expiry;
};

static int ref_shape(const char *k, size_t n, struct shape *sh)
{
	size_t i = 3;

	if (n < 3 || memcmp(k, "v2.", 3) != 0)
		return 0;
	sh->expiry = 0;
	while (i < n && k[i] >= '0' && k[i] <= '9') {
		if (i - 3 == 18)
			return 0;
		sh->expiry = sh->expiry * 10 + (k[i++] - '0');
	}
	sh->exp = k + 3;
	sh->exp_len = i - 3;
	if (sh->exp_len == 0 || (sh->exp_len > 1 && k[3] == '0'))
		return 0;
	if (n - i != 1 + TAGN + 1 + TAGN + 1 + SIGN || k[i] != '.' || k[i + 1 + TAGN] != '.' ||
	    k[i + 2 + 2 * TAGN] != '.')
		return 0;
	sh->kid = k + i + 1;
	sh->tag = k + i + 2 + TAGN;
	sh->sig = k + i + 3 + 2 * TAGN;
	for (int j = 0; j < TAGN; j++)
		if (!lower_hex(sh->kid[j]) || !lower_hex(sh->tag[j]))
			return 0;
	return 1;
}

/* What akey_verify must say, straight from the format's definition. */
static enum akey_status ref_verify(const struct akey_secrets *s, const char *uid,
				   size_t uid_len, const char *k, size_t n, time_t now,
				   const unsigned char **signer)
{
	struct shape sh;
	const unsigned char *sec = NULL;
	char kid[TAGN], tag[TAGN], sig[SIGN];

	*signer = NULL;
	if (n == 0)
		return AKEY_MISSING;
	if (!ref_shape(k, n, &sh))
		return AKEY_MALFORMED;
	ref_kid(s->cur, kid);
	if (memcmp(kid, sh.kid, TAGN) == 0) {
		sec = s->cur;
	} else if (s->prev && (long long)now < s->prev_until) {
		ref_kid(s->prev, kid);
		if (memcmp(kid, sh.kid, TAGN) == 0)
			sec = s->prev;
	}
	if (!sec)
		return AKEY_UNKNOWN_SECRET;
	ref_tag(sec, uid, uid_len, tag);
	if (memcmp(tag, sh.tag, TAGN) != 0)
		return AKEY_OTHER_UID;
	ref_sig(sec, sh.exp, sh.exp_len, kid, tag, uid, uid_len, sig);
	if (memcmp(sig, sh.sig, SIGN) != 0)
		return AKEY_BAD_SIGNATURE;
	*signer = sec;
	return (long long)now > sh.expiry ? AKEY_EXPIRED : AKEY_OK;
}

/* --- the checks ---------------------------------------------------------------------- */

/* akey_verify on an exactly sized heap copy (ASan sees any over-read) agrees with the model;
 * an OK key is exactly what akey_issue gives for its signer and expiry. */
static enum akey_status check_verify(const struct akey_secrets *s, const char *uid,
				     size_t uid_len, const char *key, size_t n, time_t now)
{
	char *k = malloc(n ? n : 1), canon[AKEY_MAX_LEN];
	const unsigned char *signer;
	enum akey_status st, want;
	struct shape sh;

	FUZZ_CHECK(k != NULL);
	memcpy(k, key, n);
	st = akey_verify(s, uid, uid_len, k, n, now);
	want = ref_verify(s, uid, uid_len, k, n, now, &signer);
	if (st != want)
		fprintf(stderr, "akey_verify: %d (%s), model: %d (%s)\n", st, akey_status_str(st),
			want, akey_status_str(want));
	FUZZ_CHECK(st == want);
	FUZZ_CHECK(akey_status_str(st) != NULL && akey_status_str(st)[0] != '\0');
	if (st == AKEY_OK) {
		FUZZ_CHECK(ref_shape(k, n, &sh) && sh.expiry >= (long long)now);
		FUZZ_CHECK(signer == s->cur || (signer == s->prev && (long long)now < s->prev_until));
		FUZZ_CHECK(akey_issue(signer, uid, uid_len, (time_t)sh.expiry, 0, canon,
				      sizeof canon) == n);
		FUZZ_CHECK(memcmp(canon, k, n) == 0);
	}
	free(k);
	return st;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rd r = { data, size };
	unsigned char cur[AKEY_SECRET_LEN], prev[AKEY_SECRET_LEN], other[AKEY_SECRET_LEN];
	char key[AKEY_MAX_LEN], key2[AKEY_MAX_LEN], pkey[AKEY_MAX_LEN], ref[AKEY_MAX_LEN];
	char mut[AKEY_MAX_LEN + 8], uid[256], uid2[257], kid_cur[TAGN], kid_prev[TAGN];
	size_t klen, plen, uid_len, mlen;
	struct akey_secrets only_cur, rot, no_prev;
	long long until, expiry;
	time_t now;
	long ttl;
	uint8_t flags, pos, x, op;
	enum akey_status st;

	for (size_t i = 0; i < sizeof cur; i++)
		cur[i] = take8(&r);
	for (size_t i = 0; i < sizeof prev; i++)
		prev[i] = take8(&r);
	flags = take8(&r);
	if (flags & 1) /* a "rotation" to the same secret */
		memcpy(prev, cur, sizeof prev);
	now = (time_t)take_be(&r, 5);                           /* 0 .. 2^40: any clock */
	ttl = (long)take_be(&r, 3) - (1L << 22);                /* -4M .. 12M seconds */
	until = (long long)now + (long long)take_be(&r, 3) - (1LL << 22); /* now -4M .. +12M */
	uid_len = take8(&r);
	if (uid_len > r.n)
		uid_len = r.n;
	memcpy(uid, r.p, uid_len);
	r.p += uid_len;
	r.n -= uid_len;
	pos = take8(&r);
	x = take8(&r);
	op = take8(&r);
	expiry = (long long)now + ttl;
	ref_kid(cur, kid_cur);
	ref_kid(prev, kid_prev);

	only_cur = (struct akey_secrets){ cur, NULL, 0 };
	rot = (struct akey_secrets){ cur, prev, until };
	no_prev = (struct akey_secrets){ cur, NULL, until };

	/* Issue: exactly the model's key, NUL-terminated, needing exactly klen + 1 bytes. */
	klen = akey_issue(cur, uid, uid_len, now, ttl, key, sizeof key);
	FUZZ_CHECK(klen > 0 && klen < AKEY_MAX_LEN && key[klen] == '\0' && strlen(key) == klen);
	FUZZ_CHECK(ref_key(cur, uid, uid_len, expiry, ref, sizeof ref) == klen);
	FUZZ_CHECK(memcmp(key, ref, klen) == 0);
	FUZZ_CHECK(akey_issue(cur, uid, uid_len, now, ttl, key2, klen) == 0);
	FUZZ_CHECK(akey_issue(cur, uid, uid_len, now, ttl, key2, klen + 1) == klen);
	FUZZ_CHECK(memcmp(key, key2, klen + 1) == 0); /* deterministic */

	/* Verify: OK until the expiry second inclusive, then expired, whatever the rotation. */
	if (ttl >= 0) {
		FUZZ_CHECK(check_verify(&only_cur, uid, uid_len, key, klen, now) == AKEY_OK);
		FUZZ_CHECK(check_verify(&rot, uid, uid_len, key, klen, now + ttl) == AKEY_OK);
		FUZZ_CHECK(check_verify(&no_prev, uid, uid_len, key, klen, now + ttl + 1) ==
			   AKEY_EXPIRED);
		FUZZ_CHECK(check_verify(&rot, uid, uid_len, key, klen, now + ttl + 1) ==
			   AKEY_EXPIRED);
	} else if (expiry >= 0) {
		FUZZ_CHECK(check_verify(&rot, uid, uid_len, key, klen, now) == AKEY_EXPIRED);
		FUZZ_CHECK(check_verify(&rot, uid, uid_len, key, klen, (time_t)expiry) == AKEY_OK);
	} else { /* a negative expiry is not of the shape */
		FUZZ_CHECK(check_verify(&rot, uid, uid_len, key, klen, now) == AKEY_MALFORMED);
	}
	FUZZ_CHECK(check_verify(&rot, uid, uid_len, key, 0, now) == AKEY_MISSING);

	/* Another uid (one byte changed, one byte more, one byte fewer): OTHER_UID, or
	 * BAD_SIGNATURE when the two uids' tags collide; never OK. */
	if (expiry >= 0) {
		memcpy(uid2, uid, uid_len);
		if (uid_len > 0) {
			uid2[pos % uid_len] ^= (char)(x | 1);
			st = check_verify(&rot, uid2, uid_len, key, klen, now);
			FUZZ_CHECK(st == AKEY_OTHER_UID || st == AKEY_BAD_SIGNATURE);
			st = check_verify(&rot, uid, uid_len - 1, key, klen, now);
			FUZZ_CHECK(st == AKEY_OTHER_UID || st == AKEY_BAD_SIGNATURE);
		}
		memcpy(uid2, uid, uid_len);
		uid2[uid_len] = (char)x;
		st = check_verify(&rot, uid2, uid_len + 1, key, klen, now + (op & 1 ? ttl + 1 : 0));
		FUZZ_CHECK(st == AKEY_OTHER_UID || st == AKEY_BAD_SIGNATURE);
	}

	/* Another secret (one bit flipped): the key names no secret in use. */
	memcpy(other, cur, sizeof other);
	other[pos % AKEY_SECRET_LEN] ^= (unsigned char)(1u << (x & 7));
	{
		struct akey_secrets s = { other, NULL, 0 };
		char kid_other[TAGN];

		ref_kid(other, kid_other);
		st = check_verify(&s, uid, uid_len, key, klen, now);
		if (expiry >= 0 && memcmp(kid_other, kid_cur, TAGN) != 0)
			FUZZ_CHECK(st == AKEY_UNKNOWN_SECRET);
	}

	/* Rotation: a key of the previous secret is good before prev_until only. */
	plen = akey_issue(prev, uid, uid_len, now, ttl, pkey, sizeof pkey);
	FUZZ_CHECK(plen > 0);
	if (ttl >= 0 && memcmp(kid_prev, kid_cur, TAGN) != 0) {
		struct akey_secrets prev_zero = { cur, prev, 0 };

		st = check_verify(&rot, uid, uid_len, pkey, plen, now);
		FUZZ_CHECK(st == (now < until ? AKEY_OK : AKEY_UNKNOWN_SECRET));
		FUZZ_CHECK(check_verify(&rot, uid, uid_len, pkey, plen, (time_t)until) ==
			   AKEY_UNKNOWN_SECRET);
		FUZZ_CHECK(check_verify(&no_prev, uid, uid_len, pkey, plen, now) ==
			   AKEY_UNKNOWN_SECRET);
		FUZZ_CHECK(check_verify(&prev_zero, uid, uid_len, pkey, plen, now) ==
			   AKEY_UNKNOWN_SECRET);
		if (until > (long long)now + 1) /* the key's own expiry still counts */
			FUZZ_CHECK(check_verify(&rot, uid, uid_len, pkey, plen, until - 1) ==
				   (until - 1 > expiry ? AKEY_EXPIRED : AKEY_OK));
		/* The current secret's key is judged as if there were no rotation. */
		FUZZ_CHECK(check_verify(&rot, uid, uid_len, key, klen, (time_t)until) ==
			   check_verify(&only_cur, uid, uid_len, key, klen, (time_t)until));
	} else if (memcmp(prev, cur, sizeof cur) == 0) {
		FUZZ_CHECK(plen == klen && memcmp(pkey, key, klen) == 0);
	}

	/* A mutated key (of either secret) gets the model's status. */
	{
		const char *src = (op & 16) ? pkey : key;
		size_t sl = (op & 16) ? plen : klen;

		memcpy(mut, src, sl);
		mlen = sl;
		switch (op & 7) {
		case 0: /* flip bits of one byte */
			mut[pos % sl] ^= (char)(x ? x : 1);
			break;
		case 1: /* set one byte */
			mut[pos % sl] = (char)x;
			break;
		case 2: /* truncate */
			mlen = pos % sl;
			break;
		case 3: /* append */
			mut[mlen++] = (char)x;
			break;
		case 4: /* insert a byte */
			memmove(mut + pos % sl + 1, mut + pos % sl, sl - pos % sl);
			mut[pos % sl] = (char)x;
			mlen++;
			break;
		case 5: /* delete a byte */
			memmove(mut + pos % sl, mut + pos % sl + 1, sl - pos % sl - 1);
			mlen--;
			break;
		case 6: /* swap two bytes */
			mut[pos % sl] = src[x % sl];
			mut[x % sl] = src[pos % sl];
			break;
		default: { /* rewrite the expiry (leading zero, other digits), keep the rest */
			const char *rest = memchr(src + 3, '.', sl - 3);

			FUZZ_CHECK(rest != NULL);
			mlen = (size_t)snprintf(mut, sizeof mut, "v2.%s%u%.*s", (op & 8) ? "0" : "",
						(unsigned)x * pos, (int)(src + sl - rest), rest);
			break;
		}
		}
		st = check_verify(&rot, uid, uid_len, mut, mlen, now);
		if (st == AKEY_OK)
			FUZZ_CHECK(mlen == sl && memcmp(mut, src, sl) == 0);
	}

	/* The rest of the input is a key of its own (already exactly sized by libFuzzer). */
	{
		const char *k = (const char *)r.p;

		st = check_verify((op & 32) ? &only_cur : &rot, uid, uid_len, k, r.n, now);
		if (r.n == 0)
			FUZZ_CHECK(st == AKEY_MISSING);
		/* (check_verify has compared an OK key with akey_issue's for its expiry.) */
		FUZZ_CHECK(akey_secure_equal(k, r.n, key, klen) ==
			   (r.n == klen && memcmp(k, key, klen) == 0));
	}
	return 0;
}
