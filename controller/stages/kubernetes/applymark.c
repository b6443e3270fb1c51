/* applymark.c: the marks of an object a Phase4Deployment owns (see applymark.h). */
#include "phase4/stages/kubernetes/applymark.h"

#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/core/error.h"
#include "phase4/core/json.h"
#include "phase4/core/text.h"
#include "phase4/core/timefmt.h"
#include "phase4/stages/kubernetes/inventory.h"

const char *p4_applyset_label_value(const char *value, char out[P4_LABEL_VALUE_MAX + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    size_t n = value ? strlen(value) : 0;

    if (n <= P4_LABEL_VALUE_MAX) {
        (void)snprintf(out, P4_LABEL_VALUE_MAX + 1, "%s", value ? value : "");
        return out;
    }
    if (EVP_Digest(value, n, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen < 5)
        memset(md, 0, sizeof(md));
    memcpy(out, value, 52);
    out[52] = '-';
    for (int i = 0; i < 5; i++) {
        out[53 + 2 * i] = hex[md[i] >> 4];
        out[54 + 2 * i] = hex[md[i] & 15];
    }
    out[63] = '\0';
    return out;
}

int p4_applyset_owner_mark(const char *owner_namespace, const char *owner_name, char *buf,
                           size_t size)
{
    int n;

    if (owner_namespace == NULL || owner_name == NULL || buf == NULL || size == 0)
        return P4_ERR_INVAL;
    n = snprintf(buf, size, "%s/%s", owner_namespace, owner_name);
    return n < 0 || (size_t)n >= size ? P4_ERR_TOOBIG : 0;
}

/* obj's member key as an object, replacing a member of another type. */
static cJSON *object_member(cJSON *obj, const char *key)
{
    cJSON *m = cJSON_GetObjectItemCaseSensitive(obj, key);

    if (cJSON_IsObject(m))
        return m;
    cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
    m = p4_json_need(cJSON_CreateObject());
    p4_json_need_ok(cJSON_AddItemToObject(obj, key, m));
    return m;
}

static void set_string(cJSON *obj, const char *key, const char *value)
{
    cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
    p4_json_need(cJSON_AddStringToObject(obj, key, value));
}

int p4_applyset_mark(cJSON *obj, const char *owner_namespace, const char *owner_name,
                     int64_t generation)
{
    char mark[P4_INVENTORY_FIELD_MAX * 2 + 2], label[P4_LABEL_VALUE_MAX + 1], gen[24];
    cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata"), *labels, *annotations;

    if (!cJSON_IsObject(obj) || !cJSON_IsObject(meta) ||
        p4_applyset_owner_mark(owner_namespace, owner_name, mark, sizeof(mark)) != 0)
        return P4_ERR_INVAL;
    (void)snprintf(gen, sizeof(gen), "%" PRId64, generation);
    labels = object_member(meta, "labels");
    set_string(labels, P4_APPLYSET_LABEL_MANAGED_BY, P4_APPLYSET_MANAGER);
    set_string(labels, P4_APPLYSET_LABEL_NAME, p4_applyset_label_value(owner_name, label));
    set_string(labels, P4_APPLYSET_LABEL_GENERATION, gen);
    annotations = object_member(meta, "annotations");
    set_string(annotations, P4_APPLYSET_ANNOTATION_OWNER, mark);
    return 0;
}

const char *p4_applyset_owner_of(const cJSON *obj)
{
    const cJSON *ann = p4_json_get(obj, "metadata.annotations");
    const char *have = p4_json_str(p4_json_child(ann, P4_APPLYSET_ANNOTATION_OWNER), NULL);

    return have && strchr(have, '/') ? have : NULL;
}

bool p4_applyset_owned(const cJSON *live, const char *owner_namespace, const char *owner_name)
{
    const char *have = p4_applyset_owner_of(live);
    char mark[P4_INVENTORY_FIELD_MAX * 2 + 2];

    if (have == NULL ||
        p4_applyset_owner_mark(owner_namespace, owner_name, mark, sizeof(mark)) != 0)
        return false;
    return strcmp(have, mark) == 0;
}

int p4_applyset_mark_uid(cJSON *obj, const char *uid)
{
    cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");

    if (!cJSON_IsObject(obj) || !cJSON_IsObject(meta))
        return P4_ERR_INVAL;
    if (uid == NULL || uid[0] == '\0')
        return 0;
    set_string(object_member(meta, "annotations"), P4_APPLYSET_ANNOTATION_OWNER_UID, uid);
    return 0;
}

enum p4_applyset_claim p4_applyset_claim(const cJSON *live, const char *owner_namespace,
                                         const char *owner_name, const char *owner_uid)
{
    const cJSON *ann = p4_json_get(live, "metadata.annotations");
    const char *have;

    if (!p4_applyset_owned(live, owner_namespace, owner_name))
        return P4_CLAIM_NONE;
    if (owner_uid == NULL || owner_uid[0] == '\0')
        return P4_CLAIM_OURS;
    have = p4_json_str(p4_json_child(ann, P4_APPLYSET_ANNOTATION_OWNER_UID), NULL);
    if (have == NULL || have[0] == '\0')
        return P4_CLAIM_NO_UID;
    return strcmp(have, owner_uid) == 0 ? P4_CLAIM_OURS : P4_CLAIM_OTHER_UID;
}

/* Whether live carries key in metadata.<member> (live NULL: take it as carried). */
static bool carries(const cJSON *live, const char *member, const char *key)
{
    const cJSON *meta = p4_json_get(live, "metadata");
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(meta, member);

    return live == NULL || (cJSON_IsObject(m) && p4_json_child(m, key) != NULL);
}

char *p4_applyset_unmark_patch(const cJSON *live, const char *uid)
{
    static const char *const labels[] = {P4_APPLYSET_LABEL_NAME, P4_APPLYSET_LABEL_GENERATION};
    static const char *const annotations[] = {P4_APPLYSET_ANNOTATION_OWNER,
                                              P4_APPLYSET_ANNOTATION_OWNER_UID};
    cJSON *patch = p4_json_need(cJSON_CreateObject());
    cJSON *meta = p4_json_need(cJSON_AddObjectToObject(patch, "metadata"));
    cJSON *l = p4_json_need(cJSON_CreateObject()), *a = p4_json_need(cJSON_CreateObject());
    const cJSON *live_labels = p4_json_get(live, "metadata.labels");
    char *text;

    if (uid && uid[0])
        p4_json_need(cJSON_AddStringToObject(meta, "uid", uid));
    /* The managed-by label only when it says phase4-operator: a chart's own value stays. */
    if (live == NULL ||
        p4_text_eq(p4_json_str(p4_json_child(live_labels, P4_APPLYSET_LABEL_MANAGED_BY), NULL),
                   P4_APPLYSET_MANAGER))
        p4_json_need(cJSON_AddNullToObject(l, P4_APPLYSET_LABEL_MANAGED_BY));
    for (size_t i = 0; i < sizeof(labels) / sizeof(labels[0]); i++)
        if (carries(live, "labels", labels[i]))
            p4_json_need(cJSON_AddNullToObject(l, labels[i]));
    for (size_t i = 0; i < sizeof(annotations) / sizeof(annotations[0]); i++)
        if (carries(live, "annotations", annotations[i]))
            p4_json_need(cJSON_AddNullToObject(a, annotations[i]));
    if (l->child)
        p4_json_need_ok(cJSON_AddItemToObject(meta, "labels", l));
    else
        cJSON_Delete(l);
    if (a->child)
        p4_json_need_ok(cJSON_AddItemToObject(meta, "annotations", a));
    else
        cJSON_Delete(a);
    text = p4_json_print(patch);
    cJSON_Delete(patch);
    if (text == NULL)
        abort(); /* only cJSON's own allocation can fail here */
    return text;
}

bool p4_applyset_created_after(const cJSON *live, const char *owner_created)
{
    int64_t made, owner;

    return p4_timefmt_parse(p4_json_str(live, "metadata.creationTimestamp"), &made) == 0 &&
           p4_timefmt_parse(owner_created, &owner) == 0 && made >= owner;
}
