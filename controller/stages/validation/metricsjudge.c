/*
 * stages/validation/metricsjudge.c: spec.validation.metrics read, and what each part of the
 * Metrics gate read judged (see steps.h). Pure: answers and objects are outside bytes, bounded
 * by the caller.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/core/json.h"
#include "phase4/core/text.h"
#include "phase4/core/url.h"
#include "phase4/kube/client.h"
#include "phase4/kube/podspec.h"
#include "phase4/kube/selector.h"
#include "promtext.h"
#include "steps.h"

#define EXCERPT_MAX 160
/* How many series, Services or workloads a message names before "and N more". */
#define NAMED_MAX 4

/* ---- the spec ---- */

static bool series_name(const char *s)
{
    if (s == NULL || s[0] == '\0' || strlen(s) > 256 ||
        !(p4_ascii_alpha(s[0]) || s[0] == '_' || s[0] == ':'))
        return false;
    for (const char *p = s; *p; p++) {
        if (!(p4_ascii_alnum(*p) || *p == '_' || *p == ':'))
            return false;
    }
    return true;
}

static int read_endpoint(const cJSON *e, struct p4_vstage_metrics_spec *m, struct p4_error *err)
{
    const cJSON *s;

    m->endpoint = true;
    m->service = p4_json_str(e, "service");
    if (m->service == NULL || m->service[0] == '\0' || strlen(m->service) > 63)
        return p4_error_set(err, P4_ERR_INVAL,
                            "spec.validation.metrics.endpoint.service must name a Service");
    if (!p4_vstage_port_read(p4_json_get(e, "port"), m->port))
        return p4_error_set(err, P4_ERR_INVAL,
                            "spec.validation.metrics.endpoint.port must be a port number or name");
    m->https = p4_text_eq(p4_json_str(e, "scheme"), "https");
    m->path = p4_json_str(e, "path");
    if (m->path == NULL)
        m->path = "/metrics";
    if (m->path[0] != '/' || strlen(m->path) > 2048)
        return p4_error_set(err, P4_ERR_INVAL,
                            "spec.validation.metrics.endpoint.path must begin with '/'");
    cJSON_ArrayForEach(s, p4_json_get(e, "series")) {
        if (m->nseries >= P4_VSTAGE_SERIES_MAX)
            return p4_error_set(err, P4_ERR_INVAL,
                                "spec.validation.metrics.endpoint.series names more than %d series",
                                P4_VSTAGE_SERIES_MAX);
        if (!cJSON_IsString(s) || !series_name(s->valuestring))
            return p4_error_set(err, P4_ERR_INVAL,
                                "spec.validation.metrics.endpoint.series[%d] is not a metric name "
                                "([a-zA-Z_:][a-zA-Z0-9_:]*)",
                                m->nseries);
        m->series[m->nseries++] = s->valuestring;
    }
    {
        char path[128];
        p4_text_clean(path, sizeof(path), m->path, strlen(m->path), P4_TEXT_LITERAL);
        (void)snprintf(m->where, sizeof(m->where), "%s%s:%s%s", m->https ? "https:" : "",
                       m->service, m->port, path);
    }
    return 0;
}

static int read_prometheus(const cJSON *p, const char *ns, struct p4_vstage_metrics_spec *m,
                           struct p4_error *err)
{
    const char *query = p4_json_str(p, "query");
    size_t n;

