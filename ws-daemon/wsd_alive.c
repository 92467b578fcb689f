/* SPDX-License-Identifier: MIT */
/* The keepalive wheel: one list per second of the loop clock, a tick each second
 * that pings the connections due, hangs up those that never answered and resets
 * closing connections whose bound ran out. */
#include "wsd_alive.h"

#include "log.h"

/* Longer than any delay scheduled (idle_timeout is at most 7200 s in cfg), so
 * a slot never holds connections due in different turns of the wheel. */
#define WSD_WHEEL_SLOTS 8192u
_Static_assert(WSD_CONN_CLOSE_SEND_SECS < WSD_WHEEL_SLOTS &&
	       WSD_CONN_CLOSE_ACK_SECS < WSD_WHEEL_SLOTS, "a close bound fits in the wheel");

static struct wsd_conn *wsd_wheel[WSD_WHEEL_SLOTS];
static uv_timer_t wsd_tick;
static uv_loop_t *wsd_loop;
static uint32_t wsd_done_sec;       /* every slot up to this second was handled */
static uint32_t wsd_ping_s = 30, wsd_idle_s = 75;
static struct lws_context *wsd_ctx;  /* of the last connection hung up */

static uint32_t wsd_now_sec(void)
{
	return (uint32_t)(uv_now(wsd_loop) / 1000u);
}

static void wsd_slot_link(struct wsd_conn *c, uint32_t due)
{
	struct wsd_conn **head = &wsd_wheel[due % WSD_WHEEL_SLOTS];

	c->alive_due = due;
	c->alive_prev = NULL;
	c->alive_next = *head;
	if (*head)
		(*head)->alive_prev = c;
	*head = c;
	c->alive_in = 1;
}

static void wsd_slot_unlink(struct wsd_conn *c)
{
	if (!c->alive_in)
		return;
	if (c->alive_prev)
		c->alive_prev->alive_next = c->alive_next;
	else
		wsd_wheel[c->alive_due % WSD_WHEEL_SLOTS] = c->alive_next;
	if (c->alive_next)
		c->alive_next->alive_prev = c->alive_prev;
	c->alive_prev = c->alive_next = NULL;
	c->alive_in = 0;
}

/*
 * Decides what a connection whose slot (second sec) came up at loop time now
 * needs: nothing yet (the client spoke since), a ping, or the end. Returns the
 * next due second, 0 to hang up. Normally sec == now; after a stalled loop the
 * tick catches up on past seconds, and then a client must neither be judged on
 * a ping it got no time to answer nor on frames the loop has not read yet.
 */
static uint32_t wsd_alive_due(struct wsd_conn *c, uint32_t sec, uint32_t now)
{
	/* A frame read before this catch-up is newer than sec: not quiet. */
	uint32_t quiet = (int32_t)(sec - c->last_seen) > 0 ? sec - c->last_seen : 0;
	uint32_t window = wsd_idle_s - wsd_ping_s; /* to answer a ping */

	if (quiet < wsd_ping_s) {
		c->pinged = 0;
		return c->last_seen + wsd_ping_s;
	}
	if (!c->pinged) {
		/* The window runs from when the ping really leaves. */
		c->pinged = 1;
		c->ping_sent = now;
		wsd_conn_ping(c);
		return now + window;
	}
	if ((int32_t)(sec - (c->ping_sent + window)) < 0)
		return c->ping_sent + window;
	/* An answer that came during a stall waits in the socket: let the loop
	 * read it (one turn of I/O comes before the next tick) before deciding. */
	return sec == now ? 0 : now + 1;
}

/* A closing connection's slot is its bound: reset it unless already done. */
static int wsd_closing_due(struct wsd_conn *c)
{
	wsd_slot_unlink(c);
	if (c->killed)
		return 0; /* hung up; lws drops it on its next turn */
	wsd_ctx = lws_get_context(c->wsi);
	wsd_conn_close_expired(c);
	return 1;
}

/* Returns 1 when it hung up a connection. */
static int wsd_slot_run(uint32_t sec, uint32_t now)
{
	struct wsd_conn *c = wsd_wheel[sec % WSD_WHEEL_SLOTS], *next;
	int hung = 0;

	for (; c; c = next) {
		uint32_t due;

		next = c->alive_next;
		/* Due a whole turn later (only after a stall the catch-up cut short):
		 * its turn comes. Overdue ones are handled now. */
		if ((int32_t)(c->alive_due - sec) > 0)
			continue;
		if (c->state == WSD_CONN_CLOSING) {
			hung |= wsd_closing_due(c);
			continue;
		}
		wsd_slot_unlink(c);
		due = wsd_alive_due(c, sec, now);
		if (due) {
			wsd_slot_link(c, due > sec ? due : sec + 1);
			continue;
		}
		log_info("hanging up a connection silent for %u s, its ping unanswered",
			 (unsigned)(now - c->last_seen));
		wsd_ctx = lws_get_context(c->wsi);
		wsd_conn_hangup(c);
		hung = 1;
	}
	return hung;
}

static void wsd_on_tick(uv_timer_t *t)
{
	uint32_t now = wsd_now_sec();
	int hung = 0;

	(void)t;
	/* A stalled loop catches up on every second it missed, at most one turn. */
	if (now - wsd_done_sec > WSD_WHEEL_SLOTS)
		wsd_done_sec = now - WSD_WHEEL_SLOTS;
	while (wsd_done_sec != now)
		hung |= wsd_slot_run(++wsd_done_sec, now);
	/* lws runs its zero-delay kill timers on its next event; this tick is not
	 * one, so wake it or a quiet worker closes the sockets only later. */
	if (hung && wsd_ctx)
		lws_cancel_service(wsd_ctx);
}

int wsd_alive_start(uv_loop_t *loop, long ping_interval, long idle_timeout)
{
	wsd_alive_set(ping_interval, idle_timeout);
	if (uv_timer_init(loop, &wsd_tick) != 0)
		return -1;
	wsd_loop = loop; /* from here on the handle must be closed */
	wsd_done_sec = wsd_now_sec();
	return uv_timer_start(&wsd_tick, wsd_on_tick, 1000, 1000);
}

void wsd_alive_set(long ping_interval, long idle_timeout)
{
	/* cfg keeps 1 <= ping_interval < idle_timeout <= 7200. */
	wsd_ping_s = (uint32_t)ping_interval;
	wsd_idle_s = (uint32_t)idle_timeout;
}

void wsd_alive_stop(void)
{
	if (wsd_loop && !uv_is_closing((uv_handle_t *)&wsd_tick))
		uv_close((uv_handle_t *)&wsd_tick, NULL);
}

void wsd_alive_add(struct wsd_conn *c)
{
	c->last_seen = wsd_now_sec();
	c->pinged = 0;
	wsd_slot_link(c, c->last_seen + wsd_ping_s);
}

void wsd_alive_remove(struct wsd_conn *c)
{
	wsd_slot_unlink(c);
}

void wsd_alive_closing(struct wsd_conn *c, unsigned secs)
{
	wsd_slot_unlink(c);
	wsd_slot_link(c, wsd_now_sec() + secs);
}

void wsd_alive_seen(struct wsd_conn *c)
{
	c->last_seen = wsd_now_sec();
	c->pinged = 0; /* the next quiet spell gets its own ping */
}
