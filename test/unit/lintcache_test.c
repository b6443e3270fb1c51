/*
 * lintcache_test.c: the Helm stage's cache of helm lint outcomes (stages/helm/lintcache.h):
 * the key changes with every input that decides lint's outcome (the chart's digest, each
 * argument, the values bytes) and not with the chart's path; outcomes kept and replaced; the
 * bound, the least recently used going first; failure messages copied.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs setjmp.h, stdarg.h, stddef.h and stdint.h first. */
#include <stdio.h>
#include <string.h>

#include <cmocka.h> /* after the four it needs */

#include "stages/helm/lintcache.h"

static const char *const dig1 =
    "sha256:1111111111111111111111111111111111111111111111111111111111111111";
static const char *const dig2 =
    "sha256:2222222222222222222222222222222222222222222222222222222222222222";
static const char *const values = "{\"image\":{\"repository\":\"r\",\"digest\":\"d\"}}";

/* The key of `helm lint <path> --strict --values - --namespace ns --kube-version kv`. */
static struct p4_lintkey key_of(const char *path, const char *digest, const char *ns,
                                const char *kv, const char *vals, size_t len)
{
    const char *argv[] = {"lint", path,          "--strict", "--values",
                          "-",    "--namespace", ns,         kv ? "--kube-version" : NULL,
                          kv,     NULL};
    struct p4_lintkey k;

    p4_lintcache_key(argv, path, digest, vals, len, false, &k);
    return k;
}

static bool same(struct p4_lintkey a, struct p4_lintkey b)
{
    return memcmp(a.d, b.d, sizeof(a.d)) == 0;
}

static void key_changes_with_every_input(void **state)
{
    size_t n = strlen(values);
    struct p4_lintkey base = key_of("/c/a.tgz", dig1, "apps", "v1.36.3", values, n);

    (void)state;
    /* The same inputs: the same key; the chart's path does not count, its digest does. */
    assert_true(same(base, key_of("/c/a.tgz", dig1, "apps", "v1.36.3", values, n)));
    assert_true(same(base, key_of("/other/place.tgz", dig1, "apps", "v1.36.3", values, n)));
    assert_false(same(base, key_of("/c/a.tgz", dig2, "apps", "v1.36.3", values, n)));
    /* The release namespace is not in the key (lintcache.h); each other option is: the kube
       version (and its absence). */
    assert_true(same(base, key_of("/c/a.tgz", dig1, "apps2", "v1.36.3", values, n)));
    {
        const char *a1[] = {"lint", "--namespace", "a", "--strict", NULL};
        const char *a2[] = {"lint", "--strict", NULL}, *a3[] = {"lint", "--namespace", NULL};
        const char *a4[] = {"lint", NULL};
        struct p4_lintkey k1, k2, k3, k4;
        p4_lintcache_key(a1, NULL, NULL, "", 0, false, &k1);
        p4_lintcache_key(a2, NULL, NULL, "", 0, false, &k2);
        p4_lintcache_key(a3, NULL, NULL, "", 0, false, &k3);
        p4_lintcache_key(a4, NULL, NULL, "", 0, false, &k4);
        assert_true(same(k1, k2));
        assert_true(same(k3, k4)); /* a dangling --namespace: nothing read past the end */
        /* A failure's key (namespaced) has the namespace. */
        p4_lintcache_key(a1, NULL, NULL, "", 0, true, &k3);
        assert_false(same(k1, k3));
        a1[2] = "b";
        p4_lintcache_key(a1, NULL, NULL, "", 0, true, &k4);
        assert_false(same(k3, k4));
    }
    assert_false(same(base, key_of("/c/a.tgz", dig1, "apps", "v1.35.0", values, n)));
    assert_false(same(base, key_of("/c/a.tgz", dig1, "apps", NULL, values, n)));
    /* The values, byte for byte: one byte changed, one byte fewer, none. */
    {
        char other[128];
        (void)snprintf(other, sizeof(other), "%s", values);
        other[n - 3] = 'e';
        assert_false(same(base, key_of("/c/a.tgz", dig1, "apps", "v1.36.3", other, n)));
    }
    assert_false(same(base, key_of("/c/a.tgz", dig1, "apps", "v1.36.3", values, n - 1)));
    assert_false(same(base, key_of("/c/a.tgz", dig1, "apps", "v1.36.3", NULL, 0)));
    /* Fields are kept apart: "ab"+"c" is not "a"+"bc". */
    {
        const char *a1[] = {"lint", "ab", "c", NULL}, *a2[] = {"lint", "a", "bc", NULL};
        struct p4_lintkey k1, k2;
        p4_lintcache_key(a1, NULL, NULL, "", 0, false, &k1);
        p4_lintcache_key(a2, NULL, NULL, "", 0, false, &k2);
        assert_false(same(k1, k2));
    }
    /* An argument equal to the chart's path stands for the chart: keyed by digest, not text. */
    {
        const char *a1[] = {"lint", "/c/a.tgz", NULL}, *a2[] = {"lint", dig1, NULL};
        struct p4_lintkey k1, k2;
        p4_lintcache_key(a1, "/c/a.tgz", dig1, "", 0, false, &k1);
        p4_lintcache_key(a2, NULL, NULL, "", 0, false, &k2);
        assert_false(same(k1, k2));
    }
}

