/*
 * The Redis backend of the store port: hiredis 0.14 async on our libuv loop.
 *
 * hiredis 0.14 has neither command timeouts nor reconnection, so both live
 * here. Every command is an rcmd_t with its own deadline timer: whichever
 * comes first, the reply or the deadline, answers the caller; the other is
 * ignored, and the rcmd is freed once both hiredis and libuv are done with
 * it. The connection is checked with a PING a second; a PING past its
 * deadline means Redis is stalled, and the context is dropped with
 * redisAsyncFree (redisAsyncDisconnect would wait for replies that never
 * come) and made again with backoff, as after any disconnect.
 *
 * Keys carry the event as a hash tag, ib:{<event>}:..., so one event's keys
 * share a Redis Cluster slot and the scripts below touch a single slot.
 * Chat history entries are "<seq> <json>", so the sequence number needs no
 * JSON surgery inside Lua.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/adapters/libuv.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <uv.h>

#include "icebreaker/ib_err.h"
#include "icebreaker/ib_store_redis.h"

#define IB_REDIS_TTL_S 86400 /* keys of an idle room expire after a day */
#define IB_REDIS_PING_MS 1000
#define IB_REDIS_BACKOFF_MIN_MS 100
#define IB_REDIS_BACKOFF_MAX_MS 5000
#define IB_REDIS_SKEW_MS 500

/* A command that missed its deadline may still run: it sits in the socket
 * when Redis stalls and is read when Redis wakes up, after the client was
 * told "unavailable". So the append checks a deadline (ARGV[4], ms since
 * the epoch) against Redis's own clock and does nothing past it (returns
 * -1). The deadline is IB_REDIS_SKEW_MS before ours, which covers clocks
 * that far apart. */
static const char CHAT_APPEND_LUA[] =
    "local t = redis.call('TIME') "
    "if t[1] * 1000 + math.floor(t[2] / 1000) > tonumber(ARGV[4]) then return -1 end "
    "local s = redis.call('INCR', KEYS[1]) "
    "redis.call('RPUSH', KEYS[2], s .. ' ' .. ARGV[1]) "
    "redis.call('LTRIM', KEYS[2], -tonumber(ARGV[2]), -1) "
    "redis.call('EXPIRE', KEYS[1], ARGV[3]) "
    "redis.call('EXPIRE', KEYS[2], ARGV[3]) "
    "return s";

static const char CHAT_DELETE_LUA[] =
    "local p = ARGV[1] .. ' ' "
    "for _, v in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do "
    "  if string.sub(v, 1, #p) == p then redis.call('LREM', KEYS[1], 1, v) return 1 end "
    "end "
    "return 0";

typedef struct redis_store redis_store_t;
typedef struct rcmd rcmd_t;

/* What to do with a reply (err non-zero: no reply, r is NULL). */
typedef void (*rcmd_done_fn)(rcmd_t *c, redisReply *r, int err);

struct rcmd {
    redis_store_t *rs;
    rcmd_done_fn done;
    uv_timer_t timer;
    bool answered;     /* the caller has been answered */
    bool hiredis_done; /* hiredis has called back (or never will) */
    bool timer_closed;
    /* the caller */
    ib_store_seq_cb seq_cb;
    ib_store_history_cb history_cb;
    void *arg;
    uint64_t seq;
    json_t *msg;
};

struct redis_store {
    ib_store_t base;
    uv_loop_t *loop;
    char host[256];
    int port, db;
    size_t history;
    redisAsyncContext *ac;
    bool connected;
    bool freeing;
    int handles; /* our open uv handles; the struct goes with the last */
    uv_timer_t reconnect, ping;
    uv_getaddrinfo_t resolver;
    bool resolving;
    uint64_t backoff_ms;
    bool ping_pending;
    int64_t ping_sent;
};

static void connect_now(redis_store_t *rs);
static void send_ping(redis_store_t *rs);

/* One of our handles (or the resolver request) is done: the struct goes
 * with the last of them, so that no libuv callback outlives it. */
static void release(redis_store_t *rs)
{
    if (--rs->handles == 0)
        free(rs);
}

static void handle_closed(uv_handle_t *h)
{
    release(h->data);
}

