/*
 * vstage_smoke_test.c: the Validation stage's smoke-test decisions (stages/validation/
 * smokejob.c): the tests read from the spec and from the chart's test hooks, the Job's name and
 * body, whether a Job is the resource's, what a Job's status and its pod say, and the gate's
 * messages, good input and bad.
 */
/* cmocka.h needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h> /* after the four it needs */

#include "phase4/core/json.h"
#include "phase4/stages/kubernetes/applymark.h"
#include "stages/validation/steps.h"
#include "testjson.h"

static const struct p4_vstage_owner OWNER = {
    .ns = "shop", .name = "web", .uid = "uid-1", .target_ns = "shop", .generation = 3};
static const struct p4_vstage_owner ELSEWHERE = {
    .ns = "team", .name = "web", .uid = "uid-1", .target_ns = "shop", .generation = 3};

static void assert_contains(const char *s, const char *part)
{
    if (strstr(s, part) == NULL)
        fail_msg("\"%s\" lacks \"%s\"", s, part);
}

static struct p4_vstage_smoke_test test_named(const char *name, bool helm)
{
    struct p4_vstage_smoke_test t = {.helm = helm, .timeout_ms = 300000, .secs = -1};

    (void)snprintf(t.name, sizeof(t.name), "%s", name);
    (void)snprintf(t.timeout, sizeof(t.timeout), "5m");
    p4_vstage_smoke_job_name("web", helm, name, 3, t.job);
    return t;
}

/* ---- names ---- */

static void job_names_are_stable_and_fit(void **state)
{
    char a[P4_VSTAGE_NAME_MAX + 1], b[P4_VSTAGE_NAME_MAX + 1], c[P4_VSTAGE_NAME_MAX + 1];
    char long_name[200];

    (void)state;
    p4_vstage_smoke_job_name("web", false, "api", 3, a);
    assert_string_equal(a, "web-smoke-api-g3");
    p4_vstage_smoke_job_name("web", true, "web-webapp-test", 12, a);
    assert_string_equal(a, "web-test-web-webapp-test-g12");

    /* Too long: cut, with a hash of the whole name, the same every time; never ending "-" */
    memset(long_name, 'a', sizeof(long_name));
    long_name[51] = '-'; /* the cut falls after a '-': it is trimmed */
    long_name[120] = '\0';
    p4_vstage_smoke_job_name(long_name, false, "api", 3, a);
    p4_vstage_smoke_job_name(long_name, false, "api", 3, b);
    p4_vstage_smoke_job_name(long_name, false, "api", 4, c);
    assert_string_equal(a, b);
    assert_string_not_equal(a, c); /* another generation, another Job */
    assert_true(strlen(a) <= P4_VSTAGE_NAME_MAX);
    assert_int_equal(strlen(a), 51 + 11);
    assert_int_equal(a[50], 'a');
    assert_int_equal(a[51], '-');
    assert_null(strstr(a, "--"));

    /* Exactly 63 is kept whole. */
    memset(long_name, 'b', sizeof(long_name));
    long_name[63 - strlen("-smoke-x-g1")] = '\0';
    p4_vstage_smoke_job_name(long_name, false, "x", 1, a);
    assert_int_equal(strlen(a), 63);
    assert_non_null(strstr(a, "-smoke-x-g1"));
}

static void label_values_agree_with_the_kubernetes_stage(void **state)
{
    char ours[P4_VSTAGE_NAME_MAX + 1], theirs[P4_LABEL_VALUE_MAX + 1], long_name[100];

    (void)state;
    assert_string_equal(p4_vstage_label_value("web", ours), "web");
    memset(long_name, 'z', sizeof(long_name));
    long_name[99] = '\0';
    p4_vstage_label_value(long_name, ours);
    p4_applyset_label_value(long_name, theirs);
    assert_string_equal(ours, theirs); /* the phase4.io/name label selects both */
    assert_int_equal(strlen(ours), 63);
    assert_string_equal(p4_vstage_label_value(NULL, ours), "");
}

static void the_selector_names_the_resource(void **state)
{
    char sel[300];

    (void)state;
    p4_vstage_smoke_selector("web", sel, sizeof(sel));
    assert_string_equal(sel, "app.kubernetes.io/managed-by=phase4-operator,phase4.io/name=web,"
                             "phase4.io/purpose=smoke");
}

