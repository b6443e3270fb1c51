/* stages/helm/stage.c: stage 2, Helm (see phase4/stages/helm/stage.h). */
#include "phase4/stages/helm/stage.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "phase4/core/alloc.h"
#include "phase4/kube/apply.h"
#include "phase4/core/base64.h"
#include "helmout.h"
#include "phase4/stages/helm/helmrun.h"
#include "phase4/core/json.h"
#include "phase4/core/log.h"
#include "phase4/oci/regauth.h"
#include "phase4/reconciler/manifest.h"
#include "phase4/reconciler/stagerun.h"
#include "values.h"

#define SOURCES_MAX 32
#define KUBE_VERSION_TTL_MS 300000 /* the cluster's version, asked at most every 5 minutes */
#define SECRET_NAME_MAX 253

enum gate { G_PACKAGED, G_LINTS, G_VALUES, G_DRYRUN, G_COUNT };
static const char *const gate_names[G_COUNT] = {"Packaged", "Lints", "ValuesValid", "DryRun"};

enum step {
    S_READ,     /* the cluster's version and API versions, credentials, CA, valuesFrom */
    S_FETCH,    /* the chart (chartfetch) */
    S_LINT,     /* values composed; helm lint --strict */
    S_TEMPLATE, /* helm template */
    S_DRYRUN,   /* every rendered object, dryRun=All */
    S_STORE,    /* the manifest Secret, and older ones pruned */
    S_DONE,
};

struct p4_helm_stage {
    struct p4_stagerunner sr; /* first: a run's sr is its stage */
    struct p4_helm_stage_config cfg;
    char *helm, *work_dir, *home, *cache_home, *config_home, *data_home;
    char kube_version[64]; /* "v1.36.3" from /version, or "" */
    uint64_t kube_version_at;
};

struct source {
    const char *kind; /* static */
    char *name, *key, *target_path;
    bool optional;
    char *text; /* the key's content (wiped before it is freed), or NULL when missing */
    size_t len;
};

/* What one attempt works with; it exists only while the attempt runs. */
struct work {
    char *username, *password; /* the repository's credentials (wiped) */
    unsigned char *ca;
    size_t ca_len;
    struct source src[SOURCES_MAX];
    size_t nsrc;
    char kube_version[64];
    char *api_versions;
    char chart_path[1024];
    char *values; /* JSON text for helm's stdin (wiped) */
    size_t values_len;
    char *manifest;
    size_t manifest_len;
    cJSON *objects; /* the rendered objects */
    int obj_i, nobj, skipped;
    char skipped_why[256];
    struct p4_helmrun *helm; /* while helm runs */
};

struct run {
    struct p4_stagerun base; /* first: answers get the run as their data */
    char *image_repo;
    char image_digest[80];
    cJSON *chart; /* copy of spec.chart */
    bool force, create_namespace;
    struct work *w;

    /* What the checks found; kept across attempts. */
    char version[128], digest[80], secret[SECRET_NAME_MAX + 1];
    int nobjects;
};

static struct p4_helm_stage *stage_of(const struct run *r)
{
    return (struct p4_helm_stage *)r->base.sr;
}

/* ---- run lifetime ---- */

static void free_work(struct work *w)
{
    if (w == NULL)
        return;
    p4_wipe_free_str(w->username);
    p4_wipe_free_str(w->password);
    free(w->ca);
    for (size_t i = 0; i < w->nsrc; i++) {
        free(w->src[i].name);
        free(w->src[i].key);
        free(w->src[i].target_path);
        p4_wipe_free(w->src[i].text, w->src[i].len);
    }
    free(w->api_versions);
    p4_wipe_free(w->values, w->values_len);
    free(w->manifest);
    cJSON_Delete(w->objects);
    free(w);
}

static int kube_send(struct run *r, const char *method, const char *path, p4_kube_cb cb)
{
    return p4_stagerun_request(&r->base, stage_of(r)->cfg.kube, method, path, cb);
}

/* ---- S_READ ---- */

static void on_version(struct p4_kube_result *res, void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);
    const char *v;

    if (r == NULL)
        return;
    v = p4_json_str(res->body, "gitVersion");
    if (res->rc != 0 || v == NULL) {
        struct p4_error e = res->err;
        if (res->rc == 0)
            p4_error_set(&e, P4_ERR_PARSE, "the API server's /version has no gitVersion");
        p4_stagerun_part_failed(&r->base, P4_FAIL_TRANSIENT, G_DRYRUN, "APIUnavailable", &e);
    } else {
        (void)snprintf(stage_of(r)->kube_version, sizeof(stage_of(r)->kube_version), "%s", v);
        (void)snprintf(r->w->kube_version, sizeof(r->w->kube_version), "%s", v);
        stage_of(r)->kube_version_at = uv_now(stage_of(r)->sr.loop);
    }
    p4_stagerun_part_done(&r->base, S_FETCH);
}

static void on_discovered(int rc, const struct p4_resource_info *info, const struct p4_error *err,
                          void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);

    (void)info;
    if (r == NULL)
        return;
    if (rc != 0)
        p4_stagerun_part_failed(&r->base, P4_FAIL_TRANSIENT, G_DRYRUN, "APIUnavailable", err);
    else
        r->w->api_versions = p4_discovery_api_versions(stage_of(r)->cfg.discovery);
    p4_stagerun_part_done(&r->base, S_FETCH);
}

