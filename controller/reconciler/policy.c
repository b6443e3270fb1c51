/* policy.c: the deployment policy's pure decisions (see policy.h). */
#include "policy.h"

#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/core/json.h"
#include "phase4/core/text.h"
#include "rollback.h"
#include "verdict.h"

static const char *const stage_names[P4_STAGE_COUNT] = {"Docker", "Helm", "Kubernetes",
                                                        "Validation"};
static const char *const stage_conditions[P4_STAGE_COUNT] = {"DockerReady", "HelmReady",
                                                             "KubernetesReady", "Validated"};

const char *p4_policy_retry_requested(const cJSON *obj)
{
    const cJSON *v = p4_json_child(p4_json_get(obj, "metadata.annotations"), P4_RETRY_ANNOTATION);
    const char *handled = p4_json_str(obj, "status.lastHandledRetry");

    if (!cJSON_IsString(v) || v->valuestring == NULL || v->valuestring[0] == '\0')
        return NULL;
    return p4_text_eq(handled, v->valuestring) ? NULL : v->valuestring;
}

int p4_policy_failed_stage(const cJSON *obj)
{
    const char *stage = p4_json_str(obj, "status.stage");
    int64_t generation = 0, cgen = -1;
    const cJSON *c;

    (void)p4_json_int64(obj, "metadata.generation", &generation);
    for (int i = 0; i < P4_STAGE_COUNT; i++) {
        if (!p4_text_eq(stage, stage_names[i]))
            continue;
        c = p4_json_find(p4_json_get(obj, "status.conditions"), "type", stage_conditions[i]);
        if (c == NULL)
            continue;
        (void)p4_json_int64(c, "observedGeneration", &cgen);
        return cgen == generation && p4_text_eq(p4_json_str(c, "status"), "False") ? i : -1;
    }
    return -1;
}

void p4_policy_retry_handled(cJSON *st, const char *value, const char *stage, int64_t generation,
                             cJSON *events)
{
    char shown[80], msg[400];
    cJSON *e;

    cJSON_DeleteItemFromObjectCaseSensitive(st, "lastHandledRetry");
    p4_json_need(cJSON_AddStringToObject(st, "lastHandledRetry", value));
    if (events == NULL)
        return;
    (void)p4_text_clean(shown, sizeof(shown), value, strlen(value), P4_TEXT_QUOTED);
    if (stage)
        (void)snprintf(msg, sizeof(msg),
                       "Generation %" PRId64 ": retry \"%s\" requested (%s): the %s stage runs "
                       "again from its first attempt",
                       generation, shown, P4_RETRY_ANNOTATION, stage);
    else
        (void)snprintf(msg, sizeof(msg),
                       "Generation %" PRId64 ": retry \"%s\" requested (%s), but no stage has "
                       "failed for this generation: nothing to run again",
                       generation, shown, P4_RETRY_ANNOTATION);
    e = p4_json_need(cJSON_CreateObject());
    p4_json_need(cJSON_AddStringToObject(e, "type", "Normal"));
    p4_json_need(cJSON_AddStringToObject(e, "reason", "RetryRequested"));
    p4_json_need(cJSON_AddStringToObject(e, "message", msg));
    cJSON_AddItemToArray(events, e);
}

uint64_t p4_policy_recheck_ms(int n, uint64_t max_ms)
{
    uint64_t ms = P4_RECHECK_FIRST_MS;

    if (max_ms == 0 || max_ms <= ms)
        return max_ms;
    for (int i = 0; i < n && ms < max_ms; i++)
        ms *= 2;
    return ms < max_ms ? ms : max_ms;
}

const char *p4_policy_stalled_reason(enum p4_failure_class cls)
{
    return cls == P4_FAIL_ARTIFACT ? P4_REASON_REGENERATION : P4_REASON_ESCALATED;
}

