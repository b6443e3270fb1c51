/*
 * stagerun_test.c: a fake stage (ops that record their calls, steps scripted
 * per test, fake requests held until the test answers them) on a real loop:
 * passing, the line of slots in order, artifact retries, cluster stalls and
 * re-checks, transient backoff and Retry-After (on the same step, or by a
 * new attempt with transient_restarts), forget and replace with answers
 * still due, closing with runs in every state; then the helpers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h> /* after the four it needs */

#include "phase4/core/buf.h"
#include "phase4/core/error.h"
#include "phase4/core/redact.h"
#include "phase4/reconciler/stage.h"
#include "phase4/reconciler/stagerun.h"
#include "testjson.h"

#define GUARD_MS 5000 /* generous: a test that needs it has failed */
#define MAX_RUNS 16
#define MAX_EVENTS 8
#define MAX_LOG 64
#define MAX_HELD 16
#define NGATES 3

/* What a fake run's step does. */
enum kind {
    K_PASS,             /* every gate True, passed */
    K_REQUEST,          /* step 0 sends a request (held); its answer goes on to step 1: pass */
    K_ARTIFACT,         /* fails ARTIFACT every attempt */
    K_ARTIFACT_ONCE,    /* fails ARTIFACT on the first attempt, passes on the others */
    K_CLUSTER,          /* fails CLUSTER on the first fx->cluster_fails attempts, then passes */
    K_TRANSIENT,        /* transient, transient with Retry-After, then step 1, which passes */
    K_TRANSIENT_ALWAYS, /* transient on every step */
    K_PARTS,            /* step 0 sends two side-by-side requests (held) that both fail */
    K_STRAY,            /* first attempt: a request goes out, then the attempt fails ARTIFACT */
    K_LATE_TRANSIENT,   /* begins on step 0 directly (as the real stages do), which goes on
                           to step 1, which fails transient every time */
};

static const char *const gate_names[NGATES] = {"Built", "Pushed", "Scanned"};

/* What p4_stagerun_result said at one moment, with the stage's stats. */
struct snap {
    enum p4_stage_state state;
    enum p4_failure_class cls;
    bool stalled;
    int attempt, attempts, code;
    int64_t generation;
    char reason[64];
    char message[P4_ERROR_MESSAGE_MAX];
    char gate_status[NGATES][16];
    char gate_reason[NGATES][64];
    struct p4_stage_stats stats;
};

/* Everything that happened to one run (kept after the run is freed). */
struct rec {
    int begins, steps, end_works, cancels, destroys, answers, back_null, fails;
    bool retry[MAX_EVENTS];
    int attempt_at_begin[MAX_EVENTS];
    int shown_at_begin[MAX_EVENTS]; /* the result's attempt as an attempt begins */
    int step_no[MAX_EVENTS];
    uint64_t begin_at[MAX_EVENTS], step_at[MAX_EVENTS], fail_at[MAX_EVENTS];
    struct snap after_fail[MAX_EVENTS]; /* right after each p4_stagerun_fail(f) returned */
    uint64_t due_in[MAX_EVENTS];        /* the run's timer then: the delay chosen */
    struct snap at_step1;
    bool no_recheck; /* set base.no_recheck before failing */
};

struct fake_req {
    uv_timer_t timer; /* first: freeing the handle frees the request */
    struct fx *fx;
    void *data; /* the run, as a stage hands it to its request */
    int id;
    bool released;
    enum p4_failure_class fail_cls; /* K_PARTS: this part fails with reason */
    const char *fail_reason;
    int fail_gate, fail_code;
};

struct fx {
    uv_loop_t loop;
    uv_timer_t guard, wait;
    uv_prepare_t prepare;
    uint64_t due_at; /* when the next timer of this turn falls due */
    bool timed_out, waited, started, closed, finished;
    struct p4_stagerunner sr;
    char bad[256]; /* the first broken rule a callback saw */

    int begin_log[MAX_LOG], nbegins;
    int created, destroyed_total, works_alloc, works_freed;
    int changed;
    char changed_key[64];
    struct fake_req *held[MAX_HELD];
    int nheld, held_out;
    int cluster_fails;       /* K_CLUSTER: attempts that fail before it passes */
    uint64_t retry_after_ms; /* K_TRANSIENT: the second failure's Retry-After */
    struct rec rec[MAX_RUNS];
};

struct fake_run {
    struct p4_stagerun base; /* first: the stage's run embeds the common part */
    struct fx *fx;
    int id;
    enum kind kind;
    int *work;    /* the attempt's scratch: allocated by begin, freed by end_work */
    bool stopped; /* stop_ops: stopped at a safe point; the answer still due is dropped */
};

/* ---- the loop ---- */

static void on_guard(uv_timer_t *t)
{
    struct fx *fx = t->data;

    fx->timed_out = true;
    uv_stop(&fx->loop);
}

static void on_wait(uv_timer_t *t)
{
    struct fx *fx = t->data;

    fx->waited = true;
}

static void arm_guard(struct fx *fx)
{
    fx->timed_out = false;
    assert_int_equal(uv_timer_start(&fx->guard, on_guard, GUARD_MS, 0), 0);
}

/* Timers ran before the poll (libuv < 1.45): do not block in it, let the test look first. */
static void on_prepare(uv_prepare_t *p)
{
    struct fx *fx = p->data;

    if (uv_now(&fx->loop) >= fx->due_at)
        uv_stop(&fx->loop);
}

/*
 * One turn of the loop: run what is due now or, when nothing is, block until
 * the next timer falls due and run it. Never blocks after running something,
 * so a condition met by it is seen before the loop sleeps again.
 */
static void turn(struct fx *fx)
{
    int timeout;

    uv_update_time(&fx->loop);
    timeout = uv_backend_timeout(&fx->loop);
    if (timeout == 0) {
        (void)uv_run(&fx->loop, UV_RUN_NOWAIT);
        return;
    }
    fx->due_at = timeout < 0 ? UINT64_MAX : uv_now(&fx->loop) + (uint64_t)timeout;
    (void)uv_prepare_start(&fx->prepare, on_prepare);
    (void)uv_run(&fx->loop, UV_RUN_ONCE);
    (void)uv_prepare_stop(&fx->prepare);
}

