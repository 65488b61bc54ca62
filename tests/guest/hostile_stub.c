/* hostile_stub: attacks on the 64-bit syscall ABI gate and on the stub pages
 * (linker/README.md: code page r-x at 0x7fff_ff00_0000, data page r-- at
 * 0x7fff_ff00_1000, above the guest's range USER_END = 0x7fff_ff00_0000).
 *
 * Each attack runs in a forked child; the parent prints one line per attack:
 *   "ok NAME ..." when the guest-visible result is the safe one,
 *   "FAIL NAME ..." otherwise,
 * then "done". The host-side checks (canary, host processes, host opens)
 * are made by tests/e2e_hostile.rs. Output uses write(2) only. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define STUB_CODE 0x7fffff000000ull
#define STUB_DATA 0x7fffff001000ull
#define ENOSYS_RET (-38L)

static int failures;

static void say(const char *fmt, long a, long b)
{
	char line[200];
	int n = snprintf(line, sizeof line, fmt, a, b);
	write(1, line, n);
	if (!strncmp(line, "FAIL", 4))
		failures++;
}

/* Runs fn in a child; returns its wait status. */
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

/* --- the ABI gate ------------------------------------------------------ */

static const char marker[] = "ESCAPED-INT80-WRITE\n";
static const char shell[] = "/bin/sh";

static long int80(long eax, long ebx, long ecx, long edx)
{
	long r;
	__asm__ volatile("int $0x80"
			 : "=a"(r)
			 : "a"(eax), "b"(ebx), "c"(ecx), "d"(edx)
			 : "r8", "r9", "r10", "r11", "memory");
	return r;
}

static long x32(long nr, long a, long b, long c)
{
	long r;
	__asm__ volatile("syscall"
			 : "=a"(r)
			 : "a"(0x40000000L | nr), "D"(a), "S"(b), "d"(c)
			 : "rcx", "r11", "memory");
	return r;
}

static int report_pipe = -1;

static void int80_exit(long _) { (void)_; long r = int80(1, 7, 0, 0); write(report_pipe, &r, 8); }
static void int80_write(long _) { (void)_; long r = int80(4, 1, (long)marker, sizeof marker - 1); write(report_pipe, &r, 8); }
static void int80_execve(long _) { (void)_; long r = int80(11, (long)shell, 0, 0); write(report_pipe, &r, 8); }
static void int80_getpid(long _) { (void)_; long r = int80(20, 0, 0, 0); write(report_pipe, &r, 8); }
static void x32_exit(long _) { (void)_; long r = x32(60, 7, 0, 0); write(report_pipe, &r, 8); }
static void x32_write(long _) { (void)_; long r = x32(1, 1, (long)marker, sizeof marker - 1); write(report_pipe, &r, 8); }
static void x32_execve(long _) { (void)_; long r = x32(59, (long)shell, 0, 0); write(report_pipe, &r, 8); }
static void x32_high(long nr) { long r = x32(nr, 1, (long)marker, sizeof marker - 1); write(report_pipe, &r, 8); }

static void abi_attack(const char *name, void (*fn)(long), long arg)
{
	int p[2];
	pipe(p);
	report_pipe = p[1];
	int st = in_child(fn, arg);
	close(p[1]);
	long r = 0;
	int got = read(p[0], &r, 8) == 8;
	close(p[0]);
	char fmt[120];
	if (got && r == ENOSYS_RET && WIFEXITED(st) && WEXITSTATUS(st) == 100) {
		snprintf(fmt, sizeof fmt, "ok %s -ENOSYS%%.0ld%%.0ld\n", name);
		say(fmt, 0, 0);
	} else if (!got && WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS) {
		snprintf(fmt, sizeof fmt, "ok %s SIGSYS%%.0ld%%.0ld\n", name);
		say(fmt, 0, 0);
	} else {
		snprintf(fmt, sizeof fmt, "FAIL %s: ret %%ld status %%#lx\n", name);
		say(fmt, got ? r : 12345, st);
	}
}

/* --- the stub pages ---------------------------------------------------- */

static void store_code(long _) { (void)_; *(volatile char *)STUB_CODE = 1; }
static void store_data(long _) { (void)_; *(volatile uint64_t *)STUB_DATA = 73; }
static void store_data_end(long _) { (void)_; *(volatile char *)(STUB_DATA + 4095) = 1; }

/* Jumps to STUB_CODE + off with registers set up as a batch would be: r12
 * the data page, r13 a count, r14 records in guest memory asking for
 * openat(AT_FDCWD, canary, O_WRONLY|O_TRUNC) and mmap of fd 3 (the stub's
 * memory file) over the guest's own range. If any of those ran on the host,
 * the canary or umbra's memory would change. */
