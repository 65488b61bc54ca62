/* procctl: process control — unsupported calls, credentials, prctl,
 * capabilities, host names, personality and the old rlimit calls.
 *
 * Sections are named in argv. Only deterministic facts are printed: return
 * values, errno names and ids (never pids). The tests run as root natively;
 * sections that drop privileges do so in a child. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/fsuid.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>
#include "common.h"

static const char *en(int e)
{
	switch (e) {
	case EAGAIN: return "EAGAIN";
	case ESRCH: return "ESRCH";
	case EBUSY: return "EBUSY";
	case ECHILD: return "ECHILD";
	default: return errname(e);
	}
}

static void show(const char *what, long r)
{
	if (r < 0)
		printf("%s: -1 %s\n", what, en(errno));
	else
		printf("%s: %ld\n", what, r);
}

/* Calls umbra does not implement (umbra-only: natively they work). */
static void enosys(void)
{
	show("io_uring_setup", syscall(SYS_io_uring_setup, 1, NULL));
	show("io_uring_setup again", syscall(SYS_io_uring_setup, 1, NULL));
	show("syscall 1000", syscall(1000));
	show("clone3", syscall(SYS_clone3, NULL, 0));
}

/* Runs fn in a child and waits for it, so the parent keeps its ids. */
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
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		printf("child failed: %#x\n", st);
}

static void resids(const char *what)
{
	uid_t r, e, s;
	gid_t gr, ge, gs;
	getresuid(&r, &e, &s);
	getresgid(&gr, &ge, &gs);
	printf("%s: uid %u %u %u fsuid %d, gid %u %u %u fsgid %d\n", what, r, e, s,
	       setfsuid(-1), gr, ge, gs, setfsgid(-1));
}

static void groups(const char *what)
{
	gid_t g[8];
	int n = getgroups(8, g);
	printf("%s: %d groups:", what, n);
	for (int i = 0; i < n; i++)
		printf(" %u", g[i]);
	printf("\n");
}

struct cap_hdr {
	uint32_t version;
	int pid;
};
struct cap_data {
	uint32_t effective, permitted, inheritable;
};

/* Whether capability `cap` is in the effective and permitted sets. */
static void caps(const char *what)
{
	struct cap_hdr h = { 0x20080522, 0 };
	struct cap_data d[2];
	if (syscall(SYS_capget, &h, d) < 0) {
		printf("%s: capget -1 %s\n", what, en(errno));
		return;
	}
	printf("%s: CAP_SETUID eff %d prm %d, CAP_KILL eff %d, CAP_CHOWN eff %d, any 32+ %d\n",
	       what, !!(d[0].effective & (1u << 7)), !!(d[0].permitted & (1u << 7)),
	       !!(d[0].effective & (1u << 5)), !!(d[0].effective & 1),
	       !!(d[1].effective | d[1].permitted));
}

static void ids_child(void)
{
	resids("root");
	groups("root");
	caps("root");
	int g[] = { 7, 3, 100 };
	show("setgroups", setgroups(3, (gid_t *)g));
	groups("after setgroups");
	show("setgroups(0)", setgroups(0, NULL));
	groups("after setgroups(0)");
	show("setgroups back", setgroups(3, (gid_t *)g));
	show("setresgid", setresgid(100, 101, 102));
	show("setresuid", setresuid(1000, 1001, 1002));
	resids("after setresuid");
	caps("after setresuid");
	show("setuid(0)", setuid(0));
	show("setuid(-1)", setuid(-1));
	show("setuid(1002)", setuid(1002));
	resids("after setuid(1002)");
	show("setreuid(-1, 1000)", setreuid(-1, 1000));
	resids("after setreuid");
	show("setreuid(5, -1)", setreuid(5, -1));
	show("setreuid(1002, -1)", setreuid(1002, -1));
	resids("after setreuid(1002, -1)");
	show("setresuid(-1, -1, 5)", setresuid(-1, -1, 5));
	show("setresuid(1000, 1000, 1000)", setresuid(1000, 1000, 1000));
	printf("setfsuid(5) returns %d\n", setfsuid(5));
	printf("setfsuid(1000) returns %d\n", setfsuid(1000));
	show("setgroups as user", setgroups(0, NULL));
	groups("user");
	show("setgid(0)", setgid(0));
	show("setgid(102)", setgid(102));
	show("setregid(-1, 100)", setregid(-1, 100));
	show("setresgid(1, -1, -1)", setresgid(1, -1, -1));
	resids("user");
	caps("user");
	show("capset raise", ({
		struct cap_hdr h = { 0x20080522, 0 };
		struct cap_data d[2] = { { 1u << 7, 1u << 7, 0 }, { 0, 0, 0 } };
		syscall(SYS_capset, &h, d);
	}));
}

