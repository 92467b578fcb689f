/* SPDX-License-Identifier: MIT */
/* push-api as its own FastCGI pool: the listening socket (never stolen from a live
 * pool) plus shared/proc.c's prefork supervisor around api_serve. */
#include "api_pool.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "ipc_sock.h"
#include "log.h"
#include "proc.h"

/* path is a Unix socket path (has a '/') or a TCP "host:port" (libfcgi's syntax).
 * *ino records the socket file so that only ours is removed at exit. */
static int pool_open(const char *path, mode_t mode, ino_t *ino)
{
	int is_unix = strchr(path, '/') != NULL;
	struct stat st;
	mode_t old_mask = 0;
	char err[256];
	int fd;

	*ino = 0;
	if (is_unix && ipc_unlink_stale(path, SOCK_STREAM, err, sizeof err) != 0) {
		/* A live socket belongs to a running pool, which a second one must not steal. */
		log_err("%s", err);
		return -1;
	}
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

struct pool_ctx {
	const char *path;
	mode_t mode;
	unsigned n;
	api_pool_worker_fn fn;
	void *arg;
	int fd;
	ino_t ino;
};

static int pool_setup(void *arg)
{
	struct pool_ctx *p = arg;

	p->fd = pool_open(p->path, p->mode, &p->ino);
	if (p->fd < 0)
		return -1;
	log_notice("FastCGI on %s with %u workers", p->path, p->n);
	return 0;
}

static int pool_worker(unsigned index, void *arg)
{
	struct pool_ctx *p = arg;

	(void)index;
	/* SIGHUP is forwarded to workers; push-api follows the daemon, not the file. */
	(void)signal(SIGHUP, SIG_IGN);
	return p->fn(p->fd, p->arg);
}

static void pool_teardown(void *arg)
{
	struct pool_ctx *p = arg;

	(void)close(p->fd);
	pool_remove(p->path, p->ino);
}

int api_pool_run(const char *path, mode_t mode, unsigned n, unsigned grace_s,
		 api_pool_worker_fn fn, void *arg)
{
	static const struct proc_pool_ops ops = { .setup = pool_setup, .worker = pool_worker,
						  .teardown = pool_teardown };
	struct pool_ctx p = { path, mode, n, fn, arg, -1, 0 };

	return proc_pool_run(n, grace_s, &ops, &p);
}
