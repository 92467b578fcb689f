/* Prefork supervision: the parent only forks, reaps, forwards signals and
 * restarts; all work happens in the children, as with php-fpm or nginx. */
#include "proc.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define PROC_RESPAWN_PAUSE_MS 200 /* a crash loop must not spin the CPU */
#define PROC_STARTUP_S 2          /* a worker failing sooner on its first start is fatal */

static volatile sig_atomic_t proc_stop_sig;
static volatile sig_atomic_t proc_child_died;
static volatile sig_atomic_t proc_hup;

static void proc_on_stop(int sig) { proc_stop_sig = sig; }
static void proc_on_child(int sig) { (void)sig; proc_child_died = 1; }
static void proc_on_hup(int sig) { (void)sig; proc_hup = 1; }

/* Takes one pending signal as its handler would, or times out after a second. */
static void proc_wait_a_second(const sigset_t *block)
{
	struct timespec one = { 1, 0 };
	int sig = sigtimedwait(block, NULL, &one);

	if (sig == SIGTERM || sig == SIGINT)
		proc_stop_sig = sig;
	else if (sig == SIGCHLD)
		proc_child_died = 1;
	else if (sig == SIGHUP)
		proc_hup = 1;
}

static pid_t proc_spawn(unsigned index, const struct proc_pool_ops *ops, void *arg,
			const sigset_t *orig)
{
	pid_t parent = getpid();
	pid_t pid = fork();

	if (pid != 0) {
		if (pid < 0)
			log_err("fork: %s", strerror(errno));
		return pid;
	}
	/* A worker must not outlive its supervisor (SIGKILLed, say): it would hold
	 * sockets the next supervisor wants. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent)
		_exit(0);
	/* Default dispositions and mask; the worker installs its own handlers. */
	(void)signal(SIGCHLD, SIG_DFL);
	(void)signal(SIGTERM, SIG_DFL);
	(void)signal(SIGINT, SIG_DFL);
	(void)signal(SIGHUP, SIG_DFL);
	(void)sigprocmask(SIG_SETMASK, orig, NULL);
	_exit(ops->worker(index, arg));
}

/* Per worker: when it was started and whether it ever ran past start-up. */
struct proc_slot {
	pid_t pid;
	time_t started;
	int proven;
};

/* Returns -1 when a worker failed during its first start-up (bad config, busy
 * port): restarting it would only loop, so the supervisor gives up. */
static int proc_reap(struct proc_slot *w, unsigned n)
{
	time_t now = time(NULL);
	pid_t pid;
	int status, rc = 0;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (unsigned i = 0; i < n; i++) {
			if (w[i].pid != pid)
				continue;
			w[i].pid = 0;
			if (proc_stop_sig)
				continue;
			/* An error exit (not a signal from outside) before it ever ran. */
			if (!w[i].proven && now - w[i].started < PROC_STARTUP_S &&
			    WIFEXITED(status) && WEXITSTATUS(status) != 0) {
				log_err("worker %u failed while starting (status %d); giving up", i,
					status);
				rc = -1;
				continue;
			}
			log_warn("worker %u (pid %ld) exited (status %d); restarting", i, (long)pid,
				 status);
		}
	}
	return rc;
}

static void proc_signal_all(const struct proc_slot *w, unsigned n, int sig)
{
	for (unsigned i = 0; i < n; i++)
		if (w[i].pid > 0)
			(void)kill(w[i].pid, sig);
}

static void proc_shutdown(struct proc_slot *w, unsigned n, unsigned grace_s)
{
	time_t deadline = time(NULL) + (time_t)grace_s;
	unsigned left;

	proc_signal_all(w, n, SIGTERM);
	do {
		(void)proc_reap(w, n);
		left = 0;
		for (unsigned i = 0; i < n; i++)
			left += w[i].pid > 0;
		if (left && time(NULL) >= deadline) {
			proc_signal_all(w, n, SIGKILL);
			deadline = time(NULL) + (time_t)grace_s;
		}
		if (left)
			(void)usleep(20000);
	} while (left);
}

int proc_pool_run(unsigned n, unsigned grace_s, const struct proc_pool_ops *ops, void *arg)
{
	struct sigaction sa = { .sa_handler = proc_on_stop };
	struct sigaction sc = { .sa_handler = proc_on_child };
	struct sigaction sh = { .sa_handler = proc_on_hup };
	sigset_t block, orig;
	struct proc_slot w[PROC_MAX] = { { 0, 0, 0 } };
	int failed = 0;

	if (n == 0 || n > PROC_MAX)
		n = n ? PROC_MAX : 1;
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGCHLD);
	sigaddset(&block, SIGHUP);
	/* Signals only arrive inside sigsuspend, so no wake-up is lost; ready before
	 * setup, so a stop right after a socket appears is not fatal. */
	if (sigprocmask(SIG_BLOCK, &block, &orig) != 0 || sigaction(SIGTERM, &sa, NULL) != 0 ||
	    sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGCHLD, &sc, NULL) != 0 ||
	    sigaction(SIGHUP, &sh, NULL) != 0) {
		log_err("cannot set up signals: %s", strerror(errno));
		return 1;
	}
	if (ops->setup && ops->setup(arg) != 0)
		return 1;
	while (!proc_stop_sig && !failed) {
		int short_handed = 0;
		time_t now = time(NULL);

		for (unsigned i = 0; i < n && !proc_stop_sig; i++) {
			if (w[i].pid > 0 && !w[i].proven && now - w[i].started >= PROC_STARTUP_S)
				w[i].proven = 1;
			if (w[i].pid <= 0) {
				w[i].pid = proc_spawn(i, ops, arg, &orig);
				w[i].started = now;
			}
			short_handed |= w[i].pid <= 0;
		}
		/* Wake up once start-up is over, to mark the survivors as proven. */
		if (!short_handed && (n == 0 || !w[0].proven))
			short_handed = 1;
		/* A failed fork is retried within a second, not at the next signal. */
		if (short_handed)
			proc_wait_a_second(&block);
		else
			sigsuspend(&orig);
		if (proc_hup) {
			proc_hup = 0;
			proc_signal_all(w, n, SIGHUP);
		}
		if (proc_child_died) {
			proc_child_died = 0;
			failed = proc_reap(w, n) != 0;
			if (!failed)
				(void)usleep(PROC_RESPAWN_PAUSE_MS * 1000);
		}
	}
	if (failed)
		log_err("stopping %u workers after a start-up failure", n);
	else
		log_notice("signal %d: stopping %u workers", (int)proc_stop_sig, n);
	proc_shutdown(w, n, grace_s);
	if (ops->teardown)
		ops->teardown(arg);
	(void)sigprocmask(SIG_SETMASK, &orig, NULL);
	return failed;
}
