/* Reference-counted message buffers (ib_buf.h). */
#include <stdlib.h>
#include <string.h>

#include "icebreaker/ib_buf.h"

ib_buf_t *ib_buf_new(const char *payload, size_t len)
{
    if (len > UINT32_MAX)
        return NULL;
    ib_buf_t *b = malloc(sizeof(*b) + IB_BUF_PRE + len + 1);
    if (!b)
        return NULL;
    b->refs = 1;
    b->len = (uint32_t)len;
    memcpy(b->data + IB_BUF_PRE, payload, len);
    b->data[IB_BUF_PRE + len] = 0;
    return b;
}

ib_buf_t *ib_buf_from_json(const json_t *v)
{
    /* Measure, then encode straight into the buffer: one allocation. */
    size_t len = json_dumpb(v, NULL, 0, JSON_COMPACT);
    if (len == 0 || len > UINT32_MAX)
        return NULL;
    ib_buf_t *b = malloc(sizeof(*b) + IB_BUF_PRE + len + 1);
    if (!b)
        return NULL;
    if (json_dumpb(v, (char *)b->data + IB_BUF_PRE, len, JSON_COMPACT) != len) {
        free(b);
        return NULL;
    }
    b->refs = 1;
    b->len = (uint32_t)len;
    b->data[IB_BUF_PRE + len] = 0;
    return b;
}

void ib_buf_unref(ib_buf_t *b)
{
    if (b && --b->refs == 0)
        free(b);
}
