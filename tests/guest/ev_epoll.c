/* ev_epoll: epoll_create, epoll_create1, epoll_ctl, epoll_wait, epoll_pwait
 * and epoll_pwait2 over pipes, FIFOs, devices and other epoll instances:
 * level- and edge-triggered, EPOLLONESHOT, EPOLLEXCLUSIVE, EPOLLRDHUP,
 * nesting and its limits, closing registered fds, ready-list order, waits
 * woken by other processes, timeouts, signals and signal masks, and the
 * errors Linux gives. Arguments name sections (all if none).
 *
 * Several ready events are printed sorted by their data, except in the
 * sections that check the ready-list order itself. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <mqueue.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/timerfd.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include "common.h"

#ifndef SYS_epoll_pwait2
#define SYS_epoll_pwait2 441
#endif

/* Per process: the musl and glibc builds run natively at the same time, in
 * the host's /tmp. Set in main. */
static char tmp_fifo[64], tmp_fifo2[64], tmp_dir[64];

static const char *en(int e)
{
	return e == EINTR ? "EINTR" : errname(e);
}

static void pr(const char *what, long r)
{
	if (r < 0)
		printf("%s: -1 %s\n", what, en(errno));
	else
		printf("%s: %ld\n", what, r);
}

#define P(x)                                                                                       \
	do {                                                                                       \
		errno = 0;                                                                         \
		long r_ = (long)(x);                                                               \
		pr(#x, r_);                                                                        \
	} while (0)

static void show_bits(uint32_t e)
{
	static const struct {
		uint32_t bit;
		const char *name;
	} names[] = { { EPOLLIN, "IN" },	 { EPOLLPRI, "PRI" },	  { EPOLLOUT, "OUT" },
		      { EPOLLERR, "ERR" },	 { EPOLLHUP, "HUP" },	  { EPOLLRDNORM, "RDNORM" },
		      { EPOLLRDBAND, "RDBAND" }, { EPOLLWRNORM, "WRNORM" }, { EPOLLWRBAND, "WRBAND" },
		      { EPOLLMSG, "MSG" },	 { EPOLLRDHUP, "RDHUP" } };
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (e & names[i].bit)
			printf(" %s", names[i].name);
	uint32_t known = 0;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		known |= names[i].bit;
	if (e & ~known)
		printf(" %#x", e & ~known);
}

static int cmp_ev(const void *a, const void *b)
{
	const struct epoll_event *x = a, *y = b;
	return x->data.u64 < y->data.u64 ? -1 : x->data.u64 > y->data.u64;
}

static void show_events(const char *what, int r, struct epoll_event *ev, int sorted)
{
	printf("%s: %d", what, r);
	if (r < 0) {
		printf(" %s\n", en(errno));
		return;
	}
	if (sorted)
		qsort(ev, r, sizeof ev[0], cmp_ev);
	for (int i = 0; i < r; i++) {
		printf(" {%llu:", (unsigned long long)ev[i].data.u64);
		show_bits(ev[i].events);
		printf(" }");
	}
	printf("\n");
}

/* One epoll_wait with `timeout`, its events printed sorted by data. */
static int wait_show(const char *what, int ep, int max, int timeout)
{
	struct epoll_event ev[64];
	memset(ev, 0x5a, sizeof ev);
	errno = 0;
	int r = epoll_wait(ep, ev, max, timeout);
	show_events(what, r, ev, 1);
	return r;
}

/* The same, printed in the order returned. */
static int wait_order(const char *what, int ep, int max)
{
	struct epoll_event ev[64];
	errno = 0;
	int r = epoll_wait(ep, ev, max, 0);
	show_events(what, r, ev, 0);
	return r;
}

static int add(int ep, int fd, uint32_t events, uint64_t data)
{
	struct epoll_event e = { .events = events, .data.u64 = data };
	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
}

static int mod(int ep, int fd, uint32_t events, uint64_t data)
{
	struct epoll_event e = { .events = events, .data.u64 = data };
	return epoll_ctl(ep, EPOLL_CTL_MOD, fd, &e);
}

static long ms_since(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

static long pwait(int ep, struct epoll_event *ev, int max, int timeout, const sigset_t *set,
		  long size)
{
	return syscall(SYS_epoll_pwait, ep, ev, max, timeout, set, size);
}

static long pwait2(int ep, struct epoll_event *ev, int max, const struct timespec *ts,
		   const sigset_t *set, long size)
{
	return syscall(SYS_epoll_pwait2, ep, ev, max, ts, set, size);
}

static void drain(int fd)
{
	char buf[4096];
	int fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	while (read(fd, buf, sizeof buf) > 0)
		;
	fcntl(fd, F_SETFL, fl);
}

static void test_create(void)
{
#ifdef SYS_epoll_create
	/* musl's epoll_create calls epoll_create1 whatever the size */
	P(syscall(SYS_epoll_create, 0));
	P(syscall(SYS_epoll_create, -1));
	int a = syscall(SYS_epoll_create, 1);
#else
	int a = epoll_create(1);
#endif
	P(epoll_create1(1));
	P(epoll_create1(EPOLL_CLOEXEC | 1));
	int b = epoll_create1(0);
	int c = epoll_create1(EPOLL_CLOEXEC);
	printf("fds: %d %d %d\n", a, b, c);
	printf("cloexec: %d %d %d\n", fcntl(a, F_GETFD), fcntl(b, F_GETFD), fcntl(c, F_GETFD));
	printf("getfl: %#x\n", fcntl(a, F_GETFL) & ~0100000 /* O_LARGEFILE */);
	char path[64], link[64] = { 0 };
	snprintf(path, sizeof path, "/proc/self/fd/%d", a);
	(void)!readlink(path, link, sizeof link - 1);
	printf("link: %s\n", link);
	char buf[8] = { 0 };
	P(read(a, buf, sizeof buf));
	P(write(a, buf, sizeof buf));
	struct epoll_event ev[2];
	P(epoll_wait(a, ev, 2, 0));
	close(a);
	close(b);
	close(c);
}

static void test_ctl_errors(void)
{
	int ep = epoll_create1(0), e2 = epoll_create1(0);
	int p[2];
	if (pipe(p) < 0)
		return;
	struct epoll_event e = { EPOLLIN, { .u64 = 1 } };
	P(epoll_ctl(ep, EPOLL_CTL_ADD, ep, &e));
	P(epoll_ctl(ep, EPOLL_CTL_ADD, ep, NULL));
	P(epoll_ctl(ep, EPOLL_CTL_DEL, ep, NULL));
	P(epoll_ctl(ep, EPOLL_CTL_MOD, ep, &e));
	P(epoll_ctl(p[0], EPOLL_CTL_ADD, p[1], &e));
	P(epoll_ctl(ep, 99, p[0], &e));
	P(epoll_ctl(ep, 99, p[0], NULL));
	P(epoll_ctl(ep, 0, p[0], &e));
	P(epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL));
	P(epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &e));
	P(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], NULL));
	P(epoll_ctl(ep, EPOLL_CTL_ADD, 99, &e));
	P(epoll_ctl(99, EPOLL_CTL_ADD, p[0], &e));
	P(epoll_ctl(-1, EPOLL_CTL_ADD, p[0], &e));
	P(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &e));
	P(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &e));
	P(epoll_ctl(ep, EPOLL_CTL_DEL, p[0], (void *)8));
	P(epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL));
	/* EPOLLEXCLUSIVE: ADD only, only with in/out/err/hup/wakeup/et, not
	 * on epoll fds, and an exclusive item cannot be modified */
	e.events = EPOLLIN | EPOLLEXCLUSIVE;
	P(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &e));
	P(epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &e));
	e.events = EPOLLIN;
	P(epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &e));
	P(epoll_ctl(ep, EPOLL_CTL_DEL, p[0], &e));
	e.events = EPOLLIN | EPOLLEXCLUSIVE | EPOLLONESHOT;
	P(epoll_ctl(ep, EPOLL_CTL_ADD, p[1], &e));
	e.events = EPOLLIN | EPOLLEXCLUSIVE | EPOLLRDHUP;
	P(epoll_ctl(ep, EPOLL_CTL_ADD, p[1], &e));
	e.events = EPOLLIN | EPOLLEXCLUSIVE | EPOLLPRI;
	P(epoll_ctl(ep, EPOLL_CTL_ADD, p[1], &e));
	e.events = EPOLLIN | EPOLLEXCLUSIVE | EPOLLRDNORM;
	P(epoll_ctl(ep, EPOLL_CTL_ADD, p[1], &e));
	e.events = EPOLLIN | EPOLLEXCLUSIVE;
	P(epoll_ctl(ep, EPOLL_CTL_ADD, e2, &e));
	P(epoll_ctl(ep, EPOLL_CTL_ADD, ep, &e));
	P(epoll_ctl(ep, 99, p[1], &e));
	e.events = EPOLLIN | EPOLLOUT | EPOLLEXCLUSIVE | EPOLLET | EPOLLWAKEUP | EPOLLHUP | EPOLLERR;
	P(epoll_ctl(ep, EPOLL_CTL_ADD, p[1], &e));
	wait_show("exclusive write end", ep, 8, 0);
	/* every other bit is accepted */
	e.events = 0xffffffff & ~EPOLLEXCLUSIVE;
	P(epoll_ctl(e2, EPOLL_CTL_ADD, p[1], &e));
	wait_show("all bits on the write end", e2, 8, 0);
	/* files without a poll method */
	const char *files[] = { "/dev/null", "/dev/zero", "/dev/full", "/dev/urandom",
				"/dev/random", "hello.txt", ".", "/", NULL };
	for (int i = 0; files[i]; i++) {
		int fd = open(files[i], O_RDONLY);
		errno = 0;
		int r = add(ep, fd, EPOLLIN, 100 + i);
		printf("add %s: %d %s\n", files[i], r, r < 0 ? en(errno) : "");
		close(fd);
	}
	int op = open(".", O_PATH);
	P(add(ep, op, EPOLLIN, 1));
	close(op);
	/* a closed /dev/random item goes with its description */
	wait_show("after the files closed", ep, 8, 0);
	/* epoll_wait's own errors */
	struct epoll_event ev[2];
	volatile int minus = -1;
	struct epoll_event *volatile null = NULL;
	P(epoll_wait(ep, ev, 0, 0));
	P(epoll_wait(ep, ev, minus, 0));
	P(epoll_wait(p[0], ev, 1, 0));
	P(epoll_wait(99, ev, 1, 0));
	P(epoll_wait(99, ev, 0, 0));
	P(epoll_wait(e2, null, 1, 0));
	P(epoll_wait(ep, null, 1, 0));
	int e3 = epoll_create1(0);
	add(e3, p[1], EPOLLOUT, 9);
	P(epoll_wait(e3, null, 1, 0));
	wait_show("level item after EFAULT", e3, 8, 0);
	close(e3);
	sigset_t s;
	sigemptyset(&s);
	P(pwait(e2, ev, 1, 0, NULL, 7));
	P(pwait(e2, ev, 1, 0, &s, 7));
	P(pwait(e2, ev, 1, 0, (void *)8, 8));
	P(pwait(e2, ev, 0, 0, (void *)8, 8));
	struct timespec ts = { 0, -1 };
	P(pwait2(e2, ev, 1, &ts, NULL, 8));
	P(pwait2(e2, ev, 0, &ts, NULL, 8));
	ts.tv_sec = -1;
	ts.tv_nsec = 0;
	P(pwait2(e2, ev, 1, &ts, NULL, 8));
	P(pwait2(e2, ev, 1, (void *)8, NULL, 8));
	P(pwait2(e2, ev, 0, NULL, NULL, 8));
	close(ep);
	close(e2);
	close(p[0]);
	close(p[1]);
}

