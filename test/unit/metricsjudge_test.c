/*
 * metricsjudge_test.c: the Validation stage's Metrics gate decided from its inputs alone
 * (stages/validation/metricsjudge.c): spec.validation.metrics read, the metrics endpoint's answer,
 * the Prometheus query URL and answer, which monitor selects the release; and the service proxy
 * path the endpoint is read through (http.c). Each reason and class, bad input included.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs setjmp.h, stdarg.h, stddef.h and stdint.h first. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h> /* after the four it needs */

#include "phase4/core/error.h"
#include "phase4/core/json.h"
#include "stages/validation/steps.h"
#include "testjson.h"

/* The spec the last read_spec read: what it reads stays borrowed from it until the next. */
static cJSON *spec_tree;

/* spec.validation.metrics from inline JSON (or NULL), read for namespace team-a. */
static int read_spec(const char *json, struct p4_vstage_metrics_spec *m, struct p4_error *err)
{
    cJSON_Delete(spec_tree);
    spec_tree = json ? test_json(json) : NULL;
    return p4_vstage_metrics_read(spec_tree, "team-a", m, err);
}

static int free_spec_tree(void **state)
{
    (void)state;
    cJSON_Delete(spec_tree);
    spec_tree = NULL;
    return 0;
}

static void nothing_declared(void **state)
{
    static const char *const none[] = {NULL, "{}", "{'monitor':false}", "{'endpoint':null}",
                                       "{'prometheus':'http://x'}"};
    struct p4_vstage_metrics_spec m;
    struct p4_error err;

    (void)state;
    for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
        assert_int_equal(read_spec(none[i], &m, &err), 0);
        assert_false(m.endpoint || m.prometheus || m.monitor);
    }
    assert_int_equal(read_spec("{'monitor':true}", &m, &err), 0);
    assert_true(m.monitor);
    assert_false(m.endpoint || m.prometheus);
}

static void endpoint_is_read(void **state)
{
    struct p4_vstage_metrics_spec m;
    struct p4_error err;

    (void)state;
    assert_int_equal(read_spec("{'endpoint':{'service':'web','port':8443,'scheme':'https',"
                               "'path':'/custom/metrics','series':['up','http_requests_total']}}",
                               &m, &err),
                     0);
    assert_true(m.endpoint);
    assert_string_equal(m.service, "web");
    assert_string_equal(m.port, "8443");
    assert_true(m.https);
    assert_string_equal(m.path, "/custom/metrics");
    assert_int_equal(m.nseries, 2);
    assert_string_equal(m.series[1], "http_requests_total");
    assert_string_equal(m.where, "https:web:8443/custom/metrics");

    /* A port name, the default path, no series. */
    assert_int_equal(read_spec("{'endpoint':{'service':'web','port':'metrics'}}", &m, &err), 0);
    assert_string_equal(m.port, "metrics");
    assert_string_equal(m.path, "/metrics");
    assert_false(m.https);
    assert_int_equal(m.nseries, 0);
    assert_string_equal(m.where, "web:metrics/metrics");
}

