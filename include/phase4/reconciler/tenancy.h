/*
 * tenancy.h: who acts for a Phase4Deployment, and what it may ask for.
 *
 * A resource's work on the cluster (dry run, apply, prune, hooks, build
 * Jobs, and reading the Secrets and ConfigMaps its spec names) is done as
 * a ServiceAccount of the resource's own namespace: spec.serviceAccountName,
 * else the operator's --default-service-account. The API server then decides
 * with that account's RBAC, as if the resource's author had done it.
 *
 * With neither, the operator acts as itself, and so allows only what any
 * author of a Phase4Deployment could be trusted with: its own namespace as
 * the target, no cluster-scoped objects, no build Jobs, no reference to
 * another namespace. --no-cross-namespace-refs holds every resource to its
 * own namespace even with a ServiceAccount. docs/security.md is the model.
 *
 * Pure: no I/O, so the reconciler and every stage read the same answer.
 */
#ifndef PHASE4_TENANCY_H
#define PHASE4_TENANCY_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "phase4/core/error.h"

struct p4_tenancy {
    const char *default_service_account; /* borrowed; NULL or "": none */
    bool no_cross_namespace_refs;
};

/* The namespace obj deploys into: spec.target.namespace, else its own; borrowed from obj. */
const char *p4_tenancy_target(const cJSON *obj);
/*
 * The ServiceAccount (in obj's namespace) that acts for obj: spec.serviceAccountName,
 * else t's default; NULL when the operator acts as itself. Borrowed from obj or t.
 */
const char *p4_tenancy_service_account(const struct p4_tenancy *t, const cJSON *obj);
/*
 * The user impersonated for obj ("system:serviceaccount:NS:NAME") into out,
 * or "" when the operator acts as itself. t may be NULL.
 */
void p4_tenancy_user(const struct p4_tenancy *t, const cJSON *obj, char *out, size_t size);
/*
 * May obj be worked on as it asks? 0, or P4_ERR_FORBIDDEN with err's reason
 * TargetNotAllowed, CrossNamespaceRefNotAllowed, ClusterScopedNotAllowed or
 * BuildNotAllowed and a message that says what to change. t may be NULL.
 */
int p4_tenancy_check(const struct p4_tenancy *t, const cJSON *obj, struct p4_error *err);

#endif
