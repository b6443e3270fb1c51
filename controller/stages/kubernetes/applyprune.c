/*
 * applyprune.c: APPLY_PRUNE (see applysteps.h): each entry of the previous inventory the new one
 * does not hold, in prune order, deleted when it still carries our owner annotation (with a uid
 * precondition), left alone and counted as skipped otherwise; a CustomResourceDefinition is
 * always left, as Helm leaves it.
 */
#include <stdlib.h>
#include <string.h>

#include "applysteps.h"
#include "phase4/core/json.h"
#include "phase4/stages/kubernetes/applymark.h"

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
    a->fate[a->i] = (unsigned char)f;
    if (f == FATE_DELETED)
        a->pruned++;
    else if (f == FATE_SKIPPED)
        a->prune_skipped++;
    a->i++;
    p4_applyset_go(a, APPLY_PRUNE, 0);
}

static void on_deleted(struct p4_kube_result *res, void *data)
{
    struct p4_applyset *a = p4_applyset_back(data);

    if (a == NULL)
        return;
    if (res->rc == 0)
        prune_next(a, FATE_DELETED);
    else if (res->rc == P4_ERR_NOTFOUND)
        prune_next(a, FATE_GONE);
    else if (res->rc == P4_ERR_CONFLICT) /* the uid precondition: re-created meanwhile */
        prune_next(a, FATE_SKIPPED);
    else
        p4_applyset_fail_api(a, pruning(a), res, "delete");
}

static void on_prune_got(struct p4_kube_result *res, void *data)
{
    struct p4_applyset *a = p4_applyset_back(data);
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
        p4_applyset_fail_api(a, pruning(a), res, "read");
        return;
    }
    uid = p4_json_str(res->body, "metadata.uid");
    if (!p4_applyset_owned(res->body, a->owner_ns, a->owner_name) || uid == NULL ||
        uid[0] == '\0') {
        prune_next(a, FATE_SKIPPED);
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
    /* As Helm does: a CRD that left the chart stays, for deleting it deletes every custom
       resource of its kind in the cluster, whoever owns them. */
    if (strcmp(e->kind, "CustomResourceDefinition") == 0 &&
        strncmp(e->api_version, "apiextensions.k8s.io/", 21) == 0) {
        prune_next(a, FATE_SKIPPED);
        return;
    }
    rc = p4_applyset_lookup(a, e->api_version, e->kind, on_prune_resolved);
    if (rc != 0)
        p4_applyset_fail(a, e, rc, NULL, P4_FAIL_TRANSIENT, "cannot ask discovery about %s",
                         e->kind);
}
