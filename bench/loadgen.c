/* SPDX-License-Identifier: MIT */
/* Benchmark load generator: N libwebsockets subscribers (libuv loop) in P forked
 * processes, plus an HTTP keep-alive or datagram publisher; prints one JSON result line.
 * --storm K: the resume storm (subscribers learn their position, disconnect, K pushes
 * each while offline, all reconnect at once with since/epoch; the replay is checked).
 * --broadcast: POST /broadcast (every connected uid) instead of /push.
 * --ack-conns K: plain /push load in two phases, without and then with K pushes
 * (?ack=1) kept waiting on uids whose subscribers never acknowledge.
 * --ws2/--http2: a second host (engine redis): subscribers split over both hosts,
 * some uids with a tab on each, pushes alternating between them. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libwebsockets.h>
#include <uv.h>

#include "akey.h"
#include "cfg.h"
#include "ipc.h"

/* ---- histogram: 16 linear sub-buckets per power of two (about 6 % resolution) ---- */
#define H_SUB 16
#define H_POW 40
#define H_N (H_SUB * H_POW)

static unsigned h_index(uint64_t us)
{
	unsigned e;

	if (us < H_SUB)
		return (unsigned)us;
	e = 63u - (unsigned)__builtin_clzll(us);   /* us >= 16 -> e >= 4 */
	unsigned sub = (unsigned)((us >> (e - 4)) & (H_SUB - 1));
	unsigned idx = (e - 3) * H_SUB + sub;
	return idx < H_N ? idx : H_N - 1;
}

/* Upper edge of a bucket, in microseconds. */
static uint64_t h_value(unsigned idx)
{
	if (idx < H_SUB)
		return idx;
	unsigned e = idx / H_SUB + 3, sub = idx % H_SUB;
	return ((uint64_t)(H_SUB + sub + 1) << (e - 4)) - 1;
}

/* ---- shared memory between the parent and the subscriber processes ---- */
struct child_stats {
	_Atomic uint64_t connected, failed, closed, slow_closed, received, unique, dup, ooo, bad;
	/* --storm: position frames, and how the resumes went (see storm_frame) */
	_Atomic uint64_t positioned, recovered, epoch_changed, first_bad, last_bad, gaps, done;
	/* --broadcast: frames whose "number" is not the uid's own next one (each uid's
	 * stream only gets the broadcasts: number = seq); --ack-conns: frames of the
	 * ack pushes (their uids' subscribers, kept out of everything else) */
	_Atomic uint64_t number_bad, ack_frames;
	_Atomic uint64_t hist[H_N];
	/* --ack-conns: latency of the pushes sent in phase 0 (without ack waiters)
	 * and phase 1 (with them), by the send time the push carries */
	_Atomic uint64_t phist[2][H_N];
	_Atomic uint64_t max_us;
};

struct shm {
	atomic_int stop;
	uint64_t t0;         /* --storm: CLOCK_MONOTONIC ns when the reconnect began */
	/* --ack-conns: phase 0 is [ph[0], ph[1]), phase 1 [ph[2], ph[3]) (send times, ns) */
	_Atomic uint64_t ph[4];
	struct child_stats ch[64];
	/* per subscriber: 1 once its WebSocket is open */
	atomic_uchar up[];
};

/* ---- options ---- */
enum target { T_SERVICE, T_DAEMON, T_NCHAN };
enum pubmode { P_NONE, P_HTTP, P_IPC };

static struct opts {
	enum target target;
	enum pubmode pub;
	const char *ws_host;
	int ws_port;
	const char *http_host;
	int http_port;
	/* --ws2/--http2: the second host (0: one host) */
	const char *ws2_host;
	int ws2_port;
	const char *http2_host;
	int http2_port;
	const char *redis_pids;
	const char *conf;
	const char *ipc_path;
	const char *password;
	const char *scenario;
	const char *pids;
	int server_cpu;
	long subs, uids, procs, src_ips, src_base, conn_par, inflight, count, body_pad, batch, slow_every;
	long contents_bytes, storm, storm_live, storm_par;
	long ack_conns, ack_retry_ms;
	int metrics, mint, broadcast;
	const char *daemon_pids;
	double rate, duration, idle, drain, connect_timeout, ack_settle;
} o = {
	.target = T_SERVICE, .pub = P_NONE, .ws_host = "127.0.0.1", .ws_port = 8081,
	.http_host = "127.0.0.1", .http_port = 8080, .password = "abc123",
	.scenario = "run", .subs = 100, .uids = 0, .procs = 0, .src_ips = 0, .src_base = 2, .conn_par = 128,
	.inflight = 16, .count = 0, .batch = 0, .rate = 0, .duration = 5, .idle = 0, .drain = 5,
	.connect_timeout = 60, .ack_retry_ms = 100, .ack_settle = 0.5,
};

/* --ack-conns: plain pushes go to uids 0 .. plain_uids-1, ack pushes to the last
 * ack_conns uids (one each); otherwise plain_uids = uids. */
static long plain_uids;

static struct shm *shm;
static char (*keys)[AKEY_MAX_LEN];

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("loadgen: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		die("clock_gettime: %s", strerror(errno));
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_s(double s)
{
	struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* ---- server process accounting from /proc ---- */
#define MAX_PIDS 64
static int spids[MAX_PIDS], dpids[MAX_PIDS], rpids[MAX_PIDS];
static int nspids, ndpids, nrpids;

static void parse_pids(const char *s, int *pids, int *n)
{
	while (s && *s && *n < MAX_PIDS) {
		char *end;
		long v = strtol(s, &end, 10);

		if (end == s)
			break;
		if (v > 0)
			pids[(*n)++] = (int)v;
		s = *end ? end + 1 : end;
	}
}

/* Sum over pids of a /proc/<pid>/status field in kB (VmRSS, VmHWM); -1 if none
 * could be read. */
static long pids_status_kb(const int *pids, int n, const char *field)
{
	long total = -1;
	size_t fl = strlen(field);

	for (int i = 0; i < n; i++) {
		char path[64], line[256];
		FILE *f;

		snprintf(path, sizeof path, "/proc/%d/status", pids[i]);
		f = fopen(path, "r");
		if (!f)
			continue;
		while (fgets(line, sizeof line, f)) {
			long kb;

			if (strncmp(line, field, fl) == 0 && line[fl] == ':' &&
			    sscanf(line + fl + 1, "%ld", &kb) == 1) {
				total = (total < 0 ? 0 : total) + kb;
				break;
			}
		}
		(void)fclose(f);
	}
	return total;
}

/* The same over the server processes (--pids). */
static long server_status_kb(const char *field)
{
	return pids_status_kb(spids, nspids, field);
}

static long server_rss_kb(void)
{
	return server_status_kb("VmRSS");
}

/* VmRSS over ws-daemon's processes alone (--daemon-pids), KiB; -1 without them. */
static long daemon_rss_kb(void)
{
	return pids_status_kb(dpids, ndpids, "VmRSS");
}

/* Sum of utime + stime over pids, microseconds. */
static double pids_cpu_us(const int *pids, int npids)
{
	double total = 0;
	long hz = sysconf(_SC_CLK_TCK);

	for (int i = 0; i < npids; i++) {
		char path[64], buf[1024];
		FILE *f;
		size_t n;
		unsigned long ut, st;

		snprintf(path, sizeof path, "/proc/%d/stat", pids[i]);
		f = fopen(path, "r");
		if (!f)
			continue;
		n = fread(buf, 1, sizeof buf - 1, f);
		(void)fclose(f);
		buf[n] = '\0';
		char *p = strrchr(buf, ')');
		/* after ")": state(3) ... utime is field 14, stime 15 */
		if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
				 &ut, &st) != 2)
			continue;
		total += (double)(ut + st) * 1e6 / (double)(hz > 0 ? hz : 100);
	}
	return total;
}

/* ... over the server processes (--pids) */
static double server_cpu_us(void)
{
	return pids_cpu_us(spids, nspids);
}

/* Busy (non-idle) time of one CPU from /proc/stat, microseconds; -1 if unreadable.
 * With the server pinned there, busy minus the server's own CPU time is what other
 * programs on the machine took from it during the measurement. */
static double cpu_busy_us(int cpu)
{
	char want[16], line[512];
	double busy = -1;
	long hz = sysconf(_SC_CLK_TCK);
	FILE *f = fopen("/proc/stat", "r");

	if (!f)
		return -1;
	snprintf(want, sizeof want, "cpu%d ", cpu);
	while (fgets(line, sizeof line, f)) {
		unsigned long long v[8] = { 0 };

		if (strncmp(line, want, strlen(want)) != 0)
			continue;
		if (sscanf(line + strlen(want), "%llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
			   &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) == 8)
			busy = (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) * 1e6 /
			       (double)(hz > 0 ? hz : 100);
		break;
	}
	(void)fclose(f);
	return busy;
}

/* ---- tiny blocking HTTP helper for /access ---- */
static int tcp_connect(const char *host, int port, int nonblock)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd, one = 1;

	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		die("not an IPv4 address: %s", host);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
	if (fd < 0)
		die("socket: %s", strerror(errno));
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
		die("TCP_NODELAY: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 && errno != EINPROGRESS) {
		(void)close(fd);
		return -1;
	}
	return fd;
}

/* Incremental HTTP/1.1 response parser over a growing buffer: returns the length of
 * one complete response at buf[0..], 0 if more bytes are needed, -1 if malformed. */
static int http_close;  /* the last complete response said "Connection: close" */

static long http_complete(const char *buf, size_t len, int *status, const char **body,
			  size_t *body_len)
{
	const char *hdr_end = memmem(buf, len, "\r\n\r\n", 4);
	size_t hlen;
	long clen = -1;
	int chunked = 0;

	if (!hdr_end)
		return 0;
	hlen = (size_t)(hdr_end - buf) + 4;
	http_close = 0;
	if (len < 12 || memcmp(buf, "HTTP/1.", 7) != 0)
		return -1;
	*status = atoi(buf + 9);
	for (const char *p = buf; p < hdr_end;) {
		const char *eol = memmem(p, (size_t)(hdr_end - p) + 2, "\r\n", 2);

		if (!eol)
			break;
		if ((size_t)(eol - p) > 15 && strncasecmp(p, "content-length:", 15) == 0)
			clen = strtol(p + 15, NULL, 10);
		else if ((size_t)(eol - p) > 18 && strncasecmp(p, "transfer-encoding:", 18) == 0 &&
			 memmem(p, (size_t)(eol - p), "chunked", 7))
			chunked = 1;
		else if ((size_t)(eol - p) > 11 && strncasecmp(p, "connection:", 11) == 0 &&
			 memmem(p, (size_t)(eol - p), "close", 5))
			http_close = 1;
		p = eol + 2;
	}
	*body = buf + hlen;
	if (chunked) {
		const char *end = memmem(buf + hlen, len - hlen, "0\r\n\r\n", 5);

		if (!end)
			return 0;
		*body_len = (size_t)(end - (buf + hlen));
		return (long)((size_t)(end - buf) + 5);
	}
	if (clen < 0)
		clen = 0;
	if (len < hlen + (size_t)clen)
		return 0;
	*body_len = (size_t)clen;
	return (long)(hlen + (size_t)clen);
}

static void fetch_keys_http(void)
{
	int fd = -1;
	char req[512], buf[8192];

	for (long u = 0; u < o.uids; u++) {
		size_t have = 0;
		int status = 0, tries = 0;
		const char *body;
		size_t blen;
		long n;

		for (;;) {
			if (fd < 0 && (fd = tcp_connect(o.http_host, o.http_port, 0)) < 0)
				die("/access: cannot connect to %s:%d", o.http_host, o.http_port);
			int rl = snprintf(req, sizeof req,
					  "GET /access?uid=b%ld&password=%s HTTP/1.1\r\nHost: %s\r\n\r\n",
					  u, o.password, o.http_host);
			if (write(fd, req, (size_t)rl) == rl)
				break;
			(void)close(fd);
			fd = -1;
			if (++tries > 3)
				die("/access: write failed");
		}
		for (;;) {
			ssize_t r = read(fd, buf + have, sizeof buf - 1 - have);

			if (r <= 0)
				die("/access: connection lost for uid b%ld", u);
			have += (size_t)r;
			n = http_complete(buf, have, &status, &body, &blen);
			if (n < 0)
				die("/access: malformed response");
			if (n > 0)
				break;
			if (have >= sizeof buf - 1)
				die("/access: response too large");
		}
		const char *k = memmem(body, blen, "\"contents\":\"", 12);
		if (status != 200 || !k)
			die("/access uid b%ld: status %d", u, status);
		k += 12;
		size_t kl = 0;
		while (k + kl < body + blen && k[kl] != '"' && kl < AKEY_MAX_LEN - 1)
			kl++;
		memcpy(keys[u], k, kl);
		keys[u][kl] = '\0';
		if ((size_t)n != have) {   /* keep-alive, one request at a time */
			(void)close(fd);
			fd = -1;
		}
	}
	if (fd >= 0)
		(void)close(fd);
}

