/*
 * The `interests` strategy for pairs: a heavy matching of affinities.
 *
 * Small rounds (up to opts.exact_max_n people) are solved exactly: Edmonds'
 * weighted blossom over every fresh pair, maximum cardinality first.
 *
 * Large rounds cannot afford the O(n^2) pairs, and do not need them: a
 * person's good partners share their tags. So:
 *   1. Candidates. An inverted index over tags (who lists t as an
 *      interest, as an offer, as a seek) gives each person the people
 *      sharing a tag with them, scored through the postings. A person's
 *      tags are scanned rarest first within a budget of postings: rare tags
 *      whole (a rare shared tag says most about a pair), popular ones as a
 *      seeded window of what budget is left (so many share them that a
 *      sample finds as good). Each person keeps the K best fresh partners
 *      by that score, weighted exactly, and the union of those lists is the
 *      candidate graph: O(n K) edges, memory linear in n.
 *   2. A start by the Global Paths Algorithm (Maue and Sanders,
 *      "Engineering algorithms for approximate weighted matching", 2007):
 *      the heaviest candidate edges first, as greedy would take them, but
 *      collected into paths and even cycles (every vertex of degree two at
 *      most) that dynamic programming then matches optimally.
 *   3. Local improvement by weight-augmenting alternating paths of up to
 *      IB__DEPTH new edges (see ls_phase), repeated while they gain and the
 *      work budget lasts.
 * The caller (match.c) then pairs whoever is left by augmenting paths over
 * all fresh pairs, so the maximum-cardinality rule holds on top.
 *
 * Effort scales with the round: up to IB__EFFORT_FULL_N people everything
 * runs at full strength (K = IB_MATCH_TOP_K, IB_MATCH_POSTINGS postings a
 * person, improvement to convergence), which is where the quality is
 * measured against the exact optimum. Above it the postings, K and the
 * improvement work shrink so that the work per person stays bounded (the
 * goal: 10k people in under 50 ms a round, 100k in under 1 s; measured
 * figures, and where the time goes, in loadtest/RESULTS.md); the weights
 * stay exact, only fewer improvements are looked for.
 */
#include <stdlib.h>
#include <string.h>

#include "icebreaker/ib_err.h"
#include "match_internal.h"

#define IB__DEPTH 12  /* new edges per improving path at most */
#define IB__PHASES 30 /* improvement phases at most */
#define IB__EFFORT_FULL_N 4096
/* Postings scanned per round above IB__EFFORT_FULL_N, shared out per
 * person, never fewer than IB__POSTINGS_MIN a person. */
#define IB__POSTINGS_ROUND 1280000u
#define IB__POSTINGS_MIN 128u
#define IB__TOP_K_LARGE 16
#define IB__ORDERS 4 /* neighbourhood orders: three of interests, one business */
#define IB__NEAR 10  /* neighbours each side in each order */
#define IB__SLACK 8  /* candidates kept beyond K until checked for meetings */
#define IB__SLOTS (IB_MATCH_TOP_K + IB__SLACK)
/* Improvement work, in candidate edges scanned: up to IB__WORK_PER_PERSON
 * a person (convergence, in practice) up to IB__EFFORT_FULL_N people; above,
 * IB__WORK_CAP plus IB__WORK_MIN a person. */
#define IB__WORK_PER_PERSON 10000u
#define IB__WORK_CAP 2000000u
#define IB__WORK_MIN 30u
#define IB__WMAX                                                                                   \
    (IB_MATCH_W_INTEREST * IB_MATCH_TAGS_MAX + 2 * IB_MATCH_W_OFFER * IB_MATCH_TAGS_MAX)

/* ---- exact, for small rounds ---- */

static int exact_pairs(ib__run_t *r, const uint8_t *elig, size_t ne)
{
    uint32_t *loc = malloc((ne ? ne : 1) * sizeof(uint32_t));
    ib__wedge_t *e = malloc((ne * (ne - (ne > 0)) / 2 + 1) * sizeof(*e));
    int32_t *mate = malloc((ne ? ne : 1) * sizeof(int32_t));
    int err = 0;
    if (!loc || !e || !mate) {
        err = IB_ENOMEM;
        goto out;
    }
    size_t k = 0, m = 0;
    for (size_t i = 0; i < r->n; i++)
        if (elig[r->order[i]])
            loc[k++] = r->order[i];
    for (size_t i = 0; i < ne; i++) {
        for (size_t j = i + 1; j < ne; j++) {
            if (!ib__run_fresh(r, loc[i], loc[j]))
                continue;
            e[m].u = (uint32_t)i;
            e[m].v = (uint32_t)j;
            e[m].w = ib__run_affinity(r, loc[i], loc[j]);
            m++;
        }
    }
    if ((err = ib__match_exact(ne, e, m, true, mate)))
        goto out;
    for (size_t i = 0; i < ne; i++) {
        if (r->mate[loc[i]] >= 0)
            r->mate[r->mate[loc[i]]] = -1;
        r->mate[loc[i]] = -1;
    }
    for (size_t i = 0; i < ne; i++) {
        if (mate[i] > (int32_t)i) {
            r->mate[loc[i]] = (int32_t)loc[mate[i]];
            r->mate[loc[mate[i]]] = (int32_t)loc[i];
        }
    }
out:
    free(loc);
    free(e);
    free(mate);
    return err;
}

/* ---- the candidate graph ---- */

typedef struct cand {
    uint32_t v;
    int32_t w;
} cand_t;

typedef struct graph {
    uint32_t *start; /* n + 1 */
    cand_t *adj;     /* adj[start[u] .. start[u + 1]): u's candidates */
} graph_t;

/* Bits for a person's popular tags: interests, offers, seeks. Offers and
 * seeks share one numbering, so that offers(a) & seeks(b) is their match. */
typedef struct sig {
    uint64_t i, o, s;
} sig_t;

/* The run's people's tags, copied together: scoring reads the tags of
 * random people, and one block in people order misses the cache far less
 * than the pool's one allocation per person. */
typedef struct tags {
    uint32_t *off; /* n + 1 */
    uint32_t *buf;
    uint8_t (*cnt)[3];
    sig_t *sig;
} tags_t;

static void lists_of(const tags_t *t, uint32_t v, const uint32_t *l[3], size_t n[3])
{
    const uint32_t *b = t->buf + t->off[v];
    n[0] = t->cnt[v][0];
    n[1] = t->cnt[v][1];
    n[2] = t->cnt[v][2];
    l[0] = b;
    l[1] = b + n[0];
    l[2] = l[1] + n[1];
}

