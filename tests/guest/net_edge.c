/* Socket edge cases of issue 12 (tests/e2e_netedge.rs), run natively in a
 * fresh network namespace (lo up) and under umbra, as root:
 *
 *   procraw   /proc/net/raw, raw6 and packet, verbatim (no raw or packet
 *             sockets exist, so each holds its header line only)
 *   creds     SCM_CREDENTIALS: what SO_PASSCRED attaches for a sender
 *             whose real, effective and saved ids differ (its real ids),
 *             which explicit credentials it may send, what root may send,
 *             and SO_PEERCRED (effective ids)
 *   oob_tcp   MSG_OOB on a TCP loopback connection
 *   oob_unix  MSG_OOB on an AF_UNIX stream socketpair
 *   timewait, timewait6
 *             TIME_WAIT after an active close: /proc/net/tcp(6) and bind
 *
 * Every wait for the peer's side of a loopback connection is a poll of
 * what the program checks (SIOCOUTQ, /proc/net/tcp), never a sleep, so a
 * loaded machine does not change the output.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SIOCATMARK
#define SIOCATMARK 0x8905
#endif
#ifndef SIOCOUTQ
#define SIOCOUTQ TIOCOUTQ
#endif

static void die(const char *what)
{
	printf("FAIL %s: %s\n", what, strerror(errno));
	exit(1);
}

static const char *ename(int e)
{
	switch (e) {
	case 0:
		return "ok";
	case EINVAL:
		return "EINVAL";
	case EPERM:
		return "EPERM";
	case ESRCH:
		return "ESRCH";
	case EAGAIN:
		return "EAGAIN";
	case EOPNOTSUPP:
		return "EOPNOTSUPP";
	case EADDRINUSE:
		return "EADDRINUSE";
	case ENOTCONN:
		return "ENOTCONN";
	case EPIPE:
		return "EPIPE";
	case ECONNRESET:
		return "ECONNRESET";
	default:
		return strerror(e);
	}
}

/* ---- procraw ---- */

static void cat_file(const char *path)
{
	char line[512];
	int n = 0;
	FILE *f = fopen(path, "r");
	if (!f) {
		printf("%s: cannot open: %s\n", path, strerror(errno));
		return;
	}
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = 0;
		printf("%s: [%s]\n", path, line);
		n++;
	}
	fclose(f);
	printf("%s: %d lines\n", path, n);
}

static void sec_procraw(void)
{
	cat_file("/proc/net/raw");
	cat_file("/proc/net/raw6");
	cat_file("/proc/net/packet");
}

/* ---- creds ---- */

static pid_t child_pid, parent_pid;

static const char *who(pid_t p)
{
	if (p == 0)
		return "0";
	if (p == child_pid)
		return "child";
	if (p == parent_pid)
		return "parent";
	return "other";
}

/* Sends one byte on `fd`, with credentials if `c` is given; prints the
 * result. */
static int send_creds(int fd, const char *what, const struct ucred *c)
{
	char b = 'x';
	struct iovec iov = {&b, 1};
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(struct ucred))];
	} u;
	struct msghdr m;
	memset(&m, 0, sizeof m);
	memset(&u, 0, sizeof u);
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	if (c) {
		m.msg_control = u.buf;
		m.msg_controllen = sizeof u.buf;
		struct cmsghdr *h = CMSG_FIRSTHDR(&m);
		h->cmsg_level = SOL_SOCKET;
		h->cmsg_type = SCM_CREDENTIALS;
		h->cmsg_len = CMSG_LEN(sizeof *c);
		memcpy(CMSG_DATA(h), c, sizeof *c);
	}
	int r = sendmsg(fd, &m, 0);
	printf("  send %-28s %s\n", what, r == 1 ? "ok" : ename(errno));
	return r == 1;
}

/* Receives one byte and prints the credentials it came with. */
static void recv_creds(int fd)
{
	char b;
	struct iovec iov = {&b, 1};
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(struct ucred))];
	} u;
	struct msghdr m;
	memset(&m, 0, sizeof m);
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = u.buf;
	m.msg_controllen = sizeof u.buf;
	if (recvmsg(fd, &m, MSG_DONTWAIT) != 1) {
		printf("  recv: %s\n", ename(errno));
		return;
	}
	struct cmsghdr *h = CMSG_FIRSTHDR(&m);
	if (!h || h->cmsg_type != SCM_CREDENTIALS) {
		printf("  recv: no credentials\n");
		return;
	}
	struct ucred c;
	memcpy(&c, CMSG_DATA(h), sizeof c);
	printf("  recv: pid %s uid %u gid %u\n", who(c.pid), c.uid, c.gid);
}

