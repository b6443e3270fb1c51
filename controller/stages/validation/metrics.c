/*
 * stages/validation/metrics.c: S_METRICS, the Metrics gate (see steps.h).
 *
 * Each part spec.validation.metrics declares is required; they are checked one after the other:
 *   endpoint    the Service's metrics path read through the API server's service proxy as the
 *               resource's identity (r->base.kube), at most 4 MiB, and judged by metricsjudge.c:
 *               the Prometheus text format (promtext.c), every named series there;
 *   prometheus  <url>/api/v1/query asked directly (no credentials are sent), again every
 *               PROM_INTERVAL_MS while no target matches or one is not 1, up to PROM_WAIT_MS
 *               from the first answer: a new target is scraped only after a scrape interval;
 *   monitor     whether the cluster serves ServiceMonitor and PodMonitor (discovery; a 404 on
 *               the list says the same), those in the target namespace, and the release's Services
 *               and workloads (status.inventory) read as the resource's identity, all at once;
 *               one monitor must select one of them.
 * Nothing declared: True, NotRequired. Every part passed: True, MetricsActive, each part's
 * clause in one sentence. A part that fails ends the gate with its reason.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/core/alloc.h"
#include "phase4/core/json.h"
#include "phase4/core/text.h"
#include "phase4/kube/discovery.h"
#include "steps.h"

#define ENDPOINT_TIMEOUT_MS 10000
#define PROM_TIMEOUT_MS 10000
#define PROM_WAIT_MS 60000
#define PROM_INTERVAL_MS 3000
/* The most Services and workloads of the inventory read for the monitor part. */
#define OBJECTS_MAX 32

#define MONITOR_GROUP_VERSION "monitoring.coreos.com/v1"

enum part { P_ENDPOINT, P_PROMETHEUS, P_MONITOR, P_DONE };

/* What a request of the monitor part is for. */
enum what { W_SM_KIND, W_PM_KIND, W_SM_LIST, W_PM_LIST, W_OBJECT };

struct p4_vstage_metrics {
    struct p4_vstage_metrics_spec m;
    enum part part;
    char ok[3][P4_ERROR_MESSAGE_MAX]; /* each part's clause */
    int nok;
    bool prom_asked;    /* Prometheus answered once */
    uint64_t prom_from; /* loop time of its first answer */
    /* The monitor part. */
    bool sm_served, pm_served;
    cJSON *smons, *pmons;        /* the lists' items, or NULL */
    cJSON *services, *workloads; /* the objects read */
    int out;                     /* its requests in flight */
    bool failed;
    struct p4_vstage_failure first; /* the first of its requests that failed */
};

/* One request of the monitor part (its answer's data). */
struct mreq {
    struct run *r;
    enum what what;
    char name[96]; /* the object, for a message */
};

static void next_part(struct run *r);

static void fail(struct run *r, enum p4_failure_class cls, const char *reason, const char *msg)
{
    struct p4_error err = {.code = P4_ERR_INVALID};

    (void)snprintf(err.message, sizeof(err.message), "%s", msg);
    p4_stagerun_fail(&r->base, cls, G_METRICS, reason, &err);
}

static void on_next_part(uv_timer_t *t)
{
    next_part(t->data);
}

/* A part passed with clause ok: on to the next, on the next loop turn. */
static void part_passed(struct run *r, const char *ok)
{
    struct p4_vstage_metrics *st = r->w->metrics;

    (void)snprintf(st->ok[st->nok++], sizeof(st->ok[0]), "%s", ok);
    st->part++;
    p4_stagerun_arm(&r->base, 0, on_next_part);
}

static const char *who(const struct run *r)
{
    return r->base.as && r->base.as[0] ? r->base.as : "phase4-operator";
}

/* ---- endpoint ---- */

