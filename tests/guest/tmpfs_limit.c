/* tmpfs_limit.c: a tmpfs's size (issue: tmpfs was unbounded).
 *
 * "own": mounts tmpfs instances of its own (natively in a mount namespace
 * of its own) and prints what does not depend on the machine: statfs's
 * figures of a size=256k,nr_inodes=16 mount and its mountinfo options;
 * writing until ENOSPC (how much went in), creating files until ENOSPC
 * (how many), the figures when full and after everything is removed, and
 * that the file system takes data again; that a default mount is half of
 * the memory sysinfo reports and size=1% one hundredth of it; bad options.
 *
 * "fill" (umbra only: natively /tmp is the machine's): fills /tmp, then
 * three more default tmpfs mounts, until ENOSPC; checks each stops at its
 * statfs size, that together they stay within the memory sysinfo reports,
 * and that after removing the files /tmp takes data again. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "common.h"

static char chunk[65536];

/* Writes `path` until an error; returns the bytes written, errno in *err. */
static uint64_t fill(const char *path, int *err)
{
	uint64_t total = 0;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0) {
		*err = errno;
		return 0;
	}
	*err = 0;
	for (;;) {
		ssize_t n = write(fd, chunk, sizeof chunk);
		if (n < 0) {
			*err = errno;
			break;
		}
		if (n == 0)
			break;
		total += (uint64_t)n;
	}
	close(fd);
	return total;
}

static void figures(const char *what, const char *path)
{
	struct statfs s;
	if (statfs(path, &s) != 0) {
		printf("%s: statfs %s\n", what, errname(errno));
		return;
	}
	printf("%s: type=%lx bsize=%ld blocks=%lu bfree=%lu bavail=%lu files=%lu ffree=%lu\n",
	       what, (unsigned long)s.f_type, (long)s.f_bsize, (unsigned long)s.f_blocks,
	       (unsigned long)s.f_bfree, (unsigned long)s.f_bavail, (unsigned long)s.f_files,
	       (unsigned long)s.f_ffree);
}

/* The options mountinfo shows for the mount on `point`. */
static void options(const char *point)
{
	FILE *f = fopen("/proc/self/mountinfo", "r");
	char line[1024];
	while (f && fgets(line, sizeof line, f)) {
		char mp[512], opts[512];
		/* id parent maj:min root point mount-opts ... - type source super-opts */
		if (sscanf(line, "%*s %*s %*s %*s %511s", mp) != 1 || strcmp(mp, point) != 0)
			continue;
		char *dash = strstr(line, " - ");
		if (dash && sscanf(dash, " - %*s %*s %511s", opts) == 1)
			printf("options of %s's mount: %s\n", "the 256k", opts);
	}
	if (f)
		fclose(f);
}

static unsigned long ram_pages(void)
{
	struct sysinfo si;
	sysinfo(&si);
	return (unsigned long)((uint64_t)si.totalram * si.mem_unit / 4096);
}

