/* pipe: ping-pong of one byte between two processes over two pipes; prints
 * "ns/op <float>", one op being a round trip (two writes, two reads, two
 * context switches each way). */
#include <sys/wait.h>
#include <unistd.h>
#include "bench.h"

static int to_child[2], to_parent[2];

static void body(void *arg, long n)
{
	(void)arg;
	char c = 'x';
	for (long i = 0; i < n; i++) {
		if (write(to_child[1], &c, 1) != 1)
			bench_die("write");
		if (read(to_parent[0], &c, 1) != 1)
			bench_die("read");
	}
}

int main(int argc, char **argv)
{
	if (pipe(to_child) != 0 || pipe(to_parent) != 0)
		bench_die("pipe");
	pid_t pid = fork();
	if (pid < 0)
		bench_die("fork");
	if (pid == 0) {
		char c;
		close(to_child[1]);
		close(to_parent[0]);
		while (read(to_child[0], &c, 1) == 1)
			if (write(to_parent[1], &c, 1) != 1)
				_exit(1);
		_exit(0);
	}
	close(to_child[0]);
	close(to_parent[1]);
	double ns = bench_loop(bench_budget_ms(argc, argv), body, NULL);
	close(to_child[1]);
	int st;
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "error: child failed\n");
		return 1;
	}
	printf("ns/op %.1f\n", ns);
	return 0;
}
