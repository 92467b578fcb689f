/* SPDX-License-Identifier: MIT */
/* conf.yaml: one table of keys (name, type, bounds, default) read with libyaml.
 * Shared by ws-daemon and the FastCGI programs so both see the same values. */
#ifndef PUSH_CFG_H
#define PUSH_CFG_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "log.h"

#define CFG_SECRET_LEN 32   /* bytes of the derived access-key secret */
#define CFG_ERR_LEN 512
#define CFG_TEXT_MAX 32768  /* largest conf.yaml: it travels in one datagram (cfg_pack) */
#define CFG_PATH_MAX 1024   /* longest path of conf.yaml itself */
#define CFG_WORKERS_MAX 64  /* bound of `workers`; the sharding tables are this size */
#define CFG_FCGI_PROCS_MAX 256 /* bound of fcgi_procs (ack_waiters_max stays below it) */
#define CFG_TTL_MAX (86400L * 30)
/* The position control frame a resuming connection gets before its replay
 * (ws-daemon writes it; the history bounds leave it room in the send queue). */
#define CFG_POSITION_FRAME_MAX 192
#define CFG_MESSAGE_MAX 131072 /* bound of max_message_bytes: a /push body fits one datagram */
/* Bound of history_memory: 1 TiB where a long holds it (the preprocessor
 * computes in intmax_t, so the test itself cannot overflow), else LONG_MAX. */
#if LONG_MAX >= (1L << 40)
#define CFG_HISTORY_MEMORY_MAX (1L << 40)
#else
#define CFG_HISTORY_MEMORY_MAX LONG_MAX
#endif
/* What cfg_pack writes at most: header, path, text. */
#define CFG_PACK_MAX (64 + CFG_SECRET_LEN + CFG_PATH_MAX + CFG_TEXT_MAX)

/* Where the programs look without -c: the repository's conf.yaml for `make run`;
 * a package build passes -DPUSH_DEFAULT_CONF=\"/etc/push-service/conf.yaml\". */
#ifndef PUSH_DEFAULT_CONF
#define PUSH_DEFAULT_CONF "conf.yaml"
#endif

struct cfg {
	char *addr;            /* public host:port the web server listens on */
	char *ws_addr;         /* host:port of ws-daemon's own WebSocket listener */
	char *fcgi_addr;       /* host:port push-api listens on when it runs its own pool */
	char *fcgi_socket;     /* Unix socket lighttpd spawns push-api on */
	char *password;        /* business-server password; never logged */
	char *key_secret;      /* optional; access keys are signed with a key derived from it */
	char *ipc_socket;      /* absolute path of the daemon's datagram socket */
	char *tls_cert;        /* NULL, or PEM paths for HTTPS/WSS at the web server */
	char *tls_key;
	char *ipc_socket_group;/* group given write access to ipc_socket; "" = ours */
	char *run_dir;         /* absolute path for generated files and sockets */
	long access_key_ttl;   /* seconds */
	long max_uid_bytes;
	long max_message_bytes;        /* bound on a /push body */
	long push_timeout_ms;          /* /push waits this long for the daemon */
	long send_queue_max_messages;  /* per WebSocket connection */
	long send_queue_max_bytes;     /* per WebSocket connection */
	long ping_interval;            /* seconds of silence before a ping */
	long idle_timeout;             /* seconds of silence before hanging up */
	long fcgi_procs;               /* FastCGI processes the web server spawns */
	long workers;                  /* ws-daemon worker processes */
	long key_rotation_grace;       /* seconds; -1 = access_key_ttl */
	long history_size;             /* messages kept per uid; 0 = no history */
	long history_bytes;            /* bytes of frames kept per uid */
	long history_ttl;              /* seconds a message is kept */
	long history_memory;           /* bytes all histories of the daemon may hold */
	int offline_messages;          /* keep pushes to a uid with no connection */
	long ack_waiters_max;          /* pushes waiting for an ack at once; -1: cfg_ack_waiters */
	char *allowed_origins;         /* Origins a WebSocket may come from, one a line; "" = any */
	long max_connections_per_uid;  /* a uid's connections per daemon; 0 = no limit */
	long max_connections;          /* WebSockets per worker; 0 = from the open-files limit */
	int demo;                      /* push-api serves /demo/api/ (no password) */
	char *engine;                  /* "memory" or "redis" (cfg_engine_redis) */
	char *redis_servers;           /* host:port list for engine redis (cfg_redis_servers) */
	enum log_level log_level;
	unsigned char secret[CFG_SECRET_LEN]; /* derived; see cfg_load */
	/* Secret rotation (cfg_reload): keys signed with prev_secret stay valid
	 * until prev_until (unix seconds); 0 = no previous secret. */
	unsigned char prev_secret[CFG_SECRET_LEN];
	int64_t prev_until;
	/* Where the values came from: the file's path and its exact bytes, so
	 * another process can load the very same configuration (cfg_pack). */
	char *path;
	char *text;
	size_t text_len;
	uint32_t generation;           /* digest of text: tells another process it changed */
};

