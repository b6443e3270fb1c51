/*
 * flags.c: the operator's command line (usage, flags) and the cluster
 * configuration it names (see cmd.h).
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd.h"
#include "phase4/core/log.h"
#include "phase4/core/version.h"

/*
 * The absolute path of program into buf: a path with a '/' is made absolute as it stands now
 * (helm runs in a work directory of its own, where a relative one would name nothing), a bare
 * name is looked up in $PATH (helm runs with a PATH of its own). NULL, or why it is refused.
 */
static const char *resolve_program(const char *program, char *buf, size_t size)
{
    char real[PATH_MAX], cand[PATH_MAX];
    const char *path = getenv("PATH"), *p, *found = NULL;
    struct stat st;

    if (program[0] == '\0')
        return "an empty path";
    if (strchr(program, '/') != NULL) {
        found = program;
    } else {
        for (p = path ? path : ""; *p != '\0' && found == NULL; p += *p == ':') {
            size_t n = strcspn(p, ":");
            int w = snprintf(cand, sizeof(cand), "%.*s/%s", (int)n, n ? p : ".", program);
            if (w > 0 && (size_t)w < sizeof(cand) && access(cand, X_OK) == 0)
                found = cand;
            p += n;
        }
        if (found == NULL)
            return "not found in $PATH";
    }
    if (realpath(found, real) == NULL)
        return strerror(errno);
    if (stat(real, &st) != 0 || !S_ISREG(st.st_mode) || access(real, X_OK) != 0)
        return "not an executable file";
    if (strlen(real) >= size)
        return "the path is too long";
    memcpy(buf, real, strlen(real) + 1);
    return NULL;
}

static void usage(FILE *out)
{
    (void)fputs(
        "usage: phase4-operator [flags]\n"
        "\n"
        "A Kubernetes operator that deploys an application through four gated\n"
        "stages (Docker, Helm, Kubernetes, Validation) and reports each gate in\n"
        "the Phase4Deployment's status and Events.\n"
        "\n"
        "  --kubeconfig PATH       kubeconfig file(s), ':'-separated (default: $KUBECONFIG,\n"
        "                          then in-cluster, then ~/.kube/config)\n"
        "  --context NAME          kubeconfig context (default: current-context)\n"
        "  --concurrent N          reconciles at once (default 4)\n"
        "  --kube-api-qps N        client-side API rate limit; 0: none (default: none once\n"
        "                          the API server shows API Priority and Fairness, else 20)\n"
        "  --kube-api-burst N      client-side API burst (default: as qps; 40 with 20)\n"
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
        "  --status-progress-interval DURATION  write a status whose only change is a\n"
        "                                    wait's progress (a gate's message, health\n"
        "                                    counts) at most this often; every transition\n"
        "                                    is written at once (default 10s; 0: at once)\n"
        "  --recheck-spread DURATION         after a start, a resource whose status says\n"
        "                                    it passed for its generation is trusted and\n"
        "                                    checked again at a time spread over this\n"
        "                                    window, after new work (default 10m; 0: all\n"
        "                                    at once)\n"
        "  --helm-binary PATH                the helm the Helm stage runs (default: helm\n"
        "                                    next to this binary, else /usr/local/bin/helm)\n"
        "  --helm-timeout DURATION           time limit of one helm run (default 2m)\n"
        "  --helm-concurrency N              helm processes the Helm stage runs at once,\n"
        "                                    for all resources; the rest wait in line,\n"
        "                                    oldest first (default: the CPUs the process\n"
        "                                    may use: its CPU affinity, capped by the\n"
        "                                    container's cgroup CPU quota rounded up; at\n"
        "                                    least 1)\n"
        "  --unschedulable-grace DURATION    how long a pod may stay unschedulable before\n"
        "                                    the Kubernetes stage fails (default 30s)\n"
        "  --cache-dir DIR                   charts and helm's cache (default\n"
        "                                    /tmp/phase4-operator)\n"
        "  --default-service-account NAME    act for a Phase4Deployment without\n"
        "                                    spec.serviceAccountName as this ServiceAccount\n"
        "                                    of its namespace (default: none; then the\n"
        "                                    operator acts as itself, in the resource's own\n"
        "                                    namespace only; see docs/security.md)\n"
        "  --no-cross-namespace-refs BOOL    hold every Phase4Deployment to its own\n"
        "                                    namespace, even with a ServiceAccount\n"
        "                                    (default false)\n"
        "  --notify-allow PREFIXES           comma-separated URL prefixes a spec.notify\n"
        "                                    webhook must be under (default: any URL)\n"
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
        "                          repository from $P4_CHART_USERNAME, $P4_CHART_PASSWORD)\n",
        out);
    p4_cmd_report_usage(out, "phase4-operator");
    (void)fputs(
        "                          (as a kubectl plugin: the binary on PATH as\n"
        "                          kubectl-phase4, then kubectl phase4 report NAME)\n"
        "  phase4-operator health -f FILE|-\n"
        "                          the health of every object in FILE (- for standard input;\n"
        "                          YAML or JSON, as kubectl get -o yaml|json prints it), as the\n"
        "                          Kubernetes stage judges it: one line each, the status first\n"
        "                          (Current, InProgress, Failed, Unknown); exit 0 all Current,\n"
        "                          1 some InProgress or Unknown, 2 some Failed, 3 unreadable\n"
        "                          input or no object, 64 a wrong command line\n"
        "  --help                  print this help\n",
        out);
}