static void on_credentials(struct p4_kube_result *res, void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);
    const char *name;
    size_t len;

    if (r == NULL)
        return;
    name = p4_json_str(r->chart, "secretRef.name");
    if (res->rc != 0) {
        struct p4_error e;
        p4_error_set(&e, res->rc, "chart repository Secret %s/%s (spec.chart.secretRef): %s", r->base.ns,
                     name, res->err.message);
        p4_stagerun_part_failed(
            &r->base, p4_kube_read_class(res->rc), G_PACKAGED,
            res->rc == P4_ERR_NOTFOUND ? "ChartSecretNotFound" : "APIUnavailable", &e);
    } else {
        r->w->username = (char *)p4_object_value(res->body, true, "username", &len);
        r->w->password = (char *)p4_object_value(res->body, true, "password", &len);
        if (r->w->username == NULL || r->w->password == NULL) {
            struct p4_error e;
            p4_error_set(&e, P4_ERR_INVALID,
                         "chart repository Secret %s/%s (spec.chart.secretRef) needs the keys "
                         "username and password",
                         r->base.ns, name);
            p4_stagerun_part_failed(&r->base, P4_FAIL_CLUSTER, G_PACKAGED, "ChartSecretInvalid",
                                    &e);
        }
        p4_secret_wipe(res->body);
    }
    p4_stagerun_part_done(&r->base, S_FETCH);
}

static void on_ca(struct p4_kube_result *res, void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);
    const char *kind, *name, *key;

    if (r == NULL)
        return;
    kind = p4_json_str(r->chart, "caBundle.kind") ? p4_json_str(r->chart, "caBundle.kind")
                                                  : "ConfigMap";
    name = p4_json_str(r->chart, "caBundle.name");
    key = p4_json_str(r->chart, "caBundle.key") ? p4_json_str(r->chart, "caBundle.key") : "ca.crt";
    if (res->rc != 0) {
        struct p4_error e;
        p4_error_set(&e, res->rc, "CA bundle %s %s/%s (spec.chart.caBundle): %s", kind, r->base.ns, name,
                     res->err.message);
        p4_stagerun_part_failed(&r->base, p4_kube_read_class(res->rc), G_PACKAGED,
                                res->rc == P4_ERR_NOTFOUND ? "CABundleNotFound" : "APIUnavailable",
                                &e);
    } else {
        r->w->ca = p4_object_value(res->body, strcmp(kind, "Secret") == 0, key, &r->w->ca_len);
        if (r->w->ca == NULL) {
            struct p4_error e;
            p4_error_set(&e, P4_ERR_INVALID,
                         "CA bundle %s %s/%s (spec.chart.caBundle) has no key %s", kind, r->base.ns,
                         name, key);
            p4_stagerun_part_failed(&r->base, P4_FAIL_CLUSTER, G_PACKAGED, "CABundleNotFound", &e);
        }
    }
    p4_stagerun_part_done(&r->base, S_FETCH);
}

struct source_req {
    struct run *r;
    size_t i;
};

static void on_source(struct p4_kube_result *res, void *data)
{
    struct source_req *q = data;
    struct run *r = (struct run *)p4_stagerun_back(q->r);
    size_t i = q->i;

    free(q);
    if (r == NULL)
        return;
    if (res->rc == 0) {
        struct source *s = &r->w->src[i];
        bool secret = strcmp(s->kind, "Secret") == 0;
        s->text = (char *)p4_object_value(res->body, secret, s->key, &s->len);
        if (secret)
            p4_secret_wipe(res->body);
    } else if (res->rc != P4_ERR_NOTFOUND) { /* missing: values.c decides (optional or not) */
        struct p4_error e;
        p4_error_set(&e, res->rc, "valuesFrom %s %s/%s: %s", r->w->src[i].kind, r->base.ns,
                     r->w->src[i].name, res->err.message);
        p4_stagerun_part_failed(&r->base, p4_kube_read_class(res->rc), G_VALUES,
                                res->rc == P4_ERR_FORBIDDEN ? "Forbidden" : "APIUnavailable", &e);
    }
    p4_stagerun_part_done(&r->base, S_FETCH);
}

static void read_sources(struct run *r)
{
    struct work *w = r->w;
    char path[1024];

    r->base.pending = 1; /* held until every request is out */
    if (stage_of(r)->kube_version[0] &&
        uv_now(stage_of(r)->sr.loop) - stage_of(r)->kube_version_at < KUBE_VERSION_TTL_MS)
        (void)snprintf(w->kube_version, sizeof(w->kube_version), "%s", stage_of(r)->kube_version);
    else if (kube_send(r, "GET", "/version", on_version) != 0)
        w->kube_version[0] = '\0';
    /* Discovery is loaded (and refreshed for a new CRD) by asking it for one kind. */
    free(w->api_versions);
    w->api_versions = NULL;
    r->base.inflight++;
    r->base.pending++;
    if (p4_discovery_lookup(stage_of(r)->cfg.discovery, "v1", "ConfigMap", on_discovered, r) != 0) {
        r->base.inflight--;
        r->base.pending--;
    }
    if (p4_json_str(r->chart, "secretRef.name")) {
        p4_core_path(path, sizeof(path), r->base.ns, "secrets", p4_json_str(r->chart, "secretRef.name"));
        (void)kube_send(r, "GET", path, on_credentials);
    }
    if (p4_json_str(r->chart, "caBundle.name")) {
        const char *kind = p4_json_str(r->chart, "caBundle.kind");
        p4_core_path(path, sizeof(path), r->base.ns,
                     kind && strcmp(kind, "Secret") == 0 ? "secrets" : "configmaps",
                     p4_json_str(r->chart, "caBundle.name"));
        (void)kube_send(r, "GET", path, on_ca);
    }
    for (size_t i = 0; i < w->nsrc; i++) {
        struct source_req *q = p4_calloc(1, sizeof(*q));
        q->r = r;
        q->i = i;
        p4_core_path(path, sizeof(path), r->base.ns,
                     strcmp(w->src[i].kind, "Secret") == 0 ? "secrets" : "configmaps",
                     w->src[i].name);
        r->base.inflight++;
        r->base.pending++;
        if (p4_kube_request(stage_of(r)->cfg.kube, "GET", path, NULL, NULL, 0, on_source, q) != 0) {
            r->base.inflight--;
            r->base.pending--;
            free(q);
        }
    }
    p4_stagerun_part_done(&r->base, S_FETCH);
}

