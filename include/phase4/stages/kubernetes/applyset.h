/*
 * applyset.h: apply a rendered manifest as one set and prune what the last
 * set held and this one does not (the Kubernetes stage's "Resources created").
 *
 * p4_applyset_run() copies the objects, sorts them into apply order
 * (inventory.h), builds their inventory (scope from discovery; kinds unknown
 * to the table are looked up first, so a refresh finds CRDs installed since;
 * kinds defined by CustomResourceDefinitions in the same set take the CRD's
 * spec.scope), and then, one request at a time, on the loop:
 *
 *   1. create_namespace: GET the namespace; when absent, server-side apply a
 *      Namespace carrying the marks below. It is not put in the inventory, so
 *      no prune ever deletes a namespace (and everything in it) this way.
 *   2. each object, in apply order: GET it; when it exists and its
 *      phase4.io/owner annotation is not exactly ours, stop with
 *      ObjectNotOwned (nothing after it is applied); otherwise server-side
 *      apply it (fieldManager phase4-operator, force only with opts.force).
 *      A 409 field-manager conflict stops with ApplyConflict naming the other
 *      managers and the fields. After a CustomResourceDefinition, wait (GET
 *      every P4_APPLYSET_CRD_POLL_MS, at most P4_APPLYSET_WAIT_MS, on a timer)
 *      until it is Established (NamesAccepted=False fails at once); a custom
 *      resource whose kind discovery does not serve yet is retried every
 *      P4_APPLYSET_KIND_POLL_MS within the same bound, since discovery
 *      refreshes at most every P4_DISCOVERY_MIN_REFRESH_MS.
 *   Between validation and step 1, opts.planned (the write-ahead record)
 *      may hold the run until p4_applyset_resume().
 *   3. prune, only when every object was applied (with opts.sweep, after the
 *      objects found by their marks are added to the set): each entry of
 *      opts.previous the new inventory does not hold, in prune order: GET it;
 *      absent (or its kind no longer served) is fine; carrying our
 *      phase4.io/owner annotation, DELETE it with propagationPolicy
 *      Background and a uid precondition (so an object re-created meanwhile
 *      by someone else is not deleted); otherwise leave it and count it as
 *      skipped. A CustomResourceDefinition is always skipped, as Helm does:
 *      deleting it would delete every custom resource of its kind in the
 *      cluster, whoever owns them. Nothing else is ever deleted.
 *
 * Every applied object (and a created namespace) carries the marks of
 * applymark.h: the phase4.io/owner annotation, which is the ownership mark,
 * and the managed-by, name and generation labels.
 *
 * The run is cut by concern (applysteps.h): applyvalidate.c reads and checks
 * the set before anything is applied, applyobject.c applies (step 1 and 2,
 * with conflicts read by applyconflict.h), applyprune.c prunes (step 3).
 *
 * Failures (result.err.reason): ObjectNotOwned, ApplyConflict, a reason of
 * p4_diagnose_refusal() (Forbidden, QuotaExceeded, AdmissionDenied, ...) when
 * it recognizes the API server's refusal, else the API error's reason
 * (Invalid, NotFound, Timeout, ...). result.cls says who must act (stage.h).
 *
 * Lifetime: one struct p4_applyset per run, freed by the module after the
 * callback (and after any answer still due). The caller keeps k and d alive
 * until cb has run; opts and objects are copied (previous too).
 */
#ifndef PHASE4_APPLYSET_H
#define PHASE4_APPLYSET_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "phase4/core/error.h"
#include "phase4/kube/client.h"
#include "phase4/kube/discovery.h"
#include "phase4/reconciler/stage.h"
#include "phase4/stages/kubernetes/applymark.h"
#include "phase4/stages/kubernetes/inventory.h"

#define P4_APPLYSET_WAIT_MS 60000    /* longest wait for a CRD to be Established and served */
#define P4_APPLYSET_CRD_POLL_MS 250  /* GET the CRD this often while waiting */
#define P4_APPLYSET_KIND_POLL_MS 500 /* ask discovery for a new CRD's kind this often */
#define P4_APPLYSET_TAKEN_MAX 512    /* result.taken's size, with its NUL */

