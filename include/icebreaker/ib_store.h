/*
 * The shared-state port: what must be shared when several nodes serve one
 * event (chat sequence numbers and history, pub/sub between nodes, node
 * health). Two backends implement it: memory (one node, the default) and
 * Redis (several nodes). core/ talks only to this interface.
 *
 * Every operation that takes a callback calls it exactly once, possibly
 * before returning (the memory backend always does); when the operation
 * itself returns an error the callback is never called. Callers that can
 * vanish meanwhile pass an arg that outlives them (a held session).
 */
#ifndef IB_STORE_H
#define IB_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "ib_buf.h"

typedef struct ib_store ib_store_t;

/* seq: the message's sequence number in its room (1, 2, ...). */
typedef void (*ib_store_seq_cb)(void *arg, int err, uint64_t seq);
/* history: array of chat event objects, oldest first (borrowed). */
typedef void (*ib_store_history_cb)(void *arg, int err, json_t *history);

typedef struct ib_store_ops {
    const char *name;
    /* Give msg (a chat event object without "seq") the room's next
     * sequence number, set msg.seq, and keep it in the room's history
     * (bounded to the configured length). */
    int (*chat_append)(ib_store_t *st, const char *event, const char *room, json_t *msg,
                       ib_store_seq_cb cb, void *arg);
    /* The last `max` messages of the room's history, oldest first. */
    int (*chat_history)(ib_store_t *st, const char *event, const char *room, size_t max,
                        ib_store_history_cb cb, void *arg);
    /* Remove the message with sequence number seq from the room's history.
     * Calls back with err IB_ENOTFOUND when it is not (or no longer) there. */
    int (*chat_delete)(ib_store_t *st, const char *event, const char *room, uint64_t seq,
                       ib_store_seq_cb cb, void *arg);
    /* Forget a room's history (when nothing refers to it any more). */
    void (*room_gone)(ib_store_t *st, const char *event, const char *room);
    /* "ok", "down" or "off" (no shared store: one node). */
    const char *(*health)(ib_store_t *st);
    void (*free)(ib_store_t *st);
} ib_store_ops_t;

struct ib_store {
    const ib_store_ops_t *ops;
};

/* The in-memory backend: history of at most `history` messages per room. */
ib_store_t *ib_store_memory_new(size_t history);

static inline void ib_store_free(ib_store_t *st)
{
    if (st)
        st->ops->free(st);
}

#endif
