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
#include "icebreaker/ib_ids.h"
#include "icebreaker/ib_map.h"
#include "icebreaker/ib_store_redis.h"
#include "redis_internal.h"

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
    "if ARGV[5] ~= '' then "
    "  redis.call('PUBLISH', ARGV[5], ARGV[6] .. string.sub(ARGV[1], 1, -2) .. ',\"seq\":' .. s .. "
    "'}') "
    "end "
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
    ib_store_json_cb json_cb;
    void (*ext_cb)(void); /* a callback of another type (cast back by its done) */
    ib__redis_reply_cb reply_cb;
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
    char ip[64]; /* the address last resolved */
    /* Between nodes (after attach) */
    char node_id[IB_ID_MAX + 1];
    int64_t grace_ms;
    ib_store_hooks_t hooks;
    bool attached;
    redisAsyncContext *sub; /* the SUBSCRIBE context */
    bool sub_ready;         /* subscribed (the node channel confirmed) */
    bool want_up;           /* run the up sequence at the next heartbeat */
    bool hb_pending, reap_pending;
    ib_map_t subs;       /* event -> strdup'ed event: channels we want */
    ib_map_t registered; /* event -> strdup: in this node's events set */
    ib_map_t synced;     /* event -> strdup: put back by the current up */
    uv_timer_t hb;
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

/* Issue a command (lens: the argv entries' lengths, or NULL); on failure (no connection) the caller
 * is not called back and IB_EUNAVAIL is returned. The rcmd is taken over either way. */
