/* kube/podspec.c: the pod template of a workload object (see podspec.h). */
#include "phase4/kube/podspec.h"

#include <string.h>

#include "phase4/core/json.h"
#include "phase4/core/text.h"

/* The group of apiVersion "group/version" ("" for the core group), as a span. */
static struct p4_span api_group(const char *api_version)
{
    const char *slash = api_version ? strchr(api_version, '/') : NULL;

    if (slash == NULL)
        return (struct p4_span){"", 0};
    return (struct p4_span){api_version, (size_t)(slash - api_version)};
}

static bool group_is(struct p4_span g, const char *want)
{
    return p4_span_cmp(g, p4_span_of(want)) == 0;
}

/* The pod template of obj (a Pod is its own), or NULL for a kind with none. */
static cJSON *template_of(const cJSON *obj)
{
    const char *kind = p4_json_str(obj, "kind");
    struct p4_span g = api_group(p4_json_str(obj, "apiVersion"));
    cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec"), *t;

    if (kind == NULL || !cJSON_IsObject(spec))
        return NULL;
    if (group_is(g, "") && strcmp(kind, "Pod") == 0)
        return (cJSON *)obj;
    if ((group_is(g, "") && strcmp(kind, "ReplicationController") == 0) ||
        (group_is(g, "apps") &&
         (strcmp(kind, "Deployment") == 0 || strcmp(kind, "ReplicaSet") == 0 ||
          strcmp(kind, "StatefulSet") == 0 || strcmp(kind, "DaemonSet") == 0)) ||
        (group_is(g, "batch") && strcmp(kind, "Job") == 0))
        return cJSON_GetObjectItemCaseSensitive(spec, "template");
    if (group_is(g, "batch") && strcmp(kind, "CronJob") == 0) {
        t = cJSON_GetObjectItemCaseSensitive(spec, "jobTemplate");
        t = cJSON_GetObjectItemCaseSensitive(t, "spec");
        return cJSON_GetObjectItemCaseSensitive(t, "template");
    }
    return NULL;
}

cJSON *p4_podspec_of(cJSON *obj)
{
    return cJSON_GetObjectItemCaseSensitive(template_of(obj), "spec");
}

const cJSON *p4_podspec_labels(const cJSON *obj)
{
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(template_of(obj), "metadata");
    const cJSON *labels = cJSON_GetObjectItemCaseSensitive(meta, "labels");

    return cJSON_IsObject(labels) ? labels : NULL;
}

void p4_podspec_each_container(cJSON *obj, p4_podspec_container_fn fn, void *data)
{
    static const char *const fields[] = {"initContainers", "containers", "ephemeralContainers"};
    cJSON *spec = p4_podspec_of(obj), *c;

    if (!cJSON_IsObject(spec))
        return;
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(spec, fields[i]);
        if (!cJSON_IsArray(list))
            continue;
        cJSON_ArrayForEach(c, list) {
            if (cJSON_IsObject(c))
                fn(obj, fields[i], c, data);
        }
    }
}

bool p4_podspec_default_service_account(cJSON *obj)
{
    cJSON *spec = p4_podspec_of(obj);

    if (!cJSON_IsObject(spec) ||
        cJSON_GetObjectItemCaseSensitive(spec, "serviceAccountName") != NULL ||
        cJSON_GetObjectItemCaseSensitive(spec, "serviceAccount") != NULL)
        return false;
    p4_json_need(cJSON_AddStringToObject(spec, "serviceAccountName", "default"));
    return true;
}
