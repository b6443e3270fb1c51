/* inventory.c: apply order, inventories and the prune set (see inventory.h). */
#include "phase4/stages/kubernetes/inventory.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/core/alloc.h"
#include "phase4/core/buf.h"
#include "phase4/core/json.h"
#include "phase4/core/strmap.h"
#include "phase4/kube/apply.h"

/* Kinds in apply order, with their (current) group; see inventory.h for why this order. */
static const struct {
    const char *group, *kind;
} apply_order[] = {
    {"scheduling.k8s.io", "PriorityClass"},
    {"", "Namespace"},
    {"apiextensions.k8s.io", "CustomResourceDefinition"},
    {"networking.k8s.io", "NetworkPolicy"},
    {"", "ResourceQuota"},
    {"", "LimitRange"},
    {"policy", "PodSecurityPolicy"},
    {"policy", "PodDisruptionBudget"},
    {"", "ServiceAccount"},
    {"rbac.authorization.k8s.io", "ClusterRole"},
    {"rbac.authorization.k8s.io", "ClusterRoleList"},
    {"rbac.authorization.k8s.io", "ClusterRoleBinding"},
    {"rbac.authorization.k8s.io", "ClusterRoleBindingList"},
    {"rbac.authorization.k8s.io", "Role"},
    {"rbac.authorization.k8s.io", "RoleList"},
    {"rbac.authorization.k8s.io", "RoleBinding"},
    {"rbac.authorization.k8s.io", "RoleBindingList"},
    {"", "Secret"},
    {"", "SecretList"},
    {"", "ConfigMap"},
    {"storage.k8s.io", "StorageClass"},
    {"", "PersistentVolume"},
    {"", "PersistentVolumeClaim"},
    {"", "Service"},
    {"apps", "DaemonSet"},
    {"", "Pod"},
    {"", "ReplicationController"},
    {"apps", "ReplicaSet"},
    {"apps", "Deployment"},
    {"apps", "StatefulSet"},
    {"batch", "Job"},
    {"batch", "CronJob"},
    {"autoscaling", "HorizontalPodAutoscaler"},
    {"networking.k8s.io", "IngressClass"},
    {"networking.k8s.io", "Ingress"},
    {"apiregistration.k8s.io", "APIService"},
    {"admissionregistration.k8s.io", "MutatingWebhookConfiguration"},
    {"admissionregistration.k8s.io", "ValidatingWebhookConfiguration"},
};
#define RANK_UNKNOWN (sizeof(apply_order) / sizeof(apply_order[0]))

/* Groups Kubernetes serves a kind under besides its current one: the same stored objects. */
static const struct {
    const char *group, *kind, *current;
} aliases[] = {
    {"extensions", "Deployment", "apps"},
    {"extensions", "DaemonSet", "apps"},
    {"extensions", "ReplicaSet", "apps"},
    {"extensions", "Ingress", "networking.k8s.io"},
    {"extensions", "NetworkPolicy", "networking.k8s.io"},
    {"extensions", "PodSecurityPolicy", "policy"},
    {"events.k8s.io", "Event", ""},
};

static const char *str(const char *s)
{
    return s ? s : "";
}

/* Whether api is "version" or "group/version", both parts non-empty. */
static bool valid_api_version(const char *api)
{
    const char *slash = strchr(api, '/');

    if (api[0] == '\0')
        return false;
    if (slash == NULL)
        return true;
    return slash != api && slash[1] != '\0' && strchr(slash + 1, '/') == NULL;
}

struct group {
    const char *s; /* not NUL-terminated at len */
    size_t len;
};

static bool group_is(struct group g, const char *s)
{
    return g.len == strlen(s) && memcmp(g.s, s, g.len) == 0;
}

/* The group of api (what precedes its last '/', "" for the core group), legacy ones replaced. */
static struct group group_of(const char *api, const char *kind)
{
    const char *slash = strrchr(api, '/');
    struct group g = {"", 0};

    if (slash) {
        g.s = api;
        g.len = (size_t)(slash - api);
    }
    for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++) {
        if (group_is(g, aliases[i].group) && strcmp(kind, aliases[i].kind) == 0) {
            g.s = aliases[i].current;
            g.len = strlen(aliases[i].current);
            break;
        }
    }
    return g;
}