static int tags_build(const ib__run_t *r, const uint8_t *elig, tags_t *t)
{
    size_t total = 0;
    t->off = ib__alloc(r->arena, (r->n + 1) * sizeof(uint32_t));
    t->cnt = ib__alloc(r->arena, r->n * sizeof(*t->cnt));
    t->sig = ib__zalloc(r->arena, r->n * sizeof(sig_t));
    if (!t->off || !t->cnt || !t->sig)
        return IB_ENOMEM;
    for (size_t v = 0; v < r->n; v++) {
        const ib__person_t *p = r->pp[v];
        t->off[v] = (uint32_t)total;
        t->cnt[v][0] = elig[v] ? p->ni : 0;
        t->cnt[v][1] = elig[v] ? p->no : 0;
        t->cnt[v][2] = elig[v] ? p->ns : 0;
        total += (size_t)t->cnt[v][0] + t->cnt[v][1] + t->cnt[v][2];
    }
    t->off[r->n] = (uint32_t)total;
    t->buf = ib__alloc(r->arena, total * sizeof(uint32_t));
    if (!t->buf)
        return IB_ENOMEM;
    for (size_t v = 0; v < r->n; v++)
        memcpy(t->buf + t->off[v], r->pp[v]->tags, (t->off[v + 1] - t->off[v]) * sizeof(uint32_t));
    return 0;
}

/* Per kind of list (0 interest, 1 offer, 2 seek): for each tag, who lists
 * it, as CSR: post[k][start[k][t] .. start[k][t + 1]). bit[k][t] is t's
 * signature bit + 1 when t is popular, else 0. */
typedef struct index {
    uint32_t *start[3];
    uint32_t *post[3];
    uint8_t *bit[3];
} index_t;

static int index_build(const ib__run_t *r, const tags_t *t, index_t *ix)
{
    size_t nt = r->pool->n_tags;
    memset(ix, 0, sizeof(*ix));
    for (int k = 0; k < 3; k++) {
        ix->start[k] = ib__zalloc(r->arena, (nt + 2) * sizeof(uint32_t));
        ix->bit[k] = ib__zalloc(r->arena, nt + 1);
        if (!ix->start[k] || !ix->bit[k])
            return IB_ENOMEM;
    }
    size_t total[3] = {0, 0, 0};
    for (size_t v = 0; v < r->n; v++) {
        const uint32_t *l[3];
        size_t n[3];
        lists_of(t, (uint32_t)v, l, n);
        for (int k = 0; k < 3; k++) {
            for (size_t i = 0; i < n[k]; i++)
                ix->start[k][l[k][i] + 2]++;
            total[k] += n[k];
        }
    }
    for (int k = 0; k < 3; k++) {
        ix->post[k] = ib__alloc(r->arena, total[k] * sizeof(uint32_t));
        if (!ix->post[k])
            return IB_ENOMEM;
        for (size_t i = 0; i < nt; i++)
            ix->start[k][i + 2] += ix->start[k][i + 1];
    }
    /* Counts went to start[t + 2] so that, summed, start[t + 1] is where t's
     * postings begin; filling advances it to where they end, which is where
     * t + 1's begin, leaving start[t] .. start[t + 1] as t's range. Fill in
     * the seeded order so that a window of a long list is a seeded sample. */
    for (size_t i = 0; i < r->n; i++) {
        uint32_t v = r->order[i];
        const uint32_t *l[3];
        size_t n[3];
        lists_of(t, v, l, n);
        for (int k = 0; k < 3; k++)
            for (size_t j = 0; j < n[k]; j++)
                ix->post[k][ix->start[k][l[k][j] + 1]++] = v;
    }
    return 0;
}

static uint32_t postings(const index_t *ix, int k, uint32_t tag)
{
    return ix->start[k][tag + 1] - ix->start[k][tag];
}

/* The 64 interests and the 64 business tags (offered plus sought) with the
 * longest postings get a signature bit each, bit 0 the most popular. */
static void index_popular(const ib__run_t *r, index_t *ix, tags_t *t)
{
    size_t nt = r->pool->n_tags;
    for (int group = 0; group < 2; group++) {
        uint32_t len[64], tag[64];
        size_t nb = 0;
        for (uint32_t tg = 0; tg < nt; tg++) {
            uint32_t l =
                group == 0 ? postings(ix, 0, tg) : postings(ix, 1, tg) + postings(ix, 2, tg);
            if (l < 2 || (nb == 64 && l <= len[63]))
                continue;
            size_t p = nb < 64 ? nb++ : 63;
            while (p > 0 && len[p - 1] < l) {
                len[p] = len[p - 1];
                tag[p] = tag[p - 1];
                p--;
            }
            len[p] = l;
            tag[p] = tg;
        }
        for (size_t b = 0; b < nb; b++) {
            if (group == 0)
                ix->bit[0][tag[b]] = (uint8_t)(b + 1);
            else
                ix->bit[1][tag[b]] = ix->bit[2][tag[b]] = (uint8_t)(b + 1);
        }
    }
    for (size_t v = 0; v < r->n; v++) {
        const uint32_t *l[3];
        size_t n[3];
        lists_of(t, (uint32_t)v, l, n);
        uint64_t *dst[3] = {&t->sig[v].i, &t->sig[v].o, &t->sig[v].s};
        for (int k = 0; k < 3; k++)
            for (size_t j = 0; j < n[k]; j++)
                if (ix->bit[k][l[k][j]])
                    *dst[k] |= 1ULL << (ix->bit[k][l[k][j]] - 1);
    }
}

/* Bits set in x. The build targets plain x86-64 (no POPCNT instruction),
 * where __builtin_popcountll is a library call; this is a few inlined
 * operations. */
static inline int bits(uint64_t x)
{
    x = x - ((x >> 1) & 0x5555555555555555ULL);
    x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
    return (int)((x * 0x0101010101010101ULL) >> 56);
}

/* The affinity two people owe to their popular tags, exactly. */
static int32_t popular_affinity(const sig_t *a, const sig_t *b)
{
    return IB_MATCH_W_INTEREST * bits(a->i & b->i) +
           IB_MATCH_W_OFFER * (bits(a->o & b->s) + bits(a->s & b->o));
}

