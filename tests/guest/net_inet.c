/* net_inet.c: TCP and UDP over the loopback, AF_INET and AF_INET6, the
 * interface ioctls and NETLINK_ROUTE. Run natively inside a fresh network
 * namespace (lo up) and under umbra; each argument names a section.
 *
 * Ports are never printed (ephemeral ones differ from run to run); every
 * wait is a blocking call or a poll with a long timeout, so the output does
 * not depend on timing. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

/* The netlink ABI (musl-gcc has no kernel headers). */
#define NETLINK_ROUTE 0
#define NETLINK_GENERIC 16
struct sockaddr_nl {
	unsigned short nl_family, nl_pad;
	unsigned nl_pid, nl_groups;
};
struct nlmsghdr {
	unsigned nlmsg_len;
	unsigned short nlmsg_type, nlmsg_flags;
	unsigned nlmsg_seq, nlmsg_pid;
};
struct nlmsgerr {
	int error;
	struct nlmsghdr msg;
};
struct ifinfomsg {
	unsigned char ifi_family, pad;
	unsigned short ifi_type;
	int ifi_index;
	unsigned ifi_flags, ifi_change;
};
struct ifaddrmsg {
	unsigned char ifa_family, ifa_prefixlen, ifa_flags, ifa_scope;
	unsigned ifa_index;
};
struct rtattr {
	unsigned short rta_len, rta_type;
};
#define NLM_F_REQUEST 1
#define NLM_F_ACK 4
#define NLM_F_DUMP 0x300
#define NLMSG_ERROR 2
#define NLMSG_DONE 3
#define RTM_NEWLINK 16
#define RTM_GETLINK 18
#define RTM_NEWADDR 20
#define RTM_GETADDR 22
#define RTM_GETNEIGH 30
#define IFLA_ADDRESS 1
#define IFLA_IFNAME 3
#define IFLA_MTU 4
#define IFA_ADDRESS 1
#define IFA_LOCAL 2
#define IFA_LABEL 3
#define NLMSG_ALIGN(n) (((n) + 3) & ~3u)
#define NLMSG_HDRLEN ((int)NLMSG_ALIGN(sizeof(struct nlmsghdr)))
#define NLMSG_DATA(h) ((void *)((char *)(h) + NLMSG_HDRLEN))
#define NLMSG_OK(h, len) ((len) >= (int)sizeof(struct nlmsghdr) && (h)->nlmsg_len >= sizeof(struct nlmsghdr) && (h)->nlmsg_len <= (unsigned)(len))
#define NLMSG_NEXT(h, len) ((len) -= NLMSG_ALIGN((h)->nlmsg_len), (struct nlmsghdr *)((char *)(h) + NLMSG_ALIGN((h)->nlmsg_len)))
#define RTA_OK(a, len) ((len) >= (int)sizeof(struct rtattr) && (a)->rta_len >= sizeof(struct rtattr) && (a)->rta_len <= (unsigned)(len))
#define RTA_NEXT(a, len) ((len) -= NLMSG_ALIGN((a)->rta_len), (struct rtattr *)((char *)(a) + NLMSG_ALIGN((a)->rta_len)))
#define RTA_DATA(a) ((void *)((char *)(a) + 4))
#define RTA_PAYLOAD(a) ((a)->rta_len - 4)
#define IFLA_RTA(i) ((struct rtattr *)((char *)(i) + NLMSG_ALIGN(sizeof(struct ifinfomsg))))
#define IFA_RTA(i) ((struct rtattr *)((char *)(i) + NLMSG_ALIGN(sizeof(struct ifaddrmsg))))
#define IFLA_PAYLOAD(h) ((int)((h)->nlmsg_len - NLMSG_HDRLEN - NLMSG_ALIGN(sizeof(struct ifinfomsg))))
#define IFA_PAYLOAD(h) ((int)((h)->nlmsg_len - NLMSG_HDRLEN - NLMSG_ALIGN(sizeof(struct ifaddrmsg))))
#ifndef SIOCINQ
#define SIOCINQ FIONREAD
#endif
#ifndef SIOCOUTQ
#define SIOCOUTQ TIOCOUTQ
#endif

static const char *en(int e)
{
	switch (e) {
	case 0: return "OK";
	case EPERM: return "EPERM";
	case EBADF: return "EBADF";
	case EAGAIN: return "EAGAIN";
	case EACCES: return "EACCES";
	case EINVAL: return "EINVAL";
	case EPIPE: return "EPIPE";
	case ENOTTY: return "ENOTTY";
	case ENODEV: return "ENODEV";
	case ENOTSOCK: return "ENOTSOCK";
	case EDESTADDRREQ: return "EDESTADDRREQ";
	case EMSGSIZE: return "EMSGSIZE";
	case EPROTOTYPE: return "EPROTOTYPE";
	case ENOPROTOOPT: return "ENOPROTOOPT";
	case EPROTONOSUPPORT: return "EPROTONOSUPPORT";
	case ESOCKTNOSUPPORT: return "ESOCKTNOSUPPORT";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case EAFNOSUPPORT: return "EAFNOSUPPORT";
	case EADDRINUSE: return "EADDRINUSE";
	case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
	case ENETUNREACH: return "ENETUNREACH";
	case ECONNABORTED: return "ECONNABORTED";
	case ECONNRESET: return "ECONNRESET";
	case EISCONN: return "EISCONN";
	case ENOTCONN: return "ENOTCONN";
	case ECONNREFUSED: return "ECONNREFUSED";
	case EALREADY: return "EALREADY";
	case EINPROGRESS: return "EINPROGRESS";
	default: {
		static char b[32];
		snprintf(b, sizeof b, "E%d", e);
		return b;
	}
	}
}

static long ck(const char *what, long r)
{
	if (r < 0)
		printf("%s: -1 %s\n", what, en(errno));
	else
		printf("%s: %ld\n", what, r);
	return r;
}

/* Like ck, but prints only "ok" for a success (for fds and ports). */
static long ok(const char *what, long r)
{
	if (r < 0)
		printf("%s: -1 %s\n", what, en(errno));
	else
		printf("%s: ok\n", what);
	return r;
}

static void die(const char *what)
{
	printf("FAIL %s: %s\n", what, en(errno));
	fflush(stdout);
	exit(1);
}

/* An address of `fam` (AF_INET or AF_INET6) for `ip`, port `port`. */
static socklen_t mkaddr(struct sockaddr_storage *ss, int fam, const char *ip, int port)
{
	memset(ss, 0, sizeof *ss);
	if (fam == AF_INET) {
		struct sockaddr_in *a = (void *)ss;
		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		inet_pton(AF_INET, ip, &a->sin_addr);
		return sizeof *a;
	}
	struct sockaddr_in6 *a = (void *)ss;
	a->sin6_family = AF_INET6;
	a->sin6_port = htons(port);
	inet_pton(AF_INET6, ip, &a->sin6_addr);
	return sizeof *a;
}

static int port_of(struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)ss)->sin_port);
	return ntohs(((struct sockaddr_in6 *)ss)->sin6_port);
}

static int local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t l = sizeof ss;
	if (getsockname(fd, (void *)&ss, &l) < 0)
		die("getsockname");
	return port_of(&ss);
}

/* "AF_INET 127.0.0.1 len 16" (the port left out). */
static void show(const char *what, struct sockaddr_storage *ss, socklen_t l)
{
	char buf[64] = "?";
	if (ss->ss_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)ss)->sin_addr, buf, sizeof buf);
	else if (ss->ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)ss)->sin6_addr, buf, sizeof buf);
	printf("%s: %s %s len %u\n", what,
	       ss->ss_family == AF_INET ? "AF_INET" : ss->ss_family == AF_INET6 ? "AF_INET6" : "AF_?",
	       buf, (unsigned)l);
}

static void names(const char *who, int fd)
{
	struct sockaddr_storage ss;
	socklen_t l = sizeof ss;
	char w[64];
	snprintf(w, sizeof w, "%s sockname", who);
	if (getsockname(fd, (void *)&ss, &l) < 0)
		printf("%s: -1 %s\n", w, en(errno));
	else
		show(w, &ss, l);
	l = sizeof ss;
	snprintf(w, sizeof w, "%s peername", who);
	if (getpeername(fd, (void *)&ss, &l) < 0)
		printf("%s: -1 %s\n", w, en(errno));
	else
		show(w, &ss, l);
}

