/* informer_test.c: what the informer reads of an object cJSON cannot parse, and its namespace
 * filter (keep_ns). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h> /* after the four it needs */

#include "phase4/core/json.h"
#include "phase4/runtime/informer.h"

/*
 * A Phase4Deployment whose spec.chart.values nests depth levels, with before and after put
 * around the metadata members (so that members may come in any order). Caller frees.
 */
static char *deep_object(size_t depth, const char *meta, const char *status)
{
    size_t n = 1024 + depth * 6 + strlen(meta) + (status ? strlen(status) : 0);
    char *buf = malloc(n);
    int at;

    assert_non_null(buf);
    at = snprintf(buf, n,
                  "{\"apiVersion\":\"phase4.io/v1alpha1\",\"kind\":\"Phase4Deployment\","
                  "\"spec\":{\"chart\":{\"name\":\"webapp\",\"values\":");
    for (size_t i = 0; i < depth; i++)
        at += snprintf(buf + at, n - (size_t)at, "{\"a\":");
    buf[at++] = '1';
    memset(buf + at, '}', depth + 2);
    at += (int)depth + 2;
    (void)snprintf(buf + at, n - (size_t)at, ",\"metadata\":%s%s%s}", meta,
                   status ? ",\"status\":" : "", status ? status : "");
    return buf;
}

static void reads_identity_and_why_of_a_deep_object(void **state)
{
    char *obj = deep_object(1100,
                            "{\"name\":\"deep\",\"namespace\":\"team-a\",\"uid\":\"u-1\","
                            "\"resourceVersion\":\"42\",\"generation\":3,\"labels\":{\"x\":\"y\"}}",
                            "{\"observedGeneration\":2,\"conditions\":[]}");
    struct p4_error err;
    struct p4_informer_unreadable u;

    (void)state;
    assert_null(p4_json_parse(obj, strlen(obj), &err)); /* cJSON cannot */
    assert_int_equal(p4_informer_read_unreadable(obj, strlen(obj), &err, &u), 0);
    assert_string_equal(u.ns, "team-a");
    assert_string_equal(u.name, "deep");
    assert_string_equal(u.uid, "u-1");
    assert_string_equal(u.resource_version, "42");
    assert_string_equal(u.kind, "Phase4Deployment");
    assert_string_equal(u.api_version, "phase4.io/v1alpha1");
    assert_true(u.has_generation);
    assert_int_equal(u.generation, 3);
    assert_string_equal(u.why, "spec.chart.values nests deeper than 1000 levels");
    assert_string_equal(u.status, "{\"observedGeneration\":2,\"conditions\":[]}");
    p4_informer_unreadable_close(&u);
    assert_null(u.status);
    free(obj);
}

static void reads_what_it_can(void **state)
{
    char *obj = deep_object(1100, "{\"name\":\"deep\",\"generation\":1.5}", "{\"a\":[[[");
    struct p4_error err = {.code = P4_ERR_PARSE, .message = "invalid JSON at byte 9"};
    struct p4_informer_unreadable u;

    (void)state;
    /* status is not JSON: the object is not either, and nothing can be read. */
    assert_int_equal(p4_informer_read_unreadable(obj, strlen(obj), &err, &u), P4_ERR_INVAL);
    assert_non_null(strstr(u.why, "not valid JSON"));
    assert_string_equal(u.name, "");
    free(obj);

    obj = deep_object(1100, "{\"name\":\"deep\",\"generation\":1.5,\"namespace\":7}", "[1]");
    assert_int_equal(p4_informer_read_unreadable(obj, strlen(obj), &err, &u), 0);
    assert_string_equal(u.name, "deep");
    assert_string_equal(u.ns, "");  /* not a string */
    assert_false(u.has_generation); /* not an integer */
    assert_null(u.status);          /* not an object */
    p4_informer_unreadable_close(&u);
    free(obj);

    /* Valid JSON cJSON refuses for another reason: the parser's words. */
    assert_int_equal(p4_informer_read_unreadable("{\"metadata\":{\"name\":\"x\"}}", 25, &err, &u),
                     0);
    assert_string_equal(u.why, "the object is not valid JSON (invalid JSON at byte 9)");
    err.code = P4_ERR_TOOBIG;
    assert_int_equal(p4_informer_read_unreadable("{\"metadata\":{\"name\":\"x\"}}", 25, &err, &u),
                     0);
    assert_string_equal(u.why, "the object is larger than 64 MiB");

    /* No name, not an object, no bytes: no key to keep it under. */
    assert_int_equal(p4_informer_read_unreadable("{\"metadata\":{}}", 15, &err, &u), P4_ERR_INVAL);
    assert_int_equal(p4_informer_read_unreadable("[1]", 3, &err, &u), P4_ERR_INVAL);
    assert_int_equal(p4_informer_read_unreadable(NULL, 3, &err, &u), P4_ERR_INVAL);
    assert_int_equal(p4_informer_read_unreadable("{\"metadata\":{\"name\":\"x\"}", 24, &err, &u),
                     P4_ERR_INVAL);
}

/* "[{"manager":"kubectl","fieldsV1":{"f:a":...}}]" nesting depth levels in all. Caller frees. */
static char *deep_managed_fields(size_t depth)
{
    size_t n = 256 + depth * 8;
    char *buf = malloc(n);
    int at = snprintf(buf, n, "[{\"manager\":\"kubectl\",\"fieldsV1\":");

    assert_non_null(buf);
    for (size_t i = 0; i < depth - 2; i++)
        at += snprintf(buf + at, n - (size_t)at, "{\"f:a\":");
    at += snprintf(buf + at, n - (size_t)at, "1");
    memset(buf + at, '}', depth - 1);
    at += (int)depth - 1;
    (void)snprintf(buf + at, n - (size_t)at, "]");
    return buf;
}

