/*
 * A load generator worker: one process, one libuv loop, one lws client
 * context on it (LWS_SERVER_OPTION_LIBUV with our loop as a foreign loop),
 * holding its share of the clients.
 *
 * Each client is a small fixed struct (lg_conn_t, 32 bytes) that lws uses
 * as the connection's user data, so lws allocates nothing of ours per
 * connection. A client has at most one request outstanding (hello, join,
 * sn.join, a chat) and one message to write next (`want`), so a reply needs
 * no id matching: it answers whatever the state says was asked.
 *
 * The receive path never allocates or parses JSON: it looks at the first
 * chunk lws hands over for a message (the server puts "type" first), finds
 * the type with a bounded scan and, for a chat event, the send time that
 * the sender wrote into the text ("lg:<monotonic us> ..."). Later chunks of
 * a long message (a join reply listing 200 members) are skipped by a
 * one-bit flag.
 *
 * Connections are started from a 1 ms ramp timer, at most `window` between
 * the TCP connect and the join's ok, at most `rate` per second, each bound
 * to one of K source addresses 127.0.0.2.. (lws binds the socket to `iface`)
 * so that 19k clients never run out of ephemeral ports.
 */
#include <errno.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>

#include <jansson.h>
#include <libwebsockets.h>
#include <uv.h>

#include "icebreaker/ib_jwt.h"
#include "lg.h"

enum {
    S_IDLE,       /* not started */
    S_CONNECTING, /* TCP + WebSocket handshake */
    S_HELLO,      /* hello sent or to send */
    S_JOIN,       /* join sent or to send */
    S_JOINED,     /* in the lounge */
    S_SN_JOIN,    /* sn.join sent or to send */
    S_HOST_WAIT,  /* host: sn.create or sn.start sent */
    S_CLOSED,
};

enum { W_NONE, W_HELLO, W_JOIN, W_SN_JOIN, W_CHAT, W_SN_CREATE, W_SN_START };

typedef struct lg_conn {
    struct lws *wsi;
    int64_t t0;    /* connect started, or the outstanding request sent */
    uint32_t user; /* global client index: user id "u<user>" */
    uint8_t state;
    uint8_t want;
    uint8_t cont : 1;    /* inside a message whose first chunk was seen */
    uint8_t matched : 1; /* got an sn.match */
    uint8_t host : 1;    /* the sn host */
    uint8_t in_sn : 1;   /* sn.join answered ok */
} lg_conn_t;

#define LG_MAX_NOTES 4
#define LG_BUF_MAX 8192

static struct {
    const lg_opts_t *o;
    int id, first, count, fd;
    uv_loop_t loop;
    uv_poll_t ipc;
    uv_timer_t ramp, status, send;
    struct lws_context *ctx;
    lg_conn_t *conns; /* count participants, then the host (sn, worker 0) */
    lg_conn_t *host;
    char **tokens;
    char sources[250][24]; /* "127.0.0.N" */
    int next;              /* next client to start */
    int inflight;          /* started, neither joined nor failed */
    int64_t t_go, rate_t0;
    int sn_next, sn_inflight;
    int64_t win_start, win_end, sn_t0;
    unsigned send_tick;
    char session[128];
    int notes;
    bool ramp_done, stopping;
    lg_counters_t c;
    lg_hist_t h[LG_H__COUNT];
    unsigned char buf[LWS_PRE + LG_BUF_MAX];
} W;

static void send_msg(const void *m, size_t len)
{
    /* SOCK_SEQPACKET: one message per send; the coordinator reads promptly,
     * so a blocking send is at most a short wait. */
    while (send(W.fd, m, len, MSG_NOSIGNAL) < 0 && errno == EINTR)
        ;
}

static void send_text(uint32_t kind, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void send_text(uint32_t kind, const char *fmt, ...)
{
    lg_msg_t m = {.kind = kind, .worker = (uint32_t)W.id};
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m.text, sizeof(m.text), fmt, ap);
    va_end(ap);
    m.c = W.c;
    send_msg(&m, sizeof(m));
}

