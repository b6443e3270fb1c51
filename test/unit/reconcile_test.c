/* reconcile_test.c: the status a Phase4Deployment should have (p4_reconciler_desired_status). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h> /* after the four it needs */

#include "phase4/core/json.h"
#include "phase4/reconciler/reconcile.h"

#define T1 "2024-01-01T00:00:00Z"
#define T2 "2024-01-02T00:00:00Z"
#define T3 "2024-01-03T00:00:00Z"

static cJSON *parse(const char *text)
{
    cJSON *obj = cJSON_Parse(text);

    assert_non_null(obj);
    return obj;
}

/* The condition of type in status.conditions; fails the test when it is not there exactly once. */
static const cJSON *condition(const cJSON *status, const char *type)
{
    const cJSON *conds = p4_json_get(status, "conditions");
    const cJSON *c, *found = NULL;

    assert_true(cJSON_IsArray(conds));
    cJSON_ArrayForEach(c, conds) {
        const char *t = p4_json_str(c, "type");
        if (t != NULL && strcmp(t, type) == 0) {
            assert_null(found);
            found = c;
        }
    }
    assert_non_null(found);
    return found;
}

static void assert_condition(const cJSON *status, const char *type, const char *want_status,
                             const char *reason, const char *since, int64_t generation)
{
    const cJSON *c = condition(status, type);
    char prefix[64];
    const char *message = p4_json_str(c, "message");
    int64_t observed = -1;

    assert_string_equal(p4_json_str(c, "status"), want_status);
    assert_string_equal(p4_json_str(c, "reason"), reason);
    assert_string_equal(p4_json_str(c, "lastTransitionTime"), since);
    assert_int_equal(p4_json_int64(c, "observedGeneration", &observed), 0);
    assert_int_equal(observed, generation);
    assert_non_null(message);
    (void)snprintf(prefix, sizeof(prefix), "Generation %lld:", (long long)generation);
    assert_memory_equal(message, prefix, strlen(prefix));
}

/* status.observedGeneration, or -1. */
static int64_t observed_generation_of(const cJSON *status)
{
    int64_t g = -1;

    (void)p4_json_int64(status, "observedGeneration", &g);
    return g;
}

/*
 * What kstatus (sigs.k8s.io/cli-utils/pkg/kstatus/status, Compute, v0.37.2) reads from a
 * status of generation: observedGeneration behind is InProgress; then the conditions in their
 * order, Reconciling=True InProgress and Stalled=True Failed (never both True: either would
 * hide the other); then Ready, True Current and else InProgress; none of them, Current. Flux's
 * wait and health checks read this (docs/gitops.md, the e2e test TestGitOpsStatus checks the
 * real library on live objects).
 */
static const char *kstatus(const cJSON *status, int64_t generation)
{
    const cJSON *c;
    int reconciling = 0, stalled = 0;
    const char *ready = NULL, *first = NULL;

    if (observed_generation_of(status) != generation)
        return "InProgress";
    cJSON_ArrayForEach(c, p4_json_get(status, "conditions")) {
        const char *t = p4_json_str(c, "type"), *v = p4_json_str(c, "status");
        if (t == NULL || v == NULL)
            continue;
        if (strcmp(t, "Reconciling") == 0 && strcmp(v, "True") == 0) {
            reconciling = 1;
            first = first ? first : "InProgress";
        } else if (strcmp(t, "Stalled") == 0 && strcmp(v, "True") == 0) {
            stalled = 1;
            first = first ? first : "Failed";
        } else if (strcmp(t, "Ready") == 0) {
            ready = v;
        }
    }
    if (reconciling && stalled)
        fail_msg("Reconciling and Stalled are both True: kstatus reads whichever comes first");
    if (first)
        return first;
    if (ready)
        return strcmp(ready, "True") == 0 ? "Current" : "InProgress";
    return "Current";
}

static int64_t observed_generation(const cJSON *status)
{
    int64_t g = -1;

    assert_int_equal(p4_json_int64(status, "observedGeneration", &g), 0);
    return g;
}

/* Replace obj's status with st (taken over). */
static void set_status(cJSON *obj, cJSON *st)
{
    cJSON_DeleteItemFromObjectCaseSensitive(obj, "status");
    cJSON_AddItemToObject(obj, "status", st);
}

static void set_generation(cJSON *obj, double generation)
{
    cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");

    assert_non_null(meta);
    cJSON_DeleteItemFromObjectCaseSensitive(meta, "generation");
    cJSON_AddNumberToObject(meta, "generation", generation);
}

static void first_reconcile_starts_docker_stage(void **state)
{
    cJSON *obj = parse("{\"metadata\":{\"name\":\"web\",\"namespace\":\"shop\","
                       "\"generation\":3},\"spec\":{}}");
    cJSON *before = cJSON_Duplicate(obj, 1);
    cJSON *st;

    (void)state;
    st = p4_reconciler_desired_status(obj, NULL, T1, NULL);
    assert_non_null(st);
    assert_string_equal(p4_json_str(st, "stage"), "Docker");
    assert_int_equal(observed_generation(st), 3);
    assert_int_equal(cJSON_GetArraySize(p4_json_get(st, "conditions")), 2);
    assert_condition(st, "Ready", "Unknown", "Progressing", T1, 3);
    assert_condition(st, "Reconciling", "True", "Progressing", T1, 3);
    /* The object itself is only read. */
    assert_true(cJSON_Compare(obj, before, 1));
    cJSON_Delete(st);
    cJSON_Delete(before);
    cJSON_Delete(obj);
}

static void desired_status_already_there_means_no_change(void **state)
{
    cJSON *obj = parse("{\"metadata\":{\"generation\":1},\"spec\":{}}");
    cJSON *first, *again;
    char *text;

    (void)state;
    first = p4_reconciler_desired_status(obj, NULL, T1, NULL);
    set_status(obj, cJSON_Duplicate(first, 1));
    /* A later reconcile at a later time computes the same status: nothing to write. */
    again = p4_reconciler_desired_status(obj, NULL, T2, NULL);
    assert_true(cJSON_Compare(again, p4_json_get(obj, "status"), 1));
    assert_condition(again, "Ready", "Unknown", "Progressing", T1, 1);
    cJSON_Delete(again);
    cJSON_Delete(first);

    /* ...also once the status went through the API server as JSON text. */
    text = p4_json_print(p4_json_get(obj, "status"));
    assert_non_null(text);
    set_status(obj, parse(text));
    free(text);
    again = p4_reconciler_desired_status(obj, NULL, T3, NULL);
    assert_true(cJSON_Compare(again, p4_json_get(obj, "status"), 1));
    cJSON_Delete(again);

    /* The same holds for a suspended object. */
    cJSON_AddItemToObject(cJSON_GetObjectItemCaseSensitive(obj, "spec"), "suspend",
                          cJSON_CreateTrue());
    first = p4_reconciler_desired_status(obj, NULL, T2, NULL);
    set_status(obj, cJSON_Duplicate(first, 1));
    again = p4_reconciler_desired_status(obj, NULL, T3, NULL);
    assert_true(cJSON_Compare(again, p4_json_get(obj, "status"), 1));
    cJSON_Delete(again);
    cJSON_Delete(first);
    cJSON_Delete(obj);
}

static void generation_bump_keeps_unchanged_transition_times(void **state)
{
    cJSON *obj = parse("{\"metadata\":{\"generation\":1},\"spec\":{}}");
    cJSON *st;

    (void)state;
    set_status(obj, p4_reconciler_desired_status(obj, NULL, T1, NULL));
    set_generation(obj, 2);
    st = p4_reconciler_desired_status(obj, NULL, T2, NULL);
    assert_false(cJSON_Compare(st, p4_json_get(obj, "status"), 1));
    assert_int_equal(observed_generation(st), 2);
    assert_string_equal(p4_json_str(st, "stage"), "Docker");
    assert_int_equal(cJSON_GetArraySize(p4_json_get(st, "conditions")), 2);
    /* Statuses did not change, so neither do the transition times; messages do. */
    assert_condition(st, "Ready", "Unknown", "Progressing", T1, 2);
    assert_condition(st, "Reconciling", "True", "Progressing", T1, 2);
    cJSON_Delete(st);
    cJSON_Delete(obj);
}

static void suspend_and_resume(void **state)
{
    cJSON *obj = parse("{\"metadata\":{\"generation\":4},\"spec\":{\"suspend\":true}}");
    cJSON *st;

    (void)state;
    /* Suspended from the start. */
    st = p4_reconciler_desired_status(obj, NULL, T1, NULL);
    assert_string_equal(p4_json_str(st, "stage"), "Docker");
    assert_int_equal(observed_generation(st), 4);
    assert_condition(st, "Ready", "Unknown", "Suspended", T1, 4);
    assert_condition(st, "Reconciling", "False", "Suspended", T1, 4);
    cJSON_Delete(st);

    /* Suspending a progressing object: only Reconciling changes status, so only its time moves. */
    cJSON_ReplaceItemInObjectCaseSensitive(obj, "spec", parse("{}"));
    set_status(obj, p4_reconciler_desired_status(obj, NULL, T1, NULL));
    cJSON_ReplaceItemInObjectCaseSensitive(obj, "spec", parse("{\"suspend\":true}"));
    set_generation(obj, 5);
    st = p4_reconciler_desired_status(obj, NULL, T2, NULL);
    assert_condition(st, "Ready", "Unknown", "Suspended", T1, 5);
    assert_condition(st, "Reconciling", "False", "Suspended", T2, 5);

    /* Resuming flips Reconciling back to True at the new time. */
    set_status(obj, st);
    cJSON_ReplaceItemInObjectCaseSensitive(obj, "spec", parse("{\"suspend\":false}"));
    set_generation(obj, 6);
    st = p4_reconciler_desired_status(obj, NULL, T3, NULL);
    assert_condition(st, "Ready", "Unknown", "Progressing", T1, 6);
    assert_condition(st, "Reconciling", "True", "Progressing", T3, 6);
    cJSON_Delete(st);
    cJSON_Delete(obj);
}

static void unrelated_status_fields_are_kept(void **state)
{
    cJSON *obj = parse("{\"metadata\":{\"generation\":2},\"spec\":{},\"status\":{"
                       "\"stage\":\"Helm\",\"observedGeneration\":1,"
                       "\"image\":{\"digest\":\"sha256:abc\",\"ref\":\"r/x:1\"},"
                       "\"lastKnownGoodRevision\":3,"
                       "\"conditions\":[{\"type\":\"DockerReady\",\"status\":\"True\","
                       "\"reason\":\"Pulled\",\"message\":\"ok\","
                       "\"lastTransitionTime\":\"" T1 "\"}]}}");
    const cJSON *docker;
    cJSON *st;

    (void)state;
    st = p4_reconciler_desired_status(obj, NULL, T2, NULL);
    /* The digest pinned for generation 1 is not shown as generation 2's. */
    assert_null(p4_json_get(st, "image"));
    assert_non_null(p4_json_get(st, "lastKnownGoodRevision"));
    /* A new generation starts over at the Docker stage; the message names it. */
    assert_string_equal(p4_json_str(st, "stage"), "Docker");
    assert_non_null(strstr(p4_json_str(condition(st, "Ready"), "message"), "Docker"));
    assert_int_equal(observed_generation(st), 2);
    /* Other conditions are left alone, and come first as before. */
    docker = condition(st, "DockerReady");
    assert_ptr_equal(docker, cJSON_GetArrayItem(p4_json_get(st, "conditions"), 0));
    assert_string_equal(p4_json_str(docker, "status"), "True");
    assert_string_equal(p4_json_str(docker, "lastTransitionTime"), T1);
    assert_condition(st, "Ready", "Unknown", "Progressing", T2, 2);
    assert_condition(st, "Reconciling", "True", "Progressing", T2, 2);
    assert_int_equal(cJSON_GetArraySize(p4_json_get(st, "conditions")), 3);
    cJSON_Delete(st);
    cJSON_Delete(obj);
}

