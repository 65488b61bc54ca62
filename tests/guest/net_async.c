/* Signal-driven I/O on sockets and pipes (issue 12; tests/e2e_netasync.rs),
 * run natively in a fresh network namespace and under umbra, as root:
 *
 *   stream   AF_UNIX stream: one POLL_IN per message, the peer's SHUT_WR
 *            (POLL_IN), SHUT_RDWR and close (POLL_HUP), SHUT_RD (nothing),
 *            POLL_OUT once reads made room after a send found the buffer
 *            full, si_band and si_fd
 *   plain    no F_SETSIG: SIGIO with si_code SI_KERNEL, one pending
 *   listen   a listener: POLL_IN per connection, nothing for accept
 *   dgram    AF_UNIX datagram and seqpacket pairs
 *   oob      MSG_OOB: SIGURG, the F_SETSIG signal with POLL_PRI, POLL_IN;
 *            without F_SETSIG only SIGURG and SIGIO
 *   ioctl    FIOSETOWN, SIOCSPGRP, FIOGETOWN, SIOCGPGRP, FIOASYNC on a
 *            socket; F_SETOWN_EX; bad owners
 *   pipe     a pipe's queued F_SETSIG signals: one per write
 *
 * The signals are blocked and taken with sigtimedwait (no timeout), so
 * every queued one is seen in order; every event is made by this process
 * itself, so the output does not depend on timing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

#ifndef FIOSETOWN
#define FIOSETOWN 0x8901
#endif
#ifndef SIOCSPGRP
#define SIOCSPGRP 0x8902
#endif
#ifndef FIOGETOWN
#define FIOGETOWN 0x8903
#endif
#ifndef SIOCGPGRP
#define SIOCGPGRP 0x8904
#endif

#define RT (SIGRTMIN + 1)

static int fds[8];
static const char *names[8];

/* A name for a descriptor in the output (numbers differ between runs). */
static void name_fd(int slot, int fd, const char *name)
{
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
}

