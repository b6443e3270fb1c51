/* informer.c: list+watch cache (see informer.h). */
#include "phase4/runtime/informer.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define ZLIB_CONST /* next_in reads a const buffer */
#include <zlib.h>

#include "phase4/core/alloc.h"
#include "phase4/core/json.h"
#include "phase4/core/jsonscan.h"
#include "phase4/core/log.h"
#include "phase4/core/strmap.h"
#include "phase4/core/text.h"

#define PAGE_SIZE 500
#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 30000
#define KEY_MAX 512
/* Member names shown on the way to what nests too deep ("spec.chart.values"). */
#define DEEP_PATH_SEGMENTS 3

struct p4_informer {
    uv_loop_t *loop;
    struct p4_kube *kube;
    char *path;
    struct p4_informer_handlers h;
    struct p4_strmap store;   /* key → struct entry (owned) */
    struct p4_strmap staging; /* a list in progress */
    struct p4_strmap bad;     /* key → struct p4_informer_unreadable (owned): cannot be parsed */
    struct p4_strmap staging_bad; /* the same, of a list in progress */
    char resource[64];            /* the collection's resource, for metrics and logs */
    uint64_t unparsable;          /* versions of objects that could not be parsed */
    struct p4_strmap lent;        /* key → cJSON* parsed by p4_informer_get this loop turn */
    uv_check_t reclaim; /* frees what was lent, after the turn's callbacks; active only while
                           something is lent (each active check runs every loop turn) */
    char *rv;           /* resourceVersion to watch from */
    struct p4_kube_watch *watch;
    uv_timer_t retry;
    uint64_t backoff_ms;
    int synced;
    int started;
    int closing;
    int list_in_flight;
    int fills;                /* p4_informer_fill_ns lists in flight */
    struct p4_strmap gone;    /* keys deleted while fills are in flight (values unused) */
    struct p4_strmap refused; /* namespaces keep_ns refused an object of, or whose objects
                                 were forgotten (values unused): only these need a fill */
    struct p4_informer_stats stats;
};

/* A p4_informer_fill_ns in flight. */
struct fill {
    struct p4_informer *inf;
    char *ns;
    char *path; /* the namespace's collection */
    p4_informer_fill_cb done;
    void *data;
    struct p4_strmap items, bad; /* what its pages held (bad: dropped at the end) */
};

/*
 * A cached object is kept as compact JSON text (a cJSON tree costs about
 * five times as much), deflated when that makes it smaller (a third to a
 * fifth of the text, with DICT below), and inflated and parsed when asked for.
 */
struct entry {
    char *rv;            /* metadata.resourceVersion, or NULL */
    unsigned char *data; /* the compacted object's text: deflated when zlen > 0, else NUL-ended */
    uint32_t zlen;       /* bytes of data when deflated, else 0 */
    uint32_t text_len;   /* the text's length */
};

/*
 * What most cached objects say, for deflate to refer to from their first byte (a preset
 * dictionary: the strings most likely to match last). Changing it only changes the ratio.
 */
static const char DICT[] =
    "\"ownerReferences\":[{\"apiVersion\":\"apps/v1\",\"kind\":\"ReplicaSet\",\"controller\":"
    "true,\"blockOwnerDeletion\":true,\"uid\":\"\"}],\"finalizers\":[\"phase4.io/finalizer\"],"
    "\"selector\":{\"matchLabels\":{\"app.kubernetes.io/instance\":\"\"}},\"ports\":[{\"name\":"
    "\"http\",\"protocol\":\"TCP\",\"port\":80,\"targetPort\":\"http\"}],\"containers\":[{\"name"
    "\":\"\",\"image\":\"\"}],\"replicas\":1,\"updatedReplicas\":1,\"readyReplicas\":1,"
    "\"availableReplicas\":1,\"observedGeneration\":1,\"digest\":\"sha256:\",\"gates\":[{"
    "\"name\":\"\",\"state\":\"Passed\",\"message\":\"\"}],\"stages\":{\"docker\":{},\"helm\":"
    "{},\"kubernetes\":{},\"validation\":{}},\"conditions\":[{\"type\":\"Ready\",\"status\":"
    "\"True\",\"observedGeneration\":1,\"lastTransitionTime\":\"2026-01-01T00:00:00Z\",\"reason"
    "\":\"\",\"message\":\"\"},{\"type\":\"Available\",\"status\":\"False\",\"lastUpdateTime"
    "\":\"\"}],\"status\":{\"phase\":\"Running\"},\"spec\":{},\"metadata\":{\"name\":\"\","
    "\"namespace\":\"\",\"uid\":\"\",\"resourceVersion\":\"\",\"generation\":1,"
    "\"creationTimestamp\":\"2026-01-01T00:00:00Z\",\"labels\":{\"app.kubernetes.io/name\":\"\","
    "\"app.kubernetes.io/managed-by\":\"phase4-operator\",\"phase4.io/name\":\"\"},\"annotations"
    "\":{\"phase4.io/owner\":\"\",\"phase4.io/owner-uid\":\"\",\"phase4.io/generation\":\"1\"}},"
    "{\"apiVersion\":\"v1\",\"kind\":\"\",\"metadata\":{\"name\":\"";

/* Texts shorter than this are kept as they are: deflate gains little on them. */
#define DEFLATE_MIN 96
/* deflate's window (2^13: 8 KiB) and memory level: about 48 KiB while a text is deflated. */
#define DEFLATE_WBITS 13
#define DEFLATE_MEMLEVEL 5

/* text (len bytes) deflated into a new buffer of *zlen bytes, or NULL when that is no smaller. */
static unsigned char *deflate_text(const char *text, size_t len, uint32_t *zlen)
{
    z_stream z;
    unsigned char *out;
    uLong cap;
    int rc;

    if (len < DEFLATE_MIN || len > UINT32_MAX / 2)
        return NULL;
    memset(&z, 0, sizeof(z));
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -DEFLATE_WBITS, DEFLATE_MEMLEVEL,
                     Z_DEFAULT_STRATEGY) != Z_OK)
        return NULL;
    cap = len - len / 8; /* worth keeping only when at least an eighth smaller */
    out = p4_malloc(cap);
    (void)deflateSetDictionary(&z, (const Bytef *)DICT, (uInt)(sizeof(DICT) - 1));
    z.next_in = (const Bytef *)text;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    rc = deflate(&z, Z_FINISH);
    *zlen = (uint32_t)(cap - z.avail_out);
    (void)deflateEnd(&z);
    if (rc != Z_STREAM_END) {
        free(out);
        return NULL;
    }
    return p4_realloc(out, *zlen);
}

