/* SPDX-License-Identifier: MIT */
/* The kernel's floor for delivery on this machine: one write() of a frame-sized
 * buffer per message, round-robin over N loopback TCP sockets, nothing else.
 * usage: sendfloor --conns N --bytes B --duration S --write-cpu C --read-cpu C
 * The writer (this process, on --write-cpu) holds the client ends; a forked reader
 * on --read-cpu accepts and drains them with epoll, as a subscriber process would.
 * Prints one JSON line: writes/s and the writer's CPU µs per write (utime+stime). */
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what)
{
	fprintf(stderr, "sendfloor: %s: %s\n", what, strerror(errno));
	exit(1);
}

static double now_s(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		die("clock_gettime");
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		die("getrusage");
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void pin(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof set, &set) != 0)
		die("sched_setaffinity");
}

/* Reader: accepts n connections, then drains until every peer has closed. */
static void reader(int lfd, long n, int cpu)
{
	static char buf[65536];
	struct epoll_event ev, evs[256];
	long open = 0;
	int ep;

	pin(cpu);
	ep = epoll_create1(0);
	if (ep < 0)
		die("epoll_create1");
	for (long i = 0; i < n; i++) {
		int fd = accept(lfd, NULL, NULL);

		if (fd < 0)
			die("accept");
		ev = (struct epoll_event){ .events = EPOLLIN, .data.fd = fd };
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0)
			die("epoll_ctl");
		open++;
	}
	while (open > 0) {
		int k = epoll_wait(ep, evs, 256, 10000);

		if (k <= 0)
			break;
		for (int i = 0; i < k; i++) {
			ssize_t r = read(evs[i].data.fd, buf, sizeof buf);

			if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
				(void)close(evs[i].data.fd);
				open--;
			}
		}
	}
	_exit(0);
}

int main(int argc, char **argv)
{
	long conns = 1000, bytes = 110;
	double duration = 3;
	int wcpu = -1, rcpu = -1, lfd, *fds;
	static const struct option opts[] = {
		{ "conns", 1, 0, 'n' }, { "bytes", 1, 0, 'b' }, { "duration", 1, 0, 'd' },
		{ "write-cpu", 1, 0, 'w' }, { "read-cpu", 1, 0, 'r' }, { 0, 0, 0, 0 }
	};
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof sa;
	pid_t kid;
	int c, st;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'n': conns = atol(optarg); break;
		case 'b': bytes = atol(optarg); break;
		case 'd': duration = atof(optarg); break;
		case 'w': wcpu = atoi(optarg); break;
		case 'r': rcpu = atoi(optarg); break;
		default: fprintf(stderr, "usage: see the head of bench/sendfloor.c\n"); return 2;
		}
	}
	if (conns < 1 || conns > 9000 || bytes < 1 || bytes > 65536 || duration <= 0 ||
	    duration > 60) {
		fprintf(stderr, "sendfloor: --conns 1..9000, --bytes 1..65536, --duration 0..60\n");
		return 2;
	}
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
	    listen(lfd, 4096) != 0 || getsockname(lfd, (struct sockaddr *)&sa, &sl) != 0)
		die("listen");
	kid = fork();
	if (kid < 0)
		die("fork");
	if (kid == 0)
		reader(lfd, conns, rcpu);
	(void)close(lfd);
	pin(wcpu);
	fds = calloc((size_t)conns, sizeof *fds);
	if (!fds)
		die("calloc");
	for (long i = 0; i < conns; i++) {
		int one = 1;

		fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fds[i] < 0 || connect(fds[i], (struct sockaddr *)&sa, sizeof sa) != 0)
			die("connect");
		/* As a WebSocket server sets it: each frame leaves at once. */
		if (setsockopt(fds[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
			die("TCP_NODELAY");
	}
	char *buf = malloc((size_t)bytes);
	if (!buf)
		die("malloc");
	memset(buf, 'x', (size_t)bytes);
	sleep(1); /* the reader has accepted them all and sits in epoll_wait */
	double t0 = now_s(), c0 = cpu_s(), t1;
	uint64_t writes = 0;
	do {
		/* Checked every round of 1,000 writes: the clock costs less than a write. */
		for (int k = 0; k < 1000; k++) {
			if (write(fds[writes % (uint64_t)conns], buf, (size_t)bytes) != bytes)
				die("write");
			writes++;
		}
		t1 = now_s();
	} while (t1 - t0 < duration);
	double cpu = cpu_s() - c0;
	for (long i = 0; i < conns; i++)
		(void)close(fds[i]);
	if (waitpid(kid, &st, 0) < 0)
		die("waitpid");
	printf("{\"scenario\":\"floor1k\",\"target\":\"kernel\",\"conns\":%ld,\"bytes\":%ld,"
	       "\"writes\":%llu,\"seconds\":%.3f,\"writes_per_s\":%.1f,\"cpu_us_per_write\":%.3f}\n",
	       conns, bytes, (unsigned long long)writes, t1 - t0, (double)writes / (t1 - t0),
	       cpu * 1e6 / (double)writes);
	free(buf);
	free(fds);
	return 0;
}
