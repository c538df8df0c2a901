/*
 * Private to server/core: the request object handed to verb handlers and
 * helpers shared by the handler files.
 */
#ifndef IB_CORE_INTERNAL_H
#define IB_CORE_INTERNAL_H

#include "icebreaker/ib_err.h"
#include "icebreaker/ib_server.h"

/* One client request being handled. */
typedef struct ib_req {
    ib_session_t *s;
    const ib_msg_t *m;
    int64_t now;
    const char *why; /* reason for the error reply, when a handler fails */
} ib_req_t;

/* Handlers: return 0 when the reply was sent (or will be, asynchronously),
 * or an IB_E* code for the dispatcher to send as the error reply (with
 * req->why as the message when set). */
#define IB__HANDLER_DECL(name, wire, roles, flags) int ib_h_##name(ib_req_t *req);
IB_VERBS(IB__HANDLER_DECL)
#undef IB__HANDLER_DECL

/* Reply ok to the request with the fields of `fields` (stolen; may be NULL). */
void ib__reply_ok(ib_req_t *req, json_t *fields);

/* A request answered later (after a store callback): keeps the session
 * alive and a copy of the request id. */
typedef struct ib_pending {
    ib_session_t *s;
    json_t *id;
    int64_t now;
    void *data;
} ib_pending_t;

ib_pending_t *ib__pending_new(ib_req_t *req);
/* Send ok (fields stolen) or error, then free p and release the session. */
void ib__pending_ok(ib_pending_t *p, json_t *fields);
/* Send buf (an encoded ok, not stolen), then free p and release the session. */
void ib__pending_ok_buf(ib_pending_t *p, ib_buf_t *buf);
void ib__pending_error(ib_pending_t *p, int err, const char *why);

/* Keep s from being reaped while an asynchronous operation refers to it. */
void ib__session_hold(ib_session_t *s);
void ib__session_release(ib_session_t *s);
static inline bool ib__session_live(const ib_session_t *s)
{
    return s->state == IB_SESSION_LIVE && !s->close_code;
}

/* Session room list bookkeeping (used by room.c). */
int ib__session_add_room(ib_session_t *s, ib_room_t *r);
void ib__session_del_room(ib_session_t *s, ib_room_t *r);

/* Leave every room (presence `left` where the user goes). */
void ib__session_leave_all(ib_session_t *s);

/* Mark a crowd room's count as changed. */
void ib__room_count_changed(ib_room_t *r);
/* Send pending presence.count events (at most one a second per room). */
void ib__rooms_flush_counts(ib_server_t *srv, int64_t now);

/* End a session now (leave its rooms, forget it). */
void ib__session_end(ib_session_t *s);

/* Event-owned state of the feature modules, freed with the event. */
void ib__event_free_moderation(ib_event_t *ev);
void ib__event_expire_kicks(ib_event_t *ev, int64_t now);
/* Free an event and everything it still holds (server shutdown). */
void ib__event_destroy(ib_event_t *ev);

/* Let user `sub` into server-made room r (pair:, meet:). */
int ib__room_allow(ib_room_t *r, const char *sub);
/* A user stopped being a member of r (dispatches on the room's kind:
 * a meet: room ends, a pair: partner is re-paired). */
void ib__room_left(ib_room_t *r, ib_user_t *u, int64_t now);
/* User id became a member of server-made room r on another node. */
void ib__room_joined_remote(ib_room_t *r, const char *id);

/* Booths (booth.c) */
void ib__booth_meet_left(ib_room_t *r, int64_t now);
void ib__booth_user_gone(ib_event_t *ev, const ib_user_t *u);
void ib__event_free_booths(ib_event_t *ev);
/* Several nodes: u's live sessions on this node may have changed (the
 * queues mark it away or back, the booth's staff count). */
void ib__booth_user_live(ib_user_t *u);
/* Several nodes: u resumed onto this node; it holds u's queue places now
 * (call before the old node hears of it). */
void ib__booth_resumed(ib_user_t *u);
/* Several nodes: a booth message from the bus ("booth.q": a queue changed;
 * "booth.lead": a lead for this node's staff). */
void ib__booth_bus(ib_event_t *ev, const char *kind, json_t *hdr, const char *payload, size_t len);

/* Speed networking (sn.c) */
void ib__sn_tick(ib_server_t *srv, int64_t now);
void ib__sn_pair_left(ib_room_t *r, int64_t now);
void ib__sn_pair_joined(ib_room_t *r, const char *id);
/* Moderation across nodes (moderation.c): kick and block messages, and
 * the lists read when the event comes to this node. */
