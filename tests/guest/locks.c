/* locks: POSIX record locks (F_GETLK, F_SETLK, F_SETLKW), OFD locks
 * (F_OFD_*) and flock(2) between forked processes: conflicts, range
 * splitting and merging, errors, waking a blocked locker, EINTR, deadlock
 * detection, release on close and exit. Processes are sequenced with pipes
 * only; a child prints while its parent waits for it. Prints lock types,
 * ranges, "holder"/"other" instead of pids, and errno names. Arguments name
 * the sections to run (all when none). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>
#include "common.h"

#define FILE_NAME "lockfile"

static const char *en(int e)
{
	switch (e) {
	case EAGAIN: return "EAGAIN";
	case EINTR: return "EINTR";
	case EDEADLK: return "EDEADLK";
	case EOVERFLOW: return "EOVERFLOW";
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

static int p2c[2], c2p[2];

static void sync_pipes(void)
{
	if (pipe(p2c) < 0 || pipe(c2p) < 0) {
		printf("pipe failed\n");
		exit(1);
	}
}

static void close_pipes(void)
{
	close(p2c[0]);
	close(p2c[1]);
	close(c2p[0]);
	close(c2p[1]);
}

static void post(int fd)
{
	if (write(fd, "x", 1) != 1)
		printf("post failed\n");
}

static void await(int fd)
{
	char c;
	while (read(fd, &c, 1) < 0 && errno == EINTR)
		;
}

static int reap(pid_t pid)
{
	int st = -1;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return st;
}

static pid_t spawn(void)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		printf("fork failed\n");
		exit(1);
	}
	return pid;
}

static void child_exit(int code)
{
	fflush(stdout);
	_exit(code);
}

static int open_file(int flags)
{
	int fd = open(FILE_NAME, flags, 0644);
	if (fd < 0)
		printf("open %s: %s\n", FILE_NAME, errname(errno));
	return fd;
}

/* A fresh 100-byte file. */
static int fresh_file(void)
{
	unlink(FILE_NAME);
	int fd = open_file(O_RDWR | O_CREAT | O_TRUNC);
	char buf[100];
	memset(buf, '.', sizeof buf);
	if (write(fd, buf, sizeof buf) != sizeof buf)
		printf("write failed\n");
	return fd;
}

static int lk(int fd, int cmd, int type, int whence, long start, long len)
{
	struct flock fl;
	memset(&fl, 0, sizeof fl);
	fl.l_type = type;
	fl.l_whence = whence;
	fl.l_start = start;
	fl.l_len = len;
	return fcntl(fd, cmd, &fl);
}

static const char *tname(int t)
{
	switch (t) {
	case F_RDLCK: return "F_RDLCK";
	case F_WRLCK: return "F_WRLCK";
	case F_UNLCK: return "F_UNLCK";
	default: return "?";
	}
}

/* F_GETLK (or F_OFD_GETLK) for a `type` lock on start/len, printing what it
 * reports; `holder` is the pid expected in l_pid. */
static void getlk(const char *what, int fd, int cmd, int type, long start, long len,
		  pid_t holder)
{
	struct flock fl;
	memset(&fl, 0, sizeof fl);
	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	fl.l_start = start;
	fl.l_len = len;
	if (fcntl(fd, cmd, &fl) < 0) {
		printf("%s: -1 %s\n", what, en(errno));
		return;
	}
	const char *who = fl.l_pid == holder ? "holder"
			  : fl.l_pid == -1   ? "-1"
			  : fl.l_pid == 0    ? "0"
					     : "other";
	printf("%s: %s whence %d start %ld len %ld pid %s\n", what, tname(fl.l_type),
	       fl.l_whence, (long)fl.l_start, (long)fl.l_len, who);
}

