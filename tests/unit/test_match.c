/*
 * The matching engine (core/match*.c): the pool, the two solvers against
 * brute force, and the rules of ib_match.h checked on many seeded random
 * instances with random histories and blocks. Every expectation is
 * computed independently of the engine: partitions by counting, "no
 * repeats while avoidable" against the exact maximum matching of the fresh
 * graph, blocks and byes from the pool, rotate's schedule by listing pairs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../server/core/match_internal.h"
#include "icebreaker/ib_err.h"
#include "icebreaker/ib_match.h"

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static unsigned rng_below(uint64_t *s, unsigned n)
{
    return (unsigned)(rng_next(s) % n);
}

/* ---- helpers ---- */

static const char *const vocab[] = {"ai",     "Rust", "rust", "golf", "jazz", "chess", "cloud",
                                    "design", "go",   "sql",  "ml",   "ux",   "hiring"};

/* n active people u0.. with random tags (or none). */
static ib_match_pool_t *make_pool(size_t n, uint64_t seed, bool tags)
{
    ib_match_pool_t *pool = ib_match_pool_new();
    assert_non_null(pool);
    uint64_t s = seed;
    for (size_t i = 0; i < n; i++) {
        const char *in[4], *of[2], *se[2];
        size_t ni = 0, no = 0, ns = 0;
        if (tags) {
            ni = rng_below(&s, 4);
            for (size_t k = 0; k < ni; k++)
                in[k] = vocab[rng_below(&s, 13)];
            no = rng_below(&s, 3);
            for (size_t k = 0; k < no; k++)
                of[k] = vocab[rng_below(&s, 13)];
            ns = rng_below(&s, 3);
            for (size_t k = 0; k < ns; k++)
                se[k] = vocab[rng_below(&s, 13)];
        }
        ib_match_profile_t p = {in, ni, of, no, se, ns};
        char id[32];
        snprintf(id, sizeof(id), "u%zu", i);
        uint32_t h;
        assert_int_equal(ib_match_pool_put(pool, id, &p, &h), 0);
        assert_int_equal(h, i);
        assert_int_equal(ib_match_pool_set_active(pool, h, true), 0);
    }
    return pool;
}

static void random_pairs_state(ib_match_pool_t *pool, size_t n, uint64_t *s, unsigned met_pct,
                               unsigned block_pct)
{
    for (uint32_t a = 0; a < n; a++) {
        for (uint32_t b = a + 1; b < n; b++) {
            if (rng_below(s, 100) < met_pct)
                assert_int_equal(ib_match_pool_met(pool, a, b, 1 + rng_below(s, 5)), 0);
            if (rng_below(s, 100) < block_pct)
                assert_int_equal(ib_match_pool_block(pool, a, b), 0);
        }
    }
}

static bool fresh(const ib_match_pool_t *pool, uint32_t a, uint32_t b)
{
    return !ib_match_pool_blocked(pool, a, b) && !ib_match_pool_met_count(pool, a, b);
}

/* Size of a maximum matching among `who` of the pairs ok() accepts, by the
 * exact solver with unit weights. */
static size_t max_matching(const ib_match_pool_t *pool, const uint32_t *who, size_t n,
                           bool (*ok)(const ib_match_pool_t *, uint32_t, uint32_t))
{
    ib__wedge_t *e = calloc(n * n / 2 + 1, sizeof(*e));
    int32_t *mate = malloc((n + 1) * sizeof(int32_t));
    size_t m = 0, card = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (ok(pool, who[i], who[j]))
                e[m++] = (ib__wedge_t){(uint32_t)i, (uint32_t)j, 1};
    assert_int_equal(ib__match_exact(n, e, m, false, mate), 0);
    for (size_t i = 0; i < n; i++)
        card += mate[i] > (int32_t)i;
    free(e);
    free(mate);
    return card;
}

static bool group_has(const ib_match_group_t *g, uint32_t h)
{
    for (unsigned i = 0; i < g->size; i++)
        if (g->members[i] == h)
            return true;
    return false;
}

/*
 * The rules every result obeys, whatever the strategy: a partition of
 * `who`, group sizes by the options, no blocked pair, the stats right,
 * and for pairs: fresh pairs form a maximum matching of the fresh graph
 * (of those not sitting out); nobody left out who could have been paired
 * (bye), or joined a pair (trio).
 */
static void check_result(const ib_match_pool_t *pool, const uint32_t *who, size_t n,
                         const ib_match_opts_t *o, const ib_match_result_t *r)
{
    size_t np = ib_match_pool_size(pool);
    uint8_t *count = calloc(np + 1, 1), *in = calloc(np + 1, 1);
    for (size_t i = 0; i < n; i++)
        in[who[i]] = 1;
    size_t seen = 0, repeats = 0, fours = 0, threes = 0;
    long aff = 0;
    for (size_t g = 0; g < r->n_groups; g++) {
        const ib_match_group_t *gr = &r->groups[g];
        assert_true(gr->size >= 2 && gr->size <= 4);
        if (o->group_size == 2) {
            assert_true(gr->size <= 3);
            if (gr->size == 3)
                assert_int_equal(o->odd, IB_MATCH_ODD_TRIO);
        }
        fours += gr->size == 4;
        threes += gr->size == 3;
        for (unsigned a = 0; a < gr->size; a++) {
            assert_true(in[gr->members[a]]);
            count[gr->members[a]]++;
            seen++;
            if (a)
                assert_true(gr->members[a - 1] < gr->members[a]);
            for (unsigned b = a + 1; b < gr->size; b++) {
                assert_false(ib_match_pool_blocked(pool, gr->members[a], gr->members[b]));
                if (ib_match_pool_met_count(pool, gr->members[a], gr->members[b]))
                    repeats++;
                else
                    aff += ib_match_affinity(pool, gr->members[a], gr->members[b]);
            }
        }
        if (g)
            assert_true(r->groups[g - 1].members[0] < gr->members[0]);
    }
    for (size_t i = 0; i < r->n_byes; i++) {
        assert_true(in[r->byes[i]]);
        count[r->byes[i]]++;
        seen++;
    }
    assert_int_equal(seen, n);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(count[who[i]], 1);
    assert_int_equal(r->repeats, repeats);
    assert_int_equal(r->affinity, aff);
    assert_false(r->exhausted);

    if (o->group_size == 2) {
        /* Rule 3: one fresh pair per group at most, and as many as the
         * fresh graph's maximum matching. */
        size_t with_fresh = 0;
        for (size_t g = 0; g < r->n_groups; g++) {
            const ib_match_group_t *gr = &r->groups[g];
            bool f = false;
            for (unsigned a = 0; a < gr->size; a++)
                for (unsigned b = a + 1; b < gr->size; b++)
                    f = f || fresh(pool, gr->members[a], gr->members[b]);
            with_fresh += f;
        }
        size_t nu = max_matching(pool, who, n, fresh);
        if (o->odd == IB_MATCH_ODD_TRIO) {
            assert_int_equal(with_fresh, nu);
        } else {
            /* The fair bye is chosen before the fresh matching, which is
             * then maximum among the others: within one of the whole. */
            assert_true(with_fresh <= nu && with_fresh + (n % 2) >= nu);
            if (r->n_byes == n % 2) {
                uint32_t rest[256];
                size_t k = 0;
                for (size_t i = 0; i < n; i++)
                    if (!r->n_byes || who[i] != r->byes[0])
                        rest[k++] = who[i];
                assert_int_equal(with_fresh, max_matching(pool, rest, k, fresh));
            }
        }
        /* Rule 3: no two people left out who could have met. */
        for (size_t i = 0; i < r->n_byes; i++)
            for (size_t j = i + 1; j < r->n_byes; j++)
                assert_true(ib_match_pool_blocked(pool, r->byes[i], r->byes[j]));
        if (o->odd == IB_MATCH_ODD_TRIO) {
            /* Someone out could join no pair without a block. */
            for (size_t i = 0; i < r->n_byes; i++) {
                for (size_t g = 0; g < r->n_groups; g++) {
                    const ib_match_group_t *gr = &r->groups[g];
                    if (gr->size != 2)
                        continue;
                    assert_true(ib_match_pool_blocked(pool, r->byes[i], gr->members[0]) ||
                                ib_match_pool_blocked(pool, r->byes[i], gr->members[1]));
                }
            }
        }
    } else {
        assert_true(fours <= 1);
        if (fours)
            assert_int_equal(o->odd, IB_MATCH_ODD_TRIO);
    }
    (void)threes;
    free(count);
    free(in);
}