    m->prometheus = true;
    m->url = p4_json_str(p, "url");
    if (m->url == NULL ||
        !(strncmp(m->url, "http://", 7) == 0 || strncmp(m->url, "https://", 8) == 0))
        return p4_error_set(err, P4_ERR_INVAL,
                            "spec.validation.metrics.prometheus.url must be an http:// or "
                            "https:// URL");
    p4_url_display(m->url, m->url_shown, sizeof(m->url_shown));
    n = strlen(m->url);
    if (n > 2048 || strpbrk(m->url, "?# \t\r\n") != NULL)
        return p4_error_set(err, P4_ERR_INVAL,
                            "spec.validation.metrics.prometheus.url %s must be Prometheus's base "
                            "URL, without a query, fragment or blank",
                            m->url_shown);
    if (p4_url_has_userinfo(m->url))
        return p4_error_set(err, P4_ERR_INVAL,
                            "spec.validation.metrics.prometheus.url %s holds credentials: the "
                            "operator sends none to Prometheus, and a URL is shown in status",
                            m->url_shown);
    if (query != NULL && query[0] != '\0') {
        if (strlen(query) >= sizeof(m->query))
            return p4_error_set(err, P4_ERR_INVAL,
                                "spec.validation.metrics.prometheus.query is longer than %zu "
                                "bytes",
                                sizeof(m->query) - 1);
        (void)snprintf(m->query, sizeof(m->query), "%s", query);
    } else {
        (void)snprintf(m->query, sizeof(m->query), "up{namespace=\"%s\"}", ns ? ns : "");
    }
    return 0;
}

int p4_vstage_metrics_read(const cJSON *metrics, const char *ns, struct p4_vstage_metrics_spec *m,
                           struct p4_error *err)
{
    const cJSON *endpoint = p4_json_get(metrics, "endpoint");
    const cJSON *prometheus = p4_json_get(metrics, "prometheus");
    bool monitor = false;
    int rc;

    memset(m, 0, sizeof(*m));
    if (cJSON_IsObject(endpoint) && (rc = read_endpoint(endpoint, m, err)) != 0)
        return rc;
    if (cJSON_IsObject(prometheus) && (rc = read_prometheus(prometheus, ns, m, err)) != 0)
        return rc;
    (void)p4_json_bool(metrics, "monitor", &monitor);
    m->monitor = monitor;
    return 0;
}

/* ---- the endpoint ---- */

/* "a, b and c", each name's text as it stands (they are metric names), into out. */
static void name_list(const char *const *names, int n, char *out, size_t size)
{
    size_t at = 0;

    out[0] = '\0';
    for (int i = 0; i < n && at < size; i++) {
        int w;
        if (i == NAMED_MAX && n > NAMED_MAX + 1) {
            (void)snprintf(out + at, size - at, " and %d more", n - i);
            return;
        }
        w = snprintf(out + at, size - at, "%s%s", i == 0 ? "" : (i == n - 1 ? " and " : ", "),
                     names[i]);
        if (w < 0)
            return;
        at += (size_t)w;
    }
}

bool p4_vstage_metrics_judge(const struct p4_vstage_metrics_spec *m, long status, const char *body,
                             size_t len, char *msg, size_t size)
{
    struct p4_vstage_check plain;
    struct p4_promtext_found f;
    struct p4_error err = {0};
    const char *missing[P4_VSTAGE_SERIES_MAX];
    char why[600], list[600];
    int nmissing = 0;

    memset(&plain, 0, sizeof(plain)); /* 200 only, nothing else asked */
    if (!p4_vstage_http_judge(&plain, status, body, len, why, sizeof(why))) {
        p4_text_format(msg, size, "the metrics endpoint %s answered %s", m->where, why);
        return false;
    }
    if (p4_promtext_find(body, body ? len : 0, m->series, m->nseries, &f, &err) != 0) {
        p4_text_format(msg, size,
                       "the metrics endpoint %s does not answer in the Prometheus text format: %s",
                       m->where, err.message);
        return false;
    }
    if (f.samples == 0) {
        p4_text_format(msg, size, "the metrics endpoint %s answered no sample at all", m->where);
        return false;
    }
    for (int i = 0; i < m->nseries; i++) {
        if (!(f.found & (UINT64_C(1) << i)))
            missing[nmissing++] = m->series[i];
    }
    if (nmissing > 0) {
        name_list(missing, nmissing, list, sizeof(list));
        p4_text_format(msg, size,
                       "the metrics endpoint %s does not expose %s (%zu sample(s) read, %d of %d "
                       "named series missing)",
                       m->where, list, f.samples, nmissing, m->nseries);
        return false;
    }
    if (m->nseries == 0) {
        p4_text_format(msg, size, "the metrics endpoint %s exposes %zu sample(s)", m->where,
                       f.samples);
    } else {
        name_list(m->series, m->nseries, list, sizeof(list));
        p4_text_format(msg, size, "the metrics endpoint %s exposes %s", m->where, list);
    }
    return true;
}

