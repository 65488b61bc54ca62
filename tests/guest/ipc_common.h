/* ipc_common.h: helpers of the System V and POSIX IPC test programs.
 *
 * IPC objects are global on the host, and the native runs of the tests run
 * in parallel: the programs use IPC_PRIVATE or keys and names made from their
 * pid, remove everything they create, and never print an identifier, key or
 * address. */
#ifndef UMBRA_IPC_COMMON_H
#define UMBRA_IPC_COMMON_H

#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include "common.h"

static const char *ipc_errname(int e)
{
	switch (e) {
	case EIDRM: return "EIDRM";
	case E2BIG: return "E2BIG";
	case EAGAIN: return "EAGAIN";
	case EFBIG: return "EFBIG";
	case EINTR: return "EINTR";
	case ENOMSG: return "ENOMSG";
	case EMSGSIZE: return "EMSGSIZE";
	case ETIMEDOUT: return "ETIMEDOUT";
	case EBUSY: return "EBUSY";
	case EMFILE: return "EMFILE";
	default: return errname(e);
	}
}

/* Prints "what: result" (or "what: -1 ERRNO"). */
__attribute__((unused)) static long ck(const char *what, long r)
{
	if (r < 0)
		printf("%s: -1 %s\n", what, ipc_errname(errno));
	else
		printf("%s: %ld\n", what, r);
	fflush(stdout);
	return r;
}

/* Prints only whether the call succeeded (for calls returning identifiers
 * or addresses, which differ between runs). */
__attribute__((unused)) static long ok(const char *what, long r)
{
	if (r < 0)
		printf("%s: -1 %s\n", what, ipc_errname(errno));
	else
		printf("%s: ok\n", what);
	fflush(stdout);
	return r;
}

/* A key unique to this process (pid-based), `n` < 16. */
__attribute__((unused)) static key_t ukey(int n)
{
	return (key_t)(0x40000000 | ((getpid() & 0x3fffff) << 4) | (n & 15));
}

/* Waits for `pid` to be asleep (state S in /proc/PID/stat): it is parked in
 * the blocking call it made next. */
__attribute__((unused)) static void wait_sleeping(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	for (int i = 0; i < 20000; i++) {
		FILE *f = fopen(path, "r");
		if (f) {
			size_t n = fread(buf, 1, sizeof buf - 1, f);
			fclose(f);
			buf[n] = 0;
			char *p = strrchr(buf, ')');
			if (p && p[1] == ' ' && p[2] == 'S')
				return;
		}
		usleep(1000);
	}
	printf("wait_sleeping: %d never slept\n", (int)pid);
}

/* Waits for a child and prints how it ended if not with status 0. */
__attribute__((unused)) static void reap(pid_t pid, const char *what)
{
	int st;
	if (waitpid(pid, &st, 0) != pid)
		printf("%s: waitpid failed\n", what);
	else if (WIFSIGNALED(st))
		printf("%s: child killed by signal %d\n", what, WTERMSIG(st));
	else if (WEXITSTATUS(st) != 0)
		printf("%s: child exit %d\n", what, WEXITSTATUS(st));
	fflush(stdout);
}

/* Drops root in a child: uid and gid 1000. */
__attribute__((unused)) static void drop_privs(void)
{
	if (setgid(1000) != 0 || setuid(1000) != 0) {
		printf("drop_privs: -1 %s\n", errname(errno));
		_exit(1);
	}
}

/* Runs the sections named on the command line (all when none). */
struct section {
	const char *name;
	void (*fn)(void);
};

__attribute__((unused)) static int run_sections(const struct section *s, int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (; s->name; s++) {
		int want = argc < 2;
		for (int i = 1; i < argc; i++)
			if (!strcmp(argv[i], s->name))
				want = 1;
		if (!want)
			continue;
		printf("== %s\n", s->name);
		fflush(stdout);
		s->fn();
	}
	return 0;
}

#endif
