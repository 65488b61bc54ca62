/* ipc_msg: System V message queues. msgget (keys, IPC_EXCL), msgsnd and
 * msgrcv (msgtyp 0, > 0, < 0, MSG_EXCEPT, MSG_NOERROR, E2BIG, IPC_NOWAIT
 * and ENOMSG), receivers and senders blocked in one process and released by
 * another, EIDRM when the queue is removed under a waiter, EINTR from a
 * handler, msgctl (IPC_STAT, IPC_SET with msg_qbytes, IPC_RMID, IPC_INFO,
 * MSG_INFO, MSG_STAT) and the permission checks after dropping root.
 * Arguments name the sections (all when none). */
#include "ipc_common.h"
#include <sys/ipc.h>
#include <sys/msg.h>

struct m {
	long mtype;
	char mtext[64];
};

static int snd(int id, long type, const char *text, int flg)
{
	struct m b = {.mtype = type};
	strcpy(b.mtext, text);
	return msgsnd(id, &b, strlen(text), flg);
}

static void rcv(const char *what, int id, long type, size_t sz, int flg)
{
	struct m b;
	memset(&b, 0, sizeof b);
	long r = msgrcv(id, &b, sz, type, flg);
	if (r < 0)
		printf("%s: -1 %s\n", what, ipc_errname(errno));
	else
		printf("%s: %ld type %ld '%.*s'\n", what, r, b.mtype, (int)r, b.mtext);
	fflush(stdout);
}

static struct msqid_ds st(int id)
{
	struct msqid_ds d;
	memset(&d, 0, sizeof d);
	if (msgctl(id, IPC_STAT, &d) != 0)
		printf("IPC_STAT: -1 %s\n", ipc_errname(errno));
	return d;
}

static void sec_basic(void)
{
	int id = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
	ok("msgget", id);
	struct msqid_ds d = st(id);
	printf("qnum %lu cbytes %lu qbytes %lu lspid %d lrpid %d stime %d mode %o\n",
	       (unsigned long)d.msg_qnum, (unsigned long)d.__msg_cbytes, (unsigned long)d.msg_qbytes,
	       (int)d.msg_lspid, (int)d.msg_lrpid, (int)d.msg_stime, (unsigned)d.msg_perm.mode);
	ck("send 3 c", snd(id, 3, "three", 0));
	ck("send 1 a", snd(id, 1, "one-a", 0));
	ck("send 2 b", snd(id, 2, "two", 0));
	ck("send 1 d", snd(id, 1, "one-b", 0));
	ck("send 5 e", snd(id, 5, "five", 0));
	ck("send empty 4", snd(id, 4, "", 0));
	d = st(id);
	printf("qnum %lu cbytes %lu lspid-is-me %d stime-set %d\n", (unsigned long)d.msg_qnum,
	       (unsigned long)d.__msg_cbytes, d.msg_lspid == getpid(), d.msg_stime != 0);
	rcv("type 0", id, 0, 64, 0);
	rcv("type 1", id, 1, 64, 0);
	rcv("type -4 (lowest <= 4)", id, -4, 64, 0);
	rcv("type 4 MSG_EXCEPT", id, 4, 64, MSG_EXCEPT);
	rcv("small buffer", id, 5, 2, 0);
	rcv("small buffer MSG_NOERROR", id, 5, 2, MSG_NOERROR);
	rcv("empty message", id, 4, 64, 0);
	snd(id, 9, "nine", 0);
	rcv("type -100", id, -100, 64, IPC_NOWAIT);
	rcv("none left IPC_NOWAIT", id, 0, 64, IPC_NOWAIT);
	rcv("no type 9", id, 9, 64, IPC_NOWAIT);
	d = st(id);
	printf("qnum %lu cbytes %lu lrpid-is-me %d rtime-set %d\n", (unsigned long)d.msg_qnum,
	       (unsigned long)d.__msg_cbytes, d.msg_lrpid == getpid(), d.msg_rtime != 0);
	ck("mtype 0", snd(id, 0, "x", 0));
	ck("mtype -1", snd(id, -1, "x", 0));
	struct m b = {.mtype = 1};
	ck("size past MSGMAX", msgsnd(id, &b, 8193, 0));
	ck("send bad address", msgsnd(id, (void *)8, 4, 0));
	ck("msgrcv negative size", msgrcv(id, &b, (size_t)-1, 0, IPC_NOWAIT));
	ck("MSG_COPY without IPC_NOWAIT", msgrcv(id, &b, 64, 0, 040000));
	ck("msgsnd bad id", msgsnd(-1, &b, 1, 0));
	ck("msgctl bad cmd", msgctl(id, 1234, NULL));
	ck("IPC_RMID", msgctl(id, IPC_RMID, NULL));
	ck("send removed", snd(id, 1, "x", 0));
	rcv("receive removed", id, 0, 64, 0);
}

static void sec_keys(void)
{
	key_t k = ukey(1);
	ck("msgget no IPC_CREAT", msgget(k, 0600));
	int id = msgget(k, IPC_CREAT | 0600);
	ok("msgget IPC_CREAT", id);
	printf("same id: %d\n", msgget(k, 0) == id);
	ck("IPC_EXCL", msgget(k, IPC_CREAT | IPC_EXCL | 0600));
	msgctl(id, IPC_RMID, NULL);
	ck("after IPC_RMID", msgget(k, 0));
}

