/* The guest kernel parts a device ROM build of umbra can leave out
 * (shim/Cargo.toml's features; tests/e2e_device.rs): each section makes the
 * first call of one part and prints "ok" or the errno's name. Natively and
 * under the full umbra every part is there ("ok"); the device build must
 * answer as Linux built without it: ENOSYS or EAFNOSUPPORT.
 *
 *   ipc       shmget(IPC_PRIVATE), then semget and msgget (System V IPC)
 *   inotify   inotify_init1(0)
 *   inet      socket(AF_INET, SOCK_STREAM) and socket(AF_INET6, SOCK_DGRAM)
 *   netlink   socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE)
 *   unix      socketpair(AF_UNIX) (kept in every build)
 *   procfs    access(F_OK) of the /proc files of the parts: /proc/net/tcp
 *             and udp (inet), /proc/sysvipc/shm and /proc/sys/kernel/shmmax
 *             (ipc), and /proc/net/unix (kept): ENOENT where Linux built
 *             without CONFIG_INET or CONFIG_SYSVIPC has no such file
 */
#define _GNU_SOURCE
#include <errno.h>
#define NETLINK_ROUTE 0 /* <linux/netlink.h>, which musl-gcc lacks */
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *ename(int e) {
    switch (e) {
    case 0: return "ok";
    case ENOSYS: return "ENOSYS";
    case ENOENT: return "ENOENT";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    case EPROTONOSUPPORT: return "EPROTONOSUPPORT";
    case EINVAL: return "EINVAL";
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    default: return "other";
    }
}

/* Prints "what: outcome" for a call that returned r (-1 with errno). */
static void show(const char *what, int r) {
    printf("%s: %s\n", what, ename(r < 0 ? errno : 0));
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (!strcmp(s, "ipc")) {
            int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
            show("shmget", id);
            if (id >= 0)
                shmctl(id, IPC_RMID, NULL);
            id = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
            show("semget", id);
            if (id >= 0)
                semctl(id, 0, IPC_RMID);
            id = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
            show("msgget", id);
            if (id >= 0)
                msgctl(id, IPC_RMID, NULL);
        } else if (!strcmp(s, "inotify")) {
            int fd = inotify_init1(0);
            show("inotify_init1", fd);
            if (fd >= 0)
                close(fd);
        } else if (!strcmp(s, "inet")) {
            int fd = socket(AF_INET, SOCK_STREAM, 0);
            show("socket(AF_INET)", fd);
            if (fd >= 0)
                close(fd);
            fd = socket(AF_INET6, SOCK_DGRAM, 0);
            show("socket(AF_INET6)", fd);
            if (fd >= 0)
                close(fd);
        } else if (!strcmp(s, "netlink")) {
            int fd = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
            show("socket(AF_NETLINK)", fd);
            if (fd >= 0)
                close(fd);
        } else if (!strcmp(s, "unix")) {
            int sv[2];
            int r = socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
            show("socketpair(AF_UNIX)", r);
            if (r == 0) {
                close(sv[0]);
                close(sv[1]);
            }
        } else if (!strcmp(s, "procfs")) {
            static const char *const files[] = {
                "/proc/net/tcp",     "/proc/net/udp",
                "/proc/net/unix",    "/proc/sysvipc/shm",
                "/proc/sys/kernel/shmmax",
            };
            for (unsigned j = 0; j < sizeof files / sizeof files[0]; j++)
                show(files[j], access(files[j], F_OK));
        } else {
            fprintf(stderr, "unknown section %s\n", s);
            return 2;
        }
    }
    return 0;
}
