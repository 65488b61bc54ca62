/* mm_shared: shared anonymous memory (MAP_SHARED|MAP_ANONYMOUS and
 * MAP_SHARED of /dev/zero) is shared by page with every forked process:
 * across fork chains, after munmap, mprotect, a partial munmap or mremap of
 * one side, and after its creator exits; several processes increment
 * counters in it with atomic builtins. Also MADV_DONTNEED: private anonymous
 * pages read back as zeroes, shared ones keep their contents. Prints values
 * only. Arguments name the sections to run (all when none). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include "common.h"

#define PAGE 4096UL

static void *shared(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		printf("mmap shared: -1 %s\n", errname(errno));
		exit(1);
	}
	return p;
}

static void reap(pid_t pid, const char *what)
{
	int st;
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		printf("%s: child failed\n", what);
}

static void sec_fork(void)
{
	volatile int *v = shared(PAGE);
	*v = 1;
	pid_t pid = fork();
	if (pid == 0) {
		*v = 42;
		_exit(0);
	}
	reap(pid, "fork");
	printf("fork: parent reads %d\n", *v);
	/* The parent writes, the child reads. */
	*v = 7;
	pid = fork();
	if (pid == 0)
		_exit(*v == 7 ? 0 : 1);
	reap(pid, "fork back");
	printf("fork: child read the parent's write\n");
}

static void sec_counters(void)
{
	enum { PROCS = 4, ROUNDS = 20000 };
	long *c = shared(2 * PAGE);
	long *far = c + PAGE / sizeof(long); /* the second page, untouched until the children run */
	pid_t pids[PROCS];
	for (int i = 0; i < PROCS; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			for (int r = 0; r < ROUNDS; r++) {
				__atomic_fetch_add(&c[0], 1, __ATOMIC_SEQ_CST);
				__atomic_fetch_add(&far[i], 1, __ATOMIC_SEQ_CST);
			}
			_exit(0);
		}
	}
	for (int r = 0; r < ROUNDS; r++)
		__atomic_fetch_add(&c[0], 1, __ATOMIC_SEQ_CST);
	for (int i = 0; i < PROCS; i++)
		reap(pids[i], "counters");
	printf("counters: total %ld (want %d)\n", c[0], (PROCS + 1) * ROUNDS);
	for (int i = 0; i < PROCS; i++)
		printf("counters: child %d counted %ld\n", i, far[i]);
}

static void sec_chain(void)
{
	/* parent -> child -> grandchild -> great-grandchild, each adding one. */
	int *v = shared(PAGE);
	*v = 0;
	pid_t pid = fork();
	if (pid == 0) {
		for (int depth = 0; depth < 3; depth++) {
			__atomic_fetch_add(v, 1, __ATOMIC_SEQ_CST);
			pid_t q = fork();
			if (q != 0) {
				int st;
				waitpid(q, &st, 0);
				_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 1);
			}
		}
		__atomic_fetch_add(v, 100, __ATOMIC_SEQ_CST);
		_exit(0);
	}
	reap(pid, "chain");
	printf("chain: %d\n", *v);
}

/* The child waits for a byte on `rd`, then reports *v through its exit code. */
static pid_t waiting_child(int rd, int wr, volatile int *v)
{
	pid_t pid = fork();
	if (pid == 0) {
		char b;
		close(wr);
		if (read(rd, &b, 1) != 1)
			_exit(255);
		_exit(*v & 0xff);
	}
	close(rd);
	return pid;
}