static void bad_specs_are_refused(void **state)
{
    static const struct {
        const char *json, *message;
    } cases[] = {
        {"{'endpoint':{'port':8080}}",
         "spec.validation.metrics.endpoint.service must name a Service"},
        {"{'endpoint':{'service':'','port':8080}}",
         "spec.validation.metrics.endpoint.service must name a Service"},
        {"{'endpoint':{'service':'web'}}",
         "spec.validation.metrics.endpoint.port must be a port number or name"},
        {"{'endpoint':{'service':'web','port':0}}",
         "spec.validation.metrics.endpoint.port must be a port number or name"},
        {"{'endpoint':{'service':'web','port':70000}}",
         "spec.validation.metrics.endpoint.port must be a port number or name"},
        {"{'endpoint':{'service':'web','port':'Bad_Name'}}",
         "spec.validation.metrics.endpoint.port must be a port number or name"},
        {"{'endpoint':{'service':'web','port':80,'path':'metrics'}}",
         "spec.validation.metrics.endpoint.path must begin with '/'"},
        {"{'endpoint':{'service':'web','port':80,'series':['9lives']}}",
         "spec.validation.metrics.endpoint.series[0] is not a metric name "
         "([a-zA-Z_:][a-zA-Z0-9_:]*)"},
        {"{'endpoint':{'service':'web','port':80,'series':['up',1]}}",
         "spec.validation.metrics.endpoint.series[1] is not a metric name "
         "([a-zA-Z_:][a-zA-Z0-9_:]*)"},
        {"{'endpoint':{'service':'web','port':80,'series':['a b']}}",
         "spec.validation.metrics.endpoint.series[0] is not a metric name "
         "([a-zA-Z_:][a-zA-Z0-9_:]*)"},
        {"{'prometheus':{}}",
         "spec.validation.metrics.prometheus.url must be an http:// or https:// URL"},
        {"{'prometheus':{'url':'ftp://prom'}}",
         "spec.validation.metrics.prometheus.url must be an http:// or https:// URL"},
        {"{'prometheus':{'url':'http://prom:9090/?x=1'}}",
         "spec.validation.metrics.prometheus.url http://prom:9090/?x=1 must be Prometheus's base "
         "URL, without a query, fragment or blank"},
        {"{'prometheus':{'url':'http://admin:s3cret@prom:9090'}}",
         "spec.validation.metrics.prometheus.url http://***@prom:9090 holds credentials: the "
         "operator sends none to Prometheus, and a URL is shown in status"},
    };
    struct p4_vstage_metrics_spec m;
    struct p4_error err;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memset(&err, 0, sizeof(err));
        if (read_spec(cases[i].json, &m, &err) != P4_ERR_INVAL ||
            strcmp(err.message, cases[i].message) != 0)
            fail_msg("%s: %s\nwant %s", cases[i].json, err.message, cases[i].message);
        assert_null(strstr(err.message, "s3cret"));
    }
}

static void series_limit(void **state)
{
    char json[2048] = "{'endpoint':{'service':'web','port':80,'series':[";
    struct p4_vstage_metrics_spec m;
    struct p4_error err;

    (void)state;
    for (int i = 0; i < P4_VSTAGE_SERIES_MAX; i++)
        (void)snprintf(json + strlen(json), sizeof(json) - strlen(json), "%s'm%d'", i ? "," : "",
                       i);
    (void)snprintf(json + strlen(json), sizeof(json) - strlen(json), "]}}");
    assert_int_equal(read_spec(json, &m, &err), 0);
    assert_int_equal(m.nseries, P4_VSTAGE_SERIES_MAX);
    json[strlen(json) - 3] = '\0';
    (void)snprintf(json + strlen(json), sizeof(json) - strlen(json), ",'one_more']}}");
    assert_int_equal(read_spec(json, &m, &err), P4_ERR_INVAL);
    assert_string_equal(err.message,
                        "spec.validation.metrics.endpoint.series names more than 32 series");
}

static void prometheus_query_and_url(void **state)
{
    struct p4_vstage_metrics_spec m;
    struct p4_error err;
    char url[512], small[40];
    char json[1400];

    (void)state;
    assert_int_equal(read_spec("{'prometheus':{'url':'http://prom:9090/'}}", &m, &err), 0);
    assert_true(m.prometheus);
    assert_string_equal(m.query, "up{namespace=\"team-a\"}");
    assert_int_equal(p4_vstage_prom_query_url(&m, url, sizeof(url)), 0);
    assert_string_equal(url,
                        "http://prom:9090/api/v1/query?query=up%7Bnamespace%3D%22team-a%22%7D");
    assert_int_equal(p4_vstage_prom_query_url(&m, small, sizeof(small)), P4_ERR_TOOBIG);

    /* Behind a path prefix, with the spec's own query. */
    assert_int_equal(read_spec("{'prometheus':{'url':'https://mon.example.com/prometheus',"
                               "'query':'sum(up{job=\\'web\\'}) >= 2'}}",
                               &m, &err),
                     0);
    assert_string_equal(m.query, "sum(up{job=\"web\"}) >= 2");
    assert_string_equal(m.url_shown, "https://mon.example.com/prometheus");
    assert_int_equal(p4_vstage_prom_query_url(&m, url, sizeof(url)), 0);
    assert_string_equal(url, "https://mon.example.com/prometheus/api/v1/query?query="
                             "sum%28up%7Bjob%3D%22web%22%7D%29%20%3E%3D%202");

    /* A query too long for the buffer is refused, not cut. */
    (void)snprintf(json, sizeof(json), "{'prometheus':{'url':'http://p','query':'%01200d'}}", 0);
    assert_int_equal(read_spec(json, &m, &err), P4_ERR_INVAL);
    assert_string_equal(err.message,
                        "spec.validation.metrics.prometheus.query is longer than 1099 bytes");
}

