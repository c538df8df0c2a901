/*
 * Speed networking across nodes: the round clock survives a node's death.
 *
 * One node drives each session: it holds the session's lease in the store
 * (renewed every second, free after IB_SN_LEASE_TTL_MS without renewal;
 * each change of holder gets a larger fencing token) and runs its
 * scheduler. After every change it writes the whole session (ib__sn_
 * session_to_json: phase, clock, groups, who met whom, feedback) as the
 * lease's document, at once on a change of phase or round and at most
 * once a second otherwise; a write with a stale token is refused by the
 * store, so a node that lost its lease cannot overwrite its successor.
 *
 * Every other node serving the event keeps a stub of the session (id,
 * lounge, host, the driving node and its last sn.state), learnt from the
 * driver's "sn" messages or from the store's list when the event appears
 * on the node. A stub forwards its clients' verbs to the driver ("sq") and
 * hands the answer back ("sa"); the driver's events reach participants on
 * any node through the user, room and server-made room messages of
 * cluster.c. Each stub asks for the lease once a second: while the driver
 * lives it is refused (and learns who drives); once the driver is gone the
 * first stub to ask gets it, reads the document and takes over: the pair:
 * rooms of the running round are made again with the same ids, the clock
 * continues from the saved deadline, and the met-pairs history keeps
 * everyone from meeting a past partner.
 *
 * Messages (cluster.c's bus; "n" is the sending node):
 *   "sn"  {id, lounge, host, st}: the session and its state, from its driver
 *   "sq"  {to, q, sn, v, u, m}: verb v of user u (message m) for the driver
 *   "sa"  {to, q, rc, why, f}: the driver's answer to request q
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "icebreaker/ib_sn.h"
#include "sn_internal.h"

#define IB_SN_LEASE_TTL_MS 5000
#define IB_SN_LEASE_EVERY_MS 1000
#define IB_SN_SAVE_EVERY_MS 1000
#define IB_SN_FORWARD_MS 5000
#define IB_SN_LEASE_MARGIN_MS 1000 /* clocks of the nodes and Redis, round trips */
#define IB_SN_STUBS_MAX 64

static bool cluster_on(const ib_server_t *srv)
{
    return ib__cluster(srv) && srv->store->ops->lease;
}

static void doc_name(char *out, size_t n, const char *id)
{
    snprintf(out, n, "sn:%s", id);
}

/* A store call's ticket: the session is looked up again when the answer
 * comes, since it may be gone by then. */
typedef struct ticket {
    ib_server_t *srv;
    char ev[IB_ID_MAX + 1];
    char sn[IB_ID_MAX + 1];
    uint64_t fence;
    int64_t sent;
} ticket_t;

static ticket_t *ticket_new(ib_server_t *srv, const char *ev, const char *sn)
{
    ticket_t *t = calloc(1, sizeof(*t));
    if (t) {
        t->srv = srv;
        snprintf(t->ev, sizeof(t->ev), "%s", ev);
        snprintf(t->sn, sizeof(t->sn), "%s", sn ? sn : "");
    }
    return t;
}

static ib_sn_t *ticket_sn(const ticket_t *t)
{
    ib_event_t *ev = ib_event_get(t->srv, t->ev, false);
    return ev ? ib_map_get(&ev->sn, t->sn) : NULL;
}

/* --- the driver: lease and saves --- */

static void lease_call(ib_sn_t *sn, int64_t now);
static void save(ib_sn_t *sn, int64_t now);

static json_t *meta_json(const ib_sn_t *sn)
{
    return json_pack("{s:s,s:s,s:s,s:O?}", "lounge", sn->lounge, "host", sn->host, "node",
                     sn->ev->srv->node_id, "st", sn->st);
}

static void save_done(void *arg, int err, uint64_t unused)
{
    (void)unused;
    ticket_t *t = arg;
    ib_sn_t *sn = ticket_sn(t);
    ib_server_t *srv = t->srv;
    uint64_t fence = t->fence;
    free(t);
    if (!sn || sn->stub)
        return;
    sn->save_busy = false;
    if (err == IB_ECONFLICT && sn->fence == fence) {
        /* The lease is not ours any more: ask again (and give the session
         * up if another node holds it). */
        sn->fence = 0;
        sn->lease_until = 0;
        sn->dirty = sn->urgent = true;
        lease_call(sn, srv->now);
    } else if (err) {
        sn->dirty = true;
    } else if (sn->dirty && sn->urgent) {
        save(sn, srv->now); /* changed again while this one was written */
    } else if (srv->draining && sn->fence == fence && !sn->dirty) {
        /* Saved for the next driver: let it take over now rather than
         * after the lease runs out. */
        char name[IB_ID_MAX + 8];
        doc_name(name, sizeof(name), sn->id);
        srv->store->ops->lease_release(srv->store, sn->ev->id, name, fence);
        sn->fence = 0;
    }
}

