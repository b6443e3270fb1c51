/* jsondiff_test.c: the field paths where two JSON values differ (p4_jsondiff_paths). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four above first. */
#include <string.h>

#include <cmocka.h> /* after the four it needs */

#include <stdio.h>
#include <stdlib.h>

#include "phase4/core/jsondiff.h"

/* The paths of a against b (JSON text), joined by ' ', into buf; returns the total. */
static size_t paths_of(const char *a, const char *b, p4_jsondiff_skip_fn skip, size_t max,
                       char *buf, size_t size)
{
    cJSON *ja = cJSON_Parse(a), *jb = cJSON_Parse(b), *out = cJSON_CreateArray(), *p;
    struct p4_jsondiff d;
    size_t n = 0;

    assert_non_null(ja);
    assert_non_null(jb);
    d = p4_jsondiff_paths(ja, jb, skip, NULL, max, out);
    buf[0] = '\0';
    cJSON_ArrayForEach(p, out) {
        n += (size_t)snprintf(buf + n, size - n, "%s%s", n ? " " : "", p->valuestring);
    }
    assert_false(d.truncated);
    assert_true((size_t)cJSON_GetArraySize(out) <= max);
    cJSON_Delete(ja);
    cJSON_Delete(jb);
    cJSON_Delete(out);
    return d.total;
}

static void equal_values_have_no_path(void **state)
{
    char buf[512];

    (void)state;
    assert_int_equal(paths_of("{\"a\":1,\"b\":[1,2],\"c\":{\"d\":null}}",
                              "{\"c\":{\"d\":null},\"b\":[1,2],\"a\":1}", NULL, 10, buf,
                              sizeof(buf)),
                     0);
    assert_string_equal(buf, "");
    assert_int_equal(paths_of("3", "3", NULL, 10, buf, sizeof(buf)), 0);
}

static void changed_added_and_removed_members(void **state)
{
    char buf[512];

    (void)state;
    assert_int_equal(paths_of("{\"spec\":{\"replicas\":2,\"old\":true}}",
                              "{\"spec\":{\"replicas\":3,\"new\":\"x\"}}", NULL, 10, buf,
                              sizeof(buf)),
                     3);
    assert_string_equal(buf, "spec.replicas spec.old spec.new");
    /* a type change is one path, not a walk into it */
    assert_int_equal(paths_of("{\"a\":{\"b\":1}}", "{\"a\":[1]}", NULL, 10, buf, sizeof(buf)), 1);
    assert_string_equal(buf, "a");
    assert_int_equal(paths_of("1", "\"1\"", NULL, 10, buf, sizeof(buf)), 1);
    assert_string_equal(buf, ".");
    assert_int_equal(paths_of("true", "false", NULL, 10, buf, sizeof(buf)), 1);
}

static void named_items_match_by_name(void **state)
{
    char buf[512];

    (void)state;
    /* a container added in front shifts nothing */
    assert_int_equal(
        paths_of("{\"containers\":[{\"name\":\"web\",\"image\":\"a@1\"}]}",
                 "{\"containers\":[{\"name\":\"side\",\"image\":\"s\"},{\"name\":\"web\","
                 "\"image\":\"a@2\"}]}",
                 NULL, 10, buf, sizeof(buf)),
        2);
    assert_string_equal(buf, "containers[web].image containers[side]");
    /* duplicate names: by index */
    assert_int_equal(paths_of("[{\"name\":\"a\",\"v\":1},{\"name\":\"a\",\"v\":2}]",
                              "[{\"name\":\"a\",\"v\":1},{\"name\":\"a\",\"v\":3}]", NULL, 10, buf,
                              sizeof(buf)),
                     1);
    assert_string_equal(buf, "[1].v");
    /* plain arrays by index, the longer one's rest as paths */
    assert_int_equal(paths_of("{\"args\":[\"a\",\"b\"]}", "{\"args\":[\"a\",\"c\",\"d\"]}", NULL,
                              10, buf, sizeof(buf)),
                     2);
    assert_string_equal(buf, "args[1] args[2]");
}

