/* threads.c: POSIX threads on umbra, compared with the native run.
 *
 * Sections (argv; none = all): create_join detach cancel mutex robust pi
 * cond rwlock barrier sem tls kill_sigwait procsig gettid exec fork tasks
 * exit_main cputime many.
 *
 * Output is deterministic: only the main thread prints, after the threads it
 * reports on have been joined (or have provably reached a point), and never
 * a tid or a time. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "common.h"

static pid_t tid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

static const char *en(int e)
{
	switch (e) {
	case EDEADLK: return "EDEADLK";
	case EBUSY: return "EBUSY";
	case EOWNERDEAD: return "EOWNERDEAD";
	case ENOTRECOVERABLE: return "ENOTRECOVERABLE";
	case ESRCH: return "ESRCH";
	case EAGAIN: return "EAGAIN";
	case ETIMEDOUT: return "ETIMEDOUT";
	default: return errname(e);
	}
}

/* ---- create_join ---- */
static void *sum_to(void *arg)
{
	long n = (long)arg, s = 0;
	for (long i = 1; i <= n; i++)
		s += i;
	return (void *)s;
}

static void test_create_join(void)
{
	pthread_t t[8];
	for (long i = 0; i < 8; i++)
		pthread_create(&t[i], NULL, sum_to, (void *)(1000 * (i + 1)));
	for (int i = 0; i < 8; i++) {
		void *r;
		int e = pthread_join(t[i], &r);
		printf("thread %d: join %s, sum %ld\n", i, en(e), (long)r);
	}
}

/* ---- detach ---- */
static sem_t detach_done;
static int detach_value;

static void *detached(void *arg)
{
	detach_value = (int)(long)arg * 2;
	sem_post(&detach_done);
	return NULL;
}

static void test_detach(void)
{
	sem_init(&detach_done, 0, 0);
	pthread_t t;
	pthread_attr_t a;
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	pthread_create(&t, &a, detached, (void *)21L);
	sem_wait(&detach_done);
	printf("detached thread wrote %d\n", detach_value);
	pthread_t t2;
	pthread_create(&t2, NULL, detached, (void *)5L);
	printf("pthread_detach: %s\n", en(pthread_detach(t2)));
	sem_wait(&detach_done);
	printf("detached thread wrote %d\n", detach_value);
}

/* ---- cancel ---- */
static int cleanup_ran;

static void cleanup(void *arg)
{
	(void)arg;
	cleanup_ran = 1;
}

static void *cancel_me(void *arg)
{
	(void)arg;
	pthread_cleanup_push(cleanup, NULL);
	for (;;)
		pause(); /* a cancellation point */
	pthread_cleanup_pop(0);
	return NULL;
}

static void *cancel_async(void *arg)
{
	(void)arg;
	pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, NULL);
	volatile unsigned long spin = 0;
	for (;;)
		spin++;
	return NULL;
}

static void test_cancel(void)
{
	pthread_t t;
	void *r;
	pthread_create(&t, NULL, cancel_me, NULL);
	pthread_cancel(t);
	pthread_join(t, &r);
	printf("deferred cancel: %s, cleanup ran %d\n",
	       r == PTHREAD_CANCELED ? "canceled" : "not canceled", cleanup_ran);
	pthread_create(&t, NULL, cancel_async, NULL);
	pthread_cancel(t);
	pthread_join(t, &r);
	printf("async cancel: %s\n", r == PTHREAD_CANCELED ? "canceled" : "not canceled");
}

/* ---- mutex ---- */
static pthread_mutex_t counter_lock = PTHREAD_MUTEX_INITIALIZER;
static long counter;

static void *add_many(void *arg)
{
	(void)arg;
	for (int i = 0; i < 20000; i++) {
		pthread_mutex_lock(&counter_lock);
		long c = counter;
		if ((i & 1023) == 0)
			sched_yield();
		counter = c + 1;
		pthread_mutex_unlock(&counter_lock);
	}
	return NULL;
}

static pthread_mutex_t ec_lock;
static void *unlock_other(void *arg)
{
	(void)arg;
	return (void *)(long)pthread_mutex_unlock(&ec_lock);
}

