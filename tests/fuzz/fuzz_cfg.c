/* SPDX-License-Identifier: MIT */
/* libFuzzer driver for shared/cfg.c: the input is written as conf.yaml in a per-process temp
 * dir and loaded; a load that succeeds must satisfy every documented bound and invariant. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "cfg.h"
#include "fuzz_check.h"
#include "hs.h"

static char dir[4096], path[4200];
static int fd = -1;

static void cleanup(void)
{
	if (fd >= 0)
		close(fd);
	if (path[0])
		unlink(path);
	if (dir[0])
		rmdir(dir);
}

/* Once per process: $TMPDIR (or /tmp)/fuzz_cfg.XXXXXX/conf.yaml, kept open for rewriting. */
static void setup(void)
{
	const char *t = getenv("TMPDIR");
	char *real;

	if (fd >= 0)
		return;
	snprintf(dir, sizeof dir, "%s/fuzz_cfg.XXXXXX", t && t[0] ? t : "/tmp");
	FUZZ_CHECK(mkdtemp(dir) != NULL);
	/* cfg_load resolves relative paths against the realpath of this directory. */
	real = realpath(dir, NULL);
	FUZZ_CHECK(real != NULL && strlen(real) < sizeof dir);
	strcpy(dir, real);
	free(real);
	snprintf(path, sizeof path, "%s/conf.yaml", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	FUZZ_CHECK(fd >= 0);
	atexit(cleanup);
}

static void check_long(long v, long lo, long hi) { FUZZ_CHECK(v >= lo && v <= hi); }

static void check_path(const char *p, int required)
{
	if (!p) {
		FUZZ_CHECK(!required);
		return;
	}
	FUZZ_CHECK(p[0] == '/'); /* every path is absolute after loading */
	FUZZ_CHECK(strlen(p) <= strlen(dir) + 1 + 4096);
}

static void check_str(const char *s, int nonempty)
{
	FUZZ_CHECK(s != NULL);
	FUZZ_CHECK(strlen(s) <= 4096);
	if (nonempty)
		FUZZ_CHECK(s[0] != '\0');
}

/* One origin of allowed_origins, o[0..n): "null" or lowercase scheme://host[:port]
 * with nothing after, and no default port (browsers never send one). */
static void check_origin(const char *o, size_t n)
{
	const char *end = o + n, *p, *colon;
	size_t h;

	FUZZ_CHECK(n >= 1 && n <= HS_ORIGIN_MAX);
	for (size_t i = 0; i < n; i++)
		FUZZ_CHECK(o[i] > 0x20 && o[i] < 0x7F && !(o[i] >= 'A' && o[i] <= 'Z'));
	if (n == 4 && memcmp(o, "null", 4) == 0)
		return;
	h = n > 8 && memcmp(o, "https://", 8) == 0 ? 8 : n > 7 && memcmp(o, "http://", 7) == 0 ? 7 : 0;
	FUZZ_CHECK(h != 0);
	for (size_t i = h; i < n; i++)
		FUZZ_CHECK(!strchr("/?#@%", o[i]));
	p = o[h] == '[' ? memchr(o + h, ']', n - h) : o + h;
	FUZZ_CHECK(p != NULL);
	colon = memchr(p, ':', (size_t)(end - p));
	if (!colon)
		return;
	FUZZ_CHECK(end - colon >= 2 && end - colon <= 6 && colon[1] != '0');
	FUZZ_CHECK(strspn(colon + 1, "0123456789") >= (size_t)(end - colon - 1));
	FUZZ_CHECK(!(h == 7 && end - colon == 3 && memcmp(colon, ":80", 3) == 0));
	FUZZ_CHECK(!(h == 8 && end - colon == 4 && memcmp(colon, ":443", 4) == 0));
}

/* At most HS_ORIGINS_MAX origins, one a line, each well-formed. */
static void check_origins(const char *list)
{
	size_t count = 0;

	FUZZ_CHECK(list != NULL);
	for (const char *p = list; *p; count++) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);

		check_origin(p, n);
		p += nl ? n + 1 : n;
		FUZZ_CHECK(!nl || *p); /* no trailing separator */
	}
	FUZZ_CHECK(count <= HS_ORIGINS_MAX);
}

/* cfg_print_key output for name, NUL-terminated (malloc'd). */
static char *print_key(const struct cfg *c, const char *name)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	FUZZ_CHECK(f != NULL);
	FUZZ_CHECK(cfg_print_key(c, name, f) == 0);
	FUZZ_CHECK(fclose(f) == 0);
	return buf;
}

