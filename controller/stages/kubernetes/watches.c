/*
 * watches.c: what the Kubernetes stage watches, and whom an event concerns.
 *
 * Cluster-wide informers, started once with the first resource: label-selected ones of the
 * kinds the operator applied (Deployments, StatefulSets, DaemonSets, Services,
 * PersistentVolumeClaims; Jobs come from the caller's informer) and of EndpointSlices (the
 * EndpointSlice controller copies a Service's labels, our managed-by mark with them, onto its
 * slices); and of pods and Warning Events (fieldSelector type=Warning), which keep only the
 * objects of target namespaces: the informer reads an object's metadata.namespace from its
 * bytes before parsing anything (p4_kstage_keep_ns), so another namespace's pod costs that scan
 * only. A namespace newly targeted may have had objects refused: they are listed once, in that
 * namespace (p4_informer_fill_ns, which sends nothing when the cache never refused any of it, as
 * for a namespace made for the release), and until then the stage reads its pods as not synced. A
 * namespace no resource targets any more stays kept P4_KSTAGE_NS_LINGER_MS (a new generation's
 * run takes it over), then its objects leave the caches. Pod templates carry no mark of ours,
 * on purpose: adding one would roll every release on the upgrade that brings it.
 *
 * An event enqueues only the resources it concerns: an applied object its owner (noting drift),
 * a pod the resources whose workloads select it (keeping their pod counts), an EndpointSlice
 * those that applied its Service, a Warning Event every resource targeting the namespace. The
 * informer transforms keep the caches small.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/core/alloc.h"
#include "phase4/core/json.h"
#include "steps.h"

#define SELECTOR "?labelSelector=app.kubernetes.io%2Fmanaged-by%3Dphase4-operator"

static void on_pod_add(const char *key, const cJSON *obj, void *data);
static void on_pod_update(const char *key, const cJSON *old, const cJSON *cur, void *data);
static void on_pod_delete(const char *key, const cJSON *obj, void *data);
static void on_slice_add(const char *key, const cJSON *obj, void *data);
static void on_slice_update(const char *key, const cJSON *old, const cJSON *cur, void *data);
static void on_slice_delete(const char *key, const cJSON *obj, void *data);
static void on_event_add(const char *key, const cJSON *obj, void *data);
static void on_event_update(const char *key, const cJSON *old, const cJSON *cur, void *data);
static void on_event_delete(const char *key, const cJSON *obj, void *data);

static const struct {
    const char *path, *group, *kind;
} watched_kinds[W_COUNT] = {
    {"/apis/apps/v1/deployments" SELECTOR, "apps", "Deployment"},
    {"/apis/apps/v1/statefulsets" SELECTOR, "apps", "StatefulSet"},
    {"/apis/apps/v1/daemonsets" SELECTOR, "apps", "DaemonSet"},
    {"/api/v1/services" SELECTOR, "", "Service"},
    {"/api/v1/persistentvolumeclaims" SELECTOR, "", "PersistentVolumeClaim"},
};

static void enqueue(struct p4_kube_stage *k, const char *key)
{
    if (k->cfg.changed)
        k->cfg.changed(key, k->cfg.data);
}

static const char *group_of(const char *api_version, char *buf, size_t size)
{
    const char *slash = api_version ? strchr(api_version, '/') : NULL;

    if (slash == NULL)
        return "";
    (void)snprintf(buf, size, "%.*s", (int)(slash - api_version), api_version);
    return buf;
}

enum p4_kstage_source p4_kstage_source_of(const char *api_version, const char *kind, int *watched)
{
    char grp[128];
    const char *g = group_of(api_version, grp, sizeof(grp));
    enum p4_kstage_source src = P4_KSTAGE_SRC_NONE;

    for (int w = 0; w < W_COUNT; w++) {
        if (w != W_SVC && strcmp(watched_kinds[w].kind, kind) == 0 &&
            strcmp(watched_kinds[w].group, g) == 0) {
            *watched = w;
            src = P4_KSTAGE_SRC_WATCHED;
        }
    }
    if (strcmp(kind, "Job") == 0 && strcmp(g, "batch") == 0)
        src = P4_KSTAGE_SRC_JOBS;
    else if (strcmp(kind, "Pod") == 0 && g[0] == '\0')
        src = P4_KSTAGE_SRC_PODS;
    else if (strcmp(kind, "Service") == 0 && g[0] == '\0')
        src = P4_KSTAGE_SRC_SERVICE;
    return src;
}

/* Is obj healthy as health.h reads it (a slimmed workload keeps what that needs)? */
static bool healthy(const cJSON *obj)
{
    struct p4_health h;

    return obj != NULL && p4_health_eval(obj, &h) == 0 && h.status == P4_HEALTH_CURRENT;
}

