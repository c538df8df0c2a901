/*
 * Several nodes, one event: the core's side of the shared store.
 *
 * Each node keeps its own sessions, users and rooms; what crosses nodes
 * goes through the store port as messages on the event's channel (every
 * node serving the event hears them, its own included), and as presence
 * entries the store keeps per (node, user, room):
 *
 *   "p"    presence: user `id` joined/left/updated room `room` on node n
 *   "sync" node n replaced its whole presence (after a reconnect): re-read
 *   "chat" a numbered chat message (published by the store's append)
 *   "r"    an event for a room's members (except `x`, minus blockers of `f`)
 *   "u"    an event for a user's sessions (only those in `room` if given)
 *   "e"    an event for every session of the event
 *   "t"    takeover: the session with resume token `tok` on node `node`
 *          resumed elsewhere; that node ends it without a word
 *
 * A lounge: or booth: room keeps a copy of its members on other nodes
 * (r->remote), read from the store when the room appears on this node and
 * kept by "p" messages, so that member lists, counts and presence events
 * (a user on two nodes shown once) need no round trip. Messages heard while
 * the copy loads are queued and applied on top of it.
 *
 * Dead nodes are the store's business (heartbeats): after the grace period
 * their entries are removed with a "p" `left` for each, like any other.
 */
#include <stdlib.h>
#include <string.h>

#include "core_internal.h"

#define IB_DEFER_MAX 64

bool ib__cluster_room(const ib_room_t *r)
{
    return ib__cluster(r->ev->srv) && r->kind != IB_ROOM_INVALID;
}

static bool server_made(const ib_room_t *r)
{
    return r->kind == IB_ROOM_PAIR || r->kind == IB_ROOM_MEET;
}

/* --- remote members --- */

static void remote_free(ib_remote_t *m)
{
    for (uint16_t i = 0; i < m->n_nodes; i++)
        free(m->nodes[i]);
    free(m->nodes);
    json_decref(m->user);
    free(m->id);
    free(m);
}

static bool remote_has_node(const ib_remote_t *m, const char *node)
{
    for (uint16_t i = 0; i < m->n_nodes; i++)
        if (!strcmp(m->nodes[i], node))
            return true;
    return false;
}

static int remote_add_node(ib_remote_t *m, const char *node)
{
    if (remote_has_node(m, node))
        return 0;
    char **n = realloc(m->nodes, (m->n_nodes + 1u) * sizeof(*n));
    if (!n)
        return IB_ENOMEM;
    m->nodes = n;
    if (!(n[m->n_nodes] = strdup(node)))
        return IB_ENOMEM;
    m->n_nodes++;
    return 0;
}

static void remote_del_node(ib_remote_t *m, const char *node)
{
    for (uint16_t i = 0; i < m->n_nodes; i++)
        if (!strcmp(m->nodes[i], node)) {
            free(m->nodes[i]);
            m->nodes[i] = m->nodes[--m->n_nodes];
            return;
        }
}

static ib_remote_t *remote_new(const char *id, json_t *user, int64_t joined)
{
    ib_remote_t *m = calloc(1, sizeof(*m));
    if (!m || !(m->id = strdup(id))) {
        free(m);
        return NULL;
    }
    m->user = json_incref(user);
    m->joined_ms = joined;
    return m;
}

static bool local_member(const ib_room_t *r, const char *id)
{
    return ib_map_get(&r->by_user, id) != NULL;
}

void ib__cluster_room_free(ib_room_t *r)
{
    const char *k;
    void *v;
    for (size_t i = 0; ib_map_next(&r->remote, &i, &k, &v);)
        remote_free(v);
    ib_map_free(&r->remote);
    r->n_remote_only = 0;
    json_decref(r->sync_queue);
    r->sync_queue = NULL;
    json_decref(r->sync_joined);
    r->sync_joined = NULL;
    free(r->waiters);
    r->waiters = NULL;
    r->n_waiters = 0;
}

