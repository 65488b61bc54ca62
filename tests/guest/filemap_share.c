/* filemap_share: 20 processes running this program (each a fresh execve)
 * touch every page of its 2 MiB of read-only data (built static) or of the
 * read-only segments of the libraries it is linked with (built dynamic:
 * libc's text) and then wait; the memory they use together, by
 * /proc/meminfo's MemFree before and after, shows whether they share one
 * copy of those file pages (the page cache) or have 20. Prints "shared" or
 * "not shared"; the figures go to stderr.
 * Run as "filemap_share" (the parent) or "filemap_share child FD"; other
 * arguments do nothing. */
#define _GNU_SOURCE
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define COPIES 20
#define BIG (2 << 20)

/* In the file: a read-only segment of 2 MiB. */
static const unsigned char big[BIG] = {1, 2, 3};

static long mem_free_kb(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[128];
	long kb = -1;
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "MemFree: %ld kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

static unsigned sum;
static long lib_bytes;
static int nth;

/* Touches (when `touch`) and counts the read-only segments of every loaded
 * library (not the program, not a vDSO). */
static int each_lib(struct dl_phdr_info *info, size_t size, void *touch)
{
	(void)size;
	/* The program itself comes first. */
	if (nth++ == 0 || !info->dlpi_name || strstr(info->dlpi_name, "vdso"))
		return 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || (ph->p_flags & PF_W))
			continue;
		uintptr_t start = (info->dlpi_addr + ph->p_vaddr) & ~4095UL;
		uintptr_t end = info->dlpi_addr + ph->p_vaddr + ph->p_filesz;
		lib_bytes += end - start;
		for (uintptr_t a = start; touch && a < end; a += 4096)
			sum += *(volatile const unsigned char *)a;
	}
	return 0;
}

int main(int argc, char **argv)
{
	dl_iterate_phdr(each_lib, NULL);
	int dynamic = lib_bytes > 0;
	if (argc == 3 && strcmp(argv[1], "child") == 0) {
		nth = 0;
		if (dynamic)
			dl_iterate_phdr(each_lib, "touch");
		else
			for (long i = 0; i < BIG; i += 4096)
				sum += ((volatile const unsigned char *)big)[i];
		int fd = atoi(argv[2]);
		char c = (char)sum;
		write(fd, &c, 1);
		/* Wait for the parent to close the pipe's other end. */
		char buf;
		read(0, &buf, 1);
		return 0;
	}
	if (argc != 1)
		return 0; /* only the two forms above do anything */
	int ready[2], hold[2];
	if (pipe(ready) || pipe(hold))
		return 1;
	long before = mem_free_kb();
	pid_t kids[COPIES];
	for (int i = 0; i < COPIES; i++) {
		kids[i] = fork();
		if (kids[i] == 0) {
			dup2(hold[0], 0);
			close(hold[1]);
			close(ready[0]);
			char fd[16];
			snprintf(fd, sizeof fd, "%d", ready[1]);
			execl(argv[0], argv[0], "child", fd, (char *)NULL);
			_exit(127);
		}
	}
	close(ready[1]);
	for (int i = 0; i < COPIES; i++) {
		char c;
		if (read(ready[0], &c, 1) != 1)
			return 2;
	}
	long after = mem_free_kb();
	close(hold[1]);
	for (int i = 0; i < COPIES; i++)
		waitpid(kids[i], NULL, 0);
	long used = before - after;
	long text = (dynamic ? lib_bytes : BIG) / 1024;
	fprintf(stderr, "filemap_share: %d copies of %ld kB of %s pages used %ld kB (%ld kB each)\n",
		COPIES, text, dynamic ? "library text" : "program file", used, used / COPIES);
	printf("%s\n", used < COPIES * text / 4 ? "shared" : "not shared");
	return 0;
}
