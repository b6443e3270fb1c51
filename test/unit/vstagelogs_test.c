/*
 * vstagelogs_test.c: the Validation stage's Logs gate decisions (stages/validation/steps.h,
 * logs.c): which inventory entries are read for pods, which containers of a pod, and the gate's
 * verdict and messages on what was read. The matcher itself is logscan_test.c's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four above first. */
#include <stdio.h>
#include <string.h>

#include <cmocka.h> /* after the four it needs */

#include "phase4/core/error.h"
#include "phase4/core/json.h"
#include "stages/validation/logscan.h"
#include "stages/validation/steps.h"
#include "testjson.h"

#define SINCE 1714557662 /* 2024-05-01T10:01:02Z */

/* text's bytes at dst, without its NUL (dst is a longer buffer). */
static void place(char *dst, const char *text)
{
    while (*text)
        *dst++ = *text++;
}

static void workloads_of_the_inventory_are_read_for_pods(void **state)
{
    static const struct {
        const char *entry, *path; /* NULL: not read */
        bool pod;
    } cases[] = {
        {"{'apiVersion':'apps/v1','kind':'Deployment','namespace':'shop','name':'web'}",
         "/apis/apps/v1/namespaces/shop/deployments/web", false},
        {"{'apiVersion':'apps/v1','kind':'StatefulSet','name':'db'}",
         "/apis/apps/v1/namespaces/target/statefulsets/db", false},
        {"{'apiVersion':'apps/v1','kind':'DaemonSet','namespace':'','name':'agent'}",
         "/apis/apps/v1/namespaces/target/daemonsets/agent", false},
        {"{'apiVersion':'apps/v1','kind':'ReplicaSet','namespace':'a','name':'rs'}",
         "/apis/apps/v1/namespaces/a/replicasets/rs", false},
        {"{'apiVersion':'batch/v1','kind':'Job','namespace':'a','name':'migrate'}",
         "/apis/batch/v1/namespaces/a/jobs/migrate", false},
        {"{'apiVersion':'v1','kind':'Pod','namespace':'a','name':'one-off'}",
         "/api/v1/namespaces/a/pods/one-off", true},
        /* Names are escaped. */
        {"{'apiVersion':'v1','kind':'Pod','namespace':'a','name':'x/y?z'}",
         "/api/v1/namespaces/a/pods/x%2Fy%3Fz", true},
        /* Not a workload, another group's kind of the same name, or a broken entry. */
        {"{'apiVersion':'v1','kind':'Service','namespace':'a','name':'web'}", NULL, false},
        {"{'apiVersion':'batch/v1','kind':'CronJob','namespace':'a','name':'c'}", NULL, false},
        {"{'apiVersion':'example.com/v1','kind':'Deployment','namespace':'a','name':'d'}", NULL,
         false},
        {"{'apiVersion':'apps/v1beta1','kind':'Deployment','namespace':'a','name':'d'}", NULL,
         false},
        {"{'apiVersion':'apps/v1','kind':'Deployment','namespace':'a'}", NULL, false},
        {"{'apiVersion':'apps/v1','kind':'Deployment','namespace':'a','name':''}", NULL, false},
        {"{'kind':'Deployment','namespace':'a','name':'d'}", NULL, false},
        {"{'apiVersion':'apps/v1','kind':7,'namespace':'a','name':'d'}", NULL, false},
        {"[]", NULL, false},
    };
    char path[256];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cJSON *e = test_json(cases[i].entry);
        bool pod = !cases[i].pod;
        bool got = p4_vstage_logs_workload(e, "target", path, sizeof(path), &pod);
        if (got != (cases[i].path != NULL))
            fail_msg("case %zu: %s", i, cases[i].entry);
        if (got) {
            assert_string_equal(path, cases[i].path);
            assert_int_equal(pod, cases[i].pod);
        }
        cJSON_Delete(e);
    }
    /* No namespace anywhere, or a path that does not fit. */
    {
        cJSON *e = test_json("{'apiVersion':'apps/v1','kind':'Deployment','name':'web'}");
        bool pod;
        assert_false(p4_vstage_logs_workload(e, NULL, path, sizeof(path), &pod));
        assert_false(p4_vstage_logs_workload(e, "", path, sizeof(path), &pod));
        assert_false(p4_vstage_logs_workload(e, "target", path, 20, &pod));
        cJSON_Delete(e);
    }
}

static void containers_that_never_ran_are_skipped(void **state)
{
    cJSON *pod =
        test_json("{'spec':{'initContainers':[{'name':'init'}],'containers':["
                  "{'name':'app'},{'name':'sidecar'},{'name':'waiting'},{'name':'restarting'},{},"
                  "{'name':'nostatus'}]},"
                  "'status':{'containerStatuses':["
                  "{'name':'app','state':{'running':{'startedAt':'2024-05-01T10:00:00Z'}}},"
                  "{'name':'sidecar','state':{'terminated':{'exitCode':0}}},"
                  "{'name':'waiting','state':{'waiting':{'reason':'ContainerCreating'}}},"
                  "{'name':'restarting','state':{'waiting':{'reason':'CrashLoopBackOff'}},"
                  "'lastState':{'terminated':{'exitCode':1}}}]}}");
    const char *names[8];
    int skipped = 0, n;
    bool capped = false;

    (void)state;
    n = p4_vstage_logs_containers(pod, names, 8, &skipped, &capped);
    assert_int_equal(n, 4);
    assert_string_equal(names[0], "app");
    assert_string_equal(names[1], "sidecar");
    assert_string_equal(names[2], "restarting"); /* it ran before: its log may tell why */
    assert_string_equal(names[3], "nostatus");   /* no word either way: the API server decides */
    assert_int_equal(skipped, 1);
    assert_false(capped);
    /* At most max: the rest is told. */
    skipped = 0;
    n = p4_vstage_logs_containers(pod, names, 2, &skipped, &capped);
    assert_int_equal(n, 2);
    assert_true(capped);
    cJSON_Delete(pod);
    /* A pod of the wrong shape has no containers. */
    pod = test_json("{'spec':{'containers':{'name':'x'}}}");
    capped = false;
    assert_int_equal(p4_vstage_logs_containers(pod, names, 8, &skipped, &capped), 0);
    cJSON_Delete(pod);
}

