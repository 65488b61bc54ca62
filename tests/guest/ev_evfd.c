/* ev_evfd: eventfd, timerfd and signalfd: the 8-byte read and write rules,
 * semaphore mode, the counter's maximum and blocking on both sides, timer
 * settings, expirations and absolute times, signalfd's masks, siginfo and
 * the order it takes pending signals in, and every one of them waking a
 * thread blocked in read, poll or select with nothing else happening.
 * Arguments name sections (all if none). Nothing printed depends on timing:
 * expiration counts are printed only where they are certain. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "common.h"

#ifndef TFD_IOC_SET_TICKS
#define TFD_IOC_SET_TICKS _IOW('T', 0, uint64_t)
#endif

static const char *en(int e)
{
	if (e == EAGAIN)
		return "EAGAIN";
	if (e == ECANCELED)
		return "ECANCELED";
	if (e == EINTR)
		return "EINTR";
	return errname(e);
}

/* Prints "what: r" or "what: -1 ERRNO". */
static long show(const char *what, long r)
{
	if (r < 0)
		printf("%s: -1 %s\n", what, en(errno));
	else
		printf("%s: %ld\n", what, r);
	return r;
}

static void show_poll(const char *what, int fd, short events, int timeout)
{
	struct pollfd p = { fd, events, 0 };
	int r = poll(&p, 1, timeout);
	printf("%s: %d [%s%s%s%s ]\n", what, r, p.revents & POLLIN ? " IN" : "",
	       p.revents & POLLOUT ? " OUT" : "", p.revents & POLLERR ? " ERR" : "",
	       p.revents & POLLHUP ? " HUP" : "");
}

static void rd64(const char *what, int fd)
{
	uint64_t v = 0;
	long r = read(fd, &v, 8);
	if (r < 0)
		printf("%s: -1 %s\n", what, en(errno));
	else
		printf("%s: %ld value %llu\n", what, r, (unsigned long long)v);
}

static long wr64(int fd, uint64_t v)
{
	return write(fd, &v, 8);
}

static void test_eventfd(void)
{
	int fd = eventfd(0, 0);
	printf("eventfd: %d\n", fd >= 0);
	int fl = fcntl(fd, F_GETFL);
	printf("flags: rdwr %d nonblock %d\n", (fl & O_ACCMODE) == O_RDWR, !!(fl & O_NONBLOCK));
	printf("cloexec: %d\n", fcntl(fd, F_GETFD) & FD_CLOEXEC);
	show("write 3", wr64(fd, 3));
	show("write 4", wr64(fd, 4));
	show_poll("poll", fd, POLLIN | POLLOUT, 0);
	rd64("read", fd);
	char small[4] = { 0 };
	show("read 4 bytes", read(fd, small, 4));
	show("write 4 bytes", write(fd, small, 4));
	show("write max", wr64(fd, UINT64_MAX));
	uint64_t two[2] = { 5, 6 };
	show("write 16 bytes", write(fd, two, 16));
	show("write 5", wr64(fd, 5));
	uint64_t got[2] = { 0, 0 };
	show("read 16 bytes", read(fd, got, 16));
	printf("got %llu %llu\n", (unsigned long long)got[0], (unsigned long long)got[1]);
	close(fd);

	fd = eventfd(7, EFD_NONBLOCK | EFD_CLOEXEC);
	fl = fcntl(fd, F_GETFL);
	printf("flags: rdwr %d nonblock %d\n", (fl & O_ACCMODE) == O_RDWR, !!(fl & O_NONBLOCK));
	printf("cloexec: %d\n", fcntl(fd, F_GETFD) & FD_CLOEXEC);
	rd64("read initval", fd);
	rd64("read empty", fd);
	show_poll("poll empty", fd, POLLIN | POLLOUT, 0);
	show("write 0xfffffffffffffffe", wr64(fd, 0xfffffffffffffffeULL));
	show_poll("poll full", fd, POLLIN | POLLOUT, 0);
	show("write 1 more", wr64(fd, 1));
	show("write 0", wr64(fd, 0));
	rd64("read full", fd);
	close(fd);

	fd = eventfd(3, EFD_SEMAPHORE | EFD_NONBLOCK);
	for (int i = 0; i < 4; i++)
		rd64("semaphore read", fd);
	show("write 2", wr64(fd, 2));
	rd64("semaphore read", fd);
	close(fd);

	show("eventfd bad flags", eventfd(0, 0x40));
	eventfd_t v = 0;
	fd = eventfd(0, EFD_NONBLOCK);
	show("eventfd_write", eventfd_write(fd, 9));
	show("eventfd_read", eventfd_read(fd, &v));
	printf("value %llu\n", (unsigned long long)v);
	close(fd);
}

