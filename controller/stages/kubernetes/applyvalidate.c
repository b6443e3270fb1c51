/*
 * applyvalidate.c: APPLY_LOOKUP, before anything is applied (see applysteps.h): the kinds
 * discovery does not know yet looked up, the inventory built (ManifestInvalid, UnknownKind) and
 * its scope checked (OutOfScope), the prune set computed.
 */
#include <stddef.h>
#include <stdlib.h>

#include "applysteps.h"
#include "phase4/core/alloc.h"
#include "phase4/core/json.h"

static int scope_of(const char *api_version, const char *kind, void *data)
{
    const struct p4_resource_info *info = p4_discovery_find(data, api_version, kind);

    return info ? (info->namespaced ? 1 : 0) : -1;
}

static void on_looked_up(int rc, const struct p4_resource_info *info, const struct p4_error *e,
                         void *data)
{
    struct p4_applyset *a = p4_applyset_back(data);

    (void)info;
    if (a == NULL)
        return;
    if (rc != 0 && rc != P4_ERR_NOTFOUND) { /* NotFound: the manifest's CRDs may know it */
        p4_applyset_fail(a, NULL, rc, NULL, p4_applyset_api_class(rc), "discovery failed: %s",
                         e ? e->message : p4_strerror(rc));
        return;
    }
    a->i++;
    p4_applyset_go(a, APPLY_LOOKUP, 0);
}

void p4_applyset_validate(struct p4_applyset *a)
{
    struct p4_inventory_scope scope = {scope_of, a->disc};
    struct p4_error err = {0};
    int rc;

    for (; a->i < (size_t)cJSON_GetArraySize(a->objects); a->i++) {
        const cJSON *obj = cJSON_GetArrayItem(a->objects, (int)a->i);
        const char *api = p4_json_str(obj, "apiVersion"), *kind = p4_json_str(obj, "kind");
        if (api == NULL || kind == NULL || p4_discovery_find(a->disc, api, kind) != NULL)
            continue;
        rc = p4_applyset_lookup(a, api, kind, on_looked_up);
        if (rc != 0)
            p4_applyset_fail(a, NULL, rc, NULL, P4_FAIL_TRANSIENT,
                             "cannot ask discovery about %s %s", api, kind);
        return;
    }
    rc = p4_inventory_from_objects(a->objects, a->ns, &scope, &a->inv, &err);
    if (rc != 0) {
        p4_applyset_fail(a, NULL, rc, rc == P4_ERR_NOTFOUND ? "UnknownKind" : "ManifestInvalid",
                         P4_FAIL_ARTIFACT, "%s", err.message);
        return;
    }
    if (a->scope_ns != NULL &&
        p4_inventory_check_scope(&a->inv, a->scope_ns, a->allow_cluster_scoped, &err) != 0) {
        p4_applyset_fail(a, NULL, err.code, "OutOfScope", P4_FAIL_ARTIFACT, "%s", err.message);
        return;
    }
    a->validated = true;
    if ((size_t)cJSON_GetArraySize(a->objects) != a->inv.n) {
        p4_applyset_fail(a, NULL, P4_ERR_INTERNAL, NULL, P4_FAIL_TRANSIENT,
                         "the inventory does not match the manifest");
        return;
    }
    a->change = p4_calloc(a->inv.n ? a->inv.n : 1, 1);
    a->gens = p4_calloc(a->inv.n ? a->inv.n : 1, sizeof(*a->gens));
    if (p4_inventory_diff(&a->previous, &a->inv, &a->prune) != 0) {
        p4_applyset_fail(a, NULL, P4_ERR_INTERNAL, NULL, P4_FAIL_TRANSIENT,
                         "cannot compute the prune set");
        return;
    }
    a->fate = p4_calloc(a->prune.n ? a->prune.n : 1, 1);
    a->i = 0;
    if (a->sweep && !a->no_prune) {
        /* What the new inventory and opts.sweep_also hold, as one view (entries borrowed). */
        struct p4_inventory also = {NULL, 0};
        also.items = p4_calloc(a->inv.n + a->sweep_also.n + 1, sizeof(*also.items));
        for (size_t i = 0; i < a->inv.n; i++)
            also.items[also.n++] = a->inv.items[i];
        for (size_t i = 0; i < a->sweep_also.n; i++)
            also.items[also.n++] = a->sweep_also.items[i];
        p4_applyset_sweep_targets(&a->previous, &also, &a->sweep_targets);
        free(also.items);
    }
    if (a->prune_only) { /* applied before: the whole inventory stands as applied */
        a->napplied = a->inv.n;
        p4_applyset_go(a, a->sweep ? APPLY_SWEEP : APPLY_PRUNE, 0);
        return;
    }
    a->after_planned = a->create_ns ? APPLY_NAMESPACE : APPLY_OBJECT;
    if (a->planned) { /* the write-ahead record: nothing is applied until it is on record */
        a->step = APPLY_PLANNED;
        a->planned(&a->inv, a->data);
        return;
    }
    p4_applyset_go(a, a->after_planned, 0);
}
