/* conf.yaml: one table of keys (name, type, bounds, default) read with libyaml.
 * Shared by ws-daemon and the FastCGI programs so both see the same values. */
#ifndef PUSH_CFG_H
#define PUSH_CFG_H

#include <stddef.h>
#include <stdio.h>

#include "log.h"

#define CFG_SECRET_LEN 32 /* bytes of the derived access-key secret */
#define CFG_ERR_LEN 512

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
	enum log_level log_level;
	unsigned char secret[CFG_SECRET_LEN]; /* derived; see cfg_load */
};

/*
 * Loads `path` into *out (zeroed first); on error returns -1, leaves *out empty
 * and writes "file:line: reason" into err. Relative paths in the file are taken
 * relative to the directory holding `path`. The caller owns *out and releases it
 * with cfg_free, also after a failure.
 */
int cfg_load(const char *path, struct cfg *out, char *err, size_t err_len);
void cfg_free(struct cfg *c);

/* Writes the effective value of key `name` (as conf.yaml would spell it) to f;
 * -1 if there is no such key. Secrets print as "<set>" or "". */
int cfg_print_key(const struct cfg *c, const char *name, FILE *f);

/* The datagram socket of ws-daemon worker `index`: ipc_socket itself with one
 * worker, "ipc_socket.<index>" with several. -1 if it does not fit out. */
int cfg_worker_socket(const struct cfg *c, unsigned index, char *out, size_t len);

/* The key table as a reference: name, default, meaning, one key a line. */
void cfg_print_reference(FILE *f);

/* Splits "host:port", "[v6]:port" or ":port" (host then empty). Returns 0 on
 * success with host copied into host (NUL-terminated), -1 on bad syntax/port. */
int cfg_split_addr(const char *addr, char *host, size_t host_len, int *port);

#endif
