/* ipc_sem: System V semaphores. semget (keys, IPC_EXCL, nsems checks),
 * semctl (GETVAL, SETVAL, GETALL, SETALL, GETPID, GETNCNT, GETZCNT,
 * IPC_STAT, IPC_SET, IPC_RMID, IPC_INFO, SEM_INFO, SEM_STAT), semop's
 * all-or-nothing rule and its errors, semtimedop's timeout, a semop blocked
 * in one process and woken by another (decrement and wait-for-zero),
 * EINTR from a signal handler even with SA_RESTART, EIDRM when the set is
 * removed under a waiter, SEM_UNDO applied at exit, and the permission
 * checks after dropping root. Arguments name the sections (all when none). */
#include "ipc_common.h"
#include <sys/ipc.h>
#include <sys/sem.h>
#include <time.h>

union semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
	struct seminfo *__buf;
};

static int getval(int id, int n)
{
	return semctl(id, n, GETVAL);
}

static int op(int id, int num, int o, int flg)
{
	struct sembuf b = {.sem_num = num, .sem_op = o, .sem_flg = flg};
	return semop(id, &b, 1);
}

static void setval(int id, int n, int v)
{
	union semun u = {.val = v};
	if (semctl(id, n, SETVAL, u) != 0)
		printf("SETVAL: -1 %s\n", ipc_errname(errno));
}

static void show(int id, int n)
{
	unsigned short v[8];
	union semun u = {.array = v};
	semctl(id, 0, GETALL, u);
	printf("values:");
	for (int i = 0; i < n; i++)
		printf(" %d", v[i]);
	printf("\n");
}

/* Waits until `n` processes wait on semaphore `num` (GETNCNT, or GETZCNT
 * when `zero`). */
static void wait_count(int id, int num, int zero, int n)
{
	for (int i = 0; i < 20000; i++) {
		if (semctl(id, num, zero ? GETZCNT : GETNCNT) == n)
			return;
		usleep(1000);
	}
	printf("wait_count: never reached %d\n", n);
}

static void sec_basic(void)
{
	int id = semget(IPC_PRIVATE, 3, IPC_CREAT | 0600);
	ok("semget", id);
	show(id, 3);
	setval(id, 0, 5);
	printf("GETVAL %d\n", getval(id, 0));
	unsigned short v[3] = {1, 2, 3};
	union semun u = {.array = v};
	ck("SETALL", semctl(id, 0, SETALL, u));
	show(id, 3);
	ck("semop -1 on sem 2", op(id, 2, -1, 0));
	printf("GETPID is me: %d\n", semctl(id, 2, GETPID) == getpid());
	struct sembuf two[2] = {{0, -1, 0}, {1, 2, 0}};
	ck("semop two ops", semop(id, two, 2));
	show(id, 3);
	/* All or nothing: the second op would block, so the first is undone. */
	struct sembuf undo_first[2] = {{0, 1, 0}, {2, -5, IPC_NOWAIT}};
	ck("semop partly blocking, IPC_NOWAIT", semop(id, undo_first, 2));
	show(id, 3);
	ck("wait for zero, IPC_NOWAIT", op(id, 1, 0, IPC_NOWAIT));
	setval(id, 1, 0);
	ck("wait for zero on zero", op(id, 1, 0, 0));
	struct timespec ts = {0, 20 * 1000 * 1000};
	struct sembuf dec = {1, -1, 0};
	ck("semtimedop times out", semtimedop(id, &dec, 1, &ts));
	struct timespec bad = {0, 1000000000};
	ck("semtimedop bad timeout", semtimedop(id, &dec, 1, &bad));
	ck("semop sem out of range", op(id, 3, 1, 0));
	ck("semop nsops 0", semop(id, two, 0));
	static struct sembuf many[501];
	ck("semop 501 ops", semop(id, many, 501));
	setval(id, 0, 1);
	ck("semop past SEMVMX", op(id, 0, 32767, 0));
	ck("SETVAL 32768", semctl(id, 0, SETVAL, (union semun){.val = 32768}));
	ck("SETVAL -1", semctl(id, 0, SETVAL, (union semun){.val = -1}));
	ck("GETVAL bad semnum", semctl(id, 3, GETVAL));
	ck("GETVAL negative semnum", semctl(id, -1, GETVAL));
	ck("semop bad address", semop(id, (void *)8, 1));
	ck("GETALL bad address", semctl(id, 0, GETALL, (union semun){.array = (void *)8}));
	ck("bad cmd", semctl(id, 0, 1234));
	struct semid_ds d;
	u.buf = &d;
	ck("IPC_STAT", semctl(id, 0, IPC_STAT, u));
	printf("nsems %lu mode %o uid %u cuid %u otime-set %d ctime-set %d\n",
	       (unsigned long)d.sem_nsems, (unsigned)d.sem_perm.mode, (unsigned)d.sem_perm.uid,
	       (unsigned)d.sem_perm.cuid, d.sem_otime != 0, d.sem_ctime != 0);
	d.sem_perm.mode = 0640;
	d.sem_perm.gid = 77;
	ck("IPC_SET", semctl(id, 0, IPC_SET, u));
	semctl(id, 0, IPC_STAT, u);
	printf("mode %o gid %u\n", (unsigned)d.sem_perm.mode, (unsigned)d.sem_perm.gid);
	ck("IPC_RMID", semctl(id, 0, IPC_RMID));
	ck("GETVAL removed", semctl(id, 0, GETVAL));
	ck("semop removed", op(id, 0, 1, 0));
}

