/*
 * health_fuzz.c: libFuzzer target for the health evaluation of Kubernetes objects.
 *
 * Input layout: the whole input is one object as JSON, parsed with cJSON_ParseWithLength (so
 * never read past size) and evaluated as it is. When it is a JSON object it is then evaluated
 * once more as each built-in kind (apiVersion removed, so the kind alone decides, and a
 * metadata.name supplied when it has none), which takes any status the fuzzer builds through
 * every kind's rules.
 * Invariants: the return is 0, or P4_ERR_INVAL with an UNKNOWN "InvalidObject" result; every
 * field of the result is written; the status is one of the four; permanent only with FAILED;
 * reason and message are NUL-terminated within their buffers and not empty; the reason holds
 * only condition-reason characters and the message only printable ASCII.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/core/json.h"
#include "phase4/stages/kubernetes/health.h"

static const char *const kinds[] = {
    "Deployment", "StatefulSet",
    "DaemonSet",  "ReplicaSet",
    "Job",        "Pod",
    "Service",    "PersistentVolumeClaim",
    "Namespace",  "CustomResourceDefinition",
    "ConfigMap",  "Widget",
};

static void check(int rc, const struct p4_health *h)
{
    const char *end;

    if (rc != 0 && rc != P4_ERR_INVAL)
        abort();
    if (h->status != P4_HEALTH_CURRENT && h->status != P4_HEALTH_IN_PROGRESS &&
        h->status != P4_HEALTH_FAILED && h->status != P4_HEALTH_UNKNOWN)
        abort();
    if (h->permanent && h->status != P4_HEALTH_FAILED)
        abort();
    end = memchr(h->reason, '\0', sizeof(h->reason));
    if (end == NULL || end == h->reason)
        abort();
    for (const char *p = h->reason; p < end; p++) {
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == ',' || *p == ':'))
            abort();
    }
    end = memchr(h->message, '\0', sizeof(h->message));
    if (end == NULL || end == h->message)
        abort();
    for (const char *p = h->message; p < end; p++) {
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
            abort();
    }
    if ((rc == P4_ERR_INVAL) !=
        (h->status == P4_HEALTH_UNKNOWN && strcmp(h->reason, "InvalidObject") == 0))
        abort();
}

static int eval(const cJSON *obj, struct p4_health *h)
{
    int rc;

    memset(h, 0x5a, sizeof(*h)); /* a field left unwritten shows */
    rc = p4_health_eval(obj, h);
    check(rc, h);
    return rc;
}

/* Every member key of obj goes (JSON objects may repeat a key; the first one counts). */
static void drop(cJSON *obj, const char *key)
{
    while (cJSON_GetObjectItemCaseSensitive(obj, key) != NULL)
        cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
}

/* Give obj a metadata.name when it has none, keeping the rest of its metadata. */
static void name_it(cJSON *obj)
{
    cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
    const char *name = p4_json_str(obj, "metadata.name");

    if (name != NULL && name[0] != '\0')
        return;
    if (!cJSON_IsObject(meta)) {
        drop(obj, "metadata");
        meta = p4_json_need(cJSON_AddObjectToObject(obj, "metadata"));
    }
    drop(meta, "name");
    (void)p4_json_need(cJSON_AddStringToObject(meta, "name", "fuzz"));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cJSON *obj = cJSON_ParseWithLength((const char *)data, size);
    struct p4_health h;

    (void)eval(obj, &h);
    if (cJSON_IsObject(obj)) {
        drop(obj, "apiVersion");
        name_it(obj);
        for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
            drop(obj, "kind");
            (void)p4_json_need(cJSON_AddStringToObject(obj, "kind", kinds[i]));
            if (eval(obj, &h) != 0)
                abort();
        }
    }
    cJSON_Delete(obj);
    return 0;
}
