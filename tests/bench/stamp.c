/* stamp: prints "stamp <ns>" (CLOCK_MONOTONIC) with one write(2), then, if
 * given a command, execve(2)s it with the same environment.
 *
 * The macro benchmarks time themselves with it, without needing fork:
 * `stamp /bin/sh work.sh`, where work.sh ends in `exec stamp /bin/sh
 * check.sh`. The difference of the two stamps is the workload's time, with
 * the sandbox's start-up (or a UML boot) left out. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	char line[64];
	int n = snprintf(line, sizeof line, "stamp %lld\n",
			 (long long)t.tv_sec * 1000000000LL + t.tv_nsec);
	if (write(1, line, n) != n)
		return 1;
	if (argc > 1) {
		execve(argv[1], argv + 1, environ);
		perror(argv[1]);
		return 127;
	}
	return 0;
}
