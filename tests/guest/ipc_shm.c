/* ipc_shm: System V shared memory. shmget with IPC_PRIVATE and keys
 * (IPC_CREAT, IPC_EXCL, sizes), shmat (kernel-chosen and fixed addresses,
 * SHM_RDONLY, SHM_RND, SHM_REMAP), shmdt, shmctl (IPC_STAT, IPC_SET,
 * IPC_RMID with its deferred destroy, SHM_LOCK, IPC_INFO, SHM_INFO,
 * SHM_STAT), segments shared across fork and dropped at exec and exit, and
 * the permission checks after dropping root. Prints values, never ids or
 * addresses. Arguments name the sections to run (all when none). */
#include "ipc_common.h"
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>

static char *self;

static struct shmid_ds st(int id)
{
	struct shmid_ds d;
	memset(&d, 0, sizeof d);
	if (shmctl(id, IPC_STAT, &d) != 0)
		printf("IPC_STAT: -1 %s\n", ipc_errname(errno));
	return d;
}

static void sec_basic(void)
{
	int id = shmget(IPC_PRIVATE, 10000, IPC_CREAT | 0640);
	ok("shmget private", id);
	struct shmid_ds d = st(id);
	printf("segsz %lu nattch %lu mode %o cpid-is-me %d lpid %d atime %d dtime %d ctime-set %d\n",
	       (unsigned long)d.shm_segsz, (unsigned long)d.shm_nattch,
	       (unsigned)d.shm_perm.mode, d.shm_cpid == getpid(), (int)d.shm_lpid,
	       (int)d.shm_atime, (int)d.shm_dtime, d.shm_ctime != 0);
	printf("uid %u gid %u cuid %u cgid %u key %d\n", (unsigned)d.shm_perm.uid,
	       (unsigned)d.shm_perm.gid, (unsigned)d.shm_perm.cuid, (unsigned)d.shm_perm.cgid,
	       (int)d.shm_perm.__key);
	char *a = shmat(id, NULL, 0);
	ok("shmat", a == (void *)-1 ? -1 : 0);
	printf("fresh bytes zero: %d %d\n", a[0], a[9999]);
	strcpy(a, "hello");
	a[9999] = 'z';
	d = st(id);
	printf("after attach: nattch %lu lpid-is-me %d atime-set %d\n", (unsigned long)d.shm_nattch,
	       d.shm_lpid == getpid(), d.shm_atime != 0);
	char *b = shmat(id, NULL, SHM_RDONLY);
	ok("shmat again", b == (void *)-1 ? -1 : 0);
	printf("second attach reads: %s %c, distinct address %d\n", b, b[9999], a != b);
	a[0] = 'j';
	printf("write through one seen through the other: %c\n", b[0]);
	printf("nattch %lu\n", (unsigned long)st(id).shm_nattch);
	/* The page past the segment's end inside its last page is there too. */
	printf("tail of last page: %d\n", a[12287]);
	ck("shmdt b", shmdt(b));
	ck("shmdt b again", shmdt(b));
	ck("shmdt unaligned", shmdt(a + 1));
	ck("shmdt not shm", shmdt((void *)&d));
	d = st(id);
	printf("nattch %lu dtime-set %d\n", (unsigned long)d.shm_nattch, d.shm_dtime != 0);
	ck("shmdt a", shmdt(a));
	printf("nattch %lu\n", (unsigned long)st(id).shm_nattch);
	ck("IPC_RMID", shmctl(id, IPC_RMID, NULL));
	ck("IPC_STAT removed", shmctl(id, IPC_STAT, &d));
	ck("shmat removed", (long)shmat(id, NULL, 0));
}

static void sec_keys(void)
{
	key_t k = ukey(1);
	ck("shmget no IPC_CREAT", shmget(k, 4096, 0600));
	int id = shmget(k, 8192, IPC_CREAT | 0600);
	ok("shmget IPC_CREAT", id);
	printf("same id again: %d\n", shmget(k, 8192, IPC_CREAT | 0600) == id);
	printf("same id without IPC_CREAT: %d\n", shmget(k, 4096, 0) == id);
	printf("same id with size 0: %d\n", shmget(k, 0, 0) == id);
	ck("IPC_CREAT|IPC_EXCL", shmget(k, 4096, IPC_CREAT | IPC_EXCL | 0600));
	ck("bigger than the segment", shmget(k, 8193, 0));
	printf("key in IPC_STAT matches: %d\n", st(id).shm_perm.__key == k);
	ck("size 0 private", shmget(IPC_PRIVATE, 0, 0600));
	ck("size huge", shmget(IPC_PRIVATE, (size_t)-1, 0600));
	ck("SHM_HUGETLB", shmget(IPC_PRIVATE, 4096, SHM_HUGETLB | 0600));
	ck("IPC_RMID", shmctl(id, IPC_RMID, NULL));
	ck("shmget after IPC_RMID", shmget(k, 4096, 0600));
	ck("shmctl bad id", shmctl(-1, IPC_STAT, NULL));
	struct shminfo si;
	ck("IPC_INFO with id -1", shmctl(-1, IPC_INFO, (struct shmid_ds *)&si));
	ck("shmctl bad cmd", shmctl(0, 1234, NULL));
	ck("shmat bad id", (long)shmat(-1, NULL, 0));
}

