/*
 * applysteps.h: what the applyset's files share (internal to stages/kubernetes/).
 *
 * A run (applyset.h) is cut by concern, one file per part of it:
 *   applyset.c       the run itself: p4_applyset_run/_cancel, the step it is at, its requests,
 *                    how it fails and how it reports.
 *   applyvalidate.c  APPLY_LOOKUP: before anything is applied, the kinds discovery does not
 *                    know yet looked up, the inventory built and the scope checked (the
 *                    "Manifests validated" gate), and the prune set computed.
 *   applyobject.c    APPLY_NAMESPACE, APPLY_OBJECT and APPLY_CRD: the namespace created, each
 *                    object applied in order after its ownership is checked, a field-manager
 *                    conflict failed or (drift) forced, a new CRD waited for.
 *   applysweep.c     APPLY_SWEEP (opts.sweep): the objects that carry our marks, found by
 *                    label for each kind of the previous and the new inventory, added to the
 *                    prune set when the new inventory does not hold them.
 *   applyprune.c     APPLY_PRUNE: what the previous inventory held and this one does not,
 *                    deleted when ours.
 * Pure helpers they use: applymark.h (the ownership marks) and applyconflict.h.
 *
 * Every step begins on the run's timer (p4_applyset_go), so no step calls the next on the stack;
 * a step sends at most one request, and its answer starts with p4_applyset_back(). A failure
 * (p4_applyset_fail) is recorded and reported from APPLY_FINISH.
 *
 * Ownership: the run owns everything it points to except kube and disc (borrowed from the caller
 * until cb has run); it is freed by applyset.c once gone and no request is in flight.
 */
#ifndef PHASE4_APPLYSTEPS_H
#define PHASE4_APPLYSTEPS_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "diagnose.h"
#include "phase4/core/error.h"
#include "phase4/kube/client.h"
#include "phase4/kube/discovery.h"
#include "phase4/stages/kubernetes/applymark.h"
#include "phase4/stages/kubernetes/applyset.h"
#include "phase4/stages/kubernetes/inventory.h"

#define P4_APPLYSET_PATH_SIZE 2048
#define P4_APPLYSET_CRD_GROUP "apiextensions.k8s.io"

enum p4_applyset_step {
    APPLY_LOOKUP,
    APPLY_NAMESPACE,
    APPLY_OBJECT,
    APPLY_CRD,
    APPLY_PLANNED, /* waiting for p4_applyset_resume() (opts.planned) */
    APPLY_SWEEP,
    APPLY_PRUNE,
    APPLY_FINISH
};
/* What became of a prune entry. */
enum p4_applyset_fate {
    FATE_NONE,
    FATE_GONE,
    FATE_DELETED,
    FATE_SKIPPED,
    FATE_TERMINATING, /* uninstall: still there, deleted but held by a finalizer */
    FATE_FAILED,      /* uninstall: the API server refused reading, deleting or unmarking it */
    FATE_WAITING,     /* uninstall: not tried, an object of an earlier tier is still there */
    FATE_UNMARKED,    /* uninstall with unmark: our marks taken off */
    FATE_KEPT         /* uninstall: a CRD without delete_crds */
};
/* What the apply did to an object. */
enum p4_applyset_change { CHANGE_NONE, CHANGE_CREATED, CHANGE_CHANGED };

struct p4_applyset {
    struct p4_kube *kube;
    struct p4_discovery *disc;
    uv_timer_t timer; /* every step begins on it: no step calls the next on the stack */
    p4_applyset_cb cb;
    void *data;

    cJSON *objects; /* ordered, marked copies, one per inventory entry */
    char *ns, *owner_ns, *owner_name;
    int64_t generation;
    bool force, create_ns, take_from_updaters, allow_cluster_scoped, validated;
    bool no_prune, prune_only;                                   /* opts: apply only; prune only */
    void (*planned)(const struct p4_inventory *inv, void *data); /* opts.planned */
    bool sweep;                                                  /* opts.sweep */
    char *owner_uid;                                             /* opts.owner_uid, or NULL */
    char *owner_created;                                         /* opts.owner_created, or NULL */
    bool adopt, uninstall, unmark, delete_crds, sweep_stage_work;
    struct p4_inventory sweep_also;
    int adopted, unmarked, kept;
    int min_left_tier;       /* uninstall: lowest tier of an entry still there (INT_MAX: none) */
    struct p4_error blocked; /* uninstall: the first entry left, and why */
    char blocked_reason[P4_DIAGNOSE_REASON_MAX];
    enum p4_applyset_step after_planned; /* the step p4_applyset_resume() goes to */
    /* APPLY_SWEEP: the kinds and namespaces to list (names unused), the one being listed, its
       continue token, and what the lists found (ours, any inventory or none). */
    struct p4_inventory sweep_targets, found;
    size_t found_cap;
    char *sweep_continue;
    int swept, sweep_skipped;
    char *scope_ns; /* opts.scope_namespace, or NULL */
    struct p4_inventory previous, inv, prune;
    unsigned char *fate;   /* per prune entry */
    unsigned char *change; /* per inventory entry (enum p4_applyset_change) */
    int64_t *gens;         /* per inventory entry: metadata.generation the apply returned */

