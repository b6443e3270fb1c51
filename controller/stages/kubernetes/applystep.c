/*
 * applystep.c: the Kubernetes stage's attempt, S_READ then S_APPLY.
 *
 * S_READ takes the manifest the Helm stage of this process stored from memory (manifest.h's
 * memo: same Secret name and resource uid, taken once), else reads the Secret
 * status.chart.manifest names (after a restart, on a later attempt, for a rollback), and splits it
 * into objects (ManifestsValid fails when it cannot); a pod template naming no ServiceAccount gets
 * serviceAccountName "default" (kube/podspec.h). S_APPLY hands them to applyset.h, which validates
 * (ManifestsValid), applies and prunes (ResourcesCreated).
 *
 * status.inventory is written ahead: once validated, and before anything is applied, what is
 * about to be applied (with what the last revision had) goes to status.inventory through the
 * reconciler, and the apply waits until the resource's status lists it (on_planned, then
 * p4_kstage_record_poll), so a crash at any point of the apply leaves every object it may have
 * applied on record for the next revision's prune. The apply's result then becomes
 * status.inventory: on success what this revision applied, on a failure that plus what the last
 * revision had (so a later prune still finds it). A successful apply starts the wait (wait.c)
 * unless the stage had passed (an apply again for drift). S_PRUNE, once the workloads are ready,
 * prunes what the last revision had and this one does not; after an upgrade or a restart it
 * also sweeps by the ownership labels (applyset.h, opts.sweep), for what no record holds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/core/alloc.h"
#include "phase4/core/json.h"
#include "phase4/core/log.h"
#include "phase4/kube/apply.h"
#include "phase4/kube/podspec.h"
#include "phase4/reconciler/manifest.h"
#include "steps.h"

/* ---- S_READ: the manifest the Helm stage stored ---- */

void p4_kstage_read_failure(int rc, const struct p4_error *api_err, const char *ns,
                            const char *secret, struct p4_kstage_failure *f)
{
    if (rc == P4_ERR_NOTFOUND) {
        f->cls = P4_FAIL_CLUSTER;
        f->reason = "ManifestNotFound";
        (void)p4_error_set(&f->err, P4_ERR_INVALID,
                           "the rendered manifest, Secret %s/%s, is gone; a new generation (or "
                           "the Helm stage's next run) renders it again",
                           ns, secret);
        return;
    }
    f->cls = p4_kube_read_class(rc);
    f->reason = rc == P4_ERR_FORBIDDEN ? "Forbidden" : "APIUnavailable";
    f->err = *api_err;
}

cJSON *p4_kstage_manifest_objects(const cJSON *secret, const char *ns, const char *name,
                                  struct p4_kstage_failure *f)
{
    struct p4_error err = {0};
    size_t len = 0;
    char *manifest = p4_manifest_secret_text(secret, P4_KUBE_STAGE_MANIFEST_MAX, &len, &err);
    cJSON *objects;

    if (manifest == NULL) {
        f->cls = P4_FAIL_CLUSTER;
        f->reason = "ManifestUnreadable";
        (void)p4_error_set(&f->err, P4_ERR_INVALID,
                           "Secret %s/%s does not hold a rendered manifest: %s", ns, name,
                           err.message);
        return NULL;
    }
    objects = p4_kstage_manifest_text_objects(manifest, len, ns, name, f);
    free(manifest);
    return objects;
}

cJSON *p4_kstage_manifest_text_objects(const char *manifest, size_t len, const char *ns,
                                       const char *name, struct p4_kstage_failure *f)
{
    struct p4_error err = {0};
    cJSON *objects = p4_manifest_split(manifest, len, &err);

    if (objects == NULL) {
        f->cls = P4_FAIL_ARTIFACT;
        f->reason = "ManifestInvalid";
        (void)p4_error_set(&f->err, P4_ERR_INVALID, "the rendered manifest in Secret %s/%s: %s", ns,
                           name, err.message);
        return NULL;
    }
    /* A pod template naming no ServiceAccount names "default", so dropping one is applied
       (kube/podspec.h says why). */
    for (cJSON *o = objects->child; o != NULL; o = o->next)
        (void)p4_podspec_default_service_account(o);
    *f = (struct p4_kstage_failure){.cls = P4_FAIL_NONE};
    return objects;
}

