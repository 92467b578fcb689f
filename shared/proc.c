/* SPDX-License-Identifier: MIT */
/* Prefork supervision: the parent forks, reaps, restarts, watches worker beats and
 * passes reloads on; all the serving happens in the children, as with nginx. */
#include "proc.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define PROC_RESPAWN_PAUSE_MS 200 /* a crash loop must not spin the CPU */
#define PROC_STARTUP_MS 2000      /* a worker failing sooner on its first start is fatal */
#define PROC_STOP_POLL_MS 20
#define PROC_IDLE_TICK_MS 3600000u

/* Channel messages: one type byte, then the payload (CONFIG only). */
enum proc_msg { PROC_MSG_READY = 'R', PROC_MSG_BEAT = 'B', PROC_MSG_CONFIG = 'C' };

static volatile sig_atomic_t proc_stop_sig;
static volatile sig_atomic_t proc_child_died;
static volatile sig_atomic_t proc_hup;
static int proc_channel = -1; /* in a worker: its end */

#ifdef COVERAGE
void __gcov_dump(void); /* libgcov: _exit skips the atexit flush of coverage counts */
#endif

/* A worker's end, once its status is known (a function: the status is computed
 * before the counts are written). */
static _Noreturn void proc_exit(int rc)
{
#ifdef COVERAGE
	__gcov_dump();
#endif
	_exit(rc);
}

static void proc_on_stop(int sig) { proc_stop_sig = sig; }
static void proc_on_child(int sig) { (void)sig; proc_child_died = 1; }
static void proc_on_hup(int sig) { (void)sig; proc_hup = 1; }

/* Per worker, in the supervisor. */
struct proc_slot {
	pid_t pid;
	int ch;             /* supervisor's end of the channel, -1 without one */
	uint64_t started;   /* ms, monotonic */
	uint64_t last_beat; /* ms, monotonic; ready or beat */
	int ready;
	int proven;         /* ran past PROC_STARTUP_MS once */
	int killed;         /* we killed it as hung: a restart, not a start-up failure */
};

struct proc_pool {
	const struct proc_pool_ops *ops;
	void *arg;
	unsigned n;
	struct proc_slot w[PROC_MAX];
	int announced;      /* PROC_H_READY sent for the current generation of workers */
	uint64_t last_check; /* when beats were last judged */
	uint64_t next_tick;
	sigset_t orig;
};

static uint64_t proc_now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void proc_health(struct proc_pool *p, enum proc_health h)
{
	if (p->ops->health)
		p->ops->health(p->arg, h);
}

/* In the child: only its own channel end stays open. */
static void proc_child_channels(struct proc_pool *p, int mine)
{
	for (unsigned i = 0; i < p->n; i++)
		if (p->w[i].ch >= 0)
			(void)close(p->w[i].ch);
	proc_channel = mine;
}

