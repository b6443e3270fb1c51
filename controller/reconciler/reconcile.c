/* reconcile.c: Phase4Deployment status and Events (see reconcile.h). */
#include "phase4/reconciler/reconcile.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "phase4/core/alloc.h"
#include "phase4/core/buf.h"
#include "phase4/core/json.h"
#include "phase4/core/log.h"
#include "phase4/core/text.h"
#include "phase4/core/timefmt.h"
#include "phase4/reconciler/approval.h"
#include "phase4/reconciler/finalizer.h"
#include "phase4/reconciler/stage.h"
#include "phase4/reconciler/statusnews.h"
#include "policy.h"
#include "rollback.h"
#include "verdict.h"

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

void p4_stage_result_close(struct p4_stage_result *r)
{
    if (r == NULL)
        return;
    cJSON_Delete(r->gates);
    cJSON_Delete(r->status);
    r->gates = NULL;
    r->status = NULL;
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

static const cJSON *find_condition(const cJSON *conds, const char *type)
{
    return p4_json_find(conds, "type", type);
}

static void remove_condition(cJSON *conds, const char *type)
{
    int i = 0;
    const cJSON *c;

    cJSON_ArrayForEach(c, conds) {
        const char *t = p4_json_str(c, "type");
        if (t && strcmp(t, type) == 0) {
            cJSON_DeleteItemFromArray(conds, i);
            return;
        }
        i++;
    }
}

/* Work goes on: Ready Unknown, Reconciling True, not Stalled. */
static void progressing(cJSON *conds, const char *msg, int64_t generation, const char *now)
{
    set_condition(conds, "Ready", "Unknown", "Progressing", msg, generation, now);
    set_condition(conds, "Reconciling", "True", "Progressing", msg, generation, now);
    remove_condition(conds, "Stalled");
}

/* An Event's message is kept to 1 KiB (events.k8s.io's limit for a note), cut with "...". */
#define EVENT_MESSAGE_MAX 1024

static void add_event(cJSON *events, const char *type, const char *reason, const char *message)
{
    char cut[EVENT_MESSAGE_MAX];
    cJSON *e;

    if (events == NULL)
        return;
    if (strlen(message) >= sizeof(cut)) {
        (void)p4_text_clean(cut, sizeof(cut), message, strlen(message), P4_TEXT_KEEP_RUNS);
        message = cut;
    }
    e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "type", type);
    cJSON_AddStringToObject(e, "reason", reason);
    cJSON_AddStringToObject(e, "message", message);
    cJSON_AddItemToArray(events, e);
}

/*
 * A condition's change is news: True is Normal, False is a Warning, and so is
 * Unknown with a reason other than Checking or StageNotAvailable (a problem
 * being waited out).
 */
static void condition_event(const cJSON *old_conds, const cJSON *conds, const char *type,
                            cJSON *events)
{
    const cJSON *was = find_condition(old_conds, type), *now = find_condition(conds, type);
    const char *status, *reason, *message;

    if (now == NULL)
        return;
    status = p4_json_str(now, "status");
    reason = p4_json_str(now, "reason");
    message = p4_json_str(now, "message");
    if (status == NULL || reason == NULL || message == NULL)
        return;
    if (was && p4_json_str(was, "status") && p4_json_str(was, "reason") &&
        strcmp(p4_json_str(was, "status"), status) == 0 &&
        strcmp(p4_json_str(was, "reason"), reason) == 0)
        return;
    if (strcmp(status, "True") == 0)
        add_event(events, strcmp(type, "Stalled") == 0 ? "Warning" : "Normal", reason, message);
    else if (strcmp(status, "False") == 0 ||
             (strcmp(reason, "Checking") != 0 && strcmp(reason, "StageNotAvailable") != 0))
        add_event(events, "Warning", reason, message);
}

/*
 * A failed attempt with retries left is news once per attempt: one Warning with the stage's
 * reason and Reconciling's message ("... failed on attempt 2 of 3, retrying: ..."), which
 * changes with each attempt. Returns whether Reconciling says Retrying: then the failed stage's
 * condition has no Event of its own (this Warning tells it, so one Event per attempt).
 */
static bool retry_event(const cJSON *old_conds, const cJSON *conds, cJSON *events)
{
    const cJSON *was = find_condition(old_conds, "Reconciling");
    const cJSON *now = find_condition(conds, "Reconciling");
    const cJSON *ready = find_condition(conds, "Ready");
    const char *reason = p4_json_str(now, "reason"), *message = p4_json_str(now, "message");
    const char *why = p4_json_str(ready, "reason");

    if (now == NULL || reason == NULL || message == NULL || why == NULL ||
        strcmp(reason, "Retrying") != 0)
        return false;
    if (was == NULL || !p4_text_eq(p4_json_str(was, "reason"), "Retrying") ||
        !p4_text_eq(p4_json_str(was, "message"), message))
        add_event(events, "Warning", why, message);
    return true;
}

/* The stage's gates in status, keeping each gate's lastTransitionTime while its status holds. */
static void merge_gates(cJSON *st, const char *stage, const cJSON *gates, const char *now)
{
    const cJSON *old = p4_json_get(st, "gates");
    cJSON *out = cJSON_CreateArray(), *g;

    cJSON_ArrayForEach(g, old) { /* other stages' gates stay */
        const char *s = p4_json_str(g, "stage");
        if (s == NULL || strcmp(s, stage) != 0)
            cJSON_AddItemToArray(out, cJSON_Duplicate(g, 1));
    }
    cJSON_ArrayForEach(g, gates) {
        cJSON *n = cJSON_Duplicate(g, 1);
        const char *name = p4_json_str(g, "name"), *status = p4_json_str(g, "status");
        const char *since = now;
        const cJSON *o;
        cJSON_ArrayForEach(o, old) {
            const char *os = p4_json_str(o, "stage"), *on = p4_json_str(o, "name");
            const char *ost = p4_json_str(o, "status"), *ot = p4_json_str(o, "lastTransitionTime");
            if (os && on && ost && ot && name && status && strcmp(os, stage) == 0 &&
                strcmp(on, name) == 0 && strcmp(ost, status) == 0)
                since = ot;
        }
        cJSON_AddStringToObject(n, "lastTransitionTime", since);
        cJSON_AddItemToArray(out, n);
    }
    cJSON_DeleteItemFromObjectCaseSensitive(st, "gates");
    cJSON_AddItemToObject(st, "gates", out);
}

/* Members of status a stage owns, dropped when its result is not this generation's. */
#define MEMBERS_MAX 2
static const char *const stage_members[P4_STAGE_COUNT][MEMBERS_MAX] = {
    {"image", NULL}, {"chart", "plan"}, {NULL, NULL}, {NULL, NULL}};

/* Forget what stage i said for an older generation: its gates, condition and status members. */
static void drop_stage(cJSON *st, cJSON *conds, int i)
{
    const cJSON *gates = p4_json_get(st, "gates");
    cJSON *keep = cJSON_CreateArray(), *g;

    cJSON_ArrayForEach(g, gates) {
        const char *s = p4_json_str(g, "stage");
        if (s == NULL || strcmp(s, stage_names[i]) != 0)
            cJSON_AddItemToArray(keep, cJSON_Duplicate(g, 1));
    }
    cJSON_DeleteItemFromObjectCaseSensitive(st, "gates");
    if (cJSON_GetArraySize(keep) > 0)
        cJSON_AddItemToObject(st, "gates", keep);
    else
        cJSON_Delete(keep);
    remove_condition(conds, stage_conditions[i]);
    for (int m = 0; m < MEMBERS_MAX; m++)
        if (stage_members[i][m])
            cJSON_DeleteItemFromObjectCaseSensitive(st, stage_members[i][m]);
}

/* The name of the first gate of a stage result that is False, or NULL. */
static const char *false_gate(const struct p4_stage_result *res)
{
    const cJSON *g;

    cJSON_ArrayForEach(g, res->gates) {
        if (p4_text_eq(p4_json_str(g, "status"), "False"))
            return p4_json_str(g, "name");
    }
    return NULL;
}

/*
 * Stage i failed for this generation with no automatic retry left: Ready and Reconciling False
 * with its reason, Stalled True with whom it needs (policy.h: RegenerationRequired for a new
 * artifact, EscalatedToUser for a person), all with one message (p4_policy_final_message).
 */
static void stall_final(cJSON *conds, const cJSON *obj, int i, const struct p4_stage_result *res,
                        int64_t generation, const char *now)
{
    const char *why = res->err.reason ? res->err.reason : "Failed";
    struct p4_policy_final f = {.generation = generation,
                                .stage = i,
                                .gate = false_gate(res),
                                .reason = why,
                                .message = res->err.message,
                                .cls = res->cls,
                                .attempts = res->attempts,
                                .no_recheck = res->no_recheck};
    char msg[P4_ERROR_MESSAGE_MAX + 1024];

    p4_policy_final_message(obj, &f, msg, sizeof(msg));
    set_condition(conds, "Ready", "False", why, msg, generation, now);
    set_condition(conds, "Reconciling", "False", why, msg, generation, now);
    set_condition(conds, "Stalled", "True", p4_policy_stalled_reason(res->cls), msg, generation,
                  now);
}

/* Stage i failed with a retry left: Ready False with its reason, Reconciling True Retrying. */
static void retry_left(cJSON *conds, const cJSON *obj, int i, const struct p4_stage_result *res,
                       int64_t generation, const char *now)
{
    const char *why = res->err.reason ? res->err.reason : "Failed";
    const char *gate = false_gate(res);
    char msg[P4_ERROR_MESSAGE_MAX + 768], impact[300], at[160] = "";

    p4_policy_impact(obj, i, generation, impact, sizeof(impact));
    if (gate)
        (void)snprintf(at, sizeof(at), "gate %s ", gate);
    p4_text_format(msg, sizeof(msg),
                   "Generation %" PRId64 ": the %s stage failed on attempt %d of %d, retrying: "
                   "%s(%s): %.*s; %s",
                   generation, stage_names[i], res->attempt, res->attempts, at, why,
                   p4_policy_clause_len(res->err.message), res->err.message, impact);
    set_condition(conds, "Ready", "False", why, msg, generation, now);
    set_condition(conds, "Reconciling", "True", "Retrying", msg, generation, now);
    remove_condition(conds, "Stalled");
}

/*
 * How a stage being checked stands, for its condition and Ready's message: how many of its gates
 * passed, and which started or failed, with their reasons ("3 of 5 passed; in progress:
 * PodsRunning (Waiting), ServicesReady (Waiting)"); empty while none has. It changes exactly when
 * a gate starts or finishes (its status or reason), never with a gate's message, so a write that
 * carries a gate's transition shows in kubectl get -o wide and describe, and a wait's progress
 * does not (statusnews.h).
 */
