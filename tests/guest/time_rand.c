/* time_rand: clocks, entropy and uname. Prints only verdicts, never values.
 * time() is not used: glibc without a vDSO falls back to the old `time`
 * syscall, which the guest kernel need not serve; CLOCK_REALTIME stands in. */
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <time.h>

static long long ns(const struct timespec *t)
{
	return t->tv_sec * 1000000000LL + t->tv_nsec;
}

int main(void)
{
	struct timespec a, b, real;
	clock_gettime(CLOCK_MONOTONIC, &a);
	volatile unsigned spin = 0;
	for (unsigned i = 0; i < 100000; i++)
		spin += i;
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("monotonic non-decreasing: %s\n", ns(&b) >= ns(&a) ? "yes" : "no");
	printf("monotonic nsec in range: %s\n",
	       a.tv_nsec >= 0 && a.tv_nsec < 1000000000 ? "yes" : "no");

	struct timeval tv;
	int r = gettimeofday(&tv, NULL);
	clock_gettime(CLOCK_REALTIME, &real);
	printf("gettimeofday: %d\n", r);
	long long diff = real.tv_sec - tv.tv_sec;
	printf("gettimeofday within 1s of CLOCK_REALTIME: %s\n",
	       diff >= -1 && diff <= 1 ? "yes" : "no");
	/* 2020-01-01T00:00:00Z */
	printf("realtime after 2020: %s\n", real.tv_sec > 1577836800 ? "yes" : "no");
	printf("usec in range: %s\n", tv.tv_usec >= 0 && tv.tv_usec < 1000000 ? "yes" : "no");

	unsigned char buf[32];
	memset(buf, 0, sizeof buf);
	long n = getrandom(buf, sizeof buf, 0);
	int nonzero = 0;
	for (unsigned i = 0; i < sizeof buf; i++)
		nonzero |= buf[i];
	printf("getrandom: %ld, not all zero: %s\n", n, nonzero ? "yes" : "no");

	struct utsname u;
	printf("uname: %d\n", uname(&u));
	printf("sysname=%s\n", u.sysname);
	printf("machine=%s\n", u.machine);
	return 0;
}
