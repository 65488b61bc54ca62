/* ioctl_tty: terminal queries on fds 0, 1 and 2. The test runs it with the
 * same kind of stdin and stdout natively and under umbra (stdin /dev/null,
 * stdout and stderr pipes), so the answers must agree. */
#include <stdio.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>
#include "common.h"

int main(void)
{
	for (int fd = 0; fd <= 2; fd++) {
		errno = 0;
		int t = isatty(fd);
		printf("isatty(%d)=%d %s\n", fd, t, t ? "OK" : errname(errno));
		struct winsize ws;
		errno = 0;
		int r = ioctl(fd, TIOCGWINSZ, &ws);
		printf("TIOCGWINSZ(%d)=%d %s\n", fd, r, r ? errname(errno) : "OK");
		struct termios tio;
		errno = 0;
		r = tcgetattr(fd, &tio);
		printf("TCGETS(%d)=%d %s\n", fd, r, r ? errname(errno) : "OK");
	}
	errno = 0;
	int r = isatty(99);
	printf("isatty(99)=%d %s\n", r, errname(errno));
	return 0;
}
