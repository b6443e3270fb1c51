/*
 * jsondiff.c: the field paths where two JSON values differ (see jsondiff.h). The walk keeps its
 * own stack of the containers it is in (no recursion): a path is written only down to
 * P4_JSONDIFF_DEPTH_MAX; deeper, the walk goes on without paths ("quiet") until it finds a
 * difference, told once at the depth bound, or the subtree ends equal.
 */
#include "phase4/core/jsondiff.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/core/alloc.h"

/* Arrays matched by item name up to this many items; longer ones by index. */
#define NAMED_MAX 256
/* Containers the walk may be inside at once (cJSON's parser allows CJSON_NESTING_LIMIT). */
#define STACK_MAX (CJSON_NESTING_LIMIT + 8)

enum kind { K_OBJECT, K_NAMED, K_INDEXED };

struct frame {
    const cJSON *a, *b; /* the two containers, of one type */
    const cJSON *x, *y; /* where the walk is in each */
    enum kind kind;
    int phase; /* 0: a's members (or both arrays' items), 1: what only b has */
    int index;
    size_t width; /* members of a and b: what one lookup costs */
};

struct walk {
    p4_jsondiff_skip_fn skip;
    void *data;
    size_t max;
    cJSON *paths;
    struct p4_jsondiff out;
    size_t work; /* values visited and members looked up, against P4_JSONDIFF_WORK_MAX */
    struct frame *stack;
    size_t sp, cap;
    size_t quiet; /* 0, or the depth (frames) a difference found below is told at */
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

/* Append s to buf at *n (size bytes), control bytes (and quotes, backslashes) as '?'. */
static void put(char *buf, size_t size, size_t *n, const char *s, bool quoted)
{
    for (; *s && *n + 1 < size; s++) {
        unsigned char ch = (unsigned char)*s;
        char out = *s;
        if (ch < 0x20 || ch == 0x7f || (quoted && (ch == '"' || ch == '\\')))
            out = '?';
        buf[(*n)++] = out;
    }
    buf[*n] = '\0';
}

/* A difference at the path of the first depth segments. */
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

static const char *item_name(const cJSON *it)
{
    const cJSON *n = cJSON_IsObject(it) ? cJSON_GetObjectItemCaseSensitive(it, "name") : NULL;

    if (n == NULL || !cJSON_IsString(n) || n->valuestring == NULL || n->valuestring[0] == '\0')
        return NULL;
    return n->valuestring;
}

static const cJSON *find_named(const cJSON *arr, const char *name)
{
    const cJSON *it;

    if (name == NULL)
        return NULL;
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
        for (o = arr->child; o != it; o = o->next) {
            const char *other = item_name(o);
            if (other && strcmp(other, name) == 0)
                return false;
        }
    }
    return true;
}

/* Enter containers a and b (of one type) below the current frames; false when too deep. */
static bool enter(struct walk *w, const cJSON *a, const cJSON *b)
{
    struct frame *f;
    size_t na = (size_t)cJSON_GetArraySize(a), nb = (size_t)cJSON_GetArraySize(b);

    if (w->sp == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : P4_JSONDIFF_DEPTH_MAX + 2;
        struct frame *s;
        if (w->cap >= STACK_MAX) {
            w->out.truncated = true;
            return false;
        }
        s = p4_calloc(cap, sizeof(*s));
        if (w->sp > 0)
            memcpy(s, w->stack, w->sp * sizeof(*s));
        free(w->stack);
        w->stack = s;
        w->cap = cap;
    }
    f = &w->stack[w->sp++];
    memset(f, 0, sizeof(*f));
    f->a = a;
    f->b = b;
    f->x = a->child;
    f->y = b->child;
    f->width = na + nb;
    f->kind = K_OBJECT;
    if (cJSON_IsArray(a)) {
        f->kind = K_INDEXED;
        if (na + nb <= (size_t)2 * NAMED_MAX && charge(w, (na + nb) * (na + nb)) && na > 0 &&
            nb > 0 && named(a) && named(b))
            f->kind = K_NAMED;
    }
    return true;
}

/*
 * The next pair of f to compare: *seg (its member name, item name or index), *item, and the two
 * values (one may be NULL: on one side only). false when f has none left.
 */
