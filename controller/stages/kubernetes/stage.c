/* stages/kubernetes/stage.c: stage 3, Kubernetes (see phase4/stages/kubernetes/stage.h). */
#include "phase4/stages/kubernetes/stage.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "phase4/core/alloc.h"
#include "phase4/kube/apply.h"
#include "phase4/stages/kubernetes/applyset.h"
#include "diagnose.h"
#include "health.h"
#include "phase4/reconciler/manifest.h"
#include "phase4/stages/kubernetes/inventory.h"
#include "phase4/core/json.h"
#include "phase4/core/log.h"
#include "phase4/reconciler/stagerun.h"
#include "phase4/core/strmap.h"

#define SELECTOR "?labelSelector=app.kubernetes.io%2Fmanaged-by%3Dphase4-operator"
#define WAITING_MAX 600

enum gate { G_MANIFESTS, G_CREATED, G_PODS, G_SERVICES, G_COUNT };
static const char *const gate_names[G_COUNT] = {"ManifestsValid", "ResourcesCreated", "PodsRunning",
                                                "ServicesReady"};

enum step { S_READ, S_APPLY };

/* The kinds watched cluster-wide (those the operator applied only). */
enum watched { W_DEPLOY, W_STS, W_DS, W_SVC, W_PVC, W_COUNT };
static const struct {
    const char *path, *group, *kind;
} watched_kinds[W_COUNT] = {
    {"/apis/apps/v1/deployments" SELECTOR, "apps", "Deployment"},
    {"/apis/apps/v1/statefulsets" SELECTOR, "apps", "StatefulSet"},
    {"/apis/apps/v1/daemonsets" SELECTOR, "apps", "DaemonSet"},
    {"/api/v1/services" SELECTOR, "", "Service"},
    {"/api/v1/persistentvolumeclaims" SELECTOR, "", "PersistentVolumeClaim"},
};

/* A target namespace's watches, while some resource targets it. */
struct nswatch {
    struct p4_kube_stage *k;
    char *ns;
    struct p4_informer *pods, *slices, *events;
    struct p4_strmap keys; /* the resources targeting it (values unused) */
    bool events_dirty;     /* the Warning Events changed since recent was made */
    char *recent;          /* status.health.recentEvents (JSON text), or NULL */
};

struct p4_kube_stage {
    struct p4_stagerunner sr; /* first: a run's sr is its stage */
    struct p4_kube_stage_config cfg;
    struct p4_informer *inf[W_COUNT];
    bool watching;
    struct p4_strmap ns; /* namespace → struct nswatch */
};

struct work {
    char *manifest;
    cJSON *objects;
    struct p4_applyset *apply; /* while it runs */
};

struct run {
    struct p4_stagerun base; /* first: answers get the run as their data */
    struct p4_kube_stage *k; /* also after the run is dropped (cancel) */
    char *secret;
    bool create_namespace, allow_cluster, force;
    uint64_t timeout_ms;
    struct p4_inventory previous; /* status.inventory when the generation began (the prune
                                     base until this run has applied: then inv is) */
    struct work *w;

    /* After the first apply of this generation. */
    struct p4_inventory inv; /* what it applied */
    int64_t *gens;           /* per inv entry: metadata.generation the apply left */
    char *inventory;         /* status.inventory (JSON text), or NULL before any apply */
    bool applied;            /* applied once: the workloads are evaluated on every poll */
    bool drift;              /* an object was changed or deleted by hand: apply again */
    bool waiting;            /* this attempt applied and waits for the workloads */
    bool wait_failed;        /* the wait failed (PodsRunning, ServicesReady): a poll may heal it */
    uint64_t deadline;       /* loop time by which the workloads must be ready */
    char *health;            /* status.health (JSON text) */
    cJSON *selectors;        /* its workloads' pod selectors, as last seen (or NULL) */
    long pods_total, pods_running; /* its pods, kept by the pod handlers; -1: count again */
    char drift_event[P4_APPLYSET_TAKEN_MAX + 256]; /* a DriftCorrected message to emit */
    struct nswatch *nsw;
};

static struct p4_kube_stage *stage_of(const struct run *r)
{
    return r->k;
}

/* ---- label selectors ---- */

static bool has_value(const cJSON *values, const char *v)
{
    const cJSON *it;

    cJSON_ArrayForEach(it, values) {
        if (cJSON_IsString(it) && v && strcmp(it->valuestring, v) == 0)
            return true;
    }
    return false;
}

/* An expression's values: 1 a non-empty array of strings, 0 absent or empty, -1 malformed. */
static int values_shape(const cJSON *values)
{
    const cJSON *it;

    if (values == NULL || cJSON_IsNull(values))
        return 0;
    if (!cJSON_IsArray(values))
        return -1;
    cJSON_ArrayForEach(it, values) {
        if (!cJSON_IsString(it))
            return -1;
    }
    return values->child ? 1 : 0;
}

bool p4_selector_matches(const cJSON *selector, const cJSON *labels)
{
    const cJSON *ml = p4_json_child(selector, "matchLabels");
    const cJSON *me = p4_json_child(selector, "matchExpressions");
    const cJSON *it;
    int terms = 0;

    if (cJSON_IsNull(ml)) /* null is absent, as in Kubernetes' JSON */
        ml = NULL;
    if (cJSON_IsNull(me))
        me = NULL;
    if (!cJSON_IsObject(selector) || (ml && !cJSON_IsObject(ml)) || (me && !cJSON_IsArray(me)))
        return false;
    cJSON_ArrayForEach(it, ml) {
        const char *have = p4_json_str(p4_json_child(labels, it->string), NULL);
        if (!cJSON_IsString(it) || have == NULL || strcmp(have, it->valuestring) != 0)
            return false;
        terms++;
    }
    cJSON_ArrayForEach(it, me) {
        const char *key = p4_json_str(it, "key"), *op = p4_json_str(it, "operator");
        const char *have;
        int shape = values_shape(p4_json_child(it, "values"));
        bool set_op;
        if (key == NULL || op == NULL || shape < 0)
            return false;
        /* As labels.NewRequirement: In and NotIn need values, Exists and DoesNotExist none. */
        set_op = strcmp(op, "In") == 0 || strcmp(op, "NotIn") == 0;
        if (set_op != (shape == 1))
            return false;
        have = p4_json_str(p4_json_child(labels, key), NULL);
        if (strcmp(op, "In") == 0) {
            if (have == NULL || !has_value(p4_json_child(it, "values"), have))
                return false;
        } else if (strcmp(op, "NotIn") == 0) {
            if (have != NULL && has_value(p4_json_child(it, "values"), have))
                return false;
        } else if (strcmp(op, "Exists") == 0) {
            if (have == NULL)
                return false;
        } else if (strcmp(op, "DoesNotExist") == 0) {
            if (have != NULL)
                return false;
        } else {
            return false;
        }
        terms++;
    }
    return terms > 0;
}

/* ---- watches ---- */

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

