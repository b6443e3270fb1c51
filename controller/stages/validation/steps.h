/*
 * steps.h: what the Validation stage's files share (internal to stages/validation/).
 *
 * The stage (phase4/stages/validation/stage.h) is cut by concern:
 *   stage.c      the driving: stage.h's operations, a run's begin/step/end/cancel/destroy, the
 *                spec read at start, p4_validation_stage_new/_free.
 *   http.c       S_HTTP: the health endpoints, all probed at once (HealthEndpoints).
 *   httpjudge.c  one answer judged against a check (status codes, body, JSON value): pure.
 *   smoke.c      S_SMOKE: the smoke-test Jobs (SmokeTests).
 *   smokejob.c   a smoke test's Job: name, body, ownership, status, pod, messages: pure.
 *   logs.c       S_LOGS: the release's pod logs (Logs).
 *   logscan.c    pod logs matched line by line against the patterns: pure (logscan.h).
 *   metrics.c    S_METRICS: metrics collection (Metrics): the endpoint through the service
 *                proxy, a Prometheus query, a ServiceMonitor or PodMonitor, one after the other.
 *   metricsjudge.c  spec.validation.metrics read, and each part's answer judged: pure.
 *   promtext.c   the Prometheus text format read as a stream (promtext.h).
 *
 * Functions here are p4_vstage_*. Those that take neither a run nor the stage are pure and are
 * what test/unit/validationstage_test.c checks.
 */
#ifndef PHASE4_VSTAGE_STEPS_H
#define PHASE4_VSTAGE_STEPS_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "phase4/core/error.h"
#include "phase4/net/http.h"
#include "phase4/reconciler/stagerun.h"
#include "phase4/stages/validation/stage.h"

enum gate { G_HTTP, G_SMOKE, G_LOGS, G_METRICS, G_COUNT };

/* The steps run in this order; each ends its gate, then goes on to the next. */
enum step { S_HTTP, S_SMOKE, S_LOGS, S_METRICS };

/* The reason of a gate with nothing declared (status True). */
#define P4_VSTAGE_NOT_REQUIRED "NotRequired"
/* The most bytes of a health or metrics answer read. */
#define P4_VSTAGE_BODY_MAX (1u << 20)

struct p4_validation_stage {
    struct p4_stagerunner sr; /* first: a run's sr is its stage */
    struct p4_validation_stage_config cfg;
    struct p4_http *http; /* URL checks and Prometheus queries */
};

struct p4_vstage_http_state; /* http.c */
struct p4_vstage_smoke;      /* smoke.c */
struct p4_vstage_logs;       /* logs.c */
struct p4_vstage_metrics;    /* metrics.c */

/* An attempt's scratch state: each step's own, freed by its _end function. */
struct work {
    struct p4_vstage_http_state *http;
    struct p4_vstage_smoke *smoke;
    struct p4_vstage_logs *logs;
    struct p4_vstage_metrics *metrics;
};

struct run {
    struct p4_stagerun base; /* first: answers get the run as their data */
    struct p4_validation_stage *v;
    cJSON *spec;      /* spec.validation (a copy), or NULL */
    cJSON *inventory; /* status.inventory (a copy), or NULL */
    char *manifest;   /* status.chart.manifest: the rendered manifest's Secret, or NULL */
    time_t since;     /* when the rollout of this generation began (logs are read from then) */
    struct work *w;
    /* smoke.c, across attempts: the gate passed (a retry runs no test again); the older
       generations' smoke-test Jobs were looked for. */
    bool smoke_passed, smoke_swept;
};

/* A gate's failure, as a pure function decides it. */
struct p4_vstage_failure {
    enum p4_failure_class cls;
    const char *reason; /* static */
    struct p4_error err;
};

/* ---- stage.c ---- */

/*
 * When the rollout of obj's generation began: status.report's Kubernetes stage startedAt, else
 * the HelmReady condition's lastTransitionTime for this generation, else now - 10 minutes.
 * Pure but for now.
 */
time_t p4_vstage_since(const cJSON *obj, time_t now);

/* Every gate is decided and none failed: the stage passed, with each gate's message. */
void p4_vstage_done(struct run *r);

/* ---- http.c ---- */

void p4_vstage_http(struct run *r); /* S_HTTP */
void p4_vstage_http_end(struct run *r);
/*
 * The service proxy's path to path on Service service (port a number or name, https for the
 * https: scheme prefix) in namespace ns: /api/v1/namespaces/NS/services/[https:]NAME:PORT/proxy
 * PATH, each part escaped. 0 or P4_ERR_TOOBIG.
 */
int p4_vstage_proxy_path(const char *ns, const char *service, bool https, const char *port,
                         const char *path, char *out, size_t size);
/* Is a p4_kube_proxy answer the API server's own (a v1 Status), not the backend's? */
bool p4_vstage_from_api_server(const struct p4_kube_result *res);

