/*
 * The round scheduler (ib_sched.h): phases, the clock, the current round's
 * groups and mid-round re-pairing. Pure: time, presence and randomness come
 * in from the caller.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "icebreaker/ib_err.h"
#include "icebreaker/ib_sched.h"

#define NONE UINT32_MAX

typedef struct sched_person {
    uint32_t round; /* last round placed in (0: never) */
    uint32_t group; /* group of the current round, NONE when none */
    bool in;        /* opted in */
    bool lone;      /* this round: sitting out and available for re-pairing */
    bool start_bye; /* lone since the start of the round (a counted bye) */
} sched_person_t;

struct ib_sched {
    ib_sched_config_t cfg;
    ib_match_pool_t *pool;
    ib_sched_present_fn present;
    void *present_ctx;
    ib_sched_phase_t phase;
    ib_sched_phase_t paused_from;
    uint32_t round;         /* rounds started */
    int64_t ends_at;        /* end of the running round or break; 0 when none */
    int64_t remaining;      /* while paused */
    int64_t round_len;      /* length of the current round, extensions included */
    int64_t ended_at;       /* 0 while not ended */
    bool warned;            /* the warning of this round is out */
    sched_person_t *people; /* by handle */
    size_t n_people, cap_people;
    size_t n_in;
    ib_match_group_t *groups; /* of the current round */
    size_t n_groups, cap_groups;
};

static const char *const phase_names[] = {"lobby", "round", "break", "paused", "ended"};

const char *ib_sched_phase_name(ib_sched_phase_t p)
{
    return (unsigned)p <= IB_SCHED_ENDED ? phase_names[p] : "?";
}

void ib_sched_events_clear(ib_sched_events_t *e)
{
    if (!e)
        return;
    free(e->v);
    memset(e, 0, sizeof(*e));
}

static bool config_valid(const ib_sched_config_t *c)
{
    return c->rounds >= 1 && c->round_ms > 0 && c->break_ms >= 0 &&
           (c->match.group_size == 2 || c->match.group_size == 3) &&
           (unsigned)c->match.strategy <= IB_MATCH_INTERESTS &&
           (unsigned)c->match.odd <= IB_MATCH_ODD_BYE;
}

int ib_sched_new(const ib_sched_config_t *cfg, ib_sched_t **out)
{
    *out = NULL;
    if (!cfg || !config_valid(cfg))
        return IB_EBADREQ;
    ib_sched_t *s = calloc(1, sizeof(*s));
    if (!s || !(s->pool = ib_match_pool_new())) {
        free(s);
        return IB_ENOMEM;
    }
    s->cfg = *cfg;
    s->cfg.match.round = 0;
    s->phase = IB_SCHED_LOBBY;
    s->paused_from = IB_SCHED_LOBBY;
    *out = s;
    return 0;
}

void ib_sched_free(ib_sched_t *s)
{
    if (!s)
        return;
    ib_match_pool_free(s->pool);
    free(s->people);
    free(s->groups);
    free(s);
}

ib_match_pool_t *ib_sched_pool(ib_sched_t *s)
{
    return s->pool;
}

const ib_sched_config_t *ib_sched_config(const ib_sched_t *s)
{
    return &s->cfg;
}

void ib_sched_set_presence(ib_sched_t *s, ib_sched_present_fn fn, void *ctx)
{
    s->present = fn;
    s->present_ctx = ctx;
}

/* ---- helpers ---- */

/* Room for handles below n in people[]. */
static int people_reserve(ib_sched_t *s, size_t n)
{
    if (n <= s->n_people)
        return 0;
    if (n > s->cap_people) {
        size_t cap = s->cap_people ? s->cap_people : 16;
        while (cap < n)
            cap *= 2;
        sched_person_t *p = realloc(s->people, cap * sizeof(*p));
        if (!p)
            return IB_ENOMEM;
        s->people = p;
        s->cap_people = cap;
    }
    for (size_t i = s->n_people; i < n; i++)
        s->people[i] = (sched_person_t){.group = NONE};
    s->n_people = n;
    return 0;
}

