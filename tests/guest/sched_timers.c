/* sched_timers: ITIMER_VIRTUAL and ITIMER_PROF, POSIX timers (timer_create,
 * timer_settime with and without TIMER_ABSTIME, timer_gettime,
 * timer_getoverrun, timer_delete; SIGEV_SIGNAL and SIGEV_NONE; per process,
 * not inherited by fork, gone at exec), and the clock-setting calls.
 * Prints outcomes and generous comparisons, never times.
 * Arguments name sections (all but `clock_set` if none: setting the clock
 * natively as root could succeed). */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/timex.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "common.h"

static const char *en(int e)
{
	switch (e) {
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case EAGAIN: return "EAGAIN";
	default: return errname(e);
	}
}

#define SHOW(what, call)                                                       \
	do {                                                                   \
		errno = 0;                                                     \
		long r_ = (call);                                              \
		int e_ = errno;                                                \
		printf("%s: %ld %s\n", what, r_, r_ < 0 ? en(e_) : "OK");     \
	} while (0)

static volatile sig_atomic_t hits;
static volatile int last_code, last_value, last_overrun;

static void on_sig(int sig, siginfo_t *si, void *ctx)
{
	(void)sig;
	(void)ctx;
	hits++;
	last_code = si->si_code;
	last_value = si->si_value.sival_int;
	last_overrun = si->si_overrun;
}

static void handle(int sig)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_sig;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigaction(sig, &sa, NULL);
}

static void block(int sig, int how)
{
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, sig);
	sigprocmask(how, &s, NULL);
}

/* Waits (race-free: the signal is blocked) until `n` hits were counted. */
static void wait_hits(int sig, int n)
{
	sigset_t m;
	sigprocmask(SIG_BLOCK, NULL, &m);
	sigdelset(&m, sig);
	while (hits < n)
		sigsuspend(&m);
}

static void test_itimer_cpu(void)
{
	const int which[] = { ITIMER_VIRTUAL, ITIMER_PROF };
	const int sigs[] = { SIGVTALRM, SIGPROF };
	const char *names[] = { "ITIMER_VIRTUAL", "ITIMER_PROF" };
	for (int i = 0; i < 2; i++) {
		handle(sigs[i]);
		hits = 0;
		struct itimerval it = { { 0, 50000 }, { 0, 100000 } }, cur;
		SHOW(names[i], setitimer(which[i], &it, NULL));
		getitimer(which[i], &cur);
		printf("%s armed: value in (0, 200ms] %d, interval 50ms %d\n", names[i],
		       (cur.it_value.tv_sec == 0 && cur.it_value.tv_usec > 0 &&
			cur.it_value.tv_usec <= 200000),
		       cur.it_interval.tv_sec == 0 && cur.it_interval.tv_usec == 50000);
		while (hits < 3)
			; /* burn CPU time in user mode */
		struct itimerval off = { { 0, 0 }, { 0, 0 } };
		setitimer(which[i], &off, &cur);
		printf("%s: 3 signals while spinning, code SI_KERNEL %d\n", names[i],
		       last_code == SI_KERNEL);
		getitimer(which[i], &cur);
		printf("%s disarmed: %ld %ld\n", names[i], (long)cur.it_value.tv_sec,
		       (long)cur.it_value.tv_usec);
		signal(sigs[i], SIG_DFL);
	}
	struct itimerval it;
	SHOW("getitimer 3", getitimer(3, &it));
}

static timer_t make(clockid_t clock, int notify, int sig, int value)
{
	struct sigevent sev;
	memset(&sev, 0, sizeof sev);
	sev.sigev_notify = notify;
	sev.sigev_signo = sig;
	sev.sigev_value.sival_int = value;
	timer_t t = 0;
	if (timer_create(clock, &sev, &t) < 0)
		printf("timer_create: %s\n", en(errno));
	return t;
}

