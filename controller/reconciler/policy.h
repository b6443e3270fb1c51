/*
 * policy.h: (internal to reconciler/) the deployment policy's pure decisions (docs/architecture.md,
 * "Failures"): who a final failure is for (a new artifact: RegenerationRequired; a person:
 * EscalatedToUser), what still serves while it lasts (the impact), how often a failure escalated
 * to a person is checked again, whether a phase4.io/retry annotation still asks for a retry, and
 * whether a generation differs from another only in spec.suspend (then a suspended run goes on
 * where it stopped). No I/O and no clock; every pointer is borrowed for the call.
 */
#ifndef PHASE4_POLICY_H
#define PHASE4_POLICY_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "phase4/reconciler/stage.h"

/* The annotation a person sets to a new value to run the failed stage again. */
#define P4_RETRY_ANNOTATION "phase4.io/retry"
/* The Stalled reasons: what a final failure needs, and from whom. */
#define P4_REASON_REGENERATION "RegenerationRequired" /* a new image, chart or values */
#define P4_REASON_ESCALATED "EscalatedToUser"         /* a person, in the cluster or the spec */
/* The first re-check of a failure escalated to a person; it doubles up to the
   --stalled-recheck-interval. */
#define P4_RECHECK_FIRST_MS 30000

/*
 * The value of obj's phase4.io/retry annotation while it asks for a retry not handled yet (it
 * differs from status.lastHandledRetry), else NULL. Borrowed from obj.
 */
const char *p4_policy_retry_requested(const cJSON *obj);

/*
 * The stage whose failure obj's status has on record for its generation (its condition False,
 * the stage status.stage names), or -1 when none failed.
 */
int p4_policy_failed_stage(const cJSON *obj);

/*
 * A retry request handled: status.lastHandledRetry in st becomes value, and one Normal
 * RetryRequested Event is appended to events (when not NULL) naming stage, the stage run again,
 * or saying that nothing failed (stage NULL); the value is shown cleaned and cut short.
 */
void p4_policy_retry_handled(cJSON *st, const char *value, const char *stage, int64_t generation,
                             cJSON *events);

/*
 * The wait before re-check n (0 for the first) of a failure escalated to a person: 30 s,
 * doubling, at most max_ms (the --stalled-recheck-interval; one shorter than 30 s is the wait
 * from the start).
 */
uint64_t p4_policy_recheck_ms(int n, uint64_t max_ms);

/* The Stalled reason of a final failure of class cls. */
const char *p4_policy_stalled_reason(enum p4_failure_class cls);

/*
 * What still serves while generation's run is stopped at stage i (-1: refused before any
 * stage), as one clause ("impact: ..."), from obj's status.lastKnownGoodRevision and
 * status.inventory. out always NUL-terminated.
 */
void p4_policy_impact(const cJSON *obj, int stage, int64_t generation, char *out, size_t size);

/* A final failure (no automatic retry left), for its message. */
struct p4_policy_final {
    int64_t generation;
    int stage;          /* the stage the run stopped at; -1: refused before any stage */
    const char *gate;   /* the failing gate, or NULL */
    const char *reason; /* the specific reason (Forbidden, ImageNotFound) */
    const char *message;
    enum p4_failure_class cls;
    int attempts;    /* artifact failures: the attempts spent */
    bool no_recheck; /* not checked again: only a new generation can help */
};

/*
 * The message of a final failure (Stalled, Ready and Reconciling say it), one sentence: what
 * failed (stage, gate), why (reason and message), the impact (p4_policy_impact) and what to do
 * (p4_verdict_remedy; for a person also that it is checked again and clears by itself, for an
 * artifact also the retry annotation). out always NUL-terminated, cut when too long.
 */
void p4_policy_final_message(const cJSON *obj, const struct p4_policy_final *f, char *out,
                             size_t size);

/* The length of msg (NULL: 0) without the full stop it may end in, for "%.*s; ...". */
int p4_policy_clause_len(const char *msg);

/*
 * The SHA-256 (hex) of obj's spec without spec.suspend, into out: two generations with the
 * same digest differ only in whether they are suspended, so a resumed run goes on where it
 * stopped, and an approval given to one holds for the other (approval.h). Cryptographic on
 * purpose: the spec's author must not be able to make two different specs look the same.
 * false (and out "") when obj has no spec.
 */
#define P4_SPEC_DIGEST_SIZE 65 /* 64 hex digits and the NUL */
bool p4_policy_spec_digest(const cJSON *obj, char out[P4_SPEC_DIGEST_SIZE]);

#endif
