/* SPDX-License-Identifier: MIT */
/* Refcounted frames: built once per push, written to every recipient and kept in
 * history without a copy. */
#include "wsd_msg.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

struct wsd_msg *wsd_msg_new(size_t len)
{
	struct wsd_msg *m;

	if (len > UINT32_MAX)
		return NULL;
	m = malloc(sizeof *m + LWS_PRE + len);
	if (!m)
		return NULL;
	m->refs = 1;
	m->len = (uint32_t)len;
	m->stamp = 0;
	return m;
}

struct wsd_msg *wsd_msg_copy(const char *json, size_t len)
{
	struct wsd_msg *m = wsd_msg_new(len);

	if (m)
		memcpy(m->buf + LWS_PRE, json, len);
	return m;
}

void wsd_msg_ref(struct wsd_msg *m) { m->refs++; }

void wsd_msg_unref(struct wsd_msg *m)
{
	if (m && --m->refs == 0)
		free(m);
}

size_t wsd_msg_cost(const struct wsd_msg *m) { return sizeof *m + LWS_PRE + m->len; }

uint32_t wsd_msg_clock(void)
{
	struct timespec ts;

	/* CLOCK_MONOTONIC cannot fail with a valid pointer; 0 would only make
	 * messages look old, never keep them longer. */
	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return 0;
	return (uint32_t)ts.tv_sec;
}
