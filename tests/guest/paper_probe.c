/* Probes for the paper's drawing benchmark and `umbra run --stats`
 * (tests/e2e_xengine.rs). Each section prints the same natively and under
 * umbra; nothing printed depends on timing except a verdict with a wide
 * margin.
 *
 *   getppid N     exactly N getppid syscalls (through syscall(2), so no libc
 *                 caches them); --stats must count at least N
 *   wake PATH     an X client's wait for its reply: connect to the host
 *                 stream socket PATH, send "go\n", read one byte ("A") of
 *                 what the server sends at once, then poll for POLLIN on the
 *                 writable socket until the server's second byte ("B"),
 *                 which it sends 200 ms later. The poll must return when "B"
 *                 arrives, far sooner than its 20 s timeout.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int sec_getppid(long n)
{
    long i, bad = 0;
    pid_t want = getppid();
    for (i = 0; i < n; i++)
        if (syscall(SYS_getppid) != want)
            bad++;
    printf("getppid: %ld calls, %ld differed\n", n, bad);
    return bad != 0;
}

static int sec_wake(const char *path)
{
    struct sockaddr_un a;
    char c;
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    strncpy(a.sun_path, path, sizeof a.sun_path - 1);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        printf("wake: connect: %s\n", strerror(errno));
        return 1;
    }
    if (write(fd, "go\n", 3) != 3) {
        printf("wake: write: %s\n", strerror(errno));
        return 1;
    }
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int r = poll(&p, 1, 20000);
    printf("wake: first poll %d revents %s\n", r, (p.revents & POLLIN) ? "POLLIN" : "-");
    if (read(fd, &c, 1) != 1 || c != 'A') {
        printf("wake: no first byte\n");
        return 1;
    }
    printf("wake: first byte %c\n", c);
    /* Nothing to read now, but the socket is writable: the wait is for
     * input only. */
    p.revents = 0;
    double t0 = now();
    r = poll(&p, 1, 20000);
    double dt = now() - t0;
    printf("wake: second poll %d revents %s\n", r, (p.revents & POLLIN) ? "POLLIN" : "-");
    printf("wake: woke %s\n", dt < 10 ? "when the byte came" : "only at the timeout");
    if (read(fd, &c, 1) != 1) {
        printf("wake: no second byte\n");
        return 1;
    }
    printf("wake: second byte %c\n", c);
    close(fd);
    return dt >= 10;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc == 3 && !strcmp(argv[1], "getppid"))
        return sec_getppid(atol(argv[2]));
    if (argc == 3 && !strcmp(argv[1], "wake"))
        return sec_wake(argv[2]);
    if (argc == 1)
        return 0;
    fprintf(stderr, "usage: paper_probe getppid N | wake PATH\n");
    return 2;
}
