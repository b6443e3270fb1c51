/*
 * diagnose_test.c: failure classes from real Events (core/v1 and events.k8s.io/v1), real refusal
 * Status bodies and real objects (one JSON file each in fixtures/diagnose/, written as the API
 * server returns them, with messages as kubelet, kube-scheduler, the controllers and admission
 * write them), the recent Warning Events of a namespace (fixtures/diagnose/eventlist-*.json),
 * and hostile input (wrong types, huge and binary strings, broken quoting) that must never crash.
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

#include "stages/kubernetes/diagevent.h"
#include "stages/kubernetes/diagnose.h"
#include "stages/kubernetes/diagobject.h"
#include "stages/kubernetes/diagrefusal.h"
#include "stages/kubernetes/diagwarnings.h"

#include "testjson.h"

#define FIXTURES "test/unit/fixtures/diagnose/"
#define SA "system:serviceaccount:phase4-system:phase4-operator"

enum call { EVENT, REFUSAL, OBJECT };
enum {
    ART = P4_FAIL_ARTIFACT,
    CLU = P4_FAIL_CLUSTER,
    TRA = P4_FAIL_TRANSIENT,
    NONE = P4_FAIL_NONE
};

struct fixture_case {
    const char *file; /* under FIXTURES */
    enum call call;
    int rc;
    const char *reason;
    int cls;
    const char *want[4];   /* substrings the message must hold */
    const char *object[3]; /* REFUSAL: kind, namespace and name the refused request was about */
};

