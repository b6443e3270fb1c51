/*
 * ratelimit.h: a token bucket that says how long to wait, never waits itself.
 *
 * Holds up to `burst` tokens, refilled at `qps` a second. reserve() takes a
 * token and returns the ms to wait before using it, like Go's
 * rate.Limiter.Reserve().Delay(): the token is spent either way. now_ms is
 * monotonic ms (uv_now()); nothing here reads a clock, sleeps or allocates.
 * For --kube-api-qps/--kube-api-burst and the work queue's global limit.
 * Embedded by its owner (init/close). Not thread-safe.
 */
#ifndef PHASE4_RATELIMIT_H
#define PHASE4_RATELIMIT_H

#include <stdint.h>

struct p4_ratelimit {     /* read-only for callers; integer ns, no drift */
    uint64_t interval_ns; /* time to refill one token; 0 means unlimited */
    uint64_t burst_ns;    /* burst * interval_ns */
    uint64_t full_at_ns;  /* when the bucket is full if nothing is taken */
};

/* Full bucket at now_ms. qps <= 0, NaN or infinite: unlimited. burst 0 is taken as 1. */
void p4_ratelimit_init(struct p4_ratelimit *rl, double qps, unsigned burst, uint64_t now_ms);
/* Take a token: ms to wait before using it (0 = now), rounded up; waiters queue. */
uint64_t p4_ratelimit_reserve(struct p4_ratelimit *rl, uint64_t now_ms);
void p4_ratelimit_close(struct p4_ratelimit *rl); /* releases nothing today; NULL is fine */

#endif
