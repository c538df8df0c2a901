/*
 * Matching for speed networking: who meets whom in one round.
 *
 * Pure computation, no I/O, no clock, no global randomness: the seed comes
 * in with the options, and the same pool, options and seed always give the
 * same groups.
 *
 * A pool (ib_match_pool_t) remembers everyone a session has seen: their
 * profile (interests, offers, seeks), the pairs that have met (and in which
 * round), blocked pairs, byes, and the seat each active person holds in the
 * `rotate` circle. People are named by a handle, a small integer given at
 * ib_match_pool_put() and valid for the pool's life. The scheduler keeps one
 * pool per session; ib_match_run() reads it and returns one round's groups;
 * ib_match_commit() writes the round back as history.
 *
 * AFFINITY. For two people a and b,
 *
 *     affinity(a, b) = IB_MATCH_W_INTEREST * |interests(a) & interests(b)|
 *                    + IB_MATCH_W_OFFER * (|offers(a) & seeks(b)|
 *                                        + |offers(b) & seeks(a)|)
 *
 * with tags compared without regard to ASCII case. An offer that meets a
 * seek counts double a shared interest: a buyer meeting a seller is what a
 * business event is for, while a shared interest is a conversation starter.
 * `shared` (ib_match_shared) lists exactly the tags that make up this sum.
 *
 * RULES, in priority order, for groups of two (group_size 2):
 *  1. A blocked pair is never grouped, by any strategy, even if that leaves
 *     someone out.
 *  2. Odd counts follow the `odd` policy. `bye`: one person sits out, and
 *     the bye goes to someone with the fewest byes so far, so nobody sits
 *     out twice while another present has not sat out once. `trio`: the one
 *     left over joins a pair, the one where it causes the fewest repeats
 *     (none when possible). Blocks can leave more people over: each joins
 *     a pair (`trio`) or sits out; such byes, forced by blocks, are outside
 *     the fairness promise (someone everybody blocked sits out every
 *     round).
 *  3. No repeats while avoidable: among the people not sitting out, the
 *     pairs of people who never met form a maximum matching of the "fresh"
 *     graph (pairs neither met nor blocked). Only the people that matching
 *     leaves over are then paired with someone already met (the least met,
 *     longest ago, first), as many as possible.
 *  4. The strategy chooses among the matchings that satisfy 1-3:
 *     - IB_MATCH_RANDOM: a uniformly shuffled order paired off in turn, then
 *       repaired so that rule 3 holds.
 *     - IB_MATCH_ROTATE: the circle method (round-robin). Each active person
 *       holds a seat; seat s meets seat t in one round of every m - 1, m the
 *       number of seats rounded up to even. A static group of n therefore
 *       meets everyone exactly once in n - 1 rounds (n even) or n rounds (n
 *       odd with `odd: bye`, the empty seat giving one bye a round). Someone
 *       who leaves frees their seat, which the next arrival takes, so
 *       arrivals and departures between rounds leave the others' circle
 *       untouched; people whose circle partner is absent or already met are
 *       paired among themselves by rule 3. With `odd: trio` the third member
 *       of a trio meets two people, one of whom the circle booked for
 *       another round, so a trio may force a repeat later: at most the ones
 *       it forces. A static odd group of n with trios has no repeat at all
 *       while the round k < (n - 1) / 4, and over n rounds everyone meets
 *       everyone with exactly 2n repeats, the least possible (n rounds hold
 *       n(n + 3)/2 meetings for n(n - 1)/2 pairs; checked for odd n up to
 *       101, tested up to 41).
 *     - IB_MATCH_INTERESTS: maximum total affinity over the fresh pairs,
 *       among matchings of maximum cardinality (rule 3 still first). Exact
 *       (Edmonds' weighted blossom) when at most IB_MATCH_EXACT_N people take
 *       part. Above that (match_interests.c): a sparse candidate graph, the
 *       IB_MATCH_TOP_K best partners of each person found through an
 *       inverted index over tags (rare tags scanned whole, the most popular
 *       ones scored exactly by bit signatures, people sharing them found by
 *       sorting on those signatures); a greedy start (heaviest edges first,
 *       into paths and even cycles matched by dynamic programming); then
 *       local improvement by weight-augmenting alternating paths. Measured
 *       on Zipf-distributed interests and buyer/seller offers: at least 97%
 *       of the exact optimum in every round of 10-round sessions of 200 and
 *       1000 people (tests/unit/test_match_quality.c). Up to 4096 people the
 *       heuristic runs at full effort; above, its effort is bounded so that
 *       large rounds stay fast, at some cost in affinity
 *       (loadtest/RESULTS.md).
 *
 * Groups of three (group_size 3): groups of three with as few repeated pairs
 * as the search finds (the social golfer problem: no exact guarantee), then
 * the most affinity for `interests`. A remainder of one joins a group
 * (`trio`, making one group of four) or sits out (`bye`, fairly as above); a
 * remainder of two makes a pair. `rotate` starts from a schedule on a grid
 * of seats in which, for a static group whose count of groups is prime,
 * nobody repeats for that many rounds. Rules 1 and 2 hold as for pairs.
 *
 * COST. Memory is linear in the people present plus the pairs recorded.
 * `random` and `rotate` take O(n) per round plus the repairs; `interests`
 * O(n * (IB_MATCH_POSTINGS + IB_MATCH_TOP_K)) for the candidate graph and
 * bounded work over it (loadtest/bench/bench_match.c times 1k, 10k and
 * 100k; figures in loadtest/RESULTS.md, "Matching (issue 3)").
 *
 * The round scheduler (ib_sched.h) runs one ib_match_run per round on its
 * own pool and re-pairs people left alone mid-round by its own rule
 * (another lone participant, fewest meetings first, or a bye).
 */