/* ---- S_FETCH ---- */

static enum p4_failure_class fetch_class(int rc)
{
    switch (rc) {
    case P4_ERR_NOTFOUND:
    case P4_ERR_INVALID:
    case P4_ERR_TOOBIG:
    case P4_ERR_PARSE:
        return P4_FAIL_ARTIFACT;
    case P4_ERR_UNAUTHORIZED:
    case P4_ERR_FORBIDDEN:
    case P4_ERR_TLS:
    case P4_ERR_INVAL:
        return P4_FAIL_CLUSTER;
    default:
        return P4_FAIL_TRANSIENT;
    }
}

static void on_fetched(const struct p4_chart_result *res, void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);
    const char *repo, *name;

    if (r == NULL)
        return;
    repo = p4_json_str(r->chart, "repository");
    name = p4_json_str(r->chart, "name");
    if (res->rc != 0) {
        struct p4_error e = res->err;
        const char *reason = e.reason ? e.reason : p4_err_reason(res->rc);
        if (e.code == 0)
            e.code = res->rc;
        p4_stagerun_fail(&r->base, fetch_class(res->rc), G_PACKAGED, reason, &e);
        return;
    }
    (void)snprintf(r->version, sizeof(r->version), "%s", res->version);
    (void)snprintf(r->digest, sizeof(r->digest), "%s", res->digest);
    (void)snprintf(r->w->chart_path, sizeof(r->w->chart_path), "%s", res->path);
    p4_stagerun_gate(&r->base, G_PACKAGED, "True", "ChartFetched", "chart %s %s (%s) from %s", name,
                     res->version, res->digest, repo);
    p4_stagerun_next(&r->base, S_LINT);
}

static void fetch(struct run *r)
{
    struct work *w = r->w;
    struct p4_chart_request req = {0};
    struct p4_regauth_entry cred = {0};
    char host[256];
    bool insecure = false;
    int rc;

    req.repository = p4_json_str(r->chart, "repository");
    req.name = p4_json_str(r->chart, "name");
    req.version = p4_json_str(r->chart, "version");
    req.ca_pem = w->ca;
    req.ca_len = w->ca_len;
    (void)p4_json_bool(r->chart, "insecure", &insecure);
    req.insecure_http = insecure;
    if (req.repository && strncmp(req.repository, "oci://", 6) == 0) {
        if (w->username) {
            (void)snprintf(host, sizeof(host), "%.*s", (int)strcspn(req.repository + 6, "/"),
                           req.repository + 6);
            cred.registry = cred.host = cred.normalized = host;
            cred.path = (char *)"";
            cred.username = w->username;
            cred.password = w->password;
            req.cred = &cred;
        }
    } else {
        req.username = w->username;
        req.password = w->password;
    }
    p4_stagerun_gate(&r->base, G_PACKAGED, "Unknown", "Fetching", "fetching chart %s %s from %s",
                     req.name ? req.name : "", req.version ? req.version : "", req.repository);
    r->base.inflight++;
    rc = p4_chartfetch_get(stage_of(r)->cfg.charts, &req, on_fetched, r);
    if (rc != 0) {
        r->base.inflight--;
        p4_stagerun_failf(
            &r->base, P4_FAIL_CLUSTER, G_PACKAGED, "InvalidChartRepository",
            "spec.chart.repository %s is not a chart repository URL (https://, http:// or "
            "oci://)",
            req.repository ? req.repository : "");
    }
}

/* ---- S_LINT, S_TEMPLATE: helm ---- */

/* The values helm gets: valuesFrom, then spec.chart.values, then the pinned image. */
static int compose_values(struct run *r)
{
    struct work *w = r->w;
    struct p4_values_source srcs[SOURCES_MAX];
    struct p4_error err = {0};
    char label[SOURCES_MAX][600];
    cJSON *values;

    for (size_t i = 0; i < w->nsrc; i++) {
        (void)snprintf(label[i], sizeof(label[i]), "%s/%s", r->base.ns, w->src[i].name);
        srcs[i] = (struct p4_values_source){.kind = w->src[i].kind,
                                            .name = label[i],
                                            .key = w->src[i].key,
                                            .target_path = w->src[i].target_path,
                                            .optional = w->src[i].optional,
                                            .text = w->src[i].text,
                                            .len = w->src[i].len};
    }
    values = p4_values_compose(srcs, w->nsrc, p4_json_get(r->chart, "values"), &err);
    if (values == NULL) {
        p4_stagerun_fail(
            &r->base, P4_FAIL_CLUSTER, G_VALUES,
            err.code == P4_ERR_NOTFOUND ? "ValuesSourceNotFound" : "ValuesSourceInvalid", &err);
        return -1;
    }
    if (p4_values_set_path(values, "image.repository",
                           p4_json_need(cJSON_CreateString(r->image_repo)), &err) != 0 ||
        p4_values_set_path(values, "image.digest",
                           p4_json_need(cJSON_CreateString(r->image_digest)), &err) != 0) {
        p4_json_discard(values);
        p4_stagerun_fail(&r->base, P4_FAIL_CLUSTER, G_VALUES, "ValuesSourceInvalid", &err);
        return -1;
    }
    w->values = p4_json_print(values);
    w->values_len = w->values ? strlen(w->values) : 0;
    p4_json_discard(values);
    return w->values ? 0 : -1;
}

/* Which gate a helm failure belongs to, and its class. */
static enum gate helm_gate(enum p4_helm_reason why, enum gate own)
{
    switch (why) {
    case P4_HELM_CHART_NOT_FOUND:
    case P4_HELM_REPO_UNAVAILABLE:
    case P4_HELM_REPO_AUTH_FAILED:
    case P4_HELM_REPO_TLS_ERROR:
        return G_PACKAGED;
    case P4_HELM_LINT_FAILED:
        return G_LINTS;
    case P4_HELM_VALUES_SCHEMA_INVALID:
        return G_VALUES;
    case P4_HELM_TEMPLATE_RENDER_FAILED:
    case P4_HELM_DRY_RUN_REJECTED:
        return G_DRYRUN;
    default:
        return own;
    }
}

