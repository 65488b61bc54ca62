/* pipes2: pipe behaviours of issue 10. One write() larger than the pipe
 * while a child drains it; readv filling every iovec; F_GETPIPE_SZ and
 * F_SETPIPE_SZ (rounding, EBUSY, capacity that follows the size, the
 * pipe-max-size limit); poll's POLLRDNORM/POLLWRNORM; select's remaining
 * timeout. Prints counts and errno names only. Arguments name the sections
 * to run (all when none). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>
#include "common.h"

static const char *en(int e)
{
	switch (e) {
	case EAGAIN: return "EAGAIN";
	case EPIPE: return "EPIPE";
	case EINTR: return "EINTR";
	case EBUSY: return "EBUSY";
	default: return errname(e);
	}
}

static long chk(const char *what, long r)
{
	if (r < 0)
		printf("%s: -1 %s\n", what, en(errno));
	else
		printf("%s: %ld\n", what, r);
	fflush(stdout);
	return r;
}

static int reap(pid_t pid)
{
	int st = -1;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return st;
}

/* A child that reads the pipe to end of file in small reads, checks the
 * pattern and prints how much came. */
static pid_t drainer(int p[2])
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		close(p[1]);
		static char buf[3000];
		long total = 0, bad = 0;
		ssize_t n;
		while ((n = read(p[0], buf, sizeof buf)) != 0) {
			if (n < 0) {
				if (errno == EINTR)
					continue;
				printf("drain: read -1 %s\n", en(errno));
				break;
			}
			for (ssize_t i = 0; i < n; i++)
				if (buf[i] != (char)((total + i) % 251))
					bad++;
			total += n;
		}
		printf("drained: %ld bytes, %ld wrong\n", total, bad);
		fflush(stdout);
		_exit(0);
	}
	return pid;
}

/* write() of more than the pipe holds blocks until all of it is written */
static void big_write(long size)
{
	int p[2];
	if (pipe(p) < 0)
		return;
	char *buf = malloc(size);
	for (long i = 0; i < size; i++)
		buf[i] = (char)(i % 251);
	pid_t pid = drainer(p);
	close(p[0]);
	char what[64];
	snprintf(what, sizeof what, "write(%ld)", size);
	chk(what, write(p[1], buf, size));
	close(p[1]);
	int st = reap(pid);
	printf("drainer: %s\n", WIFEXITED(st) && WEXITSTATUS(st) == 0 ? "ok" : "failed");
	free(buf);
}

static void test_bigwrite(void)
{
	big_write(131073);
	big_write(200000);
	big_write(1 << 20);
}

static void test_readv(void)
{
	int p[2];
	if (pipe(p) < 0)
		return;
	chk("write 10", write(p[1], "0123456789", 10));
	char a[4] = {0}, b[4] = {0}, c[4] = {0};
	struct iovec iov[3] = {{a, 4}, {b, 4}, {c, 4}};
	chk("readv 4+4+4", readv(p[0], iov, 3));
	printf("iovecs: %.4s %.4s %.2s\n", a, b, c);
	/* the reverse: one writev of three pieces arrives whole */
	struct iovec w[3] = {{"ab", 2}, {"cd", 2}, {"ef", 2}};
	chk("writev 2+2+2", writev(p[1], w, 3));
	char d[16] = {0};
	chk("read", read(p[0], d, sizeof d));
	printf("got: %s\n", d);
	close(p[0]);
	close(p[1]);
}

/* fills a non-blocking pipe with 1-byte writes; how many fit */
static long fill(int fd)
{
	long total = 0;
	static char buf[4096];
	for (;;) {
		ssize_t n = write(fd, buf, sizeof buf);
		if (n < 0)
			break;
		total += n;
	}
	return total;
}

static void test_pipesz(void)
{
	int p[2];
	if (pipe2(p, O_NONBLOCK) < 0)
		return;
	chk("F_GETPIPE_SZ", fcntl(p[0], F_GETPIPE_SZ));
	chk("F_SETPIPE_SZ 0", fcntl(p[1], F_SETPIPE_SZ, 0));
	chk("F_GETPIPE_SZ", fcntl(p[1], F_GETPIPE_SZ));
	printf("holds: %ld\n", fill(p[1]));
	chk("F_SETPIPE_SZ 5000", fcntl(p[0], F_SETPIPE_SZ, 5000));
	chk("F_GETPIPE_SZ", fcntl(p[0], F_GETPIPE_SZ));
	static char sink[1 << 21];
	chk("drain", read(p[0], sink, sizeof sink));
	chk("F_SETPIPE_SZ 100000", fcntl(p[0], F_SETPIPE_SZ, 100000));
	printf("holds: %ld\n", fill(p[1]));
	/* more data than the new size holds: refused */
	chk("F_SETPIPE_SZ 4096 when full", fcntl(p[0], F_SETPIPE_SZ, 4096));
	chk("F_GETPIPE_SZ", fcntl(p[0], F_GETPIPE_SZ));
	chk("drain", read(p[0], sink, sizeof sink));
	chk("F_SETPIPE_SZ 1M", fcntl(p[1], F_SETPIPE_SZ, 1 << 20));
	printf("holds: %ld\n", fill(p[1]));
	chk("drain", read(p[0], sink, sizeof sink));
	chk("F_SETPIPE_SZ 2^31+1", fcntl(p[1], F_SETPIPE_SZ, (1u << 31) + 1));
	chk("F_SETPIPE_SZ 65536", fcntl(p[1], F_SETPIPE_SZ, 65536));
	int fd = open("/dev/null", O_RDONLY);
	chk("F_GETPIPE_SZ on /dev/null", fcntl(fd, F_GETPIPE_SZ));
	chk("F_SETPIPE_SZ on /dev/null", fcntl(fd, F_SETPIPE_SZ, 4096));
	close(fd);
	close(p[0]);
	close(p[1]);
}