static void test_getlk(void)
{
	int fd = fresh_file();
	pid_t me = getpid();
	chk("parent F_SETLK F_WRLCK 0+10", lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 0, 10));
	getlk("parent F_GETLK own lock", fd, F_GETLK, F_WRLCK, 0, 10, me);
	pid_t c = spawn();
	if (c == 0) {
		int f = open_file(O_RDWR);
		getlk("child F_GETLK F_WRLCK 0+100", f, F_GETLK, F_WRLCK, 0, 100, me);
		getlk("child F_GETLK F_RDLCK 5+1", f, F_GETLK, F_RDLCK, 5, 1, me);
		getlk("child F_GETLK F_WRLCK 10+5", f, F_GETLK, F_WRLCK, 10, 5, me);
		chk("child F_SETLK F_WRLCK 5+1", lk(f, F_SETLK, F_WRLCK, SEEK_SET, 5, 1));
		chk("child F_SETLK F_RDLCK 9+1", lk(f, F_SETLK, F_RDLCK, SEEK_SET, 9, 1));
		chk("child F_SETLK F_RDLCK 10+10", lk(f, F_SETLK, F_RDLCK, SEEK_SET, 10, 10));
		child_exit(0);
	}
	reap(c);
	chk("parent F_SETLK F_UNLCK 0+0", lk(fd, F_SETLK, F_UNLCK, SEEK_SET, 0, 0));
	c = spawn();
	if (c == 0) {
		int f = open_file(O_RDWR);
		chk("child F_SETLK F_WRLCK 0+0 after unlock",
		    lk(f, F_SETLK, F_WRLCK, SEEK_SET, 0, 0));
		child_exit(0);
	}
	reap(c);
	/* Read locks share. */
	chk("parent F_SETLK F_RDLCK 0+0", lk(fd, F_SETLK, F_RDLCK, SEEK_SET, 0, 0));
	c = spawn();
	if (c == 0) {
		int f = open_file(O_RDWR);
		chk("child F_SETLK F_RDLCK 0+0", lk(f, F_SETLK, F_RDLCK, SEEK_SET, 0, 0));
		getlk("child F_GETLK F_WRLCK 50+1", f, F_GETLK, F_WRLCK, 50, 1, me);
		chk("child F_SETLK F_WRLCK 50+1", lk(f, F_SETLK, F_WRLCK, SEEK_SET, 50, 1));
		child_exit(0);
	}
	reap(c);
	close(fd);
	unlink(FILE_NAME);
}

static void test_split(void)
{
	int fd = fresh_file();
	pid_t me = getpid();
	chk("F_WRLCK 0+100", lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 0, 100));
	chk("F_UNLCK 40+20", lk(fd, F_SETLK, F_UNLCK, SEEK_SET, 40, 20));
	chk("F_RDLCK 10+10", lk(fd, F_SETLK, F_RDLCK, SEEK_SET, 10, 10));
	chk("F_WRLCK 100+10", lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 100, 10));
	chk("F_WRLCK 110+10", lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 110, 10));
	chk("F_WRLCK 200+0", lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 200, 0));
	pid_t c = spawn();
	if (c == 0) {
		int f = open_file(O_RDWR);
		getlk("whole file", f, F_GETLK, F_WRLCK, 0, 0, me);
		getlk("10+10 write", f, F_GETLK, F_WRLCK, 10, 10, me);
		getlk("10+10 read", f, F_GETLK, F_RDLCK, 10, 10, me);
		getlk("20+5", f, F_GETLK, F_WRLCK, 20, 5, me);
		getlk("45+10 (hole)", f, F_GETLK, F_WRLCK, 45, 10, me);
		getlk("60+1 (merged)", f, F_GETLK, F_WRLCK, 60, 1, me);
		getlk("150+10 (gap)", f, F_GETLK, F_WRLCK, 150, 10, me);
		getlk("1000+1 (to EOF)", f, F_GETLK, F_RDLCK, 1000, 1, me);
		child_exit(0);
	}
	reap(c);
	close(fd);
	unlink(FILE_NAME);
}

