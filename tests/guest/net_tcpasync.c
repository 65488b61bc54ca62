/* Signal-driven I/O on TCP and UDP sockets over loopback (issue 12;
 * tests/e2e_nettcpasync.rs), run natively in a fresh network namespace (lo
 * up) and under umbra, as root. Linux signals an O_ASYNC socket once per
 * sk_wake_async call:
 *
 *   tcp       POLL_IN per segment (every write with TCP_NODELAY), two for
 *             the peer's FIN (tcp_fin, then tcp_data_ready with SOCK_DONE)
 *   hup       the peer's FIN after our own SHUT_WR: POLL_HUP and POLL_IN
 *   rst       a reset (close with unread data, SO_LINGER 0, a write to a
 *             closed peer): POLL_ERR
 *   out       POLL_OUT once reads make room after a send found the buffer
 *             full
 *   listen    a listener: POLL_IN per connection, nothing for accept
 *   connect   connect: POLL_OUT when it is made (tcp_finish_connect),
 *             POLL_ERR when it is refused
 *   udp       POLL_IN per datagram; POLL_ERR for a refusal that reaches a
 *             connected socket
 *   oob       MSG_OOB: SIGURG, the F_SETSIG signal with POLL_PRI, POLL_IN
 *   waitdata  POLL_IN is not sent while a reader sleeps on a TCP or AF_UNIX
 *             stream socket (SOCKWQ_ASYNC_WAITDATA, set by sk_wait_data and
 *             unix_stream_data_wait); it is for UDP and AF_UNIX datagram
 *             readers, which sleep without it; nor to a reader stopped
 *             by SIGSTOP, which no longer sleeps there
 *
 * The signals are blocked and taken with sigtimedwait (no timeout), so every
 * queued one is seen in order. Every event is made by this process itself,
 * or by a child it waits for; the waitdata section waits (polling
 * /proc/PID/stat) until its child sleeps in read(2) before it writes, and
 * everything runs on CPU 0. The output does not depend on timing.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

#define RT (SIGRTMIN + 1)

static int fds[8];
static const char *names[8];

static void name_fd(int slot, int fd, const char *name)
{
	for (int i = 0; i < 8; i++)
		if (names[i] && fds[i] == fd)
			names[i] = NULL;
	fds[slot] = fd;
	names[slot] = name;
}

static const char *fd_name(int fd)
{
	for (int i = 0; i < 8; i++)
		if (names[i] && fds[i] == fd)
			return names[i];
	return "?";
}

static const char *code_name(int c)
{
	switch (c) {
	case POLL_IN: return "POLL_IN";
	case POLL_OUT: return "POLL_OUT";
	case POLL_MSG: return "POLL_MSG";
	case POLL_ERR: return "POLL_ERR";
	case POLL_PRI: return "POLL_PRI";
	case POLL_HUP: return "POLL_HUP";
	case SI_KERNEL: return "SI_KERNEL";
	default: return "?";
	}
}

static const char *sig_name(int s)
{
	if (s == SIGIO)
		return "SIGIO";
	if (s == SIGURG)
		return "SIGURG";
	if (s == RT)
		return "RT";
	return "?";
}

/* Takes every pending SIGIO, SIGURG and RT signal, printing each. */
static void drain(const char *after)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGIO);
	sigaddset(&set, SIGURG);
	sigaddset(&set, RT);
	struct timespec zero = {0, 0};
	int n = 0;
	printf("%s:", after);
	for (;;) {
		siginfo_t si;
		int s = sigtimedwait(&set, &si, &zero);
		if (s < 0)
			break;
		n++;
		if (si.si_code == SI_KERNEL)
			printf(" %s/%s", sig_name(s), code_name(si.si_code));
		else
			printf(" %s/%s/band %#lx/%s", sig_name(s), code_name(si.si_code),
			       (long)si.si_band, fd_name(si.si_fd));
	}
	if (!n)
		printf(" none");
	printf("\n");
	fflush(stdout);
}

