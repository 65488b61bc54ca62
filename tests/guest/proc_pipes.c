/* proc_pipes: pipe/pipe2 flags, capacity, PIPE_BUF atomicity with two writer
 * children, EOF, EPIPE and SIGPIPE, FIONREAD, blocking writers woken by
 * readers. Prints counts and errno names only. Arguments name the sections
 * to run (all when none). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "common.h"

static const char *en(int e)
{
	switch (e) {
	case EAGAIN: return "EAGAIN";
	case EPIPE: return "EPIPE";
	case EINTR: return "EINTR";
	default: return errname(e);
	}
}

/* check() with the errno names this program needs */
static long chk(const char *what, long r)
{
	if (r < 0)
		printf("%s: -1 %s\n", what, en(errno));
	else
		printf("%s: %ld\n", what, r);
	return r;
}
#define check chk

static void status_line(const char *what, int st)
{
	if (WIFEXITED(st))
		printf("%s: exited %d\n", what, WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		printf("%s: killed by %d\n", what, WTERMSIG(st));
	else
		printf("%s: status %#x\n", what, st);
}

static int reap(pid_t pid)
{
	int st = -1;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return st;
}

static void test_flags(void)
{
	int p[2];
	check("pipe2(O_CLOEXEC|O_NONBLOCK)", pipe2(p, O_CLOEXEC | O_NONBLOCK));
	printf("F_GETFD: %d %d\n", fcntl(p[0], F_GETFD), fcntl(p[1], F_GETFD));
	printf("O_NONBLOCK: %d %d\n", !!(fcntl(p[0], F_GETFL) & O_NONBLOCK),
	       !!(fcntl(p[1], F_GETFL) & O_NONBLOCK));
	printf("access modes: %s %s\n",
	       (fcntl(p[0], F_GETFL) & O_ACCMODE) == O_RDONLY ? "O_RDONLY" : "?",
	       (fcntl(p[1], F_GETFL) & O_ACCMODE) == O_WRONLY ? "O_WRONLY" : "?");
	char c;
	errno = 0;
	check("read empty nonblocking pipe", read(p[0], &c, 1));
	check("write to the read end", write(p[0], "x", 1));
	check("read from the write end", read(p[1], &c, 1));
	check("lseek on a pipe", lseek(p[0], 0, SEEK_SET));
	close(p[0]);
	close(p[1]);
	check("pipe2(bad flags)", pipe2(p, 0x12345678));
	check("pipe()", pipe(p));
	printf("pipe() F_GETFD: %d %d, O_NONBLOCK: %d\n", fcntl(p[0], F_GETFD),
	       fcntl(p[1], F_GETFD), !!(fcntl(p[0], F_GETFL) & O_NONBLOCK));
	check("fcntl(F_SETFL, O_NONBLOCK)", fcntl(p[0], F_SETFL, O_NONBLOCK));
	check("read after F_SETFL O_NONBLOCK", read(p[0], &c, 1));
	close(p[0]);
	close(p[1]);
}

static void test_capacity(void)
{
	int p[2];
	if (pipe2(p, O_NONBLOCK) < 0)
		return;
	printf("F_GETPIPE_SZ: %d\n", fcntl(p[1], F_GETPIPE_SZ));
	static char buf[100000];
	memset(buf, 'z', sizeof buf);
	long total = 0;
	for (;;) {
		ssize_t n = write(p[1], buf, 4096);
		if (n < 0) {
			printf("fill stops with %s\n", en(errno));
			break;
		}
		total += n;
	}
	printf("filled: %ld bytes\n", total);
	int avail = -1;
	ioctl(p[0], FIONREAD, &avail);
	printf("FIONREAD when full: %d\n", avail);
	check("write 1 byte to a full pipe", write(p[1], "y", 1));
	long drained = 0;
	for (;;) {
		ssize_t n = read(p[0], buf, sizeof buf);
		if (n <= 0) {
			printf("drain stops with %ld %s\n", (long)n, en(errno));
			break;
		}
		drained += n;
	}
	printf("drained: %ld bytes\n", drained);
	/* a big nonblocking write into an empty pipe is partial */
	check("write 100000 bytes nonblocking", write(p[1], buf, sizeof buf));
	close(p[0]);
	close(p[1]);
}

#define RECORD PIPE_BUF
#define RECORDS 300

static void writer(int fd, char tag)
{
	char rec[RECORD];
	memset(rec, tag, sizeof rec);
	for (int i = 0; i < RECORDS; i++)
		if (write(fd, rec, sizeof rec) != sizeof rec)
			_exit(1);
	_exit(0);
}

static void test_atomic(void)
{
	printf("PIPE_BUF: %d\n", PIPE_BUF);
	int p[2];
	if (pipe(p) < 0)
		return;
	fflush(stdout);
	pid_t a = fork();
	if (a == 0) {
		close(p[0]);
		writer(p[1], 'A');
	}
	pid_t b = fork();
	if (b == 0) {
		close(p[0]);
		writer(p[1], 'B');
	}
	close(p[1]);
	static char rec[RECORD];
	long count[2] = { 0, 0 }, mixed = 0, total = 0;
	size_t have = 0;
	for (;;) {
		ssize_t n = read(p[0], rec + have, RECORD - have);
		if (n <= 0)
			break;
		total += n;
		have += n;
		if (have < RECORD)
			continue;
		have = 0;
		char t = rec[0];
		int uniform = 1;
		for (int i = 1; i < RECORD; i++)
			uniform &= rec[i] == t;
		if (!uniform || (t != 'A' && t != 'B'))
			mixed++;
		else
			count[t == 'B']++;
	}
	close(p[0]);
	printf("records A=%ld B=%ld mixed=%ld total=%ld leftover=%zu\n", count[0], count[1],
	       mixed, total, have);
	status_line("writer A", reap(a));
	status_line("writer B", reap(b));
}

static void test_eof(void)
{
	int p[2];
	if (pipe(p) < 0)
		return;
	int extra = dup(p[1]);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		close(extra);
		(void)write(p[1], "hello", 5);
		_exit(0);
	}
	close(p[1]);
	char buf[16];
	ssize_t n = read(p[0], buf, sizeof buf);
	printf("read from child: %ld\n", (long)n);
	status_line("writer", reap(pid));
	/* a writer (the dup) is still open: nonblocking read says EAGAIN, not EOF */
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	check("read with a writer still open", read(p[0], buf, sizeof buf));
	close(extra);
	check("read after the last writer closed", read(p[0], buf, sizeof buf));
	close(p[0]);

	/* a blocked reader wakes with EOF when the writer closes */
	if (pipe(p) < 0)
		return;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		close(p[1]);
		ssize_t r = read(p[0], buf, sizeof buf);
		_exit(r == 0 ? 0 : 1);
	}
	close(p[0]);
	usleep(50000);
	close(p[1]);
	status_line("blocked reader sees EOF", reap(pid));
}

