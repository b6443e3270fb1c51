/* stagerun.c: what the stages' per-resource work has in common (see stagerun.h). */
#include "phase4/reconciler/stagerun.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/core/alloc.h"
#include "phase4/core/base64.h"
#include "phase4/core/buf.h"
#include "phase4/core/json.h"
#include "phase4/core/log.h"
#include "phase4/core/redact.h"
#include "phase4/core/text.h"
#include "phase4/core/timefmt.h"
#include "phase4/core/url.h"
#include "phase4/kube/client.h"
#include "policy.h"

/* ---- the line of slots ---- */

static void on_begin(uv_timer_t *t);

bool p4_stagerun_line_before(const struct p4_stagerun *a, const struct p4_stagerun *b)
{
    if (a->recheck != b->recheck)
        return !a->recheck;
    return a->arrival < b->arrival;
}

/* May a re-check take a free slot? Never the last one, so new work always finds one. */
static bool recheck_may_begin(const struct p4_stagerunner *s)
{
    return s->max_active <= 1 || s->rechecks_active < s->max_active - 1;
}

/* Put r in line at its place: after every run that goes before it (ties: first come). */
static void line_insert(struct p4_stagerunner *s, struct p4_stagerun *r)
{
    struct p4_stagerun *at = s->qtail;

    while (at != NULL && p4_stagerun_line_before(r, at))
        at = at->qprev;
    r->qprev = at;
    r->qnext = at ? at->qnext : s->qhead;
    if (r->qnext)
        r->qnext->qprev = r;
    else
        s->qtail = r;
    if (at)
        at->qnext = r;
    else
        s->qhead = r;
    r->queued = true;
}

/* r takes a slot. */
static void take_slot(struct p4_stagerunner *s, struct p4_stagerun *r)
{
    r->active = true;
    s->active++;
    if (r->recheck)
        s->rechecks_active++;
}

/* Give the next waiting run the slot one just freed (on its own loop turn). */
static void wake_next(struct p4_stagerunner *s)
{
    struct p4_stagerun *n = s->qhead;

    if (s->closing || n == NULL || s->active >= s->max_active ||
        (n->recheck && !recheck_may_begin(s))) /* the rest of the line are re-checks too */
        return;
    s->qhead = n->qnext;
    if (s->qhead)
        s->qhead->qprev = NULL;
    else
        s->qtail = NULL;
    n->qprev = n->qnext = NULL;
    n->queued = false;
    take_slot(s, n);
    n->armed = on_begin;
    (void)uv_timer_start(&n->timer, on_begin, 0, 0);
}

/* Take r out of the line, or give up its slot. */
static void leave(struct p4_stagerunner *s, struct p4_stagerun *r)
{
    if (r->queued) {
        if (r->qprev)
            r->qprev->qnext = r->qnext;
        else
            s->qhead = r->qnext;
        if (r->qnext)
            r->qnext->qprev = r->qprev;
        else
            s->qtail = r->qprev;
        r->qprev = r->qnext = NULL;
        r->queued = false;
    }
    if (r->active) {
        r->active = false;
        s->active--;
        if (r->recheck)
            s->rechecks_active--;
        wake_next(s);
    }
}

/* ---- lifetime ---- */

static void end_work(struct p4_stagerun *r)
{
    free(r->stepfail);
    r->stepfail = NULL;
    if (r->working) {
        r->ops->end_work(r);
        r->working = false;
    }
    p4_redact_free(r->redact); /* wipes the attempt's Secret values */
    r->redact = NULL;
}

struct p4_redact *p4_stagerun_secrets(struct p4_stagerun *r)
{
    if (r->redact == NULL)
        r->redact = p4_redact_new();
    return r->redact;
}

void p4_stagerun_redact(const struct p4_stagerun *r, char *msg, size_t size)
{
    char tmp[P4_ERROR_MESSAGE_MAX];
    size_t n;

    if (msg == NULL || size == 0)
        return;
    p4_redact_str(r->redact, msg);
    n = strlen(msg);
    if (n >= sizeof(tmp) || memchr(msg, '@', n) == NULL)
        return; /* no user information without an '@'; longer messages are not kept here */
    (void)p4_url_scrub(msg, n, tmp, sizeof(tmp) < size ? sizeof(tmp) : size);
    (void)snprintf(msg, size, "%s", tmp);
}

