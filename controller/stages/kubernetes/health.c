/* health.c: an object's health: every kind's rules, the smaller kinds (see health.h). */
#include "phase4/stages/kubernetes/health.h"

#include <inttypes.h>
#include <string.h>
#include <strings.h>

#include "healtheval.h"
#include "healthpod.h"
#include "healthworkload.h"
#include "objtext.h"
#include "phase4/core/json.h"
#include "phase4/core/text.h"

static const char *const status_names[] = {"Current", "InProgress", "Failed", "Unknown"};

const char *p4_health_status_name(enum p4_health_status s)
{
    if ((unsigned)s >= sizeof(status_names) / sizeof(status_names[0]))
        return "Unknown";
    return status_names[s];
}

/* ---- every kind ---- */

/* Deletion, generation, Reconciling and Stalled; true when they decide. */
static bool generic(struct p4_healtheval *e)
{
    const char *deleting = p4_healtheval_text(e, "metadata.deletionTimestamp");
    char msg[P4_HEALTHEVAL_TEXT_SHOWN];
    int64_t generation = 0, observed = 0;
    int rc_gen = p4_json_int64(e->obj, "metadata.generation", &generation);
    int rc_obs = p4_json_int64(e->obj, "status.observedGeneration", &observed);
    struct p4_healtheval_cond c;

    if (deleting != NULL && deleting[0] != '\0') {
        p4_healtheval_result(e, P4_HEALTH_IN_PROGRESS, false, "Terminating", "%s is being deleted",
                             e->who);
        return true;
    }
    if (rc_gen == P4_ERR_INVAL)
        p4_healtheval_mark_bad(e, "metadata.generation", "an integer");
    if (rc_obs == P4_ERR_INVAL)
        p4_healtheval_mark_bad(e, "status.observedGeneration", "an integer");
    if (p4_healtheval_malformed(e))
        return true;
    if (rc_gen == 0 && rc_obs == 0 && generation > observed) {
        p4_healtheval_result(e, P4_HEALTH_IN_PROGRESS, false, "ObservedGenerationBehind",
                             "%s: generation %" PRId64
                             " is not observed yet (status.observedGeneration %" PRId64 ")",
                             e->who, generation, observed);
        return true;
    }
    if (p4_healtheval_cond_is(e, "Reconciling", "True", &c)) {
        p4_objtext_clip(msg, sizeof(msg), c.message);
        p4_healtheval_result(e, P4_HEALTH_IN_PROGRESS, false,
                             p4_healtheval_reason_or(c.reason, "Reconciling"),
                             "%s is reconciling%s%s", e->who, p4_objtext_colon(msg), msg);
        return true;
    }
    if (p4_healtheval_cond_is(e, "Stalled", "True", &c)) {
        p4_objtext_clip(msg, sizeof(msg), c.message);
        p4_healtheval_result(e, P4_HEALTH_FAILED, false,
                             p4_healtheval_reason_or(c.reason, "Stalled"), "%s is stalled%s%s",
                             e->who, p4_objtext_colon(msg), msg);
        return true;
    }
    return p4_healtheval_malformed(e);
}

/* ---- other built-in kinds ---- */

