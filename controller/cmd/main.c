/*
 * main.c: the phase4-operator command. It parses the command line, builds
 * the loop, the kube client, the Phase4Deployment cache, the work queue and
 * the reconciler, wires them together and runs until SIGTERM or SIGINT.
 */
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
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

#include "phase4/core/alloc.h"
#include "phase4/runtime/controller.h"
#include "phase4/kube/discovery.h"
#include "phase4/runtime/events.h"
#include "phase4/kube/apply.h"
#include "phase4/stages/kubernetes/applyset.h"
#include "phase4/stages/helm/chartfetch.h"
#include "phase4/stages/docker/stage.h"
#include "phase4/stages/helm/helmrun.h"
#include "phase4/stages/helm/stage.h"
#include "phase4/stages/kubernetes/stage.h"
#include "phase4/stages/kubernetes/applyset.h"
#include "phase4/stages/docker/imagecheck.h"
#include "phase4/runtime/informer.h"
#include "phase4/core/json.h"
#include "phase4/kube/client.h"
#include "phase4/kube/kubeconfig.h"
#include "phase4/runtime/leader.h"
#include "phase4/core/log.h"
#include "phase4/oci/ocimanifest.h"
#include "phase4/reconciler/reconcile.h"
#include "phase4/oci/regauth.h"
#include "phase4/runtime/serve.h"
#include "phase4/core/version.h"

struct options {
    const char *kubeconfig;
    const char *context;
    int workers;
    double qps;
    unsigned burst;
    int log_level;
    int log_json;
    const char *metrics_addr;
    const char *probe_addr;
    int leader_elect;
    const char *leader_namespace;
    const char *leader_id;
    long grace_ms;
    uint64_t retry_ms, recheck_ms, scan_poll_ms, helm_timeout_ms, unschedulable_grace_ms;
    const char *helm;      /* the helm binary */
    const char *cache_dir; /* charts and helm's own homes */
};

struct app {
    uv_loop_t *loop;
    uv_signal_t sigterm, sigint;
    struct p4_kube *kube;
    struct p4_informer *resources;
    struct p4_informer *jobs; /* build Jobs the operator created */
    struct p4_events *events;
    struct p4_controller *ctl;
    struct p4_reconciler rec;
    struct p4_registry *registry;
    struct p4_docker_stage *docker;
    struct p4_discovery *discovery;
    struct p4_chartfetch *charts;
    struct p4_helm_stage *helm;
    struct p4_kube_stage *kstage;
    char helm_version[64]; /* what `helm version` said at start, or "" */
    struct p4_leader *leader;
    struct p4_serve *metrics, *probes;
    uv_timer_t grace; /* ends a graceful shutdown that takes too long */
    uv_timer_t trim;  /* gives memory freed after a burst back to the system */
    long grace_ms;
    int grace_expired;
    int stopping;
};

static void usage(FILE *out)
{
    (void)fputs("usage: phase4-operator [flags]\n"
                "\n"
                "A Kubernetes operator that deploys an application through four gated\n"
                "stages (Docker, Helm, Kubernetes, Validation) and reports each gate in\n"
                "the Phase4Deployment's status and Events.\n"
                "\n"
                "  --kubeconfig PATH       kubeconfig file(s), ':'-separated (default: $KUBECONFIG,\n"
                "                          then in-cluster, then ~/.kube/config)\n"
                "  --context NAME          kubeconfig context (default: current-context)\n"
                "  --concurrent N          reconciles at once (default 4)\n"
                "  --kube-api-qps N        client-side API rate limit (default 20)\n"
                "  --kube-api-burst N      client-side API burst (default 40)\n"
                "  --log-level LEVEL       debug, info, warn or error (default info)\n"
                "  --log-format FORMAT     logfmt or json (default logfmt)\n"
                "  --metrics-bind-address ADDR       /metrics (default :8080; 0 disables)\n"
                "  --health-probe-bind-address ADDR  /healthz and /readyz (default :8081; 0 disables)\n"
                "  --leader-elect BOOL               elect a leader on a Lease (default true)\n"
                "  --leader-election-namespace NS    the Lease's namespace (default: the pod's,\n"
                "                                    $POD_NAMESPACE, or default)\n"
                "  --leader-election-id NAME         the Lease's name (default phase4-operator)\n"
                "  --graceful-shutdown-timeout SECS  on SIGTERM, wait this long for work in flight,\n"
                "                                    then cancel it (default 10)\n"
                "  --stage-retry-delay DURATION      first retry after an image or chart failure,\n"
                "                                    doubling each time (default 30s)\n"
                "  --stalled-recheck-interval DURATION  re-check a stalled resource (a fixed\n"
                "                                    Secret heals it) this often (default 5m)\n"
                "  --scan-poll-interval DURATION     look for a missing scan report this often\n"
                "                                    (default 15s)\n"
                "  --helm-binary PATH                the helm the Helm stage runs (default: helm\n"
                "                                    next to this binary, else /usr/local/bin/helm)\n"
                "  --helm-timeout DURATION           time limit of one helm run (default 2m)\n"
                "  --unschedulable-grace DURATION    how long a pod may stay unschedulable before\n"
                "                                    the Kubernetes stage fails (default 30s)\n"
                "  --cache-dir DIR                   charts and helm's cache (default\n"
                "                                    /tmp/phase4-operator)\n"
                "  --version               print the versions and exit\n"
                "\n"
                "  phase4-operator resolve APIVERSION KIND [--kubeconfig PATH] [--context NAME]\n"
                "                          print the resource that serves a kind, as the operator\n"
                "                          finds it through discovery (e.g. resolve apps/v1 Deployment)\n"
                "  phase4-operator image-check REF [--platform OS/ARCH[/VARIANT]] [--ca-file PEM]\n"
                "                          [--docker-config FILE] [--insecure]\n"
                "                          resolve an image to its digest and check that every blob\n"
                "                          of the platform is in the registry, as a pull would need\n"
                "  phase4-operator apply -f FILE [-n NS] [--dry-run] [--force] [--kubeconfig PATH]\n"
                "                          [--owner NS/NAME [--generation N] [--create-namespace]\n"
                "                          [--prune-from INVENTORY] [--inventory-out FILE]]\n"
                "                          server-side apply (fieldManager phase4-operator) of every\n"
                "                          object in a manifest, as the stages do; --dry-run: dryRun=All.\n"
                "                          --owner: as the Kubernetes stage does for Phase4Deployment\n"
                "                          NS/NAME: in dependency order, each object marked as owned,\n"
                "                          never over an object owned by someone else; objects of the\n"
                "                          --prune-from inventory (as --inventory-out writes it) that\n"
                "                          the manifest no longer holds are deleted if owned\n"
                "  phase4-operator chart-fetch REPOSITORY NAME [VERSION] [--ca-file PEM]\n"
                "                          [--docker-config FILE] [--insecure] [--cache-dir DIR]\n"
                "                          fetch a chart (index.yaml or oci://), verify its digest and\n"
                "                          cache it, as the Helm stage will (credentials for an HTTP\n"
                "                          repository from $P4_CHART_USERNAME, $P4_CHART_PASSWORD)\n"
                "  --help                  print this help\n",
                out);
}

