/* apply.c: manifests into objects, and server-side apply (see apply.h). */
#include "phase4/kube/apply.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/core/alloc.h"
#include "phase4/core/json.h"
#include "phase4/core/yamljson.h"

/* "Deployment web" for messages; "" parts when absent. */
static void describe(const cJSON *obj, char *buf, size_t size)
{
    const char *kind = p4_json_str(obj, "kind"), *name = p4_json_str(obj, "metadata.name");

    (void)snprintf(buf, size, "%s%s%s", kind ? kind : "", kind && name ? " " : "",
                   name ? name : "");
}

/* Check one object and move it (taken over) into out. */
static int take(cJSON *out, cJSON *obj, size_t doc, struct p4_error *err)
{
    static const char *const required[] = {"apiVersion", "kind", "metadata.name"};
    char what[300];

    describe(obj, what, sizeof(what));
    if (!cJSON_IsObject(obj)) {
        cJSON_Delete(obj);
        return p4_error_set_printable(err, P4_ERR_INVALID,
                                      "document %zu of the manifest is not an object", doc);
    }
    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
        const char *v = p4_json_str(obj, required[i]);
        if (v == NULL || v[0] == '\0') {
            cJSON_Delete(obj);
            return p4_error_set_printable(
                err, P4_ERR_INVALID, "document %zu of the manifest%s%s%s: %s is missing", doc,
                what[0] ? " (" : "", what, what[0] ? ")" : "", required[i]);
        }
    }
    if (cJSON_GetArraySize(out) >= P4_MANIFEST_OBJECTS_MAX) {
        cJSON_Delete(obj);
        return p4_error_set(err, P4_ERR_TOOBIG, "the manifest has more than %d objects",
                            P4_MANIFEST_OBJECTS_MAX);
    }
    cJSON_AddItemToArray(out, obj);
    return 0;
}

cJSON *p4_manifest_split(const char *text, size_t len, struct p4_error *err)
{
    cJSON *docs, *out, *doc;
    size_t n = 0;
    int rc = 0;

    if (text == NULL) {
        p4_error_set(err, P4_ERR_INVAL, "no manifest");
        return NULL;
    }
    docs = p4_yaml_to_json_all(text, len, err);
    if (docs == NULL)
        return NULL;
    out = p4_json_need(cJSON_CreateArray());
    while (rc == 0 && (doc = cJSON_DetachItemFromArray(docs, 0)) != NULL) {
        n++;
        if (cJSON_IsNull(doc)) { /* an empty document (a template that rendered nothing) */
            cJSON_Delete(doc);
            continue;
        }
        if (cJSON_IsObject(doc) && p4_json_str(doc, "kind") &&
            strcmp(p4_json_str(doc, "kind"), "List") == 0 &&
            cJSON_IsArray(p4_json_get(doc, "items"))) {
            cJSON *items = cJSON_DetachItemFromObjectCaseSensitive(doc, "items"), *item;
            while (rc == 0 && (item = cJSON_DetachItemFromArray(items, 0)) != NULL)
                rc = take(out, item, n, err);
            cJSON_Delete(items);
            cJSON_Delete(doc);
            continue;
        }
        rc = take(out, doc, n, err);
    }
    cJSON_Delete(docs);
    if (rc != 0) {
        cJSON_Delete(out);
        return NULL;
    }
    return out;
}

struct op {
    struct p4_kube *kube;
    cJSON *obj;
    char *namespace_;
    bool dry_run, force;
    char kind[128], name[256], ns[64], resource[128];
    p4_apply_cb cb;
    void *data;
};

static void finish(struct op *o, int rc, const struct p4_error *err, const char *said,
                   const cJSON *answer)
{
    struct p4_apply_result res = {.rc = rc,
                                  .kind = o->kind,
                                  .namespace_ = o->ns,
                                  .name = o->name,
                                  .resource = o->resource,
                                  .said = said,
                                  .object = answer};

    if (err)
        res.err = *err;
    o->cb(&res, o->data);
    cJSON_Delete(o->obj);
    free(o->namespace_);
    free(o);
}

