/* Access keys signed with HMAC-SHA256 (OpenSSL); verified without any shared state,
 * so ws-daemon checks a key the FastCGI program issued without a round trip. */
#include "akey.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#define AKEY_PREFIX "v1."
#define AKEY_SIG_B64_LEN 43 /* 32 bytes, base64url without padding */
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

/* MAC input: "v1|" uid "|" expiry — the separator cannot be confused because
 * the expiry is all digits and sits last. */
/* A keyed HMAC context for the current secret, built once: key setup and the
 * digest fetch cost more than the MAC of a short key itself (OpenSSL 3). It is
 * rebuilt when the secret changes (reload) and stays for the process lifetime. */
static EVP_MAC_CTX *akey_keyed(const unsigned char secret[AKEY_SECRET_LEN])
{
	static EVP_MAC *m;
	static EVP_MAC_CTX *base;
	static unsigned char base_secret[AKEY_SECRET_LEN];
	OSSL_PARAM params[2];

	if (base && CRYPTO_memcmp(base_secret, secret, AKEY_SECRET_LEN) == 0)
		return base;
	EVP_MAC_CTX_free(base);
	base = NULL;
	if (!m)
		m = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (!m)
		return NULL;
	base = EVP_MAC_CTX_new(m);
	params[0] = OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if (!base || !EVP_MAC_init(base, secret, AKEY_SECRET_LEN, params)) {
		EVP_MAC_CTX_free(base);
		base = NULL;
		return NULL;
	}
	memcpy(base_secret, secret, AKEY_SECRET_LEN);
	return base;
}

static int akey_sign(const unsigned char secret[AKEY_SECRET_LEN], const char *uid,
		     size_t uid_len, const char *expiry, size_t expiry_len,
		     char out[AKEY_SIG_B64_LEN + 1])
{
	unsigned char mac[SHA256_DIGEST_LENGTH];
	EVP_MAC_CTX *base = akey_keyed(secret);
	EVP_MAC_CTX *ctx = base ? EVP_MAC_CTX_dup(base) : NULL;
	size_t outl = 0;
	int rc = -1;

	if (!ctx)
		goto fail;
	if (!EVP_MAC_update(ctx, (const unsigned char *)"v1|", 3) ||
	    !EVP_MAC_update(ctx, (const unsigned char *)uid, uid_len) ||
	    !EVP_MAC_update(ctx, (const unsigned char *)"|", 1) ||
	    !EVP_MAC_update(ctx, (const unsigned char *)expiry, expiry_len) ||
	    !EVP_MAC_final(ctx, mac, &outl, sizeof mac) || outl != sizeof mac)
		goto fail;
	akey_b64url(mac, sizeof mac, out);
	rc = 0;
fail:
	EVP_MAC_CTX_free(ctx);
	OPENSSL_cleanse(mac, sizeof mac);
	return rc;
}

size_t akey_issue(const unsigned char secret[AKEY_SECRET_LEN], const char *uid, size_t uid_len,
		  time_t now, long ttl, char *out, size_t out_len)
{
	char exp[24], sig[AKEY_SIG_B64_LEN + 1];
	int n;

	n = snprintf(exp, sizeof exp, "%lld", (long long)now + ttl);
	if (n <= 0 || (size_t)n >= sizeof exp)
		return 0;
	if (akey_sign(secret, uid, uid_len, exp, (size_t)n, sig) != 0)
		return 0;
	n = snprintf(out, out_len, AKEY_PREFIX "%s.%s", exp, sig);
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

enum akey_status akey_verify(const unsigned char secret[AKEY_SECRET_LEN], const char *uid,
			     size_t uid_len, const char *key, size_t key_len, time_t now)
{
	const size_t pl = sizeof AKEY_PREFIX - 1;
	char sig[AKEY_SIG_B64_LEN + 1];
	const char *exp, *dot;
	long long expiry;
	size_t exp_len;

	if (key_len == 0)
		return AKEY_MISSING;
	if (key_len > AKEY_MAX_LEN || key_len < pl + 2 + AKEY_SIG_B64_LEN ||
	    memcmp(key, AKEY_PREFIX, pl) != 0)
		return AKEY_MALFORMED;
	exp = key + pl;
	dot = memchr(exp, '.', key_len - pl);
	if (!dot)
		return AKEY_MALFORMED;
	exp_len = (size_t)(dot - exp);
	if (akey_parse_expiry(exp, exp_len, &expiry) != 0 ||
	    key_len - pl - exp_len - 1 != AKEY_SIG_B64_LEN)
		return AKEY_MALFORMED;
	if (akey_sign(secret, uid, uid_len, exp, exp_len, sig) != 0)
		return AKEY_BAD_SIGNATURE;
	if (!akey_secure_equal(sig, AKEY_SIG_B64_LEN, dot + 1, AKEY_SIG_B64_LEN))
		return AKEY_BAD_SIGNATURE;
	if ((long long)now > expiry)
		return AKEY_EXPIRED;
	return AKEY_OK;
}

const char *akey_status_str(enum akey_status st)
{
	switch (st) {
	case AKEY_OK: return "ok";
	case AKEY_MISSING: return "access_key is missing";
	case AKEY_MALFORMED: return "access_key is malformed";
	case AKEY_BAD_SIGNATURE: return "access_key is not valid for this uid";
	case AKEY_EXPIRED: return "access_key has expired";
	}
	return "access_key is invalid";
}
