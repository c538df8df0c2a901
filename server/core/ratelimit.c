/*
 * Token bucket with an abuse counter (ib_ratelimit.h). Refill is
 * fractional and proportional to the elapsed milliseconds; a clock that
 * steps back refills nothing. The abuse window opens at the first refusal
 * and closes abuse_window_ms later; abuse_max refusals inside it is abuse.
 */
#include <string.h>

#include "icebreaker/ib_ratelimit.h"

void ib_ratelimit_init(ib_ratelimit_t *rl, uint32_t rate, uint32_t burst, uint32_t abuse_max,
                       uint32_t abuse_window_ms, uint64_t now_ms)
{
    memset(rl, 0, sizeof(*rl));
    rl->rate = rate;
    rl->burst = burst;
    rl->abuse_max = abuse_max;
    rl->abuse_window_ms = abuse_window_ms;
    rl->tokens = burst;
    rl->last_ms = now_ms;
}

ib_rate_verdict_t ib_ratelimit_take(ib_ratelimit_t *rl, uint64_t now_ms)
{
    if (now_ms > rl->last_ms) {
        rl->tokens += (double)(now_ms - rl->last_ms) * rl->rate / 1000.0;
        if (rl->tokens > rl->burst)
            rl->tokens = rl->burst;
        rl->last_ms = now_ms;
    }
    if (rl->tokens >= 1.0) {
        rl->tokens -= 1.0;
        return IB_RATE_OK;
    }
    if (rl->refusals == 0 || now_ms - rl->window_start_ms >= rl->abuse_window_ms) {
        rl->window_start_ms = now_ms;
        rl->refusals = 0;
    }
    if (++rl->refusals >= rl->abuse_max)
        return IB_RATE_ABUSE;
    return IB_RATE_REFUSE;
}
