/*
 * Per-connection message rate limit: a token bucket (rate per second,
 * burst) plus an abuse counter: `abuse_max` refusals within `abuse_window_ms`
 * mean the client ignores the limit and is closed with 1008.
 * Time is passed in (milliseconds, monotonic) so the rules are testable.
 */
#ifndef IB_RATELIMIT_H
#define IB_RATELIMIT_H

#include <stdint.h>

typedef enum ib_rate_verdict {
    IB_RATE_OK = 0,    /* message allowed */
    IB_RATE_REFUSE,    /* over the rate: reply rate_limited */
    IB_RATE_ABUSE,     /* too many refusals: close 1008 */
} ib_rate_verdict_t;

typedef struct ib_ratelimit {
    double tokens;
    uint64_t last_ms;
    uint64_t window_start_ms;
    uint32_t refusals; /* in the current window */
    /* configuration */
    uint32_t rate;  /* tokens per second */
    uint32_t burst; /* bucket size */
    uint32_t abuse_max;
    uint32_t abuse_window_ms;
} ib_ratelimit_t;

void ib_ratelimit_init(ib_ratelimit_t *rl, uint32_t rate, uint32_t burst, uint32_t abuse_max,
                       uint32_t abuse_window_ms, uint64_t now_ms);
ib_rate_verdict_t ib_ratelimit_take(ib_ratelimit_t *rl, uint64_t now_ms);

#endif
