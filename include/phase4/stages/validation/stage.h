/*
 * stages/validation/stage.h: stage 4, Validation: once the workloads are ready, the application
 * is checked from outside as a user would check it.
 *
 * Gates, in status.gates order (a gate with nothing declared is True with reason NotRequired,
 * shown, not hidden):
 *   HealthEndpoints  every spec.validation.http[] check answers as expected (status codes, a body
 *                    substring, a JSON value at a path) successThreshold times in a row, all
 *                    probed at once: a Service through the API server's service proxy
 *                    (/api/v1/namespaces/NS/services/[https:]NAME:PORT/proxy/PATH, as the
 *                    resource's ServiceAccount), or a URL directly. failureThreshold failures in a
 *                    row fail it: HealthCheckFailed, HealthCheckTimedOut, ServiceNotFound.
 *   SmokeTests       spec.validation.smokeTests[] (and the chart's helm.sh/hook test objects with
 *                    helmTests): Jobs created once per generation, owned by the resource, each
 *                    with a deadline: SmokeTestFailed with the pod's exit code and last log lines.
 *   Logs             the logs of the release's pods since the rollout began, matched against
 *                    criticalPatterns minus allowPatterns: CriticalLogLines.
 *   Metrics          the workload's metrics endpoint has the named series (MetricsNotExposed), a
 *                    Prometheus server reports it up (TargetDown), a ServiceMonitor or PodMonitor
 *                    selects it (NoMonitor).
 *
 * The stage starts once KubernetesReady=True is written for the generation. Its failures are
 * artifact failures (retried spec.rollout.retries times, then RegenerationRequired), but for a
 * Prometheus that cannot be reached or a monitor that is missing (a person must act), and API
 * errors (transient). docs/architecture.md has the stage's files.
 */
#ifndef PHASE4_VALIDATIONSTAGE_H
#define PHASE4_VALIDATIONSTAGE_H

#include <stdint.h>
#include <uv.h>

#include "phase4/kube/client.h"
#include "phase4/kube/discovery.h"
#include "phase4/reconciler/stage.h"
#include "phase4/reconciler/tenancy.h"
#include "phase4/runtime/informer.h"

struct p4_validation_stage;

struct p4_validation_stage_config {
    struct p4_kube *kube; /* borrowed */
    /* Who acts for each resource (borrowed; NULL: spec.serviceAccountName only). */
    const struct p4_tenancy *tenancy;
    struct p4_discovery *discovery; /* borrowed */
    struct p4_informer *jobs;  /* borrowed: batch/v1 Jobs labelled managed-by=phase4-operator */
    uint64_t retry_ms;         /* first retry after an artifact failure, doubling; 0: 30 s */
    uint64_t recheck_ms;       /* re-check after a cluster-level failure; 0: 5 min */
    uint64_t transient_max_ms; /* cap of the backoff for transient errors; 0: 60 s */
    int max_active;            /* resources validating at once; 0: 32 */
    void (*changed)(const char *key, void *data);
    void *data;
    /*
     * Optional: the Kubernetes stage's caches, for the Logs gate's reads of the workloads'
     * selectors and their pods (the log reads stay requests, as the resource's identity). It
     * returns the synced informer holding every object of kind ("Deployment", "Pod", ...) in
     * namespace ns the operator may need, or NULL: then the gate asks the API server. NULL
     * cache: always.
     */
    struct p4_informer *(*cache)(const char *kind, const char *ns, void *cache_data);
    void *cache_data;
};

/* NULL when the stage cannot be set up (no HTTP client). */
struct p4_validation_stage *p4_validation_stage_new(uv_loop_t *loop,
                                                    const struct p4_validation_stage_config *cfg);
/* Drop every run; requests still out end with it. Accepts NULL. */
void p4_validation_stage_free(struct p4_validation_stage *v);

extern const struct p4_stage_ops p4_validation_stage_ops;

#endif
