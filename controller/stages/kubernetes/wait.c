/*
 * wait.c: the Kubernetes stage's wait once it applied: PodsRunning and ServicesReady.
 *
 * p4_kstage_evaluate() reads every applied workload, pod and Service from the watches' caches
 * (watches.c) on each poll and decides (p4_kstage_wait_decide): pass, keep waiting, fail fast
 * on a failure waiting cannot heal (diagnose.h names it and says who must act; a crash loop's
 * message gets its container's last log lines, crashlog.c), or time out (RolloutTimedOut) at
 * spec.rollout.timeout. An unschedulable pod fails only after the unschedulable grace. A
 * Service waits for a ready endpoint unless it is ExternalName or has no selector. No attempt
 * is held while it waits. status.health (healthsummary.c) is made again on every evaluation.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "phase4/core/alloc.h"
#include "phase4/core/json.h"
#include "phase4/core/log.h"
#include "phase4/core/text.h"
#include "phase4/core/timefmt.h"
#include "steps.h"

#define WAITING_MAX 600

struct eval {
    struct p4_kube_stage *k;
    struct run *r;
    uint64_t now_ms;                      /* loop time */
    time_t wall;                          /* for the scheduler's timestamps */
    bool synced;                          /* every cache it reads has listed */
    bool failed;                          /* a failure waiting cannot heal */
    struct p4_kstage_object_failure fail; /* what failed, once failed */
    int objects, ready;                   /* workloads (kinds with health) */
    char waiting[WAITING_MAX];            /* the first not ready, and why */
    uint64_t recheck_ms;                  /* 0, or re-evaluate after this (a grace ends) */
    struct p4_kstage_counts counts; /* workloads ready/total by kind; the Services' are below */
    int svc_total, svc_active, svc_checked, svc_ready;
    char svc_waiting[WAITING_MAX];
    cJSON *selectors; /* the pod selectors of the workloads seen */
};

/* ---- the decisions ---- */

const char *p4_kstage_static_reason(const char *reason)
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

