/* getppid: the syscall round-trip benchmark. Calls getppid through
 * syscall(2), so no libc caching can skip the trap, for at least argv[1]
 * milliseconds (default 300), and prints "ns/op <float>". */
#include <sys/syscall.h>
#include <unistd.h>
#include "bench.h"

static void body(void *arg, long n)
{
	(void)arg;
	for (long i = 0; i < n; i++)
		syscall(SYS_getppid);
}

int main(int argc, char **argv)
{
	printf("ns/op %.1f\n", bench_loop(bench_budget_ms(argc, argv), body, NULL));
	return 0;
}
