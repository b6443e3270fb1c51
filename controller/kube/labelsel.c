/*
 * labelsel.c: a LabelSelector written as a labelSelector query (see phase4/kube/labelsel.h).
 */
#include "phase4/kube/labelsel.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "phase4/core/json.h"
#include "phase4/core/text.h"

/* Longest key: a DNS subdomain prefix (253), '/', a name (63). */
#define KEY_MAX 317
#define VALUE_MAX 63

/* Bytes of a label key (key) or value: letters, digits, '-', '_', '.', and '/' in a key. */
static bool label_text(const char *s, bool key)
{
    size_t n = strlen(s);

    if (n > (key ? KEY_MAX : VALUE_MAX) || (key && n == 0))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!p4_ascii_alnum(c) && c != '-' && c != '_' && c != '.' && !(key && c == '/'))
            return false;
    }
    return true;
}

/* Append text to out at *used; P4_ERR_TOOBIG when it does not fit. */
static int put(char *out, size_t size, size_t *used, const char *text)
{
    size_t n = strlen(text);

    if (*used + n + 1 > size)
        return P4_ERR_TOOBIG;
    memcpy(out + *used, text, n + 1);
    *used += n;
    return 0;
}

static const cJSON *present(const cJSON *v)
{
    return cJSON_IsNull(v) ? NULL : v;
}

static int bad(struct p4_error *err, const char *what)
{
    return p4_error_set(err, P4_ERR_INVAL, "the selector %s", what);
}

/* The values of an In or NotIn expression, as "(a,b)". */
static int put_values(const cJSON *values, char *out, size_t size, size_t *used,
                      struct p4_error *err)
{
    const cJSON *v;
    int rc = put(out, size, used, " (");

    cJSON_ArrayForEach(v, values) {
        if (!cJSON_IsString(v) || !label_text(v->valuestring, false))
            return bad(err, "has a value that is not a label value");
        if (rc == 0 && v != values->child)
            rc = put(out, size, used, ",");
        if (rc == 0)
            rc = put(out, size, used, v->valuestring);
    }
    return rc == 0 ? put(out, size, used, ")") : rc;
}

/* One matchExpressions entry as its term ("k in (a,b)", "k notin (a)", "k", "!k"). */
static int put_expression(const cJSON *it, char *out, size_t size, size_t *used,
                          struct p4_error *err)
{
    const char *key = p4_json_str(it, "key"), *op = p4_json_str(it, "operator");
    const cJSON *values = present(p4_json_child(it, "values"));
    bool set_op, has_values;
    int rc;

    if (key == NULL || op == NULL || !label_text(key, true))
        return bad(err, "has a matchExpressions entry without a key or operator");
    if (values && !cJSON_IsArray(values))
        return bad(err, "has matchExpressions values that are not a list");
    set_op = strcmp(op, "In") == 0 || strcmp(op, "NotIn") == 0;
    if (!set_op && strcmp(op, "Exists") != 0 && strcmp(op, "DoesNotExist") != 0)
        return bad(err, "has an unknown matchExpressions operator");
    has_values = values != NULL && values->child != NULL;
    if (set_op != has_values)
        return bad(err, set_op ? "has an In or NotIn expression without values"
                               : "has an Exists or DoesNotExist expression with values");
    rc = strcmp(op, "DoesNotExist") == 0 ? put(out, size, used, "!") : 0;
    if (rc == 0)
        rc = put(out, size, used, key);
    if (rc == 0 && set_op)
        rc = put(out, size, used, strcmp(op, "In") == 0 ? " in" : " notin");
    if (rc == 0 && set_op)
        rc = put_values(values, out, size, used, err);
    return rc;
}

int p4_labelsel_query(const cJSON *selector, char *out, size_t size, struct p4_error *err)
{
    const cJSON *ml, *me, *it;
    size_t used = 0;
    int rc = 0, terms = 0;

    if (size == 0)
        return p4_error_set(err, P4_ERR_TOOBIG, "no room for the selector");
    out[0] = '\0';
    if (present(selector) == NULL) {
        rc = bad(err, "is absent: it selects nothing");
        goto out;
    }
    ml = present(p4_json_child(selector, "matchLabels"));
    me = present(p4_json_child(selector, "matchExpressions"));
    if (!cJSON_IsObject(selector) || (ml && !cJSON_IsObject(ml)) || (me && !cJSON_IsArray(me))) {
        rc = bad(err, "is not a LabelSelector (matchLabels, matchExpressions)");
        goto out;
    }
    cJSON_ArrayForEach(it, ml) {
        if (!cJSON_IsString(it) || !label_text(it->string, true) ||
            !label_text(it->valuestring, false)) {
            rc = bad(err, "has a matchLabels entry that is not a label");
            goto out;
        }
        if (rc == 0 && terms++ > 0)
            rc = put(out, size, &used, ",");
        if (rc == 0)
            rc = put(out, size, &used, it->string);
        if (rc == 0)
            rc = put(out, size, &used, "=");
        if (rc == 0)
            rc = put(out, size, &used, it->valuestring);
    }
    cJSON_ArrayForEach(it, me) {
        if (rc == 0 && terms > 0)
            rc = put(out, size, &used, ",");
        terms++;
        if (rc == 0)
            rc = put_expression(it, out, size, &used, err);
        else if (put_expression(it, NULL, 0, &used, err) == P4_ERR_INVAL)
            rc = P4_ERR_INVAL; /* a bad entry is told even when the text no longer fits */
        if (rc == P4_ERR_INVAL)
            goto out;
    }
    if (terms == 0)
        rc = bad(err, "is empty: it would select every pod");
    else if (rc == P4_ERR_TOOBIG)
        (void)p4_error_set(err, P4_ERR_TOOBIG, "the selector is longer than %zu bytes", size - 1);
out:
    if (rc != 0)
        out[0] = '\0';
    return rc;
}
