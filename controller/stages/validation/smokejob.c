/*
 * stages/validation/smokejob.c: a smoke test's Job, decided without I/O (see steps.h): the
 * tests read from the spec and from the chart's test hooks, the Job's name and body, whether a
 * Job is the resource's, what its status and its pod say, and the gate's messages.
 *
 * A smoke-test Job carries the marks the Kubernetes stage puts on what it applies
 * (stages/kubernetes/applymark.h: the managed-by, phase4.io/name and phase4.io/generation
 * labels, the phase4.io/owner annotation), so the operator's Job informer routes its changes to
 * the resource, plus phase4.io/purpose=smoke (which keeps the Kubernetes stage's prune off it),
 * the test's name and the resource's uid.
 */
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/core/alloc.h"
#include "phase4/core/json.h"
#include "phase4/core/text.h"
#include "phase4/core/timefmt.h"
#include "phase4/kube/apistatus.h"
#include "phase4/kube/apply.h"
#include "phase4/reconciler/manifest.h"
#include "steps.h"

#define MANAGED_BY "app.kubernetes.io/managed-by"
#define MANAGER "phase4-operator"
#define L_NAME "phase4.io/name"
#define L_GENERATION "phase4.io/generation"
#define L_PURPOSE "phase4.io/purpose"
#define L_TEST "phase4.io/smoke-test"
#define A_OWNER "phase4.io/owner"
#define A_OWNER_UID "phase4.io/owner-uid"
#define PURPOSE "smoke"

/* The first 52 bytes of value, '-' and 10 hex digits of its SHA-256 (trim: no '-' or '.' left
   before the '-', so the result stays a DNS subdomain). */
