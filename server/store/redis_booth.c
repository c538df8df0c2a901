/*
 * Booths across nodes in Redis: one queue per booth, meetings and leads
 * (the booth ops of ib_store.h).
 *
 * Keys of booth B of event E (hash tag {E}, the event's slot), prefix
 * P = ib:{E}:booth:B:
 *   P q       zset  visitor -> place (P n, INCR: first come, first served)
 *   P v       hash  visitor -> "<holding node> <away 0|1> <queued ms> <person JSON>"
 *   P n, P m  strings: the last place and the last meeting number
 *   P staff   hash  node -> that node's live staff of the booth
 *   P meet    hash  meet: room -> "<started ms> <visitor> <staff> <staff's
 *                   node> <visitor's node>"
 *   P stats   hash  visits, meetings
 *   P waits   list  queue waits in ms of the last 1024 visits, newest first
 *   P lens    list  lengths in ms of the last 20 meetings, newest first
 *   P met     hash  visitor -> length of their last meeting in ms
 *   P leads   hash  visitor -> "<meeting ms or -1> <lead JSON>"
 *   ib:{E}:booths              set: booths with a queue (for a resume)
 *   ib:{E}:node:<N>:booths     set: booths where node N holds visitors
 * Each script is one atomic step; those that change a queue publish
 * {"k":"booth.q","booth":B,"n":node} on the event's bus themselves.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "icebreaker/ib_err.h"
#include "icebreaker/ib_ids.h"
#include "icebreaker/ib_store_redis.h"
#include "redis_internal.h"

#define IB_BOOTH_TTL_S "86400"
#define IB_BOOTH_SKEW_MS 500

/* A command that missed its deadline may still run (it waited in the
 * socket while Redis stalled) after its caller was told "unavailable": a
 * visitor taken by a next nobody heard would be lost. So the scripts whose
 * callers wait check their deadline (the last ARGV, ms since the epoch;
 * 0: none) against Redis's clock first and do nothing past it, as the chat
 * append does (see redis.c). */
#define DEADLINE_LUA                                                                               \
    "local dl = tonumber(ARGV[#ARGV]) "                                                            \
    "if dl > 0 then "                                                                              \
    "  local t = redis.call('TIME') "                                                              \
    "  if t[1] * 1000 + math.floor(t[2] / 1000) > dl then return -9 end "                          \
    "end "

/* Shared by the scripts that answer with what the wait estimate needs:
 * the recent meeting lengths and every node's live staff. */
#define ESTIMATE_LUA                                                                               \
    "local function est(P) "                                                                       \
    "  local staff = 0 "                                                                           \
    "  for _, c in ipairs(redis.call('HVALS', P .. 'staff')) do staff = staff + tonumber(c) end "  \
    "  return redis.call('LRANGE', P .. 'lens', 0, -1), staff "                                    \
    "end "

/* KEYS: none (one slot by the prefix). ARGV: P, user, node, now, person,
 * channel, header, booths set, node's booths set, booth, ttl. */
static const char QUEUE_LUA[] = DEADLINE_LUA ESTIMATE_LUA
    "local P = ARGV[1] "
    "for _, m in ipairs(redis.call('HVALS', P .. 'meet')) do "
    "  if string.match(m, '^%S+ (%S+) ') == ARGV[2] then return -1 end "
    "end "
    "local old = redis.call('HGET', P .. 'v', ARGV[2]) "
    "local at = ARGV[4] "
    "if old and redis.call('ZSCORE', P .. 'q', ARGV[2]) then "
    "  at = string.match(old, '^%S+ %d (%d+) ') or at "
    "else "
    "  redis.call('ZADD', P .. 'q', redis.call('INCR', P .. 'n'), ARGV[2]) "
    "end "
    "redis.call('HSET', P .. 'v', ARGV[2], ARGV[3] .. ' 0 ' .. at .. ' ' .. ARGV[5]) "
    "redis.call('SADD', ARGV[8], ARGV[10]) "
    "redis.call('SADD', ARGV[9], ARGV[10]) "
    "for _, k in ipairs({'q', 'v', 'n'}) do redis.call('EXPIRE', P .. k, ARGV[11]) end "
    "redis.call('EXPIRE', ARGV[8], ARGV[11]) "
    "redis.call('EXPIRE', ARGV[9], ARGV[11]) "
    "redis.call('PUBLISH', ARGV[6], ARGV[7]) "
    "local lens, staff = est(P) "
    "return {redis.call('ZRANK', P .. 'q', ARGV[2]) + 1, lens, staff}";