static const struct fixture_case fixture_cases[] = {
    /* Image pulls: the image, the registry's words and who must act. */
    {"event-pull-not-found.json",
     EVENT,
     1,
     "ImagePullBackOff",
     ART,
     {"Pod shop/web-7d9c8b6f5-x2x9p: container web cannot pull image "
      "\"registry.example.com/shop/web:9.9.9\" (ErrImagePull): registry.example.com/shop/web:"
      "9.9.9: not found.",
      "Push the image or correct its reference in the chart"},
     {NULL}},
    {"event-pull-manifest-unknown.json",
     EVENT,
     1,
     "ImagePullBackOff",
     ART,
     {"Pod default/webapp-6b5f9d7c4d-8kq2n: container webapp cannot pull image",
      "Error response from daemon: manifest for richardchesterwood/k8s-fleetman-webapp-angular:"
      "releassdfsdfsdfe0-5 not found: manifest unknown"},
     {NULL}},
    {"event-pull-unauthorized.json",
     EVENT,
     1,
     "ImagePullBackOff",
     CLU,
     {"container api cannot pull image \"ghcr.io/devops-hw-private/orders-api:1.0\"",
      "failed to authorize: failed to fetch anonymous token", "403 Forbidden.",
      "a person must give the pods an image pull secret"},
     {NULL}},
    {"event-pull-timeout.json",
     EVENT,
     1,
     "ImagePullBackOff",
     TRA,
     {"Pod shop/backup-28563120-7tq4z: container backup cannot pull image \"busybox:1.36.1\"",
      "dial tcp 202.53.137.209:443: i/o timeout", "the kubelet keeps retrying"},
     {NULL}},
    {"event-pull-rate-limit.json",
     EVENT,
     1,
     "ImagePullBackOff",
     TRA,
     {"cannot pull image \"nginx:1.23\"", "toomanyrequests: You have reached your pull rate limit",
      "throttled the pull"},
     {NULL}},
    {"event-pull-x509.json",
     EVENT,
     1,
     "ImagePullBackOff",
     CLU,
     {"x509: certificate signed by unknown authority", "install its CA on the nodes"},
     {NULL}},
    {"event-pull-platform.json",
     EVENT,
     1,
     "ImagePullBackOff",
     ART,
     {"no match for platform in manifest: not found", "a new (multi-platform) image is needed"},
     {NULL}},
    {"event-errimagepull.json",
     EVENT,
     1,
     "ImagePullBackOff",
     ART,
     {"Pod shop/web-7d9c8b6f5-x2x9p: container web cannot pull its image (ErrImagePull)."},
     {NULL}},
    {"event-imagepullbackoff-v1.json",
     EVENT,
     1,
     "ImagePullBackOff",
     ART,
     {"Pod shop/web-7d9c8b6f5-x2x9p: container web cannot pull its image (ImagePullBackOff)."},
     {NULL}},
    {"event-backoff-pulling-normal.json", EVENT, 0, "", NONE, {NULL}, {NULL}},
    {"event-inspect-failed.json",
     EVENT,
     1,
     "InvalidImageName",
     ART,
     {"container web has an image reference that is not valid "
      "(\"Registry.Example.com/Shop/Web:1.4.2\"). Correct it in the chart"},
     {NULL}},
    {"event-never-pull.json",
     EVENT,
     1,
     "ErrImageNeverPull",
     ART,
     {"container web has imagePullPolicy Never but its image \"web:local\" is not on the node"},
     {NULL}},
    {"event-failed-configmap.json", EVENT, 0, "", NONE, {NULL}, {NULL}},
    /* Crash loops */
    {"event-crashloop.json",
     EVENT,
     1,
     "CrashLoopBackOff",
     ART,
     {"Pod shop/web-7d9c8b6f5-x2x9p: container web keeps crashing", "kubectl logs --previous",
      "a new image or chart is needed"},
     {NULL}},
    {"event-crashloop-v1.json",
     EVENT,
     1,
     "CrashLoopBackOff",
     ART,
     {"Pod shop/db-migrate-x7k2q: container migrate keeps crashing"},
     {NULL}},
    /* Scheduling: the scheduler's words without the preemption part, and the remedy. */
    {"event-scheduling-cpu.json",
     EVENT,
     1,
     "Unschedulable",
     CLU,
     {"Pod shop/web-7d9c8b6f5-x2x9p cannot be scheduled: 0/3 nodes are available: 1 node(s) had "
      "untolerated taint {node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu. The "
      "nodes lack free cpu: a person must add capacity, or the chart must request less."},
     {NULL}},
    {"event-scheduling-selector-v1.json",
     EVENT,
     1,
     "Unschedulable",
     ART,
     {"3 node(s) didn't match Pod's node affinity/selector. No node has the labels its "
      "nodeSelector or node affinity asks for: correct them in the chart"},
     {NULL}},
    {"event-scheduling-taint.json",
     EVENT,
     1,
     "Unschedulable",
     CLU,
     {"Pod kitchen-system/log-agent-9xq2k cannot be scheduled",
      "3 node(s) had untolerated taint {dedicated: gpu}",
      "Nodes carry taints it does not tolerate: a person must provide untainted nodes, or the "
      "chart must add tolerations."},
     {NULL}},
    {"event-scheduling-mixed.json",
     EVENT,
     1,
     "Unschedulable",
     CLU,
     {"The nodes lack free cpu", "The other nodes lack the labels"},
     {NULL}},
    {"event-scheduling-pvc.json",
     EVENT,
     1,
     "Unschedulable",
     CLU,
     {"Pod shop/db-0 cannot be scheduled: 0/3 nodes are available: pod has unbound immediate "
      "PersistentVolumeClaims.",
      "check its StorageClass"},
     {NULL}},
    {"event-scheduling-old-taint.json",
     EVENT,
     1,
     "Unschedulable",
     CLU,
     {"that the pod didn't tolerate, 2 Insufficient memory. The nodes lack free memory: a "
      "person must add capacity"},
     {NULL}},
    {"event-scheduling-no-nodes.json",
     EVENT,
     1,
     "Unschedulable",
     CLU,
     {"no nodes available to schedule pods. The cluster has no node to run it: a person must add "
      "nodes."},
     {NULL}},
    /* Controllers refused by quota and admission */
    {"event-quota.json",
     EVENT,
     1,
     "QuotaExceeded",
     CLU,
     {"ReplicaSet shop/web-6d4cf56db6 cannot create its pods: ResourceQuota compute does not "
      "allow more limits.cpu, limits.memory (requested limits.cpu=500m,limits.memory=512Mi, used "
      "limits.cpu=2,limits.memory=2Gi, limited limits.cpu=2,limits.memory=2Gi).",
      "A person must raise the quota, or the chart must ask for less."},
     {NULL}},
    {"event-quota-job.json",
     EVENT,
     1,
     "QuotaExceeded",
     CLU,
     {"Job team-capybara/capybara cannot create its pods: ResourceQuota quota-pods does not allow "
      "more count/pods"},
     {NULL}},
    {"event-quota-combined.json",
     EVENT,
     1,
     "QuotaExceeded",
     CLU,
     {"ResourceQuota pod-demo does not allow more pods (requested pods=1, used pods=2, limited "
      "pods=2)"},
     {NULL}},
    {"event-quota-statefulset.json",
     EVENT,
     1,
     "QuotaExceeded",
     CLU,
     {"StatefulSet user-alice/jupyter cannot create its pods: ResourceQuota onyxia-quota",
      "requests.memory"},
     {NULL}},
    {"event-quota-must-specify.json",
     EVENT,
     1,
     "QuotaRequiresResources",
     ART,
     {"ResourceQuota compute-quota requires every container to set limits.cpu for: podinfo; "
      "limits.memory for: podinfo. Set them in the chart"},
     {NULL}},
    {"event-webhook-gatekeeper.json",
     EVENT,
     1,
     "AdmissionDenied",
     CLU,
     {"ReplicaSet shop/web-6d4cf56db6 cannot create its pods: admission webhook "
      "\"validation.gatekeeper.sh\" denied it: [k8srequiredlabels-owner] you must provide "
      "labels: {\"owner\"}.",
      "A person must change the policy or grant an exception"},
     {NULL}},
    {"event-webhook-kyverno.json",
     EVENT,
     1,
     "AdmissionDenied",
     CLU,
     {"admission webhook \"validate.kyverno.svc-fail\" denied it: resource "
      "Pod/shop/web-6d4cf56db6-8kq2n was blocked due to the following policies "
      "disallow-latest-tag: validate-image-tag:"},
     {NULL}},
    {"event-podsecurity.json",
     EVENT,
     1,
     "AdmissionDenied",
     CLU,
     {"DaemonSet kitchen-system/kitchen-logs cannot create its pods: it violates the namespace's "
      "Pod Security level \"baseline:latest\": hostPath volumes (volumes \"data\", "
      "\"var-log\")."},
     {NULL}},
    {"event-scc.json",
     EVENT,
     1,
     "AdmissionDenied",
     CLU,
     {"no pod security policy admits it: unable to validate against any security context "
      "constraint"},
     {NULL}},
    /* Its pods name a ServiceAccount that is not there (an upgrade dropped it): it waits for
       nothing, so it fails at once rather than at the progress deadline. */
    {"event-failedcreate-serviceaccount.json",
     EVENT,
     1,
     "ServiceAccountNotFound",
     ART,
     {"ReplicaSet shop/web-6d4cf56db6 cannot create its pods: its pods name ServiceAccount web, "
      "which does not exist."},
     {NULL}},
    /* Rollouts and nodes */
    {"event-progress-deadline.json",
     EVENT,
     1,
     "ProgressDeadlineExceeded",
     ART,
     {"Deployment shop/web: the rollout did not progress within its deadline: ReplicaSet "
      "\"web-6d4cf56db6\" has timed out progressing. Its pods'"},
     {NULL}},
    {"event-evicted.json",
     EVENT,
     1,
     "NodePressure",
     CLU,
     {"Pod default/mem-eater was evicted: The node was low on resource: memory.",
      "has larger consumption of memory. The node is short of resources"},
     {NULL}},
    {"event-node-disk-pressure.json",
     EVENT,
     1,
     "NodePressure",
     CLU,
     {"Node worker-2 reports NodeHasDiskPressure. The node is short of resources: a person must "
      "free or add capacity."},
     {NULL}},
    {"event-eviction-threshold.json",
     EVENT,
     1,
     "NodePressure",
     CLU,
     {"Node worker-2 met an eviction threshold: Attempting to reclaim ephemeral-storage."},
     {NULL}},
    /* Unrelated Events */
    {"event-normal-pulled.json", EVENT, 0, "", NONE, {NULL}, {NULL}},
    {"event-normal-scheduled-v1.json", EVENT, 0, "", NONE, {NULL}, {NULL}},
    {"event-unhealthy.json", EVENT, 0, "", NONE, {NULL}, {NULL}},
    {"event-failed-mount.json", EVENT, 0, "", NONE, {NULL}, {NULL}},
    /* Refusals of an apply */
    {"refusal-rbac-namespaced.json",
     REFUSAL,
     1,
     "Forbidden",
     CLU,
     {"Deployment shop/web was refused: the operator's ServiceAccount "
      "phase4-system/phase4-operator may not patch deployments.apps in namespace shop. A person "
      "must grant it: a Role in shop (or a ClusterRole) allowing patch on deployments.apps, "
      "bound to ServiceAccount phase4-system/phase4-operator."},
     {"Deployment", "shop", "web"}},
    {"refusal-rbac-core.json",
     REFUSAL,
     1,
     "Forbidden",
     CLU,
     {"Service shop/web was refused: the operator's ServiceAccount phase4-system/phase4-operator "
      "may not get services in namespace shop."},
     {"Service", "shop", "web"}},
    {"refusal-rbac-cluster.json",
     REFUSAL,
     1,
     "Forbidden",
     CLU,
     {"ClusterRole shop-reader was refused: the operator's ServiceAccount "
      "phase4-system/phase4-operator may not create clusterroles.rbac.authorization.k8s.io at "
      "the cluster scope.",
      "a ClusterRole allowing create on clusterroles.rbac.authorization.k8s.io, bound to "
      "ServiceAccount phase4-system/phase4-operator by a ClusterRoleBinding."},
     {"ClusterRole", NULL, "shop-reader"}},
    {"refusal-rbac-other-user.json",
     REFUSAL,
     1,
     "Forbidden",
     CLU,
     {"Secret shop/web-db was refused: ServiceAccount shop/default may not get secrets in "
      "namespace shop."},
     {"Secret", "shop", "web-db"}},
    {"refusal-rbac-escalation.json",
     REFUSAL,
     1,
     "Forbidden",
     CLU,
     {"Role shop/web was refused: the API server forbids it: roles.rbac.authorization.k8s.io "
      "\"web\" is forbidden: user",
      "is attempting to grant RBAC permissions not currently held",
      "A person must grant the operator (" SA ") what it lacks."},
     {"Role", "shop", "web"}},
    {"refusal-quota-services.json",
     REFUSAL,
     1,
     "QuotaExceeded",
     CLU,
     {"Service shop/web was refused: ResourceQuota object-counts does not allow more services "
      "(requested services=1, used services=10, limited services=10). A person must raise the "
      "quota"},
     {"Service", "shop", "web"}},
    {"refusal-quota-configmaps.json",
     REFUSAL,
     1,
     "QuotaExceeded",
     CLU,
     {"ConfigMap acme/acme-messaging-fc4bwd8-readinessprobe was refused: ResourceQuota "
      "quota-account does not allow more count/configmaps"},
     {"ConfigMap", "acme", "acme-messaging-fc4bwd8-readinessprobe"}},
    {"refusal-webhook-gatekeeper.json",
     REFUSAL,
     1,
     "AdmissionDenied",
     CLU,
     {"Service shop/web was refused: admission webhook \"validation.gatekeeper.sh\" denied it: "
      "[denied by deny-nodeport-services]: web/shop is of type NodePort."},
     {"Service", "shop", "web"}},
    {"refusal-webhook-kyverno.json",
     REFUSAL,
     1,
     "AdmissionDenied",
     CLU,
     {"Deployment shop/web was refused: admission webhook \"validate.kyverno.svc-fail\" denied "
      "it: resource Deployment/shop/web was blocked due to the following policies require-labels: "
      "autogen-check-for-labels: 'validation error: The label `app.kubernetes.io/name` is "
      "required."},
     {"Deployment", "shop", "web"}},
    {"refusal-webhook-no-explanation.json",
     REFUSAL,
     1,
     "AdmissionDenied",
     CLU,
     {"admission webhook \"policy.example.com\" denied it without explanation."},
     {"Deployment", "shop", "web"}},
    {"refusal-vap-invalid.json",
     REFUSAL,
     1,
     "AdmissionDenied",
     CLU,
     {"Deployment shop/web was refused: ValidatingAdmissionPolicy 'demo-policy.example.com' "
      "(binding 'demo-binding-test.example.com') denied it: failed expression: "
      "object.spec.replicas <= 5."},
     {"Deployment", "shop", "web"}},
    {"refusal-vap-forbidden.json",
     REFUSAL,
     1,
     "AdmissionDenied",
     CLU,
     {"Pod shop/bad was refused: ValidatingAdmissionPolicy 'allowed-registries.supplychain.local' "
      "(binding 'allowed-registries-binding') denied it: image(s) from a non-permitted registry"},
     {"Pod", "shop", "bad"}},
    {"refusal-vap-cause-only.json",
     REFUSAL,
     1,
     "AdmissionDenied",
     CLU,
     {"ValidatingAdmissionPolicy 'max-replicas' (binding 'max-replicas-shop') denied it: You can "
      "not create more than 5 replicas"},
     {"Deployment", "shop", "web"}},
    {"refusal-podsecurity.json",
     REFUSAL,
     1,
     "AdmissionDenied",
     CLU,
     {"Pod shop/debug was refused: it violates the namespace's Pod Security level "
      "\"restricted:latest\": allowPrivilegeEscalation != false",
      "... The chart must comply (securityContext), or a person must relax the namespace's "
      "pod-security.kubernetes.io/enforce label."},
     {"Pod", "shop", "debug"}},
    {"refusal-webhook-unreachable.json",
     REFUSAL,
     1,
     "AdmissionWebhookUnavailable",
     TRA,
     {"Certificate shop/web-tls was refused: admission webhook \"webhook.cert-manager.io\" could "
      "not be called: dial tcp 10.96.191.224:443: connect: connection refused. It is retried"},
     {"Certificate", "shop", "web-tls"}},
    {"refusal-webhook-missing-service.json",
     REFUSAL,
     1,
     "AdmissionWebhookUnavailable",
     CLU,
     {"admission webhook \"validate.nginx.ingress.kubernetes.io\" could not be called: service "
      "\"ingress-nginx-controller-admission\" not found. A person must repair the webhook"},
     {"Ingress", "shop", "web"}},
    {"refusal-namespace-terminating.json",
     REFUSAL,
     1,
     "NamespaceTerminating",
     TRA,
     {"ConfigMap shop/web-config was refused: its namespace is being deleted"},
     {"ConfigMap", "shop", "web-config"}},
    {"refusal-conflict.json", REFUSAL, 0, "", NONE, {NULL}, {"Deployment", "shop", "web"}},
    {"refusal-invalid.json", REFUSAL, 0, "", NONE, {NULL}, {"Deployment", "shop", "web"}},
    /* Objects' own status */
    {"pod-imagepullbackoff.json",
     OBJECT,
     1,
     "ImagePullBackOff",
     ART,
     {"Pod shop/web-7d9c8b6f5-x2x9p: container web cannot pull image "
      "\"registry.example.com/shop/web:9.9.9\" (ImagePullBackOff). Push the image"},
     {NULL}},
    {"pod-errimagepull-forbidden.json",
     OBJECT,
     1,
     "ImagePullBackOff",
     CLU,
     {"container api cannot pull image \"ghcr.io/devops-hw-private/orders-api:1.0\" "
      "(ErrImagePull): failed to authorize",
      "image pull secret"},
     {NULL}},
    {"pod-imagepullbackoff-detailed.json",
     OBJECT,
     1,
     "ImagePullBackOff",
     ART,
     {"Pod microfe-platform/microfe-auth-6b899cfbbc-ssftf: container auth cannot pull image "
      "\"ghcr.io/phanthienquoc/microfe-auth:0.1.0\" (ImagePullBackOff): "
      "ghcr.io/phanthienquoc/microfe-auth:0.1.0: not found."},
     {NULL}},
    {"pod-invalidimagename.json",
     OBJECT,
     1,
     "InvalidImageName",
     ART,
     {"container web has an image reference that is not valid "
      "(\"Registry.Example.com/Shop/Web:1.4.2\")"},
     {NULL}},
    {"pod-crashloop.json",
     OBJECT,
     1,
     "CrashLoopBackOff",
     ART,
     {"Pod shop/web-7d9c8b6f5-x2x9p: container web keeps crashing (CrashLoopBackOff after 5 "
      "restarts); it last exited with code 1 (Error), its last words: \"Traceback",
      "KeyError: 'DATABASE_URL'\". Fix the image or the chart's configuration"},
     {NULL}},
    {"pod-crashloop-oom.json",
     OBJECT,
     1,
     "CrashLoopBackOff",
     ART,
     {"(CrashLoopBackOff after 1 restart); it last exited with code 137 (OOMKilled). It ran out "
      "of memory: raise its memory limit in the chart"},
     {NULL}},
    {"pod-init-crashloop.json",
     OBJECT,
     1,
     "CrashLoopBackOff",
     ART,
     {"Pod shop/db-migrate-x7k2q: init container migrate keeps crashing (CrashLoopBackOff after "
      "4 restarts); it last exited with code 2 (Error), its last words: \"applying migration "
      "0042_orders ERROR: relation \"orders\" already exists\""},
     {NULL}},
    {"pod-unschedulable.json",
     OBJECT,
     1,
     "Unschedulable",
     CLU,
     {"Pod shop/web-7d9c8b6f5-x2x9p cannot be scheduled: 0/5 nodes are available",
      "4 Insufficient memory. The nodes lack free memory"},
     {NULL}},
    {"pod-evicted.json",
     OBJECT,
     1,
     "NodePressure",
     CLU,
     {"Pod default/mem-eater was evicted: The node was low on resource: memory."},
     {NULL}},
    {"pod-running.json", OBJECT, 0, "", NONE, {NULL}, {NULL}},
    {"deployment-deadline.json",
     OBJECT,
     1,
     "ProgressDeadlineExceeded",
     ART,
     {"Deployment shop/web: the rollout did not progress within its deadline of 600s: ReplicaSet "
      "\"web-6d4cf56db6\" has timed out progressing. Its pods'"},
     {NULL}},
    {"deployment-quota.json",
     OBJECT,
     1,
     "QuotaExceeded",
     CLU,
     {"Deployment shop/web cannot create its pods: ResourceQuota compute does not allow more "
      "limits.cpu (requested limits.cpu=500m, used limits.cpu=2, limited limits.cpu=2)."},
     {NULL}},
    {"deployment-ready.json", OBJECT, 0, "", NONE, {NULL}, {NULL}},
    {"replicaset-webhook.json",
     OBJECT,
     1,
     "AdmissionDenied",
     CLU,
     {"ReplicaSet shop/web-6d4cf56db6 cannot create its pods: admission webhook "
      "\"validation.gatekeeper.sh\" denied it"},
     {NULL}},
};

