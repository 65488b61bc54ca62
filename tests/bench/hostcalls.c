/* hostcalls: a fixed number of one guest call, to count the host syscalls
 * umbra and its stubs make per guest call (docs/BENCHMARKS.md, issue 13).
 *
 *   hostcalls OP N
 *
 * OP is none (the zero-op run to subtract), getppid, pread (64 bytes of
 * FILE, default /bench/data), read (lseek + read of 64 bytes), write (64
 * bytes to /dev/null), open (open + close of FILE), mmap (anonymous mmap of
 * one page, a write to it, munmap), mprotect (mprotect of a mapped page to
 * its own protection) or pipe (a round trip of one byte with a forked child
 * over two pipes: two writes and two reads, as /bench/pipe; the fork is
 * counted too, spread over N). Prints "ok N" and nothing else. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void die(const char *what)
{
	perror(what);
	exit(1);
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: hostcalls OP N [FILE]\n");
		return 2;
	}
	const char *op = argv[1];
	long n = atol(argv[2]);
	const char *file = argc > 3 ? argv[3] : "/bench/data";
	char buf[64];
	int fd = open(file, O_RDONLY);
	if (fd < 0)
		die("open");
	int null = open("/dev/null", O_WRONLY);
	if (null < 0)
		die("open /dev/null");
	char *page = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED)
		die("mmap");
	page[0] = 1;
	int to_child[2], to_parent[2];
	pid_t child = -1;
	if (!strcmp(op, "pipe")) {
		if (pipe(to_child) || pipe(to_parent))
			die("pipe");
		child = fork();
		if (child < 0)
			die("fork");
		if (child == 0) {
			char c;
			close(to_child[1]);
			close(to_parent[0]);
			while (read(to_child[0], &c, 1) == 1)
				if (write(to_parent[1], &c, 1) != 1)
					_exit(1);
			_exit(0);
		}
		close(to_child[0]);
		close(to_parent[1]);
	}
	for (long i = 0; i < n; i++) {
		if (!strcmp(op, "none")) {
			break;
		} else if (!strcmp(op, "getppid")) {
			syscall(SYS_getppid);
		} else if (!strcmp(op, "pread")) {
			if (pread(fd, buf, sizeof buf, 0) != sizeof buf)
				die("pread");
		} else if (!strcmp(op, "read")) {
			if (lseek(fd, 0, SEEK_SET) != 0 || read(fd, buf, sizeof buf) != sizeof buf)
				die("read");
		} else if (!strcmp(op, "write")) {
			if (write(null, buf, sizeof buf) != sizeof buf)
				die("write");
		} else if (!strcmp(op, "open")) {
			int f = open(file, O_RDONLY);
			if (f < 0 || close(f))
				die("open");
		} else if (!strcmp(op, "mmap")) {
			char *p = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (p == MAP_FAILED)
				die("mmap");
			p[0] = 1;
			if (munmap(p, 4096))
				die("munmap");
		} else if (!strcmp(op, "pipe")) {
			if (write(to_child[1], buf, 1) != 1 || read(to_parent[0], buf, 1) != 1)
				die("pipe");
		} else if (!strcmp(op, "mprotect")) {
			if (mprotect(page, 4096, PROT_READ | PROT_WRITE))
				die("mprotect");
		} else {
			fprintf(stderr, "unknown op %s\n", op);
			return 2;
		}
	}
	if (child > 0) {
		int st;
		close(to_child[1]);
		if (waitpid(child, &st, 0) != child || !WIFEXITED(st) || WEXITSTATUS(st))
			die("child");
	}
	printf("ok %ld\n", n);
	return 0;
}
