/*
 * health.h: is one Kubernetes object healthy yet? kstatus-style evaluation for the wait of the
 * Kubernetes stage, and for `phase4-operator health` (controller/cmd/health.c), which evaluates
 * objects read from a file with this same code.
 *
 * p4_health_eval() reads one object as the API server returns it and says whether it is CURRENT
 * (rolled out, ready, done), IN_PROGRESS (waiting should get there), FAILED (it went wrong; when
 * `permanent`, waiting cannot fix it and the stage fails fast) or UNKNOWN (nothing to go on: no
 * status yet, or a status of the wrong shape). It follows kstatus
 * (sigs.k8s.io/cli-utils/pkg/kstatus/status); "(not kstatus)" marks where it differs, and
 * docs/health.md says why, rule by rule.
 *
 * Rules, in order, the first that applies decides:
 * - Every kind: metadata.deletionTimestamp set: IN_PROGRESS "Terminating" (kstatus has a status
 *   of its own for it). metadata.generation > status.observedGeneration: IN_PROGRESS
 *   "ObservedGenerationBehind". A condition Reconciling=True: IN_PROGRESS; Stalled=True: FAILED.
 * - Deployment, StatefulSet, DaemonSet, ReplicaSet: healthworkload.h.
 * - Job: Failed=True or FailureTarget=True: FAILED permanent with the condition's reason
 *   ("BackoffLimitExceeded", "DeadlineExceeded", else "JobFailed"). Complete=True or
 *   SuccessCriteriaMet=True: CURRENT "Complete". Suspended=True: CURRENT "Suspended". Otherwise
 *   IN_PROGRESS "JobRunning" (kstatus says Current once started).
 * - Pod: healthpod.h.
 * - PersistentVolumeClaim: Bound: CURRENT. Pending: IN_PROGRESS. Lost: FAILED permanent
 *   "ClaimLost" (kstatus says InProgress).
 * - Service: type LoadBalancer without an ip or hostname in status.loadBalancer.ingress:
 *   IN_PROGRESS "LoadBalancerPending" (kstatus reads spec.clusterIP). Any other: CURRENT.
 * - CustomResourceDefinition: NamesAccepted=False, or Established=False not Installing: FAILED.
 *   Established=True: CURRENT. Otherwise IN_PROGRESS "Installing".
 * - Namespace: phase Terminating: IN_PROGRESS. Otherwise CURRENT.
 * - Kinds with nothing to wait for (ConfigMap, Secret, ServiceAccount, Role, RoleBinding,
 *   ClusterRole, ClusterRoleBinding, NetworkPolicy, CronJob, PodDisruptionBudget, LimitRange,
 *   ResourceQuota): CURRENT.
 * - Any other kind (custom resources): a Ready condition whose observedGeneration is behind
 *   metadata.generation: IN_PROGRESS "ObservedGenerationBehind". Ready=True: CURRENT.
 *   Ready=False: IN_PROGRESS with its reason (operators write it while they work: cert-manager's
 *   Certificate being issued, a Flux object waiting on a dependency), but FAILED (not permanent:
 *   the operator may retry) when its reason says it failed: one of its words is Fail, Failed,
 *   Failure, Err, Error, Invalid or Denied, ignoring case ("ReconciliationFailed",
 *   "InstallFailed", "SecretSyncedError", "ErrInitIssuer", "InvalidSpec", "Denied"; not
 *   "Issuing", "DependencyNotReady", "Unavailable"). Words are cut as CamelCase reads (a
 *   capital after a small letter begins one, so does the last capital of a run followed by a
 *   small letter: "ACMEError" is ACME and Error) and at anything but a letter ('_', digits). A
 *   reason that says it failed in other words is IN_PROGRESS; Stalled=True, above, is the way
 *   for a custom resource to say it for sure. Ready of another status: IN_PROGRESS. No Ready:
 *   CURRENT. (kstatus reads only Reconciling and Stalled, so a custom resource with Ready=False
 *   is Current to it: not kstatus.)
 *
 * A built-in kind matches only when apiVersion names its group ("apps/v1", "batch/v1", "v1") or
 * there is no apiVersion; a custom resource called "Deployment" in another group is a custom
 * resource. The kinds with a status (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, Pod,
 * PersistentVolumeClaim) are UNKNOWN "NoStatus" while it is absent, null or {}.
 *
 * The object is untrusted. A member the decision needs that has the wrong type (a count that is
 * not a non-negative int32, conditions that are not an array, a phase that is not a string)
 * makes the result UNKNOWN "MalformedObject", naming the member; condition and container
 * entries of the wrong shape are skipped.
 *
 * Reasons of our own, by status:
 *   CURRENT: Ready, Bound, Complete, Succeeded, Suspended.
 *   IN_PROGRESS: RolloutInProgress, RolloutPaused, NotAvailable, ObservedGenerationBehind,
 *     JobRunning, Pending, PodNotReady, LoadBalancerPending, Installing, Terminating.
 *   FAILED: ProgressDeadlineExceeded, ReplicaFailure, CrashLoopBackOff, ImagePullBackOff,
 *     ErrImagePull, ErrImageNeverPull, InvalidImageName, CreateContainerConfigError,
 *     CreateContainerError, RunContainerError, Unschedulable, PodFailed, ClaimLost.
 *   UNKNOWN: NoStatus, MalformedObject, PodUnknown, InvalidObject.
 * A condition's own reason is passed on, when it is valid (a letter, then letters, digits, '_',
 * ',' or ':', at most 63 bytes), for a Job's Failed (else JobFailed), Stalled (else Stalled),
 * Reconciling (else Reconciling), a custom resource's Ready=False (else NotReady) or other Ready
 * status (else ReadyUnknown), and a CRD's NamesAccepted=False (else NamesNotAccepted) or
 * Established=False (else NotEstablished). message is one sentence naming the kind and the object
 * ("Deployment web: 1 of 3 replicas updated, 0 available"); text taken from the object is cut
 * to fit ("..." marks a cut) and holds only printable ASCII (p4_text_clean: tabs and line
 * breaks become spaces, other bytes '?'). The walk is iterative, reads members through typed
 * getters (healtheval.h) and allocates nothing.
 *
 * The rules of every kind, Job, PersistentVolumeClaim, Service, CustomResourceDefinition,
 * Namespace, the kinds with nothing to wait for and custom resources are in
 * controller/stages/kubernetes/health.c; those of the workloads (healthworkload.h) and of Pods
 * (healthpod.h) have modules of their own there, each calling healtheval.h's getters.
 *
 * Ownership: obj is borrowed for the call only; the result is a plain value owning nothing.
 */
