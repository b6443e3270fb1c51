/*
 * applysweep.c: APPLY_SWEEP (see applysteps.h): before a prune, the objects that carry this
 * resource's marks (applymark.h) are found by label, kind by kind, so that what a crash left off
 * every inventory is pruned too. The labels only select: an object joins the prune set when it
 * carries exactly our owner annotation (and our uid), is not a Helm hook (hooks.c applies those
 * with our marks and never prunes them) nor another stage's work (a smoke-test Job of the
 * Validation stage, labelled phase4.io/purpose) and the new inventory does not hold it, and the
 * prune (applyprune.c) reads it again and checks the annotation before it deletes it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "applysteps.h"
#include "phase4/core/alloc.h"
#include "phase4/core/buf.h"
#include "phase4/core/json.h"
#include "phase4/core/log.h"
#include "phase4/core/strmap.h"
#include "phase4/core/text.h"
#include "phase4/kube/apply.h"
#include "phase4/stages/kubernetes/applymark.h"

#define SWEEP_PAGE 500 /* objects per LIST page */

static const char *str(const char *s)
{
    return s ? s : "";
}

/* A CustomResourceDefinition (deleting it deletes every object of its kind) or a Namespace
   (everything in it): only an inventory entry of the chart's own prunes these. */
static bool never_swept(const struct p4_inv_entry *e)
{
    const char *api = str(e->api_version), *kind = str(e->kind);

    if (strcmp(kind, "CustomResourceDefinition") == 0)
        return strncmp(api, "apiextensions.k8s.io/", 21) == 0;
    return strcmp(kind, "Namespace") == 0 && strchr(api, '/') == NULL;
}

static void append(struct p4_inventory *inv, const char *api, const char *kind, const char *ns,
                   const char *name)
{
    struct p4_inv_entry *e = &inv->items[inv->n++];

    e->api_version = p4_strdup(api);
    e->kind = p4_strdup(kind);
    e->namespace_ = p4_strdup(ns);
    e->name = p4_strdup(name);
}

void p4_applyset_sweep_targets(const struct p4_inventory *previous,
                               const struct p4_inventory *current, struct p4_inventory *out)
{
    const struct p4_inventory *from[2] = {previous, current};
    struct p4_strmap seen;
    struct p4_buf key = {0};
    size_t total = 0;

    out->items = NULL;
    out->n = 0;
    for (int f = 0; f < 2; f++)
        total += from[f] ? from[f]->n : 0;
    if (total == 0)
        return;
    p4_strmap_init(&seen);
    out->items = p4_calloc(total, sizeof(*out->items));
    for (int f = 0; f < 2; f++) {
        for (size_t i = 0; from[f] && i < from[f]->n; i++) {
            const struct p4_inv_entry *e = &from[f]->items[i];
            const char *api = str(e->api_version), *kind = str(e->kind), *ns = str(e->namespace_);
            if (never_swept(e) || api[0] == '\0' || kind[0] == '\0')
                continue;
            key.len = 0;
            p4_buf_printf(&key, "%zu:%s%zu:%s%s", strlen(api), api, strlen(kind), kind, ns);
            if (p4_strmap_get(&seen, key.data))
                continue;
            (void)p4_strmap_put(&seen, key.data, out);
            append(out, api, kind, ns, "");
        }
    }
    p4_strmap_close(&seen);
    free(key.data);
    if (out->n == 0) {
        free(out->items);
        out->items = NULL;
    }
}

int p4_applyset_sweep_merge(struct p4_inventory *prune, const struct p4_inventory *found,
                            const struct p4_inventory *current)
{
    struct p4_inventory both = {NULL, 0}, merged = {NULL, 0};
    size_t had = prune->n;
    int added;

    if (found == NULL || found->n == 0)
        return 0;
    /* A view of both lists (entries borrowed), then one diff: each once, in prune order. */
    both.items = p4_calloc(prune->n + found->n, sizeof(*both.items));
    for (size_t i = 0; i < prune->n; i++)
        both.items[both.n++] = prune->items[i];
    for (size_t i = 0; i < found->n; i++)
        if (!never_swept(&found->items[i]))
            both.items[both.n++] = found->items[i];
    (void)p4_inventory_diff(&both, current, &merged);
    free(both.items);
    p4_inventory_close(prune);
    *prune = merged;
    /* prune held distinct entries current does not hold: all of them are still there. */
    added = prune->n > had ? (int)(prune->n - had) : 0;
    return added;
}

