/* Accept, peek, route: a connection's request line names its uid; the uid's
 * shard decides which worker's lws serves it, so per-uid numbering needs no sharing. */
#include "wsd_accept.h"

#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "req.h"

#define ACC_PEEK_MAX 8192       /* a request line longer than this stays here */
#define ACC_PEEK_RETRY_MS 20    /* re-look at a request line that is not complete */
#define ACC_PEEK_TIMEOUT_MS 10000
#define ACC_BATCH 64            /* accepts / hand-offs per wake-up */
#define ACC_ROUTE_CLOSE (-1)

struct acc_pending {
	uv_poll_t poll;
	uv_timer_t timer;
	int fd;
	int route;              /* worker index, or ACC_ROUTE_CLOSE */
	int closing;            /* handles left to close */
	uint64_t deadline;
	struct acc_pending *prev, *next;
};

static struct {
	uv_loop_t *loop;
	struct lws_vhost *vh;
	const struct wsd_handoff *ch;
	unsigned index, n;
	int lfd;
	uv_poll_t listen, handoff;
	int running;
	struct acc_pending *pending;
} acc = { .lfd = -1 };

int wsd_handoff_create(struct wsd_handoff *ch, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		int sv[2];

		if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) != 0)
			return -1;
		ch[i].rx = sv[0];
		ch[i].tx = sv[1];
	}
	return 0;
}

static int acc_send_fd(int via, int fd)
{
	char byte = 'S';
	struct iovec iov = { &byte, 1 };
	_Alignas(struct cmsghdr) char ctl[CMSG_SPACE(sizeof(int))];
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl,
			     .msg_controllen = sizeof ctl };
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof fd);
	return sendmsg(via, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) == 1 ? 0 : -1;
}

static void acc_adopt(int fd)
{
	/* lws closes fd itself when it cannot adopt it. */
	if (!lws_adopt_socket_vhost(acc.vh, fd))
		log_warn("could not hand a connection to lws");
}

static void acc_route(struct acc_pending *p)
{
	if (p->route == ACC_ROUTE_CLOSE) {
		(void)close(p->fd);
	} else if ((unsigned)p->route == acc.index) {
		acc_adopt(p->fd);
	} else if (acc_send_fd(acc.ch[p->route].tx, p->fd) == 0) {
		(void)close(p->fd); /* the owner has its own copy now */
	} else {
		/* Owner stuck or restarting: serve here rather than drop the client. */
		log_warn("hand-off to worker %d failed (%s); serving here", p->route,
			 strerror(errno));
		acc_adopt(p->fd);
	}
}

static void acc_on_closed(uv_handle_t *h)
{
	struct acc_pending *p = h->data;

	if (--p->closing > 0)
		return;
	acc_route(p);
	free(p);
}

static void acc_finish(struct acc_pending *p, int route)
{
	if (p->prev)
		p->prev->next = p->next;
	else
		acc.pending = p->next;
	if (p->next)
		p->next->prev = p->prev;
	p->route = route;
	p->closing = 2;
	/* libuv wants the handles gone before anyone else polls the fd. */
	uv_close((uv_handle_t *)&p->poll, acc_on_closed);
	uv_close((uv_handle_t *)&p->timer, acc_on_closed);
}

/* The uid's worker, from "GET /path?query HTTP/1.1"; this one when there is none. */
static int acc_route_of(const char *buf, size_t len)
{
	const char *sp = memchr(buf, ' ', len), *q, *end;
	char uid[REQ_UID_MAX + 1];
	size_t ul;

	if (!sp)
		return (int)acc.index;
	end = memchr(sp + 1, ' ', len - (size_t)(sp + 1 - buf));
	if (!end)
		return (int)acc.index;
	q = memchr(sp + 1, '?', (size_t)(end - sp - 1));
	if (!q || req_query_get(q + 1, (size_t)(end - q - 1), "uid", uid, sizeof uid, &ul) != REQ_OK)
		return (int)acc.index;
	return (int)req_uid_shard(uid, ul, acc.n);
}

static void acc_on_retry(uv_timer_t *t);

static void acc_on_peek(uv_poll_t *h, int status, int events)
{
	struct acc_pending *p = h->data;
	char buf[ACC_PEEK_MAX];
	const char *eol;
	ssize_t n;

	(void)events;
	if (status < 0) {
		acc_finish(p, ACC_ROUTE_CLOSE);
		return;
	}
	n = recv(p->fd, buf, sizeof buf, MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) {
		acc_finish(p, ACC_ROUTE_CLOSE);
		return;
	}
	eol = memchr(buf, '\n', (size_t)n);
	if (eol || (size_t)n == sizeof buf) {
		acc_finish(p, eol ? acc_route_of(buf, (size_t)(eol - buf)) : (int)acc.index);
		return;
	}
	if (uv_now(acc.loop) >= p->deadline) {
		acc_finish(p, ACC_ROUTE_CLOSE);
		return;
	}
	/* Part of a line: the poll is level-triggered, so look again a bit later. */
	(void)uv_poll_stop(&p->poll);
	(void)uv_timer_start(&p->timer, acc_on_retry, ACC_PEEK_RETRY_MS, 0);
}

