/* SPDX-License-Identifier: MIT */
/* A prefork supervisor: N worker processes, each restarted if it dies or hangs,
 * stopped together on SIGTERM/SIGINT. Used by push-api's pool and by ws-daemon. */
#ifndef PUSH_PROC_H
#define PUSH_PROC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PROC_MAX 256
#define PROC_MSG_MAX (64u * 1024u) /* largest message the supervisor sends a worker */
#define PROC_BEAT_MS 250u          /* a live worker says so this often (proc_worker_beat) */
#define PROC_STALE_MS 1000u        /* no beat for this long: not healthy (no watchdog ping) */
_Static_assert(PROC_STALE_MS >= 3 * PROC_BEAT_MS, "one late beat must not look like a hang");

/* What the supervisor tells the service manager (ws-daemon: systemd's notify). */
enum proc_health {
	PROC_H_READY,     /* every worker reported ready: at start, and after a reload */
	PROC_H_HEALTHY,   /* every tick_ms while every worker beat within PROC_STALE_MS */
	PROC_H_RELOADING, /* SIGHUP taken, reload under way */
	PROC_H_STOPPING,  /* SIGTERM/SIGINT taken */
};

struct proc_pool_ops {
	/* In the supervisor, signals already set up, before any fork; nonzero aborts. */
	int (*setup)(void *arg);
	/* In worker `index` (0..n-1, kept across restarts); returns its exit status. */
	int (*worker)(unsigned index, void *arg);
	/* In the supervisor, after every worker has gone. */
	void (*teardown)(void *arg);
	/* Optional, in the supervisor on SIGHUP: writes what every worker must get
	 * into buf[0..cap) and returns its length, or -1 to keep everything as it
	 * is. A worker started later has the supervisor's memory already, so it
	 * needs no message. Without it, SIGHUP is forwarded to the workers. */
	ssize_t (*reload)(void *arg, uint8_t *buf, size_t cap);
	/* Optional: health transitions, in the supervisor. */
	void (*health)(void *arg, enum proc_health h);
	/* With a nonzero hung_ms, workers report through their channel: ready
	 * once, then a beat every PROC_BEAT_MS; one silent for hung_ms is killed
	 * and replaced. 0: no channel (workers count as ready when forked). */
	unsigned hung_ms;
	/* How often PROC_H_HEALTHY may be reported (0: PROC_BEAT_MS). */
	unsigned tick_ms;
};

/*
 * Runs n workers until SIGTERM or SIGINT, then sends them SIGTERM and, after
 * grace_s seconds, SIGKILL. Workers die with the supervisor (PR_SET_PDEATHSIG).
 * A worker that dies is restarted, but one that fails within its first seconds
 * (bad config, busy port) stops the whole pool. Returns 0 after a signal, 1 if
 * setup or a worker's start-up failed. Only the supervisor returns.
 */
int proc_pool_run(unsigned n, unsigned grace_s, const struct proc_pool_ops *ops, void *arg);

/* In a worker of a pool with hung_ms: its end of the channel (-1 otherwise),
 * to watch for readability in the worker's loop. */
int proc_worker_channel(void);

/* In a worker: "ready" once it serves, "beat" from its event loop every
 * PROC_BEAT_MS. Never blocks; 0, or -1 when the supervisor is gone. */
int proc_worker_ready(void);
int proc_worker_beat(void);

/* In a worker: the next message from the supervisor into buf (at most
 * PROC_MSG_MAX). Returns its length, 0 when none is waiting, -1 when the
 * supervisor is gone (the worker should stop). */
ssize_t proc_worker_recv(uint8_t *buf, size_t cap);

#endif