/* A presence message of another node applied to r's copy; local members
 * hear what changes for them. */
static void apply_presence(ib_room_t *r, json_t *hdr)
{
    const char *node = json_string_value(json_object_get(hdr, "n"));
    const char *id = json_string_value(json_object_get(hdr, "id"));
    const char *st = json_string_value(json_object_get(hdr, "s"));
    if (!node || !id || !st)
        return;
    ib_remote_t *m = ib_map_get(&r->remote, id);
    bool local = local_member(r, id);
    if (!strcmp(st, "left")) {
        if (!m || !remote_has_node(m, node))
            return;
        remote_del_node(m, node);
        if (m->n_nodes)
            return;
        ib_map_del(&r->remote, id);
        if (!local) {
            r->n_remote_only--;
            ib__room_presence_json(r, m->user, "left");
        }
        remote_free(m);
        /* A server-made room's owner (a speed-networking round, a booth
         * meeting) hears that a member on another node is gone. */
        if (!local && server_made(r)) {
            /* Gone from the room: no longer let in, nor signalled as a
             * member about to arrive (signal.c). */
            void *allowed = ib_map_get(&r->allowed, id);
            if (allowed) {
                ib_map_del(&r->allowed, id);
                free(allowed);
            }
            r->pins++; /* the caller frees it when it may */
            ib__room_left(r, NULL, r->ev->srv->now);
            r->pins--;
        }
        return;
    }
    json_t *user = json_object_get(hdr, "u");
    if (!json_is_object(user))
        return;
    if (!m) {
        m = remote_new(id, user, json_integer_value(json_object_get(hdr, "j")));
        if (!m || remote_add_node(m, node) || ib_map_put(&r->remote, m->id, m)) {
            if (m)
                remote_free(m);
            return;
        }
        if (!local) {
            r->n_remote_only++;
            ib__room_presence_json(r, user, "joined");
        }
        if (server_made(r))
            ib__room_joined_remote(r, id);
        return;
    }
    remote_add_node(m, node);
    if (!strcmp(st, "updated") && !json_equal(m->user, user)) {
        json_decref(m->user);
        m->user = json_incref(user);
        /* The same user here (another tab) has that status too. */
        ib_user_t *u = ib_user_find(r->ev, id);
        ib_status_t status;
        if (u && !ib_status_parse(json_string_value(json_object_get(user, "status"))
                                      ? json_string_value(json_object_get(user, "status"))
                                      : "",
                                  &status))
            u->status = status;
        ib__room_presence_json(r, user, "updated");
    }
}

/* Replace r's copy by a snapshot ([{n,id,v:{u,j}}]); emit: announce the
 * differences to local members. */
static void apply_snapshot(ib_room_t *r, json_t *arr, bool emit)
{
    ib_server_t *srv = r->ev->srv;
    ib_map_t fresh = {0};
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e)
    {
        const char *node = json_string_value(json_object_get(e, "n"));
        const char *id = json_string_value(json_object_get(e, "id"));
        json_t *v = json_object_get(e, "v");
        json_t *user = json_object_get(v, "u");
        if (!node || !id || !json_is_object(user) || !strcmp(node, srv->node_id))
            continue;
        ib_remote_t *m = ib_map_get(&fresh, id);
        if (!m) {
            m = remote_new(id, user, json_integer_value(json_object_get(v, "j")));
            if (!m || ib_map_put(&fresh, m->id, m)) {
                if (m)
                    remote_free(m);
                continue;
            }
        } else if (json_integer_value(json_object_get(v, "j")) < m->joined_ms) {
            m->joined_ms = json_integer_value(json_object_get(v, "j"));
        }
        remote_add_node(m, node);
    }
    const char *k;
    void *v;
    uint32_t only = 0;
    for (size_t it = 0; ib_map_next(&fresh, &it, &k, &v);) {
        ib_remote_t *m = v;
        ib_remote_t *old = ib_map_get(&r->remote, k);
        bool local = local_member(r, k);
        if (!local)
            only++;
        if (emit && !local) {
            if (!old)
                ib__room_presence_json(r, m->user, "joined");
            else if (!json_equal(old->user, m->user))
                ib__room_presence_json(r, m->user, "updated");
        }
    }
    for (size_t it = 0; ib_map_next(&r->remote, &it, &k, &v);) {
        ib_remote_t *old = v;
        if (emit && !ib_map_get(&fresh, k) && !local_member(r, k)) {
            /* Counted as gone before the event, as for a local departure. */
            ib__room_presence_json(r, old->user, "left");
        }
        remote_free(old);
    }
    ib_map_free(&r->remote);
    r->remote = fresh;
    r->n_remote_only = only;
}

