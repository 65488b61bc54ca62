/* copyio: read and write between files or pipes and guest memory that
 * ends part-way (issue 13: the kernel moves the bytes with one copy,
 * straight between the file and guest memory). A read into a buffer that
 * faults part-way returns the bytes before the fault and moves the position
 * by exactly those; a write to a regular file from a buffer that faults
 * part-way writes what precedes it; writev and readv are one call (a pipe
 * takes up to PIPE_BUF bytes of several buffers whole or not at all, and
 * RLIMIT_FSIZE bounds the whole writev); a page mapped twice in one readv
 * gets both parts; a file read into its own shared mapping keeps the bytes
 * written through it. Prints counts, errno names and match flags only.
 * Arguments name the sections to run (all when none). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>
#include "common.h"

#define PG 4096

static long chk(const char *what, long r)
{
	if (r < 0)
		printf("%s: -1 %s\n", what,
		       errno == EAGAIN ? "EAGAIN" : errno == EFBIG ? "EFBIG" : errname(errno));
	else
		printf("%s: %ld\n", what, r);
	return r;
}

static unsigned sum(const unsigned char *p, size_t n)
{
	unsigned s = 0;
	for (size_t i = 0; i < n; i++)
		s = s * 31 + p[i];
	return s;
}

static void pattern(unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(i * 7 + i / 251 + seed);
}

static int fresh(const char *name)
{
	unlink(name);
	int fd = open(name, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		printf("open %s: %s\n", name, errname(errno));
	return fd;
}

/* `pages` pages of fresh read-write memory. */
static unsigned char *pages(int n)
{
	unsigned char *p = mmap(NULL, (size_t)n * PG, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		printf("mmap: %s\n", errname(errno));
		exit(1);
	}
	return p;
}

/* A file of three pages of pattern. */
static int three_pages(const char *name, unsigned char *scratch)
{
	int fd = fresh(name);
	pattern(scratch, 3 * PG, 1);
	if (write(fd, scratch, 3 * PG) != 3 * PG)
		printf("write failed\n");
	lseek(fd, 0, SEEK_SET);
	return fd;
}

static void test_partial_read(void)
{
	unsigned char *src = pages(3);
	int fd = three_pages("c1", src);
	unsigned char *buf = pages(3);
	/* The second page cannot be written: a read over it stops there. */
	mprotect(buf + PG, PG, PROT_READ);
	chk("read 8192 at +10", read(fd, buf + 10, 2 * PG));
	chk("position", lseek(fd, 0, SEEK_CUR));
	printf("bytes match: %d\n", memcmp(buf + 10, src, PG - 10) == 0);
	chk("read into the read-only page", read(fd, buf + PG, 10));
	chk("position", lseek(fd, 0, SEEK_CUR));
	chk("pread 100 at 5000 ending in it", pread(fd, buf + PG - 40, 100, 5000));
	printf("bytes match: %d\n", memcmp(buf + PG - 40, src + 5000, 40) == 0);
	/* An unmapped page ends it the same way. */
	munmap(buf + 2 * PG, PG);
	mprotect(buf + PG, PG, PROT_READ | PROT_WRITE);
	chk("read 3 pages into 2 mapped", read(fd, buf + 100, 3 * PG));
	chk("position", lseek(fd, 0, SEEK_CUR));
	chk("read 200 more", read(fd, buf, 200));
	chk("read at end of file", read(fd, buf, 10));
	/* Nothing to copy, so no fault: 0 even into no memory. */
	chk("read at end of file into a hole", read(fd, buf + 2 * PG, 10));
	close(fd);
	unlink("c1");
}

static void test_partial_write(void)
{
	unsigned char *src = pages(2);
	memset(src, 'w', 2 * PG);
	munmap(src + PG, PG);
	int fd = fresh("c2");
	chk("write 20 from 5 before a hole", write(fd, src + PG - 5, 20));
	chk("write from the hole", write(fd, src + PG, 20));
	chk("pwrite 100 from 30 before it at 10", pwrite(fd, src + PG - 30, 100, 10));
	chk("size", lseek(fd, 0, SEEK_END));
	close(fd);
	unlink("c2");
}

