/* ipc_mq: POSIX message queues. mq_open (O_CREAT, O_EXCL, attributes and
 * their limits, names), mq_unlink, mq_send and mq_receive by priority,
 * O_NONBLOCK (EAGAIN), mq_timedsend and mq_timedreceive timeouts
 * (ETIMEDOUT, EINVAL), EMSGSIZE, a receiver blocked in one process and
 * released by another, a signal handler's EINTR, mq_getattr and mq_setattr,
 * mq_notify with SIGEV_SIGNAL and SIGEV_NONE (EBUSY, one-shot), reading the
 * queue descriptor, and the permission checks after dropping root. Names
 * carry the pid, so parallel native runs do not meet. Arguments name the
 * sections (all when none). */
#include "ipc_common.h"
#include <fcntl.h>
#include <mqueue.h>
#include <time.h>

static char names[8][64];

static const char *qname(int n)
{
	snprintf(names[n], sizeof names[n], "/umbra-ipc-mq-%d-%d", (int)getpid(), n);
	return names[n];
}

static mqd_t mk(const char *name, long maxmsg, long msgsize)
{
	struct mq_attr a = {.mq_maxmsg = maxmsg, .mq_msgsize = msgsize};
	mqd_t q = mq_open(name, O_CREAT | O_EXCL | O_RDWR, 0600, &a);
	if (q == (mqd_t)-1)
		printf("mq_open %ld/%ld: -1 %s\n", maxmsg, msgsize, ipc_errname(errno));
	return q;
}

static void attr(const char *what, mqd_t q)
{
	struct mq_attr a;
	if (mq_getattr(q, &a) != 0) {
		printf("%s: mq_getattr -1 %s\n", what, ipc_errname(errno));
		return;
	}
	printf("%s: flags %s maxmsg %ld msgsize %ld curmsgs %ld\n", what,
	       a.mq_flags & O_NONBLOCK ? "O_NONBLOCK" : "0", a.mq_maxmsg, a.mq_msgsize,
	       a.mq_curmsgs);
}

static void recv1(const char *what, mqd_t q, size_t len)
{
	char buf[256];
	unsigned prio = 99;
	ssize_t r = mq_receive(q, buf, len, &prio);
	if (r < 0)
		printf("%s: -1 %s\n", what, ipc_errname(errno));
	else
		printf("%s: %zd prio %u '%.*s'\n", what, r, prio, (int)r, buf);
	fflush(stdout);
}

static struct timespec in_ms(long ms)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	t.tv_sec += ms / 1000;
	t.tv_nsec += (ms % 1000) * 1000000;
	if (t.tv_nsec >= 1000000000) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000;
	}
	return t;
}

static void sec_basic(void)
{
	const char *n = qname(0);
	mqd_t q = mk(n, 4, 64);
	attr("new", q);
	ck("send prio 1", mq_send(q, "low", 3, 1));
	ck("send prio 5", mq_send(q, "high-a", 6, 5));
	ck("send prio 3", mq_send(q, "mid", 3, 3));
	ck("send prio 5 again", mq_send(q, "high-b", 6, 5));
	attr("full", q);
	struct timespec t = in_ms(30);
	ck("timedsend on a full queue", mq_timedsend(q, "x", 1, 0, &t));
	recv1("receive", q, 64);
	recv1("receive", q, 64);
	recv1("receive", q, 64);
	recv1("receive", q, 64);
	t = in_ms(30);
	char buf[64];
	ck("timedreceive on an empty queue", mq_timedreceive(q, buf, 64, NULL, &t));
	struct timespec bad = {0, 2000000000};
	ck("timedreceive bad timeout", mq_timedreceive(q, buf, 64, NULL, &bad));
	ck("timedsend bad timeout (room left)", mq_timedsend(q, "x", 1, 0, &bad));
	struct timespec past = {1, 0};
	ck("timedsend with a past deadline and room", mq_timedsend(q, "p", 1, 0, &past));
	recv1("and it arrived", q, 64);
	ck("send past msgsize", mq_send(q, buf, 65, 0));
	ck("receive buffer under msgsize", mq_receive(q, buf, 63, NULL));
	ck("prio MQ_PRIO_MAX", mq_send(q, "x", 1, 32768));
	ck("prio MQ_PRIO_MAX-1", mq_send(q, "top", 3, 32767));
	recv1("receive", q, 64);
	ck("empty message", mq_send(q, "", 0, 2));
	recv1("receive", q, 64);
	ck("send bad address", mq_send(q, (void *)8, 4, 0));
	ck("mq_send bad fd", mq_send(-1, "x", 1, 0));
	ck("mq_send on stdout", mq_send(1, "x", 1, 0));
	ck("close", mq_close(q));
	ck("mq_unlink", mq_unlink(n));
	ck("mq_unlink again", mq_unlink(n));
}

