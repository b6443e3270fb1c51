/*
 * operator.c: the operator itself. It builds the loop's components (kube
 * client, Phase4Deployment and Job caches, controller, reconciler and its
 * stages, Events, leader election, the /metrics and probe endpoints), wires
 * them together and runs until SIGTERM or SIGINT, then shuts down gracefully:
 * reconciles in flight finish (or are canceled after --graceful-shutdown-timeout),
 * the Lease is released, and every handle closes.
 */
#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "cmd.h"
#include "phase4/core/buf.h"
#include "phase4/core/json.h"
#include "phase4/core/log.h"
#include "phase4/core/version.h"
#include "phase4/kube/client.h"
#include "phase4/kube/discovery.h"
#include "phase4/net/cpucount.h"
#include "phase4/net/reaper.h"
#include "phase4/oci/registry.h"
#include "phase4/reconciler/reconcile.h"
#include "phase4/runtime/controller.h"
#include "phase4/runtime/events.h"
#include "phase4/runtime/handlers.h"
#include "phase4/runtime/informer.h"
#include "phase4/runtime/leader.h"
#include "phase4/runtime/serve.h"
#include "phase4/stages/docker/stage.h"
#include "phase4/stages/helm/chartfetch.h"
#include "phase4/stages/helm/helmrun.h"
#include "phase4/stages/helm/stage.h"
#include "phase4/stages/kubernetes/applyset.h"
#include "phase4/stages/kubernetes/stage.h"
#include "phase4/stages/validation/stage.h"

struct app {
    uv_loop_t *loop;
    uv_signal_t sigterm, sigint;
    struct p4_reaper *reaper; /* as PID 1 (in the image): orphaned processes reaped, or NULL */
    struct p4_kube *kube;
    struct p4_informer *resources;
    struct p4_informer *jobs;          /* build Jobs the operator created */
    struct p4_enqueue_owner job_owner; /* a Job's change reconciles its resource */
    struct p4_events *events;
    struct p4_controller *ctl;
    struct p4_reconciler rec;
    struct p4_tenancy tenancy; /* who acts for each resource: the stages and rec borrow it */
    struct p4_registry *registry;
    struct p4_docker_stage *docker;
    struct p4_discovery *discovery;
    struct p4_node_platforms nodes; /* the Nodes' platforms, for the Docker and Helm stages */
    struct p4_manifest_memo *memo;  /* manifests the Helm stage stored, for the Kubernetes stage */
    struct p4_chartfetch *charts;
    struct p4_helm_stage *helm;
    struct p4_kube_stage *kstage;
    struct p4_validation_stage *vstage;
    struct p4_notifier *notifier; /* spec.notify's webhooks */
    char helm_version[64];        /* what `helm version` said at start, or "" */
    struct p4_leader *leader;
    struct p4_serve *metrics, *probes;
    uv_timer_t grace; /* ends a graceful shutdown that takes too long */
    uv_timer_t trim;  /* gives memory freed after a burst back to the system */
    long grace_ms;
    int grace_expired;
    int stopping;
};

/*
 * glibc keeps freed memory for reuse; after a burst (thousands of resources
 * checked at once) that would stay in the RSS for good. Hand free pages back
 * now and then; it costs a few milliseconds.
 */
static void on_trim(uv_timer_t *t)
{
    (void)t;
#ifdef __GLIBC__
    (void)malloc_trim(0);
#endif
}

/*
 * The resource a Job the operator created belongs to (a p4_owner_key_fn).
 * A chart's Job names its owner in the phase4.io/owner annotation ("ns/name");
 * a build Job is in its resource's namespace, named by its phase4.io/name label.
 */
static const char *owner_of_job(const cJSON *job, char *buf, size_t size, void *data)
{
    const char *ns = p4_json_str(job, "metadata.namespace");
    const char *name = p4_json_str(job, "metadata.labels.phase4\\.io/name");
    const char *owner = p4_applyset_owner_of(job);

    (void)data;
    if (owner)
        return owner;
    if (ns && name && (size_t)snprintf(buf, size, "%s/%s", ns, name) < size)
        return buf;
    return NULL;
}