static void malformed_objects_do_not_crash(void **state)
{
    static const char *const inputs[] = {
        /* conditions not an array */
        "{\"metadata\":{\"generation\":1},\"status\":{\"conditions\":\"oops\"}}",
        "{\"metadata\":{\"generation\":1},\"status\":{\"conditions\":{\"type\":\"Ready\"}}}",
        /* conditions holding things that are not conditions */
        "{\"status\":{\"conditions\":[42,null,{},{\"type\":7},{\"type\":\"Ready\",\"status\":3}]}}",
        /* no generation, or not a number */
        "{\"metadata\":{}}",
        "{\"metadata\":{\"generation\":\"7\"}}",
        "{\"metadata\":{\"generation\":1.5}}",
        "{}",
        /* status, stage or spec of the wrong type */
        "{\"metadata\":{\"generation\":1},\"status\":\"Ready\"}",
        "{\"metadata\":{\"generation\":1},\"status\":{\"stage\":5}}",
        "{\"metadata\":{\"generation\":1},\"status\":{\"stage\":\"\"}}",
        "{\"metadata\":{\"generation\":1},\"spec\":{\"suspend\":\"yes\"}}",
        "{\"metadata\":{\"generation\":1},\"spec\":[]}",
        "[]",
        "null",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
        cJSON *obj = parse(inputs[i]);
        cJSON *st = p4_reconciler_desired_status(obj, NULL, T1, NULL);

        assert_true(cJSON_IsObject(st));
        assert_string_equal(p4_json_str(st, "stage"), "Docker");
        assert_non_null(p4_json_get(st, "observedGeneration"));
        assert_string_equal(p4_json_str(condition(st, "Ready"), "status"), "Unknown");
        assert_string_equal(p4_json_str(condition(st, "Reconciling"), "status"), "True");
        cJSON_Delete(st);
        cJSON_Delete(obj);
    }
}

static void missing_generation_reads_as_zero(void **state)
{
    cJSON *obj = parse("{\"metadata\":{\"name\":\"web\"},\"status\":{\"conditions\":\"oops\"}}");
    cJSON *st;

    (void)state;
    st = p4_reconciler_desired_status(obj, NULL, T1, NULL);
    assert_int_equal(observed_generation(st), 0);
    assert_int_equal(cJSON_GetArraySize(p4_json_get(st, "conditions")), 2);
    assert_condition(st, "Ready", "Unknown", "Progressing", T1, 0);
    assert_condition(st, "Reconciling", "True", "Progressing", T1, 0);
    cJSON_Delete(st);
    cJSON_Delete(obj);

    /* No object at all is treated as an empty one. */
    st = p4_reconciler_desired_status(NULL, NULL, T1, NULL);
    assert_non_null(st);
    assert_int_equal(observed_generation(st), 0);
    cJSON_Delete(st);
}

static bool has_condition(const cJSON *status, const char *type)
{
    const cJSON *c;

    cJSON_ArrayForEach(c, p4_json_get(status, "conditions")) {
        if (strcmp(p4_json_str(c, "type"), type) == 0)
            return true;
    }
    return false;
}

/* A Docker stage result for generation gen with one gate, as dockerstage.c reports it. */
static struct p4_stage_result docker_result(enum p4_stage_state state, enum p4_failure_class cls,
                                            bool stalled, const char *reason, int64_t gen,
                                            const char *gate_status)
{
    struct p4_stage_result r = {.state = state,
                                .cls = cls,
                                .stalled = stalled,
                                .attempt = 1,
                                .attempts = 3,
                                .generation = gen};
    cJSON *g = cJSON_CreateObject();

    if (reason) {
        r.err.code = -1;
        r.err.reason = reason;
        (void)snprintf(r.err.message, sizeof(r.err.message), "the %s message", reason);
    }
    cJSON_AddStringToObject(g, "stage", "Docker");
    cJSON_AddStringToObject(g, "name", "Pushed");
    cJSON_AddStringToObject(g, "status", gate_status);
    cJSON_AddStringToObject(g, "reason", reason ? reason : "BlobsPresent");
    cJSON_AddStringToObject(g, "message", "gate message");
    r.gates = cJSON_CreateArray();
    cJSON_AddItemToArray(r.gates, g);
    if (state == P4_STAGE_PASSED) {
        r.status = cJSON_Parse("{\"image\":{\"digest\":\"sha256:abc\",\"platforms\":"
                               "[\"linux/amd64\"]}}");
    }
    return r;
}

/* The events array holds exactly one event of type/reason. */
static void assert_event(const cJSON *events, const char *type, const char *reason)
{
    const cJSON *e;
    int n = 0;

    cJSON_ArrayForEach(e, events) {
        if (strcmp(p4_json_str(e, "type"), type) == 0 &&
            strcmp(p4_json_str(e, "reason"), reason) == 0)
            n++;
    }
    if (n != 1)
        fail_msg("%d %s events with reason %s, want 1", n, type, reason);
}

static void docker_stage_results_drive_conditions(void **state)
{
    cJSON *obj =
        parse("{\"metadata\":{\"generation\":2},\"spec\":{\"image\":"
              "{\"repository\":\"r.example/app\"}},\"status\":{\"observedGeneration\":2}}");
    struct p4_stage_result res;
    const struct p4_stage_result *results[P4_STAGE_COUNT] = {0};
    cJSON *st, *events;

    (void)state;
    results[P4_STAGE_DOCKER] = &res;

    /* Waiting out a registry outage: Unknown, a Warning once, not stalled. */
    res = docker_result(P4_STAGE_RUNNING, P4_FAIL_TRANSIENT, false, "RegistryUnavailable", 2,
                        "Unknown");
    events = cJSON_CreateArray();
    st = p4_reconciler_desired_status(obj, results, T1, events);
    assert_string_equal(p4_json_str(condition(st, "DockerReady"), "reason"), "RegistryUnavailable");
    assert_condition(st, "Ready", "Unknown", "Progressing", T1, 2);
    assert_non_null(strstr(p4_json_str(condition(st, "Ready"), "message"), "waiting"));
    assert_condition(st, "Reconciling", "True", "Progressing", T1, 2);
    assert_int_equal(cJSON_GetArraySize(events), 1);
    assert_event(events, "Warning", "RegistryUnavailable");
    assert_string_equal(
        p4_json_str(cJSON_GetArrayItem(p4_json_get(st, "gates"), 0), "lastTransitionTime"), T1);
    set_status(obj, st);
    cJSON_Delete(events);

    /* The same result again: the same status, and nothing to tell. */
    events = cJSON_CreateArray();
    st = p4_reconciler_desired_status(obj, results, T2, events);
    assert_true(cJSON_Compare(st, p4_json_get(obj, "status"), 1));
    assert_int_equal(cJSON_GetArraySize(events), 0);
    cJSON_Delete(st);
    cJSON_Delete(events);
    p4_stage_result_close(&res);

    /* An artifact failure with retries left: False, Reconciling, not Stalled. */
    res = docker_result(P4_STAGE_FAILED, P4_FAIL_ARTIFACT, false, "ImageNotFound", 2, "False");
    events = cJSON_CreateArray();
    st = p4_reconciler_desired_status(obj, results, T2, events);
    assert_condition(st, "Ready", "False", "ImageNotFound", T2, 2);
    assert_condition(st, "Reconciling", "True", "Retrying", T1, 2);
    assert_non_null(strstr(p4_json_str(condition(st, "Ready"), "message"), "attempt 1 of 3"));
    assert_event(events, "Warning", "ImageNotFound");
    assert_int_equal(cJSON_GetArraySize(events), 1); /* one Event for the attempt */
    assert_non_null(
        strstr(p4_json_str(cJSON_GetArrayItem(events, 0), "message"), "attempt 1 of 3, retrying"));
    /* The gate's status changed, so its transition time did too. */
    assert_string_equal(
        p4_json_str(cJSON_GetArrayItem(p4_json_get(st, "gates"), 0), "lastTransitionTime"), T2);
    set_status(obj, st);
    cJSON_Delete(events);
    p4_stage_result_close(&res);

    /* The same failure shown again while the retry runs: nothing new to tell. */
    res = docker_result(P4_STAGE_FAILED, P4_FAIL_ARTIFACT, false, "ImageNotFound", 2, "False");
    events = cJSON_CreateArray();
    st = p4_reconciler_desired_status(obj, results, T2, events);
    assert_int_equal(cJSON_GetArraySize(events), 0);
    cJSON_Delete(st);
    cJSON_Delete(events);
    p4_stage_result_close(&res);

    /* The second attempt failed too: one more Warning, counting on. */
    res = docker_result(P4_STAGE_FAILED, P4_FAIL_ARTIFACT, false, "ImageNotFound", 2, "False");
    res.attempt = 2;
    events = cJSON_CreateArray();
    st = p4_reconciler_desired_status(obj, results, T2, events);
    assert_int_equal(cJSON_GetArraySize(events), 1);
    assert_event(events, "Warning", "ImageNotFound");
    assert_non_null(
        strstr(p4_json_str(cJSON_GetArrayItem(events, 0), "message"), "attempt 2 of 3, retrying"));
    set_status(obj, st);
    cJSON_Delete(events);
    p4_stage_result_close(&res);

    /* Out of retries: Stalled, RegenerationRequired, Reconciling False. */
    res = docker_result(P4_STAGE_FAILED, P4_FAIL_ARTIFACT, true, "ImageNotFound", 2, "False");
    events = cJSON_CreateArray();
    st = p4_reconciler_desired_status(obj, results, T3, events);
    assert_condition(st, "Stalled", "True", "RegenerationRequired", T3, 2);
    assert_condition(st, "Reconciling", "False", "ImageNotFound", T3, 2);
    assert_non_null(strstr(p4_json_str(condition(st, "Stalled"), "message"),
                           "the Docker stage failed 3 times at gate Pushed (ImageNotFound)"));
    assert_non_null(strstr(p4_json_str(condition(st, "Stalled"), "message"), "phase4.io/retry"));
    assert_event(events, "Warning", "RegenerationRequired");
    assert_event(events, "Warning", "DeploymentFailed"); /* the verdict, once */
    assert_int_equal(cJSON_GetArraySize(events), 2);     /* DockerReady did not change */
    assert_string_equal(p4_json_str(st, "verdict"), "FAILED");
    assert_string_equal(p4_json_str(st, "report.failure.stage"), "Docker");
    assert_string_equal(p4_json_str(st, "report.failure.gate"), "Pushed");
    assert_string_equal(p4_json_str(st, "report.failure.reason"), "ImageNotFound");
    assert_non_null(strstr(p4_json_str(st, "report.failure.remediation"), "push the image"));
    set_status(obj, st);
    cJSON_Delete(events);
    p4_stage_result_close(&res);

    /* A cluster-level failure is escalated to a person: Stalled says so, Ready and the stage
       keep the specific reason, and the message names it, the impact and the fix. */
    res = docker_result(P4_STAGE_FAILED, P4_FAIL_CLUSTER, true, "ImagePullAuthFailed", 2, "False");
    st = p4_reconciler_desired_status(obj, results, T3, NULL);
    assert_condition(st, "Stalled", "True", "EscalatedToUser", T3, 2);
    assert_condition(st, "Ready", "False", "ImagePullAuthFailed", T2, 2); /* False since T2 */
    assert_string_equal(p4_json_str(condition(st, "DockerReady"), "reason"), "ImagePullAuthFailed");
    assert_non_null(strstr(p4_json_str(condition(st, "Stalled"), "message"),
                           "escalated to a person: the Docker stage cannot go on at gate Pushed "
                           "(ImagePullAuthFailed)"));
    assert_non_null(
        strstr(p4_json_str(condition(st, "Stalled"), "message"), "impact: nothing serves yet"));
    assert_non_null(strstr(p4_json_str(condition(st, "Stalled"), "message"),
                           "fix: give the pull secret credentials"));
    assert_non_null(
        strstr(p4_json_str(condition(st, "Stalled"), "message"), "clears by itself once fixed"));
    cJSON_Delete(st);
    p4_stage_result_close(&res);

    /* Passed: DockerReady True, the digest in status, on to Helm, Stalled gone. */
    res = docker_result(P4_STAGE_PASSED, P4_FAIL_NONE, false, NULL, 2, "True");
    events = cJSON_CreateArray();
    st = p4_reconciler_desired_status(obj, results, T3, events);
    assert_string_equal(p4_json_str(condition(st, "DockerReady"), "status"), "True");
    assert_string_equal(p4_json_str(st, "image.digest"), "sha256:abc");
    assert_string_equal(p4_json_str(st, "stage"), "Helm");
    assert_false(has_condition(st, "Stalled"));
    assert_event(events, "Normal", "ImageReady");
    assert_condition(st, "Reconciling", "False", "StageNotAvailable", T3, 2);
    assert_null(p4_json_get(st, "verdict")); /* no Helm stage here: no verdict */
    cJSON_Delete(st);
    cJSON_Delete(events);
    p4_stage_result_close(&res);
    cJSON_Delete(obj);
}