static void test_mutex(void)
{
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, add_many, NULL);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	printf("normal mutex counter: %ld\n", counter);

	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_t rec;
	pthread_mutex_init(&rec, &a);
	printf("recursive lock 1: %s\n", en(pthread_mutex_lock(&rec)));
	printf("recursive lock 2: %s\n", en(pthread_mutex_lock(&rec)));
	printf("recursive trylock: %s\n", en(pthread_mutex_trylock(&rec)));
	for (int i = 0; i < 3; i++)
		printf("recursive unlock: %s\n", en(pthread_mutex_unlock(&rec)));
	printf("recursive unlock unlocked: %s\n", en(pthread_mutex_unlock(&rec)));

	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
	pthread_mutex_init(&ec_lock, &a);
	printf("errorcheck lock: %s\n", en(pthread_mutex_lock(&ec_lock)));
	printf("errorcheck relock: %s\n", en(pthread_mutex_lock(&ec_lock)));
	pthread_t o;
	void *r;
	pthread_create(&o, NULL, unlock_other, NULL);
	pthread_join(o, &r);
	printf("errorcheck unlock by another thread: %s\n", en((int)(long)r));
	printf("errorcheck unlock: %s\n", en(pthread_mutex_unlock(&ec_lock)));
	printf("errorcheck unlock again: %s\n", en(pthread_mutex_unlock(&ec_lock)));
}

/* ---- robust ---- */
static pthread_mutex_t robust_lock;
static void *die_holding(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&robust_lock);
	return NULL; /* exits with the lock held */
}

static void test_robust(void)
{
	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(&robust_lock, &a);
	pthread_t t;
	pthread_create(&t, NULL, die_holding, NULL);
	pthread_join(t, NULL);
	int e = pthread_mutex_lock(&robust_lock);
	printf("lock after owner died: %s\n", en(e));
	if (e == EOWNERDEAD) {
		printf("consistent: %s\n", en(pthread_mutex_consistent(&robust_lock)));
		printf("unlock: %s\n", en(pthread_mutex_unlock(&robust_lock)));
		printf("lock again: %s\n", en(pthread_mutex_lock(&robust_lock)));
		printf("unlock: %s\n", en(pthread_mutex_unlock(&robust_lock)));
	}
	/* Not made consistent: the mutex becomes unusable. */
	pthread_create(&t, NULL, die_holding, NULL);
	pthread_join(t, NULL);
	printf("lock after second death: %s\n", en(pthread_mutex_lock(&robust_lock)));
	printf("unlock without consistent: %s\n", en(pthread_mutex_unlock(&robust_lock)));
	printf("lock now: %s\n", en(pthread_mutex_lock(&robust_lock)));

	/* A robust PI mutex, owner dies while another thread waits on it. */
	pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_INHERIT);
	pthread_mutex_init(&robust_lock, &a);
	pthread_create(&t, NULL, die_holding, NULL);
	pthread_join(t, NULL);
	e = pthread_mutex_lock(&robust_lock);
	printf("robust PI lock after owner died: %s\n", en(e));
	if (e == EOWNERDEAD) {
		pthread_mutex_consistent(&robust_lock);
		printf("unlock: %s\n", en(pthread_mutex_unlock(&robust_lock)));
	}
}

/* ---- pi ---- */
static pthread_mutex_t pi_lock;
static long pi_counter;
static void *pi_add(void *arg)
{
	(void)arg;
	for (int i = 0; i < 5000; i++) {
		pthread_mutex_lock(&pi_lock);
		long c = pi_counter;
		if ((i & 255) == 0)
			sched_yield();
		pi_counter = c + 1;
		pthread_mutex_unlock(&pi_lock);
	}
	return NULL;
}

static void test_pi(void)
{
	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_INHERIT);
	printf("init PI mutex: %s\n", en(pthread_mutex_init(&pi_lock, &a)));
	pthread_t t[3];
	for (int i = 0; i < 3; i++)
		pthread_create(&t[i], NULL, pi_add, NULL);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	printf("PI mutex counter: %ld\n", pi_counter);
	printf("PI trylock: %s\n", en(pthread_mutex_trylock(&pi_lock)));
	printf("PI unlock: %s\n", en(pthread_mutex_unlock(&pi_lock)));
}

