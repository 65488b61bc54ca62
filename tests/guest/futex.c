/* futex: futex(2), each operation with its errors, timeouts and signal
 * behaviour, the PI operations from one process, and pthread_once (glibc's
 * pthread_once wakes through futex after the init routine runs).
 *
 * Sections are named in argv. Only deterministic facts are printed: return
 * values, errno names and word values (never a pid: a word that holds one is
 * compared with getpid()). Timeouts are short and only their expiry is
 * printed, never how long they took. */
#define _GNU_SOURCE
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "common.h"

#define FUTEX_WAIT 0
#define FUTEX_WAKE 1
#define FUTEX_REQUEUE 3
#define FUTEX_CMP_REQUEUE 4
#define FUTEX_WAKE_OP 5
#define FUTEX_LOCK_PI 6
#define FUTEX_UNLOCK_PI 7
#define FUTEX_TRYLOCK_PI 8
#define FUTEX_WAIT_BITSET 9
#define FUTEX_WAKE_BITSET 10
#define FUTEX_WAIT_REQUEUE_PI 11
#define FUTEX_CMP_REQUEUE_PI 12
#define FUTEX_LOCK_PI2 13
#define PRIV 128
#define CLOCK_RT 256
#define WAITERS 0x80000000u
#define TID_MASK 0x3fffffffu

/* The kernel's timespec of SYS_futex: two longs (32-bit time on 32-bit
 * arches, whatever the C library's time_t). */
struct kts {
	long tv_sec;
	long tv_nsec;
};

static const char *en(int e)
{
	switch (e) {
	case EAGAIN: return "EAGAIN";
	case ETIMEDOUT: return "ETIMEDOUT";
	case EINTR: return "EINTR";
	case EDEADLK: return "EDEADLK";
	case ESRCH: return "ESRCH";
	default: return errname(e);
	}
}

static long fx(uint32_t *uaddr, int op, uint32_t val, const void *t, uint32_t *uaddr2,
	       uint32_t val3)
{
	return syscall(SYS_futex, uaddr, op, val, t, uaddr2, val3);
}

/* futex with a count in the timeout slot (requeue, wake_op). */
static long fxn(uint32_t *uaddr, int op, uint32_t val, unsigned long val2,
		uint32_t *uaddr2, uint32_t val3)
{
	return syscall(SYS_futex, uaddr, op, val, val2, uaddr2, val3);
}

static void show(const char *what, long r)
{
	if (r < 0)
		printf("%s: -1 %s\n", what, en(errno));
	else
		printf("%s: %ld\n", what, r);
}

static struct kts rel_ms(long ms)
{
	struct kts t = { ms / 1000, (ms % 1000) * 1000000L };
	return t;
}

static struct kts abs_ms(clockid_t c, long ms)
{
	struct timespec now;
	clock_gettime(c, &now);
	long ns = now.tv_nsec + (ms % 1000) * 1000000L;
	struct kts t = { (long)now.tv_sec + ms / 1000 + ns / 1000000000L, ns % 1000000000L };
	return t;
}

static uint32_t word, word2;
/* A live process other than this one, to name as a PI futex's owner. */
static uint32_t other;
static pid_t other_pid;

static void other_start(void)
{
	fflush(stdout);
	other_pid = fork();
	if (other_pid == 0) {
		for (;;)
			pause();
	}
	other = (uint32_t)other_pid;
}

static void other_stop(void)
{
	kill(other_pid, SIGKILL);
	waitpid(other_pid, NULL, 0);
}