static void gates_progress(char *out, size_t size, const cJSON *gates)
{
    static const char *const lists[2] = {"in progress", "failed"};
    struct p4_buf b = {0};
    const cJSON *g;
    int total = 0, passed = 0, told = 0;

    cJSON_ArrayForEach(g, gates) {
        total++;
        passed += p4_text_eq(p4_json_str(g, "status"), "True");
    }
    for (int l = 0; l < 2; l++) {
        int n = 0;
        cJSON_ArrayForEach(g, gates) {
            const char *status = p4_json_str(g, "status"), *reason = p4_json_str(g, "reason");
            const char *gname = p4_json_str(g, "name");
            bool failed = p4_text_eq(status, "False");
            if (gname == NULL || reason == NULL || failed != (l == 1) ||
                (!failed && (!p4_text_eq(status, "Unknown") || strcmp(reason, "Checking") == 0 ||
                             strcmp(reason, "NotChecked") == 0)))
                continue; /* passed, or not started */
            if (told++ == 0)
                p4_buf_printf(&b, "%d of %d passed", passed, total);
            if (n++ == 0)
                p4_buf_printf(&b, "; %s: ", lists[l]);
            else
                p4_buf_append(&b, ", ", 2);
            p4_buf_printf(&b, "%s (%s)", gname, reason);
        }
    }
    if (told == 0 && passed > 0)
        p4_buf_printf(&b, "%d of %d passed", passed, total);
    (void)snprintf(out, size, "%s", b.data ? b.data : "");
    free(b.data);
}

/*
 * Stage i's result, for this generation, into status. Returns true when it
 * passed (the next stage's turn), false when the resource waits on it.
 */
static bool put_stage(cJSON *st, cJSON *conds, const cJSON *obj, int i,
                      const struct p4_stage_result *res, int64_t generation, const char *now)
{
    const char *name = stage_names[i], *cond = stage_conditions[i];
    const char *why = res->err.reason ? res->err.reason : "Failed";
    char msg[P4_ERROR_MESSAGE_MAX + 256], gmsg[P4_ERROR_MESSAGE_MAX + 64];
    const cJSON *member, *was = find_condition(conds, cond);
    int64_t was_generation = -1;

    (void)p4_json_int64(was, "observedGeneration", &was_generation);
    if (res->state == P4_STAGE_RUNNING && was && was_generation == generation &&
        p4_json_str(was, "status") && strcmp(p4_json_str(was, "status"), "True") == 0 &&
        !(res->cls == P4_FAIL_TRANSIENT && res->err.code != 0))
        return true; /* passed this generation (before a restart): re-checked without a flap */
    if (res->state == P4_STAGE_RUNNING && was && was_generation == generation &&
        p4_text_eq(p4_json_str(was, "status"), "False") && !res->retried &&
        !(res->cls == P4_FAIL_TRANSIENT && res->err.code != 0))
        return false; /* failed this generation (before a restart): the failure stays on record
                         while it is checked again, so the same failure again is no news (no
                         second Warning at every start) and only a change is told */
    merge_gates(st, name, res->gates, now);
    cJSON_ArrayForEach(member, res->status) {
        cJSON_DeleteItemFromObjectCaseSensitive(st, member->string);
        cJSON_AddItemToObject(st, member->string, cJSON_Duplicate(member, 1));
    }
    switch (res->state) {
    case P4_STAGE_RUNNING:
        set_string(st, "stage", name);
        if (res->cls == P4_FAIL_TRANSIENT && res->err.code != 0) {
            set_condition(conds, cond, "Unknown", why, res->err.message, generation, now);
            (void)snprintf(msg, sizeof(msg),
                           "Generation %" PRId64 ": checking the %s stage; waiting: %s", generation,
                           name, res->err.message);
        } else {
            char progress[512];
            gates_progress(progress, sizeof(progress), res->gates);
            (void)snprintf(gmsg, sizeof(gmsg), "checking the %s gates%s%s", name,
                           progress[0] ? ": " : "", progress);
            set_condition(conds, cond, "Unknown", "Checking", gmsg, generation, now);
            if (progress[0]) /* where it stands first: kubectl get -o wide cuts nothing */
                (void)snprintf(msg, sizeof(msg),
                               "Generation %" PRId64 ": checking the %s stage; gates: %s",
                               generation, name, progress);
            else
                (void)snprintf(msg, sizeof(msg),
                               "Generation %" PRId64 ": checking the %s stage (stages run in "
                               "order: Docker, Helm, Kubernetes, Validation)",
                               generation, name);
        }
        progressing(conds, msg, generation, now);
        return false;
    case P4_STAGE_FAILED:
        set_string(st, "stage", name);
        set_condition(conds, cond, "False", why, res->err.message, generation, now);
        if (res->stalled)
            stall_final(conds, obj, i, res, generation, now);
        else
            retry_left(conds, obj, i, res, generation, now);
        return false;
    case P4_STAGE_PASSED:
        if (res->err.reason && res->err.message[0]) {
            set_condition(conds, cond, "True", res->err.reason, res->err.message, generation, now);
        } else { /* the Docker stage says what passed through status.image */
            const char *digest = p4_json_str(res->status, "image.digest");
            const char *repo = p4_json_str(obj, "spec.image.repository");
            (void)snprintf(msg, sizeof(msg), "image %s@%s passed every Docker gate",
                           repo ? repo : "", digest ? digest : "");
            set_condition(conds, cond, "True", "ImageReady", msg, generation, now);
        }
        return true;
    }
    return false;
}

/*
 * The status as it was, with what every answer sets first: conditions an
 * array, observedGeneration this generation, and what the stages said about
 * an older generation dropped (what an older spec gave must not pass for
 * this one's). *old_conds, *generation and *observed are read from obj.
 */
static cJSON *status_base(const cJSON *obj, cJSON **conds, const cJSON **old_conds,
                          int64_t *generation, int64_t *observed)
{
    const cJSON *cur = p4_json_get(obj, "status");
    cJSON *st = cJSON_IsObject(cur) ? cJSON_Duplicate(cur, 1) : cJSON_CreateObject();
    const char *stage = p4_json_str(st, "stage");

    *conds = cJSON_GetObjectItemCaseSensitive(st, "conditions");
    *old_conds = p4_json_get(cur, "conditions");
    *generation = 0;
    *observed = -1;
    (void)p4_json_int64(obj, "metadata.generation", generation);
    (void)p4_json_int64(obj, "status.observedGeneration", observed);
    if (!cJSON_IsArray(*conds)) {
        cJSON_DeleteItemFromObjectCaseSensitive(st, "conditions");
        *conds = cJSON_AddArrayToObject(st, "conditions");
    }
    if (stage == NULL || stage[0] == '\0' || *observed != *generation)
        set_string(st, "stage", p4_stage_name(P4_STAGE_DOCKER));
    if (*observed != *generation)
        for (int i = 0; i < P4_STAGE_COUNT; i++)
            for (int m = 0; m < MEMBERS_MAX; m++)
                if (stage_members[i][m])
                    cJSON_DeleteItemFromObjectCaseSensitive(st, stage_members[i][m]);
    cJSON_DeleteItemFromObjectCaseSensitive(st, "observedGeneration");
    cJSON_AddNumberToObject(st, "observedGeneration", (double)*generation);
    return st;
}

/*
 * The end of the walk: the verdict. i is the stage the walk stopped at (P4_STAGE_COUNT: every
 * stage passed). Every stage passed: SUCCESSFUL, Ready=True, or Ready=False with reason Degraded
 * while status.health names a problem found since. The stage it stopped at failed for this
 * generation (its condition False) with no retry left (Stalled): FAILED, with what failed and
 * the remedy. Otherwise the run goes on (a retry included) and there is no verdict yet.
 * status.report and status.readiness follow; one Event per verdict, and one when the workloads
 * degrade or recover.
 */
static void finish(cJSON *st, cJSON *conds, const cJSON *old_conds, const cJSON *obj,
                   const struct p4_stage_result *const *results, int i, int64_t generation,
                   const char *now, cJSON *events)
{
    const char *verdict = NULL, *old_verdict = p4_json_str(obj, "status.verdict");
    const char *old_ready = p4_json_str(find_condition(old_conds, "Ready"), "reason");
    struct p4_verdict_failure f = {0};
    char msg[P4_ERROR_MESSAGE_MAX + 1024], impact[300];
    int64_t old_gen = -1;

    (void)p4_json_int64(obj, "status.report.generation", &old_gen);
    if (i >= P4_STAGE_COUNT) {
        const char *problem = p4_json_str(st, "health.problem");
        verdict = "SUCCESSFUL";
        set_string(st, "stage", "Done");
        cJSON_DeleteItemFromObjectCaseSensitive(st, "lastKnownGoodRevision");
        cJSON_AddNumberToObject(st, "lastKnownGoodRevision", (double)generation);
        if (problem && problem[0]) {
            (void)snprintf(msg, sizeof(msg),
                           "Generation %" PRId64 ": SUCCESSFUL when validated, degraded since: %s",
                           generation, problem);
            /* Stalled too: kstatus reads Failed (Flux's wait fails at once, with this message,
               rather than wait out its timeout on a Ready=False it cannot class), Argo CD
               Degraded; it clears by itself when the workloads recover (docs/gitops.md). The
               Warning is Stalled's own Event (condition_event). */
            set_condition(conds, "Ready", "False", "Degraded", msg, generation, now);
            set_condition(conds, "Reconciling", "False", "Degraded", msg, generation, now);
            set_condition(conds, "Stalled", "True", "Degraded", msg, generation, now);
        } else {
            (void)snprintf(msg, sizeof(msg),
                           "Generation %" PRId64 ": SUCCESSFUL: every gate of the Docker, Helm, "
                           "Kubernetes and Validation stages passed",
                           generation);
            set_condition(conds, "Ready", "True", "Succeeded", msg, generation, now);
            set_condition(conds, "Reconciling", "False", "Succeeded", msg, generation, now);
            remove_condition(conds, "Stalled");
            if (p4_text_eq(old_ready, "Degraded") && old_gen == generation)
                add_event(events, "Normal", "Recovered", msg);
        }
    } else {
        const cJSON *c = find_condition(conds, stage_conditions[i]);
        const cJSON *stalled = find_condition(conds, "Stalled");
        int64_t cgen = -1;
        (void)p4_json_int64(c, "observedGeneration", &cgen);
        /* Final only: a failure with a retry left is not a verdict yet. */
        if (c && cgen == generation && p4_text_eq(p4_json_str(c, "status"), "False") &&
            p4_text_eq(p4_json_str(stalled, "status"), "True")) {
            const struct p4_stage_result *res = results ? results[i] : NULL;
            verdict = "FAILED";
            f.stage = stage_names[i];
            f.reason = p4_json_str(c, "reason");
            f.message = p4_json_str(c, "message");
            f.stalled = p4_text_eq(p4_json_str(stalled, "status"), "True");
            f.cls =
                res && res->state == P4_STAGE_FAILED ? res->cls
                : f.stalled && !p4_text_eq(p4_json_str(stalled, "reason"), "RegenerationRequired")
                    ? P4_FAIL_CLUSTER
                    : P4_FAIL_ARTIFACT;
            f.attempts = res ? res->attempts : 0;
            p4_policy_impact(obj, i, generation, impact, sizeof(impact));
            f.impact = impact;
        }
    }
    if (verdict && !(p4_text_eq(old_verdict, verdict) && old_gen == generation)) {
        if (strcmp(verdict, "SUCCESSFUL") == 0) {
            (void)snprintf(msg, sizeof(msg),
                           "Generation %" PRId64 ": SUCCESSFUL: every gate of the four stages "
                           "passed",
                           generation);
            add_event(events, "Normal", "DeploymentSucceeded", msg);
        } else {
            (void)snprintf(msg, sizeof(msg),
                           "Generation %" PRId64 ": FAILED at the %s stage (%s): %s; %s; next: %s",
                           generation, f.stage, f.reason ? f.reason : "Failed",
                           f.message ? f.message : "", f.impact ? f.impact : "",
                           p4_verdict_remedy(f.reason, f.cls));
            add_event(events, "Warning", "DeploymentFailed", msg);
        }
    }
    p4_verdict_report(st, obj, generation, now, verdict, verdict ? &f : NULL);
    p4_verdict_readiness(st, obj, generation);
}