static void load_done(void *arg, int err, json_t *arr)
{
    ib_room_t *r = arg;
    ib_server_t *srv = r->ev->srv;
    r->pins--;
    json_t *queue = r->sync_queue;
    r->sync_queue = NULL;
    if (!err && json_is_array(arr)) {
        apply_snapshot(r, arr, r->sync_emit);
        size_t i;
        json_t *h;
        json_array_foreach(queue, i, h) apply_presence(r, h);
        r->sync = IB_SYNC_LOADED;
    } else {
        r->sync = r->sync_emit ? IB_SYNC_LOADED : IB_SYNC_NONE;
    }
    json_decref(queue);
    /* Local arrivals held back while loading: announce those who are not
     * members elsewhere already. */
    json_t *joined = r->sync_joined;
    r->sync_joined = NULL;
    size_t i;
    json_t *id;
    json_array_foreach(joined, i, id)
    {
        ib_user_t *u = ib_user_find(r->ev, json_string_value(id));
        if (u && ib_room_member(r, u) && !ib_map_get(&r->remote, u->id))
            ib_room_presence(r, u, "joined");
    }
    json_decref(joined);
    void **waiters = r->waiters;
    size_t n = r->n_waiters;
    r->waiters = NULL;
    r->n_waiters = 0;
    r->pins++;
    for (size_t w = 0; w < n; w++)
        ib__join_finish(waiters[w]);
    free(waiters);
    r->pins--;
    bool again = r->sync_again && r->sync == IB_SYNC_LOADED && srv->store;
    r->sync_again = false;
    if (again)
        ib__cluster_room_load(r, true);
    ib_room_maybe_free(r);
}

void ib__cluster_room_load(ib_room_t *r, bool emit)
{
    ib_server_t *srv = r->ev->srv;
    if (!ib__cluster_room(r) || !srv->store)
        return;
    if (r->sync == IB_SYNC_LOADING) {
        if (emit)
            r->sync_again = true;
        return;
    }
    if (emit && r->sync != IB_SYNC_LOADED)
        return; /* never loaded: the first load comes with a join */
    r->sync = IB_SYNC_LOADING;
    r->sync_emit = emit;
    r->sync_queue = json_array();
    r->pins++;
    if (srv->store->ops->presence_list(srv->store, r->ev->id, r->id, load_done, r)) {
        r->pins++; /* load_done releases one */
        load_done(r, IB_EUNAVAIL, NULL);
        r->pins--;
    }
}

void ib__cluster_room_wait(ib_room_t *r, ib_pending_t *waiter)
{
    if (r->sync == IB_SYNC_NONE)
        ib__cluster_room_load(r, false);
    if (r->sync != IB_SYNC_LOADING) {
        ib__join_finish(waiter);
        return;
    }
    void **w = realloc(r->waiters, (r->n_waiters + 1) * sizeof(*w));
    if (!w) {
        ib__join_finish(waiter);
        return;
    }
    r->waiters = w;
    w[r->n_waiters++] = waiter;
}

/* --- this node's changes --- */

