/*
 * stages/validation/smoke.c: S_SMOKE, the SmokeTests gate (see steps.h).
 *
 * Each test of spec.validation.smokeTests (and, with helmTests, each of the chart's helm.sh/hook
 * test Pods and Jobs, read from the rendered manifest) is a Job created once per generation,
 * under a name derived from the resource, the test and the generation: a retry, a new attempt
 * or an operator restart finds the Job it made (in the operator's Job informer, or by a 409 on
 * create and a read) and follows it rather than making another. A Job of that name that is not
 * this generation's of the resource is left alone and fails the gate (SmokeTestConflict).
 *
 * The Jobs run in the target namespace, created as whoever acts for the resource
 * (r->base.kube), marked as the resource's (labels, the phase4.io/owner annotation the Job
 * informer routes by, and in its own namespace an ownerReference), with a deadline of their own
 * (activeDeadlineSeconds from the test's timeout) and, as a backstop, the run's timer. Their
 * status comes from the informer: a Job that changes enqueues the resource, whose reconcile
 * polls this step. Serial runs them in order and stops at the first failure; Parallel starts
 * them all. A failure waits for the pod's exit code and the last lines of its log, read as the
 * operator (docs/security.md), then fails the gate; it is not retried: the generation's Job
 * has failed, and only a new generation runs the tests again.
 *
 * Once per run the older generations' smoke-test Jobs of the resource are deleted (at most
 * SWEEP_MAX, propagationPolicy Background): a generation's Jobs are its evidence until a newer
 * generation reaches this step. Jobs in another namespace than the resource's are not garbage
 * collected with it (no ownerReference can cross namespaces).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/core/alloc.h"
#include "phase4/core/json.h"
#include "phase4/core/log.h"
#include "phase4/core/text.h"
#include "phase4/core/timefmt.h"
#include "phase4/kube/apply.h"
#include "phase4/reconciler/manifest.h"
#include "steps.h"

#define GRACE_S 5                       /* the run's deadline trails the Job's own by this */
#define SWEEP_MAX 16                    /* older Jobs deleted per run */
#define MANIFEST_MAX ((size_t)32 << 20) /* the Kubernetes stage reads no larger manifest */

enum tstate { T_WAITING, T_CREATING, T_RUNNING, T_PASSED };

struct p4_vstage_smoke {
    struct p4_vstage_smoke_test tests[P4_VSTAGE_SMOKE_MAX];
    int n;
    int skipped; /* the chart's test hooks of other kinds */
    bool parallel;
    bool over; /* the gate is decided, or its failure is being read: later answers are late */
};

/* One request's data: the run and the test it is for. */
struct ask {
    struct run *r;
    int i;
};

static void owner_of(const struct run *r, struct p4_vstage_owner *o)
{
    *o = (struct p4_vstage_owner){.ns = r->base.ns,
                                  .name = r->base.name,
                                  .uid = r->base.uid,
                                  .target_ns = r->base.target_ns,
                                  .generation = r->base.generation};
}

static void jobs_path(const struct run *r, const char *job, char *buf, size_t size)
{
    char ens[256], ejob[256];

    if (p4_kube_escape(r->base.target_ns, ens, sizeof(ens)) != 0 ||
        p4_kube_escape(job ? job : "", ejob, sizeof(ejob)) != 0)
        ens[0] = ejob[0] = '\0';
    (void)snprintf(buf, size, "/apis/batch/v1/namespaces/%s/jobs%s%s", ens, job ? "/" : "", ejob);
}

static int ask_api(struct run *r, struct p4_kube *kube, const char *method, const char *path,
                   const char *body, int i, p4_kube_cb cb)
{
    struct ask *a = p4_calloc(1, sizeof(*a));

    a->r = r;
    a->i = i;
    r->base.inflight++;
    if (p4_kube_request(kube, method, path, NULL, body, body ? strlen(body) : 0, cb, a) != 0) {
        r->base.inflight--;
        free(a);
        return P4_ERR_INTERNAL;
    }
    return 0;
}

/* An answer's run and test, or NULL when the run was dropped or the gate is decided. */
static struct run *back(void *data, int *i)
{
    struct ask *a = data;
    struct run *r = (struct run *)p4_stagerun_back(a->r);

    *i = a->i;
    free(a);
    if (r == NULL || r->w == NULL || r->w->smoke == NULL || r->w->smoke->over)
        return NULL;
    return r;
}