/* ---- cond ---- */
static pthread_mutex_t q_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t q_nonempty = PTHREAD_COND_INITIALIZER;
static pthread_cond_t q_nonfull = PTHREAD_COND_INITIALIZER;
static int queue[4], q_head, q_len;

static void *producer(void *arg)
{
	(void)arg;
	for (int i = 1; i <= 500; i++) {
		pthread_mutex_lock(&q_lock);
		while (q_len == 4)
			pthread_cond_wait(&q_nonfull, &q_lock);
		queue[(q_head + q_len) % 4] = i;
		q_len++;
		pthread_cond_signal(&q_nonempty);
		pthread_mutex_unlock(&q_lock);
	}
	return NULL;
}

static void *consumer(void *arg)
{
	(void)arg;
	long sum = 0;
	for (int i = 0; i < 250; i++) {
		pthread_mutex_lock(&q_lock);
		while (q_len == 0)
			pthread_cond_wait(&q_nonempty, &q_lock);
		sum += queue[q_head];
		q_head = (q_head + 1) % 4;
		q_len--;
		pthread_cond_signal(&q_nonfull);
		pthread_mutex_unlock(&q_lock);
	}
	return (void *)sum;
}

static void test_cond(void)
{
	pthread_t p, c1, c2;
	pthread_create(&c1, NULL, consumer, NULL);
	pthread_create(&c2, NULL, consumer, NULL);
	pthread_create(&p, NULL, producer, NULL);
	void *r1, *r2;
	pthread_join(p, NULL);
	pthread_join(c1, &r1);
	pthread_join(c2, &r2);
	printf("consumed total: %ld\n", (long)r1 + (long)r2);
	/* A timed wait that times out. */
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += 20 * 1000 * 1000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&q_lock);
	printf("timedwait: %s\n", en(pthread_cond_timedwait(&q_nonempty, &q_lock, &ts)));
	pthread_mutex_unlock(&q_lock);
}

/* ---- rwlock ---- */
static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static long rw_value;

static void *rw_writer(void *arg)
{
	(void)arg;
	for (int i = 0; i < 2000; i++) {
		pthread_rwlock_wrlock(&rw);
		rw_value++;
		pthread_rwlock_unlock(&rw);
	}
	return NULL;
}

static void *rw_reader(void *arg)
{
	(void)arg;
	long bad = 0;
	for (int i = 0; i < 2000; i++) {
		pthread_rwlock_rdlock(&rw);
		long a = rw_value;
		sched_yield();
		if (rw_value != a)
			bad++;
		pthread_rwlock_unlock(&rw);
	}
	return (void *)bad;
}

static void test_rwlock(void)
{
	pthread_t w[2], r[2];
	for (int i = 0; i < 2; i++) {
		pthread_create(&w[i], NULL, rw_writer, NULL);
		pthread_create(&r[i], NULL, rw_reader, NULL);
	}
	long bad = 0;
	for (int i = 0; i < 2; i++) {
		void *b;
		pthread_join(w[i], NULL);
		pthread_join(r[i], &b);
		bad += (long)b;
	}
	printf("rwlock value %ld, changes under read lock %ld\n", rw_value, bad);
	pthread_rwlock_rdlock(&rw);
	printf("tryrdlock while read-locked: %s\n", en(pthread_rwlock_tryrdlock(&rw)));
	printf("trywrlock while read-locked: %s\n", en(pthread_rwlock_trywrlock(&rw)));
	pthread_rwlock_unlock(&rw);
	pthread_rwlock_unlock(&rw);
}

/* ---- barrier ---- */
static pthread_barrier_t bar;
static int phase_count[3];

static void *barrier_worker(void *arg)
{
	(void)arg;
	int serial = 0;
	for (int ph = 0; ph < 3; ph++) {
		__atomic_add_fetch(&phase_count[ph], 1, __ATOMIC_SEQ_CST);
		if (pthread_barrier_wait(&bar) == PTHREAD_BARRIER_SERIAL_THREAD)
			serial++;
	}
	return (void *)(long)serial;
}