/* A first few failures are worth a line in the report; the rest are counted. */
static void note(const char *what, const char *in, size_t len)
{
    if (W.notes >= LG_MAX_NOTES)
        return;
    W.notes++;
    send_text(LG_M_NOTE, "%s: %.*s", what, (int)(len > 200 ? 200 : len), in ? in : "");
}

static void report_status(void)
{
    W.c.cpu_us = lg_self_cpu_us();
    lg_msg_t m = {.kind = LG_M_STATUS, .worker = (uint32_t)W.id, .c = W.c};
    send_msg(&m, sizeof(m));
}

/* ---- cheap JSON field scanning (our own servers' output only) ---- */

/* Find the string value of key (given with its quotes, "\"type\"") in
 * in[0..len): sets *v and *vlen to the raw bytes between the value's quotes
 * (no unescaping). False when absent. */
static bool scan_str(const char *in, size_t len, const char *key, const char **v, size_t *vlen)
{
    size_t kl = strlen(key);
    const char *end = in + len, *p = in;
    while ((p = memmem(p, (size_t)(end - p), key, kl)) != NULL) {
        const char *q = p + kl;
        p = q;
        while (q < end && (*q == ' ' || *q == ':'))
            q++;
        if (q >= end || *q != '"')
            continue;
        const char *s = ++q;
        while (q < end && *q != '"')
            q++;
        if (q >= end)
            return false;
        *v = s;
        *vlen = (size_t)(q - s);
        return true;
    }
    return false;
}

static bool str_is(const char *v, size_t vlen, const char *lit)
{
    return vlen == strlen(lit) && memcmp(v, lit, vlen) == 0;
}

/* ---- requests ---- */

static void want(lg_conn_t *c, int what)
{
    c->want = (uint8_t)what;
    if (c->wsi)
        lws_callback_on_writable(c->wsi);
}

static void check_ramp_done(void)
{
    if (W.ramp_done || (int)(W.c.joined + W.c.failed) < W.count)
        return;
    if (W.host && W.host->state != S_JOINED && W.host->state != S_CLOSED)
        return;
    W.ramp_done = true;
    W.c.all_joined = lg_now_us();
    report_status();
}

/* Compose the message c wants into W.buf + LWS_PRE; returns its length. */
static int compose(lg_conn_t *c)
{
    char *p = (char *)W.buf + LWS_PRE;
    const lg_opts_t *o = W.o;
    int n = 0;
    switch (c->want) {
    case W_HELLO: {
        size_t i = (size_t)(c - W.conns);
        n = snprintf(p, LG_BUF_MAX, "{\"type\":\"hello\",\"id\":1,\"token\":\"%s\"}", W.tokens[i]);
        free(W.tokens[i]);
        W.tokens[i] = NULL;
        break;
    }
    case W_JOIN:
        n = snprintf(p, LG_BUF_MAX, "{\"type\":\"join\",\"id\":2,\"room\":\"%s\"}", o->room);
        break;
    case W_SN_JOIN:
        n = snprintf(p, LG_BUF_MAX, "{\"type\":\"sn.join\",\"id\":3,\"session\":\"%s\"}",
                     W.session);
        break;
    case W_CHAT: {
        int64_t now = lg_now_us();
        char pad[LG_BUF_MAX / 2];
        int plen = o->text_bytes - 20;
        if (plen < 0)
            plen = 0;
        if (plen > (int)sizeof(pad) - 1)
            plen = (int)sizeof(pad) - 1;
        memset(pad, 'x', (size_t)plen);
        pad[plen] = 0;
        /* The send time leads the text, padded to 16 digits so every
         * message of a run has the same length. */
        n = snprintf(p, LG_BUF_MAX,
                     "{\"type\":\"chat\",\"id\":4,\"room\":\"%s\",\"text\":\"lg:%016lld %s\"}",
                     o->room, (long long)now, pad);
        if (now >= W.win_start && now < W.win_end)
            W.c.chat_sent++;
        break;
    }
    case W_SN_CREATE:
        n = snprintf(p, LG_BUF_MAX,
                     "{\"type\":\"sn.create\",\"id\":5,\"lounge\":\"%s\",\"rounds\":%d,"
                     "\"round_s\":%d,\"break_s\":10,\"strategy\":\"%s\"}",
                     o->room, o->sn_rounds, o->sn_round_s, o->sn_strategy);
        break;
    case W_SN_START:
        n = snprintf(p, LG_BUF_MAX, "{\"type\":\"sn.start\",\"id\":6,\"session\":\"%s\"}",
                     W.session);
        break;
    }
    return n > 0 && n < LG_BUF_MAX ? n : -1;
}