static void fail_with(struct run *r, const struct p4_vstage_failure *f)
{
    r->w->smoke->over = true;
    if (f->cls == P4_FAIL_ARTIFACT) /* the generation's Job failed: a retry finds it so */
        r->base.attempt = r->base.attempts;
    p4_stagerun_fail(&r->base, f->cls, G_SMOKE, f->reason, &f->err);
}

static void fail_transient(struct run *r, const char *what)
{
    struct p4_vstage_failure f = {.cls = P4_FAIL_TRANSIENT, .reason = "APIUnavailable"};

    p4_error_set(&f.err, P4_ERR_TRANSPORT, "cannot ask the API server %s", what);
    fail_with(r, &f);
}

/* ---- a failed test: its pod, its log, then the gate ---- */

/* A failure waiting for its pod's story. */
struct blame {
    struct run *r;
    int i;
    bool timed_out;
    char why[400];
    struct p4_vstage_pod_exit pe;
};

static void blame_done(struct blame *b, struct run *r, const char *log)
{
    struct p4_vstage_failure f;

    p4_vstage_smoke_failure(&r->w->smoke->tests[b->i], r->base.target_ns, b->timed_out, b->why,
                            b->pe.pod[0] || b->pe.container[0] ? &b->pe : NULL, log, &f);
    free(b);
    fail_with(r, &f);
}

/* The gate is already decided (over) while its failure is read: only a dropped run stops it. */
static struct run *blame_back(struct blame *b)
{
    struct run *r = (struct run *)p4_stagerun_back(b->r);

    if (r == NULL || r->w == NULL || r->w->smoke == NULL) {
        free(b);
        return NULL;
    }
    return r;
}

static void on_log(struct p4_kube_result *res, void *data)
{
    struct blame *b = data;
    struct run *r = blame_back(b);
    char tail[220] = "";

    if (r == NULL)
        return;
    if (res->rc == 0 && cJSON_IsString(res->body))
        p4_log_tail(res->body->valuestring, tail, sizeof(tail));
    else
        p4_log(P4_LOG_DEBUG, "cannot read a smoke test's log", "key", r->base.key, "pod", b->pe.pod,
               "error", res->err.message, P4_LOG_END);
    blame_done(b, r, tail);
}

static void on_pods(struct p4_kube_result *res, void *data)
{
    struct blame *b = data;
    struct run *r = blame_back(b);
    char path[2400];

    if (r == NULL)
        return;
    if (res->rc == 0)
        p4_vstage_smoke_pod_exit(res->body, &b->pe);
    else
        p4_log(P4_LOG_DEBUG, "cannot list a smoke test's pods", "key", r->base.key, "error",
               res->err.message, P4_LOG_END);
    if (!p4_vstage_smoke_log_path(r->base.target_ns, &b->pe, path, sizeof(path))) {
        blame_done(b, r, NULL);
        return;
    }
    r->base.inflight++;
    if (p4_kube_get_accept(r->v->cfg.kube, path, "text/plain", on_log, b) != 0) {
        r->base.inflight--;
        blame_done(b, r, NULL);
    }
}

/* Test i failed (why: the Job's condition) or is late: read its pod, then fail the gate. */
static void blame(struct run *r, int i, bool timed_out, const char *why)
{
    struct blame *b = p4_calloc(1, sizeof(*b));
    char path[1200], sel[400], esel[600];

    r->w->smoke->over = true; /* nothing else decides the gate now */
    (void)uv_timer_stop(&r->base.timer);
    b->r = r;
    b->i = i;
    b->timed_out = timed_out;
    (void)snprintf(b->why, sizeof(b->why), "%s", why ? why : "");
    p4_core_path(path, sizeof(path), r->base.target_ns, "pods", "");
    (void)snprintf(sel, sizeof(sel), "batch.kubernetes.io/job-name=%s", r->w->smoke->tests[i].job);
    if (p4_kube_escape(sel, esel, sizeof(esel)) != 0)
        esel[0] = '\0';
    (void)snprintf(path + strlen(path), sizeof(path) - strlen(path), "?labelSelector=%s", esel);
    r->base.inflight++;
    if (p4_kube_request(r->v->cfg.kube, "GET", path, NULL, NULL, 0, on_pods, b) != 0) {
        r->base.inflight--;
        blame_done(b, r, NULL);
    }
}

/* ---- following the Jobs ---- */

static void advance(struct run *r);

