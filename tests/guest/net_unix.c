/* net_unix: AF_UNIX sockets: stream, datagram and seqpacket; socketpair;
 * bind, listen, accept and connect on paths (in the working directory and
 * under /tmp) and abstract names; SCM_RIGHTS, SCM_CREDENTIALS, SO_PEERCRED;
 * shutdown, EPIPE and SIGPIPE; non-blocking connect and accept; the MSG_*
 * flags; buffer limits; fork-based client and server; the garbage
 * collection of descriptors in flight. Arguments name sections (all if
 * none). Nothing printed depends on pids, timing or random names. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include "common.h"

#ifndef SIOCINQ
#define SIOCINQ FIONREAD
#endif
#ifndef SIOCOUTQ
#define SIOCOUTQ TIOCOUTQ
#endif
#ifndef SO_PEEK_OFF
#define SO_PEEK_OFF 42
#endif

static const char *en(int e)
{
	switch (e) {
	case EAGAIN: return "EAGAIN";
	case EPIPE: return "EPIPE";
	case ENOTCONN: return "ENOTCONN";
	case EISCONN: return "EISCONN";
	case ECONNREFUSED: return "ECONNREFUSED";
	case ECONNRESET: return "ECONNRESET";
	case EADDRINUSE: return "EADDRINUSE";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case EPROTOTYPE: return "EPROTOTYPE";
	case EMSGSIZE: return "EMSGSIZE";
	case ENOTSOCK: return "ENOTSOCK";
	case EAFNOSUPPORT: return "EAFNOSUPPORT";
	case EPROTONOSUPPORT: return "EPROTONOSUPPORT";
	case ESOCKTNOSUPPORT: return "ESOCKTNOSUPPORT";
	case EDESTADDRREQ: return "EDESTADDRREQ";
	case ENOPROTOOPT: return "ENOPROTOOPT";
	case EINTR: return "EINTR";
	default: return errname(e);
	}
}

static long ck(const char *what, long r)
{
	if (r < 0)
		printf("%s: -1 %s\n", what, en(errno));
	else
		printf("%s: %ld\n", what, r);
	fflush(stdout);
	return r;
}

static void show_poll(const char *what, int fd)
{
	struct pollfd p = { fd, POLLIN | POLLOUT | POLLRDHUP, 0 };
	int r = poll(&p, 1, 0);
	printf("%s: %d [", what, r);
	if (p.revents & POLLIN)
		printf(" IN");
	if (p.revents & POLLOUT)
		printf(" OUT");
	if (p.revents & POLLHUP)
		printf(" HUP");
	if (p.revents & POLLRDHUP)
		printf(" RDHUP");
	if (p.revents & POLLERR)
		printf(" ERR");
	printf(" ]\n");
}

static int inq(int fd)
{
	int n = -1;
	if (ioctl(fd, SIOCINQ, &n) < 0)
		return -errno;
	return n;
}

static int outq(int fd)
{
	int n = -1;
	if (ioctl(fd, SIOCOUTQ, &n) < 0)
		return -errno;
	return n;
}

static int opt(int fd, int name)
{
	int v = -1;
	socklen_t l = sizeof v;
	if (getsockopt(fd, SOL_SOCKET, name, &v, &l) < 0)
		return -errno;
	return v;
}

/* Abstract names are shared by every process of the host's network
 * namespace: each run prefixes its own with its pid (fixed width), which the
 * output leaves out. */
static char pfx[16];
#define PFX_LEN 9

static socklen_t mkaddr(struct sockaddr_un *a, const char *path, int abstract)
{
	memset(a, 0, sizeof *a);
	a->sun_family = AF_UNIX;
	if (abstract) {
		size_t n = strlen(path);
		memcpy(a->sun_path + 1, pfx, PFX_LEN);
		memcpy(a->sun_path + 1 + PFX_LEN, path, n);
		return offsetof(struct sockaddr_un, sun_path) + 1 + PFX_LEN + n;
	}
	strcpy(a->sun_path, path);
	return offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1;
}

/* An abstract name without this run's prefix ("<other>" if it has
 * another). */
static const char *abs_name(const struct sockaddr_un *a, size_t n)
{
	static char out[120];
	if (n >= 1 + PFX_LEN && memcmp(a->sun_path + 1, pfx, PFX_LEN) == 0)
		snprintf(out, sizeof out, "%.*s", (int)(n - 1 - PFX_LEN), a->sun_path + 1 + PFX_LEN);
	else
		snprintf(out, sizeof out, "<other>");
	return out;
}

/* The directory made under /tmp, shown as TMP. */
static char tmpdir[64];

static const char *path_name(const char *p)
{
	static char out[200];
	size_t n = strlen(tmpdir);
	if (n && strncmp(p, tmpdir, n) == 0)
		snprintf(out, sizeof out, "TMP%s", p + n);
	else
		snprintf(out, sizeof out, "%s", p);
	return out;
}

/* Prints an address: its length and its name ("@" for abstract). */
static void show_addr(const char *what, const struct sockaddr_un *a, socklen_t l)
{
	printf("%s: len %u", what, (unsigned)l);
	if (l > offsetof(struct sockaddr_un, sun_path)) {
		size_t n = l - offsetof(struct sockaddr_un, sun_path);
		if (a->sun_path[0] == 0)
			printf(" @%s", abs_name(a, n));
		else
			printf(" %s", path_name(a->sun_path));
	}
	printf("\n");
}

static void show_name(const char *what, int fd, int peer)
{
	struct sockaddr_un a;
	socklen_t l = sizeof a;
	memset(&a, 0, sizeof a);
	int r = peer ? getpeername(fd, (struct sockaddr *)&a, &l)
		     : getsockname(fd, (struct sockaddr *)&a, &l);
	if (r < 0) {
		printf("%s: -1 %s\n", what, en(errno));
		return;
	}
	show_addr(what, &a, l);
}

static int bind_to(int fd, const char *path, int abstract)
{
	struct sockaddr_un a;
	socklen_t l = mkaddr(&a, path, abstract);
	return bind(fd, (struct sockaddr *)&a, l);
}

static int connect_to(int fd, const char *path, int abstract)
{
	struct sockaddr_un a;
	socklen_t l = mkaddr(&a, path, abstract);
	return connect(fd, (struct sockaddr *)&a, l);
}

static long sendto_name(int fd, const char *msg, const char *path, int abstract)
{
	struct sockaddr_un a;
	socklen_t l = mkaddr(&a, path, abstract);
	return sendto(fd, msg, strlen(msg), MSG_DONTWAIT, (struct sockaddr *)&a, l);
}

static void recv_show(const char *what, int fd, size_t len, int flags)
{
	char buf[256];
	if (len > sizeof buf)
		len = sizeof buf;
	struct sockaddr_un a;
	socklen_t al = sizeof a;
	memset(&a, 0, sizeof a);
	errno = 0;
	long r = recvfrom(fd, buf, len, flags, (struct sockaddr *)&a, &al);
	if (r < 0) {
		printf("%s: -1 %s\n", what, en(errno));
		return;
	}
	size_t shown = (size_t)r < len ? (size_t)r : len;
	printf("%s: %ld \"%.*s\"", what, r, (int)shown, buf);
	if (al > offsetof(struct sockaddr_un, sun_path)) {
		size_t n = al - offsetof(struct sockaddr_un, sun_path);
		if (a.sun_path[0] == 0)
			printf(" from @%s", abs_name(&a, n));
		else
			printf(" from %s", path_name(a.sun_path));
	} else {
		printf(" from len %u", (unsigned)al);
	}
	printf("\n");
}

