/* json.c: bounded parsing and typed getters over cJSON trees (see json.h). */
#include "phase4/core/json.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>

#include <string.h>

#include "phase4/core/alloc.h"
#include "phase4/core/text.h"

/* Integers up to 2^53 are exact in a double; beyond that cJSON may have rounded. */
#define EXACT_INT_MAX 9007199254740992.0

cJSON *p4_json_parse(const char *buf, size_t len, struct p4_error *err)
{
    const char *end = NULL;
    cJSON *root = NULL;
    size_t off, line, col;

    if (buf == NULL) {
        p4_error_set(err, P4_ERR_INVAL, "no JSON input");
        goto out;
    }
    if (len > P4_JSON_PARSE_MAX) {
        p4_error_set(err, P4_ERR_TOOBIG, "JSON document of %zu bytes exceeds the %zu-byte limit",
                     len, P4_JSON_PARSE_MAX);
        goto out;
    }
    for (off = 0; off < len && p4_json_space(buf[off]); off++)
        ;
    if (off == len) {
        p4_error_set(err, P4_ERR_PARSE, "empty JSON document");
        goto out;
    }
    /*
     * require_null_terminated is false because buf need not be terminated;
     * trailing data is checked below instead. cJSON points end at the byte
     * where it gave up when parsing fails.
     */
    root = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
    if (root == NULL) {
        off = (end != NULL && end >= buf && end <= buf + len) ? (size_t)(end - buf) : 0;
        p4_text_position(buf, off, &line, &col);
        p4_error_set(err, P4_ERR_PARSE, "invalid JSON at byte %zu (line %zu, column %zu)", off,
                     line, col);
        goto out;
    }
    off = (end != NULL && end >= buf && end <= buf + len) ? (size_t)(end - buf) : len;
    while (off < len && p4_json_space(buf[off]))
        off++;
    if (off < len) {
        p4_text_position(buf, off, &line, &col);
        p4_error_set(err, P4_ERR_PARSE,
                     "unexpected data after the JSON value at byte %zu (line %zu, column %zu)", off,
                     line, col);
        cJSON_Delete(root);
        root = NULL;
    }
out:
    return root;
}

const cJSON *p4_json_child(const cJSON *obj, const char *key)
{
    if (!cJSON_IsObject(obj) || key == NULL)
        return NULL;
    return cJSON_GetObjectItemCaseSensitive(obj, key);
}

const cJSON *p4_json_find(const cJSON *array, const char *key, const char *value)
{
    const cJSON *item;

    if (!cJSON_IsArray(array) || value == NULL)
        return NULL;
    cJSON_ArrayForEach(item, array) {
        const cJSON *m = p4_json_child(item, key);
        if (cJSON_IsString(m) && strcmp(m->valuestring, value) == 0)
            return item;
    }
    return NULL;
}

/*
 * Does key equal the escaped path segment seg[0..len)? "\x" in a segment
 * stands for x; a trailing lone backslash stands for itself.
 */
static bool segment_equal(const char *key, const char *seg, size_t len)
{
    size_t i = 0;

    while (i < len) {
        char c = seg[i++];

        if (c == '\\' && i < len)
            c = seg[i++];
        if (*key++ != c)
            return false;
    }
    return *key == '\0';
}

/* Length of the escaped segment at the start of path, up to an unescaped '.' or the end. */
static size_t segment_len(const char *path)
{
    size_t i = 0;

    while (path[i] != '\0' && path[i] != '.') {
        if (path[i] == '\\' && path[i + 1] != '\0')
            i++;
        i++;
    }
    return i;
}

const cJSON *p4_json_get(const cJSON *obj, const char *path)
{
    const cJSON *cur = obj;

    if (obj == NULL || path == NULL || path[0] == '\0')
        return obj;
    for (;;) {
        size_t len = segment_len(path);
        const cJSON *child;

        if (!cJSON_IsObject(cur))
            return NULL;
        for (child = cur->child; child != NULL; child = child->next) {
            if (child->string != NULL && segment_equal(child->string, path, len))
                break;
        }
        if (child == NULL)
            return NULL;
        cur = child;
        if (path[len] == '\0')
            return cur;
        path += len + 1;
    }
}

const char *p4_json_str(const cJSON *obj, const char *path)
{
    const cJSON *item = p4_json_get(obj, path);

    return cJSON_IsString(item) ? item->valuestring : NULL;
}

int p4_json_int64(const cJSON *obj, const char *path, int64_t *out)
{
    const cJSON *item = p4_json_get(obj, path);
    double v;

    if (item == NULL || cJSON_IsNull(item))
        return P4_ERR_NOTFOUND;
    if (!cJSON_IsNumber(item))
        return P4_ERR_INVAL;
    v = item->valuedouble;
    /* Written so NaN and infinities (cJSON reads 1e999 as inf) fail the range test. */
    if (!(v >= -EXACT_INT_MAX && v <= EXACT_INT_MAX) || (double)(int64_t)v != v)
        return P4_ERR_INVAL;
    if (out != NULL)
        *out = (int64_t)v;
    return 0;
}