/* The manifest's hooks taken out: the step that comes next (hooks.c runs them). */
static int hooks_next(struct run *r)
{
    struct work *w = r->w;
    cJSON *pre, *post;
    int skipped, npre, npost;

    p4_kstage_split_hooks(w->objects, r->hook_install, &pre, &post, &skipped);
    npre = cJSON_GetArraySize(pre);
    npost = cJSON_GetArraySize(post);
    r->has_post_hooks = npost > 0;
    if (r->hooks_post_pending) {
        w->hooks = post;
        cJSON_Delete(pre);
        return S_POST_HOOKS;
    }
    if (r->prune_now) {
        cJSON_Delete(pre);
        cJSON_Delete(post);
        return S_PRUNE;
    }
    cJSON_Delete(post);
    if (npre > 0 && !r->hooks_pre_done) {
        w->hooks = pre;
        return S_PRE_HOOKS;
    }
    cJSON_Delete(pre);
    if (npre == 0 && npost == 0)
        p4_stagerun_gate(&r->base, G_HOOKS, "True", "NoHooks", "the chart has no %s or %s hooks%s",
                         p4_kstage_hook_phase_name(false, r->hook_install),
                         p4_kstage_hook_phase_name(true, r->hook_install),
                         skipped ? " (its other hooks do not run on this event)" : "");
    else if (!r->hooks_post_done && r->base.state != P4_STAGE_PASSED)
        p4_stagerun_gate(&r->base, G_HOOKS, "Unknown", "Waiting",
                         "%d %s hook(s) run once the workloads are ready", npost,
                         p4_kstage_hook_phase_name(true, r->hook_install));
    return S_APPLY;
}

static void on_manifest(struct p4_kube_result *res, void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);
    struct p4_kstage_failure f = {0};

    if (r == NULL)
        return;
    if (res->rc != 0) {
        p4_kstage_read_failure(res->rc, &res->err, r->base.ns, r->secret, &f);
        p4_stagerun_fail(&r->base, f.cls, G_MANIFESTS, f.reason, &f.err);
        return;
    }
    r->w->objects = p4_kstage_manifest_objects(res->body, r->base.ns, r->secret, &f);
    if (r->w->objects == NULL) {
        p4_stagerun_fail(&r->base, f.cls, G_MANIFESTS, f.reason, &f.err);
        return;
    }
    p4_stagerun_next(&r->base, hooks_next(r));
}

void p4_kstage_read_manifest(struct run *r)
{
    char path[1024], rv[64];
    size_t len = 0;
    char *text;
    struct p4_kstage_failure f = {0};

    r->base.pending = 0;
    /* What the Helm stage of this process stored, from memory (manifest.h's memo): the Secret
       is read only after a restart, a retry, or when the copy is gone. */
    text = p4_manifest_memo_take(r->k->cfg.memo, r->base.key, r->base.uid, r->secret,
                                 uv_now(r->k->sr.loop), P4_KUBE_STAGE_MANIFEST_MAX, &len, rv,
                                 sizeof(rv));
    if (text != NULL) {
        p4_log(P4_LOG_DEBUG, "rendered manifest taken from memory", "key", r->base.key, "secret",
               r->secret, "resourceVersion", rv, P4_LOG_END);
        r->w->objects = p4_kstage_manifest_text_objects(text, len, r->base.ns, r->secret, &f);
        free(text);
        if (r->w->objects == NULL)
            p4_stagerun_fail(&r->base, f.cls, G_MANIFESTS, f.reason, &f.err);
        else
            p4_stagerun_next(&r->base, hooks_next(r));
        return;
    }
    p4_core_path(path, sizeof(path), r->base.ns, "secrets", r->secret);
    if (p4_stagerun_request(&r->base, r->k->cfg.kube, "GET", path, on_manifest) != 0)
        p4_stagerun_failf(&r->base, P4_FAIL_TRANSIENT, G_MANIFESTS, "APIUnavailable",
                          "cannot ask the API server for Secret %s/%s", r->base.ns, r->secret);
}

/* ---- S_APPLY ---- */

/*
 * What the next apply prunes against: what this run applied last, else (before that, and
 * while the last revision's leftovers wait for this one's workloads) status.inventory.
 */
