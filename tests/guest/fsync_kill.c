/* Writes /synced.txt, fsyncs it, says "synced" and waits to be killed.
 * tests/e2e_ext2.rs kills umbra with SIGKILL right after "synced" and checks
 * with debugfs that the file is in the image. */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

int main(void) {
    static const char msg[] = "this survived kill -9\n";
    int fd = open("/synced.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return 1;
    if (write(fd, msg, strlen(msg)) != (ssize_t)strlen(msg))
        return 2;
    if (fsync(fd) != 0)
        return 3;
    write(1, "synced\n", 7);
    for (;;)
        sleep(100);
}
