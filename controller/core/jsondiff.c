/* jsondiff.c: the field paths where two JSON values differ (see jsondiff.h). */
#include "phase4/core/jsondiff.h"

#include <stdio.h>
#include <string.h>

/* Arrays matched by item name up to this many items; longer ones by index. */
#define NAMED_MAX 256

struct walk {
    p4_jsondiff_skip_fn skip;
    void *data;
    size_t max;
    cJSON *paths;
    struct p4_jsondiff out;
    size_t work; /* values visited and members looked up, against P4_JSONDIFF_WORK_MAX */
    const char *seg[P4_JSONDIFF_DEPTH_MAX + 1];
    bool item[P4_JSONDIFF_DEPTH_MAX + 1];
    char idx[P4_JSONDIFF_DEPTH_MAX + 1][24];
};

static bool plain(const char *s)
{
    if (s[0] == '\0')
        return false;
    for (; *s; s++) {
        char ch = *s;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '-' || ch == '$'))
            return false;
    }
    return true;
}

/* Append s to buf at *n (size bytes), control bytes, quotes and backslashes as '?'. */
static void put(char *buf, size_t size, size_t *n, const char *s, bool quoted)
{
    for (; *s && *n + 1 < size; s++) {
        unsigned char ch = (unsigned char)*s;
        buf[(*n)++] = (ch < 0x20 || ch == 0x7f || (quoted && (ch == '"' || ch == '\\'))) ? '?' : *s;
    }
    buf[*n] = '\0';
}

static void report(struct walk *w, size_t depth)
{
    char buf[P4_JSONDIFF_PATH_MAX + 4];
    size_t n = 0;

    w->out.total++;
    if (w->paths == NULL || (size_t)cJSON_GetArraySize(w->paths) >= w->max)
        return;
    buf[0] = '\0';
    for (size_t i = 0; i < depth; i++) {
        if (w->item[i]) {
            put(buf, P4_JSONDIFF_PATH_MAX, &n, "[", false);
            put(buf, P4_JSONDIFF_PATH_MAX, &n, w->seg[i], true);
            put(buf, P4_JSONDIFF_PATH_MAX, &n, "]", false);
        } else if (plain(w->seg[i])) {
            if (i > 0)
                put(buf, P4_JSONDIFF_PATH_MAX, &n, ".", false);
            put(buf, P4_JSONDIFF_PATH_MAX, &n, w->seg[i], false);
        } else {
            put(buf, P4_JSONDIFF_PATH_MAX, &n, "[\"", false);
            put(buf, P4_JSONDIFF_PATH_MAX, &n, w->seg[i], true);
            put(buf, P4_JSONDIFF_PATH_MAX, &n, "\"]", false);
        }
    }
    if (n + 1 >= P4_JSONDIFF_PATH_MAX)
        (void)snprintf(buf + P4_JSONDIFF_PATH_MAX - 4, 4, "...");
    if (depth == 0)
        (void)snprintf(buf, sizeof(buf), ".");
    cJSON_AddItemToArray(w->paths, cJSON_CreateString(buf));
}

/* Charge n units of work; false (and truncated) past the bound. */
static bool charge(struct walk *w, size_t n)
{
    if (w->out.truncated || n > P4_JSONDIFF_WORK_MAX - w->work) {
        w->out.truncated = true;
        return false;
    }
    w->work += n;
    return true;
}

/* Values in v, counted up to limit (then limit + 1). cJSON's parser bounds the nesting. */
static size_t weight(const cJSON *v, size_t limit)
{
    size_t n = 1;
    const cJSON *c;

    for (c = v->child; c && n <= limit; c = c->next)
        n += weight(c, limit - n);
    return n;
}

static void diff(struct walk *w, const cJSON *a, const cJSON *b, size_t depth);

/* Step into member or item seg at depth and compare (a or b may be NULL: one side only). */
static void step(struct walk *w, const char *seg, bool item, const cJSON *a, const cJSON *b,
                 size_t depth)
{
    w->seg[depth] = seg;
    w->item[depth] = item;
    if (w->skip && w->skip(w->seg, depth + 1, w->data))
        return;
    if (a == NULL || b == NULL) {
        report(w, depth + 1);
        return;
    }
    diff(w, a, b, depth + 1);
}

static const char *item_name(const cJSON *it)
{
    const cJSON *n = cJSON_IsObject(it) ? cJSON_GetObjectItemCaseSensitive(it, "name") : NULL;

    return cJSON_IsString(n) && n->valuestring && n->valuestring[0] ? n->valuestring : NULL;
}

