/*
 * String-keyed hash map: open addressing with linear probing, FNV-1a
 * hashes kept in the slots (so probes compare a word before a string),
 * tombstones for deletion, and a rebuild that drops them when live entries
 * plus tombstones pass 70% of the table.
 */
#include <stdlib.h>
#include <string.h>

#include "icebreaker/ib_err.h"
#include "icebreaker/ib_map.h"

static const char tombstone[] = "";
#define IB__MAP_TOMB tombstone

static uint32_t hash(const char *s)
{
    uint32_t h = 2166136261u;
    while (*s) {
        h ^= (unsigned char)*s++;
        h *= 16777619u;
    }
    return h;
}

void ib_map_init(ib_map_t *m)
{
    memset(m, 0, sizeof(*m));
}

void ib_map_free(ib_map_t *m)
{
    free(m->slots);
    memset(m, 0, sizeof(*m));
}

static ib_map_slot_t *find(const ib_map_t *m, const char *key, uint32_t h)
{
    if (!m->cap)
        return NULL;
    for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        ib_map_slot_t *s = &m->slots[i];
        if (!s->key)
            return NULL;
        if (s->key != IB__MAP_TOMB && s->hash == h && !strcmp(s->key, key))
            return s;
    }
}

void *ib_map_get(const ib_map_t *m, const char *key)
{
    ib_map_slot_t *s = find(m, key, hash(key));
    return s ? s->value : NULL;
}

/* Rebuild into a table big enough for the live entries to stay under half
 * full, dropping tombstones. */
static int rebuild(ib_map_t *m)
{
    size_t cap = 16;
    while (cap < (m->count + 1) * 2)
        cap *= 2;
    ib_map_slot_t *slots = calloc(cap, sizeof(*slots));
    if (!slots)
        return IB_ENOMEM;
    for (size_t i = 0; i < m->cap; i++) {
        ib_map_slot_t *s = &m->slots[i];
        if (!s->key || s->key == IB__MAP_TOMB)
            continue;
        size_t j = s->hash & (cap - 1);
        while (slots[j].key)
            j = (j + 1) & (cap - 1);
        slots[j] = *s;
    }
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
    m->used = m->count;
    return 0;
}

int ib_map_put(ib_map_t *m, const char *key, void *value)
{
    uint32_t h = hash(key);
    ib_map_slot_t *s = find(m, key, h);
    if (s) {
        s->key = key;
        s->value = value;
        return 0;
    }
    if ((m->used + 1) * 10 >= m->cap * 7) {
        int rc = rebuild(m);
        if (rc)
            return rc;
    }
    size_t i = h & (m->cap - 1);
    while (m->slots[i].key && m->slots[i].key != IB__MAP_TOMB)
        i = (i + 1) & (m->cap - 1);
    if (!m->slots[i].key)
        m->used++;
    m->slots[i] = (ib_map_slot_t){.key = key, .value = value, .hash = h};
    m->count++;
    return 0;
}

void *ib_map_del(ib_map_t *m, const char *key)
{
    ib_map_slot_t *s = find(m, key, hash(key));
    if (!s)
        return NULL;
    void *v = s->value;
    s->key = IB__MAP_TOMB;
    s->value = NULL;
    m->count--;
    return v;
}

int ib_map_next(const ib_map_t *m, size_t *iter, const char **key, void **value)
{
    while (*iter < m->cap) {
        ib_map_slot_t *s = &m->slots[(*iter)++];
        if (s->key && s->key != IB__MAP_TOMB) {
            *key = s->key;
            *value = s->value;
            return 1;
        }
    }
    return 0;
}