static void save(ib_sn_t *sn, int64_t now)
{
    ib_server_t *srv = sn->ev->srv;
    json_t *doc = ib__sn_session_to_json(sn);
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    json_t *meta = meta_json(sn);
    ticket_t *t = text && meta ? ticket_new(srv, sn->ev->id, sn->id) : NULL;
    char name[IB_ID_MAX + 8];
    doc_name(name, sizeof(name), sn->id);
    if (t) {
        t->fence = sn->fence;
        sn->save_busy = true;
        sn->dirty = sn->urgent = false;
        sn->saved_at = now;
        if (srv->store->ops->doc_put(srv->store, sn->ev->id, name, sn->fence, text, strlen(text),
                                     meta, save_done, t)) {
            sn->save_busy = false;
            sn->dirty = true;
            free(t);
        }
    }
    free(text);
    json_decref(meta);
}

/* --- taking over --- */

static void takeover_done(void *arg, int err, json_t *doc)
{
    ticket_t *t = arg;
    ib_server_t *srv = t->srv;
    ib_sn_t *stub = ticket_sn(t);
    char name[IB_ID_MAX + 8];
    doc_name(name, sizeof(name), t->sn);
    if (!stub || !stub->stub) {
        free(t);
        return;
    }
    stub->lease_busy = false;
    if (err || !json_is_object(doc)) {
        /* Nothing to continue from (never saved, or unreadable). */
        if (!err)
            srv->store->ops->lease_release(srv->store, t->ev, name, t->fence);
        free(t);
        return;
    }
    ib_event_t *ev = stub->ev;
    ib_map_del(&ev->sn, stub->id);
    ib_sn_t *sn = NULL;
    int rc = ib__sn_session_from_json(ev, doc, &sn);
    if (rc) {
        ib_map_put(&ev->sn, stub->id, stub);
        srv->store->ops->lease_release(srv->store, t->ev, name, t->fence);
        free(t);
        return;
    }
    snprintf(sn->owner, sizeof(sn->owner), "%s", srv->node_id);
    sn->fence = t->fence;
    sn->lease_at = srv->now;
    sn->leased_once = true;
    sn->lease_until = t->sent + IB_SN_LEASE_TTL_MS - IB_SN_LEASE_MARGIN_MS;
    sn->st = json_incref(stub->st);
    ib__sn_free(stub);
    ib__sn_pin_lounge(sn, true);
    /* The others learn who drives it now. */
    json_t *st = ib__sn_state_json(sn, srv->now);
    ib__sn_cluster_state(sn, st);
    json_decref(st);
    /* Participants who resumed here while this node was a stub asked the
     * old driver for their match, which it no longer answered (it was
     * handing over): give the match again to those connected here. */
    ib_sched_phase_t ph = ib_sched_phase(sn->sched);
    const char *k;
    void *v;
    for (size_t i = 0;
         (ph == IB_SCHED_ROUND || ph == IB_SCHED_PAUSED) && ib_map_next(&sn->people, &i, &k, &v);) {
        ib_sn_person_t *p = v;
        ib_user_t *u =
            p->match && p->round == ib_sched_round(sn->sched) ? ib_user_find(ev, p->id) : NULL;
        for (ib_session_t *s = u ? u->sessions : NULL; s; s = s->unext)
            if (s->conn)
                ib_session_send_json(s, json_incref(p->match));
    }
    free(t);
}

/* --- lease --- */