/* ---- httpjudge.c ---- */

/* One HTTP check, read from a spec.validation.http[] entry. */
struct p4_vstage_check {
    char name[128];      /* as shown in messages */
    const char *service; /* borrowed from the spec; NULL for a URL check */
    char port[16];       /* number or name */
    bool https;          /* scheme https (service checks) */
    const char *url;     /* borrowed; NULL for a service check */
    const char *path;    /* borrowed; "/" when absent */
    const char *method;  /* GET, HEAD, POST */
    int codes[16];
    int ncodes;                /* 0: 200 only */
    const char *body_contains; /* borrowed, or NULL */
    const char *json_path;     /* borrowed, or NULL */
    const char *json_value;    /* borrowed */
    uint64_t timeout_ms, interval_ms;
    int success_threshold, failure_threshold;
};

/* A Service port (a number 1-65535, or a name) as text into out; false when it is neither. */
bool p4_vstage_port_read(const cJSON *port, char out[16]);

/* Entry i of spec.validation.http (borrowed by *c while the spec lives). 0 or P4_ERR_INVAL. */
int p4_vstage_check_read(const cJSON *entry, int i, struct p4_vstage_check *c,
                         struct p4_error *err);

/*
 * Whether an answer (status, the body's first len bytes) passes c: the status among c's codes,
 * the body containing body_contains, the JSON body's value at json_path equal to json_value (a
 * string as is; a number, true, false or null as JSON writes it). False with why (one clause,
 * e.g. "status 503, want 200; body: \"...\"") otherwise. body may be NULL (len 0).
 */
bool p4_vstage_http_judge(const struct p4_vstage_check *c, long status, const char *body,
                          size_t len, char *why, size_t size);

/* ---- smoke.c, smokejob.c ---- */

void p4_vstage_smoke(struct run *r); /* S_SMOKE */
void p4_vstage_smoke_end(struct run *r);
/* poll(): a Job the step waits for may have changed. */
void p4_vstage_smoke_poll(struct run *r, const cJSON *obj);

#define P4_VSTAGE_SMOKE_MAX 48 /* tests in one run: the spec's 16 and the chart's */
#define P4_VSTAGE_SMOKE_TIMEOUT_MS ((uint64_t)300000) /* the CRD's default, and helm test's */
#define P4_VSTAGE_NAME_MAX 63                         /* a Job's name, a label's value */

/* Whose smoke-test Jobs (strings borrowed): the resource and its generation. */
struct p4_vstage_owner {
    const char *ns, *name, *uid, *target_ns;
    int64_t generation;
};

/* One smoke test: a spec.validation.smokeTests[] entry or one of the chart's test hooks. */
struct p4_vstage_smoke_test {
    char name[254];                   /* the entry's name, or the test hook's metadata.name */
    bool helm;                        /* a helm.sh/hook test object of the chart */
    char job[P4_VSTAGE_NAME_MAX + 1]; /* its Job (p4_vstage_smoke_job_name) */
    cJSON *template;                  /* the JobSpec (owned; NULL when the entry has none) */
    uint64_t timeout_ms;
    char timeout[32]; /* as written ("5m") */
    int state;        /* smoke.c's */
    bool seen;        /* smoke.c's: the Job informer has had the Job */
    int64_t created;  /* the Job's creationTimestamp in Unix seconds, 0 until known */
    int64_t secs;     /* how long the Job ran, -1 when unknown */
};

/* What a Job's status says. */
enum p4_vstage_job { P4_VJOB_RUNNING, P4_VJOB_PASSED, P4_VJOB_FAILED, P4_VJOB_TIMEDOUT };

/* What a failed (or late) test's pod says. */
struct p4_vstage_pod_exit {
    char pod[254], container[254]; /* "" when there is no pod or container */
    bool has_code;
    int code;          /* the first non-zero exit code, else 0 */
    char waiting[160]; /* a container that never started: its waiting reason (and message) */
    bool has_log;      /* the container ran: its log can be read */
};

/*
 * The Job of a test: "<resource>-smoke-<test>-g<generation>" ("-test-" for a chart's test
 * hook), or, when longer than 63 bytes, its first 52 bytes (without a trailing '-' or '.'), '-'
 * and 10 hex digits of its SHA-256: the same name on every run, after a restart too.
 */
void p4_vstage_smoke_job_name(const char *resource, bool helm, const char *test, int64_t generation,
                              char out[P4_VSTAGE_NAME_MAX + 1]);
/* value as a label value: itself up to 63 bytes, else cut as applymark.h cuts the
   phase4.io/name label (52 bytes, '-', 10 hex digits of its SHA-256). Returns out. */
const char *p4_vstage_label_value(const char *value, char out[P4_VSTAGE_NAME_MAX + 1]);

