/*
 * Speed networking, live: a host creates a session in a lounge, members of
 * the lounge opt in, and timed rounds pair them in pair: rooms.
 *
 * The round clock is the server tick (100 ms, a libuv timer in net/): each
 * session has one deadline, `ends_at`, and the tick moves it on: round ->
 * break -> next round ... -> ended. Pause keeps the time left; resume and
 * extend move `ends_at`, and every such change is told to the lounge as
 * sn.state. The pairing itself is ib_match's (rules and guarantees in
 * ib_match.h): at the start of each round the people opted in and connected
 * are matched, each group gets a fresh pair: room that only its members may
 * enter, and each person gets sn.match with their partners and what makes
 * the match. Someone whose partner leaves mid-round is paired again with
 * another lone participant they have not met, or gets a bye.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "icebreaker/ib_sn.h"
#include "sn_internal.h"

#define IB_SN_ROUNDS_MAX 100
#define IB_SN_SECONDS_MAX 7200
#define IB_SN_WARNING_MS 30000
#define IB_SN_PER_EVENT_MAX 64

static const char *const phase_names[] = {"lobby", "round", "break", "paused", "ended"};

ib_sn_person_t *ib__sn_person(const ib_sn_t *sn, const char *id)
{
    return ib_map_get(&sn->people, id);
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

static size_t participants(const ib_sn_t *sn)
{
    size_t n = 0;
    const char *k;
    void *v;
    for (size_t i = 0; ib_map_next(&sn->people, &i, &k, &v);)
        n += ((ib_sn_person_t *)v)->in;
    return n;
}

static json_t *state_json(const ib_sn_t *sn, int64_t now)
{
    bool timed = sn->phase == IB_SN_ROUND || sn->phase == IB_SN_BREAK;
    return json_pack(
        "{s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:o,s:I}", "type", "sn.state", "session", sn->id, "lounge",
        sn->lounge, "phase", phase_names[sn->phase], "round", (json_int_t)sn->rounds_started,
        "rounds", (json_int_t)sn->rounds, "participants", (json_int_t)participants(sn), "ends_at",
        timed ? json_integer(sn->ends_at) : json_null(), "server_time", (json_int_t)now);
}

/* sn.state to every member of the lounge (and to hosts elsewhere who made
 * it: the creator hears it too). */
static void broadcast_state(ib_sn_t *sn, int64_t now)
{
    json_t *st = state_json(sn, now);
    ib_buf_t *b = ib_buf_from_json(st);
    json_decref(st);
    if (!b)
        return;
    ib_room_t *lounge = ib_room_get(sn->ev, sn->lounge, false);
    if (lounge)
        ib_room_send(lounge, b, NULL);
    ib_user_t *host = ib_user_find(sn->ev, sn->host);
    if (host && !(lounge && ib_room_member(lounge, host)))
        ib_user_send(host, b);
    ib_buf_unref(b);
}

static void send_to(ib_sn_t *sn, const char *id, json_t *msg)
{
    ib_user_t *u = ib_user_find(sn->ev, id);
    ib_buf_t *b = u ? ib_buf_from_json(msg) : NULL;
    if (b) {
        ib_user_send(u, b);
        ib_buf_unref(b);
    }
}

static bool connected(const ib_sn_t *sn, const char *id)
{
    ib_user_t *u = ib_user_find(sn->ev, id);
    for (ib_session_t *s = u ? u->sessions : NULL; s; s = s->unext)
        if (s->state == IB_SESSION_LIVE || s->state == IB_SESSION_DETACHED)
            return true;
    return false;
}

/* The reasons of a match as wire strings: "ai" for a shared interest,
 * "offers: x" / "seeks: x" for an offer meeting a seek. */
