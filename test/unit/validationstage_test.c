/*
 * validationstage_test.c: the Validation stage's pure parts: an HTTP check read from the spec,
 * an answer judged against it, and when the rollout began.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h> /* after the four it needs */

#include "phase4/core/error.h"
#include "phase4/core/json.h"
#include "stages/validation/steps.h"
#include "testjson.h"

static void read_check(const char *json, struct p4_vstage_check *c, cJSON **keep)
{
    struct p4_error err;

    *keep = test_json(json);
    assert_int_equal(p4_vstage_check_read(*keep, 0, c, &err), 0);
}

static void check_read_defaults_and_fields(void **state)
{
    struct p4_vstage_check c;
    struct p4_error err;
    cJSON *e;

    (void)state;
    read_check("{\"service\":\"web\",\"port\":8080}", &c, &e);
    assert_string_equal(c.service, "web");
    assert_string_equal(c.port, "8080");
    assert_string_equal(c.path, "/");
    assert_string_equal(c.method, "GET");
    assert_int_equal(c.ncodes, 0);
    assert_int_equal(c.success_threshold, 1);
    assert_int_equal(c.failure_threshold, 3);
    assert_int_equal(c.timeout_ms, 5000);
    assert_int_equal(c.interval_ms, 2000);
    assert_string_equal(c.name, "web:8080");
    assert_false(c.https);
    cJSON_Delete(e);

    read_check("{\"name\":\"api\",\"service\":\"web\",\"port\":\"http\",\"scheme\":\"https\","
               "\"path\":\"/healthz\",\"method\":\"HEAD\",\"statusCodes\":[200,204],"
               "\"timeout\":\"1s\",\"interval\":\"250ms\",\"successThreshold\":2,"
               "\"failureThreshold\":5,\"json\":{\"path\":\"a.b\",\"value\":\"up\"}}",
               &c, &e);
    assert_string_equal(c.name, "api");
    assert_string_equal(c.port, "http");
    assert_true(c.https);
    assert_string_equal(c.method, "HEAD");
    assert_int_equal(c.ncodes, 2);
    assert_int_equal(c.codes[1], 204);
    assert_int_equal(c.timeout_ms, 1000);
    assert_int_equal(c.interval_ms, 250);
    assert_int_equal(c.success_threshold, 2);
    assert_int_equal(c.failure_threshold, 5);
    assert_string_equal(c.json_path, "a.b");
    cJSON_Delete(e);

    read_check("{\"url\":\"http://10.0.0.1:9/x\"}", &c, &e);
    assert_null(c.service);
    assert_string_equal(c.name, "http://10.0.0.1:9/x");
    cJSON_Delete(e);

    /* Both, neither, a port that is neither a number nor a name: refused, with the index. */
    e = test_json("{\"service\":\"a\",\"port\":1,\"url\":\"http://x\"}");
    assert_int_equal(p4_vstage_check_read(e, 3, &c, &err), P4_ERR_INVAL);
    assert_non_null(strstr(err.message, "http[3]"));
    cJSON_Delete(e);
    e = test_json("{}");
    assert_int_equal(p4_vstage_check_read(e, 0, &c, &err), P4_ERR_INVAL);
    cJSON_Delete(e);
    e = test_json("{\"service\":\"a\",\"port\":\"Bad Name\"}");
    assert_int_equal(p4_vstage_check_read(e, 0, &c, &err), P4_ERR_INVAL);
    cJSON_Delete(e);
    e = test_json("{\"service\":\"a\",\"port\":70000}");
    assert_int_equal(p4_vstage_check_read(e, 0, &c, &err), P4_ERR_INVAL);
    cJSON_Delete(e);
}

static bool judge(const struct p4_vstage_check *c, long status, const char *body, char *why)
{
    return p4_vstage_http_judge(c, status, body, body ? strlen(body) : 0, why, 512);
}

