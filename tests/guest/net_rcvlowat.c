/* SO_RCVLOWAT on TCP, AF_UNIX and UDP sockets (issue 12;
 * tests/e2e_netlowat.rs), run natively in a fresh network namespace (lo up)
 * and under umbra, as root. Linux:
 *
 *   opts      getsockopt reports 1 by default; 0 is stored as 1, a negative
 *             value as INT_MAX (AF_UNIX; TCP caps it at half its receive
 *             buffer, which depends on the machine); SO_SNDLOWAT cannot be
 *             set (ENOPROTOOPT) and reads 1
 *   tcppoll   tcp_poll reports POLLIN only once SO_RCVLOWAT bytes are queued
 *             (poll, select and epoll), or at the peer's FIN
 *   tcprecv   a blocking receive waits for min(lowat, len) bytes
 *             (tcp_recvmsg's target), over several arrivals; it returns
 *             fewer at end of stream or when SO_RCVTIMEO passes;
 *             MSG_DONTWAIT and O_NONBLOCK return what is there
 *   unix      unix_stream_recvmsg honours it as TCP does, but unix_poll
 *             does not: POLLIN with one byte queued
 *   udp       a datagram socket stores it and ignores it
 *
 * A reader that must wait is a child; the parent writes only once the child
 * sleeps (polling /proc/PID/stat), and the child's result does not depend on
 * when it woke. The output does not depend on timing.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

static const char *ename(int e)
{
	switch (e) {
	case EAGAIN: return "EAGAIN";
	case ENOPROTOOPT: return "ENOPROTOOPT";
	default: return errname(e);
	}
}

static void res(const char *what, long r)
{
	if (r < 0)
		printf("%s: -1 %s\n", what, ename(errno));
	else
		printf("%s: %ld\n", what, r);
}

/* A connected TCP pair over 127.0.0.1: sv[0] the connecting end, sv[1] the
 * accepted one. */
static void tcp_pair(int sv[2])
{
	int l = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t al = sizeof a;
	if (bind(l, (void *)&a, sizeof a) || listen(l, 4) || getsockname(l, (void *)&a, &al)) {
		perror("listen");
		exit(1);
	}
	sv[0] = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(sv[0], (void *)&a, sizeof a)) {
		perror("connect");
		exit(1);
	}
	sv[1] = accept(l, NULL, NULL);
	int one = 1;
	setsockopt(sv[0], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	close(l);
}

static void unix_pair(int sv[2])
{
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) {
		perror("socketpair");
		exit(1);
	}
}

static int getlowat(int fd, int opt)
{
	int v = -7;
	socklen_t l = sizeof v;
	if (getsockopt(fd, SOL_SOCKET, opt, &v, &l))
		return -errno;
	return v;
}

static void setlowat(const char *what, int fd, int v)
{
	long r = setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &v, sizeof v);
	if (r < 0)
		printf("%s: set %d: -1 %s\n", what, v, ename(errno));
	else
		printf("%s: set %d: get %d\n", what, v, getlowat(fd, SO_RCVLOWAT));
}

static void opts(void)
{
	int t[2], u[2];
	tcp_pair(t);
	unix_pair(u);
	int d = socket(AF_INET, SOCK_DGRAM, 0);
	printf("default tcp %d unix %d udp %d\n", getlowat(t[1], SO_RCVLOWAT),
	       getlowat(u[1], SO_RCVLOWAT), getlowat(d, SO_RCVLOWAT));
	setlowat("tcp", t[1], 0);
	setlowat("tcp", t[1], 8);
	setlowat("tcp", t[1], 1000);
	setlowat("unix", u[1], 0);
	setlowat("unix", u[1], 8);
	setlowat("unix", u[1], -1);
	setlowat("unix", u[1], INT_MAX);
	setlowat("udp", d, 0);
	setlowat("udp", d, 8);
	setlowat("udp", d, -5);
	int v = 4;
	res("tcp SO_SNDLOWAT set", setsockopt(t[1], SOL_SOCKET, SO_SNDLOWAT, &v, sizeof v));
	res("unix SO_SNDLOWAT set", setsockopt(u[1], SOL_SOCKET, SO_SNDLOWAT, &v, sizeof v));
	res("udp SO_SNDLOWAT set", setsockopt(d, SOL_SOCKET, SO_SNDLOWAT, &v, sizeof v));
	printf("SO_SNDLOWAT get tcp %d unix %d udp %d\n", getlowat(t[1], SO_SNDLOWAT),
	       getlowat(u[1], SO_SNDLOWAT), getlowat(d, SO_SNDLOWAT));
	short sv = 2;
	res("short optlen", setsockopt(u[1], SOL_SOCKET, SO_RCVLOWAT, &sv, sizeof sv));
	close(t[0]);
	close(t[1]);
	close(u[0]);
	close(u[1]);
	close(d);
}

