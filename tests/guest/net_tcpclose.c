/* TCP loopback: connect after a connection ended, and the orders in which
 * two ends close (issue 12; tests/e2e_nettcp.rs), run natively in a fresh
 * network namespace (lo up) and under umbra, as root:
 *
 *   reconnect  connect(2) on a socket whose connection went through
 *              TIME_WAIT or was closed by the peer: EISCONN, as Linux keeps
 *              the socket "connected" (SS_CONNECTED) until connect with
 *              AF_UNSPEC disconnects it; after that it connects again, and
 *              an AF_UNSPEC on a live connection resets the peer
 *   names      getsockname through TIME_WAIT and connect(AF_UNSPEC): the
 *              address goes and the port is given back (a new connect
 *              takes another) unless bind(2) chose them
 *   listenstop connect(AF_UNSPEC) on a listener stops it: queued connections
 *              are reset, connects refused, listen(2) starts it again
 *   portlock   connect(AF_UNSPEC) gives back a port bind(2) picked (port 0),
 *              TCP and UDP, and keeps one bind(2) was given
 *   close1     both ends SHUT_WR, then close: the first one is in TIME_WAIT
 *   close2     the server closes first, then the client
 *   close3     both SHUT_RDWR, server first
 *   close4     the server closes with data unread: a reset, no TIME_WAIT
 *
 * /proc/net/tcp is printed once no socket is in a passing state
 * (FIN_WAIT1, FIN_WAIT2 of a closed socket, LAST_ACK, CLOSING), waited for
 * by polling, so a loaded machine does not change the output.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

static unsigned lport;
static struct sockaddr_in addr;

static const char *ename(int e)
{
	switch (e) {
	case EISCONN: return "EISCONN";
	case ENOTCONN: return "ENOTCONN";
	case ECONNRESET: return "ECONNRESET";
	case EPIPE: return "EPIPE";
	case EAGAIN: return "EAGAIN";
	case EALREADY: return "EALREADY";
	case EINPROGRESS: return "EINPROGRESS";
	case EADDRINUSE: return "EADDRINUSE";
	case ECONNREFUSED: return "ECONNREFUSED";
	default: return errname(e);
	}
}

#define R(what, x)                                                                 \
	do {                                                                       \
		long r_ = (x);                                                     \
		if (r_ < 0)                                                        \
			printf("%s: -1 %s\n", what, ename(errno));                 \
		else                                                               \
			printf("%s: %ld\n", what, r_);                             \
	} while (0)

static int passing(int st)
{
	return st == 0x04 || st == 0x05 || st == 0x09 || st == 0x0B;
}

static int cmp_line(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* Prints the guest's TCP sockets (ports by role), once settled. */
static void show(const char *what)
{
	char lines[16][80];
	int n = 0;
	for (int tries = 0; tries < 5000; tries++) {
		FILE *f = fopen("/proc/net/tcp", "r");
		if (!f) {
			printf("/proc/net/tcp: %s\n", ename(errno));
			return;
		}
		char line[512];
		int busy = 0;
		n = 0;
		fgets(line, sizeof line, f);
		while (fgets(line, sizeof line, f)) {
			unsigned la, lp, ra, rp, st;
			if (sscanf(line, "%*d: %x:%x %x:%x %x", &la, &lp, &ra, &rp, &st) != 5)
				continue;
			busy |= passing((int)st);
			if (n < 16)
				snprintf(lines[n++], sizeof lines[0], "  %s -> %s state %02X",
					 lp == lport ? "server" : "client",
					 rp == lport ? "server" : (rp ? "client" : "*"), st);
		}
		fclose(f);
		if (!busy)
			break;
		struct timespec ms = {0, 1000000};
		nanosleep(&ms, NULL);
	}
	/* Linux lists them by hash bucket: sorted, the order is the same. */
	qsort(lines, (size_t)n, sizeof lines[0], cmp_line);
	printf("%s:\n", what);
	for (int i = 0; i < n; i++)
		printf("%s\n", lines[i]);
}