/* The index of obj in r's inventory, or -1. */
static long inv_index(const struct run *r, const char *kind, const cJSON *obj)
{
    const char *ns = p4_json_str(obj, "metadata.namespace");
    const char *name = p4_json_str(obj, "metadata.name");

    for (size_t i = 0; name && i < r->inv.n; i++) {
        const struct p4_inv_entry *e = &r->inv.items[i];
        if (strcmp(e->kind, kind) == 0 && strcmp(e->name, name) == 0 &&
            strcmp(e->namespace_, ns ? ns : "") == 0)
            return (long)i;
    }
    return -1;
}

/* One of our objects changed: re-evaluate its owner; apply again when it drifted. */
static void owned_changed(struct p4_kube_stage *k, const char *kind, const cJSON *obj, bool gone)
{
    const char *key = p4_applyset_owner_of(obj);
    struct run *r;
    long i;
    int64_t g = 0;

    if (key == NULL)
        return;
    r = (struct run *)p4_stagerunner_get(&k->sr, key);
    if (r && r->applied && kind && (i = inv_index(r, kind, obj)) >= 0) {
        if (gone || (p4_json_int64(obj, "metadata.generation", &g) == 0 && r->gens &&
                     r->gens[i] > 0 && g > r->gens[i]))
            r->drift = true;
    }
    enqueue(k, key);
}

/* The kind comes from the object: a watched object always says it (informer.h). */
static void on_owned_add(const char *key, const cJSON *obj, void *data)
{
    (void)key;
    owned_changed(data, p4_json_str(obj, "kind"), obj, false);
}

static void on_owned_update(const char *key, const cJSON *old, const cJSON *cur, void *data)
{
    (void)key;
    (void)old;
    owned_changed(data, p4_json_str(cur, "kind"), cur, false);
}

static void on_owned_delete(const char *key, const cJSON *obj, void *data)
{
    (void)key;
    owned_changed(data, p4_json_str(obj, "kind"), obj, true);
}

/* Cached workloads keep what health.h reads: not their pod template (most of their size). */
static void slim_workload(cJSON *obj, void *data)
{
    cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");

    (void)data;
    cJSON_DeleteItemFromObjectCaseSensitive(spec, "template");
    cJSON_DeleteItemFromObjectCaseSensitive(spec, "volumeClaimTemplates");
}

/* Cached pods keep their status, and of their spec only each container's name and image. */
static void slim_pod(cJSON *obj, void *data)
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

static void start_watching(struct p4_kube_stage *k)
{

    if (k->watching)
        return;
    k->watching = true;
    for (int i = 0; i < W_COUNT; i++) {
        const struct p4_informer_handlers h = {on_owned_add, on_owned_update, on_owned_delete, k,
                                               i == W_SVC || i == W_PVC ? NULL : slim_workload};
        k->inf[i] = p4_informer_new(k->sr.loop, k->cfg.kube, watched_kinds[i].path, &h);
        p4_informer_start(k->inf[i]);
    }
}

/* Anything in a watched namespace changed: re-evaluate the resources targeting it. */
static void ns_changed(struct nswatch *w)
{
    size_t pos = 0;
    const struct p4_strmap_entry *e;

    while ((e = p4_strmap_next(&w->keys, &pos)) != NULL)
        enqueue(w->k, e->key);
}

static int running(const cJSON *pod)
{
    const char *phase = p4_json_str(pod, "status.phase");

    return phase && strcmp(phase, "Running") == 0;
}

/* Does one of r's workloads select this pod? */
static bool selects(const struct run *r, const cJSON *pod)
{
    const cJSON *sel, *labels = p4_json_get(pod, "metadata.labels");

    cJSON_ArrayForEach(sel, r->selectors) {
        if (p4_selector_matches(sel, labels))
            return true;
    }
    return false;
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
        bool was, is;
        if (r == NULL || r->selectors == NULL)
            continue;
        was = old && selects(r, old);
        is = cur && selects(r, cur);
        if (!was && !is)
            continue;
        r->pods_total += (long)is - (long)was;
        r->pods_running += (long)(is && running(cur)) - (long)(was && running(old));
        if (r->pods_total < 0 || r->pods_running < 0)
            r->pods_total = r->pods_running = -1; /* lost track: counted again */
        enqueue(w->k, e->key);
    }
}

static void on_pod_add(const char *key, const cJSON *obj, void *data)
{
    (void)key;
    pod_changed(data, NULL, obj);
}

static void on_pod_update(const char *key, const cJSON *old, const cJSON *cur, void *data)
{
    (void)key;
    pod_changed(data, old, cur);
}

static void on_pod_delete(const char *key, const cJSON *obj, void *data)
{
    (void)key;
    pod_changed(data, obj, NULL);
}

/* An EndpointSlice: told to the resources that applied its Service. */
static void slice_changed(struct nswatch *w, const cJSON *slice)
{
    const char *svc = p4_json_str(
        p4_json_child(p4_json_get(slice, "metadata.labels"), "kubernetes.io/service-name"), NULL);
    size_t pos = 0;
    const struct p4_strmap_entry *e;

    while (svc && (e = p4_strmap_next(&w->keys, &pos)) != NULL) {
        const struct run *r = (const struct run *)p4_stagerunner_get(&w->k->sr, e->key);
        for (size_t i = 0; r && i < r->inv.n; i++) {
            if (strcmp(r->inv.items[i].kind, "Service") == 0 &&
                strcmp(r->inv.items[i].name, svc) == 0) {
                enqueue(w->k, e->key);
                break;
            }
        }
    }
}

static void on_slice_add(const char *key, const cJSON *obj, void *data)
{
    (void)key;
    slice_changed(data, obj);
}

static void on_slice_update(const char *key, const cJSON *old, const cJSON *cur, void *data)
{
    (void)key;
    (void)old;
    slice_changed(data, cur);
}

static void on_slice_delete(const char *key, const cJSON *obj, void *data)
{
    (void)key;
    slice_changed(data, obj);
}

/*
 * A Warning Event: the namespace's summary is made again, and every resource
 * targeting it told. Events about Phase4Deployments (the operator's own) are
 * not about the workloads, and are left out of it.
 */
static bool about_us(const cJSON *event)
{
    const char *kind = p4_json_str(event, "involvedObject.kind");

    if (kind == NULL)
        kind = p4_json_str(event, "regarding.kind");
    return kind && strcmp(kind, "Phase4Deployment") == 0;
}

static void event_changed(struct nswatch *w, const cJSON *event)
{
    if (about_us(event))
        return;
    w->events_dirty = true;
    ns_changed(w);
}

static void on_event_add(const char *key, const cJSON *obj, void *data)
{
    (void)key;
    event_changed(data, obj);
}

static void on_event_update(const char *key, const cJSON *old, const cJSON *cur, void *data)
{
    (void)key;
    (void)old;
    event_changed(data, cur);
}

static void on_event_delete(const char *key, const cJSON *obj, void *data)
{
    (void)key;
    event_changed(data, obj);
}