static json_t *member_value(const ib_room_t *r, const ib_user_t *u)
{
    const ib_member_t *m = ib_room_member(r, u);
    return json_pack("{s:o,s:I}", "u", ib_user_json(u), "j",
                     (json_int_t)(m ? m->joined_ms : r->ev->srv->now));
}

void ib__cluster_member(ib_room_t *r, const ib_user_t *u, const char *state)
{
    ib_server_t *srv = r->ev->srv;
    if (!ib__cluster_room(r) || !srv->store)
        return;
    bool gone = !strcmp(state, "left");
    json_t *value = gone ? NULL : member_value(r, u);
    json_t *hdr = json_pack("{s:s,s:s,s:s,s:s}", "k", "p", "room", r->id, "id", u->id, "s", state);
    if (value && hdr) {
        json_object_set(hdr, "u", json_object_get(value, "u"));
        json_object_set(hdr, "j", json_object_get(value, "j"));
    }
    if (hdr && (gone || value))
        srv->store->ops->presence(srv->store, r->ev->id, r->id, u->id, value, hdr);
    json_decref(value);
    json_decref(hdr);
}

void ib__cluster_publish(ib_event_t *ev, json_t *hdr, ib_buf_t *buf)
{
    ib_server_t *srv = ev->srv;
    if (hdr && srv->store && ib__cluster(srv))
        srv->store->ops->publish(srv->store, ev->id, hdr,
                                 buf ? (const char *)ib_buf_payload(buf) : NULL,
                                 buf ? buf->len : 0);
    json_decref(hdr);
}

void ib__cluster_event_new(ib_event_t *ev)
{
    ib_server_t *srv = ev->srv;
    if (ib__cluster(srv) && srv->store) {
        srv->store->ops->subscribe(srv->store, ev->id, 1);
        ib__mod_event_new(ev);
        ib__sn_cluster_event_new(ev);
    }
}

void ib__cluster_event_gone(ib_event_t *ev)
{
    ib_server_t *srv = ev->srv;
    if (ib__cluster(srv) && srv->store)
        srv->store->ops->subscribe(srv->store, ev->id, 0);
}

/* --- resume records --- */

static json_t *resume_record(const ib_session_t *s);

/* Written at once, so that a client may resume elsewhere right after. */
void ib__cluster_resume_dirty(ib_session_t *s)
{
    ib_server_t *srv = s->srv;
    if (!ib__cluster(srv) || !srv->store || !s->resume[0] || !s->user ||
        (s->state != IB_SESSION_LIVE && s->state != IB_SESSION_DETACHED))
        return;
    json_t *rec = resume_record(s);
    if (rec)
        srv->store->ops->resume_put(srv->store, s->ev->id, s->resume, rec);
    json_decref(rec);
}

void ib__cluster_resume_forget(ib_session_t *s, const char *token)
{
    ib_server_t *srv = s->srv;
    if (ib__cluster(srv) && srv->store && token[0] && s->ev)
        srv->store->ops->resume_put(srv->store, s->ev->id, token, NULL);
}

static json_t *resume_record(const ib_session_t *s)
{
    json_t *rooms = json_array();
    for (uint16_t i = 0; i < s->n_rooms; i++)
        if (ib__cluster_room(s->rooms[i]))
            json_array_append_new(rooms, json_string(s->rooms[i]->id));
    return json_pack("{s:s,s:s,s:s,s:o}", "sub", s->user->id, "sid", s->id, "node", s->srv->node_id,
                     "rooms", rooms);
}

void ib__cluster_leaving(ib_server_t *srv)
{
    if (ib__cluster(srv) && srv->store)
        srv->store->ops->leaving(srv->store);
}

/* --- resume onto this node --- */

typedef struct hello_wait {
    ib_pending_t *p;
    ib_claims_t c;
    char *token;
    int64_t expires;
} hello_wait_t;

