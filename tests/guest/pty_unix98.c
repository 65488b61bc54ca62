/* Unix98 ptys: /dev/ptmx masters, /dev/pts/N slaves, the line discipline
 * between them, a session on the slave driven through the master.
 * Sections (argv): open, session, slaveclose, peer. Output is deterministic:
 * the parent reads the master until it has seen what it waits for. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

static const char *en(int e)
{
    switch (e) {
    case EIO: return "EIO";
    case ENOENT: return "ENOENT";
    case EINTR: return "EINTR";
    case EAGAIN: return "EAGAIN";
    case EINVAL: return "EINVAL";
    case ENOTTY: return "ENOTTY";
    default: return "other";
    }
}

static void show(const char *what, const char *s, size_t n)
{
    printf("%s: \"", what);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (c == '\r')
            printf("\\r");
        else if (c == '\n')
            printf("\\n");
        else if (c == '\b')
            printf("\\b");
        else if (c < 32 || c >= 127)
            printf("\\x%02x", c);
        else
            putchar(c);
    }
    printf("\"\n");
    fflush(stdout);
}

/* Reads the master until `want` has arrived; prints what came. */
static void expect(int m, const char *want)
{
    char buf[4096];
    size_t n = 0;
    alarm(20);
    while (!memmem(buf, n, want, strlen(want))) {
        ssize_t r = read(m, buf + n, sizeof buf - 1 - n);
        if (r <= 0) {
            printf("master read: %zd %s\n", r, r < 0 ? en(errno) : "");
            exit(1);
        }
        n += r;
    }
    alarm(0);
    show("master", buf, n);
}

static int open_master(void)
{
    int m = posix_openpt(O_RDWR | O_NOCTTY);
    if (m < 0) {
        printf("posix_openpt: %s\n", en(errno));
        exit(1);
    }
    return m;
}

static void sec_open(void)
{
    int m = open_master();
    printf("isatty(master) %d\n", isatty(m));
    char *name = ptsname(m);
    int n = -1;
    printf("TIOCGPTN %d\n", ioctl(m, TIOCGPTN, &n));
    char want[64];
    snprintf(want, sizeof want, "/dev/pts/%d", n);
    printf("ptsname matches %d\n", name && strcmp(name, want) == 0);
    char path[64];
    snprintf(path, sizeof path, "%s", want);
    int lck = -1;
    ioctl(m, TIOCGPTLCK, &lck);
    printf("locked %d\n", lck);
    int s = open(path, O_RDWR | O_NOCTTY);
    printf("open locked slave: %d %s\n", s, s < 0 ? en(errno) : "");
    printf("grantpt %d\n", grantpt(m));
    printf("unlockpt %d\n", unlockpt(m));
    ioctl(m, TIOCGPTLCK, &lck);
    printf("locked %d\n", lck);
    struct stat st;
    printf("stat %d\n", stat(path, &st));
    printf("chr %d major %u minor==N %d mode %o uid==euid %d\n", S_ISCHR(st.st_mode),
           major(st.st_rdev), (int)minor(st.st_rdev) == n, st.st_mode & 0600,
           st.st_uid == geteuid());
    s = open(path, O_RDWR | O_NOCTTY);
    printf("open slave ok %d isatty %d\n", s >= 0, isatty(s));
    struct termios t;
    printf("tcgetattr slave %d master %d\n", tcgetattr(s, &t), tcgetattr(m, &t));
    /* Raw write through: output processing turns \n into \r\n. */
    write(s, "out\n", 4);
    expect(m, "out\r\n");
    close(s);
    close(m);
    int a = access(path, F_OK);
    printf("slave name after master close: %d %s\n", a, en(errno));
    /* devpts's own ptmx is the same device (runc links /dev/ptmx to it). */
    m = open("/dev/pts/ptmx", O_RDWR | O_NOCTTY);
    printf("/dev/pts/ptmx opens a master %d\n", m >= 0 && ioctl(m, TIOCGPTN, &n) == 0);
    close(m);
}

static volatile sig_atomic_t winched, interrupted;
static void on_winch(int sig) { (void)sig; winched = 1; }
static void on_int(int sig) { (void)sig; interrupted = 1; }

static void child_session(int m, const char *path)
{
    close(m);
    setsid();
    int s = open(path, O_RDWR);
    if (s < 0)
        _exit(90);
    if (ioctl(s, TIOCSCTTY, 0) != 0)
        _exit(91);
    dup2(s, 0);
    dup2(s, 1);
    dup2(s, 2);
    if (s > 2)
        close(s);
    sigset_t hup;
    sigemptyset(&hup);
    sigaddset(&hup, SIGHUP);
    sigprocmask(SIG_BLOCK, &hup, NULL);
    struct sigaction sa = {0};
    sa.sa_handler = on_winch;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGWINCH, &sa, NULL);
    sa.sa_handler = on_int;
    sigaction(SIGINT, &sa, NULL);
    int tty = open("/dev/tty", O_RDWR);
    char line[256];
    dprintf(1, "ready tty=%d pgrp==me %d\n", tty >= 0, tcgetpgrp(0) == getpid());
    ssize_t n = read(0, line, sizeof line - 1);
    line[n > 0 ? n : 0] = 0;
    struct winsize ws = {0};
    ioctl(0, TIOCGWINSZ, &ws);
    dprintf(1, "line %zd [%s] winched %d %dx%d\n", n, line, winched, ws.ws_row, ws.ws_col);
    /* ^C flushed "xy" whether or not this read had begun. */
    n = read(0, line, sizeof line - 1);
    line[n > 0 ? n : 0] = 0;
    dprintf(1, "after ^C: %zd [%s] interrupted %d\n", n, line, interrupted);
    n = read(0, line, sizeof line);
    dprintf(1, "eof read %zd\n", n);
    /* Wait for the hang-up. */
    while ((n = read(0, line, sizeof line)) < 0 && errno == EINTR)
        ;
    int code = 0;
    /* 0 (hung up) or EIO (the other end closed), as the race goes. */
    if (n == 0 || (n < 0 && errno == EIO))
        code |= 1;
    if (write(1, "x", 1) < 0 && errno == EIO)
        code |= 2;
    struct timespec to = {20, 0};
    if (sigtimedwait(&hup, NULL, &to) == SIGHUP)
        code |= 4;
    _exit(code);
}