/* "500ms", "30s", "5m", "1h" into milliseconds; 0 when malformed or out of range. */
static uint64_t duration_flag(const char *v)
{
    char *end;
    double n = strtod(v, &end);

    double ms;

    if (end == v || !(n > 0))
        return 0;
    if (strcmp(end, "ms") == 0)
        ms = n;
    else if (strcmp(end, "s") == 0)
        ms = n * 1000;
    else if (strcmp(end, "m") == 0)
        ms = n * 60000;
    else if (strcmp(end, "h") == 0)
        ms = n * 3600000;
    else
        return 0;
    /* At least a millisecond, at most 30 days (and never an overflowing conversion). */
    return ms >= 1 && ms <= 30.0 * 24 * 3600000 ? (uint64_t)ms : 0;
}

/* Parse the flags; returns 0, 1 for "exit 0 now" (help, version), or -1 on a bad flag. */
static int parse_flags(int argc, char **argv, struct options *o)
{
    char report[1024];

    for (int i = 1; i < argc; i++) {
        char flag[64];
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        const char *eq = strchr(a, '=');
        char *end = NULL;
        int inline_value = 0;

        if (strcmp(a, "--version") == 0) {
            p4_version_report(report, sizeof(report));
            /* A failed write (a closed pipe, a full disk) is an error, as in coreutils. */
            return fputs(report, stdout) == EOF || fflush(stdout) == EOF ? -1 : 1;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 1;
        }
        /* --flag=value as well as --flag value */
        if (eq && (size_t)(eq - a) < sizeof(flag)) {
            memcpy(flag, a, (size_t)(eq - a));
            flag[eq - a] = '\0';
            v = eq + 1;
            a = flag;
            inline_value = 1;
        }
        if (v == NULL) {
            (void)fprintf(stderr, "phase4-operator: unknown flag or missing value: '%s'\n", a);
            return -1;
        }
        if (!inline_value)
            i++;
        if (strcmp(a, "--kubeconfig") == 0) {
            o->kubeconfig = v;
        } else if (strcmp(a, "--context") == 0) {
            o->context = v;
        } else if (strcmp(a, "--concurrent") == 0) {
            long n = strtol(v, &end, 10);
            if (*end || n < 1 || n > 1000)
                goto bad;
            o->workers = (int)n;
        } else if (strcmp(a, "--kube-api-qps") == 0) {
            o->qps = strtod(v, &end);
            if (*end || o->qps < 0)
                goto bad;
        } else if (strcmp(a, "--kube-api-burst") == 0) {
            long n = strtol(v, &end, 10);
            if (*end || n < 1 || n > 100000)
                goto bad;
            o->burst = (unsigned)n;
        } else if (strcmp(a, "--log-level") == 0) {
            o->log_level = p4_log_level_parse(v);
            if (o->log_level < 0)
                goto bad;
        } else if (strcmp(a, "--metrics-bind-address") == 0) {
            o->metrics_addr = v;
        } else if (strcmp(a, "--health-probe-bind-address") == 0) {
            o->probe_addr = v;
        } else if (strcmp(a, "--leader-elect") == 0) {
            if (strcmp(v, "true") != 0 && strcmp(v, "false") != 0)
                goto bad;
            o->leader_elect = strcmp(v, "true") == 0;
        } else if (strcmp(a, "--leader-election-namespace") == 0) {
            o->leader_namespace = v;
        } else if (strcmp(a, "--graceful-shutdown-timeout") == 0) {
            long n = strtol(v, &end, 10);
            if (*end || n < 0 || n > 3600)
                goto bad;
            o->grace_ms = n * 1000;
        } else if (strcmp(a, "--stage-retry-delay") == 0) {
            if ((o->retry_ms = duration_flag(v)) == 0)
                goto bad;
        } else if (strcmp(a, "--stalled-recheck-interval") == 0) {
            if ((o->recheck_ms = duration_flag(v)) == 0)
                goto bad;
        } else if (strcmp(a, "--scan-poll-interval") == 0) {
            if ((o->scan_poll_ms = duration_flag(v)) == 0)
                goto bad;
        } else if (strcmp(a, "--unschedulable-grace") == 0) {
            if ((o->unschedulable_grace_ms = duration_flag(v)) == 0)
                goto bad;
        } else if (strcmp(a, "--helm-timeout") == 0) {
            if ((o->helm_timeout_ms = duration_flag(v)) == 0)
                goto bad;
        } else if (strcmp(a, "--helm-binary") == 0) {
            if (v[0] == '\0')
                goto bad;
            o->helm = v;
        } else if (strcmp(a, "--cache-dir") == 0) {
            if (v[0] == '\0')
                goto bad;
            o->cache_dir = v;
        } else if (strcmp(a, "--leader-election-id") == 0) {
            o->leader_id = v;
        } else if (strcmp(a, "--log-format") == 0) {
            if (strcmp(v, "json") != 0 && strcmp(v, "logfmt") != 0)
                goto bad;
            o->log_json = strcmp(v, "json") == 0;
        } else {
            (void)fprintf(stderr, "phase4-operator: unknown flag '%s'\n", a);
            usage(stderr);
            return -1;
        }
        continue;
bad:
        (void)fprintf(stderr, "phase4-operator: bad value '%s' for %s\n", v, a);
        return -1;
    }
    return 0;
}

/* --kubeconfig, $KUBECONFIG, the in-cluster service account, then ~/.kube/config. */
static int load_config(const struct options *o, struct p4_kube_config **cfg, struct p4_error *err)
{
    const char *env = getenv("KUBECONFIG");
    const char *host = getenv("KUBERNETES_SERVICE_HOST");
    const char *home = getenv("HOME");
    char path[PATH_MAX];

    if (o->kubeconfig)
        return p4_kubeconfig_load(o->kubeconfig, o->context, cfg, err);
    if (env && env[0])
        return p4_kubeconfig_load(env, o->context, cfg, err);
    if (host && host[0])
        return p4_kubeconfig_in_cluster(NULL, host, getenv("KUBERNETES_SERVICE_PORT"), cfg, err);
    (void)snprintf(path, sizeof(path), "%s/.kube/config", home ? home : "");
    return p4_kubeconfig_load(path, o->context, cfg, err);
}

