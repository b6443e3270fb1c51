/*
 * stages/docker/build.c: the Docker stage's S_BUILD step (steps.h): a Job the
 * user describes in spec.image.build, created (dry-run first) and owned by the
 * resource, watched through the Jobs informer with a deadline, and its
 * failure told with the last lines of its pod's log.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/core/json.h"
#include "phase4/core/log.h"
#include "phase4/kube/apistatus.h"
#include "steps.h"

void p4_docker_job_name(const char *name, int64_t generation, char *buf, size_t size)
{
    /* Within the 63 characters a Job's name may have. */
    (void)snprintf(buf, size, "%.40s-build-%" PRId64, name, generation);
}

static const cJSON *true_condition(const cJSON *obj, const char *type)
{
    const cJSON *c;

    cJSON_ArrayForEach(c, p4_json_get(obj, "status.conditions")) {
        const char *t = p4_json_str(c, "type"), *st = p4_json_str(c, "status");
        if (t && st && strcmp(t, type) == 0 && strcmp(st, "True") == 0)
            return c;
    }
    return NULL;
}

enum job_state p4_docker_job_state(const cJSON *job, const char *uid, char *why, size_t size)
{
    const cJSON *failed;

    if (job == NULL || !p4_owned_by(job, uid))
        return JOB_UNSEEN;
    if (true_condition(job, "Complete"))
        return JOB_SUCCEEDED;
    failed = true_condition(job, "Failed");
    if (failed == NULL)
        return JOB_RUNNING;
    (void)snprintf(why, size, "%s: %s",
                   p4_json_str(failed, "reason") ? p4_json_str(failed, "reason") : "Failed",
                   p4_json_str(failed, "message") ? p4_json_str(failed, "message") : "");
    return JOB_FAILED;
}

void p4_docker_build_failed_verdict(const char *ns, const char *job, const char *why,
                                    const char *log, struct verdict *v)
{
    *v = (struct verdict){
        .outcome = V_FAIL, .gate = G_BUILT, .cls = P4_FAIL_ARTIFACT, .reason = "BuildFailed"};
    p4_error_set(&v->err, P4_ERR_INVALID,
                 "build Job %s/%s failed (%s)%s%s; fix the build and change the resource to run "
                 "it again",
                 ns, job, why && why[0] ? why : "no reason given",
                 log && log[0] ? "; last log lines: " : "", log ? log : "");
}

enum job_created p4_docker_job_created_verdict(int rc, const struct p4_error *e, struct verdict *v)
{
    if (rc == P4_ERR_EXISTS) /* ours from before a restart, or someone else's */
        return JOB_EXISTS;
    if (rc == 0)
        return JOB_CREATED;
    *v = (struct verdict){.outcome = V_FAIL, .gate = G_BUILT};
    if (e != NULL && p4_apistatus_namespace_terminating(rc, e->message)) {
        v->cls = P4_FAIL_TRANSIENT;
        v->reason = "NamespaceTerminating";
        v->err = *e;
        return JOB_REFUSED;
    }
    switch (rc) {
    case P4_ERR_INVALID:
    case P4_ERR_BADREQUEST:
        v->no_recheck = true;
        v->cls = P4_FAIL_CLUSTER;
        v->reason = "BuildJobInvalid";
        p4_error_set(&v->err, P4_ERR_INVALID,
                     "the API server refused the build Job from spec.image.build.template: %s",
                     e->message);
        break;
    case P4_ERR_FORBIDDEN:
        v->cls = P4_FAIL_CLUSTER;
        v->reason = "Forbidden";
        v->err = *e;
        break;
    default:
        v->cls = P4_FAIL_TRANSIENT;
        v->reason = "APIUnavailable";
        v->err = *e;
    }
    return JOB_REFUSED;
}

