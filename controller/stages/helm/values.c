/*
 * values.c: Helm values composed from spec.chart.values and valuesFrom, as Flux composes
 * them, and merged over chart defaults, as Helm merges them (see values.h).
 *
 * Every walk is iterative: a merge keeps a stack of (dst, src) object pairs, a copy a stack
 * of (from, to) containers, and a tree is wiped by splicing children into its sibling chain.
 * Matching keys sorts both objects' members once (O(n log n)), so a hostile values file with
 * many keys costs no quadratic time.
 */
#include "values.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/core/alloc.h"
#include "phase4/core/json.h"
#include "phase4/core/text.h"
#include "phase4/core/yamljson.h"

/* Integers up to 2^53 are exact in a double. */
#define EXACT_INT_MAX (INT64_C(1) << 53)
/* User-controlled names and paths are cut to this many bytes in messages. */
#define SHOWN "%.200s"

enum nulls { NULLS_DELETE, NULLS_KEEP };

struct member {
    cJSON *item;     /* NULL once deleted */
    const char *key; /* item's key; stays valid while merging (replacements inherit it) */
    size_t ord;
};

struct pair {
    cJSON *dst;
    const cJSON *src;
};

struct seg {
    char *key;    /* NULL for a list index */
    size_t index; /* for a list index */
    size_t end;   /* offset in the path just past this segment */
};

/* Put v in old's place in parent (same key, same position); old is wiped and freed. */
static void replace_member(cJSON *parent, cJSON *old, cJSON *v)
{
    cJSON *kids = old->child;

    if (v->string != NULL && !(v->type & cJSON_StringIsConst))
        cJSON_free(v->string);
    v->string = old->string;
    v->type = (v->type & ~cJSON_StringIsConst) | (old->type & cJSON_StringIsConst);
    old->string = NULL;
    old->type &= ~cJSON_StringIsConst;
    old->child = NULL;
    p4_json_discard(kids);
    if (old->valuestring != NULL)
        p4_wipe(old->valuestring, strlen(old->valuestring));
    p4_json_need_ok(cJSON_ReplaceItemViaPointer(parent, old, v));
}

static int cmp_member(const void *x, const void *y)
{
    const struct member *a = x, *b = y;
    int c = strcmp(a->key, b->key);

    if (c != 0)
        return c;
    return a->ord < b->ord ? -1 : a->ord > b->ord;
}

/* obj's members that have a key, sorted by key then position; *n of them, *total children. */
static struct member *sorted_members(const cJSON *obj, size_t *n, size_t *total)
{
    struct member *m;
    size_t i = 0, k = 0;

    *total = 0;
    for (const cJSON *c = obj->child; c != NULL; c = c->next)
        (*total)++;
    m = p4_calloc(*total, sizeof(*m));
    for (cJSON *c = obj->child; c != NULL; c = c->next, i++) {
        if (c->string != NULL)
            m[k++] = (struct member){c, c->string, i};
    }
    qsort(m, k, sizeof(*m), cmp_member);
    *n = k;
    return m;
}

