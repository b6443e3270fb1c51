/* strmap_test.c: put/get/replace/delete, growth, tombstone reuse, iteration. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h> /* after the four it needs */

#include "phase4/core/strmap.h"

static void put_get_replace_delete(void **state)
{
    struct p4_strmap m;
    int a = 1, b = 2;

    (void)state;
    p4_strmap_init(&m);
    assert_null(p4_strmap_get(&m, "ns/a"));
    assert_null(p4_strmap_del(&m, "ns/a"));
    assert_null(p4_strmap_put(&m, "ns/a", &a));
    assert_ptr_equal(p4_strmap_get(&m, "ns/a"), &a);
    assert_ptr_equal(p4_strmap_put(&m, "ns/a", &b), &a);
    assert_int_equal(p4_strmap_len(&m), 1);
    assert_ptr_equal(p4_strmap_del(&m, "ns/a"), &b);
    assert_null(p4_strmap_get(&m, "ns/a"));
    assert_int_equal(p4_strmap_len(&m), 0);
    p4_strmap_close(&m);
    p4_strmap_close(NULL);
}

static void many_keys_and_churn(void **state)
{
    struct p4_strmap m;
    char key[32];
    size_t pos = 0, seen = 0, cap;
    const struct p4_strmap_entry *e;

    (void)state;
    p4_strmap_init(&m);
    static long values[20000];

    for (long i = 0; i < 20000; i++) {
        (void)snprintf(key, sizeof(key), "ns-%ld/obj", i);
        values[i] = i;
        p4_strmap_put(&m, key, &values[i]);
    }
    assert_int_equal(p4_strmap_len(&m), 20000);
    for (long i = 0; i < 20000; i += 2) {
        (void)snprintf(key, sizeof(key), "ns-%ld/obj", i);
        assert_ptr_equal(p4_strmap_del(&m, key), &values[i]);
    }
    while ((e = p4_strmap_next(&m, &pos)) != NULL) {
        /* only odd keys are left */
        assert_int_equal(*(long *)e->value % 2, 1);
        seen++;
    }
    assert_int_equal(seen, 10000);
    /* Churn on a steady population does not grow the table without bound. */
    cap = m.cap;
    for (long round = 0; round < 50; round++) {
        for (long i = 0; i < 1000; i++) {
            (void)snprintf(key, sizeof(key), "churn-%ld", i);
            p4_strmap_put(&m, key, &m);
        }
        for (long i = 0; i < 1000; i++) {
            (void)snprintf(key, sizeof(key), "churn-%ld", i);
            p4_strmap_del(&m, key);
        }
    }
    assert_true(m.cap <= cap * 2);
    assert_int_equal(p4_strmap_len(&m), 10000);
    p4_strmap_close(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(put_get_replace_delete),
        cmocka_unit_test(many_keys_and_churn),
    };
    return cmocka_run_group_tests_name("strmap", tests, NULL, NULL);
}