#define NCASES (sizeof(fixture_cases) / sizeof(fixture_cases[0]))

/* The EventList fixtures, checked by their own tests below. */
static const char *const list_fixtures[] = {"eventlist-core.json", "eventlist-events-v1.json"};

/* ---- helpers ---- */

static cJSON *json(const char *text)
{
    return test_json(text);
}

static cJSON *fixture(const char *file)
{
    return test_json_file(FIXTURES, file);
}

static bool printable(const char *s, size_t max)
{
    const char *end = memchr(s, '\0', max);

    if (end == NULL)
        return false;
    for (const char *p = s; p < end; p++) {
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
            return false;
    }
    return true;
}

static const char *class_name(int cls)
{
    switch (cls) {
    case P4_FAIL_ARTIFACT:
        return "ARTIFACT";
    case P4_FAIL_CLUSTER:
        return "CLUSTER";
    case P4_FAIL_TRANSIENT:
        return "TRANSIENT";
    case P4_FAIL_NONE:
        return "NONE";
    default:
        return "?";
    }
}

/* The invariants every result keeps, whatever the input. */
static void assert_well_formed(int rc, const struct p4_diagnosis *d)
{
    assert_true(printable(d->reason, sizeof(d->reason)));
    assert_true(printable(d->message, sizeof(d->message)));
    if (rc == 1) {
        assert_true(d->reason[0] != '\0');
        assert_true(d->message[0] != '\0');
        for (const char *p = d->reason; *p != '\0'; p++) {
            if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')))
                fail_msg("reason \"%s\" is not CamelCase", d->reason);
        }
        assert_true(d->cls == P4_FAIL_ARTIFACT || d->cls == P4_FAIL_CLUSTER ||
                    d->cls == P4_FAIL_TRANSIENT);
    } else {
        assert_true(rc == 0 || rc == P4_ERR_INVAL);
        assert_string_equal(d->reason, "");
        assert_string_equal(d->message, "");
        assert_int_equal(d->cls, P4_FAIL_NONE);
    }
}

