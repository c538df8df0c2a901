/*
 * A session's bounded send queue: a ring of buffer references that grows
 * on demand (so an idle session costs no ring) and is bounded both in
 * messages and in bytes. A push over either bound fails and the caller
 * closes the session with 4003 (slow consumer); nobody else waits.
 */
#ifndef IB_SENDQ_H
#define IB_SENDQ_H

#include <stddef.h>
#include <stdint.h>

#include "ib_buf.h"

typedef struct ib_sendq {
    ib_buf_t **ring;
    uint32_t cap; /* ring slots, a power of two or 0 */
    uint32_t head;
    uint32_t count;
    size_t bytes; /* payload bytes queued */
    uint32_t max_msgs;
    size_t max_bytes;
} ib_sendq_t;

void ib_sendq_init(ib_sendq_t *q, uint32_t max_msgs, size_t max_bytes);
/* Takes a new reference on b. Returns 0, IB_EFULL when a bound would be
 * exceeded (nothing queued), or IB_ENOMEM. */
int ib_sendq_push(ib_sendq_t *q, ib_buf_t *b);
/* Oldest buffer or NULL; the queue keeps its reference. */
ib_buf_t *ib_sendq_peek(const ib_sendq_t *q);
/* Drop the oldest buffer (and its reference). */
void ib_sendq_pop(ib_sendq_t *q);
/* Drop everything and free the ring. */
void ib_sendq_clear(ib_sendq_t *q);

#endif
