/* controller.c: work queue + workers on the loop (see controller.h). */
#include "phase4/runtime/controller.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/core/alloc.h"
#include "phase4/core/log.h"
#include "phase4/core/strmap.h"

const double p4_reconcile_bucket_bounds[P4_RECONCILE_BUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1,
                                                                 0.25,  0.5,  1,     2.5,  10};

struct p4_controller {
    uv_loop_t *loop;
    struct p4_workqueue *queue;
    uv_timer_t wake; /* next delayed key, or a zero-delay dispatch */
    int workers;
    int running;
    int shutting_down;
    p4_reconcile_fn fn;
    unsigned (*level)(const char *key, void *data);
    void *data;
    struct p4_strmap started; /* key → start time (heap uint64_t) */
    void (*drained_cb)(void *);
    void *drained_arg;
    struct p4_controller_stats stats;
};

static void dispatch(struct p4_controller *c);

static void on_wake(uv_timer_t *t)
{
    dispatch(t->data);
}

/* Run dispatch on a later loop turn (never inside the caller's stack). */
static void kick(struct p4_controller *c, uint64_t delay_ms)
{
    if (uv_is_active((uv_handle_t *)&c->wake) && uv_timer_get_due_in(&c->wake) <= delay_ms)
        return;
    (void)uv_timer_start(&c->wake, on_wake, delay_ms, 0);
}

static void dispatch(struct p4_controller *c)
{
    uint64_t now = uv_now(c->loop), next;

    if (c->shutting_down) {
        if (c->stats.active == 0 && c->drained_cb) {
            void (*cb)(void *) = c->drained_cb;
            c->drained_cb = NULL;
            cb(c->drained_arg);
        }
        return;
    }
    if (!c->running)
        return;
    if (c->stats.active >= c->workers)
        return; /* p4_controller_done kicks when a worker is free: waking now would spin */
    while (c->stats.active < c->workers) {
        uint64_t waited = 0, *start;
        const char *key = p4_workqueue_get(c->queue, now, &waited);
        if (key == NULL)
            break;
        c->stats.active++;
        c->stats.queue_wait_count++;
        c->stats.queue_wait_sum_seconds += (double)waited / 1000.0;
        start = p4_malloc(sizeof(*start));
        *start = uv_hrtime();
        free(p4_strmap_put(&c->started, key, start));
        c->fn(c, key, c->data);
    }
    if (c->stats.active >= c->workers)
        return; /* as above: a due key waits for a free worker, not for the timer */
    next = p4_workqueue_next_wakeup(c->queue, now);
    /* Never 0 from here: a zero timer started inside its own callback runs again in the same
       pass of libuv's timers, whose clock does not move, and the loop would never poll. */
    if (next != UINT64_MAX)
        kick(c, next > 0 ? next : 1);
}

struct p4_controller *p4_controller_new(uv_loop_t *loop, const struct p4_controller_opts *opts,
                                        p4_reconcile_fn fn, void *data)
{
    struct p4_controller *c = p4_calloc(1, sizeof(*c));
    struct p4_workqueue_config def = P4_WORKQUEUE_CONFIG_DEFAULT;

    c->loop = loop;
    c->queue =
        p4_workqueue_new(opts && opts->queue.max_delay_ms ? &opts->queue : &def, uv_now(loop));
    c->workers = opts && opts->workers > 0 ? opts->workers : 1;
    c->fn = fn;
    c->level = opts ? opts->level : NULL;
    c->data = data;
    p4_strmap_init(&c->started);
    (void)uv_timer_init(loop, &c->wake);
    c->wake.data = c;
    return c;
}

/* Add key at its level, ready after delay_ms (0: now). */
static void add(struct p4_controller *c, const char *key, uint64_t delay_ms, uint64_t now)
{
    unsigned level = c->level ? c->level(key, c->data) : 0;

    (void)p4_workqueue_add_level(c->queue, key, level, delay_ms, now);
}

void p4_controller_enqueue(struct p4_controller *c, const char *key)
{
    add(c, key, 0, uv_now(c->loop));
    kick(c, 0);
}

void p4_controller_enqueue_after(struct p4_controller *c, const char *key, uint64_t delay_ms)
{
    add(c, key, delay_ms, uv_now(c->loop));
    kick(c, delay_ms);
}

static void observe(struct p4_controller *c, const char *key)
{
    uint64_t *start = p4_strmap_del(&c->started, key);
    double secs;

    if (start == NULL)
        return;
    secs = (double)(uv_hrtime() - *start) / 1e9;
    free(start);
    c->stats.duration_count++;
    c->stats.duration_sum_seconds += secs;
    for (int i = 0; i < P4_RECONCILE_BUCKETS; i++) {
        if (secs <= p4_reconcile_bucket_bounds[i])
            c->stats.duration_buckets[i]++;
    }
}

