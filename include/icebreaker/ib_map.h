/*
 * A string-keyed hash map (open addressing, linear probing, tombstones),
 * the one lookup structure of core/: users by id, rooms by name, sessions
 * by resume token. Keys are borrowed: the caller keeps each key alive (as
 * part of the value it maps to) until it is removed.
 */
#ifndef IB_MAP_H
#define IB_MAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct ib_map_slot {
    const char *key; /* NULL: empty; IB__MAP_TOMB: removed */
    void *value;
    uint32_t hash;
} ib_map_slot_t;

typedef struct ib_map {
    ib_map_slot_t *slots;
    size_t cap;   /* power of two, or 0 before the first insert */
    size_t count; /* live entries */
    size_t used;  /* live + tombstones */
} ib_map_t;

/* A zeroed ib_map_t is an empty map; ib_map_init just zeroes it. */
void ib_map_init(ib_map_t *m);
void ib_map_free(ib_map_t *m); /* frees the table, not the values */

void *ib_map_get(const ib_map_t *m, const char *key);
/* Insert or replace. Returns 0 or IB_ENOMEM. */
int ib_map_put(ib_map_t *m, const char *key, void *value);
/* Remove; returns the value that was there or NULL. */
void *ib_map_del(ib_map_t *m, const char *key);

/* Iteration: for (size_t i = 0; ib_map_next(m, &i, &k, &v);) ...
 * Removing the current entry during iteration is allowed. */
int ib_map_next(const ib_map_t *m, size_t *iter, const char **key, void **value);

#endif
