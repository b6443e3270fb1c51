/*
 * rollback.h: (internal to reconciler/) rollback to a revision that succeeded, the pure half
 * (docs/architecture.md, "Rollback to the last good revision"): when a generation's final
 * failure at the Kubernetes or Validation stage rolls back (spec.rollout.rollbackOnFailure, true
 * by default once a revision has succeeded) and to which generation
 * (status.lastKnownGoodRevision), what a phase4.io/rollback-to annotation asks and when it is
 * refused, where a rollback stands from the Kubernetes stage's rollback run, and what
 * status.rollback, the RolledBack condition and the Events say. The Kubernetes stage does the
 * rollback (stage.h's rollback op); reconcile.c drives it. No I/O and no clock; every pointer
 * is borrowed for the call.
 */
#ifndef PHASE4_ROLLBACK_H
#define PHASE4_ROLLBACK_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "phase4/reconciler/stage.h"

/* The annotation a person sets to a generation to roll back to it on demand. */
#define P4_ROLLBACK_ANNOTATION "phase4.io/rollback-to"
/* The condition that says where the last rollback of this generation stands. */
#define P4_ROLLBACK_CONDITION "RolledBack"

/* What the reconciler does about rollbacks on this reconcile. */
enum p4_rollback_do {
    P4_ROLLBACK_NONE,  /* none concerns this generation: drive the stages as usual */
    P4_ROLLBACK_BEGIN, /* begin one now (from, to): the rollback run is started */
    P4_ROLLBACK_GO_ON, /* status.rollback says Running for this generation: go on with it (after
                          a restart the run begins again, re-applying what is on record) */
    P4_ROLLBACK_HOLD,  /* one finished for this generation: nothing runs until a new
                          generation, a phase4.io/retry or a phase4.io/rollback-to */
};

struct p4_rollback_plan {
    enum p4_rollback_do what;
    int64_t from, to;    /* BEGIN, GO_ON, HOLD: the generation rolled back, the one re-applied */
    int stage;           /* BEGIN on a failure: the stage `from` failed at; else -1 */
    const char *request; /* a phase4.io/rollback-to value not handled yet (borrowed from obj),
                            or NULL: BEGIN for it, or refused (refused true, why says why) */
    bool refused;
    char why[300];
};

/*
 * Decide from obj (the resource as read: its spec, annotations and the status on record) what
 * this reconcile does. A rollback on record as Running for this generation goes on (a retry or
 * a rollback-to waits for it). Then a phase4.io/retry not handled yet wins (NONE: the stages
 * run again). A
 * rollback-to value not handled yet begins one to that generation unless it is not a positive
 * number below metadata.generation, or status.history says it did not succeed (refused). A
 * rollback finished for this generation holds. Otherwise a final failure of this generation at
 * the Kubernetes or Validation stage (its stage condition False, Stalled True) begins one to
 * status.lastKnownGoodRevision when rollbackOnFailure allows it (unset: true when that revision
 * exists), once per (generation, retry value).
 */
void p4_rollback_decide(const cJSON *obj, struct p4_rollback_plan *out);

/*
 * Does obj's status.rollback hold for its generation (recorded for it, since the last
 * phase4.io/retry handled): then what serves is the rollback's, not the generation's.
 */
bool p4_rollback_holds(const cJSON *obj);

/* Where a rollback stands. */
enum p4_rollback_state {
    P4_ROLLBACK_PENDING,     /* asked for (rollback-to), its manifest not read yet: nothing kept */
    P4_ROLLBACK_NO_MANIFEST, /* asked for, and generation `to`'s manifest Secret is gone */
    P4_ROLLBACK_RUNNING,
    P4_ROLLBACK_SUCCEEDED,
    P4_ROLLBACK_FAILED,
};

/*
 * Where plan's rollback stands: from res (the Kubernetes stage's result, NULL when it holds no
 * run; only a result with rollback_to == plan->to counts) and obj's status.rollback. A state on
 * record as finished stays so; one on record as Running without a run is RUNNING (begun again).
 */
enum p4_rollback_state p4_rollback_state_of(const cJSON *obj, const struct p4_rollback_plan *plan,
                                            const struct p4_stage_result *res);

/*
 * status.rollback into st (the status being built) for plan in state (RUNNING, SUCCEEDED or
 * FAILED): {from, to, trigger (RollbackOnFailure or RollbackTo), state, startedAt, finishedAt,
 * message, failedStage, failedReason, reason (of a failed rollback), retry (the retry value it
 * was made under)}, and status.lastHandledRollbackTo for a request. Times and what `from`
 * failed on are kept from the record while it is the same rollback. One Event when it is news:
 * Normal RollingBack when it begins, Normal RolledBack when healthy, Warning RollbackFailed.
 * Returns true when the rollback became healthy now (what spec.notify is told: notify.h).
 */
bool p4_rollback_record(cJSON *st, const cJSON *obj, const struct p4_rollback_plan *plan,
                        enum p4_rollback_state state, const struct p4_stage_result *res,
                        const char *now, cJSON *events);

/*
 * A rollback-to refused (plan->refused, or NO_MANIFEST for generation to): the value is handled
 * (status.lastHandledRollbackTo) and one Warning RollbackRefused says why; nothing else changes.
 */
void p4_rollback_refused(cJSON *st, const char *value, int64_t generation, const char *why,
                         cJSON *events);

/* The message of the Event and condition for the record in st (status.rollback). */
const char *p4_rollback_message(const cJSON *st);

/*
 * What serves while st's rollback holds, as one clause ("impact: ..."), for the failure
 * messages of its generation. out always NUL-terminated.
 */
void p4_rollback_impact(const cJSON *record, char *out, size_t size);

/*
 * (reconcile.c, beside the other status functions) The status while plan's rollback is in
 * state (pure, as p4_reconciler_desired_status): PENDING leaves it as it is; NO_MANIFEST
 * refuses the request; otherwise status.rollback (p4_rollback_record), status.inventory and
 * status.health from res (the rollback run's result, or NULL), the RolledBack condition, and
 * Ready, Reconciling and Stalled: a generation whose failure is on record keeps its verdict and
 * reasons, its message's impact now the rollback's; a failed rollback is escalated (Stalled,
 * EscalatedToUser); a generation rolled back on request is Stalled with reason RolledBack.
 */
cJSON *p4_reconciler_rollback_status(const cJSON *obj, const struct p4_rollback_plan *plan,
                                     enum p4_rollback_state state,
                                     const struct p4_stage_result *res, const char *now,
                                     cJSON *events);

#endif