static const char exposition[] = "# HELP go_goroutines Number of goroutines.\n"
                                 "# TYPE go_goroutines gauge\n"
                                 "go_goroutines 8\n"
                                 "# TYPE http_request_duration_seconds histogram\n"
                                 "http_request_duration_seconds_bucket{le=\"+Inf\"} 4\n"
                                 "http_request_duration_seconds_sum 0.3\n"
                                 "http_request_duration_seconds_count 4\n";

/* The endpoint's answer judged with series (NULL-terminated). */
static bool judge(const char *const *series, long status, const char *body, char *msg, size_t size)
{
    struct p4_vstage_metrics_spec m;

    memset(&m, 0, sizeof(m));
    m.endpoint = true;
    m.service = "web";
    (void)snprintf(m.port, sizeof(m.port), "8080");
    m.path = "/metrics";
    (void)snprintf(m.where, sizeof(m.where), "web:8080/metrics");
    for (int i = 0; series && series[i]; i++)
        m.series[m.nseries++] = series[i];
    return p4_vstage_metrics_judge(&m, status, body, body ? strlen(body) : 0, msg, size);
}

static void endpoint_answers_judged(void **state)
{
    static const char *const present[] = {"go_goroutines", "http_request_duration_seconds", NULL};
    static const char *const missing[] = {"go_goroutines", "absent_total", "other", NULL};
    static const char *const many[] = {"a", "b", "c", "d", "e", "f", NULL};
    char msg[P4_ERROR_MESSAGE_MAX];

    (void)state;
    assert_true(judge(present, 200, exposition, msg, sizeof(msg)));
    assert_string_equal(msg, "the metrics endpoint web:8080/metrics exposes go_goroutines and "
                             "http_request_duration_seconds");
    assert_true(judge(NULL, 200, exposition, msg, sizeof(msg)));
    assert_string_equal(msg, "the metrics endpoint web:8080/metrics exposes 4 sample(s)");

    assert_false(judge(missing, 200, exposition, msg, sizeof(msg)));
    assert_string_equal(msg, "the metrics endpoint web:8080/metrics does not expose absent_total "
                             "and other (4 sample(s) read, 2 of 3 named series missing)");
    assert_false(judge(many, 200, exposition, msg, sizeof(msg)));
    assert_string_equal(msg, "the metrics endpoint web:8080/metrics does not expose a, b, c, d "
                             "and 2 more (4 sample(s) read, 6 of 6 named series missing)");

    assert_false(judge(present, 503, "upstream connect error", msg, sizeof(msg)));
    assert_string_equal(msg, "the metrics endpoint web:8080/metrics answered status 503, want "
                             "200; body: \"upstream connect error\"");
    assert_false(
        judge(NULL, 200, "<!DOCTYPE html>\n<html><body>Login</body></html>\n", msg, sizeof(msg)));
    assert_string_equal(msg, "the metrics endpoint web:8080/metrics does not answer in the "
                             "Prometheus text format: line 1 is not a Prometheus sample (a "
                             "metric name begins with a letter, '_' or ':'): \"<!DOCTYPE html>\"");
    assert_false(judge(present, 200, "", msg, sizeof(msg)));
    assert_string_equal(msg, "the metrics endpoint web:8080/metrics answered no sample at all");
    assert_false(judge(NULL, 200, NULL, msg, sizeof(msg)));
    assert_string_equal(msg, "the metrics endpoint web:8080/metrics answered no sample at all");
    assert_false(judge(NULL, 200, "# TYPE up gauge\n", msg, sizeof(msg)));
    assert_string_equal(msg, "the metrics endpoint web:8080/metrics answered no sample at all");
}

/* Prometheus's answer judged, for the default query in team-a. */
static bool prom(int rc, const char *error, long status, const char *body,
                 struct p4_vstage_failure *f, char *ok, size_t size)
{
    struct p4_vstage_metrics_spec m;

    memset(&m, 0, sizeof(m));
    m.prometheus = true;
    m.url = "http://prom:9090";
    (void)snprintf(m.url_shown, sizeof(m.url_shown), "%s", m.url);
    (void)snprintf(m.query, sizeof(m.query), "up{namespace=\"team-a\"}");
    return p4_vstage_prom_judge(&m, rc, error, status, body, body ? strlen(body) : 0, f, ok, size);
}

