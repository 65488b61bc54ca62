/* openclose: open(2) + close(2) of an existing file (argv[2], default
 * /bench/true); prints "ns/op <float>". */
#include <fcntl.h>
#include <unistd.h>
#include "bench.h"

static void body(void *arg, long n)
{
	const char *path = arg;
	for (long i = 0; i < n; i++) {
		int fd = open(path, O_RDONLY);
		if (fd < 0)
			bench_die(path);
		close(fd);
	}
}

int main(int argc, char **argv)
{
	char *path = argc > 2 ? argv[2] : "/bench/true";
	printf("ns/op %.1f\n", bench_loop(bench_budget_ms(argc, argv), body, path));
	return 0;
}