/* ARGV: P, user, node ('' : any), channel, header. */
static const char UNQUEUE_LUA[] =
    DEADLINE_LUA "local P = ARGV[1] "
                 "local v = redis.call('HGET', P .. 'v', ARGV[2]) "
                 "if not v then return 0 end "
                 "if ARGV[3] ~= '' and string.match(v, '^(%S+) ') ~= ARGV[3] then return 0 end "
                 "redis.call('ZREM', P .. 'q', ARGV[2]) "
                 "redis.call('HDEL', P .. 'v', ARGV[2]) "
                 "redis.call('PUBLISH', ARGV[4], ARGV[5]) "
                 "return 1";

/* ARGV: P, user, node, away ('0' or '1'). */
static const char AWAY_LUA[] =
    "local P = ARGV[1] "
    "local v = redis.call('HGET', P .. 'v', ARGV[2]) "
    "if not v then return 0 end "
    "local h, a, rest = string.match(v, '^(%S+) (%d) (.*)$') "
    "if h ~= ARGV[3] or a == ARGV[4] then return 0 end "
    "redis.call('HSET', P .. 'v', ARGV[2], h .. ' ' .. ARGV[4] .. ' ' .. rest) "
    "return 1";

/* ARGV: booths set, booth key prefix (ib:{E}:booth:), user, node, node's
 * booths set, channel, ttl. */
static const char ADOPT_LUA[] =
    "local out = {} "
    "for _, b in ipairs(redis.call('SMEMBERS', ARGV[1])) do "
    "  local P = ARGV[2] .. b .. ':' "
    "  local v = redis.call('HGET', P .. 'v', ARGV[3]) "
    "  local rest = v and string.match(v, '^%S+ %d (.*)$') "
    "  local rank = redis.call('ZRANK', P .. 'q', ARGV[3]) "
    "  if rest and rank then "
    "    redis.call('HSET', P .. 'v', ARGV[3], ARGV[4] .. ' 0 ' .. rest) "
    "    redis.call('SADD', ARGV[5], b) "
    "    redis.call('EXPIRE', ARGV[5], ARGV[7]) "
    "    redis.call('PUBLISH', ARGV[6], cjson.encode({k = 'booth.q', n = ARGV[4], booth = b}) .. "
    "'\\n') "
    "    table.insert(out, b) "
    "    table.insert(out, rank + 1) "
    "  end "
    "end "
    "return out";

/* ARGV: P, now, staff user, room prefix, channel, header, ttl, node. */
static const char NEXT_LUA[] =
    DEADLINE_LUA "local P = ARGV[1] "
                 "for _, u in ipairs(redis.call('ZRANGE', P .. 'q', 0, -1)) do "
                 "  local v = redis.call('HGET', P .. 'v', u) or '' "
                 "  local h, a, at, person = string.match(v, '^(%S+) (%d) (%d+) (.*)$') "
                 "  if not h then "
                 "    redis.call('ZREM', P .. 'q', u) "
                 "  elseif a == '0' then "
                 "    redis.call('ZREM', P .. 'q', u) "
                 "    redis.call('HDEL', P .. 'v', u) "
                 "    local wait = math.max(0, tonumber(ARGV[2]) - tonumber(at)) "
                 "    redis.call('HINCRBY', P .. 'stats', 'visits', 1) "
                 "    redis.call('LPUSH', P .. 'waits', wait) "
                 "    redis.call('LTRIM', P .. 'waits', 0, 1023) "
                 "    local room = ARGV[4] .. redis.call('INCR', P .. 'm') "
                 "    redis.call('HSET', P .. 'meet', room, "
                 "      ARGV[2] .. ' ' .. u .. ' ' .. ARGV[3] .. ' ' .. ARGV[8] .. ' ' .. h) "
                 "    for _, k in ipairs({'stats', 'waits', 'm', 'meet'}) do "
                 "      redis.call('EXPIRE', P .. k, ARGV[7]) "
                 "    end "
                 "    redis.call('PUBLISH', ARGV[5], ARGV[6]) "
                 "    return {u, person, tostring(wait), room} "
                 "  end "
                 "end "
                 "return false";

