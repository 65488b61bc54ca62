/* proc_poll: poll, ppoll, select and pselect6 over pipes, /dev/null and a
 * regular file: readiness, POLLHUP, POLLERR, POLLNVAL, timeouts, wakeups by
 * a child, interruption by signals and signal masks. Arguments name
 * sections (all if none). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/select.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "common.h"

static const char *en(int e)
{
	return e == EINTR ? "EINTR" : errname(e);
}

static long ms_since(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

static void show_revents(const char *what, int r, short re)
{
	printf("%s: %d", what, r);
	if (r < 0)
		printf(" %s", en(errno));
	printf(" [");
	if (re & POLLIN)
		printf(" IN");
	if (re & POLLOUT)
		printf(" OUT");
	if (re & POLLHUP)
		printf(" HUP");
	if (re & POLLERR)
		printf(" ERR");
	if (re & POLLNVAL)
		printf(" NVAL");
	if (re & POLLPRI)
		printf(" PRI");
	printf(" ]\n");
}

static void poll1(const char *what, int fd, short events, int timeout)
{
	struct pollfd p = { fd, events, 0x7777 };
	errno = 0;
	int r = poll(&p, 1, timeout);
	show_revents(what, r, p.revents);
}

static void test_poll(void)
{
	int p[2];
	if (pipe(p) < 0)
		return;
	poll1("empty pipe, POLLIN, timeout 0", p[0], POLLIN, 0);
	poll1("empty pipe write end, POLLOUT", p[1], POLLOUT, 0);
	poll1("write end, POLLIN only", p[1], POLLIN, 0);
	(void)write(p[1], "abc", 3);
	poll1("after a write, POLLIN", p[0], POLLIN | POLLOUT, 0);
	close(p[1]);
	poll1("data and writer closed", p[0], POLLIN, 0);
	char buf[8];
	(void)read(p[0], buf, sizeof buf);
	poll1("writer closed, drained", p[0], POLLIN, 0);
	poll1("writer closed, events 0", p[0], 0, 0);
	close(p[0]);
	poll1("closed fd", p[0], POLLIN, 0);
	if (pipe(p) < 0)
		return;
	close(p[0]);
	poll1("write end, reader closed", p[1], POLLOUT, 0);
	close(p[1]);
	/* a full pipe is not writable */
	if (pipe2(p, O_NONBLOCK) < 0)
		return;
	static char big[65536];
	while (write(p[1], big, sizeof big) > 0)
		;
	poll1("full pipe, POLLOUT", p[1], POLLOUT, 0);
	(void)read(p[0], big, 4096);
	poll1("full pipe after reading 4096", p[1], POLLOUT, 0);
	close(p[0]);
	close(p[1]);

	int dn = open("/dev/null", O_RDWR);
	poll1("/dev/null", dn, POLLIN | POLLOUT, 0);
	close(dn);
	int f = open("hello.txt", O_RDONLY);
	poll1("regular file", f, POLLIN | POLLOUT, 0);
	close(f);

	/* several fds at once, a negative one ignored */
	if (pipe(p) < 0)
		return;
	struct pollfd fds[4] = { { p[0], POLLIN, 0 }, { p[1], POLLOUT, 0 }, { -1, POLLIN, 0x55 },
				 { 999, POLLIN, 0 } };
	int r = poll(fds, 4, 0);
	printf("4 fds: %d revents %#x %#x %#x %#x\n", r, fds[0].revents, fds[1].revents,
	       fds[2].revents, fds[3].revents);
	r = poll(NULL, 0, 0);
	printf("poll(NULL, 0, 0): %d\n", r);

	/* timeouts */
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = poll(fds, 1, 100);
	long ms = ms_since(&t0);
	printf("timeout 100ms: %d, elapsed >= 100ms: %d, < 5s: %d\n", r, ms >= 99, ms < 5000);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = poll(NULL, 0, 50);
	printf("poll(NULL, 0, 50) sleeps: %d, elapsed >= 50ms: %d\n", r, ms_since(&t0) >= 49);

	/* a child's write wakes an infinite poll */
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		usleep(50000);
		(void)write(p[1], "x", 1);
		_exit(0);
	}
	fds[0].revents = 0;
	r = poll(fds, 1, -1);
	show_revents("woken by a child's write", r, fds[0].revents);
	waitpid(pid, NULL, 0);
	(void)read(p[0], buf, 1);
	/* and a child's exit (closing the last writer) gives POLLHUP */
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		usleep(50000);
		_exit(0);
	}
	close(p[1]);
	r = poll(fds, 1, 5000);
	show_revents("woken by the last writer's exit", r, fds[0].revents);
	waitpid(pid, NULL, 0);
	close(p[0]);
}

static void show_sets(const char *what, int r, int n, fd_set *rd, fd_set *wr)
{
	printf("%s: %d", what, r);
	if (r < 0)
		printf(" %s", en(errno));
	printf(" read:");
	for (int i = 0; rd && i < n; i++)
		if (FD_ISSET(i, rd))
			printf(" %d", i);
	printf(" write:");
	for (int i = 0; wr && i < n; i++)
		if (FD_ISSET(i, wr))
			printf(" %d", i);
	printf("\n");
}

