/* reconcile.c: Phase4Deployment status and Events (see reconciler.h). */
#include "phase4/reconciler.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "phase4/alloc.h"
#include "phase4/json.h"
#include "phase4/log.h"
#include "phase4/stage.h"

static const char *const stage_names[P4_STAGE_COUNT] = {"Docker", "Helm", "Kubernetes",
                                                        "Validation"};
static const char *const stage_conditions[P4_STAGE_COUNT] = {"DockerReady", "HelmReady",
                                                             "KubernetesReady", "Validated"};

const char *p4_stage_name(enum p4_stage_id id)
{
    return (unsigned)id < P4_STAGE_COUNT ? stage_names[id] : "Unknown";
}

const char *p4_stage_condition(enum p4_stage_id id)
{
    return (unsigned)id < P4_STAGE_COUNT ? stage_conditions[id] : "Unknown";
}

/* Set one metav1.Condition, keeping lastTransitionTime when the status is unchanged. */
static void set_condition(cJSON *conds, const char *type, const char *status, const char *reason,
                          const char *message, int64_t generation, const char *now)
{
    cJSON *c, *found = NULL;
    const char *since = now;

    cJSON_ArrayForEach(c, conds) {
        const char *t = p4_json_str(c, "type");
        if (t && strcmp(t, type) == 0) {
            found = c;
            break;
        }
    }
    if (found) {
        const char *old_status = p4_json_str(found, "status");
        const char *old_since = p4_json_str(found, "lastTransitionTime");
        if (old_status && strcmp(old_status, status) == 0 && old_since)
            since = old_since;
    }
    c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "type", type);
    cJSON_AddStringToObject(c, "status", status);
    cJSON_AddNumberToObject(c, "observedGeneration", (double)generation);
    cJSON_AddStringToObject(c, "lastTransitionTime", since);
    cJSON_AddStringToObject(c, "reason", reason);
    cJSON_AddStringToObject(c, "message", message);
    if (found) {
        int i = 0;
        cJSON *it;
        cJSON_ArrayForEach(it, conds) {
            if (it == found)
                break;
            i++;
        }
        cJSON_ReplaceItemInArray(conds, i, c);
    } else {
        cJSON_AddItemToArray(conds, c);
    }
}

static void set_string(cJSON *obj, const char *key, const char *value)
{
    cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
    cJSON_AddStringToObject(obj, key, value);
}

cJSON *p4_reconciler_desired_status(const cJSON *obj, const char *now)
{
    const cJSON *cur = p4_json_get(obj, "status");
    cJSON *st = cJSON_IsObject(cur) ? cJSON_Duplicate(cur, 1) : cJSON_CreateObject();
    cJSON *conds = cJSON_GetObjectItemCaseSensitive(st, "conditions");
    int64_t generation = 0;
    bool suspend = false;
    const char *stage = p4_json_str(st, "stage");
    char msg[256];

    (void)p4_json_int64(obj, "metadata.generation", &generation);
    (void)p4_json_bool(obj, "spec.suspend", &suspend);
    if (!cJSON_IsArray(conds)) {
        cJSON_DeleteItemFromObjectCaseSensitive(st, "conditions");
        conds = cJSON_AddArrayToObject(st, "conditions");
    }
    if (stage == NULL || stage[0] == '\0') {
        stage = p4_stage_name(P4_STAGE_DOCKER);
        set_string(st, "stage", stage);
    }
    cJSON_DeleteItemFromObjectCaseSensitive(st, "observedGeneration");
    cJSON_AddNumberToObject(st, "observedGeneration", (double)generation);

    if (suspend) {
        (void)snprintf(msg, sizeof(msg),
                       "Generation %" PRId64 ": suspended (spec.suspend is true); nothing is "
                       "checked or applied until it is false",
                       generation);
        set_condition(conds, "Ready", "Unknown", "Suspended", msg, generation, now);
        set_condition(conds, "Reconciling", "False", "Suspended", msg, generation, now);
        return st;
    }
    (void)snprintf(msg, sizeof(msg),
                   "Generation %" PRId64 ": checking the %s stage (stages run in order: Docker, "
                   "Helm, Kubernetes, Validation)",
                   generation, stage);
    set_condition(conds, "Ready", "Unknown", "Progressing", msg, generation, now);
    set_condition(conds, "Reconciling", "True", "Progressing", msg, generation, now);
    return st;
}

