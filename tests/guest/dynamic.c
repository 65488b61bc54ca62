/* dynamic: a dynamically linked program (glibc PIE, glibc non-PIE, musl),
 * run natively and under umbra. Sections (argv[1..]):
 *   hello       printf through the shared libc
 *   args        argc, argv and envp
 *   auxv        every AT_* entry the kernel gives, checked against what the
 *               dynamic linker reports (dl_iterate_phdr)
 *   brk         the break starts after the program and grows
 *   dlopen      dlopen + dlsym of libdyntest.so, next to the program
 *   dlopen_libm dlopen + dlsym of glibc's libm.so.6 (glibc only)
 *   interp_errs execve of copies of this program whose PT_INTERP names a
 *               missing, short, non-ELF, foreign, unexecutable, directory,
 *               device or symlink-loop interpreter, or is not NUL-terminated; one whose
 *               interpreter is a dynamic program; and one that works
 *   threads     four threads with __thread counters and a mutex
 *   exit7       exit(7)
 * Only values that are the same natively and under umbra are printed. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef AT_MINSIGSTKSZ
#define AT_MINSIGSTKSZ 51
#endif
#ifndef AT_HWCAP2
#define AT_HWCAP2 26
#endif

extern char **environ;
extern void _start(void);
extern char end;

static const char *ename(int e)
{
	switch (e) {
	case 0: return "OK";
	case ENOENT: return "ENOENT";
	case EIO: return "EIO";
	case ENOEXEC: return "ENOEXEC";
	case EACCES: return "EACCES";
	case ELIBBAD: return "ELIBBAD";
	case ENOTDIR: return "ENOTDIR";
	case ELOOP: return "ELOOP";
	default: return "E?";
	}
}

static int saved_argc;
static char **saved_argv;

static void hello(void)
{
	printf("hello from a dynamic program\n");
	puts("puts works too");
}

static void args(void)
{
	printf("argc=%d\n", saved_argc);
	for (int i = 0; i < saved_argc; i++)
		printf("argv[%d]=%s\n", i, saved_argv[i]);
	for (int i = 0; environ[i]; i++)
		printf("envp[%d]=%s\n", i, environ[i]);
}

struct objs {
	ElfW(Addr) main_addr;
	const ElfW(Phdr) *main_phdr;
	int main_phnum;
	int seen;
	unsigned long base;
	int base_found;
};

static int each(struct dl_phdr_info *info, size_t size, void *data)
{
	struct objs *o = data;
	(void)size;
	if (o->seen++ == 0) {
		o->main_addr = info->dlpi_addr;
		o->main_phdr = info->dlpi_phdr;
		o->main_phnum = info->dlpi_phnum;
	}
	if (o->base && info->dlpi_addr == o->base)
		o->base_found = 1;
	return 0;
}

static void auxv(void)
{
	/* Which entries the kernel put there, by walking the vector after envp
	 * (the kernel's own auxv, untouched by libc). */
	static const struct {
		unsigned long key;
		const char *name;
	} keys[] = {
		{AT_PHDR, "AT_PHDR"},     {AT_PHENT, "AT_PHENT"},
		{AT_PHNUM, "AT_PHNUM"},   {AT_PAGESZ, "AT_PAGESZ"},
		{AT_BASE, "AT_BASE"},     {AT_FLAGS, "AT_FLAGS"},
		{AT_ENTRY, "AT_ENTRY"},   {AT_UID, "AT_UID"},
		{AT_EUID, "AT_EUID"},     {AT_GID, "AT_GID"},
		{AT_EGID, "AT_EGID"},     {AT_SECURE, "AT_SECURE"},
		{AT_RANDOM, "AT_RANDOM"}, {AT_HWCAP, "AT_HWCAP"},
		{AT_HWCAP2, "AT_HWCAP2"}, {AT_CLKTCK, "AT_CLKTCK"},
		{AT_PLATFORM, "AT_PLATFORM"}, {AT_EXECFN, "AT_EXECFN"},
#if defined(__x86_64__) || defined(__aarch64__)
		{AT_MINSIGSTKSZ, "AT_MINSIGSTKSZ"},
#endif
	};
	char **e = environ;
	while (*e)
		e++;
	for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
		int found = 0;
		for (ElfW(auxv_t) *a = (ElfW(auxv_t) *)(e + 1); a->a_type != AT_NULL; a++)
			found |= a->a_type == keys[k].key;
		printf("%s %s\n", keys[k].name, found ? "present" : "missing");
	}

	struct objs o = {0};
	o.base = getauxval(AT_BASE);
	dl_iterate_phdr(each, &o);
	printf("AT_PAGESZ=%lu\n", getauxval(AT_PAGESZ));
	printf("AT_PHENT is sizeof(Phdr): %d\n", getauxval(AT_PHENT) == sizeof(ElfW(Phdr)));
	printf("AT_PHDR is the program's headers: %d\n",
	       getauxval(AT_PHDR) == (unsigned long)o.main_phdr);
	printf("AT_PHNUM is their count: %d\n", getauxval(AT_PHNUM) == (unsigned long)o.main_phnum);
	printf("AT_ENTRY is _start: %d\n", getauxval(AT_ENTRY) == (unsigned long)&_start);
	printf("AT_PHDR inside the program: %d\n",
	       getauxval(AT_PHDR) > o.main_addr && getauxval(AT_PHDR) < (unsigned long)&end);
	printf("AT_BASE is a loaded object (the interpreter): %d\n", o.base && o.base_found);
	printf("AT_BASE page-aligned: %d\n", (o.base & 4095) == 0);
	printf("AT_UID=%lu AT_EUID=%lu AT_GID=%lu AT_EGID=%lu\n", getauxval(AT_UID),
	       getauxval(AT_EUID), getauxval(AT_GID), getauxval(AT_EGID));
	printf("AT_SECURE=%lu\n", getauxval(AT_SECURE));
	printf("AT_FLAGS=%lu\n", getauxval(AT_FLAGS));
	printf("AT_CLKTCK=%lu\n", getauxval(AT_CLKTCK));
	const char *plat = (const char *)getauxval(AT_PLATFORM);
	printf("AT_PLATFORM=%s\n", plat ? plat : "(null)");
	const char *execfn = (const char *)getauxval(AT_EXECFN);
	const char *slash = execfn ? strrchr(execfn, '/') : NULL;
	printf("AT_EXECFN basename=%s\n", slash ? slash + 1 : "(none)");
	const unsigned char *rnd = (const unsigned char *)getauxval(AT_RANDOM);
	int nonzero = 0;
	for (int i = 0; rnd && i < 16; i++)
		nonzero |= rnd[i];
	printf("AT_RANDOM readable: %d\n", rnd != NULL);
	printf("AT_HWCAP nonzero: %d\n", getauxval(AT_HWCAP) != 0);
