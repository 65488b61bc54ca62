/* proc_fork_exec_wait: fork trees, exit codes, wait4/waitpid/waitid, zombies,
 * execve of an ELF and of #! scripts, argv/envp passing, execve errors,
 * O_CLOEXEC across exec, vfork, orphans.
 *
 * Only deterministic facts are printed: exit codes, errno names, and
 * comparisons (never pids). Children that print do so before the parent, which
 * waits for them before printing again. The scripts and files it execs are
 * written into the working directory (a fresh data dir) by the program. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "common.h"

static const char *en(int e)
{
	switch (e) {
	case ECHILD: return "ECHILD";
	case ESRCH: return "ESRCH";
	case ENOEXEC: return "ENOEXEC";
	case EINTR: return "EINTR";
	case E2BIG: return "E2BIG";
	default: return errname(e);
	}
}

static void status_line(const char *what, int st)
{
	if (WIFEXITED(st))
		printf("%s: exited %d\n", what, WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		printf("%s: killed by %d\n", what, WTERMSIG(st));
	else if (WIFSTOPPED(st))
		printf("%s: stopped by %d\n", what, WSTOPSIG(st));
	else
		printf("%s: status %#x\n", what, st);
}

static int reap(pid_t pid)
{
	int st = -1;
	pid_t r = waitpid(pid, &st, 0);
	if (r != pid)
		printf("waitpid: unexpected %s\n", r < 0 ? en(errno) : "pid");
	return st;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		printf("write_file %s failed: %s\n", path, en(errno));
	close(fd);
	chmod(path, mode);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* fork, run child(), wait, print its status */
static void run_child(const char *what, void (*child)(void *), void *arg)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		printf("%s: fork failed %s\n", what, en(errno));
		return;
	}
	if (pid == 0) {
		child(arg);
		_exit(99);
	}
	status_line(what, reap(pid));
}

static void test_tree(void)
{
	pid_t kids[3];
	for (int i = 0; i < 3; i++) {
		fflush(stdout);
		kids[i] = fork();
		if (kids[i] == 0) {
			pid_t g = fork();
			if (g == 0)
				_exit(10 + i);
			int st;
			if (waitpid(g, &st, 0) != g)
				_exit(1);
			_exit(WEXITSTATUS(st) * 2);
		}
	}
	/* reap in reverse creation order: waitpid by pid must pick the right one */
	for (int i = 2; i >= 0; i--) {
		char what[32];
		snprintf(what, sizeof what, "tree child %d", i);
		status_line(what, reap(kids[i]));
	}
	errno = 0;
	pid_t r = waitpid(-1, NULL, WNOHANG);
	printf("waitpid with no children: %d %s\n", (int)r, en(errno));

	/* waitpid(-1) collects all of several children, whatever the order */
	int seen = 0;
	for (int i = 0; i < 5; i++) {
		fflush(stdout);
		if (fork() == 0)
			_exit(1 << i);
	}
	for (int i = 0; i < 5; i++) {
		int st;
		if (waitpid(-1, &st, 0) > 0 && WIFEXITED(st))
			seen |= WEXITSTATUS(st);
	}
	printf("waitpid(-1) x5 collected mask %#x\n", seen);
}

static void exit_256(void *a) { (void)a; exit(256); }
static void exit_300(void *a) { (void)a; _exit(300); }
static void exit_255(void *a) { (void)a; exit(255); }
static void return_from_child(void *a) { (void)a; exit(0); }

static void test_wnohang(void)
{
	int p[2];
	if (pipe(p) < 0)
		return;
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		char c;
		close(p[1]);
		ssize_t n = read(p[0], &c, 1);
		_exit(n == 1 ? c : 100);
	}
	close(p[0]);
	int st = 0;
	struct rusage ru;
	pid_t r = wait4(pid, &st, WNOHANG, &ru);
	printf("wait4 WNOHANG on a running child: %d\n", (int)r);
	if (write(p[1], "\x21", 1) != 1)
		printf("write failed\n");
	close(p[1]);
	r = wait4(pid, &st, 0, &ru);
	printf("wait4 blocking returns the pid: %s\n", r == pid ? "yes" : "no");
	status_line("wait4 status", st);
	errno = 0;
	r = wait4(pid, &st, 0, NULL);
	printf("wait4 again: %d %s\n", (int)r, en(errno));
}