static void ids(void)
{
	in_child(ids_child);
}

static void keepcaps_child(void)
{
	show("PR_GET_KEEPCAPS", prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0));
	show("PR_SET_KEEPCAPS 1", prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0));
	show("PR_GET_KEEPCAPS", prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0));
	show("PR_SET_KEEPCAPS 2", prctl(PR_SET_KEEPCAPS, 2, 0, 0, 0));
	show("setresuid(1000, 1000, 1000)", setresuid(1000, 1000, 1000));
	caps("kept");
	resids("kept");
	/* The permitted set lets the effective one be raised again. */
	struct cap_hdr h = { 0x20080522, 0 };
	struct cap_data d[2] = { { 1u << 7, 1u << 7, 0 }, { 0, 0, 0 } };
	show("capset CAP_SETUID", syscall(SYS_capset, &h, d));
	caps("raised");
	show("setuid(0) with CAP_SETUID", setuid(0));
	resids("back to root");
}

static void capsets(void)
{
	struct cap_hdr h = { 0, 0 };
	show("capget probe", syscall(SYS_capget, &h, NULL));
	printf("preferred version %#x\n", h.version);
	h.version = 0x12345;
	struct cap_data d[2];
	show("capget bad version", syscall(SYS_capget, &h, d));
	printf("version written back %#x\n", h.version);
	h.version = 0x19980330;
	show("capget v1", syscall(SYS_capget, &h, d));
	printf("v1 CAP_SETUID eff %d\n", !!(d[0].effective & (1u << 7)));
	h.version = 0x20071026;
	show("capget v2", syscall(SYS_capget, &h, d));
	h.version = 0x20080522;
	h.pid = 99999;
	show("capget no such pid", syscall(SYS_capget, &h, d));
	h.pid = -1;
	show("capget pid -1", syscall(SYS_capget, &h, d));
	h.pid = 99999;
	show("capset other pid", syscall(SYS_capset, &h, d));
	h.pid = 0;
	show("capget bad data", syscall(SYS_capget, &h, (void *)16));
	in_child(keepcaps_child);
}

static void kill_child(void)
{
	pid_t parent = getppid();
	show("setresuid(1000, 1000, 1000)", setresuid(1000, 1000, 1000));
	show("kill root parent", kill(parent, 0));
	show("kill self", kill(getpid(), 0));
	fflush(stdout);
	pid_t gc = fork();
	if (gc == 0) {
		pause();
		_exit(0);
	}
	show("tgkill root parent", syscall(SYS_tgkill, parent, parent, 0));
	show("tkill root parent", syscall(SYS_tkill, parent, 0));
	show("kill own child", kill(gc, SIGKILL));
	waitpid(gc, NULL, 0);
}

static void kills(void)
{
	in_child(kill_child);
}

static void write_file(const char *path, mode_t mode, uid_t uid, gid_t gid)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, "x\n", 2) != 2)
		printf("write_file %s: %s\n", path, en(errno));
	close(fd);
	chown(path, uid, gid);
	chmod(path, mode);
}

static void try_open(const char *what, const char *path, int flags)
{
	int fd = open(path, flags);
	show(what, fd < 0 ? -1 : 0);
	if (fd >= 0)
		close(fd);
}