static void on_timer_closed(uv_handle_t *h)
{
    struct p4_stagerun *r = h->data;

    end_work(r);
    for (int g = 0; g < P4_GATES_MAX; g++)
        free(r->gates[g].message);
    free(r->key);
    free(r->ns);
    free(r->name);
    free(r->target_ns);
    free(r->uid);
    free(r->as);
    if (r->own_kube)
        p4_kube_close(r->kube);
    r->ops->destroy(r);
}

static void maybe_free(struct p4_stagerun *r)
{
    if (r->gone && r->inflight == 0 && !uv_is_closing((uv_handle_t *)&r->timer))
        uv_close((uv_handle_t *)&r->timer, on_timer_closed);
}

/* Drop a run: its requests end on their own; their answers are then ignored. */
static void drop(struct p4_stagerun *r)
{
    if (r->sr)
        leave(r->sr, r);
    r->gone = true;
    r->sr = NULL;
    (void)uv_timer_stop(&r->timer);
    if (r->ops->cancel)
        r->ops->cancel(r);
    maybe_free(r);
}

struct p4_stagerun *p4_stagerun_back(void *data)
{
    struct p4_stagerun *r = data;

    r->inflight--;
    if (r->gone) {
        maybe_free(r);
        return NULL;
    }
    return r;
}

void p4_stagerun_out(struct p4_stagerun *r)
{
    r->inflight++;
    r->pending++;
}

void p4_stagerun_unout(struct p4_stagerun *r)
{
    r->inflight--;
    r->pending--;
}

int p4_stagerun_request(struct p4_stagerun *r, struct p4_kube *kube, const char *method,
                        const char *path, p4_kube_cb cb)
{
    p4_stagerun_out(r);
    if (p4_kube_request(kube, method, path, NULL, NULL, 0, cb, r) != 0) {
        p4_stagerun_unout(r);
        return P4_ERR_INTERNAL;
    }
    return 0;
}

void p4_stagerun_notify(struct p4_stagerun *r)
{
    if (r->sr && r->sr->changed)
        r->sr->changed(r->key, r->sr->data);
}

/* ---- steps ---- */

/* ---- suspension: a run stopped at a safe point (spec.suspend) ---- */

/* No attempt works any more: the run is stopped (it gives up its place in line or its slot). */
static void park(struct p4_stagerun *r)
{
    if (r->sr)
        leave(r->sr, r);
    if (!r->parked) {
        r->parked = true;
        p4_stagerun_notify(r); /* the reconciler says Suspended now */
    }
}

/* Stop here: what the timer was about to call (or the place in line) is kept for later. */
static void stop_here(struct p4_stagerun *r)
{
    if (uv_is_active((uv_handle_t *)&r->timer)) {
        r->parked_cb = r->armed;
        (void)uv_timer_stop(&r->timer);
    } else if (r->queued) {
        r->parked_cb = on_begin;
    }
    park(r);
}

/* On a timer of a suspended run: keep fn for when it goes on, and stop. */
static bool hold(struct p4_stagerun *r, uv_timer_cb fn)
{
    if (!r->suspended)
        return false;
    r->parked_cb = fn;
    park(r);
    return true;
}

void p4_stagerun_arm(struct p4_stagerun *r, uint64_t ms, uv_timer_cb fn)
{
    if (r->suspended && !r->working) { /* stopped: it runs when the run goes on */
        (void)uv_timer_stop(&r->timer);
        (void)hold(r, fn);
        return;
    }
    r->armed = fn;
    (void)uv_timer_start(&r->timer, fn, ms, 0);
}

static void on_step(uv_timer_t *t)
{
    struct p4_stagerun *r = t->data;

    r->ops->step(r);
}

/* The step before ended while the resource was suspended: the attempt stops here (its steps
   begin again from the first when the run goes on), unless it went on meanwhile. */
static void on_step_or_stop(uv_timer_t *t)
{
    struct p4_stagerun *r = t->data;

    if (!r->suspended) {
        r->ops->step(r);
        return;
    }
    p4_stagerun_end_attempt(r);
    (void)hold(r, on_begin);
}

/*
 * Begin an attempt: wait for answers of the last one, then for a slot. A
 * retry stays a retry however long it waits (r->retrying until it begins).
 */
