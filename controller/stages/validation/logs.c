/*
 * stages/validation/logs.c: S_LOGS, the Logs gate (see steps.h).
 *
 * The release's pods are found from status.inventory: each workload there (Deployment,
 * StatefulSet, DaemonSet, ReplicaSet, Job) is read for its spec.selector, and its pods listed
 * with it; a Pod there is read as it is. Both come from the Kubernetes stage's caches when they
 * hold them (cfg.cache: its informers, synced), else from the API server. Then the log of each
 * of their containers since the rollout began (sinceTime, limitBytes, no timestamps) is read, a
 * few at a time, and fed to logscan.h. Every request goes through the resource's identity
 * (r->base.kube): the log reads always do, so what the author may read still decides. Three
 * phases, each all at once (the logs LOGS_AT_ONCE at a time), each concluded when its answers
 * are back.
 *
 * Bounds: at most P4_VSTAGE_LOGS_PODS pods and P4_VSTAGE_LOGS_CONTAINERS containers a pod (the
 * message says when more were left); regular containers only: an init container ended before
 * its pod ran, and one that failed kept the pod from running, which the Kubernetes stage
 * reports. A container whose log cannot be read (it never started: 400; its pod is gone: 404) is
 * skipped and counted. Each log is read whole (at most limitBytes, the first bytes written since
 * the rollout began, as the kubelet cuts them), so LOGS_AT_ONCE bounds what a run holds.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logscan.h"
#include "phase4/core/alloc.h"
#include "phase4/core/json.h"
#include "phase4/core/log.h"
#include "phase4/core/text.h"
#include "phase4/core/timefmt.h"
#include "phase4/kube/labelsel.h"
#include "phase4/kube/selector.h"
#include "steps.h"

#define LOGS_AT_ONCE 4        /* log reads in flight */
#define LOGS_WORKLOADS_MAX 64 /* workloads of the inventory read */
#define LIMIT_DEFAULT ((int64_t)1 << 20)
#define LIMIT_MIN ((int64_t)1024)
#define LIMIT_MAX ((int64_t)16 << 20)

enum phase { P_WORKLOADS, P_PODS, P_LOGS };

struct workload {
    char path[1024]; /* its API path */
    char ns[64];
    bool pod;        /* a Pod of the inventory: read as it is */
    char *query;     /* its pods' labelSelector, once read; NULL for a Pod, or one left out */
    cJSON *selector; /* the same, as read (spec.selector), or NULL */
    char kind[16], name[254];
};

/* A container whose log is read. */
struct target {
    char ns[64], pod[254], container[64];
};

struct p4_vstage_logs {
    struct p4_logscan *scan;
    int64_t limit_bytes;
    enum phase phase;
    struct workload *wl;
    int nwl;
    char (*pods)[320]; /* "ns/name" of the pods taken, P4_VSTAGE_LOGS_PODS at most */
    struct target *tg;
    int ntg, next; /* targets, and the next to read */
    struct p4_vstage_logs_tally tally;
    int out; /* requests in flight */
    /* The first failure among the requests, told once every answer is back. */
    bool failed;
    enum p4_failure_class cls;
    const char *reason;
    struct p4_error err;
};

/* One request in flight (its answer's data). */
struct lreq {
    struct run *r;
    int i; /* the workload or target it is for */
};

static void advance(struct run *r);

/* ---- pure parts (steps.h) ---- */

static const struct {
    const char *kind, *api_version, *prefix, *resource;
} kinds[] = {
    {"Deployment", "apps/v1", "/apis/apps/v1", "deployments"},
    {"StatefulSet", "apps/v1", "/apis/apps/v1", "statefulsets"},
    {"DaemonSet", "apps/v1", "/apis/apps/v1", "daemonsets"},
    {"ReplicaSet", "apps/v1", "/apis/apps/v1", "replicasets"},
    {"Job", "batch/v1", "/apis/batch/v1", "jobs"},
    {"Pod", "v1", "/api/v1", "pods"},
};

