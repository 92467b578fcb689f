/* conf.yaml loader: a flat YAML mapping checked against one table of keys.
 * Every value, defaults included, goes through the same typed setter and bounds. */
#include "cfg.h"
#include "req.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <yaml.h>

enum cfg_type { CT_STR, CT_PATH, CT_LONG, CT_LEVEL };

struct cfg_key {
	const char *name;
	enum cfg_type type;
	size_t off;
	long min, max;     /* CT_LONG bounds; CT_STR: min 1 = must not be empty */
	const char *def;   /* NULL: no default (key optional unless min says so) */
	const char *help;
};

#define OFF(f) offsetof(struct cfg, f)

/* Datagram room: max_message_bytes must leave space for the IPC header and uid
 * inside one datagram (see ipc.h, IPC_MAX_DATAGRAM). */
static const struct cfg_key cfg_keys[] = {
	{ "addr", CT_STR, OFF(addr), 1, 0, "0.0.0.0:8080", "public address of the web server" },
	{ "ws_addr", CT_STR, OFF(ws_addr), 1, 0, "127.0.0.1:8081", "ws-daemon WebSocket listener" },
	{ "fcgi_socket", CT_PATH, OFF(fcgi_socket), 1, 0, "run/push-api.sock", "socket lighttpd spawns push-api on" },
	{ "fcgi_addr", CT_STR, OFF(fcgi_addr), 1, 0, "127.0.0.1:8082", "push-api's FastCGI address when it runs its own pool (Apache)" },
	{ "password", CT_STR, OFF(password), 1, 0, NULL, "business-server password (required)" },
	{ "key_secret", CT_STR, OFF(key_secret), 0, 0, NULL, "access-key signing secret (default: from password)" },
	{ "run_dir", CT_PATH, OFF(run_dir), 1, 0, "run", "directory for sockets and generated files" },
	{ "ipc_socket", CT_PATH, OFF(ipc_socket), 1, 0, "run/ws-daemon.sock", "daemon datagram socket" },
	{ "ipc_socket_group", CT_STR, OFF(ipc_socket_group), 0, 0, "", "group allowed to push (default: the daemon's)" },
	{ "tls_cert", CT_PATH, OFF(tls_cert), 0, 0, NULL, "PEM certificate: the web server speaks HTTPS/WSS" },
	{ "tls_key", CT_PATH, OFF(tls_key), 0, 0, NULL, "PEM private key for tls_cert" },
	{ "access_key_ttl", CT_LONG, OFF(access_key_ttl), 1, 86400L * 30, "60", "access key lifetime, seconds" },
	{ "max_uid_bytes", CT_LONG, OFF(max_uid_bytes), 1, REQ_UID_MAX, "256", "longest uid accepted" },
	{ "max_message_bytes", CT_LONG, OFF(max_message_bytes), 64, 131072, "65536", "largest /push body" },
	{ "push_timeout_ms", CT_LONG, OFF(push_timeout_ms), 10, 60000, "2000", "how long /push waits for ws-daemon" },
	{ "send_queue_max_messages", CT_LONG, OFF(send_queue_max_messages), 1, 1000000, "1024", "per-connection queue, messages" },
	{ "send_queue_max_bytes", CT_LONG, OFF(send_queue_max_bytes), 1024, 1L << 30, "1048576", "per-connection queue, bytes" },
	{ "ping_interval", CT_LONG, OFF(ping_interval), 1, 3600, "30", "idle seconds before a WebSocket ping" },
	{ "idle_timeout", CT_LONG, OFF(idle_timeout), 2, 7200, "75", "idle seconds before hanging up" },
	{ "workers", CT_LONG, OFF(workers), 0, 64, "0", "ws-daemon worker processes; 0 = one per CPU" },
	{ "fcgi_procs", CT_LONG, OFF(fcgi_procs), 1, 256, "4", "FastCGI processes per web server" },
	{ "log_level", CT_LEVEL, OFF(log_level), 0, 0, "info", "error|warn|notice|info|debug" },
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

/* Reads the top-level mapping; each key is looked up in the table. */
static int cfg_read_pairs(struct cfg_ctx *x, yaml_parser_t *p, struct cfg *c)
{
	yaml_event_t ev;
	size_t idx, line;
	int rc = -1, expect_key = 1;
	const struct cfg_key *k = NULL;

	for (;;) {
		if (!yaml_parser_parse(p, &ev))
			return cfg_fail(x, p->problem_mark.line + 1, "YAML error: %s",
					p->problem ? p->problem : "unknown");
		line = ev.start_mark.line + 1;
		if (ev.type == YAML_MAPPING_END_EVENT && expect_key) {
			yaml_event_delete(&ev);
			return 0;
		}
		if (cfg_expect_scalar(x, &ev, expect_key ? "a key" : "a value") != 0)
			goto out;
		if (expect_key) {
			const char *name = (const char *)ev.data.scalar.value;

			k = cfg_find(name, &idx);
			if (!k) {
				cfg_fail(x, line, "unknown key '%s'", name);
				goto out;
			}
			if (x->seen[idx]) {
				cfg_fail(x, line, "key '%s' given twice", name);
				goto out;
			}
			x->seen[idx] = 1;
		} else if (cfg_set(x, c, k, cfg_scalar(&ev), line) != 0) {
			goto out;
		}
		expect_key = !expect_key;
		yaml_event_delete(&ev);
	}
out:
	yaml_event_delete(&ev);
	return rc;
}

/* Walks stream/document/mapping framing around cfg_read_pairs. */
static int cfg_read_file(struct cfg_ctx *x, FILE *f, struct cfg *c)
{
	yaml_parser_t p;
	yaml_event_t ev;
	int rc = -1, in_doc = 0;

	if (!yaml_parser_initialize(&p))
		return cfg_fail(x, 0, "cannot initialise YAML parser");
	yaml_parser_set_input_file(&p, f);
	for (;;) {
		if (!yaml_parser_parse(&p, &ev)) {
			cfg_fail(x, p.problem_mark.line + 1, "YAML error: %s",
				 p.problem ? p.problem : "unknown");
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
			if (cfg_read_pairs(x, &p, c) != 0) {
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
	yaml_parser_delete(&p);
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

int cfg_load(const char *path, struct cfg *out, char *err, size_t err_len)
{
	struct cfg_ctx x = { .path = path, .err = err, .err_len = err_len };
	FILE *f = NULL;
	int rc = -1;

	memset(out, 0, sizeof *out);
	err[0] = '\0';
	x.dir = cfg_dirname(path);
	if (!x.dir) {
		cfg_fail(&x, 0, "out of memory");
		goto fail;
	}
	f = fopen(path, "r");
	if (!f) {
		cfg_fail(&x, 0, "cannot open: %s", strerror(errno));
		goto fail;
	}
	if (cfg_read_file(&x, f, out) != 0 || cfg_apply_defaults(&x, out) != 0 ||
	    cfg_derive_secret(&x, out) != 0)
		goto fail;
	if (cfg_check_addrs(&x, out) != 0)
		goto fail;
	if (out->workers == 0) {
		/* One per CPU, as many as the cap allows. */
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		out->workers = n < 1 ? 1 : n > 64 ? 64 : n;
	}
	if (!out->tls_cert != !out->tls_key) {
		cfg_fail(&x, 0, "'tls_cert' and 'tls_key' go together");
		goto fail;
	}
	if (out->send_queue_max_bytes < out->max_message_bytes) {
		/* Otherwise a single big message would cull every reader as "slow". */
		cfg_fail(&x, 0, "'send_queue_max_bytes' (%ld) must be at least 'max_message_bytes' (%ld)",
			 out->send_queue_max_bytes, out->max_message_bytes);
		goto fail;
	}
	if (out->ping_interval >= out->idle_timeout) {
		cfg_fail(&x, 0, "'ping_interval' (%ld) must be less than 'idle_timeout' (%ld)",
			 out->ping_interval, out->idle_timeout);
		goto fail;
	}
	rc = 0;
fail:
	if (f)
		fclose(f);
	free(x.dir);
	if (rc != 0)
		cfg_free(out);
	return rc;
}

void cfg_free(struct cfg *c)
{
	for (size_t i = 0; i < CFG_NKEYS; i++) {
		if (cfg_keys[i].type == CT_STR || cfg_keys[i].type == CT_PATH) {
			char **sp = (char **)(void *)((char *)c + cfg_keys[i].off);

			free(*sp);
			*sp = NULL;
		}
	}
	/* The derived secret must not linger in freed memory. */
	OPENSSL_cleanse(c->secret, sizeof c->secret);
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

		if (k->off == OFF(password) || k->off == OFF(key_secret))
			s = s && s[0] ? "<set>" : "";
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
	for (size_t i = 0; i < CFG_NKEYS; i++) {
		const struct cfg_key *k = &cfg_keys[i];

		fprintf(f, "%-24s %-20s %s\n", k->name, k->def ? k->def : "(none)", k->help);
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