static const struct p4_inventory *prune_base(const struct run *r)
{
    return r->applied && !r->prune_pending ? &r->inv : &r->previous;
}
/*
 * status.inventory (JSON text): what was applied, and with leftovers (a failed apply, or one
 * not pruned yet) also what the prune base has and applied does not; *nleft (may be NULL)
 * gets how many of those there were.
 */
static char *inventory_text(const struct run *r, const struct p4_inventory *applied, bool leftovers,
                            size_t *nleft)
{
    struct p4_inventory rest = {NULL, 0};
    cJSON *json = p4_inventory_to_json(applied), *more;
    const cJSON *it;
    char *text;

    if (nleft != NULL)
        *nleft = 0;
    if (leftovers && p4_inventory_diff(prune_base(r), applied, &rest) == 0) {
        if (nleft != NULL)
            *nleft = rest.n;
        more = p4_inventory_to_json(&rest);
        while ((it = more->child) != NULL)
            cJSON_AddItemToArray(json, cJSON_DetachItemViaPointer(more, (cJSON *)it));
        cJSON_Delete(more);
    }
    p4_inventory_close(&rest);
    text = p4_json_print(json);
    cJSON_Delete(json);
    return text;
}

/* ---- the write-ahead record ---- */

bool p4_kstage_recorded(const struct p4_inventory *planned, const cJSON *recorded)
{
    struct p4_inventory have = {NULL, 0}, missing = {NULL, 0};
    bool all;

    if (planned == NULL || planned->n == 0)
        return true;
    if (!cJSON_IsArray(recorded) || p4_inventory_from_json(recorded, &have, NULL, NULL) != 0)
        return false;
    all = p4_inventory_diff(planned, &have, &missing) == 0 && missing.n == 0;
    p4_inventory_close(&have);
    p4_inventory_close(&missing);
    return all;
}

static void go_apply(struct run *r)
{
    r->w->recording = false;
    (void)uv_timer_stop(&r->base.timer);
    p4_applyset_resume(r->w->apply);
}

/* The record did not reach the status in time (the status write keeps failing): try again. */
static void on_record_timeout(uv_timer_t *t)
{
    struct run *r = t->data;
    struct p4_applyset *a;

    if (r->w == NULL || !r->w->recording || r->w->apply == NULL)
        return;
    a = r->w->apply;
    r->w->apply = NULL;
    r->w->recording = false;
    p4_applyset_cancel(a); /* its callback finds nothing to record */
    p4_stagerun_failf(&r->base, P4_FAIL_TRANSIENT, G_CREATED, "InventoryNotRecorded",
                      "the %zu object(s) about to be applied could not be recorded in "
                      "status.inventory within %d s; nothing was applied, retrying",
                      r->w->planned.n, P4_KSTAGE_RECORD_MS / 1000);
}

/* Validated, nothing applied yet: put what will be applied on record first. */
static void on_planned(const struct p4_inventory *inv, void *data)
{
    struct run *r = data;

    p4_inventory_close(&r->w->planned);
    p4_inventory_copy(inv, &r->w->planned);
    free(r->inventory);
    r->inventory = inventory_text(r, inv, true, NULL);
    r->w->recording = true;
    if (r->base.state != P4_STAGE_PASSED)
        p4_stagerun_gate(&r->base, G_CREATED, "Unknown", "Recording",
                         "recording %zu object(s) in status.inventory before applying them",
                         inv->n);
    p4_stagerun_arm(&r->base, P4_KSTAGE_RECORD_MS, on_record_timeout);
    p4_stagerun_notify(&r->base); /* the reconciler writes it; poll sees it written */
}

void p4_kstage_record_poll(struct run *r, const cJSON *obj)
{
    if (r->w == NULL || !r->w->recording || r->w->apply == NULL)
        return;
    if (!p4_kstage_recorded(&r->w->planned, p4_json_get(obj, "status.inventory")))
        return;
    if (r->base.state != P4_STAGE_PASSED)
        p4_stagerun_gate(&r->base, G_CREATED, "Unknown", "Applying", "applying %zu object(s)",
                         r->w->planned.n);
    go_apply(r);
}