static int groups_reserve(ib_sched_t *s, size_t n)
{
    if (n <= s->cap_groups)
        return 0;
    size_t cap = s->cap_groups ? s->cap_groups : 16;
    while (cap < n)
        cap *= 2;
    ib_match_group_t *g = realloc(s->groups, cap * sizeof(*g));
    if (!g)
        return IB_ENOMEM;
    s->groups = g;
    s->cap_groups = cap;
    return 0;
}

static bool is_present(const ib_sched_t *s, uint32_t h)
{
    return !s->present || s->present(s->present_ctx, h);
}

/* Whether the current round's groups exist (running or paused round). */
static bool round_current(const ib_sched_t *s)
{
    return s->phase == IB_SCHED_ROUND ||
           (s->phase == IB_SCHED_PAUSED && s->paused_from == IB_SCHED_ROUND);
}

/* The end a GROUP or BYE announces. */
static int64_t round_end(const ib_sched_t *s, int64_t now)
{
    return s->phase == IB_SCHED_PAUSED ? now + s->remaining : s->ends_at;
}

static ib_sched_event_t *push(ib_sched_t *s, ib_sched_events_t *ev, ib_sched_event_kind_t kind,
                              int64_t now, int *err)
{
    if (!ev)
        return NULL;
    if (ev->n == ev->cap) {
        size_t cap = ev->cap ? ev->cap * 2 : 16;
        ib_sched_event_t *v = realloc(ev->v, cap * sizeof(*v));
        if (!v) {
            *err = IB_ENOMEM;
            return NULL;
        }
        ev->v = v;
        ev->cap = cap;
    }
    ib_sched_event_t *e = &ev->v[ev->n++];
    memset(e, 0, sizeof(*e));
    e->kind = kind;
    e->phase = s->phase;
    e->round = s->round;
    e->at = now;
    e->ends_at = s->ends_at;
    return e;
}

static void push_state(ib_sched_t *s, ib_sched_events_t *ev, int64_t now, int *err)
{
    push(s, ev, IB_SCHED_EV_STATE, now, err);
}

static void push_group(ib_sched_t *s, ib_sched_events_t *ev, uint32_t g, bool repair, int64_t now,
                       int *err)
{
    ib_sched_event_t *e = push(s, ev, IB_SCHED_EV_GROUP, now, err);
    if (!e)
        return;
    e->ends_at = round_end(s, now);
    e->group = g;
    e->n_members = s->groups[g].size;
    memcpy(e->members, s->groups[g].members, sizeof(e->members));
    e->repair = repair;
}

static void push_bye(ib_sched_t *s, ib_sched_events_t *ev, uint32_t h, bool repair, int64_t now,
                     int *err)
{
    ib_sched_event_t *e = push(s, ev, IB_SCHED_EV_BYE, now, err);
    if (!e)
        return;
    e->ends_at = round_end(s, now);
    e->members[0] = h;
    e->n_members = 1;
    e->repair = repair;
}

/* ---- rounds ---- */

static void dissolve_groups(ib_sched_t *s)
{
    for (size_t g = 0; g < s->n_groups; g++)
        for (unsigned m = 0; m < s->groups[g].size; m++)
            s->people[s->groups[g].members[m]].group = NONE;
    s->n_groups = 0;
    for (size_t h = 0; h < s->n_people; h++) {
        s->people[h].lone = false;
        s->people[h].start_bye = false;
    }
}