/* A reply (ok or error) to c's outstanding request. Returns -1 to close. */
static int on_reply(lg_conn_t *c, bool ok, const char *in, size_t len)
{
    int64_t now = lg_now_us();
    if (!ok)
        W.c.errors++;
    switch (c->state) {
    case S_HELLO:
        if (!ok) {
            note("hello refused", in, len);
            return -1;
        }
        lg_hist_add(&W.h[LG_H_HELLO], (uint64_t)(now - c->t0));
        W.c.helloed++;
        c->state = S_JOIN;
        want(c, W_JOIN);
        return 0;
    case S_JOIN:
        if (!ok) {
            note("join refused", in, len);
            return -1;
        }
        lg_hist_add(&W.h[LG_H_JOIN], (uint64_t)(now - c->t0));
        c->state = S_JOINED;
        if (c->host) {
            check_ramp_done();
            return 0;
        }
        W.c.joined++;
        W.inflight--;
        check_ramp_done();
        return 0;
    case S_SN_JOIN:
        c->state = S_JOINED;
        W.sn_inflight--;
        W.c.sn_done++;
        if (ok) {
            lg_hist_add(&W.h[LG_H_SN_JOIN], (uint64_t)(now - c->t0));
            W.c.sn_joined++;
            c->in_sn = 1;
        } else {
            note("sn.join refused", in, len);
        }
        return 0;
    case S_HOST_WAIT: {
        c->state = S_JOINED;
        const char *v;
        size_t vl;
        if (!ok) {
            send_text(LG_M_SN_REFUSED, "%.*s", (int)(len > 200 ? 200 : len), in);
            return 0;
        }
        /* sn.create's ok carries the session (sn.start's comes after the
         * id is known). The id reaches every worker, this one included,
         * as LG_C_SN_JOIN: setting it here would start our sn.joins twice. */
        if (!W.session[0]) {
            if (!scan_str(in, len, "\"session\"", &v, &vl) || vl >= sizeof(W.session)) {
                send_text(LG_M_SN_REFUSED, "no session in: %.*s", (int)(len > 180 ? 180 : len), in);
                return 0;
            }
            send_text(LG_M_SESSION, "%.*s", (int)vl, v);
        }
        return 0;
    }
    default:
        /* Chat acks of the senders; errors are counted and a few shown. */
        if (!ok)
            note("error", in, len);
        return 0;
    }
}

/* The first chunk of one message from the server. Returns -1 to close. */
static int on_message(lg_conn_t *c, const char *in, size_t len)
{
    const char *type;
    size_t tlen;
    /* "type" is the first key of everything both servers send. */
    if (!scan_str(in, len < 48 ? len : 48, "\"type\"", &type, &tlen))
        return 0;
    if (str_is(type, tlen, "chat")) {
        const char *t;
        size_t tl;
        if (W.win_end && scan_str(in, len, "\"text\"", &t, &tl) && tl > 3 + 16 &&
            memcmp(t, "lg:", 3) == 0) {
            int64_t sent = 0;
            for (int i = 3; i < 3 + 16; i++)
                sent = sent * 10 + (t[i] - '0');
            if (sent >= W.win_start && sent < W.win_end) {
                int64_t now = lg_now_us();
                lg_hist_add(&W.h[LG_H_CHAT], (uint64_t)(now > sent ? now - sent : 0));
                W.c.delivered++;
            }
        }
        return 0;
    }
    if (str_is(type, tlen, "ok"))
        return on_reply(c, true, in, len);
    if (str_is(type, tlen, "error"))
        return on_reply(c, false, in, len);
    if (str_is(type, tlen, "sn.match")) {
        if (!c->matched && W.sn_t0) {
            int64_t now = lg_now_us();
            c->matched = 1;
            lg_hist_add(&W.h[LG_H_MATCH], (uint64_t)(now - W.sn_t0));
            W.c.matched++;
            W.c.last_match = now;
            /* The last one: tell main now, not at the next status tick,
             * so that its CPU probe ends close to the last match. */
            if (W.c.matched == W.c.sn_joined)
                report_status();
        }
        return 0;
    }
    return 0; /* presence, presence.count, sn.state, ... */
}

