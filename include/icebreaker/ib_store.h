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

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "ib_buf.h"

typedef struct ib_store ib_store_t;

/* seq: the message's sequence number in its room (1, 2, ...). */
typedef void (*ib_store_seq_cb)(void *arg, int err, uint64_t seq);
/* history: array of chat event objects, oldest first (borrowed). */
typedef void (*ib_store_history_cb)(void *arg, int err, json_t *history);
/* A JSON answer (borrowed; NULL with err set, or JSON null when absent). */
typedef void (*ib_store_json_cb)(void *arg, int err, json_t *v);
/* A lease: err 0 and the fencing token while this node holds it, or
 * IB_ECONFLICT and the holder's node id (borrowed), or IB_EUNAVAIL. */
typedef void (*ib_store_lease_cb)(void *arg, int err, uint64_t fence, const char *holder);

/*
 * Shared stores (Redis) carry messages between nodes. A message is a JSON
 * header object (the store adds "n", the origin node's id) and an optional
 * payload passed through as bytes (an event already encoded for clients).
 * Each node subscribes to the events it serves and hears every message of
 * those events, its own included.
 */
typedef struct ib_store_hooks {
    void *arg;
    /* A message of `event` (hdr borrowed; payload may be NULL). */
    void (*message)(void *arg, const char *event, json_t *hdr, const char *payload, size_t len);
    /* The node is registered (again) in the shared store, after connecting
     * or after being taken for dead: put its state back (node_sync) and
     * re-read the others'. */
    void (*up)(void *arg);
} ib_store_hooks_t;

/*
 * --- Booths across nodes (issue 6) ---
 * Shared stores only: NULL in the memory backend, where booth.c keeps the
 * queues, meetings and leads of a booth in the node's memory. With several
 * nodes one queue per booth lives in the store, fair across nodes (first
 * come, first served by the store's order), and each operation is atomic.
 * Every change to a queue publishes {"k":"booth.q","booth":..} on the
 * event's bus (from the same atomic step), so each node re-reads the queue
 * and tells its own visitors their position. A visitor is held by the node
 * of their sessions (where they queued, or resumed): that node marks them
 * away (in the grace period: kept in place, skipped by next) and takes them
 * out when their last session there ends; a dead node's visitors leave
 * with the rest of its state (detection + grace). Fire-and-forget
 * operations (cb NULL allowed where said) return 0 or IB_EUNAVAIL.
 */
