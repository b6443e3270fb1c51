/*
 * stagerun.h: what every stage's per-resource work has in common, so each
 * stage (controller/stages/<name>/) writes only its own steps.
 *
 * A stage keeps one run per resource (struct p4_stagerun, embedded first in
 * the stage's own run struct) for one generation. A run goes through steps
 * (the stage's numbers) one loop turn at a time, never through the stack: a
 * step starts requests (p4_stagerun_out before each, p4_stagerun_back first
 * in each answer), and when they end it moves on (p4_stagerun_next) or a gate
 * fails (p4_stagerun_fail). At most max_active runs work at once; the rest
 * wait in line, the oldest resource (metadata.creationTimestamp) first, and a
 * re-check of a pass on record (after a restart) behind every other run and
 * never in the last free slot, so new generations go first. An attempt's scratch state ("work")
 * exists only while the attempt runs: between attempts a run costs its result.
 *
 * Failures carry a class (stage.h): transient ones are waited out with backoff
 * (honouring retry_after_ms when set), on the same step or, with
 * transient_restarts, by a new attempt that waits without a slot; artifact ones are
 * retried rollout.retries times, then stalled; cluster-level ones stall at
 * once and are re-checked after 30 s, doubling up to recheck_ms (unless no_recheck:
 * only a new generation can help). A run stops at a safe point when its resource is
 * suspended and goes on where it stopped (p4_stagerunner_suspend); a failed one runs again
 * from its first attempt on demand (p4_stagerunner_retry).
 *
 * Secrets: every value a step reads from a Secret for the resource goes into the attempt's set
 * (p4_stagerun_secrets, redact.h). Every gate message, failure and summary passes through it,
 * and through url.h's rule (URLs without user information), before it is kept, logged or
 * reported; a stage redacts outside text (a tool's output) with the same set before it reads
 * it. The set lives as long as the attempt's work.
 *
 * Lifetime: a dropped run (forgotten, replaced by a new generation, or the
 * stage closing) is marked gone; answers still due come back to it, find it
 * gone (p4_stagerun_back returns NULL) and the last one frees it, through
 * ops->destroy once its timer is closed.
 */
#ifndef PHASE4_STAGERUN_H
#define PHASE4_STAGERUN_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "phase4/core/error.h"
#include "phase4/core/strmap.h"
#include "phase4/kube/client.h"
#include "phase4/reconciler/stage.h"
#include "phase4/reconciler/tenancy.h"

#define P4_GATES_MAX 8

struct p4_stagerun;
struct p4_redact;

struct p4_stagerun_ops {
    /*
     * Begin an attempt: the run holds a slot and nothing of it is in flight;
     * the last attempt's work is already gone. retry is true for a retry
     * after an artifact failure (r->attempt was counted up).
     */
    void (*begin)(struct p4_stagerun *r, bool retry);
    void (*step)(struct p4_stagerun *r);     /* run step r->step */
    void (*end_work)(struct p4_stagerun *r); /* free the attempt's work; nothing is in flight */
    void (*destroy)(struct p4_stagerun *r);  /* free the stage's run (its own fields) */
    /* Optional: the run is dropped; stop what it runs (a callback may come now, finding it gone).
     */
    void (*cancel)(struct p4_stagerun *r);
    /* Optional, for p4_stagerunner_result_op: gates (1u << g) left out of the result now. */
    unsigned (*skipped_gates)(const struct p4_stagerun *r);
    /* Optional, for p4_stagerunner_result_op: the members of status the stage owns, or NULL. */
    cJSON *(*status)(const struct p4_stagerun *r);
    /* Optional: the run goes on after a suspension (e.g. a wait's deadline begins anew). */
    void (*resume)(struct p4_stagerun *r);
    /* Optional: the resource is suspended while an attempt works. Where the attempt stands is a
       safe point (nothing of it applied yet): stop what it runs and return true (it stops now);
       false: it stops at the end of its current step. */
    bool (*stop_now)(struct p4_stagerun *r);
};

