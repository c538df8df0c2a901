/*
 * Reference-counted, immutable message buffers. A broadcast is encoded once
 * into one buffer and each recipient's send queue holds a reference.
 * IB_BUF_PRE bytes of headroom precede the payload so the WebSocket layer
 * can write its frame header in place (net/ checks IB_BUF_PRE >= LWS_PRE).
 */
#ifndef IB_BUF_H
#define IB_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#define IB_BUF_PRE 16

typedef struct ib_buf {
    uint32_t refs;
    uint32_t len; /* payload bytes */
    unsigned char data[]; /* IB_BUF_PRE headroom, then len payload bytes, then NUL */
} ib_buf_t;

/* A new buffer holding a copy of payload, with one reference. NULL on
 * allocation failure. */
ib_buf_t *ib_buf_new(const char *payload, size_t len);
/* Encode a JSON value compactly into a new buffer (one reference). */
ib_buf_t *ib_buf_from_json(const json_t *v);

static inline ib_buf_t *ib_buf_ref(ib_buf_t *b)
{
    b->refs++;
    return b;
}
void ib_buf_unref(ib_buf_t *b); /* accepts NULL */

static inline unsigned char *ib_buf_payload(ib_buf_t *b)
{
    return b->data + IB_BUF_PRE;
}

#endif
