/*
 * Groups of three (group_size 3): the social golfer problem, which has no
 * known efficient exact method, so this is a start plus local search.
 *
 * Sizes first: n = 3g gives g threes; 3g + 1 gives g - 1 threes and a four
 * (`trio`) or g threes and a fair bye (`bye`); 3g + 2 gives g threes and a
 * pair. Then a start by strategy:
 *   - random: the seeded order cut into groups;
 *   - rotate: people by seat on a grid with one column per group; row i
 *     moves i columns further each round, so two people in different rows
 *     meet when their column gap is a multiple of the round step, which for
 *     a prime number of groups g happens once in g rounds: no repeats for g
 *     rounds of a static group;
 *   - interests: the heaviest pairs of the pair matcher become the cores of
 *     the groups and everyone else joins the core, among a seeded sample,
 *     they share most with.
 * Then swaps of two people between groups while a swap lowers the cost: a
 * repeated pair costs IB__REPEAT, a blocked pair IB__BLOCK, and for
 * `interests` the affinity of fresh pairs counts against the cost. A block
 * that survives the search removes someone from the group: they join a
 * group of two where they block no one, or sit out; the fair bye, if any,
 * takes a place so freed.
 */
#include <stdlib.h>
#include <string.h>

#include "icebreaker/ib_err.h"
#include "match_internal.h"

#define IB__REPEAT 1000
#define IB__BLOCK 1000000
#define IB__TRIES 24  /* partners tried per person per pass */
#define IB__GPASSES 8 /* passes over the people in a repeat or a block */
#define IB__SAMPLE 32 /* cores sampled per person by `interests` */

typedef struct gs {
    ib__run_t *r;
    size_t ng;
    uint32_t (*m)[IB_MATCH_GROUP_MAX]; /* members of each group */
    unsigned *size, *cap;
    int32_t *gof; /* local -> group or -1 */
} gs_t;

static int32_t pair_cost(const gs_t *s, uint32_t x, uint32_t y)
{
    const ib__run_t *r = s->r;
    if (!r->linked[x] || !r->linked[y])
        return r->o.strategy == IB_MATCH_INTERESTS ? -ib__run_affinity(r, x, y) : 0;
    const ib__pair_t *p = ib__pair_get(r->pool, r->h[x], r->h[y]);
    if (p && p->blocked)
        return IB__BLOCK;
    if (p && p->met)
        return IB__REPEAT;
    return r->o.strategy == IB_MATCH_INTERESTS ? -ib__run_affinity(r, x, y) : 0;
}

/* Cost of x's pairs with group g, leaving out `skip`. */
static int64_t cost_with(const gs_t *s, uint32_t x, size_t g, uint32_t skip)
{
    int64_t c = 0;
    for (unsigned i = 0; i < s->size[g]; i++) {
        uint32_t y = s->m[g][i];
        if (y != skip && y != x)
            c += pair_cost(s, x, y);
    }
    return c;
}

static void put(gs_t *s, size_t g, uint32_t v)
{
    s->m[g][s->size[g]++] = v;
    s->gof[v] = (int32_t)g;
}

static void take_out(gs_t *s, uint32_t v)
{
    size_t g = (size_t)s->gof[v];
    for (unsigned i = 0; i < s->size[g]; i++) {
        if (s->m[g][i] == v) {
            s->m[g][i] = s->m[g][--s->size[g]];
            break;
        }
    }
    s->gof[v] = -1;
}

static void swap_people(gs_t *s, uint32_t x, uint32_t y)
{
    size_t a = (size_t)s->gof[x], b = (size_t)s->gof[y];
    for (unsigned i = 0; i < s->size[a]; i++)
        if (s->m[a][i] == x)
            s->m[a][i] = y;
    for (unsigned i = 0; i < s->size[b]; i++)
        if (s->m[b][i] == y)
            s->m[b][i] = x;
    s->gof[x] = (int32_t)b;
    s->gof[y] = (int32_t)a;
}

/* The rotate grid: people in seat order, column = index % ng, row = index
 * / ng, group = (column + row * round) % ng. */
static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int start_rotate(gs_t *s, const uint32_t *people, size_t np)
{
    /* Seats are unique among active people; people run while inactive have
     * none and come last, in handle order. */
    uint64_t *key = malloc((np ? np : 1) * sizeof(uint64_t));
    if (!key)
        return IB_ENOMEM;
    for (size_t i = 0; i < np; i++) {
        uint64_t seat = s->r->pp[people[i]]->seat;
        key[i] = (seat << 32) | people[i];
    }
    qsort(key, np, sizeof(uint64_t), cmp_u64);
    size_t ng = s->ng;
    uint64_t step = s->r->o.round % ng;
    for (size_t i = 0; i < np; i++) {
        uint32_t v = (uint32_t)(key[i] & 0xffffffffu);
        size_t col = i % ng, row = i / ng;
        size_t g = (size_t)((col + row * step) % ng);
        /* The grid's last row is short; if a group is full (the four or the
         * pair sit where the grid did not put them), take the next. */
        for (size_t k = 0; k < ng && s->size[g] >= s->cap[g]; k++)
            g = (g + 1) % ng;
        put(s, g, v);
    }
    free(key);
    return 0;
}

