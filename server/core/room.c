/*
 * Events, users, rooms and presence (see ib_room.h for the model).
 *
 * Rooms are created on first entry and freed when their last member leaves
 * and nothing pins them; an event is freed when it has neither users nor
 * rooms. Presence follows the crowd rule: above cfg->crowd members a room
 * stops announcing each arrival and instead sends presence.count, at most
 * once a second, from ib__rooms_flush_counts() on the server tick.
 */
#include <stdlib.h>
#include <string.h>

#include "core_internal.h"

static const char *const status_names[] = {"available", "busy", "away"};

const char *ib_status_name(ib_status_t st)
{
    return (unsigned)st < IB_ARRAY_LEN(status_names) ? status_names[st] : "available";
}

int ib_status_parse(const char *s, ib_status_t *out)
{
    for (size_t i = 0; i < IB_ARRAY_LEN(status_names); i++)
        if (!strcmp(s, status_names[i])) {
            *out = (ib_status_t)i;
            return 0;
        }
    return IB_EBADREQ;
}

ib_event_t *ib_event_get(ib_server_t *srv, const char *id, bool create)
{
    ib_event_t *ev = ib_map_get(&srv->events, id);
    if (ev || !create)
        return ev;
    ev = calloc(1, sizeof(*ev));
    if (!ev || !(ev->id = strdup(id)))
        goto err;
    ev->srv = srv;
    if (ib_map_put(&srv->events, ev->id, ev))
        goto err;
    ib__cluster_event_new(ev);
    return ev;
err:
    if (ev)
        free(ev->id);
    free(ev);
    return NULL;
}

void ib_event_maybe_free(ib_event_t *ev)
{
    /* Kicks, blocks, booths (with their leads) and speed-networking
     * sessions outlive the users who made them: the event stays. */
    if (!ev || ev->users.count || ev->rooms.count || ev->n_sessions || ev->kicked.count ||
        ev->blocks.count || ev->booths.count || ev->sn.count)
        return;
    ib__cluster_event_gone(ev);
    ib_map_del(&ev->srv->events, ev->id);
    ib_map_free(&ev->users);
    ib_map_free(&ev->rooms);
    ib_map_free(&ev->kicked);
    ib_map_free(&ev->blocks);
    ib_map_free(&ev->booths);
    ib_map_free(&ev->sn);
    free(ev->id);
    free(ev);
}

static void room_release(ib_room_t *r);

void ib__event_destroy(ib_event_t *ev)
{
    ib__event_free_moderation(ev);
    ib__event_free_booths(ev);
    ib__event_free_sn(ev);
    const char *k;
    void *v;
    /* Rooms still here when the server stops (server-made rooms pinned by
     * the cluster outlive their last local member): free them too. Their
     * members are gone (every session ended before). */
    for (size_t i = 0; ib_map_next(&ev->rooms, &i, &k, &v);)
        room_release(v);
    ib__cluster_event_gone(ev);
    ib_map_del(&ev->srv->events, ev->id);
    ib_map_free(&ev->users);
    ib_map_free(&ev->rooms);
    ib_map_free(&ev->sn);
    free(ev->id);
    free(ev);
}