/* One stage's passed result with its gate, for the verdict test. */
static struct p4_stage_result passed_result(const char *stage, const char *reason, int64_t gen,
                                            const char *status_json)
{
    struct p4_stage_result r = {.state = P4_STAGE_PASSED, .attempts = 3, .generation = gen};
    char gates[256];

    r.err.reason = reason;
    (void)snprintf(r.err.message, sizeof(r.err.message), "%s passed", stage);
    (void)snprintf(gates, sizeof(gates),
                   "[{\"stage\":\"%s\",\"name\":\"G\",\"status\":\"True\","
                   "\"reason\":\"R\",\"message\":\"m\"}]",
                   stage);
    r.gates = cJSON_Parse(gates);
    r.status = status_json ? cJSON_Parse(status_json) : NULL;
    return r;
}

/*
 * Every stage passed: SUCCESSFUL, Ready=True, stage Done, one Event for the verdict, the report
 * with each stage's times and the artifacts; a problem found later is Degraded (one Warning),
 * its healing is Ready again (one Normal), and the same status twice writes nothing.
 */
static void verdict_successful_then_degraded(void **state)
{
    cJSON *obj = parse("{\"metadata\":{\"generation\":4},\"spec\":{\"image\":{\"repository\":"
                       "\"r.example/app\"},\"chart\":{\"name\":\"webapp\"},\"validation\":"
                       "{\"http\":[{\"service\":\"web\",\"port\":80}]}}}");
    struct p4_stage_result d = docker_result(P4_STAGE_PASSED, P4_FAIL_NONE, false, NULL, 4, "True");
    struct p4_stage_result h = passed_result(
        "Helm", "ChartReady", 4,
        "{\"chart\":{\"version\":\"0.1.1\",\"digest\":\"sha256:c\",\"manifest\":\"m.v4\"}}");
    struct p4_stage_result k = passed_result(
        "Kubernetes", "WorkloadsReady", 4,
        "{\"inventory\":[{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"name\":\"web\"}],"
        "\"health\":{\"namespace\":\"ns\",\"pods\":\"1/1\"}}");
    struct p4_stage_result v = passed_result("Validation", "Validated", 4, NULL);
    const struct p4_stage_result *results[P4_STAGE_COUNT] = {&d, &h, &k, &v};
    cJSON *st, *events;
    const cJSON *item;
    int done = 0;

    (void)state;
    /* The stages pass one write after another, as drive_stages starts each. */
    results[1] = results[2] = results[3] = NULL;
    set_status(obj, p4_reconciler_desired_status(obj, results, T1, NULL));
    assert_string_equal(
        p4_json_str(cJSON_GetArrayItem(p4_json_get(obj, "status.report.stages"), 0), "result"),
        "Passed");
    results[1] = &h;
    results[2] = &k;
    set_status(obj, p4_reconciler_desired_status(obj, results, T2, NULL));
    assert_null(p4_json_get(obj, "status.verdict"));
    results[3] = &v;
    events = cJSON_CreateArray();
    st = p4_reconciler_desired_status(obj, results, T3, events);
    assert_string_equal(p4_json_str(st, "verdict"), "SUCCESSFUL");
    assert_string_equal(p4_json_str(st, "stage"), "Done");
    assert_condition(st, "Ready", "True", "Succeeded", T3, 4);
    assert_condition(st, "Reconciling", "False", "Succeeded", T1, 4); /* False since T1 */
    assert_false(has_condition(st, "Stalled"));
    assert_string_equal(kstatus(st, 4), "Current");
    assert_event(events, "Normal", "DeploymentSucceeded");
    assert_string_equal(p4_json_str(st, "report.verdict"), "SUCCESSFUL");
    assert_string_equal(p4_json_str(st, "report.finishedAt"), T3);
    assert_string_equal(p4_json_str(st, "report.artifacts.image"), "r.example/app@sha256:abc");
    assert_string_equal(p4_json_str(st, "report.artifacts.chart"), "webapp 0.1.1");
    assert_string_equal(p4_json_str(st, "report.artifacts.manifest"), "m.v4");
    assert_int_equal(cJSON_GetArraySize(p4_json_get(st, "report.stages")), 4);
    item = cJSON_GetArrayItem(p4_json_get(st, "report.stages"), 3);
    assert_string_equal(p4_json_str(item, "result"), "Passed");
    assert_string_equal(p4_json_str(item, "startedAt"), T2); /* once Kubernetes passed */
    assert_string_equal(p4_json_str(item, "finishedAt"), T3);
    assert_string_equal(p4_json_str(item, "duration"), "24h0m0s");
    item = cJSON_GetArrayItem(p4_json_get(st, "report.stages"), 0);
    assert_string_equal(p4_json_str(item, "startedAt"), T1); /* kept since it began */
    assert_non_null(p4_json_str(item, "duration"));
    cJSON_ArrayForEach(item, p4_json_get(st, "readiness"))
        done += cJSON_IsTrue(p4_json_get(item, "done"));
    assert_int_equal(done, 8); /* health checks defined, a rollback target known */
    set_status(obj, st);
    cJSON_Delete(events);

    /* The same again: nothing changes, nothing is told. */
    events = cJSON_CreateArray();
    st = p4_reconciler_desired_status(obj, results, "2024-01-04T00:00:00Z", events);
    assert_true(cJSON_Compare(st, p4_json_get(obj, "status"), 1));
    assert_int_equal(cJSON_GetArraySize(events), 0);
    cJSON_Delete(st);
    cJSON_Delete(events);

    /* A workload broke since: Ready False, Degraded, one Warning; the verdict stays. */
    cJSON_Delete(k.status);
    k.status = cJSON_Parse("{\"health\":{\"namespace\":\"ns\",\"problem\":\"Deployment web: "
                           "0 of 1 available\"}}");
    events = cJSON_CreateArray();
    st = p4_reconciler_desired_status(obj, results, T3, events);
    assert_condition(st, "Ready", "False", "Degraded", T3, 4);
    assert_condition(st, "Reconciling", "False", "Degraded", T1, 4);
    /* Stalled, so that kstatus (Flux) reads Failed, not InProgress until a timeout. */
    assert_condition(st, "Stalled", "True", "Degraded", T3, 4);
    assert_string_equal(kstatus(st, 4), "Failed");
    assert_string_equal(p4_json_str(st, "verdict"), "SUCCESSFUL");
    assert_int_equal(cJSON_GetArraySize(events), 1); /* Stalled's Warning, not a second one */
    assert_event(events, "Warning", "Degraded");
    set_status(obj, st);
    cJSON_Delete(events);

    /* Still degraded, another problem: the conditions say it, no second Warning. */
    cJSON_Delete(k.status);
    k.status = cJSON_Parse("{\"health\":{\"namespace\":\"ns\",\"problem\":\"Service web: "
                           "no ready endpoint\"}}");
    events = cJSON_CreateArray();
    st = p4_reconciler_desired_status(obj, results, "2024-01-04T00:00:00Z", events);
    assert_condition(st, "Stalled", "True", "Degraded", T3, 4);
    assert_non_null(strstr(p4_json_str(condition(st, "Stalled"), "message"), "no ready"));
    assert_int_equal(cJSON_GetArraySize(events), 0);
    set_status(obj, st);
    cJSON_Delete(events);

    /* Healed: Ready True again, one Normal. */
    cJSON_Delete(k.status);
    k.status = cJSON_Parse("{\"health\":{\"namespace\":\"ns\"}}");
    events = cJSON_CreateArray();
    st = p4_reconciler_desired_status(obj, results, T3, events);
    assert_condition(st, "Ready", "True", "Succeeded", T3, 4);
    assert_false(has_condition(st, "Stalled"));
    assert_string_equal(kstatus(st, 4), "Current");
    assert_int_equal(cJSON_GetArraySize(events), 1);
    assert_event(events, "Normal", "Recovered");
    cJSON_Delete(st);
    cJSON_Delete(events);

    p4_stage_result_close(&d);
    p4_stage_result_close(&h);
    p4_stage_result_close(&k);
    p4_stage_result_close(&v);
    cJSON_Delete(obj);
}

/* A Docker result still running, its gates as gates_json. */
static struct p4_stage_result running_with_gates(const char *gates_json)
{
    struct p4_stage_result r = {
        .state = P4_STAGE_RUNNING, .attempt = 1, .attempts = 3, .generation = 1};

