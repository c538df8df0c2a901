/*
 * The node: lws on our own libuv loop (a foreign loop), the core server,
 * the store, the 100 ms tick, and the start-up and shutdown order.
 *
 * Shutdown (SIGTERM/SIGINT): the core starts draining (/healthz turns 503,
 * new upgrades get 503) and every session is sent close 1001 from its
 * WRITEABLE callback; once all connections are gone, or drain_ms has passed,
 * the lws context is destroyed, the loop runs until lws has closed its
 * handles, then ours are closed and the loop with them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "net_internal.h"
#include "icebreaker/ib_node.h"
#include "icebreaker/ib_store_redis.h"

static struct lws_protocols protocols[] = {
    {
        .name = "icebreaker.v1",
        .callback = ib__net_callback,
        .per_session_data_size = sizeof(ib_conn_t),
        /* Small on purpose: large messages are reassembled by us, and a
         * small lws buffer keeps an idle connection near 2 KB. */
        .rx_buffer_size = 512,
        /* Without it lws sends at most rx_buffer_size bytes per send() and
         * waits for POLLOUT for each further 512 bytes of a message. */
        .tx_packet_size = 65536,
    },
    IB_ECHO_PROTOCOL_ENTRY /* test builds only (IB_TEST_ECHO): see echo.c */
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void tr_want_write(void *ctx, void *conn)
{
    (void)ctx;
    lws_callback_on_writable(conn);
}

static int tr_write_now(void *ctx, void *conn, ib_buf_t *buf)
{
    ib_node_t *node = ctx;
    ib_conn_t *c = lws_wsi_user(conn);
    /* Never while lws is tearing connections down, nor behind output lws
     * still holds: then the caller queues and waits for WRITEABLE. */
    if (node->stopping || !c || c->close_sent || lws_partial_buffered(conn))
        return -1;
    /* Inside a callback or the tick: held, written with the connection's
     * other messages at its end (ws.c). */
    if (ib__out_hold(node, conn, c, buf) == 0)
        return 0;
    ib__out_flush_conn(node, c);
    /* A partial write is kept by lws and sent on POLLOUT before anything
     * else; a failed one means the connection is going, and the message
     * goes with it. */
    int n = lws_write(conn, ib_buf_payload(buf), buf->len, LWS_WRITE_TEXT);
    (void)n;
    return 0;
}

static void tr_flush(void *ctx)
{
    ib_node_t *node = ctx;
    if (!node->stopping)
        ib__out_flush_all(node);
}

static void tr_bind(void *ctx, void *conn, ib_session_t *s)
{
    (void)ctx;
    ib_conn_t *c = lws_wsi_user(conn);
    if (c)
        c->session = s;
}

static void tr_close(void *ctx, void *conn, int code, const char *reason)
{
    (void)ctx;
    ib_conn_t *c = lws_wsi_user(conn);
    if (!c)
        return;
    c->session = NULL;
    c->close_code = code;
    c->close_reason = reason;
    lws_callback_on_writable(conn);
}

static void tr_drop(void *ctx, void *conn)
{
    ib_node_t *node = ctx;
    lws_set_timeout(conn, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
    node->wake_lws = true; /* asked from our tick: see on_tick */
}

static void tr_random(void *ctx, void *buf, size_t len)
{
    (void)ctx;
    if (RAND_bytes(buf, (int)len) != 1) {
        ib__log("fatal", "no randomness available");
        abort();
    }
}

static int64_t tr_mono_us(void *ctx)
{
    (void)ctx;
    return (int64_t)(uv_hrtime() / 1000);
}

static void on_tick(uv_timer_t *t)
{
    ib_node_t *node = t->data;
    int64_t now = ib__now_ms();
    ib__out_cork(node); /* a round start from the scheduler's clock: see ws.c */
    ib_server_tick(node->srv, now);
    ib__out_uncork(node);
    ib__hb_tick(node);
    /* Kills set from this tick (a uv timer, outside lws's service) wait for
     * lws's next wake-up: wake it once for all of them. */
    if (node->wake_lws && node->ctx) {
        node->wake_lws = false;
        lws_cancel_service(node->ctx);
    }
    if (node->stopping && (node->srv->n_connections == 0 || now >= node->drain_deadline)) {
        uv_timer_stop(&node->tick);
        uv_stop(node->loop);
    }
}

static void on_signal(uv_signal_t *h, int signum)
{
    ib_node_t *node = h->data;
    if (node->stopping)
        return;
    ib__log("info", "signal %d: draining %zu connections", signum, node->srv->n_connections);
    node->stopping = true;
    int64_t now = ib__now_ms();
    node->drain_deadline = now + node->cfg->drain_ms;
    ib_server_drain(node->srv, now);
}

/* All zeros: lws's own ping and hang-up timer stays off (heartbeat.c
 * does it, in O(1); a NULL policy would mean lws's default of 300 s). */
static const lws_retry_bo_t no_idle_policy;

/*
 * Whether the TLS certificate and key load and match: a configuration
 * error (exit 2) named plainly, before lws reports it as a failure to
 * listen.
 */
static bool tls_material_ok(const ib_config_t *cfg)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    const char *what = NULL, *file = NULL;
    if (!ctx) {
        what = "cannot create a TLS context";
    } else if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert) != 1) {
        what = "cannot read the certificate (PEM) from";
        file = cfg->tls_cert;
    } else if (SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key, SSL_FILETYPE_PEM) != 1) {
        what = "cannot use the private key (PEM) from";
        file = cfg->tls_key;
    } else if (SSL_CTX_check_private_key(ctx) != 1) {
        what = "the private key does not match the certificate:";
        file = cfg->tls_key;
    }
    if (what) {
        char err[256] = "";
        unsigned long e = ERR_peek_last_error();
        if (e)
            ERR_error_string_n(e, err, sizeof(err));
        ib__log("fatal", "TLS: %s %s (%s)", what, file ? file : "", err);
        ERR_clear_error();
    }
    SSL_CTX_free(ctx);
    return !what;
}