static void files_child(void)
{
	int g[] = { 100 };
	setgroups(1, (gid_t *)g);
	show("setresgid(200, 200, 200)", setresgid(200, 200, 200));
	show("setresuid(1000, 1000, 1000)", setresuid(1000, 1000, 1000));
	try_open("read root 0600", "pc_root600", O_RDONLY);
	try_open("read group-100 0640", "pc_grp640", O_RDONLY);
	try_open("write group-100 0640", "pc_grp640", O_WRONLY);
	try_open("read other 0604", "pc_other604", O_RDONLY);
	try_open("read own 0400", "pc_mine400", O_RDONLY);
	try_open("write own 0400", "pc_mine400", O_WRONLY);
	show("chdir root 0700 dir", chdir("pc_dir700"));
	show("mkdir in root 0755 dir", mkdir("pc_dir755/sub", 0755));
	show("chmod root file", chmod("pc_root600", 0666));
	show("chown own file", chown("pc_mine400", 0, 0));
	show("unlink in root dir", unlink("pc_dir755/f"));
}

/* access(2) uses the real ids, faccessat(AT_EACCESS) the effective ones. */
static void access_child(void)
{
	show("setresuid(1000, 0, 0)", setresuid(1000, 0, 0));
	show("access root 0600 R_OK", access("pc_root600", R_OK));
	show("access own 0400 R_OK", access("pc_mine400", R_OK));
	show("faccessat AT_EACCESS root 0600", faccessat(AT_FDCWD, "pc_root600", R_OK, AT_EACCESS));
	show("open root 0600", open("pc_root600", O_RDONLY) < 0 ? -1 : 0);
}

static void fsuid_child(void)
{
	printf("setfsuid(1000) returns %d\n", setfsuid(1000));
	try_open("fsuid 1000 reads root 0600", "pc_root600", O_RDONLY);
	try_open("fsuid 1000 reads own 0400", "pc_mine400", O_RDONLY);
	printf("setfsuid(0) returns %d\n", setfsuid(0));
	try_open("fsuid 0 reads root 0600", "pc_root600", O_RDONLY);
}

static void files(void)
{
	write_file("pc_root600", 0600, 0, 0);
	write_file("pc_grp640", 0640, 0, 100);
	write_file("pc_other604", 0604, 0, 0);
	write_file("pc_mine400", 0400, 1000, 1000);
	mkdir("pc_dir700", 0700);
	mkdir("pc_dir755", 0755);
	write_file("pc_dir755/f", 0644, 0, 0);
	in_child(files_child);
	in_child(fsuid_child);
	in_child(access_child);
}

/* Executes this program as a set-user-id copy owned by uid 1000. */
static void setuid_exec_child(void)
{
	show("setresuid(2000, 2000, 2000)", setresuid(2000, 2000, 2000));
	char *argv[] = { "pc_suid", "showids", NULL };
	execv("pc_suid", argv);
	printf("execv: %s\n", en(errno));
}