bool p4_docker_job_existing_verdict(int rc, const struct p4_error *e, const cJSON *job,
                                    const char *uid, const char *ns, const char *name,
                                    struct verdict *v)
{
    if (rc == 0 && p4_owned_by(job, uid))
        return false;
    *v = (struct verdict){.outcome = V_FAIL, .gate = G_BUILT, .cls = P4_FAIL_CLUSTER};
    if (rc != 0) {
        if (p4_kube_read_class(rc) != P4_FAIL_CLUSTER)
            v->cls = P4_FAIL_TRANSIENT;
        v->reason = "APIUnavailable";
        v->err = *e;
    } else {
        v->no_recheck = true;
        v->reason = "BuildJobConflict";
        p4_error_set(&v->err, P4_ERR_INVALID,
                     "a Job %s/%s exists that this Phase4Deployment does not own; "
                     "phase4-operator leaves it alone: delete or rename it",
                     ns, name);
    }
    return true;
}

bool p4_docker_build_log_path(const cJSON *pods, const char *ns, char *path, size_t size)
{
    const cJSON *it, *pick = NULL;
    const char *pod, *container;
    char epod[512], ec[256];

    cJSON_ArrayForEach(it, p4_json_get(pods, "items")) {
        const char *a = p4_json_str(it, "metadata.creationTimestamp");
        const char *b = pick ? p4_json_str(pick, "metadata.creationTimestamp") : NULL;
        if (pick == NULL || (a && b && strcmp(a, b) >= 0))
            pick = it; /* the newest attempt */
    }
    pod = pick ? p4_json_str(pick, "metadata.name") : NULL;
    container =
        pick ? p4_json_str(cJSON_GetArrayItem(p4_json_get(pick, "spec.containers"), 0), "name")
             : NULL;
    if (pod == NULL || container == NULL || p4_kube_escape(pod, epod, sizeof(epod)) != 0 ||
        p4_kube_escape(container, ec, sizeof(ec)) != 0)
        return false;
    p4_core_path(path, size, ns, "pods", "");
    (void)snprintf(path + strlen(path), size - strlen(path),
                   "/%s/log?container=%s&tailLines=5&limitBytes=4096", epod, ec);
    return true;
}

cJSON *p4_docker_job_object(const cJSON *image, const char *ns, const char *name, const char *uid,
                            int64_t generation, const char *job_name)
{
    cJSON *job = cJSON_CreateObject(), *meta, *labels, *owners, *owner, *spec;
    char gen[32];

    cJSON_AddStringToObject(job, "apiVersion", "batch/v1");
    cJSON_AddStringToObject(job, "kind", "Job");
    meta = cJSON_AddObjectToObject(job, "metadata");
    cJSON_AddStringToObject(meta, "name", job_name);
    cJSON_AddStringToObject(meta, "namespace", ns);
    labels = cJSON_AddObjectToObject(meta, "labels");
    cJSON_AddStringToObject(labels, "app.kubernetes.io/managed-by", "phase4-operator");
    cJSON_AddStringToObject(labels, "phase4.io/name", name);
    (void)snprintf(gen, sizeof(gen), "%" PRId64, generation);
    cJSON_AddStringToObject(labels, "phase4.io/generation", gen);
    cJSON_AddStringToObject(labels, "phase4.io/purpose", "build");
    owners = cJSON_AddArrayToObject(meta, "ownerReferences");
    owner = cJSON_CreateObject();
    cJSON_AddStringToObject(owner, "apiVersion", "phase4.io/v1alpha1");
    cJSON_AddStringToObject(owner, "kind", "Phase4Deployment");
    cJSON_AddStringToObject(owner, "name", name);
    cJSON_AddStringToObject(owner, "uid", uid);
    cJSON_AddBoolToObject(owner, "controller", 1);
    cJSON_AddBoolToObject(owner, "blockOwnerDeletion", 1);
    cJSON_AddItemToArray(owners, owner);
    spec = cJSON_Duplicate(p4_json_get(image, "build.template"), 1);
    if (!cJSON_IsObject(spec)) {
        cJSON_Delete(spec);
        spec = cJSON_CreateObject();
    }
    if (p4_json_get(spec, "activeDeadlineSeconds") == NULL) /* the Job ends itself in time */
        cJSON_AddNumberToObject(
            spec, "activeDeadlineSeconds",
            (double)(uint64_t)((p4_duration_ms(p4_json_str(image, "build.timeout"), 1800000) +
                                999) /
                               1000));
    cJSON_AddItemToObject(job, "spec", spec);
    return job;
}

