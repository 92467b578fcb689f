/* SPDX-License-Identifier: MIT */
/* The FastCGI hop's floor on this machine: a trivial libfcgi responder that does
 * what /push must do at least (read the body, one Unix-datagram round trip, answer).
 * Spawned by lighttpd (listening socket on fd 0); each process forks its own echo
 * peer on a datagram socketpair. The answer has /push's success shape, number 1. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fcgiapp.h>

#define FLOOR_BODY_MAX 65536

static void echo_loop(int fd)
{
	static char buf[FLOOR_BODY_MAX];

	(void)prctl(PR_SET_PDEATHSIG, SIGTERM);
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof buf, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || send(fd, buf, (size_t)n, 0) != n)
			_exit(1);
	}
}

static size_t read_body(FCGX_Request *r, char *buf, size_t cap)
{
	const char *cl = FCGX_GetParam("CONTENT_LENGTH", r->envp);
	long want = cl ? strtol(cl, NULL, 10) : 0;
	size_t got = 0;

	if (want < 0 || (size_t)want > cap)
		return 0;
	while (got < (size_t)want) {
		int n = FCGX_GetStr(buf + got, (int)((size_t)want - got), r->in);

		if (n <= 0)
			break;
		got += (size_t)n;
	}
	return got;
}

int main(void)
{
	static const char ok[] = "{\"topic\":\"success\",\"number\":1,\"contents\":\"ok\"}";
	static char body[FLOOR_BODY_MAX];
	FCGX_Request req;
	int sv[2];
	pid_t kid;

	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) != 0)
		return 1;
	kid = fork();
	if (kid < 0)
		return 1;
	if (kid == 0) {
		(void)close(sv[0]);
		echo_loop(sv[1]);
	}
	(void)close(sv[1]);
	if (FCGX_Init() != 0 || FCGX_InitRequest(&req, 0, 0) != 0)
		return 1;
	while (FCGX_Accept_r(&req) >= 0) {
		size_t n = read_body(&req, body, sizeof body);
		/* An empty body still makes the round trip: a one-byte datagram. */
		if (send(sv[0], body, n ? n : 1, 0) < 0 || recv(sv[0], body, sizeof body, 0) < 0)
			FCGX_FPrintF(req.out, "Status: 503 Service Unavailable\r\n\r\n");
		else /* libfcgi's own printf knows no %zu */
			FCGX_FPrintF(req.out,
				     "Status: 200 OK\r\nContent-Type: application/json\r\n"
				     "Content-Length: %d\r\n\r\n%s",
				     (int)sizeof ok - 1, ok);
		FCGX_Finish_r(&req);
	}
	return 0;
}