/* Waits for the peer's end of stream (or reset) and prints the read. */
static void peer_gone(const char *what, int s)
{
	char b;
	struct pollfd p = {s, POLLIN, 0};
	poll(&p, 1, 10000);
	R(what, read(s, &b, 1));
}

static int listener(void)
{
	int l = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	addr.sin_port = 0;
	socklen_t al = sizeof addr;
	if (bind(l, (struct sockaddr *)&addr, al) || listen(l, 8) ||
	    getsockname(l, (struct sockaddr *)&addr, &al)) {
		printf("listener: %s\n", ename(errno));
		exit(1);
	}
	lport = ntohs(addr.sin_port);
	return l;
}

static int dial(int s)
{
	return connect(s, (struct sockaddr *)&addr, sizeof addr);
}

static int unspec(int s)
{
	struct sockaddr u = {.sa_family = AF_UNSPEC};
	return connect(s, &u, sizeof u);
}

static void sec_reconnect(void)
{
	int l = listener();
	int s = socket(AF_INET, SOCK_STREAM, 0);
	R("connect", dial(s));
	int c = accept(l, NULL, NULL);
	R("connect again while connected", dial(s));
	R("shutdown client SHUT_WR", shutdown(s, SHUT_WR));
	peer_gone("server reads", c);
	R("close server", close(c));
	peer_gone("client reads", s);
	show("client in TIME_WAIT, its socket open");
	R("connect after TIME_WAIT", dial(s));
	R("send", send(s, "x", 1, MSG_NOSIGNAL));
	R("connect AF_UNSPEC", unspec(s));
	R("connect after AF_UNSPEC", dial(s));
	c = accept(l, NULL, NULL);
	R("accepted", c >= 0 ? 0 : -1);
	R("send", send(s, "y", 1, 0));
	char b;
	R("server reads", read(c, &b, 1));
	R("connect AF_UNSPEC on a live connection", unspec(s));
	peer_gone("server reads", c);
	R("server sends", send(c, "z", 1, MSG_NOSIGNAL));
	close(c);
	show("after the reset");
	R("connect once more", dial(s));
	c = accept(l, NULL, NULL);
	R("close server", close(c));
	peer_gone("client reads", s);
	R("shutdown client SHUT_WR", shutdown(s, SHUT_WR));
	show("client closed second, socket open");
	R("connect after a passive close", dial(s));
	R("connect AF_UNSPEC", unspec(s));
	R("connect AF_UNSPEC again", unspec(s));
	R("getpeername", getpeername(s, (struct sockaddr *)&(struct sockaddr_in){0},
				    &(socklen_t){sizeof(struct sockaddr_in)}));
	R("connect", dial(s));
	c = accept(l, NULL, NULL);
	close(s);
	close(c);
	close(l);
	show("all closed");
}

static unsigned first_port;

static void name(const char *what, int s)
{
	struct sockaddr_in x;
	socklen_t l = sizeof x;
	int r = getsockname(s, (struct sockaddr *)&x, &l);
	unsigned p = ntohs(x.sin_port);
	printf("%s: %d %s port %s\n", what, r, inet_ntoa(x.sin_addr),
	       p == 0 ? "0" : p == first_port ? "the first" : p == lport ? "the server's" : "another");
}