static void start_round(ib_sched_t *s, int64_t now, ib_sched_events_t *ev, int *err)
{
    dissolve_groups(s);
    s->round++;
    s->phase = IB_SCHED_ROUND;
    s->paused_from = IB_SCHED_LOBBY;
    s->ends_at = now + s->cfg.round_ms;
    s->round_len = s->cfg.round_ms;
    s->warned = false;

    /* Who takes part: opted in and present. The pool's active flags follow
     * (they hold the seats of the `rotate` circle). */
    size_t np = ib_match_pool_size(s->pool), n = 0;
    int e = people_reserve(s, np);
    uint32_t *who = e ? NULL : malloc((np ? np : 1) * sizeof(*who));
    ib_match_result_t res = {0};
    if (!who) {
        *err = IB_ENOMEM;
    } else {
        for (uint32_t h = 0; h < np; h++) {
            bool take = s->people[h].in && is_present(s, h);
            if (ib_match_pool_set_active(s->pool, h, take))
                *err = IB_ENOMEM;
            if (take)
                who[n++] = h;
        }
        ib_match_opts_t o = s->cfg.match;
        o.round = s->round - 1;
        int rc = ib_match_run(s->pool, who, n, &o, &res);
        if (!rc)
            rc = groups_reserve(s, res.n_groups);
        if (!rc)
            rc = ib_match_commit(s->pool, &res, s->round);
        if (rc) {
            *err = rc;
            ib_match_result_clear(&res); /* nobody placed: an empty round */
        }
    }
    free(who);
    for (size_t g = 0; g < res.n_groups; g++) {
        s->groups[g] = res.groups[g];
        for (unsigned m = 0; m < res.groups[g].size; m++) {
            sched_person_t *p = &s->people[res.groups[g].members[m]];
            p->group = (uint32_t)g;
            p->round = s->round;
        }
    }
    s->n_groups = res.n_groups;
    for (size_t b = 0; b < res.n_byes; b++) {
        sched_person_t *p = &s->people[res.byes[b]];
        p->lone = p->start_bye = true;
        p->round = s->round;
    }
    push(s, ev, IB_SCHED_EV_ROUND_START, now, err);
    push_state(s, ev, now, err);
    for (size_t g = 0; g < s->n_groups; g++)
        push_group(s, ev, (uint32_t)g, false, now, err);
    for (size_t b = 0; b < res.n_byes; b++)
        push_bye(s, ev, res.byes[b], false, now, err);
    ib_match_result_clear(&res);
}

static void end_round_events(ib_sched_t *s, int64_t now, ib_sched_events_t *ev, int *err)
{
    ib_sched_event_t *e = push(s, ev, IB_SCHED_EV_ROUND_END, now, err);
    (void)e;
    dissolve_groups(s);
}

static void end_session(ib_sched_t *s, int64_t now, ib_sched_events_t *ev, int *err)
{
    if (round_current(s))
        end_round_events(s, now, ev, err);
    dissolve_groups(s);
    s->phase = IB_SCHED_ENDED;
    s->paused_from = IB_SCHED_LOBBY;
    s->ends_at = 0;
    s->remaining = 0;
    s->ended_at = now;
    push(s, ev, IB_SCHED_EV_ENDED, now, err);
    push_state(s, ev, now, err);
}

/* The running round's time is up. */
static void end_round(ib_sched_t *s, int64_t now, ib_sched_events_t *ev, int *err)
{
    if (s->round >= s->cfg.rounds) {
        end_session(s, now, ev, err);
        return;
    }
    end_round_events(s, now, ev, err);
    if (s->cfg.break_ms <= 0) {
        start_round(s, now, ev, err);
        return;
    }
    s->phase = IB_SCHED_BREAK;
    s->ends_at = now + s->cfg.break_ms;
    push_state(s, ev, now, err);
}

/* ---- host verbs ---- */

int ib_sched_start(ib_sched_t *s, int64_t now, ib_sched_events_t *ev)
{
    if (s->phase != IB_SCHED_LOBBY)
        return IB_ECONFLICT;
    int err = 0;
    start_round(s, now, ev, &err);
    return err;
}