bool p4_vstage_logs_workload(const cJSON *entry, const char *ns, char *path, size_t size, bool *pod)
{
    const char *kind = p4_json_str(entry, "kind"), *av = p4_json_str(entry, "apiVersion");
    const char *name = p4_json_str(entry, "name"), *ens = p4_json_str(entry, "namespace");
    char e_ns[256], e_name[800];

    if (ens != NULL && ens[0] != '\0')
        ns = ens;
    if (kind == NULL || av == NULL || name == NULL || name[0] == '\0' || ns == NULL ||
        ns[0] == '\0' || p4_kube_escape(ns, e_ns, sizeof(e_ns)) != 0 ||
        p4_kube_escape(name, e_name, sizeof(e_name)) != 0)
        return false;
    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        int n;
        if (strcmp(kind, kinds[k].kind) != 0 || strcmp(av, kinds[k].api_version) != 0)
            continue;
        n = snprintf(path, size, "%s/namespaces/%s/%s/%s", kinds[k].prefix, e_ns, kinds[k].resource,
                     e_name);
        *pod = strcmp(kind, "Pod") == 0;
        return n > 0 && (size_t)n < size;
    }
    return false;
}

/* Whether container status st says it never ran: waiting, with no run before. */
static bool never_started(const cJSON *st)
{
    return p4_json_get(st, "state.running") == NULL &&
           p4_json_get(st, "state.terminated") == NULL &&
           p4_json_get(st, "lastState.terminated") == NULL &&
           p4_json_get(st, "state.waiting") != NULL;
}

int p4_vstage_logs_containers(const cJSON *pod, const char **names, int max, int *not_started,
                              bool *capped)
{
    const cJSON *c, *st;
    int n = 0;

    cJSON_ArrayForEach(c, p4_json_get(pod, "spec.containers")) {
        const char *name = p4_json_str(c, "name");
        bool skip = false;
        if (name == NULL || name[0] == '\0' || strlen(name) > 63)
            continue;
        cJSON_ArrayForEach(st, p4_json_get(pod, "status.containerStatuses")) {
            if (p4_text_eq(p4_json_str(st, "name"), name))
                skip = never_started(st);
        }
        if (skip) {
            (*not_started)++;
            continue;
        }
        if (n == max) {
            *capped = true;
            break;
        }
        names[n++] = name;
    }
    return n;
}

bool p4_vstage_logs_judge(const struct p4_logscan_result *res, const struct p4_vstage_logs_tally *t,
                          time_t since, struct p4_vstage_failure *f, char *msg, size_t size)
{
    char at[P4_TIMEFMT_SIZE], extra[300];
    const char *hms;
    size_t used, x = 0;

    p4_timefmt_format(since, at, sizeof(at));
    hms = strlen(at) == P4_TIMEFMT_SIZE - 1 ? at + 11 : at; /* "12:01:02Z" */
    if (res->matched > 0) {
        char *m = f->err.message;
        size_t msize = sizeof(f->err.message);
        f->cls = P4_FAIL_ARTIFACT;
        f->reason = "CriticalLogLines";
        f->err.code = P4_ERR_INVALID;
        f->err.reason = f->reason;
        p4_text_format(m, msize,
                       "%" PRIu64 " critical line(s) in the logs since %s: ", res->matched, hms);
        used = strlen(m);
        /* "pod P container C: \"line\"" for each kept line, each line cut to its share of the
           room left (a short one leaves more to those after it); a line with no room is left
           out, the count says there are more. */
        for (int i = 0; i < res->nhits; i++) {
            const struct p4_logscan_hit *h = &res->hits[i];
            size_t fixed = 0, share, before = used;
            for (int j = i; j < res->nhits; j++)
                fixed += strlen(res->hits[j].source) + 6; /* "; ", ": \"", "\"" */
            if (used + fixed + 8 * (size_t)(res->nhits - i) >= msize)
                break;
            share = (msize - 1 - used - fixed) / (size_t)(res->nhits - i);
            p4_text_format(m + used, msize - used, "%s%s: \"", i ? "; " : "", h->source);
            used += strlen(m + used);
            used += p4_text_clean(m + used, share + 1, h->line, strlen(h->line), 0);
            if (used + 2 > msize) {
                m[before] = '\0';
                used = before;
                break;
            }
            m[used++] = '"';
            m[used] = '\0';
        }
        if (used > 2 && m[used - 1] == ' ' && m[used - 2] == ':')
            m[used - 2] = '\0'; /* no line fitted */
        return false;
    }
    extra[0] = '\0';
    if (t->skipped > 0)
        x += (size_t)snprintf(extra + x, sizeof(extra) - x,
                              "; %d container(s) not started or gone, skipped", t->skipped);
    if (res->allowed > 0 && x < sizeof(extra))
        x += (size_t)snprintf(extra + x, sizeof(extra) - x,
                              "; %" PRIu64 " line(s) excused by allowPatterns", res->allowed);
    if (t->pods_capped && x < sizeof(extra))
        x += (size_t)snprintf(extra + x, sizeof(extra) - x, "; only the first %d pods were read",
                              P4_VSTAGE_LOGS_PODS);
    if (t->containers_capped && x < sizeof(extra))
        (void)snprintf(extra + x, sizeof(extra) - x,
                       "; only the first %d containers of a pod were read",
                       P4_VSTAGE_LOGS_CONTAINERS);
    if (t->read > 0)
        p4_text_format(msg, size, "%d container(s) of %d pod(s) logged no critical line since %s%s",
                       t->read, t->pods, hms, extra);
    else
        p4_text_format(msg, size, "no container of %d pod(s) had a log to read since %s%s", t->pods,
                       hms, extra);
    return true;
}

