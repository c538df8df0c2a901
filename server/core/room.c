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

void ib__event_destroy(ib_event_t *ev)
{
    ib__event_free_moderation(ev);
    ib__event_free_booths(ev);
    ib__event_free_sn(ev);
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
    ib_map_free(&r->by_user);
    /* allowed maps user id -> strdup'ed id (keys owned by values) */
    const char *k;
    void *v;
    for (size_t i = 0; ib_map_next(&r->allowed, &i, &k, &v);)
        free(v);
    ib_map_free(&r->allowed);
    ib_event_t *ev = r->ev;
    free(r->id);
    free(r);
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
    else if (r->kind == IB_ROOM_PAIR)
        ib__sn_pair_left(r, now);
}

ib_member_t *ib_room_member(const ib_room_t *r, const ib_user_t *u)
{
    return ib_map_get(&r->by_user, u->id);
}

bool ib_room_is_crowded(const ib_room_t *r)
{
    return r->count > (uint32_t)r->ev->srv->cfg->crowd;
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
    m->prev = r->last;
    if (r->last)
        r->last->next = m;
    else
        r->first = m;
    r->last = m;
    r->count++;
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

void ib_room_send(ib_room_t *r, ib_buf_t *buf, const ib_user_t *except)
{
    for (ib_member_t *m = r->first; m; m = m->next) {
        if (m->user == except)
            continue;
        for (ib_session_t *s = m->user->sessions; s; s = s->unext)
            if (s->state == IB_SESSION_LIVE && ib_session_in_room(s, r))
                ib_session_send(s, buf);
    }
}

void ib_room_send_from(ib_room_t *r, ib_buf_t *buf, const char *from)
{
    bool any_blocks = r->ev->blocks.count > 0;
    for (ib_member_t *m = r->first; m; m = m->next) {
        if (any_blocks && ib_event_blocks(r->ev, m->user->id, from))
            continue;
        for (ib_session_t *s = m->user->sessions; s; s = s->unext)
            if (s->state == IB_SESSION_LIVE && ib_session_in_room(s, r))
                ib_session_send(s, buf);
    }
}

void ib_user_send(ib_user_t *u, ib_buf_t *buf)
{
    for (ib_session_t *s = u->sessions; s; s = s->unext)
        if (s->state == IB_SESSION_LIVE)
            ib_session_send(s, buf);
}

void ib__room_count_changed(ib_room_t *r)
{
    if (r->count_dirty)
        return;
    r->count_dirty = true;
    r->dirty_next = r->ev->srv->dirty_rooms;
    r->ev->srv->dirty_rooms = r;
}

void ib_room_presence(ib_room_t *r, ib_user_t *u, const char *state)
{
    ib_server_t *srv = r->ev->srv;
    /* The crowd rule looks at the larger of the counts before and after
     * the change, so the arrival that makes a room crowded is counted, not
     * announced, and so is the departure that makes it small again. */
    bool crowded = r->count + (strcmp(state, "left") == 0 ? 1 : 0) > (uint32_t)srv->cfg->crowd;
    if (crowded) {
        if (strcmp(state, "updated"))
            ib__room_count_changed(r);
        return;
    }
    json_t *ev = json_pack("{s:s,s:s,s:o,s:s}", "type", "presence", "room", r->id, "user",
                           ib_user_json(u), "state", state);
    ib_buf_t *b = ib_buf_from_json(ev);
    json_decref(ev);
    if (!b)
        return;
    srv->metrics.presence_events++;
    ib_room_send(r, b, u);
    ib_buf_unref(b);
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
                               (json_int_t)r->count);
        ib_buf_t *b = ib_buf_from_json(ev);
        json_decref(ev);
        if (b) {
            ib_room_send(r, b, NULL);
            ib_buf_unref(b);
        }
    }
}

json_t *ib_room_members_json(const ib_room_t *r, size_t offset, size_t limit)
{
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