/* A deflated entry's text, NUL-ended (caller frees), or NULL when it cannot be inflated. */
static char *entry_text(const struct entry *e)
{
    z_stream z;
    char *text;
    int rc;

    memset(&z, 0, sizeof(z));
    if (inflateInit2(&z, -DEFLATE_WBITS) != Z_OK)
        return NULL;
    text = p4_malloc((size_t)e->text_len + 1);
    (void)inflateSetDictionary(&z, (const Bytef *)DICT, (uInt)(sizeof(DICT) - 1));
    z.next_in = e->data;
    z.avail_in = e->zlen;
    z.next_out = (Bytef *)text;
    z.avail_out = e->text_len;
    rc = inflate(&z, Z_FINISH);
    (void)inflateEnd(&z);
    if (rc != Z_STREAM_END || z.avail_out != 0) {
        free(text);
        return NULL;
    }
    text[e->text_len] = '\0';
    return text;
}

static void list_page(struct p4_informer *inf, const char *cont);
static void start_watch(struct p4_informer *inf);

/* p4_informer_keeps, saying in name (256 bytes) the namespace asked about ("" if none). */
static bool keeps_ns(const struct p4_informer *inf, const char *buf, size_t len, char *name)
{
    struct p4_jsonscan_span doc = {0, len}, md, ns;

    name[0] = '\0';
    if (inf->h.keep_ns == NULL)
        return true;
    if (len == 0 || buf[0] != '{' || !p4_jsonscan_is_object(buf, doc))
        return true;
    if (p4_jsonscan_member(buf, doc, "metadata", &md) == 0 &&
        p4_jsonscan_member(buf, md, "namespace", &ns) == 0)
        (void)p4_jsonscan_string(buf, ns, name, 256);
    return inf->h.keep_ns(name, inf->h.data);
}

bool p4_informer_keeps(const struct p4_informer *inf, const char *buf, size_t len)
{
    char name[256];

    return keeps_ns(inf, buf, len, name);
}

/* Namespace ns had an object refused or forgotten: a fill of it must list (once noted). */
static void note_refused(struct p4_informer *inf, const char *ns)
{
    if (p4_strmap_get(&inf->refused, ns) == NULL)
        (void)p4_strmap_put(&inf->refused, ns, inf);
}

/* As p4_informer_keeps, noting the namespace of what it refuses (for p4_informer_fill_ns). */
static bool keeps_noting(struct p4_informer *inf, const char *buf, size_t len)
{
    char name[256];

    if (keeps_ns(inf, buf, len, name))
        return true;
    note_refused(inf, name);
    return false;
}

/* A key deleted while a fill is in flight: the fill must not bring it back. */
static void note_gone(struct p4_informer *inf, const char *key)
{
    if (inf->fills > 0)
        (void)p4_strmap_put(&inf->gone, key, inf);
}

int p4_informer_key(const cJSON *obj, char *buf, size_t size)
{
    const char *ns = p4_json_str(obj, "metadata.namespace");
    const char *name = p4_json_str(obj, "metadata.name");
    int n;

    if (name == NULL || name[0] == '\0')
        return P4_ERR_INVAL;
    if (ns && ns[0])
        n = snprintf(buf, size, "%s/%s", ns, name);
    else
        n = snprintf(buf, size, "%s", name);
    return n < 0 || (size_t)n >= size ? P4_ERR_TOOBIG : 0;
}

/* Drop what the cache never needs, so 10,000 cached objects stay small. */
static void compact(cJSON *obj)
{
    cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
    cJSON *ann;

    if (!cJSON_IsObject(meta))
        return;
    cJSON_DeleteItemFromObjectCaseSensitive(meta, "managedFields");
    ann = cJSON_GetObjectItemCaseSensitive(meta, "annotations");
    if (cJSON_IsObject(ann)) {
        cJSON_DeleteItemFromObjectCaseSensitive(ann,
                                                "kubectl.kubernetes.io/last-applied-configuration");
        if (ann->child == NULL)
            cJSON_DeleteItemFromObjectCaseSensitive(meta, "annotations");
    }
}

/* The entry to keep for obj (compacted and transformed first; obj is still the caller's). */
static struct entry *entry_of(const struct p4_informer *inf, cJSON *obj)
{
    struct entry *e = p4_calloc(1, sizeof(*e));
    const char *rv;
    char *text;
    size_t len;

    compact(obj);
    if (inf->h.transform)
        inf->h.transform(obj, inf->h.data);
    rv = p4_json_str(obj, "metadata.resourceVersion");
    e->rv = p4_strdup_or_null(rv);
    text = p4_json_print(obj);
    if (text == NULL)
        text = p4_strdup("{}");
    len = strlen(text);
    e->data = deflate_text(text, len, &e->zlen);
    if (e->data == NULL) {
        e->data = (unsigned char *)text;
        e->zlen = 0;
    } else {
        free(text);
    }
    e->text_len = (uint32_t)len;
    return e;
}

static void entry_free(struct entry *e)
{
    if (e) {
        free(e->rv);
        free(e->data);
        free(e);
    }
}

static struct entry *entry_copy(const struct entry *e)
{
    struct entry *copy = p4_calloc(1, sizeof(*copy));
    size_t n = e->zlen ? e->zlen : (size_t)e->text_len + 1;

    copy->rv = p4_strdup_or_null(e->rv);
    copy->data = p4_malloc(n);
    memcpy(copy->data, e->data, n);
    copy->zlen = e->zlen;
    copy->text_len = e->text_len;
    return copy;
}

/* The object an entry holds, parsed (caller deletes). */
static cJSON *entry_object(const struct entry *e)
{
    char *text;
    cJSON *obj;

    if (e == NULL)
        return NULL;
    if (e->zlen == 0)
        return cJSON_ParseWithLength((const char *)e->data, e->text_len);
    if ((text = entry_text(e)) == NULL)
        return NULL;
    obj = cJSON_ParseWithLength(text, e->text_len);
    free(text);
    return obj;
}

void p4_informer_unreadable_close(struct p4_informer_unreadable *u)
{
    if (u != NULL) {
        free(u->status);
        u->status = NULL;
    }
}

static void bad_free(struct p4_informer_unreadable *u)
{
    p4_informer_unreadable_close(u);
    free(u);
}

/* The string member name of the object at obj into out (size bytes), or "". */
static void shallow_str(const char *buf, struct p4_jsonscan_span obj, const char *name, char *out,
                        size_t size)
{
    struct p4_jsonscan_span v;

    if (p4_jsonscan_member(buf, obj, name, &v) != 0 || p4_jsonscan_string(buf, v, out, size) != 0)
        out[0] = '\0';
}

/* Append ".name" (or "name" first) to path: the member name at key, printable, cut. */
static void append_name(const char *buf, struct p4_jsonscan_span key, char *path, size_t size)
{
    char name[256], shown[64];
    size_t at = strlen(path);

    if (p4_jsonscan_string(buf, key, name, sizeof(name)) != 0)
        (void)snprintf(name, sizeof(name), "?");
    (void)p4_text_clean(shown, sizeof(shown), name, strlen(name), P4_TEXT_ASCII | P4_TEXT_LITERAL);
    p4_text_format(path + at, size - at, "%s%s", at > 0 ? "." : "", shown);
}