/* The helm next to this binary (as the image ships it), else /usr/local/bin/helm. */
static const char *default_helm(char *buf, size_t size)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

    if (n > 0) {
        char *slash;
        self[n] = '\0';
        slash = strrchr(self, '/');
        if (slash) {
            *slash = '\0';
            int w = snprintf(buf, size, "%s/helm", self);
            if (w > 0 && (size_t)w < size && access(buf, X_OK) == 0)
                return buf;
        }
    }
    return "/usr/local/bin/helm";
}

static void on_helm_version(int rc, const struct p4_childproc_result *res,
                            const struct p4_error *err, void *data)
{
    struct app *app = data;
    size_t n;

    if (rc != 0 || res->exit_status != 0 || res->term_signal != 0 || res->timed_out) {
        p4_log(P4_LOG_ERROR, "helm does not run; the Helm stage will fail (see --helm-binary)",
               "error", rc != 0 ? err->message : res->err, P4_LOG_END);
        return;
    }
    n = strspn(res->out, "v0123456789.+-abcdefghijklmnopqrstuvwxyz");
    (void)snprintf(app->helm_version, sizeof(app->helm_version), "%.*s", (int)n, res->out);
    p4_log(strcmp(app->helm_version, P4_HELM_VERSION) == 0 ? P4_LOG_INFO : P4_LOG_WARN,
           strcmp(app->helm_version, P4_HELM_VERSION) == 0
               ? "helm found"
               : "helm is not the version this operator is built and tested with",
           "version", app->helm_version, "pinned", P4_HELM_VERSION, P4_LOG_END);
}

/* Ask helm its version, for the log and /metrics. */
static void probe_helm(struct app *app, const char *helm, const char *work)
{
    static const char *const argv[] = {"version", "--template", "{{.Version}}", NULL};
    char home[PATH_MAX];
    struct p4_helmrun_options ho = {.helm = helm, .argv = argv, .timeout_ms = 30000};
    struct p4_error err;

    (void)snprintf(home, sizeof(home), "%s/helm/home", work);
    ho.home = ho.cache_home = ho.config_home = ho.data_home = home;
    if (p4_helmrun_start(app->loop, &ho, on_helm_version, app, NULL, &err) != 0)
        p4_log(P4_LOG_ERROR, "cannot run helm; the Helm stage will fail (see --helm-binary)",
               "helm", helm, "error", err.message, P4_LOG_END);
}

/* A stage's result changed: reconcile the resource (once the leader hands out work). */
static void on_stage_changed(const char *key, void *data)
{
    struct app *app = data;

    if (!app->stopping)
        p4_controller_enqueue(app->ctl, key);
}

/* Drift of a trusted resource (kubernetes/stage.h): its recheck is due now. */
static void on_stage_drifted(const char *key, void *data)
{
    struct app *app = data;

    p4_reconciler_recheck(&app->rec, key);
}

static void on_signal_closed(uv_handle_t *h)
{
    (void)h;
}