static void errors(void)
{
	word = 1;
	show("wait on a changed value", fx(&word, FUTEX_WAIT, 0, NULL, NULL, 0));
	show("wait private on a changed value", fx(&word, FUTEX_WAIT | PRIV, 0, NULL, NULL, 0));
	show("wait misaligned", fx((uint32_t *)((char *)&word + 1), FUTEX_WAIT, 0, NULL, NULL, 0));
	show("wake misaligned", fx((uint32_t *)((char *)&word + 2), FUTEX_WAKE, 1, NULL, NULL, 0));
	show("wait unmapped", fx((uint32_t *)16, FUTEX_WAIT, 0, NULL, NULL, 0));
	show("wake shared unmapped", fx((uint32_t *)16, FUTEX_WAKE, 1, NULL, NULL, 0));
	show("wake private unmapped", fx((uint32_t *)16, FUTEX_WAKE | PRIV, 1, NULL, NULL, 0));
	show("unknown op 14", fx(&word, 14, 0, NULL, NULL, 0));
	show("unknown op 2 (FUTEX_FD)", fx(&word, 2, 0, NULL, NULL, 0));
	show("wait_bitset bitset 0", fx(&word, FUTEX_WAIT_BITSET, 1, NULL, NULL, 0));
	show("wake_bitset bitset 0", fx(&word, FUTEX_WAKE_BITSET, 1, NULL, NULL, 0));
	struct kts bad = { 0, 1000000000L };
	show("wait bad nsec", fx(&word, FUTEX_WAIT, 1, &bad, NULL, 0));
	struct kts neg = { -1, 0 };
	show("wait negative sec", fx(&word, FUTEX_WAIT, 1, &neg, NULL, 0));
	show("wait timeout unmapped", fx(&word, FUTEX_WAIT, 1, (void *)16, NULL, 0));
	show("wake clock_realtime", fx(&word, FUTEX_WAKE | CLOCK_RT, 1, NULL, NULL, 0));
	show("requeue clock_realtime", fxn(&word, FUTEX_REQUEUE | CLOCK_RT, 1, 1, &word2, 0));
	show("requeue negative", fxn(&word, FUTEX_REQUEUE, 1, (unsigned)-1, &word2, 0));
	show("cmp_requeue mismatch", fxn(&word, FUTEX_CMP_REQUEUE, 1, 1, &word2, 5));
	show("cmp_requeue match", fxn(&word, FUTEX_CMP_REQUEUE, 1, 1, &word2, 1));
	show("cmp_requeue_pi nr_wake 2", fxn(&word, FUTEX_CMP_REQUEUE_PI, 2, 1, &word2, 1));
	show("cmp_requeue_pi same word", fxn(&word, FUTEX_CMP_REQUEUE_PI, 1, 1, &word, 1));
	show("cmp_requeue_pi no waiter", fxn(&word, FUTEX_CMP_REQUEUE_PI, 1, 1, &word2, 1));
	show("wait_requeue_pi same word", fx(&word, FUTEX_WAIT_REQUEUE_PI, 1, NULL, &word, 0));
	show("wait_requeue_pi mismatch", fx(&word, FUTEX_WAIT_REQUEUE_PI, 0, NULL, &word2, 0));
}

static void timeouts(void)
{
	word = 7;
	struct kts t = rel_ms(30);
	show("wait relative", fx(&word, FUTEX_WAIT, 7, &t, NULL, 0));
	show("wait private relative", fx(&word, FUTEX_WAIT | PRIV, 7, &t, NULL, 0));
	struct kts zero = { 0, 0 };
	show("wait zero timeout", fx(&word, FUTEX_WAIT, 7, &zero, NULL, 0));
	t = abs_ms(CLOCK_MONOTONIC, 30);
	show("wait_bitset absolute monotonic",
	     fx(&word, FUTEX_WAIT_BITSET | PRIV, 7, &t, NULL, 0xff));
	t = abs_ms(CLOCK_REALTIME, 30);
	show("wait_bitset absolute realtime",
	     fx(&word, FUTEX_WAIT_BITSET | PRIV | CLOCK_RT, 7, &t, NULL, ~0u));
	t = abs_ms(CLOCK_REALTIME, -1000);
	show("wait_bitset realtime in the past",
	     fx(&word, FUTEX_WAIT_BITSET | CLOCK_RT, 7, &t, NULL, ~0u));
	struct kts past = { 1, 0 };
	show("wait_bitset monotonic at 1s", fx(&word, FUTEX_WAIT_BITSET, 7, &past, NULL, ~0u));
	t = rel_ms(30);
	show("wait clock_realtime relative", fx(&word, FUTEX_WAIT | CLOCK_RT, 7, &t, NULL, 0));
	/* A PI lock owned by another process: lock with a deadline times out. */
	word = other;
	t = abs_ms(CLOCK_REALTIME, 30);
	show("lock_pi owned by another process", fx(&word, FUTEX_LOCK_PI, 0, &t, NULL, 0));
	printf("word has waiters: %s\n", word & WAITERS ? "yes" : "no");
	printf("word owner is the other process: %s\n",
	       (word & TID_MASK) == other ? "yes" : "no");
	word = other;
	t = abs_ms(CLOCK_MONOTONIC, 30);
	show("lock_pi2 owned by another process", fx(&word, FUTEX_LOCK_PI2, 0, &t, NULL, 0));
	word = other;
	t = abs_ms(CLOCK_REALTIME, 30);
	show("lock_pi2 clock_realtime owned by another process",
	     fx(&word, FUTEX_LOCK_PI2 | CLOCK_RT, 0, &t, NULL, 0));
	/* A private PI futex cannot be owned by another process. */
	word = other;
	show("lock_pi private owned by another process", fx(&word, FUTEX_LOCK_PI | PRIV, 0, &t, NULL, 0));
	word2 = 0;
	word = 3;
	t = abs_ms(CLOCK_MONOTONIC, 30);
	show("wait_requeue_pi times out",
	     fx(&word, FUTEX_WAIT_REQUEUE_PI | PRIV, 3, &t, &word2, 0));
}

