/*
 * applyobject.c: APPLY_NAMESPACE, APPLY_OBJECT and APPLY_CRD (see applysteps.h): the namespace
 * created when asked, then each object in apply order: its kind resolved (waiting for one its
 * CRD just defined), sent create-only when the last revision did not apply it (read first
 * otherwise, or when that is refused), refused when it exists and is not ours (ObjectNotOwned),
 * server-side applied, a field-manager conflict failed (ApplyConflict) or, when only hand edits
 * conflict and drift repair is on, applied again with force; after a CRD, the wait until it is
 * Established.
 */
#include <stdio.h>
#include <string.h>

#include "applyconflict.h"
#include "applysteps.h"
#include "phase4/core/json.h"
#include "phase4/stages/kubernetes/applymark.h"

int p4_applyset_crd_state(const cJSON *crd, char *msg, size_t size)
{
    const cJSON *c;
    int state = 0;

    if (msg && size)
        msg[0] = '\0';
    cJSON_ArrayForEach(c, p4_json_get(crd, "status.conditions")) {
        const char *type = p4_json_str(c, "type"), *status = p4_json_str(c, "status");
        if (type == NULL || status == NULL)
            continue;
        if (strcmp(type, "Established") == 0 && strcmp(status, "True") == 0)
            return 1;
        if (strcmp(type, "NamesAccepted") == 0 && strcmp(status, "False") == 0) {
            const char *why = p4_json_str(c, "message");
            if (msg && size)
                (void)snprintf(msg, size, "%s", why ? why : "its names were not accepted");
            state = -1;
        }
    }
    return state;
}

/* ---- step: create the namespace ---- */

static void on_ns_applied(struct p4_kube_result *res, void *data)
{
    struct p4_applyset *a = p4_applyset_back(data);

    if (a == NULL)
        return;
    if (res->rc != 0) {
        p4_applyset_fail_api(a, &a->nsentry, res, "create");
        return;
    }
    p4_applyset_go(a, APPLY_OBJECT, 0);
}

static void on_ns_got(struct p4_kube_result *res, void *data)
{
    struct p4_applyset *a = p4_applyset_back(data);
    cJSON *ns;
    int rc;

    if (a == NULL)
        return;
    /* There already: used as it is; one we made before uids were marked gets ours now, so
       that an uninstall knows it made it (a->previous lists what we applied: an upgrade). */
    if (res->rc == 0 && !(a->owner_uid && a->previous.n > 0 &&
                          p4_applyset_claim(res->body, a->owner_ns, a->owner_name, a->owner_uid) ==
                              P4_CLAIM_NO_UID)) {
        p4_applyset_go(a, APPLY_OBJECT, 0);
        return;
    }
    if (res->rc != 0 && res->rc != P4_ERR_NOTFOUND) {
        p4_applyset_fail_api(a, &a->nsentry, res, "read");
        return;
    }
    ns = p4_json_need(cJSON_CreateObject());
    p4_json_need(cJSON_AddStringToObject(ns, "apiVersion", "v1"));
    p4_json_need(cJSON_AddStringToObject(ns, "kind", "Namespace"));
    p4_json_need(cJSON_AddStringToObject(p4_json_need(cJSON_AddObjectToObject(ns, "metadata")),
                                         "name", a->ns));
    (void)p4_applyset_mark(ns, a->owner_ns, a->owner_name, a->generation);
    (void)p4_applyset_mark_uid(ns, a->owner_uid);
    rc = p4_applyset_send_apply(a, ns, on_ns_applied);
    cJSON_Delete(ns);
    if (rc != 0)
        p4_applyset_fail(a, &a->nsentry, rc, NULL, P4_FAIL_TRANSIENT, "cannot send Namespace %s",
                         a->ns);
}

void p4_applyset_namespace(struct p4_applyset *a)
{
    static const struct p4_resource_info info = {"", "v1", "Namespace", "namespaces", 0};
    int rc = p4_applyset_build_path(a, &info, "", a->ns);

    if (rc == 0)
        rc = p4_applyset_request(a, "GET", a->path, NULL, NULL, on_ns_got);
    if (rc != 0)
        p4_applyset_fail(a, &a->nsentry, rc, NULL, P4_FAIL_ARTIFACT, "cannot read Namespace %s",
                         a->ns);
}