static int rcmd_send(rcmd_t *c, int argc, const char **argv, const size_t *lens)
{
    redis_store_t *rs = c->rs;
    /* lens NULL: every argv entry is NUL-terminated. */
    size_t own[argc > 0 ? argc : 1];
    if (!lens) {
        for (int i = 0; i < argc; i++)
            own[i] = strlen(argv[i]);
        lens = own;
    }
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

static void chan(char *out, size_t n, const char *event)
{
    snprintf(out, n, "ib:{%s}:bus", event);
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
    /* Between nodes, the script publishes the numbered message itself, so
     * that every node hears a room's messages in sequence order. */
    char ch[256] = "";
    char *hdr = NULL;
    if (rs->attached) {
        chan(ch, sizeof(ch), event);
        const char *from = json_string_value(json_object_get(json_object_get(msg, "from"), "id"));
        json_t *h = json_pack("{s:s,s:s,s:s,s:s}", "k", "chat", "room", room, "from",
                              from ? from : "", "n", rs->node_id);
        char *hs = h ? json_dumps(h, JSON_COMPACT) : NULL;
        json_decref(h);
        if (hs && (hdr = malloc(strlen(hs) + 2)))
            sprintf(hdr, "%s\n", hs);
        free(hs);
        if (!hdr) {
            free(body);
            json_decref(c->msg);
            free(c);
            return IB_ENOMEM;
        }
    }
    const char *argv[] = {"EVAL", CHAT_APPEND_LUA, "2", kseq,          kchat, body, hist,
                          ttl,    deadline,        ch,  hdr ? hdr : ""};
    int rc = rcmd_send(c, 11, argv, NULL);
    free(body);
    free(hdr);
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
    return rcmd_send(c, 4, argv, NULL);
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
    return rcmd_send(c, 5, argv, NULL);
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
    return rs->connected && (!rs->attached || rs->sub_ready) ? "ok" : "down";
}

/* --- between nodes ---
 *
 * Keys of an event (hash tag {<event>}, one Cluster slot per event):
 *   ib:{E}:bus                  channel: every message between nodes
 *   ib:{E}:room:<R>:members     hash "<node> <user>" -> member JSON
 *   ib:{E}:node:<N>:rooms       set: rooms where node N has members
 *   ib:{E}:node:<N>:resumes     set: resume tokens of node N's sessions
 *   ib:{E}:resume               hash token -> resume record
 * Node keys (hash tag {nodes}, one slot):
 *   ib:{nodes}:all              set of registered nodes
 *   ib:{nodes}:hb:<N>           heartbeat, PX IB_REDIS_HB_TTL_MS
 *   ib:{nodes}:events:<N>       set: events where node N has state
 *   ib:{nodes}:dead             zset node -> when its state is removed
 *   ib:{nodes}:bus              channel (keeps the subscription alive)
 */

/* Remove node ARGV[1]'s presence and resume records from an event, then put
 * back the entries ARGV[7..] (room, user, value triples); ARGV[6] = '1'
 * publishes `left` for every entry removed (a dead node), ARGV[4] (when not
 * empty) is published at the end. */
static const char NODE_SYNC_LUA[] =
    "local pre = ARGV[1] .. ' ' "
    "for _, room in ipairs(redis.call('SMEMBERS', KEYS[1])) do "
    "  local h = ARGV[2] .. room .. ':members' "
    "  for _, f in ipairs(redis.call('HKEYS', h)) do "
    "    if string.sub(f, 1, #pre) == pre then "
    "      redis.call('HDEL', h, f) "
    "      if ARGV[6] == '1' then "
    "        redis.call('PUBLISH', ARGV[3], cjson.encode({k='p', n=ARGV[1], room=room, "
    "          id=string.sub(f, #pre + 1), s='left'}) .. '\\n') "
    "      end "
    "    end "
    "  end "
    "end "
    "redis.call('DEL', KEYS[1]) "
    "for _, t in ipairs(redis.call('SMEMBERS', KEYS[2])) do redis.call('HDEL', KEYS[3], t) end "
    "redis.call('DEL', KEYS[2]) "
    "for i = 7, #ARGV, 3 do "
    "  local h = ARGV[2] .. ARGV[i] .. ':members' "
    "  redis.call('HSET', h, pre .. ARGV[i + 1], ARGV[i + 2]) "
    "  redis.call('EXPIRE', h, ARGV[5]) "
    "  redis.call('SADD', KEYS[1], ARGV[i]) "
    "end "
    "if ARGV[4] ~= '' then redis.call('PUBLISH', ARGV[3], ARGV[4]) end "
    "return 1";

static const char PRESENCE_LUA[] = "if ARGV[2] == '' then redis.call('HDEL', KEYS[1], ARGV[1]) "
                                   "else redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) "
                                   "  redis.call('EXPIRE', KEYS[1], ARGV[6]) "
                                   "  redis.call('SADD', KEYS[2], ARGV[3]) end "
                                   "redis.call('PUBLISH', ARGV[4], ARGV[5]) "
                                   "return 1";

static const char RESUME_PUT_LUA[] = "if ARGV[2] == '' then redis.call('HDEL', KEYS[1], ARGV[1]) "
                                     "  redis.call('SREM', KEYS[2], ARGV[1]) "
                                     "else redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) "
                                     "  redis.call('EXPIRE', KEYS[1], ARGV[3]) "
                                     "  redis.call('SADD', KEYS[2], ARGV[1]) end "
                                     "return 1";

/* Returns 1 when the heartbeat was still there, 0 when this node was not
 * registered (first start, Redis restarted, or taken for dead). */
static const char HEARTBEAT_LUA[] = "local had = redis.call('EXISTS', KEYS[1]) "
                                    "redis.call('SET', KEYS[1], '1', 'PX', ARGV[2]) "
                                    "redis.call('SADD', KEYS[2], ARGV[1]) "
                                    "redis.call('ZREM', KEYS[3], ARGV[1]) "
                                    "return had";

/* Nodes whose heartbeat expired are marked dead (their state goes at
 * now + grace); returns the nodes whose time has come (and that did not
 * come back). Each dead node is returned to exactly one caller. */
static const char REAP_LUA[] =
    "for _, n in ipairs(redis.call('SMEMBERS', KEYS[1])) do "
    "  if redis.call('EXISTS', ARGV[3] .. n) == 0 then "
    "    redis.call('SREM', KEYS[1], n) "
    "    redis.call('ZADD', KEYS[2], tonumber(ARGV[1]) + tonumber(ARGV[2]), n) "
    "  end "
    "end "
    "local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1]) "
    "local out = {} "
    "for _, n in ipairs(due) do "
    "  redis.call('ZREM', KEYS[2], n) "
    "  if redis.call('EXISTS', ARGV[3] .. n) == 0 then table.insert(out, n) end "
    "end "
    "return out";

static const char LEAVING_LUA[] = "redis.call('DEL', KEYS[1]) "
                                  "redis.call('SREM', KEYS[2], ARGV[1]) "
                                  "redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1]) "
                                  "return 1";

#define IB_REDIS_HB_MS 1000
#define IB_REDIS_HB_TTL_MS 5000
#define NODES_ALL "ib:{nodes}:all"
#define NODES_DEAD "ib:{nodes}:dead"
#define NODES_BUS "ib:{nodes}:bus"
#define NODES_HB "ib:{nodes}:hb:"

static int64_t wall_ms(void)
{
    uv_timeval64_t tv;
    uv_gettimeofday(&tv);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static void fire_done(rcmd_t *c, redisReply *r, int err)
{
    (void)c;
    (void)r;
    (void)err;
}

/* A command whose answer nobody waits for (still with a deadline, so that
 * its rcmd is freed). argv entries are NUL-terminated unless lens given. */
static int fire(redis_store_t *rs, int argc, const char **argv, const size_t *lens)
{
    rcmd_t *c = rcmd_new(rs, fire_done);
    if (!c)
        return IB_ENOMEM;
    return rcmd_send(c, argc, argv, lens);
}

/* --- for the other files of the backend (redis_internal.h) --- */

static void reply_done(rcmd_t *c, redisReply *r, int err)
{
    c->reply_cb(c->arg, err, r);
}

int ib__redis_command(ib_store_t *st, int argc, const char **argv, const size_t *lens,
                      ib__redis_reply_cb cb, void *arg)
{
    redis_store_t *rs = (redis_store_t *)st;
    if (!cb)
        return fire(rs, argc, argv, lens);
    rcmd_t *c = rcmd_new(rs, reply_done);
    if (!c)
        return IB_ENOMEM;
    c->reply_cb = cb;
    c->arg = arg;
    return rcmd_send(c, argc, argv, lens);
}

const char *ib__redis_node_id(ib_store_t *st)
{
    redis_store_t *rs = (redis_store_t *)st;
    return rs->node_id[0] ? rs->node_id : NULL;
}

/* A read whose reply done turns into cb's JSON value. argv entries are
 * NUL-terminated. */
static int json_command(redis_store_t *rs, rcmd_done_fn done, ib_store_json_cb cb, void *arg,
                        int argc, const char **argv)
{
    rcmd_t *c = rcmd_new(rs, done);
    if (!c)
        return IB_ENOMEM;
    c->json_cb = cb;
    c->arg = arg;
    return rcmd_send(c, argc, argv, NULL);
}

/* "<header JSON with n>\n<payload>", malloc'ed. */
static char *frame(redis_store_t *rs, json_t *hdr, const char *payload, size_t len, size_t *outlen)
{
    json_object_set_new(hdr, "n", json_string(rs->node_id));
    char *h = json_dumps(hdr, JSON_COMPACT);
    if (!h)
        return NULL;
    size_t hl = strlen(h);
    char *m = malloc(hl + 1 + len + 1);
    if (m) {
        memcpy(m, h, hl);
        m[hl] = '\n';
        if (len)
            memcpy(m + hl + 1, payload, len);
        m[hl + 1 + len] = 0;
        *outlen = hl + 1 + len;
    }
    free(h);
    return m;
}

static int rs_publish(ib_store_t *st, const char *event, json_t *hdr, const char *payload,
                      size_t len)
{
    redis_store_t *rs = (redis_store_t *)st;
    if (!rs->connected)
        return IB_EUNAVAIL;
    char ch[256];
    chan(ch, sizeof(ch), event);
    size_t ml;
    char *m = frame(rs, hdr, payload, len, &ml);
    if (!m)
        return IB_ENOMEM;
    const char *argv[] = {"PUBLISH", ch, m};
    size_t lens[] = {7, strlen(ch), ml};
    int rc = fire(rs, 3, argv, lens);
    free(m);
    return rc;
}

/* The event is in this node's events set (for the dead-node cleanup). */
static void register_event(redis_store_t *rs, const char *event)
{
    if (ib_map_get(&rs->registered, event))
        return;
    char *d = strdup(event);
    if (!d || ib_map_put(&rs->registered, d, d)) {
        free(d);
        return;
    }
    char k[256];
    snprintf(k, sizeof(k), "ib:{nodes}:events:%s", rs->node_id);
    const char *argv[] = {"SADD", k, event};
    fire(rs, 3, argv, NULL);
}

static int rs_presence(ib_store_t *st, const char *event, const char *room, const char *user,
                       json_t *value, json_t *hdr)
{
    redis_store_t *rs = (redis_store_t *)st;
    if (!rs->connected)
        return IB_EUNAVAIL;
    register_event(rs, event);
    char kmem[256], krooms[256], ch[256], field[160], ttl[24];
    key(kmem, sizeof(kmem), event, room, "members");
    snprintf(krooms, sizeof(krooms), "ib:{%s}:node:%s:rooms", event, rs->node_id);
    chan(ch, sizeof(ch), event);
    snprintf(field, sizeof(field), "%s %s", rs->node_id, user);
    snprintf(ttl, sizeof(ttl), "%d", IB_REDIS_TTL_S);
    char *v = value ? json_dumps(value, JSON_COMPACT) : NULL;
    size_t ml;
    char *m = frame(rs, hdr, NULL, 0, &ml);
    int rc = IB_ENOMEM;
    if (m && (v || !value)) {
        const char *argv[] = {"EVAL",     PRESENCE_LUA, "2", kmem, krooms, field,
                              v ? v : "", room,         ch,  m,    ttl};
        rc = fire(rs, 11, argv, NULL);
    }
    free(v);
    free(m);
    return rc;
}

/* HGETALL of a room's members into [{n,id,v}] */
static void presence_list_done(rcmd_t *c, redisReply *r, int err)
{
    if (err || r->type != REDIS_REPLY_ARRAY) {
        c->json_cb(c->arg, err ? err : IB_EINTERNAL, NULL);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; arr && i + 1 < r->elements; i += 2) {
        const redisReply *f = r->element[i], *v = r->element[i + 1];
        if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
            continue;
        const char *sp = memchr(f->str, ' ', f->len);
        if (!sp || sp == f->str || (size_t)(sp - f->str) + 1 >= f->len)
            continue;
        json_t *val = json_loadb(v->str, v->len, 0, NULL);
        if (!json_is_object(val)) {
            json_decref(val);
            continue;
        }
        json_array_append_new(arr,
                              json_pack("{s:s%,s:s%,s:o}", "n", f->str, (size_t)(sp - f->str), "id",
                                        sp + 1, f->len - (size_t)(sp - f->str) - 1, "v", val));
    }
    if (!arr) {
        c->json_cb(c->arg, IB_ENOMEM, NULL);
        return;
    }
    c->json_cb(c->arg, 0, arr);
    json_decref(arr);
}

static int rs_presence_list(ib_store_t *st, const char *event, const char *room,
                            ib_store_json_cb cb, void *arg)
{
    redis_store_t *rs = (redis_store_t *)st;
    char kmem[256];
    key(kmem, sizeof(kmem), event, room, "members");
    const char *argv[] = {"HGETALL", kmem};
    return json_command(rs, presence_list_done, cb, arg, 2, argv);
}

/* Node sync or dead-node cleanup of one event. */
static int node_sync(redis_store_t *rs, const char *node, const char *event, json_t *entries,
                     json_t *hdr, bool announce_left)
{
    size_t n = entries ? json_array_size(entries) : 0;
    char krooms[256], kres[256], khash[256], pre[256], ch[256], ttl[24];
    snprintf(krooms, sizeof(krooms), "ib:{%s}:node:%s:rooms", event, node);
    snprintf(kres, sizeof(kres), "ib:{%s}:node:%s:resumes", event, node);
    snprintf(khash, sizeof(khash), "ib:{%s}:resume", event);
    snprintf(pre, sizeof(pre), "ib:{%s}:room:", event);
    chan(ch, sizeof(ch), event);
    snprintf(ttl, sizeof(ttl), "%d", IB_REDIS_TTL_S);
    size_t ml = 0;
    char *m = hdr ? frame(rs, hdr, NULL, 0, &ml) : NULL;
    size_t argc = 12 + 3 * n;
    const char **argv = calloc(argc, sizeof(*argv));
    char **vals = calloc(n ? n : 1, sizeof(*vals));
    int rc = IB_ENOMEM;
    if (argv && vals && (m || !hdr)) {
        argv[0] = "EVAL";
        argv[1] = NODE_SYNC_LUA;
        argv[2] = "3";
        argv[3] = krooms;
        argv[4] = kres;
        argv[5] = khash;
        argv[6] = node;
        argv[7] = pre;
        argv[8] = ch;
        argv[9] = m ? m : "";
        argv[10] = ttl;
        argv[11] = announce_left ? "1" : "0";
        size_t k = 12;
        bool ok = true;
        for (size_t i = 0; i < n; i++) {
            json_t *e = json_array_get(entries, i);
            const char *room = json_string_value(json_object_get(e, "room"));
            const char *id = json_string_value(json_object_get(e, "id"));
            vals[i] = json_dumps(json_object_get(e, "v"), JSON_COMPACT);
            if (!room || !id || !vals[i]) {
                ok = false;
                break;
            }
            argv[k++] = room;
            argv[k++] = id;
            argv[k++] = vals[i];
        }
        if (ok)
            rc = fire(rs, (int)k, argv, NULL);
    }
    for (size_t i = 0; vals && i < n; i++)
        free(vals[i]);
    free(vals);
    free(argv);
    free(m);
    return rc;
}

static int rs_node_sync(ib_store_t *st, const char *event, json_t *entries, json_t *hdr)
{
    redis_store_t *rs = (redis_store_t *)st;
    if (!rs->connected)
        return IB_EUNAVAIL;
    if (!ib_map_get(&rs->synced, event)) {
        char *d = strdup(event);
        if (d && ib_map_put(&rs->synced, d, d))
            free(d);
    }
    if (json_array_size(entries))
        register_event(rs, event);
    return node_sync(rs, rs->node_id, event, entries, hdr, false);
}

static int rs_resume_put(ib_store_t *st, const char *event, const char *token, json_t *rec)
{
    redis_store_t *rs = (redis_store_t *)st;
    if (!rs->connected)
        return IB_EUNAVAIL;
    if (rec)
        register_event(rs, event);
    char khash[256], kres[256], ttl[24];
    snprintf(khash, sizeof(khash), "ib:{%s}:resume", event);
    snprintf(kres, sizeof(kres), "ib:{%s}:node:%s:resumes", event, rs->node_id);
    snprintf(ttl, sizeof(ttl), "%d", IB_REDIS_TTL_S);
    char *v = rec ? json_dumps(rec, JSON_COMPACT) : NULL;
    if (rec && !v)
        return IB_ENOMEM;
    const char *argv[] = {"EVAL", RESUME_PUT_LUA, "2", khash, kres, token, v ? v : "", ttl};
    int rc = fire(rs, 8, argv, NULL);
    free(v);
    return rc;
}

static void resume_get_done(rcmd_t *c, redisReply *r, int err)
{
    if (err) {
        c->json_cb(c->arg, err, NULL);
        return;
    }
    json_t *v = r->type == REDIS_REPLY_STRING ? json_loadb(r->str, r->len, 0, NULL) : NULL;
    if (!json_is_object(v)) {
        json_decref(v);
        v = json_null();
    }
    c->json_cb(c->arg, 0, v);
    json_decref(v);
}

static int rs_resume_get(ib_store_t *st, const char *event, const char *token, ib_store_json_cb cb,
                         void *arg)
{
    redis_store_t *rs = (redis_store_t *)st;
    char khash[256];
    snprintf(khash, sizeof(khash), "ib:{%s}:resume", event);
    const char *argv[] = {"HGET", khash, token};
    return json_command(rs, resume_get_done, cb, arg, 3, argv);
}

/* --- owned documents ---
 *
 *   ib:{E}:doc:<name>           the document (JSON text)
 *   ib:{E}:doc:<name>:lease     "<node> <fence>", PX the lease's ttl
 *   ib:{E}:doc:<name>:fence     the last fencing token given (INCR)
 *   ib:{E}:docs                 hash name -> meta JSON
 */

static const char LEASE_LUA[] = "local h = redis.call('GET', KEYS[1]) "
                                "if not h then "
                                "  local f = redis.call('INCR', KEYS[2]) "
                                "  redis.call('EXPIRE', KEYS[2], ARGV[3]) "
                                "  redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. f, 'PX', ARGV[2]) "
                                "  return {1, f} "
                                "end "
                                "local sp = string.find(h, ' ', 1, true) "
                                "local n = string.sub(h, 1, sp - 1) "
                                "if n == ARGV[1] then "
                                "  redis.call('PEXPIRE', KEYS[1], ARGV[2]) "
                                "  return {1, tonumber(string.sub(h, sp + 1))} "
                                "end "
                                "return {0, n}";

static const char LEASE_RELEASE_LUA[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end return 1";

static const char DOC_PUT_LUA[] = "if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end "
                                  "redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[5]) "
                                  "redis.call('HSET', KEYS[3], ARGV[3], ARGV[4]) "
                                  "redis.call('EXPIRE', KEYS[3], ARGV[5]) "
                                  "return 1";

static void doc_key(char *out, size_t n, const char *event, const char *name, const char *what)
{
    snprintf(out, n, "ib:{%s}:doc:%s%s", event, name, what);
}

static void lease_done(rcmd_t *c, redisReply *r, int err)
{
    ib_store_lease_cb cb = (ib_store_lease_cb)c->ext_cb;
    if (err || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_INTEGER) {
        cb(c->arg, err ? err : IB_EINTERNAL, 0, NULL);
        return;
    }
    const redisReply *v = r->element[1];
    if (r->element[0]->integer == 1 && v->type == REDIS_REPLY_INTEGER && v->integer > 0)
        cb(c->arg, 0, (uint64_t)v->integer, NULL);
    else if (r->element[0]->integer == 0 && v->type == REDIS_REPLY_STRING) {
        char holder[IB_ID_MAX + 1];
        snprintf(holder, sizeof(holder), "%.*s", (int)v->len, v->str);
        cb(c->arg, IB_ECONFLICT, 0, holder);
    } else
        cb(c->arg, IB_EINTERNAL, 0, NULL);
}

static int rs_lease(ib_store_t *st, const char *event, const char *name, int64_t ttl_ms,
                    ib_store_lease_cb cb, void *arg)
{
    redis_store_t *rs = (redis_store_t *)st;
    char kl[256], kf[256], ttl[24], fttl[24];
    doc_key(kl, sizeof(kl), event, name, ":lease");
    doc_key(kf, sizeof(kf), event, name, ":fence");
    snprintf(ttl, sizeof(ttl), "%lld", (long long)ttl_ms);
    snprintf(fttl, sizeof(fttl), "%d", IB_REDIS_TTL_S);
    rcmd_t *c = rcmd_new(rs, lease_done);
    if (!c)
        return IB_ENOMEM;
    c->ext_cb = (void (*)(void))cb;
    c->arg = arg;
    const char *argv[] = {"EVAL", LEASE_LUA, "2", kl, kf, rs->node_id, ttl, fttl};
    return rcmd_send(c, 8, argv, NULL);
}

static int rs_lease_release(ib_store_t *st, const char *event, const char *name, uint64_t fence)
{
    redis_store_t *rs = (redis_store_t *)st;
    char kl[256], holder[IB_ID_MAX + 32];
    doc_key(kl, sizeof(kl), event, name, ":lease");
    snprintf(holder, sizeof(holder), "%s %llu", rs->node_id, (unsigned long long)fence);
    const char *argv[] = {"EVAL", LEASE_RELEASE_LUA, "1", kl, holder};
    return fire(rs, 5, argv, NULL);
}

static void doc_put_done(rcmd_t *c, redisReply *r, int err)
{
    if (err || r->type != REDIS_REPLY_INTEGER)
        c->seq_cb(c->arg, err ? err : IB_EINTERNAL, 0);
    else
        c->seq_cb(c->arg, r->integer == 1 ? 0 : IB_ECONFLICT, 0);
}

static int rs_doc_put(ib_store_t *st, const char *event, const char *name, uint64_t fence,
                      const char *doc, size_t len, json_t *meta, ib_store_seq_cb cb, void *arg)
{
    redis_store_t *rs = (redis_store_t *)st;
    char kl[256], kd[256], ki[256], holder[IB_ID_MAX + 32], ttl[24];
    doc_key(kl, sizeof(kl), event, name, ":lease");
    doc_key(kd, sizeof(kd), event, name, "");
    snprintf(ki, sizeof(ki), "ib:{%s}:docs", event);
    snprintf(holder, sizeof(holder), "%s %llu", rs->node_id, (unsigned long long)fence);
    snprintf(ttl, sizeof(ttl), "%d", IB_REDIS_TTL_S);
    char *m = json_dumps(meta, JSON_COMPACT);
    rcmd_t *c = m ? rcmd_new(rs, doc_put_done) : NULL;
    if (!c) {
        free(m);
        return IB_ENOMEM;
    }
    c->seq_cb = cb;
    c->arg = arg;
    register_event(rs, event);
    const char *argv[] = {"EVAL", DOC_PUT_LUA, "3", kl, kd, ki, holder, doc, name, m, ttl};
    size_t lens[11];
    for (int i = 0; i < 11; i++)
        lens[i] = i == 7 ? len : strlen(argv[i]);
    int rc = rcmd_send(c, 11, argv, lens);
    free(m);
    return rc;
}

static int rs_doc_get(ib_store_t *st, const char *event, const char *name, ib_store_json_cb cb,
                      void *arg)
{
    redis_store_t *rs = (redis_store_t *)st;
    char kd[256];
    doc_key(kd, sizeof(kd), event, name, "");
    const char *argv[] = {"GET", kd};
    return json_command(rs, resume_get_done, cb, arg, 2, argv);
}

/* A hash's HGETALL as an object field -> parsed value (objects only, or
 * any JSON value); fields longer than 255 bytes or values that do not
 * parse are left out. NULL on ENOMEM. */
static json_t *hash_object(const redisReply *r, bool objects_only)
{
    json_t *o = json_object();
    for (size_t i = 0; o && i + 1 < r->elements; i += 2) {
        const redisReply *f = r->element[i], *v = r->element[i + 1];
        if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING || f->len > 255)
            continue;
        char field[256];
        snprintf(field, sizeof(field), "%.*s", (int)f->len, f->str);
        json_t *val = json_loadb(v->str, v->len, objects_only ? 0 : JSON_DECODE_ANY, NULL);
        if (val && (!objects_only || json_is_object(val)))
            json_object_set(o, field, val);
        json_decref(val);
    }
    return o;
}

static void hash_done(rcmd_t *c, redisReply *r, int err, bool objects_only)
{
    json_t *o = err || r->type != REDIS_REPLY_ARRAY ? NULL : hash_object(r, objects_only);
    if (!o) {
        c->json_cb(c->arg,
                   err                            ? err
                   : r->type != REDIS_REPLY_ARRAY ? IB_EINTERNAL
                                                  : IB_ENOMEM,
                   NULL);
        return;
    }
    c->json_cb(c->arg, 0, o);
    json_decref(o);
}

static void doc_list_done(rcmd_t *c, redisReply *r, int err)
{
    hash_done(c, r, err, true);
}

static int rs_doc_list(ib_store_t *st, const char *event, ib_store_json_cb cb, void *arg)
{
    redis_store_t *rs = (redis_store_t *)st;
    char ki[256];
    snprintf(ki, sizeof(ki), "ib:{%s}:docs", event);
    const char *argv[] = {"HGETALL", ki};
    return json_command(rs, doc_list_done, cb, arg, 2, argv);
}

/* --- moderation lists ---
 *
 *   ib:{E}:mod:kick             hash user -> {"until": ms}
 *   ib:{E}:mod:block            hash "<blocker> <blocked>" -> true
 */

static int rs_mod_put(ib_store_t *st, const char *event, const char *kind, const char *field,
                      json_t *value)
{
    redis_store_t *rs = (redis_store_t *)st;
    if (!rs->connected)
        return IB_EUNAVAIL;
    char k[256], ttl[24];
    snprintf(k, sizeof(k), "ib:{%s}:mod:%s", event, kind);
    snprintf(ttl, sizeof(ttl), "%d", IB_REDIS_TTL_S);
    if (!value) {
        const char *argv[] = {"HDEL", k, field};
        return fire(rs, 3, argv, NULL);
    }
    char *v = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!v)
        return IB_ENOMEM;
    const char *argv[] = {"HSET", k, field, v};
    int rc = fire(rs, 4, argv, NULL);
    const char *exp[] = {"EXPIRE", k, ttl};
    if (!rc)
        fire(rs, 3, exp, NULL);
    free(v);
    return rc;
}

static void mod_list_done(rcmd_t *c, redisReply *r, int err)
{
    hash_done(c, r, err, false);
}

static int rs_mod_list(ib_store_t *st, const char *event, const char *kind, ib_store_json_cb cb,
                       void *arg)
{
    redis_store_t *rs = (redis_store_t *)st;
    char k[256];
    snprintf(k, sizeof(k), "ib:{%s}:mod:%s", event, kind);
    const char *argv[] = {"HGETALL", k};
    return json_command(rs, mod_list_done, cb, arg, 2, argv);
}

/* --- subscriptions --- */

static void on_sub_message(redisAsyncContext *ac, void *reply, void *privdata);

static void subscribe_cmd(redis_store_t *rs, const char *verb, const char *event)
{
    char ch[256];
    chan(ch, sizeof(ch), event);
    const char *argv[] = {verb, ch};
    redisAsyncCommandArgv(rs->sub, on_sub_message, rs, 2, argv, NULL);
}

static void rs_subscribe(ib_store_t *st, const char *event, int on)
{
    redis_store_t *rs = (redis_store_t *)st;
    char *have = ib_map_get(&rs->subs, event);
    if (on && !have) {
        char *d = strdup(event);
        if (!d || ib_map_put(&rs->subs, d, d)) {
            free(d);
            return;
        }
    } else if (!on && have) {
        ib_map_del(&rs->subs, event);
        free(have);
    } else {
        return;
    }
    if (rs->sub && rs->sub_ready)
        subscribe_cmd(rs, on ? "SUBSCRIBE" : "UNSUBSCRIBE", event);
}

static void heartbeat(redis_store_t *rs);

static void on_sub_message(redisAsyncContext *ac, void *reply, void *privdata)
{
    redis_store_t *rs = privdata;
    redisReply *r = reply;
    if (!r || ac != rs->sub || r->type != REDIS_REPLY_ARRAY || r->elements < 3 ||
        r->element[0]->type != REDIS_REPLY_STRING)
        return;
    const char *kind = r->element[0]->str;
    if (!strcmp(kind, "subscribe")) {
        if (!rs->sub_ready && r->element[1]->type == REDIS_REPLY_STRING &&
            !strcmp(r->element[1]->str, NODES_BUS)) {
            rs->sub_ready = true;
            rs->want_up = true;
            heartbeat(rs);
        }
        return;
    }
    if (strcmp(kind, "message") || r->element[1]->type != REDIS_REPLY_STRING ||
        r->element[2]->type != REDIS_REPLY_STRING || !rs->hooks.message)
        return;
    /* channel ib:{<event>}:bus */
    const char *c = r->element[1]->str;
    size_t cl = r->element[1]->len;
    if (cl < 10 || strncmp(c, "ib:{", 4) || strcmp(c + cl - 5, "}:bus"))
        return;
    char event[IB_ID_MAX + 1];
    size_t el = cl - 9;
    if (el == 0 || el > IB_ID_MAX)
        return;
    memcpy(event, c + 4, el);
    event[el] = 0;
    const char *m = r->element[2]->str;
    size_t ml = r->element[2]->len;
    const char *nl = memchr(m, '\n', ml);
    if (!nl)
        return;
    json_t *hdr = json_loadb(m, (size_t)(nl - m), 0, NULL);
    if (json_is_object(hdr)) {
        size_t pl = ml - (size_t)(nl + 1 - m);
        rs->hooks.message(rs->hooks.arg, event, hdr, pl ? nl + 1 : NULL, pl);
    }
    json_decref(hdr);
}

static void on_sub_disconnect(const redisAsyncContext *ac, int status);

static void on_sub_connect(const redisAsyncContext *ac, int status)
{
    redis_store_t *rs = ac->data;
    if (status != REDIS_OK) {
        if (rs->sub == ac)
            rs->sub = NULL;
        return; /* the command context's PING decides when to retry */
    }
    if (rs->sub != ac)
        return;
    /* The node channel first: its confirmation says we are subscribed. */
    size_t n = rs->subs.count;
    const char **argv = calloc(n + 2, sizeof(*argv));
    if (!argv)
        return;
    argv[0] = "SUBSCRIBE";
    argv[1] = NODES_BUS;
    char(*chans)[256] = calloc(n ? n : 1, sizeof(*chans));
    size_t k = 2;
    const char *key_;
    void *v;
    for (size_t i = 0; chans && ib_map_next(&rs->subs, &i, &key_, &v);) {
        chan(chans[k - 2], sizeof(chans[0]), key_);
        argv[k] = chans[k - 2];
        k++;
    }
    if (chans)
        redisAsyncCommandArgv(rs->sub, on_sub_message, rs, (int)k, argv, NULL);
    free(chans);
    free(argv);
}

static void connect_sub(redis_store_t *rs, const char *ip)
{
    if (rs->sub || !rs->attached)
        return;
    redisAsyncContext *ac = redisAsyncConnect(ip, rs->port);
    if (!ac || ac->err) {
        if (ac)
            redisAsyncFree(ac);
        return;
    }
    ac->data = rs;
    if (redisLibuvAttach(ac, rs->loop) != REDIS_OK) {
        redisAsyncFree(ac);
        return;
    }
    redisAsyncSetConnectCallback(ac, on_sub_connect);
    redisAsyncSetDisconnectCallback(ac, on_sub_disconnect);
    rs->sub = ac;
    rs->sub_ready = false;
}

static void drop_sub(redis_store_t *rs)
{
    redisAsyncContext *ac = rs->sub;
    rs->sub = NULL;
    rs->sub_ready = false;
    if (ac)
        redisAsyncFree(ac);
}

/* --- heartbeat, the up sequence, dead nodes --- */

static void up_events_done(rcmd_t *c, redisReply *r, int err)
{
    redis_store_t *rs = c->rs;
    if (err || r->type != REDIS_REPLY_ARRAY)
        return;
    /* Events this node had state in but no longer serves: clear them. */
    char k[256];
    snprintf(k, sizeof(k), "ib:{nodes}:events:%s", rs->node_id);
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_STRING || e->len > IB_ID_MAX)
            continue;
        if (ib_map_get(&rs->synced, e->str) || ib_map_get(&rs->registered, e->str))
            continue;
        json_t *hdr = json_pack("{s:s}", "k", "sync");
        node_sync(rs, rs->node_id, e->str, NULL, hdr, false);
        json_decref(hdr);
        const char *argv[] = {"SREM", k, e->str};
        fire(rs, 3, argv, NULL);
    }
}

