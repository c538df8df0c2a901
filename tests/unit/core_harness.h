/*
 * A fake transport and helpers for driving ib_server_t in unit tests:
 * sessions get fake connections, output is read back from their queues as
 * JSON, and time is whatever the test says.
 */
#ifndef IB_TEST_CORE_HARNESS_H
#define IB_TEST_CORE_HARNESS_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "icebreaker/ib_err.h"
#include "icebreaker/ib_jwt.h"
#include "icebreaker/ib_server.h"

#define T0 1700000000000LL /* a fixed "now" */

typedef struct fake_conn {
    ib_session_t *s;
    int closed_code; /* set by tr.close for unbound conns */
    int dropped;
    int want_write;
} fake_conn_t;

typedef struct harness {
    ib_config_t cfg;
    ib_store_t *store;
    ib_server_t *srv;
    unsigned rand_counter;
} harness_t;

static void h_want_write(void *ctx, void *conn)
{
    (void)ctx;
    ((fake_conn_t *)conn)->want_write++;
}
static void h_bind(void *ctx, void *conn, ib_session_t *s)
{
    (void)ctx;
    ((fake_conn_t *)conn)->s = s;
}
static void h_close(void *ctx, void *conn, int code, const char *reason)
{
    (void)ctx;
    (void)reason;
    ((fake_conn_t *)conn)->closed_code = code;
}
static void h_drop(void *ctx, void *conn)
{
    (void)ctx;
    ((fake_conn_t *)conn)->dropped++;
}
/* Deterministic "randomness": distinct tokens are all tests need. */
static void h_random(void *ctx, void *buf, size_t len)
{
    harness_t *h = ctx;
    unsigned char *b = buf;
    for (size_t i = 0; i < len; i++)
        b[i] = (unsigned char)((h->rand_counter * 131u + i * 7u) & 0xff);
    h->rand_counter++;
    if (len >= 4)
        memcpy(b, &h->rand_counter, sizeof(unsigned));
}

static inline void harness_init(harness_t *h)
{
    memset(h, 0, sizeof(*h));
    ib_config_defaults(&h->cfg);
    h->cfg.jwt_secret = "unit-secret";
    char err[256];
    ib_config_resolve_secret(&h->cfg, err, sizeof(err));
    h->store = ib_store_memory_new((size_t)h->cfg.history);
}

static inline void harness_start(harness_t *h)
{
    ib_transport_t tr = {.ctx = h,
                         .want_write = h_want_write,
                         .bind = h_bind,
                         .close = h_close,
                         .drop = h_drop,
                         .random = h_random};
    h->srv = ib_server_new(&h->cfg, &tr, h->store, "node-test");
}

static inline void harness_free(harness_t *h)
{
    ib_server_free(h->srv);
    ib_store_free(h->store);
    ib_config_clear(&h->cfg);
}

static inline char *make_token(harness_t *h, const char *sub, const char *name, const char *role,
                               const char *event, long long exp)
{
    json_t *c = json_pack("{s:s,s:s,s:s,s:s,s:I}", "sub", sub, "name", name, "role", role, "event",
                          event, "exp", (json_int_t)exp);
    char *t = ib_jwt_sign(c, h->cfg.secret, h->cfg.secret_len);
    json_decref(c);
    return t;
}

static inline void send_text(fake_conn_t *c, int64_t now, const char *fmt, ...)
{
    char buf[70000];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    ib_session_receive(c->s, buf, strlen(buf), false, now);
}

/* Next queued message of the conn's session as JSON (NULL when none). */
static inline json_t *next_out(fake_conn_t *c)
{
    if (!c->s)
        return NULL;
    ib_buf_t *b = ib_session_peek(c->s);
    if (!b)
        return NULL;
    json_error_t e;
    json_t *v = json_loadb((const char *)ib_buf_payload(b), b->len, 0, &e);
    ib_session_pop(c->s);
    return v;
}

static inline void drain_out(fake_conn_t *c)
{
    json_t *v;
    while ((v = next_out(c)))
        json_decref(v);
}

/* Connect and say hello as sub in event; returns 0 when ok was received. */
static inline int connect_user(harness_t *h, fake_conn_t *c, const char *sub, const char *role,
                               const char *event, int64_t now)
{
    memset(c, 0, sizeof(*c));
    c->s = ib_server_accept(h->srv, c, now);
    char *tok = make_token(h, sub, sub, role, event, now / 1000 + 3600);
    send_text(c, now, "{\"type\":\"hello\",\"id\":1,\"token\":\"%s\"}", tok);
    free(tok);
    json_t *ok = next_out(c);
    int rc = ok && !strcmp(json_string_value(json_object_get(ok, "type")), "ok") ? 0 : -1;
    json_decref(ok);
    return rc;
}

static inline const char *jstr(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

#endif