/* A Kubernetes object name (RFC 1123 subdomain): a ServiceAccount's. */
static int dns_subdomain(const char *v)
{
    size_t n = strlen(v);

    if (n == 0 || n > 253 || !isalnum((unsigned char)v[0]) || !isalnum((unsigned char)v[n - 1]))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!(islower((unsigned char)v[i]) || isdigit((unsigned char)v[i]) || v[i] == '-' ||
              v[i] == '.'))
            return 0;
    return 1;
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

int p4_cmd_parse_flags(int argc, char **argv, struct p4_cmd_options *o)
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
            o->rate_set = 1;
        } else if (strcmp(a, "--kube-api-burst") == 0) {
            long n = strtol(v, &end, 10);
            if (*end || n < 1 || n > 100000)
                goto bad;
            o->burst = (unsigned)n;
            o->rate_set = 1;
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
        } else if (strcmp(a, "--status-progress-interval") == 0) {
            if (strcmp(v, "0") == 0 || strcmp(v, "0s") == 0)
                o->progress_ms = 0;
            else if ((o->progress_ms = duration_flag(v)) == 0)
                goto bad;
        } else if (strcmp(a, "--recheck-spread") == 0) {
            if (strcmp(v, "0") == 0 || strcmp(v, "0s") == 0)
                o->recheck_spread_ms = 0;
            else if ((o->recheck_spread_ms = duration_flag(v)) == 0)
                goto bad;
        } else if (strcmp(a, "--unschedulable-grace") == 0) {
            if ((o->unschedulable_grace_ms = duration_flag(v)) == 0)
                goto bad;
        } else if (strcmp(a, "--helm-timeout") == 0) {
            if ((o->helm_timeout_ms = duration_flag(v)) == 0)
                goto bad;
        } else if (strcmp(a, "--helm-concurrency") == 0) {
            long n = strtol(v, &end, 10);
            if (end == v || *end || n < 1 || n > 1000) {
                (void)fprintf(stderr,
                              "phase4-operator: bad value '%s' for --helm-concurrency: want a "
                              "whole number from 1 to 1000\n",
                              v);
                return -1;
            }
            o->helm_concurrency = (int)n;
        } else if (strcmp(a, "--helm-binary") == 0) {
            const char *why = resolve_program(v, o->helm_path, sizeof(o->helm_path));
            if (why != NULL) {
                (void)fprintf(stderr, "phase4-operator: --helm-binary '%s': %s\n", v, why);
                return -1;
            }
            o->helm = o->helm_path;
        } else if (strcmp(a, "--cache-dir") == 0) {
            if (v[0] == '\0')
                goto bad;
            o->cache_dir = v;
        } else if (strcmp(a, "--default-service-account") == 0) {
            if (!dns_subdomain(v))
                goto bad;
            o->default_service_account = v;
        } else if (strcmp(a, "--no-cross-namespace-refs") == 0) {
            if (strcmp(v, "true") != 0 && strcmp(v, "false") != 0)
                goto bad;
            o->no_cross_namespace_refs = strcmp(v, "true") == 0;
        } else if (strcmp(a, "--notify-allow") == 0) {
            o->notify_allow = v;
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
int p4_cmd_load_config(const struct p4_cmd_options *o, struct p4_kube_config **cfg,
                       struct p4_error *err)
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