/* recvmsg showing data, msg_flags and the control messages by kind. */
static void recvmsg_show(const char *what, int fd, size_t len, int flags, size_t ctl)
{
	char buf[256];
	union {
		struct cmsghdr h;
		char b[512];
	} c;
	struct iovec iov = { buf, len };
	struct msghdr m;
	memset(&m, 0, sizeof m);
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = ctl ? c.b : NULL;
	m.msg_controllen = ctl;
	memset(c.b, 0, sizeof c.b);
	long r = recvmsg(fd, &m, flags);
	if (r < 0) {
		printf("%s: -1 %s\n", what, en(errno));
		return;
	}
	size_t shown = (size_t)r < len ? (size_t)r : len;
	printf("%s: %ld \"%.*s\" flags", what, r, (int)shown, buf);
	if (m.msg_flags & MSG_TRUNC)
		printf(" TRUNC");
	if (m.msg_flags & MSG_CTRUNC)
		printf(" CTRUNC");
	if (m.msg_flags & MSG_EOR)
		printf(" EOR");
	for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h)) {
		if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS) {
			int n = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			printf(" rights(%d)", n);
			int *fds = (int *)CMSG_DATA(h);
			for (int i = 0; i < n; i++) {
				int fl = fcntl(fds[i], F_GETFD);
				printf(" fd%s", fl & FD_CLOEXEC ? "+cloexec" : "");
				close(fds[i]);
			}
		} else if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_CREDENTIALS) {
			struct ucred u;
			memcpy(&u, CMSG_DATA(h), sizeof u);
			printf(" creds(pid %s, uid %u, gid %u)",
			       u.pid == getpid() ? "self" : u.pid == 0 ? "0" : "other",
			       u.uid, u.gid);
		} else {
			printf(" cmsg(%d,%d)", h->cmsg_level, h->cmsg_type);
		}
	}
	printf("\n");
}

/* Sends `msg` with `n` descriptors. */
static long send_fds(int fd, const char *msg, const int *fds, int n, int flags)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int) * 8)];
	} c;
	struct iovec iov = { (void *)msg, strlen(msg) };
	struct msghdr m;
	memset(&m, 0, sizeof m);
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	if (n > 0) {
		memset(c.b, 0, sizeof c.b);
		m.msg_control = c.b;
		m.msg_controllen = CMSG_SPACE(sizeof(int) * n);
		struct cmsghdr *h = CMSG_FIRSTHDR(&m);
		h->cmsg_level = SOL_SOCKET;
		h->cmsg_type = SCM_RIGHTS;
		h->cmsg_len = CMSG_LEN(sizeof(int) * n);
		memcpy(CMSG_DATA(h), fds, sizeof(int) * n);
	}
	return sendmsg(fd, &m, flags);
}

/* Receives one message with up to 8 descriptors into `fds`; returns the
 * count of bytes, and the count of descriptors in *nfds. */
static long recv_fds(int fd, char *buf, size_t len, int *fds, int *nfds)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int) * 8)];
	} c;
	struct iovec iov = { buf, len };
	struct msghdr m;
	memset(&m, 0, sizeof m);
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = c.b;
	m.msg_controllen = sizeof c.b;
	long r = recvmsg(fd, &m, 0);
	*nfds = 0;
	if (r < 0)
		return r;
	for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h))
		if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS) {
			int n = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			memcpy(fds + *nfds, CMSG_DATA(h), sizeof(int) * n);
			*nfds += n;
		}
	return r;
}

