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
 * SIGTTOU for requests that change a terminal, made from a background
 * process group (tty_check_change): on a pty slave (section ttou) and on
 * the run's own terminal (ttou-console: stdin must be the controlling
 * terminal of the program, a session leader in the foreground; the
 * console under umbra). What a pty keeps of a termios change
 * (pty_set_termios), TIOCGDEV, and TIOCPKT_IOCTL with EXTPROC.
 *
 * Sections (argv): ctty, master, pkt, ttou, ttou-console, termios, gdev,
 * devpts and devpts-umount (root: they mount devpts; natively in a mount
 * namespace of their own). */
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
#ifndef TIOCGDEV
#define TIOCGDEV _IOR('T', 0x32, unsigned int)
#endif
#ifndef TIOCPKT_IOCTL
#define TIOCPKT_IOCTL 64
#endif
#ifndef EXTPROC
#define EXTPROC 0200000
#endif

static const char *en(int e)
{
	switch (e) {
	case EIO: return "EIO";
	case ENXIO: return "ENXIO";
	case ESRCH: return "ESRCH";
	case EAGAIN: return "EAGAIN";
	case EINTR: return "EINTR";
	case EBUSY: return "EBUSY";
	case ENODEV: return "ENODEV";
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
	/* EXTPROC (the master edits lines): every termios change, with it on
	 * before or after, is reported (TIOCPKT_IOCTL). */
	tcgetattr(s, &t);
	t.c_lflag |= EXTPROC;
	tcsetattr(s, TCSANOW, &t);
	pkt_read("EXTPROC on", m);
	t.c_lflag &= ~ECHO;
	tcsetattr(s, TCSANOW, &t);
	pkt_read("ECHO off with EXTPROC", m);
	t.c_lflag &= ~EXTPROC;
	tcsetattr(s, TCSANOW, &t);
	pkt_read("EXTPROC off", m);
	t.c_lflag |= ECHO;
	tcsetattr(s, TCSANOW, &t);
	write(s, "y", 1);
	pkt_read("ECHO on without EXTPROC, then data", m);
	/* Turning it off drops nothing of the data, but the status goes. */
	write(s, "z", 1);
	say("TIOCPKT 0", ioctl(m, TIOCPKT, &zero));
	pkt_read("plain", m);
	close(s);
	close(m);
}


/* ---- ttou ---- */

/* The requests tried from a background group. */
enum req {
	R_TCSETS, R_TCSETSW, R_TCSETSF, R_TCSETA, R_TIOCSPGRP, R_TCFLSH, R_TCXONC,
	R_TCSBRK, R_TCSBRKP, R_TIOCSBRK, R_TIOCCBRK, R_TIOCSETD, R_TIOCSWINSZ,
	R_TCGETS, R_M_TCSETS, R_M_TIOCSPGRP, R_M_TCFLSH, R_M_TCXONC, R_N
};
static const char *req_name[R_N] = {
	"TCSETS", "TCSETSW", "TCSETSF", "TCSETA", "TIOCSPGRP", "TCFLSH", "TCXONC",
	"TCSBRK", "TCSBRKP", "TIOCSBRK", "TIOCCBRK", "TIOCSETD", "TIOCSWINSZ",
	"TCGETS", "master TCSETS", "master TIOCSPGRP", "master TCFLSH", "master TCXONC",
};

/* Makes request `r` on the slave `t` (or the master `m`); its result. */
static int request(enum req r, int t, int m)
{
	struct termios tio;
	struct winsize ws;
	char termio[18];
	int ldisc = 0;
	pid_t pg = getpgrp();
	tcgetattr(t, &tio);
	ioctl(t, TIOCGWINSZ, &ws);
	switch (r) {
	case R_TCSETS: return tcsetattr(t, TCSANOW, &tio);
	case R_TCSETSW: return tcsetattr(t, TCSADRAIN, &tio);
	case R_TCSETSF: return tcsetattr(t, TCSAFLUSH, &tio);
	case R_TCSETA:
		ioctl(t, TCGETA, termio);
		return ioctl(t, TCSETA, termio);
	case R_TIOCSPGRP: return ioctl(t, TIOCSPGRP, &pg);
	case R_TCFLSH: return tcflush(t, TCIFLUSH);
	case R_TCXONC: return tcflow(t, TCOON);
	case R_TCSBRK: return tcdrain(t);
	case R_TCSBRKP: return ioctl(t, TCSBRKP, 0);
	case R_TIOCSBRK: return ioctl(t, TIOCSBRK);
	case R_TIOCCBRK: return ioctl(t, TIOCCBRK);
	case R_TIOCSETD: return ioctl(t, TIOCSETD, &ldisc);
	case R_TIOCSWINSZ: return ioctl(t, TIOCSWINSZ, &ws);
	case R_TCGETS: return tcgetattr(t, &tio);
	case R_M_TCSETS: return tcsetattr(m, TCSANOW, &tio);
	case R_M_TIOCSPGRP: return ioctl(m, TIOCSPGRP, &pg);
	case R_M_TCFLSH: return tcflush(m, TCIFLUSH);
	case R_M_TCXONC: return tcflow(m, TCOON);
	default: return -1;
	}
}

static volatile sig_atomic_t ttou_got;
static void on_ttou(int sig) { ttou_got = sig; }

enum how { H_DEFAULT, H_IGNORED, H_BLOCKED, H_HANDLED };
static const char *how_name[] = { "default", "ignored", "blocked", "handled" };

/* A child in a background group of its own makes request `r` with SIGTTOU
 * as `how` says. When it stops, the leader (this process, in the
 * foreground) puts it in the foreground and continues it: the request
 * restarts and goes through. The leader takes the foreground back after. */
static void ttou_try(enum req r, enum how how, int t, int m)
{
	pid_t c = fork();
	if (c == 0) {
		setpgid(0, 0);
		signal(SIGTTOU, SIG_DFL);
		if (how == H_IGNORED)
			signal(SIGTTOU, SIG_IGN);
		if (how == H_BLOCKED) {
			sigset_t set;
			sigemptyset(&set);
			sigaddset(&set, SIGTTOU);
			sigprocmask(SIG_BLOCK, &set, NULL);
		}
		if (how == H_HANDLED) {
			struct sigaction sa = {.sa_handler = on_ttou};
			sigaction(SIGTTOU, &sa, NULL);
		}
		int rv = request(r, t, m);
		int e = errno;
		char line[128];
		snprintf(line, sizeof line, "  %s %s: %d %s%s\n", req_name[r], how_name[how], rv,
			 rv < 0 ? en(e) : "", ttou_got ? " (handler ran)" : "");
		write(1, line, strlen(line));
		_exit(0);
	}
	setpgid(c, c);
	int st;
	waitpid(c, &st, WUNTRACED);
	if (WIFSTOPPED(st)) {
		printf("  %s %s: stopped by %s\n", req_name[r], how_name[how],
		       WSTOPSIG(st) == SIGTTOU ? "SIGTTOU" : "another signal");
		tcsetpgrp(t, c);
		kill(c, SIGCONT);
		waitpid(c, &st, 0);
	}
	if (!WIFEXITED(st))
		printf("  %s %s: killed by %d\n", req_name[r], how_name[how], WTERMSIG(st));
	/* Back to the foreground (SIGTTOU ignored meanwhile, as a shell). */
	signal(SIGTTOU, SIG_IGN);
	tcsetpgrp(t, getpgrp());
	signal(SIGTTOU, SIG_DFL);
}

/* The leader of `t`'s session, in the foreground, tries every request. */
static void ttou_all(int t, int m)
{
	/* Whatever the run was started with: SIGTTOU at its default, unblocked. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTTOU);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	signal(SIGTTOU, SIG_DFL);
	printf(" foreground is mine %d\n", tcgetpgrp(t) == getpgrp());
	for (int r = 0; r < R_N; r++)
		if (m >= 0 || r < R_M_TCSETS)
			ttou_try(r, H_DEFAULT, t, m);
	enum req some[] = {R_TCSETS, R_TIOCSPGRP, R_TCFLSH, R_TCSBRK, R_M_TCSETS};
	for (unsigned i = 0; i < sizeof some / sizeof *some; i++)
		for (int h = H_IGNORED; h <= H_HANDLED; h++)
			if (m >= 0 || some[i] < R_M_TCSETS)
				ttou_try(some[i], h, t, m);
	/* The leader's own group in the background is orphaned (its parent
	 * is outside the session): EIO, and ENOTTY for TIOCSPGRP, without a
	 * signal. */
	pid_t g = fork();
	if (g == 0) {
		setpgid(0, 0);
		pause();
		_exit(0);
	}
	setpgid(g, g);
	tcsetpgrp(t, g);
	printf(" orphaned:\n");
	enum req orph[] = {R_TCSETS, R_TIOCSPGRP, R_TCFLSH, R_TCXONC, R_TCSBRK, R_TIOCSWINSZ,
			   R_M_TCSETS, R_M_TIOCSPGRP};
	for (unsigned i = 0; i < sizeof orph / sizeof *orph; i++) {
		if (m < 0 && orph[i] >= R_M_TCSETS)
			continue;
		int rv = request(orph[i], t, m);
		printf("  %s: %d %s\n", req_name[orph[i]], rv, rv < 0 ? en(errno) : "");
	}
	signal(SIGTTOU, SIG_IGN);
	say(" TIOCSPGRP back, ignored", tcsetpgrp(t, getpgrp()));
	signal(SIGTTOU, SIG_DFL);
	kill(g, SIGKILL);
	waitpid(g, NULL, 0);
	/* A process of another session changes the terminal freely. */
}

static void sec_ttou(void)
{
	char path[64];
	int m = master(path, sizeof path);
	pid_t c = fork();
	if (c == 0) {
		setsid();
		int t = open(path, O_RDWR);
		ttou_all(t, m);
		_exit(0);
	}
	wait_child("leader", c);
	/* From outside its session: nothing checks. */
	int t = open(path, O_RDWR | O_NOCTTY);
	struct termios tio;
	tcgetattr(t, &tio);
	say("TCSETS from another session", tcsetattr(t, TCSANOW, &tio));
	close(t);
	close(m);
}

static void sec_ttou_console(void)
{
	if (tcgetpgrp(0) != getpgrp() || getsid(0) != getpid()) {
		printf("stdin is not my controlling terminal, or I do not lead its session\n");
		return;
	}
	ttou_all(0, -1);
}


/* ---- termios ---- */

/* The kernel's c_cflag through raw TCGETS (the libcs' structs begin as the
 * kernel's). */
static unsigned cflag_of(int fd)
{
	struct termios t;
	ioctl(fd, TCGETS, &t);
	return t.c_cflag;
}

static void set_cflag(const char *what, int fd, int via, unsigned cflag)
{
	struct termios t;
	ioctl(fd, TCGETS, &t);
	t.c_cflag = cflag;
	int r = ioctl(via, TCSETS, &t);
	printf("%s: %d, c_cflag %o\n", what, r, cflag_of(fd));
}

static void sec_termios(void)
{
	char path[64];
	int m = master(path, sizeof path);
	int s = open(path, O_RDWR | O_NOCTTY);
	struct termios t;
	ioctl(s, TCGETS, &t);
	printf("fresh slave: iflag %o oflag %o cflag %o lflag %o\n", t.c_iflag, t.c_oflag,
	       t.c_cflag, t.c_lflag);
	/* A pty keeps 8 bits, no parity, its receiver on; the rest is kept. */
	set_cflag("CS7 PARENB CSTOPB CLOCAL -CREAD B9600", s, s,
		  CS7 | PARENB | CSTOPB | CLOCAL | B9600);
	set_cflag("CS5 PARODD HUPCL CRTSCTS B300", s, s, CS5 | PARODD | HUPCL | CRTSCTS | B300);
	set_cflag("0 through the master", s, m, 0);
	set_cflag("CS6 PARENB through the master", s, m, CS6 | PARENB | B38400);
	set_cflag("address bit", s, s, 0x20000000 | B38400);
	/* termio (TCGETA/TCSETA): the low halves of the flags. */
	struct {
		unsigned short i, o, c, l;
		unsigned char line, cc[8];
	} __attribute__((packed)) tio;
	say("TCGETA", ioctl(s, TCGETA, &tio));
	printf("termio: iflag %o oflag %o cflag %o lflag %o veof %d\n", tio.i, tio.o, tio.c, tio.l,
	       tio.cc[VEOF]);
	tio.l &= ~ICANON;
	tio.c = CS7 | B1200;
	say("TCSETA", ioctl(s, TCSETA, &tio));
	ioctl(s, TCGETS, &t);
	printf("after TCSETA: cflag %o lflag %o\n", t.c_cflag, t.c_lflag);
	int d = -1;
	say("TIOCGETD", ioctl(s, TIOCGETD, &d));
	printf("ldisc %d\n", d);
	d = 0;
	say("TIOCSETD N_TTY", ioctl(s, TIOCSETD, &d));
	close(s);
	close(m);
}

/* ---- gdev ---- */

static void sec_gdev(void)
{
	char path[64];
	int m = master(path, sizeof path);
	int s = open(path, O_RDWR | O_NOCTTY);
	struct stat st;
	fstat(s, &st);
	unsigned ds = 0, dm = 0;
	say("TIOCGDEV on slave", ioctl(s, TIOCGDEV, &ds));
	say("TIOCGDEV on master", ioctl(m, TIOCGDEV, &dm));
	printf("slave's: major %u, is its st_rdev %d; master's is the slave's %d\n", major(ds),
	       makedev(major(ds), minor(ds)) == st.st_rdev, dm == ds);
	pid_t c = fork();
	if (c == 0) {
		setsid();
		int s2 = open(path, O_RDWR);
		int t = open("/dev/tty", O_RDWR);
		unsigned dt = 0;
		say("TIOCGDEV on /dev/tty", ioctl(t, TIOCGDEV, &dt));
		printf("is the slave's %d\n", dt == ds);
		close(s2);
		_exit(0);
	}
	wait_child("ctty", c);
	int p[2];
	pipe(p);
	say("TIOCGDEV on a pipe", ioctl(p[0], TIOCGDEV, &ds));
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


/* A devpts instance unmounted while a pty of its is open: the pair keeps
 * working, the slave's other name is gone (TIOCGPTPEER: ENODEV); a
 * new instance mounted after takes its numbers from 0. */
static void sec_devpts_umount(void)
{
	if (unshare(CLONE_NEWNS) == 0)
		mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
	say("mount devpts", mount("devpts", "/dev/pts", "devpts", 0, "ptmxmode=666"));
	int m = open("/dev/ptmx", O_RDWR | O_NOCTTY);
	printf("pty %d\n", ptn(m));
	unlockpt(m);
	int s = open("/dev/pts/0", O_RDWR | O_NOCTTY);
	say("umount with the slave open", umount("/dev/pts"));
	say("TIOCGPTPEER while mounted", ({
		int p = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY);
		if (p >= 0)
			close(p);
		p < 0 ? -1 : 0;
	}));
	say("lazy umount", umount2("/dev/pts", MNT_DETACH));
	char buf[16];
	struct pollfd p = {.fd = m, .events = POLLIN};
	write(s, "ok\n", 3);
	poll(&p, 1, 5000);
	printf("master reads %zd\n", read(m, buf, sizeof buf));
	write(m, "hi\n", 3);
	p.fd = s;
	poll(&p, 1, 5000);
	printf("slave reads %zd\n", read(s, buf, sizeof buf));
	printf("TIOCGPTN %d\n", ptn(m));
	say("TIOCGPTPEER after", ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY));
	close(s);
	say("master read, slave closed", read(m, buf, sizeof buf));
	say("then", read(m, buf, sizeof buf));
	close(m);
	/* A new instance: numbers from 0 again; it goes at once. */
	say("mount again", mount("devpts", "/dev/pts", "devpts", 0, "ptmxmode=666"));
	m = open("/dev/ptmx", O_RDWR | O_NOCTTY);
	printf("pty %d\n", ptn(m));
	close(m);
	list("/dev/pts");
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
		else if (!strcmp(argv[i], "devpts-umount"))
			sec_devpts_umount();
		else if (!strcmp(argv[i], "termios"))
			sec_termios();
		else if (!strcmp(argv[i], "gdev"))
			sec_gdev();
		else if (!strcmp(argv[i], "ttou"))
			sec_ttou();
		else if (!strcmp(argv[i], "ttou-console"))
			sec_ttou_console();
	}
	return 0;
}