static void lease_done(void *arg, int err, uint64_t fence, const char *holder)
{
    ticket_t *t = arg;
    ib_server_t *srv = t->srv;
    ib_sn_t *sn = ticket_sn(t);
    if (!sn) {
        if (!err) {
            char name[IB_ID_MAX + 8];
            doc_name(name, sizeof(name), t->sn);
            srv->store->ops->lease_release(srv->store, t->ev, name, fence);
        }
        free(t);
        return;
    }
    if (err == IB_ECONFLICT && holder) {
        sn->lease_busy = false;
        snprintf(sn->owner, sizeof(sn->owner), "%s", holder);
        sn->heard_at = srv->now;
        if (!sn->stub)
            ib__sn_make_stub(sn);
        free(t);
        return;
    }
    if (err) {
        sn->lease_busy = false;
        free(t);
        return;
    }
    if (!sn->stub) {
        sn->lease_busy = false;
        sn->leased_once = true;
        sn->lease_until = t->sent + IB_SN_LEASE_TTL_MS - IB_SN_LEASE_MARGIN_MS;
        if (sn->fence != fence) {
            /* Taken again after losing it: our state is the one to keep. */
            sn->fence = fence;
            sn->dirty = sn->urgent = true;
        }
        free(t);
        return;
    }
    /* A stub got the lease: its driver is gone. Continue from the
     * document (lease_busy stays set until then). */
    t->fence = fence;
    char name[IB_ID_MAX + 8];
    doc_name(name, sizeof(name), sn->id);
    if (srv->store->ops->doc_get(srv->store, t->ev, name, takeover_done, t)) {
        sn->lease_busy = false;
        free(t);
    }
}

static void lease_call(ib_sn_t *sn, int64_t now)
{
    ib_server_t *srv = sn->ev->srv;
    if (sn->lease_busy)
        return;
    ticket_t *t = ticket_new(srv, sn->ev->id, sn->id);
    if (!t)
        return;
    char name[IB_ID_MAX + 8];
    doc_name(name, sizeof(name), sn->id);
    sn->lease_at = now;
    t->sent = now;
    sn->lease_busy = true;
    if (srv->store->ops->lease(srv->store, sn->ev->id, name, IB_SN_LEASE_TTL_MS, lease_done, t)) {
        sn->lease_busy = false;
        free(t);
    }
}

void ib__sn_cluster_created(ib_sn_t *sn, int64_t now)
{
    ib_server_t *srv = sn->ev->srv;
    if (!cluster_on(srv))
        return;
    snprintf(sn->owner, sizeof(sn->owner), "%s", srv->node_id);
    ib__sn_pin_lounge(sn, true);
    sn->dirty = sn->urgent = true;
    lease_call(sn, now);
}

void ib__sn_cluster_changed(ib_sn_t *sn, bool urgent)
{
    if (!cluster_on(sn->ev->srv) || sn->stub)
        return;
    sn->dirty = true;
    sn->urgent |= urgent;
    /* A new phase or round is written at once, in the same turn of the
     * loop as the messages that announce it. */
    if (urgent && sn->fence && !sn->save_busy)
        save(sn, sn->ev->srv->now);
}

void ib__sn_cluster_state(ib_sn_t *sn, json_t *st)
{
    ib_server_t *srv = sn->ev->srv;
    if (!cluster_on(srv) || sn->stub)
        return;
    json_decref(sn->st);
    sn->st = json_deep_copy(st);
    json_object_del(sn->st, "server_time");
    ib__cluster_publish(sn->ev,
                        json_pack("{s:s,s:s,s:s,s:s,s:O}", "k", "sn", "id", sn->id, "lounge",
                                  sn->lounge, "host", sn->host, "st", sn->st),
                        NULL);
}

void ib__sn_cluster_tick(ib_sn_t *sn, int64_t now)
{
    if (!cluster_on(sn->ev->srv))
        return;
    if (now - sn->lease_at >= IB_SN_LEASE_EVERY_MS && !sn->ev->srv->draining)
        lease_call(sn, now);
    if (!sn->stub && sn->fence && sn->dirty && !sn->save_busy &&
        (sn->urgent || now - sn->saved_at >= IB_SN_SAVE_EVERY_MS))
        save(sn, now);
}

bool ib__sn_cluster_may_drive(const ib_sn_t *sn, int64_t now)
{
    /* Once leased, never past the lease without a renewal: after a stall,
     * or while Redis cannot be reached, another node may hold it (the
     * clock waits; a deadline passed meanwhile is handled on renewal). */
    return !cluster_on(sn->ev->srv) || !sn->leased_once || now < sn->lease_until;
}

void ib__sn_cluster_drain(ib_server_t *srv)
{
    if (!cluster_on(srv))
        return;
    const char *ek, *k;
    void *ev, *v;
    for (size_t i = 0; ib_map_next(&srv->events, &i, &ek, &ev);)
        for (size_t j = 0; ib_map_next(&((ib_event_t *)ev)->sn, &j, &k, &v);) {
            ib_sn_t *sn = v;
            if (sn->stub || !sn->fence)
                continue;
            if (sn->save_busy) {
                sn->dirty = true; /* saved again when the write in flight is done */
                continue;
            }
            sn->dirty = true;
            save(sn, srv->now);
        }
}