static void rcmd_maybe_free(rcmd_t *c)
{
    if (c->hiredis_done && c->timer_closed) {
        json_decref(c->msg);
        free(c);
    }
}

static void rcmd_timer_closed(uv_handle_t *h)
{
    rcmd_t *c = h->data;
    redis_store_t *rs = c->rs;
    c->timer_closed = true;
    rcmd_maybe_free(c);
    release(rs);
}

static void rcmd_answer(rcmd_t *c, redisReply *r, int err)
{
    if (c->answered)
        return;
    c->answered = true;
    c->done(c, r, err);
    if (!uv_is_closing((uv_handle_t *)&c->timer)) {
        uv_timer_stop(&c->timer);
        uv_close((uv_handle_t *)&c->timer, rcmd_timer_closed);
    }
}

static void rcmd_deadline(uv_timer_t *t)
{
    rcmd_t *c = t->data;
    rcmd_answer(c, NULL, IB_EUNAVAIL);
}

static void rcmd_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    (void)ac;
    rcmd_t *c = privdata;
    redisReply *r = reply;
    c->hiredis_done = true;
    if (!r)
        rcmd_answer(c, NULL, IB_EUNAVAIL);
    else if (r->type == REDIS_REPLY_ERROR)
        rcmd_answer(c, r, IB_EINTERNAL);
    else
        rcmd_answer(c, r, 0);
    rcmd_maybe_free(c);
}

/* Issue a command; on failure (no connection) the caller is not called
 * back and IB_EUNAVAIL is returned. The rcmd is taken over either way. */
static int rcmd_send(rcmd_t *c, int argc, const char **argv, const size_t *lens)
{
    redis_store_t *rs = c->rs;
    if (!rs->ac || !rs->connected ||
        redisAsyncCommandArgv(rs->ac, rcmd_reply, c, argc, argv, lens) != REDIS_OK) {
        json_decref(c->msg);
        free(c);
        return IB_EUNAVAIL;
    }
    uv_timer_init(rs->loop, &c->timer);
    c->timer.data = c;
    rs->handles++;
    uv_timer_start(&c->timer, rcmd_deadline, IB_REDIS_DEADLINE_MS, 0);
    return 0;
}

static rcmd_t *rcmd_new(redis_store_t *rs, rcmd_done_fn done)
{
    rcmd_t *c = calloc(1, sizeof(*c));
    if (c) {
        c->rs = rs;
        c->done = done;
    }
    return c;
}

static void key(char *out, size_t n, const char *event, const char *room, const char *what)
{
    snprintf(out, n, "ib:{%s}:room:%s:%s", event, room, what);
}

/* --- chat --- */

static void chat_append_done(rcmd_t *c, redisReply *r, int err)
{
    if (err || r->type != REDIS_REPLY_INTEGER || r->integer <= 0) {
        c->seq_cb(c->arg, err ? err : IB_EUNAVAIL, 0);
        return;
    }
    json_object_set_new(c->msg, "seq", json_integer(r->integer));
    c->seq_cb(c->arg, 0, (uint64_t)r->integer);
}

