/* workqueue_test.c: dedup, one worker per key, delays, backoff, shutdown and churn. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h> /* after the four it needs */

#include "phase4/core/error.h"
#include "phase4/runtime/workqueue.h"

/* No global bucket, small backoff: per-key behaviour alone. */
static const struct p4_workqueue_config unlimited = {
    .base_delay_ms = 5, .max_delay_ms = 1000, .qps = 0, .burst = 0};

static void get_expect(struct p4_workqueue *wq, uint64_t now, const char *want)
{
    const char *key = p4_workqueue_get(wq, now, NULL);

    if (want == NULL) {
        assert_null(key);
        return;
    }
    assert_non_null(key);
    assert_string_equal(key, want);
}

static void get_done(struct p4_workqueue *wq, uint64_t now, const char *want)
{
    get_expect(wq, now, want);
    assert_int_equal(p4_workqueue_done(wq, want, now), 0);
}

static void adds_of_a_waiting_key_merge(void **state)
{
    struct p4_workqueue *wq = p4_workqueue_new(NULL, 0);
    struct p4_workqueue_stats st;

    (void)state;
    assert_int_equal(p4_workqueue_add(wq, "ns/a", 0), 0);
    assert_int_equal(p4_workqueue_add(wq, "ns/a", 0), 0);
    assert_int_equal(p4_workqueue_add(wq, "ns/b", 0), 0);
    assert_int_equal(p4_workqueue_add(wq, "ns/a", 0), 0);
    assert_int_equal(p4_workqueue_len(wq), 2);
    get_done(wq, 0, "ns/a");
    get_done(wq, 0, "ns/b");
    get_expect(wq, 0, NULL);
    p4_workqueue_stats(wq, &st);
    assert_int_equal(st.adds_total, 2);
    assert_int_equal(st.keys, 0);
    p4_workqueue_free(wq);
}

static void ready_keys_come_out_fifo(void **state)
{
    struct p4_workqueue *wq = p4_workqueue_new(NULL, 0);
    const char *order[] = {"c/c", "a/a", "b/b", "z/z", "m/m"};

    (void)state;
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(p4_workqueue_add(wq, order[i], 0), 0);
    for (size_t i = 0; i < 5; i++)
        get_done(wq, 0, order[i]);
    p4_workqueue_free(wq);
}

static void add_while_processing_requeues_once_after_done(void **state)
{
    struct p4_workqueue *wq = p4_workqueue_new(NULL, 0);
    const char *key;
    uint64_t waited = 99;

    (void)state;
    p4_workqueue_add(wq, "ns/a", 0);
    key = p4_workqueue_get(wq, 0, NULL);
    assert_string_equal(key, "ns/a");
    /* Three adds while a worker holds it: no second worker, one re-queue. */
    p4_workqueue_add(wq, "ns/a", 1);
    p4_workqueue_add(wq, "ns/a", 2);
    p4_workqueue_add_after(wq, "ns/a", 5, 3);
    assert_int_equal(p4_workqueue_len(wq), 0);
    get_expect(wq, 10, NULL);
    assert_false(p4_workqueue_drained(wq));
    assert_int_equal(p4_workqueue_done(wq, key, 20), 0);
    assert_int_equal(p4_workqueue_len(wq), 1);
    assert_true(p4_workqueue_drained(wq));
    assert_string_equal(p4_workqueue_get(wq, 26, &waited), "ns/a");
    assert_int_equal(waited, 6); /* ready from done at 20, not from the add */
    assert_int_equal(p4_workqueue_done(wq, "ns/a", 26), 0);
    get_expect(wq, 1000, NULL);
    p4_workqueue_free(wq);
}