/* ---- the step ---- */

/* Who acts, for a message. */
static const char *identity(const struct run *r)
{
    return r->base.as && r->base.as[0] ? r->base.as : "phase4-operator";
}

/* Remember the first failure; the phase ends once every answer is back. */
static void failed(struct run *r, enum p4_failure_class cls, const char *reason,
                   const struct p4_error *err)
{
    struct p4_vstage_logs *st = r->w->logs;

    if (st->failed)
        return;
    st->failed = true;
    st->cls = cls;
    st->reason = reason;
    st->err = *err;
}

/* An API error on reading what the gate needs (verb and resource as RBAC names them). */
static void api_failed(struct run *r, const struct p4_kube_result *res, const char *verb,
                       const char *resource, const char *ns)
{
    struct p4_error err = res->err;
    enum p4_failure_class cls = p4_kube_read_class(res->rc);

    if (res->rc == P4_ERR_FORBIDDEN || res->rc == P4_ERR_UNAUTHORIZED) {
        p4_text_format(err.message, sizeof(err.message),
                       "%s may not read the release's pod logs (%s %s in namespace %s): %s",
                       identity(r), verb, resource, ns, res->err.message);
        failed(r, P4_FAIL_CLUSTER, "Forbidden", &err);
        return;
    }
    if (cls == P4_FAIL_CLUSTER) { /* an answer that cannot be read: waited out */
        cls = P4_FAIL_TRANSIENT;
    }
    p4_text_format(err.message, sizeof(err.message), "cannot %s %s in namespace %s: %s", verb,
                   resource, ns, res->err.message);
    failed(r, cls, "APIUnavailable", &err);
}

static int ask(struct run *r, const char *path, bool bytes, int i, p4_kube_cb cb)
{
    struct lreq *q = p4_calloc(1, sizeof(*q));
    int rc;

    q->r = r;
    q->i = i;
    p4_stagerun_out(&r->base);
    if (bytes)
        rc = p4_kube_get_bytes(r->base.kube, path,
                               (size_t)r->w->logs->limit_bytes + P4_LOGSCAN_LINE_MAX, cb, q);
    else
        rc = p4_kube_request(r->base.kube, "GET", path, NULL, NULL, 0, cb, q);
    if (rc != 0) {
        struct p4_error err;
        p4_stagerun_unout(&r->base);
        free(q);
        p4_error_set(&err, P4_ERR_INTERNAL, "cannot send a request to the API server: %s",
                     p4_strerror(rc));
        failed(r, P4_FAIL_TRANSIENT, "APIUnavailable", &err);
        return rc;
    }
    r->w->logs->out++;
    return 0;
}

/* First in every answer: the run, or NULL when it was dropped meanwhile (q is freed). */
static struct run *back(struct lreq *q, int *i)
{
    struct run *r = q->r;

    *i = q->i;
    free(q);
    if (p4_stagerun_back(&r->base) == NULL)
        return NULL;
    r->w->logs->out--;
    return r;
}

