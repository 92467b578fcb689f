/* SPDX-License-Identifier: MIT */
/* Subscribers: the uid -> connections table, per-connection bounded send queues
 * and refcounted frames shared by every recipient of one message. */
#ifndef PUSH_WSD_CONN_H
#define PUSH_WSD_CONN_H

#include <stddef.h>
#include <stdint.h>

#include <libwebsockets.h>

#include "cfg.h"
#include "hs.h"
#include "ipc.h"
#include "wsd_engine.h"
#include "wsd_msg.h"

struct wsd_user;

/* Engine redis: a connection that gave a position waits for its uid's channel
 * to be heard, then for its replay, before it takes live frames. */
enum wsd_resuming { WSD_RESUMED = 0, WSD_RESUME_WAITING, WSD_RESUME_ASKED };

/* NEW until authenticated; CLOSING once out of the table (our Close on its way,
 * the peer's answered, or being cut); CLOSED after LWS_CALLBACK_CLOSED. */
enum wsd_conn_state { WSD_CONN_NEW = 0, WSD_CONN_OPEN, WSD_CONN_CLOSING, WSD_CONN_CLOSED };

/*
 * A closing connection ends within bounded time whatever the peer does: our
 * Close frame must be out within WSD_CONN_CLOSE_SEND_SECS (a peer that does not
 * read keeps lws's unsent tail, and WRITEABLE never comes), and the peer's
 * answer must come within WSD_CONN_CLOSE_ACK_SECS after it. Past either, the
 * connection is reset (RST: the kernel drops what it still holds for it too).
 */
/* RFC 6455's registry: "try again later" (lws 4.1 has no name for it); a slow
 * consumer and a uid over its connection limit get it. */
#define WSD_CLOSE_TRY_AGAIN_LATER 1013

#define WSD_CONN_CLOSE_SEND_SECS 5
#define WSD_CONN_CLOSE_ACK_SECS 5

/* Per-session data: lws allocates and frees it (per_session_data_size); the
 * queue's ring array and the frames it references are ours, released by
 * wsd_conn_release in LWS_CALLBACK_CLOSED. */
struct wsd_conn {
	struct lws *wsi;
	struct wsd_user *user;          /* NULL until authenticated */
	struct wsd_conn *prev, *next;   /* siblings under the same uid */
	struct wsd_msg **ring;          /* grows by doubling up to the queue limit */
	size_t ring_cap, head, count;
	size_t queued_bytes;
	size_t rx_bytes;                /* of the client message being gathered */
	char *rx_buf;                   /* malloc'd while a fragmented one arrives */
	size_t lws_held;                /* at most this many bytes lws holds unsent */
	uint16_t close_code;            /* deferred close, sent from WRITEABLE */
	uint8_t state;                  /* enum wsd_conn_state */
	uint8_t close_sent;             /* our Close frame is out; await the peer's */
	uint8_t killed;                 /* reset; lws drops it on its next loop turn */
	uint8_t ping_due;               /* a ping waits for lws's unsent tail */
	uint8_t alive_in, pinged;       /* wsd_alive: in the wheel; pinged since last seen */
	const char *close_reason;       /* static string */
	struct wsd_conn *alive_prev, *alive_next; /* wsd_alive's slot list */
	uint32_t alive_due, last_seen;  /* seconds of the loop clock */
	uint32_t ping_sent;             /* when the unanswered ping left (loop clock) */
	uint16_t end_code;              /* the first close code known: ours or the peer's */
	uint64_t opened_ms;             /* when it was attached (lws clock), for the log */
	/* Engine redis: frames of every host arrive by Redis; a connection takes
	 * each number once (a resume's replay and a live frame may overlap). */
	uint64_t id;                    /* unique in the process, from attach */
	uint64_t seen_epoch, seen_last; /* the newest frame queued to it */
	uint8_t resuming;               /* enum wsd_resuming: its replay, from Redis */
	uint8_t resumable;              /* it gave since: an epoch change closes it */
	uint8_t rejoin;                 /* catching up after its uid's channel went unheard */
};

/* The uid table is process-wide, one per daemon: set its queue limits first. */
void wsd_conn_init(size_t queue_max_messages, size_t queue_max_bytes);
/* Connections and uids currently held (for logs and tests). */
size_t wsd_conn_count(void);
size_t wsd_conn_uids(void);
size_t wsd_conn_queued_bytes(void);
/* Connections out of the table but not CLOSED yet, and at most how many bytes
 * lws still holds unsent for them (each counted as the whole frame it was
 * left with: lws does not say how much of it went). */
size_t wsd_conn_closing(void);
size_t wsd_conn_closing_bytes(void);
/* Closing connections reset because a bound above ran out (only grows). */
uint64_t wsd_conn_closes_reset(void);

/* Sends every attached connection a Close with code (after what is queued is
 * dropped) and empties the table. */
void wsd_conn_close_all(uint16_t code, const char *reason);

/* Adds an authenticated connection under uid; -1 on out of memory. */
int wsd_conn_attach(struct wsd_conn *c, const char *uid, size_t uid_len);
/* LWS_CALLBACK_CLOSED: drops the queue and leaves the table; safe on a
 * never-attached conn. */
void wsd_conn_release(struct wsd_conn *c);

/* Queues one text frame built from pre-serialised parts to every connection of
 * uid and fills *res (delivered count, status, number). */