static void sec_open(void)
{
	const char *n = qname(1);
	ck("open missing", mq_open(n, O_RDONLY));
	mqd_t q = mq_open(n, O_CREAT | O_RDWR, 0640, NULL);
	ok("create with default attributes", q);
	attr("default", q);
	ok("open again with O_CREAT", mq_open(n, O_CREAT | O_RDWR, 0600, NULL));
	ck("O_CREAT|O_EXCL existing", mq_open(n, O_CREAT | O_EXCL | O_RDWR, 0600, NULL));
	mqd_t r = mq_open(n, O_RDONLY);
	ok("open read-only", r);
	ck("send on a read-only descriptor", mq_send(r, "x", 1, 0));
	mqd_t w = mq_open(n, O_WRONLY | O_NONBLOCK);
	char buf[8192];
	ck("receive on a write-only descriptor", mq_receive(w, buf, sizeof buf, NULL));
	attr("write-only, O_NONBLOCK", w);
	ck("send", mq_send(w, "via w", 5, 0));
	attr("seen through the read-only one", r);
	recv1("receive", r, sizeof buf);
	ck("mq_unlink while open", mq_unlink(n));
	ck("open after unlink", mq_open(n, O_RDONLY));
	ck("still usable after unlink", mq_send(q, "z", 1, 0));
	recv1("receive", q, sizeof buf);
	const char *n2 = qname(2);
	struct mq_attr a = {.mq_maxmsg = 0, .mq_msgsize = 8};
	ck("maxmsg 0", mq_open(n2, O_CREAT | O_RDWR, 0600, &a));
	a.mq_maxmsg = 2;
	a.mq_msgsize = 0;
	ck("msgsize 0", mq_open(n2, O_CREAT | O_RDWR, 0600, &a));
	a.mq_msgsize = -1;
	ck("msgsize -1", mq_open(n2, O_CREAT | O_RDWR, 0600, &a));
	ck("name with a slash inside", mq_open("/umbra-ipc/x", O_CREAT | O_RDWR, 0600, NULL));
	char longname[300];
	memset(longname, 'a', sizeof longname);
	longname[0] = '/';
	longname[299] = 0;
	ck("name too long", mq_open(longname, O_CREAT | O_RDWR, 0600, NULL));
	ck("O_RDWR|O_WRONLY", mq_open(n2, O_CREAT | 3, 0600, NULL) >= 0 ? 0 : -1);
	mq_unlink(n2);
	mq_close(q);
	mq_close(r);
	mq_close(w);
}

