/*
 * Internals of the matching engine shared by match.c, its two solvers and
 * the tests: an exact maximum-weight matching (Edmonds' blossom with the
 * primal-dual method, match_exact.c) and a maximum-cardinality matching over
 * a graph given by a predicate (match_card.c), which is how the engine asks
 * "may these two meet" of a complete graph too large to write down.
 */
#ifndef IB_MATCH_INTERNAL_H
#define IB_MATCH_INTERNAL_H

#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "icebreaker/ib_map.h"
#include "icebreaker/ib_match.h"

/* One undirected edge for the exact solver. */
typedef struct ib__wedge {
    uint32_t u, v;
    int64_t w;
} ib__wedge_t;

/*
 * Maximum-weight matching of the graph on vertices 0..n-1 with the m edges
 * given (no loops, at most one edge per pair). With max_card, only matchings
 * of maximum cardinality are considered, and the heaviest of those is
 * returned. mate[v] receives v's partner or -1. O(n^3) time, O(n + m) memory.
 * Returns 0, IB_EBADREQ for an edge out of range or a loop, or IB_ENOMEM.
 */
int ib__match_exact(size_t n, const ib__wedge_t *edges, size_t m, bool max_card, int32_t *mate);

/* Whether u and v (distinct local indices) may be grouped. */
typedef bool (*ib__edge_fn)(void *ctx, uint32_t u, uint32_t v);

/*
 * Grows mate[] (partner or -1, over 0..n-1, symmetric) to a maximum matching
 * of the graph whose vertices are those with eligible[v] set (all when
 * eligible is NULL) and whose edges are the pairs for which edge() holds.
 * Edges of the matching passed in must be edges of that graph. The graph is
 * never written down: a search asks edge() of candidate pairs, free vertices
 * first, so on the dense graphs of speed networking (everyone may meet nearly
 * everyone) each augmenting path costs a few calls. `order` (may be NULL)
 * lists the vertices in the order searches visit them, so a seeded caller
 * gets seeded, deterministic tie-breaks.
 *
 * budget bounds the edge() calls; 0 means no bound. When it runs out the
 * matching returned is valid but may not be maximum, and *exhausted is set
 * (exhausted may be NULL). Returns the number of augmentations made, or
 * IB_ENOMEM.
 */
int ib__match_card(size_t n, ib__edge_fn edge, void *ctx, int32_t *mate, const uint8_t *eligible,
                   const uint32_t *order, uint64_t budget, bool *exhausted);

/* ---- the pool (match.c) ---- */

typedef struct ib__person {
    char *id;
    uint32_t *tags; /* interests, offers, seeks: each run sorted, no duplicates */
    uint8_t ni, no, ns;
    bool active;
    uint32_t seat; /* IB_MATCH_NONE while inactive */
    uint32_t byes;
    uint32_t links; /* pair-table entries naming this person */
} ib__person_t;

/* One entry of the pair table: the history of an unordered pair. */
typedef struct ib__pair {
    uint64_t key;  /* 0: empty slot */
    uint32_t last; /* round of the last meeting */
    uint16_t met;  /* meetings (saturating) */
    uint8_t blocked;
} ib__pair_t;

/* Scratch memory a pool keeps between runs: a chunked bump allocator with
 * marks, so a run's large temporary arrays land on pages already mapped by
 * the previous round instead of being mapped (and faulted in) afresh. */
typedef struct ib__chunk {
    struct ib__chunk *next;
    size_t cap, used;
    max_align_t data[];
} ib__chunk_t;

typedef struct ib__arena {
    ib__chunk_t *first, *cur;
} ib__arena_t;

typedef struct ib__mark {
    ib__chunk_t *chunk;
    size_t used;
} ib__mark_t;

/* 16-byte aligned; NULL on ENOMEM. ib__zalloc zeroes. */
void *ib__alloc(ib__arena_t *a, size_t size);
void *ib__zalloc(ib__arena_t *a, size_t size);
ib__mark_t ib__mark(const ib__arena_t *a);
/* Give back everything allocated since the mark. */
void ib__release(ib__arena_t *a, ib__mark_t m);
/* End of a run: everything free; chunks merged into one of their total
 * size, so the next run of the same size allocates nothing. */
void ib__arena_reset(ib__arena_t *a);
void ib__arena_free(ib__arena_t *a);

typedef struct ib__tag {
    char *key;  /* ASCII-folded: the identity of the tag */
    char *name; /* spelling first seen */
} ib__tag_t;

struct ib_match_pool {
    ib__person_t *people;
    size_t n_people, cap_people;
    ib_map_t ids; /* id -> handle + 1 */
    ib__tag_t *tags;
    size_t n_tags, cap_tags;
    ib_map_t tag_ids; /* folded tag -> tag id + 1 */
    ib__pair_t *pairs;
    size_t pair_cap, pair_count; /* cap a power of two */
    uint32_t *seat_owner;        /* seat -> handle or IB_MATCH_NONE */
    size_t n_seats, cap_seats, low_free;
    size_t n_active;
    ib__arena_t scratch; /* for runs; kept between them */
};

const ib__pair_t *ib__pair_get(const ib_match_pool_t *pool, uint32_t a, uint32_t b);
int ib__affinity(const ib__person_t *a, const ib__person_t *b);

/* ---- one run (match.c, match_interests.c, match_groups.c) ---- */

typedef struct ib__run {
    const ib_match_pool_t *pool;
    ib__arena_t *arena; /* the pool's scratch */
    ib_match_opts_t o;
    size_t n;
    const uint32_t *h;       /* local index -> handle */
    const ib__person_t **pp; /* local index -> person */
    const uint8_t *linked;   /* local index -> has pair-table entries */
    int32_t *mate;           /* local partner or -1 */
    uint32_t *order;         /* seeded permutation of local indices */
    uint64_t rng;
    uint64_t budget; /* edge tests allowed per cardinality search */
    bool exhausted;
} ib__run_t;

uint64_t ib__rand(uint64_t *state);
uint64_t ib__mix(uint64_t x);

/* Pair state of locals u, v: blocked, met before. */
bool ib__run_fresh(const ib__run_t *r, uint32_t u, uint32_t v);
bool ib__run_allowed(const ib__run_t *r, uint32_t u, uint32_t v);
unsigned ib__run_met(const ib__run_t *r, uint32_t u, uint32_t v);
int ib__run_affinity(const ib__run_t *r, uint32_t u, uint32_t v);

/* `interests` for pairs: fill r->mate over the locals with elig[] set with
 * a heavy matching of fresh pairs (match_interests.c). */
int ib__interests_pairs(ib__run_t *r, const uint8_t *elig);

/* Groups of three (match_groups.c): partition the locals with elig[] set
 * into groups; group[v] receives a group number or -1 (bye). Returns the
 * number of groups or a negative IB_E code. */
int ib__groups_of_three(ib__run_t *r, const uint8_t *elig, int32_t *group);

#endif