static int64_t created_of(const cJSON *job)
{
    int64_t usec;

    if (p4_timefmt_parse(p4_json_str(job, "metadata.creationTimestamp"), &usec) != 0)
        return (int64_t)time(NULL);
    return usec / 1000000;
}

/* Test i's Job as it stands: passed, or the gate fails. Returns whether the gate was decided. */
static bool judge(struct run *r, int i, const cJSON *job)
{
    struct p4_vstage_smoke_test *t = &r->w->smoke->tests[i];
    char why[400];

    switch (p4_vstage_smoke_job_state(job, why, sizeof(why))) {
    case P4_VJOB_RUNNING:
        return false;
    case P4_VJOB_PASSED:
        t->state = T_PASSED;
        t->secs = p4_vstage_smoke_job_seconds(job);
        return false;
    case P4_VJOB_TIMEDOUT:
        blame(r, i, true, why);
        return true;
    case P4_VJOB_FAILED:
        break;
    }
    blame(r, i, false, why);
    return true;
}

/* Test i's Job is there and ours: follow it. */
static bool follow(struct run *r, int i, const cJSON *job)
{
    struct p4_vstage_smoke_test *t = &r->w->smoke->tests[i];

    t->state = T_RUNNING;
    t->created = created_of(job);
    return judge(r, i, job);
}

static void on_existing(struct p4_kube_result *res, void *data)
{
    int i;
    struct run *r = back(data, &i);
    struct p4_vstage_owner o;
    struct p4_vstage_failure f;

    if (r == NULL)
        return;
    owner_of(r, &o);
    if (res->rc != 0) { /* 404: deleted since the 409; the next attempt creates it */
        bool denied = res->rc == P4_ERR_FORBIDDEN || res->rc == P4_ERR_UNAUTHORIZED;
        f = (struct p4_vstage_failure){.cls = denied ? P4_FAIL_CLUSTER : P4_FAIL_TRANSIENT,
                                       .reason = denied ? "Forbidden" : "APIUnavailable"};
        f.err = res->err;
        p4_text_format(f.err.message, sizeof(f.err.message),
                       "%s%s read Job %s/%s of smoke test %s (get jobs in group batch): %s",
                       denied ? (r->base.as && r->base.as[0] ? r->base.as : "phase4-operator")
                              : "cannot",
                       denied ? " may not" : "", r->base.target_ns, r->w->smoke->tests[i].job,
                       r->w->smoke->tests[i].name, res->err.message);
        fail_with(r, &f);
        return;
    }
    if (!p4_vstage_smoke_ours(res->body, &o, true)) {
        p4_vstage_smoke_conflict(&r->w->smoke->tests[i], r->base.target_ns, r->base.generation, &f);
        fail_with(r, &f);
        return;
    }
    if (!follow(r, i, res->body))
        advance(r);
}

static void on_created(struct p4_kube_result *res, void *data)
{
    int i;
    struct run *r = back(data, &i);
    struct p4_vstage_failure f;
    char path[1024];

    if (r == NULL)
        return;
    if (res->rc == P4_ERR_EXISTS) { /* made before a restart, or someone else's: read it */
        jobs_path(r, r->w->smoke->tests[i].job, path, sizeof(path));
        if (ask_api(r, r->base.kube, "GET", path, NULL, i, on_existing) != 0)
            fail_transient(r, "for a smoke test's Job");
        return;
    }
    if (res->rc != 0) {
        p4_vstage_smoke_create_failure(res->rc, &res->err, &r->w->smoke->tests[i],
                                       r->base.target_ns, r->base.as, &f);
        fail_with(r, &f);
        return;
    }
    p4_log(P4_LOG_INFO, "smoke test Job created", "key", r->base.key, "job",
           r->w->smoke->tests[i].job, "namespace", r->base.target_ns, P4_LOG_END);
    if (!follow(r, i, res->body))
        advance(r);
}

/* Start test i: follow its Job when the informer has it, else create it. Whether the gate was
   decided. */
