/*
 * Speed networking, live: a host creates a session in a lounge, members of
 * the lounge opt in, and timed rounds pair them in pair: rooms.
 *
 * The phases, the clock, who is in which group and the re-pairing are the
 * scheduler's (ib_sched.h, pure); the pairing itself is ib_match's (rules
 * and guarantees in ib_match.h). This file is the I/O around them: it feeds
 * the scheduler the verbs, the server tick (100 ms, a libuv timer in net/),
 * departures from pair: rooms and who is connected, and turns the events it
 * returns into messages and rooms: sn.state to the lounge on every change
 * of phase or of ends_at, a fresh pair: room for each group that only its
 * members may enter, sn.match to each participant with their partners and
 * what makes the match, sn.warning 30 s before the end of a long round.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "icebreaker/ib_sn.h"
#include "sn_internal.h"
#include "sn_wire.h"

#define IB_SN_ROUNDS_MAX 100
#define IB_SN_SECONDS_MAX 7200
#define IB_SN_PER_EVENT_MAX 64

ib_sn_person_t *ib__sn_person(const ib_sn_t *sn, const char *id)
{
    return ib_map_get(&sn->people, id);
}

static ib_sn_person_t *by_handle(ib_sn_t *sn, uint32_t h)
{
    const char *id = ib_match_pool_id(ib_sched_pool(sn->sched), h);
    return id ? ib__sn_person(sn, id) : NULL;
}

bool ib__sn_met(const ib_sn_t *sn, uint32_t round, const char *a, const char *b)
{
    json_t *r = json_array_get(sn->history, round - 1);
    size_t i, j;
    json_t *g, *m;
    json_array_foreach(json_object_get(r, "groups"), i, g)
    {
        bool has_a = false, has_b = false;
        json_array_foreach(g, j, m)
        {
            has_a |= !strcmp(json_string_value(m), a);
            has_b |= !strcmp(json_string_value(m), b);
        }
        if (has_a && has_b)
            return strcmp(a, b) != 0;
    }
    return false;
}

static json_t *state_msg(const ib_sn_t *sn, ib_sched_phase_t phase, uint32_t round, int64_t ends_at,
                         int64_t now)
{
    bool timed = phase == IB_SCHED_ROUND || phase == IB_SCHED_BREAK;
    return json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:o,s:I}", "type", "sn.state", "session", sn->id,
                     "lounge", sn->lounge, "phase", ib_sched_phase_name(phase), "round",
                     (json_int_t)round, "rounds", (json_int_t)ib_sched_config(sn->sched)->rounds,
                     "participants", (json_int_t)ib_sched_participants(sn->sched), "ends_at",
                     timed ? json_integer(ends_at) : json_null(), "server_time", (json_int_t)now);
}

/* The current state. */
static json_t *state_json(const ib_sn_t *sn, int64_t now)
{
    if (sn->stub) {
        json_t *st = json_deep_copy(sn->st);
        json_object_set_new(st, "server_time", json_integer(now));
        return st;
    }
    return state_msg(sn, ib_sched_phase(sn->sched), ib_sched_round(sn->sched),
                     ib_sched_ends_at(sn->sched), now);
}

json_t *ib__sn_state_json(const ib_sn_t *sn, int64_t now)
{
    return state_json(sn, now);
}

/* sn.state to every member of the lounge (and to the host who made it,
 * wherever they are), on every node. */
static void broadcast(ib_sn_t *sn, json_t *st)
{
    ib__sn_cluster_state(sn, st);
    ib_buf_t *b = ib_buf_from_json(st);
    json_decref(st);
    if (!b)
        return;
    ib_room_t *lounge = ib_room_get(sn->ev, sn->lounge, false);
    if (lounge)
        ib_room_send(lounge, b, NULL);
    if (!(lounge && ib_room_has_member_id(lounge, sn->host)))
        ib_user_send_id(sn->ev, sn->host, NULL, b);
    ib_buf_unref(b);
}

/* To a user's sessions on every node. */
static void send_to(ib_sn_t *sn, const char *id, json_t *msg)
{
    ib_buf_t *b = ib_buf_from_json(msg);
    if (b) {
        ib_user_send_id(sn->ev, id, NULL, b);
        ib_buf_unref(b);
    }
}

static bool connected(const ib_sn_t *sn, const char *id)
{
    ib_user_t *u = ib_user_find(sn->ev, id);
    for (ib_session_t *s = u ? u->sessions : NULL; s; s = s->unext)
        if (s->state == IB_SESSION_LIVE || s->state == IB_SESSION_DETACHED)
            return true;
    /* On another node: a member of the lounge there (the copy of its
     * remote members is kept while this node drives the session). */
    ib_room_t *lounge = sn->lounge_pinned ? ib_room_get(sn->ev, sn->lounge, false) : NULL;
    return lounge && ib_map_get(&lounge->remote, id);
}

/* The scheduler's presence callback. */
static bool present(void *ctx, uint32_t h)
{
    ib_sn_t *sn = ctx;
    const char *id = ib_match_pool_id(ib_sched_pool(sn->sched), h);
    return id && connected(sn, id);
}

void ib__sn_pin_lounge(ib_sn_t *sn, bool on)
{
    if (on == sn->lounge_pinned)
        return;
    ib_room_t *r = ib_room_get(sn->ev, sn->lounge, on);
    if (!r)
        return;
    sn->lounge_pinned = on;
    if (on) {
        r->pins++;
        if (r->sync == IB_SYNC_NONE)
            ib__cluster_room_load(r, false);
    } else {
        r->pins--;
        ib_room_maybe_free(r);
    }
}

/* The reasons of a match (ib_match_shared) as wire strings: "ai" for a
 * shared interest, "you offer: x" / "they offer: x" for an offer meeting a
 * seek. */
static json_t *shared_json(const ib_match_reason_t *r, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n && i < IB_MATCH_SHARED_MAX; i++) {
        char buf[IB_MATCH_TAG_LEN_MAX * 4 + 16];
        snprintf(buf, sizeof(buf), "%s%s", ib__sn_reason_prefix(r[i].kind), r[i].tag);
        json_array_append_new(arr, json_string(buf));
    }
    return arr;
}

/* Take p out of the pair: room of their previous group (no hooks: the
 * scheduler already knows). */
static void leave_room(ib_sn_t *sn, ib_sn_person_t *p)
{
    ib_room_t *r = p->room ? ib_room_get(sn->ev, p->room, false) : NULL;
    ib_user_t *u = ib_user_find(sn->ev, p->id);
    if (r && u)
        ib_room_exit_user(r, u);
    free(p->room);
    p->room = NULL;
}

/* "pair:<session>-": the ids of the session's pair: rooms start so. */
static void pair_prefix(const ib_sn_t *sn, char *out, size_t n)
{
    snprintf(out, n, "pair:%.40s-", sn->id);
}

/* user's sessions on every node out of the session's other pair: rooms
 * and into room (NULL: none), open to allow, then buf (may be NULL). */
static void put_in_pair(ib_sn_t *sn, const char *room, const char *user, json_t *allow,
                        ib_buf_t *buf)
{
    char prefix[IB_ID_MAX + 8];
    pair_prefix(sn, prefix, sizeof(prefix));
    ib__cluster_room_put(sn->ev, room, prefix, user, allow, buf);
}