/* Each function, its output first spoiled so a field it leaves unwritten shows. */
static int event(const cJSON *ev, struct p4_diagnosis *d)
{
    int rc;

    memset(d, 0x5a, sizeof(*d));
    rc = p4_diagnose_event(ev, d);
    assert_well_formed(rc, d);
    return rc;
}

static int refusal(const cJSON *st, const char *kind, const char *ns, const char *name,
                   const char *identity, struct p4_diagnosis *d)
{
    int rc;

    memset(d, 0x5a, sizeof(*d));
    rc = p4_diagnose_refusal(st, kind, ns, name, identity, d);
    assert_well_formed(rc, d);
    return rc;
}

static int object(const cJSON *obj, struct p4_diagnosis *d)
{
    int rc;

    memset(d, 0x5a, sizeof(*d));
    rc = p4_diagnose_object(obj, d);
    assert_well_formed(rc, d);
    return rc;
}

/* The recent warnings, checked for the shape status.health.recentEvents needs. */
static cJSON *recent(const cJSON *list, int max)
{
    cJSON *a = p4_diagnose_recent_warnings(list, max);
    int n;

    if (a == NULL)
        return NULL;
    assert_true(cJSON_IsArray(a));
    n = cJSON_GetArraySize(a);
    assert_true(n <= (max < 0 ? 0 : max) && n <= P4_DIAGNOSE_RECENT_MAX);
    for (const cJSON *it = a->child; it != NULL; it = it->next) {
        const cJSON *count = cJSON_GetObjectItemCaseSensitive(it, "count");
        const cJSON *seen = cJSON_GetObjectItemCaseSensitive(it, "lastSeen");
        const char *fields[] = {"reason", "object", "message"};

        for (size_t f = 0; f < 3; f++) {
            const cJSON *s = cJSON_GetObjectItemCaseSensitive(it, fields[f]);

            assert_true(cJSON_IsString(s));
            assert_true(printable(s->valuestring, 1024));
        }
        assert_true(strlen(cJSON_GetObjectItemCaseSensitive(it, "message")->valuestring) <=
                    P4_DIAGNOSE_RECENT_MESSAGE_MAX);
        assert_true(cJSON_IsNumber(count));
        assert_true(count->valuedouble >= 1 && count->valuedouble <= INT32_MAX);
        assert_true(count->valuedouble == (double)(int64_t)count->valuedouble);
        if (seen != NULL) {
            assert_true(cJSON_IsString(seen));
            assert_int_equal(strlen(seen->valuestring), 20);
        }
    }
    return a;
}

static void expect(const char *what, int rc, const struct p4_diagnosis *d, int want_rc,
                   const char *reason, int cls, const char *const *want, size_t nwant)
{
    bool ok = rc == want_rc && strcmp(d->reason, reason) == 0 && (int)d->cls == cls;

    for (size_t i = 0; ok && i < nwant && want[i] != NULL; i++)
        ok = strstr(d->message, want[i]) != NULL;
    if (!ok) {
        print_error("%s:\n got rc=%d %s %s \"%s\"\n want rc=%d %s %s\n", what, rc, d->reason,
                    class_name((int)d->cls), d->message, want_rc, reason, class_name(cls));
        for (size_t i = 0; i < nwant && want[i] != NULL; i++)
            print_error("   with \"%s\"%s\n", want[i],
                        strstr(d->message, want[i]) != NULL ? "" : "   <- missing");
        fail();
    }
}

/* ---- the fixture table ---- */

static void real_inputs_are_classified(void **state)
{
    (void)state;
    for (size_t i = 0; i < NCASES; i++) {
        const struct fixture_case *c = &fixture_cases[i];
        cJSON *in = fixture(c->file);
        struct p4_diagnosis d;
        int rc = c->call == EVENT ? event(in, &d)
                 : c->call == REFUSAL
                     ? refusal(in, c->object[0], c->object[1], c->object[2], SA, &d)
                     : object(in, &d);

        expect(c->file, rc, &d, c->rc, c->reason, c->cls, c->want, 4);
        cJSON_Delete(in);
    }
}

static void every_fixture_has_a_case(void **state)
{
    DIR *dir = opendir(FIXTURES);
    const struct dirent *de;
    size_t files = 0, nlists = sizeof(list_fixtures) / sizeof(list_fixtures[0]);

    (void)state;
    if (dir == NULL) {
        fail_msg("cannot open " FIXTURES " (run the tests from the repository root)");
        return;
    }
    while ((de = readdir(dir)) != NULL) {
        size_t n = strlen(de->d_name), i, l;

        if (n < 5 || strcmp(de->d_name + n - 5, ".json") != 0)
            continue;
        files++;
        for (i = 0; i < NCASES; i++) {
            if (strcmp(fixture_cases[i].file, de->d_name) == 0)
                break;
        }
        for (l = 0; l < nlists; l++) {
            if (strcmp(list_fixtures[l], de->d_name) == 0)
                break;
        }
        if (i == NCASES && l == nlists)
            fail_msg("fixture %s has no expected result", de->d_name);
    }
    (void)closedir(dir);
    assert_int_equal(files, NCASES + nlists);
}

/* Every Event fixture diagnosed again through the other API's shape gives the same answer. */
static void both_event_apis_agree(void **state)
{
    (void)state;
    for (size_t i = 0; i < NCASES; i++) {
        const struct fixture_case *c = &fixture_cases[i];
        cJSON *ev, *moved;
        struct p4_diagnosis a, b;
        bool core;

        if (c->call != EVENT)
            continue;
        ev = fixture(c->file);
        core = cJSON_GetObjectItemCaseSensitive(ev, "involvedObject") != NULL;
        /* core/v1 -> events.k8s.io/v1: message -> note, involvedObject -> regarding. */
        moved = cJSON_DetachItemFromObjectCaseSensitive(ev, core ? "involvedObject" : "regarding");
        assert_non_null(moved);
        cJSON_AddItemToObject(ev, core ? "regarding" : "involvedObject", moved);
        moved = cJSON_DetachItemFromObjectCaseSensitive(ev, core ? "message" : "note");
        assert_non_null(moved);
        cJSON_AddItemToObject(ev, core ? "note" : "message", moved);
        assert_int_equal(event(ev, &a), c->rc);
        cJSON_Delete(ev);
        ev = fixture(c->file);
        assert_int_equal(event(ev, &b), c->rc);
        assert_string_equal(a.reason, b.reason);
        assert_string_equal(a.message, b.message);
        assert_int_equal(a.cls, b.cls);
        cJSON_Delete(ev);
    }
}

/* ---- Events ---- */

