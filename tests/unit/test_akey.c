/* SPDX-License-Identifier: MIT */
/* Unit tests for shared/akey.c: "v2.<expiry>.<kid>.<uid tag>.<sig>" access keys checked
 * against an independent computation, every malformed shape, tampering of each part with
 * the status it must give, expiry, secret rotation, and the constant-time comparison. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "akey.h"

static const unsigned char secret_a[AKEY_SECRET_LEN] = {
	0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
	0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10,
};
static const unsigned char secret_b[AKEY_SECRET_LEN] = {
	0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xbb, 0xbc, 0xbd, 0xbe, 0xbf,
	0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xcb, 0xcc, 0xcd, 0xce, 0xcf,
};
static const unsigned char secret_c[AKEY_SECRET_LEN] = { 0x5c };

#define NOW ((time_t)1700000000)
#define TTL 60L
#define SIG_LEN 43
#define TAG_LEN 8
/* Offsets in a key whose expiry has 10 digits (NOW + TTL). */
#define EXP_AT 3
#define KID_AT (EXP_AT + 10 + 1)
#define TAG_AT (KID_AT + TAG_LEN + 1)
#define SIG_AT (TAG_AT + TAG_LEN + 1)
#define KEY10_LEN (SIG_AT + SIG_LEN)

/* Only secret_a in use. */
static const struct akey_secrets only_a = { secret_a, NULL, 0 };

/* --- an independent computation of the format ------------------------------------ */

