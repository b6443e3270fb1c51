/*
 * kubestage_test.c: the Kubernetes stage's own decisions, from their inputs alone: the pure
 * functions of steps.h: what start() reads, which gate, class and reason a failed read or apply
 * gets, where an applied object's state comes from, whom a pod or EndpointSlice event concerns,
 * what counts as drift, and the wait's verdicts (fail fast or keep waiting, the unschedulable
 * grace, the rollout timeout, which Services need endpoints, a crash loop's log tail,
 * status.health).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs setjmp.h, stdarg.h, stddef.h and stdint.h first. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h> /* after the four it needs */

#include "phase4/core/error.h"
#include "phase4/core/json.h"
#include "phase4/reconciler/manifest.h"
#include "phase4/stages/kubernetes/stage.h"
#include "stages/kubernetes/steps.h"
#include "testjson.h"

#define HEALTH "test/unit/fixtures/health/"
#define DIAGNOSE "test/unit/fixtures/diagnose/"

/* ---- helpers ---- */

/* An inventory from inline JSON entries (closed by the caller). */
static void inventory(const char *json, struct p4_inventory *out)
{
    cJSON *j = test_json(json);
    size_t skipped = 0;

    assert_int_equal(p4_inventory_from_json(j, out, &skipped, NULL), 0);
    assert_int_equal(skipped, 0);
    cJSON_Delete(j);
}

/* Standard padded base64 of len bytes (caller frees). */
static char *base64(const unsigned char *in, size_t len)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = malloc(4 * ((len + 2) / 3) + 1), *o = out;

    assert_non_null(out);
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)in[i] << 16;
        if (i + 1 < len)
            v |= (unsigned)in[i + 1] << 8;
        if (i + 2 < len)
            v |= in[i + 2];
        *o++ = abc[(v >> 18) & 63];
        *o++ = abc[(v >> 12) & 63];
        *o++ = (char)(i + 1 < len ? abc[(v >> 6) & 63] : '=');
        *o++ = (char)(i + 2 < len ? abc[v & 63] : '=');
    }
    *o = '\0';
    return out;
}

/* A manifest Secret as the API server returns it, holding text (caller frees). */
static cJSON *manifest_secret(const char *text)
{
    size_t gz_len = 0;
    unsigned char *gz = p4_gzip(text, strlen(text), &gz_len);
    char *b64;
    cJSON *secret = test_json("{'apiVersion':'v1','kind':'Secret','type':'phase4.io/manifest',"
                              "'metadata':{'namespace':'shop','name':'web-manifest-3'},'data':{}}");

    assert_non_null(gz);
    b64 = base64(gz, gz_len);
    cJSON_AddItemToObject(cJSON_GetObjectItem(secret, "data"), P4_MANIFEST_SECRET_KEY,
                          cJSON_CreateString(b64));
    free(b64);
    free(gz);
    return secret;
}

/* ---- start(): what the stage reads from the resource ---- */

static void spec_is_read_with_defaults(void **state)
{
    struct p4_kstage_spec spec;
    struct p4_error err = {0};
    cJSON *obj = test_json("{'metadata':{'namespace':'shop','name':'web'},"
                           "'spec':{'target':{'namespace':'shop-prod','createNamespace':true,"
                           "'allowClusterScoped':true},'rollout':{'force':true,'timeout':'90s'}},"
                           "'status':{'chart':{'manifest':'web-manifest-3'}}}");

    (void)state;
    assert_int_equal(p4_kstage_read_spec(obj, &spec, &err), 0);
    assert_string_equal(spec.secret, "web-manifest-3");
    assert_true(spec.create_namespace);
    assert_true(spec.allow_cluster);
    assert_true(spec.force);
    assert_int_equal(spec.timeout_ms, 90000);
    cJSON_Delete(obj);

    /* nothing optional given: no flags, ten minutes */
    obj = test_json("{'metadata':{'namespace':'shop','name':'web'},"
                    "'spec':{'target':{'namespace':'shop'}},"
                    "'status':{'chart':{'manifest':'m'}}}");
    assert_int_equal(p4_kstage_read_spec(obj, &spec, &err), 0);
    assert_false(spec.create_namespace || spec.allow_cluster || spec.force);
    assert_int_equal(spec.timeout_ms, 600000);
    cJSON_Delete(obj);

    /* flags of the wrong type read as false, a bad timeout as the default */
    obj = test_json("{'metadata':{'namespace':'shop','name':'web'},"
                    "'spec':{'target':{'namespace':'shop','createNamespace':'true',"
                    "'allowClusterScoped':1},'rollout':{'force':null,'timeout':'soon'}},"
                    "'status':{'chart':{'manifest':'m'}}}");
    assert_int_equal(p4_kstage_read_spec(obj, &spec, &err), 0);
    assert_false(spec.create_namespace || spec.allow_cluster || spec.force);
    assert_int_equal(spec.timeout_ms, 600000);
    cJSON_Delete(obj);
}

static void spec_without_target_or_manifest_is_refused(void **state)
{
    static const char *const bad[] = {
        "{'metadata':{'namespace':'shop','name':'web'},'spec':{'target':{'namespace':'shop'}}}",
        "{'metadata':{'namespace':'shop','name':'web'},'spec':{'target':{'namespace':'shop'}},"
        "'status':{'chart':{'manifest':''}}}",
        "{'metadata':{'namespace':'shop','name':'web'},'spec':{'target':{'namespace':'shop'}},"
        "'status':{'chart':{'manifest':7}}}",
        "{'metadata':{'namespace':'shop'},'spec':{'target':{'namespace':'shop'}},"
        "'status':{'chart':{'manifest':'m'}}}",
        "{'metadata':{'name':'web'},'spec':{'target':{'namespace':'shop'}},"
        "'status':{'chart':{'manifest':'m'}}}",
        "[]",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct p4_kstage_spec spec;
        struct p4_error err = {0};
        cJSON *obj = test_json(bad[i]);
        assert_int_equal(p4_kstage_read_spec(obj, &spec, &err), P4_ERR_INVAL);
        assert_int_equal(err.code, P4_ERR_INVAL);
        assert_non_null(strstr(err.message, "status.chart.manifest"));
        cJSON_Delete(obj);
    }
    /* No target namespace (or not a string): the resource's own. */
    for (int i = 0; i < 2; i++) {
        struct p4_kstage_spec spec;
        struct p4_error err = {0};
        cJSON *obj = test_json(i == 0 ? "{'metadata':{'namespace':'shop','name':'web'},'spec':{"
                                        "'target':{}},'status':{'chart':{'manifest':'m'}}}"
                                      : "{'metadata':{'namespace':'shop','name':'web'},'spec':{"
                                        "},'status':{'chart':{'manifest':'m'}}}");
        assert_int_equal(p4_kstage_read_spec(obj, &spec, &err), 0);
        assert_string_equal(p4_tenancy_target(obj), "shop");
        cJSON_Delete(obj);
    }
}

/* ---- S_READ: the manifest Secret ---- */

static void read_failure_gate_class_reason(void **state)
{
    struct p4_error api = {.code = P4_ERR_FORBIDDEN, .reason = "Forbidden"};
    struct p4_kstage_failure f;

    (void)state;
    (void)snprintf(api.message, sizeof(api.message), "secrets \"m\" is forbidden");

    memset(&f, 0, sizeof(f));
    p4_kstage_read_failure(P4_ERR_NOTFOUND, &api, "shop", "web-manifest-3", &f);
    assert_int_equal(f.cls, P4_FAIL_CLUSTER);
    assert_string_equal(f.reason, "ManifestNotFound");
    assert_int_equal(f.err.code, P4_ERR_INVALID);
    assert_string_equal(f.err.message,
                        "the rendered manifest, Secret shop/web-manifest-3, is gone; a new "
                        "generation (or the Helm stage's next run) renders it again");

    memset(&f, 0, sizeof(f));
    p4_kstage_read_failure(P4_ERR_FORBIDDEN, &api, "shop", "m", &f);
    assert_int_equal(f.cls, P4_FAIL_CLUSTER);
    assert_string_equal(f.reason, "Forbidden");
    assert_int_equal(f.err.code, P4_ERR_FORBIDDEN);
    assert_string_equal(f.err.message, api.message); /* the API server's words */

    memset(&f, 0, sizeof(f));
    api.code = P4_ERR_TIMEOUT;
    p4_kstage_read_failure(P4_ERR_TIMEOUT, &api, "shop", "m", &f);
    assert_int_equal(f.cls, P4_FAIL_TRANSIENT);
    assert_string_equal(f.reason, "APIUnavailable");

    memset(&f, 0, sizeof(f));
    p4_kstage_read_failure(P4_ERR_UNAUTHORIZED, &api, "shop", "m", &f);
    assert_int_equal(f.cls, P4_FAIL_CLUSTER);
    assert_string_equal(f.reason, "APIUnavailable");
}

static void manifest_secret_gives_objects(void **state)
{
    struct p4_kstage_failure f = {.reason = "stale"};
    cJSON *secret =
        manifest_secret("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\n"
                        "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n"
                        "  name: web\nspec:\n  template:\n    spec:\n      containers: []\n"
                        "---\napiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\nspec:\n"
                        "  template:\n    spec:\n      serviceAccountName: migrator\n");
    cJSON *objects = p4_kstage_manifest_objects(secret, "shop", "web-manifest-3", &f);

    (void)state;
    assert_non_null(objects);
    assert_int_equal(cJSON_GetArraySize(objects), 3);
    assert_string_equal(p4_json_str(cJSON_GetArrayItem(objects, 1), "kind"), "Deployment");
    /* A pod template naming no ServiceAccount names "default" (so dropping one is applied); one
       that names its own keeps it; an object with no pod template is left as it is. */
    assert_string_equal(
        p4_json_str(cJSON_GetArrayItem(objects, 1), "spec.template.spec.serviceAccountName"),
        "default");
    assert_string_equal(
        p4_json_str(cJSON_GetArrayItem(objects, 2), "spec.template.spec.serviceAccountName"),
        "migrator");
    assert_null(p4_json_get(cJSON_GetArrayItem(objects, 0), "spec"));
    assert_int_equal(f.cls, P4_FAIL_NONE);
    assert_null(f.reason);
    cJSON_Delete(objects);
    cJSON_Delete(secret);
}