typedef struct ib_store_booth_ops {
    /* Queue `user` (person: {id,name,headline}, what staff on other nodes
     * see) at booth, held by this node; already queued: keeps the place.
     * cb: {"position":n,"lens":[recent meeting ms],"staff":n}, or err
     * IB_ECONFLICT when user is in a meeting with the booth. */
    int (*queue)(ib_store_t *st, const char *event, const char *booth, const char *user,
                 json_t *person, int64_t now, ib_store_json_cb cb, void *arg);
    /* Take user out of booth's queue (only_here: only when held by this
     * node). cb (may be NULL): JSON true when removed, false when absent. */
    int (*unqueue)(ib_store_t *st, const char *event, const char *booth, const char *user,
                   bool only_here, ib_store_json_cb cb, void *arg);
    /* Mark user (held by this node) away or back. Fire-and-forget. */
    int (*away)(ib_store_t *st, const char *event, const char *booth, const char *user, bool away);
    /* user resumed on this node: this node holds them (not away) in every
     * queue they are in. cb: [{"booth","position"}]. */
    int (*adopt)(ib_store_t *st, const char *event, const char *user, ib_store_json_cb cb,
                 void *arg);
    /* This node's live staff of booth (the wait estimate divides by all
     * nodes' staff). Fire-and-forget. */
    int (*staff)(ib_store_t *st, const char *event, const char *booth, unsigned n);
    /* Take the oldest visitor who is not away (exactly once across nodes)
     * into meeting `room_prefix`<n> with staff user `staff`. cb: {"user",
     * "person","wait_ms","room"}, or JSON null when nobody is waiting. */
    int (*next)(ib_store_t *st, const char *event, const char *booth, const char *staff,
                const char *room_prefix, int64_t now, ib_store_json_cb cb, void *arg);
    /* The queue, oldest first: {"q":[{"id","node","away"}],"lens":[..],
     * "staff":n}. */
    int (*read)(ib_store_t *st, const char *event, const char *booth, ib_store_json_cb cb,
                void *arg);
    /* Meeting `room` ended (counted once, whichever nodes report it).
     * Fire-and-forget. */
    int (*meet_end)(ib_store_t *st, const char *event, const char *booth, const char *room,
                    int64_t now);
    /* A lead with consent (lead: JSON without meeting_s; NULL withdraws it,
     * fire-and-forget). cb: {"meeting_ms":n|null} (the visitor's last or
     * current meeting), or err IB_ECONFLICT when the booth has `max` leads. */
    int (*lead)(ib_store_t *st, const char *event, const char *booth, const char *user,
                json_t *lead, int64_t now, size_t max, ib_store_json_cb cb, void *arg);
    /* What the booth API shows: {"visits","meetings","in_meeting","queued",
     * "waits":[ms, newest first],"leads":[lead with meeting_s, by "at"]}. */
    int (*info)(ib_store_t *st, const char *event, const char *booth, ib_store_json_cb cb,
                void *arg);
} ib_store_booth_ops_t;

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
    /*
     * Shared stores only (NULL in the memory backend). Fire-and-forget
     * operations return 0 or IB_EUNAVAIL (not connected) and never call back.
     */
    /* Start (node id, grace period for dead nodes' sessions, hooks). */
    void (*attach)(ib_store_t *st, const char *node_id, int64_t grace_ms,
                   const ib_store_hooks_t *hooks);
    /* Hear (on) or stop hearing (off) the messages of an event. */
    void (*subscribe)(ib_store_t *st, const char *event, int on);
    /* Send a message to every node serving the event (this one too). */
    int (*publish)(ib_store_t *st, const char *event, json_t *hdr, const char *payload, size_t len);
    /* This node's membership of user `user` in a room: value (a JSON
     * object, kept for other nodes' member lists) or NULL (gone); hdr is
     * published with it, atomically. */
    int (*presence)(ib_store_t *st, const char *event, const char *room, const char *user,
                    json_t *value, json_t *hdr);
    /* Every node's members of a room: array of {"n":node,"id":user,"v":value}. */
    int (*presence_list)(ib_store_t *st, const char *event, const char *room, ib_store_json_cb cb,
                         void *arg);
    /* Replace this node's whole presence in an event by entries (array of
     * {"room","id","v"}), then publish hdr. */
    int (*node_sync)(ib_store_t *st, const char *event, json_t *entries, json_t *hdr);
    /* A session's resume record (rec NULL: delete it), kept until the
     * session ends or until its node is dead past the grace period. */
    int (*resume_put)(ib_store_t *st, const char *event, const char *token, json_t *rec);
    int (*resume_get)(ib_store_t *st, const char *event, const char *token, ib_store_json_cb cb,
                      void *arg);
    /*
     * Owned documents (a speed-networking session's state): one node at a
     * time holds the lease of a name in an event and is the only one that
     * may write its document. A lease not renewed within ttl_ms is free for
     * the next taker; each change of holder gets a new, larger fencing
     * token, and a write carrying an older token is refused.
     */
    /* Take or renew the lease of `name`. */
    int (*lease)(ib_store_t *st, const char *event, const char *name, int64_t ttl_ms,
                 ib_store_lease_cb cb, void *arg);
    /* Give it up (fire-and-forget; only while fence is still the holder's). */
    int (*lease_release)(ib_store_t *st, const char *event, const char *name, uint64_t fence);
    /* Write the document and its index entry `meta` (small JSON listed by
     * doc_list) while holding the lease with fence: calls back 0, or
     * IB_ECONFLICT when the lease is not (or no longer) ours. */
    int (*doc_put)(ib_store_t *st, const char *event, const char *name, uint64_t fence,
                   const char *doc, size_t len, json_t *meta, ib_store_seq_cb cb, void *arg);
    /* The document (JSON null when absent). */
    int (*doc_get)(ib_store_t *st, const char *event, const char *name, ib_store_json_cb cb,
                   void *arg);
    /* Every document of the event: object name -> meta. */
    int (*doc_list)(ib_store_t *st, const char *event, ib_store_json_cb cb, void *arg);
    /* Moderation lists shared by the nodes of an event (kind "kick" or
     * "block"): set field to value (NULL: remove it); fire-and-forget. */
    int (*mod_put)(ib_store_t *st, const char *event, const char *kind, const char *field,
                   json_t *value);
    /* The whole list: object field -> value. */
    int (*mod_list)(ib_store_t *st, const char *event, const char *kind, ib_store_json_cb cb,
                    void *arg);
    /* The node is shutting down: others may treat it as dead now. */
    void (*leaving)(ib_store_t *st);
    /* "ok", "down" or "off" (no shared store: one node). */
    const char *(*health)(ib_store_t *st);
    void (*free)(ib_store_t *st);
    /* Booths across nodes (above); NULL in the memory backend. */
    const ib_store_booth_ops_t *booth;
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