static struct p4_informer *ns_informer(struct nswatch *w, const char *fmt,
                                       const struct p4_informer_handlers *h)
{
    char ens[256], path[512];
    struct p4_informer *inf;

    if (p4_kube_escape(w->ns, ens, sizeof(ens)) != 0)
        ens[0] = '\0';
    (void)snprintf(path, sizeof(path), fmt, ens);
    inf = p4_informer_new(w->k->sr.loop, w->k->cfg.kube, path, h);
    p4_informer_start(inf);
    return inf;
}

/* r's namespace watches (made on first use). */
static struct nswatch *watch_ns(struct run *r)
{
    struct p4_kube_stage *k = stage_of(r);
    struct nswatch *w;

    if (r->nsw)
        return r->nsw;
    w = p4_strmap_get(&k->ns, r->base.target_ns);
    if (w == NULL) {
        w = p4_calloc(1, sizeof(*w));
        w->k = k;
        w->ns = p4_strdup(r->base.target_ns);
        p4_strmap_init(&w->keys);
        const struct p4_informer_handlers pods = {on_pod_add, on_pod_update, on_pod_delete, w,
                                                  slim_pod};
        const struct p4_informer_handlers slices = {on_slice_add, on_slice_update, on_slice_delete,
                                                    w, NULL};
        const struct p4_informer_handlers events = {on_event_add, on_event_update, on_event_delete,
                                                    w, NULL};
        w->pods = ns_informer(w, "/api/v1/namespaces/%s/pods", &pods);
        w->slices =
            ns_informer(w, "/apis/discovery.k8s.io/v1/namespaces/%s/endpointslices", &slices);
        w->events =
            ns_informer(w, "/api/v1/namespaces/%s/events?fieldSelector=type%%3DWarning", &events);
        (void)p4_strmap_put(&k->ns, w->ns, w);
    }
    (void)p4_strmap_put(&w->keys, r->base.key, w);
    r->nsw = w;
    return w;
}

static void nswatch_free(struct nswatch *w)
{
    p4_informer_close(w->pods);
    p4_informer_close(w->slices);
    p4_informer_close(w->events);
    p4_strmap_close(&w->keys);
    free(w->recent);
    free(w->ns);
    free(w);
}

static void unwatch_ns(struct run *r, const char *key)
{
    struct nswatch *w = r->nsw;

    if (w == NULL)
        return;
    r->nsw = NULL;
    (void)p4_strmap_del(&w->keys, key);
    if (p4_strmap_len(&w->keys) == 0) {
        (void)p4_strmap_del(&w->k->ns, w->ns);
        nswatch_free(w);
    }
}

/* ---- evaluation: PodsRunning, ServicesReady, status.health ---- */

struct eval {
    struct p4_kube_stage *k;
    struct run *r;
    uint64_t now_ms; /* loop time */
    time_t wall;     /* for the scheduler's timestamps */
    bool synced;     /* every cache it reads has listed */
    bool failed;     /* a failure waiting cannot heal */
    char reason[P4_DIAGNOSE_REASON_MAX];
    char message[P4_DIAGNOSE_MESSAGE_MAX];
    enum p4_failure_class cls;
    int objects, ready;        /* workloads (kinds with health) */
    char waiting[WAITING_MAX]; /* the first not ready, and why */
    uint64_t recheck_ms;       /* 0, or re-evaluate after this (a grace ends) */
    int deploy_total, deploy_ready, svc_total, svc_active, svc_checked, svc_ready;
    char svc_waiting[WAITING_MAX];
    char pod[256], container[128]; /* a crash loop's pod and container (for its log) */
    cJSON *selectors;              /* the pod selectors of the workloads seen */
};

/* A gate's reason must be static text: a diagnosis' or a health failure's. */
static const char *static_reason(const char *reason)
{
    static const char *const health[] = {"ProgressDeadlineExceeded",
                                         "ReplicaFailure",
                                         "CrashLoopBackOff",
                                         "ImagePullBackOff",
                                         "ErrImagePull",
                                         "ErrImageNeverPull",
                                         "InvalidImageName",
                                         "CreateContainerConfigError",
                                         "CreateContainerError",
                                         "RunContainerError",
                                         "Unschedulable",
                                         "PodFailed",
                                         "ClaimLost",
                                         "BackoffLimitExceeded",
                                         "DeadlineExceeded",
                                         "JobFailed",
                                         "Stalled"};
    const char *s = p4_diagnose_static_reason(reason);

    for (size_t i = 0; s == NULL && i < sizeof(health) / sizeof(health[0]); i++) {
        if (strcmp(reason, health[i]) == 0)
            s = health[i];
    }
    return s ? s : "WorkloadFailed";
}

static void fail_with(struct eval *ev, const char *reason, enum p4_failure_class cls,
                      const char *message)
{
    if (ev->failed)
        return;
    ev->failed = true;
    (void)snprintf(ev->reason, sizeof(ev->reason), "%s", reason);
    (void)snprintf(ev->message, sizeof(ev->message), "%s", message);
    ev->cls = cls;
}

static void note_waiting(struct eval *ev, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void note_waiting(struct eval *ev, const char *fmt, ...)
{
    va_list ap;

    if (ev->waiting[0])
        return;
    va_start(ap, fmt);
    (void)vsnprintf(ev->waiting, sizeof(ev->waiting), fmt, ap);
    va_end(ap);
}

/* "2024-05-01T10:00:00Z" as a time_t, or -1. */
static time_t parse_time(const char *s)
{
    struct tm tm;
    const char *end;

    if (s == NULL)
        return -1;
    memset(&tm, 0, sizeof(tm));
    end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (end == NULL)
        return -1;
    return timegm(&tm);
}

/* Seconds a pod has been unschedulable (PodScheduled=False since), or -1. */
static long unschedulable_for(const cJSON *pod, time_t now)
{
    const cJSON *c;

    cJSON_ArrayForEach(c, p4_json_get(pod, "status.conditions")) {
        const char *t = p4_json_str(c, "type"), *s = p4_json_str(c, "status");
        time_t since;
        if (t == NULL || s == NULL || strcmp(t, "PodScheduled") != 0 || strcmp(s, "False") != 0)
            continue;
        since = parse_time(p4_json_str(c, "lastTransitionTime"));
        if (since < 0)
            since = parse_time(p4_json_str(pod, "metadata.creationTimestamp"));
        return since < 0 || now < since ? 0 : (long)(now - since);
    }
    return -1;
}

/* The first container of a pod waiting in CrashLoopBackOff, or NULL. */
static const char *crashing_container(const cJSON *pod)
{
    static const char *const lists[] = {"status.initContainerStatuses", "status.containerStatuses"};
    const cJSON *c;

    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
        cJSON_ArrayForEach(c, p4_json_get(pod, lists[i])) {
            const char *why = p4_json_str(c, "state.waiting.reason");
            if (why && strcmp(why, "CrashLoopBackOff") == 0)
                return p4_json_str(c, "name");
        }
    }
    return NULL;
}

