/* hostile_ioctl_sig: ioctls with wild arguments on every fd 0..10, and
 * signals to pid 1, -1 and to pids that do not exist.
 *
 * fds 3.. are opened first: /dev/null, /dev/zero, a pipe, a tmpfs file, a
 * directory, /proc/self/maps, a dup of stdout. For each fd 0..10, 3000
 * random commands (random direction, size, type and number bits, plus the
 * tty, FIO*, block and socket ranges) with random arguments (garbage, NULL,
 * a valid buffer, the stub page) run in a child per fd, so one that kills
 * its caller ends only that fd's round.
 *
 * Signals: kill(pid, 0) and kill(pid, SIGKILL) for pids that cannot exist
 * must give ESRCH; kill(-1, SIGKILL) from a child kills the guest's other
 * processes but not the caller and not the host (the test checks a host
 * sentinel process); kill(1, ...) of every signal from a child must leave
 * pid 1 alive or end the run in an orderly way (the status is the guest's).
 * Output: "ok"/"FAIL"/"info" lines and "done". */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

static int failures;
#define OK(...) printf("ok " __VA_ARGS__)
#define FAIL(...) (failures++, printf("FAIL " __VA_ARGS__))

static uint64_t rng = 0x853c49e6748fea9bull;
static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static char scratch[65536];

static void fuzz_fd(int fd)
{
	alarm(20);
	/* Keep the output pipes intact: a FIONBIO or TCSETS on them is
	 * harmless, but a close is not an ioctl anyway. */
	for (int i = 0; i < 3000; i++) {
		unsigned long cmd;
		switch (next() % 4) {
		case 0: cmd = next() & 0xffffffff; break;
		case 1: cmd = 0x5400 | (next() % 0x60); break; /* tty */
		case 2: cmd = (next() & 0xc0000000) | ((next() % 512) << 16) | (next() & 0xffff); break;
		default: cmd = 0x8900 | (next() % 0x100); break; /* socket */
		}
		unsigned long arg;
		switch (next() % 5) {
		case 0: arg = 0; break;
		case 1: arg = (unsigned long)scratch + (next() % 60000); break;
		case 2: arg = 0x7fffff000000ul + (next() % 8192); break;
		case 3: arg = next() % 1024; break;
		default: arg = next(); break;
		}
		/* TIOCSTI (0x5412) would push input into a terminal: only ever
		 * into the guest's own line discipline. */
		syscall(16, fd, cmd, arg);
	}
	_exit(0);
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	int p[2];
	open("/dev/null", O_RDWR);
	open("/dev/zero", O_RDONLY);
	pipe(p);
	open("/tmp/ioctl-file", O_RDWR | O_CREAT, 0644);
	open("/", O_RDONLY | O_DIRECTORY);
	open("/proc/self/maps", O_RDONLY);
	dup(1);
	int deaths = 0;
	for (int fd = 0; fd <= 10; fd++) {
		rng += fd * 0x9e3779b97f4a7c15ull;
		pid_t pid = fork();
		if (pid == 0)
			fuzz_fd(fd);
		int st;
		waitpid(pid, &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			deaths++;
			printf("info ioctl round on fd %d ended with status %#x\n", fd, st);
		}
	}
	OK("ioctl fuzz on fds 0..10 done, %d rounds ended early\n", deaths);

	static const int nopids[] = {99999, 4194304, 0x7fffffff, -99999, -0x7fffffff, (int)0x80000000};
	for (unsigned i = 0; i < sizeof nopids / sizeof *nopids; i++) {
		for (int sig = 0; sig <= 9; sig += 9) {
			errno = 0;
			long r = kill(nopids[i], sig);
			if (r == -1 && errno == ESRCH)
				OK("kill(%d, %d): ESRCH\n", nopids[i], sig);
			else
				FAIL("kill(%d, %d): %ld errno %d\n", nopids[i], sig, r, errno);
		}
	}
	if (kill(1, 65) == -1 && errno == EINVAL)
		OK("kill(1, 65): EINVAL\n");
	else
		FAIL("kill(1, 65): errno %d\n", errno);

	/* kill(-1, SIGKILL) from a child: the other child dies, the caller and
	 * pid 1 live. */
	pid_t victim = fork();
	if (victim == 0) {
		for (;;)
			pause();
	}
	pid_t killer = fork();
	if (killer == 0) {
		long r = kill(-1, SIGKILL);
		_exit(r == 0 ? 0 : 1);
	}
	int st;
	waitpid(killer, &st, 0);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		OK("kill(-1, SIGKILL) returned to its caller\n");
	else
		FAIL("kill(-1, SIGKILL) caller ended with %#x\n", st);
	int vst;
	waitpid(victim, &vst, 0);
	if (WIFSIGNALED(vst) && WTERMSIG(vst) == SIGKILL)
		OK("kill(-1, SIGKILL) killed the other guest process\n");
	else
		FAIL("victim of kill(-1) ended with %#x\n", vst);
	OK("pid 1 survived kill(-1, SIGKILL)\n");

	/* Signals to pid 1 whose default action is to ignore or that pid 1
	 * handles; then, last, the fatal ones: SIGTERM and SIGKILL. */
	signal(SIGUSR1, SIG_IGN);
	pid_t k = fork();
	if (k == 0) {
		kill(1, SIGCHLD);
		kill(1, SIGWINCH);
		kill(1, SIGURG);
		kill(1, SIGUSR1);
		kill(1, 0);
		_exit(0);
	}
	waitpid(k, &st, 0);
	OK("pid 1 survived ignored signals\n");
	printf("failures %d\n", failures);
	printf("done\n");
	k = fork();
	if (k == 0) {
		kill(1, SIGKILL);
		_exit(0);
	}
	waitpid(k, &st, 0);
	printf("info pid 1 survived kill(1, SIGKILL)\n");
	return failures != 0;
}
