/*
 * The round scheduler of speed networking: the state machine of CONTRACT.md
 * (lobby, round, break, paused, ended) and who is with whom in the current
 * round.
 *
 * Pure: no I/O, no clock, no randomness of its own. Time comes in as `now`
 * (milliseconds, any epoch, never going backwards), the seed with the
 * configuration, and whether someone is still connected through a callback
 * the caller sets (ib_sched_set_presence). Every call that changes something
 * appends what the outside world must be told to an event list
 * (ib_sched_events_t, plain data); the caller turns events into messages
 * and rooms. The same calls with the same `now` values and the same presence
 * answers give the same events, also after the state has been written to
 * JSON and read back on another node (ib_sched_to_json/from_json).
 *
 * PHASES.
 *
 *     lobby --start--> round --(ends_at)--> break --(ends_at)--> round ...
 *     round/break --pause--> paused --resume--> round/break (time left kept)
 *     any but ended --stop--> ended; the last round's end --> ended
 *
 * - start: lobby only. Round 1 starts at once.
 * - A round lasts round_ms, a break break_ms; break_ms 0 starts the next
 *   round as soon as one ends. After `rounds` rounds the session ends.
 * - pause: round or break only; the time left is kept and given back by
 *   resume (paused only), which sets ends_at = now + time left.
 * - extend: a running round only (not paused), by ms > 0; moves ends_at.
 * - stop: any phase but ended.
 * A verb that does not fit the phase returns IB_ECONFLICT and changes
 * nothing (no event either). Deadlines are met by ib_sched_tick(now), which
 * the caller calls at least at ib_sched_deadline(); a transition takes the
 * tick's `now` as its start, so a late tick delays what follows.
 *
 * PARTICIPANTS are the handles of the scheduler's match pool
 * (ib_sched_pool: the caller puts people there with their profiles, and
 * blocks too). ib_sched_join opts one in, ib_sched_leave out. At the start
 * of each round everyone opted in and present (the presence callback) is
 * matched by ib_match_run with the configured strategy (its rules and
 * guarantees are in ib_match.h: no blocked pair, no repeat while
 * avoidable, fair byes, rotate's circle); the round is recorded as history
 * in the pool. Someone who joins while a round runs (or is paused) enters
 * at the next round.
 *
 * RE-PAIRING. When a participant leaves their group mid-round
 * (ib_sched_gone: left the room, gone past the grace period, or opted out),
 * a group left with one member is dissolved and that member is re-paired
 * with another lone participant of this round (someone with a bye, or left
 * alone earlier) who is present and not blocked: the one met fewest times,
 * then the highest affinity, then the lowest handle; the pair is recorded
 * as a meeting. With nobody to take (or when the member is away too), the
 * member gets a bye for the rest of the round and stays available to the
 * next one left alone. Someone whose
 * round-start bye is cancelled by such a re-pairing has that bye taken back
 * (ib_match_pool_add_bye), so bye fairness counts only rounds sat out.
 * A bye given mid-round, forced by someone else's departure, is not counted.
 *
 * GUARANTEES (tests/unit/test_sched.c checks each, on seeded random scripts
 * of joins, departures, absences, blocks, pauses and extensions as well):
 * - a refused verb changes nothing, to the byte of the JSON state;
 * - each round start places everyone opted in and present exactly once
 *   (in one group, or a bye) and nobody else;
 * - nobody is in two groups; no group, at a round's start or made by a
 *   re-pairing, holds a pair blocked at that moment;
 * - the matching's rules hold at every round start (ib_match.h: no repeat
 *   while avoidable, fair byes, rotate's circle of n - 1 rounds);
 * - the warning comes once a round, IB_SCHED_WARNING_MS before its end (or
 *   at once if a resume leaves less), only in rounds longer than
 *   IB_SCHED_WARN_OVER_MS; an extension that leaves more than that again
 *   re-arms it;
 * - determinism: the same calls give the same events, also across
 *   ib_sched_to_json / ib_sched_from_json at any point.
 */
#ifndef IB_SCHED_H
#define IB_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ib_match.h"

