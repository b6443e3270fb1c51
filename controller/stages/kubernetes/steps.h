/*
 * steps.h: what the Kubernetes stage's files share (internal to stages/kubernetes/).
 *
 * The stage (phase4/stages/kubernetes/stage.h) is cut by concern:
 *   stage.c      the driving: stage.h's operations, a run's begin/step/end/cancel/destroy,
 *                p4_kube_stage_new/_free.
 *   applystep.c  S_READ (the manifest Secret), S_APPLY (applyset.h) and S_PRUNE: ManifestsValid,
 *                ResourcesCreated, status.inventory.
 *   hooks.c      S_PRE_HOOKS and S_POST_HOOKS: the chart's Helm hooks (HooksCompleted,
 *                status.hooks).
 *   wait.c       the wait once applied: PodsRunning and ServicesReady (fail fast, the
 *                unschedulable grace, the rollout timeout).
 *   crashlog.c   a crash loop's last log lines, read before PodsRunning fails on it.
 *   healthsummary.c  status.health: the counts and the namespace's recent Warning Events.
 *   watches.c    the cluster-wide informers: the kinds the operator applied, their
 *                EndpointSlices, and the target namespaces' pods and Warning Events; the
 *                routing of an event to the resources it concerns.
 *   drift.c      objects changed or deleted by hand: noticed, applied again, reported.
 *   uninstall.c  what was applied, removed (or unmarked) when the resource is deleted.
 *   rollback.c   a rollback run: an older generation's manifest applied by the same steps.
 *
 * Functions here are p4_kstage_*. Those that take neither a run nor the stage are pure: they
 * decide from their arguments alone (borrowed for the call), allocate nothing unless they say
 * so, and are what test/unit/kubestage_test.c checks.
 */
#ifndef PHASE4_KSTAGE_STEPS_H
#define PHASE4_KSTAGE_STEPS_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "diagnose.h"
#include "diagobject.h"
#include "diagwarnings.h"
#include "phase4/core/error.h"
#include "phase4/core/strmap.h"
#include "phase4/kube/selector.h"
#include "phase4/reconciler/stagerun.h"
#include "phase4/runtime/informer.h"
#include "phase4/stages/kubernetes/applyset.h"
#include "phase4/stages/kubernetes/health.h"
#include "phase4/stages/kubernetes/inventory.h"
#include "phase4/stages/kubernetes/stage.h"

enum gate { G_MANIFESTS, G_CREATED, G_PODS, G_SERVICES, G_HOOKS, G_COUNT };

enum step {
    S_READ,       /* the manifest; its hooks taken out */
    S_PRE_HOOKS,  /* pre-install or pre-upgrade hooks (hooks.c) */
    S_APPLY,      /* the rest, as one set (applyset.h) */
    S_POST_HOOKS, /* post-install or post-upgrade hooks, once the workloads are ready */
    S_PRUNE,      /* then what the last revision had and this one does not */
};

/* The kinds watched cluster-wide (those the operator applied only). */
enum watched { W_DEPLOY, W_STS, W_DS, W_SVC, W_PVC, W_COUNT };

/*
 * A target namespace, while some resource targets it and P4_KSTAGE_NS_LINGER_MS after the last
 * left (a new generation's run takes it over without listing it again). The cluster-wide pods
 * and Warning Events informers keep only the objects of these namespaces.
 */
struct nswatch {
    struct p4_kube_stage *k;
    char *ns;
    struct p4_strmap keys; /* the resources targeting it (values unused) */
    bool events_dirty;     /* the Warning Events changed since recent was made */
    char *recent;          /* status.health.recentEvents (JSON text), or NULL */
    /* Whether the caches hold its pods, its Warning Events (listed once it was targeted). */
    bool pods_ok, events_ok;
    bool pods_filling, events_filling;
    uint64_t idle_since; /* loop time the last resource left it; 0 while one targets it */
};

#define P4_KSTAGE_NS_LINGER_MS ((uint64_t)10 * 60000)

