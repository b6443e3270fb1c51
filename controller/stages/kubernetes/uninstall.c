/*
 * uninstall.c: what the Kubernetes stage applied for a resource, removed when the resource is
 * deleted (stage.h's finalize op; docs/architecture.md, "Deleting a resource").
 *
 * One uninstall per resource being deleted, kept until the reconciler says the finalizer is
 * gone (finalized), and driven on the loop:
 *
 *   1. U_OWN_NS: is the resource's own namespace terminating? Then its ServiceAccount and
 *      RoleBindings may be gone already, so requests made as it are refused: one pass is made,
 *      and what it could not remove is reported and left (never waited for).
 *   2. U_PASS: an applyset run in uninstall mode (applyset.h: prune_only, no objects) over
 *      what is still to do, first status.inventory, with the sweep by label (the stage's own
 *      smoke-test Jobs in another target namespace too) on the first pass. Delete policies
 *      delete, tier by tier; Orphan takes the marks off. What remains (terminating, refused,
 *      waiting for a tier) is tried again after a backoff, until none does.
 *   3. U_NAMESPACE, U_NS_LIST, U_NS_DELETE: the target namespace, when spec.target.
 *      createNamespace is set, it is not the resource's own, it carries our owner and uid
 *      marks (applyobject.c marks a namespace it creates) and each kind of a short list
 *      (p4_kstage_ns_foreign) holds nothing else: deleted (with a uid precondition). When
 *      unsure (a list refused, another object), it is kept and kept_why says why. Orphan takes
 *      its marks off.
 *
 * Every request for the resource goes through the identity that acts for it (tenancy.h, as
 * p4_stagerun_add_for gives a run), never the operator's own rights; only the read of the
 * resource's own namespace (cluster state) is the operator's. The timeout is the reconciler's.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "applysteps.h"
#include "phase4/core/alloc.h"
#include "phase4/core/json.h"
#include "phase4/core/log.h"
#include "phase4/core/text.h"
#include "phase4/reconciler/stagerun.h"
#include "phase4/stages/kubernetes/applymark.h"
#include "steps.h"

enum phase { U_OWN_NS, U_PASS, U_NAMESPACE, U_NS_LIST, U_NS_DELETE, U_DONE };

struct uninstall {
    struct p4_kube_stage *k;
    char *key, *uid, *ns, *name, *target_ns, *created;
    struct p4_kube *kube; /* who acts for the resource */
    bool own_kube;
    enum p4_kstage_policy policy;
    bool create_namespace, ns_terminating, swept;
    enum phase phase;
    struct p4_inventory todo; /* what is still there */
    struct p4_applyset *apply;
    uv_timer_t timer;
    int inflight; /* answers still due (the applyset counts as one) */
    bool gone;
    int passes;
    size_t list_i;    /* U_NS_LIST: the kind being listed */
    char *list_token; /* its continue token */
    char ns_uid[128]; /* the target namespace's uid, for the delete's precondition */
    struct p4_finalize_result out;
};

/* The kinds a namespace is looked through before it is deleted (p4_kstage_ns_foreign). */
static const struct {
    const char *prefix, *resource, *kind;
} ns_kinds[] = {
    {"/api/v1", "configmaps", "ConfigMap"},
    {"/api/v1", "secrets", "Secret"},
    {"/api/v1", "services", "Service"},
    {"/api/v1", "serviceaccounts", "ServiceAccount"},
    {"/api/v1", "persistentvolumeclaims", "PersistentVolumeClaim"},
    {"/api/v1", "pods", "Pod"},
    {"/apis/apps/v1", "deployments", "Deployment"},
    {"/apis/apps/v1", "statefulsets", "StatefulSet"},
    {"/apis/apps/v1", "daemonsets", "DaemonSet"},
    {"/apis/batch/v1", "jobs", "Job"},
    {"/apis/batch/v1", "cronjobs", "CronJob"},
    {"/apis/networking.k8s.io/v1", "ingresses", "Ingress"},
    {"/apis/networking.k8s.io/v1", "networkpolicies", "NetworkPolicy"},
    {"/apis/rbac.authorization.k8s.io/v1", "roles", "Role"},
    {"/apis/rbac.authorization.k8s.io/v1", "rolebindings", "RoleBinding"},
    {"/apis/policy/v1", "poddisruptionbudgets", "PodDisruptionBudget"},
    {"/apis/autoscaling/v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler"},
    {"/apis/phase4.io/v1alpha1", "phase4deployments", "Phase4Deployment"},
};
#define NS_KINDS (sizeof(ns_kinds) / sizeof(ns_kinds[0]))

