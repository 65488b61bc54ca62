/* forkexec: fork(2), the child execve(2)s a tiny static program (argv[2],
 * default /bench/true), the parent waitpid(2)s; prints "ns/op <float>". */
#include <sys/wait.h>
#include <unistd.h>
#include "bench.h"

static void body(void *arg, long n)
{
	char *path = arg;
	char *args[] = { path, NULL }, *env[] = { NULL };
	for (long i = 0; i < n; i++) {
		pid_t pid = fork();
		if (pid < 0)
			bench_die("fork");
		if (pid == 0) {
			execve(path, args, env);
			_exit(127);
		}
		int st;
		if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			bench_die("waitpid (or the exec failed)");
	}
}

int main(int argc, char **argv)
{
	char *path = argc > 2 ? argv[2] : "/bench/true";
	printf("ns/op %.1f\n", bench_loop(bench_budget_ms(argc, argv), body, path));
	return 0;
}