static void got_key_stays_valid_while_the_table_grows(void **state)
{
    struct p4_workqueue *wq = p4_workqueue_new(NULL, 0);
    const char *key;
    char buf[32];

    (void)state;
    p4_workqueue_add(wq, "ns/held", 0);
    key = p4_workqueue_get(wq, 0, NULL);
    for (int i = 0; i < 1000; i++) {
        (void)snprintf(buf, sizeof(buf), "ns/k%d", i);
        p4_workqueue_add(wq, buf, 0);
    }
    assert_string_equal(key, "ns/held");
    assert_int_equal(p4_workqueue_done(wq, key, 0), 0);
    p4_workqueue_free(wq);
}

static void add_after_orders_by_time_then_arrival(void **state)
{
    struct p4_workqueue *wq = p4_workqueue_new(NULL, 0);
    uint64_t waited = 0;

    (void)state;
    p4_workqueue_add_after(wq, "ns/a", 30, 0);
    p4_workqueue_add_after(wq, "ns/b", 10, 0);
    p4_workqueue_add_after(wq, "ns/c", 20, 0);
    p4_workqueue_add_after(wq, "ns/d", 20, 0);
    assert_int_equal(p4_workqueue_len(wq), 0);
    get_expect(wq, 9, NULL);
    assert_string_equal(p4_workqueue_get(wq, 25, &waited), "ns/b");
    assert_int_equal(waited, 15);
    /* c and d came due at 20 (c first); e is added ready at 25, behind them. */
    p4_workqueue_add(wq, "ns/e", 25);
    get_expect(wq, 25, "ns/c");
    get_expect(wq, 25, "ns/d");
    get_expect(wq, 25, "ns/e");
    get_expect(wq, 29, NULL);
    get_expect(wq, 30, "ns/a");
    p4_workqueue_free(wq);
}

static void add_after_earliest_wins_and_add_is_now(void **state)
{
    struct p4_workqueue *wq = p4_workqueue_new(NULL, 0);
    struct p4_workqueue_stats st;

    (void)state;
    p4_workqueue_add_after(wq, "ns/a", 100, 0);
    p4_workqueue_add_after(wq, "ns/a", 50, 0);
    p4_workqueue_add_after(wq, "ns/a", 200, 10);
    assert_int_equal(p4_workqueue_next_wakeup(wq, 10), 40);
    p4_workqueue_stats(wq, &st);
    assert_int_equal(st.delayed, 1);
    /* A plain add makes it ready now and drops the pending delay. */
    p4_workqueue_add(wq, "ns/a", 20);
    assert_int_equal(p4_workqueue_next_wakeup(wq, 20), UINT64_MAX);
    assert_int_equal(p4_workqueue_len(wq), 1);
    get_done(wq, 20, "ns/a");
    get_expect(wq, 500, NULL);
    /* A delay on a ready key changes nothing; 0 delay is a plain add. */
    p4_workqueue_add(wq, "ns/b", 600);
    p4_workqueue_add_after(wq, "ns/b", 10, 600);
    assert_int_equal(p4_workqueue_next_wakeup(wq, 600), UINT64_MAX);
    p4_workqueue_add_after(wq, "ns/c", 0, 600);
    assert_int_equal(p4_workqueue_len(wq), 2);
    /* A delay past the end of time saturates instead of wrapping. */
    p4_workqueue_add_after(wq, "ns/d", UINT64_MAX, 600);
    assert_int_equal(p4_workqueue_next_wakeup(wq, 600), UINT64_MAX - 600);
    p4_workqueue_stats(wq, &st);
    assert_int_equal(st.keys, 3);
    p4_workqueue_free(wq);
}