static pid_t proc_spawn(struct proc_pool *p, unsigned index)
{
	pid_t parent = getpid(), pid;
	int sv[2] = { -1, -1 };

	if (p->ops->hung_ms &&
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
		log_err("worker %u: cannot make its channel: %s", index, strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid != 0) {
		if (pid < 0)
			log_err("fork: %s", strerror(errno));
		if (sv[1] >= 0)
			(void)close(sv[1]);
		p->w[index].ch = pid > 0 ? sv[0] : -1;
		if (pid < 0 && sv[0] >= 0)
			(void)close(sv[0]);
		return pid;
	}
	/* A worker must not outlive its supervisor (SIGKILLed, say): it would hold
	 * sockets the next supervisor wants. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent)
		_exit(0);
	if (sv[0] >= 0)
		(void)close(sv[0]);
	proc_child_channels(p, sv[1]);
	/* Default dispositions; SIGHUP is ignored where reloads come as messages,
	 * so one arriving before the worker's own handlers exist cannot kill it. */
	(void)signal(SIGCHLD, SIG_DFL);
	(void)signal(SIGTERM, SIG_DFL);
	(void)signal(SIGINT, SIG_DFL);
	(void)signal(SIGHUP, p->ops->reload ? SIG_IGN : SIG_DFL);
	(void)sigprocmask(SIG_SETMASK, &p->orig, NULL);
	proc_exit(p->ops->worker(index, p->arg));
}

static void proc_close_channel(struct proc_slot *s)
{
	if (s->ch >= 0)
		(void)close(s->ch);
	s->ch = -1;
}

/* Returns -1 when a worker failed during its first start-up (bad config, busy
 * port): restarting it would only loop, so the supervisor gives up. */
static int proc_reap(struct proc_pool *p)
{
	uint64_t now = proc_now_ms();
	pid_t pid;
	int status, rc = 0;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (unsigned i = 0; i < p->n; i++) {
			struct proc_slot *s = &p->w[i];

			if (s->pid != pid)
				continue;
			s->pid = 0;
			proc_close_channel(s);
			if (proc_stop_sig)
				continue;
			if (!s->proven && !s->killed && now - s->started < PROC_STARTUP_MS &&
			    WIFEXITED(status) && WEXITSTATUS(status) != 0) {
				log_err("worker %u failed while starting (exit status %d); giving up",
					i, WEXITSTATUS(status));
				rc = -1;
			} else if (WIFSIGNALED(status)) {
				log_warn("worker %u (pid %ld) was killed by signal %d; restarting", i,
					 (long)pid, WTERMSIG(status));
			} else {
				log_warn("worker %u (pid %ld) exited with status %d; restarting", i,
					 (long)pid, WEXITSTATUS(status));
			}
		}
	}
	return rc;
}

static void proc_signal_all(const struct proc_pool *p, int sig)
{
	for (unsigned i = 0; i < p->n; i++)
		if (p->w[i].pid > 0)
			(void)kill(p->w[i].pid, sig);
}

static void proc_shutdown(struct proc_pool *p, unsigned grace_s)
{
	uint64_t deadline = proc_now_ms() + grace_s * 1000u;
	unsigned left;

	proc_signal_all(p, SIGTERM);
	do {
		(void)proc_reap(p);
		left = 0;
		for (unsigned i = 0; i < p->n; i++)
			left += p->w[i].pid > 0;
		if (left && proc_now_ms() >= deadline) {
			log_warn("%u workers still running after %u s; killing them", left, grace_s);
			proc_signal_all(p, SIGKILL);
			deadline = proc_now_ms() + grace_s * 1000u;
		}
		if (left)
			(void)usleep(PROC_STOP_POLL_MS * 1000);
	} while (left);
	for (unsigned i = 0; i < p->n; i++)
		proc_close_channel(&p->w[i]);
}

/* Reads every message waiting on worker i's channel. */
static void proc_read_channel(struct proc_pool *p, unsigned i, uint64_t now)
{
	struct proc_slot *s = &p->w[i];
	uint8_t msg[16];

	for (;;) {
		ssize_t n = recv(s->ch, msg, sizeof msg, MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0) /* the worker is going; the reaper takes it from here */
				proc_close_channel(s);
			return;
		}
		if (msg[0] == PROC_MSG_READY && !s->ready) {
			s->ready = 1;
			log_info("worker %u (pid %ld) is ready", i, (long)s->pid);
		}
		if (msg[0] == PROC_MSG_READY || msg[0] == PROC_MSG_BEAT)
			s->last_beat = now;
	}
}

/* A worker silent for hung_ms is stuck (or stopped): kill it, the reaper
 * restarts it. Returns whether every worker beat within PROC_STALE_MS. */
static int proc_check_beats(struct proc_pool *p, uint64_t now)
{
	int healthy = 1;

	/* The supervisor itself did not run (stopped with its process group, a
	 * suspended machine): silence it could not hear says nothing of a worker. */
	if (p->last_check && now - p->last_check > PROC_STALE_MS)
		for (unsigned i = 0; i < p->n; i++)
			if (p->w[i].last_beat < now - PROC_STALE_MS)
				p->w[i].last_beat = now - PROC_STALE_MS;
	p->last_check = now;

	for (unsigned i = 0; i < p->n; i++) {
		struct proc_slot *s = &p->w[i];
		uint64_t quiet = now - s->last_beat;

		if (s->pid <= 0) {
			healthy = 0;
			continue;
		}
		if (!p->ops->hung_ms)
			continue;
		if (quiet > PROC_STALE_MS)
			healthy = 0;
		if (quiet > p->ops->hung_ms && !s->killed) {
			log_err("worker %u (pid %ld) has not answered for %llu ms; killing it", i,
				(long)s->pid, (unsigned long long)quiet);
			s->killed = 1;
			(void)kill(s->pid, SIGKILL);
		}
	}
	return healthy;
}