ib_user_t *ib_user_find(ib_event_t *ev, const char *id)
{
    return ib_map_get(&ev->users, id);
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

ib_user_t *ib__user_attach(ib_event_t *ev, const ib_claims_t *c, ib_session_t *s)
{
    ib_user_t *u = ib_map_get(&ev->users, c->sub);
    if (!u) {
        u = calloc(1, sizeof(*u));
        if (!u)
            return NULL;
        u->ev = ev;
        u->id = strdup(c->sub);
        u->name = strdup(c->name);
        u->role = c->role;
        u->headline = dup_or_null(c->headline);
        u->booth = dup_or_null(c->booth);
        u->profile = json_pack("{s:O,s:O,s:O,s:O}", "interests", c->interests, "offers", c->offers,
                               "seeks", c->seeks, "contact", c->contact);
        if (!u->id || !u->name || (c->headline && !u->headline) || (c->booth && !u->booth) ||
            !u->profile || ib_map_put(&ev->users, u->id, u)) {
            free(u->id);
            free(u->name);
            free(u->headline);
            free(u->booth);
            json_decref(u->profile);
            free(u);
            return NULL;
        }
    }
    s->unext = u->sessions;
    s->uprev = NULL;
    if (u->sessions)
        u->sessions->uprev = s;
    u->sessions = s;
    u->n_sessions++;
    return u;
}

void ib__user_detach(ib_user_t *u, ib_session_t *s)
{
    if (s->uprev)
        s->uprev->unext = s->unext;
    else
        u->sessions = s->unext;
    if (s->unext)
        s->unext->uprev = s->uprev;
    s->uprev = s->unext = NULL;
    if (--u->n_sessions)
        return;
    ib__booth_user_gone(u->ev, u);
    ib_map_del(&u->ev->users, u->id);
    free(u->id);
    free(u->name);
    free(u->headline);
    free(u->booth);
    json_decref(u->profile);
    free(u);
}

json_t *ib_user_json(const ib_user_t *u)
{
    return json_pack("{s:s,s:s,s:s,s:s}", "id", u->id, "name", u->name, "role",
                     ib_role_name(u->role), "status", ib_status_name(u->status));
}

ib_room_t *ib_room_get(ib_event_t *ev, const char *id, bool create)
{
    ib_room_t *r = ib_map_get(&ev->rooms, id);
    if (r || !create)
        return r;
    ib_room_kind_t kind = ib_room_kind(id);
    if (kind == IB_ROOM_INVALID)
        return NULL;
    r = calloc(1, sizeof(*r));
    if (!r || !(r->id = strdup(id)))
        goto err;
    r->ev = ev;
    r->kind = kind;
    if (ib_map_put(&ev->rooms, r->id, r))
        goto err;
    ev->srv->n_rooms++;
    return r;
err:
    if (r)
        free(r->id);
    free(r);
    return NULL;
}

/* r's own memory, once it is out of its event's map (or the map goes). */
static void room_release(ib_room_t *r)
{
    ib_map_free(&r->by_user);
    ib__room_page_drop(r);
    ib__cluster_room_free(r);
    /* allowed maps user id -> strdup'ed id (keys owned by values) */
    const char *k;
    void *v;
    for (size_t i = 0; ib_map_next(&r->allowed, &i, &k, &v);)
        free(v);
    ib_map_free(&r->allowed);
    free(r->id);
    free(r);
}

void ib_room_maybe_free(ib_room_t *r)
{
    if (!r || r->count || r->pins)
        return;
    ib_server_t *srv = r->ev->srv;
    /* Unlink from the dirty list first: the tick must never see it. */
    if (r->count_dirty) {
        for (ib_room_t **p = &srv->dirty_rooms; *p; p = &(*p)->dirty_next)
            if (*p == r) {
                *p = r->dirty_next;
                break;
            }
    }
    /* The memory store forgets an empty room's history, so that room names
     * invented by clients cannot pile up; Redis keys expire instead. */
    if (srv->store && srv->store->ops->room_gone)
        srv->store->ops->room_gone(srv->store, r->ev->id, r->id);
    ib_map_del(&r->ev->rooms, r->id);
    srv->n_rooms--;
    ib_event_t *ev = r->ev;
    room_release(r);
    ib_event_maybe_free(ev);
}

int ib__room_allow(ib_room_t *r, const char *sub)
{
    if (ib_map_get(&r->allowed, sub))
        return 0;
    char *d = strdup(sub);
    if (!d || ib_map_put(&r->allowed, d, d)) {
        free(d);
        return IB_ENOMEM;
    }
    return 0;
}

void ib__room_left(ib_room_t *r, ib_user_t *u, int64_t now)
{
    (void)u;
    if (r->kind == IB_ROOM_MEET)
        ib__booth_meet_left(r, now);
    else if (r->kind == IB_ROOM_PAIR && !r->ev->srv->draining)
        ib__sn_pair_left(r, now); /* a drain hands the session over, nobody left */
}

void ib__room_joined_remote(ib_room_t *r, const char *id)
{
    if (r->kind == IB_ROOM_PAIR)
        ib__sn_pair_joined(r, id);
}

ib_member_t *ib_room_member(const ib_room_t *r, const ib_user_t *u)
{
    return ib_map_get(&r->by_user, u->id);
}

uint32_t ib_room_count(const ib_room_t *r)
{
    return r->count + r->n_remote_only;
}

bool ib_room_has_member_id(const ib_room_t *r, const char *id)
{
    return ib_map_get(&r->by_user, id) || ib_map_get(&r->remote, id);
}

bool ib_room_is_crowded(const ib_room_t *r)
{
    return ib_room_count(r) > (uint32_t)r->ev->srv->cfg->crowd;
}

int ib_room_enter(ib_room_t *r, ib_session_t *s)
{
    if (ib_session_in_room(s, r))
        return 0;
    int rc = ib__session_add_room(s, r);
    if (rc)
        return rc;
    ib_member_t *m = ib_room_member(r, s->user);
    if (m) {
        m->n_sessions++;
        return 0;
    }
    m = calloc(1, sizeof(*m));
    if (!m || ib_map_put(&r->by_user, s->user->id, m)) {
        free(m);
        ib__session_del_room(s, r);
        return IB_ENOMEM;
    }
    m->user = s->user;
    m->n_sessions = 1;
    m->joined_ms = r->ev->srv->now;
    m->prev = r->last;
    if (r->last)
        r->last->next = m;
    else
        r->first = m;
    r->last = m;
    r->count++;
    ib__room_page_joined(r);
    if (ib_map_get(&r->remote, s->user->id))
        r->n_remote_only--;
    if (ib__cluster_room(r)) {
        ib__cluster_member(r, s->user, "joined");
        if (r->sync == IB_SYNC_NONE)
            ib__cluster_room_load(r, false);
    }
    return 1;
}

int ib_room_exit(ib_room_t *r, ib_session_t *s)
{
    if (!ib_session_in_room(s, r))
        return IB_ENOTFOUND;
    ib__session_del_room(s, r);
    ib_member_t *m = ib_room_member(r, s->user);
    if (!m || --m->n_sessions)
        return 0;
    ib_map_del(&r->by_user, s->user->id);
    if (m->prev)
        m->prev->next = m->next;
    else
        r->first = m->next;
    if (m->next)
        m->next->prev = m->prev;
    else
        r->last = m->prev;
    free(m);
    r->count--;
    ib__room_page_drop(r);
    if (ib_map_get(&r->remote, s->user->id))
        r->n_remote_only++;
    /* A draining node's presence stays until the survivors remove it after
     * the grace period, so that its clients can resume elsewhere unseen. */
    if (!r->ev->srv->draining)
        ib__cluster_member(r, s->user, "left");
    return 1;
}

int ib_room_exit_user(ib_room_t *r, ib_user_t *u)
{
    int gone = 0;
    for (ib_session_t *s = u->sessions; s; s = s->unext)
        if (ib_session_in_room(s, r) && ib_room_exit(r, s) == 1)
            gone = 1;
    return gone;
}

void ib_room_empty(ib_room_t *r)
{
    while (r->first)
        ib_room_exit_user(r, r->first->user);
}

void ib__room_send_local(ib_room_t *r, ib_buf_t *buf, const char *except, const char *from)
{
    bool any_blocks = from && r->ev->blocks.count > 0;
    for (ib_member_t *m = r->first; m; m = m->next) {
        if (except && !strcmp(m->user->id, except))
            continue;
        if (any_blocks && ib_event_blocks(r->ev, m->user->id, from))
            continue;
        for (ib_session_t *s = m->user->sessions; s; s = s->unext)
            if (s->state == IB_SESSION_LIVE && ib_session_in_room(s, r))
                ib_session_send(s, buf);
    }
}

void ib_room_send(ib_room_t *r, ib_buf_t *buf, const ib_user_t *except)
{
    ib__room_send_local(r, buf, except ? except->id : NULL, NULL);
    if (ib__cluster_room(r)) {
        json_t *hdr = json_pack("{s:s,s:s}", "k", "r", "room", r->id);
        if (hdr && except)
            json_object_set_new(hdr, "x", json_string(except->id));
        ib__cluster_publish(r->ev, hdr, buf);
    }
}

void ib_room_send_from(ib_room_t *r, ib_buf_t *buf, const char *from)
{
    ib__room_send_local(r, buf, NULL, from);
    if (ib__cluster_room(r))
        ib__cluster_publish(r->ev, json_pack("{s:s,s:s,s:s}", "k", "r", "room", r->id, "f", from),
                            buf);
}

void ib_user_send(ib_user_t *u, ib_buf_t *buf)
{
    for (ib_session_t *s = u->sessions; s; s = s->unext)
        if (s->state == IB_SESSION_LIVE)
            ib_session_send(s, buf);
    if (ib__cluster(u->ev->srv))
        ib__cluster_publish(u->ev, json_pack("{s:s,s:s}", "k", "u", "id", u->id), buf);
}

void ib_user_send_id(ib_event_t *ev, const char *id, const char *room, ib_buf_t *buf)
{
    ib_user_t *u = ib_user_find(ev, id);
    ib_room_t *r = room ? ib_room_get(ev, room, false) : NULL;
    for (ib_session_t *s = u ? u->sessions : NULL; s; s = s->unext)
        if (s->state == IB_SESSION_LIVE && (!room || (r && ib_session_in_room(s, r))))
            ib_session_send(s, buf);
    if (ib__cluster(ev->srv)) {
        json_t *hdr = json_pack("{s:s,s:s}", "k", "u", "id", id);
        if (hdr && room)
            json_object_set_new(hdr, "room", json_string(room));
        ib__cluster_publish(ev, hdr, buf);
    }
}

size_t ib_event_send(ib_event_t *ev, ib_buf_t *buf)
{
    size_t n = 0;
    const char *k;
    void *v;
    for (size_t i = 0; ib_map_next(&ev->users, &i, &k, &v);) {
        ib_user_t *u = v;
        for (ib_session_t *s = u->sessions; s; s = s->unext)
            if (s->state == IB_SESSION_LIVE)
                ib_session_send(s, buf);
        n++;
    }
    if (ib__cluster(ev->srv))
        ib__cluster_publish(ev, json_pack("{s:s}", "k", "e"), buf);
    return n;
}

void ib__room_count_changed(ib_room_t *r)
{
    if (r->count_dirty)
        return;
    r->count_dirty = true;
    r->dirty_next = r->ev->srv->dirty_rooms;
    r->ev->srv->dirty_rooms = r;
}

void ib__room_presence_json(ib_room_t *r, json_t *user, const char *state)
{
    ib_server_t *srv = r->ev->srv;
    /* The crowd rule looks at the larger of the counts before and after
     * the change, so the arrival that makes a room crowded is counted, not
     * announced, and so is the departure that makes it small again. */
    bool crowded =
        ib_room_count(r) + (strcmp(state, "left") == 0 ? 1 : 0) > (uint32_t)srv->cfg->crowd;
    if (crowded) {
        if (strcmp(state, "updated"))
            ib__room_count_changed(r);
        return;
    }
    json_t *ev = json_pack("{s:s,s:s,s:O,s:s}", "type", "presence", "room", r->id, "user", user,
                           "state", state);
    ib_buf_t *b = ib_buf_from_json(ev);
    json_decref(ev);
    if (!b)
        return;
    srv->metrics.presence_events++;
    ib__room_send_local(r, b, json_string_value(json_object_get(user, "id")), NULL);
    ib_buf_unref(b);
}

/* Whether id is in a JSON array of strings; remove it when found. */
static bool take_id(json_t *arr, const char *id)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) if (!strcmp(json_string_value(v), id))
    {
        json_array_remove(arr, i);
        return true;
    }
    return false;
}