static void peercred(const char *what, int fd)
{
	struct ucred c;
	socklen_t l = sizeof c;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c, &l) < 0)
		die("SO_PEERCRED");
	printf("  %s SO_PEERCRED: pid %s uid %u gid %u\n", what, who(c.pid), c.uid, c.gid);
}

static void sec_creds(void)
{
	int on = 1;
	parent_pid = getpid();
	for (int type = 0; type < 2; type++) {
		int sv[2];
		if (socketpair(AF_UNIX, type ? SOCK_STREAM : SOCK_DGRAM, 0, sv) < 0)
			die("socketpair");
		setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof on);
		printf("%s: a sender with uids 1000/2000/3000, gids 100/200/300\n",
		       type ? "stream" : "dgram");
		int go[2], done[2];
		if (pipe(go) < 0 || pipe(done) < 0)
			die("pipe");
		pid_t pid = fork();
		if (pid == 0) {
			child_pid = getpid();
			if (setresgid(100, 200, 300) < 0 || setresuid(1000, 2000, 3000) < 0)
				die("setresuid");
			int n = 0;
			n += send_creds(sv[0], "(SO_PASSCRED only)", NULL);
			struct ucred c = {getpid(), 1000, 100};
			n += send_creds(sv[0], "real ids", &c);
			c = (struct ucred){getpid(), 2000, 200};
			n += send_creds(sv[0], "effective ids", &c);
			c = (struct ucred){getpid(), 3000, 300};
			n += send_creds(sv[0], "saved ids", &c);
			c = (struct ucred){getpid(), 4000, 100};
			n += send_creds(sv[0], "another uid", &c);
			c = (struct ucred){getpid(), 1000, 400};
			n += send_creds(sv[0], "another gid", &c);
			c = (struct ucred){getppid(), 1000, 100};
			n += send_creds(sv[0], "the parent's pid", &c);
			c = (struct ucred){getpid(), (uid_t)-1, 100};
			n += send_creds(sv[0], "uid -1", &c);
			int pv[2];
			if (socketpair(AF_UNIX, SOCK_STREAM, 0, pv) < 0)
				die("socketpair");
			peercred("own pair", pv[0]);
			if (write(go[1], &n, sizeof n) != sizeof n)
				die("write");
			/* Alive until root has sent with its pid. */
			close(done[1]);
			if (read(done[0], &n, 1) < 0)
				die("read");
			_exit(0);
		}
		child_pid = pid;
		int n = 0;
		if (read(go[0], &n, sizeof n) != sizeof n)
			die("read");
		printf(" the receiver gets %d:\n", n);
		for (int i = 0; i < n; i++)
			recv_creds(sv[1]);
		printf(" root sends:\n");
		struct ucred c = {child_pid, 12345, 54321};
		if (send_creds(sv[0], "the child's pid, any ids", &c))
			recv_creds(sv[1]);
		close(done[1]);
		waitpid(pid, NULL, 0);
		c = (struct ucred){0x3fffff00, 0, 0};
		if (send_creds(sv[0], "a pid nobody has", &c))
			recv_creds(sv[1]);
		c = (struct ucred){getpid(), 0, (gid_t)-1};
		if (send_creds(sv[0], "gid -1", &c))
			recv_creds(sv[1]);
		if (send_creds(sv[0], "(SO_PASSCRED only)", NULL))
			recv_creds(sv[1]);
		close(sv[0]);
		close(sv[1]);
		close(go[0]);
		close(go[1]);
		close(done[0]);
	}
}

/* ---- oob_tcp, oob_unix ---- */

static int tcp_mode;
static volatile sig_atomic_t urgs;

static void on_urg(int sig)
{
	(void)sig;
	urgs++;
}

/* Waits until the peer has taken (acknowledged) all that `fd` sent: on a
 * TCP loopback connection its segments, urgent pointer included, have then
 * been processed by the receiver. AF_UNIX delivers at once. */
