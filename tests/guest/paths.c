/* paths: open(2)'s path semantics (O_TRUNC with O_RDONLY, O_CREAT through
 * dangling symlinks, directories opened for writing), calls refused on O_PATH
 * descriptors, FIFOs (mknod, mkfifo, the open rendezvous), file names that are
 * not UTF-8, and utime/utimes. Works in the cwd (a fresh copy of the data
 * tree). Prints results and errno names only. Arguments name the sections to
 * run (all when none). */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>
#include <utime.h>
#include "common.h"

/* <linux/fs.h>'s, which musl-gcc does not ship. */
#ifndef FS_IOC_GETFLAGS
#define FS_IOC_GETFLAGS _IOR('f', 1, long)
#define FS_IOC_SETFLAGS _IOW('f', 2, long)
#endif
#define FS_IMMUTABLE_FL 0x10
#define FS_APPEND_FL 0x20
#define FS_NODUMP_FL 0x40

static const char *en(int e)
{
	switch (e) {
	case ENXIO: return "ENXIO";
	case EAGAIN: return "EAGAIN";
	case EPIPE: return "EPIPE";
	case EINTR: return "EINTR";
	case EILSEQ: return "EILSEQ";
	case EBUSY: return "EBUSY";
	case ENODEV: return "ENODEV";
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
#define check chk

/* "ok" or the errno name, for calls whose success value is an fd */
static int okfd(const char *what, int fd)
{
	if (fd < 0)
		printf("%s: -1 %s\n", what, en(errno));
	else
		printf("%s: ok\n", what);
	return fd;
}

static void put(const char *name, const char *text)
{
	int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, text, strlen(text)) < 0)
		printf("put %s: %s\n", name, en(errno));
	if (fd >= 0)
		close(fd);
}

static long size_of(const char *name)
{
	struct stat st;
	if (lstat(name, &st) < 0)
		return -errno;
	return (long)st.st_size;
}

static const char *kind_of(const char *name)
{
	struct stat st;
	if (lstat(name, &st) < 0)
		return en(errno);
	switch (st.st_mode & S_IFMT) {
	case S_IFREG: return "regular";
	case S_IFDIR: return "directory";
	case S_IFLNK: return "symlink";
	case S_IFIFO: return "fifo";
	case S_IFCHR: return "chardev";
	case S_IFBLK: return "blockdev";
	case S_IFSOCK: return "socket";
	default: return "?";
	}
}

static void test_open(void)
{
	int fd;

	put("t_trunc", "hello");
	fd = okfd("open(O_RDONLY|O_TRUNC)", open("t_trunc", O_RDONLY | O_TRUNC));
	printf("size after O_RDONLY|O_TRUNC: %ld\n", size_of("t_trunc"));
	if (fd >= 0) {
		char c;
		check("read", read(fd, &c, 1));
		check("write on O_RDONLY", write(fd, "x", 1));
		close(fd);
	}
	put("t_trunc", "hello");
	chmod("t_trunc", 0444);
	/* root may write anyway: truncated */
	fd = okfd("open(0444 file, O_RDONLY|O_TRUNC)", open("t_trunc", O_RDONLY | O_TRUNC));
	if (fd >= 0)
		close(fd);
	printf("size: %ld\n", size_of("t_trunc"));

	check("symlink dang", symlink("dang_target", "dang"));
	fd = okfd("open(dang, O_CREAT|O_WRONLY)", open("dang", O_CREAT | O_WRONLY, 0640));
	if (fd >= 0) {
		check("write", write(fd, "abc", 3));
		close(fd);
	}
	printf("dang_target: %s size %ld\n", kind_of("dang_target"), size_of("dang_target"));
	check("symlink dang2", symlink("dang2_target", "dang2"));
	okfd("open(dang2, O_CREAT|O_EXCL)", open("dang2", O_CREAT | O_EXCL | O_WRONLY, 0644));
	printf("dang2_target: %s\n", kind_of("dang2_target"));
	okfd("open(dang2, O_CREAT|O_NOFOLLOW)",
	     open("dang2", O_CREAT | O_NOFOLLOW | O_WRONLY, 0644));
	check("symlink chain1", symlink("chain2", "chain1"));
	check("symlink chain2", symlink("sub/chain_t", "chain2"));
	fd = okfd("open(chain1, O_CREAT|O_RDWR)", open("chain1", O_CREAT | O_RDWR, 0600));
	if (fd >= 0)
		close(fd);
	printf("sub/chain_t: %s\n", kind_of("sub/chain_t"));
	check("symlink nodir", symlink("nodir/x", "nodir_link"));
	okfd("open(nodir_link, O_CREAT)", open("nodir_link", O_CREAT | O_WRONLY, 0644));
	check("symlink selfloop", symlink("selfloop", "selfloop"));
	okfd("open(selfloop, O_CREAT)", open("selfloop", O_CREAT | O_WRONLY, 0644));
	/* through an existing symlink to an existing file: no truncation */
	okfd("open(link, O_CREAT)", open("link", O_CREAT | O_WRONLY, 0644));
	printf("hello.txt size: %ld\n", size_of("hello.txt"));

	okfd("open(dir, O_RDONLY|O_TRUNC)", open("sub", O_RDONLY | O_TRUNC));
	okfd("open(dir, O_WRONLY)", open("sub", O_WRONLY));
	okfd("open(dir, O_RDWR)", open("sub", O_RDWR));
	okfd("open(dir, O_RDONLY|O_CREAT)", open("sub", O_RDONLY | O_CREAT, 0644));
	okfd("open(., O_WRONLY|O_TRUNC)", open(".", O_WRONLY | O_TRUNC));
	fd = okfd("open(dir, O_RDONLY)", open("sub", O_RDONLY));
	if (fd >= 0)
		close(fd);
}