/* The gauges and counters of GET /metrics?password=.. (push-api sums the workers). */
struct metrics {
	int ok;
	uint64_t connections, hist_uids, hist_messages, hist_bytes, hist_evicted;
	uint64_t resumes, resume_gaps, replayed, stored;
};

static uint64_t metric(const char *body, size_t len, const char *name, int *found)
{
	char key[96];
	int kl = snprintf(key, sizeof key, "\n%s ", name);
	const char *p = kl > 0 ? memmem(body, len, key, (size_t)kl) : NULL;

	if (!p) {
		*found = 0;
		return 0;
	}
	return strtoull(p + kl, NULL, 10);
}

/* One blocking request to the first host (head, then body if any), read until the
 * response is whole: its status and body in buf; 0 on anything else. */
static int http_once(const char *head, size_t hlen, const char *body, size_t blen, char *buf,
		     size_t cap, const char **ans, size_t *alen)
{
	int fd = tcp_connect(o.http_host, o.http_port, 0), status = 0;
	size_t have = 0;
	long n = 0;

	if (fd < 0)
		return 0;
	if (write(fd, head, hlen) != (ssize_t)hlen ||
	    (blen && write(fd, body, blen) != (ssize_t)blen)) {
		(void)close(fd);
		return 0;
	}
	while (n == 0 && have < cap - 1) {
		ssize_t r = read(fd, buf + have, cap - 1 - have);

		if (r <= 0)
			break;
		have += (size_t)r;
		n = http_complete(buf, have, &status, ans, alen);
	}
	(void)close(fd);
	return n > 0 ? status : 0;
}

static struct metrics fetch_metrics(void)
{
	static char buf[1 << 16];
	struct metrics m = { 0 };
	char req[512];
	int found = 1;
	const char *body = NULL;
	size_t blen = 0;
	int rl = snprintf(req, sizeof req,
			  "GET /metrics?password=%s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n",
			  o.password, o.http_host);

	if (http_once(req, (size_t)rl, NULL, 0, buf, sizeof buf, &body, &blen) != 200)
		return m;
	m.connections = metric(body, blen, "push_connections", &found);
	m.hist_uids = metric(body, blen, "push_history_uids", &found);
	m.hist_messages = metric(body, blen, "push_history_messages", &found);
	m.hist_bytes = metric(body, blen, "push_history_bytes", &found);
	m.hist_evicted = metric(body, blen, "push_history_evicted_total", &found);
	m.resumes = metric(body, blen, "push_resumes_total", &found);
	m.resume_gaps = metric(body, blen, "push_resume_gaps_total", &found);
	m.replayed = metric(body, blen, "push_replayed_messages_total", &found);
	m.stored = metric(body, blen, "push_pushes_stored_total", &found);
	m.ok = found;
	return m;
}

/* POST /presence?password=.. with the uids b0.. (1,000 per request) on the first
 * host: the connections the service counts for them, over every host (engine
 * redis asks each holder through Redis); -1 on any failure. */
static long presence_total(void)
{
	static char buf[1 << 16];
	static char body[16 * 1000 + 16];
	long total = 0;

	for (long first = 0; first < o.uids; first += 1000) {
		long last = first + 1000 < o.uids ? first + 1000 : o.uids;
		size_t bl = 0, alen = 0;
		const char *ans = NULL, *p, *end;
		char req[512];
		int rl;

		body[bl++] = '[';
		for (long u = first; u < last; u++)
			bl += (size_t)snprintf(body + bl, sizeof body - bl, "%s\"b%ld\"", u > first ? "," : "", u);
		body[bl++] = ']';
		rl = snprintf(req, sizeof req,
			      "POST /presence?password=%s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n"
			      "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
			      o.password, o.http_host, bl);
		if (http_once(req, (size_t)rl, body, bl, buf, sizeof buf, &ans, &alen) != 200)
			return -1;
		/* {"topic":"presence","number":K,"contents":{"b0":1,"b1":2,...}} */
		p = memmem(ans, alen, "\"contents\":{", 12);
		end = ans + alen;
		if (!p)
			return -1;
		for (p += 12; p < end && (p = memmem(p, (size_t)(end - p), "\":", 2)) != NULL; p += 2)
			total += strtol(p + 2, NULL, 10);
	}
	return total;
}

static void mint_keys_conf(void)
{
	struct cfg c;
	char err[CFG_ERR_LEN];

	if (cfg_load(o.conf, &c, err, sizeof err) != 0)
		die("%s", err);
	for (long u = 0; u < o.uids; u++) {
		char uid[32];
		int ul = snprintf(uid, sizeof uid, "b%ld", u);

		if (akey_issue(c.secret, uid, (size_t)ul, time(NULL), c.access_key_ttl, keys[u],
			       AKEY_MAX_LEN) == 0)
			die("akey_issue failed");
	}
	cfg_free(&c);
}

/* ---- subscriber process ---- */
struct sess {
	long idx;
	uint8_t *bits;      /* received sequence numbers, 1 bit each */
	size_t cap_bits;
	uint64_t last;
	/* --storm, reconnect phase: the position resumed from, the stream's last
	 * number (from the position frame), the last number taken in order */
	uint64_t since, target, prev;
	uint8_t positioned, done;
	size_t flen;
	char frag[2048];  /* a bench frame: ~110 bytes plus --pad (<= 1500) */
};

/* --storm: 1 while subscribers learn their position (since=now), 2 when they
 * reconnect with since=<last>&epoch=<epoch>. Per subscriber, in shared memory:
 * the epoch and the last number seen in phase 1. */
static int storm_phase;
static uint64_t *st_epoch, *st_last;

static struct lws_context *sub_ctx;
static struct child_stats *me;
static long my_first, my_step, my_next;
static long my_pending;
static uv_timer_t sub_timer;
static uv_loop_t sub_loop;
static char src_addr[32];

static int json_u64(const char *s, size_t len, const char *key, uint64_t *out)
{
	const char *p = memmem(s, len, key, strlen(key));

	if (!p)
		return -1;
	p += strlen(key);
	while (p < s + len && (*p == ' ' || *p == ':'))
		p++;
	if (p >= s + len || !isdigit((unsigned char)*p))
		return -1;
	*out = strtoull(p, NULL, 10);
	return 0;
}

/* "key":"<16 hex digits>" */
static int json_hex64(const char *s, size_t len, const char *key, uint64_t *out)
{
	const char *p = memmem(s, len, key, strlen(key));
	char *end;

	if (!p)
		return -1;
	p += strlen(key);
	while (p < s + len && (*p == ' ' || *p == ':' || *p == '"'))
		p++;
	if (p + 16 > s + len || !isxdigit((unsigned char)*p))
		return -1;
	*out = strtoull(p, &end, 16);
	return end == p + 16 ? 0 : -1;
}

/* A client has everything: the reconnect-to-complete time goes in the histogram. */
static void storm_done(struct sess *ss)
{
	uint64_t us = (now_ns() - shm->t0) / 1000;

	ss->done = 1;
	atomic_fetch_add_explicit(&me->done, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&me->hist[h_index(us)], 1, memory_order_relaxed);
	if (us > atomic_load_explicit(&me->max_us, memory_order_relaxed))
		atomic_store_explicit(&me->max_us, us, memory_order_relaxed);
}

/*
 * --storm frames. The first frame after since=.. must be the position frame
 * {"control":"position","epoch":"..","last":L,"acked":A,"recovered":..,"first":F};
 * then push frames {"topic":..,"number":N,"contents":..}. Phase 1 keeps the epoch
 * and the last number. Phase 2 checks the resume: recovered:true, the same epoch,
 * first = since + 1, last = since + K, then every number from first to last once,
 * in order (a number not above the previous one counts as dup, a jump as gaps).
 */
static void storm_frame(struct sess *ss, const char *m, size_t len)
{
	uint64_t num, ep, last, first;

	if (memmem(m, len, "\"control\":\"position\"", 20)) {
		if (ss->positioned || json_hex64(m, len, "\"epoch\"", &ep) != 0 ||
		    json_u64(m, len, "\"last\"", &last) != 0 ||
		    json_u64(m, len, "\"first\"", &first) != 0) {
			atomic_fetch_add_explicit(&me->bad, 1, memory_order_relaxed);
			return;
		}
		ss->positioned = 1;
		atomic_fetch_add_explicit(&me->positioned, 1, memory_order_relaxed);
		if (storm_phase == 1) {
			st_epoch[ss->idx] = ep;
			st_last[ss->idx] = last;
			return;
		}
		int rec = memmem(m, len, "\"recovered\":true", 16) != NULL;

		if (rec)
			atomic_fetch_add_explicit(&me->recovered, 1, memory_order_relaxed);
		if (ep != st_epoch[ss->idx])
			atomic_fetch_add_explicit(&me->epoch_changed, 1, memory_order_relaxed);
		if (first != ss->since + 1)
			atomic_fetch_add_explicit(&me->first_bad, 1, memory_order_relaxed);
		if (last != ss->since + (uint64_t)o.storm)
			atomic_fetch_add_explicit(&me->last_bad, 1, memory_order_relaxed);
		ss->target = last;
		/* not recovered: the replay is whatever the stream still has, from first */
		ss->prev = rec ? ss->since : first - 1;
		if (ss->prev >= ss->target)
			storm_done(ss);
		return;
	}
	if (json_u64(m, len, "\"number\"", &num) != 0 || !ss->positioned) {
		atomic_fetch_add_explicit(&me->bad, 1, memory_order_relaxed);
		return;
	}
	atomic_fetch_add_explicit(&me->received, 1, memory_order_relaxed);
	if (storm_phase == 1) {
		if (num > st_last[ss->idx])
			st_last[ss->idx] = num;
		atomic_fetch_add_explicit(&me->unique, 1, memory_order_relaxed);
		return;
	}
	if (num <= ss->prev) {
		atomic_fetch_add_explicit(&me->dup, 1, memory_order_relaxed);
		return;
	}
	if (num > ss->prev + 1)
		atomic_fetch_add_explicit(&me->gaps, num - ss->prev - 1, memory_order_relaxed);
	ss->prev = num;
	atomic_fetch_add_explicit(&me->unique, 1, memory_order_relaxed);
	if (!ss->done && num >= ss->target)
		storm_done(ss);
}

static void on_message(struct sess *ss, const char *m, size_t len)
{
	uint64_t ts, seq, num, now = now_ns();

	if (o.ack_conns > 0 && ss->idx % o.uids >= plain_uids) {
		/* an ack push's frame (never acknowledged): counted apart */
		atomic_fetch_add_explicit(&me->ack_frames, 1, memory_order_relaxed);
		return;
	}

	/* The service's own frames are {"topic":..,"contents":{"ts":..}}; nchan passes the
	 * POST body through. Anything without our marker (errors) counts as bad. */
	if (json_u64(m, len, "\"ts\"", &ts) != 0 || json_u64(m, len, "\"seq\"", &seq) != 0) {
		atomic_fetch_add_explicit(&me->bad, 1, memory_order_relaxed);
		return;
	}
	atomic_fetch_add_explicit(&me->received, 1, memory_order_relaxed);
	if (seq >= ss->cap_bits) {
		size_t nc = ss->cap_bits ? ss->cap_bits : 1024;
		while (nc <= seq)
			nc *= 2;
		uint8_t *nb = realloc(ss->bits, nc / 8);
		if (!nb)
			die("out of memory");
		memset(nb + ss->cap_bits / 8, 0, (nc - ss->cap_bits) / 8);
		ss->bits = nb;
		ss->cap_bits = nc;
	}
	if (ss->bits[seq / 8] & (1u << (seq % 8))) {
		atomic_fetch_add_explicit(&me->dup, 1, memory_order_relaxed);
		return;
	}
	ss->bits[seq / 8] |= (uint8_t)(1u << (seq % 8));
	if (seq < ss->last)
		atomic_fetch_add_explicit(&me->ooo, 1, memory_order_relaxed);
	else
		ss->last = seq;
	atomic_fetch_add_explicit(&me->unique, 1, memory_order_relaxed);
	if (o.broadcast && (json_u64(m, len, "\"number\"", &num) != 0 || num != seq))
		atomic_fetch_add_explicit(&me->number_bad, 1, memory_order_relaxed);
	uint64_t us = now > ts ? (now - ts) / 1000 : 0;
	atomic_fetch_add_explicit(&me->hist[h_index(us)], 1, memory_order_relaxed);
	if (us > atomic_load_explicit(&me->max_us, memory_order_relaxed))
		atomic_store_explicit(&me->max_us, us, memory_order_relaxed);
	if (o.ack_conns > 0) {
		for (int p = 0; p < 2; p++)
			if (ts >= atomic_load(&shm->ph[2 * p]) && ts < atomic_load(&shm->ph[2 * p + 1]))
				atomic_fetch_add_explicit(&me->phist[p][h_index(us)], 1,
							  memory_order_relaxed);
	}
}