int ib_sched_pause(ib_sched_t *s, int64_t now, ib_sched_events_t *ev)
{
    if (s->phase != IB_SCHED_ROUND && s->phase != IB_SCHED_BREAK)
        return IB_ECONFLICT;
    int err = 0;
    s->paused_from = s->phase;
    s->remaining = s->ends_at > now ? s->ends_at - now : 0;
    s->phase = IB_SCHED_PAUSED;
    s->ends_at = 0;
    push_state(s, ev, now, &err);
    return err;
}

int ib_sched_resume(ib_sched_t *s, int64_t now, ib_sched_events_t *ev)
{
    if (s->phase != IB_SCHED_PAUSED)
        return IB_ECONFLICT;
    int err = 0;
    s->phase = s->paused_from;
    s->paused_from = IB_SCHED_LOBBY;
    s->ends_at = now + s->remaining;
    s->remaining = 0;
    push_state(s, ev, now, &err);
    return err;
}

int ib_sched_extend(ib_sched_t *s, int64_t ms, int64_t now, ib_sched_events_t *ev)
{
    if (ms <= 0 || ms > INT32_MAX)
        return IB_EBADREQ;
    if (s->phase != IB_SCHED_ROUND)
        return IB_ECONFLICT;
    int err = 0;
    s->ends_at += ms;
    s->round_len += ms;
    if (s->ends_at - now > IB_SCHED_WARNING_MS)
        s->warned = false;
    push_state(s, ev, now, &err);
    return err;
}

int ib_sched_stop(ib_sched_t *s, int64_t now, ib_sched_events_t *ev)
{
    if (s->phase == IB_SCHED_ENDED)
        return IB_ECONFLICT;
    int err = 0;
    end_session(s, now, ev, &err);
    return err;
}

static bool warning_due(const ib_sched_t *s)
{
    return s->phase == IB_SCHED_ROUND && !s->warned && s->round_len > IB_SCHED_WARN_OVER_MS;
}

int64_t ib_sched_deadline(const ib_sched_t *s)
{
    if (s->phase != IB_SCHED_ROUND && s->phase != IB_SCHED_BREAK)
        return INT64_MAX;
    if (warning_due(s))
        return s->ends_at - IB_SCHED_WARNING_MS;
    return s->ends_at;
}

int ib_sched_tick(ib_sched_t *s, int64_t now, ib_sched_events_t *ev)
{
    int err = 0;
    if (warning_due(s) && now >= s->ends_at - IB_SCHED_WARNING_MS && now < s->ends_at) {
        s->warned = true;
        ib_sched_event_t *e = push(s, ev, IB_SCHED_EV_WARNING, now, &err);
        if (e)
            e->seconds_left = (uint32_t)((s->ends_at - now + 999) / 1000);
    }
    /* round_ms > 0, and a zero break starts the next round inline, so one
     * transition per tick is all a deadline can need. */
    if ((s->phase == IB_SCHED_ROUND || s->phase == IB_SCHED_BREAK) && now >= s->ends_at) {
        if (s->phase == IB_SCHED_ROUND)
            end_round(s, now, ev, &err);
        else
            start_round(s, now, ev, &err);
    }
    return err;
}

/* ---- participants ---- */

int ib_sched_join(ib_sched_t *s, uint32_t h, int64_t now, ib_sched_events_t *ev)
{
    (void)now;
    (void)ev;
    if (h >= ib_match_pool_size(s->pool))
        return IB_ENOTFOUND;
    if (s->phase == IB_SCHED_ENDED)
        return IB_ECONFLICT;
    if (people_reserve(s, (size_t)h + 1))
        return IB_ENOMEM;
    if (!s->people[h].in) {
        s->people[h].in = true;
        s->n_in++;
    }
    return 0;
}

/* Pair h (alone in the current round) with another lone participant, or
 * give h a bye. */