/* A listener of `fam` on `ip`, port 0 (ephemeral); returns the fd and
 * stores the port. */
static int listener(int fam, const char *ip, int *port, int backlog)
{
	struct sockaddr_storage ss;
	int s = socket(fam, SOCK_STREAM, 0);
	if (s < 0)
		die("socket");
	socklen_t l = mkaddr(&ss, fam, ip, 0);
	if (bind(s, (void *)&ss, l) < 0)
		die("bind");
	if (listen(s, backlog) < 0)
		die("listen");
	*port = local_port(s);
	return s;
}

static int connect_to(int fam, const char *ip, int port)
{
	struct sockaddr_storage ss;
	int c = socket(fam, SOCK_STREAM, 0);
	if (c < 0)
		die("socket");
	socklen_t l = mkaddr(&ss, fam, ip, port);
	if (connect(c, (void *)&ss, l) < 0)
		die("connect");
	return c;
}

/* Reads exactly n bytes (or until EOF); returns what it got. */
static long readn(int fd, void *buf, long n)
{
	long got = 0;
	while (got < n) {
		long r = read(fd, (char *)buf + got, n - got);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0)
			break;
		got += r;
	}
	return got;
}

static void echo(int fam, const char *srv_ip, const char *cli_ip)
{
	int port;
	int s = listener(fam, srv_ip, &port, 5);
	int c = connect_to(fam, cli_ip, port);
	struct sockaddr_storage ss;
	socklen_t l = sizeof ss;
	int a = accept(s, (void *)&ss, &l);
	if (a < 0)
		die("accept");
	show("accept peer", &ss, l);
	names("client", c);
	names("server", a);
	ck("send", send(c, "hello", 5, 0));
	char buf[16] = {0};
	ck("recv", recv(a, buf, sizeof buf, 0));
	printf("got %s\n", buf);
	ck("write back", write(a, "world!", 6));
	memset(buf, 0, sizeof buf);
	ck("read", readn(c, buf, 6));
	printf("got %s\n", buf);
	close(a);
	ck("read at eof", read(c, buf, sizeof buf));
	close(c);
	close(s);
}

static void sec_tcp4(void)
{
	echo(AF_INET, "127.0.0.1", "127.0.0.1");
	/* The wildcard: a listener on 0.0.0.0 takes 127.0.0.2; a connect to
	 * 0.0.0.0 reaches the loopback. */
	echo(AF_INET, "0.0.0.0", "127.0.0.2");
	echo(AF_INET, "0.0.0.0", "0.0.0.0");
}

static void sec_tcp6(void)
{
	echo(AF_INET6, "::1", "::1");
	echo(AF_INET6, "::", "::");
}

