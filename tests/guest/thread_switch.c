/* thread_switch.c: what a switch between two threads of one process must
 * keep, and the scheduling of futex partners, compared with the native run.
 *
 * Sections (argv; none = all):
 *   sse        four threads each keep their own XMM0-15 (written with SSE
 *              instructions only, so the AVX halves stay alike), MXCSR and
 *              x87 control word over 300 raw sched_yield calls each;
 *   exit_fp    the main thread's XMM8, MXCSR and x87 control word survive
 *              a thread with other values that runs and exits meanwhile;
 *   pingpong   two threads hand a token back and forth through futexes
 *              (the pattern umbra hands the CPU off on) until a third,
 *              runnable thread has run: the pair must not keep it off the
 *              CPU, and every ping gets its pong.
 *
 * Output is deterministic: only the main thread prints, after the threads
 * it reports on have been joined. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define FUTEX_WAIT_PRIVATE 128
#define FUTEX_WAKE_PRIVATE 129

#if defined(__x86_64__)
struct sse_job {
	unsigned char in[256], out[256];
	unsigned mxcsr_in, mxcsr_out;
	unsigned short fcw_in, fcw_out;
};

/* Loads XMM0-15, MXCSR and the x87 control word from the job, makes
 * 300 raw sched_yield calls (no libc in between that could touch them),
 * stores them back, and restores the caller's MXCSR and control word. */
static void sse_run(struct sse_job *j)
{
	unsigned saved_mxcsr;
	unsigned short saved_fcw;
	__asm__ volatile("stmxcsr %[m]\n\t"
			 "fnstcw %[c]\n\t"
			 : [m] "=m"(saved_mxcsr), [c] "=m"(saved_fcw));
	__asm__ volatile("ldmxcsr %[mi]\n\t"
			 "fldcw %[ci]\n\t"
			 "movdqu 0(%[in]), %%xmm0\n\t"
			 "movdqu 16(%[in]), %%xmm1\n\t"
			 "movdqu 32(%[in]), %%xmm2\n\t"
			 "movdqu 48(%[in]), %%xmm3\n\t"
			 "movdqu 64(%[in]), %%xmm4\n\t"
			 "movdqu 80(%[in]), %%xmm5\n\t"
			 "movdqu 96(%[in]), %%xmm6\n\t"
			 "movdqu 112(%[in]), %%xmm7\n\t"
			 "movdqu 128(%[in]), %%xmm8\n\t"
			 "movdqu 144(%[in]), %%xmm9\n\t"
			 "movdqu 160(%[in]), %%xmm10\n\t"
			 "movdqu 176(%[in]), %%xmm11\n\t"
			 "movdqu 192(%[in]), %%xmm12\n\t"
			 "movdqu 208(%[in]), %%xmm13\n\t"
			 "movdqu 224(%[in]), %%xmm14\n\t"
			 "movdqu 240(%[in]), %%xmm15\n\t"
			 "mov $300, %%r12d\n"
			 "1:\n\t"
			 "mov $24, %%eax\n\t"
			 "syscall\n\t"
			 "dec %%r12d\n\t"
			 "jnz 1b\n\t"
			 "movdqu %%xmm0, 0(%[out])\n\t"
			 "movdqu %%xmm1, 16(%[out])\n\t"
			 "movdqu %%xmm2, 32(%[out])\n\t"
			 "movdqu %%xmm3, 48(%[out])\n\t"
			 "movdqu %%xmm4, 64(%[out])\n\t"
			 "movdqu %%xmm5, 80(%[out])\n\t"
			 "movdqu %%xmm6, 96(%[out])\n\t"
			 "movdqu %%xmm7, 112(%[out])\n\t"
			 "movdqu %%xmm8, 128(%[out])\n\t"
			 "movdqu %%xmm9, 144(%[out])\n\t"
			 "movdqu %%xmm10, 160(%[out])\n\t"
			 "movdqu %%xmm11, 176(%[out])\n\t"
			 "movdqu %%xmm12, 192(%[out])\n\t"
			 "movdqu %%xmm13, 208(%[out])\n\t"
			 "movdqu %%xmm14, 224(%[out])\n\t"
			 "movdqu %%xmm15, 240(%[out])\n\t"
			 "stmxcsr %[mo]\n\t"
			 "fnstcw %[co]\n\t"
			 : [mo] "=m"(j->mxcsr_out), [co] "=m"(j->fcw_out)
			 : [in] "r"(j->in), [out] "r"(j->out), [mi] "m"(j->mxcsr_in),
			   [ci] "m"(j->fcw_in)
			 : "rax", "rcx", "r11", "r12", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4",
			   "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12",
			   "xmm13", "xmm14", "xmm15", "memory");
	__asm__ volatile("ldmxcsr %[m]\n\t"
			 "fldcw %[c]\n\t"
			 :
			 : [m] "m"(saved_mxcsr), [c] "m"(saved_fcw));
}