static void manifest_secret_unreadable_or_invalid(void **state)
{
    struct p4_kstage_failure f;
    cJSON *secret;

    (void)state;
    /* not a manifest Secret: the cluster's to fix (the Secret was changed) */
    secret = test_json("{'type':'Opaque','data':{'manifest.gz':'H4sIAAAAAAAA'}}");
    memset(&f, 0, sizeof(f));
    assert_null(p4_kstage_manifest_objects(secret, "shop", "m", &f));
    assert_int_equal(f.cls, P4_FAIL_CLUSTER);
    assert_string_equal(f.reason, "ManifestUnreadable");
    assert_int_equal(f.err.code, P4_ERR_INVALID);
    assert_non_null(strstr(f.err.message, "Secret shop/m does not hold a rendered manifest: "));
    cJSON_Delete(secret);

    memset(&f, 0, sizeof(f));
    assert_null(p4_kstage_manifest_objects(NULL, "shop", "m", &f));
    assert_string_equal(f.reason, "ManifestUnreadable");

    /* readable, but not objects: the chart's to fix */
    secret = manifest_secret("apiVersion: v1\nmetadata:\n  name: cfg\n");
    memset(&f, 0, sizeof(f));
    assert_null(p4_kstage_manifest_objects(secret, "shop", "m", &f));
    assert_int_equal(f.cls, P4_FAIL_ARTIFACT);
    assert_string_equal(f.reason, "ManifestInvalid");
    assert_int_equal(f.err.code, P4_ERR_INVALID);
    assert_non_null(strstr(f.err.message, "the rendered manifest in Secret shop/m: "));
    cJSON_Delete(secret);

    secret = manifest_secret("key: [unclosed\n");
    memset(&f, 0, sizeof(f));
    assert_null(p4_kstage_manifest_objects(secret, "shop", "m", &f));
    assert_string_equal(f.reason, "ManifestInvalid");
    cJSON_Delete(secret);
}

/* ---- S_APPLY: an applyset result ---- */

static void apply_failure_gate_class_reason(void **state)
{
    struct p4_applyset_result res;
    enum p4_failure_class cls = P4_FAIL_NONE;
    const char *reason = NULL;
    int gate = -1;

    (void)state;
    /* canceled (shutdown, or the run dropped): nothing to record */
    memset(&res, 0, sizeof(res));
    res.rc = P4_ERR_CANCELED;
    res.validated = true;
    assert_false(p4_kstage_apply_failure(&res, &gate, &cls, &reason));
    assert_int_equal(gate, -1);

    /* before validation: ManifestsValid, with applyset's class and reason */
    memset(&res, 0, sizeof(res));
    res.rc = P4_ERR_INVALID;
    res.err.reason = "OutOfScope";
    res.cls = P4_FAIL_ARTIFACT;
    assert_true(p4_kstage_apply_failure(&res, &gate, &cls, &reason));
    assert_int_equal(gate, G_MANIFESTS);
    assert_int_equal(cls, P4_FAIL_ARTIFACT);
    assert_string_equal(reason, "OutOfScope");

    /* after validation: ResourcesCreated */
    res.validated = true;
    res.rc = P4_ERR_EXISTS;
    res.err.reason = "ObjectNotOwned";
    res.cls = P4_FAIL_CLUSTER;
    assert_true(p4_kstage_apply_failure(&res, &gate, &cls, &reason));
    assert_int_equal(gate, G_CREATED);
    assert_int_equal(cls, P4_FAIL_CLUSTER);
    assert_string_equal(reason, "ObjectNotOwned");

    /* no class and no reason: a transient ApplyFailed */
    res.rc = P4_ERR_INTERNAL;
    res.err.reason = NULL;
    res.cls = P4_FAIL_NONE;
    assert_true(p4_kstage_apply_failure(&res, &gate, &cls, &reason));
    assert_int_equal(gate, G_CREATED);
    assert_int_equal(cls, P4_FAIL_TRANSIENT);
    assert_string_equal(reason, "ApplyFailed");
}

/* ---- watches: where state comes from, whom an event concerns ---- */

static void source_of_applied_kinds(void **state)
{
    int w = -1;

    (void)state;
    assert_int_equal(p4_kstage_source_of("apps/v1", "Deployment", &w), P4_KSTAGE_SRC_WATCHED);
    assert_int_equal(w, W_DEPLOY);
    assert_int_equal(p4_kstage_source_of("apps/v1", "StatefulSet", &w), P4_KSTAGE_SRC_WATCHED);
    assert_int_equal(w, W_STS);
    assert_int_equal(p4_kstage_source_of("apps/v1", "DaemonSet", &w), P4_KSTAGE_SRC_WATCHED);
    assert_int_equal(w, W_DS);
    assert_int_equal(p4_kstage_source_of("v1", "PersistentVolumeClaim", &w), P4_KSTAGE_SRC_WATCHED);
    assert_int_equal(w, W_PVC);
    assert_int_equal(p4_kstage_source_of("batch/v1", "Job", &w), P4_KSTAGE_SRC_JOBS);
    assert_int_equal(p4_kstage_source_of("batch/v1beta1", "Job", &w), P4_KSTAGE_SRC_JOBS);
    assert_int_equal(p4_kstage_source_of("v1", "Pod", &w), P4_KSTAGE_SRC_PODS);
    assert_int_equal(p4_kstage_source_of(NULL, "Pod", &w), P4_KSTAGE_SRC_PODS);
    assert_int_equal(p4_kstage_source_of("v1", "Service", &w), P4_KSTAGE_SRC_SERVICE);

    /* nothing to wait for: other kinds, and kinds of the same name in other groups */
    w = -1;
    assert_int_equal(p4_kstage_source_of("v1", "ConfigMap", &w), P4_KSTAGE_SRC_NONE);
    assert_int_equal(p4_kstage_source_of("apps/v1", "ReplicaSet", &w), P4_KSTAGE_SRC_NONE);
    assert_int_equal(p4_kstage_source_of("extensions/v1beta1", "Deployment", &w),
                     P4_KSTAGE_SRC_NONE);
    assert_int_equal(p4_kstage_source_of("v1", "Deployment", &w), P4_KSTAGE_SRC_NONE);
    assert_int_equal(p4_kstage_source_of("example.com/v1", "Deployment", &w), P4_KSTAGE_SRC_NONE);
    assert_int_equal(p4_kstage_source_of("serving.knative.dev/v1", "Service", &w),
                     P4_KSTAGE_SRC_NONE);
    assert_int_equal(p4_kstage_source_of("apps/v1", "Service", &w), P4_KSTAGE_SRC_NONE);
    assert_int_equal(p4_kstage_source_of("v1", "Job", &w), P4_KSTAGE_SRC_NONE);
    assert_int_equal(p4_kstage_source_of("batch/v1", "Pod", &w), P4_KSTAGE_SRC_NONE);
    assert_int_equal(p4_kstage_source_of("apps/v1", "deployment", &w), P4_KSTAGE_SRC_NONE);
    assert_int_equal(w, -1);
}

static void slim_workload_drops_the_pod_template(void **state)
{
    cJSON *obj = test_json_file(HEALTH, "deployment-complete.json");
    cJSON *sel = cJSON_Duplicate(p4_json_get(obj, "spec.selector"), 1);
    cJSON *status = cJSON_Duplicate(p4_json_get(obj, "status"), 1);

    (void)state;
    assert_non_null(p4_json_get(obj, "spec.template"));
    cJSON_AddItemToObject(cJSON_GetObjectItem(obj, "spec"), "volumeClaimTemplates",
                          cJSON_CreateArray());
    p4_kstage_slim_workload(obj, NULL);
    assert_null(p4_json_get(obj, "spec.template"));
    assert_null(p4_json_get(obj, "spec.volumeClaimTemplates"));
    assert_true(cJSON_Compare(p4_json_get(obj, "spec.selector"), sel, 1));
    assert_true(cJSON_Compare(p4_json_get(obj, "status"), status, 1));
    assert_non_null(p4_json_get(obj, "spec.replicas"));
    cJSON_Delete(sel);
    cJSON_Delete(status);
    cJSON_Delete(obj);

    obj = test_json("{'kind':'Deployment','spec':'odd'}"); /* nothing to drop */
    p4_kstage_slim_workload(obj, NULL);
    assert_string_equal(p4_json_str(obj, "spec"), "odd");
    cJSON_Delete(obj);
}

static void slim_pod_keeps_names_images_and_status(void **state)
{
    cJSON *pod = test_json("{'kind':'Pod','metadata':{'name':'web-1','labels':{'app':'web'}},"
                           "'spec':{'nodeName':'n1','containers':[{'name':'web','image':'w:1',"
                           "'env':[{'name':'A','value':'x'}]},{'name':'side'}],"
                           "'initContainers':[{'name':'init','image':'i:1','args':['a']}],"
                           "'volumes':[]},'status':{'phase':'Running'}}");
    cJSON *want = test_json("{'containers':[{'name':'web','image':'w:1'},{'name':'side'}],"
                            "'initContainers':[{'name':'init','image':'i:1'}]}");

    (void)state;
    p4_kstage_slim_pod(pod, NULL);
    assert_true(cJSON_Compare(p4_json_get(pod, "spec"), want, 1));
    assert_string_equal(p4_json_str(pod, "status.phase"), "Running");
    assert_string_equal(p4_json_str(pod, "metadata.labels.app"), "web");
    cJSON_Delete(want);
    cJSON_Delete(pod);

    /* containers that are not a list are dropped; a spec that is not an object is left */
    pod = test_json("{'kind':'Pod','spec':{'containers':'web','nodeName':'n1'}}");
    p4_kstage_slim_pod(pod, NULL);
    want = test_json("{}");
    assert_true(cJSON_Compare(p4_json_get(pod, "spec"), want, 1));
    cJSON_Delete(want);
    cJSON_Delete(pod);
    pod = test_json("{'kind':'Pod','spec':[1]}");
    p4_kstage_slim_pod(pod, NULL);
    assert_true(cJSON_IsArray(p4_json_get(pod, "spec")));
    cJSON_Delete(pod);
}

static void events_about_phase4deployments(void **state)
{
    static const struct {
        const char *event;
        bool ours;
    } cases[] = {
        {"{'involvedObject':{'kind':'Phase4Deployment','name':'web'}}", true},
        {"{'regarding':{'kind':'Phase4Deployment','name':'web'}}", true}, /* events.k8s.io */
        {"{'involvedObject':{'kind':'Pod','name':'web-1'}}", false},
        {"{'regarding':{'kind':'Deployment','name':'web'}}", false},
        {"{'involvedObject':{'kind':'Pod'},'regarding':{'kind':'Phase4Deployment'}}", false},
        {"{'involvedObject':{'kind':7},'regarding':{'kind':'Phase4Deployment'}}", true},
        {"{'involvedObject':{'kind':'phase4deployment'}}", false},
        {"{'reason':'BackOff'}", false},
        {"[]", false},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cJSON *ev = test_json(cases[i].event);
        if (p4_kstage_about_us(ev) != cases[i].ours)
            fail_msg("%s: want %d", cases[i].event, cases[i].ours);
        cJSON_Delete(ev);
    }
    assert_false(p4_kstage_about_us(NULL));
}