static const char *ename(int e)
{
	switch (e) {
	case EAGAIN: return "EAGAIN";
	case ESRCH: return "ESRCH";
	case EPIPE: return "EPIPE";
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

/* O_ASYNC with this process as owner and `sig` as F_SETSIG signal. */
static void make_async(int fd, int sig)
{
	if (fcntl(fd, F_SETOWN, getpid()) < 0 || fcntl(fd, F_SETSIG, sig) < 0 ||
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_ASYNC | O_NONBLOCK) < 0)
		printf("make_async: %s\n", ename(errno));
}

static void pair(int type, int sv[2])
{
	if (socketpair(AF_UNIX, type, 0, sv) < 0) {
		printf("socketpair: %s\n", ename(errno));
		exit(1);
	}
	name_fd(0, sv[0], "a");
	name_fd(1, sv[1], "b");
}

static void sec_stream(void)
{
	int sv[2];
	static char buf[16384];
	pair(SOCK_STREAM, sv);
	make_async(sv[1], RT);
	drain("after F_SETFL O_ASYNC");
	for (int i = 0; i < 3; i++)
		write(sv[0], "xyz", 3);
	drain("3 writes to a");
	chk("read b", read(sv[1], buf, sizeof buf));
	drain("read b");
	chk("read b again", read(sv[1], buf, sizeof buf));
	drain("read b again (EAGAIN)");
	chk("write b", write(sv[1], "q", 1));
	drain("write b (a has no O_ASYNC)");
	chk("shutdown a SHUT_RD", shutdown(sv[0], SHUT_RD));
	drain("shutdown a SHUT_RD");
	chk("shutdown a SHUT_WR", shutdown(sv[0], SHUT_WR));
	drain("shutdown a SHUT_WR");
	chk("shutdown a SHUT_RDWR", shutdown(sv[0], SHUT_RDWR));
	drain("shutdown a SHUT_RDWR again");
	close(sv[0]);
	drain("close a");
	close(sv[1]);

	pair(SOCK_STREAM, sv);
	make_async(sv[1], RT);
	chk("shutdown a SHUT_RDWR", shutdown(sv[0], SHUT_RDWR));
	drain("shutdown a SHUT_RDWR");
	close(sv[0]);
	drain("close a after SHUT_RDWR");
	close(sv[1]);

	pair(SOCK_STREAM, sv);
	make_async(sv[1], RT);
	write(sv[0], "left", 4);
	drain("write a");
	close(sv[0]);
	drain("close a with data unread by b");
	close(sv[1]);
	drain("close b");

	/* POLL_OUT: the writer's buffer. */
	pair(SOCK_STREAM, sv);
	make_async(sv[0], RT);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	memset(buf, 'w', sizeof buf);
	for (int i = 0; i < 10; i++)
		write(sv[0], buf, 1000);
	chk("read b 10000", read(sv[1], buf, 10000));
	drain("a wrote and b read, buffer never full");
	long writes = 0;
	int e = 0;
	for (;;) {
		ssize_t n = write(sv[0], buf, 1000);
		if (n < 0) {
			e = errno;
			break;
		}
		writes++;
	}
	printf("a filled its buffer: %s\n", ename(e));
	drain("a full");
	chk("write a when full", write(sv[0], buf, 1000));
	drain("a full, second EAGAIN");
	long reads = 0, out_at = -1;
	for (;;) {
		ssize_t n = read(sv[1], buf, 1000);
		if (n <= 0)
			break;
		reads++;
		sigset_t set;
		sigpending(&set);
		if (out_at < 0 && sigismember(&set, RT))
			out_at = reads;
	}
	printf("reads: %s, POLL_OUT %s\n", reads == writes ? "all" : "?",
	       out_at > 0 && out_at < reads ? "before the last one" : "?");
	drain("b read everything");
	for (int i = 0; i < 10; i++)
		write(sv[0], buf, 1000);
	while (read(sv[1], buf, 1000) > 0)
		;
	drain("a wrote again, b read it, buffer not full");
	close(sv[0]);
	close(sv[1]);
	drain("closes");
}

static void sec_plain(void)
{
	int sv[2];
	char buf[64];
	pair(SOCK_STREAM, sv);
	make_async(sv[1], 0);
	write(sv[0], "1", 1);
	write(sv[0], "2", 1);
	drain("2 writes, no F_SETSIG");
	read(sv[1], buf, sizeof buf);
	close(sv[0]);
	drain("close a, no F_SETSIG");
	close(sv[1]);
	/* F_SETSIG SIGIO explicitly: a full siginfo. */
	pair(SOCK_STREAM, sv);
	make_async(sv[1], SIGIO);
	write(sv[0], "1", 1);
	drain("a write, F_SETSIG SIGIO");
	close(sv[0]);
	drain("close a, F_SETSIG SIGIO");
	close(sv[1]);
}

static void sec_listen(void)
{
	int l = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path + 1, sizeof sa.sun_path - 1, "umbra-async-%d", (int)getpid());
	socklen_t len = sizeof sa.sun_family + 1 + strlen(sa.sun_path + 1);
	chk("bind", bind(l, (struct sockaddr *)&sa, len));
	chk("listen", listen(l, 8));
	name_fd(2, l, "listener");
	make_async(l, RT);
	drain("listen, O_ASYNC");
	int c1 = socket(AF_UNIX, SOCK_STREAM, 0);
	int c2 = socket(AF_UNIX, SOCK_STREAM, 0);
	chk("connect 1", connect(c1, (struct sockaddr *)&sa, len));
	chk("connect 2", connect(c2, (struct sockaddr *)&sa, len));
	drain("2 connections");
	int s1 = accept(l, NULL, NULL);
	drain("accept");
	name_fd(3, s1, "accepted");
	/* The accepted socket does not inherit O_ASYNC. */
	printf("accepted O_ASYNC: %d\n", !!(fcntl(s1, F_GETFL) & O_ASYNC));
	write(c1, "x", 1);
	drain("write to the accepted one");
	close(c1);
	close(c2);
	close(s1);
	close(l);
	drain("closes");
}