static void job(struct p4_healtheval *e)
{
    int64_t completions = p4_healtheval_count(e, "spec.completions", -1);
    int64_t succeeded = p4_healtheval_count(e, "status.succeeded", 0);
    int64_t active = p4_healtheval_count(e, "status.active", 0);
    int64_t failed = p4_healtheval_count(e, "status.failed", 0);
    char counts[P4_HEALTHEVAL_COUNTS_SIZE], msg[P4_HEALTHEVAL_TEXT_SHOWN],
        why[P4_HEALTH_REASON_MAX];
    struct p4_healtheval_cond c;

    if (p4_healtheval_malformed(e))
        return;
    if (completions >= 0)
        p4_text_format(counts, sizeof(counts),
                       "%" PRId64 " of %" PRId64 " completions succeeded, %" PRId64
                       " active, %" PRId64 " failed",
                       succeeded, completions, active, failed);
    else
        p4_text_format(counts, sizeof(counts),
                       "%" PRId64 " succeeded, %" PRId64 " active, %" PRId64 " failed", succeeded,
                       active, failed);
    /* FailureTarget and SuccessCriteriaMet (Kubernetes 1.31+) come first, while pods stop. */
    if (p4_healtheval_cond_is(e, "Failed", "True", &c) ||
        p4_healtheval_cond_is(e, "FailureTarget", "True", &c)) {
        p4_objtext_clip(msg, sizeof(msg), c.message);
        p4_objtext_clip(why, sizeof(why), p4_healtheval_reason_or(c.reason, "JobFailed"));
        p4_healtheval_result(e, P4_HEALTH_FAILED, true, why, "%s failed (%s)%s%s; %s", e->who, why,
                             p4_objtext_colon(msg), msg, counts);
        return;
    }
    if (p4_healtheval_cond_is(e, "Complete", "True", &c) ||
        p4_healtheval_cond_is(e, "SuccessCriteriaMet", "True", &c)) {
        p4_healtheval_result(e, P4_HEALTH_CURRENT, false, "Complete", "%s completed: %s", e->who,
                             counts);
        return;
    }
    if (p4_healtheval_cond_is(e, "Suspended", "True", &c)) {
        p4_healtheval_result(e, P4_HEALTH_CURRENT, false, "Suspended",
                             "%s is suspended: no pods run until spec.suspend is false", e->who);
        return;
    }
    p4_healtheval_result(e, P4_HEALTH_IN_PROGRESS, false, "JobRunning", "%s is running: %s", e->who,
                         counts);
}

static void pvc(struct p4_healtheval *e)
{
    const char *phase = p4_healtheval_text(e, "status.phase");
    const char *volume = p4_healtheval_text(e, "spec.volumeName");
    char shown[P4_HEALTHEVAL_NAME_SHOWN];

    if (p4_healtheval_malformed(e))
        return;
    p4_objtext_clip(shown, sizeof(shown), volume);
    if (p4_text_eq(phase, "Bound")) {
        p4_healtheval_result(e, P4_HEALTH_CURRENT, false, "Bound", "%s is Bound%s%s", e->who,
                             shown[0] != '\0' ? " to volume " : "", shown);
    } else if (p4_text_eq(phase, "Lost")) {
        p4_healtheval_result(
            e, P4_HEALTH_FAILED, true, "ClaimLost",
            "%s lost its volume%s%s: the PersistentVolume is gone, the claim must be recreated",
            e->who, shown[0] != '\0' ? " " : "", shown);
    } else if (phase == NULL || p4_text_eq(phase, "Pending")) {
        p4_healtheval_result(e, P4_HEALTH_IN_PROGRESS, false, "Pending",
                             "%s is Pending: no volume is bound to it yet", e->who);
    } else {
        p4_objtext_clip(shown, sizeof(shown), phase);
        p4_healtheval_result(e, P4_HEALTH_UNKNOWN, false, "MalformedObject",
                             "%s: status.phase \"%s\" is not a claim phase", e->who, shown);
    }
}

static void service(struct p4_healtheval *e)
{
    const char *type = p4_healtheval_text(e, "spec.type");
    const cJSON *ingress = p4_healtheval_list(e, "status.loadBalancer.ingress");
    char shown[P4_HEALTHEVAL_NAME_SHOWN];

    if (p4_healtheval_malformed(e))
        return;
    if (!p4_text_eq(type, "LoadBalancer")) {
        p4_objtext_clip(shown, sizeof(shown), type != NULL ? type : "ClusterIP");
        p4_healtheval_result(e, P4_HEALTH_CURRENT, false, "Ready",
                             "%s (%s) has nothing to wait for", e->who, shown);
        return;
    }
    for (const cJSON *it = ingress != NULL ? ingress->child : NULL; it != NULL; it = it->next) {
        const char *ip = p4_json_str(it, "ip"), *host = p4_json_str(it, "hostname");
        const char *address = ip != NULL && ip[0] != '\0' ? ip : host;

        if (address != NULL && address[0] != '\0') {
            p4_healtheval_result(e, P4_HEALTH_CURRENT, false, "Ready",
                                 "%s has a load balancer at %s", e->who,
                                 p4_objtext_clip(shown, sizeof(shown), address));
            return;
        }
    }
    p4_healtheval_result(
        e, P4_HEALTH_IN_PROGRESS, false, "LoadBalancerPending",
        "%s: waiting for the load balancer to get an address (status.loadBalancer.ingress is "
        "empty)",
        e->who);
}