static void all_handles(const ib_match_pool_t *pool, uint32_t *who, size_t *n)
{
    *n = 0;
    for (uint32_t h = 0; h < ib_match_pool_size(pool); h++)
        if (ib_match_pool_active(pool, h))
            who[(*n)++] = h;
}

static bool results_equal(const ib_match_result_t *a, const ib_match_result_t *b)
{
    if (a->n_groups != b->n_groups || a->n_byes != b->n_byes)
        return false;
    for (size_t i = 0; i < a->n_groups; i++)
        if (a->groups[i].size != b->groups[i].size ||
            memcmp(a->groups[i].members, b->groups[i].members,
                   a->groups[i].size * sizeof(uint32_t)))
            return false;
    return !memcmp(a->byes, b->byes, a->n_byes * sizeof(uint32_t));
}

/* ---- the pool ---- */

static void test_pool_validation(void **state)
{
    (void)state;
    ib_match_pool_t *pool = ib_match_pool_new();
    uint32_t h;
    assert_int_equal(ib_match_pool_put(pool, "", NULL, &h), IB_EBADREQ);
    assert_int_equal(ib_match_pool_put(pool, "a b", NULL, &h), IB_EBADREQ);
    assert_int_equal(ib_match_pool_put(pool, NULL, NULL, &h), IB_EBADREQ);
    char long_id[80];
    memset(long_id, 'x', 65);
    long_id[65] = 0;
    assert_int_equal(ib_match_pool_put(pool, long_id, NULL, &h), IB_EBADREQ);
    long_id[64] = 0;
    assert_int_equal(ib_match_pool_put(pool, long_id, NULL, &h), 0);

    const char *many[33];
    for (int i = 0; i < 33; i++)
        many[i] = "t";
    ib_match_profile_t p = {many, 33, NULL, 0, NULL, 0};
    assert_int_equal(ib_match_pool_put(pool, "a", &p, &h), IB_EBADREQ);
    p.n_interests = 32;
    assert_int_equal(ib_match_pool_put(pool, "a", &p, &h), 0);
    const char *bad_utf8[] = {"\xc3\x28"};
    ib_match_profile_t q = {NULL, 0, bad_utf8, 1, NULL, 0};
    assert_int_equal(ib_match_pool_put(pool, "b", &q, &h), IB_EBADREQ);
    /* 64 code points of two bytes each is fine, 65 is not. */
    char tag[200] = "";
    for (int i = 0; i < 64; i++)
        strcat(tag, "\xc3\xa9");
    const char *t1[] = {tag};
    ib_match_profile_t r = {t1, 1, NULL, 0, NULL, 0};
    assert_int_equal(ib_match_pool_put(pool, "b", &r, &h), 0);
    strcat(tag, "e");
    assert_int_equal(ib_match_pool_put(pool, "c", &r, &h), IB_EBADREQ);
    const char *empty[] = {""};
    ib_match_profile_t e = {empty, 1, NULL, 0, NULL, 0};
    assert_int_equal(ib_match_pool_put(pool, "c", &e, &h), IB_EBADREQ);
    assert_int_equal(ib_match_pool_find(pool, "c", &h), IB_ENOTFOUND);
    assert_int_equal(ib_match_pool_size(pool), 3);

    assert_int_equal(ib_match_pool_find(pool, "b", &h), 0);
    assert_string_equal(ib_match_pool_id(pool, h), "b");
    assert_int_equal(ib_match_pool_block(pool, h, h), IB_EBADREQ);
    assert_int_equal(ib_match_pool_block(pool, h, 99), IB_EBADREQ);
    assert_int_equal(ib_match_pool_met(pool, h, 99, 1), IB_EBADREQ);
    assert_int_equal(ib_match_pool_set_active(pool, 99, true), IB_ENOTFOUND);
    ib_match_pool_free(pool);
    ib_match_pool_free(NULL);
}

static void test_affinity_and_shared(void **state)
{
    (void)state;
    ib_match_pool_t *pool = ib_match_pool_new();
    const char *ai[] = {"AI", "golf", "jazz"}, *ao[] = {"cloud"}, *as[] = {"hiring", "sql"};
    const char *bi[] = {"ai", "Golf", "chess", "ai"}, *bo[] = {"sql", "hiring"},
               *bs[] = {"cloud", "ux"};
    ib_match_profile_t a = {ai, 3, ao, 1, as, 2}, b = {bi, 4, bo, 2, bs, 2};
    uint32_t ha, hb, hc;
    assert_int_equal(ib_match_pool_put(pool, "a", &a, &ha), 0);
    assert_int_equal(ib_match_pool_put(pool, "b", &b, &hb), 0);
    assert_int_equal(ib_match_pool_put(pool, "c", NULL, &hc), 0);
    /* ai, golf shared (case folded, duplicate once): 2 * 1; a offers cloud
     * that b seeks: 2; b offers hiring and sql that a seeks: 2 * 2. */
    int want = 2 * IB_MATCH_W_INTEREST + 3 * IB_MATCH_W_OFFER;
    assert_int_equal(ib_match_affinity(pool, ha, hb), want);
    assert_int_equal(ib_match_affinity(pool, hb, ha), want);
    assert_int_equal(ib_match_affinity(pool, ha, hc), 0);

    ib_match_reason_t rs[IB_MATCH_SHARED_MAX];
    size_t n = ib_match_shared(pool, ha, hb, rs, IB_MATCH_SHARED_MAX);
    assert_int_equal(n, 5);
    int interests = 0, mine = 0, theirs = 0;
    for (size_t i = 0; i < n; i++) {
        if (rs[i].kind == IB_MATCH_REASON_INTEREST) {
            interests++;
            assert_true(!strcmp(rs[i].tag, "AI") || !strcmp(rs[i].tag, "golf"));
        } else if (rs[i].kind == IB_MATCH_REASON_YOU_OFFER) {
            mine++;
            assert_string_equal(rs[i].tag, "cloud");
        } else {
            theirs++;
            assert_true(!strcmp(rs[i].tag, "hiring") || !strcmp(rs[i].tag, "sql"));
        }
    }
    assert_int_equal(interests, 2);
    assert_int_equal(mine, 1);
    assert_int_equal(theirs, 2);
    /* Seen from b the offers swap sides; a short buffer still counts all. */
    n = ib_match_shared(pool, hb, ha, rs, 1);
    assert_int_equal(n, 5);
    assert_int_equal(rs[0].kind, IB_MATCH_REASON_INTEREST);
    n = ib_match_shared(pool, hb, ha, rs, IB_MATCH_SHARED_MAX);
    int b_offers = 0;
    for (size_t i = 0; i < n; i++)
        b_offers += rs[i].kind == IB_MATCH_REASON_YOU_OFFER;
    assert_int_equal(b_offers, 2);

    /* Replacing a profile changes the affinity, keeps the handle. */
    uint32_t again;
    assert_int_equal(ib_match_pool_put(pool, "b", NULL, &again), 0);
    assert_int_equal(again, hb);
    assert_int_equal(ib_match_affinity(pool, ha, hb), 0);
    ib_match_pool_free(pool);
}

static void test_names(void **state)
{
    (void)state;
    ib_match_strategy_t s;
    ib_match_odd_t o;
    assert_int_equal(ib_match_strategy_parse("rotate", &s), 0);
    assert_int_equal(s, IB_MATCH_ROTATE);
    assert_string_equal(ib_match_strategy_name(IB_MATCH_INTERESTS), "interests");
    assert_int_equal(ib_match_strategy_parse("Rotate", &s), IB_EBADREQ);
    assert_int_equal(ib_match_strategy_parse(NULL, &s), IB_EBADREQ);
    assert_int_equal(ib_match_odd_parse("bye", &o), 0);
    assert_int_equal(o, IB_MATCH_ODD_BYE);
    assert_string_equal(ib_match_odd_name(IB_MATCH_ODD_TRIO), "trio");
    assert_int_equal(ib_match_odd_parse("four", &o), IB_EBADREQ);
}

