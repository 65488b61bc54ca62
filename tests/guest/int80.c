/* int80: a 64-bit program entering the kernel the wrong way. `int $0x80` is
 * the i386 entry, where 20 is getpid; a 64-bit syscall with the x32 bit set
 * (0x40000000 | 39) is the x32 getpid. umbra must serve neither as the 64-bit
 * call of the same number: it returns -ENOSYS (-38) or kills the program with
 * SIGSYS. Natively both may work, so this test runs under umbra only.
 * Output goes out through write(2) so that nothing is lost if the program is
 * killed. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void say(const char *what, long r)
{
	char line[96];
	int n = snprintf(line, sizeof line, "%s: %ld\n", what, r);
	write(1, line, n);
}

int main(void)
{
#if defined(__x86_64__)
	long r;
	__asm__ volatile("syscall"
			 : "=a"(r)
			 : "a"(0x40000000L | 39)
			 : "rcx", "r11", "memory");
	say("x32 getpid", r);
	__asm__ volatile("int $0x80"
			 : "=a"(r)
			 : "a"(20L)
			 : "r8", "r9", "r10", "r11", "memory");
	say("int80 getpid", r);
	return 0;
#else
	write(1, "not x86_64\n", 11);
	return 0;
#endif
}