static void test_errors(void)
{
	int fd = fresh_file();
	pid_t me = getpid();
	int ro = open_file(O_RDONLY);
	int wo = open_file(O_WRONLY);
	chk("O_RDONLY F_WRLCK", lk(ro, F_SETLK, F_WRLCK, SEEK_SET, 0, 1));
	chk("O_WRONLY F_RDLCK", lk(wo, F_SETLK, F_RDLCK, SEEK_SET, 0, 1));
	chk("O_RDONLY F_RDLCK", lk(ro, F_SETLK, F_RDLCK, SEEK_SET, 0, 1));
	chk("O_WRONLY F_WRLCK", lk(wo, F_SETLK, F_WRLCK, SEEK_SET, 1, 1));
	chk("O_RDONLY F_UNLCK", lk(ro, F_SETLK, F_UNLCK, SEEK_SET, 0, 0));
	chk("O_RDONLY F_GETLK F_WRLCK", lk(ro, F_GETLK, F_WRLCK, SEEK_SET, 0, 1));
	chk("l_type 7", lk(fd, F_SETLK, 7, SEEK_SET, 0, 1));
	chk("l_whence 5", lk(fd, F_SETLK, F_WRLCK, 5, 0, 1));
	chk("l_start -1", lk(fd, F_SETLK, F_WRLCK, SEEK_SET, -1, 1));
	chk("F_GETLK F_UNLCK", lk(fd, F_GETLK, F_UNLCK, SEEK_SET, 0, 1));
	chk("bad fd", lk(99, F_SETLK, F_WRLCK, SEEK_SET, 0, 1));
	chk("NULL struct", fcntl(fd, F_SETLK, NULL));
	if (sizeof(off_t) == 8) {
		struct flock fl;
		memset(&fl, 0, sizeof fl);
		fl.l_type = F_WRLCK;
		fl.l_start = (off_t)INT64_MAX;
		fl.l_len = 2;
		chk("start INT64_MAX len 2", fcntl(fd, F_SETLK, &fl));
	} else {
		printf("start INT64_MAX len 2: -1 EOVERFLOW\n");
	}
	/* SEEK_CUR, SEEK_END and negative lengths. */
	lseek(fd, 10, SEEK_SET);
	chk("SEEK_CUR -5 len 2", lk(fd, F_SETLK, F_WRLCK, SEEK_CUR, -5, 2));
	chk("SEEK_END -10 len 5", lk(fd, F_SETLK, F_WRLCK, SEEK_END, -10, 5));
	chk("SEEK_SET 30 len -5", lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 30, -5));
	chk("SEEK_SET 20 len -25", lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 20, -25));
	chk("SEEK_END 0 len 0", lk(fd, F_SETLK, F_RDLCK, SEEK_END, 0, 0));
	pid_t c = spawn();
	if (c == 0) {
		int f = open_file(O_RDWR);
		getlk("0+1", f, F_GETLK, F_WRLCK, 0, 1, me);
		getlk("1+1", f, F_GETLK, F_WRLCK, 1, 1, me);
		getlk("2+20", f, F_GETLK, F_WRLCK, 2, 20, me);
		getlk("21+10", f, F_GETLK, F_WRLCK, 21, 10, me);
		getlk("31+60", f, F_GETLK, F_WRLCK, 31, 60, me);
		getlk("95+10", f, F_GETLK, F_WRLCK, 95, 10, me);
		getlk("95+10 read", f, F_GETLK, F_RDLCK, 95, 10, me);
		child_exit(0);
	}
	reap(c);
	close(ro);
	close(wo);
	close(fd);
	unlink(FILE_NAME);
}

static void test_setlkw(void)
{
	int fd = fresh_file();
	sync_pipes();
	chk("parent F_WRLCK 0+0", lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 0, 0));
	pid_t c = spawn();
	if (c == 0) {
		int f = open_file(O_RDWR);
		post(c2p[1]);
		int r = lk(f, F_SETLKW, F_WRLCK, SEEK_SET, 0, 1);
		char b = '?';
		if (pread(f, &b, 1, 0) != 1)
			printf("pread failed\n");
		printf("child F_SETLKW: %d, first byte '%c'\n", r, b);
		child_exit(0);
	}
	await(c2p[0]);
	/* Whether or not the child already waits, it must see this write. */
	if (pwrite(fd, "M", 1, 0) != 1)
		printf("pwrite failed\n");
	lk(fd, F_SETLK, F_UNLCK, SEEK_SET, 0, 0);
	reap(c);
	printf("child done\n");
	/* Two readers wait for one writer. */
	chk("parent F_WRLCK again", lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 0, 0));
	pid_t r1 = spawn();
	if (r1 == 0) {
		int f = open_file(O_RDONLY);
		post(c2p[1]);
		int r = lk(f, F_SETLKW, F_RDLCK, SEEK_SET, 0, 0);
		_exit(r == 0 ? 0 : 1);
	}
	pid_t r2 = spawn();
	if (r2 == 0) {
		int f = open_file(O_RDONLY);
		post(c2p[1]);
		int r = lk(f, F_SETLKW, F_RDLCK, SEEK_SET, 0, 0);
		_exit(r == 0 ? 0 : 1);
	}
	await(c2p[0]);
	await(c2p[0]);
	lk(fd, F_SETLK, F_UNLCK, SEEK_SET, 0, 0);
	int s1 = reap(r1), s2 = reap(r2);
	printf("readers: %d %d\n", WEXITSTATUS(s1), WEXITSTATUS(s2));
	close_pipes();
	close(fd);
	unlink(FILE_NAME);
}

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

