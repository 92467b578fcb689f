/* SPDX-License-Identifier: MIT */
/* Datagram socket plumbing for ipc: bounded waits, one reconnect after a daemon
 * restart, EAGAIN reported as busy instead of blocking the web server's worker. */
#include "ipc_sock.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ipc.h"

static int ipc_addr(const char *path, struct sockaddr_un *a)
{
	size_t n = strlen(path);

	memset(a, 0, sizeof *a);
	a->sun_family = AF_UNIX;
	if (n == 0 || n >= sizeof a->sun_path)
		return -1;
	memcpy(a->sun_path, path, n + 1);
	return 0;
}

int ipc_client_init(struct ipc_client *c, const char *path)
{
	c->fd = -1;
	if (strlen(path) >= sizeof c->path || path[0] == '\0')
		return -1;
	memcpy(c->path, path, strlen(path) + 1);
	return 0;
}

void ipc_client_close(struct ipc_client *c)
{
	if (c->fd >= 0)
		(void)close(c->fd); /* a datagram socket has nothing to flush */
	c->fd = -1;
}

/* Autobind gives the socket an abstract address, so the daemon can reply to it. */
static int ipc_client_connect(struct ipc_client *c)
{
	struct sockaddr_un a;
	sa_family_t fam = AF_UNIX;

	ipc_client_close(c);
	if (ipc_addr(c->path, &a) != 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	c->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->fd < 0)
		return -1;
	if (bind(c->fd, (const struct sockaddr *)(const void *)&fam, sizeof fam) != 0 ||
	    connect(c->fd, (const struct sockaddr *)&a, sizeof a) != 0) {
		int e = errno;

		ipc_client_close(c);
		errno = e;
		return -1;
	}
	return 0;
}

/* EPIPE: the daemon shut its socket while stopping. */
static int ipc_is_down(int e)
{
	return e == ECONNREFUSED || e == ENOENT || e == ENOTCONN || e == EPIPE;
}

long ipc_clock_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return 0;
	return (long)ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* The daemon's queue (net.unix.max_dgram_qlen, 10 by default) fills under a
 * burst: wait for room, as long as the call may take, instead of failing. */
static int ipc_wait_room(int fd, long deadline)
{
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		long left = deadline - ipc_clock_ms();
		int pr;

		if (left <= 0)
			return -1;
		pr = poll(&pfd, 1, (int)left);
		if (pr > 0)
			return 0;
		if (pr == 0 || errno != EINTR)
			return -1;
	}
}

enum ipc_call_rc ipc_client_send(struct ipc_client *c, const uint8_t *req, size_t len,
				 long deadline)
{
	int attempt = 0;

	for (;;) {
		ssize_t n;

		if (c->fd < 0 && ipc_client_connect(c) != 0) {
			if (!ipc_is_down(errno))
				return IPC_CALL_ERROR;
			if (++attempt >= 2)
				return IPC_CALL_DOWN;
			continue;
		}
		n = send(c->fd, req, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n == (ssize_t)len)
			return IPC_CALL_OK;
		if (n >= 0)
			return IPC_CALL_ERROR;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
			if (ipc_wait_room(c->fd, deadline) != 0)
				return IPC_CALL_BUSY;
			continue;
		}
		if (errno == EMSGSIZE)
			return IPC_CALL_TOO_BIG;
		if (!ipc_is_down(errno))
			return IPC_CALL_ERROR;
		/* The daemon restarted: one fresh connect reaches the new socket. */
		ipc_client_close(c);
		if (++attempt >= 2)
			return IPC_CALL_DOWN;
	}
}

enum ipc_call_rc ipc_client_recv(struct ipc_client *c, uint8_t *buf, size_t cap, size_t *len,
				 long deadline)
{
	if (c->fd < 0)
		return IPC_CALL_DOWN; /* nothing was sent on this socket */
	for (;;) {
		struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
		long left = deadline - ipc_clock_ms();
		struct ipc_hdr h;
		ssize_t n;
		int pr;

		/* Past the deadline, what already arrived is still taken: a caller
		 * collecting from several workers reads the others' replies after
		 * waiting out a slow one. */
		pr = poll(&pfd, 1, left > 0 ? (int)left : 0);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr < 0)
			return IPC_CALL_ERROR;
		if (pr == 0)
			return IPC_CALL_TIMEOUT;
		n = recv(c->fd, buf, cap, MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
				continue;
			/* Daemon went away while we waited. */
			return ipc_is_down(errno) ? IPC_CALL_DOWN : IPC_CALL_ERROR;
		}
		if ((size_t)n > cap)
			continue; /* truncated: cannot be a reply of ours */
		if (ipc_decode_hdr(buf, (size_t)n, &h) == IPC_OK) {
			*len = (size_t)n;
			return IPC_CALL_OK;
		}
	}
}