static void non_events_are_refused(void **state)
{
    static const char *const texts[] = {
        "null",
        "[]",
        "'Event'",
        "{}",
        /* NOLINTNEXTLINE(bugprone-suspicious-missing-comma): one literal, cut to fit the line */
        "{'reason':'BackOff','type':'Warning','message':'Back-off restarting failed container "
        "web'}",
        "{'reason':'BackOff','type':'Warning','involvedObject':'Pod/web'}",
        "{'reason':7,'type':'Warning','involvedObject':{'kind':'Pod','name':'web'}}",
        "{'kind':'Pod','reason':'BackOff','type':'Warning','involvedObject':{'kind':'Pod'}}",
        "{'kind':null,'reason':'BackOff','type':'Warning','involvedObject':{'kind':'Pod'}}",
    };
    struct p4_diagnosis d;

    (void)state;
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        cJSON *in = json(texts[i]);

        if (event(in, &d) != P4_ERR_INVAL)
            fail_msg("%s is not an Event", texts[i]);
        cJSON_Delete(in);
    }
    assert_int_equal(event(NULL, &d), P4_ERR_INVAL);
    {
        cJSON *in = json("{'reason':'BackOff','type':'Warning','involvedObject':{}}");

        assert_int_equal(p4_diagnose_event(in, NULL), P4_ERR_INVAL);
        cJSON_Delete(in);
    }
}

static void only_warnings_count(void **state)
{
    static const char *const types[] = {"'Normal'", "'warning'", "null", "7", "''"};
    char text[512];
    struct p4_diagnosis d;

    (void)state;
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        cJSON *in;

        (void)snprintf(text, sizeof(text),
                       "{'reason':'BackOff','type':%s,'message':'Back-off restarting failed "
                       "container web in pod web-1_shop(x)','involvedObject':{'kind':'Pod',"
                       "'namespace':'shop','name':'web-1'}}",
                       types[i]);
        in = json(text);
        assert_int_equal(event(in, &d), 0);
        cJSON_Delete(in);
    }
    /* The same Event as a Warning, with neither namespace nor a name. */
    {
        cJSON *in = json("{'reason':'BackOff','type':'Warning','message':'Back-off restarting "
                         "failed container web in pod web-1_shop(x)','involvedObject':{}}");
        const char *want[] = {"object (unnamed): container web keeps crashing"};

        expect("no object", event(in, &d), &d, 1, "CrashLoopBackOff", ART, want, 1);
        cJSON_Delete(in);
    }
}

static void event_variants(void **state)
{
    static const struct {
        const char *reason, *message, *field_path, *want, *why;
        int rc, cls;
    } cases[] = {
        /* The container comes from the message, or else from the fieldPath. */
        {"BackOff", "Back-off restarting failed container", "spec.containers{api}",
         "container api keeps crashing", "CrashLoopBackOff", 1, ART},
        {"BackOff", "Back-off restarting failed container ", NULL, "a container keeps crashing",
         "CrashLoopBackOff", 1, ART},
        {"Failed", "Error: ErrImagePull", "spec.initContainers{migrate}",
         "init container migrate cannot pull its image (ErrImagePull)", "ImagePullBackOff", 1, ART},
        {"Failed", "Error: InvalidImageName", "spec.containers{web}",
         "container web has an image reference that is not valid. Correct it", "InvalidImageName",
         1, ART},
        {"Failed", "Error: ErrImageNeverPull", "spec.containers{web}",
         "container web has imagePullPolicy Never but its image is not on the node",
         "ErrImageNeverPull", 1, ART},
        /* A Back-off pulling Event of a newer kubelet, sent as a Warning, carries the error. */
        {"BackOff", "Back-off pulling image \\'r/app:9\\': ErrImagePull: r/app:9: not found",
         "spec.containers{web}",
         "cannot pull image \"r/app:9\" (ImagePullBackOff): r/app:9: not found", "ImagePullBackOff",
         1, ART},
        /* Unbalanced quotes and empty names still read. */
        {"Failed", "Failed to pull image \\'", "spec.containers{}",
         "a container cannot pull its image", "ImagePullBackOff", 1, ART},
        {"Failed", "Failed to pull image \\'r/app:9", NULL,
         "cannot pull image \"r/app:9\" (ErrImagePull).", "ImagePullBackOff", 1, ART},
        /* Messages that only look alike. */
        {"Failed", "Error: secret \\'web-db\\' not found", "spec.containers{web}", NULL, "", 0,
         NONE},
        {"BackOff", "Back-off restarting", NULL, NULL, "", 0, NONE},
        {"FailedCreate", "Error creating: Internal error occurred: etcdserver: request timed out",
         NULL, NULL, "", 0, NONE},
        /* An upgrade that dropped the ServiceAccount its pods still name: fail fast. */
        {"FailedCreate",
         "Error creating: pods \\'web-6d4cf56db6-\\' is forbidden: error looking up service "
         "account shop/web: serviceaccount \\'web\\' not found",
         NULL, "cannot create its pods: its pods name ServiceAccount web, which does not exist",
         "ServiceAccountNotFound", 1, ART},
        {"Evicted", "Pod ephemeral local storage usage exceeds the total limit of containers 10Mi.",
         NULL, NULL, "", 0, NONE},
        {"InspectFailed", "Failed to inspect image \\'web:1\\': rpc error", NULL, NULL, "", 0,
         NONE},
        {"FailedScheduling", "", NULL, "Pod shop/web-1 cannot be scheduled. A person must add",
         "Unschedulable", 1, CLU},
        {"FailedScheduling",
         "running PreBind plugin \\'VolumeBinding\\': binding volumes: timed out", NULL,
         "A person must add capacity, or the chart must relax", "Unschedulable", 1, CLU},
        {"ProgressDeadlineExceeded", "", NULL,
         "Pod shop/web-1: the rollout did not progress within its deadline. Its pods'",
         "ProgressDeadlineExceeded", 1, ART},
        {"ReplicaSetCreateError",
         "Failed to create new replica set \\'web-6d4cf56db6\\': replicasets.apps "
         "\\'web-6d4cf56db6\\' "
         "is forbidden: exceeded quota: counts, requested: count/replicasets.apps=1, used: "
         "count/replicasets.apps=5, limited: count/replicasets.apps=5",
         NULL,
         "cannot create its ReplicaSet: ResourceQuota counts does not allow more "
         "count/replicasets.apps",
         "QuotaExceeded", 1, CLU},
    };
    char text[2048];
    struct p4_diagnosis d;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cJSON *in;
        const char *want[] = {cases[i].want};
        char fp[128] = "";

        if (cases[i].field_path != NULL)
            (void)snprintf(fp, sizeof(fp), ",'fieldPath':'%s'", cases[i].field_path);
        (void)snprintf(text, sizeof(text),
                       "{'reason':'%s','type':'Warning','message':'%s','involvedObject':{"
                       "'kind':'Pod','namespace':'shop','name':'web-1'%s}}",
                       cases[i].reason, cases[i].message, fp);
        /* \' in a case becomes \" in the JSON: a real quote in the message. */
        in = json(text);
        expect(cases[i].message, event(in, &d), &d, cases[i].rc, cases[i].why, cases[i].cls, want,
               cases[i].want != NULL ? 1 : 0);
        cJSON_Delete(in);
    }
}

/* ---- refusals ---- */