/* The slot of the first member named key in a sorted index, or NULL. */
static struct member *lookup(struct member *index, size_t n, const char *key)
{
    size_t lo = 0, hi = n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (strcmp(index[mid].key, key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && strcmp(index[lo].key, key) == 0 ? &index[lo] : NULL;
}

/*
 * Merge one pair: src's members into dst. If src repeats a key (cJSON allows it) its last
 * occurrence counts. With take, src is ours and its members are moved rather than copied.
 * Objects met on both sides are pushed for later. Deleted members wait in a chain until the
 * end, so that every key in the index stays readable (src may even be dst).
 */
static void merge_pair(struct pair w, enum nulls nulls, bool take, struct pair **stack, size_t *n,
                       size_t *cap)
{
    size_t nsrc, total_src, ndst, total_dst, pos = 0;
    struct member *srcs = sorted_members(w.src, &nsrc, &total_src);
    struct member *index = sorted_members(w.dst, &ndst, &total_dst);
    bool *last = p4_calloc(total_src, sizeof(bool));
    cJSON *s, *next, *trash = NULL;

    for (size_t i = 0; i < nsrc; i++) {
        if (i + 1 == nsrc || strcmp(srcs[i].item->string, srcs[i + 1].item->string) != 0)
            last[srcs[i].ord] = true;
    }
    /* next is read first: the member at hand may be moved, replaced or deleted. */
    for (s = w.src->child; s != NULL; s = next, pos++) {
        struct member *slot;
        cJSON *d, *v;

        next = s->next;
        if (!last[pos])
            continue;
        slot = lookup(index, ndst, s->string);
        d = slot != NULL ? slot->item : NULL;
        if (nulls == NULLS_DELETE && cJSON_IsNull(s)) {
            if (d != NULL) {
                (void)cJSON_DetachItemViaPointer(w.dst, d);
                d->next = trash;
                trash = d;
                slot->item = NULL;
            }
            continue;
        }
        if (cJSON_IsObject(s) && cJSON_IsObject(d)) {
            if (*n == *cap) {
                *cap *= 2;
                *stack = p4_realloc(*stack, *cap * sizeof(**stack));
            }
            (*stack)[(*n)++] = (struct pair){d, s};
            continue;
        }
        /* take: src is the caller's own scratch tree (see merge()), so it may be changed */
        v = take ? cJSON_DetachItemViaPointer((cJSON *)w.src, s)
                 : p4_json_copy(s, nulls == NULLS_DELETE);
        if (d != NULL) {
            replace_member(w.dst, d, v); /* v inherits d's key: slot->key stays valid */
            slot->item = v;
        } else {
            p4_json_need_ok(cJSON_AddItemToObject(w.dst, s->string, v));
        }
    }
    p4_json_discard(trash);
    free(last);
    free(index);
    free(srcs);
}

static void merge(cJSON *dst, const cJSON *src, enum nulls nulls, bool take)
{
    size_t n = 0, cap = 16;
    struct pair *stack = p4_malloc(cap * sizeof(*stack));

    stack[n++] = (struct pair){dst, src};
    while (n > 0) {
        struct pair w = stack[--n];

        merge_pair(w, nulls, take, &stack, &n, &cap);
    }
    free(stack);
}

int p4_values_merge(cJSON *dst, const cJSON *src)
{
    if (!cJSON_IsObject(dst) || !cJSON_IsObject(src))
        return P4_ERR_INVAL;
    merge(dst, src, NULLS_DELETE, false);
    return 0;
}

int p4_values_overlay(cJSON *dst, const cJSON *src)
{
    if (!cJSON_IsObject(dst) || !cJSON_IsObject(src))
        return P4_ERR_INVAL;
    merge(dst, src, NULLS_KEEP, false);
    return 0;
}

/* ---- paths ---- */

static void free_segs(struct seg *segs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(segs[i].key);
    free(segs);
}

/* "[digits]" at path + i (after '['), Atoi-style with an optional sign; 0 or P4_ERR_INVAL. */
static int parse_index(const char *path, size_t *i, size_t *out, struct p4_error *err)
{
    size_t j = *i; /* *i stays where the index starts, for messages */
    bool neg = false, digits = false;
    uint64_t v = 0;

    if (path[j] == '+' || path[j] == '-')
        neg = path[j++] == '-';
    for (; p4_ascii_digit(path[j]); j++) {
        digits = true;
        if (v <= P4_VALUES_INDEX_MAX)
            v = v * 10 + (uint64_t)(path[j] - '0');
    }
    if (path[j] != ']' || !digits)
        return p4_error_set_printable(
            err, P4_ERR_INVAL, "target path \"" SHOWN "\" has an invalid list index at byte %zu.",
            path, *i + 1);
    if (neg && v != 0)
        return p4_error_set_printable(
            err, P4_ERR_INVAL, "target path \"" SHOWN "\" has a negative list index at byte %zu.",
            path, *i + 1);
    if (v > P4_VALUES_INDEX_MAX)
        return p4_error_set_printable(
            err, P4_ERR_INVAL, "target path \"" SHOWN "\" has a list index above %d at byte %zu.",
            path, P4_VALUES_INDEX_MAX, *i + 1);
    *out = (size_t)v;
    *i = j + 1;
    return 0;
}

static int add_seg(const char *path, struct seg **segs, size_t *n, struct seg seg,
                   struct p4_error *err)
{
    if (*n == P4_VALUES_PATH_MAX_SEGMENTS) {
        free(seg.key);
        return p4_error_set_printable(err, P4_ERR_INVAL,
                                      "target path \"" SHOWN "\" has more than %d segments.", path,
                                      P4_VALUES_PATH_MAX_SEGMENTS);
    }
    (*segs)[(*n)++] = seg;
    return 0;
}

/* Split path into keys and indexes (strvals syntax, see values.h). */
static int parse_path(const char *path, struct seg **out, size_t *nout, struct p4_error *err)
{
    size_t len = strlen(path), i = 0, n = 0;
    struct seg *segs = p4_calloc(P4_VALUES_PATH_MAX_SEGMENTS, sizeof(*segs));
    char *buf = p4_malloc(len + 1);
    int rc = 0;

    if (len == 0) {
        rc = p4_error_set_printable(err, P4_ERR_INVAL, "the target path is empty.");
        goto out;
    }
    for (;;) {
        size_t j = 0, start = i;

        while (path[i] != '\0' && path[i] != '.' && path[i] != '[') {
            if (path[i] == '\\' && path[i + 1] != '\0')
                i++;
            buf[j++] = path[i++];
        }
        if (j == 0) {
            rc = p4_error_set_printable(err, P4_ERR_INVAL,
                                        "target path \"" SHOWN "\" has an empty key at byte %zu.",
                                        path, start + 1);
            goto out;
        }
        rc = add_seg(path, &segs, &n, (struct seg){p4_strndup(buf, j), 0, i}, err);
        while (rc == 0 && path[i] == '[') {
            size_t idx = 0;

            i++;
            rc = parse_index(path, &i, &idx, err);
            if (rc == 0)
                rc = add_seg(path, &segs, &n, (struct seg){NULL, idx, i}, err);
        }
        if (rc != 0 || path[i] == '\0')
            goto out;
        if (path[i] != '.') {
            rc = p4_error_set_printable(err, P4_ERR_INVAL,
                                        "target path \"" SHOWN
                                        "\" has unexpected text after a list index at byte "
                                        "%zu.",
                                        path, i + 1);
            goto out;
        }
        i++;
    }
out:
    p4_wipe(buf, len);
    free(buf);
    if (rc != 0) {
        free_segs(segs, n);
        segs = NULL;
        n = 0;
    }
    *out = segs;
    *nout = n;
    return rc;
}

static cJSON *element(const cJSON *list, size_t index)
{
    const cJSON *c = list->child;

    for (size_t i = 0; c != NULL && i < index; i++)
        c = c->next;
    return (cJSON *)c;
}

static cJSON *child_at(const cJSON *cur, const struct seg *seg)
{
    if (seg->key != NULL)
        return cJSON_GetObjectItemCaseSensitive(cur, seg->key);
    return element(cur, seg->index);
}

/*
 * Walk the path as far as it exists and refuse a value of the wrong type on the way, before
 * anything is changed. Below an absent or null node everything is created, so nothing there
 * can conflict.
 */
static int check_path(const cJSON *root, const char *path, const struct seg *segs, size_t n,
                      struct p4_error *err)
{
    const cJSON *cur = root;

    for (size_t i = 0; i + 1 < n; i++) {
        const cJSON *next = child_at(cur, &segs[i]);
        bool want_list = segs[i + 1].key == NULL;

        if (next == NULL || cJSON_IsNull(next))
            return 0;
        if (want_list ? !cJSON_IsArray(next) : !cJSON_IsObject(next))
            return p4_error_set_printable(
                err, P4_ERR_INVAL, "cannot set target path \"" SHOWN "\": %.*s is %s, not %s.",
                path, (int)(segs[i].end < 200 ? segs[i].end : 200), path,
                p4_json_type_name(next, true), want_list ? "a list" : "an object");
        cur = next;
    }
    return 0;
}

/* Put v (taken over) at seg under cur, replacing what is there; lists grow with nulls. */
static void put(cJSON *cur, const struct seg *seg, cJSON *v)
{
    cJSON *old;

    if (seg->key != NULL) {
        old = cJSON_GetObjectItemCaseSensitive(cur, seg->key);
        if (old == NULL)
            p4_json_need_ok(cJSON_AddItemToObject(cur, seg->key, v));
        else
            replace_member(cur, old, v);
        return;
    }
    for (size_t size = (size_t)cJSON_GetArraySize(cur); size <= seg->index; size++)
        p4_json_need_ok(cJSON_AddItemToArray(cur, p4_json_need(cJSON_CreateNull())));
    replace_member(cur, element(cur, seg->index), v);
}

int p4_values_set_path(cJSON *root, const char *path, cJSON *value, struct p4_error *err)
{
    struct seg *segs = NULL;
    size_t n = 0;
    cJSON *cur = root;
    int rc;

    if (value == NULL)
        return p4_error_set_printable(err, P4_ERR_INVAL, "no value to set at the target path.");
    if (!cJSON_IsObject(root) || path == NULL) {
        rc = p4_error_set_printable(err, P4_ERR_INVAL,
                                    "no values or no target path to set a value at.");
        goto out;
    }
    rc = parse_path(path, &segs, &n, err);
    if (rc == 0)
        rc = check_path(root, path, segs, n, err);
    if (rc != 0)
        goto out;
    for (size_t i = 0; i + 1 < n; i++) {
        cJSON *next = child_at(cur, &segs[i]);

        if (next == NULL || cJSON_IsNull(next)) {
            next =
                p4_json_need(segs[i + 1].key == NULL ? cJSON_CreateArray() : cJSON_CreateObject());
            put(cur, &segs[i], next);
        }
        cur = next;
    }
    put(cur, &segs[n - 1], value);
    value = NULL;
out:
    free_segs(segs, n);
    p4_json_discard(value);
    return rc;
}

/* ---- depth ---- */

/* Append the step to path[i] (under parent) to text: ".key" or "[index]". */
static void append_step(char *text, size_t size, const cJSON *parent, const cJSON *node)
{
    size_t at = strlen(text), index = 0;

    if (node->string != NULL) {
        (void)snprintf(text + at, size - at, ".%s", node->string);
        return;
    }
    for (const cJSON *c = parent->child; c != NULL && c != node; c = c->next)
        index++;
    (void)snprintf(text + at, size - at, "[%zu]", index);
}

/*
 * Refuse values nested deeper than P4_VALUES_DEPTH_MAX levels below root. The walk keeps the
 * path to the node at hand (no recursion), so a message can say where; with show_path false
 * (values from a ConfigMap or Secret, whose keys are not shown) it names only what.
 */
static int check_depth(const cJSON *root, const char *what, bool show_path, struct p4_error *err)
{
    const cJSON *path[P4_VALUES_DEPTH_MAX + 1];
    const cJSON *c = root->child;
    size_t n = 0;
    char text[200] = "";

    while (c != NULL || n > 0) {
        if (c == NULL) {
            c = path[--n]->next;
            continue;
        }
        if (n == P4_VALUES_DEPTH_MAX) { /* c sits one level deeper than allowed */
            path[n++] = c;
            break;
        }
        if (c->child != NULL) {
            path[n++] = c;
            c = c->child;
            continue;
        }
        c = c->next;
    }
    if (n <= P4_VALUES_DEPTH_MAX)
        return 0;
    if (!show_path)
        return p4_error_set_printable(err, P4_ERR_INVALID,
                                      "%s nests deeper than %d levels: flatten it (no chart reads "
                                      "values that deep).",
                                      what, P4_VALUES_DEPTH_MAX);
    for (size_t i = 0; i < n && strlen(text) < sizeof(text) - 1; i++)
        append_step(text, sizeof(text), i == 0 ? root : path[i - 1], path[i]);
    if (strlen(text) >= sizeof(text) - 1)
        memcpy(text + sizeof(text) - 4, "...", 4);
    return p4_error_set_printable(err, P4_ERR_INVALID,
                                  "%s nest deeper than %d levels, at %s: flatten them (no chart "
                                  "reads values that deep).",
                                  what, P4_VALUES_DEPTH_MAX, text);
}

/* ---- valuesFrom ---- */

/* s[0..n) equals word (lower case ASCII) ignoring ASCII case, as Go's strings.EqualFold. */
static bool equal_fold(const char *s, size_t n, const char *word)
{
    if (strlen(word) != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];

        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != word[i])
            return false;
    }
    return true;
}

