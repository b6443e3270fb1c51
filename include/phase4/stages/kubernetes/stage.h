/*
 * stages/kubernetes/stage.h: stage 3, Kubernetes: the manifest the Helm stage rendered and
 * dry-ran is applied, and the workloads it holds come up.
 *
 * Gates, in status.gates order:
 *   ManifestsValid    every object has apiVersion, kind and name, its kind is
 *                     served (or defined by a CRD in the manifest), and it is
 *                     in spec.target.namespace (cluster-scoped objects only
 *                     with spec.target.allowClusterScoped).
 *   ResourcesCreated  every object server-side applied in dependency order,
 *                     marked as ours, what the last revision applied and this
 *                     one does not pruned (applyset.h).
 *   PodsRunning       every Deployment, StatefulSet, DaemonSet, Job, Pod and
 *                     PersistentVolumeClaim applied is healthy (health.h).
 *   ServicesReady     every Service applied (but ExternalName and those
 *                     without a selector) has a ready endpoint in its
 *                     EndpointSlices.
 *
 * The stage starts once HelmReady=True is written for the generation, and
 * reads the manifest from the Secret status.chart.manifest names
 * (phase4/reconciler/manifest.h). The applied set is status.inventory: on a failure, what the
 * last revision applied stays in it with what this one applied so far, so a
 * later prune still finds it. The wait is driven by watches: Deployments,
 * StatefulSets, DaemonSets, Services and PersistentVolumeClaims the operator
 * applied (label-selected, cluster-wide; Jobs come from the caller's Job
 * informer) and their EndpointSlices, and, cluster-wide, the pods and Warning
 * Events of the namespaces some resource targets (the others' are dropped
 * unparsed; a namespace newly targeted is listed once). A change enqueues the
 * owning resource (its phase4.io/owner annotation; see below for the
 * namespace's objects), and its next poll evaluates again; no attempt is held while it
 * waits. A failure that waiting cannot heal ends the wait at once (diagnose.h
 * names it and says who must act); otherwise spec.rollout.timeout ends it
 * (RolloutTimedOut). A pod is unschedulable for good only after
 * unschedulable_grace_ms (the scheduler may still find room, or a preemption
 * may free it).
 *
 * status.health is refreshed on every poll: the target namespace, Deployments
 * ready/total and Services active/total (of those applied), the pods its
 * workloads select running/total (counted as pods come and go, and again when
 * the selectors change) and the namespace's recent Warning Events (but those
 * about Phase4Deployments). A pod's change enqueues only the resources whose
 * workloads select it; an EndpointSlice's, those that applied its Service.
 *
 * Drift: an object applied for this generation whose metadata.generation
 * moves past what the apply left (changed by hand), or that is deleted, makes
 * the stage apply the manifest again; fields someone took over by an update
 * (kubectl edit, patch, scale) are taken back (forced), and a Warning Event
 * DriftCorrected on the resource says what was put back. A field another
 * applier owns is still an ApplyConflict unless spec.rollout.force.
 */
#ifndef PHASE4_KUBESTAGE_H
#define PHASE4_KUBESTAGE_H

#include <stdint.h>
#include <uv.h>

#include "phase4/kube/client.h"
#include "phase4/kube/discovery.h"
#include "phase4/reconciler/manifest.h"
#include "phase4/reconciler/stage.h"
#include "phase4/reconciler/tenancy.h"
#include "phase4/runtime/events.h"
#include "phase4/runtime/informer.h"

#define P4_KUBE_STAGE_MANIFEST_MAX (32u << 20) /* a stored manifest larger than this is refused */
#define P4_KUBE_STAGE_RECENT_EVENTS 10         /* status.health.recentEvents entries */

struct p4_kube_stage;

struct p4_kube_stage_config {
    struct p4_kube *kube; /* borrowed */
    /* Who acts for each resource (borrowed; NULL: spec.serviceAccountName only). */
    const struct p4_tenancy *tenancy;
    struct p4_discovery *discovery; /* borrowed */
    struct p4_informer *jobs;  /* borrowed: batch/v1 Jobs labelled managed-by=phase4-operator */
    struct p4_events *events;  /* borrowed: DriftCorrected Events; NULL: none */
    uint64_t retry_ms;         /* first retry after an artifact failure, doubling; 0: 30 s */
    uint64_t recheck_ms;       /* re-check after a cluster-level failure; 0: 5 min */
    uint64_t transient_max_ms; /* cap of the backoff for transient errors; 0: 60 s */
    uint64_t unschedulable_grace_ms; /* 0: 30 s */
    int max_active;                  /* resources applying at once; 0: 16 */
    void (*changed)(const char *key, void *data);
    /* Optional: an object applied for key, a resource with no run (trusted after a restart,
       reconcile.h), was deleted or its spec changed; called before changed. */
    void (*drifted)(const char *key, void *data);
    void *data;
    /* The manifests the Helm stage of this process stored (borrowed; NULL: always read). */
    struct p4_manifest_memo *memo;
};

/* cfg is copied. The watches start with the first resource that reaches the stage, or is
   trusted (its trusted op). */
struct p4_kube_stage *p4_kube_stage_new(uv_loop_t *loop, const struct p4_kube_stage_config *cfg);
/* Stop every run and watch; NULL is fine. */
void p4_kube_stage_free(struct p4_kube_stage *k);
/* Namespaces whose pods and Warning Events the caches keep now. */
size_t p4_kube_stage_namespaces(const struct p4_kube_stage *k);
/*
 * The stage's cache of kind ("Deployment", "StatefulSet", "DaemonSet", "Job" or "Pod") when it
 * is synced and holds every such object in namespace ns the operator applied (for "Pod": every
 * pod of ns, a target namespace listed), else NULL. Borrowed: use it within the callback. For
 * the Validation stage (wired by the caller: a stage includes no other stage).
 */
struct p4_informer *p4_kube_stage_cache(struct p4_kube_stage *k, const char *kind, const char *ns);

/* The stage.h operations; ctx is the struct p4_kube_stage. start() needs status.chart.manifest. */
extern const struct p4_stage_ops p4_kube_stage_ops;

#endif