void wsd_conn_push(const struct ipc_push_item *it, struct ipc_result *res);

/* Connections of uid here (presence). */
size_t wsd_conn_of(const char *uid, size_t uid_len);

/* Closes every connection of uid with code and reason (a static string);
 * returns how many. */
size_t wsd_conn_kick(const char *uid, size_t uid_len, uint16_t code, const char *reason);

/* The message to every uid with a connection here, each numbered in its own
 * sequence (and kept in its history); *uids and *conns say how many took it. */
void wsd_conn_broadcast(const struct ipc_push_item *it, uint64_t *uids, uint64_t *conns);

/* A kick closes with this code: an application code (RFC 6455 7.4.2) clients
 * can tell from a network or server problem, and need not reconnect on. */
#define WSD_CLOSE_KICKED 4000
/* RFC 6455's "service restart": the uid's stream began anew (its Redis server
 * lost it); the client reconnects and is told what it cannot recover. */
#define WSD_CLOSE_RESTART 1012

/*
 * Engine redis: a frame of uid's stream, published by any host, to the uid's
 * connections here, each of which takes the number once and in order (a
 * resuming one gets it from its replay). A connection that gave a position
 * and sees another epoch is closed with WSD_CLOSE_RESTART. Returns how many
 * took it.
 */
size_t wsd_conn_deliver_numbered(const char *uid, size_t uid_len, struct wsd_msg *m,
				 uint64_t epoch, uint64_t number);
/* The connection of uid with this id, NULL when it is gone. */
struct wsd_conn *wsd_conn_by_id(const char *uid, size_t uid_len, uint64_t id);
/* Calls fn for every connection of uid here; fn may close the one it is given. */
void wsd_conn_each(const char *uid, size_t uid_len, void (*fn)(struct wsd_conn *c, void *arg),
		   void *arg);

/* Where a uid's stream stands for a resuming connection, as the position
 * control frame tells it. */
struct wsd_conn_position {
	struct wsd_position p;
	uint64_t first;     /* the first number that follows (replayed or live) */
	int recovered;
};
/* Queues the position control frame; -1 when it cannot be queued. */
int wsd_conn_send_position(struct wsd_conn *c, const struct wsd_conn_position *pos);
/* Queues one replayed frame; -1 when it cannot be queued. */
int wsd_conn_replay(struct wsd_conn *c, struct wsd_msg *m);

/* Where a connection asked to start: the handshake's since and epoch. */
struct wsd_resume {
	uint8_t kind;        /* enum hs_since */
	uint8_t has_epoch;
	uint64_t since;      /* HS_SINCE_NUMBER: the last number the client saw */
	uint64_t epoch;      /* the epoch that number belongs to */
};

/* The position control frame, with every number at its widest (about 150
 * bytes); the history bounds leave this much room in the send queue. */
#define WSD_CONN_POSITION_MAX CFG_POSITION_FRAME_MAX

/*
 * Right after attach, for a connection that gave a position: sends the
 * position control frame, then every retained message after the position (or
 * after the uid's acknowledged one), before anything published later. Nothing
 * for HS_SINCE_NONE: the wave-1 stream. -1 when it could not all be queued.
 */
int wsd_conn_resume(struct wsd_conn *c, const struct wsd_resume *r);

/* The client acknowledged `number`: 1 (and the new position in *p) when the
 * uid's acknowledged position moved, 0 when it was there already, -1 for a
 * number the uid has not reached. */
int wsd_conn_ack(struct wsd_conn *c, uint64_t number, struct wsd_position *p);

/* Sends a one-off frame (a control frame) in order with the rest; -1 when it
 * cannot be queued. */
int wsd_conn_send(struct wsd_conn *c, const char *json, size_t len);

/* Queues a one-off frame (e.g. an error) then closes with code after it is sent. */
int wsd_conn_send_then_close(struct wsd_conn *c, const char *json, size_t len,
			     uint16_t code, const char *reason);

/* Closes as soon as the connection is writeable, dropping what is queued. */
void wsd_conn_close_soon(struct wsd_conn *c, uint16_t code, const char *reason);

/* Keepalive (wsd_alive): sends a ping now, or as soon as lws's unsent tail is
 * out (ahead of our queue: a slow reader must still see it within the answer
 * window); hangup leaves the table and resets the connection, which lws drops
 * on its next loop turn. */
void wsd_conn_ping(struct wsd_conn *c);
void wsd_conn_hangup(struct wsd_conn *c);
/* wsd_alive: a closing connection's bound ran out; resets it (counted). */
void wsd_conn_close_expired(struct wsd_conn *c);

/* LWS_CALLBACK_SERVER_WRITEABLE: one lws_write at most. Returns -1 when lws
 * must close the connection (after lws_close_reason was set). */
int wsd_conn_writeable(struct wsd_conn *c);

/* LWS_CALLBACK_WS_PEER_INITIATED_CLOSE: leaves the table at once (no more
 * pushes count it); -1 (close now, no echo) when the peer is answering our own
 * Close, 0 to let lws echo a peer-initiated one. */
int wsd_conn_peer_closed(struct wsd_conn *c, uint16_t code);

/* Writes a Close frame (reason cut to what a control frame holds) now, from a
 * callback of c's; -1 when lws could not take it. */
int wsd_conn_write_close(struct wsd_conn *c, uint16_t code, const char *reason);

#endif
