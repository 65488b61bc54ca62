/* stat: stat(2) of an existing path (argv[2], default /bench/true) with three
 * components; prints "ns/op <float>". */
#include <sys/stat.h>
#include "bench.h"

static void body(void *arg, long n)
{
	const char *path = arg;
	struct stat st;
	for (long i = 0; i < n; i++)
		if (stat(path, &st) != 0)
			bench_die(path);
}

int main(int argc, char **argv)
{
	char *path = argc > 2 ? argv[2] : "/bench/true";
	printf("ns/op %.1f\n", bench_loop(bench_budget_ms(argc, argv), body, path));
	return 0;
}
