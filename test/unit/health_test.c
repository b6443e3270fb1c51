/*
 * health_test.c: kstatus-style health of real objects (one JSON file each in fixtures/health/,
 * written as the API server returns them) for every kind and state the Kubernetes stage waits on,
 * and hostile objects (wrong types, nulls, missing status, huge and binary strings) that must
 * never crash.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs setjmp.h, stdarg.h, stddef.h and stdint.h first. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h> /* after the four it needs */

#include "phase4/stages/kubernetes/health.h"

#include "testjson.h"

#define FIXTURES "test/unit/fixtures/health/"

enum {
    CUR = P4_HEALTH_CURRENT,
    PROG = P4_HEALTH_IN_PROGRESS,
    FAIL = P4_HEALTH_FAILED,
    UNK = P4_HEALTH_UNKNOWN
};

struct fixture_case {
    const char *file; /* under FIXTURES */
    int status;       /* enum p4_health_status */
    bool permanent;
    const char *reason;
    const char *message; /* a substring the message must hold */
};

/* Every file in fixtures/health/, with what it must give. */
static const struct fixture_case fixture_cases[] = {
    /* Deployments */
    {"deployment-rollout.json", PROG, false, "RolloutInProgress",
     "Deployment web: 1 of 3 replicas updated, 3 available, 3 old replicas still running"},
    {"deployment-new.json", PROG, false, "RolloutInProgress",
     "Deployment web: 3 of 3 replicas updated, 0 available"},
    {"deployment-complete.json", CUR, false, "Ready",
     "Deployment web is available: 3 of 3 replicas updated and available"},
    {"deployment-deadline.json", FAIL, true, "ProgressDeadlineExceeded",
     "exceeded its progress deadline of 600s with 1 of 3 replicas updated, 3 available, 3 old "
     "replicas still running: ReplicaSet \"web-6d4cf56db6\" has timed out progressing."},
    {"deployment-generation-behind.json", PROG, false, "ObservedGenerationBehind",
     "Deployment web: generation 3 is not observed yet (status.observedGeneration 2)"},
    {"deployment-quota.json", FAIL, false, "ReplicaFailure",
     "cannot create replicas (FailedCreate) with 1 of 3 replicas updated, 0 available: pods "
     "\"web-6d4cf56db6-x2x9p\" is forbidden: exceeded quota: compute"},
    {"deployment-not-available.json", PROG, false, "NotAvailable",
     "but the Deployment is not Available yet: Deployment does not have minimum availability."},
    {"deployment-paused.json", PROG, false, "RolloutPaused",
     "0 of 3 replicas updated, 3 available, 3 old replicas still running; the rollout is paused"},
    {"deployment-no-status.json", UNK, false, "NoStatus", "Deployment web has no status yet"},
    /* StatefulSets */
    {"statefulset-partitioned.json", CUR, false, "Ready",
     "StatefulSet db: partitioned rollout complete, 1 replica at revision db-7f9b6c8d44, "
     "partition 2 keeps 2 at revision db-5c8d7f6b9"},
    {"statefulset-updating.json", PROG, false, "RolloutInProgress",
     "StatefulSet db: 1 of 3 replicas updated to revision db-7f9b6c8d44"},
    {"statefulset-ready.json", CUR, false, "Ready", "StatefulSet db: all 3 replicas ready"},
    {"statefulset-scaling.json", PROG, false, "RolloutInProgress",
     "StatefulSet db: 1 of 3 replicas ready, 2 created"},
    /* DaemonSets */
    {"daemonset-rolling.json", PROG, false, "RolloutInProgress",
     "DaemonSet log-agent: 1 of 3 pods updated, 2 available"},
    {"daemonset-ready.json", CUR, false, "Ready",
     "DaemonSet log-agent: all 3 scheduled pods updated and available"},
    /* ReplicaSets */
    {"replicaset-quota.json", FAIL, false, "ReplicaFailure",
     "ReplicaSet web-6d4cf56db6: cannot create pods (FailedCreate), 1 of 3 replicas exist: pods "
     "\"web-6d4cf56db6-x2x9p\" is forbidden: exceeded quota: compute, requested: "
     "limits.cpu=500m"},
    {"replicaset-ready.json", CUR, false, "Ready", "ReplicaSet web-6d4cf56db6: all 3 replicas"},
    /* Jobs */
    {"job-complete.json", CUR, false, "Complete",
     "Job migrate completed: 1 of 1 completions succeeded"},
    {"job-failed.json", FAIL, true, "BackoffLimitExceeded",
     "Job migrate failed (BackoffLimitExceeded): Job has reached the specified backoff limit; "
     "0 of 1 completions succeeded, 0 active, 7 failed"},
    {"job-deadline.json", FAIL, true, "DeadlineExceeded",
     "Job migrate failed (DeadlineExceeded): Job was active longer than specified deadline"},
    {"job-running.json", PROG, false, "JobRunning",
     "Job migrate is running: 0 of 1 completions succeeded, 1 active, 0 failed"},
    /* Pods */
    {"pod-running-ready.json", CUR, false, "Ready",
     "Pod web-6d4cf56db6-k8x2p is running and ready"},
    {"pod-running-not-ready.json", PROG, false, "PodNotReady",
     "Pod web-6d4cf56db6-k8x2p is running but not ready: container web is not ready"},
    {"pod-pending-creating.json", PROG, false, "Pending",
     "Pod web-6d4cf56db6-k8x2p is Pending: container web is waiting (ContainerCreating)"},
    {"pod-unschedulable-selector.json", FAIL, true, "Unschedulable",
     "Pod web-6d4cf56db6-k8x2p cannot be scheduled: 0/3 nodes are available: 3 node(s) didn't "
     "match Pod's node affinity/selector."},
    {"pod-unschedulable-cpu.json", FAIL, true, "Unschedulable",
     "cannot be scheduled: 0/3 nodes are available: 3 Insufficient cpu."},
    {"pod-unschedulable-taint.json", FAIL, true, "Unschedulable",
     "2 node(s) had untolerated taint {dedicated: gpu}"},
    {"pod-preempting.json", PROG, false, "Pending",
     "waiting for preemption to make room on node worker-2: 0/3 nodes are available"},
    {"pod-crashloop.json", FAIL, true, "CrashLoopBackOff",
     "Pod web-6d4cf56db6-k8x2p: container web is in CrashLoopBackOff after 5 restarts, last "
     "exit code 1 (Error)"},
    {"pod-crashloop-early.json", FAIL, false, "CrashLoopBackOff",
     "container web is in CrashLoopBackOff after 1 restart, last exit code 137 (OOMKilled)"},
    {"pod-init-crashloop.json", FAIL, true, "CrashLoopBackOff",
     "container migrate is in CrashLoopBackOff after 4 restarts, last exit code 2 (Error): "
     "migration 0042_orders failed: relation \"orders\" already exists"},
    {"pod-imagepullbackoff.json", FAIL, true, "ImagePullBackOff",
     "container web cannot pull image registry.example.com/shop/web:9.9.9 (ImagePullBackOff; a "
     "corrected image reference or a pushed image heals it): Back-off pulling image"},
    {"pod-errimagepull.json", FAIL, false, "ErrImagePull",
     "cannot pull image registry.example.com/shop/web:9.9.9 (ErrImagePull; a corrected image "
     "reference or a pushed image heals it): rpc error: code = NotFound"},
    {"pod-errimageneverpull.json", FAIL, true, "ErrImageNeverPull",
     "cannot pull image web:local (ErrImageNeverPull; imagePullPolicy is Never"},
    {"pod-invalidimagename.json", FAIL, true, "InvalidImageName",
     "cannot pull image Registry.Example.com/Shop/Web:1.4.2 (InvalidImageName; not a valid "
     "image reference; correct it)"},
    {"pod-createcontainerconfigerror.json", FAIL, false, "CreateContainerConfigError",
     "container web cannot start (CreateContainerConfigError): configmap \"web-config\" not "
     "found"},
    {"pod-succeeded.json", CUR, false, "Succeeded", "Pod migrate-x7k2q completed successfully"},
    {"pod-failed.json", FAIL, true, "PodFailed",
     "Pod migrate-x7k2q failed: container web exited with code 2 (Error)"},
    {"pod-evicted.json", FAIL, true, "PodFailed",
     "failed (Evicted): The node was low on resource: memory."},
    {"pod-terminating.json", PROG, false, "Terminating",
     "Pod web-6d4cf56db6-k8x2p is being deleted"},
    /* PersistentVolumeClaims */
    {"pvc-bound.json", CUR, false, "Bound",
     "PersistentVolumeClaim data-db-0 is Bound to volume pvc-e1f2a3b4"},
    {"pvc-pending.json", PROG, false, "Pending",
     "PersistentVolumeClaim data-db-0 is Pending: no volume is bound to it yet"},
    {"pvc-lost.json", FAIL, true, "ClaimLost",
     "PersistentVolumeClaim data-db-0 lost its volume pvc-e1f2a3b4"},
    /* Services */
    {"service-clusterip.json", CUR, false, "Ready", "Service web (ClusterIP)"},
    {"service-loadbalancer-pending.json", PROG, false, "LoadBalancerPending",
     "Service web: waiting for the load balancer to get an address"},
    {"service-loadbalancer-ready.json", CUR, false, "Ready",
     "Service web has a load balancer at 198.51.100.7"},
    /* Custom resources and their standard conditions */
    {"cr-ready-false.json", FAIL, false, "InstallFailed",
     "HelmRelease podinfo is not ready: Helm install failed for release apps/podinfo"},
    {"cr-ready-false-issuing.json", PROG, false, "DoesNotExist",
     "Certificate shop-tls is not ready yet: Issuing certificate as Secret does not exist"},
    {"cr-reconciling.json", PROG, false, "Progressing",
     "Kustomization shop is reconciling: Reconciliation in progress"},
    {"cr-stalled.json", FAIL, false, "ArtifactFailed",
     "Kustomization shop is stalled: kustomization path not found"},
    {"cr-ready-true.json", CUR, false, "Ready",
     "Certificate web-tls is ready: Certificate is up to date and has not expired"},
    {"cr-ready-stale.json", PROG, false, "ObservedGenerationBehind",
     "Certificate web-tls: its Ready condition is for generation 1, not 2"},
    {"cr-no-status.json", CUR, false, "Ready", "Deployment web has no Ready condition to wait for"},
    {"ingress.json", CUR, false, "Ready", "Ingress web has no Ready condition to wait for"},
    /* Kinds with nothing to wait for */
    {"configmap.json", CUR, false, "Ready", "ConfigMap web-config has no status to wait for"},
    {"secret.json", CUR, false, "Ready", "Secret web-db has no status to wait for"},
    {"clusterrole.json", CUR, false, "Ready", "ClusterRole shop-reader has no status"},
    {"namespace-active.json", CUR, false, "Ready", "Namespace shop is active"},
    {"crd-established.json", CUR, false, "Ready",
     "CustomResourceDefinition widgets.example.com is established"},
};