struct p4_kube_stage {
    struct p4_stagerunner sr; /* first: a run's sr is its stage */
    struct p4_kube_stage_config cfg;
    struct p4_informer *inf[W_COUNT];
    /* Cluster-wide: pods and Warning Events of the target namespaces (keep_ns), and the
       EndpointSlices of the Services the operator applied (their labels are the Services'). */
    struct p4_informer *pods, *slices, *events;
    bool watching;
    struct p4_strmap ns;         /* namespace → struct nswatch (targeted or lingering) */
    struct p4_strmap uninstalls; /* key → its uninstall (uninstall.c), while being deleted */
};

/* An attempt's scratch state. */
struct work {
    cJSON *objects;            /* the manifest's objects, until the apply copied them */
    struct p4_applyset *apply; /* while it runs */
    bool no_prune;             /* the apply left the last revision's leftovers */
    /* The write-ahead record: what the apply is about to apply, put in status.inventory (with
       what the last revision had) before anything is applied; apply waits until the resource's
       status, as the informer last saw it, lists every entry (poll), at most
       P4_KSTAGE_RECORD_MS. */
    struct p4_inventory planned;
    bool recording;
    /* The hooks of the phase this attempt runs (hooks.c). */
    cJSON *hooks;
    int hook_i, hooks_done;
    bool hook_post, hook_namespaced;
    unsigned hook_policy;   /* P4_HOOK_DELETE_* of the current hook */
    uint64_t hook_deadline; /* loop time */
    char hook_path[1024];   /* the current hook's object */
    char hook_why[400];     /* why it failed, while its hook-failed deletion runs */
};

struct run {
    struct p4_stagerun base; /* first: answers get the run as their data */
    struct p4_kube_stage *k; /* also after the run is dropped (cancel) */
    char *secret;
    int64_t rollback_to; /* 0, or a rollback run applying this generation's manifest */
    bool create_namespace, allow_cluster, force;
    bool adopt;    /* spec.adopt: take over what an earlier resource of this name left */
    char *created; /* the resource's metadata.creationTimestamp, or NULL */
    uint64_t timeout_ms;
    struct p4_inventory previous; /* status.inventory when the generation began (the prune
                                     base until this run has applied: then inv is) */
    struct work *w;

    /* After the first apply of this generation. */
    struct p4_inventory inv; /* what it applied */
    int64_t *gens;           /* per inv entry: metadata.generation the apply left */
    char *inventory;         /* status.inventory (JSON text), or NULL before any apply */
    bool applied;            /* applied once: the workloads are evaluated on every poll */
    bool drift;              /* an object was changed or deleted by hand: apply again */
    bool waiting;            /* this attempt applied and waits for the workloads */
    bool wait_failed;        /* the wait failed (PodsRunning, ServicesReady): a poll may heal it */
    uint64_t deadline;       /* loop time by which the workloads must be ready */
    char *health;            /* status.health (JSON text) */
    cJSON *selectors;        /* its workloads' pod selectors, as last seen (or NULL) */
    long pods_total, pods_running; /* its pods, kept by the pod handlers; -1: count again */
    char drift_event[P4_APPLYSET_TAKEN_MAX + 256]; /* a DriftCorrected message to emit */
    char adopt_event[256];                         /* an Adopted message to emit */
    struct nswatch *nsw;

    /* Helm hooks (hooks.c): this generation's event, and the phases done (status.hooks). */
    bool hook_install; /* install (nothing applied before), else upgrade */
    int64_t hooks_gen; /* the generation the flags below are about (0: none yet) */
    bool hooks_pre_done, hooks_post_done;
    bool has_post_hooks;     /* the manifest has post hooks for this event */
    bool hooks_post_pending; /* the workloads are ready: the next attempt runs the post hooks */

