/* SPDX-License-Identifier: MIT */
/* Accept, read the handshake, route: wsd_accept reads a connection's request head
 * (hs_parse), refuses a bad one (or one from an origin not allowed) itself and hands
 * a good one to its uid's worker, which adopts it unless it is at its ceiling. */
#include "wsd_accept.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cfg.h"
#include "hs.h"
#include "log.h"
#include "req.h"
#include "wmsg.h"
#include "wsd_stats.h"
#include "wsd_ws.h"

#define ACC_PEEK_RETRY_MS 20    /* re-look at a head that is not complete */
#define ACC_PEEK_TIMEOUT_MS 10000
#define ACC_BATCH 64            /* accepts / hand-offs per wake-up */
#define ACC_ADDR_MAX 64         /* "[v6 address]:port" */
#define ACC_CLIENT_MAX (ACC_ADDR_MAX + HS_XFF_MAX + 24) /* + " (X-Forwarded-For ...)" */
#define ACC_DRAIN_MAX 65536     /* bytes read and dropped before closing a refusal */
#define ACC_RESPONSE_MAX 1024   /* a refusal: status line, headers and JSON body */
/* Descriptors a worker needs besides its WebSockets: listener, ipc and hand-off
 * sockets, supervisor channel, logs, and handshakes still being read. */
#define ACC_FD_RESERVE 64
#define ACC_ORIGIN_REFUSED "origin not allowed"
#define ACC_FULL "this server is at its connection limit"

/* A hand-off datagram: these lengths, then uid, key, client and the lws head. */
struct acc_msg_hdr {
	uint16_t uid_len, key_len, client_len, req_len;
	struct wsd_resume resume;
};
#define ACC_MSG_MAX (sizeof(struct acc_msg_hdr) + REQ_UID_MAX + HS_KEY_MAX + ACC_CLIENT_MAX + \
		     HS_LWS_MAX)
_Static_assert(REQ_UID_MAX <= UINT16_MAX && HS_KEY_MAX <= UINT16_MAX &&
	       ACC_CLIENT_MAX <= UINT16_MAX && HS_LWS_MAX <= UINT16_MAX,
	       "hand-off lengths travel as 16 bits");

enum acc_outcome { ACC_CLOSE = 0, ACC_REFUSE, ACC_ROUTE };

struct acc_pending {
	uv_poll_t poll;
	uv_timer_t timer;
	int fd;
	int closing;            /* handles left to close */
	uint64_t deadline;
	enum acc_outcome outcome;
	int status;             /* ACC_REFUSE: HTTP status, reason, extra header */
	const char *reason;
	enum hs_extra extra;
	unsigned owner;         /* ACC_ROUTE: the uid's worker, route, lws's head */
	struct wsd_route *route;
	size_t lws_len;
	char lws[HS_LWS_MAX];
	char client[ACC_CLIENT_MAX];
	char origin[HS_ORIGIN_MAX + 1]; /* for logs: printable ASCII, '?' for the rest */
	int loopback;           /* the peer is on this host (our web server) */
	struct acc_pending *prev, *next;
};

static struct {
	const struct cfg *cfg;  /* allowed_origins, max_connections; NULL: none given */
	uv_loop_t *loop;
	struct lws_vhost *vh;
	const struct wsd_handoff *ch;
	unsigned index, n;
	int lfd;
	uv_poll_t listen, handoff;
	int running;
	int handoff_on;         /* several workers: the hand-off channel is watched */
	struct acc_pending *pending;
} acc = { .lfd = -1 };

/* The configuration the router reads (allowed_origins, max_connections); c must
 * stay valid until the next call. Before the first, every Origin passes and only
 * the open-files limit bounds the connections. main.c's wsd_apply_cfg calls it,
 * so reloads reach the router. */

void wsd_accept_use(const struct cfg *c) { acc.cfg = c; }

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