static void sec_dgram(void)
{
	int sv[2];
	char buf[64];
	pair(SOCK_DGRAM, sv);
	make_async(sv[1], RT);
	send(sv[0], "d1", 2, 0);
	send(sv[0], "d2", 2, 0);
	drain("dgram: 2 sends");
	recv(sv[1], buf, sizeof buf, 0);
	drain("dgram: recv");
	close(sv[0]);
	drain("dgram: close a");
	close(sv[1]);
	pair(SOCK_SEQPACKET, sv);
	make_async(sv[1], RT);
	send(sv[0], "s1", 2, 0);
	send(sv[0], "s2", 2, 0);
	drain("seqpacket: 2 sends");
	shutdown(sv[0], SHUT_WR);
	drain("seqpacket: shutdown a SHUT_WR");
	close(sv[0]);
	drain("seqpacket: close a");
	close(sv[1]);
	drain("closes");
}

static void sec_oob(void)
{
	int sv[2];
	char buf[64];
	pair(SOCK_STREAM, sv);
	make_async(sv[1], RT);
	chk("send a MSG_OOB", send(sv[0], "!", 1, MSG_OOB));
	drain("urgent byte, F_SETSIG");
	recv(sv[1], buf, 1, MSG_OOB);
	close(sv[0]);
	close(sv[1]);
	drain("closes");
	pair(SOCK_STREAM, sv);
	make_async(sv[1], 0);
	chk("send a MSG_OOB", send(sv[0], "!", 1, MSG_OOB));
	drain("urgent byte, no F_SETSIG");
	close(sv[0]);
	close(sv[1]);
	drain("closes");
	/* An owner but no O_ASYNC: SIGURG alone. */
	pair(SOCK_STREAM, sv);
	fcntl(sv[1], F_SETOWN, getpid());
	fcntl(sv[1], F_SETSIG, RT);
	chk("send a MSG_OOB", send(sv[0], "!", 1, MSG_OOB));
	drain("urgent byte, owner without O_ASYNC");
	close(sv[0]);
	close(sv[1]);
	drain("closes");
}

static void sec_ioctl(void)
{
	int sv[2];
	char buf[64];
	int v;
	pair(SOCK_STREAM, sv);
	v = -1;
	chk("FIOGETOWN at first", ioctl(sv[1], FIOGETOWN, &v));
	printf("owner: %d\n", v);
	v = getpid();
	chk("FIOSETOWN self", ioctl(sv[1], FIOSETOWN, &v));
	v = 0;
	ioctl(sv[1], FIOGETOWN, &v);
	printf("FIOGETOWN: %s, F_GETOWN: %s\n", v == getpid() ? "self" : "?",
	       fcntl(sv[1], F_GETOWN) == getpid() ? "self" : "?");
	v = 0;
	ioctl(sv[1], SIOCGPGRP, &v);
	printf("SIOCGPGRP: %s\n", v == getpid() ? "self" : "?");
	int one = 1;
	chk("FIOASYNC 1", ioctl(sv[1], FIOASYNC, &one));
	printf("O_ASYNC in F_GETFL: %d\n", !!(fcntl(sv[1], F_GETFL) & O_ASYNC));
	write(sv[0], "x", 1);
	drain("write after FIOSETOWN and FIOASYNC");
	read(sv[1], buf, sizeof buf);
	fcntl(sv[1], F_SETSIG, RT);
	/* A group of its own, so that no other process gets the signal. */
	pid_t c = fork();
	if (c == 0) {
		setpgid(0, 0);
		v = -getpgrp();
		chk("SIOCSPGRP -pgrp", ioctl(sv[1], SIOCSPGRP, &v));
		printf("F_GETOWN: %s\n",
		       fcntl(sv[1], F_GETOWN) == -getpgrp() ? "minus the pgrp" : "?");
		v = 0;
		ioctl(sv[1], FIOGETOWN, &v);
		printf("FIOGETOWN: %s\n", v == -getpgrp() ? "minus the pgrp" : "?");
		write(sv[0], "y", 1);
		drain("write with the group as owner");
		read(sv[1], buf, sizeof buf);
		_exit(0);
	}
	int st;
	waitpid(c, &st, 0);
	drain("the group's signal in the parent");
	struct f_owner_ex ex = {F_OWNER_PID, getpid()};
	chk("F_SETOWN_EX PID self", fcntl(sv[1], F_SETOWN_EX, &ex));
	write(sv[0], "z", 1);
	drain("write with F_SETOWN_EX");
	read(sv[1], buf, sizeof buf);
	int zero = 0;
	chk("FIOASYNC 0", ioctl(sv[1], FIOASYNC, &zero));
	write(sv[0], "w", 1);
	drain("write after FIOASYNC 0");
	read(sv[1], buf, sizeof buf);
	v = 999999;
	chk("FIOSETOWN no such process", ioctl(sv[1], FIOSETOWN, &v));
	v = INT_MIN;
	chk("FIOSETOWN INT_MIN", ioctl(sv[1], FIOSETOWN, &v));
	chk("F_SETOWN INT_MIN", fcntl(sv[1], F_SETOWN, INT_MIN));
	chk("FIOSETOWN bad pointer", ioctl(sv[1], FIOSETOWN, (void *)8));
	chk("FIOGETOWN bad pointer", ioctl(sv[1], FIOGETOWN, (void *)8));
	v = 0;
	chk("FIOSETOWN 0", ioctl(sv[1], FIOSETOWN, &v));
	ioctl(sv[1], FIOASYNC, &one);
	write(sv[0], "v", 1);
	drain("write with no owner");
	int p[2];
	pipe(p);
	v = getpid();
	chk("FIOSETOWN on a pipe", ioctl(p[0], FIOSETOWN, &v));
	chk("FIOGETOWN on a pipe", ioctl(p[0], FIOGETOWN, &v));
	close(p[0]);
	close(p[1]);
	close(sv[0]);
	close(sv[1]);
	drain("closes");
}

