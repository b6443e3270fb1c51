/*
 * labelsel_test.c: LabelSelectors written as a labelSelector query (phase4/kube/labelsel.h):
 * each operator, the shapes refused, bytes no label has, and a buffer too small.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four above first. */
#include <stdio.h>
#include <string.h>

#include <cmocka.h> /* after the four it needs */

#include "phase4/core/error.h"
#include "phase4/core/json.h"
#include "phase4/kube/labelsel.h"

/* The query of the selector in json, or "ERR: message". */
static const char *query_of(const char *json, char *out, size_t size)
{
    static char result[600];
    struct p4_error err = {0};
    cJSON *sel = json ? p4_json_parse(json, strlen(json), &err) : NULL;
    int rc = p4_labelsel_query(sel, out, size, &err);

    if (rc == 0)
        (void)snprintf(result, sizeof(result), "%s", out);
    else
        (void)snprintf(result, sizeof(result), "ERR %s: %s", p4_strerror(rc), err.message);
    if (rc != 0)
        assert_string_equal(out, "");
    cJSON_Delete(sel);
    return result;
}

static void each_operator_is_written_as_the_api_reads_it(void **state)
{
    char out[512];

    (void)state;
    assert_string_equal(query_of("{\"matchLabels\":{\"app\":\"web\"}}", out, sizeof(out)),
                        "app=web");
    assert_string_equal(
        query_of("{\"matchLabels\":{\"app.kubernetes.io/name\":\"webapp\",\"tier\":\"\"},"
                 "\"matchExpressions\":["
                 "{\"key\":\"track\",\"operator\":\"In\",\"values\":[\"stable\",\"beta\"]},"
                 "{\"key\":\"env\",\"operator\":\"NotIn\",\"values\":[\"dev\"]},"
                 "{\"key\":\"release\",\"operator\":\"Exists\"},"
                 "{\"key\":\"legacy\",\"operator\":\"DoesNotExist\",\"values\":[]}]}",
                 out, sizeof(out)),
        "app.kubernetes.io/name=webapp,tier=,track in (stable,beta),env notin (dev),release,"
        "!legacy");
    /* Expressions alone, and null members read as absent. */
    assert_string_equal(query_of("{\"matchLabels\":null,\"matchExpressions\":[{\"key\":\"a\","
                                 "\"operator\":\"Exists\",\"values\":null}]}",
                                 out, sizeof(out)),
                        "a");
    /* A Job's generated selector. */
    assert_string_equal(query_of("{\"matchLabels\":{\"batch.kubernetes.io/controller-uid\":"
                                 "\"0b5f3c1e-8d7a-4b7e-9a43-6c1f2e0d9a11\"}}",
                                 out, sizeof(out)),
                        "batch.kubernetes.io/controller-uid=0b5f3c1e-8d7a-4b7e-9a43-6c1f2e0d9a11");
}

static void bad_selectors_are_refused(void **state)
{
    static const struct {
        const char *json, *says;
    } cases[] = {
        {NULL, "is absent: it selects nothing"},
        {"null", "is absent: it selects nothing"},
        {"{}", "is empty: it would select every pod"},
        {"{\"matchLabels\":{}}", "is empty"},
        {"[]", "is not a LabelSelector"},
        {"{\"matchLabels\":[]}", "is not a LabelSelector"},
        {"{\"matchExpressions\":{}}", "is not a LabelSelector"},
        {"{\"matchLabels\":{\"a\":1}}", "matchLabels entry that is not a label"},
        {"{\"matchLabels\":{\"a\":\"x,b=y\"}}", "matchLabels entry that is not a label"},
        {"{\"matchLabels\":{\"a b\":\"x\"}}", "matchLabels entry that is not a label"},
        {"{\"matchLabels\":{\"\":\"x\"}}", "matchLabels entry that is not a label"},
        {"{\"matchLabels\":{\"a\":\"x/y\"}}", "matchLabels entry that is not a label"},
        {"{\"matchExpressions\":[{\"operator\":\"Exists\"}]}", "without a key or operator"},
        {"{\"matchExpressions\":[{\"key\":\"a\"}]}", "without a key or operator"},
        {"{\"matchExpressions\":[{\"key\":\"a!\",\"operator\":\"Exists\"}]}",
         "without a key or operator"},
        {"{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"Gt\",\"values\":[\"1\"]}]}",
         "unknown matchExpressions operator"},
        {"{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"In\"}]}",
         "In or NotIn expression without values"},
        {"{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"NotIn\",\"values\":[]}]}",
         "In or NotIn expression without values"},
        {"{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"Exists\",\"values\":[\"x\"]}]}",
         "Exists or DoesNotExist expression with values"},
        {"{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"In\",\"values\":\"x\"}]}",
         "values that are not a list"},
        {"{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"In\",\"values\":[\"x)\"]}]}",
         "a value that is not a label value"},
        {"{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"In\",\"values\":[2]}]}",
         "a value that is not a label value"},
        {"{\"matchExpressions\":[\"a\"]}", "without a key or operator"},
    };
    char out[256];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *got = query_of(cases[i].json, out, sizeof(out));
        if (strncmp(got, "ERR ", 4) != 0 || strstr(got, cases[i].says) == NULL)
            fail_msg("case %zu (%s): %s", i, cases[i].json ? cases[i].json : "NULL", got);
    }
}

static void a_query_that_does_not_fit_is_refused(void **state)
{
    static const char json[] = "{\"matchLabels\":{\"app\":\"web\"},\"matchExpressions\":["
                               "{\"key\":\"t\",\"operator\":\"In\",\"values\":[\"a\",\"b\"]}]}";
    char out[32];
    size_t want = strlen("app=web,t in (a,b)");

    (void)state;
    assert_string_equal(query_of(json, out, want + 1), "app=web,t in (a,b)");
    for (size_t size = 1; size <= want; size++) {
        const char *got = query_of(json, out, size);
        if (strstr(got, "ERR ") != got || strstr(got, "is longer than") == NULL)
            fail_msg("size %zu: %s", size, got);
    }
    /* A bad entry past the point where it stopped fitting is still told as bad. */
    assert_non_null(strstr(query_of("{\"matchLabels\":{\"app\":\"web\"},\"matchExpressions\":["
                                    "{\"key\":\"t\",\"operator\":\"Gt\"}]}",
                                    out, 4),
                           "unknown matchExpressions operator"));
    {
        struct p4_error err = {0};
        assert_int_equal(p4_labelsel_query(NULL, out, 0, &err), P4_ERR_TOOBIG);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(each_operator_is_written_as_the_api_reads_it),
        cmocka_unit_test(bad_selectors_are_refused),
        cmocka_unit_test(a_query_that_does_not_fit_is_refused),
    };
    return cmocka_run_group_tests_name("labelsel", tests, NULL, NULL);
}
