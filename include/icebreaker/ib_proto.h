/*
 * The message table and the JSON codec.
 *
 * IB_VERBS lists every client verb once: its name on the wire, the roles
 * allowed to send it, and flags. The dispatcher in core/ expands it into a
 * table of handlers named ib_h_<name>; protocol/ expands it into the verb
 * lookup. Adding a verb is one line here plus its handler.
 */
#ifndef IB_PROTO_H
#define IB_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "ib_jwt.h"

/* Flags */
#define IB_VERB_PREAUTH 1 /* allowed before hello (only hello itself) */

/* X(name, "wire verb", allowed roles, flags) */
#define IB_VERBS(X)                                                                                \
    X(hello, "hello", IB_ROLES_ANY, IB_VERB_PREAUTH)                                               \
    X(ping, "ping", IB_ROLES_ANY, 0)                                                               \
    X(join, "join", IB_ROLES_ANY, 0)                                                               \
    X(leave, "leave", IB_ROLES_ANY, 0)                                                             \
    X(status, "status", IB_ROLES_ANY, 0)                                                           \
    X(chat, "chat", IB_ROLES_ANY, 0)                                                               \
    X(members, "members", IB_ROLES_ANY, 0)                                                         \
    X(announce, "announce", IB_ROLES_HOST, 0)                                                      \
    X(kick, "kick", IB_ROLES_HOST, 0)                                                              \
    X(block, "block", IB_ROLES_ANY, 0)                                                             \
    X(unblock, "unblock", IB_ROLES_ANY, 0)                                                         \
    X(chat_delete, "chat.delete", IB_ROLES_HOST, 0)                                                \
    X(booth_queue, "booth.queue", IB_ROLES_ANY, 0)                                                 \
    X(booth_unqueue, "booth.unqueue", IB_ROLES_ANY, 0)                                             \
    X(booth_next, "booth.next", IB_ROLE_EXHIBITOR | IB_ROLE_ADMIN, 0)                              \
    X(booth_lead, "booth.lead", IB_ROLES_ANY, 0)                                                   \
    X(signal, "signal", IB_ROLES_ANY, 0)                                                           \
    X(sn_create, "sn.create", IB_ROLES_HOST, 0)                                                    \
    X(sn_start, "sn.start", IB_ROLES_HOST, 0)                                                      \
    X(sn_pause, "sn.pause", IB_ROLES_HOST, 0)                                                      \
    X(sn_resume, "sn.resume", IB_ROLES_HOST, 0)                                                    \
    X(sn_extend, "sn.extend", IB_ROLES_HOST, 0)                                                    \
    X(sn_stop, "sn.stop", IB_ROLES_HOST, 0)                                                        \
    X(sn_join, "sn.join", IB_ROLES_ANY, 0)                                                         \
    X(sn_leave, "sn.leave", IB_ROLES_ANY, 0)                                                       \
    X(sn_feedback, "sn.feedback", IB_ROLES_ANY, 0)

typedef enum ib_verb {
#define IB__VERB_ENUM(name, wire, roles, flags) IB_VERB_##name,
    IB_VERBS(IB__VERB_ENUM)
#undef IB__VERB_ENUM
        IB_VERB__COUNT,
    IB_VERB_UNKNOWN = -1,
} ib_verb_t;

typedef struct ib_verb_info {
    const char *wire;
    unsigned roles;
    unsigned flags;
} ib_verb_info_t;

extern const ib_verb_info_t ib_verb_table[IB_VERB__COUNT];

/* Verb by wire name; IB_VERB_UNKNOWN when not in the table. */
ib_verb_t ib_verb_lookup(const char *wire);

/* A decoded client message. msg owns the parsed object; id points into it
 * (NULL when absent). */
typedef struct ib_msg {
    json_t *msg;
    json_t *id;
    ib_verb_t verb;
    const char *type; /* points into msg; NULL when missing */
} ib_msg_t;

/* Decode one text message. Returns 0, or IB_EBADREQ with *why set to a
 * human reason; in both cases out->msg may be set (free with
 * ib_msg_clear) so the reply can still carry a valid id. */
int ib_msg_decode(const char *data, size_t len, ib_msg_t *out, const char **why);
void ib_msg_clear(ib_msg_t *m);

/* Field accessors: return 0 or IB_EBADREQ with *why set. `required`
 * false: absent leaves *out untouched and returns 0. */
int ib_get_string(const json_t *msg, const char *key, bool required, const char **out,
                  const char **why);
int ib_get_int(const json_t *msg, const char *key, bool required, int64_t lo, int64_t hi,
               int64_t *out, const char **why);
int ib_get_bool(const json_t *msg, const char *key, bool required, bool *out, const char **why);

/* {"type":"ok"} plus "re" when id is not NULL. New reference. */
json_t *ib_reply_ok(const json_t *id);
/* {"type":"error","code":..,"message":..} plus "re". New reference. */
json_t *ib_reply_error(const json_t *id, int err, const char *message);

#endif
