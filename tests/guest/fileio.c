/* fileio: the file I/O calls and their errors: F_GETFL's O_LARGEFILE,
 * F_DUPFD past the limit, the socket calls on a file that is no socket,
 * pread/pwrite offsets, readv into unmapped memory, RLIMIT_FSIZE, preadv,
 * pwritev, preadv2, pwritev2, the legacy getdents, fallocate, sendfile,
 * copy_file_range and memfd_create with seals. Prints results and errno
 * names only. Arguments name the sections to run (all when none). */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>
#include "common.h"

static const char *en(int e)
{
	switch (e) {
	case EAGAIN: return "EAGAIN";
	case EINTR: return "EINTR";
	case EFBIG: return "EFBIG";
	case EMFILE: return "EMFILE";
	case ENOTSOCK: return "ENOTSOCK";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case EOVERFLOW: return "EOVERFLOW";
	case ENODEV: return "ENODEV";
	case ETXTBSY: return "ETXTBSY";
	case ESRCH: return "ESRCH";
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

/* preadv2 and pwritev2 through syscall(): older musl lacks the wrappers.
 * The offset goes as two longs, low then high, on every arch. */
static long rw2(long nr, int fd, const struct iovec *iov, int cnt, long long off, int flags)
{
	unsigned long lo = (unsigned long)off;
	unsigned long hi = sizeof(long) == 4 ? (unsigned long)((unsigned long long)off >> 32) : 0;
	return syscall(nr, fd, iov, cnt, lo, hi, flags);
}
#define preadv2(fd, iov, cnt, off, fl) rw2(SYS_preadv2, fd, iov, cnt, off, fl)
#define pwritev2(fd, iov, cnt, off, fl) rw2(SYS_pwritev2, fd, iov, cnt, off, fl)
#ifndef RWF_HIPRI
#define RWF_HIPRI 1
#define RWF_DSYNC 2
#define RWF_SYNC 4
#define RWF_NOWAIT 8
#endif
#ifndef RWF_APPEND
#define RWF_APPEND 0x10
#endif

static int reap(pid_t pid)
{
	int st = -1;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return st;
}

static int fresh(const char *name, const char *text)
{
	unlink(name);
	int fd = open(name, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) {
		printf("open %s: %s\n", name, errname(errno));
		return fd;
	}
	if (text && write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		printf("write failed\n");
	return fd;
}

static void show(const char *what, int fd, off_t off, size_t n)
{
	char buf[256];
	if (n > sizeof buf - 1)
		n = sizeof buf - 1;
	ssize_t r = pread(fd, buf, n, off);
	if (r < 0) {
		printf("%s: -1 %s\n", what, en(errno));
		return;
	}
	for (ssize_t i = 0; i < r; i++)
		if (buf[i] == 0)
			buf[i] = '0';
	buf[r] = 0;
	printf("%s: \"%s\"\n", what, buf);
}

static void test_fcntl_flags(void)
{
	int fd = fresh("f1", "abc");
	int ro = open("f1", O_RDONLY);
	int ap = open("f1", O_WRONLY | O_APPEND);
	int d = open(".", O_RDONLY | O_DIRECTORY);
	int p[2];
	if (pipe(p) < 0)
		return;
	printf("F_GETFL O_RDWR file: %#o\n", fcntl(fd, F_GETFL));
	printf("F_GETFL O_RDONLY file: %#o\n", fcntl(ro, F_GETFL));
	printf("F_GETFL O_APPEND file: %#o\n", fcntl(ap, F_GETFL));
	printf("F_GETFL directory: %#o\n", fcntl(d, F_GETFL));
	printf("F_GETFL pipe ends: %#o %#o\n", fcntl(p[0], F_GETFL), fcntl(p[1], F_GETFL));
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	chk("F_DUPFD at the limit", fcntl(fd, F_DUPFD, (long)rl.rlim_cur));
	chk("F_DUPFD_CLOEXEC past the limit", fcntl(fd, F_DUPFD_CLOEXEC, (long)rl.rlim_cur + 5));
	chk("F_DUPFD -1", fcntl(fd, F_DUPFD, -1L));
	long hi = fcntl(fd, F_DUPFD, (long)rl.rlim_cur - 1);
	printf("F_DUPFD at limit-1: %s\n", hi == (long)rl.rlim_cur - 1 ? "limit-1" : en(errno));
	if (hi >= 0) {
		chk("F_DUPFD with the last slot taken", fcntl(fd, F_DUPFD, (long)rl.rlim_cur - 1));
		close(hi);
	}
	close(p[0]);
	close(p[1]);
	close(d);
	close(ap);
	close(ro);
	close(fd);
	unlink("f1");
}

static void test_sockets(void)
{
	int fd = fresh("f1", "abc");
	struct sockaddr sa;
	socklen_t len = sizeof sa;
	int v = 0;
	socklen_t vl = sizeof v;
	char buf[4];
	struct iovec iov = {buf, sizeof buf};
	struct msghdr mh;
	memset(&mh, 0, sizeof mh);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	memset(&sa, 0, sizeof sa);
	sa.sa_family = AF_UNIX;
	for (int i = 0; i < 2; i++) {
		int s = i == 0 ? fd : 99;
		printf("-- fd %s\n", i == 0 ? "file" : "bad");
		len = sizeof sa;
		chk("getpeername", getpeername(s, &sa, &len));
		len = sizeof sa;
		chk("getsockname", getsockname(s, &sa, &len));
		chk("getsockopt", getsockopt(s, SOL_SOCKET, SO_TYPE, &v, &vl));
		chk("setsockopt", setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &v, sizeof v));
		chk("shutdown", shutdown(s, SHUT_RDWR));
		chk("bind", bind(s, &sa, sizeof(sa_family_t) + 2));
		chk("listen", listen(s, 1));
		chk("connect", connect(s, &sa, sizeof(sa_family_t) + 2));
		len = sizeof sa;
		chk("accept", accept(s, &sa, &len));
		chk("sendto", sendto(s, "x", 1, 0, NULL, 0));
		chk("recvfrom", recvfrom(s, buf, sizeof buf, MSG_DONTWAIT, NULL, NULL));
		chk("sendmsg", sendmsg(s, &mh, 0));
		chk("recvmsg", recvmsg(s, &mh, MSG_DONTWAIT));
	}
	close(fd);
	unlink("f1");
}

static void test_offsets(void)
{
	int fd = fresh("f1", "abcdef");
	char c;
	chk("pwrite at INT64_MAX", pwrite(fd, "x", 1, INT64_MAX));
	chk("pwrite 2 at INT64_MAX-1", pwrite(fd, "xy", 2, INT64_MAX - 1));
	chk("pwrite 0 at INT64_MAX", pwrite(fd, "x", 0, INT64_MAX));
	chk("pwrite at -1", pwrite(fd, "x", 1, -1));
	chk("pread at INT64_MAX", pread(fd, &c, 1, INT64_MAX));
	chk("pread at -1", pread(fd, &c, 1, -1));
	struct stat st;
	fstat(fd, &st);
	printf("size: %ld\n", (long)st.st_size);
	close(fd);
	unlink("f1");
}

static void test_readv_fault(void)
{
	int fd = fresh("f1", "0123456789");
	char *unmapped = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(unmapped, 4096);
	char a[4];
	struct iovec bad[1] = {{unmapped, 4}};
	struct iovec mixed[2] = {{a, 4}, {unmapped, 4}};
	lseek(fd, 0, SEEK_SET);
	chk("readv into unmapped", readv(fd, bad, 1));
	chk("position after", lseek(fd, 0, SEEK_CUR));
	chk("readv valid then unmapped", readv(fd, mixed, 2));
	chk("position after", lseek(fd, 0, SEEK_CUR));
	chk("read into unmapped", read(fd, unmapped, 4));
	chk("writev from unmapped", writev(fd, bad, 1));
	chk("preadv into unmapped", preadv(fd, bad, 1, 0));
	chk("readv with iovec array unmapped", readv(fd, (struct iovec *)unmapped, 1));
	close(fd);
	unlink("f1");
}

static volatile sig_atomic_t xfsz;

static void on_xfsz(int sig)
{
	(void)sig;
	xfsz++;
}

static void test_fsize(void)
{
	int fd = fresh("f1", NULL);
	char big[150];
	memset(big, 's', sizeof big);
	int src = fresh("f2", NULL);
	if (write(src, big, sizeof big) != sizeof big)
		printf("write failed\n");
	signal(SIGXFSZ, on_xfsz);
	struct rlimit rl = {100, RLIM_INFINITY};
	chk("setrlimit RLIMIT_FSIZE 100", setrlimit(RLIMIT_FSIZE, &rl));
	char buf[150];
	memset(buf, 'z', sizeof buf);
	chk("write 150", write(fd, buf, sizeof buf));
	printf("SIGXFSZ: %d\n", (int)xfsz);
	chk("write 1 more", write(fd, buf, 1));
	printf("SIGXFSZ: %d\n", (int)xfsz);
	chk("pwrite 10 at 95", pwrite(fd, buf, 10, 95));
	chk("pwrite 10 at 50", pwrite(fd, buf, 10, 50));
	chk("ftruncate 200", ftruncate(fd, 200));
	printf("SIGXFSZ: %d\n", (int)xfsz);
	chk("ftruncate 100", ftruncate(fd, 100));
	chk("ftruncate 20", ftruncate(fd, 20));
	chk("truncate 101", truncate("f1", 101));
	off_t so = 0;
	lseek(fd, 0, SEEK_SET);
	chk("sendfile 150 at 0", sendfile(fd, src, &so, sizeof buf));
	chk("sendfile at the limit", sendfile(fd, src, &so, 10));
	printf("SIGXFSZ: %d\n", (int)xfsz);
	loff_t ci = 0, co = 90;
	chk("copy_file_range 150 to 90", syscall(SYS_copy_file_range, src, &ci, fd, &co, sizeof buf, 0));
	printf("SIGXFSZ: %d\n", (int)xfsz);
	close(src);
	unlink("f2");
	ftruncate(fd, 20);
	int p[2];
	if (pipe(p) == 0) {
		chk("write 150 into a pipe", write(p[1], buf, sizeof buf));
		close(p[0]);
		close(p[1]);
	}
	printf("SIGXFSZ: %d\n", (int)xfsz);
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		signal(SIGXFSZ, SIG_DFL);
		lseek(fd, 0, SEEK_END);
		ssize_t r = write(fd, buf, 100);
		printf("child write returned %ld\n", (long)r);
		fflush(stdout);
		r = write(fd, buf, 1);
		printf("child's second write returned %ld\n", (long)r);
		_exit(0);
	}
	int st = reap(c);
	printf("child: %s %d\n", WIFSIGNALED(st) ? "killed by" : "exited",
	       WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
	rl.rlim_cur = RLIM_INFINITY;
	setrlimit(RLIMIT_FSIZE, &rl);
	signal(SIGXFSZ, SIG_DFL);
	close(fd);
	unlink("f1");
}

static void test_preadv(void)
{
	int fd = fresh("f1", "0123456789abcdefghij");
	char a[3], b[5], c[40];
	struct iovec iov[3] = {{a, 3}, {b, 5}, {c, 40}};
	memset(c, 0, sizeof c);
	chk("preadv at 4", preadv(fd, iov, 3, 4));
	printf("got: %.3s|%.5s|%s\n", a, b, c);
	chk("position", lseek(fd, 0, SEEK_CUR));
	chk("preadv at 100", preadv(fd, iov, 3, 100));
	chk("preadv at -1", preadv(fd, iov, 3, -1));
	int minus1 = -1;
	chk("preadv iovcnt -1", preadv(fd, iov, minus1, 0));
	chk("preadv iovcnt 1025", preadv(fd, iov, 1025, 0));
	struct iovec w[2] = {{"AB", 2}, {"CDE", 3}};
	chk("pwritev at 2", pwritev(fd, w, 2, 2));
	show("file", fd, 0, 40);
	chk("pwritev at 30 (past EOF)", pwritev(fd, w, 2, 30));
	show("file", fd, 0, 40);
	chk("position", lseek(fd, 0, SEEK_CUR));
	int p[2];
	if (pipe(p) == 0) {
		chk("preadv on a pipe", preadv(p[0], iov, 1, 0));
		chk("pwritev on a pipe", pwritev(p[1], w, 1, 0));
		close(p[0]);
		close(p[1]);
	}
	int ro = open("f1", O_RDONLY);
	chk("pwritev on O_RDONLY", pwritev(ro, w, 1, 0));
	close(ro);
	chk("preadv bad fd", preadv(99, iov, 1, 0));
	/* The *v2 forms: -1 means the file position; flags. */
	lseek(fd, 5, SEEK_SET);
	memset(c, 0, sizeof c);
	struct iovec one = {c, 4};
	chk("preadv2 at -1", preadv2(fd, &one, 1, -1, 0));
	printf("got: %s\n", c);
	chk("position", lseek(fd, 0, SEEK_CUR));
	chk("preadv2 at 0 RWF_HIPRI", preadv2(fd, &one, 1, 0, RWF_HIPRI));
	chk("position", lseek(fd, 0, SEEK_CUR));
	chk("preadv2 at -2", preadv2(fd, &one, 1, -2, 0));
	chk("preadv2 unknown flag", preadv2(fd, &one, 1, 0, 0x1000));
	chk("pwritev2 at -1 RWF_DSYNC", pwritev2(fd, w, 1, -1, RWF_DSYNC));
	chk("position", lseek(fd, 0, SEEK_CUR));
	chk("pwritev2 at 0 RWF_SYNC", pwritev2(fd, w, 1, 0, RWF_SYNC));
	chk("pwritev2 RWF_APPEND", pwritev2(fd, w, 2, 0, RWF_APPEND));
	show("file", fd, 0, 40);
	chk("pwritev2 unknown flag", pwritev2(fd, w, 1, 0, 0x1000));
	if (pipe(p) == 0) {
		chk("preadv2 -1 RWF_NOWAIT on an empty pipe", preadv2(p[0], &one, 1, -1, RWF_NOWAIT));
		chk("pwritev2 -1 on a pipe", pwritev2(p[1], w, 2, -1, 0));
		memset(c, 0, sizeof c);
		chk("preadv2 -1 on a pipe", preadv2(p[0], &one, 1, -1, 0));
		printf("got: %s\n", c);
		chk("preadv2 0 on a pipe", preadv2(p[0], &one, 1, 0, 0));
		close(p[0]);
		close(p[1]);
	}
	close(fd);
	unlink("f1");
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_getdents(void)
{
#ifdef SYS_getdents
	mkdir("gd", 0755);
	close(open("gd/file_a", O_CREAT | O_WRONLY, 0644));
	mkdir("gd/dir_b", 0755);
	if (symlink("file_a", "gd/link_c") < 0)
		printf("symlink failed\n");
	int d = open("gd", O_RDONLY | O_DIRECTORY);
	char buf[4096];
	long n = syscall(SYS_getdents, d, buf, sizeof buf);
	char *names[16];
	int cnt = 0;
	for (long pos = 0; pos < n && cnt < 16;) {
		unsigned short reclen = *(unsigned short *)(buf + pos + 2 * sizeof(long));
		char *name = buf + pos + 2 * sizeof(long) + 2;
		char type = buf[pos + reclen - 1];
		char *line = malloc(64);
		snprintf(line, 64, "%s type %d ino %s", name, type,
			 *(unsigned long *)(buf + pos) != 0 ? "set" : "0");
		names[cnt++] = line;
		pos += reclen;
	}
	qsort(names, cnt, sizeof names[0], cmp_str);
	for (int i = 0; i < cnt; i++) {
		printf("%s\n", names[i]);
		free(names[i]);
	}
	chk("getdents at the end", syscall(SYS_getdents, d, buf, sizeof buf));
	lseek(d, 0, SEEK_SET);
	chk("getdents with a 10-byte buffer", syscall(SYS_getdents, d, buf, 10));
	long one = syscall(SYS_getdents, d, buf, 32);
	printf("getdents with a 32-byte buffer: %s\n", one > 0 && one <= 32 ? "one record" : en(errno));
	int f = open("gd/file_a", O_RDONLY);
	chk("getdents on a file", syscall(SYS_getdents, f, buf, sizeof buf));
	chk("getdents bad fd", syscall(SYS_getdents, 99, buf, sizeof buf));
	close(f);
	close(d);
	unlink("gd/link_c");
	rmdir("gd/dir_b");
	unlink("gd/file_a");
	rmdir("gd");
#else
	/* No legacy getdents on this arch: print what x86_64 prints. */
	printf(".. type 4 ino set\n. type 4 ino set\ndir_b type 4 ino set\n"
	       "file_a type 8 ino set\nlink_c type 10 ino set\n"
	       "getdents at the end: 0\ngetdents with a 10-byte buffer: -1 EINVAL\n"
	       "getdents with a 32-byte buffer: one record\n"
	       "getdents on a file: -1 ENOTDIR\ngetdents bad fd: -1 EBADF\n");
#endif
}

#ifndef FALLOC_FL_KEEP_SIZE
#define FALLOC_FL_KEEP_SIZE 1
#endif
#ifndef FALLOC_FL_PUNCH_HOLE
#define FALLOC_FL_PUNCH_HOLE 2
#endif

static long fsize_of(int fd)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -1;
	return (long)st.st_size;
}

static void test_fallocate(void)
{
	int fd = fresh("f1", "abc");
	chk("mode 0, 0+100", fallocate(fd, 0, 0, 100));
	printf("size: %ld\n", fsize_of(fd));
	show("file", fd, 0, 8);
	chk("mode 0, 50+10 inside", fallocate(fd, 0, 50, 10));
	printf("size: %ld\n", fsize_of(fd));
	chk("KEEP_SIZE 0+200", fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 200));
	printf("size: %ld\n", fsize_of(fd));
	chk("PUNCH_HOLE|KEEP_SIZE 1+1", fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 1, 1));
	show("file", fd, 0, 4);
	chk("PUNCH_HOLE|KEEP_SIZE 90+50", fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 90, 50));
	printf("size: %ld\n", fsize_of(fd));
	chk("PUNCH_HOLE alone", fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, 1));
	chk("unknown mode", fallocate(fd, 0x1000, 0, 1));
	chk("offset -1", fallocate(fd, 0, -1, 1));
	chk("len 0", fallocate(fd, 0, 0, 0));
	chk("past the largest size", fallocate(fd, 0, INT64_MAX - 10, 20));
	int ro = open("f1", O_RDONLY);
	chk("O_RDONLY", fallocate(ro, 0, 0, 1));
	close(ro);
	int d = open(".", O_RDONLY | O_DIRECTORY);
	chk("directory", fallocate(d, 0, 0, 1));
	close(d);
	int p[2];
	if (pipe(p) == 0) {
		chk("pipe read end", fallocate(p[0], 0, 0, 1));
		chk("pipe write end", fallocate(p[1], 0, 0, 1));
		close(p[0]);
		close(p[1]);
	}
	int null = open("/dev/null", O_WRONLY);
	chk("/dev/null", fallocate(null, 0, 0, 1));
	close(null);
	chk("bad fd", fallocate(99, 0, 0, 1));
	close(fd);
	unlink("f1");
}