    /* What the last revision applied and this one does not is pruned only once this one's
       workloads are ready (status.inventory lists it until then). */
    bool prune_pending; /* applied without pruning: leftovers of r->previous remain */
    bool prune_now;     /* the workloads are ready: the next attempt prunes */
    /* An upgrade, or a run after a restart (status.inventory was not empty): its prune also
       sweeps by label (applyset.h, opts.sweep), once. */
    bool swept;
};

#define P4_KSTAGE_RECORD_MS 60000 /* longest wait for the write-ahead record to be on record */

/* A gate's failure, as a pure function decides it. */
struct p4_kstage_failure {
    enum p4_failure_class cls;
    const char *reason; /* static */
    struct p4_error err;
};

/* ---- stage.c ---- */

/* What start() reads from a resource: the parts of its spec and status this stage needs. */
struct p4_kstage_spec {
    const char *secret; /* status.chart.manifest (borrowed from the object) */
    bool create_namespace, allow_cluster, force, adopt;
    uint64_t timeout_ms; /* spec.rollout.timeout; 10 minutes when absent or unreadable */
};

/*
 * obj's spec for the stage. 0, or P4_ERR_INVAL (err set) without metadata.namespace,
 * metadata.name or a non-empty status.chart.manifest (the target namespace is
 * p4_tenancy_target's).
 */
int p4_kstage_read_spec(const cJSON *obj, struct p4_kstage_spec *out, struct p4_error *err);

/* Is an attempt (read, apply) under way or about to begin? */
bool p4_kstage_attempt_busy(const struct run *r);

/* ---- rollback.c ---- */

/* The generation whose manifest r applies (its objects' generation label): a rollback run's
   older one, else the run's. */
int64_t p4_kstage_revision(const struct run *r);
/* Is key's run a rollback run? */
bool p4_kstage_is_rollback(const struct p4_kube_stage *k, const char *key);
/* stage.h's rollback, result (rollback_to set) and retry (a rollback run is forgotten: the
   resource's generation begins anew) operations. */
int p4_kstage_rollback(void *ctx, const char *key, const cJSON *obj, int64_t to,
                       struct p4_error *err);
int p4_kstage_result(void *ctx, const char *key, struct p4_stage_result *out);
int p4_kstage_retry(void *ctx, const char *key);

/* ---- applystep.c ---- */

void p4_kstage_read_manifest(struct run *r); /* S_READ */
void p4_kstage_apply(struct run *r);         /* S_APPLY */
void p4_kstage_prune(struct run *r);         /* S_PRUNE */
/* poll(): the write-ahead record waited for is in obj's status.inventory: apply. */
void p4_kstage_record_poll(struct run *r, const cJSON *obj);

/*
 * Whether every entry of planned is in recorded (status.inventory as read: may be NULL or not a
 * list, then false unless planned is empty). Pure.
 */
bool p4_kstage_recorded(const struct p4_inventory *planned, const cJSON *recorded);

/*
 * Reading manifest Secret ns/secret failed with rc (not 0; api_err the API's error): *f gets
 * ManifestNotFound (cluster: a new generation or the Helm stage's next run renders it again)
 * for P4_ERR_NOTFOUND, else Forbidden or APIUnavailable with the class of the read error and
 * api_err.
 */
void p4_kstage_read_failure(int rc, const struct p4_error *api_err, const char *ns,
                            const char *secret, struct p4_kstage_failure *f);

/*
 * The objects of manifest Secret secret (namespace ns, name name, for the message): a new
 * array (caller frees), or NULL with *f: ManifestUnreadable (cluster) when the Secret holds no
 * readable manifest (up to P4_KUBE_STAGE_MANIFEST_MAX), ManifestInvalid (artifact) when the
 * manifest does not split into objects.
 */
cJSON *p4_kstage_manifest_objects(const cJSON *secret, const char *ns, const char *name,
                                  struct p4_kstage_failure *f);
/* The same from the manifest's text (len bytes; the Helm stage's copy in memory). */
cJSON *p4_kstage_manifest_text_objects(const char *manifest, size_t len, const char *ns,
                                       const char *name, struct p4_kstage_failure *f);

