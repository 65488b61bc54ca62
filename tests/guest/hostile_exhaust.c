/* hostile_exhaust MODE: resource exhaustion by a guest. Modes:
 *   forkbomb    fork until fork fails; prints "forked N errno E"; the
 *               children wait in pause() until the parent kills them all
 *   forkbomb-wild  every process forks forever (ended by --timeout)
 *   stubleak    200 x clone(CLONE_PARENT_SETTID|SIGCHLD, ptid = bad
 *               pointer): each must fail without leaving anything behind
 *   fds         opens /dev/null until it fails; prints "opened N errno E
 *               limit L" (L from getrlimit(RLIMIT_NOFILE))
 *   mem         mmaps and touches 1 MiB chunks until mmap fails or the
 *               process is killed; prints "MiB N" after each chunk
 *   brk         the same through brk
 *   stack       infinite recursion
 *   spin        an endless busy loop
 *   preempt     a child busy-loops while the parent prints "tick N" 5 times
 *               with getppid/sched_yield-free busy waits between them
 *   long        ENAMETOOLONG and E2BIG checks; prints "ok"/"FAIL" lines
 *   longargv    execve with one 200 KB argument, and with 300000 one-byte
 *               arguments, must give E2BIG (the exec'd program would print
 *               a FAIL line)
 * Every mode ends with "done" when it gets that far. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int failures;
#define OK(...) printf("ok " __VA_ARGS__)
#define FAIL(...) (failures++, printf("FAIL " __VA_ARGS__))

static int forkbomb(void)
{
	static pid_t kids[100000];
	int n = 0, e = 0;
	for (;;) {
		pid_t p = fork();
		if (p == 0) {
			for (;;)
				pause();
		}
		if (p < 0) {
			e = errno;
			break;
		}
		kids[n++] = p;
		if (n == 100000)
			break;
	}
	printf("forked %d errno %d\n", n, e);
	for (int i = 0; i < n; i++)
		kill(kids[i], SIGKILL);
	int reaped = 0;
	while (wait(NULL) > 0)
		reaped++;
	printf("reaped %d\n", reaped);
	/* After the bomb, forking works again. */
	pid_t p = fork();
	if (p == 0)
		_exit(7);
	int st;
	waitpid(p, &st, 0);
	printf("fork after: %s\n", WIFEXITED(st) && WEXITSTATUS(st) == 7 ? "works" : "broken");
	return 0;
}

static int stubleak(void)
{
	int efault = 0, other = 0;
	for (int i = 0; i < 200; i++) {
		long r = syscall(56, 0x100000 | SIGCHLD, 0, (void *)8, 0, 0);
		if (r == 0)
			_exit(0);
		if (r < 0 && errno == EFAULT)
			efault++;
		else
			other++;
		if (r > 0)
			waitpid(r, NULL, 0);
	}
	printf("clone with bad ptid: %d EFAULT, %d other\n", efault, other);
	/* Hold on a moment so that the host side can count stubs. */
	struct timespec ts = {1, 0};
	nanosleep(&ts, NULL);
	return 0;
}

static int fds(void)
{
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	int n = 0, e = 0;
	for (;;) {
		int fd = open("/dev/null", O_RDONLY);
		if (fd < 0) {
			e = errno;
			break;
		}
		n++;
		if (n > 1000000)
			break;
	}
	printf("opened %d errno %d limit %ld\n", n, e, (long)rl.rlim_cur);
	int r = dup2(0, (int)rl.rlim_cur);
	printf("dup2 at the limit: %d errno %d\n", r, r < 0 ? errno : 0);
	r = pipe((int[2]){0, 0});
	printf("pipe when full: %d errno %d\n", r, r < 0 ? errno : 0);
	close(3);
	r = open("/dev/null", O_RDONLY);
	printf("after one close: %d\n", r);
	return 0;
}

static int mem(int use_brk)
{
	long mib = 0;
	for (;;) {
		char *p;
		if (use_brk) {
			/* Raw brk: musl's sbrk refuses every nonzero increment. */
			char *old = (char *)syscall(12, 0);
			p = old;
			if ((char *)syscall(12, old + (1 << 20)) != old + (1 << 20)) {
				errno = ENOMEM;
				printf("brk failed errno %d after %ld MiB\n", errno, mib);
				break;
			}
		} else {
			p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (p == MAP_FAILED) {
				printf("mmap failed errno %d after %ld MiB\n", errno, mib);
				break;
			}
		}
		for (long i = 0; i < (1 << 20); i += 4096)
			p[i] = 1;
		mib++;
		printf("MiB %ld\n", mib);
	}
	return 0;
}

