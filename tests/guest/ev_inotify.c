/* ev_inotify: inotify for changes made by the program itself: the events of
 * a watched directory's entries (with their names) and of watched files,
 * rename cookies, IN_DELETE_SELF/IN_MOVE_SELF/IN_IGNORED, IN_ONESHOT,
 * IN_ONLYDIR, IN_MASK_ADD/IN_MASK_CREATE, merging of equal events, name
 * padding, FIONREAD, IN_Q_OVERFLOW, the errors of the calls, and a blocking
 * read woken by a child. Arguments name sections (all if none). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "common.h"

static const char *en(int e)
{
	if (e == EAGAIN)
		return "EAGAIN";
	return errname(e);
}

static long show(const char *what, long r)
{
	if (r < 0)
		printf("%s: -1 %s\n", what, en(errno));
	else
		printf("%s: %ld\n", what, r);
	return r;
}

static const struct {
	uint32_t bit;
	const char *name;
} bits[] = {
	{ IN_ACCESS, "ACCESS" }, { IN_MODIFY, "MODIFY" }, { IN_ATTRIB, "ATTRIB" },
	{ IN_CLOSE_WRITE, "CLOSE_WRITE" }, { IN_CLOSE_NOWRITE, "CLOSE_NOWRITE" },
	{ IN_OPEN, "OPEN" }, { IN_MOVED_FROM, "MOVED_FROM" }, { IN_MOVED_TO, "MOVED_TO" },
	{ IN_CREATE, "CREATE" }, { IN_DELETE, "DELETE" }, { IN_DELETE_SELF, "DELETE_SELF" },
	{ IN_MOVE_SELF, "MOVE_SELF" }, { IN_UNMOUNT, "UNMOUNT" }, { IN_Q_OVERFLOW, "Q_OVERFLOW" },
	{ IN_IGNORED, "IGNORED" }, { IN_ISDIR, "ISDIR" }, { 0, NULL },
};

static uint32_t last_cookie;

/* Reads and prints every queued event; wds are printed as given. */
static int drain(int fd)
{
	char buf[8192] __attribute__((aligned(8)));
	int total = 0;
	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		if (poll(&p, 1, 0) != 1)
			break;
		long n = read(fd, buf, sizeof buf);
		if (n <= 0)
			break;
		for (char *at = buf; at < buf + n;) {
			struct inotify_event *e = (struct inotify_event *)at;
			printf("  wd %d", e->wd);
			for (int i = 0; bits[i].name; i++)
				if (e->mask & bits[i].bit)
					printf(" %s", bits[i].name);
			if (e->cookie) {
				printf(" cookie %s", e->cookie == last_cookie ? "same" : "new");
				last_cookie = e->cookie;
			}
			if (e->len)
				printf(" name %s (len %u)", e->name, e->len);
			printf("\n");
			at += sizeof *e + e->len;
			total++;
		}
	}
	return total;
}

static void touch(const char *p)
{
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	close(fd);
}

