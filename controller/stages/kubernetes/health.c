/* health.c: kstatus-style health of one Kubernetes object (see health.h). */
#include "health.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "phase4/core/json.h"
#include "phase4/core/text.h"

#define KIND_SHOWN 64       /* a kind in a message */
#define NAME_SHOWN 128      /* an object's or a container's name in a message */
#define IMAGE_SHOWN 160     /* an image reference in a message */
#define TEXT_SHOWN 240      /* a condition's, the scheduler's or the kubelet's message */
#define COUNTS_SIZE 192     /* "1 of 3 replicas updated, 0 available, ..." */
#define COUNT_MAX INT32_MAX /* Kubernetes counts are int32 */

static const char *const status_names[] = {"Current", "InProgress", "Failed", "Unknown"};

const char *p4_health_status_name(enum p4_health_status s)
{
    if ((unsigned)s >= sizeof(status_names) / sizeof(status_names[0]))
        return "Unknown";
    return status_names[s];
}

/* One evaluation: the object, where the result goes, and the first malformed member seen. */
struct eval {
    const cJSON *obj;
    struct p4_health *out;
    char who[KIND_SHOWN + NAME_SHOWN]; /* "Deployment web", cleaned */
    const char *bad_path;              /* static: the first member of the wrong type, or NULL */
    const char *bad_want;              /* static: what it should have been */
    bool done;                         /* a result was written */
};

/* ---- text made safe for a message ---- */

/* Outside text in a message: the text.h rule, in printable ASCII. */
#define TEXT_RULE P4_TEXT_ASCII

/* s (NULL reads as "") made fit for a message into dst of size bytes (at least 4). Returns dst. */
static const char *clip(char *dst, size_t size, const char *s)
{
    (void)p4_text_clean(dst, size, s, s != NULL ? strlen(s) : 0, TEXT_RULE);
    return dst;
}

/* ": text" when text is not empty, else "" (for an optional tail of a message). */
static const char *colon(const char *text)
{
    return text[0] != '\0' ? ": " : "";
}

/* The plural ending for n things: "1 restart", "2 restarts". */
static const char *plural(int64_t n)
{
    return n == 1 ? "" : "s";
}

static bool eq(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

static const char *or_empty(const char *s)
{
    return s != NULL ? s : "";
}

/*
 * Is r a valid condition reason, as the API server checks it: a letter, then letters, digits,
 * '_', ',' or ':', not ending in ',' or ':', and fitting our buffer?
 */
static bool valid_reason(const char *r)
{
    size_t n;

    if (r == NULL || !((r[0] >= 'A' && r[0] <= 'Z') || (r[0] >= 'a' && r[0] <= 'z')))
        return false;
    for (n = 0; r[n] != '\0'; n++) {
        char c = r[n];

        if (n >= P4_HEALTH_REASON_MAX - 1)
            return false;
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == ',' || c == ':'))
            return false;
    }
    return r[n - 1] != ',' && r[n - 1] != ':';
}

static const char *reason_or(const char *r, const char *fallback)
{
    return valid_reason(r) ? r : fallback;
}

/* Into dst through vsnprintf, so cuts that only shorten a message draw no warning. */
__attribute__((format(printf, 3, 4))) static void format(char *dst, size_t size, const char *fmt,
                                                         ...)
{
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(dst, size, fmt, ap);
    va_end(ap);
}

/* Write the result: reason is ours or valid_reason(); the message is cut to fit and cleaned. */
__attribute__((format(printf, 5, 6))) static void result(struct eval *e,
                                                         enum p4_health_status status,
                                                         bool permanent, const char *reason,
                                                         const char *fmt, ...)
{
    struct p4_health *out = e->out;
    va_list ap;
    int n;

    out->status = status;
    out->permanent = permanent && status == P4_HEALTH_FAILED;
    format(out->reason, sizeof(out->reason), "%s", reason);
    va_start(ap, fmt);
    n = vsnprintf(out->message, sizeof(out->message), fmt, ap);
    va_end(ap);
    if (n < 0)
        format(out->message, sizeof(out->message), "%s", e->who);
    else if ((size_t)n >= sizeof(out->message))
        memcpy(out->message + sizeof(out->message) - 4, "...", 4);
    (void)p4_text_clean(out->message, sizeof(out->message), out->message, strlen(out->message),
                        TEXT_RULE);
    e->done = true;
}

/* ---- members read with their types checked ---- */

static void mark_bad(struct eval *e, const char *path, const char *want)
{
    if (e->bad_path == NULL) {
        e->bad_path = path;
        e->bad_want = want;
    }
}

/* When a member the decision needs had the wrong type, the result is UNKNOWN naming it. */
static bool malformed(struct eval *e)
{
    if (e->bad_path == NULL)
        return false;
    result(e, P4_HEALTH_UNKNOWN, false, "MalformedObject", "%s: %s is not %s", e->who, e->bad_path,
           e->bad_want);
    return true;
}

/* The count at path (a non-negative int32); def when absent or null. */
static int64_t count(struct eval *e, const char *path, int64_t def)
{
    int64_t v = def;
    int rc = p4_json_int64(e->obj, path, &v);

    if (rc == P4_ERR_NOTFOUND)
        return def;
    if (rc != 0 || v < 0 || v > COUNT_MAX) {
        mark_bad(e, path, "a non-negative integer");
        return def;
    }
    return v;
}