static void reap(const char *what, pid_t pid)
{
	int st;
	waitpid(pid, &st, 0);
	if (WIFEXITED(st))
		printf("%s: exit %d\n", what, WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		printf("%s: signal %d\n", what, WTERMSIG(st));
}

/* socketpair streams: data, merging, poll states, FIONREAD, options and the
 * errors of unconnected sockets. */
static void test_stream(void)
{
	int sv[2];
	ck("socketpair", socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	printf("types: %d %d %d\n", opt(sv[0], SO_TYPE), opt(sv[0], SO_DOMAIN),
	       opt(sv[0], SO_PROTOCOL));
	printf("acceptconn %d error %d sndbuf %d\n", opt(sv[0], SO_ACCEPTCONN),
	       opt(sv[0], SO_ERROR), opt(sv[0], SO_SNDBUF));
	show_name("sockname", sv[0], 0);
	show_name("peername", sv[0], 1);
	show_poll("poll empty", sv[1]);
	ck("write", write(sv[0], "hello", 5));
	ck("send", send(sv[0], " world", 6, 0));
	printf("inq %d outq>0 %d\n", inq(sv[1]), outq(sv[0]) > 0);
	show_poll("poll data", sv[1]);
	recv_show("read merged", sv[1], 64, 0);
	printf("inq %d outq %d\n", inq(sv[1]), outq(sv[0]));
	ck("write", write(sv[1], "abcdef", 6));
	recv_show("read 4", sv[0], 4, 0);
	recv_show("read rest", sv[0], 64, 0);
	recv_show("read empty", sv[0], 64, MSG_DONTWAIT);
	ck("sendto connected", sendto(sv[0], "x", 1, 0, (struct sockaddr *)&(struct sockaddr_un){ AF_UNIX, "x" }, sizeof(struct sockaddr_un)));
	ck("send empty", send(sv[0], "", 0, 0));
	ck("close 1", close(sv[1]));
	show_poll("poll peer closed", sv[0]);
	recv_show("read eof", sv[0], 64, 0);
	ck("send peer closed", send(sv[0], "x", 1, MSG_NOSIGNAL));
	show_name("peername closed", sv[0], 1);
	close(sv[0]);

	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	show_poll("poll fresh", s);
	show_name("fresh peername", s, 1);
	ck("send unconnected", send(s, "x", 1, MSG_NOSIGNAL));
	ck("recv unconnected", recv(s, (char[4]){ 0 }, 4, MSG_DONTWAIT));
	ck("sendto unconnected", sendto(s, "x", 1, 0, (struct sockaddr *)&(struct sockaddr_un){ AF_UNIX, "x" }, sizeof(struct sockaddr_un)));
	ck("shutdown unconnected", shutdown(s, SHUT_RDWR));
	ck("shutdown bad how", shutdown(s, 7));
	ck("accept unbound", accept(s, NULL, NULL));
	ck("listen unbound", listen(s, 1));
	close(s);
	ck("socket raw", s = socket(AF_UNIX, SOCK_RAW, 0));
	printf("raw type %d\n", opt(s, SO_TYPE));
	close(s);
	ck("socket bad type", socket(AF_UNIX, 7, 0));
	ck("socket bad proto", socket(AF_UNIX, SOCK_STREAM, 2));
	ck("socket proto 1", s = socket(AF_UNIX, SOCK_STREAM, 1));
	close(s);
	ck("socketpair bad type", socketpair(AF_UNIX, 9, 0, sv));
	ck("socketpair nonblock", socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv));
	printf("flags %d %d\n", (fcntl(sv[0], F_GETFL) & O_NONBLOCK) != 0,
	       (fcntl(sv[1], F_GETFD) & FD_CLOEXEC) != 0);
	recv_show("nonblock read", sv[0], 8, 0);
	struct stat st;
	fstat(sv[0], &st);
	printf("fstat sock %d\n", S_ISSOCK(st.st_mode));
	char link[64], want[64], lp[64];
	snprintf(lp, sizeof lp, "/proc/self/fd/%d", sv[0]);
	long ln = readlink(lp, link, sizeof link - 1);
	link[ln > 0 ? ln : 0] = 0;
	snprintf(want, sizeof want, "socket:[%lu]", (unsigned long)st.st_ino);
	printf("fd link is socket:[ino] %d\n", strcmp(link, want) == 0);
	struct stat st2;
	fstat(sv[1], &st2);
	printf("distinct inodes %d\n", st.st_ino != st2.st_ino);
	close(sv[0]);
	close(sv[1]);
}

static void test_dgram(void)
{
	int sv[2];
	ck("socketpair dgram", socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
	ck("send a", send(sv[0], "first", 5, 0));
	ck("send b", send(sv[0], "second!", 7, 0));
	ck("send empty", send(sv[0], "", 0, 0));
	printf("inq %d\n", inq(sv[1]));
	recvmsg_show("recv short", sv[1], 3, 0, 0);
	recv_show("recv trunc flag", sv[1], 3, MSG_TRUNC);
	recv_show("recv empty msg", sv[1], 10, 0);
	recv_show("recv none", sv[1], 10, MSG_DONTWAIT);
	show_poll("poll pair", sv[0]);
	close(sv[1]);
	ck("send to closed pair", send(sv[0], "x", 1, 0));
	ck("send again", send(sv[0], "x", 1, 0));
	show_poll("poll closed pair", sv[0]);
	close(sv[0]);

	/* Named datagram sockets in the abstract namespace. */
	int srv = socket(AF_UNIX, SOCK_DGRAM, 0);
	int cl = socket(AF_UNIX, SOCK_DGRAM, 0);
	int other = socket(AF_UNIX, SOCK_DGRAM, 0);
	ck("bind srv", bind_to(srv, "umbra-dg-srv", 1));
	ck("bind cl", bind_to(cl, "umbra-dg-cl", 1));
	ck("send unconnected", send(cl, "x", 1, 0));
	ck("sendto srv", sendto_name(cl, "from-cl", "umbra-dg-srv", 1));
	ck("sendto unbound sender", sendto_name(other, "anon", "umbra-dg-srv", 1));
	recv_show("recvfrom 1", srv, 64, 0);
	recv_show("recvfrom 2", srv, 64, 0);
	ck("sendto nobody", sendto_name(cl, "x", "umbra-dg-none", 1));
	ck("connect srv->cl", connect_to(srv, "umbra-dg-cl", 1));
	show_name("srv peer", srv, 1);
	ck("other to unconnected cl", sendto_name(other, "x", "umbra-dg-cl", 1));
	ck("other to srv (EPERM)", sendto_name(other, "x", "umbra-dg-srv", 1));
	ck("other connect cl", connect_to(other, "umbra-dg-cl", 1));
	ck("srv send", send(srv, "reply", 5, 0));
	ck("srv sendto cl anyway", sendto_name(srv, "addr", "umbra-dg-cl", 1));
	recv_show("cl recv", cl, 64, 0);
	recv_show("cl recv 2", cl, 64, 0);
	/* A receiver not connected back takes 11 queued messages. */
	int r = socket(AF_UNIX, SOCK_DGRAM, 0);
	int q = socket(AF_UNIX, SOCK_DGRAM, 0);
	ck("bind r", bind_to(r, "umbra-dg-r", 1));
	int n = 0;
	while (n < 100 && sendto_name(q, "q", "umbra-dg-r", 1) == 1)
		n++;
	printf("queued %d then %s\n", n, en(errno));
	ck("connect q r", connect_to(q, "umbra-dg-r", 1));
	show_poll("poll full peer", q);
	for (int i = 0; i < n; i++)
		recv(r, (char[4]){ 0 }, 4, 0);
	show_poll("poll drained peer", q);
	close(r);
	close(q);
	struct sockaddr un = { AF_UNSPEC };
	ck("disconnect", connect(other, &un, sizeof un));
	ck("send disconnected", send(other, "x", 1, 0));
	/* A connected peer that goes away. */
	ck("connect cl srv", connect_to(cl, "umbra-dg-srv", 1));
	close(srv);
	ck("send to closed peer", send(cl, "x", 1, 0));
	ck("send after refused", send(cl, "x", 1, 0));
	ck("sendto closed name", sendto_name(cl, "x", "umbra-dg-srv", 1));
	static char big[300000];
	ck("send too big", sendto_name(other, "", "umbra-dg-cl", 1) >= 0 ? send(other, big, sizeof big, 0) : -1);
	close(cl);
	close(other);
	ck("listen dgram", listen(socket(AF_UNIX, SOCK_DGRAM, 0), 1));
	/* A socket sending to itself, by name and connected. */
	int me = socket(AF_UNIX, SOCK_DGRAM, 0);
	ck("bind self", bind_to(me, "umbra-dg-self", 1));
	ck("sendto self", sendto_name(me, "to me", "umbra-dg-self", 1));
	recv_show("recv self", me, 64, 0);
	ck("connect self", connect_to(me, "umbra-dg-self", 1));
	ck("send self", send(me, "again", 5, 0));
	show_poll("poll self", me);
	recv_show("recv self 2", me, 64, 0);
	show_name("self peer", me, 1);
	close(me);
}

static void test_seqpacket(void)
{
	int l = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	ck("bind", bind_to(l, "umbra-seq", 1));
	ck("listen", listen(l, 4));
	printf("acceptconn %d\n", opt(l, SO_ACCEPTCONN));
	int c = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	ck("send unconnected", send(c, "x", 1, MSG_NOSIGNAL));
	ck("recv unconnected", recv(c, (char[4]){ 0 }, 4, MSG_DONTWAIT));
	ck("connect", connect_to(c, "umbra-seq", 1));
	show_poll("poll listener", l);
	int a = accept(l, NULL, NULL);
	ck("accept", a >= 0 ? 0 : -1);
	ck("send 1", send(c, "one", 3, 0));
	ck("send 2", send(c, "two-long-message", 16, MSG_EOR));
	ck("send 3", send(c, "", 0, 0));
	ck("sendto ignored", sendto_name(c, "three", "nowhere", 1));
	printf("inq %d\n", inq(a));
	recvmsg_show("recv 1", a, 64, 0, 0);
	recvmsg_show("recv 2 short", a, 4, 0, 0);
	recvmsg_show("recv 3 empty", a, 64, 0, 0);
	recvmsg_show("recv 4", a, 64, MSG_PEEK, 0);
	recvmsg_show("recv 4 trunc", a, 2, MSG_TRUNC, 0);
	show_name("accepted name", a, 0);
	show_name("accepted peer", a, 1);
	show_name("client peer", c, 1);
	ck("shutdown wr", shutdown(c, SHUT_WR));
	recvmsg_show("recv after shut", a, 64, 0, 0);
	show_poll("poll after shut", a);
	close(c);
	recvmsg_show("recv eof", a, 64, MSG_DONTWAIT, 0);
	ck("send to closed", send(a, "x", 1, MSG_NOSIGNAL));
	close(a);
	close(l);
	ck("connect closed", connect_to(socket(AF_UNIX, SOCK_SEQPACKET, 0), "umbra-seq", 1));
}

static void test_abstract(void)
{
	int a = socket(AF_UNIX, SOCK_STREAM, 0);
	int b = socket(AF_UNIX, SOCK_STREAM, 0);
	int d = socket(AF_UNIX, SOCK_DGRAM, 0);
	ck("bind a", bind_to(a, "umbra-abs", 1));
	ck("bind b same", bind_to(b, "umbra-abs", 1));
	ck("bind dgram same", bind_to(d, "umbra-abs", 1));
	ck("bind a again", bind_to(a, "umbra-abs2", 1));
	show_name("name a", a, 0);
	/* A name with a NUL inside, and one of the longest length. */
	struct sockaddr_un s;
	memset(&s, 0, sizeof s);
	s.sun_family = AF_UNIX;
	memcpy(s.sun_path + 1, pfx, PFX_LEN);
	memcpy(s.sun_path + 1 + PFX_LEN, "x\0y", 3);
	ck("bind nul inside", bind(b, (struct sockaddr *)&s, offsetof(struct sockaddr_un, sun_path) + 4 + PFX_LEN));
	socklen_t l = sizeof s;
	memset(&s, 0, sizeof s);
	getsockname(b, (struct sockaddr *)&s, &l);
	printf("nul name len %u bytes %d %d %d\n", (unsigned)l, s.sun_path[1 + PFX_LEN],
	       s.sun_path[2 + PFX_LEN], s.sun_path[3 + PFX_LEN]);
	close(b);
	ck("connect not listening", connect_to(socket(AF_UNIX, SOCK_STREAM, 0), "umbra-abs", 1));
	ck("listen a", listen(a, 2));
	ck("connect dgram to stream name", connect_to(socket(AF_UNIX, SOCK_SEQPACKET, 0), "umbra-abs", 1));
	ck("connect missing", connect_to(socket(AF_UNIX, SOCK_STREAM, 0), "umbra-abs-none", 1));
	/* Autobind: bind with the family only, and on connect with SO_PASSCRED. */
	int c = socket(AF_UNIX, SOCK_STREAM, 0);
	ck("autobind", bind(c, (struct sockaddr *)&(sa_family_t){ AF_UNIX }, sizeof(sa_family_t)));
	l = sizeof s;
	getsockname(c, (struct sockaddr *)&s, &l);
	int hex = 1;
	for (int i = 1; i < 6; i++)
		hex &= !!strchr("0123456789abcdef", s.sun_path[i]) && s.sun_path[i];
	printf("autobind len %u first %d hex %d\n", (unsigned)l, s.sun_path[0], hex);
	ck("autobind again", bind(c, (struct sockaddr *)&(sa_family_t){ AF_UNIX }, sizeof(sa_family_t)));
	l = sizeof s;
	getsockname(c, (struct sockaddr *)&s, &l);
	printf("still len %u\n", (unsigned)l);
	close(c);
	c = socket(AF_UNIX, SOCK_STREAM, 0);
	int on = 1;
	setsockopt(c, SOL_SOCKET, SO_PASSCRED, &on, sizeof on);
	ck("connect passcred", connect_to(c, "umbra-abs", 1));
	l = sizeof s;
	getsockname(c, (struct sockaddr *)&s, &l);
	printf("passcred client len %u\n", (unsigned)l);
	int x = accept(a, (struct sockaddr *)&s, &(socklen_t){ sizeof s });
	l = sizeof s;
	getpeername(x, (struct sockaddr *)&s, &l);
	printf("accepted peer len %u\n", (unsigned)l);
	close(x);
	close(c);
	/* Datagrams: autobind on sendto with SO_PASSCRED. */
	int u = socket(AF_UNIX, SOCK_DGRAM, 0);
	setsockopt(u, SOL_SOCKET, SO_PASSCRED, &on, sizeof on);
	ck("sendto passcred", sendto_name(u, "hi", "umbra-abs", 1));
	l = sizeof s;
	getsockname(u, (struct sockaddr *)&s, &l);
	printf("passcred sender len %u\n", (unsigned)l);
	l = sizeof s;
	char buf[8];
	ck("recvfrom autobound", recvfrom(d, buf, sizeof buf, 0, (struct sockaddr *)&s, &l));
	printf("from len %u\n", (unsigned)l);
	close(u);
	close(a);
	close(d);
	int e = socket(AF_UNIX, SOCK_STREAM, 0);
	ck("bind after close", bind_to(e, "umbra-abs", 1));
	close(e);
	/* Address lengths. */
	e = socket(AF_UNIX, SOCK_STREAM, 0);
	ck("bind short len", bind(e, (struct sockaddr *)&s, 1));
	ck("bind long len", bind(e, (struct sockaddr *)&s, sizeof s + 1));
	struct sockaddr_in in = { AF_INET };
	ck("bind inet addr", bind(e, (struct sockaddr *)&in, sizeof in));
	ck("connect inet addr", connect(e, (struct sockaddr *)&in, sizeof in));
	close(e);
}

/* Paths in directory `dir` ("." or a /tmp directory). */
static void paths_in(const char *dir)
{
	char p1[200], p2[200], p3[200];
	snprintf(p1, sizeof p1, "%s/s1", dir);
	snprintf(p2, sizeof p2, "%s/s2", dir);
	snprintf(p3, sizeof p3, "%s/file", dir);
	int l = socket(AF_UNIX, SOCK_STREAM, 0);
	ck("bind", bind_to(l, p1, 0));
	struct stat st;
	ck("stat", stat(p1, &st));
	printf("is sock %d mode %o\n", S_ISSOCK(st.st_mode), st.st_mode & 0777);
	int l2 = socket(AF_UNIX, SOCK_STREAM, 0);
	ck("bind in use", bind_to(l2, p1, 0));
	ck("bind bound elsewhere", bind_to(l, p2, 0));
	ck("second path made", access(p2, F_OK));
	ck("connect not listening", connect_to(socket(AF_UNIX, SOCK_STREAM, 0), p1, 0));
	ck("listen", listen(l, 1));
	int c = socket(AF_UNIX, SOCK_STREAM, 0);
	ck("connect", connect_to(c, p1, 0));
	show_name("client peer", c, 1);
	struct sockaddr_un a;
	socklen_t al = sizeof a;
	int x = accept(l, (struct sockaddr *)&a, &al);
	show_addr("accept addr", &a, al);
	show_name("accepted name", x, 0);
	ck("send", send(c, "via path", 8, 0));
	recv_show("recv", x, 64, 0);
	close(x);
	close(c);
	ck("connect missing", connect_to(socket(AF_UNIX, SOCK_STREAM, 0), p2, 0));
	close(open(p3, O_CREAT | O_WRONLY, 0644));
	ck("connect regular file", connect_to(socket(AF_UNIX, SOCK_STREAM, 0), p3, 0));
	ck("connect wrong type", connect_to(socket(AF_UNIX, SOCK_DGRAM, 0), p1, 0));
	ck("sendto wrong type", sendto_name(socket(AF_UNIX, SOCK_DGRAM, 0), "x", p1, 0));
	/* Unlinked: the name is gone; a new node at the path is not the socket. */
	ck("unlink", unlink(p1));
	ck("connect unlinked", connect_to(socket(AF_UNIX, SOCK_STREAM, 0), p1, 0));
	ck("mknod sock", mknod(p2, S_IFSOCK | 0600, 0));
	ck("connect mknod node", connect_to(socket(AF_UNIX, SOCK_STREAM, 0), p2, 0));
	ck("unlink 2", unlink(p2));
	ck("bind again", bind_to(l2, p1, 0));
	ck("listen 2", listen(l2, 1));
	close(l);
	c = socket(AF_UNIX, SOCK_STREAM, 0);
	ck("connect new", connect_to(c, p1, 0));
	close(c);
	close(l2);
	ck("connect closed", connect_to(socket(AF_UNIX, SOCK_STREAM, 0), p1, 0));
	ck("node stays", access(p1, F_OK));
	/* Datagram by path. */
	int d = socket(AF_UNIX, SOCK_DGRAM, 0);
	int e = socket(AF_UNIX, SOCK_DGRAM, 0);
	unlink(p1);
	ck("bind dgram", bind_to(d, p1, 0));
	ck("bind dgram 2", bind_to(e, p2, 0));
	ck("sendto path", sendto_name(e, "by path", p1, 0));
	recv_show("recvfrom path", d, 64, 0);
	close(d);
	ck("sendto closed path", sendto_name(e, "x", p1, 0));
	close(e);
	unlink(p1);
	unlink(p2);
	unlink(p3);
	/* A too-long path, and a directory that does not exist. */
	char longp[120];
	memset(longp, 'a', sizeof longp);
	longp[sizeof longp - 1] = 0;
	struct sockaddr_un la;
	la.sun_family = AF_UNIX;
	memcpy(la.sun_path, longp, sizeof la.sun_path);
	int z = socket(AF_UNIX, SOCK_STREAM, 0);
	ck("bind full-length path", bind(z, (struct sockaddr *)&la, sizeof la));
	unlink(la.sun_path);
	ck("bind no dir", bind_to(z, "no/such/dir/s", 0));
	close(z);
}

static void test_paths(void)
{
	printf("-- cwd\n");
	paths_in(".");
	printf("-- relative name\n");
	int l = socket(AF_UNIX, SOCK_STREAM, 0);
	ck("bind rel", bind_to(l, "rel.sock", 0));
	show_name("rel name", l, 0);
	close(l);
	unlink("rel.sock");
	printf("-- tmp\n");
	char tmpl[] = "/tmp/umbra-unix-XXXXXX";
	if (!mkdtemp(tmpl)) {
		printf("mkdtemp failed\n");
		return;
	}
	strcpy(tmpdir, tmpl);
	paths_in(tmpl);
	ck("rmdir", rmdir(tmpl));
}

static void test_rights(void)
{
	int sv[2], p[2];
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	pipe(p);
	ck("send pipe end", send_fds(sv[0], "P", &p[1], 1, 0));
	close(p[1]);
	char buf[16];
	int fds[8], n;
	ck("recv", recv_fds(sv[1], buf, sizeof buf, fds, &n));
	printf("got %d fds\n", n);
	ck("write via passed", write(fds[0], "through", 7));
	close(fds[0]);
	ck("read pipe", read(p[0], buf, sizeof buf));
	ck("read eof", read(p[0], buf, sizeof buf));
	close(p[0]);
	/* A socket passed: the receiver talks to its peer. */
	int t[2];
	socketpair(AF_UNIX, SOCK_DGRAM, 0, t);
	ck("send socket", send_fds(sv[0], "S", &t[0], 1, 0));
	close(t[0]);
	ck("recv socket", recv_fds(sv[1], buf, sizeof buf, fds, &n));
	ck("send via passed socket", send(fds[0], "dg", 2, 0));
	recv_show("peer got", t[1], 16, 0);
	printf("type of passed %d\n", opt(fds[0], SO_TYPE));
	close(fds[0]);
	close(t[1]);
	/* Several descriptors, MSG_CTRUNC, MSG_CMSG_CLOEXEC, peeking. */
	int three[3];
	pipe(p);
	three[0] = p[0];
	three[1] = p[1];
	three[2] = p[0];
	ck("send 3", send_fds(sv[0], "3", three, 3, 0));
	recvmsg_show("recv no control", sv[1], 16, 0, 0);
	ck("send 3 again", send_fds(sv[0], "3", three, 3, 0));
	recvmsg_show("recv small control", sv[1], 16, 0, CMSG_SPACE(sizeof(int)));
	ck("send 3 again", send_fds(sv[0], "3", three, 3, 0));
	recvmsg_show("recv peek", sv[1], 16, MSG_PEEK, 256);
	recvmsg_show("recv cloexec", sv[1], 16, MSG_CMSG_CLOEXEC, 256);
	/* Stream data is not merged across a message with descriptors. */
	ck("send plain", send(sv[0], "ab", 2, 0));
	ck("send with fd", send_fds(sv[0], "cd", &p[0], 1, 0));
	ck("send plain 2", send(sv[0], "ef", 2, 0));
	recvmsg_show("recv stops after fds", sv[1], 16, 0, 256);
	recvmsg_show("recv rest", sv[1], 16, 0, 256);
	ck("send with fd", send_fds(sv[0], "long", &p[0], 1, 0));
	recvmsg_show("recv part", sv[1], 2, 0, 256);
	recvmsg_show("recv rest no fd", sv[1], 16, 0, 256);
	/* Datagrams carry their descriptors; empty messages too. */
	int d[2];
	socketpair(AF_UNIX, SOCK_DGRAM, 0, d);
	ck("dgram empty with fd", send_fds(d[0], "", &p[1], 1, 0));
	recvmsg_show("dgram recv", d[1], 16, 0, 256);
	ck("stream empty with fd", send_fds(sv[0], "", &p[1], 1, 0));
	recvmsg_show("stream recv nothing", sv[1], 16, MSG_DONTWAIT, 256);
	ck("bad fd", send_fds(d[0], "x", (int[]){ 99 }, 1, 0));
	close(d[0]);
	close(d[1]);
	close(p[0]);
	close(p[1]);
	close(sv[0]);
	close(sv[1]);
	/* A descriptor crossing a fork. */
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	pid_t pid = fork();
	if (pid == 0) {
		close(sv[0]);
		int q[2];
		pipe(q);
		send_fds(sv[1], "child", &q[0], 1, 0);
		close(q[0]);
		write(q[1], "from child", 10);
		close(q[1]);
		_exit(0);
	}
	close(sv[1]);
	ck("recv from child", recv_fds(sv[0], buf, sizeof buf, fds, &n));
	reap("child", pid);
	memset(buf, 0, sizeof buf);
	ck("read child's pipe", read(fds[0], buf, sizeof buf));
	printf("%s\n", buf);
	close(fds[0]);
	close(sv[0]);
}

static void test_creds(void)
{
	int sv[2];
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	struct ucred u;
	socklen_t l = sizeof u;
	ck("peercred", getsockopt(sv[0], SOL_SOCKET, SO_PEERCRED, &u, &l));
	printf("pair: pid self %d uid %u gid %u len %u\n", u.pid == getpid(), u.uid, u.gid, (unsigned)l);
	printf("passcred %d\n", opt(sv[1], SO_PASSCRED));
	ck("send no creds", send(sv[0], "a", 1, 0));
	recvmsg_show("recv no passcred", sv[1], 16, 0, 256);
	int on = 1;
	ck("set passcred", setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof on));
	printf("passcred %d\n", opt(sv[1], SO_PASSCRED));
	ck("send", send(sv[0], "b", 1, 0));
	recvmsg_show("recv creds", sv[1], 16, 0, 256);
	recvmsg_show("recv creds no room", sv[1], 16, MSG_DONTWAIT, 0);
	ck("send", send(sv[0], "c", 1, 0));
	recvmsg_show("recv creds no room", sv[1], 16, 0, 0);
	/* Explicit credentials. */
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(struct ucred))];
	} c;
	struct iovec iov = { "d", 1 };
	struct msghdr m;
	memset(&m, 0, sizeof m);
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = c.b;
	m.msg_controllen = sizeof c.b;
	struct cmsghdr *h = CMSG_FIRSTHDR(&m);
	h->cmsg_level = SOL_SOCKET;
	h->cmsg_type = SCM_CREDENTIALS;
	h->cmsg_len = CMSG_LEN(sizeof(struct ucred));
	struct ucred mine = { getpid(), 0, 0 };
	memcpy(CMSG_DATA(h), &mine, sizeof mine);
	ck("send explicit", sendmsg(sv[0], &m, 0));
	recvmsg_show("recv explicit", sv[1], 16, 0, 256);
	/* Stream messages of different senders are not merged under SO_PASSCRED. */
	pid_t pid = fork();
	if (pid == 0) {
		send(sv[0], "child", 5, 0);
		_exit(0);
	}
	reap("child", pid);
	ck("send parent", send(sv[0], "parent", 6, 0));
	recvmsg_show("recv child's", sv[1], 64, 0, 256);
	recvmsg_show("recv parent's", sv[1], 64, 0, 256);
	close(sv[0]);
	close(sv[1]);
	/* SO_PEERCRED of a connection: the client's at connect, the
	 * listener's at listen. */
	int lst = socket(AF_UNIX, SOCK_STREAM, 0);
	bind_to(lst, "umbra-cred", 1);
	l = sizeof u;
	ck("peercred unconnected", getsockopt(lst, SOL_SOCKET, SO_PEERCRED, &u, &l));
	printf("unconnected: pid %d uid %d gid %d\n", u.pid, (int)u.uid, (int)u.gid);
	listen(lst, 1);
	l = sizeof u;
	getsockopt(lst, SOL_SOCKET, SO_PEERCRED, &u, &l);
	printf("listener: pid self %d\n", u.pid == getpid());
	int p[2];
	pipe(p);
	pid = fork();
	if (pid == 0) {
		int s = socket(AF_UNIX, SOCK_STREAM, 0);
		connect_to(s, "umbra-cred", 1);
		struct ucred v;
		socklen_t vl = sizeof v;
		getsockopt(s, SOL_SOCKET, SO_PEERCRED, &v, &vl);
		char r = v.pid == getppid() ? 'y' : 'n';
		write(p[1], &r, 1);
		char b;
		read(s, &b, 1);
		_exit(0);
	}
	int x = accept(lst, NULL, NULL);
	l = sizeof u;
	getsockopt(x, SOL_SOCKET, SO_PEERCRED, &u, &l);
	printf("accepted: pid is child %d\n", u.pid == pid);
	char r;
	read(p[0], &r, 1);
	printf("client sees listener: %c\n", r);
	write(x, "k", 1);
	reap("client", pid);
	close(x);
	close(lst);
	close(p[0]);
	close(p[1]);
	/* An accepted socket inherits the listener's SO_PASSCRED; data sent
	 * before accept carries credentials. */
	lst = socket(AF_UNIX, SOCK_STREAM, 0);
	bind_to(lst, "umbra-cred2", 1);
	listen(lst, 2);
	setsockopt(lst, SOL_SOCKET, SO_PASSCRED, &on, sizeof on);
	int c1 = socket(AF_UNIX, SOCK_STREAM, 0);
	connect_to(c1, "umbra-cred2", 1);
	send(c1, "early", 5, 0);
	x = accept(lst, NULL, NULL);
	printf("accepted passcred %d\n", opt(x, SO_PASSCRED));
	recvmsg_show("early creds", x, 16, 0, 256);
	close(x);
	close(c1);
	int off = 0;
	setsockopt(lst, SOL_SOCKET, SO_PASSCRED, &off, sizeof off);
	c1 = socket(AF_UNIX, SOCK_STREAM, 0);
	connect_to(c1, "umbra-cred2", 1);
	send(c1, "early", 5, 0);
	x = accept(lst, NULL, NULL);
	printf("accepted passcred %d\n", opt(x, SO_PASSCRED));
	setsockopt(x, SOL_SOCKET, SO_PASSCRED, &on, sizeof on);
	recvmsg_show("creds of data before accept", x, 16, 0, 256);
	close(x);
	close(c1);
	close(lst);
	/* Datagrams with SO_PASSCRED on the receiver. */
	int d[2];
	socketpair(AF_UNIX, SOCK_DGRAM, 0, d);
	setsockopt(d[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof on);
	send(d[0], "dg", 2, 0);
	recvmsg_show("dgram creds", d[1], 16, 0, 256);
	close(d[0]);
	close(d[1]);
}

