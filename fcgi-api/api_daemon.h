/* SPDX-License-Identifier: MIT */
/* push-api's view of ws-daemon: which workers there are (learned from their
 * replies), which configuration they run (adopted), and the exchanges with them. */
#ifndef PUSH_API_DAEMON_H
#define PUSH_API_DAEMON_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "cfg.h"
#include "ipc.h"
#include "ipc_sock.h"

/*
 * One per push-api process, owned by it. cfg is the configuration push-api
 * runs: its own file's until a worker first answers, then the daemon's, adopted
 * with cfg_reload (restart-only keys such as ipc_socket stay the file's).
 */
struct api_daemon {
	struct cfg cfg;
	const char *conf_path;       /* argv/env string, lives as long as the process */
	unsigned serial;             /* grows whenever cfg is replaced */
	unsigned char pw_digest[32]; /* SHA-256 of cfg.password, kept with cfg */
	int followed;                /* cfg is (or equals) what a worker handed over */
	uint32_t bad_generation;     /* a configuration that could not be adopted */
	long asked_ms;               /* last configuration check */
	int check_slow;              /* it timed out: the next waits API_CONFIRM_MS */
	time_t file_read;            /* last look at ipc_socket in the file */
	const char *down_why;        /* why the last check failed */
	unsigned nworkers;           /* 0 = not learned (yet, or again) */
	unsigned next_probe;
	int relearn;                 /* a reply contradicted nworkers or an index */
	int follow_from;             /* worker whose reply showed another generation; -1 */
	struct ipc_client ipc[IPC_WORKERS_MAX];
	uint32_t unreported[IPC_R_COUNT]; /* refusals not yet in the daemon's counters */
	uint32_t next_req_id;
	uint8_t *tx, *rx;            /* IPC_MAX_DATAGRAM each */
	struct ipc_push_item *scratch_items; /* IPC_MAX_ITEMS */
	struct ipc_result *scratch_res;      /* IPC_MAX_ITEMS */
};

/* One item of a request (a /push message, a uid asked about or kicked, a
 * worker's share of a broadcast) and what became of it. */
struct api_item {
	struct ipc_push_item it; /* views into the request */
	struct ipc_result res;   /* the worker's answer when http is 200 */
	int http;                /* 0: not sent yet; 200: a worker answered; else not
				  * delivered, for this status (503, 413, 401) */
	const char *why;         /* the reason when http is neither 0 nor 200 */
	unsigned worker;         /* the worker it was last sent to (when it was sent) */
};

/* Loads conf_path (kept by pointer); -1 with the reason logged. */
int api_daemon_init(struct api_daemon *d, const char *conf_path);
void api_daemon_free(struct api_daemon *d);

/* Before a request: learns the workers and the daemon's configuration when
 * they are not known, or (exchange 0: /access, which will not talk to the
 * daemon otherwise) confirms the generation, so a key is never signed with a
 * secret the daemon has revoked. Bounded: push_timeout_ms when an exchange
 * needs the worker count, else 250 ms and, after a timeout, once a second. */
void api_daemon_keep_up(struct api_daemon *d, int exchange);

/* After a refused password: asks the daemon again (after a timeout, once a second).
 * 1 if the configuration changed, so the password is worth a second look. */
int api_daemon_recheck(struct api_daemon *d);

/* What a request made of items asks for: its type, and IPC_H_SHARED in hflags
 * for a multicast (every item with the same topic and contents). */
struct api_kind {
	uint8_t type;    /* IPC_T_PUSH, IPC_T_PRESENCE, IPC_T_KICK or IPC_T_BROADCAST */
	uint16_t hflags;
};

/*
 * Sends the items with http 0 as requests of `kind` to their workers (503 for
 * all when no worker is known: call api_daemon_keep_up first) (all datagrams
 * first, then the replies, all within push_timeout_ms, or push_timeout_ms +
 * IPC_ACK_WAIT_MS(push_timeout_ms) for a datagram with an IPC_F_ACK item) and
 * fills each one's outcome and worker; a worker that does not answer in time
 * fails only its own items (503). An item goes to the worker owning its uid,
 * except in a broadcast, which has one item per worker: item i goes to worker
 * i (one beyond the workers now known gets 503). Items come back with status
 * IPC_S_STALE or IPC_S_WRONG_WORKER after the daemon's configuration or worker
 * count was re-learned: the caller may resend them once.
 */
void api_daemon_request(struct api_daemon *d, const struct api_kind *kind,
			struct api_item *items, size_t n);

/* Asks every worker for its counters; up[i] says who answered in time.
 * Returns the worker count (v and up hold IPC_WORKERS_MAX), 0 if unknown
 * (call api_daemon_keep_up first). */
unsigned api_daemon_stats(struct api_daemon *d, uint64_t (*v)[IPC_STATS_N], unsigned char *up);

/* Counts a refusal for the daemon's metrics; api_daemon_flush tells the counts
 * (after every request), and keeps them while the daemon cannot be told. */
void api_daemon_refused(struct api_daemon *d, enum ipc_refusal why);
void api_daemon_flush(struct api_daemon *d);

#endif