/* The fd and its route in one SCM_RIGHTS datagram; 0 or -1 (errno set). */
static int acc_send_route(int via, const struct acc_pending *p)
{
	const struct wsd_route *r = p->route;
	struct acc_msg_hdr h = { (uint16_t)r->uid_len, (uint16_t)r->key_len,
				 (uint16_t)strlen(r->client), (uint16_t)p->lws_len, r->resume };
	struct iovec iov[5] = { { &h, sizeof h }, { (void *)r->uid, h.uid_len },
				{ (void *)r->key, h.key_len }, { (void *)r->client, h.client_len },
				{ (void *)p->lws, h.req_len } };
	_Alignas(struct cmsghdr) char ctl[CMSG_SPACE(sizeof(int))];
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 5, .msg_control = ctl,
			     .msg_controllen = sizeof ctl };
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	size_t total = sizeof h + h.uid_len + h.key_len + h.client_len + h.req_len;

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &p->fd, sizeof p->fd);
	return sendmsg(via, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)total ? 0 : -1;
}

/* Sends a refusal as JSON and closes. The response is small and the socket new,
 * so one non-blocking send carries it; what the client already sent is read and
 * dropped first so close() does not reset the connection under the response. */
static void acc_refuse(int fd, int status, const char *reason, enum hs_extra extra)
{
	char head[ACC_RESPONSE_MAX], junk[4096];
	const char *x = hs_extra_header(extra);
	size_t blen = 0, drained = 0;
	char *body = wmsg_reply("error", 0, reason, &blen);
	int n;
	ssize_t r;

	n = body ? snprintf(head, sizeof head,
			    "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
			    "Connection: close\r\nContent-Length: %zu\r\n%s%s\r\n%s",
			    status, hs_status_text(status), blen, x, x[0] ? "\r\n" : "", body)
		 : -1;
	if (n > 0 && (size_t)n < sizeof head &&
	    send(fd, head, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) != n)
		log_debug("refusal not sent whole: %s", strerror(errno));
	free(body);
	if (shutdown(fd, SHUT_WR) == 0) {
		while (drained < ACC_DRAIN_MAX &&
		       (r = recv(fd, junk, sizeof junk, MSG_DONTWAIT)) > 0)
			drained += (size_t)r;
	}
	(void)close(fd);
}

/* The Origin says which site opened the socket: it goes in the log line. */
static void acc_count_refusal(const struct acc_pending *p, int status, const char *reason)
{
	wsd_stats.ws_handshake_refused++;
	LOG_LIMITED(LOG_LVL_INFO, "refused a WebSocket handshake from %s: %d %s%s%s%s", p->client,
		    status, reason, p->origin[0] ? " (Origin " : "", p->origin,
		    p->origin[0] ? ")" : "");
}

/* WebSockets this worker takes at most: max_connections, never more than the
 * open-files limit leaves room for (past it accept() would fail with EMFILE). */
static size_t acc_ceiling(void)
{
	struct rlimit rl;
	size_t files = SIZE_MAX;
	long cap = acc.cfg ? acc.cfg->max_connections : 0;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur < SIZE_MAX)
		files = rl.rlim_cur > ACC_FD_RESERVE ? (size_t)rl.rlim_cur - ACC_FD_RESERVE : 0;
	return cap > 0 && (size_t)cap < files ? (size_t)cap : files;
}

/* The owner's last word on a routed socket: lws takes it, unless this worker is
 * at its ceiling, which the client hears as 503 before any upgrade. */
static void acc_adopt(int fd, struct wsd_route *r, const char *req, size_t len)
{
	size_t ceiling = acc_ceiling();

	if (wsd_ws_live() >= ceiling) {
		wsd_stats.ws_handshake_refused++;
		LOG_LIMITED(LOG_LVL_WARN, "worker %u is at its connection limit (%zu WebSockets: "
			    "max_connections, or the open-files limit): refused %s", acc.index,
			    ceiling, r->client);
		acc_refuse(fd, 503, ACC_FULL, HS_EXTRA_NONE);
		free(r);
		return;
	}
	if (wsd_ws_adopt(acc.vh, fd, r, req, len) != 0)
		log_warn("could not hand a connection to lws");
}