static void pod_events_concern_the_selecting_resource(void **state)
{
    cJSON *sels = test_json("[{'matchLabels':{'app':'web'}},{'matchLabels':{'app':'worker'}}]");
    cJSON *pending =
        test_json("{'metadata':{'labels':{'app':'web'}},'status':{'phase':'Pending'}}");
    cJSON *running =
        test_json("{'metadata':{'labels':{'app':'web'}},'status':{'phase':'Running'}}");
    cJSON *worker =
        test_json("{'metadata':{'labels':{'app':'worker'}},'status':{'phase':'Running'}}");
    cJSON *other = test_json("{'metadata':{'labels':{'app':'db'}},'status':{'phase':'Running'}}");
    long total = 0, run = 0;

    (void)state;
    assert_true(p4_kstage_selects(sels, running));
    assert_true(p4_kstage_selects(sels, worker));
    assert_false(p4_kstage_selects(sels, other));
    assert_false(p4_kstage_selects(NULL, running));
    assert_true(p4_kstage_pod_up(running));
    assert_false(p4_kstage_pod_up(pending));
    assert_false(p4_kstage_pod_up(NULL));
    {
        /* a Job's pod that completed is done, not missing; one that failed is not */
        cJSON *done = test_json("{'status':{'phase':'Succeeded'}}");
        cJSON *failed = test_json("{'status':{'phase':'Failed'}}");
        assert_true(p4_kstage_pod_up(done));
        assert_false(p4_kstage_pod_up(failed));
        cJSON_Delete(done);
        cJSON_Delete(failed);
    }

    assert_true(p4_kstage_count_pod(sels, NULL, pending, &total, &run)); /* added */
    assert_int_equal(total, 1);
    assert_int_equal(run, 0);
    assert_true(p4_kstage_count_pod(sels, pending, running, &total, &run)); /* started */
    assert_int_equal(total, 1);
    assert_int_equal(run, 1);
    assert_true(p4_kstage_count_pod(sels, NULL, worker, &total, &run));
    assert_int_equal(total, 2);
    assert_int_equal(run, 2);
    /* another app's pod: not told, not counted */
    assert_false(p4_kstage_count_pod(sels, NULL, other, &total, &run));
    assert_false(p4_kstage_count_pod(sels, other, other, &total, &run));
    assert_false(p4_kstage_count_pod(sels, other, NULL, &total, &run));
    assert_false(p4_kstage_count_pod(NULL, NULL, running, &total, &run));
    assert_int_equal(total, 2);
    assert_int_equal(run, 2);
    /* relabelled out of the selection: told, uncounted */
    assert_true(p4_kstage_count_pod(sels, worker, other, &total, &run));
    assert_int_equal(total, 1);
    assert_int_equal(run, 1);
    assert_true(p4_kstage_count_pod(sels, running, NULL, &total, &run)); /* deleted */
    assert_int_equal(total, 0);
    assert_int_equal(run, 0);
    /* a count going negative is lost: both -1, to be counted again */
    assert_true(p4_kstage_count_pod(sels, running, NULL, &total, &run));
    assert_int_equal(total, -1);
    assert_int_equal(run, -1);
    total = 1, run = 0;
    assert_true(p4_kstage_count_pod(sels, running, pending, &total, &run));
    assert_int_equal(total, -1);
    assert_int_equal(run, -1);

    cJSON_Delete(sels);
    cJSON_Delete(pending);
    cJSON_Delete(running);
    cJSON_Delete(worker);
    cJSON_Delete(other);
}

static void slice_events_concern_who_applied_the_service(void **state)
{
    struct p4_inventory inv = {NULL, 0};
    cJSON *slice = test_json("{'metadata':{'labels':{'kubernetes.io/service-name':'web'}}}");
    cJSON *bad = test_json("{'metadata':{'labels':{'kubernetes.io/service-name':['web']}}}");
    cJSON *bare = test_json("{'metadata':{'name':'web-abcde'}}");

    (void)state;
    inventory("[{'apiVersion':'v1','kind':'Service','namespace':'shop','name':'web'},"
              "{'apiVersion':'apps/v1','kind':'Deployment','namespace':'shop','name':'api'}]",
              &inv);
    assert_string_equal(p4_kstage_slice_service(slice), "web");
    assert_null(p4_kstage_slice_service(bad));
    assert_null(p4_kstage_slice_service(bare));
    assert_null(p4_kstage_slice_service(NULL));
    assert_true(p4_kstage_applied_service(&inv, "web"));
    assert_false(p4_kstage_applied_service(&inv, "api")); /* a Deployment, not a Service */
    assert_false(p4_kstage_applied_service(&inv, "Web"));
    assert_false(p4_kstage_applied_service(&inv, ""));
    p4_inventory_close(&inv);
    assert_false(p4_kstage_applied_service(&inv, "web"));
    cJSON_Delete(slice);
    cJSON_Delete(bad);
    cJSON_Delete(bare);
}

/* ---- drift ---- */

static void drift_is_a_deletion_or_a_newer_generation(void **state)
{
    struct p4_inventory inv = {NULL, 0};
    const int64_t gens[] = {3, 0, 1};
    cJSON *obj;

    (void)state;
    inventory("[{'apiVersion':'apps/v1','kind':'Deployment','namespace':'shop','name':'web'},"
              "{'apiVersion':'v1','kind':'Service','namespace':'shop','name':'web'},"
              "{'apiVersion':'rbac.authorization.k8s.io/v1','kind':'ClusterRole','name':'reader'}]",
              &inv);
    obj = test_json("{'metadata':{'namespace':'shop','name':'web','generation':4}}");
    assert_true(p4_kstage_drifted(&inv, gens, "Deployment", obj, false));
    assert_false(p4_kstage_drifted(&inv, NULL, "Deployment", obj, false)); /* gens unknown */
    assert_true(p4_kstage_drifted(&inv, NULL, "Deployment", obj, true));
    assert_false(p4_kstage_drifted(&inv, gens, "Service", obj, false)); /* its generation is 0 */
    assert_true(p4_kstage_drifted(&inv, gens, "Service", obj, true));
    assert_false(p4_kstage_drifted(&inv, gens, "StatefulSet", obj, true)); /* not applied */
    assert_false(p4_kstage_drifted(&inv, gens, NULL, obj, true));
    cJSON_Delete(obj);

    /* the generation the apply left, or older: ours */
    obj = test_json("{'metadata':{'namespace':'shop','name':'web','generation':3}}");
    assert_false(p4_kstage_drifted(&inv, gens, "Deployment", obj, false));
    cJSON_Delete(obj);
    obj = test_json("{'metadata':{'namespace':'shop','name':'web','generation':'9'}}");
    assert_false(p4_kstage_drifted(&inv, gens, "Deployment", obj, false));
    cJSON_Delete(obj);
    /* the same name elsewhere is another object */
    obj = test_json("{'metadata':{'namespace':'shop-dev','name':'web','generation':9}}");
    assert_false(p4_kstage_drifted(&inv, gens, "Deployment", obj, true));
    cJSON_Delete(obj);
    obj = test_json("{'metadata':{'namespace':'shop','generation':9}}");
    assert_false(p4_kstage_drifted(&inv, gens, "Deployment", obj, true));
    cJSON_Delete(obj);
    /* cluster-scoped: no namespace */
    obj = test_json("{'metadata':{'name':'reader','generation':2}}");
    assert_true(p4_kstage_drifted(&inv, gens, "ClusterRole", obj, false));
    cJSON_Delete(obj);
    obj = test_json("{'metadata':{'namespace':'shop','name':'reader','generation':2}}");
    assert_false(p4_kstage_drifted(&inv, gens, "ClusterRole", obj, false));
    cJSON_Delete(obj);
    p4_inventory_close(&inv);
}

static void drift_message_says_what_was_put_back(void **state)
{
    struct p4_applyset_result res;
    char buf[P4_APPLYSET_TAKEN_MAX + 256];
    const char *head = "objects applied by generation 7 were changed outside phase4-operator "
                       "and put back";
    char want[600];

    (void)state;
    memset(&res, 0, sizeof(res));
    inventory("[{'apiVersion':'apps/v1','kind':'Deployment','namespace':'shop','name':'web'}]",
              &res.created);
    inventory("[{'apiVersion':'v1','kind':'ConfigMap','namespace':'shop','name':'cfg'},"
              "{'apiVersion':'rbac.authorization.k8s.io/v1','kind':'ClusterRole','name':'reader'}]",
              &res.changed);

    /* a first apply creates and changes: no drift */
    (void)snprintf(buf, sizeof(buf), "untouched");
    assert_false(p4_kstage_drift_message(&res, false, 7, buf, sizeof(buf)));
    assert_string_equal(buf, "untouched");

    /* applied again: what was re-created (before what was changed) */
    assert_true(p4_kstage_drift_message(&res, true, 7, buf, sizeof(buf)));
    (void)snprintf(want, sizeof(want), "%s: re-created Deployment shop/web", head);
    assert_string_equal(buf, want);
    p4_inventory_close(&res.created);
    assert_true(p4_kstage_drift_message(&res, true, 7, buf, sizeof(buf)));
    (void)snprintf(want, sizeof(want), "%s: ConfigMap shop/cfg, ClusterRole reader", head);
    assert_string_equal(buf, want);

    /* fields taken back from an update say so, first time or not */
    res.taken = "Deployment shop/web (.spec.replicas, set by kubectl)";
    assert_true(p4_kstage_drift_message(&res, false, 7, buf, sizeof(buf)));
    (void)snprintf(want, sizeof(want), "%s: %s", head, res.taken);
    assert_string_equal(buf, want);

    /* applied again and nothing moved */
    p4_inventory_close(&res.changed);
    res.taken = "";
    (void)snprintf(buf, sizeof(buf), "untouched");
    assert_false(p4_kstage_drift_message(&res, true, 7, buf, sizeof(buf)));
    assert_string_equal(buf, "untouched");
    res.taken = NULL;
    assert_false(p4_kstage_drift_message(&res, true, 7, buf, sizeof(buf)));
}