static void hello_resume_done(void *arg, int err, json_t *rec)
{
    hello_wait_t *w = arg;
    ib_pending_t *p = w->p;
    ib_session_t *s = p->s;
    ib_server_t *srv = s->srv;
    if (s->state != IB_SESSION_HELLO || s->close_code) {
        json_decref(s->deferred);
        s->deferred = NULL;
        goto out_release;
    }
    bool ok = !err && json_is_object(rec) &&
              !strcmp(json_string_value(json_object_get(rec, "sub"))
                          ? json_string_value(json_object_get(rec, "sub"))
                          : "",
                      w->c.sub);
    int rc = ib__session_start(s, &w->c, w->expires);
    if (rc) {
        json_decref(s->deferred);
        s->deferred = NULL;
        ib__pending_error(p, rc, NULL);
        goto out;
    }
    if (ok) {
        const char *sid = json_string_value(json_object_get(rec, "sid"));
        if (sid && strlen(sid) == IB_SESSION_ID_LEN)
            memcpy(s->id, sid, IB_SESSION_ID_LEN + 1);
        size_t i;
        json_t *room;
        json_array_foreach(json_object_get(rec, "rooms"), i, room)
        {
            const char *id = json_string_value(room);
            ib_room_kind_t kind = id ? ib_room_kind(id) : IB_ROOM_INVALID;
            if (kind == IB_ROOM_INVALID)
                continue;
            ib_room_t *r = ib_room_get(s->ev, id, true);
            /* A server-made room: its owner node let this user in. */
            if (r && (kind == IB_ROOM_PAIR || kind == IB_ROOM_MEET) &&
                ib__room_allow(r, s->user->id)) {
                ib_room_maybe_free(r);
                continue;
            }
            if (r && ib_room_enter(r, s) == 1)
                ib_room_presence(r, s->user, "joined");
            else if (r)
                ib_room_maybe_free(r);
        }
        ib__booth_resumed(s->user); /* before the old node lets go */
        /* After our joins (same channel, in order): the old node ends the
         * session without a `left` where the user stays. */
        const char *node = json_string_value(json_object_get(rec, "node"));
        ib__cluster_publish(
            s->ev, json_pack("{s:s,s:s,s:s}", "k", "t", "node", node ? node : "", "tok", w->token),
            NULL);
        srv->store->ops->resume_put(srv->store, s->ev->id, w->token, NULL);
        srv->metrics.resumes++;
    }
    ib__hello_reply(s, p->id, ok, srv->now);
    if (ok)
        ib__sn_resumed(s, srv->now);
    ib__session_replay(s, srv->now);
out_release:
    ib__session_release(s);
    json_decref(p->id);
    free(p);
out:
    ib_claims_clear(&w->c);
    free(w->token);
    free(w);
}

int ib__cluster_hello_resume(ib_req_t *req, ib_claims_t *c, const char *resume, int64_t expires)
{
    ib_session_t *s = req->s;
    ib_server_t *srv = s->srv;
    if (!ib__cluster(srv) || !srv->store || !srv->store->ops->resume_get || !ib_id_valid(c->event))
        return -1;
    hello_wait_t *w = calloc(1, sizeof(*w));
    if (!w)
        return -1;
    w->p = ib__pending_new(req);
    w->token = strdup(resume);
    if (!w->p || !w->token || !(s->deferred = json_array())) {
        if (w->p) {
            ib__session_release(s);
            json_decref(w->p->id);
            free(w->p);
        }
        free(w->token);
        free(w);
        return -1;
    }
    w->c = *c; /* the claims move into w */
    memset(c, 0, sizeof(*c));
    w->expires = expires;
    if (srv->store->ops->resume_get(srv->store, w->c.event, resume, hello_resume_done, w))
        hello_resume_done(w, IB_EUNAVAIL, NULL);
    return 0;
}

/* dispatch.c: a message received while the hello is in flight. */
bool ib__session_defer(ib_session_t *s, const char *data, size_t len, bool binary)
{
    if (!s->deferred)
        return false;
    if (json_array_size(s->deferred) < IB_DEFER_MAX)
        json_array_append_new(s->deferred, json_pack("{s:s%,s:b}", "d", data ? data : "",
                                                     data ? len : 0, "b", binary));
    return true;
}