static void sec_block(void)
{
	const char *n = qname(3);
	mqd_t q = mk(n, 2, 32);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid == 0) {
		wait_sleeping(parent);
		mq_send(q, "wake", 4, 7);
		_exit(0);
	}
	recv1("blocked receive", q, 32);
	reap(pid, "receiver");
	mq_send(q, "1", 1, 0);
	mq_send(q, "2", 1, 0);
	pid = fork();
	if (pid == 0) {
		if (mq_send(q, "3", 1, 9) != 0)
			printf("child send: -1 %s\n", ipc_errname(errno));
		_exit(0);
	}
	wait_sleeping(pid);
	attr("sender waits", q);
	recv1("make room", q, 32);
	reap(pid, "sender");
	recv1("the blocked sender's message first", q, 32);
	recv1("then", q, 32);
	/* O_NONBLOCK through mq_setattr. */
	struct mq_attr a = {.mq_flags = O_NONBLOCK}, old;
	ck("mq_setattr O_NONBLOCK", mq_setattr(q, &a, &old));
	printf("old flags %s\n", old.mq_flags & O_NONBLOCK ? "O_NONBLOCK" : "0");
	attr("now", q);
	recv1("empty, O_NONBLOCK", q, 32);
	mq_send(q, "a", 1, 0);
	mq_send(q, "b", 1, 0);
	ck("full, O_NONBLOCK", mq_send(q, "c", 1, 0));
	a.mq_flags = 0;
	mq_setattr(q, &a, NULL);
	attr("back", q);
	a.mq_flags = 1;
	ck("mq_setattr bad flags", mq_setattr(q, &a, NULL));
	mq_close(q);
	mq_unlink(n);
}

static volatile sig_atomic_t got_sig, got_code, got_val, got_pid_ok;

static void on_notify(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	got_sig = sig;
	got_code = si->si_code;
	got_val = si->si_value.sival_int;
	got_pid_ok = si->si_pid == getpid();
}

static void on_usr2(int s)
{
	(void)s;
}

static void sec_signals(void)
{
	const char *n = qname(4);
	mqd_t q = mk(n, 2, 32);
	struct sigaction sa = {.sa_handler = on_usr2, .sa_flags = SA_RESTART};
	sigaction(SIGUSR2, &sa, NULL);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid == 0) {
		wait_sleeping(parent);
		kill(parent, SIGUSR2);
		wait_sleeping(parent);
		mq_send(q, "after", 5, 1);
		_exit(0);
	}
	recv1("receive across a SA_RESTART handler", q, 32);
	reap(pid, "restart");
	sa.sa_flags = 0;
	sigaction(SIGUSR2, &sa, NULL);
	pid = fork();
	if (pid == 0) {
		wait_sleeping(parent);
		kill(parent, SIGUSR2);
		_exit(0);
	}
	recv1("receive across a handler without SA_RESTART", q, 32);
	reap(pid, "eintr");
	signal(SIGUSR2, SIG_DFL);
	mq_close(q);
	mq_unlink(n);
}