static void sec_pipe(void)
{
	int p[2];
	char buf[64];
	pipe(p);
	name_fd(4, p[0], "pipe-r");
	name_fd(5, p[1], "pipe-w");
	make_async(p[0], RT);
	write(p[1], "1", 1);
	write(p[1], "2", 1);
	write(p[1], "3", 1);
	drain("pipe: 3 writes");
	read(p[0], buf, sizeof buf);
	drain("pipe: read");
	close(p[1]);
	drain("pipe: close the write end");
	close(p[0]);
	pipe(p);
	name_fd(4, p[0], "pipe-r");
	name_fd(5, p[1], "pipe-w");
	make_async(p[1], RT);
	read(p[0], buf, 0);
	drain("pipe: read of nothing");
	write(p[1], "abc", 3);
	read(p[0], buf, 1);
	read(p[0], buf, 1);
	drain("pipe: 2 reads");
	close(p[0]);
	drain("pipe: close the read end");
	close(p[1]);
	/* Every call that asks for bytes signals, EAGAIN included. */
	static char big[70000];
	pipe(p);
	name_fd(4, p[0], "pipe-r");
	name_fd(5, p[1], "pipe-w");
	make_async(p[0], RT);
	make_async(p[1], RT);
	chk("read of an empty pipe", read(p[0], buf, sizeof buf));
	drain("pipe: EAGAIN read");
	chk("write 70000", write(p[1], big, sizeof big));
	drain("pipe: partial write");
	chk("write to a full pipe", write(p[1], big, 10));
	drain("pipe: EAGAIN write");
	chk("write of nothing", write(p[1], big, 0));
	drain("pipe: empty write");
	close(p[1]);
	drain("pipe: close the write end");
	chk("read", read(p[0], big, sizeof big));
	chk("read at the end", read(p[0], big, sizeof big));
	drain("pipe: reads after the write end went");
	close(p[0]);
	drain("pipe: closes");
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
		memset(names, 0, sizeof names);
		printf("== %s\n", argv[i]);
		if (!strcmp(argv[i], "stream"))
			sec_stream();
		else if (!strcmp(argv[i], "plain"))
			sec_plain();
		else if (!strcmp(argv[i], "listen"))
			sec_listen();
		else if (!strcmp(argv[i], "dgram"))
			sec_dgram();
		else if (!strcmp(argv[i], "oob"))
			sec_oob();
		else if (!strcmp(argv[i], "ioctl"))
			sec_ioctl();
		else if (!strcmp(argv[i], "pipe"))
			sec_pipe();
		else {
			fprintf(stderr, "usage: net_async stream|plain|listen|dgram|oob|ioctl|pipe...\n");
			return 2;
		}
	}
	return 0;
}
