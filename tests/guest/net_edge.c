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
 *   timewait  TIME_WAIT after an active close: /proc/net/tcp and bind
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

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "procraw"))
			sec_procraw();
		else if (!strcmp(argv[i], "creds"))
			sec_creds();
		else {
			fprintf(stderr, "usage: net_edge procraw|creds|oob_tcp|oob_unix|timewait...\n");
			return 2;
		}
	}
	return 0;
}
