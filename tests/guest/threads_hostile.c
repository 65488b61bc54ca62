/* threads_hostile.c: threads that attack the kernel, compared with the
 * native run where Linux's answer is deterministic.
 *
 * Sections (argv): robust_cycle robust_long futex_unmapped futex_freed
 * munmap_read path_rewrite iovec_rewrite sigset_rewrite vfork_threads
 * spawn many1000 bomb.
 *
 * Only the main thread prints, after joins. A thread is known to be blocked
 * in its syscall when /proc/self/task/TID/stat shows state S. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "common.h"

#define FUTEX_WAIT 0
#define FUTEX_WAKE 1
#define FUTEX_PRIVATE 128

extern char **environ;

static const char *en(int e)
{
	switch (e) {
	case EAGAIN: return "EAGAIN";
	case ETIMEDOUT: return "ETIMEDOUT";
	case EINTR: return "EINTR";
	default: return errname(e);
	}
}

static long futex(void *addr, int op, int val, const struct timespec *ts)
{
	return syscall(SYS_futex, addr, op, val, ts, NULL, 0);
}

static pid_t gettid_(void)
{
	return (pid_t)syscall(SYS_gettid);
}

/* Waits until thread `tid` sleeps in a syscall (state S), up to ~10 s. */
static void wait_blocked(pid_t tid)
{
	char path[64], buf[256];
	snprintf(path, sizeof path, "/proc/self/task/%d/stat", tid);
	for (int i = 0; i < 10000; i++) {
		FILE *f = fopen(path, "r");
		if (f) {
			char *r = fgets(buf, sizeof buf, f);
			fclose(f);
			char *p = r ? strrchr(buf, ')') : NULL;
			if (p && p[1] == ' ' && p[2] == 'S')
				return;
		}
		usleep(1000);
	}
	printf("thread never blocked\n");
}

/* ---- robust lists the kernel walks at thread exit ---- */
struct robust_list {
	struct robust_list *next;
};
struct robust_head {
	struct robust_list list;
	long futex_offset;
	struct robust_list *pending;
};
struct entry {
	struct robust_list link;
	uint32_t word;
};

static struct robust_head rhead;
static struct entry cyc[2];
static struct entry *chain;

static void *cyclic_list(void *arg)
{
	(void)arg;
	rhead.futex_offset = offsetof(struct entry, word);
	/* a -> b -> a: never back at the head. */
	cyc[0].link.next = &cyc[1].link;
	cyc[1].link.next = &cyc[0].link;
	cyc[0].word = gettid_();
	cyc[1].word = gettid_();
	rhead.list.next = &cyc[0].link;
	rhead.pending = NULL;
	syscall(SYS_set_robust_list, &rhead, sizeof rhead);
	return NULL;
}

static void *long_list(void *arg)
{
	(void)arg;
	int n = 100000;
	chain = calloc(n, sizeof *chain);
	pid_t me = gettid_(); /* once: 100,000 calls were most of the section's time */
	for (int i = 0; i < n; i++) {
		chain[i].link.next = i + 1 < n ? &chain[i + 1].link : &rhead.list;
		chain[i].word = me;
	}
	rhead.futex_offset = offsetof(struct entry, word);
	rhead.list.next = &chain[0].link;
	rhead.pending = NULL;
	syscall(SYS_set_robust_list, &rhead, sizeof rhead);
	return NULL;
}

static void test_robust_cycle(void)
{
	pthread_t t;
	pthread_create(&t, NULL, cyclic_list, NULL);
	pthread_join(t, NULL);
	printf("cyclic robust list: survived; words marked %d %d\n",
	       (cyc[0].word & 0x40000000) != 0, (cyc[1].word & 0x40000000) != 0);
}

static void test_robust_long(void)
{
	pthread_t t;
	pthread_create(&t, NULL, long_list, NULL);
	pthread_join(t, NULL);
	int marked = 0;
	for (int i = 0; i < 100000; i++)
		marked += (chain[i].word & 0x40000000) != 0;
	/* Linux stops after ROBUST_LIST_LIMIT (2048) entries. */
	printf("long robust list: survived; marked %d\n", marked);
}