bool p4_applyset_is_hook(const cJSON *live)
{
    const cJSON *annotations = p4_json_get(live, "metadata.annotations");

    return cJSON_IsObject(annotations) && p4_json_child(annotations, "helm.sh/hook") != NULL;
}

bool p4_applyset_is_stage_work(const cJSON *live)
{
    const cJSON *labels = p4_json_get(live, "metadata.labels");

    return cJSON_IsObject(labels) && p4_json_child(labels, "phase4.io/purpose") != NULL;
}

/* ---- the step ---- */

static const struct p4_inv_entry *target(const struct p4_applyset *a)
{
    return &a->sweep_targets.items[a->i];
}

/* The next kind (or the next page of this one when token is set). */
static void sweep_next(struct p4_applyset *a, const char *token)
{
    free(a->sweep_continue);
    a->sweep_continue = token && token[0] ? p4_strdup(token) : NULL;
    if (a->sweep_continue == NULL)
        a->i++;
    p4_applyset_go(a, APPLY_SWEEP, 0);
}

/* Found by its marks alone: ours with our uid, or with none when it is newer than the resource
   (made for it before uids were marked); one of another uid, or an older one without, is an
   earlier resource's of the same name. */
static bool swept_ours(const struct p4_applyset *a, const cJSON *item)
{
    switch (p4_applyset_claim(item, a->owner_ns, a->owner_name, a->owner_uid)) {
    case P4_CLAIM_OURS:
        return true;
    case P4_CLAIM_NO_UID:
        return p4_applyset_created_after(item, a->owner_created);
    case P4_CLAIM_NONE:
    case P4_CLAIM_OTHER_UID:
        break;
    }
    return false;
}

static void add_found(struct p4_applyset *a, const cJSON *item)
{
    const struct p4_inv_entry *t = target(a);
    const char *name = p4_json_str(item, "metadata.name");
    const char *ns = p4_json_str(item, "metadata.namespace");

    /* Found by its marks alone: ours with our uid (swept_ours). */
    if (name == NULL || name[0] == '\0' || strlen(name) > P4_INVENTORY_FIELD_MAX ||
        (ns && strlen(ns) > P4_INVENTORY_FIELD_MAX) || !swept_ours(a, item) ||
        p4_applyset_is_hook(item) || (p4_applyset_is_stage_work(item) && !a->sweep_stage_work))
        return;
    /* A stage's own Job is the resource's only with its uid, whatever the rule above. */
    if (p4_applyset_is_stage_work(item) &&
        (a->owner_uid == NULL ||
         !p4_text_eq(p4_json_str(p4_json_child(p4_json_get(item, "metadata.annotations"),
                                               P4_APPLYSET_ANNOTATION_OWNER_UID),
                                 NULL),
                     a->owner_uid)))
        return;
    if (a->found.n == a->found_cap) {
        a->found_cap = a->found_cap ? a->found_cap * 2 : 64;
        a->found.items = p4_realloc(a->found.items, a->found_cap * sizeof(*a->found.items));
    }
    append(&a->found, t->api_version, t->kind, ns ? ns : "", name);
}

