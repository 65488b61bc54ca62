/* sysemu_floor: the floor of the PTRACE_SYSEMU mechanism umbra is built on.
 *
 * usage: sysemu_floor [-c CPU] PROGRAM [ARGS...]
 *
 * Runs PROGRAM (normally tests/bench/getppid) under a bare tracer that does
 * for getppid exactly what a SYSEMU-based kernel must do at the least:
 * PTRACE_SYSEMU, waitpid, PTRACE_GETREGS, set rax = 1, PTRACE_SETREGS. Nothing
 * else happens per call, so the benchmark's ns/op is the mechanism's floor.
 *
 * Every other syscall (execve, brk, write, exit_group, ...) must still run:
 * a SYSEMU entry stop has already decided to skip the call, whatever the
 * tracer resumes with. So the tracer rewinds the tracee to the syscall
 * instruction (rip -= 2, rax = orig_rax) and resumes with PTRACE_SYSCALL: the
 * call is entered again, this time for real, and is followed by its exit stop,
 * after which tracing goes back to PTRACE_SYSEMU. These calls are rare and
 * outside the timed loop.
 *
 * The tracer and the tracee are pinned to one CPU (the first one in the
 * current affinity mask, or -c CPU): a stop whose tracer sits on another CPU
 * pays a cross-CPU wake-up. The program's own output passes through; the
 * exit status is the program's, or 128 + N if signal N killed it. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef PTRACE_SYSEMU
#define PTRACE_SYSEMU 31
#endif

static void die(const char *what)
{
	fprintf(stderr, "sysemu_floor: %s: %s\n", what, strerror(errno));
	exit(125);
}

int main(int argc, char **argv)
{
	int argi = 1, cpu = -1;
	if (argc > 2 && strcmp(argv[1], "-c") == 0) {
		cpu = atoi(argv[2]);
		argi = 3;
	}
	if (argi >= argc) {
		fprintf(stderr, "usage: sysemu_floor [-c CPU] PROGRAM [ARGS...]\n");
		return 2;
	}
	cpu_set_t set;
	if (cpu < 0) {
		if (sched_getaffinity(0, sizeof set, &set) != 0)
			die("sched_getaffinity");
		for (cpu = 0; cpu < CPU_SETSIZE && !CPU_ISSET(cpu, &set); cpu++)
			;
	}
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	/* Before fork, so the child inherits it. */
	if (sched_setaffinity(0, sizeof set, &set) != 0)
		die("sched_setaffinity");

	pid_t child = fork();
	if (child < 0)
		die("fork");
	if (child == 0) {
		if (ptrace(PTRACE_TRACEME, 0, 0, 0) != 0)
			die("PTRACE_TRACEME");
		raise(SIGSTOP);
		execv(argv[argi], argv + argi);
		die("execv");
	}

	int status;
	if (waitpid(child, &status, 0) != child || !WIFSTOPPED(status))
		die("waitpid (initial stop)");
	if (ptrace(PTRACE_SETOPTIONS, child, 0,
		   PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL | PTRACE_O_TRACEEXEC) != 0)
		die("PTRACE_SETOPTIONS");

	/* 0: stopped at a SYSEMU entry or elsewhere, next resume is SYSEMU.
	 * 1: a rewound call is being re-entered for real (PTRACE_SYSCALL).
	 * 2: that call is running, its exit stop comes next. */
	int phase = 0;
	int request = PTRACE_SYSEMU, sig = 0;
	unsigned long emulated = 0, passed = 0;
	for (;;) {
		if (ptrace(request, child, 0, sig) != 0)
			die("ptrace resume");
		sig = 0;
		if (waitpid(child, &status, 0) != child)
			die("waitpid");
		if (WIFEXITED(status)) {
			fprintf(stderr, "sysemu_floor: %lu emulated, %lu passed through\n",
				emulated, passed);
			return WEXITSTATUS(status);
		}
		if (WIFSIGNALED(status))
			return 128 + WTERMSIG(status);
		if (!WIFSTOPPED(status))
			continue;
		int stopsig = WSTOPSIG(status);
		if (stopsig != (SIGTRAP | 0x80)) {
			/* A PTRACE_EVENT stop (exec) is swallowed; a real signal is
			 * passed on. */
			if (status >> 16 == 0)
				sig = stopsig;
			request = phase == 0 ? PTRACE_SYSEMU : PTRACE_SYSCALL;
			continue;
		}
		if (phase == 1) {
			phase = 2;
			request = PTRACE_SYSCALL;
			continue;
		}
		if (phase == 2) {
			phase = 0;
			request = PTRACE_SYSEMU;
			continue;
		}
		struct user_regs_struct regs;
		if (ptrace(PTRACE_GETREGS, child, 0, &regs) != 0)
			die("PTRACE_GETREGS");
		if (regs.orig_rax == SYS_getppid) {
			regs.rax = 1;
			if (ptrace(PTRACE_SETREGS, child, 0, &regs) != 0)
				die("PTRACE_SETREGS");
			emulated++;
			request = PTRACE_SYSEMU;
		} else {
			regs.rip -= 2;
			regs.rax = regs.orig_rax;
			if (ptrace(PTRACE_SETREGS, child, 0, &regs) != 0)
				die("PTRACE_SETREGS");
			passed++;
			phase = 1;
			request = PTRACE_SYSCALL;
		}
	}
}