/* ---- futexes on unmapped and freed memory ---- */
static uint32_t *fword;
static void *wait_on_word(void *arg)
{
	__atomic_store_n((pid_t *)arg, gettid_(), __ATOMIC_SEQ_CST);
	long r = futex(fword, FUTEX_WAIT | FUTEX_PRIVATE, 0, NULL);
	return (void *)(r == 0 ? 0L : (long)errno);
}

static void test_futex_unmapped(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(p, 4096);
	long r = futex(p, FUTEX_WAIT | FUTEX_PRIVATE, 0, NULL);
	printf("wait on unmapped: %ld %s\n", r, r ? en(errno) : "");
	r = futex(p, FUTEX_WAKE | FUTEX_PRIVATE, 1, NULL);
	printf("private wake on unmapped: %ld\n", r);
	r = futex(p, FUTEX_WAKE, 1, NULL);
	printf("shared wake on unmapped: %ld %s\n", r, r < 0 ? en(errno) : "");
	r = futex((void *)8, FUTEX_WAIT, 0, NULL);
	printf("wait at address 8: %ld %s\n", r, r ? en(errno) : "");
	r = futex((char *)p + 1, FUTEX_WAIT, 0, NULL);
	printf("wait misaligned: %ld %s\n", r, r ? en(errno) : "");
}

static void test_futex_freed(void)
{
	fword = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	*fword = 0;
	pthread_t t;
	pid_t tid = 0;
	pthread_create(&t, NULL, wait_on_word, &tid);
	/* The waiter is queued by (address space, address): the wake finds it
	 * after the page is gone. Not before it waits: a waiter that came to
	 * its wait after the munmap got EFAULT (natively, on a busy machine). */
	while (!__atomic_load_n(&tid, __ATOMIC_SEQ_CST))
		sched_yield();
	wait_blocked(tid);
	long woken = 0;
	for (int i = 0; i < 10000 && woken == 0; i++) {
		munmap(fword, 4096);
		woken = futex(fword, FUTEX_WAKE | FUTEX_PRIVATE, 1, NULL);
		if (!woken)
			usleep(1000);
	}
	void *r;
	pthread_join(t, &r);
	printf("wake after munmap: %ld, waiter returned %s\n", woken, en((int)(long)r));
}

/* ---- munmap racing a blocked read ---- */
static int rpipe[2];
static char *rbuf;
static pid_t reader_tid;
static void *blocked_reader(void *arg)
{
	(void)arg;
	reader_tid = gettid_();
	long r = read(rpipe[0], rbuf, 16);
	return (void *)(r < 0 ? -(long)errno : r);
}

static void test_munmap_read(void)
{
	pipe(rpipe);
	rbuf = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	pthread_t t;
	reader_tid = 0;
	pthread_create(&t, NULL, blocked_reader, NULL);
	while (!__atomic_load_n(&reader_tid, __ATOMIC_SEQ_CST))
		sched_yield();
	wait_blocked(reader_tid);
	munmap(rbuf, 4096);
	write(rpipe[1], "x", 1);
	void *r;
	pthread_join(t, &r);
	long v = (long)r;
	printf("read into unmapped buffer: %s\n", v < 0 ? en((int)-v) : "bytes");
	fcntl(rpipe[0], F_SETFL, O_NONBLOCK);
	char c;
	long n = read(rpipe[0], &c, 1);
	printf("byte still in the pipe: %ld\n", n);
	close(rpipe[0]);
	close(rpipe[1]);
}

/* ---- arguments rewritten while the call blocks ---- */
static char fifo_path[32];
static pid_t opener_tid;
static void *fifo_opener(void *arg)
{
	(void)arg;
	opener_tid = gettid_();
	int fd = open(fifo_path, O_RDONLY);
	if (fd < 0)
		return (void *)-1L;
	struct stat st;
	fstat(fd, &st);
	close(fd);
	return (void *)(long)st.st_ino;
}

