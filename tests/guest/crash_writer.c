/* A write workload for the kill -9 tests (tests/e2e_crash.rs): in a loop,
 * creates, appends to, renames and deletes files under /w on the image.
 * Every SYNC_EVERY iterations it writes /synced-K with content that depends
 * only on K, fsyncs the file and the root directory, and only then prints
 * "synced K" on stdout. The test kills umbra at a random moment and checks
 * that every reported synced-K is in the image with that content. It never
 * exits on its own. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SYNC_EVERY 8
#define MAX_SYNCED 1000
#define SLOTS 16

/* The content of synced-K: one header line, then K-dependent filler that
 * spans more than one 1 KiB block. tests/e2e_crash.rs builds the same. */
static int synced_content(int k, char *buf, int cap) {
    int n = snprintf(buf, cap, "synced-%d\n", k);
    for (int i = 0; n < cap - 1 && i < 1500; i++)
        buf[n++] = (char)('a' + (k * 7 + i) % 26);
    buf[n++] = '\n';
    return n;
}

static int write_all(int fd, const char *p, int n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w <= 0)
            return -1;
        p += w;
        n -= (int)w;
    }
    return 0;
}

int main(void) {
    static char buf[4096];
    char a[64], b[64];
    mkdir("/w", 0755);
    int k = 0;
    for (unsigned it = 0;; it++) {
        int s = (int)(it % SLOTS);
        snprintf(a, sizeof a, "/w/f-%d", s);
        snprintf(b, sizeof b, "/w/g-%d", s);
        /* Create or append, with a size that varies. */
        int fd = open(a, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            int len = 100 + (int)((it * 2654435761u) % 3000);
            memset(buf, 'x' + (int)(it % 3), sizeof buf);
            write_all(fd, buf, len);
            close(fd);
        }
        if (it % 3 == 0)
            rename(a, b);
        if (it % 5 == 0)
            unlink(b);
        if (it % 7 == 0) {
            fd = open(a, O_WRONLY | O_TRUNC);
            if (fd >= 0)
                close(fd);
        }
        if (it % SYNC_EVERY == 0 && k < MAX_SYNCED) {
            char name[64];
            snprintf(name, sizeof name, "/synced-%d", k);
            int n = synced_content(k, buf, sizeof buf);
            fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (fd < 0 || write_all(fd, buf, n) != 0 || fsync(fd) != 0)
                return 2;
            close(fd);
            int dfd = open("/", O_RDONLY | O_DIRECTORY);
            if (dfd >= 0) {
                fsync(dfd);
                close(dfd);
            }
            char line[32];
            int ln = snprintf(line, sizeof line, "synced %d\n", k);
            write_all(1, line, ln);
            k++;
        }
    }
}