/* ---- pure decisions ---- */

enum p4_kstage_policy p4_kstage_deletion_policy(const cJSON *obj)
{
    const char *p = p4_json_str(obj, "spec.deletionPolicy");

    if (p4_text_eq(p, "Orphan"))
        return P4_POLICY_ORPHAN;
    if (p4_text_eq(p, "DeleteCRDs"))
        return P4_POLICY_DELETE_CRDS;
    return P4_POLICY_DELETE;
}

const char *p4_kstage_policy_name(enum p4_kstage_policy p)
{
    return p == P4_POLICY_ORPHAN ? "Orphan" : p == P4_POLICY_DELETE_CRDS ? "DeleteCRDs" : "Delete";
}

uint64_t p4_kstage_uninstall_backoff(int pass)
{
    return p4_backoff_ms(500, pass, 5000);
}

void p4_kstage_list_entries(const struct p4_inventory *inv, char *buf, size_t size)
{
    size_t used = 0;

    if (size == 0)
        return;
    buf[0] = '\0';
    for (size_t i = 0; inv && i < inv->n; i++) {
        char what[700], more[48], after[48] = "";
        int n;
        p4_text_format(what, sizeof(what), "%s %s%s%s", inv->items[i].kind,
                       inv->items[i].namespace_, inv->items[i].namespace_[0] ? "/" : "",
                       inv->items[i].name);
        (void)snprintf(more, sizeof(more), " and %zu more", inv->n - i);
        if (i + 1 < inv->n)
            (void)snprintf(after, sizeof(after), " and %zu more", inv->n - i - 1);
        /* Room for this one and, after it, the "and N more" of those after it. */
        if (used + strlen(what) + 2 + strlen(after) >= size) {
            if (used + strlen(more) < size)
                (void)snprintf(buf + used, size - used, "%s", more);
            return;
        }
        n = snprintf(buf + used, size - used, "%s%s", i ? ", " : "", what);
        if (n < 0)
            return;
        used += (size_t)n;
    }
}

bool p4_kstage_ns_foreign(const char *kind, const cJSON *item, const char *owner_ns,
                          const char *owner_name, const char *owner_uid)
{
    const char *name = p4_json_str(item, "metadata.name");
    enum p4_applyset_claim claim;

    if (!cJSON_IsObject(item) || name == NULL)
        return false; /* nothing to name: not an object */
    if (p4_json_get(item, "metadata.deletionTimestamp") != NULL)
        return false; /* going already */
    claim = p4_applyset_claim(item, owner_ns, owner_name, owner_uid);
    if (claim == P4_CLAIM_OURS || claim == P4_CLAIM_NO_UID)
        return false; /* ours (in a namespace we made, one without uid is ours from before) */
    if (p4_text_eq(kind, "ConfigMap") && strcmp(name, "kube-root-ca.crt") == 0)
        return false; /* every namespace gets it */
    if (p4_text_eq(kind, "ServiceAccount") && strcmp(name, "default") == 0)
        return false;
    if (p4_text_eq(kind, "Secret") &&
        p4_text_eq(p4_json_str(item, "type"), "kubernetes.io/service-account-token") &&
        p4_text_eq(p4_json_str(p4_json_child(p4_json_get(item, "metadata.annotations"),
                                             "kubernetes.io/service-account.name"),
                               NULL),
                   "default"))
        return false;
    /* A pod or Job some other object owns is judged by that owner's kind. */
    if ((p4_text_eq(kind, "Pod") || p4_text_eq(kind, "Job")) &&
        cJSON_GetArraySize(p4_json_get(item, "metadata.ownerReferences")) > 0)
        return false;
    return true;
}

/* ---- the uninstall's lifetime ---- */

static void on_closed(uv_handle_t *h)
{
    struct uninstall *u = h->data;

    if (u->own_kube)
        p4_kube_close(u->kube);
    p4_inventory_close(&u->todo);
    free(u->key);
    free(u->uid);
    free(u->ns);
    free(u->name);
    free(u->target_ns);
    free(u->created);
    free(u->list_token);
    free(u);
}

static void maybe_free(struct uninstall *u)
{
    if (u->gone && u->inflight == 0 && !uv_is_closing((uv_handle_t *)&u->timer))
        uv_close((uv_handle_t *)&u->timer, on_closed);
}

