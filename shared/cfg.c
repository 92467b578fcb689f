/* SPDX-License-Identifier: MIT */
/* conf.yaml loader: a flat YAML mapping checked against one table of keys.
 * Every value, defaults included, goes through the same typed setter and bounds. */
#include "cfg.h"
#include "hs.h"
#include "req.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <yaml.h>

/* CT_LIST: a YAML sequence of origins (or one origin as a plain value), kept as
 * one string, the origins one a line (see cfg_list_add). */
enum cfg_type { CT_STR, CT_PATH, CT_LONG, CT_LEVEL, CT_BOOL, CT_LIST };

/* Per-key behaviour on reload and in output. */
enum cfg_flag {
	CF_RESTART = 1, /* listening addresses, socket paths, process counts: a reload keeps them */
	CF_SECRET = 2,  /* never printed or logged */
};

struct cfg_key {
	const char *name;
	enum cfg_type type;
	unsigned flags;    /* enum cfg_flag */
	size_t off;
	long min, max;     /* CT_LONG bounds; CT_STR: min 1 = must not be empty */
	const char *def;   /* NULL: no default (key optional unless min says so) */
	const char *help;
};

#define OFF(f) offsetof(struct cfg, f)

/* Datagram room: max_message_bytes must leave space for the IPC header and uid
 * inside one datagram (see ipc.h, IPC_MAX_DATAGRAM). */
static const struct cfg_key cfg_keys[] = {
	{ "addr", CT_STR, CF_RESTART, OFF(addr), 1, 0, "0.0.0.0:8080", "public address of the web server" },
	{ "ws_addr", CT_STR, CF_RESTART, OFF(ws_addr), 1, 0, "127.0.0.1:8081", "ws-daemon WebSocket listener" },
	{ "fcgi_socket", CT_PATH, CF_RESTART, OFF(fcgi_socket), 1, 0, "run/push-api.sock", "socket lighttpd spawns push-api on" },
	{ "fcgi_addr", CT_STR, CF_RESTART, OFF(fcgi_addr), 1, 0, "127.0.0.1:8082", "push-api's FastCGI address when it runs its own pool (Apache)" },
	{ "password", CT_STR, CF_SECRET, OFF(password), 1, 0, NULL, "business-server password (required)" },
	{ "key_secret", CT_STR, CF_SECRET, OFF(key_secret), 0, 0, NULL, "access-key signing secret (default: from password)" },
	{ "run_dir", CT_PATH, CF_RESTART, OFF(run_dir), 1, 0, "run", "directory for sockets and generated files" },
	{ "ipc_socket", CT_PATH, CF_RESTART, OFF(ipc_socket), 1, 0, "run/ws-daemon.sock", "daemon datagram socket" },
	{ "ipc_socket_group", CT_STR, CF_RESTART, OFF(ipc_socket_group), 0, 0, "", "group allowed to push (default: the daemon's)" },
	{ "tls_cert", CT_PATH, CF_RESTART, OFF(tls_cert), 0, 0, NULL, "PEM certificate: the web server speaks HTTPS/WSS" },
	{ "tls_key", CT_PATH, CF_RESTART, OFF(tls_key), 0, 0, NULL, "PEM private key for tls_cert" },
	{ "access_key_ttl", CT_LONG, 0, OFF(access_key_ttl), 1, CFG_TTL_MAX, "60", "access key lifetime, seconds" },
	{ "key_rotation_grace", CT_LONG, 0, OFF(key_rotation_grace), -1, CFG_TTL_MAX, "-1", "seconds keys of the previous secret stay valid after a reload changes it; -1 = access_key_ttl, 0 = revoke at once" },
	{ "max_uid_bytes", CT_LONG, 0, OFF(max_uid_bytes), 1, REQ_UID_MAX, "256", "longest uid accepted" },
	{ "max_message_bytes", CT_LONG, 0, OFF(max_message_bytes), 64, CFG_MESSAGE_MAX, "65536", "largest /push body" },
	{ "push_timeout_ms", CT_LONG, 0, OFF(push_timeout_ms), 10, 60000, "2000", "how long /push waits for ws-daemon" },
	{ "send_queue_max_messages", CT_LONG, 0, OFF(send_queue_max_messages), 1, 1000000, "1024", "per-connection queue, messages" },
	{ "send_queue_max_bytes", CT_LONG, 0, OFF(send_queue_max_bytes), 1024, 1L << 30, "1048576", "per-connection queue, bytes" },
	{ "ping_interval", CT_LONG, 0, OFF(ping_interval), 1, 3600, "30", "idle seconds before a WebSocket ping" },
	{ "idle_timeout", CT_LONG, 0, OFF(idle_timeout), 2, 7200, "75", "idle seconds before hanging up" },
	{ "history_size", CT_LONG, 0, OFF(history_size), 0, 10000, "64", "messages kept per uid for resume; 0 = no history" },
	{ "history_bytes", CT_LONG, 0, OFF(history_bytes), 1024, 1L << 30, "262144", "bytes of messages kept per uid" },
	{ "history_ttl", CT_LONG, 0, OFF(history_ttl), 1, CFG_TTL_MAX, "300", "seconds a message is kept for resume" },
	{ "history_memory", CT_LONG, 0, OFF(history_memory), 65536, CFG_HISTORY_MEMORY_MAX, "67108864", "bytes all uids' history may hold, per daemon (split over workers); oldest uids evicted first" },
	{ "offline_messages", CT_BOOL, 0, OFF(offline_messages), 0, 0, "false", "keep pushes to a uid with no connection for its next connection (needs history)" },
	{ "ack_waiters_max", CT_LONG, 0, OFF(ack_waiters_max), -1, CFG_FCGI_PROCS_MAX - 1, "-1", "pushes that may wait for an acknowledgement at once, per daemon; below fcgi_procs, so waiting pushes never hold every FastCGI process; -1 = half of fcgi_procs, 0 = none" },
	{ "allowed_origins", CT_LIST, 0, OFF(allowed_origins), 0, 0, "", "origins (scheme://host[:port]) browsers may open a WebSocket from, others get 403; empty = any (set it: cross-site WebSocket hijacking)" },
	{ "max_connections", CT_LONG, 0, OFF(max_connections), 0, 10000000, "0", "WebSockets per worker, more get 503; 0 = as many as the open-files limit allows (it also caps a larger value)" },
	{ "max_connections_per_uid", CT_LONG, 0, OFF(max_connections_per_uid), 0, 1000000, "0", "connections one uid may have at once, per daemon; the newest beyond is closed with 1013; 0 = no limit" },
	{ "workers", CT_LONG, CF_RESTART, OFF(workers), 0, 64, "0", "ws-daemon worker processes; 0 = one per CPU" },
	{ "fcgi_procs", CT_LONG, CF_RESTART, OFF(fcgi_procs), 1, CFG_FCGI_PROCS_MAX, "4", "FastCGI processes per web server" },
	{ "engine", CT_STR, CF_RESTART, OFF(engine), 1, 0, "memory", "where uids' streams live: memory (this host alone) or redis (several hosts joined by redis_servers)" },
	{ "redis_servers", CT_STR, CF_RESTART, OFF(redis_servers), 0, 0, "", "engine redis: the Redis servers, host:port separated by commas or spaces; uids are spread over them by consistent hashing" },
	{ "log_level", CT_LEVEL, 0, OFF(log_level), 0, 0, "info", "error|warn|notice|info|debug" },
	{ "demo", CT_BOOL, CF_RESTART, OFF(demo), 0, 0, "false", "serve the demo page's backend routes (/demo/api/key, /demo/api/push): keys and pushes without the password; for a loopback test setup only" },
};