static void prometheus_answers_judged(void **state)
{
    struct p4_vstage_failure f;
    char ok[P4_ERROR_MESSAGE_MAX];

    (void)state;
    assert_true(prom(0, NULL, 200,
                     "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
                     "{\"metric\":{\"__name__\":\"up\",\"job\":\"web\",\"instance\":\"a:8080\"},"
                     "\"value\":[1718000000.123,\"1\"]},"
                     "{\"metric\":{\"__name__\":\"up\",\"job\":\"web\",\"instance\":\"b:8080\"},"
                     "\"value\":[1718000000.123,\"1\"]}]}}",
                     &f, ok, sizeof(ok)));
    assert_string_equal(ok, "Prometheus at http://prom:9090 reports every sample of "
                            "up{namespace=\"team-a\"} as 1 (2 series)");
    assert_true(prom(0, NULL, 200,
                     "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":"
                     "[1718000000,\"1\"]}}",
                     &f, ok, sizeof(ok)));

    /* One target down, named by its labels. */
    assert_false(prom(0, NULL, 200,
                      "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
                      "{\"metric\":{\"__name__\":\"up\",\"instance\":\"10.0.0.1:8080\",\"job\":"
                      "\"web\"},\"value\":[1718000000,\"0\"]},"
                      "{\"metric\":{\"__name__\":\"up\",\"job\":\"db\"},\"value\":[1718000000,"
                      "\"1\"]}]}}",
                      &f, ok, sizeof(ok)));
    assert_int_equal(f.cls, P4_FAIL_ARTIFACT);
    assert_string_equal(f.reason, "TargetDown");
    assert_string_equal(f.err.message,
                        "Prometheus at http://prom:9090 reports 1 of 2 sample(s) of "
                        "up{namespace=\"team-a\"} not 1: up{instance=\"10.0.0.1:8080\","
                        "job=\"web\"} = 0");
    /* No sample at all. */
    assert_false(prom(0, NULL, 200,
                      "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[]}}",
                      &f, ok, sizeof(ok)));
    assert_int_equal(f.cls, P4_FAIL_ARTIFACT);
    assert_string_equal(f.reason, "TargetDown");
    assert_string_equal(f.err.message,
                        "no target matches up{namespace=\"team-a\"}: Prometheus at "
                        "http://prom:9090 has no sample of it (is the workload scraped?)");
    /* A scalar that is not 1; NaN; a label value with quotes shown safely. */
    assert_false(prom(0, NULL, 200,
                      "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":"
                      "[1718000000,\"0\"]}}",
                      &f, ok, sizeof(ok)));
    assert_string_equal(f.reason, "TargetDown");
    assert_false(prom(0, NULL, 200,
                      "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
                      "{\"metric\":{\"a\":\"say \\\"hi\\\"\\n\"},\"value\":[1,\"NaN\"]}]}}",
                      &f, ok, sizeof(ok)));
    assert_string_equal(f.err.message, "Prometheus at http://prom:9090 reports 1 of 1 sample(s) "
                                       "of up{namespace=\"team-a\"} not 1: {a=\"say ?hi?\"} = NaN");
}

static void many_targets_down_are_counted(void **state)
{
    char body[4096] = "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[";
    struct p4_vstage_failure f;
    char ok[P4_ERROR_MESSAGE_MAX];

    (void)state;
    for (int i = 0; i < 7; i++)
        (void)snprintf(
            body + strlen(body), sizeof(body) - strlen(body),
            "%s{\"metric\":{\"__name__\":\"up\",\"pod\":\"web-%d\"},\"value\":[1,\"0\"]}",
            i ? "," : "", i);
    (void)snprintf(body + strlen(body), sizeof(body) - strlen(body), "]}}");
    assert_false(prom(0, NULL, 200, body, &f, ok, sizeof(ok)));
    assert_string_equal(f.err.message,
                        "Prometheus at http://prom:9090 reports 7 of 7 sample(s) of "
                        "up{namespace=\"team-a\"} not 1: up{pod=\"web-0\"} = 0, up{pod=\"web-1\"} "
                        "= 0, up{pod=\"web-2\"} = 0, up{pod=\"web-3\"} = 0 and 3 more");
}