static void test_opath(void)
{
	struct stat st;
	int fd = okfd("open(O_PATH)", open("hello.txt", O_PATH));
	if (fd < 0)
		return;
	/* raw calls: musl retries fchmod and fchown through /proc/self/fd */
	check("fchmod", syscall(SYS_fchmod, fd, 0600));
	check("fchown", syscall(SYS_fchown, fd, 0, 0));
	check("futimens", futimens(fd, NULL));
	check("ftruncate", ftruncate(fd, 0));
	check("fsync", fsync(fd));
	check("fstat", fstat(fd, &st));
	printf("mode: %o\n", (unsigned)(st.st_mode & 07777));
	check("fchownat(AT_EMPTY_PATH)", fchownat(fd, "", 0, 0, AT_EMPTY_PATH));
	check("fstatat(AT_EMPTY_PATH)", fstatat(fd, "", &st, AT_EMPTY_PATH));
	close(fd);
	fd = okfd("open(dir, O_PATH)", open("sub", O_PATH | O_DIRECTORY));
	if (fd >= 0) {
		check("fchmod dir", syscall(SYS_fchmod, fd, 0700));
		check("fchdir", fchdir(fd));
		check("stat a.txt", stat("a.txt", &st));
		check("chdir ..", chdir(".."));
		close(fd);
	}
}

/* Prints a name with bytes outside printable ASCII as \xNN. */
static void show(const char *label, const char *name)
{
	printf("%s: ", label);
	if (strlen(name) > 64) {
		printf("(%zu bytes, first \\x%02x)\n", strlen(name), (unsigned char)name[0]);
		return;
	}
	for (const unsigned char *c = (const unsigned char *)name; *c; c++) {
		if (*c >= 0x21 && *c < 0x7f && *c != '\\')
			putchar(*c);
		else
			printf("\\x%02x", *c);
	}
	putchar('\n');
}

static int cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lists a directory sorted (bytewise), skipping "." and "..". */
static void list(const char *dir)
{
	char *names[64];
	int n = 0;
	DIR *d = opendir(dir);
	if (!d) {
		printf("opendir %s: %s\n", dir, en(errno));
		return;
	}
	struct dirent *e;
	while ((e = readdir(d)) && n < 64)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			names[n++] = strdup(e->d_name);
	closedir(d);
	qsort(names, n, sizeof(names[0]), cmpstr);
	printf("list %s: %d\n", dir, n);
	for (int i = 0; i < n; i++) {
		show("  ", names[i]);
		free(names[i]);
	}
}