static enum p4_failure_class helm_class(enum p4_helm_reason why)
{
    switch (why) {
    case P4_HELM_TIMED_OUT:
    case P4_HELM_REPO_UNAVAILABLE:
        return P4_FAIL_TRANSIENT;
    case P4_HELM_REPO_AUTH_FAILED:
    case P4_HELM_REPO_TLS_ERROR:
        return P4_FAIL_CLUSTER;
    default:
        return P4_FAIL_ARTIFACT;
    }
}

/* helm failed in step s: its gate is False, the gates it did not reach are not checked. */
static void helm_failed(struct run *r, const char *command, enum gate own,
                        const struct p4_helmrun_result *res)
{
    char msg[P4_ERROR_MESSAGE_MAX];
    struct p4_error e = {.code = P4_ERR_INVALID};
    enum p4_helm_reason why = p4_helm_classify_run(command, res, msg, sizeof(msg));
    enum gate g = helm_gate(why, own);

    if (why == P4_HELM_OK) {
        why = P4_HELM_FAILED;
        (void)snprintf(msg, sizeof(msg), "helm %s failed", command);
    }
    (void)snprintf(e.message, sizeof(e.message), "%s", msg);
    for (int i = G_LINTS; i < G_COUNT; i++) {
        if (i != (int)g && strcmp(r->base.gates[i].status, "True") != 0)
            p4_stagerun_gate(&r->base, (enum gate)i, "Unknown", "NotChecked",
                             "not checked: helm %s stopped at %s", command,
                             p4_helm_reason_name(why));
    }
    p4_stagerun_fail(&r->base, helm_class(why), g, p4_helm_reason_name(why), &e);
}

static void on_lint(int rc, const struct p4_helmrun_result *res, const struct p4_error *err,
                    void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);

    (void)err;
    if (r == NULL)
        return;
    r->w->helm = NULL;
    if (rc != 0)
        return;
    if (res->timed_out || res->term_signal != 0 || res->exit_status != 0) {
        helm_failed(r, "lint", G_LINTS, res);
        return;
    }
    p4_stagerun_gate(&r->base, G_LINTS, "True", "LintPassed",
                     "helm lint --strict found no problem in chart %s %s",
                     p4_json_str(r->chart, "name"), r->version);
    p4_stagerun_gate(
        &r->base, G_VALUES, "True", "ValuesValid",
        "helm accepted the values (checked against the chart's values.schema.json when it "
        "has one)");
    p4_stagerun_next(&r->base, S_TEMPLATE);
}

static void on_template(int rc, const struct p4_helmrun_result *res, const struct p4_error *err,
                        void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);

    (void)err;
    if (r == NULL)
        return;
    r->w->helm = NULL;
    if (rc != 0)
        return;
    if (res->timed_out || res->term_signal != 0 || res->exit_status != 0 || res->out_truncated) {
        helm_failed(r, "template", G_DRYRUN, res);
        return;
    }
    free(r->w->manifest);
    r->w->manifest = p4_strndup(res->out, res->out_len);
    r->w->manifest_len = res->out_len;
    p4_stagerun_next(&r->base, S_DRYRUN);
}

static void run_helm(struct run *r, const char *command, const char *const *argv, p4_helmrun_cb cb,
                     enum gate g)
{
    struct p4_helm_stage *h = stage_of(r);
    struct p4_helmrun_options o = {.helm = h->helm,
                                   .argv = argv,
                                   .home = h->home,
                                   .cache_home = h->cache_home,
                                   .config_home = h->config_home,
                                   .data_home = h->data_home,
                                   .cwd = h->work_dir,
                                   .stdin_data = r->w->values,
                                   .stdin_len = r->w->values_len,
                                   .timeout_ms = h->cfg.helm_timeout_ms};
    struct p4_error err = {0};

    p4_stagerun_gate(&r->base, g, "Unknown", "Checking", "running helm %s", command);
    r->base.inflight++;
    if (p4_helmrun_start(h->sr.loop, &o, cb, r, &r->w->helm, &err) != 0) {
        r->base.inflight--;
        r->w->helm = NULL;
        p4_stagerun_fail(&r->base, P4_FAIL_CLUSTER, g, "HelmNotAvailable", &err);
    }
}

static void lint(struct run *r)
{
    const char *argv[] = {
        "lint",        r->w->chart_path, "--strict",       "--values",         "-",
        "--namespace", r->base.target_ns,     "--kube-version", r->w->kube_version, NULL};

    if (r->w->values == NULL && compose_values(r) != 0)
        return;
    if (r->w->kube_version[0] == '\0')
        argv[7] = NULL;
    run_helm(r, "lint", argv, on_lint, G_LINTS);
}

static void render(struct run *r)
{
    const char *argv[16];
    int n = 0;

    argv[n++] = "template";
    argv[n++] = r->base.name;
    argv[n++] = r->w->chart_path;
    argv[n++] = "--values";
    argv[n++] = "-";
    argv[n++] = "--namespace";
    argv[n++] = r->base.target_ns;
    argv[n++] = "--include-crds";
    argv[n++] = "--skip-tests";
    if (r->w->kube_version[0]) {
        argv[n++] = "--kube-version";
        argv[n++] = r->w->kube_version;
    }
    if (r->w->api_versions && r->w->api_versions[0]) {
        argv[n++] = "--api-versions";
        argv[n++] = r->w->api_versions;
    }
    argv[n] = NULL;
    run_helm(r, "template", argv, on_template, G_DRYRUN);
}

/* ---- S_DRYRUN ---- */

static void dry_run_next(struct run *r);

