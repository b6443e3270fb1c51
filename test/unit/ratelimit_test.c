/* ratelimit_test.c: token bucket burst, refill, queueing, rounding and unlimited. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the four it needs */

#include "phase4/core/ratelimit.h"

static void burst_is_free_then_one_interval_each(void **state)
{
    struct p4_ratelimit rl;

    (void)state;
    p4_ratelimit_init(&rl, 10.0, 3, 1000);
    assert_int_equal(p4_ratelimit_reserve(&rl, 1000), 0);
    assert_int_equal(p4_ratelimit_reserve(&rl, 1000), 0);
    assert_int_equal(p4_ratelimit_reserve(&rl, 1000), 0);
    assert_int_equal(p4_ratelimit_reserve(&rl, 1000), 100);
    assert_int_equal(p4_ratelimit_reserve(&rl, 1000), 200);
    p4_ratelimit_close(&rl);
}

static void refills_up_to_burst_only(void **state)
{
    struct p4_ratelimit rl;

    (void)state;
    p4_ratelimit_init(&rl, 10.0, 3, 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(p4_ratelimit_reserve(&rl, 0), 0);
    /* A long idle period refills 3 tokens, not 100. */
    for (int i = 0; i < 3; i++)
        assert_int_equal(p4_ratelimit_reserve(&rl, 10000), 0);
    assert_int_equal(p4_ratelimit_reserve(&rl, 10000), 100);
}

static void partial_refill_and_waiters_queue(void **state)
{
    struct p4_ratelimit rl;

    (void)state;
    p4_ratelimit_init(&rl, 10.0, 1, 0);
    assert_int_equal(p4_ratelimit_reserve(&rl, 0), 0);
    assert_int_equal(p4_ratelimit_reserve(&rl, 50), 50);   /* token due at 100 */
    assert_int_equal(p4_ratelimit_reserve(&rl, 100), 100); /* behind it: at 200 */
    assert_int_equal(p4_ratelimit_reserve(&rl, 1000), 0);
}

static void delays_round_up(void **state)
{
    struct p4_ratelimit rl;

    (void)state;
    p4_ratelimit_init(&rl, 3.0, 1, 0);
    assert_int_equal(p4_ratelimit_reserve(&rl, 0), 0);
    assert_int_equal(p4_ratelimit_reserve(&rl, 0), 334);
    assert_int_equal(p4_ratelimit_reserve(&rl, 0), 667);
    /* No drift over many tokens: 3000 tokens at 3 qps take 1000 s. */
    p4_ratelimit_init(&rl, 3.0, 1, 0);
    for (int i = 0; i < 3000; i++)
        (void)p4_ratelimit_reserve(&rl, 0);
    assert_int_equal(p4_ratelimit_reserve(&rl, 0), 1000000);
}

static void unlimited_never_waits(void **state)
{
    const double rates[] = {0.0, -5.0, __builtin_nan(""), __builtin_inf()};
    struct p4_ratelimit rl;

    (void)state;
    for (size_t r = 0; r < sizeof(rates) / sizeof(rates[0]); r++) {
        p4_ratelimit_init(&rl, rates[r], 1, 0);
        for (int i = 0; i < 1000; i++)
            assert_int_equal(p4_ratelimit_reserve(&rl, 0), 0);
    }
}

static void zero_burst_is_one_and_close_accepts_null(void **state)
{
    struct p4_ratelimit rl;

    (void)state;
    p4_ratelimit_init(&rl, 1.0, 0, 0);
    assert_int_equal(p4_ratelimit_reserve(&rl, 0), 0);
    assert_int_equal(p4_ratelimit_reserve(&rl, 0), 1000);
    p4_ratelimit_close(&rl);
    p4_ratelimit_close(NULL);
}

static void tiny_and_huge_rates_and_late_clocks(void **state)
{
    struct p4_ratelimit rl;
    const uint64_t late = 1000000000000ULL; /* 31 years of uptime in ms */

    (void)state;
    p4_ratelimit_init(&rl, 1e-12, 1, 0);
    assert_int_equal(p4_ratelimit_reserve(&rl, 0), 0);
    assert_true(p4_ratelimit_reserve(&rl, 0) > 0);
    /* Delays round up to whole ms, so a fast bucket past its burst says 1. */
    p4_ratelimit_init(&rl, 1e12, 1, 0);
    for (uint64_t t = 0; t < 1000; t++)
        assert_int_equal(p4_ratelimit_reserve(&rl, t), 0);
    assert_int_equal(p4_ratelimit_reserve(&rl, 999), 1);
    p4_ratelimit_init(&rl, 2.0, 2, late);
    assert_int_equal(p4_ratelimit_reserve(&rl, late), 0);
    assert_int_equal(p4_ratelimit_reserve(&rl, late), 0);
    assert_int_equal(p4_ratelimit_reserve(&rl, late), 500);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(burst_is_free_then_one_interval_each),
        cmocka_unit_test(refills_up_to_burst_only),
        cmocka_unit_test(partial_refill_and_waiters_queue),
        cmocka_unit_test(delays_round_up),
        cmocka_unit_test(unlimited_never_waits),
        cmocka_unit_test(zero_burst_is_one_and_close_accepts_null),
        cmocka_unit_test(tiny_and_huge_rates_and_late_clocks),
    };
    return cmocka_run_group_tests_name("ratelimit", tests, NULL, NULL);
}
