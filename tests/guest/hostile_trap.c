/* hostile_trap: attacks on the seccomp platform's trap path (issue 13,
 * SECURITY.md "The seccomp platform"): the stub's trap handler and op loop
 * in the stub code page (0x7fff_ff00_0000), and its slot (control page at
 * 0x7fff_ff01_0000, signal stack after it), which the guest can read and
 * write. Under the ptrace platform there is no slot: those attacks report
 * "ok ... no slot" and the jumps are guest syscalls.
 *
 * Each attack runs in a forked child; the parent prints "ok NAME ..." or
 * "FAIL NAME ...", then "done". The host-side checks (canary, host
 * processes, host opens) are made by tests/e2e_hostile.rs.
 *
 * - jumps to every `syscall` instruction of the code page asking for
 *   mmap(X, 4096, rw, MAP_SHARED|MAP_FIXED, 3 (the stub's memory file),
 *   offset 0) with guessed cookies: X held the child's own marker before;
 *   if the host mmap had run, X would show a page of the memory file (the
 *   kernel's, another process's). The child must die, or find its marker;
 * - jumps to the handler entry with report pointers outside and inside the
 *   slot's signal stack: the child ends, umbra goes on;
 * - the cookie words of the control page read as zero whenever the guest
 *   runs, also right after mapping calls (whose reply carried the cookie);
 * - a second thread scribbles the control page and signal stack while the
 *   first one makes syscalls and mappings: only that process may suffer;
 * - forged reports (a page fault, an mmap call), also with the kick
 *   blocked: umbra's reply, which carries the cookie with its mapping ops,
 *   must not show it to the guest that forged them and runs on (see
 *   forge_report below; SECURITY.md S2, S4).
 *
 * aarch64 (images/arm: built with aarch64-linux-gnu-gcc -static and run in
 * the arm64 machine by images/arm/init): the stub code page is at
 * 0xffff_ff00_0000 and the slot at 0xffff_ff01_0000; the syscall sites are
 * the `svc #0` words, the handler entry is its `movz/movk x12` of the slot
 * address, and the handler's rt_sigreturn is the last `mov x8, #139; svc
 * #0` (the first is the guest's signal trampoline).
 *
 * armv7 (built with arm-linux-gnueabihf-gcc -static -marm, run in the armhf
 * machine): the stub code page is at 0xbe00_0000, its batch page (where the
 * mapping calls are made, executable only while the handler runs its ops)
 * at 0xbe00_2000 and the slot at 0xbe01_0000; the syscall sites are the
 * `svc #0` words of the code page, tried with a host mmap2 of the memory
 * file and with the mprotect that would make the batch page executable
 * (3 cookie guesses in r3-r5), then a jump into the batch page; the handler
 * entry is its `movw/movt r12` of the slot address, and its rt_sigreturn
 * the last `mov r7, #173; svc #0`. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if defined(__aarch64__)
#define STUB_CODE 0xffffff000000ull
#define SLOT 0xffffff010000ull
#elif defined(__arm__)
#define STUB_CODE 0xbe000000ull
#define STUB_BATCH 0xbe002000ull
#define SLOT 0xbe010000ull
#else
#define STUB_CODE 0x7fffff000000ull
#define SLOT 0x7fffff010000ull
#endif
#define X_ADDR 0x10000000ull
#define MARK 0x4d494e454d494e45ull /* "ENIMENIM" */

static int failures;

static void say(const char *fmt, long a, long b)
{
	char line[200];
	int n = snprintf(line, sizeof line, fmt, a, b);
	write(1, line, n);
	if (!strncmp(line, "FAIL", 4))
		failures++;
}