static void begin(struct p4_stagerun *r, bool retry)
{
    struct p4_stagerunner *s = r->sr;

    if (retry)
        r->retrying = true;

    if (r->inflight > 0) {
        /* An answer of the last attempt is still due (it may borrow the work): wait. */
        p4_stagerun_arm(r, 100, on_begin);
        return;
    }
    if (!r->active) {
        if (s->active >= s->max_active || (r->recheck && !recheck_may_begin(s))) {
            line_insert(s, r); /* wake_next begins it when a slot frees */
            return;
        }
        take_slot(s, r);
    }
    end_work(r);
    r->pending = 0; /* transient_n stays: a transient restart keeps backing off */
    r->working = true;
    retry = r->retrying;
    r->retrying = false;
    r->ops->begin(r, retry);
}

static void on_begin(uv_timer_t *t)
{
    struct p4_stagerun *r = t->data;

    if (hold(r, on_begin))
        return;
    begin(r, false);
}

static void on_retry(uv_timer_t *t)
{
    struct p4_stagerun *r = t->data;
    bool retry = r->cls == P4_FAIL_ARTIFACT;

    if (hold(r, on_retry))
        return;
    if (retry)
        r->attempt++;
    begin(r, retry);
}

/* A retry on demand: the attempt count was set back to 1. */
static void on_rerun(uv_timer_t *t)
{
    struct p4_stagerun *r = t->data;

    if (hold(r, on_rerun))
        return;
    begin(r, true);
}

void p4_stagerun_restart_in(struct p4_stagerun *r, uint64_t ms)
{
    p4_stagerun_arm(r, ms, on_begin);
}

void p4_stagerun_next(struct p4_stagerun *r, int step)
{
    bool restarts = r->sr != NULL && r->sr->transient_restarts;

    r->step = step;
    /* A step that moved on ends a transient wait, unless waits begin anew: then the attempt's
       first steps pass again on every restart, and only a pass or a failure ends the wait
       (the problem waited out stays in the result meanwhile, so the condition does not flap
       between it and Checking on every retry). */
    if (!restarts || r->transient_n == 0) {
        r->transient_n = 0;
        if (r->state == P4_STAGE_RUNNING) {
            r->cls = P4_FAIL_NONE;
            r->err = (struct p4_error){0};
        }
    }
    /* Suspended: the step just ended is a safe point (an apply or a hook is done). */
    p4_stagerun_arm(r, 0, r->suspended ? on_step_or_stop : on_step);
}

static void gate_v(struct p4_stagerun *r, int g, const char *status, const char *reason,
                   const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));

static void gate_v(struct p4_stagerun *r, int g, const char *status, const char *reason,
                   const char *fmt, va_list ap)
{
    char msg[P4_ERROR_MESSAGE_MAX];

    if (g < 0 || g >= P4_GATES_MAX)
        return;
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    p4_stagerun_redact(r, msg, sizeof(msg));
    /* A gate that fails is news in the operator's log too, once per transition. */
    if (strcmp(status, "False") == 0 &&
        !(r->gates[g].status && strcmp(r->gates[g].status, "False") == 0 &&
          p4_text_eq(r->gates[g].reason, reason)))
        p4_log(P4_LOG_WARN, "gate failed", "key", r->key, "stage",
               r->sr && r->sr->stage ? r->sr->stage : "", "gate",
               r->sr && g < r->sr->ngates ? r->sr->gate_names[g] : "", "reason",
               reason ? reason : "", "message", msg, P4_LOG_END);
    r->gates[g].status = status;
    r->gates[g].reason = reason;
    free(r->gates[g].message);
    r->gates[g].message = p4_strdup(msg);
}

void p4_stagerun_gate(struct p4_stagerun *r, int g, const char *status, const char *reason,
                      const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    gate_v(r, g, status, reason, fmt, ap);
    va_end(ap);
}

void p4_stagerun_end_attempt(struct p4_stagerun *r)
{
    if (r->inflight == 0)
        end_work(r);
    if (r->sr)
        leave(r->sr, r);
    if (r->suspended && !r->working) /* a safe point: what comes next waits for the resume */
        stop_here(r);
}