/* managedFields (which the cache drops) may be what is too deep: the object parses without it. */
static void parses_without_deep_managed_fields(void **state)
{
    char *mf = deep_managed_fields(1000); /* at metadata.managedFields: 1002 levels */
    static const char *const metas[] = {
        "{\"managedFields\":%s,\"name\":\"a\",\"namespace\":\"n\"}",
        "{\"name\":\"a\", \"managedFields\" : %s , \"namespace\":\"n\"}",
        "{\"name\":\"a\",\"namespace\":\"n\",\"managedFields\":%s }",
        "{ \"managedFields\":%s}",
    };
    char meta[16384];
    struct p4_error err;
    struct p4_informer_unreadable u;

    (void)state;
    for (size_t i = 0; i < sizeof(metas) / sizeof(metas[0]); i++) {
        char *obj;
        cJSON *tree;

        (void)snprintf(meta, sizeof(meta), metas[i], mf);
        obj = deep_object(900, meta, NULL);
        assert_null(p4_json_parse(obj, strlen(obj), NULL));
        tree = p4_informer_parse(obj, strlen(obj), &err);
        assert_non_null(tree);
        assert_null(p4_json_get(tree, "metadata.managedFields"));
        if (i < 3) {
            assert_string_equal(p4_json_str(tree, "metadata.name"), "a");
            assert_string_equal(p4_json_str(tree, "metadata.namespace"), "n");
        }
        cJSON_Delete(tree);
        free(obj);
    }
    /* Too deep elsewhere too: refused, and the why names that place, not managedFields. */
    (void)snprintf(meta, sizeof(meta), metas[0], mf);
    {
        char *obj = deep_object(1100, meta, NULL);

        assert_null(p4_informer_parse(obj, strlen(obj), &err));
        assert_int_equal(p4_informer_read_unreadable(obj, strlen(obj), &err, &u), 0);
        assert_string_equal(u.why, "spec.chart.values nests deeper than 1000 levels");
        free(obj);
    }
    /* Too deep in another member of metadata: named there. */
    {
        char *labels = deep_managed_fields(1100), *obj;

        (void)snprintf(meta, sizeof(meta), "{\"name\":\"a\",\"labels\":{\"x\":%s}}", labels);
        obj = deep_object(10, meta, NULL);
        assert_null(p4_informer_parse(obj, strlen(obj), NULL));
        assert_int_equal(p4_informer_read_unreadable(obj, strlen(obj), &err, &u), 0);
        assert_string_equal(u.why, "metadata.labels.x nests deeper than 1000 levels");
        free(obj);
        free(labels);
    }
    free(mf);
}

/* keep_ns of the tests: only "team-a" is targeted; counts what it was asked. */
static int asked;
static char last_ns[64];

static bool keep_team_a(const char *ns, void *data)
{
    (void)data;
    asked++;
    (void)snprintf(last_ns, sizeof(last_ns), "%s", ns);
    return strcmp(ns, "team-a") == 0;
}

static bool keeps(struct p4_informer *inf, const char *obj)
{
    return p4_informer_keeps(inf, obj, strlen(obj));
}

static void keeps_only_accepted_namespaces(void **state)
{
    uv_loop_t loop;
    const struct p4_informer_handlers h = {.keep_ns = keep_team_a};
    struct p4_informer *inf, *all;

    (void)state;
    assert_int_equal(uv_loop_init(&loop), 0);
    inf = p4_informer_new(&loop, NULL, "/api/v1/pods", &h);
    all = p4_informer_new(&loop, NULL, "/api/v1/pods", NULL);
    asked = 0;
    assert_true(keeps(inf, "{\"metadata\":{\"name\":\"p\",\"namespace\":\"team-a\"},\"spec\":{}}"));
    assert_false(
        keeps(inf, "{\"kind\":\"Pod\",\"metadata\":{\"namespace\":\"team-b\",\"name\":\"p\"}}"));
    assert_string_equal(last_ns, "team-b");
    /* Escaped names are read unescaped; members come in any order. */
    assert_true(keeps(inf, "{\"status\":{\"phase\":\"Running\"},\"metadata\":"
                           "{\"namespace\":\"t\\u0065am-a\"}}"));
    /* No namespace (cluster-scoped, or none said): asked with "". */
    assert_false(keeps(inf, "{\"metadata\":{\"name\":\"n\"}}"));
    assert_string_equal(last_ns, "");
    assert_false(keeps(inf, "{\"metadata\":{\"namespace\":7}}"));
    assert_string_equal(last_ns, "");
    assert_int_equal(asked, 5);
    /* What is not an object is kept, unasked: the parser says what is wrong. */
    assert_true(keeps(inf, "[1,2]"));
    assert_true(keeps(inf, "\"x\""));
    assert_true(keeps(inf, ""));
    assert_int_equal(asked, 5);
    /* Without keep_ns everything is kept. */
    assert_true(keeps(all, "{\"metadata\":{\"name\":\"p\",\"namespace\":\"team-b\"}}"));
    /* A fill needs a namespace; forgetting one never cached is nothing. */
    assert_int_equal(p4_informer_fill_ns(inf, "", NULL, NULL), P4_ERR_INVAL);
    p4_informer_forget_ns(inf, "team-b");
    assert_int_equal(p4_informer_len(inf), 0);
    p4_informer_close(inf);
    p4_informer_close(all);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reads_identity_and_why_of_a_deep_object),
        cmocka_unit_test(reads_what_it_can),
        cmocka_unit_test(parses_without_deep_managed_fields),
        cmocka_unit_test(keeps_only_accepted_namespaces),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