/* --- stubs --- */

static ib_sn_t *stub_get(ib_event_t *ev, const char *id, const char *lounge, const char *host)
{
    ib_sn_t *sn = ib_map_get(&ev->sn, id);
    if (sn)
        return sn;
    if (!ib_id_valid(id) || strlen(id) > 40 || !lounge || ib_room_kind(lounge) != IB_ROOM_LOUNGE ||
        !host || !ib_id_valid(host) || ev->sn.count >= IB_SN_STUBS_MAX)
        return NULL;
    sn = ib__sn_alloc(ev, id, lounge, host);
    if (!sn)
        return NULL;
    sn->stub = true;
    /* A new stub waits a lease period before asking for the lease: the
     * driver of a session just heard of holds it already. */
    sn->lease_at = ev->srv->now;
    if (ib_map_put(&ev->sn, sn->id, sn)) {
        ib__sn_free(sn);
        return NULL;
    }
    return sn;
}

static void stub_heard(ib_sn_t *sn, const char *node, json_t *st)
{
    if (!sn->stub)
        return;
    if (node)
        snprintf(sn->owner, sizeof(sn->owner), "%s", node);
    sn->heard_at = sn->ev->srv->now;
    if (json_is_object(st)) {
        json_decref(sn->st);
        sn->st = json_deep_copy(st);
    }
}

static int publish_request(ib_sn_t *sn, const ib_user_t *u, const char *verb, json_t *msg,
                           uint64_t q);

/* A session this node hears of only now (it came to serve the event, or
 * a client resumed here from another node): its lounge members here get
 * the state, and the driver puts its participants among them back in
 * their pair: rooms with their match. */
static void stub_greet(ib_sn_t *sn)
{
    ib_room_t *lounge = ib_room_get(sn->ev, sn->lounge, false);
    if (!lounge || !sn->st)
        return;
    for (ib_member_t *m = lounge->first; m; m = m->next) {
        for (ib_session_t *s = m->user->sessions; s; s = s->unext)
            if (s->state == IB_SESSION_LIVE && ib_session_in_room(s, lounge))
                ib_session_send_json(s, ib__sn_state_json(sn, sn->ev->srv->now));
        if (sn->owner[0])
            publish_request(sn, m->user, "sync", NULL, 0);
    }
}

static void list_done(void *arg, int err, json_t *docs)
{
    ticket_t *t = arg;
    ib_event_t *ev = ib_event_get(t->srv, t->ev, false);
    free(t);
    if (err || !ev || !json_is_object(docs))
        return;
    const char *name;
    json_t *meta;
    json_object_foreach(docs, name, meta)
    {
        if (strncmp(name, "sn:", 3) || ib_map_get(&ev->sn, name + 3))
            continue;
        ib_sn_t *sn = stub_get(ev, name + 3, json_string_value(json_object_get(meta, "lounge")),
                               json_string_value(json_object_get(meta, "host")));
        if (!sn)
            continue;
        stub_heard(sn, json_string_value(json_object_get(meta, "node")),
                   json_object_get(meta, "st"));
        stub_greet(sn);
    }
}

void ib__sn_cluster_event_new(ib_event_t *ev)
{
    ib_server_t *srv = ev->srv;
    if (!cluster_on(srv))
        return;
    ticket_t *t = ticket_new(srv, ev->id, NULL);
    if (t && srv->store->ops->doc_list(srv->store, ev->id, list_done, t))
        free(t);
}

/* --- forwarding --- */

typedef struct waiter {
    ib_pending_t *p;    /* a client's verb, or: */
    ib_sn_report_cb cb; /* an HTTP report */
    void *cb_arg;
    int64_t deadline;
    char key[24];
} waiter_t;

static json_t *actor_json(const ib_user_t *u)
{
    if (!u) /* the HTTP API */
        return json_pack("{s:s,s:s}", "id", "http", "name", "http");
    return json_pack("{s:s,s:s,s:s?,s:O?}", "id", u->id, "name", u->name, "headline", u->headline,
                     "profile", u->profile);
}

