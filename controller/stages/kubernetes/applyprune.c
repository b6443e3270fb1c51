/*
 * applyprune.c: APPLY_PRUNE (see applysteps.h): each entry of the previous inventory the new one
 * does not hold, in prune order, deleted when it still carries our owner annotation and not
 * another resource's uid (with a uid precondition), left alone and counted as skipped
 * otherwise; a CustomResourceDefinition is always left, as Helm leaves it. An uninstall
 * (opts.uninstall) goes on past an object it cannot delete, tier by tier, and may delete CRDs
 * or only take the marks off (applyset.h).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "applysteps.h"
#include "phase4/core/json.h"
#include "phase4/core/text.h"
#include "phase4/stages/kubernetes/applymark.h"

static bool kind_is(const char *api_version, const char *kind, const char *group, const char *k)
{
    const char *api = api_version ? api_version : "";
    const char *slash = strchr(api, '/');
    size_t glen = slash ? (size_t)(slash - api) : 0;

    return kind && strcmp(kind, k) == 0 && strlen(group) == glen && strncmp(api, group, glen) == 0;
}

int p4_applyset_uninstall_tier(const char *api_version, const char *kind)
{
    static const struct {
        const char *group, *kind;
        int tier;
    } tiers[] = {
        {"", "ServiceAccount", 1},
        {"rbac.authorization.k8s.io", "Role", 1},
        {"rbac.authorization.k8s.io", "RoleBinding", 1},
        {"rbac.authorization.k8s.io", "ClusterRole", 1},
        {"rbac.authorization.k8s.io", "ClusterRoleBinding", 1},
        {"networking.k8s.io", "NetworkPolicy", 1},
        {"extensions", "NetworkPolicy", 1},
        {"", "ResourceQuota", 1},
        {"", "LimitRange", 1},
        {"policy", "PodSecurityPolicy", 1},
        {"extensions", "PodSecurityPolicy", 1},
        {"policy", "PodDisruptionBudget", 1},
        {"apiextensions.k8s.io", "CustomResourceDefinition", 2},
        {"", "Namespace", 2},
        {"scheduling.k8s.io", "PriorityClass", 2},
    };

    for (size_t i = 0; i < sizeof(tiers) / sizeof(tiers[0]); i++)
        if (kind_is(api_version, kind, tiers[i].group, tiers[i].kind))
            return tiers[i].tier;
    return 0;
}

char *p4_applyset_delete_body(const char *uid)
{
    cJSON *o = p4_json_need(cJSON_CreateObject()), *pre;
    char *text;

    p4_json_need(cJSON_AddStringToObject(o, "kind", "DeleteOptions"));
    p4_json_need(cJSON_AddStringToObject(o, "apiVersion", "v1"));
    p4_json_need(cJSON_AddStringToObject(o, "propagationPolicy", "Background"));
    pre = p4_json_need(cJSON_AddObjectToObject(o, "preconditions"));
    p4_json_need(cJSON_AddStringToObject(pre, "uid", uid ? uid : ""));
    text = p4_json_print(o);
    cJSON_Delete(o);
    if (text == NULL)
        abort(); /* only cJSON's own allocation can fail here */
    return text;
}

static const struct p4_inv_entry *pruning(const struct p4_applyset *a)
{
    return &a->prune.items[a->i];
}

static void prune_next(struct p4_applyset *a, enum p4_applyset_fate f)
{
    const struct p4_inv_entry *e = pruning(a);

    a->fate[a->i] = (unsigned char)f;
    if (f == FATE_DELETED)
        a->pruned++;
    else if (f == FATE_SKIPPED)
        a->prune_skipped++;
    else if (f == FATE_UNMARKED)
        a->unmarked++;
    else if (f == FATE_KEPT)
        a->kept++;
    else if (f == FATE_TERMINATING || f == FATE_FAILED) {
        int tier = p4_applyset_uninstall_tier(e->api_version, e->kind);
        if (tier < a->min_left_tier)
            a->min_left_tier = tier;
    }
    a->i++;
    p4_applyset_go(a, APPLY_PRUNE, 0);
}

