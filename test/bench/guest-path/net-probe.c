/*
 * net-probe: the small TCP programs of the guest-path benchmark (guest-path.bench.ts).
 *
 *   net-probe server [close]     echo server on 127.0.0.1, ephemeral port; prints "port N".
 *                                With `close` it closes each connection after the echo.
 *   net-probe crr HOST PORT SECONDS PARALLEL
 *                                connections per second: each of PARALLEL slots loops
 *                                connect, send 1 byte, read the echo and the server's close,
 *                                close (netperf's TCP_CRR). Needs `server close`. Prints one
 *                                JSON line.
 *   net-probe rr HOST PORT SECONDS
 *                                request/response rate: one connection, 1-byte ping-pong
 *                                (netperf's TCP_RR), TCP_NODELAY. Prints one JSON line.
 *
 * Why a C program and not `nc -z` in a shell loop or iperf3: a fork+exec per connection costs
 * more than the connection itself, so the loop would measure the shell; iperf3 opens a
 * handful of connections per test. Here one process keeps PARALLEL non-blocking connects in
 * flight with epoll, so the figure is the network's, not the client's. The 1-byte exchange
 * proves every connection reached the host server (a connect-first peer only answers the
 * SYN once its host-side connect succeeded). The server closes first, as an HTTP/1.0 server
 * does. That also keeps TIME_WAIT on the server's side: had the peer's host socket closed
 * first, tens of thousands of TIME_WAIT sockets would hold the host's ephemeral ports, and
 * each further connect() of the peer would crawl through the port range (passt fell from
 * ~3000 to ~130 connections/s once the first 28000 were used up).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_PARALLEL 256
#define MAX_EVENTS 64

static void die(const char *what) {
	fprintf(stderr, "net-probe: %s: %s\n", what, strerror(errno));
	exit(1);
}

static double now_s(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void nodelay(int fd) {
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static struct sockaddr_in parse_addr(const char *host, const char *port) {
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(port))};
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		fprintf(stderr, "net-probe: not an IPv4 address: %s\n", host);
		exit(2);
	}
	return sa;
}

/* ---- server: echo everything back; close on EOF ------------------------------------------ */

static _Noreturn void server(int close_after_echo) {
	int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
	if (ls < 0) die("socket");
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof sa;
	if (bind(ls, (struct sockaddr *)&sa, sizeof sa) < 0) die("bind 127.0.0.1:0");
	if (listen(ls, 4096) < 0) die("listen");
	if (getsockname(ls, (struct sockaddr *)&sa, &sl) < 0) die("getsockname");
	printf("port %u\n", ntohs(sa.sin_port));
	fflush(stdout);

	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = ls}, evs[MAX_EVENTS];
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev) < 0) die("epoll");
	static char buf[65536];
	for (;;) {
		int n = epoll_wait(ep, evs, MAX_EVENTS, -1);
		if (n < 0 && errno == EINTR) continue;
		if (n < 0) die("epoll_wait");
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			if (fd == ls) {
				int c;
				while ((c = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
					nodelay(c);
					ev = (struct epoll_event){.events = EPOLLIN, .data.fd = c};
					if (epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev) < 0) close(c);
				}
				continue;
			}
			ssize_t r = read(fd, buf, sizeof buf);
			if (r < 0 && errno == EAGAIN) continue;
			/* Echo; the probes send 1 byte at a time, so a short write means a broken peer. */
			if (r <= 0 || write(fd, buf, (size_t)r) != r || close_after_echo) close(fd); /* also leaves epoll */
		}
	}
}

/* ---- crr: connect, 1-byte request, 1-byte response, server closes, close ------------------ */

enum slot_state { CONNECTING, WAITING };

static void open_conn(int ep, const struct sockaddr_in *sa, int slot, long *errors) {
	for (;;) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) die("socket");
		nodelay(fd);
		if (connect(fd, (const struct sockaddr *)sa, sizeof *sa) < 0 && errno != EINPROGRESS) {
			(*errors)++;
			close(fd);
			if (errno == EADDRNOTAVAIL) usleep(1000); /* out of local ports: let TIME_WAIT age */
			continue;
		}
		struct epoll_event ev = {.events = EPOLLOUT, .data.u64 = (uint64_t)slot << 32 | (uint32_t)fd};
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl");
		return;
	}
}