static void crd(struct p4_healtheval *e)
{
    char msg[P4_HEALTHEVAL_TEXT_SHOWN];
    struct p4_healtheval_cond c;

    if (p4_healtheval_cond_is(e, "NamesAccepted", "False", &c)) {
        p4_objtext_clip(msg, sizeof(msg), c.message);
        p4_healtheval_result(
            e, P4_HEALTH_FAILED, false, p4_healtheval_reason_or(c.reason, "NamesNotAccepted"),
            "%s: its names are not accepted%s%s", e->who, p4_objtext_colon(msg), msg);
    } else if (p4_healtheval_cond(e, "Established", &c) && p4_text_eq(c.status, "False") &&
               !p4_text_eq(c.reason, "Installing")) {
        p4_objtext_clip(msg, sizeof(msg), c.message);
        p4_healtheval_result(e, P4_HEALTH_FAILED, false,
                             p4_healtheval_reason_or(c.reason, "NotEstablished"),
                             "%s is not established%s%s", e->who, p4_objtext_colon(msg), msg);
    } else if (p4_text_eq(c.status, "True")) {
        p4_healtheval_result(e, P4_HEALTH_CURRENT, false, "Ready", "%s is established", e->who);
    } else if (!p4_healtheval_malformed(e)) {
        p4_healtheval_result(e, P4_HEALTH_IN_PROGRESS, false, "Installing",
                             "%s is not established yet", e->who);
    }
}

static void namespace_(struct p4_healtheval *e)
{
    const char *phase = p4_healtheval_text(e, "status.phase");

    if (p4_healtheval_malformed(e))
        return;
    if (p4_text_eq(phase, "Terminating"))
        p4_healtheval_result(e, P4_HEALTH_IN_PROGRESS, false, "Terminating", "%s is being deleted",
                             e->who);
    else
        p4_healtheval_result(e, P4_HEALTH_CURRENT, false, "Ready", "%s is active", e->who);
}

static void nothing(struct p4_healtheval *e)
{
    p4_healtheval_result(e, P4_HEALTH_CURRENT, false, "Ready", "%s has no status to wait for",
                         e->who);
}

/* ---- custom resources ---- */

/* The words of a Ready=False reason that say it went wrong (health.h), compared ignoring case. */
static const char *const failure_words[] = {"Fail",  "Failed",  "Failure", "Err",
                                            "Error", "Invalid", "Denied"};

static bool is_upper(char c)
{
    return c >= 'A' && c <= 'Z';
}

static bool is_lower(char c)
{
    return c >= 'a' && c <= 'z';
}

static bool failure_word(const char *word, size_t n)
{
    for (size_t i = 0; i < sizeof(failure_words) / sizeof(failure_words[0]); i++) {
        if (strlen(failure_words[i]) == n && strncasecmp(failure_words[i], word, n) == 0)
            return true;
    }
    return false;
}

/*
 * Does the reason hold a failure word? Words are cut as CamelCase reads: a capital after a small
 * letter begins one ("ReconciliationFailed"), and so does the last capital of a run of them
 * followed by a small letter ("ACMEError"); anything but a letter ('_', digits) ends one.
 */
static bool reason_says_failed(const char *reason)
{
    size_t start = 0, n = strlen(reason);

    for (size_t i = 0; i <= n; i++) {
        char c = reason[i];
        bool letter = is_upper(c) || is_lower(c);
        bool begins = i > start && is_upper(c) &&
                      (is_lower(reason[i - 1]) || (i + 1 < n && is_lower(reason[i + 1])));

        if (!letter || begins) {
            if (i > start && failure_word(reason + start, i - start))
                return true;
            start = letter ? i : i + 1;
        }
    }
    return false;
}

