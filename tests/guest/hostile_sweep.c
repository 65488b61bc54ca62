/* hostile_sweep: every syscall number 0..1023 with garbage arguments.
 *
 * The numbers are swept in chunks by forked children, so a call that kills
 * its caller (rt_sigreturn with a garbage frame, munmap of the own text, a
 * fatal signal) ends only that child; the parent then restarts the sweep at
 * the number after the one that killed it. Each child reports the number it
 * is about to try through a pipe before making the call. Two rounds: round 0
 * with random 64-bit arguments, round 1 with hostile pointers (the stub
 * pages, the top of the address space, kernel addresses, -1).
 *
 * A child that makes a process (fork, vfork, clone with garbage flags) goes
 * on in both copies; the copy whose pid changed exits at once.
 *
 * Skipped numbers, because they legitimately end or hang the sweep:
 *   60 exit, 231 exit_group      end the child (not a finding)
 *   34 pause, 130 rt_sigsuspend  wait for a signal forever
 *   62 kill, 200 tkill, 234 tgkill, 129 rt_sigqueueinfo,
 *   297 rt_tgsigqueueinfo, 424 pidfd_send_signal
 *                                garbage pids include 0 and -1, which
 *                                would kill the sweep itself
 * Everything else is called, fork/vfork/clone/execve included. A child that
 * still blocks is killed by its alarm (10 s) and reported as "hung".
 *
 * Output: "hung NR", "killed NR SIG" lines for information, then
 * "swept N calls, D child deaths" and "done". Exit status 0. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define NMAX 1024

static int skipped(long nr)
{
	switch (nr) {
	case 60: case 231: case 34: case 130: case 62: case 200: case 234:
	case 129: case 297: case 424:
		return 1;
	}
	return 0;
}

static uint64_t rng = 0x243f6a8885a308d3ull;
static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static const uint64_t hostile[] = {
	0x7fffff000000ull, 0x7fffff001000ull, 0x7fffff000ff8ull,
	0x7ffffffff000ull, 0x800000000000ull, 0xffff800000000000ull,
	0xffffffffff600000ull, 0xffffffffffffffffull, 0xfffffffffffff000ull,
};

static long raw6(long nr, uint64_t a, uint64_t b, uint64_t c, uint64_t d,
		 uint64_t e, uint64_t f)
{
	long r;
	register uint64_t r10 __asm__("r10") = d;
	register uint64_t r8 __asm__("r8") = e;
	register uint64_t r9 __asm__("r9") = f;
	__asm__ volatile("syscall"
			 : "=a"(r)
			 : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8),
			   "r"(r9)
			 : "rcx", "r11", "memory");
	return r;
}

static void child(int round, long from, int wfd)
{
	pid_t me = getpid();
	alarm(10);
	for (long nr = from; nr < NMAX; nr++) {
		if (skipped(nr))
			continue;
		uint64_t a[6];
		rng = 0x9e3779b97f4a7c15ull ^ (uint64_t)(nr * 7919 + round);
		for (int i = 0; i < 6; i++) {
			uint64_t v = next();
			if (round == 1)
				v = hostile[v % (sizeof hostile / sizeof *hostile)];
			else
				v |= 0x100000000ull; /* never a small fd or 0 */
			a[i] = v;
		}
		int32_t n = (int32_t)nr;
		if (write(wfd, &n, 4) != 4)
			_exit(3);
		raw6(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
		if (nr == 37 || nr == 38) /* alarm, setitimer: re-arm the watchdog */
			alarm(10);
		if (raw6(39, 0, 0, 0, 0, 0, 0) != me) /* getpid: a new process */
			raw6(60, 0, 0, 0, 0, 0, 0);
	}
	int32_t end = -1;
	write(wfd, &end, 4);
	_exit(0);
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	long calls = 0, deaths = 0;
	for (int round = 0; round < 2; round++) {
		long from = 0;
		while (from < NMAX) {
			int p[2];
			if (pipe(p) != 0) {
				printf("FAIL pipe\n");
				return 1;
			}
			pid_t pid = fork();
			if (pid < 0) {
				printf("FAIL fork\n");
				return 1;
			}
			if (pid == 0) {
				close(p[0]);
				child(round, from, p[1]);
			}
			close(p[1]);
			int32_t n, last = (int32_t)from - 1;
			int finished = 0;
			while (read(p[0], &n, 4) == 4) {
				if (n < 0) {
					finished = 1;
					break;
				}
				last = n;
				calls++;
			}
			close(p[0]);
			int st;
			while (waitpid(pid, &st, 0) < 0)
				;
			/* Children the garbage made (fork, clone) exit by themselves;
			 * reap them. */
			while (waitpid(-1, NULL, WNOHANG) > 0)
				;
			if (finished)
				break;
			deaths++;
			if (WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM)
				printf("hung %d\n", last);
			else if (WIFSIGNALED(st))
				printf("killed %d %d\n", last, WTERMSIG(st));
			else
				printf("exited %d %d\n", last, WEXITSTATUS(st));
			from = last + 1;
		}
	}
	printf("swept %ld calls, %ld child deaths\n", calls, deaths);
	printf("done\n");
	return 0;
}
