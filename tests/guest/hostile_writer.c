/* hostile_writer: a write workload to kill umbra in the middle of. Three
 * processes (so that umbra has several stubs) write, fsync, rename and
 * unlink files on the tmpfs root and in /tmp, forever. Prints "started"
 * once all are running. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void work(int id)
{
	static char block[65536];
	char name[64], tmp[64];
	memset(block, 'a' + id, sizeof block);
	for (unsigned long i = 0;; i++) {
		snprintf(tmp, sizeof tmp, "/%s/w%d-%lu.tmp", id ? "tmp" : "data", id, i % 16);
		snprintf(name, sizeof name, "/%s/w%d-%lu", id ? "tmp" : "data", id, i % 16);
		int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0)
			continue;
		for (int k = 0; k < 4; k++)
			write(fd, block, sizeof block);
		fsync(fd);
		close(fd);
		rename(tmp, name);
		if (i % 5 == 0)
			unlink(name);
	}
}

int main(void)
{
	for (int id = 1; id < 3; id++)
		if (fork() == 0)
			work(id);
	write(1, "started\n", 8);
	work(0);
}