/* Run the loop until cond holds: fail if the loop has nothing left to do or the guard fires. */
#define RUN_UNTIL(fx, cond)                                                                        \
    do {                                                                                           \
        arm_guard(fx);                                                                             \
        while (!(cond)) {                                                                          \
            if (!uv_loop_alive(&(fx)->loop))                                                       \
                fail_msg("the loop went idle before: %s", #cond);                                  \
            turn(fx);                                                                              \
            if ((fx)->timed_out)                                                                   \
                fail_msg("timed out waiting for: %s", #cond);                                      \
        }                                                                                          \
        (void)uv_timer_stop(&(fx)->guard);                                                         \
        assert_string_equal((fx)->bad, "");                                                        \
    } while (0)

/* Let ms of loop time go by, running whatever falls due. */
static void run_for(struct fx *fx, uint64_t ms)
{
    fx->waited = false;
    assert_int_equal(uv_timer_start(&fx->wait, on_wait, ms, 0), 0);
    RUN_UNTIL(fx, fx->waited);
}

static void note_bad(struct fx *fx, const char *what, int id)
{
    if (fx->bad[0] == '\0')
        (void)snprintf(fx->bad, sizeof(fx->bad), "run %d: %s", id, what);
}

static void take_snap(struct fx *fx, const struct p4_stagerun *r, struct snap *s)
{
    struct p4_stage_result res;

    p4_stagerun_result(r, 0, &res);
    memset(s, 0, sizeof(*s));
    s->state = res.state;
    s->cls = res.cls;
    s->stalled = res.stalled;
    s->attempt = res.attempt;
    s->attempts = res.attempts;
    s->code = res.err.code;
    s->generation = res.generation;
    (void)snprintf(s->reason, sizeof(s->reason), "%s", res.err.reason ? res.err.reason : "");
    (void)snprintf(s->message, sizeof(s->message), "%s", res.err.message);
    for (int g = 0; g < NGATES && g < cJSON_GetArraySize(res.gates); g++) {
        const cJSON *o = cJSON_GetArrayItem(res.gates, g);
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(o, "status");
        const cJSON *rs = cJSON_GetObjectItemCaseSensitive(o, "reason");
        (void)snprintf(s->gate_status[g], sizeof(s->gate_status[g]), "%s",
                       cJSON_IsString(st) ? st->valuestring : "?");
        (void)snprintf(s->gate_reason[g], sizeof(s->gate_reason[g]), "%s",
                       cJSON_IsString(rs) ? rs->valuestring : "?");
    }
    p4_stage_result_close(&res);
    p4_stagerunner_stats(&fx->sr, &s->stats);
}

/* ---- fake requests ---- */

static void free_req(uv_handle_t *h)
{
    free(h);
}

static void on_answer(uv_timer_t *t)
{
    struct fake_req *q = t->data;
    struct fx *fx = q->fx;
    struct p4_stagerun *r = p4_stagerun_back(q->data);

    for (int i = 0; i < fx->nheld; i++) {
        if (fx->held[i] == q)
            fx->held[i] = NULL; /* freed below */
    }
    fx->held_out--;
    fx->rec[q->id].answers++;
    if (r == NULL) {
        fx->rec[q->id].back_null++; /* dropped meanwhile: touch nothing of it */
    } else {
        struct fake_run *fr = (struct fake_run *)r;
        if (fr->work == NULL)
            note_bad(fx, "an answer came back to a run without its work", q->id);
        if (fr->kind == K_PARTS) {
            struct p4_error err = {.code = q->fail_code};
            (void)snprintf(err.message, sizeof(err.message), "%s failed", q->fail_reason);
            p4_stagerun_part_failed(r, q->fail_cls, q->fail_gate, q->fail_reason, &err);
            take_snap(fx, r, &fx->rec[q->id].after_fail[fx->rec[q->id].answers - 1]);
            p4_stagerun_part_done(r, 1);
        } else if (fr->kind != K_STRAY && !fr->stopped) {
            p4_stagerun_part_done(r, 1);
        }
        /* K_STRAY: the attempt it belonged to is over; nothing more to do. */
    }
    uv_close((uv_handle_t *)&q->timer, free_req);
}

/* Send a request for r that waits until the test answers it (release). */
static struct fake_req *send_req(struct fake_run *fr)
{
    struct fx *fx = fr->fx;
    struct fake_req *q = calloc(1, sizeof(*q));

    if (q == NULL || fx->nheld >= MAX_HELD) {
        note_bad(fx, "too many requests", fr->id);
        free(q);
        return NULL;
    }
    q->fx = fx;
    q->data = &fr->base;
    q->id = fr->id;
    (void)uv_timer_init(&fx->loop, &q->timer);
    q->timer.data = q;
    p4_stagerun_out(&fr->base);
    fx->held[fx->nheld++] = q;
    fx->held_out++;
    return q;
}

/* Answer the oldest unanswered request of run id (on the next loop turn). */
static void release(struct fx *fx, int id)
{
    for (int i = 0; i < fx->nheld; i++) {
        struct fake_req *q = fx->held[i];
        if (q != NULL && q->id == id && !q->released) {
            q->released = true;
            assert_int_equal(uv_timer_start(&q->timer, on_answer, 0, 0), 0);
            return;
        }
    }
    fail_msg("run %d has no request out", id);
}

static void release_all(struct fx *fx)
{
    for (int i = 0; i < fx->nheld; i++) {
        if (fx->held[i] != NULL && !fx->held[i]->released) {
            fx->held[i]->released = true;
            (void)uv_timer_start(&fx->held[i]->timer, on_answer, 0, 0);
        }
    }
}

/* ---- the fake stage's ops ---- */

static void pass_all(struct fake_run *fr)
{
    for (int g = 0; g < NGATES; g++)
        p4_stagerun_gate(&fr->base, g, "True", "Passed", "gate %s passed", gate_names[g]);
    p4_stagerun_passed(&fr->base, "Ready", "%d gates passed for %s", NGATES, fr->base.key);
}

static void fail_now(struct fake_run *fr, enum p4_failure_class cls, int g, const char *reason)
{
    struct fx *fx = fr->fx;
    struct rec *rc = &fx->rec[fr->id];
    int i = rc->fails < MAX_EVENTS ? rc->fails : MAX_EVENTS - 1;

    rc->fail_at[i] = uv_now(&fx->loop);
    if (rc->no_recheck)
        fr->base.no_recheck = true;
    p4_stagerun_failf(&fr->base, cls, g, reason, "%s failed for %s", reason, fr->base.key);
    take_snap(fx, &fr->base, &rc->after_fail[i]);
    rc->due_in[i] = uv_timer_get_due_in(&fr->base.timer);
    rc->fails++;
}

static void op_begin(struct p4_stagerun *r, bool retry)
{
    struct fake_run *fr = (struct fake_run *)r;
    struct fx *fx = fr->fx;
    struct rec *rc = &fx->rec[fr->id];
    int i = rc->begins < MAX_EVENTS ? rc->begins : MAX_EVENTS - 1;
    struct p4_stage_stats st;

    if (fr->work != NULL)
        note_bad(fx, "begin with the last attempt's work still there", fr->id);
    if (r->inflight != 0)
        note_bad(fx, "begin with an answer still due", fr->id);
    if (!r->active)
        note_bad(fx, "begin without a slot", fr->id);
    p4_stagerunner_stats(&fx->sr, &st);
    if (st.running > fx->sr.max_active)
        note_bad(fx, "more runs working than max_active", fr->id);
    fr->stopped = false;
    rc->retry[i] = retry;
    rc->attempt_at_begin[i] = r->attempt;
    {
        struct p4_stage_result res;
        p4_stagerun_result(r, 0, &res);
        rc->shown_at_begin[i] = res.attempt;
        p4_stage_result_close(&res);
    }
    rc->begin_at[i] = uv_now(&fx->loop);
    rc->begins++;
    if (fx->nbegins < MAX_LOG)
        fx->begin_log[fx->nbegins++] = fr->id;
    fr->work = malloc(sizeof(*fr->work));
    if (fr->work == NULL) {
        note_bad(fx, "out of memory", fr->id);
        return;
    }
    *fr->work = fr->id;
    fx->works_alloc++;
    if (fr->kind == K_LATE_TRANSIENT) { /* as dockerstage.c and helmstage.c begin */
        r->step = 0;
        r->ops->step(r);
        return;
    }
    p4_stagerun_next(r, 0);
}

static void op_step(struct p4_stagerun *r)
{
    struct fake_run *fr = (struct fake_run *)r;
    struct fx *fx = fr->fx;
    struct rec *rc = &fx->rec[fr->id];
    int i = rc->steps < MAX_EVENTS ? rc->steps : MAX_EVENTS - 1;
    struct fake_req *q, *q2;

    if (fr->work == NULL)
        note_bad(fx, "step without work", fr->id);
    if (!r->active)
        note_bad(fx, "step without a slot", fr->id);
    rc->step_at[i] = uv_now(&fx->loop);
    rc->step_no[i] = r->step;
    rc->steps++;
    switch (fr->kind) {
    case K_PASS:
        pass_all(fr);
        break;
    case K_REQUEST:
        if (r->step == 0)
            (void)send_req(fr);
        else
            pass_all(fr);
        break;
    case K_ARTIFACT:
        fail_now(fr, P4_FAIL_ARTIFACT, 1, "ImageInvalid");
        break;
    case K_ARTIFACT_ONCE:
        if (rc->begins == 1)
            fail_now(fr, P4_FAIL_ARTIFACT, 1, "ImageInvalid");
        else
            pass_all(fr);
        break;
    case K_CLUSTER:
        if (rc->begins <= fx->cluster_fails)
            fail_now(fr, P4_FAIL_CLUSTER, 0, "PullSecretNotFound");
        else
            pass_all(fr);
        break;
    case K_TRANSIENT:
        if (r->step == 1) {
            take_snap(fx, r, &rc->at_step1);
            pass_all(fr);
        } else if (rc->steps == 1) {
            fail_now(fr, P4_FAIL_TRANSIENT, 2, "RegistryUnavailable");
        } else if (rc->steps == 2) {
            r->retry_after_ms = fx->retry_after_ms;
            fail_now(fr, P4_FAIL_TRANSIENT, 2, "RegistryUnavailable");
        } else {
            p4_stagerun_next(r, 1);
        }
        break;
    case K_TRANSIENT_ALWAYS:
        fail_now(fr, P4_FAIL_TRANSIENT, 0, "APIUnavailable");
        break;
    case K_PARTS:
        if (r->step == 1) {
            note_bad(fx, "went on although a part failed", fr->id);
            break;
        }
        q = send_req(fr);
        q2 = send_req(fr);
        if (q == NULL || q2 == NULL)
            break;
        q->fail_cls = P4_FAIL_CLUSTER; /* code 0: read as Invalid */
        q->fail_reason = "First";
        q->fail_gate = 1;
        q2->fail_cls = P4_FAIL_ARTIFACT;
        q2->fail_reason = "Second";
        q2->fail_gate = 2;
        q2->fail_code = P4_ERR_FORBIDDEN;
        break;
    case K_LATE_TRANSIENT:
        if (r->step == 0) {
            p4_stagerun_next(r, 1);
        } else {
            if (rc->begins == 2) /* the restart got past step 0 again */
                take_snap(fx, r, &rc->at_step1);
            fail_now(fr, P4_FAIL_TRANSIENT, 1, "APIUnavailable");
        }
        break;
    case K_STRAY:
        if (rc->begins == 1) {
            (void)send_req(fr); /* e.g. a time limit fails the step before its answer */
            fail_now(fr, P4_FAIL_ARTIFACT, 0, "TimedOut");
        } else {
            pass_all(fr);
        }
        break;
    }
}

static void op_end_work(struct p4_stagerun *r)
{
    struct fake_run *fr = (struct fake_run *)r;
    struct fx *fx = fr->fx;

    if (fr->work == NULL)
        note_bad(fx, "end_work without work", fr->id);
    if (r->inflight != 0)
        note_bad(fx, "end_work with an answer still due", fr->id);
    fx->rec[fr->id].end_works++;
    if (fr->work)
        fx->works_freed++;
    free(fr->work);
    fr->work = NULL;
}

static void op_destroy(struct p4_stagerun *r)
{
    struct fake_run *fr = (struct fake_run *)r;
    struct fx *fx = fr->fx;

    if (fr->work != NULL)
        note_bad(fx, "destroy before end_work", fr->id);
    if (r->inflight != 0)
        note_bad(fx, "destroy with an answer still due", fr->id);
    if (++fx->rec[fr->id].destroys > 1)
        note_bad(fx, "destroyed twice", fr->id);
    fx->destroyed_total++;
    free(fr);
}

static void op_cancel(struct p4_stagerun *r)
{
    struct fake_run *fr = (struct fake_run *)r;

    if (!r->gone)
        note_bad(fr->fx, "cancel of a run not gone", fr->id);
    fr->fx->rec[fr->id].cancels++;
}

static const struct p4_stagerun_ops fake_ops = {
    .begin = op_begin,
    .step = op_step,
    .end_work = op_end_work,
    .destroy = op_destroy,
    .cancel = op_cancel,
};

/* A stage whose request of step 0 may be stopped at once (as an apply waiting for its record). */
static bool op_stop_now(struct p4_stagerun *r)
{
    struct fake_run *fr = (struct fake_run *)r;

    if (fr->kind != K_REQUEST || r->step != 0 || r->inflight == 0)
        return false;
    fr->stopped = true;
    return true;
}

static const struct p4_stagerun_ops stop_ops = {
    .begin = op_begin,
    .step = op_step,
    .end_work = op_end_work,
    .destroy = op_destroy,
    .cancel = op_cancel,
    .stop_now = op_stop_now,
};

static void on_changed(const char *key, void *data)
{
    struct fx *fx = data;

    fx->changed++;
    (void)snprintf(fx->changed_key, sizeof(fx->changed_key), "%s", key);
}

/* ---- fixture ---- */

static void start_runner(struct fx *fx, int max_active, uint64_t retry_ms, uint64_t recheck_ms,
                         uint64_t transient_max_ms)
{
    fx->sr.loop = &fx->loop;
    fx->sr.ops = &fake_ops;
    fx->sr.stage = "Docker";
    fx->sr.gate_names = gate_names;
    fx->sr.ngates = NGATES;
    fx->sr.retry_ms = retry_ms;
    fx->sr.recheck_ms = recheck_ms;
    fx->sr.transient_max_ms = transient_max_ms;
    fx->sr.max_active = max_active;
    fx->sr.changed = on_changed;
    fx->sr.data = fx;
    p4_stagerunner_init(&fx->sr);
    fx->started = true;
}

/* Add a fake run for key; returns its id (the run itself is freed by destroy). */
static int add_run(struct fx *fx, const char *key, enum kind kind, int64_t generation,
                   int64_t retries)
{
    struct fake_run *fr;

    assert_true(fx->created < MAX_RUNS);
    fr = calloc(1, sizeof(*fr));
    assert_non_null(fr);
    fr->fx = fx;
    fr->id = fx->created++;
    fr->kind = kind;
    p4_stagerun_add(&fx->sr, &fr->base, key, generation, retries);
    return fr->id;
}

static void snap_of(struct fx *fx, const char *key, struct snap *s)
{
    const struct p4_stagerun *r = p4_stagerunner_get(&fx->sr, key);

    assert_non_null(r);
    take_snap(fx, r, s);
}

static bool is_state(struct fx *fx, const char *key, enum p4_stage_state state)
{
    const struct p4_stagerun *r = p4_stagerunner_get(&fx->sr, key);

    return r != NULL && r->state == state;
}

static struct p4_stage_stats stats_of(struct fx *fx)
{
    struct p4_stage_stats st;

    p4_stagerunner_stats(&fx->sr, &st);
    return st;
}

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));

    if (fx == NULL || uv_loop_init(&fx->loop) != 0) {
        free(fx);
        return -1;
    }
    (void)uv_timer_init(&fx->loop, &fx->guard);
    fx->guard.data = fx;
    uv_unref((uv_handle_t *)&fx->guard); /* never keeps the loop alive by itself */
    (void)uv_timer_init(&fx->loop, &fx->wait);
    fx->wait.data = fx;
    (void)uv_prepare_init(&fx->loop, &fx->prepare);
    fx->prepare.data = fx;
    uv_unref((uv_handle_t *)&fx->prepare);
    fx->cluster_fails = 1;
    *state = fx;
    return 0;
}

/*
 * Close the runner, answer every request still held, let everything end, and
 * close the loop: 0 when every run was destroyed exactly once, every
 * attempt's work freed and the loop closed with no handle left.
 */