/* Any other kind: its Ready condition, when it has one. */
static void custom(struct p4_healtheval *e)
{
    int64_t generation = 0;
    char msg[P4_HEALTHEVAL_TEXT_SHOWN];
    struct p4_healtheval_cond c;
    bool has_ready = p4_healtheval_cond(e, "Ready", &c);

    if (p4_healtheval_malformed(e))
        return;
    if (!has_ready) {
        p4_healtheval_result(e, P4_HEALTH_CURRENT, false, "Ready",
                             "%s has no Ready condition to wait for", e->who);
        return;
    }
    p4_objtext_clip(msg, sizeof(msg), c.message);
    if (c.has_generation && p4_json_int64(e->obj, "metadata.generation", &generation) == 0 &&
        c.generation < generation) {
        p4_healtheval_result(e, P4_HEALTH_IN_PROGRESS, false, "ObservedGenerationBehind",
                             "%s: its Ready condition is for generation %" PRId64 ", not %" PRId64,
                             e->who, c.generation, generation);
    } else if (p4_text_eq(c.status, "True")) {
        p4_healtheval_result(e, P4_HEALTH_CURRENT, false, "Ready", "%s is ready%s%s", e->who,
                             p4_objtext_colon(msg), msg);
    } else if (p4_text_eq(c.status, "False") &&
               reason_says_failed(p4_healtheval_reason_or(c.reason, ""))) {
        p4_healtheval_result(e, P4_HEALTH_FAILED, false, c.reason, "%s is not ready%s%s", e->who,
                             p4_objtext_colon(msg), msg);
    } else if (p4_text_eq(c.status, "False")) {
        /* Operators write Ready=False while they work (a certificate being issued): not yet. */
        p4_healtheval_result(e, P4_HEALTH_IN_PROGRESS, false,
                             p4_healtheval_reason_or(c.reason, "NotReady"),
                             "%s is not ready yet%s%s", e->who, p4_objtext_colon(msg), msg);
    } else {
        p4_healtheval_result(e, P4_HEALTH_IN_PROGRESS, false,
                             p4_healtheval_reason_or(c.reason, "ReadyUnknown"),
                             "%s is not ready yet%s%s", e->who, p4_objtext_colon(msg), msg);
    }
}

/* ---- dispatch ---- */

struct rule {
    const char *kind;
    const char *groups[2]; /* the API groups the kind is built into; NULL ends */
    bool has_status;       /* an absent or empty status means the controller has not acted */
    void (*fn)(struct p4_healtheval *e);
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
    {"Deployment", {"apps", "extensions"}, true, p4_healthworkload_deployment},
    {"StatefulSet", {"apps", NULL}, true, p4_healthworkload_statefulset},
    {"DaemonSet", {"apps", "extensions"}, true, p4_healthworkload_daemonset},
    {"ReplicaSet", {"apps", "extensions"}, true, p4_healthworkload_replicaset},
    {"Job", {"batch", NULL}, true, job},
    {"Pod", CORE, true, p4_healthpod_eval},
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
    struct p4_healtheval e = {0};
    const char *kind = p4_json_str(obj, "kind");
    const char *name = p4_json_str(obj, "metadata.name");
    const cJSON *status = p4_json_get(obj, "status");
    const struct rule *r;
    char kind_shown[P4_HEALTHEVAL_KIND_SHOWN], name_shown[P4_HEALTHEVAL_NAME_SHOWN];
    int rc = 0;

    if (out == NULL)
        return P4_ERR_INVAL;
    memset(out, 0, sizeof(*out));
    e.obj = obj;
    e.out = out;
    if (kind == NULL || kind[0] == '\0' || name == NULL || name[0] == '\0') {
        p4_text_format(e.who, sizeof(e.who), "%s", "the object");
        p4_healtheval_result(&e, P4_HEALTH_UNKNOWN, false, "InvalidObject", "%s",
                             !cJSON_IsObject(obj)              ? "the object is not a JSON object"
                             : kind == NULL || kind[0] == '\0' ? "the object has no kind"
                                                               : "the object has no metadata.name");
        rc = P4_ERR_INVAL;
        goto out;
    }
    p4_text_format(e.who, sizeof(e.who), "%s %s",
                   p4_objtext_clip(kind_shown, sizeof(kind_shown), kind),
                   p4_objtext_clip(name_shown, sizeof(name_shown), name));
    if (status != NULL && !cJSON_IsNull(status) && !cJSON_IsObject(status))
        p4_healtheval_mark_bad(&e, "status", "an object");
    if (generic(&e))
        goto out;
    r = rule_of(kind, p4_json_str(obj, "apiVersion"));
    if (r != NULL && r->has_status &&
        (status == NULL || !cJSON_IsObject(status) || status->child == NULL)) {
        p4_healtheval_result(&e, P4_HEALTH_UNKNOWN, false, "NoStatus", "%s has no status yet",
                             e.who);
        goto out;
    }
    if (r != NULL)
        r->fn(&e);
    else
        custom(&e);
out:
    if (!e.done)
        p4_healtheval_result(&e, P4_HEALTH_UNKNOWN, false, "Unknown", "%s: health cannot be told",
                             e.who);
    return rc;
}