static int own(void)
{
	if (syscall(SYS_unshare, 0x00020000 /* CLONE_NEWNS */) == 0)
		mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
	char d[64], f[96];
	snprintf(d, sizeof d, "/tmp/tl.%d", (int)getpid());
	mkdir(d, 0700);
	int r = mount("tl", d, "tmpfs", 0, "size=256k,nr_inodes=16");
	printf("mount size=256k,nr_inodes=16: %s\n", r == 0 ? "OK" : errname(errno));
	if (r != 0)
		return 1;
	figures("empty", d);
	options(d);
	snprintf(f, sizeof f, "%s/big", d);
	int err;
	uint64_t n = fill(f, &err);
	printf("wrote %llu bytes, then %s\n", (unsigned long long)n, errname(err));
	figures("full of data", d);
	int files = 0;
	for (;; files++) {
		char p[128];
		snprintf(p, sizeof p, "%s/e%d", d, files);
		int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0600);
		if (fd < 0) {
			printf("made %d empty files, then %s\n", files, errname(errno));
			break;
		}
		close(fd);
	}
	figures("full of files", d);
	unlink(f);
	for (int i = 0; i < files; i++) {
		char p[128];
		snprintf(p, sizeof p, "%s/e%d", d, i);
		unlink(p);
	}
	figures("emptied", d);
	/* Hard links count as inodes (Linux's shmem_link). */
	int fd = open(f, O_WRONLY | O_CREAT, 0600);
	close(fd);
	int links = 0;
	for (;; links++) {
		char p[128];
		snprintf(p, sizeof p, "%s/l%d", d, links);
		if (link(f, p) != 0) {
			printf("made %d hard links, then %s\n", links, errname(errno));
			break;
		}
	}
	figures("full of links", d);
	for (int i = 0; i < links; i++) {
		char p[128];
		snprintf(p, sizeof p, "%s/l%d", d, i);
		unlink(p);
	}
	figures("links removed", d);
	n = fill(f, &err);
	printf("wrote %llu bytes again, then %s\n", (unsigned long long)n, errname(err));
	unlink(f);
	printf("umount: %s\n", umount(d) == 0 ? "OK" : errname(errno));

	unsigned long ram = ram_pages();
	struct statfs s;
	r = mount("tl", d, "tmpfs", 0, NULL);
	if (r == 0 && statfs(d, &s) == 0)
		printf("default size is half of sysinfo's RAM: %s\n",
		       (unsigned long)s.f_blocks == ram / 2 ? "yes" : "no");
	umount(d);
	r = mount("tl", d, "tmpfs", 0, "size=1%");
	if (r == 0 && statfs(d, &s) == 0)
		printf("size=1%% is one hundredth of sysinfo's RAM: %s\n",
		       (unsigned long)s.f_blocks == (ram + 99) / 100 ? "yes" : "no");
	umount(d);
	r = mount("tl", d, "tmpfs", 0, "nr_blocks=3");
	if (r == 0 && statfs(d, &s) == 0)
		printf("nr_blocks=3: blocks=%lu\n", (unsigned long)s.f_blocks);
	umount(d);
	const char *bad[] = {"size=12x", "size=", "nr_blocks=-1"};
	for (unsigned i = 0; i < sizeof bad / sizeof *bad; i++) {
		r = mount("tl", d, "tmpfs", 0, bad[i]);
		printf("mount %s: %s\n", bad[i], r == 0 ? "OK" : errname(errno));
		if (r == 0)
			umount(d);
	}
	rmdir(d);
	return 0;
}

static int fill_all(void)
{
	unsigned long ram = ram_pages();
	struct statfs s;
	if (statfs("/tmp", &s) != 0)
		return 1;
	printf("/tmp: %lu of %lu pages free; RAM %lu pages\n", (unsigned long)s.f_bavail,
	       (unsigned long)s.f_blocks, ram);
	if ((unsigned long)s.f_blocks != ram / 2) {
		printf("/tmp is not half of RAM\n");
		return 1;
	}
	uint64_t sum = 0;
	const char *dirs[] = {"/tmp", "/tmp/m1", "/tmp/m2", "/tmp/m3"};
	for (unsigned i = 0; i < 4; i++) {
		if (i > 0) {
			mkdir(dirs[i], 0700);
			if (mount("tl", dirs[i], "tmpfs", 0, NULL) != 0) {
				printf("mount %s: %s\n", dirs[i], errname(errno));
				return 1;
			}
		}
		struct statfs b;
		statfs(dirs[i], &b);
		char f[64];
		snprintf(f, sizeof f, "%s/fill", dirs[i]);
		int err;
		uint64_t n = fill(f, &err);
		sum += n;
		printf("%s: wrote %llu KiB (statfs said %lu KiB free), then %s\n", dirs[i],
		       (unsigned long long)(n >> 10), (unsigned long)b.f_bavail * 4, errname(err));
		if (err != ENOSPC || n > (uint64_t)b.f_bavail * 4096)
			return 1;
		statfs(dirs[i], &b);
		printf("%s full: %lu pages free\n", dirs[i], (unsigned long)b.f_bavail);
	}
	printf("together %llu KiB, RAM %lu KiB: %s\n", (unsigned long long)(sum >> 10), ram * 4,
	       sum <= (uint64_t)ram * 4096 ? "within" : "beyond");
	if (sum > (uint64_t)ram * 4096)
		return 1;
	for (unsigned i = 4; i-- > 0;) {
		char f[64];
		snprintf(f, sizeof f, "%s/fill", dirs[i]);
		unlink(f);
		if (i > 0) {
			umount(dirs[i]);
			rmdir(dirs[i]);
		}
	}
	statfs("/tmp", &s);
	printf("/tmp emptied: %lu of %lu pages free\n", (unsigned long)s.f_bavail,
	       (unsigned long)s.f_blocks);
	int err;
	uint64_t n = fill("/tmp/again", &err);
	printf("/tmp again: %llu KiB, then %s\n", (unsigned long long)(n >> 10), errname(err));
	unlink("/tmp/again");
	return err == ENOSPC && n > 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	memset(chunk, 'x', sizeof chunk);
	if (argc > 1 && strcmp(argv[1], "own") == 0)
		return own();
	if (argc > 1 && strcmp(argv[1], "fill") == 0)
		return fill_all();
	fprintf(stderr, "usage: tmpfs_limit own|fill\n");
	return 2;
}
