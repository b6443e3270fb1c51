/*
 * controller_test.c: dedup, worker limit, one reconcile per key at a time, backoff,
 * requeue_after, pause, shutdown and stats, with asynchronous reconciles on a real loop.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h> /* after the four it needs */

#include "phase4/core/error.h"
#include "phase4/runtime/controller.h"

#define MAX_CALLS 64
#define DEADLINE_MS 3000 /* generous: a test that needs it has failed */

struct call {
    char key[64];
    uint64_t start, end; /* uv_now() at the reconcile and at its done */
    int finished;
};

struct fx {
    uv_loop_t loop;
    uv_timer_t deadline;
    int timed_out;
    struct p4_controller *c;

    /* What the reconciles do: the rc and requeue_after of call i, and how long each takes. */
    int rc[MAX_CALLS];
    uint64_t requeue_after[MAX_CALLS];
    uint64_t done_delay_ms;
    int synchronous; /* call done inside the reconcile function */
    void (*on_start)(struct fx *fx, int call);

    /* What happened. */
    struct call calls[MAX_CALLS];
    int ncalls, dones, in_flight, max_in_flight;
    int drained, dones_at_drained;
};

struct pending_done {
    uv_timer_t timer; /* first: freeing the handle frees the struct */
    struct fx *fx;
    int call;
};

static void on_deadline(uv_timer_t *t)
{
    struct fx *fx = t->data;

    fx->timed_out = 1;
    uv_stop(&fx->loop);
}

static void arm_deadline(struct fx *fx)
{
    fx->timed_out = 0;
    assert_int_equal(uv_timer_start(&fx->deadline, on_deadline, DEADLINE_MS, 0), 0);
}

/* Run until nothing is left to do (no reconcile in flight, no key waiting for a time). */
static void run_idle(struct fx *fx)
{
    arm_deadline(fx);
    (void)uv_run(&fx->loop, UV_RUN_DEFAULT);
    (void)uv_timer_stop(&fx->deadline);
    assert_false(fx->timed_out);
}

static void finish_call(struct fx *fx, int i)
{
    fx->calls[i].end = uv_now(&fx->loop);
    fx->calls[i].finished = 1;
    fx->in_flight--;
    fx->dones++;
    p4_controller_done(fx->c, fx->calls[i].key, fx->rc[i], fx->requeue_after[i]);
}

/* Close callback of handles allocated on their own. */
static void free_handle(uv_handle_t *h)
{
    free(h);
}

static void on_done_timer(uv_timer_t *t)
{
    struct pending_done *p = t->data;

    finish_call(p->fx, p->call);
    uv_close((uv_handle_t *)&p->timer, free_handle);
}

static void reconcile(struct p4_controller *c, const char *key, void *data)
{
    struct fx *fx = data;
    struct pending_done *p;
    int i = fx->ncalls;

    assert_ptr_equal(c, fx->c);
    assert_true(i < MAX_CALLS);
    /* Never two reconciles of one key at once. */
    for (int j = 0; j < i; j++) {
        if (strcmp(fx->calls[j].key, key) == 0)
            assert_true(fx->calls[j].finished);
    }
    (void)snprintf(fx->calls[i].key, sizeof(fx->calls[i].key), "%s", key);
    fx->calls[i].start = uv_now(&fx->loop);
    fx->ncalls++;
    fx->in_flight++;
    if (fx->in_flight > fx->max_in_flight)
        fx->max_in_flight = fx->in_flight;
    if (fx->on_start)
        fx->on_start(fx, i);
    if (fx->synchronous) {
        finish_call(fx, i);
        return;
    }
    p = calloc(1, sizeof(*p));
    assert_non_null(p);
    p->fx = fx;
    p->call = i;
    assert_int_equal(uv_timer_init(&fx->loop, &p->timer), 0);
    p->timer.data = p;
    assert_int_equal(uv_timer_start(&p->timer, on_done_timer, fx->done_delay_ms, 0), 0);
}

static void on_drained(void *arg)
{
    struct fx *fx = arg;

    fx->drained++;
    fx->dones_at_drained = fx->dones;
}