static void settle(int fd)
{
	if (!tcp_mode)
		return;
	for (int i = 0; i < 20000; i++) {
		int q = 0;
		if (ioctl(fd, SIOCOUTQ, &q) < 0)
			die("SIOCOUTQ");
		if (q == 0)
			return;
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
	printf("FAIL: data not acknowledged\n");
	exit(1);
}

static void tx(int fd, const char *data, int flags)
{
	int n = strlen(data);
	int r = send(fd, data, n, flags | MSG_DONTWAIT);
	if (r != n)
		printf("  send [%s]%s: %s\n", data, flags & MSG_OOB ? " OOB" : "",
		       r < 0 ? ename(errno) : "short");
	settle(fd);
}

/* One receive (never waiting): its result, bytes and msg_flags. */
static int rx(int fd, int flags, int len, const char *what)
{
	char buf[64];
	struct iovec iov = {buf, len};
	struct msghdr m;
	memset(&m, 0, sizeof m);
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	int r = recvmsg(fd, &m, flags | MSG_DONTWAIT);
	if (r < 0) {
		printf("  %-14s %s\n", what, ename(errno));
		return r;
	}
	printf("  %-14s %d [%.*s]%s%s\n", what, r, r < len ? r : len, buf,
	       m.msg_flags & MSG_OOB ? " MSG_OOB" : "", m.msg_flags & MSG_TRUNC ? " MSG_TRUNC" : "");
	return r;
}

/* Readiness (poll and epoll), the mark and the queue of the receiving
 * end. `count`: print FIONREAD. Linux 6.18's AF_UNIX FIONREAD (its
 * inq_len) keeps counting an urgent byte that a read skipped and dropped,
 * with nothing left to read (poll shows no POLLIN); umbra counts the bytes
 * that can still be read, so after such a drop it is not printed. */
static void state_of(int fd, int count)
{
	struct pollfd p = {fd, POLLIN | POLLPRI, 0};
	int at = -1, inq = -1;
	poll(&p, 1, 0);
	ioctl(fd, SIOCATMARK, &at);
	ioctl(fd, FIONREAD, &inq);
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN | EPOLLPRI, .data.fd = fd}, out;
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		die("epoll");
	int n = epoll_wait(ep, &out, 1, 0);
	close(ep);
	printf("  state:%s%s%s epoll:%s%s%s atmark %d", p.revents & POLLIN ? " POLLIN" : "",
	       p.revents & POLLPRI ? " POLLPRI" : "", p.revents ? "" : " none",
	       n > 0 && out.events & EPOLLIN ? " IN" : "", n > 0 && out.events & EPOLLPRI ? " PRI" : "",
	       n > 0 ? "" : " none", at);
	if (count || tcp_mode)
		printf(" inq %d\n", inq);
	else
		printf("\n");
}

static void state(int fd)
{
	state_of(fd, 1);
}

static void conn_pair(int sv[2])
{
	if (!tcp_mode) {
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
			die("socketpair");
		return;
	}
	struct sockaddr_in a;
	socklen_t l = sizeof a;
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof a) < 0 || listen(ls, 1) < 0 ||
	    getsockname(ls, (struct sockaddr *)&a, &l) < 0)
		die("listen");
	sv[0] = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(sv[0], (struct sockaddr *)&a, sizeof a) < 0)
		die("connect");
	sv[1] = accept(ls, NULL, NULL);
	if (sv[1] < 0)
		die("accept");
	close(ls);
}

/* Reads the rest of the normal stream, chunk by chunk. */
static void drain(int fd)
{
	for (int i = 0; i < 8; i++)
		if (rx(fd, 0, 64, "recv") <= 0)
			break;
}