/* strconv.ParseInt(s, 10, 64): optional sign, decimal digits, int64 range. */
static bool int10(const char *s, size_t n, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    uint64_t v = 0;

    if (n > 0 && (s[0] == '+' || s[0] == '-'))
        neg = s[i++] == '-';
    if (i == n)
        return false;
    for (; i < n; i++) {
        unsigned d = (unsigned)(s[i] - '0');

        if (!p4_ascii_digit(s[i]) || v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (v > (uint64_t)INT64_MAX + (neg ? 1 : 0))
        return false;
    *out = neg ? (v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v) : (int64_t)v;
    return true;
}

static cJSON *string_node(const char *s, size_t n)
{
    char *copy = p4_strndup(s, n);
    cJSON *node = p4_json_need(cJSON_CreateString(copy));

    p4_wipe(copy, n);
    free(copy);
    return node;
}

/* The value a targetPath source sets, typed as Flux's strvals types it (see values.h). */
static int typed_value(const char *s, size_t n, const char *source, cJSON **out,
                       struct p4_error *err)
{
    int64_t v;

    *out = NULL;
    if (n > 0 && memchr(s, '\0', n) != NULL)
        return p4_error_set_printable(
            err, P4_ERR_INVALID,
            "%s: the value holds a NUL byte, which cannot be set at a target path.", source);
    if (!p4_text_utf8_valid(s, n))
        return p4_error_set_printable(
            err, P4_ERR_INVALID,
            "%s: the value is not UTF-8 text, which cannot be set at a target path.", source);
    if (n > 0 && ((s[0] == '\'' && s[n - 1] == '\'') || (s[0] == '"' && s[n - 1] == '"'))) {
        size_t a = 0, b = n;

        while (a < b && (s[a] == '\'' || s[a] == '"'))
            a++;
        while (b > a && (s[b - 1] == '\'' || s[b - 1] == '"'))
            b--;
        *out = string_node(s + a, b - a);
    } else if (equal_fold(s, n, "true") || equal_fold(s, n, "false")) {
        *out = p4_json_need(cJSON_CreateBool(equal_fold(s, n, "true")));
    } else if (equal_fold(s, n, "null")) {
        *out = p4_json_need(cJSON_CreateNull());
    } else if (n > 0 && (s[0] != '0' || n == 1) && int10(s, n, &v) && v <= EXACT_INT_MAX &&
               v >= -EXACT_INT_MAX) {
        *out = p4_json_need(cJSON_CreateNumber((double)v));
    } else {
        *out = string_node(s, n);
    }
    return 0;
}

int p4_values_apply_source(cJSON *root, const char *source, const char *text, size_t len,
                           const char *target_path, struct p4_error *err)
{
    const char *name = source != NULL ? source : "valuesFrom";
    struct p4_error inner;
    cJSON *tree = NULL, *value = NULL;
    int rc = 0;

    p4_error_clear(&inner);
    if (!cJSON_IsObject(root) || (text == NULL && len > 0)) {
        rc = p4_error_set_printable(err, P4_ERR_INVAL, SHOWN ": no values to apply it to.", name);
        goto out;
    }
    if (len > P4_YAML_MAX_INPUT) {
        rc = p4_error_set_printable(err, P4_ERR_TOOBIG,
                                    SHOWN " holds %zu bytes, more than the %zu-byte limit.", name,
                                    len, P4_YAML_MAX_INPUT);
        goto out;
    }
    if (text == NULL)
        text = "";
    if (target_path != NULL && target_path[0] != '\0') {
        rc = typed_value(text, len, name, &value, err);
        if (rc == 0)
            rc = p4_values_set_path(root, target_path, value, &inner);
        if (rc != 0 && inner.code != 0)
            rc = p4_error_set_printable(err, rc, SHOWN ": %s", name, inner.message);
        goto out;
    }
    tree = p4_yaml_to_json(text, len, &inner);
    if (tree == NULL) {
        rc = p4_error_set_printable(err, inner.code, SHOWN ": %s", name, inner.message);
        goto out;
    }
    if (cJSON_IsNull(tree))
        goto out;
    if (!cJSON_IsObject(tree)) {
        rc =
            p4_error_set_printable(err, P4_ERR_INVALID, SHOWN " holds %s, not a mapping of values.",
                                   name, p4_json_type_name(tree, true));
        goto out;
    }
    rc = check_depth(tree, name, false, err);
    if (rc != 0)
        goto out;
    merge(root, tree, NULLS_KEEP, true);
out:
    p4_json_discard(tree);
    return rc;
}

cJSON *p4_values_compose(const struct p4_values_source *sources, size_t n,
                         const cJSON *inline_values, struct p4_error *err)
{
    cJSON *result = p4_json_need(cJSON_CreateObject());
    char label[320];
    int rc = 0;

    if (sources == NULL && n > 0) {
        rc = p4_error_set_printable(err, P4_ERR_INVAL, "no valuesFrom entries were given.");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const struct p4_values_source *s = &sources[i];
        const char *key = s->key != NULL && s->key[0] != '\0' ? s->key : P4_VALUES_DEFAULT_KEY;

        if (s->kind == NULL ||
            (strcmp(s->kind, "ConfigMap") != 0 && strcmp(s->kind, "Secret") != 0)) {
            rc = p4_error_set_printable(
                err, P4_ERR_INVAL, "valuesFrom[%zu] has kind \"%.40s\"; use ConfigMap or Secret.",
                i, s->kind != NULL ? s->kind : "");
            goto out;
        }
        if (s->name == NULL || s->name[0] == '\0') {
            rc = p4_error_set_printable(err, P4_ERR_INVAL, "valuesFrom[%zu] (%s) has no name.", i,
                                        s->kind);
            goto out;
        }
        (void)snprintf(label, sizeof(label), "%s %.120s key %.120s", s->kind, s->name, key);
        if (s->text == NULL) {
            if (s->optional)
                continue;
            rc = p4_error_set_printable(
                err, P4_ERR_NOTFOUND,
                "%s was not found: create it, or mark the valuesFrom entry optional.", label);
            goto out;
        }
        rc = p4_values_apply_source(result, label, s->text, s->len, s->target_path, err);
        if (rc != 0)
            goto out;
    }
    if (inline_values != NULL && !cJSON_IsNull(inline_values)) {
        if (!cJSON_IsObject(inline_values)) {
            rc =
                p4_error_set_printable(err, P4_ERR_INVAL, "spec.chart.values is %s, not an object.",
                                       p4_json_type_name(inline_values, true));
            goto out;
        }
        rc = check_depth(inline_values, "spec.chart.values", true, err);
        if (rc != 0)
            goto out;
        merge(result, inline_values, NULLS_KEEP, false);
    }
out:
    if (rc != 0) {
        p4_json_discard(result);
        result = NULL;
    }
    return result;
}