void p4_stagerun_fail(struct p4_stagerun *r, enum p4_failure_class cls, int g, const char *reason,
                      const struct p4_error *err)
{
    const struct p4_stagerunner *s = r->sr;

    if (cls == P4_FAIL_TRANSIENT) {
        uint64_t delay = p4_backoff_ms(1000, r->transient_n++, s->transient_max_ms);
        p4_stagerun_gate(r, g, "Unknown", reason, "%s", err->message);
        r->err = *err;
        r->err.reason = reason;
        p4_stagerun_redact(r, r->err.message, sizeof(r->err.message));
        if (r->state != P4_STAGE_FAILED)
            r->cls = P4_FAIL_TRANSIENT;
        if (r->retry_after_ms > delay)
            delay = r->retry_after_ms;
        r->retry_after_ms = 0;
        if (s->transient_restarts || r->suspended) { /* wait without a slot, then begin again */
            p4_stagerun_end_attempt(r);
            p4_stagerun_arm(r, delay, on_begin);
        } else {
            p4_stagerun_arm(r, delay, on_step);
        }
        p4_stagerun_notify(r);
        return;
    }
    p4_stagerun_gate(r, g, "False", reason, "%s", err->message);
    r->state = P4_STAGE_FAILED;
    r->failed_attempt = r->attempt;
    r->retried = false;
    r->cls = cls;
    r->err = *err;
    r->err.reason = reason;
    p4_stagerun_redact(r, r->err.message, sizeof(r->err.message));
    r->transient_n = 0;
    if (cls == P4_FAIL_ARTIFACT && r->attempt < r->attempts) {
        r->stalled = false;
        p4_stagerun_arm(r, p4_backoff_ms(s->retry_ms, r->attempt - 1, UINT64_MAX / 4), on_retry);
    } else {
        r->stalled = true;
        if (cls != P4_FAIL_ARTIFACT && !r->no_recheck) /* a fixed Secret or quota heals it */
            p4_stagerun_arm(r, p4_policy_recheck_ms(r->rechecks++, s->recheck_ms), on_retry);
    }
    p4_stagerun_end_attempt(r);
    p4_stagerun_notify(r);
}

void p4_stagerun_failf(struct p4_stagerun *r, enum p4_failure_class cls, int g, const char *reason,
                       const char *fmt, ...)
{
    struct p4_error err = {.code = P4_ERR_INVALID};
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(err.message, sizeof(err.message), fmt, ap);
    va_end(ap);
    p4_stagerun_fail(r, cls, g, reason, &err);
}

void p4_stagerun_part_failed(struct p4_stagerun *r, enum p4_failure_class cls, int g,
                             const char *reason, const struct p4_error *err)
{
    if (r->stepfail != NULL)
        return;
    r->stepfail = p4_calloc(1, sizeof(*r->stepfail));
    r->stepfail->err = *err;
    if (r->stepfail->err.code == 0)
        r->stepfail->err.code = P4_ERR_INVALID;
    r->stepfail->err.reason = reason;
    r->stepfail->cls = cls;
    r->stepfail->gate = g;
}

void p4_stagerun_part_done(struct p4_stagerun *r, int then)
{
    if (--r->pending > 0)
        return;
    if (r->stepfail != NULL) {
        struct p4_stepfail f = *r->stepfail;
        free(r->stepfail);
        r->stepfail = NULL;
        p4_stagerun_fail(r, f.cls, f.gate, f.err.reason, &f.err);
        return;
    }
    p4_stagerun_next(r, then);
}

void p4_stagerun_passed(struct p4_stagerun *r, const char *reason, const char *fmt, ...)
{
    va_list ap;

    r->err = (struct p4_error){.reason = reason};
    if (fmt) {
        va_start(ap, fmt);
        (void)vsnprintf(r->err.message, sizeof(r->err.message), fmt, ap);
        va_end(ap);
        p4_stagerun_redact(r, r->err.message, sizeof(r->err.message)); /* before the work ends */
    }
    p4_stagerun_end_attempt(r);
    r->transient_n = 0;
    r->rechecks = 0;
    r->retried = false;
    r->state = P4_STAGE_PASSED;
    r->cls = P4_FAIL_NONE;
    r->stalled = false;
    p4_stagerun_notify(r);
}

/* ---- the runner ---- */

void p4_stagerunner_init(struct p4_stagerunner *s)
{
    if (s->retry_ms == 0)
        s->retry_ms = 30000;
    if (s->recheck_ms == 0)
        s->recheck_ms = 300000;
    if (s->transient_max_ms == 0)
        s->transient_max_ms = 60000;
    if (s->max_active <= 0)
        s->max_active = 64;
    if (s->ngates > P4_GATES_MAX)
        s->ngates = P4_GATES_MAX;
    p4_strmap_init(&s->runs);
}

void p4_stagerunner_close(struct p4_stagerunner *s)
{
    size_t pos = 0;
    const struct p4_strmap_entry *e;

    s->closing = true;
    while ((e = p4_strmap_next(&s->runs, &pos)) != NULL)
        drop(e->value);
    p4_strmap_close(&s->runs);
}

