/* objstream.c: Kubernetes objects read one at a time from YAML or JSON text (see objstream.h). */
#include "phase4/kube/objstream.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/core/alloc.h"
#include "phase4/core/jsonscan.h"
#include "phase4/core/text.h"
#include "phase4/core/yamljson.h"

/* Room for a typed list's kind and apiVersion: a longer one names no list (Kubernetes' do not). */
#define KIND_MAX 128
#define API_MAX 320
/* What is quoted of an object's kind and name in a message, in bytes. */
#define SHOWN 64
/* Member names an error gives where an object nests too deep. */
#define DEEP_SEGMENTS 4

struct p4_objstream {
    const char *buf;
    size_t len;
    bool json;
    bool done;
    size_t doc;               /* documents begun, from 1 */
    size_t item;              /* items begun in the list being read, from 1; 0 outside a list */
    bool in_list;             /* a list's items (or an array's elements) are being read */
    char list_kind[KIND_MAX]; /* a typed list's items' kind ("Deployment"); "" otherwise */
    char list_api[API_MAX];   /* and its apiVersion */
    /* YAML: every document, read at the start; each one's line; the items being read */
    cJSON *docs;
    size_t *lines;
    size_t doc_line;
    cJSON *items;
    /* JSON: where the next document begins, the current one and item, the items being read */
    size_t pos;
    size_t doc_off, item_off;
    struct p4_jsonscan_iter it;
};

/* ---- what a message says ---- */

/*
 * Fail at the current document (and item), saying what obj is when it has a kind: "document 1,
 * item 3 (Deployment web) at line 40, column 9: metadata.name ..." (JSON: the item's own line;
 * YAML: the document's). Returns code; the stream ends.
 */