#define CFG_NKEYS (sizeof cfg_keys / sizeof cfg_keys[0])

static const char cfg_secret_label[] = "push-service access key v1";

struct cfg_ctx {
	const char *path;
	char *dir;          /* directory of path, for relative CT_PATH values */
	char *err;
	size_t err_len;
	unsigned char seen[CFG_NKEYS];
};

static int cfg_fail(struct cfg_ctx *x, size_t line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int cfg_fail(struct cfg_ctx *x, size_t line, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = line ? snprintf(x->err, x->err_len, "%s:%zu: ", x->path, line)
		 : snprintf(x->err, x->err_len, "%s: ", x->path);
	if (n < 0 || (size_t)n >= x->err_len)
		return -1;
	va_start(ap, fmt);
	(void)vsnprintf(x->err + n, x->err_len - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

static const struct cfg_key *cfg_find(const char *name, size_t *idx)
{
	for (size_t i = 0; i < CFG_NKEYS; i++) {
		if (strcmp(cfg_keys[i].name, name) == 0) {
			if (idx)
				*idx = i;
			return &cfg_keys[i];
		}
	}
	return NULL;
}

/* Edit distance of two short names (keys are < 32 bytes), for "did you mean". */
static size_t cfg_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[33], prev, t;

	if (la > 32 || lb > 32)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			t = row[j];
			row[j] = a[i - 1] == b[j - 1] ? prev
				 : 1 + (prev < row[j - 1] ? (prev < row[j] ? prev : row[j])
							 : (row[j - 1] < row[j] ? row[j - 1] : row[j]));
			prev = t;
		}
	}
	return row[lb];
}

/* The key a typo most likely meant: within two edits, or NULL. */
static const char *cfg_suggest(const char *name)
{
	const char *best = NULL;
	size_t best_d = 3;

	for (size_t i = 0; i < CFG_NKEYS; i++) {
		size_t d = cfg_distance(name, cfg_keys[i].name);

		if (d < best_d) {
			best_d = d;
			best = cfg_keys[i].name;
		}
	}
	return best;
}

static char *cfg_resolve(const struct cfg_ctx *x, const char *v)
{
	size_t dl, vl;
	char *p;

	if (v[0] == '/' || !x->dir)
		return strdup(v);
	dl = strlen(x->dir);
	vl = strlen(v);
	if (dl > SIZE_MAX - vl - 2)
		return NULL;
	p = malloc(dl + vl + 2);
	if (!p)
		return NULL;
	memcpy(p, x->dir, dl);
	p[dl] = '/';
	memcpy(p + dl + 1, v, vl + 1);
	return p;
}

static int cfg_parse_long(const char *v, long *out)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0')
		return -1;
	*out = n;
	return 0;
}

/* One typed, bounded setter for file values and defaults alike. */
static int cfg_bool_word(const char *v)
{
	static const char *const words[] = { "true", "True", "TRUE", "false", "False", "FALSE" };

	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
		if (strcmp(v, words[i]) == 0)
			return 1;
	return 0;
}

/* ---- allowed_origins: origins as browsers serialise them (RFC 6454 6.1) ---- */

/* The joined list at its longest: every origin and its '\n' (the last one's is the NUL). */
#define CFG_LIST_BYTES ((size_t)HS_ORIGINS_MAX * (HS_ORIGIN_MAX + 1))

struct cfg_list {
	char *buf;      /* CFG_LIST_BYTES: origins one a line, NUL-terminated */
	size_t used;    /* bytes before the NUL */
	size_t n;       /* origins in buf */
};

/* An IPv4 (dotted-quad: inet_pton takes no other spelling) or IPv6 address of
 * family af in s[0..n). */
static int cfg_inet_ok(int af, const char *s, size_t n)
{
	char a[INET6_ADDRSTRLEN];
	struct in6_addr ia; /* room for either family */

	if (n >= sizeof a)
		return 0;
	memcpy(a, s, n);
	a[n] = '\0';
	return inet_pton(af, a, &ia) == 1;
}