void p4_policy_impact(const cJSON *obj, int stage, int64_t generation, char *out, size_t size)
{
    int64_t good = -1;
    bool applied = cJSON_GetArraySize(p4_json_get(obj, "status.inventory")) > 0;
    /* Before the Kubernetes stage nothing of this generation was applied. */
    bool before_apply = stage < P4_STAGE_KUBERNETES;

    if (size == 0)
        return;
    if (p4_rollback_holds(obj)) { /* what the rollback re-applied serves, or says why not */
        p4_rollback_impact(p4_json_get(obj, "status.rollback"), out, size);
        return;
    }
    if (p4_json_int64(obj, "status.lastKnownGoodRevision", &good) != 0 || good <= 0 ||
        good >= generation)
        good = -1;
    if (good > 0 && before_apply)
        (void)snprintf(out, size,
                       "impact: generation %" PRId64 ", the last good revision, still serves "
                       "(nothing of this generation was applied)",
                       good);
    else if (good > 0)
        (void)snprintf(out, size,
                       "impact: this generation is applied over generation %" PRId64
                       ", the last good revision, whose pods serve only where the rollout has "
                       "not replaced them (nothing is rolled back)",
                       good);
    else if (before_apply && applied)
        (void)snprintf(out, size,
                       "impact: what an earlier generation applied stays as it is, but no "
                       "generation has passed every stage yet");
    else if (before_apply)
        (void)snprintf(out, size, "impact: nothing serves yet (nothing was applied)");
    else
        (void)snprintf(out, size,
                       "impact: nothing is known to serve: no generation of this resource has "
                       "passed every stage yet");
}

int p4_policy_clause_len(const char *msg)
{
    size_t n = msg ? strlen(msg) : 0;

    while (n > 0 && (msg[n - 1] == '.' || msg[n - 1] == ' '))
        n--;
    return n > 0x7fffffff ? 0x7fffffff : (int)n;
}

void p4_policy_final_message(const cJSON *obj, const struct p4_policy_final *f, char *out,
                             size_t size)
{
    const char *stage = f->stage >= 0 && f->stage < P4_STAGE_COUNT ? stage_names[f->stage] : NULL;
    const char *reason = f->reason ? f->reason : "Failed";
    const char *remedy = p4_verdict_remedy(reason, f->cls);
    const char *again = f->no_recheck ? "only a changed spec (a new generation) checks it again"
                                      : "it is checked again with backoff and clears by itself "
                                        "once fixed";
    char impact[300], at[160] = "";

    if (size == 0)
        return;
    p4_policy_impact(obj, f->stage, f->generation, impact, sizeof(impact));
    if (f->gate)
        (void)snprintf(at, sizeof(at), " at gate %s", f->gate);
    if (f->cls == P4_FAIL_ARTIFACT)
        p4_text_format(out, size,
                       "Generation %" PRId64 ": the %s stage failed %d %s%s (%s): %.*s; %s; next: "
                       "%s, or set the annotation %s to a new value to run it again once fixed "
                       "elsewhere",
                       f->generation, stage ? stage : "", f->attempts,
                       f->attempts == 1 ? "time" : "times", at, reason,
                       p4_policy_clause_len(f->message), f->message ? f->message : "", impact,
                       remedy, P4_RETRY_ANNOTATION);
    else if (stage)
        p4_text_format(out, size,
                       "Generation %" PRId64 ": escalated to a person: the %s stage cannot go "
                       "on%s (%s): %.*s; %s; fix: %s; %s",
                       f->generation, stage, at, reason, p4_policy_clause_len(f->message),
                       f->message ? f->message : "", impact, remedy, again);
    else
        p4_text_format(out, size,
                       "Generation %" PRId64 ": escalated to a person: not started (%s): %.*s; "
                       "%s; fix: %s; %s",
                       f->generation, reason, p4_policy_clause_len(f->message),
                       f->message ? f->message : "", impact, remedy, again);
}

bool p4_policy_spec_digest(const cJSON *obj, char out[P4_SPEC_DIGEST_SIZE])
{
    static const char hex[] = "0123456789abcdef";
    const cJSON *spec = p4_json_get(obj, "spec");
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    cJSON *copy;
    char *text;
    int ok;

    out[0] = '\0';
    if (!cJSON_IsObject(spec))
        return false;
    copy = p4_json_need(cJSON_Duplicate(spec, 1));
    cJSON_DeleteItemFromObjectCaseSensitive(copy, "suspend");
    text = p4_json_print(copy);
    cJSON_Delete(copy);
    ok = EVP_Digest(text, strlen(text), md, &mdlen, EVP_sha256(), NULL);
    free(text);
    if (ok != 1 || mdlen != 32)
        return false;
    for (size_t i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
    return true;
}