static void refusal_arguments(void **state)
{
    cJSON *st = fixture("refusal-rbac-namespaced.json");
    struct p4_diagnosis d;

    (void)state;
    /* Without a kind or name the Status details stand in; without an identity, none is named. */
    {
        const char *want[] = {"deployments shop/web was refused: ServiceAccount "
                              "phase4-system/phase4-operator may not patch deployments.apps"};

        expect("details", refusal(st, NULL, "shop", "", NULL, &d), &d, 1, "Forbidden", CLU, want,
               1);
        assert_null(strstr(d.message, "the operator's"));
    }
    /* Another identity: the user refused is named as it is. */
    {
        const char *want[] = {"ServiceAccount phase4-system/phase4-operator may not patch"};

        expect("other identity",
               refusal(st, "Deployment", "shop", "web", "system:serviceaccount:x:y", &d), &d, 1,
               "Forbidden", CLU, want, 1);
        assert_null(strstr(d.message, "the operator's"));
    }
    assert_int_equal(p4_diagnose_refusal(st, "Deployment", "shop", "web", SA, NULL), P4_ERR_INVAL);
    cJSON_Delete(st);
    assert_int_equal(refusal(NULL, "Deployment", "shop", "web", SA, &d), P4_ERR_INVAL);
    st = json("['Forbidden']");
    assert_int_equal(refusal(st, "Deployment", "shop", "web", SA, &d), P4_ERR_INVAL);
    cJSON_Delete(st);
    /* A Forbidden of unknown words, by reason or by code alone; not a Forbidden: nothing. */
    {
        static const char *const texts[] = {"{'reason':'Forbidden'}", "{'code':403,'message':7}",
                                            "{'code':403,'message':'nope'}"};
        const char *want[] = {"Deployment shop/web was refused: the API server forbids it"};

        for (size_t i = 0; i < 3; i++) {
            st = json(texts[i]);
            expect(texts[i], refusal(st, "Deployment", "shop", "web", SA, &d), &d, 1, "Forbidden",
                   CLU, want, 1);
            cJSON_Delete(st);
        }
        st = json("{'code':500,'reason':'InternalError','message':'etcdserver: leader changed'}");
        assert_int_equal(refusal(st, "Deployment", "shop", "web", SA, &d), 0);
        cJSON_Delete(st);
        st = json("{}");
        assert_int_equal(refusal(st, NULL, NULL, NULL, NULL, &d), 0);
        cJSON_Delete(st);
    }
    /* An older RBAC wording without "resource": still Forbidden, with the verb. */
    st = json("{'code':403,'message':'User \\'alice\\' cannot list path \\'/apis\\''}");
    {
        const char *want[] = {"user alice may not list: User \"alice\" cannot list path"};

        expect("path", refusal(st, "Deployment", "shop", "web", SA, &d), &d, 1, "Forbidden", CLU,
               want, 1);
    }
    cJSON_Delete(st);
}

/* ---- objects ---- */

static void objects_without_kind_or_name_are_refused(void **state)
{
    static const char *const texts[] = {"null",
                                        "[]",
                                        "{}",
                                        "{'kind':'Pod'}",
                                        "{'metadata':{'name':'p'}}",
                                        "{'kind':7,'metadata':{'name':'p'}}"};
    struct p4_diagnosis d;

    (void)state;
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        cJSON *in = json(texts[i]);

        assert_int_equal(object(in, &d), P4_ERR_INVAL);
        cJSON_Delete(in);
    }
    {
        cJSON *in = json("{'kind':'Pod','metadata':{'name':'p'}}");

        assert_int_equal(p4_diagnose_object(in, NULL), P4_ERR_INVAL);
        assert_int_equal(object(in, &d), 0);
        cJSON_Delete(in);
    }
}

static void only_built_in_kinds(void **state)
{
    cJSON *pod = fixture("pod-crashloop.json");
    struct p4_diagnosis d;

    (void)state;
    assert_int_equal(object(pod, &d), 1);
    cJSON_ReplaceItemInObjectCaseSensitive(pod, "apiVersion", cJSON_CreateString("example.com/v1"));
    assert_int_equal(object(pod, &d), 0);
    cJSON_DeleteItemFromObjectCaseSensitive(pod, "apiVersion");
    assert_int_equal(object(pod, &d), 1);
    cJSON_ReplaceItemInObjectCaseSensitive(pod, "kind", cJSON_CreateString("ConfigMap"));
    assert_int_equal(object(pod, &d), 0);
    cJSON_Delete(pod);
}

/* ---- recent Warning Events ---- */

struct want_entry {
    const char *reason, *object;
    double count;
    const char *last_seen; /* NULL: absent */
};

static void assert_entries(const cJSON *a, const struct want_entry *want, size_t n)
{
    const cJSON *it = a->child;

    assert_int_equal(cJSON_GetArraySize(a), n);
    for (size_t i = 0; i < n; i++, it = it->next) {
        const cJSON *seen = cJSON_GetObjectItemCaseSensitive(it, "lastSeen");

        assert_string_equal(cJSON_GetObjectItemCaseSensitive(it, "reason")->valuestring,
                            want[i].reason);
        assert_string_equal(cJSON_GetObjectItemCaseSensitive(it, "object")->valuestring,
                            want[i].object);
        assert_true(cJSON_GetObjectItemCaseSensitive(it, "count")->valuedouble == want[i].count);
        if (want[i].last_seen == NULL)
            assert_null(seen);
        else
            assert_string_equal(seen->valuestring, want[i].last_seen);
    }
}

static void recent_warnings_of_a_namespace(void **state)
{
    static const struct want_entry core[] = {
        {"BackOff", "Pod/web-7d9c8b6f5-x2x9p", 87, "2024-05-01T10:38:02Z"},
        {"FailedScheduling", "Pod/web-7d9c8b6f5-q8z4d", 6, "2024-05-01T10:36:30Z"},
        /* lastTimestamp 10:37+02:00 is 08:37Z, before firstTimestamp: the latest time wins. */
        {"FailedCreate", "ReplicaSet/web-6d4cf56db6", 17, "2024-05-01T10:00:03Z"},
        {"Unhealthy", "Pod/web-7d9c8b6f5-b7n4w", 3, "2024-05-01T09:12:00Z"},
        {"FailedMount", "Pod/web-7d9c8b6f5-b7n4w", 2, NULL},
    };
    static const struct want_entry v1[] = {
        /* One microsecond apart: MicroTime orders them. */
        {"FailedScheduling", "Pod/web-7d9c8b6f5-x2x9p", 1, "2024-05-01T10:12:40Z"},
        {"BackOff", "Pod/db-migrate-x7k2q", 12, "2024-05-01T10:12:40Z"},
    };
    cJSON *list = fixture("eventlist-core.json"), *a;

    (void)state;
    a = recent(list, P4_DIAGNOSE_RECENT_MAX);
    assert_entries(a, core, 5);
    /* Of the two BackOff Events, the later's message is kept. */
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(a->child, "message")->valuestring,
                        "Back-off restarting failed container web in pod "
                        "web-7d9c8b6f5-x2x9p_shop(0b6c0e5e) (second series)");
    cJSON_Delete(a);
    a = recent(list, 2);
    assert_entries(a, core, 2);
    cJSON_Delete(a);
    a = recent(list, 0);
    assert_entries(a, core, 0);
    cJSON_Delete(a);
    a = recent(list, -5);
    assert_entries(a, core, 0);
    cJSON_Delete(a);
    /* A bare array of the same Events. */
    a = recent(cJSON_GetObjectItemCaseSensitive(list, "items"), 100);
    assert_entries(a, core, 5);
    cJSON_Delete(a);
    cJSON_Delete(list);

    list = fixture("eventlist-events-v1.json");
    a = recent(list, P4_DIAGNOSE_RECENT_MAX);
    assert_entries(a, v1, 2);
    cJSON_Delete(a);
    cJSON_Delete(list);
}

static void recent_warnings_of_odd_lists(void **state)
{
    static const char *const refused[] = {"null", "'items'", "7", "{'items':{}}", "{'items':'x'}"};
    /* The last: a list of one Normal Event. */
    static const char *const empty[] = {
        "{}",
        "{'items':null}",
        "{'items':[]}",
        "[]",
        "[1,'x',null,[],{}]",
        "{'items':[{'reason':'BackOff','type':'Normal','involvedObject':{}}]}"};

    (void)state;
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        cJSON *in = json(refused[i]);

        assert_null(recent(in, 20));
        cJSON_Delete(in);
    }
    assert_null(recent(NULL, 20));
    for (size_t i = 0; i < sizeof(empty) / sizeof(empty[0]); i++) {
        cJSON *in = json(empty[i]), *a = recent(in, 20);

        assert_non_null(a);
        assert_int_equal(cJSON_GetArraySize(a), 0);
        cJSON_Delete(a);
        cJSON_Delete(in);
    }
}