static int finish(struct fx *fx)
{
    int rc = 0;

    if (fx->finished)
        return 0;
    fx->finished = true;
    if (fx->started && !fx->closed) {
        p4_stagerunner_close(&fx->sr);
        fx->closed = true;
    }
    release_all(fx);
    fx->timed_out = false;
    (void)uv_timer_start(&fx->guard, on_guard, GUARD_MS, 0);
    (void)uv_run(&fx->loop, UV_RUN_DEFAULT); /* until only the (unreferenced) guard is left */
    if (fx->timed_out) {
        print_error("the loop did not end after p4_stagerunner_close\n");
        rc = -1;
    }
    uv_close((uv_handle_t *)&fx->guard, NULL);
    uv_close((uv_handle_t *)&fx->wait, NULL);
    uv_close((uv_handle_t *)&fx->prepare, NULL);
    (void)uv_run(&fx->loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&fx->loop) != 0) {
        print_error("uv_loop_close: handles left\n");
        rc = -1;
    }
    if (fx->destroyed_total != fx->created) {
        print_error("%d runs created, %d destroyed\n", fx->created, fx->destroyed_total);
        rc = -1;
    }
    if (fx->works_alloc != fx->works_freed) {
        print_error("%d works allocated, %d freed\n", fx->works_alloc, fx->works_freed);
        rc = -1;
    }
    if (fx->bad[0]) {
        print_error("%s\n", fx->bad);
        rc = -1;
    }
    return rc;
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    int rc = finish(fx);

    free(fx);
    return rc;
}

static void check_gate(const cJSON *gates, int i, const char *name, const char *status,
                       const char *reason, const char *message)
{
    const cJSON *o = cJSON_GetArrayItem(gates, i);

    assert_non_null(o);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "stage")),
                        "Docker");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "name")), name);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "status")),
                        status);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "reason")),
                        reason);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "message")),
                        message);
}

/* ---- the runs ---- */

static void defaults_and_attempts(void **state)
{
    struct fx *fx = *state;
    struct snap s;

    fx->sr.ngates = 20; /* clamped */
    fx->sr.loop = &fx->loop;
    fx->sr.ops = &fake_ops;
    fx->sr.stage = "Docker";
    fx->sr.gate_names = gate_names;
    p4_stagerunner_init(&fx->sr);
    fx->started = true;
    assert_int_equal(fx->sr.retry_ms, 30000);
    assert_int_equal(fx->sr.recheck_ms, 300000);
    assert_int_equal(fx->sr.transient_max_ms, 60000);
    assert_int_equal(fx->sr.max_active, 64);
    assert_int_equal(fx->sr.ngates, P4_GATES_MAX);
    fx->sr.ngates = NGATES;

    /* retries outside 0..10 read as 2. */
    (void)add_run(fx, "ns/r0", K_PASS, 1, 0);
    (void)add_run(fx, "ns/r10", K_PASS, 1, 10);
    (void)add_run(fx, "ns/r11", K_PASS, 1, 11);
    (void)add_run(fx, "ns/neg", K_PASS, 1, -1);
    snap_of(fx, "ns/r0", &s);
    assert_int_equal(s.attempts, 1);
    snap_of(fx, "ns/r10", &s);
    assert_int_equal(s.attempts, 11);
    snap_of(fx, "ns/r11", &s);
    assert_int_equal(s.attempts, 3);
    snap_of(fx, "ns/neg", &s);
    assert_int_equal(s.attempts, 3);
    assert_int_equal(s.attempt, 1);
    assert_null(p4_stagerunner_get(&fx->sr, "ns/none"));
    p4_stagerunner_forget(&fx->sr, "ns/none"); /* nothing to forget: a no-op */
    RUN_UNTIL(fx, stats_of(fx).passed == 4);
}

/* 1. A run that passes. */
static void run_passes(void **state)
{
    struct fx *fx = *state;
    struct p4_stage_result res;
    struct p4_stage_stats st;
    struct snap s;
    int id;

    start_runner(fx, 0, 5, 5, 5);
    id = add_run(fx, "ns/a", K_PASS, 7, 2);
    /* Nothing begins inside add: the first attempt waits for the next loop turn. */
    assert_int_equal(fx->rec[id].begins, 0);
    snap_of(fx, "ns/a", &s);
    assert_int_equal(s.state, P4_STAGE_RUNNING);
    assert_int_equal(s.cls, P4_FAIL_NONE);
    assert_false(s.stalled);
    assert_int_equal(s.attempt, 1);
    assert_int_equal(s.attempts, 3);
    assert_int_equal(s.generation, 7);
    assert_int_equal(s.code, 0);
    p4_stagerun_result(p4_stagerunner_get(&fx->sr, "ns/a"), 0, &res);
    assert_int_equal(cJSON_GetArraySize(res.gates), NGATES);
    for (int g = 0; g < NGATES; g++)
        check_gate(res.gates, g, gate_names[g], "Unknown", "Checking", "not checked yet");
    p4_stage_result_close(&res);
    st = stats_of(fx);
    assert_int_equal(st.resources, 1);
    assert_int_equal(st.checking, 1);
    assert_int_equal(fx->changed, 0);

    RUN_UNTIL(fx, is_state(fx, "ns/a", P4_STAGE_PASSED));
    assert_int_equal(fx->rec[id].begins, 1);
    assert_false(fx->rec[id].retry[0]);
    assert_int_equal(fx->rec[id].steps, 1);
    assert_int_equal(fx->rec[id].end_works, 1); /* the attempt's work is gone after it */

    p4_stagerun_result(p4_stagerunner_get(&fx->sr, "ns/a"), 0, &res);
    assert_int_equal(res.state, P4_STAGE_PASSED);
    assert_int_equal(res.cls, P4_FAIL_NONE);
    assert_false(res.stalled);
    assert_int_equal(res.attempt, 1);
    assert_int_equal(res.attempts, 3);
    assert_int_equal(res.generation, 7);
    assert_string_equal(res.err.reason, "Ready");
    assert_string_equal(res.err.message, "3 gates passed for ns/a");
    assert_null(res.status);
    assert_int_equal(cJSON_GetArraySize(res.gates), NGATES);
    check_gate(res.gates, 0, "Built", "True", "Passed", "gate Built passed");
    check_gate(res.gates, 1, "Pushed", "True", "Passed", "gate Pushed passed");
    check_gate(res.gates, 2, "Scanned", "True", "Passed", "gate Scanned passed");
    p4_stage_result_close(&res);

    /* A skipped gate is left out of status, the others keep their order. */
    p4_stagerun_result(p4_stagerunner_get(&fx->sr, "ns/a"), 1u << 1, &res);
    assert_int_equal(cJSON_GetArraySize(res.gates), 2);
    check_gate(res.gates, 0, "Built", "True", "Passed", "gate Built passed");
    check_gate(res.gates, 1, "Scanned", "True", "Passed", "gate Scanned passed");
    p4_stage_result_close(&res);
    p4_stagerun_result(p4_stagerunner_get(&fx->sr, "ns/a"), 7u, &res);
    assert_int_equal(cJSON_GetArraySize(res.gates), 0);
    p4_stage_result_close(&res);

    assert_int_equal(fx->changed, 1);
    assert_string_equal(fx->changed_key, "ns/a");
    st = stats_of(fx);
    assert_int_equal(st.resources, 1);
    assert_int_equal(st.passed, 1);
    assert_int_equal(st.running, 0);
    assert_int_equal(st.waiting, 0);
    assert_int_equal(st.checking + st.failed + st.stalled, 0);

    /* Passed means done: nothing begins again. */
    run_for(fx, 20);
    assert_int_equal(fx->rec[id].begins, 1);
    assert_int_equal(fx->changed, 1);
}

/* 2. At most max_active runs work at once; the rest begin in the order they were added. */
static void line_of_slots_is_fifo(void **state)
{
    struct fx *fx = *state;
    static const char *const keys[] = {"ns/a", "ns/b", "ns/c", "ns/d", "ns/e"};
    struct p4_stage_stats st;

    start_runner(fx, 2, 5, 5, 5);
    for (int i = 0; i < 5; i++)
        assert_int_equal(add_run(fx, keys[i], K_REQUEST, 1, 2), i);
    RUN_UNTIL(fx, fx->held_out == 2);
    assert_int_equal(fx->nbegins, 2);
    assert_int_equal(fx->begin_log[0], 0);
    assert_int_equal(fx->begin_log[1], 1);
    st = stats_of(fx);
    assert_int_equal(st.resources, 5);
    assert_int_equal(st.running, 2);
    assert_int_equal(st.waiting, 3);
    assert_int_equal(st.checking, 5);

    /* b ends first: its slot goes to c, the head of the line (not to whoever else). */
    release(fx, 1);
    RUN_UNTIL(fx, fx->nbegins == 3 && fx->held_out == 2);
    assert_int_equal(fx->begin_log[2], 2);
    assert_true(is_state(fx, "ns/b", P4_STAGE_PASSED));
    st = stats_of(fx);
    assert_int_equal(st.running, 2);
    assert_int_equal(st.waiting, 2);
    assert_int_equal(st.passed, 1);

    release(fx, 0);
    RUN_UNTIL(fx, fx->nbegins == 4 && fx->held_out == 2);
    assert_int_equal(fx->begin_log[3], 3);
    st = stats_of(fx);
    assert_int_equal(st.running, 2);
    assert_int_equal(st.waiting, 1);

    release(fx, 2);
    RUN_UNTIL(fx, fx->nbegins == 5 && fx->held_out == 2);
    assert_int_equal(fx->begin_log[4], 4);
    st = stats_of(fx);
    assert_int_equal(st.running, 2);
    assert_int_equal(st.waiting, 0);

    release(fx, 4);
    release(fx, 3);
    RUN_UNTIL(fx, stats_of(fx).passed == 5);
    st = stats_of(fx);
    assert_int_equal(st.running, 0);
    assert_int_equal(st.waiting, 0);
    assert_int_equal(st.resources, 5);
    assert_int_equal(fx->nbegins, 5);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(fx->rec[i].begins, 1);
        assert_int_equal(fx->rec[i].steps, 2);
        assert_int_equal(fx->rec[i].step_no[0], 0);
        assert_int_equal(fx->rec[i].step_no[1], 1);
        assert_int_equal(fx->rec[i].end_works, 1);
    }
    assert_int_equal(fx->changed, 5);
}

/* 2b. The line: new work before re-checks of a pass on record, then the oldest resource first;
   a re-check never takes the last free slot. */
static void line_puts_new_work_first_oldest_first(void **state)
{
    struct fx *fx = *state;
    static const struct {
        const char *key;
        bool recheck;
        int64_t arrival;
    } runs[] = {{"ns/a", true, 1},
                {"ns/b", true, 2},
                {"ns/c", false, 30},
                {"ns/d", false, 20},
                {"ns/e", false, 10}};
    static const int order[] = {0, 2, 4, 3, 1};

    start_runner(fx, 2, 5, 5, 5);
    for (int i = 0; i < 5; i++) {
        struct p4_stagerun *r;
        assert_int_equal(add_run(fx, runs[i].key, K_REQUEST, 1, 2), i);
        r = p4_stagerunner_get(&fx->sr, runs[i].key);
        r->recheck = runs[i].recheck; /* as p4_stagerun_add_for reads them from the resource */
        r->arrival = runs[i].arrival;
    }
    /* a takes a slot; b, a re-check, may not take the last one: c does. */
    RUN_UNTIL(fx, fx->held_out == 2);
    assert_int_equal(fx->nbegins, 2);
    assert_int_equal(stats_of(fx).waiting, 3);
    release(fx, 0);
    RUN_UNTIL(fx, fx->nbegins == 3 && fx->held_out == 2);
    release(fx, 2);
    RUN_UNTIL(fx, fx->nbegins == 4 && fx->held_out == 2);
    release(fx, 4);
    RUN_UNTIL(fx, fx->nbegins == 5 && fx->held_out == 2);
    for (int i = 0; i < 5; i++)
        assert_int_equal(fx->begin_log[i], order[i]);
    release(fx, 3);
    release(fx, 1);
    RUN_UNTIL(fx, stats_of(fx).passed == 5);
    assert_int_equal(fx->sr.rechecks_active, 0);
}