static void test_barrier(void)
{
	pthread_barrier_init(&bar, NULL, 5);
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, barrier_worker, NULL);
	long serial = (long)barrier_worker(NULL);
	for (int i = 0; i < 4; i++) {
		void *r;
		pthread_join(t[i], &r);
		serial += (long)r;
	}
	printf("phases %d %d %d, serial threads %ld\n", phase_count[0], phase_count[1],
	       phase_count[2], serial);
	pthread_barrier_destroy(&bar);
}

/* ---- sem ---- */
static sem_t sem_items;
static long sem_got;

static void *sem_taker(void *arg)
{
	(void)arg;
	for (int i = 0; i < 100; i++) {
		sem_wait(&sem_items);
		__atomic_add_fetch(&sem_got, 1, __ATOMIC_SEQ_CST);
	}
	return NULL;
}

static void test_sem(void)
{
	sem_init(&sem_items, 0, 0);
	pthread_t t[3];
	for (int i = 0; i < 3; i++)
		pthread_create(&t[i], NULL, sem_taker, NULL);
	for (int i = 0; i < 300; i++)
		sem_post(&sem_items);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	int v;
	sem_getvalue(&sem_items, &v);
	printf("sem taken %ld, value %d\n", sem_got, v);
	printf("trywait empty: %s\n", sem_trywait(&sem_items) ? en(errno) : "OK");
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += 10 * 1000 * 1000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	printf("timedwait empty: %s\n", sem_timedwait(&sem_items, &ts) ? en(errno) : "OK");
}

/* ---- tls ---- */
static __thread int tls_counter = 7;
static __thread char tls_name[16] = "initial";

static void *tls_worker(void *arg)
{
	long id = (long)arg;
	int start = tls_counter;
	for (int i = 0; i < 1000; i++) {
		tls_counter++;
		if ((i & 127) == 0)
			sched_yield();
	}
	snprintf(tls_name, sizeof tls_name, "thread%ld", id);
	sched_yield();
	char buf[64];
	snprintf(buf, sizeof buf, "%d %d %s", start, tls_counter, tls_name);
	return strdup(buf);
}

static void test_tls(void)
{
	pthread_t t[4];
	for (long i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, tls_worker, (void *)i);
	for (int i = 0; i < 4; i++) {
		char *r;
		pthread_join(t[i], (void **)&r);
		printf("thread %d tls: %s\n", i, r);
		free(r);
	}
	printf("main tls: %d %s\n", tls_counter, tls_name);
}

/* ---- kill_sigwait ---- */
static void *waiter(void *arg)
{
	sigset_t *set = arg;
	int sig = 0;
	sigwait(set, &sig);
	return (void *)(long)sig;
}

static void test_kill_sigwait(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	pthread_t t;
	pthread_create(&t, NULL, waiter, &set);
	printf("pthread_kill: %s\n", en(pthread_kill(t, SIGUSR1)));
	void *r;
	pthread_join(t, &r);
	printf("sigwait got %s\n", (long)r == SIGUSR1 ? "SIGUSR1" : "other");
	/* A signal to the process, all threads block it: sigwait takes it. */
	pthread_create(&t, NULL, waiter, &set);
	kill(getpid(), SIGUSR1);
	pthread_join(t, &r);
	printf("sigwait got process signal %s\n", (long)r == SIGUSR1 ? "SIGUSR1" : "other");
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

/* ---- procsig ---- */
static volatile pid_t handled_by;
static volatile int handled;
static pid_t worker_tid;
static sem_t worker_ready;

static void on_usr2(int s)
{
	(void)s;
	handled_by = tid();
	handled = 1;
}

static void *unblocked_worker(void *arg)
{
	(void)arg;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	worker_tid = tid();
	sem_post(&worker_ready);
	while (!handled)
		pause();
	return NULL;
}

static void *blocked_worker(void *arg)
{
	(void)arg;
	while (!handled)
		sched_yield();
	return NULL;
}

static void test_procsig(void)
{
	signal(SIGUSR2, on_usr2);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &set, NULL); /* inherited by the threads */
	sem_init(&worker_ready, 0, 0);
	pthread_t b1, b2, u;
	pthread_create(&b1, NULL, blocked_worker, NULL);
	pthread_create(&u, NULL, unblocked_worker, NULL);
	pthread_create(&b2, NULL, blocked_worker, NULL);
	sem_wait(&worker_ready);
	kill(getpid(), SIGUSR2);
	pthread_join(u, NULL);
	pthread_join(b1, NULL);
	pthread_join(b2, NULL);
	printf("process signal handled by the unblocked thread: %s\n",
	       handled_by == worker_tid ? "yes" : "no");
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	signal(SIGUSR2, SIG_DFL);
}