static void test_level(void)
{
	int ep = epoll_create1(0), p[2];
	if (pipe(p) < 0)
		return;
	add(ep, p[0], EPOLLIN, 0x1122334455667788ULL);
	add(ep, p[1], EPOLLOUT, 2);
	wait_show("empty pipe", ep, 8, 0);
	(void)!write(p[1], "abc", 3);
	wait_show("after a write", ep, 8, 0);
	wait_show("again", ep, 8, 0);
	char b[2];
	(void)!read(p[0], b, 2);
	wait_show("one byte left", ep, 8, 0);
	(void)!read(p[0], b, 1);
	wait_show("drained", ep, 8, 0);
	mod(ep, p[0], EPOLLIN | EPOLLRDNORM | EPOLLPRI | EPOLLRDHUP, 3);
	mod(ep, p[1], EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND, 4);
	(void)!write(p[1], "x", 1);
	wait_show("NORM bits asked for", ep, 8, 0);
	mod(ep, p[1], 0, 5);
	wait_show("write end with no events", ep, 8, 0);
	close(p[1]);
	wait_show("writer closed, data left", ep, 8, 0);
	(void)!read(p[0], b, 1);
	wait_show("writer closed, drained", ep, 8, 0);
	mod(ep, p[0], 0, 6);
	wait_show("events 0 still gets HUP", ep, 8, 0);
	close(p[0]);
	wait_show("all closed", ep, 8, 0);
	if (pipe(p) < 0)
		return;
	add(ep, p[1], EPOLLOUT, 7);
	close(p[0]);
	wait_show("reader closed", ep, 8, 0);
	close(p[1]);
	/* a full pipe is not writable; a read of 4096 bytes makes it so */
	if (pipe2(p, O_NONBLOCK) < 0)
		return;
	add(ep, p[1], EPOLLOUT, 8);
	static char big[4096];
	int n = 0;
	while (write(p[1], big, sizeof big) > 0)
		n++;
	printf("4096-byte writes until full: %d\n", n);
	wait_show("full pipe", ep, 8, 0);
	(void)!read(p[0], big, 4096);
	wait_show("after reading 4096", ep, 8, 0);
	close(p[0]);
	close(p[1]);
	close(ep);
}