/* 3. Artifact failures: retried retries times with retry_ms doubling, then stalled for good. */
static void artifact_failure_retries_then_stalls(void **state)
{
    struct fx *fx = *state;
    struct p4_stage_result res;
    struct p4_stage_stats st;
    const struct rec *rc;
    int id;

    start_runner(fx, 0, 5, 5, 5);
    id = add_run(fx, "ns/a", K_ARTIFACT, 3, 2);
    rc = &fx->rec[id];
    RUN_UNTIL(fx, rc->fails == 3);
    run_for(fx, 60); /* many recheck_ms and retry_ms later */

    assert_int_equal(rc->begins, 3);
    assert_false(rc->retry[0]);
    assert_true(rc->retry[1]);
    assert_true(rc->retry[2]);
    assert_int_equal(rc->attempt_at_begin[0], 1);
    assert_int_equal(rc->attempt_at_begin[1], 2);
    assert_int_equal(rc->attempt_at_begin[2], 3);
    /* While a retry runs, the result still tells the attempt that failed (attempt 1 of 3,
       then 2 of 3), never the one running, which has not failed (yet). */
    assert_int_equal(rc->shown_at_begin[1], 1);
    assert_int_equal(rc->shown_at_begin[2], 2);
    assert_int_equal(rc->end_works, 3);
    /* retry_ms, then twice that. */
    assert_true(rc->begin_at[1] - rc->fail_at[0] >= 5);
    assert_true(rc->begin_at[2] - rc->fail_at[1] >= 10);

    /* Between attempts: FAILED, not stalled, the retry still to come. */
    for (int i = 0; i < 2; i++) {
        assert_int_equal(rc->after_fail[i].state, P4_STAGE_FAILED);
        assert_int_equal(rc->after_fail[i].cls, P4_FAIL_ARTIFACT);
        assert_false(rc->after_fail[i].stalled);
        assert_int_equal(rc->after_fail[i].attempt, i + 1);
        assert_int_equal(rc->after_fail[i].attempts, 3);
        assert_string_equal(rc->after_fail[i].reason, "ImageInvalid");
        assert_int_equal(rc->after_fail[i].stats.failed, 1);
        assert_int_equal(rc->after_fail[i].stats.running, 0); /* no slot held while waiting */
    }
    assert_true(rc->after_fail[2].stalled);
    assert_int_equal(rc->after_fail[2].stats.stalled, 1);

    p4_stagerun_result(p4_stagerunner_get(&fx->sr, "ns/a"), 0, &res);
    assert_int_equal(res.state, P4_STAGE_FAILED);
    assert_int_equal(res.cls, P4_FAIL_ARTIFACT);
    assert_true(res.stalled);
    assert_int_equal(res.attempt, 3);
    assert_int_equal(res.attempts, 3);
    assert_int_equal(res.generation, 3);
    assert_int_equal(res.err.code, P4_ERR_INVALID);
    assert_string_equal(res.err.reason, "ImageInvalid");
    assert_string_equal(res.err.message, "ImageInvalid failed for ns/a");
    check_gate(res.gates, 0, "Built", "Unknown", "Checking", "not checked yet");
    check_gate(res.gates, 1, "Pushed", "False", "ImageInvalid", "ImageInvalid failed for ns/a");
    p4_stage_result_close(&res);
    st = stats_of(fx);
    assert_int_equal(st.stalled, 1);
    assert_int_equal(st.failed, 0);
    assert_int_equal(st.running + st.waiting, 0);
    assert_int_equal(fx->changed, 3);
}

/* 4. Cluster failures stall at once and are re-checked every recheck_ms, unless no_recheck. */
static void cluster_failure_stalls_and_is_rechecked(void **state)
{
    struct fx *fx = *state;
    const struct rec *a, *b;
    struct snap s;
    int ia, ib;

    start_runner(fx, 0, 5, 20, 5);
    fx->cluster_fails = 2;
    ia = add_run(fx, "ns/a", K_CLUSTER, 1, 2);
    ib = add_run(fx, "ns/b", K_CLUSTER, 1, 2);
    fx->rec[ib].no_recheck = true;
    a = &fx->rec[ia];
    b = &fx->rec[ib];
    RUN_UNTIL(fx, is_state(fx, "ns/a", P4_STAGE_PASSED));

    /* Stalled at once, with no attempt counted. */
    assert_int_equal(a->after_fail[0].state, P4_STAGE_FAILED);
    assert_int_equal(a->after_fail[0].cls, P4_FAIL_CLUSTER);
    assert_true(a->after_fail[0].stalled);
    assert_int_equal(a->after_fail[0].attempt, 1);
    assert_string_equal(a->after_fail[0].reason, "PullSecretNotFound");
    assert_string_equal(a->after_fail[0].message, "PullSecretNotFound failed for ns/a");
    assert_string_equal(a->after_fail[0].gate_status[0], "False");
    /* Re-checked after recheck_ms, twice (the second re-check passes). */
    assert_int_equal(a->begins, 3);
    assert_false(a->retry[1]);
    assert_false(a->retry[2]);
    assert_int_equal(a->attempt_at_begin[1], 1);
    assert_int_equal(a->attempt_at_begin[2], 1);
    assert_true(a->begin_at[1] - a->fail_at[0] >= 20);
    assert_true(a->begin_at[2] - a->fail_at[1] >= 20);
    assert_true(a->after_fail[1].stalled);
    snap_of(fx, "ns/a", &s);
    assert_int_equal(s.state, P4_STAGE_PASSED);
    assert_false(s.stalled);
    assert_int_equal(s.cls, P4_FAIL_NONE);
    assert_string_equal(s.reason, "Ready");

    /* no_recheck: only a new generation can help. */
    run_for(fx, 100);
    assert_int_equal(b->begins, 1);
    assert_int_equal(b->fails, 1);
    snap_of(fx, "ns/b", &s);
    assert_int_equal(s.state, P4_STAGE_FAILED);
    assert_int_equal(s.cls, P4_FAIL_CLUSTER);
    assert_true(s.stalled);
    assert_int_equal(s.stats.stalled, 1);
    assert_int_equal(s.stats.passed, 1);
}

/* 5. Transient failures are waited out on the same step, with backoff and Retry-After. */
static void transient_failure_retries_the_step(void **state)
{
    struct fx *fx = *state;
    const struct rec *rc;
    struct snap s;
    int id;

    start_runner(fx, 0, 5, 5, 5);
    fx->retry_after_ms = 60;
    id = add_run(fx, "ns/a", K_TRANSIENT, 1, 2);
    rc = &fx->rec[id];
    RUN_UNTIL(fx, is_state(fx, "ns/a", P4_STAGE_PASSED));

    assert_int_equal(rc->begins, 1); /* the step again, not a new attempt */
    assert_int_equal(rc->steps, 4);
    assert_int_equal(rc->step_no[0], 0);
    assert_int_equal(rc->step_no[1], 0);
    assert_int_equal(rc->step_no[2], 0);
    assert_int_equal(rc->step_no[3], 1);
    assert_int_equal(rc->end_works, 1);

    /* While waiting one out: RUNNING, TRANSIENT, the reason, the gate Unknown, the slot held. */
    for (int i = 0; i < 2; i++) {
        const struct snap *f = &rc->after_fail[i];
        assert_int_equal(f->state, P4_STAGE_RUNNING);
        assert_int_equal(f->cls, P4_FAIL_TRANSIENT);
        assert_false(f->stalled);
        assert_int_equal(f->attempt, 1);
        assert_string_equal(f->reason, "RegistryUnavailable");
        assert_string_equal(f->message, "RegistryUnavailable failed for ns/a");
        assert_string_equal(f->gate_status[2], "Unknown");
        assert_string_equal(f->gate_reason[2], "RegistryUnavailable");
        assert_int_equal(f->stats.running, 1);
        assert_int_equal(f->stats.checking, 1);
    }
    /* The backoff (1 s capped at transient_max_ms), then the server's Retry-After. */
    assert_int_equal(rc->due_in[0], 5);
    assert_int_equal(rc->due_in[1], 60);
    assert_true(rc->step_at[1] - rc->fail_at[0] >= 5);
    assert_true(rc->step_at[2] - rc->fail_at[1] >= 60);

    /* Going on to the next step clears what was waited out. */
    assert_int_equal(rc->at_step1.state, P4_STAGE_RUNNING);
    assert_int_equal(rc->at_step1.cls, P4_FAIL_NONE);
    assert_int_equal(rc->at_step1.code, 0);
    assert_string_equal(rc->at_step1.reason, "");

    snap_of(fx, "ns/a", &s);
    assert_int_equal(s.state, P4_STAGE_PASSED);
    assert_int_equal(s.cls, P4_FAIL_NONE);
    assert_string_equal(s.reason, "Ready");
    assert_int_equal(s.stats.running, 0);
    assert_int_equal(fx->changed, 3); /* each wait is told, then the pass */
}

/*
 * 5b. With transient_restarts, a transient failure ends the attempt (the slot
 * goes to the next run, the work is freed) and a new attempt begins after the
 * backoff or the server's Retry-After, without counting an attempt.
 */
static void transient_restart_gives_the_slot_on(void **state)
{
    struct fx *fx = *state;
    const struct rec *a;
    struct snap s;
    int ia, ib;

    start_runner(fx, 1, 5, 5, 5);
    fx->sr.transient_restarts = true;
    fx->retry_after_ms = 60;
    ia = add_run(fx, "ns/a", K_TRANSIENT, 1, 2);
    ib = add_run(fx, "ns/b", K_PASS, 1, 2);
    a = &fx->rec[ia];
    RUN_UNTIL(fx, is_state(fx, "ns/a", P4_STAGE_PASSED) && is_state(fx, "ns/b", P4_STAGE_PASSED));

    assert_int_equal(a->begins, 3);
    assert_false(a->retry[1]);
    assert_false(a->retry[2]);
    assert_int_equal(a->attempt_at_begin[2], 1); /* not an artifact retry */
    assert_int_equal(a->steps, 4);
    assert_int_equal(a->end_works, 3);
    /* b had a's slot while a waited: a, b, a, a. */
    assert_int_equal(fx->nbegins, 4);
    assert_int_equal(fx->begin_log[0], ia);
    assert_int_equal(fx->begin_log[1], ib);
    assert_int_equal(fx->begin_log[2], ia);
    assert_int_equal(fx->begin_log[3], ia);
    for (int i = 0; i < 2; i++) {
        const struct snap *f = &a->after_fail[i];
        assert_int_equal(f->state, P4_STAGE_RUNNING);
        assert_int_equal(f->cls, P4_FAIL_TRANSIENT);
        assert_string_equal(f->reason, "RegistryUnavailable");
        assert_string_equal(f->gate_status[2], "Unknown");
        assert_int_equal(f->stats.waiting, 0);
    }
    /* The slot is given up while waiting: at once to b, which waited in line; then to no one. */
    assert_int_equal(a->after_fail[0].stats.running, 1);
    assert_int_equal(a->after_fail[1].stats.running, 0);
    assert_int_equal(a->after_fail[0].stats.checking, 2);
    assert_int_equal(a->after_fail[1].stats.checking, 1); /* b passed meanwhile */
    assert_int_equal(a->due_in[0], 5);
    assert_int_equal(a->due_in[1], 60);
    assert_true(a->begin_at[1] - a->fail_at[0] >= 5);
    assert_true(a->begin_at[2] - a->fail_at[1] >= 60);
    snap_of(fx, "ns/a", &s);
    assert_int_equal(s.cls, P4_FAIL_NONE);
    assert_string_equal(s.reason, "Ready");
    assert_int_equal(s.stats.running, 0);
    assert_int_equal(s.stats.passed, 2);
}