/* Small backoff and no global bucket, so retries are quick and their delays exact. */
static struct p4_controller *start_controller(struct fx *fx, int workers)
{
    struct p4_controller_opts opts = {
        .workers = workers,
        .queue = {.base_delay_ms = 5, .max_delay_ms = 1000, .qps = 0, .burst = 0},
    };

    fx->c = p4_controller_new(&fx->loop, &opts, reconcile, fx);
    assert_non_null(fx->c);
    return fx->c;
}

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));

    if (fx == NULL || uv_loop_init(&fx->loop) != 0)
        return -1;
    (void)uv_timer_init(&fx->loop, &fx->deadline);
    fx->deadline.data = fx;
    uv_unref((uv_handle_t *)&fx->deadline);
    fx->done_delay_ms = 1;
    *state = fx;
    return 0;
}

/* Shut down, wait for the drain, free: the loop must then end with no handle left. */
static int teardown(void **state)
{
    struct fx *fx = *state;
    int rc = 0;

    if (fx->c) {
        p4_controller_shutdown(fx->c, NULL, NULL);
        arm_deadline(fx);
        (void)uv_run(&fx->loop, UV_RUN_DEFAULT);
        p4_controller_free(fx->c);
        fx->c = NULL;
    }
    uv_close((uv_handle_t *)&fx->deadline, NULL);
    (void)uv_run(&fx->loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&fx->loop) != 0)
        rc = -1;
    free(fx);
    return rc;
}

static void check_stats(struct fx *fx, uint64_t success, uint64_t error, uint64_t requeue)
{
    struct p4_controller_stats st;
    struct p4_workqueue_stats q;

    p4_controller_stats(fx->c, &st, &q);
    assert_int_equal(st.reconciles_success, success);
    assert_int_equal(st.reconciles_error, error);
    assert_int_equal(st.reconciles_requeue, requeue);
    assert_int_equal(st.reconciles_success + st.reconciles_error + st.reconciles_requeue,
                     fx->dones);
    assert_int_equal(st.duration_count, fx->dones);
    assert_true(st.duration_sum_seconds >= 0);
    for (int i = 1; i < P4_RECONCILE_BUCKETS; i++)
        assert_true(st.duration_buckets[i - 1] <= st.duration_buckets[i]);
    assert_true(st.duration_buckets[P4_RECONCILE_BUCKETS - 1] <= st.duration_count);
    assert_int_equal(st.queue_wait_count, fx->ncalls);
    assert_true(st.queue_wait_sum_seconds >= 0);
    assert_int_equal(st.active, fx->in_flight);
    assert_int_equal(q.processing, (size_t)fx->in_flight);
    /* The queue argument is optional. */
    p4_controller_stats(fx->c, &st, NULL);
}

static void nothing_runs_before_run_and_adds_merge(void **state)
{
    struct fx *fx = *state;
    struct p4_controller *c = start_controller(fx, 1);
    struct p4_workqueue_stats q;
    struct p4_controller_stats st;

    for (int i = 0; i < 5; i++)
        p4_controller_enqueue(c, "shop/web");
    run_idle(fx);
    assert_int_equal(fx->ncalls, 0);
    p4_controller_stats(c, &st, &q);
    assert_int_equal(q.len, 1);

    p4_controller_run(c);
    /* Not inside run: the first reconcile comes on a later loop turn. */
    assert_int_equal(fx->ncalls, 0);
    run_idle(fx);
    assert_int_equal(fx->ncalls, 1);
    assert_string_equal(fx->calls[0].key, "shop/web");
    check_stats(fx, 1, 0, 0);
    p4_controller_stats(c, &st, &q);
    assert_int_equal(q.keys, 0);
}

static void enqueue_is_never_reentrant(void **state)
{
    struct fx *fx = *state;
    struct p4_controller *c = start_controller(fx, 1);

    p4_controller_run(c);
    run_idle(fx);
    p4_controller_enqueue(c, "shop/web");
    p4_controller_enqueue_after(c, "shop/api", 0);
    assert_int_equal(fx->ncalls, 0);
    run_idle(fx);
    assert_int_equal(fx->ncalls, 2);
}