static void sec_session(void)
{
    int m = open_master();
    grantpt(m);
    unlockpt(m);
    char path[64];
    snprintf(path, sizeof path, "%s", ptsname(m));
    pid_t pid = fork();
    if (pid == 0)
        child_session(m, path);
    expect(m, "\r\n");
    struct winsize ws = {.ws_row = 30, .ws_col = 100};
    printf("TIOCSWINSZ %d\n", ioctl(m, TIOCSWINSZ, &ws));
    write(m, "abc\x7f" "d\n", 6);
    expect(m, "x100\r\n");
    struct pollfd p = {.fd = m, .events = POLLIN};
    printf("poll idle %d\n", poll(&p, 1, 0));
    write(m, "xy\x03", 3);
    write(m, "q\n", 2);
    expect(m, "interrupted 1\r\n");
    write(m, "\x04", 1);
    expect(m, "eof read 0\r\n");
    close(m);
    int status;
    waitpid(pid, &status, 0);
    printf("child exited %d code %d\n", WIFEXITED(status), WEXITSTATUS(status));
    printf("slave name gone %d\n", access(path, F_OK) < 0 && errno == ENOENT);
}

static void sec_slaveclose(void)
{
    int m = open_master();
    grantpt(m);
    unlockpt(m);
    int s = open(ptsname(m), O_RDWR | O_NOCTTY);
    write(s, "bye\n", 4);
    close(s);
    char buf[64];
    ssize_t n = read(m, buf, sizeof buf);
    show("buffered", buf, n > 0 ? n : 0);
    struct pollfd p = {.fd = m, .events = POLLIN};
    int r = poll(&p, 1, 5000);
    printf("poll %d hup %d\n", r, !!(p.revents & POLLHUP));
    n = read(m, buf, sizeof buf);
    printf("read after slave close: %zd %s\n", n, n < 0 ? en(errno) : "");
    close(m);
}

static void sec_peer(void)
{
    int m = open_master();
    int s = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY);
    printf("peer while locked: %d %s\n", s, s < 0 ? en(errno) : "");
    unlockpt(m);
    s = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
    printf("peer ok %d cloexec %d\n", s >= 0, (fcntl(s, F_GETFD) & FD_CLOEXEC) != 0);
    char link[64], proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", s);
    ssize_t n = readlink(proc, link, sizeof link - 1);
    link[n > 0 ? n : 0] = 0;
    printf("peer is ptsname %d\n", strcmp(link, ptsname(m)) == 0);
    write(m, "hi\n", 3);
    char buf[64];
    n = read(s, buf, sizeof buf);
    show("slave got", buf, n > 0 ? n : 0);
    expect(m, "hi\r\n");
    close(s);
    close(m);
}

static void sec_epoll(void)
{
    int m = open_master();
    unlockpt(m);
    int s = open(ptsname(m), O_RDWR | O_NOCTTY);
    int em = epoll_create1(0), es = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.fd = m};
    epoll_ctl(em, EPOLL_CTL_ADD, m, &ev);
    ev.events = EPOLLIN;
    ev.data.fd = s;
    epoll_ctl(es, EPOLL_CTL_ADD, s, &ev);
    struct epoll_event out;
    printf("master idle %d slave idle %d\n", epoll_wait(em, &out, 1, 0), epoll_wait(es, &out, 1, 0));
    write(s, "a", 1);
    int r = epoll_wait(em, &out, 1, 5000);
    printf("master after slave write %d in %d\n", r, !!(out.events & EPOLLIN));
    printf("master again (edge) %d\n", epoll_wait(em, &out, 1, 0));
    write(s, "b", 1);
    printf("master after more %d\n", epoll_wait(em, &out, 1, 5000));
    write(m, "partial", 7);
    printf("slave with a partial line %d\n", epoll_wait(es, &out, 1, 0));
    write(m, "\n", 1);
    r = epoll_wait(es, &out, 1, 5000);
    printf("slave with a line %d in %d\n", r, !!(out.events & EPOLLIN));
    close(s);
    close(m);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    for (int i = 1; i < argc; i++) {
        printf("== %s\n", argv[i]);
        if (!strcmp(argv[i], "open"))
            sec_open();
        else if (!strcmp(argv[i], "session"))
            sec_session();
        else if (!strcmp(argv[i], "slaveclose"))
            sec_slaveclose();
        else if (!strcmp(argv[i], "peer"))
            sec_peer();
        else if (!strcmp(argv[i], "epoll"))
            sec_epoll();
    }
    return 0;
}
