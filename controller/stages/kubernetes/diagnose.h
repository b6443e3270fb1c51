/*
 * diagnose.h: why a rollout failed, and who must act, from what the cluster already says.
 *
 * Rollout failure analysis (docs/architecture.md#failures). It reads the objects' own status,
 * the namespace's Events and the API server's refusals of an apply, recognizes the failures a
 * person or a new artifact must fix, and says so in one or two sentences naming the object, what
 * happened (in the cluster's own words: the image and the registry's message, the container and
 * its exit code, the scheduler's reasons, the quota and the resource, the verb and resource
 * refused and to whom, the webhook or policy and its message) and what to do. Every diagnosis
 * carries a class (stage.h):
 *   P4_FAIL_ARTIFACT: a new image or chart is needed (an image that does not exist, a container
 *     that crashes, a nodeSelector no node matches, a rollout past its progress deadline).
 *   P4_FAIL_CLUSTER: a person must act on the cluster (RBAC, quota, pods unschedulable for lack
 *     of capacity or for taints, node pressure, admission policy, registry credentials).
 *   P4_FAIL_TRANSIENT: waiting may heal it (a registry or webhook that did not answer).
 *
 * Reasons (CamelCase, stable):
 *   ImagePullBackOff, InvalidImageName, ErrImageNeverPull, CrashLoopBackOff, Unschedulable,
 *   QuotaExceeded, QuotaRequiresResources, Forbidden, AdmissionDenied, AdmissionWebhookUnavailable,
 *   NamespaceTerminating, ProgressDeadlineExceeded, NodePressure.
 *
 * Recognized input, matched on the formats Kubernetes writes (kubelet, kube-scheduler, the
 * ReplicaSet, Job, StatefulSet and DaemonSet controllers, the quota, RBAC, PodSecurity, webhook
 * and ValidatingAdmissionPolicy admission):
 * - Events (core/v1 and events.k8s.io/v1): Failed 'Failed to pull image "i": ...' or
 *   "Error: ErrImagePull|ImagePullBackOff|InvalidImageName|ErrImageNeverPull"; InspectFailed
 *   'Failed to apply default image tag ...'; ErrImageNeverPull; BackOff "Back-off restarting
 *   failed container c in pod ..."; FailedScheduling "0/3 nodes are available: ..."; FailedCreate
 *   or ReplicaSetCreateError with a quota, webhook, policy, PodSecurity or RBAC refusal;
 *   ProgressDeadlineExceeded; Evicted "The node was low on resource: ..."; EvictionThresholdMet;
 *   NodeHasDiskPressure, NodeHasInsufficientMemory, NodeHasInsufficientPID. Only Warning Events
 *   count, except the node conditions, which the kubelet reports as Normal.
 * - Refusals: the Status body of a failed request: quota ("exceeded quota: q, requested: ...",
 *   "failed quota: q: must specify ..."), admission ('admission webhook "w" denied the request:
 *   ...', "ValidatingAdmissionPolicy 'p' with binding 'b' denied request: ...", 'violates
 *   PodSecurity "restricted:latest": ...', OpenShift SCC and PodSecurityPolicy), a webhook that
 *   could not be called ('failed calling webhook "w": ...'), RBAC ('User "u" cannot patch
 *   resource "deployments" in API group "apps" in the namespace "shop"'), a namespace being
 *   deleted, and any other Forbidden (403).
 * - Objects: a Pod's containers waiting in ImagePullBackOff, ErrImagePull, InvalidImageName,
 *   ErrImageNeverPull or CrashLoopBackOff (with lastState.terminated's exit code, reason and
 *   message, which holds the last log lines under terminationMessagePolicy
 *   FallbackToLogsOnError), PodScheduled=False Unschedulable, an eviction for node pressure; a
 *   Deployment's or ReplicaSet's ReplicaFailure=True refusal; a Deployment's Progressing reason
 *   ProgressDeadlineExceeded.
 *
 * All input is untrusted: text taken from it is cut to fit ("..." marks a cut), runs of blanks
 * become one space and other bytes outside printable ASCII '?'; members of the wrong type read as
 * absent. Matching is linear in the input; nothing recurses; only p4_diagnose_recent_warnings()
 * allocates.
 *
 * Ownership: every cJSON argument and string is borrowed for the call only; a struct
 * p4_diagnosis is a plain value owning nothing; p4_diagnose_recent_warnings() returns a tree the
 * caller frees.
 */