static void at_most_workers_in_flight(void **state)
{
    static const char *const keys[] = {"ns/a", "ns/b", "ns/c", "ns/d", "ns/e"};
    struct fx *fx = *state;
    struct p4_controller *c = start_controller(fx, 2);

    fx->done_delay_ms = 10;
    for (int i = 0; i < 5; i++)
        p4_controller_enqueue(c, keys[i]);
    p4_controller_run(c);
    run_idle(fx);
    assert_int_equal(fx->ncalls, 5);
    assert_int_equal(fx->max_in_flight, 2);
    /* Ready keys come out in the order they were added, each once. */
    for (int i = 0; i < 5; i++)
        assert_string_equal(fx->calls[i].key, keys[i]);
    check_stats(fx, 5, 0, 0);
}

static void zero_workers_means_one(void **state)
{
    struct fx *fx = *state;
    struct p4_controller *c = start_controller(fx, 0);

    fx->done_delay_ms = 5;
    p4_controller_enqueue(c, "ns/a");
    p4_controller_enqueue(c, "ns/b");
    p4_controller_enqueue(c, "ns/c");
    p4_controller_run(c);
    run_idle(fx);
    assert_int_equal(fx->ncalls, 3);
    assert_int_equal(fx->max_in_flight, 1);
}

static void enqueue_twice_while_in_flight(struct fx *fx, int call)
{
    if (call == 0) {
        p4_controller_enqueue(fx->c, fx->calls[call].key);
        p4_controller_enqueue(fx->c, fx->calls[call].key);
    }
}

static void key_added_while_in_flight_runs_again_after_done(void **state)
{
    struct fx *fx = *state;
    struct p4_controller *c = start_controller(fx, 4);

    fx->done_delay_ms = 10;
    fx->on_start = enqueue_twice_while_in_flight;
    p4_controller_enqueue(c, "shop/web");
    p4_controller_run(c);
    run_idle(fx);
    /* Four workers free, yet the second reconcile waits for the first (reconcile() checks). */
    assert_int_equal(fx->ncalls, 2);
    assert_int_equal(fx->max_in_flight, 1);
    assert_true(fx->calls[1].start >= fx->calls[0].end);
    check_stats(fx, 2, 0, 0);
}

static void errors_back_off_and_success_forgets(void **state)
{
    struct fx *fx = *state;
    struct p4_controller *c = start_controller(fx, 1);
    struct p4_controller_stats st;
    struct p4_workqueue_stats q;

    fx->rc[0] = P4_ERR_UNAVAILABLE;
    fx->rc[1] = P4_ERR_CONFLICT;
    fx->rc[2] = 0;
    p4_controller_enqueue(c, "shop/web");
    p4_controller_run(c);
    run_idle(fx);
    assert_int_equal(fx->ncalls, 3);
    /* base 5 ms, doubling per failure. */
    assert_true(fx->calls[1].start >= fx->calls[0].end + 5);
    assert_true(fx->calls[2].start >= fx->calls[1].end + 10);
    check_stats(fx, 1, 2, 0);
    p4_controller_stats(c, &st, &q);
    assert_int_equal(q.retries_total, 2);
    /* Success forgot the failures: the queue holds nothing for the key any more. */
    assert_int_equal(q.keys, 0);

    /* So a new failure starts again from the base delay. */
    fx->rc[3] = P4_ERR_TIMEOUT;
    fx->rc[4] = 0;
    p4_controller_enqueue(c, "shop/web");
    run_idle(fx);
    assert_int_equal(fx->ncalls, 5);
    assert_true(fx->calls[4].start >= fx->calls[3].end + 5);
    check_stats(fx, 2, 3, 0);
    p4_controller_stats(c, &st, &q);
    assert_int_equal(q.keys, 0);
}