/* ---- the tests of the spec ---- */

static void spec_tests_are_read(void **state)
{
    struct p4_vstage_smoke_test t[4];
    struct p4_error err = {0};
    cJSON *spec = test_json("{'smokeTests':["
                            "{'name':'api','template':{'template':{'spec':{}}},'timeout':'90s'},"
                            "{'name':'db','template':{}}]}");

    (void)state;
    assert_int_equal(p4_vstage_smoke_read(spec, t, 4, &err), 2);
    assert_string_equal(t[0].name, "api");
    assert_false(t[0].helm);
    assert_int_equal(t[0].timeout_ms, 90000);
    assert_string_equal(t[0].timeout, "90s");
    assert_int_equal(t[0].secs, -1);
    assert_non_null(p4_json_get(t[0].template, "template.spec"));
    assert_int_equal(t[1].timeout_ms, P4_VSTAGE_SMOKE_TIMEOUT_MS); /* the default */
    assert_string_equal(t[1].timeout, "5m");
    p4_vstage_smoke_tests_free(t, 2);
    assert_null(t[0].template);
    cJSON_Delete(spec);

    /* Nothing declared, or not a list: no test. */
    spec = test_json("{'smokeTests':{}}");
    assert_int_equal(p4_vstage_smoke_read(spec, t, 4, &err), 0);
    assert_int_equal(p4_vstage_smoke_read(NULL, t, 4, &err), 0);
    cJSON_Delete(spec);
}

static void bad_spec_tests_are_refused(void **state)
{
    static const struct {
        const char *spec, *says;
    } cases[] = {
        {"{'smokeTests':[{'name':'a','template':{}},{'name':'a','template':{}}]}", "names a twice"},
        {"{'smokeTests':[{'template':{}}]}", "smokeTests[0] has no valid name"},
        {"{'smokeTests':[{'name':'','template':{}}]}", "no valid name"},
        {"{'smokeTests':[{'name':'a','template':{}},{'name':'b'}]}", "smokeTests[1] (b) has no "
                                                                     "template"},
        {"{'smokeTests':[{'name':'a','template':'x'}]}", "has no template"},
        {"{'smokeTests':[{'name':'a','template':{}},{'name':'b','template':{}},"
         "{'name':'c','template':{}}]}",
         "more than 2 entries"},
    };
    struct p4_vstage_smoke_test t[2];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct p4_error err = {0};
        cJSON *spec = test_json(cases[i].spec);
        assert_int_equal(p4_vstage_smoke_read(spec, t, 2, &err), -1);
        assert_int_equal(err.code, P4_ERR_INVALID);
        assert_contains(err.message, cases[i].says);
        cJSON_Delete(spec);
    }
}

/* ---- the chart's test hooks ---- */