/* The string at path; NULL when absent or null. */
static const char *text(struct eval *e, const char *path)
{
    const cJSON *v = p4_json_get(e->obj, path);

    if (v == NULL || cJSON_IsNull(v))
        return NULL;
    if (!cJSON_IsString(v)) {
        mark_bad(e, path, "a string");
        return NULL;
    }
    return v->valuestring;
}

/* The boolean at path; false when absent or null. */
static bool flag(struct eval *e, const char *path)
{
    bool v = false;
    int rc = p4_json_bool(e->obj, path, &v);

    if (rc != 0 && rc != P4_ERR_NOTFOUND)
        mark_bad(e, path, "a boolean");
    return rc == 0 && v;
}

/* The array at path; NULL when absent or null. */
static const cJSON *list(struct eval *e, const char *path)
{
    const cJSON *v = p4_json_get(e->obj, path);

    if (v == NULL || cJSON_IsNull(v))
        return NULL;
    if (!cJSON_IsArray(v)) {
        mark_bad(e, path, "an array");
        return NULL;
    }
    return v;
}

/* One entry of status.conditions; strings are "" when absent or not strings. */
struct cond {
    const char *status, *reason, *message;
    bool has_generation;
    int64_t generation;
};

/* The first condition of type in status.conditions; entries of the wrong shape are skipped. */
static bool cond_find(struct eval *e, const char *type, struct cond *c)
{
    const cJSON *conds = list(e, "status.conditions");

    memset(c, 0, sizeof(*c));
    c->status = c->reason = c->message = "";
    if (conds == NULL)
        return false;
    for (const cJSON *it = conds->child; it != NULL; it = it->next) {
        if (!eq(p4_json_str(it, "type"), type))
            continue;
        c->status = or_empty(p4_json_str(it, "status"));
        c->reason = or_empty(p4_json_str(it, "reason"));
        c->message = or_empty(p4_json_str(it, "message"));
        c->has_generation = p4_json_int64(it, "observedGeneration", &c->generation) == 0;
        return true;
    }
    return false;
}

/* Is there a condition type with status want ("True", "False")? */
static bool cond_is(struct eval *e, const char *type, const char *want, struct cond *c)
{
    return cond_find(e, type, c) && eq(c->status, want);
}

/* ---- every kind ---- */

/* Deletion, generation, Reconciling and Stalled; true when they decide. */
static bool generic(struct eval *e)
{
    const char *deleting = text(e, "metadata.deletionTimestamp");
    char msg[TEXT_SHOWN];
    int64_t generation = 0, observed = 0;
    int rc_gen = p4_json_int64(e->obj, "metadata.generation", &generation);
    int rc_obs = p4_json_int64(e->obj, "status.observedGeneration", &observed);
    struct cond c;

    if (deleting != NULL && deleting[0] != '\0') {
        result(e, P4_HEALTH_IN_PROGRESS, false, "Terminating", "%s is being deleted", e->who);
        return true;
    }
    if (rc_gen == P4_ERR_INVAL)
        mark_bad(e, "metadata.generation", "an integer");
    if (rc_obs == P4_ERR_INVAL)
        mark_bad(e, "status.observedGeneration", "an integer");
    if (malformed(e))
        return true;
    if (rc_gen == 0 && rc_obs == 0 && generation > observed) {
        result(e, P4_HEALTH_IN_PROGRESS, false, "ObservedGenerationBehind",
               "%s: generation %" PRId64 " is not observed yet (status.observedGeneration %" PRId64
               ")",
               e->who, generation, observed);
        return true;
    }
    if (cond_is(e, "Reconciling", "True", &c)) {
        clip(msg, sizeof(msg), c.message);
        result(e, P4_HEALTH_IN_PROGRESS, false, reason_or(c.reason, "Reconciling"),
               "%s is reconciling%s%s", e->who, colon(msg), msg);
        return true;
    }
    if (cond_is(e, "Stalled", "True", &c)) {
        clip(msg, sizeof(msg), c.message);
        result(e, P4_HEALTH_FAILED, false, reason_or(c.reason, "Stalled"), "%s is stalled%s%s",
               e->who, colon(msg), msg);
        return true;
    }
    return malformed(e);
}

/* ---- workloads ---- */