void p4_stagerunner_forget_op(void *stage, const char *key)
{
    p4_stagerunner_forget(stage, key); /* the stage's struct begins with its runner */
}

struct p4_stagerun *p4_stagerunner_get(const struct p4_stagerunner *s, const char *key)
{
    return p4_strmap_get(&s->runs, key);
}

void p4_stagerunner_forget(struct p4_stagerunner *s, const char *key)
{
    struct p4_stagerun *r = p4_strmap_del(&s->runs, key);

    if (r)
        drop(r);
}

void p4_stagerunner_stats(const struct p4_stagerunner *s, struct p4_stage_stats *out)
{
    size_t pos = 0;
    const struct p4_strmap_entry *e;

    memset(out, 0, sizeof(*out));
    if (s == NULL)
        return;
    out->running = s->active;
    for (const struct p4_stagerun *q = s->qhead; q; q = q->qnext)
        out->waiting++;
    while ((e = p4_strmap_next(&s->runs, &pos)) != NULL) {
        const struct p4_stagerun *r = e->value;
        out->resources++;
        if (r->state == P4_STAGE_PASSED)
            out->passed++;
        else if (r->state == P4_STAGE_FAILED && r->stalled)
            out->stalled++;
        else if (r->state == P4_STAGE_FAILED)
            out->failed++;
        else
            out->checking++;
    }
}

void p4_stagerunner_metrics(const struct p4_stagerunner *s, struct p4_buf *out)
{
    const char *work = s->work ? s->work : "checks";
    struct p4_stage_stats st;
    char id[32];
    size_t i;

    for (i = 0; i < sizeof(id) - 1 && s->stage[i]; i++)
        id[i] = (char)tolower((unsigned char)s->stage[i]);
    id[i] = '\0';
    p4_stagerunner_stats(s, &st);
    p4_buf_printf(out,
                  "# HELP phase4_%s_stage_resources Resources the %s stage holds a result for.\n"
                  "# TYPE phase4_%s_stage_resources gauge\n"
                  "phase4_%s_stage_resources %zu\n",
                  id, s->stage, id, id, st.resources);
    p4_buf_printf(out,
                  "# HELP phase4_%s_stage_%s %s stage %s running now, and waiting for a slot.\n"
                  "# TYPE phase4_%s_stage_%s gauge\n"
                  "phase4_%s_stage_%s{state=\"running\"} %d\n"
                  "phase4_%s_stage_%s{state=\"waiting\"} %d\n",
                  id, work, s->stage, work, id, work, id, work, st.running, id, work, st.waiting);
    p4_buf_printf(out,
                  "# HELP phase4_%s_stage_results Resources by the %s stage's result.\n"
                  "# TYPE phase4_%s_stage_results gauge\n"
                  "phase4_%s_stage_results{result=\"checking\"} %zu\n"
                  "phase4_%s_stage_results{result=\"passed\"} %zu\n"
                  "phase4_%s_stage_results{result=\"failed\"} %zu\n"
                  "phase4_%s_stage_results{result=\"stalled\"} %zu\n",
                  id, s->stage, id, id, st.checking, id, st.passed, id, st.failed, id, st.stalled);
}

void p4_stagerunner_metrics_op(void *stage, struct p4_buf *out)
{
    p4_stagerunner_metrics(stage, out); /* the stage's struct begins with its runner */
}

void p4_stagerun_add(struct p4_stagerunner *s, struct p4_stagerun *r, const char *key,
                     int64_t generation, int64_t retries)
{
    struct p4_stagerun *old = p4_strmap_del(&s->runs, key);

    if (old)
        drop(old);
    r->sr = s;
    r->ops = s->ops;
    r->key = p4_strdup(key);
    r->generation = generation;
    r->state = P4_STAGE_RUNNING;
    r->attempt = 1;
    r->attempts = (int)(retries >= 0 && retries <= 10 ? retries : 2) + 1;
    for (int g = 0; g < s->ngates; g++)
        p4_stagerun_gate(r, g, "Unknown", "Checking", "not checked yet");
    (void)uv_timer_init(s->loop, &r->timer);
    r->timer.data = r;
    (void)p4_strmap_put(&s->runs, key, r);
    p4_stagerun_restart_in(r, 0); /* never inside the reconcile */
}