/* The lease is released: close the rest, and the loop ends. */
static void on_released(void *arg)
{
    struct app *app = arg;

    app->leader = NULL;
    p4_docker_stage_free(app->docker); /* runs still waiting on a request end with it */
    app->docker = NULL;
    p4_helm_stage_free(app->helm); /* a running helm is killed */
    app->helm = NULL;
    p4_kube_stage_free(app->kstage); /* an apply in flight stops between objects */
    app->kstage = NULL;
    p4_validation_stage_free(app->vstage); /* probes in flight end with it */
    app->vstage = NULL;
    p4_notifier_free(app->notifier); /* a delivery cut short is sent again after a restart */
    app->notifier = NULL;
    p4_chartfetch_free(app->charts);
    app->charts = NULL;
    p4_discovery_close(app->discovery);
    app->discovery = NULL;
    p4_manifest_memo_free(app->memo); /* after the stages that put and take */
    app->memo = NULL;
    p4_node_platforms_close(&app->nodes);
    p4_registry_close(app->registry);
    app->registry = NULL;
    p4_informer_close(app->resources);
    p4_informer_close(app->jobs);
    p4_kube_close(app->kube); /* cancels the watch, which lets the informer free itself */
    app->kube = NULL;
    p4_reconciler_close(&app->rec); /* after the requests it may have in flight end */
    p4_events_free(app->events);
    p4_controller_free(app->ctl);
    p4_serve_close(app->metrics);
    p4_serve_close(app->probes);
    p4_reaper_close(app->reaper); /* after the stages: helm and its group are killed by now */
    app->reaper = NULL;
    uv_close((uv_handle_t *)&app->sigterm, on_signal_closed);
    uv_close((uv_handle_t *)&app->sigint, on_signal_closed);
    uv_close((uv_handle_t *)&app->grace, on_signal_closed);
    uv_close((uv_handle_t *)&app->trim, on_signal_closed);
    p4_log(P4_LOG_INFO, "stopped", P4_LOG_END);
}

/* Every reconcile in flight has finished: give up the lease. */
static void on_drained(void *arg)
{
    struct app *app = arg;

    p4_leader_release(app->leader, on_released, app);
    /* Out of time: do not wait on the API server for the release either. */
    if (app->grace_expired && app->kube)
        p4_kube_cancel_all(app->kube);
}

/* The grace period is over: cancel what is still in flight, so the shutdown ends. */
static void on_grace(uv_timer_t *t)
{
    struct app *app = t->data;

    p4_log(P4_LOG_WARN, "graceful shutdown timed out: canceling requests in flight", P4_LOG_END);
    app->grace_expired = 1;
    p4_kube_cancel_all(app->kube);
}

static void on_signal(uv_signal_t *s, int signum)
{
    struct app *app = s->data;

    if (app->stopping)
        return;
    app->stopping = 1;
    p4_log(P4_LOG_INFO, "shutting down: finishing reconciles in flight", "signal",
           signum == SIGTERM ? "SIGTERM" : "SIGINT", P4_LOG_END);
    (void)uv_timer_start(&app->grace, on_grace, (uint64_t)app->grace_ms, 0);
    p4_controller_shutdown(app->ctl, on_drained, app);
}

static void on_elected(void *data)
{
    p4_controller_run(((struct app *)data)->ctl);
}

/*
 * A leader that could not renew in time stops handing out work at once and
 * campaigns again (an API server outage longer than the renew deadline should
 * not crash the process); reconciles already running finish.
 */
static void on_lost(void *data)
{
    p4_log(P4_LOG_WARN, "lost leadership: pausing reconciles until re-elected", P4_LOG_END);
    p4_controller_pause(((struct app *)data)->ctl);
}

/*
 * /metrics in the Prometheus text format: the build, then each component's
 * own series. The order is part of the output (dashboards and the e2e tests
 * read it): keep it.
 */
static void write_metrics(struct app *app, struct p4_buf *b)
{
    p4_buf_printf(b,
                  "# HELP phase4_build_info The operator's version.\n"
                  "# TYPE phase4_build_info gauge\n"
                  "phase4_build_info{version=\"%s\",libuv=\"%s\",helm=\"%s\","
                  "helm_pinned=\"%s\"} 1\n",
                  P4_VERSION, uv_version_string(),
                  app->helm_version[0] ? app->helm_version : "unknown", P4_HELM_VERSION);
    p4_controller_metrics(app->ctl, b);
    p4_kube_metrics(app->kube, b);
    p4_informer_metrics(app->resources, "Phase4Deployments", b);
    p4_leader_metrics(app->leader, !app->stopping, b);
    p4_reconciler_metrics(&app->rec, b);
    p4_events_metrics(app->events, b);
    p4_reconciler_stage_metrics(&app->rec, b);
    p4_notifier_metrics(app->notifier, b);
}