static void helm_test_hooks_become_tests(void **state)
{
    struct p4_vstage_smoke_test t[6] = {0};
    int skipped = -1, n;
    cJSON *job;
    cJSON *objects = test_json(
        "[{'apiVersion':'v1','kind':'Pod','metadata':{'name':'web-test-b','labels':{'app':'t'},"
        "  'annotations':{'helm.sh/hook':'test','helm.sh/hook-delete-policy':'hook-succeeded',"
        "   'note':'kept'}},'spec':{'restartPolicy':'Always','containers':[{'name':'c'}]}},"
        " {'apiVersion':'batch/v1','kind':'Job','metadata':{'name':'web-test-a',"
        "  'annotations':{'helm.sh/hook':'test-success','helm.sh/hook-weight':'-5'}},"
        "  'spec':{'backoffLimit':2,'template':{'spec':{'restartPolicy':'Never'}}}},"
        " {'apiVersion':'v1','kind':'Pod','metadata':{'name':'web-test-c',"
        "  'annotations':{'helm.sh/hook':'pre-install, test'}},'spec':{}},"
        " {'apiVersion':'v1','kind':'ConfigMap','metadata':{'name':'web-test-data',"
        "  'annotations':{'helm.sh/hook':'test'}}},"
        " {'apiVersion':'v1','kind':'Pod','metadata':{'name':'web-post',"
        "  'annotations':{'helm.sh/hook':'post-install'}},'spec':{}},"
        " {'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'web'}},"
        " {'apiVersion':'v1','kind':'Pod','metadata':{'name':'web-testing',"
        "  'annotations':{'helm.sh/hook':'tests'}},'spec':{}}]");

    (void)state;
    /* One spec test already at index 0. */
    t[0] = test_named("api", false);
    n = p4_vstage_smoke_helm_tests(objects, t, 1, 6, &skipped);
    assert_int_equal(n, 4);
    assert_int_equal(skipped, 1); /* the ConfigMap */
    /* Helm's order: weight, then name. */
    assert_string_equal(t[1].name, "web-test-a");
    assert_string_equal(t[2].name, "web-test-b");
    assert_string_equal(t[3].name, "web-test-c");
    for (int i = 1; i < n; i++) {
        assert_true(t[i].helm);
        assert_int_equal(t[i].timeout_ms, P4_VSTAGE_SMOKE_TIMEOUT_MS);
        assert_int_equal(t[i].secs, -1);
    }
    /* A Job's spec as it is. */
    assert_int_equal(p4_json_get(t[1].template, "backoffLimit")->valueint, 2);
    /* A Pod as the Job's pod template: labels and its own annotations kept, Helm's dropped, never
       restarting. */
    assert_string_equal(p4_json_str(t[2].template, "template.metadata.labels.app"), "t");
    assert_string_equal(
        p4_json_str(
            p4_json_child(p4_json_get(t[2].template, "template.metadata.annotations"), "note"),
            NULL),
        "kept");
    assert_null(
        p4_json_child(p4_json_get(t[2].template, "template.metadata.annotations"), "helm.sh/hook"));
    assert_string_equal(p4_json_str(t[2].template, "template.spec.restartPolicy"), "Never");
    assert_string_equal(
        p4_json_str(cJSON_GetArrayItem(p4_json_get(t[2].template, "template.spec.containers"), 0),
                    "name"),
        "c");
    assert_string_equal(p4_json_str(t[3].template, "template.spec.restartPolicy"), "Never");
    /* Its Job runs the Pod's containers. */
    p4_vstage_smoke_job_name("web", true, t[2].name, 3, t[2].job);
    job = p4_vstage_smoke_job(&OWNER, &t[2]);
    assert_string_equal(p4_json_str(job, "metadata.name"), "web-test-web-test-b-g3");
    assert_int_equal(cJSON_GetArraySize(p4_json_get(job, "spec.template.spec.containers")), 1);
    assert_string_equal(p4_json_str(job, "spec.template.metadata.labels.app"), "t");
    cJSON_Delete(job);
    p4_vstage_smoke_tests_free(t, n);

    /* Room for fewer: the rest are counted as not run. */
    n = p4_vstage_smoke_helm_tests(objects, t, 0, 2, &skipped);
    assert_int_equal(n, 2);
    assert_int_equal(skipped, 2);
    p4_vstage_smoke_tests_free(t, n);

    /* Not a list: nothing. */
    assert_int_equal(p4_vstage_smoke_helm_tests(NULL, t, 0, 6, &skipped), 0);
    assert_int_equal(skipped, 0);
    cJSON_Delete(objects);
}

/* ---- the Job ---- */