/* a user that is not root stays within pipe-max-size */
static void test_pipesz_user(void)
{
	int p[2];
	if (pipe2(p, O_NONBLOCK) < 0)
		return;
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		if (setuid(65534) < 0) {
			printf("setuid: -1 %s\n", en(errno));
			_exit(1);
		}
		chk("F_SETPIPE_SZ 2M as nobody", fcntl(p[1], F_SETPIPE_SZ, 2 << 20));
		chk("F_SETPIPE_SZ 1M as nobody", fcntl(p[1], F_SETPIPE_SZ, 1 << 20));
		_exit(0);
	}
	reap(pid);
	close(p[0]);
	close(p[1]);
}

static void show_revents(const char *what, short ev)
{
	printf("%s:%s%s%s%s%s%s\n", what, ev & POLLIN ? " IN" : "",
	       ev & POLLRDNORM ? " RDNORM" : "", ev & POLLOUT ? " OUT" : "",
	       ev & POLLWRNORM ? " WRNORM" : "", ev & POLLHUP ? " HUP" : "",
	       ev & POLLERR ? " ERR" : "");
}

static void test_pollnorm(void)
{
	int p[2];
	if (pipe(p) < 0)
		return;
	struct pollfd f[2] = {{p[0], POLLRDNORM, 0}, {p[1], POLLWRNORM, 0}};
	chk("poll RDNORM/WRNORM, empty", poll(f, 2, 5000));
	show_revents("read end", f[0].revents);
	show_revents("write end", f[1].revents);
	chk("write", write(p[1], "x", 1));
	f[0].events = POLLRDNORM | POLLIN;
	f[1].events = POLLWRNORM | POLLOUT;
	chk("poll both, one byte", poll(f, 2, 5000));
	show_revents("read end", f[0].revents);
	show_revents("write end", f[1].revents);
	/* POLLWRNORM alone on the write end must return at once */
	struct pollfd w = {p[1], POLLWRNORM, 0};
	chk("poll WRNORM alone", poll(&w, 1, -1));
	show_revents("write end", w.revents);
	close(p[1]);
	struct pollfd r = {p[0], POLLRDNORM, 0};
	chk("poll RDNORM after close", poll(&r, 1, 5000));
	show_revents("read end", r.revents);
	close(p[0]);
}

/* select(2) as the kernel serves it (the C libraries differ: musl passes a
 * copy of the timeout), with the kernel's old timeval of two longs */
static long raw_select(int n, fd_set *rd, long tv[2])
{
#ifdef SYS_select
	return syscall(SYS_select, n, rd, NULL, NULL, tv);
#else
	(void)n;
	(void)rd;
	(void)tv;
	errno = ENOSYS;
	return -1;
#endif
}

static void on_alarm(int sig)
{
	(void)sig;
}

static void test_select_timeout(void)
{
	int p[2];
	if (pipe(p) < 0)
		return;
#ifndef SYS_select
	printf("no select syscall on this arch\n");
	return;
#endif
	fd_set rd;
	FD_ZERO(&rd);
	FD_SET(p[0], &rd);
	/* a long timeout and a ready descriptor: select returns at once and
	 * leaves most of the timeout in tv (Linux writes it back) */
	chk("write", write(p[1], "x", 1));
	long tv[2] = {100, 0};
	chk("select ready", raw_select(p[0] + 1, &rd, tv));
	printf("tv left is under 100 s and over 50 s: %s\n",
	       tv[0] < 100 && tv[0] > 50 ? "yes" : "no");
	/* a short timeout that expires: tv is zero */
	char c;
	chk("read", read(p[0], &c, 1));
	FD_ZERO(&rd);
	FD_SET(p[0], &rd);
	tv[0] = 0;
	tv[1] = 20000;
	chk("select timeout", raw_select(p[0] + 1, &rd, tv));
	printf("tv after expiry: %ld.%06ld\n", tv[0], tv[1]);
	/* a signal ends the wait: the time left is written back too */
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval it = {{0, 0}, {0, 200000}};
	setitimer(ITIMER_REAL, &it, NULL);
	FD_ZERO(&rd);
	FD_SET(p[0], &rd);
	tv[0] = 10;
	tv[1] = 0;
	chk("select interrupted", raw_select(p[0] + 1, &rd, tv));
	printf("tv left is under 10 s and over 5 s: %s\n",
	       tv[0] < 10 && tv[0] >= 5 ? "yes" : "no");
	signal(SIGALRM, SIG_DFL);
	/* pselect6 leaves its timespec alone */
	FD_ZERO(&rd);
	FD_SET(p[0], &rd);
	struct timespec ts = {0, 20000000};
	chk("pselect timeout", pselect(p[0] + 1, &rd, NULL, NULL, &ts, NULL));
	printf("ts after pselect: %ld.%09ld\n", (long)ts.tv_sec, ts.tv_nsec);
	close(p[0]);
	close(p[1]);
}

static const struct {
	const char *name;
	void (*fn)(void);
} sections[] = {
	{"bigwrite", test_bigwrite},
	{"readv", test_readv},
	{"pipesz", test_pipesz},
	{"pipesz_user", test_pipesz_user},
	{"pollnorm", test_pollnorm},
	{"select", test_select_timeout},
};

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++) {
		int run = argc < 2;
		for (int a = 1; a < argc; a++)
			if (strcmp(argv[a], sections[i].name) == 0)
				run = 1;
		if (!run)
			continue;
		printf("== %s\n", sections[i].name);
		fflush(stdout);
		sections[i].fn();
	}
	return 0;
}