/* The metrics and probe endpoints (a p4_serve_handler); readiness waits for the cache. */
/* Say at start which client-side rate limit holds and why (docs/architecture.md). */
static void log_rate(const struct p4_cmd_options *o)
{
    char qps[32] = "none", burst[32];

    if (o->qps > 0)
        (void)snprintf(qps, sizeof(qps), "%g", o->qps);
    (void)snprintf(burst, sizeof(burst), "%u", o->burst);
    if (o->rate_set)
        p4_log(P4_LOG_INFO, "client-side API rate limit as the flags say", "qps", qps, "burst",
               burst, P4_LOG_END);
    else
        p4_log(P4_LOG_INFO,
               "client-side API rate limit until the API server shows API Priority and "
               "Fairness, then none",
               "qps", qps, "burst", burst, P4_LOG_END);
}

static int on_http(const char *path, struct p4_buf *out, const char **ctype, void *data)
{
    struct app *app = data;

    if (strcmp(path, "/healthz") == 0 || strcmp(path, "/livez") == 0) {
        p4_buf_append(out, "ok\n", 3);
        return 200;
    }
    if (strcmp(path, "/readyz") == 0) {
        if (app->stopping || !p4_informer_synced(app->resources)) {
            p4_buf_printf(out, "not ready: %s\n",
                          app->stopping ? "shutting down" : "cache not synced yet");
            return 503;
        }
        p4_buf_append(out, "ok\n", 3);
        return 200;
    }
    if (strcmp(path, "/metrics") == 0) {
        *ctype = "text/plain; version=0.0.4; charset=utf-8";
        write_metrics(app, out);
        return 200;
    }
    p4_buf_append(out, "not found\n", 10);
    return 404;
}

/* --leader-election-namespace, $POD_NAMESPACE, the service account's namespace, or default. */
static const char *leader_namespace(const struct p4_cmd_options *o, char *buf, size_t size)
{
    const char *env = getenv("POD_NAMESPACE");
    FILE *f;

    if (o->leader_namespace)
        return o->leader_namespace;
    if (env && env[0])
        return env;
    f = fopen("/var/run/secrets/kubernetes.io/serviceaccount/namespace", "r");
    if (f) {
        size_t n = fread(buf, 1, size - 1, f);
        (void)fclose(f);
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
            n--;
        buf[n] = '\0';
        if (n > 0)
            return buf;
    }
    return "default";
}

/*
 * Build the components on app->kube and wire them: the controller reconciles
 * what the Phase4Deployment cache and the Jobs' owners enqueue, through the
 * reconciler and its three stages. A stage that cannot be set up is left out
 * (said in the log); the others run.
 */
/* The Kubernetes stage's caches, for the Validation stage's Logs gate. */
static struct p4_informer *kube_stage_cache(const char *kind, const char *ns, void *data)
{
    const struct app *app = data;

    return p4_kube_stage_cache(app->kstage, kind, ns);
}

static void wire(struct app *app, const struct p4_cmd_options *o, const char *host,
                 struct p4_error *err)
{
    struct p4_controller_opts co = {0};
    struct p4_docker_stage_config dc = {0};
    struct p4_chartfetch_config fc = {0};
    struct p4_helm_stage_config hc = {0};
    struct p4_kube_stage_config kc = {0};
    struct p4_validation_stage_config vc = {0};
    struct p4_notifier_config nc = {0};
    struct p4_informer_handlers handlers, job_handlers;
    char charts_dir[PATH_MAX], helm_dir[PATH_MAX], helm_buf[PATH_MAX], helm_limit[16];