/* ---- Prometheus ---- */

int p4_vstage_prom_query_url(const struct p4_vstage_metrics_spec *m, char *out, size_t size)
{
    char query[3 * sizeof(m->query)];
    size_t n = strlen(m->url);
    int w;

    while (n > 0 && m->url[n - 1] == '/')
        n--;
    if (p4_kube_escape(m->query, query, sizeof(query)) != 0 || n > INT32_MAX)
        return P4_ERR_TOOBIG;
    w = snprintf(out, size, "%.*s/api/v1/query?query=%s", (int)n, m->url, query);
    return w < 0 || (size_t)w >= size ? P4_ERR_TOOBIG : 0;
}

static void fail_as(struct p4_vstage_failure *f, enum p4_failure_class cls, const char *reason,
                    int code)
{
    f->cls = cls;
    f->reason = reason;
    f->err.code = code;
    f->err.reason = reason;
}

/* One series as Prometheus shows it: name{label="value",...}, into out. */
static void series_text(const cJSON *metric, char *out, size_t size)
{
    const char *name = p4_json_str(metric, "__name__");
    const cJSON *l;
    size_t at;
    int labels = 0;

    p4_text_clean(out, size, name ? name : "", name ? strlen(name) : 0, P4_TEXT_LITERAL);
    at = strlen(out);
    cJSON_ArrayForEach(l, metric) {
        char key[80], value[120];
        int w;
        if (!cJSON_IsString(l) || l->string == NULL || strcmp(l->string, "__name__") == 0)
            continue;
        p4_text_clean(key, sizeof(key), l->string, strlen(l->string), P4_TEXT_QUOTED);
        p4_text_clean(value, sizeof(value), l->valuestring, strlen(l->valuestring), P4_TEXT_QUOTED);
        w = snprintf(out + at, size - at, "%s%s=\"%s\"", labels++ ? "," : "{", key, value);
        if (w < 0 || (size_t)w >= size - at) {
            out[at] = '\0';
            return;
        }
        at += (size_t)w;
    }
    if (labels > 0 && at + 2 <= size)
        (void)snprintf(out + at, size - at, "}");
}

/* The value of one sample ([time, "value"]) or NULL when it is not one. */
static const char *sample_value(const cJSON *value)
{
    const cJSON *v = cJSON_GetArrayItem(value, 1);

    if (!cJSON_IsArray(value) || cJSON_GetArraySize(value) != 2 || !cJSON_IsString(v))
        return NULL;
    return v->valuestring;
}

/* The samples of a successful query judged. */
static bool judge_result(const struct p4_vstage_metrics_spec *m, const cJSON *data,
                         struct p4_vstage_failure *f, char *ok, size_t size)
{
    const char *type = p4_json_str(data, "resultType");
    const cJSON *result = p4_json_get(data, "result"), *s;
    char query[200], down[NAMED_MAX][240];
    int n = 0, ndown = 0;

