/* proc_signals: one section per signal feature, in one process or with
 * children it waits for: SA_SIGINFO, SA_RESTART vs EINTR, SA_NODEFER,
 * SA_RESETHAND, SA_ONSTACK with sigaltstack, masks and delivery order,
 * sigsuspend, sigpending, sigtimedwait, pause, kill errors, default actions,
 * signals across fork and execve.
 *
 * Arguments name the sections to run (all portable ones when none). Sections
 * marked umbra-only are not comparable natively and only run when named. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "common.h"

static const char *en(int e)
{
	switch (e) {
	case EAGAIN: return "EAGAIN";
	case EINTR: return "EINTR";
	case ESRCH: return "ESRCH";
	case ECHILD: return "ECHILD";
	default: return errname(e);
	}
}

static long chk(const char *what, long r)
{
	if (r < 0)
		printf("%s: -1 %s\n", what, en(errno));
	else
		printf("%s: %ld\n", what, r);
	return r;
}

static const char *code_name(int code)
{
	switch (code) {
	case SI_USER: return "SI_USER";
	case SI_TKILL: return "SI_TKILL";
	case SI_QUEUE: return "SI_QUEUE";
	case SI_KERNEL: return "SI_KERNEL";
	case SI_TIMER: return "SI_TIMER";
	default: return "other";
	}
}

static void status_line(const char *what, int st)
{
	if (WIFEXITED(st))
		printf("%s: exited %d\n", what, WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		printf("%s: killed by %d\n", what, WTERMSIG(st));
	else if (WIFSTOPPED(st))
		printf("%s: stopped by %d\n", what, WSTOPSIG(st));
	else
		printf("%s: status %#x\n", what, st);
}

static int reap(pid_t pid)
{
	int st = -1;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return st;
}

static void set_handler(int sig, void (*h)(int), int flags)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = h;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}

static void set_action(int sig, void (*h)(int, siginfo_t *, void *), int flags)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = h;
	sa.sa_flags = flags | SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}

static void block(int sig, int how)
{
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, sig);
	sigprocmask(how, &s, NULL);
}

static void show_set(const char *what, const sigset_t *s)
{
	printf("%s:", what);
	for (int sig = 1; sig < 65; sig++)
		if (sigismember(s, sig) == 1)
			printf(" %d", sig);
	printf("\n");
}

/* ---- SA_SIGINFO */

static volatile sig_atomic_t info_signo, info_code, info_pid_ok, info_uid_ok, info_arg_ok;
static volatile sig_atomic_t info_value;

static void info_handler(int sig, siginfo_t *si, void *uc)
{
	info_arg_ok = sig == si->si_signo && uc != NULL;
	info_signo = si->si_signo;
	info_code = si->si_code;
	info_pid_ok = si->si_pid == getpid();
	info_uid_ok = si->si_uid == getuid();
	info_value = si->si_value.sival_int;
}

static void test_siginfo(void)
{
	set_action(SIGUSR1, info_handler, 0);
	chk("kill(getpid(), SIGUSR1)", kill(getpid(), SIGUSR1));
	printf("kill: signo=%d code=%s pid-is-self=%d uid-ok=%d args-ok=%d\n", (int)info_signo,
	       code_name(info_code), (int)info_pid_ok, (int)info_uid_ok, (int)info_arg_ok);
	info_signo = 0;
	pid_t tid = (pid_t)syscall(SYS_gettid);
	chk("tgkill(getpid(), gettid(), SIGUSR1)", syscall(SYS_tgkill, getpid(), tid, SIGUSR1));
	printf("tgkill: signo=%d code=%s pid-is-self=%d\n", (int)info_signo,
	       code_name(info_code), (int)info_pid_ok);
	info_signo = 0;
	chk("tkill(gettid(), SIGUSR1)", syscall(SYS_tkill, tid, SIGUSR1));
	printf("tkill: signo=%d code=%s pid-is-self=%d\n", (int)info_signo,
	       code_name(info_code), (int)info_pid_ok);
	info_signo = 0;
	chk("raise(SIGUSR1)", raise(SIGUSR1));
	printf("raise: signo=%d\n", (int)info_signo);
	/* a child's kill carries the child's pid */
	fflush(stdout);
	pid_t parent = getpid();
	block(SIGUSR1, SIG_BLOCK);
	pid_t pid = fork();
	if (pid == 0) {
		kill(parent, SIGUSR1);
		_exit(0);
	}
	reap(pid);
	siginfo_t si;
	memset(&si, 0, sizeof si);
	struct timespec ts = { 5, 0 };
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	int sig = sigtimedwait(&set, &si, &ts);
	printf("child's kill: sig=%d code=%s pid-is-child=%d\n", sig, code_name(si.si_code),
	       si.si_pid == pid);
	block(SIGUSR1, SIG_UNBLOCK);
	signal(SIGUSR1, SIG_DFL);
}