static void test_edge(void)
{
	int ep = epoll_create1(0), p[2];
	if (pipe(p) < 0)
		return;
	add(ep, p[0], EPOLLIN | EPOLLET, 1);
	wait_show("empty", ep, 8, 0);
	(void)!write(p[1], "abc", 3);
	wait_show("after a write", ep, 8, 0);
	wait_show("again, nothing new", ep, 8, 0);
	char b[8];
	(void)!read(p[0], b, 1);
	wait_show("after a partial read", ep, 8, 0);
	(void)!write(p[1], "d", 1);
	wait_show("a write while readable", ep, 8, 0);
	(void)!write(p[1], "e", 1);
	(void)!write(p[1], "f", 1);
	wait_show("two writes, one event", ep, 8, 0);
	drain(p[0]);
	(void)!write(p[1], "g", 1);
	(void)!read(p[0], b, 1);
	wait_show("written and read before the wait", ep, 8, 0);
	/* added while readable: one event */
	(void)!write(p[1], "h", 1);
	int ep2 = epoll_create1(0);
	add(ep2, p[0], EPOLLIN | EPOLLET, 2);
	wait_show("added while readable", ep2, 8, 0);
	wait_show("added while readable, again", ep2, 8, 0);
	/* MOD re-arms: readable now means an event */
	mod(ep2, p[0], EPOLLIN | EPOLLET, 3);
	wait_show("after MOD", ep2, 8, 0);
	wait_show("after MOD, again", ep2, 8, 0);
	close(ep2);
	drain(p[0]);
	wait_show("first epoll after all that", ep, 8, 0);
	/* the write end, edge-triggered */
	add(ep, p[1], EPOLLOUT | EPOLLET, 4);
	wait_show("write end added", ep, 8, 0);
	(void)!write(p[1], "x", 1);
	wait_show("a write does not wake writers", ep, 8, 0);
	drain(p[0]);
	wait_show("a read of a pipe that was not full", ep, 8, 0);
	int fl = fcntl(p[1], F_GETFL);
	fcntl(p[1], F_SETFL, fl | O_NONBLOCK);
	static char big[4096];
	while (write(p[1], big, sizeof big) > 0)
		;
	wait_show("filled", ep, 8, 0);
	(void)!read(p[0], big, 4096);
	wait_show("room made in a full pipe", ep, 8, 0);
	wait_show("again", ep, 8, 0);
	drain(p[0]);
	wait_show("drained", ep, 8, 0);
	/* hang-ups wake everyone */
	close(p[1]);
	wait_show("writer closed", ep, 8, 0);
	wait_show("writer closed, again", ep, 8, 0);
	close(p[0]);
	close(ep);
	/* both directions on one item (a FIFO opened O_RDWR) */
	unlink(tmp_fifo);
	if (mkfifo(tmp_fifo, 0600) < 0)
		return;
	int f = open(tmp_fifo, O_RDWR | O_NONBLOCK);
	ep = epoll_create1(0);
	add(ep, f, EPOLLIN | EPOLLOUT | EPOLLET, 5);
	wait_show("fifo rdwr added", ep, 8, 0);
	wait_show("fifo rdwr again", ep, 8, 0);
	(void)!write(f, "x", 1);
	wait_show("fifo rdwr after a write", ep, 8, 0);
	(void)!read(f, b, 1);
	wait_show("fifo rdwr after a read", ep, 8, 0);
	close(f);
	close(ep);
	unlink(tmp_fifo);
}

static void test_oneshot(void)
{
	int ep = epoll_create1(0), p[2];
	if (pipe(p) < 0)
		return;
	add(ep, p[0], EPOLLIN | EPOLLONESHOT, 1);
	wait_show("empty", ep, 8, 0);
	(void)!write(p[1], "a", 1);
	wait_show("after a write", ep, 8, 0);
	wait_show("fired: level does not matter", ep, 8, 0);
	(void)!write(p[1], "b", 1);
	wait_show("fired: new data does not matter", ep, 8, 0);
	close(p[1]);
	wait_show("fired: nor a hang-up", ep, 8, 0);
	mod(ep, p[0], EPOLLIN | EPOLLONESHOT, 2);
	wait_show("re-armed by MOD", ep, 8, 0);
	wait_show("fired again", ep, 8, 0);
	struct epoll_event e = { EPOLLIN, { .u64 = 3 } };
	P(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &e));
	P(epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL));
	P(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &e));
	wait_show("re-added level-triggered", ep, 8, 0);
	close(p[0]);
	if (pipe(p) < 0)
		return;
	add(ep, p[0], EPOLLIN | EPOLLONESHOT | EPOLLET, 4);
	(void)!write(p[1], "a", 1);
	wait_show("oneshot and edge", ep, 8, 0);
	(void)!write(p[1], "b", 1);
	wait_show("oneshot and edge, another write", ep, 8, 0);
	mod(ep, p[0], EPOLLIN | EPOLLET, 5);
	wait_show("MOD to edge while readable", ep, 8, 0);
	(void)!write(p[1], "c", 1);
	wait_show("edge after a write", ep, 8, 0);
	close(p[0]);
	close(p[1]);
	close(ep);
}

static void test_order(void)
{
	int ep = epoll_create1(0), p[3][2];
	for (int i = 0; i < 3; i++)
		if (pipe(p[i]) < 0)
			return;
	for (int i = 0; i < 3; i++)
		add(ep, p[i][0], EPOLLIN, 10 + i);
	/* ready in the order 2, 0, 1 */
	(void)!write(p[2][1], "x", 1);
	(void)!write(p[0][1], "x", 1);
	(void)!write(p[1][1], "x", 1);
	wait_order("all three", ep, 8);
	for (int i = 0; i < 5; i++)
		wait_order("maxevents 1", ep, 1);
	wait_order("maxevents 2", ep, 2);
	wait_order("maxevents 2", ep, 2);
	for (int i = 0; i < 3; i++)
		drain(p[i][0]);
	wait_order("drained", ep, 8);
	/* edge-triggered items ready in the order 1, 2, 0 */
	for (int i = 0; i < 3; i++)
		mod(ep, p[i][0], EPOLLIN | EPOLLET, 20 + i);
	(void)!write(p[1][1], "x", 1);
	(void)!write(p[2][1], "x", 1);
	(void)!write(p[0][1], "x", 1);
	wait_order("edge, maxevents 1", ep, 1);
	(void)!write(p[1][1], "x", 1);
	wait_order("edge, maxevents 1", ep, 1);
	wait_order("edge, maxevents 1", ep, 1);
	wait_order("edge, the rest", ep, 8);
	for (int i = 0; i < 3; i++) {
		close(p[i][0]);
		close(p[i][1]);
	}
	close(ep);
	/* many fds */
	ep = epoll_create1(0);
	int fds[100][2];
	for (int i = 0; i < 100; i++) {
		if (pipe(fds[i]) < 0)
			return;
		add(ep, fds[i][0], EPOLLIN, i);
	}
	for (int i = 0; i < 100; i += 3)
		(void)!write(fds[i][1], "y", 1);
	struct epoll_event ev[128];
	int r = epoll_wait(ep, ev, 128, 0);
	long sum = 0;
	for (int i = 0; i < r; i++)
		sum += ev[i].data.u64;
	printf("100 pipes, every third written: %d events, data sum %ld\n", r, sum);
	r = epoll_wait(ep, ev, 10, 0);
	printf("maxevents 10: %d\n", r);
	for (int i = 0; i < 100; i++) {
		close(fds[i][0]);
		close(fds[i][1]);
	}
	r = epoll_wait(ep, ev, 128, 0);
	printf("all closed: %d\n", r);
	close(ep);
}

static void test_nested(void)
{
	int inner = epoll_create1(0), outer = epoll_create1(0), p[2];
	if (pipe(p) < 0)
		return;
	add(inner, p[0], EPOLLIN, 1);
	add(outer, inner, EPOLLIN | EPOLLOUT, 2);
	wait_show("outer, pipe empty", outer, 8, 0);
	struct pollfd pf = { inner, POLLIN | POLLOUT, 0 };
	int pr_ = poll(&pf, 1, 0);
	printf("poll on inner: %d %#x\n", pr_, pf.revents);
	(void)!write(p[1], "x", 1);
	wait_show("outer, pipe written", outer, 8, 0);
	wait_show("outer, again (level)", outer, 8, 0);
	pf.revents = 0;
	pr_ = poll(&pf, 1, 0);
	printf("poll on inner: %d %#x\n", pr_, pf.revents);
	fd_set rd;
	FD_ZERO(&rd);
	FD_SET(inner, &rd);
	struct timeval tv = { 0, 0 };
	pr_ = select(inner + 1, &rd, NULL, NULL, &tv);
	printf("select on inner: %d %d\n", pr_, FD_ISSET(inner, &rd) != 0);
	wait_show("inner itself", inner, 8, 0);
	wait_show("outer after the inner wait (level inner)", outer, 8, 0);
	drain(p[0]);
	wait_show("outer, pipe drained", outer, 8, 0);
	/* the outer edge-triggered */
	mod(outer, inner, EPOLLIN | EPOLLET, 3);
	wait_show("outer edge, nothing", outer, 8, 0);
	(void)!write(p[1], "x", 1);
	wait_show("outer edge, written", outer, 8, 0);
	wait_show("outer edge, again", outer, 8, 0);
	(void)!write(p[1], "x", 1);
	wait_show("outer edge, written again", outer, 8, 0);
	wait_show("outer edge, again", outer, 8, 0);
	/* the inner edge-triggered too: the inner's wait consumes its event */
	mod(inner, p[0], EPOLLIN | EPOLLET, 4);
	wait_show("inner edge after MOD", inner, 8, 0);
	wait_show("outer edge after the inner consumed", outer, 8, 0);
	(void)!write(p[1], "x", 1);
	wait_show("outer edge, written", outer, 8, 0);
	wait_show("inner edge, written", inner, 8, 0);
	wait_show("outer edge, after the inner wait", outer, 8, 0);
	/* three levels */
	int top = epoll_create1(0);
	add(top, outer, EPOLLIN, 5);
	mod(outer, inner, EPOLLIN, 6);
	mod(inner, p[0], EPOLLIN, 7);
	wait_show("top of three", top, 8, 0);
	drain(p[0]);
	wait_show("top of three, drained", top, 8, 0);
	/* a one-shot inner item that fired makes the inner not ready */
	mod(inner, p[0], EPOLLIN | EPOLLONESHOT, 8);
	(void)!write(p[1], "x", 1);
	wait_show("top, oneshot inner item armed", top, 8, 0);
	wait_show("inner fires its oneshot", inner, 8, 0);
	wait_show("top, oneshot inner item fired", top, 8, 0);
	close(p[1]);
	close(p[0]);
	wait_show("top, pipe closed", top, 8, 0);
	close(top);
	close(outer);
	close(inner);
}

