/* startup_calls: the calls real programs make at start-up (issue 11,
 * Deliver 6): prlimit64, getrandom, sched_getaffinity/sched_setaffinity,
 * sched_yield, sched_getparam/sched_getscheduler (and the other sched_*
 * policy calls), membarrier, statx, faccessat2, close_range, kcmp,
 * unshare and execveat.
 *
 * Sections are named in argv. Only what is the same natively (root, on a
 * machine with any number of CPUs) and under umbra (one CPU) is printed:
 * return values, errno names, and facts such as "CPU 0 is in the mask". The
 * raw syscalls are used so that musl and glibc agree. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/sem.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "common.h"

#ifndef SYS_execveat
#error no SYS_execveat
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef SYS_faccessat2
#define SYS_faccessat2 439
#endif

static const char *en(int e)
{
	switch (e) {
	case ESRCH: return "ESRCH";
	case EAGAIN: return "EAGAIN";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	default: return errname(e);
	}
}

static long show(const char *what, long r)
{
	if (r < 0)
		printf("%s: -1 %s\n", what, en(errno));
	else
		printf("%s: %ld\n", what, r);
	return r;
}

/* Runs fn in a child (which may drop privileges) and waits for it. */
static void in_child(void (*fn)(void))
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		fn();
		fflush(stdout);
		_exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	printf("child: %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
}

/* A pid that is no process: a child that has been reaped. */
static pid_t dead_pid(void)
{
	pid_t pid = fork();
	if (pid == 0)
		_exit(0);
	waitpid(pid, NULL, 0);
	return pid;
}

struct rlim64 {
	uint64_t cur, max;
};

