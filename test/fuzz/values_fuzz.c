/*
 * values_fuzz.c: libFuzzer target for composing Helm values (valuesFrom and spec.chart.values).
 *
 * Input layout: one flags byte, then up to three parts separated by NUL bytes (YAML cannot hold
 * one): a ConfigMap's YAML, a Secret's text and a target path. Flags: bit 0 sets the Secret's
 * text at the path (else it is merged as YAML), bit 1 makes the Secret missing, bit 2 optional.
 *
 * Invariants: p4_values_merge and p4_values_overlay put src's scalars and lists in place and keep
 * dst's other keys, delete (merge) or keep (overlay) src's nulls, and are idempotent; a failed
 * p4_values_set_path leaves the tree unchanged and setting the same value twice changes nothing
 * more; p4_values_compose returns an object that prints as JSON, or an error whose message is
 * clean and never holds the Secret's text (it starts with a marker to look for).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/core/yamljson.h"
#include "stages/helm/values.h"

#define MARKER "SECRETMARK"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* path is quoted in messages, so the marker may show up there only when the path holds it. */
static void check_error(int rc, const struct p4_error *err, const char *path)
{
    if (rc >= 0)
        return;
    if (err->code != rc || err->message[0] == '\0')
        abort();
    if (strstr(err->message, MARKER) != NULL && strstr(path, MARKER) == NULL)
        abort();
    for (const char *s = err->message; *s != '\0'; s++) {
        if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
            abort();
    }
}

/*
 * Equal trees, members in the same order, compared by their printed JSON (cJSON_Compare is
 * exponential in the depth of nested objects: it walks both ways at every level).
 */
static int same(const cJSON *a, const cJSON *b)
{
    char *x, *y;
    int eq;

    if (a == NULL || b == NULL)
        return a == b;
    x = cJSON_PrintUnformatted(a);
    y = cJSON_PrintUnformatted(b);
    if (x == NULL || y == NULL)
        abort();
    eq = strcmp(x, y) == 0;
    cJSON_free(x);
    cJSON_free(y);
    return eq;
}

static cJSON *dup(const cJSON *tree)
{
    cJSON *copy = cJSON_Duplicate(tree, 1);

    if (copy == NULL)
        abort();
    return copy;
}

static void check_merges(const cJSON *a, const cJSON *b)
{
    cJSON *merged = dup(a), *overlaid = dup(a), *again;
    const cJSON *c;

    if (p4_values_merge(merged, b) != 0 || p4_values_overlay(overlaid, b) != 0)
        abort();
    cJSON_ArrayForEach(c, b) {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(merged, c->string);
        const cJSON *o = cJSON_GetObjectItemCaseSensitive(overlaid, c->string);
        const cJSON *old = cJSON_GetObjectItemCaseSensitive(a, c->string);

        if (o == NULL || (cJSON_IsNull(c) && m != NULL))
            abort();
        if (cJSON_IsObject(c) && cJSON_IsObject(old))
            continue;
        if (!cJSON_IsObject(c) && !same(o, c))
            abort();
        if (!cJSON_IsObject(c) && !cJSON_IsNull(c) && !same(m, c))
            abort();
    }
    cJSON_ArrayForEach(c, a) {
        if (cJSON_GetObjectItemCaseSensitive(b, c->string) == NULL &&
            (!same(cJSON_GetObjectItemCaseSensitive(merged, c->string), c) ||
             !same(cJSON_GetObjectItemCaseSensitive(overlaid, c->string), c)))
            abort();
    }
    again = dup(merged);
    if (p4_values_merge(again, b) != 0 || !same(again, merged))
        abort();
    cJSON_Delete(again);
    again = dup(overlaid);
    if (p4_values_overlay(again, b) != 0 || !same(again, overlaid))
        abort();
    cJSON_Delete(again);
    cJSON_Delete(merged);
    cJSON_Delete(overlaid);
}