static void check_loaded(const struct cfg *c)
{
	static const char label[] = "push-service access key v1";
	static const char *const keys[] = {
		"addr", "ws_addr", "fcgi_socket", "fcgi_addr", "password", "key_secret", "run_dir",
		"ipc_socket", "ipc_socket_group", "tls_cert", "tls_key", "access_key_ttl",
		"key_rotation_grace", "max_uid_bytes", "max_message_bytes", "push_timeout_ms",
		"send_queue_max_messages",
		"send_queue_max_bytes", "ping_interval", "idle_timeout", "fcgi_procs", "log_level",
		"history_size", "history_bytes", "history_ttl", "history_memory", "offline_messages",
		"ack_waiters_max", "allowed_origins", "max_connections", "max_connections_per_uid",
	};
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	const char *base;
	char host[256];
	int port;

	check_str(c->password, 1);
	check_str(c->addr, 1);
	check_str(c->ws_addr, 1);
	check_str(c->fcgi_addr, 1);
	check_str(c->ipc_socket_group, 0);
	if (c->key_secret)
		check_str(c->key_secret, 0);
	check_path(c->fcgi_socket, 1);
	check_path(c->run_dir, 1);
	check_path(c->ipc_socket, 1);
	check_path(c->tls_cert, 0);
	check_path(c->tls_key, 0);
	FUZZ_CHECK(!c->tls_cert == !c->tls_key);

	check_long(c->access_key_ttl, 1, 86400L * 30);
	check_long(c->max_uid_bytes, 1, 4096);
	check_long(c->max_message_bytes, 64, 131072);
	check_long(c->push_timeout_ms, 10, 60000);
	check_long(c->send_queue_max_messages, 1, 1000000);
	check_long(c->send_queue_max_bytes, 1024, 1L << 30);
	check_long(c->ping_interval, 1, 3600);
	check_long(c->idle_timeout, 2, 7200);
	check_long(c->fcgi_procs, 1, 256);
	check_long((long)c->log_level, LOG_LVL_ERR, LOG_LVL_DEBUG);
	check_long(c->history_size, 0, 10000);
	check_long(c->history_bytes, 1024, 1L << 30);
	check_long(c->history_ttl, 1, CFG_TTL_MAX);
	check_long(c->history_memory, 65536, CFG_HISTORY_MEMORY_MAX);
	check_long(c->ack_waiters_max, -1, CFG_FCGI_PROCS_MAX - 1);
	FUZZ_CHECK(cfg_ack_waiters(c) >= 0 && cfg_ack_waiters(c) < c->fcgi_procs);
	FUZZ_CHECK(c->offline_messages == 0 || c->offline_messages == 1);
	FUZZ_CHECK(c->ping_interval < c->idle_timeout);
	FUZZ_CHECK(c->send_queue_max_bytes >= c->max_message_bytes);
	/* A history is replayed into an empty queue; offline delivery keeps one. */
	FUZZ_CHECK(c->history_size == 0 || c->history_size < c->send_queue_max_messages);
	FUZZ_CHECK(c->history_size == 0 ||
		   c->history_bytes <= c->send_queue_max_bytes - CFG_POSITION_FRAME_MAX);
	FUZZ_CHECK(!c->offline_messages || c->history_size > 0);
	check_long(c->max_connections, 0, 10000000);
	check_long(c->max_connections_per_uid, 0, 1000000);
	check_origins(c->allowed_origins);

	FUZZ_CHECK(cfg_split_addr(c->addr, host, sizeof host, &port) == 0 && port >= 1 &&
		   port <= 65535);
	FUZZ_CHECK(cfg_split_addr(c->ws_addr, host, sizeof host, &port) == 0);
	FUZZ_CHECK(cfg_split_addr(c->fcgi_addr, host, sizeof host, &port) == 0);

	/* secret = HMAC-SHA256(key_secret if set, else password, label). */
	base = c->key_secret && c->key_secret[0] ? c->key_secret : c->password;
	FUZZ_CHECK(HMAC(EVP_sha256(), base, (int)strlen(base), (const unsigned char *)label,
			sizeof label - 1, mac, &mac_len) != NULL);
	FUZZ_CHECK(mac_len == CFG_SECRET_LEN && memcmp(mac, c->secret, CFG_SECRET_LEN) == 0);

	/* Every key prints; secrets never print as themselves. */
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		char *out = print_key(c, keys[i]);
		size_t n = strlen(out);

		FUZZ_CHECK(n >= 1 && out[n - 1] == '\n');
		if (strcmp(keys[i], "password") == 0)
			FUZZ_CHECK(strcmp(out, "<set>\n") == 0);
		if (strcmp(keys[i], "key_secret") == 0)
			FUZZ_CHECK(strcmp(out, "<set>\n") == 0 || strcmp(out, "<derived>\n") == 0);
		if (strcmp(keys[i], "offline_messages") == 0)
			FUZZ_CHECK(strcmp(out, c->offline_messages ? "true\n" : "false\n") == 0);
		if (strcmp(keys[i], "allowed_origins") == 0) /* the list, one origin a line */
			FUZZ_CHECK(n == strlen(c->allowed_origins) + 1 &&
				   memcmp(out, c->allowed_origins, n - 1) == 0);
		free(out);
	}
	FUZZ_CHECK(cfg_print_key(c, "no_such_key", stderr) == -1);
}

static void check_empty(const struct cfg *c)
{
	static const unsigned char zero[CFG_SECRET_LEN];

	FUZZ_CHECK(!c->addr && !c->ws_addr && !c->fcgi_addr && !c->fcgi_socket && !c->password);
	FUZZ_CHECK(!c->key_secret && !c->ipc_socket && !c->tls_cert && !c->tls_key);
	FUZZ_CHECK(!c->ipc_socket_group && !c->run_dir && !c->allowed_origins);
	FUZZ_CHECK(memcmp(c->secret, zero, sizeof zero) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cfg c;
	char err[CFG_ERR_LEN];
	int rc;

	setup();
	FUZZ_CHECK(ftruncate(fd, 0) == 0);
	FUZZ_CHECK(pwrite(fd, data, size, 0) == (ssize_t)size);

	memset(&c, 0xA5, sizeof c); /* cfg_load must not rely on a zeroed struct */
	memset(err, 'x', sizeof err);
	rc = cfg_load(path, &c, err, sizeof err);
	FUZZ_CHECK(memchr(err, '\0', sizeof err) != NULL);
	if (rc == 0) {
		FUZZ_CHECK(err[0] == '\0');
		check_loaded(&c);
	} else {
		/* "path[:line]: reason", and *out left empty. */
		FUZZ_CHECK(rc == -1);
		FUZZ_CHECK(strncmp(err, path, strlen(path)) == 0 && err[strlen(path)] == ':');
		FUZZ_CHECK(strlen(err) > strlen(path) + 2);
		check_empty(&c);
	}
	cfg_free(&c);
	check_empty(&c);
	return 0;
}
