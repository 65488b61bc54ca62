/* TCP loopback state (issue 12; tests/e2e_nettcpstate.rs), run natively in a
 * fresh network namespace (lo up) and under umbra, as root:
 *
 *   info      getsockopt(TCP_INFO): the fields Linux fills that do not depend
 *             on timing (state, options, MSS, segment and byte counts, the
 *             listener's queue and backlog), and how the length is cut
 *   simclose  both ends shut writing before either sees the other's FIN
 *             (the client's FIN waits behind data the server has no room
 *             for): CLOSING, then TIME_WAIT on both ends; the same with
 *             close(2), and a close that resets instead
 *   twreuse   a connect to the 4-tuple of a TIME_WAIT from a port bind(2)
 *             named takes it over, on the client's side and the server's
 *   twephem   a connect without bind(2) (one port left by
 *             IP_LOCAL_PORT_RANGE) takes over its own 4-tuple's TIME_WAIT
 *             only once it is a second old (tcp_tw_reuse = 2)
 *   lstop     a listener stopped (shutdown SHUT_RD, close) with connections
 *             it has not accepted: their peers see ECONNRESET, and never EOF
 *             after it
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

static const char *ename(int e)
{
	switch (e) {
	case EAGAIN: return "EAGAIN";
	case EPIPE: return "EPIPE";
	case ENOTCONN: return "ENOTCONN";
	case ECONNRESET: return "ECONNRESET";
	case ECONNREFUSED: return "ECONNREFUSED";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case EADDRINUSE: return "EADDRINUSE";
	case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
	case ENOPROTOOPT: return "ENOPROTOOPT";
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

static struct sockaddr_in addr;

static int listener(int backlog)
{
	int l = socket(AF_INET, SOCK_STREAM, 0);
	memset(&addr, 0, sizeof addr);
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof addr;
	if (bind(l, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(l, backlog) < 0 ||
	    getsockname(l, (struct sockaddr *)&addr, &len) < 0) {
		printf("listener: %s\n", ename(errno));
		exit(1);
	}
	return l;
}

static int dial(void)
{
	int c = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;
	setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(c, (struct sockaddr *)&addr, sizeof addr) < 0)
		printf("connect: %s\n", ename(errno));
	return c;
}

/* struct tcp_info as bytes: the offsets of Linux's uapi layout, the same on
 * every arch (no padding, no pointers). */
static unsigned char ti[512];

static unsigned u8_at(int off)
{
	return ti[off];
}

static uint32_t u32_at(int off)
{
	uint32_t v;
	memcpy(&v, ti + off, 4);
	return v;
}

static uint64_t u64_at(int off)
{
	uint64_t v;
	memcpy(&v, ti + off, 8);
	return v;
}

static int get_info(int fd)
{
	memset(ti, 0xee, sizeof ti);
	socklen_t len = sizeof ti;
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, ti, &len) < 0) {
		printf("TCP_INFO: %s\n", ename(errno));
		return -1;
	}
	if (len < 232)
		printf("TCP_INFO: short, %u\n", len);
	return 0;
}

static const char *state_name(unsigned s)
{
	static const char *n[] = {"?", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1",
				  "FIN_WAIT2", "TIME_WAIT", "CLOSE", "CLOSE_WAIT", "LAST_ACK",
				  "LISTEN", "CLOSING"};
	return s < 12 ? n[s] : "?";
}

static unsigned state_of(int fd)
{
	get_info(fd);
	return u8_at(0);
}

/* Waits (generously) until `fd` leaves state `st` (a FIN not yet acked:
 * loopback delays the ACK of a FIN). */