void ib__session_replay(ib_session_t *s, int64_t now)
{
    json_t *d = s->deferred;
    s->deferred = NULL;
    size_t i;
    json_t *m;
    json_array_foreach(d, i, m)
    {
        json_t *data = json_object_get(m, "d");
        ib_session_receive(s, json_string_value(data), json_string_length(data),
                           json_is_true(json_object_get(m, "b")), now);
    }
    json_decref(d);
}

/* --- server-made rooms on every node --- */

/* Take u's sessions out of every room of ev whose id starts with prefix,
 * but keep: without a word (the owner knows). */
static void leave_prefixed(ib_event_t *ev, ib_user_t *u, const char *prefix, const char *keep)
{
    size_t pl = strlen(prefix);
    for (ib_session_t *s = u->sessions; s; s = s->unext)
        for (uint16_t i = 0; i < s->n_rooms;) {
            ib_room_t *r = s->rooms[i];
            if (!strncmp(r->id, prefix, pl) && (!keep || strcmp(r->id, keep))) {
                ib_room_exit(r, s); /* s->rooms[i] is replaced */
                ib_room_maybe_free(r);
                continue;
            }
            i++;
        }
    (void)ev;
}

static void room_put_local(ib_event_t *ev, const char *room, const char *leave, const char *user,
                           json_t *allow, ib_buf_t *buf)
{
    ib_user_t *u = ib_user_find(ev, user);
    if (!u)
        return;
    if (leave)
        leave_prefixed(ev, u, leave, room);
    ib_room_t *r = room ? ib_room_get(ev, room, true) : NULL;
    if (r) {
        r->pins++;
        size_t i;
        json_t *id;
        json_array_foreach(allow, i, id) if (json_is_string(id))
            ib__room_allow(r, json_string_value(id));
        ib__room_allow(r, user);
        for (ib_session_t *s = u->sessions; s; s = s->unext)
            if (s->state == IB_SESSION_LIVE || s->state == IB_SESSION_DETACHED)
                ib_room_enter(r, s);
        r->pins--;
        ib_room_maybe_free(r);
    }
    if (buf)
        for (ib_session_t *s = u->sessions; s; s = s->unext)
            if (s->state == IB_SESSION_LIVE)
                ib_session_send(s, buf);
}

void ib__cluster_room_put(ib_event_t *ev, const char *room, const char *leave, const char *user,
                          json_t *allow, ib_buf_t *buf)
{
    room_put_local(ev, room, leave, user, allow, buf);
    if (!ib__cluster(ev->srv))
        return;
    json_t *hdr = json_pack("{s:s,s:s,s:o}", "k", "rp", "id", user, "allow",
                            allow ? json_incref(allow) : json_array());
    if (hdr && room)
        json_object_set_new(hdr, "room", json_string(room));
    if (hdr && leave)
        json_object_set_new(hdr, "leave", json_string(leave));
    ib__cluster_publish(ev, hdr, buf);
}

static void rooms_close_local(ib_event_t *ev, const char *prefix)
{
    size_t pl = strlen(prefix);
    const char *k;
    void *v;
    /* Emptying a room may free it: collect first. */
    json_t *ids = json_array();
    for (size_t i = 0; ib_map_next(&ev->rooms, &i, &k, &v);)
        if (!strncmp(k, prefix, pl))
            json_array_append_new(ids, json_string(k));
    size_t i;
    json_t *id;
    json_array_foreach(ids, i, id)
    {
        ib_room_t *r = ib_room_get(ev, json_string_value(id), false);
        if (!r)
            continue;
        r->pins++;
        ib_room_empty(r);
        r->pins--;
        ib_room_maybe_free(r);
    }
    json_decref(ids);
}