int p4_json_bool(const cJSON *obj, const char *path, bool *out)
{
    const cJSON *item = p4_json_get(obj, path);

    if (item == NULL || cJSON_IsNull(item))
        return P4_ERR_NOTFOUND;
    if (!cJSON_IsBool(item))
        return P4_ERR_INVAL;
    if (out != NULL)
        *out = cJSON_IsTrue(item);
    return 0;
}

/*
 * cJSON allocates the text with its own hooks; we copy it into p4 memory so
 * callers free() it like everything else and cJSON keeps the default
 * allocator. Installing p4 hooks with cJSON_InitHooks() would be global
 * mutable state (CONVENTIONS.md) that every cJSON user in the process,
 * libraries included, would silently depend on; the copy costs one memcpy.
 */
char *p4_json_print(const cJSON *obj)
{
    char *text;
    char *copy = NULL;

    if (obj == NULL)
        goto out;
    text = cJSON_PrintUnformatted(obj);
    if (text == NULL)
        goto out;
    copy = p4_strdup(text);
    cJSON_free(text);
out:
    return copy;
}

cJSON *p4_json_need(cJSON *item)
{
    if (item == NULL) {
        (void)fprintf(stderr, "level=fatal msg=\"out of memory\" in=cJSON\n");
        (void)fflush(stderr);
        abort();
    }
    return item;
}

void p4_json_need_ok(cJSON_bool ok)
{
    if (!ok)
        (void)p4_json_need(NULL);
}

void p4_json_discard(cJSON *tree)
{
    for (cJSON *node = tree; node != NULL; node = node->next) {
        if (node->valuestring != NULL)
            OPENSSL_cleanse(node->valuestring, strlen(node->valuestring));
        if (node->string != NULL && !(node->type & cJSON_StringIsConst))
            OPENSSL_cleanse(node->string, strlen(node->string));
        if (node->child != NULL) {
            cJSON *last = node->child;

            while (last->next != NULL)
                last = last->next;
            last->next = node->next;
            node->next = node->child;
            node->child = NULL;
        }
    }
    cJSON_Delete(tree);
}

cJSON *p4_json_shallow_copy(const cJSON *n)
{
    switch (n->type & 0xff) {
    case cJSON_False:
        return p4_json_need(cJSON_CreateFalse());
    case cJSON_True:
        return p4_json_need(cJSON_CreateTrue());
    case cJSON_Number:
        return p4_json_need(cJSON_CreateNumber(n->valuedouble));
    case cJSON_String:
        return p4_json_need(cJSON_CreateString(n->valuestring ? n->valuestring : ""));
    case cJSON_Raw:
        return p4_json_need(cJSON_CreateRaw(n->valuestring ? n->valuestring : "null"));
    case cJSON_Array:
        return p4_json_need(cJSON_CreateArray());
    case cJSON_Object:
        return p4_json_need(cJSON_CreateObject());
    default:
        return p4_json_need(cJSON_CreateNull());
    }
}

/* A node still to fill: the children of from are copied under to. */
struct copy_pair {
    const cJSON *from;
    cJSON *to;
    bool drop_nulls;
};

cJSON *p4_json_copy(const cJSON *src, bool drop_nulls)
{
    struct copy_pair *stack = NULL;
    size_t n = 0, cap = 0;
    cJSON *root = p4_json_shallow_copy(src);

    if (src->child != NULL) {
        cap = 16;
        stack = p4_malloc(cap * sizeof(*stack));
        stack[n++] = (struct copy_pair){src, root, drop_nulls && cJSON_IsObject(src)};
    }
    while (n > 0) {
        struct copy_pair p = stack[--n];

        for (const cJSON *c = p.from->child; c != NULL; c = c->next) {
            cJSON *copy;

            if (p.drop_nulls && cJSON_IsNull(c))
                continue;
            copy = p4_json_shallow_copy(c);
            if (cJSON_IsObject(p.to))
                p4_json_need_ok(cJSON_AddItemToObject(p.to, c->string ? c->string : "", copy));
            else
                p4_json_need_ok(cJSON_AddItemToArray(p.to, copy));
            if (c->child != NULL) {
                if (n == cap) {
                    cap *= 2;
                    stack = p4_realloc(stack, cap * sizeof(*stack));
                }
                stack[n++] = (struct copy_pair){c, copy, p.drop_nulls && cJSON_IsObject(c)};
            }
        }
    }
    free(stack);
    return root;
}

const char *p4_json_type_name(const cJSON *v, bool list)
{
    if (cJSON_IsObject(v))
        return "an object";
    if (cJSON_IsArray(v))
        return list ? "a list" : "an array";
    if (cJSON_IsString(v))
        return "a string";
    if (cJSON_IsNumber(v))
        return "a number";
    if (cJSON_IsBool(v))
        return "a boolean";
    return "null";
}

size_t p4_json_count_upto(const cJSON *array, size_t limit)
{
    size_t n = 0;

    for (const cJSON *c = array != NULL ? array->child : NULL; c != NULL && n <= limit; c = c->next)
        n++;
    return n;
}