static void deployment(struct eval *e)
{
    int64_t spec = count(e, "spec.replicas", 1);
    int64_t deadline = count(e, "spec.progressDeadlineSeconds", -1);
    int64_t replicas = count(e, "status.replicas", 0);
    int64_t updated = count(e, "status.updatedReplicas", 0);
    int64_t ready = count(e, "status.readyReplicas", 0);
    int64_t available = count(e, "status.availableReplicas", 0);
    bool paused = flag(e, "spec.paused");
    const char *rollout = paused ? "RolloutPaused" : "RolloutInProgress";
    const char *paused_note = paused ? "; the rollout is paused (spec.paused)" : "";
    char counts[COUNTS_SIZE], msg[TEXT_SHOWN], why[P4_HEALTH_REASON_MAX];
    struct cond progressing, avail, failure;
    bool has_progressing = cond_find(e, "Progressing", &progressing);
    bool available_true = cond_is(e, "Available", "True", &avail);
    bool has_failure = cond_is(e, "ReplicaFailure", "True", &failure);
    size_t n;

    if (malformed(e))
        return;
    /* The deployment controller reads the int32 maximum as "no deadline" (kstatus does too). */
    if (deadline == COUNT_MAX)
        deadline = -1;
    format(counts, sizeof(counts),
           "%" PRId64 " of %" PRId64 " replicas updated, %" PRId64 " available", updated, spec,
           available);
    n = strlen(counts);
    if (ready != available)
        format(counts + n, sizeof(counts) - n, ", %" PRId64 " ready", ready);
    n = strlen(counts);
    if (replicas > updated)
        format(counts + n, sizeof(counts) - n, ", %" PRId64 " old replica%s still running",
               replicas - updated, plural(replicas - updated));

    if (has_progressing && eq(progressing.reason, "ProgressDeadlineExceeded")) {
        clip(msg, sizeof(msg), progressing.message);
        if (deadline >= 0)
            result(e, P4_HEALTH_FAILED, true, "ProgressDeadlineExceeded",
                   "%s: the rollout exceeded its progress deadline of %" PRId64 "s with %s%s%s",
                   e->who, deadline, counts, colon(msg), msg);
        else
            result(e, P4_HEALTH_FAILED, true, "ProgressDeadlineExceeded",
                   "%s: the rollout exceeded its progress deadline with %s%s%s", e->who, counts,
                   colon(msg), msg);
        return;
    }
    if (has_failure) {
        clip(msg, sizeof(msg), failure.message);
        clip(why, sizeof(why), reason_or(failure.reason, "ReplicaFailure"));
        result(e, P4_HEALTH_FAILED, false, "ReplicaFailure",
               "%s: cannot create replicas (%s) with %s%s%s", e->who, why, counts, colon(msg), msg);
        return;
    }
    if (spec > replicas || spec > updated || replicas > spec || updated > available ||
        spec > ready) {
        result(e, P4_HEALTH_IN_PROGRESS, false, rollout, "%s: %s%s", e->who, counts, paused_note);
        return;
    }
    /* Without a deadline the controller never reports progress, so only the counts tell. */
    if (deadline >= 0 &&
        !(eq(progressing.status, "True") && eq(progressing.reason, "NewReplicaSetAvailable"))) {
        clip(msg, sizeof(msg), progressing.message);
        result(e, P4_HEALTH_IN_PROGRESS, false, paused ? rollout : "NotAvailable",
               "%s: %s, but the new ReplicaSet is not reported available yet%s%s%s", e->who, counts,
               paused_note, colon(msg), msg);
        return;
    }
    if (!available_true) {
        clip(msg, sizeof(msg), avail.message);
        result(e, P4_HEALTH_IN_PROGRESS, false, "NotAvailable",
               "%s: %s, but the Deployment is not Available yet%s%s", e->who, counts, colon(msg),
               msg);
        return;
    }
    result(e, P4_HEALTH_CURRENT, false, "Ready",
           "%s is available: %" PRId64 " of %" PRId64 " replicas updated and available", e->who,
           available, spec);
}

static void statefulset(struct eval *e)
{
    const char *strategy = text(e, "spec.updateStrategy.type");
    int64_t spec = count(e, "spec.replicas", 1);
    int64_t partition = count(e, "spec.updateStrategy.rollingUpdate.partition", -1);
    int64_t replicas = count(e, "status.replicas", 0);
    int64_t ready = count(e, "status.readyReplicas", 0);
    int64_t current = count(e, "status.currentReplicas", 0);
    int64_t updated = count(e, "status.updatedReplicas", 0);
    const char *current_rev = or_empty(text(e, "status.currentRevision"));
    const char *update_rev = or_empty(text(e, "status.updateRevision"));
    char shown[NAME_SHOWN], rev[NAME_SHOWN + 16], old_rev[NAME_SHOWN + 16];

    if (malformed(e))
        return;
    /* "revision db-7f9b6c8d44", or words for a revision the status does not name. */
    format(rev, sizeof(rev), "%s%s", update_rev[0] != '\0' ? "revision " : "the new revision",
           clip(shown, sizeof(shown), update_rev));
    format(old_rev, sizeof(old_rev), "%s%s",
           current_rev[0] != '\0' ? "revision " : "the old revision",
           clip(shown, sizeof(shown), current_rev));
    if (spec > replicas || spec > ready) {
        result(e, P4_HEALTH_IN_PROGRESS, false, "RolloutInProgress",
               "%s: %" PRId64 " of %" PRId64 " replicas ready, %" PRId64 " created", e->who, ready,
               spec, replicas);
        return;
    }
    if (replicas > spec) {
        result(e, P4_HEALTH_IN_PROGRESS, false, "RolloutInProgress",
               "%s: %" PRId64 " replicas ready, %" PRId64 " extra replica%s terminating", e->who,
               spec, replicas - spec, plural(replicas - spec));
        return;
    }
    /* OnDelete leaves updates to the user (kstatus reports CURRENT before counting readiness). */
    if (eq(strategy, "OnDelete")) {
        result(e, P4_HEALTH_CURRENT, false, "Ready",
               "%s: %" PRId64 " replicas ready; the OnDelete update strategy leaves updates to "
               "whoever deletes the pods",
               e->who, ready);
        return;
    }
    if (partition >= 0) {
        int64_t want = partition < spec ? spec - partition : 0;

        if (updated < want) {
            if (partition > 0)
                result(e, P4_HEALTH_IN_PROGRESS, false, "RolloutInProgress",
                       "%s: %" PRId64 " of %" PRId64 " replicas updated to %s "
                       "(partition %" PRId64 " keeps the others at the old revision)",
                       e->who, updated, want, rev, partition);
            else
                result(e, P4_HEALTH_IN_PROGRESS, false, "RolloutInProgress",
                       "%s: %" PRId64 " of %" PRId64 " replicas updated to %s", e->who, updated,
                       want, rev);
            return;
        }
        if (partition > 0 && want < spec)
            result(e, P4_HEALTH_CURRENT, false, "Ready",
                   "%s: partitioned rollout complete, %" PRId64 " replica%s at %s, "
                   "partition %" PRId64 " keeps %" PRId64 " at %s",
                   e->who, updated, plural(updated), rev, partition, spec - want, old_rev);
        else
            result(e, P4_HEALTH_CURRENT, false, "Ready",
                   "%s: all %" PRId64 " replicas ready and updated", e->who, spec);
        return;
    }
    if (spec > current || strcmp(current_rev, update_rev) != 0) {
        result(e, P4_HEALTH_IN_PROGRESS, false, "RolloutInProgress",
               "%s: %" PRId64 " of %" PRId64 " replicas updated to %s", e->who, updated, spec, rev);
        return;
    }
    result(e, P4_HEALTH_CURRENT, false, "Ready", "%s: all %" PRId64 " replicas ready at %s", e->who,
           spec, rev);
}

