/* lowmem SECTION: a guest that runs out of memory (tests/e2e_mm.rs runs it
 * under a small `umbra run --mem`). Linux never fails a page the program
 * was granted by mmap or brk: the OOM killer kills the process with the
 * most memory, and a call that needed the page (read(2) into a buffer never
 * touched) goes on once memory is free. Sections:
 *   touch    touches 1 MiB chunks of a 64 MiB mapping; prints "MiB N" after
 *            each; under a small --mem it is killed (SIGKILL)
 *   read     read(2)s /dev/zero into an untouched 64 MiB mapping, 1 MiB a
 *            call; prints "read N MiB" after each, "read failed ERRNO" if a
 *            call fails (which Linux does not do for want of memory)
 *   child    a child touches memory as `touch`, holding a pipe's write end;
 *            the parent reads the pipe (end of file when the child dies,
 *            whatever kills it) and prints how the child ended
 *   victim   a child (the hog) touches 5 MiB and waits; then another (the
 *            reader) reads 3 MiB of /dev/zero into an untouched buffer;
 *            then the parent kills the hog (SIGKILL) and prints how both
 *            ended. Natively nothing runs out; in a --mem too small for
 *            both, the OOM killer kills the hog during the reader's read,
 *            which then goes on: the same output.
 * Each prints "done SECTION" at its end. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

#define MIB (1L << 20)

static char *untouched(long len)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		printf("mmap failed %s\n", errname(errno));
		exit(1);
	}
	return p;
}

/* Touches `mib` MiB, printing the count after each; returns the mapping. */
static char *touch(long mib, int verbose)
{
	char *p = untouched(mib * MIB);
	for (long m = 0; m < mib; m++) {
		for (long i = 0; i < MIB; i += 4096)
			p[m * MIB + i] = 1;
		if (verbose)
			printf("MiB %ld\n", m + 1);
	}
	return p;
}

/* Reads `mib` MiB of /dev/zero into an untouched buffer, 1 MiB a call
 * (a short count is read on from where it stopped). */
static int read_zero(long mib, int verbose)
{
	char *p = untouched(mib * MIB);
	int fd = open("/dev/zero", O_RDONLY);
	long got = 0;
	while (got < mib * MIB) {
		long want = MIB - got % MIB;
		ssize_t r = read(fd, p + got, want);
		if (r <= 0) {
			printf("read failed %s after %ld bytes\n", r ? errname(errno) : "EOF", got);
			return 1;
		}
		got += r;
		if (verbose && got % MIB == 0)
			printf("read %ld MiB\n", got / MIB);
	}
	for (long i = 0; i < mib * MIB; i += 4096) {
		if (p[i]) {
			printf("read: byte %ld is not zero\n", i);
			return 1;
		}
	}
	close(fd);
	return 0;
}

static void show(const char *who, int st)
{
	if (WIFEXITED(st))
		printf("%s: exit %d\n", who, WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		printf("%s: signal %d\n", who, WTERMSIG(st));
	else
		printf("%s: status %#x\n", who, st);
}

static int child(void)
{
	int fds[2];
	if (pipe(fds)) {
		printf("pipe failed %s\n", errname(errno));
		return 1;
	}
	pid_t c = fork();
	if (c == 0) {
		close(fds[0]);
		touch(64, 0);
		_exit(0);
	}
	close(fds[1]);
	char b;
	ssize_t r = read(fds[0], &b, 1);
	printf("pipe: %s\n", r == 0 ? "end of file" : "data?");
	int st;
	waitpid(c, &st, 0);
	show("child", st);
	return 0;
}

static int victim(void)
{
	int ready[2];
	if (pipe(ready)) {
		printf("pipe failed %s\n", errname(errno));
		return 1;
	}
	pid_t hog = fork();
	if (hog == 0) {
		close(ready[0]);
		touch(5, 0);
		if (write(ready[1], "r", 1) != 1)
			_exit(2);
		for (;;)
			pause();
	}
	close(ready[1]);
	char b;
	if (read(ready[0], &b, 1) != 1) {
		printf("the hog did not get ready\n");
		return 1;
	}
	pid_t reader = fork();
	if (reader == 0)
		_exit(read_zero(3, 0) ? 1 : 0);
	int st;
	waitpid(reader, &st, 0);
	show("reader", st);
	kill(hog, SIGKILL); /* gone already if the OOM killer took it */
	waitpid(hog, &st, 0);
	show("hog", st);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc < 2) {
		fprintf(stderr, "usage: lowmem touch|read|child|victim\n");
		return 2;
	}
	const char *s = argv[1];
	int r;
	if (!strcmp(s, "touch"))
		r = (touch(64, 1), 0);
	else if (!strcmp(s, "read"))
		r = read_zero(64, 1);
	else if (!strcmp(s, "child"))
		r = child();
	else if (!strcmp(s, "victim"))
		r = victim();
	else {
		fprintf(stderr, "lowmem: no section %s\n", s);
		return 2;
	}
	printf("done %s\n", s);
	return r;
}