static void test_loops(void)
{
	int a = epoll_create1(0), b = epoll_create1(0), c = epoll_create1(0);
	struct epoll_event e = { EPOLLIN, { .u64 = 1 } };
	P(epoll_ctl(a, EPOLL_CTL_ADD, b, &e));
	P(epoll_ctl(b, EPOLL_CTL_ADD, c, &e));
	P(epoll_ctl(c, EPOLL_CTL_ADD, a, &e));
	P(epoll_ctl(b, EPOLL_CTL_ADD, a, &e));
	P(epoll_ctl(a, EPOLL_CTL_ADD, b, &e));
	int d = dup(b);
	P(epoll_ctl(a, EPOLL_CTL_ADD, d, &e));
	P(epoll_ctl(b, EPOLL_CTL_ADD, d, &e));
	P(epoll_ctl(a, EPOLL_CTL_DEL, b, &e));
	P(epoll_ctl(a, EPOLL_CTL_DEL, d, &e));
	P(epoll_ctl(c, EPOLL_CTL_ADD, a, &e));
	close(a);
	close(b);
	close(c);
	close(d);
	/* depth: a chain top-down and one bottom-up */
	int q[8];
	for (int i = 0; i < 8; i++)
		q[i] = epoll_create1(0);
	for (int i = 0; i < 7; i++) {
		errno = 0;
		int r = epoll_ctl(q[i], EPOLL_CTL_ADD, q[i + 1], &e);
		printf("top-down: q%d into q%d: %d %s\n", i + 1, i, r, r < 0 ? en(errno) : "");
	}
	for (int i = 0; i < 8; i++)
		close(q[i]);
	for (int i = 0; i < 8; i++)
		q[i] = epoll_create1(0);
	for (int i = 7; i > 0; i--) {
		errno = 0;
		int r = epoll_ctl(q[i - 1], EPOLL_CTL_ADD, q[i], &e);
		printf("bottom-up: q%d into q%d: %d %s\n", i, i - 1, r, r < 0 ? en(errno) : "");
	}
	/* a closed link shortens the chain */
	close(q[2]);
	errno = 0;
	int x = epoll_create1(0);
	int r = epoll_ctl(q[1], EPOLL_CTL_ADD, x, &e);
	printf("after closing q2: x into q1: %d %s\n", r, r < 0 ? en(errno) : "");
	r = epoll_ctl(x, EPOLL_CTL_ADD, q[3], &e);
	printf("after closing q2: q3 into x: %d %s\n", r, r < 0 ? en(errno) : "");
	for (int i = 0; i < 8; i++)
		if (i != 2)
			close(q[i]);
	close(x);
}

static void test_close(void)
{
	int ep = epoll_create1(0), p[2], q[2];
	if (pipe(p) < 0)
		return;
	add(ep, p[0], EPOLLIN, 1);
	int d = dup(p[0]);
	close(p[0]);
	(void)!write(p[1], "x", 1);
	wait_show("fd closed, dup alive", ep, 8, 0);
	P(epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL));
	P(epoll_ctl(ep, EPOLL_CTL_DEL, d, NULL));
	struct epoll_event e = { EPOLLIN, { .u64 = 2 } };
	P(epoll_ctl(ep, EPOLL_CTL_MOD, d, &e));
	/* the old fd number now names another pipe: another key */
	if (pipe(q) < 0)
		return;
	printf("new pipe reuses the fd: %d\n", q[0] == p[0]);
	P(add(ep, q[0], EPOLLIN, 3));
	(void)!write(q[1], "y", 1);
	wait_show("both pipes", ep, 8, 0);
	P(epoll_ctl(ep, EPOLL_CTL_DEL, q[0], NULL));
	P(add(ep, q[0], EPOLLIN, 4));
	wait_show("new pipe re-added", ep, 8, 0);
	close(d);
	wait_show("dup closed: the old item is gone", ep, 8, 0);
	/* dup2 over the registered fd closes its description */
	int r2[2];
	if (pipe(r2) < 0)
		return;
	dup2(r2[0], q[0]);
	(void)!write(r2[1], "z", 1);
	wait_show("registered fd replaced by dup2", ep, 8, 0);
	P(add(ep, q[0], EPOLLIN, 5));
	wait_show("the dup2 target added", ep, 8, 0);
	close(q[0]);
	close(q[1]);
	close(r2[0]);
	close(r2[1]);
	close(p[1]);
	/* a child's copy keeps a description alive */
	if (pipe(p) < 0)
		return;
	add(ep, p[0], EPOLLIN, 6);
	fflush(stdout);
	int sync[2];
	if (pipe(sync) < 0)
		return;
	pid_t pid = fork();
	if (pid == 0) {
		char c;
		close(sync[1]);
		(void)!read(sync[0], &c, 1);
		_exit(0);
	}
	close(sync[0]);
	close(p[0]);
	(void)!write(p[1], "x", 1);
	wait_show("closed here, open in a child", ep, 8, 0);
	close(sync[1]);
	waitpid(pid, NULL, 0);
	wait_show("the child exited", ep, 8, 0);
	close(p[1]);
	/* closing the epoll fd while its items live */
	if (pipe(p) < 0)
		return;
	add(ep, p[0], EPOLLIN, 7);
	close(ep);
	(void)!write(p[1], "x", 1);
	char c;
	printf("pipe works after the epoll fd closed: %zd\n", read(p[0], &c, 1));
	close(p[0]);
	close(p[1]);
}

static void test_fork(void)
{
	int ep = epoll_create1(0), p[2], q[2];
	if (pipe(p) < 0 || pipe(q) < 0)
		return;
	add(ep, p[0], EPOLLIN | EPOLLET, 1);
	(void)!write(p[1], "x", 1);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		/* the child shares the instance: its wait consumes the edge, its
		 * ADD is seen by the parent */
		wait_show("child", ep, 8, 0);
		add(ep, q[0], EPOLLIN, 2);
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	wait_show("parent after the child's wait", ep, 8, 0);
	(void)!write(q[1], "y", 1);
	wait_show("parent sees the child's ADD", ep, 8, 0);
	/* the child closing its copy of q[0] keeps the item: the parent's fd
	 * holds the same description */
	close(p[0]);
	close(p[1]);
	close(q[0]);
	close(q[1]);
	close(ep);
}

