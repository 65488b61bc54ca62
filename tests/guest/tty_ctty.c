/* tty_ctty: /dev/tty in a process with no controlling terminal.
 *
 * Linux's /dev/tty is the caller's controlling terminal; a process whose
 * session has none gets ENXIO (tty_open_current_tty), whatever fds 0-2
 * are. O_PATH does not open the device, so it succeeds.
 *
 * Sections (argv): nosession. Each runs in a child that made a session of
 * its own with setsid(), so the run does not depend on the test runner's
 * terminal. */
#define _GNU_SOURCE
#include "common.h"
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void show(const char *what, int fd)
{
	if (fd < 0)
		printf("%s: -1 %s\n", what, errno == ENXIO ? "ENXIO" : errname(errno));
	else
		printf("%s: ok\n", what);
	if (fd >= 0)
		close(fd);
}

static void nosession(void)
{
	printf("setsid: %s\n", setsid() > 0 ? "ok" : errname(errno));
	show("open /dev/tty O_RDWR", open("/dev/tty", O_RDWR));
	show("open /dev/tty O_RDONLY|O_NOCTTY", open("/dev/tty", O_RDONLY | O_NOCTTY));
	show("open /dev/tty O_WRONLY|O_NONBLOCK", open("/dev/tty", O_WRONLY | O_NONBLOCK));
	show("open /dev/tty O_PATH", open("/dev/tty", O_PATH));
	show("openat /dev/tty", openat(AT_FDCWD, "/dev/tty", O_RDWR | O_CLOEXEC));
	FILE *f = fopen("/dev/tty", "r");
	printf("fopen /dev/tty: %s\n", f ? "ok" : errno == ENXIO ? "ENXIO" : errname(errno));
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	for (int i = 1; i < argc; i++) {
		printf("== %s\n", argv[i]);
		pid_t p = fork();
		if (p == 0) {
			if (!strcmp(argv[i], "nosession"))
				nosession();
			else
				printf("unknown section\n");
			_exit(0);
		}
		int st;
		waitpid(p, &st, 0);
		printf("child: %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	}
	return 0;
}
