/*
 * Maximum-cardinality matching over a graph that is never written down.
 *
 * The speed-networking graph is nearly complete: anyone may meet anyone
 * they have not met and not blocked. Listing its edges would cost O(n^2),
 * so the search asks a predicate instead, and is ordered so that the
 * common case is cheap: a new even (outer) vertex first tries the few free
 * vertices, which on a dense graph closes an augmenting path at once; only
 * when that fails does it walk the other vertices.
 *
 * The search is Edmonds' blossom algorithm in its array form (parent links
 * p[], blossom bases base[], the even flag used[]), with per-search state
 * initialised lazily through a stamp so that a search costs what it
 * touches rather than O(n). A root with no augmenting path takes its whole
 * alternating ("Hungarian") tree out of the graph for the rest of the call:
 * Edmonds showed no later augmenting path can use those vertices, which
 * bounds the work of failed searches.
 */
#include <stdlib.h>
#include <string.h>

#include "icebreaker/ib_err.h"
#include "match_internal.h"

typedef struct card {
    size_t n;
    ib__edge_fn edge;
    void *ctx;
    int32_t *mate;
    const uint8_t *elig;
    uint32_t *cand; /* eligible vertices in visiting order */
    size_t ncand;
    uint32_t sid, *stamp;
    int32_t *p, *base;
    uint8_t *used, *dead;
    uint32_t lca_id, *lca_mark;
    uint32_t bl_id, *bl_mark;
    uint32_t *queue;
    size_t qh, qt;
    uint32_t *tree; /* vertices touched by the current search */
    size_t ntree;
    uint32_t *freel; /* free, eligible, live vertices */
    size_t *freepos;
    size_t nfree;
    uint64_t calls, budget;
    bool out;
    uint32_t root;
} card_t;

static void touch(card_t *c, uint32_t v)
{
    if (c->stamp[v] != c->sid) {
        c->stamp[v] = c->sid;
        c->p[v] = -1;
        c->base[v] = (int32_t)v;
        c->used[v] = 0;
        c->tree[c->ntree++] = v;
    }
}

static int32_t P(const card_t *c, int32_t v)
{
    return c->stamp[v] == c->sid ? c->p[v] : -1;
}

static int32_t BASE(const card_t *c, int32_t v)
{
    return c->stamp[v] == c->sid ? c->base[v] : v;
}

static bool ask(card_t *c, uint32_t u, uint32_t v)
{
    if (c->budget && c->calls >= c->budget) {
        c->out = true;
        return false;
    }
    c->calls++;
    return c->edge(c->ctx, u, v);
}

static void free_remove(card_t *c, uint32_t v)
{
    size_t i = c->freepos[v];
    if (i == SIZE_MAX)
        return;
    uint32_t last = c->freel[--c->nfree];
    c->freel[i] = last;
    c->freepos[last] = i;
    c->freepos[v] = SIZE_MAX;
}

static int32_t lca(card_t *c, int32_t a, int32_t b)
{
    c->lca_id++;
    for (;;) {
        a = BASE(c, a);
        c->lca_mark[a] = c->lca_id;
        if (c->mate[a] == -1)
            break;
        a = P(c, c->mate[a]);
    }
    for (;;) {
        b = BASE(c, b);
        if (c->lca_mark[b] == c->lca_id)
            return b;
        b = P(c, c->mate[b]);
    }
}

static void mark_path(card_t *c, int32_t v, int32_t b, int32_t child)
{
    while (BASE(c, v) != b) {
        c->bl_mark[BASE(c, v)] = c->bl_id;
        c->bl_mark[BASE(c, c->mate[v])] = c->bl_id;
        touch(c, (uint32_t)v);
        c->p[v] = child;
        child = c->mate[v];
        v = P(c, c->mate[v]);
    }
}

static void augment(card_t *c, int32_t u)
{
    free_remove(c, (uint32_t)u);
    free_remove(c, c->root);
    while (u != -1) {
        int32_t pv = P(c, u), ppv = c->mate[pv];
        c->mate[u] = pv;
        c->mate[pv] = u;
        u = ppv;
    }
}

/* v just became even: a free vertex next to it ends the search. */
static bool try_free(card_t *c, uint32_t v)
{
    for (size_t i = 0; i < c->nfree; i++) {
        uint32_t f = c->freel[i];
        if (f == c->root || f == v)
            continue;
        if (ask(c, v, f)) {
            touch(c, f);
            c->p[f] = (int32_t)v;
            augment(c, (int32_t)f);
            return true;
        }
        if (c->out)
            return false;
    }
    return false;
}

static void make_even(card_t *c, uint32_t v)
{
    touch(c, v);
    c->used[v] = 1;
    c->queue[c->qt++] = v;
}