/*
 * Is the member (key, v) at level too deep for cJSON? Then path names it and where below it.
 * level is 1 for the object's own members.
 */
static bool member_too_deep(const char *buf, struct p4_jsonscan_span key, struct p4_jsonscan_span v,
                            size_t level, char *path, size_t size)
{
    char below[160];

    if (!p4_jsonscan_too_deep(buf, v, CJSON_NESTING_LIMIT - level,
                              DEEP_PATH_SEGMENTS > level ? DEEP_PATH_SEGMENTS - level : 0, below,
                              sizeof(below)))
        return false;
    append_name(buf, key, path, size);
    if (below[0]) {
        size_t at = strlen(path);
        p4_text_format(path + at, size - at, ".%s", below);
    }
    return true;
}

/*
 * Where the object at doc nests too deep, as "spec.chart.values": metadata.managedFields last,
 * as it mirrors the fields it lists a few levels deeper (and the cache drops it anyway).
 */
static bool deep_path(const char *buf, struct p4_jsonscan_span doc, char *path, size_t size)
{
    struct p4_jsonscan_iter it, mit;
    struct p4_jsonscan_span k, v, mk, mv;

    path[0] = '\0';
    if (p4_jsonscan_begin(&it, buf, doc) != 0 || !it.object)
        return false;
    while (p4_jsonscan_next(&it, &k, &v, NULL) == 1) {
        if (!p4_jsonscan_string_eq(buf, k, "metadata")) {
            if (member_too_deep(buf, k, v, 1, path, size))
                return true;
            continue;
        }
        if (p4_jsonscan_begin(&mit, buf, v) != 0 || !mit.object)
            continue;
        while (p4_jsonscan_next(&mit, &mk, &mv, NULL) == 1) {
            if (p4_jsonscan_string_eq(buf, mk, "managedFields"))
                continue;
            p4_text_format(path, size, "metadata");
            if (member_too_deep(buf, mk, mv, 2, path, size))
                return true;
            path[0] = '\0';
        }
    }
    return p4_jsonscan_too_deep(buf, doc, CJSON_NESTING_LIMIT, DEEP_PATH_SEGMENTS, path, size);
}

/* Why cJSON refused the object at doc (parse_err says what it said), as a phrase. */
static void describe(const char *buf, struct p4_jsonscan_span doc, const struct p4_error *parse_err,
                     char *why, size_t size)
{
    char path[160];

    if (deep_path(buf, doc, path, sizeof(path))) {
        p4_text_format(why, size, "%s nests deeper than %d levels", path[0] ? path : "the object",
                       CJSON_NESTING_LIMIT);
        return;
    }
    if (parse_err != NULL && parse_err->code == P4_ERR_TOOBIG) {
        p4_text_format(why, size, "the object is larger than %zu MiB",
                       P4_JSON_PARSE_MAX / ((size_t)1024 * 1024));
        return;
    }
    p4_text_format(why, size, "the object is not valid JSON (%s)",
                   parse_err != NULL && parse_err->message[0] ? parse_err->message : "no detail");
}

/*
 * The object's bytes without metadata.managedFields (caller frees; *out_len bytes), or NULL
 * when it has none or cannot be cut.
 */
static char *without_managed_fields(const char *buf, size_t len, size_t *out_len)
{
    struct p4_jsonscan_span doc, meta, k, v, nk, nv;
    struct p4_jsonscan_iter it;
    size_t prev_end = 0, cut, to;
    bool first = true;
    char *lean;

    if (p4_jsonscan_document(buf, len, &doc, NULL, NULL) != 0 ||
        p4_jsonscan_member(buf, doc, "metadata", &meta) != 0 ||
        p4_jsonscan_begin(&it, buf, meta) != 0 || !it.object)
        return NULL;
    for (;;) {
        if (p4_jsonscan_next(&it, &k, &v, NULL) != 1)
            return NULL;
        if (p4_jsonscan_string_eq(buf, k, "managedFields"))
            break;
        prev_end = v.off + v.len;
        first = false;
    }
    if (p4_jsonscan_next(&it, &nk, &nv, NULL) == 1) { /* up to the next member */
        cut = k.off;
        to = nk.off;
    } else if (!first) { /* the last: from the end of the one before */
        cut = prev_end;
        to = v.off + v.len;
    } else { /* the only one */
        cut = k.off;
        to = v.off + v.len;
    }
    lean = p4_malloc(len - (to - cut) + 1);
    memcpy(lean, buf, cut);
    memcpy(lean + cut, buf + to, len - to);
    *out_len = len - (to - cut);
    lean[*out_len] = '\0';
    return lean;
}

cJSON *p4_informer_parse(const char *buf, size_t len, struct p4_error *err)
{
    struct p4_error own;
    cJSON *obj;
    size_t n = 0;
    char *lean;

    if (err == NULL)
        err = &own;
    obj = p4_json_parse(buf, len, err);
    if (obj != NULL || err->code != P4_ERR_PARSE)
        return obj;
    lean = without_managed_fields(buf, len, &n);
    if (lean != NULL) {
        struct p4_error again;

        obj = p4_json_parse(lean, n, &again);
        free(lean);
    }
    return obj;
}

int p4_informer_read_unreadable(const char *buf, size_t len, const struct p4_error *parse_err,
                                struct p4_informer_unreadable *u)
{
    struct p4_jsonscan_span doc, meta, v;
    struct p4_error why;
    cJSON *status;

    memset(u, 0, sizeof(*u));
    if (buf == NULL || p4_jsonscan_document(buf, len, &doc, NULL, &why) != 0) {
        /* Not even cut: nothing can be read of it. */
        p4_text_format(u->why, sizeof(u->why), "the object is not valid JSON (%s)",
                       buf == NULL ? "no bytes" : why.message);
        return P4_ERR_INVAL;
    }
    describe(buf, doc, parse_err, u->why, sizeof(u->why));
    if (!p4_jsonscan_is_object(buf, doc))
        return P4_ERR_INVAL;
    shallow_str(buf, doc, "apiVersion", u->api_version, sizeof(u->api_version));
    shallow_str(buf, doc, "kind", u->kind, sizeof(u->kind));
    if (p4_jsonscan_member(buf, doc, "metadata", &meta) == 0) {
        shallow_str(buf, meta, "namespace", u->ns, sizeof(u->ns));
        shallow_str(buf, meta, "name", u->name, sizeof(u->name));
        shallow_str(buf, meta, "uid", u->uid, sizeof(u->uid));
        shallow_str(buf, meta, "resourceVersion", u->resource_version, sizeof(u->resource_version));
        if (p4_jsonscan_member(buf, meta, "generation", &v) == 0 &&
            p4_jsonscan_int64(buf, v, &u->generation) == 0)
            u->has_generation = true;
    }
    if (p4_jsonscan_member(buf, doc, "status", &v) == 0 && p4_jsonscan_is_object(buf, v) &&
        (status = p4_json_parse(buf + v.off, v.len, NULL)) != NULL) {
        u->status = p4_json_print(status);
        cJSON_Delete(status);
    }
    return u->name[0] != '\0' ? 0 : P4_ERR_INVAL;
}

