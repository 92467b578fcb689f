/* SPDX-License-Identifier: MIT */
/* Keepalive for subscriber connections: ping after ping_interval seconds without a
 * frame from the client, hang up when the ping goes unanswered for idle_timeout -
 * ping_interval; and the bounds of closing connections. O(1) per connection and event. */
#ifndef PUSH_WSD_ALIVE_H
#define PUSH_WSD_ALIVE_H

#include <uv.h>

#include "wsd_conn.h"

/*
 * Why not lws's own ("validity", the retry policy's secs_since_valid_ping): lws 4.1
 * keeps those timers in one sorted list and inserts from its head, so every
 * connection opened walks the timers of all the others. At 16k connections per
 * worker that took most of the CPU and the handshake rate fell below 1k/s. Here a
 * wheel of one-second slots holds each connection once; a frame from the client
 * only stamps the time, and the connection moves when its slot comes up.
 */

/* Starts the one-second tick on loop; the times can change later (reload). */
int wsd_alive_start(uv_loop_t *loop, long ping_interval, long idle_timeout);
void wsd_alive_set(long ping_interval, long idle_timeout);
/* Closes the tick's handle (the loop then has one handle fewer to wait for). */
void wsd_alive_stop(void);

/* A connection enters the wheel when established and leaves it when closed;
 * wsd_alive_seen records a frame from the client. The links live in c. */
void wsd_alive_add(struct wsd_conn *c);
void wsd_alive_remove(struct wsd_conn *c);
void wsd_alive_seen(struct wsd_conn *c);
/* A closing connection (wsd_conn): its slot moves to secs from now, when
 * wsd_conn_close_expired resets it unless it was CLOSED before. */
void wsd_alive_closing(struct wsd_conn *c, unsigned secs);

#endif
