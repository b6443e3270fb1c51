/* alloc_test.c: the allocation wrappers copy and size exactly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h> /* after the four it needs */

#include "phase4/core/alloc.h"

static void strndup_stops_at_n_and_terminates(void **state)
{
    char *s;

    (void)state;
    s = p4_strndup("kubernetes", 4);
    assert_string_equal(s, "kube");
    free(s);
    s = p4_strndup("k8s", 100);
    assert_string_equal(s, "k8s");
    free(s);
    s = p4_strdup("");
    assert_string_equal(s, "");
    free(s);
}

static void zero_sizes_still_give_memory(void **state)
{
    void *p = p4_malloc(0);
    void *q = p4_calloc(0, 8);

    (void)state;
    assert_non_null(p);
    assert_non_null(q);
    p = p4_realloc(p, 32);
    memset(p, 0, 32);
    free(p);
    free(q);
}

static void calloc_zeroes(void **state)
{
    unsigned char *p = p4_calloc(64, 1);

    (void)state;
    for (int i = 0; i < 64; i++)
        assert_int_equal(p[i], 0);
    free(p);
}

static void strdup_or_null_keeps_absent_absent(void **state)
{
    char *p = p4_strdup_or_null("x");

    (void)state;
    assert_string_equal(p, "x");
    free(p);
    assert_null(p4_strdup_or_null(NULL));
}

static void path_join_puts_one_slash_between(void **state)
{
    char *p = p4_path_join("/var/run/secrets", "token");

    (void)state;
    assert_string_equal(p, "/var/run/secrets/token");
    free(p);
    /* Taken as they are: a trailing or leading '/' is kept, an empty part stays empty. */
    p = p4_path_join("/tmp/", "/x");
    assert_string_equal(p, "/tmp///x");
    free(p);
    p = p4_path_join("", "");
    assert_string_equal(p, "/");
    free(p);
    p = p4_path_join("work", "cache");
    assert_string_equal(p, "work/cache");
    assert_int_equal(strlen(p), 10);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(strndup_stops_at_n_and_terminates),
        cmocka_unit_test(zero_sizes_still_give_memory),
        cmocka_unit_test(calloc_zeroes),
        cmocka_unit_test(strdup_or_null_keeps_absent_absent),
        cmocka_unit_test(path_join_puts_one_slash_between),
    };
    return cmocka_run_group_tests_name("alloc", tests, NULL, NULL);
}