static int crr(const struct sockaddr_in *sa, double seconds, int parallel) {
	int ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0) die("epoll_create1");
	enum slot_state state[MAX_PARALLEL];
	int got[MAX_PARALLEL];
	long done = 0, errors = 0;
	for (int s = 0; s < parallel; s++) open_conn(ep, sa, s, &errors), state[s] = CONNECTING, got[s] = 0;
	double t0 = now_s(), end = t0 + seconds, t = t0;
	struct epoll_event evs[MAX_EVENTS];
	while (t < end) {
		int n = epoll_wait(ep, evs, MAX_EVENTS, 100);
		if (n < 0 && errno == EINTR) continue;
		if (n < 0) die("epoll_wait");
		for (int i = 0; i < n; i++) {
			int fd = (int)(uint32_t)evs[i].data.u64, s = (int)(evs[i].data.u64 >> 32), ok = 1;
			char b[2] = {'x', 0};
			if (state[s] == CONNECTING) {
				if (!(evs[i].events & (EPOLLERR | EPOLLHUP)) && write(fd, b, 1) == 1) {
					struct epoll_event ev = {.events = EPOLLIN, .data = evs[i].data};
					epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
					state[s] = WAITING, got[s] = 0;
					continue;
				}
				ok = 0;
			} else {
				/* The echo, then the server's FIN (read() == 0); data and EOF may come in one wakeup. */
				ssize_t r;
				while ((r = read(fd, b, sizeof b)) > 0) got[s] += (int)r;
				if (r < 0 && errno == EAGAIN) continue;
				ok = r == 0 && got[s] == 1;
				if (ok) done++;
			}
			if (!ok) errors++;
			close(fd);
			open_conn(ep, sa, s, &errors);
			state[s] = CONNECTING;
		}
		t = now_s();
	}
	printf("{\"transactions\":%ld,\"seconds\":%.3f,\"errors\":%ld,\"parallel\":%d}\n", done, t - t0, errors, parallel);
	return 0;
}

/* ---- rr: 1-byte ping-pong over one connection --------------------------------------------- */

static int rr(const struct sockaddr_in *sa, double seconds) {
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) die("socket");
	nodelay(fd);
	if (connect(fd, (const struct sockaddr *)sa, sizeof *sa) < 0) die("connect");
	long done = 0;
	double t0 = now_s(), end = t0 + seconds, t = t0;
	char b = 'x';
	while (t < end) {
		if (write(fd, &b, 1) != 1) die("write");
		if (read(fd, &b, 1) != 1) die("read");
		done++;
		t = now_s(); /* vDSO: no syscall */
	}
	close(fd);
	printf("{\"transactions\":%ld,\"seconds\":%.3f,\"errors\":0,\"parallel\":1}\n", done, t - t0);
	return 0;
}

int main(int argc, char **argv) {
	signal(SIGPIPE, SIG_IGN);
	if (argc == 2 && !strcmp(argv[1], "server")) server(0);
	if (argc == 3 && !strcmp(argv[1], "server") && !strcmp(argv[2], "close")) server(1);
	if (argc == 6 && !strcmp(argv[1], "crr")) {
		int parallel = atoi(argv[5]);
		if (parallel < 1 || parallel > MAX_PARALLEL) {
			fprintf(stderr, "net-probe: PARALLEL must be 1..%d\n", MAX_PARALLEL);
			return 2;
		}
		struct sockaddr_in sa = parse_addr(argv[2], argv[3]);
		return crr(&sa, atof(argv[4]), parallel);
	}
	if (argc == 5 && !strcmp(argv[1], "rr")) {
		struct sockaddr_in sa = parse_addr(argv[2], argv[3]);
		return rr(&sa, atof(argv[4]));
	}
	fprintf(stderr, "usage: net-probe server [close] | crr HOST PORT SECONDS PARALLEL | rr HOST PORT SECONDS\n");
	return 2;
}