/* --slow-pct: one subscriber in every slow_every (by index) stops reading; the
 * one picked moves along each block, so they spread over the uids. */
static int is_slow(long idx)
{
	return o.slow_every > 0 && idx % o.slow_every == (idx / o.slow_every) % o.slow_every;
}

static int sub_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		  size_t len)
{
	struct sess *ss = user;

	switch (reason) {
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		my_pending--;
		atomic_store(&shm->up[ss->idx], 1);
		atomic_fetch_add_explicit(&me->connected, 1, memory_order_relaxed);
		if (is_slow(ss->idx)) {
			/* Never reads again, with a small window, as a stalled browser tab. */
			int rcv = 4096;

			(void)setsockopt(lws_get_socket_fd(wsi), SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
			(void)lws_rx_flow_control(wsi, 0);
		}
		break;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		my_pending--;
		atomic_fetch_add_explicit(&me->failed, 1, memory_order_relaxed);
		if (me->failed < 5)
			fprintf(stderr, "loadgen: connect failed: %s\n",
				in ? (const char *)in : "?");
		break;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		if (ss->flen + len <= sizeof ss->frag) {
			memcpy(ss->frag + ss->flen, in, len);
			ss->flen += len;
		} else {
			ss->flen = sizeof ss->frag + 1;  /* too large: not ours */
		}
		if (lws_is_final_fragment(wsi)) {
			if (ss->flen <= sizeof ss->frag && o.storm > 0)
				storm_frame(ss, ss->frag, ss->flen);
			else if (ss->flen <= sizeof ss->frag)
				on_message(ss, ss->frag, ss->flen);
			else
				atomic_fetch_add_explicit(&me->bad, 1, memory_order_relaxed);
			ss->flen = 0;
		}
		break;
	case LWS_CALLBACK_CLIENT_CLOSED:
		if (ss && ss->idx >= 0 && atomic_load(&shm->up[ss->idx]))
			atomic_fetch_add_explicit(is_slow(ss->idx) ? &me->slow_closed : &me->closed, 1,
						  memory_order_relaxed);
		break;
	case LWS_CALLBACK_WSI_DESTROY:
		if (ss) {
			free(ss->bits);
			ss->bits = NULL;
		}
		break;
	default:
		break;
	}
	return 0;
}

static const struct lws_protocols sub_protocols[] = {
	{ "bench", sub_cb, 0, 1024, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 },
};

static const lws_retry_bo_t no_validity;

/* --ws2: subscriber i's host. The first tab of uid u (i < uids) is on host u % 2,
 * its second tab (i = u + uids) on the other one, and so on: the uids with two
 * tabs have one on each host. */
static int sub_on_host2(long i)
{
	return o.ws2_port > 0 && (i % o.uids + i / o.uids) % 2 == 1;
}

static void sub_connect_one(long i)
{
	struct lws_client_connect_info ci;
	char path[256], host[64];
	long u = i % o.uids;
	struct sess *ss;
	const char *wh = sub_on_host2(i) ? o.ws2_host : o.ws_host;
	int wp = sub_on_host2(i) ? o.ws2_port : o.ws_port;

	ss = calloc(1, sizeof *ss);  /* lws copies userdata it allocates; we pass ours */
	if (!ss)
		die("out of memory");
	ss->idx = i;
	if (o.target == T_NCHAN)
		snprintf(path, sizeof path, "/ws?uid=b%ld", u);
	else if (storm_phase == 1)
		snprintf(path, sizeof path, "/ws?uid=b%ld&access_key=%s&since=now", u, keys[u]);
	else if (storm_phase == 2) {
		ss->since = st_last[i];
		snprintf(path, sizeof path, "/ws?uid=b%ld&access_key=%s&since=%" PRIu64 "&epoch=%016" PRIx64,
			 u, keys[u], ss->since, st_epoch[i]);
	} else
		snprintf(path, sizeof path, "/ws?uid=b%ld&access_key=%s", u, keys[u]);
	snprintf(host, sizeof host, "%s:%d", wh, wp);
	memset(&ci, 0, sizeof ci);
	ci.context = sub_ctx;
	ci.address = wh;
	ci.port = wp;
	ci.path = path;
	ci.host = host;
	ci.origin = host;
	ci.local_protocol_name = "bench";
	/* All zero: no lws validity timers, whose sorted list costs every new
	 * connection a walk over all the others' (the daemon does the same). */
	ci.retry_and_idle_policy = &no_validity;
	ci.userdata = ss;
	if (o.src_ips > 0) {
		snprintf(src_addr, sizeof src_addr, "127.0.0.%ld", o.src_base + i % o.src_ips);
		ci.iface = src_addr;
	}
	my_pending++;
	if (!lws_client_connect_via_info(&ci)) {
		my_pending--;
		atomic_fetch_add_explicit(&me->failed, 1, memory_order_relaxed);
		free(ss);
	}
}

static void sub_tick(uv_timer_t *t)
{
	(void)t;
	if (atomic_load(&shm->stop)) {
		uv_stop(&sub_loop);
		return;
	}
	while (my_next < o.subs && my_pending < o.conn_par) {
		sub_connect_one(my_next);
		my_next += my_step;
	}
}

static void run_subscriber(int child)
{
	struct lws_context_creation_info info;
	void *loops[1] = { &sub_loop };

	me = &shm->ch[child];
	my_first = child;
	my_step = o.procs;
	my_next = my_first;
	lws_set_log_level(LLL_ERR, NULL);
	if (uv_loop_init(&sub_loop) != 0)
		die("uv_loop_init");
	memset(&info, 0, sizeof info);
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = sub_protocols;
	info.options = LWS_SERVER_OPTION_LIBUV;
	info.foreign_loops = loops;
	info.timeout_secs = 30;
	info.ka_time = 0;
	sub_ctx = lws_create_context(&info);
	if (!sub_ctx)
		die("lws_create_context failed");
	if (uv_timer_init(&sub_loop, &sub_timer) != 0 ||
	    uv_timer_start(&sub_timer, sub_tick, 1, 1) != 0)
		die("uv timer");
	(void)uv_run(&sub_loop, UV_RUN_DEFAULT);
	/* The kernel closes every socket at exit; no orderly teardown needed. */
	_exit(0);
}

/* ---- publisher ---- */
struct pubconn {
	int fd;
	int busy;
	int host2;          /* --http2: this connection publishes to the second host */
	uint64_t sent_at;
	long uid;
	long *uids;         /* --batch: uid of each message of the request in flight */
	long nuids;
	size_t have, cap;
	char *buf;
};

static uint64_t *seq_of;     /* per uid: last sequence number given */
static uint8_t *uid_busy;    /* per uid: in a request still in flight */
static uint64_t *ok_of;      /* per uid: pushes acknowledged as accepted */
static long *conns_of;       /* per uid: open subscriber connections */
static uint64_t pub_sent, pub_ok, pub_err, pub_reached, pub_reqs;
static uint64_t pub_sent2;   /* --http2: pushes sent to the second host */
static uint64_t req_slow;    /* requests answered after STALL_US or more */
/* answered "stored" (offline_messages), and the frame bytes those messages are kept
 * as (--contents-bytes: {"topic":"bench","number":<seq>,"contents":"x..x"}) */
static uint64_t pub_stored, frame_bytes_sum;
static long next_uid;

/* A latency histogram of the publisher's own (one process, no atomics), µs. */
struct hist {
	uint64_t b[H_N], n, max;
};

static void hist_add(struct hist *h, uint64_t us)
{
	h->b[h_index(us)]++;
	h->n++;
	if (us > h->max)
		h->max = us;
}

/* Quantile q of n samples in buckets b: the bucket's upper edge. */
static double hist_q(const uint64_t *b, uint64_t n, double q)
{
	uint64_t want = (uint64_t)ceil(q * (double)n), acc = 0;

	for (unsigned i = 0; i < H_N && n; i++) {
		acc += b[i];
		if (acc >= want)
			return (double)h_value(i);
	}
	return 0;
}

/* HTTP request latency: the request written to its answer complete (plain,
 * batch and broadcast requests; not --ack-conns' pushes). */
static struct hist req_hist;

/* --ack-conns: the plain pushes sent in phase 0 (no ack waiters) and phase 1
 * (ack waiters held), by send time; server CPU over each phase. */
static struct phase {
	uint64_t t0, t1, ok, reqs, err;
	uint64_t stalled;   /* answered after >= STALL_US: held up behind a waiting push */
	struct hist req;
	double cpu0, cpu1;
	int cpu_state;   /* 0: not begun, 1: cpu0 taken, 2: cpu1 taken */
} ph[2];

#define STALL_US 500000u

/* --ack-conns: pushes with ?ack=1 to uids whose subscribers never acknowledge:
 * answered 200 with "acked":false after push_timeout_ms (unacked), "acked":true
 * (acked: never expected), 429 (busy: ack_waiters_max already waiting), other. */
static struct {
	uint64_t sent, unacked, acked, busy, other;
	/* unacked ones answered more than 100 ms after push_timeout_ms: they queued
	 * in the web server behind a process that was waiting, before waiting */
	uint64_t queued;
	/* summed time the unacked ones waited in the daemon (the last push_timeout_ms
	 * before their answer) inside phase 1 */
	uint64_t wait_in_p1_ns;
	struct hist wait, busy_t;
} ack;
static struct pubconn *ackc;
static uint64_t *ack_next;        /* per ack connection: not before (after a 429) */
static long cfg_fcgi = -1, cfg_ack_max = -1, cfg_push_timeout = -1;   /* from --conf */

static struct phase *phase_of(uint64_t t)
{
	for (int p = 0; o.ack_conns > 0 && p < 2; p++)
		if (t >= ph[p].t0 && t < ph[p].t1)
			return &ph[p];
	return NULL;
}

/* The daemon's frame of a message with topic "bench" and the --contents-bytes
 * string: {"topic":"bench","number":N,"contents":"x..x"} (shared/wmsg.c). */
static uint64_t frame_len(uint64_t number)
{
	uint64_t digits = 1;

	while (number >= 10) {
		number /= 10;
		digits++;
	}
	return sizeof "{\"topic\":\"bench\",\"number\":,\"contents\":}" - 1 + digits +
	       (uint64_t)o.contents_bytes + 2;
}

static int build_body(char *b, size_t cap, uint64_t ts, long u)
{
	uint64_t seq = ++seq_of[u];

	if (o.contents_bytes > 0) {   /* a plain string: nobody times these */
		int n = snprintf(b, cap, "{\"topic\":\"bench\",\"contents\":\"");
		for (long i = 0; i < o.contents_bytes && (size_t)n < cap - 8; i++)
			b[n++] = 'x';
		n += snprintf(b + n, cap - (size_t)n, "\"}");
		return n;
	}
	int n = snprintf(b, cap, "{\"topic\":\"bench\",\"contents\":{\"ts\":%" PRIu64
			 ",\"seq\":%" PRIu64 ",\"u\":%ld,\"pad\":\"", ts, seq, u);
	for (long i = 0; i < o.body_pad && (size_t)n < cap - 8; i++)
		b[n++] = 'x';
	n += snprintf(b + n, cap - (size_t)n, "\"}}");
	return n;
}

static int http_send(struct pubconn *c, uint64_t ts)
{
	char body[2048], req[3072];
	long u = next_uid;
	int bl, rl;

	/* --broadcast: one request at a time (as one uid), numbered in seq_of[0] */
	if (!o.broadcast)
		next_uid = (next_uid + 1) % plain_uids;
	bl = build_body(body, sizeof body, ts, u);
	if (o.broadcast)
		rl = snprintf(req, sizeof req,
			      "POST /broadcast?password=%s HTTP/1.1\r\nHost: %s\r\n"
			      "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
			      o.password, o.http_host, bl, body);
	else
		rl = snprintf(req, sizeof req,
			      "POST /push?uid=b%ld&password=%s HTTP/1.1\r\nHost: %s\r\n"
			      "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
			      u, o.password, o.http_host, bl, body);
	c->sent_at = now_ns();
	c->uid = u;
	c->nuids = 1;
	c->busy = 1;
	c->have = 0;
	pub_sent++;
	pub_sent2 += c->host2 ? 1 : 0;
	pub_reqs++;
	/* A keep-alive request this small fits the socket buffer at once. */
	if (write(c->fd, req, (size_t)rl) != rl)
		return -1;
	return 0;
}

/* Sizes of one batch message (pushes with the same marker as build_body) and of
 * the request/answer buffers. */
#define BATCH_ITEM_MAX (192 + 1500)
#define BATCH_ANSWER_ITEM 256

/* --batch K: one POST /push (no uid) with a JSON array of K messages, each to the
 * next uid round-robin and each with its own ts/seq marker. */
static int http_send_batch(struct pubconn *c, uint64_t ts)
{
	static char *req;
	static size_t req_cap;
	size_t hdr_room = 512, bl = 0;

	if (!req) {
		req_cap = hdr_room + (size_t)o.batch * BATCH_ITEM_MAX + 16;
		req = malloc(req_cap);
		if (!req)
			die("out of memory");
	}
	char *body = req + hdr_room;   /* body first, header written in front of it */
	body[bl++] = '[';
	for (long i = 0; i < o.batch; i++) {
		char item[BATCH_ITEM_MAX];
		long u = next_uid;

		next_uid = (next_uid + 1) % o.uids;
		(void)build_body(item, sizeof item, ts, u);
		/* build_body gives {"topic":"bench","contents":{..}}: add the uid in front
		 * (at most 1,500 pad bytes: an item stays well under BATCH_ITEM_MAX) */
		bl += (size_t)snprintf(body + bl, req_cap - hdr_room - bl, "%s{\"uid\":\"b%ld\",%s",
				       i ? "," : "", u, item + 1);
		c->uids[i] = u;
	}
	body[bl++] = ']';
	char hdr[512];
	int hl = snprintf(hdr, sizeof hdr,
			  "POST /push?password=%s HTTP/1.1\r\nHost: %s\r\n"
			  "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
			  o.password, o.http_host, bl);
	if (hl <= 0 || (size_t)hl >= hdr_room)
		die("request header too long");
	char *start = body - hl;
	memcpy(start, hdr, (size_t)hl);
	c->nuids = o.batch;
	c->busy = 1;
	c->have = 0;
	c->sent_at = now_ns();
	pub_sent += (uint64_t)o.batch;
	pub_reqs++;
	size_t len = (size_t)hl + bl, off = 0;
	while (off < len) {   /* blocking socket: loops only on a short write */
		ssize_t w = write(c->fd, start + off, len - off);

		if (w <= 0) {
			if (w < 0 && errno == EINTR)
				continue;
			return -1;
		}
		off += (size_t)w;
	}
	return 0;
}

/* A batch answer: {"topic":"success","number":..,"contents":[{"uid":..,"topic":
 * "success"|"error","number":<connections>,..},...]} in request order. Each message
 * counts as acknowledged or as an error on its own. */
static void http_batch_result(struct pubconn *c, const char *body, size_t blen)
{
	const char *p = memmem(body, blen, "\"contents\":[", 12), *end = body + blen;
	long i = 0;

	while (p && i < c->nuids) {
		const char *it = memmem(p, (size_t)(end - p), "{\"uid\":\"", 8);
		const char *t, *nx;
		uint64_t num = 0;

		if (!it)
			break;
		t = memmem(it, (size_t)(end - it), "\"topic\":\"", 9);
		if (!t)
			break;
		nx = memmem(it + 1, (size_t)(end - it - 1), "{\"uid\":\"", 8);
		if (!nx)
			nx = end;
		if ((size_t)(end - t) >= 16 && memcmp(t + 9, "success\"", 8) == 0) {
			pub_ok++;
			ok_of[c->uids[i]]++;
			if (json_u64(it, (size_t)(nx - it), "\"number\"", &num) == 0)
				pub_reached += num;
		} else if ((size_t)(end - t) >= 16 && memcmp(t + 9, "stored\"", 7) == 0) {
			/* offline_messages: kept for the uid's next connection; "seq" is
			 * its number in the uid's stream */
			pub_ok++;
			pub_stored++;
			ok_of[c->uids[i]]++;
			if (o.contents_bytes > 0 &&
			    json_u64(it, (size_t)(nx - it), "\"seq\"", &num) == 0)
				frame_bytes_sum += frame_len(num);
		} else {
			if (++pub_err <= 3)
				fprintf(stderr, "loadgen: batch item %ld: %.*s\n", i,
					(int)(nx - it > 200 ? 200 : nx - it), it);
		}
		i++;
		p = nx;
	}
	if (i < c->nuids) {   /* answer shorter than the request: the rest are errors */
		pub_err += (uint64_t)(c->nuids - i);
		fprintf(stderr, "loadgen: batch answer has %ld of %ld items\n", i, c->nuids);
	}
}

/* A uid is never in two requests at once, as a client that keeps each user's
 * pushes in order does: two requests in flight have no order between them (two
 * push-api processes may answer them in either order). */
static void pub_mark(const struct pubconn *c, uint8_t on)
{
	if (!c->busy)
		return;
	if (o.batch > 0)
		for (long i = 0; i < c->nuids; i++)
			uid_busy[c->uids[i]] = on;
	else
		uid_busy[c->uid] = on;
}

static int pub_uids_free(long first, long k)
{
	for (long i = 0; i < k; i++)
		if (uid_busy[(first + i) % o.uids])
			return 0;
	return 1;
}

static void http_reconnect(struct pubconn *c)
{
	pub_mark(c, 0);
	if (c->fd >= 0)
		(void)close(c->fd);
	const char *hh = c->host2 ? o.http2_host : o.http_host;
	int hp = c->host2 ? o.http2_port : o.http_port;

	c->fd = tcp_connect(hh, hp, 0);
	if (c->fd < 0)
		die("publisher: cannot connect to %s:%d", hh, hp);
	c->busy = 0;
	c->have = 0;
}

static void http_read(struct pubconn *c)
{
	ssize_t r = read(c->fd, c->buf + c->have, c->cap - 1 - c->have);
	int status;
	const char *body;
	size_t blen;
	long n;

	if (r <= 0) {
		if (c->busy)
			pub_err += (uint64_t)c->nuids;
		http_reconnect(c);
		return;
	}
	c->have += (size_t)r;
	n = http_complete(c->buf, c->have, &status, &body, &blen);
	if (n == 0 && c->have < c->cap - 1)
		return;
	if (n <= 0) {
		pub_err += (uint64_t)c->nuids;
		http_reconnect(c);
		return;
	}
	uint64_t req_us = (now_ns() - c->sent_at) / 1000;
	struct phase *pp = phase_of(c->sent_at);

	hist_add(&req_hist, req_us);
	req_slow += req_us >= STALL_US;
	if (pp) {
		pp->reqs++;
		hist_add(&pp->req, req_us);
		pp->stalled += req_us >= STALL_US;
		if (status >= 200 && status < 300)
			pp->ok++;
		else
			pp->err++;
	}
	if (o.batch > 0 && status == 200) {
		http_batch_result(c, body, blen);
	} else if (o.batch > 0) {
		pub_err += (uint64_t)c->nuids;
		if (pub_err <= 3 * (uint64_t)c->nuids)
			fprintf(stderr, "loadgen: batch push status %d: %.*s\n", status,
				(int)(blen > 300 ? 300 : blen), body);
	} else if (status >= 200 && status < 300) {
		uint64_t num = 0;

		pub_ok++;
		if (o.broadcast)   /* expected at every uid's connections */
			for (long u = 0; u < o.uids; u++)
				ok_of[u]++;
		else
			ok_of[c->uid]++;
		if (status == 202)   /* offline_messages: stored for the next connection */
			pub_stored++;
		if (o.target == T_SERVICE && json_u64(body, blen, "\"number\"", &num) == 0)
			pub_reached += num;
	} else {
		pub_err++;
		if (pub_err <= 3)
			fprintf(stderr, "loadgen: push status %d: %.*s\n", status, (int)blen, body);
	}
	pub_mark(c, 0);
	c->busy = 0;
	if (http_close) {   /* server's keep-alive request limit: reconnect before reuse */
		http_reconnect(c);
		return;
	}
	memmove(c->buf, c->buf + n, c->have - (size_t)n);
	c->have -= (size_t)n;
}

/* --ack-conns: one push with ?ack=1 to ack uid j (its subscriber never sends
 * {"ack":N}); contents without the ts/seq marker (its frames are counted apart). */
static void ack_send(struct pubconn *c, long j)
{
	char body[256], req[1024];
	long u = plain_uids + j;
	int bl = snprintf(body, sizeof body, "{\"topic\":\"ackwait\",\"contents\":{\"n\":%" PRIu64 "}}",
			  ack.sent + 1);
	int rl = snprintf(req, sizeof req,
			  "POST /push?uid=b%ld&password=%s&ack=1 HTTP/1.1\r\nHost: %s\r\n"
			  "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
			  u, o.password, o.http_host, bl, body);

	c->uid = u;
	c->nuids = 1;
	c->busy = 1;
	c->have = 0;
	c->sent_at = now_ns();
	ack.sent++;
	if (write(c->fd, req, (size_t)rl) != rl) {
		ack.other++;
		http_reconnect(c);
	}
}

static void ack_read(struct pubconn *c, long j)
{
	ssize_t r = read(c->fd, c->buf + c->have, c->cap - 1 - c->have);
	int status;
	const char *body;
	size_t blen;
	long n;

	if (r <= 0) {
		if (c->busy)
			ack.other++;
		http_reconnect(c);
		return;
	}
	c->have += (size_t)r;
	n = http_complete(c->buf, c->have, &status, &body, &blen);
	if (n == 0 && c->have < c->cap - 1)
		return;
	if (n <= 0) {
		ack.other++;
		http_reconnect(c);
		return;
	}
	uint64_t now = now_ns(), us = (now - c->sent_at) / 1000;

	if (status == 200) {
		/* in the daemon: the last push_timeout_ms (unknown without --conf: all) */
		uint64_t in = cfg_push_timeout > 0 ? (uint64_t)cfg_push_timeout * 1000000u : now - c->sent_at;
		uint64_t from = now - c->sent_at > in ? now - in : c->sent_at;
		uint64_t a = from > ph[1].t0 ? from : ph[1].t0;
		uint64_t b = now < ph[1].t1 ? now : ph[1].t1;

		if (cfg_push_timeout > 0 && us > (uint64_t)cfg_push_timeout * 1000u + 100000u)
			ack.queued++;

		if (memmem(body, blen, "\"acked\":true", 12))
			ack.acked++;
		else
			ack.unacked++;
		hist_add(&ack.wait, us);
		if (b > a)
			ack.wait_in_p1_ns += b - a;
	} else if (status == 429) {
		ack.busy++;
		hist_add(&ack.busy_t, us);
		ack_next[j] = now + (uint64_t)o.ack_retry_ms * 1000000u;
	} else {
		if (++ack.other <= 3)
			fprintf(stderr, "loadgen: ack push status %d: %.*s\n", status,
				(int)(blen > 200 ? 200 : blen), body);
		ack_next[j] = now + (uint64_t)o.ack_retry_ms * 1000000u;
	}
	c->busy = 0;
	if (http_close) {
		http_reconnect(c);
		return;
	}
	memmove(c->buf, c->buf + n, c->have - (size_t)n);
	c->have -= (size_t)n;
}

/* Datagram publisher state */
static int ipc_fd = -1;
static struct sockaddr_un ipc_sa;
static long ipc_inflight;
static uint32_t ipc_req;
#define IPC_MAP 65536
static long ipc_uid_of[IPC_MAP];   /* req id % IPC_MAP -> uid */
static uint64_t ipc_last_reply, ipc_replies_lost;
static int ipc_blocked;

/* One datagram of K = max(--batch, 1) items, uids round-robin from next_uid; the
 * request id maps to the first uid, item i went to (first + i) % uids. */
static int ipc_send(uint64_t ts)
{
	static struct ipc_push_item items[IPC_MAX_ITEMS];
	static char bodies[IPC_MAX_ITEMS][2048];
	static char uids[IPC_MAX_ITEMS][24];
	static uint8_t dg[IPC_MAX_DATAGRAM];
	/* Generation 0: the injector checks no password, so the daemon checks none. */
	struct ipc_hdr hdr = { 0 };
	long k = o.batch > 0 ? o.batch : 1, first = next_uid;
	size_t n;

	for (long i = 0; i < k; i++) {
		long u = (first + i) % o.uids;
		int bl = build_body(bodies[i], sizeof bodies[i], ts, u);
		/* contents is the object inside {"topic":..,"contents":<here>} */
		const char *cs = strstr(bodies[i], "\"contents\":") + 11;
		int ul = snprintf(uids[i], sizeof uids[i], "b%ld", u);

		items[i] = (struct ipc_push_item){ .uid = uids[i], .uid_len = (size_t)ul,
			.topic = "\"bench\"", .topic_len = 7, .contents = cs,
			.contents_len = (size_t)(bodies[i] + bl - 1 - cs) };
	}
	hdr.req_id = ++ipc_req;
	n = ipc_encode_push(dg, sizeof dg, &hdr, items, (size_t)k);
	if (n == 0)
		die("ipc_encode_push failed");
	if (sendto(ipc_fd, dg, n, 0, (struct sockaddr *)&ipc_sa, sizeof ipc_sa) != (ssize_t)n) {
		for (long i = 0; i < k; i++)
			seq_of[(first + i) % o.uids]--;   /* not sent: the numbers are reused */
		ipc_req--;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			die("sendto %s: %s", o.ipc_path, strerror(errno));
		ipc_blocked = 1;
		return -1;
	}
	next_uid = (first + k) % o.uids;
	ipc_uid_of[ipc_req % IPC_MAP] = first;
	if (ipc_inflight++ == 0)
		ipc_last_reply = now_ns();
	pub_sent += (uint64_t)k;
	pub_reqs++;
	/* Presumed delivered until a reply says otherwise: replies can be dropped by the
	 * kernel (net.unix.max_dgram_qlen) while the push itself went through. */
	pub_ok += (uint64_t)k;
	for (long i = 0; i < k; i++)
		ok_of[(first + i) % o.uids]++;
	return 0;
}

static void ipc_read(void)
{
	static uint8_t dg[IPC_MAX_DATAGRAM];
	static struct ipc_result res[IPC_MAX_ITEMS];

	for (;;) {
		ssize_t r = recv(ipc_fd, dg, sizeof dg, MSG_DONTWAIT);
		struct ipc_hdr h;

		if (r < 0)
			return;
		enum ipc_rc rc = ipc_decode_push_reply(dg, (size_t)r, &h, res, IPC_MAX_ITEMS);

		if (ipc_inflight > 0)
			ipc_inflight--;
		if (rc != IPC_OK) {
			if (++pub_err <= 3)
				fprintf(stderr, "loadgen: bad ipc reply: %s\n", ipc_rc_str(rc));
			continue;
		}
		ipc_last_reply = now_ns();
		for (size_t i = 0; i < h.count; i++) {
			if (res[i].status == IPC_S_DELIVERED) {
				pub_reached += res[i].delivered;
				continue;
			}
			pub_ok--;
			ok_of[(ipc_uid_of[h.req_id % IPC_MAP] + (long)i) % o.uids]--;
			if (++pub_err <= 3)
				fprintf(stderr, "loadgen: ipc push status %u\n", (unsigned)res[i].status);
		}
	}
}

static void ipc_open(void)
{
	sa_family_t fam = AF_UNIX;
	int sz = 4 << 20;

	ipc_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (ipc_fd < 0)
		die("socket: %s", strerror(errno));
	/* autobind to an abstract address so the daemon can reply */
	if (bind(ipc_fd, (struct sockaddr *)&fam, sizeof fam) != 0)
		die("bind: %s", strerror(errno));
	(void)setsockopt(ipc_fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
	memset(&ipc_sa, 0, sizeof ipc_sa);
	ipc_sa.sun_family = AF_UNIX;
	if (strlen(o.ipc_path) >= sizeof ipc_sa.sun_path)
		die("ipc path too long");
	strcpy(ipc_sa.sun_path, o.ipc_path);
}

/* Open loop (rate > 0, latency from the scheduled time) or flat out (rate 0,
 * inflight requests outstanding). Returns the publishing time in seconds. */
static double run_publisher(void)
{
	long nc = o.pub == P_HTTP ? o.inflight : 1, na = o.ack_conns;
	struct pubconn *pc = calloc((size_t)nc, sizeof *pc);
	struct pollfd *pfd = calloc((size_t)(nc + na), sizeof *pfd);
	uint64_t t0, end, k = 0, last_send = 0, ack_on = 0;

	if (!pc || !pfd)
		die("out of memory");
	if (na > 0) {
		ackc = calloc((size_t)na, sizeof *ackc);
		ack_next = calloc((size_t)na, sizeof *ack_next);
		if (!ackc || !ack_next)
			die("out of memory");
		for (long j = 0; j < na; j++) {
			ackc[j].fd = -1;
			ackc[j].cap = 4096;
			ackc[j].buf = malloc(ackc[j].cap);
			if (!ackc[j].buf)
				die("out of memory");
			http_reconnect(&ackc[j]);
		}
	}
	if (o.pub == P_HTTP)
		for (long i = 0; i < nc; i++) {
			pc[i].fd = -1;
			pc[i].cap = 4096 + (size_t)o.batch * BATCH_ANSWER_ITEM;
			pc[i].buf = malloc(pc[i].cap);
			pc[i].uids = calloc(o.batch > 0 ? (size_t)o.batch : 1, sizeof *pc[i].uids);
			if (!pc[i].buf || !pc[i].uids)
				die("out of memory");
			/* --http2: every other connection goes to the second host */
			pc[i].host2 = o.http2_port > 0 && i % 2 == 1;
			http_reconnect(&pc[i]);
		}
	else
		ipc_open();
	t0 = now_ns();
	end = t0 + (uint64_t)(o.duration * 1e9);
	if (na > 0) {
		/* phase 0: --duration without ack pushes; then the ack connections start,
		 * --ack-settle s later phase 1: --duration with them */
		ph[0].t0 = t0;
		ph[0].t1 = ack_on = end;
		ph[1].t0 = ack_on + (uint64_t)(o.ack_settle * 1e9);
		ph[1].t1 = end = ph[1].t0 + (uint64_t)(o.duration * 1e9);
		for (int p = 0; p < 4; p++)
			atomic_store(&shm->ph[p], p % 2 ? ph[p / 2].t1 : ph[p / 2].t0);
	}
	for (;;) {
		uint64_t now = now_ns();
		int done_sending = now >= end || (o.count > 0 && (long)pub_sent >= o.count);
		int busy = 0;

		for (int p = 0; na > 0 && p < 2; p++) {
			if (ph[p].cpu_state == 0 && now >= ph[p].t0) {
				ph[p].cpu0 = server_cpu_us();
				ph[p].cpu_state = 1;
			}
			if (ph[p].cpu_state == 1 && now >= ph[p].t1) {
				ph[p].cpu1 = server_cpu_us();
				ph[p].cpu_state = 2;
			}
		}
		if (na > 0 && !done_sending && now >= ack_on)
			for (long j = 0; j < na; j++)
				if (!ackc[j].busy && now >= ack_next[j])
					ack_send(&ackc[j], j);

		if (!done_sending) {
			last_send = now;
			if (o.pub == P_HTTP) {
				for (long i = 0; i < nc; i++) {
					if (pc[i].busy)
						continue;
					/* --ack-conns: a push held up (behind a waiting one) keeps its
					 * uid; the others go on with the next free uids, so the
					 * generator does not stall on it */
					for (long skip = 0; na > 0 && skip < plain_uids && uid_busy[next_uid]; skip++)
						next_uid = (next_uid + 1) % plain_uids;
					uint64_t due = o.rate > 0 ? t0 + (uint64_t)((double)k * 1e9 / o.rate) : now;
					if (due > now || (o.count > 0 && (long)pub_sent >= o.count) ||
					    !pub_uids_free(next_uid, o.batch > 0 ? o.batch : 1))
						break;
					if ((o.batch > 0 ? http_send_batch(&pc[i], due)
							 : http_send(&pc[i], due)) != 0) {
						pub_err += (uint64_t)pc[i].nuids;
						http_reconnect(&pc[i]);
					} else {
						pub_mark(&pc[i], 1);
					}
					k += o.batch > 0 ? (uint64_t)o.batch : 1;
				}
			} else {
				while (ipc_inflight < o.inflight && !(o.count > 0 && (long)pub_sent >= o.count)) {
					uint64_t due = o.rate > 0 ? t0 + (uint64_t)((double)k * 1e9 / o.rate) : now;
					if (due > now)
						break;
					if (ipc_send(due) != 0)
						break;   /* socket buffer full: wait for replies */
					k += o.batch > 0 ? (uint64_t)o.batch : 1;
				}
			}
		}
		if (o.pub == P_HTTP) {
			for (long i = 0; i < nc; i++) {
				pfd[i].fd = pc[i].fd;
				pfd[i].events = POLLIN;
				busy += pc[i].busy;
			}
			for (long j = 0; j < na; j++) {
				pfd[nc + j].fd = ackc[j].fd;
				pfd[nc + j].events = POLLIN;
				busy += ackc[j].busy;
			}
		} else {
			pfd[0].fd = ipc_fd;
			/* sendto hit EAGAIN (daemon queue full): also wake when it drains */
			pfd[0].events = POLLIN | (ipc_blocked ? POLLOUT : 0);
			ipc_blocked = 0;
			/* replies not seen for 200 ms are taken as dropped by the kernel */
			if (ipc_inflight > 0 && now > ipc_last_reply &&
			    now - ipc_last_reply > 200000000u) {
				ipc_replies_lost += (uint64_t)ipc_inflight;
				ipc_inflight = 0;
			}
			busy = ipc_inflight > 0;
		}
		if (done_sending && (!busy || now - last_send > 5000000000u))
			break;
		int timeout = 1;
		if (o.rate <= 0 && !done_sending)
			timeout = 10;
		int pr = poll(pfd, (nfds_t)(nc + na), timeout);
		if (pr < 0 && errno != EINTR)
			die("poll: %s", strerror(errno));
		for (long i = 0; pr > 0 && i < nc + na; i++) {
			if (!(pfd[i].revents & (POLLIN | POLLOUT | POLLERR | POLLHUP)))
				continue;
			if (i >= nc)
				ack_read(&ackc[i - nc], i - nc);
			else if (o.pub == P_HTTP)
				http_read(&pc[i]);
			else
				ipc_read();
		}
	}
	for (int p = 0; na > 0 && p < 2; p++)   /* (cut short by --count) */
		if (ph[p].cpu_state == 1) {
			ph[p].cpu1 = server_cpu_us();
			ph[p].cpu_state = 2;
		}
	for (long j = 0; j < na; j++) {
		(void)close(ackc[j].fd);
		free(ackc[j].buf);
	}
	double secs = (double)(last_send - t0) / 1e9;
	if (o.pub == P_HTTP)
		for (long i = 0; i < nc; i++) {
			(void)close(pc[i].fd);
			free(pc[i].buf);
			free(pc[i].uids);
		}
	free(pc);
	free(pfd);
	return secs;
}

/* ---- parent: orchestration and report ---- */
static uint64_t sum_field(size_t off)
{
	uint64_t s = 0;

	for (long c = 0; c < o.procs; c++)
		s += atomic_load((_Atomic uint64_t *)(void *)((char *)&shm->ch[c] + off));
	return s;
}
#define SUM(f) sum_field(offsetof(struct child_stats, f))

static void fork_subscribers(pid_t *kids)
{
	for (long c = 0; c < o.procs; c++) {
		pid_t p = fork();

		if (p < 0)
			die("fork: %s", strerror(errno));
		if (p == 0)
			run_subscriber((int)c);
		kids[c] = p;
	}
}

static void stop_subscribers(const pid_t *kids)
{
	atomic_store(&shm->stop, 1);
	for (long c = 0; c < o.procs; c++) {
		int st;

		while (waitpid(kids[c], &st, 0) < 0 && errno == EINTR)
			;
	}
}

/* --storm results (the JSON line's storm_* fields) */
static struct {
	uint64_t live_sent, live_ok, connected, failed, done, recovered, epoch_changed;
	uint64_t first_bad, last_bad, gaps, dup, bad, unique;
	double connect_s, wait_s, storm_s, offline_wait_s, cpu_s, busy_s;
	long rss_offline_kb, rss_filled_kb;
	struct metrics filled, end;
} sr;

/*
 * The resume storm, once every subscriber is connected with since=now and has
 * its position frame (phase 1). --storm-live L pushes per uid while connected
 * (the numbers each saw are kept), then every subscriber process exits (the
 * kernel closes all sockets at once); when /metrics shows no connection left,
 * K pushes per uid (--pub http, --batch: uids round-robin) are stored for the
 * offline uids; then new subscriber processes reconnect every uid at once
 * (--storm-par handshakes in flight per process, default all) with
 * since=<last seen>&epoch=<epoch>, and the histogram gets, per client, the time
 * from the start of the reconnect until it has all its messages. Returns the
 * publishing time of the offline pushes.
 */
static double storm_run(pid_t *kids)
{
	uint64_t t, last_change, last_done;
	double pub_secs;

	if (o.storm_live > 0) {
		o.count = o.uids * o.storm_live;
		(void)run_publisher();
		sr.live_sent = pub_sent;
		sr.live_ok = pub_ok;
		/* until every subscriber saw its L numbers (bounded) */
		t = now_ns();
		for (long i = 0; i < o.subs && (double)(now_ns() - t) / 1e9 < o.drain;)
			if (st_last[i] >= (uint64_t)o.storm_live)
				i++;
			else
				sleep_s(0.005);
	}
	stop_subscribers(kids);
	/* The daemon has let go of every connection before the offline pushes:
	 * a push racing a closing connection would not be "offline". */
	t = now_ns();
	for (;;) {
		struct metrics m = fetch_metrics();

		if (!m.ok) {
			sleep_s(1.0);
			break;
		}
		if (m.connections == 0 || (double)(now_ns() - t) / 1e9 > 10)
			break;
		sleep_s(0.02);
	}
	sr.offline_wait_s = (double)(now_ns() - t) / 1e9;
	sr.rss_offline_kb = daemon_rss_kb();
	pub_sent = pub_ok = pub_err = pub_reached = pub_reqs = pub_stored = 0;
	memset(ok_of, 0, sizeof *ok_of * (size_t)o.uids);
	o.count = o.uids * o.storm;
	pub_secs = run_publisher();
	sr.filled = fetch_metrics();
	sr.rss_filled_kb = daemon_rss_kb();

	/* phase 2: everybody back at once */
	memset(shm->ch, 0, sizeof shm->ch);
	memset(shm->up, 0, (size_t)o.subs);
	atomic_store(&shm->stop, 0);
	storm_phase = 2;
	o.conn_par = o.storm_par > 0 ? o.storm_par : (o.subs + o.procs - 1) / o.procs;
	/* The next --src-ips addresses: phase 1's closed sockets sit in TIME_WAIT on
	 * theirs, and bind() to a crowded address searches long for a free port. */
	o.src_base += o.src_ips;
	double cpu0 = server_cpu_us(), busy0 = cpu_busy_us(o.server_cpu);
	shm->t0 = now_ns();
	fork_subscribers(kids);
	last_change = shm->t0;
	last_done = 0;
	for (;;) {
		uint64_t now = now_ns(), done = SUM(done), fin = done + SUM(failed);

		if (sr.connect_s == 0 && SUM(connected) + SUM(failed) >= (uint64_t)o.subs)
			sr.connect_s = (double)(now - shm->t0) / 1e9;
		if (fin >= (uint64_t)o.subs)
			break;
		if (done != last_done) {
			last_done = done;
			last_change = now;
		}
		if ((double)(now - last_change) / 1e9 > o.drain ||
		    (double)(now - shm->t0) / 1e9 > o.connect_timeout)
			break;
		sleep_s(0.002);
	}
	sr.wait_s = (double)(now_ns() - shm->t0) / 1e9;
	sr.cpu_s = (server_cpu_us() - cpu0) / 1e6;
	sr.busy_s = busy0 >= 0 ? (cpu_busy_us(o.server_cpu) - busy0) / 1e6 : 0;
	sr.connected = SUM(connected);
	sr.failed = SUM(failed);
	sr.done = SUM(done);
	sr.recovered = SUM(recovered);
	sr.epoch_changed = SUM(epoch_changed);
	sr.first_bad = SUM(first_bad);
	sr.last_bad = SUM(last_bad);
	sr.gaps = SUM(gaps);
	sr.dup = SUM(dup);
	sr.bad = SUM(bad);
	sr.unique = SUM(unique);
	sr.end = fetch_metrics();
	return pub_secs;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: loadgen [options]\n"
		"  --target service|daemon|nchan   how keys are obtained (default service)\n"
		"  --ws HOST:PORT        WebSocket endpoint (GET /ws?uid=..)\n"
		"  --http HOST:PORT      /access and /push endpoint\n"
		"  --conf FILE           conf.yaml: mint access keys locally (target daemon)\n"
		"  --password P          /access and /push password\n"
		"  --subs N --uids U     subscribers, distinct uids (default U = N); --subs 0\n"
		"                        publishes to U uids with nobody listening\n"
		"  --procs P             subscriber processes (default N/5000 rounded up)\n"
		"  --src-ips K           bind sources 127.0.0.B .. 127.0.0.(B+K-1)\n"
		"  --src-base B          first source address (default 2); another base per\n"
		"                        run avoids the last run's TIME_WAIT sockets\n"
		"  --conn-par M          handshakes in flight per process (default 128)\n"
		"  --pub none|http|ipc   publisher (ipc needs --ipc PATH)\n"
		"  --rate R              open-loop pushes/s (0 = flat out)\n"
		"  --inflight C          requests in flight / HTTP connections (default 16)\n"
		"  --batch K             --pub http: K messages per POST /push (JSON array, no uid\n"
		"                        in the query); --pub ipc: K items per datagram; uids\n"
		"                        round-robin; rates count messages\n"
		"  --duration S  --count M  --pad BYTES\n"
		"  --idle S              hold connections S seconds before publishing (server\n"
		"                        CPU over that time is reported as idle CPU)\n"
		"  --slow-pct P          P %% of subscribers stop reading once connected (4 KiB\n"
		"                        receive buffer); they count neither as expected\n"
		"                        deliveries nor in latency; slow_closed counts their closes\n"
		"  --drain S             wait at most S s for late deliveries (default 5)\n"
		"  --pids P1,P2          server processes for RSS and CPU\n"
		"  --daemon-pids P1,P2   ws-daemon's processes: their RSS alone (daemon_rss_*)\n"
		"  --contents-bytes N    contents is a string of N 'x' (with --subs 0): the\n"
		"                        stored frames' size is reported (frame_bytes)\n"
		"  --metrics             GET /metrics at the end: history gauges (hist_*)\n"
		"  --mint                mint access keys from --conf for any target (no /access)\n"
		"  --storm K             resume storm: subscribers connect with since=now, take\n"
		"                        --storm-live L pushes each (default 0), disconnect; K\n"
		"                        pushes per uid while offline (--pub http, --batch);\n"
		"                        all reconnect at once with since=<last>&epoch=<epoch>;\n"
		"                        latency = per client, reconnect start to its last message\n"
		"  --storm-par M         reconnect handshakes in flight per process (default all)\n"
		"  --broadcast           --pub http: POST /broadcast (every connected uid; one\n"
		"                        request at a time) instead of /push\n"
		"  --ack-conns K         --pub http: plain /push for --duration s, then K more\n"
		"                        connections each keep one ?ack=1 push waiting on one of\n"
		"                        the last K uids (never acknowledged), and after\n"
		"                        --ack-settle S (default 0.5) --duration s more; both\n"
		"                        phases reported apart (base_*, held_*, ack_*)\n"
		"  --ack-retry-ms R      an ack connection answered 429 sends again R ms later\n"
		"                        (default 100)\n"
		"  --ws2 HOST:PORT       a second host's WebSocket endpoint (engine redis): the\n"
		"                        first tab of uid u on host u %% 2, a second tab on the\n"
		"                        other host; waits until /presence counts every tab\n"
		"  --http2 HOST:PORT     a second host's /push: every other publisher connection\n"
		"  --redis-pids P1,P2    redis-server processes: their CPU per push (redis_*)\n"
		"  --server-cpu N        CPU the server is pinned to (default 0)\n"
		"  --scenario NAME       label in the JSON line\n");
	exit(2);
}

static void split_hp(const char *s, const char **host, int *port)
{
	const char *c = strrchr(s, ':');
	char *h;

	if (!c)
		usage();
	h = strndup(s, (size_t)(c - s));
	if (!h)
		die("out of memory");
	*host = h;
	*port = atoi(c + 1);
}

static void parse(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "target", 1, 0, 't' }, { "ws", 1, 0, 'w' }, { "http", 1, 0, 'H' },
		{ "conf", 1, 0, 'c' }, { "ipc", 1, 0, 'I' }, { "password", 1, 0, 'p' },
		{ "subs", 1, 0, 'n' }, { "uids", 1, 0, 'u' }, { "procs", 1, 0, 'P' },
		{ "src-ips", 1, 0, 's' }, { "conn-par", 1, 0, 'm' }, { "pub", 1, 0, 'b' },
		{ "rate", 1, 0, 'r' }, { "inflight", 1, 0, 'C' }, { "duration", 1, 0, 'd' },
		{ "count", 1, 0, 'k' }, { "idle", 1, 0, 'i' }, { "drain", 1, 0, 'D' },
		{ "pids", 1, 0, 'x' }, { "scenario", 1, 0, 'S' }, { "pad", 1, 0, 'z' }, { "src-base", 1, 0, 'q' },
		{ "slow-pct", 1, 0, 'W' },
		{ "server-cpu", 1, 0, 'X' }, { "batch", 1, 0, 'B' }, { "help", 0, 0, 'h' },
		{ "daemon-pids", 1, 0, 'y' }, { "contents-bytes", 1, 0, 'Y' }, { "metrics", 0, 0, 'M' },
		{ "mint", 0, 0, 'K' }, { "storm", 1, 0, 'Z' }, { "storm-live", 1, 0, 'L' },
		{ "storm-par", 1, 0, 'R' }, { "broadcast", 0, 0, 'A' }, { "ack-conns", 1, 0, 'a' },
		{ "ack-retry-ms", 1, 0, 'e' }, { "ack-settle", 1, 0, 'E' },
		{ "ws2", 1, 0, 'v' }, { "http2", 1, 0, 'V' }, { "redis-pids", 1, 0, 'g' },
		{ 0, 0, 0, 0 },
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 't':
			o.target = strcmp(optarg, "service") == 0 ? T_SERVICE
				 : strcmp(optarg, "daemon") == 0  ? T_DAEMON
				 : strcmp(optarg, "nchan") == 0   ? T_NCHAN
								  : (usage(), T_SERVICE);
			break;
		case 'w': split_hp(optarg, &o.ws_host, &o.ws_port); break;
		case 'H': split_hp(optarg, &o.http_host, &o.http_port); break;
		case 'c': o.conf = optarg; break;
		case 'I': o.ipc_path = optarg; break;
		case 'p': o.password = optarg; break;
		case 'n': o.subs = atol(optarg); break;
		case 'u': o.uids = atol(optarg); break;
		case 'P': o.procs = atol(optarg); break;
		case 's': o.src_ips = atol(optarg); break;
		case 'q': o.src_base = atol(optarg); break;
		case 'm': o.conn_par = atol(optarg); break;
		case 'b':
			o.pub = strcmp(optarg, "http") == 0 ? P_HTTP
			      : strcmp(optarg, "ipc") == 0  ? P_IPC
			      : strcmp(optarg, "none") == 0 ? P_NONE
							    : (usage(), P_NONE);
			break;
		case 'r': o.rate = atof(optarg); break;
		case 'C': o.inflight = atol(optarg); break;
		case 'd': o.duration = atof(optarg); break;
		case 'k': o.count = atol(optarg); break;
		case 'i': o.idle = atof(optarg); break;
		case 'D': o.drain = atof(optarg); break;
		case 'x': o.pids = optarg; break;
		case 'S': o.scenario = optarg; break;
		case 'z': o.body_pad = atol(optarg); break;
		case 'W': {
			double pct = atof(optarg);

			if (pct < 0 || pct > 50)
				die("--slow-pct between 0 and 50");
			o.slow_every = pct > 0 ? lround(100.0 / pct) : 0;
			break;
		}
		case 'X': o.server_cpu = atoi(optarg); break;
		case 'B': o.batch = atol(optarg); break;
		case 'y': o.daemon_pids = optarg; break;
		case 'Y': o.contents_bytes = atol(optarg); break;
		case 'M': o.metrics = 1; break;
		case 'K': o.mint = 1; break;
		case 'Z': o.storm = atol(optarg); break;
		case 'L': o.storm_live = atol(optarg); break;
		case 'R': o.storm_par = atol(optarg); break;
		case 'A': o.broadcast = 1; break;
		case 'a': o.ack_conns = atol(optarg); break;
		case 'e': o.ack_retry_ms = atol(optarg); break;
		case 'E': o.ack_settle = atof(optarg); break;
		case 'v': split_hp(optarg, &o.ws2_host, &o.ws2_port); break;
		case 'V': split_hp(optarg, &o.http2_host, &o.http2_port); break;
		case 'g': o.redis_pids = optarg; break;
		default: usage();
		}
	}
	if (o.subs < 0 || o.conn_par < 1 || o.inflight < 1 || o.duration <= 0)
		usage();
	/* --subs 0: publisher only (to time an endpoint); pushes go to --uids uids. */
	if (o.subs == 0 && (o.uids < 1 || o.pub != P_HTTP))
		die("--subs 0 needs --uids U and --pub http");
	if (o.subs > 0 && (o.uids <= 0 || o.uids > o.subs))
		o.uids = o.subs;
	if (o.procs <= 0)
		o.procs = (o.subs + 4999) / 5000;
	if (o.subs == 0)
		o.procs = 0;
	else if (o.procs > 64 || o.subs / o.procs > 18000)
		die("need between 1 and 64 processes of at most 18000 sockets each");
	if (o.src_base < 2 || o.src_ips > 254 - o.src_base)
		die("--src-base 2.. and --src-ips so that 127.0.0.(B+K-1) <= 127.0.0.253");
	if (o.pub == P_IPC && !o.ipc_path)
		die("--pub ipc needs --ipc PATH");
	if (o.target == T_DAEMON && !o.conf)
		die("--target daemon needs --conf to mint access keys");
	if (o.body_pad < 0 || o.body_pad > 1500)
		die("--pad between 0 and 1500");
	if (o.batch < 0 || o.batch > 1024)
		die("--batch between 0 and 1024");
	if (o.batch > 0 && !(o.pub == P_HTTP && o.target == T_SERVICE) && o.pub != P_IPC)
		die("--batch needs --pub http with --target service, or --pub ipc");
	if (o.contents_bytes < 0 || o.contents_bytes > 1500 || (o.contents_bytes > 0 && o.subs > 0))
		die("--contents-bytes between 0 and 1500, and only with --subs 0");
	if (o.mint && !o.conf)
		die("--mint needs --conf");
	if (o.storm < 0 || o.storm_live < 0 || o.storm_par < 0)
		usage();
	if (o.storm > 0) {
		long k = o.batch > 0 ? o.batch : 1;

		if (o.pub != P_HTTP || o.target != T_SERVICE || o.subs < 1 || o.uids != o.subs)
			die("--storm needs --pub http, --target service and one subscriber per uid");
		if (o.src_ips > 0 && 2 * o.src_ips > 254 - o.src_base)
			die("--storm: the reconnect takes the next --src-ips addresses: 127.0.0.(B+2K-1) <= 127.0.0.253");
		if ((o.uids * o.storm) % k != 0 || (o.uids * o.storm_live) % k != 0)
			die("--storm: uids x K (and x L) must be a multiple of --batch");
		o.metrics = 1;
	}
	plain_uids = o.uids;
	if (o.broadcast && (o.pub != P_HTTP || o.target != T_SERVICE || o.batch > 0 || o.storm > 0))
		die("--broadcast needs --pub http and --target service, without --batch or --storm");
	if (o.ack_conns < 0 || o.ack_retry_ms < 0 || o.ack_settle < 0)
		usage();
	if (o.ack_conns > 0) {
		if (o.pub != P_HTTP || o.target != T_SERVICE || o.batch > 0 || o.storm > 0 ||
		    o.broadcast || o.rate > 0)
			die("--ack-conns needs --pub http flat out to --target service (no --batch, "
			    "--storm, --broadcast or --rate)");
		if (o.uids != o.subs || o.subs <= o.ack_conns)
			die("--ack-conns K needs one subscriber per uid and more than K of them");
		plain_uids = o.uids - o.ack_conns;
	}
	if (o.pids)
		parse_pids(o.pids, spids, &nspids);
	if (o.daemon_pids)
		parse_pids(o.daemon_pids, dpids, &ndpids);
	if (o.redis_pids)
		parse_pids(o.redis_pids, rpids, &nrpids);
	if ((o.ws2_port > 0 || o.http2_port > 0) &&
	    (o.target != T_SERVICE || o.storm > 0 || o.broadcast || o.ack_conns > 0 || o.batch > 0 ||
	     o.subs < 1))
		die("--ws2/--http2 need --target service with subscribers, without --storm, --broadcast, "
		    "--ack-conns or --batch");
}