/* Where the connection goes once the accept router's handles are closed. */
static void acc_dispatch(struct acc_pending *p)
{
	switch (p->outcome) {
	case ACC_CLOSE:
		(void)close(p->fd);
		break;
	case ACC_REFUSE:
		acc_count_refusal(p, p->status, p->reason);
		acc_refuse(p->fd, p->status, p->reason, p->extra);
		break;
	case ACC_ROUTE:
		if (p->owner == acc.index) {
			acc_adopt(p->fd, p->route, p->lws, p->lws_len);
			p->route = NULL; /* taken in every case */
		} else if (acc_send_route(acc.ch[p->owner].tx, p) == 0) {
			(void)close(p->fd); /* the owner has its own copy now */
		} else {
			/* Serving here would split the uid: the client retries instead. */
			log_warn("hand-off to worker %u failed: %s", p->owner, strerror(errno));
			acc_count_refusal(p, 503, "the uid's worker is not available");
			acc_refuse(p->fd, 503, "the uid's worker is not available", HS_EXTRA_NONE);
		}
		break;
	}
	free(p->route);
}

static void acc_on_closed(uv_handle_t *h)
{
	struct acc_pending *p = h->data;

	if (--p->closing > 0)
		return;
	acc_dispatch(p);
	free(p);
}

static void acc_finish(struct acc_pending *p, enum acc_outcome outcome)
{
	if (p->prev)
		p->prev->next = p->next;
	else
		acc.pending = p->next;
	if (p->next)
		p->next->prev = p->prev;
	p->outcome = outcome;
	p->closing = 2;
	/* libuv wants the handles gone before anyone else polls the fd. */
	uv_close((uv_handle_t *)&p->poll, acc_on_closed);
	uv_close((uv_handle_t *)&p->timer, acc_on_closed);
}

static void acc_refuse_later(struct acc_pending *p, int status, const char *reason,
			     enum hs_extra extra)
{
	p->status = status;
	p->reason = reason;
	p->extra = extra;
	acc_finish(p, ACC_REFUSE);
}

/* Our own web server proxies from loopback: the client it names goes in the logs. */
static void acc_note_xff(struct acc_pending *p, const char *xff)
{
	size_t used = strlen(p->client);
	int n = snprintf(p->client + used, sizeof p->client - used, " (X-Forwarded-For %s)", xff);

	if (n < 0 || (size_t)n >= sizeof p->client - used)
		log_debug("client address shortened for logs");
}

/* What the logs say about the client: X-Forwarded-For from our own web server,
 * and the Origin it came from. */
static void acc_note_client(struct acc_pending *p, const struct hs_result *r)
{
	if (p->loopback && r->xff[0])
		acc_note_xff(p, r->xff);
	for (size_t i = 0; i < r->origin_len; i++) {
		unsigned char c = (unsigned char)r->origin[i];

		p->origin[i] = c >= 0x20 && c < 0x7F ? (char)c : '?';
	}
	p->origin[r->origin_len] = '\0';
}

/* A good handshake goes to its uid's worker with what authentication needs. */
static void acc_route_later(struct acc_pending *p, const struct hs_result *r)
{
	struct wsd_resume resume = { (uint8_t)r->since_kind, (uint8_t)r->has_epoch, r->since,
				     r->epoch };

	p->route = wsd_route_new(r->uid, r->uid_len, r->key, r->key_len, p->client, &resume);
	p->owner = req_uid_shard(r->uid, r->uid_len, acc.n);
	memcpy(p->lws, r->lws, r->lws_len);
	p->lws_len = r->lws_len;
	if (!p->route) {
		acc_refuse_later(p, 503, "out of memory", HS_EXTRA_NONE);
		return;
	}
	acc_finish(p, ACC_ROUTE);
}

/* A complete head of hl bytes is waiting: take exactly it (frames stay queued in
 * the socket for lws), check it and decide the connection's fate. */
