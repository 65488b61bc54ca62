/* Pty control (issue 15's last pty deviations): a slave opened without
 * O_NOCTTY becomes the controlling terminal of a session leader that has
 * none (tty_open_proc_set_tty); job-control and pty requests made on the
 * master (tty_jobctrl_ioctl with real_tty the slave, pty_unix98_ioctl);
 * packet mode (TIOCPKT); and devpts mounts (a new instance per mount,
 * /dev/ptmx taking its ptys from the devpts at /dev/pts).
 *
 * Every check runs in a child that makes its own session (or not) first,
 * so the run's own controlling terminal, if any, plays no part. Output is
 * deterministic: children run one at a time, and the master is polled
 * before each read (Linux moves pty data in a worker).
 *
 * Sections (argv): ctty, master, pkt, devpts (root: it mounts devpts;
 * natively in a mount namespace of its own). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "common.h"

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif
#ifndef TIOCSIG
#define TIOCSIG _IOW('T', 0x36, int)
#endif
#ifndef TIOCGPKT
#define TIOCGPKT _IOR('T', 0x38, int)
#endif

static const char *en(int e)
{
	switch (e) {
	case EIO: return "EIO";
	case ENXIO: return "ENXIO";
	case ESRCH: return "ESRCH";
	case EAGAIN: return "EAGAIN";
	default: return errname(e);
	}
}

/* "what: r" or "what: -1 ERRNO". */
static int say(const char *what, int r)
{
	if (r < 0)
		printf("%s: -1 %s\n", what, en(errno));
	else
		printf("%s: %d\n", what, r);
	return r;
}

static int master(char *path, size_t len)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY);
	if (m < 0) {
		printf("posix_openpt: %s\n", en(errno));
		exit(1);
	}
	grantpt(m);
	unlockpt(m);
	snprintf(path, len, "%s", ptsname(m));
	return m;
}

/* The session id the master's slave belongs to, -1 ERRNO if none. */
static void master_sid(const char *what, int m, pid_t expect)
{
	pid_t sid = -2;
	int r = ioctl(m, TIOCGSID, &sid);
	if (r < 0)
		printf("%s: sid -1 %s\n", what, en(errno));
	else
		printf("%s: sid %s\n", what, sid == expect ? "expected" : "other");
}

static void wait_child(const char *what, pid_t pid)
{
	int st;
	waitpid(pid, &st, 0);
	if (WIFEXITED(st))
		printf("%s: exit %d\n", what, WEXITSTATUS(st));
	else
		printf("%s: signal %d\n", what, WTERMSIG(st));
}

/* ---- ctty ---- */

static void sec_ctty(void)
{
	char p1[64], p2[64];
	int m1 = master(p1, sizeof p1), m2 = master(p2, sizeof p2);
	master_sid("fresh slave", m1, 0);

	/* A session leader with no terminal opens a slave: it becomes its
	 * controlling terminal, its group in the foreground. */
	pid_t c = fork();
	if (c == 0) {
		setsid();
		int s = open(p1, O_RDWR);
		pid_t sid = -1;
		say("leader opens slave", s >= 0 ? 0 : -1);
		say("TIOCGSID on it", ioctl(s, TIOCGSID, &sid));
		printf("sid is mine %d, tcgetpgrp is mine %d\n", sid == getpid(),
		       tcgetpgrp(s) == getpid());
		int t = open("/dev/tty", O_RDWR);
		say("/dev/tty opens", t >= 0 ? 0 : -1);
		/* It has one now: a second slave does not become one. */
		int s2 = open(p2, O_RDWR);
		say("second slave opens", s2 >= 0 ? 0 : -1);
		say("TIOCGSID on the second", ioctl(s2, TIOCGSID, &sid));
		/* A child, not a leader, opening the second: nothing either. */
		pid_t g = fork();
		if (g == 0) {
			int s3 = open(p2, O_RDWR);
			say("non-leader opens second", s3 >= 0 ? 0 : -1);
			_exit(0);
		}
		waitpid(g, NULL, 0);
		/* Another session leader opening the first (someone else's
		 * controlling terminal): not taken. */
		g = fork();
		if (g == 0) {
			setsid();
			int s4 = open(p1, O_RDWR);
			say("other leader opens a taken slave", s4 >= 0 ? 0 : -1);
			int t4 = open("/dev/tty", O_RDWR);
			say("its /dev/tty", t4);
			_exit(0);
		}
		waitpid(g, NULL, 0);
		_exit(0);
	}
	wait_child("leader", c);
	master_sid("first after the leader exited", m1, 0);
	master_sid("second", m2, 0);

	/* O_NOCTTY, or write-only: no controlling terminal. */
	c = fork();
	if (c == 0) {
		setsid();
		int s = open(p1, O_RDWR | O_NOCTTY);
		say("O_NOCTTY open", s >= 0 ? 0 : -1);
		say("its /dev/tty", open("/dev/tty", O_RDWR));
		int w = open(p2, O_WRONLY);
		say("write-only open", w >= 0 ? 0 : -1);
		say("its /dev/tty", open("/dev/tty", O_RDWR));
		/* TIOCSCTTY on the write-only slave: root may (CAP_SYS_ADMIN). */
		say("TIOCSCTTY write-only as root", ioctl(w, TIOCSCTTY, 0));
		/* Now it has one: TIOCSCTTY of another is EPERM. */
		say("TIOCSCTTY of a second", ioctl(s, TIOCSCTTY, 0));
		_exit(0);
	}
	wait_child("noctty", c);

	/* A leader whose ctty closed: the terminal stays its ctty. */
	c = fork();
	if (c == 0) {
		setsid();
		int s = open(p1, O_RDWR);
		close(s);
		say("/dev/tty after the slave fd closed", open("/dev/tty", O_RDWR) >= 0 ? 0 : -1);
		master_sid("still its ctty", m1, getpid());
		_exit(0);
	}
	wait_child("closed", c);
	close(m1);
	close(m2);
}