/*
 * Neighbourhoods of similar people. Sorting everyone by their popular
 * interests (as a bit string, permuted) puts people who share many of them
 * side by side, so a window around a person in a few such orders finds
 * their high-overlap partners without scanning the long postings of
 * popular tags (a locality-sensitive arrangement: each order favours
 * different bits). For offers and seeks one order holds both, keyed by
 * offers for one entry of a person and by seeks for the other, so an offer
 * sits next to the seeks it meets.
 */
typedef struct near {
    size_t norders;
    uint32_t *ord[IB__ORDERS]; /* entries sorted; entry = local * 2 + side */
    sig_t *sig[IB__ORDERS];    /* the entry's person's signature, in order,
                                  so that scoring a window reads it in a row */
    /* Each person's positions, together: pos[v * 2 * IB__ORDERS + k * 2 +
     * side], or UINT32_MAX; one cache line per person. */
    uint32_t *pos;
    size_t len[IB__ORDERS];
} near_t;

typedef struct keyed {
    uint64_t key;
    uint32_t entry;
} keyed_t;

/* Sort by key, highest first; stable (LSD radix, a byte a pass), so equal
 * keys keep the seeded order they came in. */
static void radix_desc(keyed_t *a, keyed_t *tmp, size_t m)
{
    for (int shift = 0; shift < 64; shift += 8) {
        size_t cnt[257];
        memset(cnt, 0, sizeof(cnt));
        for (size_t i = 0; i < m; i++)
            cnt[255 - ((a[i].key >> shift) & 0xff) + 1]++;
        if (cnt[1] == m) /* every key has 0 in this byte */
            continue;
        for (int d = 0; d < 256; d++)
            cnt[d + 1] += cnt[d];
        for (size_t i = 0; i < m; i++)
            tmp[cnt[255 - ((a[i].key >> shift) & 0xff)]++] = a[i];
        memcpy(a, tmp, m * sizeof(keyed_t));
    }
}

static uint64_t permute(uint64_t x, const uint8_t *perm)
{
    uint64_t y = 0;
    while (x) {
        int b = __builtin_ctzll(x);
        x &= x - 1;
        y |= 1ULL << perm[b];
    }
    return y;
}

static int near_build(ib__run_t *r, const uint8_t *elig, const tags_t *t, near_t *nr)
{
    size_t n = r->n;
    /* kv and tmp are released with the rest of the candidates' scratch. */
    keyed_t *kv = ib__alloc(r->arena, 2 * n * sizeof(keyed_t));
    keyed_t *tmp = ib__alloc(r->arena, 2 * n * sizeof(keyed_t));
    if (!kv || !tmp)
        return IB_ENOMEM;
    nr->norders = IB__ORDERS;
    nr->pos = ib__alloc(r->arena, 2 * IB__ORDERS * n * sizeof(uint32_t));
    if (!nr->pos)
        return IB_ENOMEM;
    memset(nr->pos, 0xff, 2 * IB__ORDERS * n * sizeof(uint32_t));
    for (size_t k = 0; k < IB__ORDERS; k++) {
        /* Order 0 keeps popularity (the most popular bit highest); the
         * others are seeded permutations. The last is the business one. */
        uint8_t perm[64];
        for (int b = 0; b < 64; b++)
            perm[b] = (uint8_t)(63 - b);
        if (k > 0) {
            for (int b = 63; b > 0; b--) {
                int j = (int)(ib__rand(&r->rng) % (uint64_t)(b + 1));
                uint8_t x = perm[b];
                perm[b] = perm[j];
                perm[j] = x;
            }
        }
        bool biz = k == IB__ORDERS - 1;
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
            uint32_t v = r->order[i];
            if (!elig[v])
                continue;
            for (int side = 0; side < (biz ? 2 : 1); side++) {
                uint64_t bits = biz ? (side ? t->sig[v].s : t->sig[v].o) : t->sig[v].i;
                if (!bits)
                    continue;
                kv[m].key = permute(bits, perm);
                kv[m].entry = (uint32_t)(2 * v + side);
                m++;
            }
        }
        radix_desc(kv, tmp, m);
        nr->ord[k] = ib__alloc(r->arena, m * sizeof(uint32_t));
        nr->sig[k] = ib__alloc(r->arena, m * sizeof(sig_t));
        if (!nr->ord[k] || !nr->sig[k])
            return IB_ENOMEM;
        for (size_t i = 0; i < m; i++) {
            uint32_t e = kv[i].entry;
            nr->ord[k][i] = e;
            nr->sig[k][i] = t->sig[e / 2];
            nr->pos[(e / 2) * 2 * IB__ORDERS + k * 2 + (e & 1)] = (uint32_t)i;
        }
        nr->len[k] = m;
    }
    return 0;
}

/* One list to scan for a person: the postings of one of their tags. */
typedef struct scan {
    uint8_t kind; /* the postings: 0 interest, 1 offer, 2 seek */
    bool popular; /* counted by signature, scanned only to find people */
    int32_t w;
    uint32_t tag, len;
} scan_t;

/* The lists of v's tags: the rare ones first, each group rarest first:
 * v's interests against interests, offers against seeks, seeks against
 * offers. */
static size_t person_scans(const tags_t *t, const index_t *ix, uint32_t v, scan_t *out)
{
    static const uint8_t against[3] = {0, 2, 1};
    static const int32_t weight[3] = {IB_MATCH_W_INTEREST, IB_MATCH_W_OFFER, IB_MATCH_W_OFFER};
    const uint32_t *l[3];
    size_t n[3], k = 0;
    lists_of(t, v, l, n);
    for (int kind = 0; kind < 3; kind++) {
        for (size_t j = 0; j < n[kind]; j++) {
            scan_t sc;
            sc.kind = against[kind];
            sc.w = weight[kind];
            sc.tag = l[kind][j];
            sc.popular = ix->bit[kind][sc.tag] != 0;
            sc.len = postings(ix, sc.kind, sc.tag);
            size_t p = k++;
            while (p > 0 && (out[p - 1].popular > sc.popular ||
                             (out[p - 1].popular == sc.popular && out[p - 1].len > sc.len))) {
                out[p] = out[p - 1];
                p--;
            }
            out[p] = sc;
        }
    }
    return k;
}

/* What scoring knows of one person q while scoring another: kept together
 * so that a posting read at random costs one cache miss, not three. */
typedef struct cell {
    uint32_t mark; /* see best_partners */
    int32_t acc;   /* rare tags, every posting scanned: ranks candidates */
    int32_t exact; /* rare tags, whole lists only: exact for those */
} cell_t;