int ib_node_run(ib_config_t *cfg, const char *node_id)
{
    ib_node_t node = {0};
    uv_loop_t loop;
    struct lws_context_creation_info info;
    int rc = 1;

    if (cfg->tls_cert && !tls_material_ok(cfg))
        return 2;
    uv_loop_init(&loop);
    node.loop = &loop;
    node.cfg = cfg;
    if (cfg->redis) {
        char err[256];
        node.store = ib_store_redis_new(&loop, cfg->redis, (size_t)cfg->history, err, sizeof(err));
        if (!node.store)
            ib__log("fatal", "%s", err);
    } else {
        node.store = ib_store_memory_new((size_t)cfg->history);
    }
    ib_transport_t tr = {
        .ctx = &node,
        .want_write = tr_want_write,
        .write_now = tr_write_now,
        .flush = tr_flush,
        .bind = tr_bind,
        .close = tr_close,
        .drop = tr_drop,
        .random = tr_random,
        .mono_us = tr_mono_us,
    };
    node.srv = node.store ? ib_server_new(cfg, &tr, node.store, node_id) : NULL;
    if (!node.srv) {
        ib__log("fatal", "out of memory");
        goto out;
    }

    /* ICEBREAKER_LWS_LOG: lws's own log levels as a bit mask (debugging). */
    const char *lws_log = getenv("ICEBREAKER_LWS_LOG");
    lws_set_log_level(lws_log ? atoi(lws_log) : LLL_ERR, NULL);
    memset(&info, 0, sizeof(info));
    void *foreign[] = {&loop};
    info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_EXPLICIT_VHOSTS |
                   LWS_SERVER_OPTION_DISABLE_IPV6;
    info.foreign_loops = foreign;
    info.user = &node;
    info.fd_limit_per_thread = 0;
    if (cfg->tls_cert)
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    node.ctx = lws_create_context(&info);
    if (!node.ctx) {
        ib__log("fatal", "cannot create the WebSocket context");
        goto out;
    }

    memset(&info, 0, sizeof(info));
    info.vhost_name = "icebreaker";
    info.port = (int)cfg->port;
    info.iface = cfg->host;
    info.protocols = protocols;
    info.retry_and_idle_policy = &no_idle_policy;
    info.timeout_secs = 10; /* handshakes and HTTP transactions */
    info.user = &node;
    info.options = LWS_SERVER_OPTION_DISABLE_IPV6 | LWS_SERVER_OPTION_LIBUV;
    if (cfg->tls_cert) {
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.ssl_cert_filepath = cfg->tls_cert;
        info.ssl_private_key_filepath = cfg->tls_key;
        /* HTTP/1.1 only: WebSocket over HTTP/2 would skip our upgrade checks. */
        info.alpn = "http/1.1";
        info.ssl_options_set =
            SSL_OP_NO_SSLv2 | SSL_OP_NO_SSLv3 | SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1;
    }
    node.vhost = lws_create_vhost(node.ctx, &info);
    if (!node.vhost) {
        ib__log("fatal", "cannot listen on %s:%lld", cfg->host, (long long)cfg->port);
        goto out;
    }
    node.port = lws_get_vhost_listen_port(node.vhost);
    int helpers = ib__sendpool_threads(cfg->send_threads);
    node.sendpool = ib__sendpool_new(helpers);
    if (helpers > 0 && !node.sendpool)
        ib__log("warn", "could not start %d send threads: large bursts use one thread", helpers);
    node.srv->metrics.send_threads = (uint64_t)ib__sendpool_size(node.sendpool);

    uv_timer_init(&loop, &node.tick);
    node.tick.data = &node;
    uv_timer_start(&node.tick, on_tick, 100, 100);
    uv_signal_init(&loop, &node.sigterm);
    uv_signal_init(&loop, &node.sigint);
    node.sigterm.data = node.sigint.data = &node;
    uv_signal_start(&node.sigterm, on_signal, SIGTERM);
    uv_signal_start(&node.sigint, on_signal, SIGINT);

    printf("icebreaker ready on %s:%d node %s\n", cfg->host, node.port, node_id);
    fflush(stdout);

    uv_run(&loop, UV_RUN_DEFAULT);
    rc = 0;

out:
    if (node.tick.data) {
        uv_close((uv_handle_t *)&node.tick, NULL);
        uv_close((uv_handle_t *)&node.sigterm, NULL);
        uv_close((uv_handle_t *)&node.sigint, NULL);
    }
    /* The store first: it closes its own handles (the loop below would
     * otherwise run for ever on a Redis store's timers), and a Redis store
     * answers its pending operations as it goes, to sessions the server
     * still holds. */
    ib_store_free(node.store);
    if (node.srv)
        node.srv->store = NULL;
    if (node.ctx) {
        /* With a foreign loop, lws destroys in two stages: the first call
         * starts closing its libuv handles, the loop runs until they are
         * closed, and a second call frees what remains. */
        lws_context_destroy(node.ctx);
        uv_run(&loop, UV_RUN_DEFAULT);
        lws_context_destroy(node.ctx);
    }
    ib_server_free(node.srv);
    ib__out_free(&node);
    ib__sendpool_free(node.sendpool);
    ib__rxguard_free();
    uv_run(&loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&loop))
        ib__log("warn", "event loop closed with handles still open");
    return rc;
}