static void test_errors(void)
{
	show("init1 bad flags", inotify_init1(0x1));
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	printf("init1: %d\n", fd >= 0);
	int fl = fcntl(fd, F_GETFL);
	printf("flags: rdonly %d nonblock %d cloexec %d\n", (fl & O_ACCMODE) == O_RDONLY,
	       !!(fl & O_NONBLOCK), fcntl(fd, F_GETFD) & FD_CLOEXEC);
	mkdir("ino_e", 0755);
	touch("ino_e/f");
	show("mask 0", inotify_add_watch(fd, "ino_e", 0));
	show("add and create", inotify_add_watch(fd, "ino_e", IN_CREATE | IN_MASK_ADD | IN_MASK_CREATE));
	show("missing", inotify_add_watch(fd, "ino_e/none", IN_CREATE));
	show("onlydir on a file", inotify_add_watch(fd, "ino_e/f", IN_MODIFY | IN_ONLYDIR));
	int p[2];
	pipe(p);
	show("on a pipe", inotify_add_watch(p[0], "ino_e", IN_CREATE));
	show("rm on a pipe", inotify_rm_watch(p[0], 1));
	show("on fd 999", inotify_add_watch(999, "ino_e", IN_CREATE));
	close(p[0]);
	close(p[1]);
	int d = inotify_add_watch(fd, "ino_e", IN_CREATE | IN_ONLYDIR);
	printf("first wd: %d\n", d);
	show("same inode again", inotify_add_watch(fd, "ino_e/.", IN_DELETE) == d);
	show("mask create on it", inotify_add_watch(fd, "ino_e", IN_DELETE | IN_MASK_CREATE));
	int f = inotify_add_watch(fd, "ino_e/f", IN_ATTRIB);
	printf("second wd: %d\n", f);
	show("rm bad wd", inotify_rm_watch(fd, 77));
	char small[8];
	show("read empty", read(fd, small, sizeof small));
	show("rm", inotify_rm_watch(fd, f));
	show("read 8 bytes", read(fd, small, sizeof small));
	show("write", write(fd, "x", 1));
	int n = 0;
	show("FIONREAD", ioctl(fd, FIONREAD, &n));
	printf("bytes: %d\n", n);
	drain(fd);
	show("rm again", inotify_rm_watch(fd, f));
	/* The mask was replaced by IN_DELETE: a creation is not reported. */
	touch("ino_e/g");
	unlink("ino_e/g");
	drain(fd);
	close(fd);
	unlink("ino_e/f");
	rmdir("ino_e");
}

static void test_dir(void)
{
	int fd = inotify_init1(IN_NONBLOCK);
	mkdir("ino_d", 0755);
	mkdir("ino_d2", 0755);
	int d = inotify_add_watch(fd, "ino_d", IN_ALL_EVENTS);
	int d2 = inotify_add_watch(fd, "ino_d2", IN_MOVED_TO | IN_CREATE);
	printf("wds: %d %d\n", d, d2);
	printf("-- create, write twice, close\n");
	int f = open("ino_d/a", O_WRONLY | O_CREAT, 0644);
	write(f, "hello", 5);
	write(f, "hello", 5);
	close(f);
	drain(fd);
	printf("-- read\n");
	f = open("ino_d/a", O_RDONLY);
	char b[8];
	read(f, b, 2);
	close(f);
	drain(fd);
	printf("-- chmod, truncate, utimes\n");
	chmod("ino_d/a", 0600);
	truncate("ino_d/a", 1);
	utimensat(AT_FDCWD, "ino_d/a", NULL, 0);
	drain(fd);
	printf("-- mkdir, symlink, link, mknod\n");
	mkdir("ino_d/sub", 0755);
	symlink("a", "ino_d/sym");
	link("ino_d/a", "ino_d/hard");
	mknod("ino_d/fifo", S_IFIFO | 0644, 0);
	drain(fd);
	printf("-- rename within, to the other directory\n");
	rename("ino_d/hard", "ino_d/hard2");
	rename("ino_d/hard2", "ino_d2/moved");
	drain(fd);
	printf("-- unlink, rmdir\n");
	unlink("ino_d/sym");
	unlink("ino_d/fifo");
	rmdir("ino_d/sub");
	unlink("ino_d2/moved");
	drain(fd);
	printf("-- opendir\n");
	f = open("ino_d", O_RDONLY | O_DIRECTORY);
	close(f);
	drain(fd);
	unlink("ino_d/a");
	drain(fd);
	printf("-- rmdir the watched directory\n");
	rmdir("ino_d");
	drain(fd);
	rmdir("ino_d2");
	drain(fd);
	close(fd);
}

