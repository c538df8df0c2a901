/*
 * Private to server/core: a live speed-networking session (sn.c and
 * sn_feedback.c). The round state machine and the matching are the
 * scheduler's (ib_sched.h); this is what the node adds around it: people's
 * cards, the pair rooms of the current round, feedback and connections,
 * and the record the report is made from.
 */
#ifndef IB_SN_INTERNAL_H
#define IB_SN_INTERNAL_H

#include "core_internal.h"
#include "icebreaker/ib_match.h"
#include "icebreaker/ib_sched.h"

#define IB_SN_FEEDBACK_AFTER_MS (10 * 60 * 1000)

/* A participant as the others see them. Whether they are opted in, and
 * their group, are the scheduler's (ib_sched_joined, ib_sched_group_of). */
typedef struct ib_sn_person {
    char *id;
    char *name;
    char *headline;  /* NULL when absent */
    json_t *contact; /* revealed only through `connection` */
    uint32_t handle; /* in the scheduler's pool */
    uint32_t round;  /* the round of `room` / `match` */
    char *room;      /* current pair: room, NULL when none */
    /* The last sn.match sent this round (resent on resume): across nodes
     * as JSON (match, it is handed over), on one node as the bytes sent
     * (match_wire), made again when the deadline moves. */
    json_t *match;
    ib_buf_t *match_wire;
    int64_t match_ends_at; /* the deadline match_wire was written with */
    bool seen;             /* seen in `room` (here or on another node) since put there */
} ib_sn_person_t;

typedef struct ib_sn {
    char *id;
    ib_event_t *ev;
    char *lounge;
    char *host;
    ib_map_t people;     /* id -> ib_sn_person_t */
    ib_sched_t *sched;   /* phases, clock, groups, the matching pool */
    uint32_t next_room;  /* numbering of pair: rooms */
    json_t *rooms_now;   /* pair: room id -> group number, this round */
    json_t *history;     /* report: [{round, started, groups:[[ids]], byes:[ids]}] */
    json_t *feedback;    /* "round/from/to" -> {rating, connect, at} */
    json_t *connections; /* "a/b" (sorted) -> round */
    bool count_dirty;    /* participants changed: the host hears it (1/s) */
    int64_t count_sent;
    /* Several nodes (sn_cluster.c). A stub stands for a session another
     * node drives: no scheduler, no people; verbs go to its owner. */
    bool stub;
    char owner[IB_ID_MAX + 1]; /* the driving node, as last heard */
    uint64_t fence;            /* our lease's fencing token; 0: not held */
    int64_t lease_at;          /* the last lease call */
    int64_t lease_until;       /* ours at least until then (last renewal sent + TTL - margin) */
    bool leased_once;          /* the store gave us the lease at least once */
    int64_t heard_at;          /* the last word from the owner (stubs) */
    bool lease_busy, save_busy;
    bool dirty;  /* changed since the last save */
    bool urgent; /* a change of phase or round: save at the next tick */
    int64_t saved_at;
    bool lounge_pinned;
    json_t *st; /* the last sn.state (stubs: as the owner sent it) */
} ib_sn_t;

/* Who asks for a verb: a local user or one forwarded by another node. */
typedef struct ib_sn_actor {
    const char *id, *name, *headline;
    json_t *profile; /* interests, offers, seeks, contact (borrowed; may be NULL) */
} ib_sn_actor_t;

/* Verbs of a session this node drives ("sn.start" ... "sn.feedback", and
 * "sync": resend the actor its state and match). On success ok(ctx,
 * fields) is called once with the reply's fields (stolen) before anything
 * the verb causes is sent; returns 0, or IB_E* with *why. */
typedef void (*ib_sn_ok_fn)(void *ctx, json_t *fields);
int ib__sn_verb(ib_sn_t *sn, const char *verb, const ib_sn_actor_t *who, json_t *msg, int64_t now,
                const char **why, ib_sn_ok_fn ok, void *ctx);