/* ---- SA_RESTART vs EINTR: a read from an empty pipe interrupted by a timer */

static int restart_pipe[2];
static volatile sig_atomic_t alarms;

static void alarm_writes(int sig)
{
	(void)sig;
	alarms++;
	if (alarms >= 2)
		(void)write(restart_pipe[1], "!", 1);
}

static void one_shot_timer(long ms)
{
	struct itimerval it = { { 0, 0 }, { ms / 1000, (ms % 1000) * 1000 } };
	setitimer(ITIMER_REAL, &it, NULL);
}

static void on_alarm_rem(int sig)
{
	(void)sig;
}

static void test_restart(void)
{
	if (pipe(restart_pipe) < 0)
		return;
	char c;
	/* no SA_RESTART: the first signal interrupts the read */
	alarms = 1;
	set_handler(SIGALRM, alarm_writes, 0);
	alarms = 0;
	one_shot_timer(50);
	errno = 0;
	ssize_t n = read(restart_pipe[0], &c, 1);
	printf("read without SA_RESTART: %ld %s, handler ran %d\n", (long)n, en(errno),
	       (int)alarms);
	/* SA_RESTART: the read restarts after the first signal; the second
	 * signal's handler writes a byte, which the restarted read returns */
	alarms = 0;
	set_handler(SIGALRM, alarm_writes, SA_RESTART);
	struct itimerval it = { { 0, 30000 }, { 0, 30000 } };
	setitimer(ITIMER_REAL, &it, NULL);
	errno = 0;
	n = read(restart_pipe[0], &c, 1);
	one_shot_timer(0);
	printf("read with SA_RESTART: %ld '%c' %s, handler ran at least twice %d\n", (long)n, c,
	       en(errno), alarms >= 2);
	/* the same for a blocking wait4 and nanosleep (never restarted) */
	fflush(stdout);
	int p[2];
	if (pipe(p) < 0)
		return;
	pid_t pid = fork();
	if (pid == 0) {
		close(p[1]);
		(void)read(p[0], &c, 1);
		_exit(0);
	}
	close(p[0]);
	alarms = 0;
	set_handler(SIGALRM, alarm_writes, 0);
	one_shot_timer(50);
	errno = 0;
	pid_t w = waitpid(pid, NULL, 0);
	printf("waitpid without SA_RESTART: %d %s\n", (int)w, en(errno));
	set_handler(SIGALRM, alarm_writes, SA_RESTART);
	alarms = 0;
	one_shot_timer(50);
	struct timespec ts = { 5, 0 };
	errno = 0;
	int r = nanosleep(&ts, NULL);
	printf("nanosleep with SA_RESTART: %d %s\n", r, en(errno));
	close(p[1]);
	status_line("child", reap(pid));
	signal(SIGALRM, SIG_DFL);
	close(restart_pipe[0]);
	close(restart_pipe[1]);
}

/* nanosleep interrupted by a handler reports the time left */
static void test_nanosleep_rem(void)
{
	set_handler(SIGALRM, on_alarm_rem, 0);
	one_shot_timer(50);
	struct timespec ts = { 5, 0 }, rem = { 0, 0 };
	errno = 0;
	int r = nanosleep(&ts, &rem);
	printf("nanosleep interrupted: %d %s, remaining in (4s, 5s]: %d\n", r, en(errno),
	       rem.tv_sec == 4 || (rem.tv_sec == 5 && rem.tv_nsec == 0));
	signal(SIGALRM, SIG_DFL);
}

