/* stages/helm/plan.c: the approval plan from the dry run (see plan.h). */
#include "plan.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "phase4/core/alloc.h"
#include "phase4/core/json.h"
#include "phase4/core/jsondiff.h"

/* The marks the Kubernetes stage puts on what it applies (stages/kubernetes/applymark.h, which
   this stage may not include): "phase4.io/..." labels and annotations, and the managed-by label,
   which it sets over what the chart says. */
#define MARK_PREFIX "phase4.io/"
#define MARK_MANAGED_BY "app.kubernetes.io/managed-by"

void p4_plan_init(struct plan *p)
{
    memset(p, 0, sizeof(*p));
    p->create = cJSON_CreateArray();
    p->change = cJSON_CreateArray();
    p4_strmap_init(&p->rendered);
}

void p4_plan_close(struct plan *p)
{
    cJSON_Delete(p->create);
    cJSON_Delete(p->change);
    p4_strmap_close(&p->rendered);
    memset(p, 0, sizeof(*p));
}

bool p4_plan_answer_is_new(const cJSON *answer)
{
    const char *rv = p4_json_str(answer, "metadata.resourceVersion");

    return rv == NULL || rv[0] == '\0';
}

/* "group/Kind/namespace/name" into buf: the group of api_version ("" for the core group). */
static void identity(char *buf, size_t size, const char *api_version, const char *kind,
                     const char *ns, const char *name)
{
    const char *slash = api_version ? strchr(api_version, '/') : NULL;
    int glen = slash ? (int)(slash - api_version) : 0;

    (void)snprintf(buf, size, "%.*s/%s/%s/%s", glen, slash ? api_version : "", kind ? kind : "",
                   ns ? ns : "", name ? name : "");
}

static void remember(struct plan *p, const char *api_version, const char *kind, const char *ns,
                     const char *name)
{
    char id[1024];

    identity(id, sizeof(id), api_version, kind, ns, name);
    (void)p4_strmap_put(&p->rendered, id, p);
}

static cJSON *entry(const char *kind, const char *ns, const char *name)
{
    cJSON *e = cJSON_CreateObject();

    cJSON_AddStringToObject(e, "kind", kind ? kind : "");
    if (ns && ns[0])
        cJSON_AddStringToObject(e, "namespace", ns);
    cJSON_AddStringToObject(e, "name", name ? name : "");
    return e;
}

void p4_plan_created(struct plan *p, const char *api_version, const char *kind, const char *ns,
                     const char *name)
{
    remember(p, api_version, kind, ns, name);
    if (p->ncreate++ < PLAN_OBJECTS_MAX)
        cJSON_AddItemToArray(p->create, entry(kind, ns, name));
}

/* What the API server keeps for itself, left out of the comparison. */
static bool skip(const char *const *path, size_t depth, void *data)
{
    static const char *const meta[] = {"managedFields", "resourceVersion", "generation", "uid",
                                       "creationTimestamp"};

    (void)data;
    if (depth == 1)
        return strcmp(path[0], "status") == 0;
    if (depth == 2 && strcmp(path[0], "metadata") == 0)
        for (size_t i = 0; i < sizeof(meta) / sizeof(meta[0]); i++)
            if (strcmp(path[1], meta[i]) == 0)
                return true;
    return false;
}

/* A copy of obj without the Kubernetes stage's marks (and a labels or annotations left empty). */
static cJSON *unmarked(const cJSON *obj)
{
    cJSON *c = p4_json_need(cJSON_Duplicate(obj, 1));
    cJSON *meta = cJSON_GetObjectItemCaseSensitive(c, "metadata");
    static const char *const maps[] = {"labels", "annotations"};

    for (size_t i = 0; i < 2; i++) {
        cJSON *m = cJSON_GetObjectItemCaseSensitive(meta, maps[i]), *it, *next;
        if (!cJSON_IsObject(m))
            continue;
        for (it = m->child; it; it = next) {
            next = it->next;
            if (it->string && (strncmp(it->string, MARK_PREFIX, strlen(MARK_PREFIX)) == 0 ||
                               (i == 0 && strcmp(it->string, MARK_MANAGED_BY) == 0)))
                cJSON_Delete(cJSON_DetachItemViaPointer(m, it));
        }
        if (m->child == NULL)
            cJSON_DeleteItemFromObjectCaseSensitive(meta, maps[i]);
    }
    return c;
}