static void on_applied(struct p4_kube_result *res, void *data)
{
    struct op *o = data;
    struct p4_error err;

    if (res->rc != 0) {
        p4_error_set_printable(&err, res->rc, "the API server refused %s %s%s%s%s: %s", o->kind,
                               o->ns, o->ns[0] ? "/" : "", o->name,
                               o->dry_run ? " in a server-side dry run" : "", res->err.message);
        err.reason = res->err.reason;
        finish(o, res->rc, &err, res->err.message, NULL);
        return;
    }
    finish(o, 0, NULL, NULL, res->body);
}

static void on_resolved(int rc, const struct p4_resource_info *info, const struct p4_error *e,
                        void *data)
{
    struct op *o = data;
    char path[1024], ens[256], ename[512], query[128];
    struct p4_error err;
    char *body;

    if (rc != 0) {
        finish(o, rc, e, NULL, NULL);
        return;
    }
    (void)snprintf(o->resource, sizeof(o->resource), "%s", info->resource);
    if (info->namespaced) {
        const char *ns = p4_json_str(o->obj, "metadata.namespace");
        if (ns == NULL || ns[0] == '\0') {
            ns = o->namespace_;
            cJSON_DeleteItemFromObjectCaseSensitive(
                cJSON_GetObjectItemCaseSensitive(o->obj, "metadata"), "namespace");
            cJSON_AddStringToObject(cJSON_GetObjectItemCaseSensitive(o->obj, "metadata"),
                                    "namespace", ns);
        }
        (void)snprintf(o->ns, sizeof(o->ns), "%s", ns);
    }
    if (p4_kube_escape(o->ns, ens, sizeof(ens)) != 0 ||
        p4_kube_escape(o->name, ename, sizeof(ename)) != 0) {
        p4_error_set(&err, P4_ERR_INVALID, "%s %s: the name is too long", o->kind, o->name);
        finish(o, P4_ERR_INVALID, &err, NULL, NULL);
        return;
    }
    (void)snprintf(query, sizeof(query), "?fieldManager=%s%s%s", P4_FIELD_MANAGER,
                   o->dry_run ? "&dryRun=All" : "", o->force ? "&force=true" : "");
    if (info->group[0])
        (void)snprintf(path, sizeof(path), "/apis/%s/%s", info->group, info->version);
    else
        (void)snprintf(path, sizeof(path), "/api/%s", info->version);
    if (info->namespaced)
        (void)snprintf(path + strlen(path), sizeof(path) - strlen(path), "/namespaces/%s", ens);
    (void)snprintf(path + strlen(path), sizeof(path) - strlen(path), "/%s/%s%s", info->resource,
                   ename, query);
    body = p4_json_print(o->obj); /* JSON is YAML: the apply patch type takes it */
    rc = body ? p4_kube_request(o->kube, "PATCH", path, "application/apply-patch+yaml", body,
                                strlen(body), on_applied, o)
              : P4_ERR_INTERNAL;
    free(body);
    if (rc != 0) {
        p4_error_set(&err, rc, "cannot send %s %s to the API server", o->kind, o->name);
        finish(o, rc, &err, NULL, NULL);
    }
}

int p4_apply_object(struct p4_kube *k, struct p4_discovery *d, const cJSON *obj,
                    const struct p4_apply_opts *opts, p4_apply_cb cb, void *data)
{
    const char *api = p4_json_str(obj, "apiVersion"), *kind = p4_json_str(obj, "kind");
    const char *name = p4_json_str(obj, "metadata.name");
    struct op *o;
    int rc;

    if (k == NULL || d == NULL || cb == NULL || api == NULL || kind == NULL || name == NULL ||
        strlen(kind) >= sizeof(o->kind) || strlen(name) >= sizeof(o->name))
        return P4_ERR_INVAL;
    o = p4_calloc(1, sizeof(*o));
    o->kube = k;
    o->obj = p4_json_need(cJSON_Duplicate(obj, 1));
    o->namespace_ = p4_strdup(opts && opts->namespace_ ? opts->namespace_ : "default");
    o->dry_run = opts && opts->dry_run;
    o->force = opts && opts->force;
    (void)snprintf(o->kind, sizeof(o->kind), "%s", kind);
    (void)snprintf(o->name, sizeof(o->name), "%s", name);
    o->cb = cb;
    o->data = data;
    rc = p4_discovery_lookup(d, api, kind, on_resolved, o);
    if (rc != 0) {
        cJSON_Delete(o->obj);
        free(o->namespace_);
        free(o);
    }
    return rc;
}