/* A repeating timer: if the first signal comes before the call blocks, a
 * later one interrupts it. */
static void start_alarms(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval it = {{0, 100000}, {0, 100000}};
	setitimer(ITIMER_REAL, &it, NULL);
}

static void stop_alarms(void)
{
	struct itimerval it;
	memset(&it, 0, sizeof it);
	setitimer(ITIMER_REAL, &it, NULL);
}

static void test_eintr(void)
{
	int fd = fresh_file();
	chk("parent F_WRLCK", lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 0, 0));
	chk("parent flock LOCK_EX", flock(fd, LOCK_EX));
	pid_t c = spawn();
	if (c == 0) {
		int f = open_file(O_RDWR);
		start_alarms();
		chk("child F_SETLKW interrupted", lk(f, F_SETLKW, F_WRLCK, SEEK_SET, 0, 1));
		chk("child flock LOCK_EX interrupted", flock(f, LOCK_EX));
		stop_alarms();
		printf("handler ran: %s\n", alarms > 0 ? "yes" : "no");
		child_exit(0);
	}
	reap(c);
	close(fd);
	unlink(FILE_NAME);
}

static void test_deadlock(void)
{
	int fd = fresh_file();
	sync_pipes();
	chk("parent locks byte 0", lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 0, 1));
	pid_t c = spawn();
	if (c == 0) {
		int f = open_file(O_RDWR);
		if (lk(f, F_SETLK, F_WRLCK, SEEK_SET, 1, 1) < 0)
			printf("child lock byte 1 failed\n");
		post(c2p[1]);
		int r = lk(f, F_SETLKW, F_WRLCK, SEEK_SET, 0, 1);
		int dead = r < 0 && errno == EDEADLK;
		if (r < 0 && !dead)
			printf("child F_SETLKW: %s\n", en(errno));
		/* Either way, let the parent have byte 1. */
		lk(f, F_SETLK, F_UNLCK, SEEK_SET, 0, 0);
		_exit(dead ? 1 : 0);
	}
	await(c2p[0]);
	int r = lk(fd, F_SETLKW, F_WRLCK, SEEK_SET, 1, 1);
	int dead = r < 0 && errno == EDEADLK;
	if (r < 0 && !dead)
		printf("parent F_SETLKW: %s\n", en(errno));
	if (dead)
		lk(fd, F_SETLK, F_UNLCK, SEEK_SET, 0, 1);
	int st = reap(c);
	int child_dead = WIFEXITED(st) && WEXITSTATUS(st) == 1;
	printf("EDEADLK seen by exactly one side: %s\n",
	       dead + child_dead == 1 ? "yes" : "no");
	/* No deadlock: waiting on a process that waits for nobody. */
	close_pipes();
	close(fd);
	unlink(FILE_NAME);
}

static void test_close(void)
{
	int fd = fresh_file();
	pid_t me = getpid();
	chk("F_WRLCK via fd", lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 0, 0));
	pid_t c = spawn();
	if (c == 0) {
		/* A child closing its inherited copy drops nothing of the parent's. */
		close(fd);
		child_exit(0);
	}
	reap(c);
	c = spawn();
	if (c == 0) {
		int f = open_file(O_RDONLY);
		getlk("after child's close", f, F_GETLK, F_WRLCK, 0, 0, me);
		child_exit(0);
	}
	reap(c);
	int other = open_file(O_RDONLY);
	close(other);
	c = spawn();
	if (c == 0) {
		int f = open_file(O_RDONLY);
		getlk("after closing another fd", f, F_GETLK, F_WRLCK, 0, 0, me);
		child_exit(0);
	}
	reap(c);
	chk("F_WRLCK again", lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 0, 0));
	int d = dup(fd);
	int t = open_file(O_RDONLY);
	chk("dup2 over the dup", dup2(t, d));
	c = spawn();
	if (c == 0) {
		int f = open_file(O_RDONLY);
		getlk("after dup2 replaced an fd", f, F_GETLK, F_WRLCK, 0, 0, me);
		child_exit(0);
	}
	reap(c);
	close(t);
	close(d);
	close(fd);
	unlink(FILE_NAME);
}