    r.gates = cJSON_Parse(gates_json);
    return r;
}

/*
 * A stage being checked says in its condition and in Ready's message how many gates passed and
 * which started or failed (so a write that carries a gate's transition shows in kubectl get -o
 * wide and describe), and that changes with a gate's status or reason only, never with a gate's
 * own message; no Event for it.
 */
static void checking_message_follows_gate_transitions(void **state)
{
    cJSON *obj = parse("{\"metadata\":{\"generation\":1},\"spec\":{\"image\":"
                       "{\"repository\":\"r.example/app\"}}}");
    const struct p4_stage_result *results[P4_STAGE_COUNT] = {0};
    struct p4_stage_result res;
    cJSON *st, *events;

    (void)state;
    results[P4_STAGE_DOCKER] = &res;
    /* nothing started: as before */
    res = running_with_gates("[{\"name\":\"Built\",\"status\":\"Unknown\",\"reason\":"
                             "\"Checking\",\"message\":\"not checked yet\"},{\"name\":"
                             "\"Pushed\",\"status\":\"Unknown\",\"reason\":\"Checking\","
                             "\"message\":\"not checked yet\"}]");
    events = cJSON_CreateArray();
    st = p4_reconciler_desired_status(obj, results, T1, events);
    assert_string_equal(p4_json_str(condition(st, "DockerReady"), "message"),
                        "checking the Docker gates");
    assert_string_equal(p4_json_str(condition(st, "Ready"), "message"),
                        "Generation 1: checking the Docker stage (stages run in order: Docker, "
                        "Helm, Kubernetes, Validation)");
    set_status(obj, st);
    cJSON_Delete(events);
    p4_stage_result_close(&res);

    /* one passed, one started, one failed, one not started */
    res = running_with_gates(
        "[{\"name\":\"Built\",\"status\":\"True\",\"reason\":\"ImageExists\",\"message\":"
        "\"m\"},{\"name\":\"Pushed\",\"status\":\"Unknown\",\"reason\":\"Reading\","
        "\"message\":\"1 of 3 blobs\"},{\"name\":\"Pullable\",\"status\":\"Unknown\","
        "\"reason\":\"Checking\",\"message\":\"m\"},{\"name\":\"Scanned\",\"status\":"
        "\"False\",\"reason\":\"Vulnerable\",\"message\":\"m\"},{\"name\":\"Signed\","
        "\"status\":\"Unknown\",\"reason\":\"Waiting\",\"message\":\"m\"}]");
    events = cJSON_CreateArray();
    st = p4_reconciler_desired_status(obj, results, T2, events);
    assert_string_equal(p4_json_str(condition(st, "DockerReady"), "message"),
                        "checking the Docker gates: 1 of 5 passed; in progress: Pushed (Reading), "
                        "Signed (Waiting); failed: Scanned (Vulnerable)");
    /* Ready's message (kubectl get p4d -o wide) says it too */
    assert_string_equal(p4_json_str(condition(st, "Ready"), "message"),
                        "Generation 1: checking the Docker stage; gates: 1 of 5 passed; in "
                        "progress: Pushed (Reading), Signed (Waiting); failed: Scanned "
                        "(Vulnerable)");
    /* still Unknown/Checking: the transition time holds, and nothing is told */
    assert_string_equal(p4_json_str(condition(st, "DockerReady"), "lastTransitionTime"), T1);
    assert_int_equal(cJSON_GetArraySize(events), 0);
    set_status(obj, st);
    cJSON_Delete(events);
    p4_stage_result_close(&res);

    /* a gate's message alone changes: the condition says the same */
    res = running_with_gates(
        "[{\"name\":\"Built\",\"status\":\"True\",\"reason\":\"ImageExists\",\"message\":"
        "\"m\"},{\"name\":\"Pushed\",\"status\":\"Unknown\",\"reason\":\"Reading\","
        "\"message\":\"2 of 3 blobs\"},{\"name\":\"Pullable\",\"status\":\"Unknown\","
        "\"reason\":\"Checking\",\"message\":\"m\"},{\"name\":\"Scanned\",\"status\":"
        "\"False\",\"reason\":\"Vulnerable\",\"message\":\"m\"},{\"name\":\"Signed\","
        "\"status\":\"Unknown\",\"reason\":\"Waiting\",\"message\":\"m\"}]");
    events = cJSON_CreateArray();
    st = p4_reconciler_desired_status(obj, results, T2, events);
    assert_true(cJSON_Compare(condition(st, "DockerReady"),
                              condition(p4_json_get(obj, "status"), "DockerReady"), 1));
    assert_int_equal(cJSON_GetArraySize(events), 0);
    cJSON_Delete(st);
    cJSON_Delete(events);
    p4_stage_result_close(&res);

    /* all passed while the stage still runs (a last step of its own) */
    res = running_with_gates("[{\"name\":\"Built\",\"status\":\"True\",\"reason\":\"A\"},"
                             "{\"name\":\"Pushed\",\"status\":\"True\",\"reason\":\"B\"},"
                             "{\"status\":\"Unknown\",\"reason\":\"NoName\"},"
                             "{\"name\":\"NoReason\",\"status\":\"Unknown\"}]");
    events = cJSON_CreateArray();
    st = p4_reconciler_desired_status(obj, results, T2, events);
    assert_string_equal(p4_json_str(condition(st, "DockerReady"), "message"),
                        "checking the Docker gates: 2 of 4 passed");
    cJSON_Delete(st);
    cJSON_Delete(events);
    p4_stage_result_close(&res);
    cJSON_Delete(obj);
}

/* A result for an older generation is not shown as the new one's. */
static void stale_stage_result_is_ignored(void **state)
{
    cJSON *obj = parse("{\"metadata\":{\"generation\":5}}");
    struct p4_stage_result res =
        docker_result(P4_STAGE_PASSED, P4_FAIL_NONE, false, NULL, 4, "True");
    const struct p4_stage_result *results[P4_STAGE_COUNT] = {&res};
    cJSON *events = cJSON_CreateArray();
    cJSON *st;

    (void)state;
    st = p4_reconciler_desired_status(obj, results, T1, events);
    assert_string_equal(p4_json_str(st, "stage"), "Docker");
    assert_condition(st, "Ready", "Unknown", "Progressing", T1, 5);
    assert_null(p4_json_get(st, "image"));
    assert_event(events, "Normal", "Progressing");
    cJSON_Delete(st);
    cJSON_Delete(events);
    p4_stage_result_close(&res);
    cJSON_Delete(obj);
}

/* A Helm stage result, as helmstage.c reports it: one gate, status.chart once fetched. */
static struct p4_stage_result helm_result(enum p4_stage_state state, enum p4_failure_class cls,
                                          bool stalled, const char *reason, int64_t gen)
{
    struct p4_stage_result r = {.state = state,
                                .cls = cls,
                                .stalled = stalled,
                                .attempt = 1,
                                .attempts = 1,
                                .generation = gen};

    if (reason) {
        r.err.code = state == P4_STAGE_PASSED ? 0 : -1;
        r.err.reason = reason;
        (void)snprintf(r.err.message, sizeof(r.err.message), "the %s message", reason);
    }
    r.gates = cJSON_Parse("[{\"stage\":\"Helm\",\"name\":\"Lints\",\"status\":\"True\","
                          "\"reason\":\"LintPassed\",\"message\":\"m\"}]");
    r.status = cJSON_Parse("{\"chart\":{\"version\":\"0.1.0\",\"digest\":\"sha256:def\"}}");
    return r;
}

/*
 * Docker passed, then the Helm stage's result decides: its failure is the
 * resource's, its pass moves on to the Kubernetes stage; a new generation
 * forgets the Helm gates, HelmReady and status.chart until Helm runs again.
 */
static void helm_stage_follows_docker(void **state)
{
    cJSON *obj =
        parse("{\"metadata\":{\"generation\":3},\"spec\":{\"image\":"
              "{\"repository\":\"r.example/app\"}},\"status\":{\"observedGeneration\":3}}");
    struct p4_stage_result docker =
        docker_result(P4_STAGE_PASSED, P4_FAIL_NONE, false, NULL, 3, "True");
    struct p4_stage_result helm;
    const struct p4_stage_result *results[P4_STAGE_COUNT] = {&docker, NULL, NULL, NULL};
    cJSON *st, *events;

    (void)state;
    results[P4_STAGE_HELM] = &helm;

    /* Not started yet (the Docker pass is not written): checking, no Warning. */
    helm = (struct p4_stage_result){.state = P4_STAGE_RUNNING, .generation = 3};
    events = cJSON_CreateArray();
    st = p4_reconciler_desired_status(obj, results, T1, events);
    assert_string_equal(p4_json_str(st, "stage"), "Helm");
    assert_string_equal(p4_json_str(condition(st, "HelmReady"), "status"), "Unknown");
    assert_condition(st, "Reconciling", "True", "Progressing", T1, 3);
    assert_event(events, "Normal", "ImageReady");
    assert_int_equal(cJSON_GetArraySize(events), 1);
    set_status(obj, st);
    cJSON_Delete(events);

    /* A schema violation, stalled: HelmReady False, Stalled RegenerationRequired. */
    helm = helm_result(P4_STAGE_FAILED, P4_FAIL_ARTIFACT, true, "ValuesSchemaInvalid", 3);
    events = cJSON_CreateArray();
    st = p4_reconciler_desired_status(obj, results, T2, events);
    assert_condition(st, "Ready", "False", "ValuesSchemaInvalid", T2, 3);
    assert_condition(st, "Stalled", "True", "RegenerationRequired", T2, 3);
    assert_string_equal(p4_json_str(condition(st, "HelmReady"), "reason"), "ValuesSchemaInvalid");
    assert_string_equal(p4_json_str(condition(st, "DockerReady"), "status"), "True");
    assert_non_null(strstr(p4_json_str(condition(st, "Ready"), "message"), "Helm stage"));
    assert_string_equal(p4_json_str(st, "chart.version"), "0.1.0");
    assert_event(events, "Warning", "ValuesSchemaInvalid");
    assert_event(events, "Warning", "RegenerationRequired");
    set_status(obj, st);
    cJSON_Delete(events);
    p4_stage_result_close(&helm);

    /* Passed: HelmReady True with the stage's own reason, on to Kubernetes. */
    helm = helm_result(P4_STAGE_PASSED, P4_FAIL_NONE, false, "ChartReady", 3);
    events = cJSON_CreateArray();
    st = p4_reconciler_desired_status(obj, results, T3, events);
    assert_string_equal(p4_json_str(condition(st, "HelmReady"), "status"), "True");
    assert_string_equal(p4_json_str(condition(st, "HelmReady"), "message"),
                        "the ChartReady message");
    assert_string_equal(p4_json_str(st, "stage"), "Kubernetes");
    assert_condition(st, "Reconciling", "False", "StageNotAvailable", T2, 3); /* False since T2 */
    assert_false(has_condition(st, "Stalled"));
    assert_event(events, "Normal", "ChartReady");
    assert_int_equal(cJSON_GetArraySize(events), 1); /* a stage not built yet is no Warning */
    set_status(obj, st);
    cJSON_Delete(events);
    p4_stage_result_close(&helm);

    /* Generation 4: the Docker stage runs again, and nothing of Helm's generation 3 stays. */
    set_generation(obj, 4);
    p4_stage_result_close(&docker);
    docker = docker_result(P4_STAGE_RUNNING, P4_FAIL_NONE, false, NULL, 4, "Unknown");
    results[P4_STAGE_HELM] = NULL;
    st = p4_reconciler_desired_status(obj, results, T3, NULL);
    assert_string_equal(p4_json_str(st, "stage"), "Docker");
    assert_false(has_condition(st, "HelmReady"));
    assert_null(p4_json_get(st, "chart"));
    assert_null(p4_json_get(st, "image"));
    for (int i = 0; i < cJSON_GetArraySize(p4_json_get(st, "gates")); i++)
        assert_string_equal(p4_json_str(cJSON_GetArrayItem(p4_json_get(st, "gates"), i), "stage"),
                            "Docker");
    cJSON_Delete(st);
    p4_stage_result_close(&docker);
    cJSON_Delete(obj);
}

