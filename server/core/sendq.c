/*
 * Bounded send queues (ib_sendq.h): a ring of buffer references that
 * starts empty, doubles from 4 slots as needed, and is freed when the
 * queue is cleared, so the thousands of idle sessions of a big lounge
 * carry no ring at all.
 */
#include <stdlib.h>
#include <string.h>

#include "icebreaker/ib_err.h"
#include "icebreaker/ib_sendq.h"

void ib_sendq_init(ib_sendq_t *q, uint32_t max_msgs, size_t max_bytes)
{
    memset(q, 0, sizeof(*q));
    q->max_msgs = max_msgs;
    q->max_bytes = max_bytes;
}

static int grow(ib_sendq_t *q)
{
    uint32_t cap = q->cap ? q->cap * 2 : 4;
    ib_buf_t **ring = malloc(cap * sizeof(*ring));
    if (!ring)
        return IB_ENOMEM;
    for (uint32_t i = 0; i < q->count; i++)
        ring[i] = q->ring[(q->head + i) & (q->cap - 1)];
    free(q->ring);
    q->ring = ring;
    q->cap = cap;
    q->head = 0;
    return 0;
}

int ib_sendq_push(ib_sendq_t *q, ib_buf_t *b)
{
    if (q->count + 1 > q->max_msgs || q->bytes + b->len > q->max_bytes)
        return IB_EFULL;
    if (q->count == q->cap) {
        int rc = grow(q);
        if (rc)
            return rc;
    }
    q->ring[(q->head + q->count) & (q->cap - 1)] = ib_buf_ref(b);
    q->count++;
    q->bytes += b->len;
    return 0;
}

ib_buf_t *ib_sendq_peek(const ib_sendq_t *q)
{
    return q->count ? q->ring[q->head] : NULL;
}

void ib_sendq_pop(ib_sendq_t *q)
{
    if (!q->count)
        return;
    ib_buf_t *b = q->ring[q->head];
    q->bytes -= b->len;
    ib_buf_unref(b);
    q->head = (q->head + 1) & (q->cap - 1);
    if (--q->count == 0) {
        /* Idle again: give the ring back. */
        free(q->ring);
        q->ring = NULL;
        q->cap = q->head = 0;
    }
}

void ib_sendq_clear(ib_sendq_t *q)
{
    while (q->count)
        ib_sendq_pop(q);
    free(q->ring);
    q->ring = NULL;
    q->cap = q->head = 0;
    q->bytes = 0;
}