static void wake(void)
{
	word = 0;
	word2 = 0;
	show("wake nobody", fx(&word, FUTEX_WAKE, 1, NULL, NULL, 0));
	show("wake private nobody", fx(&word, FUTEX_WAKE | PRIV, INT_MAX, NULL, NULL, 0));
	show("wake_bitset nobody", fx(&word, FUTEX_WAKE_BITSET, 1, NULL, NULL, 1));
	show("requeue nobody", fxn(&word, FUTEX_REQUEUE, 1, 1, &word2, 0));
	/* FUTEX_OP(op, oparg, cmp, cmparg) */
#define OP(op, oparg, cmp, cmparg) \
	((((op) & 0xf) << 28) | (((cmp) & 0xf) << 24) | (((oparg) & 0xfff) << 12) | ((cmparg) & 0xfff))
	static const struct { const char *name; uint32_t start, enc; } ops[] = {
		{ "set 5", 9, OP(0, 5, 0, 9) },
		{ "add 3", 9, OP(1, 3, 1, 9) },
		{ "or 6", 9, OP(2, 6, 2, 10) },
		{ "andn 1", 9, OP(3, 1, 3, 8) },
		{ "xor 15", 9, OP(4, 15, 4, 8) },
		{ "add -2", 9, OP(1, -2, 5, 9) },
		{ "set 1<<4", 0, OP(8 | 0, 4, 0, 0) },
		{ "or 1<<31", 1, OP(8 | 2, 31, 1, 1) },
		{ "bad op 5", 9, OP(5, 1, 0, 0) },
		{ "bad cmp 6", 9, OP(1, 1, 6, 0) },
	};
	for (unsigned i = 0; i < sizeof ops / sizeof ops[0]; i++) {
		word2 = ops[i].start;
		long r = fxn(&word, FUTEX_WAKE_OP, 1, 1, &word2, ops[i].enc);
		printf("wake_op %s: ", ops[i].name);
		if (r < 0)
			printf("-1 %s", en(errno));
		else
			printf("%ld", r);
		printf(", word2 %#x\n", word2);
	}
	show("wake_op unmapped uaddr2", fxn(&word, FUTEX_WAKE_OP, 1, 1, (uint32_t *)16, 0));
}