static json_t *shared_json(const ib_sn_t *sn, uint32_t to, uint32_t partner)
{
    ib_match_reason_t r[IB_MATCH_SHARED_MAX];
    size_t n = ib_match_shared(sn->pool, to, partner, r, IB_MATCH_SHARED_MAX);
    json_t *arr = json_array();
    for (size_t i = 0; i < n && i < IB_MATCH_SHARED_MAX; i++) {
        char buf[IB_MATCH_TAG_LEN_MAX * 4 + 16];
        if (r[i].kind == IB_MATCH_REASON_INTEREST)
            snprintf(buf, sizeof(buf), "%s", r[i].tag);
        else if (r[i].kind == IB_MATCH_REASON_YOU_OFFER)
            snprintf(buf, sizeof(buf), "you offer: %s", r[i].tag);
        else
            snprintf(buf, sizeof(buf), "they offer: %s", r[i].tag);
        json_array_append_new(arr, json_string(buf));
    }
    return arr;
}

static void person_set_match(ib_sn_t *sn, ib_sn_person_t *p, const char *room, json_t *match)
{
    free(p->room);
    p->room = room ? strdup(room) : NULL;
    json_decref(p->match);
    p->match = match;
    p->round = sn->rounds_started;
    send_to(sn, p->id, match);
}

static json_t *match_msg(const ib_sn_t *sn, const char *room, json_t *partners)
{
    json_t *m =
        json_pack("{s:s,s:s,s:I,s:o,s:I,s:o}", "type", "sn.match", "session", sn->id, "round",
                  (json_int_t)sn->rounds_started, "room", room ? json_string(room) : json_null(),
                  "ends_at", (json_int_t)sn->ends_at, "partners", partners);
    if (!room)
        json_object_set_new(m, "reason", json_string("bye"));
    return m;
}

/* Make a pair: room for the people in ids (n of them), put their live
 * sessions in, and send each their sn.match. Returns 0 or IB_ENOMEM. */
static int open_group(ib_sn_t *sn, ib_sn_person_t **ps, size_t n)
{
    char room_id[IB_ID_MAX + 8];
    snprintf(room_id, sizeof(room_id), "pair:%.40s-%u", sn->id, ++sn->next_room);
    ib_room_t *r = ib_room_get(sn->ev, room_id, true);
    if (!r)
        return IB_ENOMEM;
    r->pins++; /* the session holds its rooms until the round ends */
    json_array_append_new(sn->rooms_now, json_string(room_id));
    for (size_t i = 0; i < n; i++) {
        ib__room_allow(r, ps[i]->id);
        ib_user_t *u = ib_user_find(sn->ev, ps[i]->id);
        for (ib_session_t *s = u ? u->sessions : NULL; s; s = s->unext)
            if (s->state == IB_SESSION_LIVE || s->state == IB_SESSION_DETACHED)
                ib_room_enter(r, s);
    }
    for (size_t i = 0; i < n; i++) {
        json_t *partners = json_array();
        for (size_t j = 0; j < n; j++) {
            if (j == i)
                continue;
            json_t *card = ib__sn_card(ps[j], false);
            json_object_set_new(card, "shared", shared_json(sn, ps[i]->handle, ps[j]->handle));
            json_array_append_new(partners, card);
        }
        ps[i]->alone = false;
        person_set_match(sn, ps[i], room_id, match_msg(sn, room_id, partners));
    }
    return 0;
}

static void give_bye(ib_sn_t *sn, ib_sn_person_t *p)
{
    p->alone = true;
    person_set_match(sn, p, NULL, match_msg(sn, NULL, json_array()));
}

/* Close the rooms of the round: everyone in them is taken out. */
static void close_rooms(ib_sn_t *sn)
{
    size_t i;
    json_t *id;
    json_array_foreach(sn->rooms_now, i, id)
    {
        ib_room_t *r = ib_room_get(sn->ev, json_string_value(id), false);
        if (!r)
            continue;
        ib_room_empty(r);
        r->pins--;
        ib_room_maybe_free(r);
    }
    json_array_clear(sn->rooms_now);
    const char *k;
    void *v;
    for (size_t j = 0; ib_map_next(&sn->people, &j, &k, &v);) {
        ib_sn_person_t *p = v;
        free(p->room);
        p->room = NULL;
        json_decref(p->match);
        p->match = NULL;
        p->alone = false;
    }
}

