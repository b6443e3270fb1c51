/*
 * stages/kubernetes/stage.c: stage 3, Kubernetes (see phase4/stages/kubernetes/stage.h): the
 * driving. stage.h's operations, a run's begin/step/end/cancel/destroy, and the stage's
 * _new/_free; the steps and the wait are in the files steps.h lists.
 */
#include "phase4/stages/kubernetes/stage.h"

#include <stdlib.h>
#include <string.h>

#include "phase4/core/alloc.h"
#include "phase4/core/json.h"
#include "phase4/core/strmap.h"
#include "phase4/core/text.h"
#include "phase4/reconciler/stagerun.h"
#include "steps.h"

static const char *const gate_names[G_COUNT] = {"ManifestsValid", "ResourcesCreated", "PodsRunning",
                                                "ServicesReady", "HooksCompleted"};

bool p4_kstage_attempt_busy(const struct run *r)
{
    return r->base.working || r->base.active || r->base.queued || r->base.inflight > 0;
}

/* ---- driving a run ---- */

static void run_step(struct p4_stagerun *base)
{
    struct run *r = (struct run *)base;

    switch (r->base.step) {
    case S_READ:
        p4_kstage_read_manifest(r);
        break;
    case S_PRE_HOOKS:
        p4_kstage_run_hooks(r, false);
        break;
    case S_APPLY:
        p4_kstage_apply(r);
        break;
    case S_POST_HOOKS:
        p4_kstage_run_hooks(r, true);
        break;
    case S_PRUNE:
        p4_kstage_prune(r);
        break;
    }
}

static void begin(struct p4_stagerun *base, bool retry)
{
    struct run *r = (struct run *)base;

    (void)retry;
    r->w = p4_calloc(1, sizeof(*r->w));
    r->base.step = S_READ;
    run_step(&r->base);
}

static void end_work(struct p4_stagerun *base)
{
    struct run *r = (struct run *)base;

    if (r->w == NULL)
        return;
    cJSON_Delete(r->w->objects);
    cJSON_Delete(r->w->hooks);
    p4_inventory_close(&r->w->planned);
    free(r->w);
    r->w = NULL;
}

/* Dropped: stop the apply (its callback comes now, finding the run gone); leave the namespace. */
static void cancel(struct p4_stagerun *base)
{
    struct run *r = (struct run *)base;

    if (r->w && r->w->apply) {
        struct p4_applyset *a = r->w->apply;
        r->w->apply = NULL;
        p4_applyset_cancel(a);
    }
    p4_kstage_unwatch_ns(r, r->base.key);
}
/*
 * Suspended while the apply waits for its write-ahead record: nothing is applied yet, so it
 * stops here (the record is written by the reconciler, which writes no stage's status while the
 * resource is suspended). An apply under way otherwise finishes first.
 */
static bool stop_now(struct p4_stagerun *base)
{
    struct run *r = (struct run *)base;
    struct p4_applyset *a;

    if (r->w == NULL || !r->w->recording || r->w->apply == NULL)
        return false;
    a = r->w->apply;
    r->w->apply = NULL;
    r->w->recording = false;
    p4_applyset_cancel(a); /* its callback finds nothing to record */
    return true;
}

/* After a suspension the wait for the workloads has its whole spec.rollout.timeout again. */
static void resume(struct p4_stagerun *base)
{
    struct run *r = (struct run *)base;

    if (r->waiting)
        r->deadline = uv_now(r->k->sr.loop) + r->timeout_ms;
}

static void destroy(struct p4_stagerun *base)
{
    struct run *r = (struct run *)base;

    free(r->secret);
    free(r->created);
    p4_inventory_close(&r->previous);
    p4_inventory_close(&r->inv);
    free(r->gens);
    free(r->inventory);
    free(r->health);
    cJSON_Delete(r->selectors);
    free(r);
}

/* ---- stage.h operations ---- */

