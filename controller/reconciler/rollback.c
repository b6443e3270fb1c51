/* rollback.c: rollback to a revision that succeeded, the pure decisions (see rollback.h). */
#include "rollback.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/core/json.h"
#include "phase4/core/text.h"
#include "policy.h"

static const char *const stage_names[P4_STAGE_COUNT] = {"Docker", "Helm", "Kubernetes",
                                                        "Validation"};

#define TRIGGER_FAILURE "RollbackOnFailure"
#define TRIGGER_REQUEST "RollbackTo"

/* Both absent, or the same text. */
static bool same_text(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || p4_text_eq(a, b);
}

static bool known_state(const char *s)
{
    return p4_text_eq(s, "Running") || p4_text_eq(s, "Succeeded") || p4_text_eq(s, "Failed");
}

bool p4_rollback_holds(const cJSON *obj)
{
    const cJSON *rec = p4_json_get(obj, "status.rollback");
    int64_t generation = 0, from = -1;

    (void)p4_json_int64(obj, "metadata.generation", &generation);
    if (!cJSON_IsObject(rec) || p4_json_int64(rec, "from", &from) != 0 || from != generation ||
        !known_state(p4_json_str(rec, "state")))
        return false;
    return same_text(p4_json_str(rec, "retry"), p4_json_str(obj, "status.lastHandledRetry"));
}

/* The rollback-to value not handled yet, or NULL. */
static const char *request_of(const cJSON *obj)
{
    const cJSON *v =
        p4_json_child(p4_json_get(obj, "metadata.annotations"), P4_ROLLBACK_ANNOTATION);

    if (!cJSON_IsString(v) || v->valuestring == NULL || v->valuestring[0] == '\0')
        return NULL;
    return p4_text_eq(p4_json_str(obj, "status.lastHandledRollbackTo"), v->valuestring)
               ? NULL
               : v->valuestring;
}

/* A generation as a person writes it: 1 to 18 digits, nothing else. */
static bool parse_generation(const char *s, int64_t *out)
{
    int64_t v = 0;
    size_t n = 0;

    for (; s[n] != '\0'; n++) {
        if (s[n] < '0' || s[n] > '9' || n >= 18)
            return false;
        v = v * 10 + (s[n] - '0');
    }
    *out = v;
    return n > 0;
}

/* status.history's verdict for generation, or NULL when history does not say. */
static const char *history_verdict(const cJSON *obj, int64_t generation)
{
    const cJSON *e;

    cJSON_ArrayForEach(e, p4_json_get(obj, "status.history")) {
        int64_t g = -1;
        if (p4_json_int64(e, "generation", &g) == 0 && g == generation)
            return p4_json_str(e, "verdict");
    }
    return NULL;
}

/*
 * Is Stalled True for generation on record, for a cause a rollback helps? Not one escalated to
 * a person (EscalatedToUser: RBAC, quota, capacity, policy): rolling back would apply the last
 * good revision into the same cluster problem and stop the re-checks that clear the stall by
 * themselves once it is fixed, while a Deployment's rollout keeps the old pods serving anyway.
 */
static bool stalled_on_record(const cJSON *obj, int64_t generation)
{
    const cJSON *c = p4_json_find(p4_json_get(obj, "status.conditions"), "type", "Stalled");
    int64_t g = -1;

    (void)p4_json_int64(c, "observedGeneration", &g);
    return c != NULL && g == generation && p4_text_eq(p4_json_str(c, "status"), "True") &&
           !p4_text_eq(p4_json_str(c, "reason"), P4_REASON_ESCALATED);
}