/* A v6 listener without IPV6_V6ONLY takes IPv4 connections; with it, not. */
static void sec_mapped(void)
{
	echo(AF_INET6, "::", "::ffff:127.0.0.1");
	int port;
	int s = listener(AF_INET6, "::", &port, 5);
	int c = connect_to(AF_INET, "127.0.0.1", port);
	struct sockaddr_storage ss;
	socklen_t l = sizeof ss;
	int a = accept(s, (void *)&ss, &l);
	show("v4 client seen by v6 server", &ss, l);
	names("v4 client", c);
	names("v6 server", a);
	close(a);
	close(c);
	close(s);

	int v6 = socket(AF_INET6, SOCK_STREAM, 0);
	int one = 1, v;
	socklen_t vl = sizeof v;
	getsockopt(v6, IPPROTO_IPV6, IPV6_V6ONLY, &v, &vl);
	printf("v6only default %d\n", v);
	ck("set v6only", setsockopt(v6, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one));
	l = mkaddr(&ss, AF_INET6, "::", 0);
	ck("bind v6only", bind(v6, (void *)&ss, l));
	ck("listen", listen(v6, 5));
	port = local_port(v6);
	ck("set v6only after bind", setsockopt(v6, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one));
	/* The same port on IPv4 is free: v6only does not cover it. */
	int s4 = socket(AF_INET, SOCK_STREAM, 0);
	l = mkaddr(&ss, AF_INET, "0.0.0.0", port);
	ck("bind v4 same port", bind(s4, (void *)&ss, l));
	close(s4);
	c = socket(AF_INET, SOCK_STREAM, 0);
	l = mkaddr(&ss, AF_INET, "127.0.0.1", port);
	ck("v4 connect to v6only", connect(c, (void *)&ss, l));
	close(c);
	c = socket(AF_INET6, SOCK_STREAM, 0);
	setsockopt(c, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	l = mkaddr(&ss, AF_INET6, "::ffff:127.0.0.1", port);
	ck("v6only connect to mapped", connect(c, (void *)&ss, l));
	close(c);
	close(v6);
	/* Family mismatches. */
	c = socket(AF_INET, SOCK_STREAM, 0);
	l = mkaddr(&ss, AF_INET6, "::1", port);
	ck("v4 socket, v6 address", connect(c, (void *)&ss, l));
	ck("v4 socket bind v6 address", bind(c, (void *)&ss, l));
	close(c);
	c = socket(AF_INET6, SOCK_STREAM, 0);
	l = mkaddr(&ss, AF_INET, "127.0.0.1", port);
	ck("v6 socket, sockaddr_in", connect(c, (void *)&ss, l));
	close(c);
}

/* A forked client sends 1 MB; the server echoes it; the client checks. */
static void sec_fork(void)
{
	int port;
	int s = listener(AF_INET, "127.0.0.1", &port, 5);
	const long N = 1 << 20;
	pid_t p = fork();
	if (p == 0) {
		int c = connect_to(AF_INET, "127.0.0.1", port);
		char *buf = malloc(N), *back = malloc(N);
		for (long i = 0; i < N; i++)
			buf[i] = (char)(i * 7 + i / 251);
		/* Write and read in turns so neither side's buffer fills. */
		long sent = 0, got = 0;
		while (got < N) {
			if (sent < N) {
				long r = write(c, buf + sent, sent + 65536 > N ? N - sent : 65536);
				if (r < 0)
					_exit(2);
				sent += r;
			}
			long r = read(c, back + got, N - got);
			if (r <= 0)
				_exit(3);
			got += r;
		}
		shutdown(c, SHUT_WR);
		char x;
		if (read(c, &x, 1) != 0)
			_exit(4);
		_exit(memcmp(buf, back, N) ? 5 : 0);
	}
	int a = accept(s, NULL, NULL);
	if (a < 0)
		die("accept");
	char buf[8192];
	long total = 0;
	for (;;) {
		long r = read(a, buf, sizeof buf);
		if (r < 0)
			die("read");
		if (r == 0)
			break;
		total += r;
		if (write(a, buf, r) != r)
			die("write");
	}
	close(a);
	close(s);
	int st;
	waitpid(p, &st, 0);
	printf("server echoed %ld bytes; client exit %d\n", total, WEXITSTATUS(st));
}

/* 64 connections at once: a child opens them all, writes on each, then
 * reads each echo; the parent serves them all with poll. */
static void sec_many(void)
{
	enum { N = 64 };
	int port;
	int s = listener(AF_INET, "127.0.0.1", &port, N);
	pid_t p = fork();
	if (p == 0) {
		int c[N];
		for (int i = 0; i < N; i++)
			c[i] = connect_to(i % 2 ? AF_INET6 : AF_INET,
					  i % 2 ? "::ffff:127.0.0.1" : "127.0.0.1", port);
		for (int i = 0; i < N; i++) {
			char m[32];
			int n = snprintf(m, sizeof m, "message %02d", i);
			if (write(c[i], m, n) != n)
				_exit(2);
		}
		for (int i = N - 1; i >= 0; i--) {
			char m[32] = {0}, want[32];
			int n = snprintf(want, sizeof want, "message %02d", i);
			if (readn(c[i], m, n) != n || memcmp(m, want, n))
				_exit(3);
			close(c[i]);
		}
		_exit(0);
	}
	struct pollfd pf[N + 1];
	int nfd = 1, served = 0, closed = 0;
	pf[0].fd = s;
	pf[0].events = POLLIN;
	while (closed < N) {
		if (poll(pf, nfd, 30000) <= 0)
			die("poll");
		for (int i = 0; i < nfd; i++) {
			if (!pf[i].revents)
				continue;
			if (i == 0) {
				int a = accept(s, NULL, NULL);
				if (a < 0)
					die("accept");
				pf[nfd].fd = a;
				pf[nfd].events = POLLIN;
				pf[nfd].revents = 0;
				nfd++;
				continue;
			}
			char buf[64];
			long r = read(pf[i].fd, buf, sizeof buf);
			if (r < 0)
				die("read");
			if (r == 0) {
				close(pf[i].fd);
				pf[i].fd = -1;
				closed++;
				continue;
			}
			served++;
			if (write(pf[i].fd, buf, r) != r)
				die("write");
		}
	}
	int st;
	waitpid(p, &st, 0);
	printf("connections %d closed %d; client exit %d\n", nfd - 1, closed, WEXITSTATUS(st));
	(void)served;
	close(s);
}

static void sec_udp(void)
{
	struct sockaddr_storage ss, from;
	socklen_t l, fl;
	char buf[64];
	int a = socket(AF_INET, SOCK_DGRAM, 0);
	int b = socket(AF_INET, SOCK_DGRAM, 0);
	l = mkaddr(&ss, AF_INET, "127.0.0.1", 0);
	ck("bind a", bind(a, (void *)&ss, l));
	int pa = local_port(a);
	names("unbound b", b);
	ck("send unconnected no address", send(b, "x", 1, 0));
	l = mkaddr(&ss, AF_INET, "127.0.0.1", pa);
	ck("sendto a", sendto(b, "ping", 4, 0, (void *)&ss, l));
	ck("sendto a empty", sendto(b, "", 0, 0, (void *)&ss, l));
	printf("b bound by sendto: %s\n", local_port(b) ? "yes" : "no");
	fl = sizeof from;
	ck("recvfrom peek trunc", recvfrom(a, buf, 2, MSG_PEEK | MSG_TRUNC, (void *)&from, &fl));
	int n = 0;
	ck("FIONREAD", ioctl(a, FIONREAD, &n));
	printf("FIONREAD %d\n", n);
	fl = sizeof from;
	ck("recvfrom", recvfrom(a, buf, sizeof buf, 0, (void *)&from, &fl));
	show("from", &from, fl);
	printf("from port matches b: %s\n", port_of(&from) == local_port(b) ? "yes" : "no");
	ck("recv empty datagram", recv(a, buf, sizeof buf, 0));
	/* recvmsg truncation flag. */
	sendto(b, "0123456789", 10, 0, (void *)&ss, l);
	struct iovec iov = {buf, 4};
	struct msghdr mh = {0};
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	ck("recvmsg short", recvmsg(a, &mh, 0));
	printf("MSG_TRUNC %s\n", mh.msg_flags & MSG_TRUNC ? "set" : "clear");
	ck("nonblocking recv", recv(a, buf, sizeof buf, MSG_DONTWAIT));

	/* Connected: only the peer's datagrams arrive. */
	int c = socket(AF_INET, SOCK_DGRAM, 0);
	ck("connect a->b", connect(a, (void *)&ss, l) == 0 ? 0 : -1);
	struct sockaddr_storage bs;
	l = sizeof bs;
	getsockname(b, (void *)&bs, &l);
	ck("connect a to b", connect(a, (void *)&bs, l));
	names("connected a", a);
	l = mkaddr(&ss, AF_INET, "127.0.0.1", pa);
	ck("c sendto a (filtered)", sendto(c, "nope", 4, 0, (void *)&ss, l));
	ck("b sendto a", sendto(b, "yes", 3, 0, (void *)&ss, l));
	memset(buf, 0, sizeof buf);
	ck("a recv", recv(a, buf, sizeof buf, 0));
	printf("a got %s\n", buf);
	ck("a recv again", recv(a, buf, sizeof buf, MSG_DONTWAIT));
	ck("a send to b", send(a, "back", 4, 0));
	ck("b recv", recv(b, buf, sizeof buf, 0));
	struct sockaddr_storage un = {0};
	un.ss_family = AF_UNSPEC;
	ck("disconnect a", connect(a, (void *)&un, sizeof(sa_family_t)));
	names("disconnected a", a);
	ck("send after disconnect", send(a, "x", 1, 0));
	close(c);

	/* A connected socket learns of a closed port (ICMP). */
	int d = socket(AF_INET, SOCK_DGRAM, 0);
	int e = socket(AF_INET, SOCK_DGRAM, 0);
	l = mkaddr(&ss, AF_INET, "127.0.0.1", 0);
	bind(e, (void *)&ss, l);
	int dead = local_port(e);
	close(e);
	l = mkaddr(&ss, AF_INET, "127.0.0.1", dead);
	ck("unconnected sendto closed port", sendto(d, "x", 1, 0, (void *)&ss, l));
	ck("unconnected recv", recv(d, buf, sizeof buf, MSG_DONTWAIT));
	ck("connect to closed port", connect(d, (void *)&ss, l));
	ck("send to closed port", send(d, "x", 1, 0));
	ck("recv after refusal", recv(d, buf, sizeof buf, 0));
	ck("recv again", recv(d, buf, sizeof buf, MSG_DONTWAIT));
	close(d);

	/* IPv6 and mapped IPv4 datagrams. */
	int v6 = socket(AF_INET6, SOCK_DGRAM, 0);
	l = mkaddr(&ss, AF_INET6, "::", 0);
	ck("bind v6 any", bind(v6, (void *)&ss, l));
	int p6 = local_port(v6);
	l = mkaddr(&ss, AF_INET, "127.0.0.1", p6);
	ck("v4 sendto v6 socket", sendto(b, "four", 4, 0, (void *)&ss, l));
	fl = sizeof from;
	ck("v6 recvfrom", recvfrom(v6, buf, sizeof buf, 0, (void *)&from, &fl));
	show("v6 from", &from, fl);
	int v6b = socket(AF_INET6, SOCK_DGRAM, 0);
	l = mkaddr(&ss, AF_INET6, "::1", p6);
	ck("v6 sendto ::1", sendto(v6b, "six", 3, 0, (void *)&ss, l));
	fl = sizeof from;
	ck("v6 recvfrom", recvfrom(v6, buf, sizeof buf, 0, (void *)&from, &fl));
	show("v6 from", &from, fl);

	/* Limits and routes. */
	static char big[70000];
	l = mkaddr(&ss, AF_INET, "127.0.0.1", pa);
	ck("sendto 65507", sendto(b, big, 65507, 0, (void *)&ss, l));
	ck("sendto 65508", sendto(b, big, 65508, 0, (void *)&ss, l));
	l = mkaddr(&ss, AF_INET, "10.1.2.3", 9);
	ck("sendto 10.1.2.3", sendto(b, "x", 1, 0, (void *)&ss, l));
	l = mkaddr(&ss, AF_INET6, "2001:db8::1", 9);
	ck("sendto 2001:db8::1", sendto(v6b, "x", 1, 0, (void *)&ss, l));
	ck("send MSG_OOB", send(a, "x", 1, MSG_OOB));
	ck("listen on udp", listen(a, 1));
	ck("accept on udp", accept(a, NULL, NULL));
	close(a);
	close(b);
	close(v6);
	close(v6b);
}

/* Ephemeral ports: in Linux's range, never printed. */
static void sec_ephemeral(void)
{
	struct sockaddr_storage ss;
	socklen_t l;
	int range_ok = 1, distinct = 1, prev = -1;
	for (int i = 0; i < 8; i++) {
		int s = socket(AF_INET, SOCK_STREAM, 0);
		l = mkaddr(&ss, AF_INET, "127.0.0.1", 0);
		bind(s, (void *)&ss, l);
		int p = local_port(s);
		if (p < 32768 || p > 60999)
			range_ok = 0;
		if (p == prev)
			distinct = 0;
		prev = p;
		close(s);
	}
	printf("bind(0) ports in 32768-60999: %s; consecutive differ: %s\n",
	       range_ok ? "yes" : "no", distinct ? "yes" : "no");
	int port;
	int s = listener(AF_INET, "127.0.0.1", &port, 5);
	int c = connect_to(AF_INET, "127.0.0.1", port);
	int p = local_port(c);
	printf("connect autobind in range: %s\n", p >= 32768 && p <= 60999 ? "yes" : "no");
	int u = socket(AF_INET, SOCK_DGRAM, 0);
	printf("unbound udp port: %d\n", local_port(u));
	l = mkaddr(&ss, AF_INET, "127.0.0.1", port);
	connect(u, (void *)&ss, l);
	p = local_port(u);
	printf("udp connect autobind in range: %s\n", p >= 32768 && p <= 60999 ? "yes" : "no");
	ok("listen autobinds", 0);
	int t = socket(AF_INET, SOCK_STREAM, 0);
	listen(t, 1);
	p = local_port(t);
	printf("listen autobind in range: %s\n", p >= 32768 && p <= 60999 ? "yes" : "no");
	close(t);
	close(u);
	close(c);
	close(s);
}

static void sec_addrinuse(void)
{
	struct sockaddr_storage ss;
	socklen_t l;
	int port;
	int s = listener(AF_INET, "127.0.0.1", &port, 5);
	int t = socket(AF_INET, SOCK_STREAM, 0);
	l = mkaddr(&ss, AF_INET, "127.0.0.1", port);
	ck("same addr", bind(t, (void *)&ss, l));
	l = mkaddr(&ss, AF_INET, "0.0.0.0", port);
	ck("wildcard over specific", bind(t, (void *)&ss, l));
	l = mkaddr(&ss, AF_INET, "127.0.0.2", port);
	ck("other address same port", bind(t, (void *)&ss, l));
	ck("bind twice", bind(t, (void *)&ss, l));
	close(t);
	t = socket(AF_INET6, SOCK_STREAM, 0);
	l = mkaddr(&ss, AF_INET6, "::", port);
	ck("v6 wildcard over v4", bind(t, (void *)&ss, l));
	close(t);
	t = socket(AF_INET6, SOCK_STREAM, 0);
	l = mkaddr(&ss, AF_INET6, "::1", port);
	ck("::1 beside 127.0.0.1", bind(t, (void *)&ss, l));
	close(t);
	t = socket(AF_INET, SOCK_DGRAM, 0);
	l = mkaddr(&ss, AF_INET, "127.0.0.1", port);
	ck("udp on a tcp port", bind(t, (void *)&ss, l));
	close(t);
	t = socket(AF_INET, SOCK_STREAM, 0);
	l = mkaddr(&ss, AF_INET, "10.9.8.7", 0);
	ck("non-local address", bind(t, (void *)&ss, l));
	l = mkaddr(&ss, AF_INET6, "2001:db8::1", 0);
	close(t);
	t = socket(AF_INET6, SOCK_STREAM, 0);
	ck("non-local v6 address", bind(t, (void *)&ss, l));
	close(t);
	close(s);
	/* The port is free again once the listener is closed. */
	t = socket(AF_INET, SOCK_STREAM, 0);
	l = mkaddr(&ss, AF_INET, "127.0.0.1", port);
	ck("after close", bind(t, (void *)&ss, l));
	close(t);
}

static void sec_reuse(void)
{
	struct sockaddr_storage ss;
	socklen_t l;
	int one = 1, v;
	socklen_t vl = sizeof v;
	int a = socket(AF_INET, SOCK_STREAM, 0);
	getsockopt(a, SOL_SOCKET, SO_REUSEADDR, &v, &vl);
	printf("SO_REUSEADDR default %d\n", v);
	ck("SO_REUSEADDR", setsockopt(a, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one));
	vl = sizeof v;
	getsockopt(a, SOL_SOCKET, SO_REUSEADDR, &v, &vl);
	printf("SO_REUSEADDR now %d\n", v);
	l = mkaddr(&ss, AF_INET, "127.0.0.1", 0);
	bind(a, (void *)&ss, l);
	int port = local_port(a);
	int b = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(b, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	l = mkaddr(&ss, AF_INET, "127.0.0.1", port);
	ck("reuseaddr both, not listening", bind(b, (void *)&ss, l));
	ck("listen a", listen(a, 5));
	ck("listen b", listen(b, 5));
	int c = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(c, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	ck("reuseaddr beside a listener", bind(c, (void *)&ss, l));
	close(a);
	close(b);
	close(c);

	/* SO_REUSEPORT: listeners share the port; connections spread. */
	int ls[2], total = 0;
	for (int i = 0; i < 2; i++) {
		ls[i] = socket(AF_INET, SOCK_STREAM, 0);
		ck("SO_REUSEPORT", setsockopt(ls[i], SOL_SOCKET, SO_REUSEPORT, &one, sizeof one));
		l = mkaddr(&ss, AF_INET, "127.0.0.1", i ? port : 0);
		ck("bind reuseport", bind(ls[i], (void *)&ss, l));
		if (!i)
			port = local_port(ls[0]);
		ck("listen reuseport", listen(ls[i], 64));
	}
	int cs[16];
	for (int i = 0; i < 16; i++)
		cs[i] = connect_to(AF_INET, "127.0.0.1", port);
	for (int i = 0; i < 2; i++) {
		fcntl(ls[i], F_SETFL, O_NONBLOCK);
		int fd;
		while ((fd = accept(ls[i], NULL, NULL)) >= 0) {
			total++;
			close(fd);
		}
	}
	printf("accepted across the group: %d\n", total);
	for (int i = 0; i < 16; i++)
		close(cs[i]);
	int d = socket(AF_INET, SOCK_STREAM, 0);
	l = mkaddr(&ss, AF_INET, "127.0.0.1", port);
	ck("without SO_REUSEPORT", bind(d, (void *)&ss, l));
	close(d);
	close(ls[0]);
	close(ls[1]);
}

static void sec_refused(void)
{
	struct sockaddr_storage ss;
	socklen_t l;
	int t = socket(AF_INET, SOCK_STREAM, 0);
	l = mkaddr(&ss, AF_INET, "127.0.0.1", 0);
	bind(t, (void *)&ss, l);
	int dead = local_port(t);
	close(t);
	int c = socket(AF_INET, SOCK_STREAM, 0);
	l = mkaddr(&ss, AF_INET, "127.0.0.1", dead);
	ck("connect closed port", connect(c, (void *)&ss, l));
	close(c);
	c = socket(AF_INET6, SOCK_STREAM, 0);
	l = mkaddr(&ss, AF_INET6, "::1", dead);
	ck("connect closed port v6", connect(c, (void *)&ss, l));
	close(c);
	/* A bound, not listening socket refuses too. */
	t = socket(AF_INET, SOCK_STREAM, 0);
	l = mkaddr(&ss, AF_INET, "127.0.0.1", 0);
	bind(t, (void *)&ss, l);
	int p = local_port(t);
	c = socket(AF_INET, SOCK_STREAM, 0);
	l = mkaddr(&ss, AF_INET, "127.0.0.2", p);
	ck("connect bound, not listening", connect(c, (void *)&ss, l));
	close(c);
	close(t);
	c = socket(AF_INET, SOCK_STREAM, 0);
	l = mkaddr(&ss, AF_INET, "10.1.2.3", 80);
	ck("connect 10.1.2.3", connect(c, (void *)&ss, l));
	close(c);
	c = socket(AF_INET6, SOCK_STREAM, 0);
	l = mkaddr(&ss, AF_INET6, "2001:db8::1", 80);
	ck("connect 2001:db8::1", connect(c, (void *)&ss, l));
	close(c);
}

static int so_error(int fd)
{
	int e = -1;
	socklen_t l = sizeof e;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &l) < 0)
		return -errno;
	return e;
}

static void sec_nonblock(void)
{
	struct sockaddr_storage ss;
	socklen_t l;
	int port;
	int s = listener(AF_INET, "127.0.0.1", &port, 1);
	int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	l = mkaddr(&ss, AF_INET, "127.0.0.1", port);
	ck("nonblocking connect", connect(c, (void *)&ss, l));
	struct pollfd pf = {c, POLLOUT, 0};
	ck("poll", poll(&pf, 1, 30000));
	printf("revents %s%s\n", pf.revents & POLLOUT ? "OUT" : "", pf.revents & POLLERR ? " ERR" : "");
	printf("SO_ERROR %s\n", en(so_error(c)));
	ck("connect again", connect(c, (void *)&ss, l));
	ck("connect a third time", connect(c, (void *)&ss, l));
	/* The backlog (1) holds two connections; a third waits for accept. */
	int c2 = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	ck("second connect", connect(c2, (void *)&ss, l));
	pf.fd = c2;
	poll(&pf, 1, 30000);
	int c3 = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	ck("third connect (backlog full)", connect(c3, (void *)&ss, l));
	pf.fd = c3;
	pf.revents = 0;
	ck("poll third now", poll(&pf, 1, 0));
	ck("connect third again", connect(c3, (void *)&ss, l));
	ok("accept one", accept(s, NULL, NULL));
	pf.revents = 0;
	ck("poll third after accept", poll(&pf, 1, 30000));
	printf("revents %s\n", pf.revents & POLLOUT ? "OUT" : "-");
	printf("SO_ERROR %s\n", en(so_error(c3)));
	close(c);
	close(c2);
	close(c3);
	close(s);

	/* Refused while not blocking: EINPROGRESS, then SO_ERROR. */
	int t = socket(AF_INET, SOCK_STREAM, 0);
	l = mkaddr(&ss, AF_INET, "127.0.0.1", 0);
	bind(t, (void *)&ss, l);
	int dead = local_port(t);
	close(t);
	c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	l = mkaddr(&ss, AF_INET, "127.0.0.1", dead);
	ck("nonblocking connect to closed port", connect(c, (void *)&ss, l));
	pf.fd = c;
	pf.events = POLLOUT;
	pf.revents = 0;
	ck("poll", poll(&pf, 1, 30000));
	printf("revents %s%s\n", pf.revents & POLLOUT ? "OUT" : "", pf.revents & POLLERR ? " ERR" : "");
	printf("SO_ERROR %s\n", en(so_error(c)));
	printf("SO_ERROR again %s\n", en(so_error(c)));
	close(c);

	/* Non-blocking accept and recv. */
	s = listener(AF_INET6, "::1", &port, 5);
	fcntl(s, F_SETFL, O_NONBLOCK);
	ck("accept nothing", accept(s, NULL, NULL));
	c = connect_to(AF_INET6, "::1", port);
	int a = accept4(s, NULL, NULL, SOCK_NONBLOCK);
	ok("accept4", a);
	char b;
	ck("recv nothing", recv(a, &b, 1, 0));
	ck("recv DONTWAIT on blocking socket", recv(c, &b, 1, MSG_DONTWAIT));
	close(a);
	close(c);
	close(s);
}

static void sec_halfclose(void)
{
	int port;
	int s = listener(AF_INET, "127.0.0.1", &port, 5);
	int c = connect_to(AF_INET, "127.0.0.1", port);
	int a = accept(s, NULL, NULL);
	char buf[32];
	ck("send", send(c, "request", 7, 0));
	ck("shutdown wr", shutdown(c, SHUT_WR));
	ck("send after shut_wr", send(c, "x", 1, MSG_NOSIGNAL));
	struct pollfd pf = {a, POLLIN | POLLRDHUP, 0};
	poll(&pf, 1, 30000);
	printf("server revents %s%s%s\n", pf.revents & POLLIN ? "IN" : "",
	       pf.revents & POLLRDHUP ? " RDHUP" : "", pf.revents & POLLHUP ? " HUP" : "");
	ck("server read", readn(a, buf, sizeof buf));
	ck("server read at eof", read(a, buf, sizeof buf));
	ck("server reply", send(a, "reply", 5, 0));
	ck("client read", read(c, buf, sizeof buf));
	close(a);
	ck("client read at eof", read(c, buf, sizeof buf));
	pf.fd = c;
	pf.events = POLLIN | POLLOUT | POLLRDHUP;
	poll(&pf, 1, 30000);
	printf("client revents %s%s%s%s\n", pf.revents & POLLIN ? "IN" : "",
	       pf.revents & POLLOUT ? " OUT" : "", pf.revents & POLLRDHUP ? " RDHUP" : "",
	       pf.revents & POLLHUP ? " HUP" : "");
	ck("shutdown bad how", shutdown(c, 7));
	close(c);
	int u = socket(AF_INET, SOCK_STREAM, 0);
	ck("shutdown unconnected", shutdown(u, SHUT_RDWR));
	close(u);

	/* EPIPE after the peer closed, ECONNRESET after unread data. */
	c = connect_to(AF_INET, "127.0.0.1", port);
	a = accept(s, NULL, NULL);
	close(a);
	ck("read after peer close", read(c, buf, sizeof buf));
	ck("first send to closed peer", send(c, "x", 1, MSG_NOSIGNAL));
	ck("second send", send(c, "x", 1, MSG_NOSIGNAL));
	ck("third send", send(c, "x", 1, MSG_NOSIGNAL));
	close(c);
	signal(SIGPIPE, SIG_IGN);
	c = connect_to(AF_INET, "127.0.0.1", port);
	a = accept(s, NULL, NULL);
	send(c, "unread", 6, 0);
	pf.fd = a;
	pf.events = POLLIN;
	poll(&pf, 1, 30000);
	close(a);
	pf.fd = c;
	pf.events = POLLIN;
	poll(&pf, 1, 30000);
	printf("reset revents %s%s%s\n", pf.revents & POLLIN ? "IN" : "",
	       pf.revents & POLLERR ? " ERR" : "", pf.revents & POLLHUP ? " HUP" : "");
	ck("read after reset", read(c, buf, sizeof buf));
	ck("read again", read(c, buf, sizeof buf));
	ck("write after reset", write(c, "x", 1));
	close(c);
	close(s);
}

static void sec_queues(void)
{
	int port, n = -1;
	int s = listener(AF_INET, "127.0.0.1", &port, 5);
	int c = connect_to(AF_INET, "127.0.0.1", port);
	int a = accept(s, NULL, NULL);
	ck("FIONREAD empty", ioctl(a, FIONREAD, &n));
	printf("inq %d\n", n);
	char buf[2000];
	memset(buf, 'q', sizeof buf);
	send(c, buf, 1000, 0);
	struct pollfd pf = {a, POLLIN, 0};
	poll(&pf, 1, 30000);
	ck("FIONREAD", ioctl(a, FIONREAD, &n));
	printf("inq %d\n", n);
	ck("SIOCINQ", ioctl(a, SIOCINQ, &n));
	printf("inq %d\n", n);
	ck("peek", recv(a, buf, 10, MSG_PEEK));
	ck("FIONREAD after peek", ioctl(a, FIONREAD, &n));
	printf("inq %d\n", n);
	ck("read 400", read(a, buf, 400));
	ck("FIONREAD", ioctl(a, FIONREAD, &n));
	printf("inq %d\n", n);
	ck("waitall", recv(a, buf, 600, MSG_WAITALL));
	send(a, "r", 1, 0);
	read(c, buf, 1);
	ck("SIOCOUTQ", ioctl(c, SIOCOUTQ, &n));
	printf("outq %d\n", n);
	ck("FIONREAD on listener", ioctl(s, FIONREAD, &n));
	ck("recv MSG_OOB", recv(a, buf, 1, MSG_OOB | MSG_DONTWAIT));
	close(a);
	close(c);
	close(s);
}

static void wait_in(int fd)
{
	struct pollfd pf = {fd, POLLIN, 0};
	poll(&pf, 1, 30000);
}

/* Guest buffers that fault part-way (a PROT_NONE page after a good one):
 * a send that would fault sends nothing; a receive that would fault takes
 * nothing, MSG_PEEK or not, and the bytes stay for the next one; then
 * 4 MiB through one connection into MSG_WAITALL receives, checked. */
static void sec_faults(void)
{
	int port, n = -1;
	int s = listener(AF_INET, "127.0.0.1", &port, 5);
	int c = connect_to(AF_INET, "127.0.0.1", port);
	int a = accept(s, NULL, NULL);
	char *m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED || mprotect(m + 4096, 4096, PROT_NONE) != 0)
		die("mmap");
	char *edge = m + 4096 - 50; /* 50 good bytes, then the hole */
	memset(m, 'e', 4096);
	char buf[256];
	ck("send across the hole", send(c, edge, 100, 0));
	ck("send from the hole", send(c, m + 4096, 10, 0));
	struct iovec iv[2] = {{"abc", 3}, {m + 4096, 5}};
	ck("writev into the hole", writev(c, iv, 2));
	ck("recv: nothing came", recv(a, buf, sizeof buf, MSG_DONTWAIT));
	memset(buf, 'p', 100);
	memcpy(buf, "0123456789", 10);
	ck("send 100", send(c, buf, 100, 0));
	wait_in(a);
	ck("recv across the hole", recv(a, edge, 100, 0));
	ck("peek across the hole", recv(a, edge, 100, MSG_PEEK));
	ck("read across the hole", read(a, edge, 100));
	ck("FIONREAD", ioctl(a, FIONREAD, &n));
	printf("inq %d\n", n);
	memset(buf, 0, sizeof buf);
	ck("recv", recv(a, buf, sizeof buf, 0));
	printf("got [%.12s]\n", buf);
	ck("send 3", send(c, "xyz", 3, 0));
	wait_in(a);
	ck("recv up to the hole", recv(a, m + 4096 - 3, 3, 0));
	printf("got [%.3s]\n", m + 4096 - 3);
	/* 4 MiB of a pattern, 64 KiB writes, from a child. */
	enum { TOTAL = 4 << 20, STEP = 64 << 10 };
	pid_t pid = fork();
	if (pid == 0) {
		static unsigned char out[STEP];
		for (long off = 0; off < TOTAL; off += STEP) {
			for (int i = 0; i < STEP; i++)
				out[i] = (unsigned char)((off + i) * 7 + ((off + i) >> 13));
			for (int done = 0; done < STEP;) {
				long w = write(c, out + done, STEP - done);
				if (w <= 0)
					_exit(1);
				done += w;
			}
		}
		_exit(0);
	}
	static unsigned char in[STEP * 2 + 3];
	long got = 0, bad = 0;
	while (got < TOTAL) {
		long want = TOTAL - got < (long)sizeof in ? TOTAL - got : (long)sizeof in;
		long r = recv(a, in, want, MSG_WAITALL);
		if (r != want) {
			printf("recv WAITALL %ld of %ld\n", r, want);
			break;
		}
		for (long i = 0; i < r; i++)
			if (in[i] != (unsigned char)((got + i) * 7 + ((got + i) >> 13)))
				bad++;
		got += r;
	}
	int st;
	waitpid(pid, &st, 0);
	printf("4 MiB: got %ld, %ld bad bytes, writer status %d\n", got, bad, st);
	munmap(m, 8192);
	close(a);
	close(c);
	close(s);
}

