/* mountinfo.c: /proc/self/mountinfo and /proc/self/mounts (issue 15).
 *
 * Natively the program runs in a mount namespace of its own (unshare,
 * then everything private), so the machine's mounts never change under it
 * and no mount has propagation fields; under umbra unshare is refused and
 * the guest's mounts are private already. It prints only what does not
 * depend on the machine: that every mountinfo line has Linux's shape and
 * matches its /proc/self/mounts line, and every field of the mounts it makes
 * itself (a directory name replaced by D, ids by how they relate).
 *
 * A child in a chroot of its own mounts sees only those, relative to it.
 *
 * Sections (argv): format, own. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

#define MAXL 256

static void show(const char *what, int r)
{
	printf("%s: %d %s\n", what, r, r < 0 ? errname(errno) : "OK");
}

struct mi {
	int id, parent;
	unsigned major, minor;
	char root[512], point[512], opts[256], optional[256];
	char fstype[64], source[512], super[512];
};

static char *slurp(const char *path)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return NULL;
	size_t cap = 1 << 16, len = 0;
	char *b = malloc(cap);
	for (;;) {
		if (len + 4096 > cap)
			b = realloc(b, cap *= 2);
		ssize_t n = read(fd, b + len, cap - len - 1);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	b[len] = 0;
	return b;
}

/* Splits `text` into lines (in place); their number. */
static int lines(char *text, char **out)
{
	int n = 0;
	for (char *s = text; *s && n < MAXL;) {
		char *e = strchr(s, '\n');
		if (!e)
			return -1; /* unterminated last line */
		*e = 0;
		out[n++] = s;
		s = e + 1;
	}
	return n;
}

/* One mountinfo line; 0 when it has Linux's shape. */
static int parse_mi(const char *line, struct mi *m)
{
	char rest[2048];
	int used = 0;
	memset(m, 0, sizeof *m);
	if (sscanf(line, "%d %d %u:%u %511s %511s %255s %n", &m->id, &m->parent, &m->major,
		   &m->minor, m->root, m->point, m->opts, &used) != 7)
		return -1;
	snprintf(rest, sizeof rest, "%s", line + used);
	/* Optional fields up to a lone "-". */
	char *sep = strstr(rest, "- ");
	while (sep && sep != rest && sep[-1] != ' ')
		sep = strstr(sep + 1, "- ");
	if (!sep)
		return -1;
	size_t ol = (size_t)(sep - rest);
	if (ol >= sizeof m->optional)
		return -1;
	memcpy(m->optional, rest, ol);
	m->optional[ol] = 0;
	if (ol && m->optional[ol - 1] == ' ')
		m->optional[ol - 1] = 0;
	if (sscanf(sep + 2, "%63s %511s %511s", m->fstype, m->source, m->super) != 3)
		return -1;
	return 0;
}

/* The /proc/mounts options Linux makes of a mountinfo line's two option
 * sets: ro when either says so, the mount's options, the filesystem's. */
static void merged(const struct mi *m, char *out, size_t n)
{
	const char *mo = strchr(m->opts, ',');
	const char *so = strchr(m->super, ',');
	int ro = !strncmp(m->opts, "ro", 2) || !strncmp(m->super, "ro", 2);
	snprintf(out, n, "%s%s%s", ro ? "ro" : "rw", mo ? mo : "", so ? so : "");
}

