/* /proc/net/tcp, tcp6, udp, udp6 and unix for the sockets this program
 * makes (tests/e2e_procnet.rs): each file's header line verbatim (with its
 * padding), then for each socket of ours, found by its inode (fstat), the
 * fields of its line that do not depend on the run: addresses (our port as
 * P, an ephemeral one as E), state, queues, uid, the number of fields and
 * the width of a padded line (tcp, udp). Native runs are in a fresh network namespace, so the
 * files hold our sockets only; the count of lines is printed too.
 *
 *   tcp | tcp6 | udp | udp6 | unix
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static char lines[128][512];
static int nlines;

static void slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	nlines = 0;
	if (!f) {
		printf("%s: cannot open\n", path);
		exit(1);
	}
	while (nlines < 128 && fgets(lines[nlines], sizeof lines[0], f)) {
		lines[nlines][strcspn(lines[nlines], "\n")] = 0;
		nlines++;
	}
	fclose(f);
	printf("%s header [%s]\n", path, lines[0]);
	printf("sockets listed: %d\n", nlines - 1);
}

static unsigned long ino_of(int fd)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return 0;
	return st.st_ino;
}

static int fields(const char *l)
{
	int n = 0, in = 0;
	for (; *l; l++) {
		if (*l == ' ')
			in = 0;
		else if (!in) {
			in = 1;
			n++;
		}
	}
	return n;
}

static const char *portname(unsigned p, unsigned ours)
{
	if (p == 0)
		return "0";
	return p == ours ? "P" : "E";
}

/* Finds the line of inode `ino` in the slurped inet file and prints it. */
static void inet_line(const char *name, unsigned long ino, unsigned port, int udp)
{
	for (int i = 1; i < nlines; i++) {
		char la[40], ra[40];
		unsigned lp, rp, st, tx, rx, tr, retr, uid;
		unsigned long when, inode;
		int timeout;
		const char *l = strchr(lines[i], ':');
		if (!l)
			continue;
		if (sscanf(l + 1, " %39[0-9A-F]:%X %39[0-9A-F]:%X %X %X:%X %X:%lX %X %u %d %lu", la, &lp,
			   ra, &rp, &st, &tx, &rx, &tr, &when, &retr, &uid, &timeout, &inode) != 13)
			continue;
		if (inode != ino)
			continue;
		/* Lines of tcp and udp are padded to a width; those of tcp6 and
		 * udp6 are not (their width follows the inode's digits). */
		printf("%s: local %s:%s remote %s:%s st %02X tx %X rx %s%X tr %02X retr %X uid %u "
		       "timeout %d fields %d width %zu\n",
		       name, la, portname(lp, port), ra, portname(rp, port), st, tx,
		       udp ? "(nonzero) " : "", udp ? rx != 0 : rx, tr, retr, uid, timeout,
		       fields(lines[i]), strlen(la) == 8 ? strlen(lines[i]) : 0);
		return;
	}
	printf("%s: not listed\n", name);
}

static int inet_socket(int v6, int type)
{
	int s = socket(v6 ? AF_INET6 : AF_INET, type, 0);
	if (s < 0) {
		perror("socket");
		exit(1);
	}
	return s;
}

static socklen_t lo_addr(int v6, unsigned port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof *ss);
	if (v6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		a->sin6_port = htons(port);
		return sizeof *a;
	}
	struct sockaddr_in *a = (struct sockaddr_in *)ss;
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a->sin_port = htons(port);
	return sizeof *a;
}

