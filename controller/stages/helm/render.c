/*
 * stages/helm/render.c: steps S_FETCH, S_LINT, S_TEMPLATE and S_PIN of the Helm stage. The
 * chart is fetched (chartfetch.h; gate Packaged), the values composed (values.h), `helm lint
 * --strict` run with them (gates Lints and ValuesValid), then `helm template` with the
 * cluster's version and API versions, and the checked image written into what it rendered
 * (pin.h; gate ImagePinned): that manifest, with the other images pinned by S_IMAGES (images.c),
 * is what S_DRYRUN checks and S_STORE keeps. A failed
 * helm run is classified by helmout.h into the gate, failure class and reason it stands for.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/core/alloc.h"
#include "phase4/core/buf.h"
#include "phase4/core/json.h"
#include "phase4/core/redact.h"
#include "phase4/core/text.h"
#include "phase4/core/url.h"
#include "phase4/oci/imageref.h"
#include "pin.h"
#include "steps.h"
#include "values.h"

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
    case P4_ERR_INSECURE:
        return P4_FAIL_CLUSTER;
    default:
        return P4_FAIL_TRANSIENT;
    }
}

struct failure p4_helm_fetch_failure(int rc, const char *reason)
{
    return (struct failure){
        .cls = fetch_class(rc), .gate = G_PACKAGED, .reason = reason ? reason : p4_err_reason(rc)};
}

void p4_helm_chart_request(const cJSON *chart, const struct work *w, struct p4_chart_request *req,
                           struct p4_regauth_entry *cred, char *host, size_t host_size)
{
    bool insecure = false;

    *req = (struct p4_chart_request){0};
    *cred = (struct p4_regauth_entry){0};
    req->repository = p4_json_str(chart, "repository");
    req->name = p4_json_str(chart, "name");
    req->version = p4_json_str(chart, "version");
    req->ca_pem = w->ca;
    req->ca_len = w->ca_len;
    (void)p4_json_bool(chart, "insecure", &insecure);
    req->insecure_http = insecure;
    if (req->repository && strncmp(req->repository, "oci://", 6) == 0) {
        if (w->username) {
            (void)snprintf(host, host_size, "%.*s", (int)strcspn(req->repository + 6, "/"),
                           req->repository + 6);
            cred->registry = cred->host = cred->normalized = host;
            cred->path = (char *)"";
            cred->username = w->username;
            cred->password = w->password;
            req->cred = cred;
        }
    } else {
        req->username = w->username;
        req->password = w->password;
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
        struct failure f = p4_helm_fetch_failure(res->rc, e.reason);
        if (e.code == 0)
            e.code = res->rc;
        p4_stagerun_fail(&r->base, f.cls, f.gate, f.reason, &e);
        return;
    }
    (void)snprintf(r->version, sizeof(r->version), "%s", res->version);
    (void)snprintf(r->digest, sizeof(r->digest), "%s", res->digest);
    (void)snprintf(r->w->chart_path, sizeof(r->w->chart_path), "%s", res->path);
    p4_stagerun_gate(&r->base, G_PACKAGED, "True", "ChartFetched", "chart %s %s (%s) from %s", name,
                     res->version, res->digest, repo);
    p4_stagerun_next(&r->base, S_LINT);
}

struct failure p4_helm_fetch_refused(int rc, const char *repository, char *msg, size_t size)
{
    char shown[600];

    p4_url_display(repository, shown, sizeof(shown));
    if (rc == P4_ERR_INSECURE) {
        p4_text_format(msg, size,
                       "the credentials of spec.chart.secretRef would go to %s over plain HTTP: "
                       "use an https:// repository, or set spec.chart.insecure: true for one on a "
                       "network you trust",
                       shown);
        return (struct failure){
            .cls = P4_FAIL_CLUSTER, .gate = G_PACKAGED, .reason = "InsecureCredentials"};
    }
    if (p4_url_has_userinfo(repository))
        p4_text_format(msg, size,
                       "spec.chart.repository %s has credentials in it: put them in a Secret "
                       "(username and password) named by spec.chart.secretRef",
                       shown);
    else
        p4_text_format(msg, size,
                       "spec.chart.repository %s is not a chart repository URL (https://, "
                       "http:// or oci://)",
                       shown);
    return (struct failure){
        .cls = P4_FAIL_CLUSTER, .gate = G_PACKAGED, .reason = "InvalidChartRepository"};
}

void p4_helm_fetch(struct run *r)
{
    struct p4_chart_request req;
    struct p4_regauth_entry cred;
    char host[256], shown[600];
    int rc;

    p4_helm_chart_request(r->chart, r->w, &req, &cred, host, sizeof(host));
    p4_url_display(req.repository, shown, sizeof(shown));
    p4_stagerun_gate(&r->base, G_PACKAGED, "Unknown", "Fetching", "fetching chart %s %s from %s",
                     req.name ? req.name : "", req.version ? req.version : "", shown);
    r->base.inflight++;
    rc = p4_chartfetch_get(stage_of(r)->cfg.charts, &req, on_fetched, r);
    if (rc != 0) {
        char msg[P4_ERROR_MESSAGE_MAX];
        struct failure f = p4_helm_fetch_refused(rc, req.repository, msg, sizeof(msg));

        r->base.inflight--;
        r->base.no_recheck = true; /* nothing was sent: only the spec can change this */
        p4_stagerun_failf(&r->base, f.cls, f.gate, f.reason, "%s", msg);
    }
}