#ifndef PHASE4_DIAGNOSE_H
#define PHASE4_DIAGNOSE_H

#include <cjson/cJSON.h>

#include "phase4/core/error.h"
#include "phase4/reconciler/stage.h"

#define P4_DIAGNOSE_REASON_MAX 64
#define P4_DIAGNOSE_MESSAGE_MAX 768
/* status.health.recentEvents holds at most this many entries (the CRD's maxItems). */
#define P4_DIAGNOSE_RECENT_MAX 20
/* An entry's message is cut to this many bytes. */
#define P4_DIAGNOSE_RECENT_MESSAGE_MAX 256

struct p4_diagnosis {
    char reason[P4_DIAGNOSE_REASON_MAX];   /* one of the reasons above; "" when none */
    char message[P4_DIAGNOSE_MESSAGE_MAX]; /* names the object, what happened and what to do */
    enum p4_failure_class cls;             /* ARTIFACT, CLUSTER or TRANSIENT; NONE when none */
};

/*
 * Diagnose one Event (core/v1: reason, message, involvedObject, type, count, lastTimestamp;
 * events.k8s.io/v1: reason, note, regarding, type, series.count, eventTime). Returns 1 with *out
 * filled when it shows one of the failures above, 0 when it does not (a Normal Event, another
 * Warning), or P4_ERR_INVAL when out is NULL or event is not an Event (not an object, no string
 * reason, no involvedObject or regarding object, or a kind other than "Event"). *out (when not
 * NULL) is cleared to an empty reason and message and P4_FAIL_NONE unless 1 is returned.
 */
int p4_diagnose_event(const cJSON *event, struct p4_diagnosis *out);

/*
 * Diagnose the API server's refusal of a request about one object: status is the Status body it
 * sent (message, reason, code, details.causes[].message); kind, namespace_ and name name the
 * object (any may be NULL: details.kind and details.name stand in); identity is who the operator
 * is to the API server ("system:serviceaccount:phase4-system:phase4-operator"; may be NULL).
 * Returns 1 with *out filled, 0 when the refusal is none of the failures above (such as a 409 or
 * a 422 of an invalid manifest), or P4_ERR_INVAL when out is NULL or status is not an object.
 * *out is cleared as by p4_diagnose_event().
 */
int p4_diagnose_refusal(const cJSON *status, const char *kind, const char *namespace_,
                        const char *name, const char *identity, struct p4_diagnosis *out);

/*
 * Diagnose one object (a Pod, Deployment or ReplicaSet as the API server returns it) from its
 * own status. Returns 1 with *out filled, 0 when its status shows none of the failures above (or
 * its kind has none), or P4_ERR_INVAL when out is NULL or obj is not an object with a string kind
 * and metadata.name. *out is cleared as by p4_diagnose_event().
 */
int p4_diagnose_object(const cJSON *obj, struct p4_diagnosis *out);

/*
 * The recent Warning Events of a namespace, for status.health.recentEvents. event_list is an
 * EventList (core/v1 or events.k8s.io/v1; its items) or a bare array of Events. Events of type
 * Warning are grouped by (reason, object kind, object name), summing their counts (count,
 * series.count or deprecatedCount; 1 when absent; at most INT32_MAX) and keeping the message
 * and time of the latest (series.lastObservedTime, lastTimestamp, deprecatedLastTimestamp,
 * eventTime or metadata.creationTimestamp, whichever is latest; among equal times, the later in
 * the list). Groups come newest first (those without a time last), at most max of them (max is
 * taken as at most P4_DIAGNOSE_RECENT_MAX; 0 or less gives an empty array). Returns a new array
 * (caller frees) of {reason, object ("Pod/web-1"), count, message (at most
 * P4_DIAGNOSE_RECENT_MESSAGE_MAX bytes), lastSeen ("2024-05-01T10:00:00Z", in UTC; absent when
 * no time parsed)}, or NULL when event_list is neither an object whose items are an array
 * (absent or null items read as none) nor an array. Entries that are not objects are skipped.
 * Runs in O(n log n) for n Events.
 */
cJSON *p4_diagnose_recent_warnings(const cJSON *event_list, int max);

/* The static text of one of the reasons above (for a condition's reason), or NULL. */
const char *p4_diagnose_static_reason(const char *reason);

#endif