static void test_eventfd_block(void)
{
	int fd = eventfd(0, 0);
	pid_t c = fork();
	if (c == 0) {
		usleep(20000);
		wr64(fd, 5);
		_exit(0);
	}
	rd64("blocking read", fd);
	waitpid(c, NULL, 0);

	c = fork();
	if (c == 0) {
		usleep(20000);
		wr64(fd, 6);
		_exit(0);
	}
	show_poll("poll woken", fd, POLLIN, -1);
	rd64("read", fd);
	waitpid(c, NULL, 0);

	/* A write that would pass the maximum blocks until a read makes room. */
	show("fill", wr64(fd, 0xfffffffffffffffeULL));
	c = fork();
	if (c == 0) {
		usleep(20000);
		uint64_t x;
		read(fd, &x, 8);
		_exit(x == 0xfffffffffffffffeULL ? 0 : 1);
	}
	show("blocking write", wr64(fd, 3));
	int st;
	waitpid(c, &st, 0);
	printf("child read the max: %d\n", WIFEXITED(st) && WEXITSTATUS(st) == 0);
	rd64("read", fd);
	close(fd);
}

static void set(int fd, int flags, long vs, long vns, long is, long ins, struct itimerspec *old)
{
	struct itimerspec its = { { is, ins }, { vs, vns } };
	int r = timerfd_settime(fd, flags, &its, old);
	if (r < 0)
		printf("settime: -1 %s\n", en(errno));
}

