/* hostile_fs: tries to leave the guest's root and to read host memory
 * through procfs.
 *
 * argv[1] is the host path of the canary file (which does not exist in the
 * guest). The initrd (tests/e2e_hostile.rs) has /etc/passwd with the marker
 * "guest-root-marker", and symlinks /data/up -> ../../../../../.., /data/abs
 * -> /etc/passwd, /data/host -> the canary's host path, /data/loop -> loop.
 * A string that exists only on the host ("HOSTSECRET-" "7c1f") is in umbra's
 * host environment and in the canary; nothing the guest reads may hold it.
 *
 * Output: "ok ..." / "FAIL ..." lines, then "done"; exit 0 when no FAIL. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int failures;
static char secret[32];
/* Built at run time, so that this program's own bytes (read back through
 * /proc/self/exe) do not hold them. */
static char umbra_debug[32], umbra_release[32];

#define OK(...) printf("ok " __VA_ARGS__)
#define FAIL(...) (failures++, printf("FAIL " __VA_ARGS__))

/* Reads a whole file (at most 1 MiB); -1 with errno on failure. */
static long slurp(const char *path, char *buf, long cap)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	long n = 0, r;
	while (n < cap - 1 && (r = read(fd, buf + n, cap - 1 - n)) > 0)
		n += r;
	buf[n] = 0;
	close(fd);
	return n;
}

static char buf[1 << 20];

static void must_be_guest_passwd(const char *path)
{
	long n = slurp(path, buf, sizeof buf);
	if (n < 0)
		OK("%s: errno %d\n", path, errno);
	else if (strstr(buf, "guest-root-marker"))
		OK("%s: the guest's /etc/passwd\n", path);
	else
		FAIL("%s: read %ld bytes that are not the guest's: %.60s\n", path, n, buf);
}

static int scanned, leaks;

static void scan_file(const char *path)
{
	long n = slurp(path, buf, sizeof buf);
	if (n < 0)
		return;
	scanned++;
	if (memmem(buf, n, secret, strlen(secret))) {
		leaks++;
		FAIL("%s holds the host secret\n", path);
	}
	if (memmem(buf, n, umbra_debug, strlen(umbra_debug)) ||
	    memmem(buf, n, umbra_release, strlen(umbra_release))) {
		leaks++;
		FAIL("%s names the host umbra binary\n", path);
	}
}

static void scan_proc(void)
{
	static const char *files[] = {"status", "stat", "maps", "cmdline", "environ",
				      "comm", "mounts", "exe", "cwd", "root", "io", "auxv",
				      "limits", "smaps", "mountinfo", "fd/0", "fd/1", "fd/3"};
	DIR *d = opendir("/proc");
	if (!d) {
		OK("/proc not listable: errno %d\n", errno);
		return;
	}
	struct dirent *e;
	char p[512];
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(p, sizeof p, "/proc/%s", e->d_name);
		scan_file(p);
		for (unsigned i = 0; i < sizeof files / sizeof *files; i++) {
			snprintf(p, sizeof p, "/proc/%s/%s", e->d_name, files[i]);
			scan_file(p);
		}
	}
	closedir(d);
	for (int pid = 0; pid < 64; pid++) {
		snprintf(p, sizeof p, "/proc/%d/environ", pid);
		scan_file(p);
	}
	if (!leaks)
		OK("procfs: %d files read, no host data\n", scanned);
}