/* Dropped (finalized, replaced, the stage closing): what is in flight ends on its own. */
static void drop(struct uninstall *u)
{
    u->gone = true;
    (void)uv_timer_stop(&u->timer);
    if (u->apply) {
        struct p4_applyset *a = u->apply;
        u->apply = NULL;
        p4_applyset_cancel(a); /* its callback comes now and finds u gone */
    }
    maybe_free(u);
}

/* First thing in every answer: u, or NULL when it was dropped meanwhile. */
static struct uninstall *back(void *data)
{
    struct uninstall *u = data;

    u->inflight--;
    if (u->gone) {
        maybe_free(u);
        return NULL;
    }
    return u;
}

static void notify(struct uninstall *u)
{
    if (u->k->cfg.changed)
        u->k->cfg.changed(u->key, u->k->cfg.data);
}

static void step(uv_timer_t *t);

static void go(struct uninstall *u, enum phase p, uint64_t ms)
{
    u->phase = p;
    (void)uv_timer_start(&u->timer, step, ms, 0);
}

static void finish(struct uninstall *u)
{
    u->out.done = true;
    u->phase = U_DONE;
    p4_log(P4_LOG_INFO, "uninstall done", "key", u->key, "policy", p4_kstage_policy_name(u->policy),
           "remaining", u->out.left, P4_LOG_END);
    notify(u);
}

static void blocked(struct uninstall *u, const char *reason, const char *message)
{
    (void)snprintf(u->out.blocked_reason, sizeof(u->out.blocked_reason), "%s",
                   reason ? reason : "");
    (void)snprintf(u->out.blocked_message, sizeof(u->out.blocked_message), "%s",
                   message ? message : "");
}