static char canary_path[256] = "/nonexistent";
static uint64_t records[8 * 7];

static void jump(long off)
{
	uint64_t *rec = records;
	rec[0] = 257; /* openat */
	rec[1] = (uint64_t)-100;
	rec[2] = (uint64_t)canary_path;
	rec[3] = 01 | 01000; /* O_WRONLY | O_TRUNC */
	rec[7] = 9; /* mmap(0x10000, 1 MiB, rwx, MAP_SHARED|MAP_FIXED, 3, 0) */
	rec[8] = 0x10000;
	rec[9] = 1 << 20;
	rec[10] = 7;
	rec[11] = 0x11;
	rec[12] = 3;
	rec[13] = 0;
	rec[14] = 2; /* open(canary, O_WRONLY|O_TRUNC) */
	rec[15] = (uint64_t)canary_path;
	rec[16] = 01 | 01000;
	__asm__ volatile("mov %0, %%r14\n\t"
			 "mov $3, %%r13\n\t"
			 "mov %1, %%r12\n\t"
			 "xor %%r15, %%r15\n\t"
			 "mov $2, %%eax\n\t"
			 "mov %2, %%rdi\n\t"
			 "mov $0x201, %%esi\n\t"
			 "jmp *%3"
			 :
			 : "r"(records), "r"(STUB_DATA), "r"(canary_path),
			   "r"(STUB_CODE + off)
			 : "r12", "r13", "r14", "r15", "rax", "rdi", "rsi",
			   "memory");
}

static void read_data_page(long _)
{
	(void)_;
	volatile uint64_t *p = (volatile uint64_t *)STUB_DATA;
	long nonzero = 0;
	for (int i = 0; i < 512; i++)
		nonzero += p[i] != 0;
	_exit(nonzero > 99 ? 99 : nonzero);
}

static void check_mmap(const char *name, void *want, size_t len, int flags)
{
	void *r = mmap(want, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0);
	int e = errno;
	uint64_t a = (uint64_t)r;
	char fmt[160];
	if (r == MAP_FAILED) {
		snprintf(fmt, sizeof fmt, "ok %s fails errno %%ld%%.0ld\n", name);
		say(fmt, e, 0);
	} else if (!(flags & MAP_FIXED) && a + len <= STUB_CODE && a >= 0x10000) {
		/* A hint is only a hint: elsewhere in the guest range is fine. */
		snprintf(fmt, sizeof fmt, "ok %s moved to %%#lx%%.0ld\n", name);
		say(fmt, a, 0);
		munmap(r, len);
	} else {
		snprintf(fmt, sizeof fmt, "FAIL %s: mapped at %%#lx len %%#lx\n", name);
		say(fmt, a, len);
	}
}

static void check_err(const char *name, long r)
{
	char fmt[160];
	if (r == -1) {
		snprintf(fmt, sizeof fmt, "ok %s fails errno %%ld%%.0ld\n", name);
		say(fmt, errno, 0);
	} else {
		snprintf(fmt, sizeof fmt, "FAIL %s: returned %%#lx%%.0ld\n", name);
		say(fmt, r, 0);
	}
}

static void expect_signal(const char *name, int st, int sig1, int sig2)
{
	char fmt[160];
	if (WIFSIGNALED(st) && (WTERMSIG(st) == sig1 || WTERMSIG(st) == sig2)) {
		snprintf(fmt, sizeof fmt, "ok %s signal %%ld%%.0ld\n", name);
		say(fmt, WTERMSIG(st), 0);
	} else {
		snprintf(fmt, sizeof fmt, "FAIL %s: status %%#lx%%.0ld\n", name);
		say(fmt, st, 0);
	}
}