/* ---- SA_NODEFER: nesting depth */

static volatile sig_atomic_t depth, max_depth, calls, in_mask_self;

static void nest_handler(int sig)
{
	calls++;
	depth++;
	if (depth > max_depth)
		max_depth = depth;
	sigset_t cur;
	sigprocmask(SIG_BLOCK, NULL, &cur);
	in_mask_self = sigismember(&cur, sig);
	if (calls < 4)
		raise(sig);
	depth--;
}

static void test_nodefer(void)
{
	set_handler(SIGUSR1, nest_handler, SA_NODEFER);
	depth = max_depth = calls = 0;
	raise(SIGUSR1);
	printf("SA_NODEFER: calls=%d max depth=%d self blocked in handler=%d\n", (int)calls,
	       (int)max_depth, (int)in_mask_self);
	set_handler(SIGUSR1, nest_handler, 0);
	depth = max_depth = calls = 0;
	raise(SIGUSR1);
	printf("default: calls=%d max depth=%d self blocked in handler=%d\n", (int)calls,
	       (int)max_depth, (int)in_mask_self);
	/* sa_mask is blocked in the handler and restored afterwards */
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = nest_handler;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGUSR2);
	sigaction(SIGUSR1, &sa, NULL);
	calls = 10;
	raise(SIGUSR1);
	sigset_t cur;
	sigprocmask(SIG_BLOCK, NULL, &cur);
	printf("after handler: USR1 blocked %d, USR2 blocked %d\n", sigismember(&cur, SIGUSR1),
	       sigismember(&cur, SIGUSR2));
	signal(SIGUSR1, SIG_DFL);
}

/* ---- SA_RESETHAND */

static volatile sig_atomic_t reset_calls;

static void reset_handler(int sig)
{
	(void)sig;
	reset_calls++;
}

static void test_resethand(void)
{
	set_handler(SIGUSR2, reset_handler, SA_RESETHAND);
	raise(SIGUSR2);
	struct sigaction old;
	sigaction(SIGUSR2, NULL, &old);
	printf("SA_RESETHAND: calls=%d, now SIG_DFL=%d\n", (int)reset_calls,
	       old.sa_handler == SIG_DFL);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		set_handler(SIGUSR2, reset_handler, SA_RESETHAND);
		raise(SIGUSR2);
		raise(SIGUSR2);
		_exit(0);
	}
	status_line("child raising twice", reap(pid));
}

/* ---- SA_ONSTACK with sigaltstack */

static char altstack[65536] __attribute__((aligned(16)));
static volatile sig_atomic_t on_alt, ss_onstack, handler_ran;

static void alt_handler(int sig)
{
	(void)sig;
	char local;
	uintptr_t a = (uintptr_t)&local, lo = (uintptr_t)altstack;
	on_alt = a >= lo && a < lo + sizeof altstack;
	stack_t cur;
	sigaltstack(NULL, &cur);
	ss_onstack = (cur.ss_flags & SS_ONSTACK) != 0;
	/* changing the stack while on it fails */
	stack_t ss = { .ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0 };
	errno = 0;
	handler_ran = sigaltstack(&ss, NULL) == -1 && errno == EPERM ? 2 : 1;
}

static void overflow_handler(int sig)
{
	(void)sig;
	char local;
	uintptr_t a = (uintptr_t)&local, lo = (uintptr_t)altstack;
	_exit(a >= lo && a < lo + sizeof altstack ? 3 : 4);
}

static volatile int recurse_limit = INT_MAX;

static int recurse(int n)
{
	volatile char buf[4096];
	buf[0] = (char)n;
	if (n > recurse_limit)
		return 42;
	return recurse(n + 1) + buf[0];
}

