/* dynhello: a dynamically linked glibc hello world for the ARM suite
 * (images/arm/run.sh cross-compiles it with Debian's aarch64-linux-gnu-gcc or
 * arm-linux-gnueabihf-gcc and puts the arch's ld.so and libc.so.6 beside it).
 * Prints what the dynamic linker got from the kernel, natively and under
 * umbra alike: the interpreter's base (AT_BASE), the entry (AT_ENTRY is
 * _start) and the program headers (AT_PHDR is the main object's). */
#define _GNU_SOURCE
#include <link.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>

extern void _start(void);

static int first(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	*(const void **)data = info->dlpi_phdr;
	return 1;
}

int main(int argc, char **argv)
{
	const void *phdr = NULL;
	dl_iterate_phdr(first, &phdr);
	char buf[64];
	snprintf(buf, sizeof buf, "%s", "hello from dynamic glibc");
	printf("%s (%zu bytes)\n", buf, strlen(buf));
	printf("AT_BASE set: %d\n", getauxval(AT_BASE) != 0);
	printf("AT_ENTRY is _start: %d\n", getauxval(AT_ENTRY) == (unsigned long)&_start);
	printf("AT_PHDR is the program's: %d\n", getauxval(AT_PHDR) == (unsigned long)phdr);
	printf("argc=%d argv[1]=%s\n", argc, argc > 1 ? argv[1] : "(none)");
	return 0;
}