static void keep_namespace(struct uninstall *u, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void keep_namespace(struct uninstall *u, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(u->out.kept_why, sizeof(u->out.kept_why), fmt, ap);
    va_end(ap);
    (void)p4_text_clean(u->out.kept_why, sizeof(u->out.kept_why), u->out.kept_why,
                        strlen(u->out.kept_why), P4_TEXT_CONTROL_SPACE | P4_TEXT_KEEP_RUNS);
    u->out.kept++;
    finish(u);
}

/* ---- U_OWN_NS ---- */

static void on_own_ns(struct p4_kube_result *res, void *data)
{
    struct uninstall *u = back(data);

    if (u == NULL)
        return;
    u->ns_terminating = res->rc == 0 && p4_json_get(res->body, "metadata.deletionTimestamp");
    go(u, U_PASS, 0);
}

static void own_ns(struct uninstall *u)
{
    char path[512];

    (void)snprintf(path, sizeof(path), "/api/v1/namespaces/");
    if (p4_kube_escape(u->ns, path + strlen(path), sizeof(path) - strlen(path)) != 0 ||
        p4_kube_request(u->k->cfg.kube, "GET", path, NULL, NULL, 0, on_own_ns, u) != 0) {
        go(u, U_PASS, 0);
        return;
    }
    u->inflight++;
}

/* ---- U_PASS ---- */

static void on_pass(const struct p4_applyset_result *res, void *data)
{
    struct uninstall *u = back(data);

    if (u == NULL)
        return;
    u->apply = NULL;
    u->passes++;
    if (res->rc != 0) { /* the pass itself failed (discovery, the API server): again */
        blocked(u, res->err.reason ? res->err.reason : "UninstallFailed", res->err.message);
        if (u->ns_terminating) {
            p4_kstage_list_entries(&u->todo, u->out.left, sizeof(u->out.left));
            u->out.remaining = (int)u->todo.n;
            finish(u);
            return;
        }
        notify(u);
        go(u, U_PASS, p4_kstage_uninstall_backoff(u->passes));
        return;
    }
    u->swept = true;
    u->out.deleted += res->pruned;
    u->out.not_ours += res->prune_skipped;
    u->out.orphaned += res->unmarked;
    u->out.kept += res->kept;
    p4_inventory_close(&u->todo);
    p4_inventory_copy(&res->remaining, &u->todo);
    u->out.remaining = (int)u->todo.n;
    p4_kstage_list_entries(&u->todo, u->out.left, sizeof(u->out.left));
    if (res->blocked.code != 0)
        blocked(u, res->blocked.reason, res->blocked.message);
    else
        blocked(u, "", "");
    if (u->todo.n == 0) {
        go(u, U_NAMESPACE, 0);
        return;
    }
    if (u->ns_terminating) { /* its identity may be gone: one pass only, then report */
        finish(u);
        return;
    }
    notify(u);
    go(u, U_PASS, p4_kstage_uninstall_backoff(u->passes));
}

static void pass(struct uninstall *u)
{
    struct p4_inventory also = {NULL, 0};
    char api[] = "batch/v1", kind[] = "Job", none_name[] = "";
    struct p4_inv_entry job = {api, kind, u->target_ns, none_name};
    cJSON *none = p4_json_need(cJSON_CreateArray());
    bool other_ns = u->target_ns[0] && strcmp(u->target_ns, u->ns) != 0;
    struct p4_applyset_opts o = {
        .prune_only = true,
        .namespace_ = u->target_ns,
        .owner_namespace = u->ns,
        .owner_name = u->name,
        .owner_uid = u->uid,
        .owner_created = u->created,
        .previous = &u->todo,
        .sweep = !u->swept,
        .uninstall = true,
        .unmark = u->policy == P4_POLICY_ORPHAN,
        .delete_crds = u->policy == P4_POLICY_DELETE_CRDS,
        .sweep_stage_work = true,
        .sweep_also = &also,
    };
    int rc;

    /* A smoke-test Job in another namespace has no ownerReference to collect it by. */
    if (other_ns) {
        also.items = &job;
        also.n = 1;
    }
    rc = p4_applyset_run(u->kube, u->k->cfg.discovery, none, &o, on_pass, u, &u->apply);
    cJSON_Delete(none);
    if (rc != 0) {
        blocked(u, "UninstallFailed", "cannot start removing what the resource applied");
        go(u, U_PASS, p4_kstage_uninstall_backoff(++u->passes));
        return;
    }
    u->inflight++;
}

/* ---- U_NAMESPACE, U_NS_LIST, U_NS_DELETE ---- */

static void ns_path(const struct uninstall *u, char *buf, size_t size)
{
    (void)snprintf(buf, size, "/api/v1/namespaces/");
    if (p4_kube_escape(u->target_ns, buf + strlen(buf), size - strlen(buf)) != 0)
        buf[0] = '\0';
}

static void on_ns_deleted(struct p4_kube_result *res, void *data)
{
    struct uninstall *u = back(data);

    if (u == NULL)
        return;
    if (res->rc == 0 || res->rc == P4_ERR_NOTFOUND) {
        if (res->rc == 0)
            u->out.deleted++;
        finish(u);
    } else if (res->rc == P4_ERR_CONFLICT) { /* the uid precondition: not the one we made */
        finish(u);
    } else {
        keep_namespace(u, "namespace %s was not deleted: %s", u->target_ns, res->err.message);
    }
}

static void ns_delete(struct uninstall *u)
{
    char path[512];
    char *body = p4_applyset_delete_body(u->ns_uid);
    int rc;

    ns_path(u, path, sizeof(path));
    rc = path[0] ? p4_kube_request(u->kube, "DELETE", path, "application/json", body, strlen(body),
                                   on_ns_deleted, u)
                 : P4_ERR_TOOBIG;
    free(body);
    if (rc != 0) {
        keep_namespace(u, "namespace %s could not be deleted (%s)", u->target_ns, p4_strerror(rc));
        return;
    }
    u->inflight++;
}

static void on_ns_listed(struct p4_kube_result *res, void *data)
{
    struct uninstall *u = back(data);
    const cJSON *item;
    const char *token;

    if (u == NULL)
        return;
    if (res->rc == P4_ERR_NOTFOUND) { /* the kind is not served: nothing of it */
        free(u->list_token);
        u->list_token = NULL;
        u->list_i++;
        go(u, U_NS_LIST, 0);
        return;
    }
    if (res->rc != 0) {
        keep_namespace(u,
                       "namespace %s was kept: %s could not be listed in it (%s), so it may hold "
                       "what this resource did not apply",
                       u->target_ns, ns_kinds[u->list_i].resource, res->err.message);
        return;
    }
    cJSON_ArrayForEach(item, p4_json_get(res->body, "items")) {
        if (p4_kstage_ns_foreign(ns_kinds[u->list_i].kind, item, u->ns, u->name, u->uid)) {
            keep_namespace(u,
                           "namespace %s was kept: it also holds %s %s, which this resource did "
                           "not apply",
                           u->target_ns, ns_kinds[u->list_i].kind,
                           p4_json_str(item, "metadata.name"));
            return;
        }
    }
    token = p4_json_str(res->body, "metadata.continue");
    free(u->list_token);
    u->list_token = token && token[0] ? p4_strdup(token) : NULL;
    if (u->list_token == NULL)
        u->list_i++;
    go(u, U_NS_LIST, 0);
}

static void ns_list(struct uninstall *u)
{
    char path[1536], ens[256], etoken[1024];
    int n;

    if (u->list_i >= NS_KINDS) {
        go(u, U_NS_DELETE, 0);
        return;
    }
    if (p4_kube_escape(u->target_ns, ens, sizeof(ens)) != 0 ||
        (u->list_token && p4_kube_escape(u->list_token, etoken, sizeof(etoken)) != 0)) {
        keep_namespace(u, "namespace %s was kept: it could not be looked through", u->target_ns);
        return;
    }
    n = snprintf(path, sizeof(path), "%s/namespaces/%s/%s?limit=200%s%s",
                 ns_kinds[u->list_i].prefix, ens, ns_kinds[u->list_i].resource,
                 u->list_token ? "&continue=" : "", u->list_token ? etoken : "");
    if (n < 0 || (size_t)n >= sizeof(path) ||
        p4_kube_request(u->kube, "GET", path, NULL, NULL, 0, on_ns_listed, u) != 0) {
        keep_namespace(u, "namespace %s was kept: it could not be looked through", u->target_ns);
        return;
    }
    u->inflight++;
}

static void on_unmarked_ns(struct p4_kube_result *res, void *data)
{
    struct uninstall *u = back(data);

    if (u == NULL)
        return;
    if (res->rc == 0)
        u->out.orphaned++;
    else if (res->rc != P4_ERR_NOTFOUND && res->rc != P4_ERR_CONFLICT)
        (void)snprintf(u->out.kept_why, sizeof(u->out.kept_why),
                       "the marks of namespace %s could not be taken off: %s", u->target_ns,
                       res->err.message);
    finish(u);
}

static void on_ns_got(struct p4_kube_result *res, void *data)
{
    struct uninstall *u = back(data);
    enum p4_applyset_claim claim;
    const char *uid;
    char path[512];

    if (u == NULL)
        return;
    if (res->rc == P4_ERR_NOTFOUND) {
        finish(u);
        return;
    }
    if (res->rc != 0) {
        keep_namespace(u, "namespace %s was kept: it could not be read (%s)", u->target_ns,
                       res->err.message);
        return;
    }
    claim = p4_applyset_claim(res->body, u->ns, u->name, u->uid);
    uid = p4_json_str(res->body, "metadata.uid");
    if (u->policy == P4_POLICY_ORPHAN) {
        char *body;
        if ((claim != P4_CLAIM_OURS && claim != P4_CLAIM_NO_UID) || uid == NULL) {
            finish(u);
            return;
        }
        ns_path(u, path, sizeof(path));
        body = p4_applyset_unmark_patch(res->body, uid);
        if (path[0] == '\0' ||
            p4_kube_request(u->kube, "PATCH", path, "application/merge-patch+json", body,
                            strlen(body), on_unmarked_ns, u) != 0) {
            free(body);
            finish(u);
            return;
        }
        free(body);
        u->inflight++;
        return;
    }
    if (p4_json_get(res->body, "metadata.deletionTimestamp") != NULL) {
        finish(u); /* going already */
        return;
    }
    if (claim == P4_CLAIM_NONE) { /* it was there before: not ours to delete, nothing to say */
        finish(u);
        return;
    }
    /* Marked with our name but not our uid: made by an earlier resource of this name (or by
       this one before uids were marked), so it is not known to be this resource's own. */
    if (claim != P4_CLAIM_OURS || uid == NULL || u->uid[0] == '\0') {
        keep_namespace(u,
                       "namespace %s was kept: it does not carry this resource's uid (%s), so "
                       "it may not be this resource's to delete",
                       u->target_ns, P4_APPLYSET_ANNOTATION_OWNER_UID);
        return;
    }
    (void)snprintf(u->ns_uid, sizeof(u->ns_uid), "%s", uid);
    u->list_i = 0;
    go(u, U_NS_LIST, 0);
}

static void namespace_step(struct uninstall *u)
{
    char path[512];

    if (!u->create_namespace || u->target_ns[0] == '\0' || strcmp(u->target_ns, u->ns) == 0) {
        finish(u);
        return;
    }
    ns_path(u, path, sizeof(path));
    if (path[0] == '\0' ||
        p4_kube_request(u->kube, "GET", path, NULL, NULL, 0, on_ns_got, u) != 0) {
        keep_namespace(u, "namespace %s was kept: it could not be read", u->target_ns);
        return;
    }
    u->inflight++;
}

static void step(uv_timer_t *t)
{
    struct uninstall *u = t->data;

    if (u->gone)
        return;
    switch (u->phase) {
    case U_OWN_NS:
        own_ns(u);
        break;
    case U_PASS:
        pass(u);
        break;
    case U_NAMESPACE:
        namespace_step(u);
        break;
    case U_NS_LIST:
        ns_list(u);
        break;
    case U_NS_DELETE:
        ns_delete(u);
        break;
    case U_DONE:
        break;
    }
}

/* ---- stage.h's finalize and finalized ---- */

static struct uninstall *begin(struct p4_kube_stage *k, const char *key, const cJSON *obj)
{
    struct uninstall *u = p4_calloc(1, sizeof(*u));
    const char *uid = p4_json_str(obj, "metadata.uid");
    const char *target = p4_tenancy_target(obj);
    char user[P4_KUBE_USER_MAX];

    u->k = k;
    u->key = p4_strdup(key);
    u->uid = p4_strdup(uid ? uid : "");
    u->ns = p4_strdup(p4_json_str(obj, "metadata.namespace"));
    u->name = p4_strdup(p4_json_str(obj, "metadata.name"));
    u->target_ns = p4_strdup(target ? target : "");
    u->created = p4_strdup_or_null(p4_json_str(obj, "metadata.creationTimestamp"));
    u->policy = p4_kstage_deletion_policy(obj);
    (void)p4_json_bool(obj, "spec.target.createNamespace", &u->create_namespace);
    if (p4_inventory_from_json(p4_json_get(obj, "status.inventory"), &u->todo, NULL, NULL) != 0)
        p4_inventory_close(&u->todo); /* unreadable: the sweep by label is all there is */
    /* The identity that acts for the resource, as every run of the stage has it. */
    p4_tenancy_user(k->cfg.tenancy, obj, user, sizeof(user));
    u->kube = k->cfg.kube;
    if (user[0] && p4_kube_as(k->cfg.kube, user, &u->kube) == 0)
        u->own_kube = true;
    (void)uv_timer_init(k->sr.loop, &u->timer);
    u->timer.data = u;
    p4_log(P4_LOG_INFO, "uninstall begins", "key", key, "policy", p4_kstage_policy_name(u->policy),
           "as", user[0] ? user : "the operator", P4_LOG_END);
    go(u, U_OWN_NS, 0);
    return u;
}

int p4_kstage_finalize(void *ctx, const char *key, const cJSON *obj, struct p4_finalize_result *out)
{
    struct p4_kube_stage *k = ctx;
    struct uninstall *u = p4_strmap_get(&k->uninstalls, key);
    const char *uid = p4_json_str(obj, "metadata.uid");

    memset(out, 0, sizeof(*out));
    if (p4_json_str(obj, "metadata.namespace") == NULL || p4_json_str(obj, "metadata.name") == NULL)
        return P4_ERR_INVAL;
    if (u != NULL && !p4_text_eq(u->uid, uid ? uid : "")) { /* another resource of that name */
        (void)p4_strmap_del(&k->uninstalls, key);
        drop(u);
        u = NULL;
    }
    if (u == NULL) {
        u = begin(k, key, obj);
        (void)p4_strmap_put(&k->uninstalls, key, u);
    }
    *out = u->out;
    if (!u->out.done && u->todo.n > 0 && u->out.remaining == 0 && u->passes == 0) {
        out->remaining = (int)u->todo.n; /* before the first pass: all of it */
        p4_kstage_list_entries(&u->todo, out->left, sizeof(out->left));
    }
    return 0;
}

void p4_kstage_finalized(void *ctx, const char *key)
{
    struct p4_kube_stage *k = ctx;
    struct uninstall *u = p4_strmap_del(&k->uninstalls, key);

    if (u != NULL)
        drop(u);
}

void p4_kstage_uninstalls_free(struct p4_kube_stage *k)
{
    size_t pos = 0;
    const struct p4_strmap_entry *e;

    while ((e = p4_strmap_next(&k->uninstalls, &pos)) != NULL)
        drop(e->value);
    p4_strmap_close(&k->uninstalls);
}