static int rs_chat_append(ib_store_t *st, const char *event, const char *room, json_t *msg,
                          ib_store_seq_cb cb, void *arg)
{
    redis_store_t *rs = (redis_store_t *)st;
    char kseq[256], kchat[256], hist[24], ttl[24], deadline[24];
    key(kseq, sizeof(kseq), event, room, "seq");
    key(kchat, sizeof(kchat), event, room, "chat");
    snprintf(hist, sizeof(hist), "%zu", rs->history ? rs->history : 1);
    snprintf(ttl, sizeof(ttl), "%d", IB_REDIS_TTL_S);
    uv_timeval64_t tv;
    uv_gettimeofday(&tv);
    snprintf(deadline, sizeof(deadline), "%lld",
             (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000 + IB_REDIS_DEADLINE_MS -
                 IB_REDIS_SKEW_MS);
    char *body = json_dumps(msg, JSON_COMPACT);
    rcmd_t *c = body ? rcmd_new(rs, chat_append_done) : NULL;
    if (!c) {
        free(body);
        return IB_ENOMEM;
    }
    c->seq_cb = cb;
    c->arg = arg;
    c->msg = json_incref(msg);
    const char *argv[] = {"EVAL", CHAT_APPEND_LUA, "2", kseq, kchat, body, hist, ttl, deadline};
    size_t lens[9];
    for (int i = 0; i < 9; i++)
        lens[i] = strlen(argv[i]);
    int rc = rcmd_send(c, 9, argv, lens);
    free(body);
    return rc;
}

/* History entries ("<seq> <json>") into chat events, oldest first; entries
 * that do not parse are skipped. NULL only when r is not an array or memory
 * runs out. Internal, not static: the fuzz target feeds it arbitrary
 * replies. */
json_t *ib__redis_history_parse(const redisReply *r)
{
    if (!r || r->type != REDIS_REPLY_ARRAY)
        return NULL;
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < r->elements; i++) {
        const redisReply *e = r->element[i];
        if (!e || e->type != REDIS_REPLY_STRING || !e->str)
            continue;
        const char *sp = memchr(e->str, ' ', e->len);
        if (!sp || sp == e->str)
            continue;
        char *end;
        long long seq = strtoll(e->str, &end, 10);
        if (end != sp || seq <= 0)
            continue;
        json_error_t jerr;
        json_t *m = json_loadb(sp + 1, e->len - (size_t)(sp + 1 - e->str), 0, &jerr);
        if (!json_is_object(m)) {
            json_decref(m);
            continue;
        }
        json_object_set_new(m, "seq", json_integer(seq));
        json_array_append_new(arr, m);
    }
    return arr;
}

static void chat_history_done(rcmd_t *c, redisReply *r, int err)
{
    json_t *arr = err ? NULL : ib__redis_history_parse(r);
    if (!arr) {
        c->history_cb(c->arg, err ? err : IB_EINTERNAL, NULL);
        return;
    }
    c->history_cb(c->arg, 0, arr);
    json_decref(arr);
}

static int rs_chat_history(ib_store_t *st, const char *event, const char *room, size_t max,
                           ib_store_history_cb cb, void *arg)
{
    redis_store_t *rs = (redis_store_t *)st;
    if (max == 0) {
        json_t *empty = json_array();
        cb(arg, 0, empty);
        json_decref(empty);
        return 0;
    }
    char kchat[256], from[24];
    key(kchat, sizeof(kchat), event, room, "chat");
    snprintf(from, sizeof(from), "-%zu", max);
    rcmd_t *c = rcmd_new(rs, chat_history_done);
    if (!c)
        return IB_ENOMEM;
    c->history_cb = cb;
    c->arg = arg;
    const char *argv[] = {"LRANGE", kchat, from, "-1"};
    size_t lens[4];
    for (int i = 0; i < 4; i++)
        lens[i] = strlen(argv[i]);
    return rcmd_send(c, 4, argv, lens);
}

static void chat_delete_done(rcmd_t *c, redisReply *r, int err)
{
    if (err || r->type != REDIS_REPLY_INTEGER)
        c->seq_cb(c->arg, err ? err : IB_EINTERNAL, c->seq);
    else
        c->seq_cb(c->arg, r->integer ? 0 : IB_ENOTFOUND, c->seq);
}

static int rs_chat_delete(ib_store_t *st, const char *event, const char *room, uint64_t seq,
                          ib_store_seq_cb cb, void *arg)
{
    redis_store_t *rs = (redis_store_t *)st;
    char kchat[256], s[24];
    key(kchat, sizeof(kchat), event, room, "chat");
    snprintf(s, sizeof(s), "%llu", (unsigned long long)seq);
    rcmd_t *c = rcmd_new(rs, chat_delete_done);
    if (!c)
        return IB_ENOMEM;
    c->seq_cb = cb;
    c->arg = arg;
    c->seq = seq;
    const char *argv[] = {"EVAL", CHAT_DELETE_LUA, "1", kchat, s};
    size_t lens[5];
    for (int i = 0; i < 5; i++)
        lens[i] = strlen(argv[i]);
    return rcmd_send(c, 5, argv, lens);
}