/* A refusal is a person's to fix (the spec or the operator's flags): escalated, no stage run. */
static void refused_message(const cJSON *obj, const struct p4_error *why, int64_t generation,
                            char *msg, size_t size)
{
    struct p4_policy_final f = {.generation = generation,
                                .stage = -1,
                                .reason = why->reason,
                                .message = why->message,
                                .cls = P4_FAIL_CLUSTER,
                                .no_recheck = true};

    p4_policy_final_message(obj, &f, msg, size);
}

/*
 * The approval gate, once the Helm stage passed (approval.h decides): true when the walk goes
 * on to the Kubernetes stage. While it waits, AwaitingApproval=True, Ready Unknown and
 * Reconciling True (kstatus: in progress, not failed: a person is asked, nothing is broken;
 * docs/architecture.md, "Approval"), status.stage AwaitingApproval, and the Kubernetes stage's
 * old word dropped.
 */
static bool put_approval(cJSON *st, cJSON *conds, const cJSON *old_conds, const cJSON *obj,
                         int64_t generation, const char *now, cJSON *events)
{
    struct p4_approval_decision d;
    const cJSON *e;

    p4_approval_decide(obj, st, find_condition(old_conds, P4_APPROVAL_CONDITION), &d);
    if (d.status)
        set_condition(conds, P4_APPROVAL_CONDITION, d.status, d.reason, d.message, generation, now);
    else
        remove_condition(conds, P4_APPROVAL_CONDITION);
    if (d.record) {
        cJSON_DeleteItemFromObjectCaseSensitive(st, "approval");
        cJSON_AddItemToObject(st, "approval", d.record);
    }
    cJSON_ArrayForEach(e, d.events) {
        add_event(events, p4_json_str(e, "type"), p4_json_str(e, "reason"),
                  p4_json_str(e, "message"));
    }
    cJSON_Delete(d.events);
    if (d.go)
        return true;
    drop_stage(st, conds, P4_STAGE_KUBERNETES);
    set_string(st, "stage", P4_APPROVAL_CONDITION);
    set_condition(conds, "Ready", "Unknown", P4_APPROVAL_CONDITION, d.message, generation, now);
    set_condition(conds, "Reconciling", "True", P4_APPROVAL_CONDITION, d.message, generation, now);
    remove_condition(conds, "Stalled");
    return false;
}

/* The walk stopped before the approval gate: what it said of an older generation goes. */
static void approval_not_reached(cJSON *conds, int64_t generation)
{
    int64_t g = -1;

    (void)p4_json_int64(find_condition(conds, P4_APPROVAL_CONDITION), "observedGeneration", &g);
    if (g != generation)
        remove_condition(conds, P4_APPROVAL_CONDITION);
}

cJSON *p4_reconciler_refused_status(const cJSON *obj, const struct p4_error *why, const char *now,
                                    cJSON *events)
{
    const cJSON *old_conds;
    cJSON *conds, *st;
    int64_t generation, observed;
    char msg[P4_ERROR_MESSAGE_MAX + 1024];

    st = status_base(obj, &conds, &old_conds, &generation, &observed);
    set_string(st, "stage", "Pending");
    for (int i = 0; i < P4_STAGE_COUNT; i++)
        drop_stage(st, conds, i);
    refused_message(obj, why, generation, msg, sizeof(msg));
    set_condition(conds, "Ready", "False", why->reason, msg, generation, now);
    set_condition(conds, "Reconciling", "False", why->reason, msg, generation, now);
    set_condition(conds, "Stalled", "True", P4_REASON_ESCALATED, msg, generation, now);
    condition_event(old_conds, conds, "Stalled", events);
    {
        char impact[300];
        struct p4_verdict_failure f = {.stage = "Pending",
                                       .reason = why->reason,
                                       .message = msg,
                                       .cls = P4_FAIL_CLUSTER,
                                       .stalled = true,
                                       .impact = impact};
        p4_policy_impact(obj, -1, generation, impact, sizeof(impact));
        p4_verdict_report(st, obj, generation, now, "FAILED", &f);
        p4_verdict_readiness(st, obj, generation);
    }
    return st;
}

/* Was the resource suspended (or on its way) as old_conds say? */
static bool was_suspended(const cJSON *old_conds)
{
    const char *why = p4_json_str(find_condition(old_conds, "Reconciling"), "reason");

    return p4_text_eq(why, "Suspended") || p4_text_eq(why, "Suspending");
}

/* A new generation is news: Progressing, or Resumed when it ends a suspension. */
static void new_generation_event(const cJSON *old_conds, int64_t generation, cJSON *events)
{
    char msg[256];

    if (was_suspended(old_conds)) {
        (void)snprintf(msg, sizeof(msg),
                       "Generation %" PRId64 ": resumed; the stages go on where they stopped "
                       "(what passed before is checked again, not done again)",
                       generation);
        add_event(events, "Normal", "Resumed", msg);
        return;
    }
    (void)snprintf(msg, sizeof(msg), "Generation %" PRId64 ": started; checking the Docker stage",
                   generation);
    add_event(events, "Normal", "Progressing", msg);
}

cJSON *p4_reconciler_suspended_status(const cJSON *obj, bool suspending, const char *now,
                                      cJSON *events)
{
    const cJSON *old_conds, *cur = p4_json_get(obj, "status");
    cJSON *conds, *st;
    int64_t generation, observed;
    char msg[256];

    st = status_base(obj, &conds, &old_conds, &generation, &observed);
    /* What the stages found stays as it was, to go on from when the suspension ends. */
    for (int i = 0; i < P4_STAGE_COUNT; i++) {
        for (int k = 0; k < MEMBERS_MAX && stage_members[i][k]; k++) {
            const cJSON *m = p4_json_child(cur, stage_members[i][k]);
            if (m != NULL && p4_json_child(st, stage_members[i][k]) == NULL)
                cJSON_AddItemToObject(st, stage_members[i][k], cJSON_Duplicate(m, 1));
        }
    }
    if (p4_json_str(cur, "stage") != NULL)
        set_string(st, "stage", p4_json_str(cur, "stage"));
    remove_condition(conds, "Stalled");
    if (suspending) {
        (void)snprintf(msg, sizeof(msg),
                       "Generation %" PRId64 ": suspending (spec.suspend is true): the step under "
                       "way finishes (nothing is left half-applied), then nothing runs until "
                       "spec.suspend is false",
                       generation);
        set_condition(conds, "Ready", "Unknown", "Suspending", msg, generation, now);
        set_condition(conds, "Reconciling", "True", "Suspending", msg, generation, now);
        return st;
    }
    (void)snprintf(msg, sizeof(msg),
                   "Generation %" PRId64 ": suspended (spec.suspend is true); nothing is checked "
                   "or applied until it is false, and then the stages go on where they stopped",
                   generation);
    set_condition(conds, "Ready", "Unknown", "Suspended", msg, generation, now);
    set_condition(conds, "Reconciling", "False", "Suspended", msg, generation, now);
    if (!p4_text_eq(p4_json_str(find_condition(old_conds, "Reconciling"), "reason"), "Suspended"))
        add_event(events, "Normal", "Suspended", msg);
    return st;
}

cJSON *p4_reconciler_desired_status(const cJSON *obj, const struct p4_stage_result *const *results,
                                    const char *now, cJSON *events)
{
    const cJSON *old_conds;
    cJSON *conds, *st;
    int64_t generation, observed;
    bool suspend = false, retrying;
    char msg[P4_ERROR_MESSAGE_MAX + 256];
    int i;

    (void)p4_json_bool(obj, "spec.suspend", &suspend);
    if (suspend)
        return p4_reconciler_suspended_status(obj, false, now, events);
    st = status_base(obj, &conds, &old_conds, &generation, &observed);
    if (observed != generation)
        new_generation_event(old_conds, generation, events);
    for (i = 0; i < P4_STAGE_COUNT; i++) {
        const struct p4_stage_result *res = results ? results[i] : NULL;
        if (i == P4_STAGE_KUBERNETES &&
            !put_approval(st, conds, old_conds, obj, generation, now, events))
            break;
        if (res == NULL && i > 0) {
            /* The stages before passed; this one is not running (it could not be set up). */
            (void)snprintf(msg, sizeof(msg),
                           "the %s stage is not running in this operator (its log says why)",
                           stage_names[i]);
            set_condition(conds, stage_conditions[i], "Unknown", "StageNotAvailable", msg,
                          generation, now);
            set_string(st, "stage", stage_names[i]);
            (void)snprintf(msg, sizeof(msg),
                           "Generation %" PRId64 ": the %s stage passed; the %s stage is not "
                           "running in this operator (its log says why)",
                           generation, stage_names[i - 1], stage_names[i]);
            set_condition(conds, "Ready", "Unknown", "StageNotAvailable", msg, generation, now);
            set_condition(conds, "Reconciling", "False", "StageNotAvailable", msg, generation, now);
            remove_condition(conds, "Stalled");
            break;
        }
        if (res == NULL || res->generation != generation) {
            (void)snprintf(msg, sizeof(msg),
                           "Generation %" PRId64 ": checking the %s stage (stages run in order: "
                           "Docker, Helm, Kubernetes, Validation)",
                           generation, stage_names[i]);
            set_string(st, "stage", stage_names[i]);
            if (i > 0) {
                drop_stage(st, conds, i);
                set_condition(conds, stage_conditions[i], "Unknown", "Checking",
                              "starting the checks", generation, now);
            }
            progressing(conds, msg, generation, now);
            break;
        }
        if (!put_stage(st, conds, obj, i, res, generation, now))
            break;
    }
    for (int later = i + 1; later < P4_STAGE_COUNT; later++)
        drop_stage(st, conds, later);
    if (i < P4_STAGE_KUBERNETES)
        approval_not_reached(conds, generation);
    if (!p4_rollback_holds(obj)) /* a new generation or a retry: the rollback is history */
        remove_condition(conds, P4_ROLLBACK_CONDITION);
    finish(st, conds, old_conds, obj, results, i, generation, now, events);
    retrying = retry_event(old_conds, conds, events);
    for (i = 0; i < P4_STAGE_COUNT; i++) {
        if (!(retrying &&
              p4_text_eq(p4_json_str(find_condition(conds, stage_conditions[i]), "status"),
                         "False")))
            condition_event(old_conds, conds, stage_conditions[i], events);
    }
    condition_event(old_conds, conds, "Stalled", events);
    return st;
}