    p4_text_clean(query, sizeof(query), m->query, strlen(m->query), 0);
    if (p4_text_eq(type, "scalar")) {
        const char *v = sample_value(result);
        if (v == NULL)
            goto malformed;
        if (strcmp(v, "1") == 0) {
            p4_text_format(ok, size, "Prometheus at %s reports %s as 1", m->url_shown, query);
            return true;
        }
        fail_as(f, P4_FAIL_ARTIFACT, "TargetDown", P4_ERR_INVALID);
        p4_text_clean(down[0], sizeof(down[0]), v, strlen(v), P4_TEXT_QUOTED);
        p4_text_format(f->err.message, sizeof(f->err.message),
                       "Prometheus at %s reports %s as %s, not 1", m->url_shown, query, down[0]);
        return false;
    }
    if (!p4_text_eq(type, "vector")) {
        if (!p4_text_eq(type, "matrix") && !p4_text_eq(type, "string"))
            goto malformed;
        fail_as(f, P4_FAIL_ARTIFACT, "InvalidMetricsCheck", P4_ERR_INVAL);
        p4_text_format(f->err.message, sizeof(f->err.message),
                       "the query %s gives a %s, not an instant vector: write one whose every "
                       "sample is 1 when the target is up (e.g. up{job=\"...\"})",
                       query, type);
        return false;
    }
    if (!cJSON_IsArray(result))
        goto malformed;
    cJSON_ArrayForEach(s, result) {
        const char *v = sample_value(p4_json_get(s, "value"));
        if (v == NULL)
            goto malformed;
        n++;
        if (strcmp(v, "1") != 0) {
            if (ndown < NAMED_MAX) {
                char series[200], value[32];
                series_text(p4_json_get(s, "metric"), series, sizeof(series));
                p4_text_clean(value, sizeof(value), v, strlen(v), P4_TEXT_QUOTED);
                (void)snprintf(down[ndown], sizeof(down[ndown]), "%s = %s", series, value);
            }
            ndown++;
        }
    }
    if (n == 0) {
        fail_as(f, P4_FAIL_ARTIFACT, "TargetDown", P4_ERR_NOTFOUND);
        p4_text_format(f->err.message, sizeof(f->err.message),
                       "no target matches %s: Prometheus at %s has no sample of it (is the "
                       "workload scraped?)",
                       query, m->url_shown);
        return false;
    }
    if (ndown > 0) {
        char list[4 * 260];
        size_t at = 0;
        for (int i = 0; i < ndown && i < NAMED_MAX; i++) {
            int w = snprintf(list + at, sizeof(list) - at, "%s%s", i ? ", " : "", down[i]);
            if (w < 0 || (size_t)w >= sizeof(list) - at)
                break;
            at += (size_t)w;
        }
        if (ndown > NAMED_MAX)
            (void)snprintf(list + at, sizeof(list) - at, " and %d more", ndown - NAMED_MAX);
        fail_as(f, P4_FAIL_ARTIFACT, "TargetDown", P4_ERR_INVALID);
        p4_text_format(f->err.message, sizeof(f->err.message),
                       "Prometheus at %s reports %d of %d sample(s) of %s not 1: %s", m->url_shown,
                       ndown, n, query, list);
        return false;
    }
    p4_text_format(ok, size, "Prometheus at %s reports every sample of %s as 1 (%d series)",
                   m->url_shown, query, n);
    return true;
malformed:
    fail_as(f, P4_FAIL_CLUSTER, "PrometheusUnavailable", P4_ERR_PARSE);
    p4_text_format(f->err.message, sizeof(f->err.message),
                   "Prometheus at %s answered the query %s with a result that is not a "
                   "Prometheus vector",
                   m->url_shown, query);
    return false;
}