static void test_posix_signal(void)
{
	const clockid_t clocks[] = { CLOCK_MONOTONIC, CLOCK_REALTIME, CLOCK_BOOTTIME };
	const char *names[] = { "MONOTONIC", "REALTIME", "BOOTTIME" };
	handle(SIGUSR1);
	block(SIGUSR1, SIG_BLOCK);
	for (int i = 0; i < 3; i++) {
		hits = 0;
		timer_t t = make(clocks[i], SIGEV_SIGNAL, SIGUSR1, 42 + i);
		struct itimerspec its = { { 0, 0 }, { 0, 50000000 } }, cur;
		SHOW("timer_settime 50ms", timer_settime(t, 0, &its, NULL));
		timer_gettime(t, &cur);
		printf("%s armed: value in (0, 50ms] %d\n", names[i],
		       cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec > 0 &&
			       cur.it_value.tv_nsec <= 50000000);
		wait_hits(SIGUSR1, 1);
		printf("%s fired: SI_TIMER %d, value %d, overrun %d, getoverrun %d\n", names[i],
		       last_code == SI_TIMER, last_value, last_overrun, timer_getoverrun(t));
		timer_gettime(t, &cur);
		printf("%s after: %ld %ld\n", names[i], (long)cur.it_value.tv_sec,
		       (long)cur.it_value.tv_nsec);
		SHOW("timer_delete", timer_delete(t));
	}
	block(SIGUSR1, SIG_UNBLOCK);
	signal(SIGUSR1, SIG_DFL);
}

static void test_posix_abstime(void)
{
	const clockid_t clocks[] = { CLOCK_MONOTONIC, CLOCK_REALTIME };
	handle(SIGUSR2);
	block(SIGUSR2, SIG_BLOCK);
	for (int i = 0; i < 2; i++) {
		hits = 0;
		timer_t t = make(clocks[i], SIGEV_SIGNAL, SIGUSR2, 7);
		struct timespec target, now;
		clock_gettime(clocks[i], &target);
		target.tv_nsec += 80000000;
		if (target.tv_nsec >= 1000000000) {
			target.tv_nsec -= 1000000000;
			target.tv_sec++;
		}
		struct itimerspec its = { { 0, 0 }, target };
		SHOW("timer_settime TIMER_ABSTIME", timer_settime(t, TIMER_ABSTIME, &its, NULL));
		wait_hits(SIGUSR2, 1);
		clock_gettime(clocks[i], &now);
		printf("fired at or after the deadline: %d\n",
		       now.tv_sec > target.tv_sec ||
			       (now.tv_sec == target.tv_sec && now.tv_nsec >= target.tv_nsec));
		/* A deadline in the past fires at once. */
		hits = 0;
		its.it_value.tv_sec = 0;
		its.it_value.tv_nsec = 1;
		timer_settime(t, TIMER_ABSTIME, &its, NULL);
		wait_hits(SIGUSR2, 1);
		printf("past deadline fired: %d\n", (int)hits);
		timer_delete(t);
	}
	block(SIGUSR2, SIG_UNBLOCK);
	signal(SIGUSR2, SIG_DFL);
}

static void test_posix_overrun(void)
{
	handle(SIGUSR1);
	block(SIGUSR1, SIG_BLOCK);
	hits = 0;
	timer_t t = make(CLOCK_MONOTONIC, SIGEV_SIGNAL, SIGUSR1, 5);
	struct itimerspec its = { { 0, 10000000 }, { 0, 10000000 } }, cur;
	timer_settime(t, 0, &its, NULL);
	struct timespec ts = { 0, 200000000 };
	nanosleep(&ts, NULL);
	timer_gettime(t, &cur);
	printf("periodic: interval 10ms %d, value in (0, 10ms] %d\n",
	       cur.it_interval.tv_sec == 0 && cur.it_interval.tv_nsec == 10000000,
	       cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec > 0 &&
		       cur.it_value.tv_nsec <= 10000000);
	/* Take the one pending signal with its overrun. */
	wait_hits(SIGUSR1, 1);
	printf("one signal, overrun >= 5: %d, getoverrun >= 5: %d, handler ran %d\n",
	       last_overrun >= 5, timer_getoverrun(t) >= 5, (int)hits);
	SHOW("timer_delete", timer_delete(t));
	SHOW("timer_gettime deleted", timer_gettime(t, &cur));
	block(SIGUSR1, SIG_UNBLOCK);
	signal(SIGUSR1, SIG_DFL);
}