/*
 * With transient_restarts, the backoff keeps growing from one restart to the
 * next ("transient_n stays: a transient restart keeps backing off"), also
 * when the failing step is not the first one (the stage went through
 * p4_stagerun_next to get there, as helmstage.c does from S_READ on).
 */
static void transient_restarts_keep_backing_off(void **state)
{
    struct fx *fx = *state;
    const struct rec *a;
    int ia;

    start_runner(fx, 0, 5, 5, 1500);
    fx->sr.transient_restarts = true;
    ia = add_run(fx, "ns/a", K_LATE_TRANSIENT, 1, 2);
    a = &fx->rec[ia];
    RUN_UNTIL(fx, a->fails == 2); /* about 1 s: the first backoff is 1 s */
    assert_int_equal(a->begins, 2);
    assert_int_equal(a->step_no[1], 1);
    assert_true(a->begin_at[1] - a->fail_at[0] >= 1000);
    assert_int_equal(a->due_in[0], 1000);
    assert_int_equal(a->due_in[1], 1500); /* 2 s, capped at transient_max_ms */
    /* While the restart passes its first steps again, the wait stays what the result shows
       (no flap of the condition between it and Checking on every retry). */
    assert_int_equal(a->at_step1.state, P4_STAGE_RUNNING);
    assert_int_equal(a->at_step1.cls, P4_FAIL_TRANSIENT);
    assert_string_equal(a->at_step1.reason, "APIUnavailable");
}

/* A step's side-by-side requests: the first failure wins, once all have ended. */
static void parts_fail_with_the_first_failure(void **state)
{
    struct fx *fx = *state;
    const struct rec *rc;
    struct p4_stage_result res;
    int id;

    start_runner(fx, 0, 5, 1000, 5);
    id = add_run(fx, "ns/a", K_PARTS, 1, 2);
    rc = &fx->rec[id];
    RUN_UNTIL(fx, fx->held_out == 2);
    release(fx, id);
    RUN_UNTIL(fx, rc->answers == 1);
    /* One part failed, one is still out: still running, nothing decided. */
    assert_int_equal(rc->after_fail[0].state, P4_STAGE_RUNNING);
    assert_int_equal(rc->after_fail[0].cls, P4_FAIL_NONE);
    release(fx, id);
    RUN_UNTIL(fx, rc->answers == 2);
    assert_int_equal(rc->steps, 1);

    p4_stagerun_result(p4_stagerunner_get(&fx->sr, "ns/a"), 0, &res);
    assert_int_equal(res.state, P4_STAGE_FAILED);
    assert_int_equal(res.cls, P4_FAIL_CLUSTER);
    assert_true(res.stalled);
    assert_string_equal(res.err.reason, "First");
    assert_int_equal(res.err.code, P4_ERR_INVALID); /* code 0 reads as Invalid */
    assert_string_equal(res.err.message, "First failed");
    check_gate(res.gates, 1, "Pushed", "False", "First", "First failed");
    check_gate(res.gates, 2, "Scanned", "Unknown", "Checking", "not checked yet");
    p4_stage_result_close(&res);
    assert_int_equal(rc->end_works, 1);
}

/* 6a. Forget with an answer due: gone at once, freed (once) when the answer comes back. */
static void forget_waits_for_answers_due(void **state)
{
    struct fx *fx = *state;
    const struct rec *a, *b;
    struct p4_stage_stats st;
    int ia, ib;

    start_runner(fx, 1, 5, 5, 5);
    ia = add_run(fx, "ns/a", K_REQUEST, 1, 2);
    a = &fx->rec[ia];
    RUN_UNTIL(fx, fx->held_out == 1);
    p4_stagerunner_forget(&fx->sr, "ns/a");
    assert_null(p4_stagerunner_get(&fx->sr, "ns/a"));
    assert_int_equal(a->cancels, 1);
    assert_int_equal(a->destroys, 0);
    st = stats_of(fx);
    assert_int_equal(st.resources, 0);
    assert_int_equal(st.running, 0); /* the slot is given up at once */

    /* The slot is free for another run while the answer is still due. */
    ib = add_run(fx, "ns/b", K_PASS, 1, 2);
    b = &fx->rec[ib];
    RUN_UNTIL(fx, is_state(fx, "ns/b", P4_STAGE_PASSED));
    run_for(fx, 20);
    assert_int_equal(a->destroys, 0);
    assert_int_equal(a->end_works, 0); /* the answer may still borrow the work */

    release(fx, ia);
    RUN_UNTIL(fx, a->destroys == 1);
    assert_int_equal(a->answers, 1);
    assert_int_equal(a->back_null, 1);
    assert_int_equal(a->end_works, 1);
    assert_int_equal(a->steps, 1); /* the answer did not go on to step 1 */
    run_for(fx, 20);
    assert_int_equal(a->destroys, 1);
    assert_int_equal(a->cancels, 1);
    assert_int_equal(b->cancels, 0);
}

/* 6b. Adding key again replaces (drops) its run; the new run takes its slot. */
static void add_replaces_the_old_run(void **state)
{
    struct fx *fx = *state;
    const struct rec *old, *neu;
    const struct p4_stagerun *r;
    struct snap s;
    int io, in;

    start_runner(fx, 1, 5, 5, 5);
    io = add_run(fx, "ns/a", K_REQUEST, 1, 2);
    old = &fx->rec[io];
    RUN_UNTIL(fx, fx->held_out == 1);
    in = add_run(fx, "ns/a", K_PASS, 2, 2);
    neu = &fx->rec[in];
    assert_int_equal(old->cancels, 1);
    assert_int_equal(old->destroys, 0);
    r = p4_stagerunner_get(&fx->sr, "ns/a");
    assert_non_null(r);
    assert_int_equal(r->generation, 2);
    snap_of(fx, "ns/a", &s);
    assert_int_equal(s.state, P4_STAGE_RUNNING);
    assert_int_equal(s.generation, 2);
    assert_string_equal(s.gate_reason[0], "Checking");
    assert_int_equal(s.stats.resources, 1);

    RUN_UNTIL(fx, is_state(fx, "ns/a", P4_STAGE_PASSED));
    assert_int_equal(neu->begins, 1);
    assert_int_equal(old->begins, 1);
    assert_int_equal(old->destroys, 0);
    release(fx, io);
    RUN_UNTIL(fx, old->destroys == 1);
    assert_int_equal(old->back_null, 1);
    snap_of(fx, "ns/a", &s);
    assert_int_equal(s.generation, 2);
    assert_int_equal(s.state, P4_STAGE_PASSED);
    assert_int_equal(neu->destroys, 0);
}

/* 6c. Forgetting a run waiting in line takes it out of the line; it never begins. */
static void forget_a_waiting_run(void **state)
{
    struct fx *fx = *state;
    struct p4_stage_stats st;
    int ia, ib, ic;

    start_runner(fx, 1, 5, 5, 5);
    ia = add_run(fx, "ns/a", K_REQUEST, 1, 2);
    ib = add_run(fx, "ns/b", K_PASS, 1, 2);
    ic = add_run(fx, "ns/c", K_PASS, 1, 2);
    RUN_UNTIL(fx, fx->held_out == 1);
    st = stats_of(fx);
    assert_int_equal(st.running, 1);
    assert_int_equal(st.waiting, 2);
    p4_stagerunner_forget(&fx->sr, "ns/b");
    st = stats_of(fx);
    assert_int_equal(st.waiting, 1);
    assert_int_equal(st.resources, 2);
    RUN_UNTIL(fx, fx->rec[ib].destroys == 1); /* nothing due: freed on its own */
    assert_int_equal(fx->rec[ib].cancels, 1);
    release(fx, ia);
    RUN_UNTIL(fx, is_state(fx, "ns/c", P4_STAGE_PASSED));
    assert_int_equal(fx->rec[ib].begins, 0);
    assert_int_equal(fx->rec[ic].begins, 1);
    assert_int_equal(fx->nbegins, 2);
}

/* 7. Closing with runs in every state frees everything; answers due come back later. */
static void close_with_runs_in_every_state(void **state)
{
    struct fx *fx = *state;
    struct p4_stage_stats st;
    int ip, ifl, ic, ir, it, ih, iq1, iq2, in;

    start_runner(fx, 2, 10000, 10000, 10000);
    fx->cluster_fails = 100;
    ip = add_run(fx, "ns/passed", K_PASS, 1, 2);
    ifl = add_run(fx, "ns/stalled-artifact", K_ARTIFACT, 1, 0);
    ic = add_run(fx, "ns/stalled-cluster", K_CLUSTER, 1, 2);
    ir = add_run(fx, "ns/retrying", K_ARTIFACT, 1, 2);
    RUN_UNTIL(fx, fx->rec[ip].end_works == 1 && fx->rec[ifl].fails == 1 && fx->rec[ic].fails == 1 &&
                      fx->rec[ir].fails == 1);
    it = add_run(fx, "ns/transient", K_TRANSIENT_ALWAYS, 1, 2);
    ih = add_run(fx, "ns/in-flight", K_REQUEST, 1, 2);
    iq1 = add_run(fx, "ns/queued1", K_PASS, 1, 2);
    iq2 = add_run(fx, "ns/queued2", K_PASS, 1, 2);
    RUN_UNTIL(fx, fx->rec[it].fails == 1 && fx->held_out == 1);
    in = add_run(fx, "ns/new", K_PASS, 1, 2); /* not begun yet */

    st = stats_of(fx);
    assert_int_equal(st.resources, 9);
    assert_int_equal(st.running, 2);
    assert_int_equal(st.waiting, 2);
    assert_int_equal(st.passed, 1);
    assert_int_equal(st.stalled, 2);
    assert_int_equal(st.failed, 1);
    assert_int_equal(st.checking, 5);

    p4_stagerunner_close(&fx->sr);
    fx->closed = true;
    for (int i = 0; i < fx->created; i++)
        assert_int_equal(fx->rec[i].cancels, 1);
    st = stats_of(fx);
    assert_int_equal(st.resources, 0);
    assert_int_equal(st.running, 0);
    assert_int_equal(st.waiting, 0);

    RUN_UNTIL(fx, fx->destroyed_total == fx->created - 1);
    assert_int_equal(fx->rec[ih].destroys, 0); /* its answer is still due */
    release(fx, ih);
    RUN_UNTIL(fx, fx->rec[ih].destroys == 1);
    assert_int_equal(fx->rec[ih].back_null, 1);
    /* Closing never hands a slot on: the waiting and the new runs never began. */
    assert_int_equal(fx->rec[iq1].begins, 0);
    assert_int_equal(fx->rec[iq2].begins, 0);
    assert_int_equal(fx->rec[in].begins, 0);
    assert_int_equal(fx->rec[it].begins, 1);
    assert_int_equal(fx->rec[ir].begins, 1);
    assert_int_equal(fx->rec[ic].begins, 1);
    /* Every run destroyed once, every work freed, and the loop closes with nothing left. */
    assert_int_equal(finish(fx), 0);
    for (int i = 0; i < fx->created; i++)
        assert_int_equal(fx->rec[i].destroys, 1);
    assert_int_equal(fx->works_alloc, 6);
    assert_int_equal(fx->works_freed, 6);
}