static void requeue_after_runs_again_later(void **state)
{
    struct fx *fx = *state;
    struct p4_controller *c = start_controller(fx, 1);

    fx->requeue_after[0] = 30;
    p4_controller_enqueue(c, "shop/web");
    p4_controller_run(c);
    run_idle(fx);
    assert_int_equal(fx->ncalls, 2);
    assert_true(fx->calls[1].start >= fx->calls[0].end + 30);
    check_stats(fx, 1, 0, 1);
}

/*
 * A delayed key falls due while every worker is busy: it waits for a free worker. (It used to
 * start the wake timer at 0 from inside its own callback, which libuv runs again in the same
 * pass with a clock that does not move: the loop spun there forever and never polled, so an
 * operator with all workers waiting on an API server that restarted froze. alarm() ends the
 * test if that comes back, since no loop timer could.)
 */
static void delayed_key_due_while_workers_busy_waits(void **state)
{
    struct fx *fx = *state;
    struct p4_controller *c = start_controller(fx, 1);

    fx->done_delay_ms = 50;
    p4_controller_enqueue(c, "shop/a");
    p4_controller_enqueue_after(c, "shop/b", 10);
    p4_controller_run(c);
    (void)alarm(10);
    run_idle(fx);
    (void)alarm(0);
    assert_int_equal(fx->ncalls, 2);
    assert_string_equal(fx->calls[1].key, "shop/b");
    assert_true(fx->calls[1].start >= fx->calls[0].end);
    assert_int_equal(fx->max_in_flight, 1);
    check_stats(fx, 2, 0, 0);
}

static void on_enqueue_timer(uv_timer_t *t)
{
    struct fx *fx = t->data;

    p4_controller_enqueue(fx->c, "shop/web");
    uv_close((uv_handle_t *)t, free_handle);
}

static void enqueue_during_requeue_delay_runs_now(void **state)
{
    struct fx *fx = *state;
    struct p4_controller *c = start_controller(fx, 1);
    uv_timer_t *t = calloc(1, sizeof(*t));

    /* A requeue far in the future; an event 20 ms later wins, and nothing stays delayed. */
    fx->requeue_after[0] = 60000;
    p4_controller_enqueue(c, "shop/web");
    p4_controller_run(c);
    assert_non_null(t);
    assert_int_equal(uv_timer_init(&fx->loop, t), 0);
    t->data = fx;
    assert_int_equal(uv_timer_start(t, on_enqueue_timer, 20, 0), 0);
    run_idle(fx);
    assert_int_equal(fx->ncalls, 2);
    check_stats(fx, 1, 0, 1);
}

static void pause_on_first(struct fx *fx, int call)
{
    if (call == 0)
        p4_controller_pause(fx->c);
}

static void pause_stops_new_work_but_lets_in_flight_finish(void **state)
{
    struct fx *fx = *state;
    struct p4_controller *c = start_controller(fx, 1);
    struct p4_workqueue_stats q;
    struct p4_controller_stats st;

    fx->done_delay_ms = 10;
    fx->on_start = pause_on_first;
    p4_controller_enqueue(c, "ns/a");
    p4_controller_enqueue(c, "ns/b");
    p4_controller_run(c);
    run_idle(fx);
    /* a finished after the pause; b waits. */
    assert_int_equal(fx->ncalls, 1);
    assert_int_equal(fx->dones, 1);
    check_stats(fx, 1, 0, 0);
    p4_controller_enqueue(c, "ns/c");
    run_idle(fx);
    assert_int_equal(fx->ncalls, 1);
    p4_controller_stats(c, &st, &q);
    assert_int_equal(q.len, 2);

    fx->on_start = NULL;
    p4_controller_run(c);
    run_idle(fx);
    assert_int_equal(fx->ncalls, 3);
    assert_string_equal(fx->calls[1].key, "ns/b");
    assert_string_equal(fx->calls[2].key, "ns/c");
    check_stats(fx, 3, 0, 0);
}

static void shutdown_when_both_started(struct fx *fx, int call)
{
    if (call != 1)
        return;
    p4_controller_shutdown(fx->c, on_drained, fx);
    /* Never inside the caller's stack, and not while reconciles are in flight. */
    assert_int_equal(fx->drained, 0);
    /* Work added from now on is dropped. */
    p4_controller_enqueue(fx->c, "ns/late");
}