static void clear_names(ib_map_t *m)
{
    const char *k;
    void *v;
    for (size_t i = 0; ib_map_next(m, &i, &k, &v);)
        free(v);
    ib_map_free(m);
}

static void run_up(redis_store_t *rs)
{
    clear_names(&rs->registered);
    clear_names(&rs->synced);
    if (rs->hooks.up)
        rs->hooks.up(rs->hooks.arg);
    char k[256];
    snprintf(k, sizeof(k), "ib:{nodes}:events:%s", rs->node_id);
    rcmd_t *c = rcmd_new(rs, up_events_done);
    if (c) {
        const char *argv[] = {"SMEMBERS", k};
        rcmd_send(c, 2, argv, NULL);
    }
}

static void heartbeat_done(rcmd_t *c, redisReply *r, int err)
{
    redis_store_t *rs = c->rs;
    rs->hb_pending = false;
    if (err || r->type != REDIS_REPLY_INTEGER || rs->freeing)
        return;
    if (r->integer == 0 || rs->want_up) {
        rs->want_up = false;
        run_up(rs);
    }
}

static void dead_events_done(rcmd_t *c, redisReply *r, int err)
{
    redis_store_t *rs = c->rs;
    const char *node = json_string_value(c->msg);
    if (err || r->type != REDIS_REPLY_ARRAY || !node)
        return;
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *e = r->element[i];
        if (e->type == REDIS_REPLY_STRING && e->len <= IB_ID_MAX) {
            node_sync(rs, node, e->str, NULL, NULL, true);
            ib__redis_booth_node_dead(&rs->base, node, e->str);
        }
    }
    char k[256];
    snprintf(k, sizeof(k), "ib:{nodes}:events:%s", node);
    const char *argv[] = {"DEL", k};
    fire(rs, 2, argv, NULL);
}