#if defined(__x86_64__) || defined(__aarch64__)
	unsigned long mss = getauxval(AT_MINSIGSTKSZ);
	printf("AT_MINSIGSTKSZ at least MINSIGSTKSZ: %d\n", mss >= 2048);
#endif
}

static void brk_section(void)
{
	/* brk(2) itself: musl's sbrk refuses to move the break. */
	char *b0 = (char *)syscall(SYS_brk, 0);
	printf("break after the program: %d\n", b0 >= &end);
	char *b1 = (char *)syscall(SYS_brk, b0 + 65536);
	printf("break grew by 64 KiB: %d\n", b1 - b0 == 65536);
	memset(b0, 0x5a, 65536);
	printf("new break memory usable: %d\n", b0[65535] == 0x5a);
	char *m = malloc(1 << 20);
	printf("malloc 1 MiB: %d\n", m != NULL);
	free(m);
}

/* The directory of this program, from AT_EXECFN. */
static void own_dir(char *out, size_t n)
{
	const char *execfn = (const char *)getauxval(AT_EXECFN);
	snprintf(out, n, "%s", execfn ? execfn : ".");
	char *slash = strrchr(out, '/');
	if (slash)
		*slash = 0;
	else
		snprintf(out, n, ".");
}

static void dlopen_own(void)
{
	char path[4096];
	own_dir(path, sizeof path);
	strncat(path, "/libdyntest.so", sizeof path - strlen(path) - 1);
	void *h = dlopen(path, RTLD_NOW);
	printf("dlopen libdyntest.so: %s\n", h ? "ok" : "failed");
	if (!h)
		return;
	int (*add)(int, int) = (int (*)(int, int))dlsym(h, "dyntest_add");
	const char *(*name)(void) = (const char *(*)(void))dlsym(h, "dyntest_name");
	printf("dlsym: %s %s\n", add ? "ok" : "missing", name ? "ok" : "missing");
	if (add && name)
		printf("dyntest_add(2, 40)=%d dyntest_name()=%s\n", add(2, 40), name());
	printf("dlsym of a missing symbol: %s\n", dlsym(h, "no_such_symbol") ? "found" : "NULL");
	printf("dlclose: %d\n", dlclose(h));
}