static void on_endpoint(struct p4_kube_result *res, void *data)
{
    struct run *r = data;
    struct p4_vstage_metrics *st;
    char msg[P4_ERROR_MESSAGE_MAX];
    bool api;

    if (p4_stagerun_back(data) == NULL)
        return;
    st = r->w->metrics;
    api = p4_vstage_from_api_server(res);
    if (res->rc == P4_ERR_TOOBIG) {
        p4_text_format(msg, sizeof(msg), "the metrics endpoint %s answered more than %zu bytes",
                       st->m.where, P4_VSTAGE_METRICS_BODY_MAX);
        fail(r, P4_FAIL_ARTIFACT, "MetricsNotExposed", msg);
    } else if (res->status == 0) {
        if (res->rc != P4_ERR_TIMEOUT) { /* the API server did not answer: waited out */
            p4_stagerun_fail(&r->base, P4_FAIL_TRANSIENT, G_METRICS, "APIUnavailable", &res->err);
            return;
        }
        p4_text_format(msg, sizeof(msg), "the metrics endpoint %s did not answer within %d s",
                       st->m.where, ENDPOINT_TIMEOUT_MS / 1000);
        fail(r, P4_FAIL_ARTIFACT, "MetricsNotExposed", msg);
    } else if (api && res->status == 404 && p4_text_eq(res->st->kind, "services")) {
        p4_text_format(msg, sizeof(msg),
                       "the metrics endpoint %s cannot be read: Service %s not found in namespace "
                       "%s",
                       st->m.where, st->m.service, r->base.target_ns);
        fail(r, P4_FAIL_ARTIFACT, "MetricsNotExposed", msg);
    } else if (api && (res->status == 403 || res->status == 401)) {
        p4_text_format(msg, sizeof(msg),
                       "%s may not reach Service %s through the API server's service proxy (get "
                       "services/proxy in namespace %s): %s",
                       who(r), st->m.service, r->base.target_ns, res->err.message);
        fail(r, P4_FAIL_CLUSTER, "Forbidden", msg);
    } else if (p4_vstage_metrics_judge(&st->m, res->status, res->raw, res->raw_len, msg,
                                       sizeof(msg))) {
        part_passed(r, msg);
    } else {
        if (api && res->st->message[0]) {
            /* The proxy's own answer (no endpoints, connection refused): its sentence. */
            char detail[400];
            p4_text_clean(detail, sizeof(detail), res->st->message, strlen(res->st->message), 0);
            p4_text_format(msg, sizeof(msg),
                           "the metrics endpoint %s answered status %ld from the API server's "
                           "service proxy: %s",
                           st->m.where, res->status, detail);
        }
        fail(r, P4_FAIL_ARTIFACT, "MetricsNotExposed", msg);
    }
}

static void endpoint(struct run *r)
{
    struct p4_vstage_metrics *st = r->w->metrics;
    char path[8192];

    if (p4_vstage_proxy_path(r->base.target_ns, st->m.service, st->m.https, st->m.port, st->m.path,
                             path, sizeof(path)) != 0) {
        fail(r, P4_FAIL_ARTIFACT, "InvalidMetricsCheck",
             "spec.validation.metrics.endpoint names a path too long for the service proxy");
        return;
    }
    p4_stagerun_out(&r->base);
    if (p4_kube_proxy(r->base.kube, "GET", path, ENDPOINT_TIMEOUT_MS, P4_VSTAGE_METRICS_BODY_MAX,
                      on_endpoint, r) != 0) {
        p4_stagerun_unout(&r->base);
        fail(r, P4_FAIL_TRANSIENT, "APIUnavailable",
             "the request for the metrics endpoint could not be sent");
    }
}

/* ---- prometheus ---- */

static void prometheus(struct run *r);

static void on_prom_tick(uv_timer_t *t)
{
    prometheus(t->data);
}

static void on_prom(int rc, const struct p4_http_response *resp, void *data)
{
    struct run *r = data;
    struct p4_vstage_metrics *st;
    struct p4_vstage_failure f;
    char ok[P4_ERROR_MESSAGE_MAX];
    uint64_t now;

    if (p4_stagerun_back(data) == NULL)
        return;
    st = r->w->metrics;
    now = uv_now(r->v->sr.loop);
    if (p4_vstage_prom_judge(&st->m, rc, resp ? resp->error : NULL, resp ? resp->status : 0,
                             resp ? resp->body : NULL, resp ? resp->len : 0, &f, ok, sizeof(ok))) {
        part_passed(r, ok);
        return;
    }
    if (!st->prom_asked) {
        st->prom_asked = true;
        st->prom_from = now;
    }
    if (p4_text_eq(f.reason, "TargetDown") && now - st->prom_from < PROM_WAIT_MS) {
        p4_stagerun_arm(&r->base, PROM_INTERVAL_MS, on_prom_tick); /* not scraped yet? */
        return;
    }
    if (p4_text_eq(f.reason, "TargetDown"))
        (void)snprintf(f.err.message + strlen(f.err.message),
                       sizeof(f.err.message) - strlen(f.err.message), " (asked for %d s)",
                       PROM_WAIT_MS / 1000);
    p4_stagerun_fail(&r->base, f.cls, G_METRICS, f.reason, &f.err);
}