static void on_add(const char *key, const cJSON *obj, void *data)
{
    (void)obj;
    p4_controller_enqueue(((struct app *)data)->ctl, key);
}

static void on_update(const char *key, const cJSON *old, const cJSON *cur, void *data)
{
    (void)old;
    (void)cur;
    p4_controller_enqueue(((struct app *)data)->ctl, key);
}

static void on_delete(const char *key, const cJSON *obj, void *data)
{
    (void)obj;
    p4_controller_enqueue(((struct app *)data)->ctl, key);
}

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
 * A Job the operator created changed: reconcile the resource it belongs to.
 * A chart's Job names its owner in the phase4.io/owner annotation ("ns/name");
 * a build Job is in its resource's namespace, named by its phase4.io/name label.
 */
static void enqueue_owner(const cJSON *job, struct app *app)
{
    const char *ns = p4_json_str(job, "metadata.namespace");
    const char *name = p4_json_str(job, "metadata.labels.phase4\\.io/name");
    const char *owner = p4_applyset_owner_of(job);
    char key[512];

    if (owner)
        p4_controller_enqueue(app->ctl, owner);
    else if (ns && name && (size_t)snprintf(key, sizeof(key), "%s/%s", ns, name) < sizeof(key))
        p4_controller_enqueue(app->ctl, key);
}

static void on_job_add(const char *key, const cJSON *obj, void *data)
{
    (void)key;
    enqueue_owner(obj, data);
}

static void on_job_update(const char *key, const cJSON *old, const cJSON *cur, void *data)
{
    (void)key;
    (void)old;
    enqueue_owner(cur, data);
}