bool p4_vstage_prom_judge(const struct p4_vstage_metrics_spec *m, int rc, const char *error,
                          long status, const char *body, size_t len, struct p4_vstage_failure *f,
                          char *ok, size_t size)
{
    struct p4_error perr;
    char text[EXCERPT_MAX], detail[300];
    cJSON *doc;
    bool passed = false;

    memset(f, 0, sizeof(*f));
    ok[0] = '\0';
    if (rc != 0) {
        const char *e = error ? error : p4_strerror(rc);
        p4_text_clean(detail, sizeof(detail), e, strlen(e), 0);
        fail_as(f, P4_FAIL_CLUSTER, "PrometheusUnavailable", rc);
        if (rc == P4_ERR_TOOBIG)
            p4_text_format(f->err.message, sizeof(f->err.message),
                           "Prometheus at %s answered more than %u bytes to the query",
                           m->url_shown, P4_VSTAGE_BODY_MAX);
        else
            p4_text_format(f->err.message, sizeof(f->err.message),
                           "Prometheus at %s cannot be reached: %s", m->url_shown, detail);
        return false;
    }
    doc = body && len > 0 ? p4_json_parse(body, len, &perr) : NULL;
    if (!cJSON_IsObject(doc) || p4_json_str(doc, "status") == NULL) {
        size_t take = len < sizeof(text) * 2 ? len : sizeof(text) * 2;
        p4_text_clean(text, sizeof(text), body, body ? take : 0,
                      P4_TEXT_QUOTED | (take < len ? P4_TEXT_MORE : 0));
        fail_as(f, P4_FAIL_CLUSTER, "PrometheusUnavailable", P4_ERR_PARSE);
        p4_text_format(f->err.message, sizeof(f->err.message),
                       "%s answered status %ld with something that is not Prometheus's query API "
                       "(not its JSON)%s%s%s: is it Prometheus's base URL?",
                       m->url_shown, status, text[0] ? ": \"" : "", text, text[0] ? "\"" : "");
        goto out;
    }
    if (!p4_text_eq(p4_json_str(doc, "status"), "success")) {
        const char *type = p4_json_str(doc, "errorType"), *e = p4_json_str(doc, "error");
        char etype[64];
        p4_text_clean(etype, sizeof(etype), type, type ? strlen(type) : 0, 0);
        p4_text_clean(detail, sizeof(detail), e, e ? strlen(e) : 0, 0);
        p4_text_clean(text, sizeof(text), m->query, strlen(m->query), 0);
        fail_as(f, P4_FAIL_CLUSTER, "PrometheusUnavailable", P4_ERR_UNAVAILABLE);
        p4_text_format(f->err.message, sizeof(f->err.message),
                       "Prometheus at %s refused the query %s (status %ld, %s): %s", m->url_shown,
                       text, status, etype[0] ? etype : "no error type",
                       detail[0] ? detail : "no detail");
        goto out;
    }
    passed = judge_result(m, p4_json_get(doc, "data"), f, ok, size);
out:
    cJSON_Delete(doc);
    return passed;
}

/* ---- monitors ---- */

/* Does the monitor's spec.namespaceSelector take in namespace ns? */
static bool namespace_selected(const cJSON *monitor, const char *ns)
{
    const cJSON *sel = p4_json_get(monitor, "spec.namespaceSelector"), *names, *n;
    bool any = false;

    if (p4_json_bool(sel, "any", &any) == 0 && any)
        return true;
    names = p4_json_get(sel, "matchNames");
    if (cJSON_IsArray(names) && names->child != NULL) {
        cJSON_ArrayForEach(n, names) {
            if (cJSON_IsString(n) && p4_text_eq(n->valuestring, ns))
                return true;
        }
        return false;
    }
    return p4_text_eq(p4_json_str(monitor, "metadata.namespace"), ns);
}

static bool selects(const cJSON *monitor, const cJSON *labels)
{
    const cJSON *sel = p4_json_get(monitor, "spec.selector");

    return p4_selector_empty(sel) || p4_selector_matches(sel, labels);
}

/* "Kind name" of each object into out, joined with ", " (NAMED_MAX at most). */
static void object_list(const cJSON *objects, char *out, size_t size)
{
    const cJSON *o;
    size_t at = 0;
    int n = 0, total = cJSON_GetArraySize(objects);

    out[0] = '\0';
    cJSON_ArrayForEach(o, objects) {
        const char *kind = p4_json_str(o, "kind"), *name = p4_json_str(o, "metadata.name");
        char clean[160];
        int w;
        if (n == NAMED_MAX) {
            (void)snprintf(out + at, size - at, " and %d more", total - n);
            return;
        }
        p4_text_clean(clean, sizeof(clean), name ? name : "", name ? strlen(name) : 0,
                      P4_TEXT_LITERAL);
        w = snprintf(out + at, size - at, "%s%s %s", n ? ", " : "", kind ? kind : "object", clean);
        if (w < 0 || (size_t)w >= size - at)
            return;
        at += (size_t)w;
        n++;
    }
}