static void next_wakeup_tracks_the_earliest_delay(void **state)
{
    struct p4_workqueue *wq = p4_workqueue_new(NULL, 0);

    (void)state;
    assert_int_equal(p4_workqueue_next_wakeup(wq, 0), UINT64_MAX);
    p4_workqueue_add(wq, "ns/ready", 0);
    assert_int_equal(p4_workqueue_next_wakeup(wq, 0), UINT64_MAX);
    p4_workqueue_add_after(wq, "ns/a", 50, 0);
    p4_workqueue_add_after(wq, "ns/b", 80, 0);
    assert_int_equal(p4_workqueue_next_wakeup(wq, 0), 50);
    assert_int_equal(p4_workqueue_next_wakeup(wq, 20), 30);
    assert_int_equal(p4_workqueue_next_wakeup(wq, 60), 0);
    get_done(wq, 60, "ns/ready");
    get_done(wq, 60, "ns/a");
    assert_int_equal(p4_workqueue_next_wakeup(wq, 60), 20);
    get_done(wq, 80, "ns/b");
    assert_int_equal(p4_workqueue_next_wakeup(wq, 80), UINT64_MAX);
    p4_workqueue_free(wq);
}

/* One failure cycle: rate-limited add, wait it out, process. Returns the delay. */
static uint64_t fail_once(struct p4_workqueue *wq, const char *key, uint64_t *now)
{
    uint64_t delay = 0;

    assert_int_equal(p4_workqueue_add_rate_limited(wq, key, *now, &delay), 0);
    assert_int_equal(p4_workqueue_next_wakeup(wq, *now), delay);
    *now += delay;
    get_done(wq, *now, key);
    return delay;
}

static void backoff_doubles_to_max_and_forget_resets(void **state)
{
    struct p4_workqueue *wq = p4_workqueue_new(&unlimited, 0);
    const uint64_t want[] = {5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000, 1000};
    uint64_t now = 0;
    struct p4_workqueue_stats st;

    (void)state;
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        assert_int_equal(fail_once(wq, "ns/a", &now), want[i]);
        assert_int_equal(p4_workqueue_num_requeues(wq, "ns/a"), i + 1);
    }
    /* Far past any shift width: still the cap. */
    for (int i = 0; i < 100; i++)
        (void)fail_once(wq, "ns/a", &now);
    assert_int_equal(fail_once(wq, "ns/a", &now), 1000);
    /* Another key has its own count. */
    assert_int_equal(fail_once(wq, "ns/b", &now), 5);
    p4_workqueue_forget(wq, "ns/a");
    assert_int_equal(p4_workqueue_num_requeues(wq, "ns/a"), 0);
    assert_int_equal(fail_once(wq, "ns/a", &now), 5);
    p4_workqueue_stats(wq, &st);
    assert_int_equal(st.retries_total, 11 + 100 + 1 + 1 + 1);
    p4_workqueue_forget(wq, "ns/a");
    p4_workqueue_forget(wq, "ns/b");
    p4_workqueue_stats(wq, &st);
    assert_int_equal(st.keys, 0);
    p4_workqueue_free(wq);
}

static void default_backoff_caps_at_1000_seconds(void **state)
{
    struct p4_workqueue *wq = p4_workqueue_new(NULL, 0);
    uint64_t now = 0;
    uint64_t want = 5;

    (void)state;
    for (int i = 0; i < 18; i++, want *= 2)
        assert_int_equal(fail_once(wq, "ns/a", &now), want); /* 5 ms .. 655.36 s */
    assert_int_equal(fail_once(wq, "ns/a", &now), 1000000);
    assert_int_equal(fail_once(wq, "ns/a", &now), 1000000);
    p4_workqueue_free(wq);
}

