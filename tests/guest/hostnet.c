/* The host network as a policy grants it (tests/e2e_hostnet.rs): each
 * section is one client, run natively (reaching the host directly) and under
 * umbra (reaching it only through what umbra's flags grant). Output never
 * contains a path, port or address that differs between the two runs.
 *
 *   unix PATH        stream connect to PATH, send a line, print the echo,
 *                    check getpeername against PATH, half-close, read EOF
 *   connect_unix PATH  only the connect's outcome (errno name)
 *   abstract NAME    connect to the abstract name NAME: outcome
 *   tcp IP PORT      TCP connect: outcome
 *   udp IP PORT      UDP sendto: outcome
 *   raw              raw and packet sockets: created or not
 *   probe SPEC...    for each SPEC, "N: outcome" (N counts from 1): tcp:IP:PORT
 *                    (connect), udp:IP:PORT (connect, send a datagram,
 *                    wait up to 30 s for one back: "reply"), abs:NAME or
 *                    path:PATH (AF_UNIX stream connect)
 *   udp_echo PORT    a UDP echo server on 0.0.0.0:PORT, forever: each
 *                    datagram comes back as "N[ lo] DATA", N numbering the
 *                    distinct senders in order of arrival, "lo" when the
 *                    sender is 127.0.0.1 (tests --publish .../udp)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static const char *ename(int e) {
    switch (e) {
    case 0: return "ok";
    case ENOENT: return "ENOENT";
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case ECONNREFUSED: return "ECONNREFUSED";
    case ENETUNREACH: return "ENETUNREACH";
    case EHOSTUNREACH: return "EHOSTUNREACH";
    case ETIMEDOUT: return "ETIMEDOUT";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    case EPROTONOSUPPORT: return "EPROTONOSUPPORT";
    case ESOCKTNOSUPPORT: return "ESOCKTNOSUPPORT";
    case EINVAL: return "EINVAL";
    case EPROTOTYPE: return "EPROTOTYPE";
    default: return "other";
    }
}

static int unix_connect(const char *path, int abstract) {
    struct sockaddr_un a;
    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    socklen_t len;
    if (abstract) {
        strncpy(a.sun_path + 1, path, sizeof a.sun_path - 2);
        len = offsetof(struct sockaddr_un, sun_path) + 1 + strlen(path);
    } else {
        strncpy(a.sun_path, path, sizeof a.sun_path - 1);
        len = sizeof a;
    }
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    if (s < 0) {
        printf("socket: %s\n", ename(errno));
        return -1;
    }
    if (connect(s, (struct sockaddr *)&a, len) < 0) {
        int e = errno;
        close(s);
        errno = e;
        return -1;
    }
    return s;
}

static int sec_unix(const char *path) {
    int s = unix_connect(path, 0);
    printf("connect: %s\n", ename(s < 0 ? errno : 0));
    if (s < 0)
        return 1;
    const char *msg = "hello host\n";
    if (write(s, msg, strlen(msg)) != (ssize_t)strlen(msg)) {
        printf("write: %s\n", ename(errno));
        return 1;
    }
    char buf[256];
    size_t got = 0;
    while (got < sizeof buf - 1) {
        ssize_t n = read(s, buf + got, sizeof buf - 1 - got);
        if (n <= 0)
            break;
        got += n;
        if (buf[got - 1] == '\n')
            break;
    }
    buf[got] = 0;
    printf("echo: %s", buf);
    struct sockaddr_un peer;
    socklen_t plen = sizeof peer;
    memset(&peer, 0, sizeof peer);
    if (getpeername(s, (struct sockaddr *)&peer, &plen) < 0)
        printf("getpeername: %s\n", ename(errno));
    else
        printf("peer is the path: %s\n",
               peer.sun_family == AF_UNIX && strcmp(peer.sun_path, path) == 0 ? "yes" : "no");
    shutdown(s, SHUT_WR);
    ssize_t n = read(s, buf, sizeof buf);
    printf("after shutdown: read %zd\n", n);
    close(s);
    return 0;
}

static int sec_connect_unix(const char *path, int abstract) {
    int s = unix_connect(path, abstract);
    printf("connect %s: %s\n", abstract ? "abstract" : "path", ename(s < 0 ? errno : 0));
    if (s >= 0)
        close(s);
    return 0;
}

static int sec_tcp(const char *ip, int port, int udp) {
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    inet_pton(AF_INET, ip, &a.sin_addr);
    int s = socket(AF_INET, udp ? SOCK_DGRAM : SOCK_STREAM, 0);
    if (s < 0) {
        printf("socket: %s\n", ename(errno));
        return 1;
    }
    int r;
    if (udp)
        r = sendto(s, "x", 1, 0, (struct sockaddr *)&a, sizeof a) == 1 ? 0 : -1;
    else
        r = connect(s, (struct sockaddr *)&a, sizeof a);
    printf("%s: %s\n", udp ? "sendto" : "connect", ename(r < 0 ? errno : 0));
    close(s);
    return 0;
}

static int sec_raw(void) {
    struct { const char *name; int d, t, p; } c[] = {
        {"inet raw icmp", AF_INET, SOCK_RAW, IPPROTO_ICMP},
        {"inet raw tcp", AF_INET, SOCK_RAW, IPPROTO_TCP},
        {"inet6 raw", AF_INET6, SOCK_RAW, 58},
        {"packet raw", 17 /* AF_PACKET */, SOCK_RAW, 0x0300},
        {"packet dgram", 17, SOCK_DGRAM, 0x0300},
        {"inet packet", AF_INET, 10 /* SOCK_PACKET */, 0x0300},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        int s = socket(c[i].d, c[i].t, c[i].p);
        printf("%s: %s\n", c[i].name, s >= 0 ? "created" : "refused");
        if (s >= 0)
            close(s);
    }
    return 0;
}