/*
 * Approval: once the Helm stage passed, a resource whose spec asks for approval waits with
 * AwaitingApproval (Ready Unknown, Reconciling True, stage AwaitingApproval, the plan kept) and
 * tells it once; its approval, with who gave it, is recorded and the walk goes on to the
 * Kubernetes stage; a new generation drops the plan and the condition until it is back.
 */
static void approval_waits_before_kubernetes(void **state)
{
    cJSON *obj = parse("{\"metadata\":{\"name\":\"web\",\"namespace\":\"shop\",\"generation\":3},"
                       "\"spec\":{\"image\":{\"repository\":\"r.example/app\"},\"target\":"
                       "{\"environment\":\"production\"},\"approval\":{\"required\":true}},"
                       "\"status\":{\"observedGeneration\":3}}");
    struct p4_stage_result docker =
        docker_result(P4_STAGE_PASSED, P4_FAIL_NONE, false, NULL, 3, "True");
    struct p4_stage_result helm =
        helm_result(P4_STAGE_PASSED, P4_FAIL_NONE, false, "ChartReady", 3);
    struct p4_stage_result kube = {.state = P4_STAGE_RUNNING, .generation = 3};
    const struct p4_stage_result *results[P4_STAGE_COUNT] = {&docker, &helm, &kube, NULL};
    cJSON *st, *events, *meta;
    const char *msg;

    (void)state;
    cJSON_AddItemToObject(helm.status, "plan",
                          parse("{\"generation\":3,\"summary\":\"2 to create, 0 to change, 0 "
                                "unchanged, 0 to prune\"}"));
    events = cJSON_CreateArray();
    st = p4_reconciler_desired_status(obj, results, T1, events);
    assert_string_equal(p4_json_str(st, "stage"), "AwaitingApproval");
    assert_condition(st, "AwaitingApproval", "True", "AwaitingApproval", T1, 3);
    assert_condition(st, "Ready", "Unknown", "AwaitingApproval", T1, 3);
    assert_condition(st, "Reconciling", "True", "AwaitingApproval", T1, 3);
    assert_string_equal(kstatus(st, 3), "InProgress"); /* not deployed, not broken */
    assert_false(has_condition(st, "KubernetesReady"));
    assert_false(has_condition(st, "Stalled"));
    msg = p4_json_str(condition(st, "AwaitingApproval"), "message");
    assert_non_null(strstr(msg, "2 to create, 0 to change"));
    assert_non_null(
        strstr(msg, "kubectl annotate p4d web -n shop phase4.io/approve=3 --overwrite"));
    assert_non_null(p4_json_get(st, "plan"));
    assert_event(events, "Normal", "AwaitingApproval");
    assert_null(p4_json_get(st, "verdict"));
    set_status(obj, st);
    cJSON_Delete(events);

    /* Again (a restart, a relist): nothing new. */
    events = cJSON_CreateArray();
    st = p4_reconciler_desired_status(obj, results, T2, events);
    assert_int_equal(cJSON_GetArraySize(events), 0);
    assert_true(cJSON_Compare(st, p4_json_get(obj, "status"), 1));
    cJSON_Delete(st);
    cJSON_Delete(events);

    /* Approved, with who approved read: recorded, and on to the Kubernetes stage. */
    meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
    cJSON_AddItemToObject(meta, "annotations", parse("{\"phase4.io/approve\":\"3\"}"));
    cJSON_AddItemToObject(
        meta, "managedFields",
        parse("[{\"manager\":\"kubectl-annotate\",\"operation\":\"Update\",\"time\":"
              "\"2024-01-02T00:00:00Z\",\"fieldsV1\":{\"f:metadata\":{\"f:annotations\":"
              "{\"f:phase4.io/approve\":{}}}}}]"));
    events = cJSON_CreateArray();
    st = p4_reconciler_desired_status(obj, results, T2, events);
    assert_int_equal(p4_json_int64(st, "approval.generation", &(int64_t){0}), 0);
    assert_string_equal(p4_json_str(st, "approval.by"), "kubectl-annotate");
    assert_string_equal(p4_json_str(st, "approval.at"), T2);
    assert_string_equal(p4_json_str(condition(st, "AwaitingApproval"), "status"), "False");
    assert_string_equal(p4_json_str(condition(st, "AwaitingApproval"), "reason"), "Approved");
    assert_string_equal(p4_json_str(st, "stage"), "Kubernetes");
    assert_event(events, "Normal", "Approved");
    assert_non_null(strstr(p4_json_str(cJSON_GetArrayItem(events, 0), "message"),
                           "by field manager kubectl-annotate"));
    set_status(obj, st);
    cJSON_Delete(events);

    /* Generation 4: the Docker stage runs again; the plan and the condition go. */
    set_generation(obj, 4);
    p4_stage_result_close(&docker);
    docker = docker_result(P4_STAGE_RUNNING, P4_FAIL_NONE, false, NULL, 4, "Unknown");
    results[P4_STAGE_HELM] = NULL;
    results[P4_STAGE_KUBERNETES] = NULL;
    st = p4_reconciler_desired_status(obj, results, T3, NULL);
    assert_false(has_condition(st, "AwaitingApproval"));
    assert_null(p4_json_get(st, "plan"));
    assert_int_equal(p4_json_int64(st, "approval.generation", &(int64_t){0}), 0);
    cJSON_Delete(st);
    p4_stage_result_close(&docker);
    p4_stage_result_close(&helm);
    cJSON_Delete(obj);
}

/*
 * After an operator restart the stages check this generation again from the
 * start: what passed stays passed while they do (no flap of DockerReady or
 * HelmReady, no Event), and a failure of the re-check still shows.
 */
static void restart_rechecks_without_flapping(void **state)
{
    cJSON *obj =
        parse("{\"metadata\":{\"generation\":3},\"spec\":{\"image\":"
              "{\"repository\":\"r.example/app\"}},\"status\":{\"observedGeneration\":3}}");
    struct p4_stage_result docker =
        docker_result(P4_STAGE_PASSED, P4_FAIL_NONE, false, NULL, 3, "True");
    struct p4_stage_result helm =
        helm_result(P4_STAGE_PASSED, P4_FAIL_NONE, false, "ChartReady", 3);
    const struct p4_stage_result *results[P4_STAGE_COUNT] = {&docker, &helm, NULL, NULL};
    cJSON *st, *events;

    (void)state;
    set_status(obj, p4_reconciler_desired_status(obj, results, T1, NULL));
    p4_stage_result_close(&docker);
    p4_stage_result_close(&helm);

    /* The new process: both stages are checking again. */
    docker = docker_result(P4_STAGE_RUNNING, P4_FAIL_NONE, false, NULL, 3, "Unknown");
    helm = (struct p4_stage_result){.state = P4_STAGE_RUNNING, .generation = 3};
    events = cJSON_CreateArray();
    st = p4_reconciler_desired_status(obj, results, T2, events);
    assert_true(cJSON_Compare(st, p4_json_get(obj, "status"), 1));
    assert_int_equal(cJSON_GetArraySize(events), 0);
    cJSON_Delete(st);
    cJSON_Delete(events);
    p4_stage_result_close(&docker);

    /* The re-check finds the image gone: that is news. */
    docker = docker_result(P4_STAGE_FAILED, P4_FAIL_ARTIFACT, true, "ImageNotFound", 3, "False");
    events = cJSON_CreateArray();
    st = p4_reconciler_desired_status(obj, results, T2, events);
    assert_string_equal(p4_json_str(condition(st, "DockerReady"), "status"), "False");
    assert_false(has_condition(st, "HelmReady"));
    assert_event(events, "Warning", "ImageNotFound");
    cJSON_Delete(st);
    cJSON_Delete(events);
    p4_stage_result_close(&docker);
    cJSON_Delete(obj);
}

/* A resource the operator may not work on as it is (tenancy.h): refused, no stage runs. */
static void refused_resource_is_stalled_with_the_reason(void **state)
{
    cJSON *obj = parse("{\"metadata\":{\"name\":\"web\",\"namespace\":\"shop\","
                       "\"generation\":2},\"spec\":{},\"status\":{\"observedGeneration\":1,"
                       "\"stage\":\"Helm\",\"image\":{\"digest\":\"sha256:1\"},"
                       "\"inventory\":[{\"kind\":\"Deployment\"}],\"gates\":[{\"stage\":"
                       "\"Docker\",\"name\":\"Pushed\"}],\"conditions\":[{\"type\":"
                       "\"DockerReady\",\"status\":\"True\",\"reason\":\"ImageReady\"}]}}");
    cJSON *events = cJSON_CreateArray(), *again = cJSON_CreateArray();
    struct p4_error why;
    cJSON *st, *st2;

    (void)state;
    p4_error_set(&why, P4_ERR_FORBIDDEN, "spec.target.namespace kube-system is not shop");
    why.reason = "TargetNotAllowed";
    st = p4_reconciler_refused_status(obj, &why, T1, events);
    assert_string_equal(p4_json_str(st, "stage"), "Pending");
    assert_int_equal(observed_generation(st), 2);
    assert_condition(st, "Ready", "False", "TargetNotAllowed", T1, 2);
    assert_condition(st, "Reconciling", "False", "TargetNotAllowed", T1, 2);
    /* A person's to fix: escalated, the specific reason in the message, with impact and fix. */
    assert_condition(st, "Stalled", "True", "EscalatedToUser", T1, 2);
    assert_string_equal(kstatus(st, 2), "Failed");
    assert_non_null(strstr(p4_json_str(condition(st, "Stalled"), "message"), "kube-system"));
    assert_non_null(strstr(p4_json_str(condition(st, "Stalled"), "message"),
                           "escalated to a person: not started (TargetNotAllowed)"));
    assert_non_null(strstr(p4_json_str(condition(st, "Stalled"), "message"),
                           "impact: what an earlier generation applied stays as it is"));
    assert_non_null(strstr(p4_json_str(condition(st, "Stalled"), "message"),
                           "fix: set spec.serviceAccountName"));
    assert_non_null(strstr(p4_json_str(st, "report.failure.impact"), "impact: "));
    assert_int_equal(cJSON_GetArraySize(p4_json_get(st, "conditions")), 3); /* DockerReady gone */
    assert_null(p4_json_get(st, "gates"));
    assert_null(p4_json_get(st, "image"));
    assert_non_null(p4_json_get(st, "inventory")); /* what was applied stays on record */
    assert_int_equal(cJSON_GetArraySize(events), 1);
    assert_event(events, "Warning", "EscalatedToUser");
    /* Once written, the same answer is no news. */
    set_status(obj, st);
    st2 = p4_reconciler_refused_status(obj, &why, T2, again);
    assert_true(cJSON_Compare(st2, p4_json_get(obj, "status"), 1));
    assert_int_equal(cJSON_GetArraySize(again), 0);
    cJSON_Delete(st2);
    cJSON_Delete(events);
    cJSON_Delete(again);
    cJSON_Delete(obj);
}