/* The cache key of u ("namespace/name" or "name"); 0 or P4_ERR_INVAL / P4_ERR_TOOBIG. */
static int unreadable_key(const struct p4_informer_unreadable *u, char *buf, size_t size)
{
    int n;

    if (u->name[0] == '\0')
        return P4_ERR_INVAL;
    n = u->ns[0] ? snprintf(buf, size, "%s/%s", u->ns, u->name)
                 : snprintf(buf, size, "%s", u->name);
    return n < 0 || (size_t)n >= size ? P4_ERR_TOOBIG : 0;
}

/* An object holding only what u says of the object's identity, for on_delete (caller frees). */
static cJSON *stub_of(const struct p4_informer_unreadable *u)
{
    cJSON *obj = p4_json_need(cJSON_CreateObject());
    cJSON *meta;

    if (u->api_version[0])
        p4_json_need(cJSON_AddStringToObject(obj, "apiVersion", u->api_version));
    if (u->kind[0])
        p4_json_need(cJSON_AddStringToObject(obj, "kind", u->kind));
    meta = p4_json_need(cJSON_AddObjectToObject(obj, "metadata"));
    if (u->ns[0])
        p4_json_need(cJSON_AddStringToObject(meta, "namespace", u->ns));
    p4_json_need(cJSON_AddStringToObject(meta, "name", u->name));
    if (u->uid[0])
        p4_json_need(cJSON_AddStringToObject(meta, "uid", u->uid));
    if (u->resource_version[0])
        p4_json_need(cJSON_AddStringToObject(meta, "resourceVersion", u->resource_version));
    return obj;
}

/* One log line and the counter, for a version of an object that cannot be parsed. */
static void tell_skipped(struct p4_informer *inf, const struct p4_informer_unreadable *u)
{
    char ns[80], name[120], rv[80];

    inf->unparsable++;
    (void)p4_text_clean(ns, sizeof(ns), u->ns, strlen(u->ns), P4_TEXT_ASCII | P4_TEXT_LITERAL);
    (void)p4_text_clean(name, sizeof(name), u->name, strlen(u->name),
                        P4_TEXT_ASCII | P4_TEXT_LITERAL);
    (void)p4_text_clean(rv, sizeof(rv), u->resource_version, strlen(u->resource_version),
                        P4_TEXT_ASCII | P4_TEXT_LITERAL);
    p4_log(P4_LOG_WARN, "skipped an object that cannot be parsed", "resource", inf->resource,
           "namespace", ns, "name", name, "resourceVersion", rv, "error", u->why, P4_LOG_END);
}

/*
 * Keep u (taken over) as what is known of key, dropping its cached object; told (a log line,
 * the counter, on_unreadable) when it is new or another version.
 */
static void put_bad(struct p4_informer *inf, const char *key, struct p4_informer_unreadable *u)
{
    struct p4_informer_unreadable *old;
    bool news;

    cJSON_Delete(p4_strmap_del(&inf->lent, key));
    entry_free(p4_strmap_del(&inf->store, key));
    old = p4_strmap_put(&inf->bad, key, u);
    news = old == NULL || u->resource_version[0] == '\0' ||
           strcmp(old->resource_version, u->resource_version) != 0;
    bad_free(old);
    if (!news)
        return;
    tell_skipped(inf, u);
    if (inf->h.on_unreadable)
        inf->h.on_unreadable(key, u, inf->h.data);
}

/* key is gone: forget what was known of it, telling on_delete its identity. */
static void drop_bad(struct p4_informer *inf, const char *key)
{
    struct p4_informer_unreadable *gone = p4_strmap_del(&inf->bad, key);
    cJSON *stub;

    if (gone == NULL)
        return;
    if (inf->h.on_delete) {
        stub = stub_of(gone);
        inf->h.on_delete(key, stub, inf->h.data);
        cJSON_Delete(stub);
    }
    bad_free(gone);
}

/*
 * An object cJSON refused, read shallowly into a new record (the caller takes it over) and its
 * key; NULL when it has no name (then logged and counted here: nothing can be kept of it).
 */
static struct p4_informer_unreadable *read_bad(struct p4_informer *inf, const char *buf, size_t len,
                                               const struct p4_error *parse_err, char *key,
                                               size_t size)
{
    struct p4_informer_unreadable *u = p4_calloc(1, sizeof(*u));

    if (p4_informer_read_unreadable(buf, len, parse_err, u) != 0 ||
        unreadable_key(u, key, size) != 0) {
        tell_skipped(inf, u);
        bad_free(u);
        return NULL;
    }
    return u;
}

static void set_rv(struct p4_informer *inf, const char *rv)
{
    if (rv == NULL || rv[0] == '\0')
        return;
    free(inf->rv);
    inf->rv = p4_strdup(rv);
}

static void on_reclaim_closed(uv_handle_t *h)
{
    struct p4_informer *inf = h->data;

    free(inf->path);
    free(inf->rv);
    free(inf);
}

static void on_retry_closed(uv_handle_t *h)
{
    struct p4_informer *inf = h->data;

    uv_close((uv_handle_t *)&inf->reclaim, on_reclaim_closed);
}

static void free_values(struct p4_strmap *m)
{
    size_t pos = 0;
    const struct p4_strmap_entry *e;

    while ((e = p4_strmap_next(m, &pos)) != NULL)
        entry_free(e->value);
    p4_strmap_close(m);
}

static void free_bad(struct p4_strmap *m)
{
    size_t pos = 0;
    const struct p4_strmap_entry *e;

    while ((e = p4_strmap_next(m, &pos)) != NULL)
        bad_free(e->value);
    p4_strmap_close(m);
}

/* Drop a list in progress. */
static void drop_staging(struct p4_informer *inf)
{
    free_values(&inf->staging);
    p4_strmap_init(&inf->staging);
    free_bad(&inf->staging_bad);
    p4_strmap_init(&inf->staging_bad);
}

/* Free the trees p4_informer_get lent out during this loop turn. */
static void free_lent(struct p4_informer *inf)
{
    size_t pos = 0;
    const struct p4_strmap_entry *e;

    if (p4_strmap_len(&inf->lent) == 0)
        return;
    (void)uv_check_stop(&inf->reclaim);
    while ((e = p4_strmap_next(&inf->lent, &pos)) != NULL)
        cJSON_Delete(e->value);
    p4_strmap_close(&inf->lent);
    p4_strmap_init(&inf->lent);
}