static void nnp_exec_child(void)
{
	show("PR_GET_NO_NEW_PRIVS", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
	show("PR_SET_NO_NEW_PRIVS", prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
	show("PR_GET_NO_NEW_PRIVS", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
	setuid_exec_child();
}

static void setuid_exec(void)
{
	int in = open("/proc/self/exe", O_RDONLY);
	int out = open("pc_suid", O_WRONLY | O_CREAT | O_TRUNC, 0755);
	char buf[65536];
	ssize_t n;
	while ((n = read(in, buf, sizeof buf)) > 0)
		write(out, buf, n);
	close(in);
	close(out);
	chown("pc_suid", 1000, 1000);
	chmod("pc_suid", 06755);
	in_child(setuid_exec_child);
	in_child(nnp_exec_child);
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

/* Runs as a subreaper S: its child C forks G1 (with a parent-death signal)
 * and G2 (without), then exits; both are reparented to S. */
static void subreaper_child(void)
{
	int v = -1;
	show("PR_SET_CHILD_SUBREAPER", prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0));
	show("PR_GET_CHILD_SUBREAPER", prctl(PR_GET_CHILD_SUBREAPER, &v, 0, 0, 0));
	printf("subreaper: %d\n", v);
	pid_t me = getpid();
	int ready[2];
	pipe(ready);
	fflush(stdout);
	pid_t g1 = -1, g2 = -1;
	pid_t c = fork();
	if (c == 0) {
		g1 = fork();
		if (g1 == 0) {
			prctl(PR_SET_PDEATHSIG, SIGUSR1, 0, 0, 0);
			int sig = -1;
			prctl(PR_GET_PDEATHSIG, &sig, 0, 0, 0);
			printf("g1: pdeathsig %d\n", sig);
			fflush(stdout);
			write(ready[1], "1", 1);
			for (;;)
				pause();
		}
		char b;
		read(ready[0], &b, 1);
		g2 = fork();
		if (g2 == 0) {
			pid_t parent = getppid();
			write(ready[1], "2", 1);
			while (getppid() == parent)
				usleep(1000);
			/* 4: reparented to the subreaper. */
			_exit(getppid() == me ? 4 : 5);
		}
		read(ready[0], &b, 1);
		/* Tell S the grandchildren's pids, then leave them. */
		write(ready[1], &g1, sizeof g1);
		write(ready[1], &g2, sizeof g2);
		_exit(3);
	}
	int st;
	waitpid(c, &st, 0);
	status_line("c", st);
	read(ready[0], &g1, sizeof g1);
	read(ready[0], &g2, sizeof g2);
	waitpid(g1, &st, 0);
	status_line("g1", st);
	waitpid(g2, &st, 0);
	status_line("g2", st);
	show("no more children", waitpid(-1, &st, 0));
}

static int tid_word;

static void prctls(void)
{
	int v = -1;
	show("PR_GET_PDEATHSIG", prctl(PR_GET_PDEATHSIG, &v, 0, 0, 0));
	printf("pdeathsig %d\n", v);
	show("PR_SET_PDEATHSIG 65", prctl(PR_SET_PDEATHSIG, 65, 0, 0, 0));
	show("PR_SET_PDEATHSIG 0", prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0));
	show("PR_GET_PDEATHSIG bad pointer", prctl(PR_GET_PDEATHSIG, 16, 0, 0, 0));
	show("PR_GET_DUMPABLE", prctl(PR_GET_DUMPABLE, 0, 0, 0, 0));
	show("PR_SET_DUMPABLE 0", prctl(PR_SET_DUMPABLE, 0, 0, 0, 0));
	show("PR_GET_DUMPABLE", prctl(PR_GET_DUMPABLE, 0, 0, 0, 0));
	show("PR_SET_DUMPABLE 2", prctl(PR_SET_DUMPABLE, 2, 0, 0, 0));
	show("PR_SET_DUMPABLE 1", prctl(PR_SET_DUMPABLE, 1, 0, 0, 0));
	show("PR_CAPBSET_READ CAP_SETUID", prctl(PR_CAPBSET_READ, 7, 0, 0, 0));
	show("PR_CAPBSET_READ 40", prctl(PR_CAPBSET_READ, 40, 0, 0, 0));
	show("PR_CAPBSET_READ 41", prctl(PR_CAPBSET_READ, 41, 0, 0, 0));
	show("PR_SET_NO_NEW_PRIVS 0", prctl(PR_SET_NO_NEW_PRIVS, 0, 0, 0, 0));
	show("PR_GET_NO_NEW_PRIVS extra arg", prctl(PR_GET_NO_NEW_PRIVS, 1, 0, 0, 0));
	show("PR_GET_NO_NEW_PRIVS", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
	syscall(SYS_set_tid_address, &tid_word);
	void *addr = NULL;
	show("PR_GET_TID_ADDRESS", prctl(PR_GET_TID_ADDRESS, &addr, 0, 0, 0));
	printf("tid address is ours: %s\n", addr == (void *)&tid_word ? "yes" : "no");
	show("unknown option 12345", prctl(12345, 0, 0, 0, 0));
	in_child(subreaper_child);
}

static void uts(const char *what)
{
	struct utsname u;
	uname(&u);
	char h[80] = "";
	gethostname(h, sizeof h);
	printf("%s: nodename %s, gethostname %s, domainname %s\n", what, u.nodename, h,
	       u.domainname);
}

static void names_child(void)
{
	setresuid(1000, 1000, 1000);
	show("sethostname as user", sethostname("x", 1));
	show("setdomainname as user", setdomainname("x", 1));
}

/* Host and domain names: natively in a UTS namespace of its own (never the
 * machine's); under umbra they are the instance's. */
static void names(void)
{
	syscall(SYS_unshare, 0x04000000 /* CLONE_NEWUTS */);
	show("sethostname", sethostname("umbra-test-host", 15));
	show("setdomainname", setdomainname("example.org", 11));
	uts("after");
	char long_name[70];
	memset(long_name, 'a', sizeof long_name);
	show("sethostname 65 bytes", sethostname(long_name, 65));
	show("sethostname 64 bytes", sethostname(long_name, 64));
	show("sethostname -1", syscall(SYS_sethostname, "x", -1));
	show("sethostname bad pointer", syscall(SYS_sethostname, 16, 4));
	show("setdomainname 65 bytes", setdomainname(long_name, 65));
	show("sethostname 4 bytes", sethostname("tiny", 4));
	uts("now");
	in_child(names_child);
	uts("child did not change them");
}

static void pers_child(void)
{
	printf("child persona %#lx\n", (long)syscall(SYS_personality, 0xffffffffUL));
}

static void pers_exec_child(void)
{
	syscall(SYS_personality, 0x0040000UL);
	char *argv[] = { "procctl", "showpers", NULL };
	execv("/proc/self/exe", argv);
	printf("execv: %s\n", en(errno));
}

static void misc(void)
{
	long p0 = syscall(SYS_personality, 0xffffffffUL);
	printf("persona %#lx\n", p0);
	printf("set ADDR_NO_RANDOMIZE returns %#lx\n", (long)syscall(SYS_personality, 0x0040000UL));
	printf("persona %#lx\n", (long)syscall(SYS_personality, 0xffffffffUL));
	in_child(pers_child);
	printf("restore returns %#lx\n", (long)syscall(SYS_personality, (unsigned long)p0));
	in_child(pers_exec_child);
#ifdef SYS_getrlimit
	struct { unsigned long cur, max; } r, r2;
	show("getrlimit NOFILE", syscall(SYS_getrlimit, RLIMIT_NOFILE, &r));
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	printf("same as prlimit: %s\n", r.cur == rl.rlim_cur && r.max == rl.rlim_max ? "yes" : "no");
	r2.cur = 64;
	r2.max = r.max;
	show("setrlimit NOFILE 64", syscall(SYS_setrlimit, RLIMIT_NOFILE, &r2));
	getrlimit(RLIMIT_NOFILE, &rl);
	printf("soft limit now %lu\n", (unsigned long)rl.rlim_cur);
	show("setrlimit cur > max", ({ r2.cur = r.max; r2.max = 10; syscall(SYS_setrlimit, RLIMIT_NOFILE, &r2); }));
	show("getrlimit bad resource", syscall(SYS_getrlimit, 99, &r));
	show("getrlimit bad pointer", syscall(SYS_getrlimit, RLIMIT_NOFILE, 16));
	r2.cur = r.cur;
	r2.max = r.max;
	syscall(SYS_setrlimit, RLIMIT_NOFILE, &r2);
#else
	printf("getrlimit NOFILE: 0\nsame as prlimit: yes\nsetrlimit NOFILE 64: 0\n"
	       "soft limit now 64\nsetrlimit cur > max: -1 EINVAL\n"
	       "getrlimit bad resource: -1 EINVAL\ngetrlimit bad pointer: -1 EFAULT\n");
#endif
#ifdef __x86_64__
	/* A TLS base at 2^47 is not canonical: EPERM, no child. */
	long c = syscall(SYS_clone, SIGCHLD | 0x00080000 /* CLONE_SETTLS */, 0, 0, 0, 1UL << 47);
	if (c == 0)
		syscall(SYS_exit_group, 9);
	show("clone with a non-canonical TLS", c > 0 ? 1 : c);
	if (c > 0)
		waitpid(c, NULL, 0);
#else
	printf("clone with a non-canonical TLS: -1 EPERM\n");
#endif
}

static void status_lines(void)
{
	char buf[4096];
	int fd = open("/proc/self/status", O_RDONLY);
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n < 0) {
		printf("read status: %s\n", en(errno));
		return;
	}
	buf[n] = 0;
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
		if (!strncmp(line, "Uid:", 4) || !strncmp(line, "Gid:", 4) ||
		    !strncmp(line, "Groups:", 7) || !strncmp(line, "NoNewPrivs:", 11))
			printf("%s\n", line);
		if (!strncmp(line, "CapEff:", 7) || !strncmp(line, "CapPrm:", 7))
			printf("%.7s zero: %s\n", line, strtoull(line + 7, NULL, 16) ? "no" : "yes");
	}
}

static void status_child(void)
{
	int g[] = { 7, 100 };
	setgroups(2, (gid_t *)g);
	setresgid(100, 101, 102);
	setresuid(1000, 1001, 1002);
	setfsuid(1000);
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	status_lines();
}

static void status(void)
{
	in_child(status_child);
}

static void nosuid_exec_child(void)
{
	show("setresuid(2000, 2000, 2000)", setresuid(2000, 2000, 2000));
	char *argv[] = { "pc_nosuid/suid", "showids", NULL };
	execv("pc_nosuid/suid", argv);
	printf("execv: %s\n", en(errno));
}

/* A set-user-id program on a nosuid mount runs with the caller's ids.
 * Natively in a mount namespace of its own (never the machine's mounts). */
static void nosuid(void)
{
	if (syscall(SYS_unshare, 0x00020000 /* CLONE_NEWNS */) == 0)
		mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
	mkdir("pc_nosuid", 0755);
	show("mount tmpfs nosuid", mount("tmpfs", "pc_nosuid", "tmpfs", MS_NOSUID, "mode=755"));
	int in = open("/proc/self/exe", O_RDONLY);
	int out = open("pc_nosuid/suid", O_WRONLY | O_CREAT | O_TRUNC, 0755);
	char buf[65536];
	ssize_t n;
	while ((n = read(in, buf, sizeof buf)) > 0)
		write(out, buf, n);
	close(in);
	close(out);
	chown("pc_nosuid/suid", 1000, 1000);
	chmod("pc_nosuid/suid", 06755);
	in_child(nosuid_exec_child);
	show("umount", umount("pc_nosuid"));
}

static void showids(void)
{
	resids("exec");
	printf("AT_SECURE %lu\n", getauxval(AT_SECURE));
	show("PR_GET_DUMPABLE", prctl(PR_GET_DUMPABLE, 0, 0, 0, 0));
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 1; i < argc; i++) {
		const char *s = argv[i];
		if (strcmp(s, "showids") && strcmp(s, "showpers"))
			printf("== %s\n", s);
		if (!strcmp(s, "showpers")) {
			printf("persona after exec %#lx\n",
			       (long)syscall(SYS_personality, 0xffffffffUL));
			return 0;
		}
		if (!strcmp(s, "showids")) {
			showids();
			return 0;
		}
		if (!strcmp(s, "enosys"))
			enosys();
		else if (!strcmp(s, "nosuid"))
			nosuid();
		else if (!strcmp(s, "status"))
			status();
		else if (!strcmp(s, "names"))
			names();
		else if (!strcmp(s, "misc"))
			misc();
		else if (!strcmp(s, "prctl"))
			prctls();
		else if (!strcmp(s, "ids"))
			ids();
		else if (!strcmp(s, "caps"))
			capsets();
		else if (!strcmp(s, "kill"))
			kills();
		else if (!strcmp(s, "files"))
			files();
		else if (!strcmp(s, "setuid_exec"))
			setuid_exec();
		else
			printf("unknown section\n");
	}
	return 0;
}