static void on_job_delete(const char *key, const cJSON *obj, void *data)
{
    (void)key;
    enqueue_owner(obj, data);
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

static void on_helm_version(int rc, const struct p4_helmrun_result *res,
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
    p4_chartfetch_free(app->charts);
    app->charts = NULL;
    p4_discovery_close(app->discovery);
    app->discovery = NULL;
    p4_registry_close(app->registry);
    app->registry = NULL;
    p4_informer_close(app->resources);
    p4_informer_close(app->jobs);
    p4_kube_close(app->kube); /* cancels the watch, which lets the informer free itself */
    app->kube = NULL;
    p4_events_free(app->events);
    p4_controller_free(app->ctl);
    p4_serve_close(app->metrics);
    p4_serve_close(app->probes);
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

/* Prometheus text exposition of what the process knows about itself. */
static void p4_metrics_write(struct app *app, struct p4_buf *b)
{
    struct p4_controller_stats cs;
    struct p4_workqueue_stats qs;
    const struct p4_kube_stats *ks = p4_kube_stats(app->kube);
    const struct p4_informer_stats *is = p4_informer_stats(app->resources);
    static const char *const classes[6] = {"error", "1xx", "2xx", "3xx", "4xx", "5xx"};
    uint64_t cumulative = 0;

    p4_controller_stats(app->ctl, &cs, &qs);
    p4_buf_printf(b, "# HELP phase4_build_info The operator's version.\n"
                     "# TYPE phase4_build_info gauge\n"
                     "phase4_build_info{version=\"%s\",libuv=\"%s\",helm=\"%s\","
                     "helm_pinned=\"%s\"} 1\n",
                  P4_VERSION, uv_version_string(),
                  app->helm_version[0] ? app->helm_version : "unknown", P4_HELM_VERSION);
    p4_buf_printf(b, "# HELP phase4_reconcile_total Reconciles by result.\n"
                     "# TYPE phase4_reconcile_total counter\n"
                     "phase4_reconcile_total{result=\"success\"} %" PRIu64 "\n"
                     "phase4_reconcile_total{result=\"error\"} %" PRIu64 "\n"
                     "phase4_reconcile_total{result=\"requeue\"} %" PRIu64 "\n",
                  cs.reconciles_success, cs.reconciles_error, cs.reconciles_requeue);
    p4_buf_printf(b, "# HELP phase4_reconcile_duration_seconds Time from start to done of a reconcile.\n"
                     "# TYPE phase4_reconcile_duration_seconds histogram\n");
    for (int i = 0; i < P4_RECONCILE_BUCKETS; i++) {
        cumulative = cs.duration_buckets[i];
        p4_buf_printf(b, "phase4_reconcile_duration_seconds_bucket{le=\"%g\"} %" PRIu64 "\n",
                      p4_reconcile_bucket_bounds[i], cumulative);
    }
    p4_buf_printf(b,
                  "phase4_reconcile_duration_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n"
                  "phase4_reconcile_duration_seconds_sum %g\n"
                  "phase4_reconcile_duration_seconds_count %" PRIu64 "\n",
                  cs.duration_count, cs.duration_sum_seconds, cs.duration_count);
    p4_buf_printf(b,
                  "# HELP phase4_workqueue_depth Keys ready and waiting for a worker.\n"
                  "# TYPE phase4_workqueue_depth gauge\n"
                  "phase4_workqueue_depth %zu\n"
                  "# HELP phase4_workqueue_delayed Keys waiting for a backoff or requeue time.\n"
                  "# TYPE phase4_workqueue_delayed gauge\n"
                  "phase4_workqueue_delayed %zu\n"
                  "# HELP phase4_workqueue_adds_total Keys made ready.\n"
                  "# TYPE phase4_workqueue_adds_total counter\n"
                  "phase4_workqueue_adds_total %" PRIu64 "\n"
                  "# HELP phase4_workqueue_retries_total Rate-limited requeues.\n"
                  "# TYPE phase4_workqueue_retries_total counter\n"
                  "phase4_workqueue_retries_total %" PRIu64 "\n"
                  "# HELP phase4_workqueue_queue_duration_seconds Time keys waited for a worker.\n"
                  "# TYPE phase4_workqueue_queue_duration_seconds summary\n"
                  "phase4_workqueue_queue_duration_seconds_sum %g\n"
                  "phase4_workqueue_queue_duration_seconds_count %" PRIu64 "\n",
                  qs.len, qs.delayed, qs.adds_total, qs.retries_total, cs.queue_wait_sum_seconds,
                  cs.queue_wait_count);
    p4_buf_printf(b, "# HELP phase4_kube_requests_total API requests by verb and status class.\n"
                     "# TYPE phase4_kube_requests_total counter\n");
    for (int v = 0; v < 6; v++) {
        for (int c = 0; c < 6; c++) {
            if (ks->requests[v][c])
                p4_buf_printf(b, "phase4_kube_requests_total{verb=\"%s\",code=\"%s\"} %" PRIu64 "\n",
                              p4_kube_verb_name((enum p4_kube_verb)v), classes[c],
                              ks->requests[v][c]);
        }
    }
    p4_buf_printf(b,
                  "# HELP phase4_kube_throttled_total API answers 429 Too Many Requests.\n"
                  "# TYPE phase4_kube_throttled_total counter\n"
                  "phase4_kube_throttled_total %" PRIu64 "\n"
                  "# HELP phase4_watch_restarts_total Watches restarted (timeouts, errors, 410).\n"
                  "# TYPE phase4_watch_restarts_total counter\n"
                  "phase4_watch_restarts_total %" PRIu64 "\n"
                  "# HELP phase4_relists_total Relists after 410 Gone.\n"
                  "# TYPE phase4_relists_total counter\n"
                  "phase4_relists_total %" PRIu64 "\n"
                  "# HELP phase4_cached_objects Phase4Deployments in the cache.\n"
                  "# TYPE phase4_cached_objects gauge\n"
                  "phase4_cached_objects %zu\n"
                  "# HELP phase4_leader Whether this process is the leader.\n"
                  "# TYPE phase4_leader gauge\n"
                  "phase4_leader %d\n"
                  "# HELP phase4_status_writes_total Status updates written.\n"
                  "# TYPE phase4_status_writes_total counter\n"
                  "phase4_status_writes_total %" PRIu64 "\n"
                  "# HELP phase4_events_total Events recorded.\n"
                  "# TYPE phase4_events_total counter\n"
                  "phase4_events_total %" PRIu64 "\n",
                  ks->throttled, is->watch_restarts, is->relists_gone,
                  p4_informer_len(app->resources),
                  app->leader ? p4_leader_is_leader(app->leader) : !app->stopping,
                  app->rec.status_writes, p4_events_sent(app->events));
    for (int i = 0; i < P4_STAGE_COUNT; i++) {
        if (app->rec.stages[i] && app->rec.stages[i]->metrics)
            app->rec.stages[i]->metrics(app->rec.stage_ctx[i], b);
    }
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
        p4_metrics_write(app, out);
        return 200;
    }
    p4_buf_append(out, "not found\n", 10);
    return 404;
}

/* --leader-election-namespace, $POD_NAMESPACE, the service account's namespace, or default. */
static const char *leader_namespace(const struct options *o, char *buf, size_t size)
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

struct resolve_ctx {
    struct p4_kube *kube;
    struct p4_discovery *disc;
    int rc;
};

static void on_resolved(int rc, const struct p4_resource_info *info, const struct p4_error *err,
                        void *data)
{
    struct resolve_ctx *r = data;

    if (rc == 0) {
        (void)printf("%s\t%s\n", info->resource, info->namespaced ? "namespaced" : "cluster");
    } else {
        (void)fprintf(stderr, "phase4-operator: %s\n", err ? err->message : p4_strerror(rc));
    }
    r->rc = rc == 0 ? 0 : 1;
    p4_discovery_close(r->disc);
    p4_kube_close(r->kube);
}

/* phase4-operator resolve APIVERSION KIND: discovery from the command line. */
static int resolve(const struct options *o, const char *api_version, const char *kind)
{
    struct p4_kube_config *cfg = NULL;
    struct p4_error err;
    struct resolve_ctx r = {.rc = 1};
    uv_loop_t loop;

    if (load_config(o, &cfg, &err) != 0) {
        (void)fprintf(stderr, "phase4-operator: %s\n", err.message);
        return 1;
    }
    (void)uv_loop_init(&loop);
    (void)curl_global_init(CURL_GLOBAL_DEFAULT);
    if (p4_kube_new(&loop, cfg, NULL, &r.kube, &err) != 0) {
        (void)fprintf(stderr, "phase4-operator: %s\n", err.message);
        goto out;
    }
    r.disc = p4_discovery_new(r.kube);
    if (p4_discovery_lookup(r.disc, api_version, kind, on_resolved, &r) != 0) {
        p4_discovery_close(r.disc);
        p4_kube_close(r.kube);
    }
    (void)uv_run(&loop, UV_RUN_DEFAULT);
out:
    (void)uv_loop_close(&loop);
    curl_global_cleanup();
    p4_kube_config_free(cfg);
    return r.rc;
}

struct image_cli {
    int rc;
    struct p4_registry *reg;
};

static void on_image_checked(const struct p4_image_check *res, void *data)
{
    struct image_cli *cli = data;

    if (res->digest[0])
        (void)printf("digest: %s\nmediaType: %s\n", res->digest, res->media_type);
    if (res->platforms[0])
        (void)printf("platforms: %s\n", res->platforms);
    if (res->manifest[0])
        (void)printf("manifest: %s\n", res->manifest);
    (void)printf("blobs: %d of %d present\n", res->blobs_present, res->blobs);
    if (res->rc != 0)
        (void)fprintf(stderr, "phase4-operator: %s\n", res->err.message);
    cli->rc = res->rc == 0 ? 0 : 1;
    p4_registry_close(cli->reg);
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;

    if (f == NULL)
        return NULL;
    buf = p4_malloc(P4_REGAUTH_INPUT_MAX + 1);
    *len = fread(buf, 1, P4_REGAUTH_INPUT_MAX, f);
    buf[*len] = '\0';
    (void)fclose(f);
    return buf;
}

/*
 * Credentials for ref_or_host from a docker config file (as `docker login`
 * writes it) into auth; *cred is the matching entry, or NULL. The file's
 * bytes are wiped. Returns 0, or 1 after saying why on stderr.
 */
static int load_docker_config(const char *path, const char *ref_or_host, struct p4_regauth *auth,
                              const struct p4_regauth_entry **cred)
{
    struct p4_error err;
    size_t len = 0;
    char *text = read_file(path, &len);
    int rc = 0;

    *cred = NULL;
    if (text == NULL ||
        p4_regauth_add_secret(auth, P4_REGAUTH_DOCKERCONFIGJSON, text, len, &err) != 0) {
        (void)fprintf(stderr, "phase4-operator: %s: %s\n", path,
                      text ? err.message : "cannot read it");
        rc = 1;
    } else if (p4_regauth_lookup(auth, ref_or_host, cred, NULL) != 0) {
        *cred = NULL;
    }
    p4_wipe_free(text, len);
    return rc;
}

/* phase4-operator image-check REF [flags]: the Docker stage's registry checks by hand. */
static int image_check_cli(int argc, char **argv)
{
    const char *ref = argv[0], *platform = "linux/amd64", *ca_file = NULL, *config = NULL;
    char os[P4_OCI_PLATFORM_PART_MAX], arch[P4_OCI_PLATFORM_PART_MAX],
        variant[P4_OCI_PLATFORM_PART_MAX];
    struct p4_registry_target t = {0};
    struct p4_image_ref r = {0};
    struct p4_regauth auth;
    struct p4_error err;
    struct image_cli cli = {.rc = 1};
    char *ca = NULL;
    size_t ca_len = 0;
    uv_loop_t loop;

    p4_regauth_init(&auth);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--insecure") == 0)
            t.insecure_http = 1;
        else if (strcmp(argv[i], "--platform") == 0 && i + 1 < argc)
            platform = argv[++i];
        else if (strcmp(argv[i], "--ca-file") == 0 && i + 1 < argc)
            ca_file = argv[++i];
        else if (strcmp(argv[i], "--docker-config") == 0 && i + 1 < argc)
            config = argv[++i];
        else {
            (void)fprintf(stderr, "phase4-operator: image-check: unknown flag '%s'\n", argv[i]);
            goto out;
        }
    }
    if (p4_oci_parse_platform(platform, os, arch, variant, &err) != 0 ||
        p4_image_ref_parse(ref, &r, &err) != 0) {
        (void)fprintf(stderr, "phase4-operator: %s\n", err.message);
        goto out;
    }
    if (ca_file && (ca = read_file(ca_file, &ca_len)) == NULL) {
        (void)fprintf(stderr, "phase4-operator: cannot read %s\n", ca_file);
        goto out;
    }
    if (config && load_docker_config(config, ref, &auth, &t.cred) != 0)
        goto out;
    t.host = r.registry;
    t.ca_pem = (const unsigned char *)ca;
    t.ca_len = ca_len;
    (void)uv_loop_init(&loop);
    (void)curl_global_init(CURL_GLOBAL_DEFAULT);
    cli.reg = p4_registry_new(&loop);
    if (cli.reg == NULL ||
        p4_image_check(cli.reg, &t, r.repository, r.digest ? r.digest : r.tag, os, arch, variant,
                       on_image_checked, &cli) != 0) {
        (void)fprintf(stderr, "phase4-operator: cannot check %s\n", ref);
        p4_registry_close(cli.reg);
    }
    (void)uv_run(&loop, UV_RUN_DEFAULT);
    (void)uv_loop_close(&loop);
    curl_global_cleanup();
out:
    p4_image_ref_close(&r);
    p4_regauth_close(&auth);
    free(ca);
    return cli.rc;
}