static void shutdown_drains_in_flight_then_frees(void **state)
{
    struct fx *fx = *state;
    struct p4_controller *c = start_controller(fx, 2);

    fx->done_delay_ms = 20;
    fx->rc[0] = P4_ERR_UNAVAILABLE; /* an error after shutdown is not retried */
    fx->on_start = shutdown_when_both_started;
    p4_controller_enqueue(c, "ns/a");
    p4_controller_enqueue(c, "ns/b");
    p4_controller_enqueue(c, "ns/c");
    p4_controller_run(c);
    run_idle(fx);
    assert_int_equal(fx->drained, 1);
    assert_int_equal(fx->dones_at_drained, 2);
    assert_int_equal(fx->ncalls, 2);
    check_stats(fx, 1, 1, 0);
    /* teardown frees it and checks that the loop closes with no handle left. */
}

static void shutdown_with_nothing_in_flight(void **state)
{
    struct fx *fx = *state;
    struct p4_controller *c = start_controller(fx, 1);

    p4_controller_enqueue(c, "ns/a");
    p4_controller_shutdown(c, on_drained, fx);
    assert_int_equal(fx->drained, 0);
    run_idle(fx);
    assert_int_equal(fx->drained, 1);
    /* Running after shutdown hands out nothing. */
    p4_controller_run(c);
    run_idle(fx);
    assert_int_equal(fx->ncalls, 0);
    assert_int_equal(fx->drained, 1);
    p4_controller_free(c);
    fx->c = NULL;
    p4_controller_free(NULL);
}

static void synchronous_done_is_allowed(void **state)
{
    struct fx *fx = *state;
    struct p4_controller *c = start_controller(fx, 1);

    fx->synchronous = 1;
    fx->rc[0] = P4_ERR_CONFLICT;
    p4_controller_enqueue(c, "ns/a");
    p4_controller_enqueue(c, "ns/b");
    p4_controller_enqueue(c, "ns/c");
    p4_controller_run(c);
    run_idle(fx);
    assert_int_equal(fx->ncalls, 4);
    assert_string_equal(fx->calls[3].key, "ns/a");
    assert_true(fx->calls[3].start >= fx->calls[0].end + 5);
    check_stats(fx, 3, 1, 0);
}

/*
 * p4_controller_done for a key that is not in flight (a double done) is refused and
 * logged, so it cannot corrupt the in-flight count and let more than `workers` run.
 */
static void done_for_key_not_in_flight_is_ignored(void **state)
{
    struct fx *fx = *state;
    struct p4_controller *c = start_controller(fx, 1);
    struct p4_controller_stats st;

    p4_controller_run(c);
    p4_controller_done(c, "ns/ghost", 0, 0);
    p4_controller_stats(c, &st, NULL);
    assert_int_equal(st.active, 0);
    assert_int_equal(st.reconciles_success, 0);
    fx->done_delay_ms = 10;
    p4_controller_enqueue(c, "ns/a");
    p4_controller_enqueue(c, "ns/b");
    run_idle(fx);
    assert_int_equal(fx->max_in_flight, 1);
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(nothing_runs_before_run_and_adds_merge),
        TEST(enqueue_is_never_reentrant),
        TEST(at_most_workers_in_flight),
        TEST(zero_workers_means_one),
        TEST(key_added_while_in_flight_runs_again_after_done),
        TEST(errors_back_off_and_success_forgets),
        TEST(requeue_after_runs_again_later),
        TEST(delayed_key_due_while_workers_busy_waits),
        TEST(enqueue_during_requeue_delay_runs_now),
        TEST(pause_stops_new_work_but_lets_in_flight_finish),
        TEST(shutdown_drains_in_flight_then_frees),
        TEST(shutdown_with_nothing_in_flight),
        TEST(synchronous_done_is_allowed),
        TEST(done_for_key_not_in_flight_is_ignored),
    };
    return cmocka_run_group_tests_name("controller", tests, NULL, NULL);
}