/* ARGV: P. */
static const char READ_LUA[] =
    ESTIMATE_LUA "local P = ARGV[1] "
                 "local out = {} "
                 "for _, u in ipairs(redis.call('ZRANGE', P .. 'q', 0, -1)) do "
                 "  local v = redis.call('HGET', P .. 'v', u) or '' "
                 "  local h, a = string.match(v, '^(%S+) (%d) ') "
                 "  table.insert(out, u) "
                 "  table.insert(out, h or '') "
                 "  table.insert(out, a or '1') "
                 "end "
                 "local lens, staff = est(P) "
                 "return {out, lens, staff}";

/* ARGV: P, room, now, ttl. */
static const char MEET_END_LUA[] =
    "local P = ARGV[1] "
    "local m = redis.call('HGET', P .. 'meet', ARGV[2]) "
    "if not m then return 0 end "
    "redis.call('HDEL', P .. 'meet', ARGV[2]) "
    "local started, visitor = string.match(m, '^(%d+) (%S+) ') "
    "if not started then return 0 end "
    "local len = math.max(0, tonumber(ARGV[3]) - tonumber(started)) "
    "redis.call('LPUSH', P .. 'lens', len) "
    "redis.call('LTRIM', P .. 'lens', 0, 19) "
    "redis.call('HINCRBY', P .. 'stats', 'meetings', 1) "
    "redis.call('HSET', P .. 'met', visitor, len) "
    "for _, k in ipairs({'lens', 'stats', 'met'}) do redis.call('EXPIRE', P .. k, ARGV[4]) end "
    "return 1";

/* ARGV: P, user, lead JSON, now, max, ttl. Returns the meeting ms (-1:
 * none), or -2 when the booth is full. */
static const char LEAD_LUA[] = DEADLINE_LUA
    "local P = ARGV[1] "
    "if redis.call('HEXISTS', P .. 'leads', ARGV[2]) == 0 and "
    "   redis.call('HLEN', P .. 'leads') >= tonumber(ARGV[5]) then return -2 end "
    "local ms = tonumber(redis.call('HGET', P .. 'met', ARGV[2]) or '-1') "
    "if ms < 0 then "
    "  for _, m in ipairs(redis.call('HVALS', P .. 'meet')) do "
    "    local started, visitor = string.match(m, '^(%d+) (%S+) ') "
    "    if visitor == ARGV[2] then ms = math.max(0, tonumber(ARGV[4]) - tonumber(started)) end "
    "  end "
    "end "
    "redis.call('HSET', P .. 'leads', ARGV[2], ms .. ' ' .. ARGV[3]) "
    "redis.call('EXPIRE', P .. 'leads', ARGV[6]) "
    "return ms";

/* ARGV: P. */
static const char INFO_LUA[] = "local P = ARGV[1] "
                               "return {redis.call('HGET', P .. 'stats', 'visits') or '0', "
                               "  redis.call('HGET', P .. 'stats', 'meetings') or '0', "
                               "  redis.call('HLEN', P .. 'meet'), "
                               "  redis.call('ZCARD', P .. 'q'), "
                               "  redis.call('LRANGE', P .. 'waits', 0, -1), "
                               "  redis.call('HGETALL', P .. 'leads'), "
                               "  redis.call('HGETALL', P .. 'met')}";

/* KEYS[1]: the dead node's booths set. ARGV: booth key prefix
 * (ib:{E}:booth:), node, channel. */
static const char DEAD_LUA[] =
    "for _, b in ipairs(redis.call('SMEMBERS', KEYS[1])) do "
    "  local P = ARGV[1] .. b .. ':' "
    "  local all = redis.call('HGETALL', P .. 'v') "
    "  local gone = 0 "
    "  for i = 1, #all, 2 do "
    "    if string.match(all[i + 1], '^(%S+) ') == ARGV[2] then "
    "      redis.call('ZREM', P .. 'q', all[i]) "
    "      redis.call('HDEL', P .. 'v', all[i]) "
    "      gone = gone + 1 "
    "    end "
    "  end "
    "  redis.call('HDEL', P .. 'staff', ARGV[2]) "
    /* A meeting with both sides on the dead node: nobody else will end it. */
    "  local m = redis.call('HGETALL', P .. 'meet') "
    "  for i = 1, #m, 2 do "
    "    local sn, vn = string.match(m[i + 1], '^%S+ %S+ %S+ (%S+) (%S+)$') "
    "    if sn == ARGV[2] and vn == ARGV[2] then redis.call('HDEL', P .. 'meet', m[i]) end "
    "  end "
    "  if gone > 0 then "
    "    redis.call('PUBLISH', ARGV[3], cjson.encode({k = 'booth.q', n = ARGV[2], booth = b}) .. "
    "'\\n') "
    "  end "
    "end "
    "redis.call('DEL', KEYS[1]) "
    "return 1";

