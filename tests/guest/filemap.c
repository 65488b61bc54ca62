/* filemap: file-backed memory. MAP_SHARED file mappings seen by read() and
 * write() both ways, across fork, written back by msync, munmap and exit;
 * MAP_PRIVATE copy-on-write; SIGBUS (with its si_code) on a page wholly past
 * the end of the file, also after ftruncate; shm_open + fork + sem_open;
 * madvise(MADV_DONTNEED) on private and shared, anonymous and file memory;
 * mincore; msync's errors; mremap of file mappings.
 *
 * Files are made in a fresh directory under $FILEMAP_DIR (default /tmp)
 * whose name is never printed. Section "keep" leaves its file behind (the
 * ext2 test reads it from the image after umbra exits), and so does
 * "exitkill" (which waits to be killed); section "reclaim" wants a small
 * guest memory. Arguments name the sections to run (all but those three
 * when none). Prints values only. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <semaphore.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "common.h"

#define PAGE 4096UL

static char dir[256];
static char path[300];

static const char *ename(int e)
{
	switch (e) {
	case EBUSY: return "EBUSY";
	case ENODEV: return "ENODEV";
	case EOVERFLOW: return "EOVERFLOW";
	default: return errname(e);
	}
}

static long chk(const char *what, long r)
{
	if (r < 0)
		printf("%s: -1 %s\n", what, ename(errno));
	else
		printf("%s: %ld\n", what, r);
	return r;
}

static void die(const char *what)
{
	printf("%s: -1 %s\n", what, ename(errno));
	exit(1);
}

/* A new file at `path` holding `len` bytes: byte i is 'a' + i % 23. */
static int make_file(const char *name, size_t len)
{
	snprintf(path, sizeof path, "%s/%s", dir, name);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		die("open");
	char *buf = malloc(len + 1);
	for (size_t i = 0; i < len; i++)
		buf[i] = 'a' + i % 23;
	if (len && write(fd, buf, len) != (ssize_t)len)
		die("write");
	free(buf);
	return fd;
}

static void *map(size_t len, int prot, int flags, int fd, off_t off)
{
	void *p = mmap(NULL, len, prot, flags, fd, off);
	if (p == MAP_FAILED)
		die("mmap");
	return p;
}

static void reap(pid_t pid, const char *what)
{
	int st;
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		printf("%s: child failed\n", what);
}