static void prlimit_(void)
{
	struct rlim64 old, lim;
	show("get NOFILE", syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, &old));
	lim.cur = 64;
	lim.max = old.max;
	show("set NOFILE soft 64", syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, &lim, NULL));
	struct rlim64 now;
	show("get again", syscall(SYS_prlimit64, getpid(), RLIMIT_NOFILE, NULL, &now));
	printf("soft %llu, hard unchanged %d\n", (unsigned long long)now.cur, now.max == old.max);
	struct rlimit r;
	getrlimit(RLIMIT_NOFILE, &r);
	printf("getrlimit soft %llu\n", (unsigned long long)r.rlim_cur);
	/* set and get in one call: the old value is the one before. */
	lim.cur = 80;
	show("set+get", syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, &lim, &now));
	printf("old soft %llu\n", (unsigned long long)now.cur);
	lim.cur = lim.max + 1;
	if (lim.max != UINT64_MAX)
		show("soft above hard", syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, &lim, NULL));
	else
		printf("soft above hard: -1 EINVAL\n");
	show("bad resource", syscall(SYS_prlimit64, 0, 99, NULL, &now));
	show("dead pid", syscall(SYS_prlimit64, dead_pid(), RLIMIT_NOFILE, NULL, &now));
	show("bad old pointer", syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, (void *)8));
	/* Another process's limits: the parent reads its child's. */
	int p[2];
	if (pipe(p))
		return;
	fflush(stdout);
	pid_t child = fork();
	if (child == 0) {
		struct rlim64 c = { 33, old.max };
		syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, &c, NULL);
		close(p[0]);
		if (write(p[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	char c;
	close(p[1]);
	if (read(p[0], &c, 1) != 1)
		return;
	show("child's NOFILE", syscall(SYS_prlimit64, child, RLIMIT_NOFILE, NULL, &now));
	printf("child soft %llu\n", (unsigned long long)now.cur);
	lim.cur = 40;
	lim.max = old.max;
	show("set child's", syscall(SYS_prlimit64, child, RLIMIT_NOFILE, &lim, NULL));
	syscall(SYS_prlimit64, child, RLIMIT_NOFILE, NULL, &now);
	printf("child soft now %llu\n", (unsigned long long)now.cur);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	close(p[0]);
}

static void random_(void)
{
	unsigned char a[64], b[64];
	memset(a, 0, sizeof a);
	memset(b, 0, sizeof b);
	show("getrandom 64", syscall(SYS_getrandom, a, sizeof a, 0));
	show("getrandom NONBLOCK", syscall(SYS_getrandom, b, sizeof b, 1));
	printf("differ %d\n", memcmp(a, b, sizeof a) != 0);
	show("getrandom RANDOM", syscall(SYS_getrandom, a, 16, 2));
	show("getrandom INSECURE", syscall(SYS_getrandom, a, 16, 4));
	show("INSECURE|RANDOM", syscall(SYS_getrandom, a, 16, 6));
	show("bad flag", syscall(SYS_getrandom, a, 16, 8));
	show("zero length", syscall(SYS_getrandom, a, 0, 0));
	show("bad pointer", syscall(SYS_getrandom, (void *)8, 16, 0));
	size_t big = 1 << 20;
	unsigned char *m = malloc(big);
	long r = syscall(SYS_getrandom, m, big, 0);
	printf("1 MiB: %s\n", r == (long)big ? "all" : "short");
	free(m);
}

static void affinity(void)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	long n = syscall(SYS_sched_getaffinity, 0, sizeof set, &set);
	printf("getaffinity ok %d, multiple of long %d, CPU 0 in %d\n", n > 0,
	       n > 0 && n % (long)sizeof(long) == 0, CPU_ISSET(0, &set) != 0);
	show("getaffinity len 1", syscall(SYS_sched_getaffinity, 0, 1, &set));
	show("getaffinity len 3", syscall(SYS_sched_getaffinity, 0, 3, &set));
	show("getaffinity dead", syscall(SYS_sched_getaffinity, dead_pid(), sizeof set, &set));
	show("getaffinity bad pointer", syscall(SYS_sched_getaffinity, 0, sizeof set, (void *)8));
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	show("setaffinity {0}", syscall(SYS_sched_setaffinity, 0, sizeof set, &set));
	CPU_ZERO(&set);
	syscall(SYS_sched_getaffinity, getpid(), sizeof set, &set);
	printf("now count %d, CPU 0 in %d\n", (int)CPU_COUNT(&set), CPU_ISSET(0, &set) != 0);
	CPU_ZERO(&set);
	show("setaffinity {}", syscall(SYS_sched_setaffinity, 0, sizeof set, &set));
	CPU_SET(1000, &set);
	show("setaffinity {1000}", syscall(SYS_sched_setaffinity, 0, sizeof set, &set));
	show("setaffinity dead", syscall(SYS_sched_setaffinity, dead_pid(), sizeof set, &set));
	show("setaffinity bad pointer", syscall(SYS_sched_setaffinity, 0, sizeof set, (void *)8));
	/* A short mask is zero-extended: one byte with bit 0 is {0}. */
	unsigned char one = 1;
	show("setaffinity 1 byte", syscall(SYS_sched_setaffinity, 0, 1, &one));
	printf("sched_getcpu %d\n", sched_getcpu());
}

static void policy(void)
{
	show("yield", syscall(SYS_sched_yield));
	show("getscheduler", syscall(SYS_sched_getscheduler, 0));
	show("getscheduler self", syscall(SYS_sched_getscheduler, getpid()));
	show("getscheduler -1", syscall(SYS_sched_getscheduler, -1));
	show("getscheduler dead", syscall(SYS_sched_getscheduler, dead_pid()));
	struct sched_param sp = { .sched_priority = 99 };
	show("getparam", syscall(SYS_sched_getparam, 0, &sp));
	printf("priority %d\n", sp.sched_priority);
	show("getparam NULL", syscall(SYS_sched_getparam, 0, NULL));
	show("getparam -1", syscall(SYS_sched_getparam, -1, &sp));
	show("getparam dead", syscall(SYS_sched_getparam, dead_pid(), &sp));
	show("getparam bad pointer", syscall(SYS_sched_getparam, 0, (void *)8));
	/* 6 is SCHED_DEADLINE, 7 SCHED_EXT (Linux 6.12); 99 is none. */
	static const int pol[] = { SCHED_OTHER, SCHED_FIFO, SCHED_RR, SCHED_BATCH, SCHED_IDLE, 6, 99 };
	for (unsigned i = 0; i < sizeof pol / sizeof pol[0]; i++) {
		char w[64];
		snprintf(w, sizeof w, "priority max %d", pol[i]);
		show(w, syscall(SYS_sched_get_priority_max, pol[i]));
		snprintf(w, sizeof w, "priority min %d", pol[i]);
		show(w, syscall(SYS_sched_get_priority_min, pol[i]));
	}
	sp.sched_priority = 0;
	show("setscheduler OTHER 0", syscall(SYS_sched_setscheduler, 0, SCHED_OTHER, &sp));
	sp.sched_priority = 1;
	show("setscheduler OTHER 1", syscall(SYS_sched_setscheduler, 0, SCHED_OTHER, &sp));
	show("setscheduler bad policy", syscall(SYS_sched_setscheduler, 0, 99, &sp));
	show("setscheduler NULL", syscall(SYS_sched_setscheduler, 0, SCHED_OTHER, NULL));
	sp.sched_priority = 0;
	show("setparam 0", syscall(SYS_sched_setparam, 0, &sp));
	sp.sched_priority = 5;
	show("setparam 5", syscall(SYS_sched_setparam, 0, &sp));
	show("getscheduler after", syscall(SYS_sched_getscheduler, 0));
}

#define MEMBARRIER_CMD_QUERY 0
#define MEMBARRIER_CMD_GLOBAL 1
#define MEMBARRIER_CMD_GLOBAL_EXPEDITED 2
#define MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED 4
#define MEMBARRIER_CMD_PRIVATE_EXPEDITED 8
#define MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED 16
#define MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE 32
#define MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE 64
#define MEMBARRIER_CMD_GET_REGISTRATIONS 512

static void membarrier(void)
{
	long q = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
	/* What every kernel of the last years offers on every arch; the query
	 * may name more (SYNC_CORE and RSEQ depend on the arch and config). */
	long need = MEMBARRIER_CMD_GLOBAL | MEMBARRIER_CMD_GLOBAL_EXPEDITED |
		    MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED |
		    MEMBARRIER_CMD_PRIVATE_EXPEDITED |
		    MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED |
		    MEMBARRIER_CMD_GET_REGISTRATIONS;
	printf("query has the common commands %d\n", q >= 0 && (q & need) == need);
	show("query with flags", syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 1, 0));
	show("GLOBAL", syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0));
	show("registrations", syscall(SYS_membarrier, MEMBARRIER_CMD_GET_REGISTRATIONS, 0, 0));
	show("PRIVATE_EXPEDITED unregistered",
	     syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0));
	show("REGISTER_PRIVATE_EXPEDITED",
	     syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0));
	show("PRIVATE_EXPEDITED", syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0));
	show("REGISTER_GLOBAL_EXPEDITED",
	     syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED, 0, 0));
	show("GLOBAL_EXPEDITED", syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL_EXPEDITED, 0, 0));
	show("registrations now", syscall(SYS_membarrier, MEMBARRIER_CMD_GET_REGISTRATIONS, 0, 0));
	show("two commands", syscall(SYS_membarrier, 3, 0, 0));
	show("unknown command", syscall(SYS_membarrier, 1 << 20, 0, 0));
	show("PRIVATE_EXPEDITED bad flags",
	     syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 2, 0));
	/* A forked child has a new mm: nothing registered. */
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		show("child registrations",
		     syscall(SYS_membarrier, MEMBARRIER_CMD_GET_REGISTRATIONS, 0, 0));
		show("child PRIVATE_EXPEDITED",
		     syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0));
		fflush(stdout);
		_exit(0);
	}
	waitpid(pid, NULL, 0);
}