/*
 * One of our objects changed (old: what the cache had, for an update): re-evaluate its owner;
 * apply again when it drifted. An owner with no run (trusted after a restart) is told of a
 * delete, a spec change (moved) or a workload that was healthy and is no longer (its pods
 * stopped being ready), so its recheck begins now rather than at its time in the spread.
 */
static void owned_changed(struct p4_kube_stage *k, const char *kind, const cJSON *old,
                          const cJSON *obj, bool gone, bool moved)
{
    const char *key = p4_applyset_owner_of(obj);
    struct run *r;

    if (key == NULL)
        return;
    r = (struct run *)p4_stagerunner_get(&k->sr, key);
    if (r && r->applied && p4_kstage_drifted(&r->inv, r->gens, kind, obj, gone))
        r->drift = true;
    if (r == NULL && k->cfg.drifted &&
        (gone || moved || (old != NULL && healthy(old) && !healthy(obj))))
        k->cfg.drifted(key, k->cfg.data);
    enqueue(k, key);
}
/* The kind comes from the object: a watched object always says it (informer.h). */
static void on_owned_add(const char *key, const cJSON *obj, void *data)
{
    (void)key;
    owned_changed(data, p4_json_str(obj, "kind"), NULL, obj, false, false);
}

static void on_owned_update(const char *key, const cJSON *old, const cJSON *cur, void *data)
{
    int64_t was = 0, now = 0;

    (void)key;
    (void)p4_json_int64(old, "metadata.generation", &was);
    (void)p4_json_int64(cur, "metadata.generation", &now);
    owned_changed(data, p4_json_str(cur, "kind"), old, cur, false, now != was);
}

static void on_owned_delete(const char *key, const cJSON *obj, void *data)
{
    (void)key;
    owned_changed(data, p4_json_str(obj, "kind"), NULL, obj, true, false);
}

/* Cached workloads keep what health.h reads: not their pod template (most of their size). */
void p4_kstage_slim_workload(cJSON *obj, void *data)
{
    cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");

    (void)data;
    cJSON_DeleteItemFromObjectCaseSensitive(spec, "template");
    cJSON_DeleteItemFromObjectCaseSensitive(spec, "volumeClaimTemplates");
}

/* Cached pods keep their status, and of their spec only each container's name and image. */
void p4_kstage_slim_pod(cJSON *obj, void *data)
{
    static const char *const lists[] = {"containers", "initContainers"};
    cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec"), *slim, *c;

    (void)data;
    if (!cJSON_IsObject(spec))
        return;
    slim = p4_json_need(cJSON_CreateObject());
    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
        const cJSON *have = cJSON_GetObjectItemCaseSensitive(spec, lists[i]);
        cJSON *keep;
        if (!cJSON_IsArray(have))
            continue;
        keep = p4_json_need(cJSON_AddArrayToObject(slim, lists[i]));
        for (c = have->child; c != NULL; c = c->next) {
            cJSON *one = p4_json_need(cJSON_CreateObject());
            const char *name = p4_json_str(c, "name"), *image = p4_json_str(c, "image");
            if (name)
                p4_json_need(cJSON_AddStringToObject(one, "name", name));
            if (image)
                p4_json_need(cJSON_AddStringToObject(one, "image", image));
            cJSON_AddItemToArray(keep, one);
        }
    }
    cJSON_ReplaceItemInObjectCaseSensitive(obj, "spec", slim);
}