/* ---- master ---- */

static volatile sig_atomic_t got;
static void on_sig(int sig) { got = sig; }

static void sec_master(void)
{
	char path[64];
	int m = master(path, sizeof path);
	pid_t pg = -2;
	say("TIOCGPGRP on master, no session", ioctl(m, TIOCGPGRP, &pg));
	printf("pgrp %d\n", pg);
	master_sid("TIOCGSID on master, no session", m, 0);
	pg = getpid();
	say("TIOCSPGRP on master, no ctty", ioctl(m, TIOCSPGRP, &pg));
	say("TIOCNOTTY on master", ioctl(m, TIOCNOTTY));
	say("TIOCSIG SIGINT, no foreground", ioctl(m, TIOCSIG, SIGINT));
	say("TIOCSIG SIGKILL", ioctl(m, TIOCSIG, SIGKILL));
	say("TIOCGPTN on slave", ({
		int s = open(path, O_RDWR | O_NOCTTY);
		int n;
		int r = ioctl(s, TIOCGPTN, &n);
		close(s);
		r;
	}));

	/* Not a session leader: TIOCSCTTY on the master is EPERM. */
	pid_t c = fork();
	if (c == 0) {
		say("TIOCSCTTY on master, not a leader", ioctl(m, TIOCSCTTY, 0));
		_exit(0);
	}
	wait_child("non-leader", c);

	int sync[2];
	pipe(sync);
	c = fork();
	if (c == 0) {
		setsid();
		say("TIOCSCTTY on master, leader", ioctl(m, TIOCSCTTY, 0));
		master_sid("then TIOCGSID on master", m, getpid());
		pg = -2;
		ioctl(m, TIOCGPGRP, &pg);
		printf("master's pgrp is mine %d\n", pg == getpid());
		int t = open("/dev/tty", O_RDWR);
		pid_t sid = -1;
		ioctl(t, TIOCGSID, &sid);
		printf("/dev/tty is the slave: sid is mine %d\n", sid == getpid());
		say("TIOCNOTTY on master, leader", ioctl(m, TIOCNOTTY));
		say("TIOCSCTTY on master again", ioctl(m, TIOCSCTTY, 0));
		pg = -5;
		say("TIOCSPGRP negative", ioctl(m, TIOCSPGRP, &pg));
		pg = 99999;
		say("TIOCSPGRP no such group", ioctl(m, TIOCSPGRP, &pg));
		/* A child in a group of its own, put in the foreground from
		 * the master, then signalled through it. */
		pid_t g = fork();
		if (g == 0) {
			setpgid(0, 0);
			pause();
			_exit(0);
		}
		setpgid(g, g);
		pg = g;
		say("TIOCSPGRP on master", ioctl(m, TIOCSPGRP, &pg));
		pg = -2;
		ioctl(m, TIOCGPGRP, &pg);
		printf("master's pgrp is the child's %d\n", pg == g);
		say("TIOCSIG SIGINT", ioctl(m, TIOCSIG, SIGINT));
		wait_child("foreground child", g);
		/* Back to the leader's group; SIGINT handled. */
		signal(SIGTTOU, SIG_IGN);
		pg = getpid();
		say("TIOCSPGRP back", ioctl(m, TIOCSPGRP, &pg));
		signal(SIGTSTP, on_sig);
		say("TIOCSIG SIGTSTP to myself", ioctl(m, TIOCSIG, SIGTSTP));
		printf("got %d\n", got);
		_exit(0);
	}
	wait_child("leader", c);

	/* From outside the session: get works, set does not. */
	c = fork();
	if (c == 0) {
		setsid();
		int s = open(path, O_RDWR);
		(void)s;
		write(sync[1], "x", 1);
		pause();
		_exit(0);
	}
	char b;
	read(sync[0], &b, 1);
	pg = -2;
	say("TIOCGPGRP from outside", ioctl(m, TIOCGPGRP, &pg));
	printf("is the leader's %d\n", pg == c);
	master_sid("TIOCGSID from outside", m, c);
	pg = getpgrp();
	say("TIOCSPGRP from outside", ioctl(m, TIOCSPGRP, &pg));
	kill(c, SIGKILL);
	wait_child("outside", c);

	/* The master's own queues. */
	int s = open(path, O_RDWR | O_NOCTTY);
	write(s, "abc", 3);
	struct pollfd p = {.fd = m, .events = POLLIN};
	poll(&p, 1, 5000);
	int n = -1;
	say("FIONREAD on master", ioctl(m, FIONREAD, &n));
	printf("pending %d\n", n);
	say("TCFLSH TCIFLUSH on master", ioctl(m, TCFLSH, TCIFLUSH));
	n = -1;
	ioctl(m, FIONREAD, &n);
	printf("pending after %d\n", n);
	say("TCFLSH bad", ioctl(m, TCFLSH, 7));
	close(s);
	close(m);
}