static void test_sendfile(void)
{
	int src = fresh("s1", "0123456789");
	int dst = fresh("d1", NULL);
	lseek(src, 0, SEEK_SET);
	chk("sendfile 4 from the position", sendfile(dst, src, NULL, 4));
	chk("input position", lseek(src, 0, SEEK_CUR));
	off_t o = 6;
	chk("sendfile 10 from offset 6", sendfile(dst, src, &o, 10));
	printf("offset now %ld, input position %ld\n", (long)o, (long)lseek(src, 0, SEEK_CUR));
	show("output", dst, 0, 20);
	chk("output position", lseek(dst, 0, SEEK_CUR));
	int p[2];
	if (pipe(p) == 0) {
		chk("sendfile into a pipe", sendfile(p[1], src, NULL, 100));
		char buf[16] = {0};
		chk("read the pipe", read(p[0], buf, sizeof buf - 1));
		printf("pipe held: %s\n", buf);
		o = 0;
		chk("sendfile from a pipe with an offset", sendfile(dst, p[0], &o, 1));
		close(p[0]);
		close(p[1]);
	}
	chk("sendfile at the end", sendfile(dst, src, NULL, 10));
	o = -1;
	chk("offset -1", sendfile(dst, src, &o, 1));
	int ro = open("d1", O_RDONLY);
	int wo = open("s1", O_WRONLY);
	int ap = open("d1", O_WRONLY | O_APPEND);
	o = 0;
	chk("output O_RDONLY", sendfile(ro, src, &o, 1));
	chk("input O_WRONLY", sendfile(dst, wo, &o, 1));
	chk("output O_APPEND", sendfile(ap, src, &o, 1));
	chk("bad input fd", sendfile(dst, 99, &o, 1));
	chk("bad output fd", sendfile(99, src, &o, 1));
	chk("count 0", sendfile(dst, src, &o, 0));
	close(ap);
	close(wo);
	close(ro);
	close(src);
	close(dst);
	unlink("s1");
	unlink("d1");
}