static void test_waitid(void)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0)
		_exit(7);
	siginfo_t si;
	memset(&si, 0, sizeof si);
	int r = waitid(P_PID, pid, &si, WEXITED | WNOWAIT);
	printf("waitid WNOWAIT: %d signo=%d code=%s status=%d pid-match=%s\n", r,
	       si.si_signo, si.si_code == CLD_EXITED ? "CLD_EXITED" : "other",
	       si.si_status, si.si_pid == pid ? "yes" : "no");
	memset(&si, 0, sizeof si);
	r = waitid(P_ALL, 0, &si, WEXITED | WNOWAIT | WNOHANG);
	printf("waitid P_ALL WNOWAIT again: %d status=%d\n", r, si.si_status);
	int st;
	pid_t w = waitpid(pid, &st, WNOHANG);
	printf("waitpid WNOHANG reaps the zombie: %s\n", w == pid ? "yes" : "no");
	status_line("zombie status", st);
	errno = 0;
	r = kill(pid, 0);
	printf("kill(reaped, 0): %d %s\n", r, en(errno));
	errno = 0;
	memset(&si, 0, sizeof si);
	r = waitid(P_PID, pid, &si, WEXITED);
	printf("waitid after reaping: %d %s\n", r, en(errno));

	/* waitid WNOHANG with a running child: returns 0 and si_pid 0 */
	int p[2];
	if (pipe(p) < 0)
		return;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		char c;
		close(p[1]);
		(void)read(p[0], &c, 1);
		_exit(3);
	}
	close(p[0]);
	memset(&si, 0, sizeof si);
	si.si_pid = 12345;
	r = waitid(P_PID, pid, &si, WEXITED | WNOHANG);
	printf("waitid WNOHANG running: %d si_pid=%d\n", r, (int)si.si_pid);
	close(p[1]);
	memset(&si, 0, sizeof si);
	r = waitid(P_PID, pid, &si, WEXITED);
	printf("waitid blocking: %d code=%s status=%d\n", r,
	       si.si_code == CLD_EXITED ? "CLD_EXITED" : "other", si.si_status);
	errno = 0;
	r = waitid(P_PID, pid, &si, 0);
	printf("waitid without WEXITED: %d %s\n", r, en(errno));
}

static void killed_child(void *a)
{
	(void)a;
	kill(getpid(), SIGTERM);
	sleep_ms(5000);
}

static char *const exec_env[] = { "ALPHA=1", "BETA=two words", "EMPTY=", NULL };

static void exec_echo(void *a)
{
	(void)a;
	char *argv[] = { "echo", "hello", "from", "exec", "with  spaces", "", "end", NULL };
	execve("/bin/busybox", argv, exec_env);
	printf("execve failed: %s\n", en(errno));
}

static void exec_env_child(void *a)
{
	(void)a;
	char *argv[] = { "env", NULL };
	execve("/bin/busybox", argv, exec_env);
	printf("execve failed: %s\n", en(errno));
}

static void exec_path(void *a)
{
	char *argv[] = { a, "arg one", "arg2", NULL };
	execve(a, argv, exec_env);
	printf("execve %s failed: %s\n", (char *)a, en(errno));
}

static void exec_exit_code(void *a)
{
	(void)a;
	char *argv[] = { "sh", "-c", "exit 42", NULL };
	execve("/bin/busybox", argv, exec_env);
	_exit(98);
}