static void test_bytes(void)
{
	/* Latin-1 "café", a lone continuation byte, an overlong "/", 0xff. */
	const char *a = "caf\xe9";
	const char *b = "\x80start";
	const char *c = "over\xc0\xaflong";
	const char *dname = "dir\xff\xfe";
	char buf[300];
	struct stat st;
	int fd;

	check("mkdir bytes", mkdir("bytes", 0755));
	check("chdir bytes", chdir("bytes"));
	fd = okfd("create caf\\xe9", open(a, O_CREAT | O_WRONLY | O_EXCL, 0644));
	if (fd >= 0) {
		check("write", write(fd, "latin-1\n", 8));
		close(fd);
	}
	okfd("create \\x80start", open(b, O_CREAT | O_WRONLY, 0600));
	check("mknod over\\xc0\\xaflong", mknod(c, S_IFREG | 0640, 0));
	check("mkdir dir\\xff\\xfe", mkdir(dname, 0700));
	list(".");
	check("stat caf\\xe9", stat(a, &st));
	printf("size %ld mode %o\n", (long)st.st_size, (unsigned)(st.st_mode & 07777));
	check("stat caf\\xc3\\xa9 (the UTF-8 spelling)", stat("caf\xc3\xa9", &st));
	check("rename to \\xff", rename(a, "\xff"));
	check("stat old", stat(a, &st));
	check("stat \\xff", stat("\xff", &st));
	check("symlink to \\xe9\\xe8", symlink("tgt\xe9\xe8", "ln\xe9"));
	ssize_t n = readlink("ln\xe9", buf, sizeof(buf) - 1);
	check("readlink", n);
	if (n >= 0) {
		buf[n] = 0;
		show("target", buf);
	}
	check("link", link("\xff", "dir\xff\xfe/hard\xa0"));
	check("chdir dir\\xff\\xfe", chdir(dname));
	if (getcwd(buf, sizeof(buf))) {
		const char *base = strrchr(buf, '/');
		show("getcwd basename", base ? base + 1 : buf);
	} else {
		printf("getcwd: %s\n", en(errno));
	}
	list(".");
	check("chdir ..", chdir(".."));
	check("unlink \\x80start", unlink(b));
	check("unlink dir/hard", unlink("dir\xff\xfe/hard\xa0"));
	check("rmdir dir\\xff\\xfe", rmdir(dname));
	/* A name of 255 bytes, all 0xff, is fine; 256 is too long. */
	memset(buf, 0xff, 256);
	buf[255] = 0;
	fd = okfd("create 255 x \\xff", open(buf, O_CREAT | O_WRONLY, 0644));
	if (fd >= 0)
		close(fd);
	buf[255] = (char)0xff;
	buf[256] = 0;
	okfd("create 256 x \\xff", open(buf, O_CREAT | O_WRONLY, 0644));
	list(".");
	check("chdir ..", chdir(".."));
}

static int reap(pid_t pid)
{
	int st = -1;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return st;
}

