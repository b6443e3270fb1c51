/*
 * hooks.c: the chart's Helm hooks, run as Helm runs them (steps S_PRE_HOOKS and
 * S_POST_HOOKS; gate HooksCompleted).
 *
 * helm template renders hooks as plain objects, marked with the helm.sh/hook annotation. They
 * are taken out of the set the stage applies (p4_kstage_split_hooks): pre-install or
 * pre-upgrade hooks run before the apply, post-install or post-upgrade hooks once the
 * workloads are ready, each phase in helm.sh/hook-weight order (then by name), one at a time.
 * A hook is applied with the operator's marks (applymark.h), never into the inventory, so it
 * is neither pruned nor drift; a Job or Pod hook is waited for until it completes (a Job gone
 * meanwhile, removed by its ttlSecondsAfterFinished or a delete policy, is done), other kinds
 * are done once applied. helm.sh/hook-delete-policy is honoured: before-hook-creation (Helm's
 * default) deletes the last run's object first, hook-succeeded and hook-failed delete it
 * after. test hooks are the Validation stage's; delete and rollback hooks have no event here.
 *
 * A generation runs each phase once: install when nothing was applied before, else upgrade,
 * recorded in status.hooks with the phases that succeeded, so a restart does not run a hook
 * of the same generation again.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "applysteps.h"
#include "phase4/core/alloc.h"
#include "phase4/core/json.h"
#include "phase4/core/text.h"
#include "phase4/kube/apply.h"
#include "phase4/kube/discovery.h"
#include "phase4/reconciler/manifest.h"
#include "phase4/stages/kubernetes/applymark.h"
#include "steps.h"

#define HOOK_POLL_MS 1000 /* GET a running Job or Pod hook this often */
#define GONE_POLL_MS 250  /* GET a deleted hook this often until it is gone */

/* ---- the decisions ---- */

static const char *annotation(const cJSON *obj, const char *key)
{
    return p4_json_str(p4_json_child(p4_json_get(obj, "metadata.annotations"), key), NULL);
}

enum p4_kstage_hook p4_kstage_hook_of(const cJSON *obj, bool install)
{
    const char *hook = annotation(obj, "helm.sh/hook");

    if (hook == NULL)
        return P4_HOOK_NONE;
    if (p4_manifest_has_word(hook, install ? "pre-install" : "pre-upgrade"))
        return P4_HOOK_PRE;
    if (p4_manifest_has_word(hook, install ? "post-install" : "post-upgrade"))
        return P4_HOOK_POST;
    return P4_HOOK_SKIP; /* test, delete, rollback, or the other event's */
}

unsigned p4_kstage_hook_policy(const cJSON *obj)
{
    const char *policy = annotation(obj, "helm.sh/hook-delete-policy");
    unsigned bits = 0;

    if (policy == NULL || policy[0] == '\0')
        return P4_HOOK_DELETE_BEFORE; /* Helm's default */
    if (p4_manifest_has_word(policy, "before-hook-creation"))
        bits |= P4_HOOK_DELETE_BEFORE;
    if (p4_manifest_has_word(policy, "hook-succeeded"))
        bits |= P4_HOOK_DELETE_SUCCEEDED;
    if (p4_manifest_has_word(policy, "hook-failed"))
        bits |= P4_HOOK_DELETE_FAILED;
    return bits;
}

/* Helm's order: weight, then kind and name (so the order is the same on every run). */
static int hook_cmp(const void *a, const void *b)
{
    const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
    long wx = p4_manifest_hook_weight(x), wy = p4_manifest_hook_weight(y);
    const char *nx = p4_json_str(x, "metadata.name"), *ny = p4_json_str(y, "metadata.name");
    const char *kx = p4_json_str(x, "kind"), *ky = p4_json_str(y, "kind");
    int c;

    if (wx != wy)
        return wx < wy ? -1 : 1;
    if ((c = strcmp(nx ? nx : "", ny ? ny : "")) != 0)
        return c;
    return strcmp(kx ? kx : "", ky ? ky : "");
}

/* The hooks in list (n of them, taken) as a new array, in Helm's order. */
static cJSON *sorted(cJSON **list, size_t n)
{
    cJSON *out = p4_json_need(cJSON_CreateArray());

    if (n > 1)
        qsort((void *)list, n, sizeof(cJSON *), hook_cmp);
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(out, list[i]);
    return out;
}