#ifndef IB_MATCH_H
#define IB_MATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define IB_MATCH_TAGS_MAX 32                        /* tags per list (interests, offers, seeks) */
#define IB_MATCH_TAG_LEN_MAX 64                     /* code points per tag */
#define IB_MATCH_W_INTEREST 1                       /* affinity of a shared interest */
#define IB_MATCH_W_OFFER 2                          /* affinity of an offer meeting a seek */
#define IB_MATCH_SHARED_MAX (3 * IB_MATCH_TAGS_MAX) /* reasons one pair can have */
#define IB_MATCH_EXACT_N 128                        /* `interests` is solved exactly up to here */
#define IB_MATCH_TOP_K 24                           /* candidate partners kept per person */
#define IB_MATCH_POSTINGS 1024 /* postings scanned per person (all of a rare tag) */
#define IB_MATCH_GROUP_MAX 4   /* members of one group (a three plus one) */
#define IB_MATCH_NONE UINT32_MAX

typedef enum ib_match_strategy {
    IB_MATCH_RANDOM = 0,
    IB_MATCH_ROTATE,
    IB_MATCH_INTERESTS,
} ib_match_strategy_t;

typedef enum ib_match_odd {
    IB_MATCH_ODD_TRIO = 0, /* the one left over joins a group */
    IB_MATCH_ODD_BYE,      /* the one left over sits the round out */
} ib_match_odd_t;

/* "random", "rotate", "interests" / "trio", "bye". */
const char *ib_match_strategy_name(ib_match_strategy_t s);
const char *ib_match_odd_name(ib_match_odd_t o);
/* Parse the wire names above; IB_EBADREQ for anything else. */
int ib_match_strategy_parse(const char *s, ib_match_strategy_t *out);
int ib_match_odd_parse(const char *s, ib_match_odd_t *out);

/* What a person brings to matching; the arrays may be NULL when empty. */
typedef struct ib_match_profile {
    const char *const *interests;
    size_t n_interests;
    const char *const *offers;
    size_t n_offers;
    const char *const *seeks;
    size_t n_seeks;
} ib_match_profile_t;

typedef struct ib_match_pool ib_match_pool_t;

ib_match_pool_t *ib_match_pool_new(void);
void ib_match_pool_free(ib_match_pool_t *pool); /* NULL is fine */

/*
 * Add a person, or replace the profile of one already known (history and
 * blocks stay). id: 1..64 of A-Za-z0-9._- ; each list at most
 * IB_MATCH_TAGS_MAX tags of 1..IB_MATCH_TAG_LEN_MAX code points of valid
 * UTF-8 (duplicates within a list count once). profile may be NULL (no
 * tags). A new person starts inactive. On success *handle (may be NULL)
 * receives the handle. Returns 0, IB_EBADREQ (nothing changed) or IB_ENOMEM.
 */
int ib_match_pool_put(ib_match_pool_t *pool, const char *id, const ib_match_profile_t *profile,
                      uint32_t *handle);

/* Handle of id, or IB_ENOTFOUND. */
int ib_match_pool_find(const ib_match_pool_t *pool, const char *id, uint32_t *handle);
size_t ib_match_pool_size(const ib_match_pool_t *pool); /* people known */
const char *ib_match_pool_id(const ib_match_pool_t *pool, uint32_t h);

/*
 * Make a person active (present for matching) or not. An arrival takes the
 * lowest free seat of the `rotate` circle, a departure frees its seat.
 * Returns 0 (also when nothing changes), IB_ENOTFOUND or IB_ENOMEM.
 */
int ib_match_pool_set_active(ib_match_pool_t *pool, uint32_t h, bool active);
bool ib_match_pool_active(const ib_match_pool_t *pool, uint32_t h);
size_t ib_match_pool_active_count(const ib_match_pool_t *pool);
uint32_t ib_match_pool_seat(const ib_match_pool_t *pool,
                            uint32_t h); /* IB_MATCH_NONE if inactive */
/* Put active h on a given seat (restoring a saved state); the seat must be
 * free or h's own. IB_ECONFLICT when taken, IB_EBADREQ when h is inactive
 * or the seat absurd (>= 2^24), IB_ENOMEM. */
int ib_match_pool_set_seat(ib_match_pool_t *pool, uint32_t h, uint32_t seat);

/* Record that a and b may never be grouped. Returns 0, IB_EBADREQ (a == b
 * or unknown handle) or IB_ENOMEM. */
