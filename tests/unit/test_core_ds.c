/*
 * core/ data structures and configuration: the map (against a simple
 * reference, with random operations), buffers, send queues, the rate
 * limiter and option parsing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "icebreaker/ib_buf.h"
#include "icebreaker/ib_config.h"
#include "icebreaker/ib_err.h"
#include "icebreaker/ib_map.h"
#include "icebreaker/ib_ratelimit.h"
#include "icebreaker/ib_sendq.h"

#define KEYS 500

static void test_map_random_against_reference(void **state)
{
    (void)state;
    static char keys[KEYS][16];
    static void *ref[KEYS];
    ib_map_t m;
    ib_map_init(&m);
    for (int i = 0; i < KEYS; i++)
        snprintf(keys[i], sizeof(keys[i]), "k%d", i);
    uint32_t x = 12345;
    for (int step = 0; step < 200000; step++) {
        x = x * 1103515245u + 12345u;
        int k = (int)((x >> 8) % KEYS);
        int op = (int)((x >> 20) % 3);
        if (op == 0) {
            void *v = (void *)(intptr_t)(step + 1);
            assert_int_equal(ib_map_put(&m, keys[k], v), 0);
            ref[k] = v;
        } else if (op == 1) {
            assert_ptr_equal(ib_map_del(&m, keys[k]), ref[k]);
            ref[k] = NULL;
        } else {
            assert_ptr_equal(ib_map_get(&m, keys[k]), ref[k]);
        }
    }
    size_t live = 0, seen = 0;
    for (int i = 0; i < KEYS; i++)
        live += ref[i] != NULL;
    assert_int_equal(m.count, live);
    const char *k;
    void *v;
    for (size_t it = 0; ib_map_next(&m, &it, &k, &v);) {
        seen++;
        assert_ptr_equal(ref[atoi(k + 1)], v);
    }
    assert_int_equal(seen, live);
    /* Deleting while iterating is allowed. */
    for (size_t it = 0; ib_map_next(&m, &it, &k, &v);)
        ib_map_del(&m, k);
    assert_int_equal(m.count, 0);
    assert_null(ib_map_get(&m, "k1"));
    ib_map_free(&m);
}

static void test_buf(void **state)
{
    (void)state;
    json_t *v = json_pack("{s:s,s:i}", "type", "x", "n", 5);
    ib_buf_t *b = ib_buf_from_json(v);
    json_decref(v);
    assert_string_equal((char *)ib_buf_payload(b), "{\"type\":\"x\",\"n\":5}");
    assert_int_equal(b->len, 18);
    assert_int_equal(b->refs, 1);
    ib_buf_ref(b);
    ib_buf_unref(b);
    assert_int_equal(b->refs, 1);
    ib_buf_unref(b);
    ib_buf_unref(NULL);
}

static void test_sendq_bounds(void **state)
{
    (void)state;
    ib_sendq_t q;
    ib_buf_t *b = ib_buf_new("0123456789", 10);
    ib_sendq_init(&q, 5, 1000);
    for (int i = 0; i < 5; i++)
        assert_int_equal(ib_sendq_push(&q, b), 0);
    assert_int_equal(ib_sendq_push(&q, b), IB_EFULL); /* message bound */
    assert_int_equal(q.count, 5);
    assert_int_equal(b->refs, 6);
    /* Wrap around the ring many times: FIFO holds. */
    ib_buf_t *c = ib_buf_new("x", 1);
    for (int i = 0; i < 50; i++) {
        ib_sendq_pop(&q);
        assert_int_equal(ib_sendq_push(&q, i % 2 ? c : b), 0);
    }
    ib_sendq_clear(&q);
    assert_int_equal(b->refs, 1);
    assert_int_equal(c->refs, 1);
    assert_null(ib_sendq_peek(&q));
    ib_sendq_init(&q, 100, 25);
    assert_int_equal(ib_sendq_push(&q, b), 0);
    assert_int_equal(ib_sendq_push(&q, b), 0);
    assert_int_equal(ib_sendq_push(&q, b), IB_EFULL); /* byte bound: 30 > 25 */
    assert_int_equal(q.bytes, 20);
    ib_sendq_pop(&q);
    ib_sendq_pop(&q);
    assert_null(q.ring); /* idle queues keep no ring */
    ib_sendq_clear(&q);
    ib_buf_unref(b);
    ib_buf_unref(c);
}

