/* manifest.c: the rendered manifest the stages hand each other (see manifest.h). */
#include "phase4/reconciler/manifest.h"

#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define ZLIB_CONST /* next_in reads a const buffer */
#include <zlib.h>

#include "phase4/core/alloc.h"
#include "phase4/core/base64.h"
#include "phase4/core/json.h"
#include "phase4/core/strmap.h"

void p4_manifest_secret_name(char *buf, size_t size, const char *name, int64_t generation)
{
    char suffix[40];
    size_t room;

    (void)snprintf(suffix, sizeof(suffix), ".v%" PRId64, generation);
    room = P4_MANIFEST_SECRET_NAME_MAX - strlen("phase4.") - strlen(suffix);
    if (strlen(name) <= room) {
        if (snprintf(buf, size, "phase4.%s%s", name, suffix) >= (int)size)
            buf[0] = '\0'; /* cannot happen: room is counted */
    } else {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int mdlen = 0;
        (void)EVP_Digest(name, strlen(name), md, &mdlen, EVP_sha256(), NULL);
        (void)snprintf(buf, size, "phase4.%.*s-%02x%02x%02x%02x%02x%s", (int)(room - 11), name,
                       md[0], md[1], md[2], md[3], md[4], suffix);
    }
}

unsigned char *p4_gzip(const char *text, size_t len, size_t *out_len)
{
    z_stream z;
    unsigned char *out;
    size_t cap;

    memset(&z, 0, sizeof(z));
    if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return NULL;
    cap = deflateBound(&z, (uLong)len) + 32;
    out = p4_malloc(cap);
    z.next_in = (const Bytef *)text;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) {
        (void)deflateEnd(&z);
        free(out);
        return NULL;
    }
    *out_len = z.total_out;
    (void)deflateEnd(&z);
    return out;
}

/* gz gunzipped, at most max bytes: the text (caller frees), or NULL with err. */
static char *gunzip(const unsigned char *gz, size_t gz_len, size_t max, size_t *len,
                    struct p4_error *err)
{
    size_t cap = max < 65536 ? max : 65536, n = 0;
    char *out;
    z_stream z;
    int zrc;

    memset(&z, 0, sizeof(z));
    if (inflateInit2(&z, 15 + 16) != Z_OK) {
        p4_error_set(err, P4_ERR_INTERNAL, "cannot start gunzip");
        return NULL;
    }
    out = p4_malloc(cap + 1);
    z.next_in = gz;
    z.avail_in = (uInt)gz_len;
    do {
        if (n == cap) {
            /* Full: one byte past max says it is too big (room for it, so a stream of
               exactly max bytes still ends here). */
            size_t grow = cap * 2 < max ? cap * 2 : max;
            if (cap > max) {
                zrc = Z_MEM_ERROR;
                break;
            }
            cap = grow > cap ? grow : cap + 1;
            out = p4_realloc(out, cap + 1);
        }
        z.next_out = (Bytef *)out + n;
        z.avail_out = (uInt)(cap - n);
        zrc = inflate(&z, Z_NO_FLUSH);
        n = cap - z.avail_out;
    } while (zrc == Z_OK || (zrc == Z_BUF_ERROR && n == cap && z.avail_in > 0));
    if (zrc == Z_STREAM_END && n > max)
        zrc = Z_MEM_ERROR;
    (void)inflateEnd(&z);
    if (zrc != Z_STREAM_END || z.avail_in != 0) {
        free(out);
        if (zrc == Z_MEM_ERROR)
            p4_error_set(err, P4_ERR_TOOBIG, "the manifest is larger than %zu bytes", max);
        else
            p4_error_set(err, P4_ERR_INVALID, "its %s is not gzip", P4_MANIFEST_SECRET_KEY);
        return NULL;
    }
    out[n] = '\0';
    *len = n;
    return out;
}