static void daemonset(struct eval *e)
{
    int64_t desired = count(e, "status.desiredNumberScheduled", -1);
    int64_t current = count(e, "status.currentNumberScheduled", 0);
    int64_t updated = count(e, "status.updatedNumberScheduled", 0);
    int64_t available = count(e, "status.numberAvailable", 0);
    int64_t ready = count(e, "status.numberReady", 0);
    bool on_delete = eq(text(e, "spec.updateStrategy.type"), "OnDelete");
    char counts[COUNTS_SIZE];
    size_t n;

    if (malformed(e))
        return;
    /* The controller always sets these; without them it has not acted yet (as kstatus). */
    if (p4_json_int64(e->obj, "metadata.generation", NULL) != 0 ||
        p4_json_int64(e->obj, "status.observedGeneration", NULL) != 0) {
        result(e, P4_HEALTH_IN_PROGRESS, false, "ObservedGenerationBehind",
               "%s: the controller has not observed it yet (no status.observedGeneration)", e->who);
        return;
    }
    if (desired < 0) {
        result(e, P4_HEALTH_IN_PROGRESS, false, "RolloutInProgress",
               "%s: the controller has not counted the nodes yet "
               "(no status.desiredNumberScheduled)",
               e->who);
        return;
    }
    if (on_delete)
        updated = desired;
    if (desired > current || desired > updated || desired > available || desired > ready) {
        format(counts, sizeof(counts),
               "%" PRId64 " of %" PRId64 " pods updated, %" PRId64 " available", updated, desired,
               available);
        n = strlen(counts);
        if (ready != available)
            format(counts + n, sizeof(counts) - n, ", %" PRId64 " ready", ready);
        n = strlen(counts);
        if (desired > current)
            format(counts + n, sizeof(counts) - n, ", %" PRId64 " node%s still without a pod",
                   desired - current, plural(desired - current));
        result(e, P4_HEALTH_IN_PROGRESS, false, "RolloutInProgress", "%s: %s", e->who, counts);
        return;
    }
    result(e, P4_HEALTH_CURRENT, false, "Ready",
           "%s: all %" PRId64 " scheduled pods updated and available", e->who, desired);
}

static void replicaset(struct eval *e)
{
    int64_t spec = count(e, "spec.replicas", 1);
    int64_t replicas = count(e, "status.replicas", 0);
    int64_t labeled = count(e, "status.fullyLabeledReplicas", 0);
    int64_t available = count(e, "status.availableReplicas", 0);
    int64_t ready = count(e, "status.readyReplicas", 0);
    char msg[TEXT_SHOWN], why[P4_HEALTH_REASON_MAX];
    struct cond failure;
    bool failing = cond_is(e, "ReplicaFailure", "True", &failure);

    if (malformed(e))
        return;
    if (failing) {
        clip(msg, sizeof(msg), failure.message);
        clip(why, sizeof(why), reason_or(failure.reason, "ReplicaFailure"));
        result(e, P4_HEALTH_FAILED, false, "ReplicaFailure",
               "%s: cannot create pods (%s), %" PRId64 " of %" PRId64 " replicas exist%s%s", e->who,
               why, replicas, spec, colon(msg), msg);
        return;
    }
    if (spec > labeled || spec > available || spec > ready) {
        result(e, P4_HEALTH_IN_PROGRESS, false, "RolloutInProgress",
               "%s: %" PRId64 " of %" PRId64 " replicas available, %" PRId64 " ready", e->who,
               available, spec, ready);
        return;
    }
    if (replicas > spec) {
        result(e, P4_HEALTH_IN_PROGRESS, false, "RolloutInProgress",
               "%s: %" PRId64 " replicas available, %" PRId64 " extra replica%s terminating",
               e->who, spec, replicas - spec, plural(replicas - spec));
        return;
    }
    result(e, P4_HEALTH_CURRENT, false, "Ready", "%s: all %" PRId64 " replicas available", e->who,
           spec);
}

