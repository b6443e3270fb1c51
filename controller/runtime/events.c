/* events.c: deduplicated core/v1 Events (see events.h). */
#include "phase4/runtime/events.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "phase4/core/alloc.h"
#include "phase4/core/json.h"
#include "phase4/core/log.h"
#include "phase4/core/strmap.h"
#include "phase4/core/timefmt.h"

#define SERIES_WINDOW_SECONDS 600
#define SERIES_MAX 4096

struct series {
    char *name; /* the Event's name, once created */
    char *ns;
    int count;
    time_t last;
    int pending; /* a create is in flight */
};

struct p4_events {
    struct p4_kube *kube;
    char *instance;
    struct p4_strmap series; /* uid|type|reason|message → struct series */
    uint64_t sent;
};

struct p4_events *p4_events_new(struct p4_kube *k, const char *instance)
{
    struct p4_events *ev = p4_calloc(1, sizeof(*ev));

    ev->kube = k;
    ev->instance = p4_strdup(instance ? instance : "phase4-operator");
    p4_strmap_init(&ev->series);
    return ev;
}

static void free_series(struct series *s)
{
    if (s == NULL)
        return;
    free(s->name);
    free(s->ns);
    free(s);
}

static void clear_series(struct p4_events *ev)
{
    size_t pos = 0;
    const struct p4_strmap_entry *e;

    while ((e = p4_strmap_next(&ev->series, &pos)) != NULL)
        free_series(e->value);
    p4_strmap_close(&ev->series);
    p4_strmap_init(&ev->series);
}

void p4_events_free(struct p4_events *ev)
{
    if (ev == NULL)
        return;
    clear_series(ev);
    free(ev->instance);
    free(ev);
}

uint64_t p4_events_sent(const struct p4_events *ev)
{
    return ev->sent;
}

void p4_events_metrics(const struct p4_events *ev, struct p4_buf *out)
{
    p4_buf_printf(out,
                  "# HELP phase4_events_total Events recorded.\n"
                  "# TYPE phase4_events_total counter\n"
                  "phase4_events_total %" PRIu64 "\n",
                  p4_events_sent(ev));
}

struct emit_ctx {
    struct p4_events *ev;
    char *key;
};

/* The Event's namespace is being deleted, or is gone already. */
static bool namespace_going(int rc, const struct p4_apistatus *st)
{
    if (st && rc == P4_ERR_NOTFOUND && st->kind && strcmp(st->kind, "namespaces") == 0)
        return true;
    for (size_t i = 0; st && i < st->causes_len; i++) {
        if (st->causes[i].type && strcmp(st->causes[i].type, "NamespaceTerminating") == 0)
            return true;
    }
    return false;
}

static void on_created(struct p4_kube_result *res, void *data)
{
    struct emit_ctx *ctx = data;
    struct series *s;

    if (res->rc == P4_ERR_CANCELED)
        goto out;
    s = p4_strmap_get(&ctx->ev->series, ctx->key);
    if (res->rc != 0) {
        /* A namespace being deleted (or gone) takes no new Events: expected, not worth a
           warning. */
        p4_log(namespace_going(res->rc, res->st) ? P4_LOG_DEBUG : P4_LOG_WARN,
               "cannot record an Event", "error", res->err.message, P4_LOG_END);
        free_series(p4_strmap_del(&ctx->ev->series, ctx->key));
        goto out;
    }
    ctx->ev->sent++;
    if (s) {
        const char *name = p4_json_str(res->body, "metadata.name");
        s->pending = 0;
        free(s->name);
        s->name = p4_strdup_or_null(name);
    }
out:
    free(ctx->key);
    free(ctx);
}

static void on_patched(struct p4_kube_result *res, void *data)
{
    struct emit_ctx *ctx = data;

    if (res->rc == 0)
        ctx->ev->sent++;
    else if (res->rc != P4_ERR_CANCELED)
        p4_log(P4_LOG_WARN, "cannot update an Event", "error", res->err.message, P4_LOG_END);
    free(ctx->key);
    free(ctx);
}

