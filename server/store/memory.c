/*
 * The memory backend of the store port: one node, nothing shared. Each
 * room's history is a ring of the last `history` chat events with the room's
 * sequence counter; callbacks run before the call returns.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "icebreaker/ib_err.h"
#include "icebreaker/ib_map.h"
#include "icebreaker/ib_store.h"

typedef struct room_log {
    char *key; /* "<event>\x1f<room>" */
    uint64_t seq;
    json_t **ring;
    size_t head, count;
} room_log_t;

typedef struct mem_store {
    ib_store_t base;
    size_t history;
    ib_map_t logs;
} mem_store_t;

static char *log_key(const char *event, const char *room)
{
    size_t n = strlen(event) + strlen(room) + 2;
    char *k = malloc(n);
    if (k)
        snprintf(k, n, "%s\x1f%s", event, room);
    return k;
}

static room_log_t *log_get(mem_store_t *m, const char *event, const char *room, bool create)
{
    char stack[160];
    snprintf(stack, sizeof(stack), "%s\x1f%s", event, room);
    room_log_t *l = ib_map_get(&m->logs, stack);
    if (l || !create)
        return l;
    l = calloc(1, sizeof(*l));
    if (!l)
        return NULL;
    l->key = log_key(event, room);
    l->ring = m->history ? calloc(m->history, sizeof(json_t *)) : NULL;
    if (!l->key || (m->history && !l->ring) || ib_map_put(&m->logs, l->key, l)) {
        free(l->key);
        free(l->ring);
        free(l);
        return NULL;
    }
    return l;
}

static void log_free(mem_store_t *m, room_log_t *l)
{
    for (size_t i = 0; i < l->count; i++)
        json_decref(l->ring[(l->head + i) % m->history]);
    free(l->ring);
    free(l->key);
    free(l);
}

static int mem_chat_append(ib_store_t *st, const char *event, const char *room, json_t *msg,
                           ib_store_seq_cb cb, void *arg)
{
    mem_store_t *m = (mem_store_t *)st;
    room_log_t *l = log_get(m, event, room, true);
    if (!l)
        return IB_ENOMEM;
    uint64_t seq = ++l->seq;
    json_object_set_new(msg, "seq", json_integer((json_int_t)seq));
    if (m->history) {
        if (l->count == m->history) {
            json_decref(l->ring[l->head]);
            l->ring[l->head] = json_incref(msg);
            l->head = (l->head + 1) % m->history;
        } else {
            l->ring[(l->head + l->count++) % m->history] = json_incref(msg);
        }
    }
    cb(arg, 0, seq);
    return 0;
}

static int mem_chat_history(ib_store_t *st, const char *event, const char *room, size_t max,
                            ib_store_history_cb cb, void *arg)
{
    mem_store_t *m = (mem_store_t *)st;
    room_log_t *l = log_get(m, event, room, false);
    json_t *arr = json_array();
    if (!arr)
        return IB_ENOMEM;
    if (l) {
        size_t n = l->count < max ? l->count : max;
        for (size_t i = l->count - n; i < l->count; i++)
            json_array_append(arr, l->ring[(l->head + i) % m->history]);
    }
    cb(arg, 0, arr);
    json_decref(arr);
    return 0;
}

static int mem_chat_delete(ib_store_t *st, const char *event, const char *room, uint64_t seq,
                           ib_store_seq_cb cb, void *arg)
{
    mem_store_t *m = (mem_store_t *)st;
    room_log_t *l = log_get(m, event, room, false);
    size_t found = SIZE_MAX;
    for (size_t i = 0; l && i < l->count; i++) {
        json_t *msg = l->ring[(l->head + i) % m->history];
        if ((uint64_t)json_integer_value(json_object_get(msg, "seq")) == seq)
            found = i;
    }
    if (found == SIZE_MAX) {
        cb(arg, IB_ENOTFOUND, seq);
        return 0;
    }
    /* Close the gap: later messages move one slot towards the head. */
    json_decref(l->ring[(l->head + found) % m->history]);
    for (size_t i = found; i + 1 < l->count; i++)
        l->ring[(l->head + i) % m->history] = l->ring[(l->head + i + 1) % m->history];
    l->count--;
    cb(arg, 0, seq);
    return 0;
}

static void mem_room_gone(ib_store_t *st, const char *event, const char *room)
{
    mem_store_t *m = (mem_store_t *)st;
    room_log_t *l = log_get(m, event, room, false);
    if (!l)
        return;
    ib_map_del(&m->logs, l->key);
    log_free(m, l);
}

static const char *mem_health(ib_store_t *st)
{
    (void)st;
    return "off";
}

static void mem_free(ib_store_t *st)
{
    mem_store_t *m = (mem_store_t *)st;
    const char *k;
    void *v;
    for (size_t i = 0; ib_map_next(&m->logs, &i, &k, &v);)
        log_free(m, v);
    ib_map_free(&m->logs);
    free(m);
}

static const ib_store_ops_t mem_ops = {
    .name = "memory",
    .chat_append = mem_chat_append,
    .chat_history = mem_chat_history,
    .chat_delete = mem_chat_delete,
    .room_gone = mem_room_gone,
    .health = mem_health,
    .free = mem_free,
};

ib_store_t *ib_store_memory_new(size_t history)
{
    mem_store_t *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->base.ops = &mem_ops;
    m->history = history;
    return &m->base;
}