/*
 * Loads `path` into *out (zeroed first); on error returns -1, leaves *out empty
 * and writes "file:line: reason" into err. Relative paths in the file are taken
 * relative to the directory holding `path`. The caller owns *out and releases it
 * with cfg_free, also after a failure.
 */
int cfg_load(const char *path, struct cfg *out, char *err, size_t err_len);
void cfg_free(struct cfg *c);

/* As cfg_load, from text[0..len) instead of the file; `path` names the source in
 * errors and anchors relative paths (its directory). */
int cfg_load_text(const char *path, const char *text, size_t len, struct cfg *out, char *err,
		  size_t err_len);

/*
 * The reload rule, applied where a file is read (ws-daemon's supervisor): `next`
 * (freshly loaded) takes over
 * from `cur`, except keys flagged restart-only, which keep cur's values (each
 * one that differs is logged as a warning). When the signing secret changes,
 * cur's secret stays valid for key_rotation_grace seconds from now (default:
 * access_key_ttl; 0 revokes at once); when it does not, cur's rotation state
 * carries over. Returns the number of restart-only keys that were kept.
 */
int cfg_reload(const struct cfg *cur, struct cfg *next, time_t now);

/* The restart-only half of cfg_reload, for every process handed a configuration
 * whose rotation state the supervisor already decided (its workers, push-api;
 * see cfg_unpack). Logs the keys kept when `warn`; returns how many, -1 on out
 * of memory. */
int cfg_keep_restart_only(const struct cfg *cur, struct cfg *next, int warn);

/* The configuration as one message for another process: path, text and the
 * rotation state; 0 if cap is too small. cfg_unpack loads it into *out (which
 * the caller frees with cfg_free, also on failure), -1 with err on a bad one. */
size_t cfg_pack(const struct cfg *c, uint8_t *buf, size_t cap);
int cfg_unpack(const uint8_t *buf, size_t len, struct cfg *out, char *err, size_t err_len);

/* Writes the effective value of key `name` (as conf.yaml would spell it) to f;
 * -1 if there is no such key. Secrets print as "<set>" or "" ("<derived>" for
 * key_secret taken from the password); ipc_socket prints every worker's real
 * socket path, one a line. */
int cfg_print_key(const struct cfg *c, const char *name, FILE *f);

/* The datagram socket of ws-daemon worker `index`: ipc_socket itself with one
 * worker, "ipc_socket.<index>" with several. -1 if it does not fit out. */
int cfg_worker_socket(const struct cfg *c, unsigned index, char *out, size_t len);

/* Files the configuration names (TLS certificate and key) exist and can be
 * read by this process; -1 with "file: 'key' path: reason" in err. */
int cfg_check_files(const struct cfg *c, char *err, size_t err_len);

/* How many pushes may wait for an acknowledgement at once (ack_waiters_max,
 * its default being half of fcgi_procs). */
long cfg_ack_waiters(const struct cfg *c);

/* Whether key `name` is a secret (never printed) or restart-only. */
int cfg_key_is_secret(const char *name);
int cfg_key_is_restart_only(const char *name);

/* The key table as a reference: name, default, meaning, one key a line. */
void cfg_print_reference(FILE *f);

/* The Redis servers of engine redis, at most this many (uids are spread over them). */
#define CFG_REDIS_SERVERS_MAX 32

struct cfg_redis_server {
	char host[256];
	int port;
};

/* Whether engine is redis. */
int cfg_engine_redis(const struct cfg *c);
/* Parses redis_servers (host:port entries separated by commas or spaces) into
 * out[0..max); returns how many, -1 on a bad entry or more than max. */
int cfg_redis_servers(const struct cfg *c, struct cfg_redis_server *out, size_t max);

/* Splits "host:port", "[v6]:port" or ":port" (host then empty). Returns 0 on
 * success with host copied into host (NUL-terminated), -1 on bad syntax/port. */
int cfg_split_addr(const char *addr, char *host, size_t host_len, int *port);

#endif