void p4_stagerun_add_for(struct p4_stagerunner *s, struct p4_stagerun *r, const char *key,
                         const cJSON *obj)
{
    const char *uid = p4_json_str(obj, "metadata.uid");
    const char *target = p4_tenancy_target(obj);
    int64_t generation = 0, retries = 2;
    char user[P4_KUBE_USER_MAX];

    r->ns = p4_strdup(p4_json_str(obj, "metadata.namespace"));
    r->name = p4_strdup(p4_json_str(obj, "metadata.name"));
    r->target_ns = p4_strdup(target ? target : "");
    r->uid = p4_strdup(uid ? uid : "");
    p4_tenancy_user(s->tenancy, obj, user, sizeof(user));
    r->as = p4_strdup(user);
    r->kube = s->kube;
    if (user[0] && s->kube && p4_kube_as(s->kube, user, &r->kube) == 0)
        r->own_kube = true;
    (void)p4_json_int64(obj, "metadata.generation", &generation);
    (void)p4_json_int64(obj, "spec.rollout.retries", &retries);
    p4_stagerun_add(s, r, key, generation, retries);
    (void)p4_policy_spec_digest(obj, r->spec_digest);
    /* A retry asked for and not handled yet (before a restart): from the first attempt, and
       the failure on record is not current. */
    if (p4_policy_retry_requested(obj) != NULL)
        r->retried = true;
    /* Stalled at this stage for this generation, its retries spent (before a restart): the
       check runs once more, as the last attempt, rather than retrying all over again. */
    if (p4_stagerun_stalled_on_record(obj, s->stage))
        r->attempt = r->attempts;
    /* Its pass for this generation on record (a restart): a re-check, after new work. */
    r->recheck = p4_stagerun_passed_on_record(obj, s->stage);
    if (p4_timefmt_parse(p4_json_str(obj, "metadata.creationTimestamp"), &r->arrival) != 0)
        r->arrival = 0;
}

bool p4_stagerun_passed_on_record(const cJSON *obj, const char *stage)
{
    const cJSON *c;
    char type[64];
    int64_t generation = 0, observed = -1, cond_gen = -1;

    if (stage == NULL)
        return false;
    if (strcmp(stage, "Validation") == 0) /* the stage's condition (reconcile.c) */
        (void)snprintf(type, sizeof(type), "Validated");
    else
        (void)snprintf(type, sizeof(type), "%sReady", stage);
    (void)p4_json_int64(obj, "metadata.generation", &generation);
    (void)p4_json_int64(obj, "status.observedGeneration", &observed);
    c = p4_json_find(p4_json_get(obj, "status.conditions"), "type", type);
    (void)p4_json_int64(c, "observedGeneration", &cond_gen);
    return c != NULL && observed == generation && cond_gen == generation &&
           p4_text_eq(p4_json_str(c, "status"), "True");
}

bool p4_stagerun_stalled_on_record(const cJSON *obj, const char *stage)
{
    const cJSON *c;
    int64_t generation = 0, observed = -1, cond_gen = -1;

    (void)p4_json_int64(obj, "metadata.generation", &generation);
    (void)p4_json_int64(obj, "status.observedGeneration", &observed);
    if (stage == NULL || observed != generation ||
        !p4_text_eq(p4_json_str(obj, "status.stage"), stage) ||
        p4_policy_retry_requested(obj) != NULL) /* a retry begins at the first attempt */
        return false;
    c = p4_json_find(p4_json_get(obj, "status.conditions"), "type", "Stalled");
    (void)p4_json_int64(c, "observedGeneration", &cond_gen);
    return c != NULL && cond_gen == generation && p4_text_eq(p4_json_str(c, "status"), "True") &&
           p4_text_eq(p4_json_str(c, "reason"), P4_REASON_REGENERATION);
}

bool p4_stagerunner_current(const struct p4_stagerunner *s, const char *key, const cJSON *obj)
{
    const struct p4_stagerun *old = p4_stagerunner_get(s, key);
    int64_t generation = 0;

    (void)p4_json_int64(obj, "metadata.generation", &generation);
    return old && (old->generation == generation || old->resumed_as == generation);
}

