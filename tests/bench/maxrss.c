/* maxrss: runs a command and reports the peak RSS the kernel recorded for it.
 *
 * usage: maxrss PROGRAM [ARGS...]
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
 * reports its own. */
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: maxrss PROGRAM [ARGS...]\n");
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
	struct rusage ru;
	getrusage(RUSAGE_CHILDREN, &ru);
	fprintf(stderr, "maxrss-kb %ld\n", ru.ru_maxrss);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