static void test_ratelimit(void **state)
{
    (void)state;
    ib_ratelimit_t rl;
    ib_ratelimit_init(&rl, 10, 5, 3, 1000, 1000);
    for (int i = 0; i < 5; i++)
        assert_int_equal(ib_ratelimit_take(&rl, 1000), IB_RATE_OK);
    assert_int_equal(ib_ratelimit_take(&rl, 1000), IB_RATE_REFUSE);
    assert_int_equal(ib_ratelimit_take(&rl, 1050), IB_RATE_REFUSE); /* half a token */
    assert_int_equal(ib_ratelimit_take(&rl, 1100), IB_RATE_OK);     /* 10/s refill */
    assert_int_equal(ib_ratelimit_take(&rl, 1100), IB_RATE_ABUSE);  /* third refusal */
    /* A new window after abuse_window_ms. */
    ib_ratelimit_init(&rl, 1, 1, 3, 1000, 0);
    assert_int_equal(ib_ratelimit_take(&rl, 0), IB_RATE_OK);
    assert_int_equal(ib_ratelimit_take(&rl, 10), IB_RATE_REFUSE);
    assert_int_equal(ib_ratelimit_take(&rl, 20), IB_RATE_REFUSE);
    assert_int_equal(ib_ratelimit_take(&rl, 1500), IB_RATE_OK);
    assert_int_equal(ib_ratelimit_take(&rl, 1600), IB_RATE_REFUSE); /* window restarted */
    /* The bucket never holds more than burst, and a clock step back
     * refills nothing. */
    ib_ratelimit_init(&rl, 100, 2, 100, 1000, 5000);
    assert_int_equal(ib_ratelimit_take(&rl, 100000), IB_RATE_OK);
    assert_int_equal(ib_ratelimit_take(&rl, 100000), IB_RATE_OK);
    assert_int_equal(ib_ratelimit_take(&rl, 100000), IB_RATE_REFUSE);
    assert_int_equal(ib_ratelimit_take(&rl, 50), IB_RATE_REFUSE);
}

static const char *fake_env(const char *name)
{
    if (!strcmp(name, "ICEBREAKER_PORT"))
        return "9000";
    if (!strcmp(name, "ICEBREAKER_CROWD"))
        return "50";
    if (!strcmp(name, "ICEBREAKER_ORIGIN"))
        return "https://a.example,https://b.example";
    return NULL;
}

static void test_config(void **state)
{
    (void)state;
    ib_config_t c;
    char err[256];
    ib_config_defaults(&c);
    assert_int_equal(c.port, 8080);
    assert_int_equal(c.max_message, 65536);
    assert_int_equal(c.rate, 20);
    assert_int_equal(c.burst, 40);
    assert_int_equal(c.crowd, 200);
    assert_string_equal(c.host, "127.0.0.1");
    char *argv[] = {"--port", "0", "--rate=5", "--origin", "https://c.example", "--dev"};
    assert_int_equal(ib_config_parse(&c, 6, argv, fake_env, err, sizeof(err)), 0);
    assert_int_equal(c.port, 0);   /* the command line beats the environment */
    assert_int_equal(c.crowd, 50); /* from the environment */
    assert_int_equal(c.rate, 5);
    assert_true(c.dev);
    assert_int_equal(c.n_origins, 3);
    assert_string_equal(c.origins[2], "https://c.example");
    assert_int_equal(ib_config_resolve_secret(&c, err, sizeof(err)), 0);
    assert_memory_equal(c.secret, IB_DEV_SECRET, c.secret_len);
    ib_config_clear(&c);

    ib_config_defaults(&c);
    char *bad1[] = {"--port", "70000"};
    assert_int_equal(ib_config_parse(&c, 2, bad1, NULL, err, sizeof(err)), IB_EBADREQ);
    assert_non_null(strstr(err, "--port"));
    char *bad2[] = {"--frobnicate", "1"};
    assert_int_equal(ib_config_parse(&c, 2, bad2, NULL, err, sizeof(err)), IB_EBADREQ);
    char *bad3[] = {"--tls-cert", "x.pem"};
    assert_int_equal(ib_config_parse(&c, 2, bad3, NULL, err, sizeof(err)), IB_EBADREQ);
    char *help[] = {"--help"};
    assert_int_equal(ib_config_parse(&c, 1, help, NULL, err, sizeof(err)), 1);
    ib_config_defaults(&c);
    assert_int_equal(ib_config_resolve_secret(&c, err, sizeof(err)), IB_EUNAUTH);
    assert_non_null(strstr(err, "no JWT secret"));
    /* A secret file: trailing newline dropped. */
    char path[] = "/tmp/ib-secret-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "s3cret\n", 7), 7);
    close(fd);
    c.jwt_secret_file = path;
    assert_int_equal(ib_config_resolve_secret(&c, err, sizeof(err)), 0);
    assert_int_equal(c.secret_len, 6);
    assert_memory_equal(c.secret, "s3cret", 6);
    unlink(path);
    ib_config_clear(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_map_random_against_reference),
        cmocka_unit_test(test_buf),
        cmocka_unit_test(test_sendq_bounds),
        cmocka_unit_test(test_ratelimit),
        cmocka_unit_test(test_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
