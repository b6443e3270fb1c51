/* discovery.c: kind → resource from aggregated discovery (see discovery.h). */
#include "phase4/kube/discovery.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/core/alloc.h"
#include "phase4/core/json.h"
#include "phase4/core/log.h"
#include "phase4/core/strmap.h"

#define ACCEPT_AGGREGATED                                                                          \
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"                        \
    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"
#define KEY_MAX 512

struct entry {
    struct p4_resource_info info;
    char *group, *version, *kind, *resource;
};

struct waiter {
    char *api_version, *kind;
    p4_discovery_cb cb;
    void *data;
    struct waiter *next;
};

struct p4_discovery {
    struct p4_kube *kube;
    uv_loop_t *loop;
    struct p4_strmap table;   /* "group/version/Kind" → struct entry */
    struct p4_strmap staging; /* a refresh in progress */
    struct waiter *waiters;   /* answered after the running refresh, or on the next turn */
    int refreshing;           /* requests of the refresh still in flight */
    int refresh_rc;
    struct p4_error refresh_err;
    uint64_t last_refresh;
    int refreshed_once;
    uv_timer_t defer;
    int closing;
};

static void free_table(struct p4_strmap *m)
{
    size_t pos = 0;
    const struct p4_strmap_entry *e;

    while ((e = p4_strmap_next(m, &pos)) != NULL) {
        struct entry *en = e->value;
        free(en->group);
        free(en->version);
        free(en->kind);
        free(en->resource);
        free(en);
    }
    p4_strmap_close(m);
    p4_strmap_init(m);
}

/* "apps/v1" → group "apps", version "v1"; "v1" → "", "v1". */
static int split_api_version(const char *api_version, char *group, size_t gsize,
                             const char **version)
{
    const char *slash = strchr(api_version, '/');
    size_t n = slash ? (size_t)(slash - api_version) : 0;

    if (n >= gsize)
        return P4_ERR_INVAL;
    memcpy(group, api_version, n);
    group[n] = '\0';
    *version = slash ? slash + 1 : api_version;
    return (*version)[0] ? 0 : P4_ERR_INVAL;
}

static int make_key(char *buf, size_t size, const char *group, const char *version,
                    const char *kind)
{
    int n = snprintf(buf, size, "%s/%s/%s", group, version, kind);

    return n < 0 || (size_t)n >= size ? P4_ERR_TOOBIG : 0;
}

static int load_into(struct p4_strmap *m, const cJSON *list, struct p4_error *err)
{
    const cJSON *group, *version, *res;
    const char *kind = p4_json_str(list, "kind");
    char key[KEY_MAX];

    if (kind == NULL || strcmp(kind, "APIGroupDiscoveryList") != 0)
        return p4_error_set(err, P4_ERR_PARSE,
                            "the API server did not answer with aggregated discovery (got \"%s\"); "
                            "Kubernetes 1.30 or newer is needed",
                            kind ? kind : "no kind");
    cJSON_ArrayForEach(group, p4_json_get(list, "items")) {
        const char *gname = p4_json_str(group, "metadata.name");
        if (gname == NULL)
            gname = ""; /* the core group has no name */
        cJSON_ArrayForEach(version, p4_json_get(group, "versions")) {
            const char *v = p4_json_str(version, "version");
            if (v == NULL)
                continue;
            cJSON_ArrayForEach(res, p4_json_get(version, "resources")) {
                const char *plural = p4_json_str(res, "resource");
                const char *k = p4_json_str(res, "responseKind.kind");
                const char *scope = p4_json_str(res, "scope");
                struct entry *en;
                if (plural == NULL || k == NULL || k[0] == '\0' ||
                    make_key(key, sizeof(key), gname, v, k) != 0)
                    continue;
                en = p4_calloc(1, sizeof(*en));
                en->group = p4_strdup(gname);
                en->version = p4_strdup(v);
                en->kind = p4_strdup(k);
                en->resource = p4_strdup(plural);
                en->info = (struct p4_resource_info){en->group, en->version, en->kind, en->resource,
                                                     scope && strcmp(scope, "Namespaced") == 0};
                en = p4_strmap_put(m, key, en);
                if (en) { /* the same kind served twice: keep the newer */
                    free(en->group);
                    free(en->version);
                    free(en->kind);
                    free(en->resource);
                    free(en);
                }
            }
        }
    }
    return 0;
}