static void sec_fork(void)
{
	int id = shmget(IPC_PRIVATE, 4096, 0600);
	volatile int *v = shmat(id, NULL, 0);
	v[0] = 1;
	pid_t pid = fork();
	if (pid == 0) {
		printf("child: reads %d, nattch %lu\n", v[0], (unsigned long)st(id).shm_nattch);
		v[0] = 42;
		v[1] = 43;
		_exit(0);
	}
	reap(pid, "fork");
	printf("parent: reads %d %d, nattch %lu\n", v[0], v[1], (unsigned long)st(id).shm_nattch);
	struct shmid_ds d = st(id);
	printf("the child's exit detached: dtime set %d, lpid is the child %d\n", d.shm_dtime != 0,
	       d.shm_lpid == pid);
	/* A child that execs drops its attach. */
	pid = fork();
	if (pid == 0) {
		char arg[32];
		snprintf(arg, sizeof arg, "%d", id);
		execl(self, self, "exec_child", arg, (char *)NULL);
		_exit(99);
	}
	reap(pid, "exec");
	shmdt((void *)v);
	shmctl(id, IPC_RMID, NULL);
}

static void exec_child(int id)
{
	printf("exec child: nattch %lu\n", (unsigned long)st(id).shm_nattch);
}

static void sec_rmid(void)
{
	key_t k = ukey(2);
	int id = shmget(k, 4096, IPC_CREAT | 0600);
	char *a = shmat(id, NULL, 0);
	strcpy(a, "still here");
	ck("IPC_RMID while attached", shmctl(id, IPC_RMID, NULL));
	struct shmid_ds d = st(id);
	printf("after IPC_RMID: key %d dest %d nattch %lu\n", (int)d.shm_perm.__key,
	       (d.shm_perm.mode & SHM_DEST) != 0, (unsigned long)d.shm_nattch);
	ck("shmget by the old key", shmget(k, 4096, 0600));
	printf("memory still usable: %s\n", a);
	pid_t pid = fork();
	if (pid == 0) {
		/* Attaching a removed segment by id still works (Linux). */
		char *b = shmat(id, NULL, 0);
		ok("child shmat removed segment", b == (void *)-1 ? -1 : 0);
		printf("child reads: %s, nattch %lu\n", b, (unsigned long)st(id).shm_nattch);
		_exit(0);
	}
	reap(pid, "rmid child");
	printf("nattch after the child exited: %lu\n", (unsigned long)st(id).shm_nattch);
	ck("last shmdt", shmdt(a));
	ck("IPC_STAT after the last detach", shmctl(id, IPC_STAT, &d));
	/* A second IPC_RMID on a segment nobody attaches destroys it at once. */
	id = shmget(IPC_PRIVATE, 4096, 0600);
	ck("IPC_RMID unattached", shmctl(id, IPC_RMID, NULL));
	ck("IPC_STAT after", shmctl(id, IPC_STAT, &d));
}

static void segv_handler(int sig)
{
	(void)sig;
	_exit(7);
}