typedef struct call {
    ib_store_json_cb cb;
    void *arg;
    int kind;
} call_t;

enum { K_QUEUE, K_UNQUEUE, K_NEXT, K_READ, K_LEAD, K_INFO, K_ADOPT };

static void prefix(char *out, size_t n, const char *event, const char *booth)
{
    snprintf(out, n, "ib:{%s}:booth:%s:", event, booth);
}

static void channel(char *out, size_t n, const char *event)
{
    snprintf(out, n, "ib:{%s}:bus", event);
}

/* The bus header of a queue change, with its newline: malloc'ed. */
static char *queue_header(ib_store_t *st, const char *booth)
{
    const char *node = ib__redis_node_id(st);
    json_t *h = json_pack("{s:s,s:s,s:s}", "k", "booth.q", "booth", booth, "n", node ? node : "");
    char *s = h ? json_dumps(h, JSON_COMPACT) : NULL;
    json_decref(h);
    char *out = s ? malloc(strlen(s) + 2) : NULL;
    if (out)
        sprintf(out, "%s\n", s);
    free(s);
    return out;
}

static int64_t reply_int(const redisReply *r)
{
    if (!r)
        return 0;
    if (r->type == REDIS_REPLY_INTEGER)
        return (int64_t)r->integer;
    if (r->type == REDIS_REPLY_STRING)
        return strtoll(r->str, NULL, 10);
    return 0;
}

static json_t *int_list(const redisReply *r)
{
    json_t *a = json_array();
    for (size_t i = 0; a && r && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++)
        json_array_append_new(a, json_integer(reply_int(r->element[i])));
    return a;
}

static int cmp_at(const void *x, const void *y)
{
    json_t *a = *(json_t *const *)x, *b = *(json_t *const *)y;
    json_int_t p = json_integer_value(json_object_get(a, "at"));
    json_int_t q = json_integer_value(json_object_get(b, "at"));
    if (p != q)
        return (p > q) - (p < q);
    const char *ia = json_string_value(json_object_get(a, "id"));
    const char *ib = json_string_value(json_object_get(b, "id"));
    return strcmp(ia ? ia : "", ib ? ib : "");
}

/* HGETALL leads + met into [lead], in order of consent. */
static json_t *parse_leads(const redisReply *leads, const redisReply *met)
{
    size_t n = leads && leads->type == REDIS_REPLY_ARRAY ? leads->elements / 2 : 0;
    json_t **v = calloc(n ? n : 1, sizeof(*v));
    json_t *out = json_array();
    if (!v || !out) {
        free(v);
        json_decref(out);
        return NULL;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const redisReply *f = leads->element[2 * i], *e = leads->element[2 * i + 1];
        if (f->type != REDIS_REPLY_STRING || e->type != REDIS_REPLY_STRING)
            continue;
        const char *sp = memchr(e->str, ' ', e->len);
        if (!sp)
            continue;
        json_t *lead = json_loadb(sp + 1, e->len - (size_t)(sp + 1 - e->str), 0, NULL);
        if (!json_is_object(lead)) {
            json_decref(lead);
            continue;
        }
        long long ms = strtoll(e->str, NULL, 10);
        /* The last meeting's length, when it ended after the consent. */
        for (size_t j = 0; met && met->type == REDIS_REPLY_ARRAY && j + 1 < met->elements; j += 2)
            if (met->element[j]->type == REDIS_REPLY_STRING && met->element[j]->len == f->len &&
                !memcmp(met->element[j]->str, f->str, f->len))
                ms = reply_int(met->element[j + 1]);
        json_object_set_new(lead, "meeting_s", ms >= 0 ? json_integer(ms / 1000) : json_null());
        v[k++] = lead;
    }
    qsort(v, k, sizeof(*v), cmp_at);
    for (size_t i = 0; i < k; i++)
        json_array_append_new(out, v[i]);
    free(v);
    return out;
}