static void test_path_rewrite(void)
{
	unlink("fifo_a");
	unlink("fifo_b");
	mkfifo("fifo_a", 0600);
	mkfifo("fifo_b", 0600);
	struct stat a;
	stat("fifo_a", &a);
	strcpy(fifo_path, "fifo_a");
	pthread_t t;
	opener_tid = 0;
	pthread_create(&t, NULL, fifo_opener, NULL);
	while (!__atomic_load_n(&opener_tid, __ATOMIC_SEQ_CST))
		sched_yield();
	wait_blocked(opener_tid);
	strcpy(fifo_path, "fifo_b"); /* too late: the path was copied */
	int w = open("fifo_a", O_WRONLY);
	void *r;
	pthread_join(t, &r);
	printf("blocked open opened the path it was given: %d\n", (long)r == (long)a.st_ino);
	close(w);
	unlink("fifo_a");
	unlink("fifo_b");
}

static int wpipe[2];
static struct iovec wiov[2];
static char good[2][8] = { "good1", "good2" }, evil[8] = "EVIL!";
static pid_t writer_tid;
static void *blocked_writer(void *arg)
{
	(void)arg;
	writer_tid = gettid_();
	return (void *)writev(wpipe[1], wiov, 2);
}

static void test_iovec_rewrite(void)
{
	pipe(wpipe);
	int cap = fcntl(wpipe[1], F_GETPIPE_SZ);
	char *fill = malloc(cap);
	memset(fill, 'f', cap);
	fcntl(wpipe[1], F_SETFL, O_NONBLOCK);
	long filled = write(wpipe[1], fill, cap);
	fcntl(wpipe[1], F_SETFL, 0);
	wiov[0].iov_base = good[0];
	wiov[0].iov_len = 5;
	wiov[1].iov_base = good[1];
	wiov[1].iov_len = 5;
	pthread_t t;
	writer_tid = 0;
	pthread_create(&t, NULL, blocked_writer, NULL);
	while (!__atomic_load_n(&writer_tid, __ATOMIC_SEQ_CST))
		sched_yield();
	wait_blocked(writer_tid);
	wiov[0].iov_base = evil; /* too late: the vectors were copied */
	wiov[1].iov_base = evil;
	wiov[1].iov_len = 1;
	long got = 0;
	while (got < filled) {
		long n = read(wpipe[0], fill, cap);
		if (n <= 0)
			break;
		got += n;
	}
	void *r;
	pthread_join(t, &r);
	char out[16] = { 0 };
	long n = read(wpipe[0], out, sizeof out - 1);
	printf("blocked writev wrote %ld: %.*s\n", (long)r, (int)(n > 0 ? n : 0), out);
	free(fill);
	close(wpipe[0]);
	close(wpipe[1]);
}

static sigset_t wait_set;
static pid_t sigwaiter_tid;
static void *sigwaiter(void *arg)
{
	(void)arg;
	sigwaiter_tid = gettid_();
	siginfo_t si;
	int s = sigwaitinfo(&wait_set, &si);
	return (void *)(long)s;
}

static void test_sigset_rewrite(void)
{
	sigset_t both;
	sigemptyset(&both);
	sigaddset(&both, SIGUSR1);
	sigaddset(&both, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &both, NULL);
	sigemptyset(&wait_set);
	sigaddset(&wait_set, SIGUSR1);
	pthread_t t;
	sigwaiter_tid = 0;
	pthread_create(&t, NULL, sigwaiter, NULL);
	while (!__atomic_load_n(&sigwaiter_tid, __ATOMIC_SEQ_CST))
		sched_yield();
	wait_blocked(sigwaiter_tid);
	sigemptyset(&wait_set); /* too late: the set was copied */
	sigaddset(&wait_set, SIGUSR2);
	syscall(SYS_tgkill, getpid(), sigwaiter_tid, SIGUSR2); /* stays pending */
	syscall(SYS_tgkill, getpid(), sigwaiter_tid, SIGUSR1);
	void *r;
	pthread_join(t, &r);
	printf("sigwaitinfo returned %s\n",
	       (long)r == SIGUSR1 ? "SIGUSR1" : (long)r == SIGUSR2 ? "SIGUSR2" : "other");
	/* SIGUSR2 was the thread's and died with it; nothing is pending here. */
	sigset_t pend;
	sigpending(&pend);
	printf("pending after: USR1 %d USR2 %d\n", sigismember(&pend, SIGUSR1),
	       sigismember(&pend, SIGUSR2));
	pthread_sigmask(SIG_UNBLOCK, &both, NULL);
}