/* Entries "ConfigMap shop/<prefix>NN" for NN in 0..n-1 (closed by the caller). */
static void config_maps(int n, const char *prefix, struct p4_inventory *out)
{
    char json[16384];
    size_t used = 0;

    used += (size_t)snprintf(json + used, sizeof(json) - used, "[");
    for (int i = 0; i < n; i++)
        used += (size_t)snprintf(json + used, sizeof(json) - used,
                                 "%s{'apiVersion':'v1','kind':'ConfigMap','namespace':'shop',"
                                 "'name':'%s%02d'}",
                                 i ? "," : "", prefix, i);
    (void)snprintf(json + used, sizeof(json) - used, "]");
    inventory(json, out);
}

static void drift_message_list_is_cut_to_fit(void **state)
{
    struct p4_applyset_result res;
    char buf[P4_APPLYSET_TAKEN_MAX + 256];
    const char *list;
    size_t len;

    (void)state;
    memset(&res, 0, sizeof(res));
    /* an entry that does not fit any more: cut, and "..." says so */
    config_maps(20, "a-config-map-named-at-length-", &res.changed);
    assert_true(p4_kstage_drift_message(&res, true, 1, buf, sizeof(buf)));
    len = strlen(buf);
    assert_string_equal(buf + len - 3, "...");
    list = strstr(buf, ": ConfigMap shop/a-config-map-named-at-length-00, ");
    assert_non_null(list);
    assert_true(strlen(list + 2) < 400); /* the list's own bound */
    assert_null(strstr(buf, "length-19"));
    p4_inventory_close(&res.changed);

    /* short entries: as many as fit in the bound */
    config_maps(40, "config-number-", &res.changed);
    assert_true(p4_kstage_drift_message(&res, true, 1, buf, sizeof(buf)));
    list = strstr(buf, ": ConfigMap shop/config-number-00, ConfigMap shop/config-number-01");
    assert_non_null(list);
    assert_true(strlen(list + 2) < 400);
    assert_non_null(strstr(buf, "config-number-11"));
    assert_null(strstr(buf, "config-number-12"));
    p4_inventory_close(&res.changed);
}

/* ---- the wait ---- */

static void static_reasons(void **state)
{
    static const char *const kept[] = {
        "CrashLoopBackOff",     "ImagePullBackOff", "Unschedulable", "ProgressDeadlineExceeded",
        "BackoffLimitExceeded", "ClaimLost",        "Stalled",       "QuotaExceeded",
        "NodePressure",         "AdmissionDenied"};
    char buf[64];

    (void)state;
    for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
        const char *s;
        (void)snprintf(buf, sizeof(buf), "%s", kept[i]);
        s = p4_kstage_static_reason(buf);
        assert_string_equal(s, kept[i]);
        assert_ptr_not_equal(s, buf); /* static text, not the caller's buffer */
    }
    assert_string_equal(p4_kstage_static_reason("MyOperatorSaysNo"), "WorkloadFailed");
    assert_string_equal(p4_kstage_static_reason("crashloopbackoff"), "WorkloadFailed");
    assert_string_equal(p4_kstage_static_reason(""), "WorkloadFailed");
}

static void unschedulable_for_counts_from_the_condition(void **state)
{
    const time_t since = 1741083941;   /* 2025-03-04T10:25:41Z, the fixture's lastTransitionTime */
    const time_t created = 1741083322; /* its creationTimestamp */
    cJSON *pod = test_json_file(HEALTH, "pod-unschedulable-cpu.json");
    cJSON *c;

    (void)state;
    assert_int_equal(p4_kstage_unschedulable_for(pod, since + 45), 45);
    assert_int_equal(p4_kstage_unschedulable_for(pod, since), 0);
    assert_int_equal(p4_kstage_unschedulable_for(pod, since - 10), 0); /* a clock behind */
    /* no transition time: since the pod was created */
    c = cJSON_GetArrayItem(p4_json_get(pod, "status.conditions"), 0);
    cJSON_ReplaceItemInObject(c, "lastTransitionTime", cJSON_CreateString("yesterday"));
    assert_int_equal(p4_kstage_unschedulable_for(pod, since), (long)(since - created));
    /* no time at all: just now */
    cJSON_DeleteItemFromObject(cJSON_GetObjectItem(pod, "metadata"), "creationTimestamp");
    assert_int_equal(p4_kstage_unschedulable_for(pod, since), 0);
    /* scheduled */
    cJSON_ReplaceItemInObject(c, "status", cJSON_CreateString("True"));
    assert_int_equal(p4_kstage_unschedulable_for(pod, since), -1);
    cJSON_Delete(pod);

    pod = test_json_file(HEALTH, "pod-running-ready.json");
    assert_int_equal(p4_kstage_unschedulable_for(pod, since), -1);
    cJSON_Delete(pod);
    pod = test_json("{'status':{'conditions':{'type':'PodScheduled','status':'False'}}}");
    assert_int_equal(p4_kstage_unschedulable_for(pod, since), -1);
    cJSON_Delete(pod);
}

/* The verdict on one fixture pod under the web selector. */
static enum p4_kstage_pod_verdict pod_verdict(const char *file, time_t now, uint64_t grace_ms,
                                              uint64_t *left)
{
    cJSON *sel = test_json("{'matchLabels':{'app':'web'}}");
    cJSON *pod = test_json_file(HEALTH, file);
    struct p4_health h;
    enum p4_kstage_pod_verdict v;

    *left = 0;
    v = p4_kstage_pod_verdict(sel, pod, now, grace_ms, &h, left);
    cJSON_Delete(pod);
    cJSON_Delete(sel);
    return v;
}

static void pod_verdicts(void **state)
{
    const time_t since = 1741083941;
    uint64_t left;

    (void)state;
    assert_int_equal(pod_verdict("pod-running-ready.json", since, 30000, &left),
                     P4_KSTAGE_POD_SKIP);
    assert_int_equal(pod_verdict("pod-succeeded.json", since, 30000, &left), P4_KSTAGE_POD_SKIP);
    assert_int_equal(pod_verdict("pod-terminating.json", since, 30000, &left), P4_KSTAGE_POD_SKIP);
    assert_int_equal(pod_verdict("pod-pending-creating.json", since, 30000, &left),
                     P4_KSTAGE_POD_WAIT);
    assert_int_equal(pod_verdict("pod-running-not-ready.json", since, 30000, &left),
                     P4_KSTAGE_POD_WAIT);
    /* a crash loop heals by waiting until it has restarted often enough */
    assert_int_equal(pod_verdict("pod-crashloop-early.json", since, 30000, &left),
                     P4_KSTAGE_POD_WAIT);
    assert_int_equal(pod_verdict("pod-crashloop.json", since, 30000, &left), P4_KSTAGE_POD_FAIL);
    assert_int_equal(pod_verdict("pod-imagepullbackoff.json", since, 30000, &left),
                     P4_KSTAGE_POD_FAIL);
    assert_int_equal(pod_verdict("pod-invalidimagename.json", since, 30000, &left),
                     P4_KSTAGE_POD_FAIL);
    assert_int_equal(pod_verdict("pod-failed.json", since, 30000, &left), P4_KSTAGE_POD_FAIL);

    /* unschedulable: waited for within the grace, then failed */
    assert_int_equal(pod_verdict("pod-unschedulable-cpu.json", since + 10, 30000, &left),
                     P4_KSTAGE_POD_GRACE);
    assert_int_equal(left, 20000);
    assert_int_equal(pod_verdict("pod-unschedulable-cpu.json", since, 30000, &left),
                     P4_KSTAGE_POD_GRACE);
    assert_int_equal(left, 30000);
    assert_int_equal(pod_verdict("pod-unschedulable-cpu.json", since + 29, 30000, &left),
                     P4_KSTAGE_POD_GRACE);
    assert_int_equal(left, 1000);
    assert_int_equal(pod_verdict("pod-unschedulable-cpu.json", since + 30, 30000, &left),
                     P4_KSTAGE_POD_FAIL);
    assert_int_equal(pod_verdict("pod-unschedulable-cpu.json", since + 3600, 30000, &left),
                     P4_KSTAGE_POD_FAIL);
    assert_int_equal(pod_verdict("pod-unschedulable-taint.json", since + 10, 600000, &left),
                     P4_KSTAGE_POD_GRACE);
}

static void pod_verdict_skips_pods_not_selected_or_unreadable(void **state)
{
    cJSON *sel = test_json("{'matchLabels':{'app':'db'}}");
    cJSON *pod = test_json_file(HEALTH, "pod-crashloop.json");
    struct p4_health h;
    uint64_t left = 0;

    (void)state;
    assert_int_equal(p4_kstage_pod_verdict(sel, pod, 0, 30000, &h, &left), P4_KSTAGE_POD_SKIP);
    assert_int_equal(p4_kstage_pod_verdict(NULL, pod, 0, 30000, &h, &left), P4_KSTAGE_POD_SKIP);
    cJSON_Delete(sel);
    cJSON_Delete(pod);
    sel = test_json("{'matchLabels':{'app':'web'}}");
    pod = test_json("{'kind':'Pod','metadata':{'labels':{'app':'web'}},"
                    "'status':{'phase':'Failed'}}"); /* no name: health cannot read it */
    assert_int_equal(p4_kstage_pod_verdict(sel, pod, 0, 30000, &h, &left), P4_KSTAGE_POD_SKIP);
    cJSON_Delete(pod);
    cJSON_Delete(sel);
}

