/*
 * reconcile.h: the Phase4Deployment state machine (the reconciler layer; see docs/architecture.md).
 *
 * For each resource it writes status (observedGeneration, stage, the
 * Ready / Reconciling / Stalled conditions and one condition per stage)
 * and Events, only when they change, and drives the stages of stage.h in
 * order; the stage modules fill in the gates and the status members they own
 * (image, chart, plan, inventory, health). When the spec asks for approval, the
 * Kubernetes stage waits for phase4.io/approve=<generation> (AwaitingApproval,
 * status.approval: reconciler/approval.h). A stage this version does not build
 * (Validation, today) shows as not available once the one before it passed.
 * A resource the informer cannot parse gets a status saying so, written by
 * name from what the informer read of it (P4_REASON_UNREADABLE), and its
 * stages forget it, as they forget a deleted one. Every resource gets the
 * deletion finalizer (finalizer.h) before any stage runs for it; one being
 * deleted is uninstalled by the stage that has finalize (stage.h).
 */
#ifndef PHASE4_RECONCILER_H
#define PHASE4_RECONCILER_H

#include "phase4/core/buf.h"
#include "phase4/core/strmap.h"
#include "phase4/kube/client.h"
#include "phase4/reconciler/notifier.h"
#include "phase4/reconciler/stage.h"
#include "phase4/reconciler/tenancy.h"
#include "phase4/runtime/controller.h"
#include "phase4/runtime/events.h"
#include "phase4/runtime/informer.h"

#define P4_API_GROUP "phase4.io"
#define P4_API_VERSION "v1alpha1"
#define P4_RESOURCE "phase4deployments"
#define P4_COLLECTION_PATH "/apis/" P4_API_GROUP "/" P4_API_VERSION "/" P4_RESOURCE

struct p4_reconciler {
    struct p4_kube *kube;                              /* borrowed */
    struct p4_informer *resources;                     /* borrowed: the Phase4Deployment cache */
    struct p4_events *events;                          /* borrowed */
    const struct p4_stage_ops *stages[P4_STAGE_COUNT]; /* NULL for stages not built yet */
    void *stage_ctx[P4_STAGE_COUNT];                   /* borrowed */
    const struct p4_tenancy *tenancy; /* borrowed; NULL: no default ServiceAccount, no flag */
    struct p4_notifier *notifier;     /* borrowed; NULL: spec.notify is not acted on */
    uint64_t status_writes;
    uint64_t status_deferred; /* reconciles whose status write waited (progress only) */
    /* A status that differs from the written one only in a wait's progress (statusnews.h) is
       written with the next news, or once this long has passed since the last write of the
       resource; 0: at once. */
    uint64_t progress_interval_ms;
    /* key -> uint64_t, when (uv_hrtime, ms) its status was last written, or a progress write
       was first held back; owned, starts empty (zeroed), freed by p4_reconciler_close. */
    struct p4_strmap written;
    /* key -> what was read to record an approval (who owns phase4.io/approve); owned, starts
       empty (zeroed), freed by p4_reconciler_close. */
    struct p4_strmap approvals;
    /* Restart without a storm: a resource first seen with no run whose status on record says
       it passed for its generation (p4_reconciler_trusted) is trusted: nothing runs for it
       until its recheck, at a time of its own within this window (--recheck-spread) from when
       it was first seen; a new generation, a retry or drift ends the trust at once. 0: no
       trust, every resource is checked again at once. */
    uint64_t recheck_spread_ms;
    /* key -> struct p4_trust (reconcile.c), the resources trusted and not rechecked yet;
       owned, starts empty (zeroed), freed by p4_reconciler_close. */
    struct p4_strmap trust;
    uint64_t trusted_total; /* resources trusted at first sight */
};

/*
 * Does obj's status on record say every stage of the first `stages` passed for its current
 * generation, with what they pinned written (status.image.digest, status.chart.digest and
 * .manifest, status.inventory), Ready=True and nothing pending (no failure, wait, Stalled,
 * health problem, retry or rollback asked for, suspend or deletion)? Pure.
 */
bool p4_reconciler_trusted(const cJSON *obj, int stages);