/* A failed object: diagnose it (its own words), else take the health's. */
static void failed_object(struct eval *ev, const cJSON *obj, const struct p4_health *h)
{
    struct p4_diagnosis dg;
    const char *kind = p4_json_str(obj, "kind"), *name = p4_json_str(obj, "metadata.name");
    const char *container = crashing_container(obj);

    if (p4_diagnose_object(obj, &dg) == 1 && dg.reason[0])
        fail_with(ev, dg.reason, dg.cls, dg.message);
    else
        fail_with(ev, h->reason, P4_FAIL_ARTIFACT, h->message);
    if (kind && strcmp(kind, "Pod") == 0 && name && container &&
        strcmp(ev->reason, "CrashLoopBackOff") == 0) {
        (void)snprintf(ev->pod, sizeof(ev->pod), "%s", name);
        (void)snprintf(ev->container, sizeof(ev->container), "%s", container);
    }
}

struct pod_scan {
    struct eval *ev;
    const cJSON *selector;
    const char *owner; /* "Deployment shop/web" */
};

static int scan_pod(const char *key, const cJSON *pod, void *data)
{
    struct pod_scan *ps = data;
    struct eval *ev = ps->ev;
    struct p4_health h;
    long secs;
    uint64_t grace = ev->k->cfg.unschedulable_grace_ms;

    if (!p4_selector_matches(ps->selector, p4_json_get(pod, "metadata.labels")) ||
        p4_json_get(pod, "metadata.deletionTimestamp") != NULL || p4_health_eval(pod, &h) != 0 ||
        h.status == P4_HEALTH_CURRENT)
        return 0;
    p4_log(P4_LOG_DEBUG, "pod not ready", "pod", key, "reason", h.reason, "status",
           p4_health_status_name(h.status), P4_LOG_END);
    if (h.status == P4_HEALTH_FAILED && strcmp(h.reason, "Unschedulable") == 0 &&
        (secs = unschedulable_for(pod, ev->wall)) >= 0 && (uint64_t)secs * 1000 < grace) {
        /* The scheduler may still place it: look again when the grace ends. */
        uint64_t left = grace - (uint64_t)secs * 1000;
        if (ev->recheck_ms == 0 || left < ev->recheck_ms)
            ev->recheck_ms = left;
        note_waiting(ev, "%s: %s", ps->owner, h.message);
        return 0;
    }
    if (h.status == P4_HEALTH_FAILED && h.permanent) {
        failed_object(ev, pod, &h);
        return 1;
    }
    note_waiting(ev, "%s: %s", ps->owner, h.message);
    return 0;
}

/* A workload or pod of the inventory, from its cache. */
static void eval_object(struct eval *ev, const struct p4_inv_entry *e, struct p4_informer *inf)
{
    char key[700], what[800];
    const cJSON *obj;
    struct p4_health h;
    bool deploy = strcmp(e->kind, "Deployment") == 0;

    ev->objects++;
    if (deploy)
        ev->deploy_total++;
    (void)snprintf(what, sizeof(what), "%s %s/%s", e->kind, e->namespace_, e->name);
    if (inf == NULL || !p4_informer_synced(inf)) {
        ev->synced = false;
        note_waiting(ev, "%s: waiting for the watch to list it", what);
        return;
    }
    (void)snprintf(key, sizeof(key), "%s/%s", e->namespace_, e->name);
    obj = p4_informer_get(inf, key);
    if (obj == NULL) {
        note_waiting(ev, "%s: not seen yet", what);
        return;
    }
    if (strcmp(e->kind, "Pod") != 0 && p4_json_get(obj, "spec.selector") != NULL)
        cJSON_AddItemToArray(ev->selectors,
                             p4_json_need(cJSON_Duplicate(p4_json_get(obj, "spec.selector"), 1)));
    if (p4_health_eval(obj, &h) != 0) {
        note_waiting(ev, "%s: %s", what, h.message);
        return;
    }
    if (h.status == P4_HEALTH_CURRENT) {
        ev->ready++;
        if (deploy)
            ev->deploy_ready++;
        return;
    }
    if (h.status == P4_HEALTH_FAILED) {
        struct p4_diagnosis dg;
        if (h.permanent || (p4_diagnose_object(obj, &dg) == 1 && dg.reason[0])) {
            failed_object(ev, obj, &h);
            return;
        }
    }
    /* Not there yet: its pods may say why (or that it never will be). */
    if (strcmp(e->kind, "Pod") != 0 && ev->r->nsw && p4_informer_synced(ev->r->nsw->pods)) {
        struct pod_scan ps = {ev, p4_json_get(obj, "spec.selector"), what};
        (void)p4_informer_each(ev->r->nsw->pods, scan_pod, &ps);
        if (ev->failed)
            return;
    }
    note_waiting(ev, "%s: %s", what, h.message);
}

struct slice_scan {
    const char *service;
    bool ready;
};

static int scan_slice(const char *key, const cJSON *slice, void *data)
{
    struct slice_scan *ss = data;
    const char *svc = p4_json_str(
        p4_json_child(p4_json_get(slice, "metadata.labels"), "kubernetes.io/service-name"), NULL);
    const cJSON *ep;

    (void)key;
    if (svc == NULL || strcmp(svc, ss->service) != 0)
        return 0;
    cJSON_ArrayForEach(ep, p4_json_get(slice, "endpoints")) {
        const cJSON *ready = p4_json_get(ep, "conditions.ready");
        if (ready == NULL || cJSON_IsTrue(ready)) { /* absent means ready (the API's default) */
            ss->ready = true;
            return 1;
        }
    }
    return 0;
}

static void eval_service(struct eval *ev, const struct p4_inv_entry *e)
{
    struct p4_informer *inf = ev->k->inf[W_SVC];
    char key[700];
    const cJSON *svc, *sel;
    const char *type;
    struct slice_scan ss = {e->name, false};

    ev->svc_total++;
    if (inf == NULL || !p4_informer_synced(inf) || ev->r->nsw == NULL ||
        !p4_informer_synced(ev->r->nsw->slices)) {
        ev->synced = false;
        return;
    }
    (void)snprintf(key, sizeof(key), "%s/%s", e->namespace_, e->name);
    svc = p4_informer_get(inf, key);
    if (svc == NULL) {
        if (!ev->svc_waiting[0])
            (void)snprintf(ev->svc_waiting, sizeof(ev->svc_waiting), "Service %s/%s: not seen yet",
                           e->namespace_, e->name);
        return;
    }
    type = p4_json_str(svc, "spec.type");
    sel = p4_json_get(svc, "spec.selector");
    if ((type && strcmp(type, "ExternalName") == 0) || !cJSON_IsObject(sel) || sel->child == NULL) {
        ev->svc_active++; /* no endpoints to wait for */
        return;
    }
    ev->svc_checked++;
    (void)p4_informer_each(ev->r->nsw->slices, scan_slice, &ss);
    if (ss.ready) {
        ev->svc_active++;
        ev->svc_ready++;
    } else if (!ev->svc_waiting[0]) {
        (void)snprintf(ev->svc_waiting, sizeof(ev->svc_waiting),
                       "Service %s/%s has no ready endpoint in its EndpointSlices yet",
                       e->namespace_, e->name);
    }
}

static int collect_event(const char *key, const cJSON *event, void *data)
{
    (void)key;
    if (!about_us(event))
        cJSON_AddItemToArray(data, p4_json_need(cJSON_Duplicate(event, 1)));
    return 0;
}