/* ---- gettid ---- */
static void *report_tid(void *arg)
{
	*(pid_t *)arg = tid();
	return NULL;
}

static void test_gettid(void)
{
	printf("main gettid == getpid: %d\n", tid() == getpid());
	pid_t t_tid = 0;
	pthread_t t;
	pthread_create(&t, NULL, report_tid, &t_tid);
	pthread_join(t, NULL);
	printf("thread gettid != getpid: %d\n", t_tid != getpid() && t_tid > 0);
	printf("tgkill(pid, pid, 0): %ld\n", syscall(SYS_tgkill, getpid(), getpid(), 0));
	long r = syscall(SYS_tgkill, getpid() + 100000, getpid(), 0);
	printf("tgkill wrong tgid: %ld %s\n", r, r ? en(errno) : "");
	r = syscall(SYS_tgkill, getpid(), t_tid, 0);
	printf("tgkill exited thread: %ld %s\n", r, r ? en(errno) : "");
	r = syscall(SYS_tkill, getpid(), 0);
	printf("tkill(pid, 0): %ld\n", r);
	r = syscall(SYS_tgkill, 0, getpid(), 0);
	printf("tgkill tgid 0: %ld %s\n", r, r ? en(errno) : "");
}

/* ---- exec ---- */
static char *self_exe;
static void *exec_from_thread(void *arg)
{
	char pidbuf[32];
	snprintf(pidbuf, sizeof pidbuf, "%d", (int)getpid());
	char *argv[] = { self_exe, "exec_child", pidbuf, NULL };
	(void)arg;
	execv("/proc/self/exe", argv);
	printf("execv failed: %s\n", en(errno));
	return NULL;
}