static const char *ename(int e)
{
	switch (e) {
	case EAGAIN: return "EAGAIN";
	case EPIPE: return "EPIPE";
	case ECONNRESET: return "ECONNRESET";
	case ECONNREFUSED: return "ECONNREFUSED";
	case EINPROGRESS: return "EINPROGRESS";
	default: return errname(e);
	}
}

static void chk(const char *what, long r)
{
	if (r < 0)
		printf("%s: -1 %s\n", what, ename(errno));
	else
		printf("%s: %ld\n", what, r);
}

/* O_ASYNC with this process as owner and `sig` as F_SETSIG signal (0:
 * plain SIGIO); `nb` adds O_NONBLOCK. */
static void make_async(int fd, int sig, int nb)
{
	if (fcntl(fd, F_SETOWN, getpid()) < 0 || fcntl(fd, F_SETSIG, sig) < 0 ||
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_ASYNC | (nb ? O_NONBLOCK : 0)) < 0)
		printf("make_async: %s\n", ename(errno));
}

static struct sockaddr_in addr;

/* A TCP listener on 127.0.0.1, port chosen by the kernel. */
static int listener(void)
{
	int l = socket(AF_INET, SOCK_STREAM, 0);
	memset(&addr, 0, sizeof addr);
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof addr;
	if (bind(l, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(l, 16) < 0 ||
	    getsockname(l, (struct sockaddr *)&addr, &len) < 0) {
		printf("listener: %s\n", ename(errno));
		exit(1);
	}
	return l;
}

/* A connected pair: *c the client (TCP_NODELAY), *s the server end. */
static void tcp_pair(int *c, int *s)
{
	int l = listener();
	*c = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;
	setsockopt(*c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(*c, (struct sockaddr *)&addr, sizeof addr) < 0) {
		printf("connect: %s\n", ename(errno));
		exit(1);
	}
	*s = accept(l, NULL, NULL);
	setsockopt(*s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	close(l);
	name_fd(0, *c, "c");
	name_fd(1, *s, "s");
}

static void sec_tcp(void)
{
	int c, s;
	char buf[64];
	tcp_pair(&c, &s);
	make_async(s, RT, 1);
	drain("after F_SETFL O_ASYNC");
	for (int i = 0; i < 3; i++)
		write(c, "xyz", 3);
	drain("3 writes to c");
	chk("read s", read(s, buf, sizeof buf));
	drain("read s");
	chk("read s again", read(s, buf, sizeof buf));
	drain("read s again (EAGAIN)");
	chk("write s", write(s, "q", 1));
	drain("write s (c has no O_ASYNC)");
	chk("shutdown s SHUT_RD", shutdown(s, SHUT_RD));
	drain("shutdown s SHUT_RD");
	chk("shutdown c SHUT_WR", shutdown(c, SHUT_WR));
	drain("shutdown c SHUT_WR");
	chk("read s", read(s, buf, sizeof buf));
	drain("read s (EOF)");
	close(c);
	drain("close c");
	close(s);

	/* Plain SIGIO: one pending, SI_KERNEL. */
	tcp_pair(&c, &s);
	make_async(s, 0, 1);
	write(c, "a", 1);
	write(c, "b", 1);
	drain("plain: 2 writes to c");
	close(c);
	drain("plain: close c");
	close(s);
}

static void sec_hup(void)
{
	int c, s;
	char buf[64];
	tcp_pair(&c, &s);
	make_async(s, RT, 1);
	chk("shutdown s SHUT_WR", shutdown(s, SHUT_WR));
	drain("shutdown s SHUT_WR");
	close(c);
	drain("close c");
	chk("read s", read(s, buf, sizeof buf));
	close(s);

	tcp_pair(&c, &s);
	make_async(s, RT, 1);
	chk("shutdown s SHUT_RDWR", shutdown(s, SHUT_RDWR));
	drain("shutdown s SHUT_RDWR");
	chk("shutdown c SHUT_WR", shutdown(c, SHUT_WR));
	drain("shutdown c SHUT_WR");
	close(c);
	drain("close c");
	close(s);
}

static void sec_rst(void)
{
	int c, s;
	char buf[64];
	tcp_pair(&c, &s);
	make_async(s, RT, 1);
	write(s, "unread", 6);
	close(c);
	drain("close c with data unread");
	chk("read s", read(s, buf, sizeof buf));
	drain("read s");
	close(s);

	tcp_pair(&c, &s);
	make_async(s, RT, 1);
	struct linger lg = {1, 0};
	setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
	close(c);
	drain("close c with SO_LINGER 0");
	close(s);

	tcp_pair(&c, &s);
	make_async(s, RT, 1);
	close(c);
	drain("close c");
	chk("write s", write(s, "x", 1));
	drain("write s to the closed c");
	chk("write s", write(s, "x", 1));
	drain("write s again");
	close(s);
}

static void sec_out(void)
{
	int c, s;
	static char big[65536];
	tcp_pair(&c, &s);
	make_async(s, RT, 1);
	fcntl(c, F_SETFL, fcntl(c, F_GETFL) | O_NONBLOCK);
	long sent = 0;
	int full = 0;
	for (int i = 0; i < 100000; i++) {
		ssize_t n = write(s, big, sizeof big);
		if (n < 0) {
			full = errno == EAGAIN;
			break;
		}
		sent += n;
	}
	printf("s filled: %s\n", full ? "EAGAIN" : "no");
	long got = 0;
	for (;;) {
		ssize_t n = read(c, big, sizeof big);
		if (n <= 0)
			break;
		got += n;
	}
	printf("c read all: %s\n", got == sent ? "yes" : "no");
	drain("s filled, c read all");
	chk("write s", write(s, "x", 1) > 0 ? 0 : -1);
	read(c, big, sizeof big);
	drain("write s, read c");
	close(c);
	drain("close c");
	close(s);
}

static void sec_listen(void)
{
	int l = listener();
	name_fd(2, l, "l");
	make_async(l, RT, 1);
	int c1 = socket(AF_INET, SOCK_STREAM, 0);
	int c2 = socket(AF_INET, SOCK_STREAM, 0);
	chk("connect c1", connect(c1, (struct sockaddr *)&addr, sizeof addr));
	drain("connect c1");
	chk("connect c2", connect(c2, (struct sockaddr *)&addr, sizeof addr));
	drain("connect c2");
	int a1 = accept(l, NULL, NULL);
	int a2 = accept(l, NULL, NULL);
	chk("accept twice", a1 >= 0 && a2 >= 0 ? 0 : -1);
	drain("accept twice");
	chk("accept again", accept(l, NULL, NULL));
	drain("accept again (EAGAIN)");
	close(a1);
	close(a2);
	close(c1);
	close(c2);
	close(l);
}

static void sec_connect(void)
{
	int l = listener();
	int c = socket(AF_INET, SOCK_STREAM, 0);
	name_fd(0, c, "c");
	make_async(c, RT, 0);
	drain("O_ASYNC on a new socket");
	chk("connect", connect(c, (struct sockaddr *)&addr, sizeof addr));
	drain("connect");
	close(c);

	c = socket(AF_INET, SOCK_STREAM, 0);
	name_fd(0, c, "c");
	make_async(c, RT, 1);
	chk("connect non-blocking", connect(c, (struct sockaddr *)&addr, sizeof addr));
	drain("connect non-blocking");
	close(c);
	close(l);

	/* The port is free now: connects are refused. */
	c = socket(AF_INET, SOCK_STREAM, 0);
	name_fd(0, c, "c");
	make_async(c, RT, 0);
	chk("connect refused", connect(c, (struct sockaddr *)&addr, sizeof addr));
	drain("connect refused");
	close(c);

	c = socket(AF_INET, SOCK_STREAM, 0);
	name_fd(0, c, "c");
	make_async(c, RT, 1);
	chk("connect non-blocking refused", connect(c, (struct sockaddr *)&addr, sizeof addr));
	drain("connect non-blocking refused");
	int err = 0;
	socklen_t el = sizeof err;
	getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &el);
	printf("SO_ERROR: %s\n", ename(err));
	drain("SO_ERROR");
	close(c);

	/* tcp_disconnect reports to its own socket (sk_error_report). */
	int s;
	tcp_pair(&c, &s);
	make_async(c, RT, 1);
	struct sockaddr unspec = {0};
	unspec.sa_family = AF_UNSPEC;
	chk("connect c AF_UNSPEC", connect(c, &unspec, sizeof unspec));
	drain("connect c AF_UNSPEC");
	close(c);
	close(s);
	l = listener();
	name_fd(2, l, "l");
	make_async(l, RT, 1);
	chk("connect l AF_UNSPEC", connect(l, &unspec, sizeof unspec));
	drain("connect l AF_UNSPEC");
	chk("listen l", listen(l, 4));
	chk("shutdown l SHUT_RD", shutdown(l, SHUT_RD));
	drain("shutdown l SHUT_RD");
	close(l);
}

static void sec_udp(void)
{
	int r = socket(AF_INET, SOCK_DGRAM, 0);
	int w = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = {0};
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof a;
	bind(r, (struct sockaddr *)&a, sizeof a);
	getsockname(r, (struct sockaddr *)&a, &len);
	name_fd(0, r, "r");
	name_fd(1, w, "w");
	make_async(r, RT, 1);
	drain("O_ASYNC on r");
	for (int i = 0; i < 3; i++)
		sendto(w, "dg", 2, 0, (struct sockaddr *)&a, sizeof a);
	drain("3 datagrams to r");
	char buf[16];
	chk("recv r", recv(r, buf, sizeof buf, 0));
	drain("recv r");
	sendto(w, "", 0, 0, (struct sockaddr *)&a, sizeof a);
	drain("an empty datagram to r");
	close(r);

	/* A refusal: the ICMP port unreachable reaches a connected socket. */
	int u = socket(AF_INET, SOCK_DGRAM, 0);
	name_fd(2, u, "u");
	make_async(u, RT, 1);
	chk("sendto u to the closed port", sendto(u, "x", 1, 0, (struct sockaddr *)&a, sizeof a));
	drain("sendto u to the closed port (unconnected)");
	chk("connect u", connect(u, (struct sockaddr *)&a, sizeof a));
	drain("connect u");
	chk("send u", send(u, "x", 1, 0));
	drain("send u to the closed port (connected)");
	chk("send u again", send(u, "x", 1, 0));
	drain("send u again");
	close(u);
	close(w);
}

static void sec_oob(void)
{
	int c, s;
	char buf[64];
	tcp_pair(&c, &s);
	make_async(s, RT, 1);
	chk("send c MSG_OOB", send(c, "ab", 2, MSG_OOB));
	drain("send c MSG_OOB");
	chk("read s", read(s, buf, sizeof buf));
	chk("recv s MSG_OOB", recv(s, buf, 1, MSG_OOB));
	drain("read s");
	close(c);
	drain("close c");
	close(s);

	tcp_pair(&c, &s);
	make_async(s, 0, 1);
	chk("send c MSG_OOB", send(c, "ab", 2, MSG_OOB));
	drain("plain: send c MSG_OOB");
	close(c);
	drain("close c");
	close(s);
}

/* The state letter of process `pid` in /proc/PID/stat. */
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

/* Waits (generously) until process `pid` sleeps. */
static void wait_asleep(pid_t pid)
{
	for (int i = 0; i < 60000; i++) {
		if (state_of(pid) == 'S')
			return;
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
	printf("the child never slept\n");
}

/* `rd` is O_ASYNC (owner: this process) and blocking; a child reads it
 * while `wr` is written once, then this process writes again with nobody
 * reading. `dgram`: `wr` sends to `to`. */
static void sleeping_reader(const char *what, int rd, int wr, int shut)
{
	char buf[64];
	pid_t pid = fork();
	if (pid == 0) {
		ssize_t n = read(rd, buf, sizeof buf);
		_exit(n < 0 ? 100 : (int)n);
	}
	wait_asleep(pid);
	if (shut)
		shutdown(wr, SHUT_WR);
	else
		write(wr, "zz", 2);
	int st = 0;
	waitpid(pid, &st, 0);
	printf("%s: the sleeping reader read %d\n", what, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	char msg[128];
	snprintf(msg, sizeof msg, "%s: %s while a reader slept", what, shut ? "SHUT_WR" : "a write");
	drain(msg);
	if (!shut) {
		write(wr, "zz", 2);
		snprintf(msg, sizeof msg, "%s: a write with no reader", what);
		drain(msg);
		recv(rd, buf, sizeof buf, MSG_DONTWAIT);
	}
}

/* A reader stopped (SIGSTOP) no longer sleeps in its receive: the
 * signal woke it and sk_wait_data cleared SOCKWQ_ASYNC_WAITDATA, so data
 * arriving meanwhile is signalled; continued, it reads it. */
static void stopped_reader(const char *what, int rd, int wr)
{
	char buf[64];
	pid_t pid = fork();
	if (pid == 0) {
		ssize_t n = read(rd, buf, sizeof buf);
		_exit(n < 0 ? 100 : (int)n);
	}
	wait_asleep(pid);
	kill(pid, SIGSTOP);
	int st = 0;
	waitpid(pid, &st, WUNTRACED);
	printf("%s: the reader %s\n", what, WIFSTOPPED(st) ? "stopped" : "did not stop");
	write(wr, "zz", 2);
	char msg[128];
	snprintf(msg, sizeof msg, "%s: a write while the reader is stopped", what);
	drain(msg);
	kill(pid, SIGCONT);
	waitpid(pid, &st, 0);
	printf("%s: the continued reader read %d\n", what, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	snprintf(msg, sizeof msg, "%s: continued", what);
	drain(msg);
}

static void sec_waitdata(void)
{
	cpu_set_t one;
	CPU_ZERO(&one);
	CPU_SET(0, &one);
	if (sched_setaffinity(0, sizeof one, &one) < 0)
		printf("sched_setaffinity: %s\n", ename(errno));
	int c, s;
	tcp_pair(&c, &s);
	make_async(s, RT, 0);
	sleeping_reader("tcp", s, c, 0);
	stopped_reader("tcp", s, c);
	sleeping_reader("tcp", s, c, 1);
	close(c);
	drain("close c");
	close(s);

	int sv[2];
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	name_fd(0, sv[0], "a");
	name_fd(1, sv[1], "b");
	make_async(sv[1], RT, 0);
	sleeping_reader("unix stream", sv[1], sv[0], 0);
	stopped_reader("unix stream", sv[1], sv[0]);
	sleeping_reader("unix stream", sv[1], sv[0], 1);
	close(sv[0]);
	drain("close a");
	close(sv[1]);

	socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
	name_fd(0, sv[0], "a");
	name_fd(1, sv[1], "b");
	make_async(sv[1], RT, 0);
	sleeping_reader("unix dgram", sv[1], sv[0], 0);
	close(sv[0]);
	drain("close a");
	close(sv[1]);

	int r = socket(AF_INET, SOCK_DGRAM, 0);
	int w = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = {0};
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof a;
	bind(r, (struct sockaddr *)&a, sizeof a);
	getsockname(r, (struct sockaddr *)&a, &len);
	connect(w, (struct sockaddr *)&a, sizeof a);
	name_fd(0, r, "r");
	name_fd(1, w, "w");
	make_async(r, RT, 0);
	sleeping_reader("udp", r, w, 0);
	close(r);
	close(w);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGIO);
	sigaddset(&set, SIGURG);
	sigaddset(&set, RT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	for (int i = 1; i < argc; i++) {
		const char *s = argv[i];
		printf("== %s\n", s);
		if (!strcmp(s, "tcp"))
			sec_tcp();
		else if (!strcmp(s, "hup"))
			sec_hup();
		else if (!strcmp(s, "rst"))
			sec_rst();
		else if (!strcmp(s, "out"))
			sec_out();
		else if (!strcmp(s, "listen"))
			sec_listen();
		else if (!strcmp(s, "connect"))
			sec_connect();
		else if (!strcmp(s, "udp"))
			sec_udp();
		else if (!strcmp(s, "oob"))
			sec_oob();
		else if (!strcmp(s, "waitdata"))
			sec_waitdata();
		else
			printf("unknown section\n");
	}
	return 0;
}