/* Uninstall: e is left for now, and why (the first such reason is the run's). */
static void left(struct p4_applyset *a, enum p4_applyset_fate f, const struct p4_error *why)
{
    if (a->blocked.code == 0 && why != NULL) {
        a->blocked = *why;
        if (why->reason != NULL && why->reason != a->blocked_reason) {
            (void)snprintf(a->blocked_reason, sizeof(a->blocked_reason), "%s", why->reason);
            a->blocked.reason = a->blocked_reason;
        }
        (void)p4_text_clean(a->blocked.message, sizeof(a->blocked.message), a->blocked.message,
                            strlen(a->blocked.message), P4_TEXT_CONTROL_SPACE | P4_TEXT_KEEP_RUNS);
    }
    prune_next(a, f);
}

/* An API error on e: a prune stops; an uninstall leaves e (and says why) and goes on. */
static void api_failed(struct p4_applyset *a, const struct p4_kube_result *res, const char *doing)
{
    struct p4_error err = {0};
    enum p4_failure_class cls;

    if (!a->uninstall) {
        p4_applyset_fail_api(a, pruning(a), res, doing);
        return;
    }
    p4_applyset_explain_api(pruning(a), res, doing, &err, &cls, a->blocked_reason,
                            sizeof(a->blocked_reason));
    left(a, FATE_FAILED, &err);
}

/* "Deployment shop/web is terminating and waits for finalizer(s) a, b". */
static void terminating(struct p4_applyset *a, const cJSON *live)
{
    struct p4_error err = {.code = P4_ERR_CONFLICT, .reason = "ObjectTerminating"};
    char what[900], finalizers[400] = "";
    const cJSON *f;
    size_t used = 0;

    p4_applyset_describe(pruning(a), what, sizeof(what));
    cJSON_ArrayForEach(f, p4_json_get(live, "metadata.finalizers")) {
        if (cJSON_IsString(f) && used < sizeof(finalizers)) {
            int n = snprintf(finalizers + used, sizeof(finalizers) - used, "%s%s", used ? ", " : "",
                             f->valuestring);
            used += n > 0 ? (size_t)n : 0;
        }
    }
    if (finalizers[0])
        p4_text_format(err.message, sizeof(err.message),
                       "%s is being deleted and waits for finalizer(s) %s, which another "
                       "controller removes (or a person, with kubectl patch)",
                       what, finalizers);
    else
        p4_text_format(err.message, sizeof(err.message), "%s is being deleted", what);
    left(a, FATE_TERMINATING, &err);
}

static void on_unmarked(struct p4_kube_result *res, void *data)
{
    struct p4_applyset *a = p4_applyset_back(data);

    if (a == NULL)
        return;
    if (res->rc == 0)
        prune_next(a, FATE_UNMARKED);
    else if (res->rc == P4_ERR_NOTFOUND)
        prune_next(a, FATE_GONE);
    else if (res->rc == P4_ERR_CONFLICT) /* the uid precondition: re-created meanwhile */
        prune_next(a, FATE_SKIPPED);
    else
        api_failed(a, res, "take the ownership marks off");
}

static void on_deleted(struct p4_kube_result *res, void *data)
{
    struct p4_applyset *a = p4_applyset_back(data);

    if (a == NULL)
        return;
    if (res->rc == 0 && a->uninstall && p4_json_get(res->body, "metadata.deletionTimestamp"))
        terminating(a, res->body); /* a finalizer (or a grace period) holds it for now */
    else if (res->rc == 0)
        prune_next(a, FATE_DELETED);
    else if (res->rc == P4_ERR_NOTFOUND)
        prune_next(a, FATE_GONE);
    else if (res->rc == P4_ERR_CONFLICT) /* the uid precondition: re-created meanwhile */
        prune_next(a, FATE_SKIPPED);
    else
        api_failed(a, res, "delete");
}