static void hex8(const unsigned char *d, char out[TAG_LEN + 1])
{
	for (int i = 0; i < TAG_LEN / 2; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* 8 hex of SHA-256("push-service key id|" || secret). */
static void ref_kid(const unsigned char *secret, char out[TAG_LEN + 1])
{
	static const char label[] = "push-service key id|";
	unsigned char msg[sizeof label - 1 + AKEY_SECRET_LEN], d[EVP_MAX_MD_SIZE];
	unsigned int dl = 0;

	memcpy(msg, label, sizeof label - 1);
	memcpy(msg + sizeof label - 1, secret, AKEY_SECRET_LEN);
	assert_true(EVP_Digest(msg, sizeof msg, d, &dl, EVP_sha256(), NULL));
	assert_int_equal(dl, 32);
	hex8(d, out);
}

static void ref_hmac(const unsigned char *secret, const void *msg, size_t len,
		     unsigned char mac[32])
{
	unsigned int ml = 0;

	assert_non_null(HMAC(EVP_sha256(), secret, AKEY_SECRET_LEN, msg, len, mac, &ml));
	assert_int_equal(ml, 32);
}

/* 8 hex of HMAC-SHA256(secret, "uid|" uid). */
static void ref_tag(const unsigned char *secret, const char *uid, size_t uid_len,
		    char out[TAG_LEN + 1])
{
	unsigned char msg[300], mac[32];

	assert_true(uid_len + 4 <= sizeof msg);
	memcpy(msg, "uid|", 4);
	memcpy(msg + 4, uid, uid_len);
	ref_hmac(secret, msg, uid_len + 4, mac);
	hex8(mac, out);
}

/* base64url without padding of HMAC-SHA256(secret, "v2|" exp "|" kid "|" tag "|" uid). */
static void ref_sig(const unsigned char *secret, const char *exp, const char *kid,
		    const char *tag, const char *uid, size_t uid_len, char out[SIG_LEN + 1])
{
	unsigned char msg[400], mac[32], b64[48];
	int n = snprintf((char *)msg, sizeof msg, "v2|%s|%s|%s|", exp, kid, tag);

	assert_true(n > 0 && (size_t)n + uid_len <= sizeof msg);
	memcpy(msg + n, uid, uid_len);
	ref_hmac(secret, msg, (size_t)n + uid_len, mac);
	assert_int_equal(EVP_EncodeBlock(b64, mac, 32), 44);
	assert_int_equal(b64[43], '=');
	for (int i = 0; i < SIG_LEN; i++)
		out[i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : (char)b64[i];
	out[SIG_LEN] = '\0';
}

static void ref_key(const unsigned char *secret, const char *uid, size_t uid_len,
		    long long expiry, char *out, size_t cap)
{
	char exp[24], kid[TAG_LEN + 1], tag[TAG_LEN + 1], sig[SIG_LEN + 1];
	int n;

	snprintf(exp, sizeof exp, "%lld", expiry);
	ref_kid(secret, kid);
	ref_tag(secret, uid, uid_len, tag);
	ref_sig(secret, exp, kid, tag, uid, uid_len, sig);
	n = snprintf(out, cap, "v2.%s.%s.%s.%s", exp, kid, tag, sig);
	assert_true(n > 0 && (size_t)n < cap);
}

/* --- helpers ---------------------------------------------------------------------- */

static size_t issue(const unsigned char *secret, const char *uid, time_t now, long ttl,
		    char key[AKEY_MAX_LEN])
{
	size_t n = akey_issue(secret, uid, strlen(uid), now, ttl, key, AKEY_MAX_LEN);

	assert_true(n > 0);
	assert_int_equal(n, strlen(key));
	return n;
}

/* Verifies from exactly sized heap copies so ASan sees any over-read. */
static enum akey_status verify_s(const struct akey_secrets *s, const char *uid, size_t uid_len,
				 const char *key, size_t key_len, time_t now)
{
	char *kc = malloc(key_len ? key_len : 1), *uc = malloc(uid_len ? uid_len : 1);
	enum akey_status st;

	assert_non_null(kc);
	assert_non_null(uc);
	memcpy(kc, key, key_len);
	memcpy(uc, uid, uid_len);
	st = akey_verify(s, uc, uid_len, kc, key_len, now);
	free(kc);
	free(uc);
	return st;
}

static enum akey_status verify(const struct akey_secrets *s, const char *uid, const char *key,
			       time_t now)
{
	return verify_s(s, uid, strlen(uid), key, strlen(key), now);
}

static void expect_n(const char *key, size_t key_len, enum akey_status want, const char *what)
{
	enum akey_status st = verify_s(&only_a, "alice", 5, key, key_len, NOW);

	if (st != want) {
		print_error("%s: key \"%.*s\" (%zu bytes): status %d (%s), want %d (%s)\n", what,
			    (int)key_len, key, key_len, st, akey_status_str(st), want,
			    akey_status_str(want));
		fail();
	}
}

static void expect_status(const char *key, enum akey_status want)
{
	expect_n(key, strlen(key), want, "key");
}

/* The parts of alice's key of secret_a at NOW + TTL. */
struct parts {
	char key[AKEY_MAX_LEN], exp[24], kid[TAG_LEN + 1], tag[TAG_LEN + 1], sig[SIG_LEN + 1];
	size_t len;
};

static void alice_parts(struct parts *p)
{
	p->len = issue(secret_a, "alice", NOW, TTL, p->key);
	assert_int_equal(p->len, KEY10_LEN);
	memcpy(p->exp, p->key + EXP_AT, 10);
	p->exp[10] = '\0';
	memcpy(p->kid, p->key + KID_AT, TAG_LEN);
	p->kid[TAG_LEN] = '\0';
	memcpy(p->tag, p->key + TAG_AT, TAG_LEN);
	p->tag[TAG_LEN] = '\0';
	memcpy(p->sig, p->key + SIG_AT, SIG_LEN + 1);
}

static void make_key(char *out, size_t cap, const char *exp, const char *kid, const char *tag,
		     const char *sig)
{
	int n = snprintf(out, cap, "v2.%s.%s.%s.%s", exp, kid, tag, sig);

	assert_true(n > 0 && (size_t)n < cap);
}

static int is_lower_hex(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* --- issuing ---------------------------------------------------------------------- */

static void test_issue_shape(void **state)
{
	struct parts p;
	char want[40];

	(void)state;
	alice_parts(&p);
	snprintf(want, sizeof want, "v2.%lld.", (long long)NOW + TTL);
	assert_memory_equal(p.key, want, KID_AT);
	assert_int_equal(p.key[TAG_AT - 1], '.');
	assert_int_equal(p.key[SIG_AT - 1], '.');
	for (int i = 0; i < TAG_LEN; i++) {
		assert_true(is_lower_hex(p.kid[i]));
		assert_true(is_lower_hex(p.tag[i]));
	}
	for (int i = 0; i < SIG_LEN; i++) {
		char c = p.sig[i];

		assert_true((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			    (c >= '0' && c <= '9') || c == '-' || c == '_');
	}
}

/* The whole key is exactly the independent computation, for several uids and secrets. */
static void test_issue_known_answer(void **state)
{
	static const char uid_nul[] = { 'a', '\0', 'b', '|', '.' };
	static const struct {
		const char *uid;
		size_t len;
	} uids[] = { { "alice", 5 }, { "bob", 3 }, { "\xe5\xbc\xa0\xe4\xb8\x89", 6 },
		     { "a|b.c", 5 }, { uid_nul, sizeof uid_nul }, { "", 0 } };
	const unsigned char *secrets[] = { secret_a, secret_b, secret_c };
	char key[AKEY_MAX_LEN], want[AKEY_MAX_LEN];

	(void)state;
	for (size_t s = 0; s < 3; s++) {
		for (size_t u = 0; u < sizeof uids / sizeof uids[0]; u++) {
			size_t n = akey_issue(secrets[s], uids[u].uid, uids[u].len, NOW, TTL, key,
					      sizeof key);

			ref_key(secrets[s], uids[u].uid, uids[u].len, (long long)NOW + TTL, want,
				sizeof want);
			assert_int_equal(n, strlen(want));
			assert_string_equal(key, want);
		}
	}
}

/* The kid names the secret alone; the tag names the uid alone (for a secret). */
static void test_issue_kid_and_tag(void **state)
{
	struct parts p;
	char k[AKEY_MAX_LEN], kid_b[TAG_LEN + 1];

	(void)state;
	alice_parts(&p);
	issue(secret_a, "bob", NOW + 5000, 7, k);
	assert_memory_equal(k + KID_AT, p.kid, TAG_LEN);           /* same secret: same kid */
	assert_memory_not_equal(k + TAG_AT, p.tag, TAG_LEN);       /* other uid: other tag */
	issue(secret_a, "alice", NOW + 5000, 7, k);
	assert_memory_equal(k + TAG_AT, p.tag, TAG_LEN);           /* same uid: same tag */
	issue(secret_b, "alice", NOW, TTL, k);
	ref_kid(secret_b, kid_b);
	assert_memory_equal(k + KID_AT, kid_b, TAG_LEN);
	assert_memory_not_equal(k + KID_AT, p.kid, TAG_LEN);       /* other secret: other kid */
	assert_memory_not_equal(k + TAG_AT, p.tag, TAG_LEN);       /* and another tag */
}

static void test_issue_buffer_size(void **state)
{
	char key[AKEY_MAX_LEN], small[AKEY_MAX_LEN];
	size_t n;

	(void)state;
	n = issue(secret_a, "alice", NOW, TTL, key);
	assert_int_equal(akey_issue(secret_a, "alice", 5, NOW, TTL, small, n), 0);
	assert_int_equal(akey_issue(secret_a, "alice", 5, NOW, TTL, small, 1), 0);
	assert_int_equal(akey_issue(secret_a, "alice", 5, NOW, TTL, small, 0), 0);
	assert_int_equal(akey_issue(secret_a, "alice", 5, NOW, TTL, small, n + 1), n);
	assert_string_equal(small, key);
}

static void test_issue_deterministic(void **state)
{
	char k1[AKEY_MAX_LEN], k2[AKEY_MAX_LEN];

	(void)state;
	issue(secret_a, "alice", NOW, TTL, k1);
	issue(secret_a, "alice", NOW, TTL, k2);
	assert_string_equal(k1, k2);
	issue(secret_a, "alice", NOW + 1, TTL - 1, k2); /* same expiry */
	assert_string_equal(k1, k2);
	issue(secret_a, "alice", NOW, TTL + 1, k2);
	assert_string_not_equal(k1, k2);
	issue(secret_a, "bob", NOW, TTL, k2);
	assert_string_not_equal(k1, k2);
	issue(secret_b, "alice", NOW, TTL, k2);
	assert_string_not_equal(k1, k2);
}

/* --- verifying a genuine key --------------------------------------------------------- */

static void test_verify_ok(void **state)
{
	char key[AKEY_MAX_LEN];

	(void)state;
	issue(secret_a, "alice", NOW, TTL, key);
	assert_int_equal(verify(&only_a, "alice", key, NOW), AKEY_OK);
	assert_int_equal(verify(&only_a, "alice", key, NOW - 1000), AKEY_OK);
	assert_int_equal(verify(&only_a, "alice", key, 0), AKEY_OK);
	issue(secret_a, "\xe5\xbc\xa0\xe4\xb8\x89", NOW, TTL, key);
	assert_int_equal(verify(&only_a, "\xe5\xbc\xa0\xe4\xb8\x89", key, NOW), AKEY_OK);
	issue(secret_a, "", NOW, TTL, key);
	assert_int_equal(verify(&only_a, "", key, NOW), AKEY_OK);
}

static void test_verify_binary_uid(void **state)
{
	static const char uid1[] = { 'a', '\0', 'b' };
	static const char uid2[] = { 'a', '\0', 'c' };
	char key[AKEY_MAX_LEN], t1[TAG_LEN + 1], t2[TAG_LEN + 1], t3[TAG_LEN + 1];
	size_t n;

	(void)state;
	/* The statuses below are OTHER_UID only because these tags differ. */
	ref_tag(secret_a, uid1, sizeof uid1, t1);
	ref_tag(secret_a, uid2, sizeof uid2, t2);
	ref_tag(secret_a, uid1, 1, t3);
	assert_string_not_equal(t1, t2);
	assert_string_not_equal(t1, t3);
	n = akey_issue(secret_a, uid1, sizeof uid1, NOW, TTL, key, sizeof key);
	assert_true(n > 0);
	assert_int_equal(n, strlen(key)); /* the uid's NUL is not in the key */
	assert_int_equal(verify_s(&only_a, uid1, sizeof uid1, key, n, NOW), AKEY_OK);
	assert_int_equal(verify_s(&only_a, uid2, sizeof uid2, key, n, NOW), AKEY_OTHER_UID);
	assert_int_equal(verify_s(&only_a, uid1, 1, key, n, NOW), AKEY_OTHER_UID);
}

static void test_verify_expiry(void **state)
{
	char key[AKEY_MAX_LEN];

	(void)state;
	issue(secret_a, "alice", NOW, TTL, key);
	assert_int_equal(verify(&only_a, "alice", key, NOW + TTL), AKEY_OK); /* last valid second */
	assert_int_equal(verify(&only_a, "alice", key, NOW + TTL + 1), AKEY_EXPIRED);
	assert_int_equal(verify(&only_a, "alice", key, NOW + 100000), AKEY_EXPIRED);
	/* ttl 0: valid during the second it was issued in only. */
	issue(secret_a, "alice", NOW, 0, key);
	assert_int_equal(verify(&only_a, "alice", key, NOW), AKEY_OK);
	assert_int_equal(verify(&only_a, "alice", key, NOW + 1), AKEY_EXPIRED);
	/* A negative ttl issues a key that is already expired. */
	issue(secret_a, "alice", NOW, -1, key);
	assert_int_equal(verify(&only_a, "alice", key, NOW), AKEY_EXPIRED);
	assert_int_equal(verify(&only_a, "alice", key, NOW - 1), AKEY_OK);
}

/* A genuine key presented for another uid. */
static void test_verify_other_uid(void **state)
{
	static const char *const others[] = { "bob", "alic", "alicex", "Alice", "", "alice\n" };
	char key[AKEY_MAX_LEN], mine[TAG_LEN + 1], theirs[TAG_LEN + 1];

	(void)state;
	issue(secret_a, "alice", NOW, TTL, key);
	ref_tag(secret_a, "alice", 5, mine);
	for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
		ref_tag(secret_a, others[i], strlen(others[i]), theirs);
		assert_string_not_equal(mine, theirs);
		assert_int_equal(verify(&only_a, others[i], key, NOW), AKEY_OTHER_UID);
		/* The uid is judged before the expiry. */
		assert_int_equal(verify(&only_a, others[i], key, NOW + 100000), AKEY_OTHER_UID);
	}
}

/* A correct uid tag is not enough: the signature still has to match. */
static void test_verify_bad_signature(void **state)
{
	struct parts p;
	char t[AKEY_MAX_LEN * 2], bob_tag[TAG_LEN + 1], sig[SIG_LEN + 1];

	(void)state;
	alice_parts(&p);
	/* Every single character of the signature changed to another base64url one. */
	for (size_t i = 0; i < SIG_LEN; i++) {
		memcpy(t, p.key, p.len + 1);
		t[SIG_AT + i] = t[SIG_AT + i] == 'A' ? 'B' : 'A';
		expect_status(t, AKEY_BAD_SIGNATURE);
		/* A forged key is a bad signature even when also expired. */
		assert_int_equal(verify(&only_a, "alice", t, NOW + 100000), AKEY_BAD_SIGNATURE);
	}
	/* alice's key with bob's (correct) tag, presented for bob. */
	ref_tag(secret_a, "bob", 3, bob_tag);
	make_key(t, sizeof t, p.exp, p.kid, bob_tag, p.sig);
	assert_int_equal(verify(&only_a, "bob", t, NOW), AKEY_BAD_SIGNATURE);
	/* A later expiry with the old signature. */
	make_key(t, sizeof t, "1700000061", p.kid, p.tag, p.sig);
	expect_status(t, AKEY_BAD_SIGNATURE);
	make_key(t, sizeof t, "9999999999", p.kid, p.tag, p.sig);
	expect_status(t, AKEY_BAD_SIGNATURE);
	/* A signature that is right for another expiry. */
	ref_sig(secret_a, "1700000061", p.kid, p.tag, "alice", 5, sig);
	make_key(t, sizeof t, p.exp, p.kid, p.tag, sig);
	expect_status(t, AKEY_BAD_SIGNATURE);
	/* The signature of secret_b under secret_a's kid and tag. */
	ref_sig(secret_b, p.exp, p.kid, p.tag, "alice", 5, sig);
	make_key(t, sizeof t, p.exp, p.kid, p.tag, sig);
	expect_status(t, AKEY_BAD_SIGNATURE);
	/* Same bytes as the signature, with the padding base64 would add: too long. */
	snprintf(t, sizeof t, "%s=", p.key);
	expect_status(t, AKEY_MALFORMED);
}

/* A key signed by a secret that is not in use. */
static void test_verify_unknown_secret(void **state)
{
	unsigned char other[AKEY_SECRET_LEN];
	char key[AKEY_MAX_LEN], kid_a[TAG_LEN + 1], kid_o[TAG_LEN + 1];

	(void)state;
	ref_kid(secret_a, kid_a);
	issue(secret_a, "alice", NOW, TTL, key);
	for (size_t i = 0; i < AKEY_SECRET_LEN * 8; i++) {
		struct akey_secrets s = { other, NULL, 0 };

		memcpy(other, secret_a, sizeof other);
		other[i / 8] ^= (unsigned char)(1u << (i % 8));
		ref_kid(other, kid_o);
		assert_string_not_equal(kid_a, kid_o);
		assert_int_equal(verify(&s, "alice", key, NOW), AKEY_UNKNOWN_SECRET);
		/* The secret is judged before the uid and the expiry. */
		assert_int_equal(verify(&s, "bob", key, NOW + 100000), AKEY_UNKNOWN_SECRET);
	}
	/* A well-formed kid that names no secret. */
	memcpy(key + KID_AT, "00000000", TAG_LEN);
	expect_status(key, AKEY_UNKNOWN_SECRET);
}

/* --- secret rotation ------------------------------------------------------------------ */

static void test_rotation(void **state)
{
	const long long until = (long long)NOW + 30;
	const struct akey_secrets rot = { secret_b, secret_a, until };
	const struct akey_secrets no_prev = { secret_b, NULL, until };
	const struct akey_secrets prev_zero = { secret_b, secret_a, 0 };
	char old[AKEY_MAX_LEN], cur[AKEY_MAX_LEN], third[AKEY_MAX_LEN];

	(void)state;
	issue(secret_a, "alice", NOW, TTL, old);
	issue(secret_b, "alice", NOW, TTL, cur);
	issue(secret_c, "alice", NOW, TTL, third);

	/* The previous secret's key: OK before prev_until, unknown at and after it. */
	assert_int_equal(verify(&rot, "alice", old, NOW), AKEY_OK);
	assert_int_equal(verify(&rot, "alice", old, (time_t)until - 1), AKEY_OK);
	assert_int_equal(verify(&rot, "alice", old, (time_t)until), AKEY_UNKNOWN_SECRET);
	assert_int_equal(verify(&rot, "alice", old, (time_t)until + 1), AKEY_UNKNOWN_SECRET);
	assert_int_equal(verify(&no_prev, "alice", old, NOW), AKEY_UNKNOWN_SECRET);
	assert_int_equal(verify(&prev_zero, "alice", old, NOW), AKEY_UNKNOWN_SECRET);
	/* ... and otherwise judged like any key: uid, signature, expiry. */
	assert_int_equal(verify(&rot, "bob", old, NOW), AKEY_OTHER_UID);
	{
		char t[AKEY_MAX_LEN];

		memcpy(t, old, sizeof t);
		t[SIG_AT] = t[SIG_AT] == 'A' ? 'B' : 'A';
		assert_int_equal(verify(&rot, "alice", t, NOW), AKEY_BAD_SIGNATURE);
		assert_int_equal(verify(&rot, "alice", t, (time_t)until), AKEY_UNKNOWN_SECRET);
	}
	{
		const struct akey_secrets long_grace = { secret_b, secret_a, until + 1000 };

		assert_int_equal(verify(&long_grace, "alice", old, NOW + TTL), AKEY_OK);
		assert_int_equal(verify(&long_grace, "alice", old, NOW + TTL + 1), AKEY_EXPIRED);
	}

	/* The current secret's keys do not care about the rotation. */
	for (long long t = NOW - 1; t <= NOW + TTL + 1; t++) {
		enum akey_status want = t <= NOW + TTL ? AKEY_OK : AKEY_EXPIRED;

		assert_int_equal(verify(&rot, "alice", cur, (time_t)t), want);
		assert_int_equal(verify(&no_prev, "alice", cur, (time_t)t), want);
		assert_int_equal(verify(&prev_zero, "alice", cur, (time_t)t), want);
	}
	assert_int_equal(verify(&rot, "bob", cur, NOW), AKEY_OTHER_UID);

	/* A third secret is unknown at any time. */
	assert_int_equal(verify(&rot, "alice", third, NOW), AKEY_UNKNOWN_SECRET);
	assert_int_equal(verify(&rot, "alice", third, (time_t)until), AKEY_UNKNOWN_SECRET);
	assert_int_equal(verify(&no_prev, "alice", third, NOW), AKEY_UNKNOWN_SECRET);
}

/* Verifiers with different secrets, interleaved: the per-secret state akey keeps between
 * calls never mixes them up, also when a secret is changed in place (a reload). */
static void test_secrets_interleaved(void **state)
{
	const unsigned char *sec[3] = { secret_a, secret_b, secret_c };
	char keys[3][AKEY_MAX_LEN];
	unsigned char buf[AKEY_SECRET_LEN];
	struct akey_secrets inplace = { buf, NULL, 0 };

	(void)state;
	for (int i = 0; i < 3; i++)
		issue(sec[i], "alice", NOW, TTL, keys[i]);
	for (int round = 0; round < 4; round++) {
		for (int c = 0; c < 3; c++) {
			for (int p = 0; p < 3; p++) {
				struct akey_secrets s = { sec[c], sec[(c + p) % 3],
							  (long long)NOW + 10 };

				for (int k = (round + c) % 3, j = 0; j < 3; j++, k = (k + 1) % 3) {
					enum akey_status want = k == c || k == (c + p) % 3
									? AKEY_OK
									: AKEY_UNKNOWN_SECRET;

					assert_int_equal(verify(&s, "alice", keys[k], NOW), want);
					assert_int_equal(verify(&s, "alice", keys[k], NOW + 10),
							 k == c ? AKEY_OK : AKEY_UNKNOWN_SECRET);
				}
			}
		}
	}
	for (int i = 0; i < 6; i++) {
		memcpy(buf, sec[i % 3], sizeof buf);
		for (int k = 0; k < 3; k++)
			assert_int_equal(verify(&inplace, "alice", keys[k], NOW),
					 k == i % 3 ? AKEY_OK : AKEY_UNKNOWN_SECRET);
	}
}

/* --- tampering and malformed shapes --------------------------------------------------- */

/* What a key with byte i set to c must give, for alice's key at NOW. */
static enum akey_status tampered_status(size_t i, int c)
{
	if (i < EXP_AT || i == KID_AT - 1 || i == TAG_AT - 1 || i == SIG_AT - 1)
		return AKEY_MALFORMED; /* prefix or separator */
	if (i < KID_AT - 1) /* expiry digit */
		return c < '0' || c > '9' || (i == EXP_AT && c == '0') ? AKEY_MALFORMED
								     : AKEY_BAD_SIGNATURE;
	if (i < TAG_AT - 1) /* kid */
		return is_lower_hex(c) ? AKEY_UNKNOWN_SECRET : AKEY_MALFORMED;
	if (i < SIG_AT - 1) /* uid tag */
		return is_lower_hex(c) ? AKEY_OTHER_UID : AKEY_MALFORMED;
	return AKEY_BAD_SIGNATURE; /* the signature is compared, whatever its bytes */
}

/* Every byte of a valid key replaced by every other byte value: the right refusal. */
static void test_verify_tamper_every_byte(void **state)
{
	struct parts p;
	char t[AKEY_MAX_LEN];

	(void)state;
	alice_parts(&p);
	for (size_t i = 0; i < p.len; i++) {
		for (int c = 0; c < 256; c++) {
			enum akey_status st, want = tampered_status(i, c);

			if ((char)c == p.key[i])
				continue;
			memcpy(t, p.key, p.len);
			t[i] = (char)c;
			st = verify_s(&only_a, "alice", 5, t, p.len, NOW);
			if (st != want) {
				print_error("byte %zu set to 0x%02x: status %d (%s), want %d\n", i,
					    c, st, akey_status_str(st), want);
				fail();
			}
		}
	}
}

/* Every truncation, every byte dropped, every byte inserted, anything appended. */
static void test_verify_truncate_extend(void **state)
{
	static const char extra[] = { 'A', '0', 'a', '.', '=', '\0', '\xff' };
	struct parts p;
	char t[AKEY_MAX_LEN + 8];

	(void)state;
	alice_parts(&p);
	expect_n(p.key, 0, AKEY_MISSING, "empty");
	for (size_t n = 1; n < p.len; n++) {
		expect_n(p.key, n, AKEY_MALFORMED, "prefix");
		expect_n(p.key + n, p.len - n, AKEY_MALFORMED, "suffix");
	}
	for (size_t i = 0; i < p.len; i++) {
		/* Dropping an expiry digit leaves a well-formed key for another expiry. */
		enum akey_status want = i >= EXP_AT && i < KID_AT - 1 ? AKEY_BAD_SIGNATURE
								      : AKEY_MALFORMED;

		memcpy(t, p.key, i);
		memcpy(t + i, p.key + i + 1, p.len - i - 1);
		expect_n(t, p.len - 1, want, "byte dropped");
	}
	for (size_t i = 0; i <= p.len; i++) {
		for (size_t e = 0; e < sizeof extra; e++) {
			enum akey_status want = AKEY_MALFORMED;

			/* Inserting a digit into the expiry (not a leading zero) keeps the shape. */
			if (extra[e] == '0' && i > EXP_AT && i < KID_AT)
				want = AKEY_BAD_SIGNATURE;
			memcpy(t, p.key, i);
			t[i] = extra[e];
			memcpy(t + i + 1, p.key + i, p.len - i);
			expect_n(t, p.len + 1, want, "byte inserted");
		}
	}
	memcpy(t, p.key, p.len);
	memset(t + p.len, 'A', sizeof t - p.len);
	for (size_t n = p.len + 1; n <= sizeof t; n++)
		expect_n(t, n, AKEY_MALFORMED, "appended");
}

static void test_verify_missing(void **state)
{
	char key[AKEY_MAX_LEN];
	const struct akey_secrets rot = { secret_b, secret_a, (long long)NOW + 30 };

	(void)state;
	issue(secret_a, "alice", NOW, TTL, key);
	assert_int_equal(verify_s(&only_a, "alice", 5, key, 0, NOW), AKEY_MISSING);
	assert_int_equal(akey_verify(&only_a, "alice", 5, "", 0, NOW), AKEY_MISSING);
	assert_int_equal(akey_verify(&rot, "", 0, "", 0, NOW), AKEY_MISSING);
}

static void test_verify_malformed_short(void **state)
{
	(void)state;
	expect_status("v", AKEY_MALFORMED);
	expect_status("v2", AKEY_MALFORMED);
	expect_status("v2.", AKEY_MALFORMED);
	expect_status("v2.1.", AKEY_MALFORMED);
	expect_status("v2....", AKEY_MALFORMED);
	expect_status("x", AKEY_MALFORMED);
	expect_status(".", AKEY_MALFORMED);
	expect_status("garbage that is not a key at all", AKEY_MALFORMED);
	expect_n("\0\0\0", 3, AKEY_MALFORMED, "NULs");
}

/* The v1 shape and other versions are refused before anything else. */
static void test_verify_malformed_prefix(void **state)
{
	static const char *const prefixes[] = { "v1.", "V2.", "v2:", "x2.", "v2,", "2v.", "v3.",
						 "v2-", "v2_", "v2 " };
	struct parts p;
	char t[AKEY_MAX_LEN * 2];

	(void)state;
	alice_parts(&p);
	for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
		memcpy(t, p.key, p.len + 1);
		memcpy(t, prefixes[i], 3);
		expect_status(t, AKEY_MALFORMED);
	}
	/* A v1 key: "v1.<expiry>.<sig>". */
	snprintf(t, sizeof t, "v1.%s.%s", p.exp, p.sig);
	expect_status(t, AKEY_MALFORMED);
	/* Prefix doubled or missing. */
	snprintf(t, sizeof t, "v2.%s", p.key);
	expect_status(t, AKEY_MALFORMED);
	expect_status(p.key + 3, AKEY_MALFORMED);
}

/* Each separator replaced, and the parts run together or split differently. */
static void test_verify_malformed_separators(void **state)
{
	static const char seps[] = { ',', ':', '|', '-', '_', ' ', '0', 'a', 'A', '\0' };
	static const size_t at[] = { 2, KID_AT - 1, TAG_AT - 1, SIG_AT - 1 };
	struct parts p;
	char t[AKEY_MAX_LEN * 2];

	(void)state;
	alice_parts(&p);
	for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
		for (size_t s = 0; s < sizeof seps; s++) {
			memcpy(t, p.key, p.len + 1);
			t[at[i]] = seps[s];
			expect_n(t, p.len, AKEY_MALFORMED, "separator");
		}
	}
	snprintf(t, sizeof t, "v2.%s%s.%s.%s", p.exp, p.kid, p.tag, p.sig);
	expect_status(t, AKEY_MALFORMED);
	snprintf(t, sizeof t, "v2.%s.%s%s.%s", p.exp, p.kid, p.tag, p.sig);
	expect_status(t, AKEY_MALFORMED);
	snprintf(t, sizeof t, "v2.%s.%s.%s%s", p.exp, p.kid, p.tag, p.sig);
	expect_status(t, AKEY_MALFORMED);
	snprintf(t, sizeof t, "v2.%s..%s.%s.%s", p.exp, p.kid, p.tag, p.sig);
	expect_status(t, AKEY_MALFORMED);
	snprintf(t, sizeof t, "v2.%s.%s.%s..%s", p.exp, p.kid, p.tag, p.sig);
	expect_status(t, AKEY_MALFORMED);
	snprintf(t, sizeof t, "v2.%s.%s.%s.%s.", p.exp, p.kid, p.tag, p.sig);
	expect_status(t, AKEY_MALFORMED);
	/* Parts swapped. */
	snprintf(t, sizeof t, "v2.%s.%s.%s.%s", p.exp, p.tag, p.kid, p.sig);
	expect_status(t, AKEY_UNKNOWN_SECRET); /* well-formed, but names no secret */
	snprintf(t, sizeof t, "v2.%s.%s.%s.%s", p.kid, p.exp, p.tag, p.sig);
	expect_status(t, AKEY_MALFORMED);
}

/* kid and uid tag: exactly 8 lowercase hex digits. */
static void test_verify_malformed_hex(void **state)
{
	static const char *const bad[] = {
		"0123456g", "G0123456", "ABCDEF01", "abcdeF01", "0123 456", "-1234567", "+1234567",
		"0x123456", "1234567",  "123456789", "",        "........",
	};
	struct parts p;
	char t[AKEY_MAX_LEN * 2], lower[TAG_LEN + 1], upper[TAG_LEN + 1];

	(void)state;
	alice_parts(&p);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		make_key(t, sizeof t, p.exp, bad[i], p.tag, p.sig);
		expect_status(t, AKEY_MALFORMED);
		make_key(t, sizeof t, p.exp, p.kid, bad[i], p.sig);
		expect_status(t, AKEY_MALFORMED);
	}
	/* Hex is lowercase, as issued: the uppercase spelling of the genuine parts is refused. */
	for (int part = 0; part < 2; part++) {
		const char *src = part ? p.tag : p.kid;
		int has_letter = 0;

		for (int i = 0; i < TAG_LEN; i++) {
			lower[i] = src[i];
			upper[i] = src[i] >= 'a' && src[i] <= 'f' ? (char)(src[i] - 'a' + 'A') : src[i];
			has_letter |= upper[i] != lower[i];
		}
		lower[TAG_LEN] = upper[TAG_LEN] = '\0';
		if (!has_letter) /* all digits: put a letter in */
			upper[0] = 'A';
		make_key(t, sizeof t, p.exp, part ? p.kid : upper, part ? upper : p.tag, p.sig);
		expect_status(t, AKEY_MALFORMED);
	}
}

static void test_verify_malformed_expiry(void **state)
{
	static const char *const bad[] = {
		"",                        /* empty */
		"12a4",                    /* non-digit */
		"-1700000060",             /* sign */
		"+1700000060",
		" 1700000060",
		"1700000060 ",
		"0x10",
		"01700000060",             /* leading zero: not read as the same number */
		"00",
		"000000000000000001",
		"1234567890123456789",     /* 19 digits */
		"99999999999999999999999", /* overflows any integer */
		"1.5",
		"1e9",
	};
	struct parts p;
	char t[AKEY_MAX_LEN * 2];

	(void)state;
	alice_parts(&p);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		make_key(t, sizeof t, bad[i], p.kid, p.tag, p.sig);
		expect_status(t, AKEY_MALFORMED);
	}
}

