/* healthworkload.c: Deployment, StatefulSet, DaemonSet, ReplicaSet (see healthworkload.h). */
#include "healthworkload.h"

#include <inttypes.h>
#include <string.h>

#include "objtext.h"
#include "phase4/core/json.h"
#include "phase4/core/text.h"

void p4_healthworkload_deployment(struct p4_healtheval *e)
{
    int64_t spec = p4_healtheval_count(e, "spec.replicas", 1);
    int64_t deadline = p4_healtheval_count(e, "spec.progressDeadlineSeconds", -1);
    int64_t replicas = p4_healtheval_count(e, "status.replicas", 0);
    int64_t updated = p4_healtheval_count(e, "status.updatedReplicas", 0);
    int64_t ready = p4_healtheval_count(e, "status.readyReplicas", 0);
    int64_t available = p4_healtheval_count(e, "status.availableReplicas", 0);
    bool paused = p4_healtheval_flag(e, "spec.paused");
    const char *rollout = paused ? "RolloutPaused" : "RolloutInProgress";
    const char *paused_note = paused ? "; the rollout is paused (spec.paused)" : "";
    char counts[P4_HEALTHEVAL_COUNTS_SIZE], msg[P4_HEALTHEVAL_TEXT_SHOWN],
        why[P4_HEALTH_REASON_MAX];
    struct p4_healtheval_cond progressing, avail, failure;
    bool has_progressing = p4_healtheval_cond(e, "Progressing", &progressing);
    bool available_true = p4_healtheval_cond_is(e, "Available", "True", &avail);
    bool has_failure = p4_healtheval_cond_is(e, "ReplicaFailure", "True", &failure);
    size_t n;

    if (p4_healtheval_malformed(e))
        return;
    /* The deployment controller reads the int32 maximum as "no deadline" (kstatus does too). */
    if (deadline == P4_HEALTHEVAL_COUNT_MAX)
        deadline = -1;
    p4_text_format(counts, sizeof(counts),
                   "%" PRId64 " of %" PRId64 " replicas updated, %" PRId64 " available", updated,
                   spec, available);
    n = strlen(counts);
    if (ready != available)
        p4_text_format(counts + n, sizeof(counts) - n, ", %" PRId64 " ready", ready);
    n = strlen(counts);
    if (replicas > updated)
        p4_text_format(counts + n, sizeof(counts) - n, ", %" PRId64 " old replica%s still running",
                       replicas - updated, p4_objtext_plural(replicas - updated));

    if (has_progressing && p4_text_eq(progressing.reason, "ProgressDeadlineExceeded")) {
        p4_objtext_clip(msg, sizeof(msg), progressing.message);
        if (deadline >= 0)
            p4_healtheval_result(e, P4_HEALTH_FAILED, true, "ProgressDeadlineExceeded",
                                 "%s: the rollout exceeded its progress deadline of %" PRId64
                                 "s with %s%s%s",
                                 e->who, deadline, counts, p4_objtext_colon(msg), msg);
        else
            p4_healtheval_result(e, P4_HEALTH_FAILED, true, "ProgressDeadlineExceeded",
                                 "%s: the rollout exceeded its progress deadline with %s%s%s",
                                 e->who, counts, p4_objtext_colon(msg), msg);
        return;
    }
    if (has_failure) {
        p4_objtext_clip(msg, sizeof(msg), failure.message);
        p4_objtext_clip(why, sizeof(why),
                        p4_healtheval_reason_or(failure.reason, "ReplicaFailure"));
        p4_healtheval_result(e, P4_HEALTH_FAILED, false, "ReplicaFailure",
                             "%s: cannot create replicas (%s) with %s%s%s", e->who, why, counts,
                             p4_objtext_colon(msg), msg);
        return;
    }
    if (spec > replicas || spec > updated || replicas > spec || updated > available ||
        spec > ready) {
        p4_healtheval_result(e, P4_HEALTH_IN_PROGRESS, false, rollout, "%s: %s%s", e->who, counts,
                             paused_note);
        return;
    }
    /* Without a deadline the controller never reports progress, so only the counts tell. */
    if (deadline >= 0 && !(p4_text_eq(progressing.status, "True") &&
                           p4_text_eq(progressing.reason, "NewReplicaSetAvailable"))) {
        p4_objtext_clip(msg, sizeof(msg), progressing.message);
        p4_healtheval_result(e, P4_HEALTH_IN_PROGRESS, false, paused ? rollout : "NotAvailable",
                             "%s: %s, but the new ReplicaSet is not reported available yet%s%s%s",
                             e->who, counts, paused_note, p4_objtext_colon(msg), msg);
        return;
    }
    if (!available_true) {
        p4_objtext_clip(msg, sizeof(msg), avail.message);
        p4_healtheval_result(e, P4_HEALTH_IN_PROGRESS, false, "NotAvailable",
                             "%s: %s, but the Deployment is not Available yet%s%s", e->who, counts,
                             p4_objtext_colon(msg), msg);
        return;
    }
    p4_healtheval_result(e, P4_HEALTH_CURRENT, false, "Ready",
                         "%s is available: %" PRId64 " of %" PRId64
                         " replicas updated and available",
                         e->who, available, spec);
}