static void test_timerfd(void)
{
	show("create bad clock", timerfd_create(12345, 0));
	show("create bad flags", timerfd_create(CLOCK_MONOTONIC, 0x40));
	int fd = timerfd_create(CLOCK_MONOTONIC, 0);
	printf("create: %d\n", fd >= 0);
	int fl = fcntl(fd, F_GETFL);
	printf("flags: rdwr %d nonblock %d\n", (fl & O_ACCMODE) == O_RDWR, !!(fl & O_NONBLOCK));
	struct itimerspec cur;
	show("gettime", timerfd_gettime(fd, &cur));
	printf("disarmed: %ld %ld %ld %ld\n", (long)cur.it_value.tv_sec, cur.it_value.tv_nsec,
	       (long)cur.it_interval.tv_sec, cur.it_interval.tv_nsec);
	set(fd, 0, 100, 0, 3, 500, NULL);
	timerfd_gettime(fd, &cur);
	printf("armed: value in (99, 100] %d interval %ld %ld\n",
	       cur.it_value.tv_sec >= 99 && (cur.it_value.tv_sec < 100 ||
	       (cur.it_value.tv_sec == 100 && cur.it_value.tv_nsec == 0)),
	       (long)cur.it_interval.tv_sec, cur.it_interval.tv_nsec);
	struct itimerspec old;
	set(fd, 0, 0, 0, 0, 0, &old);
	printf("old: value >= 99 %d interval %ld %ld\n", old.it_value.tv_sec >= 99,
	       (long)old.it_interval.tv_sec, old.it_interval.tv_nsec);
	timerfd_gettime(fd, &cur);
	printf("disarmed again: %ld %ld\n", (long)cur.it_value.tv_sec, cur.it_value.tv_nsec);

	struct itimerspec bad = { { 0, 0 }, { 0, 1000000000 } };
	show("settime bad nsec", timerfd_settime(fd, 0, &bad, NULL));
	bad.it_value.tv_nsec = 0;
	bad.it_value.tv_sec = -1;
	show("settime negative", timerfd_settime(fd, 0, &bad, NULL));
	struct itimerspec one = { { 0, 0 }, { 1, 0 } };
	show("settime bad flags", timerfd_settime(fd, 4, &one, NULL));
	int p[2];
	pipe(p);
	show("settime on a pipe", timerfd_settime(p[0], 0, &one, NULL));
	show("gettime on a pipe", timerfd_gettime(p[0], &cur));
	show("settime on fd 999", timerfd_settime(999, 0, &one, NULL));
	close(p[0]);
	close(p[1]);

	/* One shot: a blocking read sees exactly one expiration. */
	set(fd, 0, 0, 2000000, 0, 0, NULL);
	rd64("one shot read", fd);
	timerfd_gettime(fd, &cur);
	printf("after expiry: %ld %ld\n", (long)cur.it_value.tv_sec, cur.it_value.tv_nsec);
	char small[4];
	show("read 4 bytes", read(fd, small, 4));
	show("write", write(fd, "12345678", 8));
	close(fd);

	fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	printf("cloexec: %d\n", fcntl(fd, F_GETFD) & FD_CLOEXEC);
	rd64("read disarmed", fd);
	show_poll("poll disarmed", fd, POLLIN, 0);
	/* Periodic: 1 ms; after 30 ms at least 20 have expired. */
	set(fd, 0, 0, 1000000, 0, 1000000, NULL);
	usleep(30000);
	show_poll("poll expired", fd, POLLIN, 0);
	uint64_t n = 0;
	show("read periodic", read(fd, &n, 8));
	printf("count >= 20: %d\n", n >= 20);
	timerfd_gettime(fd, &cur);
	printf("periodic: value <= 1ms %d interval %ld %ld\n",
	       cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec <= 1000000,
	       (long)cur.it_interval.tv_sec, cur.it_interval.tv_nsec);
	/* settime drops the expirations not read. */
	usleep(5000);
	set(fd, 0, 100, 0, 0, 0, NULL);
	rd64("read after re-arm", fd);

	/* TFD_IOC_SET_TICKS. */
	uint64_t ticks = 5;
	show("set ticks", ioctl(fd, TFD_IOC_SET_TICKS, &ticks));
	rd64("read ticks", fd);
	ticks = 0;
	show("set 0 ticks", ioctl(fd, TFD_IOC_SET_TICKS, &ticks));
	close(fd);

	/* Absolute times: in the future, and already past. */
	fd = timerfd_create(CLOCK_MONOTONIC, 0);
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	long ns = now.tv_nsec + 5000000;
	set(fd, TFD_TIMER_ABSTIME, now.tv_sec + ns / 1000000000, ns % 1000000000, 0, 0, NULL);
	rd64("absolute read", fd);
	set(fd, TFD_TIMER_ABSTIME, 1, 0, 0, 0, NULL);
	rd64("past absolute read", fd);
	close(fd);

	fd = timerfd_create(CLOCK_REALTIME, 0);
	clock_gettime(CLOCK_REALTIME, &now);
	ns = now.tv_nsec + 5000000;
	set(fd, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, now.tv_sec + ns / 1000000000,
	    ns % 1000000000, 0, 0, NULL);
	rd64("realtime cancel-on-set read", fd);
	clock_gettime(CLOCK_REALTIME, &now);
	set(fd, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, now.tv_sec + 100, 0, 0, 0, NULL);
	timerfd_gettime(fd, &cur);
	printf("realtime absolute: value in (98, 100] %d\n",
	       cur.it_value.tv_sec >= 98 && cur.it_value.tv_sec <= 100);
	close(fd);

	fd = timerfd_create(CLOCK_BOOTTIME, 0);
	printf("boottime: %d\n", fd >= 0);
	set(fd, 0, 0, 1000000, 0, 0, NULL);
	rd64("boottime read", fd);
	close(fd);

	fd = timerfd_create(CLOCK_BOOTTIME_ALARM, 0);
	printf("boottime alarm as root: %d\n", fd >= 0);
	close(fd);
	pid_t c = fork();
	if (c == 0) {
		if (setuid(65534) != 0)
			_exit(1);
		show("realtime alarm as nobody", timerfd_create(CLOCK_REALTIME_ALARM, 0));
		_exit(0);
	}
	waitpid(c, NULL, 0);
}