struct write_ctx {
    struct p4_controller *ctl;
    struct p4_reconciler *r;
    char *key;
    char *event_reason;
    char *event_message;
};

static void on_status_written(struct p4_kube_result *res, void *data)
{
    struct write_ctx *w = data;
    int rc = 0;

    if (res->rc == 0) {
        w->r->status_writes++;
        if (w->event_reason && res->body)
            p4_events_emit(w->r->events, res->body, "Normal", w->event_reason, w->event_message);
    } else if (res->rc == P4_ERR_NOTFOUND || res->rc == P4_ERR_CANCELED) {
        /* Deleted meanwhile, or shutting down: nothing to retry. */
    } else {
        /* A conflict means our cached copy was stale: the watch brings the new one. */
        p4_log(res->rc == P4_ERR_CONFLICT ? P4_LOG_DEBUG : P4_LOG_WARN,
               "status update failed, will retry", "key", w->key, "error", res->err.message,
               P4_LOG_END);
        rc = res->rc;
    }
    p4_controller_done(w->ctl, w->key, rc, 0);
    free(w->key);
    free(w->event_reason);
    free(w->event_message);
    free(w);
}

static void now_rfc3339(char *buf, size_t size)
{
    time_t t = time(NULL);
    struct tm tm;

    (void)gmtime_r(&t, &tm);
    (void)strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void p4_reconcile(struct p4_controller *c, const char *key, void *data)
{
    struct p4_reconciler *r = data;
    const cJSON *obj = p4_informer_get(r->resources, key);
    const char *ns, *name, *rv;
    cJSON *desired, *patch, *meta;
    char now[32], path[1024], ens[256], ename[512];
    int64_t generation = 0, observed = -1;
    struct write_ctx *w;
    char *body;

    if (obj == NULL || p4_json_get(obj, "metadata.deletionTimestamp") != NULL) {
        p4_controller_done(c, key, 0, 0);
        return;
    }
    ns = p4_json_str(obj, "metadata.namespace");
    name = p4_json_str(obj, "metadata.name");
    rv = p4_json_str(obj, "metadata.resourceVersion");
    if (ns == NULL || name == NULL || p4_kube_escape(ns, ens, sizeof(ens)) != 0 ||
        p4_kube_escape(name, ename, sizeof(ename)) != 0) {
        p4_controller_done(c, key, 0, 0);
        return;
    }
    now_rfc3339(now, sizeof(now));
    desired = p4_reconciler_desired_status(obj, now);
    if (cJSON_Compare(desired, p4_json_get(obj, "status"), 1)) {
        cJSON_Delete(desired); /* nothing changed: no write, no Event */
        p4_controller_done(c, key, 0, 0);
        return;
    }
    (void)p4_json_int64(obj, "metadata.generation", &generation);
    (void)p4_json_int64(obj, "status.observedGeneration", &observed);

    w = p4_calloc(1, sizeof(*w));
    w->ctl = c;
    w->r = r;
    w->key = p4_strdup(key);
    if (observed != generation) {
        char msg[256];
        bool suspend = false;
        (void)p4_json_bool(obj, "spec.suspend", &suspend);
        (void)snprintf(msg, sizeof(msg), "Generation %" PRId64 ": %s", generation,
                       suspend ? "suspended; no stage runs until spec.suspend is false"
                               : "started; checking the Docker stage");
        w->event_reason = p4_strdup(suspend ? "Suspended" : "Progressing");
        w->event_message = p4_strdup(msg);
    }
    /* The resourceVersion makes the write conditional on what we computed from. */
    patch = cJSON_CreateObject();
    meta = cJSON_AddObjectToObject(patch, "metadata");
    if (rv)
        cJSON_AddStringToObject(meta, "resourceVersion", rv);
    cJSON_AddItemToObject(patch, "status", desired);
    body = p4_json_print(patch);
    cJSON_Delete(patch);
    (void)snprintf(path, sizeof(path), "/apis/%s/%s/namespaces/%s/%s/%s/status", P4_API_GROUP,
                   P4_API_VERSION, ens, P4_RESOURCE, ename);
    if (p4_kube_request(r->kube, "PATCH", path, "application/merge-patch+json", body,
                        strlen(body), on_status_written, w) != 0) {
        free(w->key);
        free(w->event_reason);
        free(w->event_message);
        free(w);
        p4_controller_done(c, key, P4_ERR_INTERNAL, 0);
    }
    free(body);
}