/* One stage's runs. Embed it in the stage's struct; set the fields, then _init. */
struct p4_stagerunner {
    uv_loop_t *loop;
    const struct p4_stagerun_ops *ops;
    const char *stage;             /* "Docker", for status.gates[].stage */
    const char *work;              /* what an attempt is in /metrics; NULL: "checks" */
    const char *const *gate_names; /* ngates names, in status order */
    int ngates;
    uint64_t retry_ms;         /* first retry after an artifact failure, doubling; 0: 30 s */
    uint64_t recheck_ms;       /* longest wait between re-checks of a cluster-level failure
                                  (the first after 30 s, doubling); 0: 5 min */
    uint64_t transient_max_ms; /* cap of the backoff for transient errors; 0: 60 s */
    int max_active;            /* runs working at once; 0: 64 */
    bool transient_restarts;   /* a transient failure ends the attempt (giving its slot to the
                                  next run) and a new one begins after the backoff; otherwise
                                  the step is retried, holding the slot and the work */
    void (*changed)(const char *key, void *data); /* a result changed */
    void *data;
    /* The stage's client (borrowed) and who acts for each resource (borrowed; may be NULL):
       p4_stagerun_add_for gives each run the client it acts through. */
    struct p4_kube *kube;
    const struct p4_tenancy *tenancy;

    /* Private. */
    struct p4_strmap runs; /* key → struct p4_stagerun */
    int active;
    int rechecks_active; /* of active: runs re-checking a pass on record */
    struct p4_stagerun *qhead, *qtail;
    bool closing;
};

struct p4_gate {
    const char *status; /* "True", "False", "Unknown" */
    const char *reason; /* static */
    char *message;      /* owned */
};

/* The first failure among a step's side-by-side requests (allocated only when one fails). */
struct p4_stepfail {
    struct p4_error err;
    enum p4_failure_class cls;
    int gate;
};

struct p4_stagerun {
    struct p4_stagerunner *sr;         /* NULL once gone */
    const struct p4_stagerun_ops *ops; /* the runner's, kept for after it is gone */
    char *key;
    int64_t generation;
    /* The resource (p4_stagerun_add_for): its namespace and name, spec.target.namespace and
       metadata.uid ("" when absent); owned, freed with the run. */
    char *ns, *name, *target_ns, *uid;
    /*
     * Who acts for the resource (tenancy.h), set by p4_stagerun_add_for: kube is the client
     * every request made for it goes through (dry run, apply, prune, hooks, build Jobs, and
     * reading what its spec names) — a view that impersonates its ServiceAccount, or the
     * runner's own client when the operator acts as itself (as is then ""). Not for the
     * operator's own records and watches, which stay the operator's.
     */
    struct p4_kube *kube;
    char *as;
    bool own_kube; /* kube is a view of the run's own */
    int step;
    int inflight; /* answers still due to this run */
    int pending;  /* requests of the current step still out */
    bool gone, active, queued;
    bool working;    /* an attempt's work exists (the stage's own pointer) */
    bool no_recheck; /* a cluster-level failure only a new generation can fix */
    bool retrying;   /* the attempt about to begin retries an artifact failure */
    bool recheck;    /* re-checks a pass on record for its generation (after a restart) */
    int64_t arrival; /* the resource's metadata.creationTimestamp (µs since the epoch; 0) */
    struct p4_stagerun *qprev, *qnext;
    uv_timer_t timer;
    struct p4_gate gates[P4_GATES_MAX];
    struct p4_stepfail *stepfail;
    /* The attempt's Secret values (p4_stagerun_secrets), redacted from every message formed
       while it runs; wiped and freed with the attempt's work. NULL until one is added. */
    struct p4_redact *redact;

    enum p4_stage_state state;
    enum p4_failure_class cls;
    bool stalled;
    int attempt, attempts, transient_n;
    int failed_attempt;      /* the attempt the last failure ended (attempt may be the next one) */
    uint64_t retry_after_ms; /* a server's Retry-After for the next transient retry */
    struct p4_error err;     /* FAILED: why; RUNNING: what is waited out; PASSED: the summary */

    /* spec.suspend and phase4.io/retry (p4_stagerunner_suspend, p4_stagerunner_retry). */
    bool suspended;        /* stop at the next safe point */
    bool parked;           /* stopped there: no attempt works and the timer is not armed */
    uv_timer_cb armed;     /* what the run's timer calls while it is armed */
    uv_timer_cb parked_cb; /* what was due when it stopped, called when it goes on (or NULL) */
    char spec_digest[65];  /* the spec the run began for, without spec.suspend (policy.h's
                              SHA-256 in hex; "" when unknown) */
    int64_t resumed_as;    /* 0, or the later generation (the same spec but for spec.suspend)
                              this run's result is for: r->generation still names its work */
    int rechecks;          /* re-checks so far of the failure escalated to a person */
    bool retried;          /* run again on demand: the failure on record is not current */
};