#define IB_SCHED_WARNING_MS 30000   /* the warning comes this long before a round ends */
#define IB_SCHED_WARN_OVER_MS 60000 /* ... in rounds (with extensions) longer than this */

typedef enum ib_sched_phase {
    IB_SCHED_LOBBY = 0,
    IB_SCHED_ROUND,
    IB_SCHED_BREAK,
    IB_SCHED_PAUSED,
    IB_SCHED_ENDED,
} ib_sched_phase_t;

/* "lobby", "round", "break", "paused", "ended". */
const char *ib_sched_phase_name(ib_sched_phase_t p);

typedef struct ib_sched_config {
    uint32_t rounds;       /* planned rounds, >= 1 */
    int64_t round_ms;      /* > 0 */
    int64_t break_ms;      /* >= 0 */
    ib_match_opts_t match; /* strategy, odd, group_size, seed, exact_max_n;
                              `round` is set by the scheduler (round - 1) */
} ib_sched_config_t;

typedef enum ib_sched_event_kind {
    /* The phase, round or ends_at changed (the wire's sn.state). */
    IB_SCHED_EV_STATE = 0,
    /* Round `round` begins, ending at ends_at; its STATE, then its GROUP and
     * BYE events follow. */
    IB_SCHED_EV_ROUND_START,
    /* members meet in group number `group` of the round (numbered from 0 in
     * each round, re-pairings continuing the numbering). */
    IB_SCHED_EV_GROUP,
    /* members[0] sits out (the rest of) the round. */
    IB_SCHED_EV_BYE,
    /* seconds_left before the round ends (sent once a round, when it is
     * longer than IB_SCHED_WARN_OVER_MS). */
    IB_SCHED_EV_WARNING,
    /* Round `round` is over: its groups are dissolved. */
    IB_SCHED_EV_ROUND_END,
    /* The session is over (a STATE with phase ended follows). */
    IB_SCHED_EV_ENDED,
} ib_sched_event_kind_t;

typedef struct ib_sched_event {
    ib_sched_event_kind_t kind;
    ib_sched_phase_t phase; /* the phase after the event */
    uint32_t round;         /* the round concerned (rounds started; 0 in the lobby) */
    int64_t at;             /* the `now` of the call that made it */
    /* End of the round or break running after the event; 0 when none
     * (lobby, paused, ended). For a GROUP or BYE made while paused: the end
     * the round would have if resumed at `at`. */
    int64_t ends_at;
    uint32_t seconds_left;                /* WARNING */
    uint32_t group;                       /* GROUP */
    uint32_t members[IB_MATCH_GROUP_MAX]; /* GROUP: ascending; BYE: members[0] */
    unsigned n_members;
    bool repair; /* GROUP or BYE made mid-round after a departure */
} ib_sched_event_t;

/* Events appended by the calls below; zero-initialise, then clear. */
typedef struct ib_sched_events {
    ib_sched_event_t *v;
    size_t n, cap;
} ib_sched_events_t;

/* Free the list's memory and zero it (NULL is fine). */
void ib_sched_events_clear(ib_sched_events_t *e);

typedef struct ib_sched ib_sched_t;

/*
 * A session in the lobby with an empty pool. Returns 0, IB_EBADREQ (rounds
 * 0, round_ms <= 0, break_ms < 0, group_size other than 2 or 3, unknown
 * strategy or odd policy) or IB_ENOMEM.
 */
int ib_sched_new(const ib_sched_config_t *cfg, ib_sched_t **out);
void ib_sched_free(ib_sched_t *s); /* NULL is fine */

/* The pool the scheduler matches from: put people (and blocks) here; their
 * handles name them in every call and event. Owned by the scheduler. */
ib_match_pool_t *ib_sched_pool(ib_sched_t *s);
const ib_sched_config_t *ib_sched_config(const ib_sched_t *s);

/* Whether a participant is still there (connected, or within grace). NULL
 * (the default) means everyone is. Not part of the JSON state: set it again
 * after ib_sched_from_json. */
