/* SPDX-License-Identifier: MIT */
/* Access keys signed with HMAC-SHA256 (OpenSSL); verified without any shared state,
 * so ws-daemon checks a key the FastCGI program issued without a round trip. */
#include "akey.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#define AKEY_PREFIX "v2."
#define AKEY_MAX_EXPIRY_DIGITS 18 /* cannot overflow a long long */

static const char akey_b64[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void akey_b64url(const unsigned char *in, size_t n, char *out)
{
	size_t o = 0, i = 0;

	for (; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		out[o++] = akey_b64[v >> 18 & 63];
		out[o++] = akey_b64[v >> 12 & 63];
		out[o++] = akey_b64[v >> 6 & 63];
		out[o++] = akey_b64[v & 63];
	}
	if (n - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;

		out[o++] = akey_b64[v >> 18 & 63];
		out[o++] = akey_b64[v >> 12 & 63];
		out[o++] = akey_b64[v >> 6 & 63];
	} else if (n - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;

		out[o++] = akey_b64[v >> 18 & 63];
		out[o++] = akey_b64[v >> 12 & 63];
	}
	out[o] = '\0';
}

/* A keyed HMAC context per secret, built once: key setup and the digest fetch
 * cost more than the MAC of a short key itself (OpenSSL 3). Two slots: during
 * a rotation the current and the previous secret are both in use. */
struct akey_slot {
	unsigned char secret[AKEY_SECRET_LEN];
	EVP_MAC_CTX *ctx;
	char kid[AKEY_TAG_LEN + 1];
	unsigned long used;
};

static const char akey_hex[] = "0123456789abcdef";

static void akey_tohex(const unsigned char *in, char *out)
{
	for (int i = 0; i < AKEY_TAG_LEN / 2; i++) {
		out[2 * i] = akey_hex[in[i] >> 4];
		out[2 * i + 1] = akey_hex[in[i] & 15];
	}
	out[AKEY_TAG_LEN] = '\0';
}

/* The key id: a digest of the secret, so a key names its secret without
 * revealing it. */
static int akey_kid(const unsigned char secret[AKEY_SECRET_LEN], char out[AKEY_TAG_LEN + 1])
{
	static const char label[] = "push-service key id|";
	unsigned char d[SHA256_DIGEST_LENGTH];
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) &&
		 EVP_DigestUpdate(md, label, sizeof label - 1) &&
		 EVP_DigestUpdate(md, secret, AKEY_SECRET_LEN) && EVP_DigestFinal_ex(md, d, NULL);

	EVP_MD_CTX_free(md);
	if (!ok)
		return -1;
	akey_tohex(d, out);
	return 0;
}

static struct akey_slot *akey_slot(const unsigned char secret[AKEY_SECRET_LEN])
{
	static struct akey_slot slots[2];
	static EVP_MAC *m;
	static unsigned long clock;
	struct akey_slot *s = &slots[0];
	OSSL_PARAM params[2];

	for (int i = 0; i < 2; i++) {
		if (slots[i].ctx && CRYPTO_memcmp(slots[i].secret, secret, AKEY_SECRET_LEN) == 0) {
			slots[i].used = ++clock;
			return &slots[i];
		}
		if (slots[i].used < s->used)
			s = &slots[i];
	}
	EVP_MAC_CTX_free(s->ctx);
	memset(s, 0, sizeof *s);
	if (!m)
		m = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (!m)
		return NULL;
	s->ctx = EVP_MAC_CTX_new(m);
	params[0] = OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if (!s->ctx || !EVP_MAC_init(s->ctx, secret, AKEY_SECRET_LEN, params) ||
	    akey_kid(secret, s->kid) != 0) {
		EVP_MAC_CTX_free(s->ctx);
		memset(s, 0, sizeof *s);
		return NULL;
	}
	memcpy(s->secret, secret, AKEY_SECRET_LEN);
	s->used = ++clock;
	return s;
}