/* Both "look again" and "too slow": past the deadline the client is dropped,
 * otherwise the poll is re-armed with the timer as the deadline's watchman. */
static void acc_on_retry(uv_timer_t *t)
{
	struct acc_pending *p = t->data;
	uint64_t now = uv_now(acc.loop);

	if (now >= p->deadline || uv_poll_start(&p->poll, UV_READABLE, acc_on_peek) != 0 ||
	    uv_timer_start(&p->timer, acc_on_retry, p->deadline - now, 0) != 0)
		acc_finish(p, ACC_ROUTE_CLOSE);
}

static void acc_track(int fd)
{
	struct acc_pending *p = calloc(1, sizeof *p);

	if (!p || uv_poll_init(acc.loop, &p->poll, fd) != 0) {
		free(p);
		(void)close(fd);
		return;
	}
	p->fd = fd;
	p->poll.data = p;
	p->timer.data = p;
	p->deadline = uv_now(acc.loop) + ACC_PEEK_TIMEOUT_MS;
	p->next = acc.pending;
	if (p->next)
		p->next->prev = p;
	acc.pending = p;
	if (uv_timer_init(acc.loop, &p->timer) != 0) {
		/* Only the poll handle exists: close it alone. */
		acc.pending = p->next;
		if (p->next)
			p->next->prev = NULL;
		p->route = ACC_ROUTE_CLOSE;
		p->closing = 1;
		uv_close((uv_handle_t *)&p->poll, acc_on_closed);
		return;
	}
	/* The timer drops a client that sends nothing before the deadline. */
	if (uv_poll_start(&p->poll, UV_READABLE, acc_on_peek) != 0 ||
	    uv_timer_start(&p->timer, acc_on_retry, ACC_PEEK_TIMEOUT_MS, 0) != 0)
		acc_finish(p, ACC_ROUTE_CLOSE);
}

static void acc_on_listen(uv_poll_t *h, int status, int events)
{
	(void)h;
	(void)events;
	if (status < 0)
		return;
	for (int i = 0; i < ACC_BATCH; i++) {
		int fd = accept4(acc.lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
			    errno != ECONNABORTED)
				log_warn("accept: %s", strerror(errno));
			return;
		}
		acc_track(fd);
	}
}

static void acc_on_handoff(uv_poll_t *h, int status, int events)
{
	(void)h;
	(void)events;
	if (status < 0)
		return;
	for (int i = 0; i < ACC_BATCH; i++) {
		char byte;
		struct iovec iov = { &byte, 1 };
		_Alignas(struct cmsghdr) char ctl[CMSG_SPACE(sizeof(int))];
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl,
				     .msg_controllen = sizeof ctl };
		struct cmsghdr *c;
		int fd = -1;

		if (recvmsg(acc.ch[acc.index].rx, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) < 0)
			return;
		c = CMSG_FIRSTHDR(&mh);
		if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
		    c->cmsg_len >= CMSG_LEN(sizeof(int)))
			memcpy(&fd, CMSG_DATA(c), sizeof fd);
		if (fd >= 0)
			acc_adopt(fd);
	}
}

static int acc_listen(const char *host, int port)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV };
	struct addrinfo *ai = NULL;
	char ps[8];
	int fd = -1, on = 1;

	(void)snprintf(ps, sizeof ps, "%d", port);
	if (getaddrinfo(host[0] ? host : NULL, ps, &hints, &ai) != 0 || !ai) {
		log_err("ws_addr host '%s' is not a numeric address", host);
		return -1;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 4096) != 0) {
		log_err("cannot listen for WebSockets on %s:%d: %s", host, port, strerror(errno));
		if (fd >= 0)
			(void)close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	return fd;
}

int wsd_accept_start(uv_loop_t *loop, struct lws_vhost *vh, const char *host, int port,
		     unsigned index, unsigned n, const struct wsd_handoff *ch)
{
	acc.loop = loop;
	acc.vh = vh;
	acc.ch = ch;
	acc.index = index;
	acc.n = n;
	acc.lfd = acc_listen(host, port);
	if (acc.lfd < 0)
		return -1;
	if (uv_poll_init(loop, &acc.listen, acc.lfd) != 0 ||
	    uv_poll_init(loop, &acc.handoff, ch[index].rx) != 0 ||
	    uv_poll_start(&acc.listen, UV_READABLE, acc_on_listen) != 0 ||
	    uv_poll_start(&acc.handoff, UV_READABLE, acc_on_handoff) != 0) {
		log_err("cannot watch the WebSocket listener");
		return -1;
	}
	acc.running = 1;
	return 0;
}

static void acc_on_listen_closed(uv_handle_t *h)
{
	(void)h;
	if (acc.lfd >= 0)
		(void)close(acc.lfd);
	acc.lfd = -1;
}

void wsd_accept_stop(void)
{
	if (!acc.running)
		return;
	acc.running = 0;
	uv_close((uv_handle_t *)&acc.listen, acc_on_listen_closed);
	uv_close((uv_handle_t *)&acc.handoff, NULL);
	while (acc.pending)
		acc_finish(acc.pending, ACC_ROUTE_CLOSE);
}