struct p4_applyset;

struct p4_applyset_opts {
    const char *namespace_; /* for namespaced objects that name none; NULL: "default" */
    const char *owner_namespace, *owner_name; /* the Phase4Deployment; both required */
    int64_t generation;
    bool force;            /* SSA force=true: take over fields other managers own */
    bool create_namespace; /* create namespace_ first (marked as ours) when it is missing */
    const struct p4_inventory *previous; /* what the last apply recorded; NULL: nothing to prune */
    /*
     * Drift repair: a field-manager conflict only with managers that changed
     * the object through an update (operation "Update" in its managedFields:
     * kubectl edit, patch, scale, client-side apply) is a change made by hand
     * to an object we own: apply that object again with force, and say so in
     * result.taken. A conflict with another applier still fails (ApplyConflict).
     */
    bool take_from_updaters;
    /*
     * The "Manifests validated" check (p4_inventory_check_scope): when set,
     * every object must be in this namespace, or cluster-scoped with
     * allow_cluster_scoped; otherwise nothing is applied (OutOfScope).
     */
    const char *scope_namespace;
    bool allow_cluster_scoped;
    /*
     * An upgrade prunes only once its workloads are healthy: no_prune applies and skips step
     * 3 (result.applied is the new inventory; what previous held and it does not stays);
     * prune_only skips steps 1 and 2 and prunes what previous holds and objects do not
     * (result.applied is then the new inventory, unapplied, with generations 0).
     */
    bool no_prune, prune_only;
    /*
     * The write-ahead record: when set (and not prune_only), called once the
     * manifest is validated and before anything is applied, with the new
     * inventory (borrowed for the call); nothing is applied until
     * p4_applyset_resume(). The caller records the entries (status.inventory)
     * so that a crash at any point of the apply leaves them on record.
     */
    void (*planned)(const struct p4_inventory *inv, void *data);
    /*
     * Before pruning, also find by their marks (applymark.h) the objects a
     * crash may have left off every inventory: for each kind of previous and
     * of the new inventory, in each of their namespaces (cluster-wide for a
     * cluster-scoped kind), LIST with the managed-by and name labels; each
     * object carrying exactly our owner annotation that the new inventory does
     * not hold joins the prune set. Never a CustomResourceDefinition or a
     * Namespace (only an inventory entry prunes a Namespace). A kind the
     * operator may not list is left out and counted (result.sweep_skipped).
     */
    bool sweep;
    /*
     * The resource's metadata.uid, put on every object as the owner-uid mark (applymark.h).
     * An existing object marked with our name and another uid, or with our name and no uid
     * while previous does not list it, is an older resource's: step 2 stops with
     * AdoptionRequired unless adopt is set, and then takes it over (result.adopted); one without
     * uid newer than the resource (owner_created) is ours from before uids. The prune and the
     * sweep leave objects of another uid alone. NULL or "": marks without uid.
     */
    const char *owner_uid;
    /* The resource's metadata.creationTimestamp: an object marked with our name and no uid
       that is newer than the resource is ours from before uids (p4_applyset_created_after),
       for the apply and the sweep. NULL: never. */
    const char *owner_created;
    bool adopt;
    /*
     * Uninstall (with prune_only and no objects: everything previous lists goes). Unlike a
     * prune, a failure on one object does not stop the run: the object is left, counted and
     * said (result.blocked), and the run goes on. Objects are taken in prune order, tier by
     * tier (p4_applyset_uninstall_tier: what runs, then its ServiceAccounts, RBAC and
     * policies, then CRDs and namespaces); a tier begins only once every object of the tiers
     * before it is gone, otherwise the rest waits (result.remaining) for the next run. An
     * object already terminating (a finalizer holds it) is not deleted again. CRDs are
     * deleted only with delete_crds, otherwise kept (result.kept). With unmark (deletionPolicy
     * Orphan) nothing is deleted: our marks are taken off each object (p4_applyset_unmark_patch).
     * With sweep_stage_work, the sweep also finds the stage's own Jobs (phase4.io/purpose)
     * carrying our uid, and sweep_also adds (apiVersion, kind, namespace) entries to list.
     */
    bool uninstall, unmark, delete_crds, sweep_stage_work;
    const struct p4_inventory *sweep_also;
};