static void test_shutdown(void)
{
	int sv[2];
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	ck("write", write(sv[0], "before", 6));
	ck("shutdown wr", shutdown(sv[0], SHUT_WR));
	show_poll("poll writer", sv[0]);
	show_poll("poll reader", sv[1]);
	recv_show("read data", sv[1], 64, 0);
	recv_show("read eof", sv[1], 64, 0);
	recv_show("read eof again", sv[1], 64, MSG_DONTWAIT);
	ck("write after shut", send(sv[0], "x", 1, MSG_NOSIGNAL));
	ck("peer can write", write(sv[1], "back", 4));
	recv_show("writer reads", sv[0], 64, 0);
	ck("shutdown rd", shutdown(sv[0], SHUT_RD));
	show_poll("poll both shut", sv[0]);
	show_poll("poll peer", sv[1]);
	recv_show("read after shut rd", sv[0], 64, MSG_DONTWAIT);
	ck("peer write to shut rd", send(sv[1], "x", 1, MSG_NOSIGNAL));
	close(sv[0]);
	close(sv[1]);
	/* SHUT_RD only: data already there is still read; then end of file. */
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	write(sv[1], "queued", 6);
	ck("shutdown rd", shutdown(sv[0], SHUT_RD));
	recv_show("read queued", sv[0], 64, 0);
	recv_show("read eof", sv[0], 64, 0);
	show_poll("poll rd shut", sv[0]);
	ck("peer writes", send(sv[1], "x", 1, MSG_NOSIGNAL));
	close(sv[0]);
	close(sv[1]);
	/* Closing with unread data: the peer gets ECONNRESET once. */
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	write(sv[1], "unread", 6);
	write(sv[0], "for peer", 8);
	close(sv[0]);
	show_poll("poll reset", sv[1]);
	recv_show("read data", sv[1], 64, 0);
	recv_show("read reset", sv[1], 64, 0);
	recv_show("read eof", sv[1], 64, 0);
	close(sv[1]);
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	write(sv[1], "unread", 6);
	close(sv[0]);
	printf("so_error %s\n", en(opt(sv[1], SO_ERROR)));
	printf("so_error again %d\n", opt(sv[1], SO_ERROR));
	close(sv[1]);
	/* Datagram shutdown. */
	socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
	ck("dgram shutdown rd", shutdown(sv[0], SHUT_RD));
	show_poll("dgram poll", sv[0]);
	recv_show("dgram read nonblock", sv[0], 8, MSG_DONTWAIT);
	recv_show("dgram read blocking", sv[0], 8, 0);
	ck("peer sends", send(sv[1], "x", 1, MSG_NOSIGNAL));
	ck("dgram shutdown wr", shutdown(sv[1], SHUT_WR));
	ck("send after shut wr", send(sv[1], "x", 1, MSG_NOSIGNAL));
	close(sv[0]);
	close(sv[1]);
}

