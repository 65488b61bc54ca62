/* procfs_live: /proc as a live view (issue 10). Every route to /proc — a
 * path, the /dev/fd links, a cwd inside /proc, a directory fd and openat
 * relative to it — sees the fd table and the processes as they are at that
 * moment, in forked children too; /proc/PID/fdinfo; /proc/sys files.
 * Prints only what is the same natively and under umbra. Arguments name the
 * sections to run (all when none). */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>
#include "common.h"

/* Per process: the musl and glibc builds run natively at the same time, in
 * the host's /tmp. Set in main. */
static char TMP[64];

static long chk(const char *what, long r)
{
	if (r < 0)
		printf("%s: -1 %s\n", what, errname(errno));
	else
		printf("%s: %ld\n", what, r);
	fflush(stdout);
	return r;
}

static int reap(pid_t pid)
{
	int st = -1;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return st;
}

/* Reads up to 63 bytes of the file at `path` (relative to `dir`) into a
 * string without its newline; "-1 ERRNO" when it cannot be opened. */
static const char *slurp_at(int dir, const char *path)
{
	static char buf[64];
	int fd = openat(dir, path, O_RDONLY);
	if (fd < 0) {
		snprintf(buf, sizeof buf, "-1 %s", errname(errno));
		return buf;
	}
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n < 0)
		n = 0;
	buf[n] = 0;
	char *nl = strchr(buf, '\n');
	if (nl)
		*nl = 0;
	return buf;
}

static const char *slurp(const char *path)
{
	return slurp_at(AT_FDCWD, path);
}

static void make_tmp(const char *text)
{
	int fd = open(TMP, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (write(fd, text, strlen(text)) < 0)
		printf("write tmp failed\n");
	close(fd);
}

/* /dev/fd/N and /proc/self/fd/N follow the table at once, in the parent
 * and in a forked child */
static void test_devfd(void)
{
	make_tmp("hello\n");
	int fd = open(TMP, O_RDONLY);
	dup2(fd, 7);
	close(fd);
	printf("/dev/fd/7: %s\n", slurp("/dev/fd/7"));
	printf("/proc/self/fd/7: %s\n", slurp("/proc/self/fd/7"));
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		/* the child's own table, right after fork */
		printf("child /dev/fd/7: %s\n", slurp("/dev/fd/7"));
		int n = open("/dev/null", O_RDONLY);
		dup2(n, 8);
		char target[64] = {0};
		readlink("/dev/fd/8", target, sizeof target - 1);
		printf("child /dev/fd/8 -> %s\n", target);
		close(8);
		printf("child /dev/fd/8 after close: %s\n", slurp("/dev/fd/8"));
		fflush(stdout);
		_exit(0);
	}
	reap(pid);
	printf("parent /dev/fd/8: %s\n", slurp("/dev/fd/8"));
	close(7);
	printf("/dev/fd/7 after close: %s\n", slurp("/dev/fd/7"));
	unlink(TMP);
}

/* /proc/self is the process asking, in a child too */
static void test_self(void)
{
	char buf[32] = {0};
	readlink("/proc/self", buf, sizeof buf - 1);
	printf("parent: /proc/self is me: %s\n", atoi(buf) == getpid() ? "yes" : "no");
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		char b[32] = {0};
		readlink("/proc/self", b, sizeof b - 1);
		printf("child: /proc/self is me: %s\n", atoi(b) == getpid() ? "yes" : "no");
		char path[64];
		snprintf(path, sizeof path, "/proc/%d/stat", getppid());
		printf("child: parent's stat readable: %s\n",
		       access(path, R_OK) == 0 ? "yes" : "no");
		fflush(stdout);
		_exit(0);
	}
	reap(pid);
}

/* a cwd inside /proc/self/fd: relative names are the table now */
static void test_cwd(void)
{
	make_tmp("cwd\n");
	chk("chdir /proc/self/fd", chdir("/proc/self/fd"));
	printf("9 before open: %s\n", slurp("9"));
	int fd = open(TMP, O_RDONLY);
	dup2(fd, 9);
	close(fd);
	printf("9 after open: %s\n", slurp("9"));
	close(9);
	printf("9 after close: %s\n", slurp("9"));
	chk("chdir /", chdir("/"));
	unlink(TMP);
}

static void list_dir(int dfd)
{
	lseek(dfd, 0, SEEK_SET);
	DIR *d = fdopendir(dup(dfd));
	if (!d)
		return;
	int seen[64] = {0};
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		int n = atoi(e->d_name);
		if (n >= 0 && n < 64)
			seen[n] = 1;
	}
	int mine = dirfd(d);
	closedir(d);
	printf("listing:");
	for (int i = 0; i < 64; i++)
		if (seen[i] && i != mine)
			printf(" %d", i);
	printf("\n");
}