struct p4_applyset_result {
    int rc;                    /* 0, or P4_ERR_*: P4_ERR_EXISTS for ObjectNotOwned, P4_ERR_CONFLICT
                                  for ApplyConflict, P4_ERR_CANCELED after p4_applyset_cancel */
    struct p4_error err;       /* reason (above) and one sentence naming the object and what to do;
                                  reason points to static text or into the run (valid during cb) */
    enum p4_failure_class cls; /* who must act; P4_FAIL_NONE on success */
    const char *kind, *namespace_, *name; /* the object that failed; NULL when none did */
    /*
     * What was applied, in apply order: on success the whole new inventory
     * (status.inventory); on failure the objects applied before it (nothing
     * was pruned then, so a caller recording status.inventory keeps
     * previous's entries and adds these).
     */
    struct p4_inventory applied;
    const int64_t *generations;  /* per applied entry: the metadata.generation the apply
                                    returned (0 for kinds without one) */
    bool validated;              /* the manifest was read into an inventory and passed the scope
                                    check: a failure after this is about applying (the failure
                                    reasons before it: ManifestInvalid, UnknownKind, OutOfScope) */
    struct p4_inventory created; /* applied entries that did not exist before */
    struct p4_inventory changed; /* applied entries that existed and the apply changed (their
                                    resourceVersion moved); an unchanged object is in neither */
    const char *taken;           /* "" or what take_from_updaters took back: "Deployment shop/web
                                    (.spec.replicas, set by kubectl); ..." (cut to fit) */
    struct p4_inventory deleted; /* entries pruned (DELETE accepted), in prune order */
    struct p4_inventory skipped; /* entries left alone: not ours (or re-created meanwhile) */
    int pruned, prune_skipped;   /* deleted.n and skipped.n */
    int swept;                   /* opts.sweep: prune entries found by their marks alone */
    int sweep_skipped;           /* opts.sweep: kinds the operator may not list (403) */
    int adopted;                 /* opts.adopt: objects of an older resource taken over */
    /* opts.uninstall: */
    int unmarked, kept;            /* marks taken off (unmark); CRDs kept (no delete_crds) */
    struct p4_inventory remaining; /* still there: terminating, refused, or waiting for the
                                      tier before them, in prune order */
    struct p4_error blocked;       /* code 0, or why the first of remaining is stuck (reason
                                      static or valid during cb) */
};
/* res and everything it points to are valid during the call only (copy what you keep). */
typedef void (*p4_applyset_cb)(const struct p4_applyset_result *res, void *data);

/*
 * Start applying objects (a JSON array of objects with apiVersion, kind and
 * metadata.name, as p4_manifest_split() gives; copied). Returns 0 and sets
 * *out (may be NULL) to the run, valid until cb runs; cb runs exactly once,
 * never before this returns. P4_ERR_INVAL (cb not called): a NULL k, d, cb
 * or o, objects not an array, or no owner namespace or name.
 */
int p4_applyset_run(struct p4_kube *k, struct p4_discovery *d, const cJSON *objects,
                    const struct p4_applyset_opts *o, p4_applyset_cb cb, void *data,
                    struct p4_applyset **out);

/*
 * Stop a run (shutdown): cb runs now, before this returns, with
 * P4_ERR_CANCELED, and never again; a request in flight ends on its own and
 * the run is freed then. Objects already applied stay. Call it only before
 * cb has run; NULL is fine.
 */
void p4_applyset_cancel(struct p4_applyset *a);

/*
 * Go on applying after opts.planned (on a later loop turn). Does nothing
 * unless the run waits for it; NULL is fine.
 */
void p4_applyset_resume(struct p4_applyset *a);

#endif