static int in_child(void (*fn)(long), long arg)
{
	pid_t pid = fork();
	if (pid == 0) {
		alarm(10);
		fn(arg);
		_exit(100);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	return st;
}

static void read_slot(long _)
{
	(void)_;
	_exit(*(volatile uint64_t *)(uintptr_t)(SLOT + 8) == 0x5a5a ? 11 : 10);
}

/* Whether the slot is mapped (the seccomp platform): a child reads it. */
static int have_slot(void)
{
	int st = in_child(read_slot, 0);
	return WIFEXITED(st) && (WEXITSTATUS(st) == 10 || WEXITSTATUS(st) == 11);
}

static int slot_mapped;

/* The guest's own handlers: find the marker at X or not. */
static void check_x(int sig)
{
	(void)sig;
	_exit(*(volatile uint64_t *)(uintptr_t)X_ADDR == MARK ? 10 : 42);
}

static char altstack[65536];
static uint64_t fake_ctrl[512] __attribute__((aligned(4096)));
static uint64_t zeros[2048] __attribute__((aligned(16)));
static uint64_t records[7 * 4];

static void prepare(void)
{
	alarm(2); /* a jump to a futex site waits under ptrace */
	uint64_t *x = mmap((void *)(uintptr_t)X_ADDR, 4096, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	if (x == MAP_FAILED)
		_exit(99);
	*x = MARK;
	stack_t ss = { .ss_sp = altstack, .ss_size = sizeof altstack };
	sigaltstack(&ss, 0);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = check_x;
	sa.sa_flags = SA_ONSTACK;
	int sigs[] = { SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGSYS, SIGFPE };
	for (unsigned i = 0; i < sizeof sigs / sizeof *sigs; i++)
		sigaction(sigs[i], &sa, 0);
	/* A fake control page: reply kind 0, no ops, FS base as it is. */
	uint64_t fs;
#if defined(__aarch64__)
	__asm__ volatile("mrs %0, tpidr_el0" : "=r"(fs));
#elif defined(__arm__)
	uint32_t tp;
	__asm__ volatile("mrc p15, 0, %0, c13, c0, 3" : "=r"(tp));
	fs = tp;
#else
	__asm__ volatile("mov %%fs:0, %0" : "=r"(fs));
#endif
	fake_ctrl[11] = fs; /* REPLY_FS (aarch64: TPIDR_EL0) */
	for (int i = 0; i < 4; i++) {
		records[7 * i] = 9;
		records[7 * i + 1] = X_ADDR;
		records[7 * i + 2] = 4096;
		records[7 * i + 3] = 3;
		records[7 * i + 4] = 0x11;
		records[7 * i + 5] = 3;
	}
}

/* Jumps to the code page's byte `arg & 0xfff` with registers asking for
 * the host mmap of the memory file at X; `arg >> 12` picks the cookie
 * guess. */
static void jump_mmap(long arg)
{
	prepare();
	uint64_t guesses[] = { 0, 0xffffffffull, 0x12345678ull, 1 };
	uint64_t g = guesses[(arg >> 12) & 3];
	uint64_t r10 = 0x11 | (g << 32), r8 = 3 | (g << 32);
#if defined(__arm__)
	/* r12 the control page, r11 the records; guess 0: mmap2(X, 4096, rw,
	 * MAP_SHARED|MAP_FIXED, 3, 0); guesses 1-3: mprotect(batch page, 4096,
	 * r-x) with the guess in r3-r5. A site past 0xfff: the batch page. */
	static uint32_t w[12];
	uint32_t gw = (uint32_t)g;
	w[0] = (uint32_t)(uintptr_t)fake_ctrl;
	w[1] = (uint32_t)(uintptr_t)records;
	w[2] = ((arg >> 12) & 3) ? gw : 0x11;
	w[3] = ((arg >> 12) & 3) ? gw : 3;
	w[4] = ((arg >> 12) & 3) ? gw : 0;
	w[5] = ((arg >> 12) & 3) ? (uint32_t)STUB_BATCH : (uint32_t)X_ADDR;
	w[6] = 4096;
	w[7] = ((arg >> 12) & 3) ? 5 : 3;
	w[8] = ((arg >> 12) & 3) ? 125 : 192;
	w[9] = (uint32_t)(uintptr_t)&zeros[1024];
	w[10] = (uint32_t)((arg & 0x4000) ? STUB_BATCH + 4 : STUB_CODE + (arg & 0xfff));
	register uint32_t *wp __asm__("r6") = w;
	__asm__ volatile("ldr r12, [r6, #0]\n\t"
			 "ldr r11, [r6, #4]\n\t"
			 "ldr r3, [r6, #8]\n\t"
			 "ldr r4, [r6, #12]\n\t"
			 "ldr r5, [r6, #16]\n\t"
			 "ldr r0, [r6, #20]\n\t"
			 "ldr r1, [r6, #24]\n\t"
			 "ldr r2, [r6, #28]\n\t"
			 "ldr r7, [r6, #32]\n\t"
			 "ldr r8, [r6, #36]\n\t"
			 "mov sp, r8\n\t"
			 "mov r8, #0\n\t"
			 "mov r10, #1\n\t"
			 "ldr r6, [r6, #40]\n\t"
			 "bx r6"
			 :
			 : "r"(wp)
			 : "memory");
	(void)r10;
	(void)r8;
#else
	static uint64_t v[16];
	v[0] = (uint64_t)fake_ctrl; /* r12 */
	v[1] = (uint64_t)records;   /* r14 */
	v[2] = g << 32;             /* rbx, rbp */
	v[3] = r10;
	v[4] = r8;
	v[5] = X_ADDR;              /* rdi */
	v[6] = (uint64_t)&zeros[1024]; /* rsp */
	v[7] = STUB_CODE + (arg & 0xfff);
#if defined(__aarch64__)
	/* x12 the control page, x14 the records, x19/x20 the cookie guess,
	 * x8 mmap, x0-x5 its arguments; loaded from v through x9. */
	register uint64_t *vp __asm__("x9") = v;
	__asm__ volatile("ldr x12, [x9, #0]\n\t"
			 "mov x13, #0\n\t"
			 "ldr x14, [x9, #8]\n\t"
			 "mov x15, #0\n\t"
			 "ldr x19, [x9, #16]\n\t"
			 "ldr x20, [x9, #16]\n\t"
			 "ldr x3, [x9, #24]\n\t"
			 "ldr x4, [x9, #32]\n\t"
			 "mov x5, #0\n\t"
			 "mov x8, #222\n\t"
			 "ldr x0, [x9, #40]\n\t"
			 "mov x1, #4096\n\t"
			 "mov x2, #3\n\t"
			 "ldr x10, [x9, #48]\n\t"
			 "mov sp, x10\n\t"
			 "ldr x10, [x9, #56]\n\t"
			 "br x10"
			 :
			 : "r"(vp)
			 : "x0", "x1", "x2", "x3", "x4", "x5", "x8", "x10", "x12",
			   "x13", "x14", "x15", "x19", "x20", "memory");
#else
	/* Every register is loaded from v through rcx; the asm never returns. */
	__asm__ volatile("mov 0(%%rcx), %%r12\n\t"
			 "xor %%r13, %%r13\n\t"
			 "mov 8(%%rcx), %%r14\n\t"
			 "xor %%r15, %%r15\n\t"
			 "mov 16(%%rcx), %%rbx\n\t"
			 "mov 16(%%rcx), %%rbp\n\t"
			 "mov 24(%%rcx), %%r10\n\t"
			 "mov 32(%%rcx), %%r8\n\t"
			 "xor %%r9, %%r9\n\t"
			 "mov $9, %%eax\n\t"
			 "mov 40(%%rcx), %%rdi\n\t"
			 "mov $4096, %%esi\n\t"
			 "mov $3, %%edx\n\t"
			 "mov 48(%%rcx), %%rsp\n\t"
			 "jmp *56(%%rcx)"
			 :
			 : "c"(v)
			 : "rax", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11",
			   "r12", "r13", "r14", "r15", "rbx", "memory");
#endif
#endif
}

/* Jumps to the handler entry with rsi/rdx (siginfo, ucontext) at `arg`. */
static void jump_handler(long arg)
{
	prepare();
#if defined(__aarch64__)
	/* movz x12, #0; movk x12, #0xff01, lsl #16; movk x12, #0xffff, lsl #32 */
	static const uint32_t patw[] = { 0xd280000c, 0xf2bfe02c, 0xf2dfffec };
	const unsigned char *pat = (const unsigned char *)patw;
	const unsigned long patlen = sizeof patw;
#elif defined(__arm__)
	/* movw r12, #0; movt r12, #0xbe01 */
	static const uint32_t patw[] = { 0xe300c000, 0xe34bce01 };
	const unsigned char *pat = (const unsigned char *)patw;
	const unsigned long patlen = sizeof patw;
#else
	static const unsigned char pat[] = { 0x49, 0xbc, 0x00, 0x00, 0x01,
					     0xff, 0xff, 0x7f, 0x00, 0x00 };
	const unsigned long patlen = sizeof pat;
#endif
	const unsigned char *code = (const unsigned char *)(uintptr_t)STUB_CODE;
	long at = -1;
	for (long i = 0; i + (long)patlen <= 4096; i++)
		if (!memcmp(code + i, pat, patlen)) {
			at = i;
			break;
		}
	if (at < 0)
		_exit(10); /* no handler (ptrace platform) */
#if defined(__arm__)
	static uint32_t w[3];
	w[0] = (uint32_t)arg;
	w[1] = (uint32_t)(uintptr_t)&zeros[1024];
	w[2] = (uint32_t)(STUB_CODE + at);
	register uint32_t *wp __asm__("r6") = w;
	__asm__ volatile("ldr r1, [r6, #0]\n\t"
			 "ldr r2, [r6, #0]\n\t"
			 "ldr r8, [r6, #4]\n\t"
			 "mov sp, r8\n\t"
			 "ldr r6, [r6, #8]\n\t"
			 "bx r6"
			 :
			 : "r"(wp)
			 : "memory");
#else
	static uint64_t v[3];
	v[0] = (uint64_t)arg;
	v[1] = (uint64_t)&zeros[1024];
	v[2] = STUB_CODE + at;
#if defined(__aarch64__)
	register uint64_t *vp __asm__("x9") = v;
	__asm__ volatile("ldr x1, [x9, #0]\n\t"
			 "ldr x2, [x9, #0]\n\t"
			 "ldr x10, [x9, #8]\n\t"
			 "mov sp, x10\n\t"
			 "ldr x10, [x9, #16]\n\t"
			 "br x10"
			 :
			 : "r"(vp)
			 : "x1", "x2", "x10", "memory");
#else
	__asm__ volatile("mov 0(%%rcx), %%rsi\n\t"
			 "mov 0(%%rcx), %%rdx\n\t"
			 "mov 8(%%rcx), %%rsp\n\t"
			 "jmp *16(%%rcx)"
			 :
			 : "c"(v)
			 : "rdx", "rsi", "memory");
#endif
#endif
}

/* The cookie words (K1, K2 at 56 and 64) after mapping calls. */
static void cookie_at_rest(long _)
{
	(void)_;
	volatile uint64_t *c = (volatile uint64_t *)SLOT;
	int seen = 0;
	for (int i = 0; i < 200; i++) {
		void *p = mmap(0, 8192, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		*(volatile char *)p = 1;
		mprotect(p, 4096, PROT_READ);
		seen |= c[7] != 0 || c[8] != 0;
		munmap(p, 8192);
		seen |= c[7] != 0 || c[8] != 0;
	}
	_exit(seen ? 42 : 10);
}

static volatile int stop_scribbling;

static void *scribbler(void *arg)
{
	uint64_t v = (uint64_t)(uintptr_t)arg;
	volatile uint64_t *s = (volatile uint64_t *)SLOT;
	while (!stop_scribbling) {
		for (int i = 0; i < 4096; i++) {
			v = v * 6364136223846793005ull + 1442695040888963407ull;
			s[(v >> 33) % 4096] = v; /* control page and stack */
		}
		s[0] = 2; /* REPLY */
		s[6] = 5; /* NOPS */
		sched_yield();
	}
	return 0;
}

static void scribble_race(long seed)
{
	pthread_t t;
	if (pthread_create(&t, 0, scribbler, (void *)seed))
		_exit(99);
	for (int i = 0; i < 2000; i++) {
		getppid();
		void *p = mmap(0, 4096, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p != MAP_FAILED) {
			*(volatile char *)p = 1;
			munmap(p, 4096);
		}
	}
	stop_scribbling = 1;
	pthread_join(t, 0);
	_exit(10);
}

static void spin_forever(void)
{
	for (;;)
		__asm__ volatile("" ::: "memory");
}

#if defined(__aarch64__)
/* struct rt_sigframe: siginfo (128 bytes), then struct ucontext (4560). */
static uint64_t forged_uc[(128 + 4560) / 8 + 2] __attribute__((aligned(64)));
#elif defined(__arm__)
/* struct rt_sigframe: siginfo (128 bytes), then struct ucontext (744). */
static uint64_t forged_uc[(128 + 744) / 8 + 2] __attribute__((aligned(64)));
#else
static uint64_t forged_uc[64] __attribute__((aligned(64)));
#endif
static uint64_t spin_stack[1024] __attribute__((aligned(16)));
/* Where blocked_kick's frame resumes (0: spin_forever). */
static void (*kick_cont)(void);

/* Jumps to the handler's own rt_sigreturn with a forged frame that blocks
 * every host signal (the kick included) and then spins: umbra must not wait
 * for it (seccomp: it holds the stub, stopped, once it used 2 ms of CPU time
 * with the kick unanswered, and runs the others; SECURITY.md S5). */
static void blocked_kick(long _)
{
	(void)_;
#if defined(__aarch64__)
	/* mov x8, #139; svc #0 */
	static const uint32_t patw[] = { 0xd2801168, 0xd4000001 };
	const unsigned char *pat = (const unsigned char *)patw;
	const unsigned long patlen = sizeof patw;
#elif defined(__arm__)
	/* mov r7, #173; svc #0 */
	static const uint32_t patw[] = { 0xe3a070ad, 0xef000000 };
	const unsigned char *pat = (const unsigned char *)patw;
	const unsigned long patlen = sizeof patw;
#else
	static const unsigned char pat[] = { 0xb8, 0x0f, 0x00, 0x00, 0x00, 0x0f, 0x05 };
	const unsigned long patlen = sizeof pat;
#endif
	const unsigned char *code = (const unsigned char *)(uintptr_t)STUB_CODE;
	long at = -1;
	for (long i = 0; i + (long)patlen <= 4096; i++)
		if (!memcmp(code + i, pat, patlen))
			at = i; /* the last one: the handler's */
	if (at < 0)
		_exit(10);
	memset(forged_uc, 0, sizeof forged_uc);
#if defined(__aarch64__)
	{
		/* The frame at sp: siginfo, then the ucontext: flags, link,
		 * stack {sp, flags, size}, sigmask (40), mcontext (176):
		 * fault_address, x0-x30, sp, pc, pstate, then __reserved (464)
		 * with an fpsimd_context record and the terminator. */
		unsigned char *uc = (unsigned char *)forged_uc + 128;
		uint64_t *w = (uint64_t *)uc;
		w[3] = 2;     /* SS_DISABLE */
		w[5] = ~0ull; /* uc_sigmask */
		uint64_t *regs = (uint64_t *)(uc + 184);
		regs[31] = (uint64_t)&spin_stack[1000]; /* sp */
		regs[32] = (uint64_t)(kick_cont ? kick_cont : spin_forever); /* pc */
		regs[33] = 0;                            /* pstate: EL0t */
		uint32_t *fp = (uint32_t *)(uc + 464);
		fp[0] = 0x46508001;
		fp[1] = 528;
		static uint64_t v[2];
		v[0] = (uint64_t)forged_uc;
		v[1] = STUB_CODE + at;
		register uint64_t *vp __asm__("x9") = v;
		__asm__ volatile("ldr x10, [x9, #0]\n\t"
				 "mov sp, x10\n\t"
				 "ldr x10, [x9, #8]\n\t"
				 "br x10"
				 :
				 : "r"(vp)
				 : "x10", "memory");
	}
#elif defined(__arm__)
	{
		/* The frame at sp: siginfo, then the ucontext: flags, link,
		 * stack {sp, flags, size} (8), sigcontext (20): trap_no,
		 * error_code, oldmask, r0-r15 (32), cpsr (96), fault_address;
		 * sigmask (104), then uc_regspace (232) with a VFP record. */
		unsigned char *uc = (unsigned char *)forged_uc + 128;
		uint32_t *w = (uint32_t *)uc;
		uintptr_t pc = (uintptr_t)(kick_cont ? kick_cont : spin_forever);
		w[3] = 2; /* SS_DISABLE */
		w[8 + 13] = (uint32_t)(uintptr_t)&spin_stack[1000]; /* sp */
		w[8 + 15] = (uint32_t)(pc & ~1u);                   /* pc */
		w[24] = 0x10 | ((pc & 1) ? 0x20 : 0);               /* cpsr */
		w[26] = ~0u; /* uc_sigmask */
		w[27] = ~0u;
		w[58] = 0x56465001; /* VFP_MAGIC */
		w[59] = 288;
		static uint32_t v[2];
		v[0] = (uint32_t)(uintptr_t)forged_uc;
		v[1] = (uint32_t)(STUB_CODE + at);
		register uint32_t *vp __asm__("r6") = v;
		__asm__ volatile("ldr r8, [r6, #0]\n\t"
				 "mov sp, r8\n\t"
				 "ldr r6, [r6, #4]\n\t"
				 "bx r6"
				 :
				 : "r"(vp)
				 : "memory");
	}
#else
	/* struct ucontext: flags, link, stack {sp, flags, size}, then gregs. */
	forged_uc[3] = 2; /* SS_DISABLE */
	uint64_t *g = &forged_uc[5];
	g[15] = (uint64_t)&spin_stack[999]; /* rsp (as after a call) */
	g[16] = (uint64_t)(kick_cont ? kick_cont : spin_forever); /* rip */
	g[17] = 0x202;                       /* eflags */
	g[18] = 0x33 | (0x2bull << 48);      /* cs, ss */
	forged_uc[37] = ~0ull;               /* uc_sigmask */
	static uint64_t v[2];
	v[0] = (uint64_t)forged_uc;
	v[1] = STUB_CODE + at;
	__asm__ volatile("mov 0(%%rcx), %%rsp\n\t"
			 "jmp *8(%%rcx)"
			 :
			 : "c"(v)
			 : "memory");
#endif
}

/* A forged report (SECURITY.md S2, S4): the guest writes siginfo and
 * ucontext pointers into its control page, a frame in its slot's signal
 * stack (a write fault on a page it mapped and never touched, or an
 * mmap(0, 8192, rw, private anon) call) and REPORT into the state word,
 * then keeps running and polls the cookie words. umbra serves it with a
 * mapping op; its reply must not carry the cookie while guest code runs.
 * The forged frame resumes at forged_cont (exit 10), once umbra has
 * replied to the handler (entered by a real trap).
 *
 * "the kick blocked": the guest first jumps to the handler's own
 * rt_sigreturn with a frame that blocks every host signal (as
 * blocked_kick), so no kick can take the forged report's place, and
 * forges from there; it makes no syscall after (it would die of the
 * forced SIGSYS), polls, says what it saw in `leak` and spins until umbra
 * kills it (a forged report of a mapping: SECURITY.md S2) or its alarm does
 * (held in its slices meanwhile: S5). Without the fix this shows the cookie on one CPU too (the
 * aarch64 and armv7 machines have one). */
static volatile uint64_t *leak; /* shared with the parent: K1, K2 seen, done */
static uint64_t cont_stack[512] __attribute__((aligned(16)));
static char *forge_page;
static long forge_how;

static void forged_cont(void)
{
#if defined(__aarch64__)
	__asm__ volatile("mov x8, #94\n\tmov x0, #10\n\tsvc #0\n\tudf #0" ::: "memory");
#elif defined(__arm__)
	__asm__ volatile("mov r7, #248\n\tmov r0, #10\n\tsvc #0\n\tudf #0" ::: "memory");
#else
	__asm__ volatile("mov $231, %%eax\n\tmov $10, %%edi\n\tsyscall\n\tud2" ::: "memory");
#endif
}

/* A clock readable without a syscall, and its ticks in about a second. */
static inline uint64_t ticks(void)
{
#if defined(__aarch64__)
	uint64_t t;
	__asm__ volatile("isb\n\tmrs %0, cntvct_el0" : "=r"(t));
	return t;
#elif defined(__arm__)
	uint64_t t;
	__asm__ volatile("isb\n\tmrrc p15, 1, %Q0, %R0, c14" : "=r"(t));
	return t;
#else
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
#endif
}

static inline uint64_t ticks_per_s(void)
{
#if defined(__aarch64__)
	uint64_t f;
	__asm__ volatile("mrs %0, cntfrq_el0" : "=r"(f));
	return f ? f : 62500000;
#elif defined(__arm__)
	uint32_t f;
	__asm__ volatile("mrc p15, 0, %0, c14, c0, 0" : "=r"(f));
	return f ? f : 62500000;
#else
	return 2000000000ull;
#endif
}

/* Writes the forged frame for `how` into the slot's signal stack: the
 * siginfo at SLOT + 0x3000, the ucontext 128 bytes after it. */
static void forge_frame(long how, char *p)
{
	volatile uint64_t *info = (volatile uint64_t *)(uintptr_t)(SLOT + 0x3000);
	volatile uint64_t *uc = info + 16;
	for (int i = 0; i < 1024; i++)
		info[i] = 0;
	uint64_t sp = (uint64_t)(uintptr_t)&cont_stack[500];
	uint64_t pc = (uint64_t)(uintptr_t)forged_cont;
#if defined(__aarch64__)
	/* siginfo: signo, errno, code, then si_addr/si_call_addr at 16,
	 * si_syscall and si_arch at 24. ucontext: x0-x30 at 184, sp, pc,
	 * pstate, then __reserved (464): fpsimd_context, esr_context, end. */
	volatile uint32_t *i32 = (volatile uint32_t *)info;
	volatile uint64_t *x = (volatile uint64_t *)((volatile char *)uc + 184);
	volatile uint32_t *res = (volatile uint32_t *)((volatile char *)uc + 464);
	res[0] = 0x46508001;
	res[1] = 528;
	res[132] = 0x45535201; /* esr_context, after the 528 bytes */
	res[133] = 16;
	/* A data abort from EL0 (EC 0x24), a write (WnR), a translation fault. */
	*(volatile uint64_t *)(res + 134) = (0x24ull << 26) | (1u << 25) | (1u << 6) | 7;
	if (how == 0) {
		i32[0] = 11; /* SIGSEGV */
		i32[2] = 1;  /* SEGV_MAPERR */
		info[2] = (uint64_t)(uintptr_t)p;
	} else {
		i32[0] = 31;
		i32[2] = 1; /* SYS_SECCOMP */
		info[2] = pc;
		i32[6] = 222;        /* si_syscall: mmap */
		i32[7] = 0xc00000b7; /* AUDIT_ARCH_AARCH64 */
		x[8] = 222;
		x[0] = 0;
		x[1] = 8192;
		x[2] = 3;
		x[3] = MAP_PRIVATE | MAP_ANONYMOUS;
		x[4] = -1ull;
		x[5] = 0;
	}
	x[31] = sp;
	x[32] = pc;
	x[33] = 0; /* pstate: EL0t */
#elif defined(__arm__)
	/* siginfo (32-bit): signo, errno, code, si_addr/si_call_addr at 12,
	 * si_syscall and si_arch at 16. ucontext: error_code at 24, r0-r15
	 * at 32, cpsr at 96, uc_regspace (232) with the VFP record. */
	volatile uint32_t *i32 = (volatile uint32_t *)info;
	volatile uint32_t *u = (volatile uint32_t *)uc;
	u[58] = 0x56465001;
	u[59] = 288;
	if (how == 0) {
		i32[0] = 11;
		i32[2] = 1;
		i32[3] = (uint32_t)(uintptr_t)p;
		u[6] = 0x800 | 0x7; /* WnR, a translation fault */
	} else {
		i32[0] = 31;
		i32[2] = 1;
		i32[3] = (uint32_t)pc;
		i32[4] = 192;        /* mmap2 */
		i32[5] = 0x40000028; /* AUDIT_ARCH_ARM */
		u[8 + 7] = 192;
		u[8 + 0] = 0;
		u[8 + 1] = 8192;
		u[8 + 2] = 3;
		u[8 + 3] = MAP_PRIVATE | MAP_ANONYMOUS;
		u[8 + 4] = ~0u;
		u[8 + 5] = 0;
	}
	u[8 + 13] = (uint32_t)sp;
	u[8 + 15] = (uint32_t)pc;
	u[24] = 0x10; /* cpsr: user mode, ARM state */
#else
	volatile uint64_t *fx = (volatile uint64_t *)(uintptr_t)(SLOT + 0x2000);
	for (int i = 0; i < 64; i++)
		fx[i] = 0;
	fx[3] = 0x1f80;                /* mxcsr */
	volatile uint64_t *g = uc + 5; /* gregs */
	if (how == 0) {
		info[0] = 11;                     /* SIGSEGV */
		info[1] = 1;                      /* SEGV_MAPERR */
		info[2] = (uint64_t)(uintptr_t)p; /* si_addr */
	} else {
		/* SIGSYS of SECCOMP_RET_TRAP: mmap(0, 8192, rw, private anon). */
		info[0] = 31;
		info[1] = 1;                         /* SYS_SECCOMP */
		info[2] = pc;                        /* si_call_addr */
		info[3] = 9 | (0xc000003eull << 32); /* si_syscall, si_arch */
		g[13] = 9;                           /* rax */
		g[8] = 0;                            /* rdi */
		g[9] = 8192;                         /* rsi */
		g[12] = 3;                           /* rdx */
		g[2] = MAP_PRIVATE | MAP_ANONYMOUS;  /* r10 */
		g[0] = -1;                           /* r8 */
	}
	g[15] = sp - 8;                 /* rsp */
	g[16] = pc;                     /* rip */
	g[17] = 0x202;                  /* eflags */
	g[18] = 0x33 | (0x2bull << 48); /* cs, ss */
	g[19] = 6;                      /* err: a user write */
	g[20] = 14;                     /* trapno */
	uc[28] = SLOT + 0x2000;         /* fpstate */
#endif
}

static uint64_t thread_pointer(void)
{
#if defined(__aarch64__)
	uint64_t fs;
	__asm__ volatile("mrs %0, tpidr_el0" : "=r"(fs));
	return fs;
#elif defined(__arm__)
	uint32_t tp;
	__asm__ volatile("mrc p15, 0, %0, c13, c0, 3" : "=r"(tp));
	return tp;
#else
	uint64_t fs;
	__asm__ volatile("mov %%fs:0, %0" : "=r"(fs));
	return fs;
#endif
}

/* Forges (again up to 100 times when a kick took the report's place) and
 * polls the cookie words until umbra answered, and a while after. No
 * syscall. Returns the state word at the end; K1, K2 seen go to leak. */
static uint32_t forge_and_poll(uint64_t tp)
{
	volatile uint64_t *c = (volatile uint64_t *)(uintptr_t)SLOT;
	uint64_t info = SLOT + 0x3000, k1 = 0, k2 = 0, hz = ticks_per_s();
	for (int try = 0; try < 100 && !(k1 | k2); try++) {
		forge_frame(forge_how, forge_page);
		c[3] = tp;   /* FS_BASE (aarch64: TPIDR_EL0, armv7: TPIDRURO) */
		c[4] = 0;    /* GS_BASE */
		c[13] = 0;   /* RKIND */
		c[1] = info; /* INFO */
		c[2] = info + 128; /* UC */
		__atomic_exchange_n((uint32_t *)(uintptr_t)SLOT, 1, __ATOMIC_SEQ_CST);
		uint64_t t0 = ticks();
		while (ticks() - t0 < 2 * hz) {
			k1 |= c[7];
			k2 |= c[8];
			if (*(volatile uint32_t *)(uintptr_t)SLOT != 1)
				break;
		}
		t0 = ticks();
		while (ticks() - t0 < hz / 100) {
			k1 |= c[7];
			k2 |= c[8];
		}
		if (c[1] == info)
			break; /* umbra took the forged report */
	}
	leak[0] = k1;
	leak[1] = k2;
	return *(volatile uint32_t *)(uintptr_t)SLOT;
}

/* With every host signal blocked (blocked_kick's frame resumes here). */
static void forge_blocked_cont(void)
{
	uint32_t end = forge_and_poll(leak[3]);
	leak[2] = 20 + (end & 7);
	/* No syscall from here: spin until umbra kills the stub (an
	 * unanswered kick, or no sleeping handler for its reply). */
	for (;;)
		__asm__ volatile("" ::: "memory");
}

/* arg: bit 0 the forged call (0 a fault, 1 an mmap), bit 1 the kick
 * blocked. */
static void forge_report(long arg)
{
	forge_page = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (forge_page == MAP_FAILED)
		_exit(99);
	forge_how = arg & 1;
	uint64_t tp = thread_pointer();
	if (arg & 2) {
		leak[3] = tp;
		kick_cont = forge_blocked_cont;
		blocked_kick(0);
		_exit(98);
	}
	uint32_t end = forge_and_poll(tp);
	if (leak[0] | leak[1])
		_exit(43);
	/* A real trap: the handler sleeps, umbra's reply resumes forged_cont. */
	syscall(SYS_getppid);
	volatile uint64_t *c = (volatile uint64_t *)(uintptr_t)SLOT;
	_exit(20 + (end & 7) + (c[1] != SLOT + 0x3000 ? 8 : 0));
}

/* The syscall sites of the code page: `syscall` (x86_64), `svc #0`. */
static int syscall_site(long off)
{
	const unsigned char *code = (const unsigned char *)(uintptr_t)STUB_CODE;
#if defined(__aarch64__)
	return off % 4 == 0 && off + 4 <= 4096 && *(const uint32_t *)(code + off) == 0xd4000001;
#elif defined(__arm__)
	return off % 4 == 0 && off + 4 <= 4096 && *(const uint32_t *)(code + off) == 0xef000000;
#else
	return off + 1 < 4096 && code[off] == 0x0f && code[off + 1] == 0x05;
#endif
}

/* With the cookie seen: a host mmap of the memory file from the code
 * page's syscall site `arg`, as jump_mmap with the real cookie (armv7:
 * the mprotect that makes the batch page executable, with the cookie in
 * r3-r5, and a control page in r12 whose one op is that mmap2). */
static void jump_cookie(long arg)
{
	prepare();
#if defined(__arm__)
	fake_ctrl[14] = 192; /* OPS: mmap2(X, 4096, rw, MAP_SHARED|MAP_FIXED, 3, 0) */
	fake_ctrl[15] = X_ADDR;
	fake_ctrl[16] = 4096;
	fake_ctrl[17] = 3;
	fake_ctrl[18] = 0x11;
	fake_ctrl[19] = 3;
	fake_ctrl[20] = 0;
	static uint32_t w[12];
	w[0] = (uint32_t)(uintptr_t)fake_ctrl;
	w[1] = (uint32_t)(uintptr_t)records;
	w[2] = (uint32_t)leak[0];
	w[3] = (uint32_t)(leak[0] >> 32);
	w[4] = (uint32_t)leak[1];
	w[5] = (uint32_t)STUB_BATCH;
	w[6] = 4096;
	w[7] = 5;
	w[8] = 125;
	w[9] = (uint32_t)(uintptr_t)&zeros[1024];
	w[10] = (uint32_t)(STUB_CODE + (arg & 0xfff));
	register uint32_t *wp __asm__("r6") = w;
	__asm__ volatile("ldr r12, [r6, #0]\n\t"
			 "ldr r11, [r6, #4]\n\t"
			 "ldr r3, [r6, #8]\n\t"
			 "ldr r4, [r6, #12]\n\t"
			 "ldr r5, [r6, #16]\n\t"
			 "ldr r0, [r6, #20]\n\t"
			 "ldr r1, [r6, #24]\n\t"
			 "ldr r2, [r6, #28]\n\t"
			 "ldr r7, [r6, #32]\n\t"
			 "ldr r8, [r6, #36]\n\t"
			 "mov sp, r8\n\t"
			 "mov r8, #0\n\t"
			 "mov r10, #1\n\t"
			 "ldr r6, [r6, #40]\n\t"
			 "bx r6"
			 :
			 : "r"(wp)
			 : "memory");
#else
	static uint64_t v[10];
	v[0] = (uint64_t)fake_ctrl;
	v[1] = (uint64_t)records;
	v[2] = leak[0];
	v[3] = 0x11 | leak[0];
	v[4] = 3 | leak[1];
	v[5] = X_ADDR;
	v[6] = (uint64_t)&zeros[1024];
	v[7] = STUB_CODE + (arg & 0xfff);
	v[8] = leak[1];
#if defined(__aarch64__)
	register uint64_t *vp __asm__("x9") = v;
	__asm__ volatile("ldr x12, [x9, #0]\n\t"
			 "mov x13, #0\n\t"
			 "ldr x14, [x9, #8]\n\t"
			 "mov x15, #0\n\t"
			 "ldr x19, [x9, #16]\n\t"
			 "ldr x20, [x9, #64]\n\t"
			 "ldr x3, [x9, #24]\n\t"
			 "ldr x4, [x9, #32]\n\t"
			 "mov x5, #0\n\t"
			 "mov x8, #222\n\t"
			 "ldr x0, [x9, #40]\n\t"
			 "mov x1, #4096\n\t"
			 "mov x2, #3\n\t"
			 "ldr x10, [x9, #48]\n\t"
			 "mov sp, x10\n\t"
			 "ldr x10, [x9, #56]\n\t"
			 "br x10"
			 :
			 : "r"(vp)
			 : "x0", "x1", "x2", "x3", "x4", "x5", "x8", "x10", "x12",
			   "x13", "x14", "x15", "x19", "x20", "memory");
#else
	v[2] = 0;
	__asm__ volatile("mov 0(%%rcx), %%r12\n\t"
			 "xor %%r13, %%r13\n\t"
			 "mov 8(%%rcx), %%r14\n\t"
			 "xor %%r15, %%r15\n\t"
			 "mov 16(%%rcx), %%rbx\n\t"
			 "mov 16(%%rcx), %%rbp\n\t"
			 "mov 24(%%rcx), %%r10\n\t"
			 "mov 32(%%rcx), %%r8\n\t"
			 "xor %%r9, %%r9\n\t"
			 "mov $9, %%eax\n\t"
			 "mov 40(%%rcx), %%rdi\n\t"
			 "mov $4096, %%esi\n\t"
			 "mov $3, %%edx\n\t"
			 "mov 48(%%rcx), %%rsp\n\t"
			 "jmp *56(%%rcx)"
			 :
			 : "c"(v)
			 : "rax", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11",
			   "r12", "r13", "r14", "r15", "rbx", "memory");
#endif
#endif
}

static void forged_report_attack(void)
{
	static const char *const names[] = {
		"a forged page-fault report",
		"a forged mmap report",
		"a forged page-fault report, the kick blocked",
		"a forged mmap report, the kick blocked",
	};
	if (!slot_mapped) {
		say("ok a forged report: no slot%.0ld%.0ld\n", 0, 0);
		return;
	}
	leak = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (leak == MAP_FAILED) {
		say("FAIL a forged report: mmap %ld%.0ld\n", errno, 0);
		return;
	}
	for (long how = 0; how < 4; how++) {
		char fmt[200];
		leak[0] = leak[1] = leak[2] = 0;
		int st = in_child(forge_report, how);
		if (leak[0] | leak[1]) {
			long sites = 0, escaped = 0;
			for (long off = 0; off < 4096; off++) {
				if (!syscall_site(off))
					continue;
				sites++;
				int s = in_child(jump_cookie, off);
				escaped += WIFEXITED(s) && WEXITSTATUS(s) == 42;
			}
			snprintf(fmt, sizeof fmt, "FAIL %s: the reply showed the cookie to the running guest; "
				 "a host mmap with it escaped from %%ld of %%ld syscall sites\n", names[how]);
			say(fmt, escaped, sites);
		} else if (WIFEXITED(st) && WEXITSTATUS(st) == 10) {
			snprintf(fmt, sizeof fmt, "ok %s: served, no cookie seen while the guest ran%%.0ld%%.0ld\n", names[how]);
			say(fmt, 0, 0);
		} else if (WIFSIGNALED(st)) {
			/* The kick blocked: the stub spins after its poll until
			 * umbra kills it (leak[2]: 20 + the state word then). */
			snprintf(fmt, sizeof fmt, "ok %s: no cookie seen, killed by %%ld%%.0ld\n", names[how]);
			say(fmt, WTERMSIG(st), 0);
		} else {
			/* 20 + the state word (+ 8: kicks took the place of the
			 * forged report every time): no cookie seen either. */
			snprintf(fmt, sizeof fmt, "ok %s: no cookie seen (status %%#lx)%%.0ld\n", names[how]);
			say(fmt, st, 0);
		}
	}
}

/* Another guest process that must keep making progress while an attack
 * runs: it makes syscalls (a read of a pipe, which also says when to stop)
 * and measures the longest gap between two of them, by CLOCK_MONOTONIC. A
 * stub that blocks umbra's kick must not hold umbra, and so this process,
 * for more than a short bound (SECURITY.md S5). The check is a gap under
 * 4 s: the 5 s holds from before show, and a loaded host does not (gaps of
 * 35-1,187 ms with the whole e2e_hostile suite in parallel at load 7-20,
 * 2.7 s once with UMBRA_SPIN_CPUS=1 beside its fork bomb test). */
struct ticker {
	pid_t pid;
	int stop;
};

static long mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static struct ticker ticker_start(const char *what)
{
	struct ticker t = { -1, -1 };
	int p[2];
	if (pipe(p) != 0) {
		say("FAIL ticker: pipe %ld%.0ld\n", errno, 0);
		return t;
	}
	pid_t pid = fork();
	if (pid == 0) {
		close(p[1]);
		fcntl(p[0], F_SETFL, O_NONBLOCK);
		long calls = 0, gap = 0, last = mono_ms(), t0 = last;
		for (;;) {
			char c;
			ssize_t n = read(p[0], &c, 1);
			long now = mono_ms();
			if (now - last > gap)
				gap = now - last;
			last = now;
			calls++;
			if (n >= 0 || now - t0 > 60000)
				break;
		}
		char fmt[200];
		snprintf(fmt, sizeof fmt, "%s ticker during %s: %%ld calls in %ld ms, longest gap %%ld ms\n",
			 gap < 4000 && calls > 0 ? "ok" : "FAIL", what, last - t0);
		say(fmt, calls, gap);
		_exit(0);
	}
	close(p[0]);
	t.pid = pid;
	t.stop = p[1];
	return t;
}

static void ticker_stop(struct ticker t)
{
	if (t.pid < 0)
		return;
	close(t.stop);
	int st = 0;
	waitpid(t.pid, &st, 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		say("FAIL ticker: status %#lx%.0ld\n", st, 0);
}

static void judge(const char *name, int st)
{
	char fmt[160];
	if (WIFEXITED(st) && WEXITSTATUS(st) == 42) {
		snprintf(fmt, sizeof fmt, "FAIL %s: escaped%%.0ld%%.0ld\n", name);
		say(fmt, 0, 0);
	} else if (WIFSIGNALED(st) || WIFEXITED(st)) {
		snprintf(fmt, sizeof fmt, "ok %s%%.0ld%%.0ld\n", name);
		say(fmt, 0, 0);
	} else {
		snprintf(fmt, sizeof fmt, "FAIL %s: status %%#lx%%.0ld\n", name);
		say(fmt, st, 0);
	}
}

int main(int argc, char **argv)
{
	slot_mapped = have_slot();
	if (argc > 1 && !strcmp(argv[1], "forge")) {
		/* Only the forged report (for hand runs). */
		forged_report_attack();
		say("done%.0ld%.0ld\n", 0, 0);
		return failures ? 1 : 0;
	}
	(void)argc;
	(void)argv;
	/* Every syscall instruction of the code page, each with every guess. */
	const unsigned char *code = (const unsigned char *)(uintptr_t)STUB_CODE;
	int sites = 0, ended = 0, escaped = 0, killed = 0;
#if defined(__aarch64__)
	for (long off = 0; off + 4 <= 4096; off += 4) {
		if (*(const uint32_t *)(code + off) != 0xd4000001) /* svc #0 */
			continue;
#elif defined(__arm__)
	for (long off = 0; off + 4 <= 4096; off += 4) {
		if (*(const uint32_t *)(code + off) != 0xef000000) /* svc #0 */
			continue;
#else
	for (long off = 0; off + 1 < 4096; off++) {
		if (code[off] != 0x0f || code[off + 1] != 0x05)
			continue;
#endif
		sites++;
		for (long g = 0; g < 4; g++) {
			int st = in_child(jump_mmap, off | (g << 12));
			if (WIFEXITED(st) && WEXITSTATUS(st) == 42)
				escaped++;
			else if (WIFSIGNALED(st) || WIFEXITED(st))
				ended++;
			killed += WIFSIGNALED(st);
		}
	}
	if (sites >= 3 && !escaped && ended == 4 * sites)
		say("ok mmap of the memory file from %ld syscall sites: none ran (%ld killed)\n", sites, killed);
	else
		say("FAIL mmap from the stub's syscall sites: %ld escaped of %ld\n", escaped, 4L * sites);
#if defined(__arm__)
	/* The batch page's op loop, with the registers of the host mmap2. */
	judge("a jump into the batch page", in_child(jump_mmap, 0x4000));
#endif

	judge("handler entry, report outside the slot", in_child(jump_handler, (long)zeros));
	judge("handler entry, report inside the slot", in_child(jump_handler, (long)SLOT + 0x2000));
	judge("handler entry, report at the stack top", in_child(jump_handler, (long)SLOT + 0x7ff0));

	if (slot_mapped) {
		judge("cookie words at rest", in_child(cookie_at_rest, 0));
		for (long seed = 1; seed <= 3; seed++)
			judge("a thread scribbles the slot", in_child(scribble_race, seed));
	} else {
		say("ok cookie words at rest: no slot%.0ld%.0ld\n", 0, 0);
		say("ok a thread scribbles the slot: no slot%.0ld%.0ld\n", 0, 0);
	}
	struct ticker tk = ticker_start("the forged reports");
	forged_report_attack();
	ticker_stop(tk);
	/* A forged frame that blocks the kick: the parent kills the child after
	 * a second. Meanwhile umbra holds it (seccomp: stops it when overdue
	 * and runs the others), and the ticker goes on. */
	tk = ticker_start("a forged frame blocking the kick");
	pid_t k = fork();
	if (k == 0) {
		blocked_kick(0);
		_exit(100);
	}
	sleep(1);
	kill(k, SIGKILL);
	int kst = 0;
	waitpid(k, &kst, 0);
	if (WIFSIGNALED(kst))
		say("ok a forged frame blocking the kick: killed by %ld%.0ld\n", WTERMSIG(kst), 0);
	else
		say("FAIL a forged frame blocking the kick: status %#lx%.0ld\n", kst, 0);
	ticker_stop(tk);

	/* Still served afterwards. */
	if (getppid() >= 0 && write(1, "", 0) == 0)
		say("ok still served%.0ld%.0ld\n", 0, 0);
	say("done%.0ld%.0ld\n", 0, 0);
	return failures ? 1 : 0;
}
