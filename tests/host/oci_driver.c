/* A small conmon for tests/e2e_oci.rs: drives an OCI runtime (umbra or
 * runc) through a container's life as conmon does. It makes itself a child
 * subreaper, runs `RUNTIME --root STATE create --bundle B --pid-file P
 * [--console-socket S] ID` (with `--log STATE.log --log-format json`), reads the pid file, takes the container's output
 * from a pipe (or the pty master received over the console socket with
 * SCM_RIGHTS), and reaps the container's process for its exit status.
 *
 * Usage: oci_driver RUNTIME STATE ID BUNDLE STEP...
 * Steps: create | create-tty | start | state | kill:SIG | kill-all:SIG |
 *        pause | resume | expect:TEXT | absent:TEXT | send:TEXT | exec:CMD |
 *        exec-detach:CMD | exec-tty:CMD | exec-tty-hangup:CMD | close-console |
 *        exec-signal:SIG:CMD | events | update:ARGS | update-err:ARGS | wait |
 *        host-write:PATH=TEXT | host-read:PATH | ps | delete | delete-force |
 *        leftovers
 * Every step prints one line; the output is printed at the end. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *runtime, *state, *id, *bundle;
static char pidfile[4096], sockpath[4096], logpath[4096];
static int out_fd = -1; /* the container's output: pipe read end or pty master */
static int cpid = 0;    /* the container's pid from the pid file */
static char output[1 << 16];
static size_t output_len;

/* Runs the runtime with `args` (NULL-terminated after the fixed ones);
 * stdout to `out` (or /dev/null when -1). Returns the wait status. */
