/* kube/selector.c: label selectors (see selector.h). */
#include "phase4/kube/selector.h"

#include <string.h>

#include "phase4/core/json.h"

static bool has_value(const cJSON *values, const char *v)
{
    const cJSON *it;

    cJSON_ArrayForEach(it, values) {
        if (cJSON_IsString(it) && v && strcmp(it->valuestring, v) == 0)
            return true;
    }
    return false;
}

/* An expression's values: 1 a non-empty array of strings, 0 absent or empty, -1 malformed. */
static int values_shape(const cJSON *values)
{
    const cJSON *it;

    if (values == NULL || cJSON_IsNull(values))
        return 0;
    if (!cJSON_IsArray(values))
        return -1;
    cJSON_ArrayForEach(it, values) {
        if (!cJSON_IsString(it))
            return -1;
    }
    return values->child ? 1 : 0;
}

bool p4_selector_matches(const cJSON *selector, const cJSON *labels)
{
    const cJSON *ml = p4_json_child(selector, "matchLabels");
    const cJSON *me = p4_json_child(selector, "matchExpressions");
    const cJSON *it;
    int terms = 0;

    if (cJSON_IsNull(ml)) /* null is absent, as in Kubernetes' JSON */
        ml = NULL;
    if (cJSON_IsNull(me))
        me = NULL;
    if (!cJSON_IsObject(selector) || (ml && !cJSON_IsObject(ml)) || (me && !cJSON_IsArray(me)))
        return false;
    cJSON_ArrayForEach(it, ml) {
        const char *have = p4_json_str(p4_json_child(labels, it->string), NULL);
        if (!cJSON_IsString(it) || have == NULL || strcmp(have, it->valuestring) != 0)
            return false;
        terms++;
    }
    cJSON_ArrayForEach(it, me) {
        const char *key = p4_json_str(it, "key"), *op = p4_json_str(it, "operator");
        const char *have;
        int shape = values_shape(p4_json_child(it, "values"));
        bool set_op;
        if (key == NULL || op == NULL || shape < 0)
            return false;
        /* As labels.NewRequirement: In and NotIn need values, Exists and DoesNotExist none. */
        set_op = strcmp(op, "In") == 0 || strcmp(op, "NotIn") == 0;
        if (set_op != (shape == 1))
            return false;
        have = p4_json_str(p4_json_child(labels, key), NULL);
        if (strcmp(op, "In") == 0) {
            if (have == NULL || !has_value(p4_json_child(it, "values"), have))
                return false;
        } else if (strcmp(op, "NotIn") == 0) {
            if (have != NULL && has_value(p4_json_child(it, "values"), have))
                return false;
        } else if (strcmp(op, "Exists") == 0) {
            if (have == NULL)
                return false;
        } else if (strcmp(op, "DoesNotExist") == 0) {
            if (have != NULL)
                return false;
        } else {
            return false;
        }
        terms++;
    }
    return terms > 0;
}

bool p4_selector_empty(const cJSON *selector)
{
    const cJSON *ml = p4_json_child(selector, "matchLabels");
    const cJSON *me = p4_json_child(selector, "matchExpressions");

    if (selector == NULL || cJSON_IsNull(selector))
        return true;
    if (!cJSON_IsObject(selector))
        return false;
    return (ml == NULL || cJSON_IsNull(ml) || (cJSON_IsObject(ml) && ml->child == NULL)) &&
           (me == NULL || cJSON_IsNull(me) || (cJSON_IsArray(me) && me->child == NULL));
}