typedef struct scorer {
    cell_t *c;
    uint32_t stamp;
    uint32_t *touched;
    size_t nt;
} scorer_t;

static void touch(scorer_t *s, uint32_t q)
{
    cell_t *c = &s->c[q];
    if (c->mark != s->stamp) {
        c->mark = s->stamp;
        c->acc = c->exact = 0;
        s->touched[s->nt++] = q;
    }
}

static void score_list(const ib__run_t *r, const index_t *ix, scorer_t *s, uint32_t v,
                       const scan_t *sc, size_t take)
{
    const uint32_t *post = ix->post[sc->kind] + ix->start[sc->kind][sc->tag];
    size_t len = sc->len, off = 0;
    bool whole = take >= len;
    if (!whole)
        off = ib__mix(((uint64_t)v << 32) ^ ((uint64_t)sc->tag << 2) ^ sc->kind ^ r->o.seed ^
                      ((uint64_t)r->o.round << 40)) %
              len;
    for (size_t i = 0; i < take; i++) {
        size_t j = off + i;
        uint32_t q = post[j >= len ? j - len : j];
        if (q == v)
            continue;
        touch(s, q);
        if (!sc->popular) {
            s->c[q].acc += sc->w;
            if (whole)
                s->c[q].exact += sc->w;
        }
    }
}

static bool has_tag(const uint32_t *l, size_t n, uint32_t t)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (l[mid] < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && l[lo] == t;
}

typedef struct best {
    cand_t *c;   /* the K slots, best first; w is the score */
    int32_t *ex; /* per slot: the exactly known part of the score */
    size_t n, K;
} best_t;

/* Offer q with score a (of which ex exactly known) to v's best list. The
 * list holds a few more than K and is checked for meetings and blocks
 * once, at the end: a pair-table lookup per candidate offered costs more
 * than the rest of the scoring. */
static void consider(best_t *b, uint32_t q, int32_t a, int32_t ex)
{
    if (a <= 0 || (b->n == b->K && a <= b->c[b->K - 1].w))
        return;
    size_t p = b->n < b->K ? b->n++ : b->K - 1;
    while (p > 0 && b->c[p - 1].w < a) {
        b->c[p] = b->c[p - 1];
        b->ex[p] = b->ex[p - 1];
        p--;
    }
    b->c[p].v = q;
    b->c[p].w = a;
    b->ex[p] = ex;
}

/* Each person's K best fresh partners: top[v * K ..], ntop[v] of them. */
static void best_partners(ib__run_t *r, const tags_t *t, const index_t *ix, const near_t *nr,
                          scorer_t *s, uint32_t v, size_t K, size_t budget, bool full, cand_t *top,
                          uint8_t *ntop)
{
    scan_t sc[3 * IB_MATCH_TAGS_MAX];
    size_t nsc = person_scans(t, ix, v, sc);
    size_t nrare = 0;
    while (nrare < nsc && !sc[nrare].popular)
        nrare++;
    /* Two stamps a person: mark == stamp, found through postings (acc and
     * exact hold its rare-tag score); mark == stamp + 1, already offered
     * to the best list. */
    s->stamp += 2;
    if (s->stamp < 2) {
        memset(s->c, 0, r->n * sizeof(cell_t));
        s->stamp = 2;
    }
    s->nt = 0;

    /* Rare tags first, each whole while the budget allows (a shared rare
     * tag says most about a pair); at full effort, what the budget leaves
     * of the popular ones' postings too, to find everyone sharing them
     * (their score comes from the signatures, exactly). */
    size_t left = budget, cut = nrare;
    size_t nscan = full ? nsc : nrare;
    for (size_t j = 0; j < nscan; j++) {
        size_t share = left / (nscan - j), take = sc[j].len < share ? sc[j].len : share;
        if (j < nrare && take < sc[j].len && cut == nrare)
            cut = j; /* rarest first, so every rare list from here on is cut */
        score_list(r, ix, s, v, &sc[j], take);
        left -= take;
    }

    cand_t slots[IB__SLOTS];
    int32_t ex_of[IB__SLOTS];
    best_t b = {slots, ex_of, 0, K + IB__SLACK};
    const sig_t *sv = &t->sig[v];
    if (full) {
        /* Small rounds: score everyone found, the signatures fit in cache. */
        for (size_t j = 0; j < s->nt; j++) {
            uint32_t q = s->touched[j];
            int32_t pop = popular_affinity(sv, &t->sig[q]);
            s->c[q].mark = s->stamp + 1;
            consider(&b, q, s->c[q].acc + pop, s->c[q].exact + pop);
        }
    } else {
        /* Large rounds: a signature read at random misses the cache, so
         * only the best by rare tags are scored in full... */
        const size_t want = K + K / 2;
        uint32_t hist[IB__WMAX + 2];
        memset(hist, 0, sizeof(hist));
        for (size_t j = 0; j < s->nt; j++) {
            int32_t a = s->c[s->touched[j]].acc;
            hist[a > IB__WMAX ? IB__WMAX : a]++;
        }
        int32_t thr = IB__WMAX;
        size_t above = hist[IB__WMAX];
        while (thr > 1 && above < want)
            above += hist[--thr];
        size_t eq_left = want > above - hist[thr] ? want - (above - hist[thr]) : 0;
        for (size_t j = 0; j < s->nt; j++) {
            uint32_t q = s->touched[j];
            int32_t a = s->c[q].acc;
            if (a < thr || (a == thr && !eq_left))
                continue;
            if (a == thr)
                eq_left--;
            int32_t pop = popular_affinity(sv, &t->sig[q]);
            s->c[q].mark = s->stamp + 1;
            consider(&b, q, a + pop, s->c[q].exact + pop);
        }
        /* ...and the neighbourhoods, whose signatures lie in a row. */
        for (size_t k = 0; k < nr->norders; k++) {
            bool biz = k + 1 == nr->norders;
            for (uint32_t side = 0; side < (biz ? 2u : 1u); side++) {
                uint32_t p = nr->pos[(size_t)v * 2 * IB__ORDERS + k * 2 + side];
                if (p == UINT32_MAX)
                    continue;
                size_t lo = p > IB__NEAR ? p - IB__NEAR : 0;
                size_t hi = p + IB__NEAR + 1 < nr->len[k] ? p + IB__NEAR + 1 : nr->len[k];
                for (size_t i = lo; i < hi; i++) {
                    uint32_t e = nr->ord[k][i], q = e / 2;
                    /* In the business order an offer wants a seek nearby. */
                    if (q == v || (biz && (e & 1) == side))
                        continue;
                    int32_t pop = popular_affinity(sv, &nr->sig[k][i]);
                    /* Whoever was not offered above has a rare-tag score
                     * of thr at most: when even that cannot enter the full
                     * list, consider() would refuse q, so q's cell (a
                     * cache miss) need not be read. */
                    if (b.n == b.K && pop + thr <= b.c[b.K - 1].w)
                        continue;
                    cell_t *cq = &s->c[q];
                    uint32_t mk = cq->mark;
                    if (mk == s->stamp + 1)
                        continue;
                    bool found = mk == s->stamp;
                    cq->mark = s->stamp + 1;
                    consider(&b, q, pop + (found ? cq->acc : 0), pop + (found ? cq->exact : 0));
                }
            }
        }
    }
    /* The K best that v may meet; the rare tags sampled, not scanned
     * whole, are looked up for them so that every weight is exact. */
    cand_t *out = top + (size_t)v * K;
    size_t kept = 0;
    for (size_t j = 0; j < b.n && kept < K; j++) {
        if (!ib__run_fresh(r, v, slots[j].v))
            continue;
        int32_t w = ex_of[j];
        if (cut < nrare) {
            const uint32_t *l[3];
            size_t n[3];
            lists_of(t, slots[j].v, l, n);
            for (size_t i = cut; i < nrare; i++)
                if (has_tag(l[sc[i].kind], n[sc[i].kind], sc[i].tag))
                    w += sc[i].w;
        }
        out[kept].v = slots[j].v;
        out[kept].w = w;
        kept++;
    }
    ntop[v] = (uint8_t)kept;
}