/* p's new group (room, with the ids of allow) or bye (room NULL) in round:
 * their sessions on every node move there and hear match (wire: match as
 * sn_wire.c wrote it, or NULL to encode match). On one node, match was
 * sent beforehand (apply: send_group, send_bye). */
static void person_set_match(ib_sn_t *sn, ib_sn_person_t *p, const char *room, uint32_t round,
                             json_t *match, json_t *allow, ib_buf_t *wire)
{
    leave_room(sn, p);
    p->room = room ? strdup(room) : NULL;
    json_decref(p->match);
    p->match = match;
    p->round = round;
    if (!ib__cluster(sn->ev->srv))
        return;
    ib_buf_t *b = wire ? ib_buf_ref(wire) : ib_buf_from_json(match);
    if (b) {
        put_in_pair(sn, room, p->id, allow, b);
        ib_buf_unref(b);
    }
}

/* What the sn.match of every member of one group has in common, made once
 * and referenced by each member's message (fewer allocations in a round
 * start); match_common_free drops the group's own references. */
typedef struct match_common {
    json_t *v[5]; /* type, session, round, room, ends_at */
} match_common_t;

static void match_common_init(match_common_t *c, const ib_sn_t *sn, const ib_sched_event_t *e,
                              const char *room)
{
    c->v[0] = json_string("sn.match");
    c->v[1] = json_string(sn->id);
    c->v[2] = json_integer(e->round);
    c->v[3] = room ? json_string(room) : json_null();
    c->v[4] = json_integer(e->ends_at);
}

static void match_common_free(match_common_t *c)
{
    for (int i = 0; i < 5; i++)
        json_decref(c->v[i]);
}

static json_t *match_msg(const match_common_t *c, json_t *partners)
{
    json_t *m = json_pack("{s:O,s:O,s:O,s:O,s:O,s:o}", "type", c->v[0], "session", c->v[1], "round",
                          c->v[2], "room", c->v[3], "ends_at", c->v[4], "partners", partners);
    if (m && json_is_null(c->v[3]))
        json_object_set_new(m, "reason", json_string("bye"));
    return m;
}

/* Make pair: room room_id for group g, open to its members, with their
 * connected sessions in it. Returns the room or NULL on ENOMEM. */
static ib_room_t *make_room(ib_sn_t *sn, const char *room_id, uint32_t g, ib_sn_person_t **ps,
                            size_t n)
{
    ib_room_t *r = ib_room_get(sn->ev, room_id, true);
    if (!r)
        return NULL;
    r->pins++; /* the session holds its rooms until the round ends */
    json_object_set_new(sn->rooms_now, room_id, json_integer(g));
    for (size_t i = 0; i < n; i++) {
        ib__room_allow(r, ps[i]->id);
        ib_user_t *u = ib_user_find(sn->ev, ps[i]->id);
        for (ib_session_t *s = u ? u->sessions : NULL; s; s = s->unext)
            if (s->state == IB_SESSION_LIVE || s->state == IB_SESSION_DETACHED)
                ib_room_enter(r, s);
    }
    /* Members on other nodes: the room keeps a copy of them (who is seen
     * there is in it now or when it loads, ib__sn_pair_joined). */
    if (ib__cluster_room(r) && r->sync == IB_SYNC_NONE)
        ib__cluster_room_load(r, false);
    for (size_t i = 0; i < n; i++)
        ps[i]->seen = ib_room_has_member_id(r, ps[i]->id);
    return r;
}

/* The members of a group (or bye) event that are known here. */
static size_t members(ib_sn_t *sn, const ib_sched_event_t *e, ib_sn_person_t **ps)
{
    size_t n = 0;
    for (unsigned m = 0; m < e->n_members; m++)
        if ((ps[n] = by_handle(sn, e->members[m])))
            n++;
    return n;
}

static void room_name(char *buf, size_t len, const ib_sn_t *sn, uint32_t no)
{
    snprintf(buf, len, "pair:%.40s-%u", sn->id, no);
}

/* Member i's sn.match in a group of n, for room_id, as sn_wire.c writes it
 * (the bytes json_dumpb writes for what open_group keeps). */
static ib_buf_t *group_wire(ib_sn_t *sn, uint32_t round, int64_t ends_at, const char *room_id,
                            ib_sn_person_t **ps, size_t n, size_t i)
{
    ib_match_reason_t r[IB_MATCH_GROUP_MAX][IB_MATCH_SHARED_MAX];
    ib_sn_wire_partner_t wp[IB_MATCH_GROUP_MAX];
    size_t k = 0;
    for (size_t j = 0; j < n; j++) {
        if (j == i)
            continue;
        size_t ns = ib_match_shared(ib_sched_pool(sn->sched), ps[i]->handle, ps[j]->handle, r[k],
                                    IB_MATCH_SHARED_MAX);
        wp[k] = (ib_sn_wire_partner_t){ps[j]->id, ps[j]->name, ps[j]->headline, r[k], ns};
        k++;
    }
    return ib__sn_wire_match(sn->id, round, room_id, ends_at, wp, k);
}

/* On one node: p's sn.match as sent (b, a reference) is what a resume
 * resends. */
static void keep_wire(ib_sn_person_t *p, uint32_t round, int64_t ends_at, ib_buf_t *b)
{
    ib_buf_unref(p->match_wire);
    p->match_wire = b ? ib_buf_ref(b) : NULL;
    p->match_ends_at = ends_at;
    p->round = round;
}

/* One node: a GROUP event's messages, before its room is made (apply),
 * for the pair: room numbered no. */
static void send_group(ib_sn_t *sn, const ib_sched_event_t *e, uint32_t no)
{
    ib_sn_person_t *ps[IB_MATCH_GROUP_MAX];
    size_t n = members(sn, e, ps);
    char room_id[IB_ID_MAX + 8];
    room_name(room_id, sizeof(room_id), sn, no);
    for (size_t i = 0; i < n; i++) {
        ib_buf_t *b = group_wire(sn, e->round, e->ends_at, room_id, ps, n, i);
        if (b)
            ib_user_send_id(sn->ev, ps[i]->id, NULL, b);
        keep_wire(ps[i], e->round, e->ends_at, b);
        ib_buf_unref(b);
    }
}

static void send_bye(ib_sn_t *sn, const ib_sched_event_t *e)
{
    ib_sn_person_t *p = by_handle(sn, e->members[0]);
    ib_buf_t *b = p ? ib__sn_wire_match(sn->id, e->round, NULL, e->ends_at, NULL, 0) : NULL;
    if (b)
        ib_user_send_id(sn->ev, p->id, NULL, b);
    if (p)
        keep_wire(p, e->round, e->ends_at, b);
    ib_buf_unref(b);
}

/* A GROUP event: a room, and each member's sn.match, kept as JSON (resent
 * on resume, handed over) and, across nodes, sent with the room. */
