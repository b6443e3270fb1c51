/*
 * stages/docker/stage.c: stage 1, Docker (see phase4/stages/docker/stage.h):
 * the stage.h operations, a run's lifetime and its driving from step to step.
 * The steps live in files of their own (steps.h says which).
 */
#include "phase4/stages/docker/stage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/core/alloc.h"
#include "phase4/core/json.h"
#include "steps.h"

const char *const p4_docker_gate_names[G_COUNT] = {"Built", "Pushed", "Scanned", "Signed",
                                                   "Pullable"};

/* ---- verdicts, applied ---- */

void p4_docker_fail(struct run *r, const struct verdict *v)
{
    if (v->no_recheck)
        r->base.no_recheck = true;
    p4_stagerun_fail(&r->base, v->cls, v->gate, v->reason, &v->err);
}

void p4_docker_part_failed(struct run *r, const struct verdict *v)
{
    p4_stagerun_part_failed(&r->base, v->cls, v->gate, v->reason, &v->err);
}

void p4_docker_gate(struct run *r, const struct verdict *v)
{
    p4_stagerun_gate(&r->base, v->gate, v->outcome == V_PASS ? "True" : "Unknown", v->reason, "%s",
                     v->err.message);
}

/* ---- run lifetime ---- */

struct work *p4_docker_work_new(void)
{
    struct work *w = p4_calloc(1, sizeof(*w));

    p4_regauth_init(&w->auth);
    return w;
}

void p4_docker_work_free(struct work *w)
{
    if (w == NULL)
        return;
    p4_regauth_close(&w->auth); /* wipes the credentials */
    p4_docker_wipe_payloads(w);
    for (size_t i = 0; i < w->nsecrets; i++)
        free(w->secret_names[i]);
    for (size_t i = 0; i < w->nwanted; i++)
        free(w->wanted[i]);
    free(w->ca);
    p4_cosign_key_free(w->sigkey);
    p4_cosign_sigs_free(&w->sigs);
    p4_image_ref_close(&w->ref);
    free(w->report_manifest);
    free(w);
}

void p4_docker_add_wanted(struct work *w, const char *name, bool from_spec)
{
    for (size_t i = 0; i < w->nwanted; i++) {
        if (strcmp(w->wanted[i], name) == 0)
            return;
    }
    if (w->nwanted < SECRETS_MAX) {
        w->wanted_from_spec[w->nwanted] = from_spec;
        w->wanted[w->nwanted++] = p4_strdup(name);
    }
}

void p4_docker_add_wanted_list(struct work *w, const cJSON *list, bool from_spec)
{
    const cJSON *it;

    cJSON_ArrayForEach(it, list) {
        const char *n = p4_json_str(it, "name");
        if (n && n[0])
            p4_docker_add_wanted(w, n, from_spec);
    }
}

void p4_docker_add_platform(struct work *w, const char *os, const char *arch, const char *variant)
{
    for (size_t i = 0; i < w->nplatforms; i++) {
        if (strcmp(w->platforms[i][0], os) == 0 && strcmp(w->platforms[i][1], arch) == 0 &&
            strcmp(w->platforms[i][2], variant) == 0)
            return;
    }
    if (w->nplatforms < PLATFORMS_MAX && strlen(os) < P4_OCI_PLATFORM_PART_MAX &&
        strlen(arch) < P4_OCI_PLATFORM_PART_MAX && strlen(variant) < P4_OCI_PLATFORM_PART_MAX) {
        (void)snprintf(w->platforms[w->nplatforms][0], P4_OCI_PLATFORM_PART_MAX, "%s", os);
        (void)snprintf(w->platforms[w->nplatforms][1], P4_OCI_PLATFORM_PART_MAX, "%s", arch);
        (void)snprintf(w->platforms[w->nplatforms][2], P4_OCI_PLATFORM_PART_MAX, "%s", variant);
        w->nplatforms++;
    }
}

void p4_docker_image_ref_text(const cJSON *image, char *buf, size_t size)
{
    const char *repo = p4_json_str(image, "repository");
    const char *tag = p4_json_str(image, "tag");
    const char *digest = p4_json_str(image, "digest");

    (void)snprintf(buf, size, "%s%s%s", repo ? repo : "", digest ? "@" : ":",
                   digest ? digest
                   : tag  ? tag
                          : "latest");
}

bool p4_docker_image_ref_verdict(const cJSON *image, struct verdict *v)
{
    struct p4_image_ref parsed = {0};
    struct p4_error err;
    char ref[700];

    p4_docker_image_ref_text(image, ref, sizeof(ref));
    if (p4_image_ref_parse(ref, &parsed, &err) == 0) {
        p4_image_ref_close(&parsed);
        return false;
    }
    *v = (struct verdict){.outcome = V_FAIL,
                          .gate = G_BUILT,
                          .cls = P4_FAIL_CLUSTER,
                          .reason = "InvalidImageReference",
                          .no_recheck = true}; /* only a new generation can fix it */
    p4_error_set(&v->err, P4_ERR_INVALID, "spec.image does not name an image: %s", err.message);
    return true;
}

