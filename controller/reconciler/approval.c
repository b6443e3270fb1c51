/* approval.c: approval with a plan, the pure decisions (see approval.h). */
#include "phase4/reconciler/approval.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/core/json.h"
#include "phase4/core/text.h"
#include "policy.h"

#define VALUE_SHOWN 64 /* bytes of an ignored annotation value shown */

bool p4_approval_required(const cJSON *obj)
{
    bool required = false;

    (void)p4_json_bool(obj, "spec.approval.required", &required);
    return required || p4_text_eq(p4_json_str(obj, "spec.target.environment"), "production");
}

/* The annotation's value, or NULL. */
static const char *annotation(const cJSON *obj)
{
    const cJSON *v = p4_json_child(p4_json_get(obj, "metadata.annotations"), P4_APPROVE_ANNOTATION);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* A generation number as kubectl users write it: decimal digits, nothing else. */
static bool parse_generation(const char *s, int64_t *out)
{
    char *end;
    long long v;

    if (s == NULL || s[0] < '0' || s[0] > '9' || strlen(s) > 19)
        return false;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return false;
    *out = (int64_t)v;
    return true;
}

static int64_t generation_of(const cJSON *obj)
{
    int64_t g = 0;

    (void)p4_json_int64(obj, "metadata.generation", &g);
    return g;
}

/*
 * Was the approval on record given to this very spec? status.approval.specDigest is the digest
 * of the approved generation's spec without spec.suspend (policy.h), so suspending and resuming
 * an approved generation (two new generations) does not ask again; any other change does.
 */
static bool same_spec(const cJSON *obj)
{
    const char *approved = p4_json_str(obj, "status.approval.specDigest");
    char digest[P4_SPEC_DIGEST_SIZE];

    return approved != NULL && p4_policy_spec_digest(obj, digest) && strcmp(approved, digest) == 0;
}

enum p4_approval_state p4_approval_state(const cJSON *obj)
{
    int64_t gen = generation_of(obj), rec = -1, named = -1;

    if (!p4_approval_required(obj))
        return P4_APPROVAL_NOT_REQUIRED;
    if (p4_json_int64(obj, "status.approval.generation", &rec) == 0 &&
        (rec == gen || (rec < gen && same_spec(obj))))
        return P4_APPROVAL_APPROVED;
    if (parse_generation(annotation(obj), &named) && named == gen)
        return P4_APPROVAL_REQUESTED;
    return P4_APPROVAL_WAITING;
}

static bool owns_annotation(const cJSON *entry)
{
    const cJSON *f = p4_json_child(p4_json_child(p4_json_child(entry, "fieldsV1"), "f:metadata"),
                                   "f:annotations");

    return p4_json_child(f, "f:" P4_APPROVE_ANNOTATION) != NULL;
}

cJSON *p4_approval_owners(const cJSON *managed_fields)
{
    cJSON *out = cJSON_CreateArray();
    const cJSON *e;

    if (!cJSON_IsArray(managed_fields))
        return out;
    cJSON_ArrayForEach(e, managed_fields) {
        if (owns_annotation(e))
            cJSON_AddItemToArray(out, p4_json_need(cJSON_Duplicate(e, 1)));
    }
    return out;
}

bool p4_approval_who(const cJSON *managed_fields, char *by, size_t by_size, char *at,
                     size_t at_size)
{
    const cJSON *e, *best = NULL;
    const char *best_time = "";

    by[0] = '\0';
    at[0] = '\0';
    if (!cJSON_IsArray(managed_fields))
        return false;
    cJSON_ArrayForEach(e, managed_fields) {
        const char *m = p4_json_str(e, "manager"), *t = p4_json_str(e, "time");
        if (!owns_annotation(e) || m == NULL)
            continue;
        /* RFC 3339 times as the API server writes them (UTC, seconds) sort as text */
        if (best == NULL || (t && strcmp(t, best_time) > 0)) {
            best = e;
            best_time = t ? t : "";
        }
    }
    if (best == NULL)
        return false;
    {
        const char *m = p4_json_str(best, "manager");
        (void)p4_text_clean(by, by_size, m, strlen(m), 0);
        (void)p4_text_clean(at, at_size, best_time, strlen(best_time), 0);
    }
    return by[0] != '\0';
}

static void add_event(cJSON **events, const char *type, const char *reason, const char *message)
{
    cJSON *e = cJSON_CreateObject();

    if (*events == NULL)
        *events = cJSON_CreateArray();
    cJSON_AddStringToObject(e, "type", type);
    cJSON_AddStringToObject(e, "reason", reason);
    cJSON_AddStringToObject(e, "message", message);
    cJSON_AddItemToArray(*events, e);
}

/* status.approval as it is, copied (or a new object), for a change. */
static cJSON *record_copy(const cJSON *obj)
{
    const cJSON *cur = p4_json_get(obj, "status.approval");

    return cJSON_IsObject(cur) ? p4_json_need(cJSON_Duplicate(cur, 1)) : cJSON_CreateObject();
}

static void set_member_str(cJSON *o, const char *key, const char *v)
{
    cJSON_DeleteItemFromObjectCaseSensitive(o, key);
    cJSON_AddStringToObject(o, key, v);
}

/* v as shown and kept (status.approval.ignored): cleaned, at most VALUE_SHOWN bytes. */
static void shown_value(const char *v, char *buf, size_t size)
{
    (void)p4_text_clean(buf, size < VALUE_SHOWN + 1 ? size : VALUE_SHOWN + 1, v, strlen(v),
                        P4_TEXT_QUOTED);
}

/* Why the annotation's value (v) does not approve generation gen, into buf. */
static void ignored_why(const char *v, int64_t gen, char *buf, size_t size)
{
    char shown[VALUE_SHOWN + 1];
    int64_t named = -1;

    shown_value(v, shown, sizeof(shown));
    if (!parse_generation(v, &named))
        (void)snprintf(buf, size, "%s=\"%s\" was ignored: it is not a generation number",
                       P4_APPROVE_ANNOTATION, shown);
    else if (named < gen)
        (void)snprintf(buf, size,
                       "%s=%s was ignored: it approves generation %" PRId64
                       ", an older one; each generation needs its own approval",
                       P4_APPROVE_ANNOTATION, shown, named);
    else
        (void)snprintf(buf, size,
                       "%s=%s was ignored: generation %" PRId64 " does not exist (the spec is at "
                       "generation %" PRId64 ")",
                       P4_APPROVE_ANNOTATION, shown, named, gen);
}

/* On record for this generation: go on, and say by whom (no Event: it was told). */
static void decide_approved(const cJSON *obj, int64_t gen, struct p4_approval_decision *d)
{
    const char *rby = p4_json_str(obj, "status.approval.by");
    const char *rat = p4_json_str(obj, "status.approval.at");
    char by[P4_APPROVAL_BY_MAX] = "", at[64] = "";

    if (rby)
        (void)p4_text_clean(by, sizeof(by), rby, strlen(rby), 0);
    if (rat)
        (void)p4_text_clean(at, sizeof(at), rat, strlen(rat), 0);
    int64_t rec = gen;

    (void)p4_json_int64(obj, "status.approval.generation", &rec);
    d->go = true;
    d->status = "False";
    d->reason = "Approved";
    if (rec != gen)
        (void)snprintf(d->message, sizeof(d->message),
                       "Generation %" PRId64 ": approved as generation %" PRId64
                       " (the same spec but for spec.suspend) by field manager %s%s%s",
                       gen, rec, by[0] ? by : "(unknown)", at[0] ? " at " : "", at);
    else
        (void)snprintf(d->message, sizeof(d->message),
                       "Generation %" PRId64 ": approved by field manager %s%s%s", gen,
                       by[0] ? by : "(unknown)", at[0] ? " at " : "", at);
}

/* The annotation approves this generation and managed_fields tell who: record it, go on. */
static void decide_recorded(const cJSON *obj, const cJSON *managed_fields, int64_t gen,
                            struct p4_approval_decision *d)
{
    char by[P4_APPROVAL_BY_MAX], at[64], digest[P4_SPEC_DIGEST_SIZE];
    bool known = p4_approval_who(managed_fields, by, sizeof(by), at, sizeof(at));

    d->record = record_copy(obj);
    cJSON_DeleteItemFromObjectCaseSensitive(d->record, "generation");
    cJSON_AddNumberToObject(d->record, "generation", (double)gen);
    cJSON_DeleteItemFromObjectCaseSensitive(d->record, "by");
    cJSON_DeleteItemFromObjectCaseSensitive(d->record, "at");
    cJSON_DeleteItemFromObjectCaseSensitive(d->record, "specDigest");
    if (p4_policy_spec_digest(obj, digest))
        set_member_str(d->record, "specDigest", digest);
    if (known)
        set_member_str(d->record, "by", by);
    if (known && at[0])
        set_member_str(d->record, "at", at);
    d->go = true;
    d->status = "False";
    d->reason = "Approved";
    (void)snprintf(d->message, sizeof(d->message),
                   "Generation %" PRId64 ": approved by field manager %s%s%s (the client that "
                   "set %s; the API server's audit log names the user); the Kubernetes stage "
                   "starts",
                   gen, known ? by : "(unknown)", known && at[0] ? " at " : "", known ? at : "",
                   P4_APPROVE_ANNOTATION);
    add_event(&d->events, "Normal", "Approved", d->message);
}

/*
 * Waiting, for an approval (or, wait_who, for who gave it to be read): the condition True with
 * the plan's counts and the command; an annotation naming another generation said, and told
 * once per value; the condition's Event when it is news for this generation.
 */
static void decide_waiting(const cJSON *obj, const cJSON *st, const cJSON *old_cond, int64_t gen,
                           bool wait_who, struct p4_approval_decision *d)
{
    const char *v = annotation(obj), *name = p4_json_str(obj, "metadata.name");
    const char *ns = p4_json_str(obj, "metadata.namespace");
    const char *summary = p4_json_str(st, "plan.summary");
    int64_t plan_gen = -1, recorded = -1, named = -1, told_gen = -1;
    char why[512] = "", plan[384], shown[VALUE_SHOWN + 1];

    (void)p4_json_int64(obj, "status.approval.generation", &recorded);
    /* The last approval's annotation, still there when a new generation comes, is no news. */
    if (v != NULL && !wait_who && !(parse_generation(v, &named) && named == recorded)) {
        ignored_why(v, gen, why, sizeof(why));
        shown_value(v, shown, sizeof(shown));
        if (!p4_text_eq(p4_json_str(obj, "status.approval.ignored"), shown)) {
            char ev[700];
            (void)snprintf(ev, sizeof(ev), "Generation %" PRId64 ": %s", gen, why);
            add_event(&d->events, "Warning", "ApprovalIgnored", ev);
            d->record = record_copy(obj);
            set_member_str(d->record, "ignored", shown);
        }
    }
    if (summary && p4_json_int64(st, "plan.generation", &plan_gen) == 0 && plan_gen == gen)
        (void)snprintf(plan, sizeof(plan), "the plan (status.plan): %s", summary);
    else
        (void)snprintf(plan, sizeof(plan), "the plan is in status.plan");
    d->wait_who = wait_who;
    d->status = "True";
    d->reason = P4_APPROVAL_CONDITION;
    if (wait_who) {
        (void)snprintf(d->message, sizeof(d->message),
                       "Generation %" PRId64 ": approved (%s=%" PRId64 "); reading who "
                       "approved it before the Kubernetes stage starts",
                       gen, P4_APPROVE_ANNOTATION, gen);
        return;
    }
    (void)snprintf(d->message, sizeof(d->message),
                   "Generation %" PRId64 ": waits for approval before the Kubernetes stage "
                   "applies anything; %s%s%s; to approve this generation: kubectl annotate p4d "
                   "%s -n %s %s=%" PRId64 " --overwrite",
                   gen, plan, why[0] ? "; " : "", why, name ? name : "NAME", ns ? ns : "NS",
                   P4_APPROVE_ANNOTATION, gen);
    (void)p4_json_int64(old_cond, "observedGeneration", &told_gen);
    if (!(p4_text_eq(p4_json_str(old_cond, "status"), "True") &&
          p4_text_eq(p4_json_str(old_cond, "reason"), P4_APPROVAL_CONDITION) && told_gen == gen))
        add_event(&d->events, "Normal", P4_APPROVAL_CONDITION, d->message);
}

void p4_approval_decide(const cJSON *obj, const cJSON *st, const cJSON *old_cond,
                        struct p4_approval_decision *d)
{
    enum p4_approval_state state = p4_approval_state(obj);
    int64_t gen = generation_of(obj);
    const cJSON *mf = p4_json_get(obj, "metadata.managedFields");

    memset(d, 0, sizeof(*d));
    switch (state) {
    case P4_APPROVAL_NOT_REQUIRED:
        d->go = true;
        break;
    case P4_APPROVAL_APPROVED:
        decide_approved(obj, gen, d);
        break;
    case P4_APPROVAL_REQUESTED:
        if (mf != NULL)
            decide_recorded(obj, mf, gen, d);
        else /* the reconciler reads the resource for its managedFields */
            decide_waiting(obj, st, old_cond, gen, true, d);
        break;
    case P4_APPROVAL_WAITING:
        decide_waiting(obj, st, old_cond, gen, false, d);
        break;
    }
}