void p4_kstage_start_watching(struct p4_kube_stage *k)
{
    if (k->watching)
        return;
    k->watching = true;
    for (int i = 0; i < W_COUNT; i++) {
        const struct p4_informer_handlers h = {
            .on_add = on_owned_add,
            .on_update = on_owned_update,
            .on_delete = on_owned_delete,
            .data = k,
            .transform = i == W_SVC || i == W_PVC ? NULL : p4_kstage_slim_workload};
        k->inf[i] = p4_informer_new(k->sr.loop, k->cfg.kube, watched_kinds[i].path, &h);
        p4_informer_start(k->inf[i]);
    }
    const struct p4_informer_handlers pods = {
        on_pod_add, on_pod_update, on_pod_delete, k, p4_kstage_slim_pod, NULL, p4_kstage_keep_ns};
    const struct p4_informer_handlers slices = {
        on_slice_add, on_slice_update, on_slice_delete, k, NULL, NULL, NULL};
    const struct p4_informer_handlers events = {
        on_event_add, on_event_update, on_event_delete, k, NULL, NULL, p4_kstage_keep_ns};
    k->pods = p4_informer_new(k->sr.loop, k->cfg.kube, "/api/v1/pods", &pods);
    k->slices = p4_informer_new(k->sr.loop, k->cfg.kube,
                                "/apis/discovery.k8s.io/v1/endpointslices" SELECTOR, &slices);
    k->events = p4_informer_new(k->sr.loop, k->cfg.kube,
                                "/api/v1/events?fieldSelector=type%3DWarning", &events);
    p4_informer_start(k->pods);
    p4_informer_start(k->slices);
    p4_informer_start(k->events);
}

bool p4_kstage_keep_ns(const char *ns, void *data)
{
    const struct p4_kube_stage *k = data;

    return ns != NULL && ns[0] != '\0' && p4_strmap_get(&k->ns, ns) != NULL;
}

/* The target namespace an object of the pods, slices or events caches is in, or NULL. */
static struct nswatch *ns_of(struct p4_kube_stage *k, const cJSON *obj)
{
    const char *ns = p4_json_str(obj, "metadata.namespace");

    return ns ? p4_strmap_get(&k->ns, ns) : NULL;
}

/* Anything in a watched namespace changed: re-evaluate the resources targeting it. */
static void ns_changed(struct nswatch *w)
{
    size_t pos = 0;
    const struct p4_strmap_entry *e;

    while ((e = p4_strmap_next(&w->keys, &pos)) != NULL)
        enqueue(w->k, e->key);
}

bool p4_kstage_pod_up(const cJSON *pod)
{
    const char *phase = p4_json_str(pod, "status.phase");

    return phase && (strcmp(phase, "Running") == 0 || strcmp(phase, "Succeeded") == 0);
}

bool p4_kstage_selects(const cJSON *selectors, const cJSON *pod)
{
    const cJSON *sel, *labels = p4_json_get(pod, "metadata.labels");

    cJSON_ArrayForEach(sel, selectors) {
        if (p4_selector_matches(sel, labels))
            return true;
    }
    return false;
}

bool p4_kstage_count_pod(const cJSON *selectors, const cJSON *old, const cJSON *cur, long *total,
                         long *running)
{
    bool was = old && p4_kstage_selects(selectors, old);
    bool is = cur && p4_kstage_selects(selectors, cur);

    if (!was && !is)
        return false;
    *total += (long)is - (long)was;
    *running += (long)(is && p4_kstage_pod_up(cur)) - (long)(was && p4_kstage_pod_up(old));
    if (*total < 0 || *running < 0)
        *total = *running = -1; /* lost track: counted again */
    return true;
}

/*
 * A pod came, changed or went: only the resources whose workloads select it
 * are told (and their pod counts kept), so one app's pods do not make every
 * resource in a shared namespace reconcile and rewrite its status.
 */
static void pod_changed(struct nswatch *w, const cJSON *old, const cJSON *cur)
{
    size_t pos = 0;
    const struct p4_strmap_entry *e;

    while ((e = p4_strmap_next(&w->keys, &pos)) != NULL) {
        struct run *r = (struct run *)p4_stagerunner_get(&w->k->sr, e->key);
        if (r == NULL || r->selectors == NULL)
            continue;
        if (p4_kstage_count_pod(r->selectors, old, cur, &r->pods_total, &r->pods_running))
            enqueue(w->k, e->key);
    }
}

static void on_pod_add(const char *key, const cJSON *obj, void *data)
{
    struct nswatch *w = ns_of(data, obj);

    (void)key;
    if (w)
        pod_changed(w, NULL, obj);
}

