/*
 * Sessions: the life of one client from its connection to the end of its
 * grace period, and the node-wide timers that bound each stage.
 *
 *   accept -> HELLO --hello ok--> LIVE --conn lost--> DETACHED --grace--> DEAD
 *                                   ^----- hello with resume ----'
 *
 * Each timed stage keeps its sessions in a list ordered by deadline (all
 * sessions of a stage get the same duration, so appending keeps the order)
 * and the tick pops expired heads: no per-session timer handles. A dead
 * session is unlinked from everything at once but freed only by the reaper,
 * when no asynchronous operation holds it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core_internal.h"

enum { TL_NONE = 0, TL_HELLO, TL_GRACE, TL_CLOSING };

/* Close deadline: a client that does not let its close frame through in
 * this time is dropped. */
#define IB_CLOSE_DEADLINE_MS 5000

static void tl_heads(ib_server_t *srv, int which, ib_session_t ***head, ib_session_t ***tail)
{
    switch (which) {
    case TL_HELLO:
        *head = &srv->hello_head, *tail = &srv->hello_tail;
        break;
    case TL_GRACE:
        *head = &srv->grace_head, *tail = &srv->grace_tail;
        break;
    default:
        *head = &srv->closing_head, *tail = &srv->closing_tail;
        break;
    }
}

static void tl_remove(ib_session_t *s)
{
    ib_session_t **head, **tail;
    if (s->tlist == TL_NONE)
        return;
    tl_heads(s->srv, s->tlist, &head, &tail);
    if (s->tprev)
        s->tprev->tnext = s->tnext;
    else
        *head = s->tnext;
    if (s->tnext)
        s->tnext->tprev = s->tprev;
    else
        *tail = s->tprev;
    s->tprev = s->tnext = NULL;
    s->tlist = TL_NONE;
}

static void tl_append(ib_session_t *s, int which, int64_t deadline)
{
    ib_session_t **head, **tail;
    tl_remove(s);
    tl_heads(s->srv, which, &head, &tail);
    s->deadline = deadline;
    s->tlist = which;
    s->tprev = *tail;
    s->tnext = NULL;
    if (*tail)
        (*tail)->tnext = s;
    else
        *head = s;
    *tail = s;
}

