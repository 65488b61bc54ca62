/* files: the file-system syscalls on a small tree, in the directory given as
 * argv[1] or else the current one. That directory holds the test tree (see
 * tests/lib.rs, `DATA_TREE`): hello.txt, link -> hello.txt, sub/{a,b}.txt and
 * an empty directory empty/. Everything the program creates lives in work/
 * and is removed again before it exits.
 *
 * Only deterministic results are printed: never inode numbers, times, device
 * numbers, block counts or the absolute working directory, and no directory
 * sizes or link counts, which differ between file systems. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>
#include "common.h"

/* struct statx as in <linux/stat.h>; defined here because musl before 1.2.5
 * has no statx(). */
struct statx_buf {
	uint32_t stx_mask, stx_blksize;
	uint64_t stx_attributes;
	uint32_t stx_nlink, stx_uid, stx_gid;
	uint16_t stx_mode, pad1;
	uint64_t stx_ino, stx_size, stx_blocks, stx_attributes_mask;
	uint64_t times[8];
	uint32_t majors[4];
	uint64_t spare[14];
};
#define STATX_BASIC_STATS_MASK 0x7ffU

static char kind(mode_t m)
{
	if (S_ISREG(m)) return '-';
	if (S_ISDIR(m)) return 'd';
	if (S_ISLNK(m)) return 'l';
	if (S_ISCHR(m)) return 'c';
	return '?';
}

static void show_stat(const char *what, int r, const struct stat *st)
{
	if (r < 0) {
		printf("%s: -1 %s\n", what, errname(errno));
		return;
	}
	printf("%s: %c %04o", what, kind(st->st_mode), (unsigned)(st->st_mode & 07777));
	if (!S_ISDIR(st->st_mode))
		printf(" size=%lld nlink=%lu", (long long)st->st_size, (unsigned long)st->st_nlink);
	printf(" uid=%u gid=%u\n", (unsigned)st->st_uid, (unsigned)st->st_gid);
}

static void show_bytes(const char *what, const char *buf, long n)
{
	printf("%s: %ld \"", what, n);
	for (long i = 0; i < n; i++) {
		unsigned char c = buf[i];
		if (c >= 32 && c < 127 && c != '"' && c != '\\')
			putchar(c);
		else
			printf("\\x%02x", c);
	}
	printf("\"\n");
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void list_dir(const char *path)
{
	DIR *d = opendir(path);
	if (!d) {
		printf("opendir(%s): %s\n", path, errname(errno));
		return;
	}
	char *names[64];
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) && n < 64) {
		char t = e->d_type == DT_DIR ? 'd' : e->d_type == DT_REG ? '-' :
			 e->d_type == DT_LNK ? 'l' : '?';
		char *s = malloc(strlen(e->d_name) + 3);
		sprintf(s, "%s %c", e->d_name, t);
		names[n++] = s;
	}
	closedir(d);
	qsort(names, n, sizeof names[0], cmp);
	printf("listing of %s:", path);
	for (int i = 0; i < n; i++) {
		printf(" [%s]", names[i]);
		free(names[i]);
	}
	printf("\n");
}