int main(int argc, char **argv)
{
	if (argc > 1)
		snprintf(canary_path, sizeof canary_path, "%s", argv[1]);

	abi_attack("int80 exit(7)", int80_exit, 0);
	abi_attack("int80 write", int80_write, 0);
	abi_attack("int80 execve", int80_execve, 0);
	abi_attack("int80 getpid", int80_getpid, 0);
	abi_attack("x32 exit(7)", x32_exit, 0);
	abi_attack("x32 write", x32_write, 0);
	abi_attack("x32 execve", x32_execve, 0);
	abi_attack("x32 nr 512 (x32 rt_sigaction)", x32_high, 512);
	abi_attack("x32 nr 547", x32_high, 547);

	expect_signal("store to stub code page", in_child(store_code, 0), SIGSEGV, SIGBUS);
	expect_signal("store to stub data page", in_child(store_data, 0), SIGSEGV, SIGBUS);
	expect_signal("store to end of stub data page", in_child(store_data_end, 0), SIGSEGV, SIGBUS);

	/* Jumps into the stub code: any end is fine for the guest (a signal
	 * or an exit) as long as umbra and the host are untouched; the parent
	 * checks it is still served afterwards. */
	long ends = 0;
	for (long off = 0; off < 96; off++) {
		int st = in_child(jump, off);
		ends += WIFSIGNALED(st) || WIFEXITED(st);
	}
	if (ends == 96 && getppid() >= 0)
		say("ok jumps into the stub code: %ld children ended%.0ld\n", ends, 0);
	else
		say("FAIL jumps into the stub code: %ld of 96 ended%.0ld\n", ends, 0);

	/* Reading the data page at rest must show no leftover batch. */
	int st = in_child(read_data_page, 0);
	if (WIFSIGNALED(st))
		say("ok stub data page unreadable: signal %ld%.0ld\n", WTERMSIG(st), 0);
	else if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		say("ok stub data page reads as zeros%.0ld%.0ld\n", 0, 0);
	else
		say("FAIL stub data page holds %ld nonzero words%.0ld\n", WEXITSTATUS(st), 0);

	/* Mappings over the stub area and the top of the address space. */
	check_mmap("mmap FIXED at stub code", (void *)STUB_CODE, 4096, MAP_FIXED);
	check_mmap("mmap FIXED at stub data", (void *)STUB_DATA, 4096, MAP_FIXED);
	check_mmap("mmap FIXED straddling USER_END", (void *)(STUB_CODE - 4096), 8192, MAP_FIXED);
	check_mmap("mmap FIXED_NOREPLACE at stub", (void *)STUB_CODE, 8192, MAP_FIXED_NOREPLACE);
	check_mmap("mmap FIXED at top page", (void *)0x7ffffffff000ull, 4096, MAP_FIXED);
	check_mmap("mmap FIXED non-canonical", (void *)0x800000000000ull, 4096, MAP_FIXED);
	check_mmap("mmap FIXED kernel half", (void *)0xffff800000000000ull, 4096, MAP_FIXED);
	check_mmap("mmap FIXED vsyscall", (void *)0xffffffffff600000ull, 4096, MAP_FIXED);
	check_mmap("mmap FIXED wrapping", (void *)0xfffffffffffff000ull, 8192, MAP_FIXED);
	check_mmap("mmap hint at stub", (void *)STUB_CODE, 4096, 0);
	check_mmap("mmap 2^47 bytes", NULL, 1ull << 47, 0);
	check_mmap("mmap -4096 bytes", NULL, (size_t)-4096, 0);
	check_err("munmap stub pages", munmap((void *)STUB_CODE, 8192));
	check_err("munmap across USER_END", munmap((void *)(STUB_CODE - 4096), 8192));
	check_err("munmap everything", munmap((void *)0, 0x7ffffffff000ull));
	check_err("mprotect stub pages rw", mprotect((void *)STUB_CODE, 8192, PROT_READ | PROT_WRITE));
	check_err("mprotect top page", mprotect((void *)0x7ffffffff000ull, 4096, PROT_READ));
	check_err("madvise DONTNEED stub", madvise((void *)STUB_CODE, 8192, MADV_DONTNEED));
	void *m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	check_err("mremap to stub code", (long)mremap(m, 8192, 8192, MREMAP_MAYMOVE | MREMAP_FIXED, (void *)STUB_CODE) == (long)MAP_FAILED ? -1 : 0);
	check_err("mremap to top", (long)mremap(m, 8192, 8192, MREMAP_MAYMOVE | MREMAP_FIXED, (void *)0x7ffffffff000ull) == (long)MAP_FAILED ? -1 : 0);
	check_err("mremap grow into stub", (long)mremap((void *)(STUB_CODE - 8192), 4096, 3 * 4096, 0) == (long)MAP_FAILED ? -1 : 0);
	check_err("mremap stub away", (long)mremap((void *)STUB_CODE, 4096, 4096, MREMAP_MAYMOVE | MREMAP_FIXED, m) == (long)MAP_FAILED ? -1 : 0);
	check_err("brk to stub", (long)sbrk(0) && syscall(12, STUB_CODE) == STUB_CODE ? 0 : -1);

	/* The guest is still served normally after all this. */
	char *q = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(q, 0x5a, 1 << 20);
	st = in_child(store_code, 0);
	if (q != MAP_FAILED && q[12345] == 0x5a && WIFSIGNALED(st))
		say("ok still served after the attacks%.0ld%.0ld\n", 0, 0);
	else
		say("FAIL not served normally after the attacks%.0ld%.0ld\n", 0, 0);
	say("failures %ld%.0ld\n", failures, 0);
	write(1, "done\n", 5);
	return failures != 0;
}