static void global_bucket_kicks_in_after_burst(void **state)
{
    const struct p4_workqueue_config cfg = {
        .base_delay_ms = 1, .max_delay_ms = 1, .qps = 10, .burst = 5};
    struct p4_workqueue *wq = p4_workqueue_new(&cfg, 0);
    char key[32];
    uint64_t delay = 0;

    (void)state;
    for (int i = 0; i < 5; i++) {
        (void)snprintf(key, sizeof(key), "ns/k%d", i);
        assert_int_equal(p4_workqueue_add_rate_limited(wq, key, 0, &delay), 0);
        assert_int_equal(delay, 1); /* per-key backoff */
    }
    p4_workqueue_add_rate_limited(wq, "ns/k5", 0, &delay);
    assert_int_equal(delay, 100);
    p4_workqueue_add_rate_limited(wq, "ns/k6", 0, &delay);
    assert_int_equal(delay, 200);
    /* The bucket refills: one second later five tokens are back... */
    p4_workqueue_add_rate_limited(wq, "ns/k7", 1200, &delay);
    assert_int_equal(delay, 1);
    /* ...and a key already ready reports 0 though a failure was counted. */
    p4_workqueue_add(wq, "ns/ready", 1200);
    p4_workqueue_add_rate_limited(wq, "ns/ready", 1200, &delay);
    assert_int_equal(delay, 0);
    assert_int_equal(p4_workqueue_num_requeues(wq, "ns/ready"), 1);
    p4_workqueue_free(wq);
}

static void rate_limited_while_processing_then_forget(void **state)
{
    struct p4_workqueue *wq = p4_workqueue_new(&unlimited, 0);
    const char *key;
    struct p4_workqueue_stats st;

    (void)state;
    /* The client-go worker pattern: fail, AddRateLimited, then Done. */
    p4_workqueue_add(wq, "ns/a", 0);
    key = p4_workqueue_get(wq, 0, NULL);
    p4_workqueue_add_rate_limited(wq, key, 0, NULL);
    assert_int_equal(p4_workqueue_done(wq, key, 1), 0);
    get_expect(wq, 4, NULL);
    /* Success on retry: Forget, then Done releases the key's state. */
    key = p4_workqueue_get(wq, 5, NULL);
    assert_string_equal(key, "ns/a");
    p4_workqueue_forget(wq, key);
    assert_string_equal(key, "ns/a"); /* still held: processing */
    assert_int_equal(p4_workqueue_done(wq, key, 6), 0);
    p4_workqueue_stats(wq, &st);
    assert_int_equal(st.keys, 0);
    assert_int_equal(st.processing, 0);
    p4_workqueue_free(wq);
}

static void shutdown_stops_gets_and_adds_and_drains(void **state)
{
    struct p4_workqueue *wq = p4_workqueue_new(NULL, 0);
    struct p4_workqueue_stats st;
    const char *key;

    (void)state;
    p4_workqueue_add(wq, "ns/a", 0);
    p4_workqueue_add(wq, "ns/b", 0);
    p4_workqueue_add_after(wq, "ns/c", 10, 0);
    key = p4_workqueue_get(wq, 0, NULL);
    p4_workqueue_add(wq, key, 0); /* dirty while processing */
    assert_false(p4_workqueue_shutting_down(wq));
    p4_workqueue_shutdown(wq);
    p4_workqueue_shutdown(wq);
    assert_true(p4_workqueue_shutting_down(wq));
    get_expect(wq, 100, NULL);
    assert_int_equal(p4_workqueue_add(wq, "ns/d", 0), P4_ERR_CANCELED);
    assert_int_equal(p4_workqueue_add(wq, "ns/a", 0), P4_ERR_CANCELED);
    assert_int_equal(p4_workqueue_add_after(wq, "ns/d", 5, 0), P4_ERR_CANCELED);
    assert_int_equal(p4_workqueue_add_rate_limited(wq, "ns/d", 0, NULL), P4_ERR_CANCELED);
    assert_int_equal(p4_workqueue_len(wq), 0);
    assert_int_equal(p4_workqueue_next_wakeup(wq, 0), UINT64_MAX);
    assert_false(p4_workqueue_drained(wq));
    assert_int_equal(p4_workqueue_done(wq, key, 100), 0);
    assert_true(p4_workqueue_drained(wq));
    get_expect(wq, 100, NULL);
    p4_workqueue_stats(wq, &st);
    assert_int_equal(st.keys, 0);
    p4_workqueue_free(wq);
}