/* The build failed: say why, with the last lines of its pod's log. */
static void build_failed(struct run *r, const char *log)
{
    struct verdict v;

    r->base.attempt = r->base.attempts; /* a rebuild of the same spec fails the same way */
    p4_docker_build_failed_verdict(r->base.ns, r->job, r->base.err.message, log, &v);
    p4_docker_fail(r, &v);
}

static void on_build_log(struct p4_kube_result *res, void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);
    char tail[300] = "";

    if (r == NULL)
        return;
    if (res->rc == 0 && cJSON_IsString(res->body)) {
        p4_log_tail(res->body->valuestring, tail, sizeof(tail));
    } else {
        p4_log(P4_LOG_DEBUG, "cannot read the build's log", "key", r->base.key, "job", r->job,
               "error", res->err.message, P4_LOG_END);
    }
    build_failed(r, tail);
}

static void on_build_pods(struct p4_kube_result *res, void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);
    char path[1200];

    if (r == NULL)
        return;
    if (!p4_docker_build_log_path(res->rc == 0 ? res->body : NULL, r->base.ns, path,
                                  sizeof(path))) {
        p4_log(P4_LOG_DEBUG, "no pod of the build Job to read a log from", "key", r->base.key,
               "job", r->job, "error", res->rc ? res->err.message : "none listed", P4_LOG_END);
        build_failed(r, NULL);
        return;
    }
    r->base.inflight++;
    if (p4_kube_get_accept(stage_of(r)->cfg.kube, path, "text/plain", on_build_log, r) != 0) {
        r->base.inflight--;
        build_failed(r, NULL);
    }
}

void p4_docker_build_check(struct run *r)
{
    char jkey[400], path[1024], sel[200];
    const cJSON *job;

    (void)snprintf(jkey, sizeof(jkey), "%s/%s", r->base.ns, r->job);
    job = stage_of(r)->cfg.jobs ? p4_informer_get(stage_of(r)->cfg.jobs, jkey) : NULL;
    /* The Job's failure is kept in the run's error until its log is read. */
    switch (
        p4_docker_job_state(job, r->base.uid, r->base.err.message, sizeof(r->base.err.message))) {
    case JOB_UNSEEN: /* not in the cache yet */
    case JOB_RUNNING:
        return;
    case JOB_SUCCEEDED:
        r->job_done = true;
        p4_stagerun_gate(&r->base, G_BUILT, "True", "BuildSucceeded", "build Job %s/%s succeeded",
                         r->base.ns, r->job);
        p4_stagerun_next(&r->base, S_GATHER);
        return;
    case JOB_FAILED:
        break;
    }
    r->job_settling = true;
    (void)uv_timer_stop(&r->base.timer);
    p4_core_path(path, sizeof(path), r->base.ns, "pods", ""); /* the collection */
    if (p4_kube_escape(r->job, sel, sizeof(sel)) != 0)
        sel[0] = '\0';
    (void)snprintf(path + strlen(path), sizeof(path) - strlen(path),
                   "?labelSelector=job-name%%3D%s", sel);
    r->base.inflight++;
    if (p4_kube_request(stage_of(r)->cfg.kube, "GET", path, NULL, NULL, 0, on_build_pods, r) != 0) {
        r->base.inflight--;
        build_failed(r, NULL);
    }
}

static void on_build_deadline(uv_timer_t *t)
{
    struct run *r = t->data;

    if (r->w == NULL || r->base.step != S_BUILD || r->job_done || r->job_settling)
        return;
    r->base.attempt = r->base.attempts;
    p4_stagerun_failf(&r->base, P4_FAIL_ARTIFACT, G_BUILT, "BuildTimedOut",
                      "build Job %s/%s did not finish within spec.image.build.timeout", r->base.ns,
                      r->job);
}