static json_t *parse(int kind, const redisReply *r)
{
    switch (kind) {
    case K_QUEUE:
        if (r->type == REDIS_REPLY_INTEGER && r->integer == -1)
            return NULL; /* in a meeting */
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 3)
            return NULL;
        return json_pack("{s:I,s:o,s:I}", "position", (json_int_t)reply_int(r->element[0]), "lens",
                         int_list(r->element[1]), "staff", (json_int_t)reply_int(r->element[2]));
    case K_UNQUEUE:
        return json_boolean(r->type == REDIS_REPLY_INTEGER && r->integer == 1);
    case K_NEXT: {
        if (r->type != REDIS_REPLY_ARRAY)
            return json_null(); /* false: nobody waiting */
        if (r->elements != 4)
            return NULL;
        for (size_t i = 0; i < 4; i++)
            if (r->element[i]->type != REDIS_REPLY_STRING)
                return NULL;
        json_t *person = json_loadb(r->element[1]->str, r->element[1]->len, 0, NULL);
        if (!json_is_object(person)) {
            json_decref(person);
            return NULL;
        }
        return json_pack("{s:s%,s:o,s:I,s:s%}", "user", r->element[0]->str, r->element[0]->len,
                         "person", person, "wait_ms", (json_int_t)reply_int(r->element[2]), "room",
                         r->element[3]->str, r->element[3]->len);
    }
    case K_READ: {
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
            r->element[0]->type != REDIS_REPLY_ARRAY)
            return NULL;
        const redisReply *q = r->element[0];
        json_t *arr = json_array();
        for (size_t i = 0; arr && i + 2 < q->elements; i += 3) {
            const redisReply *u = q->element[i], *h = q->element[i + 1], *a = q->element[i + 2];
            if (u->type != REDIS_REPLY_STRING || h->type != REDIS_REPLY_STRING ||
                a->type != REDIS_REPLY_STRING)
                continue;
            json_array_append_new(arr, json_pack("{s:s%,s:s%,s:b}", "id", u->str, u->len, "node",
                                                 h->str, h->len, "away", a->str[0] == '1'));
        }
        return json_pack("{s:o,s:o,s:I}", "q", arr, "lens", int_list(r->element[1]), "staff",
                         (json_int_t)reply_int(r->element[2]));
    }
    case K_ADOPT: {
        if (r->type != REDIS_REPLY_ARRAY)
            return NULL;
        json_t *arr = json_array();
        for (size_t i = 0; arr && i + 1 < r->elements; i += 2)
            if (r->element[i]->type == REDIS_REPLY_STRING)
                json_array_append_new(arr, json_pack("{s:s%,s:I}", "booth", r->element[i]->str,
                                                     r->element[i]->len, "position",
                                                     (json_int_t)reply_int(r->element[i + 1])));
        return arr;
    }
    case K_LEAD:
        if (r->type != REDIS_REPLY_INTEGER || r->integer == -2)
            return NULL;
        return json_pack("{s:o}", "meeting_ms",
                         r->integer >= 0 ? json_integer(r->integer) : json_null());
    case K_INFO: {
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 7)
            return NULL;
        json_t *leads = parse_leads(r->element[5], r->element[6]);
        if (!leads)
            return NULL;
        return json_pack(
            "{s:I,s:I,s:I,s:I,s:o,s:o}", "visits", (json_int_t)reply_int(r->element[0]), "meetings",
            (json_int_t)reply_int(r->element[1]), "in_meeting",
            (json_int_t)reply_int(r->element[2]), "queued", (json_int_t)reply_int(r->element[3]),
            "waits", int_list(r->element[4]), "leads", leads);
    }
    }
    return NULL;
}

static void call_done(void *arg, int err, const redisReply *r)
{
    call_t *c = arg;
    if (!err && r->type == REDIS_REPLY_INTEGER && r->integer == -9)
        err = IB_EUNAVAIL; /* ran past its deadline: did nothing */
    json_t *v = err ? NULL : parse(c->kind, r);
    if (!err && !v)
        err = (c->kind == K_QUEUE || c->kind == K_LEAD) && r->type == REDIS_REPLY_INTEGER
                  ? IB_ECONFLICT
                  : IB_EINTERNAL;
    if (c->cb)
        c->cb(c->arg, err, err ? NULL : v);
    json_decref(v);
    free(c);
}

