/*
 * stage.h: the interface every stage (Docker, Helm, Kubernetes, Validation)
 * implements, so the reconciler drives them the same way.
 *
 * start() begins checking the gates for one generation of one resource and
 * returns at once (work runs on the loop); called again for the generation
 * it is already checking, it does nothing. poll() is called on every
 * reconcile of the resource to advance it; result() says where the stage
 * stands; forget() drops the resource's state (deleted, suspended). A stage
 * that can undo what it did (Kubernetes: what it applied) has finalize(),
 * which the reconciler calls while a resource it holds a finalizer on is
 * being deleted (docs/architecture.md, "Deleting a resource"). A stage
 * keeps its own per-resource state, keyed by the resource's key and
 * generation, reports each gate in gates[], and tells the reconciler when a
 * result changed through the callback it was built with. suspend() stops a run at a safe point
 * and lets it go on; retry() runs a failed one again; rollback() re-applies an older
 * generation's manifest (docs/architecture.md#failures).
 *
 * Failures carry a class (docs/architecture.md#failures): transient ones are retried
 * by the stage with backoff while it stays RUNNING; artifact ones are retried
 * rollout.retries times, then stalled (a new image or chart is needed);
 * cluster-level ones stall at once (a person must act), and are re-checked
 * now and then so a fix is noticed.
 */
#ifndef PHASE4_STAGE_H
#define PHASE4_STAGE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "phase4/core/buf.h"
#include "phase4/core/error.h"

enum p4_stage_id {
    P4_STAGE_DOCKER,
    P4_STAGE_HELM,
    P4_STAGE_KUBERNETES,
    P4_STAGE_VALIDATION,
    P4_STAGE_COUNT
};

enum p4_stage_state {
    P4_STAGE_RUNNING, /* gates still being checked */
    P4_STAGE_PASSED,  /* every gate True */
    P4_STAGE_FAILED,  /* a gate False; err says which and why */
};

enum p4_failure_class {
    P4_FAIL_NONE,
    P4_FAIL_TRANSIENT, /* network, 5xx, timeouts: retried with backoff */
    P4_FAIL_ARTIFACT,  /* image or chart at fault: retried rollout.retries times */
    P4_FAIL_CLUSTER,   /* RBAC, credentials, CA, quota: a person must act */
};

struct p4_stage_result {
    enum p4_stage_state state;
    enum p4_failure_class cls; /* FAILED: why; RUNNING: P4_FAIL_TRANSIENT while waiting out one */
    bool stalled;              /* FAILED and no automatic retry is left */
    bool no_recheck;           /* stalled and not checked again: only a new generation helps */
    int attempt, attempts;     /* artifact failures: this was attempt `attempt` of `attempts` */
    int64_t generation;        /* the generation these results are for */
    bool resumed; /* the run began for an older generation whose spec differs from this one's
                     only in spec.suspend: its pass on record for that one holds for this one */
    bool retried; /* run again on demand (phase4.io/retry): a failure on record is not current */
    int64_t rollback_to; /* 0, or the result is of a rollback run re-applying this generation's
                            manifest (the rollback op), not of a run for `generation` */
    struct p4_error err; /* FAILED: the failing gate's reason and message; RUNNING: the
                            transient problem being waited out, or code 0 */
    cJSON *gates;        /* array of {stage, name, status, reason, message}; owned by the result */
    cJSON *status;       /* members of status the stage owns (e.g. "image"), or NULL; owned */
};

/* Free what a result owns (gates, status); the struct itself is the caller's. */
void p4_stage_result_close(struct p4_stage_result *r);