/*
 * A resource stalled before a restart: while the stage checks again the failure stays as it is
 * on record (no flap to Checking), and the same failure again is no news: no Warning at every
 * start. A different outcome still is.
 */
static void restart_of_a_stalled_resource_tells_nothing_new(void **state)
{
    cJSON *obj =
        parse("{\"metadata\":{\"generation\":3},\"spec\":{\"image\":"
              "{\"repository\":\"r.example/app\"}},\"status\":{\"observedGeneration\":3}}");
    struct p4_stage_result docker =
        docker_result(P4_STAGE_PASSED, P4_FAIL_NONE, false, NULL, 3, "True");
    struct p4_stage_result helm =
        helm_result(P4_STAGE_FAILED, P4_FAIL_ARTIFACT, true, "ValuesSchemaInvalid", 3);
    const struct p4_stage_result *results[P4_STAGE_COUNT] = {&docker, &helm, NULL, NULL};
    cJSON *st, *events;

    (void)state;
    set_status(obj, p4_reconciler_desired_status(obj, results, T1, NULL));
    assert_condition(p4_json_get(obj, "status"), "Stalled", "True", "RegenerationRequired", T1, 3);
    p4_stage_result_close(&docker);
    p4_stage_result_close(&helm);

    /* The new process: both stages check again; the status stays as it was, no Event. */
    docker = docker_result(P4_STAGE_RUNNING, P4_FAIL_NONE, false, NULL, 3, "Unknown");
    helm = (struct p4_stage_result){.state = P4_STAGE_RUNNING, .generation = 3};
    events = cJSON_CreateArray();
    st = p4_reconciler_desired_status(obj, results, T2, events);
    assert_true(cJSON_Compare(st, p4_json_get(obj, "status"), 1));
    assert_int_equal(cJSON_GetArraySize(events), 0);
    cJSON_Delete(st);
    cJSON_Delete(events);

    /* The check fails the same way: still nothing new, nothing told. */
    helm = helm_result(P4_STAGE_FAILED, P4_FAIL_ARTIFACT, true, "ValuesSchemaInvalid", 3);
    events = cJSON_CreateArray();
    st = p4_reconciler_desired_status(obj, results, T2, events);
    assert_condition(st, "Stalled", "True", "RegenerationRequired", T1, 3);
    assert_condition(st, "Ready", "False", "ValuesSchemaInvalid", T1, 3);
    assert_int_equal(cJSON_GetArraySize(events), 0);
    cJSON_Delete(st);
    cJSON_Delete(events);
    p4_stage_result_close(&helm);

    /* It passes this time (the chart server is back, say): that is news. */
    helm = helm_result(P4_STAGE_PASSED, P4_FAIL_NONE, false, "ChartReady", 3);
    events = cJSON_CreateArray();
    st = p4_reconciler_desired_status(obj, results, T3, events);
    assert_string_equal(p4_json_str(condition(st, "HelmReady"), "status"), "True");
    assert_false(has_condition(st, "Stalled"));
    assert_event(events, "Normal", "ChartReady");
    cJSON_Delete(st);
    cJSON_Delete(events);
    p4_stage_result_close(&helm);
    p4_stage_result_close(&docker);
    cJSON_Delete(obj);
}

/* A resource the informer cannot parse: its status says so once; the same again writes nothing. */
static void unreadable_resource_gets_a_stalled_status_once(void **state)
{
    struct p4_informer_unreadable u = {.ns = "team-a",
                                       .name = "deep",
                                       .resource_version = "9",
                                       .has_generation = true,
                                       .generation = 4,
                                       .why = "spec.chart.values nests deeper than 1000 levels"};
    char msg[512], again[512];
    cJSON *st, *st2;
    char *text;

    (void)state;
    u.status = strdup("{\"observedGeneration\":3,\"stage\":\"Helm\",\"conditions\":["
                      "{\"type\":\"Ready\",\"status\":\"True\",\"reason\":\"Ready\","
                      "\"message\":\"m\",\"observedGeneration\":3,"
                      "\"lastTransitionTime\":\"2026-01-01T00:00:00Z\"},"
                      "{\"type\":\"HelmReady\",\"status\":\"True\",\"reason\":\"X\","
                      "\"message\":\"m\",\"observedGeneration\":3,"
                      "\"lastTransitionTime\":\"2026-01-01T00:00:00Z\"}]}");
    st = p4_reconciler_unreadable_status(&u, "2026-02-02T00:00:00Z", msg, sizeof(msg));
    assert_non_null(st);
    assert_string_equal(msg, "Generation 4: phase4-operator cannot read this resource: "
                             "spec.chart.values nests deeper than 1000 levels; fix it and apply "
                             "it again (no stage runs until then)");
    assert_int_equal(observed_generation(st), 4);
    assert_condition(st, "Ready", "False", P4_REASON_UNREADABLE, "2026-02-02T00:00:00Z", 4);
    assert_condition(st, "Reconciling", "False", P4_REASON_UNREADABLE, "2026-02-02T00:00:00Z", 4);
    assert_condition(st, "Stalled", "True", P4_REASON_UNREADABLE, "2026-02-02T00:00:00Z", 4);
    assert_string_equal(p4_json_str(condition(st, "Stalled"), "message"), msg);
    assert_string_equal(p4_json_str(st, "stage"), "Helm"); /* the rest stays */
    assert_non_null(condition(st, "HelmReady"));

    /* Written: a relist or a restart finds the same, and writes nothing (no second Event). */
    free(u.status);
    u.status = text = p4_json_print(st);
    assert_null(p4_reconciler_unreadable_status(&u, "2026-03-03T00:00:00Z", again, sizeof(again)));
    assert_string_equal(again, msg);

    /* Another reason (another generation) is news again, and keeps Stalled's transition time. */
    u.generation = 5;
    strcpy(u.why, "the object is larger than 64 MiB");
    st2 = p4_reconciler_unreadable_status(&u, "2026-03-03T00:00:00Z", again, sizeof(again));
    assert_non_null(st2);
    assert_condition(st2, "Stalled", "True", P4_REASON_UNREADABLE, "2026-02-02T00:00:00Z", 5);
    cJSON_Delete(st2);
    free(text);

    /* No status, no generation, a status that is no object: still a status. */
    u.status = strdup("[1]");
    u.has_generation = false;
    st2 = p4_reconciler_unreadable_status(&u, "2026-03-03T00:00:00Z", again, sizeof(again));
    assert_non_null(st2);
    assert_null(p4_json_get(st2, "observedGeneration"));
    assert_memory_equal(again, "phase4-operator cannot", 22);
    cJSON_Delete(st2);
    free(u.status);
    u.status = NULL;
    st2 = p4_reconciler_unreadable_status(&u, "2026-03-03T00:00:00Z", again, sizeof(again));
    assert_non_null(st2);
    cJSON_Delete(st2);
    cJSON_Delete(st);
}

/* The number of events of type/reason. */
static int count_events(const cJSON *events, const char *type, const char *reason)
{
    const cJSON *e;
    int n = 0;

    cJSON_ArrayForEach(e, events) {
        if (strcmp(p4_json_str(e, "type"), type) == 0 &&
            strcmp(p4_json_str(e, "reason"), reason) == 0)
            n++;
    }
    return n;
}

/*
 * Suspended while a stage works: Suspending (Reconciling True), then Suspended once the runs
 * stopped, with one Normal Suspended Event; what the stages found stays for the resume. The
 * resume is one Normal Resumed Event, and a resumed pass neither flaps nor is told again.
 */
static void suspending_suspended_then_resumed(void **state)
{
    cJSON *obj = parse(
        "{\"metadata\":{\"generation\":3},\"spec\":{\"suspend\":true},\"status\":{"
        "\"observedGeneration\":2,\"stage\":\"Kubernetes\",\"image\":{\"digest\":\"sha256:abc\"},"
        "\"chart\":{\"manifest\":\"m.2\"},\"inventory\":[{\"kind\":\"Deployment\"}],"
        "\"conditions\":[{\"type\":\"DockerReady\",\"status\":\"True\",\"reason\":"
        "\"ImageReady\",\"message\":\"ok\",\"observedGeneration\":2,\"lastTransitionTime\":\"" T1
        "\"},{\"type\":\"Reconciling\",\"status\":\"True\",\"reason\":\"Progressing\","
        "\"message\":\"Generation 2: x\",\"observedGeneration\":2,\"lastTransitionTime\":\"" T1
        "\"},{\"type\":\"Stalled\",\"status\":\"True\",\"reason\":\"EscalatedToUser\","
        "\"message\":\"Generation 2: x\",\"observedGeneration\":2,\"lastTransitionTime\":\"" T1
        "\"}]}}");
    const struct p4_stage_result *results[P4_STAGE_COUNT] = {0};
    struct p4_stage_result docker, helm = {.state = P4_STAGE_RUNNING, .generation = 4};
    cJSON *events = cJSON_CreateArray(), *st;

    (void)state;
    st = p4_reconciler_suspended_status(obj, true, T2, events);
    assert_condition(st, "Reconciling", "True", "Suspending", T1, 3);
    assert_condition(st, "Ready", "Unknown", "Suspending", T2, 3);
    assert_non_null(strstr(p4_json_str(condition(st, "Ready"), "message"), "nothing is left "
                                                                           "half-applied"));
    assert_false(has_condition(st, "Stalled")); /* nothing is checked again while it holds */
    assert_string_equal(kstatus(st, 3), "InProgress");
    assert_string_equal(p4_json_str(st, "stage"), "Kubernetes");
    assert_string_equal(p4_json_str(st, "image.digest"), "sha256:abc");
    assert_string_equal(p4_json_str(st, "chart.manifest"), "m.2");
    assert_non_null(p4_json_get(st, "inventory"));
    assert_string_equal(p4_json_str(condition(st, "DockerReady"), "lastTransitionTime"), T1);
    assert_int_equal(cJSON_GetArraySize(events), 0);
    set_status(obj, st);

    st = p4_reconciler_suspended_status(obj, false, T3, events);
    assert_condition(st, "Reconciling", "False", "Suspended", T3, 3);
    assert_condition(st, "Ready", "Unknown", "Suspended", T2, 3);
    assert_false(has_condition(st, "Stalled"));
    /* Ready Unknown: InProgress, as kstatus reads Flux's own suspended objects (docs/gitops.md) */
    assert_string_equal(kstatus(st, 3), "InProgress");
    assert_int_equal(count_events(events, "Normal", "Suspended"), 1);
    set_status(obj, st);
    /* Still suspended: nothing new. */
    st = p4_reconciler_suspended_status(obj, false, T3, events);
    assert_true(cJSON_Compare(st, p4_json_get(obj, "status"), 1));
    assert_int_equal(cJSON_GetArraySize(events), 1);
    cJSON_Delete(st);
    /* desired_status of a suspended resource is the same. */
    st = p4_reconciler_desired_status(obj, NULL, T3, events);
    assert_true(cJSON_Compare(st, p4_json_get(obj, "status"), 1));
    cJSON_Delete(st);

    /* Resumed as generation 4: the Docker run goes on as generation 4's. */
    cJSON_ReplaceItemInObjectCaseSensitive(obj, "spec", parse("{\"suspend\":false}"));
    set_generation(obj, 4);
    docker = docker_result(P4_STAGE_PASSED, P4_FAIL_NONE, false, NULL, 4, "True");
    docker.resumed = true;
    results[P4_STAGE_DOCKER] = &docker;
    results[P4_STAGE_HELM] = &helm;
    cJSON_Delete(events);
    events = cJSON_CreateArray();
    st = p4_reconciler_desired_status(obj, results, T3, events);
    assert_int_equal(count_events(events, "Normal", "Resumed"), 1);
    assert_int_equal(count_events(events, "Normal", "Progressing"), 0);
    assert_int_equal(count_events(events, "Normal", "ImageReady"), 0); /* told before */
    assert_string_equal(p4_json_str(condition(st, "DockerReady"), "lastTransitionTime"), T1);
    assert_condition(st, "Reconciling", "True", "Progressing", T3, 4);
    assert_string_equal(p4_json_str(st, "image.digest"), "sha256:abc");
    p4_stage_result_close(&docker);
    cJSON_Delete(st);
    cJSON_Delete(events);
    cJSON_Delete(obj);
}