#ifndef PHASE4_HEALTH_H
#define PHASE4_HEALTH_H

#include <cjson/cJSON.h>
#include <stdbool.h>

#include "phase4/core/error.h"

#define P4_HEALTH_REASON_MAX 64
#define P4_HEALTH_MESSAGE_MAX 512
/* A container in CrashLoopBackOff with at least this many restarts will not heal by waiting. */
#define P4_HEALTH_CRASHLOOP_RESTARTS 3

enum p4_health_status {
    P4_HEALTH_CURRENT,     /* healthy; also a kind with nothing to check */
    P4_HEALTH_IN_PROGRESS, /* not yet, and waiting should get there */
    P4_HEALTH_FAILED,      /* went wrong; see permanent */
    P4_HEALTH_UNKNOWN      /* cannot tell: no status yet, or a status of the wrong shape */
};

struct p4_health {
    enum p4_health_status status;
    char reason[P4_HEALTH_REASON_MAX];   /* CamelCase, never empty: "Ready", "RolloutInProgress" */
    char message[P4_HEALTH_MESSAGE_MAX]; /* one sentence naming the object, never empty */
    bool permanent;                      /* FAILED and waiting cannot fix it: fail fast */
};

/* "Current", "InProgress", "Failed" or "Unknown" (static); "Unknown" for a value out of range. */
const char *p4_health_status_name(enum p4_health_status s);

/*
 * The health of obj (borrowed) into *out. Returns 0, or P4_ERR_INVAL for a NULL out, an obj that
 * is not an object, or one without a non-empty string kind and metadata.name; *out (when not
 * NULL) is then UNKNOWN "InvalidObject" with a message saying what is missing.
 */
int p4_health_eval(const cJSON *obj, struct p4_health *out);

#endif
