/*
 * The lws protocol callback: one switch over lws's reasons for both the
 * HTTP side and the WebSocket side of a connection (they share protocol 0,
 * "icebreaker.v1", so a client that offers no sub-protocol lands here too).
 *
 * Incoming: lws hands us at most rx_buffer_size bytes at a time; we
 * reassemble whole messages, counting every fragment against the size cap
 * (close 1009 as soon as it is passed, keeping nothing of the excess) and
 * validating UTF-8 as it arrives (close 1007). Outgoing: one queued buffer
 * per WRITEABLE callback; a close is a close frame sent from WRITEABLE once
 * the queue has drained, since that is the only place lws sends one.
 */
#include <stdarg.h>
#include <stdio.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "net_internal.h"

int64_t ib__now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void ib__log(const char *level, const char *fmt, ...)
{
    va_list ap;
    char line[1024];
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fprintf(stderr, "icebreaker %s: %s\n", level, line);
}

static void rx_reset(ib_rx_t *rx)
{
    rx->len = 0;
    rx->binary = false;
    ib_utf8_stream_init(&rx->utf8);
}

static void rx_free(ib_conn_t *c)
{
    if (c->rx) {
        free(c->rx->buf);
        free(c->rx);
        c->rx = NULL;
    }
}

/* Fail the connection from the receive side: no more input is kept. */
static void rx_fail(struct lws *wsi, ib_conn_t *c, int code, const char *reason)
{
    if (c->rx) {
        c->rx->discarding = true;
        free(c->rx->buf);
        c->rx->buf = NULL;
        c->rx->len = c->rx->cap = 0;
    }
#ifdef IB_TEST_ECHO
    if (c->echo) {
        ib__echo_close(wsi, c, code, reason, false);
        return;
    }
#endif
    (void)wsi;
    ib_session_close(c->session, code, reason, true);
}

/* A complete message goes to the session (or, in test builds, back to an
 * echo connection). */
static void deliver(ib_node_t *node, struct lws *wsi, ib_conn_t *c, const char *data, size_t len,
                    bool binary)
{
#ifdef IB_TEST_ECHO
    if (c->echo) {
        ib__echo_message(node, wsi, c, data, len, binary);
        return;
    }
#endif
    (void)node;
    (void)wsi;
    ib_session_receive(c->session, data, len, binary, ib__now_ms());
}

/* Whether input is no longer wanted: the connection is closing. */
static bool rx_closed(const ib_conn_t *c)
{
    if (c->close_sent)
        return true;
#ifdef IB_TEST_ECHO
    if (c->echo)
        return c->close_code != 0;
#endif
    return !c->session || c->session->close_code;
}

static int on_receive(ib_node_t *node, struct lws *wsi, ib_conn_t *c, const char *in, size_t len)
{
    if (rx_closed(c))
        return 0;
    if (!c->rx) {
        c->rx = calloc(1, sizeof(*c->rx));
        if (!c->rx)
            return -1;
        rx_reset(c->rx);
        c->rx->binary = lws_frame_is_binary(wsi);
    }
    ib_rx_t *rx = c->rx;
    if (rx->discarding)
        return 0;
    if (rx->len + len > (size_t)node->cfg->max_message) {
        rx_fail(wsi, c, IB_CLOSE_TOO_BIG, "message too large");
        return 0;
    }
    if (!rx->binary && !ib_utf8_stream_feed(&rx->utf8, in, len)) {
        rx_fail(wsi, c, IB_CLOSE_BAD_DATA, "invalid UTF-8");
        return 0;
    }
    bool final = lws_is_final_fragment(wsi);
    if (final && rx->len == 0) {
        /* The common case: a whole small message in one piece. */
        if (!rx->binary && !ib_utf8_stream_done(&rx->utf8)) {
            rx_fail(wsi, c, IB_CLOSE_BAD_DATA, "invalid UTF-8");
            return 0;
        }
        bool binary = rx->binary;
        rx_free(c);
        deliver(node, wsi, c, in, len, binary);
        return 0;
    }
    if (rx->len + len > rx->cap) {
        size_t cap = rx->cap ? rx->cap : 1024;
        while (cap < rx->len + len)
            cap *= 2;
        char *nb = realloc(rx->buf, cap);
        if (!nb)
            return -1;
        rx->buf = nb;
        rx->cap = cap;
    }
    if (len) /* empty fragments: nothing to copy, and buf may still be NULL */
        memcpy(rx->buf + rx->len, in, len);
    rx->len += len;
    if (!final)
        return 0;
    if (!rx->binary && !ib_utf8_stream_done(&rx->utf8)) {
        rx_fail(wsi, c, IB_CLOSE_BAD_DATA, "invalid UTF-8");
        return 0;
    }
    /* Hand over, then forget: the session may be rebound by a resume. */
    char *buf = rx->buf;
    size_t n = rx->len;
    bool binary = rx->binary;
    rx->buf = NULL;
    rx_free(c);
    deliver(node, wsi, c, buf ? buf : "", n, binary);
    free(buf);
    return 0;
}

