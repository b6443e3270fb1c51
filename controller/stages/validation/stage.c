/*
 * stages/validation/stage.c: stage 4, Validation (see phase4/stages/validation/stage.h): the
 * driving. stage.h's operations, a run's begin/step/end/cancel/destroy, and the stage's
 * _new/_free; the steps are in the files steps.h lists.
 */
#include "phase4/stages/validation/stage.h"

#include <stdlib.h>
#include <string.h>

#include "phase4/core/alloc.h"
#include "phase4/core/json.h"
#include "phase4/core/text.h"
#include "phase4/core/timefmt.h"
#include "phase4/reconciler/stagerun.h"
#include "steps.h"

static const char *const gate_names[G_COUNT] = {"HealthEndpoints", "SmokeTests", "Logs", "Metrics"};

/* ---- driving a run ---- */

static void run_step(struct p4_stagerun *base)
{
    struct run *r = (struct run *)base;

    switch (r->base.step) {
    case S_HTTP:
        p4_vstage_http(r);
        break;
    case S_SMOKE:
        p4_vstage_smoke(r);
        break;
    case S_LOGS:
        p4_vstage_logs(r);
        break;
    case S_METRICS:
        p4_vstage_metrics(r);
        break;
    }
}

static void begin(struct p4_stagerun *base, bool retry)
{
    struct run *r = (struct run *)base;

    (void)retry;
    r->w = p4_calloc(1, sizeof(*r->w));
    r->base.step = S_HTTP;
    run_step(&r->base);
}

static void end_work(struct p4_stagerun *base)
{
    struct run *r = (struct run *)base;

    if (r->w == NULL)
        return;
    p4_vstage_http_end(r);
    p4_vstage_smoke_end(r);
    p4_vstage_logs_end(r);
    p4_vstage_metrics_end(r);
    free(r->w);
    r->w = NULL;
}

static void destroy(struct p4_stagerun *base)
{
    struct run *r = (struct run *)base;

    cJSON_Delete(r->spec);
    cJSON_Delete(r->inventory);
    free(r->manifest);
    free(r);
}

/* ---- stage.h operations ---- */

time_t p4_vstage_since(const cJSON *obj, time_t now)
{
    const cJSON *c, *s;
    int64_t generation = 0, cond_gen = -1, report_gen = -1, usec = 0;

    (void)p4_json_int64(obj, "metadata.generation", &generation);
    (void)p4_json_int64(obj, "status.report.generation", &report_gen);
    if (report_gen == generation) {
        cJSON_ArrayForEach(s, p4_json_get(obj, "status.report.stages")) {
            if (p4_text_eq(p4_json_str(s, "name"), "Kubernetes") &&
                p4_timefmt_parse(p4_json_str(s, "startedAt"), &usec) == 0)
                return (time_t)(usec / 1000000);
        }
    }
    cJSON_ArrayForEach(c, p4_json_get(obj, "status.conditions")) {
        if (!p4_text_eq(p4_json_str(c, "type"), "HelmReady"))
            continue;
        (void)p4_json_int64(c, "observedGeneration", &cond_gen);
        if (cond_gen == generation &&
            p4_timefmt_parse(p4_json_str(c, "lastTransitionTime"), &usec) == 0)
            return (time_t)(usec / 1000000);
    }
    return now - 600;
}

/* How much of one gate's message the stage's summary quotes. */
#define SUMMARY_GATE_MAX 240

void p4_vstage_done(struct run *r)
{
    char summary[P4_ERROR_MESSAGE_MAX], skipped[128] = "", part[SUMMARY_GATE_MAX];
    size_t n = 0;

    summary[0] = '\0';
    for (int g = 0; g < G_COUNT; g++) {
        const struct p4_gate *gate = &r->base.gates[g];
        int w;
        if (p4_text_eq(gate->reason, P4_VSTAGE_NOT_REQUIRED)) {
            size_t k = strlen(skipped);
            (void)snprintf(skipped + k, sizeof(skipped) - k, "%s%s", k ? ", " : "", gate_names[g]);
            continue;
        }
        if (n >= sizeof(summary))
            break;
        /* Each gate's own message is in status.gates: the summary quotes only its start, so
           every gate is named. */
        p4_text_clean(part, sizeof(part), gate->message ? gate->message : "passed",
                      gate->message ? strlen(gate->message) : 6, 0);
        w = snprintf(summary + n, sizeof(summary) - n, "%s%s: %s", n ? "; " : "", gate_names[g],
                     part);
        if (w > 0)
            n += (size_t)w;
    }
    if (skipped[0])
        p4_stagerun_passed(&r->base, "Validated", "%s%snot required (nothing declared): %s",
                           summary, summary[0] ? "; " : "", skipped);
    else
        p4_stagerun_passed(&r->base, "Validated", "%s", summary);
}