static void test_onstack(void)
{
	stack_t ss, old;
	memset(&old, 0xff, sizeof old);
	chk("sigaltstack(NULL, &old)", sigaltstack(NULL, &old));
	printf("initial: SS_DISABLE=%d\n", (old.ss_flags & SS_DISABLE) != 0);
	ss.ss_sp = altstack;
	ss.ss_size = 1024;
	ss.ss_flags = 0;
	chk("sigaltstack too small", sigaltstack(&ss, NULL));
	ss.ss_size = sizeof altstack;
	ss.ss_flags = 12345;
	chk("sigaltstack bad flags", sigaltstack(&ss, NULL));
	ss.ss_flags = 0;
	chk("sigaltstack", sigaltstack(&ss, NULL));
	sigaltstack(NULL, &old);
	printf("installed: sp-ok=%d size=%zu flags=%d\n", old.ss_sp == altstack, old.ss_size,
	       old.ss_flags);
	set_handler(SIGUSR1, alt_handler, SA_ONSTACK);
	raise(SIGUSR1);
	printf("SA_ONSTACK: on alt stack=%d SS_ONSTACK=%d EPERM-while-on=%d\n", (int)on_alt,
	       (int)ss_onstack, handler_ran == 2);
	set_handler(SIGUSR1, alt_handler, 0);
	raise(SIGUSR1);
	printf("without SA_ONSTACK: on alt stack=%d SS_ONSTACK=%d\n", (int)on_alt,
	       (int)ss_onstack);
	sigaltstack(NULL, &old);
	printf("after: flags=%d\n", old.ss_flags);
	/* fork keeps the alternate stack */
	fflush(stdout);
	set_handler(SIGUSR1, alt_handler, SA_ONSTACK);
	pid_t pid = fork();
	if (pid == 0) {
		raise(SIGUSR1);
		_exit(on_alt ? 0 : 1);
	}
	status_line("child on inherited alt stack", reap(pid));
	ss.ss_flags = SS_DISABLE;
	chk("sigaltstack(SS_DISABLE)", sigaltstack(&ss, NULL));
	sigaltstack(NULL, &old);
	printf("disabled: SS_DISABLE=%d\n", (old.ss_flags & SS_DISABLE) != 0);
	signal(SIGUSR1, SIG_DFL);

}

static void test_overflow(void)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		stack_t ss = { .ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0 };
		sigaltstack(&ss, NULL);
		set_handler(SIGSEGV, overflow_handler, SA_ONSTACK);
		_exit(recurse(1) == 42 ? 5 : 6);
	}
	status_line("stack overflow handled on the alt stack", reap(pid));
}

/* ---- masks, sigpending, delivery order */

static volatile sig_atomic_t order[16], norder;

static void record(int sig)
{
	if (norder < 16)
		order[norder++] = sig;
}

static void show_order(const char *what)
{
	printf("%s:", what);
	for (int i = 0; i < norder; i++)
		printf(" %d", (int)order[i]);
	printf("\n");
	norder = 0;
}

static void test_mask(void)
{
	int sigs[] = { SIGUSR2, SIGUSR1, SIGHUP, SIGTERM, SIGWINCH };
	for (int i = 0; i < 5; i++)
		set_handler(sigs[i], record, 0);
	sigset_t set, old, pend;
	sigemptyset(&set);
	for (int i = 0; i < 5; i++)
		sigaddset(&set, sigs[i]);
	sigaddset(&set, SIGKILL);
	sigaddset(&set, SIGSTOP);
	sigprocmask(SIG_BLOCK, &set, &old);
	sigprocmask(SIG_BLOCK, NULL, &old);
	show_set("blocked (KILL and STOP cannot be)", &old);
	for (int i = 0; i < 5; i++)
		raise(sigs[i]);
	raise(SIGUSR1); /* standard signals do not queue */
	sigpending(&pend);
	show_set("pending", &pend);
	show_order("delivered while blocked");
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	/* the order is checked in unblock_order; here only which */
	for (int i = 0; i < norder; i++)
		for (int j = i + 1; j < norder; j++)
			if (order[j] < order[i]) {
				int t = order[i];
				order[i] = order[j];
				order[j] = t;
			}
	show_order("delivered on unblock (sorted)");
	sigpending(&pend);
	show_set("pending after", &pend);
	/* SIG_SETMASK, and an ignored signal is discarded, not left pending */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_SETMASK, &set, NULL);
	signal(SIGUSR2, SIG_IGN);
	block(SIGUSR2, SIG_BLOCK);
	raise(SIGUSR2);
	raise(SIGUSR1);
	sigpending(&pend);
	show_set("pending (USR2 ignored)", &pend);
	/* ignoring a pending signal discards it */
	signal(SIGUSR1, SIG_IGN);
	sigpending(&pend);
	show_set("pending after ignoring USR1", &pend);
	sigemptyset(&set);
	sigprocmask(SIG_SETMASK, &set, NULL);
	errno = 0;
	chk("sigprocmask(bad how)", sigprocmask(12345, &set, NULL));
	for (int i = 0; i < 5; i++)
		signal(sigs[i], SIG_DFL);
	show_order("left over");
}