/*
 * A failure on record that a retry on demand runs again is not kept as current (as it is while
 * a restart checks again): the stage shows as checked, Stalled goes, and no Event tells it.
 */
static void retried_failure_is_not_kept_on_record(void **state)
{
    cJSON *obj = parse("{\"metadata\":{\"generation\":2},\"spec\":{\"image\":{\"repository\":"
                       "\"r.example/app\"}},\"status\":{\"observedGeneration\":2}}");
    const struct p4_stage_result *results[P4_STAGE_COUNT] = {0};
    struct p4_stage_result res;
    cJSON *st, *events = cJSON_CreateArray();

    (void)state;
    results[P4_STAGE_DOCKER] = &res;
    res = docker_result(P4_STAGE_FAILED, P4_FAIL_ARTIFACT, true, "ImageNotFound", 2, "False");
    set_status(obj, p4_reconciler_desired_status(obj, results, T1, NULL));
    p4_stage_result_close(&res);
    assert_condition(p4_json_get(obj, "status"), "Stalled", "True", "RegenerationRequired", T1, 2);

    /* Checked again after a restart: the failure stays. */
    res = docker_result(P4_STAGE_RUNNING, P4_FAIL_NONE, false, NULL, 2, "Unknown");
    st = p4_reconciler_desired_status(obj, results, T2, NULL);
    assert_string_equal(p4_json_str(condition(st, "DockerReady"), "status"), "False");
    assert_true(has_condition(st, "Stalled"));
    cJSON_Delete(st);
    /* Run again on demand: checked, not stalled, nothing to tell but the change. */
    res.retried = true;
    st = p4_reconciler_desired_status(obj, results, T2, events);
    assert_string_equal(p4_json_str(condition(st, "DockerReady"), "status"), "Unknown");
    assert_string_equal(p4_json_str(condition(st, "DockerReady"), "reason"), "Checking");
    assert_condition(st, "Reconciling", "True", "Progressing", T2, 2);
    assert_false(has_condition(st, "Stalled"));
    assert_null(p4_json_get(st, "verdict"));
    assert_int_equal(count_events(events, "Warning", "RegenerationRequired"), 0);
    p4_stage_result_close(&res);
    cJSON_Delete(st);
    cJSON_Delete(events);
    cJSON_Delete(obj);
}

/* A final failure with the longest message a stage gives: the condition says all of it (the
   remedy last), and no Event message reaches 1 KiB (add_event cuts one that would). */
static void event_messages_are_cut_to_1kib(void **state)
{
    cJSON *obj = parse("{\"metadata\":{\"generation\":2},\"spec\":{},\"status\":"
                       "{\"observedGeneration\":2}}");
    const struct p4_stage_result *results[P4_STAGE_COUNT] = {0};
    struct p4_stage_result res;
    cJSON *st, *events = cJSON_CreateArray();
    const cJSON *e;

    (void)state;
    results[P4_STAGE_DOCKER] = &res;
    res = docker_result(P4_STAGE_FAILED, P4_FAIL_CLUSTER, true, "Forbidden", 2, "False");
    memset(res.err.message, 'm', sizeof(res.err.message) - 1);
    res.err.message[sizeof(res.err.message) - 1] = '\0';
    st = p4_reconciler_desired_status(obj, results, T1, events);
    assert_non_null(
        strstr(p4_json_str(condition(st, "Stalled"), "message"), "clears by itself once fixed"));
    assert_true(cJSON_GetArraySize(events) >= 2);
    cJSON_ArrayForEach(e, events) {
        assert_true(strlen(p4_json_str(e, "message")) < 1024);
    }
    assert_int_equal(count_events(events, "Warning", "EscalatedToUser"), 1);
    p4_stage_result_close(&res);
    cJSON_Delete(st);
    cJSON_Delete(events);
    cJSON_Delete(obj);
}

/*
 * status.history: the current generation's entry goes in front when its run starts and is
 * updated at its verdict; older entries stay as they were, at most ten; the same status twice
 * is the same history.
 */
static void history_add_update_cap(void **state)
{
    cJSON *obj = parse("{\"metadata\":{\"generation\":12},\"spec\":{\"image\":{\"repository\":"
                       "\"r.example/app\"},\"chart\":{\"name\":\"webapp\"}},\"status\":"
                       "{\"observedGeneration\":11,\"history\":[]}}");
    struct p4_stage_result d =
        docker_result(P4_STAGE_PASSED, P4_FAIL_NONE, false, NULL, 12, "True");
    struct p4_stage_result h = passed_result(
        "Helm", "ChartReady", 12,
        "{\"chart\":{\"version\":\"0.1.1\",\"digest\":\"sha256:c\",\"manifest\":\"m.v12\","
        "\"images\":[\"a@sha256:1\",\"b@sha256:2\"]}}");
    struct p4_stage_result k = passed_result("Kubernetes", "WorkloadsReady", 12, "{}");
    struct p4_stage_result v = passed_result("Validation", "Validated", 12, NULL);
    const struct p4_stage_result *results[P4_STAGE_COUNT] = {&d, NULL, NULL, NULL};
    cJSON *hist = cJSON_GetObjectItem(cJSON_GetObjectItem(obj, "status"), "history"), *st;
    const cJSON *list, *first;
    char entry[160];

    (void)state;
    for (int g = 11; g >= 1; g--) { /* eleven older revisions, newest first */
        (void)snprintf(entry, sizeof(entry),
                       "{\"generation\":%d,\"verdict\":\"SUCCESSFUL\",\"approvedBy\":\"\"}", g);
        cJSON_AddItemToArray(hist, parse(entry));
    }
    /* The run starts: generation 12 in front, no verdict yet, ten in all. */
    st = p4_reconciler_desired_status(obj, results, T1, NULL);
    list = p4_json_get(st, "history");
    assert_int_equal(cJSON_GetArraySize(list), 10);
    first = cJSON_GetArrayItem(list, 0);
    assert_int_equal((int)cJSON_GetNumberValue(p4_json_get(first, "generation")), 12);
    assert_null(p4_json_get(first, "verdict"));
    assert_string_equal(p4_json_str(first, "startedAt"), T1);
    assert_string_equal(p4_json_str(first, "imageDigest"), "sha256:abc");
    assert_null(p4_json_get(first, "chart"));
    assert_string_equal(p4_json_str(first, "approvedBy"), "");
    assert_int_equal(
        (int)cJSON_GetNumberValue(p4_json_get(cJSON_GetArrayItem(list, 1), "generation")), 11);
    assert_true(cJSON_Compare(cJSON_GetArrayItem(list, 1),
                              cJSON_GetArrayItem(p4_json_get(obj, "status.history"), 0), 1));
    assert_int_equal(
        (int)cJSON_GetNumberValue(p4_json_get(cJSON_GetArrayItem(list, 9), "generation")), 3);
    set_status(obj, st);

    /* Every stage passed: the same entry gets the verdict, the chart and the images. */
    results[1] = &h;
    results[2] = &k;
    results[3] = &v;
    st = p4_reconciler_desired_status(obj, results, T2, NULL);
    list = p4_json_get(st, "history");
    assert_int_equal(cJSON_GetArraySize(list), 10);
    first = cJSON_GetArrayItem(list, 0);
    assert_int_equal((int)cJSON_GetNumberValue(p4_json_get(first, "generation")), 12);
    assert_string_equal(p4_json_str(first, "verdict"), "SUCCESSFUL");
    assert_string_equal(p4_json_str(first, "startedAt"), T1);
    assert_string_equal(p4_json_str(first, "finishedAt"), T2);
    assert_string_equal(p4_json_str(first, "chart.name"), "webapp");
    assert_string_equal(p4_json_str(first, "chart.version"), "0.1.1");
    assert_string_equal(p4_json_str(first, "chart.digest"), "sha256:c");
    assert_int_equal((int)cJSON_GetNumberValue(p4_json_get(first, "images")), 2);
    assert_null(p4_json_get(first, "reason"));
    set_status(obj, st);

    /* Unchanged: the same history, nothing to write. */
    st = p4_reconciler_desired_status(obj, results, T3, NULL);
    assert_true(cJSON_Compare(st, p4_json_get(obj, "status"), 1));
    cJSON_Delete(st);

    /* Generation 13 fails for good: its entry in front, 12's kept as it was. */
    set_generation(obj, 13);
    p4_stage_result_close(&d);
    d = docker_result(P4_STAGE_FAILED, P4_FAIL_ARTIFACT, true, "ImageNotFound", 13, "False");
    results[1] = results[2] = results[3] = NULL;
    st = p4_reconciler_desired_status(obj, results, T3, NULL);
    list = p4_json_get(st, "history");
    assert_int_equal(cJSON_GetArraySize(list), 10);
    first = cJSON_GetArrayItem(list, 0);
    assert_int_equal((int)cJSON_GetNumberValue(p4_json_get(first, "generation")), 13);
    assert_string_equal(p4_json_str(first, "verdict"), "FAILED");
    assert_string_equal(p4_json_str(first, "stage"), "Docker");
    assert_string_equal(p4_json_str(first, "reason"), "ImageNotFound");
    assert_null(p4_json_get(first, "imageDigest"));
    assert_true(cJSON_Compare(cJSON_GetArrayItem(list, 1),
                              cJSON_GetArrayItem(p4_json_get(obj, "status.history"), 0), 1));
    cJSON_Delete(st);
    p4_stage_result_close(&d);
    p4_stage_result_close(&h);
    p4_stage_result_close(&k);
    p4_stage_result_close(&v);
    cJSON_Delete(obj);
}