static void test_pipe_vectored(void)
{
	int p[2];
	if (pipe2(p, O_NONBLOCK) != 0) {
		printf("pipe2: %s\n", errname(errno));
		return;
	}
	long cap = fcntl(p[1], F_GETPIPE_SZ);
	unsigned char *buf = pages(32);
	pattern(buf, 32 * PG, 5);
	chk("fill but 100", write(p[1], buf, cap - 100));
	struct iovec two[2] = {{buf, 60}, {buf + 2 * PG, 60}};
	chk("writev 60 + 60 into 100 free", writev(p[1], two, 2));
	two[1].iov_len = 40;
	chk("writev 60 + 40", writev(p[1], two, 2));
	unsigned char *dst = pages(32);
	struct iovec in[2] = {{dst + 5, 40000}, {dst + 16 * PG, 40000}};
	chk("readv of a full pipe", readv(p[0], in, 2));
	printf("first part matches: %d\n", memcmp(dst + 5, buf, 40000) == 0);
	printf("second part sum: %u\n", sum(dst + 16 * PG, cap - 40000));
	close(p[0]);
	close(p[1]);
}

static void test_writev_fsize(void)
{
	signal(SIGXFSZ, SIG_IGN);
	int fd = fresh("c3");
	struct rlimit old, rl = {50, RLIM_INFINITY};
	char a[30], b[40];
	memset(a, 'a', sizeof a);
	memset(b, 'b', sizeof b);
	struct iovec v[2] = {{a, sizeof a}, {b, sizeof b}};
	/* Nothing is printed under the limit: stdout may be a file past it. */
	getrlimit(RLIMIT_FSIZE, &old);
	long set = setrlimit(RLIMIT_FSIZE, &rl);
	long first = writev(fd, v, 2);
	int e1 = errno;
	long second = writev(fd, v, 2);
	int e2 = errno;
	setrlimit(RLIMIT_FSIZE, &old);
	chk("setrlimit RLIMIT_FSIZE 50", set);
	errno = e1;
	chk("writev 30 + 40", first);
	errno = e2;
	chk("writev at the limit", second);
	chk("size", lseek(fd, 0, SEEK_END));
	close(fd);
	unlink("c3");
}

static void test_shared_twice(void)
{
	unsigned char *src = pages(2);
	pattern(src, 2 * PG, 9);
	int fd = fresh("c4");
	if (write(fd, src, 2 * PG) != 2 * PG)
		printf("write failed\n");
	lseek(fd, 0, SEEK_SET);
	int m = fresh("c5");
	if (ftruncate(m, PG) != 0)
		printf("ftruncate: %s\n", errname(errno));
	unsigned char *a = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, m, 0);
	unsigned char *b = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, m, 0);
	if (a == MAP_FAILED || b == MAP_FAILED) {
		printf("mmap: %s\n", errname(errno));
		return;
	}
	struct iovec v[2] = {{a, PG}, {b, PG}};
	chk("readv into one page mapped twice", readv(fd, v, 2));
	printf("both show the second page: %d %d\n", memcmp(a, src + PG, PG) == 0,
	       memcmp(b, src + PG, PG) == 0);
	/* And out of it: the same bytes twice. */
	lseek(fd, 0, SEEK_SET);
	chk("writev from it twice", writev(fd, v, 2));
	unsigned char back[2 * PG];
	chk("pread back", pread(fd, back, sizeof back, 0));
	printf("halves equal: %d\n", memcmp(back, back + PG, PG) == 0);
	close(m);
	close(fd);
	unlink("c4");
	unlink("c5");
}

static void test_own_mapping(void)
{
	unsigned char *src = pages(2);
	pattern(src, 2 * PG, 11);
	int fd = fresh("c6");
	if (write(fd, src, 2 * PG) != 2 * PG)
		printf("write failed\n");
	unsigned char *map = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		printf("mmap: %s\n", errname(errno));
		return;
	}
	/* Written through the mapping, then the file read onto that page and
	 * onto the next: the page is copied onto itself, then to page 1. */
	memcpy(map + 100, "dirty", 5);
	chk("pread page 0 onto itself", pread(fd, map, PG, 0));
	printf("dirty bytes kept: %d\n", memcmp(map + 100, "dirty", 5) == 0);
	printf("rest kept: %d\n", memcmp(map, src, 100) == 0);
	chk("pread page 0 onto page 1", pread(fd, map + PG, PG, 0));
	printf("page 1 is page 0: %d\n", memcmp(map + PG, map, PG) == 0);
	munmap(map, 2 * PG);
	close(fd);
	unlink("c6");
}

struct section {
	const char *name;
	void (*fn)(void);
};

static const struct section sections[] = {
	{"partial_read", test_partial_read},
	{"partial_write", test_partial_write},
	{"pipe_vectored", test_pipe_vectored},
	{"writev_fsize", test_writev_fsize},
	{"shared_twice", test_shared_twice},
	{"own_mapping", test_own_mapping},
	{NULL, NULL},
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