/*
 * A retry after an artifact failure that has to wait for a slot: begin is
 * told retry (the stage's documented contract: "retry is true for a retry
 * after an artifact failure (r->attempt was counted up)").
 */
static void retry_waiting_for_a_slot_is_still_a_retry(void **state)
{
    struct fx *fx = *state;
    const struct rec *a;
    int ia, ib;

    start_runner(fx, 1, 5, 1000, 5);
    ia = add_run(fx, "ns/a", K_ARTIFACT_ONCE, 1, 1);
    ib = add_run(fx, "ns/b", K_REQUEST, 1, 2);
    a = &fx->rec[ia];
    /* a fails and gives its slot to b, which holds it: a's retry has to wait in line. */
    RUN_UNTIL(fx, a->fails == 1 && fx->held_out == 1 && stats_of(fx).waiting == 1);
    release(fx, ib);
    RUN_UNTIL(fx, is_state(fx, "ns/a", P4_STAGE_PASSED));
    assert_int_equal(a->begins, 2);
    assert_int_equal(a->attempt_at_begin[1], 2); /* counted as a retry ... */
    assert_true(a->retry[1]);                    /* ... so begin must be told so */
}

/* The same when the retry waits for an answer of the failed attempt still due. */
static void retry_waiting_for_an_answer_is_still_a_retry(void **state)
{
    struct fx *fx = *state;
    const struct rec *a;
    int ia;

    start_runner(fx, 0, 5, 1000, 5);
    ia = add_run(fx, "ns/a", K_STRAY, 1, 1);
    a = &fx->rec[ia];
    RUN_UNTIL(fx, a->fails == 1);
    run_for(fx, 20); /* the retry falls due while the answer is still out */
    assert_int_equal(a->begins, 1);
    release(fx, ia);
    RUN_UNTIL(fx, is_state(fx, "ns/a", P4_STAGE_PASSED));
    assert_int_equal(a->begins, 2);
    assert_int_equal(a->attempt_at_begin[1], 2);
    assert_true(a->retry[1]);
}

/* ---- 8. helpers ---- */

static void backoff_doubles_up_to_the_cap(void **state)
{
    (void)state;
    assert_int_equal(p4_backoff_ms(1000, 0, 60000), 1000);
    assert_int_equal(p4_backoff_ms(1000, 1, 60000), 2000);
    assert_int_equal(p4_backoff_ms(1000, 2, 60000), 4000);
    assert_int_equal(p4_backoff_ms(1000, 5, 60000), 32000);
    assert_int_equal(p4_backoff_ms(1000, 6, 60000), 60000);
    assert_int_equal(p4_backoff_ms(1000, 1000, 60000), 60000);
    assert_int_equal(p4_backoff_ms(1000, 0, 5), 5); /* the cap holds from the start */
    assert_int_equal(p4_backoff_ms(5, 2, UINT64_MAX / 4), 20);
    assert_int_equal(p4_backoff_ms(5, -1, 60000), 5);
    assert_int_equal(p4_backoff_ms(0, 10, 60000), 0);
    assert_true(p4_backoff_ms(30000, 200, UINT64_MAX / 4) == UINT64_MAX / 4); /* no overflow */
}

static void kube_read_class_by_error(void **state)
{
    (void)state;
    /* 404, 403, 401, 422, bad bodies: a person must act. */
    assert_int_equal(p4_kube_read_class(P4_ERR_NOTFOUND), P4_FAIL_CLUSTER);
    assert_int_equal(p4_kube_read_class(P4_ERR_FORBIDDEN), P4_FAIL_CLUSTER);
    assert_int_equal(p4_kube_read_class(P4_ERR_UNAUTHORIZED), P4_FAIL_CLUSTER);
    assert_int_equal(p4_kube_read_class(P4_ERR_INVALID), P4_FAIL_CLUSTER);
    assert_int_equal(p4_kube_read_class(P4_ERR_PARSE), P4_FAIL_CLUSTER);
    assert_int_equal(p4_kube_read_class(P4_ERR_TOOBIG), P4_FAIL_CLUSTER);
    /* 503, 502, 500, 429, 504/timeouts, transport: waited out. */
    assert_int_equal(p4_kube_read_class(P4_ERR_UNAVAILABLE), P4_FAIL_TRANSIENT);
    assert_int_equal(p4_kube_read_class(P4_ERR_TIMEOUT), P4_FAIL_TRANSIENT);
    assert_int_equal(p4_kube_read_class(P4_ERR_INTERNAL), P4_FAIL_TRANSIENT);
    assert_int_equal(p4_kube_read_class(P4_ERR_TOOMANY), P4_FAIL_TRANSIENT);
    assert_int_equal(p4_kube_read_class(P4_ERR_TRANSPORT), P4_FAIL_TRANSIENT);
}

static cJSON *parse(const char *text)
{
    cJSON *o = cJSON_Parse(text);

    assert_non_null(o);
    return o;
}

static void owned_by_matches_uid(void **state)
{
    cJSON *o = parse("{\"metadata\":{\"ownerReferences\":["
                     "{\"kind\":\"ReplicaSet\",\"uid\":\"u-1\"},"
                     "{\"kind\":\"Other\"},"
                     "{\"kind\":\"Empty\",\"uid\":\"\"},"
                     "{\"kind\":\"Phase4Deployment\",\"uid\":\"u-2\"}]}}");
    cJSON *none = parse("{\"metadata\":{\"name\":\"x\"}}");

    (void)state;
    assert_true(p4_owned_by(o, "u-1"));
    assert_true(p4_owned_by(o, "u-2"));
    assert_false(p4_owned_by(o, "u-3"));
    assert_false(p4_owned_by(o, "u-"));
    assert_false(p4_owned_by(o, "")); /* an empty uid never matches (not even an empty one) */
    assert_false(p4_owned_by(o, NULL));
    assert_false(p4_owned_by(none, "u-1"));
    assert_false(p4_owned_by(NULL, "u-1"));
    cJSON_Delete(o);
    cJSON_Delete(none);
}

static void object_value_reads_configmaps_and_secrets(void **state)
{
    cJSON *cm = parse("{\"kind\":\"ConfigMap\",\"data\":{\"ca.crt\":\"PEM\",\"both\":\"text\","
                      "\"empty\":\"\"},"
                      "\"binaryData\":{\"bin\":\"aGVsbG8=\",\"both\":\"Ymlu\",\"bad\":\"%%%\"}}");
    cJSON *sec = parse("{\"kind\":\"Secret\",\"data\":{\"password\":\"czNjcjN0\","
                       "\"raw\":\"AAEC\",\"bad\":\"not base64!\",\"num\":5,"
                       "\"lines\":\"aGVs\\nbG8=\"},"
                       "\"stringData\":{\"plain\":\"text\"}}");
    unsigned char *v;
    size_t len = 99;

    (void)state;
    v = p4_object_value(cm, false, "ca.crt", &len);
    assert_non_null(v);
    assert_int_equal(len, 3);
    assert_string_equal((char *)v, "PEM");
    free(v);
    v = p4_object_value(cm, false, "bin", &len); /* binaryData is base64 */
    assert_non_null(v);
    assert_int_equal(len, 5);
    assert_string_equal((char *)v, "hello");
    free(v);
    v = p4_object_value(cm, false, "both", &len); /* data first */
    assert_non_null(v);
    assert_string_equal((char *)v, "text");
    free(v);
    v = p4_object_value(cm, false, "empty", &len);
    assert_non_null(v);
    assert_int_equal(len, 0);
    assert_string_equal((char *)v, "");
    free(v);
    assert_null(p4_object_value(cm, false, "missing", &len));
    assert_null(p4_object_value(cm, false, "bad", &len));
    /* A ConfigMap read as a Secret: data is not base64 there. */
    assert_null(p4_object_value(cm, true, "ca.crt", &len));

    v = p4_object_value(sec, true, "password", &len);
    assert_non_null(v);
    assert_int_equal(len, 6);
    assert_string_equal((char *)v, "s3cr3t");
    free(v);
    v = p4_object_value(sec, true, "raw", &len); /* binary, NUL-terminated after len bytes */
    assert_non_null(v);
    assert_int_equal(len, 3);
    assert_int_equal(v[0], 0);
    assert_int_equal(v[1], 1);
    assert_int_equal(v[2], 2);
    assert_int_equal(v[3], 0);
    free(v);
    v = p4_object_value(sec, true, "lines", &len); /* line breaks in base64 are skipped */
    assert_non_null(v);
    assert_string_equal((char *)v, "hello");
    free(v);
    assert_null(p4_object_value(sec, true, "bad", &len));
    assert_null(p4_object_value(sec, true, "num", &len));
    assert_null(p4_object_value(sec, true, "missing", &len));
    assert_null(p4_object_value(sec, true, "plain", &len)); /* stringData is write-only */
    assert_null(p4_object_value(NULL, true, "password", &len));

    p4_secret_wipe(sec);
    assert_int_equal(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(sec, "data"), "password")
            ->valuestring[0],
        '\0');
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(
                         cJSON_GetObjectItemCaseSensitive(sec, "stringData"), "plain")
                         ->valuestring[0],
                     '\0');
    p4_secret_wipe(NULL);
    cJSON_Delete(cm);
    cJSON_Delete(sec);
}

/*
 * A Secret key whose value is empty ("" in data) is present: it should read as
 * an empty value, as the same key does in a ConfigMap's data, not as absent.
 */
static void object_value_empty_secret_value_is_present(void **state)
{
    cJSON *sec = parse("{\"kind\":\"Secret\",\"data\":{\"password\":\"\"}}");
    cJSON *cm = parse("{\"kind\":\"ConfigMap\",\"binaryData\":{\"bin\":\"\"}}");
    size_t sec_len = 99, cm_len = 99;
    unsigned char *sec_v = p4_object_value(sec, true, "password", &sec_len);
    unsigned char *cm_v = p4_object_value(cm, false, "bin", &cm_len);
    bool sec_found = sec_v != NULL, cm_found = cm_v != NULL;

    (void)state;
    /* Everything freed before asserting, so a failure leaks nothing. */
    free(sec_v);
    free(cm_v);
    cJSON_Delete(sec);
    cJSON_Delete(cm);
    assert_int_equal(sec_len, 0);
    assert_int_equal(cm_len, 0);
    assert_true(sec_found);
    assert_true(cm_found);
}

static void core_path_escapes(void **state)
{
    char buf[256], small[24];

    (void)state;
    p4_core_path(buf, sizeof(buf), "default", "secrets", "pull");
    assert_string_equal(buf, "/api/v1/namespaces/default/secrets/pull");
    p4_core_path(buf, sizeof(buf), "default", "configmaps", "");
    assert_string_equal(buf, "/api/v1/namespaces/default/configmaps");
    p4_core_path(buf, sizeof(buf), "team a", "secrets", "x/y?z");
    assert_string_equal(buf, "/api/v1/namespaces/team%20a/secrets/x%2Fy%3Fz");
    p4_core_path(buf, sizeof(buf), "ns", "configmaps", "a.b-c_d~e");
    assert_string_equal(buf, "/api/v1/namespaces/ns/configmaps/a.b-c_d~e");
    p4_core_path(buf, sizeof(buf), "ns", "secrets", "../other");
    assert_string_equal(buf, "/api/v1/namespaces/ns/secrets/..%2Fother");
    /* A buffer too small is cut, never overrun. */
    p4_core_path(small, sizeof(small), "default", "secrets", "pull");
    assert_int_equal(strlen(small), sizeof(small) - 1);
    assert_memory_equal(small, "/api/v1/namespaces/defa", sizeof(small) - 1);
}

