/* SPDX-License-Identifier: MIT */
/* Shared by the libFuzzer drivers in tests/fuzz: a property check that aborts with
 * file:line and the failed condition (libFuzzer records the input as a crash), and a
 * reader that turns the fuzz input into parameters, yielding zeros once it runs out. */
#ifndef FUZZ_CHECK_H
#define FUZZ_CHECK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define FUZZ_CHECK(cond)                                                                 \
	do {                                                                             \
		if (!(cond)) {                                                           \
			fprintf(stderr, "%s:%d: property violated: %s\n", __FILE__, __LINE__, \
				#cond);                                                  \
			abort();                                                         \
		}                                                                        \
	} while (0)

struct rd {
	const uint8_t *p;
	size_t n;
};

static inline uint8_t take8(struct rd *r)
{
	uint8_t v = 0;

	if (r->n) {
		v = *r->p++;
		r->n--;
	}
	return v;
}

/* A big-endian integer of `bytes` (<= 8) input bytes. */
static inline uint64_t take_be(struct rd *r, int bytes)
{
	uint64_t v = 0;

	while (bytes-- > 0)
		v = v << 8 | take8(r);
	return v;
}

#endif
