/* What an accepted socket inherits from its listener (issue 12;
 * tests/e2e_netinherit.rs), run natively in a fresh network namespace (lo
 * up) and under umbra, as root. Linux:
 *
 *   tcp4, tcp6  accept() returns a clone of the listener (sk_clone_lock,
 *               inet_csk_clone_lock, tcp_create_openreq_child): the socket,
 *               IP and TCP options set on the listener before the
 *               connection came are the accepted socket's too; the file's
 *               O_NONBLOCK is not (accept4's flags decide it)
 *   published PORT  the same for a connection from a host client to
 *               0.0.0.0:PORT (under umbra: delivered by --publish); the
 *               answer goes to the client (tests/e2e_netinherit.rs)
 *   unix        an AF_UNIX accept returns the socket unix_stream_connect
 *               made, fresh but for the SOCK_PASSCRED family of flags
 *               (unix_sock_inherit_flags)
 *
 * SO_PRIORITY is set but not inherited by TCP (the child takes the SYN's
 * priority). The timeouts are whole jiffies at any HZ (Linux rounds them).
 * SO_RCVBUF and SO_SNDBUF (doubled by Linux) are set well below the
 * sysctl caps, where the set (locked) sizes are the child's too; a unix
 * socket's defaults come from sysctls and are not shown.
 *   passopts    SO_PASSCRED and SO_REUSEPORT by family (Linux 6.18):
 *               SO_PASSCRED only where credentials can be received (unix,
 *               netlink), SO_REUSEPORT on only for inet sockets; others
 *               give EOPNOTSUPP
 *
 * Without a section, nothing is run (exit 0).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "common.h"

struct opt {
	const char *name;
	int level, opt, val;
};

static const struct opt sock_opts[] = {
	{ "SO_KEEPALIVE", SOL_SOCKET, SO_KEEPALIVE, 1 },
	{ "SO_OOBINLINE", SOL_SOCKET, SO_OOBINLINE, 1 },
	{ "SO_PRIORITY", SOL_SOCKET, SO_PRIORITY, 5 },
	{ "SO_RCVLOWAT", SOL_SOCKET, SO_RCVLOWAT, 17 },
	{ "SO_REUSEADDR", SOL_SOCKET, SO_REUSEADDR, 1 },
	{ "SO_DEBUG", SOL_SOCKET, SO_DEBUG, 1 },
	{ "SO_DONTROUTE", SOL_SOCKET, SO_DONTROUTE, 1 },
	{ "SO_BROADCAST", SOL_SOCKET, SO_BROADCAST, 1 },
	{ 0 }
};

/* SO_REUSEPORT is an inet option (EOPNOTSUPP on AF_UNIX), SO_PASSCRED a
 * unix one (EOPNOTSUPP on inet sockets). */
static const struct opt inet_opts[] = {
	{ "SO_REUSEPORT", SOL_SOCKET, SO_REUSEPORT, 1 },
	{ "SO_RCVBUF", SOL_SOCKET, SO_RCVBUF, 4096 },
	{ "SO_SNDBUF", SOL_SOCKET, SO_SNDBUF, 8192 },
	{ 0 }
};

static const struct opt unix_opts[] = {
	{ "SO_PASSCRED", SOL_SOCKET, SO_PASSCRED, 1 },
	{ 0 }
};

static const struct opt ip_opts[] = {
	{ "IP_TOS", IPPROTO_IP, IP_TOS, 0x10 },
	{ "IP_TTL", IPPROTO_IP, IP_TTL, 33 },
	{ "IP_RECVERR", IPPROTO_IP, IP_RECVERR, 1 },
	{ 0 }
};

static const struct opt ip6_opts[] = {
	{ "IPV6_UNICAST_HOPS", IPPROTO_IPV6, IPV6_UNICAST_HOPS, 44 },
	{ "IPV6_RECVERR", IPPROTO_IPV6, IPV6_RECVERR, 1 },
	{ 0 }
};

static const struct opt tcp_opts[] = {
	{ "TCP_NODELAY", IPPROTO_TCP, TCP_NODELAY, 1 },
	{ "TCP_KEEPIDLE", IPPROTO_TCP, TCP_KEEPIDLE, 100 },
	{ "TCP_KEEPINTVL", IPPROTO_TCP, TCP_KEEPINTVL, 20 },
	{ "TCP_KEEPCNT", IPPROTO_TCP, TCP_KEEPCNT, 4 },
	{ "TCP_SYNCNT", IPPROTO_TCP, TCP_SYNCNT, 3 },
	{ "TCP_LINGER2", IPPROTO_TCP, TCP_LINGER2, 30 },
	{ "TCP_USER_TIMEOUT", IPPROTO_TCP, TCP_USER_TIMEOUT, 12345 },
	{ "TCP_NOTSENT_LOWAT", IPPROTO_TCP, TCP_NOTSENT_LOWAT, 9999 },
	{ 0 }
};