static void http_judge_rules(void **state)
{
    struct p4_vstage_check c;
    char why[512];
    cJSON *e;

    (void)state;
    read_check("{\"service\":\"web\",\"port\":80}", &c, &e);
    assert_true(judge(&c, 200, "ok", why));
    assert_string_equal(why, "status 200");
    assert_false(judge(&c, 204, NULL, why));
    assert_string_equal(why, "status 204, want 200");
    assert_false(judge(&c, 503, "db\ndown\x1b[31m", why));
    assert_string_equal(why, "status 503, want 200; body: \"db down?[31m\"");
    cJSON_Delete(e);

    read_check("{\"service\":\"web\",\"port\":80,\"statusCodes\":[200,204],"
               "\"bodyContains\":\"ready\"}",
               &c, &e);
    assert_false(judge(&c, 500, "ready", why));
    assert_non_null(strstr(why, "want 200 or 204"));
    assert_true(judge(&c, 204, "all ready", why));
    assert_false(judge(&c, 200, "starting", why));
    assert_non_null(strstr(why, "does not contain \"ready\""));
    assert_false(judge(&c, 200, NULL, why));
    cJSON_Delete(e);

    read_check("{\"url\":\"http://x\",\"json\":{\"path\":\"checks.db\",\"value\":\"up\"}}", &c, &e);
    assert_true(judge(&c, 200, "{\"checks\":{\"db\":\"up\"}}", why));
    assert_false(judge(&c, 200, "{\"checks\":{\"db\":\"down\"}}", why));
    assert_non_null(strstr(why, "checks.db is not \"up\""));
    assert_false(judge(&c, 200, "{\"checks\":{}}", why));
    assert_non_null(strstr(why, "has no checks.db"));
    assert_false(judge(&c, 200, "<html>", why));
    assert_non_null(strstr(why, "not JSON"));
    cJSON_Delete(e);

    /* Numbers, booleans and null compare as JSON writes them. */
    read_check("{\"url\":\"http://x\",\"json\":{\"path\":\"n\",\"value\":\"3\"}}", &c, &e);
    assert_true(judge(&c, 200, "{\"n\":3.0}", why));
    assert_false(judge(&c, 200, "{\"n\":\"4\"}", why));
    cJSON_Delete(e);
    read_check("{\"url\":\"http://x\",\"json\":{\"path\":\"ok\",\"value\":\"true\"}}", &c, &e);
    assert_true(judge(&c, 200, "{\"ok\":true}", why));
    assert_false(judge(&c, 200, "{\"ok\":false}", why));
    cJSON_Delete(e);

    /* A long body is quoted only in part, marked as cut. */
    {
        char big[4096];
        memset(big, 'x', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        read_check("{\"url\":\"http://x\"}", &c, &e);
        assert_false(judge(&c, 500, big, why));
        assert_true(strlen(why) < 220);
        assert_non_null(strstr(why, "...\""));
        cJSON_Delete(e);
    }
}

static void since_reads_the_rollout_start(void **state)
{
    cJSON *obj;

    (void)state;
    obj =
        test_json("{\"metadata\":{\"generation\":2},\"status\":{\"report\":{\"generation\":2,"
                  "\"stages\":[{\"name\":\"Kubernetes\",\"startedAt\":\"2024-01-01T00:00:10Z\"}]},"
                  "\"conditions\":[{\"type\":\"HelmReady\",\"observedGeneration\":2,"
                  "\"lastTransitionTime\":\"2024-01-01T00:00:05Z\"}]}}");
    assert_int_equal(p4_vstage_since(obj, 2000000000), 1704067210);
    cJSON_Delete(obj);
    /* The report is another generation's: HelmReady's transition. */
    obj =
        test_json("{\"metadata\":{\"generation\":3},\"status\":{\"report\":{\"generation\":2,"
                  "\"stages\":[{\"name\":\"Kubernetes\",\"startedAt\":\"2024-01-01T00:00:10Z\"}]},"
                  "\"conditions\":[{\"type\":\"HelmReady\",\"observedGeneration\":3,"
                  "\"lastTransitionTime\":\"2024-01-01T00:00:05Z\"}]}}");
    assert_int_equal(p4_vstage_since(obj, 2000000000), 1704067205);
    cJSON_Delete(obj);
    /* Nothing to go on: ten minutes back. */
    obj = test_json("{\"metadata\":{\"generation\":3},\"status\":7}");
    assert_int_equal(p4_vstage_since(obj, 2000000000), 2000000000 - 600);
    cJSON_Delete(obj);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(check_read_defaults_and_fields),
        cmocka_unit_test(http_judge_rules),
        cmocka_unit_test(since_reads_the_rollout_start),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