#define NCASES (sizeof(fixture_cases) / sizeof(fixture_cases[0]))

static cJSON *object(const char *text)
{
    return test_json(text);
}

static cJSON *fixture(const char *file)
{
    return test_json_file(FIXTURES, file);
}

/* The invariants every result keeps, whatever the input. */
static void assert_well_formed(const struct p4_health *h)
{
    const char *end;

    assert_true(h->status == P4_HEALTH_CURRENT || h->status == P4_HEALTH_IN_PROGRESS ||
                h->status == P4_HEALTH_FAILED || h->status == P4_HEALTH_UNKNOWN);
    assert_true(!h->permanent || h->status == P4_HEALTH_FAILED);
    end = memchr(h->reason, '\0', sizeof(h->reason));
    assert_non_null(end);
    assert_true(end > h->reason);
    for (const char *p = h->reason; p < end; p++) {
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == ',' || *p == ':'))
            fail_msg("reason \"%s\" is not a condition reason", h->reason);
    }
    end = memchr(h->message, '\0', sizeof(h->message));
    assert_non_null(end);
    assert_true(end > h->message);
    for (const char *p = h->message; p < end; p++) {
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
            fail_msg("byte 0x%02x in message", (unsigned char)*p);
    }
}

static int eval(const cJSON *obj, struct p4_health *h)
{
    int rc;

    memset(h, 0x5a, sizeof(*h)); /* no field may be left as it was */
    rc = p4_health_eval(obj, h);
    assert_well_formed(h);
    return rc;
}

static void assert_health(const char *text, int status, const char *reason, bool permanent,
                          const char *message)
{
    cJSON *obj = object(text);
    struct p4_health h;

    assert_int_equal(eval(obj, &h), 0);
    if ((int)h.status != status || strcmp(h.reason, reason) != 0 || h.permanent != permanent ||
        strstr(h.message, message) == NULL)
        fail_msg("%s\n got %s %s permanent=%d \"%s\"\n want %s %s permanent=%d \"...%s...\"", text,
                 p4_health_status_name(h.status), h.reason, h.permanent, h.message,
                 p4_health_status_name((enum p4_health_status)status), reason, permanent, message);
    cJSON_Delete(obj);
}