static void repair(ib_sched_t *s, uint32_t h, int64_t now, ib_sched_events_t *ev, int *err)
{
    uint32_t best = NONE;
    unsigned best_met = 0;
    int best_aff = 0;
    /* Someone away is paired with nobody: a bye, until they are back and
     * someone else is left alone. */
    for (uint32_t q = 0; is_present(s, h) && q < s->n_people; q++) {
        const sched_person_t *p = &s->people[q];
        if (q == h || !p->in || !p->lone || p->round != s->round ||
            ib_match_pool_blocked(s->pool, h, q) || !is_present(s, q))
            continue;
        unsigned met = ib_match_pool_met_count(s->pool, h, q);
        int aff = ib_match_affinity(s->pool, h, q);
        if (best == NONE || met < best_met || (met == best_met && aff > best_aff)) {
            best = q;
            best_met = met;
            best_aff = aff;
        }
    }
    sched_person_t *me = &s->people[h];
    me->round = s->round;
    if (best == NONE || groups_reserve(s, s->n_groups + 1) ||
        ib_match_pool_met(s->pool, h, best, s->round)) {
        if (best != NONE)
            *err = IB_ENOMEM;
        me->lone = true;
        me->start_bye = false;
        push_bye(s, ev, h, true, now, err);
        return;
    }
    sched_person_t *other = &s->people[best];
    if (other->start_bye)
        ib_match_pool_add_bye(s->pool, best, -1); /* sat out only part of it */
    other->lone = other->start_bye = false;
    me->lone = me->start_bye = false;
    uint32_t g = (uint32_t)s->n_groups++;
    ib_match_group_t *gr = &s->groups[g];
    memset(gr, 0, sizeof(*gr));
    gr->size = 2;
    gr->members[0] = h < best ? h : best;
    gr->members[1] = h < best ? best : h;
    me->group = other->group = g;
    push_group(s, ev, g, true, now, err);
}

int ib_sched_gone(ib_sched_t *s, uint32_t h, int64_t now, ib_sched_events_t *ev)
{
    if (h >= s->n_people || !round_current(s))
        return 0;
    int err = 0;
    sched_person_t *p = &s->people[h];
    p->lone = p->start_bye = false;
    uint32_t g = p->group;
    if (g == NONE)
        return 0;
    p->group = NONE;
    ib_match_group_t *gr = &s->groups[g];
    unsigned k = 0;
    for (unsigned m = 0; m < gr->size; m++)
        if (gr->members[m] != h)
            gr->members[k++] = gr->members[m];
    for (unsigned m = k; m < IB_MATCH_GROUP_MAX; m++)
        gr->members[m] = 0;
    gr->size = k;
    if (k == 1) {
        /* Alone: the group is dissolved and its last member re-paired. */
        uint32_t last = gr->members[0];
        gr->size = 0;
        gr->members[0] = 0;
        s->people[last].group = NONE;
        repair(s, last, now, ev, &err);
    }
    return err;
}

int ib_sched_leave(ib_sched_t *s, uint32_t h, int64_t now, ib_sched_events_t *ev)
{
    if (h >= s->n_people || !s->people[h].in)
        return IB_ENOTFOUND;
    s->people[h].in = false;
    s->n_in--;
    return ib_sched_gone(s, h, now, ev);
}

/* ---- queries ---- */

ib_sched_phase_t ib_sched_phase(const ib_sched_t *s)
{
    return s->phase;
}

ib_sched_phase_t ib_sched_paused_from(const ib_sched_t *s)
{
    return s->phase == IB_SCHED_PAUSED ? s->paused_from : IB_SCHED_LOBBY;
}

uint32_t ib_sched_round(const ib_sched_t *s)
{
    return s->round;
}

int64_t ib_sched_ends_at(const ib_sched_t *s)
{
    return s->ends_at;
}

int64_t ib_sched_remaining(const ib_sched_t *s, int64_t now)
{
    if (s->phase == IB_SCHED_PAUSED)
        return s->remaining;
    if (s->phase == IB_SCHED_ROUND || s->phase == IB_SCHED_BREAK)
        return s->ends_at > now ? s->ends_at - now : 0;
    return 0;
}