/* poll, select and epoll's view of `fd`'s readability, now. */
static void readiness(const char *what, int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN | POLLRDHUP };
	int n = poll(&p, 1, 0);
	fd_set rs;
	FD_ZERO(&rs);
	FD_SET(fd, &rs);
	struct timeval tv = { 0, 0 };
	int s = select(fd + 1, &rs, NULL, NULL, &tv);
	int ep = epoll_create1(0);
	struct epoll_event ev = { .events = EPOLLIN }, out;
	epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
	int e = epoll_wait(ep, &out, 1, 0);
	close(ep);
	printf("%s: poll %d revents 0x%x select %d epoll %d", what, n, n > 0 ? p.revents : 0, s, e);
	if (e > 0)
		printf(" events 0x%x", out.events);
	printf("\n");
}

static void stream_poll(const char *fam, int sv[2])
{
	char name[64];
	int v = 8;
	setsockopt(sv[1], SOL_SOCKET, SO_RCVLOWAT, &v, sizeof v);
	snprintf(name, sizeof name, "%s empty", fam);
	readiness(name, sv[1]);
	send(sv[0], "abc", 3, 0);
	snprintf(name, sizeof name, "%s 3 of 8", fam);
	readiness(name, sv[1]);
	send(sv[0], "defg", 4, 0);
	snprintf(name, sizeof name, "%s 7 of 8", fam);
	readiness(name, sv[1]);
	send(sv[0], "h", 1, 0);
	snprintf(name, sizeof name, "%s 8 of 8", fam);
	readiness(name, sv[1]);
	v = 9;
	setsockopt(sv[1], SOL_SOCKET, SO_RCVLOWAT, &v, sizeof v);
	snprintf(name, sizeof name, "%s 8 of 9", fam);
	readiness(name, sv[1]);
	v = 0;
	setsockopt(sv[1], SOL_SOCKET, SO_RCVLOWAT, &v, sizeof v);
	snprintf(name, sizeof name, "%s 8 of 0", fam);
	readiness(name, sv[1]);
	v = 100;
	setsockopt(sv[1], SOL_SOCKET, SO_RCVLOWAT, &v, sizeof v);
	snprintf(name, sizeof name, "%s 8 of 100", fam);
	readiness(name, sv[1]);
	shutdown(sv[0], SHUT_WR);
	snprintf(name, sizeof name, "%s 8 of 100 then FIN", fam);
	readiness(name, sv[1]);
	close(sv[0]);
	close(sv[1]);
}

static char state_of(pid_t pid)
{
	char path[64], line[512];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return '?';
	size_t n = fread(line, 1, sizeof line - 1, f);
	fclose(f);
	line[n] = 0;
	char *p = strrchr(line, ')');
	return p && p[1] == ' ' ? p[2] : '?';
}

/* Waits (generously) until process `pid` sleeps, or has ended. */
static void wait_asleep(pid_t pid)
{
	for (int i = 0; i < 60000; i++) {
		char c = state_of(pid);
		if (c == 'S' || c == 'Z')
			return;
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	printf("child never slept\n");
}

/* A child receives `len` with `flags` from sv[1] (lowat 8). With `pre`, 3
 * bytes are queued before, and the parent sends 2 more once it sleeps, then
 * 3 more; without, it starts on an empty queue, and the parent sends 3 once
 * it sleeps, then 5. (TCP wakes a sleeping reader only when SO_RCVLOWAT
 * bytes are queued, not counting what the reader took before it slept, so
 * a TCP reader that took some first may sleep until 8 more come: TCP runs
 * without `pre`.) */
static void blocking_recv(const char *what, int sv[2], size_t len, int flags, int pre)
{
	int v = 8;
	setsockopt(sv[1], SOL_SOCKET, SO_RCVLOWAT, &v, sizeof v);
	if (pre)
		send(sv[0], "abc", 3, 0);
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		char buf[128];
		long r = recv(sv[1], buf, len, flags);
		if (r < 0)
			printf("%s: -1 %s\n", what, ename(errno));
		else
			printf("%s: %ld '%.*s'\n", what, r, (int)r, buf);
		exit(0);
	}
	wait_asleep(c);
	if (pre) {
		send(sv[0], "de", 2, 0);
		wait_asleep(c);
		send(sv[0], "fgh", 3, 0);
	} else {
		send(sv[0], "abc", 3, 0);
		wait_asleep(c);
		send(sv[0], "defgh", 5, 0);
	}
	int st;
	waitpid(c, &st, 0);
	char buf[128];
	long r = recv(sv[1], buf, sizeof buf, MSG_DONTWAIT);
	if (r < 0)
		printf("%s: left -1 %s\n", what, ename(errno));
	else
		printf("%s: left %ld '%.*s'\n", what, r, (int)r, buf);
}

