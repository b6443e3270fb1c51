/*
 * steps.h: what the Validation stage's files share (internal to stages/validation/).
 *
 * The stage (phase4/stages/validation/stage.h) is cut by concern:
 *   stage.c      the driving: stage.h's operations, a run's begin/step/end/cancel/destroy, the
 *                spec read at start, p4_validation_stage_new/_free.
 *   http.c       S_HTTP: the health endpoints, all probed at once (HealthEndpoints).
 *   httpjudge.c  one answer judged against a check (status codes, body, JSON value): pure.
 *   smoke.c      S_SMOKE: the smoke-test Jobs (SmokeTests).
 *   logs.c       S_LOGS: the release's pod logs (Logs).
 *   logscan.c    pod logs matched line by line against the patterns: pure (logscan.h).
 *   metrics.c    S_METRICS: metrics collection (Metrics).
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

/* ---- smoke.c ---- */

void p4_vstage_smoke(struct run *r); /* S_SMOKE */
void p4_vstage_smoke_end(struct run *r);
/* poll(): a Job the step waits for may have changed. */
void p4_vstage_smoke_poll(struct run *r, const cJSON *obj);

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

#endif
