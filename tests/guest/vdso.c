/* vdso.c: the vDSO, found through getauxval(AT_SYSINFO_EHDR) and parsed as
 * musl does (DT_HASH, versym, verdef); its time functions compared with the
 * syscalls. Prints only results that do not depend on timing.
 *
 * Sections (argv): find, order, real, libc, coarse, getcpu, fallback, maps,
 * fork, vsyscall (x86_64's legacy page), count (100000 clock_gettime through libc, for the trap count test). */
#define _GNU_SOURCE
#include <elf.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "common.h"

#if UINTPTR_MAX > 0xffffffffu
typedef Elf64_Ehdr Ehdr; typedef Elf64_Phdr Phdr; typedef Elf64_Sym Sym;
typedef Elf64_Dyn Dyn;
#else
typedef Elf32_Ehdr Ehdr; typedef Elf32_Phdr Phdr; typedef Elf32_Sym Sym;
typedef Elf32_Dyn Dyn;
#endif

#if defined(__x86_64__)
#define VER "LINUX_2.6"
#define CGT "__vdso_clock_gettime"
#define GTOD "__vdso_gettimeofday"
#define GETRES "__vdso_clock_getres"
#elif defined(__aarch64__)
#define VER "LINUX_2.6.39"
#define CGT "__kernel_clock_gettime"
#define GTOD "__kernel_gettimeofday"
#define GETRES "__kernel_clock_getres"
#elif defined(__arm__)
#define VER "LINUX_2.6"
#define CGT "__vdso_clock_gettime64"
#define GTOD "__vdso_gettimeofday"
#define GETRES "__vdso_clock_getres"
#endif

/* A 64-bit timespec, whatever the libc's time_t (the arm vDSO's
 * clock_gettime64 and the clock_gettime64 syscall use it). */
struct ts64 { int64_t sec; int64_t nsec; };

static char *vbase;
static const char *strtab;
static Sym *symtab;
static uint32_t *hashtab;
static uint16_t *versym;
static Elf32_Verdef *verdef; /* same layout in ELF64 */

static int load(void)
{
	Ehdr *eh = (Ehdr *)getauxval(AT_SYSINFO_EHDR);
	if (!eh)
		return 0;
	Phdr *ph = (Phdr *)((char *)eh + eh->e_phoff);
	Dyn *dyn = 0;
	for (int i = 0; i < eh->e_phnum; i++, ph = (Phdr *)((char *)ph + eh->e_phentsize)) {
		if (ph->p_type == PT_LOAD)
			vbase = (char *)eh + ph->p_offset - ph->p_vaddr;
		else if (ph->p_type == PT_DYNAMIC)
			dyn = (Dyn *)((char *)eh + ph->p_offset);
	}
	if (!dyn || !vbase)
		return 0;
	for (; dyn->d_tag; dyn++) {
		char *p = vbase + dyn->d_un.d_ptr;
		switch (dyn->d_tag) {
		case DT_STRTAB: strtab = p; break;
		case DT_SYMTAB: symtab = (Sym *)p; break;
		case DT_HASH: hashtab = (uint32_t *)p; break;
		case DT_VERSYM: versym = (uint16_t *)p; break;
		case DT_VERDEF: verdef = (Elf32_Verdef *)p; break;
		}
	}
	return strtab && symtab && hashtab;
}

static int checkver(int vsym, const char *name)
{
	Elf32_Verdef *d = verdef;
	vsym &= 0x7fff;
	for (;;) {
		if (!(d->vd_flags & VER_FLG_BASE) && (d->vd_ndx & 0x7fff) == vsym)
			break;
		if (!d->vd_next)
			return 0;
		d = (Elf32_Verdef *)((char *)d + d->vd_next);
	}
	Elf32_Verdaux *aux = (Elf32_Verdaux *)((char *)d + d->vd_aux);
	return !strcmp(name, strtab + aux->vda_name);
}

static void *sym(const char *name)
{
	for (uint32_t i = 0; i < hashtab[1]; i++) {
		int type = symtab[i].st_info & 0xf, bind = symtab[i].st_info >> 4;
		if (type != STT_FUNC && type != STT_NOTYPE)
			continue;
		if (bind != STB_GLOBAL && bind != STB_WEAK)
			continue;
		if (!symtab[i].st_shndx || strcmp(name, strtab + symtab[i].st_name))
			continue;
		if (versym && verdef && !checkver(versym[i], VER))
			continue;
		return vbase + symtab[i].st_value;
	}
	return 0;
}