static void dlopen_libm(void)
{
	void *h = dlopen("libm.so.6", RTLD_NOW);
	printf("dlopen libm.so.6: %s\n", h ? "ok" : "failed");
	if (!h)
		return;
	double (*c)(double) = (double (*)(double))dlsym(h, "cos");
	double (*p)(double, double) = (double (*)(double, double))dlsym(h, "pow");
	if (c && p)
		printf("cos(0.5)=%.9f pow(2, 10)=%.1f\n", c(0.5), p(2, 10));
	printf("dlclose: %d\n", dlclose(h));
}

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long counter;
static __thread long mine;

static void *worker(void *arg)
{
	long n = (long)arg;
	for (long i = 0; i < 1000; i++) {
		mine++;
		pthread_mutex_lock(&lock);
		counter++;
		pthread_mutex_unlock(&lock);
	}
	return (void *)(mine * 10 + n);
}

/* Threads of a dynamic program: the linker's TLS setup for each thread
 * (__thread), a mutex, join's return values. */
static void threads(void)
{
	pthread_t t[4];
	for (long i = 0; i < 4; i++)
		if (pthread_create(&t[i], NULL, worker, (void *)i) != 0)
			printf("pthread_create %ld failed\n", i);
	for (int i = 0; i < 4; i++) {
		void *ret;
		pthread_join(t[i], &ret);
		printf("thread %d returned %ld\n", i, (long)ret);
	}
	printf("counter=%ld main's __thread=%ld\n", counter, mine);
}

static char *slurp(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return NULL;
	struct stat st;
	fstat(fd, &st);
	char *buf = malloc(st.st_size + 1);
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, st.st_size - got);
		if (n <= 0)
			break;
		got += n;
	}
	close(fd);
	*len = got;
	return buf;
}

static void spit(const char *path, const void *data, size_t len, mode_t mode)
{
	unlink(path);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	if (fd < 0 || write(fd, data, len) != (ssize_t)len)
		printf("cannot write %s\n", path);
	close(fd);
	chmod(path, mode);
}

static void try_exec(const char *what, const char *prog)
{
	char *av[] = {(char *)"x", (char *)"exit7", NULL};
	execve(prog, av, environ);
	printf("%s: %s\n", what, ename(errno));
}

