/* proc_sigframe: the x86_64 rt_sigframe. Registers (general purpose and
 * SSE) of interrupted code survive a handler that clobbers them all, both
 * for a signal taken at a syscall and one taken asynchronously in a busy loop
 * (a timer signal: the guest must be preempted). The handler reads and edits
 * the ucontext (rip, a register, the saved mask), sees a fresh MXCSR, and
 * faults report si_code and si_addr. Arguments name sections (all if none). */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <ucontext.h>
#include <unistd.h>

/* shared with the asm below, so not static */
volatile int sf_flag;
int sf_pid;
uint64_t sf_out[16];
uint64_t sf_xin[32], sf_xout[32];
extern char sf_loop_start[], sf_loop_end[], sf_sys_start[], sf_sys_end[];

static const uint64_t gpr_in[] = {
	0x1111111111111111, /* rbx */
	0x2222222222222222, /* rdx */
	0x3333333333333333, /* rsi (syscall: the signal number) */
	0x4444444444444444, /* rdi (syscall: the pid) */
	0x8888888888888888, /* r8 */
	0x9999999999999999, /* r9 */
	0xaaaaaaaaaaaaaaaa, /* r10 */
	0xbbbbbbbbbbbbbbbb, /* r11 (loop only: syscall clobbers it) */
	0xcccccccccccccccc, /* r12 (the handler sets it in the ucontext) */
	0xdddddddddddddddd, /* r13 */
	0xeeeeeeeeeeeeeeee, /* r14 */
	0xffffffffffffff0f, /* r15 */
};
static const char *gpr_name[] = { "rbx", "rdx", "rsi", "rdi", "r8",  "r9",
				  "r10", "r11", "r12", "r13", "r14", "r15" };

#define LOAD_REGS                                                                   \
	"movabs $0x1111111111111111, %%rbx\n"                                       \
	"movabs $0x2222222222222222, %%rdx\n"                                       \
	"movabs $0x3333333333333333, %%rsi\n"                                       \
	"movabs $0x4444444444444444, %%rdi\n"                                       \
	"movabs $0x8888888888888888, %%r8\n"                                        \
	"movabs $0x9999999999999999, %%r9\n"                                        \
	"movabs $0xaaaaaaaaaaaaaaaa, %%r10\n"                                       \
	"movabs $0xbbbbbbbbbbbbbbbb, %%r11\n"                                       \
	"movabs $0xcccccccccccccccc, %%r12\n"                                       \
	"movabs $0xdddddddddddddddd, %%r13\n"                                       \
	"movabs $0xeeeeeeeeeeeeeeee, %%r14\n"                                       \
	"movabs $0xffffffffffffff0f, %%r15\n"                                       \
	"movdqu sf_xin+0(%%rip), %%xmm0\n"                                          \
	"movdqu sf_xin+16(%%rip), %%xmm1\n"                                         \
	"movdqu sf_xin+32(%%rip), %%xmm2\n"                                         \
	"movdqu sf_xin+48(%%rip), %%xmm3\n"                                         \
	"movdqu sf_xin+64(%%rip), %%xmm4\n"                                         \
	"movdqu sf_xin+80(%%rip), %%xmm5\n"                                         \
	"movdqu sf_xin+96(%%rip), %%xmm6\n"                                         \
	"movdqu sf_xin+112(%%rip), %%xmm7\n"                                        \
	"movdqu sf_xin+128(%%rip), %%xmm8\n"                                        \
	"movdqu sf_xin+144(%%rip), %%xmm9\n"                                        \
	"movdqu sf_xin+160(%%rip), %%xmm10\n"                                       \
	"movdqu sf_xin+176(%%rip), %%xmm11\n"                                       \
	"movdqu sf_xin+192(%%rip), %%xmm12\n"                                       \
	"movdqu sf_xin+208(%%rip), %%xmm13\n"                                       \
	"movdqu sf_xin+224(%%rip), %%xmm14\n"                                       \
	"movdqu sf_xin+240(%%rip), %%xmm15\n"

