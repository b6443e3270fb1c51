/*
 * informer.h: a list+watch cache of one kind of object (controller runtime).
 *
 * It lists the collection (paginated), then watches from the list's
 * resourceVersion with bookmarks, resumes after the server closes the watch,
 * relists on 410 Gone (calling handlers for what changed in between, so
 * nothing is missed), and reconnects with backoff after errors. Cached
 * objects are compacted: metadata.managedFields and the
 * kubectl.kubernetes.io/last-applied-configuration annotation are dropped,
 * and each is kept as compact JSON text (about a fifth of a cJSON tree's
 * memory), parsed when p4_informer_get asks for it.
 *
 * Handlers get borrowed objects, valid during the call; an object from
 * p4_informer_get is borrowed until the loop turn's callbacks are over (or
 * the informer sees that object change): use it within the callback.
 *
 * One bad object is one bad object: a list is cut into items with jsonscan.h
 * and each item parsed on its own, as is each watch event's object. An object
 * cJSON cannot parse (nested deeper than its 1000 levels, invalid, over the
 * size limit) is not cached: what can be read of it shallowly (namespace,
 * name, uid, resourceVersion, generation, its status) is kept instead, the
 * on_unreadable handler is told once per version, with a warn log line and
 * phase4_informer_unparsable_total, and the cache still syncs. When it is
 * fixed it is added as any object; when it is deleted, on_delete gets an
 * object holding only that metadata, and nothing of it is kept.
 */
#ifndef PHASE4_INFORMER_H
#define PHASE4_INFORMER_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "phase4/core/buf.h"
#include "phase4/kube/client.h"

struct p4_informer;

/*
 * What the informer read of an object it cannot parse. A member that could not be read is "".
 */
struct p4_informer_unreadable {
    char ns[64];
    char name[254];
    char uid[64];
    char resource_version[64];
    char api_version[128];
    char kind[64];
    bool has_generation;
    int64_t generation;
    char why[256]; /* a phrase, e.g. "spec.chart.values nests deeper than 1000 levels" */
    char *status;  /* owned: the object's status as compact JSON when it parses alone, or NULL */
};

struct p4_informer_handlers {
    void (*on_add)(const char *key, const cJSON *obj, void *data);
    void (*on_update)(const char *key, const cJSON *old, const cJSON *cur, void *data);
    void (*on_delete)(const char *key, const cJSON *obj, void *data);
    void *data;
    /*
     * Optional: drop what the caller never reads from an object before it is
     * cached (as client-go's SetTransform). It runs on every listed or watched
     * object, which the handlers then see as transformed; it must keep
     * metadata.name, namespace and resourceVersion.
     */
    void (*transform)(cJSON *obj, void *data);
    /*
     * Optional: an object that cannot be parsed was listed or watched (once per version;
     * u is borrowed for the call). The key's cached object, if any, is gone from the cache.
     */
    void (*on_unreadable)(const char *key, const struct p4_informer_unreadable *u, void *data);
    /*
     * Optional: keep only the objects of the namespaces it accepts. It is asked with an
     * object's metadata.namespace ("" when it has none), read from the object's bytes before
     * anything is parsed (jsonscan.h), for every listed item and watch event; what it refuses
     * costs that scan and nothing else. A DELETED event of an object not cached is then not
     * told. A namespace accepted later has none of its objects cached until
     * p4_informer_fill_ns; one refused later keeps them until p4_informer_forget_ns.
     */
    bool (*keep_ns)(const char *ns, void *data);
};

struct p4_informer_stats {
    uint64_t lists;          /* complete lists (first sync and relists) */
    uint64_t watch_restarts; /* watches started after the first */
    uint64_t relists_gone;   /* relists caused by 410 Gone */
    uint64_t events;
};

/*
 * path: a collection, e.g. "/apis/phase4.io/v1alpha1/phase4deployments", which may
 * end in a selector query ("/apis/batch/v1/jobs?labelSelector=..."); copied. k is
 * borrowed.
 */
struct p4_informer *p4_informer_new(uv_loop_t *loop, struct p4_kube *k, const char *path,
                                    const struct p4_informer_handlers *handlers);