static size_t rank_of(const char *api, const char *kind)
{
    struct group g = group_of(api, kind);

    for (size_t i = 0; i < RANK_UNKNOWN; i++) {
        if (strcmp(kind, apply_order[i].kind) == 0 && group_is(g, apply_order[i].group))
            return i;
    }
    return RANK_UNKNOWN;
}

/* One element being sorted: its rank, its kind (for unknown kinds) and where it was. */
struct slot {
    size_t rank;
    const char *kind;
    size_t index;
    void *item;
};

static int compare_slots(const void *pa, const void *pb)
{
    const struct slot *a = pa, *b = pb;
    int c;

    if (a->rank != b->rank)
        return a->rank < b->rank ? -1 : 1;
    if (a->rank == RANK_UNKNOWN) { /* as Helm: unknown kinds by name */
        c = strcmp(a->kind, b->kind);
        if (c != 0)
            return c;
    }
    /* qsort is not stable: the original position decides ties. */
    if (a->index != b->index)
        return a->index < b->index ? -1 : 1;
    return 0;
}

static void sort_slots(struct slot *slots, size_t n, bool prune)
{
    if (n < 2)
        return;
    qsort(slots, n, sizeof(*slots), compare_slots);
    if (prune) {
        for (size_t i = 0, j = n - 1; i < j; i++, j--) {
            struct slot t = slots[i];
            slots[i] = slots[j];
            slots[j] = t;
        }
    }
}

static int order(cJSON *objects, bool prune, struct p4_error *err)
{
    struct slot *slots = NULL;
    size_t n, i = 0;
    int rc = 0;

    if (!cJSON_IsArray(objects))
        return p4_error_set(err, P4_ERR_INVAL, "the manifest is not a list of objects");
    n = p4_json_count_upto(objects, P4_MANIFEST_OBJECTS_MAX);
    if (n > P4_MANIFEST_OBJECTS_MAX)
        return p4_error_set(err, P4_ERR_TOOBIG, "the manifest has more than %d objects",
                            P4_MANIFEST_OBJECTS_MAX);
    if (n == 0)
        return 0;
    slots = p4_calloc(n, sizeof(*slots));
    for (cJSON *obj = objects->child; obj; obj = obj->next, i++) {
        const char *api = p4_json_str(obj, "apiVersion"), *kind = p4_json_str(obj, "kind");
        if (!cJSON_IsObject(obj) || api == NULL || kind == NULL) {
            rc = p4_error_set(err, P4_ERR_INVALID,
                              "object %zu of the manifest is not an object with apiVersion "
                              "and kind",
                              i + 1);
            goto out;
        }
        slots[i] = (struct slot){rank_of(api, kind), kind, i, obj};
    }
    sort_slots(slots, n, prune);
    for (i = 0; i < n; i++)
        (void)cJSON_DetachItemViaPointer(objects, slots[i].item);
    for (i = 0; i < n; i++)
        p4_json_need_ok(cJSON_AddItemToArray(objects, slots[i].item));
out:
    free(slots);
    return rc;
}

int p4_inventory_order(cJSON *objects, struct p4_error *err)
{
    return order(objects, false, err);
}

int p4_inventory_prune_order(cJSON *objects, struct p4_error *err)
{
    return order(objects, true, err);
}

/*
 * key <- the identity of an object: group, kind and namespace each behind its
 * length, so no name, however hostile, makes two identities one.
 */
static const char *identity(struct p4_buf *key, const char *api, const char *kind,
                            const char *namespace_, const char *name)
{
    struct group g = group_of(api, kind);

    key->len = 0;
    p4_buf_printf(key, "%zu:", g.len);
    p4_buf_append(key, g.s, g.len);
    p4_buf_printf(key, "%zu:%s%zu:%s%s", strlen(kind), kind, strlen(namespace_), namespace_, name);
    return key->data;
}

static const char *entry_identity(struct p4_buf *key, const struct p4_inv_entry *e)
{
    return identity(key, str(e->api_version), str(e->kind), str(e->namespace_), str(e->name));
}