static volatile sig_atomic_t got_pipe;

static void on_pipe(int sig)
{
	got_pipe = sig;
}

static void test_epipe(void)
{
	int p[2];
	if (pipe(p) < 0)
		return;
	/* The read end is closed before the fork, so no reader exists when the
	 * child writes, however the two are scheduled. */
	close(p[0]);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		(void)write(p[1], "x", 1);
		_exit(0);
	}
	close(p[1]);
	status_line("write with no reader, SIGPIPE default", reap(pid));

	if (pipe(p) < 0)
		return;
	close(p[0]);
	signal(SIGPIPE, SIG_IGN);
	check("write with no reader, SIGPIPE ignored", write(p[1], "x", 1));
	/* a null write succeeds, reader or not (Linux's pipe_write) */
	check("null write with no reader", write(p[1], "", 0));
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_pipe;
	sigaction(SIGPIPE, &sa, NULL);
	check("write with no reader, SIGPIPE handled", write(p[1], "x", 1));
	printf("handler saw signal %d\n", (int)got_pipe);
	/* blocked SIGPIPE stays pending */
	sigset_t set, pend;
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	sigprocmask(SIG_BLOCK, &set, NULL);
	got_pipe = 0;
	check("write with SIGPIPE blocked", write(p[1], "x", 1));
	sigpending(&pend);
	printf("SIGPIPE pending: %d, handler ran: %d\n", sigismember(&pend, SIGPIPE),
	       got_pipe != 0);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	printf("after unblocking, handler ran: %d\n", got_pipe != 0);
	close(p[1]);
	signal(SIGPIPE, SIG_DFL);

	/* a writer blocked on a full pipe gets EPIPE when the reader goes */
	if (pipe(p) < 0)
		return;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		signal(SIGPIPE, SIG_IGN);
		static char big[200000];
		ssize_t n = write(p[1], big, sizeof big);
		/* partial count (>0) or EPIPE */
		_exit(n > 0 ? 2 : errno == EPIPE ? 3 : 4);
	}
	close(p[1]);
	usleep(100000);
	close(p[0]);
	int st = reap(pid);
	printf("blocked writer after reader closed: %s\n",
	       WIFEXITED(st) && (WEXITSTATUS(st) == 2 || WEXITSTATUS(st) == 3) ? "woke" : "?");
}