/*
 * The work-queue level of key (controller.h's opts.level; data is the struct p4_reconciler):
 * 1 + the index of the stage its status says it is in while its current generation is under
 * way, so a resource further along is reconciled first; 0 for one not started (no status for
 * its generation: its first status), done, or unknown.
 */
unsigned p4_reconciler_level(const char *key, void *data);

/* Drift was seen for key (an object it applied deleted or changed): if it is trusted, its
   recheck is due now (the caller enqueues it). */
void p4_reconciler_recheck(struct p4_reconciler *r, const char *key);

/* A p4_reconcile_fn; data is the struct p4_reconciler. */
void p4_reconcile(struct p4_controller *c, const char *key, void *data);

/* Free what r owns (not r, nor what it borrows); after its last reconcile. */
void p4_reconciler_close(struct p4_reconciler *r);

/* Append the phase4_status_writes_total counter and the phase4_recheck_* series of r to out. */
void p4_reconciler_metrics(const struct p4_reconciler *r, struct p4_buf *out);
/* Append each stage's own series (its ops->metrics, when it has one), in stage order. */
void p4_reconciler_stage_metrics(const struct p4_reconciler *r, struct p4_buf *out);

/*
 * Compute the status the resource should have (pure; for tests). obj is
 * borrowed; results[i] is stage i's result for the resource (NULL entries,
 * or a NULL array, for stages not started); now is an RFC 3339 time for new
 * transitions. Events worth telling ({type, reason, message}: a new
 * generation, a stage condition's change, Stalled) are appended to events
 * when it is not NULL. Returns a new status object the caller frees.
 */
cJSON *p4_reconciler_desired_status(const cJSON *obj, const struct p4_stage_result *const *results,
                                    const char *now, cJSON *events);

/*
 * The status of a resource the operator refuses to work on as it is
 * (p4_tenancy_check said why): Ready False and Stalled True with why's reason
 * and message, no stage run; a Warning when that is news. Pure, as above.
 */
cJSON *p4_reconciler_refused_status(const cJSON *obj, const struct p4_error *why, const char *now,
                                    cJSON *events);

/*
 * The status of a suspended resource (spec.suspend true; pure, as above): while a stage's run
 * still works toward its safe point (suspending), Ready Unknown and Reconciling True with
 * reason Suspending; then Ready Unknown and Reconciling False with reason Suspended, and one
 * Normal Suspended Event. What the stages recorded stays, to go on from.
 */
cJSON *p4_reconciler_suspended_status(const cJSON *obj, bool suspending, const char *now,
                                      cJSON *events);

/*
 * The status of a resource being deleted while its finalizer waits (pure; for tests): Ready
 * False and Reconciling True, both with reason Deleting and a message saying the policy, what
 * was done so far, what remains (fr) and the deadline (an RFC 3339 time); a DeletionBlocked
 * condition (True, fr's blocked reason and message) while something does not go. Events: a
 * Normal Uninstalling when the deletion begins, a Warning DeletionBlocked when what is stuck
 * changes. Returns a new status object the caller frees.
 */
cJSON *p4_reconciler_deleting_status(const cJSON *obj, const struct p4_finalize_result *fr,
                                     const char *deadline, const char *now, cJSON *events);

/* The reason of a resource the operator cannot parse (Ready, Reconciling and Stalled). */
#define P4_REASON_UNREADABLE "ResourceUnreadable"

/*
 * The status a resource the informer cannot parse should have (pure; for tests): the status it
 * has (u->status) with Ready=False, Reconciling=False and Stalled=True, all with reason
 * ResourceUnreadable and one sentence saying why and what to do (also written to message, for
 * the Warning Event), and observedGeneration when u says the generation. Other members and
 * conditions stay; now is an RFC 3339 time for new transitions. Returns a new status object
 * the caller frees, or NULL when the status already says exactly this: then nothing is
 * written and no Event sent, so a relist or a restart repeats nothing.
 */
cJSON *p4_reconciler_unreadable_status(const struct p4_informer_unreadable *u, const char *now,
                                       char *message, size_t size);

#endif