static void sec_flags(void)
{
	int id = shmget(IPC_PRIVATE, 3 * 4096, 0600);
	/* A free, 64 KiB-aligned area to attach at. */
	char *area = mmap(NULL, 1 << 20, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *at = (char *)(((unsigned long)area + 0xffff) & ~0xffffUL);
	munmap(area, 1 << 20);
	char *a = shmat(id, at, 0);
	printf("fixed address honoured: %d\n", a == at);
	a[0] = 'x';
	ck("overlapping without SHM_REMAP", (long)shmat(id, at + 4096, 0));
	char *b = shmat(id, at + 4096, SHM_REMAP);
	printf("SHM_REMAP over it: %d, reads %c\n", b == at + 4096, b[4096]);
	b[4096] = 'y';
	printf("seen by the first attach at its second page: %c\n", a[4096]);
	shmdt(b);
	shmdt(a);
	ck("unaligned without SHM_RND", (long)shmat(id, at + 100, 0));
	char *c = shmat(id, at + 100, SHM_RND);
	printf("SHM_RND rounds down: %d\n", c == at);
	shmdt(c);
	ck("SHM_REMAP without address", (long)shmat(id, NULL, SHM_REMAP));
	/* Writing through a SHM_RDONLY attach faults. */
	pid_t pid = fork();
	if (pid == 0) {
		signal(SIGSEGV, segv_handler);
		char *r = shmat(id, NULL, SHM_RDONLY);
		printf("read-only attach reads %c\n", r[0]);
		r[0] = 'w';
		_exit(0);
	}
	int stt;
	waitpid(pid, &stt, 0);
	printf("write to SHM_RDONLY: exit %d\n", WIFEXITED(stt) ? WEXITSTATUS(stt) : -1);
	/* munmap of part of an attach, then shmdt of the rest. */
	a = shmat(id, NULL, 0);
	munmap(a, 4096);
	printf("nattch after a partial munmap: %lu\n", (unsigned long)st(id).shm_nattch);
	ck("shmdt of the rest", shmdt(a));
	printf("nattch %lu\n", (unsigned long)st(id).shm_nattch);
	shmctl(id, IPC_RMID, NULL);
}

static void sec_ctl(void)
{
	int id = shmget(IPC_PRIVATE, 4096, 0600);
	struct shmid_ds d = st(id);
	d.shm_perm.mode = 0644 | 01000;
	d.shm_perm.uid = 1234;
	d.shm_perm.gid = 5678;
	ck("IPC_SET", shmctl(id, IPC_SET, &d));
	d = st(id);
	printf("after IPC_SET: mode %o uid %u gid %u cuid %u\n", (unsigned)d.shm_perm.mode,
	       (unsigned)d.shm_perm.uid, (unsigned)d.shm_perm.gid, (unsigned)d.shm_perm.cuid);
	ck("SHM_LOCK", shmctl(id, SHM_LOCK, NULL));
	printf("locked %d\n", (st(id).shm_perm.mode & SHM_LOCKED) != 0);
	ck("SHM_UNLOCK", shmctl(id, SHM_UNLOCK, NULL));
	printf("locked %d\n", (st(id).shm_perm.mode & SHM_LOCKED) != 0);
	struct shminfo si;
	long r = shmctl(0, IPC_INFO, (struct shmid_ds *)&si);
	ok("IPC_INFO", r);
	printf("shmmax %lu shmmin %lu shmmni %lu shmseg %lu shmall %lu\n", (unsigned long)si.shmmax,
	       (unsigned long)si.shmmin, (unsigned long)si.shmmni, (unsigned long)si.shmseg,
	       (unsigned long)si.shmall);
	struct shm_info inf;
	r = shmctl(0, SHM_INFO, (struct shmid_ds *)&inf);
	printf("SHM_INFO: ok %d used_ids>=1 %d\n", r >= 0, *(int *)&inf >= 1);
	printf("max index covers ours: %d\n", r >= (id & 0x7fff));
	r = shmctl(id & 0x7fff, SHM_STAT, &d);
	printf("SHM_STAT by index gives the id: %d\n", r == id);
	ck("SHM_STAT bad index", shmctl(0x7ffe, SHM_STAT, &d));
	ck("IPC_STAT bad address", shmctl(id, IPC_STAT, (void *)8));
	ck("IPC_SET bad address", shmctl(id, IPC_SET, (void *)8));
	shmctl(id, IPC_RMID, NULL);
}

static void sec_perm(void)
{
	key_t k = ukey(3);
	int id = shmget(k, 4096, IPC_CREAT | 0600);
	pid_t pid = fork();
	if (pid == 0) {
		drop_privs();
		ck("user shmget rw", shmget(k, 0, 0600));
		ck("user shmget no mode", shmget(k, 0, 0) == id ? 0 : -1);
		ck("user shmat", (long)shmat(id, NULL, 0));
		struct shmid_ds d;
		ck("user IPC_STAT", shmctl(id, IPC_STAT, &d));
		ck("user IPC_RMID", shmctl(id, IPC_RMID, NULL));
		ck("user SHM_LOCK", shmctl(id, SHM_LOCK, NULL));
		_exit(0);
	}
	reap(pid, "perm");
	struct shmid_ds d = st(id);
	d.shm_perm.mode = 0644;
	shmctl(id, IPC_SET, &d);
	pid = fork();
	if (pid == 0) {
		drop_privs();
		ck("user shmat rw of 0644", (long)shmat(id, NULL, 0));
		char *r = shmat(id, NULL, SHM_RDONLY);
		ok("user shmat SHM_RDONLY of 0644", r == (void *)-1 ? -1 : 0);
		ck("user IPC_STAT of 0644", shmctl(id, IPC_STAT, &d) == 0 ? 0 : -1);
		_exit(0);
	}
	reap(pid, "perm 0644");
	d = st(id);
	d.shm_perm.uid = 1000;
	shmctl(id, IPC_SET, &d);
	pid = fork();
	if (pid == 0) {
		drop_privs();
		ck("owner IPC_RMID", shmctl(id, IPC_RMID, NULL));
		_exit(0);
	}
	reap(pid, "perm owner");
	ck("IPC_STAT after the owner removed it", shmctl(id, IPC_STAT, &d));
}

/* The limits as /proc/sys/kernel shows them (and IPC_INFO reports). */
static void sec_limits(void)
{
	static const char *files[] = {"shmmax", "shmall", "shmmni", "sem", "msgmax", "msgmnb", "msgmni"};
	for (unsigned i = 0; i < sizeof files / sizeof *files; i++) {
		char path[64], buf[128];
		snprintf(path, sizeof path, "/proc/sys/kernel/%s", files[i]);
		FILE *f = fopen(path, "r");
		if (!f) {
			printf("%s: -1 %s\n", files[i], ipc_errname(errno));
			continue;
		}
		size_t n = fread(buf, 1, sizeof buf - 1, f);
		fclose(f);
		buf[n] = 0;
		printf("%s: %s", files[i], buf);
	}
}

/* Prints the header of /proc/sysvipc/`file` and the line of `key` (its
 * first `nf` fields after the key and id; the fields of bit mask `pids`
 * are pids, shown as "me" or "notme"). */
static void proc_line(const char *file, key_t key, int nf, unsigned pids)
{
	char path[64], line[512];
	snprintf(path, sizeof path, "/proc/sysvipc/%s", file);
	FILE *f = fopen(path, "r");
	if (!f) {
		printf("%s: -1 %s\n", path, ipc_errname(errno));
		return;
	}
	if (fgets(line, sizeof line, f))
		printf("%s header: %s", file, line);
	int found = 0;
	while (fgets(line, sizeof line, f)) {
		char *p = line, *end;
		long k = strtol(p, &end, 10);
		if (end == p || k != key)
			continue;
		found = 1;
		strtol(end, &p, 10); /* the id */
		printf("%s line:", file);
		for (int i = 0; i < nf; i++) {
			unsigned long v = strtoul(p, &end, i == 0 ? 8 : 10);
			if (end == p)
				break;
			p = end;
			if (pids & (1u << i))
				printf(v == (unsigned long)getpid() ? " me" : " notme");
			else
				printf(i == 0 ? " %lo" : " %lu", v);
		}
		printf("\n");
	}
	fclose(f);
	if (!found)
		printf("%s: key not found\n", file);
}

static void sec_proc(void)
{
	key_t k = ukey(4);
	int shm = shmget(k, 5000, IPC_CREAT | 0640);
	char *a = shmat(shm, NULL, 0);
	a[0] = 1;
	/* perms size cpid lpid nattch uid gid cuid cgid */
	proc_line("shm", k, 9, 0xc);
	int sem = semget(k, 3, IPC_CREAT | 0600);
	/* perms nsems uid gid cuid cgid */
	proc_line("sem", k, 6, 0);
	int msg = msgget(k, IPC_CREAT | 0620);
	struct {
		long t;
		char x[8];
	} m = {1, "abcdef"};
	msgsnd(msg, &m, 6, 0);
	/* perms cbytes qnum lspid lrpid uid gid cuid cgid */
	proc_line("msg", k, 9, 0x18);
	shmdt(a);
	shmctl(shm, IPC_RMID, NULL);
	semctl(sem, 0, IPC_RMID);
	msgctl(msg, IPC_RMID, NULL);
	FILE *f = fopen("/proc/sysvipc/shm", "r");
	char line[512];
	int left = 0;
	while (f && fgets(line, sizeof line, f))
		left += strtol(line, NULL, 10) == k;
	if (f)
		fclose(f);
	printf("removed segment listed: %d\n", left);
}

int main(int argc, char **argv)
{
	static char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	self = n > 0 ? exe : argv[0];
	if (argc == 3 && !strcmp(argv[1], "exec_child")) {
		exec_child(atoi(argv[2]));
		return 0;
	}
	static const struct section s[] = {
		{"basic", sec_basic}, {"keys", sec_keys}, {"fork", sec_fork},
		{"rmid", sec_rmid},   {"flags", sec_flags}, {"ctl", sec_ctl},
		{"perm", sec_perm},   {"limits", sec_limits},
		{"proc", sec_proc},   {NULL, NULL},
	};
	return run_sections(s, argc, argv);
}