void p4_docker_registry_host(const char *registry, char *buf, size_t size)
{
    p4_image_registry_host(registry, buf, size);
}

bool p4_docker_pinned_digest(const cJSON *obj, int64_t generation, char *buf, size_t size)
{
    int64_t observed = -1;
    const char *pinned = p4_json_str(obj, "status.image.digest");

    (void)p4_json_int64(obj, "status.observedGeneration", &observed);
    if (observed != generation || pinned == NULL || strncmp(pinned, "sha256:", 7) != 0)
        return false;
    (void)snprintf(buf, size, "%s", pinned);
    return true;
}

cJSON *p4_docker_image_status(const char *digest, const char *platforms)
{
    const char *p = platforms ? platforms : "";
    cJSON *st, *img, *plats;

    if (digest == NULL || digest[0] == '\0')
        return NULL;
    st = cJSON_CreateObject();
    img = cJSON_AddObjectToObject(st, "image");
    cJSON_AddStringToObject(img, "digest", digest);
    plats = cJSON_AddArrayToObject(img, "platforms");
    while (*p) {
        size_t n = strcspn(p, ",");
        char one[128];
        (void)snprintf(one, sizeof(one), "%.*s", (int)n, p);
        if (one[0])
            cJSON_AddItemToArray(plats, cJSON_CreateString(one));
        p += n;
        while (*p == ',' || *p == ' ')
            p++;
    }
    return st;
}

/* ---- driving a run ---- */

static void passed(struct run *r)
{
    p4_stagerun_passed(
        &r->base, "ImageReady", "image %s@%s passed every Docker gate",
        p4_json_str(r->image, "repository") ? p4_json_str(r->image, "repository") : "", r->digest);
    /* Nothing runs again for this generation: the spec copy is not needed any more. */
    cJSON_Delete(r->image);
    r->image = NULL;
}

static void run_step(struct p4_stagerun *base)
{
    struct run *r = (struct run *)base;

    switch (r->base.step) {
    case S_BUILD:
        p4_docker_build(r);
        break;
    case S_GATHER:
        p4_docker_gather(r);
        break;
    case S_SECRETS:
        p4_docker_read_secrets(r);
        break;
    case S_CREDENTIALS:
        if (p4_docker_use_secrets(r) == 0)
            p4_stagerun_next(&r->base, S_RESOLVE);
        break;
    case S_RESOLVE:
        p4_docker_resolve(r);
        break;
    case S_SCAN:
        p4_docker_scan(r);
        break;
    case S_SIGN:
        p4_docker_sign(r);
        break;
    case S_DONE:
        passed(r);
        break;
    }
}

/* Begin an attempt: read everything again (a Secret may have been fixed), keep the digest. */
static void begin(struct p4_stagerun *base, bool retry)
{
    struct run *r = (struct run *)base;
    char os[P4_OCI_PLATFORM_PART_MAX], arch[P4_OCI_PLATFORM_PART_MAX],
        variant[P4_OCI_PLATFORM_PART_MAX], ref[700];
    bool insecure = false;
    struct work *w;
    const cJSON *it;

    if (retry)
        r->scan_since = 0; /* a new attempt waits for its report anew */
    r->w = w = p4_docker_work_new();
    /* start() checked that the reference parses. */
    p4_docker_image_ref_text(r->image, ref, sizeof(ref));
    (void)p4_image_ref_parse(ref, &w->ref, NULL);
    p4_docker_registry_host(w->ref.registry, w->host, sizeof(w->host));
    w->target.host = w->host;
    (void)p4_json_bool(r->image, "insecure", &insecure);
    w->target.insecure_http = insecure;
    p4_docker_add_wanted_list(w, p4_json_get(r->image, "pullSecrets"), true);
    cJSON_ArrayForEach(it, p4_json_get(r->image, "platforms")) {
        if (cJSON_IsString(it) &&
            p4_oci_parse_platform(it->valuestring, os, arch, variant, NULL) == 0)
            p4_docker_add_platform(w, os, arch, variant);
    }
    r->base.step = S_BUILD;
    run_step(&r->base);
}

static void end_work(struct p4_stagerun *base)
{
    struct run *r = (struct run *)base;

    p4_docker_work_free(r->w);
    r->w = NULL;
}

static void destroy(struct p4_stagerun *base)
{
    struct run *r = (struct run *)base;

    free(r->image_platforms);
    cJSON_Delete(r->image);
    free(r);
}

/* ---- stage.h operations ---- */

