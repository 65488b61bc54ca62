/* bench.h: the time-budgeted loop shared by the micro benchmarks.
 *
 * bench_loop(min_ms, fn, arg) calls fn(arg, n) with batches of n = 1, 2, 4, ...
 * iterations until at least min_ms milliseconds have passed, and returns the
 * mean nanoseconds per iteration. Doubling batches keep clock_gettime (a real
 * syscall in a sandbox without a vDSO) out of the per-iteration cost, and a
 * time budget instead of a fixed count keeps one run short whether an
 * iteration costs 50 ns natively or 50 us in a sandbox.
 *
 * Every benchmark takes the budget in milliseconds as argv[1] (default 300)
 * and prints one line "ns/op <float>" (or its own unit), nothing else on
 * success. A failure prints "error: ..." on stderr and exits non-zero. */
#ifndef BENCH_H
#define BENCH_H
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline double bench_now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

static inline void bench_die(const char *what)
{
	fprintf(stderr, "error: %s: %s\n", what, strerror(errno));
	exit(1);
}

static inline long bench_budget_ms(int argc, char **argv)
{
	long ms = argc > 1 ? atol(argv[1]) : 300;
	return ms > 0 ? ms : 1;
}

static inline double bench_loop(long min_ms, void (*fn)(void *, long), void *arg)
{
	double start = bench_now_ns(), end = start, limit = min_ms * 1e6;
	long total = 0;
	for (long n = 1; end - start < limit; n *= 2) {
		fn(arg, n);
		total += n;
		end = bench_now_ns();
	}
	return (end - start) / (double)total;
}
#endif