static void append(struct p4_inventory *inv, const char *api, const char *kind,
                   const char *namespace_, const char *name)
{
    struct p4_inv_entry *e = &inv->items[inv->n++];

    e->api_version = p4_strdup(api);
    e->kind = p4_strdup(kind);
    e->namespace_ = p4_strdup(namespace_);
    e->name = p4_strdup(name);
}

static bool too_long(const char *s)
{
    return strnlen(s, P4_INVENTORY_FIELD_MAX + 1) > P4_INVENTORY_FIELD_MAX;
}

/* "Deployment shop/web" or "ClusterRole admin", for messages (kind and name may be NULL). */
static void describe(const char *kind, const char *namespace_, const char *name, char *buf,
                     size_t size)
{
    char k[68], ns[68], n[132];

    (void)p4_error_quote(str(kind), 64, k);
    (void)p4_error_quote(str(namespace_), 64, ns);
    (void)p4_error_quote(str(name), 128, n);
    (void)snprintf(buf, size, "%s%s%s%s%s", k, k[0] && (ns[0] || n[0]) ? " " : "", ns,
                   ns[0] ? "/" : "", n);
}

/* The manifest's CustomResourceDefinitions: group and kind -> &answers[1 if namespaced]. */
static void index_crds(const cJSON *objects, struct p4_strmap *crds, int answers[2],
                       struct p4_buf *key)
{
    for (const cJSON *obj = objects->child; obj; obj = obj->next) {
        const char *api = p4_json_str(obj, "apiVersion"), *kind = p4_json_str(obj, "kind");
        const char *group = p4_json_str(obj, "spec.group");
        const char *crd_kind = p4_json_str(obj, "spec.names.kind");
        const char *scope = p4_json_str(obj, "spec.scope");
        int *answer;

        if (api == NULL || kind == NULL || group == NULL || crd_kind == NULL || scope == NULL ||
            strcmp(kind, "CustomResourceDefinition") != 0 ||
            !group_is(group_of(api, kind), "apiextensions.k8s.io"))
            continue;
        if (strcmp(scope, "Namespaced") == 0)
            answer = &answers[1];
        else if (strcmp(scope, "Cluster") == 0)
            answer = &answers[0];
        else
            continue;
        key->len = 0;
        p4_buf_printf(key, "%zu:%s%s", strlen(group), group, crd_kind);
        (void)p4_strmap_put(crds, key->data, answer);
    }
}

/* 1 namespaced, 0 cluster-scoped, -1 unknown. */
static int namespaced(const char *api, const char *kind, const struct p4_inventory_scope *scope,
                      const struct p4_strmap *crds, struct p4_buf *key)
{
    int r = scope->namespaced(api, kind, scope->data);
    struct group g;
    const int *answer;

    if (r == 0 || r == 1)
        return r;
    g = group_of(api, kind);
    key->len = 0;
    p4_buf_printf(key, "%zu:", g.len);
    p4_buf_append(key, g.s, g.len);
    p4_buf_append(key, kind, strlen(kind));
    answer = p4_strmap_get(crds, key->data);
    return answer ? *answer : -1;
}

struct build {
    const char *default_namespace;
    const struct p4_inventory_scope *scope;
    struct p4_strmap crds, seen;
    struct p4_buf key;
    struct p4_inventory *out;
};