static void sec_names(void)
{
	int l = listener();
	int s = socket(AF_INET, SOCK_STREAM, 0);
	dial(s);
	struct sockaddr_in x;
	socklen_t xl = sizeof x;
	getsockname(s, (struct sockaddr *)&x, &xl);
	first_port = ntohs(x.sin_port);
	int c = accept(l, NULL, NULL);
	name("connected", s);
	shutdown(s, SHUT_WR);
	peer_gone("server reads", c);
	name("FIN_WAIT2", s);
	close(c);
	peer_gone("client reads", s);
	name("TIME_WAIT", s);
	R("connect AF_UNSPEC", unspec(s));
	name("after AF_UNSPEC", s);
	R("connect", dial(s));
	name("connected again", s);
	c = accept(l, NULL, NULL);
	close(c);
	peer_gone("client reads", s);
	shutdown(s, SHUT_WR);
	name("after LAST_ACK", s);
	R("bind after the connection", bind(s, (struct sockaddr *)&x, sizeof x));
	R("connect AF_UNSPEC", unspec(s));
	struct sockaddr_in any = {.sin_family = AF_INET};
	R("bind after AF_UNSPEC", bind(s, (struct sockaddr *)&any, sizeof any));
	name("bound", s);
	close(s);
	/* Bound to an address and a port: both stay. */
	int b = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in ba = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	bind(b, (struct sockaddr *)&ba, sizeof ba);
	xl = sizeof x;
	getsockname(b, (struct sockaddr *)&x, &xl);
	first_port = ntohs(x.sin_port);
	dial(b);
	c = accept(l, NULL, NULL);
	R("connect AF_UNSPEC on a live connection", unspec(b));
	name("bound: after AF_UNSPEC", b);
	peer_gone("server reads", c);
	close(c);
	close(b);
	close(l);
	show("all closed");
}

static void sec_close(int how)
{
	int l = listener();
	int s = socket(AF_INET, SOCK_STREAM, 0);
	dial(s);
	int c = accept(l, NULL, NULL);
	switch (how) {
	case 1:
		R("shutdown client SHUT_WR", shutdown(s, SHUT_WR));
		R("shutdown server SHUT_WR", shutdown(c, SHUT_WR));
		peer_gone("client reads", s);
		peer_gone("server reads", c);
		show("both shut, sockets open");
		close(s);
		close(c);
		show("then closed");
		break;
	case 2:
		R("close server", close(c));
		R("close client", close(s));
		show("server closed first, then the client");
		break;
	case 3:
		R("shutdown server SHUT_RDWR", shutdown(c, SHUT_RDWR));
		R("shutdown client SHUT_RDWR", shutdown(s, SHUT_RDWR));
		show("both SHUT_RDWR, server first");
		close(s);
		close(c);
		show("then closed");
		break;
	case 4:
		R("client sends", write(s, "x", 1));
		peer_gone("server sees data", c);
		R("client sends", write(s, "x", 1));
		R("close server with data unread", close(c));
		peer_gone("client reads", s);
		show("after the reset");
		close(s);
		break;
	}
	close(l);
	show("listener closed");
}

static int acceptconn(int s)
{
	int v = -1;
	socklen_t l = sizeof v;
	if (getsockopt(s, SOL_SOCKET, SO_ACCEPTCONN, &v, &l))
		return -1;
	return v;
}

/* connect(AF_UNSPEC) on a listener stops it (tcp_disconnect's
 * inet_csk_listen_stop): the queued connections are reset, connects are
 * refused, and listen(2) starts it again. The port is named, so it stays. */
static void sec_listenstop(void)
{
	int l = listener();
	close(l);
	show("the first listener closed");
	l = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	R("bind the port", bind(l, (struct sockaddr *)&addr, sizeof addr));
	R("listen", listen(l, 8));
	int s = socket(AF_INET, SOCK_STREAM, 0);
	R("connect", dial(s));
	show("one connection queued");
	R("connect AF_UNSPEC on the listener", unspec(l));
	R("SO_ACCEPTCONN", acceptconn(l));
	name("listener", l);
	peer_gone("queued client reads", s);
	close(s);
	show("listener stopped");
	R("accept", accept(l, NULL, NULL));
	s = socket(AF_INET, SOCK_STREAM, 0);
	R("connect to the stopped listener", dial(s));
	close(s);
	R("connect AF_UNSPEC again", unspec(l));
	R("listen again", listen(l, 8));
	R("SO_ACCEPTCONN", acceptconn(l));
	name("listener", l);
	s = socket(AF_INET, SOCK_STREAM, 0);
	R("connect", dial(s));
	int c = accept(l, NULL, NULL);
	R("accepted", c >= 0 ? 0 : -1);
	R("client sends", send(s, "x", 1, 0));
	char b;
	R("server reads", read(c, &b, 1));
	close(c);
	close(s);
	close(l);
	show("all closed");
}