static void conn_gone(lg_conn_t *c, const char *why, const char *in, size_t len)
{
    if (c->state == S_CLOSED)
        return;
    if (c->state < S_JOINED && c->state != S_IDLE) {
        if (!c->host) {
            W.c.failed++;
            W.inflight--;
        }
        note(why, in, len);
    } else if (!W.stopping) {
        W.c.closed++;
        note(why, in, len);
    }
    if (c->state == S_SN_JOIN) {
        W.sn_inflight--;
        W.c.sn_done++;
    }
    c->state = S_CLOSED;
    c->wsi = NULL;
    check_ramp_done();
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    lg_conn_t *c = user;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        W.c.open++;
        c->state = S_HELLO;
        want(c, W_HELLO);
        break;
    case LWS_CALLBACK_CLIENT_WRITEABLE: {
        if (c->want == W_NONE)
            break;
        int n = compose(c);
        int what = c->want;
        c->want = W_NONE;
        if (n < 0)
            return -1;
        if (what == W_SN_JOIN)
            c->t0 = lg_now_us();
        if (what == W_SN_CREATE || what == W_SN_START)
            c->state = S_HOST_WAIT;
        if (lws_write(wsi, W.buf + LWS_PRE, (size_t)n, LWS_WRITE_TEXT) < n)
            return -1;
        W.c.tx_msgs++;
        break;
    }
    case LWS_CALLBACK_CLIENT_RECEIVE: {
        bool first = !c->cont;
        c->cont = !lws_is_final_fragment(wsi);
        W.c.rx_bytes += len;
        if (!first)
            break;
        W.c.rx_msgs++;
        if (on_message(c, in, len) < 0)
            return -1;
        break;
    }
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE: {
        char why[160];
        unsigned code = len >= 2 ? ((unsigned)((uint8_t *)in)[0] << 8 | ((uint8_t *)in)[1]) : 0;
        snprintf(why, sizeof(why), "closed by the server with %u", code);
        conn_gone(c, why, len > 2 ? (char *)in + 2 : "", len > 2 ? len - 2 : 0);
        break;
    }
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (c)
            conn_gone(c, "connection error", in, in ? strlen(in) : 0);
        break;
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (c)
            conn_gone(c, "connection closed", NULL, 0);
        break;
    default:
        break;
    }
    return 0;
}