int p4_discovery_load(struct p4_discovery *d, const cJSON *list, struct p4_error *err)
{
    return load_into(&d->table, list, err);
}

size_t p4_discovery_len(const struct p4_discovery *d)
{
    return p4_strmap_len(&d->table);
}

const struct p4_resource_info *p4_discovery_find(const struct p4_discovery *d,
                                                 const char *api_version, const char *kind)
{
    char group[256], key[KEY_MAX];
    const char *version;
    struct entry *en;

    if (api_version == NULL || kind == NULL ||
        split_api_version(api_version, group, sizeof(group), &version) != 0 ||
        make_key(key, sizeof(key), group, version, kind) != 0)
        return NULL;
    en = p4_strmap_get(&d->table, key);
    return en ? &en->info : NULL;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

char *p4_discovery_api_versions(const struct p4_discovery *d)
{
    size_t n = 0, pos = 0, len = 1;
    const struct p4_strmap_entry *e;
    char **list = p4_calloc(p4_strmap_len(&d->table) + 1, sizeof(*list));
    char *out, *p;

    while ((e = p4_strmap_next(&d->table, &pos)) != NULL) {
        const struct entry *en = e->value;
        size_t need = strlen(en->group) + strlen(en->version) + 2;
        char *gv = p4_malloc(need);
        (void)snprintf(gv, need, "%s%s%s", en->group, en->group[0] ? "/" : "", en->version);
        list[n++] = gv;
    }
    qsort(list, n, sizeof(*list), cmp_str);
    for (size_t i = 0; i < n; i++)
        len += strlen(list[i]) + 1;
    p = out = p4_malloc(len);
    *p = '\0';
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || strcmp(list[i], list[i - 1]) != 0) {
            size_t l = strlen(list[i]);
            if (p != out)
                *p++ = ',';
            memcpy(p, list[i], l + 1);
            p += l;
        }
    }
    for (size_t i = 0; i < n; i++)
        free(list[i]);
    free(list);
    return out;
}

struct p4_discovery *p4_discovery_new(struct p4_kube *k)
{
    struct p4_discovery *d = p4_calloc(1, sizeof(*d));

    d->kube = k;
    p4_strmap_init(&d->table);
    p4_strmap_init(&d->staging);
    if (k) {
        d->loop = p4_kube_loop(k);
        (void)uv_timer_init(d->loop, &d->defer);
        d->defer.data = d;
    }
    return d;
}

static void free_waiter(struct waiter *w)
{
    free(w->api_version);
    free(w->kind);
    free(w);
}

/* Answer every waiter from the table (or with the refresh's error). */
static void answer(struct p4_discovery *d, int rc, const struct p4_error *refresh_err)
{
    struct waiter *w = d->waiters;

    d->waiters = NULL;
    while (w) {
        struct waiter *next = w->next;
        const struct p4_resource_info *info = p4_discovery_find(d, w->api_version, w->kind);
        struct p4_error err;
        if (info) {
            w->cb(0, info, NULL, w->data);
        } else if (rc != 0) {
            w->cb(rc, NULL, refresh_err, w->data);
        } else {
            p4_error_set(&err, P4_ERR_NOTFOUND,
                         "the API server serves no kind %s in %s: is its CRD installed?", w->kind,
                         w->api_version);
            w->cb(P4_ERR_NOTFOUND, NULL, &err, w->data);
        }
        free_waiter(w);
        w = next;
    }
}

static void destroy(struct p4_discovery *d)
{
    free_table(&d->table);
    free_table(&d->staging);
    free(d);
}

static void on_defer_closed(uv_handle_t *h)
{
    destroy(h->data);
}

static void maybe_free(struct p4_discovery *d)
{
    if (!d->closing || d->refreshing != 0)
        return;
    if (d->loop)
        uv_close((uv_handle_t *)&d->defer, on_defer_closed);
    else
        destroy(d); /* made without a client (tests): no timer to close */
}