static int count_selected(const char *key, const cJSON *pod, void *data)
{
    struct run *r = data;

    (void)key;
    if (selects(r, pod)) {
        r->pods_total++;
        r->pods_running += running(pod);
    }
    return 0;
}

/* Its workloads' selectors changed (or a count was lost): count its pods again. */
static void count_pods(struct run *r, cJSON *selectors)
{
    if (r->selectors && r->pods_total >= 0 && cJSON_Compare(r->selectors, selectors, 1)) {
        cJSON_Delete(selectors);
        return;
    }
    cJSON_Delete(r->selectors);
    r->selectors = selectors;
    r->pods_total = r->pods_running = 0;
    if (r->nsw)
        (void)p4_informer_each(r->nsw->pods, count_selected, r);
}

/* The namespace's recent Warning Events, made again only after they changed. */
static cJSON *recent_events(struct nswatch *w)
{
    cJSON *list, *recent;

    if (w->recent == NULL || w->events_dirty) {
        list = p4_json_need(cJSON_CreateArray());
        (void)p4_informer_each(w->events, collect_event, list);
        recent = p4_diagnose_recent_warnings(list, P4_KUBE_STAGE_RECENT_EVENTS);
        cJSON_Delete(list);
        free(w->recent);
        w->recent = recent ? p4_json_print(recent) : NULL;
        cJSON_Delete(recent);
        w->events_dirty = false;
    }
    recent = w->recent ? cJSON_Parse(w->recent) : NULL;
    return recent ? recent : p4_json_need(cJSON_CreateArray());
}

/* status.health, as JSON text (caller frees). */
static char *health_json(struct eval *ev)
{
    cJSON *h = p4_json_need(cJSON_CreateObject());
    struct nswatch *w = ev->r->nsw;
    char buf[64];
    char *text;

    p4_json_need(cJSON_AddStringToObject(h, "namespace", ev->r->base.target_ns));
    (void)snprintf(buf, sizeof(buf), "%d/%d", ev->deploy_ready, ev->deploy_total);
    p4_json_need(cJSON_AddStringToObject(h, "deployments", buf));
    (void)snprintf(buf, sizeof(buf), "%ld/%ld", ev->r->pods_running, ev->r->pods_total);
    p4_json_need(cJSON_AddStringToObject(h, "pods", buf));
    (void)snprintf(buf, sizeof(buf), "%d/%d", ev->svc_active, ev->svc_total);
    p4_json_need(cJSON_AddStringToObject(h, "services", buf));
    cJSON_AddItemToObject(h, "recentEvents",
                          w ? recent_events(w) : p4_json_need(cJSON_CreateArray()));
    text = p4_json_print(h);
    cJSON_Delete(h);
    return text;
}

static void evaluate(struct run *r, bool timer);

/* A crash loop's failure, waiting for the container's last log lines. */
struct crash {
    struct run *r;
    struct p4_error err;
    enum p4_failure_class cls;
};

static void on_crash_log(struct p4_kube_result *res, void *data)
{
    struct crash *c = data;
    struct run *r = (struct run *)p4_stagerun_back(c->r);
    char tail[200];
    size_t used;

    if (r != NULL) {
        if (res->rc == 0 && cJSON_IsString(res->body)) {
            p4_log_tail(res->body->valuestring, tail, sizeof(tail));
            used = strlen(c->err.message);
            if (tail[0] && used + 24 < sizeof(c->err.message))
                (void)snprintf(c->err.message + used, sizeof(c->err.message) - used,
                               " Last log lines: %s", tail);
        } else {
            p4_log(P4_LOG_DEBUG, "cannot read a crashing container's log", "key", r->base.key,
                   "error", res->err.message, P4_LOG_END);
        }
        p4_stagerun_fail(&r->base, c->cls == P4_FAIL_NONE ? P4_FAIL_ARTIFACT : c->cls, G_PODS,
                         c->err.reason, &c->err);
    }
    free(c);
}

/* Ask for the last lines of the crashed container's log (its previous run); 0 when asked. */
static int read_crash_log(struct run *r, const struct p4_error *err, enum p4_failure_class cls,
                          const char *pod, const char *container)
{
    char path[1400], epod[512], ec[256];
    struct crash *c;

    if (p4_kube_escape(pod, epod, sizeof(epod)) != 0 ||
        p4_kube_escape(container, ec, sizeof(ec)) != 0)
        return P4_ERR_TOOBIG;
    p4_core_path(path, sizeof(path), r->base.target_ns, "pods", "");
    (void)snprintf(path + strlen(path), sizeof(path) - strlen(path),
                   "/%s/log?container=%s&previous=true&tailLines=5&limitBytes=4096", epod, ec);
    c = p4_calloc(1, sizeof(*c));
    c->r = r;
    c->err = *err;
    c->cls = cls;
    r->base.inflight++; /* the wait is over: no evaluation until the failure is in */
    if (p4_kube_get_accept(stage_of(r)->cfg.kube, path, "text/plain", on_crash_log, c) != 0) {
        r->base.inflight--;
        free(c);
        return P4_ERR_INTERNAL;
    }
    return 0;
}

static void on_wait_timer(uv_timer_t *t)
{
    struct run *r = t->data;

    evaluate(r, true);
}

/* Is an attempt (read, apply) under way or about to begin? */
static bool attempt_busy(const struct run *r)
{
    return r->base.working || r->base.active || r->base.queued || r->base.inflight > 0;
}

/*
 * Evaluate the workloads and Services applied: pass, fail fast, time out, or
 * keep waiting (the watches bring the next poll). Only once applied, and not
 * while an attempt runs.
 */