/* A timer wakes a thread blocked with nothing else happening. */
static void test_timerfd_wake(void)
{
	int fd = timerfd_create(CLOCK_MONOTONIC, 0);
	set(fd, 0, 0, 30000000, 0, 0, NULL);
	show_poll("poll woken", fd, POLLIN, -1);
	rd64("read", fd);

	set(fd, 0, 0, 30000000, 0, 0, NULL);
	fd_set r;
	FD_ZERO(&r);
	FD_SET(fd, &r);
	int n = select(fd + 1, &r, NULL, NULL, NULL);
	printf("select woken: %d set %d\n", n, FD_ISSET(fd, &r));
	rd64("read", fd);

	set(fd, 0, 0, 30000000, 0, 0, NULL);
	rd64("blocking read", fd);

	/* A child's timer, read by the child while the parent waits. */
	set(fd, 0, 0, 30000000, 0, 0, NULL);
	pid_t c = fork();
	if (c == 0) {
		uint64_t v = 0;
		read(fd, &v, 8);
		_exit(v == 1 ? 0 : 1);
	}
	int st;
	waitpid(c, &st, 0);
	printf("child read its expiry: %d\n", WIFEXITED(st) && WEXITSTATUS(st) == 0);
	close(fd);
}

static void show_ssi(const char *what, int fd)
{
	struct signalfd_siginfo si[2];
	memset(si, 0, sizeof si);
	long r = read(fd, si, sizeof si);
	if (r < 0) {
		printf("%s: -1 %s\n", what, en(errno));
		return;
	}
	printf("%s: %ld", what, r);
	for (long i = 0; i < r / (long)sizeof si[0]; i++)
		printf(" [signo %u code %d pid-is-me %d uid %u]", si[i].ssi_signo, si[i].ssi_code,
		       si[i].ssi_pid == (uint32_t)getpid(), si[i].ssi_uid);
	printf("\n");
}

static void block(int sig)
{
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, sig);
	sigprocmask(SIG_BLOCK, &s, NULL);
}

static int is_pending(int sig)
{
	sigset_t s;
	sigpending(&s);
	return sigismember(&s, sig);
}

static void test_signalfd(void)
{
	printf("sizeof signalfd_siginfo: %zu\n", sizeof(struct signalfd_siginfo));
	block(SIGUSR1);
	block(SIGUSR2);
	sigset_t m;
	sigemptyset(&m);
	sigaddset(&m, SIGUSR1);
	int fd = signalfd(-1, &m, SFD_NONBLOCK);
	printf("signalfd: %d\n", fd >= 0);
	int fl = fcntl(fd, F_GETFL);
	printf("flags: rdwr %d nonblock %d\n", (fl & O_ACCMODE) == O_RDWR, !!(fl & O_NONBLOCK));
	show_ssi("read none", fd);
	show_poll("poll none", fd, POLLIN, 0);
	raise(SIGUSR1);
	show_poll("poll raised", fd, POLLIN, 0);
	show_ssi("read raised", fd);
	printf("still pending: %d\n", is_pending(SIGUSR1));
	kill(getpid(), SIGUSR1);
	show_ssi("read killed", fd);
	char small[64];
	raise(SIGUSR1);
	show("read 64 bytes", read(fd, small, sizeof small));
	show_ssi("read after short", fd);

	/* A new mask on the same descriptor. */
	sigemptyset(&m);
	sigaddset(&m, SIGUSR2);
	show("new mask is the same fd", signalfd(fd, &m, 0) == fd);
	raise(SIGUSR1);
	raise(SIGUSR2);
	show_ssi("read with mask USR2", fd);
	printf("USR1 pending: %d USR2 pending: %d\n", is_pending(SIGUSR1), is_pending(SIGUSR2));
	sigaddset(&m, SIGUSR1);
	signalfd(fd, &m, 0);
	show_ssi("read with both", fd);

	/* The thread's own pending signals come before the process's. */
	kill(getpid(), SIGUSR1);
	raise(SIGUSR2);
	show_ssi("thread first", fd);
	raise(SIGUSR2);
	raise(SIGUSR1);
	show_ssi("lowest first", fd);
	show("write", write(fd, small, sizeof small));

	int p[2];
	pipe(p);
	show("signalfd on a pipe", signalfd(p[0], &m, 0));
	show("signalfd on fd 999", signalfd(999, &m, 0));
	show("signalfd bad flags", signalfd(-1, &m, 0x40));
	show("signalfd bad size", syscall(SYS_signalfd4, -1, &m, 4, 0));
	close(p[0]);
	close(p[1]);
	sigfillset(&m);
	int all = signalfd(-1, &m, SFD_CLOEXEC | SFD_NONBLOCK);
	printf("full mask: %d cloexec %d\n", all >= 0, fcntl(all, F_GETFD) & FD_CLOEXEC);
	close(all);
	close(fd);
}