static void pi(void)
{
	uint32_t me = (uint32_t)getpid();
	for (int priv = 0; priv <= PRIV; priv += PRIV) {
		printf("%s:\n", priv ? "private" : "shared");
		word = 0;
		show("trylock_pi free", fx(&word, FUTEX_TRYLOCK_PI | priv, 0, NULL, NULL, 0));
		printf("word is my tid: %s\n", word == me ? "yes" : "no");
		show("lock_pi own", fx(&word, FUTEX_LOCK_PI | priv, 0, NULL, NULL, 0));
		show("trylock_pi own", fx(&word, FUTEX_TRYLOCK_PI | priv, 0, NULL, NULL, 0));
		show("unlock_pi", fx(&word, FUTEX_UNLOCK_PI | priv, 0, NULL, NULL, 0));
		printf("word: %#x\n", word);
		show("unlock_pi not owner", fx(&word, FUTEX_UNLOCK_PI | priv, 0, NULL, NULL, 0));
		show("lock_pi free", fx(&word, FUTEX_LOCK_PI | priv, 0, NULL, NULL, 0));
		printf("word is my tid: %s\n", word == me ? "yes" : "no");
		word |= WAITERS;
		show("unlock_pi with waiters bit", fx(&word, FUTEX_UNLOCK_PI | priv, 0, NULL, NULL, 0));
		printf("word: %#x\n", word);
		show("lock_pi2 free", fx(&word, FUTEX_LOCK_PI2 | priv, 0, NULL, NULL, 0));
		show("unlock_pi", fx(&word, FUTEX_UNLOCK_PI | priv, 0, NULL, NULL, 0));
		word = 0x3ffffff0;
		show("trylock_pi dead owner", fx(&word, FUTEX_TRYLOCK_PI | priv, 0, NULL, NULL, 0));
		word = other;
		show("trylock_pi owned by another process", fx(&word, FUTEX_TRYLOCK_PI | priv, 0, NULL, NULL, 0));
		printf("word has waiters: %s\n", word & WAITERS ? "yes" : "no");
		show("unlock_pi owned by another process", fx(&word, FUTEX_UNLOCK_PI | priv, 0, NULL, NULL, 0));
		show("lock_pi misaligned", fx((uint32_t *)((char *)&word + 1), FUTEX_LOCK_PI | priv, 0, NULL, NULL, 0));
		show("lock_pi unmapped", fx((uint32_t *)16, FUTEX_LOCK_PI | priv, 0, NULL, NULL, 0));
		show("lock_pi clock_realtime", fx(&word, FUTEX_LOCK_PI | CLOCK_RT | priv, 0, NULL, NULL, 0));
	}
}

static void on_alarm(int sig)
{
	(void)sig;
	word = 1;
}

static void arm_timer(int restart)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm;
	sa.sa_flags = restart ? SA_RESTART : 0;
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval it = { { 0, 0 }, { 0, 50000 } };
	setitimer(ITIMER_REAL, &it, NULL);
}

static void signals(void)
{
	/* The handler changes the word: a restarted wait sees the change. */
	word = 0;
	arm_timer(0);
	show("wait, handler without SA_RESTART", fx(&word, FUTEX_WAIT, 0, NULL, NULL, 0));
	word = 0;
	arm_timer(1);
	show("wait, handler with SA_RESTART", fx(&word, FUTEX_WAIT, 0, NULL, NULL, 0));
	word = 0;
	arm_timer(1);
	struct kts t = rel_ms(10000);
	show("timed wait, handler with SA_RESTART", fx(&word, FUTEX_WAIT, 0, &t, NULL, 0));
	word = 0;
	arm_timer(1);
	t = abs_ms(CLOCK_MONOTONIC, 10000);
	show("timed wait_bitset, SA_RESTART", fx(&word, FUTEX_WAIT_BITSET, 0, &t, NULL, ~0u));
	/* A PI lock wait is restarted after any handler (it then times out). */
	word2 = other;
	arm_timer(0);
	t = abs_ms(CLOCK_REALTIME, 300);
	show("lock_pi, handler without SA_RESTART", fx(&word2, FUTEX_LOCK_PI, 0, &t, NULL, 0));
	/* An ignored signal does not end the wait. */
	signal(SIGALRM, SIG_IGN);
	struct itimerval it = { { 0, 0 }, { 0, 20000 } };
	setitimer(ITIMER_REAL, &it, NULL);
	word = 0;
	t = rel_ms(100);
	show("wait, ignored signal", fx(&word, FUTEX_WAIT, 0, &t, NULL, 0));
	signal(SIGALRM, SIG_DFL);
}

static int once_runs;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void once_init(void)
{
	once_runs++;
}