char *p4_manifest_secret_text(const cJSON *secret, size_t max, size_t *len, struct p4_error *err)
{
    const char *type = p4_json_str(secret, "type");
    const cJSON *v = p4_json_child(p4_json_child(secret, "data"), P4_MANIFEST_SECRET_KEY);
    const char *b64 = cJSON_IsString(v) ? v->valuestring : NULL; /* the key has a '.' */
    unsigned char *gz = NULL;
    size_t gz_len = 0;
    char *out;

    if (type == NULL || strcmp(type, P4_MANIFEST_SECRET_TYPE) != 0 || b64 == NULL) {
        p4_error_set(err, P4_ERR_INVALID, "it is not of type %s with key %s",
                     P4_MANIFEST_SECRET_TYPE, P4_MANIFEST_SECRET_KEY);
        return NULL;
    }
    if (p4_base64_decode(b64, strlen(b64), 0, &gz, &gz_len) != 0) {
        p4_error_set(err, P4_ERR_INVALID, "its %s is not base64", P4_MANIFEST_SECRET_KEY);
        return NULL;
    }
    out = gunzip(gz, gz_len, max, len, err);
    free(gz);
    return out;
}

bool p4_manifest_has_word(const char *list, const char *word)
{
    size_t n = strlen(word);

    for (const char *p = list; p != NULL && *p != '\0';) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        while (len > 0 && (*p == ' ' || *p == '\t')) {
            p++;
            len--;
        }
        while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        if (len == n && strncmp(p, word, n) == 0)
            return true;
        p = end ? end + 1 : NULL;
    }
    return false;
}

bool p4_manifest_test_hook(const cJSON *obj)
{
    const char *hook =
        p4_json_str(p4_json_child(p4_json_get(obj, "metadata.annotations"), "helm.sh/hook"), NULL);

    return hook != NULL &&
           (p4_manifest_has_word(hook, "test") || p4_manifest_has_word(hook, "test-success"));
}

long p4_manifest_hook_weight(const cJSON *obj)
{
    const char *w = p4_json_str(
        p4_json_child(p4_json_get(obj, "metadata.annotations"), "helm.sh/hook-weight"), NULL);
    char *end;
    long v;

    if (w == NULL)
        return 0;
    v = strtol(w, &end, 10);
    return end != w && *end == '\0' ? v : 0;
}

/* Is g kept: generation, in history or the last good revision? */
static bool kept(const cJSON *obj, int64_t generation, int64_t floor, bool has_history, int64_t g)
{
    const cJSON *h;
    int64_t v;

    if (g == generation || (p4_json_int64(obj, "status.lastKnownGoodRevision", &v) == 0 && v == g))
        return true;
    if (!has_history)
        return g >= floor;
    cJSON_ArrayForEach(h, p4_json_get(obj, "status.history")) {
        if (p4_json_int64(h, "generation", &v) == 0 && v == g)
            return true;
    }
    return false;
}

int p4_manifest_prunable(const cJSON *obj, int64_t generation, int64_t out[P4_MANIFEST_PRUNE_MAX])
{
    const cJSON *h;
    int64_t floor = generation - P4_MANIFEST_HISTORY + 1, v;
    bool has_history = false;
    int n = 0;

    cJSON_ArrayForEach(h, p4_json_get(obj, "status.history")) {
        if (p4_json_int64(h, "generation", &v) != 0 || v < 1 || v > generation)
            continue;
        if (!has_history || v < floor)
            floor = v;
        has_history = true;
    }
    for (int64_t g = floor - 1; g >= 1 && g >= floor - P4_MANIFEST_HISTORY; g--) {
        if (!kept(obj, generation, floor, has_history, g))
            out[n++] = g;
    }
    for (int64_t g = generation - 1; g > floor && n < P4_MANIFEST_PRUNE_MAX; g--) {
        if (!kept(obj, generation, floor, has_history, g))
            out[n++] = g;
    }
    return n;
}

/* ---- the memo of stored manifests ---- */

struct memo_entry {
    char *uid, *secret, *rv;
    unsigned char *gz;
    size_t gz_len;
    uint64_t at;
};