/* ---- output coalescing (net_internal.h) ---- */

void ib__out_cork(ib_node_t *node)
{
    node->out_depth++;
}

void ib__out_uncork(ib_node_t *node)
{
    if (--node->out_depth > 0)
        return;
    ib__out_flush_all(node);
}

/* Below this many connections a flush is written by the node's thread
 * alone: waking the helpers costs more than it saves. */
#define IB_OUT_PARALLEL_MIN 256

static void flush_parallel(ib_node_t *node);

/* Everything held, through lws on this thread, in the order of each
 * connection's first held message. */
static void flush_each(ib_node_t *node)
{
    for (uint32_t i = 0; i < node->out_n; i++) {
        ib_out_rec_t *r = &node->out[i];
        if (r->c && r->c->out_first == i + 1)
            ib__out_flush_conn(node, r->c);
    }
    node->out_n = 0;
}

void ib__out_flush_all(ib_node_t *node)
{
    if (node->sendpool && node->out_n >= IB_OUT_PARALLEL_MIN)
        flush_parallel(node);
    else
        flush_each(node);
}

int ib__out_hold(ib_node_t *node, struct lws *wsi, ib_conn_t *c, ib_buf_t *buf)
{
    if (node->out_depth <= 0)
        return -1;
    if (c->out_count >= IB_OUT_HOLD_MAX)
        ib__out_flush_conn(node, c);
    if (node->out_n == node->out_cap) {
        uint32_t cap = node->out_cap ? node->out_cap * 2 : 256;
        ib_out_rec_t *v = cap > node->out_cap ? realloc(node->out, cap * sizeof(*v)) : NULL;
        if (!v)
            return -1;
        node->out = v;
        node->out_cap = cap;
    }
    ib_out_rec_t *r = &node->out[node->out_n++];
    *r = (ib_out_rec_t){.wsi = wsi, .c = c, .buf = ib_buf_ref(buf)};
    if (c->out_last)
        node->out[c->out_last - 1].next = node->out_n;
    else
        c->out_first = node->out_n;
    c->out_last = node->out_n;
    c->out_count++;
    return 0;
}

/* The frames of the messages from first on, back to back in the scratch
 * buffer (after LWS_PRE); returns their length, 0 without memory. */
static size_t frames(ib_node_t *node, uint32_t first)
{
    size_t total = 0;
    for (uint32_t i = first; i; i = node->out[i - 1].next)
        total += 10 + node->out[i - 1].buf->len;
    if (total > node->out_frames_cap) {
        unsigned char *f = realloc(node->out_frames, LWS_PRE + total);
        if (!f)
            return 0;
        node->out_frames = f;
        node->out_frames_cap = total;
    }
    unsigned char *p = node->out_frames + LWS_PRE;
    for (uint32_t i = first; i; i = node->out[i - 1].next) {
        const ib_buf_t *b = node->out[i - 1].buf;
        p += ib__out_frame_header(p, b->len);
        memcpy(p, ib_buf_payload((ib_buf_t *)b), b->len);
        p += b->len;
    }
    return (size_t)(p - (node->out_frames + LWS_PRE));
}

/* Release a connection's held messages (written or lost). */
static void release(ib_node_t *node, ib_conn_t *c)
{
    for (uint32_t i = c->out_first; i;) {
        ib_out_rec_t *r = &node->out[i - 1];
        ib_buf_unref(r->buf);
        r->c = NULL;
        i = r->next;
    }
    c->out_first = c->out_last = c->out_count = 0;
}