void p4_kstage_split_hooks(cJSON *objects, bool install, cJSON **pre, cJSON **post, int *skipped)
{
    size_t n = (size_t)cJSON_GetArraySize(objects), npre = 0, npost = 0;
    cJSON **a = p4_calloc(n ? n : 1, sizeof(cJSON *)), **b = p4_calloc(n ? n : 1, sizeof(cJSON *));
    cJSON *it = objects->child, *next;

    *skipped = 0;
    for (; it != NULL; it = next) {
        enum p4_kstage_hook h = p4_kstage_hook_of(it, install);
        next = it->next;
        if (h == P4_HOOK_NONE)
            continue;
        (void)cJSON_DetachItemViaPointer(objects, it);
        if (h == P4_HOOK_PRE)
            a[npre++] = it;
        else if (h == P4_HOOK_POST)
            b[npost++] = it;
        else {
            (*skipped)++;
            cJSON_Delete(it);
        }
    }
    *pre = sorted(a, npre);
    *post = sorted(b, npost);
    free(a);
    free(b);
}

enum p4_kstage_hook_state p4_kstage_hook_state(int rc, const cJSON *obj, char *why, size_t size)
{
    const char *kind = p4_json_str(obj, "kind");
    const cJSON *c;

    why[0] = '\0';
    if (rc == P4_ERR_NOTFOUND)
        return P4_HOOK_DONE; /* removed by its ttlSecondsAfterFinished or a delete policy */
    if (rc != 0 || kind == NULL)
        return P4_HOOK_RUNNING;
    if (strcmp(kind, "Job") == 0) {
        cJSON_ArrayForEach(c, p4_json_get(obj, "status.conditions")) {
            const char *type = p4_json_str(c, "type"), *status = p4_json_str(c, "status");
            if (!p4_text_eq(status, "True"))
                continue;
            if (p4_text_eq(type, "Complete") || p4_text_eq(type, "SuccessCriteriaMet"))
                return P4_HOOK_DONE;
            if (p4_text_eq(type, "Failed")) {
                const char *r = p4_json_str(c, "reason"), *m = p4_json_str(c, "message");
                p4_text_format(why, size, "%s%s%s", r ? r : "Failed", m ? ": " : "", m ? m : "");
                return P4_HOOK_FAILED;
            }
        }
        return P4_HOOK_RUNNING;
    }
    if (strcmp(kind, "Pod") == 0) {
        const char *phase = p4_json_str(obj, "status.phase");
        if (p4_text_eq(phase, "Succeeded"))
            return P4_HOOK_DONE;
        if (p4_text_eq(phase, "Failed")) {
            const char *m = p4_json_str(obj, "status.message");
            p4_text_format(why, size, "the pod failed%s%s", m ? ": " : "", m ? m : "");
            return P4_HOOK_FAILED;
        }
        return P4_HOOK_RUNNING;
    }
    return P4_HOOK_DONE;
}

const char *p4_kstage_hook_phase_name(bool post, bool install)
{
    return post ? (install ? "post-install" : "post-upgrade")
                : (install ? "pre-install" : "pre-upgrade");
}

/* ---- running them ---- */

static void hook_start(struct run *r);

static cJSON *current(const struct run *r)
{
    return cJSON_GetArrayItem(r->w->hooks, r->w->hook_i);
}

static const char *phase_of(const struct run *r)
{
    return p4_kstage_hook_phase_name(r->w->hook_post, r->hook_install);
}

/* The namespace obj names, else the target's (where an object that names none lands). */
static const char *hook_namespace(const struct run *r, const cJSON *obj)
{
    const char *ns = p4_json_str(obj, "metadata.namespace");

    return ns != NULL && ns[0] != '\0' ? ns : r->base.target_ns;
}

/* "pre-install hook Job shop/web-migrate" into buf. */
static void describe(const struct run *r, char *buf, size_t size)
{
    const cJSON *obj = current(r);
    const char *kind = p4_json_str(obj, "kind"), *name = p4_json_str(obj, "metadata.name");
    const char *ns = r->w->hook_namespaced ? hook_namespace(r, obj) : "";

    p4_text_format(buf, size, "%s hook %s %.64s%s%s", phase_of(r), kind ? kind : "?", ns,
                   ns[0] ? "/" : "", name ? name : "?");
}