struct apply_cli {
    int rc;
    struct p4_kube *kube;
    struct p4_discovery *disc;
    cJSON *objects;
    int next, pending;
    struct p4_apply_opts opts;
    /* --owner: the applyset engine (applyset.h) instead of one apply per object. */
    struct p4_applyset_opts set;
    struct p4_inventory previous;
    const char *inventory_out;
};

static void apply_next(struct apply_cli *cli);

static void on_cli_applied(const struct p4_apply_result *res, void *data)
{
    struct apply_cli *cli = data;

    if (res->rc == 0)
        (void)printf("%s/%s%s%s applied%s\n", res->resource, res->namespace_,
                     res->namespace_[0] ? "/" : "", res->name,
                     cli->opts.dry_run ? " (server dry run)" : "");
    else {
        (void)fprintf(stderr, "phase4-operator: %s: %s\n", res->err.reason ? res->err.reason : "",
                      res->err.message);
        cli->rc = 1;
    }
    cli->pending--;
    apply_next(cli);
}

/* Print one line per entry of inv: "ConfigMap shop/web <what>". */
static void print_entries(const struct p4_inventory *inv, const char *what)
{
    for (size_t i = 0; i < inv->n; i++) {
        const struct p4_inv_entry *e = &inv->items[i];
        (void)printf("%s %s%s%s %s\n", e->kind, e->namespace_, e->namespace_[0] ? "/" : "",
                     e->name, what);
    }
}

/* The applyset's end: what it did, the inventory for the next --prune-from, the failure. */
static void on_cli_applyset(const struct p4_applyset_result *res, void *data)
{
    struct apply_cli *cli = data;

    print_entries(&res->applied, "applied");
    print_entries(&res->deleted, "pruned");
    print_entries(&res->skipped, "left alone (not ours to delete, or a CRD)");
    if (res->rc == 0) {
        cJSON *inv = p4_inventory_to_json(&res->applied);
        char *text = p4_json_print(inv);
        FILE *f = cli->inventory_out ? fopen(cli->inventory_out, "w") : NULL;
        (void)printf("%zu applied, %d pruned, %d left alone\n", res->applied.n, res->pruned,
                     res->prune_skipped);
        if (cli->inventory_out &&
            (f == NULL || text == NULL || fputs(text, f) < 0 || fputc('\n', f) < 0)) {
            (void)fprintf(stderr, "phase4-operator: cannot write %s\n", cli->inventory_out);
            cli->rc = 1;
        }
        if (f && fclose(f) != 0 && cli->rc == 0) {
            (void)fprintf(stderr, "phase4-operator: cannot write %s\n", cli->inventory_out);
            cli->rc = 1;
        }
        free(text);
        cJSON_Delete(inv);
    } else {
        (void)fprintf(stderr, "phase4-operator: %s: %s\n", res->err.reason ? res->err.reason : "",
                      res->err.message);
        cli->rc = 1;
    }
    cli->pending--;
    apply_next(cli);
}

/*
 * Apply the next object (one at a time, in the manifest's order), or with
 * --owner hand the whole manifest to the applyset engine; close up after the last.
 */
