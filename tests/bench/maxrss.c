/* maxrss: runs a command and reports the peak RSS the kernel recorded for it.
 *
 * usage: maxrss [-s] PROGRAM [ARGS...]
 *
 * fork(2)s, execvp(3)s the command, wait4(2)s for it and prints
 * "maxrss-kb <N>" on stderr, N being getrusage(RUSAGE_CHILDREN).ru_maxrss:
 * the largest peak of the command and of every descendant reaped below it
 * (the largest, not the sum). The exit status is the command's, or 128 + N
 * for signal N.
 *
 * Why a wrapper: ru_maxrss also records the RSS a process had before its
 * execve, so a child forked straight from a large parent (cargo xtask)
 * reports the parent's size. Forked from this small static program, it
 * reports its own.
 *
 * -s: become a child subreaper (PR_SET_CHILD_SUBREAPER) and, after the
 * command, wait for every descendant that was reparented here too. For
 * commands that daemonize part of their work, such as podman's conmon and
 * the container under it: they stay in the process tree the bench samples
 * instead of moving under init. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int reap = argc > 1 && strcmp(argv[1], "-s") == 0;
	if (reap) {
		argv++;
		argc--;
		if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) {
			perror("PR_SET_CHILD_SUBREAPER");
			return 125;
		}
	}
	if (argc < 2) {
		fprintf(stderr, "usage: maxrss [-s] PROGRAM [ARGS...]\n");
		return 2;
	}
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		return 125;
	}
	if (pid == 0) {
		execvp(argv[1], argv + 1);
		perror(argv[1]);
		_exit(127);
	}
	int st;
	if (waitpid(pid, &st, 0) != pid) {
		perror("waitpid");
		return 125;
	}
	/* The orphans reparented here, until none is left. */
	while (reap && (waitpid(-1, NULL, 0) > 0 || errno == EINTR))
		;
	struct rusage ru;
	getrusage(RUSAGE_CHILDREN, &ru);
	fprintf(stderr, "maxrss-kb %ld\n", ru.ru_maxrss);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