static int exit_code(pid_t pid)
{
	int st;
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

static void sec_munmap(void)
{
	int fd[2];
	if (pipe(fd))
		return;
	volatile int *v = shared(PAGE);
	pid_t pid = waiting_child(fd[0], fd[1], v);
	*v = 33;
	munmap((void *)v, PAGE);
	write(fd[1], "x", 1);
	close(fd[1]);
	printf("munmap: the child still reads %d\n", exit_code(pid));
}

static void sec_mprotect(void)
{
	int *v = shared(PAGE);
	*v = 5;
	if (mprotect(v, PAGE, PROT_READ))
		printf("mprotect: -1 %s\n", errname(errno));
	pid_t pid = fork();
	if (pid == 0) {
		if (mprotect(v, PAGE, PROT_READ | PROT_WRITE))
			_exit(1);
		*v = 6;
		_exit(0);
	}
	reap(pid, "mprotect");
	printf("mprotect: the read-only side reads %d\n", *v);
}

static void sec_split(void)
{
	/* Four pages; the child unmaps the second and makes the third
	 * read-only, then writes the first and fourth. */
	char *m = shared(4 * PAGE);
	memset(m, 'a', 4 * PAGE);
	pid_t pid = fork();
	if (pid == 0) {
		if (munmap(m + PAGE, PAGE) || mprotect(m + 2 * PAGE, PAGE, PROT_READ))
			_exit(1);
		m[0] = 'b';
		m[3 * PAGE] = 'd';
		_exit(m[2 * PAGE] == 'c' ? 0 : 2);
	}
	m[2 * PAGE] = 'c';
	/* The child may read the third page before or after this write: only
	 * compare what both runs agree on. */
	int st;
	waitpid(pid, &st, 0);
	printf("split: %c %c %c %c\n", m[0], m[PAGE], m[2 * PAGE], m[3 * PAGE]);
}

static void sec_mremap(void)
{
	char *m = shared(2 * PAGE);
	strcpy(m, "before");
	/* Move it: the pages go with it, still shared. */
	char *n = mremap(m, 2 * PAGE, 2 * PAGE, MREMAP_MAYMOVE);
	if (n == MAP_FAILED) {
		printf("mremap: -1 %s\n", errname(errno));
		return;
	}
	printf("mremap: moved contents %s\n", n);
	pid_t pid = fork();
	if (pid == 0) {
		strcpy(n + PAGE, "child");
		_exit(0);
	}
	reap(pid, "mremap");
	printf("mremap: after the child %s\n", n + PAGE);
	/* Shrink keeps the head shared. */
	n = mremap(n, 2 * PAGE, PAGE, 0);
	pid = fork();
	if (pid == 0) {
		strcpy(n, "shrunk");
		_exit(0);
	}
	reap(pid, "mremap shrink");
	printf("mremap: after shrinking %s\n", n);
}

static void sec_creator_exit(void)
{
	/* A child creates the memory and forks a grandchild, writes, and
	 * exits; the grandchild, an orphan now, reads it after the creator is
	 * gone and reports through a pipe. */
	int out[2], gate[2];
	if (pipe(out) || pipe(gate))
		return;
	pid_t pid = fork();
	if (pid == 0) {
		volatile int *v = shared(PAGE);
		pid_t g = fork();
		if (g == 0) {
			char b;
			close(gate[1]);
			/* EOF once the creator has exited. */
			while (read(gate[0], &b, 1) > 0)
				;
			int x = *v;
			*v = x + 1;
			char msg[32];
			int n = snprintf(msg, sizeof msg, "%d %d\n", x, *v);
			write(out[1], msg, n);
			_exit(0);
		}
		*v = 90;
		_exit(0);
	}
	close(gate[0]);
	close(gate[1]);
	close(out[1]);
	reap(pid, "creator");
	char buf[32] = {0};
	int n = 0, r;
	while ((r = read(out[0], buf + n, sizeof buf - 1 - n)) > 0)
		n += r;
	close(out[0]);
	printf("creator_exit: the orphan read and wrote %s", buf);
}

static void sec_devzero(void)
{
	int fd = open("/dev/zero", O_RDWR);
	if (fd < 0) {
		printf("open /dev/zero: -1 %s\n", errname(errno));
		return;
	}
	volatile int *s = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	volatile int *p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	close(fd);
	if (s == MAP_FAILED || p == MAP_FAILED) {
		printf("mmap /dev/zero: -1 %s\n", errname(errno));
		return;
	}
	printf("devzero: starts %d %d\n", *s, *p);
	pid_t pid = fork();
	if (pid == 0) {
		*s = 11;
		*p = 12;
		_exit(0);
	}
	reap(pid, "devzero");
	printf("devzero: shared %d, private %d\n", *s, *p);
}

static void sec_dontneed(void)
{
	char *p = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *s = shared(2 * PAGE);
	memset(p, 'p', 2 * PAGE);
	memset(s, 's', 2 * PAGE);
	printf("madvise private: %d\n", madvise(p, 2 * PAGE, MADV_DONTNEED));
	printf("madvise shared: %d\n", madvise(s, 2 * PAGE, MADV_DONTNEED));
	printf("dontneed: private reads %d %d, shared reads %c %c\n", p[0], p[PAGE + 5], s[0],
	       s[PAGE + 5]);
	/* Private pages after a fork: the child's discard leaves the parent's. */
	memset(p, 'q', PAGE);
	pid_t pid = fork();
	if (pid == 0)
		_exit(madvise(p, PAGE, MADV_DONTNEED) == 0 && p[0] == 0 ? 0 : 1);
	reap(pid, "dontneed fork");
	printf("dontneed: after the child's discard the parent reads %c\n", p[0]);
}

static sigjmp_buf jb;
static volatile sig_atomic_t got;

static void on_sig(int sig)
{
	got = sig;
	siglongjmp(jb, 1);
}

static void sec_grow(void)
{
	/* The object keeps its size: a mapping grown by mremap reaches past it,
	 * and a page wholly past it is SIGBUS. */
	char *m = shared(PAGE);
	strcpy(m, "one");
	char *n = mremap(m, PAGE, 2 * PAGE, MREMAP_MAYMOVE);
	if (n == MAP_FAILED) {
		printf("grow: -1 %s\n", errname(errno));
		return;
	}
	signal(SIGBUS, on_sig);
	signal(SIGSEGV, on_sig);
	got = 0;
	if (sigsetjmp(jb, 1) == 0)
		n[PAGE + 1] = 'x';
	printf("grow: first page %s, past the object: %s\n", n,
	       got == SIGBUS ? "SIGBUS" : got == SIGSEGV ? "SIGSEGV" : "no signal");
	int p[2];
	if (pipe(p))
		return;
	long r = write(p[1], n + PAGE, 4);
	printf("grow: write() from past the object: %ld %s\n", r, r < 0 ? errname(errno) : "");
	close(p[0]);
	close(p[1]);
	signal(SIGBUS, SIG_DFL);
	signal(SIGSEGV, SIG_DFL);
}

struct section {
	const char *name;
	void (*fn)(void);
};

static const struct section sections[] = {
	{"fork", sec_fork},
	{"counters", sec_counters},
	{"chain", sec_chain},
	{"munmap", sec_munmap},
	{"mprotect", sec_mprotect},
	{"split", sec_split},
	{"mremap", sec_mremap},
	{"creator_exit", sec_creator_exit},
	{"devzero", sec_devzero},
	{"dontneed", sec_dontneed},
	{"grow", sec_grow},
};

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	int n = sizeof sections / sizeof sections[0];
	for (int i = 0; i < n; i++) {
		int want = argc == 1;
		for (int a = 1; a < argc; a++)
			want |= !strcmp(argv[a], sections[i].name);
		if (want)
			sections[i].fn();
	}
	return 0;
}