#define STORE_REGS                                                                  \
	"mov %%rbx, sf_out+0(%%rip)\n"                                              \
	"mov %%rdx, sf_out+8(%%rip)\n"                                              \
	"mov %%rsi, sf_out+16(%%rip)\n"                                             \
	"mov %%rdi, sf_out+24(%%rip)\n"                                             \
	"mov %%r8, sf_out+32(%%rip)\n"                                              \
	"mov %%r9, sf_out+40(%%rip)\n"                                              \
	"mov %%r10, sf_out+48(%%rip)\n"                                             \
	"mov %%r11, sf_out+56(%%rip)\n"                                             \
	"mov %%r12, sf_out+64(%%rip)\n"                                             \
	"mov %%r13, sf_out+72(%%rip)\n"                                             \
	"mov %%r14, sf_out+80(%%rip)\n"                                             \
	"mov %%r15, sf_out+88(%%rip)\n"                                             \
	"movdqu %%xmm0, sf_xout+0(%%rip)\n"                                         \
	"movdqu %%xmm1, sf_xout+16(%%rip)\n"                                        \
	"movdqu %%xmm2, sf_xout+32(%%rip)\n"                                        \
	"movdqu %%xmm3, sf_xout+48(%%rip)\n"                                        \
	"movdqu %%xmm4, sf_xout+64(%%rip)\n"                                        \
	"movdqu %%xmm5, sf_xout+80(%%rip)\n"                                        \
	"movdqu %%xmm6, sf_xout+96(%%rip)\n"                                        \
	"movdqu %%xmm7, sf_xout+112(%%rip)\n"                                       \
	"movdqu %%xmm8, sf_xout+128(%%rip)\n"                                       \
	"movdqu %%xmm9, sf_xout+144(%%rip)\n"                                       \
	"movdqu %%xmm10, sf_xout+160(%%rip)\n"                                      \
	"movdqu %%xmm11, sf_xout+176(%%rip)\n"                                      \
	"movdqu %%xmm12, sf_xout+192(%%rip)\n"                                      \
	"movdqu %%xmm13, sf_xout+208(%%rip)\n"                                      \
	"movdqu %%xmm14, sf_xout+224(%%rip)\n"                                      \
	"movdqu %%xmm15, sf_xout+240(%%rip)\n"

#define ALL_CLOBBERS                                                                \
	"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", \
		"r14", "r15", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6",     \
		"xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14",      \
		"xmm15", "memory", "cc"

/* Spins with every register loaded until the handler sets sf_flag. */
static void busy_loop(void)
{
	__asm__ volatile(LOAD_REGS
			 ".globl sf_loop_start\n"
			 "sf_loop_start:\n"
			 "1: cmpl $0, sf_flag(%%rip)\n"
			 "je 1b\n"
			 ".globl sf_loop_end\n"
			 "sf_loop_end:\n" STORE_REGS
			 :
			 :
			 : ALL_CLOBBERS);
}

/* kill(sf_pid, SIGUSR1) by a raw syscall with every register loaded. */
static void kill_self_raw(void)
{
	__asm__ volatile(LOAD_REGS
			 "mov $62, %%eax\n"
			 "movslq sf_pid(%%rip), %%rdi\n"
			 "mov $10, %%esi\n"
			 ".globl sf_sys_start\n"
			 "sf_sys_start:\n"
			 "syscall\n"
			 ".globl sf_sys_end\n"
			 "sf_sys_end:\n" STORE_REGS
			 :
			 :
			 : ALL_CLOBBERS);
}

static volatile uint64_t seen_rip, seen_rbx, seen_r13, seen_mxcsr, handler_calls;
static volatile int saved_errno_ok;