void p4_informer_start(struct p4_informer *inf);
/* Stop; frees itself once its requests have ended (they end when the kube client closes). */
void p4_informer_close(struct p4_informer *inf);
/* key: "namespace/name" or "name" for cluster-scoped objects. */
const cJSON *p4_informer_get(struct p4_informer *inf, const char *key);
/*
 * Call fn for every cached object (parsed for the call, freed after it; it must not change the
 * cache) until it returns non-zero. Returns how many objects fn saw. O(cache) parses: for a
 * namespace's pods, not for a cluster's.
 */
typedef int (*p4_informer_each_fn)(const char *key, const cJSON *obj, void *data);
size_t p4_informer_each(struct p4_informer *inf, p4_informer_each_fn fn, void *data);
/*
 * What is known of the object at key when it cannot be parsed, or NULL (it is cached, or
 * absent). Borrowed until the informer next changes: use it within the callback.
 */
const struct p4_informer_unreadable *p4_informer_unreadable(const struct p4_informer *inf,
                                                            const char *key);
/*
 * Parse one object as the informer does (pure; for its tests): whole, or, when cJSON refuses
 * it, once more without metadata.managedFields, which the cache drops anyway and which nests a
 * few levels deeper than the fields it lists. Returns the tree (caller frees) or NULL with err
 * saying why the whole object was refused.
 */
cJSON *p4_informer_parse(const char *buf, size_t len, struct p4_error *err);
/*
 * Read what can be read of an object cJSON refused: buf holds its len bytes, parse_err says
 * why cJSON refused it. Pure: for the informer and its tests. Fills *u (u->status is the
 * caller's to free) and returns 0, or P4_ERR_INVAL when not even its name can be read.
 */
int p4_informer_read_unreadable(const char *buf, size_t len, const struct p4_error *parse_err,
                                struct p4_informer_unreadable *u);
/* Free what u owns (its status); u itself is the caller's. */
void p4_informer_unreadable_close(struct p4_informer_unreadable *u);
/*
 * With keep_ns: list namespace ns's objects (the informer's path, in ns) and cache those not
 * cached yet (on_add told), but any deleted meanwhile; then done(data, ns, rc) with rc 0 or
 * the list's P4_ERR_* (not called when the informer is closed first). Objects that cannot be
 * parsed are left for the watch. Returns 0, or the P4_ERR_* of sending the request (done is
 * then not called), or P4_INFORMER_FILLED without a request (done not called) when the cache
 * already holds all of ns: synced, no list in progress, and no object of ns ever refused by
 * keep_ns or dropped by p4_informer_forget_ns (the common case of a namespace targeted before
 * anything was made in it).
 */
#define P4_INFORMER_FILLED 1
typedef void (*p4_informer_fill_cb)(void *data, const char *ns, int rc);
int p4_informer_fill_ns(struct p4_informer *inf, const char *ns, p4_informer_fill_cb done,
                        void *data);
/* Drop namespace ns's cached objects, no handler told (keep_ns refuses them now). */
void p4_informer_forget_ns(struct p4_informer *inf, const char *ns);
/* As p4_informer_each, for namespace ns's objects only (the others are not parsed). */
size_t p4_informer_each_in(struct p4_informer *inf, const char *ns, p4_informer_each_fn fn,
                           void *data);
/*
 * With keep_ns: whether an object's bytes (buf, len: one JSON value, as jsonscan.h cuts a list
 * item or a watch event's object) are of a namespace keep_ns accepts (exposed for tests; pure
 * but for keep_ns). A value that is not an object is kept: the parser then says what is wrong.
 */
bool p4_informer_keeps(const struct p4_informer *inf, const char *buf, size_t len);
int p4_informer_synced(const struct p4_informer *inf);
size_t p4_informer_len(const struct p4_informer *inf);
/*
 * Append phase4_watch_restarts_total, phase4_relists_total,
 * phase4_cached_objects, phase4_informer_unparsable_total and
 * phase4_informer_unparsable_objects of inf to out; what names the cached
 * objects in the help text ("Phase4Deployments"). Only the last two carry a
 * label telling informers apart (resource="phase4deployments"): write them
 * for one informer, the reconciled kind's.
 */
void p4_informer_metrics(const struct p4_informer *inf, const char *what, struct p4_buf *out);
/* Write the cache key of obj into buf; returns 0 or P4_ERR_INVAL (no name) / P4_ERR_TOOBIG. */
int p4_informer_key(const cJSON *obj, char *buf, size_t size);

#endif
