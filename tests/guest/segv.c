/* segv: writes to address 16. The program must die of SIGSEGV: natively the
 * wait status says signal 11, under umbra the exit status is 128 + 11 = 139.
 * The line before the fault goes out with write(2), so it is not lost in a
 * stdio buffer. */
#include <unistd.h>

int main(void)
{
	static const char msg[] = "about to write to address 16\n";
	write(1, msg, sizeof msg - 1);
	int *volatile target = (int *)16;
	*target = 1;
	static const char bad[] = "still alive after the fault\n";
	write(1, bad, sizeof bad - 1);
	return 0;
}
