/* futex: ping-pong between two threads of one process through two futex
 * words (FUTEX_WAIT / FUTEX_WAKE, private); prints "ns/op <float>", one op
 * being a round trip, as the pipe benchmark's. */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "bench.h"

/* <linux/futex.h> is not in musl-gcc's include path. */
#define FUTEX_WAIT_PRIVATE 128
#define FUTEX_WAKE_PRIVATE 129

/* ping: 1 when the other thread may go; pong: 1 when the main thread may. */
static atomic_int ping, pong;
static atomic_int stop;

static void fwait(atomic_int *w)
{
	while (atomic_load(w) == 0) {
		if (syscall(SYS_futex, w, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0) != 0 &&
		    errno != EAGAIN && errno != EINTR)
			bench_die("futex wait");
	}
	atomic_store(w, 0);
}

static void fwake(atomic_int *w)
{
	atomic_store(w, 1);
	if (syscall(SYS_futex, w, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0) < 0)
		bench_die("futex wake");
}

static void *partner(void *arg)
{
	(void)arg;
	for (;;) {
		fwait(&ping);
		if (atomic_load(&stop))
			return NULL;
		fwake(&pong);
	}
}

static void body(void *arg, long n)
{
	(void)arg;
	for (long i = 0; i < n; i++) {
		fwake(&ping);
		fwait(&pong);
	}
}

int main(int argc, char **argv)
{
	pthread_t t;
	int e = pthread_create(&t, NULL, partner, NULL);
	if (e != 0) {
		errno = e;
		bench_die("pthread_create");
	}
	double ns = bench_loop(bench_budget_ms(argc, argv), body, NULL);
	atomic_store(&stop, 1);
	fwake(&ping);
	pthread_join(t, NULL);
	printf("ns/op %.1f\n", ns);
	return 0;
}
