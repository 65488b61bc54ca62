/* ipc_thr: System V and POSIX IPC between the threads of one process. A
 * thread blocked in semop, msgrcv or mq_receive is released by another
 * thread; SEM_UNDO adjustments are the process's (CLONE_SYSVSEM): a thread
 * that exits leaves them in place, and they are applied when the process
 * exits; a segment attached by one thread is seen by the others. Arguments
 * name the sections (all when none). */
#include "ipc_common.h"
#include <fcntl.h>
#include <mqueue.h>
#include <pthread.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>

static int semid, msqid;
static mqd_t mq;

static int op(int num, int o, int flg)
{
	struct sembuf b = {.sem_num = num, .sem_op = o, .sem_flg = flg};
	return semop(semid, &b, 1);
}

static void *sem_waiter(void *arg)
{
	(void)arg;
	long r = op(0, -1, 0);
	return (void *)r;
}

static void wait_ncnt(int n)
{
	for (int i = 0; i < 20000 && semctl(semid, 0, GETNCNT) != n; i++)
		usleep(1000);
}

static void sec_sem(void)
{
	semid = semget(IPC_PRIVATE, 2, 0600);
	pthread_t t;
	pthread_create(&t, NULL, sem_waiter, NULL);
	wait_ncnt(1);
	printf("a thread waits: ncnt %d\n", semctl(semid, 0, GETNCNT));
	ck("main thread posts", op(0, 1, 0));
	void *r;
	pthread_join(t, &r);
	printf("thread's semop: %ld, value %d\n", (long)r, semctl(semid, 0, GETVAL));
	semctl(semid, 0, IPC_RMID);
}

static void *undo_thread(void *arg)
{
	(void)arg;
	op(1, 2, SEM_UNDO);
	return NULL;
}

static void sec_undo(void)
{
	semid = semget(IPC_PRIVATE, 2, 0600);
	pid_t pid = fork();
	if (pid == 0) {
		pthread_t t;
		pthread_create(&t, NULL, undo_thread, NULL);
		pthread_join(t, NULL);
		printf("child: after its thread exited: %d\n", semctl(semid, 1, GETVAL));
		op(1, 3, SEM_UNDO);
		exit(0);
	}
	reap(pid, "undo");
	printf("after the process exited: %d\n", semctl(semid, 1, GETVAL));
	semctl(semid, 0, IPC_RMID);
}

static void *msg_receiver(void *arg)
{
	(void)arg;
	struct {
		long t;
		char x[16];
	} m;
	long r = msgrcv(msqid, &m, sizeof m.x, 3, 0);
	if (r >= 0)
		printf("thread received %ld bytes of type %ld: %.*s\n", r, m.t, (int)r, m.x);
	else
		printf("thread msgrcv: -1 %s\n", ipc_errname(errno));
	return NULL;
}

static void sec_msg(void)
{
	msqid = msgget(IPC_PRIVATE, 0600);
	pthread_t t;
	pthread_create(&t, NULL, msg_receiver, NULL);
	struct {
		long t;
		char x[16];
	} m = {2, "other"};
	msgsnd(msqid, &m, 5, 0);
	m.t = 3;
	strcpy(m.x, "for you");
	msgsnd(msqid, &m, 7, 0);
	pthread_join(t, NULL);
	struct msqid_ds d;
	msgctl(msqid, IPC_STAT, &d);
	printf("left: %lu\n", (unsigned long)d.msg_qnum);
	msgctl(msqid, IPC_RMID, NULL);
}

static void *mq_receiver(void *arg)
{
	(void)arg;
	char buf[64];
	unsigned prio;
	ssize_t r = mq_receive(mq, buf, sizeof buf, &prio);
	if (r >= 0)
		printf("thread received prio %u: %.*s\n", prio, (int)r, buf);
	else
		printf("thread mq_receive: -1 %s\n", ipc_errname(errno));
	return NULL;
}

static void sec_mq(void)
{
	char name[64];
	snprintf(name, sizeof name, "/umbra-ipc-thr-%d", (int)getpid());
	struct mq_attr a = {.mq_maxmsg = 2, .mq_msgsize = 64};
	mq = mq_open(name, O_CREAT | O_EXCL | O_RDWR, 0600, &a);
	pthread_t t;
	pthread_create(&t, NULL, mq_receiver, NULL);
	if (mq_send(mq, "hello", 5, 4) != 0)
		printf("send: -1 %s\n", ipc_errname(errno));
	pthread_join(t, NULL);
	mq_close(mq);
	mq_unlink(name);
}

static volatile char *seg;

static void *shm_thread(void *arg)
{
	int id = *(int *)arg;
	seg = shmat(id, NULL, 0);
	seg[0] = 'T';
	return NULL;
}

static void sec_shm(void)
{
	int id = shmget(IPC_PRIVATE, 4096, 0600);
	pthread_t t;
	pthread_create(&t, NULL, shm_thread, &id);
	pthread_join(t, NULL);
	printf("main thread reads the thread's attach: %c\n", seg[0]);
	struct shmid_ds d;
	shmctl(id, IPC_STAT, &d);
	printf("nattch %lu\n", (unsigned long)d.shm_nattch);
	shmdt((void *)seg);
	shmctl(id, IPC_RMID, NULL);
}

int main(int argc, char **argv)
{
	static const struct section s[] = {
		{"sem", sec_sem}, {"undo", sec_undo}, {"msg", sec_msg},
		{"mq", sec_mq},   {"shm", sec_shm},   {NULL, NULL},
	};
	return run_sections(s, argc, argv);
}