static const char *name_of(const cJSON *obj)
{
    const char *name = p4_json_str(obj, "metadata.name");

    return name ? name : "";
}

bool p4_vstage_monitor_judge(const cJSON *smons, const cJSON *pmons, const cJSON *services,
                             const cJSON *workloads, const char *ns, char *msg, size_t size)
{
    const cJSON *mon, *o;
    char svcs[600], wls[600], what[1300];
    int nmon = cJSON_GetArraySize(smons) + cJSON_GetArraySize(pmons);

    if (smons == NULL && pmons == NULL) {
        p4_text_format(msg, size,
                       "the Prometheus Operator's CRDs are not installed: the cluster serves "
                       "neither ServiceMonitor nor PodMonitor (monitoring.coreos.com/v1)");
        return false;
    }
    cJSON_ArrayForEach(mon, smons) {
        cJSON_ArrayForEach(o, services) {
            if (namespace_selected(mon, p4_json_str(o, "metadata.namespace")) &&
                selects(mon, p4_json_get(o, "metadata.labels"))) {
                p4_text_format(msg, size, "ServiceMonitor %s selects Service %s", name_of(mon),
                               name_of(o));
                p4_text_clean(msg, size, msg, strlen(msg), P4_TEXT_LITERAL);
                return true;
            }
        }
    }
    cJSON_ArrayForEach(mon, pmons) {
        cJSON_ArrayForEach(o, workloads) {
            const cJSON *labels = p4_podspec_labels(o);
            if (labels != NULL && namespace_selected(mon, p4_json_str(o, "metadata.namespace")) &&
                selects(mon, labels)) {
                p4_text_format(msg, size, "PodMonitor %s selects the pods of %s %s", name_of(mon),
                               p4_json_str(o, "kind") ? p4_json_str(o, "kind") : "workload",
                               name_of(o));
                p4_text_clean(msg, size, msg, strlen(msg), P4_TEXT_LITERAL);
                return true;
            }
        }
    }
    /* What was looked for: what a kind the cluster serves could select. */
    object_list(smons ? services : NULL, svcs, sizeof(svcs));
    object_list(pmons ? workloads : NULL, wls, sizeof(wls));
    if (svcs[0] && wls[0])
        (void)snprintf(what, sizeof(what), "the release's %s or the pods of %s", svcs, wls);
    else if (svcs[0] || wls[0])
        (void)snprintf(what, sizeof(what), "the release's %s%s", wls[0] ? "pods of " : "",
                       svcs[0] ? svcs : wls);
    else
        (void)snprintf(what, sizeof(what), "the release (it has no %s)",
                       smons && pmons ? "Service or workload" : (smons ? "Service" : "workload"));
    if (nmon == 0) {
        p4_text_format(msg, size, "namespace %s has no %s: create one that selects %s", ns,
                       smons && pmons ? "ServiceMonitor or PodMonitor"
                                      : (smons ? "ServiceMonitor" : "PodMonitor"),
                       what);
    } else {
        char counted[96];
        if (smons && pmons)
            (void)snprintf(counted, sizeof(counted), "%d ServiceMonitor(s) and %d PodMonitor(s)",
                           cJSON_GetArraySize(smons), cJSON_GetArraySize(pmons));
        else
            (void)snprintf(counted, sizeof(counted), "%d %s(s)", nmon,
                           smons ? "ServiceMonitor" : "PodMonitor");
        p4_text_format(msg, size, "none of the %s in namespace %s selects %s", counted, ns, what);
    }
    return false;
}