/* sn.c for sn_cluster.c */
ib_sn_t *ib__sn_alloc(ib_event_t *ev, const char *id, const char *lounge, const char *host);
void ib__sn_free(ib_sn_t *sn);
/* The current sn.state (new reference). */
json_t *ib__sn_state_json(const ib_sn_t *sn, int64_t now);
/* Pin and load the lounge (its members on every node answer `present`). */
void ib__sn_pin_lounge(ib_sn_t *sn, bool on);

/* sn_cluster.c: every function is a no-op on one node. */
void ib__sn_cluster_created(ib_sn_t *sn, int64_t now);
void ib__sn_cluster_changed(ib_sn_t *sn, bool urgent);
void ib__sn_cluster_state(ib_sn_t *sn, json_t *st);
void ib__sn_cluster_tick(ib_sn_t *sn, int64_t now);
/* Whether this node may run the session's clock now: while its lease is
 * known to be held (not after a stall longer than the lease, nor through a
 * Redis outage: another node may drive it by then). */
bool ib__sn_cluster_may_drive(const ib_sn_t *sn, int64_t now);
/* A verb for a stub: forwarded to the owner; returns 0 (answered later)
 * or IB_E* (not sent). */
int ib__sn_forward(ib_req_t *req, ib_sn_t *sn, const char *verb);
/* A resumed session: stubs ask their owner to resend state and match. */
void ib__sn_cluster_resumed(ib_sn_t *sn, ib_session_t *s, int64_t now);
/* Become a stub (another node took the lease): the pair: rooms stay, as
 * every node's copies do. */
void ib__sn_make_stub(ib_sn_t *sn);

ib_sn_person_t *ib__sn_person(const ib_sn_t *sn, const char *id);
/* Whether a and b were in one group in round. */
bool ib__sn_met(const ib_sn_t *sn, uint32_t round, const char *a, const char *b);
/* {id,name,headline} (+ contact claims when with_contact). */
json_t *ib__sn_card(const ib_sn_person_t *p, bool with_contact);

int ib__sn_feedback(ib_sn_t *sn, const char *from, uint32_t round, const char *partner, int rating,
                    bool connect, int64_t now, const char **why);
/* {ratings:{count,mean,histogram}, connections:[{a,b,round}]} */
json_t *ib__sn_feedback_summary(const ib_sn_t *sn);

/*
 * Hand-over of a live session to another node (for the multi-node store).
 *
 * ib__sn_session_to_json writes everything needed to continue the session
 * elsewhere: the scheduler (phase, clock, current groups, and the matching
 * pool with profiles, meeting history, blocks, byes and rotate seats), the
 * participants' cards and contact claims, the current round's pair: rooms
 * and the sn.match each participant holds, the numbering of rooms, the
 * report's history, and all feedback and revealed connections (feedback
 * stays open 10 minutes after the end). NULL on ENOMEM. The document is
 * plain JSON (no pointers, no node ids): store it as text, e.g. in Redis
 * next to the session's lease, after every change the caller wants to
 * survive (at least after each round start and end, and on feedback).
 *
 * ib__sn_session_from_json rebuilds that session in ev (the event of the
 * same id on the node taking over) and registers it there: the pair: rooms
 * of a running round are made again, with the same ids, open to their
 * members, and the live sessions of members connected to this node are put
 * in them. Nothing is sent: the caller calls ib__sn_tick as usual, and the
 * clock continues from the saved deadline (a deadline already past is
 * handled at the first tick). Returns 0, IB_EBADREQ (malformed or
 * inconsistent: nothing built), IB_ECONFLICT (ev already has a session of
 * that id, or its maximum of sessions) or IB_ENOMEM.
 *
 * Presence: the scheduler asks sn.c whether a participant is there, and
 * sn.c answers from this node's sessions (connected, or detached within
 * grace). A node driving a session whose participants are connected to
 * other nodes must answer from the cluster's presence instead (the
 * `present` callback in sn.c is the one place to change).
 *
 * ib__sn_session_drop takes a session out of its event and frees it,
 * closing its pair: rooms without a word to anyone: what a node does when
 * it gives a session up to another one.
 */
json_t *ib__sn_session_to_json(const ib_sn_t *sn);
int ib__sn_session_from_json(ib_event_t *ev, const json_t *j, ib_sn_t **out);
void ib__sn_session_drop(ib_sn_t *sn);

#endif
