/* pagefault: the page-fault benchmark. Maps 64 MiB (argv[1] MiB if given) of
 * anonymous memory, writes one byte to each page, and prints "ns/page <float>".
 * Every write is a first touch, so each one costs one fault. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

int main(int argc, char **argv)
{
	long mib = argc > 1 ? atol(argv[1]) : 64;
	if (mib <= 0)
		mib = 1;
	size_t len = (size_t)mib << 20, page = 4096;
	volatile unsigned char *m = mmap(NULL, len, PROT_READ | PROT_WRITE,
					 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED) {
		printf("mmap failed\n");
		return 1;
	}
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (size_t i = 0; i < len; i += page)
		m[i] = 1;
	clock_gettime(CLOCK_MONOTONIC, &b);
	double ns = (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);
	printf("ns/page %.1f\n", ns / (double)(len / page));
	return 0;
}