static void stream_recv(const char *fam, void (*mk)(int[2]), int pre)
{
	int sv[2];
	char name[64], buf[128];
	long r;

	mk(sv);
	snprintf(name, sizeof name, "%s recv 100", fam);
	blocking_recv(name, sv, 100, 0, pre);
	snprintf(name, sizeof name, "%s recv 5", fam);
	blocking_recv(name, sv, 5, 0, pre);
	snprintf(name, sizeof name, "%s recv 6 WAITALL", fam);
	blocking_recv(name, sv, 6, MSG_WAITALL, pre);
	/* AF_UNIX's peek returns at the first data, so the parent's second
	 * send would race with it on an empty queue. */
	if (pre || strcmp(fam, "unix")) {
		snprintf(name, sizeof name, "%s peek 100", fam);
		blocking_recv(name, sv, 100, MSG_PEEK, pre);
	}
	close(sv[0]);
	close(sv[1]);

	/* Fewer at end of stream. */
	mk(sv);
	int v = 8;
	setsockopt(sv[1], SOL_SOCKET, SO_RCVLOWAT, &v, sizeof v);
	send(sv[0], "abc", 3, 0);
	r = recv(sv[1], buf, sizeof buf, MSG_DONTWAIT);
	printf("%s DONTWAIT 3 of 8: %ld\n", fam, r);
	send(sv[0], "abc", 3, 0);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	r = recv(sv[1], buf, sizeof buf, 0);
	printf("%s O_NONBLOCK 3 of 8: %ld\n", fam, r);
	r = recv(sv[1], buf, sizeof buf, 0);
	res("O_NONBLOCK empty", r);
	fcntl(sv[1], F_SETFL, 0);
	send(sv[0], "abc", 3, 0);
	struct timeval tv = { 0, 50000 };
	setsockopt(sv[1], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	r = recv(sv[1], buf, sizeof buf, 0);
	printf("%s SO_RCVTIMEO 3 of 8: %ld\n", fam, r);
	r = recv(sv[1], buf, sizeof buf, 0);
	res("SO_RCVTIMEO empty", r);
	send(sv[0], "abc", 3, 0);
	shutdown(sv[0], SHUT_WR);
	r = recv(sv[1], buf, sizeof buf, 0);
	printf("%s FIN 3 of 8: %ld\n", fam, r);
	r = recv(sv[1], buf, sizeof buf, 0);
	printf("%s after FIN: %ld\n", fam, r);
	close(sv[0]);
	close(sv[1]);
}

static void udp(void)
{
	int a = socket(AF_INET, SOCK_DGRAM, 0), b = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in s = { .sin_family = AF_INET };
	s.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t l = sizeof s;
	bind(b, (void *)&s, sizeof s);
	getsockname(b, (void *)&s, &l);
	int v = 8;
	setsockopt(b, SOL_SOCKET, SO_RCVLOWAT, &v, sizeof v);
	readiness("udp empty", b);
	sendto(a, "abc", 3, 0, (void *)&s, sizeof s);
	readiness("udp 3 of 8", b);
	char buf[64];
	long r = recv(b, buf, sizeof buf, 0);
	printf("udp recv 3 of 8: %ld\n", r);
	close(a);
	close(b);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 1; i < argc; i++) {
		const char *s = argv[i];
		printf("== %s\n", s);
		if (!strcmp(s, "opts")) {
			opts();
		} else if (!strcmp(s, "tcppoll")) {
			int sv[2];
			tcp_pair(sv);
			stream_poll("tcp", sv);
		} else if (!strcmp(s, "tcprecv")) {
			stream_recv("tcp", tcp_pair, 0);
		} else if (!strcmp(s, "unix")) {
			int sv[2];
			unix_pair(sv);
			stream_poll("unix", sv);
			stream_recv("unix+3", unix_pair, 1);
			stream_recv("unix", unix_pair, 0);
		} else if (!strcmp(s, "udp")) {
			udp();
		} else {
			printf("unknown section %s\n", s);
			return 2;
		}
	}
	return 0;
}