static void proc_reload(struct proc_pool *p)
{
	static uint8_t buf[PROC_MSG_MAX];
	ssize_t n;

	if (!p->ops->reload) {
		proc_signal_all(p, SIGHUP);
		return;
	}
	proc_health(p, PROC_H_RELOADING);
	buf[0] = PROC_MSG_CONFIG;
	n = p->ops->reload(p->arg, buf + 1, sizeof buf - 1);
	for (unsigned i = 0; n >= 0 && i < p->n; i++) {
		if (p->w[i].ch < 0)
			continue; /* not running: its next start forks the new state */
		if (send(p->w[i].ch, buf, (size_t)n + 1, MSG_DONTWAIT | MSG_NOSIGNAL) != n + 1)
			log_err("worker %u did not take the new configuration (%s); restarting it",
				i, strerror(errno));
		else
			continue;
		(void)kill(p->w[i].pid, SIGTERM);
	}
	proc_health(p, PROC_H_READY);
}

static int proc_spawn_missing(struct proc_pool *p, uint64_t now)
{
	int short_handed = 0;

	for (unsigned i = 0; i < p->n && !proc_stop_sig; i++) {
		struct proc_slot *s = &p->w[i];

		if (s->pid > 0 && !s->proven && now - s->started >= PROC_STARTUP_MS)
			s->proven = 1;
		if (s->pid > 0)
			continue;
		s->ready = !p->ops->hung_ms; /* without a channel: ready when forked */
		s->killed = 0;
		s->started = s->last_beat = now;
		s->pid = proc_spawn(p, i);
		short_handed |= s->pid <= 0;
	}
	return short_handed;
}

/* Waits for a channel message, a signal or the next tick. */
static void proc_wait(struct proc_pool *p, uint64_t now, int short_handed)
{
	struct pollfd fds[PROC_MAX];
	unsigned idx[PROC_MAX], nf = 0;
	uint64_t wait_ms = p->next_tick > now ? p->next_tick - now : 0;
	struct timespec ts;

	/* A failed fork is retried within a second, not at the next signal. */
	if (short_handed && wait_ms > 1000)
		wait_ms = 1000;
	for (unsigned i = 0; i < p->n; i++) {
		if (p->w[i].ch < 0)
			continue;
		fds[nf] = (struct pollfd){ .fd = p->w[i].ch, .events = POLLIN };
		idx[nf++] = i;
	}
	ts.tv_sec = (time_t)(wait_ms / 1000);
	ts.tv_nsec = (long)(wait_ms % 1000) * 1000000L;
	/* Signals are blocked except inside ppoll, so no wake-up is lost. */
	if (ppoll(fds, nf, &ts, &p->orig) <= 0)
		return;
	now = proc_now_ms();
	for (unsigned k = 0; k < nf; k++)
		if (fds[k].revents)
			proc_read_channel(p, idx[k], now);
}

static void proc_after_wait(struct proc_pool *p, unsigned tick_ms)
{
	uint64_t now = proc_now_ms();
	int healthy = proc_check_beats(p, now), all_ready = 1;

	for (unsigned i = 0; i < p->n; i++)
		all_ready &= p->w[i].pid > 0 && p->w[i].ready;
	if (all_ready && !p->announced) {
		p->announced = 1;
		log_notice("all %u workers are ready", p->n);
		proc_health(p, PROC_H_READY);
	}
	if (now >= p->next_tick) {
		p->next_tick = now + tick_ms;
		if (healthy && all_ready)
			proc_health(p, PROC_H_HEALTHY);
	}
}