/* Blocks of the event between participants, into the pool. */
static void sync_blocks(ib_sn_t *sn)
{
    const char *k;
    void *v;
    for (size_t i = 0; ib_map_next(&sn->ev->blocks, &i, &k, &v);) {
        ib_blocks_t *b = v;
        ib_sn_person_t *a = ib__sn_person(sn, b->sub);
        for (size_t j = 0; a && j < b->n; j++) {
            ib_sn_person_t *c = ib__sn_person(sn, b->ids[j]);
            if (c)
                ib_match_pool_block(sn->pool, a->handle, c->handle);
        }
    }
}

/* Move the deadline of the running round or break; participants' stored
 * sn.match (resent on resume) follows. */
static void set_ends_at(ib_sn_t *sn, int64_t ends_at)
{
    sn->ends_at = ends_at;
    const char *k;
    void *v;
    for (size_t i = 0; ib_map_next(&sn->people, &i, &k, &v);) {
        ib_sn_person_t *p = v;
        if (p->match)
            json_object_set_new(p->match, "ends_at", json_integer(ends_at));
    }
}

static void start_round(ib_sn_t *sn, int64_t now)
{
    sn->rounds_started++;
    sn->phase = IB_SN_ROUND;
    sn->ends_at = now + sn->round_ms;
    sn->warned = false;
    sync_blocks(sn);
    /* Who takes part: opted in and connected (or within grace). */
    size_t cap = sn->people.count, n = 0;
    uint32_t *who = malloc((cap ? cap : 1) * sizeof(*who));
    const char *k;
    void *v;
    for (size_t i = 0; who && ib_map_next(&sn->people, &i, &k, &v);) {
        ib_sn_person_t *p = v;
        bool take = p->in && connected(sn, p->id);
        ib_match_pool_set_active(sn->pool, p->handle, take);
        if (take)
            who[n++] = p->handle;
    }
    ib_match_result_t res = {0};
    sn->opts.round = sn->rounds_started - 1;
    json_t *groups = json_array(), *byes = json_array();
    if (!who || ib_match_run(sn->pool, who, n, &sn->opts, &res) != 0)
        ib_match_result_clear(&res); /* nobody placed: an empty round */
    ib_match_commit(sn->pool, &res, sn->rounds_started);
    for (size_t g = 0; g < res.n_groups; g++) {
        json_t *ids = json_array();
        for (unsigned m = 0; m < res.groups[g].size; m++)
            json_array_append_new(
                ids, json_string(ib_match_pool_id(sn->pool, res.groups[g].members[m])));
        json_array_append_new(groups, ids);
    }
    for (size_t b = 0; b < res.n_byes; b++)
        json_array_append_new(byes, json_string(ib_match_pool_id(sn->pool, res.byes[b])));
    json_array_append_new(sn->history,
                          json_pack("{s:I,s:I,s:o,s:o}", "round", (json_int_t)sn->rounds_started,
                                    "started", (json_int_t)now, "groups", groups, "byes", byes));
    /* The lounge learns the round has started, then each participant
     * learns where to go. */
    broadcast_state(sn, now);
    for (size_t g = 0; g < res.n_groups; g++) {
        ib_sn_person_t *ps[IB_MATCH_GROUP_MAX];
        for (unsigned m = 0; m < res.groups[g].size; m++)
            ps[m] = ib__sn_person(sn, ib_match_pool_id(sn->pool, res.groups[g].members[m]));
        open_group(sn, ps, res.groups[g].size);
    }
    for (size_t b = 0; b < res.n_byes; b++)
        give_bye(sn, ib__sn_person(sn, ib_match_pool_id(sn->pool, res.byes[b])));
    ib_match_result_clear(&res);
    free(who);
}

static void end_session(ib_sn_t *sn, int64_t now)
{
    close_rooms(sn);
    sn->phase = IB_SN_ENDED;
    sn->ends_at = 0;
    sn->ended_at = now;
    broadcast_state(sn, now);
}

static void end_round(ib_sn_t *sn, int64_t now)
{
    close_rooms(sn);
    if (sn->rounds_started >= sn->rounds) {
        end_session(sn, now);
        return;
    }
    if (sn->break_ms <= 0) {
        start_round(sn, now);
        return;
    }
    sn->phase = IB_SN_BREAK;
    sn->ends_at = now + sn->break_ms;
    broadcast_state(sn, now);
}

