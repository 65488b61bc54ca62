/* vfork_threads: vfork suspends only the calling thread (vfork(2): "the
 * calling thread is suspended"; the process's other threads run on). Thread
 * B counts while thread A's vfork child lives on the memory it shares with
 * the parent. Only facts are printed, so the output does not depend on
 * timing: a child waits up to 10 s for what it waits for, B ticks every
 * millisecond.
 *
 * Sections:
 *   exit     the child waits for B's count to move on, then _exits
 *   exec     the same, then execs
 *   sleep    the child sleeps 200 ms; B ticks meanwhile
 *   pipe     the child reads a pipe that B writes
 *   tgkill   the child signals thread B, whose handler runs meanwhile
 *   kill     B kills the child (SIGKILL) while it waits on a pipe
 *   segv     the child dies of SIGSEGV while B runs
 *   identity the child is its own process (pid, tid, credentials, fd table,
 *            signal mask and actions, umask, name) on the parent's memory and TLS; B
 *            keeps its own tid, pid and TLS meanwhile
 *   fpstate  the child starts with the caller's FP control state (its
 *            rounding mode), though B ran between the vfork and the child
 *   spawn    posix_spawn from a thread while the main thread counts, and
 *            one of a missing program
 *   procsig  the child signals the parent process, whose vfork caller
 *            blocks the signal: B's handler runs meanwhile
 *   nested   the child vforks a grandchild; B ticks during its life
 *   exit_b   B ends the process (exit_group) while the child waits on a
 *            pipe; the child outlives it (the program is a subreaper)
 *   kill_parent  the child SIGKILLs its parent, whose vfork caller waits:
 *            the parent dies, the child goes on
 *   exec_b   B execs while the child waits on a pipe: the vfork caller
 *            dies with the old image, the new image writes the pipe and
 *            reaps the child (must be the last section) */
#define _GNU_SOURCE
#include "common.h"
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static volatile int ticks;
static volatile int stop;
static volatile int child_saw;
/* What thread B does besides counting, once per tick (section-specific). */
static void (*volatile b_hook)(void);
static volatile pid_t b_tid;
static __thread int tls_var;

static void nap_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static pid_t gettid_(void)
{
	return (pid_t)syscall(SYS_gettid);
}

static void *counter(void *arg)
{
	(void)arg;
	b_tid = gettid_();
	tls_var = 2;
	while (!stop) {
		ticks++;
		if (b_hook)
			b_hook();
		nap_ms(1);
	}
	return NULL;
}

/* Waits up to 10 s for `*flag`; whether it came. */
static int wait_for(volatile int *flag)
{
	for (int i = 0; i < 10000 && !*flag; i++)
		nap_ms(1);
	return *flag != 0;
}

static pthread_t b_thread;

static void start_b(void (*hook)(void))
{
	stop = 0;
	ticks = 0;
	child_saw = 0;
	b_hook = hook;
	pthread_create(&b_thread, NULL, counter, NULL);
	while (ticks < 3)
		nap_ms(1);
}

static void stop_b(void)
{
	stop = 1;
	pthread_join(b_thread, NULL);
	b_hook = NULL;
}