static void the_job_is_marked_and_owned(void **state)
{
    struct p4_vstage_smoke_test t = test_named("api", false);
    cJSON *job;

    (void)state;
    t.template = test_json("{'template':{'spec':{'containers':[{'name':'c','image':'i'}]}}}");
    job = p4_vstage_smoke_job(&OWNER, &t);
    assert_string_equal(p4_json_str(job, "apiVersion"), "batch/v1");
    assert_string_equal(p4_json_str(job, "kind"), "Job");
    assert_string_equal(p4_json_str(job, "metadata.name"), "web-smoke-api-g3");
    assert_string_equal(p4_json_str(job, "metadata.namespace"), "shop");
    assert_string_equal(
        p4_json_str(p4_json_child(p4_json_get(job, "metadata.labels"), "phase4.io/generation"),
                    NULL),
        "3");
    assert_string_equal(
        p4_json_str(p4_json_child(p4_json_get(job, "metadata.labels"), "phase4.io/purpose"), NULL),
        "smoke");
    assert_string_equal(
        p4_json_str(p4_json_child(p4_json_get(job, "metadata.annotations"), "phase4.io/owner"),
                    NULL),
        "shop/web");
    assert_string_equal(
        p4_json_str(cJSON_GetArrayItem(p4_json_get(job, "metadata.ownerReferences"), 0), "kind"),
        "Phase4Deployment");
    assert_string_equal(
        p4_json_str(cJSON_GetArrayItem(p4_json_get(job, "metadata.ownerReferences"), 0), "uid"),
        "uid-1");
    assert_int_equal(p4_json_get(job, "spec.activeDeadlineSeconds")->valueint, 300);
    assert_int_equal(p4_json_get(job, "spec.backoffLimit")->valueint, 0);
    assert_string_equal(p4_json_str(job, "spec.template.spec.restartPolicy"), "Never");
    assert_string_equal(
        p4_json_str(cJSON_GetArrayItem(p4_json_get(job, "spec.template.spec.containers"), 0),
                    "image"),
        "i");
    /* It is ours, of this generation; and the template was not changed. */
    assert_true(p4_vstage_smoke_ours(job, &OWNER, true));
    assert_false(p4_vstage_smoke_stale(job, &OWNER));
    assert_null(p4_json_get(t.template, "activeDeadlineSeconds"));
    cJSON_Delete(job);

    /* What the template says wins; in another namespace, no ownerReference (it cannot cross). */
    cJSON_Delete(t.template);
    t.template = test_json("{'activeDeadlineSeconds':30,'backoffLimit':2,"
                           "'template':{'spec':{'restartPolicy':'OnFailure'}}}");
    t.timeout_ms = 1500;
    job = p4_vstage_smoke_job(&ELSEWHERE, &t);
    assert_int_equal(p4_json_get(job, "spec.activeDeadlineSeconds")->valueint, 30);
    assert_int_equal(p4_json_get(job, "spec.backoffLimit")->valueint, 2);
    assert_string_equal(p4_json_str(job, "spec.template.spec.restartPolicy"), "OnFailure");
    assert_null(p4_json_get(job, "metadata.ownerReferences"));
    assert_string_equal(
        p4_json_str(p4_json_child(p4_json_get(job, "metadata.annotations"), "phase4.io/owner"),
                    NULL),
        "team/web");
    assert_true(p4_vstage_smoke_ours(job, &ELSEWHERE, true));
    assert_false(p4_vstage_smoke_ours(job, &OWNER, true)); /* shop/web is another resource */
    cJSON_Delete(job);

    /* No template at all: an empty spec the API server refuses, with its deadline. */
    cJSON_Delete(t.template);
    t.template = NULL;
    t.timeout_ms = 1500;
    job = p4_vstage_smoke_job(&OWNER, &t);
    assert_int_equal(p4_json_get(job, "spec.activeDeadlineSeconds")->valueint, 2);
    cJSON_Delete(job);
}