static void prometheus(struct run *r)
{
    struct p4_vstage_metrics *st = r->w->metrics;
    char url[8192];
    struct p4_http_opts o = {.method = "GET",
                             .url = url,
                             .timeout_ms = PROM_TIMEOUT_MS,
                             .connect_timeout_ms = PROM_TIMEOUT_MS / 2,
                             .max_body = P4_VSTAGE_BODY_MAX,
                             .on_done = on_prom,
                             .data = r};

    if (p4_vstage_prom_query_url(&st->m, url, sizeof(url)) != 0) {
        fail(r, P4_FAIL_ARTIFACT, "InvalidMetricsCheck",
             "spec.validation.metrics.prometheus makes a query URL that is too long");
        return;
    }
    p4_stagerun_out(&r->base);
    if (p4_http_start(r->v->http, &o, NULL) != 0) {
        p4_stagerun_unout(&r->base);
        fail(r, P4_FAIL_TRANSIENT, "PrometheusUnavailable",
             "the query to Prometheus could not be sent");
    }
}

/* ---- monitor ---- */

static void judge_monitors(struct run *r)
{
    struct p4_vstage_metrics *st = r->w->metrics;
    char msg[P4_ERROR_MESSAGE_MAX];

    if (st->failed) {
        p4_stagerun_fail(&r->base, st->first.cls, G_METRICS, st->first.reason, &st->first.err);
        return;
    }
    if (p4_vstage_monitor_judge(st->sm_served ? st->smons : NULL, st->pm_served ? st->pmons : NULL,
                                st->services, st->workloads, r->base.target_ns, msg, sizeof(msg)))
        part_passed(r, msg);
    else
        fail(r, P4_FAIL_CLUSTER, "NoMonitor", msg);
}

/* The first failure of the part's requests is the one told. */
static void part_failed(struct p4_vstage_metrics *st, enum p4_failure_class cls, const char *reason,
                        const struct p4_error *err, const char *msg)
{
    if (st->failed)
        return;
    st->failed = true;
    st->first.cls = cls;
    st->first.reason = reason;
    st->first.err = *err;
    if (msg != NULL)
        (void)snprintf(st->first.err.message, sizeof(st->first.err.message), "%s", msg);
}

static void on_read(struct p4_kube_result *res, void *data)
{
    struct mreq *q = data;
    struct run *r = q->r;
    enum what what = q->what;
    struct p4_vstage_metrics *st;
    char name[sizeof(q->name)], msg[P4_ERROR_MESSAGE_MAX];

    (void)snprintf(name, sizeof(name), "%s", q->name);
    free(q);
    if (p4_stagerun_back(&r->base) == NULL)
        return;
    st = r->w->metrics;
    st->out--;
    if (res->rc == 0 && cJSON_IsObject(res->body)) {
        if (what == W_OBJECT) {
            bool service = p4_text_eq(p4_json_str(res->body, "kind"), "Service");
            cJSON_AddItemToArray(service ? st->services : st->workloads, res->body);
            res->body = NULL;
        } else {
            cJSON *items = cJSON_DetachItemFromObjectCaseSensitive(res->body, "items");
            if (!cJSON_IsArray(items)) {
                cJSON_Delete(items);
                items = p4_json_need(cJSON_CreateArray());
            }
            cJSON_Delete(what == W_SM_LIST ? st->smons : st->pmons);
            *(what == W_SM_LIST ? &st->smons : &st->pmons) = items;
        }
    } else if (res->rc == 0) {
        /* a 2xx without an object: nothing to read from it */
    } else if (res->status == 404) {
        if (what == W_SM_LIST) /* the CRD went, or discovery is behind */
            st->sm_served = false;
        else if (what == W_PM_LIST)
            st->pm_served = false;
        /* an object of the inventory that is gone selects nothing */
    } else if (res->rc == P4_ERR_FORBIDDEN || res->rc == P4_ERR_UNAUTHORIZED) {
        p4_text_format(msg, sizeof(msg), "%s may not %s in namespace %s: %s", who(r), name,
                       r->base.target_ns, res->err.message);
        part_failed(st, P4_FAIL_CLUSTER, "Forbidden", &res->err, msg);
    } else {
        enum p4_failure_class cls = p4_kube_read_class(res->rc);
        p4_text_format(msg, sizeof(msg), "cannot %s in namespace %s: %s", name, r->base.target_ns,
                       res->err.message);
        part_failed(st, cls,
                    cls == P4_FAIL_TRANSIENT ? "APIUnavailable"
                                             : (res->err.reason ? res->err.reason : "APIError"),
                    &res->err, msg);
    }
    if (st->out == 0)
        judge_monitors(r);
}