/* Linux sets up every deliverable signal's frame at once on unblocking, the
 * lowest number first, so the highest one's handler runs first. */
static void test_unblock_order(void)
{
	int sigs[] = { SIGUSR2, SIGUSR1, SIGHUP, SIGTERM, SIGWINCH };
	sigset_t set;
	sigemptyset(&set);
	for (int i = 0; i < 5; i++) {
		set_handler(sigs[i], record, 0);
		sigaddset(&set, sigs[i]);
	}
	sigprocmask(SIG_BLOCK, &set, NULL);
	for (int i = 0; i < 5; i++)
		raise(sigs[i]);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	show_order("handlers ran in order");
	for (int i = 0; i < 5; i++)
		signal(sigs[i], SIG_DFL);
}

/* ---- realtime signals queue, lowest number first */

static void test_rt_queue(void)
{
	int a = SIGRTMIN + 2, b = SIGRTMIN + 1;
	set_handler(a, record, 0);
	set_handler(b, record, 0);
	set_handler(SIGUSR1, record, 0);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, a);
	sigaddset(&set, b);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	kill(getpid(), a);
	kill(getpid(), a);
	kill(getpid(), b);
	kill(getpid(), SIGUSR1);
	kill(getpid(), b);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	printf("realtime delivery order (as offsets; USR1=-1):");
	for (int i = 0; i < norder; i++)
		printf(" %d", order[i] == SIGUSR1 ? -1 : (int)order[i] - SIGRTMIN);
	printf("\n");
	norder = 0;
	signal(a, SIG_DFL);
	signal(b, SIG_DFL);
	signal(SIGUSR1, SIG_DFL);
}

/* ---- sigsuspend */

static volatile sig_atomic_t got_usr1;

static void usr1(int sig)
{
	(void)sig;
	got_usr1++;
}

static void test_sigsuspend(void)
{
	set_handler(SIGUSR1, usr1, 0);
	block(SIGUSR1, SIG_BLOCK);
	pid_t parent = getpid();
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		usleep(50000);
		kill(parent, SIGUSR1);
		_exit(0);
	}
	sigset_t empty, cur;
	sigemptyset(&empty);
	errno = 0;
	int r = sigsuspend(&empty);
	printf("sigsuspend: %d %s, handler ran %d\n", r, en(errno), (int)got_usr1);
	sigprocmask(SIG_BLOCK, NULL, &cur);
	printf("mask restored (USR1 blocked): %d\n", sigismember(&cur, SIGUSR1));
	reap(pid);
	/* a signal already pending ends sigsuspend at once */
	raise(SIGUSR1);
	r = sigsuspend(&empty);
	printf("sigsuspend with USR1 pending: %d %s, handler ran %d\n", r, en(errno),
	       (int)got_usr1);
	block(SIGUSR1, SIG_UNBLOCK);
	signal(SIGUSR1, SIG_DFL);
}

/* ---- sigtimedwait, sigwaitinfo */