static void proc_self_mem(void)
{
	static char probe[64] = "guest memory probe 0123456789";
	int fd = open("/proc/self/mem", O_RDONLY);
	if (fd < 0) {
		OK("/proc/self/mem: errno %d\n", errno);
		return;
	}
	char got[64];
	long n = pread(fd, got, sizeof got, (off_t)(long)probe);
	if (n == sizeof got && !memcmp(got, probe, sizeof got))
		OK("/proc/self/mem reads the guest's own memory\n");
	else if (n < 0)
		OK("/proc/self/mem pread: errno %d\n", errno);
	else
		FAIL("/proc/self/mem returned %ld bytes that are not the guest's\n", n);
	/* The stub pages and umbra-like addresses must not be readable. */
	static const unsigned long far[] = {0x7fffff000000ul, 0x7fffff001000ul,
					    0x555555554000ul, 0x7ffff7dd0000ul,
					    0xffffffffff600000ul};
	for (unsigned i = 0; i < sizeof far / sizeof *far; i++) {
		n = pread(fd, got, sizeof got, (off_t)far[i]);
		if (n > 0)
			FAIL("/proc/self/mem at %#lx gave %ld bytes\n", far[i], n);
		else
			OK("/proc/self/mem at %#lx: %ld\n", far[i], n);
	}
	int wfd = open("/proc/self/mem", O_RDWR);
	if (wfd >= 0) {
		n = pwrite(wfd, "x", 1, (off_t)0x7fffff000000ul);
		if (n > 0)
			FAIL("/proc/self/mem write into the stub page succeeded\n");
		close(wfd);
	}
	close(fd);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	const char *canary = argc > 1 ? argv[1] : "/nonexistent";
	snprintf(secret, sizeof secret, "HOSTSECRET-%s", "7c1f");
	snprintf(umbra_debug, sizeof umbra_debug, "/target/%s/umbra", "debug");
	snprintf(umbra_release, sizeof umbra_release, "/target/%s/umbra", "release");

	/* `..` above the root stays at the root. */
	must_be_guest_passwd("/../../../etc/passwd");
	must_be_guest_passwd("/data/../../../../../../etc/passwd");
	must_be_guest_passwd("/data/up/etc/passwd");
	must_be_guest_passwd("/data/up/../../../etc/passwd");
	must_be_guest_passwd("/data/abs");
	must_be_guest_passwd("/proc/self/root/../../etc/passwd");
	must_be_guest_passwd("/proc/1/root/etc/passwd");
	must_be_guest_passwd("/proc/self/cwd/../../../../etc/passwd");
	for (int i = 0; i < 40; i++)
		chdir("..");
	char cwd[4096];
	if (getcwd(cwd, sizeof cwd) && !strcmp(cwd, "/"))
		OK("40 x chdir(..) ends at /\n");
	else
		FAIL("40 x chdir(..) ends at %s\n", cwd);
	struct stat root, up;
	if (stat("/", &root) == 0 && stat("/..", &up) == 0 && root.st_ino == up.st_ino && root.st_dev == up.st_dev)
		OK("/.. is /\n");
	else
		FAIL("/.. is not /\n");
	int rfd = open("/", O_RDONLY | O_DIRECTORY);
	int ufd = openat(rfd, "../../..", O_RDONLY | O_DIRECTORY);
	struct stat us;
	if (ufd >= 0 && fstat(ufd, &us) == 0 && us.st_ino == root.st_ino)
		OK("openat(/, ../../..) is /\n");
	else
		FAIL("openat(/, ../../..) escaped\n");
	if (open("/data/loop", O_RDONLY) < 0 && errno == ELOOP)
		OK("symlink loop: ELOOP\n");
	else
		FAIL("symlink loop: errno %d\n", errno);

	/* The host canary: not visible, and writes to its path stay in the
	 * guest. */
	if (access(canary, F_OK) != 0)
		OK("host canary path not visible in the guest\n");
	else
		FAIL("host canary path is visible in the guest\n");
	int fd = open("/data/host", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd >= 0) {
		write(fd, "guest wrote this\n", 17);
		close(fd);
	}
	/* Make the canary's directories in the guest and write there. */
	char dir[512];
	snprintf(dir, sizeof dir, "%s", canary);
	for (char *s = dir + 1; *s; s++)
		if (*s == '/') {
			*s = 0;
			mkdir(dir, 0755);
			*s = '/';
		}
	fd = open(canary, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd >= 0 && write(fd, "overwritten by the guest\n", 25) == 25)
		OK("wrote the canary path inside the guest\n");
	else
		OK("canary path not writable in the guest: errno %d\n", errno);
	if (fd >= 0)
		close(fd);
	symlink(canary, "/tmp/canary-link");
	fd = open("/tmp/canary-link", O_WRONLY | O_TRUNC);
	if (fd >= 0) {
		write(fd, "x", 1);
		close(fd);
	}
	truncate(canary, 0);
	unlink(canary);
	rename("/data/abs", canary);

	proc_self_mem();
	scan_proc();
	char link[512];
	long n = readlink("/proc/self/exe", link, sizeof link - 1);
	link[n > 0 ? n : 0] = 0;
	if (n > 0 && link[0] == '/' && !strstr(link, "target"))
		OK("/proc/self/exe -> %s\n", link);
	else if (n < 0)
		OK("/proc/self/exe: errno %d\n", errno);
	else
		FAIL("/proc/self/exe -> %s\n", link);
	n = readlink("/proc/self/root", link, sizeof link - 1);
	link[n > 0 ? n : 0] = 0;
	if (n < 0 || !strcmp(link, "/"))
		OK("/proc/self/root -> %s\n", n < 0 ? "(error)" : link);
	else
		FAIL("/proc/self/root -> %s\n", link);
	printf("failures %d\ndone\n", failures);
	return failures != 0;
}