typedef struct core {
    uint32_t a, b;
    int32_t w;
} core_t;

static int cmp_core(const void *x, const void *y)
{
    const core_t *c = x, *d = y;
    if (c->w != d->w)
        return c->w > d->w ? -1 : 1;
    return c->a < d->a ? -1 : c->a > d->a;
}

static int start_interests(gs_t *s, const uint8_t *elig, const uint32_t *people, size_t np)
{
    ib__run_t *r = s->r;
    int err = ib__interests_pairs(r, elig);
    if (err)
        return err;
    /* Pairs by weight, heaviest first, become the cores. */
    core_t *cores = malloc((np / 2 + 1) * sizeof(core_t));
    uint32_t *rest = malloc((np ? np : 1) * sizeof(uint32_t));
    size_t *open = malloc((s->ng ? s->ng : 1) * sizeof(size_t));
    if (!cores || !rest || !open) {
        free(cores);
        free(rest);
        free(open);
        return IB_ENOMEM;
    }
    size_t nc = 0, nr = 0;
    for (size_t i = 0; i < np; i++) {
        uint32_t v = people[i];
        int32_t m = r->mate[v];
        if (m > (int32_t)v) {
            cores[nc].a = v;
            cores[nc].b = (uint32_t)m;
            cores[nc].w = ib__run_affinity(r, v, (uint32_t)m);
            nc++;
        }
    }
    qsort(cores, nc, sizeof(core_t), cmp_core);
    size_t used = 0;
    for (size_t g = 0; g < s->ng && used < nc; g++, used++) {
        if (s->cap[g] < 2)
            break;
        put(s, g, cores[used].a);
        put(s, g, cores[used].b);
    }
    for (size_t i = 0; i < np; i++)
        if (s->gof[people[i]] < 0)
            rest[nr++] = people[i];
    for (size_t i = 0; i < np; i++)
        r->mate[people[i]] = -1;
    size_t nopen = 0;
    for (size_t g = 0; g < s->ng; g++)
        if (s->size[g] < s->cap[g])
            open[nopen++] = g;
    for (size_t i = 0; i < nr; i++) {
        uint32_t x = rest[i];
        size_t best = SIZE_MAX;
        int64_t best_c = 0;
        for (int t = 0; t < IB__SAMPLE && nopen; t++) {
            size_t k = ib__rand(&r->rng) % nopen;
            int64_t c = cost_with(s, x, open[k], IB_MATCH_NONE);
            if (best == SIZE_MAX || c < best_c) {
                best = k;
                best_c = c;
            }
        }
        if (best == SIZE_MAX)
            break; /* cannot happen: the capacities add up to np */
        size_t g = open[best];
        put(s, g, x);
        if (s->size[g] == s->cap[g])
            open[best] = open[--nopen];
    }
    free(cores);
    free(rest);
    free(open);
    return 0;
}

static void local_search(gs_t *s, const uint32_t *people, size_t np)
{
    ib__run_t *r = s->r;
    bool all = r->o.strategy == IB_MATCH_INTERESTS;
    int passes = all ? 3 : IB__GPASSES;
    int tries = all ? 8 : IB__TRIES;
    for (int pass = 0; pass < passes; pass++) {
        size_t moved = 0;
        for (size_t i = 0; i < np; i++) {
            uint32_t x = r->order[i];
            int32_t a = s->gof[x];
            if (a < 0)
                continue;
            int64_t cx = cost_with(s, x, (size_t)a, IB_MATCH_NONE);
            if (!all && cx <= 0)
                continue;
            int64_t best = 0;
            int32_t best_y = -1;
            for (int t = 0; t < tries; t++) {
                uint32_t y = people[ib__rand(&r->rng) % np];
                int32_t b = s->gof[y];
                if (b < 0 || b == a)
                    continue;
                int64_t before = cx + cost_with(s, y, (size_t)b, IB_MATCH_NONE);
                int64_t after = cost_with(s, y, (size_t)a, x) + cost_with(s, x, (size_t)b, y);
                if (after - before < best) {
                    best = after - before;
                    best_y = (int32_t)y;
                }
            }
            if (best_y >= 0) {
                swap_people(s, x, (uint32_t)best_y);
                moved++;
            }
        }
        if (!moved)
            break;
    }
}

/* The group of two (made so by a removal) where x blocks no one and
 * repeats least, or SIZE_MAX. */