static const struct lws_protocols protocols[] = {
    /* rx_buffer_size: a chunk large enough for the first part of any
     * message we read (type, then the chat text); the rest is skipped. */
    {"icebreaker.v1", callback, 0, 1024, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* All zeros: no lws validity timer on our connections. lws 4.1.6 keeps
 * those deadlines in one sorted list and inserts each new connection's by
 * a linear walk (lws_dll2_add_sorted was a quarter of the generator's CPU
 * in a 10k connect storm, enough to make the generator the bottleneck).
 * The server's pings are still answered: lws does that by itself. */
static const lws_retry_bo_t no_idle_policy;

static void start_conn(lg_conn_t *c)
{
    const lg_opts_t *o = W.o;
    struct lws_client_connect_info i;
    memset(&i, 0, sizeof(i));
    i.context = W.ctx;
    i.address = o->host;
    i.port = o->port;
    i.path = o->path;
    i.host = o->host;
    i.protocol = "icebreaker.v1";
    i.userdata = c;
    i.pwsi = &c->wsi;
    i.retry_and_idle_policy = &no_idle_policy;
    i.iface = W.sources[c->user % (uint32_t)o->sources];
    c->state = S_CONNECTING;
    c->t0 = lg_now_us();
    W.c.started++;
    if (!c->host)
        W.inflight++;
    if (!lws_client_connect_via_info(&i) && c->state != S_CLOSED)
        conn_gone(c, "connect failed", NULL, 0);
}

/* Starts as many connections (then sn.joins) as the window and rate allow. */
static void on_ramp(uv_timer_t *t)
{
    (void)t;
    const lg_opts_t *o = W.o;
    int64_t now = lg_now_us();
    if (W.next < W.count) {
        int budget = o->window - W.inflight;
        if (o->rate > 0) {
            /* This worker's share of the rate. */
            int64_t allowed = (now - W.rate_t0) * o->rate / o->procs / 1000000 + 1;
            int64_t left = allowed - W.next;
            if (left < budget)
                budget = (int)left;
        }
        while (budget-- > 0 && W.next < W.count)
            start_conn(&W.conns[W.next++]);
    }
    if (W.session[0] && W.sn_next < W.count) {
        while (W.sn_inflight < o->window && W.sn_next < W.count) {
            lg_conn_t *c = &W.conns[W.sn_next++];
            if (c->state != S_JOINED) {
                W.c.sn_done++;
                continue;
            }
            c->state = S_SN_JOIN;
            W.sn_inflight++;
            want(c, W_SN_JOIN);
        }
    }
}

static void on_status(uv_timer_t *t)
{
    (void)t;
    report_status();
}

static void on_send(uv_timer_t *t)
{
    int64_t now = lg_now_us();
    if (now >= W.win_end) {
        uv_timer_stop(t);
        return;
    }
    int k = (int)(W.send_tick++ % (unsigned)W.o->senders);
    lg_conn_t *c = &W.conns[k];
    if (c->state != S_JOINED)
        return;
    if (c->want != W_NONE) {
        W.c.chat_late++;
        return;
    }
    want(c, W_CHAT);
}

static void stop(void)
{
    if (W.stopping)
        return;
    W.stopping = true;
    W.c.cpu_us = lg_self_cpu_us();
    lg_result_msg_t *r = calloc(1, sizeof(*r));
    if (r) {
        r->kind = LG_M_RESULT;
        r->worker = (uint32_t)W.id;
        r->c = W.c;
        memcpy(r->h, W.h, sizeof(W.h));
        send_msg(r, sizeof(*r));
        free(r);
    }
    uv_timer_stop(&W.ramp);
    uv_timer_stop(&W.status);
    uv_timer_stop(&W.send);
    uv_poll_stop(&W.ipc);
    uv_stop(&W.loop);
}

static void on_cmd(const lg_cmd_t *cmd)
{
    switch (cmd->kind) {
    case LG_C_GO:
        W.t_go = W.rate_t0 = cmd->a;
        if (W.host)
            start_conn(W.host);
        uv_timer_start(&W.ramp, on_ramp, 0, 1);
        check_ramp_done();
        break;
    case LG_C_FANOUT:
        W.win_start = cmd->a;
        W.win_end = cmd->b;
        if (W.id == 0 && W.o->senders > 0) {
            uint64_t every = (uint64_t)W.o->interval_ms;
            uv_timer_start(&W.send, on_send, 0, every ? every : 1);
        }
        break;
    case LG_C_SN_CREATE:
        if (W.host && W.host->state == S_JOINED)
            want(W.host, W_SN_CREATE);
        else
            send_text(LG_M_SN_REFUSED, "the host connection is not in the lounge");
        break;
    case LG_C_SN_JOIN:
        snprintf(W.session, sizeof(W.session), "%s", cmd->text);
        W.sn_next = 0;
        break;
    case LG_C_SN_START:
        W.sn_t0 = cmd->a;
        if (W.host)
            want(W.host, W_SN_START);
        break;
    case LG_C_STOP:
        stop();
        break;
    }
}

static void on_ipc(uv_poll_t *p, int status, int events)
{
    (void)p;
    (void)events;
    if (status < 0) {
        stop();
        return;
    }
    for (;;) {
        lg_cmd_t cmd;
        ssize_t n = recv(W.fd, &cmd, sizeof(cmd), MSG_DONTWAIT);
        if (n == (ssize_t)sizeof(cmd)) {
            on_cmd(&cmd);
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        stop(); /* the coordinator is gone */
        return;
    }
}

static char *mint(const lg_opts_t *o, uint32_t user, bool host)
{
    char sub[32], name[48];
    snprintf(sub, sizeof(sub), host ? "host%u" : "u%u", user);
    snprintf(name, sizeof(name), host ? "Host %u" : "User %u", user);
    json_t *claims = json_pack("{s:s,s:s,s:s,s:s,s:I,s:s,s:[sss]}", "sub", sub, "name", name,
                               "role", host ? "host" : "attendee", "event", o->event, "exp",
                               (json_int_t)(time(NULL) + 6 * 3600), "headline", "load test",
                               "interests", "c", "networking", user % 2 ? "rust" : "go");
    if (!claims)
        return NULL;
    char *tok = ib_jwt_sign(claims, (const unsigned char *)o->secret, strlen(o->secret));
    json_decref(claims);
    return tok;
}

int lg_worker_run(const lg_opts_t *o, int w, int first, int count, int fd)
{
    struct lws_context_creation_info info;
    int rc = 1;

    signal(SIGINT, SIG_IGN); /* the coordinator decides when to stop */
    signal(SIGTERM, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    W.o = o;
    W.id = w;
    W.first = first;
    W.count = count;
    W.fd = fd;
    for (int i = 0; i < LG_H__COUNT; i++)
        lg_hist_init(&W.h[i]);

    bool with_host = o->scenario == LG_SN && w == 0;
    int total = count + (with_host ? 1 : 0);
    W.conns = calloc((size_t)total, sizeof(*W.conns));
    W.tokens = calloc((size_t)total, sizeof(*W.tokens));
    if (!W.conns || !W.tokens)
        goto out;
    for (int k = 0; k < o->sources; k++)
        snprintf(W.sources[k], sizeof(W.sources[k]), "127.0.0.%d", 2 + k);
    /* Tokens are minted before the clock starts: the storm measures the
     * server's JWT check, not our signing. */
    for (int i = 0; i < total; i++) {
        lg_conn_t *c = &W.conns[i];
        c->user = (uint32_t)(i < count ? first + i : 0);
        c->host = i >= count;
        W.tokens[i] = mint(o, c->user, c->host);
        if (!W.tokens[i])
            goto out;
    }
    if (with_host)
        W.host = &W.conns[count];

    uv_loop_init(&W.loop);
    lws_set_log_level(LLL_ERR, NULL);
    memset(&info, 0, sizeof(info));
    void *foreign[] = {&W.loop};
    info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_DISABLE_IPV6;
    info.foreign_loops = foreign;
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.fd_limit_per_thread = 0;
    info.timeout_secs = 10; /* a handshake not answered in 10 s fails */
    W.ctx = lws_create_context(&info);
    if (!W.ctx) {
        send_text(LG_M_NOTE, "worker %d: cannot create the lws context", w);
        goto out_loop;
    }
    uv_timer_init(&W.loop, &W.ramp);
    uv_timer_init(&W.loop, &W.status);
    uv_timer_init(&W.loop, &W.send);
    uv_poll_init(&W.loop, &W.ipc, fd);
    uv_poll_start(&W.ipc, UV_READABLE, on_ipc);
    uv_timer_start(&W.status, on_status, 100, 100);

    /* Tell the coordinator we are ready; LG_C_GO starts the ramp. */
    report_status();
    uv_run(&W.loop, UV_RUN_DEFAULT);
    rc = 0;

    /* Two-stage destroy on a foreign loop (see server/net/node.c); an
     * alarm bounds it in case a connection lingers. */
    alarm(20);
    uv_close((uv_handle_t *)&W.ramp, NULL);
    uv_close((uv_handle_t *)&W.status, NULL);
    uv_close((uv_handle_t *)&W.send, NULL);
    uv_close((uv_handle_t *)&W.ipc, NULL);
    lws_context_destroy(W.ctx);
    uv_run(&W.loop, UV_RUN_DEFAULT);
    lws_context_destroy(W.ctx);
    uv_run(&W.loop, UV_RUN_DEFAULT);
out_loop:
    uv_loop_close(&W.loop);
out:
    if (W.tokens)
        for (int i = 0; i < total; i++)
            free(W.tokens[i]);
    free(W.tokens);
    free(W.conns);
    return rc;
}