static const cJSON *find_named(const cJSON *arr, const char *name)
{
    const cJSON *it;

    cJSON_ArrayForEach(it, arr) {
        const char *n = item_name(it);
        if (n && strcmp(n, name) == 0)
            return it;
    }
    return NULL;
}

/* Every item an object with a string name, no two alike (and not too many to match). */
static bool named(const cJSON *arr)
{
    const cJSON *it, *o;
    int n = 0;

    cJSON_ArrayForEach(it, arr) {
        const char *name = item_name(it);
        if (name == NULL || ++n > NAMED_MAX)
            return false;
        for (o = arr->child; o != it; o = o->next)
            if (strcmp(item_name(o), name) == 0)
                return false;
    }
    return true;
}

static void diff_arrays(struct walk *w, const cJSON *a, const cJSON *b, size_t depth)
{
    const cJSON *x, *y;

    size_t width = (size_t)cJSON_GetArraySize(a) + (size_t)cJSON_GetArraySize(b);

    if (width <= 2 * NAMED_MAX && charge(w, width * width) && cJSON_GetArraySize(a) > 0 &&
        cJSON_GetArraySize(b) > 0 && named(a) && named(b)) {
        cJSON_ArrayForEach(x, a) {
            step(w, item_name(x), true, x, find_named(b, item_name(x)), depth);
            if (w->out.truncated)
                return;
        }
        cJSON_ArrayForEach(y, b) {
            if (!w->out.truncated && find_named(a, item_name(y)) == NULL)
                step(w, item_name(y), true, NULL, y, depth);
        }
        return;
    }
    x = a->child;
    y = b->child;
    for (int i = 0; (x || y) && !w->out.truncated; i++) {
        (void)snprintf(w->idx[depth], sizeof(w->idx[depth]), "%d", i);
        step(w, w->idx[depth], true, x, y, depth);
        x = x ? x->next : NULL;
        y = y ? y->next : NULL;
    }
}

static void diff(struct walk *w, const cJSON *a, const cJSON *b, size_t depth)
{
    const cJSON *x, *y;
    size_t width;

    if (!charge(w, 1))
        return;
    if ((a->type & 0xFF) != (b->type & 0xFF)) {
        report(w, depth);
        return;
    }
    if (!(cJSON_IsObject(a) || cJSON_IsArray(a))) {
        if (!cJSON_Compare(a, b, 1))
            report(w, depth);
        return;
    }
    if (depth >= P4_JSONDIFF_DEPTH_MAX) {
        /* cJSON_Compare looks each member up by a walk: up to the product of the sizes. */
        size_t wa = weight(a, P4_JSONDIFF_WORK_MAX), wb = weight(b, P4_JSONDIFF_WORK_MAX);
        if (wa > P4_JSONDIFF_WORK_MAX / wb || !charge(w, wa * wb))
            w->out.truncated = true;
        else if (!cJSON_Compare(a, b, 1))
            report(w, depth);
        return;
    }
    if (cJSON_IsArray(a)) {
        diff_arrays(w, a, b, depth);
        return;
    }
    width = (size_t)cJSON_GetArraySize(a) + (size_t)cJSON_GetArraySize(b);
    /* A name given twice counts once, its first member (as a lookup finds it). */
    cJSON_ArrayForEach(x, a) {
        if (x->string == NULL || !charge(w, 2 * width) ||
            cJSON_GetObjectItemCaseSensitive(a, x->string) != x)
            continue;
        step(w, x->string, false, x, cJSON_GetObjectItemCaseSensitive(b, x->string), depth);
        if (w->out.truncated)
            return;
    }
    cJSON_ArrayForEach(y, b) {
        if (y->string && charge(w, 2 * width) &&
            cJSON_GetObjectItemCaseSensitive(b, y->string) == y &&
            cJSON_GetObjectItemCaseSensitive(a, y->string) == NULL)
            step(w, y->string, false, NULL, y, depth);
    }
}

struct p4_jsondiff p4_jsondiff_paths(const cJSON *a, const cJSON *b, p4_jsondiff_skip_fn skip,
                                     void *data, size_t max, cJSON *paths)
{
    struct walk w = {.skip = skip, .data = data, .max = max, .paths = paths};

    if (a == NULL || b == NULL) {
        if (a != b)
            report(&w, 0);
        return w.out;
    }
    diff(&w, a, b, 0);
    return w.out;
}
