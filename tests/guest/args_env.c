/* args_env: what a program sees at start: argc, argv, envp and the auxiliary
 * vector. Only values that are the same natively and under umbra are printed:
 * AT_RANDOM and AT_HWCAP are checked for presence, AT_EXECFN by basename. */
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>

int main(int argc, char **argv, char **envp)
{
	printf("argc=%d\n", argc);
	for (int i = 0; i < argc; i++)
		printf("argv[%d]=%s\n", i, argv[i]);
	for (int i = 0; envp[i]; i++)
		printf("envp[%d]=%s\n", i, envp[i]);
	printf("AT_PAGESZ=%lu\n", getauxval(AT_PAGESZ));
	printf("AT_UID=%lu AT_EUID=%lu AT_GID=%lu AT_EGID=%lu\n", getauxval(AT_UID),
	       getauxval(AT_EUID), getauxval(AT_GID), getauxval(AT_EGID));
	printf("AT_SECURE=%lu\n", getauxval(AT_SECURE));
	const char *execfn = (const char *)getauxval(AT_EXECFN);
	if (execfn) {
		const char *slash = strrchr(execfn, '/');
		printf("AT_EXECFN basename=%s\n", slash ? slash + 1 : execfn);
	} else {
		printf("AT_EXECFN missing\n");
	}
	printf("AT_RANDOM %s\n", getauxval(AT_RANDOM) ? "present" : "missing");
	printf("AT_HWCAP %s\n", getauxval(AT_HWCAP) ? "nonzero" : "zero");
	return 0;
}