/*
 * A failed apply (res->rc != 0): false when there is nothing to record (canceled), else true
 * with the gate (ResourcesCreated once the manifest was validated, else ManifestsValid), the
 * class (transient when applyset gave none) and the reason (ApplyFailed when it gave none).
 */
bool p4_kstage_apply_failure(const struct p4_applyset_result *res, int *gate,
                             enum p4_failure_class *cls, const char **reason);

/* ---- hooks.c ---- */

/* Which set an object of the manifest belongs to, for an install or an upgrade. */
enum p4_kstage_hook {
    P4_HOOK_NONE, /* not a hook: applied with the rest */
    P4_HOOK_PRE,  /* pre-install (install) or pre-upgrade (upgrade) */
    P4_HOOK_POST, /* post-install or post-upgrade */
    P4_HOOK_SKIP, /* a hook of another event (test, delete, rollback, the other one): left out */
};
enum p4_kstage_hook p4_kstage_hook_of(const cJSON *obj, bool install);

#define P4_HOOK_DELETE_BEFORE 0x1u    /* before-hook-creation (Helm's default) */
#define P4_HOOK_DELETE_SUCCEEDED 0x2u /* hook-succeeded */
#define P4_HOOK_DELETE_FAILED 0x4u    /* hook-failed */
/* obj's helm.sh/hook-delete-policy as P4_HOOK_DELETE_* bits. */
unsigned p4_kstage_hook_policy(const cJSON *obj);

/*
 * Take the hooks out of objects: *pre and *post (new arrays, caller deletes) get the event's
 * pre and post hooks in Helm's order (helm.sh/hook-weight, then name, then kind); hooks of
 * other events are dropped and counted in *skipped.
 */
void p4_kstage_split_hooks(cJSON *objects, bool install, cJSON **pre, cJSON **post, int *skipped);

enum p4_kstage_hook_state { P4_HOOK_RUNNING, P4_HOOK_DONE, P4_HOOK_FAILED };
/*
 * A hook's object as read (rc, obj): a Job Complete, a Pod Succeeded, any other kind, or gone
 * (P4_ERR_NOTFOUND: removed by its TTL or a delete policy) is done; a Job Failed or a Pod
 * Failed failed, with why (size bytes) saying how.
 */
enum p4_kstage_hook_state p4_kstage_hook_state(int rc, const cJSON *obj, char *why, size_t size);
/* "pre-install", "pre-upgrade", "post-install" or "post-upgrade". */
const char *p4_kstage_hook_phase_name(bool post, bool install);
/* Steps S_PRE_HOOKS (post false) and S_POST_HOOKS: r->w->hooks, one after the other. */
void p4_kstage_run_hooks(struct run *r, bool post);

/* ---- wait.c ---- */

/* Evaluate what r applied (once applied, not while an attempt runs); timer: a timer's poll. */
void p4_kstage_evaluate(struct run *r, bool timer);

/* A gate's reason as static text: a diagnosis' or a health failure's, else "WorkloadFailed". */
const char *p4_kstage_static_reason(const char *reason);

/* Seconds pod has been unschedulable (PodScheduled=False) at now: 0 when unknown, -1 if not. */
long p4_kstage_unschedulable_for(const cJSON *pod, time_t now);

/* What one pod a workload selects says about the wait. */
enum p4_kstage_pod_verdict {
    P4_KSTAGE_POD_SKIP,  /* not selected, terminating, unreadable, or ready */
    P4_KSTAGE_POD_GRACE, /* unschedulable within the grace: wait, look again after *left_ms */
    P4_KSTAGE_POD_FAIL,  /* failed for good: the wait fails on it */
    P4_KSTAGE_POD_WAIT   /* not ready yet */
};
/*
 * true when pod, selected by workload (of kind), belongs to an earlier revision of it than the
 * one applied: the workload's controller has not observed its generation yet (every pod is then
 * an earlier one's), a Deployment's pod owned by another ReplicaSet than the new one its
 * Progressing condition names, or a StatefulSet's pod whose controller-revision-hash is not
 * status.updateRevision. Such a pod is being replaced by the rollout, so its failure is no reason
 * to fail the wait (docs/health.md).
 */
