/* SPDX-License-Identifier: MIT */
/* A small prefork process manager for push-api when no web server spawns it
 * (Apache's mod_proxy_fcgi, systemd): one listening socket, N supervised workers. */
#ifndef PUSH_API_POOL_H
#define PUSH_API_POOL_H

#include <sys/types.h>

/* Runs in each worker with the listening FastCGI socket; its return value is
 * the worker's exit status. */
typedef int (*api_pool_worker_fn)(int listen_fd, void *arg);

/*
 * Creates the FastCGI socket at path — a Unix socket path (a stale file is
 * replaced) or "host:port" for TCP — with the given
 * mode, forks n workers running fn, restarts any that dies, and on SIGTERM or
 * SIGINT stops them all (SIGKILL after grace_s), removes the socket and returns 0.
 * Returns 1 if the socket cannot be set up. Only the parent returns.
 */
int api_pool_run(const char *path, mode_t mode, unsigned n, unsigned grace_s,
		 api_pool_worker_fn fn, void *arg);

#endif