static void test_exit(void)
{
	int fd = fresh_file();
	sync_pipes();
	pid_t c = spawn();
	if (c == 0) {
		int f = open_file(O_RDWR);
		lk(f, F_SETLK, F_WRLCK, SEEK_SET, 0, 50);
		post(c2p[1]);
		await(p2c[0]);
		_exit(0);
	}
	await(c2p[0]);
	getlk("while the child lives", fd, F_GETLK, F_WRLCK, 0, 0, c);
	chk("F_SETLK while the child lives", lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 0, 0));
	post(p2c[1]);
	reap(c);
	getlk("after the child exited", fd, F_GETLK, F_WRLCK, 0, 0, c);
	chk("F_SETLK after the child exited", lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 0, 0));
	close_pipes();
	close(fd);
	unlink(FILE_NAME);
}

static void test_ofd(void)
{
	int fd = fresh_file();
	sync_pipes();
	struct flock fl;
	memset(&fl, 0, sizeof fl);
	fl.l_type = F_WRLCK;
	fl.l_len = 10;
	fl.l_pid = 1;
	chk("F_OFD_SETLK l_pid 1", fcntl(fd, F_OFD_SETLK, &fl));
	chk("F_OFD_SETLK 0+10", lk(fd, F_OFD_SETLK, F_WRLCK, SEEK_SET, 0, 10));
	int fd2 = open_file(O_RDWR);
	chk("F_OFD_SETLK on another description", lk(fd2, F_OFD_SETLK, F_WRLCK, SEEK_SET, 0, 1));
	chk("F_SETLK of the same process", lk(fd2, F_SETLK, F_WRLCK, SEEK_SET, 5, 1));
	getlk("F_GETLK", fd2, F_GETLK, F_WRLCK, 0, 0, getpid());
	getlk("F_OFD_GETLK own", fd, F_OFD_GETLK, F_WRLCK, 0, 0, getpid());
	getlk("F_OFD_GETLK other", fd2, F_OFD_GETLK, F_RDLCK, 0, 0, getpid());
	int fd3 = dup(fd);
	close(fd);
	chk("after closing one of two fds", lk(fd2, F_OFD_SETLK, F_WRLCK, SEEK_SET, 0, 1));
	close(fd3);
	chk("after closing the last fd", lk(fd2, F_OFD_SETLK, F_WRLCK, SEEK_SET, 0, 1));
	/* A child shares the description and so the lock. */
	pid_t c = spawn();
	if (c == 0) {
		chk("child F_OFD_SETLK F_RDLCK on the shared fd",
		    lk(fd2, F_OFD_SETLK, F_RDLCK, SEEK_SET, 0, 1));
		child_exit(0);
	}
	reap(c);
	int fd4 = open_file(O_RDWR);
	getlk("after the child converted it", fd4, F_OFD_GETLK, F_WRLCK, 0, 0, getpid());
	/* A waiter is woken by the last close. */
	c = spawn();
	if (c == 0) {
		/* Its inherited copy of fd2 would keep the description open. */
		close(fd2);
		int f = open_file(O_RDWR);
		post(c2p[1]);
		int r = lk(f, F_OFD_SETLKW, F_WRLCK, SEEK_SET, 0, 0);
		char b = '?';
		if (pread(f, &b, 1, 0) != 1)
			printf("pread failed\n");
		printf("child F_OFD_SETLKW: %d, first byte '%c'\n", r, b);
		child_exit(0);
	}
	await(c2p[0]);
	if (pwrite(fd4, "O", 1, 0) != 1)
		printf("pwrite failed\n");
	close(fd2);
	reap(c);
	close(fd4);
	close_pipes();
	unlink(FILE_NAME);
}