cJSON *p4_reconciler_deleting_status(const cJSON *obj, const struct p4_finalize_result *fr,
                                     const char *deadline, const char *now, cJSON *events)
{
    const cJSON *cur = p4_json_get(obj, "status");
    cJSON *st = cJSON_IsObject(cur) ? cJSON_Duplicate(cur, 1) : cJSON_CreateObject();
    cJSON *conds = cJSON_GetObjectItemCaseSensitive(st, "conditions");
    const cJSON *old_conds = p4_json_get(cur, "conditions");
    const cJSON *was_blocked = find_condition(old_conds, "DeletionBlocked");
    const char *policy = p4_json_str(obj, "spec.deletionPolicy");
    int64_t generation = 0;
    char msg[P4_FINALIZE_TEXT_MAX + 512], left[P4_FINALIZE_TEXT_MAX + 64] = "";

    (void)p4_json_int64(obj, "metadata.generation", &generation);
    if (!cJSON_IsArray(conds)) {
        cJSON_DeleteItemFromObjectCaseSensitive(st, "conditions");
        conds = cJSON_AddArrayToObject(st, "conditions");
    }
    if (policy == NULL || policy[0] == '\0')
        policy = "Delete";
    if (fr->remaining > 0)
        p4_text_format(left, sizeof(left), "; %d object(s) remain: %s", fr->remaining, fr->left);
    p4_text_format(msg, sizeof(msg),
                   "Generation %" PRId64 ": being deleted (deletionPolicy %s): %s so far %d%s; "
                   "the finalizer is released when that is done, or at %s "
                   "(spec.deletionTimeout) at the latest",
                   generation, policy,
                   strcmp(policy, "Orphan") == 0 ? "ownership marks taken off" : "deleted",
                   strcmp(policy, "Orphan") == 0 ? fr->orphaned : fr->deleted, left, deadline);
    set_condition(conds, "Ready", "False", "Deleting", msg, generation, now);
    set_condition(conds, "Reconciling", "True", "Deleting", msg, generation, now);
    remove_condition(conds, "Stalled");
    if (!p4_text_eq(p4_json_str(find_condition(old_conds, "Reconciling"), "reason"), "Deleting"))
        add_event(events, "Normal", "Uninstalling", msg);
    if (fr->blocked_reason[0]) {
        set_condition(conds, "DeletionBlocked", "True", fr->blocked_reason, fr->blocked_message,
                      generation, now);
        if (!p4_text_eq(p4_json_str(was_blocked, "reason"), fr->blocked_reason) ||
            !p4_text_eq(p4_json_str(was_blocked, "status"), "True"))
            add_event(events, "Warning", "DeletionBlocked", fr->blocked_message);
    } else {
        remove_condition(conds, "DeletionBlocked");
    }
    return st;
}

/* The first False gate of stage i in st's gates, or NULL. */
static const char *false_gate_of(const cJSON *st, int i)
{
    const cJSON *g;

    cJSON_ArrayForEach(g, p4_json_get(st, "gates")) {
        if (p4_text_eq(p4_json_str(g, "stage"), stage_names[i]) &&
            p4_text_eq(p4_json_str(g, "status"), "False"))
            return p4_json_str(g, "name");
    }
    return NULL;
}

/*
 * The generation's final failure on record at stage i, told again with the impact of the
 * rollback st now records (policy.h reads it from the status being built): Ready, Reconciling
 * and Stalled keep its reasons; a failed rollback escalates Stalled to a person.
 */
static void rolled_back_failure(cJSON *st, cJSON *conds, const cJSON *obj, int i,
                                enum p4_rollback_state state, int64_t generation, const char *now)
{
    const cJSON *c = find_condition(conds, stage_conditions[i]);
    const char *stalled_reason = p4_json_str(find_condition(conds, "Stalled"), "reason");
    const char *why = p4_json_str(c, "reason") ? p4_json_str(c, "reason") : "Failed";
    int64_t retries = 2;
    char msg[P4_ERROR_MESSAGE_MAX + 1024], impact[300], esc[P4_ERROR_MESSAGE_MAX + 512];
    struct p4_policy_final f = {.generation = generation,
                                .stage = i,
                                .gate = false_gate_of(st, i),
                                .reason = why,
                                .message = p4_json_str(c, "message"),
                                .no_recheck = true}; /* nothing is checked again meanwhile */
    cJSON *view = p4_json_need(cJSON_CreateObject());
    cJSON *fail;

    (void)p4_json_int64(obj, "spec.rollout.retries", &retries);
    f.attempts = (int)(retries >= 0 && retries <= 10 ? retries : 2) + 1;
    f.cls = p4_text_eq(stalled_reason, P4_REASON_REGENERATION) ? P4_FAIL_ARTIFACT : P4_FAIL_CLUSTER;
    /* The message reads what serves from the status being built (status.rollback). */
    if (p4_json_get(obj, "metadata") != NULL)
        p4_json_need_ok(cJSON_AddItemReferenceToObject(view, "metadata",
                                                       (cJSON *)p4_json_get(obj, "metadata")));
    p4_json_need_ok(cJSON_AddItemReferenceToObject(view, "status", st));
    p4_policy_final_message(view, &f, msg, sizeof(msg));
    p4_policy_impact(view, i, generation, impact, sizeof(impact));
    cJSON_Delete(view);
    /* Reconciling stays False while the rollback runs (RolledBack Unknown says so): the
       generation failed for good, and kstatus reads Reconciling=True before Stalled=True, so the
       two True together would turn a final failure into "in progress" (docs/gitops.md). */
    set_condition(conds, "Ready", "False", why, msg, generation, now);
    set_condition(conds, "Reconciling", "False", why, msg, generation, now);
    if (state == P4_ROLLBACK_FAILED) {
        p4_text_format(esc, sizeof(esc),
                       "Generation %" PRId64 ": escalated to a person: %s; fix what failed, then "
                       "set %s or %s, or apply a new generation",
                       generation, p4_rollback_message(st), P4_RETRY_ANNOTATION,
                       P4_ROLLBACK_ANNOTATION);
        set_condition(conds, "Stalled", "True", P4_REASON_ESCALATED, esc, generation, now);
    } else {
        set_condition(conds, "Stalled", "True",
                      stalled_reason ? stalled_reason : p4_policy_stalled_reason(f.cls), msg,
                      generation, now);
    }
    fail =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(st, "report"), "failure");
    if (cJSON_IsObject(fail)) {
        cJSON_DeleteItemFromObjectCaseSensitive(fail, "impact");
        p4_json_need(cJSON_AddStringToObject(fail, "impact", impact));
    }
}

cJSON *p4_reconciler_rollback_status(const cJSON *obj, const struct p4_rollback_plan *plan,
                                     enum p4_rollback_state state,
                                     const struct p4_stage_result *res, const char *now,
                                     cJSON *events)
{
    const cJSON *old_conds, *member;
    cJSON *conds, *st;
    int64_t generation, observed;
    char msg[P4_ERROR_MESSAGE_MAX + 768];
    bool healthy;
    int i;

    if (state == P4_ROLLBACK_PENDING) { /* nothing to tell before its manifest is read */
        const cJSON *cur = p4_json_get(obj, "status");
        return p4_json_need(cJSON_IsObject(cur) ? cJSON_Duplicate(cur, 1) : cJSON_CreateObject());
    }
    st = status_base(obj, &conds, &old_conds, &generation, &observed);
    if (state == P4_ROLLBACK_NO_MANIFEST) {
        char why[300];
        (void)snprintf(why, sizeof(why),
                       "generation %" PRId64 " has no stored manifest any more (manifests are "
                       "kept for the last %d generations)",
                       plan->to, 10);
        p4_rollback_refused(st, plan->request ? plan->request : "", generation, why, events);
        return st;
    }
    if (res != NULL && res->rollback_to == plan->to) {
        cJSON_ArrayForEach(member, res->status) {
            if (strcmp(member->string, "inventory") != 0 && strcmp(member->string, "health") != 0)
                continue; /* status.hooks stays the generation's */
            cJSON_DeleteItemFromObjectCaseSensitive(st, member->string);
            cJSON_AddItemToObject(st, member->string, cJSON_Duplicate(member, 1));
        }
    }
    healthy = p4_rollback_record(st, obj, plan, state, res, now, events);
    (void)snprintf(msg, sizeof(msg), "Generation %" PRId64 ": %s", generation,
                   p4_rollback_message(st));
    if (healthy) /* spec.notify's RolledBack document */
        p4_notify_rolled_back(obj, st, msg, now);
    /* What this generation's Kubernetes stage applied no longer runs: a retry applies it again
       before the Validation stage looks at it (drive_stages needs a pass on record). A stage
       still being checked (a rollback-to mid-run) is checked no more. A failure stays. */
    for (i = P4_STAGE_KUBERNETES; i < P4_STAGE_COUNT; i++) {
        const char *was = p4_json_str(find_condition(conds, stage_conditions[i]), "status");
        if (p4_text_eq(was, "Unknown") || (i == P4_STAGE_KUBERNETES && p4_text_eq(was, "True")))
            set_condition(conds, stage_conditions[i], "Unknown", "RolledBack", msg, generation,
                          now);
    }
    set_condition(conds, P4_ROLLBACK_CONDITION,
                  state == P4_ROLLBACK_SUCCEEDED ? "True"
                  : state == P4_ROLLBACK_FAILED  ? "False"
                                                 : "Unknown",
                  state == P4_ROLLBACK_SUCCEEDED ? "RolledBack"
                  : state == P4_ROLLBACK_FAILED  ? "RollbackFailed"
                                                 : "RollingBack",
                  msg, generation, now);
    i = p4_policy_failed_stage(obj);
    if (i >= 0 && p4_text_eq(p4_json_str(find_condition(conds, "Stalled"), "status"), "True")) {
        rolled_back_failure(st, conds, obj, i, state, generation, now);
        return st;
    }
    switch (state) {
    case P4_ROLLBACK_SUCCEEDED:
        p4_text_format(msg, sizeof(msg),
                       "Generation %" PRId64 ": %s; generation %" PRId64 "'s own manifest does "
                       "not run: apply a new generation, or set %s to a new value to apply it "
                       "again",
                       generation, p4_rollback_message(st), generation, P4_RETRY_ANNOTATION);
        set_condition(conds, "Ready", "False", "RolledBack", msg, generation, now);
        set_condition(conds, "Reconciling", "False", "RolledBack", msg, generation, now);
        set_condition(conds, "Stalled", "True", "RolledBack", msg, generation, now);
        break;
    case P4_ROLLBACK_FAILED:
        p4_text_format(msg, sizeof(msg),
                       "Generation %" PRId64 ": escalated to a person: %s; fix what failed, then "
                       "set %s or %s, or apply a new generation",
                       generation, p4_rollback_message(st), P4_RETRY_ANNOTATION,
                       P4_ROLLBACK_ANNOTATION);
        set_condition(conds, "Ready", "False", "RollbackFailed", msg, generation, now);
        set_condition(conds, "Reconciling", "False", "RollbackFailed", msg, generation, now);
        set_condition(conds, "Stalled", "True", P4_REASON_ESCALATED, msg, generation, now);
        break;
    default:
        set_condition(conds, "Ready", "Unknown", "RollingBack", msg, generation, now);
        set_condition(conds, "Reconciling", "True", "RollingBack", msg, generation, now);
        remove_condition(conds, "Stalled");
        break;
    }
    return st;
}

