/* strmap.c: string-keyed hash map (see strmap.h). */
#include "phase4/core/strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/core/alloc.h"

static char tombstone_key[1];
#define TOMBSTONE (tombstone_key)

/* FNV-1a, 64-bit. */
static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;

    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

void p4_strmap_init(struct p4_strmap *m)
{
    memset(m, 0, sizeof(*m));
}

void p4_strmap_close(struct p4_strmap *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->cap; i++) {
        if (m->slots[i].key && m->slots[i].key != TOMBSTONE)
            free(m->slots[i].key);
    }
    free(m->slots);
    memset(m, 0, sizeof(*m));
}

/* The slot holding key, or NULL. */
static struct p4_strmap_entry *find(const struct p4_strmap *m, const char *key)
{
    size_t mask, i;

    if (m->cap == 0)
        return NULL;
    mask = m->cap - 1;
    for (i = hash(key) & mask;; i = (i + 1) & mask) {
        struct p4_strmap_entry *e = &m->slots[i];
        if (e->key == NULL)
            return NULL;
        if (e->key != TOMBSTONE && strcmp(e->key, key) == 0)
            return e;
    }
}

static void grow(struct p4_strmap *m)
{
    struct p4_strmap_entry *old = m->slots;
    size_t old_cap = m->cap;
    size_t cap = old_cap ? old_cap : 8;

    /* Double only when live entries need it; otherwise rehash to drop tombstones. */
    while (m->len * 2 >= cap)
        cap *= 2;
    m->slots = p4_calloc(cap, sizeof(*m->slots));
    m->cap = cap;
    m->used = m->len;
    for (size_t i = 0; i < old_cap; i++) {
        size_t j;
        if (old[i].key == NULL || old[i].key == TOMBSTONE)
            continue;
        for (j = hash(old[i].key) & (cap - 1); m->slots[j].key; j = (j + 1) & (cap - 1))
            ;
        m->slots[j] = old[i];
    }
    free(old);
}

void *p4_strmap_get(const struct p4_strmap *m, const char *key)
{
    struct p4_strmap_entry *e = find(m, key);

    return e ? e->value : NULL;
}

void *p4_strmap_put(struct p4_strmap *m, const char *key, void *value)
{
    struct p4_strmap_entry *e = find(m, key);
    size_t mask, i;

    if (e) {
        void *old = e->value;
        e->value = value;
        return old;
    }
    if ((m->used + 1) * 4 >= m->cap * 3)
        grow(m);
    mask = m->cap - 1;
    for (i = hash(key) & mask; m->slots[i].key && m->slots[i].key != TOMBSTONE; i = (i + 1) & mask)
        ;
    if (m->slots[i].key == NULL)
        m->used++;
    m->slots[i].key = p4_strdup(key);
    m->slots[i].value = value;
    m->len++;
    return NULL;
}

void *p4_strmap_del(struct p4_strmap *m, const char *key)
{
    struct p4_strmap_entry *e = find(m, key);
    void *old;

    if (e == NULL)
        return NULL;
    old = e->value;
    free(e->key);
    e->key = TOMBSTONE;
    e->value = NULL;
    m->len--;
    return old;
}

size_t p4_strmap_len(const struct p4_strmap *m)
{
    return m->len;
}

const struct p4_strmap_entry *p4_strmap_next(const struct p4_strmap *m, size_t *pos)
{
    while (*pos < m->cap) {
        const struct p4_strmap_entry *e = &m->slots[(*pos)++];
        if (e->key && e->key != TOMBSTONE)
            return e;
    }
    return NULL;
}
