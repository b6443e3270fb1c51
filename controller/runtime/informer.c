/* informer.c: list+watch cache (see informer.h). */
#include "phase4/runtime/informer.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/core/alloc.h"
#include "phase4/core/json.h"
#include "phase4/core/log.h"
#include "phase4/core/strmap.h"

#define PAGE_SIZE 500
#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 30000
#define KEY_MAX 512

struct p4_informer {
    uv_loop_t *loop;
    struct p4_kube *kube;
    char *path;
    struct p4_informer_handlers h;
    struct p4_strmap store;   /* key → struct entry (owned) */
    struct p4_strmap staging; /* a list in progress */
    struct p4_strmap lent;    /* key → cJSON* parsed by p4_informer_get this loop turn */
    uv_check_t reclaim;       /* frees what was lent, after the turn's callbacks */
    char *rv;                 /* resourceVersion to watch from */
    struct p4_kube_watch *watch;
    uv_timer_t retry;
    uint64_t backoff_ms;
    int synced;
    int started;
    int closing;
    int list_in_flight;
    struct p4_informer_stats stats;
};

/*
 * A cached object is kept as compact JSON text (a cJSON tree costs about
 * five times as much) and parsed when asked for.
 */
struct entry {
    char *rv;   /* metadata.resourceVersion, or NULL */
    char *text; /* the compacted object */
};

static void list_page(struct p4_informer *inf, const char *cont);
static void start_watch(struct p4_informer *inf);

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

    compact(obj);
    if (inf->h.transform)
        inf->h.transform(obj, inf->h.data);
    rv = p4_json_str(obj, "metadata.resourceVersion");
    e->rv = p4_strdup_or_null(rv);
    e->text = p4_json_print(obj);
    if (e->text == NULL)
        e->text = p4_strdup("{}");
    return e;
}

static void entry_free(struct entry *e)
{
    if (e) {
        free(e->rv);
        free(e->text);
        free(e);
    }
}

/* The object an entry holds, parsed (caller deletes). */
static cJSON *entry_object(const struct entry *e)
{
    return e ? cJSON_Parse(e->text) : NULL;
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

/* Free the trees p4_informer_get lent out during this loop turn. */
static void free_lent(struct p4_informer *inf)
{
    size_t pos = 0;
    const struct p4_strmap_entry *e;

    if (p4_strmap_len(&inf->lent) == 0)
        return;
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
    if (!inf->closing || inf->list_in_flight || inf->watch)
        return;
    free_values(&inf->store);
    free_values(&inf->staging);
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
            struct entry *gone = p4_strmap_del(&inf->store, e->key);
            if (inf->h.on_delete) {
                cJSON *obj = entry_object(gone);
                inf->h.on_delete(e->key, obj, inf->h.data);
                cJSON_Delete(obj);
            }
            entry_free(gone);
        }
    }
    p4_strmap_close(&inf->staging); /* values now belong to the store */
    p4_strmap_init(&inf->staging);
}

static void on_list(struct p4_kube_result *res, void *data)
{
    struct p4_informer *inf = data;
    cJSON *items, *item;
    const char *cont, *list_kind, *list_api;
    char key[KEY_MAX], kind[128];

    inf->list_in_flight = 0;
    if (inf->closing) {
        maybe_free(inf);
        return;
    }
    if (res->rc != 0) {
        p4_log(P4_LOG_WARN, "list failed, retrying", "path", inf->path, "error", res->err.message,
               P4_LOG_END);
        free_values(&inf->staging);
        p4_strmap_init(&inf->staging);
        retry_later(inf);
        return;
    }
    items = cJSON_GetObjectItemCaseSensitive(res->body, "items");
    list_kind = p4_json_str(res->body, "kind");
    list_api = p4_json_str(res->body, "apiVersion");
    cJSON_ArrayForEach(item, items) {
        if (p4_informer_key(item, key, sizeof(key)) != 0)
            continue;
        /* A built-in list's items carry no kind or apiVersion (a watch event's object does):
           give them the list's, so every cached object says what it is. */
        if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(item, "kind")) && list_kind &&
            strlen(list_kind) > 4 && strlen(list_kind) < sizeof(kind) &&
            strcmp(list_kind + strlen(list_kind) - 4, "List") == 0) {
            (void)snprintf(kind, sizeof(kind), "%.*s", (int)(strlen(list_kind) - 4), list_kind);
            cJSON_DeleteItemFromObjectCaseSensitive(item, "kind");
            p4_json_need(cJSON_AddStringToObject(item, "kind", kind));
            if (list_api && !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(item, "apiVersion"))) {
                cJSON_DeleteItemFromObjectCaseSensitive(item, "apiVersion");
                p4_json_need(cJSON_AddStringToObject(item, "apiVersion", list_api));
            }
        }
        entry_free(p4_strmap_put(&inf->staging, key, entry_of(inf, item)));
    }
    cont = p4_json_str(res->body, "metadata.continue");
    if (cont && cont[0]) {
        char *c = p4_strdup(cont);
        list_page(inf, c);
        free(c);
        return;
    }
    set_rv(inf, p4_json_str(res->body, "metadata.resourceVersion"));
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
        free_values(&inf->staging);
        p4_strmap_init(&inf->staging);
    }
    (void)snprintf(path, sizeof(path), "%s%climit=%d%s%s", inf->path,
                   strchr(inf->path, '?') ? '&' : '?', PAGE_SIZE, esc[0] ? "&continue=" : "", esc);
    rc = p4_kube_request(inf->kube, "GET", path, NULL, NULL, 0, on_list, inf);
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
    if (type == P4_WATCH_DELETED) {
        old = p4_strmap_del(&inf->store, key);
        if (inf->h.on_delete)
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

static void start_watch(struct p4_informer *inf)
{
    /* A spread of server-side timeouts, so watches do not all restart at once. */
    long timeout = 300 + (long)(uv_hrtime() % 300);

    if (p4_kube_watch(inf->kube, inf->path, inf->rv, timeout, on_event, NULL, on_watch_end, inf,
                      &inf->watch) != 0) {
        inf->watch = NULL;
        retry_later(inf);
    }
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
    p4_strmap_init(&inf->lent);
    (void)uv_timer_init(loop, &inf->retry);
    inf->retry.data = inf;
    (void)uv_check_init(loop, &inf->reclaim);
    inf->reclaim.data = inf;
    (void)uv_check_start(&inf->reclaim, on_reclaim);
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
    (void)p4_strmap_put(&inf->lent, key, obj);
    return obj;
}

size_t p4_informer_each(struct p4_informer *inf, p4_informer_each_fn fn, void *data)
{
    size_t pos = 0, n = 0;
    const struct p4_strmap_entry *e;

    while ((e = p4_strmap_next(&inf->store, &pos)) != NULL) {
        cJSON *obj = entry_object(e->value);
        int stop;
        if (obj == NULL)
            continue;
        n++;
        stop = fn(e->key, obj, data);
        cJSON_Delete(obj);
        if (stop)
            break;
    }
    return n;
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
                  "phase4_cached_objects %zu\n",
                  inf->stats.watch_restarts, inf->stats.relists_gone, what, p4_informer_len(inf));
}