static volatile sig_atomic_t pipes;
static void on_pipe(int s)
{
	(void)s;
	pipes++;
}

static void test_sigpipe(void)
{
	signal(SIGPIPE, on_pipe);
	int types[3] = { SOCK_STREAM, SOCK_SEQPACKET, SOCK_DGRAM };
	const char *names[3] = { "stream", "seqpacket", "dgram" };
	for (int i = 0; i < 3; i++) {
		int sv[2];
		socketpair(AF_UNIX, types[i], 0, sv);
		shutdown(sv[0], SHUT_WR);
		pipes = 0;
		printf("%s: ", names[i]);
		ck("send after shut", send(sv[0], "x", 1, 0));
		printf("%s: sigpipe %d\n", names[i], (int)pipes);
		pipes = 0;
		ck("nosignal", send(sv[0], "x", 1, MSG_NOSIGNAL));
		printf("%s: sigpipe %d\n", names[i], (int)pipes);
		close(sv[0]);
		close(sv[1]);
		socketpair(AF_UNIX, types[i], 0, sv);
		close(sv[1]);
		pipes = 0;
		ck("write to closed", write(sv[0], "x", 1));
		printf("%s: sigpipe %d\n", names[i], (int)pipes);
		close(sv[0]);
	}
	signal(SIGPIPE, SIG_DFL);
	int sv[2];
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	close(sv[1]);
	pid_t pid = fork();
	if (pid == 0) {
		write(sv[0], "x", 1);
		_exit(0);
	}
	reap("default sigpipe", pid);
	close(sv[0]);
}

