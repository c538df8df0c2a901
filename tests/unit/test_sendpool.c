/*
 * The send pool (server/net/sendpool.c): a large flush's connections
 * written by several threads, each connection's frames in one sendmsg(),
 * and what a socket did not take reported back for lws.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "net_internal.h"

/* The frame of one message as RFC 6455 writes it: FIN + text, no mask. */
static size_t expect_frame(unsigned char *out, const unsigned char *payload, size_t len)
{
    size_t n = 0;
    out[n++] = 0x81;
    if (len < 126) {
        out[n++] = (unsigned char)len;
    } else if (len < 65536) {
        out[n++] = 126;
        out[n++] = (unsigned char)(len >> 8);
        out[n++] = (unsigned char)len;
    } else {
        out[n++] = 127;
        for (int i = 7; i >= 0; i--)
            out[n++] = (unsigned char)((uint64_t)len >> (8 * i));
    }
    memcpy(out + n, payload, len);
    return n + len;
}

static void test_frame_header(void **state)
{
    (void)state;
    static const size_t lens[] = {0, 1, 125, 126, 127, 65535, 65536, 70000};
    static unsigned char payload[70000];
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        unsigned char got[10];
        unsigned char *want = malloc(10 + lens[i]);
        size_t n = ib__out_frame_header(got, lens[i]);
        size_t wn = expect_frame(want, payload, lens[i]) - lens[i];
        assert_int_equal(n, wn);
        assert_int_equal(n, lens[i] < 126 ? 2 : lens[i] < 65536 ? 4 : 10);
        assert_memory_equal(got, want, n);
        free(want);
    }
}

/* Records for n connections, connection i holding 1 + i % 3 messages of
 * varied sizes (one of 70000 bytes: a 10-byte header). */
typedef struct fixture {
    size_t n;
    int (*sv)[2];
    ib_out_rec_t *recs;
    size_t n_recs;
    ib_send_job_t *jobs;
} fixture_t;

static ib_buf_t *payload(size_t len, unsigned seed)
{
    char *p = malloc(len ? len : 1);
    for (size_t i = 0; i < len; i++)
        p[i] = (char)('a' + (seed + i) % 26);
    ib_buf_t *b = ib_buf_new(p, len);
    free(p);
    return b;
}

static void fixture_make(fixture_t *f, size_t n)
{
    f->n = n;
    f->sv = calloc(n, sizeof(*f->sv));
    f->recs = calloc(n * 3, sizeof(*f->recs));
    f->jobs = calloc(n, sizeof(*f->jobs));
    f->n_recs = 0;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, f->sv[i]), 0);
        int fl = fcntl(f->sv[i][0], F_GETFL);
        fcntl(f->sv[i][0], F_SETFL, fl | O_NONBLOCK);
        size_t k = 1 + i % 3, total = 0;
        uint32_t first = (uint32_t)f->n_recs + 1;
        for (size_t m = 0; m < k; m++) {
            size_t len = i == 7 && m == 0 ? 70000 : (i * 37 + m * 101) % 400;
            ib_out_rec_t *r = &f->recs[f->n_recs++];
            r->buf = payload(len, (unsigned)(i + m));
            r->next = m + 1 < k ? (uint32_t)f->n_recs + 1 : 0;
            unsigned char hdr[10];
            total += ib__out_frame_header(hdr, len) + len;
        }
        f->jobs[i] = (ib_send_job_t){.fd = f->sv[i][0], .first = first, .total = total};
    }
}

static void fixture_free(fixture_t *f)
{
    for (size_t i = 0; i < f->n; i++) {
        close(f->sv[i][0]);
        close(f->sv[i][1]);
    }
    for (size_t i = 0; i < f->n_recs; i++)
        ib_buf_unref(f->recs[i].buf);
    free(f->sv);
    free(f->recs);
    free(f->jobs);
}

/* What job i's frames are, back to back. */
static unsigned char *expected(const fixture_t *f, size_t i, size_t *len)
{
    unsigned char *out = malloc(f->jobs[i].total), *p = out;
    for (uint32_t k = f->jobs[i].first; k; k = f->recs[k - 1].next) {
        ib_buf_t *b = f->recs[k - 1].buf;
        p += expect_frame(p, ib_buf_payload(b), b->len);
    }
    *len = (size_t)(p - out);
    return out;
}

/* Read what the far end of job i got (all of it: the writes are done). */
static unsigned char *received(const fixture_t *f, size_t i, size_t *len)
{
    size_t cap = f->jobs[i].total + 1, n = 0;
    unsigned char *out = malloc(cap);
    for (;;) {
        ssize_t r = recv(f->sv[i][1], out + n, cap - n, MSG_DONTWAIT);
        if (r <= 0)
            break;
        n += (size_t)r;
        if (n == cap)
            break;
    }
    *len = n;
    return out;
}