static void on_pod_update(const char *key, const cJSON *old, const cJSON *cur, void *data)
{
    struct nswatch *w = ns_of(data, cur);

    (void)key;
    if (w)
        pod_changed(w, old, cur);
}

static void on_pod_delete(const char *key, const cJSON *obj, void *data)
{
    struct nswatch *w = ns_of(data, obj);

    (void)key;
    if (w)
        pod_changed(w, obj, NULL);
}

const char *p4_kstage_slice_service(const cJSON *slice)
{
    return p4_json_str(
        p4_json_child(p4_json_get(slice, "metadata.labels"), "kubernetes.io/service-name"), NULL);
}

bool p4_kstage_applied_service(const struct p4_inventory *inv, const char *name)
{
    for (size_t i = 0; i < inv->n; i++) {
        if (strcmp(inv->items[i].kind, "Service") == 0 && strcmp(inv->items[i].name, name) == 0)
            return true;
    }
    return false;
}

/* An EndpointSlice: told to the resources that applied its Service. */
static void slice_changed(struct nswatch *w, const cJSON *slice)
{
    const char *svc = p4_kstage_slice_service(slice);
    size_t pos = 0;
    const struct p4_strmap_entry *e;

    while (svc && (e = p4_strmap_next(&w->keys, &pos)) != NULL) {
        const struct run *r = (const struct run *)p4_stagerunner_get(&w->k->sr, e->key);
        if (r && p4_kstage_applied_service(&r->inv, svc))
            enqueue(w->k, e->key);
    }
}

static void on_slice_add(const char *key, const cJSON *obj, void *data)
{
    struct nswatch *w = ns_of(data, obj);

    (void)key;
    if (w)
        slice_changed(w, obj);
}

static void on_slice_update(const char *key, const cJSON *old, const cJSON *cur, void *data)
{
    struct nswatch *w = ns_of(data, cur);

    (void)key;
    (void)old;
    if (w)
        slice_changed(w, cur);
}

static void on_slice_delete(const char *key, const cJSON *obj, void *data)
{
    struct nswatch *w = ns_of(data, obj);

    (void)key;
    if (w)
        slice_changed(w, obj);
}

/*
 * A Warning Event: the namespace's summary is made again, and every resource
 * targeting it told. Events about Phase4Deployments (the operator's own) are
 * not about the workloads, and are left out of it.
 */
bool p4_kstage_about_us(const cJSON *event)
{
    const char *kind = p4_json_str(event, "involvedObject.kind");

    if (kind == NULL)
        kind = p4_json_str(event, "regarding.kind");
    return kind && strcmp(kind, "Phase4Deployment") == 0;
}

static void event_changed(struct nswatch *w, const cJSON *event)
{
    if (p4_kstage_about_us(event))
        return;
    w->events_dirty = true;
    ns_changed(w);
}

static void on_event_add(const char *key, const cJSON *obj, void *data)
{
    struct nswatch *w = ns_of(data, obj);

    (void)key;
    if (w)
        event_changed(w, obj);
}

static void on_event_update(const char *key, const cJSON *old, const cJSON *cur, void *data)
{
    struct nswatch *w = ns_of(data, cur);

    (void)key;
    (void)old;
    if (w)
        event_changed(w, cur);
}

static void on_event_delete(const char *key, const cJSON *obj, void *data)
{
    struct nswatch *w = ns_of(data, obj);

    (void)key;
    if (w)
        event_changed(w, obj);
}

/* A fill of the pods (pods true) or Warning Events cache for namespace ns is over. */
static void filled(struct p4_kube_stage *k, const char *ns, int rc, bool pods)
{
    struct nswatch *w = p4_strmap_get(&k->ns, ns);

    if (w == NULL)
        return;
    if (pods) {
        w->pods_filling = false;
        w->pods_ok = rc == 0;
    } else {
        w->events_filling = false;
        w->events_ok = rc == 0;
        w->events_dirty = true;
    }
    /* Evaluated again with what was listed; a failed list is tried again on the next poll
       (not at once: a list the API server keeps refusing must not become a loop). */
    if (rc == 0)
        ns_changed(w);
}

static void on_pods_filled(void *data, const char *ns, int rc)
{
    filled(data, ns, rc, true);
}