void p4_plan_compared(struct plan *p, const char *api_version, const char *kind, const char *ns,
                      const char *name, const cJSON *live, const cJSON *answer)
{
    cJSON *a = unmarked(live), *b = unmarked(answer), *paths = cJSON_CreateArray(), *e;
    struct p4_jsondiff d = p4_jsondiff_paths(a, b, skip, NULL, PLAN_PATHS_MAX, paths);

    remember(p, api_version, kind, ns, name);
    if (d.total == 0 && !d.truncated) {
        p->nunchanged++;
        cJSON_Delete(paths);
    } else if (p->nchange++ < PLAN_OBJECTS_MAX) {
        e = entry(kind, ns, name);
        cJSON_AddItemToObject(e, "paths", paths);
        if (d.total > PLAN_PATHS_MAX || d.truncated)
            cJSON_AddNumberToObject(
                e, "pathsMore", d.total > PLAN_PATHS_MAX ? (double)(d.total - PLAN_PATHS_MAX) : 1);
        cJSON_AddItemToArray(p->change, e);
    } else {
        cJSON_Delete(paths);
    }
    cJSON_Delete(a);
    cJSON_Delete(b);
}

void p4_plan_unread(struct plan *p, const char *api_version, const char *kind, const char *ns,
                    const char *name, const char *why)
{
    cJSON *e;

    remember(p, api_version, kind, ns, name);
    if (p->nchange++ >= PLAN_OBJECTS_MAX)
        return;
    e = entry(kind, ns, name);
    cJSON_AddStringToObject(e, "unknown", why ? why : "the live object could not be read");
    cJSON_AddItemToArray(p->change, e);
}

static bool never_pruned(const char *kind)
{
    return kind &&
           (strcmp(kind, "CustomResourceDefinition") == 0 || strcmp(kind, "Namespace") == 0);
}

/* list (taken over) as member name of plan, with nameMore when it did not list them all; an
   empty list is left out (kubectl describe shows it as a bare title). */
static void add_list(cJSON *plan, const char *name, cJSON *list, int total)
{
    char more[64];

    if (total == 0) {
        cJSON_Delete(list);
        return;
    }
    cJSON_AddItemToObject(plan, name, list);
    if (total > cJSON_GetArraySize(list)) {
        (void)snprintf(more, sizeof(more), "%sMore", name);
        cJSON_AddNumberToObject(plan, more, total - cJSON_GetArraySize(list));
    }
}

cJSON *p4_plan_status(const struct plan *p, int64_t generation, const cJSON *inventory,
                      const cJSON *images)
{
    cJSON *plan = cJSON_CreateObject(), *counts, *prune = cJSON_CreateArray();
    cJSON *kept = cJSON_CreateArray(), *imgs = cJSON_CreateArray();
    const cJSON *it;
    int nprune = 0, nkept = 0;
    char summary[256], id[1024];

    cJSON_ArrayForEach(it, inventory) {
        const char *av = p4_json_str(it, "apiVersion"), *kind = p4_json_str(it, "kind");
        const char *ns = p4_json_str(it, "namespace"), *name = p4_json_str(it, "name");
        if (kind == NULL || name == NULL)
            continue;
        identity(id, sizeof(id), av, kind, ns, name);
        if (p4_strmap_get(&p->rendered, id) != NULL)
            continue;
        if (never_pruned(kind)) {
            if (nkept++ < PLAN_OBJECTS_MAX)
                cJSON_AddItemToArray(kept, entry(kind, ns, name));
        } else if (nprune++ < PLAN_OBJECTS_MAX) {
            cJSON_AddItemToArray(prune, entry(kind, ns, name));
        }
    }
    cJSON_ArrayForEach(it, images) {
        if (cJSON_IsString(it) && cJSON_GetArraySize(imgs) < PLAN_OBJECTS_MAX * 4)
            cJSON_AddItemToArray(imgs, cJSON_CreateString(it->valuestring));
    }
    cJSON_AddNumberToObject(plan, "generation", (double)generation);
    (void)snprintf(summary, sizeof(summary),
                   "%d to create, %d to change, %d unchanged, %d to prune%s", p->ncreate,
                   p->nchange, p->nunchanged, nprune,
                   nkept ? " (CRDs and Namespaces are never pruned: they stay)" : "");
    cJSON_AddStringToObject(plan, "summary", summary);
    counts = cJSON_AddObjectToObject(plan, "counts");
    cJSON_AddNumberToObject(counts, "create", p->ncreate);
    cJSON_AddNumberToObject(counts, "change", p->nchange);
    cJSON_AddNumberToObject(counts, "unchanged", p->nunchanged);
    cJSON_AddNumberToObject(counts, "prune", nprune);
    add_list(plan, "create", p4_json_need(cJSON_Duplicate(p->create, 1)), p->ncreate);
    add_list(plan, "change", p4_json_need(cJSON_Duplicate(p->change, 1)), p->nchange);
    add_list(plan, "prune", prune, nprune);
    add_list(plan, "kept", kept, nkept);
    cJSON_AddItemToObject(plan, "images", imgs);
    return plan;
}
