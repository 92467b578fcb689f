/* Prefork supervisor for push-api: the parent only forks, reaps and forwards stop
 * signals; every request is served by a worker, as with php-fpm or spawn-fcgi. */
#include "api_pool.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "log.h"

#define POOL_MAX 256
#define POOL_RESPAWN_PAUSE_MS 200 /* a crash loop must not spin the CPU */

static volatile sig_atomic_t pool_stop_sig;
static volatile sig_atomic_t pool_child_died;

static void pool_on_stop(int sig) { pool_stop_sig = sig; }
static void pool_on_child(int sig) { (void)sig; pool_child_died = 1; }

/* A socket file nobody accepts on is left from a crash; a live one belongs to a
 * running pool, which a second one must not steal. */
static int pool_clear_stale(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, r, e;

	if (lstat(path, &st) != 0)
		return 0;
	if (!S_ISSOCK(st.st_mode) || strlen(path) >= sizeof a.sun_path) {
		log_err("%s exists and is not a socket we can replace", path);
		return -1;
	}
	memcpy(a.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	r = connect(fd, (const struct sockaddr *)&a, sizeof a);
	e = errno;
	(void)close(fd);
	if (r == 0 || e != ECONNREFUSED) {
		log_err("%s is in use (%s)", path, r == 0 ? "a pool answers on it" : strerror(e));
		return -1;
	}
	return unlink(path) == 0 || errno == ENOENT ? 0 : -1;
}

/* path is a Unix socket path (has a '/') or a TCP "host:port" (libfcgi's syntax).
 * *ino records the socket file so that only ours is removed at exit. */
static int pool_open(const char *path, mode_t mode, ino_t *ino)
{
	int is_unix = strchr(path, '/') != NULL;
	struct stat st;
	mode_t old_mask = 0;
	int fd;

	*ino = 0;
	if (is_unix && pool_clear_stale(path) != 0)
		return -1;
	if (is_unix)
		old_mask = umask((mode_t)(~mode & 0777)); /* the mode from the first moment */
	fd = FCGX_OpenSocket(path, 1024);
	if (is_unix)
		(void)umask(old_mask);
	if (fd < 0) {
		log_err("cannot listen on %s: %s", path, strerror(errno));
		return -1;
	}
	if (is_unix && (chmod(path, mode) != 0 || lstat(path, &st) != 0)) {
		log_err("chmod %s: %s", path, strerror(errno));
		(void)close(fd);
		(void)unlink(path);
		return -1;
	}
	if (is_unix)
		*ino = st.st_ino;
	return fd;
}

static void pool_remove(const char *path, ino_t ino)
{
	struct stat st;

	if (ino && lstat(path, &st) == 0 && st.st_ino == ino)
		(void)unlink(path);
}

/* Takes one pending stop/child signal as its handler would, or times out. */
static void pool_wait_a_second(const sigset_t *block)
{
	struct timespec one = { 1, 0 };
	int sig = sigtimedwait(block, NULL, &one);

	if (sig == SIGTERM || sig == SIGINT)
		pool_stop_sig = sig;
	else if (sig == SIGCHLD)
		pool_child_died = 1;
}

static pid_t pool_spawn(int fd, api_pool_worker_fn fn, void *arg, const sigset_t *orig)
{
	pid_t parent = getpid();
	pid_t pid = fork();

	if (pid != 0) {
		if (pid < 0)
			log_err("fork: %s", strerror(errno));
		return pid;
	}
	/* A worker must not outlive its supervisor (SIGKILLed, say): it would keep
	 * accepting on a socket the next pool wants to replace. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent)
		_exit(0);
	/* Worker: default dispositions and mask; fn installs its own handlers. */
	signal(SIGCHLD, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	sigprocmask(SIG_SETMASK, orig, NULL);
	_exit(fn(fd, arg));
}

static void pool_reap(pid_t *pids, unsigned n)
{
	pid_t pid;
	int status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (unsigned i = 0; i < n; i++) {
			if (pids[i] != pid)
				continue;
			pids[i] = 0;
			if (!pool_stop_sig)
				log_warn("worker %ld exited (status %d); restarting", (long)pid, status);
		}
	}
}

static void pool_shutdown(pid_t *pids, unsigned n, unsigned grace_s)
{
	time_t deadline = time(NULL) + (time_t)grace_s;
	unsigned left;

	for (unsigned i = 0; i < n; i++)
		if (pids[i] > 0)
			(void)kill(pids[i], SIGTERM);
	do {
		pool_reap(pids, n);
		left = 0;
		for (unsigned i = 0; i < n; i++)
			left += pids[i] > 0;
		if (left && time(NULL) >= deadline) {
			for (unsigned i = 0; i < n; i++)
				if (pids[i] > 0)
					(void)kill(pids[i], SIGKILL);
			deadline = time(NULL) + (time_t)grace_s;
		}
		if (left)
			(void)usleep(20000);
	} while (left);
}

int api_pool_run(const char *path, mode_t mode, unsigned n, unsigned grace_s,
		 api_pool_worker_fn fn, void *arg)
{
	struct sigaction sa = { .sa_handler = pool_on_stop };
	struct sigaction sc = { .sa_handler = pool_on_child };
	sigset_t block, orig;
	pid_t pids[POOL_MAX] = { 0 };
	ino_t ino;
	int fd;

	if (n == 0 || n > POOL_MAX)
		n = n ? POOL_MAX : 1;
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGCHLD);
	/* Signals only arrive inside sigsuspend, so no wake-up is lost; set up before
	 * the socket exists, so a stop right after it appears is not fatal. */
	if (sigprocmask(SIG_BLOCK, &block, &orig) != 0 || sigaction(SIGTERM, &sa, NULL) != 0 ||
	    sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGCHLD, &sc, NULL) != 0) {
		log_err("cannot set up signals: %s", strerror(errno));
		return 1;
	}
	fd = pool_open(path, mode, &ino);
	if (fd < 0)
		return 1;
	log_notice("FastCGI on %s with %u workers", path, n);
	while (!pool_stop_sig) {
		int short_handed = 0;

		for (unsigned i = 0; i < n && !pool_stop_sig; i++) {
			if (pids[i] <= 0)
				pids[i] = pool_spawn(fd, fn, arg, &orig);
			short_handed |= pids[i] <= 0;
		}
		/* A failed fork is retried within a second, not at the next signal. */
		if (short_handed)
			pool_wait_a_second(&block);
		else
			sigsuspend(&orig);
		if (pool_child_died) {
			pool_child_died = 0;
			pool_reap(pids, n);
			(void)usleep(POOL_RESPAWN_PAUSE_MS * 1000);
		}
	}
	log_notice("signal %d: stopping %u workers", (int)pool_stop_sig, n);
	pool_shutdown(pids, n, grace_s);
	(void)close(fd);
	pool_remove(path, ino);
	(void)sigprocmask(SIG_SETMASK, &orig, NULL);
	return 0;
}