static void real_objects_are_judged(void **state)
{
    (void)state;
    for (size_t i = 0; i < NCASES; i++) {
        const struct fixture_case *c = &fixture_cases[i];
        cJSON *obj = fixture(c->file);
        struct p4_health h;

        assert_int_equal(eval(obj, &h), 0);
        if ((int)h.status != c->status || strcmp(h.reason, c->reason) != 0 ||
            h.permanent != c->permanent || strstr(h.message, c->message) == NULL)
            fail_msg("%s:\n got %s %s permanent=%d \"%s\"\n want %s %s permanent=%d "
                     "\"...%s...\"",
                     c->file, p4_health_status_name(h.status), h.reason, h.permanent, h.message,
                     p4_health_status_name((enum p4_health_status)c->status), c->reason,
                     c->permanent, c->message);
        cJSON_Delete(obj);
    }
}

static void every_fixture_has_a_case(void **state)
{
    DIR *dir = opendir(FIXTURES);
    const struct dirent *de;
    size_t files = 0;

    (void)state;
    if (dir == NULL) {
        fail_msg("cannot open " FIXTURES " (run the tests from the repository root)");
        return;
    }
    while ((de = readdir(dir)) != NULL) {
        size_t n = strlen(de->d_name), i;

        if (n < 5 || strcmp(de->d_name + n - 5, ".json") != 0)
            continue;
        files++;
        for (i = 0; i < NCASES; i++) {
            if (strcmp(fixture_cases[i].file, de->d_name) == 0)
                break;
        }
        if (i == NCASES)
            fail_msg("fixture %s has no expected result", de->d_name);
    }
    (void)closedir(dir);
    assert_int_equal(files, NCASES);
}

static void status_names(void **state)
{
    (void)state;
    assert_string_equal(p4_health_status_name(P4_HEALTH_CURRENT), "Current");
    assert_string_equal(p4_health_status_name(P4_HEALTH_IN_PROGRESS), "InProgress");
    assert_string_equal(p4_health_status_name(P4_HEALTH_FAILED), "Failed");
    assert_string_equal(p4_health_status_name(P4_HEALTH_UNKNOWN), "Unknown");
    assert_string_equal(p4_health_status_name((enum p4_health_status)4), "Unknown");
    assert_string_equal(p4_health_status_name((enum p4_health_status) - 1), "Unknown");
}

static void objects_without_kind_or_name_are_refused(void **state)
{
    static const struct {
        const char *text, *message;
    } cases[] = {
        {"{'metadata':{'name':'web'}}", "the object has no kind"},
        {"{'kind':'','metadata':{'name':'web'}}", "the object has no kind"},
        {"{'kind':7,'metadata':{'name':'web'}}", "the object has no kind"},
        {"{'kind':null,'metadata':{'name':'web'}}", "the object has no kind"},
        {"{'kind':'Pod'}", "the object has no metadata.name"},
        {"{'kind':'Pod','metadata':null}", "the object has no metadata.name"},
        {"{'kind':'Pod','metadata':['web']}", "the object has no metadata.name"},
        {"{'kind':'Pod','metadata':{'name':''}}", "the object has no metadata.name"},
        {"{'kind':'Pod','metadata':{'name':{'x':1}}}", "the object has no metadata.name"},
        {"['Pod']", "the object is not a JSON object"},
        {"'Pod'", "the object is not a JSON object"},
        {"null", "the object is not a JSON object"},
    };
    struct p4_health h;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cJSON *obj = object(cases[i].text);

        assert_int_equal(eval(obj, &h), P4_ERR_INVAL);
        assert_int_equal(h.status, P4_HEALTH_UNKNOWN);
        assert_string_equal(h.reason, "InvalidObject");
        assert_string_equal(h.message, cases[i].message);
        assert_false(h.permanent);
        cJSON_Delete(obj);
    }
    assert_int_equal(eval(NULL, &h), P4_ERR_INVAL);
    assert_string_equal(h.message, "the object is not a JSON object");
    {
        cJSON *obj = object("{'kind':'ConfigMap','metadata':{'name':'x'}}");

        assert_int_equal(p4_health_eval(obj, NULL), P4_ERR_INVAL);
        cJSON_Delete(obj);
    }
}

static void missing_and_null_status(void **state)
{
    static const char *const workloads[] = {"Deployment",           "StatefulSet", "DaemonSet",
                                            "ReplicaSet",           "Job",         "Pod",
                                            "PersistentVolumeClaim"};
    static const char *const statuses[] = {"", ",'status':null", ",'status':{}"};
    char text[256];

    (void)state;
    for (size_t k = 0; k < sizeof(workloads) / sizeof(workloads[0]); k++) {
        for (size_t s = 0; s < sizeof(statuses) / sizeof(statuses[0]); s++) {
            (void)snprintf(text, sizeof(text),
                           "{'kind':'%s','metadata':{'name':'x','generation':1}%s}", workloads[k],
                           statuses[s]);
            assert_health(text, UNK, "NoStatus", false, " x has no status yet");
        }
    }
    /* Kinds without a status of their own do not need one. */
    assert_health("{'apiVersion':'v1','kind':'ConfigMap','metadata':{'name':'x'},'status':null}",
                  CUR, "Ready", false, "ConfigMap x has no status to wait for");
    assert_health("{'apiVersion':'v1','kind':'Service','metadata':{'name':'x'}}", CUR, "Ready",
                  false, "Service x (ClusterIP)");
    assert_health("{'apiVersion':'v1','kind':'Service','metadata':{'name':'x'},"
                  "'spec':{'type':'LoadBalancer'}}",
                  PROG, "LoadBalancerPending", false, "Service x: waiting for the load balancer");
    assert_health("{'apiVersion':'example.com/v1','kind':'Widget','metadata':{'name':'x'}}", CUR,
                  "Ready", false, "Widget x has no Ready condition to wait for");
    assert_health("{'apiVersion':'apiextensions.k8s.io/v1','kind':'CustomResourceDefinition',"
                  "'metadata':{'name':'x'}}",
                  PROG, "Installing", false, "CustomResourceDefinition x is not established yet");
}

/*
 * One member of an object that would otherwise be CURRENT is replaced by each hostile value:
 * the answer is UNKNOWN (a member the decision needs has the wrong type) or IN_PROGRESS (the
 * value reads as absent or zero), never CURRENT or FAILED, and never a crash.
 */