static void status_line(const char *what, int st)
{
	if (WIFEXITED(st))
		printf("%s: exited %d\n", what, WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		printf("%s: killed by %d\n", what, WTERMSIG(st));
	else
		printf("%s: status %#x\n", what, st);
}

/* Reads everything until end of file into buf (NUL-terminated). */
static long slurp(int fd, char *buf, size_t size)
{
	size_t n = 0;
	for (;;) {
		ssize_t r = read(fd, buf + n, size - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			buf[n] = 0;
			return r < 0 ? -1 : (long)n;
		}
		n += (size_t)r;
	}
}

static void test_fifo(void)
{
	struct stat st;
	char buf[256];
	int rfd, wfd, fd;
	pid_t pid;

	check("mkfifo", mkfifo("ff", 0644));
	check("mkfifo again", mkfifo("ff", 0644));
	printf("ff: %s\n", kind_of("ff"));
	if (stat("ff", &st) == 0)
		printf("mode %o size %ld\n", (unsigned)(st.st_mode & 07777), (long)st.st_size);
	check("mknod S_IFIFO", mknod("ff2", S_IFIFO | 0600, 0));
	printf("ff2: %s\n", kind_of("ff2"));
	check("mknod S_IFDIR", mknod("dd", S_IFDIR | 0755, 0));
	check("mknod bad type", mknod("bad", 0170000 | 0644, 0));
	check("mknod S_IFCHR 240,0", mknod("cdev", S_IFCHR | 0600, makedev(240, 0)));
	if (stat("cdev", &st) == 0)
		printf("cdev: %s rdev %u,%u\n", kind_of("cdev"), major(st.st_rdev), minor(st.st_rdev));
	okfd("open cdev", open("cdev", O_RDONLY));
	check("mknod S_IFREG", mknod("plain", S_IFREG | 0600, 0));
	printf("plain: %s\n", kind_of("plain"));

	/* Non-blocking opens. */
	okfd("open(O_WRONLY|O_NONBLOCK), no reader", open("ff", O_WRONLY | O_NONBLOCK));
	rfd = okfd("open(O_RDONLY|O_NONBLOCK)", open("ff", O_RDONLY | O_NONBLOCK));
	wfd = okfd("open(O_WRONLY|O_NONBLOCK), reader open", open("ff", O_WRONLY | O_NONBLOCK));
	check("read, writer open, empty", read(rfd, buf, sizeof(buf)));
	check("write", write(wfd, "hello", 5));
	if (fstat(wfd, &st) == 0)
		printf("fstat: %s\n", S_ISFIFO(st.st_mode) ? "fifo" : "not a fifo");
	check("lseek", lseek(rfd, 0, SEEK_SET));
	check("read", read(rfd, buf, sizeof(buf)));
	check("close writer", close(wfd));
	check("read at EOF", read(rfd, buf, sizeof(buf)));
	check("close reader", close(rfd));

	/* O_RDWR never waits; what is left when the last end closes is gone. */
	fd = okfd("open(O_RDWR)", open("ff", O_RDWR));
	check("write", write(fd, "xyz", 3));
	check("read", read(fd, buf, 2));
	close(fd);
	fd = okfd("open(O_RDWR|O_NONBLOCK)", open("ff", O_RDWR | O_NONBLOCK));
	check("read after reopen", read(fd, buf, sizeof(buf)));
	close(fd);

	/* A blocking reader waits for the writer (whichever comes first). */
	pid = fork();
	if (pid == 0) {
		int w = open("ff", O_WRONLY);
		if (w < 0)
			_exit(2);
		if (write(w, "from the child\n", 15) != 15)
			_exit(3);
		_exit(0);
	}
	rfd = okfd("blocking open(O_RDONLY)", open("ff", O_RDONLY));
	if (rfd >= 0) {
		long n = slurp(rfd, buf, sizeof(buf));
		printf("read %ld: %s", n, buf);
		close(rfd);
	}
	status_line("writer child", reap(pid));

	/* A blocking writer waits for the reader. */
	pid = fork();
	if (pid == 0) {
		char b[64];
		int r = open("ff", O_RDONLY);
		if (r < 0)
			_exit(2);
		long n = slurp(r, b, sizeof(b));
		_exit(n == 4 && memcmp(b, "ping", 4) == 0 ? 0 : 1);
	}
	wfd = okfd("blocking open(O_WRONLY)", open("ff", O_WRONLY));
	if (wfd >= 0) {
		check("write", write(wfd, "ping", 4));
		close(wfd);
	}
	status_line("reader child", reap(pid));

	/* A reader waiting in open counts as a reader: a non-blocking writer
	 * gets in once the child is waiting (ENXIO until then). */
	pid = fork();
	if (pid == 0) {
		char b[64];
		int r = open("ff2", O_RDONLY);
		if (r < 0)
			_exit(2);
		long n = slurp(r, b, sizeof(b));
		_exit(n == 4 && memcmp(b, "pong", 4) == 0 ? 0 : 1);
	}
	wfd = -1;
	for (int i = 0; i < 200000 && wfd < 0; i++) {
		wfd = open("ff2", O_WRONLY | O_NONBLOCK);
		if (wfd < 0 && errno != ENXIO)
			break;
		if (wfd < 0)
			usleep(1000);
	}
	okfd("open(O_WRONLY|O_NONBLOCK) with a waiting reader", wfd);
	if (wfd >= 0) {
		check("write", write(wfd, "pong", 4));
		close(wfd);
	}
	status_line("waiting reader child", reap(pid));

	/* Hard links and renames reach the same FIFO. */
	check("link", link("ff", "ff_link"));
	fd = okfd("open(link, O_RDWR)", open("ff_link", O_RDWR));
	rfd = okfd("open(ff, O_RDONLY|O_NONBLOCK)", open("ff", O_RDONLY | O_NONBLOCK));
	check("write via link", write(fd, "ab", 2));
	check("read via name", read(rfd, buf, sizeof(buf)));
	close(fd);
	close(rfd);
	check("unlink", unlink("ff"));
	check("unlink link", unlink("ff_link"));
}

static void show_times(const char *name)
{
	struct stat st;
	if (stat(name, &st) < 0) {
		printf("stat %s: %s\n", name, en(errno));
		return;
	}
	printf("%s: atime %ld.%09ld mtime %ld.%09ld\n", name, (long)st.st_atim.tv_sec,
	       (long)st.st_atim.tv_nsec, (long)st.st_mtim.tv_sec, (long)st.st_mtim.tv_nsec);
}

/* Whether both times of `name` are within a day of now. */
static void show_now(const char *name)
{
	struct stat st;
	time_t now = time(NULL);
	if (stat(name, &st) < 0) {
		printf("stat %s: %s\n", name, en(errno));
		return;
	}
	printf("%s: now %s\n", name,
	       labs((long)(st.st_mtim.tv_sec - now)) < 86400 &&
			       labs((long)(st.st_atim.tv_sec - now)) < 86400
		       ? "yes"
		       : "no");
}

/* The legacy calls, raw: the C libraries route utime() and utimes() to
 * utimensat. */
static void test_utime(void)
{
	put("t", "x");
	check("symlink", symlink("t", "t_link"));
#ifdef SYS_utime
	struct utimbuf ub = { .actime = 1000000000, .modtime = 1200000000 };
	check("utime", syscall(SYS_utime, "t", &ub));
	show_times("t");
	check("utime(NULL)", syscall(SYS_utime, "t", NULL));
	show_now("t");
	check("utime missing", syscall(SYS_utime, "nope", &ub));
	ub.modtime = 1300000000;
	check("utime via symlink", syscall(SYS_utime, "t_link", &ub));
	show_times("t");
#else
	printf("no utime\n");
#endif
#ifdef SYS_utimes
	struct timeval tv[2] = { { 1400000000, 250000 }, { 1500000000, 500000 } };
	check("utimes", syscall(SYS_utimes, "t", tv));
	show_times("t");
	tv[1].tv_usec = 1000000;
	check("utimes usec 10^6", syscall(SYS_utimes, "t", tv));
	tv[1].tv_usec = -1;
	check("utimes usec -1", syscall(SYS_utimes, "t", tv));
	check("utimes(NULL)", syscall(SYS_utimes, "t", NULL));
	show_now("t");
#else
	printf("no utimes\n");
#endif
#ifdef SYS_futimesat
	struct timeval tv2[2] = { { 1600000000, 1 }, { 1600000001, 999999 } };
	int dfd = open(".", O_RDONLY | O_DIRECTORY);
	check("futimesat", syscall(SYS_futimesat, dfd, "t", tv2));
	show_times("t");
	check("futimesat on a file dirfd", syscall(SYS_futimesat, open("t", O_RDONLY), "x", tv2));
	check("futimesat(AT_FDCWD)", syscall(SYS_futimesat, AT_FDCWD, "t", NULL));
	show_now("t");
	close(dfd);
#else
	printf("no futimesat\n");
#endif
}

/* Prints the first bytes of a file, or the errno. */
static void cat1(const char *what, const char *path)
{
	char b[64];
	int fd = open(path, O_RDONLY);
	if (fd < 0) {
		printf("%s: %s\n", what, en(errno));
		return;
	}
	ssize_t n = read(fd, b, sizeof(b) - 1);
	close(fd);
	b[n < 0 ? 0 : n] = 0;
	printf("%s: %s", what, b);
}

static void test_chroot(void)
{
	char buf[512];
	pid_t pid;

	check("mkdir jail", mkdir("jail", 0755));
	check("mkdir jail/sub", mkdir("jail/sub", 0755));
	put("jail/inside", "in the jail\n");
	put("outside", "outside\n");
	check("symlink jail/abs", symlink("/inside", "jail/abs"));
	check("symlink jail/sub/up", symlink("../../../../inside", "jail/sub/up"));
	check("chroot missing", chroot("nope"));
	check("chroot file", chroot("outside"));
	pid = fork();
	if (pid == 0) {
		check("chroot jail", chroot("jail"));
		/* The cwd stays outside the new root. */
		if (getcwd(buf, sizeof(buf)))
			printf("getcwd: %s\n", strncmp(buf, "(unreachable)", 13) == 0 ? "unreachable" : buf);
		else
			printf("getcwd: %s\n", en(errno));
		cat1("outside via cwd", "outside");
		check("chdir /", chdir("/"));
		if (getcwd(buf, sizeof(buf)))
			printf("getcwd: %s\n", buf);
		cat1("/inside", "/inside");
		cat1("/../../inside", "/../../inside");
		cat1("/abs", "/abs");
		cat1("/sub/up", "/sub/up");
		cat1("/outside", "/outside");
		check("chdir sub", chdir("sub"));
		check("chdir ../../..", chdir("../../.."));
		if (getcwd(buf, sizeof(buf)))
			printf("getcwd: %s\n", buf);
		fflush(stdout);
		pid_t g = fork();
		if (g == 0) {
			cat1("grandchild /inside", "/inside");
			_exit(0);
		}
		status_line("grandchild", reap(g));
		/* A nested chroot, then a user without CAP_SYS_CHROOT. */
		check("chroot sub", chroot("sub"));
		cat1("/up after nested chroot", "/up");
		check("setuid(65534)", setuid(65534));
		check("chroot as nobody", chroot("/"));
		_exit(0);
	}
	status_line("chroot child", reap(pid));
	cat1("parent keeps its root", "jail/inside");
}

/* Whether /proc/self/mounts has a `fstype` mount on a path ending in
 * `suffix`, and which of nosuid, nodev, noexec its options hold. */
static void mounts_line(const char *suffix, const char *fstype)
{
	char line[1024], mnt[512], type[64], opts[512];
	FILE *f = fopen("/proc/self/mounts", "r");
	int found = 0;
	if (!f) {
		printf("mounts: %s\n", en(errno));
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%*s %511s %63s %511s", mnt, type, opts) != 3)
			continue;
		size_t n = strlen(mnt), m = strlen(suffix);
		if (n >= m && strcmp(mnt + n - m, suffix) == 0 && strcmp(type, fstype) == 0) {
			found++;
			printf("mounts: %s %s%s%s%s\n", type, strncmp(opts, "rw", 2) ? "ro" : "rw",
			       strstr(opts, "nosuid") ? " nosuid" : "", strstr(opts, "nodev") ? " nodev" : "",
			       strstr(opts, "noexec") ? " noexec" : "");
		}
	}
	fclose(f);
	if (!found)
		printf("mounts: no %s on *%s\n", fstype, suffix);
}

static void copy_file(const char *from, const char *to, mode_t mode)
{
	char b[65536];
	int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, mode);
	ssize_t n;
	if (in < 0 || out < 0) {
		printf("copy: %s\n", en(errno));
		return;
	}
	while ((n = read(in, b, sizeof(b))) > 0)
		if (write(out, b, n) != n)
			break;
	close(in);
	close(out);
}