void p4_controller_done(struct p4_controller *c, const char *key, int rc, uint64_t requeue_after_ms)
{
    uint64_t now = uv_now(c->loop);
    char *k;

    if (p4_strmap_get(&c->started, key) == NULL) {
        /* Not in flight: a double done is a caller's bug; counting it would break the limit. */
        p4_log(P4_LOG_ERROR, "done for a key that is not being reconciled", "key", key, P4_LOG_END);
        return;
    }
    k = p4_strdup(key); /* key may be the queue's own copy, freed by done */
    observe(c, k);
    c->stats.active--;
    if (rc < 0) {
        c->stats.reconciles_error++;
        (void)p4_workqueue_done(c->queue, k, now);
        (void)p4_workqueue_add_rate_limited(c->queue, k, now, NULL);
    } else {
        p4_workqueue_forget(c->queue, k);
        (void)p4_workqueue_done(c->queue, k, now);
        if (requeue_after_ms) {
            c->stats.reconciles_requeue++;
            add(c, k, requeue_after_ms, now);
        } else {
            c->stats.reconciles_success++;
        }
    }
    free(k);
    kick(c, 0);
}

void p4_controller_run(struct p4_controller *c)
{
    c->running = 1;
    kick(c, 0);
}

void p4_controller_pause(struct p4_controller *c)
{
    c->running = 0;
}

void p4_controller_shutdown(struct p4_controller *c, void (*drained_cb)(void *), void *arg)
{
    c->shutting_down = 1;
    c->drained_cb = drained_cb;
    c->drained_arg = arg;
    p4_workqueue_shutdown(c->queue);
    kick(c, 0);
}

static void on_wake_closed(uv_handle_t *h)
{
    struct p4_controller *c = h->data;
    size_t pos = 0;
    const struct p4_strmap_entry *e;

    while ((e = p4_strmap_next(&c->started, &pos)) != NULL)
        free(e->value);
    p4_strmap_close(&c->started);
    p4_workqueue_free(c->queue);
    free(c);
}

void p4_controller_free(struct p4_controller *c)
{
    if (c == NULL)
        return;
    uv_close((uv_handle_t *)&c->wake, on_wake_closed);
}

void p4_controller_stats(const struct p4_controller *c, struct p4_controller_stats *out,
                         struct p4_workqueue_stats *queue)
{
    *out = c->stats;
    if (queue)
        p4_workqueue_stats(c->queue, queue);
}

void p4_controller_metrics(const struct p4_controller *c, struct p4_buf *out)
{
    struct p4_controller_stats cs;
    struct p4_workqueue_stats qs;

    p4_controller_stats(c, &cs, &qs);
    p4_buf_printf(out,
                  "# HELP phase4_reconcile_total Reconciles by result.\n"
                  "# TYPE phase4_reconcile_total counter\n"
                  "phase4_reconcile_total{result=\"success\"} %" PRIu64 "\n"
                  "phase4_reconcile_total{result=\"error\"} %" PRIu64 "\n"
                  "phase4_reconcile_total{result=\"requeue\"} %" PRIu64 "\n",
                  cs.reconciles_success, cs.reconciles_error, cs.reconciles_requeue);
    p4_buf_printf(
        out, "# HELP phase4_reconcile_duration_seconds Time from start to done of a reconcile.\n"
             "# TYPE phase4_reconcile_duration_seconds histogram\n");
    for (int i = 0; i < P4_RECONCILE_BUCKETS; i++)
        p4_buf_printf(out, "phase4_reconcile_duration_seconds_bucket{le=\"%g\"} %" PRIu64 "\n",
                      p4_reconcile_bucket_bounds[i], cs.duration_buckets[i]);
    p4_buf_printf(out,
                  "phase4_reconcile_duration_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n"
                  "phase4_reconcile_duration_seconds_sum %g\n"
                  "phase4_reconcile_duration_seconds_count %" PRIu64 "\n",
                  cs.duration_count, cs.duration_sum_seconds, cs.duration_count);
    p4_buf_printf(out,
                  "# HELP phase4_workqueue_depth Keys ready and waiting for a worker.\n"
                  "# TYPE phase4_workqueue_depth gauge\n"
                  "phase4_workqueue_depth %zu\n"
                  "# HELP phase4_workqueue_delayed Keys waiting for a backoff or requeue time.\n"
                  "# TYPE phase4_workqueue_delayed gauge\n"
                  "phase4_workqueue_delayed %zu\n"
                  "# HELP phase4_workqueue_adds_total Keys made ready.\n"
                  "# TYPE phase4_workqueue_adds_total counter\n"
                  "phase4_workqueue_adds_total %" PRIu64 "\n"
                  "# HELP phase4_workqueue_retries_total Rate-limited requeues.\n"
                  "# TYPE phase4_workqueue_retries_total counter\n"
                  "phase4_workqueue_retries_total %" PRIu64 "\n"
                  "# HELP phase4_workqueue_queue_duration_seconds Time keys waited for a worker.\n"
                  "# TYPE phase4_workqueue_queue_duration_seconds summary\n"
                  "phase4_workqueue_queue_duration_seconds_sum %g\n"
                  "phase4_workqueue_queue_duration_seconds_count %" PRIu64 "\n",
                  qs.len, qs.delayed, qs.adds_total, qs.retries_total, cs.queue_wait_sum_seconds,
                  cs.queue_wait_count);
}
