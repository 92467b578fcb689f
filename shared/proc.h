/* A prefork supervisor: N worker processes, each restarted if it dies, stopped
 * together on SIGTERM/SIGINT, SIGHUP passed on. Used by push-api and ws-daemon. */
#ifndef PUSH_PROC_H
#define PUSH_PROC_H

#define PROC_MAX 256

struct proc_pool_ops {
	/* In the supervisor, signals already set up, before any fork; nonzero aborts. */
	int (*setup)(void *arg);
	/* In worker `index` (0..n-1, kept across restarts); returns its exit status. */
	int (*worker)(unsigned index, void *arg);
	/* In the supervisor, after every worker has gone. */
	void (*teardown)(void *arg);
};

/*
 * Runs n workers until SIGTERM or SIGINT, then sends them SIGTERM and, after
 * grace_s seconds, SIGKILL. SIGHUP is forwarded to every worker. Workers die
 * with the supervisor (PR_SET_PDEATHSIG). A worker that dies is restarted, but
 * one that fails within its first seconds (bad config, busy port) stops the
 * whole pool. Returns 0 after a signal, 1 if setup or a worker's start-up
 * failed. Only the supervisor returns.
 */
int proc_pool_run(unsigned n, unsigned grace_s, const struct proc_pool_ops *ops, void *arg);

#endif