static void check_set_path(const cJSON *a, const char *path)
{
    cJSON *root = cJSON_IsObject(a) ? dup(a) : cJSON_CreateObject();
    cJSON *before = dup(root), *once;
    struct p4_error err;
    int rc;

    p4_error_clear(&err);
    rc = p4_values_set_path(root, path, cJSON_CreateString("v"), &err);
    check_error(rc, &err, path);
    if (rc != 0 && (rc != P4_ERR_INVAL || !same(root, before)))
        abort();
    if (rc == 0) {
        once = dup(root);
        if (p4_values_set_path(root, path, cJSON_CreateString("v"), &err) != 0 || !same(root, once))
            abort();
        cJSON_Delete(once);
    }
    cJSON_Delete(before);
    cJSON_Delete(root);
}

static void check_compose(const char *cm, size_t cm_len, const char *secret, size_t secret_len,
                          const char *path, uint8_t flags, const cJSON *inline_values)
{
    struct p4_values_source sources[2] = {
        {.kind = "ConfigMap", .name = "fuzz/cm", .text = cm, .len = cm_len},
        {.kind = "Secret", .name = "fuzz/secret", .key = "k", .optional = (flags & 4) != 0},
    };
    /* The marker leads the Secret's text: a YAML comment, or the start of the value. */
    size_t prefix = (flags & 1) ? strlen(MARKER) : strlen("# " MARKER "\n");
    char *text = malloc(prefix + secret_len + 1);
    struct p4_error err;
    cJSON *out;
    char *printed;

    if (text == NULL)
        abort();
    memcpy(text, (flags & 1) ? MARKER : "# " MARKER "\n", prefix);
    memcpy(text + prefix, secret, secret_len);
    text[prefix + secret_len] = '\0'; /* the length is what counts; terminated all the same */
    if (!(flags & 2)) {
        sources[1].text = text;
        sources[1].len = prefix + secret_len;
    }
    sources[1].target_path = (flags & 1) ? path : NULL;
    p4_error_clear(&err);
    out = p4_values_compose(sources, 2, inline_values, &err);
    if (out == NULL) {
        check_error(err.code, &err, path);
        if (err.code == 0)
            abort();
    } else {
        if (!cJSON_IsObject(out))
            abort();
        printed = cJSON_PrintUnformatted(out);
        if (printed == NULL)
            abort();
        cJSON_free(printed);
    }
    if ((flags & 2) && !(flags & 4) && out != NULL)
        abort(); /* a required Secret that is missing never composes */
    cJSON_Delete(out);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *parts[3] = {"", "", ""};
    size_t lens[3] = {0, 0, 0}, n = 0;
    const char *p, *end;
    uint8_t flags;
    char *path;
    cJSON *a, *b;

    if (size < 1)
        return 0;
    flags = data[0];
    p = (const char *)data + 1;
    end = (const char *)data + size;
    while (n < 3) {
        const char *nul = n < 2 ? memchr(p, '\0', (size_t)(end - p)) : NULL;

        parts[n] = p;
        lens[n] = (size_t)((nul != NULL ? nul : end) - p);
        n++;
        if (nul == NULL)
            break;
        p = nul + 1;
    }
    path = malloc(lens[2] + 1);
    if (path == NULL)
        abort();
    memcpy(path, parts[2], lens[2]);
    path[lens[2]] = '\0';
    a = p4_yaml_to_json(parts[0], lens[0], NULL);
    b = p4_yaml_to_json(parts[1], lens[1], NULL);
    if (cJSON_IsObject(a) && cJSON_IsObject(b))
        check_merges(a, b);
    check_set_path(a, path);
    check_compose(parts[0], lens[0], parts[1], lens[1], path, flags, cJSON_IsObject(b) ? b : NULL);
    cJSON_Delete(a);
    cJSON_Delete(b);
    free(path);
    return 0;
}