bool p4_kstage_pod_is_old(const char *kind, const cJSON *workload, const cJSON *pod);

/* pod's verdict under selector; *h gets its health (unless SKIP for selection or deletion). */
enum p4_kstage_pod_verdict p4_kstage_pod_verdict(const cJSON *selector, const cJSON *pod,
                                                 time_t now, uint64_t grace_ms, struct p4_health *h,
                                                 uint64_t *left_ms);

/* What one applied workload or pod says about the wait. */
enum p4_kstage_object_verdict {
    P4_KSTAGE_OBJECT_UNREADABLE, /* its health cannot be read: wait (h->message says why) */
    P4_KSTAGE_OBJECT_READY,
    P4_KSTAGE_OBJECT_FAILED, /* permanently failed, or its own status diagnoses a failure */
    P4_KSTAGE_OBJECT_NOT_YET /* wait; its pods may say why, or that it never will be */
};
enum p4_kstage_object_verdict p4_kstage_object_verdict(const cJSON *obj, struct p4_health *h);

/* A failed object's failure: its diagnosis (its own words), else its health's (artifact). */
struct p4_kstage_object_failure {
    char reason[P4_DIAGNOSE_REASON_MAX];
    char message[P4_DIAGNOSE_MESSAGE_MAX];
    enum p4_failure_class cls;
    char pod[256], container[128]; /* a crash-looping Pod and container ("" otherwise) */
};
void p4_kstage_failure_of(const cJSON *obj, const struct p4_health *h,
                          struct p4_kstage_object_failure *out);

/* Does Service svc wait for endpoints (not ExternalName, a non-empty selector)? */
bool p4_kstage_service_needs_endpoints(const cJSON *svc);
/* Is slice one of service's, with a ready endpoint (ready absent counts as ready)? */
bool p4_kstage_slice_ready(const cJSON *slice, const char *service);

/* What one evaluation of the applied objects found. */
struct p4_kstage_tally {
    bool synced;                /* every cache read has listed */
    bool failed;                /* a failure waiting cannot heal */
    enum p4_failure_class cls;  /* its class (P4_FAIL_NONE: artifact) */
    int objects, ready;         /* workloads and pods with a health, and those ready */
    int svc_checked, svc_ready; /* Services waiting for endpoints, and those with one */
    bool svc_waiting;           /* a Service not seen yet or without a ready endpoint */
    uint64_t recheck_ms;        /* 0, or look again after this (an unschedulable grace ends) */
};

enum p4_kstage_wait_action {
    P4_KSTAGE_IDLE,    /* not waiting (passed, or failed before) and not ready: health only */
    P4_KSTAGE_READY,   /* ready, not waiting: both gates True, no new result */
    P4_KSTAGE_PASS,    /* ready after a wait (or healed since it failed): the stage passes */
    P4_KSTAGE_FAIL,    /* failed for good while waiting: gate fails with cls */
    P4_KSTAGE_TIMEOUT, /* spec.rollout.timeout passed: gate fails, RolloutTimedOut */
    P4_KSTAGE_WAIT     /* keep waiting on gate; look again after next_ms at the latest */
};

struct p4_kstage_wait_verdict {
    enum p4_kstage_wait_action action;
    int gate;                  /* FAIL, TIMEOUT, WAIT: G_PODS, or G_SERVICES once pods are ready */
    enum p4_failure_class cls; /* FAIL, TIMEOUT */
    uint64_t next_ms;          /* WAIT */
};

/* The wait's next move; waiting, wait_failed as in struct run, times in loop ms. */
void p4_kstage_wait_decide(const struct p4_kstage_tally *t, bool waiting, bool wait_failed,
                           uint64_t now_ms, uint64_t deadline_ms,
                           struct p4_kstage_wait_verdict *out);