/* ---- S_LINT, S_TEMPLATE: helm ---- */

/* Set path of values to the string v (copied); 0 or -1 with err. */
static int set_string(cJSON *values, const char *path, const char *v, struct p4_error *err)
{
    return p4_values_set_path(values, path, p4_json_need(cJSON_CreateString(v)), err);
}

/* The checked image set in values where pin says the chart reads it. */
static int set_image(cJSON *values, const struct image_pin *pin, struct p4_error *err)
{
    const char *reg_path, *repo_path, *tag_path, *digest_path, *repo = pin->repository;
    char host[256];
    size_t hlen;

    if (pin->paths == NULL)
        return set_string(values, "image.repository", repo, err) != 0 ||
                       set_string(values, "image.digest", pin->digest, err) != 0
                   ? -1
                   : 0;
    reg_path = p4_json_str(pin->paths, "registry");
    repo_path = p4_json_str(pin->paths, "repository");
    tag_path = p4_json_str(pin->paths, "tag");
    digest_path = p4_json_str(pin->paths, "digest");
    if (reg_path != NULL && reg_path[0] != '\0') {
        hlen = p4_image_ref_domain_len(repo);
        p4_text_format(host, sizeof(host), "%.*s", (int)hlen, repo);
        if (set_string(values, reg_path, hlen ? host : "docker.io", err) != 0)
            return -1;
        repo += hlen ? hlen + 1 : 0;
    }
    if (repo_path != NULL && repo_path[0] != '\0' && set_string(values, repo_path, repo, err) != 0)
        return -1;
    if (tag_path != NULL && tag_path[0] != '\0' && pin->tag != NULL &&
        set_string(values, tag_path, pin->tag, err) != 0)
        return -1;
    if (digest_path != NULL && digest_path[0] != '\0' &&
        set_string(values, digest_path, pin->digest, err) != 0)
        return -1;
    return 0;
}

char *p4_helm_values(const struct work *w, const char *ns, const cJSON *chart,
                     const struct image_pin *pin, size_t *len, struct failure *f,
                     struct p4_error *err)
{
    struct p4_values_source srcs[SOURCES_MAX];
    char label[SOURCES_MAX][600];
    cJSON *values;
    char *text;

    *f = (struct failure){.cls = P4_FAIL_CLUSTER, .gate = G_VALUES, .reason = NULL};
    *len = 0;
    for (size_t i = 0; i < w->nsrc; i++) {
        (void)snprintf(label[i], sizeof(label[i]), "%s/%s", ns, w->src[i].name);
        srcs[i] = (struct p4_values_source){.kind = w->src[i].kind,
                                            .name = label[i],
                                            .key = w->src[i].key,
                                            .target_path = w->src[i].target_path,
                                            .optional = w->src[i].optional,
                                            .text = w->src[i].text,
                                            .len = w->src[i].len};
    }
    values = p4_values_compose(srcs, w->nsrc, p4_json_get(chart, "values"), err);
    if (values == NULL) {
        f->reason = err->code == P4_ERR_NOTFOUND ? "ValuesSourceNotFound" : "ValuesSourceInvalid";
        return NULL;
    }
    if (set_image(values, pin, err) != 0) {
        p4_json_discard(values);
        f->reason = "ValuesSourceInvalid";
        return NULL;
    }
    text = p4_json_print(values);
    *len = text ? strlen(text) : 0;
    p4_json_discard(values);
    return text;
}

