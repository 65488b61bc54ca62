/* `umbra run --stats` and SIGUSR2 (tests/e2e_stats_snapshot.rs): the
 * counts so far, printed mid-run. Prints the same natively and under umbra;
 * nothing depends on timing.
 *
 *   halves N    N getppid syscalls (through syscall(2), so no libc caches
 *               them), "ready" on stdout, then waits for one line on stdin
 *               (the test asks umbra for its report meanwhile), then N more
 *               getppid syscalls and "done".
 *   (none)      100 getppid syscalls and "done": what e2e_proc's
 *               determinism check runs.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static void calls(long n)
{
    for (long i = 0; i < n; i++)
        syscall(SYS_getppid);
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "halves")) {
        long n = atol(argv[2]);
        calls(n);
        printf("ready\n");
        fflush(stdout);
        char line[16];
        if (!fgets(line, sizeof line, stdin)) {
            printf("no line\n");
            return 1;
        }
        calls(n);
        printf("done\n");
        return 0;
    }
    if (argc == 1) {
        /* No arguments (as e2e_proc's determinism check runs every program
         * of PROC_PROGRAMS): the calls, without the pause. */
        calls(100);
        printf("done\n");
        return 0;
    }
    fprintf(stderr, "usage: stats_snapshot [halves N]\n");
    return 2;
}
