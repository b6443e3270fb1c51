/* stages/helm/imagecache.c: registry answers about images, kept a while (see imagecache.h). */
#include "imagecache.h"

#include <stdio.h>
#include <stdlib.h>

#include "phase4/core/alloc.h"

struct p4_imagecache_entry {
    char digest[80];
    uint64_t expires; /* now_ms past which it is dropped */
    uint64_t seq;     /* when it was last put or hit, in the cache's order of uses */
};

void p4_imagecache_init(struct p4_imagecache *c, size_t max)
{
    *c = (struct p4_imagecache){.max = max ? max : P4_IMAGECACHE_MAX};
    p4_strmap_init(&c->map);
    p4_strmap_init(&c->asking);
}

void p4_imagecache_close(struct p4_imagecache *c)
{
    const struct p4_strmap_entry *e;
    size_t pos = 0;

    while ((e = p4_strmap_next(&c->map, &pos)) != NULL)
        free(e->value);
    p4_strmap_close(&c->map);
    pos = 0;
    while ((e = p4_strmap_next(&c->asking, &pos)) != NULL)
        free(e->value);
    p4_strmap_close(&c->asking);
}

const char *p4_imagecache_get(struct p4_imagecache *c, const char *key, uint64_t now_ms)
{
    struct p4_imagecache_entry *e = p4_strmap_get(&c->map, key);

    if (e == NULL)
        return NULL;
    if (now_ms >= e->expires) {
        free(p4_strmap_del(&c->map, key));
        return NULL;
    }
    e->seq = ++c->seq;
    c->hits++;
    return e->digest;
}

/* Room for one more: drop every expired entry, and the least recently used if still full. */
static void evict(struct p4_imagecache *c, uint64_t now_ms)
{
    const struct p4_strmap_entry *it;
    const char *oldest = NULL;
    const struct p4_imagecache_entry *o = NULL;
    size_t pos = 0;

    while ((it = p4_strmap_next(&c->map, &pos)) != NULL) {
        struct p4_imagecache_entry *e = it->value;
        if (now_ms >= e->expires) {
            free(p4_strmap_del(&c->map, it->key)); /* removing the current entry is allowed */
            continue;
        }
        if (o == NULL || e->seq < o->seq) {
            o = e;
            oldest = it->key;
        }
    }
    if (p4_strmap_len(&c->map) >= c->max && oldest != NULL)
        free(p4_strmap_del(&c->map, oldest));
}

void p4_imagecache_put(struct p4_imagecache *c, const char *key, const char *digest,
                       uint64_t ttl_ms, uint64_t now_ms)
{
    struct p4_imagecache_entry *e = p4_strmap_get(&c->map, key);

    if (e == NULL) {
        if (p4_strmap_len(&c->map) >= c->max)
            evict(c, now_ms);
        e = p4_calloc(1, sizeof(*e));
        (void)p4_strmap_put(&c->map, key, e);
    }
    (void)snprintf(e->digest, sizeof(e->digest), "%s", digest);
    e->expires = now_ms + ttl_ms;
    e->seq = ++c->seq;
}

void p4_imagecache_checked(struct p4_imagecache *c)
{
    c->checks++;
}

size_t p4_imagecache_len(const struct p4_imagecache *c)
{
    return p4_strmap_len(&c->map);
}

void p4_imagecache_asking(struct p4_imagecache *c, const char *key, uint64_t now_ms)
{
    uint64_t *since = p4_malloc(sizeof(*since));

    *since = now_ms;
    free(p4_strmap_put(&c->asking, key, since));
}

void p4_imagecache_answered(struct p4_imagecache *c, const char *key)
{
    free(p4_strmap_del(&c->asking, key));
}

bool p4_imagecache_is_asked(struct p4_imagecache *c, const char *key, uint64_t now_ms)
{
    const uint64_t *since = p4_strmap_get(&c->asking, key);

    if (since == NULL)
        return false;
    if (now_ms - *since < P4_IMAGECACHE_ASKING_MS)
        return true;
    free(p4_strmap_del(&c->asking, key)); /* stale: its run is gone */
    return false;
}