/* RolloutTimedOut's message: the timeout and what was waited for (waiting, else svc_waiting). */
void p4_kstage_timeout_message(uint64_t timeout_ms, const char *waiting, const char *svc_waiting,
                               struct p4_error *err);

/* ---- healthsummary.c ---- */

/* r's workloads' pod selectors (taken) as seen now: when they changed (or a count was lost),
   its pods are counted again. */
void p4_kstage_count_pods(struct run *r, cJSON *selectors);

/* The workload kinds status.health counts, in its order. */
enum p4_kstage_workload { WL_DEPLOYMENTS, WL_STATEFULSETS, WL_DAEMONSETS, WL_JOBS, WL_COUNT };
/* WL_* of kind ("Deployment", ...), or WL_COUNT for another kind. */
enum p4_kstage_workload p4_kstage_workload_of(const char *kind);

/* What status.health counts besides the pods (those are r's). */
struct p4_kstage_counts {
    int ready[WL_COUNT], total[WL_COUNT]; /* workloads applied: ready (Jobs: complete), all */
    int svc_active, svc_total; /* Services applied: with a ready endpoint or none needed, all */
};
/* r's status.health, as JSON text (caller frees); the recent Events from r's namespace watch. */
/* problem: what is not healthy now although the stage passed (status.health.problem, which the
   reconciler reports as Ready=False, Degraded), or NULL. */
char *p4_kstage_health_json(const struct run *r, const struct p4_kstage_counts *c,
                            const char *problem);

/* ---- crashlog.c ---- */

/*
 * The wait failed on a crash loop: ask for the container's last log lines, and fail gate
 * PodsRunning with err (reason set) and cls once they are in, with them in the message.
 * 0 when asked (r counts the answer in flight); otherwise nothing was done.
 */
int p4_kstage_read_crash_log(struct run *r, const struct p4_error *err, enum p4_failure_class cls,
                             const char *pod, const char *container);

/* Append " Last log lines: <tail of log>" to message (size bytes) when there is room. */
void p4_kstage_append_log_tail(char *message, size_t size, const char *log);

/* The path of container's previous log in pod of ns (last 5 lines); 0 or P4_ERR_TOOBIG. */
int p4_kstage_crash_log_path(const char *ns, const char *pod, const char *container, char *buf,
                             size_t size);

/* ---- watches.c ---- */

void p4_kstage_start_watching(struct p4_kube_stage *k);
/*
 * r targets its namespace (from its first call on): the pods and Warning Events caches keep
 * the namespace's objects, listed once it is newly targeted (those cached before are kept).
 */
struct nswatch *p4_kstage_watch_ns(struct run *r);
/* r (under key) leaves its namespace; P4_KSTAGE_NS_LINGER_MS after the last one out its
   objects leave the caches. */
void p4_kstage_unwatch_ns(struct run *r, const char *key);
void p4_kstage_nswatch_free(struct nswatch *w);
/* The pods cache when it holds r's target namespace's pods (listed, and synced), or NULL. */
struct p4_informer *p4_kstage_ns_pods(const struct run *r);
/* Whether the namespace filter of the pods and Warning Events caches keeps namespace ns. */
bool p4_kstage_keep_ns(const char *ns, void *data);

/* Where an applied object's state comes from. */
enum p4_kstage_source {
    P4_KSTAGE_SRC_NONE,    /* no health to wait for */
    P4_KSTAGE_SRC_WATCHED, /* the cluster-wide informer *watched (enum watched; never W_SVC) */
    P4_KSTAGE_SRC_JOBS,    /* the caller's Job informer */
    P4_KSTAGE_SRC_PODS,    /* the pods informer (p4_kstage_ns_pods) */
    P4_KSTAGE_SRC_SERVICE  /* a Service: waits for endpoints, not health */
};
enum p4_kstage_source p4_kstage_source_of(const char *api_version, const char *kind, int *watched);