/* a directory fd of /proc/self/fd: openat and getdents see the table now */
static void test_dirfd(void)
{
	make_tmp("dirfd\n");
	int dfd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY);
	printf("dirfd is %d\n", dfd);
	printf("openat 9 before: %s\n", slurp_at(dfd, "9"));
	list_dir(dfd);
	int fd = open(TMP, O_RDONLY);
	dup2(fd, 9);
	close(fd);
	printf("openat 9 after open: %s\n", slurp_at(dfd, "9"));
	list_dir(dfd);
	close(9);
	printf("openat 9 after close: %s\n", slurp_at(dfd, "9"));
	list_dir(dfd);
	close(dfd);
	unlink(TMP);
}

static void show_fdinfo(int fd)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
	FILE *f = fopen(path, "r");
	if (!f) {
		printf("fdinfo %d: -1 %s\n", fd, errname(errno));
		return;
	}
	char line[128];
	struct stat st;
	fstat(fd, &st);
	while (fgets(line, sizeof line, f)) {
		if (strncmp(line, "mnt_id:", 7) == 0) {
			printf("  mnt_id: present\n");
		} else if (strncmp(line, "ino:", 4) == 0) {
			unsigned long ino = strtoul(line + 5, NULL, 10);
			printf("  ino matches fstat: %s\n", ino == st.st_ino ? "yes" : "no");
		} else if (strncmp(line, "pos:", 4) == 0 || strncmp(line, "flags:", 6) == 0) {
			printf("  %s", line);
		}
	}
	fclose(f);
}

static void test_fdinfo(void)
{
	make_tmp("0123456789\n");
	int fd = open(TMP, O_RDWR | O_APPEND);
	char b[5];
	chk("read 5", read(fd, b, 5));
	printf("fdinfo of a file read 5 bytes, O_RDWR|O_APPEND:\n");
	show_fdinfo(fd);
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	printf("after FD_CLOEXEC and F_SETFL O_NONBLOCK:\n");
	show_fdinfo(fd);
	int p[2];
	if (pipe(p) == 0) {
		printf("pipe read end:\n");
		show_fdinfo(p[0]);
		printf("pipe write end:\n");
		show_fdinfo(p[1]);
		close(p[0]);
		close(p[1]);
		printf("after close:\n");
		show_fdinfo(p[0]);
	}
	close(fd);
	unlink(TMP);
}

/* an exited child is a zombie in /proc until it is reaped */
static void test_zombie(void)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0)
		_exit(3);
	siginfo_t si;
	waitid(P_PID, pid, &si, WEXITED | WNOWAIT);
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	const char *line = slurp(path);
	const char *rp = strrchr(line, ')');
	printf("zombie state: %c\n", rp ? rp[2] : '?');
	snprintf(path, sizeof path, "/proc/%d/fd", pid);
	DIR *d = opendir(path);
	int n = 0;
	if (d) {
		struct dirent *e;
		while ((e = readdir(d)) != NULL)
			if (e->d_name[0] != '.')
				n++;
		closedir(d);
	}
	printf("zombie fds: %d\n", n);
	reap(pid);
	snprintf(path, sizeof path, "/proc/%d", pid);
	struct stat st;
	printf("after reap: %s\n", stat(path, &st) == 0 ? "still there" : errname(errno));
}

static long num(const char *path)
{
	const char *s = slurp(path);
	return s[0] == '-' ? -1 : atol(s);
}

static void test_sysctl(void)
{
	struct utsname u;
	uname(&u);
	printf("ostype: %s\n", slurp("/proc/sys/kernel/ostype"));
	printf("osrelease is uname's: %s\n",
	       strcmp(slurp("/proc/sys/kernel/osrelease"), u.release) == 0 ? "yes" : "no");
	printf("hostname is uname's: %s\n",
	       strcmp(slurp("/proc/sys/kernel/hostname"), u.nodename) == 0 ? "yes" : "no");
	printf("pid_max is over my pid: %s\n", num("/proc/sys/kernel/pid_max") > getpid() ? "yes" : "no");
	printf("overcommit_memory: %s\n", slurp("/proc/sys/vm/overcommit_memory"));
	printf("max_map_count: %s\n", slurp("/proc/sys/vm/max_map_count"));
	printf("file-max is positive: %s\n", num("/proc/sys/fs/file-max") > 0 ? "yes" : "no");
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	printf("nr_open is at least the hard NOFILE limit: %s\n",
	       num("/proc/sys/fs/nr_open") >= (long)rl.rlim_max ? "yes" : "no");
	printf("pipe-max-size: %s\n", slurp("/proc/sys/fs/pipe-max-size"));
}