/* ---- step: apply each object ---- */

/* Whether a CustomResourceDefinition in the set defines apiVersion's group and kind. */
static bool defined_here(const struct p4_applyset *a, const char *api_version, const char *kind)
{
    const char *slash = strchr(api_version, '/');
    size_t glen = slash ? (size_t)(slash - api_version) : 0;
    const cJSON *o;

    cJSON_ArrayForEach(o, a->objects) {
        const char *g = p4_json_str(o, "spec.group"), *k = p4_json_str(o, "spec.names.kind");
        const char *api = p4_json_str(o, "apiVersion");
        if (api && strncmp(api, P4_APPLYSET_CRD_GROUP "/", sizeof(P4_APPLYSET_CRD_GROUP)) == 0 &&
            p4_json_str(o, "kind") &&
            strcmp(p4_json_str(o, "kind"), "CustomResourceDefinition") == 0 && g && k &&
            strlen(g) == glen && strncmp(g, api_version, glen) == 0 && strcmp(k, kind) == 0)
            return true;
    }
    return false;
}

static const struct p4_inv_entry *current(const struct p4_applyset *a)
{
    return &a->inv.items[a->i];
}

static void on_crd_got(struct p4_kube_result *res, void *data)
{
    struct p4_applyset *a = p4_applyset_back(data);
    char why[300];
    int state;

    if (a == NULL)
        return;
    if (res->rc != 0 && res->rc != P4_ERR_NOTFOUND) {
        p4_applyset_fail_api(a, current(a), res, "read");
        return;
    }
    state = res->rc == 0 ? p4_applyset_crd_state(res->body, why, sizeof(why)) : 0;
    if (state == 1) {
        a->wait_start = 0;
        a->i++;
        p4_applyset_go(a, APPLY_OBJECT, 0);
    } else if (state < 0) {
        p4_applyset_fail(a, current(a), P4_ERR_INVALID, NULL, P4_FAIL_ARTIFACT,
                         "CustomResourceDefinition %s will not be established: %s",
                         current(a)->name, why);
    } else if (p4_applyset_now_ms(a) - a->wait_start >= P4_APPLYSET_WAIT_MS) {
        p4_applyset_fail(a, current(a), P4_ERR_TIMEOUT, NULL, P4_FAIL_TRANSIENT,
                         "CustomResourceDefinition %s was not Established within %d s",
                         current(a)->name, P4_APPLYSET_WAIT_MS / 1000);
    } else {
        p4_applyset_go(a, APPLY_CRD, P4_APPLYSET_CRD_POLL_MS);
    }
}

void p4_applyset_crd(struct p4_applyset *a)
{
    int rc = p4_applyset_request(a, "GET", a->path, NULL, NULL, on_crd_got);

    if (rc != 0)
        p4_applyset_fail(a, current(a), rc, NULL, P4_FAIL_TRANSIENT,
                         "cannot read CustomResourceDefinition %s", current(a)->name);
}

/*
 * A server-side apply whose object carries a resourceVersion is refused with a 409 when the
 * object exists with another version, and creates it when it does not (the version is then
 * ignored; checked on 1.36 for ConfigMaps, Services and Deployments). No object ever has
 * version "1" (etcd's first write is revision 2), so an apply with it creates the object or
 * changes nothing: what is not ours is never touched, without a read. Any refusal of it (a 409,
 * or an older API server that refuses a version on a create) goes the way of an existing
 * object: read, checked, applied. Only for kube-apiserver's own groups (no dot, or *.k8s.io):
 * an aggregated API server may not honour the version as a precondition.
 */
#define CREATE_ONLY_RV "1"

/* Whether apiVersion's group is served by kube-apiserver itself (core, apps, *.k8s.io). */
static bool builtin_group(const char *api_version)
{
    const char *slash = strchr(api_version, '/');
    size_t glen = slash ? (size_t)(slash - api_version) : 0;
    static const char k8s[] = ".k8s.io";

    if (glen == 0 || memchr(api_version, '.', glen) == NULL)
        return true;
    return glen > sizeof(k8s) - 1 &&
           memcmp(api_version + glen - (sizeof(k8s) - 1), k8s, sizeof(k8s) - 1) == 0;
}