static void bad_inputs_are_refused(void **state)
{
    struct p4_workqueue *wq = p4_workqueue_new(NULL, 0);
    char long_key[P4_WORKQUEUE_KEY_MAX + 2];
    struct p4_workqueue_stats st;

    (void)state;
    assert_int_equal(p4_workqueue_add(NULL, "ns/a", 0), P4_ERR_INVAL);
    assert_int_equal(p4_workqueue_add(wq, NULL, 0), P4_ERR_INVAL);
    assert_int_equal(p4_workqueue_add_after(wq, NULL, 1, 0), P4_ERR_INVAL);
    assert_int_equal(p4_workqueue_add_rate_limited(NULL, "ns/a", 0, NULL), P4_ERR_INVAL);
    assert_int_equal(p4_workqueue_done(wq, NULL, 0), P4_ERR_INVAL);
    memset(long_key, 'x', sizeof(long_key) - 1);
    long_key[sizeof(long_key) - 1] = '\0';
    assert_int_equal(p4_workqueue_add(wq, long_key, 0), P4_ERR_TOOBIG);
    long_key[P4_WORKQUEUE_KEY_MAX] = '\0';
    assert_int_equal(p4_workqueue_add(wq, long_key, 0), 0);
    get_done(wq, 0, long_key);
    /* done of a key not processing: unknown, or waiting but not handed out. */
    assert_int_equal(p4_workqueue_done(wq, "ns/nobody", 0), P4_ERR_NOTFOUND);
    p4_workqueue_add(wq, "ns/a", 0);
    assert_int_equal(p4_workqueue_done(wq, "ns/a", 0), P4_ERR_NOTFOUND);
    get_done(wq, 0, "ns/a");
    assert_int_equal(p4_workqueue_done(wq, "ns/a", 0), P4_ERR_NOTFOUND);
    /* The empty string is a key like any other. */
    assert_int_equal(p4_workqueue_add(wq, "", 0), 0);
    get_done(wq, 0, "");
    p4_workqueue_forget(wq, "ns/nobody");
    p4_workqueue_forget(wq, NULL);
    p4_workqueue_forget(NULL, "ns/a");
    assert_int_equal(p4_workqueue_num_requeues(wq, "ns/nobody"), 0);
    assert_int_equal(p4_workqueue_num_requeues(NULL, "ns/a"), 0);
    assert_null(p4_workqueue_get(NULL, 0, NULL));
    assert_int_equal(p4_workqueue_len(NULL), 0);
    assert_int_equal(p4_workqueue_next_wakeup(NULL, 0), UINT64_MAX);
    assert_true(p4_workqueue_drained(NULL));
    assert_false(p4_workqueue_shutting_down(NULL));
    p4_workqueue_shutdown(NULL);
    p4_workqueue_stats(NULL, &st);
    assert_int_equal(st.keys, 0);
    p4_workqueue_stats(wq, &st);
    assert_int_equal(st.keys, 0);
    p4_workqueue_free(wq);
    p4_workqueue_free(NULL);
}

static void many_keys_keep_their_own_counts(void **state)
{
    struct p4_workqueue *wq = p4_workqueue_new(&unlimited, 0);
    struct p4_workqueue_stats st;
    char key[32];

    (void)state;
    for (int i = 0; i < 3000; i++) {
        (void)snprintf(key, sizeof(key), "ns/k%d", i);
        for (int n = 0; n <= i % 3; n++)
            p4_workqueue_add_rate_limited(wq, key, 0, NULL);
    }
    /* Remove every other key; the probe runs must still find the rest. */
    for (int i = 0; i < 3000; i += 2) {
        (void)snprintf(key, sizeof(key), "ns/k%d", i);
        p4_workqueue_forget(wq, key);
    }
    for (int i = 0; i < 3000; i++) {
        (void)snprintf(key, sizeof(key), "ns/k%d", i);
        assert_int_equal(p4_workqueue_num_requeues(wq, key), i % 2 ? (unsigned)(i % 3 + 1) : 0);
    }
    p4_workqueue_stats(wq, &st);
    assert_int_equal(st.keys, 3000); /* forgotten keys still wait for their delay */
    assert_int_equal(st.delayed, 3000);
    p4_workqueue_free(wq);
}