static void wrong_types_never_pass(void **state)
{
    static const char *const values[] = {"'3'",   "-3",   "3.5", "[]",     "{}",     "true", "null",
                                         "1e400", "1e17", "[3]", "'True'", "-1e400", "0"};
    static const char *const templates[] = {
        /* A complete Deployment, one member at a time. */
        "{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'w','generation':2},"
        "'spec':{'replicas':3,'progressDeadlineSeconds':600},'status':{'observedGeneration':2,"
        "'replicas':3,'updatedReplicas':3,'readyReplicas':3,'availableReplicas':@,'conditions':["
        "{'type':'Available','status':'True'},{'type':'Progressing','status':'True','reason':"
        "'NewReplicaSetAvailable'}]}}",
        "{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'w','generation':2},"
        "'spec':{'replicas':3,'progressDeadlineSeconds':600},'status':{'observedGeneration':2,"
        "'replicas':3,'updatedReplicas':@,'readyReplicas':3,'availableReplicas':3,'conditions':["
        "{'type':'Available','status':'True'},{'type':'Progressing','status':'True','reason':"
        "'NewReplicaSetAvailable'}]}}",
        "{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'w','generation':2},"
        "'spec':{'replicas':3,'progressDeadlineSeconds':600},'status':{'observedGeneration':2,"
        "'replicas':3,'updatedReplicas':3,'readyReplicas':3,'availableReplicas':3,"
        "'conditions':@}}",
        "{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'w','generation':2},"
        "'spec':{'replicas':3,'progressDeadlineSeconds':600},'status':{'observedGeneration':2,"
        "'replicas':3,'updatedReplicas':3,'readyReplicas':3,'availableReplicas':3,'conditions':["
        "{'type':'Available','status':@},{'type':'Progressing','status':'True','reason':"
        "'NewReplicaSetAvailable'}]}}",
        "{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'w','generation':2},"
        "'spec':{'replicas':3,'progressDeadlineSeconds':600},'status':{'observedGeneration':2,"
        "'replicas':3,'updatedReplicas':3,'readyReplicas':3,'availableReplicas':3,'conditions':["
        "@,{'type':'Progressing','status':'True','reason':'NewReplicaSetAvailable'}]}}",
        "{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'w','generation':2},"
        "'spec':{'replicas':3,'progressDeadlineSeconds':600},'status':@}",
        /* StatefulSet and DaemonSet counts. */
        "{'apiVersion':'apps/v1','kind':'StatefulSet','metadata':{'name':'db'},'spec':{"
        "'replicas':3},'status':{'replicas':3,'readyReplicas':@,'currentReplicas':3,"
        "'updatedReplicas':3,'currentRevision':'a','updateRevision':'a'}}",
        "{'apiVersion':'apps/v1','kind':'StatefulSet','metadata':{'name':'db'},'spec':{"
        "'replicas':3},'status':{'replicas':3,'readyReplicas':3,'currentReplicas':3,"
        "'updatedReplicas':3,'currentRevision':'a','updateRevision':@}}",
        "{'apiVersion':'apps/v1','kind':'DaemonSet','metadata':{'name':'d','generation':1},"
        "'status':{'observedGeneration':1,'desiredNumberScheduled':2,'currentNumberScheduled':2,"
        "'updatedNumberScheduled':2,'numberAvailable':@,'numberReady':2}}",
        "{'apiVersion':'apps/v1','kind':'DaemonSet','metadata':{'name':'d','generation':1},"
        "'status':{'observedGeneration':@,'desiredNumberScheduled':2,'currentNumberScheduled':2,"
        "'updatedNumberScheduled':2,'numberAvailable':2,'numberReady':2}}",
        "{'apiVersion':'apps/v1','kind':'ReplicaSet','metadata':{'name':'r'},'spec':{"
        "'replicas':@},'status':{'replicas':0,'fullyLabeledReplicas':0,'readyReplicas':0,"
        "'availableReplicas':0,'observedGeneration':1}}",
        /* A Job's conditions. */
        "{'apiVersion':'batch/v1','kind':'Job','metadata':{'name':'j'},'status':{'succeeded':1,"
        "'conditions':[{'type':'Complete','status':@}]}}",
        "{'apiVersion':'batch/v1','kind':'Job','metadata':{'name':'j'},'status':{'succeeded':1,"
        "'conditions':[{'type':@,'status':'True'}]}}",
        /* A ready pod. */
        "{'apiVersion':'v1','kind':'Pod','metadata':{'name':'p'},'status':{'phase':@,"
        "'conditions':[{'type':'Ready','status':'True'}]}}",
        "{'apiVersion':'v1','kind':'Pod','metadata':{'name':'p'},'status':{'phase':'Running',"
        "'conditions':[{'type':'Ready','status':@}]}}",
        "{'apiVersion':'v1','kind':'Pod','metadata':{'name':'p'},'status':{'phase':'Running',"
        "'conditions':@}}",
        "{'apiVersion':'v1','kind':'Pod','metadata':{'name':'p'},'status':{'phase':'Running',"
        "'containerStatuses':@,'conditions':[{'type':'Ready','status':'False'}]}}",
        "{'apiVersion':'v1','kind':'Pod','metadata':{'name':'p'},'status':{'phase':'Running',"
        "'containerStatuses':[@],'conditions':[{'type':'Ready','status':'False'}]}}",
        "{'apiVersion':'v1','kind':'Pod','metadata':{'name':'p'},'status':{'phase':'Running',"
        "'containerStatuses':[{'name':@,'ready':@,'restartCount':@,'state':@,'lastState':@,"
        "'image':@}],'conditions':[{'type':'Ready','status':'False'}]}}",
        /* PVC and Service. */
        "{'apiVersion':'v1','kind':'PersistentVolumeClaim','metadata':{'name':'c'},'status':{"
        "'phase':@}}",
        "{'apiVersion':'v1','kind':'Service','metadata':{'name':'s'},'spec':{'type':"
        "'LoadBalancer'},'status':{'loadBalancer':{'ingress':@}}}",
        /* A custom resource's Ready condition and the generation check. */
        "{'apiVersion':'example.com/v1','kind':'Widget','metadata':{'name':'w'},'status':{"
        "'conditions':[{'type':'Ready','status':@}]}}",
        "{'apiVersion':'example.com/v1','kind':'Widget','metadata':{'name':'w','generation':@},"
        "'status':{'observedGeneration':1,'conditions':[{'type':'Ready','status':'Unknown'}]}}",
        "{'apiVersion':'example.com/v1','kind':'Widget','metadata':{'name':'w',"
        "'deletionTimestamp':@},'status':{'conditions':[{'type':'Ready','status':'Unknown'}]}}",
    };
    char text[2048];
    struct p4_health h;

    (void)state;
    for (size_t t = 0; t < sizeof(templates) / sizeof(templates[0]); t++) {
        for (size_t v = 0; v < sizeof(values) / sizeof(values[0]); v++) {
            size_t at = 0;
            cJSON *obj;

            for (const char *p = templates[t]; *p != '\0'; p++) {
                size_t n = *p == '@' ? strlen(values[v]) : 1;

                assert_true(at + n < sizeof(text));
                memcpy(text + at, *p == '@' ? values[v] : p, n);
                at += n;
            }
            text[at] = '\0';
            obj = object(text);
            assert_int_equal(eval(obj, &h), 0);
            /*
             * Two values are valid where some templates put them: 0 replicas make a ReplicaSet
             * CURRENT, and 'True' is what a condition's status should be.
             */
            if (h.status != P4_HEALTH_UNKNOWN && h.status != P4_HEALTH_IN_PROGRESS &&
                strcmp(values[v], "0") != 0 && strcmp(values[v], "'True'") != 0)
                fail_msg("%s: %s %s \"%s\"", text, p4_health_status_name(h.status), h.reason,
                         h.message);
            cJSON_Delete(obj);
        }
    }
}