static void test_signalfd_wake(void)
{
	block(SIGUSR1);
	block(SIGCHLD);
	sigset_t m;
	sigemptyset(&m);
	sigaddset(&m, SIGUSR1);
	int fd = signalfd(-1, &m, 0);
	pid_t parent = getpid();
	pid_t c = fork();
	if (c == 0) {
		usleep(20000);
		kill(parent, SIGUSR1);
		_exit(0);
	}
	struct signalfd_siginfo si;
	long r = read(fd, &si, sizeof si);
	printf("blocking read: %ld signo %u from child %d code %d\n", r, si.ssi_signo,
	       si.ssi_pid == (uint32_t)c, si.ssi_code);
	waitpid(c, NULL, 0);

	c = fork();
	if (c == 0) {
		usleep(20000);
		kill(parent, SIGUSR1);
		_exit(0);
	}
	show_poll("poll woken", fd, POLLIN, -1);
	show_ssi("read", fd);
	waitpid(c, NULL, 0);
	close(fd);

	/* SIGCHLD through a signalfd: the child's pid and status. */
	sigemptyset(&m);
	sigaddset(&m, SIGCHLD);
	fd = signalfd(-1, &m, SFD_NONBLOCK);
	/* The earlier children's SIGCHLD (one, standard signals do not queue). */
	show("drain", read(fd, &si, sizeof si));
	show("drained", read(fd, &si, sizeof si));
	fcntl(fd, F_SETFL, 0);
	c = fork();
	if (c == 0)
		_exit(7);
	r = read(fd, &si, sizeof si);
	printf("sigchld: %ld signo %u code %d status %d from child %d\n", r, si.ssi_signo,
	       si.ssi_code, si.ssi_status, si.ssi_pid == (uint32_t)c);
	waitpid(c, NULL, 0);
	close(fd);
}

/* epoll_wait with no timeout wakes for a timer's expiry, an eventfd write
 * by a child and a signal from a child. */
static void test_epoll(void)
{
	block(SIGUSR1);
	int ep = epoll_create1(0);
	int t = timerfd_create(CLOCK_MONOTONIC, 0);
	int e = eventfd(0, 0);
	sigset_t m;
	sigemptyset(&m);
	sigaddset(&m, SIGUSR1);
	int s = signalfd(-1, &m, 0);
	struct epoll_event ev = { .events = EPOLLIN };
	ev.data.u32 = 1;
	epoll_ctl(ep, EPOLL_CTL_ADD, t, &ev);
	ev.data.u32 = 2;
	epoll_ctl(ep, EPOLL_CTL_ADD, e, &ev);
	ev.data.u32 = 3;
	epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev);
	struct epoll_event out[4];

	set(t, 0, 0, 30000000, 0, 0, NULL);
	int n = epoll_wait(ep, out, 4, -1);
	printf("timer: %d data %u in %d\n", n, out[0].data.u32, !!(out[0].events & EPOLLIN));
	rd64("read", t);

	pid_t parent = getpid();
	pid_t c = fork();
	if (c == 0) {
		usleep(20000);
		wr64(e, 4);
		_exit(0);
	}
	n = epoll_wait(ep, out, 4, -1);
	printf("eventfd: %d data %u in %d\n", n, out[0].data.u32, !!(out[0].events & EPOLLIN));
	rd64("read", e);
	waitpid(c, NULL, 0);

	c = fork();
	if (c == 0) {
		usleep(20000);
		kill(parent, SIGUSR1);
		_exit(0);
	}
	n = epoll_wait(ep, out, 4, -1);
	printf("signalfd: %d data %u in %d\n", n, out[0].data.u32, !!(out[0].events & EPOLLIN));
	show_ssi("read", s);
	waitpid(c, NULL, 0);
	close(ep);
	close(t);
	close(e);
	close(s);
}

/* Edge-triggered epoll reports every write to an eventfd, even one to an
 * eventfd that is already readable, and each expiry of a timer. */
