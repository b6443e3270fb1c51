/*
 * stages/helm/dryrun.c: step S_DRYRUN of the Helm stage. The objects helm template rendered
 * (split and pinned by S_PIN) are each sent to the API server as a server-side apply with
 * dryRun=All, one at a time (gate DryRun). Objects of kinds the chart's own CRDs define, and
 * objects waiting for a namespace the Kubernetes stage creates, are counted as skipped rather than
 * failed. When the spec asks for approval, each answer also goes to the plan (plan.h): an answer
 * without a resourceVersion is an object to create; for any other the live object is read, as
 * the identity acting for the resource, and compared with the answer.
 */
#include <stdio.h>
#include <string.h>

#include "phase4/core/json.h"
#include "phase4/core/redact.h"
#include "phase4/kube/apistatus.h"
#include "phase4/reconciler/manifest.h"
#include "steps.h"

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

static enum p4_failure_class dry_run_class(int rc, const char *message)
{
    enum p4_failure_class cls;

    switch (rc) {
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
    if (strstr(message, "admission webhook") != NULL ||
        strstr(message, "ValidatingAdmissionPolicy") != NULL)
        cls = P4_FAIL_CLUSTER;
    return cls;
}

enum dry_answer p4_helm_dry_run_answer(const struct p4_apply_result *res, const cJSON *objects,
                                       const cJSON *obj, bool create_namespace, struct failure *f)
{
    enum p4_failure_class cls;

    if (res->rc == 0)
        return DRY_ACCEPTED;
    /* its CRD is in the chart: the Kubernetes stage applies that first */
    if (res->rc == P4_ERR_NOTFOUND && res->resource[0] == '\0' &&
        defined_in_manifest(objects, p4_json_str(obj, "apiVersion"), res->kind))
        return DRY_SKIP_CRD;
    /* the namespace is created by the Kubernetes stage */
    if (res->rc == P4_ERR_NOTFOUND && res->resource[0] != '\0' && create_namespace &&
        res->namespace_[0] != '\0')
        return DRY_SKIP_NAMESPACE;
    /* the target namespace is being deleted: waited out, as the Kubernetes stage does */
    if (p4_apistatus_namespace_terminating(res->rc, res->err.message)) {
        *f = (struct failure){
            .cls = P4_FAIL_TRANSIENT, .gate = G_DRYRUN, .reason = "NamespaceTerminating"};
        return DRY_FAILED;
    }
    cls = dry_run_class(res->rc, res->err.message);
    *f = (struct failure){.cls = cls,
                          .gate = G_DRYRUN,
                          .reason = cls == P4_FAIL_TRANSIENT
                                        ? "APIUnavailable"
                                        : p4_helm_reason_name(P4_HELM_DRY_RUN_REJECTED)};
    return DRY_FAILED;
}

/* The live object of the answer being planned (w->answer) read: compared, then the next. */
static void on_live(struct p4_kube_result *res, void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);
    struct work *w;
    const cJSON *a;
    const char *av, *kind, *ns, *name;
    char why[P4_ERROR_MESSAGE_MAX + 64];

    if (r == NULL)
        return;
    w = r->w;
    a = w->answer;
    av = p4_json_str(a, "apiVersion");
    kind = p4_json_str(a, "kind");
    ns = p4_json_str(a, "metadata.namespace");
    name = p4_json_str(a, "metadata.name");
    if (res->rc == 0 && cJSON_IsObject(res->body)) {
        p4_plan_compared(&w->plan, av, kind, ns, name, res->body, a);
    } else if (res->rc == P4_ERR_NOTFOUND) {
        p4_plan_created(&w->plan, av, kind, ns, name); /* deleted since the dry run */
    } else {
        (void)snprintf(why, sizeof(why), "the live object could not be read: %s", res->err.message);
        p4_redact_str(r->base.redact, why);
        p4_plan_unread(&w->plan, av, kind, ns, name, why);
    }
    cJSON_Delete(w->answer);
    w->answer = NULL;
    w->obj_i++;
    dry_run_next(r);
}

/*
 * The plan of one accepted object (obj, its answer res): created, or its live object read.
 * Returns true when a read was sent (on_live goes on), false when the walk goes on now.
 */
static bool plan_answer(struct run *r, const cJSON *obj, const struct p4_apply_result *res)
{
    struct work *w = r->w;
    const struct p4_resource_info *info;
    const char *av = p4_json_str(obj, "apiVersion");
    char path[2048];

    if (res->object == NULL || p4_plan_answer_is_new(res->object)) {
        p4_plan_created(&w->plan, av, res->kind, res->namespace_, res->name);
        return false;
    }
    info = p4_discovery_find(stage_of(r)->cfg.discovery, av, res->kind);
    if (info == NULL ||
        p4_resource_path(info, res->namespace_, res->name, path, sizeof(path)) != 0) {
        p4_plan_unread(&w->plan, av, res->kind, res->namespace_, res->name,
                       "the live object's path is not known");
        return false;
    }
    w->answer = p4_json_need(cJSON_Duplicate(res->object, 1));
    if (kube_send_as(r, "GET", path, on_live) != 0) {
        cJSON_Delete(w->answer);
        w->answer = NULL;
        p4_plan_unread(&w->plan, av, res->kind, res->namespace_, res->name,
                       "the live object could not be read");
        return false;
    }
    return true;
}