static void job(struct eval *e)
{
    int64_t completions = count(e, "spec.completions", -1);
    int64_t succeeded = count(e, "status.succeeded", 0);
    int64_t active = count(e, "status.active", 0);
    int64_t failed = count(e, "status.failed", 0);
    char counts[COUNTS_SIZE], msg[TEXT_SHOWN], why[P4_HEALTH_REASON_MAX];
    struct cond c;

    if (malformed(e))
        return;
    if (completions >= 0)
        format(counts, sizeof(counts),
               "%" PRId64 " of %" PRId64 " completions succeeded, %" PRId64 " active, %" PRId64
               " failed",
               succeeded, completions, active, failed);
    else
        format(counts, sizeof(counts),
               "%" PRId64 " succeeded, %" PRId64 " active, %" PRId64 " failed", succeeded, active,
               failed);
    /* FailureTarget and SuccessCriteriaMet (Kubernetes 1.31+) come first, while pods stop. */
    if (cond_is(e, "Failed", "True", &c) || cond_is(e, "FailureTarget", "True", &c)) {
        clip(msg, sizeof(msg), c.message);
        clip(why, sizeof(why), reason_or(c.reason, "JobFailed"));
        result(e, P4_HEALTH_FAILED, true, why, "%s failed (%s)%s%s; %s", e->who, why, colon(msg),
               msg, counts);
        return;
    }
    if (cond_is(e, "Complete", "True", &c) || cond_is(e, "SuccessCriteriaMet", "True", &c)) {
        result(e, P4_HEALTH_CURRENT, false, "Complete", "%s completed: %s", e->who, counts);
        return;
    }
    if (cond_is(e, "Suspended", "True", &c)) {
        result(e, P4_HEALTH_CURRENT, false, "Suspended",
               "%s is suspended: no pods run until spec.suspend is false", e->who);
        return;
    }
    result(e, P4_HEALTH_IN_PROGRESS, false, "JobRunning", "%s is running: %s", e->who, counts);
}

/* ---- pods ---- */

/* A container found in a pod's status, with what the message needs. */
struct container {
    const cJSON *status; /* the entry of initContainerStatuses or containerStatuses */
    bool init;
    const char *name;    /* never NULL */
    const char *waiting; /* state.waiting.reason; NULL when not waiting */
};

/* The image of container c: its status's, else its spec's. Borrowed; "" when neither. */
static const char *container_image(const struct eval *e, const struct container *c)
{
    const char *image = p4_json_str(c->status, "image");
    const cJSON *specs = p4_json_get(e->obj, c->init ? "spec.initContainers" : "spec.containers");

    if (image != NULL && image[0] != '\0')
        return image;
    if (!cJSON_IsArray(specs))
        return "";
    for (const cJSON *it = specs->child; it != NULL; it = it->next) {
        if (eq(p4_json_str(it, "name"), c->name))
            return or_empty(p4_json_str(it, "image"));
    }
    return "";
}

static bool is_image_reason(const char *r)
{
    return eq(r, "ImagePullBackOff") || eq(r, "ErrImagePull") || eq(r, "ErrImageNeverPull") ||
           eq(r, "InvalidImageName");
}

static bool is_create_reason(const char *r)
{
    return eq(r, "CreateContainerConfigError") || eq(r, "CreateContainerError") ||
           eq(r, "RunContainerError");
}

static void crashloop(struct eval *e, const struct container *c, const char *name)
{
    const cJSON *last = p4_json_get(c->status, "lastState.terminated");
    int64_t restarts = 0, exit_code = 0;
    char why[NAME_SHOWN], msg[TEXT_SHOWN];
    bool permanent;

    if (p4_json_int64(c->status, "restartCount", &restarts) != 0 || restarts < 0)
        restarts = 0;
    permanent = restarts >= P4_HEALTH_CRASHLOOP_RESTARTS;
    if (cJSON_IsObject(last) && p4_json_int64(last, "exitCode", &exit_code) == 0) {
        clip(why, sizeof(why), p4_json_str(last, "reason"));
        clip(msg, sizeof(msg), p4_json_str(last, "message"));
        result(e, P4_HEALTH_FAILED, permanent, "CrashLoopBackOff",
               "%s: container %s is in CrashLoopBackOff after %" PRId64
               " restart%s, last exit code %" PRId64 "%s%s%s%s%s",
               e->who, name, restarts, plural(restarts), exit_code, why[0] != '\0' ? " (" : "", why,
               why[0] != '\0' ? ")" : "", colon(msg), msg);
        return;
    }
    clip(msg, sizeof(msg), p4_json_str(c->status, "state.waiting.message"));
    result(e, P4_HEALTH_FAILED, permanent, "CrashLoopBackOff",
           "%s: container %s is in CrashLoopBackOff after %" PRId64 " restart%s%s%s", e->who, name,
           restarts, plural(restarts), colon(msg), msg);
}

/* A container waiting for a reason that waiting will not fix: the result; false otherwise. */
static bool container_failed(struct eval *e, const struct container *c)
{
    const char *r = c->waiting;
    char name[NAME_SHOWN], image[IMAGE_SHOWN], msg[TEXT_SHOWN];

    clip(name, sizeof(name), c->name);
    if (eq(r, "CrashLoopBackOff")) {
        crashloop(e, c, name);
        return true;
    }
    clip(msg, sizeof(msg), p4_json_str(c->status, "state.waiting.message"));
    if (is_image_reason(r)) {
        clip(image, sizeof(image), container_image(e, c));
        /* What heals it comes before the kubelet's text, which may be cut. */
        result(e, P4_HEALTH_FAILED, !eq(r, "ErrImagePull"), r,
               "%s: container %s cannot pull image %s (%s; %s)%s%s", e->who, name, image, r,
               eq(r, "ErrImageNeverPull")  ? "imagePullPolicy is Never and the node lacks the "
                                             "image; load it there or change the policy"
               : eq(r, "InvalidImageName") ? "not a valid image reference; correct it"
                                           : "a corrected image reference or a pushed image "
                                             "heals it",
               colon(msg), msg);
        return true;
    }
    if (is_create_reason(r)) {
        result(e, P4_HEALTH_FAILED, false, r, "%s: container %s cannot start (%s)%s%s", e->who,
               name, r, colon(msg), msg);
        return true;
    }
    return false;
}