static long cfr(int in, loff_t *oi, int out, loff_t *oo, size_t len, unsigned flags)
{
	return syscall(SYS_copy_file_range, in, oi, out, oo, len, flags);
}

static void test_copy_file_range(void)
{
	int src = fresh("s1", "0123456789");
	int dst = fresh("d1", NULL);
	lseek(src, 0, SEEK_SET);
	chk("copy 5 at the positions", cfr(src, NULL, dst, NULL, 5, 0));
	printf("positions: %ld %ld\n", (long)lseek(src, 0, SEEK_CUR), (long)lseek(dst, 0, SEEK_CUR));
	loff_t oi = 2, oo = 20;
	chk("copy 100 from 2 to 20", cfr(src, &oi, dst, &oo, 100, 0));
	printf("offsets: %ld %ld, positions: %ld %ld\n", (long)oi, (long)oo,
	       (long)lseek(src, 0, SEEK_CUR), (long)lseek(dst, 0, SEEK_CUR));
	printf("output size: %ld\n", fsize_of(dst));
	show("output", dst, 0, 40);
	chk("copy at the input's end", cfr(src, &oi, dst, &oo, 10, 0));
	oi = 0;
	chk("flags 1", cfr(src, &oi, dst, &oo, 1, 1));
	loff_t a = 0, b = 5;
	chk("overlapping in one file", cfr(src, &a, src, &b, 10, 0));
	a = 0;
	b = 10;
	chk("one file, apart", cfr(src, &a, src, &b, 5, 0));
	show("input", src, 0, 20);
	a = 8;
	b = 3;
	chk("one file, overlapping once shortened", cfr(src, &a, src, &b, 100, 0) >= 0 ? 0 : -1);
	int p[2];
	if (pipe(p) == 0) {
		chk("into a pipe", cfr(src, NULL, p[1], NULL, 1, 0));
		chk("from a pipe", cfr(p[0], NULL, dst, NULL, 1, 0));
		close(p[0]);
		close(p[1]);
	}
	int d = open(".", O_RDONLY | O_DIRECTORY);
	chk("from a directory", cfr(d, NULL, dst, NULL, 1, 0));
	close(d);
	int ro = open("d1", O_RDONLY);
	int ap = open("d1", O_WRONLY | O_APPEND);
	int wo = open("s1", O_WRONLY);
	a = 0;
	chk("output O_RDONLY", cfr(src, &a, ro, NULL, 1, 0));
	chk("output O_APPEND", cfr(src, &a, ap, NULL, 1, 0));
	chk("input O_WRONLY", cfr(wo, &a, dst, NULL, 1, 0));
	chk("bad fd", cfr(99, &a, dst, NULL, 1, 0));
	close(wo);
	close(ap);
	close(ro);
	close(src);
	close(dst);
	unlink("s1");
	unlink("d1");
}