/* The pod's containers become targets (once per pod; P4_VSTAGE_LOGS_PODS pods at most). */
static void take_pod(struct run *r, const char *ns, const cJSON *pod)
{
    struct p4_vstage_logs *st = r->w->logs;
    const char *name = p4_json_str(pod, "metadata.name"), *names[P4_VSTAGE_LOGS_CONTAINERS];
    char key[320];
    int n;

    if (name == NULL || strlen(name) > 253 || p4_json_get(pod, "metadata.deletionTimestamp"))
        return; /* a pod going away is the last revision's */
    (void)snprintf(key, sizeof(key), "%s/%s", ns, name);
    for (int i = 0; i < st->tally.pods; i++) {
        if (strcmp(st->pods[i], key) == 0)
            return;
    }
    if (st->tally.pods == P4_VSTAGE_LOGS_PODS) {
        st->tally.pods_capped = true;
        return;
    }
    (void)snprintf(st->pods[st->tally.pods++], sizeof(st->pods[0]), "%s", key);
    n = p4_vstage_logs_containers(pod, names, P4_VSTAGE_LOGS_CONTAINERS, &st->tally.skipped,
                                  &st->tally.containers_capped);
    for (int i = 0; i < n; i++) {
        struct target *t = &st->tg[st->ntg++];
        (void)snprintf(t->ns, sizeof(t->ns), "%s", ns);
        (void)snprintf(t->pod, sizeof(t->pod), "%s", name);
        (void)snprintf(t->container, sizeof(t->container), "%s", names[i]);
    }
}

/* The Kubernetes stage's cache of kind in ns, or NULL (cfg.cache says). */
static struct p4_informer *cache_of(const struct run *r, const char *kind, const char *ns)
{
    const struct p4_validation_stage_config *cfg = &r->v->cfg;

    return cfg->cache ? cfg->cache(kind, ns, cfg->cache_data) : NULL;
}

/* Workload w's spec.selector: its pods are listed with it (or it is left out, said why). */
static void take_selector(struct run *r, struct workload *w, const cJSON *obj)
{
    const cJSON *sel = p4_json_get(obj, "spec.selector");
    char query[4096];
    struct p4_error err;

    if (p4_labelsel_query(sel, query, sizeof(query), &err) == 0) {
        w->query = p4_strdup(query);
        w->selector = p4_json_need(cJSON_Duplicate(sel, 1));
    } else {
        p4_log(P4_LOG_DEBUG, "a workload's pods are not read", "key", r->base.key, "path", w->path,
               "why", err.message, P4_LOG_END);
    }
}

/* Workload i from the Kubernetes stage's cache: true when it held it (nothing to ask). */
static bool cached_workload(struct run *r, int i)
{
    struct workload *w = &r->w->logs->wl[i];
    struct p4_informer *inf = cache_of(r, w->kind, w->ns);
    char key[320];
    const cJSON *obj;

    (void)snprintf(key, sizeof(key), "%s/%s", w->ns, w->name);
    if (inf == NULL || (obj = p4_informer_get(inf, key)) == NULL)
        return false; /* not cached (or not of ours): read as the resource */
    if (w->pod)
        take_pod(r, w->ns, obj);
    else
        take_selector(r, w, obj);
    return true;
}

struct pod_pick {
    struct run *r;
    const struct workload *w;
};

static int pick_pod(const char *key, const cJSON *pod, void *data)
{
    const struct pod_pick *pp = data;

    (void)key;
    if (p4_selector_matches(pp->w->selector, p4_json_get(pod, "metadata.labels")))
        take_pod(pp->r, pp->w->ns, pod);
    return 0;
}

static void on_workload(struct p4_kube_result *res, void *data)
{
    int i;
    struct run *r = back(data, &i);
    struct workload *w;

    if (r == NULL)
        return;
    w = &r->w->logs->wl[i];
    if (res->rc == 0 && w->pod) {
        take_pod(r, w->ns, res->body);
    } else if (res->rc == 0) {
        take_selector(r, w, res->body);
    } else if (res->rc != P4_ERR_NOTFOUND) { /* gone meanwhile: nothing of it to read */
        const char *resource = strstr(w->path, "/namespaces/");
        char what[32] = "workloads";
        if (resource && (resource = strchr(resource + 12, '/')) != NULL)
            (void)snprintf(what, sizeof(what), "%.*s", (int)strcspn(resource + 1, "/"),
                           resource + 1);
        api_failed(r, res, "get", what, w->ns);
    }
    advance(r);
}