static int runtime_cmd(const char **args, int out, int child_out) {
	const char *argv[32];
	int n = 0;
	argv[n++] = runtime;
	argv[n++] = "--root";
	argv[n++] = state;
	/* As conmon: the runtime's messages go to a log file, in JSON. */
	argv[n++] = "--log";
	argv[n++] = logpath;
	argv[n++] = "--log-format";
	argv[n++] = "json";
	for (int i = 0; args[i] && n < 30; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	pid_t p = fork();
	if (p < 0) {
		perror("fork");
		exit(2);
	}
	if (p == 0) {
		int null = open("/dev/null", O_RDWR);
		dup2(null, 0);
		if (child_out >= 0) {
			dup2(child_out, 1);
			dup2(child_out, 2);
		} else if (out >= 0) {
			dup2(out, 1);
		} else {
			dup2(null, 1);
		}
		execv(runtime, (char *const *)argv);
		_exit(127);
	}
	int st;
	while (waitpid(p, &st, 0) < 0 && errno == EINTR)
		;
	return st;
}

static int code(int st) {
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Reads what is there of the container's output, waiting up to `ms`. */
static int pump(int ms) {
	if (out_fd < 0)
		return 0;
	struct pollfd p = {out_fd, POLLIN, 0};
	if (poll(&p, 1, ms) <= 0)
		return 0;
	if (output_len >= sizeof(output) - 1)
		return 0;
	ssize_t r = read(out_fd, output + output_len, sizeof(output) - 1 - output_len);
	if (r <= 0) {
		close(out_fd);
		out_fd = -1;
		return 0;
	}
	output_len += r;
	output[output_len] = 0;
	return 1;
}

static int recv_fd(int sock) {
	char buf[256];
	char ctl[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {buf, sizeof(buf)};
	struct msghdr m = {0};
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = ctl;
	m.msg_controllen = sizeof(ctl);
	if (recvmsg(sock, &m, 0) < 0)
		return -1;
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	if (!c || c->cmsg_type != SCM_RIGHTS)
		return -1;
	int fd;
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

static void create(int tty) {
	int lsock = -1, w = -1;
	const char *args[12];
	int n = 0;
	args[n++] = "create";
	args[n++] = "--bundle";
	args[n++] = bundle;
	args[n++] = "--pid-file";
	args[n++] = pidfile;
	if (tty) {
		struct sockaddr_un a = {.sun_family = AF_UNIX};
		snprintf(a.sun_path, sizeof(a.sun_path), "%s", sockpath);
		unlink(sockpath);
		lsock = socket(AF_UNIX, SOCK_STREAM, 0);
		if (bind(lsock, (struct sockaddr *)&a, sizeof(a)) || listen(lsock, 1)) {
			perror("console socket");
			exit(2);
		}
		args[n++] = "--console-socket";
		args[n++] = sockpath;
	} else {
		int p[2];
		if (pipe(p)) {
			perror("pipe");
			exit(2);
		}
		out_fd = p[0];
		w = p[1];
	}
	args[n++] = id;
	args[n] = NULL;
	if (tty) {
		/* The runtime connects and sends the master during create. */
		pid_t p = fork();
		if (p == 0) {
			int st = runtime_cmd(args, -1, -1);
			_exit(code(st));
		}
		int c = accept(lsock, NULL, NULL);
		out_fd = c >= 0 ? recv_fd(c) : -1;
		printf("console master %s\n", out_fd >= 0 && isatty(out_fd) ? "received" : "missing");
		if (c >= 0)
			close(c);
		int st;
		while (waitpid(p, &st, 0) < 0 && errno == EINTR)
			;
		printf("create exit %d\n", code(st));
		close(lsock);
	} else {
		int st = runtime_cmd(args, -1, w);
		close(w);
		printf("create exit %d\n", code(st));
	}
	FILE *f = fopen(pidfile, "r");
	if (!f || fscanf(f, "%d", &cpid) != 1)
		cpid = 0;
	if (f)
		fclose(f);
	printf("pid file %s\n", cpid > 0 && kill(cpid, 0) == 0 ? "names a live process" : "bad");
}

static void show_state(void) {
	int p[2];
	if (pipe(p)) {
		perror("pipe");
		exit(2);
	}
	const char *args[] = {"state", id, NULL};
	int st = runtime_cmd(args, p[1], -1);
	close(p[1]);
	char buf[8192];
	size_t len = 0;
	ssize_t r;
	while (len < sizeof(buf) - 1 && (r = read(p[0], buf + len, sizeof(buf) - 1 - len)) > 0)
		len += r;
	buf[len] = 0;
	close(p[0]);
	char status[32] = "?";
	int pid = -1;
	char *s = strstr(buf, "\"status\"");
	if (s)
		sscanf(s, "\"status\": \"%31[a-z]\"", status);
	s = strstr(buf, "\"pid\"");
	if (s)
		sscanf(s, "\"pid\": %d", &pid);
	printf("state exit %d status %s pid %s\n", code(st), status,
	       pid == cpid ? "matches" : pid == 0 ? "0" : "differs");
}

/* `exec [--detach --pid-file F] ID sh -c CMD` with stdin from /dev/null and
 * stdout+stderr to a pipe; with detach, reaps the pid in F (the exec's
 * process to conmon) for its status. */
static void exec_step(const char *cmd, int detach) {
	int p[2];
	char epid[4200];
	snprintf(epid, sizeof(epid), "%s.exec.pid", state);
	if (pipe(p)) {
		perror("pipe");
		exit(2);
	}
	const char *a[] = {"exec", id, "sh", "-c", cmd, NULL};
	const char *ad[] = {"exec", "--detach", "--pid-file", epid, id, "sh", "-c", cmd, NULL};
	int st = runtime_cmd(detach ? ad : a, -1, p[1]);
	close(p[1]);
	int epid_n = 0;
	if (detach) {
		FILE *f = fopen(epid, "r");
		if (!f || fscanf(f, "%d", &epid_n) != 1)
			epid_n = 0;
		if (f)
			fclose(f);
	}
	char buf[8192];
	size_t len = 0;
	ssize_t r;
	while (len < sizeof(buf) - 1 && (r = read(p[0], buf + len, sizeof(buf) - 1 - len)) > 0)
		len += r;
	buf[len] = 0;
	close(p[0]);
	for (size_t i = 0; i < len; i++)
		if (buf[i] == '\n')
			buf[i] = '|';
	printf("exec exit %d output %s\n", code(st), buf);
	if (detach) {
		int est;
		pid_t w = epid_n > 0 ? waitpid(epid_n, &est, 0) : -1;
		if (w != epid_n)
			printf("exec pid file bad\n");
		else if (WIFEXITED(est))
			printf("exec process exited %d\n", WEXITSTATUS(est));
		else
			printf("exec process killed by signal %d\n", WTERMSIG(est));
	}
}

/* `exec --detach --tty --console-socket S --pid-file F ID sh -c CMD`, as
 * conmon runs `podman exec -it`: takes the pty master from S, sets the
 * window to 30x100, types "hello" and a return, reads the terminal until
 * the process is gone, and reaps the pid in F for its status. With
 * `hangup`, the master is closed once the process printed "ready" (a pty
 * hang-up: its session leader gets SIGHUP), and nothing is typed. */
static void exec_tty_step(const char *cmd, int hangup) {
	char epid[4200], esock[4200];
	snprintf(epid, sizeof(epid), "%s.exec.pid", state);
	snprintf(esock, sizeof(esock), "%s.esock", state);
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", esock);
	unlink(esock);
	int lsock = socket(AF_UNIX, SOCK_STREAM, 0);
	if (bind(lsock, (struct sockaddr *)&a, sizeof(a)) || listen(lsock, 1)) {
		perror("exec console socket");
		exit(2);
	}
	const char *args[] = {"exec", "--detach", "--tty", "--console-socket", esock,
			      "--pid-file", epid, id, "sh", "-c", cmd, NULL};
	pid_t p = fork();
	if (p == 0) {
		close(lsock);
		_exit(code(runtime_cmd(args, -1, -1)));
	}
	int c = accept(lsock, NULL, NULL);
	int m = c >= 0 ? recv_fd(c) : -1;
	printf("exec console master %s\n", m >= 0 && isatty(m) ? "received" : "missing");
	if (c >= 0)
		close(c);
	close(lsock);
	int st;
	while (waitpid(p, &st, 0) < 0 && errno == EINTR)
		;
	printf("exec exit %d\n", code(st));
	if (m < 0)
		return;
	struct winsize ws = {.ws_row = 30, .ws_col = 100};
	ioctl(m, TIOCSWINSZ, &ws);
	if (!hangup && write(m, "hello\r", 6) != 6)
		printf("exec tty write failed\n");
	char buf[4096];
	size_t len = 0;
	for (int idle = 0; idle < 120 && len < sizeof(buf) - 1;) {
		buf[len] = 0;
		if (hangup && strstr(buf, "ready"))
			break;
		struct pollfd pf = {m, POLLIN, 0};
		if (poll(&pf, 1, 500) <= 0) {
			idle++;
			continue;
		}
		ssize_t r = read(m, buf + len, sizeof(buf) - 1 - len);
		if (r <= 0)
			break; /* EIO: every slave is closed */
		len += r;
	}
	buf[len] = 0;
	close(m);
	/* One line, without the terminal's \r. */
	size_t o = 0;
	for (size_t i = 0; i < len; i++)
		if (buf[i] != '\r')
			buf[o++] = buf[i] == '\n' ? '|' : buf[i];
	buf[o] = 0;
	printf("exec tty output %s\n", buf);
	int epid_n = 0;
	FILE *f = fopen(epid, "r");
	if (!f || fscanf(f, "%d", &epid_n) != 1)
		epid_n = 0;
	if (f)
		fclose(f);
	int est;
	pid_t w = epid_n > 0 ? waitpid(epid_n, &est, 0) : -1;
	if (w != epid_n)
		printf("exec pid file bad\n");
	else if (WIFEXITED(est))
		printf("exec process exited %d\n", WEXITSTATUS(est));
	else
		printf("exec process killed by signal %d\n", WTERMSIG(est));
}

/* `exec ID sh -c CMD` in the foreground with its output to a pipe; once
 * it printed "ready", signal SIG goes to the runtime's process (which
 * forwards it); then its exit status and output. */
static void exec_signal_step(const char *spec) {
	char signame[32];
	const char *colon = strchr(spec, ':');
	if (!colon || colon - spec >= (long)sizeof(signame)) {
		fprintf(stderr, "bad exec-signal step\n");
		exit(2);
	}
	memcpy(signame, spec, colon - spec);
	signame[colon - spec] = 0;
	int sig = !strcmp(signame, "TERM") ? SIGTERM
		  : !strcmp(signame, "USR1") ? SIGUSR1
		  : !strcmp(signame, "INT") ? SIGINT
		  : !strcmp(signame, "HUP") ? SIGHUP
					  : atoi(signame);
	int pp[2];
	if (pipe(pp)) {
		perror("pipe");
		exit(2);
	}
	const char *args[] = {"exec", id, "sh", "-c", colon + 1, NULL};
	pid_t p = fork();
	if (p == 0) {
		close(pp[0]);
		/* The runtime itself, so that the signal reaches it. */
		const char *argv[16];
		int n = 0;
		argv[n++] = runtime;
		argv[n++] = "--root";
		argv[n++] = state;
		argv[n++] = "--log";
		argv[n++] = logpath;
		argv[n++] = "--log-format";
		argv[n++] = "json";
		for (int i = 0; args[i]; i++)
			argv[n++] = args[i];
		argv[n] = NULL;
		int null = open("/dev/null", O_RDWR);
		dup2(null, 0);
		dup2(pp[1], 1);
		dup2(pp[1], 2);
		execv(runtime, (char *const *)argv);
		_exit(127);
	}
	close(pp[1]);
	char buf[4096];
	size_t len = 0;
	int sent = 0;
	for (int idle = 0; idle < 240 && len < sizeof(buf) - 1;) {
		struct pollfd pf = {pp[0], POLLIN, 0};
		if (poll(&pf, 1, 500) <= 0) {
			idle++;
			continue;
		}
		ssize_t r = read(pp[0], buf + len, sizeof(buf) - 1 - len);
		if (r <= 0)
			break;
		len += r;
		buf[len] = 0;
		if (!sent && strstr(buf, "ready")) {
			kill(p, sig);
			sent = 1;
		}
	}
	buf[len] = 0;
	close(pp[0]);
	for (size_t i = 0; i < len; i++)
		if (buf[i] == '\n')
			buf[i] = '|';
	int st;
	while (waitpid(p, &st, 0) < 0 && errno == EINTR)
		;
	printf("exec %s sent %s; exec %s %d output %s\n", signame, sent ? "yes" : "no",
	       WIFEXITED(st) ? "exit" : "killed by signal",
	       WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st), buf);
}

/* Runs the runtime with `args`, its stdout into `buf`; returns the code. */
static int capture(const char **args, char *buf, size_t size) {
	int p[2];
	if (pipe(p)) {
		perror("pipe");
		exit(2);
	}
	int st = runtime_cmd(args, p[1], -1);
	close(p[1]);
	size_t len = 0;
	ssize_t r;
	while (len < size - 1 && (r = read(p[0], buf + len, size - 1 - len)) > 0)
		len += r;
	buf[len] = 0;
	close(p[0]);
	return code(st);
}

/* `ps --format json ID` (a JSON array of host pids, which holds the pid
 * file's) and `ps ID` (ps -ef's header and a line for each of those pids). */
static void ps_step(void) {
	static char buf[1 << 16];
	const char *aj[] = {"ps", "--format", "json", id, NULL};
	int cj = capture(aj, buf, sizeof(buf));
	int pids[256], n = 0;
	char *s = buf;
	while (*s && *s != '[')
		s++;
	int array = *s == '[';
	while (*s && *s != ']' && n < 256) {
		if (*s >= '0' && *s <= '9') {
			pids[n++] = (int)strtol(s, &s, 10);
			continue;
		}
		s++;
	}
	int has = 0;
	for (int i = 0; i < n; i++)
		has |= pids[i] == cpid;
	printf("ps json exit %d array %s holds the pid file's %s\n", cj, array && *s == ']' ? "yes" : "no",
	       has ? "yes" : "no");
	const char *at[] = {"ps", id, NULL};
	int ct = capture(at, buf, sizeof(buf));
	char *line = strtok(buf, "\n");
	int header = line && strstr(line, "PID") && strstr(line, "CMD");
	int lines = 0, listed = 0;
	while ((line = strtok(NULL, "\n"))) {
		int uid_end = 0, pid = 0;
		/* ps -ef: UID PID ... */
		if (sscanf(line, "%*s%n %d", &uid_end, &pid) < 1)
			continue;
		lines++;
		for (int i = 0; i < n; i++)
			if (pids[i] == pid)
				listed++;
	}
	printf("ps table exit %d header %s, a line for each pid %s\n", ct, header ? "yes" : "no",
	       lines == n && listed == n && n > 0 ? "yes" : "no");
}

/* `events --stats ID`: whether it is a stats event of this container, and
 * its pids (current and limit), memory (limit, usage) and CPU time, with
 * the numbers that vary as whether they are above 0. */
static void events_step(void) {
	static char buf[1 << 16];
	const char *a[] = {"events", "--stats", id, NULL};
	int c = capture(a, buf, sizeof(buf));
	char want_id[512];
	snprintf(want_id, sizeof(want_id), "\"id\":\"%s\"", id);
	long long cpu = -1, mlimit = -1, musage = -1, pcur = -1, plimit = -1;
	char *s = strstr(buf, "\"cpu\":{\"usage\":{\"total\":");
	if (s)
		sscanf(s, "\"cpu\":{\"usage\":{\"total\":%lld", &cpu);
	s = strstr(buf, "\"memory\":{\"usage\":{\"limit\":");
	if (s)
		sscanf(s, "\"memory\":{\"usage\":{\"limit\":%lld,\"usage\":%lld", &mlimit, &musage);
	s = strstr(buf, "\"pids\":{\"current\":");
	if (s) {
		sscanf(s, "\"pids\":{\"current\":%lld", &pcur);
		char *l = strstr(s, "\"limit\":");
		char *end = strchr(s, '}');
		if (l && end && l < end)
			sscanf(l, "\"limit\":%lld", &plimit);
	}
	printf("events exit %d stats %s id %s cpu %s memory limit %lld usage %s pids %lld limit %lld\n", c,
	       strstr(buf, "\"type\":\"stats\"") ? "yes" : "no", strstr(buf, want_id) ? "ok" : "bad",
	       cpu > 0 ? ">0" : "none", mlimit, musage > 0 ? ">0" : "none", pcur, plimit);
}

/* `update ARGS ID` (ARGS split at spaces): its status, and with `err` its
 * stderr, one line. */
static void update_step(const char *spec, int err) {
	char copy[1024];
	snprintf(copy, sizeof(copy), "%s", spec);
	const char *a[24];
	int n = 0;
	a[n++] = "update";
	for (char *t = strtok(copy, " "); t && n < 22; t = strtok(NULL, " "))
		a[n++] = t;
	a[n++] = id;
	a[n] = NULL;
	if (!err) {
		printf("update %s exit %d\n", spec, code(runtime_cmd(a, -1, -1)));
		return;
	}
	int p[2];
	if (pipe(p)) {
		perror("pipe");
		exit(2);
	}
	pid_t pid = fork();
	if (pid == 0) {
		const char *argv[40];
		int k = 0;
		argv[k++] = runtime;
		argv[k++] = "--root";
		argv[k++] = state;
		argv[k++] = "--log";
		argv[k++] = logpath;
		for (int i = 0; a[i] && k < 38; i++)
			argv[k++] = a[i];
		argv[k] = NULL;
		int null = open("/dev/null", O_RDWR);
		dup2(null, 0);
		dup2(null, 1);
		dup2(p[1], 2);
		execv(runtime, (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	char buf[4096];
	size_t len = 0;
	ssize_t r;
	while (len < sizeof(buf) - 1 && (r = read(p[0], buf + len, sizeof(buf) - 1 - len)) > 0)
		len += r;
	buf[len] = 0;
	close(p[0]);
	for (size_t i = 0; i < len; i++)
		if (buf[i] == '\n')
			buf[i] = '|';
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	printf("update %s exit %d stderr %s\n", spec, code(st), buf);
}

/* `host-write:PATH=TEXT`: the host file PATH now holds TEXT and a newline
 * (nothing for an empty TEXT), written in place (O_TRUNC: the same file). */
static void host_write_step(const char *spec) {
	const char *eq = strchr(spec, '=');
	char path[4096];
	if (!eq || eq - spec >= (long)sizeof(path)) {
		fprintf(stderr, "bad host-write step\n");
		exit(2);
	}
	memcpy(path, spec, eq - spec);
	path[eq - spec] = 0;
	int fd = open(path, O_WRONLY | O_TRUNC);
	int ok = fd >= 0;
	if (ok && eq[1]) {
		ok = write(fd, eq + 1, strlen(eq + 1)) == (ssize_t)strlen(eq + 1) && write(fd, "\n", 1) == 1;
	}
	if (fd >= 0)
		close(fd);
	printf("host wrote %s\n", ok ? "ok" : "failed");
}

/* `host-read:PATH`: what the host file holds, one line. */
static void host_read_step(const char *path) {
	char buf[4096];
	int fd = open(path, O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
	if (fd >= 0)
		close(fd);
	if (n < 0) {
		printf("host read failed\n");
		return;
	}
	buf[n] = 0;
	for (ssize_t i = 0; i < n; i++)
		if (buf[i] == '\n')
			buf[i] = '|';
	printf("host read %s\n", buf);
}

static void leftovers(void) {
	/* Processes started from the runtime with this state directory. */
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;
	while (d && (e = readdir(d))) {
		int pid = atoi(e->d_name);
		if (pid <= 0 || pid == getpid())
			continue;
		char path[64], buf[4096];
		snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
		int fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		ssize_t r = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (r <= 0)
			continue;
		for (ssize_t i = 0; i < r; i++)
			if (!buf[i])
				buf[i] = ' ';
		buf[r] = 0;
		if (strstr(buf, state) && strstr(buf, runtime))
			n++;
	}
	if (d)
		closedir(d);
	printf("leftovers %d\n", n);
}

int main(int argc, char **argv) {
	if (argc < 5) {
		fprintf(stderr, "usage: oci_driver RUNTIME STATE ID BUNDLE STEP...\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IONBF, 0);
	runtime = argv[1];
	state = argv[2];
	id = argv[3];
	bundle = argv[4];
	snprintf(pidfile, sizeof(pidfile), "%s.pid", state);
	snprintf(sockpath, sizeof(sockpath), "%s.sock", state);
	snprintf(logpath, sizeof(logpath), "%s.log", state);
	signal(SIGPIPE, SIG_IGN);
	alarm(600);
	if (prctl(PR_SET_CHILD_SUBREAPER, 1)) {
		perror("PR_SET_CHILD_SUBREAPER");
		return 2;
	}
	for (int i = 5; i < argc; i++) {
		const char *s = argv[i];
		if (!strcmp(s, "create") || !strcmp(s, "create-tty")) {
			create(!strcmp(s, "create-tty"));
		} else if (!strcmp(s, "start")) {
			const char *a[] = {"start", id, NULL};
			printf("start exit %d\n", code(runtime_cmd(a, -1, -1)));
		} else if (!strcmp(s, "state")) {
			show_state();
		} else if (!strncmp(s, "kill:", 5)) {
			const char *a[] = {"kill", id, s + 5, NULL};
			printf("kill %s exit %d\n", s + 5, code(runtime_cmd(a, -1, -1)));
		} else if (!strncmp(s, "kill-all:", 9)) {
			const char *a[] = {"kill", "--all", id, s + 9, NULL};
			printf("kill --all %s exit %d\n", s + 9, code(runtime_cmd(a, -1, -1)));
		} else if (!strcmp(s, "pause") || !strcmp(s, "resume")) {
			const char *a[] = {s, id, NULL};
			printf("%s exit %d\n", s, code(runtime_cmd(a, -1, -1)));
		} else if (!strncmp(s, "expect:", 7)) {
			int waited = 0;
			while (!strstr(output, s + 7) && waited < 240) {
				if (!pump(500))
					waited++;
				if (out_fd < 0 && !strstr(output, s + 7))
					break;
			}
			printf("%s %s\n", strstr(output, s + 7) ? "saw" : "missed", s + 7);
		} else if (!strncmp(s, "absent:", 7)) {
			/* TEXT does not show within 2 s (a frozen container). */
			for (int i = 0; i < 10 && !strstr(output, s + 7); i++)
				pump(200);
			printf("%s %s\n", strstr(output, s + 7) ? "present" : "absent", s + 7);
		} else if (!strncmp(s, "send:", 5)) {
			char line[1024];
			snprintf(line, sizeof(line), "%s\r", s + 5);
			ssize_t r = out_fd >= 0 ? write(out_fd, line, strlen(line)) : -1;
			printf("sent %s\n", r > 0 ? "ok" : "failed");
		} else if (!strcmp(s, "wait")) {
			int st;
			pid_t r;
			while ((r = waitpid(cpid, &st, 0)) < 0 && errno == EINTR)
				;
			if (r != cpid)
				printf("wait failed: %s\n", strerror(errno));
			else if (WIFEXITED(st))
				printf("container exited %d\n", WEXITSTATUS(st));
			else if (WIFSIGNALED(st))
				printf("container killed by signal %d\n", WTERMSIG(st));
			/* Whatever output is left. */
			while (pump(200))
				;
		} else if (!strcmp(s, "delete") || !strcmp(s, "delete-force")) {
			const char *a[] = {"delete", id, NULL};
			const char *af[] = {"delete", "--force", id, NULL};
			printf("%s exit %d\n", s, code(runtime_cmd(s[6] ? af : a, -1, -1)));
		} else if (!strncmp(s, "exec:", 5)) {
			exec_step(s + 5, 0);
		} else if (!strncmp(s, "exec-detach:", 12)) {
			exec_step(s + 12, 1);
		} else if (!strncmp(s, "exec-tty:", 9)) {
			exec_tty_step(s + 9, 0);
		} else if (!strncmp(s, "exec-tty-hangup:", 16)) {
			exec_tty_step(s + 16, 1);
		} else if (!strncmp(s, "exec-signal:", 12)) {
			exec_signal_step(s + 12);
		} else if (!strcmp(s, "ps")) {
			ps_step();
		} else if (!strncmp(s, "host-write:", 11)) {
			host_write_step(s + 11);
		} else if (!strncmp(s, "host-read:", 10)) {
			host_read_step(s + 10);
		} else if (!strcmp(s, "events")) {
			events_step();
		} else if (!strncmp(s, "update:", 7)) {
			update_step(s + 7, 0);
		} else if (!strncmp(s, "update-err:", 11)) {
			update_step(s + 11, 1);
		} else if (!strcmp(s, "close-console")) {
			/* The engine closes the console's pty master: a hang-up. */
			printf("console %s\n", out_fd >= 0 && !close(out_fd) ? "closed" : "missing");
			out_fd = -1;
		} else if (!strcmp(s, "leftovers")) {
			leftovers();
		} else {
			fprintf(stderr, "unknown step %s\n", s);
			return 2;
		}
	}
	/* Reap anything else that was reparented to us. */
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	printf("--- output ---\n%s\n", output);
	return 0;
}