    /* The current object as it was before the apply. */
    bool existed, forcing;
    bool creating; /* sent create-only (resourceVersion "1"): a 409 says it exists */
    char live_rv[128];
    char updaters[512]; /* ",m1,m2,": the managers that changed it through an update */
    char taken[P4_APPLYSET_TAKEN_MAX];

    enum p4_applyset_step step;
    size_t i;            /* the object (APPLY_LOOKUP, APPLY_OBJECT, APPLY_CRD) or prune entry */
    size_t napplied;     /* objects applied */
    uint64_t wait_start; /* a CRD's wait, or a new kind's: 0 when not waiting */
    bool inflight, gone;
    char path[P4_APPLYSET_PATH_SIZE]; /* the current object's (no query) */
    bool namespaced;
    int pruned, prune_skipped;

    /* The failure, once there is one (reported from APPLY_FINISH). */
    int rc;
    struct p4_error err;
    enum p4_failure_class cls;
    const struct p4_inv_entry *failed; /* NULL, or the entry that failed */
    struct p4_inv_entry nsentry;       /* the namespace of create_namespace */
    char reason[P4_DIAGNOSE_REASON_MAX];
};

/* ---- the run (applyset.c) ---- */

/* Go to step after ms milliseconds (0: on the next turn of the loop). */
void p4_applyset_go(struct p4_applyset *a, enum p4_applyset_step step, uint64_t ms);

/* First thing in every answer: the run, or NULL when it was canceled meanwhile. */
struct p4_applyset *p4_applyset_back(void *data);

uint64_t p4_applyset_now_ms(const struct p4_applyset *a);

/*
 * Stop with a failure about e (NULL: none in particular; else borrowed from the run); reason
 * NULL is rc's own; the message (from fmt) is made printable. Reported on the next turn.
 */