void ib_room_presence(ib_room_t *r, ib_user_t *u, const char *state)
{
    if (!strcmp(state, "updated"))
        ib__room_page_drop(r); /* u's status is on the cached page */
    if (ib__cluster_room(r)) {
        if (!strcmp(state, "updated")) {
            ib__cluster_member(r, u, "updated");
        } else {
            /* Arrivals wait for the room's remote members (a user already
             * here through another node is not announced again). */
            if (r->sync == IB_SYNC_LOADING && !strcmp(state, "joined")) {
                if (!r->sync_joined)
                    r->sync_joined = json_array();
                json_array_append_new(r->sync_joined, json_string(u->id));
                return;
            }
            if (!strcmp(state, "left") && take_id(r->sync_joined, u->id))
                return;
            if (ib_map_get(&r->remote, u->id))
                return;
        }
    }
    json_t *user = ib_user_json(u);
    if (user)
        ib__room_presence_json(r, user, state);
    json_decref(user);
}

void ib__rooms_flush_counts(ib_server_t *srv, int64_t now)
{
    ib_room_t **p = &srv->dirty_rooms;
    while (*p) {
        ib_room_t *r = *p;
        if (now - r->count_sent_ms < 1000) {
            p = &r->dirty_next;
            continue;
        }
        *p = r->dirty_next;
        r->count_dirty = false;
        r->dirty_next = NULL;
        r->count_sent_ms = now;
        json_t *ev = json_pack("{s:s,s:s,s:I}", "type", "presence.count", "room", r->id, "count",
                               (json_int_t)ib_room_count(r));
        ib_buf_t *b = ib_buf_from_json(ev);
        json_decref(ev);
        if (b) {
            ib__room_send_local(r, b, NULL, NULL);
            ib_buf_unref(b);
        }
    }
}