static void test_nonblock(void)
{
	int l = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	ck("bind", bind_to(l, "umbra-nb", 1));
	ck("listen 1", listen(l, 1));
	ck("accept none", accept(l, NULL, NULL));
	int c[4];
	for (int i = 0; i < 4; i++) {
		c[i] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
		printf("connect %d: ", i);
		ck("", connect_to(c[i], "umbra-nb", 1));
	}
	ck("connect again", connect_to(c[0], "umbra-nb", 1));
	ck("send before accept", send(c[0], "early", 5, 0));
	show_poll("poll listener", l);
	int a = accept4(l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	printf("accept4 flags %d %d\n", (fcntl(a, F_GETFL) & O_NONBLOCK) != 0,
	       (fcntl(a, F_GETFD) & FD_CLOEXEC) != 0);
	recv_show("early data", a, 64, 0);
	printf("connect 2 again: ");
	ck("", connect_to(c[2], "umbra-nb", 1));
	ck("accept4 bad flags", syscall(SYS_accept4, l, NULL, NULL, 1));
	int b = accept(l, NULL, NULL);
	printf("accept flags %d\n", (fcntl(b, F_GETFL) & O_NONBLOCK) != 0);
	ck("accept third", accept(l, NULL, NULL) >= 0 ? 0 : -1);
	ck("accept empty", accept(l, NULL, NULL));
	ck("listen connected", listen(a, 1));
	ck("accept on connected", accept(a, NULL, NULL));
	ck("listen again", listen(l, 0));
	/* Listener closed with a connection not accepted. */
	int w = socket(AF_UNIX, SOCK_STREAM, 0);
	ck("connect pending", connect_to(w, "umbra-nb", 1));
	send(w, "lost", 4, 0);
	close(l);
	show_poll("poll orphan", w);
	recv_show("orphan read", w, 16, 0);
	recv_show("orphan read 2", w, 16, 0);
	ck("connect after close", connect_to(socket(AF_UNIX, SOCK_STREAM, 0), "umbra-nb", 1));
	for (int i = 0; i < 4; i++)
		close(c[i]);
	close(a);
	close(b);
	close(w);
	/* A blocking connect waits for room in the backlog. */
	l = socket(AF_UNIX, SOCK_STREAM, 0);
	bind_to(l, "umbra-nb2", 1);
	listen(l, 0);
	int first = socket(AF_UNIX, SOCK_STREAM, 0);
	ck("connect first", connect_to(first, "umbra-nb2", 1));
	int p[2];
	pipe(p);
	pid_t pid = fork();
	if (pid == 0) {
		int s = socket(AF_UNIX, SOCK_STREAM, 0);
		write(p[1], "w", 1);
		int r = connect_to(s, "umbra-nb2", 1);
		char msg[32];
		snprintf(msg, sizeof msg, "child connect %d", r);
		send(s, msg, strlen(msg), 0);
		_exit(0);
	}
	char ch;
	read(p[0], &ch, 1);
	int x = accept(l, NULL, NULL);
	close(x);
	x = accept(l, NULL, NULL);
	recv_show("second", x, 64, MSG_WAITALL);
	reap("child", pid);
	close(x);
	close(first);
	close(l);
	close(p[0]);
	close(p[1]);
	/* A blocking accept woken by a connect. */
	l = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	bind_to(l, "umbra-nb3", 1);
	listen(l, 5);
	pid = fork();
	if (pid == 0) {
		int s = socket(AF_UNIX, SOCK_SEQPACKET, 0);
		connect_to(s, "umbra-nb3", 1);
		send(s, "hello", 5, 0);
		char b;
		recv(s, &b, 1, 0);
		_exit(0);
	}
	x = accept(l, NULL, NULL);
	recv_show("accepted got", x, 64, 0);
	send(x, "k", 1, 0);
	reap("client", pid);
	close(x);
	close(l);
	/* A listener shut for reading: no connection comes. */
	l = socket(AF_UNIX, SOCK_STREAM, 0);
	bind_to(l, "umbra-nb4", 1);
	listen(l, 1);
	ck("shutdown listener rd", shutdown(l, SHUT_RD));
	ck("accept after shutdown", accept(l, NULL, NULL));
	fcntl(l, F_SETFL, O_NONBLOCK);
	ck("nonblocking accept after shutdown", accept(l, NULL, NULL));
	ck("connect to shut listener", connect_to(socket(AF_UNIX, SOCK_STREAM, 0), "umbra-nb4", 1));
	close(l);
}

static void test_flags(void)
{
	int sv[2];
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	send(sv[0], "abc", 3, 0);
	send(sv[0], "def", 3, 0);
	recv_show("peek", sv[1], 4, MSG_PEEK);
	recv_show("peek all", sv[1], 64, MSG_PEEK);
	recv_show("read 2", sv[1], 2, 0);
	int off = 1;
	ck("peek_off", setsockopt(sv[1], SOL_SOCKET, SO_PEEK_OFF, &off, sizeof off));
	recv_show("peek at 1", sv[1], 2, MSG_PEEK);
	recv_show("peek next", sv[1], 2, MSG_PEEK);
	printf("peek_off now %d\n", opt(sv[1], SO_PEEK_OFF));
	recv_show("read", sv[1], 64, 0);
	printf("peek_off after read %d\n", opt(sv[1], SO_PEEK_OFF));
	recv_show("dontwait", sv[1], 64, MSG_DONTWAIT);
	recv_show("trunc stream", sv[1], 64, MSG_DONTWAIT | MSG_TRUNC);
	/* MSG_WAITALL: a child writes in pieces. */
	pid_t pid = fork();
	if (pid == 0) {
		for (int i = 0; i < 5; i++) {
			send(sv[0], "12", 2, 0);
			usleep(20000);
		}
		_exit(0);
	}
	recv_show("waitall", sv[1], 10, MSG_WAITALL);
	reap("writer", pid);
	send(sv[0], "xy", 2, 0);
	shutdown(sv[0], SHUT_WR);
	recv_show("waitall short at eof", sv[1], 10, MSG_WAITALL);
	close(sv[0]);
	close(sv[1]);
	/* Datagram peek and truncation. */
	socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
	send(sv[0], "datagram", 8, 0);
	recvmsg_show("dgram peek", sv[1], 4, MSG_PEEK, 0);
	recvmsg_show("dgram peek trunc", sv[1], 4, MSG_PEEK | MSG_TRUNC, 0);
	recvmsg_show("dgram read", sv[1], 64, 0, 0);
	/* SO_RCVTIMEO. */
	struct timeval tv = { 0, 50000 };
	setsockopt(sv[1], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	recv_show("rcvtimeo", sv[1], 8, 0);
	close(sv[0]);
	close(sv[1]);
	/* sendmmsg and recvmmsg. */
	socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv);
	struct mmsghdr mm[3];
	struct iovec iv[3] = { { "m1", 2 }, { "mm2", 3 }, { "mmm3", 4 } };
	memset(mm, 0, sizeof mm);
	for (int i = 0; i < 3; i++) {
		mm[i].msg_hdr.msg_iov = &iv[i];
		mm[i].msg_hdr.msg_iovlen = 1;
	}
	ck("sendmmsg", sendmmsg(sv[0], mm, 3, 0));
	char bufs[3][8];
	struct iovec rv[3] = { { bufs[0], 8 }, { bufs[1], 8 }, { bufs[2], 8 } };
	memset(mm, 0, sizeof mm);
	for (int i = 0; i < 3; i++) {
		mm[i].msg_hdr.msg_iov = &rv[i];
		mm[i].msg_hdr.msg_iovlen = 1;
	}
	ck("recvmmsg", recvmmsg(sv[1], mm, 3, MSG_DONTWAIT, NULL));
	printf("lens %u %u %u\n", mm[0].msg_len, mm[1].msg_len, mm[2].msg_len);
	close(sv[0]);
	close(sv[1]);
}

static void test_bufs(void)
{
	int sv[2];
	socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv);
	static char chunk[4096];
	long total = 0;
	for (;;) {
		long r = send(sv[0], chunk, sizeof chunk, 0);
		if (r < 0)
			break;
		total += r;
	}
	printf("filled: %s, between 100000 and 300000: %d\n", en(errno),
	       total > 100000 && total < 300000);
	show_poll("poll full", sv[0]);
	long got = 0;
	for (;;) {
		long r = recv(sv[1], chunk, sizeof chunk, 0);
		if (r <= 0)
			break;
		got += r;
	}
	printf("drained all %d\n", got == total);
	show_poll("poll drained", sv[0]);
	int sz = 8192;
	ck("set sndbuf", setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz));
	printf("sndbuf %d\n", opt(sv[0], SO_SNDBUF));
	total = 0;
	for (;;) {
		long r = send(sv[0], chunk, 1000, 0);
		if (r < 0)
			break;
		total += r;
	}
	printf("small buffer filled under 20000: %d\n", total < 20000);
	close(sv[0]);
	close(sv[1]);
	/* A blocking writer of 1 MiB against a reader. */
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	pid_t pid = fork();
	if (pid == 0) {
		static char big[1 << 20];
		for (size_t i = 0; i < sizeof big; i++)
			big[i] = (char)(i * 7);
		long r = write(sv[0], big, sizeof big);
		_exit(r == sizeof big ? 0 : 1);
	}
	close(sv[0]);
	unsigned long sum = 0;
	long n = 0;
	for (;;) {
		long r = read(sv[1], chunk, sizeof chunk);
		if (r <= 0)
			break;
		for (long i = 0; i < r; i++)
			sum += (unsigned char)chunk[i] * (unsigned long)(n + i + 1);
		n += r;
	}
	printf("read %ld sum %lu\n", n, sum);
	reap("writer", pid);
	close(sv[1]);
}

