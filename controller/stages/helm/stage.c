/*
 * stages/helm/stage.c: stage 2, Helm (see phase4/stages/helm/stage.h): the stage.h operations,
 * the stage's lifetime, and the driving of a run through its steps (steps.h), each of which
 * lives in a file of its own.
 */
#include "phase4/stages/helm/stage.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "phase4/core/alloc.h"
#include "phase4/core/buf.h"
#include "phase4/core/json.h"
#include "phase4/core/text.h"
#include "phase4/reconciler/approval.h"
#include "phase4/scan/scanreport.h"
#include "steps.h"
#include "values.h"

static const char *const gate_names[G_COUNT] = {"Packaged",    "Lints",          "ValuesValid",
                                                "ImagePinned", "ImagesPullable", "DryRun"};

/* ---- an attempt's work ---- */

struct work *p4_helm_work_new(const cJSON *chart)
{
    struct work *w = p4_calloc(1, sizeof(*w));
    const cJSON *it;

    cJSON_ArrayForEach(it, p4_json_get(chart, "valuesFrom")) {
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
    return w;
}

void p4_helm_work_free(struct work *w)
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
    free(w->gz);
    cJSON_Delete(w->objects);
    p4_helm_image_work_free(w->iw);
    p4_plan_close(&w->plan);
    cJSON_Delete(w->answer);
    free(w);
}

/* ---- driving a run ---- */

static void passed(struct run *r)
{
    p4_stagerun_passed(&r->base, "ChartReady",
                       "chart %s %s (%s) rendered %d object(s); %s; %d other image(s) checked "
                       "pullable; the server-side dry run passed and the manifest is kept in "
                       "Secret %s",
                       p4_json_str(r->chart, "name"), r->version, r->digest, r->nobjects,
                       r->base.gates[G_PINNED].message ? r->base.gates[G_PINNED].message : "",
                       r->nimages, r->secret);
    /* Nothing runs again for this generation: the spec copies (values and all) can go. */
    cJSON_Delete(r->chart);
    r->chart = NULL;
    cJSON_Delete(r->image);
    r->image = NULL;
}

