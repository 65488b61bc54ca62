/* mutex: lock + unlock of an uncontended pthread mutex in a process that has
 * a second thread (so libc takes its threaded paths); no syscall is made.
 * Prints "ns/op <float>". */
#include <pthread.h>
#include "bench.h"

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static volatile long counter;

static void *idle(void *arg)
{
	return arg;
}

static void body(void *arg, long n)
{
	(void)arg;
	for (long i = 0; i < n; i++) {
		pthread_mutex_lock(&m);
		counter++;
		pthread_mutex_unlock(&m);
	}
}

int main(int argc, char **argv)
{
	pthread_t t;
	int e = pthread_create(&t, NULL, idle, NULL);
	if (e != 0) {
		errno = e;
		bench_die("pthread_create");
	}
	pthread_join(t, NULL);
	printf("ns/op %.1f\n", bench_loop(bench_budget_ms(argc, argv), body, NULL));
	return 0;
}