    co.workers = o->workers;
    co.level = p4_reconciler_level; /* further along first (reconcile.h) */
    app->ctl = p4_controller_new(app->loop, &co, p4_reconcile, &app->rec);
    handlers = p4_handlers_enqueue_object(app->ctl);
    app->resources = p4_informer_new(app->loop, app->kube, P4_COLLECTION_PATH, &handlers);
    app->events = p4_events_new(app->kube, host);
    app->job_owner = (struct p4_enqueue_owner){.ctl = app->ctl, .owner_key = owner_of_job};
    job_handlers = p4_handlers_enqueue_owner(&app->job_owner);
    app->jobs =
        p4_informer_new(app->loop, app->kube,
                        "/apis/batch/v1/jobs?labelSelector=app.kubernetes.io%2Fmanaged-by%3D"
                        "phase4-operator",
                        &job_handlers);
    app->registry = p4_registry_new(app->loop);
    app->tenancy = (struct p4_tenancy){.default_service_account = o->default_service_account,
                                       .no_cross_namespace_refs = o->no_cross_namespace_refs != 0};
    app->discovery = p4_discovery_new(app->kube);
    app->memo = p4_manifest_memo_new();
    dc.kube = app->kube;
    dc.discovery = app->discovery;
    dc.nodes = &app->nodes;
    dc.tenancy = &app->tenancy;
    dc.jobs = app->jobs;
    dc.registry = app->registry;
    dc.retry_ms = o->retry_ms;
    dc.recheck_ms = o->recheck_ms;
    dc.scan_poll_ms = o->scan_poll_ms;
    dc.changed = on_stage_changed;
    dc.data = app;
    app->docker = app->registry ? p4_docker_stage_new(app->loop, &dc) : NULL;
    app->rec = (struct p4_reconciler){.kube = app->kube,
                                      .resources = app->resources,
                                      .events = app->events,
                                      .tenancy = &app->tenancy,
                                      .progress_interval_ms = o->progress_ms,
                                      .recheck_spread_ms = o->recheck_spread_ms};
    if (app->docker) {
        app->rec.stages[P4_STAGE_DOCKER] = &p4_docker_stage_ops;
        app->rec.stage_ctx[P4_STAGE_DOCKER] = app->docker;
    } else {
        p4_log(P4_LOG_ERROR, "cannot start the registry client; the Docker stage will not run",
               P4_LOG_END);
    }
    (void)snprintf(charts_dir, sizeof(charts_dir), "%s/charts", o->cache_dir);
    (void)snprintf(helm_dir, sizeof(helm_dir), "%s/helm", o->cache_dir);
    if (mkdir(o->cache_dir, 0700) != 0 && errno != EEXIST)
        p4_log(P4_LOG_ERROR, "cannot create the cache directory", "dir", o->cache_dir, "error",
               strerror(errno), P4_LOG_END);
    fc.cache_dir = charts_dir;
    fc.registry = app->registry;
    app->charts = app->registry ? p4_chartfetch_new(app->loop, &fc) : NULL;
    hc.kube = app->kube;
    hc.tenancy = &app->tenancy;
    hc.discovery = app->discovery;
    hc.nodes = &app->nodes;
    hc.memo = app->memo;
    hc.charts = app->charts;
    hc.registry = app->registry;
    hc.helm = o->helm ? o->helm : default_helm(helm_buf, sizeof(helm_buf));
    hc.work_dir = helm_dir;
    hc.helm_timeout_ms = o->helm_timeout_ms;
    hc.helm_concurrency = o->helm_concurrency > 0 ? o->helm_concurrency : p4_cpucount(NULL);
    (void)snprintf(helm_limit, sizeof(helm_limit), "%d", hc.helm_concurrency);
    p4_log(P4_LOG_INFO, "helm concurrency", "limit", helm_limit, "from",
           o->helm_concurrency > 0 ? "--helm-concurrency" : "the CPUs the process may use",
           P4_LOG_END);
    hc.retry_ms = o->retry_ms;
    hc.recheck_ms = o->recheck_ms;
    hc.changed = on_stage_changed;
    hc.data = app;
    app->helm = app->charts ? p4_helm_stage_new(app->loop, &hc, err) : NULL;
    if (app->helm) {
        app->rec.stages[P4_STAGE_HELM] = &p4_helm_stage_ops;
        app->rec.stage_ctx[P4_STAGE_HELM] = app->helm;
        probe_helm(app, hc.helm, o->cache_dir);
    } else {
        p4_log(P4_LOG_ERROR, "cannot set up the Helm stage; it will not run", "error", err->message,
               P4_LOG_END);
    }
    kc.kube = app->kube;
    kc.tenancy = &app->tenancy;
    kc.discovery = app->discovery;
    kc.memo = app->memo;
    kc.jobs = app->jobs;
    kc.events = app->events;
    kc.retry_ms = o->retry_ms;
    kc.recheck_ms = o->recheck_ms;
    kc.unschedulable_grace_ms = o->unschedulable_grace_ms;
    kc.changed = on_stage_changed;
    kc.drifted = on_stage_drifted;
    kc.data = app;
    app->kstage = p4_kube_stage_new(app->loop, &kc);
    app->rec.stages[P4_STAGE_KUBERNETES] = &p4_kube_stage_ops;
    app->rec.stage_ctx[P4_STAGE_KUBERNETES] = app->kstage;
    vc.kube = app->kube;
    vc.tenancy = &app->tenancy;
    vc.discovery = app->discovery;
    vc.jobs = app->jobs;
    vc.retry_ms = o->retry_ms;
    vc.recheck_ms = o->recheck_ms;
    vc.changed = on_stage_changed;
    vc.data = app;
    vc.cache = kube_stage_cache;
    vc.cache_data = app;
    app->vstage = p4_validation_stage_new(app->loop, &vc);
    if (app->vstage) {
        app->rec.stages[P4_STAGE_VALIDATION] = &p4_validation_stage_ops;
        app->rec.stage_ctx[P4_STAGE_VALIDATION] = app->vstage;
    } else {
        p4_log(P4_LOG_ERROR, "cannot set up the Validation stage; it will not run", P4_LOG_END);
    }
    nc.kube = app->kube;
    nc.resources = app->resources;
    nc.tenancy = &app->tenancy;
    nc.changed = on_stage_changed;
    nc.data = app;
    nc.allow = o->notify_allow;
    app->notifier = p4_notifier_new(app->loop, &nc);
    app->rec.notifier = app->notifier;
    if (app->notifier == NULL)
        p4_log(P4_LOG_ERROR, "cannot set up webhook deliveries; spec.notify is not acted on",
               P4_LOG_END);
}