int p4_kstage_read_spec(const cJSON *obj, struct p4_kstage_spec *out, struct p4_error *err)
{
    const char *ns = p4_json_str(obj, "metadata.namespace");
    const char *name = p4_json_str(obj, "metadata.name");
    const char *target = p4_tenancy_target(obj);
    const char *secret = p4_json_str(obj, "status.chart.manifest");

    memset(out, 0, sizeof(*out));
    if (ns == NULL || name == NULL || target == NULL || secret == NULL || secret[0] == '\0')
        return p4_error_set(err, P4_ERR_INVAL,
                            "the Kubernetes stage needs spec.target.namespace and "
                            "status.chart.manifest (the Helm stage's rendered manifest)");
    out->secret = secret;
    (void)p4_json_bool(obj, "spec.target.createNamespace", &out->create_namespace);
    (void)p4_json_bool(obj, "spec.target.allowClusterScoped", &out->allow_cluster);
    (void)p4_json_bool(obj, "spec.rollout.force", &out->force);
    (void)p4_json_bool(obj, "spec.adopt", &out->adopt);
    out->timeout_ms = p4_duration_ms(p4_json_str(obj, "spec.rollout.timeout"), 600000);
    return 0;
}

/* status.hooks: what ran for this generation (a restart runs nothing twice); else the event. */
static void read_hooks(struct run *r, const cJSON *hooks)
{
    int64_t gen = 0;

    if (p4_json_int64(hooks, "generation", &gen) == 0 && gen == r->base.generation) {
        r->hooks_gen = gen;
        r->hook_install = p4_text_eq(p4_json_str(hooks, "event"), "install");
        r->hooks_pre_done = p4_text_eq(p4_json_str(hooks, "pre"), "Succeeded");
        r->hooks_post_done = p4_text_eq(p4_json_str(hooks, "post"), "Succeeded");
        return;
    }
    r->hook_install = r->previous.n == 0;
}

static int start(void *ctx, const char *key, const cJSON *obj, struct p4_error *err)
{
    struct p4_kube_stage *k = ctx;
    struct p4_kstage_spec spec;
    struct run *r;
    int rc;

    if (p4_stagerunner_current(&k->sr, key, obj) && !p4_kstage_is_rollback(k, key))
        return 0; /* a rollback run is replaced by the generation's own */
    if ((rc = p4_kstage_read_spec(obj, &spec, err)) != 0)
        return rc;
    p4_kstage_start_watching(k);
    r = p4_calloc(1, sizeof(*r));
    r->k = k;
    r->secret = p4_strdup(spec.secret);
    r->create_namespace = spec.create_namespace;
    r->allow_cluster = spec.allow_cluster;
    r->force = spec.force;
    r->adopt = spec.adopt;
    r->created = p4_strdup_or_null(p4_json_str(obj, "metadata.creationTimestamp"));
    r->timeout_ms = spec.timeout_ms;
    if (p4_inventory_from_json(p4_json_get(obj, "status.inventory"), &r->previous, NULL, NULL) != 0)
        p4_inventory_close(&r->previous);            /* unreadable: nothing to prune */
    p4_stagerun_add_for(&k->sr, &r->base, key, obj); /* begins on the next turn */
    read_hooks(r, p4_json_get(obj, "status.hooks"));
    return 0;
}

/* A trusted resource (reconcile.h): no run, but what it applied is watched for drift. */
static void trusted(void *ctx, const char *key, const cJSON *obj)
{
    (void)key;
    (void)obj;
    p4_kstage_start_watching(ctx);
}

static int poll_run(void *ctx, const char *key, const cJSON *obj)
{
    struct p4_kube_stage *k = ctx;
    struct run *r = (struct run *)p4_stagerunner_get(&k->sr, key);

    if (r == NULL)
        return 0;
    p4_kstage_record_poll(r, obj);
    if (r->adopt_event[0]) {
        if (k->cfg.events)
            p4_events_emit(k->cfg.events, obj, "Normal", "Adopted", r->adopt_event);
        r->adopt_event[0] = '\0';
    }
    if (p4_kstage_drift_poll(r, obj))
        return 0;
    p4_kstage_evaluate(r, false);
    return 0;
}