bool p4_kstage_apply_failure(const struct p4_applyset_result *res, int *gate,
                             enum p4_failure_class *cls, const char **reason)
{
    if (res->rc == P4_ERR_CANCELED)
        return false;
    *gate = res->validated ? G_CREATED : G_MANIFESTS;
    *cls = res->cls == P4_FAIL_NONE ? P4_FAIL_TRANSIENT : res->cls;
    *reason = res->err.reason ? res->err.reason : "ApplyFailed";
    return true;
}

static void on_applied(const struct p4_applyset_result *res, void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);
    size_t leftovers = 0;
    bool again;

    if (r == NULL)
        return;
    r->w->apply = NULL;
    if (res->rc != 0) {
        struct p4_error err = res->err;
        enum p4_failure_class cls;
        const char *reason;
        int gate;
        if (res->validated) {
            free(r->inventory);
            r->inventory = inventory_text(r, &res->applied, true, NULL);
            p4_stagerun_gate(&r->base, G_MANIFESTS, "True", "Valid",
                             "the manifest's objects are known kinds in namespace %s",
                             r->base.target_ns);
        }
        if (p4_kstage_apply_failure(res, &gate, &cls, &reason))
            p4_stagerun_fail(&r->base, cls, gate, reason, &err);
        return;
    }
    again = r->applied;
    r->drift = false; /* everything was just put back (a change seen meanwhile was ours) */
    free(r->inventory);
    /* Without the prune the last revision's leftovers stay listed until the workloads are
       ready; with it, the inventory is this revision's. */
    r->inventory = inventory_text(r, &res->applied, r->w->no_prune, &leftovers);
    /* An upgrade (or a run after a restart) also sweeps by label once, after the workloads are
       ready, when its apply did not prune. */
    r->prune_pending = leftovers > 0 || (r->w->no_prune && r->previous.n > 0 && !r->swept);
    p4_inventory_close(&r->inv);
    p4_inventory_copy(&res->applied, &r->inv);
    free(r->gens);
    r->gens = p4_calloc(r->inv.n ? r->inv.n : 1, sizeof(*r->gens));
    if (res->generations && r->inv.n == res->applied.n)
        memcpy(r->gens, res->generations, r->inv.n * sizeof(*r->gens));
    p4_stagerun_gate(&r->base, G_MANIFESTS, "True", "Valid",
                     "%zu object(s), all known kinds in namespace %s%s", res->applied.n,
                     r->base.target_ns, r->allow_cluster ? " or cluster-scoped" : "");
    if (leftovers > 0)
        p4_stagerun_gate(&r->base, G_CREATED, "True", "Applied",
                         "%zu object(s) applied (%zu created, %zu changed); %zu of the last "
                         "revision's are pruned once the workloads are ready%s",
                         res->applied.n, res->created.n, res->changed.n, leftovers,
                         res->taken && res->taken[0] ? "; fields changed by hand were put back"
                                                     : "");
    else
        p4_stagerun_gate(&r->base, G_CREATED, "True", "Applied",
                         "%zu object(s) applied (%zu created, %zu changed); %d pruned%s%s",
                         res->applied.n, res->created.n, res->changed.n, res->pruned,
                         res->prune_skipped ? ", some left alone (not ours)" : "",
                         res->taken && res->taken[0] ? "; fields changed by hand were put back"
                                                     : "");
    if (res->adopted > 0) /* an Adopted Event on the next poll */
        (void)snprintf(r->adopt_event, sizeof(r->adopt_event),
                       "took over %d object(s) an earlier Phase4Deployment named %s left "
                       "(spec.adopt is true); they are this resource's now",
                       res->adopted, r->base.name);
    /* Something had to be put back: a DriftCorrected Event on the next poll. */
    (void)p4_kstage_drift_message(res, again, r->base.generation, r->drift_event,
                                  sizeof(r->drift_event));
    r->applied = true;
    if (r->base.state != P4_STAGE_PASSED) { /* a first apply, or a retry: wait again */
        r->waiting = true;
        r->wait_failed = false;
        r->deadline = uv_now(r->k->sr.loop) + r->timeout_ms;
        p4_stagerun_gate(&r->base, G_PODS, "Unknown", "Waiting", "waiting for the workloads");
    }
    p4_stagerun_end_attempt(&r->base); /* the wait holds no slot */
    (void)p4_kstage_watch_ns(r);
    p4_kstage_evaluate(r, true);
}

