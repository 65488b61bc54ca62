/* net: socket benchmarks over AF_UNIX stream sockets and TCP on 127.0.0.1.
 * usage: net BUDGET_MS MODE, MODE one of
 *   unix_tput, tcp_tput  1 GiB through one connection, 64 KiB writes; prints
 *                        "ns/op" per MiB moved (lower is faster);
 *   unix_rr, tcp_rr      1-byte request and response: "ns/op" per round trip;
 *   unix_conn, tcp_conn  connect + accept + one byte + close: "ns/op" per
 *                        connection.
 * A forked child is the peer. TCP needs 127.0.0.1: natively, run it in a
 * network namespace whose lo is up (this machine's lo has no address). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include "bench.h"

static int tcp;
static struct sockaddr_storage addr;
static socklen_t addrlen;
static int lfd;

static int new_socket(void)
{
	int s = socket(tcp ? AF_INET : AF_UNIX, SOCK_STREAM, 0);
	if (s < 0)
		bench_die("socket");
	if (tcp) {
		int one = 1;
		setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	}
	return s;
}

static void listen_any(void)
{
	lfd = new_socket();
	memset(&addr, 0, sizeof addr);
	if (tcp) {
		struct sockaddr_in *a = (struct sockaddr_in *)&addr;
		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		addrlen = sizeof *a;
	} else {
		struct sockaddr_un *a = (struct sockaddr_un *)&addr;
		a->sun_family = AF_UNIX;
		/* Abstract: no file to clean up. */
		snprintf(a->sun_path + 1, sizeof a->sun_path - 1, "umbra-bench-%d", (int)getpid());
		addrlen = offsetof(struct sockaddr_un, sun_path) + 1 + strlen(a->sun_path + 1);
	}
	if (bind(lfd, (struct sockaddr *)&addr, addrlen) != 0)
		bench_die("bind");
	if (listen(lfd, 128) != 0)
		bench_die("listen");
	if (getsockname(lfd, (struct sockaddr *)&addr, &addrlen) != 0)
		bench_die("getsockname");
}

static int dial(void)
{
	int s = new_socket();
	if (connect(s, (struct sockaddr *)&addr, addrlen) != 0)
		bench_die("connect");
	return s;
}

static void read_full(int fd, char *b, size_t n)
{
	while (n > 0) {
		ssize_t r = read(fd, b, n);
		if (r <= 0)
			bench_die("read");
		b += r;
		n -= (size_t)r;
	}
}

static void write_full(int fd, const char *b, size_t n)
{
	while (n > 0) {
		ssize_t r = write(fd, b, n);
		if (r <= 0)
			bench_die("write");
		b += r;
		n -= (size_t)r;
	}
}

#define CHUNK (64 << 10)
#define TOTAL_MIB 1024
static char buf[CHUNK];

/* The peer of tput: reads everything, then answers one byte. */
static void sink(void)
{
	int c = accept(lfd, NULL, NULL);
	if (c < 0)
		_exit(1);
	long long got = 0;
	for (;;) {
		ssize_t r = read(c, buf, sizeof buf);
		if (r < 0)
			_exit(1);
		if (r == 0)
			break;
		got += r;
	}
	if (got != (long long)TOTAL_MIB << 20)
		_exit(2);
	_exit(write(c, "k", 1) == 1 ? 0 : 3);
}

static double tput(void)
{
	int s = dial();
	memset(buf, 'x', sizeof buf);
	double t0 = bench_now_ns();
	for (long i = 0; i < (long)TOTAL_MIB * ((1 << 20) / CHUNK); i++)
		write_full(s, buf, CHUNK);
	shutdown(s, SHUT_WR);
	char k;
	read_full(s, &k, 1);
	double t1 = bench_now_ns();
	close(s);
	return (t1 - t0) / TOTAL_MIB;
}

/* The peer of rr: echoes each byte. */
static void echo(void)
{
	int c = accept(lfd, NULL, NULL);
	if (c < 0)
		_exit(1);
	char b;
	while (read(c, &b, 1) == 1)
		if (write(c, &b, 1) != 1)
			_exit(1);
	_exit(0);
}

static int rr_fd;

static void rr_body(void *arg, long n)
{
	(void)arg;
	char b = 'x';
	for (long i = 0; i < n; i++) {
		write_full(rr_fd, &b, 1);
		read_full(rr_fd, &b, 1);
	}
}

/* The peer of conn: accepts and closes until it is killed. */
static void acceptor(void)
{
	for (;;) {
		int c = accept(lfd, NULL, NULL);
		if (c < 0)
			_exit(0);
		/* One byte per connection: the client waits for it, so the
		 * backlog never fills (a full one makes Linux drop SYNs and
		 * retry after a second). */
		if (write(c, "a", 1) != 1)
			_exit(1);
		close(c);
	}
}

static void conn_body(void *arg, long n)
{
	(void)arg;
	for (long i = 0; i < n; i++) {
		int s = dial();
		char b;
		read_full(s, &b, 1);
		close(s);
	}
}

int main(int argc, char **argv)
{
	long budget = bench_budget_ms(argc, argv);
	const char *mode = argc > 2 ? argv[2] : "unix_rr";
	tcp = strncmp(mode, "tcp", 3) == 0;
	const char *op = strchr(mode, '_');
	if (!op) {
		fprintf(stderr, "error: bad mode %s\n", mode);
		return 1;
	}
	op++;
	signal(SIGPIPE, SIG_IGN);
	listen_any();
	pid_t pid = fork();
	if (pid < 0)
		bench_die("fork");
	if (pid == 0) {
		if (!strcmp(op, "tput"))
			sink();
		else if (!strcmp(op, "rr"))
			echo();
		else
			acceptor();
	}
	double ns;
	if (!strcmp(op, "tput")) {
		ns = tput();
	} else if (!strcmp(op, "rr")) {
		rr_fd = dial();
		ns = bench_loop(budget, rr_body, NULL);
		close(rr_fd);
	} else if (!strcmp(op, "conn")) {
		ns = bench_loop(budget, conn_body, NULL);
		shutdown(lfd, SHUT_RDWR);
	} else {
		fprintf(stderr, "error: bad mode %s\n", mode);
		kill(pid, SIGKILL);
		return 1;
	}
	close(lfd);
	int st;
	if (strcmp(op, "conn") == 0)
		kill(pid, SIGTERM);
	if (waitpid(pid, &st, 0) != pid) {
		fprintf(stderr, "error: waitpid\n");
		return 1;
	}
	if (strcmp(op, "conn") != 0 && (!WIFEXITED(st) || WEXITSTATUS(st) != 0)) {
		fprintf(stderr, "error: peer failed (%d)\n", st);
		return 1;
	}
	printf("ns/op %.1f\n", ns);
	return 0;
}