static void settle(int fd, unsigned st)
{
	for (int i = 0; i < 20000 && state_of(fd) == st; i++) {
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
}

/* The fields of a connection that do not depend on timing. */
static void show_conn(const char *what, int fd)
{
	if (get_info(fd) < 0)
		return;
	uint32_t rto = u32_at(8);
	printf("%s: %s ca_state %u retransmits %u probes %u backoff %u options %#x rto %s\n", what,
	       state_name(u8_at(0)), u8_at(1), u8_at(2), u8_at(3), u8_at(4), u8_at(5),
	       rto >= 200000 && rto < 300000 ? "200-300ms" : "other");
	printf("  rcv_mss %u lost %u retrans %u fackets %u pmtu %u ssthresh %#x advmss %u "
	       "reordering %u total_retrans %u\n",
	       u32_at(20), u32_at(32), u32_at(36), u32_at(40), u32_at(60), u32_at(76),
	       u32_at(84), u32_at(88), u32_at(100));
	printf("  bytes_received %llu bytes_sent %llu data_segs_in %u data_segs_out %u "
	       "notsent %u bytes_retrans %llu\n",
	       (unsigned long long)u64_at(128), (unsigned long long)u64_at(200), u32_at(152),
	       u32_at(156), u32_at(144), (unsigned long long)u64_at(208));
}

static void sec_info(void)
{
	int fresh = socket(AF_INET, SOCK_STREAM, 0);
	if (get_info(fresh) == 0)
		printf("new socket: %s options %#x rto %u snd_mss %u rcv_mss %u rttvar %u "
		       "ssthresh %#x cwnd %u reordering %u pmtu %u advmss %u min_rtt %#x "
		       "unacked %u\n",
		       state_name(u8_at(0)), u8_at(5), u32_at(8), u32_at(16), u32_at(20),
		       u32_at(72), u32_at(76), u32_at(80), u32_at(88), u32_at(60), u32_at(84),
		       u32_at(148), u32_at(24));

	/* The length: cut to what was asked, never more than the struct. */
	socklen_t len = 104;
	chk("TCP_INFO len 104", getsockopt(fresh, IPPROTO_TCP, TCP_INFO, ti, &len));
	printf("  len %u\n", len);
	len = 8;
	memset(ti, 0xee, sizeof ti);
	chk("TCP_INFO len 8", getsockopt(fresh, IPPROTO_TCP, TCP_INFO, ti, &len));
	printf("  len %u state %u byte8 %#x\n", len, ti[0], ti[8]);
	len = 0;
	chk("TCP_INFO len 0", getsockopt(fresh, IPPROTO_TCP, TCP_INFO, ti, &len));
	printf("  len %u\n", len);
	len = (socklen_t)-1;
	chk("TCP_INFO len -1", getsockopt(fresh, IPPROTO_TCP, TCP_INFO, ti, &len));
	len = sizeof ti;
	getsockopt(fresh, IPPROTO_TCP, TCP_INFO, ti, &len);
	printf("TCP_INFO len %zu: at least 232 %s, at most 512 %s\n", sizeof ti,
	       len >= 232 ? "yes" : "no", len <= 512 ? "yes" : "no");
	close(fresh);

	int u = socket(AF_INET, SOCK_DGRAM, 0);
	len = sizeof ti;
	chk("TCP_INFO on UDP", getsockopt(u, IPPROTO_TCP, TCP_INFO, ti, &len));
	close(u);
	u = socket(AF_INET6, SOCK_DGRAM, 0);
	len = sizeof ti;
	chk("TCP_INFO on UDPv6", getsockopt(u, IPPROTO_TCP, TCP_INFO, ti, &len));
	close(u);

	int l = listener(7);
	if (get_info(l) == 0)
		printf("listener: %s unacked %u sacked %u cwnd %u reordering %u rto %u options %#x\n",
		       state_name(u8_at(0)), u32_at(24), u32_at(28), u32_at(80), u32_at(88),
		       u32_at(8), u8_at(5));
	int c = dial();
	int c2 = dial();
	if (get_info(l) == 0)
		printf("listener with 2 queued: unacked %u sacked %u\n", u32_at(24), u32_at(28));
	int s = accept(l, NULL, NULL);
	int s2 = accept(l, NULL, NULL);
	if (get_info(l) == 0)
		printf("listener, both accepted: unacked %u\n", u32_at(24));
	close(c2);
	close(s2);
	int one = 1;
	setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	show_conn("c", c);
	show_conn("s", s);

	static char buf[8192];
	memset(buf, 'x', sizeof buf);
	write(c, buf, 1000);
	write(c, buf, 3000);
	write(c, buf, 10);
	show_conn("c after writing 1000, 3000, 10", c);
	show_conn("s", s);
	chk("read s", read(s, buf, sizeof buf));
	write(s, buf, 700);
	show_conn("s after reading and writing 700", s);
	show_conn("c", c);

	chk("shutdown c SHUT_WR", shutdown(c, SHUT_WR));
	settle(c, 4);
	show_conn("c after SHUT_WR", c);
	show_conn("s", s);
	close(s);
	settle(c, 5);
	show_conn("c after s closed", c);
	close(c);
	close(l);
}


static int cmp_line(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* The guest's TCP entries of /proc/net/tcp as "local-role remote-role
 * state", ports by role, sorted. */
static unsigned lport;
static void show_proc(const char *what, unsigned cport)
{
	char lines[32][64];
	int n = 0;
	FILE *f = fopen("/proc/net/tcp", "r");
	char line[512];
	if (!f) {
		printf("%s: /proc/net/tcp: %s\n", what, ename(errno));
		return;
	}
	fgets(line, sizeof line, f);
	while (fgets(line, sizeof line, f) && n < 32) {
		unsigned la, lp, ra, rp, st;
		if (sscanf(line, " %*d: %x:%x %x:%x %x", &la, &lp, &ra, &rp, &st) != 5)
			continue;
		if (lp != lport && lp != cport)
			continue;
		const char *l = lp == lport ? "server" : "client";
		const char *r = rp == lport ? "server" : rp == cport ? "client" : rp == 0 ? "*" : "other";
		snprintf(lines[n++], 64, "%s->%s %s", l, r, state_name(st));
	}
	fclose(f);
	qsort(lines, n, sizeof lines[0], cmp_line);
	printf("%s:", what);
	for (int i = 0; i < n; i++)
		printf(" [%s]", lines[i]);
	if (!n)
		printf(" none");
	printf("\n");
}

static unsigned port_of(int fd)
{
	struct sockaddr_in a;
	socklen_t len = sizeof a;
	getsockname(fd, (struct sockaddr *)&a, &len);
	return ntohs(a.sin_port);
}

/* Fills `fd`'s connection (non-blocking writes until EAGAIN). */
static void fill(int fd)
{
	static char big[65536];
	int fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	while (write(fd, big, sizeof big) > 0)
		;
	fcntl(fd, F_SETFL, fl);
}

/* Reads `fd` to its end; the byte count's sign only. */
static void drain_to_eof(const char *what, int fd)
{
	static char big[65536];
	long got = 0;
	ssize_t n;
	while ((n = read(fd, big, sizeof big)) > 0)
		got += n;
	printf("%s: %s, then %s\n", what, got > 0 ? "data" : "no data", n == 0 ? "EOF" : ename(errno));
}

/* Both ends shut their sending before either sees the other's FIN (a
 * simultaneous close, as a loopback that delivers at once can make it):
 * the client's FIN waits behind data the server has no room for, so the
 * server's FIN reaches a client in FIN_WAIT1, which goes to CLOSING; once
 * the server has read everything, the client's FIN comes and both ends
 * are in TIME_WAIT. */
static void sec_simclose(void)
{
	int l = listener(4);
	lport = port_of(l);
	int c = dial();
	int s = accept(l, NULL, NULL);
	close(l);
	unsigned cport = port_of(c);
	fill(c);
	chk("shutdown c SHUT_WR", shutdown(c, SHUT_WR));
	printf("c: %s\n", state_name(state_of(c)));
	chk("shutdown s SHUT_WR", shutdown(s, SHUT_WR));
	settle(s, 4);
	printf("c: %s, s: %s\n", state_name(state_of(c)), state_name(state_of(s)));
	show_proc("both shut", cport);
	char b;
	chk("write c", write(c, "x", 1));
	chk("read c", read(c, &b, 1));
	drain_to_eof("s reads", s);
	settle(c, 11);
	printf("c: %s, s: %s\n", state_name(state_of(c)), state_name(state_of(s)));
	show_proc("s read all", cport);
	close(c);
	close(s);
	show_proc("both closed", cport);

	/* Both close(2) the same way: the client's close leaves its FIN
	 * queued behind the data. */
	l = listener(4);
	lport = port_of(l);
	c = dial();
	s = accept(l, NULL, NULL);
	close(l);
	cport = port_of(c);
	fill(c);
	close(c);
	close(s);
	show_proc("client closed with data queued, then the server (reset)", cport);

	l = listener(4);
	lport = port_of(l);
	c = dial();
	s = accept(l, NULL, NULL);
	close(l);
	cport = port_of(c);
	fill(c);
	close(c);
	show_proc("client closed with data queued", cport);
	chk("shutdown s SHUT_WR", shutdown(s, SHUT_WR));
	settle(s, 4);
	show_proc("the server shut", cport);
	drain_to_eof("s reads", s);
	close(s);
	show_proc("the server read all, closed", cport);

	/* The server shuts first; the client closes with data queued: its
	 * FIN waits in LAST_ACK, and only the server ends in TIME_WAIT. */
	l = listener(4);
	lport = port_of(l);
	c = dial();
	s = accept(l, NULL, NULL);
	close(l);
	cport = port_of(c);
	fill(c);
	chk("shutdown s SHUT_WR", shutdown(s, SHUT_WR));
	settle(s, 4);
	close(c);
	show_proc("server shut, client closed with data queued", cport);
	drain_to_eof("s reads", s);
	show_proc("the server read all", cport);
	close(s);
}

/* A listener stopped with connections it did not accept: each is reset,
 * and its peer never sees a FIN after the reset. */
static void stopped(const char *how)
{
	int l = listener(4);
	int c1 = dial();
	int c2 = dial();
	write(c2, "unread", 6);
	if (!strcmp(how, "close"))
		close(l);
	else if (!strcmp(how, "shutdown"))
		chk("shutdown l SHUT_RD", shutdown(l, SHUT_RD));
	else {
		struct sockaddr u = {0};
		u.sa_family = AF_UNSPEC;
		chk("connect l AF_UNSPEC", connect(l, &u, sizeof u));
	}
	for (int i = 0; i < 2; i++) {
		int c = i ? c2 : c1;
		const char *n = i ? "c2" : "c1";
		struct pollfd p = {c, POLLIN | POLLOUT | POLLRDHUP, 0};
		poll(&p, 1, 0);
		printf("%s after %s: poll%s%s%s%s%s\n", n, how, p.revents & POLLIN ? " IN" : "",
		       p.revents & POLLOUT ? " OUT" : "", p.revents & POLLRDHUP ? " RDHUP" : "",
		       p.revents & POLLHUP ? " HUP" : "", p.revents & POLLERR ? " ERR" : "");
		printf("  %s\n", state_name(state_of(c)));
		char b[8];
		chk("  read", read(c, b, sizeof b));
		chk("  read again", read(c, b, sizeof b));
		chk("  write", write(c, "x", 1));
		int err = 0;
		socklen_t el = sizeof err;
		getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &el);
		printf("  SO_ERROR %s\n", ename(err));
		close(c);
	}
	if (strcmp(how, "close"))
		close(l);
}

static void sec_lstop(void)
{
	signal(SIGPIPE, SIG_IGN);
	stopped("close");
	stopped("shutdown");
	stopped("unspec");
}

/* A socket bound to `port` (SO_REUSEADDR if `reuse`). */
static int bound(unsigned port, int reuse)
{
	int c = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;
	if (reuse)
		setsockopt(c, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in a = {0};
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(port);
	if (bind(c, (struct sockaddr *)&a, sizeof a) < 0) {
		printf("  bind %s: %s\n", port ? "the port" : "0", ename(errno));
		close(c);
		return -1;
	}
	return c;
}

/* A connect to the 4-tuple of a TIME_WAIT (tcp_twsk_unique): from a port
 * bind(2) named it takes the TIME_WAIT over at once (timestamps are on, as
 * they are on a loopback connection); the server side's TIME_WAIT gives way
 * to a new SYN from the same peer. */
static void sec_twreuse(void)
{
	int l = listener(8);
	lport = port_of(l);
	int one = 1;
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);

	/* The client closes first: its end waits in TIME_WAIT. */
	int c = bound(0, 1);
	unsigned cport = port_of(c);
	chk("connect", connect(c, (struct sockaddr *)&addr, sizeof addr));
	int s = accept(l, NULL, NULL);
	close(c);
	close(s);
	show_proc("client closed first", cport);
	printf("without SO_REUSEADDR:\n");
	c = bound(cport, 0);
	printf("with SO_REUSEADDR:\n");
	c = bound(cport, 1);
	if (c >= 0) {
		chk("  connect to the same server", connect(c, (struct sockaddr *)&addr, sizeof addr));
		s = accept(l, NULL, NULL);
		show_proc("  connected again", cport);
		close(s);
		close(c);
	}
	show_proc("the server closed first this time", cport);
	/* A TIME_WAIT whose socket had no SO_REUSEADDR keeps its port from
	 * any bind. */
	c = bound(0, 0);
	unsigned c2port = port_of(c);
	chk("connect without SO_REUSEADDR", connect(c, (struct sockaddr *)&addr, sizeof addr));
	s = accept(l, NULL, NULL);
	close(c);
	close(s);
	show_proc("closed first", c2port);
	printf("with SO_REUSEADDR:\n");
	c = bound(c2port, 1);
	if (c >= 0)
		close(c);
	/* The same port to another server: no TIME_WAIT of its 4-tuple. */
	int l2 = listener(8);
	unsigned l2port = port_of(l2);
	c = bound(cport, 1);
	chk("connect to another server", connect(c, (struct sockaddr *)&addr, sizeof addr));
	s = accept(l2, NULL, NULL);
	close(s);
	close(c);
	close(l2);
	(void)l2port;

	/* The server closes first: its end waits in TIME_WAIT, and a new SYN
	 * from the same client port takes it over. */
	int l3 = listener(8);
	lport = port_of(l3);
	c = bound(0, 1);
	cport = port_of(c);
	chk("connect", connect(c, (struct sockaddr *)&addr, sizeof addr));
	s = accept(l3, NULL, NULL);
	close(s);
	close(c);
	show_proc("server closed first", cport);
	c = bound(cport, 0);
	if (c >= 0) {
		chk("connect from the same port", connect(c, (struct sockaddr *)&addr, sizeof addr));
		s = accept(l3, NULL, NULL);
		show_proc("connected again", cport);
		close(s);
		close(c);
	}
	close(l3);
	close(l);
}

#ifndef IP_LOCAL_PORT_RANGE
#define IP_LOCAL_PORT_RANGE 51
#endif

/* A socket whose ephemeral ports come from `lo`-`hi` (IP_LOCAL_PORT_RANGE). */
static int ranged(unsigned lo, unsigned hi)
{
	int c = socket(AF_INET, SOCK_STREAM, 0);
	uint32_t r = lo | hi << 16;
	if (setsockopt(c, SOL_IP, IP_LOCAL_PORT_RANGE, &r, sizeof r) < 0)
		printf("IP_LOCAL_PORT_RANGE: %s\n", ename(errno));
	return c;
}

/* tcp_tw_reuse = 2 (its default): a connect without bind(2) takes over a
 * TIME_WAIT of its own 4-tuple on loopback only once it is a second old
 * (tcp_tw_reuse_delay); before that the port is not free for it. The
 * socket's IP_LOCAL_PORT_RANGE leaves it one port. */
static void sec_twephem(void)
{
	const unsigned P = 45678;
	int c = socket(AF_INET, SOCK_STREAM, 0);
	uint32_t r = 0;
	socklen_t len = sizeof r;
	chk("IP_LOCAL_PORT_RANGE default", getsockopt(c, SOL_IP, IP_LOCAL_PORT_RANGE, &r, &len));
	printf("  %#x len %u\n", r, len);
	r = 2000 | 1000 << 16;
	chk("IP_LOCAL_PORT_RANGE 2000-1000", setsockopt(c, SOL_IP, IP_LOCAL_PORT_RANGE, &r, sizeof r));
	r = P | P << 16;
	chk("IP_LOCAL_PORT_RANGE short", setsockopt(c, SOL_IP, IP_LOCAL_PORT_RANGE, &r, 2));
	chk("IP_LOCAL_PORT_RANGE P-P", setsockopt(c, SOL_IP, IP_LOCAL_PORT_RANGE, &r, sizeof r));
	len = sizeof r;
	r = 0;
	getsockopt(c, SOL_IP, IP_LOCAL_PORT_RANGE, &r, &len);
	printf("  %s\n", r == (P | P << 16) ? "P-P" : "other");
	close(c);

	int l = listener(8);
	lport = port_of(l);
	c = ranged(P, P);
	chk("connect", connect(c, (struct sockaddr *)&addr, sizeof addr));
	printf("  from P: %s\n", port_of(c) == P ? "yes" : "no");
	int s = accept(l, NULL, NULL);
	close(c);
	close(s);
	show_proc("client closed first", P);
	c = ranged(P, P);
	chk("connect again at once", connect(c, (struct sockaddr *)&addr, sizeof addr));
	close(c);
	int b = ranged(P, P);
	struct sockaddr_in a = {0};
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	chk("bind port 0", bind(b, (struct sockaddr *)&a, sizeof a));
	close(b);

	/* Another server: not the TIME_WAIT's 4-tuple. */
	struct sockaddr_in first = addr;
	int l2 = listener(8);
	c = ranged(P, P);
	chk("connect to another server", connect(c, (struct sockaddr *)&addr, sizeof addr));
	s = accept(l2, NULL, NULL);
	close(s);
	close(c);
	close(l2);
	addr = first;

	struct timespec ts = {1, 500000000};
	nanosleep(&ts, NULL);
	c = ranged(P, P);
	chk("connect after 1.5 s", connect(c, (struct sockaddr *)&addr, sizeof addr));
	printf("  from P: %s\n", port_of(c) == P ? "yes" : "no");
	s = accept(l, NULL, NULL);
	show_proc("connected again", P);
	close(s);
	close(c);
	close(l);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	signal(SIGPIPE, SIG_IGN);
	for (int i = 1; i < argc; i++) {
		const char *s = argv[i];
		printf("== %s\n", s);
		if (!strcmp(s, "info"))
			sec_info();
		else if (!strcmp(s, "simclose"))
			sec_simclose();
		else if (!strcmp(s, "lstop"))
			sec_lstop();
		else if (!strcmp(s, "twreuse"))
			sec_twreuse();
		else if (!strcmp(s, "twephem"))
			sec_twephem();
		else
			printf("unknown section\n");
	}
	return 0;
}