/* ---- pkt ---- */

/* Polls the master, then reads it once; prints the bytes. */
static void pkt_read(const char *what, int m)
{
	struct pollfd p = {.fd = m, .events = POLLIN | POLLPRI};
	int r = poll(&p, 1, 5000);
	unsigned char buf[64];
	ssize_t n = read(m, buf, sizeof buf);
	printf("%s: poll %d in %d pri %d read %zd:", what, r, !!(p.revents & POLLIN),
	       !!(p.revents & POLLPRI), n);
	for (ssize_t i = 0; i < n; i++)
		printf(buf[i] >= 32 && buf[i] < 127 ? " %c" : " \\x%02x", buf[i]);
	printf("\n");
}

static void sec_pkt(void)
{
	char path[64];
	int m = master(path, sizeof path);
	int s = open(path, O_RDWR | O_NOCTTY);
	int v = -1, one = 1, zero = 0;
	ioctl(m, TIOCGPKT, &v);
	printf("TIOCGPKT %d\n", v);
	say("TIOCPKT 1", ioctl(m, TIOCPKT, &one));
	ioctl(m, TIOCGPKT, &v);
	printf("TIOCGPKT %d\n", v);
	say("TIOCPKT on slave", ioctl(s, TIOCPKT, &one));
	say("TIOCGPKT on slave", ioctl(s, TIOCGPKT, &v));
	write(s, "hi", 2);
	pkt_read("data", m);
	tcflush(s, TCIFLUSH);
	pkt_read("TCIFLUSH", m);
	tcflush(s, TCOFLUSH);
	pkt_read("TCOFLUSH", m);
	tcflush(s, TCIOFLUSH);
	pkt_read("TCIOFLUSH", m);
	tcflow(s, TCOOFF);
	pkt_read("TCOOFF", m);
	tcflow(s, TCOON);
	pkt_read("TCOON", m);
	struct termios t;
	tcgetattr(s, &t);
	t.c_iflag &= ~IXON;
	tcsetattr(s, TCSANOW, &t);
	pkt_read("IXON off", m);
	t.c_iflag |= IXON;
	tcsetattr(s, TCSAFLUSH, &t);
	pkt_read("IXON on, TCSAFLUSH", m);
	/* ^C typed: isig flushes both ways, then its echo comes as data. */
	write(m, "\x03", 1);
	pkt_read("^C status", m);
	pkt_read("^C echo", m);
	/* ^S and ^Q typed: output stops and starts. */
	write(m, "\x13", 1);
	pkt_read("^S", m);
	write(m, "\x11", 1);
	pkt_read("^Q", m);
	/* Two changes before a read come as one byte. */
	tcflow(s, TCOOFF);
	tcflush(s, TCIFLUSH);
	pkt_read("stop and flush", m);
	tcflow(s, TCOON);
	pkt_read("start", m);
	/* Turning it off drops nothing of the data, but the status goes. */
	write(s, "z", 1);
	say("TIOCPKT 0", ioctl(m, TIOCPKT, &zero));
	pkt_read("plain", m);
	close(s);
	close(m);
}