/*
 * spec.validation.smokeTests into tests (at most max; each template copied, the caller frees
 * them with p4_vstage_smoke_tests_free). Returns how many, or -1 with err (a name missing or
 * used twice, a template that is not an object).
 */
int p4_vstage_smoke_read(const cJSON *spec, struct p4_vstage_smoke_test *tests, int max,
                         struct p4_error *err);
/*
 * The chart's test hooks among objects (a manifest split): each Pod or Job whose helm.sh/hook
 * names test or test-success, in Helm's order (helm.sh/hook-weight, then name), appended to
 * tests from index at (at most max in all) as Jobs: a Job's spec, a Pod's metadata and spec as
 * the template. Other kinds are counted in *skipped. Returns the new count.
 */
int p4_vstage_smoke_helm_tests(const cJSON *objects, struct p4_vstage_smoke_test *tests, int at,
                               int max, int *skipped);
void p4_vstage_smoke_tests_free(struct p4_vstage_smoke_test *tests, int n);

/*
 * The Job of test t for o (caller frees): in o->target_ns, labelled and annotated as the
 * resource's (and owned by it through an ownerReference in its own namespace), its spec the
 * template with activeDeadlineSeconds from the timeout, backoffLimit 0 and the pod's
 * restartPolicy Never when the template says none.
 */
cJSON *p4_vstage_smoke_job(const struct p4_vstage_owner *o, const struct p4_vstage_smoke_test *t);
/* Whether job is a smoke-test Job of o's resource (any generation; of o's only when
   same_generation). */
bool p4_vstage_smoke_ours(const cJSON *job, const struct p4_vstage_owner *o, bool same_generation);
/* Whether job is one of o's resource's smoke-test Jobs of an older generation. */
bool p4_vstage_smoke_stale(const cJSON *job, const struct p4_vstage_owner *o);
/* What job's conditions say; why gets a failure's "Reason: message". */
enum p4_vstage_job p4_vstage_smoke_job_state(const cJSON *job, char *why, size_t size);
/* How long job ran (status.startTime to completionTime), in seconds; -1 when unknown. */
int64_t p4_vstage_smoke_job_seconds(const cJSON *job);
/* The pod of a Job to blame (a pod list as the API server returns it) and its container. */
void p4_vstage_smoke_pod_exit(const cJSON *pods, struct p4_vstage_pod_exit *out);
/* GET path of the last lines of pe's container's log in namespace ns; false when none. */
bool p4_vstage_smoke_log_path(const char *ns, const struct p4_vstage_pod_exit *pe, char *path,
                              size_t size);
/* A test failed (or did not finish in time): SmokeTestFailed or SmokeTestTimedOut, artifact. */
void p4_vstage_smoke_failure(const struct p4_vstage_smoke_test *t, const char *ns, bool timed_out,
                             const char *why, const struct p4_vstage_pod_exit *pe, const char *log,
                             struct p4_vstage_failure *f);
/* The API server refused to create t's Job (rc, e): the gate's failure. as: who asked. */
void p4_vstage_smoke_create_failure(int rc, const struct p4_error *e,
                                    const struct p4_vstage_smoke_test *t, const char *ns,
                                    const char *as, struct p4_vstage_failure *f);
/* A Job of t's name that is not this generation's of the resource: SmokeTestConflict. */
void p4_vstage_smoke_conflict(const struct p4_vstage_smoke_test *t, const char *ns,
                              int64_t generation, struct p4_vstage_failure *f);
/* The label selector of the resource's smoke-test Jobs (unescaped) into buf. */
void p4_vstage_smoke_selector(const char *resource, char *buf, size_t size);
/* "2 smoke test(s) passed: a (12s), helm test b (3s)" into msg. */
void p4_vstage_smoke_passed_message(const struct p4_vstage_smoke_test *tests, int n, int skipped,
                                    char *msg, size_t size);

/* ---- logs.c (its matcher: logscan.h) ---- */

void p4_vstage_logs(struct run *r); /* S_LOGS */
void p4_vstage_logs_end(struct run *r);

#define P4_VSTAGE_LOGS_PODS 50      /* pods whose logs are read */
#define P4_VSTAGE_LOGS_CONTAINERS 8 /* containers of a pod whose logs are read */

struct p4_logscan_result;

/* What the Logs gate read, besides the lines themselves (logscan.h). */
struct p4_vstage_logs_tally {
    int pods;    /* pods found */
    int read;    /* containers whose log was read */
    int skipped; /* containers whose log could not be read: never started, or gone */
    bool pods_capped, containers_capped; /* more than P4_VSTAGE_LOGS_PODS, _CONTAINERS */
};