static void on_listed(struct p4_kube_result *res, void *data)
{
    struct p4_applyset *a = p4_applyset_back(data);
    const struct p4_inv_entry *t;
    const cJSON *items, *item;

    if (a == NULL)
        return;
    t = target(a);
    if (res->rc == P4_ERR_FORBIDDEN) { /* not ours to list: the inventory is all we have */
        p4_log(P4_LOG_INFO, "cannot list a kind by label before a prune", "owner", a->owner_name,
               "kind", t->kind, "namespace", t->namespace_, "error", res->err.message, P4_LOG_END);
        a->sweep_skipped++;
        sweep_next(a, NULL);
        return;
    }
    if (res->rc == P4_ERR_NOTFOUND) { /* no longer served */
        sweep_next(a, NULL);
        return;
    }
    if (res->rc != 0) {
        p4_applyset_fail(a, NULL, res->rc, res->err.reason, p4_applyset_api_class(res->rc),
                         "cannot list %s%s%s by label before pruning: %s", t->kind,
                         t->namespace_[0] ? " in namespace " : "", t->namespace_, res->err.message);
        return;
    }
    items = p4_json_get(res->body, "items");
    cJSON_ArrayForEach(item, items) {
        if (a->found.n >= P4_MANIFEST_OBJECTS_MAX)
            break;
        add_found(a, item);
    }
    /* Past P4_MANIFEST_OBJECTS_MAX the rest waits for the next prune. */
    sweep_next(a, a->found.n < P4_MANIFEST_OBJECTS_MAX ? p4_json_str(res->body, "metadata.continue")
                                                       : NULL);
}

static void on_sweep_resolved(int rc, const struct p4_resource_info *info,
                              const struct p4_error *err, void *data)
{
    struct p4_applyset *a = p4_applyset_back(data);
    const struct p4_inv_entry *t;
    char label[P4_LABEL_VALUE_MAX + 1], selector[256], query[1024], token[768];
    size_t len;
    int n;

    if (a == NULL)
        return;
    t = target(a);
    if (rc == P4_ERR_NOTFOUND) { /* the kind is no longer served: nothing of it is left */
        sweep_next(a, NULL);
        return;
    }
    if (rc != 0) {
        p4_applyset_fail(a, NULL, rc, NULL, p4_applyset_api_class(rc), "%s",
                         err ? err->message : p4_strerror(rc));
        return;
    }
    /* A namespaced entry without a namespace names nothing we could have applied. */
    if ((info->namespaced == 1 && t->namespace_[0] == '\0') ||
        p4_applyset_build_path(a, info, info->namespaced == 1 ? t->namespace_ : "", "") != 0) {
        sweep_next(a, NULL);
        return;
    }
    len = strlen(a->path);
    if (len > 0 && a->path[len - 1] == '/') /* the collection, not an object */
        a->path[len - 1] = '\0';
    (void)snprintf(selector, sizeof(selector), "%s=%s,%s=%s", P4_APPLYSET_LABEL_MANAGED_BY,
                   P4_APPLYSET_MANAGER, P4_APPLYSET_LABEL_NAME,
                   p4_applyset_label_value(a->owner_name, label));
    if (p4_kube_escape(selector, query, sizeof(query)) != 0 ||
        (a->sweep_continue && p4_kube_escape(a->sweep_continue, token, sizeof(token)) != 0)) {
        sweep_next(a, NULL);
        return;
    }
    len = strlen(a->path);
    n = snprintf(a->path + len, sizeof(a->path) - len, "?labelSelector=%s&limit=%d%s%s", query,
                 SWEEP_PAGE, a->sweep_continue ? "&continue=" : "", a->sweep_continue ? token : "");
    if (n < 0 || (size_t)n >= sizeof(a->path) - len) {
        sweep_next(a, NULL);
        return;
    }
    if (p4_applyset_request(a, "GET", a->path, NULL, NULL, on_listed) != 0)
        p4_applyset_fail(a, NULL, P4_ERR_TRANSPORT, NULL, P4_FAIL_TRANSIENT,
                         "cannot list %s by label before pruning", t->kind);
}

void p4_applyset_sweep(struct p4_applyset *a)
{
    const struct p4_inv_entry *t;
    int rc;

    if (a->i >= a->sweep_targets.n) {
        a->swept = p4_applyset_sweep_merge(&a->prune, &a->found, &a->inv);
        free(a->fate);
        a->fate = p4_calloc(a->prune.n ? a->prune.n : 1, 1);
        a->i = 0;
        p4_applyset_go(a, APPLY_PRUNE, 0);
        return;
    }
    t = target(a);
    rc = p4_applyset_lookup(a, t->api_version, t->kind, on_sweep_resolved);
    if (rc != 0)
        p4_applyset_fail(a, NULL, rc, NULL, P4_FAIL_TRANSIENT, "cannot ask discovery about %s",
                         t->kind);
}