static int start(void *ctx, const char *key, const cJSON *obj, struct p4_error *err)
{
    struct p4_validation_stage *v = ctx;
    const cJSON *spec = p4_json_get(obj, "spec.validation");
    const cJSON *inv = p4_json_get(obj, "status.inventory");
    const char *manifest = p4_json_str(obj, "status.chart.manifest");
    struct run *r;

    if (p4_stagerunner_current(&v->sr, key, obj))
        return 0;
    if (p4_json_str(obj, "metadata.namespace") == NULL ||
        p4_json_str(obj, "metadata.name") == NULL || p4_tenancy_target(obj) == NULL)
        return p4_error_set(err, P4_ERR_INVAL,
                            "the Validation stage needs metadata.namespace and metadata.name");
    r = p4_calloc(1, sizeof(*r));
    r->v = v;
    r->spec = cJSON_IsObject(spec) ? p4_json_need(cJSON_Duplicate(spec, 1)) : NULL;
    r->inventory = cJSON_IsArray(inv) ? p4_json_need(cJSON_Duplicate(inv, 1)) : NULL;
    r->manifest = manifest && manifest[0] ? p4_strdup(manifest) : NULL;
    r->since = p4_vstage_since(obj, time(NULL));
    p4_stagerun_add_for(&v->sr, &r->base, key, obj); /* begins on the next turn */
    return 0;
}

static int poll_run(void *ctx, const char *key, const cJSON *obj)
{
    struct p4_validation_stage *v = ctx;
    struct run *r = (struct run *)p4_stagerunner_get(&v->sr, key);

    if (r != NULL && r->w != NULL && r->base.step == S_SMOKE)
        p4_vstage_smoke_poll(r, obj);
    return 0;
}

static const struct p4_stagerun_ops run_ops = {
    .begin = begin, .step = run_step, .end_work = end_work, .destroy = destroy};

const struct p4_stage_ops p4_validation_stage_ops = {
    .name = "Validation",
    .condition = "Validated",
    .start = start,
    .poll = poll_run,
    .result = p4_stagerunner_result_op,
    .forget = p4_stagerunner_forget_op,
    .suspend = p4_stagerunner_suspend_op,
    .retry = p4_stagerunner_retry_op,
    .metrics = p4_stagerunner_metrics_op,
};

struct p4_validation_stage *p4_validation_stage_new(uv_loop_t *loop,
                                                    const struct p4_validation_stage_config *cfg)
{
    struct p4_validation_stage *v;
    struct p4_http *http = p4_http_new(loop);

    if (http == NULL)
        return NULL;
    v = p4_calloc(1, sizeof(*v));
    v->cfg = *cfg;
    v->http = http;
    v->sr = (struct p4_stagerunner){.loop = loop,
                                    .ops = &run_ops,
                                    .stage = "Validation",
                                    .work = "validations",
                                    .gate_names = gate_names,
                                    .ngates = G_COUNT,
                                    .retry_ms = cfg->retry_ms,
                                    .recheck_ms = cfg->recheck_ms,
                                    .transient_max_ms = cfg->transient_max_ms,
                                    .max_active = cfg->max_active > 0 ? cfg->max_active : 32,
                                    .transient_restarts = true,
                                    .changed = cfg->changed,
                                    .data = cfg->data,
                                    .kube = cfg->kube,
                                    .tenancy = cfg->tenancy};
    p4_stagerunner_init(&v->sr);
    return v;
}

void p4_validation_stage_free(struct p4_validation_stage *v)
{
    if (v == NULL)
        return;
    p4_stagerunner_close(&v->sr);
    p4_http_close(v->http);
    free(v);
}