static void udp_name(const char *what, int s, unsigned named)
{
	struct sockaddr_in x;
	socklen_t l = sizeof x;
	int r = getsockname(s, (struct sockaddr *)&x, &l);
	unsigned p = ntohs(x.sin_port);
	printf("%s: %d %s port %s\n", what, r, inet_ntoa(x.sin_addr),
	       p == 0 ? "0" : p == named ? "the bound one" : "another");
}

/* bind(2) with port 0 does not lock the port it picks (SOCK_BINDPORT_LOCK
 * is for a named port): connect(AF_UNSPEC) gives it back, for TCP
 * (tcp_set_state(TCP_CLOSE)) and UDP (__udp_disconnect), while a named port
 * stays. An address named in bind(2) stays either way. */
static void sec_portlock(void)
{
	int l = listener();
	for (int named = 0; named < 2; named++) {
		for (int loop = 0; loop < 2; loop++) {
			printf("-- TCP, bound to %s:%s\n", loop ? "127.0.0.1" : "0.0.0.0",
			       named ? "a named port" : "0");
			int s = socket(AF_INET, SOCK_STREAM, 0);
			struct sockaddr_in b = {.sin_family = AF_INET};
			if (loop)
				b.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			if (named)
				b.sin_port = htons(lport == 40000 ? 40001 : 40000);
			R("bind", bind(s, (struct sockaddr *)&b, sizeof b));
			struct sockaddr_in x;
			socklen_t xl = sizeof x;
			getsockname(s, (struct sockaddr *)&x, &xl);
			first_port = ntohs(x.sin_port);
			R("connect", dial(s));
			int c = accept(l, NULL, NULL);
			name("connected", s);
			R("connect AF_UNSPEC", unspec(s));
			name("after AF_UNSPEC", s);
			peer_gone("server reads", c);
			close(c);
			struct sockaddr_in any = {.sin_family = AF_INET};
			R("bind again", bind(s, (struct sockaddr *)&any, sizeof any));
			close(s);
		}
	}
	for (int named = 0; named < 2; named++) {
		for (int loop = 0; loop < 2; loop++) {
			printf("-- UDP, bound to %s:%s\n", loop ? "127.0.0.1" : "0.0.0.0",
			       named ? "a named port" : "0");
			int u = socket(AF_INET, SOCK_DGRAM, 0);
			struct sockaddr_in b = {.sin_family = AF_INET};
			if (loop)
				b.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			if (named)
				b.sin_port = htons(40002);
			R("bind", bind(u, (struct sockaddr *)&b, sizeof b));
			struct sockaddr_in x;
			socklen_t xl = sizeof x;
			getsockname(u, (struct sockaddr *)&x, &xl);
			unsigned bound = ntohs(x.sin_port);
			R("connect", connect(u, (struct sockaddr *)&addr, sizeof addr));
			udp_name("connected", u, bound);
			R("connect AF_UNSPEC", unspec(u));
			udp_name("after AF_UNSPEC", u, bound);
			struct sockaddr_in any = {.sin_family = AF_INET};
			R("bind again", bind(u, (struct sockaddr *)&any, sizeof any));
			close(u);
		}
	}
	close(l);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	for (int i = 1; i < argc; i++) {
		printf("== %s\n", argv[i]);
		if (!strcmp(argv[i], "reconnect"))
			sec_reconnect();
		else if (!strcmp(argv[i], "names"))
			sec_names();
		else if (!strcmp(argv[i], "listenstop"))
			sec_listenstop();
		else if (!strcmp(argv[i], "portlock"))
			sec_portlock();
		else if (!strncmp(argv[i], "close", 5) && argv[i][5] >= '1' && argv[i][5] <= '4')
			sec_close(argv[i][5] - '0');
		else {
			fprintf(stderr, "usage: net_tcpclose reconnect|names|listenstop|portlock|close1..close4...\n");
			return 2;
		}
	}
	return 0;
}