static void test_verify_malformed_sig_length(void **state)
{
	struct parts p;
	char t[AKEY_MAX_LEN * 2], sig[SIG_LEN + 2];

	(void)state;
	alice_parts(&p);
	memcpy(sig, p.sig, SIG_LEN + 1);
	sig[SIG_LEN - 1] = '\0'; /* 42 characters */
	make_key(t, sizeof t, p.exp, p.kid, p.tag, sig);
	expect_status(t, AKEY_MALFORMED);
	memcpy(sig, p.sig, SIG_LEN);
	sig[SIG_LEN] = 'A'; /* 44 characters */
	sig[SIG_LEN + 1] = '\0';
	make_key(t, sizeof t, p.exp, p.kid, p.tag, sig);
	expect_status(t, AKEY_MALFORMED);
	make_key(t, sizeof t, p.exp, p.kid, p.tag, "");
	expect_status(t, AKEY_MALFORMED);
}

/* Too long: a valid key padded to AKEY_MAX_LEN and beyond; the longest valid key is
 * AKEY_MAX_LEN - 1 bytes (18 expiry digits). */
static void test_verify_malformed_too_long(void **state)
{
	char key[AKEY_MAX_LEN], t[AKEY_MAX_LEN * 2];
	size_t n;

	(void)state;
	n = issue(secret_a, "alice", NOW, TTL, key);
	memset(t, 'A', sizeof t);
	memcpy(t, key, n);
	assert_int_equal(verify_s(&only_a, "alice", 5, t, AKEY_MAX_LEN - 1, NOW), AKEY_MALFORMED);
	assert_int_equal(verify_s(&only_a, "alice", 5, t, AKEY_MAX_LEN, NOW), AKEY_MALFORMED);
	assert_int_equal(verify_s(&only_a, "alice", 5, t, AKEY_MAX_LEN + 1, NOW), AKEY_MALFORMED);
	assert_int_equal(verify_s(&only_a, "alice", 5, t, sizeof t, NOW), AKEY_MALFORMED);
}