static long slow_count(void)
{
	long n = 0;

	for (long i = 0; i < o.subs; i++)
		n += is_slow(i);
	return n;
}

int main(int argc, char **argv)
{
	pid_t kids[64];
	size_t shm_len;
	uint64_t t_conn0, t_conn1;
	long rss0, rss1, rss2, drss1, drss2;
	double cpu0, cpu1, pub_secs = 0;

	parse(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	shm_len = sizeof *shm + (size_t)o.subs;
	shm = mmap(NULL, shm_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shm == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	keys = calloc((size_t)o.uids, sizeof *keys);
	seq_of = calloc((size_t)o.uids, sizeof *seq_of);
	uid_busy = calloc((size_t)o.uids, sizeof *uid_busy);
	ok_of = calloc((size_t)o.uids, sizeof *ok_of);
	conns_of = calloc((size_t)o.uids, sizeof *conns_of);
	if (!keys || !seq_of || !ok_of || !conns_of || !uid_busy)
		die("out of memory");
	if (o.storm > 0) {
		st_epoch = mmap(NULL, 2 * sizeof *st_epoch * (size_t)o.subs, PROT_READ | PROT_WRITE,
				MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (st_epoch == MAP_FAILED)
			die("mmap: %s", strerror(errno));
		st_last = st_epoch + o.subs;
		storm_phase = 1;
	}
	if (o.conf && o.ack_conns > 0) {   /* the limits the ack rows are judged against */
		struct cfg c;
		char err[CFG_ERR_LEN];

		if (cfg_load(o.conf, &c, err, sizeof err) != 0)
			die("%s", err);
		cfg_fcgi = c.fcgi_procs;
		cfg_ack_max = cfg_ack_waiters(&c);
		cfg_push_timeout = c.push_timeout_ms;
		cfg_free(&c);
	}
	if (o.conf && (o.mint || o.target == T_DAEMON))
		mint_keys_conf();
	else if (o.target == T_SERVICE && o.subs > 0)
		fetch_keys_http();

	rss0 = server_rss_kb();
	double cpu_c0 = server_cpu_us();
	t_conn0 = now_ns();
	fork_subscribers(kids);
	/* wait for every handshake to finish (--storm: and its position frame), bounded */
	for (;;) {
		uint64_t done = SUM(connected) + SUM(failed);

		if ((long)done >= o.subs && (o.storm == 0 || SUM(positioned) >= SUM(connected)))
			break;
		if ((double)(now_ns() - t_conn0) / 1e9 > o.connect_timeout) {
			fprintf(stderr, "loadgen: connect timeout, %" PRIu64 " of %ld done\n", done,
				o.subs);
			break;
		}
		sleep_s(0.002);
	}
	t_conn1 = now_ns();
	double cpu_c1 = server_cpu_us();
	uint64_t connected = SUM(connected), failed = SUM(failed);
	double idle_cpu0 = server_cpu_us(), idle_s = o.idle > 0 ? o.idle : 0.5;
	uint64_t idle_t0 = now_ns();
	sleep_s(idle_s);  /* let the server settle before sampling */
	idle_s = (double)(now_ns() - idle_t0) / 1e9;
	double idle_cpu_s = (server_cpu_us() - idle_cpu0) / 1e6;
	rss1 = server_rss_kb();
	drss1 = daemon_rss_kb();
	for (long i = 0; i < o.subs; i++)
		if (atomic_load(&shm->up[i]) && !is_slow(i))
			conns_of[i % o.uids]++;
	/* --ws2: a tab is reachable from the other host once its daemon's Redis
	 * subscription is confirmed, with no signal to the client: wait (at most
	 * 10 s) until /presence on the first host counts every open tab. */
	long conns_total = 0, pres_seen = -2, subs2 = 0, uids_both = 0;
	double pres_wait_s = 0;
	for (long u = 0; u < o.uids; u++)
		conns_total += conns_of[u];
	for (long i = 0; o.ws2_port > 0 && i < o.subs; i++) {
		subs2 += sub_on_host2(i);
		/* uid i has a later tab on the other host (i + uids: the other parity) */
		uids_both += i < o.uids && i + o.uids < o.subs;
	}
	if (o.ws2_port > 0 && o.pub != P_NONE) {
		uint64_t tp = now_ns();

		while ((pres_seen = presence_total()) != conns_total && (double)(now_ns() - tp) / 1e9 < 10)
			sleep_s(0.05);
		pres_wait_s = (double)(now_ns() - tp) / 1e9;
		if (pres_seen != conns_total)
			fprintf(stderr, "loadgen: /presence counts %ld of %ld open tabs after %.1f s\n",
				pres_seen, conns_total, pres_wait_s);
	}

	cpu0 = server_cpu_us();
	double dcpu0 = pids_cpu_us(dpids, ndpids), rcpu0 = pids_cpu_us(rpids, nrpids);
	double busy0 = cpu_busy_us(o.server_cpu);
	if (o.storm > 0)
		pub_secs = storm_run(kids);
	else if (o.pub != P_NONE)
		pub_secs = run_publisher();
	uint64_t expected = 0;
	for (long u = 0; u < o.uids; u++)
		expected += ok_of[u] * (uint64_t)conns_of[u];
	/* drain: until everything expected arrived or no progress for 1 s (bounded);
	 * --storm waited for its own */
	uint64_t t_d0 = now_ns(), last_change = t_d0, last = SUM(unique);
	while (o.pub != P_NONE && o.storm == 0 && SUM(unique) < expected) {
		uint64_t now = now_ns(), cur = SUM(unique);

		if (cur != last) {
			last = cur;
			last_change = now;
		}
		if ((double)(now - t_d0) / 1e9 > o.drain || now - last_change > 1000000000u)
			break;
		sleep_s(0.01);
	}
	uint64_t t_pub_end = now_ns();
	cpu1 = server_cpu_us();
	double dcpu1 = pids_cpu_us(dpids, ndpids), rcpu1 = pids_cpu_us(rpids, nrpids);
	double busy1 = cpu_busy_us(o.server_cpu);
	rss2 = server_rss_kb();
	drss2 = daemon_rss_kb();
	long rss_peak = server_status_kb("VmHWM");
	long drss_peak = pids_status_kb(dpids, ndpids, "VmHWM");
	struct metrics mx = { 0 };
	if (o.metrics)
		mx = o.storm > 0 ? sr.filled : fetch_metrics();
	stop_subscribers(kids);

	/* aggregate */
	uint64_t hist[H_N] = { 0 }, total = 0, maxus = 0;
	for (long c = 0; c < o.procs; c++) {
		for (unsigned b = 0; b < H_N; b++)
			hist[b] += atomic_load(&shm->ch[c].hist[b]);
		if (shm->ch[c].max_us > maxus)
			maxus = shm->ch[c].max_us;
	}
	for (unsigned b = 0; b < H_N; b++)
		total += hist[b];
	double qs[5] = { 0.5, 0.9, 0.99, 0.999, 1.0 };
	double qv[5] = { 0, 0, 0, 0, 0 };
	for (int q = 0; q < 4; q++) {
		uint64_t want = (uint64_t)ceil(qs[q] * (double)total), acc = 0;

		for (unsigned b = 0; b < H_N && total; b++) {
			acc += hist[b];
			if (acc >= want) {
				qv[q] = (double)h_value(b);
				break;
			}
		}
	}
	qv[4] = (double)maxus;
	uint64_t received = SUM(received), unique = SUM(unique);
	double conn_s = (double)(t_conn1 - t_conn0) / 1e9;
	double deliv_s = (double)(t_pub_end - t_d0) / 1e9 + pub_secs;
	static const char *tn[] = { "service", "daemon", "nchan" };
	static const char *pn[] = { "none", "http", "ipc" };

	printf("{\"scenario\":\"%s\",\"target\":\"%s\",\"pub\":\"%s\",\"subs\":%ld,\"uids\":%ld,"
	       "\"procs\":%ld,\"rate\":%.0f,\"inflight\":%ld,\"batch\":%ld,"
	       "\"connected\":%" PRIu64 ",\"connect_failed\":%" PRIu64 ",\"connect_s\":%.3f,"
	       "\"connect_rate\":%.1f,\"connect_cpu_us_per_conn\":%.1f,\"closed_early\":%" PRIu64 ","
	       "\"offered\":%" PRIu64 ","
	       "\"rss_before_kb\":%ld,\"rss_connected_kb\":%ld,\"rss_end_kb\":%ld,"
	       "\"rss_per_conn_bytes\":%.1f,\"rss_peak_kb\":%ld,\"idle_s\":%.2f,"
	       "\"idle_cpu_s\":%.3f,\"idle_cpu_pct\":%.2f,\"slow\":%ld,\"slow_closed\":%" PRIu64 ","
	       "\"sent\":%" PRIu64 ",\"push_ok\":%" PRIu64 ",\"push_err\":%" PRIu64 ",\"replies_lost\":%" PRIu64
	       ",\"reached\":%" PRIu64 ",\"expected\":%" PRIu64 ",\"received\":%" PRIu64
	       ",\"unique\":%" PRIu64 ",\"lost\":%" PRIu64 ",\"dup\":%" PRIu64 ",\"ooo\":%" PRIu64
	       ",\"bad_frames\":%" PRIu64 ","
	       "\"requests\":%" PRIu64 ",\"pub_s\":%.3f,\"req_rate\":%.1f,\"push_rate\":%.1f,"
	       "\"deliveries_per_s\":%.1f,"
	       "\"p50_us\":%.0f,\"p90_us\":%.0f,\"p99_us\":%.0f,\"p999_us\":%.0f,\"max_us\":%.0f,"
	       "\"server_cpu_s\":%.3f,\"other_on_server_cpu_s\":%.3f,\"cpu_us_per_push\":%.2f,\"cpu_us_per_delivery\":%.3f",
	       o.scenario, tn[o.target], pn[o.pub], o.subs, o.uids, o.procs, o.rate, o.inflight,
	       o.batch > 0 ? o.batch : 1,
	       connected, failed, conn_s, conn_s > 0 ? (double)connected / conn_s : 0,
	       connected ? (cpu_c1 - cpu_c0) / (double)connected : 0, SUM(closed),
	       o.rate > 0 ? (uint64_t)(o.rate * o.duration) : pub_sent, rss0, rss1, rss2,
	       rss0 >= 0 && connected ? (double)(rss1 - rss0) * 1024.0 / (double)connected : 0,
	       rss_peak, idle_s, idle_cpu_s, idle_s > 0 ? idle_cpu_s * 100.0 / idle_s : 0,
	       slow_count(), SUM(slow_closed),
	       pub_sent, pub_ok, pub_err, ipc_replies_lost, pub_reached, expected, received, unique,
	       expected > unique ? expected - unique : 0, SUM(dup), SUM(ooo), SUM(bad),
	       pub_reqs, pub_secs, pub_secs > 0 ? (double)pub_reqs / pub_secs : 0,
	       pub_secs > 0 ? (double)pub_sent / pub_secs : 0,
	       deliv_s > 0 ? (double)unique / deliv_s : 0, qv[0], qv[1], qv[2], qv[3], qv[4],
	       (cpu1 - cpu0) / 1e6,
	       busy0 >= 0 && busy1 >= 0 && busy1 - busy0 > cpu1 - cpu0
		       ? (busy1 - busy0 - (cpu1 - cpu0)) / 1e6 : 0,
	       pub_sent ? (cpu1 - cpu0) / (double)pub_sent : 0,
	       unique ? (cpu1 - cpu0) / (double)unique : 0);
	/* ws-daemon's own processes (--daemon-pids), messages stored for offline uids */
	if (ndpids > 0)
		printf(",\"daemon_cpu_s\":%.3f,\"daemon_cpu_us_per_push\":%.2f,"
		       "\"daemon_cpu_us_per_delivery\":%.3f,\"daemon_rss_before_kb\":%ld,"
		       "\"daemon_rss_after_kb\":%ld,\"daemon_rss_peak_kb\":%ld",
		       (dcpu1 - dcpu0) / 1e6, pub_sent ? (dcpu1 - dcpu0) / (double)pub_sent : 0,
		       unique ? (dcpu1 - dcpu0) / (double)unique : 0, drss1, drss2, drss_peak);
	/* --redis-pids: redis-server's CPU (utime + stime from /proc/<pid>/stat) over
	 * the same window as the server's, per push acknowledged as sent */
	if (nrpids > 0)
		printf(",\"redis_cpu_s\":%.3f,\"redis_cpu_us_per_push\":%.2f,\"redis_rss_kb\":%ld",
		       (rcpu1 - rcpu0) / 1e6, pub_sent ? (rcpu1 - rcpu0) / (double)pub_sent : 0,
		       pids_status_kb(rpids, nrpids, "VmRSS"));
	/* --ws2/--http2: how the load was split over the two hosts */
	if (o.ws2_port > 0 || o.http2_port > 0)
		printf(",\"hosts\":2,\"subs_host2\":%ld,\"uids_both_hosts\":%ld,\"pushes_host2\":%" PRIu64
		       ",\"presence_seen\":%ld,\"presence_wait_s\":%.3f",
		       subs2, uids_both, pub_sent2, pres_seen, pres_wait_s);
	if (o.pub == P_HTTP && o.target == T_SERVICE && o.batch == 0 && !o.broadcast)
		/* reached_short: connections the answers' "number" left out (open tabs of
		 * the uids pushed to, minus what the answers counted); delivered_refused:
		 * deliveries beyond those expected, i.e. of pushes answered with an error
		 * (404 or 503) that reached a tab all the same */
		printf(",\"reached_per_push\":%.3f,\"expected_per_push\":%.3f,\"reached_short\":%" PRIu64
		       ",\"delivered_refused\":%" PRIu64 ",\"req_slow\":%" PRIu64,
		       pub_ok ? (double)pub_reached / (double)pub_ok : 0,
		       pub_ok ? (double)expected / (double)pub_ok : 0,
		       expected > pub_reached ? expected - pub_reached : 0,
		       unique > expected ? unique - expected : 0, req_slow);
	/* HTTP requests: written to answered (the publisher's view) */
	if (o.pub == P_HTTP)
		printf(",\"req_p50_us\":%.0f,\"req_p99_us\":%.0f,\"req_max_us\":%" PRIu64,
		       hist_q(req_hist.b, req_hist.n, 0.5), hist_q(req_hist.b, req_hist.n, 0.99),
		       req_hist.max);
	if (o.broadcast)
		printf(",\"broadcast\":1,\"number_bad\":%" PRIu64 ",\"reached_per_req\":%.1f",
		       SUM(number_bad), pub_ok ? (double)pub_reached / (double)pub_ok : 0);
	if (o.ack_conns > 0) {
		printf(",\"fcgi_procs\":%ld,\"ack_waiters_max\":%ld,\"push_timeout_ms\":%ld,"
		       "\"ack_conns\":%ld,\"ack_retry_ms\":%ld,\"phase_s\":%.3f,\"ack_settle_s\":%.3f",
		       cfg_fcgi, cfg_ack_max, cfg_push_timeout, o.ack_conns, o.ack_retry_ms,
		       o.duration, o.ack_settle);
		for (int p = 0; p < 2; p++) {
			uint64_t dh[H_N] = { 0 }, dn = 0;
			double len = (double)(ph[p].t1 - ph[p].t0) / 1e9;
			const char *pre = p ? "held" : "base";

			for (long c = 0; c < o.procs; c++)
				for (unsigned b = 0; b < H_N; b++)
					dh[b] += atomic_load(&shm->ch[c].phist[p][b]);
			for (unsigned b = 0; b < H_N; b++)
				dn += dh[b];
			printf(",\"%s_stalled\":%" PRIu64, pre, ph[p].stalled);
			printf(",\"%s_pushes\":%" PRIu64 ",\"%s_push_err\":%" PRIu64 ",\"%s_push_rate\":%.1f,"
			       "\"%s_req_p50_us\":%.0f,\"%s_req_p99_us\":%.0f,\"%s_req_max_us\":%" PRIu64 ","
			       "\"%s_p50_us\":%.0f,\"%s_p99_us\":%.0f,\"%s_cpu_us_per_push\":%.2f",
			       pre, ph[p].ok, pre, ph[p].err, pre, len > 0 ? (double)ph[p].ok / len : 0,
			       pre, hist_q(ph[p].req.b, ph[p].req.n, 0.5), pre,
			       hist_q(ph[p].req.b, ph[p].req.n, 0.99), pre, ph[p].req.max,
			       pre, hist_q(dh, dn, 0.5), pre, hist_q(dh, dn, 0.99), pre,
			       ph[p].ok && ph[p].cpu_state == 2 ? (ph[p].cpu1 - ph[p].cpu0) / (double)ph[p].ok : 0);
		}
		printf(",\"ack_sent\":%" PRIu64 ",\"ack_unacked\":%" PRIu64 ",\"ack_acked\":%" PRIu64
		       ",\"ack_429\":%" PRIu64 ",\"ack_other\":%" PRIu64 ",\"ack_queued\":%" PRIu64
		       ",\"ack_frames\":%" PRIu64
		       ",\"ack_waiting_avg\":%.2f,\"ack_wait_p50_ms\":%.1f,\"ack_wait_max_ms\":%.1f"
		       ",\"ack_429_p50_us\":%.0f,\"ack_429_p99_us\":%.0f,\"ack_429_max_us\":%" PRIu64,
		       ack.sent, ack.unacked, ack.acked, ack.busy, ack.other, ack.queued, SUM(ack_frames),
		       ph[1].t1 > ph[1].t0 ? (double)ack.wait_in_p1_ns / (double)(ph[1].t1 - ph[1].t0) : 0,
		       hist_q(ack.wait.b, ack.wait.n, 0.5) / 1000, (double)ack.wait.max / 1000,
		       hist_q(ack.busy_t.b, ack.busy_t.n, 0.5), hist_q(ack.busy_t.b, ack.busy_t.n, 0.99),
		       ack.busy_t.max);
	}
	printf(",\"stored\":%" PRIu64 ",\"contents_bytes\":%ld,\"frame_bytes\":%.2f,"
	       "\"rss_bytes_per_stored\":%.1f",
	       pub_stored, o.contents_bytes,
	       pub_stored && o.contents_bytes ? (double)frame_bytes_sum / (double)pub_stored : 0,
	       pub_stored && ndpids > 0 && drss1 >= 0 && o.storm == 0
		       ? (double)(drss2 - drss1) * 1024.0 / (double)pub_stored : 0);
	if (o.metrics && mx.ok)
		printf(",\"hist_uids\":%" PRIu64 ",\"hist_messages\":%" PRIu64 ",\"hist_bytes\":%" PRIu64
		       ",\"hist_evicted\":%" PRIu64 ",\"hist_bytes_per_msg\":%.1f",
		       mx.hist_uids, mx.hist_messages, mx.hist_bytes, mx.hist_evicted,
		       mx.hist_messages ? (double)mx.hist_bytes / (double)mx.hist_messages : 0);
	if (o.storm > 0) {
		int all = sr.done == (uint64_t)o.subs;

		printf(",\"storm_k\":%ld,\"storm_live\":%ld,\"storm_live_ok\":%" PRIu64
		       ",\"storm_offline_wait_s\":%.3f,\"storm_connected\":%" PRIu64
		       ",\"storm_failed\":%" PRIu64 ",\"storm_connect_s\":%.3f,\"storm_done\":%" PRIu64
		       ",\"storm_all_done\":%d,\"storm_s\":%.3f,\"storm_recovered\":%" PRIu64
		       ",\"storm_epoch_changed\":%" PRIu64 ",\"storm_first_bad\":%" PRIu64
		       ",\"storm_last_bad\":%" PRIu64 ",\"storm_gaps\":%" PRIu64 ",\"storm_dup\":%" PRIu64
		       ",\"storm_bad_frames\":%" PRIu64 ",\"storm_missing\":%" PRIu64
		       ",\"storm_cpu_s\":%.3f,\"storm_other_on_server_cpu_s\":%.3f,\"storm_cpu_us_per_msg\":%.2f"
		       ",\"daemon_rss_offline_kb\":%ld,\"daemon_rss_filled_kb\":%ld"
		       ",\"storm_resumes\":%" PRIu64 ",\"storm_resume_gaps\":%" PRIu64
		       ",\"storm_replayed\":%" PRIu64,
		       o.storm, o.storm_live, sr.live_ok, sr.offline_wait_s, sr.connected, sr.failed,
		       sr.connect_s, sr.done, all,
		       /* all done: the last client's completion time; else how long we waited */
		       all ? (double)maxus / 1e6 : sr.wait_s, sr.recovered, sr.epoch_changed,
		       sr.first_bad, sr.last_bad, sr.gaps, sr.dup, sr.bad,
		       expected > sr.unique ? expected - sr.unique : 0, sr.cpu_s,
		       sr.busy_s > sr.cpu_s ? sr.busy_s - sr.cpu_s : 0,
		       sr.unique ? sr.cpu_s * 1e6 / (double)sr.unique : 0,
		       sr.rss_offline_kb, sr.rss_filled_kb,
		       sr.end.resumes - sr.filled.resumes, sr.end.resume_gaps - sr.filled.resume_gaps,
		       sr.end.replayed - sr.filled.replayed);
	}
	printf("}\n");
	(void)fflush(stdout);
	(void)munmap(shm, shm_len);
	return o.subs > 0 && connected == 0 ? 1 : 0;
}