static void sec_opts(void)
{
	int v, one = 1;
	socklen_t l;
	int s = socket(AF_INET, SOCK_STREAM, 0);
#define GET(lv, nm)                                                        \
	do {                                                               \
		l = sizeof v;                                              \
		v = -1;                                                    \
		if (getsockopt(s, lv, nm, &v, &l) < 0)                     \
			printf(#nm ": -1 %s\n", en(errno));                \
		else                                                       \
			printf(#nm ": %d (len %u)\n", v, (unsigned)l);    \
	} while (0)
	GET(SOL_SOCKET, SO_TYPE);
	GET(SOL_SOCKET, SO_PROTOCOL);
	GET(SOL_SOCKET, SO_DOMAIN);
	GET(SOL_SOCKET, SO_ACCEPTCONN);
	GET(SOL_SOCKET, SO_KEEPALIVE);
	GET(SOL_SOCKET, SO_ERROR);
	GET(IPPROTO_TCP, TCP_NODELAY);
	GET(IPPROTO_TCP, TCP_MAXSEG);
	GET(IPPROTO_TCP, TCP_KEEPIDLE);
	GET(IPPROTO_TCP, TCP_KEEPINTVL);
	GET(IPPROTO_TCP, TCP_KEEPCNT);
	GET(IPPROTO_TCP, TCP_CORK);
	GET(IPPROTO_IP, IP_TTL);
	ck("TCP_NODELAY", setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one));
	ck("SO_KEEPALIVE", setsockopt(s, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one));
	v = 60;
	ck("TCP_KEEPIDLE", setsockopt(s, IPPROTO_TCP, TCP_KEEPIDLE, &v, sizeof v));
	v = 0;
	ck("TCP_KEEPIDLE 0", setsockopt(s, IPPROTO_TCP, TCP_KEEPIDLE, &v, sizeof v));
	v = 1000;
	ck("TCP_MAXSEG", setsockopt(s, IPPROTO_TCP, TCP_MAXSEG, &v, sizeof v));
	v = 10;
	ck("TCP_MAXSEG 10", setsockopt(s, IPPROTO_TCP, TCP_MAXSEG, &v, sizeof v));
	ck("TCP_CORK", setsockopt(s, IPPROTO_TCP, TCP_CORK, &one, sizeof one));
	ck("short option", setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, 2));
	GET(IPPROTO_TCP, TCP_NODELAY);
	GET(SOL_SOCKET, SO_KEEPALIVE);
	GET(IPPROTO_TCP, TCP_KEEPIDLE);
	GET(IPPROTO_TCP, TCP_MAXSEG);
	GET(IPPROTO_TCP, TCP_CORK);
	GET(IPPROTO_IPV6, IPV6_V6ONLY);
	listen(s, 1);
	GET(SOL_SOCKET, SO_ACCEPTCONN);
	close(s);
	s = socket(AF_INET, SOCK_DGRAM, 0);
	GET(SOL_SOCKET, SO_TYPE);
	GET(SOL_SOCKET, SO_PROTOCOL);
	GET(IPPROTO_TCP, TCP_NODELAY);
	GET(SOL_SOCKET, SO_BROADCAST);
	struct sockaddr_storage ss;
	l = mkaddr(&ss, AF_INET, "255.255.255.255", 9);
	ck("broadcast without SO_BROADCAST", sendto(s, "x", 1, 0, (void *)&ss, l));
	close(s);
	s = socket(AF_INET6, SOCK_STREAM, 0);
	GET(SOL_SOCKET, SO_DOMAIN);
	GET(IPPROTO_IPV6, IPV6_V6ONLY);
	close(s);
	/* Types and protocols. */
	ck("tcp with IPPROTO_UDP", socket(AF_INET, SOCK_STREAM, IPPROTO_UDP));
	ck("udp with IPPROTO_TCP", socket(AF_INET, SOCK_DGRAM, IPPROTO_TCP));
	ck("seqpacket", socket(AF_INET, SOCK_SEQPACKET, 0));
	ck("socketpair inet", socketpair(AF_INET, SOCK_STREAM, 0, (int[2]){0, 0}));
	ck("netlink other protocol", socket(AF_NETLINK, SOCK_RAW, NETLINK_GENERIC + 30));
	ck("netlink stream", socket(AF_NETLINK, SOCK_STREAM, 0));
}