static void on_reclaim(uv_check_t *c)
{
    free_lent(c->data);
}

/* Free once nothing of ours is in flight. */
static void maybe_free(struct p4_informer *inf)
{
    if (!inf->closing || inf->list_in_flight || inf->watch || inf->fills > 0)
        return;
    p4_strmap_close(&inf->gone);
    p4_strmap_close(&inf->refused);
    free_values(&inf->store);
    free_values(&inf->staging);
    free_bad(&inf->bad);
    free_bad(&inf->staging_bad);
    free_lent(inf);
    p4_strmap_close(&inf->lent);
    (void)uv_check_stop(&inf->reclaim);
    uv_close((uv_handle_t *)&inf->retry, on_retry_closed);
}

static void on_retry(uv_timer_t *t)
{
    struct p4_informer *inf = t->data;

    if (inf->closing)
        return;
    if (inf->synced && inf->rv)
        start_watch(inf);
    else
        list_page(inf, NULL);
}

static void retry_later(struct p4_informer *inf)
{
    inf->backoff_ms = inf->backoff_ms ? inf->backoff_ms * 2 : BACKOFF_MIN_MS;
    if (inf->backoff_ms > BACKOFF_MAX_MS)
        inf->backoff_ms = BACKOFF_MAX_MS;
    (void)uv_timer_start(&inf->retry, on_retry, inf->backoff_ms, 0);
}

/* Replace the store with a finished list, telling handlers what changed. */
static void swap_in_list(struct p4_informer *inf)
{
    size_t pos = 0;
    const struct p4_strmap_entry *e;

    free_lent(inf); /* the store changes under what was lent */
    /* What cannot be parsed first: a cached object that became unreadable leaves the store
       without an on_delete, and one fixed meanwhile is then added below. */
    while ((e = p4_strmap_next(&inf->bad, &pos)) != NULL) {
        char key[KEY_MAX];

        if (p4_strmap_get(&inf->staging_bad, e->key) != NULL)
            continue;
        (void)snprintf(key, sizeof(key), "%s", e->key); /* deleting frees e->key */
        if (p4_strmap_get(&inf->staging, key) != NULL)
            bad_free(p4_strmap_del(&inf->bad, key)); /* fixed: added below */
        else
            drop_bad(inf, key); /* deleted meanwhile */
    }
    pos = 0;
    while ((e = p4_strmap_next(&inf->staging_bad, &pos)) != NULL)
        put_bad(inf, e->key, e->value);
    p4_strmap_close(&inf->staging_bad); /* values now belong to bad */
    p4_strmap_init(&inf->staging_bad);
    pos = 0;
    while ((e = p4_strmap_next(&inf->staging, &pos)) != NULL) {
        struct entry *old = p4_strmap_put(&inf->store, e->key, e->value);
        const struct entry *cur = e->value;
        if (old == NULL) {
            if (inf->h.on_add) {
                cJSON *obj = entry_object(cur);
                inf->h.on_add(e->key, obj, inf->h.data);
                cJSON_Delete(obj);
            }
        } else {
            if (inf->h.on_update &&
                (old->rv == NULL || cur->rv == NULL || strcmp(old->rv, cur->rv) != 0)) {
                cJSON *a = entry_object(old), *b = entry_object(cur);
                inf->h.on_update(e->key, a, b, inf->h.data);
                cJSON_Delete(a);
                cJSON_Delete(b);
            }
            entry_free(old);
        }
    }
    pos = 0;
    while ((e = p4_strmap_next(&inf->store, &pos)) != NULL) {
        if (p4_strmap_get(&inf->staging, e->key) == NULL) {
            char key[KEY_MAX];
            struct entry *gone;

            (void)snprintf(key, sizeof(key), "%s", e->key); /* deleting frees e->key */
            gone = p4_strmap_del(&inf->store, key);
            note_gone(inf, key);
            if (inf->h.on_delete) {
                cJSON *obj = entry_object(gone);
                inf->h.on_delete(key, obj, inf->h.data);
                cJSON_Delete(obj);
            }
            entry_free(gone);
        }
    }
    p4_strmap_close(&inf->staging); /* values now belong to the store */
    p4_strmap_init(&inf->staging);
}

/* A listed item: parsed into the list in progress, or kept as one that cannot be parsed. */
static void stage_item(struct p4_informer *inf, const char *buf, struct p4_jsonscan_span span,
                       const char *list_kind, const char *list_api, struct p4_strmap *staging,
                       struct p4_strmap *staging_bad)
{
    struct p4_error perr;
    cJSON *item;
    char key[KEY_MAX], kind[128];
    size_t klen = strlen(list_kind);
    struct p4_informer_unreadable *u;

    if (!keeps_noting(inf, buf + span.off, span.len))
        return;
    item = p4_informer_parse(buf + span.off, span.len, &perr);

    /* A built-in list's items carry no kind or apiVersion (a watch event's object does):
       give them the list's, so every object says what it is. */
    kind[0] = '\0';
    if (klen > 4 && klen < sizeof(kind) && strcmp(list_kind + klen - 4, "List") == 0)
        (void)snprintf(kind, sizeof(kind), "%.*s", (int)(klen - 4), list_kind);
    if (item == NULL) {
        u = read_bad(inf, buf + span.off, span.len, &perr, key, sizeof(key));
        if (u == NULL)
            return;
        if (!u->kind[0])
            p4_text_format(u->kind, sizeof(u->kind), "%s", kind);
        if (!u->api_version[0])
            p4_text_format(u->api_version, sizeof(u->api_version), "%s", list_api);
        bad_free(p4_strmap_put(staging_bad, key, u));
        entry_free(p4_strmap_del(staging, key));
        return;
    }
    if (p4_informer_key(item, key, sizeof(key)) != 0)
        goto out;
    if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(item, "kind")) && kind[0]) {
        cJSON_DeleteItemFromObjectCaseSensitive(item, "kind");
        p4_json_need(cJSON_AddStringToObject(item, "kind", kind));
        if (list_api[0] && !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(item, "apiVersion"))) {
            cJSON_DeleteItemFromObjectCaseSensitive(item, "apiVersion");
            p4_json_need(cJSON_AddStringToObject(item, "apiVersion", list_api));
        }
    }
    entry_free(p4_strmap_put(staging, key, entry_of(inf, item)));
    bad_free(p4_strmap_del(staging_bad, key));
out:
    cJSON_Delete(item);
}

/*
 * One page of a list, cut with the scanner and each item parsed alone, so that an item cJSON
 * cannot parse costs only itself. *cont and *rv (caller frees) get the list's metadata.
 */