static void test_flock(void)
{
	int fd = fresh_file();
	int fd2 = open_file(O_RDONLY);
	chk("flock(fd, LOCK_EX)", flock(fd, LOCK_EX));
	chk("flock(fd, LOCK_EX) again", flock(fd, LOCK_EX));
	chk("flock(fd2, LOCK_EX|LOCK_NB)", flock(fd2, LOCK_EX | LOCK_NB));
	chk("flock(fd2, LOCK_SH|LOCK_NB)", flock(fd2, LOCK_SH | LOCK_NB));
	chk("flock(fd, LOCK_SH) converts", flock(fd, LOCK_SH));
	chk("flock(fd2, LOCK_SH|LOCK_NB)", flock(fd2, LOCK_SH | LOCK_NB));
	chk("flock(fd, LOCK_EX|LOCK_NB) fails", flock(fd, LOCK_EX | LOCK_NB));
	/* The failed conversion dropped fd's shared lock first. */
	chk("flock(fd2, LOCK_EX|LOCK_NB)", flock(fd2, LOCK_EX | LOCK_NB));
	chk("flock(fd2, LOCK_UN)", flock(fd2, LOCK_UN));
	chk("flock(fd2, LOCK_UN) again", flock(fd2, LOCK_UN));
	chk("flock(fd, 0)", flock(fd, 0));
	chk("flock(fd, LOCK_SH|LOCK_EX)", flock(fd, LOCK_SH | LOCK_EX));
	chk("flock(99, LOCK_EX)", flock(99, LOCK_EX));
	/* Shared through dup, dropped at the last close. */
	int d = dup(fd);
	chk("flock(fd, LOCK_EX)", flock(fd, LOCK_EX));
	close(fd);
	chk("fd2 after closing one of two", flock(fd2, LOCK_EX | LOCK_NB));
	close(d);
	chk("fd2 after closing the last", flock(fd2, LOCK_EX | LOCK_NB));
	/* Shared with a child: its LOCK_UN drops the parent's lock. */
	pid_t c = spawn();
	if (c == 0) {
		chk("child flock(fd2, LOCK_UN)", flock(fd2, LOCK_UN));
		child_exit(0);
	}
	reap(c);
	int fd3 = open_file(O_RDWR);
	chk("fd3 after the child unlocked", flock(fd3, LOCK_EX | LOCK_NB));
	/* flock and fcntl locks do not see each other. */
	chk("fcntl F_RDLCK 0+5 beside flock", lk(fd2, F_SETLK, F_RDLCK, SEEK_SET, 0, 5));
	c = spawn();
	if (c == 0) {
		int f = open_file(O_RDWR);
		chk("child F_SETLK 10+1 beside parent's flock", lk(f, F_SETLK, F_WRLCK, SEEK_SET, 10, 1));
		chk("child F_SETLK 0+1", lk(f, F_SETLK, F_WRLCK, SEEK_SET, 0, 1));
		chk("child flock LOCK_SH|LOCK_NB", flock(f, LOCK_SH | LOCK_NB));
		child_exit(0);
	}
	reap(c);
	close(fd2);
	close(fd3);
	unlink(FILE_NAME);
}

static void test_flock_wait(void)
{
	int fd = fresh_file();
	sync_pipes();
	chk("parent flock LOCK_EX", flock(fd, LOCK_EX));
	pid_t c = spawn();
	if (c == 0) {
		int f = open_file(O_RDONLY);
		post(c2p[1]);
		int r = flock(f, LOCK_SH);
		char b = '?';
		if (pread(f, &b, 1, 0) != 1)
			printf("pread failed\n");
		printf("child flock LOCK_SH: %d, first byte '%c'\n", r, b);
		child_exit(0);
	}
	await(c2p[0]);
	if (pwrite(fd, "F", 1, 0) != 1)
		printf("pwrite failed\n");
	flock(fd, LOCK_UN);
	reap(c);
	close_pipes();
	close(fd);
	unlink(FILE_NAME);
}

struct section {
	const char *name;
	void (*fn)(void);
};

static const struct section sections[] = {
	{"getlk", test_getlk},
	{"split", test_split},
	{"errors", test_errors},
	{"setlkw", test_setlkw},
	{"eintr", test_eintr},
	{"deadlock", test_deadlock},
	{"close", test_close},
	{"exit", test_exit},
	{"ofd", test_ofd},
	{"flock", test_flock},
	{"flock_wait", test_flock_wait},
	{NULL, NULL},
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