struct p4_manifest_memo {
    struct p4_strmap entries; /* "namespace/name" → struct memo_entry */
    uint64_t swept;           /* when expired entries were last dropped */
};

static void free_entry(struct memo_entry *e)
{
    if (e == NULL)
        return;
    free(e->uid);
    free(e->secret);
    free(e->rv);
    free(e->gz);
    free(e);
}

static bool expired(const struct memo_entry *e, uint64_t now)
{
    return now < e->at || now - e->at > P4_MANIFEST_MEMO_TTL_MS;
}

struct p4_manifest_memo *p4_manifest_memo_new(void)
{
    struct p4_manifest_memo *m = p4_calloc(1, sizeof(*m));

    p4_strmap_init(&m->entries);
    return m;
}

void p4_manifest_memo_free(struct p4_manifest_memo *m)
{
    size_t pos = 0;
    const struct p4_strmap_entry *e;

    if (m == NULL)
        return;
    while ((e = p4_strmap_next(&m->entries, &pos)) != NULL)
        free_entry(e->value);
    p4_strmap_close(&m->entries);
    free(m);
}

static void sweep(struct p4_manifest_memo *m, uint64_t now)
{
    size_t pos = 0;
    const struct p4_strmap_entry *e;

    if (now >= m->swept && now - m->swept < P4_MANIFEST_MEMO_TTL_MS)
        return;
    m->swept = now;
    while ((e = p4_strmap_next(&m->entries, &pos)) != NULL) {
        struct memo_entry *en = e->value;
        if (expired(en, now)) {
            char *key = p4_strdup(e->key);
            free_entry(p4_strmap_del(&m->entries, key));
            free(key);
        }
    }
}

void p4_manifest_memo_put(struct p4_manifest_memo *m, const char *key, const char *uid,
                          const char *secret, const char *rv, const unsigned char *gz,
                          size_t gz_len, uint64_t now)
{
    struct memo_entry *e;

    if (m == NULL || key == NULL)
        return;
    sweep(m, now);
    free_entry(p4_strmap_del(&m->entries, key)); /* what an older store kept is stale now */
    if (uid == NULL || uid[0] == '\0' || secret == NULL || secret[0] == '\0' || rv == NULL ||
        rv[0] == '\0' || gz == NULL || gz_len == 0)
        return;
    e = p4_calloc(1, sizeof(*e));
    e->uid = p4_strdup(uid);
    e->secret = p4_strdup(secret);
    e->rv = p4_strdup(rv);
    e->gz = p4_malloc(gz_len);
    memcpy(e->gz, gz, gz_len);
    e->gz_len = gz_len;
    e->at = now;
    (void)p4_strmap_put(&m->entries, key, e);
}

char *p4_manifest_memo_take(struct p4_manifest_memo *m, const char *key, const char *uid,
                            const char *secret, uint64_t now, size_t max, size_t *len, char *rv,
                            size_t rv_size)
{
    struct memo_entry *e;
    struct p4_error err;
    char *text;

    if (m == NULL || key == NULL || uid == NULL || secret == NULL)
        return NULL;
    e = p4_strmap_get(&m->entries, key);
    if (e == NULL)
        return NULL;
    if (strcmp(e->uid, uid) == 0 && strcmp(e->secret, secret) != 0 && !expired(e, now))
        return NULL; /* another generation's (a rollback reads an older one): left for its take */
    (void)p4_strmap_del(&m->entries, key);
    text = NULL;
    if (strcmp(e->uid, uid) == 0 && !expired(e, now)) {
        text = gunzip(e->gz, e->gz_len, max, len, &err);
        if (text && rv)
            (void)snprintf(rv, rv_size, "%s", e->rv);
    }
    free_entry(e);
    return text;
}

size_t p4_manifest_memo_len(const struct p4_manifest_memo *m)
{
    return m ? p4_strmap_len(&m->entries) : 0;
}