static void check_all_written(const fixture_t *f)
{
    for (size_t i = 0; i < f->n; i++) {
        size_t el, gl;
        unsigned char *e = expected(f, i, &el), *g = received(f, i, &gl);
        assert_int_equal(f->jobs[i].sent, f->jobs[i].total);
        assert_int_equal(el, f->jobs[i].total);
        assert_int_equal(gl, el);
        assert_memory_equal(g, e, el);
        free(e);
        free(g);
    }
}

static void run_write(int threads, size_t n)
{
    fixture_t f;
    fixture_make(&f, n);
    /* The far ends may take the 70 KB message whole. */
    int big = 1 << 20;
    setsockopt(f.sv[7][0], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
    setsockopt(f.sv[7][1], SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
    ib_sendpool_t *p = ib__sendpool_new(threads);
    if (threads > 0) {
        assert_non_null(p);
        assert_int_equal(ib__sendpool_size(p), threads);
    } else {
        assert_null(p);
    }
    ib__sendpool_write(p, f.recs, f.jobs, f.n);
    check_all_written(&f);
    /* A second flush on the same pool (the helpers wait for the next). */
    for (size_t i = 0; i < f.n; i++)
        f.jobs[i].sent = 0;
    ib__sendpool_write(p, f.recs, f.jobs, f.n);
    check_all_written(&f);
    ib__sendpool_free(p);
    fixture_free(&f);
}

static void test_alone(void **state)
{
    (void)state;
    run_write(0, 300);
}

static void test_three_helpers(void **state)
{
    (void)state;
    run_write(3, 1000);
}

static void test_fewer_jobs_than_a_chunk(void **state)
{
    (void)state;
    run_write(2, 9);
}

/* A socket with no room takes nothing (sent 0: lws writes it all), one
 * with some room takes a part (sent: the bytes the far end can read, the
 * start of the frames). */
static void test_full_and_short(void **state)
{
    (void)state;
    fixture_t f;
    fixture_make(&f, 300);
    int small = 4096;
    /* Job 0: fill its socket until it refuses. */
    setsockopt(f.sv[0][0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
    char junk[512];
    memset(junk, 'j', sizeof(junk));
    size_t filled = 0;
    for (;;) {
        ssize_t w = send(f.sv[0][0], junk, sizeof(junk), MSG_DONTWAIT);
        if (w < 0) {
            assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
            break;
        }
        filled += (size_t)w;
    }
    /* Job 7 (a 70 KB message first): a small buffer takes only a part. */
    setsockopt(f.sv[7][0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
    ib_sendpool_t *p = ib__sendpool_new(2);
    assert_non_null(p);
    ib__sendpool_write(p, f.recs, f.jobs, f.n);
    ib__sendpool_free(p);
    assert_int_equal(f.jobs[0].sent, 0);
    assert_true(f.jobs[7].sent > 0);
    assert_true(f.jobs[7].sent < f.jobs[7].total);
    size_t el, gl;
    unsigned char *e = expected(&f, 7, &el), *g = received(&f, 7, &gl);
    assert_int_equal(gl, f.jobs[7].sent);
    assert_memory_equal(g, e, gl);
    free(e);
    free(g);
    /* Every other job went whole. */
    for (size_t i = 1; i < f.n; i++) {
        if (i == 7)
            continue;
        assert_int_equal(f.jobs[i].sent, f.jobs[i].total);
    }
    (void)filled;
    fixture_free(&f);
}

/* A closed peer: an error, not a signal (MSG_NOSIGNAL), sent 0. */
static void test_closed_peer(void **state)
{
    (void)state;
    fixture_t f;
    fixture_make(&f, 3);
    close(f.sv[1][1]);
    f.sv[1][1] = socket(AF_UNIX, SOCK_STREAM, 0); /* something for fixture_free to close */
    ib__sendpool_write(NULL, f.recs, f.jobs, f.n);
    assert_int_equal(f.jobs[1].sent, 0);
    assert_int_equal(f.jobs[0].sent, f.jobs[0].total);
    assert_int_equal(f.jobs[2].sent, f.jobs[2].total);
    fixture_free(&f);
}

static void test_threads_option(void **state)
{
    (void)state;
    assert_int_equal(ib__sendpool_threads(0), 0);
    assert_int_equal(ib__sendpool_threads(5), 5);
    int autos = ib__sendpool_threads(-1);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    assert_true(autos >= 0 && autos <= 3);
    assert_true(autos <= cores - 1 || (cores <= 1 && autos == 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frame_header),   cmocka_unit_test(test_alone),
        cmocka_unit_test(test_three_helpers),  cmocka_unit_test(test_fewer_jobs_than_a_chunk),
        cmocka_unit_test(test_full_and_short), cmocka_unit_test(test_closed_peer),
        cmocka_unit_test(test_threads_option),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
