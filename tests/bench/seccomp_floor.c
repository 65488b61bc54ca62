/* seccomp_floor: the floors of a seccomp-trap syscall path (issue 13,
 * Deliver 1), measured on getppid like sysemu_floor measures PTRACE_SYSEMU.
 * usage: seccomp_floor BUDGET_MS MODE, MODE one of
 *   trap   a seccomp filter returns SECCOMP_RET_TRAP for getppid and the
 *          SIGSYS handler answers in-process: the trap's own cost (signal
 *          delivery + sigreturn);
 *   futex  the handler hands each call to another process through a shared
 *          page and waits on a futex; the server answers and wakes it. Both
 *          run on the caller's CPU: two context switches per call;
 *   spin   as futex, but each side spins (bounded) on the shared page
 *          before sleeping, and the server runs on another CPU: the cost
 *          when a second CPU is free.
 * Prints "ns/op <float>" per getppid. */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>
#include "bench.h"

/* The kernel's uapi definitions (musl-gcc has no linux/ headers). */
struct sock_filter {
	uint16_t code;
	uint8_t jt, jf;
	uint32_t k;
};
struct sock_fprog {
	unsigned short len;
	struct sock_filter *filter;
};
#define BPF_LD 0x00
#define BPF_W 0x00
#define BPF_ABS 0x20
#define BPF_JMP 0x05
#define BPF_JEQ 0x10
#define BPF_K 0x00
#define BPF_RET 0x06
#define BPF_STMT(code, k) { (uint16_t)(code), 0, 0, k }
#define BPF_JUMP(code, k, jt, jf) { (uint16_t)(code), jt, jf, k }
#define SECCOMP_SET_MODE_FILTER 1
#define SECCOMP_RET_TRAP 0x00030000U
#define SECCOMP_RET_ALLOW 0x7fff0000U
/* struct seccomp_data: int nr first. */
#define SECCOMP_DATA_NR 0
#define FUTEX_WAIT 0
#define FUTEX_WAKE 1

/* The shared page: the caller's request and the server's reply. */
struct shared {
	volatile uint32_t req; /* sequence number of the last request */
	volatile uint32_t rep; /* sequence number of the last reply */
	volatile long nr, ret;
	volatile int stop;
};

static struct shared *sh;
static int spin;
static uint32_t seq;

#define SPIN_LIMIT 20000

static long futex(volatile uint32_t *addr, int op, uint32_t val)
{
	return syscall(SYS_futex, (uint32_t *)addr, op, val, NULL, NULL, 0);
}

/* Waits until *addr != old: spinning first in spin mode. */
static void wait_change(volatile uint32_t *addr, uint32_t old)
{
	if (spin)
		for (int i = 0; i < SPIN_LIMIT && *addr == old; i++)
			__asm__ volatile("" ::: "memory");
	while (*addr == old)
		futex(addr, FUTEX_WAIT, old);
}

static long answer(long nr)
{
	if (!sh)
		return nr == SYS_getppid ? 1 : -38;
	sh->nr = nr;
	seq++;
	__atomic_store_n(&sh->req, seq, __ATOMIC_RELEASE);
	futex(&sh->req, FUTEX_WAKE, 1);
	wait_change(&sh->rep, seq - 1);
	return sh->ret;
}

static void on_sigsys(int sig, siginfo_t *si, void *uc_)
{
	(void)sig;
	ucontext_t *uc = uc_;
	long r = answer(si->si_syscall);
#if defined(__x86_64__)
	uc->uc_mcontext.gregs[REG_RAX] = r;
#elif defined(__aarch64__)
	uc->uc_mcontext.regs[0] = r;
#elif defined(__arm__)
	uc->uc_mcontext.arm_r0 = r;
#else
#error unsupported arch
#endif
}

static void server(void)
{
	uint32_t done = 0;
	for (;;) {
		wait_change(&sh->req, done);
		if (sh->stop)
			_exit(0);
		done = sh->req;
		sh->ret = sh->nr == SYS_getppid ? 1 : -38;
		__atomic_store_n(&sh->rep, done, __ATOMIC_RELEASE);
		futex(&sh->rep, FUTEX_WAKE, 1);
	}
}

static void body(void *arg, long n)
{
	(void)arg;
	for (long i = 0; i < n; i++)
		if (syscall(SYS_getppid) != 1)
			bench_die("getppid was not answered by the handler");
}

static void install_filter(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SECCOMP_DATA_NR),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof f / sizeof f[0], f };
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		bench_die("PR_SET_NO_NEW_PRIVS");
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0)
		bench_die("seccomp");
}

int main(int argc, char **argv)
{
	long budget = bench_budget_ms(argc, argv);
	const char *mode = argc > 2 ? argv[2] : "trap";
	pid_t pid = -1;
	if (strcmp(mode, "trap") != 0) {
		if (strcmp(mode, "futex") != 0 && strcmp(mode, "spin") != 0) {
			fprintf(stderr, "error: bad mode %s\n", mode);
			return 1;
		}
		spin = !strcmp(mode, "spin");
		sh = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (sh == MAP_FAILED)
			bench_die("mmap");
		int other = -1;
		if (spin) {
			/* The server goes to a CPU other than the caller's. */
			cpu_set_t all;
			if (sched_getaffinity(0, sizeof all, &all) != 0)
				bench_die("sched_getaffinity");
			int me = sched_getcpu();
			for (int c = 0; c < CPU_SETSIZE && other < 0; c++)
				if (c != me)
					other = c;
			long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
			if (other >= ncpu) {
				fprintf(stderr, "error: spin needs a second CPU\n");
				return 1;
			}
		}
		pid = fork();
		if (pid < 0)
			bench_die("fork");
		if (pid == 0) {
			if (spin) {
				cpu_set_t s;
				CPU_ZERO(&s);
				CPU_SET(other, &s);
				if (sched_setaffinity(0, sizeof s, &s) != 0)
					bench_die("sched_setaffinity");
			}
			server();
		}
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_sigsys;
	sa.sa_flags = SA_SIGINFO;
	if (sigaction(SIGSYS, &sa, NULL) != 0)
		bench_die("sigaction");
	install_filter();
	double ns = bench_loop(budget, body, NULL);
	if (pid > 0) {
		sh->stop = 1;
		seq++;
		__atomic_store_n(&sh->req, seq, __ATOMIC_RELEASE);
		futex(&sh->req, FUTEX_WAKE, 1);
		int st;
		waitpid(pid, &st, 0);
	}
	printf("ns/op %.1f\n", ns);
	return 0;
}