static void apply_next(struct apply_cli *cli)
{
    const cJSON *obj;

    if (cli->set.owner_name != NULL && cli->next == 0) {
        cli->next = cJSON_GetArraySize(cli->objects);
        cli->pending++;
        if (p4_applyset_run(cli->kube, cli->disc, cli->objects, &cli->set, on_cli_applyset, cli,
                            NULL) == 0)
            return;
        (void)fprintf(stderr, "phase4-operator: cannot start the apply\n");
        cli->pending--;
        cli->rc = 1;
    }
    while (cli->set.owner_name == NULL &&
           (obj = cJSON_GetArrayItem(cli->objects, cli->next)) != NULL) {
        cli->next++;
        cli->pending++;
        if (p4_apply_object(cli->kube, cli->disc, obj, &cli->opts, on_cli_applied, cli) == 0)
            return;
        cli->pending--;
        cli->rc = 1;
    }
    if (cli->pending == 0) {
        p4_discovery_close(cli->disc);
        p4_kube_close(cli->kube);
    }
}

/*
 * phase4-operator apply -f FILE [-n NS] [--dry-run] [--force] [--owner NS/NAME [--generation N]
 * [--create-namespace] [--prune-from FILE] [--inventory-out FILE]]: server-side apply as the
 * stages do.
 */
static int apply_cli(int argc, char **argv)
{
    struct options o = {0};
    struct apply_cli cli = {.rc = 1, .set = {.generation = 1}};
    struct p4_kube_config *cfg = NULL;
    const char *file = NULL, *owner = NULL, *prune_from = NULL;
    char owner_ns[256] = "";
    char *text = NULL, *end = NULL;
    size_t len = 0;
    struct p4_error err;
    uv_loop_t loop;
    int rc = 1;

    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "-f") == 0 && i + 1 < argc)
            file = argv[++i];
        else if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
            cli.opts.namespace_ = argv[++i];
        else if (strcmp(argv[i], "--dry-run") == 0)
            cli.opts.dry_run = true;
        else if (strcmp(argv[i], "--force") == 0)
            cli.opts.force = true;
        else if (strcmp(argv[i], "--owner") == 0 && i + 1 < argc)
            owner = argv[++i];
        else if (strcmp(argv[i], "--generation") == 0 && i + 1 < argc) {
            errno = 0;
            cli.set.generation = strtoll(argv[++i], &end, 10);
            if (errno != 0 || end == argv[i] || *end != '\0' || cli.set.generation < 0) {
                (void)fprintf(stderr, "phase4-operator: apply: --generation takes a number\n");
                return 2;
            }
        } else if (strcmp(argv[i], "--create-namespace") == 0)
            cli.set.create_namespace = true;
        else if (strcmp(argv[i], "--prune-from") == 0 && i + 1 < argc)
            prune_from = argv[++i];
        else if (strcmp(argv[i], "--inventory-out") == 0 && i + 1 < argc)
            cli.inventory_out = argv[++i];
        else if (strcmp(argv[i], "--kubeconfig") == 0 && i + 1 < argc)
            o.kubeconfig = argv[++i];
        else if (strcmp(argv[i], "--context") == 0 && i + 1 < argc)
            o.context = argv[++i];
        else {
            (void)fprintf(stderr, "phase4-operator: apply: unknown flag '%s'\n", argv[i]);
            return 2;
        }
    }
    if (owner != NULL) {
        const char *slash = strchr(owner, '/');
        if (slash == NULL || slash == owner || slash[1] == '\0' || strchr(slash + 1, '/') ||
            (size_t)(slash - owner) >= sizeof(owner_ns)) {
            (void)fprintf(stderr, "phase4-operator: apply: --owner takes NAMESPACE/NAME\n");
            return 2;
        }
        (void)snprintf(owner_ns, sizeof(owner_ns), "%.*s", (int)(slash - owner), owner);
        cli.set.owner_namespace = owner_ns;
        cli.set.owner_name = slash + 1;
        cli.set.namespace_ = cli.opts.namespace_;
        cli.set.force = cli.opts.force;
        if (cli.opts.dry_run) {
            (void)fprintf(stderr, "phase4-operator: apply: --dry-run does not go with --owner\n");
            return 2;
        }
    } else if (cli.set.create_namespace || prune_from || cli.inventory_out) {
        (void)fprintf(stderr, "phase4-operator: apply: --create-namespace, --prune-from and "
                              "--inventory-out need --owner\n");
        return 2;
    }
    if (prune_from) {
        cJSON *json;
        text = read_file(prune_from, &len);
        json = text ? p4_json_parse(text, len, &err) : NULL;
        free(text);
        text = NULL;
        if (json == NULL || p4_inventory_from_json(json, &cli.previous, NULL, &err) != 0) {
            (void)fprintf(stderr, "phase4-operator: %s: %s\n", prune_from,
                          json ? err.message : "cannot read it as JSON");
            cJSON_Delete(json);
            p4_inventory_close(&cli.previous);
            return 2;
        }
        cJSON_Delete(json);
        cli.set.previous = &cli.previous;
    }
    if (file == NULL || (text = read_file(file, &len)) == NULL) {
        (void)fprintf(stderr, "phase4-operator: apply: give a readable manifest with -f FILE\n");
        rc = 2;
        goto out;
    }
    cli.objects = p4_manifest_split(text, len, &err);
    free(text);
    if (cli.objects == NULL) {
        (void)fprintf(stderr, "phase4-operator: %s: %s\n", file, err.message);
        goto out;
    }
    if (load_config(&o, &cfg, &err) != 0) {
        (void)fprintf(stderr, "phase4-operator: %s\n", err.message);
        goto out;
    }
    (void)uv_loop_init(&loop);
    (void)curl_global_init(CURL_GLOBAL_DEFAULT);
    if (p4_kube_new(&loop, cfg, NULL, &cli.kube, &err) == 0) {
        cli.rc = 0;
        cli.disc = p4_discovery_new(cli.kube);
        apply_next(&cli);
        (void)uv_run(&loop, UV_RUN_DEFAULT);
    } else {
        (void)fprintf(stderr, "phase4-operator: %s\n", err.message);
    }
    (void)uv_loop_close(&loop);
    curl_global_cleanup();
    p4_kube_config_free(cfg);
    rc = cli.rc;
out:
    cJSON_Delete(cli.objects);
    p4_inventory_close(&cli.previous);
    return rc;
}

struct chart_cli {
    int rc;
    struct p4_chartfetch *fetch;
    struct p4_registry *reg;
};

static void on_chart_fetched(const struct p4_chart_result *res, void *data)
{
    struct chart_cli *cli = data;

    if (res->rc == 0)
        (void)printf("version: %s\ndigest: %s\npath: %s\ncached: %s\n", res->version, res->digest,
                     res->path, res->from_cache ? "yes" : "no");
    else
        (void)fprintf(stderr, "phase4-operator: %s: %s\n", res->err.reason ? res->err.reason : "",
                      res->err.message);
    cli->rc = res->rc == 0 ? 0 : 1;
    p4_chartfetch_free(cli->fetch);
    p4_registry_close(cli->reg);
}