/* A participant lost their partner(s) mid-round: pair them with another
 * lone participant they have not met and who is not blocked, or give them
 * a bye for the rest of the round. */
static void repair(ib_sn_t *sn, ib_sn_person_t *p)
{
    ib_sn_person_t *best = NULL;
    const char *k;
    void *v;
    for (size_t i = 0; ib_map_next(&sn->people, &i, &k, &v);) {
        ib_sn_person_t *q = v;
        if (q == p || !q->in || !q->alone || q->round != sn->rounds_started ||
            !connected(sn, q->id) || ib_match_pool_blocked(sn->pool, p->handle, q->handle) ||
            ib_event_blocked_pair(sn->ev, p->id, q->id))
            continue;
        unsigned met = ib_match_pool_met_count(sn->pool, p->handle, q->handle);
        if (!best || met < ib_match_pool_met_count(sn->pool, p->handle, best->handle))
            best = q;
    }
    if (!best) {
        give_bye(sn, p);
        return;
    }
    ib_sn_person_t *ps[2] = {p, best};
    ib_match_pool_met(sn->pool, p->handle, best->handle, sn->rounds_started);
    json_t *r = json_array_get(sn->history, sn->rounds_started - 1);
    json_array_append_new(json_object_get(r, "groups"), json_pack("[s,s]", p->id, best->id));
    open_group(sn, ps, 2);
}

/* Someone left the pair: room r (left it, left the session, or was gone
 * past the grace period). If one person remains, they are re-paired. */
void ib__sn_pair_left(ib_room_t *r, int64_t now)
{
    (void)now;
    /* pair:<session>-<n>: the session is named in the room. */
    char id[IB_ID_MAX + 1];
    const char *dash = strrchr(r->id, '-');
    size_t n = dash ? (size_t)(dash - (r->id + 5)) : 0;
    if (!dash || n == 0 || n > IB_ID_MAX)
        return;
    memcpy(id, r->id + 5, n);
    id[n] = 0;
    ib_sn_t *sn = ib_map_get(&r->ev->sn, id);
    if (!sn || (sn->phase != IB_SN_ROUND && sn->phase != IB_SN_PAUSED) || r->count != 1)
        return;
    ib_sn_person_t *p = ib__sn_person(sn, r->first->user->id);
    if (!p || !p->room || strcmp(p->room, r->id))
        return;
    /* The one left leaves the emptied room, then looks for a partner. */
    ib_room_empty(r);
    repair(sn, p);
}