static void run_step(struct p4_stagerun *base)
{
    struct run *r = (struct run *)base;

    switch (r->base.step) {
    case S_READ:
        p4_helm_read(r);
        break;
    case S_FETCH:
        p4_helm_fetch(r);
        break;
    case S_LINT:
        p4_helm_lint(r);
        break;
    case S_TEMPLATE:
        p4_helm_template(r);
        break;
    case S_PIN:
        p4_helm_pin(r);
        break;
    case S_IMAGES:
        p4_helm_images(r);
        break;
    case S_IMAGES_CHECK:
        p4_helm_check_images(r);
        break;
    case S_DRYRUN:
        p4_helm_dry_run(r);
        break;
    case S_STORE:
        p4_helm_store(r);
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

    (void)retry;
    r->w = p4_helm_work_new(r->chart);
    r->base.step = S_READ;
    run_step(&r->base);
}

static void end_work(struct p4_stagerun *base)
{
    struct run *r = (struct run *)base;

    p4_helm_unqueue(r); /* its place in line for helm was the attempt's */
    p4_helm_work_free(r->w);
    r->w = NULL;
}

/* A dropped run's helm is killed (its callback comes now and finds the run gone), or its place
   in line for one given up. */
static void cancel(struct p4_stagerun *base)
{
    struct run *r = (struct run *)base;

    p4_helm_unqueue(r);
    if (r->w && r->w->helm)
        p4_helmrun_cancel(r->w->helm);
}

/* Suspended while the attempt waits in line for a helm process: a safe point (the Helm stage
   writes nothing to the cluster before S_STORE), so it stops now and gives up its place. */
static bool stop_now(struct p4_stagerun *base)
{
    struct run *r = (struct run *)base;

    if (!r->hq_waiting)
        return false;
    p4_helm_unqueue(r);
    return true;
}

static void destroy(struct p4_stagerun *base)
{
    struct run *r = (struct run *)base;

    cJSON_Delete(r->chart);
    cJSON_Delete(r->image);
    cJSON_Delete(r->images);
    cJSON_Delete(r->plan);
    cJSON_Delete(r->inventory);
    free(r->pin.repository);
    free(r->pin.tag);
    cJSON_Delete(r->pin.paths);
    free(r);
}

/* ---- stage.h operations ---- */

static int start(void *ctx, const char *key, const cJSON *obj, struct p4_error *err)
{
    struct p4_helm_stage *h = ctx;
    const char *ns = p4_json_str(obj, "metadata.namespace");
    const char *name = p4_json_str(obj, "metadata.name");
    const char *target = p4_tenancy_target(obj);
    const char *repo = p4_json_str(obj, "spec.image.repository");
    const char *digest = p4_json_str(obj, "status.image.digest");
    const char *tag = p4_json_str(obj, "spec.image.tag");
    const cJSON *paths = p4_json_get(obj, "spec.image.valuesPaths");
    struct run *r;

    if (p4_stagerunner_current(&h->sr, key, obj))
        return 0;
    if (ns == NULL || name == NULL || target == NULL || repo == NULL || digest == NULL ||
        p4_json_get(obj, "spec.chart") == NULL)
        return p4_error_set(err, P4_ERR_INVAL,
                            "the Helm stage needs spec.chart, spec.target.namespace, "
                            "spec.image.repository and status.image.digest");
    r = p4_calloc(1, sizeof(*r));
    r->h = h;
    r->pin.repository = p4_strdup(repo);
    r->pin.tag = tag ? p4_strdup(tag) : NULL;
    (void)snprintf(r->pin.digest, sizeof(r->pin.digest), "%s", digest);
    if (cJSON_IsObject(paths))
        r->pin.paths = p4_json_need(cJSON_Duplicate(paths, 1));
    r->chart = p4_json_need(cJSON_Duplicate(p4_json_get(obj, "spec.chart"), 1));
    r->image = p4_json_need(cJSON_Duplicate(p4_json_get(obj, "spec.image"), 1));
    r->pin_all = true; /* the CRD's default, for an object written before the field existed */
    (void)p4_json_bool(obj, "spec.image.pinAll", &r->pin_all);
    (void)p4_json_bool(obj, "spec.validation.helmTests", &r->helm_tests);
    r->scan_all = p4_text_eq(p4_json_str(obj, "spec.image.scan.scope"), "all");
    (void)p4_json_bool(obj, "spec.image.scan.required", &r->scan_required);
    {
        enum p4_severity max = P4_SEV_CRITICAL;
        const char *v = p4_json_str(obj, "spec.image.scan.maxSeverity");
        if (v != NULL)
            (void)p4_severity_parse(v, &max);
        r->scan_max = (int)max;
    }
    (void)p4_json_bool(obj, "spec.rollout.force", &r->force);
    (void)p4_json_bool(obj, "spec.target.createNamespace", &r->create_namespace);
    r->plan_wanted = p4_approval_required(obj);
    if (r->plan_wanted && cJSON_IsArray(p4_json_get(obj, "status.inventory")))
        r->inventory = p4_json_need(cJSON_Duplicate(p4_json_get(obj, "status.inventory"), 1));
    p4_stagerun_add_for(&h->sr, &r->base, key, obj); /* begins on the next turn */
    r->nprune = p4_manifest_prunable(obj, r->base.generation, r->prune);
    p4_helm_secret_name(r->secret, sizeof(r->secret), name, r->base.generation);
    return 0;
}

static int poll_run(void *ctx, const char *key, const cJSON *obj)
{
    (void)ctx;
    (void)key;
    (void)obj;
    return 0;
}

/* status.chart: the version and digest fetched; the manifest Secret once it is stored; and
   status.plan once the stage passed, when the spec asks for approval. */
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
    if (r->base.state == P4_STAGE_PASSED) {
        cJSON_AddStringToObject(chart, "manifest", r->secret);
        if (r->images)
            cJSON_AddItemToObject(chart, "images", p4_json_need(cJSON_Duplicate(r->images, 1)));
        if (r->plan)
            cJSON_AddItemToObject(st, "plan", p4_json_need(cJSON_Duplicate(r->plan, 1)));
    }
    return st;
}

/* The runner's series; the helm processes, their limit and the lint cache; and how often the
 * other images were asked of the registry or the cache. */
