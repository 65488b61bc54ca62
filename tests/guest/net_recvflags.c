/* The receive flags MSG_TRUNC, MSG_PEEK, MSG_WAITALL and MSG_DONTWAIT on
 * TCP, UDP and AF_UNIX sockets (tests/e2e_netrecvflags.rs), run natively in
 * a fresh network namespace (lo up) and under umbra, with the same output.
 * Linux:
 *
 *   tcp     MSG_TRUNC takes the bytes and returns their count without
 *           writing the buffer (tcp_recvmsg skips its copy), so even a NULL
 *           buffer is fine; with MSG_PEEK it only counts them; with
 *           MSG_WAITALL it waits for the whole length; on the urgent byte
 *           (MSG_OOB) it returns 1 and writes nothing; msg_flags stays 0.
 *           MSG_PEEK|MSG_WAITALL waits for the whole length too (a signal
 *           ends the wait: it returns what it peeked).
 *           MSG_DONTWAIT: EAGAIN on an empty queue, a short count with
 *           MSG_WAITALL.
 *   udp     MSG_TRUNC returns the datagram's real length (the buffer gets
 *           what fits, msg_flags MSG_TRUNC when cut), also as recvmmsg's
 *           msg_len; MSG_WAITALL does not wait for more; MSG_DONTWAIT:
 *           EAGAIN.
 *   unix    AF_UNIX datagram and seqpacket sockets as UDP (also from a
 *           SO_PEEK_OFF offset); an AF_UNIX stream ignores MSG_TRUNC and
 *           copies the bytes, and its MSG_PEEK|MSG_WAITALL returns what is
 *           there.
 *   udpecho IP PORT
 *           a UDP client of an echo server at IP:PORT (the host's, under
 *           umbra --net host): MSG_TRUNC and MSG_PEEK on its replies.
 *   http IP PORT
 *           a TCP client of an HTTP server at IP:PORT (the host's, under
 *           umbra --net host): MSG_TRUNC with MSG_WAITALL and MSG_PEEK on a
 *           connection to it.
 *
 * A buffer is filled with '.' before each receive and printed after it, so
 * what the call wrote shows. A reader that must wait is a child, and the
 * parent sends the rest only once it sleeps; the output does not depend on
 * timing.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
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
	case EOPNOTSUPP: return "EOPNOTSUPP";
	default: return errname(e);
	}
}

static char buf[64];

static void on_usr1(int sig)
{
	(void)sig;
}

static void fill(void)
{
	memset(buf, '.', sizeof buf);
}

/* "what: R [msg_flags F] buf B": the result and the first `show` bytes of
 * the buffer (unprintable bytes as '?'). */
static void report(const char *what, long r, int flags, int with_flags, size_t show)
{
	if (r < 0) {
		printf("%s: -1 %s\n", what, ename(errno));
		return;
	}
	printf("%s: %ld", what, r);
	if (with_flags)
		printf(" msg_flags 0x%x", flags);
	printf(" buf ");
	for (size_t i = 0; i < show; i++)
		putchar(buf[i] >= 32 && buf[i] < 127 ? buf[i] : '?');
	putchar('\n');
}

static void rcv(const char *what, int fd, size_t len, int flags)
{
	fill();
	report(what, recv(fd, buf, len, flags), 0, 0, len < 12 ? 12 : len);
}

/* recvmsg into two pieces of `buf` (len1 bytes at 0, len2 at 16). */
static void rcvmsg(const char *what, int fd, size_t len1, size_t len2, int flags)
{
	fill();
	struct iovec iov[2] = { { buf, len1 }, { buf + 16, len2 } };
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = 2 };
	long r = recvmsg(fd, &m, flags);
	report(what, r, m.msg_flags, 1, 24);
}