static void test_seats(void **state)
{
    (void)state;
    ib_match_pool_t *pool = make_pool(6, 1, false);
    for (uint32_t h = 0; h < 6; h++)
        assert_int_equal(ib_match_pool_seat(pool, h), h);
    /* A departure frees a seat; the next arrival takes the lowest free. */
    assert_int_equal(ib_match_pool_set_active(pool, 2, false), 0);
    assert_int_equal(ib_match_pool_seat(pool, 2), IB_MATCH_NONE);
    assert_int_equal(ib_match_pool_active_count(pool), 5);
    uint32_t h;
    assert_int_equal(ib_match_pool_put(pool, "late", NULL, &h), 0);
    assert_false(ib_match_pool_active(pool, h));
    assert_int_equal(ib_match_pool_set_active(pool, h, true), 0);
    assert_int_equal(ib_match_pool_seat(pool, h), 2);
    assert_int_equal(ib_match_pool_set_active(pool, 2, true), 0);
    assert_int_equal(ib_match_pool_seat(pool, 2), 6);
    /* Moving onto a taken seat swaps the two. */
    assert_int_equal(ib_match_pool_set_seat(pool, 2, 0), 0);
    assert_int_equal(ib_match_pool_seat(pool, 2), 0);
    assert_int_equal(ib_match_pool_seat(pool, 0), 6);
    assert_int_equal(ib_match_pool_set_seat(pool, 2, 1u << 24), IB_EBADREQ);
    assert_int_equal(ib_match_pool_set_active(pool, 5, false), 0);
    assert_int_equal(ib_match_pool_set_seat(pool, 5, 3), IB_EBADREQ);
    ib_match_pool_free(pool);
}

/* ---- the solvers against brute force ---- */

typedef struct bf {
    int n;
    int64_t w[14][14]; /* -1: no edge */
    int64_t bw[1 << 14];
    int bc[1 << 14];
    uint8_t done[1 << 14];
    bool max_card;
} bf_t;

static void bf_solve(bf_t *b, int mask)
{
    if (b->done[mask])
        return;
    b->done[mask] = 1;
    if (!mask) {
        b->bw[0] = 0;
        b->bc[0] = 0;
        return;
    }
    int v = __builtin_ctz((unsigned)mask), rest = mask & ~(1 << v);
    bf_solve(b, rest);
    int64_t bw = b->bw[rest];
    int bc = b->bc[rest];
    for (int u = 0; u < b->n; u++) {
        if (!(rest >> u & 1) || b->w[v][u] < 0)
            continue;
        int r2 = rest & ~(1 << u);
        bf_solve(b, r2);
        int64_t w = b->bw[r2] + b->w[v][u];
        int c = b->bc[r2] + 1;
        if (b->max_card ? (c > bc || (c == bc && w > bw)) : w > bw) {
            bw = w;
            bc = c;
        }
    }
    b->bw[mask] = bw;
    b->bc[mask] = bc;
}

static void test_exact_solver_vs_brute_force(void **state)
{
    (void)state;
    bf_t *b = calloc(1, sizeof(*b));
    uint64_t s = 7;
    for (int it = 0; it < 3000; it++) {
        b->n = 1 + (int)rng_below(&s, 13);
        b->max_card = rng_below(&s, 2);
        unsigned dens = rng_below(&s, 101), maxw = 1 + rng_below(&s, it % 2 ? 4 : 60);
        ib__wedge_t e[100];
        size_t m = 0;
        for (int i = 0; i < b->n; i++)
            for (int j = 0; j < b->n; j++)
                b->w[i][j] = -1;
        for (int i = 0; i < b->n; i++) {
            for (int j = i + 1; j < b->n; j++) {
                if (rng_below(&s, 100) >= dens)
                    continue;
                int64_t w = rng_below(&s, maxw + 1);
                e[m++] = (ib__wedge_t){(uint32_t)i, (uint32_t)j, w};
                b->w[i][j] = b->w[j][i] = w;
            }
        }
        int32_t mate[14];
        assert_int_equal(ib__match_exact((size_t)b->n, e, m, b->max_card, mate), 0);
        int64_t tw = 0;
        int tc = 0;
        for (int v = 0; v < b->n; v++) {
            if (mate[v] < 0)
                continue;
            assert_int_equal(mate[mate[v]], v);
            assert_true(b->w[v][mate[v]] >= 0);
            if (v < mate[v]) {
                tw += b->w[v][mate[v]];
                tc++;
            }
        }
        memset(b->done, 0, sizeof(b->done));
        bf_solve(b, (1 << b->n) - 1);
        assert_int_equal(tw, b->bw[(1 << b->n) - 1]);
        if (b->max_card)
            assert_int_equal(tc, b->bc[(1 << b->n) - 1]);
    }
    /* Bad input is refused. */
    ib__wedge_t loop = {1, 1, 3}, out = {0, 9, 3};
    int32_t mate[4];
    assert_int_equal(ib__match_exact(4, &loop, 1, false, mate), IB_EBADREQ);
    assert_int_equal(ib__match_exact(4, &out, 1, false, mate), IB_EBADREQ);
    free(b);
}

static bool adj_edge(void *ctx, uint32_t u, uint32_t v)
{
    const bf_t *b = ctx;
    return b->w[u][v] >= 0;
}