static void format(void)
{
	printf("== format\n");
	char *mi = slurp("/proc/self/mountinfo");
	char *mt = slurp("/proc/self/mounts");
	if (!mi || !mt) {
		printf("cannot read: %s\n", errname(errno));
		return;
	}
	static char *l1[MAXL], *l2[MAXL];
	static struct mi m[MAXL];
	int n = lines(mi, l1), k = lines(mt, l2);
	printf("lines end in newline: %d\n", n > 0 && k > 0);
	printf("same count as /proc/self/mounts: %d\n", n == k);
	int shape = 1, unique = 1, roots = 0, orphans = 0, consistent = 1, major0 = 1;
	for (int i = 0; i < n; i++) {
		if (parse_mi(l1[i], &m[i])) {
			shape = 0;
			printf("bad line: %s\n", l1[i]);
			continue;
		}
		if (strncmp(m[i].opts, "rw", 2) && strncmp(m[i].opts, "ro", 2))
			shape = 0;
		if (strncmp(m[i].super, "rw", 2) && strncmp(m[i].super, "ro", 2))
			shape = 0;
		if (m[i].root[0] != '/' || m[i].point[0] != '/')
			shape = 0;
	}
	for (int i = 0; i < n; i++) {
		int parent_seen = 0;
		for (int j = 0; j < n; j++) {
			if (j != i && m[j].id == m[i].id)
				unique = 0;
			if (m[j].id == m[i].parent)
				parent_seen = 1;
		}
		if (!strcmp(m[i].point, "/"))
			roots++;
		else if (!parent_seen)
			orphans++;
		if (!strcmp(m[i].fstype, "proc") && m[i].major != 0)
			major0 = 0;
		if (i < k) {
			char src[512], pt[512], ty[64], op[1024];
			int a, b;
			char want[1024];
			merged(&m[i], want, sizeof want);
			if (sscanf(l2[i], "%511s %511s %63s %1023s %d %d", src, pt, ty, op, &a, &b) != 6 ||
			    strcmp(src, m[i].source) || strcmp(pt, m[i].point) ||
			    strcmp(ty, m[i].fstype) || strcmp(op, want) || a || b) {
				consistent = 0;
				printf("differs: %s | %s\n", l1[i], l2[i]);
			}
		}
	}
	printf("every line has mountinfo's fields: %d\n", shape);
	printf("ids unique: %d\n", unique);
	printf("mounts on /: %d\n", roots);
	printf("mounts whose parent is not listed (besides /): %d\n", orphans);
	printf("proc has major 0: %d\n", major0);
	printf("each /proc/self/mounts line matches: %d\n", consistent);
	free(mi);
	free(mt);
}

static uint64_t mnt_id_of(const char *path)
{
	struct {
		uint32_t mask, blksize;
		uint64_t attributes;
		uint32_t nlink, uid, gid;
		uint16_t mode, pad0;
		uint64_t ino, size, blocks, attributes_mask;
		uint64_t times[8];
		uint32_t rdev_major, rdev_minor, dev_major, dev_minor;
		uint64_t mnt_id;
		uint64_t spare[14];
	} sx;
	memset(&sx, 0, sizeof sx);
	if (syscall(SYS_statx, AT_FDCWD, path, 0, 0x1000 /* STATX_MNT_ID */, &sx) < 0 ||
	    !(sx.mask & 0x1000))
		return 0;
	return sx.mnt_id;
}

/* The mountinfo line whose mount point is `point` (escaped), last wins. */
static int find(const char *text, const char *point, struct mi *out)
{
	char *copy = strdup(text);
	static char *l[MAXL];
	int n = lines(copy, l), found = 0;
	for (int i = 0; i < n; i++) {
		struct mi m;
		if (!parse_mi(l[i], &m) && !strcmp(m.point, point)) {
			*out = m;
			found = 1;
		}
	}
	free(copy);
	return found;
}

/* Whether one of the `n` split lines `l` of a mountinfo text is mount `id`. */
static int find_id(int n, char **l, int id)
{
	for (int i = 0; i < n; i++) {
		struct mi m;
		if (!parse_mi(l[i], &m) && m.id == id)
			return 1;
	}
	return 0;
}

/* `s` with every `d` replaced by "D". */
static const char *subst(const char *s, const char *d)
{
	static char out[1024];
	size_t o = 0, dl = strlen(d);
	while (*s && o < sizeof out - 2) {
		if (!strncmp(s, d, dl)) {
			out[o++] = 'D';
			s += dl;
		} else {
			out[o++] = *s++;
		}
	}
	out[o] = 0;
	return out;
}

static void show_mi(const char *what, const struct mi *m, const char *d, int parent_id)
{
	struct stat st;
	char path[600];
	snprintf(path, sizeof path, "%s", m->point);
	/* The mount point unescaped: only "\040" occurs here. */
	char *e = strstr(path, "\\040");
	if (e) {
		*e = ' ';
		memmove(e + 1, e + 4, strlen(e + 4) + 1);
	}
	int st_ok = stat(path, &st) == 0;
	printf("%s: point %s root %s opts %s optional '%s' fstype %s source %s super %s\n", what,
	       subst(m->point, d), m->root, m->opts, m->optional, m->fstype, m->source, m->super);
	printf("%s: parent as expected %d, major %u, device is stat's %d, statx mnt_id is its id %d\n",
	       what, m->parent == parent_id, m->major,
	       st_ok && major(st.st_dev) == m->major && minor(st.st_dev) == m->minor,
	       mnt_id_of(path) == (uint64_t)m->id);
}