static void evaluate(struct run *r, bool timer)
{
    struct p4_kube_stage *k = stage_of(r);
    struct eval ev;
    char *health;
    bool health_changed;
    uint64_t next;

    if (!r->applied || attempt_busy(r) || r->base.gone)
        return;
    memset(&ev, 0, sizeof(ev));
    ev.k = k;
    ev.r = r;
    ev.synced = true;
    ev.now_ms = uv_now(k->sr.loop);
    ev.wall = time(NULL);
    ev.selectors = p4_json_need(cJSON_CreateArray());
    (void)watch_ns(r);
    for (size_t i = 0; i < r->inv.n && !ev.failed; i++) {
        const struct p4_inv_entry *e = &r->inv.items[i];
        char grp[128];
        const char *g = group_of(e->api_version, grp, sizeof(grp));
        struct p4_informer *inf = NULL;
        bool has_health = false;
        for (int w = 0; w < W_COUNT; w++) {
            if (w != W_SVC && strcmp(watched_kinds[w].kind, e->kind) == 0 &&
                strcmp(watched_kinds[w].group, g) == 0) {
                inf = k->inf[w];
                has_health = true;
            }
        }
        if (strcmp(e->kind, "Job") == 0 && strcmp(g, "batch") == 0) {
            inf = k->cfg.jobs;
            has_health = true;
        } else if (strcmp(e->kind, "Pod") == 0 && g[0] == '\0') {
            inf = r->nsw->pods;
            has_health = true;
        } else if (strcmp(e->kind, "Service") == 0 && g[0] == '\0') {
            eval_service(&ev, e);
        }
        if (has_health)
            eval_object(&ev, e, inf);
    }

    if (ev.failed) /* the walk stopped early: its selectors are not all of them */
        cJSON_Delete(ev.selectors);
    else
        count_pods(r, ev.selectors); /* takes them */
    ev.selectors = NULL;
    health = health_json(&ev);
    health_changed = r->health == NULL || strcmp(r->health, health) != 0;
    free(r->health);
    r->health = health;

    p4_log(P4_LOG_DEBUG, "kubernetes stage evaluated", "key", r->base.key, "ready",
           ev.failed       ? "failed"
           : ev.waiting[0] ? ev.waiting
                           : "yes",
           "synced", ev.synced ? "true" : "false", P4_LOG_END);
    if (ev.failed) {
        struct p4_error err = {.code = P4_ERR_INVALID};
        if (!r->waiting)
            goto out; /* after a pass status.health tells; a failure stays as it was */
        r->waiting = false;
        r->wait_failed = true;
        p4_stagerun_gate(&r->base, G_SERVICES, "Unknown", "NotChecked",
                         "not checked: the pods are not running");
        if (snprintf(err.message, sizeof(err.message), "%s", ev.message) < 0)
            err.message[0] = '\0';
        err.reason = static_reason(ev.reason);
        if (ev.pod[0] && read_crash_log(r, &err, ev.cls, ev.pod, ev.container) == 0)
            return; /* fails once the log's last lines are in */
        p4_stagerun_fail(&r->base, ev.cls == P4_FAIL_NONE ? P4_FAIL_ARTIFACT : ev.cls, G_PODS,
                         err.reason, &err);
        return;
    }
    if (ev.synced && ev.ready == ev.objects && ev.svc_ready == ev.svc_checked &&
        !ev.svc_waiting[0]) {
        p4_stagerun_gate(&r->base, G_PODS, "True", "PodsRunning",
                         "%d workload(s) ready: %d/%d Deployment(s) available", ev.objects,
                         ev.deploy_ready, ev.deploy_total);
        p4_stagerun_gate(&r->base, G_SERVICES, "True", "EndpointsReady",
                         "%d Service(s) with a ready endpoint (%d without a selector or "
                         "ExternalName)",
                         ev.svc_ready, ev.svc_total - ev.svc_checked);
        if (r->waiting || r->wait_failed) { /* ready, or healed since it failed */
            r->waiting = r->wait_failed = false;
            (void)uv_timer_stop(&r->base.timer); /* no retry or re-check is needed now */
            p4_stagerun_passed(&r->base, "WorkloadsReady",
                               "%zu object(s) applied in namespace %s; %d workload(s) ready, "
                               "%d/%d Service(s) with endpoints",
                               r->inv.n, r->base.target_ns, ev.objects, ev.svc_active, ev.svc_total);
            return;
        }
        goto out;
    }
    if (!r->waiting)
        goto out;
    /* Still waiting. */
    if (ev.ready < ev.objects || !ev.synced)
        p4_stagerun_gate(&r->base, G_PODS, "Unknown", "Waiting", "%d of %d workload(s) ready; %s",
                         ev.ready, ev.objects, ev.waiting[0] ? ev.waiting : "waiting");
    else
        p4_stagerun_gate(&r->base, G_PODS, "True", "PodsRunning", "%d workload(s) ready",
                         ev.objects);
    p4_stagerun_gate(&r->base, G_SERVICES, "Unknown", "Waiting", "%d of %d Service(s) ready; %s",
                     ev.svc_ready, ev.svc_checked,
                     ev.svc_waiting[0] ? ev.svc_waiting : "waiting for the pods");
    if (ev.now_ms >= r->deadline) {
        struct p4_error err = {.code = P4_ERR_TIMEOUT};
        const char *why = ev.waiting[0] ? ev.waiting : ev.svc_waiting[0] ? ev.svc_waiting : "";
        if (snprintf(err.message, sizeof(err.message),
                     "not ready within spec.rollout.timeout (%" PRIu64 "s): %s",
                     r->timeout_ms / 1000, why) < 0)
            err.message[0] = '\0';
        r->waiting = false;
        r->wait_failed = true;
        p4_stagerun_fail(&r->base, P4_FAIL_ARTIFACT,
                         ev.ready < ev.objects || !ev.synced ? G_PODS : G_SERVICES,
                         "RolloutTimedOut", &err);
        return;
    }
    next = r->deadline - ev.now_ms;
    if (ev.recheck_ms && ev.recheck_ms < next)
        next = ev.recheck_ms;
    p4_stagerun_arm(&r->base, next, on_wait_timer);
out:
    if (timer || health_changed)
        p4_stagerun_notify(&r->base);
}

/* ---- S_READ: the manifest the Helm stage stored ---- */

static void on_manifest(struct p4_kube_result *res, void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);
    struct p4_error err = {0};
    size_t len = 0;

    if (r == NULL)
        return;
    if (res->rc == P4_ERR_NOTFOUND) {
        p4_stagerun_failf(&r->base, P4_FAIL_CLUSTER, G_MANIFESTS, "ManifestNotFound",
                          "the rendered manifest, Secret %s/%s, is gone; a new generation (or "
                          "the Helm stage's next run) renders it again",
                          r->base.ns, r->secret);
        return;
    }
    if (res->rc != 0) {
        err = res->err;
        p4_stagerun_fail(&r->base, p4_kube_read_class(res->rc), G_MANIFESTS,
                         res->rc == P4_ERR_FORBIDDEN ? "Forbidden" : "APIUnavailable", &err);
        return;
    }
    r->w->manifest = p4_manifest_secret_text(res->body, P4_KUBE_STAGE_MANIFEST_MAX, &len, &err);
    if (r->w->manifest == NULL) {
        p4_stagerun_failf(&r->base, P4_FAIL_CLUSTER, G_MANIFESTS, "ManifestUnreadable",
                          "Secret %s/%s does not hold a rendered manifest: %s", r->base.ns, r->secret,
                          err.message);
        return;
    }
    r->w->objects = p4_manifest_split(r->w->manifest, len, &err);
    free(r->w->manifest);
    r->w->manifest = NULL;
    if (r->w->objects == NULL) {
        p4_stagerun_failf(&r->base, P4_FAIL_ARTIFACT, G_MANIFESTS, "ManifestInvalid",
                          "the rendered manifest in Secret %s/%s: %s", r->base.ns, r->secret,
                          err.message);
        return;
    }
    p4_stagerun_next(&r->base, S_APPLY);
}

static void read_manifest(struct run *r)
{
    char path[1024];

    r->base.pending = 0;
    p4_core_path(path, sizeof(path), r->base.ns, "secrets", r->secret);
    if (p4_stagerun_request(&r->base, stage_of(r)->cfg.kube, "GET", path, on_manifest) != 0)
        p4_stagerun_failf(&r->base, P4_FAIL_TRANSIENT, G_MANIFESTS, "APIUnavailable",
                          "cannot ask the API server for Secret %s/%s", r->base.ns, r->secret);
}