static void building(struct run *r)
{
    uint64_t now = uv_now(stage_of(r)->sr.loop);

    p4_stagerun_gate(&r->base, G_BUILT, "Unknown", "Building", "build Job %s/%s is running",
                     r->base.ns, r->job);
    p4_stagerun_arm(&r->base, r->build_deadline > now ? r->build_deadline - now : 0,
                    on_build_deadline);
    p4_stagerun_notify(&r->base);
    p4_docker_build_check(r); /* it may be in the cache already */
}

static void on_job_existing(struct p4_kube_result *res, void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);
    struct verdict v;

    if (r == NULL)
        return;
    if (p4_docker_job_existing_verdict(res->rc, &res->err, res->body, r->base.uid, r->base.ns,
                                       r->job, &v)) {
        p4_docker_fail(r, &v);
        return;
    }
    r->job_created = true;
    building(r);
}

static void create_job(struct run *r, bool dry);

static void job_path(const struct run *r, char *buf, size_t size)
{
    char ens[256], ejob[200];

    if (p4_kube_escape(r->base.ns, ens, sizeof(ens)) != 0 ||
        p4_kube_escape(r->job, ejob, sizeof(ejob)) != 0)
        ens[0] = ejob[0] = '\0';
    (void)snprintf(buf, size, "/apis/batch/v1/namespaces/%s/jobs/%s", ens, ejob);
}

static void on_job_created(struct p4_kube_result *res, void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);
    struct verdict v;
    char path[1024];

    if (r == NULL)
        return;
    switch (p4_docker_job_created_verdict(res->rc, &res->err, &v)) {
    case JOB_EXISTS:
        job_path(r, path, sizeof(path));
        r->base.inflight++;
        if (p4_kube_request(r->base.kube, "GET", path, NULL, NULL, 0, on_job_existing, r) != 0) {
            r->base.inflight--;
            p4_stagerun_failf(&r->base, P4_FAIL_TRANSIENT, G_BUILT, "APIUnavailable",
                              "cannot ask the API server for Job %s/%s", r->base.ns, r->job);
        }
        break;
    case JOB_CREATED:
        if (r->job_dry_run) {
            r->job_dry_run = false;
            create_job(r, false); /* admission and validation accepted it: create it */
            break;
        }
        r->job_created = true;
        building(r);
        break;
    case JOB_REFUSED:
        p4_docker_fail(r, &v);
        break;
    }
}

static void create_job(struct run *r, bool dry)
{
    cJSON *job = p4_docker_job_object(r->image, r->base.ns, r->base.name, r->base.uid,
                                      r->base.generation, r->job);
    char path[1024], ens[256];
    char *body;
    int rc;

    body = p4_json_print(job);
    cJSON_Delete(job);
    if (p4_kube_escape(r->base.ns, ens, sizeof(ens)) != 0)
        ens[0] = '\0';
    (void)snprintf(path, sizeof(path), "/apis/batch/v1/namespaces/%s/jobs%s", ens,
                   dry ? "?dryRun=All&fieldManager=phase4-operator"
                       : "?fieldManager=phase4-operator");
    r->base.inflight++;
    r->job_dry_run = dry;
    rc = p4_kube_request(r->base.kube, "POST", path, NULL, body, body ? strlen(body) : 0,
                         on_job_created, r);
    free(body);
    if (rc != 0) {
        r->base.inflight--;
        p4_stagerun_failf(&r->base, P4_FAIL_TRANSIENT, G_BUILT, "APIUnavailable",
                          "cannot ask the API server to create build Job %s/%s", r->base.ns,
                          r->job);
    }
}

void p4_docker_build(struct run *r)
{
    if (p4_json_get(r->image, "build") == NULL || r->job_done) {
        p4_stagerun_next(&r->base, S_GATHER);
        return;
    }
    if (r->job_created) { /* a retry after an outage: it is there */
        building(r);
        return;
    }
    p4_stagerun_gate(&r->base, G_BUILT, "Unknown", "Building", "creating build Job %s/%s",
                     r->base.ns, r->job);
    create_job(r, true);
}