static void hook_failed(struct run *r, enum p4_failure_class cls, const char *reason,
                        const char *why)
{
    char what[600];

    describe(r, what, sizeof(what));
    p4_stagerun_failf(&r->base, cls, G_HOOKS, reason, "%s %s", what, why);
}

/* A request about the current hook's object (r->w->hook_path); 0 or -1 (nothing sent). */
static int hook_request(struct run *r, const char *method, const char *body, p4_kube_cb cb)
{
    r->base.inflight++;
    if (p4_kube_request(r->base.kube, method, r->w->hook_path, NULL, body, body ? strlen(body) : 0,
                        cb, r) != 0) {
        r->base.inflight--;
        return -1;
    }
    return 0;
}

static void hook_get(struct run *r, p4_kube_cb cb)
{
    if (hook_request(r, "GET", NULL, cb) != 0)
        hook_failed(r, P4_FAIL_TRANSIENT, "APIUnavailable", "cannot be read");
}

/* DELETE the current hook's object, in the background, only the one read (uid). */
static void hook_delete(struct run *r, const char *uid, p4_kube_cb cb)
{
    char *body = p4_applyset_delete_body(uid);
    int rc = hook_request(r, "DELETE", body, cb);

    free(body);
    if (rc != 0)
        hook_failed(r, P4_FAIL_TRANSIENT, "APIUnavailable", "cannot be deleted");
}

/* An answer other than success or NotFound fails the gate (true): Forbidden, or the API. */
static bool api_failed(struct run *r, const struct p4_kube_result *res)
{
    struct p4_error e;

    if (res->rc == 0 || res->rc == P4_ERR_NOTFOUND)
        return false;
    e = res->err;
    p4_stagerun_fail(&r->base, p4_kube_read_class(res->rc), G_HOOKS,
                     res->rc == P4_ERR_FORBIDDEN ? "Forbidden" : "APIUnavailable", &e);
    return true;
}

/* The hook is over (done, or failed and recorded): the next one. */
static void hook_advance(struct run *r)
{
    r->w->hook_i++;
    hook_start(r);
}

static void on_deleted_after(struct p4_kube_result *res, void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);

    if (r == NULL)
        return;
    if (api_failed(r, res))
        return;
    if (r->w->hook_why[0] != '\0') { /* it had failed: now that its policy is done, say so */
        hook_failed(r, P4_FAIL_ARTIFACT, "HookFailed", r->w->hook_why);
        return;
    }
    hook_advance(r);
}

static void on_hook_timer(uv_timer_t *t);
static void on_hook_state(struct p4_kube_result *res, void *data);

/* What the current hook's object (rc, obj) says: go on, fail, or look again later. */
static void hook_judge(struct run *r, int rc, const cJSON *obj)
{
    struct work *w = r->w;
    char why[400];

    switch (p4_kstage_hook_state(rc, obj, why, sizeof(why))) {
    case P4_HOOK_DONE:
        w->hooks_done++;
        if (rc == 0 && (w->hook_policy & P4_HOOK_DELETE_SUCCEEDED)) {
            hook_delete(r, p4_json_str(obj, "metadata.uid"), on_deleted_after);
            return;
        }
        hook_advance(r);
        return;
    case P4_HOOK_FAILED:
        p4_text_format(w->hook_why, sizeof(w->hook_why), "failed: %s", why);
        if (w->hook_policy & P4_HOOK_DELETE_FAILED) {
            hook_delete(r, p4_json_str(obj, "metadata.uid"), on_deleted_after);
            return;
        }
        hook_failed(r, P4_FAIL_ARTIFACT, "HookFailed", w->hook_why);
        return;
    case P4_HOOK_RUNNING:
        break;
    }
    if (uv_now(r->k->sr.loop) >= w->hook_deadline) {
        char msg[200];
        p4_text_format(msg, sizeof(msg),
                       "did not complete within spec.rollout.timeout (%" PRIu64 " s)",
                       r->timeout_ms / 1000);
        hook_failed(r, P4_FAIL_ARTIFACT, "HookTimedOut", msg);
        return;
    }
    p4_stagerun_arm(&r->base, HOOK_POLL_MS, on_hook_timer);
}