static void test_posix_none(void)
{
	timer_t t = make(CLOCK_MONOTONIC, SIGEV_NONE, 0, 0);
	struct itimerspec its = { { 0, 0 }, { 0, 30000000 } }, cur;
	timer_settime(t, 0, &its, NULL);
	timer_gettime(t, &cur);
	printf("SIGEV_NONE armed: value in (0, 30ms] %d\n",
	       cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec > 0 &&
		       cur.it_value.tv_nsec <= 30000000);
	struct timespec ts = { 0, 60000000 };
	nanosleep(&ts, NULL);
	timer_gettime(t, &cur);
	printf("SIGEV_NONE expired: %ld %ld, overrun %d\n", (long)cur.it_value.tv_sec,
	       (long)cur.it_value.tv_nsec, timer_getoverrun(t));
	timer_delete(t);
}

static void test_posix_errors(void)
{
	struct sigevent sev;
	memset(&sev, 0, sizeof sev);
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = SIGUSR1;
	int id;
	SHOW("timer_create clock 100", syscall(SYS_timer_create, 100, &sev, &id));
	SHOW("timer_create MONOTONIC_RAW", syscall(SYS_timer_create, CLOCK_MONOTONIC_RAW, &sev, &id));
	sev.sigev_signo = 0;
	SHOW("timer_create signal 0", syscall(SYS_timer_create, CLOCK_MONOTONIC, &sev, &id));
	sev.sigev_signo = 65;
	SHOW("timer_create signal 65", syscall(SYS_timer_create, CLOCK_MONOTONIC, &sev, &id));
	sev.sigev_signo = SIGUSR1;
	sev.sigev_notify = 99;
	SHOW("timer_create notify 99", syscall(SYS_timer_create, CLOCK_MONOTONIC, &sev, &id));
	sev.sigev_notify = SIGEV_SIGNAL;
	SHOW("timer_create", syscall(SYS_timer_create, CLOCK_MONOTONIC, &sev, &id));
	printf("first id: %d\n", id);
	int id2 = -1;
	syscall(SYS_timer_create, CLOCK_MONOTONIC, NULL, &id2);
	printf("second id: %d\n", id2);
	struct itimerspec bad = { { 0, 0 }, { 0, 1000000000 } };
	SHOW("timer_settime nsec 1e9", syscall(SYS_timer_settime, id, 0, &bad, NULL));
	bad.it_value.tv_nsec = 0;
	bad.it_value.tv_sec = -1;
	SHOW("timer_settime negative", syscall(SYS_timer_settime, id, 0, &bad, NULL));
	SHOW("timer_settime no such id", syscall(SYS_timer_settime, 4000, 0, &bad, NULL));
	SHOW("timer_getoverrun no such id", syscall(SYS_timer_getoverrun, 4000));
	SHOW("timer_delete no such id", syscall(SYS_timer_delete, 4000));
	/* Not inherited by fork. */
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		struct itimerspec cur;
		SHOW("child: timer_gettime of the parent's timer",
		     syscall(SYS_timer_gettime, id, &cur));
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	syscall(SYS_timer_delete, id);
	syscall(SYS_timer_delete, id2);
}

/* umbra only: natively, root may be allowed to set the clock. */
static void test_clock_set(void)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	SHOW("clock_settime REALTIME", clock_settime(CLOCK_REALTIME, &now));
	SHOW("clock_settime MONOTONIC", clock_settime(CLOCK_MONOTONIC, &now));
	struct timeval tv;
	gettimeofday(&tv, NULL);
	SHOW("settimeofday", settimeofday(&tv, NULL));
	struct timex tx;
	memset(&tx, 0, sizeof tx);
	tx.modes = ADJ_OFFSET;
	SHOW("adjtimex ADJ_OFFSET", syscall(SYS_adjtimex, &tx));
	SHOW("clock_adjtime ADJ_OFFSET", syscall(SYS_clock_adjtime, CLOCK_REALTIME, &tx));
}

struct section {
	const char *name;
	void (*fn)(void);
	int explicit_only;
};

static const struct section sections[] = {
	{ "itimer_cpu", test_itimer_cpu, 0 },
	{ "posix_signal", test_posix_signal, 0 },
	{ "posix_abstime", test_posix_abstime, 0 },
	{ "posix_overrun", test_posix_overrun, 0 },
	{ "posix_none", test_posix_none, 0 },
	{ "posix_errors", test_posix_errors, 0 },
	{ "clock_set", test_clock_set, 1 },
	{ 0, 0, 0 },
};

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (const struct section *s = sections; s->name; s++) {
		int run = argc < 2 && !s->explicit_only;
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