static void test_card_solver_vs_brute_force(void **state)
{
    (void)state;
    bf_t *b = calloc(1, sizeof(*b));
    uint64_t s = 11;
    for (int it = 0; it < 6000; it++) {
        b->n = 1 + (int)rng_below(&s, 14);
        b->max_card = true;
        unsigned dens = rng_below(&s, 101);
        for (int i = 0; i < b->n; i++)
            for (int j = 0; j < b->n; j++)
                b->w[i][j] = -1;
        for (int i = 0; i < b->n; i++)
            for (int j = i + 1; j < b->n; j++)
                if (rng_below(&s, 100) < dens)
                    b->w[i][j] = b->w[j][i] = 0;
        uint8_t elig[14];
        int mask = 0;
        bool use_elig = rng_below(&s, 2);
        for (int i = 0; i < b->n; i++) {
            elig[i] = use_elig ? rng_below(&s, 5) != 0 : 1;
            if (elig[i])
                mask |= 1 << i;
        }
        /* Start from a random matching of eligible vertices. */
        int32_t mate[14];
        for (int i = 0; i < b->n; i++)
            mate[i] = -1;
        for (int i = 0; i < b->n; i++)
            for (int j = i + 1; j < b->n && elig[i] && mate[i] < 0; j++)
                if (elig[j] && mate[j] < 0 && b->w[i][j] >= 0 && rng_below(&s, 2)) {
                    mate[i] = j;
                    mate[j] = i;
                }
        uint32_t order[14];
        for (int i = 0; i < b->n; i++)
            order[i] = (uint32_t)i;
        for (int i = b->n - 1; i > 0; i--) {
            int j = (int)rng_below(&s, (unsigned)i + 1);
            uint32_t t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        bool ex = true;
        assert_true(ib__match_card((size_t)b->n, adj_edge, b, mate, use_elig ? elig : NULL, order,
                                   0, &ex) >= 0);
        assert_false(ex);
        int tc = 0;
        for (int v = 0; v < b->n; v++) {
            if (mate[v] < 0)
                continue;
            assert_int_equal(mate[mate[v]], v);
            assert_true(b->w[v][mate[v]] >= 0);
            assert_true(elig[v]);
            tc += v < mate[v];
        }
        memset(b->done, 0, sizeof(b->done));
        bf_solve(b, mask);
        assert_int_equal(tc, b->bc[mask]);
    }
    free(b);
}

/* ---- the rules, on many random instances ---- */

static void test_rules_random_instances(void **state)
{
    (void)state;
    uint64_t s = 2024;
    int runs = 0;
    for (int it = 0; it < 600; it++) {
        size_t n = 1 + rng_below(&s, it < 300 ? 14 : 40);
        ib_match_pool_t *pool = make_pool(n, rng_next(&s), true);
        /* From a clean slate to nearly everyone met, with blocks or not. */
        random_pairs_state(pool, n, &s, rng_below(&s, 4) * 30, rng_below(&s, 3) ? 0 : 10);
        /* Some byes already, for the fairness rule to have work. */
        for (uint32_t h = 0; h < n; h++)
            ib_match_pool_add_bye(pool, h, (int)rng_below(&s, 2));
        uint32_t who[64];
        size_t nw;
        all_handles(pool, who, &nw);
        for (int strat = 0; strat < 3; strat++) {
            for (int odd = 0; odd < 2; odd++) {
                ib_match_opts_t o = {(ib_match_strategy_t)strat,
                                     (ib_match_odd_t)odd,
                                     2,
                                     rng_next(&s),
                                     rng_below(&s, 50),
                                     0};
                if (strat == IB_MATCH_INTERESTS && rng_below(&s, 2))
                    o.exact_max_n = SIZE_MAX; /* the heuristic, not the exact path */
                ib_match_result_t r = {0};
                assert_int_equal(ib_match_run(pool, NULL, 0, &o, &r), 0);
                check_result(pool, who, nw, &o, &r);
                if (o.odd == IB_MATCH_ODD_BYE) {
                    /* The bye, when odd count and no block forced it, went
                     * to someone with the fewest byes. */
                    unsigned min = UINT32_MAX;
                    for (size_t i = 0; i < nw; i++)
                        if (ib_match_pool_byes(pool, who[i]) < min)
                            min = ib_match_pool_byes(pool, who[i]);
                    bool blocks = false;
                    for (size_t i = 0; i < nw && !blocks; i++)
                        for (size_t j = i + 1; j < nw && !blocks; j++)
                            blocks = ib_match_pool_blocked(pool, who[i], who[j]);
                    if (!blocks && r.n_byes == 1)
                        assert_int_equal(ib_match_pool_byes(pool, r.byes[0]), min);
                    if (!blocks)
                        assert_int_equal(r.n_byes, nw % 2);
                }
                /* Deterministic: the same pool, options and seed. */
                ib_match_result_t r2 = {0};
                assert_int_equal(ib_match_run(pool, NULL, 0, &o, &r2), 0);
                assert_true(results_equal(&r, &r2));
                ib_match_result_clear(&r2);
                ib_match_result_clear(&r);
                runs++;
            }
        }
        ib_match_pool_free(pool);
    }
    assert_int_equal(runs, 600 * 6);
}

static void test_groups_of_three_random_instances(void **state)
{
    (void)state;
    uint64_t s = 33;
    for (int it = 0; it < 300; it++) {
        size_t n = 1 + rng_below(&s, 40);
        ib_match_pool_t *pool = make_pool(n, rng_next(&s), true);
        random_pairs_state(pool, n, &s, rng_below(&s, 3) * 20, rng_below(&s, 3) ? 0 : 8);
        uint32_t who[64];
        size_t nw;
        all_handles(pool, who, &nw);
        bool blocks = false;
        for (size_t i = 0; i < nw && !blocks; i++)
            for (size_t j = i + 1; j < nw && !blocks; j++)
                blocks = ib_match_pool_blocked(pool, who[i], who[j]);
        for (int strat = 0; strat < 3; strat++) {
            for (int odd = 0; odd < 2; odd++) {
                ib_match_opts_t o = {(ib_match_strategy_t)strat,
                                     (ib_match_odd_t)odd,
                                     3,
                                     rng_next(&s),
                                     rng_below(&s, 9),
                                     0};
                ib_match_result_t r = {0};
                assert_int_equal(ib_match_run(pool, NULL, 0, &o, &r), 0);
                check_result(pool, who, nw, &o, &r);
                if (!blocks && nw >= 2) {
                    /* Without blocks the sizes follow the remainder. */
                    size_t sizes[5] = {0};
                    for (size_t g = 0; g < r.n_groups; g++)
                        sizes[r.groups[g].size]++;
                    size_t rem = nw % 3;
                    if (nw == 4 && odd == IB_MATCH_ODD_TRIO) {
                        assert_int_equal(sizes[4], 1);
                    } else {
                        assert_int_equal(sizes[2], rem == 2);
                        assert_int_equal(sizes[4], rem == 1 && odd == IB_MATCH_ODD_TRIO);
                        assert_int_equal(r.n_byes, rem == 1 && odd == IB_MATCH_ODD_BYE);
                    }
                }
                ib_match_result_t r2 = {0};
                assert_int_equal(ib_match_run(pool, NULL, 0, &o, &r2), 0);
                assert_true(results_equal(&r, &r2));
                ib_match_result_clear(&r2);
                ib_match_result_clear(&r);
            }
        }
        ib_match_pool_free(pool);
    }
}

/* A session of rounds: run, check, commit. Returns the repeats seen. */
static size_t session(ib_match_pool_t *pool, const ib_match_opts_t *base, unsigned rounds,
                      bool check)
{
    size_t repeats = 0;
    for (unsigned k = 0; k < rounds; k++) {
        ib_match_opts_t o = *base;
        o.round = k;
        ib_match_result_t r = {0};
        assert_int_equal(ib_match_run(pool, NULL, 0, &o, &r), 0);
        if (check) {
            uint32_t who[256];
            size_t nw;
            all_handles(pool, who, &nw);
            check_result(pool, who, nw, &o, &r);
        }
        repeats += r.repeats;
        assert_int_equal(ib_match_commit(pool, &r, k + 1), 0);
        ib_match_result_clear(&r);
    }
    return repeats;
}

static void test_rotate_circle(void **state)
{
    (void)state;
    for (size_t n = 2; n <= 24; n++) {
        /* Static group: n - 1 rounds (even) or n rounds with one bye each
         * (odd) and not one repeat; after them everyone has met everyone
         * exactly once. */
        ib_match_pool_t *pool = make_pool(n, n, true);
        ib_match_opts_t o = {IB_MATCH_ROTATE, IB_MATCH_ODD_BYE, 2, 5, 0, 0};
        unsigned rounds = n % 2 ? (unsigned)n : (unsigned)n - 1;
        assert_int_equal(session(pool, &o, rounds, true), 0);
        for (uint32_t a = 0; a < n; a++) {
            for (uint32_t b = a + 1; b < n; b++)
                assert_int_equal(ib_match_pool_met_count(pool, a, b), 1);
            assert_int_equal(ib_match_pool_byes(pool, a), n % 2);
        }
        ib_match_pool_free(pool);
    }
}

static void test_rotate_with_arrivals_and_departures(void **state)
{
    (void)state;
    uint64_t s = 99;
    for (int it = 0; it < 40; it++) {
        size_t n = 8 + rng_below(&s, 20);
        ib_match_pool_t *pool = make_pool(n, it, false);
        ib_match_opts_t o = {
            IB_MATCH_ROTATE, rng_below(&s, 2) ? IB_MATCH_ODD_BYE : IB_MATCH_ODD_TRIO, 2, 1, 0, 0};
        size_t next = n;
        for (unsigned k = 0; k < 12; k++) {
            /* Between rounds someone leaves or someone new arrives. */
            unsigned what = rng_below(&s, 4);
            if (what == 0) {
                uint32_t h = rng_below(&s, (unsigned)ib_match_pool_size(pool));
                ib_match_pool_set_active(pool, h, false);
            } else if (what == 1) {
                char id[32];
                snprintf(id, sizeof(id), "n%zu", next++);
                uint32_t h;
                assert_int_equal(ib_match_pool_put(pool, id, NULL, &h), 0);
                assert_int_equal(ib_match_pool_set_active(pool, h, true), 0);
            }
            o.round = k;
            ib_match_result_t r = {0};
            assert_int_equal(ib_match_run(pool, NULL, 0, &o, &r), 0);
            uint32_t who[64];
            size_t nw;
            all_handles(pool, who, &nw);
            check_result(pool, who, nw, &o, &r); /* rule 3 holds through changes */
            assert_int_equal(ib_match_commit(pool, &r, k + 1), 0);
            ib_match_result_clear(&r);
        }
        ib_match_pool_free(pool);
    }

    /* The ones who stay keep their circle: with one departure and one
     * arrival (who takes the free seat) before every round of a group of
     * 12, the ten who never leave meet no one twice in 11 rounds. */
    ib_match_pool_t *pool = make_pool(12, 3, false);
    ib_match_opts_t o = {IB_MATCH_ROTATE, IB_MATCH_ODD_BYE, 2, 1, 0, 0};
    uint32_t seat_h[2] = {10, 11};
    for (unsigned k = 0; k < 11; k++) {
        if (k) {
            uint32_t gone = seat_h[k % 2], h;
            ib_match_pool_set_active(pool, gone, false);
            char id[32];
            snprintf(id, sizeof(id), "guest%u", k);
            assert_int_equal(ib_match_pool_put(pool, id, NULL, &h), 0);
            assert_int_equal(ib_match_pool_set_active(pool, h, true), 0);
            seat_h[k % 2] = h;
        }
        o.round = k;
        ib_match_result_t r = {0};
        assert_int_equal(ib_match_run(pool, NULL, 0, &o, &r), 0);
        for (size_t g = 0; g < r.n_groups; g++) {
            const ib_match_group_t *gr = &r.groups[g];
            if (gr->members[0] < 10 && gr->members[1] < 10)
                assert_int_equal(ib_match_pool_met_count(pool, gr->members[0], gr->members[1]), 0);
        }
        assert_int_equal(ib_match_commit(pool, &r, k + 1), 0);
        ib_match_result_clear(&r);
    }
    ib_match_pool_free(pool);
}

static void test_rotate_odd_trio(void **state)
{
    (void)state;
    /* n odd with trios: one trio a round, rule 3 every round, and while
     * k < (n - 1) / 4 no repeat at all: everyone has met at most 2k others,
     * so the fresh graph keeps a perfect matching of all but the third
     * (degree over half) and the third has a pair fresh to it among the
     * (n - 1) / 2 pairs (it met at most 2k of their members). */
    for (size_t n = 5; n <= 41; n += 2) {
        ib_match_pool_t *pool = make_pool(n, n, false);
        ib_match_opts_t o = {IB_MATCH_ROTATE, IB_MATCH_ODD_TRIO, 2, 1, 0, 0};
        size_t repeats = 0;
        for (unsigned k = 0; k < n; k++) {
            o.round = k;
            ib_match_result_t r = {0};
            assert_int_equal(ib_match_run(pool, NULL, 0, &o, &r), 0);
            uint32_t who[64];
            size_t nw;
            all_handles(pool, who, &nw);
            check_result(pool, who, nw, &o, &r);
            assert_int_equal(r.n_byes, 0);
            size_t trios = 0;
            for (size_t g = 0; g < r.n_groups; g++)
                trios += r.groups[g].size == 3;
            assert_int_equal(trios, 1);
            if (4 * k < n - 1)
                assert_int_equal(r.repeats, 0);
            repeats += r.repeats;
            assert_int_equal(ib_match_commit(pool, &r, k + 1), 0);
            ib_match_result_clear(&r);
        }
        /* n rounds hold n (n + 3) / 2 meetings for n (n - 1) / 2 pairs: at
         * least 2n repeats. Exactly those, and everyone met everyone. */
        assert_int_equal(repeats, 2 * n);
        for (uint32_t a = 0; a < n; a++)
            for (uint32_t b = a + 1; b < n; b++)
                assert_true(ib_match_pool_met_count(pool, a, b) >= 1);
        ib_match_pool_free(pool);
    }
}

static void test_random_is_uniform(void **state)
{
    (void)state;
    /* Four people, no history: the three ways to pair them come up about
     * equally often over seeds. */
    ib_match_pool_t *pool = make_pool(4, 1, false);
    unsigned seen[3] = {0, 0, 0};
    const int runs = 3000;
    for (int i = 0; i < runs; i++) {
        ib_match_opts_t o = {IB_MATCH_RANDOM, IB_MATCH_ODD_BYE, 2, (uint64_t)i * 7919, 0, 0};
        ib_match_result_t r = {0};
        assert_int_equal(ib_match_run(pool, NULL, 0, &o, &r), 0);
        assert_int_equal(r.n_groups, 2);
        /* u0's partner names the pairing. */
        seen[r.groups[0].members[1] - 1]++;
        ib_match_result_clear(&r);
    }
    for (int k = 0; k < 3; k++)
        assert_true(seen[k] > (unsigned)(runs / 3 - 150) && seen[k] < (unsigned)(runs / 3 + 150));
    ib_match_pool_free(pool);
}

static void test_no_repeats_while_avoidable_over_sessions(void **state)
{
    (void)state;
    /* Static groups, all strategies: while a round with no repeat exists,
     * the round has none (rule 3 is checked in session()), and the first
     * rounds, for which the circle proves one exists, have none at all. */
    for (size_t n = 6; n <= 30; n += 3) {
        for (int strat = 0; strat < 3; strat++) {
            ib_match_pool_t *pool = make_pool(n, n * 3 + (size_t)strat, true);
            ib_match_opts_t o = {(ib_match_strategy_t)strat, IB_MATCH_ODD_BYE, 2, n, 0, 0};
            assert_int_equal(session(pool, &o, (unsigned)(n / 2), true), 0);
            /* Then further, past the point where everyone met everyone. */
            session(pool, &o, (unsigned)n, true);
            ib_match_pool_free(pool);
        }
    }
}

static void test_bye_fairness_over_sessions(void **state)
{
    (void)state;
    for (size_t n = 3; n <= 21; n += 2) {
        for (int strat = 0; strat < 3; strat++) {
            ib_match_pool_t *pool = make_pool(n, n, true);
            ib_match_opts_t o = {(ib_match_strategy_t)strat, IB_MATCH_ODD_BYE, 2, n, 0, 0};
            for (unsigned k = 0; k < 2 * n + 1; k++) {
                o.round = k;
                ib_match_result_t r = {0};
                assert_int_equal(ib_match_run(pool, NULL, 0, &o, &r), 0);
                assert_int_equal(r.n_byes, 1);
                assert_int_equal(ib_match_commit(pool, &r, k + 1), 0);
                ib_match_result_clear(&r);
                /* Nobody sits out twice while another has not once. */
                unsigned lo = UINT32_MAX, hi = 0;
                for (uint32_t h = 0; h < n; h++) {
                    unsigned b = ib_match_pool_byes(pool, h);
                    lo = b < lo ? b : lo;
                    hi = b > hi ? b : hi;
                }
                assert_true(hi - lo <= 1);
            }
            ib_match_pool_free(pool);
        }
    }
    /* Groups of three with a remainder of one: the same. */
    ib_match_pool_t *pool = make_pool(13, 1, true);
    ib_match_opts_t o = {IB_MATCH_RANDOM, IB_MATCH_ODD_BYE, 3, 9, 0, 0};
    for (unsigned k = 0; k < 30; k++) {
        o.round = k;
        ib_match_result_t r = {0};
        assert_int_equal(ib_match_run(pool, NULL, 0, &o, &r), 0);
        assert_int_equal(r.n_byes, 1);
        assert_int_equal(ib_match_commit(pool, &r, k + 1), 0);
        ib_match_result_clear(&r);
        unsigned lo = UINT32_MAX, hi = 0;
        for (uint32_t h = 0; h < 13; h++) {
            unsigned b = ib_match_pool_byes(pool, h);
            lo = b < lo ? b : lo;
            hi = b > hi ? b : hi;
        }
        assert_true(hi - lo <= 1);
    }
    ib_match_pool_free(pool);
}

static void test_blocks_cost_a_bye(void **state)
{
    (void)state;
    /* u0 is blocked by everyone: u0 sits out, every strategy, every odd
     * policy, both group sizes; the others are grouped. */
    ib_match_pool_t *pool = make_pool(7, 3, true);
    for (uint32_t h = 1; h < 7; h++)
        assert_int_equal(ib_match_pool_block(pool, 0, h), 0);
    for (int strat = 0; strat < 3; strat++) {
        for (int odd = 0; odd < 2; odd++) {
            for (unsigned gs = 2; gs <= 3; gs++) {
                ib_match_opts_t o = {(ib_match_strategy_t)strat, (ib_match_odd_t)odd, gs, 4, 0, 0};
                ib_match_result_t r = {0};
                assert_int_equal(ib_match_run(pool, NULL, 0, &o, &r), 0);
                bool out = false;
                for (size_t i = 0; i < r.n_byes; i++)
                    out = out || r.byes[i] == 0;
                assert_true(out);
                assert_int_equal(r.n_byes, 1);
                for (size_t g = 0; g < r.n_groups; g++)
                    assert_false(group_has(&r.groups[g], 0));
                ib_match_result_clear(&r);
            }
        }
    }
    ib_match_pool_free(pool);

    /* Two people who blocked each other: nobody is grouped. */
    pool = make_pool(2, 1, false);
    assert_int_equal(ib_match_pool_block(pool, 1, 0), 0);
    assert_true(ib_match_pool_blocked(pool, 0, 1));
    ib_match_opts_t o = {IB_MATCH_RANDOM, IB_MATCH_ODD_TRIO, 2, 1, 0, 0};
    ib_match_result_t r = {0};
    assert_int_equal(ib_match_run(pool, NULL, 0, &o, &r), 0);
    assert_int_equal(r.n_groups, 0);
    assert_int_equal(r.n_byes, 2);
    ib_match_result_clear(&r);
    ib_match_pool_free(pool);
}

static void test_interests_exact_small(void **state)
{
    (void)state;
    /* Up to IB_MATCH_EXACT_N people `interests` is the optimum among
     * maximum matchings of fresh pairs: compare with the exact solver run
     * here on the same pairs. */
    uint64_t s = 5;
    for (int it = 0; it < 60; it++) {
        size_t n = 2 * (1 + rng_below(&s, 20));
        ib_match_pool_t *pool = make_pool(n, rng_next(&s), true);
        random_pairs_state(pool, n, &s, rng_below(&s, 3) * 15, 0);
        ib_match_opts_t o = {IB_MATCH_INTERESTS, IB_MATCH_ODD_BYE, 2, rng_next(&s), 0, 0};
        ib_match_result_t r = {0};
        assert_int_equal(ib_match_run(pool, NULL, 0, &o, &r), 0);
        ib__wedge_t *e = calloc(n * n, sizeof(*e));
        int32_t mate[64];
        size_t m = 0;
        for (uint32_t a = 0; a < n; a++)
            for (uint32_t b = a + 1; b < n; b++)
                if (fresh(pool, a, b))
                    e[m++] = (ib__wedge_t){a, b, ib_match_affinity(pool, a, b)};
        assert_int_equal(ib__match_exact(n, e, m, true, mate), 0);
        long best = 0;
        for (uint32_t v = 0; v < n; v++)
            if (mate[v] > (int32_t)v)
                best += ib_match_affinity(pool, v, (uint32_t)mate[v]);
        assert_int_equal(r.affinity, best);
        free(e);
        ib_match_result_clear(&r);
        ib_match_pool_free(pool);
    }
}

static void test_groups_of_three_rotate_grid(void **state)
{
    (void)state;
    /* 3g people with g prime: the grid gives g rounds without a repeat. */
    static const size_t primes[] = {3, 5, 7, 11};
    for (size_t i = 0; i < 4; i++) {
        size_t g = primes[i];
        ib_match_pool_t *pool = make_pool(3 * g, g, false);
        ib_match_opts_t o = {IB_MATCH_ROTATE, IB_MATCH_ODD_BYE, 3, 1, 0, 0};
        assert_int_equal(session(pool, &o, (unsigned)g, true), 0);
        ib_match_pool_free(pool);
    }
    /* Random groups of three over a few rounds of 30: no repeat is hard to
     * avoid there, and the search finds it. */
    ib_match_pool_t *pool = make_pool(30, 4, true);
    for (int strat = 0; strat < 3; strat += 2) {
        ib_match_opts_t o = {(ib_match_strategy_t)strat, IB_MATCH_ODD_BYE, 3, 1, 0, 0};
        assert_int_equal(session(pool, &o, 3, true), 0);
    }
    ib_match_pool_free(pool);
}

static void test_run_arguments(void **state)
{
    (void)state;
    ib_match_pool_t *pool = make_pool(5, 1, false);
    ib_match_result_t r = {0};
    ib_match_opts_t o = {IB_MATCH_RANDOM, IB_MATCH_ODD_BYE, 4, 1, 0, 0};
    assert_int_equal(ib_match_run(pool, NULL, 0, &o, &r), IB_EBADREQ);
    o.group_size = 2;
    o.strategy = (ib_match_strategy_t)7;
    assert_int_equal(ib_match_run(pool, NULL, 0, &o, &r), IB_EBADREQ);
    o.strategy = IB_MATCH_RANDOM;
    uint32_t dup[] = {0, 1, 1}, far[] = {0, 9};
    assert_int_equal(ib_match_run(pool, dup, 3, &o, &r), IB_EBADREQ);
    assert_int_equal(ib_match_run(pool, far, 2, &o, &r), IB_EBADREQ);
    assert_int_equal(r.n_groups + r.n_byes, 0);
    /* An explicit list may name inactive people; order does not matter. */
    ib_match_pool_set_active(pool, 4, false);
    uint32_t a[] = {4, 2, 0, 1}, b[] = {0, 1, 2, 4};
    ib_match_result_t ra = {0}, rb = {0};
    o.strategy = IB_MATCH_ROTATE;
    assert_int_equal(ib_match_run(pool, a, 4, &o, &ra), 0);
    assert_int_equal(ib_match_run(pool, b, 4, &o, &rb), 0);
    assert_true(results_equal(&ra, &rb));
    check_result(pool, b, 4, &o, &ra);
    ib_match_result_clear(&ra);
    ib_match_result_clear(&rb);
    /* Nobody, or one person. */
    assert_int_equal(ib_match_run(pool, a, 0, &o, &r), 0);
    assert_int_equal(r.n_groups + r.n_byes, 0);
    ib_match_result_clear(&r);
    assert_int_equal(ib_match_run(pool, a, 1, &o, &r), 0);
    assert_int_equal(r.n_byes, 1);
    ib_match_result_clear(&r);
    ib_match_result_clear(NULL);
    ib_match_pool_free(pool);
}

static void test_determinism_across_pools(void **state)
{
    (void)state;
    /* Two pools built the same way give the same rounds, for every
     * strategy; another seed gives another `random` round. */
    for (int strat = 0; strat < 3; strat++) {
        ib_match_pool_t *p1 = make_pool(300, 8, true), *p2 = make_pool(300, 8, true);
        ib_match_opts_t o = {(ib_match_strategy_t)strat, IB_MATCH_ODD_TRIO, 2, 77, 0, SIZE_MAX};
        for (unsigned k = 0; k < 3; k++) {
            o.round = k;
            ib_match_result_t a = {0}, b = {0};
            assert_int_equal(ib_match_run(p1, NULL, 0, &o, &a), 0);
            assert_int_equal(ib_match_run(p2, NULL, 0, &o, &b), 0);
            assert_true(results_equal(&a, &b));
            ib_match_commit(p1, &a, k + 1);
            ib_match_commit(p2, &b, k + 1);
            ib_match_result_clear(&a);
            ib_match_result_clear(&b);
        }
        ib_match_pool_free(p1);
        ib_match_pool_free(p2);
    }
    ib_match_pool_t *p = make_pool(40, 8, true);
    ib_match_opts_t o1 = {IB_MATCH_RANDOM, IB_MATCH_ODD_TRIO, 2, 1, 0, 0}, o2 = o1;
    o2.seed = 2;
    ib_match_result_t a = {0}, b = {0};
    assert_int_equal(ib_match_run(p, NULL, 0, &o1, &a), 0);
    assert_int_equal(ib_match_run(p, NULL, 0, &o2, &b), 0);
    assert_false(results_equal(&a, &b));
    ib_match_result_clear(&a);
    ib_match_result_clear(&b);
    ib_match_pool_free(p);
}

/* ---- the pool as JSON ---- */

/* A pool with everything JSON must carry: tags, history over several
 * rounds, blocks, byes, people gone (seat freed) and people arrived (seat
 * reused), one never active. */
static ib_match_pool_t *lived_pool(uint64_t seed, ib_match_strategy_t strat, ib_match_odd_t odd)
{
    uint64_t s = seed;
    ib_match_pool_t *pool = make_pool(30 + rng_below(&s, 20), seed, true);
    random_pairs_state(pool, ib_match_pool_size(pool), &s, 3, 2);
    ib_match_opts_t o = {strat, odd, 2, seed, 0, SIZE_MAX};
    for (unsigned k = 0; k < 4; k++) {
        uint32_t gone = rng_below(&s, (unsigned)ib_match_pool_size(pool)), h;
        ib_match_pool_set_active(pool, gone, false);
        char id[32];
        snprintf(id, sizeof(id), "late%u", k);
        assert_int_equal(ib_match_pool_put(pool, id, NULL, &h), 0);
        assert_int_equal(ib_match_pool_set_active(pool, h, true), 0);
        o.round = k;
        ib_match_result_t r = {0};
        assert_int_equal(ib_match_run(pool, NULL, 0, &o, &r), 0);
        assert_int_equal(ib_match_commit(pool, &r, k + 1), 0);
        ib_match_result_clear(&r);
    }
    const char *in[] = {"jazz"};
    ib_match_profile_t p = {in, 1, NULL, 0, NULL, 0};
    assert_int_equal(ib_match_pool_put(pool, "never-active", &p, NULL), 0);
    return pool;
}

static void assert_pools_same(const ib_match_pool_t *a, const ib_match_pool_t *b)
{
    size_t n = ib_match_pool_size(a);
    assert_int_equal(ib_match_pool_size(b), n);
    assert_int_equal(ib_match_pool_active_count(b), ib_match_pool_active_count(a));
    for (uint32_t x = 0; x < n; x++) {
        uint32_t h;
        assert_string_equal(ib_match_pool_id(b, x), ib_match_pool_id(a, x));
        assert_int_equal(ib_match_pool_find(b, ib_match_pool_id(a, x), &h), 0);
        assert_int_equal(h, x);
        assert_int_equal(ib_match_pool_active(b, x), ib_match_pool_active(a, x));
        assert_int_equal(ib_match_pool_seat(b, x), ib_match_pool_seat(a, x));
        assert_int_equal(ib_match_pool_byes(b, x), ib_match_pool_byes(a, x));
        for (uint32_t y = 0; y < n; y++) {
            assert_int_equal(ib_match_pool_met_count(b, x, y), ib_match_pool_met_count(a, x, y));
            assert_int_equal(ib_match_pool_blocked(b, x, y), ib_match_pool_blocked(a, x, y));
            assert_int_equal(ib_match_affinity(b, x, y), ib_match_affinity(a, x, y));
            ib_match_reason_t ra[IB_MATCH_SHARED_MAX], rb[IB_MATCH_SHARED_MAX];
            size_t na = ib_match_shared(a, x, y, ra, IB_MATCH_SHARED_MAX);
            assert_int_equal(ib_match_shared(b, x, y, rb, IB_MATCH_SHARED_MAX), na);
            for (size_t i = 0; i < na; i++) {
                assert_string_equal(ra[i].tag, rb[i].tag);
                assert_int_equal(ra[i].kind, rb[i].kind);
            }
        }
    }
}

static void test_pool_json_round_trip(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 12; seed++) {
        ib_match_strategy_t strat = (ib_match_strategy_t)(seed % 3);
        ib_match_odd_t odd = seed % 2 ? IB_MATCH_ODD_BYE : IB_MATCH_ODD_TRIO;
        ib_match_pool_t *a = lived_pool(seed, strat, odd), *b = NULL;
        json_t *j = ib_match_pool_to_json(a);
        assert_non_null(j);
        /* Through text, as another node would get it. */
        char *text = json_dumps(j, JSON_COMPACT);
        json_t *back = json_loads(text, 0, NULL);
        assert_non_null(back);
        assert_int_equal(ib_match_pool_from_json(back, &b), 0);
        assert_non_null(b);
        assert_pools_same(a, b);
        json_t *j2 = ib_match_pool_to_json(b);
        assert_true(json_equal(j, j2));
        /* The same rounds from here on, on both, with every strategy and
         * group size, including someone arriving after the reload (who
         * must take the same free seat in both). */
        for (unsigned k = 4; k < 8; k++) {
            if (k == 6) {
                uint32_t ha, hb;
                assert_int_equal(ib_match_pool_put(a, "after", NULL, &ha), 0);
                assert_int_equal(ib_match_pool_put(b, "after", NULL, &hb), 0);
                assert_int_equal(ha, hb);
                ib_match_pool_set_active(a, ha, true);
                ib_match_pool_set_active(b, hb, true);
                assert_int_equal(ib_match_pool_seat(a, ha), ib_match_pool_seat(b, hb));
            }
            ib_match_opts_t o = {strat, odd, k == 5 ? 3 : 2, seed, k, seed % 4 ? SIZE_MAX : 0};
            ib_match_result_t ra = {0}, rb = {0};
            assert_int_equal(ib_match_run(a, NULL, 0, &o, &ra), 0);
            assert_int_equal(ib_match_run(b, NULL, 0, &o, &rb), 0);
            assert_true(results_equal(&ra, &rb));
            assert_int_equal(ra.repeats, rb.repeats);
            assert_int_equal(ra.affinity, rb.affinity);
            assert_int_equal(ib_match_commit(a, &ra, k + 1), 0);
            assert_int_equal(ib_match_commit(b, &rb, k + 1), 0);
            ib_match_result_clear(&ra);
            ib_match_result_clear(&rb);
        }
        assert_pools_same(a, b);
        free(text);
        json_decref(j);
        json_decref(j2);
        json_decref(back);
        ib_match_pool_free(a);
        ib_match_pool_free(b);
    }
    /* An empty pool too. */
    ib_match_pool_t *e = ib_match_pool_new(), *e2 = NULL;
    json_t *j = ib_match_pool_to_json(e);
    assert_int_equal(ib_match_pool_from_json(j, &e2), 0);
    assert_int_equal(ib_match_pool_size(e2), 0);
    json_decref(j);
    ib_match_pool_free(e);
    ib_match_pool_free(e2);
}