static int publish_request(ib_sn_t *sn, const ib_user_t *u, const char *verb, json_t *msg,
                           uint64_t q)
{
    ib_server_t *srv = sn->ev->srv;
    json_t *hdr = json_pack("{s:s,s:s,s:I,s:s,s:s,s:o,s:O?}", "k", "sq", "to", sn->owner, "q",
                            (json_int_t)q, "sn", sn->id, "v", verb, "u", actor_json(u), "m", msg);
    if (!hdr)
        return IB_ENOMEM;
    int rc = srv->store->ops->publish(srv->store, sn->ev->id, hdr, NULL, 0);
    json_decref(hdr);
    return rc;
}

/* Register w under a new request number and send the request to the
 * driver: 0, or IB_ENOMEM / IB_EUNAVAIL with w not registered (the caller
 * disposes of it). */
static int waiter_send(ib_sn_t *sn, waiter_t *w, const ib_user_t *u, const char *verb, json_t *msg,
                       int64_t now)
{
    ib_server_t *srv = sn->ev->srv;
    uint64_t q = ++srv->sn_q;
    snprintf(w->key, sizeof(w->key), "%llu", (unsigned long long)q);
    w->deadline = now + IB_SN_FORWARD_MS;
    if (ib_map_put(&srv->sn_wait, w->key, w))
        return IB_ENOMEM;
    if (publish_request(sn, u, verb, msg, q)) {
        ib_map_del(&srv->sn_wait, w->key);
        return IB_EUNAVAIL;
    }
    return 0;
}

int ib__sn_forward(ib_req_t *req, ib_sn_t *sn, const char *verb)
{
    ib_server_t *srv = req->s->srv;
    if (!cluster_on(srv) || !sn->owner[0]) {
        req->why = "the node running this session cannot be reached";
        return IB_EUNAVAIL;
    }
    waiter_t *w = calloc(1, sizeof(*w));
    if (!w || !(w->p = ib__pending_new(req))) {
        free(w);
        return IB_ENOMEM;
    }
    int rc = waiter_send(sn, w, req->s->user, verb, req->m->msg, req->now);
    if (rc) {
        ib__pending_error(
            w->p, rc, rc == IB_EUNAVAIL ? "the node running this session cannot be reached" : NULL);
        free(w);
    }
    return 0;
}

void ib__sn_cluster_expire(ib_server_t *srv, int64_t now)
{
    if (!srv->sn_wait.count)
        return;
    const char *k;
    void *v;
    for (size_t i = 0; ib_map_next(&srv->sn_wait, &i, &k, &v);) {
        waiter_t *w = v;
        if (now < w->deadline)
            continue;
        ib_map_del(&srv->sn_wait, w->key);
        if (w->p)
            ib__pending_error(w->p, IB_EUNAVAIL, "the node running this session did not answer");
        else
            w->cb(w->cb_arg, NULL);
        free(w);
        i = 0; /* the map changed: start over (few waiters) */
    }
}

void ib__sn_cluster_free(ib_server_t *srv)
{
    const char *k;
    void *v;
    for (size_t i = 0; ib_map_next(&srv->sn_wait, &i, &k, &v);) {
        waiter_t *w = v;
        if (w->p) {
            ib__session_release(w->p->s);
            json_decref(w->p->id);
            free(w->p);
        } else {
            w->cb(w->cb_arg, NULL);
        }
        free(w);
    }
    ib_map_free(&srv->sn_wait);
}

void ib__sn_cluster_resumed(ib_sn_t *sn, ib_session_t *s, int64_t now)
{
    ib_room_t *lounge = ib_room_get(s->ev, sn->lounge, false);
    if (sn->st && lounge && ib_session_in_room(s, lounge))
        ib_session_send_json(s, ib__sn_state_json(sn, now));
    /* The driver knows whether s's user takes part: it resends their
     * match and puts them back in their pair: room (q 0: no answer). */
    if (sn->owner[0] && cluster_on(s->srv))
        publish_request(sn, s->user, "sync", NULL, 0);
}

/* The driver's side of a forwarded verb. */
typedef struct answer {
    ib_event_t *ev;
    const char *to;
    json_int_t q;
    bool sent;
} answer_t;

static void answer(answer_t *a, int rc, const char *why, json_t *fields)
{
    a->sent = true;
    if (!a->q) {
        json_decref(fields);
        return;
    }
    json_t *hdr = json_pack("{s:s,s:s,s:I,s:i,s:s?,s:o?}", "k", "sa", "to", a->to, "q", a->q, "rc",
                            rc, "why", why, "f", fields);
    ib__cluster_publish(a->ev, hdr, NULL);
}

