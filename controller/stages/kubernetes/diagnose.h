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
 * One module per place a diagnosis comes from, each saying what it recognizes, matched on the
 * formats Kubernetes writes (kubelet, kube-scheduler, the ReplicaSet, Job, StatefulSet and
 * DaemonSet controllers, the quota, RBAC, PodSecurity, webhook and ValidatingAdmissionPolicy
 * admission):
 *   diagevent.h     one Event (p4_diagnose_event).
 *   diagobject.h    one object's own status: a Pod, Deployment or ReplicaSet (p4_diagnose_object).
 *   diagrefusal.h   the API server's refusal of a request (p4_diagnose_refusal), and a refusal's
 *                   text wherever it is quoted (a FailedCreate Event, a ReplicaFailure condition).
 *   diagwarnings.h  the namespace's recent Warning Events, for status.health.recentEvents
 *                   (p4_diagnose_recent_warnings).
 * What more than one of them reports is recognized once: an image that cannot be pulled
 * (diagimage.h), a pod that cannot be scheduled (diagsched.h), node pressure (here).
 *
 * This module is the diagnosis itself: the value, how one is written (p4_diagnose_found), how it
 * names its object, and the reasons' static text.
 *
 * All input is untrusted: text taken from it is cut to fit ("..." marks a cut), runs of blanks
 * become one space and other bytes outside printable ASCII '?' (objtext.h); members of the wrong
 * type read as absent. Matching is linear in the input; nothing recurses; only
 * p4_diagnose_recent_warnings() allocates.
 *
 * Ownership: every cJSON argument and string is borrowed for the call only; a struct
 * p4_diagnosis is a plain value owning nothing.
 */
#ifndef PHASE4_DIAGNOSE_H
#define PHASE4_DIAGNOSE_H

#include <stddef.h>

#include "phase4/core/error.h"
#include "phase4/reconciler/stage.h"

#define P4_DIAGNOSE_REASON_MAX 64
#define P4_DIAGNOSE_MESSAGE_MAX 768

/* Room for what a message quotes, in bytes with the NUL (a cut is marked "..."). */
#define P4_DIAGNOSE_KIND_SHOWN 48   /* a kind */
#define P4_DIAGNOSE_NS_SHOWN 64     /* a namespace */
#define P4_DIAGNOSE_NAME_SHOWN 128  /* an object's, container's, quota's or webhook's name */
#define P4_DIAGNOSE_WHO_SIZE 256    /* "ReplicaSet shop/web-6d4cf56db6" */
#define P4_DIAGNOSE_LEAD_SIZE 320   /* "ReplicaSet shop/web-6d4cf56db6 cannot create its pods" */
#define P4_DIAGNOSE_WORDS_SHOWN 320 /* the cluster's own words: the scheduler's, a policy's */
#define P4_DIAGNOSE_LIST_SHOWN 128  /* "limits.cpu, limits.memory" */

struct p4_diagnosis {
    char reason[P4_DIAGNOSE_REASON_MAX];   /* one of the reasons above; "" when none */
    char message[P4_DIAGNOSE_MESSAGE_MAX]; /* names the object, what happened and what to do */
    enum p4_failure_class cls;             /* ARTIFACT, CLUSTER or TRANSIENT; NONE when none */
};

/* No diagnosis: an empty reason and message, P4_FAIL_NONE. */
void p4_diagnose_clear(struct p4_diagnosis *out);

/*
 * Write a diagnosis: reason (one of the above), cls, and the message printed from fmt, cut to
 * fit ("...") and shown by objtext.h's rule, with the dots mended where quoted text that ends a
 * sentence meets ours (".." becomes ".", a cut marker followed by a full stop stays "...").
 * Returns 1, the "found" of every p4_diagnose_* function.
 */
int p4_diagnose_found(struct p4_diagnosis *out, const char *reason, enum p4_failure_class cls,
                      const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * The object a message is about, shown: "Pod shop/web-1", "Node worker-1", "object shop/web"
 * (any of kind, ns and name may be NULL). Into dst of size bytes; returns dst.
 */
const char *p4_diagnose_who(char *dst, size_t size, const char *kind, const char *ns,
                            const char *name);

/*
 * NodePressure: who_ (p4_diagnose_who) did what ("was evicted") for the kubelet's words (NULL:
 * none). Returns 1.
 */
int p4_diagnose_node_pressure(struct p4_diagnosis *out, const char *who_, const char *what,
                              const char *words);

/* The static text of one of the reasons above (for a condition's reason), or NULL. */
const char *p4_diagnose_static_reason(const char *reason);

#endif