static size_t place_in_pair(const gs_t *s, uint32_t x, size_t not_g)
{
    size_t best = SIZE_MAX;
    int64_t best_c = 0;
    for (size_t h = 0; h < s->ng; h++) {
        if (h == not_g || s->size[h] != 2)
            continue;
        int64_t c = cost_with(s, x, h, IB_MATCH_NONE);
        if (c >= IB__BLOCK)
            continue;
        if (best == SIZE_MAX || c < best_c) {
            best = h;
            best_c = c;
        }
    }
    return best;
}

/* Break the blocks the search could not: the member with the most blocks
 * in the group leaves it and joins a group of two where it blocks no one
 * and repeats least, or sits out. */
static void break_blocks(gs_t *s)
{
    for (size_t g = 0; g < s->ng; g++) {
        for (;;) {
            int worst = -1, worst_n = 0;
            for (unsigned i = 0; i < s->size[g]; i++) {
                int nbl = 0;
                for (unsigned j = 0; j < s->size[g]; j++)
                    if (i != j && pair_cost(s, s->m[g][i], s->m[g][j]) >= IB__BLOCK)
                        nbl++;
                if (nbl > worst_n) {
                    worst = (int)i;
                    worst_n = nbl;
                }
            }
            if (worst < 0)
                break;
            uint32_t x = s->m[g][worst];
            take_out(s, x);
            size_t best = place_in_pair(s, x, g);
            if (best != SIZE_MAX)
                put(s, best, x);
        }
    }
    /* A group left with one member is that member's bye. */
    for (size_t g = 0; g < s->ng; g++)
        if (s->size[g] == 1)
            take_out(s, s->m[g][0]);
}

int ib__groups_of_three(ib__run_t *r, const uint8_t *elig, int32_t *group)
{
    size_t n = r->n;
    uint32_t *people = malloc((n ? n : 1) * sizeof(uint32_t));
    uint8_t *el = malloc(n ? n : 1);
    gs_t s = {0};
    int ret = 0;
    for (size_t v = 0; v < n; v++)
        group[v] = -1;
    if (!people || !el) {
        ret = IB_ENOMEM;
        goto out;
    }
    memcpy(el, elig, n);
    size_t ne = 0;
    for (size_t v = 0; v < n; v++)
        ne += el[v] != 0;
    uint32_t y = IB_MATCH_NONE; /* the fair bye */
    if (r->o.odd == IB_MATCH_ODD_BYE && ne % 3 == 1) {
        uint32_t min = UINT32_MAX;
        for (size_t i = 0; i < n; i++)
            if (el[r->order[i]] && r->pp[r->order[i]]->byes < min) {
                min = r->pp[r->order[i]]->byes;
                y = r->order[i];
            }
        el[y] = 0;
        ne--;
    }
    size_t np = 0;
    for (size_t i = 0; i < n; i++)
        if (el[r->order[i]])
            people[np++] = r->order[i];
    if (np < 2)
        goto out;

    size_t g3 = np / 3, rem = np % 3;
    s.ng = g3 + (rem == 2) + (g3 == 0 && rem == 1);
    if (g3 == 0 && rem == 1) /* np == 1: nobody to meet */
        goto out;
    s.r = r;
    s.m = calloc(s.ng, sizeof(*s.m));
    s.size = calloc(s.ng, sizeof(unsigned));
    s.cap = calloc(s.ng, sizeof(unsigned));
    s.gof = malloc(n * sizeof(int32_t));
    if (!s.m || !s.size || !s.cap || !s.gof) {
        ret = IB_ENOMEM;
        goto out;
    }
    for (size_t v = 0; v < n; v++)
        s.gof[v] = -1;
    for (size_t g = 0; g < s.ng; g++)
        s.cap[g] = 3;
    if (rem == 2)
        s.cap[s.ng - 1] = 2;
    if (rem == 1)
        s.cap[s.ng - 1] = 4;

    if (r->o.strategy == IB_MATCH_ROTATE) {
        ret = start_rotate(&s, people, np);
    } else if (r->o.strategy == IB_MATCH_INTERESTS) {
        ret = start_interests(&s, el, people, np);
    } else {
        size_t g = 0;
        for (size_t i = 0; i < np; i++) {
            while (s.size[g] == s.cap[g])
                g++;
            put(&s, g, people[i]);
        }
    }
    if (ret)
        goto out;
    local_search(&s, people, np);
    break_blocks(&s);
    /* A block took someone out of a group of three: the fair bye takes the
     * place rather than sit out beside them. */
    if (y != IB_MATCH_NONE) {
        size_t g = place_in_pair(&s, y, SIZE_MAX);
        if (g != SIZE_MAX)
            put(&s, g, y);
    }

    /* Number the groups that kept two or more members. */
    int32_t k = 0;
    for (size_t g = 0; g < s.ng; g++) {
        if (s.size[g] < 2)
            continue;
        for (unsigned i = 0; i < s.size[g]; i++)
            group[s.m[g][i]] = k;
        k++;
    }
    ret = k;
out:
    free(people);
    free(el);
    free(s.m);
    free(s.size);
    free(s.cap);
    free(s.gof);
    return ret;
}