static struct p4_logscan_result result_with(int nhits, uint64_t matched, const char *line)
{
    struct p4_logscan_result res;

    memset(&res, 0, sizeof(res));
    res.lines = matched + 10;
    res.matched = matched;
    res.nhits = nhits;
    for (int i = 0; i < nhits; i++) {
        (void)snprintf(res.hits[i].source, sizeof(res.hits[i].source),
                       "pod web-7d9f-%d container app", i);
        (void)snprintf(res.hits[i].line, sizeof(res.hits[i].line), "%s", line);
    }
    return res;
}

static void critical_lines_fail_the_gate_quoted(void **state)
{
    struct p4_logscan_result res = result_with(2, 2, "panic: nil map");
    struct p4_vstage_logs_tally t = {.pods = 2, .read = 2};
    struct p4_vstage_failure f;
    char msg[P4_ERROR_MESSAGE_MAX];

    (void)state;
    memset(&f, 0, sizeof(f));
    assert_false(p4_vstage_logs_judge(&res, &t, SINCE, &f, msg, sizeof(msg)));
    assert_int_equal(f.cls, P4_FAIL_ARTIFACT);
    assert_string_equal(f.reason, "CriticalLogLines");
    assert_string_equal(
        f.err.message, "2 critical line(s) in the logs since 10:01:02Z: pod web-7d9f-0 container "
                       "app: \"panic: nil map\"; pod web-7d9f-1 container app: \"panic: nil map\"");

    /* Three long lines: each cut to its share of the room, with "...", the message within its
       size and its quotes closed. */
    {
        char line[P4_LOGSCAN_QUOTE_MAX + 1];
        memset(line, 'x', P4_LOGSCAN_QUOTE_MAX - 3);
        place(line, "panic: ");
        place(line + P4_LOGSCAN_QUOTE_MAX - 3, "...");
        line[P4_LOGSCAN_QUOTE_MAX] = '\0';
        res = result_with(3, 7, line);
        memset(&f, 0, sizeof(f));
        assert_false(p4_vstage_logs_judge(&res, &t, SINCE, &f, msg, sizeof(msg)));
        assert_true(strlen(f.err.message) < sizeof(f.err.message));
        assert_int_equal(strncmp(f.err.message,
                                 "7 critical line(s) in the logs since 10:01:02Z: "
                                 "pod web-7d9f-0 container app: \"panic: xxx",
                                 88),
                         0);
        assert_non_null(strstr(f.err.message, "; pod web-7d9f-1 container app: \"panic: "));
        assert_non_null(strstr(f.err.message, "; pod web-7d9f-2 container app: \"panic: "));
        assert_non_null(strstr(f.err.message, "xx...\"; pod web-7d9f-1"));
        assert_int_equal(f.err.message[strlen(f.err.message) - 1], '"');
    }
    /* More failing lines than kept: the count says so, the kept ones are quoted. */
    res = result_with(1, 40, "FATAL disk full");
    memset(&f, 0, sizeof(f));
    assert_false(p4_vstage_logs_judge(&res, &t, SINCE, &f, msg, sizeof(msg)));
    assert_string_equal(f.err.message, "40 critical line(s) in the logs since 10:01:02Z: pod "
                                       "web-7d9f-0 container app: \"FATAL disk full\"");
}

static void clean_logs_pass_saying_what_was_read(void **state)
{
    struct p4_logscan_result res = result_with(0, 0, "");
    struct p4_vstage_logs_tally t = {.pods = 2, .read = 3};
    struct p4_vstage_failure f;
    char msg[P4_ERROR_MESSAGE_MAX];

    (void)state;
    memset(&f, 0, sizeof(f));
    assert_true(p4_vstage_logs_judge(&res, &t, SINCE, &f, msg, sizeof(msg)));
    assert_string_equal(msg, "3 container(s) of 2 pod(s) logged no critical line since 10:01:02Z");
    assert_null(f.reason);

    res.allowed = 4;
    t = (struct p4_vstage_logs_tally){
        .pods = 50, .read = 60, .skipped = 2, .pods_capped = true, .containers_capped = true};
    assert_true(p4_vstage_logs_judge(&res, &t, SINCE, &f, msg, sizeof(msg)));
    assert_string_equal(msg, "60 container(s) of 50 pod(s) logged no critical line since "
                             "10:01:02Z; 2 container(s) not started or gone, skipped; 4 "
                             "line(s) excused by allowPatterns; only the first 50 pods were "
                             "read; only the first 8 containers of a pod were read");

    res.allowed = 0;
    t = (struct p4_vstage_logs_tally){.pods = 1, .skipped = 1};
    assert_true(p4_vstage_logs_judge(&res, &t, SINCE, &f, msg, sizeof(msg)));
    assert_string_equal(msg, "no container of 1 pod(s) had a log to read since 10:01:02Z; 1 "
                             "container(s) not started or gone, skipped");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(workloads_of_the_inventory_are_read_for_pods),
        cmocka_unit_test(containers_that_never_ran_are_skipped),
        cmocka_unit_test(critical_lines_fail_the_gate_quoted),
        cmocka_unit_test(clean_logs_pass_saying_what_was_read),
    };
    return cmocka_run_group_tests_name("vstagelogs", tests, NULL, NULL);
}