void ib__sn_tick(ib_server_t *srv, int64_t now)
{
    const char *ek, *k;
    void *ev, *v;
    for (size_t i = 0; ib_map_next(&srv->events, &i, &ek, &ev);) {
        for (size_t j = 0; ib_map_next(&((ib_event_t *)ev)->sn, &j, &k, &v);) {
            ib_sn_t *sn = v;
            if (sn->phase == IB_SN_ROUND && !sn->warned && sn->round_ms > 60000 &&
                now >= sn->ends_at - IB_SN_WARNING_MS && now < sn->ends_at) {
                sn->warned = true;
                json_t *w = json_pack("{s:s,s:s,s:I,s:I}", "type", "sn.warning", "session", sn->id,
                                      "round", (json_int_t)sn->rounds_started, "seconds_left",
                                      (json_int_t)((sn->ends_at - now + 999) / 1000));
                const char *pk;
                void *pv;
                for (size_t m = 0; ib_map_next(&sn->people, &m, &pk, &pv);) {
                    ib_sn_person_t *p = pv;
                    if (p->in && p->round == sn->rounds_started)
                        send_to(sn, p->id, w);
                }
                json_decref(w);
            }
            /* Hosts see live counts: opt-ins and opt-outs reach the host
             * (not the whole lounge) at most once a second. */
            if (sn->count_dirty && now - sn->count_sent >= 1000) {
                sn->count_dirty = false;
                sn->count_sent = now;
                json_t *st = state_json(sn, now);
                send_to(sn, sn->host, st);
                json_decref(st);
            }
            if ((sn->phase == IB_SN_ROUND || sn->phase == IB_SN_BREAK) && now >= sn->ends_at) {
                if (sn->phase == IB_SN_ROUND)
                    end_round(sn, now);
                else
                    start_round(sn, now);
            }
        }
    }
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

static void sn_free(ib_sn_t *sn)
{
    const char *k;
    void *v;
    for (size_t i = 0; ib_map_next(&sn->people, &i, &k, &v);) {
        ib_sn_person_t *p = v;
        free(p->id);
        free(p->name);
        free(p->headline);
        free(p->room);
        json_decref(p->contact);
        json_decref(p->match);
        free(p);
    }
    ib_map_free(&sn->people);
    ib_match_pool_free(sn->pool);
    json_decref(sn->history);
    json_decref(sn->feedback);
    json_decref(sn->connections);
    json_decref(sn->rooms_now);
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
        sn_free(v);
    ib_map_free(&ev->sn);
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
    ib_match_opts_t opts = {.group_size = (unsigned)group_size};
    if (ib_room_kind(lounge) != IB_ROOM_LOUNGE) {
        req->why = "lounge must be a lounge:<id> room";
        return IB_EBADREQ;
    }
    if (ib_match_strategy_parse(strategy, &opts.strategy)) {
        req->why = "strategy must be random, rotate or interests";
        return IB_EBADREQ;
    }
    if (ib_match_odd_parse(odd, &opts.odd)) {
        req->why = "odd must be trio or bye";
        return IB_EBADREQ;
    }
    if (s->ev->sn.count >= IB_SN_PER_EVENT_MAX) {
        req->why = "too many speed-networking sessions in this event";
        return IB_ECONFLICT;
    }
    ib_sn_t *sn = calloc(1, sizeof(*sn));
    char id[32];
    unsigned char rnd[4];
    s->srv->tr.random(s->srv->tr.ctx, rnd, sizeof(rnd));
    snprintf(id, sizeof(id), "sn-%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3]);
    if (!sn || !(sn->id = strdup(id)) || !(sn->lounge = strdup(lounge)) ||
        !(sn->host = strdup(s->user->id)) || !(sn->pool = ib_match_pool_new()) ||
        !(sn->history = json_array()) || !(sn->feedback = json_object()) ||
        !(sn->connections = json_object()) || !(sn->rooms_now = json_array()) ||
        ib_map_get(&s->ev->sn, id) || ib_map_put(&s->ev->sn, sn->id, sn)) {
        if (sn)
            sn_free(sn);
        return IB_ENOMEM;
    }
    s->srv->tr.random(s->srv->tr.ctx, &opts.seed, sizeof(opts.seed));
    sn->ev = s->ev;
    sn->opts = opts;
    sn->rounds = (uint32_t)rounds;
    sn->round_ms = round_s * 1000;
    sn->break_ms = break_s * 1000;
    sn->phase = IB_SN_LOBBY;
    ib__reply_ok(req, json_pack("{s:s}", "session", sn->id));
    broadcast_state(sn, req->now);
    return 0;
}

/* Host verbs: the session must be in a phase the verb fits (conflict). */
int ib_h_sn_start(ib_req_t *req)
{
    int err = 0;
    ib_sn_t *sn = get_sn(req, &err);
    if (!sn)
        return err;
    if (sn->phase != IB_SN_LOBBY) {
        req->why = "the session has already started";
        return IB_ECONFLICT;
    }
    ib__reply_ok(req, json_pack("{s:s}", "session", sn->id));
    start_round(sn, req->now);
    return 0;
}

int ib_h_sn_pause(ib_req_t *req)
{
    int err = 0;
    ib_sn_t *sn = get_sn(req, &err);
    if (!sn)
        return err;
    if (sn->phase != IB_SN_ROUND && sn->phase != IB_SN_BREAK) {
        req->why = "only a running round or break can be paused";
        return IB_ECONFLICT;
    }
    sn->paused_from = sn->phase;
    sn->remaining_ms = sn->ends_at > req->now ? sn->ends_at - req->now : 0;
    sn->phase = IB_SN_PAUSED;
    ib__reply_ok(req, json_pack("{s:s}", "session", sn->id));
    broadcast_state(sn, req->now);
    return 0;
}

int ib_h_sn_resume(ib_req_t *req)
{
    int err = 0;
    ib_sn_t *sn = get_sn(req, &err);
    if (!sn)
        return err;
    if (sn->phase != IB_SN_PAUSED) {
        req->why = "the session is not paused";
        return IB_ECONFLICT;
    }
    sn->phase = sn->paused_from;
    set_ends_at(sn, req->now + sn->remaining_ms);
    ib__reply_ok(req, json_pack("{s:s}", "session", sn->id));
    broadcast_state(sn, req->now);
    return 0;
}

int ib_h_sn_extend(ib_req_t *req)
{
    int err = 0;
    int64_t seconds;
    ib_sn_t *sn = get_sn(req, &err);
    if (!sn)
        return err;
    if (ib_get_int(req->m->msg, "seconds", true, 1, IB_SN_SECONDS_MAX, &seconds, &req->why))
        return IB_EBADREQ;
    if (sn->phase != IB_SN_ROUND) {
        req->why = "only a running round can be extended";
        return IB_ECONFLICT;
    }
    set_ends_at(sn, sn->ends_at + seconds * 1000);
    if (sn->ends_at - req->now > IB_SN_WARNING_MS)
        sn->warned = false;
    ib__reply_ok(req,
                 json_pack("{s:s,s:I}", "session", sn->id, "ends_at", (json_int_t)sn->ends_at));
    broadcast_state(sn, req->now);
    return 0;
}

int ib_h_sn_stop(ib_req_t *req)
{
    int err = 0;
    ib_sn_t *sn = get_sn(req, &err);
    if (!sn)
        return err;
    if (sn->phase == IB_SN_ENDED) {
        req->why = "the session has ended";
        return IB_ECONFLICT;
    }
    ib__reply_ok(req, json_pack("{s:s}", "session", sn->id));
    end_session(sn, req->now);
    return 0;
}

int ib_h_sn_join(ib_req_t *req)
{
    ib_session_t *s = req->s;
    int err = 0;
    ib_sn_t *sn = get_sn(req, &err);
    if (!sn)
        return err;
    ib_room_t *lounge = ib_room_get(s->ev, sn->lounge, false);
    if (!lounge || !ib_room_member(lounge, s->user)) {
        req->why = "join the session's lounge first";
        return IB_EFORBIDDEN;
    }
    if (sn->phase == IB_SN_ENDED) {
        req->why = "the session has ended";
        return IB_ECONFLICT;
    }
    ib_user_t *u = s->user;
    ib_sn_person_t *p = ib__sn_person(sn, u->id);
    if (!p) {
        json_t *prof = u->profile;
        const char *lists[3] = {"interests", "offers", "seeks"};
        const char *tags[3][IB_TAGS_MAX];
        size_t n[3] = {0, 0, 0};
        for (int l = 0; l < 3; l++) {
            size_t i;
            json_t *t;
            json_array_foreach(json_object_get(prof, lists[l]), i, t) if (n[l] < IB_TAGS_MAX)
                tags[l][n[l]++] = json_string_value(t);
        }
        ib_match_profile_t mp = {tags[0], n[0], tags[1], n[1], tags[2], n[2]};
        p = calloc(1, sizeof(*p));
        if (!p || !(p->id = strdup(u->id)) || !(p->name = strdup(u->name)) ||
            (u->headline && !(p->headline = strdup(u->headline))) ||
            ib_match_pool_put(sn->pool, u->id, &mp, &p->handle) ||
            ib_map_put(&sn->people, p->id, p)) {
            if (p) {
                free(p->id);
                free(p->name);
                free(p->headline);
            }
            free(p);
            return IB_ENOMEM;
        }
        p->contact = json_deep_copy(json_object_get(prof, "contact"));
    }
    sn->count_dirty |= !p->in;
    p->in = true;
    ib__reply_ok(req, json_pack("{s:s,s:s}", "session", sn->id, "phase", phase_names[sn->phase]));
    return 0;
}

int ib_h_sn_leave(ib_req_t *req)
{
    ib_session_t *s = req->s;
    int err = 0;
    ib_sn_t *sn = get_sn(req, &err);
    if (!sn)
        return err;
    ib_sn_person_t *p = ib__sn_person(sn, s->user->id);
    if (!p || !p->in) {
        req->why = "not taking part in this session";
        return IB_ENOTFOUND;
    }
    p->in = false;
    ib__reply_ok(req, json_pack("{s:s}", "session", sn->id));
    /* Leaving mid-round takes them out of their pair room; the partner
     * is re-paired by the room's departure hook. */
    ib_room_t *r = p->room ? ib_room_get(sn->ev, p->room, false) : NULL;
    if (r) {
        r->pins++;
        if (ib_room_exit_user(r, s->user)) {
            ib_room_presence(r, s->user, "left");
            ib__sn_pair_left(r, req->now);
        }
        r->pins--;
    }
    free(p->room);
    p->room = NULL;
    sn->count_dirty = true;
    return 0;
}

int ib_h_sn_feedback(ib_req_t *req)
{
    ib_session_t *s = req->s;
    int err = 0;
    int64_t round, rating;
    bool connect;
    const char *partner;
    ib_sn_t *sn = get_sn(req, &err);
    if (!sn)
        return err;
    if (ib_get_int(req->m->msg, "round", true, 1, IB_SN_ROUNDS_MAX, &round, &req->why) ||
        ib_get_string(req->m->msg, "partner", true, &partner, &req->why) ||
        ib_get_int(req->m->msg, "rating", true, 1, 5, &rating, &req->why) ||
        ib_get_bool(req->m->msg, "connect", true, &connect, &req->why))
        return IB_EBADREQ;
    int rc = ib__sn_feedback(sn, s->user->id, (uint32_t)round, partner, (int)rating, connect,
                             req->now, &req->why);
    if (rc)
        return rc;
    ib__reply_ok(req, json_pack("{s:s,s:I,s:s}", "session", sn->id, "round", (json_int_t)round,
                                "partner", partner));
    return 0;
}

/* A resumed session hears the current state of every speed-networking
 * session of its lounges, and its own sn.match while a round runs. */
void ib__sn_resumed(ib_session_t *s, int64_t now)
{
    const char *k;
    void *v;
    for (size_t i = 0; ib_map_next(&s->ev->sn, &i, &k, &v);) {
        ib_sn_t *sn = v;
        ib_room_t *lounge = ib_room_get(s->ev, sn->lounge, false);
        ib_sn_person_t *p = ib__sn_person(sn, s->user->id);
        if (!(lounge && ib_session_in_room(s, lounge)) && !(p && p->in))
            continue;
        ib_session_send_json(s, state_json(sn, now));
        if (p && p->match && p->round == sn->rounds_started &&
            (sn->phase == IB_SN_ROUND || sn->phase == IB_SN_PAUSED))
            ib_session_send_json(s, json_incref(p->match));
    }
}

json_t *ib_sn_report_json(ib_event_t *ev, const char *id, int64_t now)
{
    ib_sn_t *sn = ev ? ib_map_get(&ev->sn, id) : NULL;
    if (!sn)
        return NULL;
    json_t *people = json_array();
    const char *k;
    void *v;
    for (size_t i = 0; ib_map_next(&sn->people, &i, &k, &v);)
        json_array_append_new(people, ib__sn_card(v, false));
    json_t *fb = ib__sn_feedback_summary(sn);
    json_t *rep = json_pack(
        "{s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:s,s:I,s:I,s:O,s:o,s:O,s:O,s:I}", "session", sn->id,
        "lounge", sn->lounge, "host", sn->host, "phase", phase_names[sn->phase], "rounds",
        (json_int_t)sn->rounds, "rounds_run", (json_int_t)sn->rounds_started, "round_s",
        (json_int_t)(sn->round_ms / 1000), "strategy", ib_match_strategy_name(sn->opts.strategy),
        "group_size", (json_int_t)sn->opts.group_size, "ended_at", (json_int_t)sn->ended_at,
        "history", sn->history, "participants", people, "ratings", json_object_get(fb, "ratings"),
        "connections", json_object_get(fb, "connections"), "server_time", (json_int_t)now);
    json_decref(fb);
    return rep;
}