#ifndef F_ADD_SEALS
#define F_ADD_SEALS 1033
#define F_GET_SEALS 1034
#define F_SEAL_SEAL 1
#define F_SEAL_SHRINK 2
#define F_SEAL_GROW 4
#define F_SEAL_WRITE 8
#endif
#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x10
#endif
#define MFD_CLOEXEC_ 1
#define MFD_ALLOW_SEALING_ 2
#define MFD_NOEXEC_SEAL_ 8
#define MFD_EXEC_ 0x10

static int memfd(const char *name, unsigned flags)
{
	return (int)syscall(SYS_memfd_create, name, flags);
}

static void test_memfd(void)
{
	int fd = memfd("test", MFD_CLOEXEC_ | MFD_ALLOW_SEALING_);
	printf("memfd_create: %s\n", fd >= 0 ? "fd" : en(errno));
	printf("F_GETFD: %d, F_GETFL: %#o\n", fcntl(fd, F_GETFD), fcntl(fd, F_GETFL));
	struct stat st;
	fstat(fd, &st);
	printf("mode %#o size %ld\n", (unsigned)st.st_mode, (long)st.st_size);
	chk("write hello", write(fd, "hello", 5));
	show("contents", fd, 0, 10);
	chk("F_GET_SEALS", fcntl(fd, F_GET_SEALS));
	chk("F_ADD_SEALS unknown bit", fcntl(fd, F_ADD_SEALS, 0x1000));
	chk("F_ADD_SEALS SHRINK", fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK));
	chk("ftruncate 2", ftruncate(fd, 2));
	chk("ftruncate 10", ftruncate(fd, 10));
	chk("F_ADD_SEALS GROW", fcntl(fd, F_ADD_SEALS, F_SEAL_GROW));
	chk("ftruncate 20", ftruncate(fd, 20));
	chk("write at the end", write(fd, "x", 1));
	chk("pwrite 2 at 9", pwrite(fd, "yz", 2, 9));
	chk("pwrite 2 at 1", pwrite(fd, "EL", 2, 1));
	chk("fallocate past the end", fallocate(fd, 0, 0, 100));
	chk("fallocate KEEP_SIZE past the end", fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 100));
	chk("fallocate inside", fallocate(fd, 0, 0, 5));
	show("contents", fd, 0, 20);
	chk("F_ADD_SEALS WRITE", fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE));
	chk("pwrite 1 at 0", pwrite(fd, "h", 1, 0));
	chk("punch a hole", fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 1));
	chk("F_GET_SEALS", fcntl(fd, F_GET_SEALS));
	chk("F_ADD_SEALS SEAL", fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL));
	chk("F_ADD_SEALS FUTURE_WRITE after SEAL", fcntl(fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE));
	chk("F_GET_SEALS", fcntl(fd, F_GET_SEALS));
	close(fd);

	fd = memfd("plain", 0);
	printf("F_GETFD without MFD_CLOEXEC: %d\n", fcntl(fd, F_GETFD));
	chk("F_GET_SEALS without MFD_ALLOW_SEALING", fcntl(fd, F_GET_SEALS));
	chk("F_ADD_SEALS SHRINK", fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK));
	chk("ftruncate 4096", ftruncate(fd, 4096));
	chk("write", write(fd, "abc", 3));
	close(fd);

	fd = memfd("future", MFD_ALLOW_SEALING_);
	chk("write", write(fd, "abc", 3));
	chk("F_ADD_SEALS FUTURE_WRITE", fcntl(fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE));
	chk("write", write(fd, "d", 1));
	chk("ftruncate 100", ftruncate(fd, 100));
	chk("ftruncate 1", ftruncate(fd, 1));
	show("contents", fd, 0, 10);
	close(fd);

	fd = memfd("noexec", MFD_NOEXEC_SEAL_);
	fstat(fd, &st);
	printf("MFD_NOEXEC_SEAL: mode %#o\n", (unsigned)st.st_mode);
	chk("F_GET_SEALS", fcntl(fd, F_GET_SEALS));
	chk("F_ADD_SEALS SHRINK", fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK));
	close(fd);

	char name[300];
	memset(name, 'n', sizeof name);
	name[249] = 0;
	fd = memfd(name, 0);
	printf("249-byte name: %s\n", fd >= 0 ? "fd" : en(errno));
	close(fd);
	name[249] = 'n';
	name[250] = 0;
	chk("250-byte name", memfd(name, 0));
	chk("NULL name", memfd(NULL, 0));
	chk("unknown flag", memfd("x", 0x100));
	chk("MFD_EXEC|MFD_NOEXEC_SEAL", memfd("x", MFD_EXEC_ | MFD_NOEXEC_SEAL_));
	int ro = open("/dev/null", O_RDONLY);
	chk("F_ADD_SEALS on /dev/null O_RDONLY", fcntl(ro, F_ADD_SEALS, F_SEAL_SHRINK));
	close(ro);
}