void ib__out_flush_conn(ib_node_t *node, ib_conn_t *c)
{
    uint32_t first = c->out_first;
    if (!first)
        return;
    struct lws *wsi = node->out[first - 1].wsi;
    /* One message: written from its own buffer, lws adds the header. */
    ib_out_rec_t *r = &node->out[first - 1];
    if (!r->next) {
        lws_write(wsi, ib_buf_payload(r->buf), r->buf->len, LWS_WRITE_TEXT);
        release(node, c);
        return;
    }
    /* Several: their frames back to back, one raw write (no extension is
     * negotiated, so a frame is header + payload); without the memory for
     * that, one write each. */
    size_t n = frames(node, first);
    if (n)
        lws_write(wsi, node->out_frames + LWS_PRE, n, LWS_WRITE_RAW);
    else
        for (uint32_t i = first; i; i = node->out[i - 1].next)
            lws_write(wsi, ib_buf_payload(node->out[i - 1].buf), node->out[i - 1].buf->len,
                      LWS_WRITE_TEXT);
    release(node, c);
}

/* Whether c's held frames may go straight to its socket from any thread:
 * plain TCP, and nothing lws still holds to write first. */
static int direct_fd(struct lws *wsi)
{
    if (lws_is_ssl(wsi) || lws_partial_buffered(wsi))
        return -1;
    return lws_get_socket_fd(wsi);
}

/*
 * A large flush (a round start): the connections that may be written
 * straight to their sockets are split between this thread and the send
 * pool's helpers (sendpool.c), the others go through lws here first. Then,
 * on this thread, lws gets what a socket did not take.
 */