/* The shutdown timers and the signals that start a graceful shutdown. */
static void start_handles(struct app *app, long grace_ms)
{
    (void)uv_timer_init(app->loop, &app->grace);
    app->grace.data = app;
    (void)uv_timer_init(app->loop, &app->trim);
    (void)uv_timer_start(&app->trim, on_trim, 30000, 30000);
    uv_unref((uv_handle_t *)&app->trim);
    app->grace_ms = grace_ms;
    (void)uv_signal_init(app->loop, &app->sigterm);
    (void)uv_signal_init(app->loop, &app->sigint);
    app->sigterm.data = app->sigint.data = app;
    (void)uv_signal_start(&app->sigterm, on_signal, SIGTERM);
    (void)uv_signal_start(&app->sigint, on_signal, SIGINT);
    /* In a container without an init, every orphan of the container is ours to wait for. */
    if (getpid() == 1) {
        struct p4_error err;

        if (p4_reaper_start(app->loop, &app->reaper, &err) == 0)
            p4_log(P4_LOG_INFO, "running as PID 1: reaping orphaned processes", P4_LOG_END);
        else
            p4_log(P4_LOG_WARN, "running as PID 1 but cannot reap orphaned processes", "error",
                   err.message, P4_LOG_END);
    }
}

/* Campaign for the Lease; the controller hands out work once elected (on_elected). */
static void campaign(struct app *app, const struct p4_cmd_options *o, const char *host)
{
    struct p4_leader_opts lo = {
        .name = o->leader_id, .on_elected = on_elected, .on_lost = on_lost, .data = app};
    char identity[320];
    unsigned char rnd[8];
    char ns_buf[256];

    lo.namespace = leader_namespace(o, ns_buf, sizeof(ns_buf));
    /* Unique per process, as client-go's hostname_<uuid>: two instances started in the
       same instant on one host must not share an identity (they would both lead). */
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
        uint64_t t = uv_hrtime();
        memcpy(rnd, &t, sizeof(rnd) < sizeof(t) ? sizeof(rnd) : sizeof(t));
    }
    (void)snprintf(identity, sizeof(identity), "%s_%d_%02x%02x%02x%02x%02x%02x%02x%02x", host,
                   (int)getpid(), rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
    lo.identity = identity;
    app->leader = p4_leader_new(app->loop, app->kube, &lo);
    p4_log(P4_LOG_INFO, "waiting to become the leader", "lease", o->leader_id, "namespace",
           lo.namespace, "identity", identity, P4_LOG_END);
    p4_leader_start(app->leader);
}