/* ---- S_APPLY ---- */

/* What the next apply prunes against: what this run applied last, else status.inventory. */
static const struct p4_inventory *prune_base(const struct run *r)
{
    return r->applied ? &r->inv : &r->previous;
}

/* status.inventory after a failed apply: what it applied, and what the last revision had. */
static char *inventory_after_failure(const struct run *r, const struct p4_inventory *applied)
{
    struct p4_inventory rest = {NULL, 0};
    cJSON *json = p4_inventory_to_json(applied), *more;
    const cJSON *it;
    char *text;

    if (p4_inventory_diff(prune_base(r), applied, &rest) == 0) {
        more = p4_inventory_to_json(&rest);
        while ((it = more->child) != NULL)
            cJSON_AddItemToArray(json, cJSON_DetachItemViaPointer(more, (cJSON *)it));
        cJSON_Delete(more);
    }
    p4_inventory_close(&rest);
    text = p4_json_print(json);
    cJSON_Delete(json);
    return text;
}

/* "Deployment shop/web" for each entry, comma-separated, cut to fit. */
static void list_entries(const struct p4_inventory *inv, char *buf, size_t size)
{
    size_t used = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < inv->n && used + 8 < size; i++) {
        const struct p4_inv_entry *e = &inv->items[i];
        int w = snprintf(buf + used, size - used, "%s%s %s%s%s", i ? ", " : "", e->kind,
                         e->namespace_, e->namespace_[0] ? "/" : "", e->name);
        if (w < 0 || (size_t)w >= size - used) {
            memcpy(buf + size - 4, "...", 4);
            return;
        }
        used += (size_t)w;
    }
}

static void on_applied(const struct p4_applyset_result *res, void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);
    char what[400];
    bool again;

    if (r == NULL)
        return;
    r->w->apply = NULL;
    if (res->rc != 0) {
        struct p4_error err = res->err;
        if (res->validated) {
            free(r->inventory);
            r->inventory = inventory_after_failure(r, &res->applied);
            p4_stagerun_gate(&r->base, G_MANIFESTS, "True", "Valid",
                             "the manifest's objects are known kinds in namespace %s",
                             r->base.target_ns);
        }
        if (res->rc == P4_ERR_CANCELED)
            return;
        p4_stagerun_fail(&r->base, res->cls == P4_FAIL_NONE ? P4_FAIL_TRANSIENT : res->cls,
                         res->validated ? G_CREATED : G_MANIFESTS,
                         err.reason ? err.reason : "ApplyFailed", &err);
        return;
    }
    again = r->applied;
    r->drift = false; /* everything was just put back (a change seen meanwhile was ours) */
    /* The inventory is this revision's now: the last one's leftovers were pruned. */
    free(r->inventory);
    {
        cJSON *json = p4_inventory_to_json(&res->applied);
        r->inventory = p4_json_print(json);
        cJSON_Delete(json);
    }
    p4_inventory_close(&r->inv);
    p4_inventory_copy(&res->applied, &r->inv);
    free(r->gens);
    r->gens = p4_calloc(r->inv.n ? r->inv.n : 1, sizeof(*r->gens));
    if (res->generations && r->inv.n == res->applied.n)
        memcpy(r->gens, res->generations, r->inv.n * sizeof(*r->gens));
    p4_stagerun_gate(&r->base, G_MANIFESTS, "True", "Valid",
                     "%zu object(s), all known kinds in namespace %s%s", res->applied.n,
                     r->base.target_ns, r->allow_cluster ? " or cluster-scoped" : "");
    p4_stagerun_gate(&r->base, G_CREATED, "True", "Applied",
                     "%zu object(s) applied (%zu created, %zu changed); %d pruned%s%s",
                     res->applied.n, res->created.n, res->changed.n, res->pruned,
                     res->prune_skipped ? ", some left alone (not ours)" : "",
                     res->taken && res->taken[0] ? "; fields changed by hand were put back" : "");
    /* Drift: applied again for the same generation and something had to be put back. */
    if ((again && (res->created.n || res->changed.n)) || (res->taken && res->taken[0])) {
        size_t used;
        list_entries(res->created.n ? &res->created : &res->changed, what, sizeof(what));
        used = (size_t)snprintf(r->drift_event, sizeof(r->drift_event),
                                "objects applied by generation %" PRId64
                                " were changed outside phase4-operator and put back",
                                r->base.generation);
        if (res->taken && res->taken[0] && used < sizeof(r->drift_event))
            (void)snprintf(r->drift_event + used, sizeof(r->drift_event) - used, ": %s",
                           res->taken);
        else if (what[0] && used < sizeof(r->drift_event))
            (void)snprintf(r->drift_event + used, sizeof(r->drift_event) - used, ": %s%s",
                           res->created.n ? "re-created " : "", what);
    }
    r->applied = true;
    if (r->base.state != P4_STAGE_PASSED) { /* a first apply, or a retry: wait again */
        r->waiting = true;
        r->wait_failed = false;
        r->deadline = uv_now(stage_of(r)->sr.loop) + r->timeout_ms;
        p4_stagerun_gate(&r->base, G_PODS, "Unknown", "Waiting", "waiting for the workloads");
    }
    p4_stagerun_end_attempt(&r->base); /* the wait holds no slot */
    (void)watch_ns(r);
    evaluate(r, true);
}

static void apply(struct run *r)
{
    struct p4_kube_stage *k = stage_of(r);
    struct p4_applyset_opts o = {
        .namespace_ = r->base.target_ns,
        .owner_namespace = r->base.ns,
        .owner_name = r->base.name,
        .generation = r->base.generation,
        .force = r->force,
        .create_namespace = r->create_namespace,
        .previous = prune_base(r),
        .take_from_updaters = true,
        .scope_namespace = r->base.target_ns,
        .allow_cluster_scoped = r->allow_cluster,
    };

    r->base.pending = 0;
    if (r->base.state != P4_STAGE_PASSED) /* applying again after a pass (drift) is quiet */
        p4_stagerun_gate(&r->base, G_CREATED, "Unknown", "Applying", "applying %d object(s)",
                         cJSON_GetArraySize(r->w->objects));
    r->base.inflight++;
    if (p4_applyset_run(k->cfg.kube, k->cfg.discovery, r->w->objects, &o, on_applied, r,
                        &r->w->apply) != 0) {
        r->base.inflight--;
        p4_stagerun_failf(&r->base, P4_FAIL_TRANSIENT, G_CREATED, "ApplyFailed",
                          "cannot start applying the manifest");
        return;
    }
    cJSON_Delete(r->w->objects); /* copied by the apply */
    r->w->objects = NULL;
}

/* ---- driving a run ---- */

static void run_step(struct p4_stagerun *base)
{
    struct run *r = (struct run *)base;

    switch (r->base.step) {
    case S_READ:
        read_manifest(r);
        break;
    case S_APPLY:
        apply(r);
        break;
    }
}

static void begin(struct p4_stagerun *base, bool retry)
{
    struct run *r = (struct run *)base;

    (void)retry;
    r->w = p4_calloc(1, sizeof(*r->w));
    r->base.step = S_READ;
    run_step(&r->base);
}