static void flush_parallel(ib_node_t *node)
{
    if (node->out_jobs_cap < node->out_n) {
        ib_send_job_t *v = realloc(node->out_jobs, node->out_n * sizeof(*v));
        if (!v) {
            flush_each(node); /* this once: the plain way */
            return;
        }
        node->out_jobs = v;
        node->out_jobs_cap = node->out_n;
    }
    size_t n = 0;
    for (uint32_t i = 0; i < node->out_n; i++) {
        ib_out_rec_t *r = &node->out[i];
        if (!r->c || r->c->out_first != i + 1)
            continue;
        int fd = direct_fd(r->wsi);
        if (fd < 0) {
            ib__out_flush_conn(node, r->c);
            continue;
        }
        size_t total = 0;
        for (uint32_t k = i + 1; k; k = node->out[k - 1].next) {
            unsigned char hdr[10];
            total +=
                ib__out_frame_header(hdr, node->out[k - 1].buf->len) + node->out[k - 1].buf->len;
        }
        node->out_jobs[n++] = (ib_send_job_t){.fd = fd, .first = i + 1, .c = r->c, .total = total};
    }
    if (n) {
        ib__sendpool_write(node->sendpool, node->out, node->out_jobs, n);
        node->srv->metrics.send_bursts++;
        node->srv->metrics.send_burst_conns += n;
    }
    for (size_t k = 0; k < n; k++) {
        ib_send_job_t *j = &node->out_jobs[k];
        if (j->sent < j->total) {
            struct lws *wsi = node->out[j->first - 1].wsi;
            if (!j->sent) {
                ib__out_flush_conn(node, j->c); /* nothing went: lws writes it all */
                continue;
            }
            size_t len = frames(node, j->first);
            if (len == j->total)
                lws_write(wsi, node->out_frames + LWS_PRE + j->sent, len - j->sent, LWS_WRITE_RAW);
            else /* no memory for the rest of a frame already begun: the
                  * connection cannot continue */
                lws_set_timeout(wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
        }
        release(node, j->c);
    }
    node->out_n = 0;
}

void ib__out_drop_conn(ib_node_t *node, ib_conn_t *c)
{
    release(node, c);
}

void ib__out_free(ib_node_t *node)
{
    for (uint32_t i = 0; i < node->out_n; i++)
        if (node->out[i].c)
            ib_buf_unref(node->out[i].buf);
    free(node->out);
    free(node->out_frames);
    free(node->out_jobs);
    node->out = NULL;
    node->out_frames = NULL;
    node->out_jobs = NULL;
    node->out_n = node->out_cap = node->out_jobs_cap = 0;
    node->out_frames_cap = 0;
}

/*
 * Send our close frame ourselves. lws's own way (lws_close_reason, then
 * return -1) loses the frame on Debian's lws 4.1.6: its libuv glue, built
 * with _DEBUG, closes a second time at once ("uv repeat test") and that
 * second close kills the socket before the frame is written. So the frame
 * goes out as an ordinary write, the connection stays until the peer's
 * close arrives (treated as the ack in WS_PEER_INITIATED_CLOSE), and an lws
 * timeout drops a peer that never answers.
 */
/* lws's private opcode for a close frame (lib/roles/ws/private-lib-roles-ws.h
 * in 4.1.6; the public header reserves the value for it). */
#define IB_LWS_WRITE_CLOSE ((enum lws_write_protocol)4)

static int send_close(struct lws *wsi, ib_conn_t *c, int code, const char *reason)
{
    ib_node_t *node = lws_context_user(lws_get_context(wsi));
    if (node)
        ib__out_flush_conn(node, c); /* what was sent before the close goes first */
    unsigned char buf[LWS_PRE + 125];
    size_t rl = reason ? strlen(reason) : 0;
    if (rl > 123)
        rl = 123;
    buf[LWS_PRE] = (unsigned char)(code >> 8);
    buf[LWS_PRE + 1] = (unsigned char)(code & 0xff);
    if (rl)
        memcpy(buf + LWS_PRE + 2, reason, rl);
    c->close_sent = true;
    if (lws_write(wsi, buf + LWS_PRE, 2 + rl, IB_LWS_WRITE_CLOSE) < 0)
        return -1;
    lws_set_timeout(wsi, PENDING_TIMEOUT_CLOSE_ACK, 5);
    return 0;
}

/* RFC 6455 5.5.1 and 7.4: a close payload is empty, or a valid code
 * followed by UTF-8. Returns 0 when it is, else the close code to answer. */
static int close_payload_error(const unsigned char *p, size_t len)
{
    if (len == 0)
        return 0;
    if (len == 1)
        return IB_CLOSE_PROTOCOL;
    int code = (p[0] << 8) | p[1];
    bool valid = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) ||
                 (code >= 3000 && code <= 4999);
    if (!valid)
        return IB_CLOSE_PROTOCOL;
    if (!ib_utf8_valid((const char *)p + 2, len - 2))
        return IB_CLOSE_BAD_DATA;
    return 0;
}

static int on_writeable(struct lws *wsi, ib_conn_t *c)
{
    ib_session_t *s = c->session;
    if (c->close_sent)
        return 0;
    if (c->hb_ping_pending)
        return ib__hb_write_pending(wsi, c);
#ifdef IB_TEST_ECHO
    if (c->echo && c->echo_head)
        return ib__echo_write(wsi, c);
#endif
    if (!s)
        return c->close_code ? send_close(wsi, c, c->close_code, c->close_reason) : 0;
    ib_buf_t *b = ib_session_peek(s);
    if (b) {
        int n = lws_write(wsi, ib_buf_payload(b), b->len, LWS_WRITE_TEXT);
        ib_session_pop(s);
        if (n < 0)
            return -1;
        if (ib_session_peek(s) || s->close_code)
            lws_callback_on_writable(wsi);
        return 0;
    }
    if (s->close_code)
        return send_close(wsi, c, s->close_code, s->close_reason);
    return 0;
}

/* Header value into buf; returns its length or -1 when absent. */
static int header(struct lws *wsi, enum lws_token_indexes h, char *buf, int len)
{
    if (lws_hdr_total_length(wsi, h) <= 0)
        return -1;
    return lws_hdr_copy(wsi, buf, len, h);
}

static int refuse_upgrade(struct lws *wsi, unsigned int status, const char *why)
{
    lws_return_http_status(wsi, status, why);
    return -1;
}

