/*
 * The floor under a round start: how long N plain send() calls of one
 * small message each, on N loopback TCP connections, take on this machine,
 * with a reader process draining the other ends as the load generator
 * does. No WebSocket, no JSON, no matching: whatever the server adds to a
 * round start comes on top of this.
 *
 *   bench_sendfloor [--conns N] [--size BYTES] [--writers W]
 *                   [--writer-cpus LIST] [--reader-cpu C] [--runs R]
 *
 * The writers (threads of this process, W of them, each writing every
 * W-th connection) may run on --writer-cpus (default "0": all on core 0;
 * "0,1": thread k on core k % 2); the reader (a child process, epoll over
 * all its sockets) on --reader-cpu (default 1). Each run prints the time
 * the writers took (from the go to the last send returning) and the time
 * until the reader had every byte. Connections are bound to 127.0.0.2..
 * (one source address per 20000) so that runs do not use up ports.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static void pin(int cpu)
{
    cpu_set_t s;
    CPU_ZERO(&s);
    CPU_SET(cpu, &s);
    sched_setaffinity(0, sizeof(s), &s);
}

static struct {
    int conns, size, writers, reader_cpu, runs;
    int cpus[16], n_cpus;
} O = {10000, 450, 1, 1, 3, {0}, 1};

typedef struct writer {
    pthread_t th;
    int k;
    const int *fds;
    const char *msg;
    long short_writes;
} writer_t;

static void *write_share(void *arg)
{
    writer_t *w = arg;
    pin(O.cpus[w->k % O.n_cpus]);
    for (int i = w->k; i < O.conns; i += O.writers)
        if (send(w->fds[i], w->msg, (size_t)O.size, MSG_NOSIGNAL) != O.size)
            w->short_writes++;
    return NULL;
}

/* The reader: connects every client socket, says so on ready_fd, then for
 * each run waits for a byte on go_fd and reads until it has conns * size
 * bytes, and writes the time it finished to ready_fd. */
static int reader(const struct sockaddr_in *to, int go_fd, int ready_fd, unsigned base)
{
    pin(O.reader_cpu);
    int ep = epoll_create1(0);
    for (int i = 0; i < O.conns; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in from = {.sin_family = AF_INET};
        from.sin_addr.s_addr = htonl(base + (unsigned)(i / 20000));
        if (fd < 0 || bind(fd, (const struct sockaddr *)&from, sizeof(from)) ||
            connect(fd, (const struct sockaddr *)to, sizeof(*to))) {
            perror("reader: connect");
            return 1;
        }
        struct epoll_event e = {.events = EPOLLIN, .data.fd = fd};
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
    }
    char c = 'r';
    if (write(ready_fd, &c, 1) != 1)
        return 1;
    static char buf[65536];
    struct epoll_event ev[512];
    for (int run = 0; run < O.runs; run++) {
        if (read(go_fd, &c, 1) != 1)
            return 1;
        long want = (long)O.conns * O.size, got = 0;
        while (got < want) {
            int n = epoll_wait(ep, ev, 512, 5000);
            if (n <= 0) {
                fprintf(stderr, "reader: nothing for 5 s (%ld of %ld bytes)\n", got, want);
                return 1;
            }
            for (int i = 0; i < n; i++) {
                ssize_t r = read(ev[i].data.fd, buf, sizeof(buf));
                if (r > 0)
                    got += r;
            }
        }
        double t = now_ms();
        if (write(ready_fd, &t, sizeof(t)) != sizeof(t))
            return 1;
    }
    return 0;
}

static int parse_cpus(const char *s)
{
    O.n_cpus = 0;
    for (const char *p = s; *p && O.n_cpus < 16;) {
        O.cpus[O.n_cpus++] = atoi(p);
        p = strchr(p, ',');
        if (!p)
            break;
        p++;
    }
    return O.n_cpus > 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--conns"))
            O.conns = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--size"))
            O.size = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--writers"))
            O.writers = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--writer-cpus"))
            parse_cpus(argv[i + 1]);
        else if (!strcmp(argv[i], "--reader-cpu"))
            O.reader_cpu = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--runs"))
            O.runs = atoi(argv[i + 1]);
        else {
            fprintf(stderr,
                    "usage: %s [--conns N] [--size BYTES] [--writers W] "
                    "[--writer-cpus LIST] [--reader-cpu C] [--runs R]\n",
                    argv[0]);
            return 2;
        }
    }
    if (O.conns < 1 || O.size < 1 || O.writers < 1 || O.writers > 64 || O.runs < 1) {
        fprintf(stderr, "bench_sendfloor: bad arguments\n");
        return 2;
    }
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in at = {.sin_family = AF_INET};
    at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof(at);
    if (bind(ls, (struct sockaddr *)&at, sizeof(at)) || listen(ls, 4096) ||
        getsockname(ls, (struct sockaddr *)&at, &al)) {
        perror("listen");
        return 1;
    }
    int go[2], ready[2];
    if (pipe(go) || pipe(ready))
        return 1;
    /* A different block of source addresses per process: the previous
     * run's connections may still be in TIME_WAIT. */
    unsigned base = 0x7f000002u + (unsigned)(getpid() % 200) * 256;
    pid_t child = fork();
    if (child == 0)
        _exit(reader(&at, go[0], ready[1], base));
    int *fds = calloc((size_t)O.conns, sizeof(int));
    for (int i = 0; i < O.conns; i++) {
        fds[i] = accept(ls, NULL, NULL);
        int one = 1;
        if (fds[i] < 0 || setsockopt(fds[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one))) {
            perror("accept");
            kill(child, SIGKILL);
            return 1;
        }
    }
    char c;
    if (read(ready[0], &c, 1) != 1)
        return 1;
    char *msg = malloc((size_t)O.size);
    memset(msg, 'x', (size_t)O.size);
    printf("bench_sendfloor: %d connections, %d-byte messages, %d writer(s) on cpus", O.conns,
           O.size, O.writers);
    for (int i = 0; i < O.n_cpus; i++)
        printf("%s%d", i ? "," : " ", O.cpus[i]);
    printf(", reader on cpu %d\n", O.reader_cpu);
    writer_t *w = calloc((size_t)O.writers, sizeof(*w));
    int rc = 0;
    for (int run = 0; run < O.runs; run++) {
        usleep(200000); /* let the previous run's ACKs settle */
        double t0 = now_ms();
        if (write(go[1], "g", 1) != 1)
            return 1;
        for (int k = 0; k < O.writers; k++) {
            w[k] = (writer_t){.k = k, .fds = fds, .msg = msg};
            pthread_create(&w[k].th, NULL, write_share, &w[k]);
        }
        long shorts = 0;
        for (int k = 0; k < O.writers; k++) {
            pthread_join(w[k].th, NULL);
            shorts += w[k].short_writes;
        }
        double t1 = now_ms(), t2;
        if (read(ready[0], &t2, sizeof(t2)) != sizeof(t2)) {
            rc = 1;
            break;
        }
        printf("  run %d: sends %.1f ms (%.2f us each), last byte read %.1f ms%s\n", run + 1,
               t1 - t0, (t1 - t0) * 1e3 / O.conns, t2 - t0, shorts ? " (short writes!)" : "");
    }
    int st = 0;
    waitpid(child, &st, 0);
    return rc || !WIFEXITED(st) || WEXITSTATUS(st) ? 1 : 0;
}