static void on_hook_state(struct p4_kube_result *res, void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);

    if (r == NULL)
        return;
    if (res->rc != 0 && res->rc != P4_ERR_NOTFOUND &&
        p4_kube_read_class(res->rc) != P4_FAIL_TRANSIENT) {
        struct p4_error e = res->err;
        p4_stagerun_fail(&r->base, P4_FAIL_CLUSTER, G_HOOKS,
                         res->rc == P4_ERR_FORBIDDEN ? "Forbidden" : "APIUnavailable", &e);
        return;
    }
    hook_judge(r, res->rc, res->body);
}

static void on_hook_timer(uv_timer_t *t)
{
    hook_get((struct run *)t->data, on_hook_state);
}

static void on_hook_applied(const struct p4_apply_result *res, void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);

    if (r == NULL)
        return;
    if (res->rc != 0) {
        struct p4_error e = res->err;
        enum p4_failure_class cls = p4_kube_read_class(res->rc);
        char what[600];
        describe(r, what, sizeof(what));
        p4_text_format(e.message, sizeof(e.message), "%s was refused: %s", what, res->err.message);
        p4_stagerun_fail(&r->base, cls == P4_FAIL_TRANSIENT ? cls : P4_FAIL_ARTIFACT, G_HOOKS,
                         cls == P4_FAIL_TRANSIENT ? "APIUnavailable" : "HookFailed", &e);
        return;
    }
    r->w->hook_deadline = uv_now(r->k->sr.loop) + r->timeout_ms;
    hook_judge(r, 0, res->object);
}

/* Apply the current hook (marked as the resource's; never put in the inventory). */
static void hook_apply(struct run *r)
{
    struct p4_apply_opts o = {.namespace_ = r->base.target_ns, .dry_run = false, .force = r->force};
    cJSON *obj = current(r);

    if (p4_applyset_mark(obj, r->base.ns, r->base.name, r->base.generation) != 0 ||
        p4_applyset_mark_uid(obj, r->base.uid) != 0) {
        hook_failed(r, P4_FAIL_ARTIFACT, "HookFailed", "has no metadata to mark");
        return;
    }
    r->base.inflight++;
    if (p4_apply_object(r->base.kube, r->k->cfg.discovery, obj, &o, on_hook_applied, r) != 0) {
        r->base.inflight--;
        hook_failed(r, P4_FAIL_ARTIFACT, "HookFailed", "has no apiVersion, kind or name");
    }
}

static void on_gone_timer(uv_timer_t *t);

/* Deleted before it is created again: wait until it is gone (a Job's pods go in the background). */
static void on_gone(struct p4_kube_result *res, void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);

    if (r == NULL)
        return;
    if (res->rc == P4_ERR_NOTFOUND) {
        hook_apply(r);
        return;
    }
    if (uv_now(r->k->sr.loop) >= r->w->hook_deadline) {
        hook_failed(r, P4_FAIL_TRANSIENT, "HookTimedOut",
                    "was deleted (helm.sh/hook-delete-policy before-hook-creation) and is "
                    "still there");
        return;
    }
    p4_stagerun_arm(&r->base, GONE_POLL_MS, on_gone_timer);
}

static void on_gone_timer(uv_timer_t *t)
{
    hook_get((struct run *)t->data, on_gone);
}

static void on_deleted_before(struct p4_kube_result *res, void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);

    if (r == NULL)
        return;
    if (api_failed(r, res))
        return;
    hook_get(r, on_gone);
}

/* The current hook's object as it is now: ours to replace, someone else's, or none. */
static void on_existing(struct p4_kube_result *res, void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);

    if (r == NULL)
        return;
    if (res->rc == P4_ERR_NOTFOUND) {
        hook_apply(r);
        return;
    }
    if (api_failed(r, res))
        return;
    if (!p4_applyset_owned(res->body, r->base.ns, r->base.name)) {
        hook_failed(r, P4_FAIL_CLUSTER, "ObjectNotOwned",
                    "exists and is not this Phase4Deployment's; it is left alone (delete it, "
                    "or rename the hook)");
        return;
    }
    if (!(r->w->hook_policy & P4_HOOK_DELETE_BEFORE)) {
        hook_apply(r); /* Helm would refuse; an apply may update it */
        return;
    }
    r->w->hook_deadline = uv_now(r->k->sr.loop) + r->timeout_ms;
    hook_delete(r, p4_json_str(res->body, "metadata.uid"), on_deleted_before);
}