bool p4_stagerunner_suspend(struct p4_stagerunner *s, const char *key, const cJSON *obj, bool on)
{
    struct p4_stagerun *r = p4_stagerunner_get(s, key);
    int64_t generation = 0;
    uv_timer_cb cb;

    if (r == NULL)
        return false;
    if (on) {
        r->suspended = true;
        if (r->parked)
            return false;
        if (r->working) {
            if (r->ops->stop_now == NULL || !r->ops->stop_now(r))
                return true; /* its current step ends first (p4_stagerun_next) */
            (void)uv_timer_stop(&r->timer);
            p4_stagerun_end_attempt(r);
            (void)hold(r, on_begin); /* the attempt begins again when the run goes on */
            return false;
        }
        stop_here(r);
        return false;
    }
    if (!r->suspended)
        return false;
    (void)p4_json_int64(obj, "metadata.generation", &generation);
    if (generation != r->generation && generation != r->resumed_as) {
        /* Another spec than the run's: it stays stopped until its stage starts the new
           generation's run, which replaces it. */
        char digest[P4_SPEC_DIGEST_SIZE];
        if (!r->spec_digest[0] || !p4_policy_spec_digest(obj, digest) ||
            strcmp(digest, r->spec_digest) != 0)
            return false;
        r->resumed_as = generation;
    }
    r->suspended = false;
    r->parked = false;
    cb = r->parked_cb;
    r->parked_cb = NULL;
    if (r->ops->resume)
        r->ops->resume(r);
    if (cb)
        p4_stagerun_arm(r, 0, cb);
    return false;
}

bool p4_stagerunner_suspend_op(void *stage, const char *key, const cJSON *obj, bool on)
{
    return p4_stagerunner_suspend(stage, key, obj, on); /* the stage begins with its runner */
}

int p4_stagerunner_retry(struct p4_stagerunner *s, const char *key)
{
    struct p4_stagerun *r = p4_stagerunner_get(s, key);

    if (r == NULL)
        return P4_ERR_NOTFOUND;
    if (r->state != P4_STAGE_FAILED)
        return P4_ERR_EXISTS;
    (void)uv_timer_stop(&r->timer);
    r->state = P4_STAGE_RUNNING;
    r->cls = P4_FAIL_NONE;
    r->stalled = false;
    r->no_recheck = false;
    r->err = (struct p4_error){0};
    r->attempt = 1;
    r->failed_attempt = 0;
    r->transient_n = 0;
    r->rechecks = 0;
    r->retried = true;
    for (int g = 0; g < s->ngates; g++) {
        if (r->gates[g].status && strcmp(r->gates[g].status, "False") == 0)
            p4_stagerun_gate(r, g, "Unknown", "Checking", "checked again (retry requested)");
    }
    p4_stagerun_arm(r, 0, on_rerun); /* never inside the reconcile */
    return 0;
}

int p4_stagerunner_retry_op(void *stage, const char *key)
{
    return p4_stagerunner_retry(stage, key); /* the stage begins with its runner */
}

int p4_stagerunner_result_op(void *stage, const char *key, struct p4_stage_result *out)
{
    const struct p4_stagerun *r = p4_stagerunner_get((const struct p4_stagerunner *)stage, key);

    if (r == NULL) {
        memset(out, 0, sizeof(*out));
        return P4_ERR_NOTFOUND;
    }
    p4_stagerun_result(r, r->ops->skipped_gates ? r->ops->skipped_gates(r) : 0, out);
    if (r->ops->status)
        out->status = r->ops->status(r);
    return 0;
}

void p4_stagerun_result(const struct p4_stagerun *r, unsigned skip, struct p4_stage_result *out)
{
    const struct p4_stagerunner *s = r->sr;

    memset(out, 0, sizeof(*out));
    out->state = r->state;
    out->cls = r->cls;
    out->stalled = r->stalled;
    out->no_recheck = r->stalled && (r->no_recheck || r->cls == P4_FAIL_ARTIFACT);
    /* A retry running keeps the failure it retries: that one ended attempt failed_attempt. */
    out->attempt =
        r->state == P4_STAGE_FAILED && r->failed_attempt > 0 ? r->failed_attempt : r->attempt;
    out->attempts = r->attempts;
    out->generation = r->resumed_as ? r->resumed_as : r->generation;
    out->resumed = r->resumed_as != 0;
    out->retried = r->retried;
    out->err = r->err;
    out->gates = cJSON_CreateArray();
    for (int g = 0; s && g < s->ngates; g++) {
        cJSON *o;
        if (skip & (1u << g))
            continue;
        o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "stage", s->stage);
        cJSON_AddStringToObject(o, "name", s->gate_names[g]);
        cJSON_AddStringToObject(o, "status", r->gates[g].status);
        cJSON_AddStringToObject(o, "reason", r->gates[g].reason);
        cJSON_AddStringToObject(o, "message", r->gates[g].message);
        cJSON_AddItemToArray(out->gates, o);
    }
}

/* ---- helpers ---- */