/* The message of a pod that failed: the pod's own reason, else a container's exit. */
static void pod_failed(struct eval *e, const cJSON *statuses)
{
    char why[P4_HEALTH_REASON_MAX], msg[TEXT_SHOWN], name[NAME_SHOWN];
    const char *reason = p4_json_str(e->obj, "status.reason");
    const char *message = p4_json_str(e->obj, "status.message");

    if (message != NULL && message[0] != '\0') {
        clip(why, sizeof(why), reason_or(reason, "Failed"));
        clip(msg, sizeof(msg), message);
        result(e, P4_HEALTH_FAILED, true, "PodFailed", "%s failed (%s): %s", e->who, why, msg);
        return;
    }
    for (const cJSON *it = statuses != NULL ? statuses->child : NULL; it != NULL; it = it->next) {
        const cJSON *term = p4_json_get(it, "state.terminated");
        int64_t code = 0;

        if (!cJSON_IsObject(term) || p4_json_int64(term, "exitCode", &code) != 0 || code == 0)
            continue;
        clip(name, sizeof(name), p4_json_str(it, "name"));
        clip(why, sizeof(why), reason_or(p4_json_str(term, "reason"), "Error"));
        result(e, P4_HEALTH_FAILED, true, "PodFailed",
               "%s failed: container %s exited with code %" PRId64 " (%s)", e->who, name, code,
               why);
        return;
    }
    result(e, P4_HEALTH_FAILED, true, "PodFailed", "%s failed", e->who);
}

static void pod(struct eval *e)
{
    static const char *const lists[] = {"status.initContainerStatuses", "status.containerStatuses"};
    const char *phase = text(e, "status.phase");
    const cJSON *statuses[2] = {list(e, lists[0]), list(e, lists[1])};
    struct container first_waiting = {0}, first_unready = {0};
    char msg[TEXT_SHOWN], name[NAME_SHOWN], node[NAME_SHOWN];
    struct cond c;

    if (malformed(e))
        return;
    if (eq(phase, "Succeeded")) {
        result(e, P4_HEALTH_CURRENT, false, "Succeeded", "%s completed successfully", e->who);
        return;
    }
    if (eq(phase, "Failed")) {
        pod_failed(e, statuses[1]);
        return;
    }
    if (eq(phase, "Unknown")) {
        result(e, P4_HEALTH_UNKNOWN, false, "PodUnknown",
               "%s: phase Unknown, its node stopped reporting", e->who);
        return;
    }
    if (phase != NULL && !eq(phase, "Pending") && !eq(phase, "Running")) {
        clip(msg, sizeof(msg), phase);
        result(e, P4_HEALTH_UNKNOWN, false, "MalformedObject",
               "%s: status.phase \"%s\" is not a pod phase", e->who, msg);
        return;
    }
    if (eq(phase, "Running") && cond_is(e, "Ready", "True", &c)) {
        result(e, P4_HEALTH_CURRENT, false, "Ready", "%s is running and ready", e->who);
        return;
    }
    for (size_t l = 0; l < 2; l++) {
        for (const cJSON *it = statuses[l] != NULL ? statuses[l]->child : NULL; it != NULL;
             it = it->next) {
            struct container ct = {it, l == 0, or_empty(p4_json_str(it, "name")),
                                   p4_json_str(it, "state.waiting.reason")};
            bool ready = false;

            if (!cJSON_IsObject(it))
                continue;
            if (ct.waiting != NULL && container_failed(e, &ct))
                return;
            if (ct.waiting != NULL && first_waiting.status == NULL)
                first_waiting = ct;
            if (p4_json_bool(it, "ready", &ready) == 0 && !ready && first_unready.status == NULL)
                first_unready = ct;
        }
    }
    if (cond_is(e, "PodScheduled", "False", &c) && eq(c.reason, "Unschedulable")) {
        const char *nominated = p4_json_str(e->obj, "status.nominatedNodeName");

        clip(msg, sizeof(msg), c.message);
        if (nominated != NULL && nominated[0] != '\0') {
            clip(node, sizeof(node), nominated);
            result(e, P4_HEALTH_IN_PROGRESS, false, "Pending",
                   "%s: waiting for preemption to make room on node %s%s%s", e->who, node,
                   colon(msg), msg);
        } else {
            result(e, P4_HEALTH_FAILED, true, "Unschedulable", "%s cannot be scheduled%s%s", e->who,
                   colon(msg), msg);
        }
        return;
    }
    if (eq(phase, "Running")) {
        if (first_unready.status != NULL) {
            int64_t restarts = 0;
            char restarted[48] = "";

            clip(name, sizeof(name), first_unready.name);
            if (p4_json_int64(first_unready.status, "restartCount", &restarts) == 0 && restarts > 0)
                format(restarted, sizeof(restarted), " (%" PRId64 " restart%s)", restarts,
                       plural(restarts));
            result(e, P4_HEALTH_IN_PROGRESS, false, "PodNotReady",
                   "%s is running but not ready: container %s is not ready%s", e->who, name,
                   restarted);
        } else {
            (void)cond_find(e, "Ready", &c);
            clip(msg, sizeof(msg), c.message);
            result(e, P4_HEALTH_IN_PROGRESS, false, "PodNotReady",
                   "%s is running but not ready%s%s", e->who, colon(msg), msg);
        }
        return;
    }
    if (first_waiting.status != NULL) {
        char why[P4_HEALTH_REASON_MAX];

        clip(name, sizeof(name), first_waiting.name);
        clip(why, sizeof(why), first_waiting.waiting);
        result(e, P4_HEALTH_IN_PROGRESS, false, "Pending",
               "%s is Pending: %scontainer %s is waiting (%s)", e->who,
               first_waiting.init ? "init " : "", name, why);
        return;
    }
    if (phase == NULL) {
        result(e, P4_HEALTH_IN_PROGRESS, false, "Pending", "%s has no phase yet", e->who);
        return;
    }
    if (!cond_is(e, "PodScheduled", "True", &c)) {
        result(e, P4_HEALTH_IN_PROGRESS, false, "Pending", "%s is Pending: not scheduled yet",
               e->who);
        return;
    }
    result(e, P4_HEALTH_IN_PROGRESS, false, "Pending", "%s is Pending", e->who);
}