static void open_group(ib_sn_t *sn, const ib_sched_event_t *e)
{
    ib_sn_person_t *ps[IB_MATCH_GROUP_MAX];
    size_t n = members(sn, e, ps);
    char room_id[IB_ID_MAX + 8];
    room_name(room_id, sizeof(room_id), sn, ++sn->next_room);
    /* The members leave the room they had (a re-pairing) before entering
     * the new one. */
    for (size_t i = 0; i < n; i++)
        leave_room(sn, ps[i]);
    if (!make_room(sn, room_id, e->group, ps, n))
        return;
    json_t *ids = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(ids, json_string(ps[i]->id));
    json_t *hist = json_array_get(sn->history, e->round - 1);
    json_array_append_new(json_object_get(hist, "groups"), json_incref(ids));
    if (!ib__cluster(sn->ev->srv)) {
        /* One node: the sn.match went out as bytes (send_group), which
         * are what a resume resends; no JSON to keep. */
        for (size_t i = 0; i < n; i++) {
            ps[i]->room = strdup(room_id);
            json_decref(ps[i]->match);
            ps[i]->match = NULL;
            ps[i]->round = e->round;
        }
        json_decref(ids);
        return;
    }
    ib_match_reason_t r[IB_MATCH_SHARED_MAX];
    match_common_t common;
    match_common_init(&common, sn, e, room_id);
    for (size_t i = 0; i < n; i++) {
        json_t *partners = json_array();
        for (size_t j = 0; j < n; j++) {
            if (j == i)
                continue;
            size_t ns = ib_match_shared(ib_sched_pool(sn->sched), ps[i]->handle, ps[j]->handle, r,
                                        IB_MATCH_SHARED_MAX);
            json_t *card = ib__sn_card(ps[j], false);
            json_object_set_new(card, "shared", shared_json(r, ns));
            json_array_append_new(partners, card);
        }
        ib_buf_t *wire = group_wire(sn, e->round, e->ends_at, room_id, ps, n, i);
        person_set_match(sn, ps[i], room_id, e->round, match_msg(&common, partners), ids, wire);
        ib_buf_unref(wire);
    }
    match_common_free(&common);
    json_decref(ids);
}

static void give_bye(ib_sn_t *sn, const ib_sched_event_t *e)
{
    ib_sn_person_t *p = by_handle(sn, e->members[0]);
    if (!p)
        return;
    if (!e->repair) {
        json_t *hist = json_array_get(sn->history, e->round - 1);
        json_array_append_new(json_object_get(hist, "byes"), json_string(p->id));
    }
    if (!ib__cluster(sn->ev->srv)) { /* one node: as in open_group */
        leave_room(sn, p);
        json_decref(p->match);
        p->match = NULL;
        p->round = e->round;
        return;
    }
    ib_buf_t *wire = ib__sn_wire_match(sn->id, e->round, NULL, e->ends_at, NULL, 0);
    match_common_t common;
    match_common_init(&common, sn, e, NULL);
    person_set_match(sn, p, NULL, e->round, match_msg(&common, json_array()), NULL, wire);
    match_common_free(&common);
    ib_buf_unref(wire);
}

/* Close the rooms of the round: everyone in them is taken out (on every
 * node when everywhere: the round ended). Matches kept as bytes for
 * rounds up to upto go too: on one node the next round's were kept
 * already, when they were sent (send_first runs before this). */
static void close_rooms(ib_sn_t *sn, bool everywhere, uint32_t upto)
{
    const char *id;
    json_t *g;
    json_object_foreach(sn->rooms_now, id, g)
    {
        ib_room_t *r = ib_room_get(sn->ev, id, false);
        if (!r)
            continue;
        ib_room_empty(r);
        r->pins--;
        ib_room_maybe_free(r);
    }
    json_object_clear(sn->rooms_now);
    const char *k;
    void *v;
    for (size_t j = 0; ib_map_next(&sn->people, &j, &k, &v);) {
        ib_sn_person_t *p = v;
        free(p->room);
        p->room = NULL;
        json_decref(p->match);
        p->match = NULL;
        if (p->round <= upto) {
            ib_buf_unref(p->match_wire);
            p->match_wire = NULL;
        }
    }
    char prefix[IB_ID_MAX + 8];
    pair_prefix(sn, prefix, sizeof(prefix));
    if (everywhere)
        ib__cluster_rooms_close(sn->ev, prefix);
}

/* p's sn.match of round as a group member (room) or bye, made again (one
 * node, for a moved deadline). NULL without memory. */
static ib_buf_t *rewire(ib_sn_t *sn, ib_sn_person_t *p, uint32_t round, int64_t ends_at)
{
    if (!p->room)
        return ib__sn_wire_match(sn->id, round, NULL, ends_at, NULL, 0);
    uint32_t members[IB_MATCH_GROUP_MAX], g;
    unsigned k = ib_sched_group_of(sn->sched, p->handle, members, &g);
    ib_sn_person_t *ps[IB_MATCH_GROUP_MAX];
    size_t n = 0, me = 0;
    for (unsigned m = 0; m < k; m++)
        if ((ps[n] = by_handle(sn, members[m]))) {
            if (ps[n] == p)
                me = n;
            n++;
        }
    return group_wire(sn, round, ends_at, p->room, ps, n, me);
}

/* Stored sn.match messages (resent on resume) follow a moved deadline. */
static void set_ends_at(ib_sn_t *sn, uint32_t round, int64_t ends_at)
{
    const char *k;
    void *v;
    for (size_t i = 0; ib_map_next(&sn->people, &i, &k, &v);) {
        ib_sn_person_t *p = v;
        if (p->round != round)
            continue;
        if (p->match)
            json_object_set_new(p->match, "ends_at", json_integer(ends_at));
        if (p->match_wire && p->match_ends_at != ends_at) {
            ib_buf_t *b = rewire(sn, p, round, ends_at);
            if (b)
                keep_wire(p, round, ends_at, b);
            ib_buf_unref(b);
        }
    }
}

static void warn(ib_sn_t *sn, const ib_sched_event_t *e)
{
    json_t *w = json_pack("{s:s,s:s,s:I,s:I}", "type", "sn.warning", "session", sn->id, "round",
                          (json_int_t)e->round, "seconds_left", (json_int_t)e->seconds_left);
    const char *k;
    void *v;
    for (size_t m = 0; ib_map_next(&sn->people, &m, &k, &v);) {
        ib_sn_person_t *p = v;
        if (ib_sched_in_round(sn->sched, p->handle))
            send_to(sn, p->id, w);
    }
    json_decref(w);
}

/*
 * One node: the events' messages, all of them, written at once (a round
 * start at 10k: each participant's sn.state and sn.match in one send),
 * before apply() makes the rooms and what is kept (stored matches,
 * history). Nothing else runs in between, so no one can act on a match
 * before its room exists; each connection gets its messages in the events'
 * order. Returns whether it sent them (else apply() does, as it goes:
 * across nodes a match travels with its room).
 */
static bool send_first(ib_sn_t *sn, const ib_sched_events_t *ev, int64_t now)
{
    ib_server_t *srv = sn->ev->srv;
    if (ib__cluster(srv))
        return false;
    uint32_t no = sn->next_room; /* open_group numbers the rooms the same way */
    for (size_t i = 0; i < ev->n; i++) {
        const ib_sched_event_t *e = &ev->v[i];
        if (e->kind == IB_SCHED_EV_STATE)
            broadcast(sn, state_msg(sn, e->phase, e->round, e->ends_at, now));
        else if (e->kind == IB_SCHED_EV_GROUP)
            send_group(sn, e, ++no);
        else if (e->kind == IB_SCHED_EV_BYE)
            send_bye(sn, e);
        else if (e->kind == IB_SCHED_EV_WARNING)
            warn(sn, e);
    }
    if (srv->tr.flush && no != sn->next_room)
        srv->tr.flush(srv->tr.ctx);
    return true;
}