static void keeps_and_replaces_outcomes(void **state)
{
    struct p4_lintcache c;
    struct p4_lintkey k1 = key_of("/a", dig1, "a", "v1", values, strlen(values));
    struct p4_lintkey k2 = key_of("/a", dig2, "a", "v1", values, strlen(values));
    const struct p4_lint_outcome *o;
    char msg[64];

    (void)state;
    p4_lintcache_init(&c, 0);
    assert_int_equal(c.max, P4_LINTCACHE_MAX);
    assert_null(p4_lintcache_get(&c, &k1));
    p4_lintcache_put(&c, &k1, &(struct p4_lint_outcome){.passed = true});
    (void)snprintf(msg, sizeof(msg), "%s", "templates/cm.yaml: name is invalid");
    p4_lintcache_put(&c, &k2,
                     &(struct p4_lint_outcome){
                         .cls = 2, .gate = 1, .reason = "ChartLintFailed", .message = msg});
    memset(msg, 'x', sizeof(msg) - 1); /* the cache has its own copy */
    assert_int_equal(p4_lintcache_len(&c), 2);
    o = p4_lintcache_get(&c, &k1);
    assert_non_null(o);
    assert_true(o->passed);
    assert_null(o->message);
    o = p4_lintcache_get(&c, &k2);
    assert_non_null(o);
    assert_false(o->passed);
    assert_int_equal(o->cls, 2);
    assert_int_equal(o->gate, 1);
    assert_string_equal(o->reason, "ChartLintFailed");
    assert_string_equal(o->message, "templates/cm.yaml: name is invalid");
    /* The same key again replaces its outcome (no second entry, the old message freed). */
    p4_lintcache_put(&c, &k2, &(struct p4_lint_outcome){.passed = true});
    assert_int_equal(p4_lintcache_len(&c), 2);
    assert_true(p4_lintcache_get(&c, &k2)->passed);
    assert_null(p4_lintcache_get(&c, &k2)->message);
    p4_lintcache_close(&c);
}

static void bounded_least_recently_used_goes(void **state)
{
    struct p4_lintcache c;
    struct p4_lintkey k[5];
    char kv[32];

    (void)state;
    for (int i = 0; i < 5; i++) {
        (void)snprintf(kv, sizeof(kv), "v1.%d.0", i);
        k[i] = key_of("/a", dig1, "apps", kv, values, strlen(values));
    }
    p4_lintcache_init(&c, 3);
    p4_lintcache_put(&c, &k[0], &(struct p4_lint_outcome){.passed = true});
    p4_lintcache_put(&c, &k[1],
                     &(struct p4_lint_outcome){.reason = "ChartLintFailed", .message = "bad"});
    p4_lintcache_put(&c, &k[2], &(struct p4_lint_outcome){.passed = true});
    assert_non_null(p4_lintcache_get(&c, &k[0])); /* k[1] is now the least recently used */
    p4_lintcache_put(&c, &k[3], &(struct p4_lint_outcome){.passed = true});
    assert_int_equal(p4_lintcache_len(&c), 3);
    assert_null(p4_lintcache_get(&c, &k[1]));
    assert_non_null(p4_lintcache_get(&c, &k[0]));
    assert_non_null(p4_lintcache_get(&c, &k[2]));
    assert_non_null(p4_lintcache_get(&c, &k[3]));
    /* k[0] was used before k[2] and k[3] last: it goes next. */
    p4_lintcache_put(&c, &k[4], &(struct p4_lint_outcome){.passed = true});
    assert_int_equal(p4_lintcache_len(&c), 3);
    assert_null(p4_lintcache_get(&c, &k[0]));
    assert_non_null(p4_lintcache_get(&c, &k[4]));
    p4_lintcache_close(&c);
    p4_lintcache_close(&c); /* closing twice is harmless */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(key_changes_with_every_input),
        cmocka_unit_test(keeps_and_replaces_outcomes),
        cmocka_unit_test(bounded_least_recently_used_goes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