static bool start_test(struct run *r, int i)
{
    struct p4_vstage_smoke_test *t = &r->w->smoke->tests[i];
    struct p4_vstage_owner o;
    struct p4_vstage_failure f;
    char key[400], path[1024];
    const cJSON *job;
    cJSON *body;
    char *text;
    int rc;

    owner_of(r, &o);
    (void)snprintf(key, sizeof(key), "%s/%s", r->base.target_ns, t->job);
    job = r->v->cfg.jobs ? p4_informer_get(r->v->cfg.jobs, key) : NULL;
    if (job != NULL) {
        if (p4_vstage_smoke_ours(job, &o, true)) {
            t->seen = true;
            return follow(r, i, job);
        }
        p4_vstage_smoke_conflict(t, r->base.target_ns, r->base.generation, &f);
        fail_with(r, &f);
        return true;
    }
    body = p4_vstage_smoke_job(&o, t);
    text = p4_json_print(body);
    cJSON_Delete(body);
    jobs_path(r, NULL, path, sizeof(path));
    (void)snprintf(path + strlen(path), sizeof(path) - strlen(path),
                   "?fieldManager=" P4_FIELD_MANAGER);
    t->state = T_CREATING;
    rc = text ? ask_api(r, r->base.kube, "POST", path, text, i, on_created) : P4_ERR_INTERNAL;
    free(text);
    if (rc != 0) {
        fail_transient(r, "to create a smoke test's Job");
        return true;
    }
    return false;
}

static void on_deadline(uv_timer_t *t)
{
    struct run *r = t->data;

    if (r->w == NULL || r->w->smoke == NULL || r->w->smoke->over || r->base.step != S_SMOKE)
        return;
    advance(r);
}

/* Arm the run's timer for the first deadline of the Jobs that run; fail one that is past. */
static bool deadlines(struct run *r)
{
    struct p4_vstage_smoke *st = r->w->smoke;
    int64_t now = (int64_t)time(NULL), first = INT64_MAX;

    for (int i = 0; i < st->n; i++) {
        struct p4_vstage_smoke_test *t = &st->tests[i];
        int64_t due;
        if (t->state != T_RUNNING)
            continue;
        due = t->created + (int64_t)((t->timeout_ms + 999) / 1000) + GRACE_S;
        if (due <= now) { /* the Job has not said so itself (a longer deadline of its own) */
            blame(r, i, true, NULL);
            return true;
        }
        if (due < first)
            first = due;
    }
    if (first != INT64_MAX)
        p4_stagerun_arm(&r->base, (uint64_t)(first - now) * 1000, on_deadline);
    return false;
}

static void passed(struct run *r)
{
    struct p4_vstage_smoke *st = r->w->smoke;
    char msg[P4_ERROR_MESSAGE_MAX];

    st->over = true;
    r->smoke_passed = true;
    p4_vstage_smoke_passed_message(st->tests, st->n, st->skipped, msg, sizeof(msg));
    p4_stagerun_gate(&r->base, G_SMOKE, "True", "SmokeTestsPassed", "%s", msg);
    p4_stagerun_next(&r->base, S_LOGS);
}

/* Judge the running Jobs from the informer, start what may start, pass when all passed. */
static void advance(struct run *r)
{
    struct p4_vstage_smoke *st = r->w->smoke;
    const cJSON *job;
    struct p4_vstage_owner o;
    char key[400];
    bool again = true;

    owner_of(r, &o);
    while (again && !st->over) {
        bool all = true, busy = false;
        again = false;
        for (int i = 0; i < st->n; i++) {
            struct p4_vstage_smoke_test *t = &st->tests[i];
            if (t->state != T_RUNNING)
                continue;
            (void)snprintf(key, sizeof(key), "%s/%s", r->base.target_ns, t->job);
            job = r->v->cfg.jobs ? p4_informer_get(r->v->cfg.jobs, key) : NULL;
            if (job == NULL && t->seen) { /* deleted: its result is lost, never made again */
                blame(r, i, false, "deleted before it finished");
                return;
            }
            if (job == NULL || !p4_vstage_smoke_ours(job, &o, true))
                continue;
            t->seen = true;
            if (judge(r, i, job))
                return;
        }
        for (int i = 0; i < st->n; i++) {
            struct p4_vstage_smoke_test *t = &st->tests[i];
            if (t->state == T_PASSED)
                continue;
            all = false;
            if (t->state == T_WAITING && (st->parallel || !busy)) {
                if (start_test(r, i))
                    return;
                again = again || st->tests[i].state != T_CREATING;
            }
            busy = true; /* Serial: one test at a time */
        }
        if (all) {
            passed(r);
            return;
        }
    }
    if (!st->over)
        (void)deadlines(r);
}

/* ---- older generations' Jobs ---- */

struct sweep {
    struct run *r;
    char job[P4_VSTAGE_NAME_MAX + 1];
};