/* One round: 10,000 fresh keys added, some failing once, all processed and forgotten. */
static void churn_round(struct p4_workqueue *wq, int round, uint64_t *now)
{
    char key[48];
    const char *got;
    size_t n = 0;
    struct p4_workqueue_stats st;

    for (int i = 0; i < 10000; i++) {
        (void)snprintf(key, sizeof(key), "ns-%d/object-%d", round, i);
        if (i % 4 == 0)
            assert_int_equal(p4_workqueue_add_after(wq, key, (uint64_t)i % 50 + 1, *now), 0);
        else
            assert_int_equal(p4_workqueue_add(wq, key, *now), 0);
    }
    p4_workqueue_stats(wq, &st);
    assert_int_equal(st.keys, 10000);
    *now += 100;
    while ((got = p4_workqueue_get(wq, *now, NULL)) != NULL) {
        if (n % 3 == 0)
            p4_workqueue_add_rate_limited(wq, got, *now, NULL);
        else
            p4_workqueue_forget(wq, got);
        assert_int_equal(p4_workqueue_done(wq, got, *now), 0);
        n++;
        if (p4_workqueue_len(wq) == 0)
            *now += p4_workqueue_next_wakeup(wq, *now) == UINT64_MAX ? 0 : 1000;
    }
    assert_true(n > 10000); /* the failed third came round a second time */
    for (int i = 0; i < 10000; i++) {
        (void)snprintf(key, sizeof(key), "ns-%d/object-%d", round, i);
        p4_workqueue_forget(wq, key);
    }
}

static void churn_of_10000_keys_does_not_grow(void **state)
{
    struct p4_workqueue *wq = p4_workqueue_new(&unlimited, 0);
    struct p4_workqueue_stats first;
    struct p4_workqueue_stats st;
    uint64_t now = 0;

    (void)state;
    churn_round(wq, 0, &now);
    p4_workqueue_stats(wq, &first);
    assert_int_equal(first.keys, 0);
    assert_int_equal(first.len + first.delayed + first.processing, 0);
    for (int round = 1; round < 5; round++) {
        churn_round(wq, round, &now);
        p4_workqueue_stats(wq, &st);
        assert_int_equal(st.keys, 0);
        assert_int_equal(st.bytes, first.bytes);
    }
    assert_true(st.adds_total > 50000);
    p4_workqueue_free(wq);
}

/* Higher levels go first; within a level, FIFO; level 0 gets one get in fair_share. */
static void higher_levels_first_and_level_0_never_starved(void **state)
{
    struct p4_workqueue_config cfg = unlimited;
    struct p4_workqueue *wq;

    (void)state;
    cfg.fair_share = 3;
    wq = p4_workqueue_new(&cfg, 0);
    assert_int_equal(p4_workqueue_add(wq, "new/a", 0), 0);
    assert_int_equal(p4_workqueue_add(wq, "new/b", 0), 0);
    assert_int_equal(p4_workqueue_add_level(wq, "helm/x", 2, 0, 0), 0);
    assert_int_equal(p4_workqueue_add_level(wq, "kube/y", 3, 0, 0), 0);
    assert_int_equal(p4_workqueue_add_level(wq, "helm/z", 2, 0, 0), 0);
    assert_int_equal(p4_workqueue_add_level(wq, "top/t", 99, 0, 0), 0); /* the top level */
    assert_int_equal(p4_workqueue_len(wq), 6);
    get_done(wq, 0, "top/t");
    get_done(wq, 0, "kube/y");
    get_done(wq, 0, "new/a"); /* third get while level 0 waited */
    get_done(wq, 0, "helm/x");
    get_done(wq, 0, "helm/z");
    get_done(wq, 0, "new/b"); /* alone now */
    get_expect(wq, 0, NULL);
    p4_workqueue_free(wq);
}