/* 426 with the version we speak (RFC 6455 4.2.2 and 4.4). */
static int refuse_version(struct lws *wsi)
{
    static const char body[] = "WebSocket version must be 13\n";
    unsigned char buf[LWS_PRE + 512], *start = buf + LWS_PRE, *p = start, *end = buf + sizeof(buf);
    if (!lws_add_http_header_status(wsi, 426, &p, end) &&
        !lws_add_http_header_by_name(wsi, (const unsigned char *)"Sec-WebSocket-Version:",
                                     (const unsigned char *)"13", 2, &p, end) &&
        !lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE,
                                      (const unsigned char *)"text/plain", 10, &p, end) &&
        !lws_add_http_header_content_length(wsi, sizeof(body) - 1, &p, end) &&
        !lws_finalize_http_header(wsi, &p, end) && p + sizeof(body) - 1 <= end) {
        memcpy(p, body, sizeof(body) - 1);
        p += sizeof(body) - 1;
        lws_write(wsi, start, (size_t)(p - start), LWS_WRITE_HTTP_FINAL);
    }
    return -1;
}

/* A Sec-WebSocket-Key must be 16 bytes in base64: 22 characters whose last
 * carries 2 bits (A, Q, g or w), then "==" (RFC 6455 4.1 and 4.2.1). */
static bool key_valid(const char *k)
{
    if (strlen(k) != 24 || strcmp(k + 22, "==") != 0 || !strchr("AQgw", k[21]))
        return false;
    for (int i = 0; i < 22; i++)
        if (!isalnum((unsigned char)k[i]) && k[i] != '+' && k[i] != '/')
            return false;
    return true;
}

/* Whether a Sec-WebSocket-Protocol list names protocol. */
static bool offers(const char *list, const char *protocol)
{
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t n = strcspn(p, ", ");
        if (n == strlen(protocol) && !strncmp(p, protocol, n))
            return true;
        p += n;
    }
    return false;
}

/* Whether the offered sub-protocols include one we speak. */
static bool offers_ours(const char *list)
{
#ifdef IB_TEST_ECHO
    if (ib__echo_enabled() && offers(list, IB_ECHO_PROTOCOL))
        return true;
#endif
    return offers(list, "icebreaker.v1");
}

/* The handshake checks that must end in a real HTTP status. */
static int confirm_upgrade(ib_node_t *node, struct lws *wsi)
{
    char buf[512];
    if (header(wsi, WSI_TOKEN_GET_URI, buf, sizeof(buf)) < 0 || strcmp(buf, "/ws") != 0)
        return refuse_upgrade(wsi, HTTP_STATUS_NOT_FOUND, "WebSocket endpoint is /ws");
    /* What lws 4.1.6 lets through: another version, a malformed key. */
    if (header(wsi, WSI_TOKEN_VERSION, buf, sizeof(buf)) < 0 || strcmp(buf, "13") != 0)
        return refuse_version(wsi);
    if (header(wsi, WSI_TOKEN_KEY, buf, sizeof(buf)) < 0 || !key_valid(buf))
        return refuse_upgrade(wsi, HTTP_STATUS_BAD_REQUEST,
                              "Sec-WebSocket-Key must be 16 bytes in base64");
    /* Offered sub-protocols must include ours; none offered means v1. */
    if (header(wsi, WSI_TOKEN_PROTOCOL, buf, sizeof(buf)) >= 0 && !offers_ours(buf))
        return refuse_upgrade(wsi, HTTP_STATUS_BAD_REQUEST, "sub-protocol must be icebreaker.v1");
    if (node->srv->draining)
        return refuse_upgrade(wsi, HTTP_STATUS_SERVICE_UNAVAILABLE, "draining");
    if (node->srv->n_connections >= (size_t)node->cfg->max_connections)
        return refuse_upgrade(wsi, HTTP_STATUS_SERVICE_UNAVAILABLE, "too many connections");
    if (node->cfg->n_origins) {
        int n = header(wsi, WSI_TOKEN_ORIGIN, buf, sizeof(buf));
        if (n >= 0) {
            bool ok = false;
            for (size_t i = 0; i < node->cfg->n_origins && !ok; i++)
                ok = strcmp(buf, node->cfg->origins[i]) == 0;
            if (!ok)
                return refuse_upgrade(wsi, HTTP_STATUS_FORBIDDEN, "origin not allowed");
        }
    }
    return 0;
}