static unsigned port_of(int s)
{
	struct sockaddr_storage ss;
	socklen_t l = sizeof ss;
	getsockname(s, (struct sockaddr *)&ss, &l);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void sec_tcp(int v6)
{
	struct sockaddr_storage ss;
	int l = inet_socket(v6, SOCK_STREAM);
	socklen_t len = lo_addr(v6, 0, &ss);
	if (bind(l, (struct sockaddr *)&ss, len) < 0 || listen(l, 8) < 0) {
		perror("listen");
		exit(1);
	}
	unsigned port = port_of(l);
	int c = inet_socket(v6, SOCK_STREAM);
	len = lo_addr(v6, port, &ss);
	if (connect(c, (struct sockaddr *)&ss, len) < 0) {
		perror("connect");
		exit(1);
	}
	int a = accept(l, NULL, NULL);
	/* Five bytes the server has not read; then a half-closed pair. */
	if (write(c, "hello", 5) != 5)
		exit(1);
	int c2 = inet_socket(v6, SOCK_STREAM);
	if (connect(c2, (struct sockaddr *)&ss, len) < 0)
		exit(1);
	int a2 = accept(l, NULL, NULL);
	shutdown(c2, SHUT_WR);
	char b;
	if (read(a2, &b, 1) != 0)
		exit(1);
	slurp(v6 ? "/proc/net/tcp6" : "/proc/net/tcp");
	inet_line("listener", ino_of(l), port, 0);
	inet_line("client", ino_of(c), port, 0);
	inet_line("server", ino_of(a), port, 0);
	/* The half-closed pair is listed, but its FIN's ACK may still be on
	 * its way natively (FIN_WAIT1 with a timer): its line is not shown. */
	/* Bound only: not listed. */
	int bound = inet_socket(v6, SOCK_STREAM);
	len = lo_addr(v6, 0, &ss);
	bind(bound, (struct sockaddr *)&ss, len);
	slurp(v6 ? "/proc/net/tcp6" : "/proc/net/tcp");
	inet_line("bound only", ino_of(bound), port, 0);
}

static void sec_udp(int v6)
{
	struct sockaddr_storage ss;
	int r = inet_socket(v6, SOCK_DGRAM);
	socklen_t len = lo_addr(v6, 0, &ss);
	if (bind(r, (struct sockaddr *)&ss, len) < 0) {
		perror("bind");
		exit(1);
	}
	unsigned port = port_of(r);
	int c = inet_socket(v6, SOCK_DGRAM);
	len = lo_addr(v6, port, &ss);
	if (connect(c, (struct sockaddr *)&ss, len) < 0 || send(c, "hello", 5, 0) != 5) {
		perror("send");
		exit(1);
	}
	int fresh = inet_socket(v6, SOCK_DGRAM);
	slurp(v6 ? "/proc/net/udp6" : "/proc/net/udp");
	inet_line("bound", ino_of(r), port, 1);
	inet_line("connected", ino_of(c), port, 1);
	inet_line("unbound", ino_of(fresh), port, 1);
}

static void unix_line(const char *name, unsigned long ino)
{
	for (int i = 1; i < nlines; i++) {
		unsigned ref, proto, flags, type, st;
		unsigned long inode;
		int n = 0;
		const char *l = strchr(lines[i], ':');
		if (!l)
			continue;
		if (sscanf(l + 1, " %X %X %X %X %X %lu%n", &ref, &proto, &flags, &type, &st, &inode,
			   &n) != 6 ||
		    inode != ino)
			continue;
		printf("%s: num width %d protocol %08X flags %08X type %04X st %02X path [%s] "
		       "fields %d\n",
		       name, (int)(l - lines[i]), proto, flags, type, st,
		       l[1 + n] == ' ' ? l + 2 + n : "", fields(lines[i]));
		return;
	}
	printf("%s: not listed\n", name);
}

static void sec_unix(void)
{
	struct sockaddr_un a;
	memset(&a, 0, sizeof a);
	a.sun_family = AF_UNIX;
	strcpy(a.sun_path, "pn.sock");
	unlink(a.sun_path);
	int l = socket(AF_UNIX, SOCK_STREAM, 0);
	if (bind(l, (struct sockaddr *)&a, sizeof a) < 0 || listen(l, 8) < 0) {
		perror("unix listen");
		exit(1);
	}
	int c = socket(AF_UNIX, SOCK_STREAM, 0);
	if (connect(c, (struct sockaddr *)&a, sizeof a) < 0) {
		perror("unix connect");
		exit(1);
	}
	int s = accept(l, NULL, NULL);
	struct sockaddr_un b;
	memset(&b, 0, sizeof b);
	b.sun_family = AF_UNIX;
	strcpy(b.sun_path + 1, "pn-abstract");
	int d = socket(AF_UNIX, SOCK_DGRAM, 0);
	if (bind(d, (struct sockaddr *)&b, offsetof(struct sockaddr_un, sun_path) + 12) < 0) {
		perror("abstract bind");
		exit(1);
	}
	int sv[2];
	socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv);
	slurp("/proc/net/unix");
	unix_line("listener", ino_of(l));
	unix_line("client", ino_of(c));
	unix_line("accepted", ino_of(s));
	unix_line("abstract dgram", ino_of(d));
	unix_line("seqpacket pair 0", ino_of(sv[0]));
	unix_line("seqpacket pair 1", ino_of(sv[1]));
	unlink(a.sun_path);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "tcp"))
			sec_tcp(0);
		else if (!strcmp(argv[i], "tcp6"))
			sec_tcp(1);
		else if (!strcmp(argv[i], "udp"))
			sec_udp(0);
		else if (!strcmp(argv[i], "udp6"))
			sec_udp(1);
		else if (!strcmp(argv[i], "unix"))
			sec_unix();
		else {
			fprintf(stderr, "usage: proc_net tcp|tcp6|udp|udp6|unix...\n");
			return 2;
		}
	}
	return 0;
}