static int candidates(ib__run_t *r, const uint8_t *elig, graph_t *g)
{
    size_t n = r->n, K = IB_MATCH_TOP_K, budget = IB_MATCH_POSTINGS;
    if (n > IB__EFFORT_FULL_N) {
        K = IB__TOP_K_LARGE;
        budget = IB__POSTINGS_ROUND / n;
        if (budget < IB__POSTINGS_MIN)
            budget = IB__POSTINGS_MIN;
        if (budget > IB_MATCH_POSTINGS)
            budget = IB_MATCH_POSTINGS;
    }
    cand_t *top = ib__alloc(r->arena, n * K * sizeof(cand_t));
    uint8_t *ntop = ib__zalloc(r->arena, n);
    if (!top || !ntop)
        return IB_ENOMEM;

    /* The scoring scratch goes back before the graph is built. */
    ib__mark_t scratch = ib__mark(r->arena);
    tags_t t = {0};
    index_t ix = {0};
    near_t nr = {0};
    scorer_t s = {0};
    s.c = ib__zalloc(r->arena, n * sizeof(cell_t));
    s.touched = ib__alloc(r->arena, n * sizeof(uint32_t));
    int err = 0;
    if (!s.c || !s.touched)
        return IB_ENOMEM;
    if ((err = tags_build(r, elig, &t)) || (err = index_build(r, &t, &ix)))
        return err;
    index_popular(r, &ix, &t);
    if ((err = near_build(r, elig, &t, &nr)))
        return err;
    /* Each person's list depends on nobody else's: in index order, so that
     * the arrays indexed by v are read in a row. */
    for (uint32_t v = 0; v < n; v++) {
        if (elig[v])
            best_partners(r, &t, &ix, &nr, &s, v, K, budget, n <= IB__EFFORT_FULL_N, top, ntop);
    }
    ib__release(r->arena, scratch);

    /* Symmetric adjacency: v's own list and everyone who listed v. */
    uint32_t *deg = ib__zalloc(r->arena, (n + 1) * sizeof(uint32_t));
    g->start = ib__alloc(r->arena, (n + 1) * sizeof(uint32_t));
    if (!deg || !g->start)
        return IB_ENOMEM;
    for (size_t v = 0; v < n; v++) {
        for (size_t j = 0; j < ntop[v]; j++) {
            deg[v]++;
            deg[top[v * K + j].v]++;
        }
    }
    size_t total = 0;
    for (size_t v = 0; v < n; v++)
        total += deg[v];
    g->adj = ib__alloc(r->arena, total * sizeof(cand_t));
    if (!g->adj)
        return IB_ENOMEM;
    g->start[0] = 0;
    for (size_t v = 0; v < n; v++) {
        g->start[v + 1] = g->start[v] + deg[v];
        deg[v] = g->start[v];
    }
    for (size_t v = 0; v < n; v++) {
        for (size_t j = 0; j < ntop[v]; j++) {
            cand_t c = top[v * K + j];
            g->adj[deg[v]++] = c;
            cand_t back = {(uint32_t)v, c.w};
            g->adj[deg[c.v]++] = back;
        }
    }
    /* Drop the duplicates (u and v listed each other) and compact; deg,
     * done with, now marks the neighbours seen by u + 1. */
    memset(deg, 0, (n + 1) * sizeof(uint32_t));
    uint32_t at = 0;
    for (size_t v = 0; v < n; v++) {
        uint32_t a = g->start[v], b = g->start[v + 1];
        g->start[v] = at;
        for (uint32_t i = a; i < b; i++) {
            if (deg[g->adj[i].v] == v + 1)
                continue;
            deg[g->adj[i].v] = (uint32_t)(v + 1);
            g->adj[at++] = g->adj[i];
        }
    }
    g->start[n] = at;
    return 0;
}

/* ---- the start: Global Paths Algorithm ---- */

static void match(ib__run_t *r, int32_t *mw, uint32_t u, uint32_t v, int32_t w)
{
    r->mate[u] = (int32_t)v;
    r->mate[v] = (int32_t)u;
    mw[u] = mw[v] = w;
}

static void unmatch(ib__run_t *r, int32_t *mw, uint32_t u)
{
    int32_t m = r->mate[u];
    if (m >= 0) {
        r->mate[m] = -1;
        mw[m] = 0;
    }
    r->mate[u] = -1;
    mw[u] = 0;
}

typedef struct wedge {
    uint32_t u, v;
    int32_t w;
} wedge_t;

typedef struct paths {
    uint32_t *nbr; /* two per vertex: neighbours in the paths */
    int32_t *nw;   /* their weights */
    uint32_t *end; /* for a path's end: the other end */
    uint32_t *len; /* at both ends: edges in the path */
    uint8_t *deg;
} paths_t;