static int read_page(struct p4_informer *inf, const char *buf, size_t len, char **cont, char **rv,
                     struct p4_error *err, struct p4_strmap *staging, struct p4_strmap *staging_bad)
{
    struct p4_jsonscan_span doc, k, v, items = {0, 0}, meta = {0, 0};
    struct p4_jsonscan_iter it;
    char list_kind[128] = "", list_api[128] = "";
    cJSON *md;
    int rc;

    *cont = *rv = NULL;
    if (p4_jsonscan_document(buf, len, &doc, NULL, err) != 0)
        return P4_ERR_PARSE;
    if (p4_jsonscan_begin(&it, buf, doc) != 0 || !it.object)
        return p4_error_set(err, P4_ERR_PARSE, "the list is not a JSON object");
    while ((rc = p4_jsonscan_next(&it, &k, &v, err)) == 1) {
        if (p4_jsonscan_string_eq(buf, k, "kind"))
            (void)p4_jsonscan_string(buf, v, list_kind, sizeof(list_kind));
        else if (p4_jsonscan_string_eq(buf, k, "apiVersion"))
            (void)p4_jsonscan_string(buf, v, list_api, sizeof(list_api));
        else if (p4_jsonscan_string_eq(buf, k, "metadata"))
            meta = v;
        else if (p4_jsonscan_string_eq(buf, k, "items"))
            items = v;
    }
    if (rc != 0)
        return rc;
    if (meta.len > 0) {
        md = p4_json_parse(buf + meta.off, meta.len, err);
        if (md == NULL)
            return p4_error_set(err, P4_ERR_PARSE, "the list's metadata cannot be parsed");
        *cont = p4_strdup_or_null(p4_json_str(md, "continue"));
        *rv = p4_strdup_or_null(p4_json_str(md, "resourceVersion"));
        cJSON_Delete(md);
    }
    if (items.len == 0 || buf[items.off] == 'n') /* absent or null: no items */
        return 0;
    if (p4_jsonscan_begin(&it, buf, items) != 0 || it.object)
        return p4_error_set(err, P4_ERR_PARSE, "the list's items are not an array");
    while ((rc = p4_jsonscan_next(&it, NULL, &v, err)) == 1)
        stage_item(inf, buf, v, list_kind, list_api, staging, staging_bad);
    return rc;
}

static void on_list(struct p4_kube_result *res, void *data)
{
    struct p4_informer *inf = data;
    struct p4_error err;
    char *cont = NULL, *rv = NULL;
    int rc;

    inf->list_in_flight = 0;
    if (inf->closing) {
        maybe_free(inf);
        return;
    }
    p4_error_clear(&err);
    rc = res->rc;
    if (rc == 0)
        rc = read_page(inf, res->raw, res->raw_len, &cont, &rv, &err, &inf->staging,
                       &inf->staging_bad);
    else
        err = res->err;
    if (rc != 0) {
        p4_log(P4_LOG_WARN, "list failed, retrying", "path", inf->path, "error", err.message,
               P4_LOG_END);
        free(cont);
        free(rv);
        drop_staging(inf);
        retry_later(inf);
        return;
    }
    if (cont && cont[0]) {
        list_page(inf, cont);
        free(cont);
        free(rv);
        return;
    }
    set_rv(inf, rv);
    free(cont);
    free(rv);
    swap_in_list(inf);
    inf->synced = 1;
    inf->stats.lists++;
    inf->backoff_ms = 0;
    start_watch(inf);
}

static void list_page(struct p4_informer *inf, const char *cont)
{
    char path[2048], esc[1024] = "";
    int rc;

    if (cont && p4_kube_escape(cont, esc, sizeof(esc)) != 0) {
        /* A continue token we cannot pass on: start the list again. */
        esc[0] = '\0';
        drop_staging(inf);
    }
    (void)snprintf(path, sizeof(path), "%s%climit=%d%s%s", inf->path,
                   strchr(inf->path, '?') ? '&' : '?', PAGE_SIZE, esc[0] ? "&continue=" : "", esc);
    rc = p4_kube_request_raw(inf->kube, "GET", path, NULL, NULL, 0, on_list, inf);
    if (rc == 0)
        inf->list_in_flight = 1;
    else
        retry_later(inf);
}

static void on_event(enum p4_watch_type type, cJSON *obj, void *data)
{
    struct p4_informer *inf = data;
    char key[KEY_MAX];
    struct entry *old;
    cJSON *prev;

    set_rv(inf, p4_json_str(obj, "metadata.resourceVersion"));
    inf->stats.events++;
    if (type == P4_WATCH_BOOKMARK || p4_informer_key(obj, key, sizeof(key)) != 0) {
        cJSON_Delete(obj);
        return;
    }
    /* What was lent for this key is stale now: a handler must see the new object. */
    cJSON_Delete(p4_strmap_del(&inf->lent, key));
    bad_free(p4_strmap_del(&inf->bad, key)); /* readable again (or deleted) */
    if (type == P4_WATCH_DELETED) {
        old = p4_strmap_del(&inf->store, key);
        note_gone(inf, key);
        /* Kept by namespace: one never cached (its namespace refused then) is not told. */
        if (inf->h.on_delete && (old != NULL || inf->h.keep_ns == NULL))
            inf->h.on_delete(key, obj, inf->h.data);
        entry_free(old);
        cJSON_Delete(obj);
        return;
    }
    old = p4_strmap_put(&inf->store, key, entry_of(inf, obj));
    if (old == NULL) {
        if (inf->h.on_add)
            inf->h.on_add(key, obj, inf->h.data);
    } else {
        if (inf->h.on_update) {
            prev = entry_object(old);
            inf->h.on_update(key, prev, obj, inf->h.data);
            cJSON_Delete(prev);
        }
        entry_free(old);
    }
    cJSON_Delete(obj);
}

/* A watch event whose object cJSON cannot parse. */
static void on_unreadable_event(enum p4_watch_type type, const char *object, size_t len,
                                const struct p4_error *why, void *data)
{
    struct p4_informer *inf = data;
    struct p4_informer_unreadable *u;
    struct p4_error err;
    char key[KEY_MAX];
    cJSON *obj;

    if (type == P4_WATCH_BOOKMARK) {
        inf->stats.events++;
        return;
    }
    obj = p4_informer_parse(object, len, &err);
    if (obj != NULL) { /* only its managedFields were too deep */
        on_event(type, obj, inf);
        return;
    }
    inf->stats.events++;
    u = read_bad(inf, object, len, why, key, sizeof(key));
    if (u == NULL)
        return;
    set_rv(inf, u->resource_version);
    if (type == P4_WATCH_DELETED) {
        cJSON_Delete(p4_strmap_del(&inf->lent, key));
        entry_free(p4_strmap_del(&inf->store, key));
        note_gone(inf, key);
        bad_free(p4_strmap_put(&inf->bad, key, u)); /* so that drop_bad tells on_delete */
        drop_bad(inf, key);
        return;
    }
    put_bad(inf, key, u);
}