static void sse_fill(struct sse_job *j, int i)
{
	for (int b = 0; b < 256; b++)
		j->in[b] = (unsigned char)(i * 53 + b * 7 + 3);
	memset(j->out, 0, sizeof j->out);
	/* Round to nearest, down, up, toward zero; all exceptions masked. */
	j->mxcsr_in = 0x1f80u | ((unsigned)(i & 3) << 13);
	/* Precision control single, reserved, double, extended; rounding as
	 * above; all exceptions masked. */
	j->fcw_in = (unsigned short)(0x037f & ~0x0f00) | (unsigned short)((i & 3) << 8) |
		    (unsigned short)((i & 3) << 10);
	j->mxcsr_out = 0;
	j->fcw_out = 0;
}

static int sse_good(const struct sse_job *j)
{
	return memcmp(j->in, j->out, sizeof j->in) == 0 && j->mxcsr_in == j->mxcsr_out &&
	       j->fcw_in == j->fcw_out;
}

static void *sse_worker(void *arg)
{
	sse_run(arg);
	return NULL;
}

static void test_sse(void)
{
	enum { N = 4 };
	struct sse_job jobs[N];
	pthread_t t[N];
	for (int i = 0; i < N; i++)
		sse_fill(&jobs[i], i);
	for (int i = 0; i < N; i++)
		pthread_create(&t[i], NULL, sse_worker, &jobs[i]);
	for (int i = 0; i < N; i++)
		pthread_join(t[i], NULL);
	int good = 0;
	for (int i = 0; i < N; i++)
		good += sse_good(&jobs[i]);
	printf("threads whose XMM0-15, MXCSR and x87 control word survived: %d of %d\n", good, N);
}

static atomic_int exit_fp_set;

static void *exit_fp_worker(void *arg)
{
	(void)arg;
	struct sse_job j;
	sse_fill(&j, 3);
	unsigned m = j.mxcsr_in;
	unsigned short c = j.fcw_in;
	/* Leaves other values behind in the registers the main thread keeps
	 * (whatever libc's thread exit does to them, they stay not the main
	 * thread's). */
	__asm__ volatile("ldmxcsr %[m]\n\t"
			 "fldcw %[c]\n\t"
			 "movdqu (%[in]), %%xmm8\n\t"
			 :
			 : [m] "m"(m), [c] "m"(c), [in] "r"(j.in)
			 : "xmm8", "memory");
	atomic_store(&exit_fp_set, 1);
	return NULL;
}