/* The interface ioctls on lo. */
static void sec_ifreq(void)
{
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	struct ifreq r;
	char buf[64];
	memset(&r, 0, sizeof r);
	strcpy(r.ifr_name, "lo");
	ck("SIOCGIFFLAGS", ioctl(s, SIOCGIFFLAGS, &r));
	printf("flags %#x\n", r.ifr_flags & 0xffff);
	ck("SIOCGIFADDR", ioctl(s, SIOCGIFADDR, &r));
	inet_ntop(AF_INET, &((struct sockaddr_in *)&r.ifr_addr)->sin_addr, buf, sizeof buf);
	printf("addr family %d %s\n", r.ifr_addr.sa_family, buf);
	ck("SIOCGIFNETMASK", ioctl(s, SIOCGIFNETMASK, &r));
	inet_ntop(AF_INET, &((struct sockaddr_in *)&r.ifr_netmask)->sin_addr, buf, sizeof buf);
	printf("netmask %s\n", buf);
	ck("SIOCGIFMTU", ioctl(s, SIOCGIFMTU, &r));
	printf("mtu %d\n", r.ifr_mtu);
	ck("SIOCGIFINDEX", ioctl(s, SIOCGIFINDEX, &r));
	printf("index %d\n", r.ifr_ifindex);
	ck("SIOCGIFHWADDR", ioctl(s, SIOCGIFHWADDR, &r));
	printf("hw family %d\n", r.ifr_hwaddr.sa_family);
	memset(&r, 0, sizeof r);
	r.ifr_ifindex = 1;
	ck("SIOCGIFNAME", ioctl(s, SIOCGIFNAME, &r));
	printf("name %s\n", r.ifr_name);
	r.ifr_ifindex = 99;
	ck("SIOCGIFNAME 99", ioctl(s, SIOCGIFNAME, &r));
	strcpy(r.ifr_name, "eth9");
	ck("SIOCGIFFLAGS eth9", ioctl(s, SIOCGIFFLAGS, &r));

	struct ifconf ic;
	ic.ifc_len = 0;
	ic.ifc_buf = NULL;
	ck("SIOCGIFCONF size", ioctl(s, SIOCGIFCONF, &ic));
	printf("ifc_len %s\n", ic.ifc_len == (int)sizeof(struct ifreq) ? "one ifreq" : "other");
	struct ifreq recs[4];
	ic.ifc_len = sizeof recs;
	ic.ifc_req = recs;
	ck("SIOCGIFCONF", ioctl(s, SIOCGIFCONF, &ic));
	for (int i = 0; i < ic.ifc_len / (int)sizeof(struct ifreq); i++) {
		inet_ntop(AF_INET, &((struct sockaddr_in *)&recs[i].ifr_addr)->sin_addr, buf, sizeof buf);
		printf("ifconf %s %s\n", recs[i].ifr_name, buf);
	}
	ic.ifc_len = 4;
	ck("SIOCGIFCONF small", ioctl(s, SIOCGIFCONF, &ic));
	printf("ifc_len %d\n", ic.ifc_len);
	close(s);
	int fd = open("/", O_RDONLY);
	ck("SIOCGIFCONF on a directory", ioctl(fd, SIOCGIFCONF, &ic));
	close(fd);
}