static void sec_keys(void)
{
	key_t k = ukey(1);
	ck("semget no IPC_CREAT", semget(k, 2, 0600));
	int id = semget(k, 2, IPC_CREAT | 0600);
	ok("semget IPC_CREAT", id);
	printf("same id: %d\n", semget(k, 2, IPC_CREAT | 0600) == id);
	printf("same id, fewer sems: %d\n", semget(k, 1, 0) == id);
	printf("same id, nsems 0: %d\n", semget(k, 0, 0) == id);
	ck("more sems than the set", semget(k, 3, 0));
	ck("IPC_EXCL", semget(k, 2, IPC_CREAT | IPC_EXCL | 0600));
	ck("nsems 0 new", semget(IPC_PRIVATE, 0, 0600));
	ck("nsems negative", semget(IPC_PRIVATE, -1, 0600));
	ck("nsems past SEMMSL", semget(IPC_PRIVATE, 32001, 0600));
	semctl(id, 0, IPC_RMID);
	ck("semget after IPC_RMID", semget(k, 2, 0600));
}

static void sec_block(void)
{
	int id = semget(IPC_PRIVATE, 2, 0600);
	pid_t pid = fork();
	if (pid == 0) {
		wait_count(id, 0, 0, 1);
		printf("child: ncnt %d zcnt %d\n", semctl(id, 0, GETNCNT), semctl(id, 0, GETZCNT));
		if (op(id, 0, 2, 0) != 0)
			printf("child: semop +2: -1 %s\n", ipc_errname(errno));
		_exit(0);
	}
	ck("parent: semop -1 blocks, then succeeds", op(id, 0, -1, 0));
	reap(pid, "block");
	printf("value after: %d, ncnt %d\n", getval(id, 0), semctl(id, 0, GETNCNT));
	/* Waiting for zero. */
	setval(id, 1, 2);
	pid = fork();
	if (pid == 0) {
		wait_count(id, 1, 1, 1);
		printf("child: zcnt %d\n", semctl(id, 1, GETZCNT));
		op(id, 1, -1, 0);
		printf("child: zcnt still %d at 1\n", semctl(id, 1, GETZCNT));
		op(id, 1, -1, 0);
		_exit(0);
	}
	ck("parent: wait for zero", op(id, 1, 0, 0));
	reap(pid, "zero");
	/* Two waiters, woken by one increment of 2. */
	setval(id, 0, 0);
	pid_t kids[2];
	for (int i = 0; i < 2; i++) {
		kids[i] = fork();
		if (kids[i] == 0) {
			if (op(id, 0, -1, 0) != 0)
				printf("waiter: -1 %s\n", ipc_errname(errno));
			_exit(0);
		}
	}
	wait_count(id, 0, 0, 2);
	printf("two waiters: ncnt %d\n", semctl(id, 0, GETNCNT));
	op(id, 0, 2, 0);
	for (int i = 0; i < 2; i++)
		reap(kids[i], "waiter");
	printf("both woken, value %d\n", getval(id, 0));
	semctl(id, 0, IPC_RMID);
}

static void on_usr1(int s)
{
	(void)s;
}

static void sec_signals(void)
{
	int id = semget(IPC_PRIVATE, 1, 0600);
	struct sigaction sa = {.sa_handler = on_usr1, .sa_flags = SA_RESTART};
	sigaction(SIGUSR1, &sa, NULL);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid == 0) {
		wait_count(id, 0, 0, 1);
		kill(parent, SIGUSR1);
		_exit(0);
	}
	ck("semop interrupted (SA_RESTART)", op(id, 0, -1, 0));
	reap(pid, "signal");
	printf("ncnt after EINTR: %d\n", semctl(id, 0, GETNCNT));
	/* Removal under a waiter: EIDRM. */
	pid = fork();
	if (pid == 0) {
		wait_count(id, 0, 0, 1);
		semctl(id, 0, IPC_RMID);
		_exit(0);
	}
	ck("semop while the set is removed", op(id, 0, -1, 0));
	reap(pid, "eidrm");
	signal(SIGUSR1, SIG_DFL);
}