typedef bool (*ib_sched_present_fn)(void *ctx, uint32_t handle);
void ib_sched_set_presence(ib_sched_t *s, ib_sched_present_fn fn, void *ctx);

/*
 * Host verbs, as above. ev (may be NULL: events dropped) receives the
 * events. Return 0, IB_ECONFLICT (the phase does not fit: nothing changed),
 * IB_EBADREQ (extend by ms <= 0) or IB_ENOMEM (the state has moved on; some
 * events may be missing).
 */
int ib_sched_start(ib_sched_t *s, int64_t now, ib_sched_events_t *ev);
int ib_sched_pause(ib_sched_t *s, int64_t now, ib_sched_events_t *ev);
int ib_sched_resume(ib_sched_t *s, int64_t now, ib_sched_events_t *ev);
int ib_sched_extend(ib_sched_t *s, int64_t ms, int64_t now, ib_sched_events_t *ev);
int ib_sched_stop(ib_sched_t *s, int64_t now, ib_sched_events_t *ev);

/* Move the clock: the warning, the end of a round or break. Returns 0 or
 * IB_ENOMEM. */
int ib_sched_tick(ib_sched_t *s, int64_t now, ib_sched_events_t *ev);
/* The earliest `now` at which ib_sched_tick has something to do;
 * INT64_MAX when nothing is timed (lobby, paused, ended). */
int64_t ib_sched_deadline(const ib_sched_t *s);

/*
 * Participants. join: opt handle in (0 also when already in; IB_ENOTFOUND
 * for a handle not in the pool; IB_ECONFLICT once ended). leave: opt out,
 * and leave the current group as ib_sched_gone does (IB_ENOTFOUND when not
 * opted in). gone: handle left its group mid-round; a member left alone is
 * re-paired or given a bye (0, also when handle was in no group).
 */
int ib_sched_join(ib_sched_t *s, uint32_t handle, int64_t now, ib_sched_events_t *ev);
int ib_sched_leave(ib_sched_t *s, uint32_t handle, int64_t now, ib_sched_events_t *ev);
int ib_sched_gone(ib_sched_t *s, uint32_t handle, int64_t now, ib_sched_events_t *ev);

ib_sched_phase_t ib_sched_phase(const ib_sched_t *s);
/* The phase a pause interrupted (ROUND or BREAK); LOBBY when not paused. */
ib_sched_phase_t ib_sched_paused_from(const ib_sched_t *s);
uint32_t ib_sched_round(const ib_sched_t *s);  /* rounds started so far */
int64_t ib_sched_ends_at(const ib_sched_t *s); /* 0 when none */
/* Time left in the current round or break (also while paused); 0 else. */
int64_t ib_sched_remaining(const ib_sched_t *s, int64_t now);
int64_t ib_sched_ended_at(const ib_sched_t *s);    /* 0 while not ended */
size_t ib_sched_participants(const ib_sched_t *s); /* opted in */
bool ib_sched_joined(const ib_sched_t *s, uint32_t handle);
/* Whether handle is opted in and placed in the current round (in a group
 * or sitting out, not gone). */
bool ib_sched_in_round(const ib_sched_t *s, uint32_t handle);
/* The current group of handle: writes its members (ascending, handle
 * included, at most IB_MATCH_GROUP_MAX) and *group; returns the count, 0
 * when handle is in no group. */
unsigned ib_sched_group_of(const ib_sched_t *s, uint32_t handle, uint32_t *members,
                           uint32_t *group);
/* The members of group g of the current round (as above; 0 when gone). */
unsigned ib_sched_group(const ib_sched_t *s, uint32_t g, uint32_t *members);

/*
 * The whole state as JSON, pool included: what another node needs to take
 * the session over and continue it with identical events. to_json returns
 * NULL on ENOMEM. from_json returns 0, IB_EBADREQ for anything malformed or
 * inconsistent (nothing built) or IB_ENOMEM. The presence callback is not
 * saved.
 */
json_t *ib_sched_to_json(const ib_sched_t *s);
int ib_sched_from_json(const json_t *j, ib_sched_t **out);

#endif
