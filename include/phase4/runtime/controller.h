/*
 * controller.h: the work loop of the controller runtime.
 *
 * Keys ("namespace/name") go into a rate-limited work queue (workqueue.h);
 * up to `workers` reconciles run at once on the one loop, never two for the
 * same key. A reconcile is asynchronous: the reconcile function starts work
 * and later calls p4_controller_done with its result: 0 forgets the key's
 * failures (and, with requeue_after_ms, looks again later); an error requeues
 * it with per-key exponential backoff.
 */
#ifndef PHASE4_CONTROLLER_H
#define PHASE4_CONTROLLER_H

#include <stdint.h>
#include <uv.h>

#include "phase4/core/buf.h"
#include "phase4/runtime/workqueue.h"

struct p4_controller;

/* key is borrowed until p4_controller_done for it. */
typedef void (*p4_reconcile_fn)(struct p4_controller *c, const char *key, void *data);

struct p4_controller_opts {
    int workers; /* concurrent reconciles; 0: 1 */
    struct p4_workqueue_config queue;
    /* A key's level in the queue when it is enqueued (higher goes first, workqueue.h), given
       the reconcile's data; NULL: every key at level 0. */
    unsigned (*level)(const char *key, void *data);
};

/* Histogram buckets (seconds) of reconcile duration, as Prometheus needs them. */
#define P4_RECONCILE_BUCKETS 10
extern const double p4_reconcile_bucket_bounds[P4_RECONCILE_BUCKETS];

struct p4_controller_stats {
    uint64_t reconciles_success, reconciles_error, reconciles_requeue;
    uint64_t duration_buckets[P4_RECONCILE_BUCKETS]; /* cumulative counts per upper bound */
    uint64_t duration_count;
    double duration_sum_seconds;
    uint64_t queue_wait_count;
    double queue_wait_sum_seconds;
    int active;
};

struct p4_controller *p4_controller_new(uv_loop_t *loop, const struct p4_controller_opts *opts,
                                        p4_reconcile_fn fn, void *data);
void p4_controller_enqueue(struct p4_controller *c, const char *key);
void p4_controller_enqueue_after(struct p4_controller *c, const char *key, uint64_t delay_ms);
/* rc: 0 success, < 0 error (backoff). requeue_after_ms: 0 none. */
void p4_controller_done(struct p4_controller *c, const char *key, int rc,
                        uint64_t requeue_after_ms);
/* Start handing out work (e.g. once elected leader). Enqueued keys wait until then. */
void p4_controller_run(struct p4_controller *c);
/* Stop handing out new work (e.g. leadership lost); reconciles in flight finish. */
void p4_controller_pause(struct p4_controller *c);
/* Stop handing out work; drained_cb runs (on a later loop turn) once none is in flight. */
void p4_controller_shutdown(struct p4_controller *c, void (*drained_cb)(void *), void *arg);
void p4_controller_free(struct p4_controller *c); /* after drained; frees once handles close */
void p4_controller_stats(const struct p4_controller *c, struct p4_controller_stats *out,
                         struct p4_workqueue_stats *queue);
/*
 * Append the Prometheus series of c to out: phase4_reconcile_total,
 * phase4_reconcile_duration_seconds and the phase4_workqueue_* series.
 */
void p4_controller_metrics(const struct p4_controller *c, struct p4_buf *out);

#endif