static int add_object(struct build *b, const cJSON *obj, size_t index, struct p4_error *err)
{
    static const char *const required[] = {"apiVersion", "kind", "metadata.name"};
    const char *api = p4_json_str(obj, "apiVersion"), *kind = p4_json_str(obj, "kind");
    const char *name = p4_json_str(obj, "metadata.name"), *ns = "";
    char what[300], quoted[68];
    int scoped;

    if (!cJSON_IsObject(obj))
        return p4_error_set(err, P4_ERR_INVALID, "object %zu of the manifest is not an object",
                            index + 1);
    describe(kind, NULL, name, what, sizeof(what));
    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
        const char *v = p4_json_str(obj, required[i]);
        if (v == NULL || v[0] == '\0')
            return p4_error_set(err, P4_ERR_INVALID,
                                "object %zu of the manifest%s%s%s: %s is missing", index + 1,
                                what[0] ? " (" : "", what, what[0] ? ")" : "", required[i]);
        if (too_long(v))
            return p4_error_set(err, P4_ERR_INVALID,
                                "object %zu of the manifest (%s): %s is longer than %d bytes",
                                index + 1, what, required[i], P4_INVENTORY_FIELD_MAX);
    }
    if (!valid_api_version(api))
        return p4_error_set(err, P4_ERR_INVALID,
                            "%s: apiVersion \"%s\" is not \"version\" or \"group/version\"", what,
                            p4_error_quote(api, 64, quoted));
    scoped = namespaced(api, kind, b->scope, &b->crds, &b->key);
    if (scoped != 0 && scoped != 1)
        return p4_error_set(err, P4_ERR_NOTFOUND,
                            "%s (%s): the cluster serves no such kind and no "
                            "CustomResourceDefinition in the manifest defines it",
                            what, p4_error_quote(api, 64, quoted));
    if (scoped) {
        ns = p4_json_str(obj, "metadata.namespace");
        if (ns == NULL || ns[0] == '\0')
            ns = b->default_namespace ? b->default_namespace : "default";
        if (too_long(ns))
            return p4_error_set(err, P4_ERR_INVALID,
                                "%s: metadata.namespace is longer than %d bytes", what,
                                P4_INVENTORY_FIELD_MAX);
    }
    if (p4_strmap_get(&b->seen, identity(&b->key, api, kind, ns, name))) {
        describe(kind, ns, name, what, sizeof(what));
        return p4_error_set(err, P4_ERR_INVALID, "%s appears twice in the manifest", what);
    }
    append(b->out, api, kind, ns, name);
    (void)p4_strmap_put(&b->seen, b->key.data, &b->out->items[b->out->n - 1]);
    return 0;
}

int p4_inventory_from_objects(const cJSON *objects, const char *default_namespace,
                              const struct p4_inventory_scope *scope, struct p4_inventory *out,
                              struct p4_error *err)
{
    struct build b = {.default_namespace = default_namespace, .scope = scope, .out = out};
    int answers[2] = {0, 1};
    size_t n, i = 0;
    int rc = 0;

    if (out)
        memset(out, 0, sizeof(*out));
    if (!cJSON_IsArray(objects) || scope == NULL || scope->namespaced == NULL || out == NULL)
        return p4_error_set(err, P4_ERR_INVAL, "no manifest, scope or inventory");
    n = p4_json_count_upto(objects, P4_MANIFEST_OBJECTS_MAX);
    if (n > P4_MANIFEST_OBJECTS_MAX)
        return p4_error_set(err, P4_ERR_TOOBIG, "the manifest has more than %d objects",
                            P4_MANIFEST_OBJECTS_MAX);
    if (n == 0)
        return 0;
    p4_strmap_init(&b.crds);
    p4_strmap_init(&b.seen);
    index_crds(objects, &b.crds, answers, &b.key);
    out->items = p4_calloc(n, sizeof(*out->items));
    for (const cJSON *obj = objects->child; obj && rc == 0; obj = obj->next, i++)
        rc = add_object(&b, obj, i, err);
    p4_strmap_close(&b.crds);
    p4_strmap_close(&b.seen);
    free(b.key.data);
    if (rc != 0)
        p4_inventory_close(out);
    return rc;
}

cJSON *p4_inventory_to_json(const struct p4_inventory *inv)
{
    cJSON *list = p4_json_need(cJSON_CreateArray());

    for (size_t i = 0; inv && i < inv->n; i++) {
        const struct p4_inv_entry *e = &inv->items[i];
        cJSON *item = p4_json_need(cJSON_CreateObject());

        p4_json_need(cJSON_AddStringToObject(item, "apiVersion", str(e->api_version)));
        p4_json_need(cJSON_AddStringToObject(item, "kind", str(e->kind)));
        if (str(e->namespace_)[0])
            p4_json_need(cJSON_AddStringToObject(item, "namespace", e->namespace_));
        p4_json_need(cJSON_AddStringToObject(item, "name", str(e->name)));
        p4_json_need_ok(cJSON_AddItemToArray(list, item));
    }
    return list;
}

