/*
 * strmap.h: a hash map from strings to pointers (open addressing, linear
 * probing, tombstones), for caches keyed by "namespace/name".
 *
 * Keys are copied and owned by the map; values are borrowed pointers the
 * caller owns (the map never frees a value). Iteration order is unspecified;
 * do not insert while iterating (removing the current entry is allowed).
 */
#ifndef PHASE4_STRMAP_H
#define PHASE4_STRMAP_H

#include <stddef.h>

struct p4_strmap_entry {
    char *key; /* NULL: empty; tombstones use an internal marker */
    void *value;
};

struct p4_strmap {
    struct p4_strmap_entry *slots;
    size_t cap;  /* power of two, or 0 */
    size_t len;  /* live entries */
    size_t used; /* live entries + tombstones */
};

void p4_strmap_init(struct p4_strmap *m);
void p4_strmap_close(struct p4_strmap *m); /* frees keys, not values */
void *p4_strmap_get(const struct p4_strmap *m, const char *key);
/* Insert or replace; returns the value it replaced (for the caller to free), or NULL. */
void *p4_strmap_put(struct p4_strmap *m, const char *key, void *value);
/* Remove; returns the value removed, or NULL when absent. */
void *p4_strmap_del(struct p4_strmap *m, const char *key);
size_t p4_strmap_len(const struct p4_strmap *m);
/*
 * Iterate: start with *pos = 0; returns the next live entry or NULL at the
 * end. The entry is borrowed until the map changes.
 */
const struct p4_strmap_entry *p4_strmap_next(const struct p4_strmap *m, size_t *pos);

#endif