/* A monotonic clock in milliseconds, for the progress interval. */
static uint64_t now_ms(void)
{
    return uv_hrtime() / 1000000;
}

/* Record when key's status was written (or a progress write was first held back). */
static void mark_written(struct p4_reconciler *r, const char *key, uint64_t at)
{
    uint64_t *t = p4_strmap_get(&r->written, key);

    if (t == NULL) {
        t = p4_malloc(sizeof(*t));
        (void)p4_strmap_put(&r->written, key, t);
    }
    *t = at;
}

/*
 * How long a write that carries only progress waits yet (0: write now): until the progress
 * interval has passed since key's last write. A resource not written by this process yet (a
 * restart) starts its interval now, so a restart does not rewrite every resource's progress
 * at once.
 */
static uint64_t progress_wait(struct p4_reconciler *r, const char *key)
{
    const uint64_t *t = p4_strmap_get(&r->written, key);
    uint64_t now = now_ms();

    if (r->progress_interval_ms == 0)
        return 0;
    if (t == NULL) {
        mark_written(r, key, now);
        return r->progress_interval_ms;
    }
    if (now - *t >= r->progress_interval_ms)
        return 0;
    return r->progress_interval_ms - (now - *t);
}

struct write_ctx {
    struct p4_controller *ctl;
    struct p4_reconciler *r;
    char *key;
    cJSON *events; /* {type, reason, message} to emit once the status is written */
    cJSON *about;  /* what the Events are about, or NULL: the object the write answers */
};