/* Replies with other ids are late answers to earlier, timed-out calls. */
static enum ipc_call_rc ipc_client_wait(struct ipc_client *c, uint32_t req_id, uint8_t *reply,
					size_t cap, size_t *reply_len, long deadline)
{
	for (;;) {
		struct ipc_hdr h;
		enum ipc_call_rc rc = ipc_client_recv(c, reply, cap, reply_len, deadline);

		if (rc != IPC_CALL_OK)
			return rc;
		if (ipc_decode_hdr(reply, *reply_len, &h) == IPC_OK && h.req_id == req_id)
			return IPC_CALL_OK;
	}
}

enum ipc_call_rc ipc_client_call(struct ipc_client *c, const uint8_t *req, size_t len,
				 uint32_t req_id, uint8_t *reply, size_t cap,
				 size_t *reply_len, long timeout_ms)
{
	long deadline = ipc_clock_ms() + timeout_ms;
	enum ipc_call_rc rc = ipc_client_send(c, req, len, deadline);

	if (rc != IPC_CALL_OK)
		return rc;
	return ipc_client_wait(c, req_id, reply, cap, reply_len, deadline);
}

int ipc_client_notify(struct ipc_client *c, const uint8_t *msg, size_t len)
{
	/* A deadline in the past: one attempt (and one reconnect), no waiting. */
	return ipc_client_send(c, msg, len, ipc_clock_ms() - 1) == IPC_CALL_OK ? 0 : -1;
}

const char *ipc_call_rc_str(enum ipc_call_rc rc)
{
	switch (rc) {
	case IPC_CALL_OK: return "ok";
	case IPC_CALL_DOWN: return "push daemon is not running";
	case IPC_CALL_BUSY: return "push daemon is overloaded";
	case IPC_CALL_TIMEOUT: return "push daemon did not answer in time";
	case IPC_CALL_TOO_BIG: return "message too large for the push daemon";
	case IPC_CALL_ERROR: return "cannot reach the push daemon";
	}
	return "unknown";
}

/* A socket file nobody answers on is left over from a crash; a live one is not ours. */
int ipc_unlink_stale(const char *path, int type, char *err, size_t err_len)
{
	struct sockaddr_un a;
	struct stat st;
	int fd, r, e;

	if (lstat(path, &st) != 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, err_len, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISSOCK(st.st_mode) || ipc_addr(path, &a) != 0) {
		snprintf(err, err_len, "%s exists and is not a socket we can replace", path);
		return -1;
	}
	fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, err_len, "socket: %s", strerror(errno));
		return -1;
	}
	r = connect(fd, (const struct sockaddr *)&a, sizeof a);
	e = errno;
	(void)close(fd);
	if (r == 0) {
		snprintf(err, err_len, "%s is in use by a running process", path);
		return -1;
	}
	/* Only "nobody listens" proves it stale; EACCES, EPROTOTYPE (another kind
	 * of socket) and the like mean it belongs to someone else. */
	if (e != ECONNREFUSED) {
		snprintf(err, err_len, "%s exists and is not ours to replace: %s", path, strerror(e));
		return -1;
	}
	if (unlink(path) != 0 && errno != ENOENT) {
		snprintf(err, err_len, "cannot remove stale %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Held for the daemon's life: two daemons started together cannot both decide
 * the socket is stale and bind. */
static int ipc_lock(const char *path, char *err, size_t err_len)
{
	char lp[sizeof(((struct sockaddr_un *)0)->sun_path) + 8];
	int fd;

	if ((size_t)snprintf(lp, sizeof lp, "%s.lock", path) >= sizeof lp) {
		snprintf(err, err_len, "socket path too long");
		return -1;
	}
	fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, err_len, "cannot open %s: %s", lp, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		snprintf(err, err_len, "%s is held by another daemon", lp);
		(void)close(fd);
		return -1;
	}
	return fd;
}

int ipc_server_open(const char *path, mode_t mode, int *lock_fd, char *err, size_t err_len)
{
	struct sockaddr_un a;
	mode_t old_mask;
	int fd = -1, r;

	err[0] = '\0';
	*lock_fd = -1;
	if (ipc_addr(path, &a) != 0) {
		snprintf(err, err_len, "socket path '%s' is empty or longer than %zu bytes", path,
			 sizeof a.sun_path - 1);
		return -1;
	}
	*lock_fd = ipc_lock(path, err, err_len);
	if (*lock_fd < 0)
		return -1;
	if (ipc_unlink_stale(path, SOCK_DGRAM, err, err_len) != 0)
		goto fail;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		snprintf(err, err_len, "socket: %s", strerror(errno));
		goto fail;
	}
	/* No moment with looser permissions than asked: a sender that connects
	 * keeps its access even after a later chmod. */
	old_mask = umask((mode_t)(~mode & 0777));
	r = bind(fd, (const struct sockaddr *)&a, sizeof a);
	(void)umask(old_mask);
	if (r != 0) {
		snprintf(err, err_len, "bind %s: %s", path, strerror(errno));
		goto fail;
	}
	if (chmod(path, mode) != 0) {
		snprintf(err, err_len, "chmod %s: %s", path, strerror(errno));
		(void)unlink(path);
		goto fail;
	}
	return fd;
fail:
	if (fd >= 0)
		(void)close(fd);
	(void)close(*lock_fd);
	*lock_fd = -1;
	return -1;
}