static void sec_shared_rw(void)
{
	int fd = make_file("rw", 2 * PAGE);
	char *m = map(2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	printf("shared_rw: map sees file: %c%c\n", m[0], m[PAGE + 5]);
	/* A store through the mapping is seen by read(). */
	memcpy(m + 10, "MAPPED", 6);
	memcpy(m + PAGE + 100, "SECOND", 6);
	char buf[8] = {0};
	pread(fd, buf, 6, 10);
	printf("shared_rw: pread after store: %s\n", buf);
	pread(fd, buf, 6, PAGE + 100);
	printf("shared_rw: pread page 2: %s\n", buf);
	/* read() at the position, across the page boundary. */
	char big[20] = {0};
	memcpy(m + PAGE - 3, "XYZ", 3);
	lseek(fd, PAGE - 3, SEEK_SET);
	read(fd, big, 6);
	printf("shared_rw: read across pages: %.6s\n", big);
	/* write() is seen through the mapping. */
	pwrite(fd, "WRITTEN", 7, 200);
	printf("shared_rw: map after pwrite: %.7s\n", m + 200);
	lseek(fd, PAGE + 300, SEEK_SET);
	write(fd, "VIAWRITE", 8);
	printf("shared_rw: map after write: %.8s\n", m + PAGE + 300);
	/* A second mapping of the same file sees the same pages. */
	char *m2 = map(PAGE, PROT_READ, MAP_SHARED, fd, PAGE);
	printf("shared_rw: second mapping: %.6s\n", m2 + 100);
	/* A private mapping sees the shared store too (same page cache). */
	char *pm = map(PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	printf("shared_rw: private mapping: %.6s\n", pm + 10);
	pm[10] = 'p';
	printf("shared_rw: after private store: map %c file-map %c\n", pm[10], m[10]);
	munmap(pm, PAGE);
	munmap(m2, PAGE);
	munmap(m, 2 * PAGE);
	close(fd);
	unlink(path);
}

static void sec_msync(void)
{
	int fd = make_file("sync", 3 * PAGE);
	char *m = map(3 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	memcpy(m + 1, "SYNCED", 6);
	chk("msync MS_SYNC", msync(m, 3 * PAGE, MS_SYNC));
	memcpy(m + PAGE + 1, "ASYNC", 5);
	chk("msync MS_ASYNC", msync(m + PAGE, PAGE, MS_ASYNC));
	memcpy(m + 2 * PAGE + 1, "UNMAPPED", 8);
	chk("msync MS_INVALIDATE", msync(m, PAGE, MS_INVALIDATE));
	munmap(m, 3 * PAGE);
	close(fd);
	/* Reopened: the contents are the file's. */
	fd = open(path, O_RDONLY);
	char buf[12] = {0};
	pread(fd, buf, 6, 1);
	printf("msync: reread 1: %s\n", buf);
	pread(fd, buf, 5, PAGE + 1);
	printf("msync: reread 2: %.5s\n", buf);
	pread(fd, buf, 8, 2 * PAGE + 1);
	printf("msync: reread 3: %.8s\n", buf);
	struct stat st;
	fstat(fd, &st);
	printf("msync: size %ld\n", (long)st.st_size);
	close(fd);
	unlink(path);
	/* A child writes and exits without msync: its store reaches the file. */
	fd = make_file("exit", PAGE);
	pid_t pid = fork();
	if (pid == 0) {
		char *c = map(PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		memcpy(c + 7, "CHILD", 5);
		_exit(0);
	}
	reap(pid, "msync child");
	close(fd);
	fd = open(path, O_RDONLY);
	pread(fd, buf, 5, 7);
	printf("msync: written by an exited child: %.5s\n", buf);
	close(fd);
	unlink(path);
}

static void sec_fork(void)
{
	int fd = make_file("fork", PAGE);
	volatile char *m = map(PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	pid_t pid = fork();
	if (pid == 0) {
		m[0] = 'C';
		_exit(0);
	}
	reap(pid, "fork");
	char c = 0;
	pread(fd, &c, 1, 0);
	printf("fork: parent map %c, read %c\n", m[0], c);
	/* The parent stores, a child reads it with read() and through its map. */
	m[1] = 'P';
	pid = fork();
	if (pid == 0) {
		char d = 0;
		pread(fd, &d, 1, 1);
		_exit(d == 'P' && m[1] == 'P' ? 0 : 1);
	}
	reap(pid, "fork back");
	printf("fork: child saw the parent's store\n");
	/* Counters in a shared file mapping, 4 processes. */
	volatile int *ctr = (volatile int *)(m + 64);
	*ctr = 0;
	for (int i = 0; i < 4; i++) {
		if (fork() == 0) {
			for (int j = 0; j < 5000; j++)
				__atomic_fetch_add(ctr, 1, __ATOMIC_SEQ_CST);
			_exit(0);
		}
	}
	for (int i = 0; i < 4; i++)
		wait(NULL);
	int v = 0;
	pread(fd, &v, sizeof v, 64);
	printf("fork: counter %d, file %d\n", *ctr, v);
	munmap((void *)m, PAGE);
	close(fd);
	unlink(path);
}

static sigjmp_buf jb;
static volatile int got_code;

static void on_bus(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	got_code = si->si_code;
	siglongjmp(jb, 1);
}

/* Reads a byte at p: the byte, or -1000 - si_code after SIGBUS. */
static int touch(volatile char *p)
{
	got_code = 0;
	if (sigsetjmp(jb, 1))
		return -1000 - got_code;
	return *p;
}

static void sec_sigbus(void)
{
	struct sigaction sa = {0};
	sa.sa_sigaction = on_bus;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGBUS, &sa, NULL);
	int fd = make_file("bus", 100);
	char *m = map(3 * PAGE, PROT_READ, MAP_SHARED, fd, 0);
	printf("sigbus: in file %d, past end in page %d, next page %d\n", touch(m + 50),
	       touch(m + 200), touch(m + PAGE + 1));
	char *pm = map(2 * PAGE, PROT_READ, MAP_PRIVATE, fd, 0);
	printf("sigbus: private next page %d\n", touch(pm + PAGE));
	/* Grown, the page is there. */
	ftruncate(fd, PAGE + 10);
	printf("sigbus: after grow %d %d\n", touch(m + PAGE + 1), touch(pm + PAGE));
	/* Shrunk, it is gone again, and the end of the last page reads 0. */
	memcpy((char *)map(PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) + 30, "zz", 2);
	ftruncate(fd, 20);
	printf("sigbus: after shrink %d %d %d\n", touch(m + PAGE + 1), touch(m + 30), touch(pm + PAGE));
	/* A write past the end through the kernel: EFAULT. */
	char buf[8];
	int p2[2];
	pipe(p2);
	write(p2[1], "abc", 3);
	errno = 0;
	int fd2 = make_file("bus2", 10);
	char *w = map(2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd2, 0);
	long r = read(p2[0], w + PAGE, 3);
	printf("sigbus: read into page past end: %ld %s\n", r, ename(errno));
	(void)buf;
	close(fd2);
	unlink(path);
	snprintf(path, sizeof path, "%s/bus", dir);
	unlink(path);
	close(fd);
	signal(SIGBUS, SIG_DFL);
}

static void sec_shm(void)
{
	char name[64], sname[64];
	snprintf(name, sizeof name, "/filemap-shm-%d", getpid());
	snprintf(sname, sizeof sname, "/filemap-sem-%d", getpid());
	int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (fd < 0)
		die("shm_open");
	if (ftruncate(fd, PAGE) != 0)
		die("ftruncate");
	volatile int *v = map(PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	sem_t *s = sem_open(sname, O_CREAT | O_EXCL, 0600, 0);
	if (s == SEM_FAILED)
		die("sem_open");
	char lname[64];
	snprintf(lname, sizeof lname, "/filemap-lock-%d", getpid());
	sem_t *lock = sem_open(lname, O_CREAT, 0600, 1);
	sem_unlink(lname);
	pid_t pid = fork();
	if (pid == 0) {
		/* The child opens both by name, as an unrelated process would. */
		int cfd = shm_open(name, O_RDWR, 0);
		volatile int *cv = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, cfd, 0);
		sem_t *cs = sem_open(sname, 0);
		cv[0] = 1234;
		sem_post(cs);
		_exit(0);
	}
	sem_wait(s);
	printf("shm: parent sees %d after sem_wait\n", v[0]);
	reap(pid, "shm");
	/* A named semaphore as a lock around a non-atomic counter. */
	v[1] = 0;
	for (int i = 0; i < 4; i++) {
		if (fork() == 0) {
			for (int j = 0; j < 500; j++) {
				sem_wait(lock);
				int x = v[1];
				sched_yield();
				v[1] = x + 1;
				sem_post(lock);
			}
			_exit(0);
		}
	}
	for (int i = 0; i < 4; i++)
		wait(NULL);
	printf("shm: locked counter %d\n", v[1]);
	int sv = -1;
	sem_getvalue(s, &sv);
	printf("shm: sem value %d\n", sv);
	sem_close(s);
	sem_close(lock);
	chk("sem_unlink", sem_unlink(sname));
	chk("shm_unlink", shm_unlink(name));
	chk("shm_open after unlink", shm_open(name, O_RDWR, 0));
	close(fd);
}

static void sec_dontneed(void)
{
	int fd = make_file("dn", 2 * PAGE);
	char *pm = map(2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	pm[0] = 'X';
	pm[PAGE] = 'Y';
	chk("madvise private file", madvise(pm, 2 * PAGE, MADV_DONTNEED));
	printf("dontneed: private file rereads %c %c\n", pm[0], pm[PAGE]);
	char *sm = map(PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	sm[1] = 'S';
	chk("madvise shared file", madvise(sm, PAGE, MADV_DONTNEED));
	printf("dontneed: shared file keeps %c\n", sm[1]);
	char *am = map(PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(am, 7, PAGE);
	chk("madvise anon", madvise(am, PAGE, MADV_DONTNEED));
	printf("dontneed: anon reads %d %d\n", am[0], am[PAGE - 1]);
	chk("madvise unaligned", madvise(am + 1, PAGE, MADV_DONTNEED));
	munmap(pm, 2 * PAGE);
	munmap(sm, PAGE);
	munmap(am, PAGE);
	close(fd);
	unlink(path);
}

static void sec_madvise(void)
{
	char *am = map(3 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(am, 5, 3 * PAGE);
	chk("madvise unknown advice", madvise(am, PAGE, 77));
	chk("madvise WILLNEED", madvise(am, PAGE, MADV_WILLNEED));
	chk("madvise len 0", madvise(am, 0, MADV_DONTNEED));
	chk("madvise REMOVE private", madvise(am, PAGE, MADV_REMOVE));
	chk("mlock", mlock(am + 2 * PAGE, PAGE));
	chk("madvise DONTNEED locked", madvise(am + 2 * PAGE, PAGE, MADV_DONTNEED));
	printf("madvise: locked page keeps %d\n", am[2 * PAGE]);
	munlock(am + 2 * PAGE, PAGE);
	munmap(am + PAGE, PAGE);
	chk("madvise DONTNEED over a hole", madvise(am, 3 * PAGE, MADV_DONTNEED));
	printf("madvise: before the hole %d, after it %d\n", am[0], am[2 * PAGE]);
	munmap(am, 3 * PAGE);
}

static void sec_mincore(void)
{
	unsigned char vec[8];
	char *am = map(4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	am[0] = 1;
	am[2 * PAGE] = 1;
	chk("mincore anon", mincore(am, 4 * PAGE, vec));
	printf("mincore: anon %d %d %d %d\n", vec[0] & 1, vec[1] & 1, vec[2] & 1, vec[3] & 1);
	int fd = make_file("mc", 2 * PAGE);
	char *fm = map(2 * PAGE, PROT_READ, MAP_SHARED, fd, 0);
	volatile char c = fm[0];
	(void)c;
	chk("mincore file", mincore(fm, PAGE, vec));
	printf("mincore: touched file page %d\n", vec[0] & 1);
	chk("mincore unaligned", mincore(am + 1, PAGE, vec));
	munmap(am + PAGE, PAGE);
	chk("mincore hole", mincore(am, 4 * PAGE, vec));
	chk("mincore len 0", mincore(am, 0, vec));
	munmap(am, 4 * PAGE);
	munmap(fm, 2 * PAGE);
	close(fd);
	unlink(path);
}

static void sec_msync_errors(void)
{
	char *am = map(4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	chk("msync anon", msync(am, PAGE, MS_SYNC));
	chk("msync unaligned", msync(am + 1, PAGE, MS_SYNC));
	chk("msync bad flags", msync(am, PAGE, 0x100));
	chk("msync async|sync", msync(am, PAGE, MS_ASYNC | MS_SYNC));
	chk("msync no flags", msync(am, PAGE, 0));
	chk("msync len 0", msync(am, 0, MS_SYNC));
	munmap(am + PAGE, PAGE);
	chk("msync hole", msync(am, 4 * PAGE, MS_SYNC));
	chk("mlock", mlock(am, PAGE));
	chk("msync invalidate locked", msync(am, PAGE, MS_INVALIDATE));
	chk("msync sync locked", msync(am, PAGE, MS_SYNC));
	munlock(am, PAGE);
	munmap(am, 4 * PAGE);
}

static void sec_mremap(void)
{
	int fd = make_file("mr", 3 * PAGE);
	/* A private mapping of the first page, grown (perhaps moved): the new
	 * pages hold the file's next pages. */
	char *p = map(PAGE, PROT_READ, MAP_PRIVATE, fd, 0);
	char *q = mremap(p, PAGE, 3 * PAGE, MREMAP_MAYMOVE);
	if (q == MAP_FAILED)
		die("mremap");
	printf("mremap: grown private %c %c %c\n", q[0], q[PAGE], q[2 * PAGE + 1]);
	/* Moved to a fixed place far away: contents follow. */
	char *far = map(8 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *r = mremap(q, 3 * PAGE, 3 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, far + 4 * PAGE);
	if (r == MAP_FAILED)
		die("mremap fixed");
	printf("mremap: moved private %c %c %c\n", r[0], r[PAGE], r[2 * PAGE + 1]);
	/* Grown past the file's end: the page beyond is SIGBUS. */
	struct sigaction sa = {0};
	sa.sa_sigaction = on_bus;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGBUS, &sa, NULL);
	char *s = mremap(r, 3 * PAGE, 4 * PAGE, MREMAP_MAYMOVE);
	printf("mremap: past end %d\n", touch(s + 3 * PAGE));
	signal(SIGBUS, SIG_DFL);
	/* A shared mapping moved: stores still reach the file. */
	char *sm = map(PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, PAGE);
	char *sm2 = mremap(sm, PAGE, 2 * PAGE, MREMAP_MAYMOVE);
	memcpy(sm2 + PAGE + 8, "MOVED", 5);
	memcpy(sm2 + 8, "FIRST", 5);
	char buf[8] = {0};
	pread(fd, buf, 5, 2 * PAGE + 8);
	printf("mremap: shared grown store %s\n", buf);
	pread(fd, buf, 5, PAGE + 8);
	printf("mremap: shared store %s\n", buf);
	munmap(s, 4 * PAGE);
	munmap(sm2, 2 * PAGE);
	munmap(far, 8 * PAGE);
	close(fd);
	unlink(path);
}

/* Lines of /proc/self/maps that start in [lo, hi). */
static int maps_lines(char *lo, char *hi)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int n = 0;
	while (f && fgets(line, sizeof line, f)) {
		unsigned long s = strtoul(line, NULL, 16);
		n += s >= (unsigned long)lo && s < (unsigned long)hi;
	}
	if (f)
		fclose(f);
	return n;
}

/* Four mmap calls of one file's consecutive pages at consecutive addresses
 * make one mapping (Linux merges them): mremap takes them as one. */
static void sec_merge(void)
{
	struct sigaction sa = {0};
	sa.sa_sigaction = on_bus;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGBUS, &sa, NULL);
	int fd = make_file("merge", 4 * PAGE);
	for (int shared = 0; shared < 2; shared++) {
		char *base = map(8 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		for (int i = 0; i < 4; i++)
			if (mmap(base + i * PAGE, PAGE, PROT_READ, (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_FIXED,
				 fd, i * PAGE) == MAP_FAILED)
				die("mmap fixed");
		printf("merge %d: maps lines %d\n", shared, maps_lines(base, base + 4 * PAGE));
		char *q = mremap(base, 4 * PAGE, 5 * PAGE, MREMAP_MAYMOVE);
		if (q == MAP_FAILED) {
			printf("merge %d: mremap -1 %s\n", shared, ename(errno));
		} else {
			printf("merge %d: moved %c %c, past end %d\n", shared, q[1], q[3 * PAGE + 1],
			       touch(q + 4 * PAGE));
			munmap(q, 5 * PAGE);
		}
		munmap(base, 8 * PAGE);
	}
	signal(SIGBUS, SIG_DFL);
	close(fd);
	unlink(path);
}

static void sec_errors(void)
{
	int fd = make_file("err", PAGE);
	close(fd);
	fd = open(path, O_RDONLY);
	errno = 0;
	void *p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	printf("errors: shared writable of read-only fd: %s\n", p == MAP_FAILED ? ename(errno) : "mapped");
	p = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, 0);
	printf("errors: shared read-only of read-only fd: %s\n", p == MAP_FAILED ? ename(errno) : "mapped");
	chk("mprotect it writable", mprotect(p, PAGE, PROT_READ | PROT_WRITE));
	void *pp = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, fd, 0);
	chk("mprotect private of it writable", mprotect(pp, PAGE, PROT_READ | PROT_WRITE));
	close(fd);
	fd = open(path, O_WRONLY);
	p = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, 0);
	printf("errors: map of write-only fd: %s\n", p == MAP_FAILED ? ename(errno) : "mapped");
	close(fd);
	fd = open(dir, O_RDONLY | O_DIRECTORY);
	p = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, 0);
	printf("errors: map of directory: %s\n", p == MAP_FAILED ? ename(errno) : "mapped");
	close(fd);
	/* memfd: shared mappings coherent with write, and F_SEAL_WRITE. */
	fd = memfd_create("filemap", MFD_ALLOW_SEALING);
	ftruncate(fd, PAGE);
	char *m = map(PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	memcpy(m, "memfd", 5);
	char buf[8] = {0};
	pread(fd, buf, 5, 0);
	printf("errors: memfd read %s\n", buf);
	munmap(m, PAGE);
	fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE);
	p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	printf("errors: sealed memfd shared writable: %s\n", p == MAP_FAILED ? ename(errno) : "mapped");
	p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	printf("errors: sealed memfd private: %s\n", p == MAP_FAILED ? ename(errno) : "mapped");
	close(fd);
	unlink(path);
}

/* A 48 MiB file read through one private mapping, 4 MiB at a time, each
 * chunk dropped with MADV_DONTNEED after it is read: the page cache keeps
 * the pages nothing maps, and must give them back when guest memory (run
 * with --mem 32M) runs out. */
static void sec_reclaim(void)
{
	enum { MB = 1 << 20, SIZE = 48 * MB, CHUNK = 4 * MB };
	snprintf(path, sizeof path, "%s/%s", dir, "reclaim");
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		die("open");
	char *buf = malloc(MB);
	for (int i = 0; i < SIZE / MB; i++) {
		memset(buf, 'A' + i % 26, MB);
		if (write(fd, buf, MB) != MB)
			die("write");
	}
	free(buf);
	unsigned char *m = map(SIZE, PROT_READ, MAP_PRIVATE, fd, 0);
	unsigned long sum = 0;
	for (int round = 0; round < 2; round++)
		for (long c = 0; c < SIZE; c += CHUNK) {
			for (long i = c; i < c + CHUNK; i += PAGE)
				sum += m[i] + m[i + PAGE - 1];
			if (madvise(m + c, CHUNK, MADV_DONTNEED) != 0)
				die("madvise");
		}
	printf("reclaim: sum %lu\n", sum);
	munmap(m, SIZE);
	close(fd);
	unlink(path);
}

/* Leaves a file written only through a shared mapping (no msync, no
 * munmap) in $FILEMAP_DIR itself: exit writes it back. */
static void sec_keep(void)
{
	snprintf(dir, sizeof dir, "%s", getenv("FILEMAP_DIR") ? getenv("FILEMAP_DIR") : "/tmp");
	int fd = make_file("kept.txt", 2 * PAGE + 100);
	char *m = map(3 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	memcpy(m, "page one\n", 9);
	memcpy(m + PAGE, "page two\n", 9);
	memcpy(m + 2 * PAGE + 90, "tail\n", 5);
	printf("keep: done\n");
}

/* In $FILEMAP_DIR: a child stores through its shared mapping of a file
 * and exits while the parent keeps the file mapped; the parent says
 * "ready" and waits to be killed. The child's exit wrote its store back,
 * so the file holds it even though umbra is killed. */
static void sec_exitkill(void)
{
	snprintf(dir, sizeof dir, "%s", getenv("FILEMAP_DIR") ? getenv("FILEMAP_DIR") : "/tmp");
	int fd = make_file("exited.txt", PAGE);
	char *m = map(PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	pid_t pid = fork();
	if (pid == 0) {
		char *c = map(PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		memcpy(c, "stored by the child\n", 20);
		_exit(0);
	}
	reap(pid, "exitkill");
	printf("ready %.5s\n", m);
	for (;;)
		pause();
}

static const struct {
	const char *name;
	void (*fn)(void);
} sections[] = {
	{"shared_rw", sec_shared_rw}, {"msync", sec_msync},
	{"fork", sec_fork},           {"sigbus", sec_sigbus},
	{"shm", sec_shm},             {"dontneed", sec_dontneed},
	{"mincore", sec_mincore},     {"msync_errors", sec_msync_errors},
	{"mremap", sec_mremap},       {"errors", sec_errors},
	{"merge", sec_merge},         {"madvise", sec_madvise},
	{"keep", sec_keep},           {"reclaim", sec_reclaim},
	{"exitkill", sec_exitkill},
};

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	const char *base = getenv("FILEMAP_DIR") ? getenv("FILEMAP_DIR") : "/tmp";
	snprintf(dir, sizeof dir, "%s/filemap.%d", base, getpid());
	int need_dir = 0;
	for (int i = 1; i < argc; i++)
		need_dir |= strcmp(argv[i], "keep") != 0 && strcmp(argv[i], "exitkill") != 0;
	if ((argc == 1 || need_dir) && mkdir(dir, 0755) != 0)
		die("mkdir");
	int n = sizeof sections / sizeof sections[0];
	for (int i = 0; i < n; i++) {
		int run = argc == 1 && strcmp(sections[i].name, "keep") != 0 &&
			  strcmp(sections[i].name, "reclaim") != 0 &&
			  strcmp(sections[i].name, "exitkill") != 0;
		for (int j = 1; j < argc; j++)
			run |= strcmp(argv[j], sections[i].name) == 0;
		if (run)
			sections[i].fn();
	}
	if (argc == 1 || need_dir)
		rmdir(dir);
	return 0;
}