typedef int (*cgt_fn)(clockid_t, struct ts64 *);
typedef int (*gtod_fn)(struct timeval *, void *);
/* clock_getres in the vDSO takes the kernel's native timespec (longs). */
struct tsl { long sec; long nsec; };
typedef int (*getres_fn)(clockid_t, struct tsl *);

static cgt_fn vcgt;

static int64_t ns(struct ts64 t) { return t.sec * 1000000000LL + t.nsec; }

/* The clock read by the syscall, with a 64-bit timespec. */
static int64_t sys_ns(clockid_t c)
{
	struct ts64 t;
#ifdef SYS_clock_gettime64
	if (syscall(SYS_clock_gettime64, c, &t))
		return -1;
#else
	if (syscall(SYS_clock_gettime, c, &t))
		return -1;
#endif
	return ns(t);
}

static int64_t vdso_ns(clockid_t c)
{
	struct ts64 t;
	if (vcgt(c, &t))
		return -1;
	return ns(t);
}

static int64_t libc_ns(clockid_t c)
{
	struct timespec t;
	if (clock_gettime(c, &t))
		return -1;
	return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* Reads per ordering check: fewer on ARM, whose suite runs in an emulated
 * machine where one trap into umbra costs about a millisecond. */
#if defined(__arm__) || defined(__aarch64__)
#define ORDER_N 500
#else
#define ORDER_N 20000
#endif

static void order(const char *name, clockid_t c, int64_t (*a)(clockid_t),
		  int64_t (*b)(clockid_t))
{
	int64_t last = a(c);
	int bad = 0;
	for (int i = 0; i < ORDER_N; i++) {
		int64_t x = (i & 1) ? a(c) : b(c);
		if (x < last)
			bad++;
		last = x;
	}
	printf("%s: %s\n", name, bad ? "went backwards" : "never backwards");
}

int main(int argc, char **argv)
{
	int have = load();
	printf("vdso: %s\n", have ? "found" : "missing");
	if (!have)
		return 1;
	vcgt = (cgt_fn)sym(CGT);
	gtod_fn vgtod = (gtod_fn)sym(GTOD);
	getres_fn vres = (getres_fn)sym(GETRES);
	for (int a = 1; a < argc; a++) {
		const char *s = argv[a];
		printf("[%s]\n", s);
		if (!strcmp(s, "find")) {
			printf("%s@%s: %s\n", CGT, VER, vcgt ? "ok" : "missing");
			printf("%s@%s: %s\n", GTOD, VER, vgtod ? "ok" : "missing");
			printf("%s@%s: %s\n", GETRES, VER, vres ? "ok" : "missing");
#if defined(__x86_64__)
			printf("__vdso_time: %s\n", sym("__vdso_time") ? "ok" : "missing");
			printf("__vdso_getcpu: %s\n", sym("__vdso_getcpu") ? "ok" : "missing");
#elif defined(__arm__)
			printf("__vdso_clock_gettime: %s\n",
			       sym("__vdso_clock_gettime") ? "ok" : "missing");
#endif
			printf("nonexistent: %s\n", sym("__vdso_nonexistent") ? "found" : "missing");
		} else if (!strcmp(s, "order")) {
			/* vDSO and syscall reads interleaved never go backwards. */
			order("monotonic vdso/syscall", CLOCK_MONOTONIC, vdso_ns, sys_ns);
			order("boottime vdso/syscall", CLOCK_BOOTTIME, vdso_ns, sys_ns);
			order("monotonic_raw vdso", CLOCK_MONOTONIC_RAW, vdso_ns, vdso_ns);
			order("monotonic_coarse vdso/syscall", CLOCK_MONOTONIC_COARSE, vdso_ns,
			      sys_ns);
			order("monotonic libc/syscall", CLOCK_MONOTONIC, libc_ns, sys_ns);
		} else if (!strcmp(s, "real")) {
			/* Realtime agrees with the syscall's within 1 s (a loaded
			 * machine may stall between the two reads). */
			int64_t v = vdso_ns(CLOCK_REALTIME), k = sys_ns(CLOCK_REALTIME);
			printf("realtime vdso-syscall < 1 s: %s\n",
			       llabs(v - k) < 1000000000LL ? "yes" : "no");
			v = vdso_ns(CLOCK_REALTIME_COARSE), k = sys_ns(CLOCK_REALTIME_COARSE);
			printf("realtime_coarse vdso-syscall < 1 s: %s\n",
			       llabs(v - k) < 1000000000LL ? "yes" : "no");
			struct timeval tv;
			int r = vgtod(&tv, 0);
			k = sys_ns(CLOCK_REALTIME);
			v = (int64_t)tv.tv_sec * 1000000000LL + tv.tv_usec * 1000LL;
			printf("gettimeofday vdso: %d, < 1 s from syscall: %s, usec < 1e6: %s\n",
			       r, llabs(v - k) < 1000000000LL ? "yes" : "no",
			       tv.tv_usec >= 0 && tv.tv_usec < 1000000 ? "yes" : "no");
			printf("gettimeofday vdso NULL: %d\n", vgtod(0, 0));
#if defined(__x86_64__)
			time_t (*vtime)(time_t *) = (time_t (*)(time_t *))sym("__vdso_time");
			time_t t1, t0 = vtime(&t1);
			k = sys_ns(CLOCK_REALTIME) / 1000000000LL;
			printf("time vdso: same as stored: %s, within 1 s of syscall: %s\n",
			       t0 == t1 ? "yes" : "no", llabs((int64_t)t0 - k) <= 1 ? "yes" : "no");
#endif
			time_t lt = time(0);
			k = sys_ns(CLOCK_REALTIME) / 1000000000LL;
			printf("time libc within 1 s of syscall: %s\n",
			       llabs((int64_t)lt - k) <= 1 ? "yes" : "no");
		} else if (!strcmp(s, "libc")) {
			struct timespec a0, b0;
			clock_gettime(CLOCK_MONOTONIC, &a0);
			int64_t k = sys_ns(CLOCK_MONOTONIC);
			clock_gettime(CLOCK_MONOTONIC, &b0);
			int64_t x = (int64_t)a0.tv_sec * 1000000000LL + a0.tv_nsec;
			int64_t y = (int64_t)b0.tv_sec * 1000000000LL + b0.tv_nsec;
			printf("libc, syscall, libc in order: %s\n", x <= k && k <= y ? "yes" : "no");
			struct timeval tv;
			printf("libc gettimeofday: %d\n", gettimeofday(&tv, 0));
			int64_t r = sys_ns(CLOCK_REALTIME);
			printf("libc gettimeofday within 1 s: %s\n",
			       llabs((int64_t)tv.tv_sec * 1000000000LL + tv.tv_usec * 1000LL - r) <
					       1000000000LL ? "yes" : "no");
			printf("libc cputime clock: %d\n",
			       clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a0));
		} else if (!strcmp(s, "coarse")) {
			struct tsl r;
			int rc = vres(CLOCK_MONOTONIC, &r);
			printf("getres monotonic: %d %lld.%09lld\n", rc, (long long)r.sec,
			       (long long)r.nsec);
			rc = vres(CLOCK_REALTIME, &r);
			printf("getres realtime: %d %lld.%09lld\n", rc, (long long)r.sec,
			       (long long)r.nsec);
			printf("getres NULL: %d\n", vres(CLOCK_MONOTONIC, 0));
			printf("getres bad clock: %d\n", vres(99, &r));
		} else if (!strcmp(s, "getcpu")) {
			int r;
#if defined(__x86_64__)
			unsigned cpu = 77, node = 77;
			int (*vgetcpu)(unsigned *, unsigned *, void *) =
				(int (*)(unsigned *, unsigned *, void *))sym("__vdso_getcpu");
			r = vgetcpu(&cpu, &node, 0);
			printf("getcpu vdso: %d, cpu valid: %s, node %u\n", r,
			       cpu < 4096 ? "yes" : "no", node);
			printf("getcpu vdso NULLs: %d\n", vgetcpu(0, 0, 0));
#endif
			r = sched_getcpu();
			printf("sched_getcpu valid: %s\n", r >= 0 && r < 4096 ? "yes" : "no");
		} else if (!strcmp(s, "fallback")) {
			/* Clocks the vDSO does not serve: the syscall's answer. */
			struct ts64 t;
			printf("process cputime: %d\n", vcgt(CLOCK_PROCESS_CPUTIME_ID, &t));
			printf("thread cputime: %d\n", vcgt(CLOCK_THREAD_CPUTIME_ID, &t));
			printf("clock 99: %d\n", vcgt(99, &t));
			printf("clock -1: %d\n", vcgt(-1, &t));
		} else if (!strcmp(s, "maps")) {
			FILE *f = fopen("/proc/self/maps", "r");
			char line[512];
			int vdso = 0, vvar = 0, at_ehdr = 0;
			unsigned long want = getauxval(AT_SYSINFO_EHDR);
			while (f && fgets(line, sizeof line, f)) {
				unsigned long lo, hi;
				char perms[8];
				if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3)
					continue;
				if (strstr(line, "[vdso]")) {
					vdso = 1;
					at_ehdr = lo == want;
					printf("[vdso] %s\n", perms);
				}
				if (strstr(line, "[vvar]\n")) {
					vvar = 1;
					printf("[vvar] %s\n", perms);
				}
			}
			printf("vdso: %d vvar: %d at AT_SYSINFO_EHDR: %d\n", vdso, vvar, at_ehdr);
			if (f)
				fclose(f);
		} else if (!strcmp(s, "fork")) {
			fflush(stdout);
			pid_t pid = fork();
			if (pid == 0) {
				int64_t a = vdso_ns(CLOCK_MONOTONIC), b = sys_ns(CLOCK_MONOTONIC);
				printf("child: vdso %s, in order: %s\n",
				       getauxval(AT_SYSINFO_EHDR) ? "found" : "missing",
				       a > 0 && a <= b ? "yes" : "no");
				fflush(stdout);
				_exit(0);
			}
			int st;
			waitpid(pid, &st, 0);
			printf("child exit: %d\n", WEXITSTATUS(st));
		} else if (!strcmp(s, "vsyscall")) {
#if defined(__x86_64__)
			/* The legacy vsyscall page, as old static programs call
			 * it: Linux emulates calls of its three entries (the
			 * default vsyscall=xonly); reading it, or calling another
			 * address in it, is SIGSEGV. */
			long (*vg)(struct timeval *, void *) = (void *)0xffffffffff600000ul;
			time_t (*vt)(time_t *) = (void *)0xffffffffff600400ul;
			long (*vc)(unsigned *, unsigned *, void *) = (void *)0xffffffffff600800ul;
			struct timeval tv;
			long r = vg(&tv, 0);
			int64_t k = sys_ns(CLOCK_REALTIME);
			int64_t v = (int64_t)tv.tv_sec * 1000000000LL + tv.tv_usec * 1000LL;
			printf("vsyscall gettimeofday: %ld, within 1 s: %s\n", r,
			       llabs(v - k) < 1000000000LL ? "yes" : "no");
			time_t t1 = 0, t0 = vt(&t1);
			k = sys_ns(CLOCK_REALTIME) / 1000000000LL;
			printf("vsyscall time: stored same: %s, within 1 s: %s\n",
			       t0 == t1 ? "yes" : "no", llabs((int64_t)t0 - k) <= 1 ? "yes" : "no");
			unsigned cpu = 77, node = 77;
			r = vc(&cpu, &node, 0);
			printf("vsyscall getcpu: %ld, cpu valid: %s, node %u\n", r,
			       cpu < 4096 ? "yes" : "no", node);
			for (int how = 0; how < 3; how++) {
				fflush(stdout);
				pid_t pid = fork();
				if (pid == 0) {
					if (how == 0)
						r = *(volatile long *)0xffffffffff600000ul;
					else if (how == 1)
						((long (*)(void))0xffffffffff600100ul)();
					else
						vg((struct timeval *)8, 0); /* bad pointer */
					_exit(0);
				}
				int st;
				waitpid(pid, &st, 0);
				printf("%s: %s %d\n",
				       how == 0 ? "read" : how == 1 ? "misaligned call" : "bad pointer",
				       WIFSIGNALED(st) ? "signal" : "exit",
				       WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
			}
#else
			printf("no vsyscall page\n");
#endif
		} else if (!strcmp(s, "count")) {
			struct timespec t, last = {0, 0};
			int back = 0;
			for (int i = 0; i < 100000; i++) {
				clock_gettime(CLOCK_MONOTONIC, &t);
				if (t.tv_sec < last.tv_sec ||
				    (t.tv_sec == last.tv_sec && t.tv_nsec < last.tv_nsec))
					back++;
				last = t;
			}
			printf("100000 clock_gettime: backwards %d\n", back);
		} else {
			printf("unknown section\n");
		}
	}
	return 0;
}