#ifndef STATX_TYPE
struct statx_timestamp {
	int64_t tv_sec;
	uint32_t tv_nsec;
	int32_t __reserved;
};
struct statx {
	uint32_t stx_mask, stx_blksize;
	uint64_t stx_attributes;
	uint32_t stx_nlink, stx_uid, stx_gid;
	uint16_t stx_mode, __spare0;
	uint64_t stx_ino, stx_size, stx_blocks, stx_attributes_mask;
	struct statx_timestamp stx_atime, stx_btime, stx_ctime, stx_mtime;
	uint32_t stx_rdev_major, stx_rdev_minor, stx_dev_major, stx_dev_minor;
	uint64_t stx_mnt_id;
	uint64_t __spare2[13];
};
#endif
#define X_BASIC 0x7ffu
#define X_BTIME 0x800u
#define X_MNT_ID 0x1000u
#define X_RESERVED 0x80000000u
#define X_ATTR_MOUNT_ROOT 0x2000u

static void statx_one(const char *path, int flags)
{
	struct statx sx;
	memset(&sx, 0xa5, sizeof sx);
	long r = syscall(SYS_statx, AT_FDCWD, path, flags, X_BASIC | X_BTIME | X_MNT_ID, &sx);
	if (r < 0) {
		printf("statx %s: -1 %s\n", path, en(errno));
		return;
	}
	struct stat st;
	if (flags & AT_SYMLINK_NOFOLLOW)
		lstat(path, &st);
	else
		stat(path, &st);
	int btime = (sx.stx_mask & X_BTIME) != 0;
	printf("statx %s: basic %d, mnt_id %d, same as stat %d, btime %s, "
	       "attributes within mask %d, mount root %d\n",
	       path, (sx.stx_mask & X_BASIC) == X_BASIC, (sx.stx_mask & X_MNT_ID) != 0,
	       sx.stx_ino == st.st_ino && sx.stx_size == (uint64_t)st.st_size &&
		       sx.stx_mode == st.st_mode && sx.stx_nlink == st.st_nlink &&
		       sx.stx_uid == st.st_uid && sx.stx_mtime.tv_sec == st.st_mtime &&
		       sx.stx_blocks == (uint64_t)st.st_blocks,
	       /* Without STATX_BTIME in the mask the field is zero. The host's
	        * file systems keep a birth time and umbra's do not, so only
	        * that rule is printed. */
	       btime || (sx.stx_btime.tv_sec == 0 && sx.stx_btime.tv_nsec == 0) ? "consistent" :
										 "GARBAGE",
	       (sx.stx_attributes & ~sx.stx_attributes_mask) == 0,
	       (sx.stx_attributes & X_ATTR_MOUNT_ROOT) != 0);
}