static void new_token(ib_server_t *srv, char *out, size_t hexlen)
{
    unsigned char raw[64];
    static const char hex[] = "0123456789abcdef";
    srv->tr.random(srv->tr.ctx, raw, hexlen / 2);
    for (size_t i = 0; i < hexlen / 2; i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[hexlen] = 0;
}

ib_session_t *ib_server_accept(ib_server_t *srv, void *conn, int64_t now)
{
    const ib_config_t *cfg = srv->cfg;
    ib_session_t *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->srv = srv;
    s->conn = conn;
    s->state = IB_SESSION_HELLO;
    ib_sendq_init(&s->q, (uint32_t)cfg->sendq_msgs, (size_t)cfg->sendq_bytes);
    ib_ratelimit_init(&s->rl, (uint32_t)cfg->rate, (uint32_t)cfg->burst,
                      (uint32_t)cfg->abuse_refusals, (uint32_t)cfg->abuse_window_ms, (uint64_t)now);
    new_token(srv, s->id, IB_SESSION_ID_LEN);
    s->anext = srv->all;
    if (srv->all)
        srv->all->aprev = s;
    srv->all = s;
    tl_append(s, TL_HELLO, now + cfg->hello_timeout_ms);
    srv->n_connections++;
    srv->metrics.connections_total++;
    return s;
}

/* Take s out of everything and queue it for the reaper. Presence: its
 * rooms hear `left` for users who go with it, unless the node is draining
 * (then every session goes and nobody is left to tell). */
static void session_kill(ib_session_t *s)
{
    ib_server_t *srv = s->srv;
    if (s->state == IB_SESSION_DEAD)
        return;
    json_decref(s->deferred);
    s->deferred = NULL;
    if (s->user) {
        /* A draining node keeps its resume records: its clients resume on
         * another node. */
        if (!srv->draining)
            ib__cluster_resume_forget(s, s->resume);
        ib_map_del(&srv->resumes, s->resume);
        s->resume[0] = 0; /* no record written again while leaving */
        ib__session_leave_all(s);
        ib__user_detach(s->user, s);
        s->user = NULL;
        srv->n_sessions--;
        s->ev->n_sessions--;
    }
    free(s->rooms);
    s->rooms = NULL;
    s->n_rooms = s->cap_rooms = s->n_capped = 0;
    tl_remove(s);
    if (s->aprev)
        s->aprev->anext = s->anext;
    else
        srv->all = s->anext;
    if (s->anext)
        s->anext->aprev = s->aprev;
    s->aprev = s->anext = NULL;
    ib_sendq_clear(&s->q);
    if (s->conn) {
        srv->n_connections--;
        srv->tr.bind(srv->tr.ctx, s->conn, NULL);
        s->conn = NULL;
    }
    if (s->ev) {
        ib_event_t *ev = s->ev;
        s->ev = NULL;
        ib_event_maybe_free(ev);
    }
    s->state = IB_SESSION_DEAD;
    s->tnext = srv->dead;
    srv->dead = s;
}

void ib__session_end(ib_session_t *s)
{
    session_kill(s);
}

void ib__session_hold(ib_session_t *s)
{
    s->holds++;
}

void ib__session_release(ib_session_t *s)
{
    s->holds--;
}

static void reap(ib_server_t *srv)
{
    ib_session_t **p = &srv->dead;
    while (*p) {
        ib_session_t *s = *p;
        if (s->holds) {
            p = &s->tnext;
            continue;
        }
        *p = s->tnext;
        free(s);
    }
}

void ib_session_send(ib_session_t *s, ib_buf_t *buf)
{
    if (!s->conn || s->close_code || s->state == IB_SESSION_DEAD)
        return;
    bool was_empty = s->q.count == 0;
    /* Nothing queued: try the socket first. Most deliveries then cost one
     * send and no poll changes (asking for a writable callback toggles
     * POLLOUT twice per message). */
    if (was_empty && s->srv->tr.write_now &&
        s->srv->tr.write_now(s->srv->tr.ctx, s->conn, buf) == 0) {
        s->srv->metrics.messages_out++;
        s->srv->metrics.bytes_out += buf->len;
        return;
    }
    int rc = ib_sendq_push(&s->q, buf);
    if (rc == IB_EFULL) {
        s->srv->metrics.sendq_drops++;
        ib_session_close(s, IB_CLOSE_SLOW, "send queue full", true);
        return;
    }
    if (rc)
        return;
    s->srv->metrics.messages_out++;
    s->srv->metrics.bytes_out += buf->len;
    if (was_empty)
        s->srv->tr.want_write(s->srv->tr.ctx, s->conn);
}

void ib_session_send_json(ib_session_t *s, json_t *v)
{
    if (!v)
        return;
    ib_buf_t *b = ib_buf_from_json(v);
    json_decref(v);
    if (!b)
        return;
    ib_session_send(s, b);
    ib_buf_unref(b);
}

void ib_session_close(ib_session_t *s, int code, const char *reason, bool clear_queue)
{
    if (s->close_code || s->state == IB_SESSION_DEAD)
        return;
    s->close_code = code;
    s->close_reason = reason;
    ib_metrics_close(s->srv, code);
    if (clear_queue)
        ib_sendq_clear(&s->q);
    if (!s->conn)
        return;
    tl_append(s, TL_CLOSING, s->srv->now + IB_CLOSE_DEADLINE_MS);
    s->srv->tr.want_write(s->srv->tr.ctx, s->conn);
}

ib_buf_t *ib_session_peek(ib_session_t *s)
{
    return ib_sendq_peek(&s->q);
}

void ib_session_pop(ib_session_t *s)
{
    ib_sendq_pop(&s->q);
}

bool ib_session_in_room(const ib_session_t *s, const ib_room_t *r)
{
    for (uint16_t i = 0; i < s->n_rooms; i++)
        if (s->rooms[i] == r)
            return true;
    return false;
}

static bool room_capped(const ib_room_t *r)
{
    return r->kind == IB_ROOM_LOUNGE || r->kind == IB_ROOM_BOOTH;
}

int ib__session_add_room(ib_session_t *s, ib_room_t *r)
{
    if (room_capped(r) && s->n_capped >= s->srv->cfg->max_rooms)
        return IB_ECONFLICT;
    if (s->n_rooms == s->cap_rooms) {
        uint16_t cap = s->cap_rooms ? (uint16_t)(s->cap_rooms * 2) : 4;
        ib_room_t **rooms = realloc(s->rooms, cap * sizeof(*rooms));
        if (!rooms)
            return IB_ENOMEM;
        s->rooms = rooms;
        s->cap_rooms = cap;
    }
    s->rooms[s->n_rooms++] = r;
    if (room_capped(r))
        s->n_capped++;
    ib__cluster_resume_dirty(s);
    return 0;
}

void ib__session_del_room(ib_session_t *s, ib_room_t *r)
{
    for (uint16_t i = 0; i < s->n_rooms; i++)
        if (s->rooms[i] == r) {
            s->rooms[i] = s->rooms[--s->n_rooms];
            if (room_capped(r))
                s->n_capped--;
            ib__cluster_resume_dirty(s);
            return;
        }
}

void ib__session_leave_all(ib_session_t *s)
{
    bool announce = !s->srv->draining;
    while (s->n_rooms) {
        ib_room_t *r = s->rooms[s->n_rooms - 1];
        r->pins++; /* keep r alive through the presence event */
        if (ib_room_exit(r, s) == 1) {
            if (announce)
                ib_room_presence(r, s->user, "left");
            ib__room_left(r, s->user, s->srv->now);
        }
        r->pins--;
        ib_room_maybe_free(r);
    }
}

void ib_session_disconnected(ib_session_t *s, int64_t now)
{
    ib_server_t *srv = s->srv;
    srv->now = now;
    if (s->conn) {
        srv->n_connections--;
        s->conn = NULL;
    }
    ib_sendq_clear(&s->q);
    /* Sessions closed for cause, or never authenticated, end now; the
     * others may come back within the grace period. */
    bool for_cause = s->close_code == IB_CLOSE_AUTH || s->close_code == IB_CLOSE_POLICY ||
                     s->close_code == IB_CLOSE_HELLO_TIMEOUT;
    if (s->state != IB_SESSION_LIVE || for_cause || srv->draining || srv->cfg->grace_ms == 0) {
        session_kill(s);
        return;
    }
    s->state = IB_SESSION_DETACHED;
    s->close_code = 0;
    s->close_reason = NULL;
    tl_append(s, TL_GRACE, now + srv->cfg->grace_ms);
    ib__booth_user_live(s->user);
}

/* Resume: the detached (or still attached) session `old` takes over the
 * connection of the fresh session s, which dies unseen. */
static void session_adopt(ib_session_t *old, ib_session_t *s, int64_t expires)
{
    ib_server_t *srv = s->srv;
    if (old->conn) {
        /* The old connection has not noticed it is dead yet: close it
         * without its session. */
        void *oc = old->conn;
        srv->tr.bind(srv->tr.ctx, oc, NULL);
        srv->tr.close(srv->tr.ctx, oc, IB_CLOSE_NORMAL, "session resumed elsewhere");
        old->conn = NULL;
        srv->n_connections--;
    }
    ib_sendq_clear(&old->q);
    old->conn = s->conn;
    old->rl = s->rl;
    old->state = IB_SESSION_LIVE;
    old->close_code = 0;
    old->expires = expires;
    tl_remove(old);
    ib__booth_user_live(old->user);
    srv->tr.bind(srv->tr.ctx, old->conn, old);
    s->conn = NULL; /* the connection moved: s must not count or unbind it */
    session_kill(s);
    srv->metrics.resumes++;
}

static void send_auth_failure(ib_req_t *req, int err, const char *why)
{
    ib_session_t *s = req->s;
    s->srv->metrics.hello_fail++;
    ib_session_send_json(
        s, ib_reply_error(req->m ? req->m->id : NULL, IB_EUNAUTH, why ? why : ib_strerror(err)));
    ib_session_close(s, IB_CLOSE_AUTH, "authentication failed", false);
}

int ib_h_hello(ib_req_t *req)
{
    ib_session_t *s = req->s;
    ib_server_t *srv = s->srv;
    const char *token = NULL, *resume = NULL, *why = NULL;
    ib_claims_t c;

    if (s->state != IB_SESSION_HELLO) {
        req->why = "already authenticated";
        return IB_ECONFLICT;
    }
    if (ib_get_string(req->m->msg, "token", true, &token, &why) ||
        ib_get_string(req->m->msg, "resume", false, &resume, &why)) {
        send_auth_failure(req, IB_EUNAUTH, why);
        return 0;
    }
    int rc = ib_jwt_verify(token, srv->cfg->secret, srv->cfg->secret_len, req->now / 1000, &c);
    if (rc) {
        send_auth_failure(req, rc, NULL);
        return 0;
    }
    if (ib_event_kicked(ib_event_get(srv, c.event, false), c.sub, req->now)) {
        ib_claims_clear(&c);
        send_auth_failure(req, IB_EUNAUTH, "this user was removed from the event by a host");
        return 0;
    }
    /* In ms; an exp past year 10^8 (INT64_MAX / 1000 s) means never. */
    const int64_t never_s = INT64_MAX / 1000 - IB_JWT_LEEWAY_S;
    int64_t expires = ((c.exp < never_s ? c.exp : never_s) + IB_JWT_LEEWAY_S) * 1000;
    ib_session_t *target = s;
    bool resumed = false;
    ib_session_t *old = resume ? ib_map_get(&srv->resumes, resume) : NULL;
    if (old && old != s && old->user && !strcmp(old->user->id, c.sub) &&
        !strcmp(old->ev->id, c.event)) {
        session_adopt(old, s, expires);
        target = old;
        resumed = true;
    } else if (resume && !old && ib__cluster_hello_resume(req, &c, resume, expires) == 0) {
        /* The session may live on another node: the store answers later. */
        return 0;
    } else {
        rc = ib__session_start(s, &c, expires);
        if (rc) {
            ib_claims_clear(&c);
            return rc;
        }
    }
    ib_claims_clear(&c);
    ib__hello_reply(target, req->m->id, resumed, req->now);
    if (resumed)
        ib__sn_resumed(target, req->now);
    return 0;
}

int ib__session_start(ib_session_t *s, const ib_claims_t *c, int64_t expires)
{
    ib_server_t *srv = s->srv;
    ib_event_t *ev = ib_event_get(srv, c->event, true);
    ib_user_t *u = ev ? ib__user_attach(ev, c, s) : NULL;
    if (!u) {
        ib_event_maybe_free(ev);
        return IB_ENOMEM;
    }
    s->ev = ev;
    s->user = u;
    ev->n_sessions++;
    srv->n_sessions++;
    s->state = IB_SESSION_LIVE;
    s->expires = expires;
    tl_remove(s);
    ib__booth_user_live(u);
    return 0;
}

void ib__hello_reply(ib_session_t *target, const json_t *id, bool resumed, int64_t now)
{
    ib_server_t *srv = target->srv;
    /* A fresh resume token on every hello: an old one cannot be replayed. */
    if (target->resume[0]) {
        ib_map_del(&srv->resumes, target->resume);
        ib__cluster_resume_forget(target, target->resume);
    }
    new_token(srv, target->resume, 2 * IB_SESSION_ID_LEN);
    if (ib_map_put(&srv->resumes, target->resume, target))
        target->resume[0] = 0;
    ib__cluster_resume_dirty(target);
    srv->metrics.hello_ok++;

    json_t *ok = ib_reply_ok(id);
    json_object_set_new(ok, "session", json_string(target->id));
    json_object_set_new(ok, "resume", json_string(target->resume));
    json_object_set_new(ok, "resumed", json_boolean(resumed));
    json_object_set_new(ok, "user",
                        json_pack("{s:s,s:s,s:s}", "id", target->user->id, "name",
                                  target->user->name, "role", ib_role_name(target->user->role)));
    json_object_set_new(ok, "event", json_string(target->ev->id));
    json_object_set_new(ok, "node", json_string(srv->node_id));
    json_object_set_new(ok, "server_time", json_integer(now));
    json_object_set_new(ok, "heartbeat_ms", json_integer(srv->cfg->heartbeat_ms));
    ib_session_send_json(target, ok);
}

void ib_server_tick(ib_server_t *srv, int64_t now)
{
    srv->now = now;
    while (srv->hello_head && srv->hello_head->deadline <= now) {
        ib_session_t *s = srv->hello_head;
        tl_remove(s);
        ib_session_close(s, IB_CLOSE_HELLO_TIMEOUT, "no hello in time", true);
    }
    while (srv->grace_head && srv->grace_head->deadline <= now)
        session_kill(srv->grace_head);
    while (srv->closing_head && srv->closing_head->deadline <= now) {
        ib_session_t *s = srv->closing_head;
        tl_remove(s);
        if (s->conn)
            srv->tr.drop(srv->tr.ctx, s->conn);
    }
    if (now - srv->last_expiry_scan >= 1000) {
        srv->last_expiry_scan = now;
        for (ib_session_t *s = srv->all; s; s = s->anext)
            if (s->state == IB_SESSION_LIVE && !s->close_code && s->expires <= now) {
                ib_session_send_json(s, ib_reply_error(NULL, IB_EEXPIRED, "token expired"));
                ib_session_close(s, IB_CLOSE_AUTH, "token expired", false);
            }
    }
    ib__rooms_flush_counts(srv, now);
    ib__sn_tick(srv, now);
    if (now - srv->last_kick_scan >= 60000) {
        srv->last_kick_scan = now;
        const char *k;
        void *v;
        for (size_t i = 0; ib_map_next(&srv->events, &i, &k, &v);) {
            ib__event_expire_kicks(v, now);
            ib_event_maybe_free(v);
        }
    }
    reap(srv);
}

void ib_server_drain(ib_server_t *srv, int64_t now)
{
    srv->now = now;
    srv->draining = true;
    /* Sessions this node drives are saved for the node that takes over
     * (the lease is given up once saved); other nodes may count this
     * one's sessions as disconnected now. */
    ib__sn_cluster_drain(srv);
    ib__cluster_leaving(srv);
    for (ib_session_t *s = srv->all; s; s = s->anext)
        if (s->conn)
            ib_session_close(s, IB_CLOSE_GOING_AWAY, "server shutting down", false);
}

ib_server_t *ib_server_new(const ib_config_t *cfg, const ib_transport_t *tr, ib_store_t *store,
                           const char *node_id)
{
    ib_server_t *srv = calloc(1, sizeof(*srv));
    if (!srv)
        return NULL;
    srv->cfg = cfg;
    srv->tr = *tr;
    srv->store = store;
    snprintf(srv->node_id, sizeof(srv->node_id), "%s", node_id);
    ib__cluster_attach(srv);
    return srv;
}

void ib_server_free(ib_server_t *srv)
{
    if (!srv)
        return;
    srv->draining = true;
    ib__sn_cluster_free(srv);
    while (srv->all)
        session_kill(srv->all);
    reap(srv);
    /* Dead sessions still held by pending store operations are leaked on
     * purpose only if the store never answered; free them now. */
    while (srv->dead) {
        ib_session_t *s = srv->dead;
        srv->dead = s->tnext;
        free(s);
    }
    const char *k;
    void *v;
    for (size_t i = 0; ib_map_next(&srv->events, &i, &k, &v);)
        ib__event_destroy(v);
    ib_map_free(&srv->resumes);
    ib_map_free(&srv->events);
    free(srv);
}
