/* yamlanchor.c: a YAML document's anchors, found newest first with bounded work (yamlanchor.h). */
#include "yamlanchor.h"

#include <stdlib.h>
#include <string.h>

#include "phase4/core/alloc.h"
#include "phase4/core/error.h"

/* Alias look-ups scan the anchors newest first; at most this much work per call. */
#define MAX_ANCHOR_WORK 50000000

static uint64_t hash_name(const char *s, size_t n)
{
    uint64_t h = 14695981039346656037ULL;

    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

void p4_yaml_anchors_reset(struct p4_yaml_anchors *t)
{
    for (size_t i = 0; i < t->n; i++) {
        p4_wipe_free_str(t->items[i].name);
        p4_wipe_free_str(t->items[i].key);
    }
    t->n = 0;
}

void p4_yaml_anchors_close(struct p4_yaml_anchors *t)
{
    p4_yaml_anchors_reset(t);
    free(t->items);
    memset(t, 0, sizeof(*t));
}

size_t p4_yaml_anchor_add(struct p4_yaml_anchors *t, const char *name)
{
    struct p4_yaml_anchor *a;

    if (t->n == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 16;
        t->items = p4_realloc(t->items, t->cap * sizeof(*t->items));
    }
    a = &t->items[t->n++];
    memset(a, 0, sizeof(*a));
    a->len = strlen(name);
    a->name = p4_strndup(name, a->len);
    a->hash = hash_name(name, a->len);
    return t->n;
}

struct p4_yaml_anchor *p4_yaml_anchor_find(struct p4_yaml_anchors *t, const char *name, int *code,
                                           const char **why)
{
    size_t n = strlen(name);
    uint64_t h = hash_name(name, n);

    for (size_t i = t->n; i-- > 0;) {
        struct p4_yaml_anchor *a = &t->items[i];
        bool same = a->len == n && a->hash == h;

        t->work += 1 + (same ? n / 64 : 0);
        if (t->work > MAX_ANCHOR_WORK) {
            *code = P4_ERR_TOOBIG;
            *why = "too many anchors and aliases to resolve";
            return NULL;
        }
        if (same && memcmp(a->name, name, n) == 0)
            return a;
    }
    *code = P4_ERR_PARSE;
    *why = "an alias refers to an anchor that is not defined";
    return NULL;
}