static void paths_link(paths_t *p, uint32_t u, uint32_t v, int32_t w)
{
    p->nbr[2 * u + p->deg[u]] = v;
    p->nw[2 * u + p->deg[u]++] = w;
    p->nbr[2 * v + p->deg[v]] = u;
    p->nw[2 * v + p->deg[v]++] = w;
}

/* Match a path optimally: vertices x[0..k], weight w[i] between x[i] and
 * x[i + 1]; dp is scratch for k + 1 values. */
static void path_dp(ib__run_t *r, int32_t *mw, const uint32_t *x, const int32_t *w, size_t k,
                    int64_t *dp)
{
    if (k == 0)
        return;
    dp[0] = 0;
    dp[1] = w[0] > 0 ? w[0] : 0;
    for (size_t i = 2; i <= k; i++) {
        int64_t take = dp[i - 2] + w[i - 1];
        dp[i] = take > dp[i - 1] ? take : dp[i - 1];
    }
    for (size_t i = k; i >= 1;) {
        if (dp[i] != dp[i - 1]) {
            match(r, mw, x[i - 1], x[i], w[i - 1]);
            if (i < 2)
                break;
            i -= 2;
        } else {
            i--;
        }
    }
}

/* The best of a path's edges 1..k-1 in a row (for cycles). */
static int64_t path_value(const int32_t *w, size_t from, size_t to)
{
    int64_t a = 0, b = 0;
    for (size_t i = from; i < to; i++) {
        int64_t t = a + w[i] > b ? a + w[i] : b;
        a = b;
        b = t;
    }
    return b;
}

/* Take the candidate edges heaviest first (equal weights in the seeded
 * order, by a stable counting sort) into paths and even cycles, then match
 * each optimally. */
static int global_paths(ib__run_t *r, const graph_t *g, int32_t *mw)
{
    size_t n = r->n, ne = 0;
    size_t cnt[IB__WMAX + 2];
    memset(cnt, 0, sizeof(cnt));
    for (size_t u = 0; u < n; u++) {
        for (uint32_t j = g->start[u]; j < g->start[u + 1]; j++) {
            if (g->adj[j].v > u) {
                ne++;
                cnt[IB__WMAX - g->adj[j].w]++;
            }
        }
    }
    ib__arena_t *A = r->arena;
    ib__mark_t mark = ib__mark(A);
    paths_t p = {0};
    wedge_t *sorted = ib__alloc(A, ne * sizeof(wedge_t));
    p.nbr = ib__alloc(A, 2 * n * sizeof(uint32_t));
    p.nw = ib__alloc(A, 2 * n * sizeof(int32_t));
    p.end = ib__alloc(A, n * sizeof(uint32_t));
    p.len = ib__zalloc(A, n * sizeof(uint32_t));
    p.deg = ib__zalloc(A, n);
    uint32_t *x = ib__alloc(A, (n + 1) * sizeof(uint32_t));
    int32_t *xw = ib__alloc(A, (n + 1) * sizeof(int32_t));
    int64_t *dp = ib__alloc(A, (n + 2) * sizeof(int64_t));
    uint8_t *seen = ib__zalloc(A, n);
    int err = 0;
    if (!sorted || !p.nbr || !p.nw || !p.end || !p.len || !p.deg || !x || !xw || !dp || !seen) {
        err = IB_ENOMEM;
        goto out;
    }
    size_t pos = 0;
    for (size_t w = 0; w <= IB__WMAX; w++) {
        size_t c = cnt[w];
        cnt[w] = pos;
        pos += c;
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t u = r->order[i];
        for (uint32_t j = g->start[u]; j < g->start[u + 1]; j++) {
            if (g->adj[j].v > u) {
                wedge_t e = {u, g->adj[j].v, g->adj[j].w};
                sorted[cnt[IB__WMAX - e.w]++] = e;
            }
        }
    }

    for (size_t v = 0; v < n; v++)
        p.end[v] = (uint32_t)v;
    for (size_t i = 0; i < ne; i++) {
        uint32_t u = sorted[i].u, v = sorted[i].v;
        if (p.deg[u] >= 2 || p.deg[v] >= 2 || sorted[i].w <= 0)
            continue;
        if (p.end[u] == v) {
            /* u and v end the same path: closing it makes a cycle, which
             * must be even, so the path must have an odd number of edges. */
            if (p.len[u] % 2 == 1)
                paths_link(&p, u, v, sorted[i].w);
            continue;
        }
        uint32_t a = p.end[u], b = p.end[v];
        uint32_t l = p.len[u] + p.len[v] + 1;
        paths_link(&p, u, v, sorted[i].w);
        p.end[a] = b;
        p.end[b] = a;
        p.len[a] = p.len[b] = l;
    }

    /* Paths first (from an end, of degree 1), then the cycles left. */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t s0 = 0; s0 < n; s0++) {
            if (seen[s0] || p.deg[s0] == 0 || (pass == 0 && p.deg[s0] != 1))
                continue;
            size_t kx = 0;
            uint32_t prev = IB_MATCH_NONE, cur = (uint32_t)s0;
            x[0] = cur;
            seen[cur] = 1;
            for (;;) {
                uint32_t nx = IB_MATCH_NONE;
                int32_t w = 0;
                for (int j = 0; j < p.deg[cur]; j++) {
                    uint32_t c = p.nbr[2 * cur + j];
                    if (c != prev && !(c == s0 && kx < 2) && (!seen[c] || c == s0)) {
                        nx = c;
                        w = p.nw[2 * cur + j];
                        break;
                    }
                }
                if (nx == IB_MATCH_NONE)
                    break;
                xw[kx] = w;
                x[++kx] = nx;
                if (nx == s0)
                    break; /* the cycle closed */
                seen[nx] = 1;
                prev = cur;
                cur = nx;
            }
            if (pass == 0 || x[kx] != s0) {
                path_dp(r, mw, x, xw, kx, dp);
                continue;
            }
            /* A cycle of kx edges: either its first edge is out (a path of
             * the other kx - 1) or in (then both neighbours are out: a path
             * of kx - 3). Take the better. */
            int64_t out_first = path_value(xw, 1, kx);
            int64_t in_first = xw[0] + path_value(xw, 2, kx - 1);
            if (in_first > out_first) {
                match(r, mw, x[0], x[1], xw[0]);
                path_dp(r, mw, x + 2, xw + 2, kx >= 3 ? kx - 3 : 0, dp);
            } else {
                path_dp(r, mw, x + 1, xw + 1, kx - 1, dp);
            }
        }
    }