static void on_pods(struct p4_kube_result *res, void *data)
{
    int i;
    struct run *r = back(data, &i);
    const cJSON *pod;

    if (r == NULL)
        return;
    if (res->rc == 0) {
        const char *more = p4_json_str(res->body, "metadata.continue");
        cJSON_ArrayForEach(pod, p4_json_get(res->body, "items")) {
            take_pod(r, r->w->logs->wl[i].ns, pod);
        }
        if (more && more[0])
            r->w->logs->tally.pods_capped = true;
    } else {
        api_failed(r, res, "list", "pods", r->w->logs->wl[i].ns);
    }
    advance(r);
}

static void on_log(struct p4_kube_result *res, void *data)
{
    int i;
    struct run *r = back(data, &i);
    struct p4_vstage_logs *st;
    const struct target *t;

    if (r == NULL)
        return;
    st = r->w->logs;
    t = &st->tg[i];
    if (res->rc == 0) {
        char source[P4_LOGSCAN_SOURCE_MAX];
        p4_text_format(source, sizeof(source), "pod %s container %s", t->pod, t->container);
        p4_logscan_begin(st->scan, source);
        p4_logscan_feed(st->scan, res->raw, res->raw_len);
        p4_logscan_end(st->scan);
        st->tally.read++;
    } else if (res->rc == P4_ERR_NOTFOUND || res->rc == P4_ERR_BADREQUEST ||
               res->rc == P4_ERR_TOOBIG) {
        /* The pod went away, the container has not started (or is waiting to restart), or
           the log is longer than limitBytes said it could be: skipped, counted. */
        p4_log(P4_LOG_DEBUG, "a container's log is not read", "key", r->base.key, "pod", t->pod,
               "container", t->container, "why", res->err.message, P4_LOG_END);
        st->tally.skipped++;
    } else {
        api_failed(r, res, "get", "pods/log", t->ns);
    }
    advance(r);
}

/* The log path of target t. */
static bool log_path(const struct run *r, const struct target *t, char *path, size_t size)
{
    char ens[256], epod[800], ec[256], at[P4_TIMEFMT_SIZE], eat[64];
    int n;

    p4_timefmt_format(r->since, at, sizeof(at));
    if (p4_kube_escape(t->ns, ens, sizeof(ens)) != 0 ||
        p4_kube_escape(t->pod, epod, sizeof(epod)) != 0 ||
        p4_kube_escape(t->container, ec, sizeof(ec)) != 0 ||
        p4_kube_escape(at, eat, sizeof(eat)) != 0)
        return false;
    n = snprintf(path, size,
                 "/api/v1/namespaces/%s/pods/%s/log?container=%s&sinceTime=%s&limitBytes=%" PRId64,
                 ens, epod, ec, eat, r->w->logs->limit_bytes);
    return n > 0 && (size_t)n < size;
}

/* Every answer of the phase is back: its result, or the next phase. */
static void conclude(struct run *r)
{
    struct p4_vstage_logs *st = r->w->logs;
    struct p4_vstage_failure f = {0};
    char msg[P4_ERROR_MESSAGE_MAX];

    if (st->failed && strcmp(st->reason, "Forbidden") == 0 &&
        p4_json_get(r->spec, "logs") == NULL) {
        /* On by default, not asked for: an identity that may not read logs is told, not
           stalled; declaring spec.validation.logs makes the check required. */
        p4_stagerun_gate(&r->base, G_LOGS, "True", "LogsNotReadable",
                         "not checked (on by default, not declared): %s; grant it, or declare "
                         "spec.validation.logs to require the check",
                         st->err.message);
        p4_stagerun_next(&r->base, S_METRICS);
        return;
    }
    if (st->failed) {
        p4_stagerun_fail(&r->base, st->cls, G_LOGS, st->reason, &st->err);
        return;
    }
    if (st->tally.pods == 0) {
        p4_stagerun_gate(&r->base, G_LOGS, "True", P4_VSTAGE_NOT_REQUIRED,
                         "the release has no pods whose logs could be read");
        p4_stagerun_next(&r->base, S_METRICS);
        return;
    }
    if (!p4_vstage_logs_judge(p4_logscan_result(st->scan), &st->tally, r->since, &f, msg,
                              sizeof(msg))) {
        p4_stagerun_fail(&r->base, f.cls, G_LOGS, f.reason, &f.err);
        return;
    }
    p4_stagerun_gate(&r->base, G_LOGS, "True", "LogsClean", "%s", msg);
    p4_stagerun_next(&r->base, S_METRICS);
}