static void on_hook_kind(int rc, const struct p4_resource_info *info, const struct p4_error *err,
                         void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);
    const cJSON *obj;

    if (r == NULL)
        return;
    obj = current(r);
    if (rc != 0) {
        struct p4_error e = *err;
        p4_stagerun_fail(&r->base, rc == P4_ERR_NOTFOUND ? P4_FAIL_ARTIFACT : P4_FAIL_TRANSIENT,
                         G_HOOKS, rc == P4_ERR_NOTFOUND ? "UnknownKind" : "APIUnavailable", &e);
        return;
    }
    r->w->hook_namespaced = info->namespaced == 1;
    /* The scope the rest of the manifest is held to (applyset's ManifestsValid check). */
    if (r->w->hook_namespaced && !p4_text_eq(hook_namespace(r, obj), r->base.target_ns)) {
        hook_failed(r, P4_FAIL_ARTIFACT, "OutOfScope",
                    "is not in spec.target.namespace; nothing outside it is applied");
        return;
    }
    if (!r->w->hook_namespaced && !r->allow_cluster) {
        hook_failed(r, P4_FAIL_ARTIFACT, "OutOfScope",
                    "is cluster-scoped, and spec.target.allowClusterScoped is not set");
        return;
    }
    if (p4_resource_path(info, r->w->hook_namespaced ? r->base.target_ns : "",
                         p4_json_str(obj, "metadata.name"), r->w->hook_path,
                         sizeof(r->w->hook_path)) != 0) {
        hook_failed(r, P4_FAIL_ARTIFACT, "HookFailed", "has too long a name");
        return;
    }
    r->w->hook_policy = p4_kstage_hook_policy(obj);
    r->w->hook_why[0] = '\0';
    hook_get(r, on_existing);
}

/* The current hook, or the phase's end. */
static void hook_start(struct run *r)
{
    struct work *w = r->w;
    const cJSON *obj = current(r);
    const char *api = p4_json_str(obj, "apiVersion"), *kind = p4_json_str(obj, "kind");

    if (obj == NULL) { /* every hook of the phase is done */
        if (w->hook_post)
            r->hooks_post_done = true;
        else
            r->hooks_pre_done = true;
        r->hooks_gen = r->base.generation;
        p4_stagerun_gate(&r->base, G_HOOKS, w->hook_post ? "True" : "Unknown", "HooksCompleted",
                         "%d %s hook(s) completed%s", w->hooks_done, phase_of(r),
                         w->hook_post ? "" : "; post hooks run once the workloads are ready");
        if (w->hook_post && r->prune_pending) {
            r->hooks_post_pending = false;
            r->prune_now = true;
            p4_stagerun_next(&r->base, S_PRUNE);
        } else if (w->hook_post) {
            r->hooks_post_pending = false;
            p4_stagerun_end_attempt(&r->base);
            p4_kstage_evaluate(r, true);
        } else {
            p4_stagerun_next(&r->base, S_APPLY);
        }
        return;
    }
    if (api == NULL || kind == NULL || p4_json_str(obj, "metadata.name") == NULL) {
        hook_failed(r, P4_FAIL_ARTIFACT, "HookFailed", "has no apiVersion, kind or name");
        return;
    }
    w->hook_namespaced = true; /* until discovery says */
    p4_stagerun_gate(&r->base, G_HOOKS, "Unknown", "Running", "running %s hook %s %s (%d of %d)",
                     phase_of(r), kind, p4_json_str(obj, "metadata.name"), w->hook_i + 1,
                     cJSON_GetArraySize(w->hooks));
    r->base.inflight++;
    if (p4_discovery_lookup(r->k->cfg.discovery, api, kind, on_hook_kind, r) != 0) {
        r->base.inflight--;
        hook_failed(r, P4_FAIL_TRANSIENT, "APIUnavailable", "cannot be looked up");
    }
}

void p4_kstage_run_hooks(struct run *r, bool post)
{
    r->w->hook_post = post;
    r->w->hook_i = 0;
    r->w->hooks_done = 0;
    hook_start(r);
}