/* A pod of an earlier revision, which the rollout replaces, is no reason to fail the wait. */
static void pod_of_an_earlier_revision_is_old(void **state)
{
    cJSON *dep = test_json("{'metadata':{'name':'web','generation':3},'status':{"
                           "'observedGeneration':3,'conditions':[{'type':'Available',"
                           "'status':'False'},{'type':'Progressing','status':'True','reason':"
                           "'ReplicaSetUpdated','message':'ReplicaSet \\\"web-7c9d\\\" is "
                           "progressing.'}]}}");
    cJSON *old = test_json("{'metadata':{'name':'web-5ff7-a','ownerReferences':[{'kind':"
                           "'ReplicaSet','name':'web-5ff7'}]}}");
    cJSON *cur = test_json("{'metadata':{'name':'web-7c9d-b','ownerReferences':[{'kind':"
                           "'ReplicaSet','name':'web-7c9d'}]}}");
    cJSON *behind = test_json("{'metadata':{'name':'web','generation':4},'status':{"
                              "'observedGeneration':3}}");
    cJSON *nameless = test_json("{'metadata':{'name':'web','generation':3},'status':{"
                                "'observedGeneration':3,'conditions':[{'type':'Progressing',"
                                "'status':'True','message':'no name here'}]}}");
    cJSON *sts = test_json("{'metadata':{'name':'db','generation':2},'status':{"
                           "'observedGeneration':2,'updateRevision':'db-b2'}}");
    cJSON *sts_old = test_json("{'metadata':{'labels':{'controller-revision-hash':'db-a1'}}}");
    cJSON *sts_cur = test_json("{'metadata':{'labels':{'controller-revision-hash':'db-b2'}}}");

    (void)state;
    assert_true(p4_kstage_pod_is_old("Deployment", dep, old));
    assert_false(p4_kstage_pod_is_old("Deployment", dep, cur));
    /* Its controller has not acted on the spec yet: every pod is an earlier one's. */
    assert_true(p4_kstage_pod_is_old("Deployment", behind, cur));
    assert_true(p4_kstage_pod_is_old("DaemonSet", behind, cur));
    /* Nothing names the new ReplicaSet: judged as before. */
    assert_false(p4_kstage_pod_is_old("Deployment", nameless, old));
    assert_true(p4_kstage_pod_is_old("StatefulSet", sts, sts_old));
    assert_false(p4_kstage_pod_is_old("StatefulSet", sts, sts_cur));
    assert_false(p4_kstage_pod_is_old("DaemonSet", sts, sts_old));
    assert_false(p4_kstage_pod_is_old(NULL, dep, old));
    assert_false(p4_kstage_pod_is_old("Deployment", NULL, old));
    cJSON_Delete(dep);
    cJSON_Delete(old);
    cJSON_Delete(cur);
    cJSON_Delete(behind);
    cJSON_Delete(nameless);
    cJSON_Delete(sts);
    cJSON_Delete(sts_old);
    cJSON_Delete(sts_cur);
}

static enum p4_kstage_object_verdict object_verdict(const char *file)
{
    cJSON *obj = test_json_file(HEALTH, file);
    struct p4_health h;
    enum p4_kstage_object_verdict v = p4_kstage_object_verdict(obj, &h);

    cJSON_Delete(obj);
    return v;
}

static void object_verdicts(void **state)
{
    struct p4_health h;
    cJSON *obj;

    (void)state;
    assert_int_equal(object_verdict("deployment-complete.json"), P4_KSTAGE_OBJECT_READY);
    assert_int_equal(object_verdict("statefulset-ready.json"), P4_KSTAGE_OBJECT_READY);
    assert_int_equal(object_verdict("job-complete.json"), P4_KSTAGE_OBJECT_READY);
    assert_int_equal(object_verdict("pvc-bound.json"), P4_KSTAGE_OBJECT_READY);
    assert_int_equal(object_verdict("deployment-rollout.json"), P4_KSTAGE_OBJECT_NOT_YET);
    assert_int_equal(object_verdict("deployment-no-status.json"), P4_KSTAGE_OBJECT_NOT_YET);
    assert_int_equal(object_verdict("daemonset-rolling.json"), P4_KSTAGE_OBJECT_NOT_YET);
    assert_int_equal(object_verdict("job-running.json"), P4_KSTAGE_OBJECT_NOT_YET);
    assert_int_equal(object_verdict("pvc-pending.json"), P4_KSTAGE_OBJECT_NOT_YET);
    /* failed for good */
    assert_int_equal(object_verdict("deployment-deadline.json"), P4_KSTAGE_OBJECT_FAILED);
    assert_int_equal(object_verdict("job-failed.json"), P4_KSTAGE_OBJECT_FAILED);
    assert_int_equal(object_verdict("job-deadline.json"), P4_KSTAGE_OBJECT_FAILED);
    assert_int_equal(object_verdict("pod-imagepullbackoff.json"), P4_KSTAGE_OBJECT_FAILED);
    /* failed, not for good by health, but its own status diagnoses it: fails fast */
    assert_int_equal(object_verdict("deployment-quota.json"), P4_KSTAGE_OBJECT_FAILED);
    assert_int_equal(object_verdict("pod-crashloop-early.json"), P4_KSTAGE_OBJECT_FAILED);
    /* failed, not for good, nothing diagnosed: waits */
    assert_int_equal(object_verdict("pod-createcontainerconfigerror.json"),
                     P4_KSTAGE_OBJECT_NOT_YET);
    /* what health cannot read */
    obj = test_json("{'kind':'Deployment','metadata':{}}");
    assert_int_equal(p4_kstage_object_verdict(obj, &h), P4_KSTAGE_OBJECT_UNREADABLE);
    assert_string_equal(h.reason, "InvalidObject");
    cJSON_Delete(obj);
    obj = test_json("[]");
    assert_int_equal(p4_kstage_object_verdict(obj, &h), P4_KSTAGE_OBJECT_UNREADABLE);
    cJSON_Delete(obj);
}

static void failure_of_prefers_the_diagnosis(void **state)
{
    struct p4_kstage_object_failure f;
    struct p4_health h;
    cJSON *obj;

    (void)state;
    /* a crash loop: its pod and container, for the log tail */
    obj = test_json_file(DIAGNOSE, "pod-crashloop.json");
    assert_int_equal(p4_health_eval(obj, &h), 0);
    p4_kstage_failure_of(obj, &h, &f);
    assert_string_equal(f.reason, "CrashLoopBackOff");
    assert_int_equal(f.cls, P4_FAIL_ARTIFACT);
    assert_string_equal(f.pod, "web-7d9c8b6f5-x2x9p");
    assert_string_equal(f.container, "web");
    assert_non_null(strstr(f.message, "web"));
    cJSON_Delete(obj);

    obj = test_json_file(HEALTH, "pod-init-crashloop.json");
    assert_int_equal(p4_health_eval(obj, &h), 0);
    p4_kstage_failure_of(obj, &h, &f);
    assert_string_equal(f.reason, "CrashLoopBackOff");
    assert_string_equal(f.container, "migrate"); /* the init container that crashes */
    cJSON_Delete(obj);

    /* a quota: the cluster's to fix, no log to read */
    obj = test_json_file(HEALTH, "deployment-quota.json");
    assert_int_equal(p4_health_eval(obj, &h), 0);
    p4_kstage_failure_of(obj, &h, &f);
    assert_string_equal(f.reason, "QuotaExceeded");
    assert_int_equal(f.cls, P4_FAIL_CLUSTER);
    assert_string_equal(f.pod, "");
    assert_string_equal(f.container, "");
    cJSON_Delete(obj);

    /* nothing diagnosed: the health's words, an artifact failure */
    obj = test_json_file(HEALTH, "job-failed.json");
    assert_int_equal(p4_health_eval(obj, &h), 0);
    p4_kstage_failure_of(obj, &h, &f);
    assert_string_equal(f.reason, h.reason);
    assert_string_equal(f.message, h.message);
    assert_int_equal(f.cls, P4_FAIL_ARTIFACT);
    assert_string_equal(f.pod, "");
    cJSON_Delete(obj);

    /* a CrashLoopBackOff reason on something other than a Pod names no pod */
    obj = test_json("{'kind':'Deployment','metadata':{'name':'web'},"
                    "'status':{'containerStatuses':[{'name':'web',"
                    "'state':{'waiting':{'reason':'CrashLoopBackOff'}}}]}}");
    h = (struct p4_health){.status = P4_HEALTH_FAILED, .permanent = true};
    (void)snprintf(h.reason, sizeof(h.reason), "CrashLoopBackOff");
    (void)snprintf(h.message, sizeof(h.message), "Deployment web crashes");
    p4_kstage_failure_of(obj, &h, &f);
    assert_string_equal(f.reason, "CrashLoopBackOff");
    assert_string_equal(f.pod, "");
    cJSON_Delete(obj);
}

static void services_that_need_endpoints(void **state)
{
    static const struct {
        const char *svc;
        bool needs;
    } cases[] = {
        {"{'spec':{'type':'ClusterIP','selector':{'app':'web'}}}", true},
        {"{'spec':{'selector':{'app':'web'}}}", true},
        {"{'spec':{'type':'LoadBalancer','selector':{'app':'web'}}}", true},
        {"{'spec':{'type':'NodePort','selector':{'app':'web'}}}", true},
        {"{'spec':{'type':'ExternalName','externalName':'db.example.com',"
         "'selector':{'app':'web'}}}",
         false},
        {"{'spec':{'type':'ClusterIP'}}", false}, /* endpoints managed by hand */
        {"{'spec':{'type':'ClusterIP','selector':{}}}", false},
        {"{'spec':{'type':'ClusterIP','selector':null}}", false},
        {"{'spec':{'type':'ClusterIP','selector':['app','web']}}", false},
        {"{}", false},
    };
    cJSON *svc;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        svc = test_json(cases[i].svc);
        if (p4_kstage_service_needs_endpoints(svc) != cases[i].needs)
            fail_msg("%s: want %d", cases[i].svc, cases[i].needs);
        cJSON_Delete(svc);
    }
    svc = test_json_file(HEALTH, "service-clusterip.json");
    assert_true(p4_kstage_service_needs_endpoints(svc));
    cJSON_Delete(svc);
    assert_false(p4_kstage_service_needs_endpoints(NULL));
}

static void slices_with_a_ready_endpoint(void **state)
{
    static const struct {
        const char *slice;
        bool ready;
    } cases[] = {
        {"{'metadata':{'labels':{'kubernetes.io/service-name':'web'}},"
         "'endpoints':[{'addresses':['10.0.0.1'],'conditions':{'ready':true}}]}",
         true},
        {"{'metadata':{'labels':{'kubernetes.io/service-name':'web'}},"
         "'endpoints':[{'addresses':['10.0.0.1']}]}",
         true}, /* absent means ready */
        {"{'metadata':{'labels':{'kubernetes.io/service-name':'web'}},"
         "'endpoints':[{'conditions':{}}]}",
         true},
        {"{'metadata':{'labels':{'kubernetes.io/service-name':'web'}},"
         "'endpoints':[{'conditions':{'ready':false}},{'conditions':{'ready':true}}]}",
         true},
        {"{'metadata':{'labels':{'kubernetes.io/service-name':'web'}},"
         "'endpoints':[{'conditions':{'ready':false,'serving':true}}]}",
         false},
        {"{'metadata':{'labels':{'kubernetes.io/service-name':'web'}},"
         "'endpoints':[{'conditions':{'ready':null}}]}",
         false},
        {"{'metadata':{'labels':{'kubernetes.io/service-name':'web'}},"
         "'endpoints':[{'conditions':{'ready':'true'}}]}",
         false},
        {"{'metadata':{'labels':{'kubernetes.io/service-name':'web'}},'endpoints':[]}", false},
        {"{'metadata':{'labels':{'kubernetes.io/service-name':'web'}},'endpoints':null}", false},
        {"{'metadata':{'labels':{'kubernetes.io/service-name':'web'}}}", false},
        {"{'metadata':{'labels':{'kubernetes.io/service-name':'api'}},"
         "'endpoints':[{'conditions':{'ready':true}}]}",
         false}, /* another Service's */
        {"{'metadata':{'labels':{}},'endpoints':[{'conditions':{'ready':true}}]}", false},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cJSON *slice = test_json(cases[i].slice);
        if (p4_kstage_slice_ready(slice, "web") != cases[i].ready)
            fail_msg("%s: want %d", cases[i].slice, cases[i].ready);
        cJSON_Delete(slice);
    }
}

