/* pthread: pthread_create + pthread_join of a thread that returns at once;
 * prints "ns/op <float>", one op being one create and its join. */
#include <pthread.h>
#include "bench.h"

static void *nothing(void *arg)
{
	return arg;
}

static void body(void *arg, long n)
{
	(void)arg;
	for (long i = 0; i < n; i++) {
		pthread_t t;
		int e = pthread_create(&t, NULL, nothing, NULL);
		if (e != 0) {
			errno = e;
			bench_die("pthread_create");
		}
		e = pthread_join(t, NULL);
		if (e != 0) {
			errno = e;
			bench_die("pthread_join");
		}
	}
}

int main(int argc, char **argv)
{
	printf("ns/op %.1f\n", bench_loop(bench_budget_ms(argc, argv), body, NULL));
	return 0;
}