int p4_cmd_operator(const struct p4_cmd_options *o)
{
    struct p4_kube_config *cfg = NULL;
    struct p4_kube_options ko = {0};
    struct p4_error err;
    struct app app;
    char host[256] = "phase4-operator";
    int rc;

    p4_error_clear(&err);
    if (p4_cmd_load_config(o, &cfg, &err) != 0) {
        p4_log(P4_LOG_ERROR, "cannot load the cluster configuration", "error", err.message,
               P4_LOG_END);
        return 1;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        p4_kube_config_free(cfg);
        return 1;
    }
    memset(&app, 0, sizeof(app));
    app.loop = uv_default_loop();
    ko.qps = o->qps;
    ko.burst = o->burst;
    ko.rate_auto = !o->rate_set; /* explicit flags always win over APF detection */
    rc = p4_kube_new(app.loop, cfg, &ko, &app.kube, &err);
    if (rc != 0) {
        p4_log(P4_LOG_ERROR, "cannot create the API client", "error", err.message, P4_LOG_END);
        p4_kube_config_free(cfg);
        curl_global_cleanup();
        return 1;
    }
    p4_log(P4_LOG_INFO, "starting", "version", P4_VERSION, "server", cfg->server, "context",
           cfg->context ? cfg->context : "in-cluster", P4_LOG_END);
    log_rate(o);
    p4_kube_config_free(cfg);
    (void)gethostname(host, sizeof(host) - 1);

    wire(&app, o, host, &err);
    start_handles(&app, o->grace_ms);
    if (strcmp(o->metrics_addr, "0") != 0 &&
        p4_serve_start(app.loop, o->metrics_addr, on_http, &app, &app.metrics) != 0)
        goto fail_listen;
    if (strcmp(o->probe_addr, "0") != 0 &&
        p4_serve_start(app.loop, o->probe_addr, on_http, &app, &app.probes) != 0)
        goto fail_listen;

    p4_informer_start(app.resources);
    p4_informer_start(app.jobs);
    if (o->leader_elect)
        campaign(&app, o, host);
    else
        p4_controller_run(app.ctl);
    (void)uv_run(app.loop, UV_RUN_DEFAULT);
    rc = uv_loop_close(app.loop);
    curl_global_cleanup();
    if (rc != 0)
        p4_log(P4_LOG_WARN, "handles left open at exit", P4_LOG_END);
    return 0;

fail_listen:
    /* Nothing has started yet: stop as on a signal, and exit non-zero. */
    app.stopping = 1;
    p4_controller_shutdown(app.ctl, on_drained, &app);
    (void)uv_run(app.loop, UV_RUN_DEFAULT);
    rc = uv_loop_close(app.loop);
    curl_global_cleanup();
    (void)rc;
    return 1;
}
