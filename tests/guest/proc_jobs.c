/* proc_jobs: sessions and process groups (setsid, setpgid, getpgid, getsid),
 * signals to groups (kill(0), kill(-pgid)), waitpid(0) and waitpid(-pgid),
 * stop and continue (SIGSTOP, SIGTSTP, SIGCONT) seen by waitpid
 * WUNTRACED/WCONTINUED, waitid and SIGCHLD.
 *
 * Arguments name sections (all portable ones if none). "kill_all" is
 * umbra-only: natively kill(-1) would signal every process of the user. */
#define _GNU_SOURCE
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "common.h"

static const char *en(int e)
{
	switch (e) {
	case ESRCH: return "ESRCH";
	case ECHILD: return "ECHILD";
	case EINTR: return "EINTR";
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

static void status_line(const char *what, int st)
{
	if (WIFEXITED(st))
		printf("%s: exited %d\n", what, WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		printf("%s: killed by %d\n", what, WTERMSIG(st));
	else if (WIFSTOPPED(st))
		printf("%s: stopped by %d\n", what, WSTOPSIG(st));
	else if (WIFCONTINUED(st))
		printf("%s: continued\n", what);
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

static void stoppable(void);
static void on_term(int sig);

/* a child that reports through a pipe when it is ready, then runs body */
static pid_t spawn(int newgroup, void (*body)(void))
{
	int p[2];
	if (pipe(p) < 0)
		return -1;
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		if (newgroup)
			setpgid(0, 0);
		if (body == stoppable)
			signal(SIGTERM, on_term);
		close(p[1]);
		body();
		_exit(0);
	}
	close(p[1]);
	char c;
	(void)read(p[0], &c, 1); /* EOF once the child is set up */
	close(p[0]);
	return pid;
}

static void sleep_forever(void)
{
	for (;;)
		pause();
}

static void test_sessions(void)
{
	printf("getpgid(0) == getpgrp(): %d\n", getpgid(0) == getpgrp());
	printf("getsid(0) == getsid(getpid()): %d\n", getsid(0) == getsid(getpid()));
	chk("getpgid(INT_MAX)", getpgid(0x7fffffff));
	chk("getsid(INT_MAX)", getsid(0x7fffffff));
	chk("setpgid(INT_MAX, 0)", setpgid(0x7fffffff, 0));
	chk("setpgid(0, -1)", setpgid(0, -1));
	/* a group leader cannot make a new session */
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		int ok = 1;
		pid_t me = getpid(), sid0 = getsid(0);
		ok &= getpgrp() != me;
		ok &= setpgid(0, 0) == 0 && getpgrp() == me;
		errno = 0;
		ok &= setsid() == -1 && errno == EPERM;
		ok &= getsid(0) == sid0;
		_exit(ok ? 0 : 1);
	}
	status_line("setpgid(0,0) makes a leader, which cannot setsid", reap(pid));
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		int ok = 1;
		pid_t me = getpid(), pg0 = getpgrp();
		ok &= setsid() == me;
		ok &= getsid(0) == me && getpgrp() == me && getpgid(0) == me;
		errno = 0;
		/* back into the old group: another session */
		ok &= setpgid(0, pg0) == -1 && errno == EPERM;
		errno = 0;
		ok &= setsid() == -1 && errno == EPERM;
		/* a child of the new session leader joins a group it makes */
		pid_t c = fork();
		if (c == 0)
			_exit(getsid(0) == me && getpgrp() == me ? 0 : 1);
		int st;
		waitpid(c, &st, 0);
		ok &= WIFEXITED(st) && WEXITSTATUS(st) == 0;
		_exit(ok ? 0 : 1);
	}
	status_line("setsid in a child", reap(pid));
	/* the parent moves a child into a new group, and cannot after its exec */
	pid = spawn(0, sleep_forever);
	chk("setpgid(child, child)", setpgid(pid, pid));
	printf("child's group is its pid: %d\n", getpgid(pid) == pid);
	chk("setpgid(child, getpgrp())", setpgid(pid, getpgrp()));
	printf("child back in ours: %d\n", getpgid(pid) == getpgrp());
	kill(pid, SIGKILL);
	reap(pid);
}

/* setpgid on a child fails with EACCES once the child has exec'd */
static void test_setpgid_after_exec(void)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		char *argv[] = { "sleep", "10", NULL };
		char *envp[] = { NULL };
		execve("/bin/busybox", argv, envp);
		_exit(99);
	}
	/* setpgid works until the child has exec'd, then fails with EACCES */
	int r = -1, e = 0;
	for (int i = 0; i < 5000; i++) {
		errno = 0;
		r = setpgid(pid, pid);
		e = errno;
		if (r < 0)
			break;
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	printf("setpgid after the child's execve: %d %s\n", r, en(e));
	kill(pid, SIGKILL);
	status_line("exec'd child", reap(pid));
}

static volatile sig_atomic_t got_usr1;

static void on_usr1(int sig)
{
	(void)sig;
	got_usr1++;
}

