/*
 * Latency histograms for the load generator: log-linear buckets, the
 * HdrHistogram idea cut down to what a report needs. Values below 64 us
 * have a bucket each; above, each power of two is split into 64 buckets, so
 * a reported quantile is within 1.6% of the true value. Adding a sample is
 * a few shifts and one increment: no allocation, no sorting, and two
 * histograms from two processes merge by adding their buckets.
 */
#include <string.h>
#include <time.h>
#include <sys/resource.h>

#include "lg.h"

int64_t lg_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

uint64_t lg_self_cpu_us(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 +
           (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

void lg_hist_init(lg_hist_t *h)
{
    memset(h, 0, sizeof(*h));
    h->min = UINT64_MAX;
}

static int bucket_of(uint64_t v)
{
    if (v < LG_HIST_SUB)
        return (int)v;
    if (v > UINT32_MAX)
        v = UINT32_MAX;
    int e = 63 - __builtin_clzll(v); /* 6 .. 31 */
    return LG_HIST_SUB + (e - 6) * LG_HIST_SUB + (int)((v >> (e - 6)) & (LG_HIST_SUB - 1));
}

/* The midpoint of bucket i's value range. */
static uint64_t bucket_mid(int i)
{
    if (i < LG_HIST_SUB)
        return (uint64_t)i;
    int e = (i - LG_HIST_SUB) / LG_HIST_SUB + 6;
    uint64_t sub = (uint64_t)((i - LG_HIST_SUB) % LG_HIST_SUB) + LG_HIST_SUB;
    uint64_t lo = sub << (e - 6), width = 1ull << (e - 6);
    return lo + width / 2;
}

void lg_hist_add(lg_hist_t *h, uint64_t v)
{
    h->b[bucket_of(v)]++;
    h->count++;
    h->sum += v;
    if (v < h->min)
        h->min = v;
    if (v > h->max)
        h->max = v;
}

void lg_hist_merge(lg_hist_t *into, const lg_hist_t *from)
{
    for (int i = 0; i < LG_HIST_BUCKETS; i++)
        into->b[i] += from->b[i];
    into->count += from->count;
    into->sum += from->sum;
    if (from->min < into->min)
        into->min = from->min;
    if (from->max > into->max)
        into->max = from->max;
}

uint64_t lg_hist_quantile(const lg_hist_t *h, double q)
{
    if (!h->count)
        return 0;
    uint64_t rank = (uint64_t)(q * (double)h->count);
    if (rank >= h->count)
        rank = h->count - 1;
    uint64_t seen = 0;
    for (int i = 0; i < LG_HIST_BUCKETS; i++) {
        seen += h->b[i];
        if (seen > rank) {
            uint64_t v = bucket_mid(i);
            if (v < h->min)
                v = h->min;
            if (v > h->max)
                v = h->max;
            return v;
        }
    }
    return h->max;
}