static void sec_block(void)
{
	int id = msgget(IPC_PRIVATE, 0600);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid == 0) {
		wait_sleeping(parent);
		snd(id, 7, "wake", 0);
		_exit(0);
	}
	rcv("blocked receive", id, 7, 64, 0);
	reap(pid, "block");
	/* A full queue blocks the sender. */
	struct msqid_ds d = st(id);
	d.msg_qbytes = 8;
	ck("IPC_SET qbytes 8", msgctl(id, IPC_SET, &d));
	printf("qbytes %lu\n", (unsigned long)st(id).msg_qbytes);
	ck("fill", snd(id, 1, "12345678", 0));
	ck("full, IPC_NOWAIT", snd(id, 1, "x", IPC_NOWAIT));
	pid = fork();
	if (pid == 0) {
		if (snd(id, 2, "late", 0) != 0)
			printf("child send: -1 %s\n", ipc_errname(errno));
		_exit(0);
	}
	wait_sleeping(pid);
	printf("sender waits: qnum %lu\n", (unsigned long)st(id).msg_qnum);
	rcv("make room", id, 1, 64, 0);
	reap(pid, "sender");
	rcv("the blocked sender's message", id, 0, 64, 0);
	/* qbytes above MSGMNB needs CAP_SYS_RESOURCE. */
	d = st(id);
	d.msg_perm.uid = 1000;
	ck("IPC_SET uid 1000", msgctl(id, IPC_SET, &d));
	pid = fork();
	if (pid == 0) {
		drop_privs();
		d.msg_qbytes = 200000;
		ck("owner IPC_SET qbytes past MSGMNB", msgctl(id, IPC_SET, &d));
		d.msg_qbytes = 100;
		ck("owner IPC_SET qbytes 100", msgctl(id, IPC_SET, &d));
		_exit(0);
	}
	reap(pid, "qbytes");
	printf("qbytes %lu\n", (unsigned long)st(id).msg_qbytes);
	msgctl(id, IPC_RMID, NULL);
}

static void on_usr1(int s)
{
	(void)s;
}

static void sec_signals(void)
{
	int id = msgget(IPC_PRIVATE, 0600);
	struct sigaction sa = {.sa_handler = on_usr1, .sa_flags = SA_RESTART};
	sigaction(SIGUSR1, &sa, NULL);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid == 0) {
		wait_sleeping(parent);
		kill(parent, SIGUSR1);
		_exit(0);
	}
	rcv("receive interrupted (SA_RESTART)", id, 0, 64, 0);
	reap(pid, "signal");
	pid = fork();
	if (pid == 0) {
		wait_sleeping(parent);
		msgctl(id, IPC_RMID, NULL);
		_exit(0);
	}
	rcv("receive while the queue is removed", id, 0, 64, 0);
	reap(pid, "eidrm");
	signal(SIGUSR1, SIG_DFL);
}

static void sec_info(void)
{
	struct msginfo mi;
	ok("IPC_INFO", msgctl(0, IPC_INFO, (struct msqid_ds *)&mi));
	printf("msgpool %d msgmap %d msgmax %d msgmnb %d msgmni %d msgssz %d msgtql %d msgseg %d\n",
	       mi.msgpool, mi.msgmap, mi.msgmax, mi.msgmnb, mi.msgmni, mi.msgssz, mi.msgtql,
	       mi.msgseg);
	int id = msgget(IPC_PRIVATE, 0600);
	snd(id, 1, "abc", 0);
	int r = msgctl(0, MSG_INFO, (struct msqid_ds *)&mi);
	printf("MSG_INFO: max index covers ours %d, queues>=1 %d, msgs>=1 %d, bytes>=3 %d\n",
	       r >= (id & 0x7fff), mi.msgpool >= 1, mi.msgmap >= 1, mi.msgtql >= 3);
	struct msqid_ds d;
	printf("MSG_STAT by index gives the id: %d\n", msgctl(id & 0x7fff, MSG_STAT, &d) == id);
	printf("qnum %lu\n", (unsigned long)d.msg_qnum);
	msgctl(id, IPC_RMID, NULL);
}

static void sec_perm(void)
{
	key_t k = ukey(2);
	int id = msgget(k, IPC_CREAT | 0600);
	pid_t pid = fork();
	if (pid == 0) {
		drop_privs();
		ck("user msgget rw", msgget(k, 0600));
		ck("user send", snd(id, 1, "x", IPC_NOWAIT));
		rcv("user receive", id, 0, 64, IPC_NOWAIT);
		struct msqid_ds d;
		ck("user IPC_STAT", msgctl(id, IPC_STAT, &d));
		ck("user IPC_RMID", msgctl(id, IPC_RMID, NULL));
		_exit(0);
	}
	reap(pid, "perm");
	struct msqid_ds d = st(id);
	d.msg_perm.mode = 0602;
	msgctl(id, IPC_SET, &d);
	pid = fork();
	if (pid == 0) {
		drop_privs();
		ck("user send to 0602", snd(id, 1, "x", IPC_NOWAIT));
		rcv("user receive from 0602", id, 0, 64, IPC_NOWAIT);
		_exit(0);
	}
	reap(pid, "perm 0602");
	printf("qnum %lu\n", (unsigned long)st(id).msg_qnum);
	msgctl(id, IPC_RMID, NULL);
}

int main(int argc, char **argv)
{
	static const struct section s[] = {
		{"basic", sec_basic}, {"keys", sec_keys}, {"block", sec_block},
		{"signals", sec_signals}, {"info", sec_info}, {"perm", sec_perm},
		{NULL, NULL},
	};
	return run_sections(s, argc, argv);
}