static void wrong_types_name_the_member(void **state)
{
    (void)state;
    assert_health("{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'web'},"
                  "'status':{'replicas':3,'readyReplicas':'3'}}",
                  UNK, "MalformedObject", false,
                  "Deployment web: status.readyReplicas is not a non-negative integer");
    assert_health("{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'web'},"
                  "'spec':{'replicas':-1},'status':{'replicas':3}}",
                  UNK, "MalformedObject", false, "spec.replicas is not a non-negative integer");
    assert_health("{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'web'},"
                  "'spec':{'replicas':3000000000},'status':{'replicas':3}}",
                  UNK, "MalformedObject", false, "spec.replicas is not a non-negative integer");
    assert_health("{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'web'},"
                  "'status':{'replicas':3,'conditions':{'type':'Available'}}}",
                  UNK, "MalformedObject", false,
                  "Deployment web: status.conditions is not an array");
    assert_health("{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'web'},"
                  "'spec':{'paused':'yes'},'status':{'replicas':3}}",
                  UNK, "MalformedObject", false, "spec.paused is not a boolean");
    assert_health("{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'web'},"
                  "'status':'Running'}",
                  UNK, "MalformedObject", false, "Deployment web: status is not an object");
    assert_health("{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'web',"
                  "'generation':'2'},'status':{'replicas':3}}",
                  UNK, "MalformedObject", false, "metadata.generation is not an integer");
    assert_health("{'apiVersion':'v1','kind':'Pod','metadata':{'name':'p'},'status':{'phase':7}}",
                  UNK, "MalformedObject", false, "Pod p: status.phase is not a string");
    assert_health("{'apiVersion':'v1','kind':'Pod','metadata':{'name':'p'},'status':{"
                  "'phase':'Exploded'}}",
                  UNK, "MalformedObject", false,
                  "Pod p: status.phase \"Exploded\" is not a pod phase");
    assert_health("{'apiVersion':'v1','kind':'Pod','metadata':{'name':'p'},'status':{"
                  "'phase':'Running','containerStatuses':{'name':'web'}}}",
                  UNK, "MalformedObject", false, "status.containerStatuses is not an array");
    assert_health("{'apiVersion':'v1','kind':'Pod','metadata':{'name':'p'},'status':{"
                  "'phase':'Unknown'}}",
                  UNK, "PodUnknown", false, "Pod p: phase Unknown");
    assert_health("{'apiVersion':'v1','kind':'PersistentVolumeClaim','metadata':{'name':'c'},"
                  "'status':{'phase':'Released'}}",
                  UNK, "MalformedObject", false, "status.phase \"Released\" is not a claim phase");
}

static void built_in_kinds_are_told_by_group(void **state)
{
    static const char *const zero = "'status':{'replicas':0,'observedGeneration':1}}";
    char text[512];

    (void)state;
    (void)snprintf(text, sizeof(text),
                   "{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'w'},%s", zero);
    assert_health(text, PROG, "RolloutInProgress", false, "0 of 1 replicas updated");
    (void)snprintf(text, sizeof(text),
                   "{'apiVersion':'extensions/v1beta1','kind':'Deployment','metadata':{'name':"
                   "'w'},%s",
                   zero);
    assert_health(text, PROG, "RolloutInProgress", false, "0 of 1 replicas updated");
    /* No apiVersion (an item of a list): the kind alone decides. */
    (void)snprintf(text, sizeof(text), "{'kind':'Deployment','metadata':{'name':'w'},%s", zero);
    assert_health(text, PROG, "RolloutInProgress", false, "0 of 1 replicas updated");
    /* A custom resource that happens to be called Deployment. */
    (void)snprintf(text, sizeof(text),
                   "{'apiVersion':'example.com/v1','kind':'Deployment','metadata':{'name':'w'},%s",
                   zero);
    assert_health(text, CUR, "Ready", false, "Deployment w has no Ready condition");
    (void)snprintf(text, sizeof(text),
                   "{'apiVersion':'apps/v1','kind':'Pod','metadata':{'name':'w'},%s", zero);
    assert_health(text, CUR, "Ready", false, "Pod w has no Ready condition");
    assert_health("{'apiVersion':'v1','kind':'Role','metadata':{'name':'r'}}", CUR, "Ready", false,
                  "Role r has no Ready condition");
    assert_health("{'apiVersion':'rbac.authorization.k8s.io/v1','kind':'Role','metadata':{'name':"
                  "'r'}}",
                  CUR, "Ready", false, "Role r has no status to wait for");
}