/* ---- devpts ---- */

static void mountinfo_of(const char *point)
{
	FILE *f = fopen("/proc/self/mountinfo", "r");
	char line[1024], last[1024] = "";
	while (f && fgets(line, sizeof line, f)) {
		char mp[512];
		if (sscanf(line, "%*d %*d %*u:%*u %*s %511s", mp) == 1 && !strcmp(mp, point))
			snprintf(last, sizeof last, "%s", line);
	}
	if (f)
		fclose(f);
	/* After the mount point: no ids, no directory names. */
	char *at = strstr(last, point);
	printf("mountinfo:%s", at ? at + strlen(point) : " none\n");
}

static void list(const char *dir)
{
	DIR *d = opendir(dir);
	char names[32][256];
	int n = 0;
	struct dirent *e;
	while (d && (e = readdir(d)) && n < 32)
		if (e->d_name[0] != '.')
			snprintf(names[n++], 256, "%s", e->d_name);
	if (d)
		closedir(d);
	qsort(names, n, 256, (int (*)(const void *, const void *))strcmp);
	printf("%s:", dir);
	for (int i = 0; i < n; i++)
		printf(" %s", names[i]);
	printf("\n");
}

static void node(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		printf("%s: %s\n", path, en(errno));
		return;
	}
	printf("%s: %s %u:%u mode %03o gid %u\n", path, S_ISCHR(st.st_mode) ? "chr" : "other",
	       major(st.st_rdev), minor(st.st_rdev), st.st_mode & 07777, st.st_gid);
}

static int ptn(int m)
{
	int n = -1;
	ioctl(m, TIOCGPTN, &n);
	return n;
}

static void sec_devpts(void)
{
	/* Natively: a mount namespace of our own (umbra's mounts are
	 * private already and it refuses unshare). */
	if (unshare(CLONE_NEWNS) == 0)
		mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
	say("mount devpts", mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
				  "gid=5,mode=620,ptmxmode=666,newinstance"));
	mountinfo_of("/dev/pts");
	list("/dev/pts");
	node("/dev/pts/ptmx");
	int m = open("/dev/ptmx", O_RDWR | O_NOCTTY);
	printf("/dev/ptmx: pty %d, ptsname %s\n", ptn(m), ptsname(m));
	node("/dev/pts/0");
	int m2 = open("/dev/pts/ptmx", O_RDWR | O_NOCTTY);
	printf("/dev/pts/ptmx: pty %d\n", ptn(m2));
	list("/dev/pts");
	unlockpt(m);
	int s = open("/dev/pts/0", O_RDWR | O_NOCTTY);
	write(s, "ok\n", 3);
	char buf[16];
	struct pollfd p = {.fd = m, .events = POLLIN};
	poll(&p, 1, 5000);
	ssize_t n = read(m, buf, sizeof buf);
	printf("through it: %zd\n", n);
	close(s);
	close(m);
	close(m2);
	list("/dev/pts");

	/* A second instance elsewhere: its own ptmx and numbers, defaults. */
	mkdir("pts2", 0755);
	say("mount second devpts", mount("devpts", "pts2", "devpts", 0, NULL));
	mountinfo_of(({
		static char cwd[512];
		getcwd(cwd, sizeof cwd - 8);
		strcat(cwd, "/pts2");
		cwd;
	}));
	node("pts2/ptmx");
	m = open("pts2/ptmx", O_RDWR | O_NOCTTY);
	printf("pts2/ptmx: pty %d\n", ptn(m));
	list("pts2");
	list("/dev/pts");
	node("pts2/0");
	close(m);
	list("pts2");
	say("umount second", umount("pts2"));
	rmdir("pts2");
	say("bad option", mount("devpts", "/dev/pts", "devpts", 0, "bogus=1"));
	say("bad mode", mount("devpts", "/dev/pts", "devpts", 0, "mode=9"));
	say("umount", umount("/dev/pts"));
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	for (int i = 1; i < argc; i++) {
		printf("== %s\n", argv[i]);
		if (!strcmp(argv[i], "ctty"))
			sec_ctty();
		else if (!strcmp(argv[i], "master"))
			sec_master();
		else if (!strcmp(argv[i], "pkt"))
			sec_pkt();
		else if (!strcmp(argv[i], "devpts"))
			sec_devpts();
	}
	return 0;
}
