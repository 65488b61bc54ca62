/* mmap: mmap(2) of 64 KiB of anonymous memory, one byte written (one page
 * fault), munmap(2); prints "ns/op <float>". Writing the byte makes the
 * mapping real in sandboxes that only record it until first use. */
#include <sys/mman.h>
#include "bench.h"

static void body(void *arg, long n)
{
	(void)arg;
	for (long i = 0; i < n; i++) {
		volatile char *m = mmap(NULL, 64 << 10, PROT_READ | PROT_WRITE,
					MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED)
			bench_die("mmap");
		m[0] = 1;
		if (munmap((void *)m, 64 << 10) != 0)
			bench_die("munmap");
	}
}

int main(int argc, char **argv)
{
	printf("ns/op %.1f\n", bench_loop(bench_budget_ms(argc, argv), body, NULL));
	return 0;
}