static void generation_and_standard_conditions(void **state)
{
    (void)state;
    /* An observedGeneration ahead (restored from backup) is not "behind". */
    assert_health("{'apiVersion':'example.com/v1','kind':'Widget','metadata':{'name':'w',"
                  "'generation':1},'status':{'observedGeneration':5}}",
                  CUR, "Ready", false, "Widget w has no Ready condition");
    /* Reconciling outranks Ready=False; Stalled applies to built-in kinds too. */
    assert_health("{'apiVersion':'example.com/v1','kind':'Widget','metadata':{'name':'w'},"
                  "'status':{'conditions':[{'type':'Ready','status':'False','reason':'Bad'},"
                  "{'type':'Reconciling','status':'True','message':'applying'}]}}",
                  PROG, "Reconciling", false, "Widget w is reconciling: applying");
    assert_health("{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'w'},"
                  "'status':{'replicas':1,'conditions':[{'type':'Stalled','status':'True',"
                  "'reason':'QuotaExhausted','message':'no more room'}]}}",
                  FAIL, "QuotaExhausted", false, "Deployment w is stalled: no more room");
    assert_health("{'apiVersion':'example.com/v1','kind':'Widget','metadata':{'name':'w'},"
                  "'status':{'conditions':[{'type':'Ready','status':'Unknown'}]}}",
                  PROG, "ReadyUnknown", false, "Widget w is not ready yet");
    assert_health("{'apiVersion':'example.com/v1','kind':'Widget','metadata':{'name':'w'},"
                  "'status':{'conditions':[{'type':'Ready','status':'False'}]}}",
                  PROG, "NotReady", false, "Widget w is not ready yet");
    /* Entries of the wrong shape are skipped; the first of a type counts. */
    assert_health("{'apiVersion':'example.com/v1','kind':'Widget','metadata':{'name':'w'},"
                  "'status':{'conditions':[7,null,'Ready',[],{'type':5},{'status':'False'},"
                  "{'type':'Ready','status':'True','message':'up'},{'type':'Ready','status':"
                  "'False'}]}}",
                  CUR, "Ready", false, "Widget w is ready: up");
    assert_health("{'apiVersion':'apiextensions.k8s.io/v1','kind':'CustomResourceDefinition',"
                  "'metadata':{'name':'x'},'status':{'conditions':[{'type':'NamesAccepted',"
                  "'status':'False','reason':'MultipleNameConflict','message':'plural taken'}]}}",
                  FAIL, "MultipleNameConflict", false, "its names are not accepted: plural taken");
    assert_health("{'apiVersion':'v1','kind':'Namespace','metadata':{'name':'n'},'status':{"
                  "'phase':'Terminating'}}",
                  PROG, "Terminating", false, "Namespace n is being deleted");
}

/* A custom resource's Ready=False waits, unless a word of its reason says it failed. */
static void custom_ready_false_reasons(void **state)
{
    static const struct {
        const char *reason;
        int status;
    } cases[] = {
        /* Failure words, wherever they stand, in any case. */
        {"ReconciliationFailed", FAIL},
        {"InstallFailed", FAIL},
        {"FailedCreate", FAIL},
        {"Failed", FAIL},
        {"failed", FAIL},
        {"FAILED", FAIL},
        {"CreateFailure", FAIL},
        {"FailFast", FAIL},
        {"SecretSyncedError", FAIL},
        {"ErrInitIssuer", FAIL},
        {"ErrRegisterACMEAccount", FAIL},
        {"ACMEError", FAIL},
        {"X509Error", FAIL},
        {"InvalidSpec", FAIL},
        {"Denied", FAIL},
        {"AccessDenied", FAIL},
        {"failed_create", FAIL},
        {"Sync:Error", FAIL},
        /* Not yet: operators at work, and words that only hold a failure word. */
        {"Issuing", PROG},
        {"DoesNotExist", PROG},
        {"DependencyNotReady", PROG},
        {"Progressing", PROG},
        {"Unavailable", PROG},
        {"Pending", PROG},
        {"Failover", PROG},
        {"Erratic", PROG},
        {"Invalidated", PROG},
        {"Errand", PROG},
        {"HTTPServer", PROG},
        {"F", PROG},
        {"E", PROG},
    };
    char text[512];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        (void)snprintf(text, sizeof(text),
                       "{'apiVersion':'example.com/v1','kind':'Widget','metadata':{'name':'w'},"
                       "'status':{'conditions':[{'type':'Ready','status':'False','reason':'%s',"
                       "'message':'m'}]}}",
                       cases[i].reason);
        assert_health(text, cases[i].status, cases[i].reason, false,
                      cases[i].status == FAIL ? "Widget w is not ready: m"
                                              : "Widget w is not ready yet: m");
    }
    /* An invalid reason is never passed on, nor read for words. */
    assert_health("{'apiVersion':'example.com/v1','kind':'Widget','metadata':{'name':'w'},"
                  "'status':{'conditions':[{'type':'Ready','status':'False','reason':'Failed:'}]}}",
                  PROG, "NotReady", false, "Widget w is not ready yet");
    assert_health("{'apiVersion':'example.com/v1','kind':'Widget','metadata':{'name':'w'},"
                  "'status':{'conditions':[{'type':'Ready','status':'False','reason':'Failed "
                  "badly'}]}}",
                  PROG, "NotReady", false, "Widget w is not ready yet");
    /* Stalled=True fails whatever Ready says; Reconciling=True waits. */
    assert_health("{'apiVersion':'example.com/v1','kind':'Widget','metadata':{'name':'w'},"
                  "'status':{'conditions':[{'type':'Ready','status':'False','reason':'Issuing'},"
                  "{'type':'Stalled','status':'True','reason':'Misconfigured','message':'no "
                  "issuer'}]}}",
                  FAIL, "Misconfigured", false, "Widget w is stalled: no issuer");
    assert_health("{'apiVersion':'example.com/v1','kind':'Widget','metadata':{'name':'w'},"
                  "'status':{'conditions':[{'type':'Ready','status':'False','reason':'Failed'},"
                  "{'type':'Reconciling','status':'True','reason':'Retrying'}]}}",
                  PROG, "Retrying", false, "Widget w is reconciling");
    /* Built-in kinds keep their own rules: a Pod's Ready=False is not read for words. */
    assert_health("{'apiVersion':'v1','kind':'Pod','metadata':{'name':'p'},'status':{'phase':"
                  "'Running','conditions':[{'type':'Ready','status':'False','reason':"
                  "'ContainersNotReady'}]}}",
                  PROG, "PodNotReady", false, "Pod p is running but not ready");
}