static void odd_member_names_are_quoted(void **state)
{
    char buf[512];

    (void)state;
    assert_int_equal(
        paths_of("{\"metadata\":{\"annotations\":{\"example.com/x\":\"1\"}}}",
                 "{\"metadata\":{\"annotations\":{\"example.com/x\":\"2\",\"a\\\"b\\n\":"
                 "\"\"}}}",
                 NULL, 10, buf, sizeof(buf)),
        2);
    assert_string_equal(buf,
                        "metadata.annotations[\"example.com/x\"] metadata.annotations[\"a?b?\"]");
    assert_int_equal(paths_of("{\"\":1}", "{\"\":2}", NULL, 10, buf, sizeof(buf)), 1);
    assert_string_equal(buf, "[\"\"]");
}

static bool skip_meta(const char *const *path, size_t depth, void *data)
{
    (void)data;
    if (depth == 1)
        return strcmp(path[0], "status") == 0;
    return depth == 2 && strcmp(path[0], "metadata") == 0 &&
           (strcmp(path[1], "resourceVersion") == 0 || strcmp(path[1], "managedFields") == 0);
}

static void skipped_paths_are_left_out(void **state)
{
    char buf[512];

    (void)state;
    assert_int_equal(
        paths_of("{\"metadata\":{\"resourceVersion\":\"1\",\"managedFields\":[1]},\"status\":{},"
                 "\"spec\":{\"x\":1}}",
                 "{\"metadata\":{\"resourceVersion\":\"2\"},\"spec\":{\"x\":1}}", skip_meta, 10,
                 buf, sizeof(buf)),
        0);
}

static void paths_are_bounded_and_counted(void **state)
{
    char buf[2048];

    (void)state;
    assert_int_equal(paths_of("{\"a\":1,\"b\":1,\"c\":1,\"d\":1}",
                              "{\"a\":2,\"b\":2,\"c\":2,\"d\":2}", NULL, 2, buf, sizeof(buf)),
                     4);
    assert_string_equal(buf, "a b");
    /* NULL paths: only counted */
    {
        cJSON *a = cJSON_Parse("[1,2]"), *b = cJSON_Parse("[2,1]");
        struct p4_jsondiff d = p4_jsondiff_paths(a, b, NULL, NULL, 5, NULL);
        assert_int_equal(d.total, 2);
        d = p4_jsondiff_paths(NULL, b, NULL, NULL, 5, NULL);
        assert_int_equal(d.total, 1);
        d = p4_jsondiff_paths(NULL, NULL, NULL, NULL, 5, NULL);
        assert_int_equal(d.total, 0);
        cJSON_Delete(a);
        cJSON_Delete(b);
    }
}

/* {"k":{"k":...1...}} nested n deep */
static char *nested(int n, int leaf)
{
    size_t size = (size_t)n * 6 + 16;
    char *s = malloc(size);
    size_t at = 0;

    assert_non_null(s);
    for (int i = 0; i < n; i++)
        at += (size_t)snprintf(s + at, size - at, "{\"k\":");
    at += (size_t)snprintf(s + at, size - at, "%d", leaf);
    for (int i = 0; i < n; i++)
        s[at++] = '}';
    s[at] = '\0';
    return s;
}

static void deep_values_are_compared_whole(void **state)
{
    char *a = nested(100, 1), *b = nested(100, 2);
    cJSON *ja = cJSON_Parse(a), *jb = cJSON_Parse(b), *out = cJSON_CreateArray();
    struct p4_jsondiff d;
    const char *p;

    (void)state;
    d = p4_jsondiff_paths(ja, jb, NULL, NULL, 5, out);
    assert_int_equal(d.total, 1);
    assert_false(d.truncated);
    p = cJSON_GetArrayItem(out, 0)->valuestring;
    /* the path stops at the depth bound */
    assert_int_equal(strlen(p), (size_t)P4_JSONDIFF_DEPTH_MAX * 2 - 1);
    cJSON_Delete(ja);
    cJSON_Delete(jb);
    cJSON_Delete(out);
    free(a);
    free(b);
}