/* 18 expiry digits are the most the format takes; 19 cannot be issued. */
static void test_expiry_digit_limit(void **state)
{
	char key[AKEY_MAX_LEN], t[AKEY_MAX_LEN * 2], kid[TAG_LEN + 1], tag[TAG_LEN + 1],
		sig[SIG_LEN + 1];
	time_t now18 = (time_t)999999999999999999LL - TTL; /* expiry has 18 digits */
	size_t n;

	(void)state;
	n = issue(secret_a, "alice", now18, TTL, key);
	assert_int_equal(n, AKEY_MAX_LEN - 1);
	assert_int_equal(verify(&only_a, "alice", key, now18), AKEY_OK);
	assert_int_equal(verify(&only_a, "alice", key, now18 + TTL), AKEY_OK);
	assert_int_equal(verify(&only_a, "alice", key, now18 + TTL + 1), AKEY_EXPIRED);
	assert_int_equal(akey_issue(secret_a, "alice", 5, now18, TTL + 1, t, sizeof t), 0);
	/* A correctly signed 19-digit key is still malformed. */
	ref_kid(secret_a, kid);
	ref_tag(secret_a, "alice", 5, tag);
	ref_sig(secret_a, "1000000000000000000", kid, tag, "alice", 5, sig);
	make_key(t, sizeof t, "1000000000000000000", kid, tag, sig);
	assert_int_equal(strlen(t), AKEY_MAX_LEN);
	expect_status(t, AKEY_MALFORMED);
}