/* The transport's monotonic clock (us), or -1: for the round-start
 * metric only. */
static int64_t mono_us(const ib_sn_t *sn)
{
    const ib_transport_t *tr = &sn->ev->srv->tr;
    return tr->mono_us ? tr->mono_us(tr->ctx) : -1;
}

/* A round start that began at t0 (mono_us, before the matching, or -1:
 * not measured): its time to the last sn.match written (one node:
 * send_first) or handed on. */
static void measure_round_start(ib_sn_t *sn, int64_t t0)
{
    if (t0 < 0)
        return;
    int64_t t1 = mono_us(sn);
    if (t1 >= t0)
        ib_metrics_round_start(sn->ev->srv, t1 - t0);
}

/* Turn the scheduler's events into messages and rooms, then forget them.
 * t0: mono_us() before the scheduler made them, or -1 (not measured). */
static void apply_from(ib_sn_t *sn, ib_sched_events_t *ev, int64_t now, int64_t t0)
{
    bool changed = ev->n > 0;
    /* Whether a round starts, and whether the change is to be saved at
     * once (several nodes): a new phase, round or deadline is; a
     * re-pairing or a warning inside a round waits for the next save (at
     * most a second). */
    bool round_start = false, urgent = false;
    for (size_t i = 0; i < ev->n; i++) {
        ib_sched_event_kind_t k = ev->v[i].kind;
        round_start |= k == IB_SCHED_EV_ROUND_START;
        urgent |= k != IB_SCHED_EV_GROUP && k != IB_SCHED_EV_BYE && k != IB_SCHED_EV_WARNING;
    }
    bool sent = send_first(sn, ev, now);
    if (sent && round_start)
        measure_round_start(sn, t0);
    for (size_t i = 0; i < ev->n; i++) {
        const ib_sched_event_t *e = &ev->v[i];
        switch (e->kind) {
        case IB_SCHED_EV_STATE:
            if (e->ends_at && e->phase == IB_SCHED_ROUND)
                set_ends_at(sn, e->round, e->ends_at);
            if (!sent)
                broadcast(sn, state_msg(sn, e->phase, e->round, e->ends_at, now));
            break;
        case IB_SCHED_EV_ROUND_START:
            sn->ev->srv->metrics.sn_rounds++;
            json_array_append_new(sn->history,
                                  json_pack("{s:I,s:I,s:[],s:[]}", "round", (json_int_t)e->round,
                                            "started", (json_int_t)e->at, "groups", "byes"));
            break;
        case IB_SCHED_EV_GROUP:
            open_group(sn, e);
            break;
        case IB_SCHED_EV_BYE:
            give_bye(sn, e);
            break;
        case IB_SCHED_EV_WARNING:
            if (!sent)
                warn(sn, e);
            break;
        case IB_SCHED_EV_ROUND_END:
            close_rooms(sn, true, e->round);
            break;
        case IB_SCHED_EV_ENDED:
            break;
        }
    }
    if (!sent && round_start)
        measure_round_start(sn, t0);
    ev->n = 0;
    /* Saved (several nodes) once every event is applied. */
    if (changed)
        ib__sn_cluster_changed(sn, urgent);
}

static void apply(ib_sn_t *sn, ib_sched_events_t *ev, int64_t now)
{
    apply_from(sn, ev, now, -1);
}

/* Blocks of the event between participants, into the pool (before every
 * matching or re-pairing). */
static void sync_blocks(ib_sn_t *sn)
{
    ib_match_pool_t *pool = ib_sched_pool(sn->sched);
    const char *k;
    void *v;
    for (size_t i = 0; ib_map_next(&sn->ev->blocks, &i, &k, &v);) {
        ib_blocks_t *b = v;
        ib_sn_person_t *a = ib__sn_person(sn, b->sub);
        for (size_t j = 0; a && j < b->n; j++) {
            ib_sn_person_t *c = ib__sn_person(sn, b->ids[j]);
            if (c)
                ib_match_pool_block(pool, a->handle, c->handle);
        }
    }
}

/* pair:<session>-<n> -> the session driven here, or NULL. */
static ib_sn_t *pair_session(const ib_room_t *r)
{
    char id[IB_ID_MAX + 1];
    const char *dash = strrchr(r->id, '-');
    size_t n = dash ? (size_t)(dash - (r->id + 5)) : 0;
    if (!dash || n == 0 || n > IB_ID_MAX)
        return NULL;
    memcpy(id, r->id + 5, n);
    id[n] = 0;
    ib_sn_t *sn = ib_map_get(&r->ev->sn, id);
    return sn && !sn->stub && ib__sn_cluster_may_drive(sn, r->ev->srv->now) ? sn : NULL;
}

/* Someone left the pair: room r (left it, left the session, or was gone
 * past the grace period): the scheduler hears of every member no longer in
 * it, and re-pairs whoever is left alone. */
void ib__sn_pair_left(ib_room_t *r, int64_t now)
{
    /* pair:<session>-<n>: the session is named in the room. */
    ib_sn_t *sn = pair_session(r);
    json_t *g = sn ? json_object_get(sn->rooms_now, r->id) : NULL;
    if (!g)
        return;
    /* Who of the group is no longer in the room, all found before anyone
     * is re-paired (a re-paired member leaves r too). */
    uint32_t members[IB_MATCH_GROUP_MAX], gone[IB_MATCH_GROUP_MAX], n_gone = 0;
    uint32_t gid = (uint32_t)json_integer_value(g);
    unsigned k = ib_sched_group(sn->sched, gid, members);
    bool cluster = ib__cluster(sn->ev->srv);
    for (unsigned m = 0; m < k; m++) {
        ib_sn_person_t *p = by_handle(sn, members[m]);
        /* With several nodes, someone is gone once seen there and no
         * longer a member on any node (not before they arrive). */
        if (p && !ib_room_has_member_id(r, p->id) && (p->seen || !cluster)) {
            free(p->room);
            p->room = NULL;
            gone[n_gone++] = members[m];
        }
    }
    ib_sched_events_t ev = {0};
    if (n_gone)
        sync_blocks(sn);
    for (unsigned m = 0; m < n_gone; m++) {
        uint32_t mem[IB_MATCH_GROUP_MAX], now_g;
        if (!ib_sched_group_of(sn->sched, gone[m], mem, &now_g) || now_g != gid)
            continue;
        ib_sched_gone(sn->sched, gone[m], now, &ev);
        apply(sn, &ev, now);
    }
    ib_sched_events_clear(&ev);
}

void ib__sn_pair_joined(ib_room_t *r, const char *id)
{
    ib_sn_t *sn = pair_session(r);
    ib_sn_person_t *p = sn ? ib__sn_person(sn, id) : NULL;
    if (p && p->room && !strcmp(p->room, r->id))
        p->seen = true;
}