static void test_self(void)
{
	int fd = inotify_init1(IN_NONBLOCK);
	mkdir("ino_s", 0755);
	touch("ino_s/f");
	touch("ino_s/g");
	int d = inotify_add_watch(fd, "ino_s", IN_DELETE | IN_ATTRIB | IN_MOVED_FROM | IN_MOVED_TO);
	int f = inotify_add_watch(fd, "ino_s/f", IN_ALL_EVENTS);
	int g = inotify_add_watch(fd, "ino_s/g", IN_MOVE_SELF | IN_MODIFY | IN_ONESHOT);
	printf("wds: %d %d %d\n", d, f, g);
	printf("-- file and directory both watched\n");
	chmod("ino_s/f", 0600);
	drain(fd);
	printf("-- oneshot\n");
	int h = open("ino_s/g", O_WRONLY);
	write(h, "x", 1);
	write(h, "y", 1);
	close(h);
	drain(fd);
	show("rm after oneshot", inotify_rm_watch(fd, g));
	printf("-- move self\n");
	g = inotify_add_watch(fd, "ino_s/g", IN_MOVE_SELF);
	rename("ino_s/g", "ino_s/g2");
	drain(fd);
	printf("-- mask add\n");
	inotify_add_watch(fd, "ino_s/g2", IN_ATTRIB | IN_MASK_ADD);
	chmod("ino_s/g2", 0600);
	rename("ino_s/g2", "ino_s/g");
	drain(fd);
	printf("-- rename over a watched file\n");
	rename("ino_s/g", "ino_s/f");
	drain(fd);
	printf("-- unlink\n");
	unlink("ino_s/f");
	drain(fd);
	rmdir("ino_s");
	drain(fd);
	close(fd);
}

static void test_names(void)
{
	int fd = inotify_init1(IN_NONBLOCK);
	mkdir("ino_n", 0755);
	inotify_add_watch(fd, "ino_n", IN_CREATE);
	touch("ino_n/x");
	touch("ino_n/fifteen_chars_x");
	touch("ino_n/sixteen_chars_xy");
	int n = 0;
	ioctl(fd, FIONREAD, &n);
	printf("FIONREAD: %d\n", n);
	char buf[40];
	show("read 40 bytes", read(fd, buf, sizeof buf));
	show("read 31 bytes", read(fd, buf, 31));
	drain(fd);
	unlink("ino_n/x");
	unlink("ino_n/fifteen_chars_x");
	unlink("ino_n/sixteen_chars_xy");
	rmdir("ino_n");
	close(fd);
}

static void test_overflow(void)
{
	int fd = inotify_init1(IN_NONBLOCK);
	touch("ino_o");
	inotify_add_watch(fd, "ino_o", IN_ATTRIB | IN_MODIFY);
	int f = open("ino_o", O_WRONLY);
	for (int i = 0; i < 8300; i++) {
		write(f, "x", 1);
		fchmod(f, 0600 | (i & 1) << 2);
	}
	close(f);
	char buf[4096] __attribute__((aligned(8)));
	long count = 0, overflow = 0, last = 0;
	for (;;) {
		long n = read(fd, buf, sizeof buf);
		if (n <= 0)
			break;
		for (char *at = buf; at < buf + n;) {
			struct inotify_event *e = (struct inotify_event *)at;
			count++;
			if (e->mask & IN_Q_OVERFLOW) {
				overflow++;
				last = e->wd;
			}
			at += sizeof *e + e->len;
		}
	}
	printf("events %ld overflow %ld wd %ld\n", count, overflow, last);
	unlink("ino_o");
	close(fd);
}

static void test_block(void)
{
	int fd = inotify_init();
	mkdir("ino_b", 0755);
	inotify_add_watch(fd, "ino_b", IN_CREATE);
	pid_t c = fork();
	if (c == 0) {
		usleep(20000);
		touch("ino_b/new");
		_exit(0);
	}
	char buf[256] __attribute__((aligned(8)));
	long n = read(fd, buf, sizeof buf);
	struct inotify_event *e = (struct inotify_event *)buf;
	printf("blocking read: %ld mask %#x name %s\n", n, e->mask, e->name);
	waitpid(c, NULL, 0);
	struct pollfd p = { fd, POLLIN, 0 };
	c = fork();
	if (c == 0) {
		usleep(20000);
		unlink("ino_b/new");
		touch("ino_b/new2");
		_exit(0);
	}
	printf("poll: %d\n", poll(&p, 1, -1));
	waitpid(c, NULL, 0);
	n = read(fd, buf, sizeof buf);
	printf("read: %ld name %s\n", n, e->name);
	unlink("ino_b/new2");
	rmdir("ino_b");
	close(fd);
}

struct section {
	const char *name;
	void (*fn)(void);
};

static const struct section sections[] = {
	{ "errors", test_errors },
	{ "dir", test_dir },
	{ "self", test_self },
	{ "names", test_names },
	{ "overflow", test_overflow },
	{ "block", test_block },
	{ NULL, NULL },
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
