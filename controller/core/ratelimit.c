/* ratelimit.c: token bucket in integer nanoseconds (see ratelimit.h). */
#include "phase4/core/ratelimit.h"

#include <float.h>
#include <stddef.h>

#define NS_PER_MS 1000000ULL
#define NS_PER_S 1000000000.0
/* Slower than one token every ~11.6 days is treated as that slow. */
#define INTERVAL_MAX_NS 1000000000000000ULL

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    uint64_t r;

    return __builtin_add_overflow(a, b, &r) ? UINT64_MAX : r;
}

static uint64_t sat_mul(uint64_t a, uint64_t b)
{
    uint64_t r;

    return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

void p4_ratelimit_init(struct p4_ratelimit *rl, double qps, unsigned burst, uint64_t now_ms)
{
    double interval;

    rl->interval_ns = 0;
    rl->burst_ns = 0;
    rl->full_at_ns = sat_mul(now_ms, NS_PER_MS);
    /* No libm: NaN fails the first test, infinity the second. */
    if (!(qps > 0) || qps > DBL_MAX)
        return;
    interval = NS_PER_S / qps + 0.5;
    if (interval < 1)
        interval = 1;
    rl->interval_ns = interval > (double)INTERVAL_MAX_NS ? INTERVAL_MAX_NS : (uint64_t)interval;
    rl->burst_ns = sat_mul(burst ? burst : 1, rl->interval_ns);
}

/*
 * The bucket is kept as the time it will be full again: taking a token pushes
 * that time one interval later, and the bucket is short of tokens exactly when
 * it lies more than burst intervals ahead of now.
 */
uint64_t p4_ratelimit_reserve(struct p4_ratelimit *rl, uint64_t now_ms)
{
    uint64_t now_ns = sat_mul(now_ms, NS_PER_MS);
    uint64_t ahead;

    if (rl->interval_ns == 0)
        return 0;
    if (rl->full_at_ns < now_ns)
        rl->full_at_ns = now_ns;
    rl->full_at_ns = sat_add(rl->full_at_ns, rl->interval_ns);
    ahead = rl->full_at_ns - now_ns;
    if (ahead <= rl->burst_ns)
        return 0;
    ahead -= rl->burst_ns;
    return ahead / NS_PER_MS + (ahead % NS_PER_MS != 0);
}

void p4_ratelimit_close(struct p4_ratelimit *rl)
{
    if (rl == NULL)
        return;
    rl->interval_ns = 0;
    rl->burst_ns = 0;
    rl->full_at_ns = 0;
}
