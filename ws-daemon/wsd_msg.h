/* SPDX-License-Identifier: MIT */
/* Encoded WebSocket text frames, refcounted: one allocation per message, shared by
 * the send queues of all its recipients and by the uid's history. */
#ifndef PUSH_WSD_MSG_H
#define PUSH_WSD_MSG_H

#include <stddef.h>
#include <stdint.h>

#include <libwebsockets.h>

/*
 * A frame with LWS_PRE bytes of headroom before its data, so lws_write can put
 * the WebSocket header in place (the same bytes for every recipient). Made by
 * wsd_msg_new with refs = 1; every holder (a send queue, a history slot, the
 * function building it) owns one reference; the last wsd_msg_unref frees it.
 */
struct wsd_msg {
	uint32_t refs;
	uint32_t len;        /* frame bytes at buf + LWS_PRE */
	uint32_t stamp;      /* wsd_msg_clock() when it was published */
	unsigned char buf[]; /* LWS_PRE + len bytes (the number is in the frame) */
};

/* Room for len bytes of frame; NULL on no memory or a len beyond 32 bits. */
struct wsd_msg *wsd_msg_new(size_t len);
/* A frame holding json[0..len) as it is (control and error frames). */
struct wsd_msg *wsd_msg_copy(const char *json, size_t len);
void wsd_msg_ref(struct wsd_msg *m);
void wsd_msg_unref(struct wsd_msg *m); /* NULL is fine */
/* What one frame costs in memory: header, headroom and frame bytes. */
size_t wsd_msg_cost(const struct wsd_msg *m);
/* Seconds of the monotonic clock, for message ages. */
uint32_t wsd_msg_clock(void);

#endif