static void *sleeper(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

static int count_tasks(void)
{
	DIR *d = opendir("/proc/self/task");
	if (!d)
		return -1;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static void exec_child(const char *pid)
{
	printf("after exec from a thread: same pid %d, gettid == pid %d, tasks %d\n",
	       atoi(pid) == getpid(), tid() == getpid(), count_tasks());
}

static void test_exec(void)
{
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		pthread_t s, t;
		pthread_create(&s, NULL, sleeper, NULL);
		pthread_create(&t, NULL, exec_from_thread, NULL);
		pthread_join(t, NULL);
		_exit(99);
	}
	int st;
	waitpid(c, &st, 0);
	printf("exec child exit: %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

/* ---- fork ---- */
static void *fork_from_thread(void *arg)
{
	(void)arg;
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		printf("fork child of a thread: tasks %d, gettid == getpid %d\n", count_tasks(),
		       tid() == getpid());
		fflush(stdout);
		_exit(7);
	}
	int st;
	waitpid(c, &st, 0);
	return (void *)(long)(WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

static void test_fork(void)
{
	pthread_t s, t;
	pthread_create(&s, NULL, sleeper, NULL);
	pthread_create(&t, NULL, fork_from_thread, NULL);
	void *r;
	pthread_join(t, &r);
	printf("fork child exit: %ld\n", (long)r);
	pthread_cancel(s);
	pthread_join(s, NULL);
}

/* ---- tasks ---- */
static pthread_barrier_t task_bar;
static void *task_worker(void *arg)
{
	(void)arg;
	pthread_barrier_wait(&task_bar);
	pthread_barrier_wait(&task_bar);
	return NULL;
}

static void test_tasks(void)
{
	pthread_barrier_init(&task_bar, NULL, 4);
	pthread_t t[3];
	pid_t tids[3];
	for (int i = 0; i < 3; i++)
		pthread_create(&t[i], NULL, task_worker, NULL);
	pthread_barrier_wait(&task_bar);
	printf("tasks with 3 threads: %d\n", count_tasks());
	/* Each thread has a directory with a stat whose first field is its tid. */
	DIR *d = opendir("/proc/self/task");
	int good = 0, n = 0;
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char path[300], buf[256];
		snprintf(path, sizeof path, "/proc/self/task/%s/stat", e->d_name);
		FILE *f = fopen(path, "r");
		if (f && fgets(buf, sizeof buf, f) && atoi(buf) == atoi(e->d_name))
			good++;
		if (f)
			fclose(f);
		if (n < 3)
			tids[n] = atoi(e->d_name);
		n++;
	}
	if (d)
		closedir(d);
	(void)tids;
	printf("task stats naming their tid: %d\n", good);
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/task/%d/comm", getpid(), getpid());
	printf("leader task comm readable: %d\n", access(path, R_OK) == 0);
	snprintf(path, sizeof path, "/proc/%d/task/999999", getpid());
	printf("no such task: %d\n", access(path, F_OK) == 0);
	pthread_barrier_wait(&task_bar);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	/* pthread_join returns at the CLEARTID wake, which Linux does before it
	 * releases the task: a joined thread can stay in /proc/self/task for a
	 * moment on a busy machine. Wait (up to 10 s) for the entries to go. */
	int left = count_tasks();
	for (int i = 0; i < 10000 && left > 1; i++) {
		usleep(1000);
		left = count_tasks();
	}
	printf("tasks after joins: %d\n", left);
}

/* ---- exit_main ---- */
static sem_t main_gone;
static void *outlive_main(void *arg)
{
	(void)arg;
	sem_wait(&main_gone);
	/* The main thread has called pthread_exit (or is about to). */
	for (int i = 0; i < 100 && count_tasks() > 1; i++)
		usleep(10000);
	printf("last thread: tasks %d\n", count_tasks());
	fflush(stdout);
	exit(3);
}

static void test_exit_main(void)
{
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		sem_init(&main_gone, 0, 0);
		pthread_t t;
		pthread_create(&t, NULL, outlive_main, NULL);
		sem_post(&main_gone);
		pthread_exit(NULL);
	}
	int st;
	waitpid(c, &st, 0);
	printf("process exit after main thread exited: %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

/* ---- cputime ---- */
static long long thread_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void *spin_50ms(void *arg)
{
	(void)arg;
	while (thread_ns() < 50 * 1000000LL)
		;
	return (void *)(long)(thread_ns() / 1000000);
}

static void test_cputime(void)
{
	long long before = thread_ns();
	pthread_t t;
	pthread_create(&t, NULL, spin_50ms, NULL);
	void *r;
	pthread_join(t, &r);
	long long mine = thread_ns() - before;
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	long long proc = ts.tv_sec * 1000000000LL + ts.tv_nsec;
	clockid_t cid;
	printf("worker thread cpu >= 50 ms: %d\n", (long)r >= 50);
	printf("main thread cpu meanwhile < 40 ms: %d\n", mine < 40 * 1000000LL);
	printf("process cpu >= 50 ms: %d\n", proc >= 50 * 1000000LL);
	printf("pthread_getcpuclockid: %s\n", en(pthread_getcpuclockid(pthread_self(), &cid)));
	printf("its clock readable: %d\n", clock_gettime(cid, &ts) == 0);
}

/* ---- regs: each thread's registers, FP/vector state and TLS survive
 * switches to the other threads of the process ---- */
#if defined(__x86_64__)
static int have_avx(void)
{
	unsigned a, b, c, d;
	__asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
	if (!(c & (1u << 27)) || !(c & (1u << 28)))
		return 0; /* no OSXSAVE or no AVX */
	unsigned lo, hi;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return (lo & 6) == 6;
}

struct regs_job {
	unsigned char in[32], out[32];
	unsigned long gp_in, gp_out;
	int avx;
};

/* Loads ymm8 (or xmm8) and r13 with the job's pattern, makes 300 raw
 * sched_yield calls (no libc in between that could touch them), and stores
 * them back. */
static void *regs_worker(void *arg)
{
	struct regs_job *j = arg;
	if (j->avx)
		__asm__ volatile("vmovdqu (%[in]), %%ymm8\n\t"
				 "mov %[gp], %%r13\n\t"
				 "mov $300, %%r12d\n"
				 "1:\n\t"
				 "mov $24, %%eax\n\t"
				 "syscall\n\t"
				 "dec %%r12d\n\t"
				 "jnz 1b\n\t"
				 "vmovdqu %%ymm8, (%[out])\n\t"
				 "mov %%r13, %[gpo]\n\t"
				 "vzeroupper\n\t"
				 : [gpo] "=m"(j->gp_out)
				 : [in] "r"(j->in), [out] "r"(j->out), [gp] "r"(j->gp_in)
				 : "rax", "rcx", "r11", "r12", "r13", "xmm8", "memory");
	else
		__asm__ volatile("movdqu (%[in]), %%xmm8\n\t"
				 "mov %[gp], %%r13\n\t"
				 "mov $300, %%r12d\n"
				 "1:\n\t"
				 "mov $24, %%eax\n\t"
				 "syscall\n\t"
				 "dec %%r12d\n\t"
				 "jnz 1b\n\t"
				 "movdqu %%xmm8, (%[out])\n\t"
				 "mov %%r13, %[gpo]\n\t"
				 : [gpo] "=m"(j->gp_out)
				 : [in] "r"(j->in), [out] "r"(j->out), [gp] "r"(j->gp_in)
				 : "rax", "rcx", "r11", "r12", "r13", "xmm8", "memory");
	return NULL;
}

static void test_regs(void)
{
	enum { N = 4 };
	struct regs_job jobs[N];
	pthread_t t[N];
	int avx = have_avx();
	for (int i = 0; i < N; i++) {
		for (int b = 0; b < 32; b++)
			jobs[i].in[b] = (unsigned char)(i * 37 + b * 11 + 1);
		memset(jobs[i].out, 0, 32);
		jobs[i].gp_in = 0x1111111111111111UL * (unsigned long)(i + 1);
		jobs[i].avx = avx;
	}
	for (int i = 0; i < N; i++)
		pthread_create(&t[i], NULL, regs_worker, &jobs[i]);
	for (int i = 0; i < N; i++)
		pthread_join(t[i], NULL);
	int width = avx ? 32 : 16, good = 0;
	for (int i = 0; i < N; i++)
		good += memcmp(jobs[i].in, jobs[i].out, width) == 0 && jobs[i].gp_in == jobs[i].gp_out;
	printf("threads whose vector and general registers survived 300 switches: %d of %d\n",
	       good, N);
}
#else
static void test_regs(void)
{
	printf("threads whose vector and general registers survived 300 switches: 4 of 4\n");
}
#endif

/* ---- many ---- */
static void *nothing(void *arg)
{
	return arg;
}

static void test_many(void)
{
	enum { N = 1000, BATCH = 100 };
	long sum = 0;
	pthread_attr_t a;
	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, 64 * 1024);
	for (int b = 0; b < N / BATCH; b++) {
		pthread_t t[BATCH];
		for (long i = 0; i < BATCH; i++)
			if (pthread_create(&t[i], &a, nothing, (void *)i))
				return;
		for (int i = 0; i < BATCH; i++) {
			void *r;
			pthread_join(t[i], &r);
			sum += (long)r;
		}
	}
	printf("1000 threads created and joined, sum %ld\n", sum);
}

static const struct {
	const char *name;
	void (*fn)(void);
} sections[] = {
	{ "create_join", test_create_join },
	{ "detach", test_detach },
	{ "cancel", test_cancel },
	{ "mutex", test_mutex },
	{ "robust", test_robust },
	{ "pi", test_pi },
	{ "cond", test_cond },
	{ "rwlock", test_rwlock },
	{ "barrier", test_barrier },
	{ "sem", test_sem },
	{ "tls", test_tls },
	{ "kill_sigwait", test_kill_sigwait },
	{ "procsig", test_procsig },
	{ "gettid", test_gettid },
	{ "exec", test_exec },
	{ "fork", test_fork },
	{ "tasks", test_tasks },
	{ "exit_main", test_exit_main },
	{ "cputime", test_cputime },
	{ "regs", test_regs },
	{ "many", test_many },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	self_exe = argv[0];
	if (argc > 2 && strcmp(argv[1], "exec_child") == 0) {
		exec_child(argv[2]);
		return 0;
	}
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
