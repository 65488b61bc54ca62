/* hello: the smallest guest. Prints one line through stdio and exits with a
 * status that is neither 0 nor 1, so a test sees the status pass through. */
#include <stdio.h>

int main(void)
{
	printf("hello from a static guest\n");
	return 42;
}
