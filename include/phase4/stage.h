/*
 * stage.h: the interface every stage (Docker, Helm, Kubernetes, Validation)
 * implements, so the reconciler drives them the same way.
 *
 * start() begins checking the gates for one generation of one resource and
 * returns at once (work runs on the loop); poll() is called on every
 * reconcile of the resource to advance it; result() says where the stage
 * stands. A stage keeps its own per-resource state, keyed by the resource's
 * key and generation, and reports each gate in gates[].
 */
#ifndef PHASE4_STAGE_H
#define PHASE4_STAGE_H

#include <cjson/cJSON.h>

#include "phase4/error.h"

enum p4_stage_id { P4_STAGE_DOCKER, P4_STAGE_HELM, P4_STAGE_KUBERNETES, P4_STAGE_VALIDATION, P4_STAGE_COUNT };

enum p4_stage_state {
    P4_STAGE_RUNNING,   /* gates still being checked */
    P4_STAGE_PASSED,    /* every gate True */
    P4_STAGE_FAILED,    /* a gate False; err says which and why */
};

struct p4_stage_result {
    enum p4_stage_state state;
    struct p4_error err;
    cJSON *gates; /* array of {stage, name, status, reason, message}; owned by the result */
};

struct p4_stage_ops {
    const char *name;      /* "Docker" */
    const char *condition; /* "DockerReady" */
    /* obj is borrowed; ctx is the stage's own state for the runtime it was given. */
    int (*start)(void *ctx, const char *key, const cJSON *obj, struct p4_error *err);
    int (*poll)(void *ctx, const char *key, const cJSON *obj);
    int (*result)(void *ctx, const char *key, struct p4_stage_result *out);
};

/* The stages in pipeline order; an entry's ops are NULL until its stage is built. */
const char *p4_stage_name(enum p4_stage_id id);
const char *p4_stage_condition(enum p4_stage_id id);

#endif