static void rs_room_gone(ib_store_t *st, const char *event, const char *room)
{
    /* Shared history outlives one node's interest in the room: it expires
     * by TTL instead. */
    (void)st;
    (void)event;
    (void)room;
}

static const char *rs_health(ib_store_t *st)
{
    redis_store_t *rs = (redis_store_t *)st;
    return rs->connected ? "ok" : "down";
}

/* --- connection management --- */

static void on_reconnect_timer(uv_timer_t *t)
{
    connect_now(t->data);
}

static void schedule_reconnect(redis_store_t *rs)
{
    if (rs->freeing)
        return;
    rs->backoff_ms = rs->backoff_ms ? rs->backoff_ms * 2 : IB_REDIS_BACKOFF_MIN_MS;
    if (rs->backoff_ms > IB_REDIS_BACKOFF_MAX_MS)
        rs->backoff_ms = IB_REDIS_BACKOFF_MAX_MS;
    uv_timer_start(&rs->reconnect, on_reconnect_timer, rs->backoff_ms, 0);
}

static void on_ping_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    redis_store_t *rs = privdata;
    redisReply *r = reply;
    if (ac != rs->ac)
        return; /* a dropped context's PING, answered as it is freed */
    rs->ping_pending = false;
    if (r && r->type == REDIS_REPLY_STATUS) {
        rs->connected = true;
        rs->backoff_ms = 0;
    }
}

static void send_ping(redis_store_t *rs)
{
    if (redisAsyncCommand(rs->ac, on_ping_reply, rs, "PING") == REDIS_OK) {
        rs->ping_pending = true;
        rs->ping_sent = (int64_t)uv_now(rs->loop);
    }
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    redis_store_t *rs = ac->data;
    (void)status;
    if (rs->ac != ac)
        return; /* dropped on purpose: the reconnect is already planned */
    rs->ac = NULL;
    rs->connected = false;
    rs->ping_pending = false;
    schedule_reconnect(rs);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    redis_store_t *rs = ac->data;
    if (status != REDIS_OK) {
        /* hiredis frees the context itself after a failed connect. */
        if (rs->ac == ac)
            rs->ac = NULL;
        rs->connected = false;
        schedule_reconnect(rs);
        return;
    }
    /* A TCP connection is not an answering Redis (a stopped server's
     * kernel still accepts): the store is up once a PING comes back. */
    if (rs->db) {
        char db[16];
        snprintf(db, sizeof(db), "%d", rs->db);
        redisAsyncCommand(rs->ac, NULL, NULL, "SELECT %s", db);
    }
    send_ping(rs);
}

/* Drop the context at once: used when Redis is stalled. hiredis calls every
 * pending callback with a NULL reply, which answers their callers. */
static void drop_context(redis_store_t *rs)
{
    redisAsyncContext *ac = rs->ac;
    rs->ac = NULL;
    rs->connected = false;
    rs->ping_pending = false;
    if (ac)
        redisAsyncFree(ac);
    schedule_reconnect(rs);
}

static void connect_ip(redis_store_t *rs, const char *ip)
{
    redisAsyncContext *ac = redisAsyncConnect(ip, rs->port);
    if (!ac || ac->err) {
        if (ac)
            redisAsyncFree(ac);
        schedule_reconnect(rs);
        return;
    }
    ac->data = rs;
    if (redisLibuvAttach(ac, rs->loop) != REDIS_OK) {
        redisAsyncFree(ac);
        schedule_reconnect(rs);
        return;
    }
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    rs->ac = ac;
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    redis_store_t *rs = req->data;
    rs->resolving = false;
    char ip[64] = "";
    if (status == 0 && res)
        uv_ip4_name((struct sockaddr_in *)res->ai_addr, ip, sizeof(ip));
    if (res)
        uv_freeaddrinfo(res);
    bool freeing = rs->freeing;
    release(rs);
    if (freeing)
        return;
    if (!ip[0]) {
        schedule_reconnect(rs);
        return;
    }
    connect_ip(rs, ip);
}

/* hiredis 0.14 resolves names with a blocking getaddrinfo: resolve first
 * with libuv, then connect to the address. */
