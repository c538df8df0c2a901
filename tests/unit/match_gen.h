/*
 * Seeded instances for the matching tests and benchmark: people with
 * realistic tags. Interests follow a Zipf law (a few topics everybody
 * lists, a long tail of rare ones); a business vocabulary, also Zipf, is
 * split between sellers (who offer), buyers (who seek) and people who do
 * neither much. The vocabularies grow with the event, as they do: a larger
 * event has more distinct topics.
 *
 * Header-only (static functions) so that tests/unit and loadtest can both
 * include it without a library of their own.
 */
#ifndef IB_MATCH_GEN_H
#define IB_MATCH_GEN_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "icebreaker/ib_match.h"

typedef struct gen_zipf {
    double *cdf;
    size_t n;
} gen_zipf_t;

static uint64_t gen_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double gen_unit(uint64_t *s)
{
    return (double)(gen_next(s) >> 11) / 9007199254740992.0;
}

static size_t gen_range(uint64_t *s, size_t lo, size_t hi) /* inclusive */
{
    return lo + (size_t)(gen_next(s) % (hi - lo + 1));
}

static int gen_zipf_init(gen_zipf_t *z, size_t n, double exponent)
{
    z->n = n;
    z->cdf = malloc(n * sizeof(double));
    if (!z->cdf)
        return -1;
    double sum = 0;
    for (size_t k = 0; k < n; k++) {
        sum += 1.0 / pow((double)(k + 1), exponent);
        z->cdf[k] = sum;
    }
    for (size_t k = 0; k < n; k++)
        z->cdf[k] /= sum;
    return 0;
}

static size_t gen_zipf_draw(const gen_zipf_t *z, uint64_t *s)
{
    double u = gen_unit(s);
    size_t lo = 0, hi = z->n - 1;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (z->cdf[mid] < u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* k distinct draws into out (as indices). */
static size_t gen_distinct(const gen_zipf_t *z, uint64_t *s, size_t k, size_t *out)
{
    size_t got = 0;
    for (int guard = 0; got < k && guard < 1000; guard++) {
        size_t t = gen_zipf_draw(z, s), i;
        for (i = 0; i < got && out[i] != t; i++)
            ;
        if (i == got)
            out[got++] = t;
    }
    return got;
}

/*
 * Add people "p<first>" .. "p<first + n - 1>" to pool and make them
 * active. Returns 0 or -1.
 */
static int gen_people(ib_match_pool_t *pool, size_t first, size_t n, size_t event_size,
                      uint64_t seed)
{
    size_t vi = 100 + event_size / 4, vb = 30 + event_size / 50;
    if (vi > 5000)
        vi = 5000;
    if (vb > 500)
        vb = 500;
    gen_zipf_t zi, zb;
    if (gen_zipf_init(&zi, vi, 1.0) || gen_zipf_init(&zb, vb, 0.8))
        return -1;
    uint64_t s = seed * 0x2545F4914F6CDD1DULL + first;
    char names[3][IB_MATCH_TAGS_MAX][16];
    const char *lists[3][IB_MATCH_TAGS_MAX];
    int ret = 0;
    for (size_t p = 0; p < n && !ret; p++) {
        size_t idx[IB_MATCH_TAGS_MAX], cnt[3];
        cnt[0] = gen_distinct(&zi, &s, gen_range(&s, 3, 8), idx);
        for (size_t i = 0; i < cnt[0]; i++) {
            snprintf(names[0][i], sizeof(names[0][i]), "topic%zu", idx[i]);
            lists[0][i] = names[0][i];
        }
        double role = gen_unit(&s);
        size_t no, ns;
        if (role < 0.4) { /* seller */
            no = gen_range(&s, 1, 3);
            ns = gen_range(&s, 0, 1);
        } else if (role < 0.8) { /* buyer */
            no = gen_range(&s, 0, 1);
            ns = gen_range(&s, 1, 3);
        } else {
            no = gen_range(&s, 0, 1);
            ns = gen_range(&s, 0, 1);
        }
        cnt[1] = gen_distinct(&zb, &s, no, idx);
        for (size_t i = 0; i < cnt[1]; i++) {
            snprintf(names[1][i], sizeof(names[1][i]), "biz%zu", idx[i]);
            lists[1][i] = names[1][i];
        }
        cnt[2] = gen_distinct(&zb, &s, ns, idx);
        for (size_t i = 0; i < cnt[2]; i++) {
            snprintf(names[2][i], sizeof(names[2][i]), "biz%zu", idx[i]);
            lists[2][i] = names[2][i];
        }
        ib_match_profile_t prof = {lists[0], cnt[0], lists[1], cnt[1], lists[2], cnt[2]};
        char id[32];
        snprintf(id, sizeof(id), "p%zu", first + p);
        uint32_t h;
        if (ib_match_pool_put(pool, id, &prof, &h) || ib_match_pool_set_active(pool, h, true))
            ret = -1;
    }
    free(zi.cdf);
    free(zb.cdf);
    return ret;
}

#endif
