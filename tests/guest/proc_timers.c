/* proc_timers: nanosleep, clock_nanosleep (relative and absolute), alarm,
 * setitimer/getitimer, times, getrusage, sysinfo. Prints comparisons with
 * generous bounds, never times. Arguments name sections (all if none). */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/sysinfo.h>
#include <sys/time.h>
#include <sys/times.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "common.h"

static long ms_since(const struct timespec *t0, clockid_t clk)
{
	struct timespec t1;
	clock_gettime(clk, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

static void test_sleep(void)
{
	struct timespec t0, ts = { 0, 50000000 };
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int r = nanosleep(&ts, NULL);
	long ms = ms_since(&t0, CLOCK_MONOTONIC);
	printf("nanosleep 50ms: %d, elapsed >= 50ms: %d, < 5s: %d\n", r, ms >= 50, ms < 5000);
	ts.tv_nsec = 1000000000;
	check("nanosleep nsec=1e9", nanosleep(&ts, NULL));
	ts.tv_sec = -1;
	ts.tv_nsec = 0;
	check("nanosleep negative", nanosleep(&ts, NULL));
	ts.tv_sec = 0;
	check("nanosleep 0", nanosleep(&ts, NULL));

	clock_gettime(CLOCK_MONOTONIC, &t0);
	ts.tv_sec = 0;
	ts.tv_nsec = 30000000;
	r = clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
	ms = ms_since(&t0, CLOCK_MONOTONIC);
	printf("clock_nanosleep relative 30ms: %d, elapsed >= 30ms: %d\n", r, ms >= 30);

	clockid_t clocks[] = { CLOCK_MONOTONIC, CLOCK_REALTIME };
	for (int i = 0; i < 2; i++) {
		struct timespec target, now;
		clock_gettime(clocks[i], &target);
		target.tv_nsec += 60000000;
		if (target.tv_nsec >= 1000000000) {
			target.tv_nsec -= 1000000000;
			target.tv_sec++;
		}
		r = clock_nanosleep(clocks[i], TIMER_ABSTIME, &target, NULL);
		clock_gettime(clocks[i], &now);
		int reached = now.tv_sec > target.tv_sec ||
			      (now.tv_sec == target.tv_sec && now.tv_nsec >= target.tv_nsec);
		printf("clock_nanosleep TIMER_ABSTIME %s: %d, deadline reached: %d\n",
		       i ? "REALTIME" : "MONOTONIC", r, reached);
	}
	struct timespec past = { 1, 0 };
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &past, NULL);
	printf("clock_nanosleep TIMER_ABSTIME in the past: %d, at once: %d\n", r,
	       ms_since(&t0, CLOCK_MONOTONIC) < 1000);
	ts.tv_nsec = 1000;
	printf("clock_nanosleep bad clock: %s\n", errname(clock_nanosleep(12345, 0, &ts, NULL)));
	ts.tv_nsec = -1;
	printf("clock_nanosleep bad nsec: %s\n",
	       errname(clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL)));
	struct timespec res;
	clock_getres(CLOCK_MONOTONIC, &res);
	printf("clock_getres MONOTONIC <= 1ms: %d\n", res.tv_sec == 0 && res.tv_nsec <= 1000000);
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("monotonic does not go back: %d\n",
	       b.tv_sec > a.tv_sec || (b.tv_sec == a.tv_sec && b.tv_nsec >= a.tv_nsec));
	clock_gettime(CLOCK_REALTIME, &a);
	printf("realtime after 2020: %d\n", a.tv_sec > 1577836800);
	struct timeval tv;
	gettimeofday(&tv, NULL);
	printf("gettimeofday close to CLOCK_REALTIME: %d\n",
	       tv.tv_sec - a.tv_sec >= 0 && tv.tv_sec - a.tv_sec < 5);
}

static volatile sig_atomic_t ticks;

static void on_alarm(int sig)
{
	(void)sig;
	ticks++;
}

static void test_alarm(void)
{
	signal(SIGALRM, on_alarm);
	printf("alarm(10) first: %u\n", alarm(10));
	printf("alarm(5) returns the remaining: %u\n", alarm(5));
	printf("alarm(0) returns the remaining: %u\n", alarm(0));
	printf("alarm(0) again: %u\n", alarm(0));
	struct itimerval it;
	getitimer(ITIMER_REAL, &it);
	printf("disarmed: value %ld.%06ld interval %ld.%06ld\n", (long)it.it_value.tv_sec,
	       (long)it.it_value.tv_usec, (long)it.it_interval.tv_sec,
	       (long)it.it_interval.tv_usec);
	/* alarm and ITIMER_REAL are the same timer */
	alarm(3);
	getitimer(ITIMER_REAL, &it);
	printf("after alarm(3): value in (2s, 3s]: %d\n",
	       it.it_value.tv_sec == 2 || (it.it_value.tv_sec == 3 && it.it_value.tv_usec == 0));
	alarm(0);
	signal(SIGALRM, SIG_DFL);
}