static void on_watch_end(int rc, const struct p4_error *err, void *data)
{
    struct p4_informer *inf = data;

    inf->watch = NULL;
    if (inf->closing) {
        maybe_free(inf);
        return;
    }
    inf->stats.watch_restarts++;
    if (rc == 0) {
        start_watch(inf); /* the server's timeout: resume where we were */
    } else if (rc == P4_ERR_GONE) {
        p4_log(P4_LOG_INFO, "watch expired, relisting", "path", inf->path, P4_LOG_END);
        inf->stats.relists_gone++;
        free(inf->rv);
        inf->rv = NULL;
        inf->synced = 0;
        list_page(inf, NULL);
    } else {
        p4_log(P4_LOG_WARN, "watch ended, reconnecting", "path", inf->path, "error", err->message,
               P4_LOG_END);
        retry_later(inf);
    }
}

static bool watch_keeps(const char *object, size_t len, void *data)
{
    return keeps_noting(data, object, len);
}

static void start_watch(struct p4_informer *inf)
{
    /* A spread of server-side timeouts, so watches do not all restart at once. */
    long timeout = 300 + (long)(uv_hrtime() % 300);

    if (p4_kube_watch(inf->kube, inf->path, inf->rv, timeout, on_event, on_unreadable_event,
                      on_watch_end, inf, &inf->watch) != 0) {
        inf->watch = NULL;
        retry_later(inf);
        return;
    }
    if (inf->h.keep_ns)
        p4_kube_watch_keep(inf->watch, watch_keeps);
}

/* A collection path's resource: "/apis/g/v1/namespaces/x/jobs?labelSelector=..." → "jobs". */
static void resource_of(const char *path, char *out, size_t size)
{
    size_t end = strcspn(path, "?"), start = end;

    while (start > 0 && path[start - 1] != '/')
        start--;
    (void)p4_text_clean(out, size, path + start, end - start, P4_TEXT_ASCII | P4_TEXT_QUOTED);
}

struct p4_informer *p4_informer_new(uv_loop_t *loop, struct p4_kube *k, const char *path,
                                    const struct p4_informer_handlers *handlers)
{
    struct p4_informer *inf = p4_calloc(1, sizeof(*inf));

    inf->loop = loop;
    inf->kube = k;
    inf->path = p4_strdup(path);
    if (handlers)
        inf->h = *handlers;
    p4_strmap_init(&inf->store);
    p4_strmap_init(&inf->staging);
    p4_strmap_init(&inf->bad);
    p4_strmap_init(&inf->staging_bad);
    p4_strmap_init(&inf->lent);
    p4_strmap_init(&inf->gone);
    p4_strmap_init(&inf->refused);
    resource_of(path, inf->resource, sizeof(inf->resource));
    (void)uv_timer_init(loop, &inf->retry);
    inf->retry.data = inf;
    (void)uv_check_init(loop, &inf->reclaim); /* started by p4_informer_get */
    inf->reclaim.data = inf;
    uv_unref((uv_handle_t *)&inf->reclaim); /* it never keeps the loop alive by itself */
    return inf;
}

void p4_informer_start(struct p4_informer *inf)
{
    if (inf->started)
        return;
    inf->started = 1;
    list_page(inf, NULL);
}

void p4_informer_close(struct p4_informer *inf)
{
    if (inf == NULL || inf->closing)
        return;
    inf->closing = 1;
    (void)uv_timer_stop(&inf->retry);
    if (inf->watch)
        p4_kube_watch_cancel(inf->watch);
    maybe_free(inf);
}

const cJSON *p4_informer_get(struct p4_informer *inf, const char *key)
{
    const struct entry *e;
    cJSON *obj = p4_strmap_get(&inf->lent, key);

    if (obj != NULL)
        return obj;
    e = p4_strmap_get(&inf->store, key);
    if (e == NULL || (obj = entry_object(e)) == NULL)
        return NULL;
    /* The loop runs every active check at every turn: one per informer with nothing lent would
       make each turn cost as many informers as there are (one per namespace, per resource). */
    if (p4_strmap_len(&inf->lent) == 0 && !inf->closing)
        (void)uv_check_start(&inf->reclaim, on_reclaim);
    (void)p4_strmap_put(&inf->lent, key, obj);
    return obj;
}

/* Whether key ("ns/name") is in namespace ns (nlen bytes); NULL ns: every key is. */
static bool in_ns(const char *key, const char *ns, size_t nlen)
{
    return ns == NULL || (strncmp(key, ns, nlen) == 0 && key[nlen] == '/');
}

/* p4_informer_each, of namespace ns only (NULL: all); the others are not parsed. */
static size_t each_in(struct p4_informer *inf, const char *ns, p4_informer_each_fn fn, void *data)
{
    size_t pos = 0, n = 0, nlen = ns ? strlen(ns) : 0;
    const struct p4_strmap_entry *e;

    while ((e = p4_strmap_next(&inf->store, &pos)) != NULL) {
        cJSON *obj;
        int stop;
        if (!in_ns(e->key, ns, nlen) || (obj = entry_object(e->value)) == NULL)
            continue;
        n++;
        stop = fn(e->key, obj, data);
        cJSON_Delete(obj);
        if (stop)
            break;
    }
    return n;
}

size_t p4_informer_each(struct p4_informer *inf, p4_informer_each_fn fn, void *data)
{
    return each_in(inf, NULL, fn, data);
}

const struct p4_informer_unreadable *p4_informer_unreadable(const struct p4_informer *inf,
                                                            const char *key)
{
    return key != NULL ? p4_strmap_get(&inf->bad, key) : NULL;
}

int p4_informer_synced(const struct p4_informer *inf)
{
    return inf->synced;
}

size_t p4_informer_len(const struct p4_informer *inf)
{
    return p4_strmap_len(&inf->store);
}

void p4_informer_metrics(const struct p4_informer *inf, const char *what, struct p4_buf *out)
{
    p4_buf_printf(out,
                  "# HELP phase4_watch_restarts_total Watches restarted (timeouts, errors, 410).\n"
                  "# TYPE phase4_watch_restarts_total counter\n"
                  "phase4_watch_restarts_total %" PRIu64 "\n"
                  "# HELP phase4_relists_total Relists after 410 Gone.\n"
                  "# TYPE phase4_relists_total counter\n"
                  "phase4_relists_total %" PRIu64 "\n"
                  "# HELP phase4_cached_objects %s in the cache.\n"
                  "# TYPE phase4_cached_objects gauge\n"
                  "phase4_cached_objects %zu\n"
                  "# HELP phase4_informer_unparsable_total Objects the informer could not parse "
                  "and skipped (each version once).\n"
                  "# TYPE phase4_informer_unparsable_total counter\n"
                  "phase4_informer_unparsable_total{resource=\"%s\"} %" PRIu64 "\n"
                  "# HELP phase4_informer_unparsable_objects Objects skipped now because they "
                  "cannot be parsed.\n"
                  "# TYPE phase4_informer_unparsable_objects gauge\n"
                  "phase4_informer_unparsable_objects{resource=\"%s\"} %zu\n",
                  inf->stats.watch_restarts, inf->stats.relists_gone, what, p4_informer_len(inf),
                  inf->resource, inf->unparsable, inf->resource, p4_strmap_len(&inf->bad));
}