static int proc_loop(struct proc_pool *p)
{
	/* Nobody to report to and no beats to check: wake only for signals. */
	unsigned tick_ms = p->ops->tick_ms ? p->ops->tick_ms
			   : p->ops->hung_ms || p->ops->health ? PROC_BEAT_MS : PROC_IDLE_TICK_MS;
	int failed = 0;

	while (!proc_stop_sig && !failed) {
		uint64_t now = proc_now_ms();
		int short_handed = proc_spawn_missing(p, now);

		/* Wake up once start-up is over, to mark the survivors as proven. */
		if (!short_handed && !p->w[0].proven && p->next_tick > now + PROC_STARTUP_MS)
			p->next_tick = now + PROC_STARTUP_MS;
		proc_wait(p, now, short_handed);
		if (proc_hup) {
			proc_hup = 0;
			proc_reload(p);
		}
		if (proc_child_died) {
			proc_child_died = 0;
			failed = proc_reap(p) != 0;
			if (!failed)
				(void)usleep(PROC_RESPAWN_PAUSE_MS * 1000);
		}
		proc_after_wait(p, tick_ms);
	}
	return failed;
}

int proc_pool_run(unsigned n, unsigned grace_s, const struct proc_pool_ops *ops, void *arg)
{
	struct sigaction sa = { .sa_handler = proc_on_stop };
	struct sigaction sc = { .sa_handler = proc_on_child };
	struct sigaction sh = { .sa_handler = proc_on_hup };
	struct proc_pool *p = calloc(1, sizeof *p);
	sigset_t block;
	int failed;

	if (!p) {
		log_err("out of memory");
		return 1;
	}
	p->ops = ops;
	p->arg = arg;
	p->n = n == 0 ? 1 : n > PROC_MAX ? PROC_MAX : n;
	for (unsigned i = 0; i < PROC_MAX; i++)
		p->w[i].ch = -1;
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGCHLD);
	sigaddset(&block, SIGHUP);
	/* Signals only arrive inside ppoll; ready before setup, so a stop right
	 * after a socket appears is not fatal. */
	if (sigprocmask(SIG_BLOCK, &block, &p->orig) != 0 || sigaction(SIGTERM, &sa, NULL) != 0 ||
	    sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGCHLD, &sc, NULL) != 0 ||
	    sigaction(SIGHUP, &sh, NULL) != 0) {
		log_err("cannot set up signals: %s", strerror(errno));
		free(p);
		return 1;
	}
	if (ops->setup && ops->setup(arg) != 0) {
		free(p);
		return 1;
	}
	failed = proc_loop(p);
	if (failed)
		log_err("stopping %u workers after a start-up failure", p->n);
	else
		log_notice("signal %d: stopping %u workers", (int)proc_stop_sig, p->n);
	proc_health(p, PROC_H_STOPPING);
	proc_shutdown(p, grace_s);
	if (ops->teardown)
		ops->teardown(arg);
	(void)sigprocmask(SIG_SETMASK, &p->orig, NULL);
	free(p);
	return failed;
}

int proc_worker_channel(void) { return proc_channel; }

static int proc_worker_say(uint8_t type)
{
	ssize_t n;

	if (proc_channel < 0)
		return 0;
	do
		n = send(proc_channel, &type, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	/* A full channel only means the supervisor is behind on reading beats. */
	return n == 1 || errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
}

int proc_worker_ready(void) { return proc_worker_say(PROC_MSG_READY); }
int proc_worker_beat(void) { return proc_worker_say(PROC_MSG_BEAT); }

ssize_t proc_worker_recv(uint8_t *buf, size_t cap)
{
	static uint8_t msg[PROC_MSG_MAX];
	ssize_t n;

	if (proc_channel < 0)
		return 0;
	do
		n = recv(proc_channel, msg, sizeof msg, MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
	if (n == 0)
		return -1; /* EOF: the supervisor has gone */
	if (msg[0] != PROC_MSG_CONFIG || (size_t)n - 1 > cap)
		return 0; /* nothing a worker acts on; skipped */
	memcpy(buf, msg + 1, (size_t)n - 1);
	return n - 1;
}