static cJSON *warning(const char *reason, const char *kind, const char *name, double count,
                      const char *last, const char *message)
{
    cJSON *ev = cJSON_CreateObject(), *obj = cJSON_AddObjectToObject(ev, "involvedObject");

    cJSON_AddStringToObject(ev, "type", "Warning");
    cJSON_AddStringToObject(ev, "reason", reason);
    cJSON_AddStringToObject(ev, "message", message);
    cJSON_AddStringToObject(obj, "kind", kind);
    cJSON_AddStringToObject(obj, "name", name);
    cJSON_AddNumberToObject(ev, "count", count);
    if (last != NULL)
        cJSON_AddStringToObject(ev, "lastTimestamp", last);
    return ev;
}

static void recent_warnings_are_bounded(void **state)
{
    cJSON *list = cJSON_CreateArray(), *a;
    char name[64], big[8192];

    (void)state;
    /* 30 objects at 10:00:00 + i minutes: the 20 newest come back, newest first. */
    for (int i = 0; i < 30; i++) {
        char last[32];

        (void)snprintf(name, sizeof(name), "web-%02d", i);
        (void)snprintf(last, sizeof(last), "2024-05-01T10:%02d:00Z", i);
        cJSON_AddItemToArray(list, warning("BackOff", "Pod", name, 1, last, "x"));
    }
    a = recent(list, 100);
    assert_int_equal(cJSON_GetArraySize(a), P4_DIAGNOSE_RECENT_MAX);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(a->child, "object")->valuestring,
                        "Pod/web-29");
    assert_string_equal(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(a, 19), "object")->valuestring,
        "Pod/web-10");
    cJSON_Delete(a);
    cJSON_Delete(list);

    /* Counts sum and stop at INT32_MAX; bad counts read as 1. */
    list = cJSON_CreateArray();
    cJSON_AddItemToArray(list, warning("BackOff", "Pod", "p", 2147483000.0, NULL, "a"));
    cJSON_AddItemToArray(list, warning("BackOff", "Pod", "p", 2147483000.0, NULL, "b"));
    cJSON_AddItemToArray(list, warning("Failed", "Pod", "p", -4, NULL, "c"));
    cJSON_AddItemToArray(list, warning("Failed", "Pod", "p", 2.5, NULL, "d"));
    cJSON_AddItemToArray(list, warning("Failed", "Pod", "p", 1e300, NULL, "e"));
    a = recent(list, 20);
    {
        /* Without times, the later in the list is the later. */
        static const struct want_entry want[] = {{"Failed", "Pod/p", 3, NULL},
                                                 {"BackOff", "Pod/p", 2147483647.0, NULL}};

        assert_entries(a, want, 2);
        assert_string_equal(cJSON_GetObjectItemCaseSensitive(a->child, "message")->valuestring,
                            "e");
    }
    cJSON_Delete(a);
    cJSON_Delete(list);

    /* Long and binary text is cut and cleaned. */
    memset(big, 'm', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    big[10] = '\n';
    big[11] = '\x01';
    big[12] = '\xff';
    list = cJSON_CreateArray();
    cJSON_AddItemToArray(list, warning(big, big, big, 1, "2024-05-01T10:00:00Z", big));
    a = recent(list, 20);
    {
        const cJSON *e = a->child;
        const char *msg = cJSON_GetObjectItemCaseSensitive(e, "message")->valuestring;

        assert_int_equal(strlen(msg), P4_DIAGNOSE_RECENT_MESSAGE_MAX);
        assert_memory_equal(msg, "mmmmmmmmmm ??m", 14);
        assert_string_equal(msg + strlen(msg) - 3, "...");
        assert_true(strlen(cJSON_GetObjectItemCaseSensitive(e, "reason")->valuestring) < 128);
        assert_true(strlen(cJSON_GetObjectItemCaseSensitive(e, "object")->valuestring) < 330);
    }
    cJSON_Delete(a);
    cJSON_Delete(list);
}

static void recent_warning_times(void **state)
{
    static const struct {
        const char *field, *value, *want; /* want NULL: no time */
    } cases[] = {
        {"lastTimestamp", "2024-05-01T12:37:00+02:00", "2024-05-01T10:37:00Z"},
        {"lastTimestamp", "2024-05-01T00:30:00-01:30", "2024-05-01T02:00:00Z"},
        {"lastTimestamp", "2024-12-31T23:59:59-00:01", "2025-01-01T00:00:59Z"},
        {"lastTimestamp", "2024-02-29T10:00:00Z", "2024-02-29T10:00:00Z"},
        {"eventTime", "2024-05-01T10:00:00.999999999Z", "2024-05-01T10:00:00Z"},
        {"deprecatedLastTimestamp", "2024-05-01t10:00:00z", "2024-05-01T10:00:00Z"},
        {"series.lastObservedTime", "2024-05-01T10:00:00.5Z", "2024-05-01T10:00:00Z"},
        {"metadata.creationTimestamp", "1970-01-01T00:00:00Z", "1970-01-01T00:00:00Z"},
        {"lastTimestamp", "9999-12-31T23:59:59Z", "9999-12-31T23:59:59Z"},
        {"lastTimestamp", "9999-12-31T23:59:59-00:01", NULL},
        {"lastTimestamp", "1970-01-01T00:00:00+00:01", NULL},
        {"lastTimestamp", "2023-02-29T10:00:00Z", NULL},
        {"lastTimestamp", "2024-04-31T10:00:00Z", NULL},
        {"lastTimestamp", "2024-13-01T10:00:00Z", NULL},
        {"lastTimestamp", "2024-05-01T24:00:00Z", NULL},
        {"lastTimestamp", "2024-05-01T10:00:60Z", NULL},
        {"lastTimestamp", "2024-05-01T10:00:00", NULL},
        {"lastTimestamp", "2024-05-01T10:00:00.Z", NULL},
        {"lastTimestamp", "2024-05-01T10:00:00Zjunk", NULL},
        {"lastTimestamp", "2024-05-01 10:00:00Z", NULL},
        {"lastTimestamp", "1969-12-31T23:59:59Z", NULL},
        {"lastTimestamp", "-024-05-01T10:00:00Z", NULL},
        {"lastTimestamp", "", NULL},
        {"lastTimestamp", "2024-05-01T10:00:00+2:00", NULL},
    };
    char text[512];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *dot = strchr(cases[i].field, '.');
        cJSON *in, *a;
        const cJSON *seen;

        if (dot == NULL)
            (void)snprintf(text, sizeof(text),
                           "[{'type':'Warning','reason':'R','involvedObject':{},'%s':'%s'}]",
                           cases[i].field, cases[i].value);
        else
            (void)snprintf(text, sizeof(text),
                           "[{'type':'Warning','reason':'R','involvedObject':{},'%.*s':{'%s':"
                           "'%s'}}]",
                           (int)(dot - cases[i].field), cases[i].field, dot + 1, cases[i].value);
        in = json(text);
        a = recent(in, 1);
        seen = cJSON_GetObjectItemCaseSensitive(a->child, "lastSeen");
        if (cases[i].want == NULL) {
            if (seen != NULL)
                fail_msg("%s read as %s", cases[i].value, seen->valuestring);
        } else {
            if (seen == NULL)
                fail_msg("%s did not read", cases[i].value);
            else
                assert_string_equal(seen->valuestring, cases[i].want);
        }
        cJSON_Delete(a);
        cJSON_Delete(in);
    }
}

/* ---- hostile input ---- */

/*
 * A template's @ replaced by each hostile value: every function answers within its invariants.
 * The templates are real failures, so the structure around the value reaches deep code.
 */