static volatile sig_atomic_t sigios, usr1s, last_code, last_fd;
static volatile long last_band;

static void on_sigio(int sig)
{
	(void)sig;
	sigios++;
}

static void on_usr1(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	usr1s++;
	last_code = si->si_code;
	last_fd = si->si_fd;
	last_band = si->si_band;
}

static void test_sigio(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_sigio;
	sigaction(SIGIO, &sa, NULL);
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_usr1;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGUSR1, &sa, NULL);
	int p[2];
	if (pipe(p) < 0)
		return;
	char buf[70000];
	memset(buf, 'q', sizeof buf);
	printf("F_GETOWN at first: %d\n", fcntl(p[0], F_GETOWN));
	chk("F_SETOWN self", fcntl(p[0], F_SETOWN, getpid()));
	printf("F_GETOWN: %s\n", fcntl(p[0], F_GETOWN) == getpid() ? "self" : "?");
	chk("write without O_ASYNC", write(p[1], "a", 1));
	printf("SIGIO count: %d\n", (int)sigios);
	chk("F_SETFL O_ASYNC|O_NONBLOCK", fcntl(p[0], F_SETFL, O_ASYNC | O_NONBLOCK));
	printf("O_ASYNC in F_GETFL: %d\n", !!(fcntl(p[0], F_GETFL) & O_ASYNC));
	printf("SIGIO count after F_SETFL: %d\n", (int)sigios);
	chk("write", write(p[1], "b", 1));
	printf("SIGIO count: %d\n", (int)sigios);
	chk("write again, unread", write(p[1], "c", 1));
	printf("SIGIO count: %d\n", (int)sigios);
	chk("read", read(p[0], buf, 10));
	printf("SIGIO count after a read: %d\n", (int)sigios);
	chk("F_SETSIG SIGUSR1", fcntl(p[0], F_SETSIG, SIGUSR1));
	printf("F_GETSIG: %s\n", fcntl(p[0], F_GETSIG) == SIGUSR1 ? "SIGUSR1" : "?");
	chk("write", write(p[1], "d", 1));
	printf("SIGUSR1 count %d, si_code %d, si_fd %s, si_band %#lx, SIGIO count %d\n",
	       (int)usr1s, (int)last_code, last_fd == p[0] ? "the read end" : "?",
	       (long)last_band, (int)sigios);
	read(p[0], buf, 10);
	/* The write end: POLL_OUT when a read makes room. */
	chk("F_SETOWN_EX TID self", ({
		    struct f_owner_ex ex = {F_OWNER_TID, getpid()};
		    fcntl(p[1], F_SETOWN_EX, &ex);
	    }));
	struct f_owner_ex got;
	fcntl(p[1], F_GETOWN_EX, &got);
	printf("F_GETOWN_EX: type %d pid %s\n", got.type, got.pid == getpid() ? "self" : "?");
	fcntl(p[1], F_SETSIG, SIGUSR1);
	chk("write end F_SETFL O_ASYNC|O_NONBLOCK", fcntl(p[1], F_SETFL, O_ASYNC | O_NONBLOCK));
	long filled = 0;
	for (;;) {
		ssize_t n = write(p[1], buf, sizeof buf);
		if (n <= 0)
			break;
		filled += n;
	}
	int before = usr1s;
	chk("read 100 from a full pipe", read(p[0], buf, 100));
	printf("SIGUSR1 after the read: %d, si_code %d, si_fd %s, si_band %#lx\n",
	       (int)usr1s - before, (int)last_code, last_fd == p[1] ? "the write end" : "?",
	       (long)last_band);
	close(p[0]);
	close(p[1]);
	/* Owners: process groups, errors. */
	if (pipe(p) < 0)
		return;
	/* In a process group of its own, so that nobody else gets SIGIO. */
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		setpgid(0, 0);
		chk("F_SETOWN -pgrp", fcntl(p[0], F_SETOWN, -getpgrp()));
		printf("F_GETOWN: %s\n",
		       fcntl(p[0], F_GETOWN) == -getpgrp() ? "minus the pgrp" : "?");
		fcntl(p[0], F_SETFL, O_ASYNC);
		before = sigios;
		write(p[1], "e", 1);
		printf("SIGIO to the group: %d\n", (int)sigios - before);
		fcntl(p[0], F_SETFL, 0);
		fflush(stdout);
		_exit(0);
	}
	reap(c);
	read(p[0], buf, 10);
	fcntl(p[0], F_SETFL, O_ASYNC);
	int zero = 0, one = 1;
	chk("ioctl FIOASYNC 0", ioctl(p[0], FIOASYNC, &zero));
	printf("O_ASYNC in F_GETFL: %d\n", !!(fcntl(p[0], F_GETFL) & O_ASYNC));
	chk("ioctl FIOASYNC 1", ioctl(p[0], FIOASYNC, &one));
	printf("O_ASYNC in F_GETFL: %d\n", !!(fcntl(p[0], F_GETFL) & O_ASYNC));
	chk("F_SETOWN to no such process", fcntl(p[0], F_SETOWN, 999999));
	struct f_owner_ex bad = {7, getpid()};
	chk("F_SETOWN_EX bad type", fcntl(p[0], F_SETOWN_EX, &bad));
	chk("F_SETSIG 65", fcntl(p[0], F_SETSIG, 65));
	chk("F_SETSIG 0", fcntl(p[0], F_SETSIG, 0));
	chk("F_GETSIG", fcntl(p[0], F_GETSIG));
	chk("F_SETOWN 0", fcntl(p[0], F_SETOWN, 0));
	before = sigios;
	write(p[1], "f", 1);
	printf("SIGIO without an owner: %d\n", (int)sigios - before);
	close(p[0]);
	close(p[1]);
	int fd = fresh("f1", "x");
	chk("F_SETFL O_ASYNC on a regular file", fcntl(fd, F_SETFL, O_ASYNC));
	fcntl(fd, F_SETOWN, getpid());
	before = sigios;
	write(fd, "y", 1);
	printf("SIGIO from a regular file: %d\n", (int)sigios - before);
	close(fd);
	unlink("f1");
	signal(SIGIO, SIG_DFL);
	signal(SIGUSR1, SIG_DFL);
}

struct section {
	const char *name;
	void (*fn)(void);
};

static const struct section sections[] = {
	{"fcntl_flags", test_fcntl_flags},
	{"sockets", test_sockets},
	{"offsets", test_offsets},
	{"readv_fault", test_readv_fault},
	{"fsize", test_fsize},
	{"preadv", test_preadv},
	{"getdents", test_getdents},
	{"fallocate", test_fallocate},
	{"sendfile", test_sendfile},
	{"copy_file_range", test_copy_file_range},
	{"memfd", test_memfd},
	{"sigio", test_sigio},
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