/* ---- other built-in kinds ---- */

static void pvc(struct eval *e)
{
    const char *phase = text(e, "status.phase");
    const char *volume = text(e, "spec.volumeName");
    char shown[NAME_SHOWN];

    if (malformed(e))
        return;
    clip(shown, sizeof(shown), volume);
    if (eq(phase, "Bound")) {
        result(e, P4_HEALTH_CURRENT, false, "Bound", "%s is Bound%s%s", e->who,
               shown[0] != '\0' ? " to volume " : "", shown);
    } else if (eq(phase, "Lost")) {
        result(e, P4_HEALTH_FAILED, true, "ClaimLost",
               "%s lost its volume%s%s: the PersistentVolume is gone, the claim must be recreated",
               e->who, shown[0] != '\0' ? " " : "", shown);
    } else if (phase == NULL || eq(phase, "Pending")) {
        result(e, P4_HEALTH_IN_PROGRESS, false, "Pending",
               "%s is Pending: no volume is bound to it yet", e->who);
    } else {
        clip(shown, sizeof(shown), phase);
        result(e, P4_HEALTH_UNKNOWN, false, "MalformedObject",
               "%s: status.phase \"%s\" is not a claim phase", e->who, shown);
    }
}

static void service(struct eval *e)
{
    const char *type = text(e, "spec.type");
    const cJSON *ingress = list(e, "status.loadBalancer.ingress");
    char shown[NAME_SHOWN];

    if (malformed(e))
        return;
    if (!eq(type, "LoadBalancer")) {
        clip(shown, sizeof(shown), type != NULL ? type : "ClusterIP");
        result(e, P4_HEALTH_CURRENT, false, "Ready", "%s (%s) has nothing to wait for", e->who,
               shown);
        return;
    }
    for (const cJSON *it = ingress != NULL ? ingress->child : NULL; it != NULL; it = it->next) {
        const char *ip = p4_json_str(it, "ip"), *host = p4_json_str(it, "hostname");
        const char *address = ip != NULL && ip[0] != '\0' ? ip : host;

        if (address != NULL && address[0] != '\0') {
            result(e, P4_HEALTH_CURRENT, false, "Ready", "%s has a load balancer at %s", e->who,
                   clip(shown, sizeof(shown), address));
            return;
        }
    }
    result(e, P4_HEALTH_IN_PROGRESS, false, "LoadBalancerPending",
           "%s: waiting for the load balancer to get an address (status.loadBalancer.ingress is "
           "empty)",
           e->who);
}

static void crd(struct eval *e)
{
    char msg[TEXT_SHOWN];
    struct cond c;

    if (cond_is(e, "NamesAccepted", "False", &c)) {
        clip(msg, sizeof(msg), c.message);
        result(e, P4_HEALTH_FAILED, false, reason_or(c.reason, "NamesNotAccepted"),
               "%s: its names are not accepted%s%s", e->who, colon(msg), msg);
    } else if (cond_find(e, "Established", &c) && eq(c.status, "False") &&
               !eq(c.reason, "Installing")) {
        clip(msg, sizeof(msg), c.message);
        result(e, P4_HEALTH_FAILED, false, reason_or(c.reason, "NotEstablished"),
               "%s is not established%s%s", e->who, colon(msg), msg);
    } else if (eq(c.status, "True")) {
        result(e, P4_HEALTH_CURRENT, false, "Ready", "%s is established", e->who);
    } else if (!malformed(e)) {
        result(e, P4_HEALTH_IN_PROGRESS, false, "Installing", "%s is not established yet", e->who);
    }
}

static void namespace_(struct eval *e)
{
    const char *phase = text(e, "status.phase");

    if (malformed(e))
        return;
    if (eq(phase, "Terminating"))
        result(e, P4_HEALTH_IN_PROGRESS, false, "Terminating", "%s is being deleted", e->who);
    else
        result(e, P4_HEALTH_CURRENT, false, "Ready", "%s is active", e->who);
}

static void nothing(struct eval *e)
{
    result(e, P4_HEALTH_CURRENT, false, "Ready", "%s has no status to wait for", e->who);
}

