/*
 * Private to server/core: a live speed-networking session (sn.c and
 * sn_feedback.c). The round state machine and the matching are the
 * scheduler's (ib_sched.h); this is what the node adds around it: people's
 * cards, the pair rooms of the current round, feedback and connections,
 * and the record the report is made from.
 */
#ifndef IB_SN_INTERNAL_H
#define IB_SN_INTERNAL_H

#include "core_internal.h"
#include "icebreaker/ib_match.h"

#define IB_SN_FEEDBACK_AFTER_MS (10 * 60 * 1000)

/* A participant as the others see them. */
typedef struct ib_sn_person {
    char *id;
    char *name;
    char *headline;  /* NULL when absent */
    json_t *contact; /* revealed only through `connection` */
    bool in;         /* opted in */
    uint32_t handle; /* in the matching pool */
    uint32_t round;  /* the round of `room` / `match` */
    char *room;      /* current pair: room, NULL when none */
    bool alone;      /* this round: a bye, or the partner left */
    json_t *match;   /* the last sn.match sent this round (resent on resume) */
} ib_sn_person_t;

typedef enum ib_sn_phase {
    IB_SN_LOBBY = 0,
    IB_SN_ROUND,
    IB_SN_BREAK,
    IB_SN_PAUSED,
    IB_SN_ENDED,
} ib_sn_phase_t;

typedef struct ib_sn {
    char *id;
    ib_event_t *ev;
    char *lounge;
    char *host;
    ib_map_t people; /* id -> ib_sn_person_t */
    ib_match_pool_t *pool;
    ib_match_opts_t opts;
    uint32_t rounds;  /* planned */
    int64_t round_ms; /* length of a round */
    int64_t break_ms; /* length of a break */
    ib_sn_phase_t phase;
    ib_sn_phase_t paused_from; /* ROUND or BREAK */
    int64_t ends_at;           /* end of the current round or break; 0 when none */
    int64_t remaining_ms;      /* while paused */
    bool warned;               /* sn.warning sent this round */
    uint32_t rounds_started;
    uint32_t next_room;  /* numbering of pair: rooms */
    json_t *rooms_now;   /* pair: room ids of the current round */
    json_t *history;     /* report: [{round, started, groups:[[ids]], byes:[ids]}] */
    json_t *feedback;    /* "round/from/to" -> {rating, connect, at} */
    json_t *connections; /* "a/b" (sorted) -> round */
    int64_t ended_at;    /* 0 while not ended */
    bool count_dirty;    /* participants changed: the host hears it (1/s) */
    int64_t count_sent;
} ib_sn_t;

ib_sn_person_t *ib__sn_person(const ib_sn_t *sn, const char *id);
/* Whether a and b were in one group in round. */
bool ib__sn_met(const ib_sn_t *sn, uint32_t round, const char *a, const char *b);
/* {id,name,headline} (+ contact claims when with_contact). */
json_t *ib__sn_card(const ib_sn_person_t *p, bool with_contact);

int ib__sn_feedback(ib_sn_t *sn, const char *from, uint32_t round, const char *partner, int rating,
                    bool connect, int64_t now, const char **why);
/* {ratings:{count,mean,histogram}, connections:[{a,b,round}]} */
json_t *ib__sn_feedback_summary(const ib_sn_t *sn);

#endif