/*
 * Inventory entry e (apiVersion, kind, namespace, name) as a workload whose pods' logs are read:
 * a Deployment, StatefulSet, DaemonSet or ReplicaSet of apps/v1, a Job of batch/v1, a Pod of v1.
 * Its API path into path (in its namespace, else ns) and whether it is a Pod; false for any
 * other entry or one whose path does not fit.
 */
bool p4_vstage_logs_workload(const cJSON *e, const char *ns, char *path, size_t size, bool *pod);

/*
 * The containers of pod whose logs are read, into names (borrowed from pod), at most max:
 * spec.containers in order (not init containers), but for one whose status says it never ran
 * (waiting, without a last state), counted in *not_started. *capped when more were left.
 */
int p4_vstage_logs_containers(const cJSON *pod, const char **names, int max, int *not_started,
                              bool *capped);

/*
 * The Logs gate's verdict on res and t, the logs read since `since`: false with f when a line
 * failed (artifact, CriticalLogLines: "2 critical line(s) in the logs since 12:01:02Z: pod P
 * container C: \"panic: ...\"; ...", as many lines as fit); true with msg (LogsClean's message:
 * "3 container(s) of 2 pod(s) logged no critical line since 12:01:02Z", and what was skipped,
 * excused or left) otherwise.
 */
bool p4_vstage_logs_judge(const struct p4_logscan_result *res, const struct p4_vstage_logs_tally *t,
                          time_t since, struct p4_vstage_failure *f, char *msg, size_t size);

/* ---- metrics.c ---- */

void p4_vstage_metrics(struct run *r); /* S_METRICS */
void p4_vstage_metrics_end(struct run *r);

/* ---- metricsjudge.c ---- */

/* The most bytes of a metrics endpoint's answer read. */
#define P4_VSTAGE_METRICS_BODY_MAX ((size_t)4 << 20)
/* The most series spec.validation.metrics.endpoint.series names (the CRD's maxItems). */
#define P4_VSTAGE_SERIES_MAX 32

/* spec.validation.metrics, read. Strings are borrowed from the spec unless said otherwise. */
struct p4_vstage_metrics_spec {
    bool endpoint, prometheus, monitor; /* the parts declared: each is required */
    /* endpoint */
    const char *service;
    char port[16];
    bool https;
    const char *path; /* "/metrics" when absent */
    const char *series[P4_VSTAGE_SERIES_MAX];
    int nseries;
    char where[400]; /* "web:8080/metrics" (with "https:" first for https), for messages */
    /* prometheus */
    const char *url;
    char query[1100]; /* the spec's, or up{namespace="<target namespace>"} */
    char url_shown[300];
};

/* spec.validation.metrics (an object, or NULL) for target namespace ns. 0 or P4_ERR_INVAL. */
int p4_vstage_metrics_read(const cJSON *metrics, const char *ns, struct p4_vstage_metrics_spec *m,
                           struct p4_error *err);

/*
 * The metrics endpoint's answer (status, the body's len bytes): status 200, the Prometheus text
 * format (promtext.h), at least one sample, every named series there. True with what it has in
 * msg (a clause), or false with what is wrong (MetricsNotExposed, artifact).
 */
bool p4_vstage_metrics_judge(const struct p4_vstage_metrics_spec *m, long status, const char *body,
                             size_t len, char *msg, size_t size);

/* <url>/api/v1/query?query=<the query, escaped> into out. 0 or P4_ERR_TOOBIG. */
int p4_vstage_prom_query_url(const struct p4_vstage_metrics_spec *m, char *out, size_t size);

/*
 * Prometheus's answer to the query: rc and error as p4_http gives them (rc 0: an HTTP answer,
 * status and body). True when the result is an instant vector (or a scalar) of at least one
 * sample and every sample's value is "1", with how many in ok. Otherwise *f: TargetDown
 * (artifact) naming the series that are not 1, or that no target matches; InvalidMetricsCheck
 * (artifact) for a query that gives no instant vector; PrometheusUnavailable (cluster) when it
 * cannot be reached or answers other than with a successful query.
 */
bool p4_vstage_prom_judge(const struct p4_vstage_metrics_spec *m, int rc, const char *error,
                          long status, const char *body, size_t len, struct p4_vstage_failure *f,
                          char *ok, size_t size);

/*
 * Whether one of the ServiceMonitors (smons, items of a list; NULL when the kind is not served)
 * selects one of the release's Services, or one of the PodMonitors (pmons, likewise) one of its
 * workloads' pods, in target namespace ns: spec.namespaceSelector (any, matchNames, or the
 * monitor's own namespace) and spec.selector (empty selects every one, as the Prometheus
 * Operator reads it). services and workloads are arrays of the objects (or NULL). True with which
 * one in msg, else false with what was looked for (NoMonitor, cluster).
 */
bool p4_vstage_monitor_judge(const cJSON *smons, const cJSON *pmons, const cJSON *services,
                             const cJSON *workloads, const char *ns, char *msg, size_t size);

#endif