void p4_applyset_fail(struct p4_applyset *a, const struct p4_inv_entry *e, int rc,
                      const char *reason, enum p4_failure_class cls, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* The API server refused doing ("apply", "read", "delete") e: diagnose it, or say it plainly. */
void p4_applyset_fail_api(struct p4_applyset *a, const struct p4_inv_entry *e,
                          const struct p4_kube_result *res, const char *doing);

/* Who must act on an API error rc. */
enum p4_failure_class p4_applyset_api_class(int rc);

/* "Deployment shop/web", "Namespace shop". */
void p4_applyset_describe(const struct p4_inv_entry *e, char *buf, size_t size);

/* a->path for name, served by info, under namespace ns ("" when cluster-scoped). */
int p4_applyset_build_path(struct p4_applyset *a, const struct p4_resource_info *info,
                           const char *ns, const char *name);

/* Send one request of the run (a->inflight until its answer, which cb gets with a as data). */
int p4_applyset_request(struct p4_applyset *a, const char *method, const char *path,
                        const char *ctype, const char *body, p4_kube_cb cb);

/* Ask discovery about a kind (a->inflight until its answer). */
int p4_applyset_lookup(struct p4_applyset *a, const char *api_version, const char *kind,
                       p4_discovery_cb cb);

/* Server-side apply obj at a->path (with force when opts.force or drift repair asks). */
int p4_applyset_send_apply(struct p4_applyset *a, const cJSON *obj, p4_kube_cb cb);

/* ---- the steps ---- */

void p4_applyset_validate(struct p4_applyset *a); /* APPLY_LOOKUP (applyvalidate.c) */

void p4_applyset_namespace(struct p4_applyset *a); /* APPLY_NAMESPACE (applyobject.c) */
void p4_applyset_object(struct p4_applyset *a);    /* APPLY_OBJECT (applyobject.c) */
void p4_applyset_crd(struct p4_applyset *a);       /* APPLY_CRD (applyobject.c) */

/*
 * A CustomResourceDefinition's readiness: 1 Established=True, -1 it never
 * will be (NamesAccepted=False: why goes in msg), 0 not yet. (applyobject.c)
 */
int p4_applyset_crd_state(const cJSON *crd, char *msg, size_t size);

/* Whether inv lists e (identity of inventory.h). (applyobject.c) */
bool p4_applyset_in(const struct p4_inventory *inv, const struct p4_inv_entry *e);

/* What to do with an existing object marked as claim says (applymark.h). */
enum p4_applyset_adopt {
    ADOPT_NOT_OURS, /* not marked with our name: ObjectNotOwned */
    ADOPT_OURS,     /* ours: applied */
    ADOPT_TAKE,     /* an earlier resource's of our name, and spec.adopt: taken over */
    ADOPT_REFUSE,   /* an earlier resource's, no spec.adopt: AdoptionRequired */
};
/*
 * The adoption decision, pure: listed says whether our own last inventory (status.inventory)
 * lists the object, or it is newer than the resource (p4_applyset_created_after), so one marked
 * without uid is ours from before uids were marked. (applyobject.c)
 */
enum p4_applyset_adopt p4_applyset_adopt_decide(enum p4_applyset_claim claim, bool listed,
                                                bool adopt);
/*
 * Step 2's adoption check of e, existing as live: 0 to go on (a->adopted counted when taken
 * over), -1 when the run failed with AdoptionRequired. (applyobject.c)
 */
int p4_applyset_adoption(const cJSON *live, const struct p4_inv_entry *e, struct p4_applyset *a);

void p4_applyset_prune(struct p4_applyset *a); /* APPLY_PRUNE (applyprune.c) */

/* APPLY_SWEEP (applysweep.c): lists what carries our marks, then goes to APPLY_PRUNE. */
void p4_applyset_sweep(struct p4_applyset *a);

/*
 * The kinds and namespaces a sweep lists, from previous and current (each a (apiVersion, kind,
 * namespace) once, names ""), never CustomResourceDefinition or Namespace: into *out
 * (overwritten, caller closes). Pure. (applysweep.c)
 */
void p4_applyset_sweep_targets(const struct p4_inventory *previous,
                               const struct p4_inventory *current, struct p4_inventory *out);

/* Whether live carries the helm.sh/hook annotation: a hook, never pruned. (applysweep.c) */
bool p4_applyset_is_hook(const cJSON *live);
/* Whether live carries the phase4.io/purpose label: a stage's own work (a build or smoke-test
   Job, marked as the resource's), never the chart's, never swept. (applysweep.c) */
bool p4_applyset_is_stage_work(const cJSON *live);

/*
 * The prune set with what a sweep found: *prune (replaced) becomes every entry of *prune and of
 * found that current does not hold, each once, in prune order; returns how many of them came
 * from found alone. Pure. (applysweep.c)
 */
int p4_applyset_sweep_merge(struct p4_inventory *prune, const struct p4_inventory *found,
                            const struct p4_inventory *current);

/*
 * The order an uninstall deletes in, tier by tier (a tier begins when the ones before it are
 * gone): 0 what runs and what it uses (workloads, Services, ConfigMaps, custom resources, ...);
 * 1 ServiceAccounts, RBAC and the namespace's policies (NetworkPolicy, ResourceQuota,
 * LimitRange, PodSecurityPolicy, PodDisruptionBudget), which the workloads use until gone;
 * 2 CustomResourceDefinitions (after their custom resources), Namespaces and PriorityClasses.
 * Monotonic in prune order. Pure. (applyprune.c)
 */
int p4_applyset_uninstall_tier(const char *api_version, const char *kind);

/*
 * What the API server's refusal of doing ("read", "delete", ...) e means: *err (reason static
 * or in reason_buf, reason_size bytes) and *cls, as p4_applyset_fail_api says it. (applyset.c)
 */
void p4_applyset_explain_api(const struct p4_inv_entry *e, const struct p4_kube_result *res,
                             const char *doing, struct p4_error *err, enum p4_failure_class *cls,
                             char *reason_buf, size_t reason_size);

/* The DELETE body: Background propagation with a uid precondition (caller frees). (applyprune.c) */
char *p4_applyset_delete_body(const char *uid);

#endif