void p4_rollback_decide(const cJSON *obj, struct p4_rollback_plan *out)
{
    const cJSON *rec = p4_json_get(obj, "status.rollback");
    int64_t generation = 0, observed = -1, good = -1, to = 0;
    bool enabled = true;
    int i;

    memset(out, 0, sizeof(*out));
    out->stage = -1;
    (void)p4_json_int64(obj, "metadata.generation", &generation);
    (void)p4_json_int64(obj, "status.observedGeneration", &observed);
    if (observed != generation) /* a generation not observed yet begins first */
        return;
    if (p4_rollback_holds(obj)) {
        (void)p4_json_int64(rec, "from", &out->from);
        (void)p4_json_int64(rec, "to", &out->to);
        if (p4_text_eq(p4_json_str(rec, "state"), "Running")) {
            out->what = P4_ROLLBACK_GO_ON; /* a retry or a rollback-to waits until it is done */
            return;
        }
    }
    if (p4_policy_retry_requested(obj) != NULL) /* the generation runs again */
        return;
    out->request = request_of(obj);
    if (out->request != NULL) {
        const char *verdict;
        char shown[80];
        (void)p4_text_clean(shown, sizeof(shown), out->request, strlen(out->request),
                            P4_TEXT_QUOTED);
        out->refused = true;
        if (!parse_generation(out->request, &to) || to == 0)
            (void)snprintf(out->why, sizeof(out->why),
                           "\"%s\" is not a generation (a number from 1 up)", shown);
        else if (to == generation)
            (void)snprintf(out->why, sizeof(out->why),
                           "generation %" PRId64 " is the current generation; set %s to a new "
                           "value to apply it again",
                           to, P4_RETRY_ANNOTATION);
        else if (to > generation)
            (void)snprintf(out->why, sizeof(out->why),
                           "generation %" PRId64 " is newer than the current generation %" PRId64,
                           to, generation);
        else if ((verdict = history_verdict(obj, to)) != NULL && !p4_text_eq(verdict, "SUCCESSFUL"))
            (void)snprintf(out->why, sizeof(out->why),
                           "generation %" PRId64 " did not succeed (status.history says %s); "
                           "roll back only to a generation whose verdict was SUCCESSFUL",
                           to, verdict);
        else
            out->refused = false;
        if (!out->refused) {
            out->what = P4_ROLLBACK_BEGIN;
            out->from = generation;
            out->to = to;
            return;
        }
    }
    if (p4_rollback_holds(obj)) {
        out->what = P4_ROLLBACK_HOLD;
        return;
    }
    i = p4_policy_failed_stage(obj);
    if ((i != P4_STAGE_KUBERNETES && i != P4_STAGE_VALIDATION) ||
        !stalled_on_record(obj, generation))
        return;
    (void)p4_json_bool(obj, "spec.rollout.rollbackOnFailure", &enabled); /* unset: true */
    if (!enabled || p4_json_int64(obj, "status.lastKnownGoodRevision", &good) != 0 || good <= 0 ||
        good >= generation)
        return;
    out->what = P4_ROLLBACK_BEGIN;
    out->from = generation;
    out->to = good;
    out->stage = i;
}

/* Has a rollback-to run got past reading its manifest (some gate moved)? */
static bool past_read(const struct p4_stage_result *res)
{
    const cJSON *g;

    if (res->state != P4_STAGE_RUNNING)
        return true;
    cJSON_ArrayForEach(g, res->gates) {
        if (!p4_text_eq(p4_json_str(g, "reason"), "Checking"))
            return true;
    }
    return false;
}

enum p4_rollback_state p4_rollback_state_of(const cJSON *obj, const struct p4_rollback_plan *plan,
                                            const struct p4_stage_result *res)
{
    const cJSON *rec = p4_json_get(obj, "status.rollback");
    const char *state = p4_json_str(rec, "state");
    bool asked = plan->what == P4_ROLLBACK_BEGIN && plan->request != NULL;
    int64_t from = -1, to = -1;

    (void)p4_json_int64(rec, "from", &from);
    (void)p4_json_int64(rec, "to", &to);
    if (plan->what != P4_ROLLBACK_BEGIN && from == plan->from && to == plan->to) {
        if (p4_text_eq(state, "Succeeded"))
            return P4_ROLLBACK_SUCCEEDED; /* finished: a later change of the run is not this */
        if (p4_text_eq(state, "Failed"))
            return P4_ROLLBACK_FAILED;
    }
    if (res == NULL || res->rollback_to != plan->to)
        return asked ? P4_ROLLBACK_PENDING : P4_ROLLBACK_RUNNING;
    if (asked && res->state == P4_STAGE_FAILED && p4_text_eq(res->err.reason, "ManifestNotFound"))
        return P4_ROLLBACK_NO_MANIFEST;
    if (asked && !past_read(res))
        return P4_ROLLBACK_PENDING;
    if (res->state == P4_STAGE_PASSED)
        return P4_ROLLBACK_SUCCEEDED;
    if (res->state == P4_STAGE_FAILED && res->stalled)
        return P4_ROLLBACK_FAILED;
    return P4_ROLLBACK_RUNNING;
}