/* ---- a namespace's objects, filled in or forgotten (keep_ns) ---- */

static void fill_free(struct fill *f)
{
    free_values(&f->items);
    free_bad(&f->bad);
    free(f->ns);
    free(f->path);
    free(f);
}

static int fill_page(struct fill *f, const char *cont);

/* A fill's list is complete: what is not cached yet (nor deleted meanwhile) is added. */
static void fill_merge(struct fill *f)
{
    struct p4_informer *inf = f->inf;
    size_t pos = 0;
    const struct p4_strmap_entry *e;

    while ((e = p4_strmap_next(&f->items, &pos)) != NULL) {
        struct entry *cur = e->value;
        cJSON *obj;
        if (p4_strmap_get(&inf->store, e->key) != NULL ||
            p4_strmap_get(&inf->bad, e->key) != NULL || p4_strmap_get(&inf->gone, e->key) != NULL) {
            entry_free(cur);
            continue;
        }
        /* A list in progress may have refused it in a page read before: it keeps it too. */
        if (inf->list_in_flight && p4_strmap_get(&inf->staging, e->key) == NULL) {
            (void)p4_strmap_put(&inf->staging, e->key, entry_copy(cur));
        }
        (void)p4_strmap_put(&inf->store, e->key, cur);
        if (inf->h.on_add && (obj = entry_object(cur)) != NULL) {
            inf->h.on_add(e->key, obj, inf->h.data);
            cJSON_Delete(obj);
        }
    }
    p4_strmap_close(&f->items); /* values now belong to the store */
    p4_strmap_init(&f->items);
}

static void on_fill(struct p4_kube_result *res, void *data)
{
    struct fill *f = data;
    struct p4_informer *inf = f->inf;
    struct p4_error err;
    char *cont = NULL, *rv = NULL;
    int rc = res->rc;

    p4_error_clear(&err);
    if (!inf->closing && rc == 0)
        rc = read_page(inf, res->raw, res->raw_len, &cont, &rv, &err, &f->items, &f->bad);
    free(rv);
    if (!inf->closing && rc == 0 && cont && cont[0] && fill_page(f, cont) == 0) {
        free(cont);
        return; /* the next page's answer goes on */
    }
    free(cont);
    if (!inf->closing) {
        if (rc == 0)
            fill_merge(f);
        else
            p4_log(P4_LOG_WARN, "listing a namespace failed", "path", f->path, "error",
                   rc == res->rc ? res->err.message : err.message, P4_LOG_END);
    }
    if (--inf->fills == 0) {
        p4_strmap_close(&inf->gone);
        p4_strmap_init(&inf->gone);
    }
    if (!inf->closing && f->done)
        f->done(f->data, f->ns, rc);
    fill_free(f);
    maybe_free(inf);
}

static int fill_page(struct fill *f, const char *cont)
{
    char path[2048], esc[1024] = "";

    if (cont && p4_kube_escape(cont, esc, sizeof(esc)) != 0)
        return P4_ERR_TOOBIG;
    (void)snprintf(path, sizeof(path), "%s%climit=%d%s%s", f->path,
                   strchr(f->path, '?') ? '&' : '?', PAGE_SIZE, esc[0] ? "&continue=" : "", esc);
    return p4_kube_request_raw(f->inf->kube, "GET", path, NULL, NULL, 0, on_fill, f);
}

int p4_informer_fill_ns(struct p4_informer *inf, const char *ns, p4_informer_fill_cb done,
                        void *data)
{
    size_t end = strcspn(inf->path, "?"), start = end;
    char ens[256], path[1536];
    struct fill *f;
    int n, rc;

    while (start > 0 && inf->path[start - 1] != '/')
        start--;
    if (inf->closing || ns == NULL || ns[0] == '\0' || p4_kube_escape(ns, ens, sizeof(ens)) != 0)
        return P4_ERR_INVAL;
    /* Synced, no list going on, and nothing of ns ever refused or forgotten: every object of
       ns the API server has shown is cached, so a list would bring nothing (an object it shows
       later is kept, ns being targeted now). */
    if (inf->synced && !inf->list_in_flight && p4_strmap_get(&inf->refused, ns) == NULL)
        return P4_INFORMER_FILLED;
    n = snprintf(path, sizeof(path), "%.*snamespaces/%s/%s", (int)start, inf->path, ens,
                 inf->path + start);
    if (n < 0 || (size_t)n >= sizeof(path))
        return P4_ERR_TOOBIG;
    f = p4_calloc(1, sizeof(*f));
    f->inf = inf;
    f->ns = p4_strdup(ns);
    f->path = p4_strdup(path);
    f->done = done;
    f->data = data;
    p4_strmap_init(&f->items);
    p4_strmap_init(&f->bad);
    rc = fill_page(f, NULL);
    if (rc != 0) {
        fill_free(f);
        return rc;
    }
    inf->fills++;
    return 0;
}

/* Drop the entries of namespace ns from m (entries, or unreadable records when bad); whether
   there were any. */
static bool forget_in(struct p4_strmap *m, const char *ns, bool bad)
{
    size_t pos = 0, nlen = strlen(ns);
    const struct p4_strmap_entry *e;
    bool any = false;

    while ((e = p4_strmap_next(m, &pos)) != NULL) {
        char key[KEY_MAX];
        void *v;
        if (!in_ns(e->key, ns, nlen))
            continue;
        (void)snprintf(key, sizeof(key), "%s", e->key); /* deleting frees e->key */
        v = p4_strmap_del(m, key);
        if (bad)
            bad_free(v);
        else
            entry_free(v);
        any = true;
    }
    return any;
}

void p4_informer_forget_ns(struct p4_informer *inf, const char *ns)
{
    bool any;

    free_lent(inf);
    any = forget_in(&inf->store, ns, false);
    any = forget_in(&inf->staging, ns, false) || any;
    any = forget_in(&inf->bad, ns, true) || any;
    any = forget_in(&inf->staging_bad, ns, true) || any;
    if (any)
        note_refused(inf, ns);
}

size_t p4_informer_each_in(struct p4_informer *inf, const char *ns, p4_informer_each_fn fn,
                           void *data)
{
    return each_in(inf, ns, fn, data);
}
