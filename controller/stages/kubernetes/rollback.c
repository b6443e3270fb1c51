/*
 * rollback.c: the Kubernetes stage's rollback run (stage.h's rollback op; docs/architecture.md,
 * "Rollback to the last good revision").
 *
 * A rollback run is a run of this stage like any other, for the resource's generation, but it
 * reads an older generation's manifest (the Secret phase4.<name>.v<to> the Helm stage stored,
 * its images already pinned) and marks what it applies with that generation. It goes through
 * the same steps: S_READ, S_APPLY with the write-ahead inventory and status.inventory as the
 * prune base, the wait (spec.rollout.timeout), then S_PRUNE of what the failed generation had
 * and `to` does not, once `to`'s workloads are ready. The chart's hooks are not run (they ran
 * when `to` was applied first), and it has one attempt and no re-check: the reconciler treats
 * its failure as final and escalates it.
 */
#include <string.h>

#include "phase4/core/alloc.h"
#include "phase4/core/json.h"
#include "phase4/reconciler/manifest.h"
#include "steps.h"

int64_t p4_kstage_revision(const struct run *r)
{
    return r->rollback_to > 0 ? r->rollback_to : r->base.generation;
}

bool p4_kstage_is_rollback(const struct p4_kube_stage *k, const char *key)
{
    const struct run *r = (const struct run *)p4_stagerunner_get(&k->sr, key);

    return r != NULL && r->rollback_to > 0;
}

int p4_kstage_rollback(void *ctx, const char *key, const cJSON *obj, int64_t to,
                       struct p4_error *err)
{
    struct p4_kube_stage *k = ctx;
    const struct run *cur = (const struct run *)p4_stagerunner_get(&k->sr, key);
    const char *ns = p4_json_str(obj, "metadata.namespace");
    const char *name = p4_json_str(obj, "metadata.name");
    const char *target = p4_tenancy_target(obj);
    char secret[P4_MANIFEST_SECRET_NAME_MAX + 1];
    struct run *r;

    if (cur != NULL && cur->rollback_to == to)
        return 0; /* rolling back to it already, or done (the reconciler drops a failed one) */
    if (ns == NULL || name == NULL || target == NULL || to <= 0)
        return p4_error_set(err, P4_ERR_INVAL,
                            "a rollback needs metadata.namespace, metadata.name, "
                            "spec.target.namespace and a generation above 0");
    p4_manifest_secret_name(secret, sizeof(secret), name, to);
    if (secret[0] == '\0')
        return p4_error_set(err, P4_ERR_INVAL, "no manifest Secret name for generation %lld",
                            (long long)to);
    p4_kstage_start_watching(k);
    r = p4_calloc(1, sizeof(*r));
    r->k = k;
    r->rollback_to = to;
    r->secret = p4_strdup(secret);
    (void)p4_json_bool(obj, "spec.target.createNamespace", &r->create_namespace);
    (void)p4_json_bool(obj, "spec.target.allowClusterScoped", &r->allow_cluster);
    (void)p4_json_bool(obj, "spec.rollout.force", &r->force);
    r->timeout_ms = p4_duration_ms(p4_json_str(obj, "spec.rollout.timeout"), 600000);
    if (p4_inventory_from_json(p4_json_get(obj, "status.inventory"), &r->previous, NULL, NULL) != 0)
        p4_inventory_close(&r->previous);            /* unreadable: nothing to prune */
    p4_stagerun_add_for(&k->sr, &r->base, key, obj); /* replaces key's run; begins next turn */
    /* One attempt, no re-check: a rollback that fails is escalated, not looped. */
    r->base.attempt = r->base.attempts = 1;
    r->base.retried = false;
    r->base.no_recheck = true;
    /* The hooks ran when `to` was applied first; status.hooks stays the failed generation's. */
    r->hook_install = r->previous.n == 0;
    r->hooks_pre_done = r->hooks_post_done = true;
    return 0;
}

int p4_kstage_result(void *ctx, const char *key, struct p4_stage_result *out)
{
    struct p4_kube_stage *k = ctx;
    const struct run *r = (const struct run *)p4_stagerunner_get(&k->sr, key);
    int rc = p4_stagerunner_result_op(ctx, key, out);

    if (rc == 0 && r != NULL)
        out->rollback_to = r->rollback_to;
    return rc;
}

int p4_kstage_retry(void *ctx, const char *key)
{
    struct p4_kube_stage *k = ctx;

    if (p4_kstage_is_rollback(k, key)) {
        /* A retry runs the resource's own generation again, not the rollback: the next start()
           begins that run anew. */
        p4_stagerunner_forget(&k->sr, key);
        return P4_ERR_NOTFOUND;
    }
    return p4_stagerunner_retry_op(ctx, key);
}
