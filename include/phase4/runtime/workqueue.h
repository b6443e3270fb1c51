/*
 * workqueue.h: the controller's rate-limited work queue of object keys.
 *
 * client-go's semantics for "namespace/name" keys: adds of a waiting key
 * merge; a key is never handed to two workers (an add while processing
 * re-queues it at done); ready keys come out FIFO within a level, the highest
 * level first, level 0 (the default) at least one get in fair_share so it is
 * never starved; delayed keys wait in a
 * min-heap; failures back off per key (base doubling to max), max'ed with a
 * global token bucket. Pure data: no threads, libuv or clock reads; now_ms is
 * monotonic ms (uv_now()). The loop get()s work and arms one timer for
 * next_wakeup(); a delayed key turns ready at the first call at or past its time.
 *
 * Ownership: the creator frees the queue. Keys passed in are borrowed for the
 * call and copied. get()'s key is owned by the queue, valid until done() for
 * it. A key's state is freed once it is not waiting, delayed or processing and
 * has no failures counted: forget() a key on success. Not thread-safe.
 */
#ifndef PHASE4_WORKQUEUE_H
#define PHASE4_WORKQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define P4_WORKQUEUE_KEY_MAX 1024 /* longest key, without its NUL */
#define P4_WORKQUEUE_LEVELS 8     /* levels 0 .. 7; higher is handed out first */

struct p4_workqueue_config {
    uint64_t base_delay_ms; /* first per-key backoff; doubles with each failure */
    uint64_t max_delay_ms;  /* per-key backoff cap */
    double qps;             /* global bucket rate; <= 0 means unlimited */
    unsigned burst;         /* global bucket size */
    unsigned fair_share;    /* level 0 gets at least one get in this many; 0: strict levels */
};

/* client-go's defaults: 5 ms doubling to 1000 s, max'ed with 10 qps, burst 100; level 0 one in 4.
 */
#define P4_WORKQUEUE_CONFIG_DEFAULT                                                                \
    {                                                                                              \
        .base_delay_ms = 5, .max_delay_ms = 1000000, .qps = 10.0, .burst = 100, .fair_share = 4    \
    }

struct p4_workqueue_stats {
    size_t len;             /* ready keys, as p4_workqueue_len() */
    size_t delayed;         /* keys waiting for a time */
    size_t processing;      /* keys handed out and not done */
    size_t keys;            /* key states held (the above and idle failed keys) */
    size_t bytes;           /* heap memory held, approximately */
    uint64_t adds_total;    /* times a key became ready (client-go's adds_total) */
    uint64_t retries_total; /* calls of p4_workqueue_add_rate_limited() */
};

struct p4_workqueue;

/* cfg is borrowed, NULL for the defaults; now_ms starts the bucket full. Never NULL. */
struct p4_workqueue *p4_workqueue_new(const struct p4_workqueue_config *cfg,
                                      uint64_t now_ms); /* caller frees */
void p4_workqueue_free(struct p4_workqueue *wq);        /* frees all keys; NULL is fine */

/*
 * Make key ready now: nothing if already waiting; re-queued at done if
 * processing; a pending delay is dropped. Returns 0, P4_ERR_INVAL (NULL),
 * P4_ERR_TOOBIG (key too long) or P4_ERR_CANCELED (shut down, nothing done).
 */
int p4_workqueue_add(struct p4_workqueue *wq, const char *key, uint64_t now_ms);
/* Ready at now_ms + delay_ms (0: add); an earlier ready time wins. Returns as add. */
int p4_workqueue_add_after(struct p4_workqueue *wq, const char *key, uint64_t delay_ms,
                           uint64_t now_ms);
/*
 * As add_after, at level (above P4_WORKQUEUE_LEVELS - 1: the top level): the
 * level the key is handed out at when it turns ready. A key already ready keeps
 * its place and level; a delayed or processing one takes the new level.
 */
int p4_workqueue_add_level(struct p4_workqueue *wq, const char *key, unsigned level,
                           uint64_t delay_ms, uint64_t now_ms);
/*
 * Count a failure and add_after the longer of base * 2^(earlier failures)
 * (capped at max) and the global bucket's delay. delay_ms (may be NULL) gets
 * the time until the key is ready, for logs. Returns as add.
 */
int p4_workqueue_add_rate_limited(struct p4_workqueue *wq, const char *key, uint64_t now_ms,
                                  uint64_t *delay_ms);
/* Reset key's failure count (on success); unknown keys and NULL are no-ops. */
void p4_workqueue_forget(struct p4_workqueue *wq, const char *key);
/* Failures counted since the last forget; 0 for unknown keys. */
unsigned p4_workqueue_num_requeues(const struct p4_workqueue *wq, const char *key);

/*
 * Next ready key (the oldest of the highest level; level 0 at least once in
 * fair_share gets while it waits), now processing; NULL if none is ready or shut down.
 * waited_ms (may be NULL) gets how long it was ready. Borrowed: valid until done.
 */
const char *p4_workqueue_get(struct p4_workqueue *wq, uint64_t now_ms, uint64_t *waited_ms);
/*
 * Finish key (get's pointer or an equal string); ready again if added
 * meanwhile. Returns 0, P4_ERR_INVAL or P4_ERR_NOTFOUND (not processing).
 */
int p4_workqueue_done(struct p4_workqueue *wq, const char *key, uint64_t now_ms);

/* ms until the earliest delayed key is ready (0 if due); UINT64_MAX if none. */
uint64_t p4_workqueue_next_wakeup(const struct p4_workqueue *wq, uint64_t now_ms);
/* Ready keys, not counting delayed or processing ones. */
size_t p4_workqueue_len(const struct p4_workqueue *wq);

/* get returns NULL and adds P4_ERR_CANCELED from now on; waiting keys are dropped. */
void p4_workqueue_shutdown(struct p4_workqueue *wq);
bool p4_workqueue_shutting_down(const struct p4_workqueue *wq);
bool p4_workqueue_drained(const struct p4_workqueue *wq); /* no key processing */

void p4_workqueue_stats(const struct p4_workqueue *wq, struct p4_workqueue_stats *out);

#endif