void p4_kstage_apply(struct run *r)
{
    struct p4_kube_stage *k = r->k;
    /* Before the stage passed (a new revision, or a retry) nothing is pruned: what the last
       revision had goes once this one's workloads are ready (S_PRUNE). */
    bool no_prune = r->base.state != P4_STAGE_PASSED;
    struct p4_applyset_opts o = {
        .no_prune = no_prune,
        .namespace_ = r->base.target_ns,
        .owner_namespace = r->base.ns,
        .owner_name = r->base.name,
        .generation = p4_kstage_revision(r),
        .force = r->force,
        .create_namespace = r->create_namespace,
        .previous = prune_base(r),
        .take_from_updaters = true,
        .scope_namespace = r->base.target_ns,
        .allow_cluster_scoped = r->allow_cluster,
        .planned = on_planned,
        .owner_uid = r->base.uid,
        .owner_created = r->created,
        .adopt = r->adopt,
    };

    r->base.pending = 0;
    r->w->no_prune = no_prune;
    if (r->base.state != P4_STAGE_PASSED) /* applying again after a pass (drift) is quiet */
        p4_stagerun_gate(&r->base, G_CREATED, "Unknown", "Applying", "applying %d object(s)",
                         cJSON_GetArraySize(r->w->objects));
    r->base.inflight++;
    if (p4_applyset_run(r->base.kube, k->cfg.discovery, r->w->objects, &o, on_applied, r,
                        &r->w->apply) != 0) {
        r->base.inflight--;
        p4_stagerun_failf(&r->base, P4_FAIL_TRANSIENT, G_CREATED, "ApplyFailed",
                          "cannot start applying the manifest");
        return;
    }
    cJSON_Delete(r->w->objects); /* copied by the apply */
    r->w->objects = NULL;
}

/* ---- S_PRUNE: what the last revision had, once this one's workloads are ready ---- */

static void on_pruned(const struct p4_applyset_result *res, void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);
    struct p4_error err;
    enum p4_failure_class cls;
    const char *reason;
    int gate;

    if (r == NULL)
        return;
    r->w->apply = NULL;
    if (res->rc != 0) {
        err = res->err;
        if (p4_kstage_apply_failure(res, &gate, &cls, &reason))
            p4_stagerun_fail(&r->base, cls, G_CREATED, reason, &err);
        return;
    }
    r->prune_pending = r->prune_now = false;
    r->swept = true;
    free(r->inventory);
    r->inventory = inventory_text(r, &res->applied, false, NULL);
    p4_stagerun_gate(
        &r->base, G_CREATED, "True", "Applied",
        "%zu object(s) applied; %d of the last revision's pruned once the "
        "workloads were ready%s%s%s",
        res->applied.n, res->pruned, res->prune_skipped ? ", some left alone (not ours)" : "",
        res->swept ? ", found by their ownership labels as well as status.inventory" : "",
        res->sweep_skipped ? "; kinds that may not be listed (RBAC) were not searched "
                             "by label"
                           : "");
    p4_stagerun_end_attempt(&r->base);
    p4_kstage_evaluate(r, true);
}

void p4_kstage_prune(struct run *r)
{
    struct p4_kube_stage *k = r->k;
    struct p4_applyset_opts o = {
        .prune_only = true,
        .namespace_ = r->base.target_ns,
        .owner_namespace = r->base.ns,
        .owner_name = r->base.name,
        .generation = p4_kstage_revision(r),
        .previous = &r->previous,
        .scope_namespace = r->base.target_ns,
        .allow_cluster_scoped = r->allow_cluster,
        .sweep = !r->swept,
        .owner_uid = r->base.uid,
        .owner_created = r->created,
    };

    r->base.pending = 0;
    r->base.inflight++;
    if (p4_applyset_run(r->base.kube, k->cfg.discovery, r->w->objects, &o, on_pruned, r,
                        &r->w->apply) != 0) {
        r->base.inflight--;
        p4_stagerun_failf(&r->base, P4_FAIL_TRANSIENT, G_CREATED, "ApplyFailed",
                          "cannot start pruning the last revision's objects");
    }
}