static void end_work(struct p4_stagerun *base)
{
    struct run *r = (struct run *)base;

    if (r->w == NULL)
        return;
    free(r->w->manifest);
    cJSON_Delete(r->w->objects);
    free(r->w);
    r->w = NULL;
}

/* Dropped: stop the apply (its callback comes now, finding the run gone); leave the namespace. */
static void cancel(struct p4_stagerun *base)
{
    struct run *r = (struct run *)base;

    if (r->w && r->w->apply) {
        struct p4_applyset *a = r->w->apply;
        r->w->apply = NULL;
        p4_applyset_cancel(a);
    }
    unwatch_ns(r, r->base.key);
}

static void destroy(struct p4_stagerun *base)
{
    struct run *r = (struct run *)base;

    free(r->secret);
    p4_inventory_close(&r->previous);
    p4_inventory_close(&r->inv);
    free(r->gens);
    free(r->inventory);
    free(r->health);
    cJSON_Delete(r->selectors);
    free(r);
}

/* ---- stage.h operations ---- */

static int start(void *ctx, const char *key, const cJSON *obj, struct p4_error *err)
{
    struct p4_kube_stage *k = ctx;
    const char *ns = p4_json_str(obj, "metadata.namespace");
    const char *name = p4_json_str(obj, "metadata.name");
    const char *target = p4_json_str(obj, "spec.target.namespace");
    const char *secret = p4_json_str(obj, "status.chart.manifest");
    struct run *r;

    if (p4_stagerunner_current(&k->sr, key, obj))
        return 0;
    if (ns == NULL || name == NULL || target == NULL || secret == NULL || secret[0] == '\0')
        return p4_error_set(err, P4_ERR_INVAL,
                            "the Kubernetes stage needs spec.target.namespace and "
                            "status.chart.manifest (the Helm stage's rendered manifest)");
    start_watching(k);
    r = p4_calloc(1, sizeof(*r));
    r->k = k;
    r->secret = p4_strdup(secret);
    (void)p4_json_bool(obj, "spec.target.createNamespace", &r->create_namespace);
    (void)p4_json_bool(obj, "spec.target.allowClusterScoped", &r->allow_cluster);
    (void)p4_json_bool(obj, "spec.rollout.force", &r->force);
    r->timeout_ms = p4_duration_ms(p4_json_str(obj, "spec.rollout.timeout"), 600000);
    if (p4_inventory_from_json(p4_json_get(obj, "status.inventory"), &r->previous, NULL, NULL) != 0)
        p4_inventory_close(&r->previous); /* unreadable: nothing to prune */
    p4_stagerun_add_for(&k->sr, &r->base, key, obj); /* begins on the next turn */
    return 0;
}

static int poll_run(void *ctx, const char *key, const cJSON *obj)
{
    struct p4_kube_stage *k = ctx;
    struct run *r = (struct run *)p4_stagerunner_get(&k->sr, key);

    if (r == NULL)
        return 0;
    if (r->drift_event[0]) {
        if (k->cfg.events)
            p4_events_emit(k->cfg.events, obj, "Warning", "DriftCorrected", r->drift_event);
        p4_log(P4_LOG_INFO, "drift corrected", "key", key, "what", r->drift_event, P4_LOG_END);
        r->drift_event[0] = '\0';
    }
    if (r->drift && r->applied && !attempt_busy(r) && r->base.state == P4_STAGE_PASSED) {
        /* Changed by hand: apply this generation's manifest again (a new attempt, no wait). */
        r->drift = false;
        p4_stagerun_restart_in(&r->base, 0);
        return 0;
    }
    evaluate(r, false);
    return 0;
}

/* status.inventory and status.health, as last recorded. */
static cJSON *status_of(const struct p4_stagerun *base)
{
    const struct run *r = (const struct run *)base;
    cJSON *st, *v;

    if (r->inventory == NULL && r->health == NULL)
        return NULL;
    st = p4_json_need(cJSON_CreateObject());
    if (r->inventory && (v = cJSON_Parse(r->inventory)) != NULL)
        cJSON_AddItemToObject(st, "inventory", v);
    if (r->health && (v = cJSON_Parse(r->health)) != NULL)
        cJSON_AddItemToObject(st, "health", v);
    return st;
}

static void metrics(void *ctx, struct p4_buf *out)
{
    const struct p4_kube_stage *k = ctx;

    p4_stagerunner_metrics(&k->sr, "applies", out);
    p4_buf_printf(out,
                  "# HELP phase4_kubernetes_stage_namespaces Target namespaces whose pods, "
                  "EndpointSlices and Warning Events are watched.\n"
                  "# TYPE phase4_kubernetes_stage_namespaces gauge\n"
                  "phase4_kubernetes_stage_namespaces %zu\n",
                  p4_kube_stage_namespaces(k));
}

static const struct p4_stagerun_ops run_ops = {
    .begin = begin, .step = run_step, .end_work = end_work, .destroy = destroy, .status = status_of, .cancel = cancel};

const struct p4_stage_ops p4_kube_stage_ops = {
    .name = "Kubernetes",
    .condition = "KubernetesReady",
    .start = start,
    .poll = poll_run,
    .result = p4_stagerunner_result_op,
    .forget = p4_stagerunner_forget_op,
    .metrics = metrics,
};

struct p4_kube_stage *p4_kube_stage_new(uv_loop_t *loop, const struct p4_kube_stage_config *cfg)
{
    struct p4_kube_stage *k = p4_calloc(1, sizeof(*k));

    k->cfg = *cfg;
    if (k->cfg.unschedulable_grace_ms == 0)
        k->cfg.unschedulable_grace_ms = 30000;
    k->sr = (struct p4_stagerunner){.loop = loop,
                                    .ops = &run_ops,
                                    .stage = "Kubernetes",
                                    .gate_names = gate_names,
                                    .ngates = G_COUNT,
                                    .retry_ms = cfg->retry_ms,
                                    .recheck_ms = cfg->recheck_ms,
                                    .transient_max_ms = cfg->transient_max_ms,
                                    .max_active = cfg->max_active > 0 ? cfg->max_active : 16,
                                    .transient_restarts = true,
                                    .changed = cfg->changed,
                                    .data = cfg->data};
    p4_stagerunner_init(&k->sr);
    p4_strmap_init(&k->ns);
    return k;
}

void p4_kube_stage_free(struct p4_kube_stage *k)
{
    size_t pos = 0;
    const struct p4_strmap_entry *e;

    if (k == NULL)
        return;
    p4_stagerunner_close(&k->sr); /* each run leaves its namespace */
    while ((e = p4_strmap_next(&k->ns, &pos)) != NULL)
        nswatch_free(e->value);
    p4_strmap_close(&k->ns);
    for (int i = 0; i < W_COUNT; i++)
        p4_informer_close(k->inf[i]);
    free(k);
}

size_t p4_kube_stage_namespaces(const struct p4_kube_stage *k)
{
    return k ? p4_strmap_len(&k->ns) : 0;
}