static void test_mount(void)
{
	struct stat st;
	struct statfs sf;
	int fd;
	pid_t pid;

	check("mkdir mnt", mkdir("mnt", 0755));
	put("mnt/under", "under the mount\n");
	check("mount tmpfs", mount("none", "mnt", "tmpfs", MS_NOSUID | MS_NODEV, "mode=700"));
	if (stat("mnt", &st) == 0)
		printf("mnt mode %o\n", (unsigned)(st.st_mode & 07777));
	if (statfs("mnt", &sf) == 0)
		printf("statfs: %s%s%s\n", sf.f_type == 0x01021994 ? "tmpfs" : "other",
		       sf.f_flags & ST_NOSUID ? " nosuid" : "", sf.f_flags & ST_NODEV ? " nodev" : "");
	cat1("mnt/under", "mnt/under");
	put("mnt/new", "on the tmpfs\n");
	cat1("mnt/new", "mnt/new");
	mounts_line("/data/mnt", "tmpfs");
	check("mount on top", mount("none", "mnt", "tmpfs", 0, NULL));
	cat1("mnt/new (top)", "mnt/new");
	check("umount top", umount("mnt"));
	cat1("mnt/new", "mnt/new");
	check("chdir mnt", chdir("mnt"));
	check("umount with cwd inside", umount2("../mnt", 0));
	check("chdir ..", chdir(".."));
	fd = open("mnt/new", O_RDONLY);
	check("umount with a file open", umount2("mnt", 0));
	close(fd);
	check("umount", umount2("mnt", 0));
	cat1("mnt/under", "mnt/under");
	check("umount again", umount2("mnt", 0));
	check("umount missing", umount2("nope", 0));
	check("umount bad flags", umount2("mnt", MNT_FORCE | MNT_DETACH));
	check("mount nosuchfs", mount("none", "mnt", "nosuchfs", 0, NULL));
	check("mount tmpfs bad option", mount("none", "mnt", "tmpfs", 0, "bogus=1"));
	check("mount on a file", mount("none", "mnt/under", "tmpfs", 0, NULL));

	/* proc, where a container's init puts it. */
	check("mount proc", mount("proc", "mnt", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL));
	printf("mnt/self: %s\n", kind_of("mnt/self"));
	cat1("mnt/self/comm", "mnt/self/comm");
	mounts_line("/data/mnt", "proc");
	check("umount proc", umount("mnt"));

	/* MNT_DETACH while in use (back with fchdir: ".." of a detached
	 * mount's root is itself). */
	int home = open(".", O_RDONLY | O_DIRECTORY);
	check("mount tmpfs", mount("none", "mnt", "tmpfs", 0, NULL));
	check("chdir mnt", chdir("mnt"));
	check("umount2(MNT_DETACH) from inside", umount2("../mnt", MNT_DETACH));
	put("still", "the detached tmpfs still works\n");
	cat1("still", "still");
	check("fchdir back", fchdir(home));
	close(home);
	cat1("mnt/under", "mnt/under");

	/* noexec */
	check("mount tmpfs noexec", mount("none", "mnt", "tmpfs", MS_NOEXEC, NULL));
	copy_file("/proc/self/exe", "mnt/prog", 0755);
	pid = fork();
	if (pid == 0) {
		execl("mnt/prog", "prog", "none", (char *)NULL);
		printf("exec on noexec: %s\n", en(errno));
		_exit(0);
	}
	status_line("noexec child", reap(pid));
	check("umount", umount("mnt"));

	/* Not for a user without CAP_SYS_ADMIN. */
	pid = fork();
	if (pid == 0) {
		check("setuid(65534)", setuid(65534));
		check("mount as nobody", mount("none", "mnt", "tmpfs", 0, NULL));
		check("umount as nobody", umount("/proc"));
		_exit(0);
	}
	status_line("nobody child", reap(pid));
}