static void acc_take_head(struct acc_pending *p, size_t hl)
{
	char head[HS_HEAD_MAX];
	struct hs_result *r = malloc(sizeof *r);
	ssize_t n = recv(p->fd, head, hl, MSG_DONTWAIT);
	int rc;

	if (!r || n != (ssize_t)hl) {
		free(r);
		acc_finish(p, ACC_CLOSE);
		return;
	}
	rc = hs_parse(head, hl, wsd_ws_max_uid(), r);
	acc_note_client(p, r);
	if (rc != 0)
		acc_refuse_later(p, r->status, r->reason, r->extra);
	else if (!hs_origin_allowed(r, acc.cfg ? acc.cfg->allowed_origins : NULL))
		/* Here, before routing: a foreign page's socket never reaches
		 * authentication, whatever key it carries. */
		acc_refuse_later(p, 403, ACC_ORIGIN_REFUSED, HS_EXTRA_NONE);
	else
		acc_route_later(p, r);
	free(r);
}

static void acc_on_retry(uv_timer_t *t);

static void acc_on_peek(uv_poll_t *h, int status, int events)
{
	struct acc_pending *p = h->data;
	char buf[HS_HEAD_MAX];
	size_t hl;
	ssize_t n;

	(void)events;
	if (status < 0) {
		acc_finish(p, ACC_CLOSE);
		return;
	}
	n = recv(p->fd, buf, sizeof buf, MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) {
		acc_finish(p, ACC_CLOSE);
		return;
	}
	hl = hs_head_len(buf, (size_t)n);
	if (hl) {
		acc_take_head(p, hl);
		return;
	}
	if ((size_t)n == sizeof buf) {
		acc_refuse_later(p, 431, "request head too large", HS_EXTRA_NONE);
		return;
	}
	if (uv_now(acc.loop) >= p->deadline) {
		acc_finish(p, ACC_CLOSE);
		return;
	}
	/* Part of a head: the poll is level-triggered, so look again a bit later. */
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
		acc_finish(p, ACC_CLOSE);
}

/* "address:port" of the peer, or "?" when the kernel will not say. */
static int acc_is_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
	return ss->ss_family == AF_INET6 &&
	       IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)ss)->sin6_addr);
}

static void acc_peer_name(const struct sockaddr_storage *ss, char *out, size_t cap)
{
	char a[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;

		(void)inet_ntop(AF_INET, &s4->sin_addr, a, sizeof a);
		port = ntohs(s4->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

		(void)inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof a);
		port = ntohs(s6->sin6_port);
	}
	(void)snprintf(out, cap, ss->ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", a, port);
}

static void acc_track(int fd, const struct sockaddr_storage *ss)
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
	acc_peer_name(ss, p->client, sizeof p->client);
	p->loopback = acc_is_loopback(ss);
	p->next = acc.pending;
	if (p->next)
		p->next->prev = p;
	acc.pending = p;
	if (uv_timer_init(acc.loop, &p->timer) != 0) {
		/* Only the poll handle exists: close it alone. */
		acc.pending = p->next;
		if (p->next)
			p->next->prev = NULL;
		p->outcome = ACC_CLOSE;
		p->closing = 1;
		uv_close((uv_handle_t *)&p->poll, acc_on_closed);
		return;
	}
	/* The timer drops a client that sends nothing before the deadline. */
	if (uv_poll_start(&p->poll, UV_READABLE, acc_on_peek) != 0 ||
	    uv_timer_start(&p->timer, acc_on_retry, ACC_PEEK_TIMEOUT_MS, 0) != 0)
		acc_finish(p, ACC_CLOSE);
}

static void acc_on_listen(uv_poll_t *h, int status, int events)
{
	(void)h;
	(void)events;
	if (status < 0)
		return;
	for (int i = 0; i < ACC_BATCH; i++) {
		struct sockaddr_storage ss = { .ss_family = AF_UNSPEC };
		socklen_t sl = sizeof ss;
		int fd = accept4(acc.lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
			    errno != ECONNABORTED)
				log_warn("accept: %s", strerror(errno));
			return;
		}
		acc_track(fd, &ss);
	}
}