static void on_object_got(struct p4_kube_result *res, void *data);
static void on_applied(struct p4_kube_result *res, void *data);

/* Send the current object (in its namespace), create-only or as an apply of any version. */
static int send_object(struct p4_applyset *a, const struct p4_inv_entry *e, bool create_only)
{
    cJSON *obj = cJSON_GetArrayItem(a->objects, (int)a->i);
    cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
    int rc;

    cJSON_DeleteItemFromObjectCaseSensitive(meta, "namespace");
    if (a->namespaced)
        p4_json_need(cJSON_AddStringToObject(meta, "namespace", e->namespace_));
    cJSON_DeleteItemFromObjectCaseSensitive(meta, "resourceVersion");
    if (create_only)
        p4_json_need(cJSON_AddStringToObject(meta, "resourceVersion", CREATE_ONLY_RV));
    a->creating = create_only;
    rc = p4_applyset_send_apply(a, obj, on_applied);
    if (create_only) /* the object stays as the chart has it */
        cJSON_DeleteItemFromObjectCaseSensitive(meta, "resourceVersion");
    return rc;
}

/* The object as it was, for on_applied: whether it existed, its version, who updated it. */
static void remember_live(struct p4_applyset *a, const cJSON *live)
{
    const char *rv = p4_json_str(live, "metadata.resourceVersion");

    a->existed = live != NULL;
    a->forcing = false;
    (void)snprintf(a->live_rv, sizeof(a->live_rv), "%s", rv ? rv : "");
    p4_applyset_updaters(live, a->updaters, sizeof(a->updaters));
}

static void on_applied(struct p4_kube_result *res, void *data)
{
    struct p4_applyset *a = p4_applyset_back(data);
    const struct p4_inv_entry *e;
    char what[900], managers[256], fields[200];

    if (a == NULL)
        return;
    e = current(a);
    if (a->creating) {
        a->creating = false;
        /* Refused: it exists (409), or this API server takes no version on a create. */
        if (res->rc != 0 && res->rc != P4_ERR_CANCELED) {
            int rc = p4_applyset_request(a, "GET", a->path, NULL, NULL, on_object_got);
            if (rc != 0)
                p4_applyset_fail(a, e, rc, NULL, P4_FAIL_ARTIFACT, "cannot read %s %s", e->kind,
                                 e->name);
            return;
        }
    }
    p4_applyset_describe(e, what, sizeof(what));
    if (res->rc != 0 && p4_applyset_is_field_conflict(res->st)) {
        (void)p4_applyset_conflict_managers(res->st, managers, sizeof(managers));
        p4_applyset_conflict_fields(res->st, fields, sizeof(fields));
        if (a->take_from_updaters && !a->forcing && managers[0] &&
            p4_applyset_all_updaters(a->updaters, managers)) {
            const cJSON *obj = cJSON_GetArrayItem(a->objects, (int)a->i);

            /* Changed by hand (kubectl edit, patch, scale): drift, put back. */
            p4_applyset_note_taken(a->taken, sizeof(a->taken), what, fields, managers);
            a->forcing = true;
            if (p4_applyset_send_apply(a, obj, on_applied) != 0)
                p4_applyset_fail(a, e, P4_ERR_INTERNAL, NULL, P4_FAIL_TRANSIENT,
                                 "cannot send %s %s", e->kind, e->name);
            return;
        }
        p4_applyset_fail(
            a, e, P4_ERR_CONFLICT, "ApplyConflict", P4_FAIL_CLUSTER,
            "%s: fields%s%s are managed by another field manager (%s): apply with force "
            "(spec.rollout.force, or --force) to take them over, or stop the other manager "
            "from setting them",
            what, fields[0] ? " " : "", fields, managers[0] ? managers : "not named");
        return;
    }
    if (res->rc != 0) {
        p4_applyset_fail_api(a, e, res, "apply");
        return;
    }
    {
        const char *rv = p4_json_str(res->body, "metadata.resourceVersion");
        if (!a->existed)
            a->change[a->i] = CHANGE_CREATED;
        else if (rv == NULL || strcmp(rv, a->live_rv) != 0)
            a->change[a->i] = CHANGE_CHANGED;
        (void)p4_json_int64(res->body, "metadata.generation", &a->gens[a->i]);
    }
    a->forcing = false;
    a->napplied = a->i + 1;
    if (strcmp(e->kind, "CustomResourceDefinition") == 0 &&
        strncmp(e->api_version, P4_APPLYSET_CRD_GROUP "/", sizeof(P4_APPLYSET_CRD_GROUP)) == 0) {
        a->wait_start = p4_applyset_now_ms(a);
        p4_applyset_go(a, APPLY_CRD, 0);
        return;
    }
    a->i++;
    p4_applyset_go(a, APPLY_OBJECT, 0);
}

