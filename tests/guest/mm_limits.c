/* mm_limits: the limits and argument checks of the mapping calls. The map
 * count (vm.max_map_count) bounds splits; mmap refuses bad types, offsets
 * and flags as Linux does; MAP_32BIT places below 2 GiB; a file mapping
 * past the end of its file gives SIGBUS to the guest and EFAULT to write();
 * mremap with MREMAP_FIXED and MREMAP_DONTUNMAP; and many pages touched in
 * a pattern no host can merge ("hostmaps", run with a large --mem);
 * RLIMIT_AS and RLIMIT_DATA; mlock, mlock2, munlock, mlockall, munlockall
 * with RLIMIT_MEMLOCK; mincore. Prints
 * errno names and relations, never addresses. Arguments name the sections
 * to run (all when none, except hostmaps). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>
#include "common.h"

#define PAGE 4096UL

static const char *en(int e)
{
	switch (e) {
	case EOVERFLOW: return "EOVERFLOW";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case ENODEV: return "ENODEV";
	default: return errname(e);
	}
}

static void show(const char *what, void *p)
{
	if (p == MAP_FAILED)
		printf("%s: -1 %s\n", what, en(errno));
	else
		printf("%s: ok\n", what);
}

static void sec_maxmap(void)
{
	/* Make every other page of a large mapping PROT_NONE until a split
	 * fails: Linux stops at vm.max_map_count (65530) VMAs. */
	size_t n = 70000;
	char *m = mmap(NULL, 2 * n * PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		       -1, 0);
	if (m == MAP_FAILED) {
		printf("maxmap mmap: -1 %s\n", en(errno));
		return;
	}
	size_t i;
	int err = 0;
	for (i = 0; i < n; i++) {
		if (mprotect(m + 2 * i * PAGE, PAGE, PROT_NONE)) {
			err = errno;
			break;
		}
	}
	/* Two VMAs per split page, plus the few the program has. */
	printf("maxmap: split stopped with %s, within the limit: %s\n", en(err),
	       i >= 32700 && i <= 32766 ? "yes" : "no");
	/* mmap fails the same way once the count is reached. */
	void *p = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	void *q = mmap(NULL, PAGE, PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	void *r = mmap(NULL, PAGE, PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	printf("maxmap: three more mmaps: %s\n",
	       p == MAP_FAILED || q == MAP_FAILED || r == MAP_FAILED ? "ENOMEM" : "ok");
	/* munmap that splits is refused too. */
	int u = munmap(m + (2 * n - 3) * PAGE, PAGE);
	printf("maxmap: munmap in the middle: %s\n", u ? en(errno) : "ok");
	/* Unmapping it all works, and the count is free again. */
	printf("maxmap: munmap all: %d\n", munmap(m, 2 * n * PAGE));
	void *s = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	printf("maxmap: mmap after: %s\n", s == MAP_FAILED ? en(errno) : "ok");
}

static void sec_args(void)
{
	int fd = open("/proc/self/exe", O_RDONLY);
	if (fd < 0)
		fd = open("/dev/zero", O_RDONLY);
	show("anon offset -4096", mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1,
				       (off_t)-4096));
	show("file offset -4096", mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, fd, (off_t)-4096));
	show("file offset 2^62", mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, fd, (off_t)1 << 62));
	show("file offset 2^63-4096",
	     mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, fd, (off_t)0x7ffffffffffff000LL));
	show("file offset 2^63-8192 len 8192",
	     mmap(NULL, 2 * PAGE, PROT_READ, MAP_PRIVATE, fd, (off_t)0x7fffffffffffe000LL));
	show("file offset 2^63-8192 len 4096",
	     mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, fd, (off_t)0x7fffffffffffe000LL));
	show("file offset unaligned", mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, fd, 100));
	show("anon shared|private", mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
					 MAP_SHARED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
	show("file shared|private", mmap(NULL, PAGE, PROT_READ, MAP_SHARED | MAP_PRIVATE, fd, 0));
	show("file shared_validate unknown flag",
	     mmap(NULL, PAGE, PROT_READ, MAP_SHARED | MAP_PRIVATE | 0x800000, fd, 0));
	show("no type", mmap(NULL, PAGE, PROT_READ, MAP_ANONYMOUS, -1, 0));
	show("length 0", mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
	show("length huge", mmap(NULL, (size_t)-PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
	show("bad prot", mmap(NULL, PAGE, 0x100, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
	show("bad fd", mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, 999, 0));
	close(fd);
}

static void sec_map32(void)
{
#ifdef MAP_32BIT
	int ok = 1;
	for (int i = 0; i < 8; i++) {
		char *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
		if (p == MAP_FAILED || (uintptr_t)p + (1 << 20) > 0x80000000UL)
			ok = 0;
		else
			p[5] = 1;
	}
	printf("map32: below 2 GiB: %s\n", ok ? "yes" : "no");
#else
	printf("map32: below 2 GiB: yes\n");
#endif
}

static sigjmp_buf jb;
static volatile sig_atomic_t got;

static void on_sig(int sig, siginfo_t *si, void *uc)
{
	(void)si;
	(void)uc;
	got = sig;
	siglongjmp(jb, 1);
}

static void sec_eof(void)
{
	const char *path = "mm_limits_eof.tmp";
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	int out = open("mm_limits_out.tmp", O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || out < 0) {
		printf("eof open: -1 %s\n", en(errno));
		return;
	}
	unlink(path);
	unlink("mm_limits_out.tmp");
	write(fd, "abc", 3);
	char *m = mmap(NULL, 3 * PAGE, PROT_READ, MAP_PRIVATE, fd, 0);
	if (m == MAP_FAILED) {
		printf("eof mmap: -1 %s\n", en(errno));
		return;
	}
	printf("eof: in the file: %c%c%c, then %d\n", m[0], m[1], m[2], m[100]);
	long r = write(out, m, 10);
	printf("eof: write from the first page: %ld\n", r);
	r = write(out, m + PAGE, 10);
	printf("eof: write from past the end: %ld %s\n", r, r < 0 ? en(errno) : "");
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_sig;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
	got = 0;
	if (sigsetjmp(jb, 1) == 0) {
		volatile char c = m[2 * PAGE + 7];
		(void)c;
	}
	printf("eof: reading past the end: %s\n",
	       got == SIGBUS ? "SIGBUS" : got == SIGSEGV ? "SIGSEGV" : "no signal");
	/* The file grows: the page is there now. */
	pwrite(fd, "x", 1, 2 * PAGE + 7);
	got = 0;
	char c = 0;
	if (sigsetjmp(jb, 1) == 0)
		c = m[PAGE];
	printf("eof: after growing the file: %s %d\n", got ? "signal" : "no signal", c);
	signal(SIGBUS, SIG_DFL);
	signal(SIGSEGV, SIG_DFL);
	close(fd);
	close(out);
}

static void sec_mremap(void)
{
	char *a = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *b = mmap(NULL, 8 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	strcpy(a, "moved");
	strcpy(b + 6 * PAGE, "old");
	/* Move onto part of b: what was there goes. */
	char *r = mremap(a, 4 * PAGE, 2 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, b + 5 * PAGE);
	printf("fixed: at the target %s, contents %s\n", r == b + 5 * PAGE ? "yes" : "no",
	       r == MAP_FAILED ? "-" : r);
	printf("fixed: old range gone: %s\n",
	       mprotect(a, PAGE, PROT_READ) && errno == ENOMEM ? "yes" : "no");
	printf("fixed: the rest of b stays: %d\n", b[4 * PAGE] == 0 && b[7 * PAGE] == 0);
	r = mremap(b, PAGE, PAGE, MREMAP_FIXED, b + 3 * PAGE);
	printf("fixed without maymove: %s\n", r == MAP_FAILED ? en(errno) : "ok");
	r = mremap(b, 2 * PAGE, 2 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, b + PAGE);
	printf("fixed overlapping: %s\n", r == MAP_FAILED ? en(errno) : "ok");
	r = mremap(b, PAGE, PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, b + 3 * PAGE + 1);
	printf("fixed unaligned: %s\n", r == MAP_FAILED ? en(errno) : "ok");
	r = mremap(b, PAGE, PAGE, 8);
	printf("bad flag: %s\n", r == MAP_FAILED ? en(errno) : "ok");
#ifdef MREMAP_DONTUNMAP
	char *d = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	strcpy(d, "kept");
	r = mremap(d, 2 * PAGE, 2 * PAGE, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, 0);
	if (r == MAP_FAILED) {
		printf("dontunmap: -1 %s\n", en(errno));
	} else {
		printf("dontunmap: new has %s, old reads %d\n", r, d[0]);
	}
	r = mremap(d, 2 * PAGE, 4 * PAGE, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, 0);
	printf("dontunmap growing: %s\n", r == MAP_FAILED ? en(errno) : "ok");
#else
	printf("dontunmap: new has kept, old reads 0\n");
	printf("dontunmap growing: EINVAL\n");
#endif
}

static void sec_hostmaps(void)
{
	/* 300 MiB: the even pages first, then the odd ones, so that no two
	 * neighbouring pages have neighbouring frames. */
	size_t n = 300UL * 256;
	unsigned char *m = mmap(NULL, n * PAGE, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED) {
		printf("hostmaps mmap: -1 %s\n", en(errno));
		return;
	}
	for (size_t i = 0; i < n; i += 2)
		m[i * PAGE] = (unsigned char)(i * 7 + 1);
	for (size_t i = 1; i < n; i += 2)
		m[i * PAGE] = (unsigned char)(i * 7 + 1);
	unsigned long bad = 0;
	for (size_t pass = 0; pass < 2; pass++)
		for (size_t i = pass; i < n; i += 2)
			bad += m[i * PAGE] != (unsigned char)(i * 7 + 1);
	printf("hostmaps: %lu pages touched, %lu wrong\n", (unsigned long)n, bad);
	/* A child forked now starts with all of them too. */
	pid_t pid = fork();
	if (pid == 0) {
		unsigned long sum = 0;
		for (size_t i = 0; i < n; i += 3)
			sum += m[i * PAGE];
		for (size_t i = 0; i < n; i += 5)
			m[i * PAGE] = 0;
		_exit(sum ? 0 : 1);
	}
	int st;
	waitpid(pid, &st, 0);
	printf("hostmaps: child exited %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st));
	printf("hostmaps: munmap %d\n", munmap(m, n * PAGE));
}


/* Runs fn in a child and waits for it (limits and locks stay there). */
static void in_child(void (*fn)(void))
{
	pid_t pid = fork();
	if (pid == 0) {
		fn();
		_exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		printf("child failed\n");
}

static void set_limit(int res, unsigned long v)
{
	struct rlimit r = {v, v};
	if (setrlimit(res, &r))
		printf("setrlimit: -1 %s\n", en(errno));
}

#define MIB (1024UL * 1024UL)

static void rlimit_as(void)
{
	set_limit(RLIMIT_AS, 64 * MIB);
	show("as: mmap 100 MiB", mmap(NULL, 100 * MIB, PROT_READ | PROT_WRITE,
				      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
	show("as: mmap 100 MiB PROT_NONE",
	     mmap(NULL, 100 * MIB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
	show("as: mmap 100 MiB shared", mmap(NULL, 100 * MIB, PROT_READ | PROT_WRITE,
					     MAP_SHARED | MAP_ANONYMOUS, -1, 0));
	void *p = mmap(NULL, 16 * MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	show("as: mmap 16 MiB", p);
	void *q = mremap(p, 16 * MIB, 80 * MIB, MREMAP_MAYMOVE);
	show("as: mremap to 80 MiB", q);
	/* Replacing a mapping with MAP_FIXED counts only the growth. */
	void *r = mmap(p, 16 * MIB, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	show("as: MAP_FIXED over it", r);
	uintptr_t b = (uintptr_t)syscall(SYS_brk, 0);
	uintptr_t b2 = (uintptr_t)syscall(SYS_brk, b + 100 * MIB);
	printf("as: brk +100 MiB moved: %s\n", b2 == b + 100 * MIB ? "yes" : "no");
}

static void rlimit_data(void)
{
	set_limit(RLIMIT_DATA, 16 * MIB);
	show("data: mmap 32 MiB private writable", mmap(NULL, 32 * MIB, PROT_READ | PROT_WRITE,
							 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
	show("data: mmap 32 MiB read-only",
	     mmap(NULL, 32 * MIB, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
	show("data: mmap 32 MiB shared writable", mmap(NULL, 32 * MIB, PROT_READ | PROT_WRITE,
							MAP_SHARED | MAP_ANONYMOUS, -1, 0));
	void *p = mmap(NULL, 4 * MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	show("data: mmap 4 MiB private writable", p);
	show("data: mremap to 40 MiB", mremap(p, 4 * MIB, 40 * MIB, MREMAP_MAYMOVE));
	uintptr_t b = (uintptr_t)syscall(SYS_brk, 0);
	uintptr_t b2 = (uintptr_t)syscall(SYS_brk, b + 32 * MIB);
	printf("data: brk +32 MiB moved: %s\n", b2 == b + 32 * MIB ? "yes" : "no");
	b2 = (uintptr_t)syscall(SYS_brk, b + 64 * 1024);
	printf("data: brk +64 KiB moved: %s\n", b2 == b + 64 * 1024 ? "yes" : "no");
}

static void sec_rlimits(void)
{
	in_child(rlimit_as);
	in_child(rlimit_data);
}

static void show_core(const char *what, char *p, size_t pages)
{
	unsigned char v[16];
	memset(v, 7, sizeof v);
	if (mincore(p, pages * PAGE, v)) {
		printf("%s: -1 %s\n", what, en(errno));
		return;
	}
	printf("%s:", what);
	for (size_t i = 0; i < pages; i++)
		printf(" %d", v[i] & 1);
	printf("\n");
}

/* Prints the VmLck line of /proc/self/status. */
static void show_vmlck(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	while (f && fgets(line, sizeof line, f))
		if (!strncmp(line, "VmLck:", 6))
			printf("%s", line);
	if (f)
		fclose(f);
}

static void lock_root(void)
{
	char *p = mmap(NULL, 8 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	show_core("fresh", p, 8);
	printf("mlock 3 pages: %d\n", mlock(p + 10, 3 * PAGE - 20));
	show_core("after mlock", p, 8);
	show_vmlck();
	printf("mlock2 onfault: %ld\n", syscall(SYS_mlock2, p + 5 * PAGE, 2 * PAGE, 1));
	show_core("after mlock2 onfault", p, 8);
	long r = syscall(SYS_mlock2, p, PAGE, 2);
	printf("mlock2 bad flag: %s\n", r ? en(errno) : "ok");
	printf("munlock: %d\n", munlock(p, 8 * PAGE));
	show_vmlck();
	munmap(p + 7 * PAGE, PAGE);
	r = mlock(p + 6 * PAGE, 2 * PAGE);
	printf("mlock over a hole: %s\n", r ? en(errno) : "ok");
	r = munlock(p + 6 * PAGE, 2 * PAGE);
	printf("munlock over a hole: %s\n", r ? en(errno) : "ok");
	printf("mlock length 0: %d\n", mlock(p, 0));
	r = mlockall(0);
	printf("mlockall(0): %s\n", r ? en(errno) : "ok");
	r = mlockall(MCL_ONFAULT);
	printf("mlockall(MCL_ONFAULT): %s\n", r ? en(errno) : "ok");
	r = mlockall(8);
	printf("mlockall(8): %s\n", r ? en(errno) : "ok");
	printf("mlockall(MCL_FUTURE): %d\n", mlockall(MCL_FUTURE));
	char *f = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	show_core("mapped after MCL_FUTURE", f, 4);
	printf("munlockall: %d\n", munlockall());
	char *g = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	show_core("mapped after munlockall", g, 4);
	printf("mlockall(MCL_CURRENT): %d\n", mlockall(MCL_CURRENT));
	show_core("after MCL_CURRENT", g, 4);
	printf("munlockall: %d\n", munlockall());
	char *l = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED, -1, 0);
	show_core("MAP_LOCKED", l, 3);
	show_vmlck();
	munmap(l, 3 * PAGE);
	show_vmlck();
	char *pp = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	show_core("MAP_POPULATE", pp, 3);
	/* Root ignores RLIMIT_MEMLOCK (CAP_IPC_LOCK). */
	set_limit(RLIMIT_MEMLOCK, 0);
	char *h = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	printf("root, limit 0: mlock %d\n", mlock(h, 4 * PAGE));
}

static void lock_user_zero(void)
{
	set_limit(RLIMIT_MEMLOCK, 0);
	if (setuid(65534)) {
		printf("setuid: -1 %s\n", en(errno));
		return;
	}
	char *p = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int r = mlock(p, PAGE);
	printf("user, limit 0: mlock %s\n", r ? en(errno) : "ok");
	r = mlockall(MCL_CURRENT);
	printf("user, limit 0: mlockall %s\n", r ? en(errno) : "ok");
}

static void lock_user_small(void)
{
	set_limit(RLIMIT_MEMLOCK, 2 * PAGE);
	if (setuid(65534)) {
		printf("setuid: -1 %s\n", en(errno));
		return;
	}
	char *p = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int r = mlock(p, 2 * PAGE);
	printf("user, limit 2 pages: mlock 2 %s\n", r ? en(errno) : "ok");
	r = mlock(p, 2 * PAGE);
	printf("user, limit 2 pages: the same 2 again %s\n", r ? en(errno) : "ok");
	r = mlock(p + 2 * PAGE, PAGE);
	printf("user, limit 2 pages: one more %s\n", r ? en(errno) : "ok");
	munlock(p, PAGE);
	r = mlock(p + 2 * PAGE, PAGE);
	printf("user, limit 2 pages: one more after munlock %s\n", r ? en(errno) : "ok");
	r = mlockall(MCL_CURRENT);
	printf("user, limit 2 pages: mlockall %s\n", r ? en(errno) : "ok");
}

static void sec_mlock(void)
{
	in_child(lock_root);
	in_child(lock_user_zero);
	in_child(lock_user_small);
}

static void sec_mincore(void)
{
	char *m = mmap(NULL, 8 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	m[0] = 1;
	m[2 * PAGE] = 1;
	m[5 * PAGE + 9] = 1;
	show_core("touched 0 2 5", m, 8);
	int r = mincore(m + 1, PAGE, (unsigned char[4]){0});
	printf("unaligned: %s\n", r ? en(errno) : "ok");
	munmap(m + 7 * PAGE, PAGE);
	r = mincore(m, 8 * PAGE, (unsigned char[8]){0});
	printf("over a hole: %s\n", r ? en(errno) : "ok");
	r = mincore(m, 0, (unsigned char[1]){0});
	printf("length 0: %s\n", r ? en(errno) : "ok");
	r = mincore(m, PAGE, (unsigned char *)16);
	printf("bad vector: %s\n", r ? en(errno) : "ok");
	r = mincore(m, 100, (unsigned char[4]){0});
	printf("length not a page multiple: %s\n", r ? en(errno) : "ok");
	madvise(m, 7 * PAGE, MADV_DONTNEED);
	show_core("after MADV_DONTNEED", m, 7);
}

static void sec_iofault(void)
{
	/* Vectored I/O that meets a fault part-way returns what it did; a
	 * fault before any byte is EFAULT. */
	int fd = open("mm_limits_io.tmp", O_RDWR | O_CREAT | O_TRUNC, 0644);
	int out = open("mm_limits_io2.tmp", O_RDWR | O_CREAT | O_TRUNC, 0644);
	unlink("mm_limits_io.tmp");
	unlink("mm_limits_io2.tmp");
	write(fd, "abc", 3);
	char *m = mmap(NULL, 2 * PAGE, PROT_READ, MAP_PRIVATE, fd, 0);
	struct iovec w[2] = {{m, 3}, {m + PAGE, 10}};
	long r = writev(out, w, 2);
	printf("writev, second iovec past EOF: %ld %s\n", r, r < 0 ? en(errno) : "");
	struct iovec w0[1] = {{m + PAGE, 10}};
	r = writev(out, w0, 1);
	printf("writev, only iovec past EOF: %ld %s\n", r, r < 0 ? en(errno) : "");
	int p[2];
	pipe(p);
	write(p[1], "hello", 5);
	char buf[8] = {0};
	/* The first iovec takes all there is; the unmapped second is never
	 * reached. */
	struct iovec rv[2] = {{buf, 5}, {(void *)16, 3}};
	r = readv(p[0], rv, 2);
	printf("readv, second iovec unmapped: %ld %s %.5s\n", r, r < 0 ? en(errno) : "", buf);
	/* A fault before any byte is EFAULT, and the data stays in the pipe. */
	write(p[1], "world", 5);
	struct iovec rv0[1] = {{(void *)16, 3}};
	r = readv(p[0], rv0, 1);
	printf("readv, only iovec unmapped: %ld %s\n", r, r < 0 ? en(errno) : "");
	char *volatile unmapped = (char *)16;
	r = read(p[0], unmapped, 3);
	printf("read into unmapped: %ld %s\n", r, r < 0 ? en(errno) : "");
	r = read(p[0], buf, 5);
	printf("the pipe still holds: %ld %.5s\n", r, buf);
	/* write() from a mapping whose second page lies past EOF: the first. */
	r = write(out, m, PAGE + 10);
	printf("write across EOF page: %ld %s\n", r, r < 0 ? en(errno) : "");
	char *volatile bad = (char *)16;
	r = pread(fd, bad, 3, 0);
	printf("pread into unmapped: %ld %s\n", r, r < 0 ? en(errno) : "");
	lseek(fd, 0, SEEK_SET);
	r = read(fd, m, 3);
	printf("read into read-only: %ld %s\n", r, r < 0 ? en(errno) : "");
	close(p[0]);
	close(p[1]);
	close(fd);
	close(out);
}

struct section {
	const char *name;
	void (*fn)(void);
	int by_default;
};

static const struct section sections[] = {
	{"maxmap", sec_maxmap, 1},
	{"args", sec_args, 1},
	{"map32", sec_map32, 1},
	{"eof", sec_eof, 1},
	{"mremap", sec_mremap, 1},
	{"rlimits", sec_rlimits, 1},
	{"mlock", sec_mlock, 1},
	{"mincore", sec_mincore, 1},
	{"iofault", sec_iofault, 1},
	{"hostmaps", sec_hostmaps, 0},
};

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	int n = sizeof sections / sizeof sections[0];
	for (int i = 0; i < n; i++) {
		int want = argc == 1 && sections[i].by_default;
		for (int a = 1; a < argc; a++)
			want |= !strcmp(argv[a], sections[i].name);
		if (want)
			sections[i].fn();
	}
	return 0;
}