/* Waits (up to 10 s) until `fd` has `n` bytes queued. */
static void wait_inq(int fd, int n)
{
	for (int i = 0; i < 10000; i++) {
		int q = 0;
		if (ioctl(fd, FIONREAD, &q) == 0 && q >= n)
			return;
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	printf("fewer than %d bytes came\n", n);
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

/* A child receives `len` bytes with `flags` from `fd`, where `first` are
 * queued; the parent sends `rest` once the child sleeps (or has ended),
 * then reaps it and takes all that is queued. */
static void blocking(const char *what, int sv[2], const char *first, const char *rest,
		     size_t len, int flags)
{
	send(sv[0], first, strlen(first), 0);
	wait_inq(sv[1], strlen(first));
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		rcv(what, sv[1], len, flags);
		fflush(stdout);
		_exit(0);
	}
	wait_asleep(c);
	send(sv[0], rest, strlen(rest), 0);
	waitpid(c, NULL, 0);
	char drain[64];
	while (recv(sv[1], drain, sizeof drain, MSG_DONTWAIT) > 0)
		;
}

static void sec_tcp(void)
{
	int sv[2];
	tcp_pair(sv);
	send(sv[0], "abcdefgh", 8, 0);
	wait_inq(sv[1], 8);
	rcv("peek|trunc 3", sv[1], 3, MSG_PEEK | MSG_TRUNC);
	rcv("peek|trunc 20", sv[1], 20, MSG_PEEK | MSG_TRUNC);
	rcv("trunc 3", sv[1], 3, MSG_TRUNC);
	fill();
	report("trunc NULL 2", recv(sv[1], NULL, 2, MSG_TRUNC), 0, 0, 0);
	rcv("trunc 0", sv[1], 0, MSG_TRUNC);
	rcv("plain", sv[1], 20, 0);
	send(sv[0], "ijklmnop", 8, 0);
	wait_inq(sv[1], 8);
	rcvmsg("recvmsg trunc 2+3", sv[1], 2, 3, MSG_TRUNC);
	rcvmsg("recvmsg peek|trunc", sv[1], 8, 8, MSG_PEEK | MSG_TRUNC);
	rcvmsg("recvmsg plain", sv[1], 2, 8, 0);
	rcv("dontwait empty", sv[1], 8, MSG_DONTWAIT);
	rcv("dontwait|trunc empty", sv[1], 8, MSG_DONTWAIT | MSG_TRUNC);
	rcv("dontwait|peek|trunc empty", sv[1], 8, MSG_DONTWAIT | MSG_PEEK | MSG_TRUNC);
	send(sv[0], "qrs", 3, 0);
	wait_inq(sv[1], 3);
	rcv("dontwait|waitall 3 of 10", sv[1], 10, MSG_DONTWAIT | MSG_WAITALL);
	send(sv[0], "tuv", 3, 0);
	wait_inq(sv[1], 3);
	rcv("dontwait|waitall|trunc 3 of 10", sv[1], 10, MSG_DONTWAIT | MSG_WAITALL | MSG_TRUNC);
	/* Blocking: the reader waits for the whole length. */
	blocking("waitall|trunc 10", sv, "0123", "456789", 10, MSG_WAITALL | MSG_TRUNC);
	blocking("waitall 10", sv, "0123", "456789", 10, MSG_WAITALL);
	blocking("peek|waitall 10", sv, "0123", "456789", 10, MSG_PEEK | MSG_WAITALL);
	blocking("peek|waitall|trunc 10", sv, "0123", "456789", 10,
		 MSG_PEEK | MSG_WAITALL | MSG_TRUNC);
	/* A large peek sees the queue once, in order: it matches the bytes a
	 * read then takes. */
	static unsigned char big[400000], seen[400000], taken[400000];
	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (unsigned char)(i * 7 + i / 251);
	size_t sent = 0;
	while (sent < 300000) {
		ssize_t n = send(sv[0], big + sent, 300000 - sent, MSG_DONTWAIT);
		if (n <= 0)
			break;
		sent += n;
	}
	wait_inq(sv[1], 1);
	ssize_t np = recv(sv[1], seen, sizeof seen, MSG_PEEK);
	ssize_t nt = np > 0 ? recv(sv[1], taken, np, MSG_WAITALL) : -1;
	printf("big peek: %s\n", np > 0 && nt == np && memcmp(seen, taken, np) == 0 &&
	       memcmp(seen, big, np) == 0 ? "same as read" : "differs");
	size_t rest = sent - (np > 0 ? np : 0);
	if (rest > 0 && recv(sv[1], taken, rest, MSG_WAITALL) != (ssize_t)rest)
		printf("big: rest not read\n");
	/* A signal ends the peek's wait: it returns what it peeked, with
	 * SA_RESTART or without. */
	for (int restart = 0; restart < 2; restart++) {
		struct sigaction sa = { .sa_handler = on_usr1, .sa_flags = restart ? SA_RESTART : 0 };
		sigaction(SIGUSR1, &sa, NULL);
		send(sv[0], "0123", 4, 0);
		wait_inq(sv[1], 4);
		fflush(stdout);
		pid_t c = fork();
		if (c == 0) {
			rcv(restart ? "peek|waitall, signal (SA_RESTART)" : "peek|waitall, signal",
			    sv[1], 10, MSG_PEEK | MSG_WAITALL);
			fflush(stdout);
			_exit(0);
		}
		wait_asleep(c);
		kill(c, SIGUSR1);
		waitpid(c, NULL, 0);
		char drain[64];
		while (recv(sv[1], drain, sizeof drain, MSG_DONTWAIT) > 0)
			;
	}
	/* The urgent byte. */
	send(sv[0], "ab", 2, 0);
	send(sv[0], "X", 1, MSG_OOB);
	wait_inq(sv[1], 2);
	struct pollfd p = { .fd = sv[1], .events = POLLPRI };
	poll(&p, 1, 10000);
	rcv("oob|peek|trunc", sv[1], 1, MSG_OOB | MSG_PEEK | MSG_TRUNC);
	rcv("oob|trunc", sv[1], 1, MSG_OOB | MSG_TRUNC);
	rcv("oob again", sv[1], 1, MSG_OOB);
	rcv("after oob", sv[1], 20, 0);
	/* End of stream. */
	shutdown(sv[0], SHUT_WR);
	rcv("trunc at eof", sv[1], 8, MSG_TRUNC);
	rcv("waitall|trunc at eof", sv[1], 8, MSG_WAITALL | MSG_TRUNC);
	close(sv[0]);
	close(sv[1]);
}

/* Datagram sockets: `rx` receives what `tx` sends. */
static void dgrams(const char *fam, int tx, int rx)
{
	char name[80];
#define N(s) (snprintf(name, sizeof name, "%s %s", fam, s), name)
	send(tx, "0123456789", 10, 0);
	rcv(N("peek|trunc 4"), rx, 4, MSG_PEEK | MSG_TRUNC);
	fill();
	report(N("peek|trunc NULL 0"), recv(rx, NULL, 0, MSG_PEEK | MSG_TRUNC), 0, 0, 0);
	rcvmsg(N("recvmsg peek 2+2"), rx, 2, 2, MSG_PEEK);
	rcvmsg(N("recvmsg trunc 2+2"), rx, 2, 2, MSG_TRUNC);
	send(tx, "abcdef", 6, 0);
	rcvmsg(N("recvmsg 2+2"), rx, 2, 2, 0);
	send(tx, "ab", 2, 0);
	rcvmsg(N("recvmsg trunc fits"), rx, 4, 4, MSG_TRUNC);
	send(tx, "wxyz", 4, 0);
	rcv(N("waitall 10"), rx, 10, MSG_WAITALL);
	send(tx, "wxyz", 4, 0);
	rcv(N("waitall|trunc 2"), rx, 2, MSG_WAITALL | MSG_TRUNC);
	send(tx, "", 0, 0);
	rcv(N("trunc empty datagram"), rx, 4, MSG_TRUNC);
	/* recvmmsg: each msg_len is what recvmsg would return. */
	send(tx, "0123456789", 10, 0);
	send(tx, "abc", 3, 0);
	char b1[4], b2[4];
	struct iovec v1 = { b1, sizeof b1 }, v2 = { b2, sizeof b2 };
	struct mmsghdr mm[2] = { { .msg_hdr = { .msg_iov = &v1, .msg_iovlen = 1 } },
				 { .msg_hdr = { .msg_iov = &v2, .msg_iovlen = 1 } } };
	int n = recvmmsg(rx, mm, 2, MSG_TRUNC | MSG_DONTWAIT, NULL);
	printf("%s recvmmsg trunc: %d", fam, n);
	for (int i = 0; i < n; i++)
		printf(" [len %u flags 0x%x %.*s]", mm[i].msg_len, mm[i].msg_hdr.msg_flags,
		       (int)(mm[i].msg_len < 4 ? mm[i].msg_len : 4), i ? b2 : b1);
	printf("\n");
	rcv(N("dontwait empty"), rx, 4, MSG_DONTWAIT);
	rcv(N("dontwait|trunc empty"), rx, 4, MSG_DONTWAIT | MSG_TRUNC);
	rcv(N("oob"), rx, 4, MSG_OOB | MSG_DONTWAIT);
#undef N
}

static void sec_udp(void)
{
	int rx = socket(AF_INET, SOCK_DGRAM, 0), tx = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t al = sizeof a;
	if (bind(rx, (void *)&a, sizeof a) || getsockname(rx, (void *)&a, &al) ||
	    connect(tx, (void *)&a, sizeof a)) {
		perror("udp");
		exit(1);
	}
	dgrams("udp", tx, rx);
	close(rx);
	close(tx);
}

static void sec_unix(void)
{
	int sv[2];
	int types[] = { SOCK_DGRAM, SOCK_SEQPACKET };
	const char *names[] = { "dgram", "seqpacket" };
	for (int i = 0; i < 2; i++) {
		if (socketpair(AF_UNIX, types[i], 0, sv)) {
			perror("socketpair");
			exit(1);
		}
		dgrams(names[i], sv[0], sv[1]);
		/* From a peek offset: the length from there. */
		int off = 3;
		setsockopt(sv[1], SOL_SOCKET, SO_PEEK_OFF, &off, sizeof off);
		send(sv[0], "0123456789", 10, 0);
		char name[80];
		snprintf(name, sizeof name, "%s peek_off 3 peek|trunc 2", names[i]);
		rcv(name, sv[1], 2, MSG_PEEK | MSG_TRUNC);
		snprintf(name, sizeof name, "%s trunc 2", names[i]);
		rcv(name, sv[1], 2, MSG_TRUNC);
		close(sv[0]);
		close(sv[1]);
	}
	/* A stream: MSG_TRUNC is not TCP's. */
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) {
		perror("socketpair");
		exit(1);
	}
	send(sv[0], "abcdefgh", 8, 0);
	rcv("stream peek|trunc 3", sv[1], 3, MSG_PEEK | MSG_TRUNC);
	rcv("stream trunc 3", sv[1], 3, MSG_TRUNC);
	rcvmsg("stream recvmsg trunc 1+1", sv[1], 1, 1, MSG_TRUNC);
	rcv("stream dontwait|waitall|trunc", sv[1], 10, MSG_DONTWAIT | MSG_WAITALL | MSG_TRUNC);
	rcv("stream dontwait empty", sv[1], 10, MSG_DONTWAIT);
	/* A peek returns what is there, MSG_WAITALL or not. */
	blocking("stream peek|waitall 10", sv, "0123", "456789", 10, MSG_PEEK | MSG_WAITALL);
	close(sv[0]);
	close(sv[1]);
}