out:
    ib__release(A, mark);
    return err;
}

/* ---- local improvement ---- */

/*
 * A weight-augmenting alternating path starts at a person c0 (who lets go
 * of their partner, if any), takes a candidate edge to v1, whose partner c1
 * is let go and takes an edge to v2, and so on; it ends at a free person,
 * at c0's old partner (closing a cycle: two-pair swaps are the shortest),
 * or simply stops (the last one let go stays free). Its gain is the weight
 * of the edges taken less the weight of the pairs broken.
 *
 * Depth-first search from every person would cost K^depth. One phase
 * instead computes, layer by layer for all start points at once, the best
 * gain with which each person can be "the one let go" after k steps: a
 * Bellman-Ford relaxation over the alternating graph, O(depth * edges). The
 * paths so found are checked to be simple (the relaxation does not know),
 * the best vertex-disjoint ones are applied, and phases repeat while they
 * gain. Long paths matter: with small integer weights and many ties, the
 * improvements are chains of pairs each shifting by one, which two-pair
 * swaps never find.
 */
typedef struct link {
    uint32_t from; /* who took this person's partner (previous layer) */
    uint32_t took; /* that partner */
} link_t;

typedef struct finish {
    int32_t gain;
    uint32_t layer, c, v; /* c (at layer) takes free v, or stops (v NONE) */
} finish_t;

static int cmp_finish(const void *a, const void *b)
{
    const finish_t *x = a, *y = b;
    if (x->gain != y->gain)
        return x->gain > y->gain ? -1 : 1;
    if (x->layer != y->layer)
        return x->layer < y->layer ? -1 : 1;
    return x->c < y->c ? -1 : x->c > y->c;
}

typedef struct ls {
    ib__run_t *r;
    const graph_t *g;
    int32_t *mw;
    link_t *link[IB__DEPTH + 1]; /* per layer: how each person was reached */
    int32_t *gain[2];            /* this layer and the next: best gain */
    uint32_t *origin[2];         /* where that best path started */
    finish_t *fin;
    size_t nfin, capfin;
    uint32_t *used, stamp; /* people on a path applied this phase */
    int32_t *bn;           /* best net gain of one step from each person */
    uint32_t *changed;     /* people whose partner changed this phase */
    size_t nchanged;
    uint8_t *start; /* where this phase's paths may start */
    uint64_t work;  /* candidate edges scanned so far */
    uint64_t budget;
} ls_t;

static void add_finish(ls_t *l, int32_t gain, uint32_t layer, uint32_t c, uint32_t v)
{
    if (l->nfin == l->capfin)
        return; /* bounded: the rest come up again next phase */
    finish_t *f = &l->fin[l->nfin++];
    f->gain = gain;
    f->layer = layer;
    f->c = c;
    f->v = v;
}

/* Rebuild the path of a finish into seq (c0, v1, c1, ..., vk, ck[, v]);
 * false when it visits someone twice or someone already used. */
static bool path_of(ls_t *l, const finish_t *f, uint32_t *seq, int *len)
{
    uint32_t rev[2 * IB__DEPTH + 2];
    int n = 0;
    uint32_t c = f->c;
    for (int k = (int)f->layer; k > 0; k--) {
        const link_t *st = &l->link[k][c];
        rev[n++] = c;
        rev[n++] = st->took;
        c = st->from;
    }
    rev[n++] = c;
    *len = 0;
    for (int i = n - 1; i >= 0; i--)
        seq[(*len)++] = rev[i];
    if (f->v != IB_MATCH_NONE)
        seq[(*len)++] = f->v;
    /* Everyone on it, and c0's old partner, must be distinct and unused;
     * the one exception, a cycle ending at c0's old partner. */
    int32_t a0 = l->r->mate[seq[0]];
    for (int i = 0; i < *len; i++) {
        if (l->used[seq[i]] == l->stamp)
            return false;
        for (int j = i + 1; j < *len; j++)
            if (seq[i] == seq[j])
                return false;
        bool closing = i == *len - 1 && f->v != IB_MATCH_NONE && (int32_t)seq[i] == a0;
        if (a0 >= 0 && (int32_t)seq[i] == a0 && !closing)
            return false;
    }
    return a0 < 0 || l->used[a0] != l->stamp;
}

static int32_t edge_w(const graph_t *g, uint32_t u, uint32_t v)
{
    for (uint32_t j = g->start[u]; j < g->start[u + 1]; j++)
        if (g->adj[j].v == v)
            return g->adj[j].w;
    return 0;
}

static void apply_path(ls_t *l, const uint32_t *seq, int len)
{
    ib__run_t *r = l->r;
    int32_t a0 = r->mate[seq[0]];
    for (int i = 0; i < len; i++) {
        l->used[seq[i]] = l->stamp;
        l->changed[l->nchanged++] = seq[i];
    }
    if (a0 >= 0) {
        if (l->used[a0] != l->stamp)
            l->changed[l->nchanged++] = (uint32_t)a0;
        l->used[a0] = l->stamp;
        unmatch(r, l->mw, seq[0]);
    }
    /* c(i-1) takes v(i), whose partner c(i) was let go; a last v is free. */
    for (int i = 1; i < len; i += 2) {
        uint32_t prev = seq[i - 1], v = seq[i];
        if (r->mate[v] >= 0)
            unmatch(r, l->mw, v);
        match(r, l->mw, prev, v, edge_w(l->g, prev, v));
    }
}

/* After the first phase, improving paths are new only near the pairs that
 * changed: the next phase starts from the people changed, their
 * candidates and those candidates' partners. A heuristic (a path could
 * start further away), which keeps the later phases cheap. */
static void next_starts(ls_t *l)
{
    const graph_t *g = l->g;
    memset(l->start, 0, l->r->n);
    for (size_t i = 0; i < l->nchanged; i++) {
        uint32_t x = l->changed[i];
        l->start[x] = 1;
        for (uint32_t j = g->start[x]; j < g->start[x + 1]; j++) {
            uint32_t y = g->adj[j].v;
            l->start[y] = 1;
            if (l->r->mate[y] >= 0)
                l->start[l->r->mate[y]] = 1;
        }
    }
}