static bool next_pair(struct walk *w, struct frame *f, const char **seg, bool *item,
                      const cJSON **ca, const cJSON **cb)
{
    const cJSON *x;

    switch (f->kind) {
    case K_INDEXED:
        if (f->x == NULL && f->y == NULL)
            return false;
        *ca = f->x;
        *cb = f->y;
        *item = true;
        *seg = NULL; /* the index: the caller writes it */
        f->x = f->x ? f->x->next : NULL;
        f->y = f->y ? f->y->next : NULL;
        f->index++;
        return true;
    case K_NAMED:
        while (f->phase == 0 && (x = f->x) != NULL) {
            f->x = x->next;
            *seg = item_name(x);
            *item = true;
            *ca = x;
            *cb = find_named(f->b, *seg);
            return true;
        }
        f->phase = 1;
        while ((x = f->y) != NULL) {
            f->y = x->next;
            if (find_named(f->a, item_name(x)) != NULL)
                continue;
            *seg = item_name(x);
            *item = true;
            *ca = NULL;
            *cb = x;
            return true;
        }
        return false;
    case K_OBJECT:
        /* A name given twice counts once, its first member (as a lookup finds it). */
        while (f->phase == 0 && (x = f->x) != NULL) {
            f->x = x->next;
            if (x->string == NULL || !charge(w, 2 * f->width) ||
                cJSON_GetObjectItemCaseSensitive(f->a, x->string) != x)
                continue;
            *seg = x->string;
            *item = false;
            *ca = x;
            *cb = cJSON_GetObjectItemCaseSensitive(f->b, x->string);
            return true;
        }
        f->phase = 1;
        while ((x = f->y) != NULL) {
            f->y = x->next;
            if (x->string == NULL || !charge(w, 2 * f->width) ||
                cJSON_GetObjectItemCaseSensitive(f->b, x->string) != x ||
                cJSON_GetObjectItemCaseSensitive(f->a, x->string) != NULL)
                continue;
            *seg = x->string;
            *item = false;
            *ca = NULL;
            *cb = x;
            return true;
        }
        return false;
    }
    return false;
}

/* A difference found at depth (the segments written so far): told, and in quiet mode the
   subtree below the depth bound is left. */
static void differs(struct walk *w, size_t depth)
{
    if (w->quiet) {
        report(w, w->quiet);
        w->sp = w->quiet;
        w->quiet = 0;
        return;
    }
    report(w, depth);
}

static void walk(struct walk *w, const cJSON *a, const cJSON *b)
{
    if (!charge(w, 1))
        return;
    if ((a->type & 0xFF) != (b->type & 0xFF) ||
        (!(cJSON_IsObject(a) || cJSON_IsArray(a)) && !cJSON_Compare(a, b, 1))) {
        report(w, 0);
        return;
    }
    if (!(cJSON_IsObject(a) || cJSON_IsArray(a)) || !enter(w, a, b))
        return;
    while (w->sp > 0 && !w->out.truncated) {
        struct frame *f = &w->stack[w->sp - 1];
        size_t depth = w->sp; /* of the pair: the segments 0 .. depth - 1 */
        const char *seg;
        const cJSON *ca, *cb;
        bool item;

        if (!next_pair(w, f, &seg, &item, &ca, &cb)) {
            w->sp--;
            if (w->quiet && w->sp <= w->quiet)
                w->quiet = 0; /* the subtree ended equal */
            continue;
        }
        if (depth <= P4_JSONDIFF_DEPTH_MAX) {
            if (seg == NULL) {
                (void)snprintf(w->idx[depth - 1], sizeof(w->idx[depth - 1]), "%d", f->index - 1);
                seg = w->idx[depth - 1];
            }
            w->seg[depth - 1] = seg;
            w->item[depth - 1] = item;
            if (!w->quiet && w->skip && w->skip(w->seg, depth, w->data))
                continue;
        }
        if (ca == NULL || cb == NULL || (ca->type & 0xFF) != (cb->type & 0xFF)) {
            differs(w, depth);
            continue;
        }
        if (!charge(w, 1))
            break;
        if (!(cJSON_IsObject(ca) || cJSON_IsArray(ca))) {
            if (!cJSON_Compare(ca, cb, 1))
                differs(w, depth);
            continue;
        }
        if (!w->quiet && depth >= P4_JSONDIFF_DEPTH_MAX)
            w->quiet = depth; /* deeper: no paths, told at this one */
        (void)enter(w, ca, cb);
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
    walk(&w, a, b);
    free(w.stack);
    return w.out;
}