static void only_our_jobs_are_followed_or_swept(void **state)
{
    static const char *const theirs[] = {
        "{'metadata':{'name':'web-smoke-api-g3','namespace':'shop'}}",
        /* our labels, another owner */
        "{'metadata':{'namespace':'shop','labels':{'app.kubernetes.io/"
        "managed-by':'phase4-operator',"
        "'phase4.io/name':'web','phase4.io/generation':'3','phase4.io/purpose':'smoke'},"
        "'annotations':{'phase4.io/owner':'shop/other','phase4.io/owner-uid':'uid-1'}}}",
        /* the same name, made again (another uid) */
        "{'metadata':{'namespace':'shop','labels':{'app.kubernetes.io/"
        "managed-by':'phase4-operator',"
        "'phase4.io/name':'web','phase4.io/generation':'3','phase4.io/purpose':'smoke'},"
        "'annotations':{'phase4.io/owner':'shop/web','phase4.io/owner-uid':'uid-0'}}}",
        /* a build Job of the resource */
        "{'metadata':{'namespace':'shop','labels':{'app.kubernetes.io/"
        "managed-by':'phase4-operator',"
        "'phase4.io/name':'web','phase4.io/generation':'3','phase4.io/purpose':'build'},"
        "'ownerReferences':[{'uid':'uid-1'}]}}",
        /* another namespace */
        "{'metadata':{'namespace':'team','labels':{'app.kubernetes.io/"
        "managed-by':'phase4-operator',"
        "'phase4.io/name':'web','phase4.io/generation':'3','phase4.io/purpose':'smoke'},"
        "'ownerReferences':[{'uid':'uid-1'}]}}",
        "[]",
    };
    cJSON *owned =
        test_json("{'metadata':{'namespace':'shop','labels':{'app.kubernetes.io/"
                  "managed-by':'phase4-operator',"
                  "'phase4.io/name':'web','phase4.io/generation':'2','phase4.io/purpose':'smoke'},"
                  "'ownerReferences':[{'uid':'uid-1'}]}}");
    cJSON *newer =
        test_json("{'metadata':{'namespace':'shop','labels':{'app.kubernetes.io/"
                  "managed-by':'phase4-operator',"
                  "'phase4.io/name':'web','phase4.io/generation':'4x','phase4.io/purpose':'smoke'},"
                  "'ownerReferences':[{'uid':'uid-1'}]}}");

    (void)state;
    for (size_t i = 0; i < sizeof(theirs) / sizeof(theirs[0]); i++) {
        cJSON *job = test_json(theirs[i]);
        assert_false(p4_vstage_smoke_ours(job, &OWNER, false));
        assert_false(p4_vstage_smoke_stale(job, &OWNER));
        cJSON_Delete(job);
    }
    assert_false(p4_vstage_smoke_ours(NULL, &OWNER, false));
    /* An older generation's: ours, not this generation's, swept. */
    assert_true(p4_vstage_smoke_ours(owned, &OWNER, false));
    assert_false(p4_vstage_smoke_ours(owned, &OWNER, true));
    assert_true(p4_vstage_smoke_stale(owned, &OWNER));
    assert_false(p4_vstage_smoke_stale(newer, &OWNER)); /* not a number: left alone */
    cJSON_Delete(owned);
    cJSON_Delete(newer);
}

/* ---- a Job's status ---- */

static void job_states(void **state)
{
    static const struct {
        const char *job;
        enum p4_vstage_job want;
        const char *why;
    } cases[] = {
        {"{}", P4_VJOB_RUNNING, ""},
        {"{'status':{'active':1}}", P4_VJOB_RUNNING, ""},
        {"{'status':{'conditions':[{'type':'Complete','status':'False'}]}}", P4_VJOB_RUNNING, ""},
        {"{'status':{'conditions':[{'type':'Complete','status':'True'}]}}", P4_VJOB_PASSED, ""},
        {"{'status':{'conditions':[{'type':'SuccessCriteriaMet','status':'True'}]}}",
         P4_VJOB_PASSED, ""},
        {"{'status':{'conditions':[{'type':'Failed','status':'True','reason':"
         "'BackoffLimitExceeded','message':'Job has reached the specified backoff limit'}]}}",
         P4_VJOB_FAILED, "BackoffLimitExceeded: Job has reached the specified backoff limit"},
        {"{'status':{'conditions':[{'type':'FailureTarget','status':'True','reason':"
         "'PodFailurePolicy'}]}}",
         P4_VJOB_FAILED, "PodFailurePolicy"},
        {"{'status':{'conditions':[{'type':'Failed','status':'True'}]}}", P4_VJOB_FAILED, "Failed"},
        {"{'status':{'conditions':[{'type':'Failed','status':'True','reason':'DeadlineExceeded',"
         "'message':'Job was active longer than specified deadline'}]}}",
         P4_VJOB_TIMEDOUT, "DeadlineExceeded: Job was active longer than specified deadline"},
        {"{'status':{'conditions':[{'type':'Failed','status':'True','reason':'x','message':"
         "'line\\none'}]}}",
         P4_VJOB_FAILED, "x: line one"},
        {"{'status':{'conditions':'Complete'}}", P4_VJOB_RUNNING, ""},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char why[200] = "stale";
        cJSON *job = test_json(cases[i].job);
        assert_int_equal(p4_vstage_smoke_job_state(job, why, sizeof(why)), cases[i].want);
        assert_string_equal(why, cases[i].why);
        cJSON_Delete(job);
    }
    assert_int_equal(p4_vstage_smoke_job_state(NULL, NULL, 0), P4_VJOB_RUNNING);
}