/* The string member key of obj, NULL when absent, not a string, empty or too long. */
static const char *field(const cJSON *obj, const char *key)
{
    const cJSON *v = p4_json_child(obj, key);

    if (!cJSON_IsString(v) || v->valuestring == NULL || v->valuestring[0] == '\0' ||
        too_long(v->valuestring))
        return NULL;
    return v->valuestring;
}

/* Read one status.inventory entry; -1 when it is to be skipped. */
static int read_entry(const cJSON *item, const char **api, const char **kind, const char **ns,
                      const char **name)
{
    const cJSON *n;

    if (!cJSON_IsObject(item))
        return -1;
    *api = field(item, "apiVersion");
    *kind = field(item, "kind");
    *name = field(item, "name");
    if (*api == NULL || *kind == NULL || *name == NULL || !valid_api_version(*api))
        return -1;
    n = p4_json_child(item, "namespace");
    if (n == NULL || cJSON_IsNull(n)) {
        *ns = "";
        return 0;
    }
    if (!cJSON_IsString(n) || n->valuestring == NULL || too_long(n->valuestring))
        return -1;
    *ns = n->valuestring;
    return 0;
}

int p4_inventory_from_json(const cJSON *json, struct p4_inventory *out, size_t *skipped,
                           struct p4_error *err)
{
    struct p4_strmap seen;
    struct p4_buf key = {0};
    size_t n, dropped = 0;

    if (skipped)
        *skipped = 0;
    if (out == NULL)
        return p4_error_set(err, P4_ERR_INVAL, "no inventory");
    memset(out, 0, sizeof(*out));
    if (json == NULL || cJSON_IsNull(json))
        return 0;
    if (!cJSON_IsArray(json))
        return p4_error_set(err, P4_ERR_INVALID, "status.inventory is not a list");
    n = p4_json_count_upto(json, P4_MANIFEST_OBJECTS_MAX);
    if (n > P4_MANIFEST_OBJECTS_MAX)
        return p4_error_set(err, P4_ERR_TOOBIG, "status.inventory has more than %d entries",
                            P4_MANIFEST_OBJECTS_MAX);
    if (n == 0)
        return 0;
    p4_strmap_init(&seen);
    out->items = p4_calloc(n, sizeof(*out->items));
    for (const cJSON *item = json->child; item; item = item->next) {
        const char *api, *kind, *ns, *name;
        if (read_entry(item, &api, &kind, &ns, &name) != 0 ||
            p4_strmap_get(&seen, identity(&key, api, kind, ns, name))) {
            dropped++;
            continue;
        }
        append(out, api, kind, ns, name);
        (void)p4_strmap_put(&seen, key.data, &out->items[out->n - 1]);
    }
    p4_strmap_close(&seen);
    free(key.data);
    if (out->n == 0) {
        free(out->items);
        out->items = NULL;
    }
    if (skipped)
        *skipped = dropped;
    return 0;
}

bool p4_inv_entry_same(const struct p4_inv_entry *a, const struct p4_inv_entry *b)
{
    struct group ga, gb;

    if (a == NULL || b == NULL)
        return a == b;
    if (strcmp(str(a->kind), str(b->kind)) != 0 || strcmp(str(a->name), str(b->name)) != 0 ||
        strcmp(str(a->namespace_), str(b->namespace_)) != 0)
        return false;
    ga = group_of(str(a->api_version), str(a->kind));
    gb = group_of(str(b->api_version), str(b->kind));
    return ga.len == gb.len && memcmp(ga.s, gb.s, ga.len) == 0;
}