/* A server forks a child per client; clients send lines and read them
 * back upper-cased. */
static void test_fork(void)
{
	int l = socket(AF_UNIX, SOCK_STREAM, 0);
	ck("bind", bind_to(l, "srv.sock", 0));
	ck("listen", listen(l, 8));
	pid_t server = fork();
	if (server == 0) {
		for (int i = 0; i < 3; i++) {
			int c = accept(l, NULL, NULL);
			if (fork() == 0) {
				char b[64];
				long r;
				while ((r = read(c, b, sizeof b)) > 0) {
					for (long j = 0; j < r; j++)
						if (b[j] >= 'a' && b[j] <= 'z')
							b[j] -= 32;
					write(c, b, r);
				}
				_exit(0);
			}
			close(c);
		}
		while (wait(NULL) > 0)
			;
		_exit(0);
	}
	close(l);
	pid_t kids[3];
	for (int i = 0; i < 3; i++) {
		kids[i] = fork();
		if (kids[i] == 0) {
			int s = socket(AF_UNIX, SOCK_STREAM, 0);
			if (connect_to(s, "srv.sock", 0) < 0)
				_exit(2);
			char msg[32], b[32];
			snprintf(msg, sizeof msg, "client %d says hi", i);
			write(s, msg, strlen(msg));
			shutdown(s, SHUT_WR);
			long n = 0, r;
			while ((r = read(s, b + n, sizeof b - 1 - n)) > 0)
				n += r;
			b[n] = 0;
			snprintf(msg, sizeof msg, "CLIENT %d SAYS HI", i);
			_exit(strcmp(b, msg) == 0 ? 10 + i : 1);
		}
	}
	for (int i = 0; i < 3; i++)
		reap("client", kids[i]);
	reap("server", server);
	unlink("srv.sock");
}