static void test_sigtimedwait(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigprocmask(SIG_BLOCK, &set, NULL);
	siginfo_t si;
	struct timespec ts = { 0, 100000000 };
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	errno = 0;
	int r = sigtimedwait(&set, &si, &ts);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	printf("sigtimedwait timeout: %d %s, waited >= 100ms: %d\n", r, en(errno), ms >= 99);
	struct timespec zero = { 0, 0 };
	errno = 0;
	r = sigtimedwait(&set, &si, &zero);
	printf("sigtimedwait zero timeout: %d %s\n", r, en(errno));
	kill(getpid(), SIGUSR2);
	memset(&si, 0, sizeof si);
	r = sigtimedwait(&set, &si, &ts);
	printf("sigtimedwait pending: %d signo=%d code=%s pid-is-self=%d\n", r, si.si_signo,
	       code_name(si.si_code), si.si_pid == getpid());
	sigset_t pend;
	sigpending(&pend);
	show_set("pending after sigtimedwait", &pend);
	/* sigwaitinfo woken by a child's kill */
	pid_t parent = getpid();
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		usleep(50000);
		kill(parent, SIGUSR1);
		_exit(0);
	}
	memset(&si, 0, sizeof si);
	r = sigwaitinfo(&set, &si);
	printf("sigwaitinfo: %d pid-is-child=%d\n", r, si.si_pid == pid);
	reap(pid);
	int sig = 0;
	raise(SIGUSR1);
	r = sigwait(&set, &sig);
	printf("sigwait: %d sig=%d\n", r, sig);
	ts.tv_nsec = 2000000000L;
	errno = 0;
	r = sigtimedwait(&set, &si, &ts);
	printf("sigtimedwait bad timeout: %d %s\n", r, en(errno));
	sigprocmask(SIG_UNBLOCK, &set, NULL);
}

/* ---- pause + alarm */

static volatile sig_atomic_t got_alarm;

static void on_alarm(int sig)
{
	(void)sig;
	got_alarm++;
}

static void test_pause(void)
{
	set_handler(SIGALRM, on_alarm, 0);
	/* If the alarm fires before pause() is entered (a loaded machine), pause
	 * would wait forever: a helper sends SIGALRM again every 2 s until it is
	 * killed, and the handler may then run more than once. */
	fflush(stdout);
	pid_t parent = getpid();
	pid_t helper = fork();
	if (helper == 0) {
		for (;;) {
			sleep(2);
			kill(parent, SIGALRM);
		}
	}
	printf("alarm(1) returns %u\n", alarm(1));
	errno = 0;
	int r = pause();
	int e = errno;
	kill(helper, SIGKILL);
	waitpid(helper, NULL, 0);
	printf("pause: %d %s, alarm handler ran: %s\n", r, en(e), got_alarm ? "yes" : "no");
	printf("alarm(0) after it fired returns %u\n", alarm(0));
	signal(SIGALRM, SIG_DFL);
	/* default SIGALRM terminates */
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		alarm(1);
		pause();
		_exit(0);
	}
	status_line("pause with default SIGALRM", reap(pid));
}

/* ---- kill errors */

static void test_kill_errors(void)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0)
		_exit(0);
	reap(pid);
	errno = 0;
	chk("kill(reaped child, SIGTERM)", kill(pid, SIGTERM));
	chk("kill(INT_MAX, 0)", kill(INT_MAX, 0));
	chk("kill(self, 0)", kill(getpid(), 0));
	chk("kill(self, 65)", kill(getpid(), 65));
	chk("kill(self, -1)", kill(getpid(), -1));
	chk("kill(-INT_MAX, SIGTERM)", kill(-INT_MAX, SIGTERM));
	chk("tgkill(self, bad tid)", syscall(SYS_tgkill, getpid(), INT_MAX, 0));
	chk("tgkill(0, 0)", syscall(SYS_tgkill, 0, 0, 0));
	chk("rt_sigaction(65)", syscall(SYS_rt_sigaction, 65, NULL, NULL, 8));
	chk("rt_sigaction(bad sigsetsize)", syscall(SYS_rt_sigaction, SIGUSR1, NULL, NULL, 4));
	chk("rt_sigprocmask(bad sigsetsize)", syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, NULL, 4));
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_IGN;
	chk("sigaction(SIGKILL)", sigaction(SIGKILL, &sa, NULL));
	chk("sigaction(SIGSTOP, NULL, &old)", sigaction(SIGSTOP, NULL, &sa));
	chk("sigaction(0)", sigaction(0, &sa, NULL));
}

/* ---- default actions */