static void workload_edges(void **state)
{
    (void)state;
    /* Without progressDeadlineSeconds the controller reports no progress: counts decide. */
    assert_health("{'kind':'Deployment','metadata':{'name':'w'},'spec':{'replicas':2},'status':{"
                  "'replicas':2,'updatedReplicas':2,'readyReplicas':2,'availableReplicas':2,"
                  "'conditions':[{'type':'Available','status':'True'}]}}",
                  CUR, "Ready", false, "2 of 2 replicas updated and available");
    /* The int32 maximum is the controller's "no deadline"; a real deadline wants Progressing. */
    assert_health(
        "{'kind':'Deployment','metadata':{'name':'w'},'spec':{'replicas':1,"
        "'progressDeadlineSeconds':2147483647},'status':{'replicas':1,'updatedReplicas':1,"
        "'readyReplicas':1,'availableReplicas':1,'conditions':[{'type':'Available',"
        "'status':'True'}]}}",
        CUR, "Ready", false, "1 of 1 replicas updated and available");
    assert_health("{'kind':'Deployment','metadata':{'name':'w'},'spec':{'replicas':1,"
                  "'progressDeadlineSeconds':600},'status':{'replicas':1,'updatedReplicas':1,"
                  "'readyReplicas':1,'availableReplicas':1,'conditions':[{'type':'Available',"
                  "'status':'True'}]}}",
                  PROG, "NotAvailable", false, "the new ReplicaSet is not reported available yet");
    assert_health("{'kind':'Deployment','metadata':{'name':'w'},'spec':{'replicas':0},'status':{"
                  "'observedGeneration':1,'conditions':[{'type':'Available','status':'True'}]}}",
                  CUR, "Ready", false, "0 of 0 replicas");
    /* Old replicas still terminating after every new one is up. */
    assert_health("{'kind':'Deployment','metadata':{'name':'w'},'spec':{'replicas':2},'status':{"
                  "'replicas':3,'updatedReplicas':2,'readyReplicas':3,'availableReplicas':3}}",
                  PROG, "RolloutInProgress", false,
                  "2 of 2 replicas updated, 3 available, 1 old replica still running");
    /* OnDelete: updates are the user's, readiness still counts. */
    assert_health("{'kind':'StatefulSet','metadata':{'name':'s'},'spec':{'replicas':2,"
                  "'updateStrategy':{'type':'OnDelete'}},'status':{'replicas':2,'readyReplicas':2,"
                  "'currentReplicas':0,'updatedReplicas':0,'currentRevision':'a',"
                  "'updateRevision':'b'}}",
                  CUR, "Ready", false, "OnDelete");
    assert_health(
        "{'kind':'StatefulSet','metadata':{'name':'s'},'spec':{'replicas':2,"
        "'updateStrategy':{'type':'OnDelete'}},'status':{'replicas':2,'readyReplicas':1}}",
        PROG, "RolloutInProgress", false, "1 of 2 replicas ready");
    /* No partition member: revisions must match. */
    assert_health("{'kind':'StatefulSet','metadata':{'name':'s'},'spec':{'replicas':2},'status':{"
                  "'replicas':2,'readyReplicas':2,'currentReplicas':2,'updatedReplicas':2,"
                  "'currentRevision':'s-1','updateRevision':'s-2'}}",
                  PROG, "RolloutInProgress", false, "2 of 2 replicas updated to revision s-2");
    assert_health("{'kind':'StatefulSet','metadata':{'name':'s'},'spec':{'replicas':2},'status':{"
                  "'replicas':3,'readyReplicas':3}}",
                  PROG, "RolloutInProgress", false, "1 extra replica terminating");
    assert_health("{'kind':'StatefulSet','metadata':{'name':'s'},'spec':{'replicas':2,"
                  "'updateStrategy':{'rollingUpdate':{'partition':5}}},'status':{'replicas':2,"
                  "'readyReplicas':2}}",
                  CUR, "Ready", false,
                  "partitioned rollout complete, 0 replicas at the new revision, partition 5 "
                  "keeps 2 at the old revision");
    assert_health("{'kind':'DaemonSet','metadata':{'name':'d','generation':1},'status':{"
                  "'desiredNumberScheduled':1}}",
                  PROG, "ObservedGenerationBehind", false, "no status.observedGeneration");
    assert_health("{'kind':'DaemonSet','metadata':{'name':'d','generation':1},'status':{"
                  "'observedGeneration':1}}",
                  PROG, "RolloutInProgress", false, "no status.desiredNumberScheduled");
    assert_health("{'kind':'DaemonSet','metadata':{'name':'d','generation':1},'spec':{"
                  "'updateStrategy':{'type':'OnDelete'}},'status':{'observedGeneration':1,"
                  "'desiredNumberScheduled':2,'currentNumberScheduled':2,'numberAvailable':2,"
                  "'numberReady':2}}",
                  CUR, "Ready", false, "all 2 scheduled pods");
    assert_health("{'kind':'DaemonSet','metadata':{'name':'d','generation':1},'status':{"
                  "'observedGeneration':1,'desiredNumberScheduled':0}}",
                  CUR, "Ready", false, "all 0 scheduled pods");
    assert_health("{'kind':'Job','metadata':{'name':'j'},'spec':{'suspend':true},'status':{"
                  "'conditions':[{'type':'Suspended','status':'True'}]}}",
                  CUR, "Suspended", false, "Job j is suspended");
    assert_health("{'kind':'Job','metadata':{'name':'j'},'status':{'active':2,"
                  "'conditions':[{'type':'Failed','status':'True','reason':'bad reason!'}]}}",
                  FAIL, "JobFailed", true, "Job j failed (JobFailed); 0 succeeded, 2 active");
}

static void pod_edges(void **state)
{
    (void)state;
    /* The third restart makes a crash loop permanent. */
    assert_health("{'kind':'Pod','metadata':{'name':'p'},'status':{'phase':'Running',"
                  "'containerStatuses':[{'name':'a','ready':false,'restartCount':2,'state':{"
                  "'waiting':{'reason':'CrashLoopBackOff'}}}]}}",
                  FAIL, "CrashLoopBackOff", false,
                  "container a is in CrashLoopBackOff after 2 "
                  "restarts");
    assert_health("{'kind':'Pod','metadata':{'name':'p'},'status':{'phase':'Running',"
                  "'containerStatuses':[{'name':'a','ready':false,'restartCount':3,'state':{"
                  "'waiting':{'reason':'CrashLoopBackOff','message':'back-off 40s'}}}]}}",
                  FAIL, "CrashLoopBackOff", true, "after 3 restarts: back-off 40s");
    /* A restart count of the wrong type cannot prove the loop is permanent. */
    assert_health("{'kind':'Pod','metadata':{'name':'p'},'status':{'phase':'Running',"
                  "'containerStatuses':[{'name':'a','restartCount':'9','state':{"
                  "'waiting':{'reason':'CrashLoopBackOff'}}}]}}",
                  FAIL, "CrashLoopBackOff", false, "after 0 restarts");
    /* The image comes from the spec when the status has none. */
    assert_health("{'kind':'Pod','metadata':{'name':'p'},'spec':{'containers':[{'name':'b',"
                  "'image':'x:1'},{'name':'a','image':'reg/a:2'}]},'status':{'phase':'Pending',"
                  "'containerStatuses':[{'name':'a','state':{'waiting':{'reason':"
                  "'ImagePullBackOff'}}}]}}",
                  FAIL, "ImagePullBackOff", true, "container a cannot pull image reg/a:2 (");
    assert_health("{'kind':'Pod','metadata':{'name':'p'},'status':{'phase':'Pending',"
                  "'containerStatuses':[{'name':'a','state':{'waiting':{'reason':"
                  "'RunContainerError','message':'exec: \\\"/app\\\": not found'}}}]}}",
                  FAIL, "RunContainerError", false, "container a cannot start (RunContainerError)");
    /* A running pod whose Ready condition is missing, and one not yet scheduled. */
    assert_health("{'kind':'Pod','metadata':{'name':'p'},'status':{'phase':'Running'}}", PROG,
                  "PodNotReady", false, "Pod p is running but not ready");
    assert_health("{'kind':'Pod','metadata':{'name':'p'},'status':{'phase':'Pending'}}", PROG,
                  "Pending", false, "Pod p is Pending: not scheduled yet");
    assert_health("{'kind':'Pod','metadata':{'name':'p'},'status':{'conditions':[]}}", PROG,
                  "Pending", false, "Pod p has no phase yet");
    assert_health("{'kind':'Pod','metadata':{'name':'p'},'status':{'phase':'Pending',"
                  "'conditions':[{'type':'PodScheduled','status':'False','reason':"
                  "'SchedulerError'}]}}",
                  PROG, "Pending", false, "Pod p is Pending");
    assert_health("{'kind':'Pod','metadata':{'name':'p'},'status':{'phase':'Failed'}}", FAIL,
                  "PodFailed", true, "Pod p failed");
    /* Ready=True outranks a stale waiting entry only when Running. */
    assert_health("{'kind':'Pod','metadata':{'name':'p'},'status':{'phase':'Pending',"
                  "'conditions':[{'type':'Ready','status':'True'}]}}",
                  PROG, "Pending", false, "Pod p is Pending");
}