static void clobber_handler(int sig, siginfo_t *si, void *ucv)
{
	(void)sig;
	(void)si;
	int saved = errno;
	ucontext_t *uc = ucv;
	seen_rip = uc->uc_mcontext.gregs[REG_RIP];
	seen_rbx = uc->uc_mcontext.gregs[REG_RBX];
	seen_r13 = uc->uc_mcontext.gregs[REG_R13];
	uint32_t mx;
	__asm__ volatile("stmxcsr %0" : "=m"(mx));
	seen_mxcsr = mx;
	/* the handler may change the interrupted context */
	uc->uc_mcontext.gregs[REG_R12] = 0x1234567812345678;
	sigaddset(&uc->uc_sigmask, SIGUSR2);
	/* clobber everything, the FP control state included */
	__asm__ volatile("mov $-1, %%rax\n"
			 "mov %%rax, %%rbx\n mov %%rax, %%rcx\n mov %%rax, %%rdx\n"
			 "mov %%rax, %%rsi\n mov %%rax, %%rdi\n mov %%rax, %%r8\n"
			 "mov %%rax, %%r9\n mov %%rax, %%r10\n mov %%rax, %%r11\n"
			 "mov %%rax, %%r12\n mov %%rax, %%r13\n mov %%rax, %%r14\n"
			 "mov %%rax, %%r15\n"
			 "pcmpeqd %%xmm0, %%xmm0\n pcmpeqd %%xmm1, %%xmm1\n"
			 "pcmpeqd %%xmm2, %%xmm2\n pcmpeqd %%xmm3, %%xmm3\n"
			 "pcmpeqd %%xmm4, %%xmm4\n pcmpeqd %%xmm5, %%xmm5\n"
			 "pcmpeqd %%xmm6, %%xmm6\n pcmpeqd %%xmm7, %%xmm7\n"
			 "pcmpeqd %%xmm8, %%xmm8\n pcmpeqd %%xmm9, %%xmm9\n"
			 "pcmpeqd %%xmm10, %%xmm10\n pcmpeqd %%xmm11, %%xmm11\n"
			 "pcmpeqd %%xmm12, %%xmm12\n pcmpeqd %%xmm13, %%xmm13\n"
			 "pcmpeqd %%xmm14, %%xmm14\n pcmpeqd %%xmm15, %%xmm15\n"
			 :
			 :
			 : ALL_CLOBBERS);
	uint32_t weird = 0x7f80 | 0x6000;
	__asm__ volatile("ldmxcsr %0" : : "m"(weird));
	/* a failing call changes errno; the handler puts it back */
	(void)close(-1);
	errno = saved;
	saved_errno_ok = 1;
	handler_calls++;
	sf_flag = 1;
}

static void fill_xin(void)
{
	for (int i = 0; i < 32; i++)
		sf_xin[i] = 0x0101010101010101ull * (uint64_t)(i + 1) ^ 0x5a5a000000000000ull;
}

static void check_regs(const char *what, int syscall_case)
{
	int bad = 0;
	for (int i = 0; i < 12; i++) {
		uint64_t want = gpr_in[i];
		if (syscall_case && i == 2)
			want = 10;
		if (syscall_case && i == 3)
			want = (uint64_t)sf_pid;
		if (syscall_case && i == 7)
			continue; /* r11 holds rflags after syscall */
		if (i == 8)
			want = 0x1234567812345678; /* set through the ucontext */
		if (sf_out[i] != want) {
			printf("%s: %s differs\n", what, gpr_name[i]);
			bad++;
		}
	}
	for (int i = 0; i < 32; i++)
		if (sf_xout[i] != sf_xin[i]) {
			printf("%s: xmm%d differs\n", what, i / 2);
			bad++;
			i |= 1;
		}
	printf("%s: %d registers differ\n", what, bad);
}

static void show_mxcsr(const char *what)
{
	uint32_t mx;
	__asm__ volatile("stmxcsr %0" : "=m"(mx));
	printf("%s: MXCSR %#x\n", what, mx & 0xffc0);
}

static void set_mxcsr(uint32_t v)
{
	__asm__ volatile("ldmxcsr %0" : : "m"(v));
}

static void install(int sig, void (*h)(int, siginfo_t *, void *), int flags)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = h;
	sa.sa_flags = SA_SIGINFO | flags;
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}

