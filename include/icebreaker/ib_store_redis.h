/*
 * The Redis backend of the store port (hiredis async on the node's libuv
 * loop). Kept out of ib_store.h so that core/ never sees libuv.
 */
#ifndef IB_STORE_REDIS_H
#define IB_STORE_REDIS_H

#include <stddef.h>

#include "ib_store.h"

/* Deadline of every Redis command, in milliseconds: past it the caller is
 * answered with IB_EUNAVAIL and a late reply is ignored. */
#define IB_REDIS_DEADLINE_MS 2000

/* Parse "redis://HOST:PORT/DB" (port and db optional). Returns 0, or
 * IB_EBADREQ with a message in err. */
int ib_redis_url_parse(const char *url, char *host, size_t hostlen, int *port, int *db, char *err,
                       size_t errlen);

/* A store on `loop` (a uv_loop_t *) talking to url; it connects in the
 * background and reconnects with backoff, so it is returned before Redis
 * answers (health "down" until then). NULL with a message in err when the
 * URL is invalid or memory runs out. */
ib_store_t *ib_store_redis_new(void *loop, const char *url, size_t history, char *err,
                               size_t errlen);

#endif