void ib__sn_tick(ib_server_t *srv, int64_t now)
{
    const char *ek, *k;
    void *ev, *v;
    ib_sched_events_t out = {0};
    ib__sn_cluster_expire(srv, now);
    for (size_t i = 0; ib_map_next(&srv->events, &i, &ek, &ev);) {
        for (size_t j = 0; ib_map_next(&((ib_event_t *)ev)->sn, &j, &k, &v);) {
            ib_sn_t *sn = v;
            ib__sn_cluster_tick(sn, now);
            /* A draining node stops its clocks: the next driver goes on
             * from what it saved. */
            if (sn->stub || (srv->draining && ib__cluster(srv)) ||
                !ib__sn_cluster_may_drive(sn, now))
                continue;
            /* Hosts see live counts: opt-ins and opt-outs reach the host
             * (not the whole lounge) at most once a second. */
            if (sn->count_dirty && now - sn->count_sent >= 1000) {
                sn->count_dirty = false;
                sn->count_sent = now;
                json_t *st = state_json(sn, now);
                send_to(sn, sn->host, st);
                json_decref(st);
            }
            if (now >= ib_sched_deadline(sn->sched)) {
                int64_t t0 = mono_us(sn);
                sync_blocks(sn);
                ib_sched_tick(sn->sched, now, &out);
                apply_from(sn, &out, now, t0);
            }
        }
    }
    ib_sched_events_clear(&out);
}

/* The session named in the request, or NULL with req->why set. */
static ib_sn_t *get_sn(ib_req_t *req, int *err)
{
    const char *id;
    if (ib_get_string(req->m->msg, "session", true, &id, &req->why)) {
        *err = IB_EBADREQ;
        return NULL;
    }
    ib_sn_t *sn = ib_map_get(&req->s->ev->sn, id);
    if (!sn) {
        req->why = "no such speed-networking session";
        *err = IB_ENOTFOUND;
    }
    return sn;
}

static void person_free(ib_sn_person_t *p)
{
    if (!p)
        return;
    free(p->id);
    free(p->name);
    free(p->headline);
    free(p->room);
    json_decref(p->contact);
    json_decref(p->match);
    ib_buf_unref(p->match_wire);
    free(p);
}

void ib__sn_free(ib_sn_t *sn)
{
    const char *k;
    void *v;
    for (size_t i = 0; ib_map_next(&sn->people, &i, &k, &v);)
        person_free(v);
    ib_map_free(&sn->people);
    ib_sched_free(sn->sched);
    json_decref(sn->history);
    json_decref(sn->feedback);
    json_decref(sn->connections);
    json_decref(sn->rooms_now);
    json_decref(sn->st);
    ib__sn_pin_lounge(sn, false);
    free(sn->id);
    free(sn->lounge);
    free(sn->host);
    free(sn);
}

void ib__event_free_sn(ib_event_t *ev)
{
    const char *k;
    void *v;
    for (size_t i = 0; ib_map_next(&ev->sn, &i, &k, &v);)
        ib__sn_free(v);
    ib_map_free(&ev->sn);
}

/* A session shell: strings copied, JSON members empty, no scheduler yet. */
ib_sn_t *ib__sn_alloc(ib_event_t *ev, const char *id, const char *lounge, const char *host)
{
    ib_sn_t *sn = calloc(1, sizeof(*sn));
    if (!sn)
        return NULL;
    sn->ev = ev;
    if (!(sn->id = strdup(id)) || !(sn->lounge = strdup(lounge)) || !(sn->host = strdup(host)) ||
        !(sn->history = json_array()) || !(sn->feedback = json_object()) ||
        !(sn->connections = json_object()) || !(sn->rooms_now = json_object())) {
        ib__sn_free(sn);
        return NULL;
    }
    return sn;
}