/* Lowercase DNS labels (letters, digits, '-', '_'), or an IPv4 address: a browser
 * reads a host whose last label is a number as one, and writes it dotted-quad. */
static int cfg_host_ok(const char *h, size_t n)
{
	size_t label = 0, last = 0;

	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char ch = h[i];

		if (ch == '.') {
			if (label == 0)
				return 0;
			label = 0;
			last = i + 1;
		} else if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' ||
			   ch == '_') {
			if (++label > 63)
				return 0;
		} else {
			return 0;
		}
	}
	if (label == 0)
		return 0;
	return strspn(h + last, "0123456789") < n - last || cfg_inet_ok(AF_INET, h, n);
}

/* 1..65535 as browsers write it: digits, no leading zero. */
static long cfg_origin_port(const char *s)
{
	long n = 0;

	if (s[0] < '1' || s[0] > '9' || strlen(s) > 5)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		n = n * 10 + (*s - '0');
	}
	return n <= 65535 ? n : -1;
}

/*
 * o (lowercased in place) is "null" or scheme://host[:port] with scheme http or
 * https and nothing after the port: no path, query, fragment or userinfo. A
 * default port (80, 443) is dropped, as a browser never sends it. 0 or -1.
 */
static int cfg_origin_norm(char *o)
{
	char *host, *end;
	long port;

	if (strcmp(o, "null") == 0)
		return 0;
	if (strncmp(o, "http://", 7) == 0)
		host = o + 7;
	else if (strncmp(o, "https://", 8) == 0)
		host = o + 8;
	else
		return -1;
	if (host[0] == '[') {
		end = strchr(host, ']');
		if (!end || !cfg_inet_ok(AF_INET6, host + 1, (size_t)(end - host - 1)))
			return -1;
		end++;
	} else {
		end = host + strcspn(host, ":");
		if (!cfg_host_ok(host, (size_t)(end - host)))
			return -1;
	}
	if (*end == '\0')
		return 0;
	port = *end == ':' ? cfg_origin_port(end + 1) : -1;
	if (port < 0)
		return -1;
	if (port == (host - o == 7 ? 80 : 443))
		*end = '\0';
	return 0;
}

/* Appends origin v (item `item` of the list, 0 when given as a plain value). */
static int cfg_list_add(struct cfg_ctx *x, const struct cfg_key *k, struct cfg_list *l,
			const char *v, size_t item, size_t line)
{
	char what[64], o[HS_ORIGIN_MAX + 1];
	size_t n = strlen(v);

	if (item)
		(void)snprintf(what, sizeof what, "'%s' item %zu", k->name, item);
	else
		(void)snprintf(what, sizeof what, "'%s'", k->name);
	if (n == 0)
		return cfg_fail(x, line, "%s is empty (the origin null is written in quotes: \"null\")",
				what);
	if (n > HS_ORIGIN_MAX)
		return cfg_fail(x, line, "%s is longer than %d bytes", what, HS_ORIGIN_MAX);
	if (l->n == HS_ORIGINS_MAX)
		return cfg_fail(x, line, "'%s' lists more than %d origins", k->name, HS_ORIGINS_MAX);
	for (size_t i = 0; i <= n; i++)
		o[i] = v[i] >= 'A' && v[i] <= 'Z' ? (char)(v[i] - 'A' + 'a') : v[i];
	if (cfg_origin_norm(o) != 0)
		return cfg_fail(x, line, "%s: '%s' is not an origin (scheme://host[:port], no path)",
				what, v);
	n = strlen(o);
	if (l->n)
		l->buf[l->used++] = '\n';
	memcpy(l->buf + l->used, o, n + 1);
	l->used += n;
	l->n++;
	return 0;
}

static int cfg_list_begin(struct cfg_ctx *x, struct cfg_list *l, size_t line)
{
	l->used = l->n = 0;
	l->buf = malloc(CFG_LIST_BYTES);
	if (!l->buf)
		return cfg_fail(x, line, "out of memory");
	l->buf[0] = '\0';
	return 0;
}

/* Gives l's text to the key; the buffer shrinks to what it holds. */
static void cfg_list_store(struct cfg *c, const struct cfg_key *k, struct cfg_list *l)
{
	char **sp = (char **)(void *)((char *)c + k->off);
	char *small = realloc(l->buf, l->used + 1);

	free(*sp);
	*sp = small ? small : l->buf;
	l->buf = NULL;
}

/* A list key given as a plain value: one origin, or empty for none. */
static int cfg_set_list(struct cfg_ctx *x, struct cfg *c, const struct cfg_key *k,
			const char *v, size_t line)
{
	struct cfg_list l;

	if (cfg_list_begin(x, &l, line) != 0)
		return -1;
	if (v[0] && cfg_list_add(x, k, &l, v, 0, line) != 0) {
		free(l.buf);
		return -1;
	}
	cfg_list_store(c, k, &l);
	return 0;
}

static int cfg_set(struct cfg_ctx *x, struct cfg *c, const struct cfg_key *k,
		   const char *v, size_t line)
{
	char **sp = (char **)(void *)((char *)c + k->off);
	long n;

	switch (k->type) {
	case CT_STR:
	case CT_PATH:
		if (k->min > 0 && v[0] == '\0')
			return cfg_fail(x, line, "'%s' must not be empty", k->name);
		if (strlen(v) > 4096)
			return cfg_fail(x, line, "'%s' is too long", k->name);
		free(*sp);
		*sp = k->type == CT_PATH ? cfg_resolve(x, v) : strdup(v);
		if (!*sp)
			return cfg_fail(x, line, "out of memory");
		return 0;
	case CT_LONG:
		if (cfg_parse_long(v, &n) != 0)
			return cfg_fail(x, line, "'%s' must be an integer, got '%s'", k->name, v);
		if (n < k->min || n > k->max)
			return cfg_fail(x, line, "'%s' must be between %ld and %ld, got %ld",
					k->name, k->min, k->max, n);
		*(long *)(void *)((char *)c + k->off) = n;
		return 0;
	case CT_LEVEL:
		if (log_level_parse(v, (enum log_level *)(void *)((char *)c + k->off)) != 0)
			return cfg_fail(x, line, "'%s' must be one of error, warn, notice, info, debug",
					k->name);
		return 0;
	case CT_BOOL:
		/* The YAML 1.2 core schema's spellings (true, True, TRUE and the same
		 * for false); YAML 1.1's yes/no/on/off are refused as ambiguous. */
		if (!cfg_bool_word(v))
			return cfg_fail(x, line, "'%s' must be true or false, got '%s'", k->name, v);
		*(int *)(void *)((char *)c + k->off) = v[0] == 't' || v[0] == 'T';
		return 0;
	case CT_LIST:
		return cfg_set_list(x, c, k, v, line);
	}
	return cfg_fail(x, line, "internal: bad key type");
}