static void test_exec(void)
{
	run_child("exec busybox echo", exec_echo, NULL);
	run_child("exec busybox env", exec_env_child, NULL);
	run_child("exec sh exit 42", exec_exit_code, NULL);

	write_file("echo.script", "#!/bin/busybox echo\nthis line is not read\n", 0755);
	write_file("spaces.script", "#!   /bin/busybox   echo   \n", 0755);
	write_file("sh.script",
		   "#!/bin/busybox sh\n"
		   "echo \"sh script: $# args: $*\"\n"
		   "echo \"ALPHA=$ALPHA BETA=$BETA\"\n"
		   "exit 5\n", 0755);
	write_file("noeol.script", "#!/bin/busybox echo", 0755);
	run_child("exec #!/bin/busybox echo", exec_path, "./echo.script");
	run_child("exec #! with spaces", exec_path, "./spaces.script");
	run_child("exec #! sh script", exec_path, "./sh.script");
	run_child("exec #! without newline", exec_path, "./noeol.script");

	/* errors, in the calling process */
	write_file("noexec.file", "#!/bin/busybox echo\n", 0644);
	write_file("garbage.bin", "\x01\x02\x03 this is not an executable\n", 0755);
	write_file("badinterp.script", "#!/no/such/interpreter\n", 0755);
	write_file("empty.bin", "", 0755);
	const char *bad[] = { "./no-such-file", "./noexec.file", "./garbage.bin",
			      "./badinterp.script", "./empty.bin", "sub", "./hello.txt/x",
			      "no-slash-no-such", NULL };
	for (int i = 0; bad[i]; i++) {
		char *argv[] = { (char *)bad[i], NULL };
		errno = 0;
		int r = execve(bad[i], argv, exec_env);
		printf("execve %s: %d %s\n", bad[i], r, en(errno));
	}
	char *argv[] = { "x", NULL };
	const char *volatile null_path = NULL;
	errno = 0;
	int r = execve(null_path, argv, exec_env);
	printf("execve NULL path: %d %s\n", r, en(errno));
}

static void cloexec_child(void *a)
{
	(void)a;
	char *argv[] = { "sh", "-c",
		"for fd in 10 11 12; do "
		"if { true <&$fd; } 2>/dev/null; then echo \"fd $fd open\"; "
		"else echo \"fd $fd closed\"; fi; done; "
		"read line <&11; echo \"fd 11 reads: $line\"", NULL };
	execve("/bin/busybox", argv, exec_env);
	_exit(97);
}

static void test_cloexec(void)
{
	int a = open("hello.txt", O_RDONLY | O_CLOEXEC);
	int b = open("hello.txt", O_RDONLY);
	int c = open("hello.txt", O_RDONLY);
	if (dup3(a, 10, O_CLOEXEC) != 10 || dup2(b, 11) != 11 || dup2(c, 12) != 12)
		printf("dup failed: %s\n", en(errno));
	close(a);
	close(b);
	close(c);
	fcntl(12, F_SETFD, FD_CLOEXEC);
	printf("F_GETFD 10=%d 11=%d 12=%d\n", fcntl(10, F_GETFD), fcntl(11, F_GETFD),
	       fcntl(12, F_GETFD));
	int p[2];
	if (pipe2(p, O_CLOEXEC) == 0)
		printf("pipe2 O_CLOEXEC F_GETFD: %d %d\n", fcntl(p[0], F_GETFD),
		       fcntl(p[1], F_GETFD));
	close(p[0]);
	close(p[1]);
	run_child("exec with cloexec fds", cloexec_child, NULL);
	/* fork keeps close-on-exec fds */
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0)
		_exit(fcntl(10, F_GETFD) == FD_CLOEXEC ? 0 : 1);
	status_line("fork keeps a cloexec fd", reap(pid));
	close(10);
	close(11);
	close(12);
}

