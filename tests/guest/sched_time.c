/* sched_time: the scheduler and time always win. Runnable processes get the
 * CPU however they became runnable, signals reach a process spinning in user
 * mode, RLIMIT_CPU fires, and a nested fault that overflows the alternate
 * signal stack kills with SIGSEGV. Prints no times, only outcomes.
 *
 * Arguments name sections (all the finite ones if none). The sections
 * `spin_yield` and `stopped_sleeper` never end: they are run under
 * `umbra run --timeout`, which must stop them. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "common.h"

static void spin_yield_forever(void)
{
	struct timespec ts;
	for (;;) {
		sched_yield();
		clock_gettime(CLOCK_MONOTONIC, &ts);
	}
}

/* Two processes looping on sched_yield + clock_gettime, forever. */
static void test_spin_yield(void)
{
	if (fork() < 0)
		printf("fork: %s\n", errname(errno));
	spin_yield_forever();
}

/* A process stopped in the middle of a sleep whose deadline passes, while
 * another spins on sched_yield: a wait deadline of a stopped process must not
 * hide the other timers. Never ends. */
static void test_stopped_sleeper(void)
{
	pid_t a = fork();
	if (a == 0) {
		sleep(1);
		_exit(0);
	}
	usleep(200000);
	if (fork() == 0)
		spin_yield_forever();
	kill(a, SIGSTOP);
	for (;;)
		wait(NULL);
}

/* Two children each write one byte to a pipe; the parent polls it with
 * non-blocking reads (no blocking call) until both bytes came. 50 rounds. */
static void test_starve_pipe(void)
{
	int ok = 0;
	for (int round = 0; round < 50; round++) {
		int p[2];
		if (pipe(p) < 0) {
			printf("pipe: %s\n", errname(errno));
			return;
		}
		fcntl(p[0], F_SETFL, O_NONBLOCK);
		for (int c = 0; c < 2; c++) {
			pid_t pid = fork();
			if (pid == 0) {
				char b = 'a' + c;
				_exit(write(p[1], &b, 1) == 1 ? 0 : 1);
			}
		}
		int got = 0;
		char buf[2];
		while (got < 2) {
			ssize_t n = read(p[0], buf, sizeof buf);
			if (n > 0)
				got += n;
			else if (n < 0 && errno != EAGAIN)
				break;
		}
		int st, good = 1;
		for (int c = 0; c < 2; c++)
			if (wait(&st) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
				good = 0;
		close(p[0]);
		close(p[1]);
		ok += got == 2 && good;
	}
	printf("starve_pipe: %d of 50 rounds got both bytes\n", ok);
}

static volatile sig_atomic_t flag;

static void on_signal(int sig)
{
	(void)sig;
	flag = 1;
}

/* alarm(1) in a process that loops without syscalls. */
static void test_alarm_spin(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGALRM, &sa, NULL);
	flag = 0;
	alarm(1);
	while (!flag)
		;
	printf("alarm: SIGALRM reached the spinning process\n");
	signal(SIGALRM, SIG_DFL);
}

/* A child spins in user mode; its parent kills it after a sleep. */
static void test_kill_spin(void)
{
	pid_t pid = fork();
	if (pid == 0)
		for (;;)
			;
	struct timespec ts = { 0, 100000000 };
	nanosleep(&ts, NULL);
	kill(pid, SIGUSR1);
	int st;
	waitpid(pid, &st, 0);
	printf("kill_spin: killed by %d\n", WIFSIGNALED(st) ? WTERMSIG(st) : -1);
}

/* A parent spins in user mode; the child it forked must still run. */
static void test_child_runs(void)
{
	int p[2];
	if (pipe(p) < 0)
		return;
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	pid_t pid = fork();
	if (pid == 0) {
		write(p[1], "x", 1);
		_exit(0);
	}
	char c;
	/* Spin without syscalls between the reads for a while each time. */
	for (;;) {
		for (volatile int i = 0; i < 100000; i++)
			;
		if (read(p[0], &c, 1) == 1)
			break;
	}
	waitpid(pid, NULL, 0);
	printf("child_runs: the child ran while its parent spun\n");
}

/* RLIMIT_CPU soft 1 s, hard 2 s: SIGXCPU at 1 s of CPU time (the soft limit
 * then moves to 2 s), SIGKILL at 2 s. */
static void test_rlimit_cpu(void)
{
	pid_t pid = fork();
	if (pid == 0) {
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_signal;
		sigaction(SIGXCPU, &sa, NULL);
		struct rlimit rl = { 1, 2 };
		if (setrlimit(RLIMIT_CPU, &rl) < 0)
			printf("setrlimit: %s\n", errname(errno));
		flag = 0;
		for (;;) {
			if (flag) {
				flag = 0;
				getrlimit(RLIMIT_CPU, &rl);
				printf("SIGXCPU: soft now %ld, hard %ld\n", (long)rl.rlim_cur,
				       (long)rl.rlim_max);
			}
		}
	}
	int st;
	waitpid(pid, &st, 0);
	printf("rlimit_cpu: killed by %d\n", WIFSIGNALED(st) ? WTERMSIG(st) : -1);
}

static volatile int depth;

static void on_segv_nested(int sig)
{
	(void)sig;
	depth++;
	*(volatile int *)0 = 1; /* fault again, on the alternate stack */
}

/* SIGSEGV handler on a small alternate stack, SA_NODEFER, that faults again:
 * the frames pile up until the next one does not fit; Linux then kills the
 * process with SIGSEGV. */
static void test_altstack_overflow(void)
{
	pid_t pid = fork();
	if (pid == 0) {
		stack_t ss;
		ss.ss_size = 64 * 1024;
		ss.ss_sp = malloc(ss.ss_size);
		ss.ss_flags = 0;
		if (sigaltstack(&ss, NULL) < 0)
			printf("sigaltstack: %s\n", errname(errno));
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_segv_nested;
		sa.sa_flags = SA_ONSTACK | SA_NODEFER;
		sigaction(SIGSEGV, &sa, NULL);
		*(volatile int *)0 = 1;
		_exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	printf("altstack_overflow: killed by %d\n", WIFSIGNALED(st) ? WTERMSIG(st) : -1);
}

struct section {
	const char *name;
	void (*fn)(void);
	int forever;
};

static const struct section sections[] = {
	{ "spin_yield", test_spin_yield, 1 },
	{ "stopped_sleeper", test_stopped_sleeper, 1 },
	{ "starve_pipe", test_starve_pipe, 0 },
	{ "alarm_spin", test_alarm_spin, 0 },
	{ "kill_spin", test_kill_spin, 0 },
	{ "child_runs", test_child_runs, 0 },
	{ "rlimit_cpu", test_rlimit_cpu, 0 },
	{ "altstack_overflow", test_altstack_overflow, 0 },
	{ 0, 0, 0 },
};

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (const struct section *s = sections; s->name; s++) {
		int run = argc < 2 && !s->forever;
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
