/* clock: clock_gettime(CLOCK_MONOTONIC) through libc, which takes the vDSO
 * when there is one (no trap), for at least argv[1] milliseconds (default
 * 300); prints "ns/op <float>". */
#include <time.h>
#include "bench.h"

static void body(void *arg, long n)
{
	struct timespec t;
	(void)arg;
	for (long i = 0; i < n; i++)
		clock_gettime(CLOCK_MONOTONIC, &t);
}

int main(int argc, char **argv)
{
	printf("ns/op %.1f\n", bench_loop(bench_budget_ms(argc, argv), body, NULL));
	return 0;
}