void p4_healthworkload_statefulset(struct p4_healtheval *e)
{
    const char *strategy = p4_healtheval_text(e, "spec.updateStrategy.type");
    int64_t spec = p4_healtheval_count(e, "spec.replicas", 1);
    int64_t partition = p4_healtheval_count(e, "spec.updateStrategy.rollingUpdate.partition", -1);
    int64_t replicas = p4_healtheval_count(e, "status.replicas", 0);
    int64_t ready = p4_healtheval_count(e, "status.readyReplicas", 0);
    int64_t current = p4_healtheval_count(e, "status.currentReplicas", 0);
    int64_t updated = p4_healtheval_count(e, "status.updatedReplicas", 0);
    const char *current_rev = p4_objtext_or_empty(p4_healtheval_text(e, "status.currentRevision"));
    const char *update_rev = p4_objtext_or_empty(p4_healtheval_text(e, "status.updateRevision"));
    char shown[P4_HEALTHEVAL_NAME_SHOWN], rev[P4_HEALTHEVAL_NAME_SHOWN + 16],
        old_rev[P4_HEALTHEVAL_NAME_SHOWN + 16];

    if (p4_healtheval_malformed(e))
        return;
    /* "revision db-7f9b6c8d44", or words for a revision the status does not name. */
    p4_text_format(rev, sizeof(rev), "%s%s",
                   update_rev[0] != '\0' ? "revision " : "the new revision",
                   p4_objtext_clip(shown, sizeof(shown), update_rev));
    p4_text_format(old_rev, sizeof(old_rev), "%s%s",
                   current_rev[0] != '\0' ? "revision " : "the old revision",
                   p4_objtext_clip(shown, sizeof(shown), current_rev));
    if (spec > replicas || spec > ready) {
        p4_healtheval_result(e, P4_HEALTH_IN_PROGRESS, false, "RolloutInProgress",
                             "%s: %" PRId64 " of %" PRId64 " replicas ready, %" PRId64 " created",
                             e->who, ready, spec, replicas);
        return;
    }
    if (replicas > spec) {
        p4_healtheval_result(e, P4_HEALTH_IN_PROGRESS, false, "RolloutInProgress",
                             "%s: %" PRId64 " replicas ready, %" PRId64
                             " extra replica%s terminating",
                             e->who, spec, replicas - spec, p4_objtext_plural(replicas - spec));
        return;
    }
    /* OnDelete leaves updates to the user (kstatus reports CURRENT before counting readiness). */
    if (p4_text_eq(strategy, "OnDelete")) {
        p4_healtheval_result(e, P4_HEALTH_CURRENT, false, "Ready",
                             "%s: %" PRId64
                             " replicas ready; the OnDelete update strategy leaves updates to "
                             "whoever deletes the pods",
                             e->who, ready);
        return;
    }
    if (partition >= 0) {
        int64_t want = partition < spec ? spec - partition : 0;

        if (updated < want) {
            if (partition > 0)
                p4_healtheval_result(e, P4_HEALTH_IN_PROGRESS, false, "RolloutInProgress",
                                     "%s: %" PRId64 " of %" PRId64 " replicas updated to %s "
                                     "(partition %" PRId64 " keeps the others at the old revision)",
                                     e->who, updated, want, rev, partition);
            else
                p4_healtheval_result(e, P4_HEALTH_IN_PROGRESS, false, "RolloutInProgress",
                                     "%s: %" PRId64 " of %" PRId64 " replicas updated to %s",
                                     e->who, updated, want, rev);
            return;
        }
        if (partition > 0 && want < spec)
            p4_healtheval_result(e, P4_HEALTH_CURRENT, false, "Ready",
                                 "%s: partitioned rollout complete, %" PRId64 " replica%s at %s, "
                                 "partition %" PRId64 " keeps %" PRId64 " at %s",
                                 e->who, updated, p4_objtext_plural(updated), rev, partition,
                                 spec - want, old_rev);
        else
            p4_healtheval_result(e, P4_HEALTH_CURRENT, false, "Ready",
                                 "%s: all %" PRId64 " replicas ready and updated", e->who, spec);
        return;
    }
    if (spec > current || strcmp(current_rev, update_rev) != 0) {
        p4_healtheval_result(e, P4_HEALTH_IN_PROGRESS, false, "RolloutInProgress",
                             "%s: %" PRId64 " of %" PRId64 " replicas updated to %s", e->who,
                             updated, spec, rev);
        return;
    }
    p4_healtheval_result(e, P4_HEALTH_CURRENT, false, "Ready",
                         "%s: all %" PRId64 " replicas ready at %s", e->who, spec, rev);
}