/* One search from the free vertex root; true when it augmented. */
static bool search(card_t *c, uint32_t root)
{
    c->sid++;
    c->ntree = 0;
    c->qh = c->qt = 0;
    c->root = root;
    make_even(c, root);
    if (try_free(c, root))
        return true;
    while (c->qh < c->qt && !c->out) {
        int32_t v = (int32_t)c->queue[c->qh++];
        for (size_t k = 0; k < c->ncand && !c->out; k++) {
            int32_t to = (int32_t)c->cand[k];
            if (to == v || c->dead[to] || c->mate[v] == to || BASE(c, v) == BASE(c, to))
                continue;
            if (c->mate[to] == -1 && (uint32_t)to != root)
                continue; /* free vertices were tried when v became even */
            bool to_even = (uint32_t)to == root || P(c, c->mate[to]) != -1;
            if (!to_even && P(c, to) != -1)
                continue; /* already odd */
            if (!ask(c, (uint32_t)v, (uint32_t)to))
                continue;
            if (to_even) {
                int32_t cur = lca(c, v, to);
                c->bl_id++;
                mark_path(c, v, cur, to);
                mark_path(c, to, cur, v);
                size_t nt = c->ntree;
                for (size_t i = 0; i < nt; i++) {
                    uint32_t x = c->tree[i];
                    if (c->bl_mark[BASE(c, (int32_t)x)] != c->bl_id)
                        continue;
                    c->base[x] = cur;
                    if (!c->used[x]) {
                        make_even(c, x);
                        if (try_free(c, x))
                            return true;
                    }
                }
            } else {
                touch(c, (uint32_t)to);
                c->p[to] = v;
                uint32_t m = (uint32_t)c->mate[to];
                make_even(c, m);
                if (try_free(c, m))
                    return true;
            }
        }
    }
    return false;
}

int ib__match_card(size_t n, ib__edge_fn edge, void *ctx, int32_t *mate, const uint8_t *eligible,
                   const uint32_t *order, uint64_t budget, bool *exhausted)
{
    if (exhausted)
        *exhausted = false;
    if (n < 2)
        return 0;
    card_t c;
    memset(&c, 0, sizeof(c));
    c.n = n;
    c.edge = edge;
    c.ctx = ctx;
    c.mate = mate;
    c.elig = eligible;
    c.budget = budget;
    c.cand = malloc(n * sizeof(uint32_t));
    c.stamp = calloc(n, sizeof(uint32_t));
    c.p = malloc(n * sizeof(int32_t));
    c.base = malloc(n * sizeof(int32_t));
    c.used = malloc(n);
    c.dead = calloc(n, 1);
    c.lca_mark = calloc(n, sizeof(uint32_t));
    c.bl_mark = calloc(n, sizeof(uint32_t));
    c.queue = malloc(n * sizeof(uint32_t));
    c.tree = malloc(n * sizeof(uint32_t));
    c.freel = malloc(n * sizeof(uint32_t));
    c.freepos = malloc(n * sizeof(size_t));
    uint32_t *roots = malloc(n * sizeof(uint32_t));
    int ret = 0;
    if (!c.cand || !c.stamp || !c.p || !c.base || !c.used || !c.dead || !c.lca_mark || !c.bl_mark ||
        !c.queue || !c.tree || !c.freel || !c.freepos || !roots) {
        ret = IB_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t v = order ? order[i] : (uint32_t)i;
        c.freepos[i] = SIZE_MAX;
        if (!eligible || eligible[v])
            c.cand[c.ncand++] = v;
    }
    size_t nroots = 0;
    for (size_t i = 0; i < c.ncand; i++) {
        uint32_t v = c.cand[i];
        if (mate[v] == -1) {
            c.freepos[v] = c.nfree;
            c.freel[c.nfree++] = v;
            roots[nroots++] = v;
        }
    }
    for (size_t i = 0; i < nroots && c.nfree >= 2 && !c.out; i++) {
        uint32_t r = roots[i];
        if (mate[r] != -1 || c.dead[r])
            continue;
        if (search(&c, r)) {
            ret++;
        } else if (!c.out) {
            for (size_t t = 0; t < c.ntree; t++) {
                c.dead[c.tree[t]] = 1;
                free_remove(&c, c.tree[t]);
            }
        }
    }
    if (exhausted)
        *exhausted = c.out;
out:
    free(c.cand);
    free(c.stamp);
    free(c.p);
    free(c.base);
    free(c.used);
    free(c.dead);
    free(c.lca_mark);
    free(c.bl_mark);
    free(c.queue);
    free(c.tree);
    free(c.freel);
    free(c.freepos);
    free(roots);
    return ret;
}