/* The kinds the manifest's own CustomResourceDefinitions define: unknown until applied. */
static bool defined_in_manifest(const cJSON *objects, const char *api_version, const char *kind)
{
    const cJSON *o;
    size_t glen = strcspn(api_version, "/");

    if (api_version[glen] != '/')
        return false;
    cJSON_ArrayForEach(o, objects) {
        const char *k = p4_json_str(o, "kind"), *g = p4_json_str(o, "spec.group");
        const char *ck = p4_json_str(o, "spec.names.kind");
        if (k && g && ck && strcmp(k, "CustomResourceDefinition") == 0 && strcmp(ck, kind) == 0 &&
            strlen(g) == glen && strncmp(g, api_version, glen) == 0)
            return true;
    }
    return false;
}

static void on_dry_run(const struct p4_apply_result *res, void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);
    const cJSON *obj;
    char msg[P4_ERROR_MESSAGE_MAX];
    struct p4_error e = {0};
    enum p4_failure_class cls;

    if (r == NULL)
        return;
    obj = cJSON_GetArrayItem(r->w->objects, r->w->obj_i);
    if (res->rc == 0) {
        r->w->obj_i++;
        dry_run_next(r);
        return;
    }
    if (res->rc == P4_ERR_NOTFOUND && res->resource[0] == '\0' &&
        defined_in_manifest(r->w->objects, p4_json_str(obj, "apiVersion"), res->kind)) {
        r->w->skipped++; /* its CRD is in the chart: the Kubernetes stage applies that first */
        (void)snprintf(r->w->skipped_why, sizeof(r->w->skipped_why),
                       "; %d of kinds the chart's own CRDs define are checked once the "
                       "Kubernetes stage has applied those CRDs",
                       r->w->skipped);
        r->w->obj_i++;
        dry_run_next(r);
        return;
    }
    if (res->rc == P4_ERR_NOTFOUND && res->resource[0] != '\0' && r->create_namespace &&
        res->namespace_[0] != '\0') {
        r->w->skipped++; /* the namespace is created by the Kubernetes stage */
        (void)snprintf(r->w->skipped_why, sizeof(r->w->skipped_why),
                       "; %d wait for namespace %s, which the Kubernetes stage creates "
                       "(spec.target.createNamespace), to be checked",
                       r->w->skipped, r->base.target_ns);
        r->w->obj_i++;
        dry_run_next(r);
        return;
    }
    switch (res->rc) {
    case P4_ERR_INVALID:
    case P4_ERR_BADREQUEST:
    case P4_ERR_NOTFOUND:
    case P4_ERR_METHOD:
        cls = P4_FAIL_ARTIFACT;
        break;
    case P4_ERR_FORBIDDEN:
    case P4_ERR_UNAUTHORIZED:
    case P4_ERR_CONFLICT:
    case P4_ERR_EXISTS:
        cls = P4_FAIL_CLUSTER;
        break;
    default:
        cls = P4_FAIL_TRANSIENT;
        break;
    }
    /* Denied by admission (a webhook or a policy, which answer 403 or 422): the cluster's
       policy decides, so a person must act (as the Kubernetes stage classes it); re-checked,
       a changed policy heals it. */
    if (strstr(res->err.message, "admission webhook") != NULL ||
        strstr(res->err.message, "ValidatingAdmissionPolicy") != NULL)
        cls = P4_FAIL_CLUSTER;
    if (cls == P4_FAIL_TRANSIENT) {
        e = res->err;
        p4_stagerun_fail(&r->base, cls, G_DRYRUN, "APIUnavailable", &e);
        return;
    }
    (void)p4_helm_dry_run_rejected(res->kind, res->namespace_, res->name, res->err.message, msg,
                                   sizeof(msg));
    e.code = res->rc;
    (void)snprintf(e.message, sizeof(e.message), "%s", msg);
    p4_stagerun_fail(&r->base, cls, G_DRYRUN, p4_helm_reason_name(P4_HELM_DRY_RUN_REJECTED), &e);
}

static void dry_run_next(struct run *r)
{
    struct work *w = r->w;
    struct p4_apply_opts opts = {.namespace_ = r->base.target_ns, .dry_run = true, .force = r->force};
    const cJSON *obj;

    if (w->obj_i >= w->nobj) {
        r->nobjects = w->nobj;
        p4_stagerun_gate(
            &r->base, G_DRYRUN, "True", "DryRunPassed",
            "helm template rendered %d object(s); the API server accepted %d of them in a "
            "server-side dry run (dryRun=All)%s",
            w->nobj, w->nobj - w->skipped, w->skipped_why);
        p4_stagerun_next(&r->base, S_STORE);
        return;
    }
    obj = cJSON_GetArrayItem(w->objects, w->obj_i);
    r->base.inflight++;
    if (p4_apply_object(stage_of(r)->cfg.kube, stage_of(r)->cfg.discovery, obj, &opts, on_dry_run,
                        r) != 0) {
        r->base.inflight--;
        p4_stagerun_failf(
            &r->base, P4_FAIL_ARTIFACT, G_DRYRUN, "TemplateRenderFailed",
            "rendered object %d (%s) has no apiVersion, kind or name, or too long a one",
            w->obj_i + 1, p4_json_str(obj, "kind") ? p4_json_str(obj, "kind") : "?");
    }
}

static void dry_run(struct run *r)
{
    struct work *w = r->w;
    struct p4_error err = {0};

    if (w->objects == NULL) {
        w->objects = p4_manifest_split(w->manifest ? w->manifest : "", w->manifest_len, &err);
        if (w->objects == NULL) {
            p4_stagerun_fail(&r->base, P4_FAIL_ARTIFACT, G_DRYRUN, "TemplateRenderFailed", &err);
            return;
        }
        w->nobj = cJSON_GetArraySize(w->objects);
        w->obj_i = 0;
        w->skipped = 0;
        w->skipped_why[0] = '\0';
    }
    p4_stagerun_gate(&r->base, G_DRYRUN, "Unknown", "Checking",
                     "server-side dry run of %d rendered object(s)", w->nobj);
    dry_run_next(r);
}