void ib__cluster_rooms_close(ib_event_t *ev, const char *prefix)
{
    if (ib__cluster(ev->srv))
        ib__cluster_publish(ev, json_pack("{s:s,s:s}", "k", "rc", "prefix", prefix), NULL);
}

/* --- messages from the nodes --- */

static void deliver_user(ib_event_t *ev, const char *id, const char *room, ib_buf_t *b)
{
    ib_user_t *u = ib_user_find(ev, id);
    ib_room_t *r = room ? ib_room_get(ev, room, false) : NULL;
    if (!u || (room && !r))
        return;
    for (ib_session_t *s = u->sessions; s; s = s->unext)
        if (s->state == IB_SESSION_LIVE && (!r || ib_session_in_room(s, r)))
            ib_session_send(s, b);
}

static void takeover(ib_server_t *srv, ib_event_t *ev, const char *tok)
{
    ib_session_t *s = ib_map_get(&srv->resumes, tok);
    if (!s || s->ev != ev || s->state == IB_SESSION_DEAD)
        return;
    if (s->conn) {
        void *oc = s->conn;
        srv->tr.bind(srv->tr.ctx, oc, NULL);
        srv->tr.close(srv->tr.ctx, oc, IB_CLOSE_NORMAL, "session resumed elsewhere");
        s->conn = NULL;
        srv->n_connections--;
    }
    ib__session_end(s);
}

static void on_message(void *arg, const char *event, json_t *hdr, const char *payload, size_t len)
{
    ib_server_t *srv = arg;
    ib_event_t *ev = ib_event_get(srv, event, false);
    const char *k = json_string_value(json_object_get(hdr, "k"));
    const char *n = json_string_value(json_object_get(hdr, "n"));
    if (!ev || !k || !n)
        return;
    bool self = !strcmp(n, srv->node_id);
    const char *room = json_string_value(json_object_get(hdr, "room"));
    if (!strcmp(k, "chat")) {
        /* Every node, the sender's included, delivers in sequence order. */
        ib_room_t *r = room ? ib_room_get(ev, room, false) : NULL;
        ib_buf_t *b = r && payload ? ib_buf_new(payload, len) : NULL;
        if (b) {
            ib__room_send_local(r, b, NULL, json_string_value(json_object_get(hdr, "from")));
            ib_buf_unref(b);
        }
        return;
    }
    if (!strncmp(k, "booth.", 6)) {
        ib__booth_bus(ev, k, hdr, payload, len); /* this node's own too */
        return;
    }
    if (self)
        return;
    if (!strcmp(k, "p")) {
        ib_room_t *r = room ? ib_room_get(ev, room, false) : NULL;
        if (!r || !ib__cluster_room(r))
            return;
        if (r->sync == IB_SYNC_LOADING)
            json_array_append(r->sync_queue, hdr);
        else if (r->sync == IB_SYNC_LOADED)
            apply_presence(r, hdr);
        ib_room_maybe_free(r);
        return;
    }
    if (!strcmp(k, "sync")) {
        const char *key;
        void *v;
        for (size_t i = 0; ib_map_next(&ev->rooms, &i, &key, &v);)
            ib__cluster_room_load(v, true);
        return;
    }
    if (!strcmp(k, "kk") || !strcmp(k, "bl")) {
        ib__mod_message(ev, k, hdr);
        return;
    }
    if (!strcmp(k, "sn") || !strcmp(k, "sq") || !strcmp(k, "sa")) {
        ib__sn_cluster_message(ev, k, hdr);
        return;
    }
    if (!strcmp(k, "rp")) {
        const char *id = json_string_value(json_object_get(hdr, "id"));
        const char *leave = json_string_value(json_object_get(hdr, "leave"));
        ib_room_kind_t kind = room ? ib_room_kind(room) : IB_ROOM_INVALID;
        if (!id || (room && kind != IB_ROOM_PAIR && kind != IB_ROOM_MEET) ||
            (leave && strncmp(leave, "pair:", 5) && strncmp(leave, "meet:", 5)))
            return;
        ib_buf_t *b = payload ? ib_buf_new(payload, len) : NULL;
        room_put_local(ev, room, leave, id, json_object_get(hdr, "allow"), b);
        if (b)
            ib_buf_unref(b);
        return;
    }
    if (!strcmp(k, "rc")) {
        const char *prefix = json_string_value(json_object_get(hdr, "prefix"));
        if (prefix && (!strncmp(prefix, "pair:", 5) || !strncmp(prefix, "meet:", 5)))
            rooms_close_local(ev, prefix);
        return;
    }
    if (!strcmp(k, "t")) {
        const char *node = json_string_value(json_object_get(hdr, "node"));
        const char *tok = json_string_value(json_object_get(hdr, "tok"));
        if (node && tok && !strcmp(node, srv->node_id))
            takeover(srv, ev, tok);
        return;
    }
    if (!payload)
        return;
    ib_buf_t *b = ib_buf_new(payload, len);
    if (!b)
        return;
    if (!strcmp(k, "r")) {
        ib_room_t *r = room ? ib_room_get(ev, room, false) : NULL;
        if (r)
            ib__room_send_local(r, b, json_string_value(json_object_get(hdr, "x")),
                                json_string_value(json_object_get(hdr, "f")));
    } else if (!strcmp(k, "u")) {
        const char *id = json_string_value(json_object_get(hdr, "id"));
        if (id)
            deliver_user(ev, id, room, b);
    } else if (!strcmp(k, "e")) {
        const char *key;
        void *v;
        for (size_t i = 0; ib_map_next(&ev->users, &i, &key, &v);) {
            ib_user_t *u = v;
            for (ib_session_t *s = u->sessions; s; s = s->unext)
                if (s->state == IB_SESSION_LIVE)
                    ib_session_send(s, b);
        }
    }
    ib_buf_unref(b);
}