/* HMAC over the parts in order, each followed by '|' but the last. */
static int akey_mac(const struct akey_slot *s, const char *const *part, const size_t *len,
		    int n, unsigned char mac[SHA256_DIGEST_LENGTH])
{
	EVP_MAC_CTX *ctx = EVP_MAC_CTX_dup(s->ctx);
	size_t outl = 0;
	int ok = ctx != NULL;

	for (int i = 0; ok && i < n; i++)
		ok = EVP_MAC_update(ctx, (const unsigned char *)part[i], len[i]) &&
		     (i == n - 1 || EVP_MAC_update(ctx, (const unsigned char *)"|", 1));
	ok = ok && EVP_MAC_final(ctx, mac, &outl, SHA256_DIGEST_LENGTH) &&
	     outl == SHA256_DIGEST_LENGTH;
	EVP_MAC_CTX_free(ctx);
	return ok ? 0 : -1;
}

/* The uid tag: which uid a key is for, keyed so it tells nothing to others. */
static int akey_uid_tag(const struct akey_slot *s, const char *uid, size_t uid_len,
			char out[AKEY_TAG_LEN + 1])
{
	const char *part[2] = { "uid", uid };
	size_t len[2] = { 3, uid_len };
	unsigned char mac[SHA256_DIGEST_LENGTH];

	if (akey_mac(s, part, len, 2, mac) != 0)
		return -1;
	akey_tohex(mac, out);
	return 0;
}

/* MAC input: "v2|" expiry "|" kid "|" tag "|" uid — the uid sits last, so
 * its bytes cannot be mistaken for a separator. */
static int akey_sign(const struct akey_slot *s, const char *uid, size_t uid_len,
		     const char *expiry, size_t expiry_len, const char *tag,
		     char out[AKEY_SIG_B64_LEN + 1])
{
	const char *part[5] = { "v2", expiry, s->kid, tag, uid };
	size_t len[5] = { 2, expiry_len, AKEY_TAG_LEN, AKEY_TAG_LEN, uid_len };
	unsigned char mac[SHA256_DIGEST_LENGTH];

	if (akey_mac(s, part, len, 5, mac) != 0)
		return -1;
	akey_b64url(mac, sizeof mac, out);
	OPENSSL_cleanse(mac, sizeof mac);
	return 0;
}

size_t akey_issue(const unsigned char secret[AKEY_SECRET_LEN], const char *uid, size_t uid_len,
		  time_t now, long ttl, char *out, size_t out_len)
{
	char exp[24], sig[AKEY_SIG_B64_LEN + 1], tag[AKEY_TAG_LEN + 1];
	struct akey_slot *s = akey_slot(secret);
	int n;

	n = snprintf(exp, sizeof exp, "%lld", (long long)now + ttl);
	if (!s || n <= 0 || n > AKEY_MAX_EXPIRY_DIGITS)
		return 0;
	if (akey_uid_tag(s, uid, uid_len, tag) != 0 ||
	    akey_sign(s, uid, uid_len, exp, (size_t)n, tag, sig) != 0)
		return 0;
	n = snprintf(out, out_len, AKEY_PREFIX "%s.%s.%s.%s", exp, s->kid, tag, sig);
	if (n <= 0 || (size_t)n >= out_len)
		return 0;
	return (size_t)n;
}

int akey_secure_equal(const void *a, size_t a_len, const void *b, size_t b_len)
{
	if (a_len != b_len)
		return 0;
	return CRYPTO_memcmp(a, b, a_len) == 0;
}