/* P_LOGS: send the next reads, LOGS_AT_ONCE in flight at most. */
static void read_logs(struct run *r)
{
    struct p4_vstage_logs *st = r->w->logs;
    char path[2048];

    while (!st->failed && st->out < LOGS_AT_ONCE && st->next < st->ntg) {
        int i = st->next++;
        if (!log_path(r, &st->tg[i], path, sizeof(path))) {
            st->tally.skipped++; /* names too long for a path: none the API server has */
            continue;
        }
        (void)ask(r, path, true, i, on_log);
    }
}

/* P_PODS: list the pods of each selector read (once for the same selector and namespace). */
static void list_pods(struct run *r)
{
    struct p4_vstage_logs *st = r->w->logs;
    char ens[256], esel[8192], path[8600];

    for (int i = 0; i < st->nwl && !st->failed; i++) {
        const struct workload *w = &st->wl[i];
        struct p4_informer *pods;
        bool seen = false;
        int n;
        if (w->query == NULL)
            continue;
        for (int j = 0; j < i && !seen; j++)
            seen = st->wl[j].query && strcmp(st->wl[j].query, w->query) == 0 &&
                   strcmp(st->wl[j].ns, w->ns) == 0;
        if (!seen && (pods = cache_of(r, "Pod", w->ns)) != NULL) {
            struct pod_pick pp = {r, w};
            (void)p4_informer_each_in(pods, w->ns, pick_pod, &pp);
            continue;
        }
        if (seen || p4_kube_escape(w->ns, ens, sizeof(ens)) != 0 ||
            p4_kube_escape(w->query, esel, sizeof(esel)) != 0)
            continue;
        n = snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods?labelSelector=%s&limit=%d",
                     ens, esel, P4_VSTAGE_LOGS_PODS);
        if (n > 0 && (size_t)n < sizeof(path))
            (void)ask(r, path, false, i, on_pods);
    }
}

/* Send what is due of the phase; once all of it is back, go on to the next, or conclude. */
static void advance(struct run *r)
{
    struct p4_vstage_logs *st = r->w->logs;

    for (;;) {
        if (st->phase == P_LOGS)
            read_logs(r);
        if (st->out > 0)
            return; /* an answer advances again */
        if (st->failed || st->phase == P_LOGS) {
            conclude(r);
            return;
        }
        if (st->phase == P_WORKLOADS) {
            st->phase = P_PODS;
            list_pods(r);
        } else {
            st->phase = P_LOGS;
        }
    }
}

/* spec.validation.logs's patterns of name into *out (borrowed from the spec; caller frees the
 * array). -1 when absent; P4_ERR_INVAL (err) when not a list of strings. */
static int patterns(const cJSON *logs, const char *name, const char ***out, int *n,
                    struct p4_error *err)
{
    const cJSON *list = p4_json_child(logs, name), *it;
    int i = 0;

    *out = NULL;
    *n = -1;
    if (list == NULL || cJSON_IsNull(list))
        return 0;
    if (!cJSON_IsArray(list))
        return p4_error_set(err, P4_ERR_INVAL, "spec.validation.logs.%s is not a list", name);
    *n = cJSON_GetArraySize(list);
    *out = p4_calloc((size_t)*n + 1, sizeof(**out));
    cJSON_ArrayForEach(it, list) {
        if (!cJSON_IsString(it))
            return p4_error_set(err, P4_ERR_INVAL, "spec.validation.logs.%s[%d] is not a string",
                                name, i);
        (*out)[i++] = it->valuestring;
    }
    return 0;
}