int64_t ib_sched_ended_at(const ib_sched_t *s)
{
    return s->ended_at;
}

size_t ib_sched_participants(const ib_sched_t *s)
{
    return s->n_in;
}

bool ib_sched_joined(const ib_sched_t *s, uint32_t h)
{
    return h < s->n_people && s->people[h].in;
}

bool ib_sched_in_round(const ib_sched_t *s, uint32_t h)
{
    if (h >= s->n_people || !round_current(s))
        return false;
    const sched_person_t *p = &s->people[h];
    return p->in && p->round == s->round && (p->group != NONE || p->lone);
}

unsigned ib_sched_group(const ib_sched_t *s, uint32_t g, uint32_t *members)
{
    if (g >= s->n_groups)
        return 0;
    memcpy(members, s->groups[g].members, s->groups[g].size * sizeof(uint32_t));
    return s->groups[g].size;
}

unsigned ib_sched_group_of(const ib_sched_t *s, uint32_t h, uint32_t *members, uint32_t *group)
{
    if (h >= s->n_people || s->people[h].group == NONE)
        return 0;
    *group = s->people[h].group;
    return ib_sched_group(s, *group, members);
}

/* ---- JSON ---- */

json_t *ib_sched_to_json(const ib_sched_t *s)
{
    char seed[24];
    snprintf(seed, sizeof(seed), "%016llx", (unsigned long long)s->cfg.match.seed);
    json_t *people = json_array(), *groups = json_array(), *pool = ib_match_pool_to_json(s->pool);
    json_t *j = NULL;
    if (!people || !groups || !pool)
        goto oom;
    for (size_t h = 0; h < s->n_people; h++) {
        const sched_person_t *p = &s->people[h];
        if (!p->in && !p->round && p->group == NONE && !p->lone)
            continue;
        json_t *a = json_pack("[I,b,I,I,b,b]", (json_int_t)h, p->in, (json_int_t)p->round,
                              p->group == NONE ? (json_int_t)-1 : (json_int_t)p->group, p->lone,
                              p->start_bye);
        if (!a || json_array_append_new(people, a))
            goto oom;
    }
    for (size_t g = 0; g < s->n_groups; g++) {
        json_t *a = json_array();
        for (unsigned m = 0; a && m < s->groups[g].size; m++)
            if (json_array_append_new(a, json_integer(s->groups[g].members[m]))) {
                json_decref(a);
                a = NULL;
            }
        if (!a || json_array_append_new(groups, a))
            goto oom;
    }
    j = json_pack("{s:i,s:{s:I,s:I,s:I,s:s,s:s,s:I,s:s,s:I},s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:b,"
                  "s:I,s:o,s:o,s:o}",
                  "v", 1, "config", "rounds", (json_int_t)s->cfg.rounds, "round_ms",
                  (json_int_t)s->cfg.round_ms, "break_ms", (json_int_t)s->cfg.break_ms, "strategy",
                  ib_match_strategy_name(s->cfg.match.strategy), "odd",
                  ib_match_odd_name(s->cfg.match.odd), "group_size",
                  (json_int_t)s->cfg.match.group_size, "seed", seed, "exact_max_n",
                  s->cfg.match.exact_max_n == SIZE_MAX ? (json_int_t)-1
                                                       : (json_int_t)s->cfg.match.exact_max_n,
                  "phase", phase_names[s->phase], "paused_from", phase_names[s->paused_from],
                  "round", (json_int_t)s->round, "ends_at", (json_int_t)s->ends_at, "remaining",
                  (json_int_t)s->remaining, "round_len", (json_int_t)s->round_len, "ended_at",
                  (json_int_t)s->ended_at, "warned", s->warned, "n_people", (json_int_t)s->n_people,
                  "people", people, "groups", groups, "pool", pool);
    return j; /* json_pack took the three lists, also when it failed */
oom:
    json_decref(people);
    json_decref(groups);
    json_decref(pool);
    return NULL;
}