#pragma GCC diagnostic ignored "-Winfinite-recursion"
static int depth(int n)
{
	volatile char pad[512];
	pad[0] = (char)n;
	return depth(n + 1) + pad[0];
}

static void spin(void)
{
	for (volatile unsigned long i = 0;; i++)
		;
}

static int preempt(void)
{
	pid_t c = fork();
	if (c == 0)
		spin();
	for (int i = 1; i <= 5; i++) {
		/* Busy work that makes syscalls rarely: the spinner must still
		 * lose the CPU to us. */
		for (volatile long j = 0; j < 20000000; j++)
			;
		printf("tick %d\n", i);
	}
	kill(c, SIGKILL);
	waitpid(c, NULL, 0);
	return 0;
}

/* 300000 one-byte arguments: 600 KB of strings, but with the argv pointers
 * 3 MB, over Linux's limit of a quarter of the 8 MiB stack. */
static int longargv(void)
{
	static char *argv[300010];
	char *envp[] = {NULL};
	static char huge[200000];
	argv[0] = "/bin/hostile_exhaust";
	argv[1] = "exec-succeeded";
	/* One argument over MAX_ARG_STRLEN (128 KiB). */
	memset(huge, 'z', sizeof huge - 1);
	argv[2] = huge;
	argv[3] = NULL;
	errno = 0;
	execve(argv[0], argv, envp);
	if (errno == E2BIG)
		OK("execve with a 200 KB argument: E2BIG\n");
	else
		FAIL("execve with a 200 KB argument: errno %d\n", errno);
	for (int i = 2; i <= 300000; i++)
		argv[i] = "y";
	argv[300001] = NULL;
	errno = 0;
	execve(argv[0], argv, envp);
	if (errno == E2BIG)
		OK("execve with 300000 small arguments (3 MB with pointers): E2BIG\n");
	else
		FAIL("execve with 300000 small arguments: errno %d\n", errno);
	return failures != 0;
}

static int longs(void)
{
	static char path[6000];
	memset(path, 'a', 5000);
	path[0] = '/';
	path[5000] = 0;
	errno = 0;
	if (open(path, O_RDONLY) < 0 && errno == ENAMETOOLONG)
		OK("5000-byte path: ENAMETOOLONG\n");
	else
		FAIL("5000-byte path: errno %d\n", errno);
	for (int i = 0; i < 5000; i += 2) {
		path[i] = 'd';
		path[i + 1] = '/';
	}
	errno = 0;
	if (mkdir(path, 0755) < 0 && errno == ENAMETOOLONG)
		OK("5000-byte path of short names: ENAMETOOLONG\n");
	else
		FAIL("5000-byte path of short names: errno %d\n", errno);
	memset(path, 'n', 300);
	path[300] = 0;
	errno = 0;
	if (open(path, O_RDONLY | O_CREAT, 0644) < 0 && errno == ENAMETOOLONG)
		OK("300-byte name: ENAMETOOLONG\n");
	else
		FAIL("300-byte name: errno %d\n", errno);
	/* execve with 3 MB of arguments: 3000 args of 1000 bytes. */
	static char *argv[200010];
	static char big[1001];
	memset(big, 'x', 1000);
	argv[0] = "/bin/hostile_exhaust";
	for (int i = 1; i <= 3000; i++)
		argv[i] = big;
	argv[3001] = NULL;
	char *envp[] = {NULL};
	errno = 0;
	execve(argv[0], argv, envp);
	if (errno == E2BIG)
		OK("execve with 3 MB of arguments: E2BIG\n");
	else
		FAIL("execve with 3 MB of arguments: errno %d\n", errno);
	printf("failures %d\n", failures);
	return failures != 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	const char *m = argc > 1 ? argv[1] : "";
	int r = 0;
	if (!strcmp(m, "forkbomb"))
		r = forkbomb();
	else if (!strcmp(m, "forkbomb-wild"))
		for (;;)
			fork();
	else if (!strcmp(m, "stubleak"))
		r = stubleak();
	else if (!strcmp(m, "fds"))
		r = fds();
	else if (!strcmp(m, "mem"))
		r = mem(0);
	else if (!strcmp(m, "brk"))
		r = mem(1);
	else if (!strcmp(m, "stack"))
		r = depth(0);
	else if (!strcmp(m, "spin"))
		spin();
	else if (!strcmp(m, "preempt"))
		r = preempt();
	else if (!strcmp(m, "longargv"))
		r = longargv();
	else if (!strcmp(m, "exec-succeeded")) {
		printf("FAIL execve with %d small arguments succeeded\n", argc);
		return 1;
	} else if (!strcmp(m, "long"))
		r = longs();
	else {
		printf("unknown mode %s\n", m);
		return 2;
	}
	printf("done\n");
	return r;
}
