/*
 * /metrics and /healthz content. The counters themselves are plain fields
 * bumped where things happen (IB_COUNTERS in ib_server.h); this file only
 * renders them in the Prometheus text format, so the names and help texts
 * live in one table.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core_internal.h"
#include "sn_internal.h"

typedef struct out {
    char *buf;
    size_t len, cap;
    bool failed;
} out_t;

static void outf(out_t *o, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(o->buf ? o->buf + o->len : NULL, o->buf ? o->cap - o->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            o->failed = true;
            return;
        }
        if (o->buf && o->len + (size_t)n < o->cap) {
            o->len += (size_t)n;
            return;
        }
        size_t cap = o->cap ? o->cap * 2 : 8192;
        while (cap < o->len + (size_t)n + 1)
            cap *= 2;
        char *nb = realloc(o->buf, cap);
        if (!nb) {
            o->failed = true;
            return;
        }
        o->buf = nb;
        o->cap = cap;
    }
}

const uint64_t ib_round_start_le_us[IB_ROUND_START_BUCKETS] = {
    5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000};

void ib_metrics_round_start(ib_server_t *srv, int64_t us)
{
    ib_metrics_t *m = &srv->metrics;
    uint64_t v = us > 0 ? (uint64_t)us : 0;
    m->round_start_count++;
    m->round_start_sum_us += v;
    for (int i = 0; i < IB_ROUND_START_BUCKETS; i++)
        if (v <= ib_round_start_le_us[i])
            m->round_start_le[i]++;
}

void ib_metrics_close(ib_server_t *srv, int code)
{
    if (code > 0 && (size_t)code < IB_ARRAY_LEN(srv->metrics.closes_by_code))
        srv->metrics.closes_by_code[code]++;
}

static const char *const err_names[] = {
#define IB__ERR_NAME(name, wire, msg) #name,
    IB_ERRNO_MAP(IB__ERR_NAME)
#undef IB__ERR_NAME
};

char *ib_metrics_render(const ib_server_t *srv, size_t *len)
{
    out_t o = {0};
    const ib_metrics_t *m = &srv->metrics;

    outf(&o,
         "# HELP icebreaker_connections WebSocket connections open now\n"
         "# TYPE icebreaker_connections gauge\nicebreaker_connections %zu\n",
         srv->n_connections);
    outf(&o,
         "# HELP icebreaker_sessions Authenticated sessions (connected or in grace)\n"
         "# TYPE icebreaker_sessions gauge\nicebreaker_sessions %zu\n",
         srv->n_sessions);
    outf(&o,
         "# HELP icebreaker_rooms Rooms with members\n"
         "# TYPE icebreaker_rooms gauge\nicebreaker_rooms %zu\n",
         srv->n_rooms);
    outf(&o,
         "# HELP icebreaker_events Events with sessions on this node\n"
         "# TYPE icebreaker_events gauge\nicebreaker_events %zu\n",
         srv->events.count);
    outf(&o,
         "# HELP icebreaker_draining 1 while the node is shutting down\n"
         "# TYPE icebreaker_draining gauge\nicebreaker_draining %d\n",
         srv->draining ? 1 : 0);
    outf(&o,
         "# HELP icebreaker_send_threads Threads that help the node's thread write large bursts\n"
         "# TYPE icebreaker_send_threads gauge\nicebreaker_send_threads %llu\n",
         (unsigned long long)m->send_threads);
#define IB__CTR_OUT(f, name, help)                                                                 \
    outf(&o, "# HELP " name " " help "\n# TYPE " name " counter\n" name " %llu\n",                 \
         (unsigned long long)m->f);
    IB_COUNTERS(IB__CTR_OUT)
#undef IB__CTR_OUT
    outf(&o, "# HELP icebreaker_messages_in_total Client messages received, by type\n"
             "# TYPE icebreaker_messages_in_total counter\n");
    for (int i = 0; i < IB_VERB__COUNT; i++)
        outf(&o, "icebreaker_messages_in_total{type=\"%s\"} %llu\n", ib_verb_table[i].wire,
             (unsigned long long)m->in_by_verb[i]);
    outf(&o, "icebreaker_messages_in_total{type=\"unknown\"} %llu\n",
         (unsigned long long)m->in_unknown);
    outf(&o, "# HELP icebreaker_errors_total Error replies sent, by wire code and cause\n"
             "# TYPE icebreaker_errors_total counter\n");
    for (int e = IB__ERR_FIRST + 1; e < IB__ERR_LAST; e++)
        outf(&o, "icebreaker_errors_total{code=\"%s\",cause=\"%s\"} %llu\n", ib_err_wire(e),
             err_names[e - IB__ERR_FIRST - 1],
             (unsigned long long)m->errors_by_code[e - IB__ERR_FIRST]);
    outf(&o, "# HELP icebreaker_closes_total Connections closed by the server, by close code\n"
             "# TYPE icebreaker_closes_total counter\n");
    static const int codes[] = {1000, 1001, 1002, 1007, 1008, 1009, 4001, 4002, 4003};
    for (size_t i = 0; i < IB_ARRAY_LEN(codes); i++)
        outf(&o, "icebreaker_closes_total{code=\"%d\"} %llu\n", codes[i],
             (unsigned long long)m->closes_by_code[codes[i]]);
    /* Speed-networking sessions this node drives, by phase: other nodes'
     * sessions (stubs here) are counted where they are driven, and ended
     * ones (kept for their report and feedback) are not live. */
    size_t by_phase[IB_SCHED_ENDED] = {0};
    const char *ek, *k;
    void *ev, *v;
    for (size_t i = 0; ib_map_next(&srv->events, &i, &ek, &ev);)
        for (size_t j = 0; ib_map_next(&((ib_event_t *)ev)->sn, &j, &k, &v);) {
            const ib_sn_t *sn = v;
            if (sn->stub)
                continue;
            ib_sched_phase_t ph = ib_sched_phase(sn->sched);
            if (ph < IB_SCHED_ENDED)
                by_phase[ph]++;
        }
    outf(&o, "# HELP icebreaker_sn_sessions Live speed-networking sessions on this node, by phase\n"
             "# TYPE icebreaker_sn_sessions gauge\n");
    for (int ph = IB_SCHED_LOBBY; ph < IB_SCHED_ENDED; ph++)
        outf(&o, "icebreaker_sn_sessions{phase=\"%s\"} %zu\n", ib_sched_phase_name(ph),
             by_phase[ph]);
    outf(&o, "# HELP icebreaker_sn_round_start_seconds Round starts this node drove, from the "
             "sn.start or the clock's deadline to the last sn.match written (matching included)\n"
             "# TYPE icebreaker_sn_round_start_seconds histogram\n");
    for (int i = 0; i < IB_ROUND_START_BUCKETS; i++)
        outf(&o, "icebreaker_sn_round_start_seconds_bucket{le=\"%g\"} %llu\n",
             (double)ib_round_start_le_us[i] / 1e6, (unsigned long long)m->round_start_le[i]);
    outf(&o,
         "icebreaker_sn_round_start_seconds_bucket{le=\"+Inf\"} %llu\n"
         "icebreaker_sn_round_start_seconds_sum %.6f\n"
         "icebreaker_sn_round_start_seconds_count %llu\n",
         (unsigned long long)m->round_start_count, (double)m->round_start_sum_us / 1e6,
         (unsigned long long)m->round_start_count);
    const char *redis = srv->store->ops->health(srv->store);
    outf(&o,
         "# HELP icebreaker_redis_up 1 when the shared store answers, 0 when Redis is down (1 in "
         "one-node mode)\n"
         "# TYPE icebreaker_redis_up gauge\nicebreaker_redis_up %d\n",
         strcmp(redis, "down") ? 1 : 0);
    if (o.failed) {
        free(o.buf);
        return NULL;
    }
    *len = o.len;
    return o.buf;
}

const char *ib_server_health(const ib_server_t *srv, int *code)
{
    if (srv->draining) {
        *code = 503;
        return "draining";
    }
    *code = 200;
    return strcmp(srv->store->ops->health(srv->store), "down") ? "ok" : "degraded";
}