static int sec_http(const char *ip, int port)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	inet_pton(AF_INET, ip, &a.sin_addr);
	if (connect(s, (void *)&a, sizeof a)) {
		printf("connect: -1 %s\n", ename(errno));
		return 1;
	}
	const char *req = "GET /hello.txt HTTP/1.0\r\n\r\n";
	send(s, req, strlen(req), 0);
	/* "HTTP/1.0 200 OK\r\n...": the first 4 bytes taken unseen. */
	rcv("waitall|trunc 4", s, 4, MSG_WAITALL | MSG_TRUNC);
	rcv("peek|trunc 3", s, 3, MSG_PEEK | MSG_TRUNC);
	rcv("peek 8", s, 8, MSG_PEEK | MSG_WAITALL);
	rcv("trunc 5", s, 5, MSG_TRUNC | MSG_WAITALL);
	rcv("waitall 3", s, 3, MSG_WAITALL);
	/* The rest, to its end: the body is the file. */
	static char all[65536];
	size_t got = 0;
	for (;;) {
		ssize_t n = recv(s, all + got, sizeof all - 1 - got, 0);
		if (n <= 0)
			break;
		got += n;
	}
	all[got] = 0;
	char *body = strstr(all, "\r\n\r\n");
	printf("body: %s", body ? body + 4 : "(none)\n");
	rcv("trunc at eof", s, 8, MSG_TRUNC);
	close(s);
	return 0;
}