/* fair_share 0: strict levels. A ready key keeps its place; a processing one takes the new level.
 */
static void a_ready_key_keeps_its_level_and_place(void **state)
{
    struct p4_workqueue_config cfg = unlimited;
    struct p4_workqueue *wq;

    (void)state;
    cfg.fair_share = 0;
    wq = p4_workqueue_new(&cfg, 0);
    assert_int_equal(p4_workqueue_add(wq, "a/a", 0), 0);
    assert_int_equal(p4_workqueue_add(wq, "b/b", 0), 0);
    assert_int_equal(p4_workqueue_add_level(wq, "a/a", 5, 0, 0), 0); /* merged, stays at 0 */
    get_expect(wq, 0, "a/a");
    assert_int_equal(p4_workqueue_add_level(wq, "a/a", 5, 0, 0), 0); /* while processing */
    assert_int_equal(p4_workqueue_add_level(wq, "c/c", 1, 0, 0), 0);
    assert_int_equal(p4_workqueue_done(wq, "a/a", 0), 0); /* back, at level 5 */
    get_done(wq, 0, "a/a");
    get_done(wq, 0, "c/c");
    get_done(wq, 0, "b/b");
    get_expect(wq, 0, NULL);
    p4_workqueue_free(wq);
}

/* A delayed key turns ready at the level it was added with. */
static void a_delayed_key_turns_ready_at_its_level(void **state)
{
    struct p4_workqueue *wq = p4_workqueue_new(&unlimited, 0);
    struct p4_workqueue_stats st;

    (void)state;
    assert_int_equal(p4_workqueue_add_level(wq, "late/l", 4, 100, 0), 0);
    assert_int_equal(p4_workqueue_add(wq, "now/n", 0), 0);
    get_expect(wq, 50, "now/n");
    assert_int_equal(p4_workqueue_add(wq, "new/m", 60), 0);
    get_done(wq, 100, "late/l"); /* ready at 100, before new/m of level 0 */
    get_done(wq, 100, "new/m");
    assert_int_equal(p4_workqueue_done(wq, "now/n", 100), 0);
    p4_workqueue_stats(wq, &st);
    assert_int_equal(st.len, 0);
    assert_int_equal(st.keys, 0);
    p4_workqueue_free(wq);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(adds_of_a_waiting_key_merge),
        cmocka_unit_test(ready_keys_come_out_fifo),
        cmocka_unit_test(add_while_processing_requeues_once_after_done),
        cmocka_unit_test(got_key_stays_valid_while_the_table_grows),
        cmocka_unit_test(add_after_orders_by_time_then_arrival),
        cmocka_unit_test(add_after_earliest_wins_and_add_is_now),
        cmocka_unit_test(next_wakeup_tracks_the_earliest_delay),
        cmocka_unit_test(backoff_doubles_to_max_and_forget_resets),
        cmocka_unit_test(default_backoff_caps_at_1000_seconds),
        cmocka_unit_test(global_bucket_kicks_in_after_burst),
        cmocka_unit_test(rate_limited_while_processing_then_forget),
        cmocka_unit_test(shutdown_stops_gets_and_adds_and_drains),
        cmocka_unit_test(bad_inputs_are_refused),
        cmocka_unit_test(many_keys_keep_their_own_counts),
        cmocka_unit_test(churn_of_10000_keys_does_not_grow),
        cmocka_unit_test(higher_levels_first_and_level_0_never_starved),
        cmocka_unit_test(a_ready_key_keeps_its_level_and_place),
        cmocka_unit_test(a_delayed_key_turns_ready_at_its_level),
    };
    return cmocka_run_group_tests_name("workqueue", tests, NULL, NULL);
}