/* ---- S_STORE ---- */

static void secret_name(char *buf, size_t size, const char *name, int64_t generation);

static void on_pruned(struct p4_kube_result *res, void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);

    if (r == NULL)
        return;
    if (res->rc != 0 && res->rc != P4_ERR_NOTFOUND)
        p4_log(P4_LOG_WARN, "cannot delete an old rendered manifest", "key", r->base.key, "error",
               res->err.message, P4_LOG_END);
    p4_stagerun_part_done(&r->base, S_DONE);
}

/* An old manifest Secret, read by name: deleted if this resource owns it (and only that one). */
static void on_old_manifest(struct p4_kube_result *res, void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);
    const char *name, *uid;
    char path[1024], body[256];

    if (r == NULL)
        return;
    name = p4_json_str(res->body, "metadata.name");
    uid = p4_json_str(res->body, "metadata.uid");
    if (res->rc == 0 && name && uid && p4_owned_by(res->body, r->base.uid) &&
        strlen(uid) < sizeof(body) - 64) {
        p4_core_path(path, sizeof(path), r->base.ns, "secrets", name);
        (void)snprintf(body, sizeof(body),
                       "{\"kind\":\"DeleteOptions\",\"apiVersion\":\"v1\","
                       "\"preconditions\":{\"uid\":\"%s\"}}",
                       uid);
        r->base.inflight++;
        r->base.pending++;
        if (p4_kube_request(stage_of(r)->cfg.kube, "DELETE", path, "application/json", body,
                            strlen(body), on_pruned, r) != 0) {
            r->base.inflight--;
            r->base.pending--;
        }
    } else if (res->rc != 0 && res->rc != P4_ERR_NOTFOUND) {
        p4_log(P4_LOG_WARN, "cannot read an old rendered manifest", "key", r->base.key, "error",
               res->err.message, P4_LOG_END);
    }
    p4_stagerun_part_done(&r->base, S_DONE);
}

/*
 * Keep the P4_MANIFEST_HISTORY newest manifests: the ones of the generations
 * HISTORY to 2*HISTORY-1 back are read by name (secrets are never listed)
 * and deleted when this resource owns them.
 */
static void prune(struct run *r)
{
    char name[SECRET_NAME_MAX + 1], path[1024];

    r->base.pending = 1;
    for (int64_t k = 0; k < P4_MANIFEST_HISTORY; k++) {
        int64_t g = r->base.generation - P4_MANIFEST_HISTORY - k;
        if (g < 1)
            break;
        secret_name(name, sizeof(name), r->base.name, g);
        p4_core_path(path, sizeof(path), r->base.ns, "secrets", name);
        (void)kube_send(r, "GET", path, on_old_manifest);
    }
    p4_stagerun_part_done(&r->base, S_DONE);
}

static void on_stored(const struct p4_apply_result *res, void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);
    struct p4_error e;

    if (r == NULL)
        return;
    if (res->rc != 0) {
        e = res->err;
        p4_stagerun_fail(&r->base, p4_kube_read_class(res->rc), G_DRYRUN,
                         res->rc == P4_ERR_FORBIDDEN ? "Forbidden" : "ManifestNotStored", &e);
        return;
    }
    prune(r);
}

static cJSON *manifest_secret(struct run *r)
{
    cJSON *s = cJSON_CreateObject(), *meta, *labels, *owners, *owner, *data, *ann;
    unsigned char *gz;
    size_t gz_len = 0;
    char *b64, gen[32], chart[400];

    gz = p4_gzip(r->w->manifest ? r->w->manifest : "", r->w->manifest_len, &gz_len);
    if (gz == NULL) {
        cJSON_Delete(s);
        return NULL;
    }
    b64 = p4_malloc(4 * ((gz_len + 2) / 3) + 1);
    (void)EVP_EncodeBlock((unsigned char *)b64, gz, (int)gz_len);
    free(gz);
    cJSON_AddStringToObject(s, "apiVersion", "v1");
    cJSON_AddStringToObject(s, "kind", "Secret");
    meta = cJSON_AddObjectToObject(s, "metadata");
    cJSON_AddStringToObject(meta, "name", r->secret);
    cJSON_AddStringToObject(meta, "namespace", r->base.ns);
    labels = cJSON_AddObjectToObject(meta, "labels");
    cJSON_AddStringToObject(labels, "app.kubernetes.io/managed-by", "phase4-operator");
    cJSON_AddStringToObject(labels, "phase4.io/name", r->base.name);
    (void)snprintf(gen, sizeof(gen), "%" PRId64, r->base.generation);
    cJSON_AddStringToObject(labels, "phase4.io/generation", gen);
    cJSON_AddStringToObject(labels, "phase4.io/purpose", "manifest");
    ann = cJSON_AddObjectToObject(meta, "annotations");
    (void)snprintf(chart, sizeof(chart), "%s %s %s", p4_json_str(r->chart, "name"), r->version,
                   r->digest);
    cJSON_AddStringToObject(ann, "phase4.io/chart", chart);
    cJSON_AddStringToObject(ann, "phase4.io/image", r->image_digest);
    owners = cJSON_AddArrayToObject(meta, "ownerReferences");
    owner = cJSON_CreateObject();
    cJSON_AddStringToObject(owner, "apiVersion", "phase4.io/v1alpha1");
    cJSON_AddStringToObject(owner, "kind", "Phase4Deployment");
    cJSON_AddStringToObject(owner, "name", r->base.name);
    cJSON_AddStringToObject(owner, "uid", r->base.uid);
    cJSON_AddBoolToObject(owner, "controller", 1);
    cJSON_AddBoolToObject(owner, "blockOwnerDeletion", 1);
    cJSON_AddItemToArray(owners, owner);
    cJSON_AddStringToObject(s, "type", P4_MANIFEST_SECRET_TYPE);
    data = cJSON_AddObjectToObject(s, "data");
    cJSON_AddStringToObject(data, P4_MANIFEST_SECRET_KEY, b64);
    free(b64);
    return s;
}