static void on_prune_got(struct p4_kube_result *res, void *data)
{
    struct p4_applyset *a = p4_applyset_back(data);
    enum p4_applyset_claim claim;
    const char *uid;
    char *body;
    int rc;

    if (a == NULL)
        return;
    if (res->rc == P4_ERR_NOTFOUND) {
        prune_next(a, FATE_GONE);
        return;
    }
    if (res->rc != 0) {
        api_failed(a, res, "read");
        return;
    }
    uid = p4_json_str(res->body, "metadata.uid");
    /* Ours by name, and not another resource's of that name (an entry of our own inventory
       without a uid mark is ours from before uids were marked). */
    claim = p4_applyset_claim(res->body, a->owner_ns, a->owner_name, a->owner_uid);
    if ((claim != P4_CLAIM_OURS && claim != P4_CLAIM_NO_UID) || uid == NULL || uid[0] == '\0') {
        prune_next(a, FATE_SKIPPED);
        return;
    }
    if (a->unmark) {
        body = p4_applyset_unmark_patch(res->body, uid);
        rc = p4_applyset_request(a, "PATCH", a->path, "application/merge-patch+json", body,
                                 on_unmarked);
        free(body);
        if (rc != 0)
            p4_applyset_fail(a, pruning(a), rc, NULL, P4_FAIL_TRANSIENT,
                             "cannot take the marks off %s %s", pruning(a)->kind, pruning(a)->name);
        return;
    }
    if (a->uninstall && p4_json_get(res->body, "metadata.deletionTimestamp")) {
        terminating(a, res->body); /* deleted before: not asked again */
        return;
    }
    body = p4_applyset_delete_body(uid);
    rc = p4_applyset_request(a, "DELETE", a->path, NULL, body, on_deleted);
    free(body);
    if (rc != 0)
        p4_applyset_fail(a, pruning(a), rc, NULL, P4_FAIL_TRANSIENT, "cannot delete %s %s",
                         pruning(a)->kind, pruning(a)->name);
}

static void on_prune_resolved(int rc, const struct p4_resource_info *info,
                              const struct p4_error *err, void *data)
{
    struct p4_applyset *a = p4_applyset_back(data);
    const struct p4_inv_entry *e;

    if (a == NULL)
        return;
    e = pruning(a);
    if (rc == P4_ERR_NOTFOUND) { /* the kind is no longer served: nothing of it is left */
        prune_next(a, FATE_GONE);
        return;
    }
    if (rc != 0) {
        p4_applyset_fail(a, e, rc, NULL, p4_applyset_api_class(rc), "%s",
                         err ? err->message : p4_strerror(rc));
        return;
    }
    /* A namespaced entry without a namespace names nothing we could have applied. */
    if (info->namespaced == 1 && e->namespace_[0] == '\0') {
        prune_next(a, FATE_SKIPPED);
        return;
    }
    rc = p4_applyset_build_path(a, info, info->namespaced == 1 ? e->namespace_ : "", e->name);
    if (rc != 0) {
        prune_next(a, FATE_SKIPPED);
        return;
    }
    rc = p4_applyset_request(a, "GET", a->path, NULL, NULL, on_prune_got);
    if (rc != 0)
        p4_applyset_fail(a, e, rc, NULL, P4_FAIL_TRANSIENT, "cannot read %s %s", e->kind, e->name);
}

void p4_applyset_prune(struct p4_applyset *a)
{
    const struct p4_inv_entry *e;
    int rc;

    if (a->i >= a->prune.n) {
        p4_applyset_go(a, APPLY_FINISH, 0);
        return;
    }
    e = pruning(a);
    /* An uninstall takes a tier only once the tiers before it are gone: the rest waits. */
    if (a->uninstall && p4_applyset_uninstall_tier(e->api_version, e->kind) > a->min_left_tier) {
        for (; a->i < a->prune.n; a->i++)
            a->fate[a->i] = FATE_WAITING;
        p4_applyset_go(a, APPLY_FINISH, 0);
        return;
    }
    /* As Helm does: a CRD that left the chart stays, for deleting it deletes every custom
       resource of its kind in the cluster, whoever owns them. An uninstall deletes it only with
       deletionPolicy DeleteCRDs (and takes its marks off with Orphan). */
    if (strcmp(e->kind, "CustomResourceDefinition") == 0 &&
        strncmp(e->api_version, "apiextensions.k8s.io/", 21) == 0 &&
        !(a->uninstall && (a->delete_crds || a->unmark))) {
        prune_next(a, a->uninstall ? FATE_KEPT : FATE_SKIPPED);
        return;
    }
    rc = p4_applyset_lookup(a, e->api_version, e->kind, on_prune_resolved);
    if (rc != 0)
        p4_applyset_fail(a, e, rc, NULL, P4_FAIL_TRANSIENT, "cannot ask discovery about %s",
                         e->kind);
}
