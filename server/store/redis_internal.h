/*
 * Private to server/store: what redis.c lends the other files of the Redis
 * backend (redis_booth.c).
 */
#ifndef IB_REDIS_INTERNAL_H
#define IB_REDIS_INTERNAL_H

#include <hiredis/hiredis.h>

#include "icebreaker/ib_store.h"

/* A reply (r NULL when err is set: no connection, deadline, Redis error). */
typedef void (*ib__redis_reply_cb)(void *arg, int err, const redisReply *r);

/* Issue a command with the store's deadline; cb NULL: nobody waits for the
 * answer. Returns IB_EUNAVAIL (not connected; cb never called) or 0. argv
 * entries are NUL-terminated unless lens is given. */
int ib__redis_command(ib_store_t *st, int argc, const char **argv, const size_t *lens,
                      ib__redis_reply_cb cb, void *arg);
/* The node's id once attached (several nodes), else NULL. */
const char *ib__redis_node_id(ib_store_t *st);

/* redis_booth.c */
extern const ib_store_booth_ops_t ib__redis_booth_ops;
/* Dead node `node`: its visitors leave event's booth queues. */
void ib__redis_booth_node_dead(ib_store_t *st, const char *node, const char *event);

#endif