static void test_select(void)
{
	int p[2], q[2];
	if (pipe(p) < 0 || pipe(q) < 0)
		return;
	/* fds 3,4 and 5,6 in a fresh process */
	int n = q[1] + 1;
	fd_set rd, wr;
	FD_ZERO(&rd);
	FD_ZERO(&wr);
	FD_SET(p[0], &rd);
	FD_SET(q[0], &rd);
	FD_SET(p[1], &wr);
	FD_SET(q[1], &wr);
	struct timeval tv = { 0, 0 };
	int r = select(n, &rd, &wr, NULL, &tv);
	show_sets("select, both empty", r, n, &rd, &wr);
	(void)write(q[1], "z", 1);
	FD_ZERO(&rd);
	FD_ZERO(&wr);
	FD_SET(p[0], &rd);
	FD_SET(q[0], &rd);
	r = select(n, &rd, &wr, NULL, &tv);
	show_sets("select, q has data", r, n, &rd, &wr);
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	FD_ZERO(&rd);
	FD_SET(p[0], &rd);
	tv.tv_sec = 0;
	tv.tv_usec = 100000;
	r = select(n, &rd, NULL, NULL, &tv);
	long ms = ms_since(&t0);
	show_sets("select timeout 100ms", r, n, &rd, NULL);
	/* glibc's select passes the kernel's update of the timeval on, musl's not */
	printf("elapsed >= 100ms: %d\n", ms >= 99);
	close(p[1]);
	FD_ZERO(&rd);
	FD_SET(p[0], &rd);
	r = select(n, &rd, NULL, NULL, NULL);
	show_sets("select, writer closed", r, n, &rd, NULL);
	close(p[0]);
	FD_ZERO(&rd);
	FD_SET(p[0], &rd);
	tv.tv_usec = 0;
	errno = 0;
	r = select(n, &rd, NULL, NULL, &tv);
	printf("select on a closed fd: %d %s\n", r, en(errno));
	errno = 0;
	r = select(-1, NULL, NULL, NULL, &tv);
	printf("select nfds -1: %d %s\n", r, en(errno));
	tv.tv_usec = 2000000;
	errno = 0;
	r = select(0, NULL, NULL, NULL, &tv);
	printf("select bad timeval: %d %s\n", r, en(errno));
	tv.tv_sec = 0;
	tv.tv_usec = 50000;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = select(0, NULL, NULL, NULL, &tv);
	printf("select(0) sleeps: %d, elapsed >= 50ms: %d\n", r, ms_since(&t0) >= 49);
	close(q[0]);
	close(q[1]);
}

static volatile sig_atomic_t got;

static void on_usr1(int sig)
{
	(void)sig;
	got++;
}

static void test_masks(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	sigset_t blockset, empty, old;
	sigemptyset(&blockset);
	sigaddset(&blockset, SIGUSR1);
	sigemptyset(&empty);
	sigprocmask(SIG_BLOCK, &blockset, &old);
	int p[2];
	if (pipe(p) < 0)
		return;
	pid_t parent = getpid();

	/* ppoll with a mask that lets USR1 in: EINTR, handler ran */
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		usleep(50000);
		kill(parent, SIGUSR1);
		_exit(0);
	}
	struct pollfd fd = { p[0], POLLIN, 0 };
	struct timespec ts = { 5, 0 };
	errno = 0;
	int r = ppoll(&fd, 1, &ts, &empty);
	printf("ppoll, USR1 unblocked by its mask: %d %s, handler ran %d\n", r, en(errno), (int)got);
	waitpid(pid, NULL, 0);
	sigset_t cur;
	sigprocmask(SIG_BLOCK, NULL, &cur);
	printf("mask restored: %d\n", sigismember(&cur, SIGUSR1));

	/* ppoll with USR1 still blocked: times out, USR1 stays pending */
	kill(getpid(), SIGUSR1);
	ts.tv_sec = 0;
	ts.tv_nsec = 50000000;
	r = ppoll(&fd, 1, &ts, &blockset);
	sigset_t pend;
	sigpending(&pend);
	printf("ppoll, USR1 blocked: %d, pending %d, handler ran %d\n", r,
	       sigismember(&pend, SIGUSR1), (int)got);
	/* pselect lets the pending one in at once */
	fd_set rd;
	FD_ZERO(&rd);
	FD_SET(p[0], &rd);
	ts.tv_sec = 5;
	errno = 0;
	r = pselect(p[0] + 1, &rd, NULL, NULL, &ts, &empty);
	printf("pselect, pending USR1 unblocked: %d %s, handler ran %d\n", r, en(errno), (int)got);
	sigprocmask(SIG_SETMASK, &old, NULL);

	/* poll interrupted by a SA_RESTART handler still fails with EINTR */
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		usleep(50000);
		kill(parent, SIGUSR1);
		_exit(0);
	}
	errno = 0;
	r = poll(&fd, 1, 5000);
	printf("poll interrupted, SA_RESTART: %d %s, handler ran %d\n", r, en(errno), (int)got);
	waitpid(pid, NULL, 0);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		usleep(50000);
		kill(parent, SIGUSR1);
		_exit(0);
	}
	FD_ZERO(&rd);
	FD_SET(p[0], &rd);
	struct timeval tv = { 5, 0 };
	errno = 0;
	r = select(p[0] + 1, &rd, NULL, NULL, &tv);
	printf("select interrupted, SA_RESTART: %d %s, handler ran %d\n", r, en(errno), (int)got);
	waitpid(pid, NULL, 0);
	close(p[0]);
	close(p[1]);
	signal(SIGUSR1, SIG_DFL);
}

static const struct section {
	const char *name;
	void (*fn)(void);
} sections[] = {
	{ "poll", test_poll },
	{ "select", test_select },
	{ "masks", test_masks },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (const struct section *s = sections; s->name; s++) {
		int run = argc < 2;
		for (int i = 1; i < argc; i++)
			run |= strcmp(argv[i], s->name) == 0;
		if (run) {
			printf("== %s\n", s->name);
			s->fn();
		}
	}
	printf("done\n");
	return 0;
}