/* A resource being deleted says so, what remains, what is stuck, and tells it once. */
static void deleting_status_says_what_remains(void **state)
{
    cJSON *obj = parse("{\"metadata\":{\"generation\":2,\"deletionTimestamp\":\"" T1 "\"},"
                       "\"spec\":{},\"status\":{\"observedGeneration\":2,\"conditions\":["
                       "{\"type\":\"Ready\",\"status\":\"True\",\"reason\":\"Succeeded\","
                       "\"message\":\"Generation 2: ok\",\"lastTransitionTime\":\"" T1 "\"},"
                       "{\"type\":\"Stalled\",\"status\":\"True\",\"reason\":\"X\","
                       "\"message\":\"m\",\"lastTransitionTime\":\"" T1 "\"}]}}");
    struct p4_finalize_result fr = {.deleted = 2, .remaining = 1};
    cJSON *events = cJSON_CreateArray(), *st;
    const cJSON *c;

    (void)state;
    (void)snprintf(fr.left, sizeof(fr.left), "ConfigMap shop/held");
    st = p4_reconciler_deleting_status(obj, &fr, T3, T2, events);
    assert_condition(st, "Ready", "False", "Deleting", T2, 2);
    assert_condition(st, "Reconciling", "True", "Deleting", T2, 2);
    c = condition(st, "Reconciling");
    assert_non_null(strstr(p4_json_str(c, "message"), "deleted so far 2; 1 object(s) remain: "
                                                      "ConfigMap shop/held"));
    assert_non_null(strstr(p4_json_str(c, "message"), T3));
    assert_null(p4_json_get(st, "conditions.2")); /* Stalled is gone: the deletion goes on */
    assert_int_equal(cJSON_GetArraySize(events), 1);
    assert_string_equal(p4_json_str(cJSON_GetArrayItem(events, 0), "reason"), "Uninstalling");

    /* Something is stuck: a condition and one Warning, not another Uninstalling. */
    set_status(obj, st);
    cJSON_Delete(events);
    events = cJSON_CreateArray();
    (void)snprintf(fr.blocked_reason, sizeof(fr.blocked_reason), "ObjectTerminating");
    (void)snprintf(fr.blocked_message, sizeof(fr.blocked_message), "ConfigMap shop/held waits");
    st = p4_reconciler_deleting_status(obj, &fr, T3, T2, events);
    c = condition(st, "DeletionBlocked");
    assert_string_equal(p4_json_str(c, "status"), "True");
    assert_string_equal(p4_json_str(c, "reason"), "ObjectTerminating");
    assert_int_equal(cJSON_GetArraySize(events), 1);
    assert_string_equal(p4_json_str(cJSON_GetArrayItem(events, 0), "type"), "Warning");
    assert_string_equal(p4_json_str(cJSON_GetArrayItem(events, 0), "reason"), "DeletionBlocked");

    /* The same again tells nothing. */
    set_status(obj, st);
    cJSON_Delete(events);
    events = cJSON_CreateArray();
    st = p4_reconciler_deleting_status(obj, &fr, T3, T2, events);
    assert_true(cJSON_Compare(st, p4_json_get(obj, "status"), 1));
    assert_int_equal(cJSON_GetArraySize(events), 0);
    cJSON_Delete(st);

    /* Unstuck: the condition goes. */
    fr.blocked_reason[0] = '\0';
    st = p4_reconciler_deleting_status(obj, &fr, T3, T2, events);
    c = NULL;
    cJSON_ArrayForEach(c, p4_json_get(st, "conditions")) {
        assert_false(strcmp(p4_json_str(c, "type"), "DeletionBlocked") == 0);
    }
    cJSON_Delete(st);
    cJSON_Delete(events);
    cJSON_Delete(obj);
}

/* A Ready resource of generation 3, every stage passed and what they pinned on record. */
static cJSON *trusted_resource(void)
{
    return parse(
        "{\"metadata\":{\"name\":\"web\",\"namespace\":\"shop\",\"generation\":3},\"spec\":{},"
        "\"status\":{\"observedGeneration\":3,\"stage\":\"Validation\","
        "\"image\":{\"digest\":\"sha256:aa\"},"
        "\"chart\":{\"digest\":\"sha256:bb\",\"manifest\":\"web-manifest-3\"},"
        "\"inventory\":[{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"name\":\"web\"}],"
        "\"conditions\":["
        "{\"type\":\"Ready\",\"status\":\"True\",\"observedGeneration\":3},"
        "{\"type\":\"Stalled\",\"status\":\"False\",\"observedGeneration\":3},"
        "{\"type\":\"Notified\",\"status\":\"True\",\"observedGeneration\":3},"
        "{\"type\":\"DockerReady\",\"status\":\"True\",\"observedGeneration\":3},"
        "{\"type\":\"HelmReady\",\"status\":\"True\",\"observedGeneration\":3},"
        "{\"type\":\"KubernetesReady\",\"status\":\"True\",\"observedGeneration\":3},"
        "{\"type\":\"Validated\",\"status\":\"True\",\"observedGeneration\":3}]}}");
}

/* Set the string or number at "a.b" (a JSON literal) in obj. */
static void put(cJSON *obj, const char *parent, const char *name, const char *json)
{
    cJSON *at = parent ? (cJSON *)p4_json_get(obj, parent) : obj;

    assert_non_null(at);
    cJSON_DeleteItemFromObjectCaseSensitive(at, name);
    cJSON_AddItemToObject(at, name, parse(json));
}

/* Set the status of condition type in obj. */
static void put_condition(cJSON *obj, const char *type, const char *status, int gen)
{
    cJSON *c = (cJSON *)p4_json_find(p4_json_get(obj, "status.conditions"), "type", type);

    assert_non_null(c);
    cJSON_ReplaceItemInObjectCaseSensitive(c, "status", cJSON_CreateString(status));
    cJSON_ReplaceItemInObjectCaseSensitive(c, "observedGeneration", cJSON_CreateNumber(gen));
}

static void a_passed_generation_on_record_is_trusted(void **state)
{
    cJSON *obj = trusted_resource();

    (void)state;
    assert_true(p4_reconciler_trusted(obj, P4_STAGE_COUNT));
    assert_false(p4_reconciler_trusted(obj, 0));
    assert_false(p4_reconciler_trusted(NULL, P4_STAGE_COUNT));
    /* Only the stages built count: without an inventory, two stages still pass. */
    cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetObjectItem(obj, "status"), "inventory");
    assert_true(p4_reconciler_trusted(obj, 2));
    assert_false(p4_reconciler_trusted(obj, P4_STAGE_COUNT));
    cJSON_Delete(obj);
}

static void anything_not_fully_passed_is_not_trusted(void **state)
{
    static const struct {
        const char *parent, *name, *json;
    } changes[] = {
        {"metadata", "generation", "4"},       /* a new generation */
        {"status", "observedGeneration", "2"}, /* an older one observed */
        {"spec", "suspend", "true"},           /* suspended */
        {"metadata", "deletionTimestamp", "\"2026-01-01T00:00:00Z\""},
        {"metadata", "annotations", "{\"phase4.io/retry\":\"1\"}"}, /* a retry asked for */
        {"status", "health", "{\"problem\":\"CrashLoopBackOff\"}"}, /* Degraded since */
        {"status", "image", "{}"},                                  /* no digest pinned */
        {"status", "chart", "{\"digest\":\"sha256:bb\"}"},          /* no manifest */
        {"status", "inventory", "[]"},                              /* nothing applied */
        {"status", "rollback", "{\"from\":3,\"to\":2,\"state\":\"Succeeded\"}"},
    };
    static const struct {
        const char *type, *status;
        int gen;
    } conds[] = {
        {"Ready", "False", 3},           {"Ready", "True", 2},
        {"Stalled", "True", 3},          {"HelmReady", "Unknown", 3},
        {"KubernetesReady", "False", 3}, {"Validated", "True", 2},
        {"DockerReady", "True", 1},      {"Notified", "False", 3}, /* a delivery still due */
    };

    (void)state;
    for (size_t i = 0; i < sizeof(changes) / sizeof(changes[0]); i++) {
        cJSON *obj = trusted_resource();
        put(obj, changes[i].parent, changes[i].name, changes[i].json);
        if (p4_reconciler_trusted(obj, P4_STAGE_COUNT))
            fail_msg("trusted with %s.%s = %s", changes[i].parent, changes[i].name,
                     changes[i].json);
        cJSON_Delete(obj);
    }
    for (size_t i = 0; i < sizeof(conds) / sizeof(conds[0]); i++) {
        cJSON *obj = trusted_resource();
        put_condition(obj, conds[i].type, conds[i].status, conds[i].gen);
        if (p4_reconciler_trusted(obj, P4_STAGE_COUNT))
            fail_msg("trusted with %s %s for generation %d", conds[i].type, conds[i].status,
                     conds[i].gen);
        cJSON_Delete(obj);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_passed_generation_on_record_is_trusted),
        cmocka_unit_test(anything_not_fully_passed_is_not_trusted),
        cmocka_unit_test(first_reconcile_starts_docker_stage),
        cmocka_unit_test(deleting_status_says_what_remains),
        cmocka_unit_test(desired_status_already_there_means_no_change),
        cmocka_unit_test(generation_bump_keeps_unchanged_transition_times),
        cmocka_unit_test(suspend_and_resume),
        cmocka_unit_test(suspending_suspended_then_resumed),
        cmocka_unit_test(retried_failure_is_not_kept_on_record),
        cmocka_unit_test(event_messages_are_cut_to_1kib),
        cmocka_unit_test(refused_resource_is_stalled_with_the_reason),
        cmocka_unit_test(unrelated_status_fields_are_kept),
        cmocka_unit_test(malformed_objects_do_not_crash),
        cmocka_unit_test(missing_generation_reads_as_zero),
        cmocka_unit_test(docker_stage_results_drive_conditions),
        cmocka_unit_test(checking_message_follows_gate_transitions),
        cmocka_unit_test(stale_stage_result_is_ignored),
        cmocka_unit_test(verdict_successful_then_degraded),
        cmocka_unit_test(helm_stage_follows_docker),
        cmocka_unit_test(approval_waits_before_kubernetes),
        cmocka_unit_test(restart_rechecks_without_flapping),
        cmocka_unit_test(restart_of_a_stalled_resource_tells_nothing_new),
        cmocka_unit_test(unreadable_resource_gets_a_stalled_status_once),
        cmocka_unit_test(history_add_update_cap),
    };
    return cmocka_run_group_tests_name("reconcile", tests, NULL, NULL);
}