/* phase4-operator chart-fetch REPOSITORY NAME [VERSION] [flags]: the Helm stage's chart fetch. */
static int chart_fetch_cli(int argc, char **argv)
{
    struct p4_chart_request req = {.repository = argv[0], .name = argc > 1 ? argv[1] : NULL};
    struct p4_chartfetch_config fc = {.cache_dir = "/tmp/phase4-charts"};
    struct chart_cli cli = {.rc = 1};
    const char *ca_file = NULL, *config = NULL;
    char *ca = NULL;
    size_t ca_len = 0;
    struct p4_regauth auth;
    uv_loop_t loop;
    int i = 2;

    if (argc > 2 && argv[2][0] != '-')
        req.version = argv[i++];
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--insecure") == 0)
            req.insecure_http = 1;
        else if (strcmp(argv[i], "--ca-file") == 0 && i + 1 < argc)
            ca_file = argv[++i];
        else if (strcmp(argv[i], "--cache-dir") == 0 && i + 1 < argc)
            fc.cache_dir = argv[++i];
        else if (strcmp(argv[i], "--docker-config") == 0 && i + 1 < argc)
            config = argv[++i];
        else {
            (void)fprintf(stderr, "phase4-operator: chart-fetch: unknown flag '%s'\n", argv[i]);
            return 1;
        }
    }
    p4_regauth_init(&auth);
    if (config) {
        const char *host = strncmp(req.repository, "oci://", 6) == 0 ? req.repository + 6 : "";
        char h[256];
        (void)snprintf(h, sizeof(h), "%.*s", (int)strcspn(host, "/"), host);
        if (load_docker_config(config, h, &auth, &req.cred) != 0) {
            p4_regauth_close(&auth);
            return 1;
        }
    }
    /* Repository credentials come from the environment, never the command line. */
    req.username = getenv("P4_CHART_USERNAME");
    req.password = getenv("P4_CHART_PASSWORD");
    if (ca_file && (ca = read_file(ca_file, &ca_len)) == NULL) {
        (void)fprintf(stderr, "phase4-operator: cannot read %s\n", ca_file);
        p4_regauth_close(&auth);
        return 1;
    }
    req.ca_pem = (const unsigned char *)ca;
    req.ca_len = ca_len;
    (void)uv_loop_init(&loop);
    (void)curl_global_init(CURL_GLOBAL_DEFAULT);
    cli.reg = p4_registry_new(&loop);
    fc.registry = cli.reg;
    cli.fetch = cli.reg ? p4_chartfetch_new(&loop, &fc) : NULL;
    if (cli.fetch == NULL || p4_chartfetch_get(cli.fetch, &req, on_chart_fetched, &cli) != 0) {
        (void)fprintf(stderr, "phase4-operator: cannot fetch chart %s from %s\n",
                      req.name ? req.name : "", req.repository);
        p4_chartfetch_free(cli.fetch);
        p4_registry_close(cli.reg);
    }
    (void)uv_run(&loop, UV_RUN_DEFAULT);
    (void)uv_loop_close(&loop);
    curl_global_cleanup();
    free(ca);
    p4_regauth_close(&auth);
    return cli.rc;
}