static void reap_done(rcmd_t *c, redisReply *r, int err)
{
    redis_store_t *rs = c->rs;
    rs->reap_pending = false;
    if (err || r->type != REDIS_REPLY_ARRAY)
        return;
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_STRING || e->len > IB_ID_MAX)
            continue;
        rcmd_t *d = rcmd_new(rs, dead_events_done);
        if (!d)
            continue;
        d->msg = json_string(e->str);
        char k[256];
        snprintf(k, sizeof(k), "ib:{nodes}:events:%s", e->str);
        const char *argv[] = {"SMEMBERS", k};
        rcmd_send(d, 2, argv, NULL);
    }
}

static void heartbeat(redis_store_t *rs)
{
    if (!rs->attached || !rs->connected || !rs->sub_ready || rs->freeing)
        return;
    char hb[256], ttl[24], now[24], grace[24];
    snprintf(hb, sizeof(hb), NODES_HB "%s", rs->node_id);
    snprintf(ttl, sizeof(ttl), "%d", IB_REDIS_HB_TTL_MS);
    if (!rs->hb_pending) {
        rcmd_t *c = rcmd_new(rs, heartbeat_done);
        if (c) {
            const char *argv[] = {"EVAL",    HEARTBEAT_LUA, "3",         hb,
                                  NODES_ALL, NODES_DEAD,    rs->node_id, ttl};
            if (rcmd_send(c, 8, argv, NULL) == 0)
                rs->hb_pending = true;
        }
    }
    if (!rs->reap_pending) {
        snprintf(now, sizeof(now), "%lld", (long long)wall_ms());
        snprintf(grace, sizeof(grace), "%lld", (long long)rs->grace_ms);
        rcmd_t *c = rcmd_new(rs, reap_done);
        if (c) {
            const char *argv[] = {"EVAL",     REAP_LUA, "2",   NODES_ALL,
                                  NODES_DEAD, now,      grace, NODES_HB};
            if (rcmd_send(c, 8, argv, NULL) == 0)
                rs->reap_pending = true;
        }
    }
}