static void test_block(void)
{
	int ep = epoll_create1(0), p[2];
	if (pipe(p) < 0)
		return;
	add(ep, p[0], EPOLLIN, 1);
	struct epoll_event ev[4];
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int r = epoll_wait(ep, ev, 4, 100);
	long ms = ms_since(&t0);
	printf("timeout 100ms: %d, elapsed >= 100ms: %d, < 10s: %d\n", r, ms >= 99, ms < 10000);
	struct timespec ts = { 0, 100000000 };
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = pwait2(ep, ev, 4, &ts, NULL, 8);
	ms = ms_since(&t0);
	printf("pwait2 timeout 100ms: %d, elapsed >= 100ms: %d\n", r, ms >= 99);
	ts.tv_nsec = 0;
	r = pwait2(ep, ev, 4, &ts, NULL, 8);
	printf("pwait2 timeout 0: %d\n", r);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = pwait(ep, ev, 4, 50, NULL, 8);
	printf("pwait timeout 50ms: %d, elapsed >= 50ms: %d\n", r, ms_since(&t0) >= 49);
	/* a child's write wakes an infinite wait */
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		usleep(50000);
		(void)!write(p[1], "x", 1);
		_exit(0);
	}
	memset(ev, 0, sizeof ev);
	r = epoll_wait(ep, ev, 4, -1);
	show_events("woken by a child's write", r, ev, 1);
	waitpid(pid, NULL, 0);
	drain(p[0]);
	/* pwait2 with no timeout, woken the same way, edge-triggered */
	mod(ep, p[0], EPOLLIN | EPOLLET, 2);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		usleep(50000);
		(void)!write(p[1], "x", 1);
		_exit(0);
	}
	r = pwait2(ep, ev, 4, NULL, NULL, 8);
	show_events("pwait2 woken by a child's write", r, ev, 1);
	waitpid(pid, NULL, 0);
	/* the last writer's exit gives a hang-up */
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		usleep(50000);
		_exit(0);
	}
	close(p[1]);
	r = epoll_wait(ep, ev, 4, 10000);
	show_events("woken by the last writer's exit", r, ev, 1);
	waitpid(pid, NULL, 0);
	close(p[0]);
	/* a wait on a nested instance, woken through it */
	int inner = epoll_create1(0);
	if (pipe(p) < 0)
		return;
	add(inner, p[0], EPOLLIN, 3);
	mod(ep, p[0], EPOLLIN, 4); /* fails: a new pipe */
	close(ep);
	ep = epoll_create1(0);
	add(ep, inner, EPOLLIN, 5);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		usleep(50000);
		(void)!write(p[1], "x", 1);
		_exit(0);
	}
	r = epoll_wait(ep, ev, 4, -1);
	show_events("nested, woken by a child's write", r, ev, 1);
	waitpid(pid, NULL, 0);
	close(p[0]);
	close(p[1]);
	close(inner);
	close(ep);
}

static volatile sig_atomic_t got;

static void on_usr1(int sig)
{
	(void)sig;
	got++;
}

static void test_signals(void)
{
	int ep = epoll_create1(0), p[2];
	if (pipe(p) < 0)
		return;
	add(ep, p[0], EPOLLIN, 1);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	struct epoll_event ev[4];
	/* a handler ends a wait with EINTR, SA_RESTART or not */
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		usleep(50000);
		kill(getppid(), SIGUSR1);
		_exit(0);
	}
	got = 0;
	errno = 0;
	int r = epoll_wait(ep, ev, 4, 10000);
	printf("interrupted: %d %s, handler ran: %d\n", r, en(errno), got);
	waitpid(pid, NULL, 0);
	/* a pending blocked signal does not end a wait */
	sigset_t usr1, none, old;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigemptyset(&none);
	sigprocmask(SIG_BLOCK, &usr1, &old);
	got = 0;
	raise(SIGUSR1);
	r = epoll_wait(ep, ev, 4, 50);
	printf("blocked and pending: %d, handler ran: %d\n", r, got);
	/* epoll_pwait with a mask that lets it in: EINTR at once */
	errno = 0;
	r = epoll_pwait(ep, ev, 4, 10000, &none);
	printf("pwait unblocking it: %d %s, handler ran: %d\n", r, en(errno), got);
	sigset_t now;
	sigprocmask(SIG_BLOCK, NULL, &now);
	printf("mask restored: %d\n", sigismember(&now, SIGUSR1));
	/* ready events win over a pending signal; the handler runs after */
	got = 0;
	raise(SIGUSR1);
	(void)!write(p[1], "x", 1);
	r = epoll_pwait(ep, ev, 4, 10000, &none);
	printf("pwait with an event ready: %d, handler ran: %d\n", r, got);
	sigprocmask(SIG_SETMASK, &old, NULL);
	printf("handler ran after unblocking: %d\n", got);
	drain(p[0]);
	/* pwait2 with a mask, the signal sent while it waits */
	sigprocmask(SIG_BLOCK, &usr1, NULL);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		usleep(50000);
		kill(getppid(), SIGUSR1);
		_exit(0);
	}
	got = 0;
	struct timespec ts = { 10, 0 };
	errno = 0;
	r = pwait2(ep, ev, 4, &ts, &none, 8);
	printf("pwait2 interrupted: %d %s, handler ran: %d\n", r, en(errno), got);
	waitpid(pid, NULL, 0);
	/* a mask that blocks it: the signal waits for the call to end */
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		usleep(50000);
		kill(getppid(), SIGUSR1);
		usleep(50000);
		(void)!write(p[1], "x", 1);
		_exit(0);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	got = 0;
	r = epoll_pwait(ep, ev, 4, 10000, &usr1);
	printf("pwait blocking it: %d, handler ran by its return: %d\n", r, got);
	waitpid(pid, NULL, 0);
	printf("handler ran after: %d\n", got);
	signal(SIGUSR1, SIG_DFL);
	close(p[0]);
	close(p[1]);
	close(ep);
}

static void test_exclusive(void)
{
	int p[2], a = epoll_create1(0), b = epoll_create1(0);
	if (pipe(p) < 0)
		return;
	add(a, p[0], EPOLLIN | EPOLLEXCLUSIVE, 1);
	add(b, p[0], EPOLLIN | EPOLLEXCLUSIVE | EPOLLET, 2);
	wait_show("a, empty", a, 8, 0);
	(void)!write(p[1], "x", 1);
	wait_show("a", a, 8, 0);
	wait_show("b", b, 8, 0);
	wait_show("a again (level)", a, 8, 0);
	wait_show("b again (edge)", b, 8, 0);
	close(p[1]);
	wait_show("a, writer closed", a, 8, 0);
	wait_show("b, writer closed", b, 8, 0);
	/* a blocked exclusive waiter is woken */
	close(p[0]);
	if (pipe(p) < 0)
		return;
	add(a, p[0], EPOLLIN | EPOLLEXCLUSIVE, 3);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		usleep(50000);
		(void)!write(p[1], "x", 1);
		_exit(0);
	}
	struct epoll_event ev[4];
	int r = epoll_wait(a, ev, 4, 10000);
	show_events("exclusive waiter woken", r, ev, 1);
	waitpid(pid, NULL, 0);
	close(p[0]);
	close(p[1]);
	close(a);
	close(b);
}