static void usr2_blocked(void)
{
	sigset_t cur;
	sigprocmask(SIG_BLOCK, NULL, &cur);
	printf("USR2 blocked after return (set in uc_sigmask): %d\n", sigismember(&cur, SIGUSR2));
	sigemptyset(&cur);
	sigprocmask(SIG_SETMASK, &cur, NULL);
}

static int check_mxcsr;

static void test_syscall_frame(void)
{
	fill_xin();
	sf_pid = getpid();
	install(SIGUSR1, clobber_handler, 0);
	set_mxcsr(0x1f80 | 0x2000); /* round down */
	errno = ENOENT;
	kill_self_raw();
	int e = errno;
	check_regs("signal at syscall", 1);
	printf("handler calls %d, rip at the syscall's end: %d, rbx seen %d, r13 seen %d\n",
	       (int)handler_calls, seen_rip == (uintptr_t)sf_sys_end,
	       seen_rbx == gpr_in[0], seen_r13 == gpr_in[9]);
	if (check_mxcsr)
		printf("handler MXCSR is the default: %d\n", (seen_mxcsr & 0xffc0) == 0x1f80);
	show_mxcsr("after return");
	set_mxcsr(0x1f80);
	printf("errno kept: %d\n", e == ENOENT && saved_errno_ok);
	usr2_blocked();
	signal(SIGUSR1, SIG_DFL);
}

/* the handler starts with a fresh FP state (MXCSR 0x1f80) */
static void test_handler_mxcsr(void)
{
	check_mxcsr = 1;
	test_syscall_frame();
	check_mxcsr = 0;
}

static void test_async_frame(void)
{
	fill_xin();
	sf_flag = 0;
	handler_calls = 0;
	install(SIGALRM, clobber_handler, 0);
	set_mxcsr(0x1f80 | 0x4000); /* round up */
	struct itimerval it = { { 0, 0 }, { 0, 50000 } };
	setitimer(ITIMER_REAL, &it, NULL);
	busy_loop();
	check_regs("signal in a busy loop", 0);
	printf("handler calls %d, rip in the loop: %d\n", (int)handler_calls,
	       seen_rip >= (uintptr_t)sf_loop_start && seen_rip <= (uintptr_t)sf_loop_end);
	printf("handler MXCSR is the default: %d\n", (seen_mxcsr & 0xffc0) == 0x1f80);
	show_mxcsr("after return");
	set_mxcsr(0x1f80);
	usr2_blocked();
	signal(SIGALRM, SIG_DFL);
}

/* a double held in a register across a signal, computed by C code */
static volatile int dbl_flag;

static void dbl_handler(int sig)
{
	(void)sig;
	volatile double junk = 1e300;
	for (int i = 0; i < 10; i++)
		junk = junk * 3.7 + 1.0;
	dbl_flag = 1;
}

static void test_double(void)
{
	signal(SIGALRM, dbl_handler);
	struct itimerval it = { { 0, 0 }, { 0, 30000 } };
	setitimer(ITIMER_REAL, &it, NULL);
	double acc = 0.0, x = 1.0;
	long n = 0;
	while (!dbl_flag || n < 1000000) {
		acc += x * 0.5;
		x += 1.0;
		n++;
	}
	printf("doubles across an async signal: %s\n",
	       acc == 0.25 * (double)n * ((double)n + 1.0) ? "exact" : "wrong");
	signal(SIGALRM, SIG_DFL);
}

/* faults */
static sigjmp_buf env;
static volatile int fault_code;
static volatile uintptr_t fault_addr;
static volatile int fault_signo;

static void on_fault(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	fault_signo = sig;
	fault_code = si->si_code;
	fault_addr = (uintptr_t)si->si_addr;
	siglongjmp(env, 1);
}