static void statx_(void)
{
	statx_one("/", 0);
	statx_one("/proc", 0);
	statx_one("/proc/self/stat", 0);
	statx_one("hello.txt", 0);
	statx_one("link", AT_SYMLINK_NOFOLLOW);
	statx_one("sub", 0);
	struct statx sx;
	show("reserved mask bit", syscall(SYS_statx, AT_FDCWD, "hello.txt", 0, X_RESERVED, &sx));
	show("mask 0", syscall(SYS_statx, AT_FDCWD, "hello.txt", 0, 0, &sx));
	show("FORCE_SYNC|DONT_SYNC",
	     syscall(SYS_statx, AT_FDCWD, "hello.txt", 0x6000, X_BASIC, &sx));
	show("DONT_SYNC", syscall(SYS_statx, AT_FDCWD, "hello.txt", 0x4000, X_BASIC, &sx));
	show("bad flag", syscall(SYS_statx, AT_FDCWD, "hello.txt", 0x1, X_BASIC, &sx));
	show("missing", syscall(SYS_statx, AT_FDCWD, "missing", 0, X_BASIC, &sx));
	show("empty path without flag", syscall(SYS_statx, AT_FDCWD, "", 0, X_BASIC, &sx));
	int fd = open("hello.txt", O_RDONLY);
	memset(&sx, 0, sizeof sx);
	show("fd AT_EMPTY_PATH", syscall(SYS_statx, fd, "", AT_EMPTY_PATH, X_BASIC, &sx));
	printf("size %llu\n", (unsigned long long)sx.stx_size);
	close(fd);
	show("bad buffer", syscall(SYS_statx, AT_FDCWD, "hello.txt", 0, X_BASIC, (void *)8));
}

static void faccessat2_(void)
{
	show("F_OK", syscall(SYS_faccessat2, AT_FDCWD, "hello.txt", F_OK, 0));
	show("R_OK|W_OK", syscall(SYS_faccessat2, AT_FDCWD, "hello.txt", R_OK | W_OK, 0));
	show("X_OK on a plain file", syscall(SYS_faccessat2, AT_FDCWD, "hello.txt", X_OK, 0));
	show("AT_EACCESS", syscall(SYS_faccessat2, AT_FDCWD, "hello.txt", R_OK, AT_EACCESS));
	show("NOFOLLOW on a link",
	     syscall(SYS_faccessat2, AT_FDCWD, "link", F_OK, AT_SYMLINK_NOFOLLOW));
	show("missing", syscall(SYS_faccessat2, AT_FDCWD, "missing", F_OK, 0));
	show("bad mode", syscall(SYS_faccessat2, AT_FDCWD, "hello.txt", 8, 0));
	show("bad flag", syscall(SYS_faccessat2, AT_FDCWD, "hello.txt", F_OK, 1));
	int fd = open("hello.txt", O_RDONLY);
	show("AT_EMPTY_PATH", syscall(SYS_faccessat2, fd, "", R_OK, AT_EMPTY_PATH));
	show("empty path", syscall(SYS_faccessat2, fd, "", R_OK, 0));
	close(fd);
	int dir = open("sub", O_RDONLY | O_DIRECTORY);
	show("relative to dirfd", syscall(SYS_faccessat2, dir, "a.txt", R_OK, 0));
	close(dir);
}