/* What every stage's start() and result() share: the resource read into the run, the
   generation check, result() with the stage's skipped gates and status, and /metrics. */
static unsigned skip_second(const struct p4_stagerun *r)
{
    (void)r;
    return 1u << 1;
}

static cJSON *status_for(const struct p4_stagerun *r)
{
    cJSON *st = cJSON_CreateObject();

    cJSON_AddStringToObject(st, "for", r->name);
    return st;
}

static const struct p4_stagerun_ops status_ops = {
    .begin = op_begin,
    .step = op_step,
    .end_work = op_end_work,
    .destroy = op_destroy,
    .cancel = op_cancel,
    .skipped_gates = skip_second,
    .status = status_for,
};

static void add_for_result_op_and_metrics(void **state)
{
    struct fx *fx = *state;
    struct p4_stage_result res;
    struct p4_buf b = {0};
    struct fake_run *fr;
    cJSON *obj = parse("{\"metadata\":{\"namespace\":\"ns\",\"name\":\"a\",\"uid\":\"u-1\","
                       "\"generation\":4},\"spec\":{\"target\":{\"namespace\":\"shop\"},"
                       "\"rollout\":{\"retries\":1}}}");

    start_runner(fx, 0, 5, 5, 5);
    fx->sr.ops = &status_ops;
    assert_int_equal(p4_stagerunner_result_op(&fx->sr, "ns/a", &res), P4_ERR_NOTFOUND);
    assert_null(res.gates);
    assert_null(res.status);
    assert_false(p4_stagerunner_current(&fx->sr, "ns/a", obj));

    fr = calloc(1, sizeof(*fr));
    assert_non_null(fr);
    fr->fx = fx;
    fr->id = fx->created++;
    fr->kind = K_PASS;
    p4_stagerun_add_for(&fx->sr, &fr->base, "ns/a", obj);
    assert_string_equal(fr->base.ns, "ns");
    assert_string_equal(fr->base.name, "a");
    assert_string_equal(fr->base.target_ns, "shop");
    assert_string_equal(fr->base.uid, "u-1");
    assert_int_equal(fr->base.generation, 4);
    assert_int_equal(fr->base.attempts, 2);
    assert_true(p4_stagerunner_current(&fx->sr, "ns/a", obj));
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(obj, "metadata"), "generation",
                              cJSON_CreateNumber(5));
    assert_false(p4_stagerunner_current(&fx->sr, "ns/a", obj));

    RUN_UNTIL(fx, is_state(fx, "ns/a", P4_STAGE_PASSED));
    assert_int_equal(p4_stagerunner_result_op(&fx->sr, "ns/a", &res), 0);
    assert_int_equal(res.state, P4_STAGE_PASSED);
    assert_int_equal(res.generation, 4);
    assert_int_equal(cJSON_GetArraySize(res.gates), 2);
    check_gate(res.gates, 1, "Scanned", "True", "Passed", "gate Scanned passed");
    assert_non_null(res.status);
    assert_string_equal(cJSON_GetObjectItem(res.status, "for")->valuestring, "a");
    p4_stage_result_close(&res);

    p4_stagerunner_metrics(&fx->sr, &b);
    assert_non_null(b.data);
    assert_non_null(strstr(b.data, "# HELP phase4_docker_stage_resources Resources the Docker "
                                   "stage holds a result for.\n"
                                   "# TYPE phase4_docker_stage_resources gauge\n"
                                   "phase4_docker_stage_resources 1\n"));
    assert_non_null(strstr(b.data, "# HELP phase4_docker_stage_checks Docker stage checks running "
                                   "now, and waiting for a slot.\n"));
    assert_non_null(strstr(b.data, "phase4_docker_stage_checks{state=\"running\"} 0\n"
                                   "phase4_docker_stage_checks{state=\"waiting\"} 0\n"));
    assert_non_null(strstr(b.data, "phase4_docker_stage_results{result=\"checking\"} 0\n"
                                   "phase4_docker_stage_results{result=\"passed\"} 1\n"
                                   "phase4_docker_stage_results{result=\"failed\"} 0\n"
                                   "phase4_docker_stage_results{result=\"stalled\"} 0\n"));
    free(b.data);
    cJSON_Delete(obj);
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

/* The end of a pod's log, as one line of a message. */
static void log_tail_is_the_end_on_one_line(void **state)
{
    char out[32];
    char tiny[4];

    (void)state;
    p4_log_tail("started\nconnecting\nexit 1\n\n", out, sizeof(out));
    assert_string_equal(out, "started | connecting | exit 1");
    p4_log_tail("a\tb\x1b[31mred\r\n", out, sizeof(out)); /* control bytes are spaces */
    assert_string_equal(out, "a b [31mred");
    p4_log_tail("0123456789abcdefghijklmnopqrstuvwxyzEND", out, sizeof(out));
    assert_true(strlen(out) < sizeof(out));
    assert_non_null(strstr(out, "END")); /* the end is kept */
    p4_log_tail("", out, sizeof(out));
    assert_string_equal(out, "");
    p4_log_tail(NULL, out, sizeof(out));
    assert_string_equal(out, "");
    p4_log_tail("abc", tiny, sizeof(tiny)); /* no room for anything useful */
    assert_string_equal(tiny, "");
}

/* A stall on record for this generation at this stage, its retries spent, and nothing else. */
static void stalled_on_record(void **state)
{
    static const struct {
        const char *json;
        bool want;
    } cases[] = {
        {"{'metadata':{'generation':3},'status':{'observedGeneration':3,'stage':'Helm',"
         "'conditions':[{'type':'Stalled','status':'True','reason':'RegenerationRequired',"
         "'observedGeneration':3}]}}",
         true},
        /* another stage */
        {"{'metadata':{'generation':3},'status':{'observedGeneration':3,'stage':'Docker',"
         "'conditions':[{'type':'Stalled','status':'True','reason':'RegenerationRequired',"
         "'observedGeneration':3}]}}",
         false},
        /* an older generation */
        {"{'metadata':{'generation':4},'status':{'observedGeneration':3,'stage':'Helm',"
         "'conditions':[{'type':'Stalled','status':'True','reason':'RegenerationRequired',"
         "'observedGeneration':3}]}}",
         false},
        {"{'metadata':{'generation':3},'status':{'observedGeneration':3,'stage':'Helm',"
         "'conditions':[{'type':'Stalled','status':'True','reason':'RegenerationRequired',"
         "'observedGeneration':2}]}}",
         false},
        /* stalled on the cluster: re-checked anyway */
        {"{'metadata':{'generation':3},'status':{'observedGeneration':3,'stage':'Helm',"
         "'conditions':[{'type':'Stalled','status':'True','reason':'Forbidden',"
         "'observedGeneration':3}]}}",
         false},
        {"{'metadata':{'generation':3},'status':{'observedGeneration':3,'stage':'Helm',"
         "'conditions':[{'type':'Stalled','status':'False','reason':'RegenerationRequired',"
         "'observedGeneration':3}]}}",
         false},
        {"{'metadata':{'generation':3},'status':{'observedGeneration':3,'stage':'Helm'}}", false},
        {"{'metadata':{'generation':3},'status':{'observedGeneration':3,'stage':'Helm',"
         "'conditions':'x'}}",
         false},
        {"{}", false},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cJSON *obj = test_json(cases[i].json);
        if (p4_stagerun_stalled_on_record(obj, "Helm") != cases[i].want)
            fail_msg("case %zu: want %d", i, cases[i].want);
        cJSON_Delete(obj);
    }
    assert_false(p4_stagerun_stalled_on_record(NULL, "Helm"));
    assert_false(p4_stagerun_stalled_on_record(NULL, NULL));
}

/*
 * Secret values added for an attempt are redacted from every gate message and summary (and
 * user information from URLs in them) before they are kept; the set goes with the attempt.
 */
static void messages_are_redacted_while_the_attempt_runs(void **state)
{
    struct p4_stagerun r;
    static const char secret[] = "tenant-b-db-password\nsecond line of it\n";

    (void)state;
    memset(&r, 0, sizeof(r));
    p4_redact_add(p4_stagerun_secrets(&r), secret, strlen(secret));
    assert_ptr_equal(p4_stagerun_secrets(&r), r.redact); /* one set per attempt */
    p4_stagerun_gate(&r, 0, "False", "TemplateRenderFailed",
                     "execution error: %s (from https://user:pw@charts.example.com/)", secret);
    assert_string_equal(r.gates[0].message,
                        "execution error: ***\n (from https://***@charts.example.com/)");
    p4_stagerun_passed(&r, "Passed", "cut short: tenant-b-db-pass...");
    assert_string_equal(r.err.message, "cut short: ***...");
    /* The attempt ended: its set is wiped and gone; what was kept stays redacted. */
    assert_null(r.redact);
    p4_stagerun_gate(&r, 1, "True", "Passed", "%s", secret);
    assert_string_equal(r.gates[1].message, secret);
    free(r.gates[0].message);
    free(r.gates[1].message);
}

/* ---- retry on demand and suspension ---- */

/* A run stalled with its retries spent runs again on demand, from its first attempt, as a
   retry; one not failed has nothing to run again. */
static void retry_on_demand_begins_at_the_first_attempt(void **state)
{
    struct fx *fx = *state;
    struct p4_stage_result res;
    const struct rec *rc;
    int id;

    start_runner(fx, 0, 5, 10000, 5);
    id = add_run(fx, "ns/a", K_ARTIFACT, 3, 1);
    rc = &fx->rec[id];
    RUN_UNTIL(fx, rc->fails == 2);
    assert_true(rc->after_fail[1].stalled);
    assert_int_equal(p4_stagerunner_retry(&fx->sr, "ns/nope"), P4_ERR_NOTFOUND);
    assert_int_equal(p4_stagerunner_retry_op(&fx->sr, "ns/a"), 0);
    /* At once: running again, the failure no longer current, its gate checked again. */
    p4_stagerun_result(p4_stagerunner_get(&fx->sr, "ns/a"), 0, &res);
    assert_int_equal(res.state, P4_STAGE_RUNNING);
    assert_false(res.stalled);
    assert_true(res.retried);
    assert_int_equal(res.attempt, 1);
    assert_int_equal(res.err.code, 0);
    check_gate(res.gates, 1, "Pushed", "Unknown", "Checking", "checked again (retry requested)");
    p4_stage_result_close(&res);
    /* Running already: nothing more to do. */
    assert_int_equal(p4_stagerunner_retry(&fx->sr, "ns/a"), P4_ERR_EXISTS);
    RUN_UNTIL(fx, rc->fails == 4);
    assert_int_equal(rc->begins, 4);
    assert_true(rc->retry[2]);
    assert_int_equal(rc->attempt_at_begin[2], 1);
    assert_int_equal(rc->attempt_at_begin[3], 2);
    assert_false(rc->after_fail[2].stalled); /* a retry left again */
    assert_true(rc->after_fail[3].stalled);
    p4_stagerun_result(p4_stagerunner_get(&fx->sr, "ns/a"), 0, &res);
    assert_false(res.retried); /* the new failure is current */
    assert_true(res.no_recheck);
    p4_stage_result_close(&res);
}

