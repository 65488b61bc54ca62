/* fork: fork(2), the child _exit(0)s at once, the parent waitpid(2)s; prints
 * "ns/op <float>". */
#include <sys/wait.h>
#include <unistd.h>
#include "bench.h"

static void body(void *arg, long n)
{
	(void)arg;
	for (long i = 0; i < n; i++) {
		pid_t pid = fork();
		if (pid < 0)
			bench_die("fork");
		if (pid == 0)
			_exit(0);
		int st;
		if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			bench_die("waitpid");
	}
}

int main(int argc, char **argv)
{
	printf("ns/op %.1f\n", bench_loop(bench_budget_ms(argc, argv), body, NULL));
	return 0;
}