static void test_expiry_zero(void **state)
{
	char key[AKEY_MAX_LEN];

	(void)state;
	/* "0" alone is not a leading zero. */
	issue(secret_a, "alice", 0, 0, key);
	assert_memory_equal(key, "v2.0.", 5);
	assert_int_equal(verify(&only_a, "alice", key, 0), AKEY_OK);
	assert_int_equal(verify(&only_a, "alice", key, 1), AKEY_EXPIRED);
}

/* Several faults at once: the first in the documented order is reported. */
static void test_status_order(void **state)
{
	const struct akey_secrets only_b = { secret_b, NULL, 0 };
	struct parts p;
	char t[AKEY_MAX_LEN];

	(void)state;
	alice_parts(&p);
	/* shape before secret */
	memcpy(t, p.key, p.len + 1);
	t[TAG_AT] = 'x';
	assert_int_equal(verify(&only_b, "alice", t, NOW), AKEY_MALFORMED);
	/* secret before uid, signature and expiry */
	memcpy(t, p.key, p.len + 1);
	t[SIG_AT] = t[SIG_AT] == 'A' ? 'B' : 'A';
	assert_int_equal(verify(&only_b, "bob", t, NOW + 1000), AKEY_UNKNOWN_SECRET);
	/* uid before signature and expiry */
	assert_int_equal(verify(&only_a, "bob", t, NOW + 1000), AKEY_OTHER_UID);
	/* signature before expiry */
	assert_int_equal(verify(&only_a, "alice", t, NOW + 1000), AKEY_BAD_SIGNATURE);
	assert_int_equal(verify(&only_a, "alice", p.key, NOW + 1000), AKEY_EXPIRED);
	assert_int_equal(verify(&only_a, "alice", p.key, NOW), AKEY_OK);
}