int ib_h_sn_create(ib_req_t *req)
{
    ib_session_t *s = req->s;
    const char *lounge, *strategy = "random", *odd = "trio";
    int64_t rounds, round_s, break_s, group_size = 2;
    if (ib_get_string(req->m->msg, "lounge", true, &lounge, &req->why) ||
        ib_get_int(req->m->msg, "rounds", true, 1, IB_SN_ROUNDS_MAX, &rounds, &req->why) ||
        ib_get_int(req->m->msg, "round_s", true, 1, IB_SN_SECONDS_MAX, &round_s, &req->why) ||
        ib_get_int(req->m->msg, "break_s", true, 0, IB_SN_SECONDS_MAX, &break_s, &req->why) ||
        ib_get_string(req->m->msg, "strategy", true, &strategy, &req->why) ||
        ib_get_int(req->m->msg, "group_size", false, 2, 3, &group_size, &req->why) ||
        ib_get_string(req->m->msg, "odd", false, &odd, &req->why))
        return IB_EBADREQ;
    ib_sched_config_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.rounds = (uint32_t)rounds;
    cfg.round_ms = round_s * 1000;
    cfg.break_ms = break_s * 1000;
    cfg.match.group_size = (unsigned)group_size;
    if (ib_room_kind(lounge) != IB_ROOM_LOUNGE) {
        req->why = "lounge must be a lounge:<id> room";
        return IB_EBADREQ;
    }
    if (ib_match_strategy_parse(strategy, &cfg.match.strategy)) {
        req->why = "strategy must be random, rotate or interests";
        return IB_EBADREQ;
    }
    if (ib_match_odd_parse(odd, &cfg.match.odd)) {
        req->why = "odd must be trio or bye";
        return IB_EBADREQ;
    }
    if (s->ev->sn.count >= IB_SN_PER_EVENT_MAX) {
        req->why = "too many speed-networking sessions in this event";
        return IB_ECONFLICT;
    }
    char id[32];
    unsigned char rnd[4];
    s->srv->tr.random(s->srv->tr.ctx, rnd, sizeof(rnd));
    snprintf(id, sizeof(id), "sn-%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3]);
    s->srv->tr.random(s->srv->tr.ctx, &cfg.match.seed, sizeof(cfg.match.seed));
    ib_sn_t *sn = ib__sn_alloc(s->ev, id, lounge, s->user->id);
    if (!sn || ib_sched_new(&cfg, &sn->sched) || ib_map_get(&s->ev->sn, id) ||
        ib_map_put(&s->ev->sn, sn->id, sn)) {
        if (sn)
            ib__sn_free(sn);
        return IB_ENOMEM;
    }
    ib_sched_set_presence(sn->sched, present, sn);
    ib__reply_ok(req, json_pack("{s:s}", "session", sn->id));
    /* Several nodes: the lease is asked for before anyone hears of it. */
    ib__sn_cluster_created(sn, req->now);
    broadcast(sn, state_json(sn, req->now));
    return 0;
}

/* Host verbs: the session must be in a phase the verb fits (conflict). */
static int host_verb(ib_sn_t *sn, int (*verb)(ib_sched_t *, int64_t, ib_sched_events_t *),
                     int64_t now, const char *why_conflict, const char **why, ib_sn_ok_fn ok,
                     void *ctx)
{
    ib_sched_events_t ev = {0};
    int64_t t0 = mono_us(sn);
    sync_blocks(sn);
    int rc = verb(sn->sched, now, &ev);
    if (rc == IB_ECONFLICT) {
        *why = why_conflict;
        return rc;
    }
    ok(ctx, json_pack("{s:s}", "session", sn->id));
    apply_from(sn, &ev, now, t0);
    ib_sched_events_clear(&ev);
    return 0;
}

static int verb_extend(ib_sn_t *sn, json_t *msg, int64_t now, const char **why, ib_sn_ok_fn ok,
                       void *ctx)
{
    int64_t seconds;
    if (ib_get_int(msg, "seconds", true, 1, IB_SN_SECONDS_MAX, &seconds, why))
        return IB_EBADREQ;
    ib_sched_events_t ev = {0};
    if (ib_sched_extend(sn->sched, seconds * 1000, now, &ev) == IB_ECONFLICT) {
        *why = "only a running round can be extended";
        return IB_ECONFLICT;
    }
    ok(ctx, json_pack("{s:s,s:I}", "session", sn->id, "ends_at",
                      (json_int_t)ib_sched_ends_at(sn->sched)));
    apply(sn, &ev, now);
    ib_sched_events_clear(&ev);
    return 0;
}

static int verb_join(ib_sn_t *sn, const ib_sn_actor_t *who, int64_t now, const char **why,
                     ib_sn_ok_fn ok, void *ctx)
{
    if (ib_sched_phase(sn->sched) == IB_SCHED_ENDED) {
        *why = "the session has ended";
        return IB_ECONFLICT;
    }
    ib_sn_person_t *p = ib__sn_person(sn, who->id);
    if (!p) {
        json_t *prof = who->profile;
        const char *lists[3] = {"interests", "offers", "seeks"};
        const char *tags[3][IB_TAGS_MAX];
        size_t n[3] = {0, 0, 0};
        for (int l = 0; l < 3; l++) {
            size_t i;
            json_t *t;
            json_array_foreach(json_object_get(prof, lists[l]), i,
                               t) if (n[l] < IB_TAGS_MAX && json_is_string(t)) tags[l][n[l]++] =
                json_string_value(t);
        }
        ib_match_profile_t mp = {tags[0], n[0], tags[1], n[1], tags[2], n[2]};
        p = calloc(1, sizeof(*p));
        if (!p || !(p->id = strdup(who->id)) || !(p->name = strdup(who->name)) ||
            (who->headline && !(p->headline = strdup(who->headline))) ||
            ib_match_pool_put(ib_sched_pool(sn->sched), who->id, &mp, &p->handle) ||
            ib_map_put(&sn->people, p->id, p)) {
            person_free(p);
            return IB_ENOMEM;
        }
        json_t *contact = json_object_get(prof, "contact");
        p->contact = json_is_object(contact) ? json_deep_copy(contact) : NULL;
    }
    bool was_in = ib_sched_joined(sn->sched, p->handle);
    int err = ib_sched_join(sn->sched, p->handle, now, NULL);
    if (err)
        return err;
    sn->count_dirty |= !was_in;
    ib__sn_cluster_changed(sn, false);
    ok(ctx, json_pack("{s:s,s:s}", "session", sn->id, "phase",
                      ib_sched_phase_name(ib_sched_phase(sn->sched))));
    return 0;
}

static int verb_leave(ib_sn_t *sn, const ib_sn_actor_t *who, int64_t now, const char **why,
                      ib_sn_ok_fn ok, void *ctx)
{
    ib_sn_person_t *p = ib__sn_person(sn, who->id);
    if (!p || !ib_sched_joined(sn->sched, p->handle)) {
        *why = "not taking part in this session";
        return IB_ENOTFOUND;
    }
    ok(ctx, json_pack("{s:s}", "session", sn->id));
    /* Leaving mid-round takes them out of their pair room (the others
     * hear it); the scheduler re-pairs whoever is left alone. */
    ib_room_t *r = p->room ? ib_room_get(sn->ev, p->room, false) : NULL;
    ib_user_t *u = ib_user_find(sn->ev, who->id);
    if (r && u && ib_room_exit_user(r, u))
        ib_room_presence(r, u, "left");
    if (p->room && ib__cluster(sn->ev->srv)) {
        put_in_pair(sn, NULL, who->id, NULL, NULL);
    }
    free(p->room);
    p->room = NULL;
    /* Out of the round: a resume no longer gives the match. */
    json_decref(p->match);
    p->match = NULL;
    ib_buf_unref(p->match_wire);
    p->match_wire = NULL;
    ib_sched_events_t ev = {0};
    sync_blocks(sn);
    ib_sched_leave(sn->sched, p->handle, now, &ev);
    apply(sn, &ev, now);
    ib_sched_events_clear(&ev);
    sn->count_dirty = true;
    ib__sn_cluster_changed(sn, false);
    return 0;
}

static int verb_feedback(ib_sn_t *sn, const ib_sn_actor_t *who, json_t *msg, int64_t now,
                         const char **why, ib_sn_ok_fn ok, void *ctx)
{
    int64_t round, rating;
    bool connect;
    const char *partner;
    if (ib_get_int(msg, "round", true, 1, IB_SN_ROUNDS_MAX, &round, why) ||
        ib_get_string(msg, "partner", true, &partner, why) ||
        ib_get_int(msg, "rating", true, 1, 5, &rating, why) ||
        ib_get_bool(msg, "connect", true, &connect, why))
        return IB_EBADREQ;
    int rc = ib__sn_feedback(sn, who->id, (uint32_t)round, partner, (int)rating, connect, now, why);
    if (rc)
        return rc;
    ib__sn_cluster_changed(sn, false);
    ok(ctx, json_pack("{s:s,s:I,s:s}", "session", sn->id, "round", (json_int_t)round, "partner",
                      partner));
    return 0;
}

/* "sync": a participant resumed on another node hears the state again,
 * and is put back in their pair: room with their sn.match. */
static int verb_sync(ib_sn_t *sn, const ib_sn_actor_t *who, int64_t now, ib_sn_ok_fn ok, void *ctx)
{
    ok(ctx, json_pack("{s:s}", "session", sn->id));
    ib_sn_person_t *p = ib__sn_person(sn, who->id);
    ib_sched_phase_t ph = ib_sched_phase(sn->sched);
    if (!p || !p->match || p->round != ib_sched_round(sn->sched) ||
        !(ph == IB_SCHED_ROUND || ph == IB_SCHED_PAUSED))
        return 0;
    json_t *allow = json_array();
    uint32_t members[IB_MATCH_GROUP_MAX], g;
    unsigned k = ib_sched_group_of(sn->sched, p->handle, members, &g);
    for (unsigned m = 0; m < k; m++) {
        const char *id = ib_match_pool_id(ib_sched_pool(sn->sched), members[m]);
        if (id)
            json_array_append_new(allow, json_string(id));
    }
    ib_buf_t *b = ib_buf_from_json(p->match);
    if (b) {
        put_in_pair(sn, p->room, p->id, allow, b);
        ib_buf_unref(b);
    }
    json_decref(allow);
    (void)now;
    return 0;
}

int ib__sn_verb(ib_sn_t *sn, const char *verb, const ib_sn_actor_t *who, json_t *msg, int64_t now,
                const char **why, ib_sn_ok_fn ok, void *ctx)
{
    if (!strcmp(verb, "sn.start"))
        return host_verb(sn, ib_sched_start, now, "the session has already started", why, ok, ctx);
    if (!strcmp(verb, "sn.pause"))
        return host_verb(sn, ib_sched_pause, now, "only a running round or break can be paused",
                         why, ok, ctx);
    if (!strcmp(verb, "sn.resume"))
        return host_verb(sn, ib_sched_resume, now, "the session is not paused", why, ok, ctx);
    if (!strcmp(verb, "sn.stop"))
        return host_verb(sn, ib_sched_stop, now, "the session has ended", why, ok, ctx);
    if (!strcmp(verb, "sn.extend"))
        return verb_extend(sn, msg, now, why, ok, ctx);
    if (!strcmp(verb, "sn.join"))
        return verb_join(sn, who, now, why, ok, ctx);
    if (!strcmp(verb, "sn.leave"))
        return verb_leave(sn, who, now, why, ok, ctx);
    if (!strcmp(verb, "sn.feedback"))
        return verb_feedback(sn, who, msg, now, why, ok, ctx);
    if (!strcmp(verb, "sync"))
        return verb_sync(sn, who, now, ok, ctx);
    if (!strcmp(verb, "report")) { /* the HTTP API of another node */
        ok(ctx, json_pack("{s:o}", "report", ib_sn_report_json(sn->ev, sn->id, now)));
        return 0;
    }
    *why = "unknown verb";
    return IB_EBADREQ;
}

static void req_ok(void *ctx, json_t *fields)
{
    ib__reply_ok(ctx, fields);
}

/* A verb from a client of this node: run here, or sent to the node that
 * drives the session. */
static int run_verb(ib_req_t *req, const char *verb)
{
    int err = 0;
    ib_sn_t *sn = get_sn(req, &err);
    if (!sn)
        return err;
    ib_user_t *u = req->s->user;
    if (!strcmp(verb, "sn.join")) {
        ib_room_t *lounge = ib_room_get(req->s->ev, sn->lounge, false);
        if (!lounge || !ib_room_member(lounge, u)) {
            req->why = "join the session's lounge first";
            return IB_EFORBIDDEN;
        }
    }
    if (sn->stub)
        return ib__sn_forward(req, sn, verb);
    if (!ib__sn_cluster_may_drive(sn, req->now)) {
        req->why = "the session is being handed to another node: try again";
        return IB_EUNAVAIL;
    }
    ib_sn_actor_t who = {u->id, u->name, u->headline, u->profile};
    return ib__sn_verb(sn, verb, &who, req->m->msg, req->now, &req->why, req_ok, req);
}

/* The handlers of the verb table, one per verb. */
#define IB__SN_HANDLER(name, wire)                                                                 \
    int ib_h_##name(ib_req_t *req)                                                                 \
    {                                                                                              \
        return run_verb(req, wire);                                                                \
    }
IB__SN_HANDLER(sn_start, "sn.start")
IB__SN_HANDLER(sn_pause, "sn.pause")
IB__SN_HANDLER(sn_resume, "sn.resume")
IB__SN_HANDLER(sn_stop, "sn.stop")
IB__SN_HANDLER(sn_extend, "sn.extend")
IB__SN_HANDLER(sn_join, "sn.join")
IB__SN_HANDLER(sn_leave, "sn.leave")
IB__SN_HANDLER(sn_feedback, "sn.feedback")
#undef IB__SN_HANDLER

void ib__sn_make_stub(ib_sn_t *sn)
{
    const char *k;
    json_t *g;
    json_object_foreach(sn->rooms_now, k, g)
    {
        ib_room_t *r = ib_room_get(sn->ev, k, false);
        if (r) {
            r->pins--;
            ib_room_maybe_free(r);
        }
    }
    json_object_clear(sn->rooms_now);
    void *v;
    for (size_t i = 0; ib_map_next(&sn->people, &i, &k, &v);)
        person_free(v);
    ib_map_free(&sn->people);
    ib_sched_free(sn->sched);
    sn->sched = NULL;
    sn->stub = true;
    sn->fence = 0;
    sn->dirty = sn->urgent = false;
    ib__sn_pin_lounge(sn, false);
}

/* A resumed session hears the current state of every speed-networking
 * session of its lounges, and its own sn.match while a round runs. */
void ib__sn_resumed(ib_session_t *s, int64_t now)
{
    const char *k;
    void *v;
    for (size_t i = 0; ib_map_next(&s->ev->sn, &i, &k, &v);) {
        ib_sn_t *sn = v;
        if (sn->stub) {
            ib__sn_cluster_resumed(sn, s, now);
            continue;
        }
        ib_room_t *lounge = ib_room_get(s->ev, sn->lounge, false);
        ib_sn_person_t *p = ib__sn_person(sn, s->user->id);
        bool in = p && ib_sched_joined(sn->sched, p->handle);
        if (!(lounge && ib_session_in_room(s, lounge)) && !in)
            continue;
        ib_session_send_json(s, state_json(sn, now));
        ib_sched_phase_t ph = ib_sched_phase(sn->sched);
        bool now_round = p && p->round == ib_sched_round(sn->sched) &&
                         (ph == IB_SCHED_ROUND || ph == IB_SCHED_PAUSED);
        if (now_round && p->match)
            ib_session_send_json(s, json_incref(p->match));
        else if (now_round && p->match_wire)
            ib_session_send(s, p->match_wire);
    }
}

json_t *ib_sn_report_json(ib_event_t *ev, const char *id, int64_t now)
{
    ib_sn_t *sn = ev ? ib_map_get(&ev->sn, id) : NULL;
    if (!sn || sn->stub)
        return NULL;
    const ib_sched_config_t *cfg = ib_sched_config(sn->sched);
    json_t *people = json_array();
    const char *k;
    void *v;
    for (size_t i = 0; ib_map_next(&sn->people, &i, &k, &v);)
        json_array_append_new(people, ib__sn_card(v, false));
    json_t *fb = ib__sn_feedback_summary(sn);
    json_t *rep = json_pack(
        "{s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:s,s:I,s:I,s:O,s:o,s:O,s:O,s:I}", "session", sn->id,
        "lounge", sn->lounge, "host", sn->host, "phase",
        ib_sched_phase_name(ib_sched_phase(sn->sched)), "rounds", (json_int_t)cfg->rounds,
        "rounds_run", (json_int_t)ib_sched_round(sn->sched), "round_s",
        (json_int_t)(cfg->round_ms / 1000), "strategy", ib_match_strategy_name(cfg->match.strategy),
        "group_size", (json_int_t)cfg->match.group_size, "ended_at",
        (json_int_t)ib_sched_ended_at(sn->sched), "history", sn->history, "participants", people,
        "ratings", json_object_get(fb, "ratings"), "connections",
        json_object_get(fb, "connections"), "server_time", (json_int_t)now);
    json_decref(fb);
    return rep;
}

/* ---- hand-over (sn_internal.h) ---- */

json_t *ib__sn_session_to_json(const ib_sn_t *sn)
{
    json_t *people = json_array(), *sched = ib_sched_to_json(sn->sched);
    if (!people || !sched)
        goto oom;
    const char *k;
    void *v;
    for (size_t i = 0; ib_map_next(&sn->people, &i, &k, &v);) {
        const ib_sn_person_t *p = v;
        /* A match kept as bytes (one node) is read back here, the only
         * place it is needed as JSON. */
        json_t *match = p->match        ? json_incref(p->match)
                        : p->match_wire ? json_loadb((const char *)ib_buf_payload(p->match_wire),
                                                     p->match_wire->len, 0, NULL)
                                        : NULL;
        json_t *o = json_pack("{s:s,s:s,s:s?,s:O?,s:I,s:I,s:s?,s:o?}", "id", p->id, "name", p->name,
                              "headline", p->headline, "contact", p->contact, "handle",
                              (json_int_t)p->handle, "round", (json_int_t)p->round, "room", p->room,
                              "match", match);
        if (!o || json_array_append_new(people, o))
            goto oom;
    }
    return json_pack("{s:i,s:s,s:s,s:s,s:o,s:o,s:O,s:I,s:O,s:O,s:O,s:b,s:I}", "v", 1, "id", sn->id,
                     "lounge", sn->lounge, "host", sn->host, "sched", sched, "people", people,
                     "rooms_now", sn->rooms_now, "next_room", (json_int_t)sn->next_room, "history",
                     sn->history, "feedback", sn->feedback, "connections", sn->connections,
                     "count_dirty", sn->count_dirty, "count_sent", (json_int_t)sn->count_sent);
oom:
    json_decref(people);
    json_decref(sched);
    return NULL;
}

static char *opt_strdup(const json_t *v, bool *bad)
{
    if (!v || json_is_null(v))
        return NULL;
    if (!json_is_string(v)) {
        *bad = true;
        return NULL;
    }
    return strdup(json_string_value(v));
}

int ib__sn_session_from_json(ib_event_t *ev, const json_t *j, ib_sn_t **out)
{
    *out = NULL;
    const char *id, *lounge, *host;
    json_int_t v, next_room, count_sent;
    int count_dirty;
    json_t *sched, *people, *rooms, *history, *feedback, *connections;
    if (json_unpack((json_t *)j, "{s:I,s:s,s:s,s:s,s:o,s:o,s:o,s:I,s:o,s:o,s:o,s:b,s:I}", "v", &v,
                    "id", &id, "lounge", &lounge, "host", &host, "sched", &sched, "people", &people,
                    "rooms_now", &rooms, "next_room", &next_room, "history", &history, "feedback",
                    &feedback, "connections", &connections, "count_dirty", &count_dirty,
                    "count_sent", &count_sent) ||
        v != 1 || !ib_id_valid(id) || strlen(id) > 40 || ib_room_kind(lounge) != IB_ROOM_LOUNGE ||
        !ib_id_valid(host) || !json_is_array(people) || !json_is_object(rooms) ||
        !json_is_array(history) || !json_is_object(feedback) || !json_is_object(connections) ||
        next_room < 0 || next_room > UINT32_MAX)
        return IB_EBADREQ;
    if (ib_map_get(&ev->sn, id))
        return IB_ECONFLICT;
    if (ev->sn.count >= IB_SN_PER_EVENT_MAX)
        return IB_ECONFLICT;
    ib_sn_t *sn = ib__sn_alloc(ev, id, lounge, host);
    if (!sn)
        return IB_ENOMEM;
    int err = ib_sched_from_json(sched, &sn->sched);
    if (err) {
        ib__sn_free(sn);
        return err;
    }
    ib_sched_set_presence(sn->sched, present, sn);
    ib_match_pool_t *pool = ib_sched_pool(sn->sched);
    json_decref(sn->history);
    json_decref(sn->feedback);
    json_decref(sn->connections);
    sn->history = json_deep_copy(history);
    sn->feedback = json_deep_copy(feedback);
    sn->connections = json_deep_copy(connections);
    sn->next_room = (uint32_t)next_room;
    sn->count_dirty = count_dirty;
    sn->count_sent = count_sent;
    if (!sn->history || !sn->feedback || !sn->connections) {
        err = IB_ENOMEM;
        goto fail;
    }
    /* History: one entry per round started, each with groups of ids. */
    if (json_array_size(sn->history) != ib_sched_round(sn->sched)) {
        err = IB_EBADREQ;
        goto fail;
    }
    size_t i;
    json_t *o;
    json_array_foreach(people, i, o)
    {
        bool bad = false;
        json_int_t h, round;
        const char *pid, *name;
        json_t *room = json_object_get(o, "room"), *match = json_object_get(o, "match");
        json_t *contact = json_object_get(o, "contact");
        if (json_unpack(o, "{s:s,s:s,s:I,s:I}", "id", &pid, "name", &name, "handle", &h, "round",
                        &round) ||
            h < 0 || (size_t)h >= ib_match_pool_size(pool) || round < 0 || round > UINT32_MAX ||
            strcmp(ib_match_pool_id(pool, (uint32_t)h), pid) || ib__sn_person(sn, pid) ||
            (match && !json_is_null(match) && !json_is_object(match)) ||
            (contact && !json_is_null(contact) && !json_is_object(contact)) ||
            (room && !json_is_null(room) &&
             (!json_is_string(room) || !json_object_get(rooms, json_string_value(room))))) {
            err = IB_EBADREQ;
            goto fail;
        }
        ib_sn_person_t *p = calloc(1, sizeof(*p));
        if (!p || !(p->id = strdup(pid)) || !(p->name = strdup(name))) {
            person_free(p);
            err = IB_ENOMEM;
            goto fail;
        }
        p->headline = opt_strdup(json_object_get(o, "headline"), &bad);
        p->room = opt_strdup(room, &bad);
        p->handle = (uint32_t)h;
        p->round = (uint32_t)round;
        p->contact = json_is_object(contact) ? json_deep_copy(contact) : NULL;
        p->match = json_is_object(match) ? json_deep_copy(match) : NULL;
        if (bad || ib_map_put(&sn->people, p->id, p)) {
            person_free(p);
            err = bad ? IB_EBADREQ : IB_ENOMEM;
            goto fail;
        }
    }
    /* The pair: rooms of the running round, again. */
    const char *rid;
    json_t *g;
    json_object_foreach(rooms, rid, g)
    {
        uint32_t members[IB_MATCH_GROUP_MAX];
        ib_sn_person_t *ps[IB_MATCH_GROUP_MAX];
        if (!json_is_integer(g) || json_integer_value(g) < 0 ||
            json_integer_value(g) > UINT32_MAX || ib_room_kind(rid) != IB_ROOM_PAIR ||
            strncmp(rid + 5, id, strlen(id))) {
            err = IB_EBADREQ;
            goto fail;
        }
        unsigned k = ib_sched_group(sn->sched, (uint32_t)json_integer_value(g), members), n = 0;
        for (unsigned m = 0; m < k; m++) {
            ib_sn_person_t *p = by_handle(sn, members[m]);
            if (p && p->room && !strcmp(p->room, rid))
                ps[n++] = p;
        }
        if (!make_room(sn, rid, (uint32_t)json_integer_value(g), ps, n)) {
            err = IB_ENOMEM;
            goto fail;
        }
    }
    if (ib_map_put(&ev->sn, sn->id, sn)) {
        err = IB_ENOMEM;
        goto fail;
    }
    *out = sn;
    return 0;
fail:
    close_rooms(sn, false, UINT32_MAX);
    ib__sn_free(sn);
    return err;
}

void ib__sn_session_drop(ib_sn_t *sn)
{
    close_rooms(sn, false, UINT32_MAX);
    ib_map_del(&sn->ev->sn, sn->id);
    ib__sn_free(sn);
}