static void die_by(int sig)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		struct rlimit rl = { 0, 0 };
		setrlimit(RLIMIT_CORE, &rl);
		signal(sig, SIG_DFL);
		block(sig, SIG_UNBLOCK);
		kill(getpid(), sig);
		usleep(200000);
		_exit(100);
	}
	int st = reap(pid);
	char what[64];
	snprintf(what, sizeof what, "default action of %d", sig >= SIGRTMIN ? sig - SIGRTMIN : sig);
	status_line(what, st);
}

static void test_defaults(void)
{
	int sigs[] = { SIGHUP, SIGINT, SIGQUIT, SIGILL, SIGABRT, SIGFPE, SIGKILL, SIGSEGV,
		       SIGUSR1, SIGUSR2, SIGPIPE, SIGALRM, SIGTERM, SIGBUS, SIGTRAP, SIGSYS,
		       SIGXCPU, SIGXFSZ, SIGVTALRM, SIGPROF, SIGSTKFLT, SIGIO, SIGPWR, 0 };
	for (int i = 0; sigs[i]; i++)
		die_by(sigs[i]);
	/* ignored by default: the process goes on */
	int ign[] = { SIGCHLD, SIGURG, SIGWINCH, SIGCONT, 0 };
	for (int i = 0; ign[i]; i++)
		die_by(ign[i]);
	printf("SIGRTMIN:\n");
	die_by(SIGRTMIN);
	/* a real fault */
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		struct rlimit rl = { 0, 0 };
		setrlimit(RLIMIT_CORE, &rl);
		volatile int *volatile bad = (volatile int *)8;
		*bad = 1;
		_exit(100);
	}
	status_line("write to address 8", reap(pid));
}

/* umbra-only: the core bit is set for core-dumping signals (natively it
 * depends on RLIMIT_CORE and core_pattern) */
static void test_core_bit(void)
{
	int sigs[] = { SIGQUIT, SIGSEGV, SIGABRT, SIGTERM, SIGKILL, 0 };
	for (int i = 0; sigs[i]; i++) {
		fflush(stdout);
		pid_t pid = fork();
		if (pid == 0) {
			kill(getpid(), sigs[i]);
			_exit(100);
		}
		int st = reap(pid);
		printf("signal %d: signaled %d core %d\n", sigs[i], WIFSIGNALED(st),
		       WCOREDUMP(st) ? 1 : 0);
	}
}

/* ---- signals across fork and execve */

static void exec_sh(const char *script)
{
	char *argv[] = { "sh", "-c", (char *)script, NULL };
	char *envp[] = { "PATH=/bin", NULL };
	execve("/bin/busybox", argv, envp);
	_exit(99);
}

static void test_exec(void)
{
	/* a handled signal is reset to SIG_DFL by execve */
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		set_handler(SIGUSR1, usr1, 0);
		exec_sh("kill -USR1 $$; echo survived handled USR1");
	}
	status_line("handled USR1 across exec", reap(pid));
	/* an ignored one stays ignored */
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		signal(SIGUSR1, SIG_IGN);
		exec_sh("kill -USR1 $$; echo survived ignored USR1");
	}
	status_line("ignored USR1 across exec", reap(pid));
	/* the mask is kept: a blocked signal stays pending, not delivered */
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		block(SIGUSR2, SIG_BLOCK);
		exec_sh("kill -USR2 $$; echo survived blocked USR2");
	}
	status_line("blocked USR2 across exec", reap(pid));
	/* pending signals are not inherited by fork but survive execve */
	block(SIGUSR1, SIG_BLOCK);
	signal(SIGUSR1, SIG_DFL);
	raise(SIGUSR1);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		sigset_t pend;
		sigpending(&pend);
		_exit(sigismember(&pend, SIGUSR1) ? 1 : 0);
	}
	status_line("fork child has no pending USR1 (exit 0)", reap(pid));
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	struct timespec zero = { 0, 0 };
	printf("parent still has it: %d\n", sigtimedwait(&set, NULL, &zero));
	block(SIGUSR1, SIG_UNBLOCK);
	/* the child inherits handlers and the mask */
	set_handler(SIGUSR2, usr1, 0);
	block(SIGHUP, SIG_BLOCK);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		struct sigaction sa;
		sigaction(SIGUSR2, NULL, &sa);
		sigset_t cur;
		sigprocmask(SIG_BLOCK, NULL, &cur);
		_exit((sa.sa_handler == usr1) * 2 + sigismember(&cur, SIGHUP));
	}
	status_line("child inherits handler and mask (exit 3)", reap(pid));
	block(SIGHUP, SIG_UNBLOCK);
	signal(SIGUSR2, SIG_DFL);
}