static void on_existing(struct p4_kube_result *res, void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);
    struct p4_apply_opts opts = {.namespace_ = NULL, .dry_run = false, .force = true};
    cJSON *s;

    if (r == NULL)
        return;
    if (res->rc == 0 && !p4_owned_by(res->body, r->base.uid)) {
        p4_stagerun_failf(
            &r->base, P4_FAIL_CLUSTER, G_DRYRUN, "ManifestSecretConflict",
            "Secret %s/%s exists and is not owned by this Phase4Deployment; the rendered "
            "manifest is not stored over it (delete or rename that Secret)",
            r->base.ns, r->secret);
        return;
    }
    if (res->rc != 0 && res->rc != P4_ERR_NOTFOUND) {
        struct p4_error e = res->err;
        p4_stagerun_fail(&r->base, p4_kube_read_class(res->rc), G_DRYRUN,
                         res->rc == P4_ERR_FORBIDDEN ? "Forbidden" : "APIUnavailable", &e);
        return;
    }
    s = manifest_secret(r);
    if (s == NULL) {
        p4_stagerun_failf(&r->base, P4_FAIL_TRANSIENT, G_DRYRUN, "ManifestNotStored",
                          "cannot compress the rendered manifest");
        return;
    }
    opts.namespace_ = r->base.ns;
    r->base.inflight++;
    if (p4_apply_object(stage_of(r)->cfg.kube, stage_of(r)->cfg.discovery, s, &opts, on_stored,
                        r) != 0) {
        r->base.inflight--;
        p4_stagerun_failf(&r->base, P4_FAIL_CLUSTER, G_DRYRUN, "ManifestNotStored",
                          "cannot store the rendered manifest in Secret %s/%s", r->base.ns, r->secret);
    }
    cJSON_Delete(s);
}

static void store(struct run *r)
{
    char path[1024];

    r->base.pending = 0;
    p4_core_path(path, sizeof(path), r->base.ns, "secrets", r->secret);
    if (kube_send(r, "GET", path, on_existing) != 0)
        p4_stagerun_failf(&r->base, P4_FAIL_TRANSIENT, G_DRYRUN, "APIUnavailable",
                          "cannot ask the API server for Secret %s/%s", r->base.ns, r->secret);
}

/* ---- driving a run ---- */

static void passed(struct run *r)
{
    p4_stagerun_passed(&r->base, "ChartReady",
                       "chart %s %s (%s) rendered %d object(s) with image %s@%s; the server-side "
                       "dry run passed and the manifest is kept in Secret %s",
                       p4_json_str(r->chart, "name"), r->version, r->digest, r->nobjects,
                       r->image_repo, r->image_digest, r->secret);
    /* Nothing runs again for this generation: the spec copy (values and all) can go. */
    cJSON_Delete(r->chart);
    r->chart = NULL;
}

static void run_step(struct p4_stagerun *base)
{
    struct run *r = (struct run *)base;

    switch (r->base.step) {
    case S_READ:
        read_sources(r);
        break;
    case S_FETCH:
        fetch(r);
        break;
    case S_LINT:
        lint(r);
        break;
    case S_TEMPLATE:
        render(r);
        break;
    case S_DRYRUN:
        dry_run(r);
        break;
    case S_STORE:
        store(r);
        break;
    case S_DONE:
        passed(r);
        break;
    }
}

/* Begin an attempt: read everything again (a Secret or ConfigMap may have been fixed). */
static void begin(struct p4_stagerun *base, bool retry)
{
    struct run *r = (struct run *)base;
    struct work *w;
    const cJSON *it;

    (void)retry;
    r->w = w = p4_calloc(1, sizeof(*w));
    cJSON_ArrayForEach(it, p4_json_get(r->chart, "valuesFrom")) {
        const char *kind = p4_json_str(it, "kind"), *name = p4_json_str(it, "name");
        const char *key = p4_json_str(it, "valuesKey"), *tp = p4_json_str(it, "targetPath");
        bool optional = false;
        if (w->nsrc >= SOURCES_MAX || kind == NULL || name == NULL)
            continue;
        (void)p4_json_bool(it, "optional", &optional);
        w->src[w->nsrc] = (struct source){
            .kind = strcmp(kind, "Secret") == 0 ? "Secret" : "ConfigMap",
            .name = p4_strdup(name),
            .key = p4_strdup(key && key[0] ? key : P4_VALUES_DEFAULT_KEY),
            .target_path = tp && tp[0] ? p4_strdup(tp) : NULL,
            .optional = optional,
        };
        w->nsrc++;
    }
    r->base.step = S_READ;
    run_step(&r->base);
}

static void end_work(struct p4_stagerun *base)
{
    struct run *r = (struct run *)base;

    free_work(r->w);
    r->w = NULL;
}

/* A dropped run's helm is killed (its callback comes now and finds the run gone). */
static void cancel(struct p4_stagerun *base)
{
    struct run *r = (struct run *)base;

    if (r->w && r->w->helm)
        p4_helmrun_cancel(r->w->helm);
}

static void destroy(struct p4_stagerun *base)
{
    struct run *r = (struct run *)base;

    cJSON_Delete(r->chart);
    free(r->image_repo);
    free(r);
}

/* "phase4.<name>.v<generation>", shortened with a hash of the name past 253 characters. */
static void secret_name(char *buf, size_t size, const char *name, int64_t generation)
{
    char suffix[40];
    size_t room;

    (void)snprintf(suffix, sizeof(suffix), ".v%" PRId64, generation);
    room = SECRET_NAME_MAX - strlen("phase4.") - strlen(suffix);
    if (strlen(name) <= room) {
        if (snprintf(buf, size, "phase4.%s%s", name, suffix) >= (int)size)
            buf[0] = '\0'; /* cannot happen: room is counted */
    } else {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int mdlen = 0;
        (void)EVP_Digest(name, strlen(name), md, &mdlen, EVP_sha256(), NULL);
        (void)snprintf(buf, size, "phase4.%.*s-%02x%02x%02x%02x%02x%s", (int)(room - 11), name,
                       md[0], md[1], md[2], md[3], md[4], suffix);
    }
}