static void test_status_str(void **state)
{
	static const enum akey_status all[] = { AKEY_OK,
						AKEY_MISSING,
						AKEY_MALFORMED,
						AKEY_UNKNOWN_SECRET,
						AKEY_OTHER_UID,
						AKEY_BAD_SIGNATURE,
						AKEY_EXPIRED };
	const size_t n = sizeof all / sizeof all[0];

	(void)state;
	assert_int_equal(AKEY_OK, 0);
	for (size_t i = 0; i < n; i++) {
		const char *s = akey_status_str(all[i]);

		assert_non_null(s);
		assert_true(s[0] != '\0');
		for (size_t j = 0; j < i; j++) {
			assert_int_not_equal(all[i], all[j]);
			assert_string_not_equal(s, akey_status_str(all[j]));
		}
	}
	assert_non_null(akey_status_str((enum akey_status)99));
	assert_true(akey_status_str((enum akey_status)99)[0] != '\0');
}

static void test_secure_equal(void **state)
{
	(void)state;
	assert_int_equal(akey_secure_equal("abc", 3, "abc", 3), 1);
	assert_int_equal(akey_secure_equal("", 0, "", 0), 1);
	assert_int_equal(akey_secure_equal("abc", 3, "abd", 3), 0);
	assert_int_equal(akey_secure_equal("abc", 3, "xbc", 3), 0);
	assert_int_equal(akey_secure_equal("abc", 3, "ab", 2), 0);
	assert_int_equal(akey_secure_equal("ab", 2, "abc", 3), 0);
	assert_int_equal(akey_secure_equal("abc", 0, "xyz", 0), 1);
	assert_int_equal(akey_secure_equal("a\0b", 3, "a\0c", 3), 0);
	assert_int_equal(akey_secure_equal("a\0b", 3, "a\0b", 3), 1);
	/* Every single-bit difference in a 32-byte block. */
	{
		unsigned char a[32], b[32];

		for (size_t i = 0; i < sizeof a; i++)
			a[i] = (unsigned char)(i * 7 + 1);
		for (size_t i = 0; i < sizeof a * 8; i++) {
			memcpy(b, a, sizeof b);
			b[i / 8] ^= (unsigned char)(1u << (i % 8));
			assert_int_equal(akey_secure_equal(a, sizeof a, b, sizeof b), 0);
		}
		assert_int_equal(akey_secure_equal(a, sizeof a, a, sizeof a), 1);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_issue_shape),
		cmocka_unit_test(test_issue_known_answer),
		cmocka_unit_test(test_issue_kid_and_tag),
		cmocka_unit_test(test_issue_buffer_size),
		cmocka_unit_test(test_issue_deterministic),
		cmocka_unit_test(test_verify_ok),
		cmocka_unit_test(test_verify_binary_uid),
		cmocka_unit_test(test_verify_expiry),
		cmocka_unit_test(test_verify_other_uid),
		cmocka_unit_test(test_verify_bad_signature),
		cmocka_unit_test(test_verify_unknown_secret),
		cmocka_unit_test(test_rotation),
		cmocka_unit_test(test_secrets_interleaved),
		cmocka_unit_test(test_verify_tamper_every_byte),
		cmocka_unit_test(test_verify_truncate_extend),
		cmocka_unit_test(test_verify_missing),
		cmocka_unit_test(test_verify_malformed_short),
		cmocka_unit_test(test_verify_malformed_prefix),
		cmocka_unit_test(test_verify_malformed_separators),
		cmocka_unit_test(test_verify_malformed_hex),
		cmocka_unit_test(test_verify_malformed_expiry),
		cmocka_unit_test(test_verify_malformed_sig_length),
		cmocka_unit_test(test_verify_malformed_too_long),
		cmocka_unit_test(test_expiry_digit_limit),
		cmocka_unit_test(test_expiry_zero),
		cmocka_unit_test(test_status_order),
		cmocka_unit_test(test_status_str),
		cmocka_unit_test(test_secure_equal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