void p4_vstage_logs(struct run *r)
{
    const cJSON *logs = p4_json_get(r->spec, "logs"), *e;
    const char **critical = NULL, **allow = NULL;
    struct p4_vstage_logs *st;
    struct p4_error err = {0};
    bool enabled = true;
    int ncritical = -1, nallow = -1;

    (void)p4_json_bool(logs, "enabled", &enabled);
    if (!enabled) {
        p4_stagerun_gate(&r->base, G_LOGS, "True", P4_VSTAGE_NOT_REQUIRED,
                         "reading the logs is turned off (spec.validation.logs.enabled: false)");
        p4_stagerun_next(&r->base, S_METRICS);
        return;
    }
    st = p4_calloc(1, sizeof(*st));
    r->w->logs = st;
    if (patterns(logs, "criticalPatterns", &critical, &ncritical, &err) != 0 ||
        patterns(logs, "allowPatterns", &allow, &nallow, &err) != 0 ||
        p4_logscan_new(critical, ncritical, allow, nallow < 0 ? 0 : nallow, &st->scan, &err) != 0) {
        char why[P4_ERROR_MESSAGE_MAX];
        (void)snprintf(why, sizeof(why), "%s", err.message);
        p4_text_format(err.message, sizeof(err.message), "spec.validation.logs: %s", why);
        free(critical);
        free(allow);
        p4_stagerun_fail(&r->base, P4_FAIL_ARTIFACT, G_LOGS, "InvalidLogPattern", &err);
        return;
    }
    free(critical);
    free(allow);
    if (ncritical == 0) {
        p4_stagerun_gate(&r->base, G_LOGS, "True", P4_VSTAGE_NOT_REQUIRED,
                         "spec.validation.logs.criticalPatterns is empty: no line is critical");
        p4_stagerun_next(&r->base, S_METRICS);
        return;
    }
    if (p4_json_int64(logs, "limitBytes", &st->limit_bytes) != 0)
        st->limit_bytes = LIMIT_DEFAULT;
    st->limit_bytes = st->limit_bytes < LIMIT_MIN   ? LIMIT_MIN
                      : st->limit_bytes > LIMIT_MAX ? LIMIT_MAX
                                                    : st->limit_bytes;
    st->wl = p4_calloc(LOGS_WORKLOADS_MAX, sizeof(*st->wl));
    cJSON_ArrayForEach(e, r->inventory) {
        struct workload *w = &st->wl[st->nwl];
        const char *ens = p4_json_str(e, "namespace");
        if (st->nwl == LOGS_WORKLOADS_MAX)
            break;
        if (!p4_vstage_logs_workload(e, r->base.target_ns, w->path, sizeof(w->path), &w->pod))
            continue;
        (void)snprintf(w->ns, sizeof(w->ns), "%s", ens && ens[0] ? ens : r->base.target_ns);
        (void)snprintf(w->kind, sizeof(w->kind), "%s", p4_json_str(e, "kind"));
        (void)snprintf(w->name, sizeof(w->name), "%s", p4_json_str(e, "name"));
        st->nwl++;
    }
    if (st->nwl == 0) {
        p4_stagerun_gate(&r->base, G_LOGS, "True", P4_VSTAGE_NOT_REQUIRED,
                         "the release has no workload with pods (Deployment, StatefulSet, "
                         "DaemonSet, ReplicaSet, Job or Pod)");
        p4_stagerun_next(&r->base, S_METRICS);
        return;
    }
    st->pods = p4_calloc(P4_VSTAGE_LOGS_PODS, sizeof(*st->pods));
    st->tg = p4_calloc((size_t)P4_VSTAGE_LOGS_PODS * P4_VSTAGE_LOGS_CONTAINERS, sizeof(*st->tg));
    p4_stagerun_gate(&r->base, G_LOGS, "Unknown", "ReadingLogs",
                     "reading the logs of %d workload(s) since the rollout began", st->nwl);
    for (int i = 0; i < st->nwl && !st->failed; i++) {
        if (!cached_workload(r, i))
            (void)ask(r, st->wl[i].path, false, i, on_workload);
    }
    advance(r);
}

void p4_vstage_logs_end(struct run *r)
{
    struct p4_vstage_logs *st = r->w->logs;

    if (st == NULL)
        return;
    for (int i = 0; i < st->nwl; i++) {
        free(st->wl[i].query);
        cJSON_Delete(st->wl[i].selector);
    }
    free(st->wl);
    free(st->pods);
    free(st->tg);
    p4_logscan_free(st->scan);
    free(st);
    r->w->logs = NULL;
}