static void own(void)
{
	printf("== own\n");
	if (syscall(SYS_unshare, 0x00020000 /* CLONE_NEWNS */) == 0)
		mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
	char d[64], p[80], sp[80], pt[80];
	snprintf(d, sizeof d, "/tmp/mi.%d", (int)getpid());
	snprintf(p, sizeof p, "%s/p", d);
	snprintf(sp, sizeof sp, "%s/a b", d);
	mkdir(d, 0755);
	int under = (int)mnt_id_of(d);
	show("mount tmpfs", mount("mi-src", d, "tmpfs", MS_NOSUID | MS_NODEV, "mode=750,uid=1,gid=2"));
	mkdir(p, 0755);
	mkdir(sp, 0755);
	show("mount proc", mount("mi-proc", p, "proc", MS_NOEXEC, NULL));
	show("mount tmpfs no source", mount(NULL, sp, "tmpfs", 0, "mode=1777"));
	char *mi = slurp("/proc/self/mountinfo");
	struct mi a, b, c;
	snprintf(pt, sizeof pt, "%s/a\\040b", d);
	if (!mi || !find(mi, d, &a) || !find(mi, p, &b) || !find(mi, pt, &c)) {
		printf("own mounts not listed\n");
		return;
	}
	show_mi("tmpfs", &a, d, under);
	show_mi("proc", &b, d, a.id);
	show_mi("spaced", &c, d, a.id);
	/* fdinfo's mnt_id is the same id. */
	int fd = open(d, O_RDONLY | O_DIRECTORY);
	char info[64], *fi;
	snprintf(info, sizeof info, "/proc/self/fdinfo/%d", fd);
	fi = slurp(info);
	char *at = fi ? strstr(fi, "mnt_id:") : NULL;
	printf("fdinfo mnt_id is the id: %d\n", at && atoi(at + 7) == a.id);
	close(fd);
	free(fi);
	/* /proc/self/mounts lists them the same way. */
	char *mt = slurp("/proc/self/mounts");
	static char *l[MAXL];
	int n = mt ? lines(mt, l) : 0;
	for (int i = 0; i < n; i++)
		if (strstr(l[i], d))
			printf("mounts: %s\n", subst(l[i], d));
	free(mt);
	/* Another process's mountinfo is the same table. */
	int pfd[2];
	if (pipe(pfd))
		return;
	pid_t kid = fork();
	if (kid == 0) {
		char x;
		close(pfd[1]);
		read(pfd[0], &x, 1);
		_exit(0);
	}
	snprintf(info, sizeof info, "/proc/%d/mountinfo", (int)kid);
	char *theirs = slurp(info);
	printf("/proc/PID/mountinfo of a child is the same: %d\n", theirs && !strcmp(theirs, mi));
	free(theirs);
	close(pfd[1]);
	waitpid(kid, NULL, 0);
	/* A process in a chroot sees the mounts beneath its root, their mount
	 * points relative to it; not the one its root is in. */
	kid = fork();
	if (kid == 0) {
		if (chroot(d) || chdir("/"))
			_exit(1);
		char *in = slurp("/p/self/mountinfo");
		char *im = slurp("/p/self/mounts");
		static char *cl[MAXL];
		int cn = in ? lines(in, cl) : 0;
		for (int i = 0; i < cn; i++) {
			struct mi m;
			if (!parse_mi(cl[i], &m))
				printf("chroot: %s %s %s, parent listed %d\n", m.point, m.root, m.fstype,
				       m.parent != m.id && find_id(cn, cl, m.parent));
		}
		static char *ml[MAXL];
		printf("chroot: /proc/self/mounts lines %d\n", im ? lines(im, ml) : -1);
		_exit(0);
	}
	waitpid(kid, NULL, 0);
	show("umount proc", umount(p));
	free(mi);
	mi = slurp("/proc/self/mountinfo");
	printf("gone from mountinfo after umount: %d\n", mi && !find(mi, p, &b));
	free(mi);
	show("umount spaced", umount(sp));
	show("umount tmpfs", umount(d));
	rmdir(d);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "format"))
			format();
		else if (!strcmp(argv[i], "own"))
			own();
		else
			printf("unknown section %s\n", argv[i]);
	}
	return 0;
}