static int start(void *ctx, const char *key, const cJSON *obj, struct p4_error *err)
{
    struct p4_docker_stage *d = ctx;
    const char *ns = p4_json_str(obj, "metadata.namespace");
    const char *name = p4_json_str(obj, "metadata.name");
    const char *target = p4_tenancy_target(obj);
    const char *repo = p4_json_str(obj, "spec.image.repository");
    struct verdict v;
    struct run *r;

    if (p4_stagerunner_current(&d->sr, key, obj))
        return 0;
    if (ns == NULL || name == NULL || target == NULL || repo == NULL)
        return p4_error_set(err, P4_ERR_INVAL,
                            "spec.image.repository and spec.target.namespace are required");
    r = p4_calloc(1, sizeof(*r));
    p4_stagerun_add_for(&d->sr, &r->base, key, obj); /* begins on the next turn */
    r->image = cJSON_Duplicate(p4_json_get(obj, "spec.image"), 1);
    r->want_signature = p4_json_get(r->image, "signature") != NULL;
    if (p4_json_get(r->image, "build") != NULL) {
        p4_docker_job_name(name, r->base.generation, r->job, sizeof(r->job));
        r->build_deadline = uv_now(d->sr.loop) +
                            p4_duration_ms(p4_json_str(r->image, "build.timeout"), 1800000) + 30000;
    }
    /* This generation's digest from before (an operator restart): check that, not the tag. */
    (void)p4_docker_pinned_digest(obj, r->base.generation, r->digest, sizeof(r->digest));
    if (p4_docker_image_ref_verdict(p4_json_get(obj, "spec.image"), &v)) {
        p4_docker_fail(r, &v);
        (void)uv_timer_stop(&r->base.timer); /* no attempt begins */
        p4_error_clear(err);
    }
    return 0;
}

static int poll_run(void *ctx, const char *key, const cJSON *obj)
{
    struct p4_docker_stage *d = ctx;
    struct run *r = (struct run *)p4_stagerunner_get(&d->sr, key);

    (void)obj;
    /* A build Job changed (the Jobs informer woke this reconcile); the rest moves on its own. */
    if (r && r->w && r->base.step == S_BUILD && r->job_created && !r->job_done && !r->job_settling)
        p4_docker_build_check(r);
    return 0;
}

static unsigned skipped_gates(const struct p4_stagerun *base)
{
    const struct run *r = (const struct run *)base;

    return r->want_signature ? 0u : 1u << G_SIGNED;
}

/* status.image: the digest and the platforms checked. */
static cJSON *status_of(const struct p4_stagerun *base)
{
    const struct run *r = (const struct run *)base;

    return p4_docker_image_status(r->digest, r->image_platforms);
}

static const struct p4_stagerun_ops run_ops = {.begin = begin,
                                               .step = run_step,
                                               .end_work = end_work,
                                               .destroy = destroy,
                                               .skipped_gates = skipped_gates,
                                               .status = status_of};

const struct p4_stage_ops p4_docker_stage_ops = {
    .name = "Docker",
    .condition = "DockerReady",
    .start = start,
    .poll = poll_run,
    .result = p4_stagerunner_result_op,
    .forget = p4_stagerunner_forget_op,
    .suspend = p4_stagerunner_suspend_op,
    .retry = p4_stagerunner_retry_op,
    .metrics = p4_stagerunner_metrics_op,
};

struct p4_docker_stage *p4_docker_stage_new(uv_loop_t *loop,
                                            const struct p4_docker_stage_config *cfg)
{
    struct p4_docker_stage *d = p4_calloc(1, sizeof(*d));

    d->cfg = *cfg;
    if (d->cfg.scan_poll_ms == 0)
        d->cfg.scan_poll_ms = 15000;
    if (d->cfg.nodes == NULL)
        d->cfg.nodes = &d->own_nodes;
    d->sr = (struct p4_stagerunner){.loop = loop,
                                    .ops = &run_ops,
                                    .stage = "Docker",
                                    .gate_names = p4_docker_gate_names,
                                    .ngates = G_COUNT,
                                    .retry_ms = cfg->retry_ms,
                                    .recheck_ms = cfg->recheck_ms,
                                    .transient_max_ms = cfg->transient_max_ms,
                                    .max_active = cfg->max_active,
                                    .changed = cfg->changed,
                                    .data = cfg->data,
                                    .kube = cfg->kube,
                                    .tenancy = cfg->tenancy};
    p4_stagerunner_init(&d->sr);
    p4_strmap_init(&d->sa_names);
    return d;
}

void p4_docker_stage_free(struct p4_docker_stage *d)
{
    if (d == NULL)
        return;
    p4_stagerunner_close(&d->sr);
    p4_docker_vulnreports_free(d);
    p4_docker_sa_cache_close(d);
    p4_node_platforms_close(&d->own_nodes);
    free(d);
}
