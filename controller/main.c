/*
 * main.c: the phase4-operator command. It parses the command line, builds
 * the loop, the kube client, the Phase4Deployment cache, the work queue and
 * the reconciler, wires them together and runs until SIGTERM or SIGINT.
 */
#include <curl/curl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "phase4/alloc.h"
#include "phase4/controller.h"
#include "phase4/events.h"
#include "phase4/informer.h"
#include "phase4/kube.h"
#include "phase4/kubeconfig.h"
#include "phase4/log.h"
#include "phase4/reconciler.h"
#include "phase4/version.h"

struct options {
    const char *kubeconfig;
    const char *context;
    int workers;
    double qps;
    unsigned burst;
    int log_level;
    int log_json;
};

struct app {
    uv_loop_t *loop;
    uv_signal_t sigterm, sigint;
    struct p4_kube *kube;
    struct p4_informer *resources;
    struct p4_events *events;
    struct p4_controller *ctl;
    struct p4_reconciler rec;
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
                "  --version               print the versions and exit\n"
                "  --help                  print this help\n",
                out);
}

/* Parse the flags; returns 0, 1 for "exit 0 now" (help, version), or -1 on a bad flag. */
static int parse_flags(int argc, char **argv, struct options *o)
{
    char report[1024];

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;

        if (strcmp(a, "--version") == 0) {
            p4_version_report(report, sizeof(report));
            /* A failed write (a closed pipe, a full disk) is an error, as in coreutils. */
            return fputs(report, stdout) == EOF || fflush(stdout) == EOF ? -1 : 1;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 1;
        }
        if (v == NULL) {
            (void)fprintf(stderr, "phase4-operator: unknown flag or missing value: '%s'\n", a);
            return -1;
        }
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

static void on_signal_closed(uv_handle_t *h)
{
    (void)h;
}

/* Everything in flight has finished: release the rest, and the loop ends. */
static void on_drained(void *arg)
{
    struct app *app = arg;

    p4_informer_close(app->resources);
    p4_kube_close(app->kube); /* cancels the watch, which lets the informer free itself */
    p4_events_free(app->events);
    p4_controller_free(app->ctl);
    uv_close((uv_handle_t *)&app->sigterm, on_signal_closed);
    uv_close((uv_handle_t *)&app->sigint, on_signal_closed);
    p4_log(P4_LOG_INFO, "stopped", NULL);
}

static void on_signal(uv_signal_t *s, int signum)
{
    struct app *app = s->data;

    if (app->stopping)
        return;
    app->stopping = 1;
    p4_log(P4_LOG_INFO, "shutting down: finishing reconciles in flight", "signal",
           signum == SIGTERM ? "SIGTERM" : "SIGINT", NULL);
    p4_controller_shutdown(app->ctl, on_drained, app);
}

int main(int argc, char **argv)
{
    struct options o = {.workers = 4, .qps = 20, .burst = 40, .log_level = P4_LOG_INFO};
    struct p4_kube_config *cfg = NULL;
    struct p4_kube_options ko = {0};
    struct p4_controller_opts co = {0};
    struct p4_informer_handlers handlers = {on_add, on_update, on_delete, NULL};
    struct p4_error err;
    struct app app;
    char host[256] = "phase4-operator";
    int rc;

    rc = parse_flags(argc, argv, &o);
    if (rc != 0)
        return rc > 0 ? 0 : (rc == -1 ? 2 : 1);
    p4_log_setup((enum p4_log_level)o.log_level, o.log_json, stderr);
    p4_error_clear(&err);
    if (load_config(&o, &cfg, &err) != 0) {
        p4_log(P4_LOG_ERROR, "cannot load the cluster configuration", "error", err.message, NULL);
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
        p4_log(P4_LOG_ERROR, "cannot create the API client", "error", err.message, NULL);
        p4_kube_config_free(cfg);
        curl_global_cleanup();
        return 1;
    }
    p4_log(P4_LOG_INFO, "starting", "version", P4_VERSION, "server", cfg->server, "context",
           cfg->context ? cfg->context : "in-cluster", NULL);
    p4_kube_config_free(cfg);
    (void)gethostname(host, sizeof(host) - 1);

    co.workers = o.workers;
    app.ctl = p4_controller_new(app.loop, &co, p4_reconcile, &app.rec);
    handlers.data = &app;
    app.resources = p4_informer_new(app.loop, app.kube, P4_COLLECTION_PATH, &handlers);
    app.events = p4_events_new(app.kube, host);
    app.rec = (struct p4_reconciler){.kube = app.kube, .resources = app.resources,
                                     .events = app.events};

    (void)uv_signal_init(app.loop, &app.sigterm);
    (void)uv_signal_init(app.loop, &app.sigint);
    app.sigterm.data = app.sigint.data = &app;
    (void)uv_signal_start(&app.sigterm, on_signal, SIGTERM);
    (void)uv_signal_start(&app.sigint, on_signal, SIGINT);

    p4_informer_start(app.resources);
    p4_controller_run(app.ctl);
    (void)uv_run(app.loop, UV_RUN_DEFAULT);
    rc = uv_loop_close(app.loop);
    curl_global_cleanup();
    if (rc != 0)
        p4_log(P4_LOG_WARN, "handles left open at exit", NULL);
    return 0;
}
