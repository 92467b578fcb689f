/* SPDX-License-Identifier: MIT */
/* Unix-domain datagram sockets for the IPC protocol: the FastCGI side's
 * request/reply client and the daemon side's bound server socket. */
#ifndef PUSH_IPC_SOCK_H
#define PUSH_IPC_SOCK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum ipc_call_rc {
	IPC_CALL_OK = 0,
	IPC_CALL_DOWN,      /* no daemon at the path (ENOENT/ECONNREFUSED, after one retry) */
	IPC_CALL_BUSY,      /* daemon's queue stayed full (EAGAIN) for the whole timeout */
	IPC_CALL_TIMEOUT,   /* no matching reply in time */
	IPC_CALL_TOO_BIG,   /* EMSGSIZE */
	IPC_CALL_ERROR,     /* anything else; errno kept */
};

/* One per process; the struct is the caller's, the fd is owned by it. */
struct ipc_client {
	int fd;                /* -1 when closed */
	char path[108];        /* daemon socket path (sun_path size) */
};

/* Prepares c for path; the socket itself is made on first call. Returns -1 if
 * path does not fit sun_path. */
int ipc_client_init(struct ipc_client *c, const char *path);
void ipc_client_close(struct ipc_client *c);

/* Milliseconds of CLOCK_MONOTONIC: the base of the deadlines below. */
long ipc_clock_ms(void);

/* Sends one datagram, waiting for room in a full daemon queue until deadline
 * (ipc_clock_ms based; a deadline already past means "do not wait"). */
enum ipc_call_rc ipc_client_send(struct ipc_client *c, const uint8_t *msg, size_t len,
				 long deadline);

/* Waits until deadline for the next datagram with a valid header (any request
 * id: the caller matches it; one already queued is taken even past the
 * deadline); it lands in buf[0..cap), *len its size. */
enum ipc_call_rc ipc_client_recv(struct ipc_client *c, uint8_t *buf, size_t cap, size_t *len,
				 long deadline);

/*
 * Sends req[0..len) and waits for a reply datagram whose header carries req_id;
 * replies with other ids (late answers to earlier, timed-out calls) are
 * discarded. timeout_ms bounds the whole call, including waiting for room in a
 * full daemon queue (the kernel's net.unix.max_dgram_qlen, 10 by default).
 * The reply lands in reply[0..cap), *reply_len its size.
 */
enum ipc_call_rc ipc_client_call(struct ipc_client *c, const uint8_t *req, size_t len,
				 uint32_t req_id, uint8_t *reply, size_t cap,
				 size_t *reply_len, long timeout_ms);

/* Sends one datagram that gets no answer, never waiting: 0 once it sits in the
 * daemon's queue, -1 when the daemon is down or busy (the caller keeps what it
 * could not tell, and tells it later). */
int ipc_client_notify(struct ipc_client *c, const uint8_t *msg, size_t len);

const char *ipc_call_rc_str(enum ipc_call_rc rc);

/*
 * Makes path free for a new socket of `type` (SOCK_DGRAM, SOCK_STREAM): absent, or
 * a socket file left by a crash (connect says ECONNREFUSED), which is removed. A
 * live socket or any other file is an error (reason in err, "in use" for a live one).
 */
int ipc_unlink_stale(const char *path, int type, char *err, size_t err_len);

/*
 * Creates and binds the daemon's non-blocking socket at path with permissions
 * mode from the start. A stale socket file (ECONNREFUSED) is replaced; a live or
 * foreign one is an error. *lock_fd gets an flock'd "<path>.lock" the caller
 * keeps open while it serves (closing it releases the path). Returns the
 * socket fd, or -1 with a reason in err (and no lock held).
 */
int ipc_server_open(const char *path, mode_t mode, int *lock_fd, char *err, size_t err_len);

#endif