typedef struct sorted_member {
    int64_t joined;
    size_t order;
    json_t *user; /* borrowed or NULL (then local) */
    const ib_user_t *local;
    const char *id;
} sorted_member_t;

static int by_joined(const void *a, const void *b)
{
    const sorted_member_t *x = a, *y = b;
    if (x->joined != y->joined)
        return x->joined < y->joined ? -1 : 1;
    /* The same millisecond on two nodes: by user id, the same order on
     * every node. */
    int c = strcmp(x->id, y->id);
    if (c)
        return c;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* Local and remote members merged, oldest first. */
static json_t *members_merged(const ib_room_t *r, size_t offset, size_t limit)
{
    size_t n = ib_room_count(r), k = 0;
    sorted_member_t *all = calloc(n ? n : 1, sizeof(*all));
    json_t *arr = json_array();
    if (!all || !arr) {
        free(all);
        return arr;
    }
    for (ib_member_t *m = r->first; m && k < n; m = m->next, k++)
        all[k] = (sorted_member_t){m->joined_ms, k, NULL, m->user, m->user->id};
    const char *key;
    void *v;
    for (size_t i = 0; k < n && ib_map_next(&r->remote, &i, &key, &v);) {
        ib_remote_t *rm = v;
        if (!ib_map_get(&r->by_user, key)) {
            all[k] = (sorted_member_t){rm->joined_ms, k, rm->user, NULL, rm->id};
            k++;
        }
    }
    qsort(all, k, sizeof(*all), by_joined);
    for (size_t i = offset; i < k && i - offset < limit; i++)
        json_array_append_new(arr,
                              all[i].local ? ib_user_json(all[i].local) : json_incref(all[i].user));
    free(all);
    return arr;
}

json_t *ib_room_members_json(const ib_room_t *r, size_t offset, size_t limit)
{
    if (r->remote.count)
        return members_merged(r, offset, limit);
    json_t *arr = json_array();
    if (!arr)
        return NULL;
    ib_member_t *m = r->first;
    for (size_t i = 0; m && i < offset; i++)
        m = m->next;
    for (size_t n = 0; m && n < limit; n++, m = m->next)
        json_array_append_new(arr, ib_user_json(m->user));
    return arr;
}