/* Any other kind: its Ready condition, when it has one. */
static void custom(struct eval *e)
{
    int64_t generation = 0;
    char msg[TEXT_SHOWN];
    struct cond c;
    bool has_ready = cond_find(e, "Ready", &c);

    if (malformed(e))
        return;
    if (!has_ready) {
        result(e, P4_HEALTH_CURRENT, false, "Ready", "%s has no Ready condition to wait for",
               e->who);
        return;
    }
    clip(msg, sizeof(msg), c.message);
    if (c.has_generation && p4_json_int64(e->obj, "metadata.generation", &generation) == 0 &&
        c.generation < generation) {
        result(e, P4_HEALTH_IN_PROGRESS, false, "ObservedGenerationBehind",
               "%s: its Ready condition is for generation %" PRId64 ", not %" PRId64, e->who,
               c.generation, generation);
    } else if (eq(c.status, "True")) {
        result(e, P4_HEALTH_CURRENT, false, "Ready", "%s is ready%s%s", e->who, colon(msg), msg);
    } else if (eq(c.status, "False")) {
        result(e, P4_HEALTH_FAILED, false, reason_or(c.reason, "NotReady"), "%s is not ready%s%s",
               e->who, colon(msg), msg);
    } else {
        result(e, P4_HEALTH_IN_PROGRESS, false, reason_or(c.reason, "ReadyUnknown"),
               "%s is not ready yet%s%s", e->who, colon(msg), msg);
    }
}

/* ---- dispatch ---- */

struct rule {
    const char *kind;
    const char *groups[2]; /* the API groups the kind is built into; NULL ends */
    bool has_status;       /* an absent or empty status means the controller has not acted */
    void (*fn)(struct eval *e);
};

#define CORE                                                                                       \
    {                                                                                              \
        "", NULL                                                                                   \
    }
#define RBAC                                                                                       \
    {                                                                                              \
        "rbac.authorization.k8s.io", NULL                                                          \
    }

static const struct rule rules[] = {
    {"Deployment", {"apps", "extensions"}, true, deployment},
    {"StatefulSet", {"apps", NULL}, true, statefulset},
    {"DaemonSet", {"apps", "extensions"}, true, daemonset},
    {"ReplicaSet", {"apps", "extensions"}, true, replicaset},
    {"Job", {"batch", NULL}, true, job},
    {"Pod", CORE, true, pod},
    {"PersistentVolumeClaim", CORE, true, pvc},
    {"Service", CORE, false, service},
    {"Namespace", CORE, false, namespace_},
    {"CustomResourceDefinition", {"apiextensions.k8s.io", NULL}, false, crd},
    {"ConfigMap", CORE, false, nothing},
    {"Secret", CORE, false, nothing},
    {"ServiceAccount", CORE, false, nothing},
    {"LimitRange", CORE, false, nothing},
    {"ResourceQuota", CORE, false, nothing},
    {"Role", RBAC, false, nothing},
    {"RoleBinding", RBAC, false, nothing},
    {"ClusterRole", RBAC, false, nothing},
    {"ClusterRoleBinding", RBAC, false, nothing},
    {"NetworkPolicy", {"networking.k8s.io", "extensions"}, false, nothing},
    {"CronJob", {"batch", NULL}, false, nothing},
    {"PodDisruptionBudget", {"policy", NULL}, false, nothing},
};

/* Does the group of apiVersion (NULL: unknown, matches any) name one of r's groups? */
static bool group_matches(const struct rule *r, const char *api_version)
{
    const char *slash;
    size_t n;

    if (api_version == NULL)
        return true;
    slash = strchr(api_version, '/');
    n = slash != NULL ? (size_t)(slash - api_version) : 0;
    for (size_t i = 0; i < 2 && r->groups[i] != NULL; i++) {
        if (strlen(r->groups[i]) == n && strncmp(r->groups[i], api_version, n) == 0)
            return true;
    }
    return false;
}

static const struct rule *rule_of(const char *kind, const char *api_version)
{
    for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
        if (strcmp(rules[i].kind, kind) == 0 && group_matches(&rules[i], api_version))
            return &rules[i];
    }
    return NULL;
}

int p4_health_eval(const cJSON *obj, struct p4_health *out)
{
    struct eval e = {0};
    const char *kind = p4_json_str(obj, "kind");
    const char *name = p4_json_str(obj, "metadata.name");
    const cJSON *status = p4_json_get(obj, "status");
    const struct rule *r;
    char kind_shown[KIND_SHOWN], name_shown[NAME_SHOWN];
    int rc = 0;

    if (out == NULL)
        return P4_ERR_INVAL;
    memset(out, 0, sizeof(*out));
    e.obj = obj;
    e.out = out;
    if (kind == NULL || kind[0] == '\0' || name == NULL || name[0] == '\0') {
        format(e.who, sizeof(e.who), "%s", "the object");
        result(&e, P4_HEALTH_UNKNOWN, false, "InvalidObject", "%s",
               !cJSON_IsObject(obj)              ? "the object is not a JSON object"
               : kind == NULL || kind[0] == '\0' ? "the object has no kind"
                                                 : "the object has no metadata.name");
        rc = P4_ERR_INVAL;
        goto out;
    }
    format(e.who, sizeof(e.who), "%s %s", clip(kind_shown, sizeof(kind_shown), kind),
           clip(name_shown, sizeof(name_shown), name));
    if (status != NULL && !cJSON_IsNull(status) && !cJSON_IsObject(status))
        mark_bad(&e, "status", "an object");
    if (generic(&e))
        goto out;
    r = rule_of(kind, p4_json_str(obj, "apiVersion"));
    if (r != NULL && r->has_status &&
        (status == NULL || !cJSON_IsObject(status) || status->child == NULL)) {
        result(&e, P4_HEALTH_UNKNOWN, false, "NoStatus", "%s has no status yet", e.who);
        goto out;
    }
    if (r != NULL)
        r->fn(&e);
    else
        custom(&e);
out:
    if (!e.done)
        result(&e, P4_HEALTH_UNKNOWN, false, "Unknown", "%s: health cannot be told", e.who);
    return rc;
}