/* A tally of n workloads (r ready) and m Services waiting for endpoints (s ready), synced. */
static struct p4_kstage_tally tally(int n, int r, int m, int s)
{
    return (struct p4_kstage_tally){
        .synced = true, .objects = n, .ready = r, .svc_checked = m, .svc_ready = s};
}

static void wait_passes_when_everything_is_ready(void **state)
{
    struct p4_kstage_tally t = tally(3, 3, 2, 2);
    struct p4_kstage_wait_verdict v;

    (void)state;
    p4_kstage_wait_decide(&t, true, false, 1000, 5000, &v);
    assert_int_equal(v.action, P4_KSTAGE_PASS);
    p4_kstage_wait_decide(&t, false, true, 1000, 5000, &v); /* healed after it failed */
    assert_int_equal(v.action, P4_KSTAGE_PASS);
    p4_kstage_wait_decide(&t, true, false, 9000, 5000, &v); /* ready beats late */
    assert_int_equal(v.action, P4_KSTAGE_PASS);
    p4_kstage_wait_decide(&t, false, false, 1000, 5000, &v); /* passed already */
    assert_int_equal(v.action, P4_KSTAGE_READY);
    t = tally(0, 0, 0, 0); /* nothing to wait for */
    p4_kstage_wait_decide(&t, true, false, 1000, 5000, &v);
    assert_int_equal(v.action, P4_KSTAGE_PASS);
}

static void wait_goes_on_with_the_gate_waited_on(void **state)
{
    struct p4_kstage_tally t = tally(3, 2, 1, 0);
    struct p4_kstage_wait_verdict v;

    (void)state;
    p4_kstage_wait_decide(&t, true, false, 1000, 5000, &v);
    assert_int_equal(v.action, P4_KSTAGE_WAIT);
    assert_int_equal(v.gate, G_PODS);
    assert_int_equal(v.next_ms, 4000);
    /* pods ready: only the Services are waited for */
    t = tally(3, 3, 1, 0);
    p4_kstage_wait_decide(&t, true, false, 1000, 5000, &v);
    assert_int_equal(v.action, P4_KSTAGE_WAIT);
    assert_int_equal(v.gate, G_SERVICES);
    t = tally(3, 3, 1, 1);
    t.svc_waiting = true; /* a Service not seen yet */
    p4_kstage_wait_decide(&t, true, false, 1000, 5000, &v);
    assert_int_equal(v.action, P4_KSTAGE_WAIT);
    assert_int_equal(v.gate, G_SERVICES);
    /* a cache not listed yet: the pods are not known to be ready */
    t = tally(3, 3, 1, 1);
    t.synced = false;
    p4_kstage_wait_decide(&t, true, false, 1000, 5000, &v);
    assert_int_equal(v.action, P4_KSTAGE_WAIT);
    assert_int_equal(v.gate, G_PODS);
    /* an unschedulable grace ending first brings the next look forward */
    t = tally(3, 2, 0, 0);
    t.recheck_ms = 1500;
    p4_kstage_wait_decide(&t, true, false, 1000, 5000, &v);
    assert_int_equal(v.next_ms, 1500);
    t.recheck_ms = 4001;
    p4_kstage_wait_decide(&t, true, false, 1000, 5000, &v);
    assert_int_equal(v.next_ms, 4000);
    /* not waiting (passed before, or failed): status.health only */
    p4_kstage_wait_decide(&t, false, false, 1000, 5000, &v);
    assert_int_equal(v.action, P4_KSTAGE_IDLE);
    p4_kstage_wait_decide(&t, false, true, 9000, 5000, &v);
    assert_int_equal(v.action, P4_KSTAGE_IDLE);
}

static void wait_times_out_on_the_gate_waited_on(void **state)
{
    struct p4_kstage_tally t = tally(3, 2, 1, 0);
    struct p4_kstage_wait_verdict v;

    (void)state;
    p4_kstage_wait_decide(&t, true, false, 5000, 5000, &v);
    assert_int_equal(v.action, P4_KSTAGE_TIMEOUT);
    assert_int_equal(v.gate, G_PODS);
    assert_int_equal(v.cls, P4_FAIL_ARTIFACT);
    t = tally(3, 3, 1, 0);
    p4_kstage_wait_decide(&t, true, false, 7000, 5000, &v);
    assert_int_equal(v.action, P4_KSTAGE_TIMEOUT);
    assert_int_equal(v.gate, G_SERVICES);
    assert_int_equal(v.cls, P4_FAIL_ARTIFACT);
    p4_kstage_wait_decide(&t, true, false, 4999, 5000, &v);
    assert_int_equal(v.action, P4_KSTAGE_WAIT);
    assert_int_equal(v.next_ms, 1);
}

static void wait_fails_fast_with_the_failure_class(void **state)
{
    struct p4_kstage_tally t = tally(3, 3, 1, 1); /* the counts do not matter then */
    struct p4_kstage_wait_verdict v;

    (void)state;
    t.failed = true;
    t.cls = P4_FAIL_CLUSTER;
    p4_kstage_wait_decide(&t, true, false, 1000, 5000, &v);
    assert_int_equal(v.action, P4_KSTAGE_FAIL);
    assert_int_equal(v.gate, G_PODS);
    assert_int_equal(v.cls, P4_FAIL_CLUSTER);
    t.cls = P4_FAIL_NONE; /* no class given: the artifact's */
    p4_kstage_wait_decide(&t, true, false, 1000, 5000, &v);
    assert_int_equal(v.cls, P4_FAIL_ARTIFACT);
    t.cls = P4_FAIL_TRANSIENT;
    p4_kstage_wait_decide(&t, true, false, 9000, 5000, &v); /* failed beats late */
    assert_int_equal(v.action, P4_KSTAGE_FAIL);
    assert_int_equal(v.cls, P4_FAIL_TRANSIENT);
    /* after a pass (or a failure already recorded) a failure only shows in status.health */
    p4_kstage_wait_decide(&t, false, false, 1000, 5000, &v);
    assert_int_equal(v.action, P4_KSTAGE_IDLE);
    p4_kstage_wait_decide(&t, false, true, 1000, 5000, &v);
    assert_int_equal(v.action, P4_KSTAGE_IDLE);
}

static void timeout_message_names_what_was_waited_for(void **state)
{
    struct p4_error err;

    (void)state;
    p4_kstage_timeout_message(600000, "Deployment shop/web: 1 of 3 replicas available",
                              "Service shop/web has no ready endpoint", &err);
    assert_int_equal(err.code, P4_ERR_TIMEOUT);
    assert_string_equal(err.message, "not ready within spec.rollout.timeout (600s): Deployment "
                                     "shop/web: 1 of 3 replicas available");
    p4_kstage_timeout_message(90500, "", "Service shop/web has no ready endpoint", &err);
    assert_string_equal(err.message, "not ready within spec.rollout.timeout (90s): Service "
                                     "shop/web has no ready endpoint");
    p4_kstage_timeout_message(999, "", "", &err);
    assert_string_equal(err.message, "not ready within spec.rollout.timeout (0s): ");
}