static void test_vfork(void)
{
	fflush(stdout);
	pid_t pid = vfork();
	if (pid == 0)
		_exit(5);
	status_line("vfork _exit", reap(pid));

	char *argv[] = { "sh", "-c", "echo vfork exec ran; exit 6", NULL };
	fflush(stdout);
	pid = vfork();
	if (pid == 0) {
		execve("/bin/busybox", argv, exec_env);
		_exit(96);
	}
	status_line("vfork execve", reap(pid));
	fflush(stdout);
	pid = vfork();
	if (pid == 0) {
		char *bad[] = { "nope", NULL };
		execve("./no-such-file", bad, exec_env);
		_exit(errno == ENOENT ? 8 : 9);
	}
	status_line("vfork failed execve", reap(pid));
}

/* A zombie is still a process: kill(pid, 0) succeeds until it is reaped. */
static void test_kill_zombie(void)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0)
		_exit(7);
	siginfo_t si;
	waitid(P_PID, pid, &si, WEXITED | WNOWAIT);
	errno = 0;
	int r = kill(pid, 0);
	printf("kill(zombie, 0): %d %s\n", r, en(errno));
	reap(pid);
	errno = 0;
	r = kill(pid, 0);
	printf("kill(reaped, 0): %d %s\n", r, en(errno));
}

/* vfork shares the address space: the parent sees the child's writes. */
static void test_vfork_shares_memory(void)
{
	volatile int shared = 1;
	fflush(stdout);
	pid_t pid = vfork();
	if (pid == 0) {
		shared = 2;
		_exit(5);
	}
	status_line("vfork _exit", reap(pid));
	printf("vfork parent sees child's write: %s\n", shared == 2 ? "yes" : "no");
}

static void test_orphan(void)
{
	int p[2];
	if (pipe(p) < 0)
		return;
	fflush(stdout);
	pid_t mid = fork();
	if (mid == 0) {
		int ready[2];
		if (pipe(ready) < 0)
			_exit(1);
		pid_t before = getpid();
		pid_t g = fork();
		if (g == 0) {
			close(ready[1]);
			char c;
			/* EOF when the middle process has exited */
			while (read(ready[0], &c, 1) > 0)
				;
			int changed = 0;
			for (int i = 0; i < 5000 && !changed; i++) {
				if (getppid() != before)
					changed = 1;
				else
					sleep_ms(1);
			}
			char msg = changed ? 'Y' : 'N';
			(void)write(p[1], &msg, 1);
			_exit(0);
		}
		_exit(0);
	}
	close(p[1]);
	status_line("orphan's parent", reap(mid));
	char c = '?';
	ssize_t n = read(p[0], &c, 1);
	printf("orphan's getppid changed after its parent exited: %s\n",
	       n == 1 && c == 'Y' ? "yes" : "no");
	close(p[0]);
	/* Under umbra this program is pid 1 and inherits the orphan: reap it
	 * quietly. Natively there is nothing to wait for. */
	while (waitpid(-1, NULL, 0) > 0)
		;
}

static void test_exit_codes(void)
{
	run_child("exit(256)", exit_256, NULL);
	run_child("_exit(300)", exit_300, NULL);
	run_child("exit(255)", exit_255, NULL);
	run_child("exit(0)", return_from_child, NULL);
	run_child("kill self SIGTERM", killed_child, NULL);
}

static const struct section {
	const char *name;
	void (*fn)(void);
} sections[] = {
	{ "tree", test_tree },
	{ "exit_codes", test_exit_codes },
	{ "wnohang", test_wnohang },
	{ "waitid", test_waitid },
	{ "exec", test_exec },
	{ "cloexec", test_cloexec },
	{ "vfork", test_vfork },
	{ "orphan", test_orphan },
	{ "kill_zombie", test_kill_zombie },
	{ "vfork_shares_memory", test_vfork_shares_memory },
	{ NULL, NULL },
};

/* With no arguments every section runs; else the named ones, in order. */
int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (const struct section *s = sections; s->name; s++) {
		int run = argc < 2;
		for (int i = 1; i < argc; i++)
			run |= strcmp(argv[i], s->name) == 0;
		if (run) {
			printf("== %s\n", s->name);
			s->fn();
		}
	}
	printf("done\n");
	return 0;
}
