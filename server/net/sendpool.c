/*
 * Writing a large flush from several threads (net_internal.h).
 *
 * A round start at 10k writes one send() per connection, 10k of them, and
 * on loopback or a busy NIC each send is several microseconds of kernel
 * time: the writes, not the matching, are what the last participant waits
 * for. When the node may run on more than one core, the node's thread and
 * its helpers split the connections of one flush between them.
 *
 * lws is not thread-safe, so the helpers never call it: the node's thread
 * decides which connections may be written straight to their socket (plain
 * TCP, nothing lws still holds, see ib__out_flush_all), the helpers and the
 * node's thread write those frames with sendmsg() and record how much each
 * socket took, and while that happens the node's thread does nothing else.
 * Afterwards, on the node's thread only, whatever a socket did not take is
 * handed to lws (which keeps it and writes it on POLLOUT, before anything
 * newer), and the buffers are released.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "net_internal.h"

/* Connections taken at a time by a thread: large enough that the shared
 * counter is touched rarely, small enough to share the tail evenly. */
#define IB_SENDPOOL_CHUNK 64

struct ib_sendpool {
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    pthread_t *threads;
    int n_threads;
    bool stop;
    uint64_t generation; /* bumped for each flush the helpers join */
    int busy;            /* helpers still working on this generation */
    /* The flush being written (set before generation is bumped). */
    const ib_out_rec_t *recs;
    ib_send_job_t *jobs;
    size_t n_jobs;
    atomic_size_t next;
};

size_t ib__out_frame_header(unsigned char *p, size_t len)
{
    p[0] = 0x81; /* FIN, text, no mask */
    if (len < 126) {
        p[1] = (unsigned char)len;
        return 2;
    }
    if (len <= 0xffff) {
        p[1] = 126;
        p[2] = (unsigned char)(len >> 8);
        p[3] = (unsigned char)len;
        return 4;
    }
    p[1] = 127;
    for (int i = 0; i < 8; i++)
        p[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
    return 10;
}

/* One job: its frames in one sendmsg() (headers and payloads side by side
 * in the vector, nothing copied). */
static void write_job(const ib_out_rec_t *recs, ib_send_job_t *j)
{
    unsigned char hdr[IB_OUT_HOLD_MAX][10];
    struct iovec iov[2 * IB_OUT_HOLD_MAX];
    int n = 0, k = 0;
    for (uint32_t i = j->first; i && k < IB_OUT_HOLD_MAX; i = recs[i - 1].next, k++) {
        const ib_buf_t *b = recs[i - 1].buf;
        iov[n++] = (struct iovec){hdr[k], ib__out_frame_header(hdr[k], b->len)};
        iov[n++] = (struct iovec){(void *)ib_buf_payload((ib_buf_t *)b), b->len};
    }
    struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)n};
    ssize_t w;
    do
        w = sendmsg(j->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
    while (w < 0 && errno == EINTR);
    /* A short write or an error: the node's thread gives the rest to lws,
     * which keeps it for POLLOUT or finds the connection gone, as it would
     * have for its own write. */
    j->sent = w > 0 ? (size_t)w : 0;
}

static void run_jobs(ib_sendpool_t *p)
{
    for (;;) {
        size_t a = atomic_fetch_add_explicit(&p->next, IB_SENDPOOL_CHUNK, memory_order_relaxed);
        if (a >= p->n_jobs)
            return;
        size_t b = a + IB_SENDPOOL_CHUNK < p->n_jobs ? a + IB_SENDPOOL_CHUNK : p->n_jobs;
        for (size_t i = a; i < b; i++)
            write_job(p->recs, &p->jobs[i]);
    }
}

static void *helper(void *arg)
{
    ib_sendpool_t *p = arg;
    uint64_t seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->stop && p->generation == seen)
            pthread_cond_wait(&p->go, &p->mu);
        if (p->stop)
            break;
        seen = p->generation;
        pthread_mutex_unlock(&p->mu);
        run_jobs(p);
        pthread_mutex_lock(&p->mu);
        if (--p->busy == 0)
            pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int ib__sendpool_threads(int64_t configured)
{
    if (configured >= 0)
        return (int)configured;
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) != 0)
        return 0;
    int cores = CPU_COUNT(&set);
    /* One helper per core beyond the node's own, at most three: past four
     * writers the kernel's locks, not the cores, set the pace. */
    return cores <= 1 ? 0 : cores - 1 < 3 ? cores - 1 : 3;
}

ib_sendpool_t *ib__sendpool_new(int n_threads)
{
    if (n_threads <= 0)
        return NULL;
    ib_sendpool_t *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->threads = calloc((size_t)n_threads, sizeof(*p->threads));
    if (!p->threads || pthread_mutex_init(&p->mu, NULL) || pthread_cond_init(&p->go, NULL) ||
        pthread_cond_init(&p->done, NULL)) {
        free(p->threads);
        free(p);
        return NULL;
    }
    for (int i = 0; i < n_threads; i++) {
        if (pthread_create(&p->threads[i], NULL, helper, p))
            break;
        p->n_threads++;
    }
    if (!p->n_threads) {
        ib__sendpool_free(p);
        return NULL;
    }
    return p;
}

int ib__sendpool_size(const ib_sendpool_t *p)
{
    return p ? p->n_threads : 0;
}

void ib__sendpool_write(ib_sendpool_t *p, const ib_out_rec_t *recs, ib_send_job_t *jobs,
                        size_t n_jobs)
{
    if (!p) {
        for (size_t i = 0; i < n_jobs; i++)
            write_job(recs, &jobs[i]);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->recs = recs;
    p->jobs = jobs;
    p->n_jobs = n_jobs;
    atomic_store_explicit(&p->next, 0, memory_order_relaxed);
    p->busy = p->n_threads;
    p->generation++;
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    run_jobs(p); /* the node's thread writes its share too */
    pthread_mutex_lock(&p->mu);
    while (p->busy > 0)
        pthread_cond_wait(&p->done, &p->mu);
    p->recs = NULL;
    p->jobs = NULL;
    p->n_jobs = 0;
    pthread_mutex_unlock(&p->mu);
}

void ib__sendpool_free(ib_sendpool_t *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->n_threads; i++)
        pthread_join(p->threads[i], NULL);
    pthread_cond_destroy(&p->go);
    pthread_cond_destroy(&p->done);
    pthread_mutex_destroy(&p->mu);
    free(p->threads);
    free(p);
}