/* Strings from the object reach the message cut and printable, and reasons stay valid. */
static void hostile_strings_are_cut_and_cleaned(void **state)
{
    size_t big = 100000, n;
    char *text = malloc(3 * big + 512);
    cJSON *obj;
    struct p4_health h;

    (void)state;
    assert_non_null(text);
    n = (size_t)sprintf(text, "{'kind':'Widget','metadata':{'name':'");
    memset(text + n, 'n', big);
    n += big;
    n += (size_t)sprintf(text + n, "'},'status':{'conditions':[{'type':'Ready','status':'False',"
                                   "'reason':'");
    memset(text + n, 'R', 200);
    n += 200;
    n += (size_t)sprintf(text + n, "','message':'");
    memset(text + n, 'm', big);
    n += big;
    (void)sprintf(text + n, "'}]}}");
    obj = object(text);
    assert_int_equal(eval(obj, &h), 0);
    assert_int_equal(h.status, P4_HEALTH_IN_PROGRESS);
    assert_string_equal(h.reason, "NotReady"); /* 200 bytes do not fit: our own reason */
    /* Each piece is cut on its own, so the sentence keeps its shape. */
    assert_true(strlen(h.message) < sizeof(h.message) - 1);
    assert_true(strncmp(h.message, "Widget nnnn", 11) == 0);
    assert_non_null(strstr(h.message, "nnn... is not ready yet: mmmm"));
    assert_string_equal(h.message + strlen(h.message) - 6, "mmm...");
    cJSON_Delete(obj);

    /* Control bytes, UTF-8 and escapes become spaces and '?', never raw bytes. */
    obj = object("{'kind':'Wid\\u0001get','metadata':{'name':'caf\\u00e9\\n'},'status':{"
                 "'conditions':[{'type':'Ready','status':'False','reason':'Bad:',"
                 "'message':'line one\\nline\\ttwo\\u0007 \\u2603 \\r\\n'}]}}");
    assert_int_equal(eval(obj, &h), 0);
    assert_string_equal(h.reason, "NotReady"); /* a reason may not end in ':' */
    assert_string_equal(h.message, "Wid?get caf?? is not ready yet: line one line two? ???");
    cJSON_Delete(obj);

    /* A valid reason of 63 bytes passes; 64 do not fit. */
    memset(text, 0, 200);
    (void)sprintf(text, "{'kind':'Widget','metadata':{'name':'w'},'status':{'conditions':[{"
                        "'type':'Ready','status':'False','reason':'");
    n = strlen(text);
    memset(text + n, 'A', 63);
    (void)sprintf(text + n + 63, "'}]}}");
    obj = object(text);
    assert_int_equal(eval(obj, &h), 0);
    assert_int_equal(strlen(h.reason), 63);
    cJSON_Delete(obj);
    memset(text + n, 'A', 64);
    (void)sprintf(text + n + 64, "'}]}}");
    obj = object(text);
    assert_int_equal(eval(obj, &h), 0);
    assert_string_equal(h.reason, "NotReady");
    cJSON_Delete(obj);
    free(text);
}

/* Many conditions and containers are read in one pass each, without recursion. */
static void large_lists(void **state)
{
    cJSON *obj = object("{'kind':'Pod','metadata':{'name':'p'},'status':{'phase':'Running',"
                        "'conditions':[],'containerStatuses':[]}}");
    cJSON *conds = cJSON_GetObjectItem(cJSON_GetObjectItem(obj, "status"), "conditions");
    cJSON *containers =
        cJSON_GetObjectItem(cJSON_GetObjectItem(obj, "status"), "containerStatuses");
    struct p4_health h;

    (void)state;
    for (int i = 0; i < 20000; i++) {
        cJSON *c = cJSON_CreateObject(), *s = cJSON_CreateObject();

        assert_non_null(c);
        assert_non_null(s);
        assert_non_null(cJSON_AddStringToObject(c, "type", "Other"));
        assert_true(cJSON_AddItemToArray(conds, c));
        assert_non_null(cJSON_AddStringToObject(s, "name", "c"));
        assert_non_null(cJSON_AddTrueToObject(s, "ready"));
        assert_true(cJSON_AddItemToArray(containers, s));
    }
    assert_int_equal(eval(obj, &h), 0);
    assert_int_equal(h.status, P4_HEALTH_IN_PROGRESS);
    assert_string_equal(h.reason, "PodNotReady");
    cJSON_Delete(obj);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(real_objects_are_judged),
        cmocka_unit_test(every_fixture_has_a_case),
        cmocka_unit_test(status_names),
        cmocka_unit_test(objects_without_kind_or_name_are_refused),
        cmocka_unit_test(missing_and_null_status),
        cmocka_unit_test(wrong_types_never_pass),
        cmocka_unit_test(wrong_types_name_the_member),
        cmocka_unit_test(built_in_kinds_are_told_by_group),
        cmocka_unit_test(generation_and_standard_conditions),
        cmocka_unit_test(custom_ready_false_reasons),
        cmocka_unit_test(workload_edges),
        cmocka_unit_test(pod_edges),
        cmocka_unit_test(hostile_strings_are_cut_and_cleaned),
        cmocka_unit_test(large_lists),
    };
    return cmocka_run_group_tests_name("health", tests, NULL, NULL);
}