/* Descriptors in flight in a cycle no descriptor reaches: Linux's garbage
 * collector closes them. A pipe's write end travels with the cycle, so the
 * read end sees end of file when it is collected. */
static void test_gc(void)
{
	int p[2];
	pipe(p);
	int a[2], b[2];
	socketpair(AF_UNIX, SOCK_STREAM, 0, a);
	socketpair(AF_UNIX, SOCK_DGRAM, 0, b);
	/* a[0]'s own descriptor waits in a[1]... and a[1]'s in a[0]. */
	ck("send a0 to a1", send_fds(a[0], "x", &a[0], 1, 0));
	ck("send a1 to a0", send_fds(a[1], "y", &a[1], 1, 0));
	ck("send pipe", send_fds(a[0], "p", &p[1], 1, 0));
	/* A second cycle through a datagram pair, and b[0] in a's queue. */
	ck("send b1 via b0", send_fds(b[0], "b", &b[1], 1, 0));
	ck("send b0 via b1", send_fds(b[1], "b", &b[0], 1, 0));
	ck("send b0 into a", send_fds(a[1], "z", &b[0], 1, 0));
	close(p[1]);
	/* A live socket holding its own descriptor is not collected. */
	int live[2];
	socketpair(AF_UNIX, SOCK_STREAM, 0, live);
	send_fds(live[0], "self", &live[1], 1, 0);
	close(a[0]);
	close(a[1]);
	close(b[0]);
	close(b[1]);
	/* Closing a socket is what runs the collector. */
	int collected = 0;
	for (int i = 0; i < 200 && !collected; i++) {
		int t[2];
		socketpair(AF_UNIX, SOCK_STREAM, 0, t);
		close(t[0]);
		close(t[1]);
		struct pollfd pf = { p[0], POLLIN, 0 };
		if (poll(&pf, 1, 50) == 1) {
			char c;
			collected = read(p[0], &c, 1) == 0;
		}
	}
	printf("cycle collected: %d\n", collected);
	int fds[8], n;
	char buf[8];
	ck("live one keeps its fd", recv_fds(live[1], buf, sizeof buf, fds, &n));
	printf("got %d\n", n);
	close(fds[0]);
	close(live[0]);
	close(live[1]);
	close(p[0]);
	/* A listener's pending connection carrying the listener itself. */
	pipe(p);
	int l = socket(AF_UNIX, SOCK_STREAM, 0);
	bind_to(l, "umbra-gc-l", 1);
	listen(l, 1);
	int c = socket(AF_UNIX, SOCK_STREAM, 0);
	connect_to(c, "umbra-gc-l", 1);
	int two[2] = { l, p[1] };
	ck("send listener into its embryo", send_fds(c, "l", two, 2, 0));
	close(p[1]);
	close(l);
	close(c);
	collected = 0;
	for (int i = 0; i < 200 && !collected; i++) {
		int t[2];
		socketpair(AF_UNIX, SOCK_STREAM, 0, t);
		close(t[0]);
		close(t[1]);
		struct pollfd pf = { p[0], POLLIN, 0 };
		if (poll(&pf, 1, 50) == 1) {
			char ch;
			collected = read(p[0], &ch, 1) == 0;
		}
	}
	printf("listener cycle collected: %d\n", collected);
	close(p[0]);
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	ck("name free again", bind_to(s, "umbra-gc-l", 1));
	close(s);
}

static void ep_show(const char *what, int ep)
{
	struct epoll_event ev[4];
	int n = epoll_wait(ep, ev, 4, 0);
	printf("%s: %d", what, n);
	for (int i = 0; i < n; i++) {
		printf(" [%d", (int)ev[i].data.u32);
		if (ev[i].events & EPOLLIN)
			printf(" IN");
		if (ev[i].events & EPOLLOUT)
			printf(" OUT");
		if (ev[i].events & EPOLLRDHUP)
			printf(" RDHUP");
		if (ev[i].events & EPOLLHUP)
			printf(" HUP");
		if (ev[i].events & EPOLLERR)
			printf(" ERR");
		printf("]");
	}
	printf("\n");
}

/* epoll over unix sockets, edge-triggered: each message and each read
 * that makes room is a new edge. */
static void test_epoll(void)
{
	int sv[2];
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	int ep = epoll_create1(0);
	struct epoll_event e = { EPOLLIN | EPOLLRDHUP | EPOLLET, { .u32 = 1 } };
	ck("add reader", epoll_ctl(ep, EPOLL_CTL_ADD, sv[1], &e));
	e.events = EPOLLOUT | EPOLLET;
	e.data.u32 = 0;
	ck("add writer", epoll_ctl(ep, EPOLL_CTL_ADD, sv[0], &e));
	ep_show("initial", ep);
	ep_show("again", ep);
	write(sv[0], "a", 1);
	ep_show("after write", ep);
	ep_show("again", ep);
	write(sv[0], "b", 1);
	ep_show("second write", ep);
	char buf[8];
	read(sv[1], buf, sizeof buf);
	ep_show("after read", ep);
	ep_show("again", ep);
	shutdown(sv[0], SHUT_WR);
	ep_show("after shutdown", ep);
	close(sv[0]);
	ep_show("after close", ep);
	close(sv[1]);
	close(ep);
	/* A listener: each connection is an edge. */
	int l = socket(AF_UNIX, SOCK_STREAM, 0);
	bind_to(l, "umbra-ep", 1);
	listen(l, 4);
	ep = epoll_create1(0);
	e.events = EPOLLIN | EPOLLET;
	e.data.u32 = 2;
	epoll_ctl(ep, EPOLL_CTL_ADD, l, &e);
	ep_show("listener idle", ep);
	int c1 = socket(AF_UNIX, SOCK_STREAM, 0);
	connect_to(c1, "umbra-ep", 1);
	ep_show("first connect", ep);
	int c2 = socket(AF_UNIX, SOCK_STREAM, 0);
	connect_to(c2, "umbra-ep", 1);
	ep_show("second connect", ep);
	ep_show("again", ep);
	close(c1);
	close(c2);
	close(l);
	close(ep);
	/* Datagrams, level-triggered. */
	socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
	ep = epoll_create1(0);
	e.events = EPOLLIN;
	e.data.u32 = 3;
	epoll_ctl(ep, EPOLL_CTL_ADD, sv[1], &e);
	send(sv[0], "x", 1, 0);
	send(sv[0], "y", 1, 0);
	ep_show("dgram 2 queued", ep);
	recv(sv[1], buf, sizeof buf, 0);
	ep_show("dgram 1 left", ep);
	recv(sv[1], buf, sizeof buf, 0);
	ep_show("dgram none", ep);
	close(sv[0]);
	close(sv[1]);
	close(ep);
}

static const struct {
	const char *name;
	void (*fn)(void);
} tests[] = {
	{ "stream", test_stream },	 { "dgram", test_dgram },
	{ "seqpacket", test_seqpacket }, { "abstract", test_abstract },
	{ "paths", test_paths },	 { "rights", test_rights },
	{ "creds", test_creds },	 { "shutdown", test_shutdown },
	{ "sigpipe", test_sigpipe },	 { "nonblock", test_nonblock },
	{ "flags", test_flags },	 { "bufs", test_bufs },
	{ "fork", test_fork },		 { "gc", test_gc },
	{ "epoll", test_epoll },
};

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	snprintf(pfx, sizeof pfx, "%08x-", (unsigned)getpid());
	for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
		int run = argc < 2;
		for (int j = 1; j < argc; j++)
			run |= strcmp(argv[j], tests[i].name) == 0;
		if (!run)
			continue;
		printf("== %s\n", tests[i].name);
		tests[i].fn();
	}
	return 0;
}