/* The store is (again) reachable: put this node's presence and resume
 * records back, then re-read every room's remote members. */
static void on_up(void *arg)
{
    ib_server_t *srv = arg;
    if (srv->draining)
        return;
    const char *k;
    void *v;
    for (size_t i = 0; ib_map_next(&srv->events, &i, &k, &v);) {
        ib_event_t *ev = v;
        json_t *entries = json_array();
        const char *rk;
        void *rv;
        for (size_t j = 0; ib_map_next(&ev->rooms, &j, &rk, &rv);) {
            ib_room_t *r = rv;
            if (!ib__cluster_room(r))
                continue;
            for (ib_member_t *m = r->first; m; m = m->next)
                json_array_append_new(entries,
                                      json_pack("{s:s,s:s,s:o}", "room", r->id, "id", m->user->id,
                                                "v", member_value(r, m->user)));
        }
        json_t *hdr = json_pack("{s:s}", "k", "sync");
        srv->store->ops->node_sync(srv->store, ev->id, entries, hdr);
        json_decref(hdr);
        json_decref(entries);
        srv->store->ops->subscribe(srv->store, ev->id, 1);
        for (size_t j = 0; ib_map_next(&ev->rooms, &j, &rk, &rv);)
            ib__cluster_room_load(rv, true);
        ib__mod_event_new(ev);        /* kicks and blocks made meanwhile */
        ib__sn_cluster_event_new(ev); /* sessions made while we were away */
    }
    for (ib_session_t *s = srv->all; s; s = s->anext)
        if (s->user && (s->state == IB_SESSION_LIVE || s->state == IB_SESSION_DETACHED))
            ib__cluster_resume_dirty(s);
}

void ib__cluster_attach(ib_server_t *srv)
{
    if (!ib__cluster(srv) || !srv->store->ops->attach)
        return;
    ib_store_hooks_t h = {.arg = srv, .message = on_message, .up = on_up};
    srv->store->ops->attach(srv->store, srv->node_id, srv->cfg->grace_ms, &h);
}