static int fail(struct p4_objstream *s, const cJSON *obj, int code, struct p4_error *err,
                const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int fail(struct p4_objstream *s, const cJSON *obj, int code, struct p4_error *err,
                const char *fmt, ...)
{
    const char *kind = p4_json_str(obj, "kind"), *name = p4_json_str(obj, "metadata.name");
    char what[P4_ERROR_MESSAGE_MAX], where[96], shown[2 * SHOWN + 8] = "", at[64] = "";
    size_t line = s->doc_line, col = 0;
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    if (s->item > 0)
        (void)snprintf(where, sizeof(where), "document %zu, item %zu", s->doc, s->item);
    else
        (void)snprintf(where, sizeof(where), "document %zu", s->doc);
    if (name == NULL)
        name = "";
    if (kind != NULL && kind[0] != '\0')
        (void)snprintf(shown, sizeof(shown), " (%.*s%s%.*s)", SHOWN, kind, name[0] ? " " : "",
                       SHOWN, name);
    if (s->json)
        p4_text_position(s->buf, s->item > 0 ? s->item_off : s->doc_off, &line, &col);
    if (col > 0)
        (void)snprintf(at, sizeof(at), " at line %zu, column %zu", line, col);
    else if (s->item > 0) /* YAML items: the line of their document */
        (void)snprintf(where, sizeof(where), "document %zu (line %zu), item %zu", s->doc, line,
                       s->item);
    else
        (void)snprintf(at, sizeof(at), " at line %zu", line);
    s->done = true;
    return p4_error_set_printable(err, code, "%s%s%s: %s", where, shown, at, what);
}

/* ---- objects ---- */

/* Is kind a list's ("List", or "DeploymentList": then *item_kind is "Deployment")? */
static bool list_kind(const char *kind, char *item_kind, size_t size)
{
    size_t n = kind != NULL ? strlen(kind) : 0;

    if (n < 4 || strcmp(kind + n - 4, "List") != 0 || n - 4 >= size)
        return false;
    (void)snprintf(item_kind, size, "%.*s", (int)(n - 4), kind);
    return true;
}

/* Begin a list's items: remember its kind and apiVersion for items that say neither. */
static void enter_list(struct p4_objstream *s, const char *item_kind, const char *api)
{
    s->in_list = true;
    s->item = 0;
    (void)snprintf(s->list_kind, sizeof(s->list_kind), "%s", item_kind);
    (void)snprintf(s->list_api, sizeof(s->list_api), "%s", api != NULL ? api : "");
}

static void leave_list(struct p4_objstream *s)
{
    s->in_list = false;
    s->item = 0;
    s->list_kind[0] = s->list_api[0] = '\0';
    p4_json_discard(s->items);
    s->items = NULL;
}

/* obj (taken over) as the next object: checked, a typed list's item completed. Returns 1. */
static int give(struct p4_objstream *s, cJSON *obj, cJSON **out, struct p4_error *err)
{
    const cJSON *name;
    const char *kind;
    int rc;

    if (!cJSON_IsObject(obj)) {
        rc = fail(s, NULL, P4_ERR_INVALID, err, "it is %s, not an object",
                  p4_json_type_name(obj, true));
        goto bad;
    }
    if (s->list_kind[0] != '\0' && cJSON_GetObjectItemCaseSensitive(obj, "kind") == NULL)
        (void)p4_json_need(cJSON_AddStringToObject(obj, "kind", s->list_kind));
    if (s->list_api[0] != '\0' && cJSON_GetObjectItemCaseSensitive(obj, "apiVersion") == NULL)
        (void)p4_json_need(cJSON_AddStringToObject(obj, "apiVersion", s->list_api));
    kind = p4_json_str(obj, "kind");
    name = p4_json_get(obj, "metadata.name");
    if (kind == NULL || kind[0] == '\0') {
        rc = fail(s, obj, P4_ERR_INVALID, err, "kind %s",
                  p4_json_get(obj, "kind") ? "must be a non-empty string" : "is missing");
        goto bad;
    }
    if (!cJSON_IsString(name) || name->valuestring[0] == '\0') {
        rc = fail(s, obj, P4_ERR_INVALID, err, "metadata.name %s",
                  name ? "must be a non-empty string" : "is missing");
        goto bad;
    }
    *out = obj;
    return 1;
bad:
    p4_json_discard(obj);
    return rc;
}

/* ---- YAML: every document read at the start ---- */

static int yaml_next(struct p4_objstream *s, cJSON **out, struct p4_error *err)
{
    for (;;) {
        cJSON *v, *items;
        char item_kind[KIND_MAX];

        if (s->in_list) {
            v = cJSON_DetachItemFromArray(s->items, 0);
            if (v == NULL) {
                leave_list(s);
                continue;
            }
            s->item++;
            if (cJSON_IsNull(v)) {
                cJSON_Delete(v);
                continue;
            }
            return give(s, v, out, err);
        }
        v = cJSON_DetachItemFromArray(s->docs, 0);
        if (v == NULL)
            return 0;
        s->doc_line = s->lines[s->doc++];
        if (cJSON_IsNull(v)) {
            cJSON_Delete(v);
            continue;
        }
        if (cJSON_IsArray(v)) {
            enter_list(s, "", NULL);
            s->items = v;
            continue;
        }
        items = cJSON_GetObjectItemCaseSensitive(v, "items");
        if (cJSON_IsObject(v) && list_kind(p4_json_str(v, "kind"), item_kind, sizeof(item_kind)) &&
            (cJSON_IsArray(items) || cJSON_IsNull(items))) {
            enter_list(s, item_kind, p4_json_str(v, "apiVersion"));
            s->items = cJSON_DetachItemViaPointer(v, items);
            p4_json_discard(v);
            continue;
        }
        return give(s, v, out, err);
    }
}

static int yaml_read(struct p4_objstream *s, struct p4_error *err)
{
    if (s->len > P4_YAML_MAX_INPUT)
        return p4_error_set(err, P4_ERR_TOOBIG,
                            "the input is %zu bytes of YAML, more than the %zu read as YAML: give "
                            "it as JSON (kubectl get -o json), read up to %zu bytes",
                            s->len, P4_YAML_MAX_INPUT, P4_OBJSTREAM_INPUT_MAX);
    s->docs = p4_yaml_to_json_all_lines(s->buf, s->len, &s->lines, err);
    return s->docs != NULL ? 0 : err != NULL ? err->code : P4_ERR_PARSE;
}

/* ---- JSON: checked whole at the start, then parsed one object at a time ---- */

static size_t skip_space(const char *buf, size_t len, size_t p)
{
    while (p < len && p4_json_space(buf[p]))
        p++;
    return p;
}

static bool json_null(const char *buf, struct p4_jsonscan_span v)
{
    return v.len == 4 && memcmp(buf + v.off, "null", 4) == 0;
}

/* Is the value at v a list? Then *items is its items (an array or null) and s is in the list. */
static bool json_list(struct p4_objstream *s, struct p4_jsonscan_span v,
                      struct p4_jsonscan_span *items)
{
    struct p4_jsonscan_span m;
    char kind[KIND_MAX + 4], item_kind[KIND_MAX], api[API_MAX] = "";

    if (!p4_jsonscan_is_object(s->buf, v) || p4_jsonscan_member(s->buf, v, "kind", &m) != 0 ||
        p4_jsonscan_string(s->buf, m, kind, sizeof(kind)) != 0 ||
        !list_kind(kind, item_kind, sizeof(item_kind)) ||
        p4_jsonscan_member(s->buf, v, "items", items) != 0 ||
        !(p4_jsonscan_is_array(s->buf, *items) || json_null(s->buf, *items)))
        return false;
    if (p4_jsonscan_member(s->buf, v, "apiVersion", &m) == 0 &&
        p4_jsonscan_string(s->buf, m, api, sizeof(api)) != 0)
        api[0] = '\0';
    enter_list(s, item_kind, api);
    return true;
}

/* The value at v parsed and given. */
static int json_give(struct p4_objstream *s, struct p4_jsonscan_span v, cJSON **out,
                     struct p4_error *err)
{
    struct p4_error perr;
    char path[256];
    cJSON *obj = p4_json_parse(s->buf + v.off, v.len, &perr);

    if (obj != NULL)
        return give(s, obj, out, err);
    if (p4_jsonscan_too_deep(s->buf, v, CJSON_NESTING_LIMIT, DEEP_SEGMENTS, path, sizeof(path)))
        return fail(s, NULL, P4_ERR_TOOBIG, err, "it nests deeper than %d levels%s%s",
                    CJSON_NESTING_LIMIT, path[0] ? ", at " : "", path);
    return fail(s, NULL, P4_ERR_PARSE, err, "%s", perr.message);
}

static int json_next(struct p4_objstream *s, cJSON **out, struct p4_error *err)
{
    for (;;) {
        struct p4_jsonscan_span v, items;
        struct p4_error serr;
        int rc;

        if (s->in_list) {
            rc = p4_jsonscan_next(&s->it, NULL, &v, &serr);
            if (rc == 0) {
                leave_list(s);
                continue;
            }
            if (rc < 0) /* checked at the start: not seen */
                return fail(s, NULL, P4_ERR_PARSE, err, "%s", serr.message);
            s->item++;
            s->item_off = v.off;
            if (json_null(s->buf, v))
                continue;
            return json_give(s, v, out, err);
        }
        s->pos = skip_space(s->buf, s->len, s->pos);
        if (s->pos >= s->len)
            return 0;
        s->doc++;
        s->doc_off = s->pos;
        if (p4_jsonscan_value(s->buf, s->len, &s->pos, &v, NULL, &serr) != 0)
            return fail(s, NULL, P4_ERR_PARSE, err, "%s", serr.message);
        if (json_null(s->buf, v))
            continue;
        if (p4_jsonscan_is_array(s->buf, v)) {
            enter_list(s, "", NULL);
            (void)p4_jsonscan_begin(&s->it, s->buf, v);
            continue;
        }
        if (json_list(s, v, &items)) {
            if (p4_jsonscan_begin(&s->it, s->buf, items) != 0)
                leave_list(s); /* items: null */
            continue;
        }
        return json_give(s, v, out, err);
    }
}

/* The whole text: JSON values one after another, nothing else. */
static int json_check(const char *buf, size_t len, struct p4_error *err)
{
    size_t pos = 0;

    while ((pos = skip_space(buf, len, pos)) < len) {
        if (p4_jsonscan_value(buf, len, &pos, NULL, NULL, err) != 0)
            return P4_ERR_PARSE;
    }
    return 0;
}

/* ---- the stream ---- */

struct p4_objstream *p4_objstream_new(const char *buf, size_t len, struct p4_error *err)
{
    struct p4_objstream *s;
    struct p4_error jerr, yerr;
    size_t first;

    if (buf == NULL) {
        p4_error_set(err, P4_ERR_INVAL, "no input");
        return NULL;
    }
    if (len > P4_OBJSTREAM_INPUT_MAX) {
        p4_error_set(err, P4_ERR_TOOBIG, "the input is %zu bytes, more than the %zu read", len,
                     P4_OBJSTREAM_INPUT_MAX);
        return NULL;
    }
    s = p4_calloc(1, sizeof(*s));
    s->buf = buf;
    s->len = len;
    first = skip_space(buf, len, 0);
    if (first == len) { /* nothing (a tab would not be YAML): no object */
        s->json = true;
        return s;
    }
    if (buf[first] == '{' || buf[first] == '[') {
        if (json_check(buf, len, &jerr) == 0) {
            s->json = true;
            return s;
        }
        /* A flow mapping is YAML too; when it is not that either, the JSON error tells. */
        if (len <= P4_YAML_MAX_INPUT && yaml_read(s, &yerr) == 0)
            return s;
        if (err != NULL)
            *err = jerr;
    } else if (yaml_read(s, err) == 0) {
        return s;
    }
    p4_objstream_free(s);
    return NULL;
}

int p4_objstream_next(struct p4_objstream *s, cJSON **obj, struct p4_error *err)
{
    int rc;

    *obj = NULL;
    if (s == NULL || s->done)
        return 0;
    rc = s->json ? json_next(s, obj, err) : yaml_next(s, obj, err);
    if (rc != 1)
        s->done = true;
    return rc;
}

void p4_objstream_free(struct p4_objstream *s)
{
    if (s == NULL)
        return;
    p4_json_discard(s->docs);
    p4_json_discard(s->items);
    free(s->lines);
    free(s);
}