static void test_itimer(void)
{
	signal(SIGALRM, on_alarm);
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, SIGALRM);
	sigprocmask(SIG_BLOCK, &block, &old);
	struct itimerval it = { { 0, 20000 }, { 0, 20000 } }, got, prev;
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	check("setitimer 20ms interval", setitimer(ITIMER_REAL, &it, NULL));
	ticks = 0;
	while (ticks < 3)
		sigsuspend(&old);
	long ms = ms_since(&t0, CLOCK_MONOTONIC);
	getitimer(ITIMER_REAL, &got);
	printf("ticks: %d, elapsed >= 60ms: %d\n", (int)ticks, ms >= 59);
	printf("getitimer interval: %ld.%06ld, value <= interval: %d\n",
	       (long)got.it_interval.tv_sec, (long)got.it_interval.tv_usec,
	       got.it_value.tv_sec == 0 && got.it_value.tv_usec <= 20000);
	struct itimerval off = { { 0, 0 }, { 0, 0 } };
	setitimer(ITIMER_REAL, &off, &prev);
	printf("setitimer old interval: %ld.%06ld\n", (long)prev.it_interval.tv_sec,
	       (long)prev.it_interval.tv_usec);
	sigprocmask(SIG_SETMASK, &old, NULL);
	/* one-shot: value only */
	struct itimerval one = { { 0, 0 }, { 1, 500000 } };
	setitimer(ITIMER_REAL, &one, NULL);
	getitimer(ITIMER_REAL, &got);
	printf("one-shot: interval 0: %d, value in (1.0s, 1.5s]: %d\n",
	       got.it_interval.tv_sec == 0 && got.it_interval.tv_usec == 0,
	       got.it_value.tv_sec == 1 && got.it_value.tv_usec <= 500000);
	setitimer(ITIMER_REAL, &off, NULL);
	it.it_value.tv_usec = 1000000;
	check("setitimer usec=1e6", setitimer(ITIMER_REAL, &it, NULL));
	check("setitimer bad which", setitimer(12345, &off, NULL));
	check("getitimer bad which", getitimer(12345, &got));
	/* a timer is not inherited by fork */
	setitimer(ITIMER_REAL, &one, NULL);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		struct itimerval c;
		getitimer(ITIMER_REAL, &c);
		_exit(c.it_value.tv_sec == 0 && c.it_value.tv_usec == 0 ? 0 : 1);
	}
	int st;
	waitpid(pid, &st, 0);
	printf("fork child's timer is disarmed: %d\n", WIFEXITED(st) && WEXITSTATUS(st) == 0);
	setitimer(ITIMER_REAL, &off, NULL);
	signal(SIGALRM, SIG_DFL);
}

static void test_accounting(void)
{
	printf("_SC_CLK_TCK: %ld\n", sysconf(_SC_CLK_TCK));
	struct tms t;
	clock_t c1 = times(&t);
	struct timespec ts = { 0, 30000000 };
	nanosleep(&ts, NULL);
	clock_t c2 = times(&t);
	printf("times advances: %d, by >= 2 ticks: %d\n", c2 >= c1, c2 - c1 >= 2);
	printf("times(NULL) works: %d\n", times(NULL) != (clock_t)-1);
	struct rusage ru;
	check("getrusage(SELF)", getrusage(RUSAGE_SELF, &ru));
	check("getrusage(CHILDREN)", getrusage(RUSAGE_CHILDREN, &ru));
	check("getrusage(bad)", getrusage(12345, &ru));
	/* a busy child's CPU time is accounted to the parent once reaped */
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		struct timespec t0;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		volatile unsigned long x = 0;
		while (ms_since(&t0, CLOCK_MONOTONIC) < 100)
			x++;
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	struct sysinfo si;
	memset(&si, 0, sizeof si);
	check("sysinfo", sysinfo(&si));
	printf("sysinfo: uptime >= 0: %d, totalram > 0: %d, freeram <= totalram: %d, "
	       "mem_unit >= 1: %d, procs >= 1: %d\n",
	       si.uptime >= 0, si.totalram > 0, si.freeram <= si.totalram, si.mem_unit >= 1,
	       si.procs >= 1);
}

static const struct section {
	const char *name;
	void (*fn)(void);
} sections[] = {
	{ "sleep", test_sleep },
	{ "alarm", test_alarm },
	{ "itimer", test_itimer },
	{ "accounting", test_accounting },
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