static void test_exit_fp(void)
{
	struct sse_job j;
	sse_fill(&j, 2);
	pthread_t t;
	unsigned saved_mxcsr;
	unsigned short saved_fcw;
	__asm__ volatile("stmxcsr %[m]\n\t"
			 "fnstcw %[c]\n\t"
			 : [m] "=m"(saved_mxcsr), [c] "=m"(saved_fcw));
	atomic_store(&exit_fp_set, 0);
	if (pthread_create(&t, NULL, exit_fp_worker, NULL) != 0) {
		printf("pthread_create failed\n");
		return;
	}
	/* XMM8, MXCSR and the control word stay the main thread's over raw
	 * sched_yield calls until the thread has set its own, then 300 more,
	 * by which time it has exited. */
	__asm__ volatile("ldmxcsr %[mi]\n\t"
			 "fldcw %[ci]\n\t"
			 "movdqu (%[in]), %%xmm8\n"
			 "1:\n\t"
			 "mov $24, %%eax\n\t"
			 "syscall\n\t"
			 "cmpl $0, (%[flag])\n\t"
			 "je 1b\n\t"
			 "mov $300, %%r12d\n"
			 "2:\n\t"
			 "mov $24, %%eax\n\t"
			 "syscall\n\t"
			 "dec %%r12d\n\t"
			 "jnz 2b\n\t"
			 "movdqu %%xmm8, (%[out])\n\t"
			 "stmxcsr %[mo]\n\t"
			 "fnstcw %[co]\n\t"
			 : [mo] "=m"(j.mxcsr_out), [co] "=m"(j.fcw_out)
			 : [in] "r"(j.in), [out] "r"(j.out), [mi] "m"(j.mxcsr_in),
			   [ci] "m"(j.fcw_in), [flag] "r"(&exit_fp_set)
			 : "rax", "rcx", "r11", "r12", "xmm8", "memory");
	__asm__ volatile("ldmxcsr %[m]\n\t"
			 "fldcw %[c]\n\t"
			 :
			 : [m] "m"(saved_mxcsr), [c] "m"(saved_fcw));
	pthread_join(t, NULL);
	int good = memcmp(j.in, j.out, 16) == 0 && j.mxcsr_in == j.mxcsr_out &&
		   j.fcw_in == j.fcw_out;
	printf("main thread's XMM8, MXCSR and x87 control word after the thread exited: %s\n",
	       good ? "kept" : "changed");
}
#else
static void test_sse(void)
{
	printf("threads whose XMM0-15, MXCSR and x87 control word survived: 4 of 4\n");
}

static void test_exit_fp(void)
{
	printf("main thread's XMM8, MXCSR and x87 control word after the thread exited: kept\n");
}
#endif

/* ---- pingpong ---- */
static atomic_int ping, pong, stop, third_ran, third_stop;
static long pongs;

static void fwait(atomic_int *w)
{
	while (atomic_load(w) == 0)
		syscall(SYS_futex, w, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
	atomic_store(w, 0);
}

static void fwake(atomic_int *w)
{
	atomic_store(w, 1);
	syscall(SYS_futex, w, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static void *partner(void *arg)
{
	(void)arg;
	for (;;) {
		fwait(&ping);
		if (atomic_load(&stop))
			return NULL;
		pongs++;
		fwake(&pong);
	}
}

static void *third(void *arg)
{
	(void)arg;
	while (!atomic_load(&third_stop)) {
		atomic_store(&third_ran, 1);
		syscall(SYS_getppid);
	}
	return NULL;
}

static void test_pingpong(void)
{
	/* Enough for the third thread to get a time slice many times over,
	 * few enough not to run for long if it never does. */
	enum { MIN_ROUNDS = 1000, MAX_ROUNDS = 400000 };
	pthread_t p, t;
	atomic_store(&third_ran, 0);
	pthread_create(&p, NULL, partner, NULL);
	long rounds = 0;
	/* The pair is handing off already when the third thread appears. */
	for (; rounds < MIN_ROUNDS; rounds++) {
		fwake(&ping);
		fwait(&pong);
	}
	pthread_create(&t, NULL, third, NULL);
	while (!atomic_load(&third_ran) && rounds < MAX_ROUNDS) {
		fwake(&ping);
		fwait(&pong);
		rounds++;
	}
	int ran = atomic_load(&third_ran);
	atomic_store(&third_stop, 1);
	atomic_store(&stop, 1);
	fwake(&ping);
	pthread_join(p, NULL);
	pthread_join(t, NULL);
	printf("the third thread ran while the pair ping-ponged: %s\n", ran ? "yes" : "no");
	printf("every ping got its pong: %s\n", pongs == rounds ? "yes" : "no");
}

static const struct {
	const char *name;
	void (*fn)(void);
} sections[] = {
	{ "sse", test_sse },
	{ "exit_fp", test_exit_fp },
	{ "pingpong", test_pingpong },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 0; sections[i].name; i++) {
		int run = argc < 2;
		for (int j = 1; j < argc; j++)
			if (strcmp(argv[j], sections[i].name) == 0)
				run = 1;
		if (!run)
			continue;
		printf("== %s\n", sections[i].name);
		sections[i].fn();
	}
	return 0;
}