static int inet_probe(const char *spec, int udp) {
    char ip[64];
    const char *colon = strrchr(spec, ':');
    if (!colon || colon - spec >= (long)sizeof ip)
        return EINVAL;
    memcpy(ip, spec, colon - spec);
    ip[colon - spec] = 0;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(atoi(colon + 1));
    if (inet_pton(AF_INET, ip, &a.sin_addr) != 1)
        return EINVAL;
    int s = socket(AF_INET, udp ? SOCK_DGRAM : SOCK_STREAM, 0);
    if (s < 0)
        return errno;
    int e = 0;
    if (connect(s, (struct sockaddr *)&a, sizeof a) < 0)
        e = errno;
    else if (udp && send(s, "ping", 4, 0) != 4)
        e = errno;
    else if (udp) {
        struct pollfd p = {s, POLLIN, 0};
        char buf[64];
        if (poll(&p, 1, 30000) != 1)
            e = ETIMEDOUT;
        else if (recv(s, buf, sizeof buf, 0) < 0)
            e = errno;
        else
            e = -1; /* a reply */
    }
    close(s);
    return e;
}

static int sec_probe(int n, char **specs) {
    for (int i = 0; i < n; i++) {
        const char *sp = specs[i];
        int e;
        if (strncmp(sp, "tcp:", 4) == 0)
            e = inet_probe(sp + 4, 0);
        else if (strncmp(sp, "udp:", 4) == 0)
            e = inet_probe(sp + 4, 1);
        else if (strncmp(sp, "abs:", 4) == 0 || strncmp(sp, "path:", 5) == 0) {
            int abstract = sp[0] == 'a';
            int s = unix_connect(sp + (abstract ? 4 : 5), abstract);
            e = s < 0 ? errno : 0;
            if (s >= 0)
                close(s);
        } else
            e = EINVAL;
        printf("%d: %s\n", i + 1, e == -1 ? "reply" : ename(e));
    }
    return 0;
}

static int sec_udp_echo(int port) {
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) < 0) {
        printf("bind: %s\n", ename(errno));
        return 1;
    }
    struct sockaddr_in seen[16];
    int nseen = 0;
    for (;;) {
        char buf[512], out[600];
        struct sockaddr_in from;
        socklen_t fl = sizeof from;
        ssize_t n = recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
        if (n < 0) {
            printf("recvfrom: %s\n", ename(errno));
            return 1;
        }
        int i = 0;
        while (i < nseen && !(seen[i].sin_addr.s_addr == from.sin_addr.s_addr &&
                              seen[i].sin_port == from.sin_port))
            i++;
        if (i == nseen && nseen < 16)
            seen[nseen++] = from;
        int lo = from.sin_addr.s_addr == htonl(INADDR_LOOPBACK);
        int m = snprintf(out, sizeof out, "%d%s %.*s", i + 1, lo ? " lo" : "", (int)n, buf);
        sendto(s, out, m, 0, (struct sockaddr *)&from, fl);
    }
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc >= 3 && strcmp(argv[1], "unix") == 0)
        return sec_unix(argv[2]);
    if (argc >= 3 && strcmp(argv[1], "connect_unix") == 0)
        return sec_connect_unix(argv[2], 0);
    if (argc >= 3 && strcmp(argv[1], "abstract") == 0)
        return sec_connect_unix(argv[2], 1);
    if (argc >= 4 && strcmp(argv[1], "tcp") == 0)
        return sec_tcp(argv[2], atoi(argv[3]), 0);
    if (argc >= 4 && strcmp(argv[1], "udp") == 0)
        return sec_tcp(argv[2], atoi(argv[3]), 1);
    if (argc >= 2 && strcmp(argv[1], "raw") == 0)
        return sec_raw();
    if (argc >= 2 && strcmp(argv[1], "probe") == 0)
        return sec_probe(argc - 2, argv + 2);
    if (argc >= 3 && strcmp(argv[1], "udp_echo") == 0)
        return sec_udp_echo(atoi(argv[2]));
    /* No section: nothing to do (e2e_proc runs every program bare). */
    if (argc == 1)
        return 0;
    fprintf(stderr, "usage: hostnet unix|connect_unix|abstract|tcp|udp|raw|probe|udp_echo ...\n");
    return 2;
}