/* Seconds a pod has been unschedulable (PodScheduled=False since), or -1. */
long p4_kstage_unschedulable_for(const cJSON *pod, time_t now)
{
    const cJSON *c;

    cJSON_ArrayForEach(c, p4_json_get(pod, "status.conditions")) {
        const char *t = p4_json_str(c, "type"), *s = p4_json_str(c, "status");
        int64_t since;
        if (t == NULL || s == NULL || strcmp(t, "PodScheduled") != 0 || strcmp(s, "False") != 0)
            continue;
        if (p4_timefmt_parse(p4_json_str(c, "lastTransitionTime"), &since) != 0 &&
            p4_timefmt_parse(p4_json_str(pod, "metadata.creationTimestamp"), &since) != 0)
            return 0;
        since /= 1000000;
        return now < since ? 0 : (long)(now - since);
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

void p4_kstage_failure_of(const cJSON *obj, const struct p4_health *h,
                          struct p4_kstage_object_failure *out)
{
    struct p4_diagnosis dg;
    const char *kind = p4_json_str(obj, "kind"), *name = p4_json_str(obj, "metadata.name");
    const char *container = crashing_container(obj);

    memset(out, 0, sizeof(*out));
    if (p4_diagnose_object(obj, &dg) == 1 && dg.reason[0]) {
        (void)snprintf(out->reason, sizeof(out->reason), "%s", dg.reason);
        (void)snprintf(out->message, sizeof(out->message), "%s", dg.message);
        out->cls = dg.cls;
    } else {
        (void)snprintf(out->reason, sizeof(out->reason), "%s", h->reason);
        (void)snprintf(out->message, sizeof(out->message), "%s", h->message);
        out->cls = P4_FAIL_ARTIFACT;
    }
    if (kind && strcmp(kind, "Pod") == 0 && name && container &&
        strcmp(out->reason, "CrashLoopBackOff") == 0) {
        (void)snprintf(out->pod, sizeof(out->pod), "%s", name);
        (void)snprintf(out->container, sizeof(out->container), "%s", container);
    }
}

enum p4_kstage_pod_verdict p4_kstage_pod_verdict(const cJSON *selector, const cJSON *pod,
                                                 time_t now, uint64_t grace_ms, struct p4_health *h,
                                                 uint64_t *left_ms)
{
    long secs;

    if (!p4_selector_matches(selector, p4_json_get(pod, "metadata.labels")) ||
        p4_json_get(pod, "metadata.deletionTimestamp") != NULL || p4_health_eval(pod, h) != 0 ||
        h->status == P4_HEALTH_CURRENT)
        return P4_KSTAGE_POD_SKIP;
    if (h->status == P4_HEALTH_FAILED && strcmp(h->reason, "Unschedulable") == 0 &&
        (secs = p4_kstage_unschedulable_for(pod, now)) >= 0 && (uint64_t)secs * 1000 < grace_ms) {
        /* The scheduler may still place it: look again when the grace ends. */
        *left_ms = grace_ms - (uint64_t)secs * 1000;
        return P4_KSTAGE_POD_GRACE;
    }
    if (h->status == P4_HEALTH_FAILED && h->permanent)
        return P4_KSTAGE_POD_FAIL;
    return P4_KSTAGE_POD_WAIT;
}

/* The new ReplicaSet a Deployment's Progressing condition names (its controller writes
   'ReplicaSet "web-5d4b8c" is progressing.', 'Created new replica set "web-5d4b8c"', ...). */
static bool new_replicaset(const cJSON *dep, char *out, size_t size)
{
    const cJSON *c;

    cJSON_ArrayForEach(c, p4_json_get(dep, "status.conditions")) {
        const char *m = p4_json_str(c, "message"), *a, *b;
        if (!p4_text_eq(p4_json_str(c, "type"), "Progressing") || m == NULL)
            continue;
        if ((a = strchr(m, '"')) == NULL || (b = strchr(a + 1, '"')) == NULL || b == a + 1 ||
            (size_t)(b - a - 1) >= size)
            return false;
        memcpy(out, a + 1, (size_t)(b - a - 1));
        out[b - a - 1] = '\0';
        return true;
    }
    return false;
}

bool p4_kstage_pod_is_old(const char *kind, const cJSON *workload, const cJSON *pod)
{
    int64_t generation, observed;
    const cJSON *o;

    if (kind == NULL || workload == NULL || pod == NULL)
        return false;
    if (p4_json_int64(workload, "metadata.generation", &generation) == 0 &&
        (p4_json_int64(workload, "status.observedGeneration", &observed) != 0 ||
         observed < generation))
        return true; /* its controller has not acted on this spec: the pods are an earlier one's */
    if (strcmp(kind, "Deployment") == 0) {
        const char *name = p4_json_str(workload, "metadata.name");
        char rs[256];
        size_t n;
        if (name == NULL || !new_replicaset(workload, rs, sizeof(rs)))
            return false;
        n = strlen(name);
        if (strncmp(rs, name, n) != 0 || rs[n] != '-') /* not a name it would give: unknown */
            return false;
        cJSON_ArrayForEach(o, p4_json_get(pod, "metadata.ownerReferences")) {
            const char *owner = p4_json_str(o, "name");
            if (p4_text_eq(p4_json_str(o, "kind"), "ReplicaSet") && owner != NULL)
                return strcmp(owner, rs) != 0;
        }
        return false;
    }
    if (strcmp(kind, "StatefulSet") == 0) {
        const char *update = p4_json_str(workload, "status.updateRevision");
        const cJSON *labels = p4_json_get(pod, "metadata.labels");
        const cJSON *hash = cJSON_GetObjectItemCaseSensitive(labels, "controller-revision-hash");
        return update != NULL && update[0] && cJSON_IsString(hash) &&
               strcmp(hash->valuestring, update) != 0;
    }
    return false;
}

enum p4_kstage_object_verdict p4_kstage_object_verdict(const cJSON *obj, struct p4_health *h)
{
    struct p4_diagnosis dg;

    if (p4_health_eval(obj, h) != 0)
        return P4_KSTAGE_OBJECT_UNREADABLE;
    if (h->status == P4_HEALTH_CURRENT)
        return P4_KSTAGE_OBJECT_READY;
    if (h->status == P4_HEALTH_FAILED &&
        (h->permanent || (p4_diagnose_object(obj, &dg) == 1 && dg.reason[0])))
        return P4_KSTAGE_OBJECT_FAILED;
    return P4_KSTAGE_OBJECT_NOT_YET;
}

bool p4_kstage_service_needs_endpoints(const cJSON *svc)
{
    const char *type = p4_json_str(svc, "spec.type");
    const cJSON *sel = p4_json_get(svc, "spec.selector");

    return !((type && strcmp(type, "ExternalName") == 0) || !cJSON_IsObject(sel) ||
             sel->child == NULL);
}

bool p4_kstage_slice_ready(const cJSON *slice, const char *service)
{
    const char *svc = p4_kstage_slice_service(slice);
    const cJSON *ep;

    if (svc == NULL || strcmp(svc, service) != 0)
        return false;
    cJSON_ArrayForEach(ep, p4_json_get(slice, "endpoints")) {
        const cJSON *ready = p4_json_get(ep, "conditions.ready");
        if (ready == NULL || cJSON_IsTrue(ready)) /* absent means ready (the API's default) */
            return true;
    }
    return false;
}

void p4_kstage_wait_decide(const struct p4_kstage_tally *t, bool waiting, bool wait_failed,
                           uint64_t now_ms, uint64_t deadline_ms,
                           struct p4_kstage_wait_verdict *out)
{
    memset(out, 0, sizeof(*out));
    out->gate = t->ready < t->objects || !t->synced ? G_PODS : G_SERVICES;
    if (t->failed) {
        /* After a pass status.health tells; a failure stays as it was. */
        out->action = waiting ? P4_KSTAGE_FAIL : P4_KSTAGE_IDLE;
        out->gate = G_PODS;
        out->cls = t->cls == P4_FAIL_NONE ? P4_FAIL_ARTIFACT : t->cls;
        return;
    }
    if (t->synced && t->ready == t->objects && t->svc_ready == t->svc_checked && !t->svc_waiting) {
        /* Ready: passes when it waited, or healed since it failed. */
        out->action = waiting || wait_failed ? P4_KSTAGE_PASS : P4_KSTAGE_READY;
        return;
    }
    if (!waiting) {
        out->action = P4_KSTAGE_IDLE;
        return;
    }
    if (now_ms >= deadline_ms) {
        out->action = P4_KSTAGE_TIMEOUT;
        out->cls = P4_FAIL_ARTIFACT;
        return;
    }
    out->action = P4_KSTAGE_WAIT;
    out->next_ms = deadline_ms - now_ms;
    if (t->recheck_ms && t->recheck_ms < out->next_ms)
        out->next_ms = t->recheck_ms;
}

void p4_kstage_timeout_message(uint64_t timeout_ms, const char *waiting, const char *svc_waiting,
                               struct p4_error *err)
{
    const char *why = waiting[0] ? waiting : svc_waiting[0] ? svc_waiting : "";

    *err = (struct p4_error){.code = P4_ERR_TIMEOUT};
    if (snprintf(err->message, sizeof(err->message),
                 "not ready within spec.rollout.timeout (%" PRIu64 "s): %s", timeout_ms / 1000,
                 why) < 0)
        err->message[0] = '\0';
}

/* ---- one evaluation ---- */

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

/* A failed object: the evaluation fails on the first one. */
static void failed_object(struct eval *ev, const cJSON *obj, const struct p4_health *h)
{
    if (ev->failed)
        return;
    ev->failed = true;
    p4_kstage_failure_of(obj, h, &ev->fail);
}

struct pod_scan {
    struct eval *ev;
    const cJSON *selector;
    const char *owner;     /* "Deployment shop/web" */
    const char *kind;      /* "Deployment" */
    const cJSON *workload; /* as its cache has it */
};

static int scan_pod(const char *key, const cJSON *pod, void *data)
{
    struct pod_scan *ps = data;
    struct eval *ev = ps->ev;
    struct p4_health h;
    uint64_t left = 0;
    enum p4_kstage_pod_verdict v = p4_kstage_pod_verdict(
        ps->selector, pod, ev->wall, ev->k->cfg.unschedulable_grace_ms, &h, &left);

    if (v == P4_KSTAGE_POD_SKIP)
        return 0;
    p4_log(P4_LOG_DEBUG, "pod not ready", "pod", key, "reason", h.reason, "status",
           p4_health_status_name(h.status), P4_LOG_END);
    if (v == P4_KSTAGE_POD_FAIL && p4_kstage_pod_is_old(ps->kind, ps->workload, pod)) {
        /* An earlier revision's pod, which the rollout replaces: wait for it. */
        note_waiting(ev, "%s: a pod of its earlier revision is being replaced (%s)", ps->owner,
                     h.message);
        return 0;
    }
    if (v == P4_KSTAGE_POD_FAIL) {
        failed_object(ev, pod, &h);
        return 1;
    }
    if (v == P4_KSTAGE_POD_GRACE && (ev->recheck_ms == 0 || left < ev->recheck_ms))
        ev->recheck_ms = left;
    note_waiting(ev, "%s: %s", ps->owner, h.message);
    return 0;
}

/* A workload or pod of the inventory, from its cache. */
static void eval_object(struct eval *ev, const struct p4_inv_entry *e, struct p4_informer *inf)
{
    char key[700], what[800];
    const cJSON *obj;
    struct p4_health h;
    enum p4_kstage_workload kind = p4_kstage_workload_of(e->kind);

    ev->objects++;
    if (kind != WL_COUNT)
        ev->counts.total[kind]++;
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
    switch (p4_kstage_object_verdict(obj, &h)) {
    case P4_KSTAGE_OBJECT_UNREADABLE:
        note_waiting(ev, "%s: %s", what, h.message);
        return;
    case P4_KSTAGE_OBJECT_READY:
        ev->ready++;
        if (kind != WL_COUNT)
            ev->counts.ready[kind]++;
        return;
    case P4_KSTAGE_OBJECT_FAILED:
        failed_object(ev, obj, &h);
        return;
    case P4_KSTAGE_OBJECT_NOT_YET:
        break;
    }
    /* Not there yet: its pods may say why (or that it never will be). */
    if (strcmp(e->kind, "Pod") != 0 && p4_kstage_ns_pods(ev->r) != NULL) {
        struct pod_scan ps = {ev, p4_json_get(obj, "spec.selector"), what, e->kind, obj};
        (void)p4_informer_each_in(p4_kstage_ns_pods(ev->r), ev->r->nsw->ns, scan_pod, &ps);
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

    (void)key;
    if (!p4_kstage_slice_ready(slice, ss->service))
        return 0;
    ss->ready = true;
    return 1;
}

static void eval_service(struct eval *ev, const struct p4_inv_entry *e)
{
    struct p4_informer *inf = ev->k->inf[W_SVC];
    char key[700];
    const cJSON *svc;
    struct slice_scan ss = {e->name, false};

    ev->svc_total++;
    if (inf == NULL || !p4_informer_synced(inf) || ev->k->slices == NULL ||
        !p4_informer_synced(ev->k->slices)) {
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
    if (!p4_kstage_service_needs_endpoints(svc)) {
        ev->svc_active++; /* no endpoints to wait for */
        return;
    }
    ev->svc_checked++;
    (void)p4_informer_each_in(ev->k->slices, e->namespace_, scan_slice, &ss);
    if (ss.ready) {
        ev->svc_active++;
        ev->svc_ready++;
    } else if (!ev->svc_waiting[0]) {
        (void)snprintf(ev->svc_waiting, sizeof(ev->svc_waiting),
                       "Service %s/%s has no ready endpoint in its EndpointSlices yet",
                       e->namespace_, e->name);
    }
}

/* ---- evaluating ---- */

static void on_wait_timer(uv_timer_t *t)
{
    struct run *r = t->data;

    p4_kstage_evaluate(r, true);
}

/* Read every applied object with a health or endpoints into ev; stops at a failure. */
static void walk(struct eval *ev)
{
    struct run *r = ev->r;

    for (size_t i = 0; i < r->inv.n && !ev->failed; i++) {
        const struct p4_inv_entry *e = &r->inv.items[i];
        int w = 0;
        switch (p4_kstage_source_of(e->api_version, e->kind, &w)) {
        case P4_KSTAGE_SRC_WATCHED:
            eval_object(ev, e, ev->k->inf[w]);
            break;
        case P4_KSTAGE_SRC_JOBS:
            eval_object(ev, e, ev->k->cfg.jobs);
            break;
        case P4_KSTAGE_SRC_PODS:
            eval_object(ev, e, p4_kstage_ns_pods(r));
            break;
        case P4_KSTAGE_SRC_SERVICE:
            eval_service(ev, e);
            break;
        case P4_KSTAGE_SRC_NONE:
            break;
        }
    }
}

/* The gates while it waits: PodsRunning (ready once only Services are waited for), ServicesReady.
 */
static void waiting_gates(struct run *r, const struct eval *ev, int gate)
{
    if (gate == G_PODS)
        p4_stagerun_gate(&r->base, G_PODS, "Unknown", "Waiting", "%d of %d workload(s) ready; %s",
                         ev->ready, ev->objects, ev->waiting[0] ? ev->waiting : "waiting");
    else
        p4_stagerun_gate(&r->base, G_PODS, "True", "PodsRunning", "%d workload(s) ready",
                         ev->objects);
    p4_stagerun_gate(&r->base, G_SERVICES, "Unknown", "Waiting", "%d of %d Service(s) ready; %s",
                     ev->svc_ready, ev->svc_checked,
                     ev->svc_waiting[0] ? ev->svc_waiting : "waiting for the pods");
}

/* The wait failed for good: PodsRunning fails (once a crash loop's log lines are in). */
static void wait_failed(struct run *r, const struct eval *ev, enum p4_failure_class cls)
{
    struct p4_error err = {.code = P4_ERR_INVALID};

    r->waiting = false;
    r->wait_failed = true;
    p4_stagerun_gate(&r->base, G_SERVICES, "Unknown", "NotChecked",
                     "not checked: the pods are not running");
    if (snprintf(err.message, sizeof(err.message), "%s", ev->fail.message) < 0)
        err.message[0] = '\0';
    err.reason = p4_kstage_static_reason(ev->fail.reason);
    if (ev->fail.pod[0] &&
        p4_kstage_read_crash_log(r, &err, cls, ev->fail.pod, ev->fail.container) == 0)
        return; /* fails once the log's last lines are in */
    p4_stagerun_fail(&r->base, cls, G_PODS, err.reason, &err);
}

/*
 * Evaluate the workloads and Services applied: pass, fail fast, time out, or
 * keep waiting (the watches bring the next poll). Only once applied, and not
 * while an attempt runs.
 */
void p4_kstage_evaluate(struct run *r, bool timer)
{
    struct p4_kube_stage *k = r->k;
    struct eval ev;
    struct p4_kstage_tally t;
    struct p4_kstage_wait_verdict v;
    struct p4_kstage_counts counts;
    struct p4_error err;
    char *health;
    const char *problem = NULL;
    bool health_changed;

    /* An attempt for the post hooks or the prune is due (the run's timer begins it): it
       evaluates again when it is done. */
    if (!r->applied || p4_kstage_attempt_busy(r) || r->base.gone || r->hooks_post_pending ||
        r->prune_now)
        return;
    memset(&ev, 0, sizeof(ev));
    ev.k = k;
    ev.r = r;
    ev.synced = true;
    ev.now_ms = uv_now(k->sr.loop);
    ev.wall = time(NULL);
    ev.selectors = p4_json_need(cJSON_CreateArray());
    (void)p4_kstage_watch_ns(r);
    walk(&ev);

    if (ev.failed) /* the walk stopped early: its selectors are not all of them */
        cJSON_Delete(ev.selectors);
    else
        p4_kstage_count_pods(r, ev.selectors); /* takes them */
    ev.selectors = NULL;
    counts = ev.counts;
    counts.svc_active = ev.svc_active;
    counts.svc_total = ev.svc_total;
    /* Passed, and now something is not healthy: status.health says what (Degraded). */
    if (r->base.state == P4_STAGE_PASSED && !r->waiting && ev.synced)
        problem = ev.failed                       ? ev.fail.message
                  : ev.ready < ev.objects         ? ev.waiting
                  : ev.svc_ready < ev.svc_checked ? ev.svc_waiting
                                                  : NULL;
    health = p4_kstage_health_json(r, &counts, problem);
    health_changed = r->health == NULL || strcmp(r->health, health) != 0;
    free(r->health);
    r->health = health;

    p4_log(P4_LOG_DEBUG, "kubernetes stage evaluated", "key", r->base.key, "ready",
           ev.failed       ? "failed"
           : ev.waiting[0] ? ev.waiting
                           : "yes",
           "synced", ev.synced ? "true" : "false", P4_LOG_END);
    t = (struct p4_kstage_tally){.synced = ev.synced,
                                 .failed = ev.failed,
                                 .cls = ev.fail.cls,
                                 .objects = ev.objects,
                                 .ready = ev.ready,
                                 .svc_checked = ev.svc_checked,
                                 .svc_ready = ev.svc_ready,
                                 .svc_waiting = ev.svc_waiting[0] != '\0',
                                 .recheck_ms = ev.recheck_ms};
    p4_kstage_wait_decide(&t, r->waiting, r->wait_failed, ev.now_ms, r->deadline, &v);
    switch (v.action) {
    case P4_KSTAGE_IDLE:
        break;
    case P4_KSTAGE_FAIL:
        wait_failed(r, &ev, v.cls);
        return;
    case P4_KSTAGE_READY:
    case P4_KSTAGE_PASS:
        p4_stagerun_gate(&r->base, G_PODS, "True", "PodsRunning",
                         "%d workload(s) ready: %d/%d Deployment(s) available", ev.objects,
                         ev.counts.ready[WL_DEPLOYMENTS], ev.counts.total[WL_DEPLOYMENTS]);
        p4_stagerun_gate(&r->base, G_SERVICES, "True", "EndpointsReady",
                         "%d Service(s) with a ready endpoint (%d without a selector or "
                         "ExternalName)",
                         ev.svc_ready, ev.svc_total - ev.svc_checked);
        if (v.action == P4_KSTAGE_READY)
            break;
        /* Ready: the post hooks (hooks.c), then the prune of what the last revision left
           (applystep.c), each in an attempt of its own; the run's timer begins it, so a later
           evaluation before it began must leave the timer alone. */
        if (r->has_post_hooks && !r->hooks_post_done) {
            if (!r->hooks_post_pending) {
                r->hooks_post_pending = true;
                p4_stagerun_restart_in(&r->base, 0);
            }
            return;
        }
        if (r->prune_pending) {
            if (!r->prune_now) {
                r->prune_now = true;
                p4_stagerun_restart_in(&r->base, 0);
            }
            return;
        }
        r->waiting = r->wait_failed = false;
        (void)uv_timer_stop(&r->base.timer); /* no retry or re-check is needed now */
        p4_stagerun_passed(&r->base, "WorkloadsReady",
                           "%zu object(s) applied in namespace %s; %d workload(s) ready, "
                           "%d/%d Service(s) with endpoints",
                           r->inv.n, r->base.target_ns, ev.objects, ev.svc_active, ev.svc_total);
        return;
    case P4_KSTAGE_TIMEOUT:
        waiting_gates(r, &ev, v.gate);
        p4_kstage_timeout_message(r->timeout_ms, ev.waiting, ev.svc_waiting, &err);
        r->waiting = false;
        r->wait_failed = true;
        p4_stagerun_fail(&r->base, v.cls, v.gate, "RolloutTimedOut", &err);
        return;
    case P4_KSTAGE_WAIT:
        waiting_gates(r, &ev, v.gate);
        p4_stagerun_arm(&r->base, v.next_ms, on_wait_timer);
        break;
    }
    if (timer || health_changed)
        p4_stagerun_notify(&r->base);
}