static void crash_log_tail_and_path(void **state)
{
    char msg[P4_ERROR_MESSAGE_MAX], path[1400], big[600];

    (void)state;
    (void)snprintf(msg, sizeof(msg), "Pod shop/web-1: container web crashes.");
    p4_kstage_append_log_tail(msg, sizeof(msg), "starting\npanic: no DATABASE_URL\n");
    assert_string_equal(msg, "Pod shop/web-1: container web crashes. Last log lines: starting | "
                             "panic: no DATABASE_URL");
    (void)snprintf(msg, sizeof(msg), "unchanged");
    p4_kstage_append_log_tail(msg, sizeof(msg), "");
    p4_kstage_append_log_tail(msg, sizeof(msg), "\n\n");
    assert_string_equal(msg, "unchanged");
    /* no room left: the message stays whole */
    memset(msg, 'x', 30);
    msg[30] = '\0';
    p4_kstage_append_log_tail(msg, 54, "boom");
    assert_int_equal(strlen(msg), 30);
    p4_kstage_append_log_tail(msg, 55, "boom");
    assert_string_equal(msg + 30, " Last log lines: boom");

    assert_int_equal(p4_kstage_crash_log_path("shop", "web-1", "web", path, sizeof(path)), 0);
    assert_string_equal(path, "/api/v1/namespaces/shop/pods/web-1/log?container=web"
                              "&previous=true&tailLines=5&limitBytes=4096");
    assert_int_equal(p4_kstage_crash_log_path("shop", "web-1", "a b&c", path, sizeof(path)), 0);
    assert_non_null(strstr(path, "container=a%20b%26c&"));
    memset(big, 'p', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(p4_kstage_crash_log_path("shop", big, "web", path, sizeof(path)),
                     P4_ERR_TOOBIG);
    assert_int_equal(p4_kstage_crash_log_path("shop", "web-1", big, path, sizeof(path)),
                     P4_ERR_TOOBIG);
}

/* ---- status.health ---- */

static void pods_are_counted_again_when_the_selectors_change(void **state)
{
    struct run r;
    cJSON *first = test_json("[{'matchLabels':{'app':'web'}}]");

    (void)state;
    memset(&r, 0, sizeof(r));
    r.pods_total = 3;
    r.pods_running = 2;
    p4_kstage_count_pods(&r, first); /* none known before: counted (no namespace watch: 0) */
    assert_ptr_equal(r.selectors, first);
    assert_int_equal(r.pods_total, 0);
    assert_int_equal(r.pods_running, 0);
    r.pods_total = 3;
    r.pods_running = 2;
    p4_kstage_count_pods(&r, test_json("[{'matchLabels':{'app':'web'}}]")); /* the same */
    assert_ptr_equal(r.selectors, first);
    assert_int_equal(r.pods_total, 3);
    assert_int_equal(r.pods_running, 2);
    p4_kstage_count_pods(&r, test_json("[{'matchLabels':{'app':'web','v':'2'}}]"));
    assert_ptr_not_equal(r.selectors, first);
    assert_int_equal(r.pods_total, 0);
    r.pods_total = r.pods_running = -1; /* lost track */
    p4_kstage_count_pods(&r, cJSON_Duplicate(r.selectors, 1));
    assert_int_equal(r.pods_total, 0);
    assert_int_equal(r.pods_running, 0);
    cJSON_Delete(r.selectors);
}

static void health_json_summarizes(void **state)
{
    struct run r;
    struct p4_kstage_counts c = {.ready = {[WL_DEPLOYMENTS] = 1},
                                 .total = {[WL_DEPLOYMENTS] = 2},
                                 .svc_active = 3,
                                 .svc_total = 4};
    char *text;
    cJSON *h, *want;

    (void)state;
    memset(&r, 0, sizeof(r));
    r.base.target_ns = "shop";
    r.pods_running = 5;
    r.pods_total = 6;
    text = p4_kstage_health_json(&r, &c, NULL);
    h = cJSON_Parse(text);
    want = test_json("{'namespace':'shop','deployments':'1/2','pods':'5/6','services':'3/4',"
                     "'recentEvents':[]}");
    assert_true(cJSON_Compare(h, want, 1));
    cJSON_Delete(h);
    cJSON_Delete(want);
    free(text);

    /* A DaemonSet-only release: no "deployments: 0/0", its DaemonSets and Jobs instead. */
    c = (struct p4_kstage_counts){.ready = {[WL_DAEMONSETS] = 1, [WL_JOBS] = 0},
                                  .total = {[WL_DAEMONSETS] = 1, [WL_JOBS] = 1}};
    text = p4_kstage_health_json(&r, &c, NULL);
    h = cJSON_Parse(text);
    want = test_json("{'namespace':'shop','daemonsets':'1/1','jobs':'0/1','pods':'5/6',"
                     "'services':'0/0','recentEvents':[]}");
    assert_true(cJSON_Compare(h, want, 1));
    cJSON_Delete(h);
    cJSON_Delete(want);
    free(text);
    assert_int_equal(p4_kstage_workload_of("StatefulSet"), WL_STATEFULSETS);
    assert_int_equal(p4_kstage_workload_of("Pod"), WL_COUNT);
    assert_int_equal(p4_kstage_workload_of(NULL), WL_COUNT);

    r.pods_running = r.pods_total = -1; /* not counted yet */
    text = p4_kstage_health_json(&r, &c, NULL);
    h = cJSON_Parse(text);
    assert_string_equal(p4_json_str(h, "pods"), "-1/-1");
    cJSON_Delete(h);
    free(text);
}

/* ---- Helm hooks ---- */

static cJSON *hook(const char *kind, const char *name, const char *hooks, const char *weight,
                   const char *policy)
{
    cJSON *o = cJSON_CreateObject(), *meta, *ann;

    cJSON_AddStringToObject(o, "apiVersion", strcmp(kind, "Job") == 0 ? "batch/v1" : "v1");
    cJSON_AddStringToObject(o, "kind", kind);
    meta = cJSON_AddObjectToObject(o, "metadata");
    cJSON_AddStringToObject(meta, "name", name);
    ann = cJSON_AddObjectToObject(meta, "annotations");
    if (hooks)
        cJSON_AddStringToObject(ann, "helm.sh/hook", hooks);
    if (weight)
        cJSON_AddStringToObject(ann, "helm.sh/hook-weight", weight);
    if (policy)
        cJSON_AddStringToObject(ann, "helm.sh/hook-delete-policy", policy);
    return o;
}

static void hooks_are_sorted_out_by_event(void **state)
{
    cJSON *o;

    (void)state;
    o = hook("Job", "j", "pre-install, pre-upgrade", NULL, NULL);
    assert_int_equal(p4_kstage_hook_of(o, true), P4_HOOK_PRE);
    assert_int_equal(p4_kstage_hook_of(o, false), P4_HOOK_PRE);
    cJSON_Delete(o);
    o = hook("Job", "j", "post-install", NULL, NULL);
    assert_int_equal(p4_kstage_hook_of(o, true), P4_HOOK_POST);
    assert_int_equal(p4_kstage_hook_of(o, false), P4_HOOK_SKIP); /* not on an upgrade */
    cJSON_Delete(o);
    o = hook("Pod", "t", "test", NULL, NULL); /* the Validation stage's */
    assert_int_equal(p4_kstage_hook_of(o, true), P4_HOOK_SKIP);
    cJSON_Delete(o);
    o = hook("Job", "d", "pre-delete", NULL, NULL);
    assert_int_equal(p4_kstage_hook_of(o, false), P4_HOOK_SKIP);
    cJSON_Delete(o);
    o = hook("ConfigMap", "c", NULL, NULL, NULL);
    assert_int_equal(p4_kstage_hook_of(o, true), P4_HOOK_NONE);
    cJSON_Delete(o);
    o = hook("Job", "x", "pre-installation", NULL, NULL); /* a word, not a prefix */
    assert_int_equal(p4_kstage_hook_of(o, true), P4_HOOK_SKIP);
    cJSON_Delete(o);
}

static void hook_delete_policies(void **state)
{
    cJSON *o;

    (void)state;
    o = hook("Job", "j", "pre-install", NULL, NULL);
    assert_int_equal(p4_kstage_hook_policy(o), P4_HOOK_DELETE_BEFORE); /* Helm's default */
    cJSON_Delete(o);
    o = hook("Job", "j", "pre-install", NULL, "before-hook-creation,hook-succeeded");
    assert_int_equal(p4_kstage_hook_policy(o), P4_HOOK_DELETE_BEFORE | P4_HOOK_DELETE_SUCCEEDED);
    cJSON_Delete(o);
    o = hook("Job", "j", "pre-install", NULL, " hook-failed ");
    assert_int_equal(p4_kstage_hook_policy(o), P4_HOOK_DELETE_FAILED);
    cJSON_Delete(o);
}

static void hooks_split_in_helm_order(void **state)
{
    cJSON *objects = cJSON_CreateArray(), *pre, *post;
    int skipped;

    (void)state;
    cJSON_AddItemToArray(objects, hook("ConfigMap", "app", NULL, NULL, NULL));
    cJSON_AddItemToArray(objects, hook("Job", "b-migrate", "pre-install", "5", NULL));
    cJSON_AddItemToArray(objects, hook("ServiceAccount", "z-sa", "pre-install", "-5", NULL));
    cJSON_AddItemToArray(objects, hook("Job", "a-migrate", "pre-install", "5", NULL));
    cJSON_AddItemToArray(objects, hook("Job", "odd", "pre-install", "x", NULL)); /* weight 0 */
    cJSON_AddItemToArray(objects, hook("Job", "notify", "post-install", NULL, NULL));
    cJSON_AddItemToArray(objects, hook("Pod", "test", "test", NULL, NULL));
    cJSON_AddItemToArray(objects, hook("Job", "up", "pre-upgrade", NULL, NULL));
    p4_kstage_split_hooks(objects, true, &pre, &post, &skipped);
    assert_int_equal(cJSON_GetArraySize(objects), 1); /* hooks are not applied with the set */
    assert_string_equal(p4_json_str(cJSON_GetArrayItem(objects, 0), "metadata.name"), "app");
    assert_int_equal(cJSON_GetArraySize(pre), 4);
    assert_string_equal(p4_json_str(cJSON_GetArrayItem(pre, 0), "metadata.name"), "z-sa");
    assert_string_equal(p4_json_str(cJSON_GetArrayItem(pre, 1), "metadata.name"), "odd");
    assert_string_equal(p4_json_str(cJSON_GetArrayItem(pre, 2), "metadata.name"), "a-migrate");
    assert_string_equal(p4_json_str(cJSON_GetArrayItem(pre, 3), "metadata.name"), "b-migrate");
    assert_int_equal(cJSON_GetArraySize(post), 1);
    assert_int_equal(skipped, 2); /* the test hook and the upgrade's */
    cJSON_Delete(objects);
    cJSON_Delete(pre);
    cJSON_Delete(post);
}

static void hook_states(void **state)
{
    char why[200];
    cJSON *o;

    (void)state;
    /* gone: removed by ttlSecondsAfterFinished: 0 or its delete policy, so it ran */
    assert_int_equal(p4_kstage_hook_state(P4_ERR_NOTFOUND, NULL, why, sizeof(why)), P4_HOOK_DONE);
    assert_int_equal(p4_kstage_hook_state(P4_ERR_TIMEOUT, NULL, why, sizeof(why)), P4_HOOK_RUNNING);
    o = test_json("{'kind':'Job','status':{'active':1}}");
    assert_int_equal(p4_kstage_hook_state(0, o, why, sizeof(why)), P4_HOOK_RUNNING);
    cJSON_Delete(o);
    o = test_json("{'kind':'Job','status':{'conditions':[{'type':'Complete','status':'True'}]}}");
    assert_int_equal(p4_kstage_hook_state(0, o, why, sizeof(why)), P4_HOOK_DONE);
    cJSON_Delete(o);
    o = test_json("{'kind':'Job','status':{'conditions':[{'type':'Failed','status':'True',"
                  "'reason':'BackoffLimitExceeded','message':'Job has reached the specified "
                  "backoff limit'}]}}");
    assert_int_equal(p4_kstage_hook_state(0, o, why, sizeof(why)), P4_HOOK_FAILED);
    assert_string_equal(why, "BackoffLimitExceeded: Job has reached the specified backoff limit");
    cJSON_Delete(o);
    o = test_json("{'kind':'Pod','status':{'phase':'Succeeded'}}");
    assert_int_equal(p4_kstage_hook_state(0, o, why, sizeof(why)), P4_HOOK_DONE);
    cJSON_Delete(o);
    o = test_json("{'kind':'Pod','status':{'phase':'Running'}}");
    assert_int_equal(p4_kstage_hook_state(0, o, why, sizeof(why)), P4_HOOK_RUNNING);
    cJSON_Delete(o);
    o = test_json("{'kind':'ConfigMap'}"); /* done once applied */
    assert_int_equal(p4_kstage_hook_state(0, o, why, sizeof(why)), P4_HOOK_DONE);
    cJSON_Delete(o);
    assert_string_equal(p4_kstage_hook_phase_name(false, true), "pre-install");
    assert_string_equal(p4_kstage_hook_phase_name(true, false), "post-upgrade");
}

/* ---- the write-ahead record ---- */

static void record_is_on_record_when_status_lists_every_entry(void **state)
{
    cJSON *planned_json =
        test_json("[{'apiVersion':'v1','kind':'ConfigMap','namespace':'shop','name':'a'},"
                  "{'apiVersion':'apps/v1','kind':'Deployment','namespace':'shop','name':'web'}]");
    cJSON *superset =
        test_json("[{'apiVersion':'apps/v1','kind':'Deployment','namespace':'shop','name':'web'},"
                  "{'apiVersion':'v1','kind':'ConfigMap','namespace':'shop','name':'old'},"
                  "{'apiVersion':'v1','kind':'ConfigMap','namespace':'shop','name':'a'}]");
    cJSON *partial =
        test_json("[{'apiVersion':'v1','kind':'ConfigMap','namespace':'shop','name':'a'}]");
    cJSON *other_ns =
        test_json("[{'apiVersion':'v1','kind':'ConfigMap','namespace':'other','name':'a'},"
                  "{'apiVersion':'apps/v1','kind':'Deployment','namespace':'shop','name':'web'}]");
    cJSON *not_a_list = test_json("{'apiVersion':'v1'}");
    cJSON *garbage = test_json("[1,'x',{'kind':'ConfigMap'}]");
    struct p4_inventory planned, none = {NULL, 0};

    (void)state;
    assert_int_equal(p4_inventory_from_json(planned_json, &planned, NULL, NULL), 0);
    assert_true(p4_kstage_recorded(&planned, planned_json));
    assert_true(p4_kstage_recorded(&planned, superset));
    assert_false(p4_kstage_recorded(&planned, partial));
    assert_false(p4_kstage_recorded(&planned, other_ns));
    assert_false(p4_kstage_recorded(&planned, not_a_list));
    assert_false(p4_kstage_recorded(&planned, garbage));
    assert_false(p4_kstage_recorded(&planned, NULL));
    assert_true(p4_kstage_recorded(&none, NULL)); /* nothing to apply: nothing to record */
    assert_true(p4_kstage_recorded(NULL, partial));
    p4_inventory_close(&planned);
    cJSON_Delete(planned_json);
    cJSON_Delete(superset);
    cJSON_Delete(partial);
    cJSON_Delete(other_ns);
    cJSON_Delete(not_a_list);
    cJSON_Delete(garbage);
}

/* ---- uninstall (uninstall.c) ---- */

static void deletion_policy_defaults_to_delete(void **state)
{
    static const struct {
        const char *json;
        enum p4_kstage_policy want;
    } cases[] = {
        {"{'spec':{}}", P4_POLICY_DELETE},
        {"{'spec':{'deletionPolicy':'Delete'}}", P4_POLICY_DELETE},
        {"{'spec':{'deletionPolicy':'Orphan'}}", P4_POLICY_ORPHAN},
        {"{'spec':{'deletionPolicy':'DeleteCRDs'}}", P4_POLICY_DELETE_CRDS},
        {"{'spec':{'deletionPolicy':'orphan'}}", P4_POLICY_DELETE},
        {"{'spec':{'deletionPolicy':7}}", P4_POLICY_DELETE},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cJSON *o = test_json(cases[i].json);
        assert_int_equal(p4_kstage_deletion_policy(o), cases[i].want);
        cJSON_Delete(o);
    }
    assert_string_equal(p4_kstage_policy_name(P4_POLICY_DELETE_CRDS), "DeleteCRDs");
    assert_string_equal(p4_kstage_policy_name(P4_POLICY_ORPHAN), "Orphan");
}

static void uninstall_backoff_is_bounded(void **state)
{
    (void)state;
    assert_true(p4_kstage_uninstall_backoff(0) >= 500);
    assert_true(p4_kstage_uninstall_backoff(1) <= p4_kstage_uninstall_backoff(3));
    assert_true(p4_kstage_uninstall_backoff(100) <= 5000);
}

static void what_remains_is_named_and_cut(void **state)
{
    char a1[] = "apps/v1", k1[] = "Deployment", n1[] = "shop", m1[] = "web";
    char a2[] = "rbac.authorization.k8s.io/v1", k2[] = "ClusterRole", n2[] = "", m2[] = "web-read";
    struct p4_inv_entry e[2] = {{a1, k1, n1, m1}, {a2, k2, n2, m2}};
    struct p4_inventory inv = {e, 2};
    char buf[256], small[40];

    (void)state;
    p4_kstage_list_entries(&inv, buf, sizeof(buf));
    assert_string_equal(buf, "Deployment shop/web, ClusterRole web-read");
    p4_kstage_list_entries(&inv, small, sizeof(small));
    assert_string_equal(small, "Deployment shop/web and 1 more");
    p4_kstage_list_entries(NULL, buf, sizeof(buf));
    assert_string_equal(buf, "");
}

static void a_created_namespace_is_deleted_only_when_it_holds_nothing_else(void **state)
{
    static const struct {
        const char *kind, *json;
        bool foreign;
    } cases[] = {
        /* Ours (our uid, or our name without a uid: from before uids). */
        {"ConfigMap",
         "{'metadata':{'name':'c','annotations':{'phase4.io/owner':'shop/web',"
         "'phase4.io/owner-uid':'u1'}}}",
         false},
        {"ConfigMap", "{'metadata':{'name':'c','annotations':{'phase4.io/owner':'shop/web'}}}",
         false},
        /* What every namespace has. */
        {"ConfigMap", "{'metadata':{'name':'kube-root-ca.crt'}}", false},
        {"ServiceAccount", "{'metadata':{'name':'default'}}", false},
        {"Secret",
         "{'type':'kubernetes.io/service-account-token','metadata':{'name':'default-token',"
         "'annotations':{'kubernetes.io/service-account.name':'default'}}}",
         false},
        /* Going already, or owned by something judged in its own kind. */
        {"Deployment", "{'metadata':{'name':'d','deletionTimestamp':'2024-01-01T00:00:00Z'}}",
         false},
        {"Pod", "{'metadata':{'name':'p','ownerReferences':[{'kind':'ReplicaSet'}]}}", false},
        /* Someone else's: the namespace stays. */
        {"ConfigMap", "{'metadata':{'name':'keep-me'}}", true},
        {"ConfigMap", "{'metadata':{'name':'kube-root-ca.crt2'}}", true},
        {"ServiceAccount", "{'metadata':{'name':'robot'}}", true},
        {"Secret", "{'type':'Opaque','metadata':{'name':'db'}}", true},
        {"Pod", "{'metadata':{'name':'bare'}}", true},
        {"Phase4Deployment", "{'metadata':{'name':'other'}}", true},
        /* An older resource of the same name made it: not ours. */
        {"ConfigMap",
         "{'metadata':{'name':'c','annotations':{'phase4.io/owner':'shop/web',"
         "'phase4.io/owner-uid':'u0'}}}",
         true},
        /* Not an object, or nameless: nothing to name. */
        {"ConfigMap", "[]", false},
        {"ConfigMap", "{'metadata':{}}", false},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cJSON *o = test_json(cases[i].json);
        if (p4_kstage_ns_foreign(cases[i].kind, o, "shop", "web", "u1") != cases[i].foreign)
            fail_msg("case %zu (%s %s): foreign should be %d", i, cases[i].kind, cases[i].json,
                     cases[i].foreign);
        cJSON_Delete(o);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(deletion_policy_defaults_to_delete),
        cmocka_unit_test(uninstall_backoff_is_bounded),
        cmocka_unit_test(what_remains_is_named_and_cut),
        cmocka_unit_test(a_created_namespace_is_deleted_only_when_it_holds_nothing_else),
        cmocka_unit_test(record_is_on_record_when_status_lists_every_entry),
        cmocka_unit_test(spec_is_read_with_defaults),
        cmocka_unit_test(spec_without_target_or_manifest_is_refused),
        cmocka_unit_test(read_failure_gate_class_reason),
        cmocka_unit_test(manifest_secret_gives_objects),
        cmocka_unit_test(manifest_secret_unreadable_or_invalid),
        cmocka_unit_test(apply_failure_gate_class_reason),
        cmocka_unit_test(source_of_applied_kinds),
        cmocka_unit_test(slim_workload_drops_the_pod_template),
        cmocka_unit_test(slim_pod_keeps_names_images_and_status),
        cmocka_unit_test(events_about_phase4deployments),
        cmocka_unit_test(pod_events_concern_the_selecting_resource),
        cmocka_unit_test(slice_events_concern_who_applied_the_service),
        cmocka_unit_test(drift_is_a_deletion_or_a_newer_generation),
        cmocka_unit_test(drift_message_says_what_was_put_back),
        cmocka_unit_test(drift_message_list_is_cut_to_fit),
        cmocka_unit_test(static_reasons),
        cmocka_unit_test(unschedulable_for_counts_from_the_condition),
        cmocka_unit_test(pod_verdicts),
        cmocka_unit_test(pod_verdict_skips_pods_not_selected_or_unreadable),
        cmocka_unit_test(pod_of_an_earlier_revision_is_old),
        cmocka_unit_test(object_verdicts),
        cmocka_unit_test(failure_of_prefers_the_diagnosis),
        cmocka_unit_test(services_that_need_endpoints),
        cmocka_unit_test(slices_with_a_ready_endpoint),
        cmocka_unit_test(wait_passes_when_everything_is_ready),
        cmocka_unit_test(wait_goes_on_with_the_gate_waited_on),
        cmocka_unit_test(wait_times_out_on_the_gate_waited_on),
        cmocka_unit_test(wait_fails_fast_with_the_failure_class),
        cmocka_unit_test(timeout_message_names_what_was_waited_for),
        cmocka_unit_test(crash_log_tail_and_path),
        cmocka_unit_test(pods_are_counted_again_when_the_selectors_change),
        cmocka_unit_test(health_json_summarizes),
        cmocka_unit_test(hooks_are_sorted_out_by_event),
        cmocka_unit_test(hook_delete_policies),
        cmocka_unit_test(hooks_split_in_helm_order),
        cmocka_unit_test(hook_states),
    };
    return cmocka_run_group_tests_name("kubestage", tests, NULL, NULL);
}