static void test_epoll_et(void)
{
	int ep = epoll_create1(0);
	int e = eventfd(0, EFD_NONBLOCK);
	struct epoll_event ev = { .events = EPOLLIN | EPOLLET };
	ev.data.u32 = 1;
	epoll_ctl(ep, EPOLL_CTL_ADD, e, &ev);
	struct epoll_event out[4];
	printf("idle: %d\n", epoll_wait(ep, out, 4, 0));
	wr64(e, 1);
	printf("after a write: %d\n", epoll_wait(ep, out, 4, 0));
	printf("again: %d\n", epoll_wait(ep, out, 4, 0));
	wr64(e, 1);
	printf("after a second write: %d\n", epoll_wait(ep, out, 4, 0));
	rd64("read", e);
	printf("after the read: %d\n", epoll_wait(ep, out, 4, 0));

	int t = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	ev.data.u32 = 2;
	epoll_ctl(ep, EPOLL_CTL_ADD, t, &ev);
	set(t, 0, 0, 10000000, 0, 0, NULL);
	int n = epoll_wait(ep, out, 4, -1);
	printf("timer: %d data %u\n", n, out[0].data.u32);
	printf("again: %d\n", epoll_wait(ep, out, 4, 0));
	set(t, 0, 0, 10000000, 0, 0, NULL);
	n = epoll_wait(ep, out, 4, -1);
	printf("second expiry, not read: %d data %u\n", n, out[0].data.u32);
	close(t);
	close(e);
	close(ep);
}

/* Prints the lines of /proc/self/fdinfo/FD that start with one of the
 * prefixes, and what /proc/self/fd/FD links to. */
static void fdinfo(int fd, const char *const *prefixes)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
	FILE *f = fopen(path, "r");
	while (f && fgets(buf, sizeof buf, f)) {
		for (const char *const *p = prefixes; *p; p++) {
			if (strncmp(buf, *p, strlen(*p)) == 0) {
				/* An inotify line up to its mask (ino and sdev differ). */
				char *ino = strstr(buf, " ino:");
				char *mask = strstr(buf, " mask:");
				if (ino && mask) {
					*ino = 0;
					*strchr(mask + 1, ' ') = 0;
					printf("  %s%s\n", buf, mask);
				} else {
					printf("  %s", buf);
				}
			}
		}
	}
	if (f)
		fclose(f);
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	long n = readlink(path, buf, sizeof buf - 1);
	buf[n < 0 ? 0 : n] = 0;
	printf("  link %s\n", buf);
}

static void test_fdinfo(void)
{
	int e = eventfd(5, EFD_SEMAPHORE);
	static const char *const ev[] = { "eventfd-count", "eventfd-semaphore", "flags", NULL };
	printf("eventfd:\n");
	fdinfo(e, ev);
	wr64(e, 0x1234);
	fdinfo(e, ev);
	sigset_t m;
	sigemptyset(&m);
	sigaddset(&m, SIGUSR1);
	sigaddset(&m, SIGTERM);
	int s = signalfd(-1, &m, 0);
	static const char *const sg[] = { "sigmask", NULL };
	printf("signalfd:\n");
	fdinfo(s, sg);
	int t = timerfd_create(CLOCK_MONOTONIC, 0);
	static const char *const none[] = { NULL };
	printf("timerfd:\n");
	fdinfo(t, none);
	int i = inotify_init1(0);
	inotify_add_watch(i, ".", IN_CREATE | IN_DELETE);
	inotify_add_watch(i, "/", IN_ATTRIB | IN_ONESHOT);
	static const char *const in[] = { "inotify", NULL };
	printf("inotify:\n");
	fdinfo(i, in);
	close(e);
	close(s);
	close(t);
	close(i);
}

struct section {
	const char *name;
	void (*fn)(void);
};

static const struct section sections[] = {
	{ "eventfd", test_eventfd },
	{ "eventfd_block", test_eventfd_block },
	{ "timerfd", test_timerfd },
	{ "timerfd_wake", test_timerfd_wake },
	{ "signalfd", test_signalfd },
	{ "signalfd_wake", test_signalfd_wake },
	{ "epoll", test_epoll },
	{ "epoll_et", test_epoll_et },
	{ "fdinfo", test_fdinfo },
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