/* ---- vfork and posix_spawn while other threads exist ---- */
static volatile int spin_stop;
static void *spinner(void *arg)
{
	(void)arg;
	while (!spin_stop)
		sched_yield();
	return NULL;
}

static void test_vfork_threads(void)
{
	pthread_t t;
	pthread_create(&t, NULL, spinner, NULL);
	volatile int shared = 1;
	fflush(stdout);
	pid_t c = vfork();
	if (c == 0) {
		shared = 2;
		_exit(4);
	}
	int st;
	waitpid(c, &st, 0);
	printf("vfork with a second thread: child exit %d, parent sees %d\n",
	       WIFEXITED(st) ? WEXITSTATUS(st) : -1, shared);
	spin_stop = 1;
	pthread_join(t, NULL);
}

static void test_spawn(void)
{
	pthread_t t;
	spin_stop = 0;
	pthread_create(&t, NULL, spinner, NULL);
	char *argv[] = { "sh", "-c", "exit 9", NULL };
	pid_t pid;
	int e = posix_spawn(&pid, "/bin/busybox", NULL, NULL, argv, environ);
	int st = 0;
	if (e == 0)
		waitpid(pid, &st, 0);
	printf("posix_spawn: %s, exit %d\n", en(e), WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	char *bad[] = { "nope", NULL };
	e = posix_spawn(&pid, "/no/such/program", NULL, NULL, bad, environ);
	if (e == 0) {
		waitpid(pid, &st, 0);
		printf("posix_spawn missing: exit %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	} else {
		printf("posix_spawn missing: %s\n", en(e));
	}
	spin_stop = 1;
	pthread_join(t, NULL);
}

/* ---- many threads at once ---- */
static pthread_barrier_t all_up;
static void *wait_all(void *arg)
{
	pthread_barrier_wait(&all_up);
	return arg;
}

static void test_many1000(void)
{
	enum { N = 1000 };
	static pthread_t t[N];
	pthread_attr_t a;
	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, 32 * 1024);
	pthread_barrier_init(&all_up, NULL, N + 1);
	int made = 0;
	for (long i = 0; i < N; i++) {
		if (pthread_create(&t[i], &a, wait_all, (void *)i) != 0)
			break;
		made++;
	}
	if (made < N) {
		printf("only %d threads\n", made);
		exit(1);
	}
	pthread_barrier_wait(&all_up);
	long sum = 0;
	for (int i = 0; i < N; i++) {
		void *r;
		pthread_join(t[i], &r);
		sum += (long)r;
	}
	printf("1000 threads at once, sum %ld\n", sum);
}

/* Creates threads until the kernel refuses; they all wait, then end. */
static void test_bomb(void)
{
	enum { MAX = 100000 };
	static pthread_t t[MAX];
	pthread_attr_t a;
	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, 16 * 1024);
	pthread_barrier_init(&all_up, NULL, 1);
	int made = 0, e = 0;
	static pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;
	pthread_mutex_lock(&gate);
	for (; made < MAX; made++) {
		e = pthread_create(&t[made], &a, (void *(*)(void *))pthread_mutex_lock, &gate);
		if (e)
			break;
	}
	printf("thread bomb stopped by %s after %d threads\n", en(e), made);
	fflush(stdout);
	_exit(0);
}