static void job_seconds(void **state)
{
    cJSON *done = test_json("{'status':{'startTime':'2026-01-02T03:04:05Z',"
                            "'completionTime':'2026-01-02T03:04:17Z'}}");
    cJSON *running = test_json("{'status':{'startTime':'2026-01-02T03:04:05Z'}}");
    cJSON *backwards = test_json("{'status':{'startTime':'2026-01-02T03:04:05Z',"
                                 "'completionTime':'2026-01-02T03:04:00Z'}}");
    cJSON *criteria = test_json("{'status':{'startTime':'2026-01-02T03:04:05Z','conditions':["
                                "{'type':'SuccessCriteriaMet','status':'True',"
                                "'lastTransitionTime':'2026-01-02T03:04:08Z'}]}}");

    (void)state;
    assert_int_equal(p4_vstage_smoke_job_seconds(done), 12);
    assert_int_equal(p4_vstage_smoke_job_seconds(running), -1);
    assert_int_equal(p4_vstage_smoke_job_seconds(backwards), -1);
    assert_int_equal(p4_vstage_smoke_job_seconds(criteria), 3); /* before completionTime is set */
    cJSON_Delete(criteria);
    assert_int_equal(p4_vstage_smoke_job_seconds(NULL), -1);
    cJSON_Delete(done);
    cJSON_Delete(running);
    cJSON_Delete(backwards);
}

/* ---- the pod to blame ---- */

static void the_failed_pod_and_its_exit_code(void **state)
{
    struct p4_vstage_pod_exit pe;
    char path[600];
    cJSON *pods = test_json(
        "{'items':["
        " {'metadata':{'name':'web-smoke-api-g3-new','creationTimestamp':'2026-01-02T03:05:00Z'},"
        "  'status':{'phase':'Running','containerStatuses':[{'name':'c','state':{'running':{}}}]}},"
        " {'metadata':{'name':'web-smoke-api-g3-old','creationTimestamp':'2026-01-02T03:04:00Z'},"
        "  'spec':{'containers':[{'name':'side'},{'name':'c'}]},"
        "  'status':{'phase':'Failed','containerStatuses':["
        "   {'name':'side','state':{'terminated':{'exitCode':0}}},"
        "   {'name':'c','state':{'terminated':{'exitCode':3,'reason':'Error'}}}]}}]}");

    (void)state;
    p4_vstage_smoke_pod_exit(pods, &pe);
    assert_string_equal(pe.pod, "web-smoke-api-g3-old"); /* the failed one, though older */
    assert_string_equal(pe.container, "c");
    assert_true(pe.has_code);
    assert_int_equal(pe.code, 3);
    assert_true(pe.has_log);
    assert_true(p4_vstage_smoke_log_path("shop", &pe, path, sizeof(path)));
    assert_string_equal(path, "/api/v1/namespaces/shop/pods/web-smoke-api-g3-old/log?container=c"
                              "&tailLines=5&limitBytes=4096");
    cJSON_Delete(pods);

    /* The exit code of the last run (restartPolicy OnFailure). */
    pods = test_json("{'items':[{'metadata':{'name':'p'},'status':{'phase':'Running',"
                     "'containerStatuses':[{'name':'c','state':{'waiting':{'reason':"
                     "'CrashLoopBackOff'}},'lastState':{'terminated':{'exitCode':137}}}]}}]}");
    p4_vstage_smoke_pod_exit(pods, &pe);
    assert_true(pe.has_code);
    assert_int_equal(pe.code, 137);
    assert_string_equal(pe.container, "c");
    cJSON_Delete(pods);
}

static void pods_that_never_ran(void **state)
{
    struct p4_vstage_pod_exit pe;
    char path[600];
    cJSON *waiting = test_json(
        "{'items':[{'metadata':{'name':'p'},'status':{'phase':'Pending','containerStatuses':["
        "{'name':'c','state':{'waiting':{'reason':'ImagePullBackOff','message':'Back-off "
        "pulling\\nimage'}}}]}}]}");
    cJSON *bare = test_json("{'items':[{'metadata':{'name':'p'},'spec':{'containers':"
                            "[{'name':'first'}]},'status':{'phase':'Pending'}}]}");
    cJSON *running = test_json("{'items':[{'metadata':{'name':'p'},'status':{'phase':'Running',"
                               "'containerStatuses':[{'name':'c','state':{'running':{}}}]}}]}");
    cJSON *nameless = test_json("{'items':[{'metadata':{}},7]}");

    (void)state;
    p4_vstage_smoke_pod_exit(waiting, &pe);
    assert_false(pe.has_code);
    assert_false(pe.has_log);
    assert_string_equal(pe.container, "c");
    assert_string_equal(pe.waiting, "ImagePullBackOff: Back-off pulling image");
    assert_false(p4_vstage_smoke_log_path("shop", &pe, path, sizeof(path)));

    p4_vstage_smoke_pod_exit(bare, &pe);
    assert_string_equal(pe.container, "first");
    assert_false(pe.has_log);

    p4_vstage_smoke_pod_exit(running, &pe);
    assert_true(pe.has_log);
    assert_false(pe.has_code);

    p4_vstage_smoke_pod_exit(nameless, &pe);
    assert_string_equal(pe.pod, "");
    p4_vstage_smoke_pod_exit(NULL, &pe);
    assert_string_equal(pe.pod, "");
    assert_false(p4_vstage_smoke_log_path("shop", &pe, path, sizeof(path)));
    cJSON_Delete(waiting);
    cJSON_Delete(bare);
    cJSON_Delete(running);
    cJSON_Delete(nameless);
}