static void on_swept(struct p4_kube_result *res, void *data)
{
    struct sweep *s = data;
    struct run *r = (struct run *)p4_stagerun_back(s->r);

    if (r != NULL && res->rc != 0 && res->rc != P4_ERR_NOTFOUND)
        p4_log(P4_LOG_INFO, "cannot delete an older generation's smoke test Job", "key",
               r->base.key, "job", s->job, "error", res->err.message, P4_LOG_END);
    free(s);
}

static void on_sweep_list(struct p4_kube_result *res, void *data)
{
    struct sweep *s = data;
    struct run *r = (struct run *)p4_stagerun_back(s->r);
    struct p4_vstage_owner o;
    const cJSON *job;
    int deleted = 0;

    free(s);
    if (r == NULL)
        return;
    if (res->rc != 0) {
        p4_log(P4_LOG_INFO, "cannot list older smoke test Jobs", "key", r->base.key, "error",
               res->err.message, P4_LOG_END);
        return;
    }
    owner_of(r, &o);
    cJSON_ArrayForEach(job, p4_json_get(res->body, "items")) {
        const char *name = p4_json_str(job, "metadata.name"),
                   *uid = p4_json_str(job, "metadata.uid");
        char path[1024], body[300];
        struct sweep *d;
        if (deleted >= SWEEP_MAX)
            break;
        if (name == NULL || uid == NULL || strlen(name) > P4_VSTAGE_NAME_MAX || strlen(uid) > 64 ||
            !p4_vstage_smoke_stale(job, &o))
            continue;
        jobs_path(r, name, path, sizeof(path));
        (void)snprintf(body, sizeof(body),
                       "{\"apiVersion\":\"v1\",\"kind\":\"DeleteOptions\",\"propagationPolicy\":"
                       "\"Background\",\"preconditions\":{\"uid\":\"%s\"}}",
                       uid);
        d = p4_calloc(1, sizeof(*d));
        d->r = r;
        (void)snprintf(d->job, sizeof(d->job), "%s", name);
        r->base.inflight++;
        if (p4_kube_request(r->base.kube, "DELETE", path, NULL, body, strlen(body), on_swept, d) !=
            0) {
            r->base.inflight--;
            free(d);
            break;
        }
        deleted++;
    }
}

/* Once per run: find the older generations' smoke-test Jobs (as the operator: the cluster's
   state) and delete them (as the resource's identity). Best effort: the gate never waits. */
static void sweep(struct run *r)
{
    char path[1400], sel[300], esel[500];
    struct sweep *s;

    if (r->smoke_swept || r->base.generation <= 1)
        return;
    r->smoke_swept = true;
    p4_vstage_smoke_selector(r->base.name, sel, sizeof(sel));
    if (p4_kube_escape(sel, esel, sizeof(esel)) != 0)
        return;
    jobs_path(r, NULL, path, sizeof(path));
    (void)snprintf(path + strlen(path), sizeof(path) - strlen(path), "?labelSelector=%s&limit=100",
                   esel);
    s = p4_calloc(1, sizeof(*s));
    s->r = r;
    r->base.inflight++;
    if (p4_kube_request(r->v->cfg.kube, "GET", path, NULL, NULL, 0, on_sweep_list, s) != 0) {
        r->base.inflight--;
        free(s);
    }
}

/* ---- the chart's test hooks ---- */

/* Tests are known: run them, or say there is nothing to run. */
static void go(struct run *r)
{
    struct p4_vstage_smoke *st = r->w->smoke;

    if (st->n == 0) {
        p4_stagerun_gate(&r->base, G_SMOKE, "True", P4_VSTAGE_NOT_REQUIRED,
                         "spec.validation.smokeTests is empty and the chart has no "
                         "helm.sh/hook test Pod or Job%s",
                         st->skipped ? " (its other test hooks do not run)" : "");
        st->over = true;
        p4_stagerun_next(&r->base, S_LOGS);
        return;
    }
    p4_stagerun_gate(&r->base, G_SMOKE, "Unknown", "Running", "running %d smoke test(s)%s", st->n,
                     st->n > 1 ? (st->parallel ? " in parallel" : " one after another") : "");
    p4_stagerun_notify(&r->base);
    advance(r);
}