static void an_equal_deep_subtree_then_a_sibling(void **state)
{
    char *deep = nested(40, 1), buf[4200], got[256];
    cJSON *tall = cJSON_CreateObject(), *at = tall, *copy;
    struct p4_jsondiff d;

    (void)state;
    (void)snprintf(buf, sizeof(buf), "{\"d\":%s,\"z\":1}", deep);
    {
        char other[4200];
        (void)snprintf(other, sizeof(other), "{\"d\":%s,\"z\":2}", deep);
        assert_int_equal(paths_of(buf, other, NULL, 10, got, sizeof(got)), 1);
        assert_string_equal(got, "z");
    }
    /* deeper than the parser allows (built by hand): the walk stops, truncated */
    for (int i = 0; i < CJSON_NESTING_LIMIT + 100; i++)
        at = cJSON_AddObjectToObject(at, "k");
    copy = cJSON_Duplicate(tall, 1);
    assert_non_null(copy);
    d = p4_jsondiff_paths(tall, copy, NULL, NULL, 5, NULL);
    assert_true(d.truncated);
    cJSON_Delete(tall);
    cJSON_Delete(copy);
    free(deep);
}

static void a_long_path_is_cut(void **state)
{
    char key[1200], a[1300], b[1300];
    cJSON *ja, *jb, *out = cJSON_CreateArray();

    (void)state;
    memset(key, 'k', sizeof(key) - 1);
    key[sizeof(key) - 1] = '\0';
    (void)snprintf(a, sizeof(a), "{\"%s\":1}", key);
    (void)snprintf(b, sizeof(b), "{\"%s\":2}", key);
    ja = cJSON_Parse(a);
    jb = cJSON_Parse(b);
    assert_int_equal(p4_jsondiff_paths(ja, jb, NULL, NULL, 5, out).total, 1);
    assert_true(strlen(cJSON_GetArrayItem(out, 0)->valuestring) < P4_JSONDIFF_PATH_MAX);
    cJSON_Delete(ja);
    cJSON_Delete(jb);
    cJSON_Delete(out);
}

static void a_huge_diff_is_truncated(void **state)
{
    /* two wide objects: every lookup walks the other: past the work bound */
    cJSON *a = cJSON_CreateObject(), *b = cJSON_CreateObject();
    char k[32];
    struct p4_jsondiff d;

    (void)state;
    for (int i = 0; i < 6000; i++) {
        (void)snprintf(k, sizeof(k), "k%d", i);
        cJSON_AddNumberToObject(a, k, i);
        cJSON_AddNumberToObject(b, k, i + 1);
    }
    d = p4_jsondiff_paths(a, b, NULL, NULL, 5, NULL);
    assert_true(d.truncated);
    assert_true(d.total > 0 && d.total < 6000);
    cJSON_Delete(a);
    cJSON_Delete(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(equal_values_have_no_path),
        cmocka_unit_test(changed_added_and_removed_members),
        cmocka_unit_test(named_items_match_by_name),
        cmocka_unit_test(odd_member_names_are_quoted),
        cmocka_unit_test(skipped_paths_are_left_out),
        cmocka_unit_test(paths_are_bounded_and_counted),
        cmocka_unit_test(deep_values_are_compared_whole),
        cmocka_unit_test(an_equal_deep_subtree_then_a_sibling),
        cmocka_unit_test(a_long_path_is_cut),
        cmocka_unit_test(a_huge_diff_is_truncated),
    };
    return cmocka_run_group_tests_name("jsondiff", tests, NULL, NULL);
}