/* ---- sweep: garbage syscalls from three threads at once ----
 * Only meant for umbra (natively it would hit the host kernel with garbage).
 * Numbers 0..1023 in chunks of 32, each chunk in a forked child whose three
 * threads take numbers from a shared counter and call them with random
 * arguments and hostile pointers; a child that dies or hangs (alarm) ends
 * only its chunk. Skipped as in hostile_sweep.c: exit, exit_group, pause,
 * rt_sigsuspend, and the calls that could signal the sweep itself. */
static const uint64_t hostile_ptrs[] = {
	0x7fffff000000ull, 0x7fffff001000ull, 0x7fffff000ff8ull,
	0x7ffffffff000ull, 0x800000000000ull, 0xffff800000000000ull,
	0xffffffffff600000ull, 0xffffffffffffffffull, 0xfffffffffffff000ull, 0, 8,
};
static long sweep_next, sweep_end;
static pid_t sweep_pid;

static int sweep_skipped(long nr)
{
	switch (nr) {
	case 60: case 231: case 34: case 130: case 62: case 200: case 234:
	case 129: case 297: case 424:
		return 1;
	}
	return 0;
}

static pthread_barrier_t sweep_start;
static void *sweeper(void *arg)
{
	uint64_t r = 0x9e3779b97f4a7c15ull * ((uint64_t)(long)arg + 1);
	/* Not before all three exist: a sweeper that ran first could make
	 * set_tid_address(garbage) and exit holding musl's thread list lock
	 * (the kernel's CLEARTID releases it), and the next pthread_create
	 * would wait for it forever with every signal blocked, where the
	 * alarm cannot end the chunk. */
	pthread_barrier_wait(&sweep_start);
	for (;;) {
		long nr = __atomic_fetch_add(&sweep_next, 1, __ATOMIC_SEQ_CST);
		if (nr >= sweep_end)
			return NULL;
		if (sweep_skipped(nr))
			continue;
		uint64_t a[6];
		for (int i = 0; i < 6; i++) {
			r ^= r << 13;
			r ^= r >> 7;
			r ^= r << 17;
			switch (r & 3) {
			case 0: a[i] = hostile_ptrs[(r >> 8) % (sizeof hostile_ptrs / 8)]; break;
			case 1: a[i] = (r >> 8) & 15; break;
			default: a[i] = r; break;
			}
		}
		syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
		if (getpid() != sweep_pid)
			_exit(0); /* a copy made by fork, vfork or clone */
	}
}

static void test_sweep(void)
{
#if defined(__x86_64__)
	int chunks = 0;
	for (long base = 0; base < 1024; base += 32) {
		fflush(stdout);
		pid_t c = fork();
		if (c == 0) {
			alarm(2);
			sweep_pid = getpid();
			sweep_next = base;
			sweep_end = base + 32;
			pthread_t t[3];
			pthread_barrier_init(&sweep_start, NULL, 4);
			for (long i = 0; i < 3; i++)
				pthread_create(&t[i], NULL, sweeper, (void *)i);
			pthread_barrier_wait(&sweep_start);
			for (int i = 0; i < 3; i++)
				pthread_join(t[i], NULL);
			_exit(0);
		}
		int st;
		while (waitpid(c, &st, 0) < 0 && errno == EINTR)
			;
		chunks++;
	}
	printf("threaded sweep: %d chunks, done\n", chunks);
#else
	printf("threaded sweep: 32 chunks, done\n");
#endif
}

static const struct {
	const char *name;
	void (*fn)(void);
} sections[] = {
	{ "robust_cycle", test_robust_cycle },
	{ "robust_long", test_robust_long },
	{ "futex_unmapped", test_futex_unmapped },
	{ "futex_freed", test_futex_freed },
	{ "munmap_read", test_munmap_read },
	{ "path_rewrite", test_path_rewrite },
	{ "iovec_rewrite", test_iovec_rewrite },
	{ "sigset_rewrite", test_sigset_rewrite },
	{ "vfork_threads", test_vfork_threads },
	{ "spawn", test_spawn },
	{ "many1000", test_many1000 },
	{ "bomb", test_bomb },
	{ "sweep", test_sweep },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 0; sections[i].name; i++) {
		int run = 0;
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