static void sec_undo(void)
{
	int id = semget(IPC_PRIVATE, 2, 0600);
	setval(id, 0, 3);
	pid_t pid = fork();
	if (pid == 0) {
		op(id, 0, 2, SEM_UNDO);
		op(id, 0, -4, SEM_UNDO);
		op(id, 1, 5, SEM_UNDO);
		printf("child before exit: %d %d\n", getval(id, 0), getval(id, 1));
		_exit(0);
	}
	reap(pid, "undo");
	printf("after exit: %d %d\n", getval(id, 0), getval(id, 1));
	/* SETVAL forgets the adjustment. */
	pid = fork();
	if (pid == 0) {
		op(id, 1, 4, SEM_UNDO);
		setval(id, 1, 10);
		_exit(0);
	}
	reap(pid, "undo setval");
	printf("after SETVAL and exit: %d\n", getval(id, 1));
	/* Undo clamps at zero: the child raised it, someone else took it. */
	pid = fork();
	if (pid == 0) {
		op(id, 0, 3, SEM_UNDO);
		pid_t g = fork();
		if (g == 0) {
			op(id, 0, -5, 0);
			_exit(0);
		}
		waitpid(g, NULL, 0);
		printf("child before exit: %d\n", getval(id, 0));
		_exit(0);
	}
	reap(pid, "undo clamp");
	printf("clamped at: %d\n", getval(id, 0));
	/* A forked child does not inherit the parent's adjustments. */
	op(id, 1, 1, SEM_UNDO);
	pid = fork();
	if (pid == 0)
		_exit(0);
	reap(pid, "undo fork");
	printf("parent's adjustment kept after the child's exit: %d\n", getval(id, 1));
	semctl(id, 0, IPC_RMID);
}

static void sec_info(void)
{
	struct seminfo si;
	union semun u = {.__buf = &si};
	ok("IPC_INFO", semctl(0, 0, IPC_INFO, u));
	printf("semmap %d semmni %d semmns %d semmnu %d semmsl %d semopm %d semume %d semusz %d semvmx %d semaem %d\n",
	       si.semmap, si.semmni, si.semmns, si.semmnu, si.semmsl, si.semopm, si.semume,
	       si.semusz, si.semvmx, si.semaem);
	int id = semget(IPC_PRIVATE, 4, 0600);
	int r = semctl(0, 0, SEM_INFO, u);
	printf("SEM_INFO: max index covers ours %d, sets>=1 %d, sems>=4 %d\n", r >= (id & 0x7fff),
	       si.semusz >= 1, si.semaem >= 4);
	struct semid_ds d;
	u.buf = &d;
	printf("SEM_STAT by index gives the id: %d\n", semctl(id & 0x7fff, 0, SEM_STAT, u) == id);
	printf("nsems %lu\n", (unsigned long)d.sem_nsems);
	semctl(id, 0, IPC_RMID);
}

static void sec_perm(void)
{
	key_t k = ukey(2);
	int id = semget(k, 1, IPC_CREAT | 0600);
	pid_t pid = fork();
	if (pid == 0) {
		drop_privs();
		ck("user semget rw", semget(k, 1, 0600));
		ck("user semop", op(id, 0, 1, 0));
		ck("user GETVAL", semctl(id, 0, GETVAL));
		ck("user SETVAL", semctl(id, 0, SETVAL, (union semun){.val = 1}));
		ck("user IPC_RMID", semctl(id, 0, IPC_RMID));
		_exit(0);
	}
	reap(pid, "perm");
	struct semid_ds d;
	union semun u = {.buf = &d};
	semctl(id, 0, IPC_STAT, u);
	d.sem_perm.mode = 0604;
	semctl(id, 0, IPC_SET, u);
	pid = fork();
	if (pid == 0) {
		drop_privs();
		ck("user GETVAL of 0604", semctl(id, 0, GETVAL));
		ck("user wait-for-zero of 0604", op(id, 0, 0, IPC_NOWAIT));
		ck("user semop +1 of 0604", op(id, 0, 1, 0));
		_exit(0);
	}
	reap(pid, "perm 0604");
	semctl(id, 0, IPC_RMID);
}

int main(int argc, char **argv)
{
	static const struct section s[] = {
		{"basic", sec_basic}, {"keys", sec_keys}, {"block", sec_block},
		{"signals", sec_signals}, {"undo", sec_undo}, {"info", sec_info},
		{"perm", sec_perm},   {NULL, NULL},
	};
	return run_sections(s, argc, argv);
}