int main(int argc, char **argv)
{
	char buf[256], buf2[256];
	struct stat st;
	long r;

	printf("umask old=%03o\n", (unsigned)umask(022));
	if (argc > 1 && chdir(argv[1]) != 0) {
		printf("chdir(%s): %s\n", argv[1], errname(errno));
		return 1;
	}
	char start[4096];
	if (!getcwd(start, sizeof start)) {
		printf("getcwd: %s\n", errname(errno));
		return 1;
	}
	printf("getcwd is absolute: %s\n", start[0] == '/' ? "yes" : "no");
	list_dir(".");

	/* The given tree. */
	show_stat("stat(hello.txt)", stat("hello.txt", &st), &st);
	show_stat("lstat(link)", lstat("link", &st), &st);
	show_stat("stat(link)", stat("link", &st), &st);
	show_stat("stat(sub)", stat("sub", &st), &st);
	show_stat("stat(nope)", stat("nope", &st), &st);
	show_stat("stat(hello.txt/x)", stat("hello.txt/x", &st), &st);
	r = readlink("link", buf, sizeof buf);
	show_bytes("readlink(link)", buf, r < 0 ? 0 : r);
	check("readlink(hello.txt)", readlink("hello.txt", buf, sizeof buf));
	int dfd = check("open(sub, O_DIRECTORY)", open("sub", O_RDONLY | O_DIRECTORY));
	show_stat("fstatat(sub, a.txt)", fstatat(dfd, "a.txt", &st, 0), &st);
	show_stat("fstatat(., link, NOFOLLOW)", fstatat(AT_FDCWD, "link", &st, AT_SYMLINK_NOFOLLOW), &st);
	int fd = check("openat(sub, b.txt)", openat(dfd, "b.txt", O_RDONLY));
	r = read(fd, buf, sizeof buf);
	show_bytes("read(b.txt)", buf, r < 0 ? 0 : r);
	check("close", close(fd));
	check("close(sub)", close(dfd));
	list_dir("sub");
	list_dir("empty");

	struct statx_buf sx;
	memset(&sx, 0, sizeof sx);
	r = syscall(SYS_statx, AT_FDCWD, "hello.txt", 0, STATX_BASIC_STATS_MASK, &sx);
	if (r < 0)
		printf("statx(hello.txt): -1 %s\n", errname(errno));
	else
		printf("statx(hello.txt): basic mask %s mode=%c%04o size=%llu nlink=%u\n",
		       (sx.stx_mask & STATX_BASIC_STATS_MASK) == STATX_BASIC_STATS_MASK ? "full" : "partial",
		       kind(sx.stx_mode), sx.stx_mode & 07777, (unsigned long long)sx.stx_size,
		       sx.stx_nlink);

	/* A scratch directory. */
	check("access(hello.txt, R_OK|W_OK)", access("hello.txt", R_OK | W_OK));
	check("access(hello.txt, X_OK)", access("hello.txt", X_OK));
	check("access(nope, F_OK)", access("nope", F_OK));
	check("faccessat(sub, a.txt, R_OK)", faccessat(AT_FDCWD, "sub/a.txt", R_OK, 0));
	check("mkdir(work)", mkdir("work", 0777));
	check("mkdir(work) again", mkdir("work", 0777));
	show_stat("stat(work)", stat("work", &st), &st);
	check("chdir(work)", chdir("work"));
	if (getcwd(buf, sizeof buf)) {
		size_t n = strlen(start);
		printf("getcwd after chdir: <start>%s\n",
		       strncmp(buf, start, n) == 0 ? buf + n : "(outside start)");
	} else {
		printf("getcwd: %s\n", errname(errno));
	}
	check("getcwd(buf, 1)", getcwd(buf, 1) ? 0 : -1);

	fd = check("creat(f1)", creat("f1", 0666));
	show_stat("fstat(f1)", fstat(fd, &st), &st);
	check("write", write(fd, "0123456789", 10));
	check("pwrite(XY, 20)", pwrite(fd, "XY", 2, 20));
	check("lseek(0, SEEK_CUR)", lseek(fd, 0, SEEK_CUR));
	check("lseek(0, SEEK_END)", lseek(fd, 0, SEEK_END));
	check("lseek(-5, SEEK_SET)", lseek(fd, -5, SEEK_SET));
	check("read(O_WRONLY fd)", read(fd, buf, 1));
	struct iovec iov[3] = {
		{ .iov_base = "ab", .iov_len = 2 },
		{ .iov_base = "", .iov_len = 0 },
		{ .iov_base = "cde", .iov_len = 3 },
	};
	check("lseek(0, SEEK_END)", lseek(fd, 0, SEEK_END));
	check("writev", writev(fd, iov, 3));
	show_stat("fstat(f1)", fstat(fd, &st), &st);
	check("close", close(fd));
	check("close again", close(fd));

	fd = check("open(f1, O_RDWR)", open("f1", O_RDWR));
	r = pread(fd, buf, 4, 2);
	show_bytes("pread(4, 2)", buf, r < 0 ? 0 : r);
	check("lseek(0, SEEK_CUR) after pread", lseek(fd, 0, SEEK_CUR));
	r = read(fd, buf, sizeof buf);
	show_bytes("read(all)", buf, r < 0 ? 0 : r);
	check("read at EOF", read(fd, buf, sizeof buf));
	check("lseek(3, SEEK_SET)", lseek(fd, 3, SEEK_SET));
	struct iovec rv[2] = {
		{ .iov_base = buf, .iov_len = 4 },
		{ .iov_base = buf2, .iov_len = 5 },
	};
	r = check("readv(4+5)", readv(fd, rv, 2));
	show_bytes("readv[0]", buf, 4);
	show_bytes("readv[1]", buf2, 5);
	check("lseek(-1, SEEK_CUR)", lseek(fd, -100, SEEK_CUR));

	int fl = fcntl(fd, F_GETFL);
	printf("F_GETFL accmode=%d append=%d\n", fl & O_ACCMODE, !!(fl & O_APPEND));
	check("F_GETFD", fcntl(fd, F_GETFD));
	check("F_SETFD(FD_CLOEXEC)", fcntl(fd, F_SETFD, FD_CLOEXEC));
	check("F_GETFD", fcntl(fd, F_GETFD));
	int d1 = check("dup", dup(fd));
	check("F_GETFD(dup)", fcntl(d1, F_GETFD));
	check("lseek(dup, 1, SEEK_SET)", lseek(d1, 1, SEEK_SET));
	check("lseek(orig, 0, SEEK_CUR) shares offset", lseek(fd, 0, SEEK_CUR));
	check("dup2(fd, 9)", dup2(fd, 9));
	check("dup2(9, 9)", dup2(9, 9));
	check("dup3(fd, 12, O_CLOEXEC)", dup3(fd, 12, O_CLOEXEC));
	check("F_GETFD(12)", fcntl(12, F_GETFD));
	check("dup3(12, 12, 0)", dup3(12, 12, 0));
	check("F_DUPFD(20)", fcntl(fd, F_DUPFD, 20));
	check("F_DUPFD_CLOEXEC(20)", fcntl(fd, F_DUPFD_CLOEXEC, 20));
	check("F_GETFD(21)", fcntl(21, F_GETFD));
	check("F_GETFL(bad fd)", fcntl(77, F_GETFL));
	check("dup(bad fd)", dup(77));
	int afd = check("open(O_APPEND|O_WRONLY)", open("f1", O_WRONLY | O_APPEND));
	fl = fcntl(afd, F_GETFL);
	printf("F_GETFL accmode=%d append=%d\n", fl & O_ACCMODE, !!(fl & O_APPEND));
	check("lseek(afd, 0, SEEK_SET)", lseek(afd, 0, SEEK_SET));
	check("write(append)", write(afd, "!", 1));
	check("lseek(afd, 0, SEEK_CUR)", lseek(afd, 0, SEEK_CUR));
	check("F_SETFL(0)", fcntl(afd, F_SETFL, 0));
	fl = fcntl(afd, F_GETFL);
	printf("F_GETFL accmode=%d append=%d\n", fl & O_ACCMODE, !!(fl & O_APPEND));
	for (int f = 3; f < 32; f++)
		close(f);

	/* Error paths of open. */
	check("open(nope)", open("nope", O_RDONLY));
	check("open(f1, O_CREAT|O_EXCL)", open("f1", O_CREAT | O_EXCL | O_WRONLY, 0600));
	check("open(., O_WRONLY)", open(".", O_WRONLY));
	check("open(f1/x)", open("f1/x", O_RDONLY));
	check("open(f1, O_DIRECTORY)", open("f1", O_RDONLY | O_DIRECTORY));
	fd = check("open(.)", open(".", O_RDONLY));
	check("read(dir)", read(fd, buf, 1));
	check("close", close(fd));
	fd = check("open(f0, O_CREAT, 0600)", open("f0", O_CREAT | O_WRONLY, 0600));
	show_stat("fstat(f0)", fstat(fd, &st), &st);
	close(fd);

	/* Links, renames, removal. */
	check("symlink(f1, l1)", symlink("f1", "l1"));
	check("symlink(f1, l1) again", symlink("f1", "l1"));
	check("symlinkat(missing, AT_FDCWD, dangling)", symlinkat("missing", AT_FDCWD, "dangling"));
	r = readlinkat(AT_FDCWD, "l1", buf, sizeof buf);
	show_bytes("readlinkat(l1)", buf, r < 0 ? 0 : r);
	r = readlink("l1", buf, 1);
	show_bytes("readlink(l1, 1 byte)", buf, r < 0 ? 0 : r);
	show_stat("lstat(l1)", lstat("l1", &st), &st);
	show_stat("stat(l1)", stat("l1", &st), &st);
	show_stat("stat(dangling)", stat("dangling", &st), &st);
	check("rename(f1, f2)", rename("f1", "f2"));
	show_stat("stat(f1)", stat("f1", &st), &st);
	show_stat("stat(l1) now dangling", stat("l1", &st), &st);
	check("renameat(f2, f1)", renameat(AT_FDCWD, "f2", AT_FDCWD, "f1"));
	check("rename(nope, x)", rename("nope", "x"));
	check("mkdirat(d)", mkdirat(AT_FDCWD, "d", 0700));
	show_stat("stat(d)", stat("d", &st), &st);
	fd = check("creat(d/x)", creat("d/x", 0600));
	close(fd);
	check("rename(f0, d/y)", rename("f0", "d/y"));
	list_dir("d");
	list_dir(".");
	check("rmdir(d)", rmdir("d"));
	check("rmdir(f1)", rmdir("f1"));
	check("unlink(d)", unlink("d"));
	check("unlink(d/x)", unlink("d/x"));
	check("unlinkat(d/y)", unlinkat(AT_FDCWD, "d/y", 0));
	check("unlinkat(d, AT_REMOVEDIR)", unlinkat(AT_FDCWD, "d", AT_REMOVEDIR));
	check("rmdir(d) again", rmdir("d"));
	check("unlink(l1)", unlink("l1"));
	check("unlink(dangling)", unlink("dangling"));
	check("unlink(f1)", unlink("f1"));
	check("unlink(f1) again", unlink("f1"));
	list_dir(".");
	check("chdir(..)", chdir(".."));
	check("chdir(nope)", chdir("nope"));
	check("chdir(hello.txt)", chdir("hello.txt"));
	check("rmdir(work)", rmdir("work"));
	list_dir(".");
	printf("umask now=%03o\n", (unsigned)umask(077));
	printf("umask now=%03o\n", (unsigned)umask(022));
	return 0;
}