static void test_fifo(void)
{
	const char *path = tmp_fifo2;
	unlink(path);
	if (mkfifo(path, 0600) < 0)
		return;
	int r = open(path, O_RDONLY | O_NONBLOCK);
	int ep = epoll_create1(0);
	add(ep, r, EPOLLIN | EPOLLRDHUP, 1);
	wait_show("reader, no writer yet", ep, 8, 0);
	int w = open(path, O_WRONLY | O_NONBLOCK);
	add(ep, w, EPOLLOUT, 2);
	wait_show("writer opened", ep, 8, 0);
	(void)!write(w, "abc", 3);
	wait_show("written", ep, 8, 0);
	close(w);
	wait_show("writer closed", ep, 8, 0);
	drain(r);
	wait_show("drained", ep, 8, 0);
	/* edge-triggered: a new writer is an event */
	mod(ep, r, EPOLLIN | EPOLLET, 3);
	wait_show("edge, hung up", ep, 8, 0);
	wait_show("edge, again", ep, 8, 0);
	w = open(path, O_WRONLY | O_NONBLOCK);
	wait_show("edge, a writer opened", ep, 8, 0);
	(void)!write(w, "d", 1);
	wait_show("edge, written", ep, 8, 0);
	close(w);
	wait_show("edge, writer closed", ep, 8, 0);
	close(r);
	close(ep);
	unlink(path);
}

static void test_rdhup(void)
{
	/* pipes report no EPOLLRDHUP, only EPOLLHUP */
	int ep = epoll_create1(0), p[2];
	if (pipe(p) < 0)
		return;
	add(ep, p[0], EPOLLIN | EPOLLRDHUP, 1);
	add(ep, p[1], EPOLLOUT | EPOLLRDHUP, 2);
	wait_show("pipe", ep, 8, 0);
	close(p[1]);
	wait_show("pipe, writer closed", ep, 8, 0);
	close(p[0]);
	close(ep);
	/* /dev/random polls readable */
	ep = epoll_create1(0);
	int fd = open("/dev/random", O_RDWR);
	add(ep, fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP, 3);
	wait_show("/dev/random", ep, 8, 0);
	close(fd);
	close(ep);
}

static void show_link(int fd)
{
	char path[64], link[64] = { 0 };
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	(void)!readlink(path, link, sizeof link - 1);
	printf("link: %s\n", link);
}

static void test_eventfd(void)
{
	int e = eventfd(0, EFD_NONBLOCK);
	show_link(e);
	int lt = epoll_create1(0), et = epoll_create1(0);
	add(lt, e, EPOLLIN | EPOLLOUT, 1);
	add(et, e, EPOLLIN | EPOLLET, 2);
	add(et, dup(e), EPOLLOUT | EPOLLET, 3);
	wait_show("level, count 0", lt, 8, 0);
	wait_show("edge, count 0", et, 8, 0);
	wait_show("edge, again", et, 8, 0);
	uint64_t v = 1;
	(void)!write(e, &v, 8);
	wait_show("level, count 1", lt, 8, 0);
	wait_show("edge, count 1", et, 8, 0);
	wait_show("edge, again", et, 8, 0);
	(void)!write(e, &v, 8);
	wait_show("edge, a write to a nonzero count", et, 8, 0);
	(void)!read(e, &v, 8);
	printf("read %llu\n", (unsigned long long)v);
	wait_show("level, read", lt, 8, 0);
	wait_show("edge, a read wakes writers", et, 8, 0);
	v = 0xfffffffffffffffeULL;
	(void)!write(e, &v, 8);
	wait_show("level, count at the maximum", lt, 8, 0);
	wait_show("edge, count at the maximum", et, 8, 0);
	(void)!read(e, &v, 8);
	wait_show("edge, drained", et, 8, 0);
	/* semaphore mode: each read takes one */
	int s = eventfd(2, EFD_SEMAPHORE | EFD_NONBLOCK);
	int ep = epoll_create1(0);
	add(ep, s, EPOLLIN | EPOLLET, 4);
	wait_show("semaphore 2", ep, 8, 0);
	(void)!read(s, &v, 8);
	wait_show("semaphore 1 after a read", ep, 8, 0);
	mod(ep, s, EPOLLIN, 5);
	wait_show("semaphore 1, level", ep, 8, 0);
	(void)!read(s, &v, 8);
	wait_show("semaphore 0", ep, 8, 0);
	/* a child's write wakes a blocked wait */
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		usleep(50000);
		uint64_t one = 1;
		(void)!write(s, &one, 8);
		_exit(0);
	}
	struct epoll_event ev[4];
	int r = epoll_wait(ep, ev, 4, 10000);
	show_events("woken by a child's write", r, ev, 1);
	waitpid(pid, NULL, 0);
	close(s);
	close(ep);
	close(e);
	close(lt);
	close(et);
}

static void test_timerfd(void)
{
	int t = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	show_link(t);
	int ep = epoll_create1(0);
	add(ep, t, EPOLLIN, 1);
	wait_show("disarmed", ep, 8, 0);
	struct itimerspec its = { { 0, 0 }, { 0, 500000000 } };
	timerfd_settime(t, 0, &its, NULL);
	wait_show("armed, not expired", ep, 8, 0);
	struct epoll_event ev[4];
	int r = epoll_wait(ep, ev, 4, 10000);
	show_events("expired (a blocking wait)", r, ev, 1);
	uint64_t n;
	(void)!read(t, &n, 8);
	printf("ticks %llu\n", (unsigned long long)n);
	wait_show("read", ep, 8, 0);
	/* periodic, edge-triggered, read after each event: each expiry after
	 * a read is an event */
	mod(ep, t, EPOLLIN | EPOLLET, 2);
	its.it_interval.tv_nsec = 30000000;
	its.it_value.tv_nsec = 30000000;
	timerfd_settime(t, 0, &its, NULL);
	for (int i = 0; i < 3; i++) {
		r = epoll_wait(ep, ev, 4, 10000);
		show_events("periodic, edge, blocking", r, ev, 1);
		n = 0;
		(void)!read(t, &n, 8);
		printf("ticks >= 1: %d\n", n >= 1);
	}
	its.it_value.tv_nsec = 0;
	its.it_interval.tv_nsec = 0;
	timerfd_settime(t, 0, &its, NULL);
	wait_show("disarmed again", ep, 8, 0);
	close(t);
	close(ep);
}

static void test_signalfd(void)
{
	sigset_t set, old;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigprocmask(SIG_BLOCK, &set, &old);
	int sfd = signalfd(-1, &set, SFD_NONBLOCK);
	show_link(sfd);
	int lt = epoll_create1(0), et = epoll_create1(0);
	add(lt, sfd, EPOLLIN, 1);
	add(et, sfd, EPOLLIN | EPOLLET, 2);
	wait_show("nothing pending", lt, 8, 0);
	wait_show("nothing pending, edge", et, 8, 0);
	raise(SIGUSR1);
	wait_show("SIGUSR1 pending", lt, 8, 0);
	wait_show("SIGUSR1 pending, edge", et, 8, 0);
	wait_show("edge again", et, 8, 0);
	raise(SIGUSR2);
	wait_show("SIGUSR2 too, edge", et, 8, 0);
	struct signalfd_siginfo si;
	while (read(sfd, &si, sizeof si) == sizeof si)
		printf("read signal %u\n", si.ssi_signo);
	wait_show("taken", lt, 8, 0);
	wait_show("taken, edge", et, 8, 0);
	/* a signal from a child wakes a blocked wait */
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		usleep(50000);
		kill(getppid(), SIGUSR2);
		_exit(0);
	}
	struct epoll_event ev[4];
	int r = epoll_wait(et, ev, 4, 10000);
	show_events("woken by a child's kill", r, ev, 1);
	waitpid(pid, NULL, 0);
	while (read(sfd, &si, sizeof si) == sizeof si)
		printf("read signal %u\n", si.ssi_signo);
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(sfd);
	close(lt);
	close(et);
}