void p4_events_emit(struct p4_events *ev, const cJSON *obj, const char *type, const char *reason,
                    const char *message)
{
    const char *ns = p4_json_str(obj, "metadata.namespace");
    const char *name = p4_json_str(obj, "metadata.name");
    const char *uid = p4_json_str(obj, "metadata.uid");
    char *key, ts[32], path[512], ens[256];
    size_t klen;
    time_t now = time(NULL);
    struct series *s;
    struct emit_ctx *ctx;
    cJSON *e, *io;
    char *body;

    if (ns == NULL || name == NULL || uid == NULL || p4_kube_escape(ns, ens, sizeof(ens)) != 0)
        return;
    klen = strlen(uid) + strlen(type) + strlen(reason) + strlen(message) + 4;
    key = p4_malloc(klen);
    (void)snprintf(key, klen, "%s|%s|%s|%s", uid, type, reason, message);
    p4_timefmt_format(now, ts, sizeof(ts));
    ctx = p4_calloc(1, sizeof(*ctx));
    ctx->ev = ev;
    ctx->key = key;

    s = p4_strmap_get(&ev->series, key);
    if (s && (s->pending || now - s->last > SERIES_WINDOW_SECONDS || s->name == NULL)) {
        if (s->pending) { /* still being created: the next repeat sends the full count */
            s->count++;
            free(key);
            free(ctx);
            return;
        }
        free_series(p4_strmap_del(&ev->series, key));
        s = NULL;
    }
    if (s) {
        char patch[256];
        s->count++;
        s->last = now;
        (void)snprintf(path, sizeof(path), "/api/v1/namespaces/%s/events/%s", ens, s->name);
        (void)snprintf(patch, sizeof(patch), "{\"count\":%d,\"lastTimestamp\":\"%s\"}", s->count,
                       ts);
        if (p4_kube_request(ev->kube, "PATCH", path, "application/merge-patch+json", patch,
                            strlen(patch), on_patched, ctx) != 0) {
            free(key);
            free(ctx);
        }
        return;
    }
    if (p4_strmap_len(&ev->series) >= SERIES_MAX)
        clear_series(ev);
    s = p4_calloc(1, sizeof(*s));
    s->count = 1;
    s->last = now;
    s->pending = 1;
    s->ns = p4_strdup(ns);
    p4_strmap_put(&ev->series, key, s);

    e = cJSON_CreateObject();
    cJSON *meta = cJSON_AddObjectToObject(e, "metadata");
    char gen[300];
    (void)snprintf(gen, sizeof(gen), "%s.", name);
    cJSON_AddStringToObject(meta, "generateName", gen);
    cJSON_AddStringToObject(meta, "namespace", ns);
    io = cJSON_AddObjectToObject(e, "involvedObject");
    cJSON_AddStringToObject(io, "apiVersion",
                            p4_json_str(obj, "apiVersion") ? p4_json_str(obj, "apiVersion") : "");
    cJSON_AddStringToObject(io, "kind", p4_json_str(obj, "kind") ? p4_json_str(obj, "kind") : "");
    cJSON_AddStringToObject(io, "namespace", ns);
    cJSON_AddStringToObject(io, "name", name);
    cJSON_AddStringToObject(io, "uid", uid);
    if (p4_json_str(obj, "metadata.resourceVersion"))
        cJSON_AddStringToObject(io, "resourceVersion",
                                p4_json_str(obj, "metadata.resourceVersion"));
    cJSON_AddStringToObject(e, "type", type);
    cJSON_AddStringToObject(e, "reason", reason);
    cJSON_AddStringToObject(e, "message", message);
    cJSON_AddNumberToObject(e, "count", 1);
    cJSON_AddStringToObject(e, "firstTimestamp", ts);
    cJSON_AddStringToObject(e, "lastTimestamp", ts);
    cJSON *src = cJSON_AddObjectToObject(e, "source");
    cJSON_AddStringToObject(src, "component", "phase4-operator");
    cJSON_AddStringToObject(e, "reportingComponent", "phase4.io/phase4-operator");
    cJSON_AddStringToObject(e, "reportingInstance", ev->instance);
    body = p4_json_print(e);
    cJSON_Delete(e);
    (void)snprintf(path, sizeof(path), "/api/v1/namespaces/%s/events", ens);
    if (p4_kube_request(ev->kube, "POST", path, NULL, body, strlen(body), on_created, ctx) != 0) {
        free_series(p4_strmap_del(&ev->series, key));
        free(key);
        free(ctx);
    }
    free(body);
}
