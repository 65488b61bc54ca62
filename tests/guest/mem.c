/* mem: the address space. brk grows and shrinks, a 16 MiB anonymous mapping
 * is touched page by page and checksummed, mprotect and munmap succeed, a hint
 * is honoured, and MAP_FIXED replaces part of an existing mapping. Addresses
 * are never printed, only relations between them. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "common.h"

#define PAGE 4096UL
#define MIB (1024UL * 1024UL)

static uintptr_t brk_(uintptr_t to)
{
	/* musl's sbrk() refuses to move the break, so call the syscall. */
	return (uintptr_t)syscall(SYS_brk, to);
}

int main(void)
{
	/* All brk work happens before the first printf: stdio's malloc may use
	 * the break too, and must not find its heap overwritten. */
	uintptr_t b0 = brk_(0);
	uintptr_t b1 = brk_(b0 + MIB);
	if (b1 == b0 + MIB)
		memset((void *)b0, 0x5a, MIB);
	unsigned long sum = 0;
	for (uintptr_t p = b0; b1 == b0 + MIB && p < b0 + MIB; p += PAGE)
		sum += *(unsigned char *)p;
	uintptr_t b2 = brk_(b0 + PAGE);
	uintptr_t b3 = brk_(b0 + 2 * PAGE);
	int zeroed = b3 == b0 + 2 * PAGE && *(unsigned char *)(b0 + PAGE) == 0;
	uintptr_t b4 = brk_(1);
	uintptr_t b5 = brk_(b0);
	printf("brk(0) nonzero: %s\n", b0 ? "yes" : "no");
	printf("brk(+1 MiB) moved: %s\n", b1 == b0 + MIB ? "yes" : "no");
	printf("brk area sum: %lu\n", sum);
	printf("brk shrink: %s\n", b2 == b0 + PAGE ? "yes" : "no");
	printf("brk regrow: %s, new page zeroed: %s\n", b3 == b0 + 2 * PAGE ? "yes" : "no",
	       zeroed ? "yes" : "no");
	printf("brk(1) returns current: %s\n", b4 == b3 ? "yes" : "no");
	printf("brk back to start: %s\n", b5 == b0 ? "yes" : "no");

	size_t len = 16 * MIB;
	unsigned char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	printf("mmap 16 MiB: %s, page aligned: %s\n", m == MAP_FAILED ? "failed" : "ok",
	       ((uintptr_t)m & (PAGE - 1)) == 0 ? "yes" : "no");
	if (m == MAP_FAILED)
		return 1;
	unsigned long zeros = 0;
	for (size_t i = 0; i < len; i += PAGE)
		zeros += m[i] == 0 && m[i + PAGE - 1] == 0;
	printf("fresh pages zero: %lu of %lu\n", zeros, (unsigned long)(len / PAGE));
	for (size_t i = 0; i < len; i += PAGE)
		m[i] = (unsigned char)(i / PAGE * 7 + 1);
	sum = 0;
	for (size_t i = 0; i < len; i += PAGE)
		sum += m[i];
	printf("checksum: %lu\n", sum);
	printf("mprotect(PROT_READ): %d\n", mprotect(m, PAGE, PROT_READ));
	printf("read after mprotect: %d\n", m[0]);
	errno = 0;
	int r = (int)syscall(SYS_mprotect, m + 1, PAGE, PROT_READ);
	printf("mprotect(unaligned): %d %s\n", r, errname(errno));
	printf("munmap tail: %d\n", munmap(m + len / 2, len / 2));
	printf("munmap again: %d\n", munmap(m + len / 2, len / 2));
	printf("munmap all: %d\n", munmap(m, len / 2));
	errno = 0;
	r = munmap(m + 1, PAGE);
	printf("munmap(unaligned): %d %s\n", r, errname(errno));
	errno = 0;
	void *z = mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	printf("mmap(len 0): %s %s\n", z == MAP_FAILED ? "failed" : "ok", errname(errno));

	void *hint = (void *)(uintptr_t)0x100000000000ULL;
	unsigned char *h = mmap(hint, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	printf("mmap with free hint honoured: %s\n", (void *)h == hint ? "yes" : "no");
	if (h == MAP_FAILED)
		return 1;
	memset(h, 0x11, 2 * PAGE);

	unsigned char *t = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(t, 0x77, 3 * PAGE);
	unsigned char *f = mmap(t + PAGE, PAGE, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	printf("MAP_FIXED at requested address: %s\n", f == t + PAGE ? "yes" : "no");
	printf("MAP_FIXED page zeroed: %s, neighbours kept: %s\n",
	       f[0] == 0 && f[PAGE - 1] == 0 ? "yes" : "no",
	       t[0] == 0x77 && t[PAGE - 1] == 0x77 && t[2 * PAGE] == 0x77 ? "yes" : "no");
	printf("hinted mapping intact: %s\n", h[0] == 0x11 && h[2 * PAGE - 1] == 0x11 ? "yes" : "no");
	printf("munmap: %d %d\n", munmap(t, 3 * PAGE), munmap(h, 2 * PAGE));
	return 0;
}