static void wait_usr1(void)
{
	sigset_t empty;
	sigemptyset(&empty);
	while (!got_usr1)
		sigsuspend(&empty);
	_exit(7);
}

static void test_group_kill(void)
{
	signal(SIGUSR1, on_usr1);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	/* kill(0): every process of our group, ourselves included */
	pid_t a = spawn(0, wait_usr1), b = spawn(0, wait_usr1);
	chk("kill(0, SIGUSR1)", kill(0, SIGUSR1));
	status_line("group member a", reap(a));
	status_line("group member b", reap(b));
	sigset_t pend;
	sigpending(&pend);
	printf("USR1 pending in the sender: %d\n", sigismember(&pend, SIGUSR1));
	struct timespec zero = { 0, 0 };
	sigtimedwait(&set, NULL, &zero);
	/* kill(-pgid): a child in its own group with two children of its own;
	 * we are not in that group */
	fflush(stdout);
	int ready[2];
	if (pipe(ready) < 0)
		return;
	pid_t leader = fork();
	if (leader == 0) {
		close(ready[0]);
		setpgid(0, 0);
		pid_t k1 = fork();
		if (k1 == 0) {
			close(ready[1]);
			wait_usr1();
		}
		pid_t k2 = fork();
		if (k2 == 0) {
			close(ready[1]);
			wait_usr1();
		}
		close(ready[1]);
		sigset_t empty;
		sigemptyset(&empty);
		while (!got_usr1)
			sigsuspend(&empty);
		int st1, st2;
		waitpid(k1, &st1, 0);
		waitpid(k2, &st2, 0);
		_exit(10 + (WEXITSTATUS(st1) == 7) + (WEXITSTATUS(st2) == 7));
	}
	close(ready[1]);
	char c;
	(void)read(ready[0], &c, 1);
	close(ready[0]);
	setpgid(leader, leader); /* no race on the group's existence */
	chk("kill(-leader, SIGUSR1)", kill(-leader, SIGUSR1));
	status_line("group leader (12: both members got it)", reap(leader));
	sigpending(&pend);
	printf("USR1 pending in the sender after kill(-pgid): %d\n", sigismember(&pend, SIGUSR1));
	chk("kill(-leader) after they are gone", kill(-leader, SIGUSR1));
	/* waitpid(0) and waitpid(-pgid) choose by group */
	fflush(stdout);
	pid_t other = spawn(1, sleep_forever);
	pid_t same = spawn(0, sleep_forever);
	kill(other, SIGTERM);
	kill(same, SIGINT);
	int st;
	pid_t w = waitpid(0, &st, 0);
	printf("waitpid(0) picks the child in our group: %d\n", w == same);
	status_line("it", st);
	w = waitpid(-other, &st, 0);
	printf("waitpid(-pgid) picks the other: %d\n", w == other);
	status_line("it", st);
	errno = 0;
	w = waitpid(-other, &st, WNOHANG);
	printf("waitpid(-pgid) again: %d %s\n", (int)w, en(errno));
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	signal(SIGUSR1, SIG_DFL);
}

/* umbra-only: kill(-1) from a child reaches every process but itself and
 * pid 1 (this program, as umbra's first process) */
static void test_kill_all(void)
{
	if (getpid() != 1) {
		printf("not pid 1: skipped\n");
		return;
	}
	signal(SIGUSR1, on_usr1);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	pid_t a = spawn(0, wait_usr1), b = spawn(1, wait_usr1);
	fflush(stdout);
	pid_t killer = fork();
	if (killer == 0) {
		signal(SIGUSR1, SIG_DFL);
		sigprocmask(SIG_UNBLOCK, &set, NULL);
		int r = kill(-1, SIGUSR1);
		_exit(r == 0 ? 0 : 1);
	}
	status_line("killer (not signalled itself)", reap(killer));
	status_line("child a", reap(a));
	status_line("child b in another group", reap(b));
	sigset_t pend;
	sigpending(&pend);
	printf("pid 1 got it: %d\n", sigismember(&pend, SIGUSR1));
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	signal(SIGUSR1, SIG_DFL);
}

static volatile sig_atomic_t chld_codes[8], nchld;

static void on_chld(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	if (nchld < 8)
		chld_codes[nchld++] = si->si_code;
}

static const char *cld(int code)
{
	switch (code) {
	case CLD_EXITED: return "CLD_EXITED";
	case CLD_KILLED: return "CLD_KILLED";
	case CLD_DUMPED: return "CLD_DUMPED";
	case CLD_STOPPED: return "CLD_STOPPED";
	case CLD_CONTINUED: return "CLD_CONTINUED";
	case CLD_TRAPPED: return "CLD_TRAPPED";
	default: return "other";
	}
}

/* Takes the pending SIGCHLDs (SIGCHLD is blocked) until n were seen, each
 * at most 3 s. */
static void wait_chld(int n)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	while (nchld < n) {
		siginfo_t si;
		struct timespec ts = { 3, 0 };
		if (sigtimedwait(&set, &si, &ts) < 0) {
			if (errno == EINTR)
				continue;
			printf("no SIGCHLD within 3 s\n");
			chld_codes[nchld++] = -1;
			continue;
		}
		chld_codes[nchld++] = si.si_code;
	}
}