static void prometheus_unavailable(void **state)
{
    struct p4_vstage_failure f;
    char ok[P4_ERROR_MESSAGE_MAX];

    (void)state;
    assert_false(prom(P4_ERR_TRANSPORT, "Failed to connect to prom port 9090: Connection refused",
                      0, NULL, &f, ok, sizeof(ok)));
    assert_int_equal(f.cls, P4_FAIL_CLUSTER);
    assert_string_equal(f.reason, "PrometheusUnavailable");
    assert_string_equal(f.err.message, "Prometheus at http://prom:9090 cannot be reached: Failed "
                                       "to connect to prom port 9090: Connection refused");
    assert_false(prom(P4_ERR_TIMEOUT, NULL, 0, NULL, &f, ok, sizeof(ok)));
    assert_string_equal(f.err.message,
                        "Prometheus at http://prom:9090 cannot be reached: timed out");
    assert_false(prom(P4_ERR_TOOBIG, NULL, 200, NULL, &f, ok, sizeof(ok)));
    assert_string_equal(f.err.message,
                        "Prometheus at http://prom:9090 answered more than 1048576 bytes to the "
                        "query");

    /* Not Prometheus: a web page, JSON of another shape, nothing. */
    assert_false(prom(0, NULL, 200, "<html><body>Grafana</body></html>", &f, ok, sizeof(ok)));
    assert_int_equal(f.cls, P4_FAIL_CLUSTER);
    assert_string_equal(f.reason, "PrometheusUnavailable");
    assert_string_equal(f.err.message,
                        "http://prom:9090 answered status 200 with something that is not "
                        "Prometheus's query API (not its JSON): \"<html><body>Grafana</body>"
                        "</html>\": is it Prometheus's base URL?");
    assert_false(prom(0, NULL, 404, "{\"message\":\"not found\"}", &f, ok, sizeof(ok)));
    assert_string_equal(f.reason, "PrometheusUnavailable");
    assert_false(prom(0, NULL, 502, "", &f, ok, sizeof(ok)));
    assert_string_equal(f.err.message, "http://prom:9090 answered status 502 with something "
                                       "that is not Prometheus's query API (not its JSON): is it "
                                       "Prometheus's base URL?");

    /* Prometheus's own refusal. */
    assert_false(prom(0, NULL, 400,
                      "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"invalid "
                      "parameter \\\"query\\\": 1:3: parse error: unexpected end of input\"}",
                      &f, ok, sizeof(ok)));
    assert_int_equal(f.cls, P4_FAIL_CLUSTER);
    assert_string_equal(f.reason, "PrometheusUnavailable");
    assert_string_equal(f.err.message,
                        "Prometheus at http://prom:9090 refused the query up{namespace=\"team-a\"} "
                        "(status 400, bad_data): invalid parameter \"query\": 1:3: parse error: "
                        "unexpected end of input");
    assert_false(prom(0, NULL, 503, "{\"status\":\"error\"}", &f, ok, sizeof(ok)));
    assert_string_equal(f.err.message,
                        "Prometheus at http://prom:9090 refused the query up{namespace=\"team-a\"} "
                        "(status 503, no error type): no detail");

    /* Answers that are not a vector Prometheus would write. */
    assert_false(prom(0, NULL, 200,
                      "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
                      "{\"metric\":{},\"value\":\"1\"}]}}",
                      &f, ok, sizeof(ok)));
    assert_int_equal(f.cls, P4_FAIL_CLUSTER);
    assert_string_equal(f.reason, "PrometheusUnavailable");
    assert_false(prom(0, NULL, 200, "{\"status\":\"success\"}", &f, ok, sizeof(ok)));
    assert_string_equal(f.reason, "PrometheusUnavailable");
    assert_false(prom(0, NULL, 200,
                      "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":{}}}",
                      &f, ok, sizeof(ok)));
    assert_string_equal(f.reason, "PrometheusUnavailable");
}

static void query_without_instant_vector(void **state)
{
    struct p4_vstage_failure f;
    char ok[P4_ERROR_MESSAGE_MAX];

    (void)state;
    assert_false(prom(0, NULL, 200,
                      "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[]}}",
                      &f, ok, sizeof(ok)));
    assert_int_equal(f.cls, P4_FAIL_ARTIFACT);
    assert_string_equal(f.reason, "InvalidMetricsCheck");
    assert_string_equal(f.err.message,
                        "the query up{namespace=\"team-a\"} gives a matrix, not an instant vector: "
                        "write one whose every sample is 1 when the target is up (e.g. "
                        "up{job=\"...\"})");
}