static void on_events_filled(void *data, const char *ns, int rc)
{
    filled(data, ns, rc, false);
}

/* List what of w's namespace the caches refused before it was targeted (once each; none
   when they never refused any of it). */
static void fill(struct nswatch *w)
{
    struct p4_kube_stage *k = w->k;
    int rc;

    if (!w->pods_ok && !w->pods_filling && k->pods) {
        rc = p4_informer_fill_ns(k->pods, w->ns, on_pods_filled, k);
        w->pods_ok = rc == P4_INFORMER_FILLED;
        w->pods_filling = rc == 0;
    }
    if (!w->events_ok && !w->events_filling && k->events) {
        rc = p4_informer_fill_ns(k->events, w->ns, on_events_filled, k);
        w->events_ok = rc == P4_INFORMER_FILLED;
        w->events_filling = rc == 0;
        w->events_dirty = w->events_dirty || w->events_ok;
    }
}

/* Namespaces no resource targeted for P4_KSTAGE_NS_LINGER_MS: their objects leave the caches. */
static void sweep(struct p4_kube_stage *k)
{
    uint64_t now = uv_now(k->sr.loop);
    size_t pos = 0;
    const struct p4_strmap_entry *e;

    while ((e = p4_strmap_next(&k->ns, &pos)) != NULL) {
        struct nswatch *w = e->value;
        if (w->idle_since == 0 || now - w->idle_since < P4_KSTAGE_NS_LINGER_MS)
            continue;
        (void)p4_strmap_del(&k->ns, w->ns); /* refused from now on */
        if (k->pods)
            p4_informer_forget_ns(k->pods, w->ns);
        if (k->events)
            p4_informer_forget_ns(k->events, w->ns);
        p4_kstage_nswatch_free(w);
    }
}

/* r's target namespace (made on first use). */
struct nswatch *p4_kstage_watch_ns(struct run *r)
{
    struct p4_kube_stage *k = r->k;
    struct nswatch *w;

    if (r->nsw) {
        fill(r->nsw); /* a fill that failed is tried again */
        return r->nsw;
    }
    sweep(k);
    w = p4_strmap_get(&k->ns, r->base.target_ns);
    if (w == NULL) {
        w = p4_calloc(1, sizeof(*w));
        w->k = k;
        w->ns = p4_strdup(r->base.target_ns);
        p4_strmap_init(&w->keys);
        (void)p4_strmap_put(&k->ns, w->ns, w);
    }
    w->idle_since = 0;
    (void)p4_strmap_put(&w->keys, r->base.key, w);
    r->nsw = w;
    fill(w);
    return w;
}

void p4_kstage_nswatch_free(struct nswatch *w)
{
    p4_strmap_close(&w->keys);
    free(w->recent);
    free(w->ns);
    free(w);
}

void p4_kstage_unwatch_ns(struct run *r, const char *key)
{
    struct nswatch *w = r->nsw;

    if (w == NULL)
        return;
    r->nsw = NULL;
    (void)p4_strmap_del(&w->keys, key);
    if (p4_strmap_len(&w->keys) == 0)
        w->idle_since = uv_now(w->k->sr.loop) | 1; /* never 0 */
    sweep(w->k);
}

struct p4_informer *p4_kstage_ns_pods(const struct run *r)
{
    const struct p4_kube_stage *k = r->k;

    if (r->nsw == NULL || !r->nsw->pods_ok || k->pods == NULL || !p4_informer_synced(k->pods))
        return NULL;
    return k->pods;
}

struct p4_informer *p4_kube_stage_cache(struct p4_kube_stage *k, const char *kind, const char *ns)
{
    struct p4_informer *inf = NULL;
    const struct nswatch *w;

    if (k == NULL || kind == NULL || ns == NULL)
        return NULL;
    for (int i = 0; i < W_COUNT; i++) {
        if (i != W_SVC && i != W_PVC && strcmp(watched_kinds[i].kind, kind) == 0)
            inf = k->inf[i];
    }
    if (strcmp(kind, "Job") == 0)
        inf = k->cfg.jobs;
    if (strcmp(kind, "Pod") == 0) {
        w = p4_strmap_get(&k->ns, ns);
        inf = w && w->pods_ok ? k->pods : NULL;
    }
    return inf && p4_informer_synced(inf) ? inf : NULL;
}