/* status.inventory and status.health, as last recorded. */
static cJSON *status_of(const struct p4_stagerun *base)
{
    const struct run *r = (const struct run *)base;
    cJSON *st, *v;

    if (r->inventory == NULL && r->health == NULL && r->hooks_gen == 0)
        return NULL;
    st = p4_json_need(cJSON_CreateObject());
    if (r->inventory && (v = cJSON_Parse(r->inventory)) != NULL)
        cJSON_AddItemToObject(st, "inventory", v);
    if (r->health && (v = cJSON_Parse(r->health)) != NULL)
        cJSON_AddItemToObject(st, "health", v);
    if (r->hooks_gen != 0) {
        v = p4_json_need(cJSON_AddObjectToObject(st, "hooks"));
        p4_json_need(cJSON_AddNumberToObject(v, "generation", (double)r->hooks_gen));
        p4_json_need(cJSON_AddStringToObject(v, "event", r->hook_install ? "install" : "upgrade"));
        if (r->hooks_pre_done)
            p4_json_need(cJSON_AddStringToObject(v, "pre", "Succeeded"));
        if (r->hooks_post_done)
            p4_json_need(cJSON_AddStringToObject(v, "post", "Succeeded"));
    }
    return st;
}

static void metrics(void *ctx, struct p4_buf *out)
{
    const struct p4_kube_stage *k = ctx;

    p4_stagerunner_metrics(&k->sr, out);
    p4_buf_printf(out,
                  "# HELP phase4_kubernetes_stage_namespaces Target namespaces whose pods and "
                  "Warning Events the caches keep.\n"
                  "# TYPE phase4_kubernetes_stage_namespaces gauge\n"
                  "phase4_kubernetes_stage_namespaces %zu\n",
                  p4_kube_stage_namespaces(k));
}

static const struct p4_stagerun_ops run_ops = {.begin = begin,
                                               .step = run_step,
                                               .end_work = end_work,
                                               .destroy = destroy,
                                               .status = status_of,
                                               .cancel = cancel,
                                               .resume = resume,
                                               .stop_now = stop_now};

const struct p4_stage_ops p4_kube_stage_ops = {
    .name = "Kubernetes",
    .condition = "KubernetesReady",
    .start = start,
    .poll = poll_run,
    .result = p4_kstage_result,
    .forget = p4_stagerunner_forget_op,
    .suspend = p4_stagerunner_suspend_op,
    .retry = p4_kstage_retry,
    .rollback = p4_kstage_rollback,
    .metrics = metrics,
    .finalize = p4_kstage_finalize,
    .finalized = p4_kstage_finalized,
    .trusted = trusted,
};

struct p4_kube_stage *p4_kube_stage_new(uv_loop_t *loop, const struct p4_kube_stage_config *cfg)
{
    struct p4_kube_stage *k = p4_calloc(1, sizeof(*k));

    k->cfg = *cfg;
    if (k->cfg.unschedulable_grace_ms == 0)
        k->cfg.unschedulable_grace_ms = 30000;
    k->sr = (struct p4_stagerunner){.loop = loop,
                                    .ops = &run_ops,
                                    .stage = "Kubernetes",
                                    .work = "applies",
                                    .gate_names = gate_names,
                                    .ngates = G_COUNT,
                                    .retry_ms = cfg->retry_ms,
                                    .recheck_ms = cfg->recheck_ms,
                                    .transient_max_ms = cfg->transient_max_ms,
                                    .max_active = cfg->max_active > 0 ? cfg->max_active : 16,
                                    .transient_restarts = true,
                                    .changed = cfg->changed,
                                    .data = cfg->data,
                                    .kube = cfg->kube,
                                    .tenancy = cfg->tenancy};
    p4_stagerunner_init(&k->sr);
    p4_strmap_init(&k->ns);
    p4_strmap_init(&k->uninstalls);
    return k;
}

void p4_kube_stage_free(struct p4_kube_stage *k)
{
    size_t pos = 0;
    const struct p4_strmap_entry *e;

    if (k == NULL)
        return;
    p4_stagerunner_close(&k->sr); /* each run leaves its namespace */
    p4_kstage_uninstalls_free(k);
    while ((e = p4_strmap_next(&k->ns, &pos)) != NULL)
        p4_kstage_nswatch_free(e->value);
    p4_strmap_close(&k->ns);
    for (int i = 0; i < W_COUNT; i++)
        p4_informer_close(k->inf[i]);
    p4_informer_close(k->pods);
    p4_informer_close(k->slices);
    p4_informer_close(k->events);
    free(k);
}

size_t p4_kube_stage_namespaces(const struct p4_kube_stage *k)
{
    return k ? p4_strmap_len(&k->ns) : 0;
}