/* The values helm gets: valuesFrom, then spec.chart.values, then the pinned image. */
static int compose_values(struct run *r)
{
    struct work *w = r->w;
    struct p4_error err = {0};
    struct failure f;

    w->values = p4_helm_values(w, r->base.ns, r->chart, &r->pin, &w->values_len, &f, &err);
    if (w->values != NULL)
        return 0;
    if (f.reason != NULL)
        p4_stagerun_fail(&r->base, f.cls, f.gate, f.reason, &err); /* frees w */
    return -1;
}

/* Which gate a helm failure belongs to. */
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

struct failure p4_helm_reason_failure(enum p4_helm_reason why, enum gate own)
{
    return (struct failure){
        .cls = helm_class(why), .gate = helm_gate(why, own), .reason = p4_helm_reason_name(why)};
}

struct failure p4_helm_run_failure(const char *command, enum gate own,
                                   const struct p4_childproc_result *res, char *msg, size_t size)
{
    enum p4_helm_reason why = p4_helm_classify_run(command, res, msg, size);

    if (why == P4_HELM_OK) { /* it failed all the same (the caller saw it) */
        why = P4_HELM_FAILED;
        (void)snprintf(msg, size, "helm %s failed", command);
    }
    return p4_helm_reason_failure(why, own);
}

unsigned p4_helm_not_checked(enum gate failed, const struct p4_gate *gates)
{
    unsigned set = 0;

    for (int i = G_LINTS; i < G_COUNT; i++) {
        if (i != (int)failed && strcmp(gates[i].status, "True") != 0)
            set |= 1u << i;
    }
    return set;
}

bool p4_helm_run_failed(const struct p4_childproc_result *res, bool whole_output)
{
    return res->timed_out || res->term_signal != 0 || res->exit_status != 0 ||
           (whole_output && res->out_truncated);
}

/*
 * A copy of what helm wrote (res) with the attempt's Secret values redacted (redact.h) before
 * anything reads it, so no quote, join or cut of helm's lines can show a part of one. The
 * copies in *out are the caller's to release with helm_output_close.
 */
static void helm_output_redacted(const struct p4_redact *set, const struct p4_childproc_result *res,
                                 struct p4_childproc_result *out)
{
    char *o = p4_malloc(res->out_len + 1), *e = p4_malloc(res->err_len + 1);

    *out = *res;
    memcpy(o, res->out, res->out_len);
    memcpy(e, res->err, res->err_len);
    out->out_len = p4_redact_buf(set, o, res->out_len, res->out_truncated ? P4_REDACT_CUT : 0);
    out->err_len = p4_redact_buf(set, e, res->err_len, res->err_truncated ? P4_REDACT_CUT : 0);
    o[out->out_len] = '\0';
    e[out->err_len] = '\0';
    out->out = o;
    out->err = e;
}

static void helm_output_close(struct p4_childproc_result *out, size_t out_size, size_t err_size)
{
    p4_wipe_free((char *)out->out, out_size);
    p4_wipe_free((char *)out->err, err_size);
}

/* helm stopped at failure f (message msg) in command: its gate is False, the gates it did not
   reach are not checked. */
static void fail_at(struct run *r, const char *command, const struct failure *f, const char *msg)
{
    struct p4_error e = {.code = P4_ERR_INVALID};
    unsigned not_checked = p4_helm_not_checked(f->gate, r->base.gates);

    (void)snprintf(e.message, sizeof(e.message), "%s", msg);
    for (int i = G_LINTS; i < G_COUNT; i++) {
        if (not_checked & (1u << i))
            p4_stagerun_gate(&r->base, i, "Unknown", "NotChecked",
                             "not checked: helm %s stopped at %s", command, f->reason);
    }
    p4_stagerun_fail(&r->base, f->cls, f->gate, f->reason, &e);
}

/* What a failed helm run (raw) means: its failure, and the message in msg (size bytes) from
   its output with the attempt's Secret values redacted first. */