static void on_manifest(struct p4_kube_result *res, void *data)
{
    int i;
    struct run *r = back(data, &i);
    struct p4_vstage_smoke *st;
    struct p4_vstage_failure f = {.cls = P4_FAIL_CLUSTER};
    struct p4_error err = {0};
    char *text;
    size_t len = 0;
    cJSON *objects;

    if (r == NULL)
        return;
    st = r->w->smoke;
    if (res->rc != 0) {
        f.cls = res->rc == P4_ERR_NOTFOUND ? P4_FAIL_CLUSTER : p4_kube_read_class(res->rc);
        f.reason = res->rc == P4_ERR_NOTFOUND ? "ManifestNotFound" : "APIUnavailable";
        f.err = res->err;
        p4_text_format(f.err.message, sizeof(f.err.message),
                       "cannot read the rendered manifest, Secret %s/%s, for the chart's tests: %s",
                       r->base.ns, r->manifest, res->err.message);
        fail_with(r, &f);
        return;
    }
    text = p4_manifest_secret_text(res->body, MANIFEST_MAX, &len, &err);
    objects = text ? p4_manifest_split(text, len, &err) : NULL;
    free(text);
    if (objects == NULL) {
        f.reason = "ManifestUnreadable";
        p4_error_set(&f.err, P4_ERR_INVALID,
                     "Secret %s/%s does not hold a rendered manifest the chart's tests can be "
                     "read from: %s",
                     r->base.ns, r->manifest, err.message);
        fail_with(r, &f);
        return;
    }
    st->n =
        p4_vstage_smoke_helm_tests(objects, st->tests, st->n, P4_VSTAGE_SMOKE_MAX, &st->skipped);
    cJSON_Delete(objects);
    for (int t = 0; t < st->n; t++)
        if (st->tests[t].helm)
            p4_vstage_smoke_job_name(r->base.name, true, st->tests[t].name, r->base.generation,
                                     st->tests[t].job);
    go(r);
}

void p4_vstage_smoke(struct run *r)
{
    struct p4_vstage_smoke *st;
    struct p4_vstage_failure f = {.cls = P4_FAIL_ARTIFACT, .reason = "SmokeTestInvalid"};
    bool helm = false;
    char path[1024];

    sweep(r);
    if (r->smoke_passed) { /* an earlier attempt of this generation: the Jobs are done */
        p4_stagerun_next(&r->base, S_LOGS);
        return;
    }
    st = p4_calloc(1, sizeof(*st));
    r->w->smoke = st;
    st->parallel = p4_text_eq(p4_json_str(r->spec, "smokeTestOrder"), "Parallel");
    (void)p4_json_bool(r->spec, "helmTests", &helm);
    st->n = p4_vstage_smoke_read(r->spec, st->tests, P4_VSTAGE_SMOKE_MAX / 2, &f.err);
    if (st->n < 0) {
        st->n = 0;
        fail_with(r, &f);
        return;
    }
    for (int i = 0; i < st->n; i++)
        p4_vstage_smoke_job_name(r->base.name, false, st->tests[i].name, r->base.generation,
                                 st->tests[i].job);
    if (!helm && st->n == 0) {
        p4_stagerun_gate(&r->base, G_SMOKE, "True", P4_VSTAGE_NOT_REQUIRED,
                         "nothing declared in spec.validation.smokeTests (and helmTests)");
        st->over = true;
        p4_stagerun_next(&r->base, S_LOGS);
        return;
    }
    if (!helm) {
        go(r);
        return;
    }
    if (r->manifest == NULL) {
        f = (struct p4_vstage_failure){.cls = P4_FAIL_CLUSTER, .reason = "ManifestNotFound"};
        p4_error_set(&f.err, P4_ERR_NOTFOUND,
                     "status.chart.manifest names no rendered manifest to read the chart's tests "
                     "from (spec.validation.helmTests)");
        fail_with(r, &f);
        return;
    }
    /* The rendered manifest is the operator's own record (docs/security.md). */
    p4_stagerun_gate(&r->base, G_SMOKE, "Unknown", "Reading", "reading the chart's test hooks");
    p4_core_path(path, sizeof(path), r->base.ns, "secrets", r->manifest);
    if (ask_api(r, r->v->cfg.kube, "GET", path, NULL, 0, on_manifest) != 0)
        fail_transient(r, "for the rendered manifest");
}

void p4_vstage_smoke_end(struct run *r)
{
    if (r->w->smoke == NULL)
        return;
    p4_vstage_smoke_tests_free(r->w->smoke->tests, r->w->smoke->n);
    free(r->w->smoke);
    r->w->smoke = NULL;
}

void p4_vstage_smoke_poll(struct run *r, const cJSON *obj)
{
    (void)obj;
    if (r->w == NULL || r->w->smoke == NULL || r->w->smoke->over)
        return;
    advance(r);
}
