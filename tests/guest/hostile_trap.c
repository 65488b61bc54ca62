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
 *   first one makes syscalls and mappings: only that process may suffer. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define STUB_CODE 0x7fffff000000ull
#define SLOT 0x7fffff010000ull
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
	_exit(*(volatile uint64_t *)(SLOT + 8) == 0x5a5a ? 11 : 10);
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
	_exit(*(volatile uint64_t *)X_ADDR == MARK ? 10 : 42);
}

static char altstack[65536];
static uint64_t fake_ctrl[512] __attribute__((aligned(4096)));
static uint64_t zeros[2048] __attribute__((aligned(16)));
static uint64_t records[7 * 4];

static void prepare(void)
{
	alarm(2); /* a jump to a futex site waits under ptrace */
	uint64_t *x = mmap((void *)X_ADDR, 4096, PROT_READ | PROT_WRITE,
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
	__asm__ volatile("mov %%fs:0, %0" : "=r"(fs));
	fake_ctrl[11] = fs; /* REPLY_FS */
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
	static uint64_t v[16];
	v[0] = (uint64_t)fake_ctrl; /* r12 */
	v[1] = (uint64_t)records;   /* r14 */
	v[2] = g << 32;             /* rbx, rbp */
	v[3] = r10;
	v[4] = r8;
	v[5] = X_ADDR;              /* rdi */
	v[6] = (uint64_t)&zeros[1024]; /* rsp */
	v[7] = STUB_CODE + (arg & 0xfff);
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
}

/* Jumps to the handler entry with rsi/rdx (siginfo, ucontext) at `arg`. */
static void jump_handler(long arg)
{
	prepare();
	static const unsigned char pat[] = { 0x49, 0xbc, 0x00, 0x00, 0x01,
					     0xff, 0xff, 0x7f, 0x00, 0x00 };
	const unsigned char *code = (const unsigned char *)STUB_CODE;
	long at = -1;
	for (long i = 0; i + (long)sizeof pat <= 4096; i++)
		if (!memcmp(code + i, pat, sizeof pat)) {
			at = i;
			break;
		}
	if (at < 0)
		_exit(10); /* no handler (ptrace platform) */
	static uint64_t v[3];
	v[0] = (uint64_t)arg;
	v[1] = (uint64_t)&zeros[1024];
	v[2] = STUB_CODE + at;
	__asm__ volatile("mov 0(%%rcx), %%rsi\n\t"
			 "mov 0(%%rcx), %%rdx\n\t"
			 "mov 8(%%rcx), %%rsp\n\t"
			 "jmp *16(%%rcx)"
			 :
			 : "c"(v)
			 : "rdx", "rsi", "memory");
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
	uint64_t v = (uint64_t)arg;
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

static uint64_t forged_uc[64] __attribute__((aligned(64)));
static uint64_t spin_stack[1024] __attribute__((aligned(16)));

/* Jumps to the handler's own rt_sigreturn with a forged frame that blocks
 * every host signal (the kick included) and then spins: umbra must kill it
 * (seccomp: after 5 s of an unanswered kick) instead of waiting forever. */
static void blocked_kick(long _)
{
	(void)_;
	static const unsigned char pat[] = { 0xb8, 0x0f, 0x00, 0x00, 0x00, 0x0f, 0x05 };
	const unsigned char *code = (const unsigned char *)STUB_CODE;
	long at = -1;
	for (long i = 0; i + (long)sizeof pat <= 4096; i++)
		if (!memcmp(code + i, pat, sizeof pat))
			at = i; /* the last one: the handler's */
	if (at < 0)
		_exit(10);
	memset(forged_uc, 0, sizeof forged_uc);
	/* struct ucontext: flags, link, stack {sp, flags, size}, then gregs. */
	forged_uc[3] = 2; /* SS_DISABLE */
	uint64_t *g = &forged_uc[5];
	g[15] = (uint64_t)&spin_stack[1000]; /* rsp */
	g[16] = (uint64_t)spin_forever;      /* rip */
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

int main(void)
{
	slot_mapped = have_slot();
	/* Every syscall instruction of the code page, each with every guess. */
	const unsigned char *code = (const unsigned char *)STUB_CODE;
	int sites = 0, ended = 0, escaped = 0, killed = 0;
	for (long off = 0; off + 1 < 4096; off++) {
		if (code[off] != 0x0f || code[off + 1] != 0x05)
			continue;
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
	/* A forged frame that blocks the kick: the parent kills the child after
	 * a second (ptrace), or umbra does after its grace (seccomp); either
	 * way both go on. */
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

	/* Still served afterwards. */
	if (getppid() >= 0 && write(1, "", 0) == 0)
		say("ok still served%.0ld%.0ld\n", 0, 0);
	say("done%.0ld%.0ld\n", 0, 0);
	return failures ? 1 : 0;
}