static void sec_notify(void)
{
	const char *n = qname(5);
	mqd_t q = mk(n, 4, 32);
	struct sigaction sa = {.sa_sigaction = on_notify, .sa_flags = SA_SIGINFO};
	sigaction(SIGUSR1, &sa, NULL);
	struct sigevent ev;
	memset(&ev, 0, sizeof ev);
	ev.sigev_notify = SIGEV_SIGNAL;
	ev.sigev_signo = SIGUSR1;
	ev.sigev_value.sival_int = 42;
	ck("mq_notify SIGEV_SIGNAL", mq_notify(q, &ev));
	pid_t pid = fork();
	if (pid == 0) {
		ck("child mq_notify while registered", mq_notify(q, &ev));
		ck("child mq_notify(NULL) of another's", mq_notify(q, NULL));
		_exit(0);
	}
	reap(pid, "busy");
	ck("send into the empty queue", mq_send(q, "n1", 2, 0));
	printf("signal %d code SI_MESGQ %d value %d pid is the sender %d\n", got_sig,
	       got_code == SI_MESGQ, (int)got_val, (int)got_pid_ok);
	got_sig = 0;
	ck("send again (registration is gone)", mq_send(q, "n2", 2, 0));
	printf("signal %d\n", got_sig);
	ck("register again", mq_notify(q, &ev));
	ck("send into a non-empty queue", mq_send(q, "n3", 2, 0));
	printf("signal %d\n", got_sig);
	ck("unregister", mq_notify(q, NULL));
	ck("unregister again", mq_notify(q, NULL));
	recv1("drain", q, 32);
	recv1("drain", q, 32);
	recv1("drain", q, 32);
	ck("register", mq_notify(q, &ev));
	ck("unregister", mq_notify(q, NULL));
	ck("send", mq_send(q, "n4", 2, 0));
	printf("signal %d\n", got_sig);
	recv1("drain", q, 32);
	ev.sigev_notify = SIGEV_NONE;
	ck("mq_notify SIGEV_NONE", mq_notify(q, &ev));
	ck("SIGEV_NONE then busy", mq_notify(q, &ev));
	ck("send", mq_send(q, "n5", 2, 0));
	ev.sigev_notify = SIGEV_SIGNAL;
	ck("registration consumed by SIGEV_NONE", mq_notify(q, &ev));
	mq_notify(q, NULL);
	ev.sigev_notify = 99;
	ck("bad sigev_notify", mq_notify(q, &ev));
	ev.sigev_notify = SIGEV_SIGNAL;
	ev.sigev_signo = 100;
	ck("bad signal", mq_notify(q, &ev));
	recv1("drain", q, 32);
	ev.sigev_signo = 0;
	ck("signal 0", mq_notify(q, &ev));
	got_sig = 0;
	ck("send with signal 0 registered", mq_send(q, "n6", 2, 0));
	recv1("drain", q, 32);
	printf("signal %d\n", got_sig);
	ev.sigev_signo = SIGUSR1;
	ck("registration consumed: register again", mq_notify(q, &ev));
	mq_notify(q, NULL);
	ck("mq_notify bad fd", mq_notify(-1, NULL));
	/* Reading the descriptor shows the queue's state. */
	ev.sigev_signo = SIGUSR1;
	mq_notify(q, &ev);
	char text[128];
	ssize_t r = read(q, text, sizeof text - 1);
	if (r >= 0) {
		text[r] = 0;
		char *p = strstr(text, "NOTIFY_PID:");
		if (p)
			p[11] = 0;
		printf("read: %s\n", text);
	} else {
		printf("read: -1 %s\n", ipc_errname(errno));
	}
	mq_close(q);
	mq_unlink(n);
	signal(SIGUSR1, SIG_DFL);
}

static void sec_perm(void)
{
	const char *n = qname(6);
	mqd_t q = mk(n, 2, 16);
	pid_t pid = fork();
	if (pid == 0) {
		drop_privs();
		ck("user open 0600", mq_open(n, O_RDONLY));
		ck("user unlink", mq_unlink(n));
		const char *m = qname(7);
		mqd_t u = mq_open(m, O_CREAT | O_RDWR, 0644, NULL);
		ok("user create", u);
		ck("user unlink own", mq_unlink(m));
		_exit(0);
	}
	reap(pid, "perm");
	mq_close(q);
	mq_unlink(n);
	q = mq_open(n, O_CREAT | O_RDWR, 0604, NULL);
	pid = fork();
	if (pid == 0) {
		drop_privs();
		ck("user open 0604 read-only", mq_open(n, O_RDONLY) >= 0 ? 0 : -1);
		ck("user open 0604 write-only", mq_open(n, O_WRONLY));
		_exit(0);
	}
	reap(pid, "perm 0604");
	mq_close(q);
	mq_unlink(n);
}

int main(int argc, char **argv)
{
	static const struct section s[] = {
		{"basic", sec_basic}, {"open", sec_open}, {"block", sec_block},
		{"signals", sec_signals}, {"notify", sec_notify}, {"perm", sec_perm},
		{NULL, NULL},
	};
	return run_sections(s, argc, argv);
}