/* The libc's name and index lookups (musl asks through an AF_UNIX socket,
 * glibc through AF_INET or netlink). */
static void sec_ifname(void)
{
	printf("if_nametoindex lo %u\n", if_nametoindex("lo"));
	char nm[IF_NAMESIZE];
	printf("if_indextoname 1 %s\n", if_indextoname(1, nm) ? nm : "-");
	printf("if_nametoindex eth9 %u\n", if_nametoindex("eth9"));
}

/* getifaddrs (netlink in both libcs) and numeric getaddrinfo with
 * AI_ADDRCONFIG (glibc asks netlink for the addresses). */
static void sec_ifaddrs(void)
{
	struct ifaddrs *ifa, *i;
	if (getifaddrs(&ifa) < 0)
		die("getifaddrs");
	for (i = ifa; i; i = i->ifa_next) {
		char a[64] = "-", m[64] = "-";
		int fam = i->ifa_addr ? i->ifa_addr->sa_family : -1;
		if (fam == AF_INET) {
			inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, a, sizeof a);
			inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_netmask)->sin_addr, m, sizeof m);
		} else if (fam == AF_INET6) {
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr, a, sizeof a);
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)i->ifa_netmask)->sin6_addr, m, sizeof m);
		}
		printf("%s fam %s flags %#x addr %s mask %s\n", i->ifa_name,
		       fam == AF_INET ? "inet" : fam == AF_INET6 ? "inet6" : fam == AF_PACKET ? "packet" : "?",
		       i->ifa_flags, a, m);
	}
	freeifaddrs(ifa);
	const char *hosts[] = {"127.0.0.1", "::1"};
	for (int h = 0; h < 2; h++) {
		struct addrinfo hint = {0}, *res, *r;
		hint.ai_flags = AI_ADDRCONFIG;
		hint.ai_socktype = SOCK_STREAM;
		int e = getaddrinfo(hosts[h], "8080", &hint, &res);
		printf("getaddrinfo %s: %s\n", hosts[h], e ? "error" : "ok");
		if (e)
			continue;
		for (r = res; r; r = r->ai_next) {
			struct sockaddr_storage ss;
			memcpy(&ss, r->ai_addr, r->ai_addrlen);
			printf("  port %d ", port_of(&ss));
			show("addr", &ss, r->ai_addrlen);
		}
		freeaddrinfo(res);
	}
}