uint64_t p4_backoff_ms(uint64_t base, int n, uint64_t cap)
{
    uint64_t ms = base;

    for (int i = 0; i < n && ms < cap; i++)
        ms *= 2;
    return ms < cap ? ms : cap;
}

enum p4_failure_class p4_kube_read_class(int rc)
{
    switch (rc) {
    case P4_ERR_FORBIDDEN:
    case P4_ERR_UNAUTHORIZED:
    case P4_ERR_NOTFOUND:
    case P4_ERR_INVALID:
    case P4_ERR_PARSE:
    case P4_ERR_TOOBIG:
        return P4_FAIL_CLUSTER;
    default:
        return P4_FAIL_TRANSIENT;
    }
}

bool p4_owned_by(const cJSON *obj, const char *uid)
{
    const cJSON *o;

    cJSON_ArrayForEach(o, p4_json_get(obj, "metadata.ownerReferences")) {
        const char *u = p4_json_str(o, "uid");
        if (u && uid && uid[0] && strcmp(u, uid) == 0)
            return true;
    }
    return false;
}

void p4_secret_wipe(cJSON *secret)
{
    static const char *const maps[] = {"data", "stringData"};
    cJSON *c;

    for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
        cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(secret, maps[i])) {
            if (cJSON_IsString(c) && c->valuestring)
                p4_wipe(c->valuestring, strlen(c->valuestring));
        }
    }
}

unsigned char *p4_object_value(const cJSON *obj, bool is_secret, const char *key, size_t *len)
{
    const cJSON *v = p4_json_child(p4_json_child(obj, "data"), key);
    unsigned char *out = NULL;

    if (!is_secret && v != NULL && cJSON_IsString(v)) {
        *len = strlen(v->valuestring);
        out = p4_malloc(*len + 1);
        memcpy(out, v->valuestring, *len + 1);
        return out;
    }
    if (!is_secret) /* a ConfigMap's binary keys are base64, as a Secret's */
        v = p4_json_child(p4_json_child(obj, "binaryData"), key);
    if (v == NULL || !cJSON_IsString(v))
        return NULL;
    if (v->valuestring[0] == '\0') { /* present and empty */
        *len = 0;
        return p4_calloc(1, 1);
    }
    if (p4_base64_decode(v->valuestring, strlen(v->valuestring), 0, &out, len) != 0)
        return NULL;
    return out;
}

void p4_log_tail(const char *text, char *out, size_t size)
{
    size_t len = text ? strlen(text) : 0, from, width = 0, j = 0;

    if (size == 0)
        return;
    out[0] = '\0';
    if (size < 8)
        return;
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
        len--;
    /* Back from the end while what it becomes fits: a newline becomes " | ". */
    for (from = len; from > 0; from--) {
        size_t w = text[from - 1] == '\n' ? 3 : 1;
        if (width + w > size - 1)
            break;
        width += w;
    }
    for (size_t i = from; i < len; i++) {
        unsigned char ch = (unsigned char)text[i];
        if (ch == '\n') {
            memcpy(out + j, " | ", 3);
            j += 3;
        } else {
            out[j++] = (char)(ch < 0x20 || ch == 0x7f ? ' ' : ch);
        }
    }
    out[j] = '\0';
}

/* "10m", "1h30m", "500ms", "2.5s" (the CRD's pattern) in milliseconds; fallback when absent. */
uint64_t p4_duration_ms(const char *s, uint64_t fallback)
{
    double total = 0;
    char *end;

    if (s == NULL || *s == '\0')
        return fallback;
    while (*s) {
        double v = strtod(s, &end);
        if (end == s || v < 0)
            return fallback;
        s = end;
        if (strncmp(s, "ms", 2) == 0) {
            total += v;
            s += 2;
        } else if (*s == 's') {
            total += v * 1000;
            s++;
        } else if (*s == 'm') {
            total += v * 60000;
            s++;
        } else if (*s == 'h') {
            total += v * 3600000;
            s++;
        } else {
            return fallback;
        }
    }
    return total > 0 && total < 1e15 ? (uint64_t)total : fallback;
}

void p4_core_path(char *buf, size_t size, const char *ns, const char *resource, const char *name)
{
    char ens[256], ename[512];

    if (p4_kube_escape(ns, ens, sizeof(ens)) != 0 ||
        p4_kube_escape(name, ename, sizeof(ename)) != 0)
        ens[0] = ename[0] = '\0';
    (void)snprintf(buf, size, "/api/v1/namespaces/%s/%s%s%s", ens, resource, ename[0] ? "/" : "",
                   ename);
}
