/* SPDX-License-Identifier: MIT */
/* SipHash-2-4 (Aumasson and Bernstein, 2012): a keyed 64-bit hash for tables whose
 * keys an attacker chooses, so that colliding keys cannot be precomputed. */
#ifndef PUSH_SIPHASH_H
#define PUSH_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

#define SIPHASH_KEY_BYTES 16

/* SipHash-2-4 of in[0..len) under key (16 bytes, read little-endian as the
 * paper's k0 || k1). Pure: same key and input, same value, on any host. */
uint64_t siphash24(const uint8_t key[SIPHASH_KEY_BYTES], const void *in, size_t len);

/* Fills key from the kernel's random source (getrandom); -1 if that fails. */
int siphash_key_random(uint8_t key[SIPHASH_KEY_BYTES]);

#endif