void p4_healthworkload_daemonset(struct p4_healtheval *e)
{
    int64_t desired = p4_healtheval_count(e, "status.desiredNumberScheduled", -1);
    int64_t current = p4_healtheval_count(e, "status.currentNumberScheduled", 0);
    int64_t updated = p4_healtheval_count(e, "status.updatedNumberScheduled", 0);
    int64_t available = p4_healtheval_count(e, "status.numberAvailable", 0);
    int64_t ready = p4_healtheval_count(e, "status.numberReady", 0);
    bool on_delete = p4_text_eq(p4_healtheval_text(e, "spec.updateStrategy.type"), "OnDelete");
    char counts[P4_HEALTHEVAL_COUNTS_SIZE];
    size_t n;

    if (p4_healtheval_malformed(e))
        return;
    /* The controller always sets these; without them it has not acted yet (as kstatus). */
    if (p4_json_int64(e->obj, "metadata.generation", NULL) != 0 ||
        p4_json_int64(e->obj, "status.observedGeneration", NULL) != 0) {
        p4_healtheval_result(
            e, P4_HEALTH_IN_PROGRESS, false, "ObservedGenerationBehind",
            "%s: the controller has not observed it yet (no status.observedGeneration)", e->who);
        return;
    }
    if (desired < 0) {
        p4_healtheval_result(e, P4_HEALTH_IN_PROGRESS, false, "RolloutInProgress",
                             "%s: the controller has not counted the nodes yet "
                             "(no status.desiredNumberScheduled)",
                             e->who);
        return;
    }
    if (on_delete)
        updated = desired;
    if (desired > current || desired > updated || desired > available || desired > ready) {
        p4_text_format(counts, sizeof(counts),
                       "%" PRId64 " of %" PRId64 " pods updated, %" PRId64 " available", updated,
                       desired, available);
        n = strlen(counts);
        if (ready != available)
            p4_text_format(counts + n, sizeof(counts) - n, ", %" PRId64 " ready", ready);
        n = strlen(counts);
        if (desired > current)
            p4_text_format(counts + n, sizeof(counts) - n,
                           ", %" PRId64 " node%s still without a pod", desired - current,
                           p4_objtext_plural(desired - current));
        p4_healtheval_result(e, P4_HEALTH_IN_PROGRESS, false, "RolloutInProgress", "%s: %s", e->who,
                             counts);
        return;
    }
    p4_healtheval_result(e, P4_HEALTH_CURRENT, false, "Ready",
                         "%s: all %" PRId64 " scheduled pods updated and available", e->who,
                         desired);
}

void p4_healthworkload_replicaset(struct p4_healtheval *e)
{
    int64_t spec = p4_healtheval_count(e, "spec.replicas", 1);
    int64_t replicas = p4_healtheval_count(e, "status.replicas", 0);
    int64_t labeled = p4_healtheval_count(e, "status.fullyLabeledReplicas", 0);
    int64_t available = p4_healtheval_count(e, "status.availableReplicas", 0);
    int64_t ready = p4_healtheval_count(e, "status.readyReplicas", 0);
    char msg[P4_HEALTHEVAL_TEXT_SHOWN], why[P4_HEALTH_REASON_MAX];
    struct p4_healtheval_cond failure;
    bool failing = p4_healtheval_cond_is(e, "ReplicaFailure", "True", &failure);

    if (p4_healtheval_malformed(e))
        return;
    if (failing) {
        p4_objtext_clip(msg, sizeof(msg), failure.message);
        p4_objtext_clip(why, sizeof(why),
                        p4_healtheval_reason_or(failure.reason, "ReplicaFailure"));
        p4_healtheval_result(e, P4_HEALTH_FAILED, false, "ReplicaFailure",
                             "%s: cannot create pods (%s), %" PRId64 " of %" PRId64
                             " replicas exist%s%s",
                             e->who, why, replicas, spec, p4_objtext_colon(msg), msg);
        return;
    }
    if (spec > labeled || spec > available || spec > ready) {
        p4_healtheval_result(e, P4_HEALTH_IN_PROGRESS, false, "RolloutInProgress",
                             "%s: %" PRId64 " of %" PRId64 " replicas available, %" PRId64 " ready",
                             e->who, available, spec, ready);
        return;
    }
    if (replicas > spec) {
        p4_healtheval_result(e, P4_HEALTH_IN_PROGRESS, false, "RolloutInProgress",
                             "%s: %" PRId64 " replicas available, %" PRId64
                             " extra replica%s terminating",
                             e->who, spec, replicas - spec, p4_objtext_plural(replicas - spec));
        return;
    }
    p4_healtheval_result(e, P4_HEALTH_CURRENT, false, "Ready",
                         "%s: all %" PRId64 " replicas available", e->who, spec);
}