static long ls_phase(ls_t *l, const uint8_t *elig)
{
    ib__run_t *r = l->r;
    const graph_t *g = l->g;
    size_t n = r->n;
    const int32_t none = INT32_MIN;
    const int depth = IB__DEPTH;
    l->nfin = 0;
    /* A step from c to v gains w(c, v) less the pair v breaks. The best
     * step from each person, and the best anywhere, bound what a path can
     * still gain and prune most of the relaxation once the matching is
     * good. (A cycle's closing step gains more than this counts, by the
     * weight of the first pair broken, so a few cycles are pruned too.) */
    int32_t best_step = 0;
    for (size_t c = 0; c < n; c++) {
        int32_t b = none;
        for (uint32_t j = g->start[c]; j < g->start[c + 1]; j++) {
            uint32_t v = g->adj[j].v;
            if ((int32_t)v == r->mate[c])
                continue;
            int32_t net = g->adj[j].w - (r->mate[v] >= 0 ? l->mw[v] : 0);
            if (net > b)
                b = net;
        }
        l->bn[c] = b;
        if (b > best_step)
            best_step = b;
    }
    l->work += g->start[n];
    int32_t *cg = l->gain[0], *ng = l->gain[1];
    uint32_t *co = l->origin[0], *no = l->origin[1];
    for (size_t v = 0; v < n; v++) {
        cg[v] = elig[v] && l->start[v] ? (r->mate[v] >= 0 ? -l->mw[v] : 0) : none;
        co[v] = (uint32_t)v;
    }
    for (int k = 0; k < depth && l->work < l->budget; k++) {
        link_t *lk = l->link[k + 1];
        for (size_t v = 0; v < n; v++)
            ng[v] = none;
        /* In index order, so that the adjacency is read front to back. */
        for (size_t c = 0; c < n; c++) {
            int32_t gc = cg[c];
            if (gc == none || l->bn[c] == none || gc + l->bn[c] + (depth - k - 1) * best_step <= 0)
                continue;
            uint32_t oc = co[c];
            int32_t a0 = r->mate[oc], mc = r->mate[c];
            l->work += g->start[c + 1] - g->start[c];
            for (uint32_t j = g->start[c]; j < g->start[c + 1]; j++) {
                uint32_t v = g->adj[j].v;
                int32_t w = g->adj[j].w;
                if ((int32_t)v == mc || v == oc)
                    continue;
                int32_t m = r->mate[v];
                if (m < 0 || (k > 0 && (uint32_t)m == oc && (int32_t)v == a0)) {
                    if (gc + w > 0)
                        add_finish(l, gc + w, (uint32_t)k, (uint32_t)c, v);
                    continue;
                }
                int32_t val = gc + w - l->mw[v];
                if (val > ng[m]) {
                    ng[m] = val;
                    no[m] = oc;
                    lk[m].from = (uint32_t)c;
                    lk[m].took = v;
                }
            }
        }
        for (size_t v = 0; v < n; v++)
            if (ng[v] != none && ng[v] > 0)
                add_finish(l, ng[v], (uint32_t)(k + 1), (uint32_t)v, IB_MATCH_NONE);
        int32_t *tg = cg;
        cg = ng;
        ng = tg;
        uint32_t *to = co;
        co = no;
        no = to;
    }
    qsort(l->fin, l->nfin, sizeof(finish_t), cmp_finish);
    if (++l->stamp == 0) {
        memset(l->used, 0, n * sizeof(uint32_t));
        l->stamp = 1;
    }
    long gained = 0;
    l->nchanged = 0;
    for (size_t i = 0; i < l->nfin; i++) {
        uint32_t seq[2 * IB__DEPTH + 3];
        int len;
        if (!path_of(l, &l->fin[i], seq, &len))
            continue;
        apply_path(l, seq, len);
        gained += l->fin[i].gain;
    }
    next_starts(l);
    return gained;
}

static int local_search(ib__run_t *r, const graph_t *g, const uint8_t *elig, int32_t *mw)
{
    ls_t l = {0};
    int err = 0;
    size_t n = r->n;
    l.r = r;
    l.g = g;
    l.mw = mw;
    l.budget = (uint64_t)n * IB__WORK_PER_PERSON;
    if (n > IB__EFFORT_FULL_N)
        l.budget = IB__WORK_CAP + (uint64_t)n * IB__WORK_MIN;
    ib__arena_t *A = r->arena;
    ib__mark_t mark = ib__mark(A);
    l.capfin = 2 * n + 16;
    l.fin = ib__alloc(A, l.capfin * sizeof(finish_t));
    l.used = ib__zalloc(A, n * sizeof(uint32_t));
    l.bn = ib__alloc(A, n * sizeof(int32_t));
    l.changed = ib__alloc(A, n * sizeof(uint32_t));
    l.start = ib__alloc(A, n);
    for (int k = 0; k < 2; k++) {
        l.gain[k] = ib__alloc(A, n * sizeof(int32_t));
        l.origin[k] = ib__alloc(A, n * sizeof(uint32_t));
        if (!l.gain[k] || !l.origin[k])
            err = IB_ENOMEM;
    }
    for (int k = 0; k <= IB__DEPTH; k++)
        if (!(l.link[k] = ib__alloc(A, n * sizeof(link_t))))
            err = IB_ENOMEM;
    if (!l.fin || !l.used || !l.bn || !l.changed || !l.start)
        err = IB_ENOMEM;
    else
        memset(l.start, 1, n);
    for (int phase = 0; phase < IB__PHASES && !err && l.work < l.budget; phase++)
        if (ls_phase(&l, elig) <= 0)
            break;
    ib__release(A, mark);
    return err;
}

int ib__interests_pairs(ib__run_t *r, const uint8_t *elig)
{
    size_t ne = 0;
    for (size_t v = 0; v < r->n; v++)
        ne += elig[v] != 0;
    if (r->o.exact_max_n != SIZE_MAX && ne <= r->o.exact_max_n)
        return exact_pairs(r, elig, ne);

    ib__mark_t mark = ib__mark(r->arena);
    graph_t g = {0};
    int32_t *mw = ib__zalloc(r->arena, r->n * sizeof(int32_t));
    int err = mw ? 0 : IB_ENOMEM;
    /* Start from nothing: whatever the caller paired is redone here. */
    for (size_t v = 0; v < r->n && !err; v++)
        if (elig[v] && r->mate[v] >= 0)
            unmatch(r, mw, (uint32_t)v);
    if (!err)
        err = candidates(r, elig, &g);
    if (!err)
        err = global_paths(r, &g, mw);
    if (!err)
        err = local_search(r, &g, elig, mw);
    ib__release(r->arena, mark);
    return err;
}