/* EVAL script with argv (NUL-terminated); cb NULL: fire and forget. */
static int eval(ib_store_t *st, const char *script, int nkeys, int argc, const char **args,
                int kind, ib_store_json_cb cb, void *arg)
{
    const char *argv[20];
    char nk[8], dl[24] = "0";
    snprintf(nk, sizeof(nk), "%d", nkeys);
    argv[0] = "EVAL";
    argv[1] = script;
    argv[2] = nk;
    if (argc > 16)
        return IB_EINTERNAL;
    for (int i = 0; i < argc; i++)
        argv[3 + i] = args[i];
    if (cb) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        snprintf(dl, sizeof(dl), "%lld",
                 (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + IB_REDIS_DEADLINE_MS -
                     IB_BOOTH_SKEW_MS);
    }
    argv[3 + argc++] = dl;
    if (!cb)
        return ib__redis_command(st, argc + 3, argv, NULL, NULL, NULL);
    call_t *c = calloc(1, sizeof(*c));
    if (!c)
        return IB_ENOMEM;
    c->cb = cb;
    c->arg = arg;
    c->kind = kind;
    int rc = ib__redis_command(st, argc + 3, argv, NULL, call_done, c);
    if (rc)
        free(c);
    return rc;
}

static int rb_queue(ib_store_t *st, const char *event, const char *booth, const char *user,
                    json_t *person, int64_t now, ib_store_json_cb cb, void *arg)
{
    const char *node = ib__redis_node_id(st);
    if (!node)
        return IB_EUNAVAIL;
    char P[256], ch[256], all[256], mine[256], at[24];
    prefix(P, sizeof(P), event, booth);
    channel(ch, sizeof(ch), event);
    snprintf(all, sizeof(all), "ib:{%s}:booths", event);
    snprintf(mine, sizeof(mine), "ib:{%s}:node:%s:booths", event, node);
    snprintf(at, sizeof(at), "%lld", (long long)now);
    char *p = json_dumps(person, JSON_COMPACT);
    char *h = queue_header(st, booth);
    int rc = IB_ENOMEM;
    if (p && h) {
        const char *args[] = {P, user, node, at, p, ch, h, all, mine, booth, IB_BOOTH_TTL_S};
        rc = eval(st, QUEUE_LUA, 0, 11, args, K_QUEUE, cb, arg);
    }
    free(p);
    free(h);
    return rc;
}

static int rb_unqueue(ib_store_t *st, const char *event, const char *booth, const char *user,
                      bool only_here, ib_store_json_cb cb, void *arg)
{
    const char *node = ib__redis_node_id(st);
    if (!node)
        return IB_EUNAVAIL;
    char P[256], ch[256];
    prefix(P, sizeof(P), event, booth);
    channel(ch, sizeof(ch), event);
    char *h = queue_header(st, booth);
    if (!h)
        return IB_ENOMEM;
    const char *args[] = {P, user, only_here ? node : "", ch, h};
    int rc = eval(st, UNQUEUE_LUA, 0, 5, args, K_UNQUEUE, cb, arg);
    free(h);
    return rc;
}

static int rb_away(ib_store_t *st, const char *event, const char *booth, const char *user,
                   bool away)
{
    const char *node = ib__redis_node_id(st);
    if (!node)
        return IB_EUNAVAIL;
    char P[256];
    prefix(P, sizeof(P), event, booth);
    const char *args[] = {P, user, node, away ? "1" : "0"};
    return eval(st, AWAY_LUA, 0, 4, args, 0, NULL, NULL);
}

static int rb_adopt(ib_store_t *st, const char *event, const char *user, ib_store_json_cb cb,
                    void *arg)
{
    const char *node = ib__redis_node_id(st);
    if (!node)
        return IB_EUNAVAIL;
    char all[256], pre[256], mine[256], ch[256];
    snprintf(all, sizeof(all), "ib:{%s}:booths", event);
    snprintf(pre, sizeof(pre), "ib:{%s}:booth:", event);
    snprintf(mine, sizeof(mine), "ib:{%s}:node:%s:booths", event, node);
    channel(ch, sizeof(ch), event);
    const char *args[] = {all, pre, user, node, mine, ch, IB_BOOTH_TTL_S};
    return eval(st, ADOPT_LUA, 0, 7, args, K_ADOPT, cb, arg);
}