static const char *state_name(enum p4_rollback_state s)
{
    return s == P4_ROLLBACK_SUCCEEDED ? "Succeeded"
           : s == P4_ROLLBACK_FAILED  ? "Failed"
                                      : "Running";
}

/* The record's message, from its members. */
static void describe(const cJSON *rec, char *out, size_t size)
{
    int64_t from = 0, to = 0;
    const char *state = p4_json_str(rec, "state");
    const char *stage = p4_json_str(rec, "failedStage");
    const char *why = p4_json_str(rec, "failedReason");
    const char *request = p4_json_str(rec, "request");
    const char *reason = p4_json_str(rec, "reason");
    const char *detail = p4_json_str(rec, "detail");
    char head[400], shown[80];

    (void)p4_json_int64(rec, "from", &from);
    (void)p4_json_int64(rec, "to", &to);
    if (request != NULL) {
        (void)p4_text_clean(shown, sizeof(shown), request, strlen(request), P4_TEXT_QUOTED);
        (void)snprintf(head, sizeof(head),
                       "rollback requested (%s=\"%s\") from generation %" PRId64,
                       P4_ROLLBACK_ANNOTATION, shown, from);
    } else {
        (void)snprintf(head, sizeof(head), "generation %" PRId64 " failed at the %s stage (%s)",
                       from, stage ? stage : "Kubernetes", why ? why : "Failed");
    }
    if (p4_text_eq(state, "Succeeded"))
        p4_text_format(out, size, "%s; generation %" PRId64 "'s manifest re-applied and healthy",
                       head, to);
    else if (p4_text_eq(state, "Failed"))
        p4_text_format(out, size, "%s; the rollback to generation %" PRId64 " failed (%s): %.*s",
                       head, to, reason ? reason : "Failed", p4_policy_clause_len(detail),
                       detail ? detail : "");
    else
        p4_text_format(out, size, "%s; re-applying generation %" PRId64 "'s manifest", head, to);
}

static void event(cJSON *events, const char *type, const char *reason, const char *message)
{
    cJSON *e;

    if (events == NULL)
        return;
    e = p4_json_need(cJSON_CreateObject());
    p4_json_need(cJSON_AddStringToObject(e, "type", type));
    p4_json_need(cJSON_AddStringToObject(e, "reason", reason));
    p4_json_need(cJSON_AddStringToObject(e, "message", message));
    cJSON_AddItemToArray(events, e);
}

static void put_str(cJSON *o, const char *key, const char *value)
{
    if (value != NULL)
        p4_json_need(cJSON_AddStringToObject(o, key, value));
}

/*
 * Take every member named key out of obj: JSON allows a name twice and cJSON keeps both, so a
 * status read with a duplicate would otherwise keep the second copy next to the one written.
 */
static void drop_member(cJSON *obj, const char *key)
{
    while (cJSON_GetObjectItemCaseSensitive(obj, key) != NULL)
        cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
}