/* One malformed variant of a valid pool document: `edit` is applied to a
 * deep copy; the result must be IB_EBADREQ with nothing built. */
static void expect_bad_pool(const json_t *good, const char *what, void (*edit)(json_t *))
{
    json_t *j = json_deep_copy(good);
    edit(j);
    ib_match_pool_t *out = (ib_match_pool_t *)(uintptr_t)1;
    int rc = ib_match_pool_from_json(j, &out);
    if (rc != IB_EBADREQ || out != NULL)
        fail_msg("%s: got %d", what, rc);
    json_decref(j);
}

static json_t *person0(json_t *j)
{
    return json_array_get(json_object_get(j, "people"), 0);
}
static json_t *pair0(json_t *j)
{
    return json_array_get(json_object_get(j, "pairs"), 0);
}
static void e_no_tags(json_t *j)
{
    json_object_del(j, "tags");
}
static void e_tags_object(json_t *j)
{
    json_object_set_new(j, "tags", json_object());
}
static void e_no_people(json_t *j)
{
    json_object_del(j, "people");
}
static void e_no_pairs(json_t *j)
{
    json_object_del(j, "pairs");
}
static void e_no_seats(json_t *j)
{
    json_object_del(j, "seats");
}
static void e_seats_negative(json_t *j)
{
    json_object_set_new(j, "seats", json_integer(-1));
}
static void e_seats_huge(json_t *j)
{
    json_object_set_new(j, "seats", json_integer(1LL << 40));
}
static void e_seats_string(json_t *j)
{
    json_object_set_new(j, "seats", json_string("3"));
}
static void e_tag_number(json_t *j)
{
    json_array_set_new(json_object_get(j, "tags"), 0, json_integer(1));
}
static void e_tag_empty(json_t *j)
{
    json_array_set_new(json_object_get(j, "tags"), 0, json_string(""));
}
static void e_tag_twice(json_t *j)
{
    json_t *t = json_object_get(j, "tags");
    json_array_append_new(t, json_string(json_string_value(json_array_get(t, 0))));
}
static void e_tag_case_twice(json_t *j)
{
    json_array_append_new(json_object_get(j, "tags"), json_string("GOLF"));
}
static void e_person_not_object(json_t *j)
{
    json_array_set_new(json_object_get(j, "people"), 0, json_integer(3));
}
static void e_person_bad_id(json_t *j)
{
    json_object_set_new(person0(j), "id", json_string("a b"));
}
static void e_person_no_id(json_t *j)
{
    json_object_del(person0(j), "id");
}
static void e_person_dup_id(json_t *j)
{
    json_t *p = json_object_get(j, "people");
    json_object_set(json_array_get(p, 1), "id", json_object_get(json_array_get(p, 0), "id"));
}
static void e_person_tag_range(json_t *j)
{
    json_array_append_new(json_object_get(person0(j), "i"),
                          json_integer((json_int_t)json_array_size(json_object_get(j, "tags"))));
}
static void e_person_tag_negative(json_t *j)
{
    json_array_append_new(json_object_get(person0(j), "o"), json_integer(-1));
}
static void e_person_tag_string(json_t *j)
{
    json_array_append_new(json_object_get(person0(j), "s"), json_string("golf"));
}
static void e_person_no_interests(json_t *j)
{
    json_object_del(person0(j), "i");
}
static void e_person_too_many_tags(json_t *j)
{
    json_t *l = json_array();
    for (int i = 0; i <= IB_MATCH_TAGS_MAX; i++)
        json_array_append_new(l, json_integer(0));
    json_object_set_new(person0(j), "i", l);
}
static void e_person_byes_negative(json_t *j)
{
    json_object_set_new(person0(j), "byes", json_integer(-2));
}
static void e_person_byes_huge(json_t *j)
{
    json_object_set_new(person0(j), "byes", json_integer(1LL << 33));
}
static void e_person_active_string(json_t *j)
{
    json_object_set_new(person0(j), "active", json_string("yes"));
}
static void e_person_active_no_seat(json_t *j)
{
    json_object_set_new(person0(j), "active", json_true());
    json_object_set_new(person0(j), "seat", json_null());
}
static void e_person_inactive_seat(json_t *j)
{
    json_object_set_new(person0(j), "active", json_false());
    json_object_set_new(person0(j), "seat", json_integer(0));
}
static void e_person_seat_range(json_t *j)
{
    json_object_set_new(person0(j), "active", json_true());
    json_object_set(person0(j), "seat", json_object_get(j, "seats"));
}
static void e_person_seat_taken(json_t *j)
{
    json_t *p = json_object_get(j, "people");
    json_object_set_new(json_array_get(p, 0), "active", json_true());
    json_object_set_new(json_array_get(p, 1), "active", json_true());
    json_object_set_new(json_array_get(p, 0), "seat", json_integer(0));
    json_object_set_new(json_array_get(p, 1), "seat", json_integer(0));
}
static void e_pair_short(json_t *j)
{
    json_array_remove(pair0(j), 4);
}
static void e_pair_loop(json_t *j)
{
    json_array_set(pair0(j), 1, json_array_get(pair0(j), 0));
}
static void e_pair_range(json_t *j)
{
    json_array_set_new(pair0(j), 1, json_integer(100000));
}
static void e_pair_negative(json_t *j)
{
    json_array_set_new(pair0(j), 0, json_integer(-1));
}
static void e_pair_met_huge(json_t *j)
{
    json_array_set_new(pair0(j), 2, json_integer(70000));
}
static void e_pair_last_negative(json_t *j)
{
    json_array_set_new(pair0(j), 3, json_integer(-5));
}
static void e_pair_blocked_int(json_t *j)
{
    json_array_set_new(pair0(j), 4, json_integer(1));
}
static void e_pair_object(json_t *j)
{
    json_array_set_new(json_object_get(j, "pairs"), 0, json_object());
}
static void e_not_object(json_t *j)
{
    json_object_clear(j);
}