static void set_all(int fd, const struct opt *o)
{
	for (; o->name; o++)
		if (setsockopt(fd, o->level, o->opt, &o->val, sizeof o->val))
			printf("set %s: -1 %s\n", o->name, errname(errno));
}

static void show_int(int fd, const char *name, int level, int opt)
{
	int v = -7;
	socklen_t l = sizeof v;
	if (getsockopt(fd, level, opt, &v, &l))
		printf("  %s: -1 %s\n", name, errname(errno));
	else
		printf("  %s: %d\n", name, v);
}

static void show_all(int fd, const struct opt *o)
{
	for (; o->name; o++)
		show_int(fd, o->name, o->level, o->opt);
}

static void show_time(int fd, const char *name, int opt)
{
	struct timeval tv = { -1, -1 };
	socklen_t l = sizeof tv;
	if (getsockopt(fd, SOL_SOCKET, opt, &tv, &l))
		printf("  %s: -1 %s\n", name, errname(errno));
	else
		printf("  %s: %ld.%06ld\n", name, (long)tv.tv_sec, (long)tv.tv_usec);
}

/* The options the sections set beyond the tables: the timeouts, SO_LINGER
 * and O_NONBLOCK on the listener's file. */
static void set_more(int fd)
{
	struct timeval r = { 3, 500000 }, s = { 4, 200000 };
	struct linger lg = { 1, 7 };
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &r, sizeof r) ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &s, sizeof s) ||
	    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg))
		printf("set: -1 %s\n", errname(errno));
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static void show_more(int fd)
{
	show_time(fd, "SO_RCVTIMEO", SO_RCVTIMEO);
	show_time(fd, "SO_SNDTIMEO", SO_SNDTIMEO);
	struct linger lg = { -1, -1 };
	socklen_t l = sizeof lg;
	if (getsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, &l))
		printf("  SO_LINGER: -1 %s\n", errname(errno));
	else
		printf("  SO_LINGER: %d %d\n", lg.l_onoff, lg.l_linger);
	printf("  O_NONBLOCK: %d\n", !!(fcntl(fd, F_GETFL) & O_NONBLOCK));
}

/* The accepted socket of a connection to a listener (on the loopback of
 * family `fam`) that has every option set. */
static void tcp(int fam)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t al;
	if (fam == AF_INET) {
		struct sockaddr_in *a = (void *)&ss;
		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		al = sizeof *a;
	} else {
		struct sockaddr_in6 *a = (void *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		al = sizeof *a;
	}
	int l = socket(fam, SOCK_STREAM, 0);
	set_all(l, sock_opts);
	set_all(l, inet_opts);
	set_all(l, fam == AF_INET ? ip_opts : ip6_opts);
	set_all(l, tcp_opts);
	set_more(l);
	if (bind(l, (void *)&ss, al) || listen(l, 4) || getsockname(l, (void *)&ss, &al)) {
		perror("listen");
		exit(1);
	}
	int c = socket(fam, SOCK_STREAM, 0);
	if (connect(c, (void *)&ss, al)) {
		perror("connect");
		exit(1);
	}
	/* The connection is queued: a non-blocking accept takes it. */
	int a = accept(l, NULL, NULL);
	if (a < 0) {
		perror("accept");
		exit(1);
	}
	printf("accepted:\n");
	show_all(a, sock_opts);
	show_all(a, inet_opts);
	show_all(a, fam == AF_INET ? ip_opts : ip6_opts);
	show_all(a, tcp_opts);
	show_more(a);
	close(a);
	close(c);
	close(l);
}

/* `published PORT`: a listener on 0.0.0.0:PORT with the options set takes
 * one connection from a host client (umbra's --publish delivers it to the
 * listener), reads its HTTP request and answers with the accepted socket's
 * options (e2e_hostnet's fetch launcher prints the answer). */