static void sec_oob(int tcp)
{
	int sv[2], on = 1, r;
	tcp_mode = tcp;
	const char *name = tcp ? "tcp" : "unix";

	printf("%s: hello, X urgent, world; read in order\n", name);
	conn_pair(sv);
	tx(sv[0], "helloX", MSG_OOB);
	tx(sv[0], "world", 0);
	state(sv[1]);
	rx(sv[1], 0, 64, "recv");
	state(sv[1]);
	rx(sv[1], MSG_OOB | MSG_PEEK, 64, "recv OOB|PEEK");
	rx(sv[1], MSG_OOB, 64, "recv OOB");
	state(sv[1]);
	rx(sv[1], MSG_OOB, 64, "recv OOB");
	rx(sv[1], 0, 64, "recv");
	state(sv[1]);
	close(sv[0]);
	close(sv[1]);

	printf("%s: the urgent byte never read out of band\n", name);
	conn_pair(sv);
	tx(sv[0], "helloX", MSG_OOB);
	tx(sv[0], "world", 0);
	rx(sv[1], 0, 64, "recv");
	rx(sv[1], 0, 64, "recv");
	state_of(sv[1], 0);
	rx(sv[1], MSG_OOB, 64, "recv OOB");
	close(sv[0]);
	close(sv[1]);

	printf("%s: out of band first\n", name);
	conn_pair(sv);
	tx(sv[0], "helloX", MSG_OOB);
	tx(sv[0], "world", 0);
	rx(sv[1], MSG_OOB, 64, "recv OOB");
	state(sv[1]);
	rx(sv[1], 0, 64, "recv");
	state(sv[1]);
	rx(sv[1], 0, 64, "recv");
	state(sv[1]);
	close(sv[0]);
	close(sv[1]);

	printf("%s: SO_OOBINLINE\n", name);
	conn_pair(sv);
	if (setsockopt(sv[1], SOL_SOCKET, SO_OOBINLINE, &on, sizeof on) < 0)
		die("SO_OOBINLINE");
	tx(sv[0], "helloX", MSG_OOB);
	tx(sv[0], "world", 0);
	state(sv[1]);
	rx(sv[1], 0, 64, "recv");
	state(sv[1]);
	rx(sv[1], MSG_OOB, 64, "recv OOB");
	rx(sv[1], 0, 64, "recv");
	state(sv[1]);
	close(sv[0]);
	close(sv[1]);

	printf("%s: two urgent sends before reading\n", name);
	conn_pair(sv);
	tx(sv[0], "aA", MSG_OOB);
	tx(sv[0], "bB", MSG_OOB);
	state(sv[1]);
	rx(sv[1], MSG_OOB, 64, "recv OOB");
	drain(sv[1]);
	close(sv[0]);
	close(sv[1]);

	printf("%s: a lone urgent byte, then another\n", name);
	conn_pair(sv);
	tx(sv[0], "A", MSG_OOB);
	state(sv[1]);
	tx(sv[0], "B", MSG_OOB);
	state(sv[1]);
	rx(sv[1], MSG_OOB, 64, "recv OOB");
	drain(sv[1]);
	state(sv[1]);
	close(sv[0]);
	close(sv[1]);

	printf("%s: a lone urgent byte read in band\n", name);
	conn_pair(sv);
	tx(sv[0], "X", MSG_OOB);
	rx(sv[1], 0, 64, "recv");
	state_of(sv[1], 0);
	rx(sv[1], MSG_OOB, 64, "recv OOB");
	tx(sv[0], "yz", 0);
	rx(sv[1], 0, 64, "recv");
	close(sv[0]);
	close(sv[1]);

	printf("%s: a short buffer, and none\n", name);
	conn_pair(sv);
	tx(sv[0], "abc", 0);
	tx(sv[0], "dE", MSG_OOB);
	rx(sv[1], 0, 2, "recv 2");
	rx(sv[1], MSG_OOB, 0, "recv OOB 0");
	rx(sv[1], MSG_OOB, 1, "recv OOB 1");
	rx(sv[1], 0, 64, "recv");
	rx(sv[1], 0, 64, "recv");
	close(sv[0]);
	close(sv[1]);

	printf("%s: MSG_WAITALL stops at the mark\n", name);
	conn_pair(sv);
	tx(sv[0], "abcdE", MSG_OOB);
	tx(sv[0], "fg", 0);
	{
		char buf[16];
		r = recv(sv[1], buf, 6, MSG_WAITALL);
		printf("  recv WAITALL 6 %d [%.*s]\n", r, r > 0 ? r : 0, buf);
	}
	rx(sv[1], 0, 64, "recv");
	close(sv[0]);
	close(sv[1]);

	printf("%s: nothing urgent; empty sends; the sender's side\n", name);
	conn_pair(sv);
	rx(sv[1], MSG_OOB, 64, "recv OOB");
	r = send(sv[0], "", 0, MSG_OOB | MSG_DONTWAIT);
	printf("  send [] OOB    %s\n", r < 0 ? ename(errno) : "0");
	tx(sv[0], "pQ", MSG_OOB);
	state(sv[0]);
	rx(sv[0], MSG_OOB, 64, "sender OOB");
	state(sv[1]);
	close(sv[0]);
	close(sv[1]);

	printf("%s: SIGURG to the F_SETOWN owner\n", name);
	signal(SIGURG, on_urg);
	conn_pair(sv);
	urgs = 0;
	tx(sv[0], "u1", MSG_OOB);
	printf("  no owner: %d SIGURG\n", (int)urgs);
	if (fcntl(sv[1], F_SETOWN, getpid()) < 0)
		die("F_SETOWN");
	printf("  F_GETOWN is us: %d\n", fcntl(sv[1], F_GETOWN) == getpid());
	tx(sv[0], "u2", MSG_OOB);
	getppid();
	printf("  owner set: %d SIGURG\n", (int)urgs);
	tx(sv[0], "plain", 0);
	getppid();
	printf("  after plain data: %d SIGURG\n", (int)urgs);
	setsockopt(sv[1], SOL_SOCKET, SO_OOBINLINE, &on, sizeof on);
	tx(sv[0], "u3", MSG_OOB);
	getppid();
	printf("  with SO_OOBINLINE: %d SIGURG\n", (int)urgs);
	fcntl(sv[0], F_SETOWN, getpid());
	fcntl(sv[1], F_SETOWN, 0);
	tx(sv[0], "u4", MSG_OOB);
	getppid();
	printf("  owner cleared, sender owned: %d SIGURG\n", (int)urgs);
	signal(SIGURG, SIG_DFL);
	close(sv[0]);
	close(sv[1]);

	printf("%s: other socket types\n", name);
	int d = tcp ? socket(AF_INET, SOCK_DGRAM, 0) : -1;
	int dp[2] = {-1, -1};
	if (tcp) {
		struct sockaddr_in a;
		socklen_t l = sizeof a;
		memset(&a, 0, sizeof a);
		a.sin_family = AF_INET;
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		bind(d, (struct sockaddr *)&a, sizeof a);
		getsockname(d, (struct sockaddr *)&a, &l);
		connect(d, (struct sockaddr *)&a, sizeof a);
		dp[0] = dp[1] = d;
	} else if (socketpair(AF_UNIX, SOCK_DGRAM, 0, dp) < 0)
		die("socketpair");
	r = send(dp[0], "x", 1, MSG_OOB | MSG_DONTWAIT);
	printf("  dgram send OOB  %s\n", r < 0 ? ename(errno) : "ok");
	send(dp[0], "y", 1, MSG_DONTWAIT);
	rx(dp[1], MSG_OOB, 64, "dgram recv OOB");
	if (!tcp) {
		close(dp[0]);
		close(dp[1]);
		if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, dp) < 0)
			die("socketpair");
		r = send(dp[0], "x", 1, MSG_OOB | MSG_DONTWAIT);
		printf("  seqpacket send OOB %s\n", r < 0 ? ename(errno) : "ok");
		send(dp[0], "y", 1, MSG_DONTWAIT);
		rx(dp[1], MSG_OOB, 64, "seqpacket OOB");
		close(dp[1]);
	}
	close(dp[0]);
}