static void interp_errs(void)
{
	size_t len;
	char *self = slurp((const char *)getauxval(AT_EXECFN), &len);
	if (!self) {
		printf("cannot read myself\n");
		return;
	}
	ElfW(Ehdr) *eh = (ElfW(Ehdr) *)self;
	ElfW(Phdr) *ph = (ElfW(Phdr) *)(self + eh->e_phoff);
	char *interp = NULL;
	size_t ilen = 0;
	for (int i = 0; i < eh->e_phnum; i++)
		if (ph[i].p_type == PT_INTERP) {
			interp = self + ph[i].p_offset;
			ilen = ph[i].p_filesz;
		}
	if (!interp || ilen < 16) {
		printf("no PT_INTERP\n");
		return;
	}
	char real[64];
	snprintf(real, sizeof real, "%s", interp);
	/* Same length as the real interpreter's path, unique per process. */
	char fake[64];
	snprintf(fake, sizeof fake, "/tmp/i%d", (int)getpid());
	memset(fake + strlen(fake), 'q', ilen - 1 - strlen(fake));
	fake[ilen - 1] = 0;
	memcpy(interp, fake, ilen);
	char prog[64];
	snprintf(prog, sizeof prog, "/tmp/p%d", (int)getpid());
	spit(prog, self, len, 0755);

	unlink(fake);
	try_exec("missing interpreter", prog);
	spit(fake, "#!/bin/sh\n", 10, 0755);
	try_exec("interpreter shorter than an ELF header", prog);
	char text[200];
	memset(text, 'x', sizeof text);
	spit(fake, text, sizeof text, 0755);
	try_exec("interpreter not ELF", prog);

	size_t rlen;
	char *ld = slurp(real, &rlen);
	if (!ld) {
		printf("cannot read the real interpreter\n");
		return;
	}
	spit(fake, ld, rlen, 0644);
	try_exec("interpreter without execute permission", prog);
	ElfW(Ehdr) *lh = (ElfW(Ehdr) *)ld;
	ElfW(Half) machine = lh->e_machine;
	lh->e_machine = EM_SPARC;
	spit(fake, ld, rlen, 0755);
	try_exec("interpreter of another machine", prog);
	lh->e_machine = machine;
	lh->e_phentsize = 7;
	spit(fake, ld, rlen, 0755);
	try_exec("interpreter with bad program headers", prog);
	lh->e_phentsize = sizeof(ElfW(Phdr));
	unlink(fake);
	mkdir(fake, 0755);
	try_exec("interpreter is a directory", prog);
	rmdir(fake);
	symlink("/dev/zero", fake);
	try_exec("interpreter is a character device", prog);
	unlink(fake);
	symlink(fake, fake);
	try_exec("interpreter is a symlink loop", prog);
	unlink(fake);

	spit(fake, ld, rlen, 0755);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		try_exec("working copy", prog);
		_exit(99);
	}
	int st;
	waitpid(pid, &st, 0);
	printf("copy of the interpreter: exit %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);

	/* The interpreter is a dynamic program itself (this one, whose own
	 * PT_INTERP is ignored): it is loaded and entered, and, never having
	 * been relocated, dies. */
	spit(fake, self, len, 0755);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		try_exec("dynamic program as interpreter", prog);
		_exit(99);
	}
	waitpid(pid, &st, 0);
	if (WIFSIGNALED(st))
		printf("dynamic program as interpreter: killed by signal %d\n", WTERMSIG(st));
	else
		printf("dynamic program as interpreter: exit %d\n", WEXITSTATUS(st));

	interp[ilen - 1] = 'x';
	spit(prog, self, len, 0755);
	try_exec("PT_INTERP not NUL-terminated", prog);
	unlink(fake);
	unlink(prog);
	free(ld);
	free(self);
}

int main(int argc, char **argv)
{
	saved_argc = argc;
	saved_argv = argv;
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 1; i < argc; i++) {
		const char *s = argv[i];
		printf("== %s\n", s);
		if (!strcmp(s, "hello"))
			hello();
		else if (!strcmp(s, "args"))
			args();
		else if (!strcmp(s, "auxv"))
			auxv();
		else if (!strcmp(s, "brk"))
			brk_section();
		else if (!strcmp(s, "dlopen"))
			dlopen_own();
		else if (!strcmp(s, "dlopen_libm"))
			dlopen_libm();
		else if (!strcmp(s, "threads"))
			threads();
		else if (!strcmp(s, "interp_errs"))
			interp_errs();
		else if (!strcmp(s, "exit7"))
			exit(7);
		else
			printf("unknown section %s\n", s);
	}
	return 0;
}