static void published(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	int l = socket(AF_INET, SOCK_STREAM, 0);
	set_all(l, sock_opts);
	set_all(l, inet_opts);
	set_all(l, ip_opts);
	set_all(l, tcp_opts);
	set_more(l);
	/* A blocking accept: the client comes when it comes. */
	fcntl(l, F_SETFL, fcntl(l, F_GETFL) & ~O_NONBLOCK);
	if (bind(l, (void *)&sa, sizeof sa) || listen(l, 4)) {
		perror("listen");
		exit(1);
	}
	int a = accept(l, NULL, NULL);
	if (a < 0) {
		perror("accept");
		exit(1);
	}
	char req[4096];
	size_t n = 0;
	while (n < sizeof req - 1) {
		ssize_t r = read(a, req + n, sizeof req - 1 - n);
		if (r <= 0)
			break;
		n += r;
		req[n] = 0;
		if (strstr(req, "\r\n\r\n"))
			break;
	}
	fflush(stdout);
	dup2(a, 1);
	printf("HTTP/1.0 200 OK\r\n\r\naccepted:\n");
	show_all(a, sock_opts);
	show_all(a, inet_opts);
	show_all(a, ip_opts);
	show_all(a, tcp_opts);
	show_more(a);
	fflush(stdout);
	close(1);
	close(a);
	close(l);
}

/* AF_UNIX: only SO_PASSCRED comes with the connection. */
static void unix_accept(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	/* An abstract name: nothing to clean up. */
	snprintf(a.sun_path + 1, sizeof a.sun_path - 1, "umbra-inherit-%d", getpid());
	socklen_t al = offsetof(struct sockaddr_un, sun_path) + 1 + strlen(a.sun_path + 1);
	int l = socket(AF_UNIX, SOCK_STREAM, 0);
	set_all(l, sock_opts);
	set_all(l, unix_opts);
	set_more(l);
	if (bind(l, (void *)&a, al) || listen(l, 4)) {
		perror("listen");
		exit(1);
	}
	int c = socket(AF_UNIX, SOCK_STREAM, 0);
	if (connect(c, (void *)&a, al)) {
		perror("connect");
		exit(1);
	}
	int s = accept(l, NULL, NULL);
	if (s < 0) {
		perror("accept");
		exit(1);
	}
	printf("accepted:\n");
	show_all(s, sock_opts);
	show_all(s, unix_opts);
	show_more(s);
	close(s);
	close(c);
	close(l);
}

/* setsockopt(SOL_SOCKET, opt, v) and getsockopt of it, on a new socket. */
static void passopt(const char *what, int fam, int type, int proto, int opt, const char *oname)
{
	for (int v = 1; v >= 0; v--) {
		int fd = socket(fam, type, proto);
		if (fd < 0) {
			printf("%s: socket: %s\n", what, strerror(errno));
			return;
		}
		int r = setsockopt(fd, SOL_SOCKET, opt, &v, sizeof v);
		int got = -1;
		socklen_t len = sizeof got;
		const char *rs = r ? strerror(errno) : "ok";
		int g = getsockopt(fd, SOL_SOCKET, opt, &got, &len);
		printf("%s %s=%d: set %s, get %s %d\n", what, oname, v, rs, g ? strerror(errno) : "ok",
		       g ? -1 : got);
		close(fd);
	}
}

static void passopts(void)
{
	static const struct {
		const char *what;
		int fam, type, proto;
	} socks[] = {
		{ "tcp4", AF_INET, SOCK_STREAM, 0 },
		{ "udp4", AF_INET, SOCK_DGRAM, 0 },
		{ "tcp6", AF_INET6, SOCK_STREAM, 0 },
		{ "unix-stream", AF_UNIX, SOCK_STREAM, 0 },
		{ "unix-dgram", AF_UNIX, SOCK_DGRAM, 0 },
		{ "netlink", AF_NETLINK, SOCK_RAW, 0 },
	};
	for (unsigned i = 0; i < sizeof socks / sizeof socks[0]; i++) {
		passopt(socks[i].what, socks[i].fam, socks[i].type, socks[i].proto, SO_PASSCRED,
			"SO_PASSCRED");
		passopt(socks[i].what, socks[i].fam, socks[i].type, socks[i].proto, SO_REUSEPORT,
			"SO_REUSEPORT");
	}
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 1; i < argc; i++) {
		const char *s = argv[i];
		printf("== %s\n", s);
		if (!strcmp(s, "tcp4")) {
			tcp(AF_INET);
		} else if (!strcmp(s, "tcp6")) {
			tcp(AF_INET6);
		} else if (!strcmp(s, "published") && i + 1 < argc) {
			published(atoi(argv[++i]));
			return 0;
		} else if (!strcmp(s, "unix")) {
			unix_accept();
		} else if (!strcmp(s, "passopts")) {
			passopts();
		} else {
			printf("unknown section %s\n", s);
			return 2;
		}
	}
	return 0;
}