static void test_fionread_and_blocking(void)
{
	int p[2];
	if (pipe(p) < 0)
		return;
	int n = -1;
	ioctl(p[0], FIONREAD, &n);
	printf("FIONREAD empty: %d\n", n);
	char buf[123];
	memset(buf, 'q', sizeof buf);
	(void)write(p[1], buf, sizeof buf);
	ioctl(p[0], FIONREAD, &n);
	printf("FIONREAD after 123 bytes: %d\n", n);
	(void)read(p[0], buf, 23);
	ioctl(p[0], FIONREAD, &n);
	printf("FIONREAD after reading 23: %d\n", n);
	close(p[0]);
	close(p[1]);

}

/* fstat of a pipe says it is a FIFO */
static void test_fstat(void)
{
	int p[2];
	if (pipe(p) < 0)
		return;
	struct stat st;
	fstat(p[0], &st);
	printf("S_ISFIFO read end: %d\n", S_ISFIFO(st.st_mode));
	fstat(p[1], &st);
	printf("S_ISFIFO write end: %d\n", S_ISFIFO(st.st_mode));
	close(p[0]);
	close(p[1]);
}

/* one blocking write larger than the pipe completes in full */
static void test_big_write(void)
{
	int p[2];
	/* a child writes 1 MiB with blocking writes; the parent reads it all */
	if (pipe(p) < 0)
		return;
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		static char big[1 << 20];
		for (size_t i = 0; i < sizeof big; i++)
			big[i] = (char)(i * 7);
		ssize_t w = write(p[1], big, sizeof big);
		_exit(w == (ssize_t)sizeof big ? 0 : 1);
	}
	close(p[1]);
	static char in[65536];
	long total = 0;
	unsigned long sum = 0;
	for (;;) {
		ssize_t r = read(p[0], in, sizeof in);
		if (r <= 0)
			break;
		for (ssize_t i = 0; i < r; i++)
			sum += (unsigned char)in[i] * (unsigned long)((total + i) % 13 + 1);
		total += r;
	}
	close(p[0]);
	printf("read %ld bytes, checksum %lu\n", total, sum);
	status_line("1 MiB writer", reap(pid));
}

static const struct section {
	const char *name;
	void (*fn)(void);
} sections[] = {
	{ "flags", test_flags },
	{ "capacity", test_capacity },
	{ "atomic", test_atomic },
	{ "eof", test_eof },
	{ "epipe", test_epipe },
	{ "fionread", test_fionread_and_blocking },
	{ "fstat", test_fstat },
	{ "big_write", test_big_write },
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