static void once_section(void)
{
	printf("pthread_once: %d\n", pthread_once(&once, once_init));
	printf("pthread_once again: %d\n", pthread_once(&once, once_init));
	printf("init ran %d time(s)\n", once_runs);
}

/* Two processes over MAP_SHARED|MAP_ANONYMOUS memory: the child waits, the
 * parent wakes it; shared futexes are keyed by the page, private ones by the
 * address space (a private wake reaches no other process). */
static void cross(void)
{
	uint32_t *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED) {
		printf("mmap: %s\n", en(errno));
		return;
	}
	m[0] = 0; /* the futex word: never changes, so only a wake ends the wait */
	m[1] = 0; /* the child is about to wait */
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		m[1] = 1;
		long r = fx(&m[0], FUTEX_WAIT, 0, NULL, NULL, 0);
		printf("child: wait returned %ld\n", r);
		fflush(stdout);
		_exit(0);
	}
	/* Blocking (not spinning) lets the child run on any scheduler. */
	while (m[1] == 0) {
		struct kts t = rel_ms(2);
		fx(&m[2], FUTEX_WAIT, 0, &t, NULL, 0);
	}
	/* A private wake reaches no other process, queued or not. */
	long p = 0;
	for (int i = 0; i < 20; i++) {
		struct kts t = rel_ms(2);
		fx(&m[2], FUTEX_WAIT, 0, &t, NULL, 0);
		p += fx(&m[0], FUTEX_WAKE | PRIV, 1, NULL, NULL, 0);
	}
	printf("private wakes that reached the child: %ld\n", p);
	/* A shared wake reaches it once it is queued. */
	long n = 0;
	while (n == 0) {
		n = fx(&m[0], FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
		if (n == 0) {
			struct kts t = rel_ms(2);
			fx(&m[2], FUTEX_WAIT, 0, &t, NULL, 0);
		}
	}
	int st;
	waitpid(pid, &st, 0);
	printf("parent: woke %ld, child exited %d\n", n, WEXITSTATUS(st));
	/* A process alone in its address space exits without clearing its
	 * clear_child_tid word (Linux clears it only for a shared mm). */
	m[3] = 77;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		syscall(SYS_set_tid_address, &m[3]);
		_exit(0);
	}
	waitpid(pid, &st, 0);
	printf("clear_child_tid word after a lone exit: %u\n", m[3]);
	munmap(m, 4096);
}

static void nap(uint32_t *scratch)
{
	struct kts t = rel_ms(2);
	fx(scratch, FUTEX_WAIT, *scratch, &t, NULL, 0);
}

/* Forks a child that runs fn(m, arg) and exits with its result. */
static pid_t spawn(int (*fn)(uint32_t *, int), uint32_t *m, int arg)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0)
		_exit(fn(m, arg));
	return pid;
}