static const char *code_name(int sig, int code)
{
	if (sig == SIGSEGV && code == SEGV_MAPERR)
		return "SEGV_MAPERR";
	if (sig == SIGSEGV && code == SEGV_ACCERR)
		return "SEGV_ACCERR";
	if (sig == SIGFPE && code == FPE_INTDIV)
		return "FPE_INTDIV";
	if (sig == SIGILL && code == ILL_ILLOPN)
		return "ILL_ILLOPN";
	if (code == SI_KERNEL)
		return "SI_KERNEL";
	if (code == SI_USER)
		return "SI_USER";
	return "other";
}

static void test_faults(void)
{
	install(SIGSEGV, on_fault, SA_NODEFER);
	install(SIGFPE, on_fault, SA_NODEFER);
	install(SIGILL, on_fault, SA_NODEFER);
	install(SIGBUS, on_fault, SA_NODEFER);
	if (sigsetjmp(env, 1) == 0) {
		volatile int *volatile p = (volatile int *)0x1000;
		*p = 1;
	}
	printf("write to 0x1000: sig %d %s addr-ok %d\n", fault_signo,
	       code_name(fault_signo, fault_code), fault_addr == 0x1000);
	char *page = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (sigsetjmp(env, 1) == 0)
		*(volatile char *)(page + 12) = 1;
	printf("write to a read-only page: sig %d %s addr-ok %d\n", fault_signo,
	       code_name(fault_signo, fault_code), fault_addr == (uintptr_t)page + 12);
	munmap(page, 4096);
	if (sigsetjmp(env, 1) == 0) {
		volatile int zero = 0, one = 1;
		one = one / zero;
	}
	printf("divide by zero: sig %d %s\n", fault_signo, code_name(fault_signo, fault_code));
	if (sigsetjmp(env, 1) == 0)
		__asm__ volatile("ud2");
	printf("ud2: sig %d %s\n", fault_signo, code_name(fault_signo, fault_code));
	/* a second fault in the same handler setup works (SA_NODEFER + longjmp) */
	fault_signo = 0;
	if (sigsetjmp(env, 1) == 0) {
		volatile int *volatile p = (volatile int *)0x2000;
		*p = 1;
	}
	printf("second write fault: sig %d addr-ok %d\n", fault_signo, fault_addr == 0x2000);
	/* the mask is restored by siglongjmp(env, savemask=1) */
	sigset_t cur;
	sigprocmask(SIG_BLOCK, NULL, &cur);
	printf("SIGSEGV blocked after siglongjmp: %d\n", sigismember(&cur, SIGSEGV));
	signal(SIGSEGV, SIG_DFL);
	signal(SIGFPE, SIG_DFL);
	signal(SIGILL, SIG_DFL);
	signal(SIGBUS, SIG_DFL);
}

/* the saved frame holds what rt_sigreturn restores: a handler that returns
 * normally after a fault would loop, so it moves rip past the instruction */
static void skip_ud2(int sig, siginfo_t *si, void *ucv)
{
	(void)sig;
	(void)si;
	ucontext_t *uc = ucv;
	uc->uc_mcontext.gregs[REG_RIP] += 2;
	uc->uc_mcontext.gregs[REG_RAX] = 77;
}

static void test_edit_rip(void)
{
	install(SIGILL, skip_ud2, 0);
	long rax;
	__asm__ volatile("xor %%eax, %%eax\n ud2\n" : "=a"(rax) : : "memory");
	printf("handler skipped ud2 and set rax: %ld\n", rax);
	signal(SIGILL, SIG_DFL);
}

static const struct section {
	const char *name;
	void (*fn)(void);
} sections[] = {
	{ "syscall_frame", test_syscall_frame },
	{ "handler_mxcsr", test_handler_mxcsr },
	{ "async_frame", test_async_frame },
	{ "double", test_double },
	{ "faults", test_faults },
	{ "edit_rip", test_edit_rip },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (const struct section *s = sections; s->name; s++) {
		int run = argc < 2;
		for (int i = 1; i < argc; i++)
			run |= strcmp(argv[i], s->name) == 0;
		if (run) {
			printf("== %s\n", s->name);
			s->fn();
		}
	}
	printf("done\n");
	return 0;
}