static void test_mqueue(void)
{
	struct mq_attr a = { .mq_maxmsg = 2, .mq_msgsize = 16 };
	mq_unlink("/ev_epoll");
	mqd_t q = mq_open("/ev_epoll", O_CREAT | O_RDWR | O_NONBLOCK, 0600, &a);
	if (q == (mqd_t)-1) {
		pr("mq_open", -1);
		return;
	}
	int lt = epoll_create1(0), et = epoll_create1(0);
	add(lt, q, EPOLLIN | EPOLLOUT, 1);
	add(et, q, EPOLLIN | EPOLLET, 2);
	wait_show("empty", lt, 8, 0);
	wait_show("empty, edge", et, 8, 0);
	mq_send(q, "a", 1, 0);
	wait_show("one message", lt, 8, 0);
	wait_show("one message, edge", et, 8, 0);
	wait_show("edge again", et, 8, 0);
	mq_send(q, "b", 1, 0);
	wait_show("full", lt, 8, 0);
	wait_show("full, edge: a send is an event", et, 8, 0);
	char buf[16];
	mq_receive(q, buf, sizeof buf, NULL);
	wait_show("one taken", lt, 8, 0);
	wait_show("one taken, edge: a receive wakes everyone", et, 8, 0);
	mq_receive(q, buf, sizeof buf, NULL);
	wait_show("empty again", lt, 8, 0);
	wait_show("empty again, edge", et, 8, 0);
	mq_close(q);
	mq_unlink("/ev_epoll");
	close(lt);
	close(et);
}

static void test_unix(void)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
		pr("socketpair", -1);
		return;
	}
	int lt = epoll_create1(0), et = epoll_create1(0);
	add(lt, sv[0], EPOLLIN | EPOLLRDHUP, 1);
	add(et, sv[0], EPOLLIN | EPOLLRDHUP | EPOLLET, 2);
	add(lt, sv[1], EPOLLOUT, 3);
	wait_show("stream, nothing sent", lt, 8, 0);
	wait_show("stream, nothing sent, edge", et, 8, 0);
	(void)!send(sv[1], "abc", 3, 0);
	wait_show("stream, sent", lt, 8, 0);
	wait_show("stream, sent, edge", et, 8, 0);
	wait_show("edge again", et, 8, 0);
	(void)!send(sv[1], "d", 1, 0);
	wait_show("stream, sent more, edge", et, 8, 0);
	char b[16];
	(void)!recv(sv[0], b, 2, 0);
	wait_show("stream, part read, edge", et, 8, 0);
	shutdown(sv[1], SHUT_WR);
	wait_show("peer shut down writing", lt, 8, 0);
	wait_show("peer shut down writing, edge", et, 8, 0);
	(void)!recv(sv[0], b, sizeof b, 0);
	wait_show("drained", lt, 8, 0);
	close(sv[1]);
	wait_show("peer closed", lt, 8, 0);
	wait_show("peer closed, edge", et, 8, 0);
	close(sv[0]);
	close(lt);
	close(et);
	/* datagrams and seqpacket */
	int types[2] = { SOCK_DGRAM, SOCK_SEQPACKET };
	for (int t = 0; t < 2; t++) {
		if (socketpair(AF_UNIX, types[t], 0, sv) < 0)
			return;
		et = epoll_create1(0);
		add(et, sv[0], EPOLLIN | EPOLLET, 10 + t);
		(void)!send(sv[1], "x", 1, 0);
		(void)!send(sv[1], "y", 1, 0);
		wait_show(t ? "seqpacket, two sent" : "dgram, two sent", et, 8, 0);
		(void)!recv(sv[0], b, sizeof b, 0);
		wait_show(t ? "seqpacket, one read" : "dgram, one read", et, 8, 0);
		(void)!send(sv[1], "z", 1, 0);
		wait_show(t ? "seqpacket, one more" : "dgram, one more", et, 8, 0);
		close(sv[1]);
		wait_show(t ? "seqpacket, peer closed" : "dgram, peer closed", et, 8, 0);
		close(sv[0]);
		close(et);
	}
	/* a listener: each connection is an event */
	int l = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	/* abstract names are shared by the host's tests: one per process */
	int nl = snprintf(sa.sun_path + 1, sizeof sa.sun_path - 1, "ev_epoll.%d", (int)getpid());
	socklen_t len = offsetof(struct sockaddr_un, sun_path) + 1 + nl;
	if (bind(l, (struct sockaddr *)&sa, len) < 0 || listen(l, 8) < 0) {
		pr("bind/listen", -1);
		return;
	}
	et = epoll_create1(0);
	add(et, l, EPOLLIN | EPOLLET, 20);
	wait_show("listener", et, 8, 0);
	int c1 = socket(AF_UNIX, SOCK_STREAM, 0);
	connect(c1, (struct sockaddr *)&sa, len);
	wait_show("listener, one connection", et, 8, 0);
	int c2 = socket(AF_UNIX, SOCK_STREAM, 0);
	connect(c2, (struct sockaddr *)&sa, len);
	wait_show("listener, another", et, 8, 0);
	int a1 = accept(l, NULL, NULL);
	wait_show("listener, one accepted", et, 8, 0);
	int a2 = accept(l, NULL, NULL);
	/* a blocked wait woken by a child's connect and send */
	add(et, a2, EPOLLIN | EPOLLET, 21);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		usleep(50000);
		(void)!send(c2, "hi", 2, 0);
		_exit(0);
	}
	struct epoll_event ev[4];
	int r = epoll_wait(et, ev, 4, 10000);
	show_events("woken by a child's send", r, ev, 1);
	waitpid(pid, NULL, 0);
	close(a1);
	close(a2);
	close(c1);
	close(c2);
	close(l);
	close(et);
}

static void test_inotify(void)
{
	const char *dir = tmp_dir;
	mkdir(dir, 0700);
	int in = inotify_init1(IN_NONBLOCK);
	show_link(in);
	inotify_add_watch(in, dir, IN_CREATE | IN_DELETE);
	int lt = epoll_create1(0), et = epoll_create1(0);
	add(lt, in, EPOLLIN, 1);
	add(et, in, EPOLLIN | EPOLLET, 2);
	wait_show("nothing changed", lt, 8, 0);
	wait_show("nothing changed, edge", et, 8, 0);
	char a[80], bpath[80];
	snprintf(a, sizeof a, "%s/a", dir);
	snprintf(bpath, sizeof bpath, "%s/b", dir);
	int f = open(a, O_CREAT | O_WRONLY, 0600);
	close(f);
	wait_show("a file created", lt, 8, 0);
	wait_show("a file created, edge", et, 8, 0);
	wait_show("edge again", et, 8, 0);
	unlink(a);
	wait_show("deleted: another event, edge", et, 8, 0);
	char buf[4096];
	while (read(in, buf, sizeof buf) > 0)
		;
	wait_show("read", lt, 8, 0);
	wait_show("read, edge", et, 8, 0);
	/* a child's change wakes a blocked wait */
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		usleep(50000);
		close(open(bpath, O_CREAT | O_WRONLY, 0600));
		_exit(0);
	}
	struct epoll_event ev[4];
	int r = epoll_wait(et, ev, 4, 10000);
	show_events("woken by a child's create", r, ev, 1);
	waitpid(pid, NULL, 0);
	unlink(bpath);
	rmdir(dir);
	close(in);
	close(lt);
	close(et);
}