/* ---- timewait ---- */

static int tw_v6;

static socklen_t tw_addr(struct sockaddr_storage *ss, const char *host, unsigned port)
{
	memset(ss, 0, sizeof *ss);
	if (tw_v6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
		a->sin6_family = AF_INET6;
		inet_pton(AF_INET6, host ? host : "::1", &a->sin6_addr);
		a->sin6_port = htons(port);
		return sizeof *a;
	}
	struct sockaddr_in *a = (struct sockaddr_in *)ss;
	a->sin_family = AF_INET;
	inet_pton(AF_INET, host ? host : "127.0.0.1", &a->sin_addr);
	a->sin_port = htons(port);
	return sizeof *a;
}

static unsigned tw_port(int s)
{
	struct sockaddr_storage ss;
	socklen_t l = sizeof ss;
	getsockname(s, (struct sockaddr *)&ss, &l);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* The /proc/net/tcp(6) line of local port `lp` and remote port `rp`. */
static int tw_find(unsigned lp, unsigned rp, char *out, size_t n)
{
	char l[512];
	FILE *f = fopen(tw_v6 ? "/proc/net/tcp6" : "/proc/net/tcp", "r");
	int found = 0;
	if (!f)
		die("open /proc/net/tcp");
	while (!found && fgets(l, sizeof l, f)) {
		char la[40], ra[40];
		unsigned a, b;
		const char *c = strchr(l, ':');
		if (c && sscanf(c + 1, " %39[0-9A-F]:%X %39[0-9A-F]:%X", la, &a, ra, &b) == 4 &&
		    a == lp && b == rp) {
			l[strcspn(l, "\n")] = 0;
			snprintf(out, n, "%s", l);
			found = 1;
		}
	}
	fclose(f);
	return found;
}

/* Waits (natively, the FIN exchange runs in softirq) until the line of
 * lp->rp has state `st` (0: until it is gone), then prints it. */
static void tw_show(const char *what, unsigned lp, unsigned rp, unsigned want, unsigned long ours)
{
	char line[512];
	for (int i = 0; i < 10000; i++) {
		int f = tw_find(lp, rp, line, sizeof line);
		unsigned st = 0;
		if (f) {
			const char *c = strchr(line, ':');
			char la[40], ra[40];
			unsigned a, b;
			sscanf(c + 1, " %39[0-9A-F]:%X %39[0-9A-F]:%X %X", la, &a, ra, &b, &st);
		}
		if ((want == 0 && !f) || (f && st == want))
			break;
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
	if (!tw_find(lp, rp, line, sizeof line)) {
		printf("  %s: not listed\n", what);
		return;
	}
	char la[40], ra[40];
	unsigned a, b, st, tx, rx, tr, retr, uid;
	unsigned long when, inode;
	int timeout;
	sscanf(strchr(line, ':') + 1, " %39[0-9A-F]:%X %39[0-9A-F]:%X %X %X:%X %X:%lX %X %u %d %lu", la,
	       &a, ra, &b, &st, &tx, &rx, &tr, &when, &retr, &uid, &timeout, &inode);
	int fields = 0, in = 0;
	for (const char *p = line; *p; p++) {
		if (*p == ' ')
			in = 0;
		else if (!in) {
			in = 1;
			fields++;
		}
	}
	printf("  %s: st %02X tx %X rx %X tr %02X timer %s retr %X uid %u timeout %d inode %s "
	       "fields %d width %zu\n",
	       what, st, tx, rx, tr, when ? (when <= 6000 ? "<=60s" : ">60s") : "0", retr, uid,
	       timeout, inode == 0 ? "0" : inode == ours ? "ours" : "other", fields,
	       tw_v6 ? 0 : strlen(line));
}

static unsigned long tw_ino(int fd)
{
	struct stat st;
	return fstat(fd, &st) < 0 ? 0 : st.st_ino;
}

static int tw_socket(int reuse)
{
	int s = socket(tw_v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
	if (s < 0)
		die("socket");
	if (reuse && setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &reuse, sizeof reuse) < 0)
		die("SO_REUSEADDR");
	return s;
}

/* A listener (with SO_REUSEADDR if `reuse`), a client and the accepted
 * server end. */
static void tw_conn(int reuse, int *l, int *c, int *s)
{
	struct sockaddr_storage ss;
	socklen_t len = tw_addr(&ss, NULL, 0);
	*l = tw_socket(reuse);
	if (bind(*l, (struct sockaddr *)&ss, len) < 0 || listen(*l, 4) < 0)
		die("listen");
	len = tw_addr(&ss, NULL, tw_port(*l));
	*c = tw_socket(0);
	if (connect(*c, (struct sockaddr *)&ss, len) < 0)
		die("connect");
	*s = accept(*l, NULL, NULL);
	if (*s < 0)
		die("accept");
}

static void tw_bind(const char *what, const char *host, unsigned port, int reuse)
{
	struct sockaddr_storage ss;
	socklen_t len = tw_addr(&ss, host, port);
	int n = tw_socket(reuse);
	int r = bind(n, (struct sockaddr *)&ss, len);
	printf("  bind %s%s: %s", what, reuse ? " with SO_REUSEADDR" : "", r < 0 ? ename(errno) : "ok");
	if (r == 0)
		printf(", listen %s", listen(n, 1) < 0 ? ename(errno) : "ok");
	printf("\n");
	close(n);
}

static void sec_timewait(int v6)
{
	int l, c, s;
	char b;
	tw_v6 = v6;
	const char *name = v6 ? "tcp6" : "tcp";

	printf("%s: the client closes first\n", name);
	tw_conn(0, &l, &c, &s);
	unsigned lp = tw_port(l), cp = tw_port(c);
	unsigned long sino = tw_ino(s);
	close(c);
	tw_show("client, closed", cp, lp, 5, 0);
	tw_show("server", lp, cp, 8, sino);
	close(s);
	tw_show("client, both closed", cp, lp, 6, 0);
	tw_show("server, both closed", lp, cp, 0, sino);
	tw_bind("the client's port", NULL, cp, 0);
	tw_bind("the client's port", NULL, cp, 1);
	tw_bind("the wildcard and the client's port", v6 ? "::" : "0.0.0.0", cp, 0);
	if (!v6)
		tw_bind("127.0.0.2 and the client's port", "127.0.0.2", cp, 0);
	close(l);

	for (int reuse = 0; reuse < 2; reuse++) {
		printf("%s: the server closes first, listener %s SO_REUSEADDR\n", name,
		       reuse ? "with" : "without");
		tw_conn(reuse, &l, &c, &s);
		lp = tw_port(l), cp = tw_port(c);
		unsigned long cino = tw_ino(c);
		close(s);
		tw_show("server, closed", lp, cp, 5, 0);
		tw_show("client", cp, lp, 8, cino);
		close(c);
		tw_show("server, both closed", lp, cp, 6, 0);
		close(l);
		tw_bind("the listener's port", NULL, lp, 0);
		tw_bind("the listener's port", NULL, lp, 1);
	}

	printf("%s: both shut down writing, still open\n", name);
	tw_conn(0, &l, &c, &s);
	lp = tw_port(l), cp = tw_port(c);
	unsigned long cino = tw_ino(c);
	sino = tw_ino(s);
	shutdown(c, SHUT_WR);
	tw_show("client", cp, lp, 5, cino);
	tw_show("server", lp, cp, 8, sino);
	shutdown(s, SHUT_WR);
	tw_show("client's TIME_WAIT", cp, lp, 6, cino);
	tw_show("server", lp, cp, 0, sino);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	printf("  getpeername client %s", getpeername(c, (struct sockaddr *)&ss, &sl) < 0 ? ename(errno) : "ok");
	sl = sizeof ss;
	printf(", server %s\n", getpeername(s, (struct sockaddr *)&ss, &sl) < 0 ? ename(errno) : "ok");
	printf("  client read %d", (int)read(c, &b, 1));
	printf(", send %s\n", send(c, "x", 1, MSG_NOSIGNAL) < 0 ? ename(errno) : "ok");
	close(c);
	close(s);
	tw_show("client's TIME_WAIT, closed", cp, lp, 6, 0);
	close(l);

	printf("%s: a reset ends FIN_WAIT2\n", name);
	tw_conn(0, &l, &c, &s);
	lp = tw_port(l), cp = tw_port(c);
	if (write(c, "x", 1) != 1)
		die("write");
	close(c);
	tw_show("client, closed", cp, lp, 5, 0);
	close(s);
	tw_show("client, reset", cp, lp, 0, 0);
	tw_show("server", lp, cp, 0, 0);
	tw_bind("the client's port", NULL, cp, 0);
	close(l);

	printf("%s: SO_LINGER 0 resets, leaving no TIME_WAIT\n", name);
	tw_conn(0, &l, &c, &s);
	lp = tw_port(l), cp = tw_port(c);
	struct linger lg = {1, 0};
	if (setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg) < 0)
		die("SO_LINGER");
	close(c);
	printf("  server read %s\n", read(s, &b, 1) < 0 ? ename(errno) : "ok");
	tw_show("client", cp, lp, 0, 0);
	tw_bind("the client's port", NULL, cp, 0);
	close(s);
	close(l);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "procraw"))
			sec_procraw();
		else if (!strcmp(argv[i], "creds"))
			sec_creds();
		else if (!strcmp(argv[i], "oob_tcp"))
			sec_oob(1);
		else if (!strcmp(argv[i], "oob_unix"))
			sec_oob(0);
		else if (!strcmp(argv[i], "timewait"))
			sec_timewait(0);
		else if (!strcmp(argv[i], "timewait6"))
			sec_timewait(1);
		else {
			fprintf(stderr, "usage: net_edge procraw|creds|oob_tcp|oob_unix|timewait...\n");
			return 2;
		}
	}
	return 0;
}