static void test_pool_json_malformed(void **state)
{
    (void)state;
    ib_match_pool_t *a = lived_pool(5, IB_MATCH_ROTATE, IB_MATCH_ODD_BYE), *b = NULL;
    json_t *good = ib_match_pool_to_json(a);
    assert_non_null(good);
    /* The document is valid as it is, and has what the edits touch. */
    assert_int_equal(ib_match_pool_from_json(good, &b), 0);
    ib_match_pool_free(b);
    assert_true(json_array_size(json_object_get(good, "pairs")) > 0);
    assert_true(json_array_size(json_object_get(good, "people")) > 2);
    assert_true(json_array_size(json_object_get(person0(good), "i")) <= IB_MATCH_TAGS_MAX);
    struct {
        const char *what;
        void (*edit)(json_t *);
    } cases[] = {
        {"no tags", e_no_tags},
        {"tags an object", e_tags_object},
        {"no people", e_no_people},
        {"no pairs", e_no_pairs},
        {"no seats", e_no_seats},
        {"negative seats", e_seats_negative},
        {"huge seats", e_seats_huge},
        {"seats a string", e_seats_string},
        {"tag a number", e_tag_number},
        {"empty tag", e_tag_empty},
        {"tag twice", e_tag_twice},
        {"tag twice in another case", e_tag_case_twice},
        {"person not an object", e_person_not_object},
        {"bad id", e_person_bad_id},
        {"no id", e_person_no_id},
        {"same id twice", e_person_dup_id},
        {"tag index out of range", e_person_tag_range},
        {"negative tag index", e_person_tag_negative},
        {"tag index a string", e_person_tag_string},
        {"no interests", e_person_no_interests},
        {"too many tags", e_person_too_many_tags},
        {"negative byes", e_person_byes_negative},
        {"huge byes", e_person_byes_huge},
        {"active a string", e_person_active_string},
        {"active without a seat", e_person_active_no_seat},
        {"inactive with a seat", e_person_inactive_seat},
        {"seat out of range", e_person_seat_range},
        {"seat taken twice", e_person_seat_taken},
        {"pair too short", e_pair_short},
        {"pair with itself", e_pair_loop},
        {"pair out of range", e_pair_range},
        {"pair negative", e_pair_negative},
        {"met count too big", e_pair_met_huge},
        {"negative round", e_pair_last_negative},
        {"blocked not a boolean", e_pair_blocked_int},
        {"pair an object", e_pair_object},
        {"empty object", e_not_object},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        expect_bad_pool(good, cases[i].what, cases[i].edit);
    /* Not an object at all. */
    json_t *arr = json_array();
    b = (ib_match_pool_t *)(uintptr_t)1;
    assert_int_equal(ib_match_pool_from_json(arr, &b), IB_EBADREQ);
    assert_null(b);
    b = (ib_match_pool_t *)(uintptr_t)1;
    assert_int_equal(ib_match_pool_from_json(NULL, &b), IB_EBADREQ);
    assert_null(b);
    json_decref(arr);
    json_decref(good);
    ib_match_pool_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_validation),
        cmocka_unit_test(test_affinity_and_shared),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_seats),
        cmocka_unit_test(test_exact_solver_vs_brute_force),
        cmocka_unit_test(test_card_solver_vs_brute_force),
        cmocka_unit_test(test_rules_random_instances),
        cmocka_unit_test(test_groups_of_three_random_instances),
        cmocka_unit_test(test_rotate_circle),
        cmocka_unit_test(test_rotate_with_arrivals_and_departures),
        cmocka_unit_test(test_rotate_odd_trio),
        cmocka_unit_test(test_random_is_uniform),
        cmocka_unit_test(test_no_repeats_while_avoidable_over_sessions),
        cmocka_unit_test(test_bye_fairness_over_sessions),
        cmocka_unit_test(test_blocks_cost_a_bye),
        cmocka_unit_test(test_interests_exact_small),
        cmocka_unit_test(test_groups_of_three_rotate_grid),
        cmocka_unit_test(test_run_arguments),
        cmocka_unit_test(test_determinism_across_pools),
        cmocka_unit_test(test_pool_json_round_trip),
        cmocka_unit_test(test_pool_json_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