static void dropped(void)
{
	if (setgid(65534) || setuid(65534)) {
		printf("setuid failed\n");
		return;
	}
	show("nobody R_OK", syscall(SYS_faccessat2, AT_FDCWD, "hello.txt", R_OK, 0));
	show("nobody W_OK", syscall(SYS_faccessat2, AT_FDCWD, "hello.txt", W_OK, 0));
	show("nobody AT_EACCESS W_OK",
	     syscall(SYS_faccessat2, AT_FDCWD, "hello.txt", W_OK, AT_EACCESS));
	/* Namespaces need CAP_SYS_ADMIN. */
	show("nobody unshare NEWNS", syscall(SYS_unshare, CLONE_NEWNS));
	show("nobody unshare NEWUTS", syscall(SYS_unshare, CLONE_NEWUTS));
	show("nobody unshare NEWIPC", syscall(SYS_unshare, CLONE_NEWIPC));
	show("nobody unshare NEWNET", syscall(SYS_unshare, CLONE_NEWNET));
	show("nobody unshare NEWPID", syscall(SYS_unshare, CLONE_NEWPID));
	show("nobody unshare FILES|FS", syscall(SYS_unshare, CLONE_FILES | CLONE_FS));
}

static void privilege(void)
{
	in_child(dropped);
}

static int is_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

static void close_range_(void)
{
	int base = 20;
	for (int i = 0; i < 6; i++)
		dup2(0, base + i);
	show("close 21..22", syscall(SYS_close_range, base + 1, base + 2, 0));
	printf("open: %d %d %d %d\n", is_open(base), is_open(base + 1), is_open(base + 2),
	       is_open(base + 3));
	show("CLOEXEC 23..~0", syscall(SYS_close_range, base + 3, ~0U, 4));
	printf("cloexec: %d %d, still open %d\n", fcntl(base + 3, F_GETFD), fcntl(base + 5, F_GETFD),
	       is_open(base + 4));
	show("first > last", syscall(SYS_close_range, 30, 29, 0));
	show("bad flag", syscall(SYS_close_range, 30, 31, 1));
	show("nothing open in range", syscall(SYS_close_range, 500, 600, 0));
	show("UNSHARE 20..20", syscall(SYS_close_range, base, base, 2));
	printf("20 open %d\n", is_open(base));
	show("close 3..~0", syscall(SYS_close_range, 3, ~0U, 0));
	printf("23 open %d, stdout open %d\n", is_open(base + 3), is_open(1));
}

#define KCMP_FILE 0
#define KCMP_VM 1
#define KCMP_FILES 2
#define KCMP_FS 3
#define KCMP_SIGHAND 4
#define KCMP_IO 5
#define KCMP_SYSVSEM 6
#define KCMP_TYPES 8