static struct failure helm_failure(struct run *r, const char *command, enum gate own,
                                   const struct p4_childproc_result *raw, char *msg, size_t size)
{
    struct p4_childproc_result red;
    struct failure f;

    helm_output_redacted(r->base.redact, raw, &red);
    f = p4_helm_run_failure(command, own, &red, msg, size);
    helm_output_close(&red, raw->out_len + 1, raw->err_len + 1);
    return f;
}

/* ---- helm processes: at most h->helm_limit at once; runs wait in line for one ---- */

static void launch(struct run *r);

/* Runs waiting in line start helm while processes are free (none once the stage closes). */
static void wake_helm(struct p4_helm_stage *h)
{
    while (!h->closing && h->hq_head != NULL && h->helm_running < h->helm_limit) {
        struct run *r = h->hq_head;

        p4_helm_unqueue(r);
        launch(r);
    }
}

void p4_helm_unqueue(struct run *r)
{
    struct p4_helm_stage *h = r->h;

    if (!r->hq_waiting)
        return;
    if (r->hq_prev)
        r->hq_prev->hq_next = r->hq_next;
    else
        h->hq_head = r->hq_next;
    if (r->hq_next)
        r->hq_next->hq_prev = r->hq_prev;
    else
        h->hq_tail = r->hq_prev;
    r->hq_prev = r->hq_next = NULL;
    r->hq_waiting = false;
    h->helm_waiting--;
}

/* A helm process of run (which may be gone: its memory lasts until this answer is taken) ended:
   its place goes to the next in line. */
static void helm_ended(void *data)
{
    struct p4_helm_stage *h = ((struct run *)data)->h;

    h->helm_running--;
    wake_helm(h);
}

/* ---- S_LINT: helm lint --strict, or its outcome for the same inputs reused ---- */

#define REUSED                                                                                     \
    " (the result of an earlier helm lint of the same chart digest, values and options, reused)"
#define REUSED_ANY_NS                                                                              \
    " (the result of an earlier helm lint of the same chart digest, values and options, reused; "  \
    "in this or another release namespace)"

static void lint_passed(struct run *r, bool reused)
{
    p4_stagerun_gate(&r->base, G_LINTS, "True", "LintPassed",
                     "helm lint --strict found no problem in chart %s %s%s",
                     p4_json_str(r->chart, "name"), r->version, reused ? REUSED_ANY_NS : "");
    p4_stagerun_gate(
        &r->base, G_VALUES, "True", "ValuesValid",
        "helm accepted the values (checked against the chart's values.schema.json when it "
        "has one)");
    p4_stagerun_next(&r->base, S_TEMPLATE);
}

/*
 * Whether a failed lint (res, failure f) is the same for the same inputs: what helm found in
 * the chart and values, not a time limit, a signal or an unclassified failure; and only when
 * the attempt read no Secret value (its message was redacted with nothing, so it shows no
 * other run a value that run would redact).
 */
static bool lint_failure_kept(const struct run *r, const struct p4_childproc_result *res,
                              const struct failure *f)
{
    return f->cls == P4_FAIL_ARTIFACT && !res->timed_out && res->term_signal == 0 &&
           strcmp(f->reason, p4_helm_reason_name(P4_HELM_FAILED)) != 0 &&
           p4_redact_count(r->base.redact) == 0;
}

static void on_lint(int rc, const struct p4_childproc_result *res, const struct p4_error *err,
                    void *data)
{
    struct run *r;
    char msg[P4_ERROR_MESSAGE_MAX];
    struct failure f;

    (void)err;
    helm_ended(data);
    r = (struct run *)p4_stagerun_back(data);
    if (r == NULL)
        return;
    r->w->helm = NULL;
    if (rc != 0)
        return;
    if (!p4_helm_run_failed(res, false)) {
        p4_lintcache_put(&r->h->lint, &r->w->lint_key, &(struct p4_lint_outcome){.passed = true});
        lint_passed(r, false);
        return;
    }
    f = helm_failure(r, "lint", G_LINTS, res, msg, sizeof(msg));
    if (lint_failure_kept(r, res, &f))
        p4_lintcache_put(&r->h->lint, &r->w->lint_fail_key,
                         &(struct p4_lint_outcome){
                             .cls = f.cls, .gate = f.gate, .reason = f.reason, .message = msg});
    fail_at(r, "lint", &f, msg);
}

