/*
 * plan.h: the approval plan (status.plan) the Helm stage builds from its server-side dry run;
 * internal to stages/helm. See README.md, "Approval", and docs/architecture.md.
 *
 * For a resource whose spec asks for approval, S_DRYRUN tells each rendered object's dry-run
 * answer to the plan: an answer without a resourceVersion is an object the API server does not
 * have (it would be created); for one it has, the live object is read (as the identity acting
 * for the resource) and compared with the answer field by field (jsondiff.h), leaving out what
 * the API server keeps for itself (metadata.managedFields, resourceVersion, generation, uid,
 * creationTimestamp, status) and the Kubernetes stage's ownership marks (phase4.io/ labels and
 * annotations, and the app.kubernetes.io/managed-by label, which the dry run does not carry). What
 * the last revision applied (status.inventory) and this one does not render is to be pruned, except
 * CustomResourceDefinitions and Namespaces, which the Kubernetes stage never prunes (listed apart
 * as kept). Lists are bounded: PLAN_OBJECTS_MAX objects each, PLAN_PATHS_MAX paths an object, the
 * rest counted.
 *
 * Pure: no I/O. Ownership: struct plan owns what it holds (p4_plan_close frees it); everything
 * given is borrowed for the call.
 */
#ifndef PHASE4_HELM_PLAN_H
#define PHASE4_HELM_PLAN_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "phase4/core/strmap.h"

#define PLAN_OBJECTS_MAX 20 /* objects listed in each of create, change, prune and kept */
#define PLAN_PATHS_MAX 10   /* changed field paths listed for one object */

struct plan {
    cJSON *create, *change; /* bounded lists of {kind, namespace?, name[, paths, pathsMore]} */
    int ncreate, nchange, nunchanged;
    struct p4_strmap rendered; /* "group/Kind/namespace/name" of every object rendered */
};

void p4_plan_init(struct plan *p);
void p4_plan_close(struct plan *p);

/* Whether a dry-run answer is an object the API server does not have yet (no resourceVersion). */
bool p4_plan_answer_is_new(const cJSON *answer);

/*
 * One rendered object (api_version, kind, namespace: "" when cluster-scoped, name), told once:
 * created, or compared (live: the object as the API server has it; answer: its dry-run
 * answer). unread: the live object could not be read (why says so); it counts as changed with
 * its paths unknown.
 */
void p4_plan_created(struct plan *p, const char *api_version, const char *kind, const char *ns,
                     const char *name);
void p4_plan_compared(struct plan *p, const char *api_version, const char *kind, const char *ns,
                      const char *name, const cJSON *live, const cJSON *answer);
void p4_plan_unread(struct plan *p, const char *api_version, const char *kind, const char *ns,
                    const char *name, const char *why);

/*
 * status.plan (caller frees): {generation, summary, counts{create, change, unchanged, prune},
 * create[], createMore, change[], changeMore, prune[], pruneMore, kept[], keptMore, images[]}
 * with inventory (status.inventory of the last revision, or NULL) and images (status.chart.images,
 * or NULL).
 */
cJSON *p4_plan_status(const struct plan *p, int64_t generation, const cJSON *inventory,
                      const cJSON *images);

#endif