bool p4_applyset_in(const struct p4_inventory *inv, const struct p4_inv_entry *e)
{
    for (size_t i = 0; inv && i < inv->n; i++)
        if (p4_inv_entry_same(&inv->items[i], e))
            return true;
    return false;
}

enum p4_applyset_adopt p4_applyset_adopt_decide(enum p4_applyset_claim claim, bool listed,
                                                bool adopt)
{
    switch (claim) {
    case P4_CLAIM_NONE:
        return ADOPT_NOT_OURS;
    case P4_CLAIM_OURS:
        return ADOPT_OURS;
    case P4_CLAIM_NO_UID:
        if (listed) /* ours from before uids were marked: the apply marks it now */
            return ADOPT_OURS;
        return adopt ? ADOPT_TAKE : ADOPT_REFUSE;
    case P4_CLAIM_OTHER_UID:
        return adopt ? ADOPT_TAKE : ADOPT_REFUSE;
    }
    return ADOPT_NOT_OURS;
}

int p4_applyset_adoption(const cJSON *live, const struct p4_inv_entry *e, struct p4_applyset *a)
{
    enum p4_applyset_claim claim =
        p4_applyset_claim(live, a->owner_ns, a->owner_name, a->owner_uid);
    const char *had;
    char what[900], quoted[130];

    bool ours_before_uids =
        p4_applyset_in(&a->previous, e) || p4_applyset_created_after(live, a->owner_created);

    switch (p4_applyset_adopt_decide(claim, ours_before_uids, a->adopt)) {
    case ADOPT_NOT_OURS:
    case ADOPT_OURS:
        return 0;
    case ADOPT_TAKE:
        a->adopted++;
        return 0;
    case ADOPT_REFUSE:
        break;
    }
    p4_applyset_describe(e, what, sizeof(what));
    had = p4_json_str(
        p4_json_child(p4_json_get(live, "metadata.annotations"), P4_APPLYSET_ANNOTATION_OWNER_UID),
        NULL);
    p4_applyset_fail(a, e, P4_ERR_EXISTS, "AdoptionRequired", P4_FAIL_CLUSTER,
                     "%s is marked as Phase4Deployment %s/%s's but was made by an earlier "
                     "resource of that name (%s%s), one deleted with deletionPolicy Orphan or "
                     "whose delete left it: set spec.adopt to true to take it over, or delete it",
                     what, a->owner_ns, a->owner_name, had ? "uid " : "no uid mark",
                     had ? p4_error_quote(had, 120, quoted) : "");
    return -1;
}