void p4_stagerunner_init(struct p4_stagerunner *s);
/* Drop every run (answers still due free them later). */
void p4_stagerunner_close(struct p4_stagerunner *s);
struct p4_stagerun *p4_stagerunner_get(const struct p4_stagerunner *s, const char *key);
/* Drop the run of key, if any. */
void p4_stagerunner_forget(struct p4_stagerunner *s, const char *key);
/* stage.h's forget() for a stage whose struct begins with its struct p4_stagerunner. */
void p4_stagerunner_forget_op(void *stage, const char *key);
/*
 * stage.h's result() for such a stage: P4_ERR_NOTFOUND (and *out zeroed) when key has no run;
 * else the run's result (p4_stagerun_result) with the ops' skipped_gates and status.
 */
int p4_stagerunner_result_op(void *stage, const char *key, struct p4_stage_result *out);
/*
 * Stop key's run at its next safe point (on), or let it go on where it stopped (off) for obj,
 * whose generation becomes the run's result's when its spec differs from the run's only in
 * spec.suspend. A run stops at once when no attempt works (between attempts, waiting for a
 * slot, a retry or a re-check, stalled, passed); an attempt that works stops at the end of its
 * current step (p4_stagerun_next), or when it fails, passes or ends. Returns true while the run
 * still works toward that point; off returns false. No run: false.
 */
bool p4_stagerunner_suspend(struct p4_stagerunner *s, const char *key, const cJSON *obj, bool on);
/* stage.h's suspend() for a stage whose struct begins with its runner. */
bool p4_stagerunner_suspend_op(void *stage, const char *key, const cJSON *obj, bool on);
/*
 * Run key's failed run again (retry on demand): its attempt count begins again at 1 and a new
 * attempt begins on the next loop turn (as a retry: ops->begin gets retry true); its result
 * says RUNNING. 0, P4_ERR_NOTFOUND without a run, P4_ERR_EXISTS when it has not failed (a run
 * retried already, or passed: nothing to do).
 */
int p4_stagerunner_retry(struct p4_stagerunner *s, const char *key);
/* stage.h's retry() for such a stage. */
int p4_stagerunner_retry_op(void *stage, const char *key);

/* True when key's run is for obj's metadata.generation already (or, resumed, its result is):
   start() has nothing to do. */
bool p4_stagerunner_current(const struct p4_stagerunner *s, const char *key, const cJSON *obj);
/* For /metrics: resources held and by result; running and waiting attempts. */
void p4_stagerunner_stats(const struct p4_stagerunner *s, struct p4_stage_stats *out);
/*
 * Those stats as Prometheus text: phase4_<stage>_stage_resources, _<work>{state}
 * (running, waiting) and _results{result}; <stage> is s->stage in lower case.
 */
void p4_stagerunner_metrics(const struct p4_stagerunner *s, struct p4_buf *out);
/* stage.h's metrics() for a stage whose struct begins with its runner and has no series of its own.
 */
void p4_stagerunner_metrics_op(void *stage, struct p4_buf *out);

/*
 * Add r (zeroed by the caller, the stage's fields set) as key's run for
 * generation, replacing (dropping) the run key had, with every gate Unknown
 * and attempts = retries + 1 (retries outside 0..10 read as 2). Its first
 * attempt begins on the next loop turn.
 */
void p4_stagerun_add(struct p4_stagerunner *s, struct p4_stagerun *r, const char *key,
                     int64_t generation, int64_t retries);

/* Requests: _out before sending one (it counts toward the step), _unout when sending failed. */
/*
 * p4_stagerun_add for the resource obj: its metadata.namespace, name and uid and
 * spec.target.namespace are copied into r (ns, name and target_ns must be there: start()
 * checked), the generation and spec.rollout.retries read from it, and who acts for it
 * (r->kube, r->as) from the runner's tenancy.
 */
void p4_stagerun_add_for(struct p4_stagerunner *s, struct p4_stagerun *r, const char *key,
                         const cJSON *obj);
/*
 * Whether obj's status says it is stalled at stage (status.stage) for its generation with its
 * retries spent (Stalled=True, RegenerationRequired): p4_stagerun_add_for then begins the run
 * at its last attempt, so a restart checks once more instead of retrying all over again,
 * unless a phase4.io/retry annotation asks for a retry not handled yet (then it begins at its
 * first attempt, as the retry asks).
 */