static void on_dry_run(const struct p4_apply_result *res, void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);
    const cJSON *obj;
    char msg[P4_ERROR_MESSAGE_MAX], said[P4_ERROR_MESSAGE_MAX];
    struct p4_error e = {0};
    struct failure f;

    if (r == NULL)
        return;
    obj = cJSON_GetArrayItem(r->w->objects, r->w->obj_i);
    switch (p4_helm_dry_run_answer(res, r->w->objects, obj, r->create_namespace, &f)) {
    case DRY_ACCEPTED:
        if (r->plan_wanted && plan_answer(r, obj, res))
            return;
        r->w->obj_i++;
        dry_run_next(r);
        return;
    case DRY_SKIP_CRD:
        if (r->plan_wanted)
            p4_plan_created(&r->w->plan, p4_json_str(obj, "apiVersion"), res->kind, res->namespace_,
                            res->name);
        r->w->skipped++;
        (void)snprintf(r->w->skipped_why, sizeof(r->w->skipped_why),
                       "; %d of kinds the chart's own CRDs define are checked once the "
                       "Kubernetes stage has applied those CRDs",
                       r->w->skipped);
        r->w->obj_i++;
        dry_run_next(r);
        return;
    case DRY_SKIP_NAMESPACE:
        if (r->plan_wanted)
            p4_plan_created(&r->w->plan, p4_json_str(obj, "apiVersion"), res->kind, res->namespace_,
                            res->name);
        r->w->skipped++;
        (void)snprintf(r->w->skipped_why, sizeof(r->w->skipped_why),
                       "; %d wait for namespace %s, which the Kubernetes stage creates "
                       "(spec.target.createNamespace), to be checked",
                       r->w->skipped, r->base.target_ns);
        r->w->obj_i++;
        dry_run_next(r);
        return;
    case DRY_FAILED:
        break;
    }
    if (f.cls == P4_FAIL_TRANSIENT) {
        e = res->err;
        p4_stagerun_fail(&r->base, f.cls, f.gate, f.reason, &e);
        return;
    }
    /* The API server echoes values ("Invalid value: ..."): redacted before the message cuts it.
       Its own words when it refused: the sentence below names the object and the dry run. */
    (void)snprintf(said, sizeof(said), "%s", res->said ? res->said : res->err.message);
    p4_redact_str(r->base.redact, said);
    (void)p4_helm_dry_run_rejected(res->kind, res->namespace_, res->name, said, msg, sizeof(msg));
    e.code = res->rc;
    (void)snprintf(e.message, sizeof(e.message), "%s", msg);
    p4_stagerun_fail(&r->base, f.cls, f.gate, f.reason, &e);
}

static void dry_run_next(struct run *r)
{
    struct work *w = r->w;
    struct p4_apply_opts opts = {
        .namespace_ = r->base.target_ns, .dry_run = true, .force = r->force};
    const cJSON *obj;

    /* The chart's tests become the Validation stage's Jobs: nothing applies them as they are. */
    while (w->obj_i < w->nobj && p4_manifest_test_hook(cJSON_GetArrayItem(w->objects, w->obj_i))) {
        w->tests++;
        w->obj_i++;
    }
    if (w->obj_i >= w->nobj) {
        char tests[128] = "";
        if (w->tests > 0)
            (void)snprintf(tests, sizeof(tests),
                           "; %d test hook(s) are run by the Validation stage as Jobs", w->tests);
        r->nobjects = w->nobj;
        if (r->plan_wanted) {
            cJSON_Delete(r->plan);
            r->plan = p4_plan_status(&w->plan, r->base.generation, r->inventory, r->images);
        }
        p4_stagerun_gate(
            &r->base, G_DRYRUN, "True", "DryRunPassed",
            "helm template rendered %d object(s); the API server accepted %d of them in a "
            "server-side dry run (dryRun=All)%s%s",
            w->nobj, w->nobj - w->skipped - w->tests, w->skipped_why, tests);
        p4_stagerun_next(&r->base, S_STORE);
        return;
    }
    obj = cJSON_GetArrayItem(w->objects, w->obj_i);
    r->base.inflight++;
    if (p4_apply_object(r->base.kube, stage_of(r)->cfg.discovery, obj, &opts, on_dry_run, r) != 0) {
        r->base.inflight--;
        p4_stagerun_failf(
            &r->base, P4_FAIL_ARTIFACT, G_DRYRUN, "TemplateRenderFailed",
            "rendered object %d (%s) has no apiVersion, kind or name, or too long a one",
            w->obj_i + 1, p4_json_str(obj, "kind") ? p4_json_str(obj, "kind") : "?");
    }
}

void p4_helm_dry_run(struct run *r)
{
    struct work *w = r->w;
    struct p4_error err = {0};

    if (w->objects == NULL) {
        w->objects = p4_manifest_split(w->manifest ? w->manifest : "", w->manifest_len, &err);
        if (w->objects == NULL) {
            p4_stagerun_fail(&r->base, P4_FAIL_ARTIFACT, G_DRYRUN, "TemplateRenderFailed", &err);
            return;
        }
    }
    w->nobj = cJSON_GetArraySize(w->objects);
    w->obj_i = 0;
    w->skipped = 0;
    w->tests = 0;
    w->skipped_why[0] = '\0';
    p4_plan_close(&w->plan);
    if (r->plan_wanted)
        p4_plan_init(&w->plan);
    p4_stagerun_gate(&r->base, G_DRYRUN, "Unknown", "Checking",
                     "server-side dry run of %d rendered object(s)", w->nobj);
    dry_run_next(r);
}