/* The outcome kept for the attempt's lint key, when it may stand for a lint of this run: a pass
   always, a failure only when the attempt read no Secret value (see lint_failure_kept). */
static bool lint_reused(struct run *r)
{
    struct p4_helm_stage *h = r->h;
    const struct p4_lint_outcome *o = p4_lintcache_get(&h->lint, &r->w->lint_key);
    char msg[P4_ERROR_MESSAGE_MAX];
    struct failure f;

    if (o == NULL || !o->passed) /* a pass for any namespace, or a failure for this one */
        o = p4_lintcache_get(&h->lint, &r->w->lint_fail_key);
    if (o == NULL || (!o->passed && p4_redact_count(r->base.redact) != 0))
        return false;
    h->lint.hits++;
    if (o->passed) {
        lint_passed(r, true);
        return true;
    }
    f = (struct failure){
        .cls = (enum p4_failure_class)o->cls, .gate = (enum gate)o->gate, .reason = o->reason};
    (void)snprintf(msg, sizeof(msg), "%.*s%s", (int)(sizeof(msg) - sizeof(REUSED)),
                   o->message ? o->message : "", REUSED);
    fail_at(r, "lint", &f, msg);
    return true;
}

static void on_template(int rc, const struct p4_childproc_result *res, const struct p4_error *err,
                        void *data)
{
    struct run *r;

    (void)err;
    helm_ended(data);
    r = (struct run *)p4_stagerun_back(data);
    if (r == NULL)
        return;
    r->w->helm = NULL;
    if (rc != 0)
        return;
    if (p4_helm_run_failed(res, true)) {
        char msg[P4_ERROR_MESSAGE_MAX];
        struct failure f = helm_failure(r, "template", G_DRYRUN, res, msg, sizeof(msg));
        fail_at(r, "template", &f, msg);
        return;
    }
    free(r->w->manifest);
    r->w->manifest = p4_strndup(res->out, res->out_len);
    r->w->manifest_len = res->out_len;
    p4_stagerun_next(&r->base, S_PIN);
}

/* Start helm command (argv) for r now: a process is free for it. */
static void start_helm(struct run *r, const char *command, const char *const *argv,
                       p4_helmrun_cb cb, enum gate g)
{
    struct p4_helm_stage *h = r->h;
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
        return;
    }
    h->helm_running++;
}

/* Start the helm command of r's step (S_LINT or S_TEMPLATE). */
static void launch(struct run *r)
{
    const char *argv[HELM_ARGV_MAX];

    if (r->base.step == S_LINT) {
        p4_helm_lint_argv(r, argv);
        start_helm(r, "lint", argv, on_lint, G_LINTS);
    } else {
        p4_helm_template_argv(r, argv);
        start_helm(r, "template", argv, on_template, G_DRYRUN);
    }
}

/* helm command of r's step, now when a process is free and none waits, else in line. */
static void run_helm(struct run *r, const char *command, enum gate g)
{
    struct p4_helm_stage *h = r->h;

    if (h->helm_running < h->helm_limit && h->hq_head == NULL) {
        launch(r);
        return;
    }
    p4_stagerun_gate(&r->base, g, "Unknown", "Checking",
                     "waiting to run helm %s: %d helm process(es) run at once "
                     "(--helm-concurrency)",
                     command, h->helm_limit);
    r->hq_waiting = true;
    r->hq_next = NULL;
    r->hq_prev = h->hq_tail;
    if (h->hq_tail)
        h->hq_tail->hq_next = r;
    else
        h->hq_head = r;
    h->hq_tail = r;
    h->helm_waiting++;
}

void p4_helm_lint_argv(const struct run *r, const char **argv)
{
    int n = 0;

    argv[n++] = "lint";
    argv[n++] = r->w->chart_path;
    argv[n++] = "--strict";
    argv[n++] = "--values";
    argv[n++] = "-";
    argv[n++] = "--namespace";
    argv[n++] = r->base.target_ns;
    if (r->w->kube_version[0]) {
        argv[n++] = "--kube-version";
        argv[n++] = r->w->kube_version;
    }
    argv[n] = NULL;
}

