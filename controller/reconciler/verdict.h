/*
 * verdict.h: (internal to reconciler/) the reports a Phase4Deployment's status carries besides
 * its conditions: status.report (the current generation's run, its verdict, and for a FAILED
 * one the failing gate and what to do), status.readiness (the checklist before each stage) and
 * the remediation of each failure reason. Pure: what it writes is computed from the status being
 * built, the object as read and the time given, and kept as it was when nothing changed, so an
 * unchanged resource writes nothing.
 */
#ifndef PHASE4_VERDICT_H
#define PHASE4_VERDICT_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "phase4/reconciler/stage.h"

/* What failed, for a FAILED verdict. */
struct p4_verdict_failure {
    const char *stage;  /* "Helm", or "Pending" for a resource refused before any stage */
    const char *reason; /* the stage condition's reason */
    const char *message;
    enum p4_failure_class cls;
    int attempts;       /* artifact failures: how many attempts a generation gets */
    const char *impact; /* what still serves meanwhile (policy.h), or NULL */
    bool stalled;       /* no automatic retry is left */
};

/*
 * The remedy for a failure: what a person (or whatever regenerates images and charts) does
 * about reason, one sentence. Reasons without an entry get their class's. Static text.
 */
const char *p4_verdict_remedy(const char *reason, enum p4_failure_class cls);

/*
 * status.report for generation into st (the status being built, its conditions and gates
 * final), and status.verdict: verdict "SUCCESSFUL", "FAILED" (f says what failed) or NULL while
 * the run goes on. Each stage's result, reason and times come from its condition; a time is kept
 * from obj's status.report while its stage's result holds.
 */
void p4_verdict_report(cJSON *st, const cJSON *obj, int64_t generation, const char *now,
                       const char *verdict, const struct p4_verdict_failure *f);

/*
 * status.history: the last P4_MANIFEST_HISTORY revisions, newest first. report (st's status.report,
 * just built) makes its generation's entry (generation, verdict, startedAt, finishedAt, the
 * failure's stage and reason, imageDigest, images: how many images the manifest runs, chart
 * name/version/digest, approvedBy), in front of obj's older entries as they were; an older
 * generation's entry is never changed. Called by p4_verdict_report.
 */
void p4_verdict_history(cJSON *st, const cJSON *obj, const cJSON *report);

/* status.readiness: the checklist before each stage, from st and obj's spec. */
void p4_verdict_readiness(cJSON *st, const cJSON *obj, int64_t generation);

#endif