static void reap_all(const char *what, pid_t *pids, int n)
{
	printf("%s:", what);
	for (int i = 0; i < n; i++) {
		int st;
		waitpid(pids[i], &st, 0);
		printf(" %d", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	}
	printf("\n");
}

/* m[0]: A, m[1]: B, m[2]: C, m[3]: scratch, m[4]: PI word, m[5]: P. */
static int wait_a(uint32_t *m, int bitset)
{
	long r = fx(&m[0], FUTEX_WAIT_BITSET, 0, NULL, NULL, (uint32_t)bitset);
	return r == 0 ? 0 : 10 + errno;
}

/* Moves every waiter of A to B until `n` have moved: then all are queued. */
static void gather(uint32_t *m, int n)
{
	long moved = 0;
	while (moved < n) {
		long r = fxn(&m[0], FUTEX_REQUEUE, 0, INT_MAX, &m[1], 0);
		if (r < 0) {
			printf("requeue: %s\n", en(errno));
			return;
		}
		moved += r;
		if (moved < n)
			nap(&m[3]);
	}
	printf("gathered %ld waiters on B\n", moved);
}

static int pi_holder(uint32_t *m, int unused)
{
	(void)unused;
	if (fx(&m[4], FUTEX_TRYLOCK_PI, 0, NULL, NULL, 0) != 0)
		return 1;
	m[3] = 1;
	/* Unlock once the parent waits (it sets FUTEX_WAITERS). */
	while (!(m[4] & WAITERS))
		nap(&m[2]);
	return fx(&m[4], FUTEX_UNLOCK_PI, 0, NULL, NULL, 0) == 0 ? 0 : 2;
}

static int requeue_pi_waiter(uint32_t *m, int unused)
{
	(void)unused;
	if (fx(&m[0], FUTEX_WAIT_REQUEUE_PI, 0, NULL, &m[5], 0) != 0)
		return 10 + errno;
	if ((m[5] & TID_MASK) != (uint32_t)getpid())
		return 3;
	return fx(&m[5], FUTEX_UNLOCK_PI, 0, NULL, NULL, 0) == 0 ? 0 : 4;
}

/* Several processes on futexes in MAP_SHARED|MAP_ANONYMOUS memory. */
static void multi(void)
{
	uint32_t *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pid_t k[3];
	memset(m, 0, 64);
	for (int i = 0; i < 3; i++)
		k[i] = spawn(wait_a, m, ~0);
	gather(m, 3);
	show("wake B one", fx(&m[1], FUTEX_WAKE, 1, NULL, NULL, 0));
	show("cmp_requeue B to C, wake 1 move 1", fxn(&m[1], FUTEX_CMP_REQUEUE, 1, 1, &m[2], 0));
	show("wake C all", fx(&m[2], FUTEX_WAKE, INT_MAX, NULL, NULL, 0));
	show("wake B all", fx(&m[1], FUTEX_WAKE, INT_MAX, NULL, NULL, 0));
	reap_all("waiters exited", k, 3);

	/* Bitsets survive a requeue. */
	for (int i = 0; i < 3; i++)
		k[i] = spawn(wait_a, m, 1 << i);
	gather(m, 3);
	show("wake_bitset 2", fx(&m[1], FUTEX_WAKE_BITSET, INT_MAX, NULL, NULL, 2));
	show("wake_bitset 8", fx(&m[1], FUTEX_WAKE_BITSET, INT_MAX, NULL, NULL, 8));
	show("wake_bitset 5", fx(&m[1], FUTEX_WAKE_BITSET, INT_MAX, NULL, NULL, 5));
	reap_all("bitset waiters exited", k, 3);

	/* wake_op: B's waiters are woken when the old value passes. */
	for (int i = 0; i < 2; i++)
		k[i] = spawn(wait_a, m, ~0);
	gather(m, 2);
	/* FUTEX_OP(op, oparg, cmp, cmparg) on B, waking B's waiters. */
	show("wake_op A, B if old B == 5 (add 1)",
	     fxn(&m[0], FUTEX_WAKE_OP, 1, 1, &m[1], (1u << 28) | (0u << 24) | (1u << 12) | 5));
	printf("B now %u\n", m[1]);
	show("wake_op A, B if old B == 1 (add 1)",
	     fxn(&m[0], FUTEX_WAKE_OP, 1, 1, &m[1], (1u << 28) | (0u << 24) | (1u << 12) | 1));
	printf("B now %u\n", m[1]);
	m[2] = 4;
	show("wake_op B, C if old C != 0 (set 0)",
	     fxn(&m[1], FUTEX_WAKE_OP, 1, 0, &m[2], (0u << 28) | (1u << 24) | (0u << 12) | 0));
	printf("C now %u\n", m[2]);
	reap_all("wake_op waiters exited", k, 2);
	m[1] = 0;

	/* A PI lock handed over from another process. */
	m[3] = 0;
	k[0] = spawn(pi_holder, m, 0);
	while (m[3] == 0)
		nap(&m[2]);
	struct kts t = abs_ms(CLOCK_REALTIME, 20000);
	show("lock_pi held by the child", fx(&m[4], FUTEX_LOCK_PI, 0, &t, NULL, 0));
	printf("owner is me: %s, waiters bit: %s\n",
	       (m[4] & TID_MASK) == (uint32_t)getpid() ? "yes" : "no", m[4] & WAITERS ? "yes" : "no");
	show("unlock_pi", fx(&m[4], FUTEX_UNLOCK_PI, 0, NULL, NULL, 0));
	printf("word %#x\n", m[4]);
	reap_all("holder exited", k, 1);

	/* Requeue-PI: waiters of A are given P in turn. */
	m[0] = 0;
	m[5] = 0;
	for (int i = 0; i < 2; i++)
		k[i] = spawn(requeue_pi_waiter, m, 0);
	long done = 0;
	while (done < 2) {
		long r = fxn(&m[0], FUTEX_CMP_REQUEUE_PI, 1, INT_MAX, &m[5], 0);
		if (r < 0) {
			printf("cmp_requeue_pi: %s\n", en(errno));
			break;
		}
		done += r;
		if (done < 2)
			nap(&m[3]);
	}
	printf("cmp_requeue_pi reached %ld waiters\n", done);
	reap_all("requeue_pi waiters exited", k, 2);
	printf("P word %#x\n", m[5]);
	munmap(m, 4096);
}

static const char *mutex_err(int e)
{
	switch (e) {
	case 0: return "0";
	case EOWNERDEAD: return "EOWNERDEAD";
	case EBUSY: return "EBUSY";
	case ENOTRECOVERABLE: return "ENOTRECOVERABLE";
	default: return en(e);
	}
}

/* A robust process-shared mutex whose owner exits while holding it: the
 * kernel walks the owner's robust list and marks it FUTEX_OWNER_DIED, waking
 * a waiter. `pi` makes it a priority-inheritance mutex (LOCK_PI). */
static void robust_case(const char *what, int pi)
{
	pthread_mutex_t *mx = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	if (pi)
		pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_INHERIT);
	int r = pthread_mutex_init(mx, &a);
	if (r) {
		printf("%s: init %s\n", what, mutex_err(r));
		return;
	}
	volatile int *ready = (volatile int *)(mx + 1);
	/* The owner exits before anyone waits. */
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0)
		_exit(pthread_mutex_lock(mx));
	int st;
	waitpid(pid, &st, 0);
	printf("%s: owner locked: %d\n", what, WEXITSTATUS(st));
	printf("%s: trylock after its exit: %s\n", what, mutex_err(pthread_mutex_trylock(mx)));
	printf("%s: consistent: %s\n", what, mutex_err(pthread_mutex_consistent(mx)));
	printf("%s: unlock: %s\n", what, mutex_err(pthread_mutex_unlock(mx)));
	/* The owner exits while this process waits for the mutex. */
	*ready = 0;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		int e = pthread_mutex_lock(mx);
		*ready = 1;
		struct kts t = rel_ms(50);
		fx((uint32_t *)&ready[1], FUTEX_WAIT, 0, &t, NULL, 0);
		_exit(e);
	}
	while (*ready == 0) {
		struct kts t = rel_ms(2);
		fx((uint32_t *)&ready[1], FUTEX_WAIT, 0, &t, NULL, 0);
	}
	printf("%s: lock while the owner dies: %s\n", what, mutex_err(pthread_mutex_lock(mx)));
	waitpid(pid, &st, 0);
	printf("%s: consistent: %s\n", what, mutex_err(pthread_mutex_consistent(mx)));
	printf("%s: unlock: %s\n", what, mutex_err(pthread_mutex_unlock(mx)));
	printf("%s: lock again: %s\n", what, mutex_err(pthread_mutex_lock(mx)));
	pthread_mutex_unlock(mx);
	munmap(mx, 4096);
}

static void robust(void)
{
	robust_case("robust", 0);
	robust_case("robust pi", 1);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 1; i < argc; i++) {
		const char *s = argv[i];
		printf("== %s\n", s);
		other_start();
		if (!strcmp(s, "errors"))
			errors();
		else if (!strcmp(s, "timeouts"))
			timeouts();
		else if (!strcmp(s, "wake"))
			wake();
		else if (!strcmp(s, "pi"))
			pi();
		else if (!strcmp(s, "signals"))
			signals();
		else if (!strcmp(s, "once"))
			once_section();
		else if (!strcmp(s, "robust"))
			robust();
		else if (!strcmp(s, "multi"))
			multi();
		else if (!strcmp(s, "cross"))
			cross();
		else
			printf("unknown section\n");
		other_stop();
	}
	return 0;
}
