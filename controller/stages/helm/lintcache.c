/* stages/helm/lintcache.c: helm lint's outcomes, kept by what decides them (see lintcache.h). */
#include "lintcache.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/core/alloc.h"

struct p4_lintcache_entry {
    struct p4_lintkey key;
    struct p4_lint_outcome o; /* o.message owned */
    uint64_t seq;             /* when it was last put or hit, in the cache's order of uses */
};

void p4_lintcache_init(struct p4_lintcache *c, size_t max)
{
    *c = (struct p4_lintcache){.max = max ? max : P4_LINTCACHE_MAX};
    c->e = p4_calloc(c->max, sizeof(*c->e));
}

void p4_lintcache_close(struct p4_lintcache *c)
{
    for (size_t i = 0; i < c->n; i++)
        free((char *)c->e[i].o.message);
    free(c->e);
    c->e = NULL;
    c->n = 0;
}

/* One field into the digest, its length first, so no two lists of fields hash alike. */
static void field(EVP_MD_CTX *md, const char *tag, const void *p, size_t len)
{
    unsigned char head[9];
    uint64_t n = len;

    head[0] = (unsigned char)tag[0];
    for (int i = 0; i < 8; i++)
        head[1 + i] = (unsigned char)(n >> (8 * i));
    (void)EVP_DigestUpdate(md, head, sizeof(head));
    if (len > 0)
        (void)EVP_DigestUpdate(md, p, len);
}

void p4_lintcache_key(const char *const *argv, const char *chart_path, const char *chart_digest,
                      const char *values, size_t len, bool namespaced, struct p4_lintkey *key)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned int out = 0;

    memset(key, 0, sizeof(*key));
    if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
        abort(); /* only out of memory: what p4_malloc does then too */
    for (const char *const *a = argv; a != NULL && *a != NULL; a++) {
        if (!namespaced && strcmp(*a, "--namespace") == 0) {
            /* Not in a pass's key (lintcache.h): skip the option and its value. */
            if (a[1] == NULL)
                break;
            a++;
            continue;
        }
        if (chart_path != NULL && strcmp(*a, chart_path) == 0)
            field(md, "c", chart_digest ? chart_digest : "",
                  chart_digest ? strlen(chart_digest) : 0);
        else
            field(md, "a", *a, strlen(*a));
    }
    field(md, "v", values, values ? len : 0);
    (void)EVP_DigestFinal_ex(md, key->d, &out);
    EVP_MD_CTX_free(md);
}

static struct p4_lintcache_entry *find(struct p4_lintcache *c, const struct p4_lintkey *key)
{
    for (size_t i = 0; i < c->n; i++) {
        if (memcmp(c->e[i].key.d, key->d, sizeof(key->d)) == 0)
            return &c->e[i];
    }
    return NULL;
}

const struct p4_lint_outcome *p4_lintcache_get(struct p4_lintcache *c, const struct p4_lintkey *key)
{
    struct p4_lintcache_entry *e = find(c, key);

    if (e == NULL)
        return NULL;
    e->seq = ++c->seq;
    return &e->o;
}

void p4_lintcache_put(struct p4_lintcache *c, const struct p4_lintkey *key,
                      const struct p4_lint_outcome *o)
{
    struct p4_lintcache_entry *e = find(c, key);

    if (e == NULL && c->n < c->max) {
        e = &c->e[c->n++];
    } else if (e == NULL) { /* full: the least recently used goes */
        e = &c->e[0];
        for (size_t i = 1; i < c->n; i++) {
            if (c->e[i].seq < e->seq)
                e = &c->e[i];
        }
    }
    free((char *)e->o.message);
    e->key = *key;
    e->o = *o;
    e->o.message = o->passed || o->message == NULL ? NULL : p4_strdup(o->message);
    e->seq = ++c->seq;
}

size_t p4_lintcache_len(const struct p4_lintcache *c)
{
    return c->n;
}