int ib_match_pool_block(ib_match_pool_t *pool, uint32_t a, uint32_t b);
bool ib_match_pool_blocked(const ib_match_pool_t *pool, uint32_t a, uint32_t b);

/* Record a meeting of a and b in round (numbered as the caller likes; it
 * orders repeats, least recent first). Returns 0, IB_EBADREQ or IB_ENOMEM. */
int ib_match_pool_met(ib_match_pool_t *pool, uint32_t a, uint32_t b, uint32_t round);
unsigned ib_match_pool_met_count(const ib_match_pool_t *pool, uint32_t a, uint32_t b);

/*
 * The whole pool as JSON, and back: the tag dictionary in its order, the
 * people in handle order (profiles, active, seat, byes), the seats' count,
 * every pair's history and blocks. A pool read back gives the same handles
 * and the same rounds as the one written (what another node needs to take a
 * session over). to_json returns NULL on ENOMEM. from_json returns 0,
 * IB_EBADREQ for anything malformed (nothing is built) or IB_ENOMEM.
 */
json_t *ib_match_pool_to_json(const ib_match_pool_t *pool);
int ib_match_pool_from_json(const json_t *j, ib_match_pool_t **out);

/* Byes so far; ib_match_pool_add_bye adds delta (negative to undo one that
 * was cancelled), never going below zero. */
unsigned ib_match_pool_byes(const ib_match_pool_t *pool, uint32_t h);
void ib_match_pool_add_bye(ib_match_pool_t *pool, uint32_t h, int delta);

/* The affinity defined above (0 for unknown handles). */
int ib_match_affinity(const ib_match_pool_t *pool, uint32_t a, uint32_t b);

typedef enum ib_match_reason_kind {
    IB_MATCH_REASON_INTEREST = 0, /* both list it as an interest */
    IB_MATCH_REASON_YOU_OFFER,    /* `to` offers it, the partner seeks it */
    IB_MATCH_REASON_THEY_OFFER,   /* the partner offers it, `to` seeks it */
} ib_match_reason_kind_t;

typedef struct ib_match_reason {
    const char *tag; /* the pool's spelling (the first seen); valid while the pool lives */
    ib_match_reason_kind_t kind;
} ib_match_reason_t;

/* What makes the match of `to` with `partner`, as seen by `to`: shared
 * interests, then offers of `to` that the partner seeks, then offers of the
 * partner that `to` seeks, each in tag order. Writes at most max reasons
 * and returns how many there are (at most IB_MATCH_SHARED_MAX). */
size_t ib_match_shared(const ib_match_pool_t *pool, uint32_t to, uint32_t partner,
                       ib_match_reason_t *out, size_t max);

typedef struct ib_match_opts {
    ib_match_strategy_t strategy;
    ib_match_odd_t odd;
    unsigned group_size; /* 2 or 3 */
    uint64_t seed;
    /* 0-based index of this round in the session: the position of the
     * `rotate` circle, and mixed into the seed so rounds differ. */
    uint32_t round;
    /* `interests` is solved exactly up to this many people; 0 means
     * IB_MATCH_EXACT_N. SIZE_MAX forces the heuristic (tests use it). */
    size_t exact_max_n;
} ib_match_opts_t;

typedef struct ib_match_group {
    uint32_t members[IB_MATCH_GROUP_MAX]; /* handles, ascending */
    unsigned size;                        /* 2, 3 or 4 */
} ib_match_group_t;

typedef struct ib_match_result {
    ib_match_group_t *groups; /* ordered by first member */
    size_t n_groups;
    uint32_t *byes; /* ascending */
    size_t n_byes;
    size_t repeats; /* pairs inside groups that had met before */
    long affinity;  /* sum of affinity over the fresh pairs inside groups */
    bool exhausted; /* a search hit its work bound (see ib_match_run) */
} ib_match_result_t;

/*
 * Match one round. who lists the handles taking part (n of them, no
 * duplicates; who NULL: every active person). Everyone listed ends up in
 * exactly one group or among the byes. out must be zeroed or cleared
 * before; on error it is left empty. The pool is only read, except for
 * scratch memory it keeps between runs (so a round does not map its large
 * temporary arrays afresh): two runs on one pool must not overlap.
 *
 * Work is bounded: on an adversarial history at very large n (someone
 * blocked by half the room, say) the exact cardinality search may give up
 * and say so in out->exhausted; the result is still valid, and rules 1 and
 * 3 still hold.
 *
 * Returns 0, IB_EBADREQ (bad options, unknown or repeated handle) or
 * IB_ENOMEM.
 */
int ib_match_run(ib_match_pool_t *pool, const uint32_t *who, size_t n, const ib_match_opts_t *opts,
                 ib_match_result_t *out);

/* Free a result's arrays and zero it (NULL is fine). */
void ib_match_result_clear(ib_match_result_t *r);

/* Record a result as history: every pair in every group met in `round`,
 * every bye counts one. Returns 0 or IB_ENOMEM (partially recorded). */
int ib_match_commit(ib_match_pool_t *pool, const ib_match_result_t *r, uint32_t round);

#endif