bool p4_rollback_record(cJSON *st, const cJSON *obj, const struct p4_rollback_plan *plan,
                        enum p4_rollback_state state, const struct p4_stage_result *res,
                        const char *now, cJSON *events)
{
    const cJSON *old = p4_json_get(obj, "status.rollback");
    const char *old_state = p4_json_str(old, "state"), *name = state_name(state);
    int64_t from = -1, to = -1;
    bool same, finished = state == P4_ROLLBACK_SUCCEEDED || state == P4_ROLLBACK_FAILED;
    cJSON *rec = p4_json_need(cJSON_CreateObject());
    char msg[P4_ERROR_MESSAGE_MAX + 512];

    (void)p4_json_int64(old, "from", &from);
    (void)p4_json_int64(old, "to", &to);
    same = plan->what != P4_ROLLBACK_BEGIN && from == plan->from && to == plan->to;
    p4_json_need(cJSON_AddNumberToObject(rec, "from", (double)plan->from));
    p4_json_need(cJSON_AddNumberToObject(rec, "to", (double)plan->to));
    if (same) {
        put_str(rec, "trigger", p4_json_str(old, "trigger"));
        put_str(rec, "request", p4_json_str(old, "request"));
        put_str(rec, "failedStage", p4_json_str(old, "failedStage"));
        put_str(rec, "failedReason", p4_json_str(old, "failedReason"));
    } else {
        int i = plan->stage >= 0 ? plan->stage : p4_policy_failed_stage(obj);
        put_str(rec, "trigger", plan->request ? TRIGGER_REQUEST : TRIGGER_FAILURE);
        put_str(rec, "request", plan->request);
        if (i >= 0 && i < P4_STAGE_COUNT) {
            const cJSON *c;
            put_str(rec, "failedStage", stage_names[i]);
            cJSON_ArrayForEach(c, p4_json_get(obj, "status.conditions")) {
                if (p4_text_eq(p4_json_str(c, "type"), p4_stage_condition((enum p4_stage_id)i)))
                    put_str(rec, "failedReason", p4_json_str(c, "reason"));
            }
        }
    }
    put_str(rec, "state", name);
    put_str(rec, "startedAt",
            same && p4_json_str(old, "startedAt") ? p4_json_str(old, "startedAt") : now);
    if (finished)
        put_str(rec, "finishedAt",
                same && p4_text_eq(old_state, name) && p4_json_str(old, "finishedAt")
                    ? p4_json_str(old, "finishedAt")
                    : now);
    if (state == P4_ROLLBACK_FAILED) {
        if (same && p4_text_eq(old_state, name)) {
            put_str(rec, "reason", p4_json_str(old, "reason"));
            put_str(rec, "detail", p4_json_str(old, "detail"));
        } else {
            put_str(rec, "reason", res && res->err.reason ? res->err.reason : "RollbackFailed");
            put_str(rec, "detail", res ? res->err.message : "the rollback did not finish");
        }
    }
    if (same)
        put_str(rec, "retry", p4_json_str(old, "retry"));
    else
        put_str(rec, "retry", p4_json_str(obj, "status.lastHandledRetry"));
    describe(rec, msg, sizeof(msg));
    put_str(rec, "message", msg);
    drop_member(st, "rollback");
    cJSON_AddItemToObject(st, "rollback", rec);
    if (plan->request != NULL && plan->what == P4_ROLLBACK_BEGIN) {
        drop_member(st, "lastHandledRollbackTo");
        put_str(st, "lastHandledRollbackTo", plan->request);
    }
    if (same && p4_text_eq(old_state, name))
        return false; /* no news */
    if (state == P4_ROLLBACK_SUCCEEDED)
        event(events, "Normal", "RolledBack", msg);
    else if (state == P4_ROLLBACK_FAILED)
        event(events, "Warning", "RollbackFailed", msg);
    else if (!same)
        event(events, "Normal", "RollingBack", msg);
    return state == P4_ROLLBACK_SUCCEEDED;
}

void p4_rollback_refused(cJSON *st, const char *value, int64_t generation, const char *why,
                         cJSON *events)
{
    char shown[80], msg[600];

    drop_member(st, "lastHandledRollbackTo");
    put_str(st, "lastHandledRollbackTo", value);
    (void)p4_text_clean(shown, sizeof(shown), value, strlen(value), P4_TEXT_QUOTED);
    p4_text_format(msg, sizeof(msg),
                   "Generation %" PRId64 ": rollback \"%s\" refused (%s): %s; nothing was changed",
                   generation, shown, P4_ROLLBACK_ANNOTATION, why);
    event(events, "Warning", "RollbackRefused", msg);
}

const char *p4_rollback_message(const cJSON *st)
{
    const char *m = p4_json_str(st, "rollback.message");

    return m ? m : "";
}

void p4_rollback_impact(const cJSON *record, char *out, size_t size)
{
    const char *state = p4_json_str(record, "state");
    int64_t from = 0, to = 0;

    if (size == 0)
        return;
    (void)p4_json_int64(record, "from", &from);
    (void)p4_json_int64(record, "to", &to);
    if (p4_text_eq(state, "Succeeded"))
        (void)snprintf(out, size,
                       "impact: generation %" PRId64 " serves: its manifest was re-applied "
                       "(rolled back) and is healthy",
                       to);
    else if (p4_text_eq(state, "Failed"))
        (void)snprintf(out, size,
                       "impact: the rollback to generation %" PRId64 " failed, so what "
                       "generations %" PRId64 " and %" PRId64 " applied serves only as far as "
                       "each got",
                       to, from, to);
    else
        (void)snprintf(out, size,
                       "impact: rolling back: generation %" PRId64 "'s manifest is being "
                       "re-applied over what generation %" PRId64 " applied",
                       to, from);
}