static void on_hb_timer(uv_timer_t *t)
{
    heartbeat(t->data);
}

static void rs_attach(ib_store_t *st, const char *node_id, int64_t grace_ms,
                      const ib_store_hooks_t *hooks)
{
    redis_store_t *rs = (redis_store_t *)st;
    snprintf(rs->node_id, sizeof(rs->node_id), "%s", node_id);
    rs->grace_ms = grace_ms;
    rs->hooks = *hooks;
    rs->attached = true;
    uv_timer_start(&rs->hb, on_hb_timer, IB_REDIS_HB_MS, IB_REDIS_HB_MS);
}

static void rs_leaving(ib_store_t *st)
{
    redis_store_t *rs = (redis_store_t *)st;
    if (!rs->attached || !rs->connected)
        return;
    char hb[256], when[24];
    snprintf(hb, sizeof(hb), NODES_HB "%s", rs->node_id);
    snprintf(when, sizeof(when), "%lld", (long long)(wall_ms() + rs->grace_ms));
    const char *argv[] = {"EVAL", LEAVING_LUA, "3", hb, NODES_ALL, NODES_DEAD, rs->node_id, when};
    fire(rs, 8, argv, NULL);
    /* No more heartbeats: they would bring the node back. */
    rs->attached = false;
    uv_timer_stop(&rs->hb);
}