void p4_helm_template_argv(const struct run *r, const char **argv)
{
    int n = 0;

    argv[n++] = "template";
    argv[n++] = r->base.name;
    argv[n++] = r->w->chart_path;
    argv[n++] = "--values";
    argv[n++] = "-";
    argv[n++] = "--namespace";
    argv[n++] = r->base.target_ns;
    argv[n++] = "--include-crds";
    if (!r->helm_tests)
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
}

void p4_helm_lint(struct run *r)
{
    const char *argv[HELM_ARGV_MAX];

    if (r->w->values == NULL && compose_values(r) != 0)
        return;
    /* Keyed by everything lint is given (lintcache.h): the chart by its digest. */
    p4_helm_lint_argv(r, argv);
    p4_lintcache_key(argv, r->w->chart_path, r->digest, r->w->values, r->w->values_len, false,
                     &r->w->lint_key);
    p4_lintcache_key(argv, r->w->chart_path, r->digest, r->w->values, r->w->values_len, true,
                     &r->w->lint_fail_key);
    if (lint_reused(r))
        return;
    r->h->lint.misses++;
    run_helm(r, "lint", G_LINTS);
}

void p4_helm_template(struct run *r)
{
    run_helm(r, "template", G_DRYRUN);
}

/* ---- S_PIN ---- */

/* One JSON document per object (JSON is YAML). */
char *p4_helm_print_manifest(const cJSON *objects, size_t *len)
{
    struct p4_buf b = {0};
    const cJSON *o;

    p4_buf_append(&b, "", 0);
    cJSON_ArrayForEach(o, objects) {
        char *doc = cJSON_PrintUnformatted(o);
        if (doc == NULL) {
            free(b.data);
            return NULL;
        }
        p4_buf_printf(&b, "---\n%s\n", doc);
        free(doc);
    }
    *len = b.len;
    return b.data;
}

char *p4_helm_pin_manifest(const char *manifest, size_t len, const struct image_pin *pin,
                           cJSON **objects, size_t *out_len, char *msg, size_t size,
                           struct failure *f)
{
    struct p4_pin_report rep;
    struct p4_error err = {0};
    char *text = NULL;
    bool ok;

    *out_len = 0;
    *f = (struct failure){.cls = P4_FAIL_ARTIFACT, .gate = G_DRYRUN, .reason = NULL};
    *objects = p4_manifest_split(manifest ? manifest : "", len, &err);
    if (*objects == NULL) {
        f->reason = "TemplateRenderFailed";
        p4_text_format(msg, size, "%s", err.message);
        return NULL;
    }
    if (p4_pin_rewrite(*objects, pin->repository, pin->digest, &rep, &err) != 0) {
        *f = (struct failure){.cls = P4_FAIL_ARTIFACT, .gate = G_PINNED, .reason = "InvalidImage"};
        p4_text_format(msg, size, "%s", err.message);
    } else {
        ok = p4_pin_message(&rep, pin->repository, pin->digest, msg, size);
        p4_pin_report_close(&rep);
        if (!ok)
            *f = (struct failure){
                .cls = P4_FAIL_ARTIFACT, .gate = G_PINNED, .reason = "ImageNotReferenced"};
        else if ((text = p4_helm_print_manifest(*objects, out_len)) == NULL)
            *f = (struct failure){
                .cls = P4_FAIL_TRANSIENT, .gate = G_PINNED, .reason = "ManifestNotStored"};
    }
    if (text == NULL) {
        cJSON_Delete(*objects);
        *objects = NULL;
        if (f->reason != NULL && strcmp(f->reason, "ManifestNotStored") == 0)
            p4_text_format(msg, size, "cannot print the pinned manifest");
    }
    return text;
}

void p4_helm_pin(struct run *r)
{
    struct work *w = r->w;
    char msg[P4_ERROR_MESSAGE_MAX];
    struct failure f;
    size_t len = 0;
    char *text;

    cJSON_Delete(w->objects);
    text = p4_helm_pin_manifest(w->manifest, w->manifest_len, &r->pin, &w->objects, &len, msg,
                                sizeof(msg), &f);
    if (text == NULL) {
        p4_stagerun_failf(&r->base, f.cls, f.gate, f.reason, "%s", msg);
        return;
    }
    free(w->manifest);
    w->manifest = text;
    w->manifest_len = len;
    p4_stagerun_gate(&r->base, G_PINNED, "True", "ImagePinned", "%s", msg);
    p4_stagerun_next(&r->base, S_IMAGES);
}