static void print_status(const char *sec, int st)
{
	if (WIFEXITED(st))
		printf("%s: child exited %d\n", sec, WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		printf("%s: child killed by signal %d\n", sec, WTERMSIG(st));
	else
		printf("%s: child status %#x\n", sec, st);
}

static void run(int do_exec, char *self)
{
	start_b(NULL);
	pid_t c = vfork();
	if (c == 0) {
		/* The child: the parent's memory, the parent's thread B. */
		int from = ticks;
		for (int i = 0; i < 10000 && ticks < from + 20; i++)
			nap_ms(1);
		child_saw = ticks >= from + 20;
		if (do_exec) {
			char *argv[] = {self, "exit0", NULL};
			execve("/proc/self/exe", argv, NULL);
			_exit(127);
		}
		_exit(7);
	}
	int st;
	waitpid(c, &st, 0);
	stop_b();
	printf("%s: thread B ran while the vfork child waited: %d\n", do_exec ? "exec" : "exit",
	       child_saw);
	printf("%s: child status %d\n", do_exec ? "exec" : "exit", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

static void sec_sleep(void)
{
	start_b(NULL);
	static volatile int during;
	pid_t c = vfork();
	if (c == 0) {
		int from = ticks;
		nap_ms(200);
		during = ticks - from;
		_exit(3);
	}
	int st;
	waitpid(c, &st, 0);
	stop_b();
	printf("sleep: B ticked at least 5 times in the child's 200 ms sleep: %d\n", during >= 5);
	print_status("sleep", st);
}

static int pipe_fds[2];
static volatile int child_started;
static volatile int b_wrote;

static void write_when_started(void)
{
	static int after;
	if (!child_started || b_wrote)
		return;
	if (++after >= 20) {
		b_wrote = write(pipe_fds[1], "x", 1) == 1;
	}
}

static void sec_pipe(void)
{
	if (pipe(pipe_fds))
		return;
	child_started = 0;
	b_wrote = 0;
	start_b(write_when_started);
	pid_t c = vfork();
	if (c == 0) {
		char b = 0;
		child_started = 1;
		ssize_t n = read(pipe_fds[0], &b, 1);
		_exit(n == 1 && b == 'x' ? 5 : 6);
	}
	int st;
	waitpid(c, &st, 0);
	stop_b();
	printf("pipe: B wrote the byte the child waited for: %d\n", b_wrote);
	print_status("pipe", st);
	close(pipe_fds[0]);
	close(pipe_fds[1]);
}

static volatile int usr1_in;
static volatile pid_t usr1_tid;

static void on_usr1(int sig)
{
	(void)sig;
	usr1_tid = gettid_();
	usr1_in = 1;
}

static void sec_tgkill(void)
{
	struct sigaction sa = {0};
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	usr1_in = 0;
	usr1_tid = 0;
	start_b(NULL);
	static volatile long sent;
	pid_t c = vfork();
	if (c == 0) {
		sent = syscall(SYS_tgkill, getppid(), b_tid, SIGUSR1);
		child_saw = wait_for(&usr1_in);
		_exit(0);
	}
	int st;
	waitpid(c, &st, 0);
	stop_b();
	printf("tgkill: sent %ld, B's handler ran while the child waited: %d, on B: %d\n", sent,
	       child_saw, usr1_tid == b_tid);
	print_status("tgkill", st);
	signal(SIGUSR1, SIG_DFL);
}

static volatile pid_t child_pid;
static volatile int b_killed;

static void kill_when_started(void)
{
	static int after;
	if (!child_pid || b_killed)
		return;
	if (++after >= 20)
		b_killed = kill(child_pid, SIGKILL) == 0 ? 1 : -1;
}

static void sec_kill(void)
{
	if (pipe(pipe_fds))
		return;
	child_pid = 0;
	b_killed = 0;
	start_b(kill_when_started);
	pid_t c = vfork();
	if (c == 0) {
		char b;
		child_pid = getpid();
		ssize_t n = read(pipe_fds[0], &b, 1);
		_exit(n == 1 ? 1 : 2);
	}
	int st;
	waitpid(c, &st, 0);
	int after = ticks;
	while (ticks < after + 3)
		nap_ms(1);
	stop_b();
	printf("kill: B killed the child: %d, the pid it saw was the child's: %d\n", b_killed,
	       child_pid == c);
	print_status("kill", st);
	printf("kill: B ran on after: 1\n");
	close(pipe_fds[0]);
	close(pipe_fds[1]);
}

static volatile int *volatile bad;

static void sec_segv(void)
{
	start_b(NULL);
	pid_t c = vfork();
	if (c == 0) {
		int from = ticks;
		for (int i = 0; i < 10000 && ticks < from + 10; i++)
			nap_ms(1);
		*bad = 1;
		_exit(1);
	}
	int st;
	waitpid(c, &st, 0);
	int after = ticks;
	while (ticks < after + 3)
		nap_ms(1);
	stop_b();
	print_status("segv", st);
	printf("segv: B ran on after: 1\n");
}

/* identity: what B sees while the child lives. */
static volatile int in_child;
static volatile int b_checked;
static volatile int b_same_tid, b_same_pid, b_same_tls, b_same_euid;
static pid_t parent_pid;
static uid_t parent_euid;

static void check_identity(void)
{
	if (!in_child || b_checked)
		return;
	b_same_tid = gettid_() == b_tid;
	b_same_pid = getpid() == parent_pid;
	b_same_tls = tls_var == 2;
	b_same_euid = geteuid() == parent_euid;
	b_checked = 1;
}

static void sec_identity(void)
{
	parent_pid = getpid();
	parent_euid = geteuid();
	int fd = open("/proc/self/exe", O_RDONLY);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGUSR2, SIG_DFL);
	umask(022);
	char name[32] = {0}, name_after[32] = {0};
	prctl(PR_GET_NAME, name);
	tls_var = 1;
	in_child = 0;
	b_checked = 0;
	start_b(check_identity);
	static volatile int c_pid_ok, c_ppid_ok, c_tid_ok, c_tls, c_name_ok, c_cred_ok;
	pid_t c = vfork();
	if (c == 0) {
		c_pid_ok = getpid() != parent_pid;
		c_ppid_ok = getppid() == parent_pid;
		c_tid_ok = gettid_() == getpid();
		c_tls = tls_var;
		tls_var = 9;
		close(fd);
		sigset_t s;
		sigemptyset(&s);
		sigaddset(&s, SIGUSR2);
		sigprocmask(SIG_BLOCK, &s, NULL);
		signal(SIGUSR2, SIG_IGN);
		umask(077);
		prctl(PR_SET_NAME, "vchild");
		char n[32] = {0};
		prctl(PR_GET_NAME, n);
		c_name_ok = !strcmp(n, "vchild");
		/* The raw call: libc's would act on the parent's threads too. */
		long r = syscall(SYS_setresuid, 65534, 65534, 65534);
		c_cred_ok = r == 0 ? geteuid() == 65534 : errno == EPERM;
		in_child = 1;
		child_saw = wait_for(&b_checked);
		_exit(0);
	}
	int st;
	waitpid(c, &st, 0);
	stop_b();
	printf("identity: child pid is its own %d, its parent the caller %d, its tid its pid %d, "
	       "renamed %d, setresuid its own %d\n",
	       c_pid_ok, c_ppid_ok, c_tid_ok, c_name_ok, c_cred_ok);
	printf("identity: B checked while the child lived: %d; B's tid %d, pid %d, TLS %d, euid %d\n",
	       child_saw, b_same_tid, b_same_pid, b_same_tls, b_same_euid);
	printf("identity: the caller's euid kept %d\n", geteuid() == parent_euid);
	printf("identity: the child saw the caller's TLS %d; the caller sees the child's write %d\n",
	       c_tls, tls_var);
	sigset_t m;
	sigprocmask(SIG_SETMASK, NULL, &m);
	struct sigaction sa;
	sigaction(SIGUSR2, NULL, &sa);
	mode_t um = umask(022);
	prctl(PR_GET_NAME, name_after);
	printf("identity: parent's fd open %d, SIGUSR2 blocked %d, SIGUSR2 default %d, umask %03o, "
	       "name kept %d\n",
	       fcntl(fd, F_GETFD) != -1, sigismember(&m, SIGUSR2), sa.sa_handler == SIG_DFL,
	       (unsigned)um, !strcmp(name, name_after));
	print_status("identity", st);
	close(fd);
}

static void sec_procsig(void)
{
	struct sigaction sa = {0};
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	usr1_in = 0;
	usr1_tid = 0;
	start_b(NULL);
	sigset_t s, old;
	sigemptyset(&s);
	sigaddset(&s, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &s, &old);
	static volatile int sent;
	pid_t c = vfork();
	if (c == 0) {
		sent = kill(getppid(), SIGUSR1);
		child_saw = wait_for(&usr1_in);
		_exit(0);
	}
	int st;
	waitpid(c, &st, 0);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	stop_b();
	printf("procsig: sent %d, B's handler ran while the child waited: %d, on B: %d\n", sent,
	       child_saw, usr1_tid == b_tid);
	print_status("procsig", st);
	signal(SIGUSR1, SIG_DFL);
}

static void sec_nested(void)
{
	start_b(NULL);
	static volatile int g_saw, g_st;
	pid_t c = vfork();
	if (c == 0) {
		pid_t g = vfork();
		if (g == 0) {
			int from = ticks;
			for (int i = 0; i < 10000 && ticks < from + 20; i++)
				nap_ms(1);
			g_saw = ticks >= from + 20;
			_exit(6);
		}
		int gst;
		waitpid(g, &gst, 0);
		g_st = gst;
		int from = ticks;
		for (int i = 0; i < 10000 && ticks < from + 20; i++)
			nap_ms(1);
		child_saw = ticks >= from + 20;
		_exit(7);
	}
	int st;
	waitpid(c, &st, 0);
	stop_b();
	printf("nested: B ran while the grandchild waited %d, then while the child waited %d\n",
	       g_saw, child_saw);
	print_status("nested grandchild", g_st);
	print_status("nested", st);
}

/* exit_b and kill_parent: the process P whose vfork child outlives it is a
 * child of the program, which is a subreaper, so it reaps both. */
static void exit_when_started(void)
{
	static int after;
	if (child_started && ++after >= 20)
		exit(0);
}

static void outlive(const char *sec, int by_kill)
{
	if (pipe(pipe_fds))
		return;
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	pid_t p = fork();
	if (p == 0) {
		child_started = 0;
		start_b(by_kill ? NULL : exit_when_started);
		pid_t c = vfork();
		if (c == 0) {
			pid_t pp = getppid();
			child_started = 1;
			if (by_kill) {
				int from = ticks;
				for (int i = 0; i < 10000 && ticks < from + 20; i++)
					nap_ms(1);
				kill(pp, SIGKILL);
			}
			/* Until the parent is gone and this one reparented. */
			for (int i = 0; i < 10000 && getppid() == pp; i++)
				nap_ms(1);
			char b = 0;
			ssize_t n = read(pipe_fds[0], &b, 1);
			_exit(n == 1 && b == 'z' ? 11 : 12);
		}
		/* Not reached: B ends the process, or the child kills it. */
		printf("%s: the vfork caller returned %d\n", sec, c > 0);
		_exit(1);
	}
	int st;
	waitpid(p, &st, 0);
	print_status(sec, st);
	int w = write(pipe_fds[1], "z", 1) == 1;
	pid_t r = waitpid(-1, &st, 0);
	printf("%s: the vfork child outlived its parent and was reaped here %d (wrote %d)\n", sec,
	       r > 0 && r != p, w);
	print_status(sec, st);
	close(pipe_fds[0]);
	close(pipe_fds[1]);
	prctl(PR_SET_CHILD_SUBREAPER, 0);
}

/* fpstate: the FP control register's rounding mode (x86_64: MXCSR RC,
 * aarch64: FPCR RMode), set by the vfork caller to "up". */
#if defined(__x86_64__)
static unsigned fp_ctl(void)
{
	unsigned v;
	__asm__ volatile("stmxcsr %0" : "=m"(v));
	return v;
}
static void fp_set(unsigned v)
{
	__asm__ volatile("ldmxcsr %0" : : "m"(v));
}
#define FP_UP 0x4000u
#define FP_MASK 0x6000u
#elif defined(__aarch64__)
static unsigned fp_ctl(void)
{
	unsigned long v;
	__asm__ volatile("mrs %0, fpcr" : "=r"(v));
	return (unsigned)v;
}
static void fp_set(unsigned v)
{
	__asm__ volatile("msr fpcr, %0" : : "r"((unsigned long)v));
}
#define FP_UP 0x400000u
#define FP_MASK 0xc00000u
#endif

static volatile int fp_b_spins;

static void *fp_spinner(void *arg)
{
	(void)arg;
	while (!stop) {
		fp_b_spins++;
		sched_yield();
	}
	return NULL;
}

static void sec_fpstate(void)
{
#ifdef FP_UP
	stop = 0;
	pthread_t b;
	pthread_create(&b, NULL, fp_spinner, NULL);
	while (fp_b_spins < 3)
		sched_yield();
	unsigned saved = fp_ctl();
	fp_set((saved & ~FP_MASK) | FP_UP);
	static volatile unsigned child_mode, b_spins_seen;
	pid_t c = vfork();
	if (c == 0) {
		child_mode = fp_ctl() & FP_MASK;
		int from = fp_b_spins;
		for (int i = 0; i < 10000 && fp_b_spins < from + 5; i++)
			nap_ms(1);
		b_spins_seen = fp_b_spins >= from + 5;
		_exit(0);
	}
	unsigned mine = fp_ctl() & FP_MASK;
	fp_set(saved);
	int st;
	waitpid(c, &st, 0);
	stop = 1;
	pthread_join(b, NULL);
	printf("fpstate: the child's rounding mode is the caller's %d, the caller's kept %d, B ran "
	       "%d\n",
	       child_mode == FP_UP, mine == FP_UP, b_spins_seen);
	print_status("fpstate", st);
#else
	printf("fpstate: not checked on this arch\n");
#endif
}

/* spawn: thread A is a new thread; the main thread counts. */
static volatile int spawn_done;
static volatile int spawn_rc, spawn_st, spawn_missing_rc;
static volatile int spawn_ticks;

static void *spawner(void *arg)
{
	char *self = arg;
	char *argv[] = {self, "nap_exit4", NULL};
	pid_t pid;
	int from = ticks;
	spawn_rc = posix_spawn(&pid, "/proc/self/exe", NULL, NULL, argv, environ);
	int st = 0;
	if (spawn_rc == 0)
		waitpid(pid, &st, 0);
	spawn_st = st;
	spawn_ticks = ticks - from;
	char *argv2[] = {"missing", NULL};
	spawn_missing_rc = posix_spawn(&pid, "/nonexistent/missing", NULL, NULL, argv2, environ);
	if (spawn_missing_rc == 0)
		waitpid(pid, &st, 0);
	spawn_done = 1;
	return NULL;
}

static void sec_spawn(char *self)
{
	spawn_done = 0;
	ticks = 0;
	pthread_t a;
	pthread_create(&a, NULL, spawner, self);
	while (!spawn_done) {
		ticks++;
		nap_ms(1);
	}
	pthread_join(a, NULL);
	printf("spawn: from a thread %s, the main thread ticked at least 5 times meanwhile: %d\n",
	       errname(spawn_rc), spawn_ticks >= 5);
	print_status("spawn", spawn_st);
	printf("spawn: a missing program %s\n", errname(spawn_missing_rc));
}

/* exec_b: B execs the program again with "reap FD" while the vfork child
 * reads the pipe. */
static char *exec_self;
static char **exec_rest;
static int exec_nrest;

static void exec_when_started(void)
{
	static int after;
	if (!child_started || ++after < 20)
		return;
	char fdbuf[16];
	snprintf(fdbuf, sizeof fdbuf, "%d", pipe_fds[1]);
	char *argv[64] = {exec_self, "reap", fdbuf};
	int n = 3;
	for (int i = 0; i < exec_nrest && n < 63; i++)
		argv[n++] = exec_rest[i];
	argv[n] = NULL;
	execve("/proc/self/exe", argv, environ);
	printf("exec_b: execve failed %s\n", errname(errno));
	_exit(1);
}

static void sec_exec_b(char *self, char **rest, int nrest)
{
	if (pipe(pipe_fds))
		return;
	exec_self = self;
	exec_rest = rest;
	exec_nrest = nrest;
	child_started = 0;
	start_b(exec_when_started);
	pid_t c = vfork();
	if (c == 0) {
		char b = 0;
		child_started = 1;
		ssize_t n = read(pipe_fds[0], &b, 1);
		_exit(n == 1 && b == 'w' ? 8 : 9);
	}
	/* Never reached: B's exec kills this thread first. */
	printf("exec_b: the vfork caller returned %d\n", c > 0);
	for (;;)
		pause();
}

/* The image B's exec started: writes the pipe and reaps the vfork child. */
static void reap(const char *fdstr)
{
	int fd = atoi(fdstr);
	printf("exec_b: the new image runs\n");
	int w = write(fd, "w", 1) == 1;
	int st;
	pid_t r = waitpid(-1, &st, 0);
	printf("exec_b: wrote %d, reaped the vfork child %d\n", w, r > 0);
	print_status("exec_b", st);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "exit0"))
			return 0;
		if (!strcmp(argv[i], "nap_exit4")) {
			nap_ms(100);
			return 4;
		}
		stop = 0;
		ticks = 0;
		child_saw = 0;
		if (!strcmp(argv[i], "exit"))
			run(0, argv[0]);
		else if (!strcmp(argv[i], "exec"))
			run(1, argv[0]);
		else if (!strcmp(argv[i], "sleep"))
			sec_sleep();
		else if (!strcmp(argv[i], "pipe"))
			sec_pipe();
		else if (!strcmp(argv[i], "tgkill"))
			sec_tgkill();
		else if (!strcmp(argv[i], "kill"))
			sec_kill();
		else if (!strcmp(argv[i], "segv"))
			sec_segv();
		else if (!strcmp(argv[i], "identity"))
			sec_identity();
		else if (!strcmp(argv[i], "procsig"))
			sec_procsig();
		else if (!strcmp(argv[i], "nested"))
			sec_nested();
		else if (!strcmp(argv[i], "exit_b"))
			outlive("exit_b", 0);
		else if (!strcmp(argv[i], "kill_parent"))
			outlive("kill_parent", 1);
		else if (!strcmp(argv[i], "fpstate"))
			sec_fpstate();
		else if (!strcmp(argv[i], "spawn"))
			sec_spawn(argv[0]);
		else if (!strcmp(argv[i], "exec_b"))
			sec_exec_b(argv[0], argv + i + 1, argc - i - 1);
		else if (!strcmp(argv[i], "reap") && i + 1 < argc)
			reap(argv[++i]);
	}
	return 0;
}