static int rb_staff(ib_store_t *st, const char *event, const char *booth, unsigned n)
{
    const char *node = ib__redis_node_id(st);
    if (!node)
        return IB_EUNAVAIL;
    char k[256], v[16];
    snprintf(k, sizeof(k), "ib:{%s}:booth:%s:staff", event, booth);
    snprintf(v, sizeof(v), "%u", n);
    if (!n) {
        const char *argv[] = {"HDEL", k, node};
        return ib__redis_command(st, 3, argv, NULL, NULL, NULL);
    }
    const char *argv[] = {"HSET", k, node, v};
    int rc = ib__redis_command(st, 4, argv, NULL, NULL, NULL);
    const char *exp[] = {"EXPIRE", k, IB_BOOTH_TTL_S};
    if (!rc)
        ib__redis_command(st, 3, exp, NULL, NULL, NULL);
    return rc;
}

static int rb_next(ib_store_t *st, const char *event, const char *booth, const char *staff,
                   const char *room_prefix, int64_t now, ib_store_json_cb cb, void *arg)
{
    char P[256], ch[256], t[24];
    prefix(P, sizeof(P), event, booth);
    channel(ch, sizeof(ch), event);
    snprintf(t, sizeof(t), "%lld", (long long)now);
    char *h = queue_header(st, booth);
    if (!h)
        return IB_ENOMEM;
    const char *node = ib__redis_node_id(st);
    const char *args[] = {P, t, staff, room_prefix, ch, h, IB_BOOTH_TTL_S, node ? node : "-"};
    int rc = eval(st, NEXT_LUA, 0, 8, args, K_NEXT, cb, arg);
    free(h);
    return rc;
}

static int rb_read(ib_store_t *st, const char *event, const char *booth, ib_store_json_cb cb,
                   void *arg)
{
    char P[256];
    prefix(P, sizeof(P), event, booth);
    const char *args[] = {P};
    return eval(st, READ_LUA, 0, 1, args, K_READ, cb, arg);
}

static int rb_meet_end(ib_store_t *st, const char *event, const char *booth, const char *room,
                       int64_t now)
{
    char P[256], t[24];
    prefix(P, sizeof(P), event, booth);
    snprintf(t, sizeof(t), "%lld", (long long)now);
    const char *args[] = {P, room, t, IB_BOOTH_TTL_S};
    return eval(st, MEET_END_LUA, 0, 4, args, 0, NULL, NULL);
}

static int rb_lead(ib_store_t *st, const char *event, const char *booth, const char *user,
                   json_t *lead, int64_t now, size_t max, ib_store_json_cb cb, void *arg)
{
    char P[256];
    prefix(P, sizeof(P), event, booth);
    if (!lead) {
        char k[300];
        snprintf(k, sizeof(k), "%sleads", P);
        const char *argv[] = {"HDEL", k, user};
        return ib__redis_command(st, 3, argv, NULL, NULL, NULL);
    }
    char t[24], m[24];
    snprintf(t, sizeof(t), "%lld", (long long)now);
    snprintf(m, sizeof(m), "%zu", max);
    char *l = json_dumps(lead, JSON_COMPACT);
    if (!l)
        return IB_ENOMEM;
    const char *args[] = {P, user, l, t, m, IB_BOOTH_TTL_S};
    int rc = eval(st, LEAD_LUA, 0, 6, args, K_LEAD, cb, arg);
    free(l);
    return rc;
}

static int rb_info(ib_store_t *st, const char *event, const char *booth, ib_store_json_cb cb,
                   void *arg)
{
    char P[256];
    prefix(P, sizeof(P), event, booth);
    const char *args[] = {P};
    return eval(st, INFO_LUA, 0, 1, args, K_INFO, cb, arg);
}

void ib__redis_booth_node_dead(ib_store_t *st, const char *node, const char *event)
{
    char mine[256], pre[256], ch[256];
    snprintf(mine, sizeof(mine), "ib:{%s}:node:%s:booths", event, node);
    snprintf(pre, sizeof(pre), "ib:{%s}:booth:", event);
    channel(ch, sizeof(ch), event);
    const char *args[] = {mine, pre, node, ch};
    eval(st, DEAD_LUA, 1, 4, args, 0, NULL, NULL);
}

const ib_store_booth_ops_t ib__redis_booth_ops = {
    .queue = rb_queue,
    .unqueue = rb_unqueue,
    .away = rb_away,
    .adopt = rb_adopt,
    .staff = rb_staff,
    .next = rb_next,
    .read = rb_read,
    .meet_end = rb_meet_end,
    .lead = rb_lead,
    .info = rb_info,
};