static void wrong_types_never_crash(void **state)
{
    static const char *const values[] = {"null",
                                         "7",
                                         "-1",
                                         "1e400",
                                         "true",
                                         "[]",
                                         "{}",
                                         "[{}]",
                                         "''",
                                         "'\\u0000'",
                                         "'\\u001b[31m'",
                                         "{'a':[1,{}]}",
                                         "'0/3 nodes are available: '",
                                         "'User \\u0022'",
                                         "'exceeded quota: '",
                                         "'admission webhook \\u0022'"};
    static const char *const templates[] = {
        "{'reason':@,'type':'Warning','message':'Error: ErrImagePull','involvedObject':{}}",
        "{'reason':'Failed','type':@,'message':'Error: ErrImagePull','involvedObject':{}}",
        "{'reason':'Failed','type':'Warning','message':@,'involvedObject':{}}",
        "{'reason':'FailedScheduling','type':'Warning','message':@,'involvedObject':@}",
        "{'reason':'FailedCreate','type':'Warning','note':@,'regarding':{'kind':@,'name':@}}",
        "{'reason':'BackOff','type':'Warning','message':'Back-off restarting failed container "
        "web','involvedObject':{'kind':'Pod','name':'w','namespace':@,'fieldPath':@}}",
        "{'kind':'Status','code':@,'reason':@,'message':@,'details':{'kind':@,'name':@,"
        "'causes':@}}",
        "{'kind':'Status','code':403,'details':{'causes':[@,{'message':@}]}}",
        "{'apiVersion':'v1','kind':'Pod','metadata':{'name':'p','namespace':@},'status':{"
        "'phase':@,'reason':@,'message':@,'containerStatuses':[{'name':@,'image':@,"
        "'restartCount':@,'state':{'waiting':{'reason':'CrashLoopBackOff','message':@}},"
        "'lastState':{'terminated':{'exitCode':@,'reason':@,'message':@}}}]}}",
        "{'apiVersion':'v1','kind':'Pod','metadata':{'name':'p'},'status':{"
        "'initContainerStatuses':@,'containerStatuses':[@,{'state':{'waiting':{'reason':@}}}],"
        "'conditions':[{'type':'PodScheduled','status':'False','reason':'Unschedulable',"
        "'message':@}]}}",
        "{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'d'},'spec':{"
        "'progressDeadlineSeconds':@},'status':{'conditions':[@,{'type':'ReplicaFailure',"
        "'status':'True','message':@},{'type':'Progressing','status':'False','reason':"
        "'ProgressDeadlineExceeded','message':@}]}}",
        "{'items':[{'type':'Warning','reason':@,'message':@,'count':@,'involvedObject':{'kind':"
        "@,'name':@},'lastTimestamp':@,'eventTime':@,'series':@}]}",
    };
    char text[4096];
    struct p4_diagnosis d;

    (void)state;
    for (size_t t = 0; t < sizeof(templates) / sizeof(templates[0]); t++) {
        for (size_t v = 0; v < sizeof(values) / sizeof(values[0]); v++) {
            size_t at = 0;
            cJSON *in, *a;

            for (const char *p = templates[t]; *p != '\0'; p++) {
                size_t n = *p == '@' ? strlen(values[v]) : 1;

                assert_true(at + n < sizeof(text));
                memcpy(text + at, *p == '@' ? values[v] : p, n);
                at += n;
            }
            text[at] = '\0';
            in = json(text);
            (void)event(in, &d);
            (void)refusal(in, "Deployment", "shop", "web", SA, &d);
            (void)object(in, &d);
            a = recent(in, 20);
            cJSON_Delete(a);
            cJSON_Delete(in);
        }
    }
}

/* Huge, binary and badly quoted text in every field: bounded, printable results, fast. */
static void huge_and_binary_text(void **state)
{
    static const char *const seeds[] = {
        "Failed to pull image \"",
        "Back-off restarting failed container ",
        "0/3 nodes are available: 1 Insufficient ",
        "exceeded quota: ",
        "failed quota: ",
        "admission webhook \"",
        "ValidatingAdmissionPolicy '",
        "violates PodSecurity \"",
        "failed calling webhook \"",
        "User \"",
        "because it is being terminated",
    };
    static const char *const reasons[] = {
        "Failed",  "BackOff",       "FailedScheduling",  "FailedCreate",
        "Evicted", "InspectFailed", "ErrImageNeverPull", "ProgressDeadlineExceeded"};
    size_t size = (size_t)256 << 10;
    char *big = malloc(size + 1);
    struct p4_diagnosis d;

    (void)state;
    assert_non_null(big);
    for (size_t s = 0; s < sizeof(seeds) / sizeof(seeds[0]); s++) {
        size_t n = strlen(seeds[s]);

        /* The seed, then 256 KiB that repeat it, mixed with quotes, separators and bytes. */
        for (size_t i = 0; i < size; i++) {
            static const char filler[] = ", 2 \"' :\x01\xff\n\tab=c";

            if (i < n)
                big[i] = seeds[s][i];
            else if (i % 97 < n)
                big[i] = seeds[s][i % 97];
            else
                big[i] = filler[i % (sizeof(filler) - 1)];
        }
        big[size] = '\0';
        for (size_t r = 0; r < sizeof(reasons) / sizeof(reasons[0]); r++) {
            cJSON *ev = cJSON_CreateObject(), *obj = cJSON_AddObjectToObject(ev, "involvedObject");

            cJSON_AddStringToObject(ev, "type", "Warning");
            cJSON_AddStringToObject(ev, "reason", reasons[r]);
            cJSON_AddStringToObject(ev, "message", big);
            cJSON_AddStringToObject(obj, "kind", big);
            cJSON_AddStringToObject(obj, "namespace", big);
            cJSON_AddStringToObject(obj, "name", big);
            cJSON_AddStringToObject(obj, "fieldPath", big);
            (void)event(ev, &d);
            assert_true(strlen(d.message) < sizeof(d.message));
            cJSON_Delete(ev);
        }
        {
            cJSON *st = cJSON_CreateObject();

            cJSON_AddStringToObject(st, "message", big);
            cJSON_AddNumberToObject(st, "code", 403);
            assert_int_equal(refusal(st, big, big, big, big, &d), 1);
            cJSON_Delete(st);
        }
    }
    free(big);
}

/* Many Warnings in one list (the grouping sorts them: O(n log n)). */
static void many_warnings(void **state)
{
    cJSON *list = cJSON_CreateArray(), *a;
    char name[32], last[32];

    (void)state;
    for (int i = 0; i < 20000; i++) {
        (void)snprintf(name, sizeof(name), "web-%d", i % 2000);
        (void)snprintf(last, sizeof(last), "2024-05-01T%02d:%02d:%02dZ", i / 3600 % 24, i / 60 % 60,
                       i % 60);
        cJSON_AddItemToArray(list,
                             warning(i % 2 ? "BackOff" : "Failed", "Pod", name, 2, last, "m"));
    }
    a = recent(list, 20);
    assert_int_equal(cJSON_GetArraySize(a), 20);
    /* web-1999 is last seen at i = 19999 (05:33:19), a BackOff each of its 10 times, 2 each. */
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(a->child, "object")->valuestring,
                        "Pod/web-1999");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(a->child, "reason")->valuestring,
                        "BackOff");
    assert_true(cJSON_GetObjectItemCaseSensitive(a->child, "count")->valuedouble == 20);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(a->child, "lastSeen")->valuestring,
                        "2024-05-01T05:33:19Z");
    cJSON_Delete(a);
    cJSON_Delete(list);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(real_inputs_are_classified),
        cmocka_unit_test(every_fixture_has_a_case),
        cmocka_unit_test(both_event_apis_agree),
        cmocka_unit_test(non_events_are_refused),
        cmocka_unit_test(only_warnings_count),
        cmocka_unit_test(event_variants),
        cmocka_unit_test(refusal_arguments),
        cmocka_unit_test(objects_without_kind_or_name_are_refused),
        cmocka_unit_test(only_built_in_kinds),
        cmocka_unit_test(recent_warnings_of_a_namespace),
        cmocka_unit_test(recent_warnings_of_odd_lists),
        cmocka_unit_test(recent_warnings_are_bounded),
        cmocka_unit_test(recent_warning_times),
        cmocka_unit_test(wrong_types_never_crash),
        cmocka_unit_test(huge_and_binary_text),
        cmocka_unit_test(many_warnings),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