int main(int argc, char **argv)
{
    struct options o = {.workers = 4, .qps = 20, .burst = 40, .log_level = P4_LOG_INFO,
                        .metrics_addr = ":8080", .probe_addr = ":8081", .leader_elect = 1,
                        .leader_id = "phase4-operator", .grace_ms = 10000,
                        .cache_dir = "/tmp/phase4-operator"};
    char identity[320];
    unsigned char rnd[8];
    char ns_buf[256];
    struct p4_kube_config *cfg = NULL;
    struct p4_kube_options ko = {0};
    struct p4_controller_opts co = {0};
    struct p4_docker_stage_config dc = {0};
    struct p4_chartfetch_config fc = {0};
    struct p4_helm_stage_config hc = {0};
    struct p4_kube_stage_config kc = {0};
    char charts_dir[PATH_MAX], helm_dir[PATH_MAX], helm_buf[PATH_MAX];
    struct p4_informer_handlers handlers = {on_add, on_update, on_delete, NULL, NULL};
    struct p4_informer_handlers job_handlers = {on_job_add, on_job_update, on_job_delete, NULL, NULL};
    struct p4_error err;
    struct app app;
    char host[256] = "phase4-operator";
    int rc;

    /* A peer that hangs up mid-write (a scrape that timed out) is an EPIPE, not a death. */
    (void)signal(SIGPIPE, SIG_IGN);
    if (argc >= 2 && strcmp(argv[1], "apply") == 0) {
        p4_log_setup(P4_LOG_ERROR, 0, stderr);
        return apply_cli(argc - 2, argv + 2);
    }
    if (argc >= 4 && strcmp(argv[1], "chart-fetch") == 0) {
        p4_log_setup(P4_LOG_ERROR, 0, stderr);
        return chart_fetch_cli(argc - 2, argv + 2);
    }
    if (argc >= 3 && strcmp(argv[1], "image-check") == 0) {
        p4_log_setup(P4_LOG_ERROR, 0, stderr);
        return image_check_cli(argc - 2, argv + 2);
    }
    if (argc >= 4 && strcmp(argv[1], "resolve") == 0) {
        rc = parse_flags(argc - 3, argv + 3, &o);
        if (rc != 0)
            return rc > 0 ? 0 : 2;
        p4_log_setup(P4_LOG_ERROR, 0, stderr);
        return resolve(&o, argv[2], argv[3]);
    }
    rc = parse_flags(argc, argv, &o);
    if (rc != 0)
        return rc > 0 ? 0 : (rc == -1 ? 2 : 1);
    p4_log_setup((enum p4_log_level)o.log_level, o.log_json, stderr);
    p4_error_clear(&err);
    if (load_config(&o, &cfg, &err) != 0) {
        p4_log(P4_LOG_ERROR, "cannot load the cluster configuration", "error", err.message, P4_LOG_END);
        return 1;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        p4_kube_config_free(cfg);
        return 1;
    }
    memset(&app, 0, sizeof(app));
    app.loop = uv_default_loop();
    ko.qps = o.qps;
    ko.burst = o.burst;
    rc = p4_kube_new(app.loop, cfg, &ko, &app.kube, &err);
    if (rc != 0) {
        p4_log(P4_LOG_ERROR, "cannot create the API client", "error", err.message, P4_LOG_END);
        p4_kube_config_free(cfg);
        curl_global_cleanup();
        return 1;
    }
    p4_log(P4_LOG_INFO, "starting", "version", P4_VERSION, "server", cfg->server, "context",
           cfg->context ? cfg->context : "in-cluster", P4_LOG_END);
    p4_kube_config_free(cfg);
    (void)gethostname(host, sizeof(host) - 1);

    co.workers = o.workers;
    app.ctl = p4_controller_new(app.loop, &co, p4_reconcile, &app.rec);
    handlers.data = &app;
    app.resources = p4_informer_new(app.loop, app.kube, P4_COLLECTION_PATH, &handlers);
    app.events = p4_events_new(app.kube, host);
    job_handlers.data = &app;
    app.jobs = p4_informer_new(app.loop, app.kube,
                               "/apis/batch/v1/jobs?labelSelector=app.kubernetes.io%2Fmanaged-by%3D"
                               "phase4-operator",
                               &job_handlers);
    app.registry = p4_registry_new(app.loop);
    dc.kube = app.kube;
    dc.jobs = app.jobs;
    dc.registry = app.registry;
    dc.retry_ms = o.retry_ms;
    dc.recheck_ms = o.recheck_ms;
    dc.scan_poll_ms = o.scan_poll_ms;
    dc.changed = on_stage_changed;
    dc.data = &app;
    app.docker = app.registry ? p4_docker_stage_new(app.loop, &dc) : NULL;
    app.rec = (struct p4_reconciler){.kube = app.kube, .resources = app.resources,
                                     .events = app.events};
    if (app.docker) {
        app.rec.stages[P4_STAGE_DOCKER] = &p4_docker_stage_ops;
        app.rec.stage_ctx[P4_STAGE_DOCKER] = app.docker;
    } else {
        p4_log(P4_LOG_ERROR, "cannot start the registry client; the Docker stage will not run",
               P4_LOG_END);
    }
    (void)snprintf(charts_dir, sizeof(charts_dir), "%s/charts", o.cache_dir);
    (void)snprintf(helm_dir, sizeof(helm_dir), "%s/helm", o.cache_dir);
    if (mkdir(o.cache_dir, 0700) != 0 && errno != EEXIST)
        p4_log(P4_LOG_ERROR, "cannot create the cache directory", "dir", o.cache_dir, "error",
               strerror(errno), P4_LOG_END);
    app.discovery = p4_discovery_new(app.kube);
    fc.cache_dir = charts_dir;
    fc.registry = app.registry;
    app.charts = app.registry ? p4_chartfetch_new(app.loop, &fc) : NULL;
    hc.kube = app.kube;
    hc.discovery = app.discovery;
    hc.charts = app.charts;
    hc.helm = o.helm ? o.helm : default_helm(helm_buf, sizeof(helm_buf));
    hc.work_dir = helm_dir;
    hc.helm_timeout_ms = o.helm_timeout_ms;
    hc.retry_ms = o.retry_ms;
    hc.recheck_ms = o.recheck_ms;
    hc.changed = on_stage_changed;
    hc.data = &app;
    app.helm = app.charts ? p4_helm_stage_new(app.loop, &hc, &err) : NULL;
    if (app.helm) {
        app.rec.stages[P4_STAGE_HELM] = &p4_helm_stage_ops;
        app.rec.stage_ctx[P4_STAGE_HELM] = app.helm;
        probe_helm(&app, hc.helm, o.cache_dir);
    } else {
        p4_log(P4_LOG_ERROR, "cannot set up the Helm stage; it will not run", "error",
               err.message, P4_LOG_END);
    }
    kc.kube = app.kube;
    kc.discovery = app.discovery;
    kc.jobs = app.jobs;
    kc.events = app.events;
    kc.retry_ms = o.retry_ms;
    kc.recheck_ms = o.recheck_ms;
    kc.unschedulable_grace_ms = o.unschedulable_grace_ms;
    kc.changed = on_stage_changed;
    kc.data = &app;
    app.kstage = p4_kube_stage_new(app.loop, &kc);
    app.rec.stages[P4_STAGE_KUBERNETES] = &p4_kube_stage_ops;
    app.rec.stage_ctx[P4_STAGE_KUBERNETES] = app.kstage;

    (void)uv_timer_init(app.loop, &app.grace);
    app.grace.data = &app;
    (void)uv_timer_init(app.loop, &app.trim);
    (void)uv_timer_start(&app.trim, on_trim, 30000, 30000);
    uv_unref((uv_handle_t *)&app.trim);
    app.grace_ms = o.grace_ms;
    (void)uv_signal_init(app.loop, &app.sigterm);
    (void)uv_signal_init(app.loop, &app.sigint);
    app.sigterm.data = app.sigint.data = &app;
    (void)uv_signal_start(&app.sigterm, on_signal, SIGTERM);
    (void)uv_signal_start(&app.sigint, on_signal, SIGINT);

    if (strcmp(o.metrics_addr, "0") != 0 &&
        p4_serve_start(app.loop, o.metrics_addr, on_http, &app, &app.metrics) != 0)
        goto fail_listen;
    if (strcmp(o.probe_addr, "0") != 0 &&
        p4_serve_start(app.loop, o.probe_addr, on_http, &app, &app.probes) != 0)
        goto fail_listen;

    p4_informer_start(app.resources);
    p4_informer_start(app.jobs);
    if (o.leader_elect) {
        struct p4_leader_opts lo = {.name = o.leader_id, .on_elected = on_elected,
                                    .on_lost = on_lost, .data = &app};
        lo.namespace = leader_namespace(&o, ns_buf, sizeof(ns_buf));
        /* Unique per process, as client-go's hostname_<uuid>: two instances started in the
           same instant on one host must not share an identity (they would both lead). */
        if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
            uint64_t t = uv_hrtime();
            memcpy(rnd, &t, sizeof(rnd) < sizeof(t) ? sizeof(rnd) : sizeof(t));
        }
        (void)snprintf(identity, sizeof(identity), "%s_%d_%02x%02x%02x%02x%02x%02x%02x%02x", host,
                       (int)getpid(), rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6],
                       rnd[7]);
        lo.identity = identity;
        app.leader = p4_leader_new(app.loop, app.kube, &lo);
        p4_log(P4_LOG_INFO, "waiting to become the leader", "lease", o.leader_id, "namespace",
               lo.namespace, "identity", identity, P4_LOG_END);
        p4_leader_start(app.leader);
    } else {
        p4_controller_run(app.ctl);
    }
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