static void send_read(struct run *r, enum what what, const char *path, const char *name)
{
    struct mreq *q = p4_calloc(1, sizeof(*q));

    q->r = r;
    q->what = what;
    p4_text_clean(q->name, sizeof(q->name), name, strlen(name), P4_TEXT_LITERAL);
    p4_stagerun_out(&r->base);
    if (p4_kube_request(r->base.kube, "GET", path, NULL, NULL, 0, on_read, q) != 0) {
        struct p4_error err;
        p4_stagerun_unout(&r->base);
        free(q);
        p4_error_set(&err, P4_ERR_INTERNAL, "a request could not be sent");
        part_failed(r->w->metrics, P4_FAIL_TRANSIENT, "APIUnavailable", &err, NULL);
        return;
    }
    r->w->metrics->out++;
}

static bool workload_kind(const char *kind)
{
    static const char *const kinds[] = {
        "Deployment", "StatefulSet",           "DaemonSet", "ReplicaSet", "Job", "CronJob",
        "Pod",        "ReplicationController", NULL};

    for (int i = 0; kinds[i]; i++) {
        if (p4_text_eq(kind, kinds[i]))
            return true;
    }
    return false;
}

/* The release's Services and workloads, as status.inventory lists them. */
static void read_inventory(struct run *r)
{
    const struct p4_discovery *d = r->v->cfg.discovery;
    const cJSON *e;
    char path[1024], what[160];
    int services = 0, workloads = 0;

    cJSON_ArrayForEach(e, r->inventory) {
        const char *kind = p4_json_str(e, "kind"), *name = p4_json_str(e, "name");
        const char *ns = p4_json_str(e, "namespace"), *av = p4_json_str(e, "apiVersion");
        const struct p4_resource_info *info;
        if (name == NULL || ns == NULL || av == NULL)
            continue;
        if (p4_text_eq(kind, "Service") && p4_text_eq(av, "v1")) {
            if (services++ >= OBJECTS_MAX)
                continue;
            p4_core_path(path, sizeof(path), ns, "services", name);
        } else if (workload_kind(kind) && d != NULL &&
                   (info = p4_discovery_find(d, av, kind)) != NULL) {
            if (workloads++ >= OBJECTS_MAX ||
                p4_resource_path(info, ns, name, path, sizeof(path)) != 0)
                continue;
        } else {
            continue;
        }
        (void)snprintf(what, sizeof(what), "get %s %s", kind, name);
        send_read(r, W_OBJECT, path, what);
    }
}

static void read_monitors(struct run *r)
{
    struct p4_vstage_metrics *st = r->w->metrics;
    char ens[256], path[512];

    if (!st->sm_served && !st->pm_served) {
        judge_monitors(r); /* not installed */
        return;
    }
    st->services = p4_json_need(cJSON_CreateArray());
    st->workloads = p4_json_need(cJSON_CreateArray());
    if (p4_kube_escape(r->base.target_ns, ens, sizeof(ens)) != 0) {
        fail(r, P4_FAIL_ARTIFACT, "InvalidMetricsCheck", "the target namespace is too long");
        return;
    }
    if (st->sm_served) {
        (void)snprintf(path, sizeof(path), "/apis/%s/namespaces/%s/servicemonitors",
                       MONITOR_GROUP_VERSION, ens);
        send_read(r, W_SM_LIST, path, "list servicemonitors");
    }
    if (st->pm_served) {
        (void)snprintf(path, sizeof(path), "/apis/%s/namespaces/%s/podmonitors",
                       MONITOR_GROUP_VERSION, ens);
        send_read(r, W_PM_LIST, path, "list podmonitors");
    }
    read_inventory(r);
    if (st->out == 0)
        judge_monitors(r); /* nothing could be sent */
}