static void cut_hashed(const char *value, bool trim, char out[P4_VSTAGE_NAME_MAX + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    size_t n = strlen(value), keep = 52;

    if (n <= P4_VSTAGE_NAME_MAX) {
        (void)snprintf(out, P4_VSTAGE_NAME_MAX + 1, "%s", value);
        return;
    }
    if (EVP_Digest(value, n, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen < 5)
        memset(md, 0, sizeof(md));
    while (trim && keep > 1 && (value[keep - 1] == '-' || value[keep - 1] == '.'))
        keep--;
    memcpy(out, value, keep);
    out[keep] = '-';
    for (size_t i = 0; i < 5; i++) {
        out[keep + 1 + 2 * i] = hex[md[i] >> 4];
        out[keep + 2 + 2 * i] = hex[md[i] & 15];
    }
    out[keep + 11] = '\0';
}

const char *p4_vstage_label_value(const char *value, char out[P4_VSTAGE_NAME_MAX + 1])
{
    cut_hashed(value ? value : "", false, out);
    return out;
}

void p4_vstage_smoke_job_name(const char *resource, bool helm, const char *test, int64_t generation,
                              char out[P4_VSTAGE_NAME_MAX + 1])
{
    char full[1024];

    (void)snprintf(full, sizeof(full), "%s-%s-%s-g%" PRId64, resource ? resource : "",
                   helm ? "test" : "smoke", test ? test : "", generation);
    cut_hashed(full, true, out);
}

/* How a test is named in messages: "a", or "helm test web-test". */
static void shown(const struct p4_vstage_smoke_test *t, char *buf, size_t size)
{
    (void)snprintf(buf, size, "%s%s", t->helm ? "helm test " : "", t->name);
}

static void set_timeout(struct p4_vstage_smoke_test *t, const char *text)
{
    t->timeout_ms = p4_duration_ms(text, P4_VSTAGE_SMOKE_TIMEOUT_MS);
    if (t->timeout_ms == 0)
        t->timeout_ms = P4_VSTAGE_SMOKE_TIMEOUT_MS;
    (void)snprintf(t->timeout, sizeof(t->timeout), "%s",
                   text && t->timeout_ms == p4_duration_ms(text, 0) ? text : "5m");
}

int p4_vstage_smoke_read(const cJSON *spec, struct p4_vstage_smoke_test *tests, int max,
                         struct p4_error *err)
{
    const cJSON *list = p4_json_get(spec, "smokeTests"), *e;
    int n = 0;

    if (!cJSON_IsArray(list))
        list = NULL;
    cJSON_ArrayForEach(e, list) {
        const char *name = p4_json_str(e, "name");
        const cJSON *tmpl = p4_json_get(e, "template");
        struct p4_vstage_smoke_test *t;

        if (n >= max) {
            p4_error_set(err, P4_ERR_INVALID, "spec.validation.smokeTests has more than %d entries",
                         max);
            goto fail;
        }
        if (name == NULL || name[0] == '\0' || strlen(name) >= sizeof(tests->name)) {
            p4_error_set(err, P4_ERR_INVALID, "spec.validation.smokeTests[%d] has no valid name",
                         n);
            goto fail;
        }
        for (int j = 0; j < n; j++) {
            if (strcmp(tests[j].name, name) == 0) {
                p4_error_set(err, P4_ERR_INVALID,
                             "spec.validation.smokeTests names %s twice; each test needs a name "
                             "of its own",
                             name);
                goto fail;
            }
        }
        if (!cJSON_IsObject(tmpl)) {
            p4_error_set(err, P4_ERR_INVALID,
                         "spec.validation.smokeTests[%d] (%s) has no template (a batch/v1 JobSpec)",
                         n, name);
            goto fail;
        }
        t = &tests[n++];
        *t = (struct p4_vstage_smoke_test){.secs = -1};
        (void)snprintf(t->name, sizeof(t->name), "%s", name);
        t->template = p4_json_need(cJSON_Duplicate(tmpl, 1));
        set_timeout(t, p4_json_str(e, "timeout"));
    }
    return n;
fail:
    p4_vstage_smoke_tests_free(tests, n);
    return -1;
}

void p4_vstage_smoke_tests_free(struct p4_vstage_smoke_test *tests, int n)
{
    for (int i = 0; tests != NULL && i < n; i++) {
        cJSON_Delete(tests[i].template);
        tests[i].template = NULL;
    }
}

static const char *annotation(const cJSON *obj, const char *key)
{
    return p4_json_str(p4_json_child(p4_json_get(obj, "metadata.annotations"), key), NULL);
}

static const char *label(const cJSON *obj, const char *key)
{
    return p4_json_str(p4_json_child(p4_json_get(obj, "metadata.labels"), key), NULL);
}

static int hook_cmp(const void *a, const void *b)
{
    const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
    long wx = p4_manifest_hook_weight(x), wy = p4_manifest_hook_weight(y);
    const char *nx = p4_json_str(x, "metadata.name"), *ny = p4_json_str(y, "metadata.name");

    if (wx != wy)
        return wx < wy ? -1 : 1;
    return strcmp(nx ? nx : "", ny ? ny : "");
}

/* A JobSpec running a Pod: its metadata (the hook's own annotations left out) and spec as the
   pod template. */
static cJSON *pod_job_spec(const cJSON *pod)
{
    cJSON *job = p4_json_need(cJSON_CreateObject()), *meta, *spec;
    cJSON *tmpl = p4_json_need(cJSON_AddObjectToObject(job, "template"));
    const cJSON *labels = p4_json_get(pod, "metadata.labels");
    const cJSON *ann = p4_json_get(pod, "metadata.annotations"), *a;

    meta = p4_json_need(cJSON_AddObjectToObject(tmpl, "metadata"));
    if (cJSON_IsObject(labels))
        p4_json_need_ok(
            cJSON_AddItemToObject(meta, "labels", p4_json_need(cJSON_Duplicate(labels, 1))));
    if (cJSON_IsObject(ann)) {
        cJSON *copy = p4_json_need(cJSON_AddObjectToObject(meta, "annotations"));
        cJSON_ArrayForEach(a, ann) {
            if (a->string && strncmp(a->string, "helm.sh/", 8) != 0)
                p4_json_need_ok(
                    cJSON_AddItemToObject(copy, a->string, p4_json_need(cJSON_Duplicate(a, 1))));
        }
    }
    spec = cJSON_IsObject(p4_json_get(pod, "spec"))
               ? p4_json_need(cJSON_Duplicate(p4_json_get(pod, "spec"), 1))
               : p4_json_need(cJSON_CreateObject());
    /* A Job's pods may not restart Always; a test pod that restarts forever tests nothing. */
    if (!p4_text_eq(p4_json_str(spec, "restartPolicy"), "OnFailure")) {
        cJSON_DeleteItemFromObjectCaseSensitive(spec, "restartPolicy");
        p4_json_need(cJSON_AddStringToObject(spec, "restartPolicy", "Never"));
    }
    p4_json_need_ok(cJSON_AddItemToObject(tmpl, "spec", spec));
    return job;
}

int p4_vstage_smoke_helm_tests(const cJSON *objects, struct p4_vstage_smoke_test *tests, int at,
                               int max, int *skipped)
{
    size_t cap = p4_json_count_upto(objects, P4_MANIFEST_OBJECTS_MAX), n = 0;
    const cJSON **found = p4_calloc(cap ? cap : 1, sizeof(cJSON *));
    const cJSON *o;

    *skipped = 0;
    if (!cJSON_IsArray(objects))
        objects = NULL;
    cJSON_ArrayForEach(o, objects) {
        const char *kind = p4_json_str(o, "kind");
        const char *api = p4_json_str(o, "apiVersion"), *name = p4_json_str(o, "metadata.name");
        if (n >= cap || !p4_manifest_test_hook(o))
            continue;
        if (name == NULL || name[0] == '\0' || strlen(name) >= sizeof(tests->name) ||
            !((p4_text_eq(kind, "Pod") && p4_text_eq(api, "v1")) ||
              (p4_text_eq(kind, "Job") && p4_text_eq(api, "batch/v1")))) {
            (*skipped)++;
            continue;
        }
        found[n++] = o;
    }
    qsort(found, n, sizeof(cJSON *), hook_cmp);
    for (size_t i = 0; i < n; i++) {
        struct p4_vstage_smoke_test *t;
        if (at >= max) {
            *skipped += (int)(n - i);
            break;
        }
        t = &tests[at++];
        *t = (struct p4_vstage_smoke_test){.helm = true, .secs = -1};
        (void)snprintf(t->name, sizeof(t->name), "%s", p4_json_str(found[i], "metadata.name"));
        if (p4_text_eq(p4_json_str(found[i], "kind"), "Job"))
            t->template = cJSON_IsObject(p4_json_get(found[i], "spec"))
                              ? p4_json_need(cJSON_Duplicate(p4_json_get(found[i], "spec"), 1))
                              : p4_json_need(cJSON_CreateObject());
        else
            t->template = pod_job_spec(found[i]);
        set_timeout(t, NULL);
    }
    free((void *)found);
    return at;
}

static void add_str(cJSON *obj, const char *key, const char *value)
{
    cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
    p4_json_need(cJSON_AddStringToObject(obj, key, value));
}

/* obj's member key as an object (replacing one of another type). */
static cJSON *object_member(cJSON *obj, const char *key)
{
    cJSON *m = cJSON_GetObjectItemCaseSensitive(obj, key);

    if (cJSON_IsObject(m))
        return m;
    cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
    return p4_json_need(cJSON_AddObjectToObject(obj, key));
}

cJSON *p4_vstage_smoke_job(const struct p4_vstage_owner *o, const struct p4_vstage_smoke_test *t)
{
    cJSON *job = p4_json_need(cJSON_CreateObject()), *meta, *labels, *ann, *spec, *pod;
    char gen[24], value[P4_VSTAGE_NAME_MAX + 1], owner[600], name[300];

    add_str(job, "apiVersion", "batch/v1");
    add_str(job, "kind", "Job");
    meta = object_member(job, "metadata");
    add_str(meta, "name", t->job);
    add_str(meta, "namespace", o->target_ns);
    labels = object_member(meta, "labels");
    add_str(labels, MANAGED_BY, MANAGER);
    add_str(labels, L_NAME, p4_vstage_label_value(o->name, value));
    (void)snprintf(gen, sizeof(gen), "%" PRId64, o->generation);
    add_str(labels, L_GENERATION, gen);
    add_str(labels, L_PURPOSE, PURPOSE);
    add_str(labels, L_TEST, p4_vstage_label_value(t->name, value));
    /* The owner annotation routes the Job's changes to the resource (the operator's Job
       informer) wherever it runs, whatever the name's length; the uid tells a resource deleted
       and made again under the same name from the one that made the Job. */
    ann = object_member(meta, "annotations");
    (void)snprintf(owner, sizeof(owner), "%s/%s", o->ns, o->name);
    add_str(ann, A_OWNER, owner);
    add_str(ann, A_OWNER_UID, o->uid);
    shown(t, name, sizeof(name));
    add_str(ann, L_TEST, name);
    if (strcmp(o->ns, o->target_ns) == 0) { /* an ownerReference cannot cross namespaces */
        cJSON *refs = p4_json_need(cJSON_AddArrayToObject(meta, "ownerReferences"));
        cJSON *ref = p4_json_need(cJSON_CreateObject());
        add_str(ref, "apiVersion", "phase4.io/v1alpha1");
        add_str(ref, "kind", "Phase4Deployment");
        add_str(ref, "name", o->name);
        add_str(ref, "uid", o->uid);
        p4_json_need(cJSON_AddBoolToObject(ref, "controller", 1));
        p4_json_need(cJSON_AddBoolToObject(ref, "blockOwnerDeletion", 1));
        p4_json_need_ok(cJSON_AddItemToArray(refs, ref));
    }
    spec = cJSON_IsObject(t->template) ? p4_json_need(cJSON_Duplicate(t->template, 1))
                                       : p4_json_need(cJSON_CreateObject());
    if (p4_json_get(spec, "activeDeadlineSeconds") == NULL) { /* the Job ends itself in time */
        uint64_t secs = (t->timeout_ms + 999) / 1000;
        p4_json_need(cJSON_AddNumberToObject(spec, "activeDeadlineSeconds", (double)secs));
    }
    /* A test runs once: a retry would hide a flaky test and multiply its time. */
    if (p4_json_get(spec, "backoffLimit") == NULL)
        p4_json_need(cJSON_AddNumberToObject(spec, "backoffLimit", 0));
    pod = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(spec, "template"),
                                           "spec");
    if (cJSON_IsObject(pod) && p4_json_get(pod, "restartPolicy") == NULL)
        add_str(pod, "restartPolicy", "Never");
    p4_json_need_ok(cJSON_AddItemToObject(job, "spec", spec));
    return job;
}

bool p4_vstage_smoke_ours(const cJSON *job, const struct p4_vstage_owner *o, bool same_generation)
{
    char value[P4_VSTAGE_NAME_MAX + 1], owner[600], gen[24];
    bool marked;

    (void)snprintf(gen, sizeof(gen), "%" PRId64, o->generation);
    (void)snprintf(owner, sizeof(owner), "%s/%s", o->ns, o->name);
    if (!cJSON_IsObject(job) || !p4_text_eq(label(job, MANAGED_BY), MANAGER) ||
        !p4_text_eq(label(job, L_PURPOSE), PURPOSE) ||
        !p4_text_eq(label(job, L_NAME), p4_vstage_label_value(o->name, value)) ||
        !p4_text_eq(p4_json_str(job, "metadata.namespace"), o->target_ns) ||
        (same_generation && !p4_text_eq(label(job, L_GENERATION), gen)))
        return false;
    marked = p4_text_eq(annotation(job, A_OWNER), owner) &&
             p4_text_eq(annotation(job, A_OWNER_UID), o->uid);
    return marked || p4_owned_by(job, o->uid);
}

bool p4_vstage_smoke_stale(const cJSON *job, const struct p4_vstage_owner *o)
{
    const char *g = label(job, L_GENERATION);
    char *end;
    long long gen;

    if (g == NULL || !p4_vstage_smoke_ours(job, o, false))
        return false;
    gen = strtoll(g, &end, 10);
    return end != g && *end == '\0' && gen < o->generation;
}

static const cJSON *true_condition(const cJSON *job, const char *type)
{
    const cJSON *c;

    cJSON_ArrayForEach(c, p4_json_get(job, "status.conditions")) {
        if (p4_text_eq(p4_json_str(c, "type"), type) &&
            p4_text_eq(p4_json_str(c, "status"), "True"))
            return c;
    }
    return NULL;
}

enum p4_vstage_job p4_vstage_smoke_job_state(const cJSON *job, char *why, size_t size)
{
    const cJSON *c;
    const char *reason, *message;
    char text[400];

    if (size > 0)
        why[0] = '\0';
    if (true_condition(job, "Complete") || true_condition(job, "SuccessCriteriaMet"))
        return P4_VJOB_PASSED;
    c = true_condition(job, "Failed");
    if (c == NULL)
        c = true_condition(job, "FailureTarget");
    if (c == NULL)
        return P4_VJOB_RUNNING;
    reason = p4_json_str(c, "reason");
    message = p4_json_str(c, "message");
    (void)snprintf(text, sizeof(text), "%s%s%s", reason ? reason : "Failed",
                   message && message[0] ? ": " : "", message ? message : "");
    if (size > 0)
        p4_text_clean(why, size, text, strlen(text), 0);
    return p4_text_eq(reason, "DeadlineExceeded") ? P4_VJOB_TIMEDOUT : P4_VJOB_FAILED;
}

int64_t p4_vstage_smoke_job_seconds(const cJSON *job)
{
    const cJSON *done = true_condition(job, "Complete");
    int64_t start, end;

    /* SuccessCriteriaMet comes first, before the Job controller sets completionTime. */
    if (done == NULL)
        done = true_condition(job, "SuccessCriteriaMet");
    if (p4_timefmt_parse(p4_json_str(job, "status.startTime"), &start) != 0 ||
        (p4_timefmt_parse(p4_json_str(job, "status.completionTime"), &end) != 0 &&
         p4_timefmt_parse(p4_json_str(done, "lastTransitionTime"), &end) != 0) ||
        end < start)
        return -1;
    return (end - start + 500000) / 1000000;
}

static void copy_clean(char *dst, size_t size, const char *src)
{
    p4_text_clean(dst, size, src, src ? strlen(src) : 0, 0);
}

/* The first container of pod's status lists that matches want: 1 a non-zero exit code (now or
   its last run), 2 waiting, 3 ran (running or terminated). */
static const cJSON *find_container(const cJSON *pod, int want)
{
    static const char *const lists[] = {"status.initContainerStatuses", "status.containerStatuses"};
    const cJSON *cs;

    for (size_t l = 0; l < sizeof(lists) / sizeof(lists[0]); l++) {
        cJSON_ArrayForEach(cs, p4_json_get(pod, lists[l])) {
            int64_t code = 0;
            if (want == 1 &&
                ((p4_json_int64(cs, "state.terminated.exitCode", &code) == 0 && code != 0) ||
                 (p4_json_int64(cs, "lastState.terminated.exitCode", &code) == 0 && code != 0)))
                return cs;
            if (want == 2 && cJSON_IsObject(p4_json_get(cs, "state.waiting")))
                return cs;
            if (want == 3 && (cJSON_IsObject(p4_json_get(cs, "state.running")) ||
                              cJSON_IsObject(p4_json_get(cs, "state.terminated"))))
                return cs;
        }
    }
    return NULL;
}

void p4_vstage_smoke_pod_exit(const cJSON *pods, struct p4_vstage_pod_exit *out)
{
    const cJSON *it, *pick = NULL, *cs;
    bool pick_failed = false;

    *out = (struct p4_vstage_pod_exit){0};
    cJSON_ArrayForEach(it, p4_json_get(pods, "items")) {
        bool failed = p4_text_eq(p4_json_str(it, "status.phase"), "Failed");
        const char *a = p4_json_str(it, "metadata.creationTimestamp");
        const char *b = pick ? p4_json_str(pick, "metadata.creationTimestamp") : NULL;
        if (p4_json_str(it, "metadata.name") == NULL)
            continue;
        /* A failed pod first, then the newest (RFC 3339 in UTC sorts as text). */
        if (pick == NULL || (failed && !pick_failed) ||
            (failed == pick_failed && a && (b == NULL || strcmp(a, b) > 0))) {
            pick = it;
            pick_failed = failed;
        }
    }
    if (pick == NULL)
        return;
    copy_clean(out->pod, sizeof(out->pod), p4_json_str(pick, "metadata.name"));
    if ((cs = find_container(pick, 1)) != NULL) {
        int64_t code = 0;
        if (p4_json_int64(cs, "state.terminated.exitCode", &code) != 0 || code == 0)
            (void)p4_json_int64(cs, "lastState.terminated.exitCode", &code);
        out->has_code = true;
        out->code = code > INT32_MAX || code < INT32_MIN ? -1 : (int)code;
        out->has_log = true;
    } else if ((cs = find_container(pick, 2)) != NULL) {
        const char *reason = p4_json_str(cs, "state.waiting.reason");
        const char *message = p4_json_str(cs, "state.waiting.message");
        char text[400];
        (void)snprintf(text, sizeof(text), "%s%s%s", reason ? reason : "waiting",
                       message && message[0] ? ": " : "", message ? message : "");
        copy_clean(out->waiting, sizeof(out->waiting), text);
    } else if ((cs = find_container(pick, 3)) != NULL) {
        out->has_log = true;
    }
    if (cs != NULL)
        copy_clean(out->container, sizeof(out->container), p4_json_str(cs, "name"));
    else
        copy_clean(
            out->container, sizeof(out->container),
            p4_json_str(cJSON_GetArrayItem(p4_json_get(pick, "spec.containers"), 0), "name"));
    if (out->container[0] == '\0')
        out->has_log = false;
}

bool p4_vstage_smoke_log_path(const char *ns, const struct p4_vstage_pod_exit *pe, char *path,
                              size_t size)
{
    char epod[800], ec[800];
    size_t used;
    int n;

    if (!pe->has_log || pe->pod[0] == '\0' || pe->container[0] == '\0' ||
        p4_kube_escape(pe->pod, epod, sizeof(epod)) != 0 ||
        p4_kube_escape(pe->container, ec, sizeof(ec)) != 0)
        return false;
    p4_core_path(path, size, ns, "pods", "");
    used = strlen(path);
    n = snprintf(path + used, size - used, "/%s/log?container=%s&tailLines=5&limitBytes=4096", epod,
                 ec);
    return n > 0 && (size_t)n < size - used;
}

void p4_vstage_smoke_failure(const struct p4_vstage_smoke_test *t, const char *ns, bool timed_out,
                             const char *why, const struct p4_vstage_pod_exit *pe, const char *log,
                             struct p4_vstage_failure *f)
{
    char name[300], head[700], pod[600] = "";

    shown(t, name, sizeof(name));
    if (timed_out)
        p4_text_format(head, sizeof(head),
                       "smoke test %s did not finish within its timeout of %s "
                       "(Job %s/%s%s%s)",
                       name, t->timeout, ns, t->job, why && why[0] ? ": " : "", why ? why : "");
    else
        p4_text_format(head, sizeof(head), "smoke test %s failed: Job %s/%s (%s)", name, ns, t->job,
                       why && why[0] ? why : "no reason given");
    if (pe && pe->has_code)
        p4_text_format(pod, sizeof(pod), "; pod %s container %s exited with code %d", pe->pod,
                       pe->container, pe->code);
    else if (pe && pe->waiting[0])
        p4_text_format(pod, sizeof(pod), "; pod %s container %s is waiting: %s", pe->pod,
                       pe->container, pe->waiting);
    else if (pe && pe->pod[0])
        p4_text_format(pod, sizeof(pod), "; pod %s", pe->pod);
    else
        p4_text_format(pod, sizeof(pod), "; no pod of it was found");
    *f = (struct p4_vstage_failure){.cls = P4_FAIL_ARTIFACT,
                                    .reason = timed_out ? "SmokeTestTimedOut" : "SmokeTestFailed"};
    p4_text_format(f->err.message, sizeof(f->err.message), "%s%s%s%s", head, pod,
                   log && log[0] ? "; last log lines: " : "", log ? log : "");
    f->err.code = P4_ERR_INVALID;
}

void p4_vstage_smoke_create_failure(int rc, const struct p4_error *e,
                                    const struct p4_vstage_smoke_test *t, const char *ns,
                                    const char *as, struct p4_vstage_failure *f)
{
    char name[300];

    shown(t, name, sizeof(name));
    *f = (struct p4_vstage_failure){.cls = P4_FAIL_TRANSIENT, .reason = "APIUnavailable"};
    f->err.code = rc;
    if (p4_apistatus_namespace_terminating(rc, e->message)) {
        f->reason = "NamespaceTerminating";
        p4_text_format(f->err.message, sizeof(f->err.message),
                       "cannot create the Job of smoke test %s: %s", name, e->message);
        return;
    }
    switch (rc) {
    case P4_ERR_INVALID:
    case P4_ERR_BADREQUEST:
        f->cls = P4_FAIL_ARTIFACT;
        f->reason = "SmokeTestInvalid";
        p4_text_format(f->err.message, sizeof(f->err.message),
                       "the API server refused the Job %s/%s of smoke test %s: %s; fix its "
                       "template",
                       ns, t->job, name, e->message);
        break;
    case P4_ERR_FORBIDDEN:
    case P4_ERR_UNAUTHORIZED:
        f->cls = P4_FAIL_CLUSTER;
        f->reason = "Forbidden";
        p4_text_format(f->err.message, sizeof(f->err.message),
                       "%s may not create the Job of smoke test %s in namespace %s (create jobs "
                       "in group batch): %s",
                       as && as[0] ? as : "phase4-operator", name, ns, e->message);
        break;
    case P4_ERR_NOTFOUND:
        f->cls = P4_FAIL_CLUSTER;
        f->reason = "NamespaceNotFound";
        p4_text_format(f->err.message, sizeof(f->err.message),
                       "cannot create the Job of smoke test %s: namespace %s is not there: %s",
                       name, ns, e->message);
        break;
    default:
        p4_text_format(f->err.message, sizeof(f->err.message),
                       "cannot create the Job of smoke test %s in namespace %s: %s", name, ns,
                       e->message);
    }
}

void p4_vstage_smoke_conflict(const struct p4_vstage_smoke_test *t, const char *ns,
                              int64_t generation, struct p4_vstage_failure *f)
{
    char name[300];

    shown(t, name, sizeof(name));
    *f = (struct p4_vstage_failure){.cls = P4_FAIL_CLUSTER, .reason = "SmokeTestConflict"};
    f->err.code = P4_ERR_EXISTS;
    p4_text_format(f->err.message, sizeof(f->err.message),
                   "a Job %s/%s exists that this Phase4Deployment did not make for smoke test %s "
                   "of generation %" PRId64
                   "; phase4-operator leaves it alone: delete or rename it",
                   ns, t->job, name, generation);
}

void p4_vstage_smoke_passed_message(const struct p4_vstage_smoke_test *tests, int n, int skipped,
                                    char *msg, size_t size)
{
    size_t used;

    p4_text_format(msg, size, "%d smoke test(s) passed", n);
    for (int i = 0; i < n; i++) {
        char name[300], secs[32] = "";
        shown(&tests[i], name, sizeof(name));
        if (tests[i].secs >= 0)
            (void)snprintf(secs, sizeof(secs), " (%" PRId64 "s)", tests[i].secs);
        used = strlen(msg);
        p4_text_format(msg + used, size - used, "%s%s%s", i ? ", " : ": ", name, secs);
    }
    if (skipped > 0) {
        used = strlen(msg);
        p4_text_format(msg + used, size - used,
                       "; %d of the chart's test hooks not run (only Pods and Jobs are)", skipped);
    }
}

void p4_vstage_smoke_selector(const char *resource, char *buf, size_t size)
{
    char value[P4_VSTAGE_NAME_MAX + 1];

    (void)snprintf(buf, size, MANAGED_BY "=" MANAGER "," L_NAME "=%s," L_PURPOSE "=" PURPOSE,
                   p4_vstage_label_value(resource, value));
}