/* Name lookups through the guest's /etc/hosts ("127.0.0.1 localhost" and
 * "::1 localhost", which the native run bind-mounts over the host's). */
static void sec_gai(void)
{
	int flags[] = {0, AI_ADDRCONFIG};
	for (int f = 0; f < 2; f++) {
		struct addrinfo hint = {0}, *res, *r;
		hint.ai_socktype = SOCK_STREAM;
		hint.ai_flags = flags[f];
		int e = getaddrinfo("localhost", "80", &hint, &res);
		printf("getaddrinfo localhost%s: %s\n", f ? " AI_ADDRCONFIG" : "", e ? "error" : "ok");
		if (e)
			continue;
		for (r = res; r; r = r->ai_next) {
			struct sockaddr_storage ss;
			memcpy(&ss, r->ai_addr, r->ai_addrlen);
			printf("  port %d ", port_of(&ss));
			show("addr", &ss, r->ai_addrlen);
		}
		freeaddrinfo(res);
	}
	struct sockaddr_storage ss;
	char host[64];
	socklen_t l = mkaddr(&ss, AF_INET, "127.0.0.1", 80);
	int e = getnameinfo((void *)&ss, l, host, sizeof host, NULL, 0, NI_NAMEREQD);
	printf("getnameinfo 127.0.0.1: %s\n", e ? "error" : host);
	/* A TCP connection to "localhost" as a client would make it. */
	int port;
	int s = listener(AF_INET6, "::", &port, 5);
	char ps[16];
	snprintf(ps, sizeof ps, "%d", port);
	struct addrinfo hint = {0}, *res;
	hint.ai_socktype = SOCK_STREAM;
	if (getaddrinfo("localhost", ps, &hint, &res) == 0) {
		int c = socket(res->ai_family, SOCK_STREAM, 0);
		ck("connect to the first localhost address", connect(c, res->ai_addr, res->ai_addrlen));
		close(c);
		freeaddrinfo(res);
	}
	close(s);
}

static void nl_dump(int fd, int type, int family, unsigned seq)
{
	struct {
		struct nlmsghdr h;
		struct ifaddrmsg m;
	} req;
	memset(&req, 0, sizeof req);
	req.h.nlmsg_len = sizeof req;
	req.h.nlmsg_type = type;
	req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.h.nlmsg_seq = seq;
	req.m.ifa_family = family;
	struct sockaddr_nl k = {.nl_family = AF_NETLINK};
	ck("sendto kernel", sendto(fd, &req, sizeof req, 0, (void *)&k, sizeof k) == sizeof req ? 0 : -1);
	static char buf[16384];
	for (;;) {
		/* Size the datagram first, as glibc does. */
		long n = recv(fd, buf, 1, MSG_PEEK | MSG_TRUNC);
		if (n <= 0)
			die("peek");
		struct sockaddr_nl from;
		socklen_t fl = sizeof from;
		long m = recvfrom(fd, buf, sizeof buf, 0, (void *)&from, &fl);
		if (m != n)
			printf("peeked %ld, got %ld\n", n, m);
		printf(" datagram from pid %u\n", from.nl_pid);
		for (struct nlmsghdr *h = (void *)buf; NLMSG_OK(h, m); h = NLMSG_NEXT(h, m)) {
			printf("  type %u flags %#x seq %s pid %s\n", h->nlmsg_type, h->nlmsg_flags,
			       h->nlmsg_seq == seq ? "ok" : "bad",
			       h->nlmsg_pid == (unsigned)getpid() ? "mine" : "other");
			if (h->nlmsg_type == NLMSG_DONE)
				return;
			if (h->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = NLMSG_DATA(h);
				printf("  error %s\n", en(-e->error));
				return;
			}
			if (h->nlmsg_type == RTM_NEWLINK) {
				struct ifinfomsg *i = NLMSG_DATA(h);
				printf("  link index %d type %d flags %#x\n", i->ifi_index, i->ifi_type, i->ifi_flags);
				int len = IFLA_PAYLOAD(h);
				for (struct rtattr *a = IFLA_RTA(i); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
					if (a->rta_type == IFLA_IFNAME)
						printf("  name %s\n", (char *)RTA_DATA(a));
					if (a->rta_type == IFLA_MTU)
						printf("  mtu %u\n", *(unsigned *)RTA_DATA(a));
					if (a->rta_type == IFLA_ADDRESS)
						printf("  address len %u\n", (unsigned)RTA_PAYLOAD(a));
				}
			}
			if (h->nlmsg_type == RTM_NEWADDR) {
				struct ifaddrmsg *i = NLMSG_DATA(h);
				printf("  addr family %d prefix %d flags %#x scope %d index %d\n", i->ifa_family,
				       i->ifa_prefixlen, i->ifa_flags, i->ifa_scope, i->ifa_index);
				int len = IFA_PAYLOAD(h);
				for (struct rtattr *a = IFA_RTA(i); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
					char s[64];
					if (a->rta_type == IFA_ADDRESS || a->rta_type == IFA_LOCAL) {
						inet_ntop(i->ifa_family, RTA_DATA(a), s, sizeof s);
						printf("  %s %s\n", a->rta_type == IFA_ADDRESS ? "address" : "local", s);
					}
					if (a->rta_type == IFA_LABEL)
						printf("  label %s\n", (char *)RTA_DATA(a));
				}
			}
		}
	}
}