static void on_object_got(struct p4_kube_result *res, void *data)
{
    struct p4_applyset *a = p4_applyset_back(data);
    const struct p4_inv_entry *e;
    char what[900], have[200], quoted[130];
    int rc;

    if (a == NULL)
        return;
    e = current(a);
    if (res->rc != 0 && res->rc != P4_ERR_NOTFOUND) {
        p4_applyset_fail_api(a, e, res, "read");
        return;
    }
    if (res->rc == 0 && p4_applyset_adoption(res->body, e, a) != 0)
        return;
    if (res->rc == 0 && !p4_applyset_owned(res->body, a->owner_ns, a->owner_name)) {
        const char *mark = p4_json_str(p4_json_child(p4_json_get(res->body, "metadata.annotations"),
                                                     P4_APPLYSET_ANNOTATION_OWNER),
                                       NULL);
        p4_applyset_describe(e, what, sizeof(what));
        if (mark)
            (void)snprintf(have, sizeof(have), "its %s annotation is \"%s\"",
                           P4_APPLYSET_ANNOTATION_OWNER, p4_error_quote(mark, 120, quoted));
        else
            (void)snprintf(have, sizeof(have), "it has no %s annotation",
                           P4_APPLYSET_ANNOTATION_OWNER);
        p4_applyset_fail(
            a, e, P4_ERR_EXISTS, "ObjectNotOwned", P4_FAIL_CLUSTER,
            "%s already exists and is not owned by Phase4Deployment %s/%s (%s): delete or "
            "rename it, or remove it from the chart",
            what, a->owner_ns, a->owner_name, have);
        return;
    }
    remember_live(a, res->rc == 0 ? res->body : NULL);
    rc = send_object(a, e, false);
    if (rc != 0)
        p4_applyset_fail(a, e, rc, NULL, P4_FAIL_TRANSIENT, "cannot send %s %s", e->kind, e->name);
}

static void on_object_resolved(int rc, const struct p4_resource_info *info,
                               const struct p4_error *err, void *data)
{
    struct p4_applyset *a = p4_applyset_back(data);
    const struct p4_inv_entry *e;

    if (a == NULL)
        return;
    e = current(a);
    if (rc == P4_ERR_NOTFOUND && defined_here(a, e->api_version, e->kind)) {
        /* Its CRD was just applied: discovery serves the kind after its next refresh. */
        if (a->wait_start == 0)
            a->wait_start = p4_applyset_now_ms(a);
        if (p4_applyset_now_ms(a) - a->wait_start < P4_APPLYSET_WAIT_MS) {
            p4_applyset_go(a, APPLY_OBJECT, P4_APPLYSET_KIND_POLL_MS);
            return;
        }
    }
    if (rc != 0) {
        p4_applyset_fail(a, e, rc, NULL,
                         rc == P4_ERR_NOTFOUND ? P4_FAIL_ARTIFACT : p4_applyset_api_class(rc), "%s",
                         err ? err->message : p4_strerror(rc));
        return;
    }
    a->wait_start = 0;
    a->namespaced = info->namespaced == 1;
    if (a->namespaced && e->namespace_[0] == '\0') {
        p4_applyset_fail(a, e, P4_ERR_INVALID, NULL, P4_FAIL_TRANSIENT,
                         "%s %s is namespaced but was taken as cluster-scoped", e->kind, e->name);
        return;
    }
    rc = p4_applyset_build_path(a, info, a->namespaced ? e->namespace_ : "", e->name);
    if (rc != 0) {
        p4_applyset_fail(a, e, rc, NULL, P4_FAIL_ARTIFACT, "cannot read %s %s", e->kind, e->name);
        return;
    }
    /* Not applied by the last revision: most likely new, so created without a read first (a
       409 then reads it and checks whose it is, as for the others). */
    if (!p4_applyset_in(&a->previous, e) && builtin_group(e->api_version)) {
        remember_live(a, NULL);
        rc = send_object(a, e, true);
        if (rc != 0)
            p4_applyset_fail(a, e, rc, NULL, P4_FAIL_TRANSIENT, "cannot send %s %s", e->kind,
                             e->name);
        return;
    }
    rc = p4_applyset_request(a, "GET", a->path, NULL, NULL, on_object_got);
    if (rc != 0)
        p4_applyset_fail(a, e, rc, NULL, P4_FAIL_ARTIFACT, "cannot read %s %s", e->kind, e->name);
}

void p4_applyset_object(struct p4_applyset *a)
{
    const struct p4_inv_entry *e;
    int rc;

    if (a->i >= a->inv.n) {
        a->i = 0;
        p4_applyset_go(a, a->no_prune ? APPLY_FINISH : a->sweep ? APPLY_SWEEP : APPLY_PRUNE, 0);
        return;
    }
    e = current(a);
    rc = p4_applyset_lookup(a, e->api_version, e->kind, on_object_resolved);
    if (rc != 0)
        p4_applyset_fail(a, e, rc, NULL, P4_FAIL_TRANSIENT, "cannot ask discovery about %s",
                         e->kind);
}
