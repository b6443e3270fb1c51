/*
 * imagecache_test.c: the Helm stage's cache of registry answers about images
 * (stages/helm/imagecache.h): hits and misses, expiry by the ttl given, the bound (expired
 * entries go first, then the least recently used), replacement and the counters.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs setjmp.h, stdarg.h, stddef.h and stdint.h first. */
#include <stdio.h>
#include <string.h>

#include <cmocka.h> /* after the four it needs */

#include "stages/helm/imagecache.h"

static const char *const d1 =
    "sha256:1111111111111111111111111111111111111111111111111111111111111111";
static const char *const d2 =
    "sha256:2222222222222222222222222222222222222222222222222222222222222222";

static void hit_until_it_expires(void **state)
{
    struct p4_imagecache c;

    (void)state;
    p4_imagecache_init(&c, 0);
    assert_int_equal(c.max, P4_IMAGECACHE_MAX);
    assert_null(p4_imagecache_get(&c, "r/a:1 linux/amd64 f", 0));
    assert_int_equal(c.hits, 0);
    p4_imagecache_put(&c, "r/a:1 linux/amd64 f", d1, P4_IMAGECACHE_TAG_TTL_MS, 1000);
    assert_string_equal(p4_imagecache_get(&c, "r/a:1 linux/amd64 f", 1000), d1);
    assert_string_equal(
        p4_imagecache_get(&c, "r/a:1 linux/amd64 f", 1000 + P4_IMAGECACHE_TAG_TTL_MS - 1), d1);
    assert_int_equal(c.hits, 2);
    /* another key (other platforms, another credential) is another question */
    assert_null(p4_imagecache_get(&c, "r/a:1 linux/arm64 f", 1000));
    assert_null(p4_imagecache_get(&c, "r/a:1 linux/amd64 g", 1000));
    /* a tag's answer expires: the tag may have moved */
    assert_null(p4_imagecache_get(&c, "r/a:1 linux/amd64 f", 1000 + P4_IMAGECACHE_TAG_TTL_MS));
    assert_int_equal(p4_imagecache_len(&c), 0); /* dropped on the miss */
    assert_int_equal(c.hits, 2);
    p4_imagecache_close(&c);
}

static void put_replaces(void **state)
{
    struct p4_imagecache c;

    (void)state;
    p4_imagecache_init(&c, 4);
    p4_imagecache_put(&c, "k", d1, 10, 0);
    p4_imagecache_put(&c, "k", d2, 100, 5);
    assert_int_equal(p4_imagecache_len(&c), 1);
    assert_string_equal(p4_imagecache_get(&c, "k", 50), d2); /* the new ttl, from the new put */
    assert_null(p4_imagecache_get(&c, "k", 105));
    p4_imagecache_close(&c);
}

static void bounded_least_recently_used_goes(void **state)
{
    struct p4_imagecache c;
    char key[32];

    (void)state;
    p4_imagecache_init(&c, 3);
    p4_imagecache_put(&c, "a", d1, 1000, 0);
    p4_imagecache_put(&c, "b", d1, 1000, 0);
    p4_imagecache_put(&c, "c", d1, 1000, 0);
    assert_non_null(p4_imagecache_get(&c, "a", 1)); /* a used again: b is now the oldest */
    p4_imagecache_put(&c, "d", d2, 1000, 1);
    assert_int_equal(p4_imagecache_len(&c), 3);
    assert_null(p4_imagecache_get(&c, "b", 2));
    assert_non_null(p4_imagecache_get(&c, "a", 2));
    assert_non_null(p4_imagecache_get(&c, "c", 2));
    assert_string_equal(p4_imagecache_get(&c, "d", 2), d2);
    /* many more than the bound: never more than max kept */
    for (int i = 0; i < 100; i++) {
        (void)snprintf(key, sizeof(key), "k%d", i);
        p4_imagecache_put(&c, key, d1, 1000, 3);
        assert_true(p4_imagecache_len(&c) <= 3);
    }
    assert_non_null(p4_imagecache_get(&c, "k99", 3));
    assert_null(p4_imagecache_get(&c, "k0", 3));
    p4_imagecache_close(&c);
}

static void expired_entries_go_before_used_ones(void **state)
{
    struct p4_imagecache c;

    (void)state;
    p4_imagecache_init(&c, 2);
    p4_imagecache_put(&c, "old", d1, 1000, 0);   /* used first, but still good at 600 */
    p4_imagecache_put(&c, "short", d1, 10, 500); /* used later, expired at 600 */
    p4_imagecache_put(&c, "new", d2, 1000, 600);
    assert_int_equal(p4_imagecache_len(&c), 2);
    assert_non_null(p4_imagecache_get(&c, "old", 600));
    assert_non_null(p4_imagecache_get(&c, "new", 600));
    assert_null(p4_imagecache_get(&c, "short", 600));
    p4_imagecache_close(&c);
}

static void counts_checks(void **state)
{
    struct p4_imagecache c;

    (void)state;
    p4_imagecache_init(&c, 0);
    p4_imagecache_checked(&c);
    p4_imagecache_checked(&c);
    assert_int_equal(c.checks, 2);
    assert_int_equal(c.hits, 0);
    p4_imagecache_close(&c);
    /* closing an empty cache, and one never used */
    p4_imagecache_init(&c, 1);
    p4_imagecache_close(&c);
}

/* A check in flight: others wait for it, until it answers or its mark is too old. */
static void one_check_in_flight_per_key(void **state)
{
    struct p4_imagecache c;

    (void)state;
    p4_imagecache_init(&c, 4);
    assert_false(p4_imagecache_is_asked(&c, "r/a:1", 0));
    p4_imagecache_asking(&c, "r/a:1", 1000);
    assert_true(p4_imagecache_is_asked(&c, "r/a:1", 1000));
    assert_true(p4_imagecache_is_asked(&c, "r/a:1", 1000 + P4_IMAGECACHE_ASKING_MS - 1));
    assert_false(p4_imagecache_is_asked(&c, "r/b:1", 1000)); /* another key */
    p4_imagecache_answered(&c, "r/a:1");
    assert_false(p4_imagecache_is_asked(&c, "r/a:1", 1001));
    p4_imagecache_answered(&c, "r/a:1"); /* twice is fine */

    /* the run that asked was dropped: its mark stops counting */
    p4_imagecache_asking(&c, "r/c:1", 5000);
    assert_false(p4_imagecache_is_asked(&c, "r/c:1", 5000 + P4_IMAGECACHE_ASKING_MS));
    assert_false(p4_imagecache_is_asked(&c, "r/c:1", 5000)); /* and it is gone */
    p4_imagecache_asking(&c, "r/d:1", 0);                    /* freed by close */
    p4_imagecache_close(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hit_until_it_expires),
        cmocka_unit_test(put_replaces),
        cmocka_unit_test(bounded_least_recently_used_goes),
        cmocka_unit_test(expired_entries_go_before_used_ones),
        cmocka_unit_test(counts_checks),
        cmocka_unit_test(one_check_in_flight_per_key),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