static volatile sig_atomic_t got_term;

static void on_term(int sig)
{
	(void)sig;
	got_term = 1;
}

static void stoppable(void)
{
	signal(SIGTERM, on_term);
	/* SIGTERM stays blocked outside sigsuspend: one that came between the
	 * check and the wait would otherwise be handled there and the wait
	 * would never end (seen: a native run hung under load). */
	sigset_t term, during;
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigprocmask(SIG_BLOCK, &term, &during);
	sigdelset(&during, SIGTERM);
	while (!got_term)
		sigsuspend(&during);
	_exit(42);
}

static void test_stop_continue(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_chld;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGCHLD, &sa, NULL);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);

	/* in its own group, so SIGTSTP is not discarded as in an orphaned one */
	pid_t pid = spawn(1, stoppable);
	int st;
	kill(pid, SIGSTOP);
	pid_t w = waitpid(pid, &st, WUNTRACED);
	status_line("after SIGSTOP, WUNTRACED", st);
	printf("returned pid: %d\n", w == pid);
	errno = 0;
	w = waitpid(pid, &st, WUNTRACED | WNOHANG);
	printf("stop reported once: %d\n", (int)w);
	wait_chld(1);
	kill(pid, SIGCONT);
	w = waitpid(pid, &st, WCONTINUED);
	status_line("after SIGCONT, WCONTINUED", st);
	wait_chld(2);
	kill(pid, SIGTERM);
	status_line("then SIGTERM", reap(pid));
	wait_chld(3);

	pid = spawn(1, stoppable);
	kill(pid, SIGTSTP);
	siginfo_t si;
	memset(&si, 0, sizeof si);
	waitid(P_PID, pid, &si, WSTOPPED);
	printf("waitid WSTOPPED after SIGTSTP: %s status %d pid-ok %d\n", cld(si.si_code),
	       si.si_status, si.si_pid == pid);
	wait_chld(4);
	kill(pid, SIGCONT);
	memset(&si, 0, sizeof si);
	waitid(P_PID, pid, &si, WCONTINUED);
	printf("waitid WCONTINUED: %s status %d\n", cld(si.si_code), si.si_status);
	wait_chld(5);
	/* stop again, then SIGKILL kills it while stopped */
	kill(pid, SIGSTOP);
	waitpid(pid, &st, WUNTRACED);
	wait_chld(6);
	kill(pid, SIGKILL);
	status_line("SIGKILL while stopped", reap(pid));
	wait_chld(7);
	printf("SIGCHLD codes:");
	for (int i = 0; i < nchld; i++)
		printf(" %s", cld(chld_codes[i]));
	printf("\n");

	/* SA_NOCLDSTOP: no SIGCHLD for stop and continue */
	nchld = 0;
	sa.sa_flags |= SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, NULL);
	pid = spawn(1, stoppable);
	kill(pid, SIGSTOP);
	waitpid(pid, &st, WUNTRACED);
	kill(pid, SIGCONT);
	waitpid(pid, &st, WCONTINUED);
	kill(pid, SIGTERM);
	reap(pid);
	wait_chld(1);
	printf("with SA_NOCLDSTOP:");
	for (int i = 0; i < nchld; i++)
		printf(" %s", cld(chld_codes[i]));
	printf("\n");
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	signal(SIGCHLD, SIG_DFL);

	/* a handled signal to a stopped process waits for SIGCONT */
	pid = spawn(1, stoppable);
	kill(pid, SIGSTOP);
	waitpid(pid, &st, WUNTRACED);
	kill(pid, SIGTERM);
	struct timespec ts = { 0, 50000000 };
	nanosleep(&ts, NULL);
	w = waitpid(pid, &st, WNOHANG);
	printf("SIGTERM to a stopped child: still there: %d\n", w == 0);
	kill(pid, SIGCONT);
	status_line("after SIGCONT it handles SIGTERM", reap(pid));

	/* SIGCONT to a running process with a handler runs it; stop signals
	 * that are ignored do nothing */
	pid = spawn(1, stoppable);
	signal(SIGTTIN, SIG_IGN);
	kill(pid, SIGCONT);
	w = waitpid(pid, &st, WCONTINUED | WNOHANG);
	printf("SIGCONT to a running child reports nothing: %d\n", (int)w);
	kill(pid, SIGTERM);
	status_line("running child after SIGCONT then SIGTERM", reap(pid));
	signal(SIGTTIN, SIG_DFL);
}

static const struct section {
	const char *name;
	void (*fn)(void);
	int portable;
} sections[] = {
	{ "sessions", test_sessions, 1 },
	{ "group_kill", test_group_kill, 1 },
	{ "stop_continue", test_stop_continue, 1 },
	{ "setpgid_after_exec", test_setpgid_after_exec, 1 },
	{ "kill_all", test_kill_all, 0 },
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