static void on_group_list(struct p4_kube_result *res, void *data)
{
    struct p4_discovery *d = data;

    if (res->rc != 0 && d->refresh_rc == 0) {
        d->refresh_rc = res->rc;
        d->refresh_err = res->err;
    } else if (res->rc == 0 && d->refresh_rc == 0) {
        int rc = load_into(&d->staging, res->body, &d->refresh_err);
        if (rc != 0)
            d->refresh_rc = rc;
    }
    if (--d->refreshing > 0)
        return;
    if (d->closing) {
        maybe_free(d);
        return;
    }
    if (d->refresh_rc == 0) {
        free_table(&d->table);
        d->table = d->staging; /* the table takes the staging entries over */
        p4_strmap_init(&d->staging);
        d->refreshed_once = 1;
    } else {
        p4_log(P4_LOG_WARN, "discovery failed", "error", d->refresh_err.message, P4_LOG_END);
        free_table(&d->staging);
    }
    d->last_refresh = uv_now(d->loop);
    answer(d, d->refresh_rc, &d->refresh_err);
}

static void refresh(struct p4_discovery *d)
{
    d->refresh_rc = 0;
    p4_error_clear(&d->refresh_err);
    free_table(&d->staging);
    d->refreshing = 2;
    if (p4_kube_get_accept(d->kube, "/api", ACCEPT_AGGREGATED, on_group_list, d) != 0)
        d->refreshing--;
    if (p4_kube_get_accept(d->kube, "/apis", ACCEPT_AGGREGATED, on_group_list, d) != 0)
        d->refreshing--;
    if (d->refreshing == 0) {
        p4_error_set(&d->refresh_err, P4_ERR_INTERNAL, "cannot start discovery requests");
        answer(d, P4_ERR_INTERNAL, &d->refresh_err);
    }
}

static void on_defer(uv_timer_t *t)
{
    struct p4_discovery *d = t->data;
    struct waiter *w;
    int all_known = 1;

    if (d->refreshing || d->waiters == NULL)
        return;
    for (w = d->waiters; w && all_known; w = w->next)
        all_known = p4_discovery_find(d, w->api_version, w->kind) != NULL;
    /* A miss refreshes, unless the table is fresh enough that it would not help. */
    if (!all_known &&
        (!d->refreshed_once || uv_now(d->loop) - d->last_refresh >= P4_DISCOVERY_MIN_REFRESH_MS)) {
        refresh(d);
        return;
    }
    answer(d, 0, NULL);
}

int p4_discovery_lookup(struct p4_discovery *d, const char *api_version, const char *kind,
                        p4_discovery_cb cb, void *data)
{
    struct waiter *w;

    if (d == NULL || d->loop == NULL || d->closing || api_version == NULL || kind == NULL ||
        cb == NULL)
        return P4_ERR_INVAL;
    w = p4_calloc(1, sizeof(*w));
    w->api_version = p4_strdup(api_version);
    w->kind = p4_strdup(kind);
    w->cb = cb;
    w->data = data;
    w->next = d->waiters;
    d->waiters = w;
    if (!d->refreshing)
        (void)uv_timer_start(&d->defer, on_defer, 0, 0);
    return 0;
}

void p4_discovery_close(struct p4_discovery *d)
{
    struct p4_error err;
    struct waiter *w;

    if (d == NULL || d->closing)
        return;
    d->closing = 1;
    p4_error_set(&err, P4_ERR_CANCELED, "discovery is shutting down");
    w = d->waiters;
    d->waiters = NULL;
    while (w) {
        struct waiter *next = w->next;
        w->cb(P4_ERR_CANCELED, NULL, &err, w->data);
        free_waiter(w);
        w = next;
    }
    maybe_free(d);
}

int p4_resource_path(const struct p4_resource_info *info, const char *ns, const char *name,
                     char *buf, size_t size)
{
    char ens[256], ename[1024];
    int n;

    if (p4_kube_escape(ns, ens, sizeof(ens)) != 0 ||
        p4_kube_escape(name, ename, sizeof(ename)) != 0)
        return P4_ERR_TOOBIG;
    if (info->group[0])
        n = snprintf(buf, size, "/apis/%s/%s", info->group, info->version);
    else
        n = snprintf(buf, size, "/api/%s", info->version);
    if (n < 0 || (size_t)n >= size)
        return P4_ERR_TOOBIG;
    if (info->namespaced && ns[0])
        n += snprintf(buf + n, size - (size_t)n, "/namespaces/%s", ens);
    if ((size_t)n >= size)
        return P4_ERR_TOOBIG;
    n += snprintf(buf + n, size - (size_t)n, "/%s/%s", info->resource, ename);
    return (size_t)n >= size ? P4_ERR_TOOBIG : 0;
}