static void kcmp_(void)
{
	pid_t me = getpid();
	int a = open("hello.txt", O_RDONLY);
	int b = dup(a);
	int c = open("hello.txt", O_RDONLY);
	show("same fd", syscall(SYS_kcmp, me, me, KCMP_FILE, a, a));
	show("dup", syscall(SYS_kcmp, me, me, KCMP_FILE, a, b));
	long r = syscall(SYS_kcmp, me, me, KCMP_FILE, a, c);
	printf("separate open: %s\n", r == 1 || r == 2 ? "ordered, not equal" : "WRONG");
	long r2 = syscall(SYS_kcmp, me, me, KCMP_FILE, c, a);
	printf("antisymmetric %d\n", r + r2 == 3);
	show("bad fd", syscall(SYS_kcmp, me, me, KCMP_FILE, a, 999));
	show("bad type", syscall(SYS_kcmp, me, me, KCMP_TYPES, 0, 0));
	show("dead pid", syscall(SYS_kcmp, me, dead_pid(), KCMP_VM, 0, 0));
	for (int t = KCMP_VM; t <= KCMP_SYSVSEM; t++) {
		char w[32];
		snprintf(w, sizeof w, "self type %d", t);
		show(w, syscall(SYS_kcmp, me, me, t, 0, 0));
	}
	/* A forked child shares the open file but none of the rest. */
	int p[2];
	if (pipe(p))
		return;
	fflush(stdout);
	pid_t child = fork();
	if (child == 0) {
		close(p[0]);
		if (write(p[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	char ch;
	close(p[1]);
	if (read(p[0], &ch, 1) != 1)
		return;
	show("child's inherited fd", syscall(SYS_kcmp, me, child, KCMP_FILE, a, a));
	r = syscall(SYS_kcmp, me, child, KCMP_FILE, a, c);
	printf("child's other fd: %s\n", r == 1 || r == 2 ? "not equal" : "WRONG");
	/* KCMP_IO: neither has an I/O context, which compares equal. */
	for (int t = KCMP_VM; t <= KCMP_IO; t++) {
		r = syscall(SYS_kcmp, me, child, t, 0, 0);
		printf("child type %d: %s\n", t, r == 1 || r == 2 ? "not equal" : r == 0 ? "equal" : en(errno));
	}
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	close(p[0]);
	close(a);
	close(b);
	close(c);
}

static void unshare_(void)
{
	show("unshare 0", syscall(SYS_unshare, 0));
	int fd = open("hello.txt", O_RDONLY);
	show("unshare FILES", syscall(SYS_unshare, CLONE_FILES));
	printf("fd still open %d\n", is_open(fd));
	close(fd);
	show("unshare FS", syscall(SYS_unshare, CLONE_FS));
	char cwd[256];
	printf("cwd kept %d\n", getcwd(cwd, sizeof cwd) != NULL);
	/* A single-threaded process shares none of these: nothing to do. */
	show("unshare VM|SIGHAND|THREAD", syscall(SYS_unshare, CLONE_VM | CLONE_SIGHAND | CLONE_THREAD));
	show("unshare SYSVSEM", syscall(SYS_unshare, CLONE_SYSVSEM));
	/* unshare(CLONE_SYSVSEM) applies the caller's SEM_UNDO adjustments, as
	 * exit does: the semaphore goes back to 0. */
	int sem = semget(IPC_PRIVATE, 1, 0600);
	struct sembuf up = { 0, 2, SEM_UNDO };
	show("semop +2 SEM_UNDO", semop(sem, &up, 1));
	show("value", semctl(sem, 0, GETVAL));
	show("unshare SYSVSEM again", syscall(SYS_unshare, CLONE_SYSVSEM));
	show("value after", semctl(sem, 0, GETVAL));
	semctl(sem, 0, IPC_RMID);
	show("unshare CLONE_PTRACE", syscall(SYS_unshare, CLONE_PTRACE));
	show("unshare CLONE_VFORK", syscall(SYS_unshare, CLONE_VFORK));
	show("unshare CLONE_SETTLS", syscall(SYS_unshare, CLONE_SETTLS));
	show("unshare bit 0", syscall(SYS_unshare, 1));
}

/* A second thread: the calls that take a pid take its tid too. */
static pthread_mutex_t th_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t th_cond = PTHREAD_COND_INITIALIZER;
static int th_tid, th_done;

static void *th_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&th_lock);
	th_tid = (int)syscall(SYS_gettid);
	pthread_cond_broadcast(&th_cond);
	while (!th_done)
		pthread_cond_wait(&th_cond, &th_lock);
	pthread_mutex_unlock(&th_lock);
	return NULL;
}

static void threads_(void)
{
	pthread_t t;
	if (pthread_create(&t, NULL, th_main, NULL)) {
		printf("pthread_create failed\n");
		return;
	}
	pthread_mutex_lock(&th_lock);
	while (!th_tid)
		pthread_cond_wait(&th_cond, &th_lock);
	int tid = th_tid;
	pthread_mutex_unlock(&th_lock);
	pid_t me = getpid();
	printf("tid differs %d\n", tid != me);
	for (int ty = KCMP_VM; ty <= KCMP_SIGHAND; ty++) {
		char w[32];
		snprintf(w, sizeof w, "kcmp thread type %d", ty);
		show(w, syscall(SYS_kcmp, me, tid, ty, 0, 0));
	}
	int fd = open("hello.txt", O_RDONLY);
	show("kcmp thread file", syscall(SYS_kcmp, me, tid, KCMP_FILE, fd, fd));
	close(fd);
	cpu_set_t set;
	CPU_ZERO(&set);
	long n = syscall(SYS_sched_getaffinity, tid, sizeof set, &set);
	printf("thread getaffinity ok %d, CPU 0 in %d\n", n > 0, CPU_ISSET(0, &set) != 0);
	show("thread getscheduler", syscall(SYS_sched_getscheduler, tid));
	struct rlim64 r;
	show("thread prlimit", syscall(SYS_prlimit64, tid, RLIMIT_NOFILE, NULL, &r));
	pthread_mutex_lock(&th_lock);
	th_done = 1;
	pthread_cond_broadcast(&th_cond);
	pthread_mutex_unlock(&th_lock);
	pthread_join(t, NULL);
}


/* Runs execveat in a child and reports how the child ended: "ran: <what
 * the new program printed>" or the errno of the failed call. */
static void try_execveat(const char *what, int dirfd, const char *path, int flags)
{
	int p[2];
	if (pipe(p) != 0)
		return;
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		dup2(p[1], 1);
		char *av[] = { "startup_calls", "execveat_child", NULL };
		char *ev[] = { "X=1", NULL };
		syscall(SYS_execveat, dirfd, path, av, ev, flags);
		dprintf(1, "%s", errname(errno));
		_exit(0);
	}
	close(p[1]);
	char buf[256];
	ssize_t n, t = 0;
	while (t < (ssize_t)sizeof buf - 1 && (n = read(p[0], buf + t, sizeof buf - 1 - t)) > 0)
		t += n;
	buf[t > 0 ? t : 0] = 0;
	close(p[0]);
	int st;
	waitpid(pid, &st, 0);
	printf("%s: %s (exit %d)\n", what, buf, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

static void execveat_child(void)
{
	/* Printed to the pipe: the new program's argv[1] and environment. */
	const char *x = getenv("X");
	printf("child argv ok, X=%s", x ? x : "(none)");
	fflush(stdout);
	_exit(0);
}

static void execveat_(void)
{
	char self[512];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n <= 0) {
		printf("readlink: %s\n", errname(errno));
		return;
	}
	self[n] = 0;
	char *slash = strrchr(self, '/');
	*slash = 0;
	const char *dir = self[0] ? self : "/";
	const char *base = slash + 1;
	char full[600];
	snprintf(full, sizeof full, "%s/%s", dir, base);
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	int ffd = open(full, O_RDONLY);
	int pfd = open(full, O_PATH);
	/* Per process: the musl and glibc builds run natively at the same
	 * time, in the host's /tmp. */
	char link[64];
	snprintf(link, sizeof link, "/tmp/execveat_link.%d", (int)getpid());
	symlink(full, link);
	try_execveat("absolute", AT_FDCWD, full, 0);
	try_execveat("dirfd relative", dfd, base, 0);
	try_execveat("dirfd ignored for absolute", 12345, full, 0);
	try_execveat("empty path, fd", ffd, "", AT_EMPTY_PATH);
	try_execveat("empty path, O_PATH fd", pfd, "", AT_EMPTY_PATH);
	try_execveat("empty path without flag", ffd, "", 0);
	try_execveat("bad flags", AT_FDCWD, full, 0x1);
	try_execveat("nofollow symlink", AT_FDCWD, link, AT_SYMLINK_NOFOLLOW);
	try_execveat("follow symlink", AT_FDCWD, link, 0);
	try_execveat("relative, fd not a directory", ffd, base, 0);
	try_execveat("relative, bad fd", 999, base, 0);
	try_execveat("missing", dfd, "no-such-program", 0);
	unlink(link);
	close(dfd);
	close(ffd);
	close(pfd);
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		void (*fn)(void);
	} sections[] = {
		{ "prlimit", prlimit_ },     { "random", random_ },
		{ "affinity", affinity },   { "policy", policy },
		{ "membarrier", membarrier }, { "statx", statx_ },
		{ "faccessat2", faccessat2_ }, { "privilege", privilege },
		{ "close_range", close_range_ }, { "kcmp", kcmp_ },
		{ "unshare", unshare_ },     { "threads", threads_ },
		{ "execveat", execveat_ },   { "execveat_child", execveat_child },
	};
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 1; i < argc; i++) {
		int found = 0;
		for (unsigned j = 0; j < sizeof sections / sizeof sections[0]; j++) {
			if (!strcmp(argv[i], sections[j].name)) {
				printf("== %s\n", argv[i]);
				sections[j].fn();
				found = 1;
			}
		}
		if (!found) {
			printf("unknown section %s\n", argv[i]);
			return 2;
		}
	}
	return 0;
}