/* ---- SIGCHLD */

static volatile sig_atomic_t chld_code, chld_status, chld_pid_ok, chld_count;
static volatile pid_t chld_expect;

static void on_chld(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	chld_count++;
	chld_code = si->si_code;
	chld_status = si->si_status;
	chld_pid_ok = si->si_pid == chld_expect;
}

static const char *cld_name(int code)
{
	switch (code) {
	case CLD_EXITED: return "CLD_EXITED";
	case CLD_KILLED: return "CLD_KILLED";
	case CLD_DUMPED: return "CLD_DUMPED";
	case CLD_STOPPED: return "CLD_STOPPED";
	case CLD_CONTINUED: return "CLD_CONTINUED";
	default: return "other";
	}
}

static void test_sigchld(void)
{
	set_action(SIGCHLD, on_chld, SA_RESTART);
	block(SIGCHLD, SIG_BLOCK);
	sigset_t empty;
	sigemptyset(&empty);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0)
		_exit(3);
	chld_expect = pid;
	while (chld_count == 0)
		sigsuspend(&empty);
	printf("SIGCHLD: %s status=%d pid-ok=%d\n", cld_name(chld_code), (int)chld_status,
	       (int)chld_pid_ok);
	reap(pid);
	chld_count = 0;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		pause();
		_exit(0);
	}
	chld_expect = pid;
	kill(pid, SIGTERM);
	while (chld_count == 0)
		sigsuspend(&empty);
	printf("SIGCHLD: %s status=%d pid-ok=%d\n", cld_name(chld_code), (int)chld_status,
	       (int)chld_pid_ok);
	reap(pid);
	block(SIGCHLD, SIG_UNBLOCK);
	/* SIG_IGN for SIGCHLD: children are reaped automatically */
	signal(SIGCHLD, SIG_IGN);
	fflush(stdout);
	pid = fork();
	if (pid == 0)
		_exit(0);
	errno = 0;
	pid_t w = waitpid(pid, NULL, 0);
	printf("waitpid with SIGCHLD ignored: %d %s\n", (int)w, en(errno));
	/* SA_NOCLDWAIT does the same */
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	sa.sa_flags = SA_NOCLDWAIT;
	sigaction(SIGCHLD, &sa, NULL);
	fflush(stdout);
	pid = fork();
	if (pid == 0)
		_exit(0);
	errno = 0;
	w = waitpid(pid, NULL, 0);
	printf("waitpid with SA_NOCLDWAIT: %d %s\n", (int)w, en(errno));
	signal(SIGCHLD, SIG_DFL);
}

static const struct section {
	const char *name;
	void (*fn)(void);
	int portable;
} sections[] = {
	{ "siginfo", test_siginfo, 1 },
	{ "restart", test_restart, 1 },
	{ "nodefer", test_nodefer, 1 },
	{ "resethand", test_resethand, 1 },
	{ "onstack", test_onstack, 1 },
	{ "overflow", test_overflow, 1 },
	{ "mask", test_mask, 1 },
	{ "unblock_order", test_unblock_order, 1 },
	{ "rt_queue", test_rt_queue, 1 },
	{ "nanosleep_rem", test_nanosleep_rem, 1 },
	{ "sigsuspend", test_sigsuspend, 1 },
	{ "sigtimedwait", test_sigtimedwait, 1 },
	{ "pause", test_pause, 1 },
	{ "kill_errors", test_kill_errors, 1 },
	{ "defaults", test_defaults, 1 },
	{ "exec", test_exec, 1 },
	{ "sigchld", test_sigchld, 1 },
	{ "core_bit", test_core_bit, 0 },
	{ NULL, NULL, 0 },
};

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (const struct section *s = sections; s->name; s++) {
		int run = argc < 2 && s->portable;
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