/* A hand-off datagram msg[0..n): its route, or NULL when a length is out of
 * bounds or does not add up (the sender is another worker, but still). */
static struct wsd_route *acc_read_route(const char *msg, size_t n, const char **req,
					size_t *req_len)
{
	struct acc_msg_hdr h;
	char client[ACC_CLIENT_MAX];
	const char *d = msg + sizeof h;

	if (n < sizeof h)
		return NULL;
	memcpy(&h, msg, sizeof h);
	if (h.uid_len > REQ_UID_MAX || h.key_len > HS_KEY_MAX || h.client_len >= ACC_CLIENT_MAX ||
	    h.req_len > HS_LWS_MAX ||
	    sizeof h + (size_t)h.uid_len + h.key_len + h.client_len + h.req_len != n)
		return NULL;
	memcpy(client, d + h.uid_len + h.key_len, h.client_len);
	client[h.client_len] = '\0';
	*req = d + h.uid_len + h.key_len + h.client_len;
	*req_len = h.req_len;
	if (h.resume.kind > HS_SINCE_NOW)
		return NULL;
	return wsd_route_new(d, h.uid_len, d + h.uid_len, h.key_len, client, &h.resume);
}

/* One datagram from the hand-off channel; 0, or -1 when the channel is empty. */
static int acc_receive_one(void)
{
	static char msg[ACC_MSG_MAX];
	struct iovec iov = { msg, sizeof msg };
	_Alignas(struct cmsghdr) char ctl[CMSG_SPACE(sizeof(int))];
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl,
			     .msg_controllen = sizeof ctl };
	struct cmsghdr *c;
	struct wsd_route *r = NULL;
	const char *req = NULL;
	size_t req_len = 0;
	ssize_t n = recvmsg(acc.ch[acc.index].rx, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	int fd = -1;

	if (n < 0)
		return -1;
	c = CMSG_FIRSTHDR(&mh);
	if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
	    c->cmsg_len >= CMSG_LEN(sizeof(int)))
		memcpy(&fd, CMSG_DATA(c), sizeof fd);
	if (fd < 0)
		return 0;
	if (!(mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)))
		r = acc_read_route(msg, (size_t)n, &req, &req_len);
	if (!r) {
		log_warn("dropped a hand-off with a malformed route");
		(void)close(fd);
		return 0;
	}
	acc_adopt(fd, r, req, req_len);
	return 0;
}

static void acc_on_handoff(uv_poll_t *h, int status, int events)
{
	(void)h;
	(void)events;
	if (status < 0)
		return;
	for (int i = 0; i < ACC_BATCH; i++)
		if (acc_receive_one() != 0)
			return;
}

static int acc_listen(const char *host, int port, int shared)
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
	/* SO_REUSEPORT lets the workers share the port, but also any other process of
	 * the same user: a single worker keeps the port to itself, so a second daemon
	 * started by mistake fails to bind instead of taking half the clients. */
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0 ||
	    (shared && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0) ||
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
	acc.lfd = acc_listen(host, port, n > 1);
	if (acc.lfd < 0)
		return -1;
	/* A single worker owns every uid: nobody hands it anything, and its
	 * channels may not even exist. */
	acc.handoff_on = n > 1;
	if (uv_poll_init(loop, &acc.listen, acc.lfd) != 0 ||
	    (acc.handoff_on && uv_poll_init(loop, &acc.handoff, ch[index].rx) != 0) ||
	    uv_poll_start(&acc.listen, UV_READABLE, acc_on_listen) != 0 ||
	    (acc.handoff_on && uv_poll_start(&acc.handoff, UV_READABLE, acc_on_handoff) != 0)) {
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
	if (acc.handoff_on)
		uv_close((uv_handle_t *)&acc.handoff, NULL);
	while (acc.pending)
		acc_finish(acc.pending, ACC_CLOSE);
}