/* ---- stage.h operations ---- */

static int start(void *ctx, const char *key, const cJSON *obj, struct p4_error *err)
{
    struct p4_helm_stage *h = ctx;
    const char *ns = p4_json_str(obj, "metadata.namespace");
    const char *name = p4_json_str(obj, "metadata.name");
    const char *target = p4_json_str(obj, "spec.target.namespace");
    const char *repo = p4_json_str(obj, "spec.image.repository");
    const char *digest = p4_json_str(obj, "status.image.digest");
    struct run *r;

    if (p4_stagerunner_current(&h->sr, key, obj))
        return 0;
    if (ns == NULL || name == NULL || target == NULL || repo == NULL || digest == NULL ||
        p4_json_get(obj, "spec.chart") == NULL)
        return p4_error_set(err, P4_ERR_INVAL,
                            "the Helm stage needs spec.chart, spec.target.namespace, "
                            "spec.image.repository and status.image.digest");
    r = p4_calloc(1, sizeof(*r));
    r->image_repo = p4_strdup(repo);
    (void)snprintf(r->image_digest, sizeof(r->image_digest), "%s", digest);
    r->chart = p4_json_need(cJSON_Duplicate(p4_json_get(obj, "spec.chart"), 1));
    (void)p4_json_bool(obj, "spec.rollout.force", &r->force);
    (void)p4_json_bool(obj, "spec.target.createNamespace", &r->create_namespace);
    p4_stagerun_add_for(&h->sr, &r->base, key, obj); /* begins on the next turn */
    secret_name(r->secret, sizeof(r->secret), name, r->base.generation);
    return 0;
}

static int poll_run(void *ctx, const char *key, const cJSON *obj)
{
    (void)ctx;
    (void)key;
    (void)obj;
    return 0;
}

/* status.chart: the version and digest fetched; the manifest Secret once it is stored. */
static cJSON *status_of(const struct p4_stagerun *base)
{
    const struct run *r = (const struct run *)base;
    cJSON *st, *chart;

    if (r->version[0] == '\0')
        return NULL;
    st = cJSON_CreateObject();
    chart = cJSON_AddObjectToObject(st, "chart");
    cJSON_AddStringToObject(chart, "version", r->version);
    cJSON_AddStringToObject(chart, "digest", r->digest);
    if (r->base.state == P4_STAGE_PASSED)
        cJSON_AddStringToObject(chart, "manifest", r->secret);
    return st;
}

static void metrics(void *ctx, struct p4_buf *out)
{
    const struct p4_helm_stage *h = ctx;

    p4_stagerunner_metrics(&h->sr, "checks", out);
}

static const struct p4_stagerun_ops run_ops = {
    .begin = begin, .step = run_step, .end_work = end_work, .destroy = destroy, .status = status_of, .cancel = cancel};

const struct p4_stage_ops p4_helm_stage_ops = {
    .name = "Helm",
    .condition = "HelmReady",
    .start = start,
    .poll = poll_run,
    .result = p4_stagerunner_result_op,
    .forget = p4_stagerunner_forget_op,
    .metrics = metrics,
};

static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = p4_malloc(n);

    (void)snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static int make_dir(const char *path, struct p4_error *err)
{
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return p4_error_set(err, P4_ERR_IO, "cannot create %s: %s", path, strerror(errno));
    return 0;
}

struct p4_helm_stage *p4_helm_stage_new(uv_loop_t *loop, const struct p4_helm_stage_config *cfg,
                                        struct p4_error *err)
{
    struct p4_helm_stage *h = p4_calloc(1, sizeof(*h));

    h->cfg = *cfg;
    h->helm = p4_strdup(cfg->helm ? cfg->helm : "helm");
    h->work_dir = p4_strdup(cfg->work_dir ? cfg->work_dir : "/tmp/phase4-operator/helm");
    h->cfg.helm = h->helm;
    h->cfg.work_dir = h->work_dir;
    h->home = join(h->work_dir, "home");
    h->cache_home = join(h->work_dir, "cache");
    h->config_home = join(h->work_dir, "config");
    h->data_home = join(h->work_dir, "data");
    if (h->cfg.helm_timeout_ms == 0)
        h->cfg.helm_timeout_ms = P4_HELMRUN_TIMEOUT_MS;
    h->sr = (struct p4_stagerunner){.loop = loop,
                                    .ops = &run_ops,
                                    .stage = "Helm",
                                    .gate_names = gate_names,
                                    .ngates = G_COUNT,
                                    .retry_ms = cfg->retry_ms,
                                    .recheck_ms = cfg->recheck_ms,
                                    .transient_max_ms = cfg->transient_max_ms,
                                    .max_active = cfg->max_active > 0 ? cfg->max_active : 4,
                                    /* A repository outage must not hold the few helm slots. */
                                    .transient_restarts = true,
                                    .changed = cfg->changed,
                                    .data = cfg->data};
    p4_stagerunner_init(&h->sr);
    if (make_dir(h->work_dir, err) != 0 || make_dir(h->home, err) != 0 ||
        make_dir(h->cache_home, err) != 0 || make_dir(h->config_home, err) != 0 ||
        make_dir(h->data_home, err) != 0) {
        p4_helm_stage_free(h);
        return NULL;
    }
    return h;
}

void p4_helm_stage_free(struct p4_helm_stage *h)
{
    if (h == NULL)
        return;
    p4_stagerunner_close(&h->sr);
    free(h->helm);
    free(h->work_dir);
    free(h->home);
    free(h->cache_home);
    free(h->config_home);
    free(h->data_home);
    free(h);
}