/* p4_vstage_monitor_judge on inline JSON (NULL for a kind not served). */
static bool monitors(const char *smons, const char *pmons, const char *services,
                     const char *workloads, char *msg, size_t size)
{
    cJSON *sm = smons ? test_json(smons) : NULL, *pm = pmons ? test_json(pmons) : NULL;
    cJSON *svc = services ? test_json(services) : NULL;
    cJSON *wl = workloads ? test_json(workloads) : NULL;
    bool yes = p4_vstage_monitor_judge(sm, pm, svc, wl, "team-a", msg, size);

    cJSON_Delete(sm);
    cJSON_Delete(pm);
    cJSON_Delete(svc);
    cJSON_Delete(wl);
    return yes;
}

static const char web_service[] =
    "[{'kind':'Service','metadata':{'name':'web','namespace':'team-a','labels':"
    "{'app.kubernetes.io/name':'webapp','app.kubernetes.io/instance':'web'}}}]";
static const char web_deployment[] =
    "[{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'web','namespace':'team-a',"
    "'labels':{'chart':'webapp'}},'spec':{'template':{'metadata':{'labels':{'app':'web',"
    "'pod-template-hash':'abc'}},'spec':{}}}}]";

static void service_monitor_selects(void **state)
{
    static const char *const selecting[] = {
        "[{'metadata':{'name':'web','namespace':'team-a'},'spec':{'selector':{'matchLabels':"
        "{'app.kubernetes.io/name':'webapp'}}}}]",
        /* an empty selector selects every Service of its namespaces */
        "[{'metadata':{'name':'web','namespace':'team-a'},'spec':{'selector':{}}}]",
        "[{'metadata':{'name':'web','namespace':'team-a'},'spec':{}}]",
        "[{'metadata':{'name':'web','namespace':'monitoring'},'spec':{'namespaceSelector':"
        "{'matchNames':['other','team-a']},'selector':{'matchExpressions':[{'key':"
        "'app.kubernetes.io/instance','operator':'In','values':['web','api']}]}}}]",
        "[{'metadata':{'name':'web','namespace':'monitoring'},'spec':{'namespaceSelector':"
        "{'any':true},'selector':{'matchLabels':{'app.kubernetes.io/instance':'web'}}}}]",
        /* the first does not select; the second does */
        "[{'metadata':{'name':'db','namespace':'team-a'},'spec':{'selector':{'matchLabels':"
        "{'app':'db'}}}},{'metadata':{'name':'web','namespace':'team-a'},'spec':{'selector':"
        "{'matchLabels':{'app.kubernetes.io/instance':'web'}}}}]",
    };
    char msg[P4_ERROR_MESSAGE_MAX];

    (void)state;
    for (size_t i = 0; i < sizeof(selecting) / sizeof(selecting[0]); i++) {
        if (!monitors(selecting[i], "[]", web_service, web_deployment, msg, sizeof(msg)))
            fail_msg("%s: %s", selecting[i], msg);
        assert_string_equal(msg, "ServiceMonitor web selects Service web");
    }
}

static void pod_monitor_selects(void **state)
{
    char msg[P4_ERROR_MESSAGE_MAX];

    (void)state;
    assert_true(monitors(NULL,
                         "[{'metadata':{'name':'pods','namespace':'team-a'},'spec':{'selector':"
                         "{'matchLabels':{'app':'web'}}}}]",
                         web_service, web_deployment, msg, sizeof(msg)));
    assert_string_equal(msg, "PodMonitor pods selects the pods of Deployment web");
    /* A PodMonitor matches pod labels, not the workload's or the Service's own. */
    assert_false(monitors("[]",
                          "[{'metadata':{'name':'pods','namespace':'team-a'},'spec':{'selector':"
                          "{'matchLabels':{'chart':'webapp'}}}},{'metadata':{'name':'svc',"
                          "'namespace':'team-a'},'spec':{'selector':{'matchLabels':"
                          "{'app.kubernetes.io/name':'webapp'}}}}]",
                          web_service, web_deployment, msg, sizeof(msg)));
    assert_string_equal(msg, "none of the 0 ServiceMonitor(s) and 2 PodMonitor(s) in namespace "
                             "team-a selects the release's Service web or the pods of Deployment "
                             "web");
}