static void on_kind(int rc, const struct p4_resource_info *info, const struct p4_error *err,
                    void *data)
{
    struct mreq *q = data;
    struct run *r = q->r;
    enum what what = q->what;
    struct p4_vstage_metrics *st;

    (void)info;
    free(q);
    if (p4_stagerun_back(&r->base) == NULL)
        return;
    st = r->w->metrics;
    st->out--;
    if (rc == 0 || rc == P4_ERR_NOTFOUND)
        *(what == W_SM_KIND ? &st->sm_served : &st->pm_served) = rc == 0;
    else
        part_failed(st, P4_FAIL_TRANSIENT, "APIUnavailable", err, NULL);
    if (st->out > 0)
        return;
    if (st->failed)
        judge_monitors(r);
    else
        read_monitors(r);
}

static void monitor(struct run *r)
{
    struct p4_vstage_metrics *st = r->w->metrics;
    static const char *const kinds[] = {"ServiceMonitor", "PodMonitor"};

    st->out = 0;
    if (r->v->cfg.discovery == NULL) { /* the lists' 404 tells */
        st->sm_served = st->pm_served = true;
        read_monitors(r);
        return;
    }
    for (int i = 0; i < 2; i++) {
        struct mreq *q = p4_calloc(1, sizeof(*q));
        q->r = r;
        q->what = i == 0 ? W_SM_KIND : W_PM_KIND;
        p4_stagerun_out(&r->base);
        if (p4_discovery_lookup(r->v->cfg.discovery, MONITOR_GROUP_VERSION, kinds[i], on_kind, q) !=
            0) {
            struct p4_error err;
            p4_stagerun_unout(&r->base);
            free(q);
            p4_error_set(&err, P4_ERR_INTERNAL, "discovery could not be asked about %s", kinds[i]);
            part_failed(st, P4_FAIL_TRANSIENT, "APIUnavailable", &err, NULL);
            continue;
        }
        st->out++;
    }
    if (st->out == 0)
        judge_monitors(r);
}

/* ---- the step ---- */

static void next_part(struct run *r)
{
    struct p4_vstage_metrics *st = r->w->metrics;
    char all[P4_ERROR_MESSAGE_MAX];
    size_t at = 0;

    for (;;) {
        switch (st->part) {
        case P_ENDPOINT:
            if (st->m.endpoint) {
                endpoint(r);
                return;
            }
            break;
        case P_PROMETHEUS:
            if (st->m.prometheus) {
                prometheus(r);
                return;
            }
            break;
        case P_MONITOR:
            if (st->m.monitor) {
                monitor(r);
                return;
            }
            break;
        case P_DONE:
            all[0] = '\0';
            for (int i = 0; i < st->nok && at < sizeof(all); i++) {
                int w = snprintf(all + at, sizeof(all) - at, "%s%s", i ? "; " : "", st->ok[i]);
                if (w < 0)
                    break;
                at += (size_t)w;
            }
            p4_stagerun_gate(&r->base, G_METRICS, "True", "MetricsActive", "%s", all);
            p4_vstage_done(r);
            return;
        }
        st->part++;
    }
}

void p4_vstage_metrics(struct run *r)
{
    const cJSON *metrics = p4_json_get(r->spec, "metrics");
    struct p4_vstage_metrics *st;
    struct p4_error err;

    st = p4_calloc(1, sizeof(*st));
    r->w->metrics = st;
    if (p4_vstage_metrics_read(cJSON_IsObject(metrics) ? metrics : NULL, r->base.target_ns, &st->m,
                               &err) != 0) {
        p4_stagerun_fail(&r->base, P4_FAIL_ARTIFACT, G_METRICS, "InvalidMetricsCheck", &err);
        return;
    }
    if (!st->m.endpoint && !st->m.prometheus && !st->m.monitor) {
        p4_stagerun_gate(&r->base, G_METRICS, "True", P4_VSTAGE_NOT_REQUIRED,
                         "nothing declared in spec.validation.metrics");
        p4_vstage_done(r);
        return;
    }
    p4_stagerun_gate(&r->base, G_METRICS, "Unknown", "Checking", "checking metrics collection");
    st->part = P_ENDPOINT;
    next_part(r);
}

void p4_vstage_metrics_end(struct run *r)
{
    struct p4_vstage_metrics *st = r->w->metrics;

    if (st == NULL)
        return;
    cJSON_Delete(st->smons);
    cJSON_Delete(st->pmons);
    cJSON_Delete(st->services);
    cJSON_Delete(st->workloads);
    free(st);
    r->w->metrics = NULL;
}