void ib__mod_message(ib_event_t *ev, const char *k, json_t *hdr);
void ib__mod_event_new(ib_event_t *ev);
/* Several nodes (sn_cluster.c) */
void ib__sn_cluster_message(ib_event_t *ev, const char *k, json_t *hdr);
void ib__sn_cluster_event_new(ib_event_t *ev);
void ib__sn_cluster_expire(ib_server_t *srv, int64_t now);
void ib__sn_cluster_drain(ib_server_t *srv);
void ib__sn_cluster_free(ib_server_t *srv);
void ib__sn_resumed(ib_session_t *s, int64_t now);
void ib__event_free_sn(ib_event_t *ev);

/* Several nodes (cluster.c); every function is a no-op on one node. */
static inline bool ib__cluster(const ib_server_t *srv)
{
    return srv->store && srv->store->ops->publish;
}
/* Whether room r's membership is shared between nodes. */
bool ib__cluster_room(const ib_room_t *r);

/* room_page.c: answer a join with ok, fields (stolen) and "members": the
 * first `limit` members of r, encoded once while they stay the same; an
 * arrival (call after it is linked); forget the page (a departure, a status
 * change, the room freed). */
void ib__room_page_reply(ib_pending_t *p, ib_room_t *r, size_t limit, json_t *fields);
void ib__room_page_joined(ib_room_t *r);
void ib__room_page_drop(ib_room_t *r);
void ib__cluster_attach(ib_server_t *srv);
void ib__cluster_event_new(ib_event_t *ev);
void ib__cluster_event_gone(ib_event_t *ev);
/* u became (state "joined") or stopped being ("left") a member of r on
 * this node, or changed status ("updated"): tell the other nodes. */
void ib__cluster_member(ib_room_t *r, const ib_user_t *u, const char *state);
/* Send buf to the other nodes' sessions as described by hdr (stolen). */
void ib__cluster_publish(ib_event_t *ev, json_t *hdr, ib_buf_t *buf);
/* Read r's remote members (a join waits for it when waiter is given). */
void ib__cluster_room_load(ib_room_t *r, bool emit);
void ib__cluster_room_wait(ib_room_t *r, ib_pending_t *waiter);
void ib__cluster_room_free(ib_room_t *r);
/* Put user's sessions (on whichever node they are, this one included) in
 * server-made room `room` (made where missing, open to the ids of `allow`,
 * an array) after taking them out of the other rooms whose id starts with
 * `leave` (when not NULL; room may be NULL to leave only), then send them
 * buf (may be NULL). */
void ib__cluster_room_put(ib_event_t *ev, const char *room, const char *leave, const char *user,
                          json_t *allow, ib_buf_t *buf);
/* The rooms whose id starts with prefix end on the other nodes (their
 * members are taken out without a word). */
void ib__cluster_rooms_close(ib_event_t *ev, const char *prefix);
/* Resume records: write s's, or forget token. */
void ib__cluster_resume_dirty(ib_session_t *s);
void ib__cluster_resume_forget(ib_session_t *s, const char *token);
void ib__cluster_leaving(ib_server_t *srv);
/* A hello with a resume token unknown here: ask the store. Returns 0 when
 * the answer will come later (hello completes then), nonzero to go on as a
 * fresh session now. */
int ib__cluster_hello_resume(ib_req_t *req, ib_claims_t *c, const char *resume, int64_t expires);

/* Local delivery only (room.c): to the sessions of r's local members except
 * user `except` and except members who blocked `from` (each may be NULL). */
void ib__room_send_local(ib_room_t *r, ib_buf_t *buf, const char *except, const char *from);
/* Presence event of user (JSON) in r to local members, crowd rule applied. */
void ib__room_presence_json(ib_room_t *r, json_t *user, const char *state);
/* A join waiting for the room's remote members: answer it now. */
void ib__join_finish(ib_pending_t *p);
/* Hello (session.c): make s a live session of the claims' user (fresh). */
int ib__session_start(ib_session_t *s, const ib_claims_t *c, int64_t expires);
/* Finish a hello: new resume token, ok reply (resumed or not). */
void ib__hello_reply(ib_session_t *s, const json_t *id, bool resumed, int64_t now);
/* Keep a message received during an asynchronous hello (true: kept). */
bool ib__session_defer(ib_session_t *s, const char *data, size_t len, bool binary);
/* Replay the messages received during an asynchronous hello. */
void ib__session_replay(ib_session_t *s, int64_t now);

/* Users */
ib_user_t *ib__user_attach(ib_event_t *ev, const ib_claims_t *c, ib_session_t *s);
void ib__user_detach(ib_user_t *u, ib_session_t *s);

#define IB_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
