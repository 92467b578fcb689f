/* SipHash-2-4 after the reference description in the paper ("SipHash: a fast
 * short-input PRF", section 2): two compression rounds per word, four to finalise. */
#include "siphash.h"

#include <errno.h>
#include <sys/random.h>

#define SIP_ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

/* Little-endian load whatever the host's byte order (the paper's convention). */
static uint64_t sip_load64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/* One SipRound on the four state words. */
static void sip_round(uint64_t v[4])
{
	v[0] += v[1];
	v[1] = SIP_ROTL(v[1], 13);
	v[1] ^= v[0];
	v[0] = SIP_ROTL(v[0], 32);
	v[2] += v[3];
	v[3] = SIP_ROTL(v[3], 16);
	v[3] ^= v[2];
	v[0] += v[3];
	v[3] = SIP_ROTL(v[3], 21);
	v[3] ^= v[0];
	v[2] += v[1];
	v[1] = SIP_ROTL(v[1], 17);
	v[1] ^= v[2];
	v[2] = SIP_ROTL(v[2], 32);
}

/* c = 2 rounds per message word m. */
static void sip_compress(uint64_t v[4], uint64_t m)
{
	v[3] ^= m;
	sip_round(v);
	sip_round(v);
	v[0] ^= m;
}

uint64_t siphash24(const uint8_t key[SIPHASH_KEY_BYTES], const void *in, size_t len)
{
	const uint8_t *p = in;
	uint64_t k0 = sip_load64(key), k1 = sip_load64(key + 8);
	/* "somepseudorandomlygeneratedbytes", the paper's initialisation constants. */
	uint64_t v[4] = { k0 ^ 0x736f6d6570736575ULL, k1 ^ 0x646f72616e646f6dULL,
			  k0 ^ 0x6c7967656e657261ULL, k1 ^ 0x7465646279746573ULL };
	uint64_t last = (uint64_t)(len & 0xff) << 56; /* length mod 256 in the top byte */
	size_t tail = len & 7;

	for (const uint8_t *end = p + (len - tail); p != end; p += 8)
		sip_compress(v, sip_load64(p));
	/* The 0..7 bytes left, little-endian, under the length byte. */
	for (size_t i = 0; i < tail; i++)
		last |= (uint64_t)p[i] << (8 * i);
	sip_compress(v, last);
	/* d = 4 finalisation rounds. */
	v[2] ^= 0xff;
	for (int i = 0; i < 4; i++)
		sip_round(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
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