static int net_callback(ib_node_t *node, struct lws *wsi, enum lws_callback_reasons reason,
                        void *user, void *in, size_t len)
{
    ib_conn_t *c = user;

    switch (reason) {
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        return confirm_upgrade(node, wsi);

    case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
        ib__rxguard_accepted((int)(intptr_t)in);
        return 0;

    case LWS_CALLBACK_WSI_DESTROY:
        if (c) {
            if (node)
                ib__out_drop_conn(node, c);
            ib__rxguard_forget(c);
            ib__hb_remove(node, c);
        }
        return 0;

    case LWS_CALLBACK_ESTABLISHED:
        memset(c, 0, sizeof(*c));
        if (ib__rxguard_established(wsi, c))
            return -1;
        ib__hb_add(node, wsi, c);
#ifdef IB_TEST_ECHO
        if ((c->echo = ib__echo_selected(wsi)))
            return 0;
#endif
        c->session = ib_server_accept(node->srv, wsi, ib__now_ms());
        return c->session ? 0 : -1;

    case LWS_CALLBACK_RECEIVE:
        return on_receive(node, wsi, c, in, len);

    case LWS_CALLBACK_RECEIVE_PONG:
        ib__hb_pong(node, c);
        return 0;

    case LWS_CALLBACK_SERVER_WRITEABLE:
        return on_writeable(wsi, c);

    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE: {
        /* After our close frame, the peer's close is the ack: end now,
         * without lws echoing a second close. */
        if (c->close_sent)
            return -1;
        /* lws 4.1.6 echoes close codes it should refuse (5000 and up), and
         * answers a 1-byte payload with an empty close: RFC 6455 wants
         * 1002 for both, and 1007 for a reason that is not UTF-8. We send
         * that close ourselves and end; valid closes are echoed by lws. */
        int code = close_payload_error(in, len);
        if (code) {
            send_close(wsi, c, code, code == IB_CLOSE_BAD_DATA ? "invalid UTF-8" : "bad close");
            return -1;
        }
        return 0;
    }

    case LWS_CALLBACK_CLOSED:
        if (!c)
            break;
        ib__hb_remove(node, c);
        ib__out_drop_conn(node, c);
        rx_free(c);
#ifdef IB_TEST_ECHO
        if (c->echo)
            ib__echo_free(c);
#endif
        if (c->session) {
            ib_session_t *s = c->session;
            c->session = NULL;
            ib_session_disconnected(s, ib__now_ms());
        }
        return 0;

    case LWS_CALLBACK_HTTP:
        free(c->http_uri);
        c->http_uri = strndup(in ? (const char *)in : "/", 1024);
        c->http_post = lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0;
        if (c->http_post)
            return 0; /* answer when the body is in */
        return ib__http_request(node, wsi, c);

    case LWS_CALLBACK_HTTP_BODY: {
        const size_t limit = 65536;
        if (c->http_body_len + len > limit) {
            lws_return_http_status(wsi, HTTP_STATUS_REQ_ENTITY_TOO_LARGE, NULL);
            return -1;
        }
        char *nb = realloc(c->http_body, c->http_body_len + len + 1);
        if (!nb)
            return -1;
        memcpy(nb + c->http_body_len, in, len);
        c->http_body = nb;
        c->http_body_len += len;
        c->http_body[c->http_body_len] = 0;
        return 0;
    }

    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        return ib__http_request(node, wsi, c);

    case LWS_CALLBACK_HTTP_WRITEABLE:
        return ib__http_writeable(node, wsi, c);

    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
        /* No per-connection data when lws gives up on a request before
         * binding it to our protocol (headers over its 4 KiB table: "Ran
         * out of header data space"). */
        if (c)
            ib__http_free(c);
        break;

    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

int ib__net_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                     size_t len)
{
    struct lws_context *ctx = lws_get_context(wsi);
    ib_node_t *node = ctx ? lws_context_user(ctx) : NULL;
    if (!node)
        return net_callback(node, wsi, reason, user, in, len);
    /* Whatever this callback sends (a round start: 20k messages to 10k
     * people) is written at its end, one send per connection. */
    ib__out_cork(node);
    int rc = net_callback(node, wsi, reason, user, in, len);
    ib__out_uncork(node);
    return rc;
}
