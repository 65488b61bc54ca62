/* sched_sig: waits, vfork, signal actions and priorities. waitid with only
 * WSTOPPED, __WCLONE and __WALL with clone children that do not signal
 * SIGCHLD, vfork while a SIGCHLD arrives, what SA_RESETHAND keeps,
 * sigaltstack's argument checks, getpriority and setpriority.
 * Arguments name sections (all if none). */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "common.h"

/* errname() with the errnos of waits and priorities. */
static const char *en(int e)
{
	switch (e) {
	case ECHILD: return "ECHILD";
	case ESRCH: return "ESRCH";
	case EINTR: return "EINTR";
	default: return errname(e);
	}
}

/* Prints "what: result errno" of a call made just before (errno saved). */
static void show(const char *what, long r, int e)
{
	printf("%s: %ld %s\n", what, r, r < 0 ? en(e) : "OK");
}

#define SHOW(what, call)                        \
	do {                                    \
		errno = 0;                      \
		long r_ = (call);               \
		show(what, r_, errno);          \
	} while (0)

#ifndef __WCLONE
#define __WCLONE 0x80000000
#endif
#ifndef __WALL
#define __WALL 0x40000000
#endif
#ifndef SS_AUTODISARM
#define SS_AUTODISARM (1U << 31)
#endif

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void test_waitid_options(void)
{
	siginfo_t si;
	errno = 0;
	int r = waitid(P_ALL, 0, &si, WSTOPPED);
	printf("no children, WSTOPPED: %d %s\n", r, en(errno));
	/* A child that has exited: only WEXITED could report it. */
	pid_t pid = fork();
	if (pid == 0)
		_exit(5);
	siginfo_t w;
	waitid(P_PID, pid, &w, WEXITED | WNOWAIT); /* it is a zombie now */
	errno = 0;
	r = waitid(P_ALL, 0, &si, WSTOPPED);
	printf("only a zombie child, WSTOPPED: %d %s\n", r, en(errno));
	errno = 0;
	r = waitid(P_ALL, 0, &si, WSTOPPED | WCONTINUED);
	printf("only a zombie child, WSTOPPED|WCONTINUED: %d %s\n", r, en(errno));
	memset(&si, 0, sizeof si);
	r = waitid(P_ALL, 0, &si, WEXITED);
	printf("WEXITED: %d, pid ok %d, status %d\n", r, si.si_pid == pid, si.si_status);
	/* A live child: WSTOPPED|WNOHANG finds nothing yet, returns 0. */
	pid = fork();
	if (pid == 0) {
		pause();
		_exit(0);
	}
	memset(&si, 0xff, sizeof si);
	r = waitid(P_ALL, 0, &si, WSTOPPED | WNOHANG);
	printf("live child, WSTOPPED|WNOHANG: %d, si_pid %d\n", r, (int)si.si_pid);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static char clone_stack[64 * 1024] __attribute__((aligned(16)));

static int clone_child(void *arg)
{
	(void)arg;
	return 7;
}

/* A child made by clone with exit signal `sig` (0: none). */
static pid_t clone_with(int sig)
{
	return clone(clone_child, clone_stack + sizeof clone_stack, sig, NULL);
}

static void test_wclone(void)
{
	int st;
	const int sigs[] = { 0, SIGUSR1 };
	signal(SIGUSR1, SIG_IGN);
	for (int i = 0; i < 2; i++) {
		pid_t pid = clone_with(sigs[i]);
		if (pid < 0) {
			printf("clone: %s\n", en(errno));
			return;
		}
		sleep_ms(50);
		errno = 0;
		pid_t r = waitpid(-1, &st, WNOHANG);
		printf("exit signal %d: waitpid without __WCLONE: %d %s\n", sigs[i], (int)r,
		       en(errno));
		r = waitpid(-1, &st, __WCLONE);
		printf("exit signal %d: waitpid __WCLONE: pid ok %d, status %d\n", sigs[i],
		       r == pid, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	}
	/* A SIGCHLD child is invisible to __WCLONE, visible to __WALL. */
	pid_t pid = fork();
	if (pid == 0)
		_exit(3);
	sleep_ms(50);
	errno = 0;
	pid_t r = waitpid(-1, &st, __WCLONE | WNOHANG);
	printf("SIGCHLD child, __WCLONE: %d %s\n", (int)r, en(errno));
	pid_t c = clone_with(0);
	r = waitpid(pid, &st, __WALL);
	printf("__WALL, SIGCHLD child: pid ok %d, status %d\n", r == pid, WEXITSTATUS(st));
	r = waitpid(c, &st, __WALL);
	printf("__WALL, clone child: pid ok %d, status %d\n", r == c, WEXITSTATUS(st));
	siginfo_t si;
	c = clone_with(0);
	memset(&si, 0, sizeof si);
	int ri = waitid(P_PID, c, &si, WEXITED | __WCLONE);
	printf("waitid __WCLONE: %d, pid ok %d, status %d\n", ri, si.si_pid == c, si.si_status);
	signal(SIGUSR1, SIG_DFL);
}

static volatile sig_atomic_t chld_seen;

static void on_chld(int sig)
{
	(void)sig;
	chld_seen++;
}

/* A SIGCHLD (from another child) comes while the parent waits for its vfork
 * child: vfork still returns the child's pid, and the handler runs after. */
static void test_vfork_sigchld(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_chld;
	sigaction(SIGCHLD, &sa, NULL);
	fflush(stdout);
	pid_t early = fork();
	if (early == 0) {
		sleep_ms(50);
		_exit(0);
	}
	pid_t pid = vfork();
	if (pid == 0) {
		struct timespec ts = { 0, 400000000 };
		syscall(SYS_nanosleep, &ts, NULL);
		_exit(4);
	}
	int e = errno;
	printf("vfork: returned a pid %d%s\n", pid > 0, pid < 0 ? errname(e) : "");
	int st;
	waitpid(pid, &st, 0);
	printf("vfork child: status %d\n", WEXITSTATUS(st));
	waitpid(early, NULL, 0);
	printf("SIGCHLD handler ran: %d\n", chld_seen > 0);
	signal(SIGCHLD, SIG_DFL);
}

static volatile sig_atomic_t usr1_seen;

static void on_usr1(int sig)
{
	(void)sig;
	usr1_seen++;
}

static void test_resethand(void)
{
	struct sigaction sa, old;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_RESETHAND | SA_RESTART | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGUSR2);
	sigaction(SIGUSR1, &sa, NULL);
	raise(SIGUSR1);
	sigaction(SIGUSR1, NULL, &old);
	unsigned want = SA_RESETHAND | SA_RESTART | SA_ONSTACK | SA_NODEFER | SA_SIGINFO;
	printf("after delivery: handler ran %d, handler is SIG_DFL %d\n", (int)usr1_seen,
	       old.sa_handler == SIG_DFL);
	printf("flags kept: RESETHAND %d RESTART %d ONSTACK %d NODEFER %d SIGINFO %d\n",
	       !!(old.sa_flags & SA_RESETHAND), !!(old.sa_flags & SA_RESTART),
	       !!(old.sa_flags & SA_ONSTACK), !!(old.sa_flags & SA_NODEFER),
	       !!(old.sa_flags & SA_SIGINFO));
	(void)want;
	printf("mask kept: SIGUSR2 %d\n", sigismember(&old.sa_mask, SIGUSR2));
	signal(SIGUSR1, SIG_DFL);
}

static void try_altstack(const char *what, int flags, size_t size)
{
	static char mem[64 * 1024];
	stack_t ss = { .ss_sp = mem, .ss_flags = flags, .ss_size = size };
	/* The raw call: libcs check some arguments themselves. */
	errno = 0;
	long r = syscall(SYS_sigaltstack, &ss, NULL);
	printf("sigaltstack %s: %ld %s\n", what, r, en(errno));
}

static void test_altstack_flags(void)
{
	try_altstack("SS_DISABLE|SS_ONSTACK", SS_DISABLE | SS_ONSTACK, sizeof(char[16384]));
	try_altstack("flag 4", 4, 16384);
	try_altstack("SS_DISABLE|4", SS_DISABLE | 4, 16384);
	try_altstack("flag 8", 8, 16384);
	try_altstack("size 1024", 0, 1024);
	try_altstack("SS_DISABLE, size 0", SS_DISABLE, 0);
	try_altstack("SS_ONSTACK", SS_ONSTACK, 16384);
	try_altstack("0", 0, 16384);
	stack_t cur;
	sigaltstack(NULL, &cur);
	printf("current: flags %d size %zu\n", cur.ss_flags, cur.ss_size);
	try_altstack("SS_DISABLE", SS_DISABLE, 0);
}

static void test_priority(void)
{
	/* Start from nice 0 whatever the runner's own nice value (a test run
	 * under `nice` starts the native program at nice 5; the guest's pid 1
	 * starts at 0). The tests run as root, so lowering it is allowed. */
	if (setpriority(PRIO_PROCESS, 0, 0) != 0)
		printf("cannot reset nice to 0: errno %d\n", errno);
	SHOW("getpriority self", getpriority(PRIO_PROCESS, 0));
	SHOW("raw getpriority self", syscall(SYS_getpriority, PRIO_PROCESS, 0));
	SHOW("setpriority 5", setpriority(PRIO_PROCESS, 0, 5));
	SHOW("getpriority", getpriority(PRIO_PROCESS, 0));
	SHOW("raw getpriority", syscall(SYS_getpriority, PRIO_PROCESS, 0));
	SHOW("setpriority 100 (clamped)", setpriority(PRIO_PROCESS, 0, 100));
	SHOW("getpriority", getpriority(PRIO_PROCESS, 0));
	SHOW("setpriority -100 as root (clamped)", setpriority(PRIO_PROCESS, 0, -100));
	SHOW("getpriority", getpriority(PRIO_PROCESS, 0));
	SHOW("raw getpriority", syscall(SYS_getpriority, PRIO_PROCESS, 0));
	setpriority(PRIO_PROCESS, 0, 3);
	SHOW("getpriority which 7", getpriority(7, 0));
	SHOW("setpriority which 7", setpriority(7, 0, 1));
	SHOW("getpriority no such pid", getpriority(PRIO_PROCESS, 999999));
	SHOW("setpriority no such pid", setpriority(PRIO_PROCESS, 999999, 1));
	SHOW("getpriority no such group", getpriority(PRIO_PGRP, 999999));
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		SHOW("child inherits", getpriority(PRIO_PROCESS, 0));
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	/* A process group of our own (the test's own group must not change):
	 * its priority is the highest (lowest nice) of its members. */
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		setpgid(0, 0);
		setpriority(PRIO_PROCESS, 0, 4);
		pid_t member = fork();
		if (member == 0) {
			setpriority(PRIO_PROCESS, 0, 1);
			pause();
			_exit(0);
		}
		sleep_ms(100);
		SHOW("PRIO_PGRP 0", getpriority(PRIO_PGRP, 0));
		SHOW("PRIO_PGRP by id", getpriority(PRIO_PGRP, getpgrp()));
		SHOW("member by pid", getpriority(PRIO_PROCESS, member));
		SHOW("setpriority PRIO_PGRP 0 to 6", setpriority(PRIO_PGRP, 0, 6));
		SHOW("member now", getpriority(PRIO_PROCESS, member));
		SHOW("self now", getpriority(PRIO_PROCESS, 0));
		kill(member, SIGKILL);
		waitpid(member, NULL, 0);
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	/* As a user that is not root: lowering the nice value is EACCES, and
	 * another user's process is EPERM. */
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		if (setuid(65534) < 0) {
			printf("setuid: %s\n", en(errno));
			_exit(1);
		}
		SHOW("nobody raises nice to 8", setpriority(PRIO_PROCESS, 0, 8));
		SHOW("nobody lowers nice to 2", setpriority(PRIO_PROCESS, 0, 2));
		SHOW("nobody sets it to 8 again", setpriority(PRIO_PROCESS, 0, 8));
		SHOW("nobody sets its parent's", setpriority(PRIO_PROCESS, getppid(), 10));
		SHOW("nobody reads its parent's", getpriority(PRIO_PROCESS, getppid()));
		SHOW("PRIO_USER 0", getpriority(PRIO_USER, 0));
		SHOW("PRIO_USER 65534", getpriority(PRIO_USER, 65534));
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	setpriority(PRIO_PROCESS, 0, 0);
}

struct section {
	const char *name;
	void (*fn)(void);
};

static const struct section sections[] = {
	{ "waitid_options", test_waitid_options },
	{ "wclone", test_wclone },
	{ "vfork_sigchld", test_vfork_sigchld },
	{ "resethand", test_resethand },
	{ "altstack_flags", test_altstack_flags },
	{ "priority", test_priority },
	{ 0, 0 },
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
