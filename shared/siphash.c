/* SPDX-License-Identifier: MIT */
/* SipHash-2-4 after the reference description in the paper ("SipHash: a fast
 * short-input PRF", section 2): two compression rounds per word, four to finalise. */
#include "siphash.h"

#include <endian.h>
#include <errno.h>
#include <string.h>
#include <sys/random.h>

#define SIP_ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

/* One SipRound. A macro over four locals rather than a function on an array,
 * so the state stays in registers (the calls made a short uid's hash about a
 * third slower with gcc -O2). */
#define SIP_ROUND(v0, v1, v2, v3)                                             \
	do {                                                                  \
		v0 += v1; v1 = SIP_ROTL(v1, 13); v1 ^= v0; v0 = SIP_ROTL(v0, 32); \
		v2 += v3; v3 = SIP_ROTL(v3, 16); v3 ^= v2;                    \
		v0 += v3; v3 = SIP_ROTL(v3, 21); v3 ^= v0;                    \
		v2 += v1; v1 = SIP_ROTL(v1, 17); v1 ^= v2; v2 = SIP_ROTL(v2, 32); \
	} while (0)

/* Little-endian load whatever the host's byte order (the paper's convention);
 * memcpy allows any alignment and compiles to one load. */
static uint64_t sip_load64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof v);
	return le64toh(v);
}

uint64_t siphash24(const uint8_t key[SIPHASH_KEY_BYTES], const void *in, size_t len)
{
	const uint8_t *p = in;
	uint64_t k0 = sip_load64(key), k1 = sip_load64(key + 8), m;
	/* "somepseudorandomlygeneratedbytes", the paper's initialisation constants. */
	uint64_t v0 = k0 ^ 0x736f6d6570736575ULL, v1 = k1 ^ 0x646f72616e646f6dULL;
	uint64_t v2 = k0 ^ 0x6c7967656e657261ULL, v3 = k1 ^ 0x7465646279746573ULL;
	size_t tail = len & 7;

	/* Compression: c = 2 rounds per 8-byte word. */
	for (const uint8_t *end = p + (len - tail); p != end; p += 8) {
		m = sip_load64(p);
		v3 ^= m;
		SIP_ROUND(v0, v1, v2, v3);
		SIP_ROUND(v0, v1, v2, v3);
		v0 ^= m;
	}
	/* The last word: the 0..7 bytes left, little-endian, and the length mod
	 * 256 in the top byte. */
	m = (uint64_t)(len & 0xff) << 56;
	for (size_t i = 0; i < tail; i++)
		m |= (uint64_t)p[i] << (8 * i);
	v3 ^= m;
	SIP_ROUND(v0, v1, v2, v3);
	SIP_ROUND(v0, v1, v2, v3);
	v0 ^= m;
	/* Finalisation: d = 4 rounds. */
	v2 ^= 0xff;
	SIP_ROUND(v0, v1, v2, v3);
	SIP_ROUND(v0, v1, v2, v3);
	SIP_ROUND(v0, v1, v2, v3);
	SIP_ROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

int siphash_key_random(uint8_t key[SIPHASH_KEY_BYTES])
{
	ssize_t n;

	/* Requests of at most 256 bytes are never cut short once the pool is up;
	 * EINTR can only come while it is still initialising at boot. */
	do
		n = getrandom(key, SIPHASH_KEY_BYTES, 0);
	while (n < 0 && errno == EINTR);
	return n == SIPHASH_KEY_BYTES ? 0 : -1;
}