/* The immutable, append-only and nodump bits of a file's inode flags. */
static void showfl(const char *path)
{
	int f = 0, fd = open(path, O_RDONLY | O_NONBLOCK);
	if (fd < 0 || ioctl(fd, FS_IOC_GETFLAGS, &f) < 0) {
		printf("getflags %s: %s\n", path, en(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	close(fd);
	printf("flags %s: %s%s%s\n", path, f & FS_IMMUTABLE_FL ? "i" : "-",
	       f & FS_APPEND_FL ? "a" : "-", f & FS_NODUMP_FL ? "d" : "-");
	/* statx reports the same flags as STATX_ATTR_IMMUTABLE (0x10), _APPEND
	 * (0x20) and _NODUMP (0x40), each within stx_attributes_mask. Raw
	 * struct statx: stx_attributes is the second u64, the mask the eighth. */
	unsigned long long sx[32] = { 0 };
	if (syscall(SYS_statx, AT_FDCWD, path, 0, 0x7ffu, sx) < 0) {
		printf("statx %s: %s\n", path, en(errno));
		return;
	}
	printf("statx %s: %s%s%s, in mask %d\n", path, sx[1] & 0x10 ? "i" : "-",
	       sx[1] & 0x20 ? "a" : "-", sx[1] & 0x40 ? "d" : "-",
	       (sx[7] & 0x70) == 0x70 && (sx[1] & ~sx[7]) == 0);
}

static void setfl(const char *path, int set, int clear)
{
	char what[128];
	int f = 0, r = -1, fd = open(path, O_RDONLY | O_NONBLOCK);
	if (fd >= 0 && ioctl(fd, FS_IOC_GETFLAGS, &f) == 0) {
		f = (f | set) & ~clear;
		r = ioctl(fd, FS_IOC_SETFLAGS, &f);
	}
	snprintf(what, sizeof(what), "setflags %s +%x -%x", path, set, clear);
	check(what, r);
	if (fd >= 0)
		close(fd);
}

/* chattr/lsattr's ioctls on ext2 (run on an ext2 image; natively on the
 * host's ext4), with immutable and append-only enforced. */
static void test_attr(void)
{
	struct timespec ts[2] = { { 1, 0 }, { 2, 0 } };
	int fd, p[2];
	pid_t pid;

	put("f", "immutable\n");
	put("g", "append-only\n");
	check("mkdir d", mkdir("d", 0755));
	put("d/x", "in d\n");
	showfl("f");
	setfl("f", FS_IMMUTABLE_FL, 0);
	showfl("f");
	okfd("immutable: open O_WRONLY|O_APPEND", open("f", O_WRONLY | O_APPEND));
	okfd("immutable: open O_RDONLY|O_TRUNC", open("f", O_RDONLY | O_TRUNC));
	fd = okfd("immutable: open O_RDONLY", open("f", O_RDONLY));
	if (fd >= 0)
		close(fd);
	check("immutable: unlink", unlink("f"));
	check("immutable: rename", rename("f", "h"));
	check("immutable: chmod", chmod("f", 0600));
	check("immutable: chown", chown("f", 1, 1));
	check("immutable: link", link("f", "l"));
	check("immutable: truncate", truncate("f", 0));
	check("immutable: utimensat now", utimensat(AT_FDCWD, "f", NULL, 0));
	setfl("f", 0, FS_IMMUTABLE_FL);
	check("unlink", unlink("f"));

	setfl("g", FS_APPEND_FL, 0);
	showfl("g");
	okfd("append-only: open O_WRONLY", open("g", O_WRONLY));
	okfd("append-only: open O_RDWR|O_APPEND|O_TRUNC", open("g", O_RDWR | O_APPEND | O_TRUNC));
	fd = okfd("append-only: open O_WRONLY|O_APPEND", open("g", O_WRONLY | O_APPEND));
	if (fd >= 0) {
		check("append", write(fd, "more\n", 5));
		check("ftruncate", ftruncate(fd, 0));
		close(fd);
	}
	check("append-only: truncate", truncate("g", 0));
	check("append-only: unlink", unlink("g"));
	check("append-only: rename", rename("g", "h"));
	check("append-only: chmod", chmod("g", 0600));
	check("append-only: utimensat now", utimensat(AT_FDCWD, "g", NULL, 0));
	check("append-only: utimensat times", utimensat(AT_FDCWD, "g", ts, 0));
	cat1("g", "g");

	/* Directories: immutable takes no entries in or out; append-only
	 * takes new ones only. */
	setfl("d", FS_IMMUTABLE_FL, 0);
	okfd("immutable dir: create", open("d/new", O_CREAT | O_WRONLY, 0644));
	check("immutable dir: unlink", unlink("d/x"));
	check("immutable dir: mkdir", mkdir("d/sub", 0755));
	fd = okfd("immutable dir: write a file in it", open("d/x", O_WRONLY | O_APPEND));
	if (fd >= 0)
		close(fd);
	setfl("d", FS_APPEND_FL, FS_IMMUTABLE_FL);
	fd = okfd("append-only dir: create", open("d/new", O_CREAT | O_WRONLY, 0644));
	if (fd >= 0)
		close(fd);
	check("append-only dir: unlink", unlink("d/x"));
	check("append-only dir: rename out", rename("d/x", "x2"));
	setfl("d", 0, FS_APPEND_FL);
	showfl("d");

	/* Only the owner (or CAP_FOWNER) sets flags, and only
	 * CAP_LINUX_IMMUTABLE changes i and a. */
	pid = fork();
	if (pid == 0) {
		check("setuid(65534)", setuid(65534));
		showfl("g");
		setfl("g", FS_NODUMP_FL, 0);
		_exit(0);
	}
	status_line("nobody child", reap(pid));
	setfl("g", 0, FS_APPEND_FL);
	check("chown g to nobody", chown("g", 65534, 65534));
	pid = fork();
	if (pid == 0) {
		check("setuid(65534)", setuid(65534));
		setfl("g", FS_NODUMP_FL, 0);
		setfl("g", FS_IMMUTABLE_FL, 0);
		_exit(0);
	}
	status_line("owner child", reap(pid));
	showfl("g");

	check("pipe", pipe(p));
	int fl = 0;
	check("getflags on a pipe", ioctl(p[0], FS_IOC_GETFLAGS, &fl));
	close(p[0]);
	close(p[1]);
}

struct section {
	const char *name;
	void (*fn)(void);
};

static const struct section sections[] = {
	{ "open", test_open },
	{ "opath", test_opath },
	{ "bytes", test_bytes },
	{ "fifo", test_fifo },
	{ "utime", test_utime },
	{ "chroot", test_chroot },
	{ "mount", test_mount },
	{ "attr", test_attr },
};

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	size_t n = sizeof(sections) / sizeof(sections[0]);
	for (size_t i = 0; i < n; i++) {
		int want = argc < 2;
		for (int a = 1; a < argc; a++)
			if (strcmp(argv[a], sections[i].name) == 0)
				want = 1;
		if (!want)
			continue;
		printf("== %s\n", sections[i].name);
		sections[i].fn();
	}
	return 0;
}