/* the number of CPUs in a sysfs CPU list such as "0", "0-1" or "0,2-3" */
static int cpu_count(const char *list)
{
	int n = 0;
	const char *p = list;
	while (*p >= '0' && *p <= '9') {
		char *end;
		long a = strtol(p, &end, 10), b = a;
		if (*end == '-')
			b = strtol(end + 1, &end, 10);
		if (b < a)
			return -1;
		n += b - a + 1;
		p = *end == ',' ? end + 1 : end;
	}
	return *p == 0 ? n : -1;
}

/* /sys/devices/system/cpu, as glibc's get_nprocs and nproc-like tools read it */
static void test_sysfs(void)
{
	char online[64], possible[64], present[64];
	snprintf(online, sizeof online, "%s", slurp("/sys/devices/system/cpu/online"));
	snprintf(possible, sizeof possible, "%s", slurp("/sys/devices/system/cpu/possible"));
	snprintf(present, sizeof present, "%s", slurp("/sys/devices/system/cpu/present"));
	int n = cpu_count(online);
	printf("online is a CPU list: %s\n", n > 0 ? "yes" : "no");
	printf("possible is a CPU list: %s\n", cpu_count(possible) > 0 ? "yes" : "no");
	printf("present is a CPU list: %s\n", cpu_count(present) > 0 ? "yes" : "no");
	printf("online starts with cpu 0: %s\n", online[0] == '0' ? "yes" : "no");
	printf("online count is sysconf's: %s\n",
	       n == sysconf(_SC_NPROCESSORS_ONLN) ? "yes" : "no");
	struct stat st;
	printf("cpu0 is a directory: %s\n",
	       stat("/sys/devices/system/cpu/cpu0", &st) == 0 && S_ISDIR(st.st_mode) ? "yes" : "no");
	const char *core = slurp("/sys/devices/system/cpu/cpu0/topology/core_id");
	printf("cpu0 core_id is a number: %s\n", core[0] >= '0' && core[0] <= '9' ? "yes" : "no");
}

/* the lines of /proc/self/status that start with one of `keys` */
static void status_lines(const char *const *keys)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	while (f && fgets(line, sizeof line, f))
		for (const char *const *k = keys; *k; k++)
			if (strncmp(line, *k, strlen(*k)) == 0)
				printf("  %s", line);
	if (f)
		fclose(f);
}

/* /proc/self/status shows the real, effective, saved and fs ids and the
 * capability sets as they are after setresuid/setresgid and prctl */
static void test_status_ids(void)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		static const char *const ids[] = {"Uid:", "Gid:", "NoNewPrivs:", NULL};
		static const char *const caps[] = {"CapPrm:", "CapEff:", "NoNewPrivs:", NULL};
		chk("setresgid 100 200 300", setresgid(100, 200, 300));
		chk("setresuid 1000 2000 3000", setresuid(1000, 2000, 3000));
		chk("prctl PR_SET_NO_NEW_PRIVS", prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
		status_lines(ids);
		chk("setresuid 1000 1000 1000", setresuid(1000, 1000, 1000));
		status_lines(caps);
		_exit(0);
	}
	reap(pid);
}

/* sendfile (busybox cat's way) from a /proc file reads the live text
 * (Linux refuses it for the files of /proc/PID, not for these) */
static void test_sendfile(void)
{
	int fd = open("/proc/sys/kernel/ostype", O_RDONLY);
	int p[2];
	if (fd < 0 || pipe(p) < 0)
		return;
	long n = chk("sendfile /proc/sys/kernel/ostype", sendfile(p[1], fd, NULL, 4096));
	char buf[64] = {0};
	if (n > 0 && read(p[0], buf, sizeof buf - 1) > 0)
		printf("text: %s", buf);
	close(fd);
	close(p[0]);
	close(p[1]);
}

static const struct {
	const char *name;
	void (*fn)(void);
} sections[] = {
	{"devfd", test_devfd},
	{"self", test_self},
	{"cwd", test_cwd},
	{"dirfd", test_dirfd},
	{"fdinfo", test_fdinfo},
	{"zombie", test_zombie},
	{"sysctl", test_sysctl},
	{"sysfs", test_sysfs},
	{"status_ids", test_status_ids},
	{"sendfile", test_sendfile},
};

int main(int argc, char **argv)
{
	snprintf(TMP, sizeof TMP, "/tmp/procfs_live.%d.txt", (int)getpid());
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++) {
		int run = argc < 2;
		for (int a = 1; a < argc; a++)
			if (strcmp(argv[a], sections[i].name) == 0)
				run = 1;
		if (!run)
			continue;
		printf("== %s\n", sections[i].name);
		fflush(stdout);
		sections[i].fn();
	}
	return 0;
}