static void metrics(void *ctx, struct p4_buf *out)
{
    const struct p4_helm_stage *h = ctx;

    p4_stagerunner_metrics(&h->sr, out);
    p4_buf_printf(out,
                  "# HELP phase4_helm_concurrency_limit helm processes the Helm stage runs at "
                  "once: --helm-concurrency, or the CPUs the process may use.\n"
                  "# TYPE phase4_helm_concurrency_limit gauge\n"
                  "phase4_helm_concurrency_limit %d\n"
                  "# HELP phase4_helm_processes helm processes the Helm stage runs now, and runs "
                  "waiting in line for one.\n"
                  "# TYPE phase4_helm_processes gauge\n"
                  "phase4_helm_processes{state=\"running\"} %d\n"
                  "phase4_helm_processes{state=\"waiting\"} %d\n",
                  h->helm_limit, h->helm_running, h->helm_waiting);
    p4_buf_printf(out,
                  "# HELP phase4_helm_lint_cache_hits_total helm lint outcomes reused for the same "
                  "chart digest, values and options, without running helm.\n"
                  "# TYPE phase4_helm_lint_cache_hits_total counter\n"
                  "phase4_helm_lint_cache_hits_total %" PRIu64 "\n"
                  "# HELP phase4_helm_lint_cache_misses_total helm lint runs the lint cache had no "
                  "outcome for.\n"
                  "# TYPE phase4_helm_lint_cache_misses_total counter\n"
                  "phase4_helm_lint_cache_misses_total %" PRIu64 "\n"
                  "# HELP phase4_helm_lint_cache_entries helm lint outcomes the lint cache holds.\n"
                  "# TYPE phase4_helm_lint_cache_entries gauge\n"
                  "phase4_helm_lint_cache_entries %zu\n",
                  h->lint.hits, h->lint.misses, p4_lintcache_len(&h->lint));
    p4_buf_printf(out,
                  "# HELP phase4_helm_image_checks_total Images other than the pinned one that "
                  "the Helm stage checked in their registry.\n"
                  "# TYPE phase4_helm_image_checks_total counter\n"
                  "phase4_helm_image_checks_total %" PRIu64 "\n"
                  "# HELP phase4_helm_image_cache_hits_total Images other than the pinned one "
                  "found pullable in the Helm stage's cache, without asking the registry.\n"
                  "# TYPE phase4_helm_image_cache_hits_total counter\n"
                  "phase4_helm_image_cache_hits_total %" PRIu64 "\n"
                  "# HELP phase4_helm_image_cache_entries Registry answers the Helm stage's "
                  "image cache holds.\n"
                  "# TYPE phase4_helm_image_cache_entries gauge\n"
                  "phase4_helm_image_cache_entries %zu\n",
                  h->images.checks, h->images.hits, p4_imagecache_len(&h->images));
}

static const struct p4_stagerun_ops run_ops = {.begin = begin,
                                               .step = run_step,
                                               .end_work = end_work,
                                               .destroy = destroy,
                                               .status = status_of,
                                               .cancel = cancel,
                                               .stop_now = stop_now};

const struct p4_stage_ops p4_helm_stage_ops = {
    .name = "Helm",
    .condition = "HelmReady",
    .start = start,
    .poll = poll_run,
    .result = p4_stagerunner_result_op,
    .forget = p4_stagerunner_forget_op,
    .suspend = p4_stagerunner_suspend_op,
    .retry = p4_stagerunner_retry_op,
    .metrics = metrics,
};

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
    if (h->cfg.nodes == NULL)
        h->cfg.nodes = &h->own_nodes;
    h->helm = p4_strdup(cfg->helm ? cfg->helm : "helm");
    h->work_dir = p4_strdup(cfg->work_dir ? cfg->work_dir : "/tmp/phase4-operator/helm");
    h->cfg.helm = h->helm;
    h->cfg.work_dir = h->work_dir;
    h->home = p4_path_join(h->work_dir, "home");
    h->cache_home = p4_path_join(h->work_dir, "cache");
    h->config_home = p4_path_join(h->work_dir, "config");
    h->data_home = p4_path_join(h->work_dir, "data");
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
                                    /* Runs overlap their API reads, fetches, registry checks,
                                       dry runs and stores; only helm processes are limited
                                       (helm_limit). Still bounded: each attempt holds its
                                       values and rendered manifest. */
                                    .max_active =
                                        cfg->max_active > 0 ? cfg->max_active : P4_HELM_STAGE_RUNS,
                                    /* A repository outage must not hold the slots. */
                                    .transient_restarts = true,
                                    .changed = cfg->changed,
                                    .data = cfg->data,
                                    .kube = cfg->kube,
                                    .tenancy = cfg->tenancy};
    h->helm_limit = cfg->helm_concurrency > 0 ? cfg->helm_concurrency : 4;
    p4_stagerunner_init(&h->sr);
    p4_imagecache_init(&h->images, 0);
    p4_lintcache_init(&h->lint, 0);
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
    h->closing = true; /* a helm killed now gives its place to no one */
    p4_stagerunner_close(&h->sr);
    p4_imagecache_close(&h->images);
    p4_node_platforms_close(&h->own_nodes);
    p4_lintcache_close(&h->lint);
    free(h->helm);
    free(h->work_dir);
    free(h->home);
    free(h->cache_home);
    free(h->config_home);
    free(h->data_home);
    free(h);
}