static void on_status_written(struct p4_kube_result *res, void *data)
{
    struct write_ctx *w = data;
    const cJSON *e;
    int rc = 0;

    if (res->rc == 0) {
        const cJSON *about = w->about ? w->about : res->body;
        w->r->status_writes++;
        mark_written(w->r, w->key, now_ms());
        cJSON_ArrayForEach(e, w->events) {
            if (about)
                p4_events_emit(w->r->events, about, p4_json_str(e, "type"),
                               p4_json_str(e, "reason"), p4_json_str(e, "message"));
        }
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
    cJSON_Delete(w->events);
    cJSON_Delete(w->about);
    free(w);
}

/*
 * The one status writer: a JSON merge patch of status (taken over) to the /status of
 * ens/ename (escaped), conditional on rv when it is given, then events (taken over) about
 * about (taken over; NULL: the object the answer holds). With about the answer is taken as
 * bytes: it is the object, which may be one that cannot be parsed. Ends key's reconcile.
 */
static void write_status(struct p4_reconciler *r, struct p4_controller *c, const char *key,
                         const char *ens, const char *ename, const char *rv, cJSON *status,
                         cJSON *events, cJSON *about)
{
    struct write_ctx *w = p4_calloc(1, sizeof(*w));
    cJSON *patch = cJSON_CreateObject(), *meta;
    char path[1024], *body;
    int rc;

    w->ctl = c;
    w->r = r;
    w->key = p4_strdup(key);
    w->events = events;
    w->about = about;
    /* The resourceVersion makes the write conditional on what the status was computed from. */
    meta = cJSON_AddObjectToObject(patch, "metadata");
    if (rv && rv[0])
        cJSON_AddStringToObject(meta, "resourceVersion", rv);
    cJSON_AddItemToObject(patch, "status", status);
    body = p4_json_print(patch);
    cJSON_Delete(patch);
    (void)snprintf(path, sizeof(path), "/apis/%s/%s/namespaces/%s/%s/%s/status", P4_API_GROUP,
                   P4_API_VERSION, ens, P4_RESOURCE, ename);
    rc = about ? p4_kube_request_raw(r->kube, "PATCH", path, "application/merge-patch+json", body,
                                     strlen(body), on_status_written, w)
               : p4_kube_request(r->kube, "PATCH", path, "application/merge-patch+json", body,
                                 strlen(body), on_status_written, w);
    if (rc != 0) {
        free(w->key);
        cJSON_Delete(w->events);
        cJSON_Delete(w->about);
        free(w);
        p4_controller_done(c, key, P4_ERR_INTERNAL, 0);
    }
    free(body);
}

/* What is read of a resource to record its approval: who owns the annotation (approval.h). */
#define APPROVAL_READ_RETRY_MS 5000 /* after a failed read */
struct approval_read {
    int64_t generation; /* the resource's, when the read was sent */
    bool inflight;
    cJSON *owners; /* p4_approval_owners of its managedFields, once read */
};

struct approval_get {
    struct p4_reconciler *r;
    struct p4_controller *c;
    char *key;
};

static void approval_read_free(struct approval_read *a)
{
    if (a == NULL)
        return;
    cJSON_Delete(a->owners);
    free(a);
}

static void forget_all(struct p4_reconciler *r, const char *key)
{
    struct approval_read *a = p4_strmap_get(&r->approvals, key);

    if (a && !a->inflight) /* one in flight is freed when it ends */
        approval_read_free(p4_strmap_del(&r->approvals, key));
    free(p4_strmap_del(&r->written, key));
    free(p4_strmap_del(&r->trust, key));
    for (int i = 0; i < P4_STAGE_COUNT; i++) {
        if (r->stages[i] && r->stages[i]->forget)
            r->stages[i]->forget(r->stage_ctx[i], key);
    }
}

cJSON *p4_reconciler_unreadable_status(const struct p4_informer_unreadable *u, const char *now,
                                       char *message, size_t size)
{
    cJSON *cur = u->status ? cJSON_Parse(u->status) : NULL;
    cJSON *st = cJSON_IsObject(cur) ? cJSON_Duplicate(cur, 1) : cJSON_CreateObject();
    cJSON *conds = cJSON_GetObjectItemCaseSensitive(st, "conditions");
    int64_t generation = u->has_generation ? u->generation : 0;
    char gen[48] = "";

    if (u->has_generation)
        (void)snprintf(gen, sizeof(gen), "Generation %" PRId64 ": ", u->generation);
    p4_text_format(message, size,
                   "%sphase4-operator cannot read this resource: %s; fix it and apply it again "
                   "(no stage runs until then)",
                   gen, u->why);
    if (!cJSON_IsArray(conds)) {
        cJSON_DeleteItemFromObjectCaseSensitive(st, "conditions");
        conds = cJSON_AddArrayToObject(st, "conditions");
    }
    if (u->has_generation) {
        cJSON_DeleteItemFromObjectCaseSensitive(st, "observedGeneration");
        cJSON_AddNumberToObject(st, "observedGeneration", (double)u->generation);
    }
    set_condition(conds, "Ready", "False", P4_REASON_UNREADABLE, message, generation, now);
    set_condition(conds, "Reconciling", "False", P4_REASON_UNREADABLE, message, generation, now);
    set_condition(conds, "Stalled", "True", P4_REASON_UNREADABLE, message, generation, now);
    if (cur != NULL && cJSON_Compare(st, cur, 1)) {
        cJSON_Delete(st);
        st = NULL;
    }
    cJSON_Delete(cur);
    return st;
}

/*
 * A resource the informer cannot parse: say so in its status, by name, and with one Warning
 * Event once written. Its status is the informer's shallow read of it, so a status that
 * already says this (after a relist or a restart) writes nothing.
 */
static void write_unreadable(struct p4_reconciler *r, struct p4_controller *c, const char *key,
                             const struct p4_informer_unreadable *u)
{
    char now[32], ens[256], ename[512], message[P4_ERROR_MESSAGE_MAX];
    cJSON *status, *events, *event, *about, *meta;

    p4_timefmt_format(time(NULL), now, sizeof(now));
    status = p4_reconciler_unreadable_status(u, now, message, sizeof(message));
    if (status == NULL || !u->ns[0] || p4_kube_escape(u->ns, ens, sizeof(ens)) != 0 ||
        p4_kube_escape(u->name, ename, sizeof(ename)) != 0) {
        cJSON_Delete(status);
        p4_controller_done(c, key, 0, 0);
        return;
    }
    events = cJSON_CreateArray();
    event = cJSON_CreateObject();
    cJSON_AddStringToObject(event, "type", "Warning");
    cJSON_AddStringToObject(event, "reason", P4_REASON_UNREADABLE);
    cJSON_AddStringToObject(event, "message", message);
    cJSON_AddItemToArray(events, event);
    about = cJSON_CreateObject();
    cJSON_AddStringToObject(about, "apiVersion", P4_API_GROUP "/" P4_API_VERSION);
    cJSON_AddStringToObject(about, "kind", u->kind[0] ? u->kind : "Phase4Deployment");
    meta = cJSON_AddObjectToObject(about, "metadata");
    cJSON_AddStringToObject(meta, "namespace", u->ns);
    cJSON_AddStringToObject(meta, "name", u->name);
    cJSON_AddStringToObject(meta, "uid", u->uid);
    if (u->resource_version[0])
        cJSON_AddStringToObject(meta, "resourceVersion", u->resource_version);
    write_status(r, c, key, ens, ename, u->resource_version, status, events, about);
}

/* Did stage i pass for this generation, as the status written so far says? */
static bool persisted_pass(const cJSON *obj, int i)
{
    const cJSON *c;
    int64_t generation = 0, observed = -1, cond_gen = -1;

    (void)p4_json_int64(obj, "metadata.generation", &generation);
    (void)p4_json_int64(obj, "status.observedGeneration", &observed);
    c = find_condition(p4_json_get(obj, "status.conditions"), stage_conditions[i]);
    (void)p4_json_int64(c, "observedGeneration", &cond_gen);
    return c && observed == generation && cond_gen == generation && p4_json_str(c, "status") &&
           strcmp(p4_json_str(c, "status"), "True") == 0;
}

/* A non-empty string at path in obj? */
static bool recorded(const cJSON *obj, const char *path)
{
    const char *v = p4_json_str(obj, path);

    return v != NULL && v[0] != '\0';
}

bool p4_reconciler_trusted(const cJSON *obj, int stages)
{
    const cJSON *conds = p4_json_get(obj, "status.conditions");
    const cJSON *ready = find_condition(conds, "Ready");
    const cJSON *stalled = find_condition(conds, "Stalled");
    const cJSON *notified = find_condition(conds, "Notified");
    const cJSON *inventory = p4_json_get(obj, "status.inventory");
    int64_t generation = 0, ready_gen = -1;
    bool suspend = false;

    (void)p4_json_int64(obj, "metadata.generation", &generation);
    (void)p4_json_int64(ready, "observedGeneration", &ready_gen);
    (void)p4_json_bool(obj, "spec.suspend", &suspend);
    if (obj == NULL || stages <= 0 || suspend ||
        p4_json_get(obj, "metadata.deletionTimestamp") != NULL ||
        !p4_text_eq(p4_json_str(ready, "status"), "True") || ready_gen != generation ||
        p4_text_eq(p4_json_str(stalled, "status"), "True") ||
        (notified != NULL && !p4_text_eq(p4_json_str(notified, "status"), "True")) ||
        p4_json_get(obj, "status.health.problem") != NULL ||
        p4_policy_retry_requested(obj) != NULL || p4_rollback_holds(obj))
        return false;
    for (int i = 0; i < stages && i < P4_STAGE_COUNT; i++) {
        if (!persisted_pass(obj, i)) /* observedGeneration is this generation too */
            return false;
    }
    /* What the stages pinned, and what the next ones build on, is on record. */
    if (!recorded(obj, "status.image.digest") ||
        (stages > P4_STAGE_HELM &&
         (!recorded(obj, "status.chart.digest") || !recorded(obj, "status.chart.manifest"))) ||
        (stages > P4_STAGE_KUBERNETES &&
         (!cJSON_IsArray(inventory) || cJSON_GetArraySize(inventory) == 0)))
        return false;
    return true;
}

unsigned p4_reconciler_level(const char *key, void *data)
{
    const struct p4_reconciler *r = data;
    const cJSON *obj = p4_informer_get(r->resources, key);
    const cJSON *ready = find_condition(p4_json_get(obj, "status.conditions"), "Ready");
    const char *stage = p4_json_str(obj, "status.stage");
    int64_t generation = 0, observed = -1;

    (void)p4_json_int64(obj, "metadata.generation", &generation);
    (void)p4_json_int64(obj, "status.observedGeneration", &observed);
    if (obj == NULL || stage == NULL || observed != generation ||
        p4_text_eq(p4_json_str(ready, "status"), "True"))
        return 0;
    for (unsigned i = 0; i < P4_STAGE_COUNT; i++) {
        if (strcmp(stage, stage_names[i]) == 0)
            return i + 1;
    }
    return 0;
}

/* A trusted resource: when its recheck is due (uv_hrtime ms; 0: now). */
struct p4_trust {
    uint64_t due;
};

/* Has a stage a run for key (so it was seen since the start, and its trust is over)? */
static bool has_run(struct p4_reconciler *r, const char *key)
{
    for (int i = 0; i < P4_STAGE_COUNT; i++) {
        struct p4_stage_result res;
        if (r->stages[i] == NULL || r->stages[i]->result(r->stage_ctx[i], key, &res) != 0)
            continue;
        p4_stage_result_close(&res);
        return true;
    }
    return false;
}

/* Where in the window key's recheck falls: the same spot for the same key (FNV-1a). */
static uint64_t spread_offset(const char *key, uint64_t window)
{
    uint64_t h = 14695981039346656037ULL;

    for (const char *p = key; *p; p++) {
        h ^= (unsigned char)*p;
        h *= 1099511628211ULL;
    }
    return window > 0 ? h % window : 0;
}

/*
 * Restart without a storm: true while key is trusted (nothing runs for it; *wait_ms: until
 * its recheck). A resource is trusted when first seen with no run and a status that passed
 * (p4_reconciler_trusted); the trust ends at its recheck time, at drift
 * (p4_reconciler_recheck), or once its status on record no longer passes (a new generation, a
 * retry asked for).
 */
static bool trust_holds(struct p4_reconciler *r, const char *key, const cJSON *obj,
                        uint64_t *wait_ms)
{
    struct p4_trust *t = p4_strmap_get(&r->trust, key);
    uint64_t now = now_ms();
    int built = 0;

    while (built < P4_STAGE_COUNT && r->stages[built] != NULL)
        built++;
    if (t == NULL) {
        if (r->recheck_spread_ms == 0 || !p4_reconciler_trusted(obj, built) || has_run(r, key))
            return false;
        t = p4_malloc(sizeof(*t));
        t->due = now + 1 + spread_offset(key, r->recheck_spread_ms);
        (void)p4_strmap_put(&r->trust, key, t);
        r->trusted_total++;
        for (int i = 0; i < built; i++) { /* what must be watched for it meanwhile */
            if (r->stages[i]->trusted)
                r->stages[i]->trusted(r->stage_ctx[i], key, obj);
        }
    } else if (now >= t->due || !p4_reconciler_trusted(obj, built)) {
        free(p4_strmap_del(&r->trust, key)); /* checked again now, at a low priority */
        return false;
    }
    *wait_ms = t->due - now;
    return true;
}

void p4_reconciler_recheck(struct p4_reconciler *r, const char *key)
{
    struct p4_trust *t = p4_strmap_get(&r->trust, key);

    if (t != NULL)
        t->due = 0;
}

/* May the Kubernetes stage start? Not asked for, or this generation's approval is written. */
static bool approval_on_record(const cJSON *obj)
{
    enum p4_approval_state s = p4_approval_state(obj);

    return s == P4_APPROVAL_NOT_REQUIRED || s == P4_APPROVAL_APPROVED;
}

static void on_approval_read(struct p4_kube_result *res, void *data)
{
    struct approval_get *g = data;
    struct approval_read *a;

    if (res->rc == P4_ERR_CANCELED) /* shutting down: the reconciler may be gone */
        goto out;
    a = p4_strmap_get(&g->r->approvals, g->key);
    if (a == NULL) /* forgotten meanwhile */
        goto out;
    a->inflight = false;
    if (res->rc != 0) {
        /* read again a little later; the approval waits until then */
        p4_log(P4_LOG_WARN, "cannot read who approved a resource, will retry", "key", g->key,
               "error", res->err.message, P4_LOG_END);
        approval_read_free(p4_strmap_del(&g->r->approvals, g->key));
        p4_controller_enqueue_after(g->c, g->key, APPROVAL_READ_RETRY_MS);
        goto out;
    }
    /* Kept for the generation asked about: a newer one read here has the same owner of the
       annotation, and the cache brings that generation soon (then the annotation no longer
       approves it, and this goes). */
    cJSON_Delete(a->owners);
    a->owners = p4_approval_owners(p4_json_get(res->body, "metadata.managedFields"));
    p4_controller_enqueue(g->c, g->key);
out:
    free(g->key);
    free(g);
}

/*
 * obj as the approval decision needs it: when its annotation approves this generation and that
 * is not on record yet, obj with the managedFields of the annotation's owners, once read
 * (a GET of the resource, then the key is queued again; the informer's cache keeps no
 * managedFields). Returns that copy (caller frees) or NULL: obj as it is.
 */
static cJSON *approval_view(struct p4_reconciler *r, struct p4_controller *c, const char *key,
                            const cJSON *obj)
{
    struct approval_read *a = p4_strmap_get(&r->approvals, key);
    const char *ns = p4_json_str(obj, "metadata.namespace");
    const char *name = p4_json_str(obj, "metadata.name");
    int64_t generation = 0;
    char path[1024], ens[256], ename[512];
    struct approval_get *g;
    cJSON *view, *meta;

    (void)p4_json_int64(obj, "metadata.generation", &generation);
    if (p4_approval_state(obj) != P4_APPROVAL_REQUESTED) {
        if (a && !a->inflight)
            approval_read_free(p4_strmap_del(&r->approvals, key));
        return NULL;
    }
    if (a && !a->inflight && a->generation == generation) {
        view = p4_json_need(cJSON_Duplicate(obj, 1));
        meta = cJSON_GetObjectItemCaseSensitive(view, "metadata");
        cJSON_DeleteItemFromObjectCaseSensitive(meta, "managedFields");
        cJSON_AddItemToObject(meta, "managedFields", p4_json_need(cJSON_Duplicate(a->owners, 1)));
        return view;
    }
    if ((a && a->inflight) || ns == NULL || name == NULL ||
        p4_kube_escape(ns, ens, sizeof(ens)) != 0 ||
        p4_kube_escape(name, ename, sizeof(ename)) != 0)
        return NULL;
    approval_read_free(p4_strmap_del(&r->approvals, key)); /* one of an older generation */
    a = p4_calloc(1, sizeof(*a));
    a->inflight = true;
    a->generation = generation;
    (void)p4_strmap_put(&r->approvals, key, a);
    g = p4_calloc(1, sizeof(*g));
    g->r = r;
    g->c = c;
    g->key = p4_strdup(key);
    (void)snprintf(path, sizeof(path), "/apis/%s/%s/namespaces/%s/%s/%s", P4_API_GROUP,
                   P4_API_VERSION, ens, P4_RESOURCE, ename);
    if (p4_kube_request(r->kube, "GET", path, NULL, NULL, 0, on_approval_read, g) != 0) {
        free(g->key);
        free(g);
        approval_read_free(p4_strmap_del(&r->approvals, key));
        p4_controller_enqueue_after(c, key, APPROVAL_READ_RETRY_MS);
    }
    return NULL;
}

void p4_reconciler_close(struct p4_reconciler *r)
{
    size_t pos = 0;
    const struct p4_strmap_entry *e;

    while ((e = p4_strmap_next(&r->approvals, &pos)) != NULL)
        approval_read_free(e->value);
    p4_strmap_close(&r->approvals);
    pos = 0;
    while ((e = p4_strmap_next(&r->written, &pos)) != NULL)
        free(e->value);
    p4_strmap_close(&r->written);
    pos = 0;
    while ((e = p4_strmap_next(&r->trust, &pos)) != NULL)
        free(e->value);
    p4_strmap_close(&r->trust);
}

/*
 * Did stage i pass as its resumed run says (res: this generation's result), its pass on record
 * for the generation the run began for? The spec differs from that one's only in spec.suspend,
 * so what the pass recorded (status.image, status.chart) holds.
 */
static bool resumed_pass(const cJSON *obj, int i, const struct p4_stage_result *res)
{
    const cJSON *c = find_condition(p4_json_get(obj, "status.conditions"), stage_conditions[i]);

    return res->resumed && res->state == P4_STAGE_PASSED &&
           p4_text_eq(p4_json_str(c, "status"), "True");
}

/*
 * Start and poll the stages in order. A stage starts only once the status
 * written for this generation says the stage before it passed (so what it
 * builds on, such as status.image.digest, is on record); until then it shows
 * as being checked. results[i] is left NULL for stages not built.
 */
static void drive_stages(struct p4_reconciler *r, const char *key, const cJSON *obj,
                         struct p4_stage_result *res, const struct p4_stage_result **results)
{
    int64_t generation = 0;
    struct p4_error err;

    (void)p4_json_int64(obj, "metadata.generation", &generation);
    for (int i = 0; i < P4_STAGE_COUNT; i++) {
        const struct p4_stage_ops *ops = r->stages[i];
        void *ctx = r->stage_ctx[i];
        if (ops == NULL)
            return;
        results[i] = &res[i];
        if ((i > 0 && !persisted_pass(obj, i - 1) && !resumed_pass(obj, i - 1, &res[i - 1])) ||
            (i == P4_STAGE_KUBERNETES && !approval_on_record(obj))) {
            res[i].state = P4_STAGE_RUNNING; /* starts once the last stage's pass is written */
            res[i].generation = generation;
            return;
        }
        if (ops->start(ctx, key, obj, &err) != 0) {
            p4_log(P4_LOG_WARN, "cannot start a stage", "key", key, "stage", ops->name, "error",
                   err.message, P4_LOG_END);
            if (i == 0) {
                results[i] = NULL;
                return;
            }
            res[i].state = P4_STAGE_FAILED; /* what it needs from the last stage is missing */
            res[i].stalled = true;
            res[i].cls = P4_FAIL_CLUSTER;
            res[i].generation = generation;
            res[i].err = err;
            res[i].err.reason = "StageCannotStart";
            return;
        }
        if (ops->poll(ctx, key, obj) != 0 || ops->result(ctx, key, &res[i]) != 0) {
            results[i] = NULL;
            return;
        }
        /* On once it passed, or (checking again after a restart) its pass is on record. */
        if (res[i].generation != generation ||
            (res[i].state != P4_STAGE_PASSED &&
             !(res[i].state == P4_STAGE_RUNNING && persisted_pass(obj, i))))
            return;
    }
}

/*
 * spec.suspend: every stage's run stops at its next safe point (on), or goes on where it
 * stopped (off). A stage without the op forgets the run when suspended. A run still working
 * toward its safe point is polled as usual, since its step may wait on what poll sees (a smoke
 * test's or a build's Job); nothing else is started or polled. Returns true while a run still
 * works toward its safe point.
 */
static bool suspend_stages(struct p4_reconciler *r, const char *key, const cJSON *obj, bool on)
{
    bool busy = false;

    for (int i = 0; i < P4_STAGE_COUNT; i++) {
        const struct p4_stage_ops *ops = r->stages[i];
        void *ctx = r->stage_ctx[i];
        if (ops == NULL)
            continue;
        if (ops->suspend == NULL) {
            if (on && ops->forget)
                ops->forget(ctx, key);
        } else if (ops->suspend(ctx, key, obj, on)) {
            busy = true;
            if (ops->poll)
                (void)ops->poll(ctx, key, obj);
        }
    }
    return busy;
}

/*
 * A phase4.io/retry value not handled yet: the stage whose failure is on record runs again from
 * its first attempt (a run the operator no longer holds, after a restart, begins so anyway:
 * p4_stagerun_add_for). Returns the value (borrowed from obj) or NULL; *stage gets the stage
 * run again, or NULL when none failed.
 */
static const char *retry_failed(struct p4_reconciler *r, const char *key, const cJSON *obj,
                                const char **stage)
{
    const char *value = p4_policy_retry_requested(obj);
    int i;

    *stage = NULL;
    if (value == NULL)
        return NULL;
    i = p4_policy_failed_stage(obj);
    if (i < 0 && p4_rollback_holds(obj)) /* rolled back on request: apply this generation again */
        i = P4_STAGE_KUBERNETES;
    if (i < 0 || r->stages[i] == NULL)
        return value;
    *stage = stage_names[i];
    if (r->stages[i]->retry) {
        int rc = r->stages[i]->retry(r->stage_ctx[i], key);
        p4_log(P4_LOG_INFO, "retry requested", "key", key, "stage", stage_names[i], "value", value,
               "run",
               rc == 0               ? "restarted"
               : rc == P4_ERR_EXISTS ? "running"
                                     : "starts anew",
               P4_LOG_END);
    } else if (r->stages[i]->forget) {
        r->stages[i]->forget(r->stage_ctx[i], key); /* begins anew, at its first attempt */
    }
    return value;
}

/* Is a stage that rolls back (the Kubernetes stage) running in this operator? */
static bool rollback_stage(const struct p4_reconciler *r)
{
    for (int k = 0; k < P4_STAGE_COUNT; k++)
        if (r->stages[k] && r->stages[k]->rollback)
            return true;
    return false;
}

/*
 * What desired no longer holds of old (the status as read) becomes null in it, at any depth of
 * objects: the status is written as a JSON merge patch (RFC 7386), which keeps a member the
 * patch leaves out, so a verdict, a report's verdict or a stage's member of an older
 * generation would otherwise outlive the status that dropped it. Arrays are replaced whole.
 */
static void null_removed(cJSON *desired, const cJSON *old)
{
    struct pair {
        cJSON *d;
        const cJSON *o;
    } *todo = p4_malloc(sizeof(*todo));
    size_t n = 1, cap = 1;

    todo[0] = (struct pair){desired, old}; /* objects of both, walked without recursion */
    while (n > 0) {
        struct pair p = todo[--n];
        const cJSON *o;
        cJSON_ArrayForEach(o, p.o) {
            cJSON *d = o->string ? cJSON_GetObjectItemCaseSensitive(p.d, o->string) : NULL;
            if (o->string == NULL)
                continue;
            if (d == NULL) {
                p4_json_need(cJSON_AddNullToObject(p.d, o->string));
            } else if (cJSON_IsObject(d) && cJSON_IsObject(o)) {
                if (n == cap) {
                    cap *= 2;
                    todo = p4_realloc(todo, cap * sizeof(*todo));
                }
                todo[n++] = (struct pair){d, o};
            }
        }
    }
    free(todo);
}

/*
 * spec.notify (notify.h): the outcomes of deliveries that ended go into the status about to be
 * written, with the document this transition calls for; what the written status says is due
 * goes to the sender.
 */
static void notify(struct p4_reconciler *r, const char *key, const cJSON *obj, cJSON *desired,
                   const char *now, cJSON *events)
{
    const struct p4_notify_outcome *outcomes;
    size_t n = 0;

    if (r->notifier == NULL)
        return;
    outcomes = p4_notifier_outcomes(r->notifier, key, &n);
    p4_notify_status(obj, desired, outcomes, n, now, events);
    p4_notifier_sync(r->notifier, key, obj);
}

/* ---- the deletion finalizer (finalizer.h) ---- */

static void finalized_all(struct p4_reconciler *r, const char *key)
{
    for (int i = 0; i < P4_STAGE_COUNT; i++) {
        if (r->stages[i] && r->stages[i]->finalized)
            r->stages[i]->finalized(r->stage_ctx[i], key);
    }
}

struct finalizer_ctx {
    struct p4_controller *ctl;
    struct p4_reconciler *r;
    char *key;
    cJSON *about; /* the resource, for the Event (NULL when adding) */
    char *type, *reason, *message;
};

static void on_finalizer_patched(struct p4_kube_result *res, void *data)
{
    struct finalizer_ctx *f = data;
    int rc = 0;

    if (res->rc == 0 || (f->about && res->rc == P4_ERR_NOTFOUND)) {
        if (f->about) { /* released: what was done is told once, and the stage forgets it */
            p4_events_emit(f->r->events, f->about, f->type, f->reason, f->message);
            finalized_all(f->r, f->key);
        }
    } else if (res->rc != P4_ERR_CANCELED && res->rc != P4_ERR_NOTFOUND) {
        p4_log(P4_LOG_WARN,
               f->about ? "cannot remove the finalizer, will retry"
                        : "cannot add the finalizer, will retry",
               "key", f->key, "error", res->err.message, P4_LOG_END);
        rc = res->rc;
    }
    p4_controller_done(f->ctl, f->key, rc, 0);
    free(f->key);
    cJSON_Delete(f->about);
    free(f->type);
    free(f->reason);
    free(f->message);
    free(f);
}

/* PATCH obj (ens/ename) with a JSON patch (taken over); ends key's reconcile. */
static void patch_finalizer(struct p4_reconciler *r, struct p4_controller *c, const char *key,
                            const char *ens, const char *ename, char *patch,
                            struct finalizer_ctx *f)
{
    char path[1024];

    f->ctl = c;
    f->r = r;
    f->key = p4_strdup(key);
    (void)snprintf(path, sizeof(path), "/apis/%s/%s/namespaces/%s/%s/%s", P4_API_GROUP,
                   P4_API_VERSION, ens, P4_RESOURCE, ename);
    if (patch == NULL || p4_kube_request(r->kube, "PATCH", path, "application/json-patch+json",
                                         patch, strlen(patch), on_finalizer_patched, f) != 0) {
        struct p4_kube_result res = {.rc = P4_ERR_INTERNAL};
        p4_error_set(&res.err, P4_ERR_INTERNAL, "cannot send the patch");
        on_finalizer_patched(&res, f);
    }
    free(patch);
}

/*
 * A resource being deleted: every stage forgets it; the stage that can undo its work
 * (finalize) does, and its progress is the status; the finalizer goes once that is done or
 * spec.deletionTimeout has passed, with one Event saying what was done or left.
 */
static void reconcile_deletion(struct p4_reconciler *r, struct p4_controller *c, const char *key,
                               const cJSON *obj, const char *ens, const char *ename)
{
    struct p4_finalize_result fr = {.done = true};
    const struct p4_stage_ops *ops = NULL;
    uint64_t left_ms = p4_finalizer_left_ms(obj, time(NULL));
    char now[32], deadline[32];
    cJSON *desired, *events;
    int64_t since_us = 0;
    int i;

    forget_all(r, key);
    if (!p4_finalizer_has(obj)) {
        finalized_all(r, key);
        p4_controller_done(c, key, 0, 0);
        return;
    }
    for (i = 0; i < P4_STAGE_COUNT && ops == NULL; i++)
        if (r->stages[i] && r->stages[i]->finalize)
            ops = r->stages[i];
    if (ops && ops->finalize(r->stage_ctx[i - 1], key, obj, &fr) != 0) {
        p4_controller_done(c, key, P4_ERR_INVALID, 0);
        return;
    }
    if (fr.done || left_ms == 0) {
        struct finalizer_ctx *f = p4_calloc(1, sizeof(*f));
        const char *type, *reason;
        char message[P4_ERROR_MESSAGE_MAX + 2 * P4_FINALIZE_TEXT_MAX];
        p4_finalizer_final_event(obj, &fr, !fr.done, &type, &reason, message, sizeof(message));
        f->about = p4_json_need(cJSON_Duplicate(obj, 1));
        f->type = p4_strdup(type);
        f->reason = p4_strdup(reason);
        f->message = p4_strdup(message);
        patch_finalizer(r, c, key, ens, ename, p4_finalizer_remove_patch(obj), f);
        return;
    }
    p4_timefmt_format(time(NULL), now, sizeof(now));
    (void)p4_timefmt_parse(p4_json_str(obj, "metadata.deletionTimestamp"), &since_us);
    p4_timefmt_format((time_t)(since_us / 1000000 + (int64_t)(p4_finalizer_timeout_ms(obj) / 1000)),
                      deadline, sizeof(deadline));
    events = cJSON_CreateArray();
    desired = p4_reconciler_deleting_status(obj, &fr, deadline, now, events);
    p4_controller_enqueue_after(c, key, left_ms); /* the timeout comes whatever happens */
    if (cJSON_Compare(desired, p4_json_get(obj, "status"), 1)) {
        cJSON_Delete(desired);
        cJSON_Delete(events);
        p4_controller_done(c, key, 0, 0);
        return;
    }
    write_status(r, c, key, ens, ename, p4_json_str(obj, "metadata.resourceVersion"), desired,
                 events, NULL);
}

/*
 * A rollback concerns this generation (plan): the stage with the rollback op (Kubernetes) is
 * asked to begin or go on with it, and the stages after it forget their runs (the failed
 * generation is not validated while its rollback runs); then that stage is polled (its
 * write-ahead record, its wait) and its result read into *res (*have). Returns where the
 * rollback stands; a rollback-to whose manifest is gone drops the run it began.
 */
static enum p4_rollback_state drive_rollback(struct p4_reconciler *r, const char *key,
                                             const cJSON *obj, const struct p4_rollback_plan *plan,
                                             struct p4_stage_result *res, bool *have)
{
    enum p4_rollback_state state;
    struct p4_error err;
    int k = 0;

    *have = false;
    while (k < P4_STAGE_COUNT && !(r->stages[k] && r->stages[k]->rollback))
        k++;
    if (k == P4_STAGE_COUNT)
        return p4_rollback_state_of(obj, plan, NULL); /* not reached: see rollback_stage */
    if (plan->what == P4_ROLLBACK_BEGIN || plan->what == P4_ROLLBACK_GO_ON) {
        for (int later = k + 1; later < P4_STAGE_COUNT; later++)
            if (r->stages[later] && r->stages[later]->forget)
                r->stages[later]->forget(r->stage_ctx[later], key);
        if (r->stages[k]->rollback(r->stage_ctx[k], key, obj, plan->to, &err) != 0)
            p4_log(P4_LOG_WARN, "cannot roll back", "key", key, "error", err.message, P4_LOG_END);
    }
    (void)r->stages[k]->poll(r->stage_ctx[k], key, obj);
    *have = r->stages[k]->result(r->stage_ctx[k], key, res) == 0;
    state = p4_rollback_state_of(obj, plan, *have ? res : NULL);
    /* A refused or failed rollback's run is dropped once read: the next rollback to the same
       generation begins anew. */
    if (*have && res->rollback_to == plan->to &&
        (state == P4_ROLLBACK_NO_MANIFEST || state == P4_ROLLBACK_FAILED))
        r->stages[k]->forget(r->stage_ctx[k], key);
    return state;
}

void p4_reconcile(struct p4_controller *c, const char *key, void *data)
{
    struct p4_reconciler *r = data;
    const cJSON *obj = p4_informer_get(r->resources, key);
    const char *ns, *name, *rv;
    cJSON *desired, *events;
    char now[32], ens[256], ename[512];
    struct p4_stage_result res[P4_STAGE_COUNT];
    const struct p4_stage_result *results[P4_STAGE_COUNT] = {0};
    struct p4_error why;
    bool suspend = false, refused, suspending = false;
    const char *retry = NULL, *retried = NULL;
    int64_t generation = 0;
    cJSON *view;
    struct p4_rollback_plan plan = {.what = P4_ROLLBACK_NONE};
    enum p4_rollback_state rb_state = P4_ROLLBACK_RUNNING;
    bool rb_have = false;
    enum p4_statusnews news;
    uint64_t wait_ms;

    if (obj == NULL) {
        const struct p4_informer_unreadable *u = p4_informer_unreadable(r->resources, key);

        forget_all(r, key);
        if (u == NULL)
            finalized_all(r, key); /* gone */
        if (u != NULL)
            write_unreadable(r, c, key, u);
        else
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
    if (p4_json_get(obj, "metadata.deletionTimestamp") != NULL) {
        reconcile_deletion(r, c, key, obj, ens, ename);
        return;
    }
    if (!p4_finalizer_has(obj)) { /* before anything can be applied for it */
        patch_finalizer(r, c, key, ens, ename, p4_finalizer_add_patch(obj),
                        p4_calloc(1, sizeof(struct finalizer_ctx)));
        return;
    }
    memset(res, 0, sizeof(res));
    view = approval_view(r, c, key, obj); /* with who approved, when that is to be recorded */
    if (view)
        obj = view;
    (void)p4_json_bool(obj, "spec.suspend", &suspend);
    (void)p4_json_int64(obj, "metadata.generation", &generation);
    refused = !suspend && p4_tenancy_check(r->tenancy, obj, &why) != 0;
    if (suspend) {
        suspending = suspend_stages(r, key, obj, true); /* a retry waits for the resume */
    } else if (refused) {
        forget_all(r, key); /* stop checking; a fixed spec starts over */
        retry = p4_policy_retry_requested(obj);
    } else {
        (void)suspend_stages(r, key, obj, false);
        p4_rollback_decide(obj, &plan);
        if (!rollback_stage(r)) /* no stage can do it: the stages run as they would */
            plan.what = P4_ROLLBACK_NONE;
        if (plan.what == P4_ROLLBACK_NONE) {
            retry = retry_failed(r, key, obj, &retried);
            if (retry == NULL && trust_holds(r, key, obj, &wait_ms)) {
                cJSON_Delete(view); /* nothing runs, nothing changes until its recheck */
                p4_controller_done(c, key, 0, wait_ms);
                return;
            }
            drive_stages(r, key, obj, res, results);
        } else { /* the stages wait; the Kubernetes stage rolls back */
            rb_state = drive_rollback(r, key, obj, &plan, &res[P4_STAGE_KUBERNETES], &rb_have);
        }
    }
    p4_timefmt_format(time(NULL), now, sizeof(now));
    events = cJSON_CreateArray();
    desired =
        refused   ? p4_reconciler_refused_status(obj, &why, now, events)
        : suspend ? p4_reconciler_suspended_status(obj, suspending, now, events)
        : plan.what != P4_ROLLBACK_NONE
            ? p4_reconciler_rollback_status(obj, &plan, rb_state,
                                            rb_have ? &res[P4_STAGE_KUBERNETES] : NULL, now, events)
            : p4_reconciler_desired_status(obj, results, now, events);
    if (plan.refused) /* once per value: status.lastHandledRollbackTo */
        p4_rollback_refused(desired, plan.request, generation, plan.why, events);
    if (retry != NULL) /* once per value: status.lastHandledRetry */
        p4_policy_retry_handled(desired, retry, retried, generation, events);
    for (int i = 0; i < P4_STAGE_COUNT; i++)
        p4_stage_result_close(&res[i]);
    notify(r, key, obj, desired, now, events);
    news = p4_statusnews_compare(p4_json_get(obj, "status"), desired);
    /* Only a wait's progress changed, and nothing is to be told: it goes with the next news,
       or once the progress interval has passed (statusnews.h). */
    wait_ms = news == P4_STATUSNEWS_PROGRESS && cJSON_GetArraySize(events) == 0
                  ? progress_wait(r, key)
                  : 0;
    if (news == P4_STATUSNEWS_SAME || wait_ms > 0) {
        cJSON_Delete(desired); /* nothing changed (or nothing to tell yet): no write, no Event */
        cJSON_Delete(events);
        cJSON_Delete(view);
        if (wait_ms > 0)
            r->status_deferred++;
        p4_controller_done(c, key, 0, wait_ms);
        return;
    }
    if (cJSON_IsObject(p4_json_get(obj, "status")))
        null_removed(desired, p4_json_get(obj, "status"));
    cJSON_Delete(view);
    write_status(r, c, key, ens, ename, rv, desired, events, NULL);
}

void p4_reconciler_metrics(const struct p4_reconciler *r, struct p4_buf *out)
{
    p4_buf_printf(out,
                  "# HELP phase4_status_writes_total Status updates written.\n"
                  "# TYPE phase4_status_writes_total counter\n"
                  "phase4_status_writes_total %" PRIu64 "\n"
                  "# HELP phase4_status_writes_deferred_total Reconciles that held a status write "
                  "back because only a wait's progress changed (it goes with the next change, "
                  "or after --status-progress-interval).\n"
                  "# TYPE phase4_status_writes_deferred_total counter\n"
                  "phase4_status_writes_deferred_total %" PRIu64 "\n",
                  r->status_writes, r->status_deferred);
    p4_buf_printf(out,
                  "# HELP phase4_recheck_pending Resources trusted at start (their pass on "
                  "record for their generation) whose recheck has not begun (--recheck-spread).\n"
                  "# TYPE phase4_recheck_pending gauge\n"
                  "phase4_recheck_pending %zu\n"
                  "# HELP phase4_recheck_trusted_total Resources trusted at first sight.\n"
                  "# TYPE phase4_recheck_trusted_total counter\n"
                  "phase4_recheck_trusted_total %" PRIu64 "\n",
                  p4_strmap_len(&r->trust), r->trusted_total);
}

void p4_reconciler_stage_metrics(const struct p4_reconciler *r, struct p4_buf *out)
{
    for (int i = 0; i < P4_STAGE_COUNT; i++) {
        if (r->stages[i] && r->stages[i]->metrics)
            r->stages[i]->metrics(r->stage_ctx[i], out);
    }
}