static void answer_ok(void *ctx, json_t *fields)
{
    answer(ctx, 0, NULL, fields);
}

static void on_request(ib_event_t *ev, json_t *hdr)
{
    ib_server_t *srv = ev->srv;
    const char *to = json_string_value(json_object_get(hdr, "to"));
    const char *from = json_string_value(json_object_get(hdr, "n"));
    const char *id = json_string_value(json_object_get(hdr, "sn"));
    const char *verb = json_string_value(json_object_get(hdr, "v"));
    json_t *u = json_object_get(hdr, "u");
    if (!to || strcmp(to, srv->node_id) || !from || !id || !verb || !json_is_object(u))
        return;
    answer_t a = {ev, from, json_integer_value(json_object_get(hdr, "q")), false};
    ib_sn_t *sn = ib_map_get(&ev->sn, id);
    ib_sn_actor_t who = {
        json_string_value(json_object_get(u, "id")), json_string_value(json_object_get(u, "name")),
        json_string_value(json_object_get(u, "headline")), json_object_get(u, "profile")};
    if (!who.id || !who.name || !ib_id_valid(who.id)) {
        answer(&a, IB_EBADREQ, "malformed request", NULL);
        return;
    }
    if (!sn || sn->stub || srv->draining || !ib__sn_cluster_may_drive(sn, srv->now)) {
        answer(&a, IB_EUNAVAIL, "the session moved to another node: try again", NULL);
        return;
    }
    const char *why = NULL;
    json_t *msg = json_object_get(hdr, "m");
    int rc = ib__sn_verb(sn, verb, &who, json_is_object(msg) ? msg : NULL, srv->now, &why,
                         answer_ok, &a);
    if (rc && !a.sent)
        answer(&a, rc, why, NULL);
}

static void on_answer(ib_server_t *srv, json_t *hdr)
{
    const char *to = json_string_value(json_object_get(hdr, "to"));
    if (!to || strcmp(to, srv->node_id))
        return;
    char key[24];
    snprintf(key, sizeof(key), "%lld", (long long)json_integer_value(json_object_get(hdr, "q")));
    waiter_t *w = ib_map_get(&srv->sn_wait, key);
    if (!w)
        return;
    ib_map_del(&srv->sn_wait, w->key);
    int rc = (int)json_integer_value(json_object_get(hdr, "rc"));
    if (!w->p) {
        json_t *f = json_object_get(hdr, "f");
        w->cb(w->cb_arg, rc == 0 && json_is_object(f) ? json_object_get(f, "report") : NULL);
    } else if (rc == 0) {
        json_t *f = json_object_get(hdr, "f");
        ib__pending_ok(w->p, json_is_object(f) ? json_incref(f) : NULL);
    } else {
        ib__pending_error(w->p, rc, json_string_value(json_object_get(hdr, "why")));
    }
    free(w);
}

void ib__sn_cluster_message(ib_event_t *ev, const char *k, json_t *hdr)
{
    if (!cluster_on(ev->srv))
        return;
    if (!strcmp(k, "sn")) {
        const char *id = json_string_value(json_object_get(hdr, "id"));
        ib_sn_t *sn = id ? stub_get(ev, id, json_string_value(json_object_get(hdr, "lounge")),
                                    json_string_value(json_object_get(hdr, "host")))
                         : NULL;
        if (sn)
            stub_heard(sn, json_string_value(json_object_get(hdr, "n")),
                       json_object_get(hdr, "st"));
    } else if (!strcmp(k, "sq")) {
        on_request(ev, hdr);
    } else if (!strcmp(k, "sa")) {
        on_answer(ev->srv, hdr);
    }
}

int ib_sn_report_async(ib_server_t *srv, const char *event, const char *id, ib_sn_report_cb cb,
                       void *arg)
{
    ib_event_t *ev = cluster_on(srv) ? ib_event_get(srv, event, false) : NULL;
    ib_sn_t *sn = ev ? ib_map_get(&ev->sn, id) : NULL;
    if (!sn || !sn->stub || !sn->owner[0])
        return -1;
    waiter_t *w = calloc(1, sizeof(*w));
    if (!w)
        return -1;
    w->cb = cb;
    w->cb_arg = arg;
    if (waiter_send(sn, w, NULL, "report", NULL, srv->now)) {
        free(w);
        return -1;
    }
    return 0;
}