/* What a stage's uninstall of one resource being deleted has done (finalize()). */
#define P4_FINALIZE_TEXT_MAX 1024
struct p4_finalize_result {
    bool done;     /* nothing more will be done: the finalizer may go */
    int deleted;   /* objects deleted (the created namespace included) */
    int not_ours;  /* left alone: another owner, or another resource of the same name */
    int orphaned;  /* objects whose ownership marks were taken off (deletionPolicy Orphan) */
    int kept;      /* kept on purpose: CRDs without DeleteCRDs, a namespace not known empty */
    int remaining; /* objects still there (being deleted, refused, or waiting for others) */
    char left[P4_FINALIZE_TEXT_MAX];     /* what is still there, "Deployment a/b, ..." (cut) */
    char kept_why[P4_FINALIZE_TEXT_MAX]; /* why the namespace was kept, or "" */
    /* Why the first of what remains does not go (an object held by another finalizer, a delete
       the API server refuses): reason "" when nothing is stuck. */
    char blocked_reason[64];
    char blocked_message[P4_ERROR_MESSAGE_MAX];
};

struct p4_stage_ops {
    const char *name;      /* "Docker" */
    const char *condition; /* "DockerReady" */
    /* obj is borrowed; ctx is the stage's own state for the runtime it was given. */
    int (*start)(void *ctx, const char *key, const cJSON *obj, struct p4_error *err);
    int (*poll)(void *ctx, const char *key, const cJSON *obj);
    /* 0 and *out filled (caller closes it), or P4_ERR_NOTFOUND when nothing was started. */
    int (*result)(void *ctx, const char *key, struct p4_stage_result *out);
    void (*forget)(void *ctx, const char *key);
    /*
     * Optional (without it a suspended resource's run is forgotten). on: stop key's run at its
     * next safe point (an apply or a step under way ends first; a wait stops at once); returns
     * true while it still works toward that point. off: go on where it stopped, for obj (whose
     * spec may differ from the run's only in spec.suspend); returns false.
     */
    bool (*suspend)(void *ctx, const char *key, const cJSON *obj, bool on);
    /* Optional: run key's failed stage again from its first attempt (phase4.io/retry). 0, or
       P4_ERR_NOTFOUND when key has no failed run. */
    int (*retry)(void *ctx, const char *key);
    /*
     * Optional (the Kubernetes stage): roll key back to generation to's manifest (its stored
     * Secret, phase4/reconciler/manifest.h), as obj's resource (who acts for it, its target,
     * status.inventory to prune against): a rollback run replaces key's run and applies it with
     * the ownership and prune rules of any apply, hooks not run, and waits for it to be healthy;
     * result() then gives its result with rollback_to set (one attempt: a failure is final).
     * Called again while key's run is a rollback to `to`, it does nothing. A start() later
     * replaces a rollback run with a run for the resource's generation. 0, or an error (err).
     */
    int (*rollback)(void *ctx, const char *key, const cJSON *obj, int64_t to, struct p4_error *err);
    /* Append the stage's own /metrics series (Prometheus text) to out. */
    void (*metrics)(void *ctx, struct p4_buf *out);
    /*
     * Optional. obj (borrowed) is being deleted: begin (on the first call) or go on undoing
     * what the stage did for it, and say where that stands in *out (zeroed by the stage). The
     * work runs on the loop; the changed callback tells when *out would say something new.
     * 0, or an error when it cannot even begin (the reconciler retries).
     */
    int (*finalize)(void *ctx, const char *key, const cJSON *obj, struct p4_finalize_result *out);
    /* Optional, with finalize: the finalizer is gone; drop what finalize kept for key. */
    void (*finalized)(void *ctx, const char *key);
    /*
     * Optional. obj's pass is on record and trusted after a restart (reconcile.h): no run
     * begins for key until its recheck. Watch what must be watched for it meanwhile (the
     * Kubernetes stage: the objects it applied, so drift ends the trust).
     */
    void (*trusted)(void *ctx, const char *key, const cJSON *obj);
};

/* How a stage is doing, for /metrics. */
struct p4_stage_stats {
    size_t resources;                         /* results held */
    int running, waiting;                     /* attempts running now; waiting for a slot */
    size_t checking, passed, failed, stalled; /* resources by result (failed: retrying) */
};

/* The stages in pipeline order; an entry's ops are NULL until its stage is built. */
const char *p4_stage_name(enum p4_stage_id id);
const char *p4_stage_condition(enum p4_stage_id id);

#endif