/* Reorder inv's entries into prune order. */
static void prune_sort(struct p4_inventory *inv)
{
    struct slot *slots;
    struct p4_inv_entry *sorted;

    if (inv->n < 2)
        return;
    slots = p4_calloc(inv->n, sizeof(*slots));
    for (size_t i = 0; i < inv->n; i++) {
        struct p4_inv_entry *e = &inv->items[i];
        slots[i] = (struct slot){rank_of(str(e->api_version), str(e->kind)), str(e->kind), i, e};
    }
    sort_slots(slots, inv->n, true);
    sorted = p4_calloc(inv->n, sizeof(*sorted));
    for (size_t i = 0; i < inv->n; i++)
        sorted[i] = *(struct p4_inv_entry *)slots[i].item;
    free(inv->items);
    inv->items = sorted;
    free(slots);
}

int p4_inventory_diff(const struct p4_inventory *previous, const struct p4_inventory *current,
                      struct p4_inventory *prune)
{
    struct p4_strmap kept, gone;
    struct p4_buf key = {0};

    if (prune == NULL || previous == NULL || current == NULL)
        return P4_ERR_INVAL;
    memset(prune, 0, sizeof(*prune));
    if (previous->n == 0)
        return 0;
    /* The maps only answer "present?": any non-NULL value does, prune is one at hand. */
    p4_strmap_init(&kept);
    p4_strmap_init(&gone);
    for (size_t i = 0; i < current->n; i++)
        (void)p4_strmap_put(&kept, entry_identity(&key, &current->items[i]), prune);
    prune->items = p4_calloc(previous->n, sizeof(*prune->items));
    for (size_t i = 0; i < previous->n; i++) {
        const struct p4_inv_entry *e = &previous->items[i];
        if (p4_strmap_get(&kept, entry_identity(&key, e)) || p4_strmap_get(&gone, key.data))
            continue;
        (void)p4_strmap_put(&gone, key.data, prune);
        append(prune, str(e->api_version), str(e->kind), str(e->namespace_), str(e->name));
    }
    p4_strmap_close(&kept);
    p4_strmap_close(&gone);
    free(key.data);
    if (prune->n == 0) {
        free(prune->items);
        prune->items = NULL;
    }
    prune_sort(prune);
    return 0;
}

int p4_inventory_check_scope(const struct p4_inventory *inv, const char *target_namespace,
                             bool allow_cluster_scoped, struct p4_error *err)
{
    char what[300], target[68];

    if (inv == NULL || target_namespace == NULL || target_namespace[0] == '\0')
        return p4_error_set(err, P4_ERR_INVAL, "no inventory or target namespace");
    for (size_t i = 0; i < inv->n; i++) {
        const struct p4_inv_entry *e = &inv->items[i];
        const char *ns = str(e->namespace_), *kind = str(e->kind);

        if (ns[0]) {
            if (strcmp(ns, target_namespace) == 0)
                continue;
            describe(kind, ns, e->name, what, sizeof(what));
            return p4_error_set(err, P4_ERR_INVALID, "%s is outside spec.target.namespace %s", what,
                                p4_error_quote(target_namespace, 64, target));
        }
        if (allow_cluster_scoped ||
            (strcmp(kind, "Namespace") == 0 && group_is(group_of(str(e->api_version), kind), "") &&
             strcmp(str(e->name), target_namespace) == 0))
            continue;
        describe(kind, NULL, e->name, what, sizeof(what));
        return p4_error_set(err, P4_ERR_INVALID,
                            "%s is cluster-scoped; set spec.target.allowClusterScoped to apply it",
                            what);
    }
    return 0;
}

void p4_inventory_close(struct p4_inventory *inv)
{
    if (inv == NULL)
        return;
    for (size_t i = 0; i < inv->n; i++) {
        free(inv->items[i].api_version);
        free(inv->items[i].kind);
        free(inv->items[i].namespace_);
        free(inv->items[i].name);
    }
    free(inv->items);
    inv->items = NULL;
    inv->n = 0;
}

void p4_inventory_copy(const struct p4_inventory *from, struct p4_inventory *to)
{
    to->items = NULL;
    to->n = 0;
    if (from == NULL || from->n == 0)
        return;
    to->items = p4_calloc(from->n, sizeof(*to->items));
    for (size_t i = 0; i < from->n; i++) {
        const struct p4_inv_entry *f = &from->items[i];
        append(to, str(f->api_version), str(f->kind), str(f->namespace_), str(f->name));
    }
}