static void test_tcp(void)
{
	int l = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof sa;
	if (bind(l, (struct sockaddr *)&sa, len) < 0 || listen(l, 8) < 0) {
		pr("bind/listen", -1);
		return;
	}
	getsockname(l, (struct sockaddr *)&sa, &len);
	int et = epoll_create1(0), lt = epoll_create1(0);
	add(et, l, EPOLLIN | EPOLLET, 1);
	wait_show("listener", et, 8, 0);
	int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	add(lt, c, EPOLLOUT, 2);
	errno = 0;
	int r = connect(c, (struct sockaddr *)&sa, len);
	printf("connect: done or in progress: %d\n", r == 0 || errno == EINPROGRESS);
	struct epoll_event ev[4];
	r = epoll_wait(lt, ev, 4, 10000);
	show_events("connected: writable", r, ev, 1);
	r = epoll_wait(et, ev, 4, 10000);
	show_events("listener, a connection", r, ev, 1);
	wait_show("listener, edge again", et, 8, 0);
	int a = accept(l, NULL, NULL);
	add(et, a, EPOLLIN | EPOLLRDHUP | EPOLLET, 3);
	add(lt, a, EPOLLIN | EPOLLRDHUP, 4);
	wait_show("accepted, nothing sent", lt, 8, 0);
	(void)!send(c, "abc", 3, 0);
	r = epoll_wait(et, ev, 4, 10000);
	show_events("sent", r, ev, 1);
	wait_show("edge again", et, 8, 0);
	(void)!send(c, "d", 1, 0);
	r = epoll_wait(et, ev, 4, 10000);
	show_events("sent more", r, ev, 1);
	char b[16];
	(void)!recv(a, b, sizeof b, 0);
	shutdown(c, SHUT_WR);
	r = epoll_wait(et, ev, 4, 10000);
	show_events("peer shut down writing", r, ev, 1);
	wait_show("level", lt, 8, 0);
	close(c);
	close(a);
	close(l);
	close(et);
	close(lt);
	/* udp */
	int u = socket(AF_INET, SOCK_DGRAM, 0), v = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in ua = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	len = sizeof ua;
	bind(u, (struct sockaddr *)&ua, len);
	getsockname(u, (struct sockaddr *)&ua, &len);
	et = epoll_create1(0);
	add(et, u, EPOLLIN | EPOLLET, 5);
	sendto(v, "x", 1, 0, (struct sockaddr *)&ua, len);
	r = epoll_wait(et, ev, 4, 10000);
	show_events("udp, one datagram", r, ev, 1);
	sendto(v, "y", 1, 0, (struct sockaddr *)&ua, len);
	r = epoll_wait(et, ev, 4, 10000);
	show_events("udp, another", r, ev, 1);
	wait_show("udp, edge again", et, 8, 0);
	close(u);
	close(v);
	close(et);
}

/* An edge-triggered event loop, as servers write it: 16 children write 5
 * messages each at their own pace; the parent drains every ready pipe until
 * EAGAIN and stops at the last hang-up. */
static void test_server(void)
{
	enum { N = 16, MSGS = 5 };
	int ep = epoll_create1(0), rd[N];
	pid_t pids[N];
	fflush(stdout);
	for (int i = 0; i < N; i++) {
		int p[2];
		if (pipe2(p, O_NONBLOCK) < 0)
			return;
		pids[i] = fork();
		if (pids[i] == 0) {
			close(p[0]);
			fcntl(p[1], F_SETFL, 0);
			for (int j = 0; j < MSGS; j++) {
				char m[32];
				int n = snprintf(m, sizeof m, "child %d msg %d;", i, j);
				(void)!write(p[1], m, n);
				usleep(1000 * ((i * 7 + j * 3) % 11));
			}
			_exit(0);
		}
		close(p[1]);
		rd[i] = p[0];
		add(ep, p[0], EPOLLIN | EPOLLRDHUP | EPOLLET, i);
	}
	long bytes[N] = { 0 };
	int open_ends = N, wakes = 0;
	while (open_ends > 0) {
		struct epoll_event ev[8];
		int r = epoll_wait(ep, ev, 8, 20000);
		if (r <= 0) {
			printf("wait failed: %d\n", r);
			break;
		}
		wakes++;
		for (int k = 0; k < r; k++) {
			int i = (int)ev[k].data.u64;
			char buf[256];
			ssize_t n;
			while ((n = read(rd[i], buf, sizeof buf)) > 0)
				bytes[i] += n;
			if (n == 0) {
				epoll_ctl(ep, EPOLL_CTL_DEL, rd[i], NULL);
				close(rd[i]);
				open_ends--;
			}
		}
	}
	for (int i = 0; i < N; i++)
		waitpid(pids[i], NULL, 0);
	long total = 0;
	for (int i = 0; i < N; i++)
		total += bytes[i];
	printf("children done: %d, bytes %ld, child 0: %ld, child 15: %ld, woken: %d\n",
	       N - open_ends, total, bytes[0], bytes[N - 1], wakes > 0);
	close(ep);
}

/* Run on a terminal by tests/e2e_epoll.rs: the driver types a line after
 * each READY. Echo is off, so the transcript is only what this prints. */
static void test_tty(void)
{
	if (!isatty(0)) {
		printf("stdin is not a terminal\n");
		return;
	}
	struct termios old, t;
	tcgetattr(0, &old);
	t = old;
	t.c_lflag &= ~ECHO;
	tcsetattr(0, TCSANOW, &t);
	int lt = epoll_create1(0), et = epoll_create1(0), out = epoll_create1(0);
	add(lt, 0, EPOLLIN, 1);
	add(et, 0, EPOLLIN | EPOLLET, 2);
	add(out, 1, EPOLLOUT | EPOLLET, 3);
	struct epoll_event ev[4], ev2[4];
	int r1 = epoll_wait(out, ev, 4, 0);
	int r2 = epoll_wait(out, ev2, 4, 0);
	show_events("tty output, edge", r1, ev, 1);
	show_events("tty output, edge again", r2, ev2, 1);
	wait_show("nothing typed", lt, 4, 0);
	wait_show("nothing typed, edge", et, 4, 0);
	printf("READY\n");
	wait_show("typed", lt, 4, 20000);
	wait_show("typed, edge", et, 4, 0);
	wait_show("typed, edge again", et, 4, 0);
	wait_show("typed, level again", lt, 4, 0);
	char buf[64] = { 0 };
	ssize_t n = read(0, buf, sizeof buf - 1);
	printf("read %zd: %s", n, buf);
	wait_show("read", lt, 4, 0);
	wait_show("read, edge", et, 4, 0);
	printf("READY\n");
	wait_show("typed, edge, waiting", et, 4, 20000);
	memset(buf, 0, sizeof buf);
	n = read(0, buf, sizeof buf - 1);
	printf("read %zd: %s", n, buf);
	tcsetattr(0, TCSANOW, &old);
	close(lt);
	close(et);
	close(out);
}

static const struct section {
	const char *name;
	void (*fn)(void);
} sections[] = {
	{ "create", test_create },   { "ctl_errors", test_ctl_errors },
	{ "level", test_level },     { "edge", test_edge },
	{ "oneshot", test_oneshot }, { "order", test_order },
	{ "nested", test_nested },   { "loops", test_loops },
	{ "close", test_close },     { "fork", test_fork },
	{ "block", test_block },     { "signals", test_signals },
	{ "exclusive", test_exclusive }, { "fifo", test_fifo },
	{ "rdhup", test_rdhup },     { "eventfd", test_eventfd },
	{ "timerfd", test_timerfd }, { "signalfd", test_signalfd },
	{ "mqueue", test_mqueue },   { "unix", test_unix },
	{ "inotify", test_inotify }, { "tcp", test_tcp },
	{ "server", test_server },
	{ "tty", test_tty },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	int me = (int)getpid();
	snprintf(tmp_fifo, sizeof tmp_fifo, "/tmp/ev_epoll_fifo.%d", me);
	snprintf(tmp_fifo2, sizeof tmp_fifo2, "/tmp/ev_epoll_fifo2.%d", me);
	snprintf(tmp_dir, sizeof tmp_dir, "/tmp/ev_epoll_dir.%d", me);
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (const struct section *s = sections; s->name; s++) {
		/* tty runs only when asked for: it waits for typed lines */
		int run = argc < 2 && s->fn != test_tty;
		for (int i = 1; i < argc; i++)
			run |= strcmp(argv[i], s->name) == 0;
		if (!run)
			continue;
		printf("== %s\n", s->name);
		s->fn();
	}
	return 0;
}
