/* devzero: read(2) of one byte from /dev/zero; prints "ns/op <float>". */
#include <fcntl.h>
#include <unistd.h>
#include "bench.h"

static void body(void *arg, long n)
{
	int fd = *(int *)arg;
	char c;
	for (long i = 0; i < n; i++)
		if (read(fd, &c, 1) != 1)
			bench_die("read /dev/zero");
}

int main(int argc, char **argv)
{
	int fd = open("/dev/zero", O_RDONLY);
	if (fd < 0)
		bench_die("open /dev/zero");
	printf("ns/op %.1f\n", bench_loop(bench_budget_ms(argc, argv), body, &fd));
	return 0;
}