static void sec_netlink(void)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		die("socket netlink");
	struct sockaddr_nl nl = {.nl_family = AF_NETLINK};
	socklen_t l = sizeof nl;
	getsockname(fd, (void *)&nl, &l);
	printf("unbound pid %u len %u\n", nl.nl_pid, (unsigned)l);
	nl.nl_pid = 0;
	ck("bind", bind(fd, (void *)&nl, sizeof nl));
	l = sizeof nl;
	getsockname(fd, (void *)&nl, &l);
	printf("bound pid is getpid: %s\n", nl.nl_pid == (unsigned)getpid() ? "yes" : "no");
	int fd2 = socket(AF_NETLINK, SOCK_DGRAM, NETLINK_ROUTE);
	struct sockaddr_nl nl2 = {.nl_family = AF_NETLINK, .nl_pid = nl.nl_pid};
	ck("bind taken pid", bind(fd2, (void *)&nl2, sizeof nl2));
	nl2.nl_pid = 0;
	ck("autobind second", bind(fd2, (void *)&nl2, sizeof nl2));
	l = sizeof nl2;
	getsockname(fd2, (void *)&nl2, &l);
	printf("second pid differs: %s\n", nl2.nl_pid != nl.nl_pid ? "yes" : "no");
	close(fd2);
	printf("RTM_GETLINK\n");
	nl_dump(fd, RTM_GETLINK, AF_UNSPEC, 11);
	printf("RTM_GETADDR\n");
	nl_dump(fd, RTM_GETADDR, AF_UNSPEC, 12);
	printf("RTM_GETADDR inet6\n");
	nl_dump(fd, RTM_GETADDR, AF_INET6, 13);
	/* An unsupported request: NLMSG_ERROR. */
	struct {
		struct nlmsghdr h;
		struct ifaddrmsg m;
	} req;
	memset(&req, 0, sizeof req);
	req.h.nlmsg_len = sizeof req;
	req.h.nlmsg_type = RTM_GETNEIGH + 100;
	req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	req.h.nlmsg_seq = 14;
	ck("send unknown", send(fd, &req, sizeof req, 0) == sizeof req ? 0 : -1);
	char buf[256];
	long n = recv(fd, buf, sizeof buf, 0);
	struct nlmsghdr *h = (void *)buf;
	struct nlmsgerr *e = NLMSG_DATA(h);
	printf("reply len %ld type %u error %s echoed seq %u\n", n, h->nlmsg_type, en(-e->error),
	       e->msg.nlmsg_seq);
	ck("nothing more", recv(fd, buf, sizeof buf, MSG_DONTWAIT));
	close(fd);
}

static void show_ev(const char *what, int n, struct epoll_event *e)
{
	printf("%s: %d", what, n);
	for (int i = 0; i < n; i++)
		printf(" [%u:%s%s%s%s%s]", e[i].data.u32, e[i].events & EPOLLIN ? " IN" : "",
		       e[i].events & EPOLLOUT ? " OUT" : "", e[i].events & EPOLLRDHUP ? " RDHUP" : "",
		       e[i].events & EPOLLHUP ? " HUP" : "", e[i].events & EPOLLERR ? " ERR" : "");
	printf("\n");
}

/* Edge-triggered epoll on sockets: every new datagram, byte run or
 * connection wakes again, even when the socket was readable already. */
static void sec_epoll(void)
{
	int port;
	int s = listener(AF_INET, "127.0.0.1", &port, 5);
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.u32 = 1}, out[4];
	epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev);
	show_ev("idle listener", epoll_wait(ep, out, 4, 0), out);
	int c = connect_to(AF_INET, "127.0.0.1", port);
	show_ev("connection", epoll_wait(ep, out, 4, 10000), out);
	int c2 = connect_to(AF_INET, "127.0.0.1", port);
	show_ev("second connection", epoll_wait(ep, out, 4, 10000), out);
	show_ev("nothing new", epoll_wait(ep, out, 4, 0), out);
	int a = accept(s, NULL, NULL);
	close(accept(s, NULL, NULL));
	close(c2);
	ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
	ev.data.u32 = 2;
	epoll_ctl(ep, EPOLL_CTL_ADD, a, &ev);
	show_ev("added unreadable", epoll_wait(ep, out, 4, 0), out);
	write(c, "x", 1);
	show_ev("data", epoll_wait(ep, out, 4, 10000), out);
	write(c, "y", 1);
	show_ev("more data, unread", epoll_wait(ep, out, 4, 10000), out);
	show_ev("nothing new", epoll_wait(ep, out, 4, 0), out);
	shutdown(c, SHUT_WR);
	show_ev("peer shut", epoll_wait(ep, out, 4, 10000), out);
	/* A writable socket added edge-triggered is reported once. */
	ev.events = EPOLLOUT | EPOLLET;
	ev.data.u32 = 3;
	epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
	show_ev("writable", epoll_wait(ep, out, 4, 10000), out);
	show_ev("nothing new", epoll_wait(ep, out, 4, 0), out);
	close(a);
	close(c);
	int u = socket(AF_INET6, SOCK_DGRAM, 0);
	struct sockaddr_storage ss;
	socklen_t l = mkaddr(&ss, AF_INET6, "::1", 0);
	bind(u, (void *)&ss, l);
	l = sizeof ss;
	getsockname(u, (void *)&ss, &l);
	ev.events = EPOLLIN | EPOLLET;
	ev.data.u32 = 4;
	epoll_ctl(ep, EPOLL_CTL_ADD, u, &ev);
	sendto(u, "a", 1, 0, (void *)&ss, l);
	show_ev("datagram", epoll_wait(ep, out, 4, 10000), out);
	sendto(u, "b", 1, 0, (void *)&ss, l);
	show_ev("second datagram", epoll_wait(ep, out, 4, 10000), out);
	show_ev("nothing new", epoll_wait(ep, out, 4, 0), out);
	close(u);
	close(s);
	close(ep);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	for (int i = 1; i < argc; i++) {
		printf("== %s\n", argv[i]);
		if (!strcmp(argv[i], "tcp4"))
			sec_tcp4();
		else if (!strcmp(argv[i], "tcp6"))
			sec_tcp6();
		else if (!strcmp(argv[i], "mapped"))
			sec_mapped();
		else if (!strcmp(argv[i], "fork"))
			sec_fork();
		else if (!strcmp(argv[i], "many"))
			sec_many();
		else if (!strcmp(argv[i], "udp"))
			sec_udp();
		else if (!strcmp(argv[i], "ephemeral"))
			sec_ephemeral();
		else if (!strcmp(argv[i], "addrinuse"))
			sec_addrinuse();
		else if (!strcmp(argv[i], "reuse"))
			sec_reuse();
		else if (!strcmp(argv[i], "refused"))
			sec_refused();
		else if (!strcmp(argv[i], "nonblock"))
			sec_nonblock();
		else if (!strcmp(argv[i], "halfclose"))
			sec_halfclose();
		else if (!strcmp(argv[i], "faults"))
			sec_faults();
		else if (!strcmp(argv[i], "queues"))
			sec_queues();
		else if (!strcmp(argv[i], "opts"))
			sec_opts();
		else if (!strcmp(argv[i], "ifreq"))
			sec_ifreq();
		else if (!strcmp(argv[i], "epoll"))
			sec_epoll();
		else if (!strcmp(argv[i], "gai"))
			sec_gai();
		else if (!strcmp(argv[i], "ifname"))
			sec_ifname();
		else if (!strcmp(argv[i], "ifaddrs"))
			sec_ifaddrs();
		else if (!strcmp(argv[i], "netlink"))
			sec_netlink();
		else
			printf("unknown section\n");
	}
	return 0;
}