static int phase_parse(const char *name, ib_sched_phase_t *out)
{
    for (unsigned i = 0; name && i <= IB_SCHED_ENDED; i++)
        if (!strcmp(name, phase_names[i])) {
            *out = (ib_sched_phase_t)i;
            return 0;
        }
    return IB_EBADREQ;
}

static bool int_in(const json_t *v, json_int_t lo, json_int_t hi, json_int_t *out)
{
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return false;
    *out = json_integer_value(v);
    return true;
}

int ib_sched_from_json(const json_t *j, ib_sched_t **out)
{
    *out = NULL;
    json_t *c = json_object_get(j, "config");
    json_int_t v, rounds, round_ms, break_ms, gs, exact, round, ends_at, remaining, round_len,
        ended_at, n_people;
    const char *strategy, *odd, *seed_s, *phase_s, *paused_s;
    ib_sched_config_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    if (!int_in(json_object_get(j, "v"), 1, 1, &v) ||
        !int_in(json_object_get(c, "rounds"), 1, UINT32_MAX, &rounds) ||
        !int_in(json_object_get(c, "round_ms"), 1, INT64_MAX / 4, &round_ms) ||
        !int_in(json_object_get(c, "break_ms"), 0, INT64_MAX / 4, &break_ms) ||
        !int_in(json_object_get(c, "group_size"), 2, 3, &gs) ||
        !int_in(json_object_get(c, "exact_max_n"), -1, INT64_MAX, &exact) ||
        !(strategy = json_string_value(json_object_get(c, "strategy"))) ||
        !(odd = json_string_value(json_object_get(c, "odd"))) ||
        !(seed_s = json_string_value(json_object_get(c, "seed"))) ||
        ib_match_strategy_parse(strategy, &cfg.match.strategy) ||
        ib_match_odd_parse(odd, &cfg.match.odd) ||
        !(phase_s = json_string_value(json_object_get(j, "phase"))) ||
        !(paused_s = json_string_value(json_object_get(j, "paused_from"))) ||
        !int_in(json_object_get(j, "round"), 0, UINT32_MAX, &round) ||
        !int_in(json_object_get(j, "ends_at"), INT64_MIN / 4, INT64_MAX / 4, &ends_at) ||
        !int_in(json_object_get(j, "remaining"), 0, INT64_MAX / 4, &remaining) ||
        !int_in(json_object_get(j, "round_len"), 0, INT64_MAX / 4, &round_len) ||
        !int_in(json_object_get(j, "ended_at"), INT64_MIN / 4, INT64_MAX / 4, &ended_at) ||
        !int_in(json_object_get(j, "n_people"), 0, UINT32_MAX, &n_people) ||
        !json_is_boolean(json_object_get(j, "warned")) ||
        !json_is_array(json_object_get(j, "people")) ||
        !json_is_array(json_object_get(j, "groups")))
        return IB_EBADREQ;
    char *end = NULL;
    if (strlen(seed_s) != 16)
        return IB_EBADREQ;
    unsigned long long seed = strtoull(seed_s, &end, 16);
    if (!end || *end)
        return IB_EBADREQ;
    cfg.rounds = (uint32_t)rounds;
    cfg.round_ms = round_ms;
    cfg.break_ms = break_ms;
    cfg.match.group_size = (unsigned)gs;
    cfg.match.seed = seed;
    cfg.match.exact_max_n = exact < 0 ? SIZE_MAX : (size_t)exact;
    ib_sched_phase_t phase, paused_from;
    if (phase_parse(phase_s, &phase) || phase_parse(paused_s, &paused_from))
        return IB_EBADREQ;
    /* The phase fits the rest. */
    if (phase == IB_SCHED_PAUSED ? paused_from != IB_SCHED_ROUND && paused_from != IB_SCHED_BREAK
                                 : paused_from != IB_SCHED_LOBBY)
        return IB_EBADREQ;
    if ((phase == IB_SCHED_LOBBY) != (round == 0) || round > rounds)
        return IB_EBADREQ;
    if (phase != IB_SCHED_ROUND && phase != IB_SCHED_BREAK && ends_at != 0)
        return IB_EBADREQ;

    ib_match_pool_t *pool = NULL;
    int err = ib_match_pool_from_json(json_object_get(j, "pool"), &pool);
    if (err)
        return err;
    ib_sched_t *s = NULL;
    if ((size_t)n_people > ib_match_pool_size(pool)) {
        ib_match_pool_free(pool);
        return IB_EBADREQ;
    }
    if ((err = ib_sched_new(&cfg, &s))) {
        ib_match_pool_free(pool);
        return err;
    }
    ib_match_pool_free(s->pool);
    s->pool = pool;
    s->phase = phase;
    s->paused_from = paused_from;
    s->round = (uint32_t)round;
    s->ends_at = ends_at;
    s->remaining = remaining;
    s->round_len = round_len;
    s->ended_at = ended_at;
    s->warned = json_is_true(json_object_get(j, "warned"));
    json_t *groups = json_object_get(j, "groups"), *people = json_object_get(j, "people");
    bool groups_ok = round_current(s) || json_array_size(groups) == 0;
    if (!groups_ok || people_reserve(s, (size_t)n_people) ||
        groups_reserve(s, json_array_size(groups))) {
        err = groups_ok ? IB_ENOMEM : IB_EBADREQ;
        goto fail;
    }
    for (size_t i = 0; i < json_array_size(people); i++) {
        json_int_t h, pr, g;
        int in, lone, start_bye;
        if (json_unpack(json_array_get(people, i), "[IbIIbb]", &h, &in, &pr, &g, &lone,
                        &start_bye) ||
            h < 0 || h >= n_people || pr < 0 || pr > round || g < -1 ||
            g >= (json_int_t)json_array_size(groups) || (start_bye && !lone) ||
            ((g >= 0 || lone) && pr != round)) {
            err = IB_EBADREQ;
            goto fail;
        }
        sched_person_t *p = &s->people[h];
        if (p->in || p->round || p->group != NONE || p->lone) { /* the same handle twice */
            err = IB_EBADREQ;
            goto fail;
        }
        p->in = in;
        p->round = (uint32_t)pr;
        p->group = g < 0 ? NONE : (uint32_t)g;
        p->lone = lone;
        p->start_bye = start_bye;
        s->n_in += in != 0;
        if (p->group != NONE && p->lone) {
            err = IB_EBADREQ;
            goto fail;
        }
    }
    for (size_t g = 0; g < json_array_size(groups); g++) {
        json_t *a = json_array_get(groups, g);
        size_t k = json_array_size(a);
        if (!json_is_array(a) || k == 1 || k > IB_MATCH_GROUP_MAX) {
            err = IB_EBADREQ;
            goto fail;
        }
        ib_match_group_t *gr = &s->groups[g];
        memset(gr, 0, sizeof(*gr));
        gr->size = (unsigned)k;
        for (size_t m = 0; m < k; m++) {
            json_int_t h;
            if (!int_in(json_array_get(a, m), 0, n_people - 1, &h) ||
                s->people[h].group != (uint32_t)g || (m && (uint32_t)h <= gr->members[m - 1])) {
                err = IB_EBADREQ;
                goto fail;
            }
            gr->members[m] = (uint32_t)h;
        }
    }
    s->n_groups = json_array_size(groups);
    /* Everyone said to be in a group is in it. */
    for (size_t h = 0; h < s->n_people; h++) {
        uint32_t g = s->people[h].group, m;
        if (g == NONE)
            continue;
        for (m = 0; m < s->groups[g].size && s->groups[g].members[m] != h; m++)
            ;
        if (m == s->groups[g].size) {
            err = IB_EBADREQ;
            goto fail;
        }
    }
    *out = s;
    return 0;
fail:
    ib_sched_free(s);
    return err;
}