/* ---- the gate's messages ---- */

static void failures_say_what_failed(void **state)
{
    struct p4_vstage_smoke_test t = test_named("api", false), h = test_named("web-t", true);
    struct p4_vstage_pod_exit pe = {.pod = "web-smoke-api-g3-x",
                                    .container = "c",
                                    .has_code = true,
                                    .code = 3,
                                    .has_log = true};
    struct p4_vstage_pod_exit wait = {.pod = "p", .container = "c", .waiting = "ImagePullBackOff"};
    struct p4_vstage_failure f;

    (void)state;
    p4_vstage_smoke_failure(&t, "shop", false,
                            "BackoffLimitExceeded: Job has reached the "
                            "specified backoff limit",
                            &pe, "connecting | 503 from /api", &f);
    assert_int_equal(f.cls, P4_FAIL_ARTIFACT);
    assert_string_equal(f.reason, "SmokeTestFailed");
    assert_string_equal(f.err.message,
                        "smoke test api failed: Job shop/web-smoke-api-g3 (BackoffLimitExceeded: "
                        "Job has reached the specified backoff limit); pod web-smoke-api-g3-x "
                        "container c exited with code 3; last log lines: connecting | 503 from "
                        "/api");

    p4_vstage_smoke_failure(&h, "shop", true, NULL, &wait, NULL, &f);
    assert_string_equal(f.reason, "SmokeTestTimedOut");
    assert_string_equal(f.err.message,
                        "smoke test helm test web-t did not finish within its timeout of 5m (Job "
                        "shop/web-test-web-t-g3); pod p container c is waiting: ImagePullBackOff");
    /* The Job's own deadline (its template's, perhaps shorter) says so. */
    p4_vstage_smoke_failure(&t, "shop", true,
                            "DeadlineExceeded: Job was active longer than specified deadline", &pe,
                            "still waiting", &f);
    assert_string_equal(f.err.message,
                        "smoke test api did not finish within its timeout of 5m (Job "
                        "shop/web-smoke-api-g3: DeadlineExceeded: Job was active longer than "
                        "specified deadline); pod web-smoke-api-g3-x container c exited with code "
                        "3; last log lines: still waiting");

    p4_vstage_smoke_failure(&t, "shop", false, "", NULL, "", &f);
    assert_string_equal(f.err.message, "smoke test api failed: Job shop/web-smoke-api-g3 (no "
                                       "reason given); no pod of it was found");
}