static int cfg_expect_scalar(struct cfg_ctx *x, const yaml_event_t *ev, const char *what)
{
	if (ev->type == YAML_SCALAR_EVENT)
		return 0;
	return cfg_fail(x, ev->start_mark.line + 1, "%s must be a plain value, not a list or mapping", what);
}

/* A plain ~ or null is YAML's "no value": treat it as empty, never as text. */
static const char *cfg_scalar(const yaml_event_t *ev)
{
	const char *v = (const char *)ev->data.scalar.value;

	if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	    (strcmp(v, "~") == 0 || strcmp(v, "null") == 0 || strcmp(v, "Null") == 0 ||
	     strcmp(v, "NULL") == 0))
		return "";
	return v;
}

/* A list key's YAML sequence, its start event consumed: scalars up to its end. */
static int cfg_read_list(struct cfg_ctx *x, yaml_parser_t *p, struct cfg *c,
			 const struct cfg_key *k, size_t line)
{
	struct cfg_list l;
	yaml_event_t ev;
	int rc = 0;

	if (cfg_list_begin(x, &l, line) != 0)
		return -1;
	while (rc == 0) {
		if (!yaml_parser_parse(p, &ev)) {
			rc = cfg_fail(x, p->problem_mark.line + 1, "YAML error: %s",
				      p->problem ? p->problem : "unknown");
			break;
		}
		if (ev.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		rc = ev.type == YAML_SCALAR_EVENT
			     ? cfg_list_add(x, k, &l, cfg_scalar(&ev), l.n + 1, ev.start_mark.line + 1)
			     : cfg_fail(x, ev.start_mark.line + 1,
					"'%s' item %zu must be a plain value, not a list or mapping",
					k->name, l.n + 1);
		yaml_event_delete(&ev);
	}
	if (rc != 0) {
		free(l.buf);
		return rc;
	}
	cfg_list_store(c, k, &l);
	return 0;
}

/* The value of key k: a plain value, or a sequence for a list key. */
static int cfg_read_value(struct cfg_ctx *x, yaml_parser_t *p, struct cfg *c,
			  const struct cfg_key *k, const yaml_event_t *ev)
{
	size_t line = ev->start_mark.line + 1;

	if (k->type == CT_LIST && ev->type == YAML_SEQUENCE_START_EVENT)
		return cfg_read_list(x, p, c, k, line);
	if (k->type == CT_LIST && ev->type != YAML_SCALAR_EVENT)
		return cfg_fail(x, line, "'%s' must be a list of origins, or one origin", k->name);
	if (cfg_expect_scalar(x, ev, "a value") != 0)
		return -1;
	return cfg_set(x, c, k, cfg_scalar(ev), line);
}

/* The table entry of the key event ev, marked as seen; NULL after an error. */
static const struct cfg_key *cfg_read_key(struct cfg_ctx *x, const yaml_event_t *ev)
{
	size_t idx, line = ev->start_mark.line + 1;
	const struct cfg_key *k;
	const char *name, *hint;

	if (cfg_expect_scalar(x, ev, "a key") != 0)
		return NULL;
	name = (const char *)ev->data.scalar.value;
	k = cfg_find(name, &idx);
	if (!k) {
		hint = cfg_suggest(name);
		if (hint)
			cfg_fail(x, line, "unknown key '%s' (did you mean '%s'?)", name, hint);
		else
			cfg_fail(x, line, "unknown key '%s'", name);
		return NULL;
	}
	if (x->seen[idx]) {
		cfg_fail(x, line, "key '%s' given twice", name);
		return NULL;
	}
	x->seen[idx] = 1;
	return k;
}

/* Reads the top-level mapping; each key is looked up in the table. */
static int cfg_read_pairs(struct cfg_ctx *x, yaml_parser_t *p, struct cfg *c)
{
	yaml_event_t ev;
	int expect_key = 1, bad;
	const struct cfg_key *k = NULL;

	for (;;) {
		if (!yaml_parser_parse(p, &ev))
			return cfg_fail(x, p->problem_mark.line + 1, "YAML error: %s",
					p->problem ? p->problem : "unknown");
		if (ev.type == YAML_MAPPING_END_EVENT && expect_key) {
			yaml_event_delete(&ev);
			return 0;
		}
		if (expect_key)
			bad = (k = cfg_read_key(x, &ev)) == NULL;
		else
			bad = cfg_read_value(x, p, c, k, &ev) != 0;
		yaml_event_delete(&ev);
		if (bad)
			return -1;
		expect_key = !expect_key;
	}
}

/* Walks stream/document/mapping framing around cfg_read_pairs. */
static int cfg_read_file(struct cfg_ctx *x, yaml_parser_t *p, struct cfg *c)
{
	yaml_event_t ev;
	int rc = -1, in_doc = 0;

	for (;;) {
		if (!yaml_parser_parse(p, &ev)) {
			cfg_fail(x, p->problem_mark.line + 1, "YAML error: %s",
				 p->problem ? p->problem : "unknown");
			break;
		}
		if (ev.type == YAML_STREAM_END_EVENT) {
			rc = in_doc ? 0 : cfg_fail(x, 0, "file is empty");
			yaml_event_delete(&ev);
			break;
		}
		if (ev.type == YAML_MAPPING_START_EVENT) {
			if (in_doc) {
				cfg_fail(x, ev.start_mark.line + 1, "only one document is allowed");
				yaml_event_delete(&ev);
				break;
			}
			in_doc = 1;
			if (cfg_read_pairs(x, p, c) != 0) {
				yaml_event_delete(&ev);
				break;
			}
		} else if (ev.type == YAML_SCALAR_EVENT || ev.type == YAML_SEQUENCE_START_EVENT) {
			cfg_fail(x, ev.start_mark.line + 1, "top level must be a mapping of key: value");
			yaml_event_delete(&ev);
			break;
		}
		yaml_event_delete(&ev);
	}
	return rc;
}

static int cfg_apply_defaults(struct cfg_ctx *x, struct cfg *c)
{
	for (size_t i = 0; i < CFG_NKEYS; i++) {
		const struct cfg_key *k = &cfg_keys[i];

		if (x->seen[i])
			continue;
		if (k->def) {
			if (cfg_set(x, c, k, k->def, 0) != 0)
				return -1;
		} else if (k->min > 0) {
			return cfg_fail(x, 0, "'%s' is required and must not be empty", k->name);
		}
	}
	return 0;
}

static int cfg_derive_secret(struct cfg_ctx *x, struct cfg *c)
{
	const char *base = c->key_secret && c->key_secret[0] ? c->key_secret : c->password;
	unsigned int len = 0;

	if (!HMAC(EVP_sha256(), base, (int)strlen(base), (const unsigned char *)cfg_secret_label,
		  sizeof cfg_secret_label - 1, c->secret, &len) || len != CFG_SECRET_LEN)
		return cfg_fail(x, 0, "cannot derive the access-key secret");
	return 0;
}

/* Absolute directory of path, so relative values do not depend on the cwd of
 * whichever process (daemon, FastCGI child) loads the file. */
static int cfg_check_addrs(struct cfg_ctx *x, const struct cfg *c)
{
	char host[256];
	int port;

	if (cfg_split_addr(c->addr, host, sizeof host, &port) != 0)
		return cfg_fail(x, 0, "'addr' must be host:port, [v6]:port or :port, got '%s'", c->addr);
	if (cfg_split_addr(c->fcgi_addr, host, sizeof host, &port) != 0)
		return cfg_fail(x, 0, "'fcgi_addr' must be host:port, got '%s'", c->fcgi_addr);
	if (cfg_split_addr(c->ws_addr, host, sizeof host, &port) != 0)
		return cfg_fail(x, 0, "'ws_addr' must be host:port, [v6]:port or :port, got '%s'",
				c->ws_addr);
	return 0;
}

static char *cfg_dirname(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *d, *abs;

	if (!slash)
		return realpath(".", NULL);
	if (slash == path)
		return strdup("/");
	d = strndup(path, (size_t)(slash - path));
	if (!d)
		return NULL;
	abs = realpath(d, NULL);
	free(d);
	return abs;
}

/* Reads the whole file, bounded, so the same bytes can be handed on (cfg_pack). */
static char *cfg_read_all(struct cfg_ctx *x, size_t *len)
{
	FILE *f = fopen(x->path, "r");
	char *buf;
	size_t n;

	if (!f) {
		cfg_fail(x, 0, "cannot open: %s", strerror(errno));
		return NULL;
	}
	buf = malloc(CFG_TEXT_MAX + 1);
	n = buf ? fread(buf, 1, CFG_TEXT_MAX + 1, f) : 0;
	if (!buf || ferror(f) || n > CFG_TEXT_MAX) {
		if (!buf || ferror(f))
			cfg_fail(x, 0, "cannot read: %s", buf ? strerror(errno) : "out of memory");
		else
			cfg_fail(x, 0, "file is larger than %d bytes", CFG_TEXT_MAX);
		free(buf);
		buf = NULL;
	}
	fclose(f);
	*len = n;
	return buf;
}

/* A uid's history is replayed into a new connection's queue, which is empty
 * then: the whole history must fit it, or the replay would close it as slow. */
static int cfg_check_history(struct cfg_ctx *x, const struct cfg *c)
{
	if (c->history_size == 0)
		return c->offline_messages
			       ? cfg_fail(x, 0, "'offline_messages' needs a history: 'history_size' must be above 0")
			       : 0;
	/* The position control frame goes ahead of the replay. */
	if (c->history_size >= c->send_queue_max_messages)
		return cfg_fail(x, 0, "'history_size' (%ld) must be below 'send_queue_max_messages' (%ld)",
				c->history_size, c->send_queue_max_messages);
	if (c->history_bytes > c->send_queue_max_bytes - CFG_POSITION_FRAME_MAX)
		return cfg_fail(x, 0, "'history_bytes' (%ld) must be at most 'send_queue_max_bytes' (%ld) minus %d",
				c->history_bytes, c->send_queue_max_bytes, CFG_POSITION_FRAME_MAX);
	return 0;
}

/* A push waiting for an acknowledgement holds its FastCGI process: at least one
 * must stay free for everything else. */
static int cfg_check_ack_waiters(struct cfg_ctx *x, const struct cfg *c)
{
	if (c->ack_waiters_max >= c->fcgi_procs)
		return cfg_fail(x, 0, "'ack_waiters_max' (%ld) must be below 'fcgi_procs' (%ld)",
				c->ack_waiters_max, c->fcgi_procs);
	return 0;
}

int cfg_engine_redis(const struct cfg *c)
{
	return c->engine && strcmp(c->engine, "redis") == 0;
}

int cfg_redis_servers(const struct cfg *c, struct cfg_redis_server *out, size_t max)
{
	const char *p = c->redis_servers ? c->redis_servers : "";
	char one[300];
	size_t n = 0, len;

	for (;;) {
		p += strspn(p, ", \t");
		if (*p == '\0')
			return (int)n;
		len = strcspn(p, ", \t");
		if (n == max || len >= sizeof one)
			return -1;
		memcpy(one, p, len);
		one[len] = '\0';
		if (cfg_split_addr(one, out[n].host, sizeof out[n].host, &out[n].port) != 0 ||
		    out[n].host[0] == '\0')
			return -1;
		n++;
		p += len;
	}
}

/* engine redis needs its servers, each host:port, none twice. */
static int cfg_check_engine(struct cfg_ctx *x, const struct cfg *c)
{
	struct cfg_redis_server s[CFG_REDIS_SERVERS_MAX];
	int n;

	if (strcmp(c->engine, "memory") != 0 && !cfg_engine_redis(c))
		return cfg_fail(x, 0, "'engine' must be memory or redis, got '%s'", c->engine);
	n = cfg_redis_servers(c, s, CFG_REDIS_SERVERS_MAX);
	if (n < 0)
		return cfg_fail(x, 0, "'redis_servers' must list at most %d host:port entries, got '%s'",
				CFG_REDIS_SERVERS_MAX, c->redis_servers);
	if (cfg_engine_redis(c) && n == 0)
		return cfg_fail(x, 0, "'engine' redis needs 'redis_servers'");
	for (int i = 0; i < n; i++)
		for (int j = 0; j < i; j++)
			if (s[i].port == s[j].port && strcmp(s[i].host, s[j].host) == 0)
				return cfg_fail(x, 0, "'redis_servers' lists %s:%d twice", s[i].host,
						s[i].port);
	return 0;
}

/* Cross-key rules, after every key has its value. */
static int cfg_check(struct cfg_ctx *x, struct cfg *c)
{
	if (cfg_check_addrs(x, c) != 0 || cfg_check_engine(x, c) != 0)
		return -1;
	if (c->workers == 0) {
		/* One per CPU, as many as the cap allows. */
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		c->workers = n < 1 ? 1 : n > CFG_WORKERS_MAX ? CFG_WORKERS_MAX : n;
	}
	if (!c->tls_cert != !c->tls_key)
		return cfg_fail(x, 0, "'tls_cert' and 'tls_key' go together");
	if (c->send_queue_max_bytes < c->max_message_bytes)
		/* Otherwise a single big message would cull every reader as "slow". */
		return cfg_fail(x, 0, "'send_queue_max_bytes' (%ld) must be at least 'max_message_bytes' (%ld)",
				c->send_queue_max_bytes, c->max_message_bytes);
	if (c->ping_interval >= c->idle_timeout)
		return cfg_fail(x, 0, "'ping_interval' (%ld) must be less than 'idle_timeout' (%ld)",
				c->ping_interval, c->idle_timeout);
	if (cfg_check_ack_waiters(x, c) != 0)
		return -1;
	return cfg_check_history(x, c);
}

static uint32_t cfg_digest32(const char *text, size_t len)
{
	unsigned char d[32];
	unsigned int dl = 0;

	if (EVP_Digest(text, len, d, &dl, EVP_sha256(), NULL) != 1 || dl < 4)
		return 0;
	return (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 | (uint32_t)d[2] << 8 | d[3];
}

/* Keeps the exact source for cfg_pack and the generation for other processes. */
static int cfg_keep_source(struct cfg_ctx *x, struct cfg *c, const char *text, size_t len)
{
	const char *base = strrchr(x->path, '/');
	size_t dl = strlen(x->dir), bl;

	/* Absolute, so another process (push-api) resolves relative values alike. */
	base = base ? base + 1 : x->path;
	bl = strlen(base);
	c->path = malloc(dl + bl + 2);
	if (c->path) {
		memcpy(c->path, x->dir, dl);
		c->path[dl] = '/';
		memcpy(c->path + dl + 1, base, bl + 1);
	}
	c->text = malloc(len + 1);
	if (!c->path || !c->text)
		return cfg_fail(x, 0, "out of memory");
	memcpy(c->text, text, len);
	c->text[len] = '\0';
	c->text_len = len;
	c->generation = cfg_digest32(text, len);
	return 0;
}

static int cfg_parse_text(struct cfg_ctx *x, const char *text, size_t len, struct cfg *c)
{
	yaml_parser_t p;
	int rc;

	if (len > CFG_TEXT_MAX)
		return cfg_fail(x, 0, "file is larger than %d bytes", CFG_TEXT_MAX);
	if (!yaml_parser_initialize(&p))
		return cfg_fail(x, 0, "cannot initialise YAML parser");
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	rc = cfg_read_file(x, &p, c);
	yaml_parser_delete(&p);
	return rc;
}

int cfg_load_text(const char *path, const char *text, size_t len, struct cfg *out, char *err,
		  size_t err_len)
{
	struct cfg_ctx x = { .path = path, .err = err, .err_len = err_len };
	int rc = -1;

	memset(out, 0, sizeof *out);
	err[0] = '\0';
	x.dir = cfg_dirname(path);
	if (!x.dir)
		cfg_fail(&x, 0, "cannot resolve its directory: %s", strerror(errno));
	else if (cfg_parse_text(&x, text, len, out) == 0 && cfg_apply_defaults(&x, out) == 0 &&
		 cfg_derive_secret(&x, out) == 0 && cfg_check(&x, out) == 0 &&
		 cfg_keep_source(&x, out, text, len) == 0)
		rc = 0;
	free(x.dir);
	if (rc != 0)
		cfg_free(out);
	return rc;
}

int cfg_load(const char *path, struct cfg *out, char *err, size_t err_len)
{
	struct cfg_ctx x = { .path = path, .err = err, .err_len = err_len };
	size_t len = 0;
	char *text;
	int rc;

	memset(out, 0, sizeof *out);
	err[0] = '\0';
	if (strlen(path) > CFG_PATH_MAX)
		return cfg_fail(&x, 0, "path is longer than %d bytes", CFG_PATH_MAX);
	text = cfg_read_all(&x, &len);
	if (!text)
		return -1;
	rc = cfg_load_text(path, text, len, out, err, err_len);
	OPENSSL_cleanse(text, len); /* it holds the password */
	free(text);
	return rc;
}

void cfg_free(struct cfg *c)
{
	for (size_t i = 0; i < CFG_NKEYS; i++) {
		if (cfg_keys[i].type == CT_STR || cfg_keys[i].type == CT_PATH ||
		    cfg_keys[i].type == CT_LIST) {
			char **sp = (char **)(void *)((char *)c + cfg_keys[i].off);

			free(*sp);
			*sp = NULL;
		}
	}
	/* Secrets must not linger in freed memory; the text holds the password. */
	if (c->text)
		OPENSSL_cleanse(c->text, c->text_len);
	free(c->text);
	free(c->path);
	c->text = c->path = NULL;
	c->text_len = 0;
	OPENSSL_cleanse(c->secret, sizeof c->secret);
	OPENSSL_cleanse(c->prev_secret, sizeof c->prev_secret);
	c->prev_until = 0;
}

int cfg_keep_restart_only(const struct cfg *cur, struct cfg *next, int warn)
{
	int kept = 0;

	for (size_t i = 0; i < CFG_NKEYS; i++) {
		const struct cfg_key *k = &cfg_keys[i];
		const char *cp = (const char *)cur + k->off;
		char *np = (char *)next + k->off;

		if (!(k->flags & CF_RESTART))
			continue;
		if (k->type == CT_LONG) {
			long *nv = (long *)(void *)np, cv = *(const long *)(const void *)cp;

			if (*nv == cv)
				continue;
			if (warn)
				log_warn("reload: '%s' changes only on restart; keeping %ld", k->name, cv);
			*nv = cv;
		} else if (k->type == CT_BOOL) {
			int *nv = (int *)(void *)np, cv = *(const int *)(const void *)cp;

			if (*nv == cv)
				continue;
			if (warn)
				log_warn("reload: '%s' changes only on restart; keeping %s", k->name,
					 cv ? "true" : "false");
			*nv = cv;
		} else {
			char **ns = (char **)(void *)np;
			const char *cs = *(char *const *)(const void *)cp;

			if ((!*ns && !cs) || (*ns && cs && strcmp(*ns, cs) == 0))
				continue;
			if (warn)
				log_warn("reload: '%s' changes only on restart; keeping %s", k->name,
					 cs ? cs : "(none)");
			free(*ns);
			*ns = cs ? strdup(cs) : NULL;
			if (cs && !*ns)
				return -1;
		}
		kept++;
	}
	return kept;
}

int cfg_reload(const struct cfg *cur, struct cfg *next, time_t now)
{
	long grace = next->key_rotation_grace < 0 ? next->access_key_ttl : next->key_rotation_grace;

	if (CRYPTO_memcmp(cur->secret, next->secret, CFG_SECRET_LEN) == 0) {
		memcpy(next->prev_secret, cur->prev_secret, CFG_SECRET_LEN);
		next->prev_until = cur->prev_until;
	} else if (grace > 0) {
		/* Keys minted just before the change live out their own expiry. */
		memcpy(next->prev_secret, cur->secret, CFG_SECRET_LEN);
		next->prev_until = (int64_t)now + grace;
		log_notice("reload: new access-key secret; keys of the previous one stay valid for %ld s",
			   grace);
	} else {
		OPENSSL_cleanse(next->prev_secret, CFG_SECRET_LEN);
		next->prev_until = 0;
		log_notice("reload: new access-key secret; keys of the previous one are refused now");
	}
	return cfg_keep_restart_only(cur, next, 1);
}

/* Pack layout, big-endian: "PC" | version u8 | 0 u8 | prev_until i64 |
 * prev_secret[32] | path_len u16 | text_len u32 | path | text. */
#define CFG_PACK_VERSION 1
#define CFG_PACK_HDR (4 + 8 + CFG_SECRET_LEN + 2 + 4)
_Static_assert(CFG_PACK_HDR + CFG_PATH_MAX + CFG_TEXT_MAX <= CFG_PACK_MAX, "cfg_pack room");

static void cfg_put_be(uint8_t *p, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t cfg_get_be(const uint8_t *p, int n)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

size_t cfg_pack(const struct cfg *c, uint8_t *buf, size_t cap)
{
	size_t pl = c->path ? strlen(c->path) : 0, n = CFG_PACK_HDR + pl + c->text_len;

	if (!c->path || !c->text || pl > CFG_PATH_MAX || c->text_len > CFG_TEXT_MAX || n > cap)
		return 0;
	buf[0] = 'P';
	buf[1] = 'C';
	buf[2] = CFG_PACK_VERSION;
	buf[3] = 0;
	cfg_put_be(buf + 4, (uint64_t)c->prev_until, 8);
	memcpy(buf + 12, c->prev_secret, CFG_SECRET_LEN);
	cfg_put_be(buf + 12 + CFG_SECRET_LEN, pl, 2);
	cfg_put_be(buf + 14 + CFG_SECRET_LEN, c->text_len, 4);
	memcpy(buf + CFG_PACK_HDR, c->path, pl);
	memcpy(buf + CFG_PACK_HDR + pl, c->text, c->text_len);
	return n;
}

int cfg_unpack(const uint8_t *buf, size_t len, struct cfg *out, char *err, size_t err_len)
{
	char path[CFG_PATH_MAX + 1];
	size_t pl, tl;
	int64_t until;

	memset(out, 0, sizeof *out);
	if (len < CFG_PACK_HDR || buf[0] != 'P' || buf[1] != 'C' || buf[2] != CFG_PACK_VERSION) {
		snprintf(err, err_len, "configuration message: bad header");
		return -1;
	}
	pl = (size_t)cfg_get_be(buf + 12 + CFG_SECRET_LEN, 2);
	tl = (size_t)cfg_get_be(buf + 14 + CFG_SECRET_LEN, 4);
	if (pl == 0 || pl > CFG_PATH_MAX || tl > CFG_TEXT_MAX || len != CFG_PACK_HDR + pl + tl ||
	    memchr(buf + CFG_PACK_HDR, '\0', pl)) {
		snprintf(err, err_len, "configuration message: bad lengths");
		return -1;
	}
	memcpy(path, buf + CFG_PACK_HDR, pl);
	path[pl] = '\0';
	until = (int64_t)cfg_get_be(buf + 4, 8);
	if (cfg_load_text(path, (const char *)buf + CFG_PACK_HDR + pl, tl, out, err, err_len) != 0)
		return -1;
	out->prev_until = until > 0 ? until : 0;
	memcpy(out->prev_secret, buf + 12, CFG_SECRET_LEN);
	return 0;
}

int cfg_check_files(const struct cfg *c, char *err, size_t err_len)
{
	const char *files[] = { c->tls_cert, c->tls_key };

	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		if (files[i] && access(files[i], R_OK) != 0) {
			snprintf(err, err_len, "%s: '%s' %s: %s", c->path ? c->path : "configuration",
				 i == 0 ? "tls_cert" : "tls_key", files[i], strerror(errno));
			return -1;
		}
	}
	return 0;
}

int cfg_key_is_secret(const char *name)
{
	const struct cfg_key *k = cfg_find(name, NULL);

	return k && (k->flags & CF_SECRET);
}

int cfg_key_is_restart_only(const char *name)
{
	const struct cfg_key *k = cfg_find(name, NULL);

	return k && (k->flags & CF_RESTART);
}

int cfg_print_key(const struct cfg *c, const char *name, FILE *f)
{
	const struct cfg_key *k = cfg_find(name, NULL);
	const void *p;

	if (!k)
		return -1;
	p = (const char *)c + k->off;
	switch (k->type) {
	case CT_STR:
	case CT_PATH: {
		const char *s = *(char *const *)p;
		char path[CFG_PATH_MAX + 16];

		if (k->flags & CF_SECRET)
			/* Without key_secret, keys are signed with one derived from the password. */
			s = s && s[0] ? "<set>" : k->off == OFF(key_secret) ? "<derived>" : "";
		if (k->off == OFF(ipc_socket)) {
			/* What each worker really binds: ipc_socket itself, or ipc_socket.<i>. */
			for (unsigned i = 0; i < (unsigned)c->workers; i++)
				if (cfg_worker_socket(c, i, path, sizeof path) == 0)
					fprintf(f, "%s\n", path);
			break;
		}
		fprintf(f, "%s\n", s ? s : "");
		break;
	}
	case CT_LONG:
		fprintf(f, "%ld\n", *(const long *)p);
		break;
	case CT_LEVEL: {
		static const char *const names[] = { "error", "warn", "notice", "info", "debug" };

		fprintf(f, "%s\n", names[*(const enum log_level *)p]);
		break;
	}
	case CT_BOOL:
		fprintf(f, "%s\n", *(const int *)p ? "true" : "false");
		break;
	case CT_LIST: {
		/* One origin a line; an empty line for an empty list. */
		const char *s = *(char *const *)p;

		fprintf(f, "%s\n", s ? s : "");
		break;
	}
	}
	return 0;
}

int cfg_worker_socket(const struct cfg *c, unsigned index, char *out, size_t len)
{
	int n = c->workers > 1 ? snprintf(out, len, "%s.%u", c->ipc_socket, index)
			       : snprintf(out, len, "%s", c->ipc_socket);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}

void cfg_print_reference(FILE *f)
{
	fprintf(f, "%-24s %-20s %-8s %s\n", "# key", "default", "reload", "meaning");
	for (size_t i = 0; i < CFG_NKEYS; i++) {
		const struct cfg_key *k = &cfg_keys[i];

		fprintf(f, "%-24s %-20s %-8s %s%s\n", k->name,
			!k->def ? "(none)" : k->def[0] ? k->def : "\"\"",
			k->flags & CF_RESTART ? "restart" : "live", k->help,
			k->flags & CF_SECRET ? " (secret: never printed)" : "");
	}
}

int cfg_split_addr(const char *addr, char *host, size_t host_len, int *port)
{
	const char *colon, *hs = addr, *he;
	long n;

	if (addr[0] == '[') {
		he = strchr(addr, ']');
		if (!he || he[1] != ':')
			return -1;
		hs = addr + 1;
		colon = he + 1;
	} else {
		colon = strrchr(addr, ':');
		if (!colon || memchr(addr, ':', (size_t)(colon - addr)))
			return -1;
		he = colon;
	}
	if ((size_t)(he - hs) >= host_len)
		return -1;
	if (colon[1] < '0' || colon[1] > '9' || cfg_parse_long(colon + 1, &n) != 0 || n < 1 ||
	    n > 65535)
		return -1;
	memcpy(host, hs, (size_t)(he - hs));
	host[he - hs] = '\0';
	*port = (int)n;
	return 0;
}

long cfg_ack_waiters(const struct cfg *c)
{
	long n = c->ack_waiters_max < 0 ? c->fcgi_procs / 2 : c->ack_waiters_max;

	/* Checked at load, but a reload keeps the running fcgi_procs (restart-only):
	 * the rule holds against the one in force. */
	return n < c->fcgi_procs ? n : c->fcgi_procs - 1;
}