/* A UDP client of an echo server at IP:PORT. */
static int sec_udpecho(const char *ip, int port)
{
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	inet_pton(AF_INET, ip, &a.sin_addr);
	if (connect(s, (void *)&a, sizeof a)) {
		printf("connect: -1 %s\n", ename(errno));
		return 1;
	}
	send(s, "0123456789", 10, 0);
	rcv("peek|trunc 4", s, 4, MSG_PEEK | MSG_TRUNC);
	rcvmsg("recvmsg trunc 2+2", s, 2, 2, MSG_TRUNC);
	send(s, "abcdef", 6, 0);
	rcvmsg("recvmsg 2+2", s, 2, 2, 0);
	send(s, "xy", 2, 0);
	rcv("waitall|trunc 8", s, 8, MSG_WAITALL | MSG_TRUNC);
	rcv("dontwait empty", s, 8, MSG_DONTWAIT);
	close(s);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "tcp") == 0) {
			sec_tcp();
		} else if (strcmp(argv[i], "udp") == 0) {
			sec_udp();
		} else if (strcmp(argv[i], "unix") == 0) {
			sec_unix();
		} else if (strcmp(argv[i], "udpecho") == 0 && i + 2 < argc) {
			return sec_udpecho(argv[i + 1], atoi(argv[i + 2]));
		} else if (strcmp(argv[i], "http") == 0 && i + 2 < argc) {
			return sec_http(argv[i + 1], atoi(argv[i + 2]));
		} else {
			fprintf(stderr, "unknown section %s\n", argv[i]);
			return 2;
		}
	}
	return 0;
}