static void refusals_by_the_api_server(void **state)
{
    struct p4_vstage_smoke_test t = test_named("api", false);
    struct p4_error e = {0};
    struct p4_vstage_failure f;

    (void)state;
    p4_error_set(&e, P4_ERR_INVALID,
                 "Job.batch \"web-smoke-api-g3\" is invalid: "
                 "spec.template.spec.containers: Required value");
    p4_vstage_smoke_create_failure(P4_ERR_INVALID, &e, &t, "shop", "", &f);
    assert_int_equal(f.cls, P4_FAIL_ARTIFACT);
    assert_string_equal(f.reason, "SmokeTestInvalid");
    assert_contains(f.err.message, "spec.template.spec.containers: Required value");
    assert_contains(f.err.message, "smoke test api");

    p4_error_set(&e, P4_ERR_FORBIDDEN, "jobs.batch is forbidden");
    p4_vstage_smoke_create_failure(P4_ERR_FORBIDDEN, &e, &t, "shop",
                                   "system:serviceaccount:shop:deployer", &f);
    assert_int_equal(f.cls, P4_FAIL_CLUSTER);
    assert_string_equal(f.reason, "Forbidden");
    assert_contains(f.err.message, "system:serviceaccount:shop:deployer may not create");
    p4_vstage_smoke_create_failure(P4_ERR_UNAUTHORIZED, &e, &t, "shop", NULL, &f);
    assert_contains(f.err.message, "phase4-operator may not create");

    /* the namespace is being deleted: nobody need grant anything, it is waited out */
    p4_error_set(&e, P4_ERR_FORBIDDEN,
                 "jobs.batch \"web-smoke-api-g3\" is forbidden: unable to create new content in "
                 "namespace shop because it is being terminated");
    p4_vstage_smoke_create_failure(P4_ERR_FORBIDDEN, &e, &t, "shop", "", &f);
    assert_int_equal(f.cls, P4_FAIL_TRANSIENT);
    assert_string_equal(f.reason, "NamespaceTerminating");
    assert_contains(f.err.message, "smoke test api");
    assert_contains(f.err.message, "because it is being terminated");

    p4_error_set(&e, P4_ERR_UNAVAILABLE, "the server is currently unable to handle the request");
    p4_vstage_smoke_create_failure(P4_ERR_UNAVAILABLE, &e, &t, "shop", "", &f);
    assert_int_equal(f.cls, P4_FAIL_TRANSIENT);
    assert_string_equal(f.reason, "APIUnavailable");

    p4_vstage_smoke_create_failure(P4_ERR_BADREQUEST, &e, &t, "shop", "", &f);
    assert_string_equal(f.reason, "SmokeTestInvalid");
    p4_vstage_smoke_create_failure(P4_ERR_NOTFOUND, &e, &t, "shop", "", &f);
    assert_int_equal(f.cls, P4_FAIL_CLUSTER);
    assert_string_equal(f.reason, "NamespaceNotFound");

    p4_vstage_smoke_conflict(&t, "shop", 3, &f);
    assert_int_equal(f.cls, P4_FAIL_CLUSTER);
    assert_string_equal(f.reason, "SmokeTestConflict");
    assert_contains(f.err.message, "a Job shop/web-smoke-api-g3 exists");
    assert_contains(f.err.message, "generation 3");
}

static void passing_says_how_long(void **state)
{
    struct p4_vstage_smoke_test t[3] = {test_named("a", false), test_named("b", false),
                                        test_named("web-t", true)};
    char msg[P4_ERROR_MESSAGE_MAX], tiny[20];

    (void)state;
    t[0].secs = 12;
    t[1].secs = 3;
    p4_vstage_smoke_passed_message(t, 3, 0, msg, sizeof(msg));
    assert_string_equal(msg, "3 smoke test(s) passed: a (12s), b (3s), helm test web-t");
    p4_vstage_smoke_passed_message(t, 1, 2, msg, sizeof(msg));
    assert_string_equal(msg, "1 smoke test(s) passed: a (12s); 2 of the chart's test hooks not "
                             "run (only Pods and Jobs are)");
    p4_vstage_smoke_passed_message(t, 3, 0, tiny, sizeof(tiny));
    assert_int_equal(strlen(tiny), sizeof(tiny) - 1); /* cut, still a string */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(job_names_are_stable_and_fit),
        cmocka_unit_test(label_values_agree_with_the_kubernetes_stage),
        cmocka_unit_test(the_selector_names_the_resource),
        cmocka_unit_test(spec_tests_are_read),
        cmocka_unit_test(bad_spec_tests_are_refused),
        cmocka_unit_test(helm_test_hooks_become_tests),
        cmocka_unit_test(the_job_is_marked_and_owned),
        cmocka_unit_test(only_our_jobs_are_followed_or_swept),
        cmocka_unit_test(job_states),
        cmocka_unit_test(job_seconds),
        cmocka_unit_test(the_failed_pod_and_its_exit_code),
        cmocka_unit_test(pods_that_never_ran),
        cmocka_unit_test(failures_say_what_failed),
        cmocka_unit_test(refusals_by_the_api_server),
        cmocka_unit_test(passing_says_how_long),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