static void on_sub_disconnect(const redisAsyncContext *ac, int status)
{
    redis_store_t *rs = ac->data;
    (void)status;
    if (rs->sub != ac)
        return;
    /* The ping timer connects it again; the up sequence then re-reads. */
    rs->sub = NULL;
    rs->sub_ready = false;
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
        if (!rs->sub)
            connect_sub(rs, rs->ip);
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
    drop_sub(rs);
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
    drop_sub(rs);
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
    snprintf(rs->ip, sizeof(rs->ip), "%s", ip);
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
    if (rs->connected && !rs->sub)
        connect_sub(rs, rs->ip);
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
    drop_sub(rs);
    rs->connected = false;
    rs->attached = false;
    clear_names(&rs->subs);
    clear_names(&rs->registered);
    clear_names(&rs->synced);
    uv_close((uv_handle_t *)&rs->reconnect, handle_closed);
    uv_close((uv_handle_t *)&rs->ping, handle_closed);
    uv_close((uv_handle_t *)&rs->hb, handle_closed);
    if (rs->resolving)
        uv_cancel((uv_req_t *)&rs->resolver);
}

static const ib_store_ops_t redis_ops = {
    .name = "redis",
    .chat_append = rs_chat_append,
    .chat_history = rs_chat_history,
    .chat_delete = rs_chat_delete,
    .room_gone = rs_room_gone,
    .attach = rs_attach,
    .subscribe = rs_subscribe,
    .publish = rs_publish,
    .presence = rs_presence,
    .presence_list = rs_presence_list,
    .node_sync = rs_node_sync,
    .resume_put = rs_resume_put,
    .resume_get = rs_resume_get,
    .lease = rs_lease,
    .lease_release = rs_lease_release,
    .doc_put = rs_doc_put,
    .doc_get = rs_doc_get,
    .doc_list = rs_doc_list,
    .mod_put = rs_mod_put,
    .mod_list = rs_mod_list,
    .leaving = rs_leaving,
    .health = rs_health,
    .free = rs_free,
    .booth = &ib__redis_booth_ops,
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
    uv_timer_init(rs->loop, &rs->hb);
    rs->reconnect.data = rs->ping.data = rs->hb.data = rs;
    rs->handles = 3;
    uv_timer_start(&rs->ping, on_ping_timer, IB_REDIS_PING_MS, IB_REDIS_PING_MS);
    connect_now(rs);
    return &rs->base;
}