static void connect_now(redis_store_t *rs)
{
    if (rs->freeing || rs->ac || rs->resolving)
        return;
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM};
    rs->resolver.data = rs;
    rs->resolving = true;
    rs->handles++; /* the request holds the struct like a handle */
    if (uv_getaddrinfo(rs->loop, &rs->resolver, on_resolved, rs->host, NULL, &hints)) {
        rs->resolving = false;
        rs->handles--;
        schedule_reconnect(rs);
    }
}

static void on_ping_timer(uv_timer_t *t)
{
    redis_store_t *rs = t->data;
    if (!rs->ac)
        return;
    if (rs->ping_pending) {
        if ((int64_t)uv_now(rs->loop) - rs->ping_sent >= IB_REDIS_DEADLINE_MS)
            drop_context(rs);
        return;
    }
    send_ping(rs);
}

static void rs_free(ib_store_t *st)
{
    redis_store_t *rs = (redis_store_t *)st;
    rs->freeing = true;
    if (rs->ac) {
        redisAsyncContext *ac = rs->ac;
        rs->ac = NULL;
        redisAsyncFree(ac);
    }
    rs->connected = false;
    uv_close((uv_handle_t *)&rs->reconnect, handle_closed);
    uv_close((uv_handle_t *)&rs->ping, handle_closed);
    if (rs->resolving)
        uv_cancel((uv_req_t *)&rs->resolver);
}

static const ib_store_ops_t redis_ops = {
    .name = "redis",
    .chat_append = rs_chat_append,
    .chat_history = rs_chat_history,
    .chat_delete = rs_chat_delete,
    .room_gone = rs_room_gone,
    .health = rs_health,
    .free = rs_free,
};

int ib_redis_url_parse(const char *url, char *host, size_t hostlen, int *port, int *db, char *err,
                       size_t errlen)
{
    const char *p = url;
    if (strncmp(p, "redis://", 8)) {
        snprintf(err, errlen, "--redis: expected redis://HOST:PORT/DB, got '%s'", url);
        return IB_EBADREQ;
    }
    p += 8;
    if (strchr(p, '@')) {
        snprintf(err, errlen, "--redis: credentials in the URL are not supported");
        return IB_EBADREQ;
    }
    size_t n = strcspn(p, ":/");
    if (n == 0 || n >= hostlen) {
        snprintf(err, errlen, "--redis: missing or too long host in '%s'", url);
        return IB_EBADREQ;
    }
    memcpy(host, p, n);
    host[n] = 0;
    p += n;
    *port = 6379;
    *db = 0;
    if (*p == ':') {
        char *end;
        long v = strtol(p + 1, &end, 10);
        if (end == p + 1 || v < 1 || v > 65535) {
            snprintf(err, errlen, "--redis: bad port in '%s'", url);
            return IB_EBADREQ;
        }
        *port = (int)v;
        p = end;
    }
    if (*p == '/') {
        char *end;
        long v = strtol(p + 1, &end, 10);
        if (p[1] && (end == p + 1 || *end || v < 0 || v > 1000)) {
            snprintf(err, errlen, "--redis: bad database number in '%s'", url);
            return IB_EBADREQ;
        }
        *db = (int)v;
        p = p[1] ? end : p + 1;
    }
    if (*p) {
        snprintf(err, errlen, "--redis: unexpected '%s' in '%s'", p, url);
        return IB_EBADREQ;
    }
    return 0;
}

ib_store_t *ib_store_redis_new(void *loop, const char *url, size_t history, char *err,
                               size_t errlen)
{
    redis_store_t *rs = calloc(1, sizeof(*rs));
    if (!rs) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (ib_redis_url_parse(url, rs->host, sizeof(rs->host), &rs->port, &rs->db, err, errlen)) {
        free(rs);
        return NULL;
    }
    rs->base.ops = &redis_ops;
    rs->loop = loop;
    rs->history = history;
    uv_timer_init(rs->loop, &rs->reconnect);
    uv_timer_init(rs->loop, &rs->ping);
    rs->reconnect.data = rs->ping.data = rs;
    rs->handles = 2;
    uv_timer_start(&rs->ping, on_ping_timer, IB_REDIS_PING_MS, IB_REDIS_PING_MS);
    connect_now(rs);
    return &rs->base;
}