/* A cluster-level failure retried on demand is checked at once, not after its re-check. */
static void retry_on_demand_of_a_cluster_failure(void **state)
{
    struct fx *fx = *state;
    const struct rec *rc;
    int id;

    start_runner(fx, 0, 5, 10000, 5); /* the re-check would take 10 s */
    id = add_run(fx, "ns/a", K_CLUSTER, 1, 2);
    rc = &fx->rec[id];
    RUN_UNTIL(fx, rc->fails == 1);
    assert_int_equal(rc->due_in[0], 10000);
    assert_int_equal(p4_stagerunner_retry(&fx->sr, "ns/a"), 0);
    RUN_UNTIL(fx, is_state(fx, "ns/a", P4_STAGE_PASSED));
    assert_int_equal(rc->begins, 2);
    assert_int_equal(p4_stagerunner_retry(&fx->sr, "ns/a"), P4_ERR_EXISTS);
}

/* A run between attempts stops at once when suspended (its retry waits), and goes on with it. */
static void suspend_between_attempts_stops_at_once(void **state)
{
    struct fx *fx = *state;
    cJSON *obj = parse("{\"metadata\":{\"generation\":3}}");
    const struct rec *rc;
    struct snap s;
    int id, changed;

    start_runner(fx, 0, 30, 5, 5);
    id = add_run(fx, "ns/a", K_ARTIFACT_ONCE, 3, 2);
    rc = &fx->rec[id];
    RUN_UNTIL(fx, rc->fails == 1);
    changed = fx->changed;
    assert_false(p4_stagerunner_suspend(&fx->sr, "ns/a", obj, true)); /* stopped already */
    assert_int_equal(fx->changed, changed + 1);                       /* told */
    assert_false(p4_stagerunner_suspend_op(&fx->sr, "ns/a", obj, true));
    assert_false(p4_stagerunner_suspend(&fx->sr, "ns/none", obj, true));
    run_for(fx, 80); /* the retry was due after 30 ms */
    assert_int_equal(rc->begins, 1);
    snap_of(fx, "ns/a", &s);
    assert_int_equal(s.state, P4_STAGE_FAILED);
    assert_int_equal(s.stats.running + s.stats.waiting, 0);
    assert_false(p4_stagerunner_suspend(&fx->sr, "ns/a", obj, false));
    RUN_UNTIL(fx, is_state(fx, "ns/a", P4_STAGE_PASSED));
    assert_int_equal(rc->begins, 2);
    assert_true(rc->retry[1]); /* still the retry it was */
    assert_int_equal(rc->attempt_at_begin[1], 2);
    cJSON_Delete(obj);
}

/* An attempt under way when suspended ends its current step first (nothing half done), then
   stops before the next; resumed, it begins again from its first step and passes. */
static void suspend_stops_a_working_attempt_after_its_step(void **state)
{
    struct fx *fx = *state;
    cJSON *obj = parse("{\"metadata\":{\"generation\":1}}");
    const struct rec *rc;
    struct snap s;
    int id;

    start_runner(fx, 0, 5, 5, 5);
    id = add_run(fx, "ns/a", K_REQUEST, 1, 2);
    rc = &fx->rec[id];
    RUN_UNTIL(fx, fx->held_out == 1);
    assert_true(p4_stagerunner_suspend(&fx->sr, "ns/a", obj, true)); /* suspending */
    run_for(fx, 20);
    assert_true(p4_stagerunner_suspend(&fx->sr, "ns/a", obj, true)); /* still: the step runs */
    release(fx, id);
    RUN_UNTIL(fx, !p4_stagerunner_suspend(&fx->sr, "ns/a", obj, true));
    run_for(fx, 20);
    assert_int_equal(rc->steps, 1); /* step 1 never ran */
    assert_int_equal(rc->end_works, 1);
    snap_of(fx, "ns/a", &s);
    assert_int_equal(s.state, P4_STAGE_RUNNING);
    assert_int_equal(s.stats.running, 0); /* the slot was given up */
    assert_false(p4_stagerunner_suspend(&fx->sr, "ns/a", obj, false));
    RUN_UNTIL(fx, fx->held_out == 1);
    release(fx, id);
    RUN_UNTIL(fx, is_state(fx, "ns/a", P4_STAGE_PASSED));
    assert_int_equal(rc->begins, 2);
    assert_false(rc->retry[1]);
    cJSON_Delete(obj);
}

/* A stage that says where its attempt stands is a safe point stops there at once; the answer
   still due is dropped, and the attempt begins again when the run goes on. */
static void suspend_stops_at_a_safe_point_inside_a_step(void **state)
{
    struct fx *fx = *state;
    cJSON *obj = parse("{\"metadata\":{\"generation\":1}}");
    const struct rec *rc;
    int id;

    start_runner(fx, 0, 5, 5, 5);
    fx->sr.ops = &stop_ops;
    id = add_run(fx, "ns/a", K_REQUEST, 1, 2);
    rc = &fx->rec[id];
    RUN_UNTIL(fx, fx->held_out == 1);
    assert_false(p4_stagerunner_suspend(&fx->sr, "ns/a", obj, true)); /* stopped at once */
    assert_true(p4_stagerunner_get(&fx->sr, "ns/a")->parked);
    assert_int_equal(stats_of(fx).running, 0);
    release(fx, id);
    run_for(fx, 20);
    assert_int_equal(rc->answers, 1);
    assert_int_equal(rc->steps, 1);
    assert_int_equal(rc->begins, 1);
    assert_false(p4_stagerunner_suspend(&fx->sr, "ns/a", obj, false));
    RUN_UNTIL(fx, fx->held_out == 1);
    assert_int_equal(rc->begins, 2);
    release(fx, id);
    RUN_UNTIL(fx, is_state(fx, "ns/a", P4_STAGE_PASSED));
    cJSON_Delete(obj);
}

/* Resumed as a later generation whose spec differs only in spec.suspend, a run's result is for
   that generation (its work keeps its own); with another spec it stays stopped. */
static void resume_as_a_later_generation(void **state)
{
    struct fx *fx = *state;
    struct p4_stage_result res;
    struct fake_run *fr;
    cJSON *obj = parse("{\"metadata\":{\"namespace\":\"ns\",\"name\":\"a\",\"generation\":4},"
                       "\"spec\":{\"target\":{\"namespace\":\"shop\"},\"x\":1}}");
    cJSON *later = parse("{\"metadata\":{\"namespace\":\"ns\",\"name\":\"a\",\"generation\":6},"
                         "\"spec\":{\"target\":{\"namespace\":\"shop\"},\"x\":1,"
                         "\"suspend\":false}}");
    cJSON *other = parse("{\"metadata\":{\"namespace\":\"ns\",\"name\":\"a\",\"generation\":7},"
                         "\"spec\":{\"target\":{\"namespace\":\"shop\"},\"x\":2}}");

    start_runner(fx, 0, 5, 5, 5);
    fr = calloc(1, sizeof(*fr));
    assert_non_null(fr);
    fr->fx = fx;
    fr->id = fx->created++;
    fr->kind = K_PASS;
    p4_stagerun_add_for(&fx->sr, &fr->base, "ns/a", obj);
    RUN_UNTIL(fx, is_state(fx, "ns/a", P4_STAGE_PASSED));
    assert_false(p4_stagerunner_suspend(&fx->sr, "ns/a", obj, true));
    /* Another spec: stays stopped, not current (its stage starts the new generation's run). */
    assert_false(p4_stagerunner_suspend(&fx->sr, "ns/a", other, false));
    assert_true(fr->base.suspended);
    assert_false(p4_stagerunner_current(&fx->sr, "ns/a", other));
    /* The same spec but for spec.suspend: goes on, as generation 6. */
    assert_false(p4_stagerunner_suspend(&fx->sr, "ns/a", later, false));
    assert_false(fr->base.suspended);
    assert_true(p4_stagerunner_current(&fx->sr, "ns/a", later));
    assert_int_equal(fr->base.generation, 4);
    assert_int_equal(p4_stagerunner_result_op(&fx->sr, "ns/a", &res), 0);
    assert_int_equal(res.generation, 6);
    assert_true(res.resumed);
    assert_int_equal(res.state, P4_STAGE_PASSED);
    p4_stage_result_close(&res);
    assert_int_equal(fx->rec[fr->id].begins, 1); /* nothing done again */
    cJSON_Delete(obj);
    cJSON_Delete(later);
    cJSON_Delete(other);
}

/* A retry asked for and not handled yet: a run added after a restart begins at its first
   attempt, though its stall is on record. */
static void pending_retry_is_not_undone_by_the_record(void **state)
{
    struct fx *fx = *state;
    struct fake_run *fr;
    const char *stalled = "{'metadata':{'namespace':'ns','name':'a','generation':3%s},"
                          "'spec':{'target':{'namespace':'ns'}},'status':{'observedGeneration':3,"
                          "'stage':'Docker','lastHandledRetry':'1','conditions':[{'type':"
                          "'Stalled','status':'True','reason':'RegenerationRequired',"
                          "'observedGeneration':3}]}}";
    char json[600];
    cJSON *obj;

    start_runner(fx, 0, 5, 5, 5);
    for (int pending = 0; pending < 2; pending++) {
        (void)snprintf(json, sizeof(json), stalled,
                       pending ? ",'annotations':{'phase4.io/retry':'2'}"
                               : ",'annotations':{'phase4.io/retry':'1'}");
        obj = test_json(json);
        assert_int_equal(p4_stagerun_stalled_on_record(obj, "Docker"), !pending);
        fr = calloc(1, sizeof(*fr));
        assert_non_null(fr);
        fr->fx = fx;
        fr->id = fx->created++;
        fr->kind = K_PASS;
        p4_stagerun_add_for(&fx->sr, &fr->base, "ns/a", obj);
        assert_int_equal(fr->base.attempt, pending ? 1 : 3);
        assert_int_equal(fr->base.retried, pending);
        cJSON_Delete(obj);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(defaults_and_attempts),
        cmocka_unit_test(stalled_on_record),
        TEST(run_passes),
        TEST(line_of_slots_is_fifo),
        TEST(line_puts_new_work_first_oldest_first),
        TEST(artifact_failure_retries_then_stalls),
        TEST(cluster_failure_stalls_and_is_rechecked),
        TEST(transient_failure_retries_the_step),
        TEST(transient_restart_gives_the_slot_on),
        TEST(transient_restarts_keep_backing_off),
        TEST(parts_fail_with_the_first_failure),
        TEST(forget_waits_for_answers_due),
        TEST(add_replaces_the_old_run),
        TEST(forget_a_waiting_run),
        TEST(close_with_runs_in_every_state),
        TEST(retry_waiting_for_a_slot_is_still_a_retry),
        TEST(retry_waiting_for_an_answer_is_still_a_retry),
        TEST(add_for_result_op_and_metrics),
        TEST(retry_on_demand_begins_at_the_first_attempt),
        TEST(retry_on_demand_of_a_cluster_failure),
        TEST(suspend_between_attempts_stops_at_once),
        TEST(suspend_stops_a_working_attempt_after_its_step),
        TEST(suspend_stops_at_a_safe_point_inside_a_step),
        TEST(resume_as_a_later_generation),
        TEST(pending_retry_is_not_undone_by_the_record),
        cmocka_unit_test(backoff_doubles_up_to_the_cap),
        cmocka_unit_test(kube_read_class_by_error),
        cmocka_unit_test(owned_by_matches_uid),
        cmocka_unit_test(object_value_reads_configmaps_and_secrets),
        cmocka_unit_test(object_value_empty_secret_value_is_present),
        cmocka_unit_test(core_path_escapes),
        cmocka_unit_test(log_tail_is_the_end_on_one_line),
        cmocka_unit_test(messages_are_redacted_while_the_attempt_runs),
    };
    return cmocka_run_group_tests_name("stagerun", tests, NULL, NULL);
}