/* Informer transforms: what the caches keep of a workload (not its pod template) and a pod. */
void p4_kstage_slim_workload(cJSON *obj, void *data);
void p4_kstage_slim_pod(cJSON *obj, void *data);

/* Is event about a Phase4Deployment (left out of status.health)? */
bool p4_kstage_about_us(const cJSON *event);
/* Is pod Running, or done (Succeeded: a Job's pod that completed)? */
bool p4_kstage_pod_up(const cJSON *pod);
/* Does one of selectors (an array of LabelSelectors, or NULL) select pod? */
bool p4_kstage_selects(const cJSON *selectors, const cJSON *pod);
/*
 * A pod went from old to cur (either NULL: added, deleted): whether a resource whose workloads
 * have selectors is concerned, with its counts kept (both -1 when they went negative: count
 * again).
 */
bool p4_kstage_count_pod(const cJSON *selectors, const cJSON *old, const cJSON *cur, long *total,
                         long *running);
/* The Service an EndpointSlice belongs to, or NULL. */
const char *p4_kstage_slice_service(const cJSON *slice);
/* Does inv hold a Service named name? */
bool p4_kstage_applied_service(const struct p4_inventory *inv, const char *name);

/* ---- drift.c ---- */

/*
 * Did obj (of kind, an object seen by a watch; gone: deleted) drift from what the apply left:
 * in inv, and deleted, or its metadata.generation past gens' (per inv entry; 0: unknown)?
 */
bool p4_kstage_drifted(const struct p4_inventory *inv, const int64_t *gens, const char *kind,
                       const cJSON *obj, bool gone);

/*
 * After a successful apply: is a DriftCorrected Event due (again: applied before for this
 * generation, and something was created or changed; or fields taken back)? When it is, its
 * message goes in buf (size bytes); otherwise buf is left as it is.
 */
bool p4_kstage_drift_message(const struct p4_applyset_result *res, bool again, int64_t generation,
                             char *buf, size_t size);

/*
 * On a poll: emit a DriftCorrected Event due about obj; when r passed and drifted since, begin
 * a new attempt (true: nothing more to do on this poll).
 */
bool p4_kstage_drift_poll(struct run *r, const cJSON *obj);

/* ---- uninstall.c ---- */

/* spec.deletionPolicy. */
enum p4_kstage_policy { P4_POLICY_DELETE, P4_POLICY_ORPHAN, P4_POLICY_DELETE_CRDS };
/* obj's spec.deletionPolicy (Delete when absent or unknown). */
enum p4_kstage_policy p4_kstage_deletion_policy(const cJSON *obj);
const char *p4_kstage_policy_name(enum p4_kstage_policy p);
/* How long an uninstall waits before its pass-th pass again: 0.5 s doubling, at most 5 s. */
uint64_t p4_kstage_uninstall_backoff(int pass);
/* inv as "Kind ns/name, Kind name, ..." in buf (size bytes), cut with "and N more". */
void p4_kstage_list_entries(const struct p4_inventory *inv, char *buf, size_t size);
/*
 * Whether item (of kind, listed in a namespace the resource made) keeps that namespace from
 * being deleted: not ours by our marks (owner, and uid or none), not going already, and not what
 * every namespace has (the kube-root-ca.crt ConfigMap, the default ServiceAccount and its token
 * Secret); a Pod or Job with an owner is judged by its owner.
 */
bool p4_kstage_ns_foreign(const char *kind, const cJSON *item, const char *owner_ns,
                          const char *owner_name, const char *owner_uid);
/* stage.h's finalize and finalized (ctx the stage). */
int p4_kstage_finalize(void *ctx, const char *key, const cJSON *obj,
                       struct p4_finalize_result *out);
void p4_kstage_finalized(void *ctx, const char *key);
/* Drop every uninstall (the stage closing). */
void p4_kstage_uninstalls_free(struct p4_kube_stage *k);

#endif