/* Parses "<digits>" of bounded length into *out; the digits stay in the MAC. */
static int akey_parse_expiry(const char *s, size_t n, long long *out)
{
	long long v = 0;

	if (n == 0 || n > AKEY_MAX_EXPIRY_DIGITS || (s[0] == '0' && n > 1))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

/* A key split at its dots; the views point into the key. */
struct akey_parts {
	const char *exp, *kid, *tag, *sig;
	size_t exp_len;
	long long expiry;
};

static int akey_split(const char *key, size_t key_len, struct akey_parts *p)
{
	const size_t pl = sizeof AKEY_PREFIX - 1;
	const size_t tail = 1 + AKEY_TAG_LEN + 1 + AKEY_TAG_LEN + 1 + AKEY_SIG_B64_LEN;
	const char *t;

	if (key_len > AKEY_MAX_LEN - 1 || key_len < pl + 1 + tail ||
	    memcmp(key, AKEY_PREFIX, pl) != 0)
		return -1;
	p->exp = key + pl;
	p->exp_len = key_len - pl - tail;
	t = p->exp + p->exp_len;
	if (t[0] != '.' || t[1 + AKEY_TAG_LEN] != '.' || t[2 + 2 * AKEY_TAG_LEN] != '.' ||
	    akey_parse_expiry(p->exp, p->exp_len, &p->expiry) != 0)
		return -1;
	p->kid = t + 1;
	p->tag = t + 2 + AKEY_TAG_LEN;
	p->sig = t + 3 + 2 * AKEY_TAG_LEN;
	for (size_t i = 0; i < AKEY_TAG_LEN; i++)
		if (!strchr(akey_hex, p->kid[i]) || !p->kid[i] || !strchr(akey_hex, p->tag[i]) ||
		    !p->tag[i])
			return -1;
	return 0;
}

/* The secret the key names, among those accepted now. */
static struct akey_slot *akey_find_secret(const struct akey_secrets *s, const char *kid,
					  time_t now)
{
	struct akey_slot *slot = akey_slot(s->cur);

	if (slot && memcmp(slot->kid, kid, AKEY_TAG_LEN) == 0)
		return slot;
	if (!s->prev || (long long)now >= s->prev_until)
		return NULL;
	slot = akey_slot(s->prev);
	return slot && memcmp(slot->kid, kid, AKEY_TAG_LEN) == 0 ? slot : NULL;
}

enum akey_status akey_verify(const struct akey_secrets *s, const char *uid, size_t uid_len,
			     const char *key, size_t key_len, time_t now)
{
	char sig[AKEY_SIG_B64_LEN + 1], tag[AKEY_TAG_LEN + 1];
	struct akey_parts p;
	struct akey_slot *slot;

	if (key_len == 0)
		return AKEY_MISSING;
	if (akey_split(key, key_len, &p) != 0)
		return AKEY_MALFORMED;
	slot = akey_find_secret(s, p.kid, now);
	if (!slot)
		return AKEY_UNKNOWN_SECRET;
	if (akey_uid_tag(slot, uid, uid_len, tag) != 0 || memcmp(tag, p.tag, AKEY_TAG_LEN) != 0)
		return AKEY_OTHER_UID;
	if (akey_sign(slot, uid, uid_len, p.exp, p.exp_len, tag, sig) != 0 ||
	    !akey_secure_equal(sig, AKEY_SIG_B64_LEN, p.sig, AKEY_SIG_B64_LEN))
		return AKEY_BAD_SIGNATURE;
	if ((long long)now > p.expiry)
		return AKEY_EXPIRED;
	return AKEY_OK;
}

int akey_expiry(const char *key, size_t key_len, long long *expiry)
{
	struct akey_parts p;

	if (akey_split(key, key_len, &p) != 0)
		return -1;
	*expiry = p.expiry;
	return 0;
}

const char *akey_status_str(enum akey_status st)
{
	switch (st) {
	case AKEY_OK: return "ok";
	case AKEY_MISSING: return "access_key is missing";
	case AKEY_MALFORMED: return "access_key is malformed";
	case AKEY_UNKNOWN_SECRET: return "access_key was signed with a secret no longer in use";
	case AKEY_OTHER_UID: return "access_key was issued for another uid";
	case AKEY_BAD_SIGNATURE: return "access_key has a bad signature";
	case AKEY_EXPIRED: return "access_key has expired";
	case AKEY_REVOKED: return "access_key was revoked";
	}
	return "access_key is invalid";
}