bool p4_stagerun_stalled_on_record(const cJSON *obj, const char *stage);
/* Does obj's status say stage ("Docker") passed for its current generation? Pure. */
bool p4_stagerun_passed_on_record(const cJSON *obj, const char *stage);
/* Does run a go before run b in a stage's line (oldest resource first, re-checks last)? */
bool p4_stagerun_line_before(const struct p4_stagerun *a, const struct p4_stagerun *b);
void p4_stagerun_out(struct p4_stagerun *r);
void p4_stagerun_unout(struct p4_stagerun *r);
/* A body-less API request for the current step (counted by _out); 0 or P4_ERR_INTERNAL. */
int p4_stagerun_request(struct p4_stagerun *r, struct p4_kube *kube, const char *method,
                        const char *path, p4_kube_cb cb);
/* First thing in every answer: the run, or NULL when it was dropped meanwhile. */
struct p4_stagerun *p4_stagerun_back(void *data);

/*
 * The attempt's redaction set (redact.h), made on first use: add each Secret value read for
 * the attempt before any message is formed from what it touched. Borrowed; it is wiped and
 * freed when the attempt's work ends.
 */
struct p4_redact *p4_stagerun_secrets(struct p4_stagerun *r);
/* msg (NUL-terminated, in place) as every stage message is kept: the attempt's Secret values
   redacted, URLs without user information. */
void p4_stagerun_redact(const struct p4_stagerun *r, char *msg, size_t size);

void p4_stagerun_gate(struct p4_stagerun *r, int g, const char *status, const char *reason,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Go on to step on the next loop turn. */
void p4_stagerun_next(struct p4_stagerun *r, int step);
/* Call fn after ms (the run's one timer). */
void p4_stagerun_arm(struct p4_stagerun *r, uint64_t ms, uv_timer_cb fn);
/* Begin a new attempt after ms (keeping the attempt count). */
void p4_stagerun_restart_in(struct p4_stagerun *r, uint64_t ms);

/* Gate g could not pass (reason static; err's message is the gate's). */
void p4_stagerun_fail(struct p4_stagerun *r, enum p4_failure_class cls, int g, const char *reason,
                      const struct p4_error *err);
void p4_stagerun_failf(struct p4_stagerun *r, enum p4_failure_class cls, int g, const char *reason,
                       const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* One of the step's side-by-side requests failed: remember the first such failure. */
void p4_stagerun_part_failed(struct p4_stagerun *r, enum p4_failure_class cls, int g,
                             const char *reason, const struct p4_error *err);
/* One of them ended: once all have, fail with the first failure or go on to step then. */
void p4_stagerun_part_done(struct p4_stagerun *r, int then);

/* Every gate passed: PASSED with reason (static) and a summary for the stage's condition. */
void p4_stagerun_passed(struct p4_stagerun *r, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The attempt is over (or waits without holding a slot): free its work, give the slot on. */
void p4_stagerun_end_attempt(struct p4_stagerun *r);
/* Tell the reconciler the result changed. */
void p4_stagerun_notify(struct p4_stagerun *r);

/* Fill out (stage.h) from r; gates whose bit is set in skip are left out of status. */
void p4_stagerun_result(const struct p4_stagerun *r, unsigned skip, struct p4_stage_result *out);

/* ---- helpers the stages share ---- */

uint64_t p4_backoff_ms(uint64_t base, int n, uint64_t cap);
/* The class of an API server error on reading an object a stage needs. */
enum p4_failure_class p4_kube_read_class(int rc);
/* Does obj name uid among its ownerReferences? */
bool p4_owned_by(const cJSON *obj, const char *uid);
/* Wipe a Secret's data and stringData values before the tree is freed. */
void p4_secret_wipe(cJSON *secret);
/*
 * A ConfigMap's (data, then binaryData) or a Secret's (data, decoded) value
 * under key, NUL-terminated, length in *len; NULL when absent or undecodable.
 * The caller wipes (a Secret's) and frees it.
 */
unsigned char *p4_object_value(const cJSON *obj, bool is_secret, const char *key, size_t *len);
/*
 * The end of a pod's log (text) as one line for a message: its last size-1
 * bytes or fewer, lines joined by " | ", other control bytes made spaces.
 */
void p4_log_tail(const char *text, char *out, size_t size);
/* "10m", "1h30m", "500ms", "2.5s" (the CRD's duration pattern) in ms; fallback when absent or bad.
 */
uint64_t p4_duration_ms(const char *s, uint64_t fallback);
/* "/api/v1/namespaces/<ns>/<resource>/<name>", escaped; name "" gives the collection. */
void p4_core_path(char *buf, size_t size, const char *ns, const char *resource, const char *name);

#endif