static void no_monitor_selects(void **state)
{
    char msg[P4_ERROR_MESSAGE_MAX];

    (void)state;
    /* Not installed. */
    assert_false(monitors(NULL, NULL, web_service, web_deployment, msg, sizeof(msg)));
    assert_string_equal(msg, "the Prometheus Operator's CRDs are not installed: the cluster "
                             "serves neither ServiceMonitor nor PodMonitor "
                             "(monitoring.coreos.com/v1)");
    /* None in the namespace. */
    assert_false(monitors("[]", "[]", web_service, web_deployment, msg, sizeof(msg)));
    assert_string_equal(msg, "namespace team-a has no ServiceMonitor or PodMonitor: create one "
                             "that selects the release's Service web or the pods of Deployment "
                             "web");
    assert_false(monitors("[]", NULL, web_service, web_deployment, msg, sizeof(msg)));
    assert_string_equal(msg, "namespace team-a has no ServiceMonitor: create one that selects "
                             "the release's Service web");
    assert_false(monitors(NULL, "[]", web_service, web_deployment, msg, sizeof(msg)));
    assert_string_equal(msg, "namespace team-a has no PodMonitor: create one that selects the "
                             "release's pods of Deployment web");
    assert_false(monitors("[]", "[]", NULL, NULL, msg, sizeof(msg)));
    assert_string_equal(msg, "namespace team-a has no ServiceMonitor or PodMonitor: create one "
                             "that selects the release (it has no Service or workload)");
    assert_false(monitors("[]", NULL, "[]", web_deployment, msg, sizeof(msg)));
    assert_string_equal(msg, "namespace team-a has no ServiceMonitor: create one that selects "
                             "the release (it has no Service)");
    /* Some, none selecting: another namespace, other labels, a selector of the wrong shape. */
    assert_false(monitors(
        "[{'metadata':{'name':'a','namespace':'team-a'},'spec':{'namespaceSelector':"
        "{'matchNames':['other']}}},"
        "{'metadata':{'name':'b','namespace':'team-a'},'spec':{'selector':{'matchLabels':"
        "{'app.kubernetes.io/name':'api'}}}},"
        "{'metadata':{'name':'c','namespace':'team-a'},'spec':{'selector':{'matchLabels':'x'}}},"
        "{'metadata':{'name':'d','namespace':'monitoring'},'spec':{}}]",
        NULL, web_service, "[]", msg, sizeof(msg)));
    assert_string_equal(msg, "none of the 4 ServiceMonitor(s) in namespace team-a selects the "
                             "release's Service web");
}

static void proxy_paths(void **state)
{
    char path[256], small[32];

    (void)state;
    assert_int_equal(
        p4_vstage_proxy_path("team-a", "web", false, "8080", "/metrics", path, sizeof(path)), 0);
    assert_string_equal(path, "/api/v1/namespaces/team-a/services/web:8080/proxy/metrics");
    assert_int_equal(
        p4_vstage_proxy_path("team-a", "web", true, "metrics", "/a b/m?x=1#f", path, sizeof(path)),
        0);
    assert_string_equal(
        path, "/api/v1/namespaces/team-a/services/https:web:metrics/proxy/a%20b/m?x=1%23f");
    assert_int_equal(
        p4_vstage_proxy_path("team-a", "web", false, "8080", "/metrics", small, sizeof(small)),
        P4_ERR_TOOBIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(nothing_declared),
        cmocka_unit_test(endpoint_is_read),
        cmocka_unit_test(bad_specs_are_refused),
        cmocka_unit_test(series_limit),
        cmocka_unit_test(prometheus_query_and_url),
        cmocka_unit_test(endpoint_answers_judged),
        cmocka_unit_test(prometheus_answers_judged),
        cmocka_unit_test(many_targets_down_are_counted),
        cmocka_unit_test(prometheus_unavailable),
        cmocka_unit_test(query_without_instant_vector),
        cmocka_unit_test(service_monitor_selects),
        cmocka_unit_test(pod_monitor_selects),
        cmocka_unit_test(no_monitor_selects),
        cmocka_unit_test(proxy_paths),
    };

    return cmocka_run_group_tests_name("metricsjudge", tests, NULL, free_spec_tree);
}
